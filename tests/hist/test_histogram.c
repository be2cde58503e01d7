/*
 * test_histogram.c - unit tests of the HDR-style latency histogram.
 *
 * Expected figures come from HdrHistogram: the "classic" data set (10000 x 1000
 * plus one 100000000, 3 digits, highest 3600 * 1000 * 1000) and its
 * coordinated-omission corrected variant are HdrHistogram_c's
 * test/hdr_histogram_test.c vectors; the .hgrm row counts and the rows quoted
 * below were checked against HdrHistogram's JavaScript port (hdr-histogram-js
 * 3.0.1, outputPercentileDistribution(5, 1)) on the same data.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shmbus/histogram.h"

#define CLASSIC_HIGHEST (INT64_C(3600) * 1000 * 1000)

/* |actual - expected| <= expected * 0.001, as HdrHistogram_c's compare_percentile */
static void assert_near(int64_t actual, double expected)
{
	if (fabs((double)actual - expected) > expected * 0.001)
		fail_msg("%lld is not within 0.1%% of %.0f", (long long)actual, expected);
}

static struct shmbus_hist *new_hist(int64_t lowest, int64_t highest, int sigfigs)
{
	struct shmbus_hist *h = NULL;
	assert_int_equal(shmbus_hist_create(lowest, highest, sigfigs, &h), 0);
	assert_non_null(h);
	return h;
}

static struct shmbus_hist *classic_raw(void)
{
	struct shmbus_hist *h = new_hist(1, CLASSIC_HIGHEST, 3);
	for (int i = 0; i < 10000; i++)
		assert_true(shmbus_hist_record(h, 1000));
	assert_true(shmbus_hist_record(h, 100000000));
	return h;
}

static struct shmbus_hist *classic_corrected(void)
{
	struct shmbus_hist *h = new_hist(1, CLASSIC_HIGHEST, 3);
	for (int i = 0; i < 10000; i++)
		assert_true(shmbus_hist_record_corrected(h, 1000, 10000));
	assert_true(shmbus_hist_record_corrected(h, 100000000, 10000));
	return h;
}

static void test_histogram_create_rejects_bad_args(void **state)
{
	struct shmbus_hist *h = (struct shmbus_hist *)&h; /* must be reset to NULL */

	assert_int_equal(shmbus_hist_create(1, 1000, 3, NULL), -EINVAL);
	assert_int_equal(shmbus_hist_create(0, 64 * 1024, 2, &h), -EINVAL);
	assert_null(h);
	assert_int_equal(shmbus_hist_create(-5, 64 * 1024, 2, &h), -EINVAL);
	assert_int_equal(shmbus_hist_create(1, 1000, 0, &h), -EINVAL);
	assert_int_equal(shmbus_hist_create(1, 1000, 6, &h), -EINVAL);
	assert_int_equal(shmbus_hist_create(80, 110, 5, &h), -EINVAL); /* highest < 2*lowest */
	assert_int_equal(shmbus_hist_create(1, INT64_MAX, 3, &h), -EINVAL);
	assert_int_equal(shmbus_hist_create(INT64_C(1) << 50, INT64_C(1) << 60, 5, &h), -EINVAL);
	assert_null(h);
}

static void test_histogram_create_layout_matches_hdr(void **state)
{
	struct shmbus_hist *h = new_hist(1, CLASSIC_HIGHEST, 3);

	/* HdrHistogram_c test_create: counts_len 23552 for 1 .. 3.6e9 at 3 digits */
	assert_int_equal(shmbus_hist_counts_len(h), 23552);
	assert_int_equal(shmbus_hist_sub_bucket_count(h), 2048);
	assert_int_equal(shmbus_hist_bucket_count(h), 22);
	assert_int_equal(shmbus_hist_sigfigs(h), 3);
	assert_int_equal(shmbus_hist_lowest(h), 1);
	assert_int_equal(shmbus_hist_highest(h), CLASSIC_HIGHEST);
	shmbus_hist_destroy(h);

	for (int s = 1; s <= 5; s++) { /* 1 ns .. 1 hour at every precision */
		h = new_hist(1, SHMBUS_HIST_HOUR_NS, s);
		assert_true(shmbus_hist_record(h, 1));
		assert_true(shmbus_hist_record(h, SHMBUS_HIST_HOUR_NS));
		assert_false(shmbus_hist_record(h, SHMBUS_HIST_HOUR_NS + 1));
		assert_int_equal(shmbus_hist_total_count(h), 2);
		assert_true(
		    shmbus_hist_values_equivalent(h, shmbus_hist_max(h), SHMBUS_HIST_HOUR_NS));
		shmbus_hist_destroy(h);
	}
	shmbus_hist_destroy(NULL); /* no-op */
}

