/*
 * test_batch_routing.c - shmbus_publish_batch() routes like shmbus_publish():
 * symbol filters, a consumer group, type rings, slot sizes, a `drop` ring
 * and a declared ring without consumer, compared with the same events
 * published one by one on an identical bus; `drop` policy counts; events
 * too big for a ring's slots; detached rings (routed around, resumable);
 * routing-generation changes.
 */
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <pthread.h>

#include "ring/batch_util.h"

/* ---- routing: batch versus one-by-one on identical buses ---- */

enum {
	R_SYM,      /* symbols S1..S3, every type */
	R_GRP0,     /* group "g" of 2, member 0 */
	R_GRP1,     /* group "g" of 2, member 1 */
	R_TRADES,   /* trades only, 64-byte slots */
	R_QUOTES,   /* quotes only */
	R_ALL,      /* everything, 256-byte slots */
	R_SMALL,    /* trades, quotes, USER_TYPE in 64-byte slots: too_big */
	R_SYMTR,    /* trades and bars of S4, S5 */
	R_BARSDROP, /* bars, 8 slots, drop policy, never drained meanwhile */
	R_DECLARED, /* trades, declared without a consumer: routed around */
	NRINGS
};

static const char *const ring_name[NRINGS] = {
    "sym", "grp0", "grp1", "trades", "quotes", "all", "small", "symtr", "barsdrop", "declared",
};

#define EQ_N         150
#define BARSDROP_CAP 8

static void eq_rings(struct tu_env *e, shmbus_consumer *c[NRINGS])
{
	uint32_t s123[] = {e->sym[1], e->sym[2], e->sym[3]};
	uint32_t s45[] = {e->sym[4], e->sym[5]};
	struct shmbus_sub_opts so;
	memset(c, 0, NRINGS * sizeof c[0]);
	tu_sub_opts(&so, 256, 128, SHMBUS_POLICY_BLOCK);
	so.symbols = s123;
	so.nsymbols = 3;
	c[R_SYM] = tu_env_sub(e, ring_name[R_SYM], &so);
	for (uint32_t k = 0; k < 2; k++) {
		tu_sub_opts(&so, 256, 128, SHMBUS_POLICY_BLOCK);
		so.group = "g";
		so.group_size = 2;
		so.group_member = k;
		c[R_GRP0 + k] = tu_env_sub(e, ring_name[R_GRP0 + k], &so);
	}
	c[R_TRADES] = sub(e, ring_name[R_TRADES], 256, 64, SHMBUS_POLICY_BLOCK,
	                  SHMBUS_TYPE_BIT(SHMBUS_EV_TRADE));
	c[R_QUOTES] = sub(e, ring_name[R_QUOTES], 256, 128, SHMBUS_POLICY_BLOCK,
	                  SHMBUS_TYPE_BIT(SHMBUS_EV_QUOTE));
	c[R_ALL] = sub(e, ring_name[R_ALL], 256, 256, SHMBUS_POLICY_BLOCK, 0);
	c[R_SMALL] = sub(e, ring_name[R_SMALL], 256, 64, SHMBUS_POLICY_BLOCK,
	                 SHMBUS_TYPE_BIT(SHMBUS_EV_TRADE) | SHMBUS_TYPE_BIT(SHMBUS_EV_QUOTE) |
	                     SHMBUS_TYPE_BIT(USER_TYPE));
	tu_sub_opts(&so, 256, 128, SHMBUS_POLICY_BLOCK);
	so.types = SHMBUS_TYPE_BIT(SHMBUS_EV_TRADE) | SHMBUS_TYPE_BIT(SHMBUS_EV_BAR);
	so.symbols = s45;
	so.nsymbols = 2;
	c[R_SYMTR] = tu_env_sub(e, ring_name[R_SYMTR], &so);
	c[R_BARSDROP] = sub(e, ring_name[R_BARSDROP], BARSDROP_CAP, 128, SHMBUS_POLICY_DROP,
	                    SHMBUS_TYPE_BIT(SHMBUS_EV_BAR));
	tu_sub_opts(&so, 4, 64, SHMBUS_POLICY_BLOCK);
	so.types = SHMBUS_TYPE_BIT(SHMBUS_EV_TRADE);
	assert_int_equal(shmbus_ring_declare(e->bus, ring_name[R_DECLARED], &so), 0);
}

