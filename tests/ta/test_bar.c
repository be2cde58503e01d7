/*
 * test_bar.c - the OHLCV bar builder: aligned intervals, closing by a later
 * trade and by flush, out-of-order and late trades, gaps, bad input; and a
 * gap longer than an indicator window, end to end through ta_on_bar().
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <math.h>
#include <string.h>

#include "ta_bar.h"
#include "ta_state.h"

#define SEC INT64_C(1000000000)
#define MS  INT64_C(1000000)
/* an arbitrary whole second since the epoch (2024-01-01T00:00:00Z) */
#define T0 (INT64_C(1704067200) * SEC)

static void test_bar_single_trade_ohlc_equal(void **state)
{
	struct ta_bar_builder b;
	struct ta_bar bar;

	assert_int_equal(ta_bar_builder_init(&b, 1000), 0);
	assert_false(ta_bar_builder_is_open(&b));
	assert_int_equal(ta_bar_builder_add(&b, T0 + 3 * SEC + 123456789, 101.5, 2.0, &bar),
	                 TA_BAR_ADDED);
	assert_true(ta_bar_builder_is_open(&b));
	assert_int_equal(ta_bar_builder_flush(&b, &bar), 1);
	assert_false(ta_bar_builder_is_open(&b));
	assert_true(bar.start_ns == T0 + 3 * SEC);
	assert_true(bar.end_ns == T0 + 4 * SEC);
	assert_true(bar.open_time_ns == T0 + 3 * SEC + 123456789);
	assert_true(bar.close_time_ns == bar.open_time_ns);
	assert_true(bar.open == 101.5 && bar.high == 101.5 && bar.low == 101.5 &&
	            bar.close == 101.5);
	assert_true(bar.volume == 2.0 && bar.turnover == 203.0);
	assert_int_equal(bar.trade_count, 1);
	assert_int_equal(ta_bar_builder_flush(&b, &bar), 0); /* nothing left */
}

/* Trades 10 @1, 12 @2, 9 @1, 11 @3 within one second, then a trade in the
 * next second closes it: O 10 H 12 L 9 C 11, V 7, turnover 10+24+9+33 = 76. */
static void test_bar_ohlcv_closed_by_later_trade(void **state)
{
	struct ta_bar_builder b;
	struct ta_bar bar;

	memset(&bar, 0, sizeof(bar));
	assert_int_equal(ta_bar_builder_init(&b, 1000), 0);
	assert_int_equal(ta_bar_builder_add(&b, T0 + 100 * MS, 10.0, 1.0, &bar), TA_BAR_ADDED);
	assert_int_equal(ta_bar_builder_add(&b, T0 + 200 * MS, 12.0, 2.0, &bar), TA_BAR_ADDED);
	assert_int_equal(ta_bar_builder_add(&b, T0 + 300 * MS, 9.0, 1.0, &bar), TA_BAR_ADDED);
	assert_int_equal(ta_bar_builder_add(&b, T0 + 999 * MS, 11.0, 3.0, &bar), TA_BAR_ADDED);
	assert_true(bar.trade_count == 0); /* nothing handed out yet */
	assert_int_equal(ta_bar_builder_add(&b, T0 + SEC, 13.0, 0.5, &bar), TA_BAR_CLOSED);
	assert_true(bar.start_ns == T0 && bar.end_ns == T0 + SEC);
	assert_true(bar.open == 10.0 && bar.high == 12.0 && bar.low == 9.0 && bar.close == 11.0);
	assert_true(bar.volume == 7.0 && bar.turnover == 76.0);
	assert_int_equal(bar.trade_count, 4);
	assert_int_equal(ta_bar_builder_flush(&b, &bar), 1);
	assert_true(bar.start_ns == T0 + SEC && bar.open == 13.0 && bar.close == 13.0);
	assert_true(bar.volume == 0.5);
	assert_int_equal(b.bars, 2);
	assert_int_equal(b.trades, 5);
}

/* Trades at 1.2 s and 5.5 s: one bar [1, 2), then [5, 6): no bar for the
 * quiet seconds 2..4. */