static void test_histogram_sequence_percentiles(void **state)
{
	struct shmbus_hist *h = new_hist(1, SHMBUS_HIST_HOUR_NS, 3);

	for (int64_t v = 1; v <= 10000; v++)
		assert_true(shmbus_hist_record(h, v));
	assert_int_equal(shmbus_hist_total_count(h), 10000);
	assert_int_equal(shmbus_hist_min(h), 1);
	/* reported values are the highest equivalents of the exact ranks */
	assert_true(
	    shmbus_hist_values_equivalent(h, shmbus_hist_value_at_percentile(h, 50.0), 5000));
	assert_true(
	    shmbus_hist_values_equivalent(h, shmbus_hist_value_at_percentile(h, 99.0), 9900));
	assert_true(shmbus_hist_values_equivalent(h, shmbus_hist_max(h), 10000));
	assert_int_equal(shmbus_hist_value_at_percentile(h, 50.0), 5003);
	assert_int_equal(shmbus_hist_value_at_percentile(h, 99.0), 9903);
	assert_int_equal(shmbus_hist_value_at_percentile(h, 100.0), 10007);
	assert_int_equal(shmbus_hist_value_at_percentile(h, 0.0), 1);
	assert_int_equal(shmbus_hist_max(h), 10007);
	assert_near(shmbus_hist_value_at_percentile(h, 50.0), 5000);
	assert_near(shmbus_hist_value_at_percentile(h, 99.0), 9900);
	assert_near(shmbus_hist_max(h), 10000);
	shmbus_hist_destroy(h);
}

static void test_histogram_classic_raw_vectors(void **state)
{
	struct shmbus_hist *h = classic_raw();

	assert_int_equal(shmbus_hist_total_count(h), 10001);
	assert_int_equal(shmbus_hist_min(h), 1000);
	assert_true(shmbus_hist_values_equivalent(h, shmbus_hist_max(h), 100000000));
	assert_near(shmbus_hist_value_at_percentile(h, 30.0), 1000.0);
	assert_near(shmbus_hist_value_at_percentile(h, 99.0), 1000.0);
	assert_near(shmbus_hist_value_at_percentile(h, 99.99), 1000.0);
	assert_near(shmbus_hist_value_at_percentile(h, 99.999), 100000000.0);
	assert_near(shmbus_hist_value_at_percentile(h, 100.0), 100000000.0);
	assert_true(
	    shmbus_hist_values_equivalent(h, shmbus_hist_value_at_percentile(h, 99.99), 1000));
	assert_true(shmbus_hist_values_equivalent(h, shmbus_hist_value_at_percentile(h, 99.999),
	                                          100000000));
	assert_int_equal(shmbus_hist_rejected(h), 0);
	shmbus_hist_destroy(h);
}

static void test_histogram_classic_corrected_vectors(void **state)
{
	struct shmbus_hist *h = classic_corrected();

	assert_int_equal(shmbus_hist_total_count(h), 20000);
	assert_int_equal(shmbus_hist_min(h), 1000);
	assert_true(shmbus_hist_values_equivalent(h, shmbus_hist_max(h), 100000000));
	assert_near(shmbus_hist_value_at_percentile(h, 30.0), 1000.0);
	assert_near(shmbus_hist_value_at_percentile(h, 50.0), 1000.0);
	assert_near(shmbus_hist_value_at_percentile(h, 75.0), 50000000.0);
	assert_near(shmbus_hist_value_at_percentile(h, 90.0), 80000000.0);
	assert_near(shmbus_hist_value_at_percentile(h, 99.0), 98000000.0);
	assert_near(shmbus_hist_value_at_percentile(h, 99.999), 100000000.0);
	assert_near(shmbus_hist_value_at_percentile(h, 100.0), 100000000.0);
	/* the synthesised samples run down to exactly the interval */
	assert_int_equal(shmbus_hist_count_at(h, 10000), 1);
	assert_int_equal(shmbus_hist_count_at(h, 9999), 0);
	shmbus_hist_destroy(h);
}

/* The bulk correction must count exactly what a sample-by-sample loop counts. */
static void test_histogram_corrected_matches_per_sample_loop(void **state)
{
	static const int64_t cases[][2] = {
	    {100000000, 10000}, {12345678, 1}, {5000, 7}, {4096, 4096},
	    {4097, 4096},       {999999, 3},   {2047, 1}, {SHMBUS_HIST_HOUR_NS / 1000, 999983},
	    {100, 0},           {100, -5},     {1, 1},    {65536, 2048},
	};
	for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		int64_t v = cases[c][0], iv = cases[c][1];
		struct shmbus_hist *bulk = new_hist(1, SHMBUS_HIST_HOUR_NS, 2);
		struct shmbus_hist *loop = new_hist(1, SHMBUS_HIST_HOUR_NS, 2);
		assert_true(shmbus_hist_record_corrected(bulk, v, iv));
		assert_true(shmbus_hist_record(loop, v));
		for (int64_t m = v - iv; iv > 0 && v > iv && m >= iv; m -= iv)
			assert_true(shmbus_hist_record(loop, m));

		struct shmbus_hist_iter a, b;
		struct shmbus_hist_bucket ba, bb;
		assert_int_equal(shmbus_hist_iter_init(&a, bulk), 0);
		assert_int_equal(shmbus_hist_iter_init(&b, loop), 0);
		while (shmbus_hist_iter_next(&b, &bb)) {
			assert_true(shmbus_hist_iter_next(&a, &ba));
			assert_int_equal(ba.value_lo, bb.value_lo);
			assert_int_equal(ba.count, bb.count);
		}
		assert_false(shmbus_hist_iter_next(&a, &ba));
		assert_int_equal(shmbus_hist_total_count(bulk), shmbus_hist_total_count(loop));
		assert_int_equal(shmbus_hist_min(bulk), shmbus_hist_min(loop));
		assert_int_equal(shmbus_hist_max(bulk), shmbus_hist_max(loop));
		shmbus_hist_destroy(bulk);
		shmbus_hist_destroy(loop);
	}
}

