/*
 * shmbus/histogram.h - HDR-style latency histogram.
 *
 * A log-linear histogram in the manner of HdrHistogram: values from 0 up to a
 * configurable highest trackable value are counted in buckets whose width grows
 * with the value, so that any recorded value is known to within a relative error
 * of 10^-sigfigs (sigfigs = significant decimal digits, 1..5). Recording is O(1),
 * allocation-free and never fails loudly: a value out of range is counted as
 * rejected (shmbus_hist_rejected()) and the call returns false.
 *
 * Two values are "equivalent" when they fall in the same bucket; every value the
 * histogram reports (min, max, percentiles) is the lowest or highest equivalent
 * value of a bucket, exactly as HdrHistogram reports them. The .hgrm output is
 * HdrHistogram's percentile-distribution text, readable by its plotters.
 *
 * Thread-safety: a histogram is NOT internally synchronised. One thread records
 * into it; reading it (percentiles, iteration, output) while another thread
 * records gives unspecified (but memory-safe) results. For several writers,
 * give each thread its own histogram and shmbus_hist_merge() them.
 *
 * Units are the caller's: shmbus uses nanoseconds throughout.
 */
#ifndef SHMBUS_HISTOGRAM_H
#define SHMBUS_HISTOGRAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Opaque histogram handle. */
struct shmbus_hist;

/* Limits accepted by shmbus_hist_create(). */
#define SHMBUS_HIST_SIGFIGS_MIN 1
#define SHMBUS_HIST_SIGFIGS_MAX 5
/* Largest highest-trackable value (keeps every bucket bound inside int64_t). */
#define SHMBUS_HIST_HIGHEST_MAX (INT64_MAX / 2)
/* A convenient range for latencies: 1 ns .. 1 hour. */
#define SHMBUS_HIST_HOUR_NS INT64_C(3600000000000)

/**
 * shmbus_hist_create - allocate an empty histogram.
 * @lowest:  lowest discernible value, >= 1 (use 1 for nanoseconds). Values below
 *           it are still recorded, in the first bucket (equivalent to 0).
 * @highest: highest trackable value, >= 2 * @lowest and <= SHMBUS_HIST_HIGHEST_MAX.
 * @sigfigs: significant decimal digits kept, 1..5 (3 keeps 0.1% precision).
 * @out:     receives the handle; set to NULL on failure.
 *
 * Memory is about 8 bytes * shmbus_hist_counts_len(); 1 ns .. 1 h at 3 digits
 * is ~270 KiB, at 5 digits ~27 MiB.
 *
 * Return: 0, -EINVAL for a bad argument (NULL @out, @lowest < 1, @sigfigs out
 * of 1..5, @highest < 2 * @lowest or too large), -ENOMEM.
 * Thread-safety: any thread.
 */
int shmbus_hist_create(int64_t lowest, int64_t highest, int sigfigs, struct shmbus_hist **out);

/**
 * shmbus_hist_destroy - free a histogram. NULL is a no-op.
 * Thread-safety: no other thread may use @h during or after the call.
 */
void shmbus_hist_destroy(struct shmbus_hist *h);

/**
 * shmbus_hist_reset - forget every recorded value (counts, min, max, rejected
 * count); the configuration stays. NULL is a no-op.
 * Thread-safety: the writer thread.
 */
void shmbus_hist_reset(struct shmbus_hist *h);

/**
 * shmbus_hist_record - count one occurrence of @v. Hot path: no allocation, no
 * system call.
 *
 * Return: true when recorded; false when @v < 0 or @v > highest trackable or
 * the total count is already INT64_MAX (the rejected counter grows by one) or
 * @h is NULL.
 * Thread-safety: the single writer thread.
 */
bool shmbus_hist_record(struct shmbus_hist *h, int64_t v);

/**
 * shmbus_hist_record_n - count @n occurrences of @v.
 *
 * Return: true when recorded (@n == 0 records nothing and returns true); false
 * when @v is out of range (rejected grows by @n), @n < 0, @h is NULL, or the
 * total count would overflow.
 * Thread-safety: the single writer thread.
 */
bool shmbus_hist_record_n(struct shmbus_hist *h, int64_t v, int64_t n);

/**
 * shmbus_hist_record_corrected - record @v, correcting for coordinated omission
 * as HdrHistogram's record_corrected_value does: when @expected_interval > 0 and
 * @v > @expected_interval, also record v - interval, v - 2*interval, ... for
 * every such value >= @expected_interval (the samples a stalled measuring loop
 * failed to take). Cost is O(buckets touched), not O(v / interval).
 *
 * @expected_interval: the intended interval between samples; <= 0 disables the
 *                     correction (plain record).
 *
 * Return: as shmbus_hist_record(); nothing extra is recorded when @v is rejected.
 * All or nothing: when the total count cannot hold @v and its missing samples,
 * nothing is recorded, @v counts as rejected (once) and the call returns false.
 * Thread-safety: the single writer thread.
 */
bool shmbus_hist_record_corrected(struct shmbus_hist *h, int64_t v, int64_t expected_interval);

