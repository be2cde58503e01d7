/*
 * test_batch.c - shmbus_publish_batch(): n events published as if each went
 * through shmbus_publish() in array order, with one publish time per call.
 *
 * Covered here: order, identity and payload across the 64-event chunks and
 * the 32-slot claim runs; wrap-around of a small `block` ring that a second
 * thread drains (the producer waits for space mid-batch); assigned, kept
 * and mixed identities; SHMBUS_PRODUCER_NO_TIMESTAMP; rejected input,
 * which publishes nothing; the 65536-event limit. Routing is in
 * test_batch_routing.c.
 *
 * Only the wrap-around tests use a second thread (it drains and records);
 * every cmocka assert runs on the main thread, after the join.
 */
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <pthread.h>

#include "ring/batch_util.h"

/* ---- tests ---- */

/* 200 trades in one call into a ring that holds them all: 4 chunks, runs
 * of 32; in order, seq 1..200 with this source, one publish time (the
 * clock's, not the input's), every byte of the payload intact. */
static void test_batch_one_ring_in_order(void **state)
{
	enum { N = 200 };
	struct tu_env e;
	tu_env_open(&e);
	shmbus_consumer *c = sub(&e, "all", 256, 64, SHMBUS_POLICY_BLOCK, 0);
	struct batch b;
	batch_init(&b, N);
	for (unsigned i = 0; i < N; i++)
		batch_trade(&b, i, e.sym[1 + i % NSYM]);
	int64_t before = realtime_ns();
	assert_int_equal(shmbus_publish_batch(e.p, b.ptr, N), N);
	assert_int_equal(shmbus_producer_last_seq(e.p), N);

	struct tu_sink s;
	tu_sink_init(&s, N + 1);
	assert_int_equal(tu_drain(c, &s), N);
	int64_t pt = s.ev[0].h.publish_time_ns;
	assert_true(pt > 0);
	assert_true(pt != INPUT_PT);
	/* the bus clock is epoch ns: plausible, not a timing assertion */
	assert_true(pt > before - INT64_C(60000000000) && pt < before + INT64_C(60000000000));
	for (unsigned i = 0; i < N; i++) {
		check_event(&s.ev[i], &b.ev[i], SRC, i + 1);
		assert_int_equal(s.ev[i].h.publish_time_ns, pt);
		assert_int_equal(s.ev[i].h.reserved, 0);
		const struct shmbus_trade *t = (const void *)s.ev[i].bytes;
		assert_true(t->price == i + 0.5);
		assert_true(t->size == 2.0 * i);
		assert_int_equal(t->h.symbol_id, e.sym[1 + i % NSYM]);
	}
	struct shmbus_producer_stat ps = tu_env_prod_stat(&e);
	assert_int_equal(ps.published, N);
	assert_int_equal(ps.delivered, N);
	assert_int_equal(ps.unrouted, 0);
	assert_int_equal(ps.dropped, 0);
	assert_int_equal(ps.last_seq, N);
	struct shmbus_ring_stat rs = ring_stat(&e, "all");
	assert_int_equal(rs.claimed, N);
	assert_int_equal(rs.dropped, 0);
	assert_int_equal(rs.too_big, 0);
	tu_sink_free(&s);
	batch_free(&b);
	shmbus_consumer_close(c);
	tu_env_close(&e);
}

/* Calls of sizes around the chunk (64) and run (32) boundaries: each
 * returns its size, seqs run on across calls, one publish time per call. */