/* A one-hour stall at a 1 ns interval: 3.6e12 samples, counted per bucket. */
static void test_histogram_corrected_huge_stall(void **state)
{
	struct shmbus_hist *h = new_hist(1, SHMBUS_HIST_HOUR_NS, 3);

	assert_true(shmbus_hist_record_corrected(h, SHMBUS_HIST_HOUR_NS, 1));
	assert_int_equal(shmbus_hist_total_count(h), SHMBUS_HIST_HOUR_NS);
	assert_int_equal(shmbus_hist_min(h), 1);
	assert_int_equal(shmbus_hist_count_at(h, 1), 1);
	assert_near(shmbus_hist_value_at_percentile(h, 50.0), SHMBUS_HIST_HOUR_NS / 2.0);
	/* an out-of-range value records nothing, synthesised samples included */
	assert_false(shmbus_hist_record_corrected(h, SHMBUS_HIST_HOUR_NS + 1, 1));
	assert_int_equal(shmbus_hist_total_count(h), SHMBUS_HIST_HOUR_NS);
	assert_int_equal(shmbus_hist_rejected(h), 1);
	shmbus_hist_destroy(h);
}

static void test_histogram_out_of_range_counted(void **state)
{
	struct shmbus_hist *h = new_hist(1, 1000, 4);

	assert_true(shmbus_hist_record(h, 1000));
	assert_false(shmbus_hist_record(h, 1001));
	assert_false(shmbus_hist_record(h, -1));
	assert_false(shmbus_hist_record(h, INT64_MIN));
	assert_false(shmbus_hist_record(h, INT64_MAX));
	assert_int_equal(shmbus_hist_rejected(h), 4);
	assert_false(shmbus_hist_record_n(h, 2000, 5));
	assert_int_equal(shmbus_hist_rejected(h), 9);
	assert_false(shmbus_hist_record_n(h, 10, -1)); /* bad count: refused, not "rejected" */
	assert_true(shmbus_hist_record_n(h, 10, 0));
	assert_int_equal(shmbus_hist_rejected(h), 9);
	assert_int_equal(shmbus_hist_total_count(h), 1);
	assert_int_equal(shmbus_hist_count_at(h, 5000), 0);
	assert_false(shmbus_hist_record(NULL, 1));
	assert_false(shmbus_hist_record_n(NULL, 1, 1));
	assert_false(shmbus_hist_record_corrected(NULL, 1, 1));
	shmbus_hist_destroy(h);

	/* values below lowest are kept, in the first bucket (equivalent to 0) */
	h = new_hist(1000, 1000000, 3);
	assert_true(shmbus_hist_record(h, 5));
	assert_true(shmbus_hist_record(h, 0));
	assert_int_equal(shmbus_hist_total_count(h), 2);
	assert_int_equal(shmbus_hist_min(h), 0);
	assert_true(shmbus_hist_values_equivalent(h, 0, 5));
	shmbus_hist_destroy(h);
}

static void test_histogram_record_n_counts(void **state)
{
	struct shmbus_hist *h = new_hist(1, SHMBUS_HIST_HOUR_NS, 3);

	assert_true(shmbus_hist_record_n(h, 1000, 10000));
	assert_true(shmbus_hist_record_n(h, 100000000, 1));
	assert_int_equal(shmbus_hist_total_count(h), 10001);
	assert_int_equal(shmbus_hist_count_at(h, 1000), 10000);
	assert_near(shmbus_hist_value_at_percentile(h, 99.999), 100000000.0);
	assert_false(shmbus_hist_record_n(h, 5, INT64_MAX)); /* total would overflow */
	assert_int_equal(shmbus_hist_total_count(h), 10001);
	shmbus_hist_destroy(h);
}

/* A total near INT64_MAX: p/100 * total reaches 2^63, where the rank must not
 * wrap to the first bucket. */
static void test_histogram_percentile_of_huge_total(void **state)
{
	struct shmbus_hist *h = new_hist(1, 1000000, 3);

	assert_true(shmbus_hist_record_n(h, 10, INT64_MAX - 1));
	assert_true(shmbus_hist_record(h, 1000));
	assert_int_equal(shmbus_hist_total_count(h), INT64_MAX);
	assert_int_equal(shmbus_hist_value_at_percentile(h, 100.0), 1000);
	assert_int_equal(shmbus_hist_value_at_percentile(h, 99.9999), 10);
	assert_int_equal(shmbus_hist_value_at_percentile(h, 50.0), 10);
	assert_int_equal(shmbus_hist_max(h), 1000);
	shmbus_hist_destroy(h);
}

