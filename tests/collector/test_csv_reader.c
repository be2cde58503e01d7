/*
 * test_csv_reader.c - the collector's CSV reader: mapping, units, quotes,
 * fractional sizes, and one expected message per kind of malformed row;
 * '\r' line ends, hostile headers, non-regular inputs, long numbers.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "csv_reader.h"
#include "test_fs.h"

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

/* Like write_file, for text with NUL bytes. */
static const char *write_bytes(const char *name, const char *bytes, size_t n)
{
	static char path[160];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
	f = fopen(path, "w");
	assert_non_null(f);
	assert_int_equal(fwrite(bytes, 1, n, f), n);
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

	return tfs_rm_rf(tmpdir);
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

/* Zero and negative prices (spreads, WTI crude futures on 2020-04-20)
 * are malformed by default and read with allow_nonpositive_prices: trade
 * prices of any sign, negative quote prices; sizes stay >= 0. */
static void test_csv_reader_nonpositive_prices(void **state)
{
	static const char trades[] = "ts_ns,symbol,price,size\n"
	                             "1587412800000000000,CLK0,-37.63,5\n"
	                             "1587412800000000001,CLK0,0,1\n"
	                             "1587412800000000002,CLK0,-1,-1\n";
	static const char quotes[] = "ts_ns,symbol,bid_price,bid_size,ask_price,ask_size\n"
	                             "1587412800000000000,CLK0,-40.32,3,-37.5,2\n";
	struct shmbus_csv_options o = {.kind = SHMBUS_MD_TRADE};
	struct shmbus_csv_reader *r = open_text("np.csv", trades, &o);
	struct shmbus_md_record rec;
	struct shmbus_csv_stats st;

	assert_int_equal(shmbus_csv_next(r, &rec), 0);
	shmbus_csv_get_stats(r, &st);
	assert_int_equal(st.by_kind[SHMBUS_CSV_E_BAD_PRICE], 3);
	shmbus_csv_close(r);

	o.allow_nonpositive_prices = 1;
	r = open_text("np.csv", trades, &o);
	assert_int_equal(shmbus_csv_next(r, &rec), 1);
	assert_true(rec.price == -37.63 && rec.size == 5);
	assert_int_equal(shmbus_csv_next(r, &rec), 1);
	assert_true(rec.price == 0 && rec.size == 1);
	assert_int_equal(shmbus_csv_next(r, &rec), 0); /* a negative size is still bad */
	shmbus_csv_get_stats(r, &st);
	assert_int_equal(st.by_kind[SHMBUS_CSV_E_NEGATIVE_SIZE], 1);
	assert_int_equal(st.rows_bad, 1);
	shmbus_csv_close(r);

	o = (struct shmbus_csv_options){.kind = SHMBUS_MD_QUOTE};
	r = open_text("npq.csv", quotes, &o);
	assert_int_equal(shmbus_csv_next(r, &rec), 0);
	shmbus_csv_close(r);
	o.allow_nonpositive_prices = 1;
	r = open_text("npq.csv", quotes, &o);
	assert_int_equal(shmbus_csv_next(r, &rec), 1);
	assert_true(rec.bid == -40.32 && rec.bid_size == 3 && rec.ask == -37.5 &&
	            rec.ask_size == 2);
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

/* Any symbol the bus interns (up to 23 bytes, SHMBUS_SYMBOL_MAX) is read:
 * the reader refused 16..23 bytes ("BTC-USDT-SWAP-250328"), so such a
 * feed published nothing, every row malformed. */
static void test_csv_reader_takes_any_bus_symbol(void **state)
{
	static const char text[] = "ts_ns,symbol,price,size\n"
				   "1381236469457000000,BTC-USDT-SWAP-250328,62000.5,0.25\n"
				   "1381236469457000001,ABCDEFGHIJKLMNOPQRSTUVW,1,1\n"
				   "1381236469457000002,ABCDEFGHIJKLMNOPQRSTUVWX,1,1\n";
	struct seen *seen = calloc(1, sizeof(*seen));
	struct shmbus_csv_options o = {.kind = SHMBUS_MD_TRADE, .on_error = collect, .user = seen};
	struct shmbus_csv_reader *r;
	struct shmbus_md_record rec;

	(void)state;
	assert_int_equal(shmbus_csv_open_buffer(&r, "mem", text, sizeof(text) - 1, &o, NULL), 0);
	assert_int_equal(shmbus_csv_next(r, &rec), 1);
	assert_int_equal(rec.symbol_len, 20);
	assert_memory_equal(rec.symbol, "BTC-USDT-SWAP-250328", 20);
	assert_int_equal(shmbus_csv_next(r, &rec), 1);
	assert_int_equal(rec.symbol_len, 23);
	assert_int_equal(shmbus_csv_next(r, &rec), 0);
	assert_int_equal(seen->n, 1);
	assert_int_equal(seen->e[0].kind, SHMBUS_CSV_E_SYMBOL_TOO_LONG);
	assert_int_equal(seen->e[0].line, 4);
	shmbus_csv_close(r);
	free(seen);
}

/* A line of blanks only is a blank line, as an empty one is: it was
 * "too few columns", counted malformed (enough of them made the collector
 * exit 1). With a tab delimiter a line of tabs is still a row. */
static void test_csv_reader_blank_lines_of_blanks(void **state)
{
	static const char text[] = "ts_ns,symbol,price,size\n"
				   "   \n"
				   "1381236469457000000,IBM,182.1,300\n"
				   "\t\n"
				   " \t \r\n"
				   "1381236469457000001,IBM,182.2,100\n"
				   "  ";
	static const char tsv[] = "ts_ns\tsymbol\tprice\tsize\n"
				  "\t\t\t\n";
	struct shmbus_csv_options o = {.kind = SHMBUS_MD_TRADE};
	struct shmbus_csv_reader *r;
	struct shmbus_md_record rec;
	struct shmbus_csv_stats st;

	(void)state;
	assert_int_equal(shmbus_csv_open_buffer(&r, "mem", text, sizeof(text) - 1, &o, NULL), 0);
	assert_int_equal(shmbus_csv_next(r, &rec), 1);
	assert_int_equal(rec.line, 3);
	assert_int_equal(shmbus_csv_next(r, &rec), 1);
	assert_int_equal(rec.line, 6);
	assert_int_equal(shmbus_csv_next(r, &rec), 0);
	shmbus_csv_get_stats(r, &st);
	assert_int_equal(st.blank, 4);
	assert_int_equal(st.rows_bad, 0);
	assert_int_equal(st.lines, 7);
	shmbus_csv_close(r);

	o.delimiter = '\t';
	assert_int_equal(shmbus_csv_open_buffer(&r, "mem", tsv, sizeof(tsv) - 1, &o, NULL), 0);
	assert_int_equal(shmbus_csv_next(r, &rec), 0);
	shmbus_csv_get_stats(r, &st);
	assert_int_equal(st.blank, 0);
	assert_int_equal(st.by_kind[SHMBUS_CSV_E_EMPTY_FIELD], 1);
	shmbus_csv_close(r);
}

/* A quoted symbol is a malformed row, as a quoted number is: it was read
 * as the symbol "IBM", quotes included, and published beside IBM with no
 * error (the reader does not unquote fields). */
static void test_csv_reader_quoted_symbol(void **state)
{
	static const char text[] = "ts_ns,symbol,price,size\n"
				   "1381236469457000000,\"IBM\",182.1,300\n"
				   "1381236469457000001,IBM,182.2,100\n";
	struct seen *seen = calloc(1, sizeof(*seen));
	struct shmbus_csv_options o = {.kind = SHMBUS_MD_TRADE, .on_error = collect, .user = seen};
	struct shmbus_csv_reader *r;
	struct shmbus_md_record rec;

	(void)state;
	assert_int_equal(shmbus_csv_open_buffer(&r, "mem", text, sizeof(text) - 1, &o, NULL), 0);
	assert_int_equal(shmbus_csv_next(r, &rec), 1);
	assert_int_equal(rec.line, 3);
	assert_int_equal(shmbus_csv_next(r, &rec), 0);
	assert_int_equal(seen->n, 1);
	assert_int_equal(seen->e[0].kind, SHMBUS_CSV_E_BAD_SYMBOL);
	assert_int_equal(seen->e[0].line, 2);
	assert_string_equal(seen->e[0].column, "symbol");
	assert_string_equal(seen->e[0].message,
			    "quote in symbol '\"IBM\"' (quoted fields are not read)");
	shmbus_csv_close(r);
	free(seen);
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
		"1381236469457000000,ABCDEFGHIJKLMNOPQRSTUVWX,182.10,300,P",
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
		 "symbol too long (24 bytes, limit 23) 'ABCDEFGHIJKLMNOPQRSTUVWX'"},
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
	/* a field's column twice: which one is meant cannot be told (the
	 * first was taken, silently); other columns may repeat */
	o.columns = NULL;
	assert_int_equal(shmbus_csv_open(&r, write_file("h.csv", "ts_ns,symbol,price,size,price\n"),
					 &o, &err),
			 -EINVAL);
	assert_null(r);
	assert_int_equal(err.kind, SHMBUS_CSV_E_BAD_HEADER);
	assert_string_equal(err.column, "price");
	assert_string_equal(err.message,
			    "column 'price' (field 'price') is in the header twice: columns 3 and 5");
	assert_int_equal(shmbus_csv_open(&r, write_file("h.csv", "ts_ns,note,symbol,price,size,note\n"),
					 &o, &err),
			 0);
	shmbus_csv_close(r);
	o.columns = "price=px";

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

	/* The same check without a file, for the tools' --columns */
	char eb[192];
	assert_int_equal(shmbus_csv_check_columns(SHMBUS_MD_TRADE, "ts=time,size=qty", eb,
						  sizeof(eb)),
			 0);
	assert_int_equal(shmbus_csv_check_columns(SHMBUS_MD_TRADE, NULL, eb, sizeof(eb)), 0);
	assert_int_equal(shmbus_csv_check_columns(SHMBUS_MD_TRADE, "foo", eb, sizeof(eb)), -EINVAL);
	assert_string_equal(eb, "column mapping: expected field=column, got 'foo'");
	assert_int_equal(shmbus_csv_check_columns(SHMBUS_MD_QUOTE, "price=px", eb, sizeof(eb)),
			 -EINVAL);
	assert_string_equal(eb, "column mapping: unknown field 'price' for quotes "
				"(known: ts, symbol, bid, bid_size, ask, ask_size)");
	assert_int_equal(shmbus_csv_check_columns(SHMBUS_MD_QUOTE, "bid=b", eb, sizeof(eb)), 0);

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

/* A lone '\r' ends a line, as '\n' and "\r\n" do; "\r\r" is a blank line. */
static void test_csv_reader_cr_line_ends(void **state)
{
	static const char text[] = "ts_ns,symbol,price,size\r"
				   "1381236469457000000,IBM,182.1,300\r"
				   "\r"
				   "1381236469457000001,SPY,167.42,210\r\n"
				   "1381236469457000002,SPY,167.43,10\n"
				   "1381236469457000003,SPY,167.44,20\r";
	struct shmbus_csv_options o = {.kind = SHMBUS_MD_TRADE};
	struct shmbus_csv_reader *r;
	struct shmbus_md_record rec;
	struct shmbus_csv_stats st;
	static const uint64_t lines[] = {2, 4, 5, 6};
	static const double sizes[] = {300, 210, 10, 20};

	assert_int_equal(shmbus_csv_open_buffer(&r, "cr", text, sizeof(text) - 1, &o, NULL), 0);
	for (int i = 0; i < 4; i++) {
		assert_int_equal(shmbus_csv_next(r, &rec), 1);
		assert_int_equal(rec.line, lines[i]);
		assert_true(rec.size == sizes[i]);
	}
	assert_int_equal(shmbus_csv_next(r, &rec), 0);
	shmbus_csv_get_stats(r, &st);
	assert_int_equal(st.rows_bad, 0);
	assert_int_equal(st.blank, 1);
	assert_int_equal(st.lines, 6);
	shmbus_csv_close(r);
}

static void expect_bad_header(const char *name, const char *bytes, size_t n, int want_rc,
			      const char *want_msg)
{
	struct shmbus_csv_options o = {.kind = SHMBUS_MD_TRADE};
	struct shmbus_csv_reader *r = (void *)1;
	struct shmbus_csv_error err;
	char line[400], want[400];
	const char *path = write_bytes(name, bytes, n);

	memset(&err, 0, sizeof(err));
	assert_int_equal(shmbus_csv_open(&r, path, &o, &err), want_rc);
	assert_null(r);
	assert_int_equal(err.line, 1);
	assert_string_equal(err.message, want_msg);
	shmbus_csv_format_error(&err, line, sizeof(line));
	snprintf(want, sizeof(want), "%s:1: %s", path, want_msg);
	assert_string_equal(line, want);
}

/* A NUL or control byte in the header is named as such, at file:1, not
 * taken for the end of the header (NUL) or a part of a name. */
static void test_csv_reader_header_control_bytes(void **state)
{
	static const char nul[] = "ts_ns,symbol,price,size\0,exchange\n"
				  "1381219217000000000,SPY,1,1,P\n";
	static const char ctl[] = "ts_ns,sym\001bol,price,size\n1381219217000000000,SPY,1,1\n";
	char *big = malloc(6000);

	expect_bad_header("nul.csv", nul, sizeof(nul) - 1, -EBADMSG,
			  "NUL byte in the header, in column 4 'size\\x00': not a text file?");
	expect_bad_header("ctl.csv", ctl, sizeof(ctl) - 1, -EBADMSG,
			  "control character 0x01 in the header, in column 2 'sym\\x01bol'");
	expect_bad_header("blank.csv", "\nts_ns,symbol,price,size\n", 25, -ENODATA,
			  "line 1 is blank; the header naming the columns must come first");
	/* The header is bounded like any line (it is copied). */
	memcpy(big, "ts_ns,symbol,price,size,", 24);
	memset(big + 24, 'x', 4976);
	big[5000] = '\n';
	expect_bad_header("long.csv", big, 5001, -EBADMSG,
			  "header line too long (5000 bytes, limit 4096)");
	free(big);
	expect_bad_header("crlf-ok-then-ctl.csv", "ts_ns,symbol,price,size\v\r\n", 26, -EBADMSG,
			  "control character 0x0b in the header, in column 4 'size\\x0b'");
}

static void expect_not_regular(const char *path, int want_rc, const char *what)
{
	struct shmbus_csv_options o = {.kind = SHMBUS_MD_TRADE};
	struct shmbus_csv_reader *r = (void *)1;
	struct shmbus_csv_error err;
	char want[200], line[400];

	memset(&err, 0, sizeof(err));
	assert_int_equal(shmbus_csv_open(&r, path, &o, &err), want_rc);
	assert_null(r);
	assert_int_equal(err.kind, SHMBUS_CSV_E_OPEN);
	snprintf(want, sizeof(want), "not a regular file (%s)", what);
	if (!strstr(err.message, want))
		fail_msg("%s: '%s' lacks '%s'", path, err.message, want);
	shmbus_csv_format_error(&err, line, sizeof(line));
	assert_true(strncmp(line, path, strlen(path)) == 0 && line[strlen(path)] == ':');
}

/* Devices, directories and FIFOs are refused at once: /dev/zero would be
 * read into memory for ever, a FIFO with no writer would block the open. */
static void test_csv_reader_refuses_non_regular(void **state)
{
	char fifo[160];
	pid_t writer;

	expect_not_regular("/dev/null", -EINVAL, "a character device");
	expect_not_regular("/dev/zero", -EINVAL, "a character device");
	expect_not_regular(tmpdir, -EISDIR, "a directory");
	snprintf(fifo, sizeof(fifo), "%s/fifo", tmpdir);
	assert_int_equal(mkfifo(fifo, 0600), 0);
	/* A writer with a valid CSV: still refused (not read whole). */
	writer = fork();
	assert_true(writer >= 0);
	if (writer == 0) {
		static const char text[] = "ts_ns,symbol,price,size\n1381219217000000000,SPY,1,1\n";
		int fd;
		signal(SIGPIPE, SIG_IGN);
		alarm(10);
		fd = open(fifo, O_WRONLY);
		if (fd >= 0 && write(fd, text, sizeof(text) - 1) < 0)
			_exit(1);
		_exit(0);
	}
	expect_not_regular(fifo, -EINVAL, "a FIFO");
	kill(writer, SIGKILL);
	waitpid(writer, NULL, 0);
	unlink(fifo);
}

/* The unit comes from the column name's suffix when it has one: a first
 * row in another unit is that row's problem, not the file's. */
static void test_csv_reader_unit_from_header_name(void **state)
{
	static const struct {
		const char *column, *first;
		enum shmbus_ts_unit unit;
		int64_t want;
	} cases[] = {
		{"ts_ns", "1381219217", SHMBUS_TS_NS, INT64_C(1381219217)},
		{"time_ms", "1381219217", SHMBUS_TS_MS, INT64_C(1381219217000000)},
		{"t_us", "1381219217123", SHMBUS_TS_US, INT64_C(1381219217123000)},
		{"Epoch_S", "1381219217.5", SHMBUS_TS_S, INT64_C(1381219217500000000)},
	};
	char text[512];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char map[64];
		struct shmbus_csv_options o = {.kind = SHMBUS_MD_TRADE, .columns = map};
		struct shmbus_csv_reader *r;
		struct shmbus_md_record rec;
		struct shmbus_csv_stats st;

		snprintf(map, sizeof(map), "ts=%s", cases[i].column);
		snprintf(text, sizeof(text), "%s,symbol,price,size\n%s,SPY,1,1\n%s,SPY,2,1\n",
			 cases[i].column, cases[i].first, cases[i].first);
		r = open_text("n.csv", text, &o);
		shmbus_csv_get_stats(r, &st);
		assert_int_equal(st.ts_unit, cases[i].unit); /* known before any row */
		assert_int_equal(shmbus_csv_next(r, &rec), 1);
		assert_true(rec.time_ns == cases[i].want);
		assert_int_equal(shmbus_csv_next(r, &rec), 1);
		assert_int_equal(shmbus_csv_next(r, &rec), 0);
		shmbus_csv_close(r);
	}

	/* The reviewer's file: ts_ns, first row in seconds, the rest in ns. */
	struct seen *seen = calloc(1, sizeof(*seen));
	struct shmbus_csv_options o = {.kind = SHMBUS_MD_TRADE, .on_error = collect, .user = seen};
	struct shmbus_csv_reader *r =
		open_text("poison.csv",
			  "ts_ns,symbol,price,size\n"
			  "1381219217,SPY,167.5,100\n"
			  "1381219217000000000,SPY,167.5,100\n"
			  "1381219218000000000,SPY,167.6,100\n"
			  "abc,SPY,167.6,100\n",
			  &o);
	struct shmbus_md_record rec;
	int64_t last = 0;
	int n = 0;

	while (shmbus_csv_next(r, &rec) == 1) {
		last = rec.time_ns;
		n++;
	}
	assert_int_equal(n, 3);
	assert_true(last == INT64_C(1381219218000000000));
	assert_int_equal(seen->n, 1);
	assert_string_equal(seen->e[0].message,
			    "bad timestamp 'abc' (unit ns, from the column name): not a number");
	shmbus_csv_close(r);
	free(seen);
}

/* Without a unit in the name, the unit is guessed from the first row that
 * parses in full; a bad first row does not decide it, and a later row that
 * contradicts the guess says where the guess came from. */
static void test_csv_reader_unit_guess_from_good_row(void **state)
{
	struct seen *seen = calloc(1, sizeof(*seen));
	struct shmbus_csv_options o = {
		.kind = SHMBUS_MD_TRADE, .columns = "ts=time", .on_error = collect, .user = seen};
	struct shmbus_csv_reader *r = open_text("g.csv",
						"time,symbol,price,size\n"
						"12x,SPY,1,1\n"                 /* 2: bad ts */
						"1381219217,SPY,-1,1\n"         /* 3: bad price */
						"1381219217000000000,SPY,1,1\n" /* 4: ok, ns */
						"1381219218000000000,SPY,1,1\n" /* 5: ok */
						"99999999999999999999,SPY,1,1\n", /* 6: range */
						&o);
	struct shmbus_md_record rec;
	struct shmbus_csv_stats st;

	shmbus_csv_get_stats(r, &st);
	assert_int_equal(st.ts_unit, SHMBUS_TS_AUTO);
	assert_int_equal(shmbus_csv_next(r, &rec), 1);
	assert_int_equal(rec.line, 4);
	assert_true(rec.time_ns == INT64_C(1381219217000000000));
	assert_int_equal(shmbus_csv_next(r, &rec), 1);
	assert_int_equal(shmbus_csv_next(r, &rec), 0);
	shmbus_csv_get_stats(r, &st);
	assert_int_equal(st.ts_unit, SHMBUS_TS_NS);
	assert_int_equal(seen->n, 3);
	assert_string_equal(seen->e[0].message,
			    "bad timestamp '12x' (unit s, guessed from this value): "
			    "trailing characters after the number");
	assert_string_equal(seen->e[1].message, "price must be positive, got '-1'");
	assert_string_equal(seen->e[2].message,
			    "timestamp out of range '99999999999999999999' (unit ns, guessed from "
			    "line 4): after 2262-04-11 (does not fit 64-bit nanoseconds)");
	shmbus_csv_close(r);

	/* Guessed from a seconds row, contradicted by ns rows: each says so. */
	memset(seen, 0, sizeof(*seen));
	r = open_text("g2.csv",
		      "time,symbol,price,size\n"
		      "1381219217,SPY,1,1\n"
		      "1381219217000000000,SPY,1,1\n",
		      &o);
	assert_int_equal(shmbus_csv_next(r, &rec), 1);
	assert_int_equal(shmbus_csv_next(r, &rec), 0);
	assert_int_equal(seen->n, 1);
	assert_int_equal(seen->e[0].kind, SHMBUS_CSV_E_TIME_RANGE);
	assert_non_null(strstr(seen->e[0].message, "(unit s, guessed from line 2)"));
	shmbus_csv_close(r);

	/* Guessed from a ns row, contradicted by ms and s rows, which fit
	 * 64-bit ns too: each says so, as the header promises, instead of
	 * going out as a time in January 1970. */
	memset(seen, 0, sizeof(*seen));
	r = open_text("g3.csv",
	              "time,symbol,price,size\n"
	              "1381219217000000000,SPY,1,1\n"
	              "1381219218000,SPY,1,1\n"
	              "1381219219,SPY,1,1\n"
	              "1381219220000000000,SPY,1,1\n",
	              &o);
	assert_int_equal(shmbus_csv_next(r, &rec), 1);
	assert_int_equal(shmbus_csv_next(r, &rec), 1);
	assert_int_equal(rec.line, 5);
	assert_int_equal(shmbus_csv_next(r, &rec), 0);
	assert_int_equal(seen->n, 2);
	assert_int_equal(seen->e[0].kind, SHMBUS_CSV_E_BAD_TIMESTAMP);
	assert_string_equal(seen->e[0].message,
	                    "bad timestamp '1381219218000' (unit ns, guessed from line 2): "
	                    "a value in ms by its size");
	assert_string_equal(seen->e[1].message,
	                    "bad timestamp '1381219219' (unit ns, guessed from line 2): "
	                    "a value in s by its size");
	shmbus_csv_close(r);
	free(seen);
}

/* A long but exact number is read; one that cannot be rounded without a
 * longer copy is "number too long", not "bad number". */
static void test_csv_reader_long_numbers(void **state)
{
	struct seen *seen = calloc(1, sizeof(*seen));
	struct shmbus_csv_options o = {.kind = SHMBUS_MD_TRADE, .on_error = collect, .user = seen};
	char *text = malloc(1024), *p = text;
	struct shmbus_csv_reader *r;
	struct shmbus_md_record rec;
	struct shmbus_csv_stats st;

	p += sprintf(p, "ts_ns,symbol,price,size\n1381219217000000000,SPY,1");
	memset(p, '0', 200);
	p += 200;
	p += sprintf(p, ",1\n1381219217000000001,SPY,1");
	memset(p, '0', 150);
	p += 150;
	p += sprintf(p, "1,1\n");
	r = open_text("long.csv", text, &o);
	assert_int_equal(shmbus_csv_next(r, &rec), 1);
	assert_true(rec.price == 1e200);
	assert_int_equal(shmbus_csv_next(r, &rec), 0);
	assert_int_equal(seen->n, 1);
	assert_int_equal(seen->e[0].kind, SHMBUS_CSV_E_NUMBER_TOO_LONG);
	assert_string_equal(seen->e[0].column, "price");
	assert_string_equal(seen->e[0].message,
			    "number too long to read exactly (152 characters, more than 19 "
			    "significant digits; limit 127) '1000000000000000000000000000000000000000...'");
	assert_string_equal(shmbus_csv_errkind_name(SHMBUS_CSV_E_NUMBER_TOO_LONG),
			    "number too long");
	shmbus_csv_get_stats(r, &st);
	assert_int_equal(st.by_kind[SHMBUS_CSV_E_NUMBER_TOO_LONG], 1);
	shmbus_csv_close(r);
	free(text);
	free(seen);
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
	    cmocka_unit_test(test_csv_reader_takes_any_bus_symbol),
	    cmocka_unit_test(test_csv_reader_blank_lines_of_blanks),
	    cmocka_unit_test(test_csv_reader_quoted_symbol),
	    cmocka_unit_test(test_csv_reader_malformed_rows),
	    cmocka_unit_test(test_csv_reader_quote_checks),
	    cmocka_unit_test(test_csv_reader_open_errors),
	    cmocka_unit_test(test_csv_reader_batch),
	    cmocka_unit_test(test_csv_reader_cr_line_ends),
	    cmocka_unit_test(test_csv_reader_header_control_bytes),
	    cmocka_unit_test(test_csv_reader_refuses_non_regular),
	    cmocka_unit_test(test_csv_reader_unit_from_header_name),
	    cmocka_unit_test(test_csv_reader_unit_guess_from_good_row),
	    cmocka_unit_test(test_csv_reader_long_numbers),
	    cmocka_unit_test(test_csv_reader_nonpositive_prices),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
