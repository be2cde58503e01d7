/*
 * ta_ref.h - an independent reference for shmbus-ta, for the tests that run
 * the pipeline on real data (test_pipeline_spy.c, test_pipeline_msft.c).
 *
 * Nothing here comes from services/ta: the bars are cut from the input rows
 * by the rules of docs/pipeline.md (aligned intervals, a quiet interval has
 * no bar, open = earliest trade, close = latest, the later row on ties,
 * rows older than the open bar are late and ignored), and the indicators
 * are recomputed from the closes the plain way, by their textbook
 * definitions with the default parameters of shmbus-ta:
 *  - SMA(20): the mean of the last 20 closes, summed afresh for every bar;
 *  - EMA(n): seeded with the mean of the first n values, then
 *    ema += 2 / (n + 1) * (x - ema) (the StockCharts / TA-Lib seed);
 *  - RSI(14): Wilder's, average gain and loss seeded with the mean of the
 *    first 14 changes, then smoothed with weight 1/14;
 *  - MACD(12,26,9) (Appel): EMA(12) - EMA(26) of the closes, each EMA
 *    seeded on its own from the first bar; signal = EMA(9) of the MACD line
 *    from its first value (bar 26); histogram = line - signal;
 *  - Bollinger(20,2): middle = SMA(20), sd = the population standard
 *    deviation of those 20 closes (divide by 20, as Bollinger defines it,
 *    not the sample's 19), computed two-pass from the window; bands
 *    middle +- 2 sd;
 *  - VWAP: sum(price * size) / sum(size) of every trade since the start.
 * The comparison (tr_check_tap) reads the pipeline's --tap-csv rows.
 * Everything is static: each test file is one unit.
 */
#ifndef SHMBUS_TEST_TA_REF_H
#define SHMBUS_TEST_TA_REF_H

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Indicator outputs, in the order and with the names of the tap CSV. */
enum tr_out {
	TR_SMA,
	TR_EMA,
	TR_RSI,
	TR_MACD,
	TR_MACD_SIGNAL,
	TR_MACD_HIST,
	TR_VWAP,
	TR_BB_MIDDLE,
	TR_BB_UPPER,
	TR_BB_LOWER,
	TR_NOUT
};

static const char *const tr_names[TR_NOUT] = {"sma20",
                                              "ema20",
                                              "rsi14",
                                              "macd12_26_9",
                                              "macd12_26_9_signal",
                                              "macd12_26_9_hist",
                                              "vwap",
                                              "bb20_2_middle",
                                              "bb20_2_upper",
                                              "bb20_2_lower"};

/*
 * Tolerance of each output. Levels (averages, VWAP, middle band): relative
 * to the value, 1e-9 as before. RSI: absolute, out of 100. Differences (the
 * MACD line, signal, histogram) and the outer bands: absolute, in units of
 * the bar's close, 1e-12: the MACD line is a small number made from
 * price-sized ones and crosses zero, so a test relative to it would fail
 * there; and a band checked at 1e-9 of its own (price-sized) value would let
 * the standard deviation be off by ~1.7e-7, some 1e-5 of a 1-second SPY band
 * width. 1e-12 of the price is ~4500 ulps: rounding passes it (the worst
 * seen is ~3 ulps), a wrong seed, period or divisor (n - 1) does not.
 */
enum tr_scale { TR_OF_VALUE, TR_OF_CLOSE, TR_OF_100 };
static const struct {
	double tol;
	enum tr_scale scale;
} tr_tol[TR_NOUT] = {{1e-9, TR_OF_VALUE},  {1e-9, TR_OF_VALUE},  {1e-9, TR_OF_100},
                     {1e-12, TR_OF_CLOSE}, {1e-12, TR_OF_CLOSE}, {1e-12, TR_OF_CLOSE},
                     {1e-9, TR_OF_VALUE},  {1e-9, TR_OF_VALUE},  {1e-12, TR_OF_CLOSE},
                     {1e-12, TR_OF_CLOSE}};

struct tr_ref {
	int64_t interval_ns;
	size_t rows, late, n, cap;
	int64_t *start; /* bar start; end = start + interval_ns (event time) */
	double *open, *high, *low, *close, *vol, *pv;
	uint32_t *count;
	int64_t open_t, close_t; /* times of the open bar's open and close */
	int is_open;
	double *out[TR_NOUT]; /* per bar; NaN while warming up */
	double *sd;           /* Bollinger population standard deviation */
	/* session VWAP: it restarts at the first bar of each UTC day counted
	 * from session_utc_ns after midnight (a fixed offset: the data's dates
	 * share one) when session_on */
	int session_on;
	int64_t session_utc_ns;
};

