/*
 * test_indicators.c - the TA indicators against hand-computed series, edge
 * cases, and O(n) brute-force recomputations over 10k random closes.
 *
 * Hand series use values exact in binary where possible, so most expected
 * values are compared exactly; the derivations are in the comments. The
 * random tests compare every O(1) update against a from-scratch
 * recomputation (window sums for SMA/Bollinger, the closed-form weighted
 * sums for the EMA-type recursions) at a relative tolerance of 1e-9.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include <shmbus/event.h>

#include "ta_bollinger.h"
#include "ta_ema.h"
#include "ta_macd.h"
#include "ta_rsi.h"
#include "ta_sma.h"
#include "ta_state.h"
#include "ta_vwap.h"

/* The result bits mirror the event's indicator kinds (ta_state.h). */
_Static_assert(TA_OUT_SMA == 1u << SHMBUS_IND_SMA, "sma bit");
_Static_assert(TA_OUT_EMA == 1u << SHMBUS_IND_EMA, "ema bit");
_Static_assert(TA_OUT_RSI == 1u << SHMBUS_IND_RSI, "rsi bit");
_Static_assert(TA_OUT_MACD == 1u << SHMBUS_IND_MACD, "macd bit");
_Static_assert(TA_OUT_VWAP == 1u << SHMBUS_IND_VWAP, "vwap bit");
_Static_assert(TA_OUT_BOLLINGER == 1u << SHMBUS_IND_BOLLINGER, "bollinger bit");

#define REL_TOL 1e-9

/* |got - want| <= tol * max(|want|, scale): scale is the magnitude the
 * value was computed from (for a difference such as MACD, its operands). */
static void assert_close(double got, double want, double scale, double tol, const char *what,
                         size_t i)
{
	double ref = fmax(fabs(want), scale);

	if (!(fabs(got - want) <= tol * ref)) {
		print_error("%s at %zu: got %.17g want %.17g (rel err %.3g)\n", what, i, got, want,
		            fabs(got - want) / ref);
		fail();
	}
}

/* ---- hand-computed series ---- */

/* SMA(3) of 1..5: not ready at 1, 2; then (1+2+3)/3 = 2, (2+3+4)/3 = 3,
 * (3+4+5)/3 = 4. */
static void test_sma_hand_series(void **state)
{
	struct ta_sma s;
	double v;
	const double want[] = {2.0, 3.0, 4.0};

	assert_int_equal(ta_sma_init(&s, 3), 0);
	assert_int_equal(ta_sma_get(&s, &v), -EAGAIN);
	assert_int_equal(ta_sma_update(&s, 1.0), 0);
	assert_int_equal(ta_sma_update(&s, 2.0), 0);
	assert_false(ta_sma_ready(&s));
	for (int i = 0; i < 3; i++) {
		assert_int_equal(ta_sma_update(&s, 3.0 + i), 1);
		assert_int_equal(ta_sma_get(&s, &v), 0);
		assert_true(v == want[i]);
	}
	ta_sma_reset(&s);
	assert_false(ta_sma_ready(&s));
}

/* The compensated window sum does not drift: 1e16 passes through an SMA(3)
 * of ones. A plain running sum loses the ones added next to 1e16 (its ulp
 * is 2) and, once 1e16 leaves, would report (4 - 2)/3 or so; the
 * compensated sum gives exactly 1. */
static void test_sma_no_drift_after_large_value(void **state)
{
	struct ta_sma s;
	double v;

	assert_int_equal(ta_sma_init(&s, 3), 0);
	ta_sma_update(&s, 1e16);
	for (int i = 0; i < 5; i++)
		ta_sma_update(&s, 1.0);
	assert_int_equal(ta_sma_get(&s, &v), 0);
	assert_true(v == 1.0);
}

/* EMA(3), alpha = 2/(3+1) = 0.5, of 1,2,3,4,5,10: seed at the 3rd value =
 * (1+2+3)/3 = 2; then 2 + .5*(4-2) = 3; 3 + .5*(5-3) = 4; 4 + .5*(10-4) = 7. */
static void test_ema_seeded_hand_series(void **state)
{
	struct ta_ema e;
	const double in[] = {1, 2, 3, 4, 5, 10};
	const double want[] = {0, 0, 2, 3, 4, 7};
	double v;

	assert_int_equal(ta_ema_init(&e, 3), 0);
	for (int i = 0; i < 6; i++) {
		int rc = ta_ema_update(&e, in[i]);

		assert_int_equal(rc, i >= 2);
		if (i < 2) {
			assert_int_equal(ta_ema_get(&e, &v), -EAGAIN);
			continue;
		}
		assert_int_equal(ta_ema_get(&e, &v), 0);
		assert_true(v == want[i]);
	}
}

/*
 * RSI(3) of 10, 12, 11, 14, 13, 13: changes +2, -1, +3, -1, 0.
 * Needs 4 closes. Seed: gains (2+0+3)/3 = 5/3, losses (0+1+0)/3 = 1/3,
 * RSI = 100 * (5/3) / (6/3) = 250/3.
 * Change -1: G = (5/3*2 + 0)/3 = 10/9, L = (1/3*2 + 1)/3 = 5/9,
 * RSI = 100 * 10/15 = 200/3.
 * Change 0: G = 20/27, L = 10/27, RSI = 200/3 again.
 */