/* Counts stop at INT64_MAX: refused and counted as rejected, never wrapped. */
static void test_histogram_counts_do_not_wrap(void **state)
{
	struct shmbus_hist *h = new_hist(1, 1000, 3);
	struct shmbus_hist *g = new_hist(1, 1000, 3);

	assert_true(shmbus_hist_record_n(h, 5, INT64_MAX));
	assert_false(shmbus_hist_record(h, 6));
	assert_false(shmbus_hist_record_corrected(h, 6, 1));
	assert_int_equal(shmbus_hist_total_count(h), INT64_MAX);
	assert_int_equal(shmbus_hist_rejected(h), 2);
	assert_int_equal(shmbus_hist_value_at_percentile(h, 100.0), 5);

	assert_true(shmbus_hist_record_n(g, 7, 3));
	assert_int_equal(shmbus_hist_merge(h, g), 3); /* same layout, no room */
	assert_int_equal(shmbus_hist_total_count(h), INT64_MAX);
	assert_int_equal(shmbus_hist_rejected(h), 5);
	assert_int_equal(shmbus_hist_count_at(h, 7), 0);

	shmbus_hist_reset(g);
	assert_false(shmbus_hist_record_n(g, 5000, INT64_MAX));
	assert_false(shmbus_hist_record_n(g, 5000, INT64_MAX));
	assert_int_equal(shmbus_hist_rejected(g), INT64_MAX); /* saturated */
	shmbus_hist_destroy(h);
	shmbus_hist_destroy(g);
}

/* record_n out of range adds @n to rejected whatever the total (as its doc
 * says); it was refused uncounted when the total could not hold @n either. In
 * range, a total that cannot hold @n refuses it without counting it. */
static void test_histogram_record_n_rejects_out_of_range_near_full(void **state)
{
	struct shmbus_hist *h = new_hist(1, 1000, 3);

	assert_true(shmbus_hist_record_n(h, 5, INT64_MAX - 2));
	assert_false(shmbus_hist_record_n(h, 5000, 3));
	assert_int_equal(shmbus_hist_rejected(h), 3);
	assert_false(shmbus_hist_record_n(h, -1, 4));
	assert_int_equal(shmbus_hist_rejected(h), 7);
	assert_false(shmbus_hist_record_n(h, 7, 3));
	assert_int_equal(shmbus_hist_rejected(h), 7);
	assert_int_equal(shmbus_hist_total_count(h), INT64_MAX - 2);
	assert_int_equal(shmbus_hist_count_at(h, 7), 0);
	shmbus_hist_destroy(h);
}

/* record_corrected is all or nothing: when the missing samples do not fit in
 * the total, @v is refused (rejected once) and nothing is recorded; it was
 * recorded and the call still returned false. */
static void test_histogram_corrected_near_full_records_nothing(void **state)
{
	struct shmbus_hist *h = new_hist(1, 1000, 3);

	assert_true(shmbus_hist_record_n(h, 5, INT64_MAX - 5));
	assert_false(shmbus_hist_record_corrected(h, 100, 10)); /* 1 + 9 samples, room for 5 */
	assert_int_equal(shmbus_hist_total_count(h), INT64_MAX - 5);
	assert_int_equal(shmbus_hist_count_at(h, 100), 0);
	assert_int_equal(shmbus_hist_max(h), 5);
	assert_int_equal(shmbus_hist_rejected(h), 1);
	assert_true(shmbus_hist_record_corrected(h, 50, 10)); /* 1 + 4 samples: they fit */
	assert_int_equal(shmbus_hist_total_count(h), INT64_MAX);
	assert_int_equal(shmbus_hist_count_at(h, 10), 1);
	assert_int_equal(shmbus_hist_rejected(h), 1);
	shmbus_hist_destroy(h);
}

/* A merge adds src's rejected count to dst's saturated, as recording does:
 * two saturated counts summed wrapped to a negative rejected count. */
static void test_histogram_merge_saturates_rejected(void **state)
{
	struct shmbus_hist *dst = new_hist(1, 1000, 3);
	struct shmbus_hist *src = new_hist(1, 1000, 3);

	assert_false(shmbus_hist_record_n(dst, 5000, INT64_MAX));
	assert_false(shmbus_hist_record(src, -1));
	assert_int_equal(shmbus_hist_merge(dst, src), 0);
	assert_int_equal(shmbus_hist_rejected(dst), INT64_MAX);

	assert_false(shmbus_hist_record_n(src, 5000, INT64_MAX));
	assert_int_equal(shmbus_hist_merge(dst, src), 0);
	assert_int_equal(shmbus_hist_rejected(dst), INT64_MAX);
	shmbus_hist_destroy(dst);
	shmbus_hist_destroy(src);
}

static void test_histogram_mean_stddev_exact(void **state)
{
	struct shmbus_hist *h = new_hist(1, SHMBUS_HIST_HOUR_NS, 3);
	static const int64_t vals[] = {2, 4, 4, 4, 5, 5, 7, 9};

	assert_true(shmbus_hist_mean(h) == 0.0); /* empty */
	assert_true(shmbus_hist_stddev(h) == 0.0);
	for (size_t i = 0; i < sizeof(vals) / sizeof(vals[0]); i++)
		assert_true(shmbus_hist_record(h, vals[i]));
	assert_true(shmbus_hist_mean(h) == 5.0);
	assert_true(shmbus_hist_stddev(h) == 2.0);
	shmbus_hist_reset(h);
	for (int64_t v = 1; v <= 10; v++)
		assert_true(shmbus_hist_record(h, v));
	assert_true(shmbus_hist_mean(h) == 5.5);
	assert_true(fabs(shmbus_hist_stddev(h) - sqrt(8.25)) < 1e-12);
	assert_true(shmbus_hist_mean(NULL) == 0.0);
	shmbus_hist_destroy(h);
}