static void tr_grow(struct tr_ref *R)
{
	size_t c = R->cap ? R->cap * 2 : 4096;
	double **d[] = {&R->open, &R->high, &R->low, &R->close, &R->vol, &R->pv};

	R->start = realloc(R->start, c * sizeof(*R->start));
	R->count = realloc(R->count, c * sizeof(*R->count));
	assert_true(R->start && R->count);
	for (size_t k = 0; k < sizeof(d) / sizeof(d[0]); k++)
		assert_non_null(*d[k] = realloc(*d[k], c * sizeof(double)));
	R->cap = c;
}

/* One input row, in file order. */
static void tr_trade(struct tr_ref *R, int64_t ts, double price, double size)
{
	int64_t start = ts - ts % R->interval_ns;
	size_t i = R->n - 1;

	R->rows++;
	if (R->is_open && start < R->start[i]) {
		R->late++; /* older than the open bar: ta ignores it */
		return;
	}
	if (!R->is_open || start > R->start[i]) {
		if (R->n == R->cap)
			tr_grow(R);
		i = R->n++;
		R->start[i] = start;
		R->open[i] = R->high[i] = R->low[i] = R->close[i] = price;
		R->vol[i] = R->pv[i] = 0;
		R->count[i] = 0;
		R->open_t = R->close_t = ts;
		R->is_open = 1;
	}
	if (ts < R->open_t) {
		R->open_t = ts;
		R->open[i] = price;
	}
	if (ts >= R->close_t) {
		R->close_t = ts;
		R->close[i] = price;
	}
	R->high[i] = price > R->high[i] ? price : R->high[i];
	R->low[i] = price < R->low[i] ? price : R->low[i];
	R->vol[i] += size;
	R->pv[i] += price * size;
	R->count[i]++;
}

/* EMA(n) of x[from..len): out[from + n - 1] is the mean of the first n,
 * NaN before. */
static void tr_ema(const double *x, size_t from, size_t len, size_t n, double *out)
{
	double e = 0;

	for (size_t i = from; i < len; i++) {
		if (i - from + 1 < n) {
			e += x[i];
			out[i] = NAN;
			continue;
		}
		if (i - from + 1 == n)
			e = (e + x[i]) / (double)n;
		else
			e += 2.0 / ((double)n + 1.0) * (x[i] - e);
		out[i] = e;
	}
}

/* Wilder's RSI(n) of the closes into out (NaN for the first n bars). */
static void tr_rsi(const double *c, size_t len, size_t n, double *out)
{
	double ag = 0, al = 0;

	for (size_t i = 0; i < len; i++) {
		out[i] = NAN;
		if (i == 0)
			continue;
		double d = c[i] - c[i - 1];
		double g = d > 0 ? d : 0, l = d < 0 ? -d : 0;
		if (i <= n) {
			ag += g;
			al += l;
			if (i == n) {
				ag /= (double)n;
				al /= (double)n;
			}
		} else {
			ag = (ag * (double)(n - 1) + g) / (double)n;
			al = (al * (double)(n - 1) + l) / (double)n;
		}
		if (i >= n)
			out[i] = (ag + al) == 0 ? 50.0 : 100.0 * ag / (ag + al);
	}
}

/* SMA(n), Bollinger(n, k) with the population sd, two-pass per window. */
static void tr_windows(struct tr_ref *R, size_t n, double k)
{
	for (size_t i = 0; i < R->n; i++) {
		double s = 0, q = 0, lo = INFINITY, hi = -INFINITY, m, sd;
		R->out[TR_SMA][i] = R->out[TR_BB_MIDDLE][i] = NAN;
		R->out[TR_BB_UPPER][i] = R->out[TR_BB_LOWER][i] = R->sd[i] = NAN;
		if (i + 1 < n)
			continue;
		for (size_t j = i + 1 - n; j <= i; j++) {
			s += R->close[j];
			lo = R->close[j] < lo ? R->close[j] : lo;
			hi = R->close[j] > hi ? R->close[j] : hi;
		}
		m = s / (double)n;
		for (size_t j = i + 1 - n; j <= i; j++)
			q += (R->close[j] - m) * (R->close[j] - m);
		sd = lo == hi ? 0.0 : sqrt(q / (double)n); /* flat: exactly 0 */
		R->out[TR_SMA][i] = R->out[TR_BB_MIDDLE][i] = m;
		R->out[TR_BB_UPPER][i] = m + k * sd;
		R->out[TR_BB_LOWER][i] = m - k * sd;
		R->sd[i] = sd;
	}
}

