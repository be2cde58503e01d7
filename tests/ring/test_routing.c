/*
 * test_routing.c - which rings an event reaches: type and symbol filters,
 * fan-out, consumer groups, routing-generation changes, detached rings
 * (routed around, resumable) and unrouted events.
 *
 * Everything runs in one thread on an anonymous bus: routing is decided
 * at publish time, so the consumer side is simply drained afterwards.
 */
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <pthread.h>

#include "ring/test_util.h"

#define NSYM TU_ENV_NSYM

static shmbus_consumer *sub(struct tu_env *e, const char *name, uint64_t types, const uint32_t *syms,
                            size_t nsyms)
{
	struct shmbus_sub_opts so;
	tu_sub_opts(&so, 256, 128, SHMBUS_POLICY_BLOCK);
	so.types = types;
	so.symbols = syms;
	so.nsymbols = nsyms;
	return tu_env_sub(e, name, &so);
}

/* Publish an event of `type` (its real size) about symbol `sym`. */
static int pub(struct tu_env *e, uint16_t type, uint32_t sym)
{
	uint8_t buf[SHMBUS_EVENT_MAX];
	size_t size = shmbus_event_type_size(type);
	tu_event(buf, type, sym, (uint16_t)(size ? size : 64));
	return shmbus_publish(e->p, buf);
}

/* Type masks and symbol lists select rings; an event reaches each match. */
static void test_routing_filters_type_and_symbol(void **state)
{
	struct tu_env e;
	tu_env_open(&e);
	uint32_t only1[] = {e.sym[1]};
	shmbus_consumer *trades = sub(&e, "trades", SHMBUS_TYPE_BIT(SHMBUS_EV_TRADE), NULL, 0);
	shmbus_consumer *quotes = sub(&e, "quotes", SHMBUS_TYPE_BIT(SHMBUS_EV_QUOTE), NULL, 0);
	shmbus_consumer *s1 = sub(&e, "s1", 0, only1, 1);
	shmbus_consumer *both =
	    sub(&e, "both", SHMBUS_TYPE_BIT(SHMBUS_EV_TRADE) | SHMBUS_TYPE_BIT(SHMBUS_EV_BAR),
	        only1, 1);

	assert_int_equal(pub(&e, SHMBUS_EV_TRADE, e.sym[1]), 3); /* trades, s1, both */
	assert_int_equal(pub(&e, SHMBUS_EV_QUOTE, e.sym[2]), 1); /* quotes */
	assert_int_equal(pub(&e, SHMBUS_EV_TRADE, e.sym[2]), 1); /* trades */
	assert_int_equal(pub(&e, SHMBUS_EV_BAR, e.sym[1]), 2);   /* s1, both */
	assert_int_equal(pub(&e, SHMBUS_EV_QUOTE, e.sym[1]), 2); /* quotes, s1 */
	assert_int_equal(pub(&e, SHMBUS_EV_BAR, e.sym[3]), 0);   /* none */

	struct tu_sink st, sq, ss, sb;
	tu_sink_init(&st, 16);
	tu_sink_init(&sq, 16);
	tu_sink_init(&ss, 16);
	tu_sink_init(&sb, 16);
	assert_int_equal(tu_drain(trades, &st), 2);
	assert_int_equal(tu_drain(quotes, &sq), 2);
	assert_int_equal(tu_drain(s1, &ss), 3);
	assert_int_equal(tu_drain(both, &sb), 2);
	assert_int_equal(st.ev[0].h.seq, 1);
	assert_int_equal(st.ev[1].h.seq, 3);
	assert_int_equal(sq.ev[0].h.seq, 2);
	assert_int_equal(sq.ev[1].h.seq, 5);
	assert_int_equal(ss.ev[0].h.seq, 1);
	assert_int_equal(ss.ev[1].h.seq, 4);
	assert_int_equal(ss.ev[2].h.seq, 5);
	assert_int_equal(sb.ev[0].h.seq, 1);
	assert_int_equal(sb.ev[1].h.seq, 4);
	for (size_t i = 0; i < ss.n; i++)
		assert_int_equal(ss.ev[i].h.symbol_id, e.sym[1]);

	struct shmbus_ring_stat rs;
	assert_int_equal(tu_ring_stat(e.bus, "s1", &rs), 0);
	assert_int_equal(rs.nsymbols, 1);
	struct shmbus_producer_stat ps = tu_env_prod_stat(&e);
	assert_int_equal(ps.published, 6);
	assert_int_equal(ps.delivered, 9);
	assert_int_equal(ps.unrouted, 1);
	tu_sink_free(&st);
	tu_sink_free(&sq);
	tu_sink_free(&ss);
	tu_sink_free(&sb);
	shmbus_consumer_close(trades);
	shmbus_consumer_close(quotes);
	shmbus_consumer_close(s1);
	shmbus_consumer_close(both);
	tu_env_close(&e);
}