static void test_histogram_iteration_sums_to_total(void **state)
{
	struct shmbus_hist *h = classic_raw();
	struct shmbus_hist_iter it;
	struct shmbus_hist_bucket b;
	int n = 0;

	assert_int_equal(shmbus_hist_iter_init(&it, h), 0);
	while (shmbus_hist_iter_next(&it, &b)) {
		assert_int_equal(b.count, n == 0 ? 10000 : 1);
		assert_true(
		    shmbus_hist_values_equivalent(h, b.value_lo, n == 0 ? 1000 : 100000000));
		n++;
	}
	assert_int_equal(n, 2);
	shmbus_hist_destroy(h);

	h = classic_corrected();
	int64_t sum = 0, prev_hi = -1;
	assert_int_equal(shmbus_hist_iter_init(&it, h), 0);
	while (shmbus_hist_iter_next(&it, &b)) {
		assert_true(b.count > 0);
		assert_true(b.value_lo > prev_hi);
		assert_true(b.value_hi >= b.value_lo);
		assert_true(shmbus_hist_values_equivalent(h, b.value_lo, b.value_hi));
		assert_false(shmbus_hist_values_equivalent(h, b.value_lo, b.value_hi + 1));
		assert_int_equal(shmbus_hist_count_at(h, b.value_hi), b.count);
		sum += b.count;
		assert_int_equal(b.cumulative, sum);
		prev_hi = b.value_hi;
	}
	assert_int_equal(sum, 20000);
	assert_int_equal(shmbus_hist_iter_init(NULL, h), -EINVAL);
	assert_int_equal(shmbus_hist_iter_init(&it, NULL), -EINVAL);
	assert_false(shmbus_hist_iter_next(NULL, &b));
	shmbus_hist_destroy(h);
}

static void test_histogram_percentile_iterator_steps(void **state)
{
	struct shmbus_hist *h = classic_raw();
	struct shmbus_hist_pct_iter it;
	struct shmbus_hist_pct_step s, last = {0};
	double prev = -1.0;
	int n = 0;

	assert_int_equal(shmbus_hist_pct_iter_init(&it, h, 0), -EINVAL);
	assert_int_equal(shmbus_hist_pct_iter_init(&it, h, 5), 0);
	while (shmbus_hist_pct_iter_next(&it, &s)) {
		if (n == 0) {
			assert_true(s.percentile == 0.0);
			assert_int_equal(s.value, 1000);
			assert_int_equal(s.cumulative, 10000);
		}
		if (n == 5) /* 5 ticks per half distance: 0, 10, 20, 30, 40, 50 */
			assert_true(s.percentile == 50.0);
		assert_true(s.percentile > prev);
		prev = s.percentile;
		last = s;
		n++;
	}
	assert_int_equal(n, 69); /* rows HdrHistogram writes for this data */
	assert_true(last.percentile == 100.0);
	assert_int_equal(last.cumulative, 10001);
	assert_int_equal(last.value, shmbus_hist_max(h));
	shmbus_hist_destroy(h);

	h = new_hist(1, 1000, 3); /* empty: no step at all */
	assert_int_equal(shmbus_hist_pct_iter_init(&it, h, 5), 0);
	assert_false(shmbus_hist_pct_iter_next(&it, &s));
	shmbus_hist_destroy(h);
}

/* A bucket a hair below 100% (a huge count, then one larger value): near 100%
 * the level step falls under half an ulp; the level must still move on. */
static void test_histogram_percentile_iterator_ends_near_100(void **state)
{
	struct shmbus_hist *h = new_hist(1, 1000000, 3);
	struct shmbus_hist_pct_iter it;
	struct shmbus_hist_pct_step s;
	double prev = -1.0;
	int n = 0;

	assert_true(shmbus_hist_record_n(h, 1000, INT64_C(10000000000000000)));
	assert_true(shmbus_hist_record(h, 2000));
	assert_int_equal(shmbus_hist_pct_iter_init(&it, h, 5), 0);
	while (n <= 10000 && shmbus_hist_pct_iter_next(&it, &s)) {
		assert_true(s.percentile > prev);
		prev = s.percentile;
		n++;
	}
	assert_true(n <= 10000); /* endless rows at 1000 without the fix */
	assert_true(s.percentile == 100.0);
	assert_int_equal(s.value, shmbus_hist_max(h));
	shmbus_hist_destroy(h);
}

