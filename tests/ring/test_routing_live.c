/*
 * test_routing_live.c - routing changes while a producer is in the middle
 * of a publish: a ring's filter replaced during a batch, a ring removed
 * and another built in its entry while a producer waits for room in it,
 * or its consumer detached then.
 * A producer routes with the table it built at the start of the call;
 * whatever changes under it, it must never write outside the rings of
 * that table, nor an event outside the ones it was given.
 *
 * The batch case stops the producer between two rings' deliveries with
 * the library's test hook (private header), so it runs the same way every
 * time; the waiting case uses a thread that the ring's fullness holds.
 */
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdatomic.h>

#include "ring/test_util.h"
#include "ring/bus_internal.h" /* ring_test_hook */

/* ---- a ring's symbol filter replaced in the middle of a batch ---- */

static struct tu_env *hook_env;
static shmbus_consumer *hook_ring; /* "s1": closed and re-subscribed by the hook */
static int hook_calls;

/* In the batch, after the first ring's run was claimed: the consumer of
 * "s1" re-attaches with another symbol filter (its bitmap is rewritten in
 * place), before the batch reaches "s1". */
static void refilter_mid_run(enum ring_hook where)
{
	if (where != RING_HOOK_MID_RUN || hook_calls++ > 0)
		return;
	shmbus_consumer_close(hook_ring);
	struct shmbus_sub_opts so;
	uint32_t s3[] = {hook_env->sym[3]};
	tu_sub_opts(&so, 64, 128, SHMBUS_POLICY_BLOCK);
	so.types = SHMBUS_TYPE_BIT(SHMBUS_EV_TRADE);
	so.symbols = s3;
	so.nsymbols = 1;
	hook_ring = NULL;
	shmbus_subscribe(hook_env->bus, "s1", &so, &hook_ring);
}

/* A batch delivers to each ring what its routing pass counted for it:
 * a filter rewritten in between neither sends the ring events from past
 * the end of the caller's array nor numbers events never published. */
static void test_routing_live_batch_filter_replaced(void **state)
{
	enum { N = 4, PAD = 4 };
	struct tu_env e;
	tu_env_open(&e);
	struct shmbus_sub_opts so;
	uint32_t s1[] = {e.sym[1]};
	tu_sub_opts(&so, 64, 128, SHMBUS_POLICY_BLOCK);
	so.types = SHMBUS_TYPE_BIT(SHMBUS_EV_TRADE);
	shmbus_consumer *all = tu_env_sub(&e, "all", &so);
	so.symbols = s1;
	so.nsymbols = 1;
	hook_ring = tu_env_sub(&e, "s1", &so);

	/* S1, S1, S2, S2, then events of S3 past the end of the batch: the
	 * pointers exist, so a producer reading past n finds events there */
	struct shmbus_trade t[N + PAD];
	const void *evs[N + PAD];
	for (int i = 0; i < N + PAD; i++) {
		t[i] = tu_trade(e.sym[i < 2 ? 1 : i < N ? 2 : 3], 100.0 + i);
		evs[i] = &t[i];
	}
	hook_env = &e;
	hook_calls = 0;
	ring_test_hook = refilter_mid_run;
	int rc = shmbus_publish_batch(e.p, evs, N);
	ring_test_hook = NULL;
	assert_true(hook_calls >= 1);
	assert_non_null(hook_ring);
	assert_int_equal(rc, N + 2); /* "all" takes 4, "s1" its 2 of S1 */

	struct tu_sink s;
	tu_sink_init(&s, 2 * (N + PAD));
	assert_int_equal(tu_drain(all, &s), N);
	s.n = 0;
	size_t got = tu_drain(hook_ring, &s);
	for (size_t j = 0; j < s.n; j++) {
		const struct shmbus_trade *x = (const void *)s.ev[j].bytes;
		assert_true(x->price < 100.0 + N); /* one of the batch's */
		assert_true(s.ev[j].h.seq >= 1 && s.ev[j].h.seq <= N);
	}
	assert_int_equal(got, 2);
	assert_int_equal(shmbus_producer_last_seq(e.p), N);
	tu_sink_free(&s);
	shmbus_consumer_close(all);
	shmbus_consumer_close(hook_ring);
	tu_env_close(&e);
}

/* ---- a ring removed and another built in its entry meanwhile ---- */

#define WAITER_SRC 12

struct waiter {
	shmbus_bus *bus;
	int rc[3];
	atomic_int done; /* waiter_main returned */
};

/* A producer of its own (a thread's) publishes 3 trades into a ring of 2
 * slots that nobody drains: the third waits for room. */
static void *waiter_main(void *arg)
{
	struct waiter *w = arg;
	struct shmbus_producer_opts po;
	shmbus_producer *p;
	shmbus_producer_opts_init(&po);
	po.source_id = WAITER_SRC;
	/* The consumer's liveness is looked at only after a minute: what
	 * ends the wait here must be the ring's removal itself. */
	po.block_timeout_ns = INT64_C(60) * 1000000000;
	w->rc[0] = shmbus_producer_open(w->bus, &po, &p);
	if (w->rc[0] != 0)
		return NULL;
	for (int i = 0; i < 3; i++) {
		struct shmbus_trade t = tu_trade(1, 1.0 + i);
		w->rc[i] = shmbus_publish(p, &t);
	}
	shmbus_producer_close(p);
	atomic_store(&w->done, 1);
	return NULL;
}

