/*
 * consumer.c - a filtered consumer: trades and quotes of two symbols,
 * printed as they arrive, with a blocking wait between batches.
 *
 *   shmbus-example-consumer [BUS [RING]]     (defaults: examples, ex-consumer)
 *
 * It subscribes ring RING to trades, quotes and heartbeats (the publisher's
 * end marker) about AAPL and SPY only: the producer routes nothing else to
 * the ring, so nothing else costs this process anything. It prints
 * "ready" once subscribed, one line per event, and a summary when the end
 * marker arrives; then it removes its ring (shmbus_unsubscribe).
 * Exit status: 0 ok, 1 failure (or 10 s without an event), 2 usage.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <shmbus/shmbus.h>

struct state {
	shmbus_bus *bus;
	long events;
	int done; /* the end marker arrived */
};

static int fail(const char *what, int rc)
{
	fprintf(stderr, "consumer: %s: %s%s%s\n", what, shmbus_strerror(rc),
		*shmbus_errmsg() ? " - " : "", shmbus_errmsg());
	return rc == -EINVAL ? 2 : 1; /* a bad name given: usage */
}

/* Called once per event, in ring order; the event is valid only during
 * the call. The header's type says which struct follows. */
static void on_event(const struct shmbus_event_header *h, void *ctx)
{
	struct state *st = ctx;
	char sym[SHMBUS_SYMBOL_MAX + 1] = "-";
	if (h->symbol_id != 0)
		shmbus_symbol_name(st->bus, h->symbol_id, sym, sizeof(sym));

	switch (h->type) {
	case SHMBUS_EV_TRADE: {
		const struct shmbus_trade *t = (const struct shmbus_trade *)h;
		printf("trade %-5s %8.2f x %-4.0f seq %" PRIu64 "\n", sym, t->price, t->size,
		       h->seq);
		break;
	}
	case SHMBUS_EV_QUOTE: {
		const struct shmbus_quote *q = (const struct shmbus_quote *)h;
		printf("quote %-5s %8.2f / %-8.2f seq %" PRIu64 "\n", sym, q->bid, q->ask, h->seq);
		break;
	}
	case SHMBUS_EV_HEARTBEAT:
		st->done = 1; /* symbol 0 passed our symbol filter: end of stream */
		return;
	}
	st->events++;
}

int main(int argc, char **argv)
{
	const char *bus_name = argc > 1 ? argv[1] : "examples";
	const char *ring = argc > 2 ? argv[2] : "ex-consumer";
	int help = argc > 1 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"));
	if (help || argc > 3 || bus_name[0] == '-' || ring[0] == '-') {
		fprintf(help ? stdout : stderr, "usage: shmbus-example-consumer [BUS [RING]]\n");
		return help ? 0 : 2;
	}

	struct state st = {0};
	int rc = shmbus_bus_open(bus_name, "ex-consumer", SHMBUS_ROLE_CONSUMER, &st.bus);
	if (rc < 0)
		return fail("open bus", rc);

	/* The symbol filter takes ids; interning is idempotent, so the
	 * consumer may run before any publisher has named the symbols. */
	uint32_t syms[2];
	int64_t id;
	if ((id = shmbus_symbol_intern(st.bus, "AAPL", 4)) < 0)
		return fail("intern AAPL", (int)id);
	syms[0] = (uint32_t)id;
	if ((id = shmbus_symbol_intern(st.bus, "SPY", 3)) < 0)
		return fail("intern SPY", (int)id);
	syms[1] = (uint32_t)id;

	struct shmbus_sub_opts so;
	shmbus_sub_opts_init(&so);
	so.types = SHMBUS_TYPE_BIT(SHMBUS_EV_TRADE) | SHMBUS_TYPE_BIT(SHMBUS_EV_QUOTE) |
		   SHMBUS_TYPE_BIT(SHMBUS_EV_HEARTBEAT);
	so.symbols = syms; /* copied by subscribe */
	so.nsymbols = 2;
	so.capacity = 1024;              /* slots; the default 65536 takes 8 MiB */
	so.slot_size = 128;              /* quotes and heartbeats need 128 */
	so.wait = SHMBUS_WAIT_BLOCK;     /* sleep on a futex at once: no spinning */
	so.policy = SHMBUS_POLICY_BLOCK; /* lossless: a full ring holds producers */

	shmbus_consumer *c;
	if ((rc = shmbus_subscribe(st.bus, ring, &so, &c)) < 0)
		return fail("subscribe", rc);
	printf("ready\n");
	fflush(stdout); /* whoever starts the publisher waits for this line */

	while (!st.done) {
		int n = shmbus_poll(c, on_event, &st, 64);
		if (n < 0) /* SHMBUS_ECORRUPT: the ring's positions were overwritten */
			return fail("poll", n);
		if (n > 0)
			continue;
		rc = shmbus_wait(c, 10 * INT64_C(1000000000));
		if (rc == SHMBUS_ETIMEDOUT) {
			fprintf(stderr, "consumer: no event for 10 s, giving up\n");
			return 1;
		}
	}

	printf("consumer: %ld events\n", st.events);
	/* shmbus_consumer_close() would keep the ring (and route around it)
	 * for a later consumer to resume; this one was for this run only. */
	shmbus_unsubscribe(c);
	shmbus_bus_close(st.bus);
	return 0;
}
