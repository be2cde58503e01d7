/*
 * test_bench_scenarios.c - `shmbus-bench oneway`, `fanout` and `pipeline`
 * (and pingpong's --hgrm) as a user runs them: tiny sizes, a yielding wait
 * (the test's two cores may be shared and loaded), the JSON's shape and
 * self-consistency (counts equal the iterations, p50 <= p99 <= max,
 * nothing lost), the .hgrm files with their HdrHistogram footer and every
 * round merged, and usage errors that exit 2 and leave no bus behind.
 * Timings are never asserted: benchmarks report numbers, tests check the
 * plumbing.
 *
 * The binary comes from CMake (SHMBUS_BENCH_BIN); each test gets its own
 * SHMBUS_DIR and output folder under $TMPDIR.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_test_util.h"

#define TBS_ITER   2000
#define TBS_ROUNDS 2

static int tbs_setup(void **state)
{
	return bt_setup(state, "tbs");
}

/* Where `anchor` starts in s (after `from` when not NULL); fails the test
 * when absent. */
static const char *tbs_find(const char *s, const char *anchor)
{
	const char *p = strstr(s, anchor);

	if (!p)
		print_message("missing in the output: %s\n", anchor);
	assert_non_null(p);
	return p;
}

/* The number after "key": at or after s. */
static double tbs_num(const char *s, const char *key)
{
	char pat[64];
	const char *p;

	snprintf(pat, sizeof(pat), "\"%s\":", key);
	p = tbs_find(s, pat);
	return strtod(p + strlen(pat), NULL);
}

/* A latency object at s: count, and p50 <= p90 <= p99 <= p99.9 <= max. */
static void tbs_check_lat(const char *s, double count)
{
	double p50 = tbs_num(s, "p50_ns"), p99 = tbs_num(s, "p99_ns");

	assert_true(tbs_num(s, "count") == count);
	assert_true(p50 >= 0);
	assert_true(p50 <= tbs_num(s, "p90_ns"));
	assert_true(tbs_num(s, "p90_ns") <= p99);
	assert_true(p99 <= tbs_num(s, "p999_ns"));
	assert_true(tbs_num(s, "p999_ns") <= tbs_num(s, "max_ns"));
}

/* Every "lost": in s is 0, and there is at least one. */
static void tbs_check_nothing_lost(const char *s)
{
	int n = 0;

	for (const char *p = strstr(s, "\"lost\":"); p; p = strstr(p + 1, "\"lost\":"), n++)
		assert_true(strtod(p + strlen("\"lost\":"), NULL) == 0);
	assert_true(n > 0);
}

/* DIR/name.hgrm exists, has the HdrHistogram table and footer, and holds
 * `total` values. */
static void tbs_check_hgrm(struct bt_env *e, const char *name, long total)
{
	char path[400], hg[16384];

	snprintf(path, sizeof(path), "%s/%s.hgrm", e->hgrm, name);
	print_message("histogram %s\n", path);
	bt_read_hgrm(path, hg, sizeof(hg));
	assert_non_null(strstr(hg, "#[Buckets"));
	assert_int_equal(bt_hgrm_total(hg), total);
}