/* A deterministic mix of trades, quotes, bars, user events of 41..80
 * bytes and heartbeats (symbol 0); every 17th keeps a preset identity. */
static void eq_events(struct batch *b, const struct tu_env *e)
{
	uint64_t rnd = 42;
	for (unsigned i = 0; i < b->n; i++) {
		uint64_t r = tu_rand(&rnd);
		uint32_t sym = e->sym[1 + (r >> 8) % NSYM];
		switch (r % 6) {
		case 0:
		case 1:
			batch_trade(b, i, sym);
			break;
		case 2:
			batch_event(b, i, SHMBUS_EV_QUOTE, sym, sizeof(struct shmbus_quote));
			break;
		case 3:
			batch_event(b, i, SHMBUS_EV_BAR, sym, sizeof(struct shmbus_bar));
			break;
		case 4:
			batch_event(b, i, USER_TYPE, sym, (uint16_t)(41 + (r >> 20) % 40));
			break;
		default:
			batch_event(b, i, SHMBUS_EV_HEARTBEAT, 0, sizeof(struct shmbus_heartbeat));
			break;
		}
		if (i % 17 == 5) {
			b->ev[i].h.source_id = 99;
			b->ev[i].h.seq = 100000 + i;
		}
	}
}

/* Does input `in` reach ring k (groups: either member; drop: ignored)? */
static bool eq_wanted(const struct tu_env *e, int k, const struct shmbus_event_header *in)
{
	uint32_t s = in->symbol_id;
	switch (k) {
	case R_SYM: /* an event about no symbol passes the filter */
		return s == 0 || s == e->sym[1] || s == e->sym[2] || s == e->sym[3];
	case R_TRADES:
	case R_DECLARED:
		return in->type == SHMBUS_EV_TRADE;
	case R_QUOTES:
		return in->type == SHMBUS_EV_QUOTE;
	case R_SMALL:
		return in->type == SHMBUS_EV_TRADE || in->type == SHMBUS_EV_QUOTE ||
		       in->type == USER_TYPE;
	case R_SYMTR:
		return (s == e->sym[4] || s == e->sym[5]) &&
		       (in->type == SHMBUS_EV_TRADE || in->type == SHMBUS_EV_BAR);
	case R_BARSDROP:
		return in->type == SHMBUS_EV_BAR;
	default:
		return true;
	}
}

/* Publish b on e: one by one (split NULL) or in calls of split[] events.
 * Returns the sum of the return values. */
static long eq_publish(struct tu_env *e, const struct batch *b, const unsigned *split, size_t nsplit)
{
	long total = 0;
	if (split == NULL) {
		for (unsigned i = 0; i < b->n; i++) {
			int rc = shmbus_publish(e->p, b->ptr[i]);
			if (rc < 0)
				fail_msg("publish %u: %s", i, shmbus_strerror(rc));
			total += rc;
		}
		return total;
	}
	unsigned at = 0;
	for (size_t k = 0; k < nsplit; k++) {
		int rc = shmbus_publish_batch(e->p, b->ptr + at, split[k]);
		if (rc < 0)
			fail_msg("batch at %u: %s (%s)", at, shmbus_strerror(rc), shmbus_errmsg());
		total += rc;
		at += split[k];
	}
	assert_int_equal(at, b->n);
	return total;
}

/* Ring k's events, every byte but the publish time, equal to ref's. */
static void eq_same_events(const struct tu_sink *ref, const struct tu_sink *got, int k)
{
	if (got->n != ref->n)
		fail_msg("ring %s: %zu events, one-by-one gave %zu", ring_name[k], got->n, ref->n);
	for (size_t j = 0; j < ref->n; j++) {
		struct tu_rec a = ref->ev[j], b = got->ev[j];
		a.h.publish_time_ns = b.h.publish_time_ns = 0;
		if (a.h.size != b.h.size || memcmp(a.bytes, b.bytes, a.h.size) != 0)
			fail_msg("ring %s: event %zu differs (input %u vs %u)", ring_name[k], j,
			         input_index(&ref->ev[j]), input_index(&got->ev[j]));
	}
}

