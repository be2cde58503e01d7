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
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define TBT_ITER   2000
#define TBT_ROUNDS 2

struct tbt_env {
	char dir[256];     /* the test's folder: bus dir, outputs */
	char bus_dir[300]; /* SHMBUS_DIR */
	char cpus[16];
	char out[1 << 16]; /* stdout of the last run */
};

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
	static struct tbt_env e;
	const char *tmp = getenv("TMPDIR");

	memset(&e, 0, sizeof(e));
	snprintf(e.dir, sizeof(e.dir), "%s/tbt-XXXXXX", tmp && tmp[0] ? tmp : "/tmp");
	if (!mkdtemp(e.dir))
		return -1;
	snprintf(e.bus_dir, sizeof(e.bus_dir), "%s/bus", e.dir);
	if (mkdir(e.bus_dir, 0700) < 0)
		return -1;
	setenv("SHMBUS_DIR", e.bus_dir, 1);
	/* Two cores when there are two; one shared core otherwise. */
	snprintf(e.cpus, sizeof(e.cpus), "%s", sysconf(_SC_NPROCESSORS_ONLN) >= 2 ? "0,1" : "0,0");
	*state = &e;
	return 0;
}

static int tbt_teardown(void **state)
{
	struct tbt_env *e = *state;
	char cmd[600];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", e->dir);
	return system(cmd) == 0 ? 0 : -1;
}

/* Run shmbus-bench with args; stdout into e->out. Returns the exit status. */
static int tbt_run(struct tbt_env *e, const char *args)
{
	char cmd[1024], path[300];
	FILE *f;
	size_t n;
	int st;

	snprintf(path, sizeof(path), "%s/stdout", e->dir);
	snprintf(cmd, sizeof(cmd), "'%s' %s > '%s' 2> '%s/stderr'", SHMBUS_BENCH_BIN, args, path,
	         e->dir);
	st = system(cmd);
	f = fopen(path, "r");
	n = f ? fread(e->out, 1, sizeof(e->out) - 1, f) : 0;
	e->out[n] = '\0';
	if (f)
		fclose(f);
	if (st != -1 && WIFEXITED(st) && WEXITSTATUS(st) != 0) {
		char err[2048];

		snprintf(path, sizeof(path), "%s/stderr", e->dir);
		f = fopen(path, "r");
		n = f ? fread(err, 1, sizeof(err) - 1, f) : 0;
		err[n] = '\0';
		if (f)
			fclose(f);
		print_message("shmbus-bench %s: exit %d: %s", args, WEXITSTATUS(st), err);
	}
	return st == -1 || !WIFEXITED(st) ? -1 : WEXITSTATUS(st);
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

static int tbt_dir_empty(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int n = 0;

	if (!d)
		return 1;
	while ((de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			n++;
	closedir(d);
	return n == 0;
}

static void test_bench_transports_json_and_hgrm(void **state)
{
	struct tbt_env *e = *state;
	char args[512], path[400], hg[8192];

	snprintf(args, sizeof(args),
	         "transports --cpus %s --iterations %d --warmup 200 --rounds %d --wait yield "
	         "--json --hgrm '%s/hgrm'",
	         e->cpus, TBT_ITER, TBT_ROUNDS, e->dir);
	assert_int_equal(tbt_run(e, args), 0);
	assert_non_null(strstr(e->out, "\"scenario\":\"transports\""));
	assert_non_null(strstr(e->out, "\"machine\":{"));
	assert_non_null(strstr(e->out, "\"command\":"));
	assert_non_null(strstr(e->out, "\"hgrm_unit\":\"ns\""));
	assert_non_null(strstr(e->out, "\"targets\":["));
	assert_non_null(strstr(e->out, "\"verdict\":"));
	for (size_t i = 0; i < TBT_N; i++) {
		const char *rounds, *o = tbt_transport(e->out, tbt_transports[i], &rounds);
		double p50, p99, max;
		FILE *f;
		size_t n;

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
		f = fopen(path, "r");
		assert_non_null(f);
		n = fread(hg, 1, sizeof(hg) - 1, f);
		hg[n] = '\0';
		fclose(f);
		assert_non_null(strstr(hg, "Value"));
		const char *mean = strstr(hg, "#[Mean"), *total = strstr(hg, "Total count    =");
		assert_non_null(mean);
		assert_non_null(total);
		assert_int_equal(strtol(total + strlen("Total count    ="), NULL, 10),
		                 TBT_ITER * TBT_ROUNDS);
	}
	/* shmbus's ratio to itself is 1; the bus is gone after the run. */
	{
		const char *rounds, *o = tbt_transport(e->out, "shmbus", &rounds);

		assert_true(tbt_num(o, rounds, "ratio_p50") == 1.0);
	}
	assert_true(tbt_dir_empty(e->bus_dir));
}

static void test_bench_transports_table_subset(void **state)
{
	struct tbt_env *e = *state;
	char args[256];

	snprintf(args, sizeof(args),
	         "compare --cpus %s --iterations 500 --warmup 50 --rounds 1 --wait yield "
	         "--transports pipe,shmbus",
	         e->cpus);
	assert_int_equal(tbt_run(e, args), 0);
	assert_non_null(strstr(e->out, "targets (issue 7)"));
	assert_non_null(strstr(e->out, "r1 pipe"));
	assert_non_null(strstr(e->out, "r1 shmbus"));
	assert_null(strstr(e->out, "r1 unix"));
	assert_non_null(strstr(e->out, "lower than pipe"));
	assert_true(tbt_dir_empty(e->bus_dir));
}

static void test_bench_transports_bad_options_exit_2(void **state)
{
	struct tbt_env *e = *state;
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
		assert_int_equal(tbt_run(e, args), 2);
		assert_true(tbt_dir_empty(e->bus_dir));
	}
#ifndef SHMBUS_BENCH_HAVE_ZMQ
	assert_int_equal(tbt_run(e, "transports --cpus 0,1 --transports zmq"), 2);
#endif
#ifndef SHMBUS_BENCH_HAVE_ICEORYX
	assert_int_equal(tbt_run(e, "transports --cpus 0,1 --transports iceoryx"), 2);
#endif
	assert_true(tbt_dir_empty(e->bus_dir));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_bench_transports_bad_options_exit_2, tbt_setup,
	                                    tbt_teardown),
	    cmocka_unit_test_setup_teardown(test_bench_transports_table_subset, tbt_setup,
	                                    tbt_teardown),
	    cmocka_unit_test_setup_teardown(test_bench_transports_json_and_hgrm, tbt_setup,
	                                    tbt_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
