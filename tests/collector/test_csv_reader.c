/*
 * test_csv_reader.c - the collector's CSV reader: mapping, units, quotes,
 * fractional sizes, and one expected message per kind of malformed row.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "csv_reader.h"

static char tmpdir[64];

struct seen {
	int n;
	struct shmbus_csv_error e[32];
};

static void collect(void *user, const struct shmbus_csv_error *e)
{
	struct seen *s = user;

	if (s->n < 32)
		s->e[s->n++] = *e;
}

static const char *write_file(const char *name, const char *text)
{
	static char path[160];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	return path;
}

static int setup(void **state)
{
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/shmbus-csv-XXXXXX");
	return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown(void **state)
{
	char cmd[96];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

static struct shmbus_csv_reader *open_text(const char *name, const char *text,
					   struct shmbus_csv_options *o)
{
	struct shmbus_csv_reader *r = NULL;
	struct shmbus_csv_error err;
	int rc = shmbus_csv_open(&r, write_file(name, text), o, &err);

	if (rc != 0)
		fail_msg("open %s: %d %s", name, rc, err.message);
	return r;
}

static void test_csv_reader_default_trades(void **state)
{
	struct shmbus_csv_options o = {.kind = SHMBUS_MD_TRADE};
	struct shmbus_csv_reader *r = open_text(
		"t.csv",
		"ts_ns,symbol,price,size,exchange,condition,suspicious\n"
		"1381236469457000000,IBM,182.1000,300,P,2000,0\n"
		"1381236469458000000,IBM,182.0600,100,P,2000,0\n",
		&o);
	struct shmbus_md_record rec;
	struct shmbus_csv_stats st;

	assert_int_equal(shmbus_csv_next(r, &rec), 1);
	assert_int_equal(rec.kind, SHMBUS_MD_TRADE);
	assert_true(rec.time_ns == INT64_C(1381236469457000000));
	assert_int_equal(rec.symbol_len, 3);
	assert_memory_equal(rec.symbol, "IBM", 3);
	assert_true(rec.price == 182.1 && rec.size == 300);
	assert_int_equal(rec.line, 2);
	assert_int_equal(shmbus_csv_next(r, &rec), 1);
	assert_true(rec.price == 182.06 && rec.size == 100);
	assert_int_equal(shmbus_csv_next(r, &rec), 0);
	shmbus_csv_get_stats(r, &st);
	assert_int_equal(st.rows_ok, 2);
	assert_int_equal(st.rows_bad, 0);
	assert_int_equal(st.ts_unit, SHMBUS_TS_NS); /* auto-detected */
	shmbus_csv_close(r);
}

static void test_csv_reader_column_mapping(void **state)
{
	struct shmbus_csv_options o = {.kind = SHMBUS_MD_TRADE,
				       .columns = "ts=time, symbol=ticker,price=px,size=qty",
				       .ts_unit = SHMBUS_TS_MS};
	struct shmbus_csv_reader *r =
		open_text("m.csv", "qty,px,ticker,time\n0.5,101.25,BTCUSD,1381236469457\n", &o);
	struct shmbus_md_record rec;

	assert_int_equal(shmbus_csv_next(r, &rec), 1);
	assert_memory_equal(rec.symbol, "BTCUSD", 6);
	assert_true(rec.price == 101.25 && rec.size == 0.5);
	assert_true(rec.time_ns == INT64_C(1381236469457000000));
	shmbus_csv_close(r);
}

