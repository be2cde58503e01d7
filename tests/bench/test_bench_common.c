/*
 * test_bench_common.c - bench_common.c's JSON writers and latency summary
 * on their own, with no benchmark run: a ratio keeps its significant digits whatever its
 * size (the scenarios wrote every ratio with three decimals, so a ratio
 * of 0.00047 read 0.000, and one of 0.0004 failed "ratio > 0" checks).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_common.h"

/* What bench_json_ratio writes for v, into buf[len]. */
static void tbc_ratio(double v, char *buf, size_t len)
{
	FILE *f = fmemopen(buf, len, "w");

	assert_non_null(f);
	bench_json_ratio(f, "ratio_p50", v);
	assert_int_equal(fclose(f), 0);
}

static void test_bench_common_ratio_keeps_significant_digits(void **state)
{
	static const struct {
		double v;
		const char *want;
	} cases[] = {
	    {0.00047, ",\"ratio_p50\":0.00047"}, {0.0123456, ",\"ratio_p50\":0.01235"},
	    {1.256, ",\"ratio_p50\":1.256"},     {0.5, ",\"ratio_p50\":0.5"},
	    {1234.4, ",\"ratio_p50\":1234"},     {0, ",\"ratio_p50\":0"},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char got[64];

		tbc_ratio(cases[i].v, got, sizeof(got));

		if (strcmp(got, cases[i].want) != 0)
			fail_msg("ratio %g: wrote '%s', want '%s'", cases[i].v, got, cases[i].want);
		/* what a JSON reader gets back is the ratio, to 4 digits */
		double back = strtod(strchr(got, ':') + 1, NULL);
		assert_true(back >= cases[i].v * 0.9995 && back <= cases[i].v * 1.0005);
	}
}

/* What bench_json_str writes for s, into buf[len]. */
static void tbc_str(const char *s, char *buf, size_t len)
{
	FILE *f = fmemopen(buf, len, "w");

	assert_non_null(f);
	bench_json_str(f, s);
	assert_int_equal(fclose(f), 0);
}

/* JSON is UTF-8: a path or argument with a byte that is no UTF-8 (a
 * Latin-1 folder name, a command line cut inside a character) was copied
 * as is, and python3 -m json.tool refused the whole report. */
static void test_bench_common_json_str_writes_only_utf8(void **state)
{
	static const struct {
		const char *s, *want;
	} cases[] = {
	    {"/tmp/h\xe9", "\"/tmp/h\\u00e9\""},           /* Latin-1 e-acute */
	    {"caf\xc3\xa9", "\"caf\xc3\xa9\""},            /* UTF-8 kept */
	    {"\xe2\x82\xac 5", "\"\xe2\x82\xac 5\""},      /* euro sign kept */
	    {"cut \xe2\x82", "\"cut \\u00e2\\u0082\""},    /* truncated */
	    {"\xc0\xaf", "\"\\u00c0\\u00af\""},            /* overlong '/' */
	    {"\xed\xa0\x80", "\"\\u00ed\\u00a0\\u0080\""}, /* surrogate */
	    {"\xf0\x9f\x98\x80", "\"\xf0\x9f\x98\x80\""},  /* 4 bytes kept */
	    {"a\"b\\\n", "\"a\\\"b\\\\\\u000a\""},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char got[64];

		tbc_str(cases[i].s, got, sizeof(got));
		if (strcmp(got, cases[i].want) != 0)
			fail_msg("case %zu: wrote '%s', want '%s'", i, got, cases[i].want);
	}
}

/* A negative sample counts as 0 in every figure: the percentiles clamped it
 * but min started from the unclamped first sample, so min read -5 below a
 * p50 of 10. */
static void test_bench_common_lat_min_clamps_negative_first_sample(void **state)
{
	int64_t samples[] = {-5, 10, 20};
	struct bench_lat lat;

	(void)state;
	assert_int_equal(bench_lat_compute(samples, 3, &lat), 0);
	assert_int_equal(lat.count, 3);
	assert_int_equal(lat.min, 0);
	assert_int_equal(lat.p50, 10);
	assert_int_equal(lat.max, 20);
	assert_true(lat.mean == 10.0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_bench_common_ratio_keeps_significant_digits),
	    cmocka_unit_test(test_bench_common_json_str_writes_only_utf8),
	    cmocka_unit_test(test_bench_common_lat_min_clamps_negative_first_sample),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