static void test_histogram_merge_same_and_different_layouts(void **state)
{
	struct shmbus_hist *a = new_hist(1, CLASSIC_HIGHEST, 3);
	struct shmbus_hist *b = new_hist(1, CLASSIC_HIGHEST, 3);

	for (int i = 0; i < 10000; i++)
		assert_true(shmbus_hist_record(a, 1000));
	assert_true(shmbus_hist_record(b, 100000000));
	assert_false(shmbus_hist_record(b, -3)); /* rejected counts travel with merge */
	assert_int_equal(shmbus_hist_merge(a, b), 0);
	assert_int_equal(shmbus_hist_total_count(a), 10001);
	assert_int_equal(shmbus_hist_rejected(a), 1);
	assert_int_equal(shmbus_hist_max(a), shmbus_hist_max(b));
	assert_near(shmbus_hist_value_at_percentile(a, 99.999), 100000000.0);
	assert_int_equal(shmbus_hist_total_count(b), 1); /* src untouched */
	assert_int_equal(shmbus_hist_merge(a, a), -EINVAL);
	assert_int_equal(shmbus_hist_merge(NULL, b), -EINVAL);
	assert_int_equal(shmbus_hist_merge(a, NULL), -EINVAL);
	shmbus_hist_destroy(a);
	shmbus_hist_destroy(b);

	/* different precision and range: re-recorded, what does not fit is dropped */
	struct shmbus_hist *dst = new_hist(1, 1000000, 2);
	struct shmbus_hist *src = new_hist(1, SHMBUS_HIST_HOUR_NS, 4);
	assert_true(shmbus_hist_record_n(src, 500, 7));
	assert_true(shmbus_hist_record_n(src, 250000, 3));
	assert_true(shmbus_hist_record_n(src, 5000000, 4)); /* above dst's highest */
	assert_int_equal(shmbus_hist_merge(dst, src), 4);
	assert_int_equal(shmbus_hist_rejected(dst), 4);
	assert_int_equal(shmbus_hist_total_count(dst), 10);
	assert_int_equal(shmbus_hist_count_at(dst, 500), 7);
	assert_true(shmbus_hist_values_equivalent(dst, shmbus_hist_max(dst), 250000));
	shmbus_hist_destroy(dst);
	shmbus_hist_destroy(src);
}

static void test_histogram_reset_clears_everything(void **state)
{
	struct shmbus_hist *h = classic_corrected();

	assert_false(shmbus_hist_record(h, -1));
	assert_true(shmbus_hist_value_at_percentile(h, 99.0) != 0);
	shmbus_hist_reset(h);
	assert_int_equal(shmbus_hist_total_count(h), 0);
	assert_int_equal(shmbus_hist_rejected(h), 0);
	assert_int_equal(shmbus_hist_value_at_percentile(h, 99.0), 0);
	assert_int_equal(shmbus_hist_min(h), 0);
	assert_int_equal(shmbus_hist_max(h), 0);
	assert_int_equal(shmbus_hist_count_at(h, 1000), 0);
	assert_int_equal(shmbus_hist_counts_len(h), 23552); /* configuration kept */
	assert_true(shmbus_hist_record(h, 42));
	assert_int_equal(shmbus_hist_min(h), 42);
	assert_int_equal(shmbus_hist_max(h), 42);
	shmbus_hist_reset(NULL);
	shmbus_hist_destroy(h);
}

static void test_histogram_percentile_bad_args(void **state)
{
	struct shmbus_hist *h = classic_raw();

	assert_int_equal(shmbus_hist_value_at_percentile(NULL, 50.0), -EINVAL);
	assert_int_equal(shmbus_hist_value_at_percentile(h, -0.5), -EINVAL);
	assert_int_equal(shmbus_hist_value_at_percentile(h, 100.5), -EINVAL);
	assert_int_equal(shmbus_hist_value_at_percentile(h, NAN), -EINVAL);
	assert_int_equal(shmbus_hist_value_at_percentile(h, 0.0), 1000);
	shmbus_hist_destroy(h);
}

/* Every value lies in its bucket, and a bucket is at most v / 10^sigfigs wide. */
static void test_histogram_precision_per_sigfigs(void **state)
{
	int64_t pow10 = 1;

	for (int s = 1; s <= 5; s++) {
		pow10 *= 10;
		struct shmbus_hist *h = new_hist(1, SHMBUS_HIST_HOUR_NS, s);
		for (int64_t v = 1; v <= SHMBUS_HIST_HOUR_NS; v = v * 3 / 2 + 1) {
			int64_t lo = shmbus_hist_lowest_equivalent(h, v);
			int64_t hi = shmbus_hist_highest_equivalent(h, v);
			int64_t width = hi - lo + 1;
			assert_true(lo <= v && v <= hi);
			assert_true(width == 1 || width <= v / pow10);
			assert_true(shmbus_hist_record(h, v));
			assert_true(shmbus_hist_count_at(h, v) >= 1);
			assert_true(shmbus_hist_values_equivalent(h, v, lo));
			assert_true(shmbus_hist_values_equivalent(h, v, hi));
		}
		shmbus_hist_destroy(h);
	}
}

/* ---- output ---- */

static FILE *written_hgrm(const struct shmbus_hist *h, double scale)
{
	FILE *f = tmpfile();
	assert_non_null(f);
	assert_int_equal(shmbus_hist_write_hgrm(h, f, 5, scale), 0);
	rewind(f);
	return f;
}