static void test_batch_chunk_and_run_boundaries(void **state)
{
	static const unsigned sizes[] = {1, 31, 32, 33, 63, 64, 65, 127, 128, 129};
	enum { TOTAL = 1 + 31 + 32 + 33 + 63 + 64 + 65 + 127 + 128 + 129 };
	struct tu_env e;
	tu_env_open(&e);
	shmbus_consumer *c = sub(&e, "all", 1024, 64, SHMBUS_POLICY_BLOCK, 0);
	struct batch b;
	batch_init(&b, TOTAL);
	for (unsigned i = 0; i < TOTAL; i++)
		batch_trade(&b, i, e.sym[1 + i % 3]);
	unsigned at = 0;
	for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
		assert_int_equal(shmbus_publish_batch(e.p, b.ptr + at, sizes[k]), sizes[k]);
		at += sizes[k];
		assert_int_equal(shmbus_producer_last_seq(e.p), at);
	}
	assert_int_equal(at, TOTAL);
	struct tu_sink s;
	tu_sink_init(&s, TOTAL + 1);
	assert_int_equal(tu_drain(c, &s), TOTAL);
	at = 0;
	for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
		int64_t pt = s.ev[at].h.publish_time_ns;
		assert_true(pt > 0);
		for (unsigned i = at; i < at + sizes[k]; i++) {
			check_event(&s.ev[i], &b.ev[i], SRC, i + 1);
			assert_int_equal(s.ev[i].h.publish_time_ns, pt);
		}
		at += sizes[k];
	}
	struct shmbus_producer_stat ps = tu_env_prod_stat(&e);
	assert_int_equal(ps.published, TOTAL);
	assert_int_equal(ps.delivered, TOTAL);
	tu_sink_free(&s);
	batch_free(&b);
	shmbus_consumer_close(c);
	tu_env_close(&e);
}

/*
 * Three calls of 200 trades into a `block` ring of 64 slots that a thread
 * drains a few events at a time: each call wraps the ring three times and
 * waits for space; nothing is lost or reordered. With `filtered`, the
 * ring takes only half the symbols, so the batch goes through the routed
 * (per-event) path instead of the uniform one.
 */
static void run_wrap_with_drainer(bool filtered)
{
	enum { PER_CALL = 200, CALLS = 3, N = PER_CALL * CALLS };
	struct tu_env e;
	tu_env_open(&e);
	uint32_t half[NSYM / 2];
	for (unsigned k = 0; k < NSYM / 2; k++)
		half[k] = e.sym[1 + 2 * k]; /* S1, S3, S5 ... */
	struct shmbus_sub_opts so;
	tu_sub_opts(&so, 64, 64, SHMBUS_POLICY_BLOCK);
	if (filtered) {
		so.symbols = half;
		so.nsymbols = NSYM / 2;
	}
	shmbus_consumer *c = tu_env_sub(&e, "wrap", &so);
	struct batch b;
	batch_init(&b, N);
	unsigned want = 0;
	for (unsigned i = 0; i < N; i++) {
		batch_trade(&b, i, e.sym[1 + i % NSYM]);
		want += !filtered || i % 2 == 0;
	}
	struct drain_arg d = {.c = c, .want = want};
	tu_sink_init(&d.sink, want + 1);
	atomic_init(&d.fail, 0);
	pthread_t th;
	assert_int_equal(pthread_create(&th, NULL, drain_thread, &d), 0);
	int rc[CALLS];
	for (unsigned k = 0; k < CALLS; k++)
		rc[k] = shmbus_publish_batch(e.p, b.ptr + k * PER_CALL, PER_CALL);
	assert_int_equal(pthread_join(th, NULL), 0);
	assert_int_equal(atomic_load(&d.fail), 0);
	for (unsigned k = 0; k < CALLS; k++)
		assert_int_equal(rc[k], filtered ? PER_CALL / 2 : PER_CALL);
	assert_int_equal(d.sink.n, want);
	assert_int_equal(d.sink.overflow, 0);

	int64_t call_pt[CALLS] = {0};
	unsigned j = 0;
	for (unsigned i = 0; i < N; i++) {
		if (filtered && i % 2 != 0)
			continue;
		const struct tu_rec *r = &d.sink.ev[j++];
		if (input_index(r) != i)
			fail_msg("event %u of the ring is input %u, want %u", j - 1, input_index(r),
			         i);
		check_event(r, &b.ev[i], SRC, i + 1);
		unsigned k = i / PER_CALL;
		if (call_pt[k] == 0)
			call_pt[k] = r->h.publish_time_ns;
		assert_int_equal(r->h.publish_time_ns, call_pt[k]);
	}
	assert_int_equal(j, want);
	for (unsigned k = 0; k < CALLS; k++) {
		assert_true(call_pt[k] > 0);
		if (k > 0)
			assert_true(call_pt[k] >= call_pt[k - 1]);
	}
	struct tu_sink rest;
	tu_sink_init(&rest, 4);
	assert_int_equal(tu_drain(c, &rest), 0); /* the thread took all */
	tu_sink_free(&rest);

	struct shmbus_producer_stat ps = tu_env_prod_stat(&e);
	assert_int_equal(ps.published, N);
	assert_int_equal(ps.delivered, want);
	assert_int_equal(ps.unrouted, N - want);
	assert_int_equal(ps.dropped, 0);
	assert_int_equal(ps.last_seq, N);
	struct shmbus_ring_stat rs = ring_stat(&e, "wrap");
	assert_int_equal(rs.claimed, want);
	assert_int_equal(rs.consumed, want);
	assert_int_equal(rs.depth, 0);
	assert_int_equal(rs.dropped, 0);
	assert_int_equal(rs.routed_around, 0);
	tu_sink_free(&d.sink);
	batch_free(&b);
	shmbus_consumer_close(c);
	tu_env_close(&e);
}