static void test_bench_scenarios_oneway_json_and_hgrm(void **state)
{
	struct bt_env *e = *state;
	static const char *const kinds[] = {"oneway-shmbus", "oneway-shmbus-uncorrected",
	                                    "oneway-cacheline", "oneway-cacheline-uncorrected"};
	char args[512];
	const char *s;

	snprintf(args, sizeof(args),
	         "oneway --cpus %s --rate 20000 --iterations %d --warmup 200 --rounds %d "
	         "--wait yield --json --hgrm '%s'",
	         e->cpus, TBS_ITER, TBS_ROUNDS, e->hgrm);
	assert_int_equal(bt_run(e, args), 0);
	tbs_find(e->out, "\"scenario\":\"oneway\"");
	tbs_find(e->out, "\"machine\":{");
	tbs_find(e->out, "\"command\":");
	tbs_find(e->out, "\"hgrm_unit\":\"ns\"");
	assert_true(tbs_num(e->out, "rate") == 20000);
	s = tbs_find(e->out, "\"shmbus\":{\"corrected\":{");
	tbs_check_lat(s, TBS_ITER);
	tbs_check_lat(tbs_find(s, "\"uncorrected\":{"), TBS_ITER);
	s = tbs_find(e->out, "\"baseline\":{\"corrected\":{");
	tbs_check_lat(s, TBS_ITER);
	tbs_check_lat(tbs_find(s, "\"uncorrected\":{"), TBS_ITER);
	assert_true(tbs_num(e->out, "ratio_p50") > 0);
	assert_true(tbs_num(e->out, "ratio_p99") > 0);
	s = tbs_find(e->out, "\"rounds\":[");
	tbs_find(s, "\"round\":2,\"kind\":\"shmbus\"");
	assert_true(tbs_num(s, "received") == TBS_ITER + 200);
	tbs_check_nothing_lost(s);
	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
		tbs_check_hgrm(e, kinds[i], TBS_ITER * TBS_ROUNDS);
	assert_true(bt_dir_empty(e->bus_dir));
}

static void test_bench_scenarios_fanout_latency(void **state)
{
	struct bt_env *e = *state;
	char args[512];
	const char *s;

	snprintf(args, sizeof(args),
	         "fanout --cpus %s --subscribers 2 --rate 20000 --iterations %d --warmup 200 "
	         "--rounds %d --wait yield --json --hgrm '%s'",
	         e->cpus, TBS_ITER, TBS_ROUNDS, e->hgrm);
	assert_int_equal(bt_run(e, args), 0);
	tbs_find(e->out, "\"scenario\":\"fanout\"");
	tbs_find(e->out, "\"mode\":\"latency\"");
	assert_true(tbs_num(e->out, "subscribers") == 2);
	s = tbs_find(e->out, "\"shmbus\":{");
	tbs_check_lat(tbs_find(s, "\"uncorrected\":{"), 2 * TBS_ITER);
	s = tbs_find(s, "\"subscribers\":[");
	tbs_check_lat(tbs_find(s, "{\"index\":0,"), TBS_ITER);
	tbs_check_lat(tbs_find(s, "{\"index\":1,"), TBS_ITER);
	s = tbs_find(e->out, "\"baseline\":{");
	tbs_check_lat(tbs_find(s, "\"corrected\":{"), 2 * TBS_ITER);
	assert_true(tbs_num(e->out, "ratio_p50") > 0);
	s = tbs_find(e->out, "\"rounds\":[");
	tbs_check_nothing_lost(s);
	tbs_check_hgrm(e, "fanout-shmbus", 2L * TBS_ITER * TBS_ROUNDS);
	tbs_check_hgrm(e, "fanout-shmbus-uncorrected", 2L * TBS_ITER * TBS_ROUNDS);
	tbs_check_hgrm(e, "fanout-cacheline", 2L * TBS_ITER * TBS_ROUNDS);
	tbs_check_hgrm(e, "fanout-cacheline-uncorrected", 2L * TBS_ITER * TBS_ROUNDS);
	assert_true(bt_dir_empty(e->bus_dir));
}

/* --baseline-stamp: the SPSC baseline stamps its events too; the report
 * says so and judges no target against it. */
static void test_bench_scenarios_throughput_baseline_stamp(void **state)
{
	struct bt_env *e = *state;
	char args[512];

	snprintf(args, sizeof(args),
	         "throughput --cpus %s --events 20000 --rounds 1 --baseline-stamp --json", e->cpus);
	assert_int_equal(bt_run(e, args), 0);
	tbs_find(e->out, "\"baseline_stamp\":true");
	tbs_find(e->out, "\"applies\":false");
	assert_true(tbs_num(e->out, "baseline_spsc") > 0);
	assert_true(tbs_num(e->out, "events_per_sec") > 0);
	assert_true(tbs_num(e->out, "lost") == 0);
	snprintf(args, sizeof(args), "throughput --cpus %s --events 20000 --rounds 1 --json",
	         e->cpus);
	assert_int_equal(bt_run(e, args), 0);
	tbs_find(e->out, "\"baseline_stamp\":false");
	tbs_find(e->out, "\"applies\":true");
	assert_true(bt_dir_empty(e->bus_dir));
}

