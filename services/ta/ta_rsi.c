/*
 * ta_rsi.c - Wilder's RSI.
 *
 * During warm-up avg_gain/avg_loss hold the sums of the first n gains and
 * losses (non-negative terms, so a plain sum is already accurate); at the
 * n-th change they become means, the seed Wilder used. From then on the
 * smoothing avg = avg + (part - avg) / n is a contraction like the EMA's
 * (alpha = 1/n), so rounding errors decay. The RSI is formed as
 * 100 * G / (G + L): the same number as 100 - 100 / (1 + G/L) but defined
 * when L == 0 (-> 100) and only undefined when G == L == 0 (flat -> 50).
 *
 * A zero change scales G and L by the same (n - 1) / n, which leaves the
 * RSI as it is; but a long run of equal closes (about 1000 with n = 2,
 * 10000 with n = 14) would take both into subnormals, where their ratio
 * loses its digits: the RSI of a market that does not move drifted by tens
 * of points and ended at 50. So a zero change leaves averages below
 * RSI_FLOOR untouched. That is invisible to every later change: at most
 * RSI_FLOOR off, the averages are below the last bit of any change a price
 * series carries (2^-968 against |change| / n, which would have to be under
 * ~1e-275 to feel it).
 */
#include "ta_rsi.h"

#include <errno.h>
#include <float.h>
#include <math.h>
#include <stddef.h>

/* Below this sum of the averages a zero change stops scaling them: 2^54
 * above the smallest normal double, so the larger one never goes subnormal
 * (and a smaller one that does is under 2^-54 of it: nothing to the RSI). */
#define RSI_FLOOR (DBL_MIN * 0x1p54)

int ta_rsi_init(struct ta_rsi *r, uint32_t n)
{
	if (r == NULL || n < 1 || n > UINT16_MAX)
		return -EINVAL;
	r->n = n;
	ta_rsi_reset(r);
	return 0;
}

void ta_rsi_reset(struct ta_rsi *r)
{
	r->count = 0;
	r->prev = 0.0;
	r->avg_gain = 0.0;
	r->avg_loss = 0.0;
}

int ta_rsi_update(struct ta_rsi *r, double x)
{
	double change, gain, loss, n;

	if (!isfinite(x))
		return -EINVAL;
	r->count++;
	change = x - r->prev;
	r->prev = x;
	if (r->count == 1)
		return 0; /* no change yet */
	gain = change > 0.0 ? change : 0.0;
	loss = change < 0.0 ? -change : 0.0;
	n = (double)r->n;
	if (r->count > (uint64_t)r->n + 1) {
		if (change == 0.0 && r->avg_gain + r->avg_loss < RSI_FLOOR)
			return 1; /* the RSI is unchanged; keep its digits */
		r->avg_gain += (gain - r->avg_gain) / n;
		r->avg_loss += (loss - r->avg_loss) / n;
		return 1;
	}
	r->avg_gain += gain;
	r->avg_loss += loss;
	if (r->count < (uint64_t)r->n + 1)
		return 0;
	r->avg_gain /= n; /* seed: the means of the first n changes */
	r->avg_loss /= n;
	return 1;
}

bool ta_rsi_ready(const struct ta_rsi *r)
{
	return r->count >= (uint64_t)r->n + 1;
}

int ta_rsi_get(const struct ta_rsi *r, double *out)
{
	double total;

	if (!ta_rsi_ready(r))
		return -EAGAIN;
	total = r->avg_gain + r->avg_loss;
	*out = total > 0.0 ? 100.0 * r->avg_gain / total : TA_RSI_FLAT;
	return 0;
}