static void test_csv_reader_quotes(void **state)
{
	struct shmbus_csv_options o = {.kind = SHMBUS_MD_QUOTE};
	struct shmbus_csv_reader *r = open_text(
		"q.csv",
		"ts_ns,symbol,bid_price,bid_size,ask_price,ask_size,exchange,condition,suspicious\n"
		"1381219200640000000,IBM,180.0100,200,0.0000,0,P,1,0\n"
		"1381219200640000000,IBM,0.0000,0,182.6200,100,P,1,0\n",
		&o);
	struct shmbus_md_record rec;

	assert_int_equal(shmbus_csv_next(r, &rec), 1);
	assert_int_equal(rec.kind, SHMBUS_MD_QUOTE);
	assert_true(rec.bid == 180.01 && rec.bid_size == 200 && rec.ask == 0 && rec.ask_size == 0);
	assert_int_equal(shmbus_csv_next(r, &rec), 1);
	assert_true(rec.bid == 0 && rec.ask == 182.62 && rec.ask_size == 100);
	assert_int_equal(shmbus_csv_next(r, &rec), 0);
	shmbus_csv_close(r);
}

static void test_csv_reader_fractional_sizes(void **state)
{
	struct shmbus_csv_options o = {.kind = SHMBUS_MD_TRADE};
	struct shmbus_csv_reader *r = open_text("f.csv",
						"ts_ns,symbol,price,size\n"
						"1700000000000000000,BTC-USD,37000.01,0.00012345\n"
						"1700000000000000001,BTC-USD,37000.02,1.5e-3\n",
						&o);
	struct shmbus_md_record rec;

	assert_int_equal(shmbus_csv_next(r, &rec), 1);
	assert_true(rec.size == 0.00012345 && rec.price == 37000.01);
	assert_int_equal(shmbus_csv_next(r, &rec), 1);
	assert_true(rec.size == 0.0015);
	shmbus_csv_close(r);
}

/* The same instant written in every unit reads back the same. */
static void test_csv_reader_timestamp_units(void **state)
{
	static const struct {
		enum shmbus_ts_unit unit;
		const char *text;
		int64_t want;
	} cases[] = {
		{SHMBUS_TS_NS, "1381239000123456789", INT64_C(1381239000123456789)},
		{SHMBUS_TS_US, "1381239000123456", INT64_C(1381239000123456000)},
		{SHMBUS_TS_MS, "1381239000123", INT64_C(1381239000123000000)},
		{SHMBUS_TS_MS, "1381239000123.456", INT64_C(1381239000123456000)},
		{SHMBUS_TS_S, "1381239000", INT64_C(1381239000000000000)},
		{SHMBUS_TS_S, "1381239000.123456789", INT64_C(1381239000123456789)},
		{SHMBUS_TS_ISO, "2013-10-08T13:30:00.123456789Z", INT64_C(1381239000123456789)},
		{SHMBUS_TS_ISO, "2013-10-08T15:30:00.123+02:00", INT64_C(1381239000123000000)},
		{SHMBUS_TS_ISO, "2000-09-27", INT64_C(970012800000000000)},
	};
	char text[256];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		for (int autodetect = 0; autodetect < 2; autodetect++) {
			struct shmbus_csv_options o = {
				.kind = SHMBUS_MD_TRADE,
				.columns = "ts=date",
				.ts_unit = autodetect ? SHMBUS_TS_AUTO : cases[i].unit};
			struct shmbus_csv_reader *r;
			struct shmbus_md_record rec;
			struct shmbus_csv_stats st;

			snprintf(text, sizeof(text), "date,symbol,price,size\n%s,MSFT,60.625,100\n",
				 cases[i].text);
			r = open_text("u.csv", text, &o);
			assert_int_equal(shmbus_csv_next(r, &rec), 1);
			assert_true(rec.time_ns == cases[i].want);
			shmbus_csv_get_stats(r, &st);
			assert_int_equal(st.ts_unit, cases[i].unit);
			shmbus_csv_close(r);
		}
	}
}

