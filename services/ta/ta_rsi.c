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
 */
#include "ta_rsi.h"

#include <errno.h>
#include <math.h>
#include <stddef.h>

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
