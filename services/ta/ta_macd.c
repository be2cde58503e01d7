/*
 * ta_macd.c - MACD from three ta_ema objects.
 *
 * The signal EMA only sees macd values, i.e. it starts counting at the
 * slow-th input, which is what "EMA(9) of the macd line, seeded with the SMA
 * of its first 9 values" means. Keeping the last macd value lets the getter
 * answer without recomputing the subtraction.
 */
#include "ta_macd.h"

#include <errno.h>
#include <math.h>
#include <stddef.h>

int ta_macd_init(struct ta_macd *m, uint32_t fast, uint32_t slow, uint32_t signal)
{
	struct ta_macd tmp;

	if (m == NULL || fast >= slow)
		return -EINVAL;
	if (ta_ema_init(&tmp.fast, fast) < 0 || ta_ema_init(&tmp.slow, slow) < 0 ||
	    ta_ema_init(&tmp.signal, signal) < 0)
		return -EINVAL;
	tmp.macd = 0.0;
	*m = tmp;
	return 0;
}

void ta_macd_reset(struct ta_macd *m)
{
	ta_ema_reset(&m->fast);
	ta_ema_reset(&m->slow);
	ta_ema_reset(&m->signal);
	m->macd = 0.0;
}

int ta_macd_update(struct ta_macd *m, double x)
{
	double f, s;
	int rc;

	if (!isfinite(x))
		return -EINVAL;
	ta_ema_update(&m->fast, x);
	if (ta_ema_update(&m->slow, x) != 1)
		return 0;
	/* fast < slow, so the fast EMA is ready whenever the slow one is. */
	ta_ema_get(&m->fast, &f);
	ta_ema_get(&m->slow, &s);
	m->macd = f - s;
	rc = TA_MACD_LINE_READY;
	if (ta_ema_update(&m->signal, m->macd) == 1)
		rc |= TA_MACD_SIGNAL_READY;
	return rc;
}

bool ta_macd_ready(const struct ta_macd *m)
{
	return ta_ema_ready(&m->slow);
}

bool ta_macd_signal_ready(const struct ta_macd *m)
{
	return ta_ema_ready(&m->signal);
}

int ta_macd_get(const struct ta_macd *m, struct ta_macd_value *out)
{
	if (!ta_macd_ready(m))
		return -EAGAIN;
	out->macd = m->macd;
	out->signal_ready = ta_ema_get(&m->signal, &out->signal) == 0;
	if (out->signal_ready) {
		out->histogram = m->macd - out->signal;
	} else {
		out->signal = NAN;
		out->histogram = NAN;
	}
	return 0;
}
