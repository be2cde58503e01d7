/*
 * ta_common.h - helpers shared by the technical-analysis indicators.
 *
 * Holds the largest window an indicator keeps inline (no allocation, so a
 * per-symbol state is one flat, copyable struct) and a Neumaier-compensated
 * running sum. The compensated sum is what lets the O(1) sliding windows add
 * the newest value and subtract the oldest forever without drifting: its
 * error stays at a few ulps of the current sum, independent of how many
 * values have passed through (the second-order term grows as eps^2 per
 * update, i.e. negligible for any realistic run length).
 *
 * Everything here is header-only and pure; nothing is thread-safe beyond
 * "one object, one thread".
 */
#ifndef SHMBUS_TA_COMMON_H
#define SHMBUS_TA_COMMON_H

#include <math.h>

/* Largest period of a windowed indicator (SMA, Bollinger); the windows are
 * stored inline so init never allocates. 1024 doubles = 8 KiB per window. */
#define TA_MAX_PERIOD 1024u

/* Neumaier compensated sum: value() = s + c. Zero-initialise to start. */
struct ta_ksum {
	double s; /* running sum */
	double c; /* accumulated low-order bits lost by s */
};

/* Adds x to k. O(1), no branches on data beyond one magnitude compare. */
static inline void ta_ksum_add(struct ta_ksum *k, double x)
{
	double t = k->s + x;

	/* Whichever operand is larger lost nothing; recover the smaller's
	 * rounding error exactly (Neumaier's variant of Kahan). */
	if (fabs(k->s) >= fabs(x))
		k->c += (k->s - t) + x;
	else
		k->c += (x - t) + k->s;
	k->s = t;
}

/* The compensated value of k. */
static inline double ta_ksum_value(const struct ta_ksum *k)
{
	return k->s + k->c;
}

/* Resets k to zero. */
static inline void ta_ksum_reset(struct ta_ksum *k)
{
	k->s = 0.0;
	k->c = 0.0;
}

#endif /* SHMBUS_TA_COMMON_H */