static void test_rsi_hand_series_period3(void **state)
{
	struct ta_rsi r;
	const double in[] = {10, 12, 11, 14, 13, 13};
	const double want[] = {0, 0, 0, 250.0 / 3, 200.0 / 3, 200.0 / 3};
	double v;

	assert_int_equal(ta_rsi_init(&r, 3), 0);
	for (int i = 0; i < 6; i++) {
		assert_int_equal(ta_rsi_update(&r, in[i]), i >= 3);
		if (i < 3) {
			assert_int_equal(ta_rsi_get(&r, &v), -EAGAIN);
			continue;
		}
		assert_int_equal(ta_rsi_get(&r, &v), 0);
		assert_close(v, want[i], 0, 1e-13, "rsi3", (size_t)i);
	}
}

/*
 * RSI(14) on Wilder's classic series (as reproduced by StockCharts).
 * Changes of the first 15 closes: -.25 +.06 -.54 +.72 +.50 +.27 +.32 +.42
 * +.24 -.19 +.14 -.42 +.67 0. Gains sum 3.34, losses 1.40:
 * RSI = 100 * 3.34 / 4.74 = 70.4641... (StockCharts prints 70.53 because it
 * rounds the averages to 2 places).
 * 46.00 (-.28): G = 3.34*13/196 = 43.42/196, L = (1.40*13 + .28*14)/196 =
 * 22.12/196, RSI = 100 * 43.42 / 65.54.
 * 46.03 (+.03): G = (43.42*13 + .03*196)/2744 = 570.34/2744,
 * L = 22.12*13/2744 = 287.56/2744, RSI = 100 * 570.34 / 857.90.
 */
static void test_rsi_wilder_classic_series(void **state)
{
	const double in[] = {44.34, 44.09, 44.15, 43.61, 44.33, 44.83, 45.10, 45.42, 45.84,
	                     46.08, 45.89, 46.03, 45.61, 46.28, 46.28, 46.00, 46.03};
	const double want[] = {100.0 * 3.34 / 4.74, 100.0 * 43.42 / 65.54, 100.0 * 570.34 / 857.90};
	struct ta_rsi r;
	double v;

	assert_int_equal(ta_rsi_init(&r, 14), 0);
	for (int i = 0; i < 17; i++) {
		assert_int_equal(ta_rsi_update(&r, in[i]), i >= 14);
		if (i < 14)
			continue;
		assert_int_equal(ta_rsi_get(&r, &v), 0);
		assert_close(v, want[i - 14], 0, 1e-10, "rsi14", (size_t)i);
	}
}

/* Flat prices: no gain, no loss -> TA_RSI_FLAT (50); only gains -> 100;
 * only losses -> 0; gains after a flat seed move it up from 50. */
static void test_rsi_degenerate_windows(void **state)
{
	struct ta_rsi r;
	double v;

	assert_int_equal(ta_rsi_init(&r, 3), 0);
	for (int i = 0; i < 10; i++)
		ta_rsi_update(&r, 7.25);
	assert_int_equal(ta_rsi_get(&r, &v), 0);
	assert_true(v == TA_RSI_FLAT);
	assert_true(v == 50.0);
	ta_rsi_update(&r, 8.0);
	assert_int_equal(ta_rsi_get(&r, &v), 0);
	assert_true(v == 100.0); /* the loss average is still exactly 0 */

	ta_rsi_reset(&r);
	for (int i = 0; i < 6; i++)
		ta_rsi_update(&r, 1.0 + i);
	assert_int_equal(ta_rsi_get(&r, &v), 0);
	assert_true(v == 100.0);

	ta_rsi_reset(&r);
	for (int i = 0; i < 6; i++)
		ta_rsi_update(&r, 10.0 - i);
	assert_int_equal(ta_rsi_get(&r, &v), 0);
	assert_true(v == 0.0);
}

/*
 * A long flat run after some moves: every zero change scales both Wilder
 * averages by (n - 1)/n, which leaves the RSI as it was. RSI(2) of 10.00,
 * 10.02, 10.01 is 100 * .01 / (.01 + .005) = 200/3, and stays so however
 * many equal closes follow. It used to drift after ~1000 of them, the
 * averages decaying into subnormals (62.5, 68.75, 75 ...), then read 50.
 * Later moves count in full, the decayed averages being nothing beside
 * them: up 0.01 after the flat run -> 100; then down 0.01 -> G = .0025,
 * L = .005, RSI = 100/3.
 */
