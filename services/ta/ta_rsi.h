/*
 * ta_rsi.h - relative strength index with Wilder smoothing.
 *
 * Warm-up: needs n + 1 values (n price changes). The first RSI uses the
 * plain means of the first n gains and losses; then each change c gives
 * avg = (avg * (n - 1) + part) / n for gains (max(c, 0)) and losses
 * (max(-c, 0)), and RSI = 100 * avg_gain / (avg_gain + avg_loss), which is
 * 100 - 100 / (1 + RS) written without the division by a zero loss.
 * Degenerate windows: only gains -> 100, only losses -> 0, and flat prices
 * (no gain and no loss) -> 50 by definition (neither side dominates).
 * Cost: O(1) per update, no allocation.
 * Thread-safety: none; one object belongs to one thread.
 */
#ifndef SHMBUS_TA_RSI_H
#define SHMBUS_TA_RSI_H

#include <stdbool.h>
#include <stdint.h>

#include "ta_common.h"

/* RSI value of a window with no gain and no loss. */
#define TA_RSI_FLAT 50.0

struct ta_rsi {
	uint32_t n;      /* period */
	uint64_t count;  /* values added since init/reset */
	double prev;     /* previous value (valid when count >= 1) */
	double avg_gain; /* sums while warming up, Wilder averages after */
	double avg_loss;
};

/*
 * ta_rsi_init - prepares r for period n.
 * @n: period, 1 <= n <= UINT16_MAX
 * Returns 0, or -EINVAL when r is NULL or n is out of range (r untouched).
 */
int ta_rsi_init(struct ta_rsi *r, uint32_t n);

/* ta_rsi_reset - forgets every value, keeps the period. */
void ta_rsi_reset(struct ta_rsi *r);

/*
 * ta_rsi_update - adds one value (a close).
 * Returns 1 when an RSI is ready (n + 1 values seen), 0 while warming up,
 * -EINVAL when x is not finite (ignored, state unchanged).
 */
int ta_rsi_update(struct ta_rsi *r, double x);

/* ta_rsi_ready - true once n + 1 values were added. */
bool ta_rsi_ready(const struct ta_rsi *r);

/* ta_rsi_get - stores the RSI (0..100) in *out and returns 0, or -EAGAIN
 * while warming up (*out untouched). */
int ta_rsi_get(const struct ta_rsi *r, double *out);

#endif /* SHMBUS_TA_RSI_H */
