/*
 * hist_output.c - text output of a histogram: HdrHistogram's .hgrm percentile
 * distribution and a one-object JSON summary.
 *
 * The .hgrm layout is the one HdrHistogram (Java) writes in
 * outputPercentileDistribution and its plotters parse: column widths
 * "%12s %14s %10s %14s" for the header, "%12.<sigfigs>f %2.12f %10d %14.2f" for
 * rows, the 100% row without the 1/(1-Percentile) column (it would be
 * infinite), and a three-line "#[...]" footer. Plotters split on whitespace and
 * parse with '.' as decimal point, so numbers are formatted under the C
 * locale for the calling thread only (uselocale), whatever the process set.
 * The library writes only to the caller's stream and reports a failed write
 * as -EIO; it never prints on its own.
 */
#include <errno.h>
#include <inttypes.h>
#include <locale.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "hist/hist_internal.h"

/* Room for any formatted number: 308 integer digits, '.', up to 12 decimals. */
#define HIST_NUM_MAX 340

/* Switches the calling thread to the C numeric locale for the duration of a write. */
struct hist_locale {
	locale_t c;
	locale_t old;
};

static void hist_locale_enter(struct hist_locale *l)
{
	l->c = newlocale(LC_NUMERIC_MASK, "C", (locale_t)0);
	l->old = l->c != (locale_t)0 ? uselocale(l->c) : (locale_t)0;
}

static void hist_locale_leave(struct hist_locale *l)
{
	if (l->c == (locale_t)0)
		return; /* could not switch: the process locale was used */
	uselocale(l->old);
	freelocale(l->c);
}

/* Add one to the decimal digit string @n of @len digits; returns the new length. */
static int hist_decimal_increment(char *n, int len)
{
	int i = len - 1;

	for (; i >= 0 && n[i] == '9'; i--)
		n[i] = '0';
	if (i >= 0) {
		n[i]++;
		return len;
	}
	memmove(n + 1, n, (size_t)len);
	n[0] = '1';
	return len + 1;
}

/*
 * Format @x with @prec decimals, right-aligned in @width, the way Java's
 * Formatter does (HdrHistogram's .hgrm comes from Java): take the shortest
 * decimal that reads back as @x, then round it half-up. printf would round the
 * exact binary value half-to-even, writing 0.999780273437 where HdrHistogram
 * writes 0.999780273438, and 403.45 for its 403.46.
 */
static void hist_fmt_fixed(char *out, int width, int prec, double x)
{
	char e[40], n[HIST_NUM_MAX];
	int nd = 0, len = 0;

	if (!isfinite(x)) {
		snprintf(out, HIST_NUM_MAX, "%*f", width, x);
		return;
	}
	for (int p = 0; p <= 17; p++) { /* "-d.ddde+XX", the fewest digits that read back as x */
		snprintf(e, sizeof(e), "%.*e", p, x);
		if (strtod(e, NULL) == x)
			break;
	}
	char digits[24];
	const char *c = e + (e[0] == '-');
	for (; *c != 'e' && *c != '\0'; c++)
		if (*c >= '0' && *c <= '9')
			digits[nd++] = *c;
	int exp10 = *c == 'e' ? atoi(c + 1) : 0; /* digits[i] weighs 10^(exp10 - i) */
	int last = exp10 + prec;                 /* index of the last digit kept */

	/* n = the digits of places max(exp10, 0) .. -prec, then the half-up carry */
	for (int i = (exp10 < 0 ? exp10 : 0); i <= last; i++)
		n[len++] = (i >= 0 && i < nd) ? digits[i] : '0';
	if (last + 1 >= 0 && last + 1 < nd && digits[last + 1] >= '5')
		len = hist_decimal_increment(n, len);
	n[len] = '\0';
	char buf[HIST_NUM_MAX];
	int pos = 0, int_digits = len - prec; /* >= 1 */
	bool zero = strspn(n, "0") >= (size_t)len;
	if (e[0] == '-' && !zero)
		buf[pos++] = '-';
	for (int i = 0; i < len; i++) {
		if (i == int_digits)
			buf[pos++] = '.';
		buf[pos++] = n[i];
	}
	buf[pos] = '\0';
	snprintf(out, HIST_NUM_MAX, "%*s", width, buf);
}

/*
 * A scale is usable when every value divided by it is a finite double: a
 * tiny one (1e-307) overflowed to inf, which is neither a JSON number nor a
 * value a .hgrm plotter parses. Every value written (percentiles, min, max,
 * mean, stddev) is at most INT64_MAX, so that bound decides for all.
 */
static bool hist_scale_ok(double value_scale)
{
	return isfinite(value_scale) && value_scale > 0.0 &&
	       isfinite((double)INT64_MAX / value_scale);
}