static void test_rsi_long_flat_run_keeps_value(void **state)
{
	const double in[] = {10.00, 10.02, 10.01};
	const double w[] = {44.34, 44.09, 44.15, 43.61, 44.33, 44.83, 45.10, 45.42,
	                    45.84, 46.08, 45.89, 46.03, 45.61, 46.28, 46.28};
	struct ta_rsi r;
	double v;

	assert_int_equal(ta_rsi_init(&r, 2), 0);
	for (int i = 0; i < 3; i++)
		ta_rsi_update(&r, in[i]);
	for (size_t i = 0; i < 5000; i++) {
		assert_int_equal(ta_rsi_update(&r, 10.01), 1);
		assert_int_equal(ta_rsi_get(&r, &v), 0);
		assert_close(v, 200.0 / 3, 0, 1e-9, "rsi2 flat", i);
	}
	ta_rsi_update(&r, 10.02);
	assert_int_equal(ta_rsi_get(&r, &v), 0);
	assert_close(v, 100.0, 0, 1e-12, "rsi2 after flat", 0);
	ta_rsi_update(&r, 10.01);
	assert_int_equal(ta_rsi_get(&r, &v), 0);
	assert_close(v, 100.0 / 3, 0, 1e-9, "rsi2 down after flat", 0);

	/* RSI(14) of Wilder's series, then 20000 equal closes */
	assert_int_equal(ta_rsi_init(&r, 14), 0);
	for (int i = 0; i < 15; i++)
		ta_rsi_update(&r, w[i]);
	for (size_t i = 0; i < 20000; i++) {
		ta_rsi_update(&r, 46.28);
		assert_int_equal(ta_rsi_get(&r, &v), 0);
		assert_close(v, 100.0 * 3.34 / 4.74, 0, 1e-9, "rsi14 flat", i);
	}
}

/* ---- brute-force references ---- */

/*
 * The seeded recursion y = seed (mean of v[0..n-1]) at index n-1, then
 * y += a * (v[i] - y), written in closed form at index t >= n-1:
 * y_t = (1-a)^(t-n+1) * seed + sum_{i=n..t} a * (1-a)^(t-i) * v[i].
 * Summed from the newest term back; terms whose weight fell below 1e-25
 * are dropped (weights sum to 1, so they cannot move a double at 1e-9),
 * which keeps 10k evaluations fast.
 */
static double brute_smooth(const double *v, size_t n, size_t t, double a)
{
	long double acc = 0.0L, w = a, seed = 0.0L;
	size_t i;

	for (i = t; i >= n && w >= 1e-25L; i--) {
		acc += w * v[i];
		w *= 1.0L - a;
	}
	if (i >= n || w < 1e-25L)
		return (double)acc;
	for (i = 0; i < n; i++)
		seed += v[i];
	return (double)(acc + (w / a) * (seed / n));
}

static double brute_mean(const double *v, size_t n)
{
	long double s = 0.0L;

	for (size_t i = 0; i < n; i++)
		s += v[i];
	return (double)(s / n);
}

static double brute_popsd(const double *v, size_t n)
{
	long double m = brute_mean(v, n), s = 0.0L;

	for (size_t i = 0; i < n; i++)
		s += (v[i] - m) * (v[i] - m);
	return (double)sqrtl(s / n);
}

/* MACD line of x at index t (t >= slow - 1), brute force. */
static double brute_macd_line(const double *x, size_t t, size_t fast, size_t slow)
{
	return brute_smooth(x, fast, t, 2.0 / (fast + 1.0)) -
	       brute_smooth(x, slow, t, 2.0 / (slow + 1.0));
}

/*
 * MACD(2,3,2) of 1,3,2,5,4,6,8,7,7,3: hand values for the first steps, a
 * brute-force recomputation for all.
 * fast EMA(2), a = 2/3: seed (1+3)/2 = 2; 2 -> 2; 5 -> 2 + 2/3*3 = 4.
 * slow EMA(3), a = 1/2: seed (1+3+2)/3 = 2; 5 -> 3.5.
 * macd at value 3 = 2 - 2 = 0, at value 4 = 4 - 3.5 = 0.5.
 * signal EMA(2) seeded with the mean of the first two macd values: 0.25 at
 * value 4; histogram 0.5 - 0.25 = 0.25.
 */
static void test_macd_small_periods(void **state)
{
	const double x[] = {1, 3, 2, 5, 4, 6, 8, 7, 7, 3};
	double line[10];
	struct ta_macd m;
	struct ta_macd_value v;
	int rc;

	assert_int_equal(ta_macd_init(&m, 2, 3, 2), 0);
	assert_int_equal(ta_macd_update(&m, x[0]), 0);
	assert_int_equal(ta_macd_update(&m, x[1]), 0);
	assert_int_equal(ta_macd_get(&m, &v), -EAGAIN);
	assert_int_equal(ta_macd_update(&m, x[2]), TA_MACD_LINE_READY);
	assert_int_equal(ta_macd_get(&m, &v), 0);
	assert_true(v.macd == 0.0);
	assert_false(v.signal_ready);
	assert_true(isnan(v.signal) && isnan(v.histogram));
	assert_false(ta_macd_signal_ready(&m));
	assert_int_equal(ta_macd_update(&m, x[3]), TA_MACD_LINE_READY | TA_MACD_SIGNAL_READY);
	assert_int_equal(ta_macd_get(&m, &v), 0);
	assert_true(v.signal_ready);
	assert_close(v.macd, 0.5, 0, 1e-15, "macd", 3);
	assert_close(v.signal, 0.25, 0, 1e-15, "signal", 3);
	assert_close(v.histogram, 0.25, 0, 1e-15, "hist", 3);

	for (size_t t = 2; t < 10; t++)
		line[t] = brute_macd_line(x, t, 2, 3);
	for (size_t t = 4; t < 10; t++) {
		double sig = brute_smooth(line + 2, 2, t - 2, 2.0 / 3.0);

		rc = ta_macd_update(&m, x[t]);
		assert_int_equal(rc, TA_MACD_LINE_READY | TA_MACD_SIGNAL_READY);
		assert_int_equal(ta_macd_get(&m, &v), 0);
		assert_close(v.macd, line[t], 8.0, 1e-12, "macd", t);
		assert_close(v.signal, sig, 8.0, 1e-12, "signal", t);
		assert_close(v.histogram, line[t] - sig, 8.0, 1e-12, "hist", t);
	}
}