/* The session of a bar starting at t (a day number). */
static int64_t tr_session_day(const struct tr_ref *R, int64_t t)
{
	int64_t x = t - R->session_utc_ns, day = 86400LL * 1000000000LL;
	return x / day - (x % day < 0);
}

/* Every indicator of the bars (call once, after the last tr_trade). */
static void tr_indicators(struct tr_ref *R)
{
	double cpv = 0, cvol = 0, *fast, *slow, **o = R->out;

	for (int k = 0; k < TR_NOUT; k++)
		assert_non_null(o[k] = malloc((R->n + 1) * sizeof(double)));
	assert_non_null(R->sd = malloc((R->n + 1) * sizeof(double)));
	fast = malloc((R->n + 1) * sizeof(double));
	slow = malloc((R->n + 1) * sizeof(double));
	assert_true(fast && slow);
	tr_windows(R, 20, 2.0);
	tr_ema(R->close, 0, R->n, 20, o[TR_EMA]);
	tr_rsi(R->close, R->n, 14, o[TR_RSI]);
	tr_ema(R->close, 0, R->n, 12, fast);
	tr_ema(R->close, 0, R->n, 26, slow);
	for (size_t i = 0; i < R->n; i++)
		o[TR_MACD][i] = i + 1 < 26 ? NAN : fast[i] - slow[i];
	for (size_t i = 0; i < R->n && i < 25; i++)
		o[TR_MACD_SIGNAL][i] = NAN;
	if (R->n > 25) /* the signal line starts with the MACD line */
		tr_ema(o[TR_MACD], 25, R->n, 9, o[TR_MACD_SIGNAL]);
	for (size_t i = 0; i < R->n; i++) {
		o[TR_MACD_HIST][i] = o[TR_MACD][i] - o[TR_MACD_SIGNAL][i];
		if (R->session_on && i > 0 && tr_session_day(R, R->start[i]) !=
		                                  tr_session_day(R, R->start[i - 1]))
			cpv = cvol = 0; /* a new session */
		cpv += R->pv[i];
		cvol += R->vol[i];
		o[TR_VWAP][i] = cpv / cvol;
	}
	free(fast);
	free(slow);
}

/* Index of the bar ending at end_ns, or -1. */
static long tr_bar_index(const struct tr_ref *R, int64_t end_ns)
{
	size_t lo = 0, hi = R->n;
	int64_t start = end_ns - R->interval_ns;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (R->start[mid] < start)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < R->n && R->start[lo] == start ? (long)lo : -1;
}

struct tr_tally {
	size_t rows[TR_NOUT]; /* rows checked per output */
	size_t nan[TR_NOUT];  /* of which "nan" (MACD signal warming up) */
	size_t flat;          /* Bollinger rows with a zero-width band */
	long mid_bar;         /* bar of the last middle band row, and its value */
	double mid;
	double worst[TR_NOUT];
};

/* One tap row "t,SYM,name,value" against the reference. */
static void tr_check_row(const struct tr_ref *R, const char *sym, const char *line,
                         struct tr_tally *y)
{
	char fmt[64], name[32];
	long long t;
	double v;
	int k;