/**
 * shmbus_hist_merge - add every count of @src to @dst. The histograms may have
 * different configurations: each @src bucket is recorded at its lowest value
 * into @dst. Counts that @dst cannot hold are dropped and added to @dst's
 * rejected count, as is @src's own rejected count.
 *
 * Return: the number of values dropped (saturated at INT_MAX; the exact number
 * is in shmbus_hist_rejected()), -EINVAL when either is NULL or @dst == @src.
 * Thread-safety: no thread may record into @dst or @src meanwhile.
 */
int shmbus_hist_merge(struct shmbus_hist *dst, const struct shmbus_hist *src);

/**
 * shmbus_hist_value_at_percentile - the value below or at which @p percent of
 * the recorded values lie (nearest rank, rank = round(p/100 * count), at least
 * 1), reported as the highest value equivalent to that rank's bucket (the
 * lowest one for @p == 0), as HdrHistogram_c does.
 * @p: percentile, 0.0 .. 100.0 (99.9 for "p999").
 *
 * Return: the value; 0 for an empty histogram; -EINVAL when @h is NULL or @p is
 * NaN or outside 0..100 (recorded values are never negative).
 * Thread-safety: readers, when nobody records.
 */
int64_t shmbus_hist_value_at_percentile(const struct shmbus_hist *h, double p);

/**
 * shmbus_hist_min - lowest value equivalent to the smallest recorded value
 * (0 when empty or NULL).
 * Thread-safety: readers, when nobody records.
 */
int64_t shmbus_hist_min(const struct shmbus_hist *h);

/**
 * shmbus_hist_max - highest value equivalent to the largest recorded value
 * (0 when empty or NULL).
 * Thread-safety: readers, when nobody records.
 */
int64_t shmbus_hist_max(const struct shmbus_hist *h);

/**
 * shmbus_hist_mean - mean of the recorded values, each taken at the middle of
 * its bucket (exact for values recorded where buckets are 1 unit wide: below
 * 2 * 10^sigfigs rounded up to a power of two when lowest == 1).
 * Return: the mean; 0.0 when empty or NULL.
 * Thread-safety: readers, when nobody records.
 */
double shmbus_hist_mean(const struct shmbus_hist *h);

/**
 * shmbus_hist_stddev - population standard deviation, on the same bucket
 * midpoints as shmbus_hist_mean(). Return: 0.0 when empty or NULL.
 * Thread-safety: readers, when nobody records.
 */
double shmbus_hist_stddev(const struct shmbus_hist *h);

/**
 * shmbus_hist_total_count - number of values recorded (rejected ones excluded).
 * Return: the count; 0 for NULL.
 */
int64_t shmbus_hist_total_count(const struct shmbus_hist *h);

/**
 * shmbus_hist_rejected - number of values refused because out of range (by
 * record, record_n, record_corrected or merge), or by record, record_corrected
 * and merge because the total count could not hold them, since creation or
 * reset.
 * Return: the count, saturated at INT64_MAX; 0 for NULL.
 */
int64_t shmbus_hist_rejected(const struct shmbus_hist *h);

/**
 * shmbus_hist_count_at - count recorded in the bucket holding @v.
 * Return: the count; 0 when @v is out of range or @h is NULL.
 */
int64_t shmbus_hist_count_at(const struct shmbus_hist *h, int64_t v);

/**
 * shmbus_hist_values_equivalent - whether @a and @b fall in the same bucket
 * (i.e. the histogram cannot tell them apart): equal lowest equivalents, see
 * below. False when @h is NULL.
 */
bool shmbus_hist_values_equivalent(const struct shmbus_hist *h, int64_t a, int64_t b);

/**
 * shmbus_hist_lowest_equivalent - the lowest value of @v's bucket.
 * shmbus_hist_highest_equivalent - the highest value of @v's bucket.
 * Defined for every @v >= 0, also above the highest trackable value.
 * Return: the value; @v itself when @v < 0 or @h is NULL.
 */
int64_t shmbus_hist_lowest_equivalent(const struct shmbus_hist *h, int64_t v);
int64_t shmbus_hist_highest_equivalent(const struct shmbus_hist *h, int64_t v);

/**
 * Configuration getters (0 for NULL): the arguments given to create, the
 * number of power-of-two buckets and of sub-buckets per bucket (the figures
 * the .hgrm footer reports), and the length of the counts array.
 */
int64_t shmbus_hist_lowest(const struct shmbus_hist *h);
int64_t shmbus_hist_highest(const struct shmbus_hist *h);
int shmbus_hist_sigfigs(const struct shmbus_hist *h);
int32_t shmbus_hist_bucket_count(const struct shmbus_hist *h);
int32_t shmbus_hist_sub_bucket_count(const struct shmbus_hist *h);
int32_t shmbus_hist_counts_len(const struct shmbus_hist *h);

/* One non-empty bucket, as the recorded-values iterator reports it. */
struct shmbus_hist_bucket {
	int64_t value_lo;   /* lowest value of the bucket */
	int64_t value_hi;   /* highest value of the bucket (equivalent to value_lo) */
	int64_t count;      /* values recorded in this bucket */
	int64_t cumulative; /* values recorded in this and every lower bucket */
};