/* VWAP of (10 x 1), (11 x 2), (12 x 1) = (10 + 22 + 12) / 4 = 11; after a
 * reset zero-size trades leave it not ready; (20 x 3) then gives 20. */
static void test_vwap_hand_series_and_reset(void **state)
{
	struct ta_vwap w;
	double v;

	assert_int_equal(ta_vwap_init(&w), 0);
	assert_int_equal(ta_vwap_get(&w, &v), -EAGAIN);
	assert_int_equal(ta_vwap_update(&w, 10.0, 1.0), 1);
	assert_int_equal(ta_vwap_update(&w, 11.0, 2.0), 1);
	assert_int_equal(ta_vwap_update(&w, 12.0, 1.0), 1);
	assert_int_equal(ta_vwap_get(&w, &v), 0);
	assert_true(v == 11.0);

	ta_vwap_reset(&w);
	assert_false(ta_vwap_ready(&w));
	assert_int_equal(ta_vwap_update(&w, 20.0, 0.0), 0);
	assert_int_equal(ta_vwap_get(&w, &v), -EAGAIN);
	assert_int_equal(ta_vwap_update_sums(&w, 60.0, 3.0), 1);
	assert_int_equal(ta_vwap_get(&w, &v), 0);
	assert_true(v == 20.0);

	/* bad trades are refused and change nothing */
	assert_int_equal(ta_vwap_update(&w, 30.0, -1.0), -EINVAL);
	assert_int_equal(ta_vwap_update(&w, NAN, 1.0), -EINVAL);
	assert_int_equal(ta_vwap_update(&w, 1e300, 1e300), -EINVAL); /* pv overflows */
	assert_int_equal(ta_vwap_update_sums(&w, INFINITY, 1.0), -EINVAL);
	assert_int_equal(ta_vwap_get(&w, &v), 0);
	assert_true(v == 20.0);
}

/*
 * Bollinger(8, 2) of 2,4,4,4,5,5,7,9: mean 5, squared deviations
 * 9,1,1,1,0,0,4,16 = 32, population variance 32/8 = 4, sd 2: bands 9 and 1.
 * Then 9 replaces 2: window 4,4,4,5,5,7,9,9, mean 47/8 = 5.875,
 * sum of squares 309, variance 309/8 - 5.875^2 = 4.109375.
 */
static void test_bollinger_population_sd(void **state)
{
	const double x[] = {2, 4, 4, 4, 5, 5, 7, 9};
	struct ta_bollinger b;
	struct ta_bollinger_value v;

	assert_int_equal(ta_bollinger_init(&b, 8, 2.0), 0);
	for (int i = 0; i < 8; i++) {
		assert_int_equal(ta_bollinger_get(&b, &v), -EAGAIN);
		assert_int_equal(ta_bollinger_update(&b, x[i]), i == 7);
	}
	assert_int_equal(ta_bollinger_get(&b, &v), 0);
	assert_true(v.middle == 5.0 && v.sd == 2.0);
	assert_true(v.upper == 9.0 && v.lower == 1.0);

	assert_int_equal(ta_bollinger_update(&b, 9.0), 1);
	assert_int_equal(ta_bollinger_get(&b, &v), 0);
	assert_close(v.middle, 5.875, 0, 1e-15, "middle", 8);
	assert_close(v.sd, sqrt(4.109375), 0, 1e-14, "sd", 8);
	assert_close(v.upper, 5.875 + 2 * sqrt(4.109375), 0, 1e-14, "upper", 8);
	assert_close(v.lower, 5.875 - 2 * sqrt(4.109375), 0, 1e-14, "lower", 8);
}

/* Flat prices after a volatile stretch: the band collapses to exactly the
 * price (the re-anchoring discards the old rounding error). */
static void test_bollinger_flat_prices_zero_width(void **state)
{
	struct ta_bollinger b;
	struct ta_bollinger_value v;

	assert_int_equal(ta_bollinger_init(&b, 20, 2.0), 0);
	for (int i = 0; i < 57; i++)
		ta_bollinger_update(&b, 10000.0 + (i % 7) * 13.37);
	for (int i = 0; i < 40; i++)
		ta_bollinger_update(&b, 10000.1);
	assert_int_equal(ta_bollinger_get(&b, &v), 0);
	assert_true(v.sd == 0.0);
	assert_true(v.middle == 10000.1);
	assert_true(v.upper == v.middle && v.lower == v.middle);
}

