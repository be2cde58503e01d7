/*
 * tool_fmt.c - numbers as text (tool_fmt.h).
 *
 * Design: %.15g first. Up to 15 significant digits, %g rounds v and drops
 * trailing zeros, which gives the shortest decimal that reads back as v;
 * 16 and then 17 digits are tried only when 15 do not read back (17 always
 * do). Starting lower would find shorter strings only in exponent form
 * ("6e+01" for 60).
 */
#include "tool_fmt.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

const char *tool_fmt_double(double v, char *buf, size_t n)
{
	if (!buf || n == 0)
		return ""; /* (also tells GCC's -Wformat-truncation that buf is set) */
	if (isnan(v)) {
		snprintf(buf, n, "nan");
		return buf;
	}
	for (int prec = 15; prec <= 17; prec++) {
		snprintf(buf, n, "%.*g", prec, v);
		if (strtod(buf, NULL) == v)
			break;
	}
	return buf;
}