static void test_bar_gap_makes_no_bar(void **state)
{
	struct ta_bar_builder b;
	struct ta_bar bar;

	assert_int_equal(ta_bar_builder_init(&b, 1000), 0);
	assert_int_equal(ta_bar_builder_add(&b, T0 + 1200 * MS, 5.0, 1.0, &bar), TA_BAR_ADDED);
	assert_int_equal(ta_bar_builder_add(&b, T0 + 5500 * MS, 6.0, 1.0, &bar), TA_BAR_CLOSED);
	assert_true(bar.start_ns == T0 + SEC && bar.end_ns == T0 + 2 * SEC);
	assert_int_equal(ta_bar_builder_flush(&b, &bar), 1);
	assert_true(bar.start_ns == T0 + 5 * SEC && bar.close == 6.0);
	assert_int_equal(b.bars, 2);
}

/* Out of order within the bar: 10 @1.5, 9 @1.2, 11 @1.8, 12 @1.7 ->
 * open = earliest time (9), close = latest time (11), H 12, L 9. */
static void test_bar_out_of_order_within_bar(void **state)
{
	struct ta_bar_builder b;
	struct ta_bar bar;

	assert_int_equal(ta_bar_builder_init(&b, 1000), 0);
	assert_int_equal(ta_bar_builder_add(&b, T0 + 1500 * MS, 10.0, 1.0, &bar), TA_BAR_ADDED);
	assert_int_equal(ta_bar_builder_add(&b, T0 + 1200 * MS, 9.0, 1.0, &bar), TA_BAR_ADDED);
	assert_int_equal(ta_bar_builder_add(&b, T0 + 1800 * MS, 11.0, 1.0, &bar), TA_BAR_ADDED);
	assert_int_equal(ta_bar_builder_add(&b, T0 + 1700 * MS, 12.0, 1.0, &bar), TA_BAR_ADDED);
	assert_int_equal(ta_bar_builder_flush(&b, &bar), 1);
	assert_true(bar.open == 9.0 && bar.close == 11.0);
	assert_true(bar.high == 12.0 && bar.low == 9.0);
	assert_true(bar.open_time_ns == T0 + 1200 * MS && bar.close_time_ns == T0 + 1800 * MS);
	assert_int_equal(bar.trade_count, 4);
	assert_int_equal(ta_bar_builder_late(&b), 0);
}

/* Equal times: the later arrival is the close, the first keeps the open. */
static void test_bar_equal_times_later_arrival_closes(void **state)
{
	struct ta_bar_builder b;
	struct ta_bar bar;

	assert_int_equal(ta_bar_builder_init(&b, 1000), 0);
	ta_bar_builder_add(&b, T0 + 500 * MS, 1.0, 1.0, &bar);
	ta_bar_builder_add(&b, T0 + 500 * MS, 2.0, 1.0, &bar);
	ta_bar_builder_add(&b, T0 + 500 * MS, 3.0, 1.0, &bar);
	assert_int_equal(ta_bar_builder_flush(&b, &bar), 1);
	assert_true(bar.open == 1.0 && bar.close == 3.0);
}

/* A trade older than the open bar's start is late: counted, ignored; after
 * a flush, the flushed interval is closed for good. */