/*
 * A window that turns flat between two re-anchorings: Bollinger(3) of
 * 100.01 x4 (re-anchored at the 3rd value, anchor 100.01) then 100.2 x3.
 * The window 100.2, 100.2, 100.2 is flat at the 7th value, one before the
 * next re-anchoring; its band must have width 0 and middle 100.2 exactly,
 * not the rounding error of the sliding sums (sd ~7.6e-10, middle ~1 ulp
 * off, a band that a close equal to every price in it would sit inside).
 */
static void test_bollinger_window_turning_flat_has_zero_width(void **state)
{
	const double x[] = {100.01, 100.01, 100.01, 100.01, 100.2, 100.2, 100.2, 100.2, 100.2};
	struct ta_bollinger b;
	struct ta_bollinger_value v;

	assert_int_equal(ta_bollinger_init(&b, 3, 2.0), 0);
	for (size_t i = 0; i < sizeof(x) / sizeof(x[0]); i++) {
		assert_int_equal(ta_bollinger_update(&b, x[i]), i >= 2);
		assert_int_equal(ta_bollinger_get(&b, &v), i >= 2 ? 0 : -EAGAIN);
		if ((i == 2 || i == 3 || i >= 6) && /* every flat window */
		    !(v.sd == 0.0 && v.middle == x[i] && v.upper == x[i] && v.lower == x[i]))
			fail_msg("flat window at value %zu: middle %.17g sd %.17g upper %.17g",
			         i + 1, v.middle, v.sd, v.upper);
	}
}

static void test_indicators_reject_invalid_params(void **state)
{
	struct ta_sma s;
	struct ta_ema e;
	struct ta_rsi r;
	struct ta_macd m;
	struct ta_bollinger b;

	assert_int_equal(ta_sma_init(&s, 0), -EINVAL);
	assert_int_equal(ta_sma_init(&s, TA_MAX_PERIOD + 1), -EINVAL);
	assert_int_equal(ta_sma_init(NULL, 3), -EINVAL);
	assert_int_equal(ta_sma_init(&s, TA_MAX_PERIOD), 0);
	assert_int_equal(ta_sma_init(&s, 1), 0);
	assert_int_equal(ta_ema_init(&e, 0), -EINVAL);
	assert_int_equal(ta_ema_init(&e, 70000), -EINVAL);
	assert_int_equal(ta_ema_init(NULL, 3), -EINVAL);
	assert_int_equal(ta_rsi_init(&r, 0), -EINVAL);
	assert_int_equal(ta_rsi_init(NULL, 3), -EINVAL);
	assert_int_equal(ta_macd_init(&m, 0, 26, 9), -EINVAL);
	assert_int_equal(ta_macd_init(&m, 12, 26, 0), -EINVAL);
	assert_int_equal(ta_macd_init(&m, 26, 26, 9), -EINVAL); /* fast must be < slow */
	assert_int_equal(ta_macd_init(&m, 26, 12, 9), -EINVAL);
	assert_int_equal(ta_macd_init(NULL, 12, 26, 9), -EINVAL);
	assert_int_equal(ta_bollinger_init(&b, 0, 2.0), -EINVAL);
	assert_int_equal(ta_bollinger_init(&b, TA_MAX_PERIOD + 1, 2.0), -EINVAL);
	assert_int_equal(ta_bollinger_init(&b, 20, -1.0), -EINVAL);
	assert_int_equal(ta_bollinger_init(&b, 20, NAN), -EINVAL);
	assert_int_equal(ta_bollinger_init(&b, 20, INFINITY), -EINVAL);
	assert_int_equal(ta_vwap_init(NULL), -EINVAL);
}

/* A non-finite value is refused and leaves the indicator as it was. */
static void test_indicators_reject_nonfinite_values(void **state)
{
	struct ta_sma s;
	struct ta_ema e;
	struct ta_rsi r;
	struct ta_macd m;
	struct ta_bollinger b;
	struct ta_bollinger_value bv;
	double v;

	ta_sma_init(&s, 2);
	ta_ema_init(&e, 2);
	ta_rsi_init(&r, 1);
	ta_macd_init(&m, 1, 2, 1);
	ta_bollinger_init(&b, 2, 2.0);
	for (int i = 1; i <= 2; i++) {
		ta_sma_update(&s, i);
		ta_ema_update(&e, i);
		ta_rsi_update(&r, i);
		ta_macd_update(&m, i);
		ta_bollinger_update(&b, i);
	}
	assert_int_equal(ta_sma_update(&s, NAN), -EINVAL);
	assert_int_equal(ta_ema_update(&e, INFINITY), -EINVAL);
	assert_int_equal(ta_rsi_update(&r, -INFINITY), -EINVAL);
	assert_int_equal(ta_macd_update(&m, NAN), -EINVAL);
	assert_int_equal(ta_bollinger_update(&b, NAN), -EINVAL);
	assert_int_equal(ta_sma_get(&s, &v), 0);
	assert_true(v == 1.5);
	assert_int_equal(ta_ema_get(&e, &v), 0);
	assert_true(v == 1.5);
	assert_int_equal(ta_rsi_get(&r, &v), 0);
	assert_true(v == 100.0);
	assert_int_equal(ta_bollinger_get(&b, &bv), 0);
	assert_true(bv.middle == 1.5 && bv.sd == 0.5);
	assert_int_equal(ta_sma_update(&s, 3.5), 1); /* and it carries on */
	assert_int_equal(ta_sma_get(&s, &v), 0);
	assert_true(v == 2.75);
}

