/*
 * test_routing_live.c - routing changes while a producer is in the middle
 * of a publish: a ring's filter replaced during a batch, a ring removed
 * and another built in its entry while a producer waits for room in it.
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

int main(void)
{
	alarm(120);
	const struct CMUnitTest tests[] = {
	    TU_TEST(test_routing_live_batch_filter_replaced),
	};
	return cmocka_run_group_tests_name("routing_live", tests, NULL, NULL);
}
