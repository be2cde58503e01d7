/*
 * ta_state.h - every indicator of one symbol, driven by its bars.
 *
 * A ta_symbol_state holds one SMA, EMA, RSI, MACD, VWAP and Bollinger
 * object. ta_on_bar() feeds a closed bar to all of them: the close to the
 * price indicators, the bar's turnover and volume to the VWAP (so the VWAP
 * is that of the trades, not of bar closes). Indicators advance per bar:
 * a second without trades has no bar and so moves nothing; a gap longer
 * than a window just means the window spans more wall-clock time.
 * Warm-up: each indicator's own (see its header); the result mask says
 * which ones have a value after this bar.
 * Cost: O(1) (amortized, for Bollinger) per bar, no allocation. The struct
 * is ~17 KiB (two inline windows); keep one per symbol.
 * Thread-safety: none; one state belongs to one thread.
 */
#ifndef SHMBUS_TA_STATE_H
#define SHMBUS_TA_STATE_H

#include <stdint.h>

#include "ta_bar.h"
#include "ta_bollinger.h"
#include "ta_ema.h"
#include "ta_macd.h"
#include "ta_rsi.h"
#include "ta_sma.h"
#include "ta_vwap.h"

/* Bits of ta_on_bar()'s result: bit (1 << kind) for the indicator kinds of
 * shmbus/event.h (SHMBUS_IND_SMA = 1 ... SHMBUS_IND_BOLLINGER = 6), plus a
 * separate bit for the MACD signal/histogram. */
#define TA_OUT_SMA         (1u << 1)
#define TA_OUT_EMA         (1u << 2)
#define TA_OUT_RSI         (1u << 3)
#define TA_OUT_MACD        (1u << 4) /* macd line */
#define TA_OUT_VWAP        (1u << 5)
#define TA_OUT_BOLLINGER   (1u << 6)
#define TA_OUT_MACD_SIGNAL (1u << 7) /* signal and histogram */

struct ta_params {
	uint32_t sma_n;       /* default 20 */
	uint32_t ema_n;       /* default 20 */
	uint32_t rsi_n;       /* default 14 */
	uint32_t macd_fast;   /* default 12 */
	uint32_t macd_slow;   /* default 26 */
	uint32_t macd_signal; /* default 9 */
	uint32_t boll_n;      /* default 20 */
	double boll_k;        /* default 2.0 */
};

struct ta_symbol_state {
	struct ta_params params;
	struct ta_sma sma;
	struct ta_ema ema;
	struct ta_rsi rsi;
	struct ta_macd macd;
	struct ta_vwap vwap;
	struct ta_bollinger boll;
	uint64_t bars; /* bars accepted */
};

/* Every indicator's current value; a field is valid when its TA_OUT_* bit
 * is set in ready, and NaN otherwise. */
struct ta_values {
	unsigned ready; /* TA_OUT_* bits */
	double sma;
	double ema;
	double rsi;
	struct ta_macd_value macd;
	double vwap;
	struct ta_bollinger_value boll;
};

/* ta_params_default - fills *p with the defaults listed in struct
 * ta_params. Thread-safe. */
void ta_params_default(struct ta_params *p);

/*
 * ta_symbol_init - prepares st with parameters p (NULL: the defaults).
 * Returns 0, or -EINVAL when st is NULL or a parameter is invalid (the
 * limits of each indicator's init; st untouched).
 */
int ta_symbol_init(struct ta_symbol_state *st, const struct ta_params *p);

/* ta_symbol_reset - forgets every bar, keeps the parameters. */
void ta_symbol_reset(struct ta_symbol_state *st);

/* ta_symbol_reset_session - restarts the VWAP (a new session); the other
 * indicators carry on. */
void ta_symbol_reset_session(struct ta_symbol_state *st);

/*
 * ta_on_bar - feeds one closed bar to every indicator.
 * Returns the TA_OUT_* bits of the indicators that have a value after this
 * bar (0 while all warm up), or -EINVAL when bar is NULL or has a
 * non-finite close/turnover or a negative or non-finite volume (nothing is
 * updated, so the indicators stay in step).
 */
int ta_on_bar(struct ta_symbol_state *st, const struct ta_bar *bar);

/* ta_symbol_values - fills *out with every current value and its ready
 * bits (as ta_on_bar() would return them now). */
void ta_symbol_values(const struct ta_symbol_state *st, struct ta_values *out);

#endif /* SHMBUS_TA_STATE_H */