/* ---- the per-symbol state ---- */

static struct ta_bar make_bar(double close, double volume)
{
	struct ta_bar b;

	memset(&b, 0, sizeof(b));
	b.open = b.high = b.low = b.close = close;
	b.volume = volume;
	b.turnover = close * volume;
	b.trade_count = 1;
	return b;
}

static void test_state_defaults_and_warmup(void **state)
{
	struct ta_params p;
	static struct ta_symbol_state st; /* ~17 KiB: keep it off the stack */
	struct ta_bar bar;
	unsigned first[8] = {0};

	ta_params_default(&p);
	assert_int_equal(p.sma_n, 20);
	assert_int_equal(p.ema_n, 20);
	assert_int_equal(p.rsi_n, 14);
	assert_int_equal(p.macd_fast, 12);
	assert_int_equal(p.macd_slow, 26);
	assert_int_equal(p.macd_signal, 9);
	assert_int_equal(p.boll_n, 20);
	assert_true(p.boll_k == 2.0);
	assert_int_equal(ta_symbol_init(&st, NULL), 0);
	/* record the first bar (1-based) at which each bit appears */
	for (unsigned i = 1; i <= 40; i++) {
		bar = make_bar(100.0 + (i % 5), 1.0);
		int rc = ta_on_bar(&st, &bar);

		assert_true(rc >= 0);
		for (unsigned k = 1; k < 8; k++)
			if ((rc & (1 << k)) && first[k] == 0)
				first[k] = i;
	}
	assert_int_equal(first[1], 20); /* SMA(20) */
	assert_int_equal(first[2], 20); /* EMA(20) */
	assert_int_equal(first[3], 15); /* RSI(14): 15 closes */
	assert_int_equal(first[4], 26); /* MACD line: slow EMA */
	assert_int_equal(first[5], 1);  /* VWAP: first bar with volume */
	assert_int_equal(first[6], 20); /* Bollinger(20) */
	assert_int_equal(first[7], 34); /* MACD signal: 26 + 9 - 1 */
	assert_int_equal(st.bars, 40);
}

/* Small periods; checks the mask bar by bar and that ta_symbol_values()
 * agrees with each indicator's own getter. */
static void test_state_on_bar_reports_ready_bits(void **state)
{
	const struct ta_params p = {3, 3, 3, 2, 3, 2, 3, 2.0};
	const double closes[] = {10, 12, 11, 14, 13};
	const int want[] = {
	    TA_OUT_VWAP,
	    TA_OUT_VWAP,
	    TA_OUT_SMA | TA_OUT_EMA | TA_OUT_MACD | TA_OUT_VWAP | TA_OUT_BOLLINGER,
	    0x7f << 1,
	    0x7f << 1,
	};
	static struct ta_symbol_state st;
	struct ta_values vals;
	struct ta_bar bar;
	double v;

	assert_int_equal(ta_symbol_init(&st, &p), 0);
	ta_symbol_values(&st, &vals);
	assert_int_equal(vals.ready, 0);
	assert_true(isnan(vals.sma) && isnan(vals.rsi) && isnan(vals.vwap));
	assert_true(isnan(vals.macd.macd) && isnan(vals.boll.sd) && !vals.macd.signal_ready);
	for (int i = 0; i < 5; i++) {
		bar = make_bar(closes[i], 2.0);
		assert_int_equal(ta_on_bar(&st, &bar), want[i]);
	}
	ta_symbol_values(&st, &vals);
	assert_int_equal(vals.ready, 0x7f << 1);
	assert_true(vals.sma == (11.0 + 14.0 + 13.0) / 3.0);
	assert_int_equal(ta_ema_get(&st.ema, &v), 0);
	assert_true(vals.ema == v);
	assert_close(vals.rsi, 200.0 / 3.0, 0, 1e-13, "state rsi", 4);
	assert_true(vals.vwap == 12.0); /* (10+12+11+14+13)*2 / 10 */
	assert_true(vals.macd.signal_ready);
	assert_true(vals.boll.middle == vals.sma);

	/* a new session restarts only the VWAP */
	ta_symbol_reset_session(&st);
	ta_symbol_values(&st, &vals);
	assert_int_equal(vals.ready, (0x7f << 1) & ~TA_OUT_VWAP);
	bar = make_bar(20.0, 1.0);
	assert_true(ta_on_bar(&st, &bar) & TA_OUT_VWAP);
	ta_symbol_values(&st, &vals);
	assert_true(vals.vwap == 20.0);

	ta_symbol_reset(&st);
	ta_symbol_values(&st, &vals);
	assert_int_equal(vals.ready, 0);
	assert_int_equal(st.bars, 0);
}