static void test_batch_wraps_small_ring_with_drainer(void **state)
{
	run_wrap_with_drainer(false);
}

static void test_batch_wraps_filtered_ring_with_drainer(void **state)
{
	run_wrap_with_drainer(true);
}

/* ---- identity and time ---- */

/* seq 0: assigned (this source, next seqs in array order); seq set: kept
 * with its source; a mix in one call, across chunks of each kind. A ring
 * of half the symbols sees the same identities as the catch-all one. */
static void test_batch_identity_assigned_kept_mixed(void **state)
{
	enum { A = 10, K = 10, M = 130, N = A + K + M };
	struct tu_env e;
	tu_env_open(&e);
	uint32_t odd_syms[] = {e.sym[1], e.sym[3], e.sym[5]};
	shmbus_consumer *all = sub(&e, "all", 1024, 128, SHMBUS_POLICY_BLOCK, 0);
	struct shmbus_sub_opts so;
	tu_sub_opts(&so, 1024, 128, SHMBUS_POLICY_BLOCK);
	so.symbols = odd_syms;
	so.nsymbols = 3;
	shmbus_consumer *some = tu_env_sub(&e, "some", &so);
	struct batch b;
	batch_init(&b, N);
	uint64_t seq[N];
	uint32_t src[N];
	for (unsigned i = 0; i < N; i++)
		batch_trade(&b, i, e.sym[1 + i % 6]);
	/* call 1: all assigned */
	for (unsigned i = 0; i < A; i++) {
		seq[i] = i + 1;
		src[i] = SRC;
	}
	/* call 2: all kept */
	for (unsigned i = A; i < A + K; i++) {
		b.ev[i].h.source_id = 77;
		b.ev[i].h.seq = 500 + i;
		seq[i] = 500 + i;
		src[i] = 77;
	}
	/* call 3: a chunk all assigned, a mixed chunk, a short chunk all kept */
	uint64_t next = A + 1;
	for (unsigned i = A + K; i < N; i++) {
		unsigned r = i - (A + K);
		bool keep = (r >= 64 && r < 128 && r % 3 == 0) || r >= 128;
		if (keep) {
			b.ev[i].h.source_id = 78;
			b.ev[i].h.seq = 9000 + i;
			seq[i] = 9000 + i;
			src[i] = 78;
		} else {
			seq[i] = next++;
			src[i] = SRC;
		}
	}
	unsigned want_some = 0;
	for (unsigned i = 0; i < N; i++)
		want_some += i % 6 == 0 || i % 6 == 2 || i % 6 == 4;

	assert_int_equal(shmbus_publish_batch(e.p, b.ptr, A), A + A / 2);
	assert_int_equal(shmbus_producer_last_seq(e.p), A);
	assert_int_equal(shmbus_publish_batch(e.p, b.ptr + A, K), K + K / 2);
	assert_int_equal(shmbus_producer_last_seq(e.p), A); /* kept: none taken */
	int rc = shmbus_publish_batch(e.p, b.ptr + A + K, M);
	assert_int_equal(rc, M + (want_some - A / 2 - K / 2));
	assert_int_equal(shmbus_producer_last_seq(e.p), next - 1);
	struct shmbus_producer_stat ps = tu_env_prod_stat(&e);
	assert_int_equal(ps.last_seq, next - 1);
	assert_int_equal(ps.published, N);

	struct tu_sink s;
	tu_sink_init(&s, N + 1);
	assert_int_equal(tu_drain(all, &s), N);
	for (unsigned i = 0; i < N; i++)
		check_event(&s.ev[i], &b.ev[i], src[i], seq[i]);
	s.n = 0;
	assert_int_equal(tu_drain(some, &s), want_some);
	unsigned j = 0;
	for (unsigned i = 0; i < N; i++) {
		if (i % 2 != 0)
			continue;
		assert_int_equal(input_index(&s.ev[j]), i);
		check_event(&s.ev[j++], &b.ev[i], src[i], seq[i]);
	}
	/* a later one-by-one publish goes on from the batch's last seq */
	struct shmbus_trade t = tu_trade(e.sym[2], 1.0);
	assert_int_equal(shmbus_publish(e.p, &t), 1);
	assert_int_equal(shmbus_producer_last_seq(e.p), next);
	tu_sink_free(&s);
	batch_free(&b);
	shmbus_consumer_close(all);
	shmbus_consumer_close(some);
	tu_env_close(&e);
}

