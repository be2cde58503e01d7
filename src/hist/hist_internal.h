/*
 * hist_internal.h - layout of struct shmbus_hist and the index arithmetic
 * shared by histogram.c (recording, queries) and hist_output.c (.hgrm, JSON).
 * Private to src/hist; tests may include it to check internals.
 */
#ifndef SHMBUS_HIST_INTERNAL_H
#define SHMBUS_HIST_INTERNAL_H

#include <stdint.h>

#include "shmbus/histogram.h"

struct shmbus_hist {
	int64_t lowest;       /* lowest discernible value, as given */
	int64_t highest;      /* highest trackable value, as given */
	int32_t sigfigs;      /* significant decimal digits, 1..5 */
	int32_t unit_mag;     /* floor(log2(lowest)): width of the finest sub-bucket */
	int32_t sub_half_mag; /* log2(sub_count) - 1 */
	int32_t sub_count;    /* sub-buckets per bucket, a power of two */
	int32_t sub_half;     /* sub_count / 2 */
	int32_t bucket_count; /* power-of-two buckets needed to reach highest */
	int32_t counts_len;   /* (bucket_count + 1) * sub_half */
	int32_t pad;          /* zero */
	int64_t sub_mask;     /* (sub_count - 1) << unit_mag */
	int64_t total;        /* sum of counts[] */
	int64_t min_nonzero;  /* smallest recorded value > 0, INT64_MAX if none */
	int64_t max_value;    /* largest recorded value, 0 if none */
	int64_t rejected;     /* values refused: out of range */
	int64_t counts[];     /* counts_len entries */
};

/* Bucket of @v: which power-of-two range (above the linear first one) holds it.
 * OR-ing the mask folds every value below sub_count << unit_mag into bucket 0. */
static inline int32_t hist_bucket_of(const struct shmbus_hist *h, int64_t v)
{
	int32_t pow2ceil = 64 - __builtin_clzll((uint64_t)(v | h->sub_mask));
	return pow2ceil - h->unit_mag - (h->sub_half_mag + 1);
}

/* Index in counts[] of a value already checked to be in 0..highest. Bucket b
 * (b >= 1) only uses its upper half of sub-buckets (the lower half would
 * repeat bucket b - 1 at coarser width), hence the half-count strides. */
static inline int32_t hist_index_of(const struct shmbus_hist *h, int64_t v)
{
	int32_t b = hist_bucket_of(h, v);
	int32_t sub = (int32_t)(v >> (b + h->unit_mag));
	return ((b + 1) << h->sub_half_mag) + (sub - h->sub_half);
}

/* Lowest value counted at index @i (inverse of hist_index_of). */
static inline int64_t hist_value_at_index(const struct shmbus_hist *h, int32_t i)
{
	int32_t b = (i >> h->sub_half_mag) - 1;
	int32_t sub = (i & (h->sub_half - 1)) + h->sub_half;
	if (b < 0) {
		sub -= h->sub_half;
		b = 0;
	}
	return (int64_t)sub << (b + h->unit_mag);
}

/* Width (number of equivalent values) of the sub-bucket at index @i. */
static inline int64_t hist_width_at_index(const struct shmbus_hist *h, int32_t i)
{
	int32_t b = (i >> h->sub_half_mag) - 1;
	return INT64_C(1) << ((b < 0 ? 0 : b) + h->unit_mag);
}

/* Written as lo + (width - 1): the top bucket may end at INT64_MAX exactly. */
static inline int64_t hist_highest_at_index(const struct shmbus_hist *h, int32_t i)
{
	return hist_value_at_index(h, i) + (hist_width_at_index(h, i) - 1);
}

/* log2 of the width of the sub-bucket holding @v (any v >= 0, even > highest). */
static inline int32_t hist_width_shift(const struct shmbus_hist *h, int64_t v)
{
	return hist_bucket_of(h, v) + h->unit_mag;
}

static inline int64_t hist_median_at_index(const struct shmbus_hist *h, int32_t i)
{
	return hist_value_at_index(h, i) + (hist_width_at_index(h, i) >> 1);
}

#endif /* SHMBUS_HIST_INTERNAL_H */