static void test_state_rejects_bad_input(void **state)
{
	struct ta_params p;
	static struct ta_symbol_state st;
	struct ta_bar bar = make_bar(10.0, 1.0);

	assert_int_equal(ta_symbol_init(NULL, NULL), -EINVAL);
	assert_int_equal(ta_symbol_init(&st, NULL), 0);
	ta_params_default(&p);
	p.macd_fast = 30; /* >= slow */
	assert_int_equal(ta_symbol_init(&st, &p), -EINVAL);
	assert_int_equal(st.params.macd_fast, 12); /* untouched on failure */
	ta_params_default(&p);
	p.boll_k = -2.0;
	assert_int_equal(ta_symbol_init(&st, &p), -EINVAL);
	ta_params_default(&p);
	p.sma_n = 0;
	assert_int_equal(ta_symbol_init(&st, &p), -EINVAL);

	assert_int_equal(ta_on_bar(&st, NULL), -EINVAL);
	bar.close = NAN;
	assert_int_equal(ta_on_bar(&st, &bar), -EINVAL);
	bar = make_bar(10.0, -1.0);
	assert_int_equal(ta_on_bar(&st, &bar), -EINVAL);
	bar = make_bar(10.0, 1.0);
	bar.turnover = INFINITY;
	assert_int_equal(ta_on_bar(&st, &bar), -EINVAL);
	assert_int_equal(st.bars, 0);
	assert_int_equal(st.sma.count, 0);
	assert_int_equal(st.rsi.count, 0);
}

/* ---- randomized comparison against brute force ---- */

#define RAND_N 10000u

static uint64_t rng_next(uint64_t *s)
{
	/* splitmix64: deterministic, so a failure reproduces */
	uint64_t z = (*s += UINT64_C(0x9e3779b97f4a7c15));

	z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
	return z ^ (z >> 31);
}

/* A random walk from base with steps uniform in [-step, step], one in ten
 * steps exactly zero (flat stretches exercise RSI's zero changes). */
static void make_walk(double *x, size_t n, double base, double step, uint64_t seed)
{
	double p = base;

	for (size_t i = 0; i < n; i++) {
		uint64_t r = rng_next(&seed);
		double u = (double)(r >> 11) * 0x1.0p-53;

		if (r % 10 != 0)
			p += (2.0 * u - 1.0) * step;
		x[i] = p;
	}
}

enum { SMA_N = 20, EMA_N = 20, RSI_N = 14, F = 12, S = 26, G = 9, BB_N = 20 };

/* One object of each indicator, and the brute-force inputs they share. */
struct rand_set {
	struct ta_sma sma;
	struct ta_ema ema;
	struct ta_rsi rsi;
	struct ta_macd macd;
	struct ta_bollinger bb;
	double gain[RAND_N], loss[RAND_N], line[RAND_N];
	double level; /* price scale, for the MACD differences */
};

/* SMA and Bollinger at index t against their O(window) recomputation. */
static void check_windows(struct rand_set *rs, const double *x, size_t t)
{
	struct ta_bollinger_value bv;
	double v;

	if (t + 1 >= SMA_N) {
		assert_int_equal(ta_sma_get(&rs->sma, &v), 0);
		assert_close(v, brute_mean(x + t + 1 - SMA_N, SMA_N), 0, REL_TOL, "sma", t);
	}
	if (t + 1 >= BB_N) {
		const double *w = x + t + 1 - BB_N;
		double m = brute_mean(w, BB_N), sd = brute_popsd(w, BB_N);

		assert_int_equal(ta_bollinger_get(&rs->bb, &bv), 0);
		assert_close(bv.middle, m, 0, REL_TOL, "bb middle", t);
		assert_close(bv.sd, sd, 0, REL_TOL, "bb sd", t);
		assert_close(bv.upper, m + 2 * sd, 0, REL_TOL, "bb upper", t);
		assert_close(bv.lower, m - 2 * sd, 0, REL_TOL, "bb lower", t);
	}
}

/* EMA, RSI and MACD at index t against their closed forms. Scales: RSI
 * relative to max(|v|, 1); MACD outputs (differences of two EMAs) relative
 * to the price level. */
static void check_recursions(struct rand_set *rs, const double *x, size_t t)
{
	struct ta_macd_value mv;
	double v, want;

	if (t + 1 >= EMA_N) {
		assert_int_equal(ta_ema_get(&rs->ema, &v), 0);
		want = brute_smooth(x, EMA_N, t, 2.0 / (EMA_N + 1));
		assert_close(v, want, 0, REL_TOL, "ema", t);
	}
	if (t >= RSI_N) {
		double g = brute_smooth(rs->gain, RSI_N, t - 1, 1.0 / RSI_N);
		double l = brute_smooth(rs->loss, RSI_N, t - 1, 1.0 / RSI_N);

		want = g + l > 0 ? 100.0 * g / (g + l) : 50.0;
		assert_int_equal(ta_rsi_get(&rs->rsi, &v), 0);
		assert_close(v, want, 1.0, REL_TOL, "rsi", t);
	}
	if (t + 1 < S)
		return;
	rs->line[t] = brute_macd_line(x, t, F, S);
	assert_int_equal(ta_macd_get(&rs->macd, &mv), 0);
	assert_close(mv.macd, rs->line[t], rs->level, REL_TOL, "macd", t);
	assert_int_equal(mv.signal_ready, t + 1 >= S + G - 1);
	if (t + 1 >= S + G - 1) {
		want = brute_smooth(rs->line + S - 1, G, t - (S - 1), 2.0 / (G + 1));
		assert_close(mv.signal, want, rs->level, REL_TOL, "macd signal", t);
		assert_close(mv.histogram, rs->line[t] - want, rs->level, REL_TOL, "macd hist", t);
	}
}