static void test_histogram_hgrm_parses_back(void **state)
{
	struct shmbus_hist *h = classic_raw();
	FILE *f = written_hgrm(h, 1.0);
	char line[256];
	int rows = 0, saw_tie_row = 0;
	double v, p, inv, last_p = -1, mean, sd, max;
	long long total, last_total = -1, count;
	int buckets, subs;

	assert_non_null(fgets(line, sizeof(line), f));
	assert_string_equal(line, "       Value     Percentile TotalCount 1/(1-Percentile)\n");
	assert_non_null(fgets(line, sizeof(line), f));
	assert_string_equal(line, "\n");
	while (fgets(line, sizeof(line), f) != NULL && line[0] != '#') {
		int n = sscanf(line, "%lf %lf %lld %lf", &v, &p, &total, &inv);
		assert_true(n == 4 || (n == 3 && p == 1.0));
		assert_true(p >= last_p && total >= last_total);
		/* a binary tie, rounded half-up as HdrHistogram (Java) writes it */
		if (strcmp(line, "    1000.000 0.999780273438      10000        4551.11\n") == 0)
			saw_tie_row = 1;
		last_p = p;
		last_total = total;
		rows++;
	}
	assert_int_equal(rows, 69);
	assert_int_equal(saw_tie_row, 1);
	assert_true(last_p == 1.0);
	assert_int_equal(last_total, 10001);
	assert_string_equal(line, "#[Mean    =    10996.417, StdDeviation   =   999641.716]\n");
	assert_int_equal(sscanf(line, "#[Mean = %lf, StdDeviation = %lf]", &mean, &sd), 2);
	assert_true(fabs(mean - shmbus_hist_mean(h)) < 0.001);
	assert_true(fabs(sd - shmbus_hist_stddev(h)) < 0.001);
	assert_non_null(fgets(line, sizeof(line), f));
	assert_int_equal(sscanf(line, "#[Max = %lf, Total count = %lld]", &max, &count), 2);
	assert_true(max == 100007935.0);
	assert_int_equal(count, 10001);
	assert_non_null(fgets(line, sizeof(line), f));
	assert_int_equal(sscanf(line, "#[Buckets = %d, SubBuckets = %d]", &buckets, &subs), 2);
	assert_int_equal(buckets, 22);
	assert_int_equal(subs, 2048);
	assert_null(fgets(line, sizeof(line), f));
	fclose(f);
	shmbus_hist_destroy(h);
}

static int count_lines(FILE *f, char *last, size_t len)
{
	int n = 0;
	while (fgets(last, (int)len, f) != NULL)
		n++;
	return n;
}

static void test_histogram_hgrm_scaled_corrected_and_empty(void **state)
{
	struct shmbus_hist *h = classic_corrected();
	char line[256];
	FILE *f = written_hgrm(h, 1000.0); /* microseconds */

	assert_int_equal(count_lines(f, line, sizeof(line)), 2 + 61 + 3);
	assert_string_equal(line, "#[Buckets =           22, SubBuckets     =         2048]\n");
	rewind(f);
	for (int i = 0; i < 2 + 61; i++)
		assert_non_null(fgets(line, sizeof(line), f));
	assert_string_equal(line, "  100007.935 1.000000000000      20000\n");
	fclose(f);
	shmbus_hist_destroy(h);

	h = new_hist(1, 1000, 2);
	f = written_hgrm(h, 1.0);
	assert_int_equal(count_lines(f, line, sizeof(line)), 5);
	rewind(f);
	assert_non_null(fgets(line, sizeof(line), f));
	assert_non_null(fgets(line, sizeof(line), f));
	assert_non_null(fgets(line, sizeof(line), f));
	assert_string_equal(line, "#[Mean    =         0.00, StdDeviation   =         0.00]\n");
	fclose(f);
	shmbus_hist_destroy(h);
}

static void test_histogram_write_bad_args_and_io_error(void **state)
{
	struct shmbus_hist *h = classic_raw();
	FILE *f = tmpfile();

	assert_non_null(f);
	assert_int_equal(shmbus_hist_write_hgrm(NULL, f, 5, 1.0), -EINVAL);
	assert_int_equal(shmbus_hist_write_hgrm(h, NULL, 5, 1.0), -EINVAL);
	assert_int_equal(shmbus_hist_write_hgrm(h, f, 0, 1.0), -EINVAL);
	assert_int_equal(shmbus_hist_write_hgrm(h, f, 5, 0.0), -EINVAL);
	assert_int_equal(shmbus_hist_write_hgrm(h, f, 5, -1.0), -EINVAL);
	assert_int_equal(shmbus_hist_write_hgrm(h, f, 5, NAN), -EINVAL);
	assert_int_equal(shmbus_hist_write_json_summary(NULL, f, 1.0), -EINVAL);
	assert_int_equal(shmbus_hist_write_json_summary(h, NULL, 1.0), -EINVAL);
	assert_int_equal(shmbus_hist_write_json_summary(h, f, INFINITY), -EINVAL);
	assert_int_equal(ftell(f), 0); /* nothing written on bad arguments */
	fclose(f);

	FILE *ro = fopen("/dev/null", "r"); /* writes to a read-only stream fail */
	if (ro != NULL) {
		assert_int_equal(shmbus_hist_write_hgrm(h, ro, 5, 1.0), -EIO);
		assert_int_equal(shmbus_hist_write_json_summary(h, ro, 1.0), -EIO);
		fclose(ro);
	}
	shmbus_hist_destroy(h);
}

/* A scale so small that a value divided by it overflows a double made the
 * outputs print "inf" (no JSON number, no .hgrm value a plotter parses):
 * such a scale is refused, and the smallest accepted ones write finite
 * numbers. */
static void test_histogram_write_refuses_overflowing_scale(void **state)
{
	struct shmbus_hist *h = classic_raw();
	char buf[1024];
	FILE *f = tmpfile();

	assert_non_null(f);
	assert_int_equal(shmbus_hist_write_json_summary(h, f, 1e-307), -EINVAL);
	assert_int_equal(shmbus_hist_write_hgrm(h, f, 5, 1e-307), -EINVAL);
	assert_int_equal(shmbus_hist_write_json_summary(h, f, 5e-324), -EINVAL);
	assert_int_equal(ftell(f), 0);
	assert_true(shmbus_hist_record(h, CLASSIC_HIGHEST)); /* the largest value here */
	assert_int_equal(shmbus_hist_write_json_summary(h, f, 1e-289), 0);
	assert_int_equal(shmbus_hist_write_hgrm(h, f, 5, 1e-289), 0);
	rewind(f);
	while (fgets(buf, sizeof(buf), f) != NULL) {
		assert_null(strstr(buf, "inf"));
		assert_null(strstr(buf, "nan"));
	}
	fclose(f);
	shmbus_hist_destroy(h);
}