/* SHMBUS_PRODUCER_NO_TIMESTAMP: each event keeps its own publish time, in
 * a ring taking everything and in a filtered one; identity still assigned. */
static void test_batch_no_timestamp_keeps_publish_time(void **state)
{
	enum { N = 70 };
	struct tu_env e;
	tu_env_open_flags(&e, SHMBUS_PRODUCER_NO_TIMESTAMP);
	uint32_t s1[] = {e.sym[1]};
	shmbus_consumer *all = sub(&e, "all", 256, 64, SHMBUS_POLICY_BLOCK, 0);
	struct shmbus_sub_opts so;
	tu_sub_opts(&so, 256, 64, SHMBUS_POLICY_BLOCK);
	so.symbols = s1;
	so.nsymbols = 1;
	shmbus_consumer *one = tu_env_sub(&e, "s1", &so);
	struct batch b;
	batch_init(&b, N);
	for (unsigned i = 0; i < N; i++) {
		batch_trade(&b, i, e.sym[1 + i % 2]);
		b.ev[i].h.publish_time_ns = 5000 + 3 * (int64_t)i;
	}
	assert_int_equal(shmbus_publish_batch(e.p, b.ptr, N), N + N / 2);
	struct tu_sink s;
	tu_sink_init(&s, N + 1);
	assert_int_equal(tu_drain(all, &s), N);
	for (unsigned i = 0; i < N; i++) {
		check_event(&s.ev[i], &b.ev[i], SRC, i + 1);
		assert_int_equal(s.ev[i].h.publish_time_ns, 5000 + 3 * (int64_t)i);
	}
	s.n = 0;
	assert_int_equal(tu_drain(one, &s), N / 2);
	for (unsigned j = 0; j < N / 2; j++) {
		check_event(&s.ev[j], &b.ev[2 * j], SRC, 2 * j + 1);
		assert_int_equal(s.ev[j].h.publish_time_ns, 5000 + 6 * (int64_t)j);
	}
	tu_sink_free(&s);
	batch_free(&b);
	shmbus_consumer_close(all);
	shmbus_consumer_close(one);
	tu_env_close(&e);
}

/* ---- rejected input ---- */

/* Nothing was published by a rejected call: same ring and producer
 * counters as before it. */
static void expect_unchanged(const struct tu_env *e, uint64_t published, uint64_t claimed)
{
	struct shmbus_producer_stat ps = tu_env_prod_stat(e);
	assert_int_equal(ps.published, published);
	assert_int_equal(ps.delivered, claimed);
	assert_int_equal(ps.unrouted, 0);
	assert_int_equal(ps.last_seq, published);
	assert_int_equal(shmbus_producer_last_seq(e->p), published);
	struct shmbus_ring_stat rs = ring_stat(e, "all");
	assert_int_equal(rs.claimed, claimed);
	assert_int_equal(rs.too_big, 0);
}