static int hist_hgrm_rows(const struct shmbus_hist *h, FILE *f, int ticks, double scale)
{
	struct shmbus_hist_pct_iter it;
	struct shmbus_hist_pct_step s;
	int d = h->sigfigs;

	if (shmbus_hist_pct_iter_init(&it, h, ticks) != 0)
		return -EINVAL;
	while (shmbus_hist_pct_iter_next(&it, &s)) {
		char v[HIST_NUM_MAX], q[HIST_NUM_MAX], inv[HIST_NUM_MAX];
		double frac = s.percentile / 100.0;
		int rc;
		hist_fmt_fixed(v, 12, d, (double)s.value / scale);
		hist_fmt_fixed(q, 2, 12, frac);
		if (s.percentile != 100.0) {
			hist_fmt_fixed(inv, 14, 2, 1.0 / (1.0 - frac));
			rc = fprintf(f, "%s %s %10" PRId64 " %s\n", v, q, s.cumulative, inv);
		} else {
			rc = fprintf(f, "%s %s %10" PRId64 "\n", v, q, s.cumulative);
		}
		if (rc < 0)
			return -EIO;
	}
	return 0;
}

static int hist_hgrm_footer(const struct shmbus_hist *h, FILE *f, double scale)
{
	char mean[HIST_NUM_MAX], sd[HIST_NUM_MAX], max[HIST_NUM_MAX];

	hist_fmt_fixed(mean, 12, h->sigfigs, shmbus_hist_mean(h) / scale);
	hist_fmt_fixed(sd, 12, h->sigfigs, shmbus_hist_stddev(h) / scale);
	hist_fmt_fixed(max, 12, h->sigfigs, (double)shmbus_hist_max(h) / scale);
	if (fprintf(f, "#[Mean    = %s, StdDeviation   = %s]\n", mean, sd) < 0 ||
	    fprintf(f, "#[Max     = %s, Total count    = %12" PRId64 "]\n", max, h->total) < 0 ||
	    fprintf(f, "#[Buckets = %12d, SubBuckets     = %12d]\n", (int)h->bucket_count,
	            (int)h->sub_count) < 0)
		return -EIO;
	return 0;
}

int shmbus_hist_write_hgrm(const struct shmbus_hist *h, FILE *f, int ticks_per_half_distance,
                           double value_scale)
{
	struct hist_locale loc;
	int rc;

	if (h == NULL || f == NULL || ticks_per_half_distance < 1 || !hist_scale_ok(value_scale))
		return -EINVAL;
	hist_locale_enter(&loc);
	rc = 0;
	if (fprintf(f, "%12s %14s %10s %14s\n\n", "Value", "Percentile", "TotalCount",
	            "1/(1-Percentile)") < 0)
		rc = -EIO;
	if (rc == 0)
		rc = hist_hgrm_rows(h, f, ticks_per_half_distance, value_scale);
	if (rc == 0)
		rc = hist_hgrm_footer(h, f, value_scale);
	if (rc == 0 && fflush(f) != 0)
		rc = -EIO;
	hist_locale_leave(&loc);
	return rc;
}

/* One "key":value member; integers when unscaled, 3 decimals otherwise. */
static int hist_json_value(FILE *f, const char *key, int64_t v, double scale, bool last)
{
	const char *sep = last ? "" : ",";

	if (scale == 1.0)
		return fprintf(f, "\"%s\":%" PRId64 "%s", key, v, sep);
	return fprintf(f, "\"%s\":%.3f%s", key, (double)v / scale, sep);
}

int shmbus_hist_write_json_summary(const struct shmbus_hist *h, FILE *f, double value_scale)
{
	static const struct {
		const char *key;
		double p;
	} pcts[] = {{"p50_ns", 50.0},
	            {"p90_ns", 90.0},
	            {"p99_ns", 99.0},
	            {"p999_ns", 99.9},
	            {"p9999_ns", 99.99}};
	struct hist_locale loc;
	bool bad = false;

	if (h == NULL || f == NULL || !hist_scale_ok(value_scale))
		return -EINVAL;
	hist_locale_enter(&loc);
	bad |= fprintf(f, "{\"count\":%" PRId64 ",", h->total) < 0;
	bad |= hist_json_value(f, "min_ns", shmbus_hist_min(h), value_scale, false) < 0;
	bad |= fprintf(f, "\"mean_ns\":%.3f,\"stddev_ns\":%.3f,", shmbus_hist_mean(h) / value_scale,
	               shmbus_hist_stddev(h) / value_scale) < 0;
	for (size_t i = 0; i < sizeof(pcts) / sizeof(pcts[0]); i++) {
		int64_t v = shmbus_hist_value_at_percentile(h, pcts[i].p);
		bad |= hist_json_value(f, pcts[i].key, v, value_scale, false) < 0;
	}
	bad |= hist_json_value(f, "max_ns", shmbus_hist_max(h), value_scale, true) < 0;
	bad |= fputc('}', f) == EOF;
	bad |= fflush(f) != 0;
	hist_locale_leave(&loc);
	return bad ? -EIO : 0;
}
