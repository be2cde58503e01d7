/*
 * test_ring.c - one ring, seen through the public API: subscribe, publish,
 * claim/commit, poll, wait, full-ring policies and their counters.
 *
 * Each test subscribes one small ring on a fresh anonymous or named bus
 * and checks what the consumer sees and what shmbus_stat_* counts. Tests
 * with a second thread keep cmocka asserts in the main thread only.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <pthread.h>
#include <sched.h>

#include "ring/test_util.h"

/* Bus + one ring + one producer, the common fixture of this file. */
struct rig {
	shmbus_bus *bus;
	shmbus_consumer *c;
	shmbus_producer *p;
};

static void rig_open(struct rig *r, const char *ring, const struct shmbus_sub_opts *so)
{
	memset(r, 0, sizeof *r);
	assert_int_equal(tu_bus_create("ringbus", 8, &r->bus), 0);
	int rc = shmbus_subscribe(r->bus, ring, so, &r->c);
	if (rc != 0)
		fail_msg("subscribe %s: %s (%s)", ring, shmbus_strerror(rc), shmbus_errmsg());
	struct shmbus_producer_opts po;
	shmbus_producer_opts_init(&po);
	po.source_id = 7;
	assert_int_equal(shmbus_producer_open(r->bus, &po, &r->p), 0);
}

static void rig_close(struct rig *r)
{
	if (r->p)
		shmbus_producer_close(r->p);
	if (r->c)
		shmbus_consumer_close(r->c);
	assert_int_equal(shmbus_bus_close(r->bus), 0);
	assert_int_equal(shmbus_bus_destroy("ringbus"), 0);
}

static void rig_ring_stat(struct rig *r, struct shmbus_ring_stat *rs)
{
	assert_int_equal(shmbus_stat_ring(r->bus, shmbus_consumer_ring(r->c), rs), 0);
}

static void publish_trade(shmbus_producer *p, uint32_t sym, double price, int want)
{
	struct shmbus_trade t = tu_trade(sym, price);
	assert_int_equal(shmbus_publish(p, &t), want);
}

/* Events come out in publish order with seq 1, 2, ... and their payload. */
static void test_ring_publish_poll_order(void **state)
{
	struct rig r;
	struct shmbus_sub_opts so;
	tu_sub_opts(&so, 64, 64, SHMBUS_POLICY_BLOCK);
	rig_open(&r, "order", &so);
	for (int i = 0; i < 20; i++)
		publish_trade(r.p, 3, 100.0 + i, 1);
	assert_int_equal(shmbus_producer_last_seq(r.p), 20);
	assert_int_equal(shmbus_producer_source(r.p), 7);

	struct tu_sink s;
	tu_sink_init(&s, 64);
	assert_int_equal(tu_drain(r.c, &s), 20);
	for (int i = 0; i < 20; i++) {
		const struct shmbus_trade *t = (const void *)s.ev[i].bytes;
		assert_int_equal(t->h.type, SHMBUS_EV_TRADE);
		assert_int_equal(t->h.size, sizeof *t);
		assert_int_equal(t->h.symbol_id, 3);
		assert_int_equal(t->h.source_id, 7);
		assert_int_equal(t->h.seq, (uint64_t)i + 1);
		assert_true(t->price == 100.0 + i);
	}
	assert_int_equal(shmbus_poll(r.c, tu_sink_fn, &s, 64), 0);
	struct shmbus_ring_stat rs;
	rig_ring_stat(&r, &rs);
	assert_int_equal(rs.delivered, 20);
	assert_int_equal(rs.depth, 0);
	assert_int_equal(rs.dropped, 0);
	tu_sink_free(&s);
	rig_close(&r);
}

/* A capacity-8 ring carries 1000 events in order across many wraps. */
static void test_ring_wrap_around(void **state)
{
	struct rig r;
	struct shmbus_sub_opts so;
	tu_sub_opts(&so, 8, 64, SHMBUS_POLICY_BLOCK);
	rig_open(&r, "wrap", &so);
	struct tu_sink s;
	tu_sink_init(&s, 1000);
	int sent = 0;
	while (sent < 1000) {
		int burst = 1 + sent % 8; /* 1..8: every fill level, never over */
		int k = 0;
		for (; k < burst && sent < 1000; k++, sent++)
			publish_trade(r.p, 1, sent, 1);
		assert_int_equal(tu_drain(r.c, &s), (size_t)k);
	}
	assert_int_equal(s.n, 1000);
	for (size_t i = 0; i < s.n; i++) {
		assert_int_equal(s.ev[i].h.seq, i + 1);
		assert_true(((const struct shmbus_trade *)(const void *)s.ev[i].bytes)->price ==
		            (double)i);
	}
	struct shmbus_ring_stat rs;
	rig_ring_stat(&r, &rs);
	assert_int_equal(rs.capacity, 8);
	assert_int_equal(rs.claimed, 1000);
	assert_int_equal(rs.consumed, 1000);
	assert_int_equal(rs.depth, 0);
	tu_sink_free(&s);
	rig_close(&r);
}

/* poll delivers at most `max` events per call. */
static void test_ring_batch_poll_max(void **state)
{
	struct rig r;
	struct shmbus_sub_opts so;
	tu_sub_opts(&so, 16, 64, SHMBUS_POLICY_BLOCK);
	rig_open(&r, "batch", &so);
	for (int i = 0; i < 10; i++)
		publish_trade(r.p, 1, i, 1);
	struct tu_sink s;
	tu_sink_init(&s, 16);
	assert_int_equal(shmbus_poll(r.c, tu_sink_fn, &s, 3), 3);
	assert_int_equal(shmbus_poll(r.c, tu_sink_fn, &s, 3), 3);
	assert_int_equal(shmbus_poll(r.c, tu_sink_fn, &s, 3), 3);
	assert_int_equal(shmbus_poll(r.c, tu_sink_fn, &s, 3), 1);
	assert_int_equal(shmbus_poll(r.c, tu_sink_fn, &s, 3), 0);
	assert_int_equal(s.n, 10);
	for (size_t i = 0; i < s.n; i++)
		assert_int_equal(s.ev[i].h.seq, i + 1);
	tu_sink_free(&s);
	rig_close(&r);
}

/* Capacity 4 under drop: 10 published, 4 delivered, 6 counted dropped. */
static void test_ring_full_drop_counts(void **state)
{
	struct rig r;
	struct shmbus_sub_opts so;
	tu_sub_opts(&so, 4, 64, SHMBUS_POLICY_DROP);
	rig_open(&r, "drop", &so);
	for (int i = 0; i < 10; i++)
		publish_trade(r.p, 1, i, i < 4 ? 1 : 0);
	struct shmbus_ring_stat rs;
	rig_ring_stat(&r, &rs);
	assert_int_equal(rs.depth, 4);
	assert_int_equal(rs.dropped, 6);

	struct tu_sink s;
	tu_sink_init(&s, 16);
	assert_int_equal(tu_drain(r.c, &s), 4);
	for (size_t i = 0; i < 4; i++)
		assert_int_equal(s.ev[i].h.seq, i + 1);
	rig_ring_stat(&r, &rs);
	assert_int_equal(rs.delivered, 4);
	assert_int_equal(rs.dropped, 6);
	assert_int_equal(rs.policy, SHMBUS_POLICY_DROP);

	struct shmbus_producer_stat ps;
	assert_true(tu_producer_stat(r.bus, 7, getpid(), &ps) >= 0);
	assert_int_equal(ps.published, 10);
	assert_int_equal(ps.delivered, 4);
	assert_int_equal(ps.dropped, 6);
	assert_int_equal(ps.unrouted, 0);
	assert_int_equal(ps.last_seq, 10);

	/* room again: the next event goes through */
	publish_trade(r.p, 1, 99, 1);
	assert_int_equal(tu_drain(r.c, &s), 1);
	assert_int_equal(s.ev[4].h.seq, 11);
	tu_sink_free(&s);
	rig_close(&r);
}

