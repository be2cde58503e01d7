/*
 * test_pacing.c - replay pacing arithmetic (no clock is read: pure math).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <math.h>

#include "pacing.h"

static void test_pacing_original_speed(void **state)
{
	struct shmbus_pacer p;
	const int64_t t0 = INT64_C(1381236469457000000), w0 = 5000;

	assert_int_equal(shmbus_pacer_init(&p, 1.0, w0), 0);
	assert_int_equal(shmbus_pacer_wait(&p, t0, w0), 0); /* first is due at start */
	assert_int_equal(shmbus_pacer_due(&p, t0 + 1000000), w0 + 1000000);
	assert_int_equal(shmbus_pacer_wait(&p, t0 + 1000000, w0 + 250000), 750000);
	/* Already late: no wait, and no drift for the next ones. */
	assert_int_equal(shmbus_pacer_wait(&p, t0 + 2000000, w0 + 3000000), 0);
	assert_int_equal(shmbus_pacer_due(&p, t0 + 4000000), w0 + 4000000);
	/* A full trading day stays exact to the nanosecond. */
	assert_int_equal(shmbus_pacer_due(&p, t0 + INT64_C(57600000000001)),
			 w0 + INT64_C(57600000000001));
}

static void test_pacing_faster_and_max(void **state)
{
	struct shmbus_pacer p;
	const int64_t t0 = 1000000000, w0 = 0;

	assert_int_equal(shmbus_pacer_init(&p, 10.0, w0), 0);
	shmbus_pacer_due(&p, t0);
	assert_int_equal(shmbus_pacer_due(&p, t0 + 1000000000), 100000000);
	assert_int_equal(shmbus_pacer_due(&p, t0 + 15), 2); /* 1.5 rounds to 2 */
	assert_int_equal(shmbus_pacer_wait(&p, t0 + 1000000000, 40000000), 60000000);
	assert_int_equal(shmbus_pacer_init(&p, 0.5, w0), 0);
	assert_int_equal(shmbus_pacer_due(&p, t0), 0);
	assert_int_equal(shmbus_pacer_due(&p, t0 + 3), 6);
	/* speed 0: as fast as possible, never waits. */
	assert_int_equal(shmbus_pacer_init(&p, 0.0, w0), 0);
	shmbus_pacer_due(&p, t0);
	assert_int_equal(shmbus_pacer_wait(&p, t0 + INT64_C(3600000000000), 0), 0);
}

static void test_pacing_edges(void **state)
{
	struct shmbus_pacer p;

	assert_int_equal(shmbus_pacer_init(&p, -1.0, 0), -EINVAL);
	assert_int_equal(shmbus_pacer_init(&p, NAN, 0), -EINVAL);
	assert_int_equal(shmbus_pacer_init(&p, INFINITY, 0), -EINVAL);
	/* Out-of-order records are due at once, never before the start. */
	assert_int_equal(shmbus_pace_target_ns(100, 5000, 4000, 1.0), 100);
	/* Saturates instead of overflowing. */
	assert_true(shmbus_pace_target_ns(INT64_MAX - 10, 0, 1000, 1.0) == INT64_MAX);
	assert_true(shmbus_pace_target_ns(0, 0, INT64_MAX, 0.001) == INT64_MAX);
	assert_true(shmbus_pace_target_ns(0, INT64_MIN, INT64_MAX, 1.0) == INT64_MAX);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pacing_original_speed),
		cmocka_unit_test(test_pacing_faster_and_max),
		cmocka_unit_test(test_pacing_edges),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