/* Check ring contents of the one-by-one reference against the filters. */
static void eq_check_reference(const struct tu_env *e, const struct batch *b,
                               struct tu_sink sk[NRINGS])
{
	uint64_t seq[EQ_N];
	uint32_t src[EQ_N];
	uint64_t next = 1;
	for (unsigned i = 0; i < EQ_N; i++) {
		bool keep = b->ev[i].h.seq != 0;
		seq[i] = keep ? b->ev[i].h.seq : next++;
		src[i] = keep ? b->ev[i].h.source_id : SRC;
	}
	for (int k = 0; k < NRINGS; k++) {
		if (k == R_GRP0 || k == R_GRP1 || k == R_DECLARED)
			continue;
		size_t j = 0;
		for (unsigned i = 0; i < EQ_N; i++) {
			const struct shmbus_event_header *in = &b->ev[i].h;
			if (!eq_wanted(e, k, in))
				continue;
			if (k == R_SMALL && in->size > SLOT64_MAX)
				continue;
			if (k == R_BARSDROP && j == BARSDROP_CAP)
				break; /* the rest were dropped */
			if (j >= sk[k].n)
				fail_msg("ring %s: only %zu events", ring_name[k], sk[k].n);
			if (input_index(&sk[k].ev[j]) != i)
				fail_msg("ring %s: event %zu is input %u, want %u", ring_name[k], j,
				         input_index(&sk[k].ev[j]), i);
			check_event(&sk[k].ev[j], &b->ev[i], src[i], seq[i]);
			j++;
		}
		if (j != sk[k].n)
			fail_msg("ring %s: %zu events, want %zu", ring_name[k], sk[k].n, j);
	}
	/* the group: every event in exactly one member, in order, and a
	 * symbol never in both; an event about no symbol in both */
	int owner[NSYM + 1];
	for (int i = 0; i <= NSYM; i++)
		owner[i] = -1;
	size_t pos[2] = {0, 0};
	for (unsigned i = 0; i < EQ_N; i++) {
		int m = -1;
		int members = 0;
		for (int g = 0; g < 2; g++) {
			const struct tu_sink *s = &sk[R_GRP0 + g];
			if (pos[g] < s->n && input_index(&s->ev[pos[g]]) == i) {
				members++;
				m = g;
				check_event(&s->ev[pos[g]], &b->ev[i], src[i], seq[i]);
				pos[g]++;
			}
		}
		if (b->ev[i].h.symbol_id == 0) {
			if (members != 2)
				fail_msg("input %u (no symbol) reached %d group members", i, members);
			continue;
		}
		if (members != 1)
			fail_msg("input %u reached %d group members", i, members);
		int sidx = 0;
		for (int q = 1; q <= NSYM; q++)
			if (e->sym[q] == b->ev[i].h.symbol_id)
				sidx = q;
		if (owner[sidx] == -1)
			owner[sidx] = m;
		else if (owner[sidx] != m)
			fail_msg("symbol index %d split over both members", sidx);
	}
	assert_int_equal(pos[0], sk[R_GRP0].n);
	assert_int_equal(pos[1], sk[R_GRP1].n);
	assert_true(pos[0] > 0 && pos[1] > 0); /* 13 keys over 2 members */
}

/*
 * The same ~150 mixed events on three identical buses: one by one with
 * shmbus_publish, in one batch, and in batches of 1, 63, 65, 21. Every
 * ring receives the same events in the same order, the counters agree,
 * and the return values add up to the deliveries.
 */