static void test_bar_late_trade_counted_and_ignored(void **state)
{
	struct ta_bar_builder b;
	struct ta_bar bar, closed;

	assert_int_equal(ta_bar_builder_init(&b, 1000), 0);
	assert_int_equal(ta_bar_builder_add(&b, T0 + 1500 * MS, 10.0, 1.0, &bar), TA_BAR_ADDED);
	assert_int_equal(ta_bar_builder_add(&b, T0 + 2100 * MS, 20.0, 1.0, &bar), TA_BAR_CLOSED);
	/* the bar [2, 3) is open; 1.9 s is before its start */
	assert_int_equal(ta_bar_builder_add(&b, T0 + 1900 * MS, 99.0, 5.0, &bar), TA_BAR_LATE);
	assert_int_equal(ta_bar_builder_late(&b), 1);
	assert_int_equal(ta_bar_builder_flush(&b, &closed), 1);
	assert_true(closed.high == 20.0 && closed.volume == 1.0 && closed.trade_count == 1);
	/* flushed: a trade inside [2, 3) can no longer reopen it */
	assert_int_equal(ta_bar_builder_add(&b, T0 + 2500 * MS, 21.0, 1.0, &bar), TA_BAR_LATE);
	assert_int_equal(ta_bar_builder_late(&b), 2);
	assert_false(ta_bar_builder_is_open(&b));
	assert_int_equal(ta_bar_builder_add(&b, T0 + 3 * SEC, 22.0, 1.0, &bar), TA_BAR_ADDED);
	assert_int_equal(ta_bar_builder_flush(&b, &closed), 1);
	assert_true(closed.start_ns == T0 + 3 * SEC && closed.close == 22.0);
	assert_int_equal(b.trades, 3);
}

/* 250 ms bars align to multiples of 250 ms since the epoch. */
static void test_bar_interval_alignment_ms(void **state)
{
	struct ta_bar_builder b;
	struct ta_bar bar;

	assert_int_equal(ta_bar_builder_init(&b, 250), 0);
	assert_int_equal(ta_bar_builder_add(&b, T0 + 1100 * MS, 1.0, 1.0, &bar), TA_BAR_ADDED);
	assert_int_equal(ta_bar_builder_add(&b, T0 + 1249 * MS, 2.0, 1.0, &bar), TA_BAR_ADDED);
	assert_int_equal(ta_bar_builder_add(&b, T0 + 1250 * MS, 3.0, 1.0, &bar), TA_BAR_CLOSED);
	assert_true(bar.start_ns == T0 + 1000 * MS && bar.end_ns == T0 + 1250 * MS);
	assert_int_equal(bar.trade_count, 2);
	/* tiny times near the epoch work too */
	assert_int_equal(ta_bar_builder_init(&b, 1000), 0);
	assert_int_equal(ta_bar_builder_add(&b, 0, 1.0, 1.0, &bar), TA_BAR_ADDED);
	assert_int_equal(ta_bar_builder_flush(&b, &bar), 1);
	assert_true(bar.start_ns == 0 && bar.end_ns == SEC);
}

/* flush_due closes only once the clock passed the bar's end. */
static void test_bar_flush_due_waits_for_interval_end(void **state)
{
	struct ta_bar_builder b;
	struct ta_bar bar;

	assert_int_equal(ta_bar_builder_init(&b, 1000), 0);
	assert_int_equal(ta_bar_builder_flush_due(&b, T0 + 10 * SEC, &bar), 0); /* none open */
	ta_bar_builder_add(&b, T0 + 400 * MS, 7.0, 1.0, &bar);
	assert_int_equal(ta_bar_builder_flush_due(&b, T0 + 999 * MS, &bar), 0);
	assert_true(ta_bar_builder_is_open(&b));
	assert_int_equal(ta_bar_builder_flush_due(&b, T0 + SEC, &bar), 1);
	assert_true(bar.close == 7.0 && bar.start_ns == T0);
	assert_false(ta_bar_builder_is_open(&b));
}