static void test_csv_reader_crlf_bom_blank(void **state)
{
	static const char text[] = "\xef\xbb\xbfts_ns,symbol,price,size\r\n"
				   "\r\n"
				   "1381236469457000000,IBM,182.1,300\r\n"
				   "\n"
				   "1381236469457000001, SPY ,167.42,210";
	struct shmbus_csv_options o = {.kind = SHMBUS_MD_TRADE};
	struct shmbus_csv_reader *r;
	struct shmbus_md_record rec;
	struct shmbus_csv_stats st;

	assert_int_equal(shmbus_csv_open_buffer(&r, "mem", text, sizeof(text) - 1, &o, NULL), 0);
	assert_int_equal(shmbus_csv_next(r, &rec), 1);
	assert_true(rec.size == 300);
	assert_int_equal(shmbus_csv_next(r, &rec), 1);
	assert_int_equal(rec.symbol_len, 3);
	assert_memory_equal(rec.symbol, "SPY", 3);
	assert_true(rec.size == 210); /* last line has no newline */
	assert_int_equal(rec.line, 5);
	assert_int_equal(shmbus_csv_next(r, &rec), 0);
	shmbus_csv_get_stats(r, &st);
	assert_int_equal(st.blank, 2);
	assert_int_equal(st.rows_bad, 0);
	shmbus_csv_close(r);
}

static char *malformed_text(void)
{
	static const char *const rows[] = {
		"ts_ns,symbol,price,size,exchange",
		"1381236469457000000,IBM,182.10,300,P",
		"1381236469457000000,IBM,182.10",
		"1381236469457000000,IBM,182.10,300,P,X",
		"1381236469457000000,,182.10,300,P",
		"1381236469457000000,IBM,abc,300,P",
		"1381236469457000000,IBM,182.1x,300,P",
		"1381236469457000000,IBM,nan,300,P",
		"1381236469457000000,IBM,-1.5,300,P",
		"1381236469457000000,IBM,0,300,P",
		"1381236469457000000,IBM,182.10,-300,P",
		"13812x,IBM,182.10,300,P",
		"-1381236469457000000,IBM,182.10,300,P",
		"1381236469457000000,ABCDEFGHIJKLMNOPQ,182.10,300,P",
		"1381236469457000000,I B,182.10,300,P",
		NULL, /* line too long */
		"1381236469457000000,IBM,1e999,300,P",
		"1381236469458000000,IBM,182.20,0.5,P",
	};
	char *t = malloc(16384), *p = t;

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		if (rows[i]) {
			p += sprintf(p, "%s\n", rows[i]);
		} else {
			memset(p, '9', 5000);
			p[5000] = '\n';
			p += 5001;
		}
	}
	*p = '\0';
	return t;
}

