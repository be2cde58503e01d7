/*
 * ta_sma.c - simple moving average with an inline ring buffer.
 *
 * The window sum is updated in O(1): add the newest value, subtract the one
 * leaving the window. A plain double running sum would drift (each add and
 * subtract rounds, and the errors never leave the sum), so the sum is a
 * Neumaier-compensated one (ta_ksum): its error stays at a few ulps of the
 * current sum however long the series runs, without the periodic O(n)
 * recomputation a plain sum would need. The random test checks it against
 * an O(n) recomputation at a relative tolerance of 1e-9 over 10k values.
 */
#include "ta_sma.h"

#include <errno.h>
#include <math.h>
#include <stddef.h>

int ta_sma_init(struct ta_sma *s, uint32_t n)
{
	if (s == NULL || n < 1 || n > TA_MAX_PERIOD)
		return -EINVAL;
	s->n = n;
	ta_sma_reset(s);
	return 0;
}

void ta_sma_reset(struct ta_sma *s)
{
	s->pos = 0;
	s->count = 0;
	ta_ksum_reset(&s->sum);
}

int ta_sma_update(struct ta_sma *s, double x)
{
	if (!isfinite(x))
		return -EINVAL;
	if (s->count >= s->n)
		ta_ksum_add(&s->sum, -s->win[s->pos]);
	ta_ksum_add(&s->sum, x);
	s->win[s->pos] = x;
	s->pos = s->pos + 1 == s->n ? 0 : s->pos + 1;
	s->count++;
	return s->count >= s->n;
}

bool ta_sma_ready(const struct ta_sma *s)
{
	return s->count >= s->n;
}

int ta_sma_get(const struct ta_sma *s, double *out)
{
	if (!ta_sma_ready(s))
		return -EAGAIN;
	*out = ta_ksum_value(&s->sum) / (double)s->n;
	return 0;
}