/* Iterator state; fields are private (read them through the _next calls). */
struct shmbus_hist_iter {
	const struct shmbus_hist *h;
	int32_t index;
	int64_t cumulative;
	int64_t total;
};

/**
 * shmbus_hist_iter_init - start iterating over the non-empty buckets of @h in
 * increasing value order. @h must outlive the iteration and not be recorded
 * into meanwhile. No allocation: the iterator lives where the caller puts it.
 * Return: 0, -EINVAL when @it or @h is NULL.
 */
int shmbus_hist_iter_init(struct shmbus_hist_iter *it, const struct shmbus_hist *h);

/**
 * shmbus_hist_iter_next - the next non-empty bucket into @out.
 * Return: true with @out filled; false at the end (the counts seen then add up
 * to shmbus_hist_total_count()) or when an argument is NULL.
 */
bool shmbus_hist_iter_next(struct shmbus_hist_iter *it, struct shmbus_hist_bucket *out);

/* One step of the percentile iterator (one row of the .hgrm table). */
struct shmbus_hist_pct_step {
	double percentile;  /* percentile level reached, 0..100 */
	int64_t value;      /* highest equivalent value of the bucket reaching it */
	int64_t count;      /* values recorded in that bucket */
	int64_t cumulative; /* values recorded up to and including that bucket */
};

/* Percentile iterator state; fields are private. */
struct shmbus_hist_pct_iter {
	const struct shmbus_hist *h;
	int32_t index;
	int32_t ticks_per_half;
	bool fresh;
	bool done_last;
	int64_t cumulative;
	int64_t total;
	double level;
};

/**
 * shmbus_hist_pct_iter_init - iterate percentile levels the HdrHistogram way:
 * from 0% towards 100% in @ticks_per_half_distance equal steps per halving of
 * the distance to 100% (0, 50, 75, 87.5, ... with 1 tick), ending with one
 * step at exactly 100% once every value is counted. A level is reported at the
 * first non-empty bucket whose cumulative percentage reaches it.
 * Return: 0, -EINVAL when @it or @h is NULL or @ticks_per_half_distance < 1.
 */
int shmbus_hist_pct_iter_init(struct shmbus_hist_pct_iter *it, const struct shmbus_hist *h,
                              int ticks_per_half_distance);

/**
 * shmbus_hist_pct_iter_next - the next percentile step into @out.
 * Return: true with @out filled; false at the end (at once for an empty
 * histogram) or when an argument is NULL.
 */
bool shmbus_hist_pct_iter_next(struct shmbus_hist_pct_iter *it, struct shmbus_hist_pct_step *out);

/**
 * shmbus_hist_write_hgrm - write HdrHistogram's percentile distribution text
 * (the "classic" .hgrm format of HdrHistogram's outputPercentileDistribution):
 * a header line "Value Percentile TotalCount 1/(1-Percentile)" and a blank
 * line, one row per percentile step (the last, at 100%, without the inverse
 * column), then the "#[Mean = ..., StdDeviation = ...]", "#[Max = ..., Total
 * count = ...]" and "#[Buckets = ..., SubBuckets = ...]" footer. Numbers use
 * '.' as decimal point whatever the process locale.
 * @f:                       an open stream; the library writes only to it.
 * @ticks_per_half_distance: rows per halving of the distance to 100% (5 is
 *                           HdrHistogram's usual choice), >= 1.
 * @value_scale:             every value is divided by it (1.0 keeps ns, 1000.0
 *                           writes us), > 0, finite, and not so small that
 *                           INT64_MAX / @value_scale overflows a double (below
 *                           about 5e-290), so that every number written is finite.
 *
 * Return: 0, -EINVAL for a bad argument, -EIO when writing failed (the stream's
 * error indicator says why).
 * Thread-safety: readers, when nobody records; one writer of @f at a time.
 */
int shmbus_hist_write_hgrm(const struct shmbus_hist *h, FILE *f, int ticks_per_half_distance,
                           double value_scale);

/**
 * shmbus_hist_write_json_summary - write one JSON object, without trailing
 * newline: {"count":N,"min_ns":..,"mean_ns":..,"stddev_ns":..,"p50_ns":..,
 * "p90_ns":..,"p99_ns":..,"p999_ns":..,"p9999_ns":..,"max_ns":..}.
 * Percentiles are those of shmbus_hist_value_at_percentile() (p999 = 99.9,
 * p9999 = 99.99). An empty histogram writes count 0 and zeros.
 * @value_scale: every value is divided by it; with 1.0 the values (except mean
 *               and stddev) are written as integers, otherwise with 3
 *               decimals. The keys keep their _ns names: pass 1.0 when the
 *               recorded unit is the nanosecond. Accepted as for
 *               shmbus_hist_write_hgrm() (never a scale that writes inf).
 *
 * Return: 0, -EINVAL for a bad argument, -EIO when writing failed.
 * Thread-safety: as shmbus_hist_write_hgrm().
 */
int shmbus_hist_write_json_summary(const struct shmbus_hist *h, FILE *f, double value_scale);

#ifdef __cplusplus
}
#endif

#endif /* SHMBUS_HISTOGRAM_H */
