/*
 * ta_bar.h - time bars (OHLCV) built from one symbol's trades.
 *
 * One builder per symbol. Bars cover aligned intervals [start, start +
 * interval) with start a multiple of the interval since the epoch (1 s by
 * default: 1-second micro-bars).
 * - An interval with no trade makes no bar: a quiet second is simply absent
 *   (indicators downstream advance per bar, not per second).
 * - A trade in a later interval closes the current bar (returned to the
 *   caller) and opens a new one with that trade.
 * - ta_bar_builder_flush() closes the open bar on demand (end of input);
 *   ta_bar_builder_flush_due() closes it only once a clock passed its end.
 * - Trades out of time order inside the open bar's interval are added:
 *   high/low/volume/count take them, open is the trade with the earliest
 *   time and close the one with the latest time (equal times: the later
 *   arrival wins the close, the earlier keeps the open).
 * - Trades older than the open bar's start, or, with no bar open, older than
 *   the end of the last closed bar, are late: counted and ignored, so bars
 *   leave the builder in strictly increasing time order and an interval
 *   once closed is never reopened.
 * Warm-up: none; the first trade opens the first bar.
 * Cost: O(1) per trade, no allocation.
 * Thread-safety: none; one builder belongs to one thread.
 */
#ifndef SHMBUS_TA_BAR_H
#define SHMBUS_TA_BAR_H

#include <stdbool.h>
#include <stdint.h>

/* Result codes of ta_bar_builder_add(). */
enum ta_bar_result {
	TA_BAR_ADDED = 0,  /* trade added to the open bar (or opened one) */
	TA_BAR_CLOSED = 1, /* *closed holds the finished bar; trade opened a new one */
	TA_BAR_LATE = 2,   /* trade older than the open bar / last bar: ignored */
};

struct ta_bar {
	int64_t start_ns;      /* interval start (inclusive) */
	int64_t end_ns;        /* interval end (exclusive) = start + interval */
	int64_t open_time_ns;  /* time of the open trade */
	int64_t close_time_ns; /* time of the close trade */
	double open;
	double high;
	double low;
	double close;
	double volume;   /* sum(size) */
	double turnover; /* sum(price * size), for an exact VWAP */
	uint32_t trade_count;
};

struct ta_bar_builder {
	int64_t interval_ns;
	int64_t watermark_ns; /* end of the last closed bar: older is late */
	bool is_open;         /* cur holds a bar in progress */
	struct ta_bar cur;
	uint64_t trades; /* trades added (late ones not included) */
	uint64_t late;   /* trades ignored as late */
	uint64_t bars;   /* bars closed */
};

/* Largest accepted interval: one day. */
#define TA_BAR_MAX_INTERVAL_MS 86400000u

/*
 * ta_bar_builder_init - prepares b for bars of interval_ms milliseconds.
 * @interval_ms: 1..TA_BAR_MAX_INTERVAL_MS
 * Returns 0, or -EINVAL when b is NULL or interval_ms is out of range
 * (b untouched).
 */
int ta_bar_builder_init(struct ta_bar_builder *b, uint32_t interval_ms);

/*
 * ta_bar_builder_add - adds one trade.
 * @time_ns: trade time, epoch ns, 0 <= time_ns <= INT64_MAX - interval
 * @price: finite; @size: finite and >= 0
 * @closed: receives the finished bar when TA_BAR_CLOSED is returned
 * Returns an enum ta_bar_result, or -EINVAL for a bad time, price or size
 * (the trade is ignored and not counted; state unchanged).
 */
int ta_bar_builder_add(struct ta_bar_builder *b, int64_t time_ns, double price, double size,
                       struct ta_bar *closed);

/*
 * ta_bar_builder_flush - closes the open bar, if any, into *out.
 * Returns 1 when a bar was closed, 0 when none was open (*out untouched).
 * Later trades before that bar's end are then late.
 */
int ta_bar_builder_flush(struct ta_bar_builder *b, struct ta_bar *out);

/*
 * ta_bar_builder_flush_due - closes the open bar into *out only when
 * now_ns >= its end (its interval is over), for a service that publishes
 * bars on a clock rather than on the next trade.
 * Returns 1 when a bar was closed, 0 otherwise (*out untouched).
 */
int ta_bar_builder_flush_due(struct ta_bar_builder *b, int64_t now_ns, struct ta_bar *out);

/* ta_bar_builder_late - number of trades ignored as late. */
uint64_t ta_bar_builder_late(const struct ta_bar_builder *b);

/* ta_bar_builder_is_open - true while a bar is in progress. */
bool ta_bar_builder_is_open(const struct ta_bar_builder *b);

#endif /* SHMBUS_TA_BAR_H */
