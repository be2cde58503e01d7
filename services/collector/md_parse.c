/*
 * md_parse.c - number and timestamp parsers for the collector.
 *
 * Design: the CSV reader parses fields in place from a read-only mapping, so
 * nothing here may rely on a NUL terminator or read past the slice. Numbers
 * are accumulated as a 64-bit decimal mantissa and a power of ten; when the
 * mantissa fits 53 bits and the power is at most 22 both are exact doubles
 * and one IEEE multiply or divide gives the correctly rounded result (Clinger's
 * fast path), which covers every price and size of real feeds. Anything else
 * is copied to a small NUL-terminated buffer and handed to strtod. Timestamps
 * stay in integer arithmetic end to end so that nanoseconds are exact.
 */
#include "md_parse.h"
#include "md_record.h"
#include "tool_time.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MDP_MAX_NUMBER_TEXT SHMBUS_MD_NUMBER_TEXT_MAX

static const double mdp_pow10[23] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
				     1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
				     1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

static int mdp_isdigit(char c)
{
	return c >= '0' && c <= '9';
}

static int mdp_lower(char c)
{
	return (c >= 'A' && c <= 'Z') ? c + ('a' - 'A') : c;
}

/* Case-insensitive: does s[0..n) equal the lower-case word w? */
static int mdp_word_eq(const char *s, size_t n, const char *w)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (w[i] == '\0' || mdp_lower(s[i]) != w[i])
			return 0;
	return w[n] == '\0';
}

/*
 * The slow path: strtod on a NUL-terminated copy. A text longer than the
 * copy buffer is still exact when every digit past the 19 significant ones
 * the fast path kept is a zero (!@inexact): @mant * 10^@exp10 is then the
 * whole value, and its short spelling rounds exactly as the long one would.
 */
static int mdp_slow_number(const char *s, size_t n, uint64_t mant, int exp10, int inexact,
			   int neg, double *out)
{
	char buf[MDP_MAX_NUMBER_TEXT + 1];
	double v;

	if (n > MDP_MAX_NUMBER_TEXT) {
		if (inexact)
			return SHMBUS_MD_TOO_LONG;
		snprintf(buf, sizeof(buf), "%s%llue%d", neg ? "-" : "", (unsigned long long)mant,
			 exp10);
	} else {
		memcpy(buf, s, n);
		buf[n] = '\0';
	}
	errno = 0;
	v = strtod(buf, NULL);
	if (!isfinite(v))
		return SHMBUS_MD_NONFINITE;
	*out = v;
	return SHMBUS_MD_OK;
}

/* Parses the optional exponent at s[*i]; returns 0 or SHMBUS_MD_TRAILING. */
static int mdp_exponent(const char *s, size_t n, size_t *i, int *exp10)
{
	size_t j = *i + 1;
	int neg = 0, e = 0;

	if (j < n && (s[j] == '+' || s[j] == '-'))
		neg = s[j++] == '-';
	if (j >= n || !mdp_isdigit(s[j]))
		return SHMBUS_MD_TRAILING;
	for (; j < n && mdp_isdigit(s[j]); j++)
		if (e < 100000)
			e = e * 10 + (s[j] - '0');
	*exp10 += neg ? -e : e;
	*i = j;
	return 0;
}