static void test_batch_routing_matches_publish(void **state)
{
	static const unsigned one[] = {EQ_N};
	static const unsigned odd[] = {1, 63, 65, 21};
	_Static_assert(1 + 63 + 65 + 21 == EQ_N, "odd split covers the batch");
	struct tu_env e[3];
	shmbus_consumer *c[3][NRINGS];
	struct tu_sink sk[3][NRINGS];
	long ret[3];
	struct batch b;
	for (int v = 0; v < 3; v++) {
		tu_env_open(&e[v]);
		for (int i = 1; i <= NSYM; i++)
			assert_int_equal(e[v].sym[i], e[0].sym[i]);
		eq_rings(&e[v], c[v]);
	}
	batch_init(&b, EQ_N);
	eq_events(&b, &e[0]);
	ret[0] = eq_publish(&e[0], &b, NULL, 0);
	ret[1] = eq_publish(&e[1], &b, one, 1);
	ret[2] = eq_publish(&e[2], &b, odd, sizeof odd / sizeof odd[0]);

	for (int v = 0; v < 3; v++) {
		long drained = 0;
		for (int k = 0; k < NRINGS; k++) {
			tu_sink_init(&sk[v][k], EQ_N + 1);
			if (c[v][k] != NULL)
				drained += (long)tu_drain(c[v][k], &sk[v][k]);
		}
		assert_int_equal(ret[v], drained);
	}
	eq_check_reference(&e[0], &b, sk[0]);
	/* one batch, one publish time */
	for (size_t j = 1; j < sk[1][R_ALL].n; j++)
		assert_int_equal(sk[1][R_ALL].ev[j].h.publish_time_ns,
		                 sk[1][R_ALL].ev[0].h.publish_time_ns);

	unsigned trades = 0, bars = 0, small_big = 0;
	for (unsigned i = 0; i < EQ_N; i++) {
		trades += b.ev[i].h.type == SHMBUS_EV_TRADE;
		bars += b.ev[i].h.type == SHMBUS_EV_BAR;
		small_big += eq_wanted(&e[0], R_SMALL, &b.ev[i].h) && b.ev[i].h.size > SLOT64_MAX;
	}
	assert_true(bars > BARSDROP_CAP && small_big > 0 && trades > 0);
	struct shmbus_ring_stat rs = ring_stat(&e[0], "small");
	assert_int_equal(rs.too_big, small_big);
	rs = ring_stat(&e[0], "barsdrop");
	assert_int_equal(rs.dropped, bars - BARSDROP_CAP);
	rs = ring_stat(&e[0], "declared");
	assert_int_equal(rs.routed_around, trades);
	assert_int_equal(rs.claimed, 0);

	for (int v = 1; v < 3; v++) {
		assert_int_equal(ret[v], ret[0]);
		for (int k = 0; k < NRINGS; k++) {
			eq_same_events(&sk[0][k], &sk[v][k], k);
			struct shmbus_ring_stat a = ring_stat(&e[0], ring_name[k]);
			struct shmbus_ring_stat g = ring_stat(&e[v], ring_name[k]);
			assert_int_equal(g.claimed, a.claimed);
			assert_int_equal(g.dropped, a.dropped);
			assert_int_equal(g.too_big, a.too_big);
			assert_int_equal(g.routed_around, a.routed_around);
		}
		struct shmbus_producer_stat a = tu_env_prod_stat(&e[0]), g = tu_env_prod_stat(&e[v]);
		assert_int_equal(g.published, a.published);
		assert_int_equal(g.delivered, a.delivered);
		assert_int_equal(g.dropped, a.dropped);
		assert_int_equal(g.routed_around, a.routed_around);
		assert_int_equal(g.unrouted, a.unrouted);
		assert_int_equal(g.last_seq, a.last_seq);
		assert_int_equal(g.published, EQ_N);
		assert_int_equal(g.delivered, ret[0]);
		assert_int_equal(shmbus_producer_last_seq(e[v].p),
		                 shmbus_producer_last_seq(e[0].p));
	}
	for (int v = 0; v < 3; v++) {
		for (int k = 0; k < NRINGS; k++) {
			tu_sink_free(&sk[v][k]);
			if (c[v][k] != NULL)
				shmbus_consumer_close(c[v][k]);
		}
		tu_env_close(&e[v]);
	}
	batch_free(&b);
}

/* ---- full rings, too-big events, detached rings, new subscriptions ---- */

/* `drop`: 40 into an undrained ring of 16 delivers the first 16 and drops
 * 24 (a roomy ring beside it takes all 40); after draining, 10 more go in. */