struct drain_arg {
	shmbus_consumer *c;
	size_t want;
	struct tu_sink sink;
	atomic_int fail;
};

static void *drain_thread(void *arg)
{
	struct drain_arg *d = arg;
	int64_t end = tu_mono_ms() + 60000;
	while (d->sink.n < d->want && tu_mono_ms() < end) {
		/* max 1: the slowest consumer, the ring stays full */
		if (shmbus_poll(d->c, tu_sink_fn, &d->sink, 1) == 0) {
			int rc = shmbus_wait(d->c, 10000000);
			TU_THREAD_CHECK(&d->fail, rc == 0 || rc == SHMBUS_ETIMEDOUT);
		}
	}
	return NULL;
}

/* Capacity 4 under block with a draining thread: nothing lost. */
static void test_ring_full_block_lossless(void **state)
{
	enum { N = 20000 };
	struct rig r;
	struct shmbus_sub_opts so;
	tu_sub_opts(&so, 4, 64, SHMBUS_POLICY_BLOCK);
	rig_open(&r, "block", &so);
	struct drain_arg d = {.c = r.c, .want = N};
	tu_sink_init(&d.sink, N);
	atomic_init(&d.fail, 0);
	pthread_t th;
	assert_int_equal(pthread_create(&th, NULL, drain_thread, &d), 0);
	for (int i = 0; i < N; i++) {
		struct shmbus_trade t = tu_trade(1, i);
		int rc = shmbus_publish(r.p, &t);
		if (rc != 1) {
			pthread_join(th, NULL);
			fail_msg("publish %d returned %d", i, rc);
		}
	}
	pthread_join(th, NULL);
	assert_int_equal(atomic_load(&d.fail), 0);
	assert_int_equal(d.sink.n, N);
	for (size_t i = 0; i < N; i++) {
		if (d.sink.ev[i].h.seq != i + 1)
			fail_msg("event %zu has seq %llu", i,
			         (unsigned long long)d.sink.ev[i].h.seq);
	}
	struct shmbus_ring_stat rs;
	rig_ring_stat(&r, &rs);
	assert_int_equal(rs.dropped, 0);
	assert_int_equal(rs.delivered, N);
	tu_sink_free(&d.sink);
	rig_close(&r);
}

/*
 * A producer waiting on a full `block` ring whose consumer unsubscribes,
 * and whose directory entry a new ring takes at once (a consumer that
 * subscribes again with other options), routes around the freed ring. It
 * waited on the old ring's header: where the new ring lies elsewhere
 * (new_cap 64 does not fit the freed bytes) nothing ever moved there
 * again, and the new ring's live consumer kept the liveness check happy,
 * so the producer waited for ever; where the new ring took the same bytes
 * (new_cap 4) the producer claimed in it and delivered a trade to a ring
 * that takes only quotes.
 */
static void check_blocked_producer_leaves_freed_ring(uint32_t new_cap)
{
	shmbus_bus *bus;
	assert_int_equal(tu_bus_create(NULL, 8, &bus), 0);
	struct shmbus_sub_opts so;
	tu_sub_opts(&so, 4, 64, SHMBUS_POLICY_BLOCK);
	so.types = SHMBUS_TYPE_BIT(SHMBUS_EV_TRADE);
	shmbus_consumer *a, *x, *b;
	assert_int_equal(shmbus_subscribe(bus, "a", &so, &a), 0);
	so.types = SHMBUS_TYPE_BIT(SHMBUS_EV_QUOTE);
	assert_int_equal(shmbus_subscribe(bus, "x", &so, &x), 0); /* a's neighbour */
	uint32_t index = shmbus_consumer_ring(a);
	fflush(NULL);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		shmbus_producer *p;
		TU_CHILD_CHECK(shmbus_producer_open(bus, NULL, &p) == 0);
		for (int i = 0; i < 4; i++) {
			struct shmbus_trade t = tu_trade(1, i);
			TU_CHILD_CHECK(shmbus_publish(p, &t) == 1);
		}
		struct shmbus_trade t = tu_trade(1, 4);
		_exit(shmbus_publish(p, &t)); /* waits: the ring is full */
	}
	struct shmbus_ring_stat rs = {0};
	for (int64_t end = tu_mono_ms() + 5000; rs.producer_waits == 0 && tu_mono_ms() < end;) {
		tu_sleep_us(1000);
		assert_int_equal(shmbus_stat_ring(bus, index, &rs), 0);
	}
	assert_int_equal(rs.producer_waits, 1);
	assert_int_equal(shmbus_unsubscribe(a), 0);
	so.capacity = new_cap;
	assert_int_equal(shmbus_subscribe(bus, "b", &so, &b), 0);
	assert_int_equal(shmbus_consumer_ring(b), index); /* a's entry */
	int status = 0;
	if (tu_wait_child(pid, 5000, &status) != 0)
		fail_msg("new ring of %u slots: the producer still waits after 5 s", new_cap);
	assert_true(tu_exited_ok(status)); /* delivered to no ring */
	struct tu_sink s;
	tu_sink_init(&s, 8);
	assert_int_equal(tu_drain(b, &s), 0);
	tu_sink_free(&s);
	shmbus_consumer_close(b);
	shmbus_consumer_close(x);
	assert_int_equal(shmbus_bus_close(bus), 0);
}

static void test_ring_blocked_producer_leaves_freed_ring(void **state)
{
	check_blocked_producer_leaves_freed_ring(64);
	check_blocked_producer_leaves_freed_ring(4);
}