static void test_bench_scenarios_fanout_throughput_table(void **state)
{
	struct bt_env *e = *state;
	char args[512];
	const char *s;

	/* Unpaced, JSON: the publisher's rate; nothing lost. */
	snprintf(args, sizeof(args),
	         "fanout --cpus %s --subscribers 3 --rate 0 --iterations 20000 --warmup 0 "
	         "--rounds 1 --wait yield --json",
	         e->cpus);
	assert_int_equal(bt_run(e, args), 0);
	tbs_find(e->out, "\"mode\":\"throughput\"");
	s = tbs_find(e->out, "\"shmbus\":{");
	assert_true(tbs_num(s, "send_rate") > 0);
	assert_true(tbs_num(e->out, "ratio_send_rate") > 0);
	s = tbs_find(e->out, "\"rounds\":[");
	tbs_find(s, "{\"index\":2,");
	assert_true(tbs_num(s, "received") == 20000);
	tbs_check_nothing_lost(s);
	/* Table, default wait: three processes on two cpus say adaptive. */
	snprintf(args, sizeof(args),
	         "fanout --cpus %s --rate 20000 --iterations 500 --warmup 0 --rounds 1", e->cpus);
	assert_int_equal(bt_run(e, args), 0);
	tbs_find(e->out, "machine:");
	tbs_find(e->out, "command:");
	tbs_find(e->out, "wait adaptive (default: the processes outnumber the cpus");
	tbs_find(e->out, "r1 shmbus s1");
	tbs_find(e->out, "median shmbus all");
	tbs_find(e->out, "ratio shmbus/cacheline");
	assert_true(bt_dir_empty(e->bus_dir));
}

static void test_bench_scenarios_pipeline_json_and_hgrm(void **state)
{
	struct bt_env *e = *state;
	static const char *const figs[] = {"end_to_end", "trade_to_indicator",
	                                   "indicator_to_threshold"};
	static const char *const files[] = {"pipeline-shmbus",
	                                    "pipeline-shmbus-trade-indicator",
	                                    "pipeline-shmbus-indicator-threshold",
	                                    "pipeline-cacheline",
	                                    "pipeline-cacheline-trade-indicator",
	                                    "pipeline-cacheline-indicator-threshold"};
	char args[512], pat[64];
	const char *s, *b;

#ifndef SHMBUS_BENCH_HAVE_PIPELINE
	skip(); /* built without services/ta and services/threshold */
#endif
	snprintf(args, sizeof(args),
	         "pipeline --cpus %s --rate 10000 --iterations %d --warmup 100 --rounds %d "
	         "--wait yield --json --hgrm '%s'",
	         e->cpus, TBS_ITER / 2, TBS_ROUNDS, e->hgrm);
	assert_int_equal(bt_run(e, args), 0);
	tbs_find(e->out, "\"scenario\":\"pipeline\"");
	tbs_find(e->out, "\"rules\":");
	s = tbs_find(e->out, "\"shmbus\":{");
	b = tbs_find(e->out, "\"baseline\":{");
	for (size_t i = 0; i < sizeof(figs) / sizeof(figs[0]); i++) {
		snprintf(pat, sizeof(pat), "\"%s\":{", figs[i]);
		tbs_check_lat(tbs_find(s, pat), TBS_ITER / 2);
		tbs_check_lat(tbs_find(b, pat), TBS_ITER / 2);
	}
	assert_true(tbs_num(e->out, "ratio_p50") > 0);
	s = tbs_find(e->out, "\"rounds\":[");
	tbs_find(s, "\"round\":2,\"kind\":\"shmbus\"");
	/* Every trade reached ta; each bar but the first fired one rule. */
	assert_true(tbs_num(s, "trades") == TBS_ITER / 2 + 100 + 2);
	assert_true(tbs_num(s, "bars") == TBS_ITER / 2 + 100 + 1);
	assert_true(tbs_num(s, "indicators") > tbs_num(s, "bars"));
	assert_true(tbs_num(s, "thresholds_published") == TBS_ITER / 2 + 100);
	assert_true(tbs_num(s, "thresholds_received") == tbs_num(s, "thresholds_published"));
	assert_true(tbs_num(s, "measured") == TBS_ITER / 2);
	tbs_check_nothing_lost(s);
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++)
		tbs_check_hgrm(e, files[i], (long)TBS_ITER / 2 * TBS_ROUNDS);
	assert_true(bt_dir_empty(e->bus_dir));
}

