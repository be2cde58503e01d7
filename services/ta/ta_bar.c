/*
 * ta_bar.c - OHLCV bar builder.
 *
 * Intervals are aligned to the epoch (start = time - time % interval), so
 * two builders fed the same trades, or a live run and its replay, cut
 * identical bars whatever the first trade's time. Times are restricted to
 * [0, INT64_MAX - interval] so the alignment and start + interval never
 * overflow. The open bar remembers the times of its open and close trades,
 * which is what lets out-of-order trades within the interval land on the
 * right open/close. Late trades are dropped rather than patched into a bar
 * already published: downstream indicators are sequential and cannot take
 * a correction back.
 */
#include "ta_bar.h"

#include <errno.h>
#include <math.h>
#include <stddef.h>

int ta_bar_builder_init(struct ta_bar_builder *b, uint32_t interval_ms)
{
	if (b == NULL || interval_ms < 1 || interval_ms > TA_BAR_MAX_INTERVAL_MS)
		return -EINVAL;
	b->interval_ns = (int64_t)interval_ms * 1000000;
	b->watermark_ns = 0;
	b->is_open = false;
	b->trades = 0;
	b->late = 0;
	b->bars = 0;
	return 0;
}

static void bar_open(struct ta_bar_builder *b, int64_t t, double price, double size)
{
	struct ta_bar *c = &b->cur;

	c->start_ns = t - t % b->interval_ns; /* t >= 0: plain modulo aligns */
	c->end_ns = c->start_ns + b->interval_ns;
	c->open_time_ns = t;
	c->close_time_ns = t;
	c->open = c->high = c->low = c->close = price;
	c->volume = size;
	c->turnover = price * size;
	c->trade_count = 1;
	b->is_open = true;
}

static void bar_extend(struct ta_bar *c, int64_t t, double price, double size)
{
	if (t < c->open_time_ns) {
		c->open_time_ns = t;
		c->open = price;
	}
	if (t >= c->close_time_ns) {
		c->close_time_ns = t;
		c->close = price;
	}
	if (price > c->high)
		c->high = price;
	if (price < c->low)
		c->low = price;
	c->volume += size;
	c->turnover += price * size;
	c->trade_count++;
}

static void bar_close(struct ta_bar_builder *b, struct ta_bar *out)
{
	*out = b->cur;
	b->watermark_ns = b->cur.end_ns;
	b->is_open = false;
	b->bars++;
}

int ta_bar_builder_add(struct ta_bar_builder *b, int64_t time_ns, double price, double size,
                       struct ta_bar *closed)
{
	int rc = TA_BAR_ADDED;

	if (time_ns < 0 || time_ns > INT64_MAX - b->interval_ns || !isfinite(price) ||
	    !isfinite(size) || size < 0.0 || !isfinite(price * size) || closed == NULL)
		return -EINVAL;
	if (time_ns < (b->is_open ? b->cur.start_ns : b->watermark_ns)) {
		b->late++;
		return TA_BAR_LATE;
	}
	b->trades++;
	if (b->is_open && time_ns < b->cur.end_ns) {
		bar_extend(&b->cur, time_ns, price, size);
		return TA_BAR_ADDED;
	}
	if (b->is_open) {
		bar_close(b, closed);
		rc = TA_BAR_CLOSED;
	}
	bar_open(b, time_ns, price, size);
	return rc;
}

int ta_bar_builder_flush(struct ta_bar_builder *b, struct ta_bar *out)
{
	if (!b->is_open)
		return 0;
	bar_close(b, out);
	return 1;
}

int ta_bar_builder_flush_due(struct ta_bar_builder *b, int64_t now_ns, struct ta_bar *out)
{
	if (!b->is_open || now_ns < b->cur.end_ns)
		return 0;
	bar_close(b, out);
	return 1;
}

uint64_t ta_bar_builder_late(const struct ta_bar_builder *b)
{
	return b->late;
}

bool ta_bar_builder_is_open(const struct ta_bar_builder *b)
{
	return b->is_open;
}