static void test_csv_reader_malformed_rows(void **state)
{
	static const struct {
		enum shmbus_csv_errkind kind;
		uint64_t line;
		const char *column;
		const char *message;
	} want[] = {
		{SHMBUS_CSV_E_TOO_FEW_COLUMNS, 3, "",
		 "too few columns: expected 5 (as in the header), found 3"},
		{SHMBUS_CSV_E_TOO_MANY_COLUMNS, 4, "",
		 "too many columns: expected 5 (as in the header), found 6"},
		{SHMBUS_CSV_E_EMPTY_FIELD, 5, "symbol", "empty field"},
		{SHMBUS_CSV_E_BAD_NUMBER, 6, "price", "bad number 'abc'"},
		{SHMBUS_CSV_E_TRAILING_GARBAGE, 7, "price", "trailing garbage in number '182.1x'"},
		{SHMBUS_CSV_E_NOT_FINITE, 8, "price", "non-finite number 'nan'"},
		{SHMBUS_CSV_E_BAD_PRICE, 9, "price", "price must be positive, got '-1.5'"},
		{SHMBUS_CSV_E_BAD_PRICE, 10, "price", "price must be positive, got '0'"},
		{SHMBUS_CSV_E_NEGATIVE_SIZE, 11, "size", "negative size '-300'"},
		{SHMBUS_CSV_E_BAD_TIMESTAMP, 12, "ts_ns",
		 "bad timestamp '13812x' (unit ns): trailing characters after the number"},
		{SHMBUS_CSV_E_TIME_RANGE, 13, "ts_ns",
		 "timestamp out of range '-1381236469457000000' (unit ns): before 1970-01-01"},
		{SHMBUS_CSV_E_SYMBOL_TOO_LONG, 14, "symbol",
		 "symbol too long (17 bytes, limit 15) 'ABCDEFGHIJKLMNOPQ'"},
		{SHMBUS_CSV_E_BAD_SYMBOL, 15, "symbol", "invalid byte 0x20 in symbol 'I B'"},
		{SHMBUS_CSV_E_LINE_TOO_LONG, 16, "", "line too long (5000 bytes, limit 4096)"},
		{SHMBUS_CSV_E_NOT_FINITE, 17, "price", "non-finite number '1e999'"},
	};
	const size_t nwant = sizeof(want) / sizeof(want[0]);
	struct seen *seen = calloc(1, sizeof(*seen));
	struct shmbus_csv_options o = {.kind = SHMBUS_MD_TRADE, .ts_unit = SHMBUS_TS_NS,
				       .on_error = collect, .user = seen};
	char *text = malformed_text();
	struct shmbus_csv_reader *r = open_text("bad.csv", text, &o);
	struct shmbus_md_record rec;
	struct shmbus_csv_stats st;
	char line[400];

	assert_int_equal(shmbus_csv_next(r, &rec), 1);
	assert_int_equal(rec.line, 2);
	assert_int_equal(shmbus_csv_next(r, &rec), 1); /* skips every bad row */
	assert_int_equal(rec.line, 18);
	assert_true(rec.size == 0.5);
	assert_int_equal(shmbus_csv_next(r, &rec), 0);

	assert_int_equal(seen->n, (int)nwant);
	for (size_t i = 0; i < nwant; i++) {
		assert_int_equal(seen->e[i].kind, want[i].kind);
		assert_int_equal(seen->e[i].line, want[i].line);
		assert_string_equal(seen->e[i].column, want[i].column);
		assert_string_equal(seen->e[i].message, want[i].message);
		assert_non_null(strstr(seen->e[i].file, "bad.csv"));
	}
	shmbus_csv_format_error(&seen->e[3], line, sizeof(line));
	assert_non_null(strstr(line, "bad.csv:6: column 'price': bad number 'abc'"));
	shmbus_csv_get_stats(r, &st);
	assert_int_equal(st.rows_ok, 2);
	assert_int_equal(st.rows_bad, nwant);
	assert_int_equal(st.by_kind[SHMBUS_CSV_E_BAD_PRICE], 2);
	assert_int_equal(st.by_kind[SHMBUS_CSV_E_LINE_TOO_LONG], 1);
	shmbus_csv_close(r);
	free(text);
	free(seen);
}

static void test_csv_reader_quote_checks(void **state)
{
	struct seen *seen = calloc(1, sizeof(*seen));
	struct shmbus_csv_options o = {.kind = SHMBUS_MD_QUOTE, .on_error = collect, .user = seen};
	struct shmbus_csv_reader *r = open_text("qb.csv",
						"ts_ns,symbol,bid_price,bid_size,ask_price,ask_size\n"
						"1381219200640000000,IBM,-180.01,200,0,0\n"
						"1381219200640000000,IBM,180.01,-2,0,0\n",
						&o);
	struct shmbus_md_record rec;

	assert_int_equal(shmbus_csv_next(r, &rec), 0);
	assert_int_equal(seen->n, 2);
	assert_string_equal(seen->e[0].column, "bid_price");
	assert_string_equal(seen->e[0].message, "negative price '-180.01'");
	assert_string_equal(seen->e[1].column, "bid_size");
	assert_string_equal(seen->e[1].message, "negative size '-2'");
	shmbus_csv_close(r);
	free(seen);
}