static void test_bench_scenarios_pingpong_hgrm(void **state)
{
	struct bt_env *e = *state;
	char args[512];

	snprintf(args, sizeof(args),
	         "pingpong --cpus %s --iterations %d --warmup 200 --rounds %d --wait yield "
	         "--hgrm '%s'",
	         e->cpus, TBS_ITER, TBS_ROUNDS, e->hgrm);
	assert_int_equal(bt_run(e, args), 0);
	tbs_find(e->out, "pingpong-{shmbus,cacheline}.hgrm");
	tbs_check_hgrm(e, "pingpong-shmbus", TBS_ITER * TBS_ROUNDS);
	tbs_check_hgrm(e, "pingpong-cacheline", TBS_ITER * TBS_ROUNDS);
	assert_true(bt_dir_empty(e->bus_dir));
}

/* A cpu named twice is one core: with more processes than distinct cpus
 * the default wait is adaptive (as --help says), not a spin that starves
 * the process sharing the core. */
static void test_bench_scenarios_default_wait_counts_distinct_cpus(void **state)
{
	struct bt_env *e = *state;
	static const char *const runs[] = {
	    "throughput --cpus 0,0 --events 200 --rounds 1 --json",
	    "pingpong --cpus 0,0 --iterations 20 --warmup 0 --rounds 1 --json",
	    "transports --cpus 0,0 --transports shmbus,cacheline --iterations 20 --warmup 0 "
	    "--rounds 1 --json",
	};

	for (size_t i = 0; i < sizeof(runs) / sizeof(runs[0]); i++) {
		print_message("run: %s\n", runs[i]);
		assert_int_equal(bt_run(e, runs[i]), 0);
		tbs_find(e->out, "\"wait\":\"adaptive\"");
	}
	/* Given, it is kept. */
	assert_int_equal(bt_run(e, "throughput --cpus 0,0 --events 200 --rounds 1 --wait yield "
	                           "--json"),
	                 0);
	tbs_find(e->out, "\"wait\":\"yield\"");
	assert_true(bt_dir_empty(e->bus_dir));
}

/* Built without the pipeline (no services/ta or services/threshold), the
 * tool still runs every other scenario; pipeline alone is a usage error. */
static void test_bench_scenarios_without_pipeline_build(void **state)
{
	struct bt_env *e = *state;
	char args[512];

	snprintf(args, sizeof(args),
	         "pingpong --cpus %s --iterations 20 --warmup 0 --rounds 1 --wait yield --json",
	         e->cpus);
	assert_int_equal(bt_run_bin(e, SHMBUS_BENCH_NOPIPELINE_BIN, args), 0);
	tbs_find(e->out, "\"scenario\":\"pingpong\"");
	assert_int_equal(bt_run_bin(e, SHMBUS_BENCH_NOPIPELINE_BIN, "throughput --help"), 0);
	assert_int_equal(bt_run_bin(e, SHMBUS_BENCH_NOPIPELINE_BIN, "oneway --help"), 0);
	assert_int_equal(bt_run_bin(e, SHMBUS_BENCH_NOPIPELINE_BIN, "pipeline --cpus 0,1"), 2);
	assert_int_equal(bt_run_bin(e, SHMBUS_BENCH_NOPIPELINE_BIN, "bogus --cpus 0,1"), 2);
	assert_true(bt_dir_empty(e->bus_dir));
}

