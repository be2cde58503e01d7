/*
 * group_member.c - one member of a consumer group of two: trades of every
 * symbol, split between two processes by symbol, each symbol's order kept.
 *
 *   shmbus-example-group-member MEMBER [BUS]     (MEMBER: 0 or 1)
 *
 * Both members subscribe their own ring (ex-group-0, ex-group-1) to the
 * same subscription: group "ex-group", size 2, the same filter. The
 * producer hashes each symbol to exactly one member, so one symbol's
 * trades all reach the same process, in publish order. This program checks
 * that: a symbol's sequence numbers must only grow. Start both members
 * before the publisher: a trade whose symbol hashes to a member that has
 * not subscribed yet reaches no ring.
 * Exit status: 0 ok, 1 failure or order broken, 2 usage.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <shmbus/shmbus.h>

#define MAX_SEEN 64

struct seen {
	uint32_t symbol_id;
	uint64_t last_seq;
	long trades;
};

struct state {
	struct seen sym[MAX_SEEN];
	int nsym;
	long trades;
	long out_of_order;
	int done;
};

static int fail(const char *what, int rc)
{
	fprintf(stderr, "group-member: %s: %s%s%s\n", what, shmbus_strerror(rc),
		*shmbus_errmsg() ? " - " : "", shmbus_errmsg());
	return rc == -EINVAL ? 2 : 1; /* a bad name given: usage */
}

static struct seen *lookup(struct state *st, uint32_t id)
{
	for (int i = 0; i < st->nsym; i++)
		if (st->sym[i].symbol_id == id)
			return &st->sym[i];
	if (st->nsym == MAX_SEEN)
		return NULL;
	st->sym[st->nsym].symbol_id = id;
	return &st->sym[st->nsym++];
}

static void on_event(const struct shmbus_event_header *h, void *ctx)
{
	struct state *st = ctx;
	if (h->type == SHMBUS_EV_HEARTBEAT) { /* symbol 0 reaches every member */
		st->done = 1;
		return;
	}
	struct seen *s = lookup(st, h->symbol_id);
	if (!s)
		return;
	/* One producer numbers its events 1, 2, 3 ...: per symbol they grow. */
	if (h->seq <= s->last_seq)
		st->out_of_order++;
	s->last_seq = h->seq;
	s->trades++;
	st->trades++;
}

int main(int argc, char **argv)
{
	int member = argc > 1 && argv[1][0] >= '0' && argv[1][0] <= '1' && !argv[1][1]
			     ? argv[1][0] - '0'
			     : -1;
	int help = argc > 1 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"));
	const char *bus_name = argc > 2 ? argv[2] : "examples";
	if (help || member < 0 || argc > 3 || bus_name[0] == '-') {
		fprintf(help ? stdout : stderr, "usage: shmbus-example-group-member 0|1 [BUS]\n");
		return help ? 0 : 2;
	}
	char ring[32];
	snprintf(ring, sizeof(ring), "ex-group-%d", member);

	shmbus_bus *bus;
	int rc = shmbus_bus_open(bus_name, ring, SHMBUS_ROLE_CONSUMER, &bus);
	if (rc < 0)
		return fail("open bus", rc);

	/* Every member must pass the same group, size and filter: only the
	 * size and the member index are checked against the other members. */
	struct shmbus_sub_opts so;
	shmbus_sub_opts_init(&so);
	so.types = SHMBUS_TYPE_BIT(SHMBUS_EV_TRADE) | SHMBUS_TYPE_BIT(SHMBUS_EV_HEARTBEAT);
	so.capacity = 1024;
	so.group = "ex-group";
	so.group_size = 2;
	so.group_member = (uint32_t)member; /* each index taken by one ring only */

	shmbus_consumer *c;
	if ((rc = shmbus_subscribe(bus, ring, &so, &c)) < 0)
		return fail("subscribe", rc);
	printf("ready\n");
	fflush(stdout);

	struct state st = {0};
	while (!st.done) {
		int n = shmbus_poll(c, on_event, &st, 64);
		if (n < 0)
			return fail("poll", n);
		/* adaptive wait (the default): spin, yield, then sleep */
		if (n == 0 && shmbus_wait(c, 10 * INT64_C(1000000000)) == SHMBUS_ETIMEDOUT) {
			fprintf(stderr, "group-member: no event for 10 s, giving up\n");
			return 1;
		}
	}

	for (int i = 0; i < st.nsym; i++) {
		char name[SHMBUS_SYMBOL_MAX + 1];
		if (shmbus_symbol_name(bus, st.sym[i].symbol_id, name, sizeof(name)) < 0)
			snprintf(name, sizeof(name), "#%" PRIu32, st.sym[i].symbol_id);
		printf("member %d: %s %ld trades\n", member, name, st.sym[i].trades);
	}
	printf("member %d: %ld trades, %d symbols, %s\n", member, st.trades, st.nsym,
	       st.out_of_order ? "ORDER BROKEN" : "order kept");
	shmbus_unsubscribe(c);
	shmbus_bus_close(bus);
	return st.out_of_order ? 1 : 0;
}