/* Three catch-all rings each get every event, also via claim/commit. */
static void test_routing_fan_out(void **state)
{
	struct tu_env e;
	tu_env_open(&e);
	shmbus_consumer *c[3] = {sub(&e, "f0", 0, NULL, 0), sub(&e, "f1", 0, NULL, 0),
	                         sub(&e, "f2", 0, NULL, 0)};
	for (int i = 0; i < 50; i++)
		assert_int_equal(pub(&e, SHMBUS_EV_TRADE, e.sym[1 + i % NSYM]), 3);
	for (int i = 0; i < 50; i++) {
		void *mem;
		assert_int_equal(shmbus_claim(e.p, SHMBUS_EV_INDICATOR, e.sym[1],
		                              sizeof(struct shmbus_indicator), &mem),
		                 0);
		((struct shmbus_indicator *)mem)->value[0] = i;
		assert_int_equal(shmbus_commit(e.p), 3);
	}
	for (int k = 0; k < 3; k++) {
		struct tu_sink s;
		tu_sink_init(&s, 128);
		assert_int_equal(tu_drain(c[k], &s), 100);
		for (size_t i = 0; i < 100; i++)
			assert_int_equal(s.ev[i].h.seq, i + 1);
		const struct shmbus_indicator *ind = (const void *)s.ev[99].bytes;
		assert_true(ind->value[0] == 49.0);
		tu_sink_free(&s);
		shmbus_consumer_close(c[k]);
	}
	tu_env_close(&e);
}

/* A group of 3: each symbol lands in exactly one member, in order. */
static void test_routing_consumer_group(void **state)
{
	enum { PER_SYM = 20 };
	struct tu_env e;
	tu_env_open(&e);
	shmbus_consumer *m[3];
	tu_env_group(&e, "workers", 3, 1024, 64, m);
	for (int r = 0; r < PER_SYM; r++)
		for (int i = 1; i <= NSYM; i++) {
			struct shmbus_trade t = tu_trade(e.sym[i], r);
			assert_int_equal(shmbus_publish(e.p, &t), 1);
		}
	int owner[NSYM + 1];
	uint64_t last_price[NSYM + 1];
	memset(owner, -1, sizeof owner);
	size_t total = 0;
	int members_used = 0;
	for (int k = 0; k < 3; k++) {
		struct tu_sink s;
		tu_sink_init(&s, NSYM * PER_SYM);
		total += tu_drain(m[k], &s);
		members_used += s.n > 0;
		for (size_t j = 0; j < s.n; j++) {
			const struct shmbus_trade *t = (const void *)s.ev[j].bytes;
			int i = 0;
			for (int q = 1; q <= NSYM; q++)
				if (e.sym[q] == t->h.symbol_id)
					i = q;
			assert_true(i > 0);
			if (owner[i] == -1) {
				owner[i] = k;
				last_price[i] = 0;
				assert_true(t->price == 0.0);
			} else {
				assert_int_equal(owner[i], k); /* never split */
				assert_true(t->price == (double)(last_price[i] + 1));
				last_price[i]++;
			}
		}
		struct shmbus_ring_stat rs;
		assert_int_equal(shmbus_stat_ring(e.bus, shmbus_consumer_ring(m[k]), &rs), 0);
		assert_string_equal(rs.group, "workers");
		assert_int_equal(rs.group_size, 3);
		assert_int_equal(rs.group_member, k);
		tu_sink_free(&s);
		shmbus_consumer_close(m[k]);
	}
	assert_int_equal(total, NSYM * PER_SYM);
	for (int i = 1; i <= NSYM; i++) {
		assert_true(owner[i] >= 0);
		assert_int_equal(last_price[i], PER_SYM - 1);
	}
	/* 30 symbols over 3 members: a sane hash uses more than one */
	assert_true(members_used >= 2);
	tu_env_close(&e);
}

/* A subscription added after the producer published is routed to, also
 * when the producer took the one-ring fast path just before. */
static void test_routing_generation_change(void **state)
{
	struct tu_env e;
	tu_env_open(&e);
	struct shmbus_bus_info bi0, bi1;
	assert_int_equal(shmbus_stat_bus(e.bus, &bi0), 0);
	assert_int_equal(pub(&e, SHMBUS_EV_TRADE, e.sym[1]), 0); /* nothing subscribed */
	shmbus_consumer *a = sub(&e, "early", 0, NULL, 0);
	assert_int_equal(shmbus_stat_bus(e.bus, &bi1), 0);
	assert_true(bi1.route_generation != bi0.route_generation);
	assert_int_equal(pub(&e, SHMBUS_EV_TRADE, e.sym[1]), 1);
	assert_int_equal(pub(&e, SHMBUS_EV_TRADE, e.sym[1]), 1); /* the fast path */
	shmbus_consumer *b = sub(&e, "late", SHMBUS_TYPE_BIT(SHMBUS_EV_TRADE), NULL, 0);
	assert_int_equal(pub(&e, SHMBUS_EV_TRADE, e.sym[1]), 2);
	/* same via claim: the first claim after the change sees both rings */
	shmbus_consumer *c = sub(&e, "later", 0, NULL, 0);
	void *mem;
	assert_int_equal(shmbus_claim(e.p, SHMBUS_EV_TRADE, e.sym[2], 56, &mem), 0);
	assert_int_equal(shmbus_commit(e.p), 3);

	struct tu_sink s;
	tu_sink_init(&s, 8);
	assert_int_equal(tu_drain(a, &s), 4);
	assert_int_equal(s.ev[0].h.seq, 2);
	s.n = 0;
	assert_int_equal(tu_drain(b, &s), 2);
	assert_int_equal(s.ev[0].h.seq, 4);
	s.n = 0;
	assert_int_equal(tu_drain(c, &s), 1);
	assert_int_equal(s.ev[0].h.seq, 5);
	struct shmbus_producer_stat ps = tu_env_prod_stat(&e);
	assert_int_equal(ps.unrouted, 1);
	assert_int_equal(ps.published, 5);
	tu_sink_free(&s);
	shmbus_consumer_close(a);
	shmbus_consumer_close(b);
	shmbus_consumer_close(c);
	tu_env_close(&e);
}

