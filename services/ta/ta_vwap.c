/*
 * ta_vwap.c - session VWAP with compensated sums.
 *
 * A session can hold millions of trades of very different sizes; the two
 * running sums are compensated (ta_ksum) so the small late trades of a long
 * session still count at full precision.
 */
#include "ta_vwap.h"

#include <errno.h>
#include <math.h>
#include <stddef.h>

int ta_vwap_init(struct ta_vwap *v)
{
	if (v == NULL)
		return -EINVAL;
	ta_vwap_reset(v);
	return 0;
}

void ta_vwap_reset(struct ta_vwap *v)
{
	ta_ksum_reset(&v->pv);
	ta_ksum_reset(&v->vol);
}

int ta_vwap_update_sums(struct ta_vwap *v, double pv, double size)
{
	if (!isfinite(pv) || !isfinite(size) || size < 0.0)
		return -EINVAL;
	ta_ksum_add(&v->pv, pv);
	ta_ksum_add(&v->vol, size);
	return ta_vwap_ready(v);
}

int ta_vwap_update(struct ta_vwap *v, double price, double size)
{
	if (!isfinite(price))
		return -EINVAL;
	return ta_vwap_update_sums(v, price * size, size);
}

bool ta_vwap_ready(const struct ta_vwap *v)
{
	return ta_ksum_value(&v->vol) > 0.0;
}

int ta_vwap_get(const struct ta_vwap *v, double *out)
{
	if (!ta_vwap_ready(v))
		return -EAGAIN;
	*out = ta_ksum_value(&v->pv) / ta_ksum_value(&v->vol);
	return 0;
}