static void test_bench_scenarios_bad_options_exit_2(void **state)
{
	struct bt_env *e = *state;
	const char *bad[] = {
	    "oneway --cpus 0,1 --rate -1",
	    "oneway --cpus 0,1 --rate abc",
	    "oneway --cpus 0,1 --rate 0",
	    "oneway --cpus 0",
	    "oneway --cpus 0,1 --iterations 100 --duration 1",
	    "oneway --cpus 0,1 --no-timestamp",
	    "oneway --cpus 0,1 --subscribers 2",
	    "fanout --cpus 0,1 --subscribers 0",
	    "fanout --cpus 0,1 --subscribers 17",
	    "fanout --cpus 0,1 --rate 0 --duration 1",
	    "fanout --cpus 0,1 --duration 0",
#ifdef SHMBUS_BENCH_HAVE_PIPELINE
	    "pipeline --cpus 0,1 --slot-size 64",
	    "pipeline --cpus 0,1 --rate 0",
	    /* its rings form a cycle: fewer slots than a trade's cascade
	     * deadlocked until --timeout */
	    "pipeline --cpus 0,1 --capacity 8",
#endif
	    "pipeline",
	    "pingpong --cpus 0,1 --rate 1000",
	    "throughput --cpus 0,1 --duration 5",
	    "throughput --cpus 0,1 --producers 2 --single-producer",
	    "pingpong --cpus 0,1 --baseline-stamp",
	    "bogus --cpus 0,1",
	    "oneway --cpus 0,1 stray",
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		print_message("bad: %s\n", bad[i]);
		assert_int_equal(bt_run(e, bad[i]), 2);
		assert_true(bt_dir_empty(e->bus_dir));
	}
}

/* An option the scenario does not use is a usage error that names both:
 * some were refused while others were silently ignored (pingpong --events
 * ran its 100000 default round trips). Each command, if accepted, runs in a
 * moment; the --hgrm ones must not create the folder either. */
static void test_bench_scenarios_unused_option_exit_2(void **state)
{
	struct bt_env *e = *state;
	static const struct {
		const char *args, *want;
	} bad[] = {
	    {"pingpong --cpus %s --iterations 20 --warmup 0 --rounds 1 --wait yield --events 5",
	     "--events does not apply to pingpong"},
	    {"pingpong --cpus %s --iterations 20 --warmup 0 --rounds 1 --wait yield "
	     "--producer-batch 1",
	     "--producer-batch does not apply to pingpong"},
	    {"compare --cpus %s --transports cacheline --iterations 20 --warmup 0 --rounds 1 "
	     "--wait yield --spsc-batch 4",
	     "--spsc-batch does not apply to transports"},
	    {"throughput --cpus %s --events 200 --rounds 1 --wait yield --iterations 5",
	     "--iterations does not apply to throughput"},
	    {"throughput --cpus %s --events 200 --rounds 1 --wait yield --warmup 5",
	     "--warmup does not apply to throughput"},
	    {"oneway --cpus %s --rate 20000 --iterations 20 --warmup 0 --rounds 1 --wait yield "
	     "--consumer-batch 4",
	     "--consumer-batch does not apply to oneway"},
#ifdef SHMBUS_BENCH_HAVE_PIPELINE
	    {"pipeline --cpus %s --rate 10000 --iterations 20 --warmup 0 --rounds 1 --wait yield "
	     "--api claim",
	     "--api does not apply to pipeline"},
#endif
	    {"throughput --cpus %s --events 200 --rounds 1 --wait yield --hgrm",
	     "--hgrm does not apply to throughput"},
	    {"fanout --cpus %s --rate 0 --iterations 200 --warmup 0 --rounds 1 --wait yield --hgrm",
	     "--hgrm does not apply to fanout --rate 0"},
	};
	char args[512], path[400], err[1024];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int n = snprintf(args, sizeof(args), bad[i].args, e->cpus);

		if (strstr(bad[i].args, "--hgrm"))
			snprintf(args + n, sizeof(args) - (size_t)n, " '%s'", e->hgrm);
		print_message("bad: %s\n", args);
		assert_int_equal(bt_run(e, args), 2);
		snprintf(path, sizeof(path), "%s/stderr", e->dir);
		FILE *f = fopen(path, "r");
		assert_non_null(f);
		err[fread(err, 1, sizeof(err) - 1, f)] = '\0';
		fclose(f);
		tbs_find(err, bad[i].want);
		assert_int_equal(access(e->hgrm, F_OK), -1);
		assert_true(bt_dir_empty(e->bus_dir));
	}
}

