/*
 * ta_state.c - one symbol's indicator set.
 *
 * Init builds the whole set in a temporary and copies it only when every
 * parameter was valid, so a failed init leaves the caller's state as it
 * was. ta_on_bar() validates the bar before touching any indicator: a bar
 * rejected by one indicator but taken by another would leave them counting
 * different series.
 */
#include "ta_state.h"

#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <string.h>

void ta_params_default(struct ta_params *p)
{
	p->sma_n = 20;
	p->ema_n = 20;
	p->rsi_n = 14;
	p->macd_fast = 12;
	p->macd_slow = 26;
	p->macd_signal = 9;
	p->boll_n = 20;
	p->boll_k = 2.0;
}

int ta_symbol_init(struct ta_symbol_state *st, const struct ta_params *p)
{
	struct ta_symbol_state tmp;

	if (st == NULL)
		return -EINVAL;
	memset(&tmp, 0, sizeof(tmp));
	if (p == NULL)
		ta_params_default(&tmp.params);
	else
		tmp.params = *p;
	p = &tmp.params;
	if (ta_sma_init(&tmp.sma, p->sma_n) < 0 || ta_ema_init(&tmp.ema, p->ema_n) < 0 ||
	    ta_rsi_init(&tmp.rsi, p->rsi_n) < 0 ||
	    ta_macd_init(&tmp.macd, p->macd_fast, p->macd_slow, p->macd_signal) < 0 ||
	    ta_vwap_init(&tmp.vwap) < 0 || ta_bollinger_init(&tmp.boll, p->boll_n, p->boll_k) < 0)
		return -EINVAL;
	tmp.bars = 0;
	*st = tmp;
	return 0;
}

void ta_symbol_reset(struct ta_symbol_state *st)
{
	ta_sma_reset(&st->sma);
	ta_ema_reset(&st->ema);
	ta_rsi_reset(&st->rsi);
	ta_macd_reset(&st->macd);
	ta_vwap_reset(&st->vwap);
	ta_bollinger_reset(&st->boll);
	st->bars = 0;
}

void ta_symbol_reset_session(struct ta_symbol_state *st)
{
	ta_vwap_reset(&st->vwap);
}

int ta_on_bar(struct ta_symbol_state *st, const struct ta_bar *bar)
{
	unsigned out = 0;
	double c;
	int m;

	if (bar == NULL || !isfinite(bar->close) || !isfinite(bar->turnover) ||
	    !isfinite(bar->volume) || bar->volume < 0.0)
		return -EINVAL;
	c = bar->close;
	st->bars++;
	if (ta_sma_update(&st->sma, c) == 1)
		out |= TA_OUT_SMA;
	if (ta_ema_update(&st->ema, c) == 1)
		out |= TA_OUT_EMA;
	if (ta_rsi_update(&st->rsi, c) == 1)
		out |= TA_OUT_RSI;
	m = ta_macd_update(&st->macd, c);
	if (m & TA_MACD_LINE_READY)
		out |= TA_OUT_MACD;
	if (m & TA_MACD_SIGNAL_READY)
		out |= TA_OUT_MACD_SIGNAL;
	if (ta_vwap_update_sums(&st->vwap, bar->turnover, bar->volume) == 1)
		out |= TA_OUT_VWAP;
	if (ta_bollinger_update(&st->boll, c) == 1)
		out |= TA_OUT_BOLLINGER;
	return (int)out;
}

void ta_symbol_values(const struct ta_symbol_state *st, struct ta_values *out)
{
	unsigned r = 0;

	/* fields of indicators still warming up read as NaN, never garbage */
	out->sma = out->ema = out->rsi = out->vwap = NAN;
	out->macd.macd = out->macd.signal = out->macd.histogram = NAN;
	out->macd.signal_ready = false;
	out->boll.middle = out->boll.upper = out->boll.lower = out->boll.sd = NAN;
	if (ta_sma_get(&st->sma, &out->sma) == 0)
		r |= TA_OUT_SMA;
	if (ta_ema_get(&st->ema, &out->ema) == 0)
		r |= TA_OUT_EMA;
	if (ta_rsi_get(&st->rsi, &out->rsi) == 0)
		r |= TA_OUT_RSI;
	if (ta_macd_get(&st->macd, &out->macd) == 0) {
		r |= TA_OUT_MACD;
		if (out->macd.signal_ready)
			r |= TA_OUT_MACD_SIGNAL;
	}
	if (ta_vwap_get(&st->vwap, &out->vwap) == 0)
		r |= TA_OUT_VWAP;
	if (ta_bollinger_get(&st->boll, &out->boll) == 0)
		r |= TA_OUT_BOLLINGER;
	out->ready = r;
}