static void test_batch_drop_policy_counts(void **state)
{
	struct tu_env e;
	tu_env_open(&e);
	shmbus_consumer *c = sub(&e, "tiny", 16, 64, SHMBUS_POLICY_DROP, 0);
	shmbus_consumer *roomy = sub(&e, "roomy", 256, 64, SHMBUS_POLICY_BLOCK, 0);
	struct batch b;
	batch_init(&b, 50);
	for (unsigned i = 0; i < 50; i++)
		batch_trade(&b, i, e.sym[1]);
	assert_int_equal(shmbus_publish_batch(e.p, b.ptr, 40), 16 + 40);
	struct shmbus_ring_stat rs = ring_stat(&e, "tiny");
	assert_int_equal(rs.dropped, 24);
	assert_int_equal(rs.claimed, 16);
	assert_int_equal(rs.depth, 16);
	assert_int_equal(ring_stat(&e, "roomy").dropped, 0);
	struct shmbus_producer_stat ps = tu_env_prod_stat(&e);
	assert_int_equal(ps.published, 40);
	assert_int_equal(ps.delivered, 56);
	assert_int_equal(ps.dropped, 24);
	assert_int_equal(ps.last_seq, 40);

	struct tu_sink s;
	tu_sink_init(&s, 64);
	assert_int_equal(tu_drain(c, &s), 16);
	for (unsigned i = 0; i < 16; i++)
		check_event(&s.ev[i], &b.ev[i], SRC, i + 1);
	assert_int_equal(shmbus_publish_batch(e.p, b.ptr + 40, 10), 20);
	s.n = 0;
	assert_int_equal(tu_drain(c, &s), 10);
	for (unsigned i = 0; i < 10; i++)
		check_event(&s.ev[i], &b.ev[40 + i], SRC, 41 + i);
	rs = ring_stat(&e, "tiny");
	assert_int_equal(rs.dropped, 24);
	assert_int_equal(rs.claimed, 26);
	s.n = 0;
	assert_int_equal(tu_drain(roomy, &s), 50);
	for (unsigned i = 0; i < 50; i++)
		check_event(&s.ev[i], &b.ev[i], SRC, i + 1);
	ps = tu_env_prod_stat(&e);
	assert_int_equal(ps.published, 50);
	assert_int_equal(ps.delivered, 76);
	assert_int_equal(ps.dropped, 24);
	tu_sink_free(&s);
	batch_free(&b);
	shmbus_consumer_close(c);
	shmbus_consumer_close(roomy);
	tu_env_close(&e);
}

/* Events over 56 bytes are counted too_big on a 64-byte-slot ring and
 * skipped there, the rest arrive in order; a 256-byte ring gets all. */