/* claim fills the header; commit makes the event visible; seq from 1. */
static void test_ring_claim_commit_header(void **state)
{
	struct rig r;
	struct shmbus_sub_opts so;
	tu_sub_opts(&so, 16, 64, SHMBUS_POLICY_BLOCK);
	rig_open(&r, "claim", &so);
	struct tu_sink s;
	tu_sink_init(&s, 16);
	for (uint64_t i = 1; i <= 3; i++) {
		void *mem = NULL;
		assert_int_equal(
		    shmbus_claim(r.p, SHMBUS_EV_TRADE, 42, sizeof(struct shmbus_trade), &mem), 0);
		assert_non_null(mem);
		struct shmbus_trade *t = mem;
		assert_int_equal(t->h.type, SHMBUS_EV_TRADE);
		assert_int_equal(t->h.size, sizeof *t);
		assert_int_equal(t->h.symbol_id, 42);
		assert_int_equal(t->h.source_id, 7);
		assert_int_equal(t->h.seq, i);
		assert_int_equal(t->h.version, SHMBUS_EVENT_LAYOUT_VERSION);
		t->h.event_time_ns = 1000 + (int64_t)i;
		t->price = 1.5 * (double)i;
		t->size = 2.0;
		/* not visible before commit */
		assert_int_equal(shmbus_poll(r.c, tu_sink_fn, &s, 16), 0);
		int64_t before = shmbus_now_ns();
		assert_int_equal(shmbus_commit(r.p), 1);
		int64_t after = shmbus_now_ns();
		assert_int_equal(shmbus_poll(r.c, tu_sink_fn, &s, 16), 1);
		const struct shmbus_trade *got = (const void *)s.ev[i - 1].bytes;
		assert_int_equal(got->h.seq, i);
		assert_int_equal(got->h.event_time_ns, 1000 + (int64_t)i);
		assert_in_range(got->h.publish_time_ns, before, after);
		assert_true(got->price == 1.5 * (double)i);
	}
	assert_int_equal(shmbus_producer_last_seq(r.p), 3);
	/* commit without a claim */
	assert_int_equal(shmbus_commit(r.p), -EINVAL);
	tu_sink_free(&s);
	rig_close(&r);
}

/* claim refuses bad types and sizes, and a second open claim. */
static void test_ring_claim_bad_args(void **state)
{
	struct rig r;
	struct shmbus_sub_opts so;
	tu_sub_opts(&so, 16, 256, SHMBUS_POLICY_BLOCK);
	rig_open(&r, "claimbad", &so);
	void *mem = NULL;
	assert_int_equal(shmbus_claim(r.p, SHMBUS_EV_INVALID, 1, 56, &mem), -EINVAL);
	assert_int_equal(shmbus_claim(r.p, SHMBUS_MAX_TYPES, 1, 56, &mem), -EINVAL);
	assert_true(shmbus_claim(r.p, SHMBUS_EV_USER, 1, 39, &mem) < 0); /* < header */
	assert_int_equal(shmbus_claim(r.p, SHMBUS_EV_USER, 1, SHMBUS_EVENT_MAX + 1, &mem),
	                 SHMBUS_ETOOBIG);
	assert_int_equal(shmbus_claim(r.p, SHMBUS_EV_USER, 1, 64, &mem), 0);
	void *mem2 = NULL;
	assert_int_equal(shmbus_claim(r.p, SHMBUS_EV_USER, 1, 64, &mem2), -EALREADY);
	assert_int_equal(shmbus_commit(r.p), 1);
	/* a header-less publish is malformed */
	uint8_t buf[64];
	tu_event(buf, SHMBUS_EV_USER, 1, 16);
	assert_true(shmbus_publish(r.p, buf) < 0);
	tu_event(buf, SHMBUS_EV_INVALID, 1, 56);
	assert_int_equal(shmbus_publish(r.p, buf), -EINVAL);
	tu_event(buf, SHMBUS_MAX_TYPES, 1, 56);
	assert_int_equal(shmbus_publish(r.p, buf), -EINVAL);
	struct tu_sink s;
	tu_sink_init(&s, 4);
	assert_int_equal(tu_drain(r.c, &s), 1);
	assert_int_equal(s.ev[0].h.size, 64);
	tu_sink_free(&s);
	rig_close(&r);
}

/* 56 bytes fit a 64-byte slot; 57 are counted too_big and not delivered. */
static void test_ring_too_big_counted(void **state)
{
	struct rig r;
	struct shmbus_sub_opts so;
	tu_sub_opts(&so, 16, 64, SHMBUS_POLICY_BLOCK);
	rig_open(&r, "big", &so);
	uint8_t buf[SHMBUS_EVENT_MAX];
	tu_event(buf, SHMBUS_EV_USER, 1, 56);
	assert_int_equal(shmbus_publish(r.p, buf), 1);
	tu_event(buf, SHMBUS_EV_USER, 1, 57);
	int rc = shmbus_publish(r.p, buf);
	assert_true(rc == 0 || rc == SHMBUS_ETOOBIG);
	struct shmbus_quote q;
	tu_event(&q, SHMBUS_EV_QUOTE, 1, sizeof q);
	rc = shmbus_publish(r.p, &q);
	assert_true(rc == 0 || rc == SHMBUS_ETOOBIG);
	struct shmbus_ring_stat rs;
	rig_ring_stat(&r, &rs);
	assert_int_equal(rs.too_big, 2);
	struct tu_sink s;
	tu_sink_init(&s, 8);
	assert_int_equal(tu_drain(r.c, &s), 1);
	assert_int_equal(s.ev[0].h.size, 56);
	tu_sink_free(&s);
	rig_close(&r);
}

/* A ring flagged single-producer delivers one producer's events in order. */
static void test_ring_single_producer_flag(void **state)
{
	struct rig r;
	struct shmbus_sub_opts so;
	tu_sub_opts(&so, 8, 128, SHMBUS_POLICY_BLOCK);
	so.flags = SHMBUS_SUB_SINGLE_PRODUCER;
	rig_open(&r, "sp", &so);
	struct tu_sink s;
	tu_sink_init(&s, 500);
	for (int i = 0; i < 500; i++) {
		if (i % 2) {
			publish_trade(r.p, 1, i, 1);
		} else {
			void *mem;
			assert_int_equal(
			    shmbus_claim(r.p, SHMBUS_EV_BAR, 2, sizeof(struct shmbus_bar), &mem),
			    0);
			((struct shmbus_bar *)mem)->close = i;
			assert_int_equal(shmbus_commit(r.p), 1);
		}
		if (i % 5 == 4)
			tu_drain(r.c, &s);
	}
	tu_drain(r.c, &s);
	assert_int_equal(s.n, 500);
	for (size_t i = 0; i < s.n; i++) {
		assert_int_equal(s.ev[i].h.seq, i + 1);
		assert_int_equal(s.ev[i].h.type, i % 2 ? SHMBUS_EV_TRADE : SHMBUS_EV_BAR);
	}
	struct shmbus_ring_stat rs;
	rig_ring_stat(&r, &rs);
	assert_true(rs.flags & SHMBUS_SUB_SINGLE_PRODUCER);
	tu_sink_free(&s);
	rig_close(&r);
}

