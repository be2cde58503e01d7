/*
 * ta_sma.h - simple moving average over the last n values.
 *
 * Warm-up: not ready until n values were added; the first value is the mean
 * of values 1..n, then one value per update (the mean of the last n).
 * Cost: O(1) per update, no allocation (the window is stored inline).
 * Thread-safety: none; one object belongs to one thread.
 */
#ifndef SHMBUS_TA_SMA_H
#define SHMBUS_TA_SMA_H

#include <stdbool.h>
#include <stdint.h>

#include "ta_common.h"

struct ta_sma {
	uint32_t n;     /* period */
	uint32_t pos;   /* next slot of win[] to overwrite */
	uint64_t count; /* values added since init/reset */
	struct ta_ksum sum;
	double win[TA_MAX_PERIOD];
};

/*
 * ta_sma_init - prepares s for period n.
 * @s: the object (any content; fully overwritten)
 * @n: period, 1 <= n <= TA_MAX_PERIOD
 * Returns 0, or -EINVAL when s is NULL or n is out of range (s untouched).
 */
int ta_sma_init(struct ta_sma *s, uint32_t n);

/* ta_sma_reset - forgets every value, keeps the period. */
void ta_sma_reset(struct ta_sma *s);

/*
 * ta_sma_update - adds one value.
 * Returns 1 when a value is ready (n values seen), 0 while warming up, or
 * -EINVAL when x is not finite (the value is ignored, state unchanged).
 */
int ta_sma_update(struct ta_sma *s, double x);

/* ta_sma_ready - true once n values were added. */
bool ta_sma_ready(const struct ta_sma *s);

/*
 * ta_sma_get - the current mean of the last n values.
 * Returns 0 and stores it in *out, or -EAGAIN while warming up (*out
 * untouched).
 */
int ta_sma_get(const struct ta_sma *s, double *out);

#endif /* SHMBUS_TA_SMA_H */