static void test_bar_rejects_bad_params_and_trades(void **state)
{
	struct ta_bar_builder b;
	struct ta_bar bar;

	assert_int_equal(ta_bar_builder_init(&b, 0), -EINVAL);
	assert_int_equal(ta_bar_builder_init(&b, TA_BAR_MAX_INTERVAL_MS + 1), -EINVAL);
	assert_int_equal(ta_bar_builder_init(NULL, 1000), -EINVAL);
	assert_int_equal(ta_bar_builder_init(&b, TA_BAR_MAX_INTERVAL_MS), 0);
	assert_int_equal(ta_bar_builder_init(&b, 1000), 0);
	assert_int_equal(ta_bar_builder_add(&b, T0, NAN, 1.0, &bar), -EINVAL);
	assert_int_equal(ta_bar_builder_add(&b, T0, INFINITY, 1.0, &bar), -EINVAL);
	assert_int_equal(ta_bar_builder_add(&b, T0, 1.0, -1.0, &bar), -EINVAL);
	assert_int_equal(ta_bar_builder_add(&b, T0, 1.0, NAN, &bar), -EINVAL);
	assert_int_equal(ta_bar_builder_add(&b, T0, 1e300, 1e300, &bar), -EINVAL);
	assert_int_equal(ta_bar_builder_add(&b, -1, 1.0, 1.0, &bar), -EINVAL);
	assert_int_equal(ta_bar_builder_add(&b, INT64_MAX, 1.0, 1.0, &bar), -EINVAL);
	assert_int_equal(ta_bar_builder_add(&b, T0, 1.0, 1.0, NULL), -EINVAL);
	assert_false(ta_bar_builder_is_open(&b));
	assert_int_equal(b.trades, 0);
	assert_int_equal(ta_bar_builder_late(&b), 0);
	/* the largest accepted time still gets a bar whose end fits */
	assert_int_equal(ta_bar_builder_add(&b, INT64_MAX - SEC, 1.0, 0.0, &bar), TA_BAR_ADDED);
	assert_int_equal(ta_bar_builder_flush(&b, &bar), 1);
	assert_true(bar.end_ns > bar.start_ns && bar.end_ns - bar.start_ns == SEC);
}

/*
 * A gap longer than the SMA(3) window: bars at seconds 0, 1, 2, then trades
 * resume at second 100. Indicators advance per bar, so the first SMA after
 * the gap is the mean of the closes of bars 1, 2 and 100: (2 + 3 + 10)/3 = 5,
 * not a window full of "missing" seconds.
 */
static void test_bar_gap_longer_than_window_is_no_bar(void **state)
{
	const struct ta_params p = {3, 3, 3, 2, 3, 2, 3, 2.0};
	const int64_t t[] = {0, SEC, 2 * SEC, 100 * SEC, 101 * SEC};
	const double px[] = {1.0, 2.0, 3.0, 10.0, 11.0};
	static struct ta_symbol_state st;
	struct ta_bar_builder b;
	struct ta_bar bar;
	double v;
	int bars = 0;

	assert_int_equal(ta_symbol_init(&st, &p), 0);
	assert_int_equal(ta_bar_builder_init(&b, 1000), 0);
	for (int i = 0; i < 5; i++) {
		if (ta_bar_builder_add(&b, T0 + t[i] + 10 * MS, px[i], 1.0, &bar) ==
		    TA_BAR_CLOSED) {
			assert_true(ta_on_bar(&st, &bar) >= 0);
			bars++;
		}
	}
	assert_int_equal(bars, 4); /* seconds 0, 1, 2, 100; 101 still open */
	assert_int_equal(ta_sma_get(&st.sma, &v), 0);
	assert_true(v == 5.0);
	assert_int_equal(ta_bar_builder_flush(&b, &bar), 1);
	assert_true(ta_on_bar(&st, &bar) & TA_OUT_SMA);
	assert_int_equal(ta_sma_get(&st.sma, &v), 0);
	assert_true(v == (3.0 + 10.0 + 11.0) / 3.0);
	assert_int_equal(st.bars, 5);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_bar_single_trade_ohlc_equal),
	    cmocka_unit_test(test_bar_ohlcv_closed_by_later_trade),
	    cmocka_unit_test(test_bar_gap_makes_no_bar),
	    cmocka_unit_test(test_bar_out_of_order_within_bar),
	    cmocka_unit_test(test_bar_equal_times_later_arrival_closes),
	    cmocka_unit_test(test_bar_late_trade_counted_and_ignored),
	    cmocka_unit_test(test_bar_interval_alignment_ms),
	    cmocka_unit_test(test_bar_flush_due_waits_for_interval_end),
	    cmocka_unit_test(test_bar_rejects_bad_params_and_trades),
	    cmocka_unit_test(test_bar_gap_longer_than_window_is_no_bar),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