/* seq != 0 keeps (source, seq); NO_TIMESTAMP keeps publish_time_ns. */
static void test_ring_publish_keeps_identity(void **state)
{
	struct rig r;
	struct shmbus_sub_opts so;
	tu_sub_opts(&so, 16, 64, SHMBUS_POLICY_BLOCK);
	rig_open(&r, "ident", &so);
	struct shmbus_trade t = tu_trade(5, 1.0);
	t.h.source_id = 4242;
	t.h.seq = 777;
	t.h.flags = SHMBUS_EVF_REPLAYED;
	t.h.event_time_ns = 123456789;
	int64_t before = shmbus_now_ns();
	assert_int_equal(shmbus_publish(r.p, &t), 1);
	int64_t after = shmbus_now_ns();
	publish_trade(r.p, 5, 2.0, 1); /* seq 0: the producer's own identity */

	struct shmbus_producer_opts po;
	shmbus_producer_opts_init(&po);
	po.source_id = 8;
	po.flags = SHMBUS_PRODUCER_NO_TIMESTAMP;
	shmbus_producer *p2;
	assert_int_equal(shmbus_producer_open(r.bus, &po, &p2), 0);
	struct shmbus_trade t2 = tu_trade(5, 3.0);
	t2.h.publish_time_ns = 5555;
	assert_int_equal(shmbus_publish(p2, &t2), 1);
	shmbus_producer_close(p2);

	struct tu_sink s;
	tu_sink_init(&s, 8);
	assert_int_equal(tu_drain(r.c, &s), 3);
	assert_int_equal(s.ev[0].h.source_id, 4242);
	assert_int_equal(s.ev[0].h.seq, 777);
	assert_int_equal(s.ev[0].h.flags, SHMBUS_EVF_REPLAYED);
	assert_int_equal(s.ev[0].h.event_time_ns, 123456789);
	assert_in_range(s.ev[0].h.publish_time_ns, before, after);
	assert_int_equal(s.ev[1].h.source_id, 7);
	assert_int_equal(s.ev[1].h.seq, 1);
	assert_int_equal(s.ev[2].h.source_id, 8);
	assert_int_equal(s.ev[2].h.seq, 1);
	assert_int_equal(s.ev[2].h.publish_time_ns, 5555);
	tu_sink_free(&s);
	rig_close(&r);
}

/* A zero source id in the options means the pid. */
static void test_ring_default_source_is_pid(void **state)
{
	shmbus_bus *bus;
	assert_int_equal(tu_bus_create(NULL, 4, &bus), 0);
	shmbus_producer *p;
	assert_int_equal(shmbus_producer_open(bus, NULL, &p), 0);
	assert_int_equal(shmbus_producer_source(p), (uint32_t)getpid());
	assert_int_equal(shmbus_producer_last_seq(p), 0);
	shmbus_producer_close(p);
	assert_int_equal(shmbus_bus_close(bus), 0);
}

/* In a child: publish 10 trades as source 78 and die without closing. */
static int publish_and_die(void *arg)
{
	struct shmbus_producer_opts po;
	shmbus_producer *p;
	shmbus_producer_opts_init(&po);
	po.source_id = 78;
	TU_CHILD_CHECK(shmbus_producer_open(arg, &po, &p) == 0);
	for (int i = 0; i < 10; i++) {
		struct shmbus_trade t = tu_trade(1, i);
		TU_CHILD_CHECK(shmbus_publish(p, &t) == 1);
	}
	return 0;
}

/* A source id used again goes on from its last seq (a restarted service
 * that publishes seq 1.. again would collide with its earlier events in
 * the journal, the bridge's checkpoint and brokers' dedup), also when
 * another source opened in between (it took 77's freed slot and cleared
 * its counters: the fault probe found 85646 duplicate identities after a
 * ta restarted before the collector); another source id starts at 1. */
static void test_ring_source_id_reused_goes_on(void **state)
{
	shmbus_bus *bus;
	shmbus_producer *p;
	shmbus_consumer *c;
	struct shmbus_producer_opts po;
	struct shmbus_sub_opts so;
	struct tu_sink s;
	(void)state;
	assert_int_equal(tu_bus_create(NULL, 4, &bus), 0);
	tu_sub_opts(&so, 64, 64, SHMBUS_POLICY_DROP);
	assert_int_equal(shmbus_subscribe(bus, "reuse", &so, &c), 0);
	shmbus_producer_opts_init(&po);
	po.source_id = 77;
	for (int round = 0; round < 2; round++) {
		assert_int_equal(shmbus_producer_open(bus, &po, &p), 0);
		assert_int_equal(shmbus_producer_last_seq(p), (uint64_t)round * 5);
		for (int i = 0; i < 5; i++) {
			struct shmbus_trade t = tu_trade(1, i);
			assert_int_equal(shmbus_publish(p, &t), 1);
		}
		shmbus_producer_close(p);
		/* Another source between the two: it must not take (and clear)
		 * the slot that remembers 77's last seq. */
		struct shmbus_producer_opts other = po;
		other.source_id = 80;
		assert_int_equal(shmbus_producer_open(bus, &other, &p), 0);
		shmbus_producer_close(p);
	}
	/* killed, not closed */
	assert_true(tu_exited_ok(tu_run_in_child(publish_and_die, bus, 10000)));
	po.source_id = 78;
	assert_int_equal(shmbus_producer_open(bus, &po, &p), 0);
	assert_int_equal(shmbus_producer_last_seq(p), 10);
	struct shmbus_trade t = tu_trade(1, 0);
	assert_int_equal(shmbus_publish(p, &t), 1);
	shmbus_producer_close(p);
	po.source_id = 79;
	assert_int_equal(shmbus_producer_open(bus, &po, &p), 0);
	assert_int_equal(shmbus_producer_last_seq(p), 0);
	shmbus_producer_close(p);

	tu_sink_init(&s, 32);
	assert_int_equal(tu_drain(c, &s), 21);
	for (int i = 0; i < 10; i++) {
		assert_int_equal(s.ev[i].h.source_id, 77);
		assert_int_equal(s.ev[i].h.seq, (uint64_t)i + 1);
	}
	assert_int_equal(s.ev[20].h.source_id, 78);
	assert_int_equal(s.ev[20].h.seq, 11);
	tu_sink_free(&s);
	shmbus_consumer_close(c);
	assert_int_equal(shmbus_bus_close(bus), 0);
}

/* In a child: publish one trade as an anonymous source (its pid), then
 * die without closing. */
static int publish_anonymous(void *arg)
{
	shmbus_bus *bus;
	shmbus_producer *p;
	(void)arg;
	TU_CHILD_CHECK(shmbus_bus_open("slots", "anon", SHMBUS_ROLE_PRODUCER, &bus) == 0);
	TU_CHILD_CHECK(shmbus_producer_open(bus, NULL, &p) == 0);
	struct shmbus_trade t = tu_trade(1, 1);
	TU_CHILD_CHECK(shmbus_publish(p, &t) == 1);
	return 0;
}

/* Every producer slot used: a new anonymous source takes the slot another
 * pid-named source left (that source never comes back), not the one that
 * remembers a named source's last seq. It took the first free slot, and a
 * restarted service then published seq 1.. again: duplicate identities
 * for the journal and the bridge's dedup. */
static void test_ring_full_slots_keep_named_source_seq(void **state)
{
	(void)state;
	shmbus_bus *bus;
	shmbus_producer *p;
	shmbus_consumer *c;
	struct shmbus_bus_opts bo;
	struct shmbus_producer_opts po;
	struct shmbus_sub_opts so;
	tu_bus_opts(&bo, 4);
	bo.max_producers = 3;
	assert_int_equal(shmbus_bus_create("slots", &bo, &bus), 0);
	tu_sub_opts(&so, 64, 64, SHMBUS_POLICY_DROP);
	assert_int_equal(shmbus_subscribe(bus, "slots", &so, &c), 0);
	shmbus_producer_opts_init(&po);
	po.source_id = 50;
	assert_int_equal(shmbus_producer_open(bus, &po, &p), 0); /* slot 0 */
	for (int i = 0; i < 3; i++) {
		struct shmbus_trade t = tu_trade(1, i);
		assert_int_equal(shmbus_publish(p, &t), 1);
	}
	shmbus_producer_close(p);
	/* slots 1 and 2, then one of them again (slot 0 is free too) */
	for (int i = 0; i < 3; i++)
		assert_true(tu_exited_ok(tu_run_in_child(publish_anonymous, bus, 10000)));
	assert_int_equal(shmbus_producer_open(bus, &po, &p), 0);
	assert_int_equal(shmbus_producer_last_seq(p), 3);
	shmbus_producer_close(p);
	shmbus_consumer_close(c);
	assert_int_equal(shmbus_bus_close(bus), 0);
	assert_int_equal(shmbus_bus_destroy("slots"), 0);
}