/* Feeds x to one object of each indicator, checking the ready results and
 * every output against its O(n) recomputation after each value. */
static void check_against_bruteforce(const double *x, size_t n)
{
	static struct rand_set rs;

	assert_int_equal(ta_sma_init(&rs.sma, SMA_N), 0);
	assert_int_equal(ta_ema_init(&rs.ema, EMA_N), 0);
	assert_int_equal(ta_rsi_init(&rs.rsi, RSI_N), 0);
	assert_int_equal(ta_macd_init(&rs.macd, F, S, G), 0);
	assert_int_equal(ta_bollinger_init(&rs.bb, BB_N, 2.0), 0);
	rs.level = fabs(x[0]);
	for (size_t t = 1; t < n; t++) {
		rs.gain[t - 1] = fmax(x[t] - x[t - 1], 0.0);
		rs.loss[t - 1] = fmax(x[t - 1] - x[t], 0.0);
	}
	for (size_t t = 0; t < n; t++) {
		int mr;

		assert_int_equal(ta_sma_update(&rs.sma, x[t]), t + 1 >= SMA_N);
		assert_int_equal(ta_ema_update(&rs.ema, x[t]), t + 1 >= EMA_N);
		assert_int_equal(ta_rsi_update(&rs.rsi, x[t]), t >= RSI_N);
		assert_int_equal(ta_bollinger_update(&rs.bb, x[t]), t + 1 >= BB_N);
		mr = ta_macd_update(&rs.macd, x[t]);
		assert_int_equal(mr, (t + 1 >= S ? TA_MACD_LINE_READY : 0) |
		                         (t + 1 >= S + G - 1 ? TA_MACD_SIGNAL_READY : 0));
		check_windows(&rs, x, t);
		check_recursions(&rs, x, t);
	}
}

static void test_indicators_random_vs_bruteforce(void **state)
{
	static double x[RAND_N];

	make_walk(x, RAND_N, 100.0, 1.0, 42);
	check_against_bruteforce(x, RAND_N);
}

/* High price, small moves (a 50000 asset ticking by cents): where a naive
 * sum(x^2) - n*mean^2 variance would lose most of its digits. */
static void test_indicators_random_high_price_vs_bruteforce(void **state)
{
	static double x[RAND_N];

	make_walk(x, RAND_N, 50000.0, 0.05, 7);
	check_against_bruteforce(x, RAND_N);
}

/*
 * Quiet trading at 100 (steps of at most 1e-4) that gaps up to 200 at
 * value 3007 and has one bad print at 10000 at value 6011. The sliding
 * variance keeps sums of x - K for an anchor K last set at the window's
 * mean; once the gap or the print has left the window, K is ~50 (~500)
 * away from prices whose sd is ~1e-4, and sum(d^2) - sum(d)^2/n cancelled
 * to sds off by 2e-5 (gap) and 0.4 % (print) until the next re-anchoring,
 * up to n - 1 bars later.
 */
static void test_indicators_gap_and_bad_print_vs_bruteforce(void **state)
{
	static double x[RAND_N];

	make_walk(x, RAND_N, 100.0, 1e-4, 11);
	for (size_t i = 3007; i < RAND_N; i++)
		x[i] += 100.0;
	x[6011] = 10000.0;
	check_against_bruteforce(x, RAND_N);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_sma_hand_series),
	    cmocka_unit_test(test_sma_no_drift_after_large_value),
	    cmocka_unit_test(test_ema_seeded_hand_series),
	    cmocka_unit_test(test_rsi_hand_series_period3),
	    cmocka_unit_test(test_rsi_wilder_classic_series),
	    cmocka_unit_test(test_rsi_degenerate_windows),
	    cmocka_unit_test(test_rsi_long_flat_run_keeps_value),
	    cmocka_unit_test(test_macd_small_periods),
	    cmocka_unit_test(test_vwap_hand_series_and_reset),
	    cmocka_unit_test(test_bollinger_population_sd),
	    cmocka_unit_test(test_bollinger_flat_prices_zero_width),
	    cmocka_unit_test(test_bollinger_window_turning_flat_has_zero_width),
	    cmocka_unit_test(test_indicators_reject_invalid_params),
	    cmocka_unit_test(test_indicators_reject_nonfinite_values),
	    cmocka_unit_test(test_state_defaults_and_warmup),
	    cmocka_unit_test(test_state_on_bar_reports_ready_bits),
	    cmocka_unit_test(test_state_rejects_bad_input),
	    cmocka_unit_test(test_indicators_random_vs_bruteforce),
	    cmocka_unit_test(test_indicators_random_high_price_vs_bruteforce),
	    cmocka_unit_test(test_indicators_gap_and_bad_print_vs_bruteforce),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
