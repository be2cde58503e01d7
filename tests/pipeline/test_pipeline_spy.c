/*
 * test_pipeline_spy.c - the pipeline end to end on the real SPY trades of
 * 2013-10-08 (../shared/data, found through SHMBUS_SHARED_DATA; skipped
 * when absent).
 *
 * The test reads the CSV itself and computes, independently of services/ta,
 * the 1-second bars (one per distinct second with trades; close = the trade
 * with the latest time, the later row on ties) and, on their closes, SMA(20),
 * EMA(20) (seeded with the SMA of the first 20), Wilder's RSI(14) and the
 * session VWAP. It then runs shmbus-pipeline on the file and checks the
 * counts of every stage and every SMA/EMA/RSI/VWAP row of the tap CSV
 * against its own numbers.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>

#include "pl_test.h"

static char spy_path[512];

struct ref {
	size_t rows, late, n, cap;
	int64_t *end_ns; /* bar end (= its event time) */
	double *close, *sma, *ema, *rsi, *vwap;
};

static struct ref R;

static void ref_push(int64_t sec, double close, double pv, double vol)
{
	static double cum_pv, cum_vol;

	if (R.n == R.cap) {
		R.cap = R.cap ? R.cap * 2 : 4096;
		R.end_ns = realloc(R.end_ns, R.cap * sizeof(*R.end_ns));
		R.close = realloc(R.close, R.cap * sizeof(double));
		R.vwap = realloc(R.vwap, R.cap * sizeof(double));
		assert_true(R.end_ns && R.close && R.vwap);
	}
	cum_pv += pv;
	cum_vol += vol;
	R.end_ns[R.n] = (sec + 1) * 1000000000LL;
	R.close[R.n] = close;
	R.vwap[R.n] = cum_pv / cum_vol;
	R.n++;
}

/* Bars of the file, by the rules of ta_bar.h, computed here. */
static void ref_bars(void)
{
	FILE *f = fopen(spy_path, "r");
	char line[256];
	int64_t cur = -1, close_t = 0;
	double close = 0, pv = 0, vol = 0;

	assert_non_null(f);
	assert_non_null(fgets(line, sizeof(line), f)); /* header */
	while (fgets(line, sizeof(line), f)) {
		char *p = line, *end;
		long long ts = strtoll(p, &end, 10);
		p = strchr(end + 1, ',') + 1; /* skip the symbol */
		double price = strtod(p, &end);
		double size = strtod(end + 1, NULL);
		int64_t sec = ts / 1000000000LL;
		R.rows++;
		if (sec < cur) {
			R.late++; /* older than the open bar: ta ignores it */
			continue;
		}
		if (sec > cur) {
			if (cur >= 0)
				ref_push(cur, close, pv, vol);
			cur = sec;
			close_t = ts;
			close = price;
			pv = vol = 0;
		} else if (ts >= close_t) {
			close_t = ts;
			close = price;
		}
		pv += price * size;
		vol += size;
	}
	if (cur >= 0)
		ref_push(cur, close, pv, vol);
	fclose(f);
}

/* SMA(20), EMA(20) and RSI(14) of the closes; NaN while warming up. */
static void ref_indicators(void)
{
	const size_t ns = 20, ne = 20, nr = 14;
	double ema = 0, ag = 0, al = 0;

	R.sma = malloc(R.n * sizeof(double));
	R.ema = malloc(R.n * sizeof(double));
	R.rsi = malloc(R.n * sizeof(double));
	assert_true(R.sma && R.ema && R.rsi);
	for (size_t i = 0; i < R.n; i++) {
		double s = 0;
		R.sma[i] = R.ema[i] = R.rsi[i] = NAN;
		if (i + 1 >= ns) {
			for (size_t k = i + 1 - ns; k <= i; k++)
				s += R.close[k];
			R.sma[i] = s / ns;
		}
		if (i + 1 == ne)
			ema = R.sma[i]; /* same period: the seed is SMA(20) */
		else if (i + 1 > ne)
			ema += 2.0 / (ne + 1) * (R.close[i] - ema);
		if (i + 1 >= ne)
			R.ema[i] = ema;
		if (i == 0)
			continue;
		double d = R.close[i] - R.close[i - 1];
		double g = d > 0 ? d : 0, l = d < 0 ? -d : 0;
		if (i <= nr) {
			ag += g;
			al += l;
			if (i == nr) {
				ag /= nr;
				al /= nr;
			}
		} else {
			ag = (ag * (nr - 1) + g) / nr;
			al = (al * (nr - 1) + l) / nr;
		}
		if (i >= nr)
			R.rsi[i] = (ag + al) == 0 ? 50.0 : 100.0 * ag / (ag + al);
	}
}