	snprintf(fmt, sizeof(fmt), "%%lld,%s,%%31[^,],%%lf", sym);
	assert_int_equal(sscanf(line, fmt, &t, name, &v), 3);
	for (k = 0; k < TR_NOUT && strcmp(name, tr_names[k]) != 0; k++)
		;
	if (k == TR_NOUT)
		fail_msg("unexpected tap row: %s", line);
	long i = tr_bar_index(R, t);
	assert_true(i >= 0);
	double want = R->out[k][i];
	y->rows[k]++;
	if (isnan(want) || isnan(v)) { /* only the MACD signal may say nan */
		if (!(isnan(want) && isnan(v) && (k == TR_MACD_SIGNAL || k == TR_MACD_HIST)))
			fail_msg("%s at bar %ld: ta %.17g, reference %.17g", name, i, v, want);
		y->nan[k]++;
		return;
	}
	double scale = tr_tol[k].scale == TR_OF_CLOSE ? fabs(R->close[i])
	               : tr_tol[k].scale == TR_OF_100 ? 100
	                                              : fabs(want);
	double err = fabs(v - want) / scale;
	if (err > y->worst[k])
		y->worst[k] = err;
	if (err > tr_tol[k].tol)
		fail_msg("%s at bar %ld: ta %.17g, reference %.17g (error %.3g x scale)", name, i,
		         v, want, err);
	if (k == TR_BB_MIDDLE) {
		y->mid_bar = i;
		y->mid = v;
	} else if ((k == TR_BB_UPPER || k == TR_BB_LOWER) && R->sd[i] == 0) {
		/* a flat window has a band of width exactly 0 (ta_bollinger.c); the
		 * middle band comes first in the same event */
		assert_int_equal(y->mid_bar, i);
		if (v != y->mid)
			fail_msg("%s at bar %ld: %.17g, middle %.17g: a flat window must give "
			         "a zero-width band",
			         name, i, v, y->mid);
		y->flat++;
	}
}

/* Check every row of a tap CSV; every output of every bar once warm. */
static void tr_check_tap(const struct tr_ref *R, const char *path, const char *sym,
                         struct tr_tally *y)
{
	static const size_t warm[TR_NOUT] = {20, 20, 15, 26, 26, 26, 1, 20, 20, 20};
	char line[256];
	FILE *f = fopen(path, "r");

	memset(y, 0, sizeof(*y));
	y->mid_bar = -1;
	assert_non_null(f);
	assert_non_null(fgets(line, sizeof(line), f));
	assert_string_equal(line, "event_time_ns,symbol,indicator,value\n");
	while (fgets(line, sizeof(line), f))
		tr_check_row(R, sym, line, y);
	fclose(f);
	for (int k = 0; k < TR_NOUT; k++)
		assert_int_equal(y->rows[k], R->n + 1 > warm[k] ? R->n + 1 - warm[k] : 0);
	/* signal and histogram are nan for the 8 bars before the signal is ready */
	assert_int_equal(y->nan[TR_MACD_SIGNAL], R->n >= 26 + 8 ? 8 : y->rows[TR_MACD]);
	assert_int_equal(y->nan[TR_MACD_HIST], y->nan[TR_MACD_SIGNAL]);
}

/*
 * Check the bars of `shmbus-journal cat --format csv --types bar` (columns
 * event_time_ns,symbol,source_id,seq,start_ns,interval_ms,open,high,low,
 * close,volume,trade_count[,origin_ns]) against the reference: the same
 * bars, in order, every field equal (prices are the input's decimals read
 * the same way, volumes sums of whole numbers: no tolerance).
 */
static void tr_check_bars(const struct tr_ref *R, const char *path, const char *sym)
{
	char line[512], fmt[128];
	size_t n = 0;
	FILE *f = fopen(path, "r");

	assert_non_null(f);
	assert_non_null(fgets(line, sizeof(line), f));
	assert_int_equal(strncmp(line,
	                         "event_time_ns,symbol,source_id,seq,start_ns,interval_ms,"
	                         "open,high,low,close,volume,trade_count",
	                         94),
	                 0);
	snprintf(fmt, sizeof(fmt), "%%lld,%s,%%*u,%%*u,%%lld,%%u,%%lf,%%lf,%%lf,%%lf,%%lf,%%u",
	         sym);
	while (fgets(line, sizeof(line), f)) {
		long long t, start;
		unsigned ims, cnt;
		double o, h, l, c, v;
		assert_int_equal(sscanf(line, fmt, &t, &start, &ims, &o, &h, &l, &c, &v, &cnt), 9);
		assert_true(n < R->n);
		if (start != R->start[n] || t != start + R->interval_ns ||
		    (int64_t)ims * 1000000 != R->interval_ns || o != R->open[n] ||
		    h != R->high[n] || l != R->low[n] || c != R->close[n] || v != R->vol[n] ||
		    cnt != R->count[n])
			fail_msg("bar %zu differs: ta %s   reference start %lld o %.17g h %.17g l "
			         "%.17g c %.17g v %.17g n %u",
			         n, line, (long long)R->start[n], R->open[n], R->high[n], R->low[n],
			         R->close[n], R->vol[n], R->count[n]);
		n++;
	}
	fclose(f);
	assert_int_equal(n, R->n);
}