/* A closed consumer is routed around (never blocks, counted) and a new
 * consumer of the same ring resumes with what the ring still held. */
static void test_routing_detached_ring_routed_around(void **state)
{
	struct tu_env e;
	tu_env_open(&e);
	struct shmbus_sub_opts so;
	tu_sub_opts(&so, 4, 64, SHMBUS_POLICY_BLOCK);
	shmbus_consumer *c = NULL;
	assert_int_equal(shmbus_subscribe(e.bus, "fickle", &so, &c), 0);
	shmbus_consumer *other = sub(&e, "steady", 0, NULL, 0);
	assert_int_equal(pub(&e, SHMBUS_EV_TRADE, e.sym[1]), 2); /* seq 1 */
	assert_int_equal(pub(&e, SHMBUS_EV_TRADE, e.sym[1]), 2); /* seq 2 */
	shmbus_consumer_close(c);

	struct shmbus_ring_stat rs;
	assert_int_equal(tu_ring_stat(e.bus, "fickle", &rs), 0);
	assert_int_equal(rs.state, SHMBUS_RING_DETACHED);
	assert_int_equal(rs.depth, 2);
	/* far more than the capacity: under block this would hang if routed */
	for (int i = 0; i < 100; i++)
		assert_int_equal(pub(&e, SHMBUS_EV_TRADE, e.sym[1]), 1); /* seq 3..102 */
	assert_int_equal(tu_ring_stat(e.bus, "fickle", &rs), 0);
	assert_int_equal(rs.routed_around, 100);
	assert_int_equal(rs.depth, 2);
	struct shmbus_producer_stat ps = tu_env_prod_stat(&e);
	assert_int_equal(ps.routed_around, 100);

	/* re-attach: first what was held, then new events */
	assert_int_equal(shmbus_subscribe(e.bus, "fickle", &so, &c), 0);
	assert_int_equal(tu_ring_stat(e.bus, "fickle", &rs), 0);
	assert_int_equal(rs.state, SHMBUS_RING_ACTIVE);
	assert_int_equal(pub(&e, SHMBUS_EV_TRADE, e.sym[1]), 2); /* seq 103 */
	struct tu_sink s;
	tu_sink_init(&s, 8);
	assert_int_equal(tu_drain(c, &s), 3);
	assert_int_equal(s.ev[0].h.seq, 1);
	assert_int_equal(s.ev[1].h.seq, 2);
	assert_int_equal(s.ev[2].h.seq, 103);
	tu_sink_free(&s);
	tu_sink_init(&s, 128);
	assert_int_equal(tu_drain(other, &s), 103);
	tu_sink_free(&s);
	/* a re-attach with another size is refused */
	shmbus_consumer_close(c);
	so.capacity = 8;
	assert_int_equal(shmbus_subscribe(e.bus, "fickle", &so, &c), -EINVAL);
	shmbus_consumer_close(other);
	tu_env_close(&e);
}

/* Re-attaching with a new filter replaces the old one. */
static void test_routing_reattach_replaces_filter(void **state)
{
	struct tu_env e;
	tu_env_open(&e);
	shmbus_consumer *c = sub(&e, "refilter", SHMBUS_TYPE_BIT(SHMBUS_EV_TRADE), NULL, 0);
	shmbus_consumer_close(c);
	c = sub(&e, "refilter", SHMBUS_TYPE_BIT(SHMBUS_EV_QUOTE), NULL, 0);
	assert_int_equal(pub(&e, SHMBUS_EV_TRADE, e.sym[1]), 0);
	assert_int_equal(pub(&e, SHMBUS_EV_QUOTE, e.sym[1]), 1);
	struct tu_sink s;
	tu_sink_init(&s, 4);
	assert_int_equal(tu_drain(c, &s), 1);
	assert_int_equal(s.ev[0].h.type, SHMBUS_EV_QUOTE);
	tu_sink_free(&s);
	shmbus_consumer_close(c);
	tu_env_close(&e);
}

/* Symbols (indexes into tu_env.sym) the sole-ring tests publish in this
 * order: the ring takes symbol 3 only, so 4 of 7 are delivered. */
static const int sole_order[] = {3, 3, 4, 3, 5, 3, 4};
#define SOLE_N (sizeof sole_order / sizeof sole_order[0])

/* The producer's counters after the sole_order events. */
static void sole_check_counts(struct tu_env *e)
{
	struct shmbus_producer_stat ps = tu_env_prod_stat(e);
	assert_int_equal(ps.published, 7);
	assert_int_equal(ps.delivered, 4);
	assert_int_equal(ps.unrouted, 3);
	assert_int_equal(ps.last_seq, 7);
}

/* A type's only ring (publish's fast path) still applies its symbol
 * filter: other symbols are unrouted, in any order of the two. */