static void test_batch_too_big_for_slot(void **state)
{
	enum { N = 90 };
	struct tu_env e;
	tu_env_open(&e);
	shmbus_consumer *small = sub(&e, "small", 256, 64, SHMBUS_POLICY_BLOCK, 0);
	shmbus_consumer *big = sub(&e, "big", 256, 256, SHMBUS_POLICY_BLOCK, 0);
	struct batch b;
	batch_init(&b, N);
	unsigned fits = 0;
	for (unsigned i = 0; i < N; i++) {
		switch (i % 5) {
		case 0:
			batch_event(&b, i, SHMBUS_EV_BAR, e.sym[2], sizeof(struct shmbus_bar));
			break;
		case 1:
			batch_event(&b, i, USER_TYPE, e.sym[3], SLOT64_MAX); /* just fits */
			break;
		case 2:
			batch_event(&b, i, USER_TYPE, e.sym[3], SLOT64_MAX + 1); /* just not */
			break;
		default:
			batch_trade(&b, i, e.sym[1]);
			break;
		}
		fits += b.ev[i].h.size <= SLOT64_MAX;
	}
	assert_int_equal(shmbus_publish_batch(e.p, b.ptr, N), N + fits);
	struct shmbus_ring_stat rs = ring_stat(&e, "small");
	assert_int_equal(rs.too_big, N - fits);
	assert_int_equal(rs.claimed, fits);
	assert_int_equal(rs.dropped, 0);
	assert_int_equal(ring_stat(&e, "big").too_big, 0);

	struct tu_sink s;
	tu_sink_init(&s, N + 1);
	assert_int_equal(tu_drain(small, &s), fits);
	unsigned j = 0;
	for (unsigned i = 0; i < N; i++) {
		if (b.ev[i].h.size > SLOT64_MAX)
			continue;
		assert_int_equal(input_index(&s.ev[j]), i);
		check_event(&s.ev[j++], &b.ev[i], SRC, i + 1);
	}
	s.n = 0;
	assert_int_equal(tu_drain(big, &s), N);
	for (unsigned i = 0; i < N; i++)
		check_event(&s.ev[i], &b.ev[i], SRC, i + 1);
	struct shmbus_producer_stat ps = tu_env_prod_stat(&e);
	assert_int_equal(ps.published, N);
	assert_int_equal(ps.delivered, N + fits);
	assert_int_equal(ps.unrouted, 0);

	/* one type only, sizes 50..61 (the same-type fast path must still
	 * look at each size) */
	for (unsigned i = 0; i < N; i++)
		batch_event(&b, i, USER_TYPE, e.sym[1], (uint16_t)(50 + i % 12));
	unsigned fits2 = 0;
	for (unsigned i = 0; i < N; i++)
		fits2 += b.ev[i].h.size <= SLOT64_MAX;
	assert_int_equal(shmbus_publish_batch(e.p, b.ptr, N), N + fits2);
	assert_int_equal(ring_stat(&e, "small").too_big, (N - fits) + (N - fits2));
	s.n = 0;
	assert_int_equal(tu_drain(small, &s), fits2);
	j = 0;
	for (unsigned i = 0; i < N; i++) {
		if (b.ev[i].h.size > SLOT64_MAX)
			continue;
		assert_int_equal(input_index(&s.ev[j]), i);
		check_event(&s.ev[j++], &b.ev[i], SRC, N + i + 1);
	}
	s.n = 0;
	assert_int_equal(tu_drain(big, &s), N);
	for (unsigned i = 0; i < N; i++)
		check_event(&s.ev[i], &b.ev[i], SRC, N + i + 1);
	tu_sink_free(&s);
	batch_free(&b);
	shmbus_consumer_close(small);
	shmbus_consumer_close(big);
	tu_env_close(&e);
}

/*
 * A consumer group of 2 beside a catch-all ring, trades only (no symbol
 * filter on the way: the same-type path): each symbol's events all land
 * on one member, in order, and on the member shmbus_publish() picks.
 */
static void test_batch_consumer_group(void **state)
{
	enum { N = 120 };
	struct tu_env e;
	tu_env_open(&e);
	shmbus_consumer *m[2];
	tu_env_group(&e, "workers", 2, 256, 64, m);
	shmbus_consumer *all = sub(&e, "all", 256, 64, SHMBUS_POLICY_BLOCK, 0);
	struct batch b;
	batch_init(&b, N);
	for (unsigned i = 0; i < N; i++)
		batch_trade(&b, i, e.sym[1 + i % NSYM]);
	assert_int_equal(shmbus_publish_batch(e.p, b.ptr, N), 2 * N);

	int owner[NSYM + 1];
	for (int q = 0; q <= NSYM; q++)
		owner[q] = -1;
	struct tu_sink s[2];
	for (int k = 0; k < 2; k++) {
		tu_sink_init(&s[k], N + 1);
		tu_drain(m[k], &s[k]);
		unsigned last = 0;
		for (size_t j = 0; j < s[k].n; j++) {
			unsigned i = input_index(&s[k].ev[j]);
			assert_true(i < N);
			assert_true(j == 0 || i > last); /* in order */
			last = i;
			check_event(&s[k].ev[j], &b.ev[i], SRC, i + 1);
			int q = 1 + (int)(i % NSYM);
			if (owner[q] == -1)
				owner[q] = k;
			else if (owner[q] != k)
				fail_msg("symbol S%d on both members", q);
		}
	}
	assert_int_equal(s[0].n + s[1].n, N);
	assert_true(s[0].n > 0 && s[1].n > 0);
	for (int q = 1; q <= NSYM; q++) {
		/* every symbol seen, and where publish() sends it */
		assert_true(owner[q] >= 0);
		struct shmbus_trade t = tu_trade(e.sym[q], -1.0);
		assert_int_equal(shmbus_publish(e.p, &t), 2);
		s[0].n = s[1].n = 0;
		assert_int_equal(tu_drain(m[owner[q]], &s[owner[q]]), 1);
		assert_int_equal(tu_drain(m[1 - owner[q]], &s[1 - owner[q]]), 0);
	}
	struct tu_sink sa;
	tu_sink_init(&sa, N + NSYM + 1);
	assert_int_equal(tu_drain(all, &sa), N + NSYM);
	for (unsigned i = 0; i < N; i++)
		check_event(&sa.ev[i], &b.ev[i], SRC, i + 1);
	tu_sink_free(&sa);
	tu_sink_free(&s[0]);
	tu_sink_free(&s[1]);
	batch_free(&b);
	shmbus_consumer_close(m[0]);
	shmbus_consumer_close(m[1]);
	shmbus_consumer_close(all);
	tu_env_close(&e);
}