/* Held slots stay taken until released, and a consumer that attaches
 * after the holder closed gets the held events again. */
static void test_ring_hold_and_release(void **state)
{
	shmbus_bus *bus;
	shmbus_producer *p;
	shmbus_consumer *c;
	struct shmbus_sub_opts so;
	struct shmbus_ring_stat rs;
	struct tu_sink s;
	(void)state;
	assert_int_equal(tu_bus_create(NULL, 4, &bus), 0);
	tu_sub_opts(&so, 16, 64, SHMBUS_POLICY_DROP);
	assert_int_equal(shmbus_subscribe(bus, "hold", &so, &c), 0);
	assert_int_equal(shmbus_producer_open(bus, NULL, &p), 0);
	shmbus_consumer_hold(c, 1);
	uint64_t start = shmbus_consumer_position(c);
	for (int i = 0; i < 10; i++) {
		struct shmbus_trade t = tu_trade(1, i);
		assert_int_equal(shmbus_publish(p, &t), 1);
	}
	tu_sink_init(&s, 64);
	assert_int_equal(tu_drain(c, &s), 10);
	assert_int_equal(shmbus_consumer_position(c), start + 10);
	assert_int_equal(tu_ring_stat(bus, "hold", &rs), 0);
	assert_int_equal(rs.depth, 10); /* delivered, still taken */
	int took = 0;
	for (int i = 0; i < 10; i++) {
		struct shmbus_trade t = tu_trade(1, 100 + i);
		took += shmbus_publish(p, &t);
	}
	assert_int_equal(took, 6); /* 16 slots, 10 held */
	assert_int_equal(shmbus_consumer_release(c, start + 17), -EINVAL);
	assert_int_equal(shmbus_consumer_release(c, start + 4), 0);
	assert_int_equal(shmbus_consumer_release(c, start + 3), -EINVAL); /* behind */
	assert_int_equal(tu_ring_stat(bus, "hold", &rs), 0);
	assert_int_equal(rs.depth, 12); /* 6 held + 6 new */
	shmbus_consumer_close(c);       /* dies holding 6 */
	assert_int_equal(shmbus_subscribe(bus, "hold", &so, &c), 0);
	s.n = 0;
	assert_int_equal(tu_drain(c, &s), 12);
	assert_true(((const struct shmbus_trade *)(const void *)s.ev[0].bytes)->price == 4.0);
	assert_int_equal(tu_ring_stat(bus, "hold", &rs), 0);
	assert_int_equal(rs.depth, 0); /* not held: released by the poll */
	tu_sink_free(&s);
	shmbus_producer_close(p);
	shmbus_consumer_close(c);
	assert_int_equal(shmbus_bus_close(bus), 0);
}

/* An anonymous bus with ring `ring` (16 slots, drop) holding four trades
 * of one producer, for the tests of what a handler may do. */
static void four_trades_open(const char *ring, shmbus_bus **bus, shmbus_consumer **c,
			     shmbus_producer **p)
{
	struct shmbus_sub_opts so;
	assert_int_equal(tu_bus_create(NULL, 4, bus), 0);
	tu_sub_opts(&so, 16, 64, SHMBUS_POLICY_DROP);
	assert_int_equal(shmbus_subscribe(*bus, ring, &so, c), 0);
	assert_int_equal(shmbus_producer_open(*bus, NULL, p), 0);
	for (int i = 0; i < 4; i++)
		publish_trade(*p, 1, i, 1);
}

/* c still consumes: one more trade reaches it, exactly once; then close. */
static void one_more_then_close(shmbus_bus *bus, shmbus_consumer *c, shmbus_producer *p)
{
	struct tu_sink s;
	publish_trade(p, 1, 9, 1);
	tu_sink_init(&s, 4);
	assert_int_equal(tu_drain(c, &s), 1);
	tu_sink_free(&s);
	shmbus_producer_close(p);
	shmbus_consumer_close(c);
	assert_int_equal(shmbus_bus_close(bus), 0);
}

/* A handler that polls its own consumer again (to drain "the rest"): the
 * nested poll is refused. It used to deliver the outer batch's events a
 * second time, and the outer poll then published a head behind the one
 * the nested poll had published: the shared head went backwards. */
struct nested {
	shmbus_consumer *c;
	int inner_rc;
	unsigned n;
	uint64_t seq[16];
};

static void nested_fn(const struct shmbus_event_header *ev, void *ctx)
{
	struct nested *x = ctx;
	if (x->n < 16)
		x->seq[x->n] = ev->seq;
	if (x->n++ == 0)
		x->inner_rc = shmbus_poll(x->c, nested_fn, x, 16);
}

static void test_ring_poll_from_handler_refused(void **state)
{
	shmbus_bus *bus;
	shmbus_producer *p;
	shmbus_consumer *c;
	(void)state;
	four_trades_open("nest", &bus, &c, &p);
	struct nested x = {.c = c};
	assert_int_equal(shmbus_poll(c, nested_fn, &x, 2), 2);
	assert_int_equal(x.inner_rc, -EALREADY);
	assert_int_equal(x.n, 2); /* each event once */
	assert_int_equal(x.seq[1], x.seq[0] + 1);
	uint64_t pos = shmbus_consumer_position(c);
	struct shmbus_ring_stat rs;
	assert_int_equal(tu_ring_stat(bus, "nest", &rs), 0);
	assert_int_equal(rs.depth, 2);
	/* the rest, once, from where the outer poll stopped */
	x.n = 0;
	assert_int_equal(shmbus_poll(c, nested_fn, &x, 16), 2);
	assert_int_equal(x.n, 2);
	assert_int_equal(shmbus_consumer_position(c), pos + 2);
	/* and polling works again after a refused nested call */
	one_more_then_close(bus, c, p);
}

/* A handler that closes (or unsubscribes) its own consumer, say at an
 * end-of-stream marker: the poll went on reading the freed handle (a
 * use-after-free, ASan's heap-use-after-free). The close now takes
 * effect when the poll returns: the rest of the batch is delivered, the
 * ring is left as the close says, and a new consumer takes it again. */
struct closer {
	shmbus_consumer *c;
	unsigned n, close_at;
	int unsubscribe;
};

static void closer_fn(const struct shmbus_event_header *ev, void *ctx)
{
	struct closer *x = ctx;
	(void)ev;
	if (++x->n == x->close_at) {
		if (x->unsubscribe)
			assert_int_equal(shmbus_unsubscribe(x->c), 0);
		else
			shmbus_consumer_close(x->c);
	}
}