static void test_routing_sole_ring_filter(void **state)
{
	struct tu_env e;
	tu_env_open(&e);
	shmbus_consumer *c = sub(&e, "one-sym", SHMBUS_TYPE_BIT(SHMBUS_EV_TRADE), &e.sym[3], 1);
	for (size_t i = 0; i < SOLE_N; i++)
		assert_int_equal(pub(&e, SHMBUS_EV_TRADE, e.sym[sole_order[i]]), sole_order[i] == 3);
	struct tu_sink s;
	tu_sink_init(&s, 8);
	assert_int_equal(tu_drain(c, &s), 4);
	for (size_t i = 0; i < s.n; i++)
		assert_int_equal(s.ev[i].h.symbol_id, e.sym[3]);
	sole_check_counts(&e);
	tu_sink_free(&s);
	shmbus_consumer_close(c);
	tu_env_close(&e);
}

/* The same through claim/commit (its own fast path): the header is whole
 * (version, size, ids, flags and reserved zero), the payload and event
 * time are the caller's, the stamp is the commit's; other symbols go to
 * scratch memory and count unrouted. */
static void test_routing_sole_ring_claim(void **state)
{
	struct tu_env e;
	tu_env_open(&e);
	shmbus_consumer *c = sub(&e, "one-sym", SHMBUS_TYPE_BIT(SHMBUS_EV_TRADE), &e.sym[3], 1);
	int64_t before = shmbus_now_ns();
	for (size_t i = 0; i < SOLE_N; i++) {
		void *mem;
		assert_int_equal(shmbus_claim(e.p, SHMBUS_EV_TRADE, e.sym[sole_order[i]],
		                              sizeof(struct shmbus_trade), &mem),
		                 0);
		struct shmbus_trade *t = mem;
		t->price = (double)i;
		t->size = 2.0;
		t->h.event_time_ns = (int64_t)i + 1000;
		assert_int_equal(shmbus_commit(e.p), sole_order[i] == 3);
	}
	struct tu_sink s;
	tu_sink_init(&s, 8);
	assert_int_equal(tu_drain(c, &s), 4);
	const size_t at[] = {0, 1, 3, 5};
	for (size_t k = 0; k < s.n; k++) {
		const struct shmbus_trade *t = (const struct shmbus_trade *)(const void *)s.ev[k].bytes;
		assert_int_equal(t->h.type, SHMBUS_EV_TRADE);
		assert_int_equal(t->h.version, SHMBUS_EVENT_LAYOUT_VERSION);
		assert_int_equal(t->h.flags, 0);
		assert_int_equal(t->h.reserved, 0);
		assert_int_equal(t->h.size, sizeof(struct shmbus_trade));
		assert_int_equal(t->h.source_id, TU_ENV_SRC);
		assert_int_equal(t->h.symbol_id, e.sym[3]);
		assert_int_equal(t->h.seq, at[k] + 1);
		assert_int_equal(t->h.event_time_ns, (int64_t)at[k] + 1000);
		assert_true(t->h.publish_time_ns >= before);
		assert_true(t->price == (double)at[k] && t->size == 2.0);
	}
	sole_check_counts(&e);
	tu_sink_free(&s);
	shmbus_consumer_close(c);
	tu_env_close(&e);
}

/* Events matching no ring are counted unrouted, not dropped. */
static void test_routing_unrouted_counted(void **state)
{
	struct tu_env e;
	tu_env_open(&e);
	shmbus_consumer *c = sub(&e, "barsonly", SHMBUS_TYPE_BIT(SHMBUS_EV_BAR), NULL, 0);
	for (int i = 0; i < 7; i++)
		assert_int_equal(pub(&e, SHMBUS_EV_TRADE, e.sym[1]), 0);
	void *mem;
	assert_int_equal(shmbus_claim(e.p, SHMBUS_EV_HEARTBEAT, 0, 64, &mem), 0);
	assert_non_null(mem); /* scratch memory, still writable */
	memset((char *)mem + sizeof(struct shmbus_event_header), 0xAB, 24);
	assert_int_equal(shmbus_commit(e.p), 0);
	assert_int_equal(pub(&e, SHMBUS_EV_BAR, e.sym[2]), 1);
	struct shmbus_producer_stat ps = tu_env_prod_stat(&e);
	assert_int_equal(ps.unrouted, 8);
	assert_int_equal(ps.published, 9);
	assert_int_equal(ps.delivered, 1);
	assert_int_equal(ps.dropped, 0);
	assert_int_equal(ps.last_seq, 9);
	struct shmbus_ring_stat rs;
	assert_int_equal(tu_ring_stat(e.bus, "barsonly", &rs), 0);
	assert_int_equal(rs.dropped, 0);
	assert_int_equal(rs.claimed, 1);
	shmbus_consumer_close(c);
	tu_env_close(&e);
}