/* A usage error exits 2 and touches nothing: not even the --hgrm folder,
 * which was created before the last checks of the command line ran. */
static void test_bench_scenarios_usage_error_creates_no_hgrm_dir(void **state)
{
	struct bt_env *e = *state;
	const char *bad[] = {
	    "throughput --cpus 0,1 --producers 2 --single-producer",
	    "throughput --cpus 0,1 --producers 2 --events 1",
	};
	char args[512];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(args, sizeof(args), "%s --hgrm '%s'", bad[i], e->hgrm);
		print_message("bad: %s\n", args);
		assert_int_equal(bt_run(e, args), 2);
		assert_int_equal(access(e->hgrm, F_OK), -1);
		assert_true(bt_dir_empty(e->bus_dir));
	}
}

/* --hgrm naming a file, not a folder, is a usage error found before the
 * run: it ran every round and then failed to write, exit 1. */
static void test_bench_scenarios_hgrm_file_is_usage_error(void **state)
{
	struct bt_env *e = *state;
	char args[512];
	FILE *f = fopen(e->hgrm, "w");

	assert_non_null(f);
	fclose(f);
	snprintf(args, sizeof(args),
	         "pingpong --cpus %s --iterations 20 --warmup 0 --rounds 1 --wait yield --json "
	         "--hgrm '%s'",
	         e->cpus, e->hgrm);
	assert_int_equal(bt_run(e, args), 2);
	assert_string_equal(e->out, "");
	assert_true(bt_dir_empty(e->bus_dir));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_bench_scenarios_bad_options_exit_2, tbs_setup,
	                                    bt_teardown),
	    cmocka_unit_test_setup_teardown(test_bench_scenarios_usage_error_creates_no_hgrm_dir,
	                                    tbs_setup, bt_teardown),
	    cmocka_unit_test_setup_teardown(test_bench_scenarios_unused_option_exit_2, tbs_setup,
	                                    bt_teardown),
	    cmocka_unit_test_setup_teardown(test_bench_scenarios_hgrm_file_is_usage_error,
	                                    tbs_setup, bt_teardown),
	    cmocka_unit_test_setup_teardown(test_bench_scenarios_oneway_json_and_hgrm, tbs_setup,
	                                    bt_teardown),
	    cmocka_unit_test_setup_teardown(test_bench_scenarios_fanout_latency, tbs_setup,
	                                    bt_teardown),
	    cmocka_unit_test_setup_teardown(test_bench_scenarios_throughput_baseline_stamp,
	                                    tbs_setup, bt_teardown),
	    cmocka_unit_test_setup_teardown(test_bench_scenarios_fanout_throughput_table, tbs_setup,
	                                    bt_teardown),
	    cmocka_unit_test_setup_teardown(test_bench_scenarios_pipeline_json_and_hgrm, tbs_setup,
	                                    bt_teardown),
	    cmocka_unit_test_setup_teardown(test_bench_scenarios_pingpong_hgrm, tbs_setup,
	                                    bt_teardown),
	    cmocka_unit_test_setup_teardown(test_bench_scenarios_default_wait_counts_distinct_cpus,
	                                    tbs_setup, bt_teardown),
	    cmocka_unit_test_setup_teardown(test_bench_scenarios_without_pipeline_build, tbs_setup,
	                                    bt_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