static void test_ring_close_from_handler(void **state)
{
	(void)state;
	for (int unsub = 0; unsub <= 1; unsub++) {
		shmbus_bus *bus;
		shmbus_producer *p;
		shmbus_consumer *c;
		struct shmbus_sub_opts so;
		struct shmbus_ring_stat rs;
		four_trades_open("closer", &bus, &c, &p);
		struct closer x = {.c = c, .close_at = 2, .unsubscribe = unsub};
		assert_int_equal(shmbus_poll(c, closer_fn, &x, 16), 4); /* the whole batch */
		assert_int_equal(x.n, 4);
		if (unsub) {
			/* the entry is free: the name is gone */
			assert_int_not_equal(tu_ring_stat(bus, "closer", &rs), 0);
		} else {
			assert_int_equal(tu_ring_stat(bus, "closer", &rs), 0);
			assert_int_equal(rs.state, SHMBUS_RING_DETACHED);
			assert_int_equal(rs.depth, 0); /* what it delivered was released */
		}
		/* a new consumer takes the ring (again) and gets what follows */
		tu_sub_opts(&so, 16, 64, SHMBUS_POLICY_DROP);
		assert_int_equal(shmbus_subscribe(bus, "closer", &so, &c), 0);
		one_more_then_close(bus, c, p);
	}
}

struct feed_arg {
	shmbus_bus *bus;
	int n;
	atomic_int fail;
};

static void *feed_thread(void *arg)
{
	struct feed_arg *f = arg;
	struct shmbus_producer_opts po;
	shmbus_producer_opts_init(&po);
	po.source_id = 9;
	shmbus_producer *p;
	int rc = shmbus_producer_open(f->bus, &po, &p);
	TU_THREAD_CHECK(&f->fail, rc == 0);
	if (rc != 0)
		return NULL;
	for (int i = 0; i < f->n; i++) {
		struct shmbus_trade t = tu_trade(1, i);
		rc = shmbus_publish(p, &t);
		TU_THREAD_CHECK(&f->fail, rc == 1);
		if (i % 64 == 63)
			tu_sleep_us(200); /* let the consumer go to sleep */
	}
	shmbus_producer_close(p);
	return NULL;
}

/* Each wait strategy times out on an empty ring and delivers a feed. */
static void check_wait_strategy(enum shmbus_wait_strategy w)
{
	enum { N = 3000 };
	shmbus_bus *bus;
	assert_int_equal(tu_bus_create(NULL, 4, &bus), 0);
	struct shmbus_sub_opts so;
	tu_sub_opts(&so, 256, 64, SHMBUS_POLICY_BLOCK);
	so.wait = w;
	shmbus_consumer *c;
	assert_int_equal(shmbus_subscribe(bus, "waiter", &so, &c), 0);
	assert_int_equal(shmbus_wait(c, 2000000), SHMBUS_ETIMEDOUT);
	assert_int_equal(shmbus_wait(c, 0), SHMBUS_ETIMEDOUT);

	struct feed_arg f = {.bus = bus, .n = N};
	atomic_init(&f.fail, 0);
	pthread_t th;
	assert_int_equal(pthread_create(&th, NULL, feed_thread, &f), 0);
	struct tu_sink s;
	tu_sink_init(&s, N);
	int64_t end = tu_mono_ms() + 30000;
	int bad_wait = 0, empty_after_ready = 0;
	while (s.n < N && tu_mono_ms() < end) {
		int rc = shmbus_wait(c, 100000000);
		if (rc == SHMBUS_ETIMEDOUT)
			continue;
		if (rc != 0) {
			bad_wait = rc;
			break;
		}
		if (shmbus_poll(c, tu_sink_fn, &s, 128) == 0)
			empty_after_ready++;
	}
	pthread_join(th, NULL);
	assert_int_equal(bad_wait, 0);
	assert_int_equal(empty_after_ready, 0);
	assert_int_equal(atomic_load(&f.fail), 0);
	assert_int_equal(s.n, N);
	for (size_t i = 0; i < s.n; i++)
		assert_int_equal(s.ev[i].h.seq, i + 1);
	struct shmbus_ring_stat rs;
	assert_int_equal(shmbus_stat_ring(bus, shmbus_consumer_ring(c), &rs), 0);
	assert_int_equal(rs.wait, w);
	assert_int_equal(shmbus_wait(c, 1000000), SHMBUS_ETIMEDOUT);
	tu_sink_free(&s);
	shmbus_consumer_close(c);
	assert_int_equal(shmbus_bus_close(bus), 0);
}

static void test_ring_wait_spin(void **state)
{
	check_wait_strategy(SHMBUS_WAIT_SPIN);
}

static void test_ring_wait_yield(void **state)
{
	check_wait_strategy(SHMBUS_WAIT_YIELD);
}

static void test_ring_wait_block(void **state)
{
	check_wait_strategy(SHMBUS_WAIT_BLOCK);
}

static void test_ring_wait_adaptive(void **state)
{
	check_wait_strategy(SHMBUS_WAIT_ADAPTIVE);
}

static void expect_sub_einval(shmbus_bus *bus, const char *name, const struct shmbus_sub_opts *so,
                              const char *what)
{
	shmbus_consumer *c = NULL;
	int rc = shmbus_subscribe(bus, name, so, &c);
	if (rc != -EINVAL)
		fail_msg("%s: subscribe returned %d, want -EINVAL", what, rc);
	if (shmbus_errmsg()[0] == '\0')
		fail_msg("%s: no shmbus_errmsg()", what);
}

/* Bad capacities, slot sizes, group members and ring names: -EINVAL. */
static void test_ring_bad_subscribe_opts(void **state)
{
	shmbus_bus *bus;
	assert_int_equal(tu_bus_create(NULL, 4, &bus), 0);
	struct shmbus_sub_opts so;
	static const uint32_t caps[] = {0, 1, 3, 100};
	for (size_t i = 0; i < sizeof caps / sizeof caps[0]; i++) {
		tu_sub_opts(&so, caps[i], 64, SHMBUS_POLICY_BLOCK);
		expect_sub_einval(bus, "r", &so, "capacity");
	}
	static const uint32_t slots[] = {0, 32, 100, 512};
	for (size_t i = 0; i < sizeof slots / sizeof slots[0]; i++) {
		tu_sub_opts(&so, 16, slots[i], SHMBUS_POLICY_BLOCK);
		expect_sub_einval(bus, "r", &so, "slot_size");
	}
	tu_sub_opts(&so, 16, 64, SHMBUS_POLICY_BLOCK);
	so.group = "g";
	so.group_size = 3;
	so.group_member = 3;
	expect_sub_einval(bus, "r", &so, "group_member");
	so.group_size = 0;
	so.group_member = 0;
	expect_sub_einval(bus, "r", &so, "group_size 0");
	so.group_size = 65;
	expect_sub_einval(bus, "r", &so, "group_size 65");
	tu_sub_opts(&so, 16, 64, 7);
	expect_sub_einval(bus, "r", &so, "policy");

	tu_sub_opts(&so, 16, 64, SHMBUS_POLICY_BLOCK);
	char longname[SHMBUS_NAME_MAX + 2];
	memset(longname, 'x', sizeof longname - 1);
	longname[sizeof longname - 1] = '\0';
	static const char *const names[] = {"", "a b", "a/b", "a,b", "ring\n"};
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
		expect_sub_einval(bus, names[i], &so, "ring name");
	expect_sub_einval(bus, longname, &so, "ring name too long");
	expect_sub_einval(bus, NULL, &so, "NULL ring name");

	/* nothing was created by the failures; the longest name is fine */
	assert_int_equal(shmbus_stat_find_ring(bus, "r"), -ENOENT);
	longname[SHMBUS_NAME_MAX] = '\0';
	shmbus_consumer *c;
	assert_int_equal(shmbus_subscribe(bus, longname, &so, &c), 0);
	assert_string_equal(shmbus_consumer_name(c), longname);
	shmbus_consumer_close(c);
	assert_int_equal(shmbus_bus_close(bus), 0);
}

