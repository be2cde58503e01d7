/*
 * ta_bollinger.h - Bollinger bands over the last n values.
 *
 * middle = SMA(n); sd = population standard deviation of the same n values
 * (divide by n, not n - 1, as Bollinger defines it); upper/lower =
 * middle +- k * sd.
 * Warm-up: not ready until n values were added (like ta_sma.h).
 * A flat window (n equal values) has middle == that value and sd == 0
 * exactly.
 * Cost: O(1) amortized per update: each update is O(1), and once per n
 * updates, when the window turns flat, and (at most once more per n
 * updates) when its mean moved far from the anchor against its spread, it
 * is re-anchored with one O(n) pass (see ta_bollinger.c).
 * No allocation (the window is stored inline).
 * Thread-safety: none; one object belongs to one thread.
 */
#ifndef SHMBUS_TA_BOLLINGER_H
#define SHMBUS_TA_BOLLINGER_H

#include <stdbool.h>
#include <stdint.h>

#include "ta_common.h"

struct ta_bollinger {
	uint32_t n;        /* period */
	uint32_t pos;      /* next slot of win[] to overwrite */
	uint64_t count;    /* values added since init/reset */
	uint64_t run;      /* trailing values equal to the newest one */
	bool drift_pass;   /* re-anchored for drift since pos last wrapped */
	double k;          /* band width in standard deviations */
	double anchor;     /* K: the sums below are of (x - K) */
	struct ta_ksum s1; /* sum(x - K) over the window */
	struct ta_ksum s2; /* sum((x - K)^2) over the window */
	double win[TA_MAX_PERIOD];
};

struct ta_bollinger_value {
	double middle;
	double upper;
	double lower;
	double sd; /* population standard deviation */
};

/*
 * ta_bollinger_init - prepares b.
 * @n: period, 1 <= n <= TA_MAX_PERIOD
 * @k: band width, finite and >= 0
 * Returns 0, or -EINVAL when b is NULL or a parameter is invalid (b
 * untouched).
 */
int ta_bollinger_init(struct ta_bollinger *b, uint32_t n, double k);

/* ta_bollinger_reset - forgets every value, keeps the parameters. */
void ta_bollinger_reset(struct ta_bollinger *b);

/*
 * ta_bollinger_update - adds one value.
 * Returns 1 when bands are ready, 0 while warming up, -EINVAL when x is not
 * finite (ignored, state unchanged).
 */
int ta_bollinger_update(struct ta_bollinger *b, double x);

/* ta_bollinger_ready - true once n values were added. */
bool ta_bollinger_ready(const struct ta_bollinger *b);

/* ta_bollinger_get - stores the bands in *out and returns 0, or -EAGAIN
 * while warming up (*out untouched). */
int ta_bollinger_get(const struct ta_bollinger *b, struct ta_bollinger_value *out);

#endif /* SHMBUS_TA_BOLLINGER_H */
