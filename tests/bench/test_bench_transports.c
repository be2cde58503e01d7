/*
 * test_bench_transports.c - `shmbus-bench transports` as a user runs it:
 * tiny sizes, a yielding wait (the test's two cores may be shared), the
 * JSON's shape and self-consistency (p50 <= p99 <= max, counts, ratios,
 * targets), the .hgrm files with their footer and merged counts, and
 * usage errors that exit 2 and leave no bus behind. Timings are never
 * asserted: benchmarks report numbers, tests check the plumbing.
 *
 * The binary comes from CMake (SHMBUS_BENCH_BIN); each test gets its own
 * SHMBUS_DIR and output folder under $TMPDIR.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_test_util.h"

#define TBT_ITER   2000
#define TBT_ROUNDS 2

static const char *const tbt_transports[] = {
    "shmbus",  "cacheline", "spsc", "pipe", "unix",
#ifdef SHMBUS_BENCH_HAVE_ZMQ
    "zmq",
#endif
#ifdef SHMBUS_BENCH_HAVE_ICEORYX
    "iceoryx",
#endif
};
#define TBT_N (sizeof(tbt_transports) / sizeof(tbt_transports[0]))

static int tbt_setup(void **state)
{
	return bt_setup(state, "tbt");
}

/* Number after "key": in s (before `end` when not NULL); -1 when absent. */
static double tbt_num(const char *s, const char *end, const char *key)
{
	char pat[64];
	const char *p;

	snprintf(pat, sizeof(pat), "\"%s\":", key);
	p = strstr(s, pat);
	if (!p || (end && p >= end))
		return -1;
	return strtod(p + strlen(pat), NULL);
}

/* The object of transport `name` in the "transports" array: its start, and
 * where its "rounds" begin (the median figures come before). */
static const char *tbt_transport(const char *json, const char *name, const char **rounds)
{
	char pat[64];
	const char *arr = strstr(json, "\"transports\":["), *p;

	snprintf(pat, sizeof(pat), "{\"name\":\"%s\"", name);
	p = arr ? strstr(arr, pat) : NULL;
	*rounds = p ? strstr(p, "\"rounds\":[") : NULL;
	return p;
}

static void test_bench_transports_json_and_hgrm(void **state)
{
	struct bt_env *e = *state;
	char args[512], path[400], hg[8192];

	snprintf(args, sizeof(args),
	         "transports --cpus %s --iterations %d --warmup 200 --rounds %d --wait yield "
	         "--json --hgrm '%s/hgrm'",
	         e->cpus, TBT_ITER, TBT_ROUNDS, e->dir);
	assert_int_equal(bt_run(e, args), 0);
	assert_non_null(strstr(e->out, "\"scenario\":\"transports\""));
	assert_non_null(strstr(e->out, "\"machine\":{"));
	assert_non_null(strstr(e->out, "\"command\":"));
	assert_non_null(strstr(e->out, "\"hgrm_unit\":\"ns\""));
	assert_non_null(strstr(e->out, "\"targets\":["));
	assert_non_null(strstr(e->out, "\"verdict\":"));
	for (size_t i = 0; i < TBT_N; i++) {
		const char *rounds, *o = tbt_transport(e->out, tbt_transports[i], &rounds);
		double p50, p99, max;

		print_message("transport %s\n", tbt_transports[i]);
		assert_non_null(o);
		assert_non_null(rounds);
		p50 = tbt_num(o, rounds, "p50_ns");
		p99 = tbt_num(o, rounds, "p99_ns");
		max = tbt_num(o, rounds, "max_ns");
		assert_true(tbt_num(o, rounds, "count") == TBT_ITER);
		assert_true(p50 > 0);
		assert_true(p50 <= tbt_num(o, rounds, "p90_ns"));
		assert_true(p50 <= p99);
		assert_true(p99 <= tbt_num(o, rounds, "p999_ns"));
		assert_true(p99 <= max);
		assert_true(tbt_num(o, rounds, "ratio_p50") > 0);
		assert_true(tbt_num(o, rounds, "ratio_p99") > 0);
		/* The histogram: the HdrHistogram footer, both rounds merged. */
		snprintf(path, sizeof(path), "%s/hgrm/rtt-%s.hgrm", e->dir, tbt_transports[i]);
		bt_read_hgrm(path, hg, sizeof(hg));
		assert_int_equal(bt_hgrm_total(hg), TBT_ITER * TBT_ROUNDS);
	}
	/* shmbus's ratio to itself is 1; the bus is gone after the run. */
	{
		const char *rounds, *o = tbt_transport(e->out, "shmbus", &rounds);

		assert_true(tbt_num(o, rounds, "ratio_p50") == 1.0);
	}
	assert_true(bt_dir_empty(e->bus_dir));
}

static void test_bench_transports_table_subset(void **state)
{
	struct bt_env *e = *state;
	char args[256];

	snprintf(args, sizeof(args),
	         "compare --cpus %s --iterations 500 --warmup 50 --rounds 1 --wait yield "
	         "--transports pipe,shmbus",
	         e->cpus);
	assert_int_equal(bt_run(e, args), 0);
	assert_non_null(strstr(e->out, "targets (issue 7)"));
	assert_non_null(strstr(e->out, "r1 pipe"));
	assert_non_null(strstr(e->out, "r1 shmbus"));
	assert_null(strstr(e->out, "r1 unix"));
	assert_non_null(strstr(e->out, "lower than pipe"));
	assert_true(bt_dir_empty(e->bus_dir));
}

static void test_bench_transports_bad_options_exit_2(void **state)
{
	struct bt_env *e = *state;
	char args[512];
	const char *bad[] = {
	    "transports --cpus 0,1 --transports bogus",
	    "transports --cpus 0,1 --transports shmbus,",
	    "transports --cpus 0,1 --transports ''",
	    "transports --cpus 0",
	    "transports",
	    "transports --cpus 0,1 --iterations 0",
	    "transports --cpus 0,1 --rounds 0",
	    "transports --cpus 0,1 --wait sometimes",
	    "transports --cpus 0,1 --hgrm ''",
	    "transports --cpus 0,1 stray",
	    "pingpong --cpus 0,1 --transports pipe",
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(args, sizeof(args), "%s", bad[i]);
		print_message("bad: %s\n", args);
		assert_int_equal(bt_run(e, args), 2);
		assert_true(bt_dir_empty(e->bus_dir));
	}
#ifndef SHMBUS_BENCH_HAVE_ZMQ
	assert_int_equal(bt_run(e, "transports --cpus 0,1 --transports zmq"), 2);
#endif
#ifndef SHMBUS_BENCH_HAVE_ICEORYX
	assert_int_equal(bt_run(e, "transports --cpus 0,1 --transports iceoryx"), 2);
#endif
	assert_true(bt_dir_empty(e->bus_dir));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_bench_transports_bad_options_exit_2, tbt_setup,
	                                    bt_teardown),
	    cmocka_unit_test_setup_teardown(test_bench_transports_table_subset, tbt_setup,
	                                    bt_teardown),
	    cmocka_unit_test_setup_teardown(test_bench_transports_json_and_hgrm, tbt_setup,
	                                    bt_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