/* Call the batch, expect `code` and an error message naming `what`. */
static void expect_rejected(struct tu_env *e, const void *const *evs, unsigned n, int code,
                            const char *what)
{
	int rc = shmbus_publish_batch(e->p, evs, n);
	const char *msg = shmbus_errmsg();
	if (rc != code)
		fail_msg("batch returned %d (%s), want %d", rc, shmbus_strerror(rc), code);
	if (what != NULL && strstr(msg, what) == NULL)
		fail_msg("errmsg \"%s\" does not name \"%s\"", msg, what);
	expect_unchanged(e, 2, 2);
}

/* A malformed header anywhere in the batch rejects all of it, naming the
 * index; bad arguments and an open claim are refused; n 0 does nothing. */
static void test_batch_rejects_bad_input_publishing_nothing(void **state)
{
	struct tu_env e;
	tu_env_open(&e);
	shmbus_consumer *c = sub(&e, "all", 256, 256, SHMBUS_POLICY_BLOCK, 0);
	struct batch b;
	batch_init(&b, 5);
	for (unsigned i = 0; i < 5; i++)
		batch_trade(&b, i, e.sym[1]);
	assert_int_equal(shmbus_publish_batch(e.p, b.ptr, 2), 2); /* seq 1, 2 */
	expect_unchanged(&e, 2, 2);

	const void *p[5];
	memcpy(p, b.ptr, sizeof p);
	p[3] = NULL;
	expect_rejected(&e, p, 5, -EINVAL, "event 3");

	batch_trade(&b, 2, e.sym[1]);
	b.ev[2].h.type = SHMBUS_EV_INVALID;
	expect_rejected(&e, b.ptr, 5, -EINVAL, "event 2");
	batch_trade(&b, 2, e.sym[1]);

	b.ev[0].h.type = SHMBUS_MAX_TYPES;
	expect_rejected(&e, b.ptr, 5, -EINVAL, "event 0");
	batch_trade(&b, 0, e.sym[1]);

	b.ev[1].h.size = sizeof(struct shmbus_event_header) - 1;
	expect_rejected(&e, b.ptr, 5, -EINVAL, "event 1");
	batch_trade(&b, 1, e.sym[1]);

	batch_event(&b, 4, USER_TYPE, e.sym[1], SHMBUS_EVENT_MAX);
	b.ev[4].h.size = SHMBUS_EVENT_MAX + 1; /* only the header is read */
	expect_rejected(&e, b.ptr, 5, SHMBUS_ETOOBIG, "event 4");

	expect_rejected(&e, NULL, 1, -EINVAL, NULL);
	assert_int_equal(shmbus_publish_batch(NULL, b.ptr, 1), -EINVAL);
	expect_unchanged(&e, 2, 2);

	/* n 0: nothing, not an error, with or without an array */
	assert_int_equal(shmbus_publish_batch(e.p, b.ptr, 0), 0);
	assert_int_equal(shmbus_publish_batch(e.p, NULL, 0), 0);
	expect_unchanged(&e, 2, 2);

	/* an open claim: refused; after the commit the batch goes through */
	void *mem;
	assert_int_equal(
	    shmbus_claim(e.p, SHMBUS_EV_TRADE, e.sym[2], sizeof(struct shmbus_trade), &mem), 0);
	((struct shmbus_trade *)mem)->price = 42.0;
	batch_trade(&b, 4, e.sym[1]);
	assert_int_equal(shmbus_publish_batch(e.p, b.ptr, 5), -EINVAL);
	struct shmbus_producer_stat ps = tu_env_prod_stat(&e);
	assert_int_equal(ps.published, 2);
	assert_int_equal(shmbus_producer_last_seq(e.p), 3); /* the claim's */
	assert_int_equal(shmbus_commit(e.p), 1);

	/* the extremes of a valid header are accepted */
	batch_event(&b, 1, SHMBUS_MAX_TYPES - 1, e.sym[1], sizeof(struct shmbus_event_header));
	batch_event(&b, 3, USER_TYPE, e.sym[1], SHMBUS_EVENT_MAX);
	assert_int_equal(shmbus_publish_batch(e.p, b.ptr, 5), 5);

	struct tu_sink s;
	tu_sink_init(&s, 16);
	assert_int_equal(tu_drain(c, &s), 8);
	assert_int_equal(s.ev[0].h.seq, 1);
	assert_int_equal(s.ev[1].h.seq, 2);
	assert_int_equal(s.ev[2].h.seq, 3);
	assert_true(((const struct shmbus_trade *)(const void *)s.ev[2].bytes)->price == 42.0);
	for (unsigned i = 0; i < 5; i++)
		check_event(&s.ev[3 + i], &b.ev[i], SRC, 4 + i);
	ps = tu_env_prod_stat(&e);
	assert_int_equal(ps.published, 8);
	assert_int_equal(ps.delivered, 8);
	assert_int_equal(ps.last_seq, 8);
	tu_sink_free(&s);
	batch_free(&b);
	shmbus_consumer_close(c);
	tu_env_close(&e);
}