static void json_member(const char *json, const char *key, double *out)
{
	char pat[64];
	snprintf(pat, sizeof(pat), "\"%s\":", key);
	const char *p = strstr(json, pat);
	if (p == NULL)
		fail_msg("key %s missing from %s", key, json);
	*out = strtod(p + strlen(pat), NULL);
}

static void test_histogram_json_summary(void **state)
{
	struct shmbus_hist *h = classic_raw();
	char buf[512] = {0};
	double v;
	FILE *f = tmpfile();

	assert_non_null(f);
	assert_int_equal(shmbus_hist_write_json_summary(h, f, 1.0), 0);
	rewind(f);
	assert_non_null(fgets(buf, sizeof(buf), f));
	fclose(f);
	assert_true(buf[0] == '{' && buf[strlen(buf) - 1] == '}');
	json_member(buf, "count", &v);
	assert_true(v == 10001);
	json_member(buf, "min_ns", &v);
	assert_true(v == 1000);
	json_member(buf, "mean_ns", &v);
	assert_true(fabs(v - shmbus_hist_mean(h)) < 0.001);
	json_member(buf, "stddev_ns", &v);
	assert_true(fabs(v - shmbus_hist_stddev(h)) < 0.001);
	static const char *const at_1000[] = {"p50_ns", "p90_ns", "p99_ns", "p999_ns", "p9999_ns"};
	for (size_t i = 0; i < sizeof(at_1000) / sizeof(at_1000[0]); i++) {
		json_member(buf, at_1000[i], &v);
		assert_true(v == 1000);
	}
	json_member(buf, "max_ns", &v);
	assert_true(v == 100007935);
	assert_non_null(strstr(buf, "\"p50_ns\":1000,"));

	f = tmpfile(); /* scaled: 3 decimals */
	assert_non_null(f);
	assert_int_equal(shmbus_hist_write_json_summary(h, f, 1000.0), 0);
	rewind(f);
	assert_non_null(fgets(buf, sizeof(buf), f));
	fclose(f);
	assert_non_null(strstr(buf, "\"max_ns\":100007.935}"));
	shmbus_hist_destroy(h);

	h = new_hist(1, 1000, 3);
	f = tmpfile();
	assert_non_null(f);
	assert_int_equal(shmbus_hist_write_json_summary(h, f, 1.0), 0);
	rewind(f);
	assert_non_null(fgets(buf, sizeof(buf), f));
	fclose(f);
	assert_string_equal(buf, "{\"count\":0,\"min_ns\":0,\"mean_ns\":0.000,\"stddev_ns\":0.000,"
	                         "\"p50_ns\":0,\"p90_ns\":0,\"p99_ns\":0,\"p999_ns\":0,"
	                         "\"p9999_ns\":0,\"max_ns\":0}");
	shmbus_hist_destroy(h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_histogram_create_rejects_bad_args),
	    cmocka_unit_test(test_histogram_create_layout_matches_hdr),
	    cmocka_unit_test(test_histogram_sequence_percentiles),
	    cmocka_unit_test(test_histogram_classic_raw_vectors),
	    cmocka_unit_test(test_histogram_classic_corrected_vectors),
	    cmocka_unit_test(test_histogram_corrected_matches_per_sample_loop),
	    cmocka_unit_test(test_histogram_corrected_huge_stall),
	    cmocka_unit_test(test_histogram_out_of_range_counted),
	    cmocka_unit_test(test_histogram_record_n_counts),
	    cmocka_unit_test(test_histogram_percentile_of_huge_total),
	    cmocka_unit_test(test_histogram_counts_do_not_wrap),
	    cmocka_unit_test(test_histogram_record_n_rejects_out_of_range_near_full),
	    cmocka_unit_test(test_histogram_corrected_near_full_records_nothing),
	    cmocka_unit_test(test_histogram_merge_saturates_rejected),
	    cmocka_unit_test(test_histogram_mean_stddev_exact),
	    cmocka_unit_test(test_histogram_iteration_sums_to_total),
	    cmocka_unit_test(test_histogram_percentile_iterator_steps),
	    cmocka_unit_test(test_histogram_percentile_iterator_ends_near_100),
	    cmocka_unit_test(test_histogram_merge_same_and_different_layouts),
	    cmocka_unit_test(test_histogram_reset_clears_everything),
	    cmocka_unit_test(test_histogram_percentile_bad_args),
	    cmocka_unit_test(test_histogram_precision_per_sigfigs),
	    cmocka_unit_test(test_histogram_hgrm_parses_back),
	    cmocka_unit_test(test_histogram_hgrm_scaled_corrected_and_empty),
	    cmocka_unit_test(test_histogram_write_bad_args_and_io_error),
	    cmocka_unit_test(test_histogram_write_refuses_overflowing_scale),
	    cmocka_unit_test(test_histogram_json_summary),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
