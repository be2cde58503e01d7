/*
 * test_pipeline_msft.c - daily bars: the pipeline on MSFT's daily closes of
 * 2000-09-27 .. 2001-09-27 (msft_daily_2000_2001.csv of ../shared/data,
 * found through SHMBUS_SHARED_DATA; skipped when absent).
 *
 * The file holds daily OHLCV rows, not trades. The natural way through the
 * services is to read each day's close as one trade of that day's volume
 * (collector --columns ts=date,price=close,size=volume --ts-unit iso) and
 * let shmbus-ta cut one-day bars (interval_ms=86400000): each bar then holds
 * one trade, its close is the day's close, and the indicators are the
 * usual daily SMA(20), EMA(20), RSI(14), MACD(12,26,9) and Bollinger(20,2)
 * of the closes (the VWAP is that of closes weighted by daily volume). The
 * prices are in sixteenths before April 2001 (63.4375), exact in binary.
 * Every indicator row and (with the journal tools) every bar is checked
 * against ta_ref.h. This also covers bar lengths above 65535 ms, which
 * shmbus-ta's configuration used to refuse.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>

#include "pl_test.h"
#include "ta_ref.h"

static char msft_path[512];

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's
 * days_from_civil), so the test does not lean on the collector's parser. */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
	y -= m <= 2;
	const int64_t era = (y >= 0 ? y : y - 399) / 400;
	const unsigned yoe = (unsigned)(y - era * 400);
	const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int64_t)doe - 719468;
}

static void read_msft(struct tr_ref *R)
{
	FILE *f = fopen(msft_path, "r");
	char line[256];

	assert_non_null(f);
	assert_non_null(fgets(line, sizeof(line), f));
	assert_string_equal(line, "date,symbol,open,high,low,close,volume\n");
	while (fgets(line, sizeof(line), f)) {
		int y;
		unsigned m, d;
		double o, h, l, c, v;
		assert_int_equal(sscanf(line, "%d-%u-%u,MSFT,%lf,%lf,%lf,%lf,%lf", &y, &m, &d, &o,
		                        &h, &l, &c, &v),
		                 8);
		tr_trade(R, days_from_civil(y, m, d) * 86400 * 1000000000LL, c, v);
	}
	fclose(f);
	tr_indicators(R);
}

static void test_pipeline_msft_daily_bars_and_indicators(void **state)
{
	struct tr_ref R = {.interval_ns = 86400LL * 1000000000LL};
	char *extra[] = {"--columns", "ts=date,price=close,size=volume", "--ts-unit", "iso", NULL};
	struct tr_tally y;
	struct tr_run run = {0};
	char *j;

	read_msft(&R);
	assert_int_equal(R.rows, 249);
	assert_int_equal(R.n, 249); /* one row per trading day */
	assert_non_null(j = tr_pipeline("msft", msft_path, 86400000, extra, 1, &run));
	assert_true(pt_json(j, "collector_trades") == 249);
	assert_true(pt_json(j, "collector_malformed") == 0);
	assert_true(pt_json(j, "ta_late") == 0);
	assert_true(pt_json(j, "ta_bars") == 249);
	free(j);
	tr_check_tap(&R, run.tap, "MSFT", &y);
	tr_print(&R, &y, "MSFT daily bars");
	if (run.bars[0])
		tr_check_bars(&R, run.bars, "MSFT");
	else
		print_message("bars not compared field by field: shmbus-journald or "
		              "shmbus-journal not built\n");
	tr_free(&R);
}

int main(void)
{
	const char *dir = getenv("SHMBUS_SHARED_DATA");
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_pipeline_msft_daily_bars_and_indicators),
	};

	snprintf(msft_path, sizeof(msft_path), "%s/msft_daily_2000_2001.csv", dir ? dir : "");
	if (!dir || access(msft_path, R_OK) != 0) {
		printf("SKIP: %s not readable (set SHMBUS_SHARED_DATA to ../shared/data)\n",
		       msft_path);
		return 77;
	}
	return cmocka_run_group_tests(tests, pt_setup, pt_teardown);
}
