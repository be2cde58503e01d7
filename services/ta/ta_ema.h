/*
 * ta_ema.h - exponential moving average, seeded with a simple average.
 *
 * Warm-up: not ready before n values. The n-th value makes the first EMA,
 * which is the SMA of values 1..n; every later value x gives
 * ema += alpha * (x - ema) with alpha = 2 / (n + 1).
 * Cost: O(1) per update, no allocation.
 * Thread-safety: none; one object belongs to one thread.
 */
#ifndef SHMBUS_TA_EMA_H
#define SHMBUS_TA_EMA_H

#include <stdbool.h>
#include <stdint.h>

#include "ta_common.h"

struct ta_ema {
	uint32_t n;         /* period */
	uint64_t count;     /* values added since init/reset */
	double alpha;       /* 2 / (n + 1) */
	struct ta_ksum sum; /* seed sum while warming up */
	double ema;         /* valid once count >= n */
};

/*
 * ta_ema_init - prepares e for period n.
 * @n: period, 1 <= n <= UINT16_MAX (periods travel as 16-bit event params)
 * Returns 0, or -EINVAL when e is NULL or n is out of range (e untouched).
 */
int ta_ema_init(struct ta_ema *e, uint32_t n);

/* ta_ema_reset - forgets every value, keeps the period. */
void ta_ema_reset(struct ta_ema *e);

/*
 * ta_ema_update - adds one value.
 * Returns 1 when a value is ready, 0 while warming up, -EINVAL when x is
 * not finite (ignored, state unchanged).
 */
int ta_ema_update(struct ta_ema *e, double x);

/* ta_ema_ready - true once n values were added. */
bool ta_ema_ready(const struct ta_ema *e);

/* ta_ema_get - stores the EMA in *out and returns 0, or -EAGAIN while
 * warming up (*out untouched). */
int ta_ema_get(const struct ta_ema *e, double *out);

#endif /* SHMBUS_TA_EMA_H */