/* Start waiter_main on e's ring "a" and return once its third publish
 * waits for room (the ring's stats in *rs). */
static void waiter_start(struct tu_env *e, struct waiter *w, pthread_t *th,
			 struct shmbus_ring_stat *rs)
{
	w->bus = e->bus;
	assert_int_equal(pthread_create(th, NULL, waiter_main, w), 0);
	int64_t end = tu_mono_ms() + 20000;
	do {
		tu_sleep_us(1000);
		assert_int_equal(tu_ring_stat(e->bus, "a", rs), 0);
	} while (rs->producer_waits == 0 && tu_mono_ms() < end);
	assert_int_equal(rs->producer_waits, 1);
}

/* A producer waiting for room in a `block` ring whose consumer
 * unsubscribes, after which a new ring (another name, another filter)
 * takes the same entry and arena bytes: the waiting event never lands in
 * the new ring, which was subscribed after it was published (and does
 * not take trades); the producer counts it as routed around. */
static void test_routing_live_waiting_producer_ring_replaced(void **state)
{
	struct tu_env e;
	tu_env_open(&e);
	struct shmbus_sub_opts so;
	tu_sub_opts(&so, 2, 128, SHMBUS_POLICY_BLOCK);
	so.types = SHMBUS_TYPE_BIT(SHMBUS_EV_TRADE);
	shmbus_consumer *a = tu_env_sub(&e, "a", &so);
	uint32_t index = shmbus_consumer_ring(a);

	struct waiter w = {0};
	pthread_t th;
	struct shmbus_ring_stat rs;
	waiter_start(&e, &w, &th, &rs);
	assert_int_equal(rs.claimed, 2);

	assert_int_equal(shmbus_unsubscribe(a), 0);
	so.types = SHMBUS_TYPE_BIT(SHMBUS_EV_QUOTE);
	shmbus_consumer *b = tu_env_sub(&e, "b", &so);
	assert_int_equal(shmbus_consumer_ring(b), index); /* the entry "a" had */
	assert_int_equal(pthread_join(th, NULL), 0);
	assert_int_equal(w.rc[0], 1);
	assert_int_equal(w.rc[1], 1);
	assert_int_equal(w.rc[2], 0);

	struct tu_sink s;
	tu_sink_init(&s, 4);
	assert_int_equal(tu_drain(b, &s), 0);
	assert_int_equal(tu_ring_stat(e.bus, "b", &rs), 0);
	assert_int_equal(rs.claimed, 0);
	assert_int_equal(rs.producer_waits, 0);
	assert_int_equal(rs.routed_around, 0);
	assert_int_equal(rs.producers, 0);
	struct shmbus_producer_stat tot;
	assert_int_equal(shmbus_stat_producer_totals(e.bus, &tot), 0);
	assert_int_equal(tot.published, 3);
	assert_int_equal(tot.delivered, 2);
	assert_int_equal(tot.routed_around, 1);
	tu_sink_free(&s);
	shmbus_consumer_close(b);
	tu_env_close(&e);
}

/* A producer waiting for room in a `block` ring whose consumer detaches
 * (shmbus_consumer_close): the detach moves the routing generation, and
 * the wait ends then, the event routed around (counted on the ring), not
 * a block_timeout later (a minute here) at the next liveness check. */
static void test_routing_live_waiting_producer_ring_detached(void **state)
{
	struct tu_env e;
	tu_env_open(&e);
	struct shmbus_sub_opts so;
	tu_sub_opts(&so, 2, 128, SHMBUS_POLICY_BLOCK);
	shmbus_consumer *a = tu_env_sub(&e, "a", &so);

	struct waiter w = {0};
	pthread_t th;
	struct shmbus_ring_stat rs;
	waiter_start(&e, &w, &th, &rs);

	shmbus_consumer_close(a);
	int64_t end = tu_mono_ms() + 20000; /* a hang detector, far below the minute */
	while (!atomic_load(&w.done) && tu_mono_ms() < end)
		tu_sleep_us(1000);
	bool ended = atomic_load(&w.done);
	if (!ended) { /* let the waiter go before failing */
		a = tu_env_sub(&e, "a", NULL);
		struct tu_sink s;
		tu_sink_init(&s, 4);
		tu_poll_until(a, &s, 3, 5000);
		tu_sink_free(&s);
	}
	assert_int_equal(pthread_join(th, NULL), 0);
	assert_true(ended);
	assert_int_equal(w.rc[0], 1);
	assert_int_equal(w.rc[1], 1);
	assert_int_equal(w.rc[2], 0);
	assert_int_equal(tu_ring_stat(e.bus, "a", &rs), 0);
	assert_int_equal(rs.state, SHMBUS_RING_DETACHED);
	assert_int_equal(rs.claimed, 2);
	assert_int_equal(rs.routed_around, 1);
	tu_env_close(&e);
}

int main(void)
{
	alarm(120);
	const struct CMUnitTest tests[] = {
	    TU_TEST(test_routing_live_batch_filter_replaced),
	    TU_TEST(test_routing_live_waiting_producer_ring_replaced),
	    TU_TEST(test_routing_live_waiting_producer_ring_detached),
	};
	return cmocka_run_group_tests_name("routing_live", tests, NULL, NULL);
}
