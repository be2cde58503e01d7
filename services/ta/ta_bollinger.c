/*
 * ta_bollinger.c - Bollinger bands with an anchored sliding variance.
 *
 * The textbook O(1) variance, sum(x^2)/n - mean^2, cancels catastrophically
 * when prices are large against their spread (a 50000 price moving by 1
 * loses ~9 of 16 digits). Instead the window keeps compensated sums of
 * d = x - K and d^2 for an anchor K close to the window's mean, so the
 * cancellation in sum(d^2) - sum(d)^2/n only loses what the window's own
 * drift from K costs. Each time the ring index wraps (once per n updates)
 * the anchor moves to the window's mean and both sums are recomputed
 * exactly from the window: one O(n) pass per n updates keeps the cost O(1)
 * amortized, bounds the drift of K to one window's travel, and throws away
 * whatever rounding error the sliding sums had gathered. A window that
 * turns flat (its n-th equal value in a row) is re-anchored at once too, not
 * up to n - 1 updates later: flat prices thus give K == price, d == 0 and a
 * standard deviation of exactly 0 from the first flat window on, where the
 * sliding sums' rounding would leave a band ~1e-9 wide (sqrt of an error
 * of a few ulps). At most one such extra pass per n updates: O(1) amortized
 * still.
 * The cancellation costs the window's drift from K squared against its
 * variance: relative error ~ eps * (mean - K)^2 / var. A trend keeps that
 * ratio near 10, but a gap or a bad print that has just left the window
 * leaves K far from prices that hardly move (a gap from 100 to 200 with
 * 1e-4 steps: sd off by 1e-5 relative; a print at 10000: by 0.4 %), for up
 * to n - 1 updates. So a ratio above BOLL_DRIFT_MAX re-anchors at once too,
 * keeping the error near eps * 2^20 ~ 2e-10; at most once more per n
 * updates, so an adversarial series cannot make every update O(n).
 */
#include "ta_bollinger.h"

#include <errno.h>
#include <math.h>
#include <stddef.h>

/* Largest n * (mean - K)^2 / (n * var) left to the sliding sums. */
#define BOLL_DRIFT_MAX 0x1p20

int ta_bollinger_init(struct ta_bollinger *b, uint32_t n, double k)
{
	if (b == NULL || n < 1 || n > TA_MAX_PERIOD || !isfinite(k) || k < 0.0)
		return -EINVAL;
	b->n = n;
	b->k = k;
	ta_bollinger_reset(b);
	return 0;
}

void ta_bollinger_reset(struct ta_bollinger *b)
{
	b->pos = 0;
	b->count = 0;
	b->run = 0;
	b->drift_pass = false;
	b->anchor = 0.0;
	ta_ksum_reset(&b->s1);
	ta_ksum_reset(&b->s2);
}

/* Moves the anchor to the mean of the full window and recomputes the sums:
 * a corrected two-pass mean (the second pass adds back the mean of the
 * residuals, so n equal values give exactly that value). */
static void bollinger_reanchor(struct ta_bollinger *b)
{
	struct ta_ksum sum = {0.0, 0.0};
	double mean, d;
	uint32_t i;

	for (i = 0; i < b->n; i++)
		ta_ksum_add(&sum, b->win[i]);
	mean = ta_ksum_value(&sum) / (double)b->n;
	ta_ksum_reset(&sum);
	for (i = 0; i < b->n; i++)
		ta_ksum_add(&sum, b->win[i] - mean);
	mean += ta_ksum_value(&sum) / (double)b->n;
	b->anchor = mean;
	ta_ksum_reset(&b->s1);
	ta_ksum_reset(&b->s2);
	for (i = 0; i < b->n; i++) {
		d = b->win[i] - mean;
		ta_ksum_add(&b->s1, d);
		ta_ksum_add(&b->s2, d * d);
	}
}

/* Has the window's mean drifted so far from the anchor, against its
 * spread, that sum(d^2) - sum(d)^2 / n cancels most of its digits? Also
 * true when rounding took that difference to 0 or below in a window that
 * is not flat. */
static bool bollinger_drifted(const struct ta_bollinger *b)
{
	double s1 = ta_ksum_value(&b->s1);
	double drift = s1 * s1 / (double)b->n; /* n * (mean - K)^2 */

	return drift > BOLL_DRIFT_MAX * (ta_ksum_value(&b->s2) - drift);
}

int ta_bollinger_update(struct ta_bollinger *b, double x)
{
	double d;

	if (!isfinite(x))
		return -EINVAL;
	if (b->count == 0)
		b->anchor = x; /* any value of the series is a fine first anchor */
	if (b->count > 0 && x == b->win[b->pos == 0 ? b->n - 1 : b->pos - 1])
		b->run++;
	else
		b->run = 1;
	if (b->count >= b->n) {
		d = b->win[b->pos] - b->anchor;
		ta_ksum_add(&b->s1, -d);
		ta_ksum_add(&b->s2, -(d * d));
	}
	d = x - b->anchor;
	ta_ksum_add(&b->s1, d);
	ta_ksum_add(&b->s2, d * d);
	b->win[b->pos] = x;
	b->count++;
	if (++b->pos == b->n) {
		b->pos = 0;
		b->drift_pass = false;
	}
	if (b->pos == 0 || b->run == b->n) {
		bollinger_reanchor(b);
	} else if (b->count > b->n && !b->drift_pass && bollinger_drifted(b)) {
		b->drift_pass = true;
		bollinger_reanchor(b);
	}
	return b->count >= b->n;
}

bool ta_bollinger_ready(const struct ta_bollinger *b)
{
	return b->count >= b->n;
}

int ta_bollinger_get(const struct ta_bollinger *b, struct ta_bollinger_value *out)
{
	double n, s1, var;

	if (!ta_bollinger_ready(b))
		return -EAGAIN;
	n = (double)b->n;
	s1 = ta_ksum_value(&b->s1);
	var = (ta_ksum_value(&b->s2) - s1 * s1 / n) / n;
	out->middle = b->anchor + s1 / n;
	out->sd = var > 0.0 ? sqrt(var) : 0.0; /* rounding can dip below 0 */
	out->upper = out->middle + b->k * out->sd;
	out->lower = out->middle - b->k * out->sd;
	return 0;
}