/* Ring stat fields reflect the subscription and the fill level. */
static void test_ring_stat_fields(void **state)
{
	struct rig r;
	struct shmbus_sub_opts so;
	tu_sub_opts(&so, 32, 128, SHMBUS_POLICY_DROP);
	so.wait = SHMBUS_WAIT_YIELD;
	so.types = SHMBUS_TYPE_BIT(SHMBUS_EV_TRADE);
	rig_open(&r, "statme", &so);
	struct shmbus_ring_stat rs;
	rig_ring_stat(&r, &rs);
	assert_string_equal(rs.name, "statme");
	assert_int_equal(rs.index, shmbus_consumer_ring(r.c));
	assert_int_equal(rs.state, SHMBUS_RING_ACTIVE);
	assert_int_equal(rs.capacity, 32);
	assert_int_equal(rs.slot_size, 128);
	assert_int_equal(rs.policy, SHMBUS_POLICY_DROP);
	assert_int_equal(rs.wait, SHMBUS_WAIT_YIELD);
	assert_int_equal(rs.types, SHMBUS_TYPE_BIT(SHMBUS_EV_TRADE));
	assert_int_equal(rs.consumer_pid, getpid());
	assert_int_equal(rs.consumer_alive, 1);
	assert_int_equal(rs.depth, 0);
	assert_int_equal(rs.oldest_publish_ns, 0);
	int64_t before = shmbus_now_ns();
	for (int i = 0; i < 3; i++)
		publish_trade(r.p, 1, i, 1);
	rig_ring_stat(&r, &rs);
	assert_int_equal(rs.claimed, 3);
	assert_int_equal(rs.depth, 3);
	assert_true(rs.oldest_publish_ns >= before);
	struct tu_sink s;
	tu_sink_init(&s, 4);
	assert_int_equal(tu_drain(r.c, &s), 3);
	rig_ring_stat(&r, &rs);
	assert_int_equal(rs.consumed, 3);
	assert_int_equal(rs.depth, 0);
	assert_int_equal(rs.delivered, 3);
	assert_int_equal(rs.oldest_publish_ns, 0);
	assert_non_null(shmbus_ring_state_name(SHMBUS_RING_ACTIVE));
	assert_non_null(shmbus_policy_name(SHMBUS_POLICY_DROP));
	assert_non_null(shmbus_wait_name(SHMBUS_WAIT_YIELD));
	tu_sink_free(&s);
	rig_close(&r);
}

/* A ring's symbol filter reads back through the public API (the bridge's
 * journal catch-up needs the list of a ring declared by shmbusctl):
 * ascending, each id once, cut at max, 0 for a ring that takes every
 * symbol; bad arguments and entries are refused. */
static void test_ring_stat_symbols(void **state)
{
	struct rig r;
	struct shmbus_sub_opts so;
	uint32_t ids[8] = {0};
	static const uint32_t given[] = {40, 3, 40, 1024, 64, 65};
	tu_sub_opts(&so, 32, 128, SHMBUS_POLICY_DROP);
	rig_open(&r, "allsyms", &so);
	uint32_t all = shmbus_consumer_ring(r.c);
	assert_int_equal(shmbus_stat_ring_symbols(r.bus, all, ids, 8), 0);
	so.symbols = given;
	so.nsymbols = sizeof given / sizeof given[0];
	assert_int_equal(shmbus_ring_declare(r.bus, "somesyms", &so), 0);
	int idx = shmbus_stat_find_ring(r.bus, "somesyms");
	assert_true(idx >= 0);
	struct shmbus_ring_stat rs;
	assert_int_equal(shmbus_stat_ring(r.bus, (uint32_t)idx, &rs), 0);
	assert_int_equal(rs.nsymbols, 6); /* as given, 40 twice */
	assert_int_equal(shmbus_stat_ring_symbols(r.bus, (uint32_t)idx, ids, 8), 5);
	static const uint32_t want[] = {3, 40, 64, 65, 1024};
	assert_memory_equal(ids, want, sizeof want);
	memset(ids, 0, sizeof ids);
	assert_int_equal(shmbus_stat_ring_symbols(r.bus, (uint32_t)idx, ids, 2), 5);
	assert_int_equal(ids[0], 3);
	assert_int_equal(ids[1], 40);
	assert_int_equal(ids[2], 0); /* nothing past max */
	assert_int_equal(shmbus_stat_ring_symbols(r.bus, (uint32_t)idx, NULL, 0), 5);
	assert_int_equal(shmbus_stat_ring_symbols(r.bus, (uint32_t)idx, NULL, 1), -EINVAL);
	assert_int_equal(shmbus_stat_ring_symbols(NULL, (uint32_t)idx, ids, 8), -EINVAL);
	assert_int_equal(shmbus_stat_ring_symbols(r.bus, 16, ids, 8), -ERANGE);
	assert_int_equal(shmbus_ring_remove(r.bus, "somesyms"), 0);
	assert_int_equal(shmbus_stat_ring_symbols(r.bus, (uint32_t)idx, ids, 8), -ENOENT);
	rig_close(&r);
}

/*
 * A reader racing a consumer that re-subscribes its ring with another
 * symbol filter reads the old filter or the new one, never a mix and never
 * SHMBUS_ECORRUPT: the bitmap is rewritten in place, cleared first, and a
 * reader once met it cleared (a filter of 1 symbol with none set) or half
 * written. The re-subscriber is a child process, flipping until killed.
 */
static void test_ring_stat_symbols_while_replaced(void **state)
{
	static const uint32_t low[] = {1}, high[] = {1000};
	shmbus_bus *bus;
	struct shmbus_sub_opts so;
	assert_int_equal(tu_bus_create("symflip", 8, &bus), 0);
	tu_sub_opts(&so, 32, 64, SHMBUS_POLICY_DROP);
	so.symbols = low;
	so.nsymbols = 1;
	assert_int_equal(shmbus_ring_declare(bus, "flip", &so), 0);
	int idx = shmbus_stat_find_ring(bus, "flip");
	assert_true(idx >= 0);
	fflush(NULL);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		shmbus_bus *cb;
		alarm(60);
		int rc = shmbus_bus_open("symflip", "flipper", SHMBUS_ROLE_CONSUMER, &cb);
		TU_CHILD_CHECK(rc == 0);
		for (unsigned i = 0;; i++) {
			shmbus_consumer *c;
			so.symbols = i & 1 ? low : high;
			TU_CHILD_CHECK(shmbus_subscribe(cb, "flip", &so, &c) == 0);
			shmbus_consumer_close(c);
		}
	}
	uint64_t seen_low = 0, seen_high = 0, bad = 0;
	int first_rc = 0;
	uint32_t first_ids[2] = {0, 0};
	for (int64_t end = tu_mono_ms() + 1000; tu_mono_ms() < end;) {
		uint32_t ids[2] = {0, 0};
		int rc = shmbus_stat_ring_symbols(bus, (uint32_t)idx, ids, 2);
		if (rc == 1 && ids[0] == low[0])
			seen_low++;
		else if (rc == 1 && ids[0] == high[0])
			seen_high++;
		else if (bad++ == 0) {
			first_rc = rc;
			memcpy(first_ids, ids, sizeof ids);
		}
	}
	kill(pid, SIGKILL);
	assert_int_equal(waitpid(pid, NULL, 0), pid);
	if (bad)
		fail_msg("%llu reads neither filter: first returned %d (%s), ids %u %u",
			 (unsigned long long)bad, first_rc,
			 first_rc < 0 ? shmbus_strerror(first_rc) : "", first_ids[0], first_ids[1]);
	assert_true(seen_low > 0); /* the child did flip the filter */
	assert_true(seen_high > 0);
	assert_int_equal(shmbus_bus_close(bus), 0);
	assert_int_equal(shmbus_bus_destroy("symflip"), 0);
}