/* A ring's producer count: the open producers that delivered to it. */
static void test_routing_ring_producer_count(void **state)
{
	struct tu_env e;
	tu_env_open(&e);
	shmbus_consumer *c = sub(&e, "trades", SHMBUS_TYPE_BIT(SHMBUS_EV_TRADE), NULL, 0);
	struct shmbus_ring_stat rs;
	assert_int_equal(tu_ring_stat(e.bus, "trades", &rs), 0);
	assert_int_equal(rs.producers, 0);
	assert_int_equal(pub(&e, SHMBUS_EV_TRADE, e.sym[1]), 1);
	shmbus_producer *p2;
	struct shmbus_producer_opts po;
	shmbus_producer_opts_init(&po);
	po.source_id = 4242;
	assert_int_equal(shmbus_producer_open(e.bus, &po, &p2), 0);
	assert_int_equal(tu_ring_stat(e.bus, "trades", &rs), 0);
	assert_int_equal(rs.producers, 1); /* p2 has not routed here yet */
	struct shmbus_trade t = tu_trade(e.sym[1], 1.0);
	assert_int_equal(shmbus_publish(p2, &t), 1);
	assert_int_equal(tu_ring_stat(e.bus, "trades", &rs), 0);
	assert_int_equal(rs.producers, 2);
	shmbus_producer_close(p2);
	assert_int_equal(tu_ring_stat(e.bus, "trades", &rs), 0);
	assert_int_equal(rs.producers, 1);
	shmbus_consumer_close(c);
	tu_env_close(&e);
}

/* An announced producer feeds the rings of its types before its first
 * event, rings made later included; a ring of other types does not count
 * it; closing it ends it. The launcher's stop order stands on this. */
/*
 * A ring made at the index of a removed one has none of its feeders: a
 * producer's rings_seen bit for the index was kept, so an open producer
 * that had delivered to the old ring counted as a feeder of the new one
 * (shmbus-stat, and the launcher waited for it before stopping the new
 * ring's consumer).
 */
static void test_routing_reused_index_forgets_feeders(void **state)
{
	(void)state;
	struct tu_env e;
	tu_env_open(&e);
	shmbus_consumer *old = sub(&e, "old", SHMBUS_TYPE_BIT(SHMBUS_EV_TRADE), NULL, 0);
	int io = shmbus_stat_find_ring(e.bus, "old");
	assert_true(io >= 0);
	shmbus_producer *p;
	assert_int_equal(shmbus_producer_open(e.bus, NULL, &p), 0);
	struct shmbus_trade t = tu_trade(e.sym[1], 1.0);
	assert_int_equal(shmbus_publish(p, &t), 1);
	struct shmbus_ring_stat rs;
	assert_int_equal(tu_ring_stat(e.bus, "old", &rs), 0);
	assert_int_equal(rs.producers, 1);
	assert_int_equal(shmbus_unsubscribe(old), 0);
	shmbus_consumer *nw = sub(&e, "new", SHMBUS_TYPE_BIT(SHMBUS_EV_BAR), NULL, 0);
	assert_int_equal(shmbus_stat_find_ring(e.bus, "new"), io); /* the same index */
	assert_int_equal(tu_ring_stat(e.bus, "new", &rs), 0);
	assert_int_equal(rs.producers, 0);
	/* delivering there counts it again */
	struct shmbus_bar bar;
	memset(&bar, 0, sizeof bar);
	bar.h.type = SHMBUS_EV_BAR;
	bar.h.size = sizeof bar;
	bar.h.symbol_id = e.sym[1];
	assert_int_equal(shmbus_publish(p, &bar), 1);
	assert_int_equal(tu_ring_stat(e.bus, "new", &rs), 0);
	assert_int_equal(rs.producers, 1);
	shmbus_producer_close(p);
	shmbus_consumer_close(nw);
	tu_env_close(&e);
}

/*
 * A producer whose process died (its entry open until a reap) feeds no
 * ring: shmbus_stat_ring_fed_by() said 1 for it while the ring's producer
 * count, beside it, left it out.
 */
static void test_routing_dead_producer_feeds_nothing(void **state)
{
	(void)state;
	struct tu_env e;
	tu_env_open(&e);
	shmbus_consumer *c = sub(&e, "trades", SHMBUS_TYPE_BIT(SHMBUS_EV_TRADE), NULL, 0);
	int it = shmbus_stat_find_ring(e.bus, "trades");
	assert_true(it >= 0);
	fflush(NULL);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) { /* the inherited anonymous bus: a producer of its own */
		struct shmbus_producer_opts po;
		shmbus_producer_opts_init(&po);
		po.source_id = 4444;
		shmbus_producer *p;
		TU_CHILD_CHECK(shmbus_producer_open(e.bus, &po, &p) == 0);
		struct shmbus_trade t = tu_trade(e.sym[1], 1.0);
		TU_CHILD_CHECK(shmbus_publish(p, &t) == 1);
		_exit(0); /* dies with the producer open */
	}
	int st;
	assert_int_equal(tu_wait_child(pid, 20000, &st), 0);
	assert_true(tu_exited_ok(st));
	struct shmbus_producer_stat ps;
	assert_true(tu_producer_stat(e.bus, 4444, pid, &ps) >= 0);
	assert_int_equal(ps.alive, 0);
	assert_int_equal(shmbus_stat_ring_fed_by(e.bus, (uint32_t)it, ps.index), 0);
	struct shmbus_ring_stat rs;
	assert_int_equal(tu_ring_stat(e.bus, "trades", &rs), 0);
	assert_int_equal(rs.producers, 0);
	assert_int_equal(rs.delivered + rs.depth, 1); /* it did deliver */
	/* a live one that delivered there still feeds it */
	assert_int_equal(pub(&e, SHMBUS_EV_TRADE, e.sym[1]), 1);
	struct shmbus_producer_stat mine = tu_env_prod_stat(&e);
	assert_int_equal(shmbus_stat_ring_fed_by(e.bus, (uint32_t)it, mine.index), 1);
	/* reaped: its entry is free */
	assert_true(shmbus_bus_reap(e.bus) >= 0);
	assert_int_equal(shmbus_stat_ring_fed_by(e.bus, (uint32_t)it, ps.index), -ENOENT);
	shmbus_consumer_close(c);
	tu_env_close(&e);
}