/*
 * Closed consumers are routed around, each event counted: a ring of all
 * symbols (uniform path) and one of S1 only (routed path), both `block`
 * rings of 4 slots that a delivery would overfill. Re-attached, each
 * gets what it held, then the next batch.
 */
static void test_batch_routed_around_detached(void **state)
{
	enum { N = 10 };
	struct tu_env e;
	tu_env_open(&e);
	uint32_t s1[] = {e.sym[1]};
	struct shmbus_sub_opts so_all, so_s1;
	tu_sub_opts(&so_all, 4, 64, SHMBUS_POLICY_BLOCK);
	tu_sub_opts(&so_s1, 4, 64, SHMBUS_POLICY_BLOCK);
	so_s1.symbols = s1;
	so_s1.nsymbols = 1;
	shmbus_consumer *ca = tu_env_sub(&e, "gone_all", &so_all);
	shmbus_consumer *cs = tu_env_sub(&e, "gone_s1", &so_s1);
	shmbus_consumer *live = sub(&e, "live", 256, 64, SHMBUS_POLICY_BLOCK, 0);
	shmbus_consumer_close(ca);
	shmbus_consumer_close(cs);
	assert_int_equal(ring_stat(&e, "gone_all").state, SHMBUS_RING_DETACHED);

	struct batch b;
	batch_init(&b, 3 * N);
	for (unsigned i = 0; i < 3 * N; i++)
		batch_trade(&b, i, e.sym[1 + i % 2]); /* S1, S2, S1 ... */
	/* only "live" takes them: each call returns 10 */
	assert_int_equal(shmbus_publish_batch(e.p, b.ptr, N), N);
	assert_int_equal(shmbus_publish_batch(e.p, b.ptr + N, N), N);
	struct shmbus_ring_stat rs = ring_stat(&e, "gone_all");
	assert_int_equal(rs.routed_around, 2 * N);
	assert_int_equal(rs.claimed, 0);
	rs = ring_stat(&e, "gone_s1");
	assert_int_equal(rs.routed_around, N); /* its symbol only */
	assert_int_equal(rs.claimed, 0);
	struct shmbus_producer_stat ps = tu_env_prod_stat(&e);
	assert_int_equal(ps.routed_around, 3 * N);
	assert_int_equal(ps.delivered, 2 * N);
	assert_int_equal(ps.published, 2 * N);

	/* re-attached: delivered to again, from the next batch on */
	ca = tu_env_sub(&e, "gone_all", &so_all);
	cs = tu_env_sub(&e, "gone_s1", &so_s1);
	assert_int_equal(shmbus_publish_batch(e.p, b.ptr + 2 * N, 4), 4 + 4 + 2);
	struct tu_sink s;
	tu_sink_init(&s, 4 * N);
	assert_int_equal(tu_drain(ca, &s), 4);
	for (unsigned i = 0; i < 4; i++)
		check_event(&s.ev[i], &b.ev[2 * N + i], SRC, 2 * N + i + 1);
	s.n = 0;
	assert_int_equal(tu_drain(cs, &s), 2);
	check_event(&s.ev[0], &b.ev[2 * N], SRC, 2 * N + 1);
	check_event(&s.ev[1], &b.ev[2 * N + 2], SRC, 2 * N + 3);
	s.n = 0;
	assert_int_equal(tu_drain(live, &s), 2 * N + 4);
	for (unsigned i = 0; i < 2 * N + 4; i++)
		check_event(&s.ev[i], &b.ev[i], SRC, i + 1);
	assert_int_equal(ring_stat(&e, "gone_all").routed_around, 2 * N);
	assert_int_equal(ring_stat(&e, "gone_s1").routed_around, N);
	tu_sink_free(&s);
	batch_free(&b);
	shmbus_consumer_close(ca);
	shmbus_consumer_close(cs);
	shmbus_consumer_close(live);
	tu_env_close(&e);
}

