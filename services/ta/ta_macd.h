/*
 * ta_macd.h - moving average convergence/divergence.
 *
 * macd = EMA(fast) - EMA(slow) of the input, both seeded as in ta_ema.h;
 * signal = EMA(signal) of the macd values, seeded with the SMA of the first
 * `signal` macd values; histogram = macd - signal.
 * Warm-up: the macd line is ready from the slow-th value on (the fast EMA
 * is ready earlier but is not reported alone); the signal (and histogram)
 * from value slow + signal - 1 on. With 12/26/9: value 26 and value 34.
 * Cost: O(1) per update, no allocation.
 * Thread-safety: none; one object belongs to one thread.
 */
#ifndef SHMBUS_TA_MACD_H
#define SHMBUS_TA_MACD_H

#include <stdbool.h>
#include <stdint.h>

#include "ta_ema.h"

/* Bits of ta_macd_update()'s result. */
#define TA_MACD_LINE_READY   0x1 /* macd line available */
#define TA_MACD_SIGNAL_READY 0x2 /* signal and histogram available */

struct ta_macd {
	struct ta_ema fast;
	struct ta_ema slow;
	struct ta_ema signal; /* fed with macd values */
	double macd;          /* last macd line value */
};

struct ta_macd_value {
	double macd;
	double signal;    /* valid when signal_ready */
	double histogram; /* macd - signal; valid when signal_ready */
	bool signal_ready;
};

/*
 * ta_macd_init - prepares m.
 * @fast, @slow, @signal: periods, each 1..UINT16_MAX, and fast < slow
 * Returns 0, or -EINVAL when m is NULL or a period is invalid (m untouched).
 */
int ta_macd_init(struct ta_macd *m, uint32_t fast, uint32_t slow, uint32_t signal);

/* ta_macd_reset - forgets every value, keeps the periods. */
void ta_macd_reset(struct ta_macd *m);

/*
 * ta_macd_update - adds one value.
 * Returns a mask of TA_MACD_LINE_READY / TA_MACD_SIGNAL_READY (0 while
 * warming up), or -EINVAL when x is not finite (ignored, state unchanged).
 */
int ta_macd_update(struct ta_macd *m, double x);

/* ta_macd_ready - true once the macd line is available. */
bool ta_macd_ready(const struct ta_macd *m);

/* ta_macd_signal_ready - true once signal and histogram are available. */
bool ta_macd_signal_ready(const struct ta_macd *m);

/*
 * ta_macd_get - stores the current values in *out and returns 0, or
 * -EAGAIN while the macd line is warming up (*out untouched). When only the
 * line is ready, out->signal_ready is false and signal/histogram are NaN.
 */
int ta_macd_get(const struct ta_macd *m, struct ta_macd_value *out);

#endif /* SHMBUS_TA_MACD_H */
