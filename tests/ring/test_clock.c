/*
 * test_clock.c - the bus clock: shmbus_now_ns() extrapolates the TSC
 * between anchors to CLOCK_REALTIME (ring/clock.c); every reading must
 * stay within a wide bracket of the real clock across many re-anchors,
 * in every thread (the state is per thread), and shmbus_mono_ns() must
 * never run backwards. The bound is loose on purpose (a noisy VM may
 * stretch any bracket): it catches a wrong factor or scale, not jitter.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <pthread.h>
#include <time.h>

#include "shmbus/clock.h"

#define SPAN_NS 30000000   /* 30 ms: ~30 re-anchors at 1 ms */
#define SLACK_NS 200000    /* allowed distance from the bracket */

static int64_t realtime(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Readings outside [before - slack, after + slack] during SPAN_NS. */
static long clock_misses(int64_t *worst)
{
	int64_t end = realtime() + SPAN_NS;
	long misses = 0;
	*worst = 0;
	for (;;) {
		int64_t before = realtime();
		int64_t now = shmbus_now_ns();
		int64_t after = realtime();
		int64_t off = now < before ? before - now : now > after ? now - after : 0;
		if (off > *worst)
			*worst = off;
		misses += off > SLACK_NS;
		if (after >= end)
			return misses;
	}
}

static void test_clock_tracks_realtime(void **state)
{
	(void)state;
	int64_t worst;
	long misses = clock_misses(&worst);
	if (misses)
		print_error("%ld readings off by up to %lld ns\n", misses, (long long)worst);
	assert_int_equal(misses, 0);
	/* epoch nanoseconds, not some other scale */
	assert_true(shmbus_now_ns() > INT64_C(1600000000) * 1000000000);
}

static void *clock_thread(void *arg)
{
	int64_t worst;
	*(long *)arg = clock_misses(&worst);
	return NULL;
}

/* Each thread anchors on its own first call and stays on time. */
static void test_clock_threads(void **state)
{
	(void)state;
	pthread_t th[2];
	long misses[2] = {-1, -1};
	for (int i = 0; i < 2; i++)
		assert_int_equal(pthread_create(&th[i], NULL, clock_thread, &misses[i]), 0);
	for (int i = 0; i < 2; i++) {
		assert_int_equal(pthread_join(th[i], NULL), 0);
		assert_int_equal(misses[i], 0);
	}
}

static void test_mono_never_backwards(void **state)
{
	(void)state;
	int64_t prev = shmbus_mono_ns();
	for (int i = 0; i < 1000000; i++) {
		int64_t now = shmbus_mono_ns();
		assert_true(now >= prev);
		prev = now;
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_clock_tracks_realtime),
		cmocka_unit_test(test_clock_threads),
		cmocka_unit_test(test_mono_never_backwards),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