int shmbus_md_parse_number(const char *s, size_t n, double *out)
{
	uint64_t mant = 0;
	int exp10 = 0, ndig = 0, seen = 0, inexact = 0, neg = 0;
	size_t i = 0;
	double v;

	if (n == 0)
		return SHMBUS_MD_EMPTY;
	if (s[0] == '+' || s[0] == '-')
		neg = s[i++] == '-';
	if (mdp_word_eq(s + i, n - i, "nan") || mdp_word_eq(s + i, n - i, "inf") ||
	    mdp_word_eq(s + i, n - i, "infinity"))
		return SHMBUS_MD_NONFINITE;
	for (; i < n && mdp_isdigit(s[i]); i++, seen = 1) {
		if (ndig < 19) {
			mant = mant * 10 + (uint64_t)(s[i] - '0');
			ndig += mant != 0;
		} else {
			exp10++;
			inexact |= s[i] != '0';
		}
	}
	if (i < n && s[i] == '.') {
		for (i++; i < n && mdp_isdigit(s[i]); i++, seen = 1) {
			if (ndig < 19) {
				mant = mant * 10 + (uint64_t)(s[i] - '0');
				ndig += mant != 0;
				exp10--;
			} else {
				inexact |= s[i] != '0';
			}
		}
	}
	if (!seen)
		return SHMBUS_MD_BAD;
	if (i < n && (s[i] == 'e' || s[i] == 'E') && mdp_exponent(s, n, &i, &exp10) != 0)
		return SHMBUS_MD_TRAILING;
	if (i != n)
		return SHMBUS_MD_TRAILING;
	if (inexact || mant > (UINT64_C(1) << 53) || exp10 > 22 || exp10 < -22)
		return mdp_slow_number(s, n, mant, exp10, inexact, neg, out);
	v = exp10 < 0 ? (double)mant / mdp_pow10[-exp10] : (double)mant * mdp_pow10[exp10];
	*out = neg ? -v : v;
	return SHMBUS_MD_OK;
}

int shmbus_md_parse_iso8601(const char *s, size_t n, int64_t *out_ns, const char **why)
{
	const char *dummy;
	int64_t v;

	if (!why)
		why = &dummy;
	*why = NULL;
	if (n == 0)
		return SHMBUS_MD_EMPTY;
	int rc = tool_parse_iso8601(s, n, &v, why);
	if (rc == -EINVAL)
		return SHMBUS_MD_BAD;
	if (rc < 0 || v < 0) { /* market data times are ns since 1970 */
		*why = "outside 1970-01-01 .. 2262-04-11";
		return SHMBUS_MD_RANGE;
	}
	*out_ns = v;
	return SHMBUS_MD_OK;
}

static int64_t mdp_unit_ns(enum shmbus_ts_unit unit, int *frac_digits)
{
	switch (unit) {
	case SHMBUS_TS_US:
		*frac_digits = 3;
		return 1000;
	case SHMBUS_TS_MS:
		*frac_digits = 6;
		return 1000000;
	case SHMBUS_TS_S:
		*frac_digits = 9;
		return 1000000000;
	default:
		*frac_digits = 0;
		return 1;
	}
}

/* Decimal fraction at s[*i] (after the '.') scaled to @digits digits. */
static int64_t mdp_scaled_fraction(const char *s, size_t n, size_t *i, int digits, int *seen)
{
	int64_t f = 0;
	int k = 0;

	for (; *i < n && mdp_isdigit(s[*i]); (*i)++, *seen = 1)
		if (k < digits) {
			f = f * 10 + (s[*i] - '0');
			k++;
		}
	for (; k < digits; k++)
		f *= 10;
	return f;
}

