/*
 * ta_ema.c - EMA seeded with the SMA of the first n values.
 *
 * The seed is the usual charting convention (StockCharts, TA-Lib's default):
 * an EMA started from the first value alone is biased towards it for many
 * periods, an SMA seed is not. While warming up the values are summed with
 * the compensated sum so the seed is the correctly rounded mean; afterwards
 * the recursion ema += alpha * (x - ema) is a contraction, so rounding
 * errors decay instead of accumulating and no compensation is needed.
 */
#include "ta_ema.h"

#include <errno.h>
#include <math.h>
#include <stddef.h>

int ta_ema_init(struct ta_ema *e, uint32_t n)
{
	if (e == NULL || n < 1 || n > UINT16_MAX)
		return -EINVAL;
	e->n = n;
	e->alpha = 2.0 / ((double)n + 1.0);
	ta_ema_reset(e);
	return 0;
}

void ta_ema_reset(struct ta_ema *e)
{
	e->count = 0;
	e->ema = 0.0;
	ta_ksum_reset(&e->sum);
}

int ta_ema_update(struct ta_ema *e, double x)
{
	if (!isfinite(x))
		return -EINVAL;
	e->count++;
	if (e->count > e->n) {
		e->ema += e->alpha * (x - e->ema);
		return 1;
	}
	ta_ksum_add(&e->sum, x);
	if (e->count < e->n)
		return 0;
	e->ema = ta_ksum_value(&e->sum) / (double)e->n;
	return 1;
}

bool ta_ema_ready(const struct ta_ema *e)
{
	return e->count >= e->n;
}

int ta_ema_get(const struct ta_ema *e, double *out)
{
	if (!ta_ema_ready(e))
		return -EAGAIN;
	*out = e->ema;
	return 0;
}