struct late_sub {
	struct tu_env *e;
	shmbus_consumer *c;
};

static void *late_sub_fn(void *arg)
{
	struct late_sub *ls = arg;
	tu_sleep_us(50000);
	ls->c = sub(ls->e, "late", SHMBUS_TYPE_BIT(SHMBUS_EV_TRADE), NULL, 0);
	return NULL;
}

/*
 * shmbus_wait_subscribers(): a publisher waits for its consumers, so that
 * its first event is not published to no ring. Counts only rings with a
 * live consumer (not detached ones) that take one of the types.
 */
static void test_routing_wait_subscribers(void **state)
{
	(void)state;
	struct tu_env e;
	tu_env_open(&e);
	uint64_t trade = SHMBUS_TYPE_BIT(SHMBUS_EV_TRADE);
	assert_int_equal(shmbus_wait_subscribers(e.bus, trade, 1, 20000000), -ETIMEDOUT);
	assert_non_null(strstr(shmbus_errmsg(), "0 of the 1"));
	shmbus_consumer *bars = sub(&e, "bars", SHMBUS_TYPE_BIT(SHMBUS_EV_BAR), NULL, 0);
	assert_int_equal(shmbus_wait_subscribers(e.bus, trade, 1, 1000000), -ETIMEDOUT);
	assert_int_equal(shmbus_wait_subscribers(e.bus, 0, 1, 0), 1); /* any type */
	shmbus_consumer *gone = sub(&e, "gone", trade, NULL, 0);
	shmbus_consumer_close(gone); /* detached: routed around, not counted */
	assert_int_equal(shmbus_wait_subscribers(e.bus, trade, 1, 1000000), -ETIMEDOUT);

	struct late_sub ls = {&e, NULL};
	pthread_t th;
	assert_int_equal(pthread_create(&th, NULL, late_sub_fn, &ls), 0);
	assert_int_equal(shmbus_wait_subscribers(e.bus, trade, 1, 10000000000LL), 1);
	/* the first event after the wait reaches it */
	struct shmbus_trade t = tu_trade(e.sym[1], 1.0);
	assert_int_equal(shmbus_publish(e.p, &t), 1);
	pthread_join(th, NULL);
	struct tu_sink s;
	tu_sink_init(&s, 4);
	assert_int_equal(tu_drain(ls.c, &s), 1);
	tu_sink_free(&s);
	assert_int_equal(shmbus_wait_subscribers(e.bus, trade | SHMBUS_TYPE_BIT(SHMBUS_EV_BAR), 2,
	                                         -1),
	                 2);
	/* bad input */
	assert_int_equal(shmbus_wait_subscribers(NULL, trade, 1, 0), -EINVAL);
	assert_int_equal(shmbus_wait_subscribers(e.bus, 1, 1, 0), -EINVAL);
	assert_int_equal(shmbus_wait_subscribers(e.bus, trade, 0, 0), -EINVAL);
	assert_int_equal(shmbus_wait_subscribers(e.bus, trade, 100000, 0), -EINVAL);
	shmbus_consumer_close(ls.c);
	shmbus_consumer_close(bars);
	tu_env_close(&e);
}