static void test_csv_reader_open_errors(void **state)
{
	struct shmbus_csv_options o = {.kind = SHMBUS_MD_TRADE, .columns = "price=px"};
	struct shmbus_csv_reader *r = (void *)1;
	struct shmbus_csv_error err;
	char path[200];

	assert_int_equal(shmbus_csv_open(&r, write_file("h.csv", "ts_ns,symbol,price,size\n"), &o,
					 &err),
			 -ENOENT);
	assert_null(r);
	assert_int_equal(err.kind, SHMBUS_CSV_E_MISSING_COLUMN);
	assert_string_equal(err.column, "px");
	assert_string_equal(err.message, "column 'px' (field 'price') not found in the header");

	o.columns = "bid=bid_price";
	assert_int_equal(shmbus_csv_open(&r, write_file("h.csv", "a\n"), &o, &err), -EINVAL);
	assert_int_equal(err.kind, SHMBUS_CSV_E_BAD_MAPPING);
	assert_string_equal(err.message, "column mapping: unknown field 'bid' for trades "
					 "(known: ts, symbol, price, size)");
	o.columns = "price";
	assert_int_equal(shmbus_csv_open(&r, write_file("h.csv", "a\n"), &o, &err), -EINVAL);
	assert_string_equal(err.message, "column mapping: expected field=column, got 'price'");
	o.columns = "price=";
	assert_int_equal(shmbus_csv_open(&r, write_file("h.csv", "a\n"), &o, &err), -EINVAL);
	assert_string_equal(err.message, "column mapping: empty column name for field 'price'");

	o.columns = NULL;
	assert_int_equal(shmbus_csv_open(&r, write_file("e.csv", ""), &o, &err), -ENODATA);
	assert_int_equal(err.kind, SHMBUS_CSV_E_NO_HEADER);
	snprintf(path, sizeof(path), "%s/does-not-exist.csv", tmpdir);
	assert_int_equal(shmbus_csv_open(&r, path, &o, &err), -ENOENT);
	assert_int_equal(err.kind, SHMBUS_CSV_E_OPEN);
	assert_string_equal(err.file, path);
	o.kind = 7;
	assert_int_equal(shmbus_csv_open(&r, write_file("h.csv", "a\n"), &o, &err), -EINVAL);
	assert_int_equal(err.kind, SHMBUS_CSV_E_BAD_OPTION);
}

static void test_csv_reader_batch(void **state)
{
	struct shmbus_csv_options o = {.kind = SHMBUS_MD_TRADE};
	char text[4096], *p = text;
	struct shmbus_csv_reader *r;
	struct shmbus_md_record recs[16];

	p += sprintf(p, "ts_ns,symbol,price,size\n");
	for (int i = 0; i < 40; i++)
		p += sprintf(p, "%d000000000,S%d,%d.5,%d\n", 1381236469 + i, i, i + 1, i);
	assert_int_equal(shmbus_csv_open_buffer(&r, NULL, text, (size_t)(p - text), &o, NULL), 0);
	assert_int_equal(shmbus_csv_next_batch(r, recs, 16), 16);
	assert_int_equal(shmbus_csv_next_batch(r, recs, 16), 16);
	assert_true(recs[15].price == 32.5);
	assert_int_equal(shmbus_csv_next_batch(r, recs, 16), 8);
	assert_true(recs[7].size == 39);
	assert_int_equal(shmbus_csv_next_batch(r, recs, 16), 0);
	shmbus_csv_close(r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_csv_reader_default_trades),
		cmocka_unit_test(test_csv_reader_column_mapping),
		cmocka_unit_test(test_csv_reader_quotes),
		cmocka_unit_test(test_csv_reader_fractional_sizes),
		cmocka_unit_test(test_csv_reader_timestamp_units),
		cmocka_unit_test(test_csv_reader_crlf_bom_blank),
		cmocka_unit_test(test_csv_reader_malformed_rows),
		cmocka_unit_test(test_csv_reader_quote_checks),
		cmocka_unit_test(test_csv_reader_open_errors),
		cmocka_unit_test(test_csv_reader_batch),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
