/*
 * ta_vwap.h - volume-weighted average price, cumulative over a session.
 *
 * vwap = sum(price * size) / sum(size) over everything added since init or
 * the last ta_vwap_reset() (the session start; the caller decides when a
 * session begins). Warm-up: not ready while the cumulative size is zero
 * (no trade yet, or only zero-size trades).
 * Cost: O(1) per update, no allocation.
 * Thread-safety: none; one object belongs to one thread.
 */
#ifndef SHMBUS_TA_VWAP_H
#define SHMBUS_TA_VWAP_H

#include <stdbool.h>

#include "ta_common.h"

struct ta_vwap {
	struct ta_ksum pv;  /* sum(price * size) */
	struct ta_ksum vol; /* sum(size) */
};

/* ta_vwap_init - prepares v (VWAP has no parameters). Returns 0, or
 * -EINVAL when v is NULL. */
int ta_vwap_init(struct ta_vwap *v);

/* ta_vwap_reset - starts a new session: forgets every trade. */
void ta_vwap_reset(struct ta_vwap *v);

/*
 * ta_vwap_update - adds one trade.
 * @price: finite; @size: finite and >= 0
 * Returns 1 when a VWAP is ready, 0 while the cumulative size is zero,
 * -EINVAL for a bad price or size (ignored, state unchanged).
 */
int ta_vwap_update(struct ta_vwap *v, double price, double size);

/*
 * ta_vwap_update_sums - adds a pre-aggregated group of trades, e.g. a bar:
 * @pv: sum(price * size) of the group (finite); @size: sum(size), finite
 * and >= 0. Gives exactly the VWAP of the trades themselves, which a bar's
 * close or typical price would not.
 * Returns as ta_vwap_update().
 */
int ta_vwap_update_sums(struct ta_vwap *v, double pv, double size);

/* ta_vwap_ready - true once the cumulative size is positive. */
bool ta_vwap_ready(const struct ta_vwap *v);

/* ta_vwap_get - stores the VWAP in *out and returns 0, or -EAGAIN while
 * not ready (*out untouched). */
int ta_vwap_get(const struct ta_vwap *v, double *out);

#endif /* SHMBUS_TA_VWAP_H */