static int mdp_numeric_time(const char *s, size_t n, enum shmbus_ts_unit unit, int64_t *out_ns,
			    const char **why)
{
	int frac_digits, seen = 0, neg = 0, big = 0;
	int64_t mult = mdp_unit_ns(unit, &frac_digits), frac = 0;
	uint64_t ip = 0;
	size_t i = 0;

	if (s[0] == '-' || s[0] == '+')
		neg = s[i++] == '-';
	for (; i < n && mdp_isdigit(s[i]); i++, seen = 1) {
		if (ip > (UINT64_MAX - 9) / 10)
			big = 1;
		else
			ip = ip * 10 + (uint64_t)(s[i] - '0');
	}
	if (i < n && s[i] == '.') {
		if (frac_digits == 0) {
			*why = "nanosecond timestamps must be integers";
			return SHMBUS_MD_BAD;
		}
		i++;
		frac = mdp_scaled_fraction(s, n, &i, frac_digits, &seen);
	}
	if (!seen) {
		*why = "not a number";
		return SHMBUS_MD_BAD;
	}
	if (i != n) {
		*why = "trailing characters after the number";
		return SHMBUS_MD_BAD;
	}
	if (neg && (ip != 0 || frac != 0)) {
		*why = "before 1970-01-01";
		return SHMBUS_MD_RANGE;
	}
	if (big || ip > (uint64_t)(INT64_MAX / mult) || (int64_t)ip * mult > INT64_MAX - frac) {
		*why = "after 2262-04-11 (does not fit 64-bit nanoseconds)";
		return SHMBUS_MD_RANGE;
	}
	*out_ns = (int64_t)ip * mult + frac;
	return SHMBUS_MD_OK;
}

int shmbus_md_parse_time(const char *s, size_t n, enum shmbus_ts_unit unit, int64_t *out_ns,
			 const char **why)
{
	const char *dummy;

	if (!why)
		why = &dummy;
	*why = NULL;
	if (n == 0) {
		*why = "empty";
		return SHMBUS_MD_EMPTY;
	}
	switch (unit) {
	case SHMBUS_TS_ISO:
		return shmbus_md_parse_iso8601(s, n, out_ns, why);
	case SHMBUS_TS_NS:
	case SHMBUS_TS_US:
	case SHMBUS_TS_MS:
	case SHMBUS_TS_S:
		return mdp_numeric_time(s, n, unit, out_ns, why);
	default:
		*why = "unit not resolved";
		return SHMBUS_MD_BAD;
	}
}

enum shmbus_ts_unit shmbus_md_guess_unit(const char *s, size_t n)
{
	uint64_t ip = 0;
	size_t i = 0;

	if (n >= 10 && mdp_isdigit(s[0]) && mdp_isdigit(s[3]) && s[4] == '-')
		return SHMBUS_TS_ISO;
	if (n > 0 && s[0] == '+')
		i++;
	if (i >= n || !mdp_isdigit(s[i]))
		return SHMBUS_TS_AUTO;
	for (; i < n && mdp_isdigit(s[i]); i++)
		ip = ip < UINT64_C(1000000000000000000) ? ip * 10 + (uint64_t)(s[i] - '0') : ip;
	if (ip >= UINT64_C(100000000000000000))
		return SHMBUS_TS_NS;
	if (ip >= UINT64_C(100000000000000))
		return SHMBUS_TS_US;
	if (ip >= UINT64_C(100000000000))
		return SHMBUS_TS_MS;
	return SHMBUS_TS_S;
}

static const char *const mdp_unit_names[] = {"auto", "ns", "us", "ms", "s", "iso"};

const char *shmbus_ts_unit_name(enum shmbus_ts_unit unit)
{
	if ((unsigned)unit >= sizeof(mdp_unit_names) / sizeof(mdp_unit_names[0]))
		return "?";
	return mdp_unit_names[unit];
}

int shmbus_md_kind_from_name(const char *name)
{
	if (!name)
		return -EINVAL;
	if (strcmp(name, "trades") == 0 || strcmp(name, "trade") == 0)
		return SHMBUS_MD_TRADE;
	if (strcmp(name, "quotes") == 0 || strcmp(name, "quote") == 0)
		return SHMBUS_MD_QUOTE;
	return -EINVAL;
}

int shmbus_ts_unit_from_name(const char *name)
{
	if (!name)
		return -EINVAL;
	for (unsigned i = 0; i < sizeof(mdp_unit_names) / sizeof(mdp_unit_names[0]); i++)
		if (strcmp(name, mdp_unit_names[i]) == 0)
			return (int)i;
	if (strcmp(name, "iso8601") == 0)
		return SHMBUS_TS_ISO;
	return -EINVAL;
}
