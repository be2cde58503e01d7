/*
 * tool_time.c - ISO-8601 timestamps (tool_time.h).
 *
 * Design: a cursor over a counted string reads fixed-width digit fields;
 * the date becomes days since 1970 by H. Hinnant's days_from_civil, so no
 * timegm() normalises a bad date into a good one, and the sum into ns is
 * checked for int64 overflow on both sides of 1970.
 */
#include "tool_time.h"

#include <errno.h>

struct tt_cur {
	const char *s;
	size_t n, i;
};

static int tt_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* Exactly k digits at the cursor, or -1 (the cursor does not move then). */
static int tt_fixed(struct tt_cur *c, int k)
{
	int v = 0;

	if (c->i + (size_t)k > c->n)
		return -1;
	for (int j = 0; j < k; j++) {
		char d = c->s[c->i + (size_t)j];
		if (!tt_digit(d))
			return -1;
		v = v * 10 + (d - '0');
	}
	c->i += (size_t)k;
	return v;
}

static int tt_at(const struct tt_cur *c, char a, char b)
{
	return c->i < c->n && (c->s[c->i] == a || c->s[c->i] == b);
}

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant). */
static int64_t tt_days_from_civil(int64_t y, unsigned m, unsigned d)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	unsigned yoe = (unsigned)(y - era * 400);
	unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int64_t)doe - 719468;
}

static unsigned tt_days_in_month(unsigned y, unsigned m)
{
	static const unsigned char dim[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
	return dim[m - 1] + (m == 2 && leap);
}

/* [(.|,)digits] into ns: 0, or -1 for a separator without digits. */
static int tt_fraction(struct tt_cur *c, int64_t *ns)
{
	int64_t f = 0;
	int k = 0, any = 0;

	if (!tt_at(c, '.', ','))
		return 0;
	for (c->i++; c->i < c->n && tt_digit(c->s[c->i]); c->i++, any = 1)
		if (k < 9) {
			f = f * 10 + (c->s[c->i] - '0');
			k++;
		}
	if (!any)
		return -1;
	for (; k < 9; k++)
		f *= 10;
	*ns = f;
	return 0;
}

/* (T|t| )HH:MM[:SS[.f]] into seconds of the day and ns. */
static int tt_clock(struct tt_cur *c, int64_t *sod, int64_t *ns, const char **why)
{
	int hh, mi, ss = 0;

	c->i++; /* 'T', 't' or ' ' */
	hh = tt_fixed(c, 2);
	if (hh < 0 || !tt_at(c, ':', ':') || (c->i++, mi = tt_fixed(c, 2)) < 0) {
		*why = "expected HH:MM after the date";
		return -1;
	}
	if (tt_at(c, ':', ':')) {
		c->i++;
		if ((ss = tt_fixed(c, 2)) < 0) {
			*why = "expected two digits of seconds";
			return -1;
		}
		if (tt_fraction(c, ns) != 0) {
			*why = "expected digits after the decimal point";
			return -1;
		}
	}
	if (hh > 23 || mi > 59 || ss > 59) {
		*why = "time of day out of range";
		return -1;
	}
	*sod = hh * 3600 + mi * 60 + ss;
	return 0;
}

/* [Z|z|(+|-)HH[[:]MM]] into seconds east of UTC. */
static int tt_zone(struct tt_cur *c, int64_t *east, const char **why)
{
	int hh, mm = 0;

	if (c->i == c->n)
		return 0;
	if (tt_at(c, 'Z', 'z')) {
		c->i++;
		return 0;
	}
	if (!tt_at(c, '+', '-')) {
		*why = "expected Z or a +HH:MM offset after the time";
		return -1;
	}
	int sign = c->s[c->i++] == '-' ? -1 : 1;
	hh = tt_fixed(c, 2);
	if (tt_at(c, ':', ':')) {
		c->i++;
		mm = tt_fixed(c, 2); /* "+HH:" wants its minutes */
	} else if (c->i < c->n) {
		mm = tt_fixed(c, 2);
	}
	if (hh < 0 || hh > 23 || mm < 0 || mm > 59) {
		*why = "bad UTC offset (expected +HH, +HH:MM or +HHMM)";
		return -1;
	}
	*east = sign * (hh * 3600 + mm * 60);
	return 0;
}

int tool_parse_iso8601(const char *s, size_t n, int64_t *out_ns, const char **why)
{
	static const char *dummy;
	struct tt_cur c = {s, s ? n : 0, 0};
	int64_t sod = 0, ns = 0, east = 0, secs, v;

	if (!why)
		why = &dummy;
	*why = NULL;
	int y = tt_fixed(&c, 4);
	int m = y >= 0 && tt_at(&c, '-', '-') && (c.i++, 1) ? tt_fixed(&c, 2) : -1;
	int d = m >= 0 && tt_at(&c, '-', '-') && (c.i++, 1) ? tt_fixed(&c, 2) : -1;
	if (d < 0) {
		*why = "expected a YYYY-MM-DD date";
		return -EINVAL;
	}
	if (m < 1 || m > 12 || d < 1 || (unsigned)d > tt_days_in_month((unsigned)y, (unsigned)m)) {
		*why = "no such date";
		return -EINVAL;
	}
	if (c.i < c.n && (c.s[c.i] == 'T' || c.s[c.i] == 't' || c.s[c.i] == ' ') &&
	    tt_clock(&c, &sod, &ns, why) != 0)
		return -EINVAL;
	if (tt_zone(&c, &east, why) != 0)
		return -EINVAL;
	if (c.i != c.n) {
		*why = "trailing characters after the timestamp";
		return -EINVAL;
	}
	secs = tt_days_from_civil(y, (unsigned)m, (unsigned)d) * 86400 + sod - east;
	if (secs < 0 && ns > 0) { /* so that the last second before 1677 fits */
		secs++;
		ns -= 1000000000;
	}
	if (__builtin_mul_overflow(secs, (int64_t)1000000000, &v) ||
	    __builtin_add_overflow(v, ns, &v)) {
		*why = "outside 1677-09-21T00:12:43.145224192Z .. 2262-04-11T23:47:16.854775807Z";
		return -ERANGE;
	}
	*out_ns = v;
	return 0;
}