/* A live consumer's ring cannot be taken; unsubscribe frees the entry. */
static void test_ring_subscribe_busy_and_unsubscribe(void **state)
{
	struct rig r;
	struct shmbus_sub_opts so;
	tu_sub_opts(&so, 16, 64, SHMBUS_POLICY_BLOCK);
	rig_open(&r, "owned", &so);
	shmbus_consumer *c2 = NULL;
	assert_int_equal(shmbus_subscribe(r.bus, "owned", &so, &c2), SHMBUS_EBUSY);
	publish_trade(r.p, 1, 1.0, 1);
	assert_int_equal(shmbus_unsubscribe(r.c), 0);
	r.c = NULL;
	assert_int_equal(shmbus_stat_find_ring(r.bus, "owned"), -ENOENT);
	publish_trade(r.p, 1, 2.0, 0); /* no ring any more: unrouted */
	/* a new ring of that name starts empty */
	assert_int_equal(shmbus_subscribe(r.bus, "owned", &so, &r.c), 0);
	struct tu_sink s;
	tu_sink_init(&s, 4);
	assert_int_equal(tu_drain(r.c, &s), 0);
	publish_trade(r.p, 1, 3.0, 1);
	assert_int_equal(tu_drain(r.c, &s), 1);
	assert_int_equal(s.ev[0].h.seq, 3);
	tu_sink_free(&s);
	rig_close(&r);
}

/* Every call off the hot path takes a NULL handle: -EINVAL, or a no-op
 * or an empty value for those that return none (the getters once read
 * through it and crashed). The hot-path calls (poll, wait, claim, commit,
 * publish) are documented to need a handle. */
static void test_ring_null_handles(void **state)
{
	(void)state;
	shmbus_consumer *c = NULL;
	shmbus_producer *p = NULL;
	struct shmbus_sub_opts so;
	struct shmbus_ring_stat rs;
	struct shmbus_bus_info bi;
	struct shmbus_producer_stat ps;
	struct shmbus_participant_stat pa;
	shmbus_sub_opts_init(&so);
	assert_int_equal(shmbus_bus_close(NULL), -EINVAL);
	assert_int_equal(shmbus_bus_reap(NULL), -EINVAL);
	assert_int_equal(shmbus_bus_set_kept(NULL, 1), -EINVAL);
	shmbus_bus_heartbeat(NULL);
	assert_string_equal(shmbus_bus_name(NULL), "");
	assert_int_equal(shmbus_bus_backing(NULL), SHMBUS_BACKING_ANON);
	assert_int_equal(shmbus_subscribe(NULL, "r", &so, &c), -EINVAL);
	assert_int_equal(shmbus_ring_declare(NULL, "r", &so), -EINVAL);
	assert_int_equal(shmbus_ring_remove(NULL, "r"), -EINVAL);
	assert_int_equal(shmbus_wait_subscribers(NULL, 0, 1, 0), -EINVAL);
	assert_int_equal(shmbus_producer_open(NULL, NULL, &p), -EINVAL);
	assert_int_equal(shmbus_stat_bus(NULL, &bi), -EINVAL);
	assert_int_equal(shmbus_stat_ring(NULL, 0, &rs), -EINVAL);
	assert_int_equal(shmbus_stat_producer(NULL, 0, &ps), -EINVAL);
	assert_int_equal(shmbus_stat_participant(NULL, 0, &pa), -EINVAL);
	assert_int_equal(shmbus_stat_find_ring(NULL, "r"), -EINVAL);
	assert_int_equal(shmbus_symbol_count(NULL), 0);

	shmbus_consumer_close(NULL);
	assert_int_equal(shmbus_unsubscribe(NULL), -EINVAL);
	shmbus_consumer_hold(NULL, 1);
	assert_int_equal(shmbus_consumer_release(NULL, 0), -EINVAL);
	assert_int_equal(shmbus_consumer_position(NULL), 0);
	assert_int_equal(shmbus_consumer_ring(NULL), UINT32_MAX);
	assert_string_equal(shmbus_consumer_name(NULL), "");

	shmbus_producer_close(NULL);
	assert_int_equal(shmbus_producer_announce(NULL, 0), -EINVAL);
	assert_int_equal(shmbus_producer_source(NULL), 0);
	assert_int_equal(shmbus_producer_last_seq(NULL), 0);
}

int main(void)
{
	alarm(120); /* a hang is a failure, not a stuck CI job */
	const struct CMUnitTest tests[] = {
	    TU_TEST(test_ring_publish_poll_order),
	    TU_TEST(test_ring_wrap_around),
	    TU_TEST(test_ring_batch_poll_max),
	    TU_TEST(test_ring_full_drop_counts),
	    TU_TEST(test_ring_full_block_lossless),
	    TU_TEST(test_ring_blocked_producer_leaves_freed_ring),
	    TU_TEST(test_ring_claim_commit_header),
	    TU_TEST(test_ring_claim_bad_args),
	    TU_TEST(test_ring_too_big_counted),
	    TU_TEST(test_ring_single_producer_flag),
	    TU_TEST(test_ring_publish_keeps_identity),
	    TU_TEST(test_ring_default_source_is_pid),
	    TU_TEST(test_ring_source_id_reused_goes_on),
	    TU_TEST(test_ring_full_slots_keep_named_source_seq),
	    TU_TEST(test_ring_hold_and_release),
	    TU_TEST(test_ring_poll_from_handler_refused),
	    TU_TEST(test_ring_close_from_handler),
	    TU_TEST(test_ring_wait_spin),
	    TU_TEST(test_ring_wait_yield),
	    TU_TEST(test_ring_wait_block),
	    TU_TEST(test_ring_wait_adaptive),
	    TU_TEST(test_ring_bad_subscribe_opts),
	    TU_TEST(test_ring_stat_fields),
	    TU_TEST(test_ring_stat_symbols),
	    TU_TEST(test_ring_stat_symbols_while_replaced),
	    TU_TEST(test_ring_subscribe_busy_and_unsubscribe),
	    TU_TEST(test_ring_null_handles),
	};
	return cmocka_run_group_tests_name("ring", tests, NULL, NULL);
}