static void test_routing_announced_producer_feeds(void **state)
{
	(void)state;
	struct tu_env e;
	tu_env_open(&e);
	shmbus_consumer *bars = sub(&e, "bars", SHMBUS_TYPE_BIT(SHMBUS_EV_BAR), NULL, 0);
	shmbus_consumer *trades = sub(&e, "trades", SHMBUS_TYPE_BIT(SHMBUS_EV_TRADE), NULL, 0);
	shmbus_producer *p;
	struct shmbus_producer_opts po;
	shmbus_producer_opts_init(&po);
	po.source_id = 4343;
	assert_int_equal(shmbus_producer_open(e.bus, &po, &p), 0);
	int ib = shmbus_stat_find_ring(e.bus, "bars"), it = shmbus_stat_find_ring(e.bus, "trades");
	assert_true(ib >= 0 && it >= 0);
	struct shmbus_producer_stat ps;
	uint32_t pi = UINT32_MAX;
	for (uint32_t i = 0; shmbus_stat_producer(e.bus, i, &ps) != -ERANGE; i++)
		if (ps.source_id == 4343 && ps.pid != 0)
			pi = i;
	assert_int_not_equal(pi, UINT32_MAX);
	assert_int_equal(shmbus_stat_ring_fed_by(e.bus, (uint32_t)ib, pi), 0);

	assert_int_equal(shmbus_producer_announce(p, SHMBUS_TYPE_BIT(SHMBUS_EV_BAR) |
	                                                 SHMBUS_TYPE_BIT(SHMBUS_EV_HEARTBEAT)),
	                 0);
	assert_int_equal(shmbus_stat_producer(e.bus, pi, &ps), 0);
	assert_int_equal(ps.announced,
	                 SHMBUS_TYPE_BIT(SHMBUS_EV_BAR) | SHMBUS_TYPE_BIT(SHMBUS_EV_HEARTBEAT));
	assert_int_equal(shmbus_stat_ring_fed_by(e.bus, (uint32_t)ib, pi), 1);
	assert_int_equal(shmbus_stat_ring_fed_by(e.bus, (uint32_t)it, pi), 0);
	struct shmbus_ring_stat rs;
	assert_int_equal(tu_ring_stat(e.bus, "bars", &rs), 0);
	assert_int_equal(rs.producers, 1);
	assert_int_equal(tu_ring_stat(e.bus, "trades", &rs), 0);
	assert_int_equal(rs.producers, 0);
	/* a ring made after the announcement */
	shmbus_consumer *hb = sub(&e, "beats", SHMBUS_TYPE_BIT(SHMBUS_EV_HEARTBEAT), NULL, 0);
	assert_int_equal(tu_ring_stat(e.bus, "beats", &rs), 0);
	assert_int_equal(rs.producers, 1);
	/* delivered there counts too, announced or not */
	struct shmbus_trade t = tu_trade(e.sym[1], 1.0);
	assert_int_equal(shmbus_publish(p, &t), 1);
	assert_int_equal(shmbus_stat_ring_fed_by(e.bus, (uint32_t)it, pi), 1);
	/* withdrawn: what it delivered to still counts */
	assert_int_equal(shmbus_producer_announce(p, 0), 0);
	assert_int_equal(shmbus_stat_ring_fed_by(e.bus, (uint32_t)ib, pi), 0);
	assert_int_equal(shmbus_stat_ring_fed_by(e.bus, (uint32_t)it, pi), 1);
	/* bad input */
	assert_int_equal(shmbus_producer_announce(p, 1), -EINVAL); /* type 0 */
	assert_int_equal(shmbus_producer_announce(NULL, 2), -EINVAL);
	assert_int_equal(shmbus_stat_ring_fed_by(e.bus, 100000, pi), -ERANGE);
	assert_int_equal(shmbus_stat_ring_fed_by(e.bus, (uint32_t)ib, 100000), -ERANGE);
	assert_int_equal(shmbus_producer_announce(p, SHMBUS_TYPE_BIT(SHMBUS_EV_BAR)), 0);
	shmbus_producer_close(p);
	assert_int_equal(shmbus_stat_ring_fed_by(e.bus, (uint32_t)ib, pi), -ENOENT);
	assert_int_equal(tu_ring_stat(e.bus, "bars", &rs), 0);
	assert_int_equal(rs.producers, 0);
	shmbus_consumer_close(hb);
	shmbus_consumer_close(trades);
	shmbus_consumer_close(bars);
	tu_env_close(&e);
}

/* Publish (even i) or claim/commit (odd i) a trade about sym; returns the
 * rings it reached. The price is i, to check order at the consumer. */
static int pub_or_claim(struct tu_env *e, int i, uint32_t sym)
{
	if (i % 2 == 0) {
		struct shmbus_trade t = tu_trade(sym, i);
		return shmbus_publish(e->p, &t);
	}
	void *mem;
	assert_int_equal(
	    shmbus_claim(e->p, SHMBUS_EV_TRADE, sym, sizeof(struct shmbus_trade), &mem), 0);
	((struct shmbus_trade *)mem)->price = i;
	return shmbus_commit(e->p);
}

/* Drain c and check that it got exactly the events whose symbol is in
 * want[0..nwant), in publish order (prices ascending), `expect` of them. */
static void drain_symbols(shmbus_consumer *c, const uint32_t *want, size_t nwant, size_t expect)
{
	struct tu_sink s;
	tu_sink_init(&s, expect + 1);
	assert_int_equal(tu_drain(c, &s), expect);
	for (size_t j = 0; j < s.n; j++) {
		const struct shmbus_trade *t = (const void *)s.ev[j].bytes;
		bool ok = false;
		for (size_t k = 0; k < nwant; k++)
			ok |= t->h.symbol_id == want[k];
		assert_true(ok);
		if (j > 0)
			assert_true(
			    t->price >
			    ((const struct shmbus_trade *)(const void *)s.ev[j - 1].bytes)->price);
	}
	tu_sink_free(&s);
}

/*
 * A type with several rings whose symbol filters leave one ring per
 * symbol: the fast paths remember (type, symbol) -> ring, and forget it
 * when the routing changes: a catch-all ring added later gets every
 * symbol, a closed ring is routed around (counted), a re-attached one
 * resumes.
 */