static long bar_index(int64_t end_ns)
{
	size_t lo = 0, hi = R.n;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (R.end_ns[mid] < end_ns)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < R.n && R.end_ns[lo] == end_ns ? (long)lo : -1;
}

/* Compare one tap row with the reference; counts rows per indicator. */
static void check_row(const char *line, size_t counts[4], double *worst)
{
	static const char *const names[4] = {"sma20", "ema20", "rsi14", "vwap"};
	long long t;
	char name[32];
	double v;

	assert_int_equal(sscanf(line, "%lld,SPY,%31[^,],%lf", &t, name, &v), 3);
	for (int k = 0; k < 4; k++) {
		if (strcmp(name, names[k]) != 0)
			continue;
		long i = bar_index(t);
		const double *ref[4] = {R.sma, R.ema, R.rsi, R.vwap};
		assert_true(i >= 0);
		double want = ref[k][i];
		assert_false(isnan(want)); /* published only once warmed up */
		double err = k == 2 ? fabs(v - want) / 100 : fabs(v - want) / fabs(want);
		if (err > *worst)
			*worst = err;
		if (err > 1e-9)
			fprintf(stderr, "%s at bar %ld: ta %.17g, reference %.17g\n", name, i, v,
			        want);
		assert_true(err <= 1e-9);
		counts[k]++;
	}
}

static void test_pipeline_spy_counts_and_indicators(void **state)
{
	const char *tap = pt_path("spy-tap.csv");
	char *argv[] = {PL_BIN_PIPELINE,
	                "--bus",
	                "pt-spy",
	                "--input",
	                spy_path,
	                "--no-journal",
	                "--json",
	                "--tap-csv",
	                (char *)tap,
	                "--dir",
	                (char *)pt_path("run-spy"),
	                NULL};
	const char *out = pt_path("spy.json");
	size_t counts[4] = {0};
	double worst = 0;
	char line[256], *j;
	FILE *f;
	int rc;

	ref_bars();
	ref_indicators();
	assert_true(R.rows > 400000 && R.n > 20000);
	rc = pt_run(argv, out, NULL);
	if (rc != 0)
		pt_show(out);
	assert_int_equal(rc, 0);
	assert_non_null(j = pt_slurp(out));
	assert_true(pt_json(j, "collector_rows") == (double)R.rows);
	assert_true(pt_json(j, "collector_trades") == (double)R.rows);
	assert_true(pt_json(j, "collector_malformed") == 0);
	assert_true(pt_json(j, "ta_events_in") == (double)R.rows);
	assert_true(pt_json(j, "ta_late") == (double)R.late);
	assert_true(pt_json(j, "ta_bars") == (double)R.n); /* one per second with trades */
	assert_true(pt_json(j, "ta_events_out") == pt_json(j, "threshold_events_in"));
	assert_true(pt_json(j, "ta_indicators") == pt_json(j, "tap_indicators"));
	assert_true(pt_json(j, "threshold_alerts") == pt_json(j, "tap_alerts"));
	assert_true(pt_json(j, "eos_threshold") == 1);
	free(j);

	assert_non_null(f = fopen(tap, "r"));
	assert_non_null(fgets(line, sizeof(line), f));
	assert_string_equal(line, "event_time_ns,symbol,indicator,value\n");
	while (fgets(line, sizeof(line), f))
		check_row(line, counts, &worst);
	fclose(f);
	print_message("%zu bars; rows checked: sma20 %zu, ema20 %zu, rsi14 %zu, vwap %zu; "
	              "worst relative difference %.3g\n",
	              R.n, counts[0], counts[1], counts[2], counts[3], worst);
	assert_int_equal(counts[0], R.n - 19);
	assert_int_equal(counts[1], R.n - 19);
	assert_int_equal(counts[2], R.n - 14);
	assert_int_equal(counts[3], R.n);
}

int main(void)
{
	const char *dir = getenv("SHMBUS_SHARED_DATA");
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_pipeline_spy_counts_and_indicators),
	};

	snprintf(spy_path, sizeof(spy_path), "%s/spy_trades_20131008.csv", dir ? dir : "");
	if (!dir || access(spy_path, R_OK) != 0) {
		printf("SKIP: %s not readable (set SHMBUS_SHARED_DATA to ../shared/data)\n",
		       spy_path);
		return 77;
	}
	return cmocka_run_group_tests(tests, pt_setup, pt_teardown);
}