/* 65536 events in one call (1024 chunks) reach a ring that holds them;
 * 65537 are refused whole. */
static void test_batch_limit_65536(void **state)
{
	enum { MAX = 65536 };
	struct tu_env e;
	tu_env_open(&e);
	shmbus_consumer *c = sub(&e, "big", MAX, 64, SHMBUS_POLICY_BLOCK, 0);
	struct shmbus_trade *t = calloc(MAX + 1, sizeof *t);
	const void **p = calloc(MAX + 1, sizeof *p);
	assert_non_null(t);
	assert_non_null(p);
	for (unsigned i = 0; i <= MAX; i++) {
		t[i] = tu_trade(e.sym[1 + i % NSYM], i);
		p[i] = &t[i];
	}
	assert_int_equal(shmbus_publish_batch(e.p, p, MAX + 1), -EINVAL);
	struct shmbus_producer_stat ps = tu_env_prod_stat(&e);
	assert_int_equal(ps.published, 0);
	assert_int_equal(shmbus_producer_last_seq(e.p), 0);
	assert_int_equal(ring_stat(&e, "big").claimed, 0);

	assert_int_equal(shmbus_publish_batch(e.p, p, MAX), MAX);
	ps = tu_env_prod_stat(&e);
	assert_int_equal(ps.published, MAX);
	assert_int_equal(ps.delivered, MAX);
	assert_int_equal(ps.last_seq, MAX);
	struct tu_sink s;
	tu_sink_init(&s, MAX + 1);
	assert_int_equal(tu_drain(c, &s), MAX);
	for (unsigned i = 0; i < MAX; i++) {
		const struct shmbus_trade *r = (const void *)s.ev[i].bytes;
		if (r->h.seq != i + 1 || r->price != (double)i ||
		    r->h.symbol_id != e.sym[1 + i % NSYM])
			fail_msg("event %u: seq %llu price %g", i, (unsigned long long)r->h.seq,
			         r->price);
	}
	tu_sink_free(&s);
	free(t);
	free(p);
	shmbus_consumer_close(c);
	tu_env_close(&e);
}

int main(void)
{
	alarm(240); /* a hang is a failure, not a stuck CI job */
	const struct CMUnitTest tests[] = {
	    TU_TEST(test_batch_one_ring_in_order),
	    TU_TEST(test_batch_chunk_and_run_boundaries),
	    TU_TEST(test_batch_wraps_small_ring_with_drainer),
	    TU_TEST(test_batch_wraps_filtered_ring_with_drainer),
	    TU_TEST(test_batch_identity_assigned_kept_mixed),
	    TU_TEST(test_batch_no_timestamp_keeps_publish_time),
	    TU_TEST(test_batch_rejects_bad_input_publishing_nothing),
	    TU_TEST(test_batch_limit_65536),
	};
	return cmocka_run_group_tests_name("batch", tests, NULL, NULL);
}