static void test_routing_symbol_sole_ring(void **state)
{
	enum { N = 96 };
	struct tu_env e;
	tu_env_open(&e);
	const uint32_t sa[] = {e.sym[1]}, sb[] = {e.sym[2], e.sym[3]};
	const uint64_t trade = SHMBUS_TYPE_BIT(SHMBUS_EV_TRADE);
	shmbus_consumer *a = sub(&e, "a", trade, sa, 1);
	shmbus_consumer *b = sub(&e, "b", trade, sb, 2);
	/* symbols 1..4 in turn: 1 -> a, 2 and 3 -> b, 4 -> nowhere */
	for (int i = 0; i < N; i++)
		assert_int_equal(pub_or_claim(&e, i, e.sym[1 + i % 4]), i % 4 != 3);
	drain_symbols(a, sa, 1, N / 4);
	drain_symbols(b, sb, 2, N / 2);
	struct shmbus_producer_stat ps = tu_env_prod_stat(&e);
	assert_int_equal(ps.delivered, 3 * N / 4);
	assert_int_equal(ps.unrouted, N / 4);

	/* a catch-all ring of the type: symbol 1 now reaches a and all */
	shmbus_consumer *all = sub(&e, "all", trade, NULL, 0);
	for (int i = 0; i < N; i++)
		assert_int_equal(pub_or_claim(&e, N + i, e.sym[1 + i % 4]), 1 + (i % 4 != 3));
	drain_symbols(a, sa, 1, N / 4);
	drain_symbols(b, sb, 2, N / 2);
	const uint32_t s4[] = {e.sym[1], e.sym[2], e.sym[3], e.sym[4]};
	drain_symbols(all, s4, 4, N);

	/* a closed: its symbol goes on to `all`, a's ring is routed around */
	shmbus_consumer_close(all);
	for (int i = 0; i < 4; i++) /* learn (type, symbol) -> a again */
		assert_int_equal(pub_or_claim(&e, 2 * N + i, e.sym[1]), 1);
	drain_symbols(a, sa, 1, 4);
	shmbus_consumer_close(a);
	for (int i = 0; i < N; i++)
		assert_int_equal(pub_or_claim(&e, 2 * N + 4 + i, e.sym[1 + i % 4]),
		                 i % 4 == 1 || i % 4 == 2);
	struct shmbus_ring_stat rs;
	assert_int_equal(tu_ring_stat(e.bus, "a", &rs), 0);
	assert_int_equal(rs.routed_around, N / 4);
	assert_int_equal(rs.depth, 0);
	/* re-attached: delivered to again */
	a = sub(&e, "a", trade, sa, 1);
	assert_int_equal(pub_or_claim(&e, 3 * N + 8, e.sym[1]), 1);
	assert_int_equal(pub_or_claim(&e, 3 * N + 9, e.sym[1]), 1);
	drain_symbols(a, sa, 1, 2);
	drain_symbols(b, sb, 2, N / 2);
	shmbus_consumer_close(a);
	shmbus_consumer_close(b);
	tu_env_close(&e);
}

/* Many more (type, symbol) pairs than the producer remembers, over a
 * group of two: each symbol reaches exactly one member, in order, also
 * when remembered pairs are evicted by others. */
static void test_routing_group_many_symbols(void **state)
{
	enum { NS = 500, ROUNDS = 3 };
	struct tu_env e;
	tu_env_open(&e);
	shmbus_consumer *m[2];
	tu_env_group(&e, "pair", 2, 2048, 64, m);
	for (int r = 0; r < ROUNDS; r++)
		for (uint32_t sym = 1; sym <= NS; sym++)
			assert_int_equal(pub_or_claim(&e, r * NS + (int)sym, sym * 7919u), 1);
	static int owner[NS + 1], seen[NS + 1];
	memset(owner, -1, sizeof owner);
	memset(seen, 0, sizeof seen);
	size_t total = 0;
	for (int k = 0; k < 2; k++) {
		struct tu_sink s;
		tu_sink_init(&s, NS * ROUNDS);
		total += tu_drain(m[k], &s);
		for (size_t j = 0; j < s.n; j++) {
			const struct shmbus_trade *t = (const void *)s.ev[j].bytes;
			uint32_t i = t->h.symbol_id / 7919u;
			assert_int_equal(t->h.symbol_id, i * 7919u);
			assert_true(i >= 1 && i <= NS);
			assert_true(owner[i] == -1 || owner[i] == k); /* never split */
			owner[i] = k;
			assert_true(t->price == (double)(seen[i] * NS + (int)i)); /* in order */
			seen[i]++;
		}
		assert_true(s.n > NS / 4); /* both members used */
		tu_sink_free(&s);
		shmbus_consumer_close(m[k]);
	}
	assert_int_equal(total, NS * ROUNDS);
	for (int i = 1; i <= NS; i++)
		assert_int_equal(seen[i], ROUNDS);
	tu_env_close(&e);
}

int main(void)
{
	alarm(120);
	const struct CMUnitTest tests[] = {
	    TU_TEST(test_routing_filters_type_and_symbol),
	    TU_TEST(test_routing_fan_out),
	    TU_TEST(test_routing_consumer_group),
	    TU_TEST(test_routing_generation_change),
	    TU_TEST(test_routing_sole_ring_filter),
	    TU_TEST(test_routing_sole_ring_claim),
	    TU_TEST(test_routing_detached_ring_routed_around),
	    TU_TEST(test_routing_reattach_replaces_filter),
	    TU_TEST(test_routing_unrouted_counted),
	    TU_TEST(test_routing_ring_producer_count),
	    TU_TEST(test_routing_announced_producer_feeds),
	    TU_TEST(test_routing_reused_index_forgets_feeders),
	    TU_TEST(test_routing_dead_producer_feeds_nothing),
	    TU_TEST(test_routing_wait_subscribers),
	    TU_TEST(test_routing_symbol_sole_ring),
	    TU_TEST(test_routing_group_many_symbols),
	};
	return cmocka_run_group_tests_name("routing", tests, NULL, NULL);
}
