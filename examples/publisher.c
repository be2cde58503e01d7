/*
 * publisher.c - a market-data publisher: trades and quotes for a few
 * symbols, published the three ways shmbus offers.
 *
 *   shmbus-example-publisher [BUS [ROUNDS]]      (defaults: examples, 5)
 *
 * Each round publishes, for every symbol, one trade written in place
 * (shmbus_claim + shmbus_commit, zero copy) and one quote copied in
 * (shmbus_publish), then one more trade per symbol in a single
 * shmbus_publish_batch() call. Last comes an end-of-stream marker: a
 * heartbeat about no symbol (symbol id 0), which passes every symbol
 * filter and reaches every member of a consumer group.
 *
 * Start the consumers first: a ring receives only what is published after
 * it was subscribed, and it waits at most 5 s for a first one
 * (shmbus_wait_subscribers). Exit status: 0 ok, 1 failure, 2 usage.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <shmbus/shmbus.h>

#define NSYMS 4
static const char *const sym_names[NSYMS] = {"AAPL", "MSFT", "SPY", "QQQ"};

/* Print `publisher: what: why - detail` and return the exit status 1. */
static int fail(const char *what, int rc)
{
	fprintf(stderr, "publisher: %s: %s%s%s\n", what, shmbus_strerror(rc),
		*shmbus_errmsg() ? " - " : "", shmbus_errmsg());
	return rc == -EINVAL ? 2 : 1; /* a bad name given: usage */
}

/* One trade written in place: claim fills the header (type, size, symbol,
 * source, seq, version); we fill the rest; commit stamps publish_time_ns. */
static int trade_in_place(shmbus_producer *p, uint32_t sym, double price, double size)
{
	struct shmbus_trade *t;
	int rc = shmbus_claim(p, SHMBUS_EV_TRADE, sym, sizeof(*t), (void **)&t);
	if (rc < 0)
		return rc;
	t->h.event_time_ns = shmbus_now_ns();
	t->price = price;
	t->size = size;
	return shmbus_commit(p); /* rings delivered to: 0 is not an error */
}

/* A copied-in event is a whole struct: zero it, then set the header fields
 * claim would have set, except seq (0: the producer numbers it). */
static void header(struct shmbus_event_header *h, uint16_t type, uint16_t size, uint32_t sym)
{
	memset(h, 0, size);
	h->type = type;
	h->version = SHMBUS_EVENT_LAYOUT_VERSION; /* publish does not stamp it */
	h->size = size;
	h->symbol_id = sym;
	h->event_time_ns = shmbus_now_ns();
}

int main(int argc, char **argv)
{
	const char *bus_name = argc > 1 ? argv[1] : "examples";
	char *rest = NULL;
	long rounds = argc > 2 ? strtol(argv[2], &rest, 10) : 5;
	int help = argc > 1 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"));
	if (help || argc > 3 || bus_name[0] == '-' || (rest && *rest) || rounds < 1 ||
	    rounds > 1000000) {
		fprintf(help ? stdout : stderr,
			"usage: shmbus-example-publisher [BUS [ROUNDS]] (ROUNDS 1..1000000)\n");
		return help ? 0 : 2;
	}

	shmbus_bus *bus;
	int rc = shmbus_bus_open(bus_name, "ex-publisher", SHMBUS_ROLE_PRODUCER, &bus);
	if (rc < 0)
		return fail("open bus", rc);

	/* Intern once, at start: ids are stable for the life of the bus. */
	uint32_t sym[NSYMS];
	for (int i = 0; i < NSYMS; i++) {
		int64_t id = shmbus_symbol_intern(bus, sym_names[i], strlen(sym_names[i]));
		if (id < 0)
			return fail("intern symbol", (int)id);
		sym[i] = (uint32_t)id;
	}

	shmbus_producer *p; /* one per publishing thread */
	if ((rc = shmbus_producer_open(bus, NULL, &p)) < 0)
		return fail("open producer", rc);

	/* A ring receives only what is published after it was subscribed:
	 * wait (up to 5 s) until a consumer of trades or quotes is there. */
	rc = shmbus_wait_subscribers(bus, SHMBUS_TYPE_BIT(SHMBUS_EV_TRADE) |
	                                      SHMBUS_TYPE_BIT(SHMBUS_EV_QUOTE),
	                             1, 5000000000LL);
	if (rc < 0)
		return fail("wait for a consumer", rc);

	long trades = 0, quotes = 0, deliveries = 0;
	for (int r = 0; r < rounds; r++) {
		struct shmbus_trade batch[NSYMS];
		const void *evs[NSYMS]; /* publish_batch takes pointers to events */
		for (int i = 0; i < NSYMS; i++) {
			double px = 100.0 + 10 * i + r;
			if ((rc = trade_in_place(p, sym[i], px, r + 1)) < 0)
				return fail("publish trade", rc);
			deliveries += rc;

			struct shmbus_quote q;
			header(&q.h, SHMBUS_EV_QUOTE, sizeof(q), sym[i]);
			q.bid = px - 0.01;
			q.ask = px + 0.01;
			q.bid_size = q.ask_size = 100;
			if ((rc = shmbus_publish(p, &q)) < 0)
				return fail("publish quote", rc);
			deliveries += rc;

			header(&batch[i].h, SHMBUS_EV_TRADE, sizeof(batch[i]), sym[i]);
			batch[i].price = px + 0.5;
			batch[i].size = 1;
			evs[i] = &batch[i];
		}
		/* One atomic claim per ring for the whole run, one clock read. */
		if ((rc = shmbus_publish_batch(p, evs, NSYMS)) < 0)
			return fail("publish batch", rc);
		deliveries += rc;
		trades += 2 * NSYMS;
		quotes += NSYMS;
	}

	struct shmbus_heartbeat end; /* symbol 0: reaches every ring that takes heartbeats */
	header(&end.h, SHMBUS_EV_HEARTBEAT, sizeof(end), 0);
	if ((rc = shmbus_publish(p, &end)) < 0)
		return fail("publish end marker", rc);
	deliveries += rc;

	printf("publisher: %ld trades, %ld quotes, 1 end marker; %ld deliveries\n", trades, quotes,
	       deliveries);
	shmbus_producer_close(p);
	shmbus_bus_close(bus);
	return 0;
}