/* One line of the worst errors, for the test log. */
static void tr_print(const struct tr_ref *R, const struct tr_tally *y, const char *what)
{
	print_message("%s: %zu bars, %zu rows per MACD output (%zu nan), %zu Bollinger rows "
	              "(%zu flat); worst errors:",
	              what, R->n, y->rows[TR_MACD], y->nan[TR_MACD_SIGNAL], y->rows[TR_BB_UPPER],
	              y->flat / 2);
	for (int k = 0; k < TR_NOUT; k++)
		print_message(" %s %.2g", tr_names[k], y->worst[k]);
	print_message("\n");
}

static void tr_free(struct tr_ref *R)
{
	void *p[] = {R->start, R->open, R->high, R->low, R->close, R->vol, R->pv, R->count, R->sd};

	for (size_t k = 0; k < sizeof(p) / sizeof(p[0]); k++)
		free(p[k]);
	for (int k = 0; k < TR_NOUT; k++)
		free(R->out[k]);
	memset(R, 0, sizeof(*R));
}

/*
 * Run shmbus-pipeline on @input with bars of @interval_ms (through
 * --ta-config) and @extra flags (NULL-terminated); the tap CSV goes to
 * tr_run.tap. With @want_bars, when the journal tools are built, the run is
 * journaled and its bars extracted with `shmbus-journal cat` into
 * tr_run.bars; otherwise tr_run.bars is empty (the caller says the bars
 * were not checked).
 * Needs pl_test.h (included before this header). The JSON summary is
 * returned (malloc'd).
 */
struct tr_run {
	char tap[512], bars[512];
	const char *conf; /* in: more lines for the --ta-config file, or NULL */
};

static char *tr_pipeline(const char *tag, const char *input, unsigned interval_ms,
                         char *const *extra, int want_bars, struct tr_run *run)
{
	char conf[512], jdir[512], rdir[512], json[512], bus[64], *argv[40];
	int n = 0, rc;
	FILE *f;

	snprintf(conf, sizeof(conf), "%s.conf", pt_path(tag));
	snprintf(jdir, sizeof(jdir), "%s-journal", pt_path(tag));
	snprintf(rdir, sizeof(rdir), "%s-run", pt_path(tag));
	snprintf(json, sizeof(json), "%s.json", pt_path(tag));
	snprintf(run->tap, sizeof(run->tap), "%s-tap.csv", pt_path(tag));
	snprintf(bus, sizeof(bus), "pt-%s", tag);
	run->bars[0] = '\0';
	assert_non_null(f = fopen(conf, "w"));
	fprintf(f, "interval_ms=%u\n%s", interval_ms, run->conf ? run->conf : "");
	assert_int_equal(fclose(f), 0);
	char *base[] = {PL_BIN_PIPELINE, "--bus",  bus,         "--input",
	                (char *)input,   "--json", "--tap-csv", run->tap,
	                "--ta-config",   conf,     "--dir",     rdir};
	for (size_t k = 0; k < sizeof(base) / sizeof(base[0]); k++)
		argv[n++] = base[k];
	for (; extra && *extra; extra++)
		argv[n++] = *extra;
#if defined(PL_HAVE_JOURNAL_TOOLS) && defined(PL_BIN_JOURNAL)
	if (want_bars) {
		argv[n++] = "--journal-dir";
		argv[n++] = jdir;
	}
#else
	want_bars = 0;
#endif
	if (!want_bars)
		argv[n++] = "--no-journal";
	argv[n] = NULL;
	rc = pt_run(argv, json, NULL);
	if (rc != 0)
		pt_show(json);
	assert_int_equal(rc, 0);
#if defined(PL_HAVE_JOURNAL_TOOLS) && defined(PL_BIN_JOURNAL)
	if (!want_bars)
		return pt_slurp(json);
	char *cat[] = {PL_BIN_JOURNAL, "cat",     "--dir", jdir, "--format",
	               "csv",          "--types", "bar",   NULL};
	snprintf(run->bars, sizeof(run->bars), "%s-bars.csv", pt_path(tag));
	assert_int_equal(pt_run(cat, run->bars, NULL), 0);
#endif
	return pt_slurp(json);
}

#endif /* SHMBUS_TEST_TA_REF_H */
