/*
 * test_collector_shared_data.c - the CSV reader on the real IBM files of
 * ../shared/data (found through SHMBUS_SHARED_DATA; skipped when absent).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "csv_reader.h"

static char trades_path[512], quotes_path[512];

static void test_collector_shared_data_ibm_trades(void **state)
{
	struct shmbus_csv_options o = {.kind = SHMBUS_MD_TRADE}; /* defaults, auto unit */
	struct shmbus_csv_reader *r;
	struct shmbus_csv_error err;
	struct shmbus_md_record rec, first = {0};
	struct shmbus_csv_stats st;
	double volume = 0;
	int n = 0;

	assert_int_equal(shmbus_csv_open(&r, trades_path, &o, &err), 0);
	while (n < 1000 && shmbus_csv_next(r, &rec) == 1) {
		if (n++ == 0)
			first = rec;
		volume += rec.size;
	}
	assert_int_equal(n, 1000);
	assert_true(first.time_ns == INT64_C(1381236469457000000));
	assert_memory_equal(first.symbol, "IBM", 3);
	assert_true(first.price == 182.1 && first.size == 300);
	/* Row 1001 of the file: 1381239462859000000,IBM,181.2700,300,D,1,0 */
	assert_int_equal(rec.line, 1001);
	assert_true(rec.time_ns == INT64_C(1381239462859000000));
	assert_true(rec.price == 181.27 && rec.size == 300);
	assert_true(volume == 255974);
	shmbus_csv_get_stats(r, &st);
	assert_int_equal(st.rows_bad, 0);
	assert_int_equal(st.ts_unit, SHMBUS_TS_NS);
	shmbus_csv_close(r);
}

static void test_collector_shared_data_ibm_quotes(void **state)
{
	struct shmbus_csv_options o = {.kind = SHMBUS_MD_QUOTE, .ts_unit = SHMBUS_TS_NS};
	struct shmbus_csv_reader *r;
	struct shmbus_md_record rec, first = {0};
	struct shmbus_csv_stats st;
	int n = 0;

	assert_int_equal(shmbus_csv_open(&r, quotes_path, &o, NULL), 0);
	while (n < 1000 && shmbus_csv_next(r, &rec) == 1)
		if (n++ == 0)
			first = rec;
	assert_int_equal(n, 1000);
	assert_true(first.time_ns == INT64_C(1381219200640000000));
	assert_true(first.bid == 180.01 && first.bid_size == 200 && first.ask == 0);
	shmbus_csv_get_stats(r, &st);
	assert_int_equal(st.rows_bad, 0);
	shmbus_csv_close(r);
}

int main(void)
{
	const char *dir = getenv("SHMBUS_SHARED_DATA");
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_collector_shared_data_ibm_trades),
		cmocka_unit_test(test_collector_shared_data_ibm_quotes),
	};

	if (!dir) {
		printf("skip: SHMBUS_SHARED_DATA is not set\n");
		return 77;
	}
	snprintf(trades_path, sizeof(trades_path), "%s/ibm_trades_20131008.csv", dir);
	snprintf(quotes_path, sizeof(quotes_path), "%s/ibm_quotes_20131008.csv", dir);
	if (access(trades_path, R_OK) != 0 || access(quotes_path, R_OK) != 0) {
		printf("skip: %s or %s not readable (real data lives beside the checkout)\n",
		       trades_path, quotes_path);
		return 77;
	}
	return cmocka_run_group_tests(tests, NULL, NULL);
}