/* A subscription made between batches is routed to by the next batch, an
 * unsubscribed ring no longer is; with no ring at all, events are
 * counted unrouted. */
static void test_batch_generation_change(void **state)
{
	enum { N = 70 };
	struct tu_env e;
	tu_env_open(&e);
	struct batch b;
	batch_init(&b, 4 * N);
	for (unsigned i = 0; i < 4 * N; i++)
		batch_trade(&b, i, e.sym[1 + i % NSYM]);
	struct shmbus_bus_info bi0, bi1;
	assert_int_equal(shmbus_stat_bus(e.bus, &bi0), 0);
	assert_int_equal(shmbus_publish_batch(e.p, b.ptr, N), 0);
	struct shmbus_producer_stat ps = tu_env_prod_stat(&e);
	assert_int_equal(ps.unrouted, N);
	assert_int_equal(ps.published, N);

	shmbus_consumer *a = sub(&e, "early", 512, 64, SHMBUS_POLICY_BLOCK, 0);
	assert_int_equal(shmbus_stat_bus(e.bus, &bi1), 0);
	assert_true(bi1.route_generation != bi0.route_generation);
	assert_int_equal(shmbus_publish_batch(e.p, b.ptr + N, N), N);
	shmbus_consumer *l =
	    sub(&e, "late", 512, 64, SHMBUS_POLICY_BLOCK, SHMBUS_TYPE_BIT(SHMBUS_EV_TRADE));
	assert_int_equal(shmbus_publish_batch(e.p, b.ptr + 2 * N, N), 2 * N);
	assert_int_equal(shmbus_unsubscribe(a), 0);
	assert_int_equal(shmbus_publish_batch(e.p, b.ptr + 3 * N, N), N);

	struct tu_sink s;
	tu_sink_init(&s, 4 * N);
	assert_int_equal(tu_drain(l, &s), 2 * N);
	for (unsigned i = 0; i < 2 * N; i++)
		check_event(&s.ev[i], &b.ev[2 * N + i], SRC, 2 * N + i + 1);
	ps = tu_env_prod_stat(&e);
	assert_int_equal(ps.published, 4 * N);
	assert_int_equal(ps.delivered, 4 * N);
	assert_int_equal(ps.unrouted, N);
	assert_int_equal(ps.routed_around, 0);
	assert_int_equal(ps.last_seq, 4 * N);
	tu_sink_free(&s);
	batch_free(&b);
	shmbus_consumer_close(l);
	tu_env_close(&e);
}

int main(void)
{
	alarm(240); /* a hang is a failure, not a stuck CI job */
	const struct CMUnitTest tests[] = {
	    TU_TEST(test_batch_routing_matches_publish), TU_TEST(test_batch_drop_policy_counts),
	    TU_TEST(test_batch_too_big_for_slot),        TU_TEST(test_batch_consumer_group),
	    TU_TEST(test_batch_routed_around_detached),  TU_TEST(test_batch_generation_change),
	};
	return cmocka_run_group_tests_name("batch_routing", tests, NULL, NULL);
}
