/*
 * test_md_parse.c - number and timestamp field parsers of the collector.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <math.h>
#include <string.h>

#include "md_parse.h"
#include "md_record.h"

static int num(const char *s, double *v)
{
	return shmbus_md_parse_number(s, strlen(s), v);
}

static int ts(const char *s, enum shmbus_ts_unit u, int64_t *v)
{
	return shmbus_md_parse_time(s, strlen(s), u, v, NULL);
}

static void test_md_parse_number_good(void **state)
{
	double v;

	assert_int_equal(num("182.1000", &v), SHMBUS_MD_OK);
	assert_true(v == 182.1);
	assert_int_equal(num("0.00012345", &v), 0);
	assert_true(v == 0.00012345);
	assert_int_equal(num("-3", &v), 0);
	assert_true(v == -3.0);
	assert_int_equal(num("+.5", &v), 0);
	assert_true(v == 0.5);
	assert_int_equal(num("5.", &v), 0);
	assert_true(v == 5.0);
	assert_int_equal(num("1.5e3", &v), 0);
	assert_true(v == 1500.0);
	assert_int_equal(num("2E-2", &v), 0);
	assert_true(v == 0.02);
	/* Long forms go through strtod and still round correctly. */
	assert_int_equal(num("3.14159265358979323846264338327950288", &v), 0);
	assert_true(v == 3.14159265358979323846264338327950288);
	assert_int_equal(num("1e-300", &v), 0);
	assert_true(v == 1e-300);
	/* Not NUL-terminated: only the slice is read. */
	assert_int_equal(shmbus_md_parse_number("12.75,999", 5, &v), 0);
	assert_true(v == 12.75);
}

static void test_md_parse_number_bad(void **state)
{
	double v;

	assert_int_equal(num("", &v), SHMBUS_MD_EMPTY);
	assert_int_equal(num("abc", &v), SHMBUS_MD_BAD);
	assert_int_equal(num("-", &v), SHMBUS_MD_BAD);
	assert_int_equal(num(".", &v), SHMBUS_MD_BAD);
	assert_int_equal(num("12.5x", &v), SHMBUS_MD_TRAILING);
	assert_int_equal(num("1.2.3", &v), SHMBUS_MD_TRAILING);
	assert_int_equal(num("1e", &v), SHMBUS_MD_TRAILING);
	assert_int_equal(num("NaN", &v), SHMBUS_MD_NONFINITE);
	assert_int_equal(num("-inf", &v), SHMBUS_MD_NONFINITE);
	assert_int_equal(num("Infinity", &v), SHMBUS_MD_NONFINITE);
	assert_int_equal(num("1e999", &v), SHMBUS_MD_NONFINITE);
}

/* Longer than the 127-character copy: exact when the digits past the 19th
 * significant one are zeros, else "too long" (never "bad"). */
static void test_md_parse_number_long(void **state)
{
	char t[400];
	double v;

	t[0] = '1';
	memset(t + 1, '0', 200);
	t[201] = '\0';
	assert_int_equal(num(t, &v), SHMBUS_MD_OK);
	assert_true(v == 1e200);
	t[0] = '-';
	t[1] = '1';
	assert_int_equal(num(t, &v), SHMBUS_MD_OK);
	assert_true(v == -1e199);
	memcpy(t, "0.", 2);
	memset(t + 2, '0', 200);
	memcpy(t + 202, "15", 3);
	assert_int_equal(num(t, &v), SHMBUS_MD_OK);
	assert_true(v == 1.5e-201);
	memcpy(t, "1.5", 3);
	memset(t + 3, '0', 200);
	memcpy(t + 203, "e3", 3);
	assert_int_equal(num(t, &v), SHMBUS_MD_OK);
	assert_true(v == 1500.0);
	/* A non-zero digit far past the 19th: too long to round exactly. */
	t[0] = '1';
	memset(t + 1, '0', 150);
	memcpy(t + 151, "1", 2);
	assert_int_equal(num(t, &v), SHMBUS_MD_TOO_LONG);
	memcpy(t, "0.1", 3);
	memset(t + 3, '7', 140);
	t[143] = '\0';
	assert_int_equal(num(t, &v), SHMBUS_MD_TOO_LONG);
	/* Up to 127 characters strtod still reads any digits. */
	t[127] = '\0';
	assert_int_equal(num(t, &v), SHMBUS_MD_OK);
	assert_true(fabs(v - 0.17777777777777777) < 1e-16);
}

static void test_md_parse_time_units(void **state)
{
	int64_t v;

	assert_int_equal(ts("1381236469457000000", SHMBUS_TS_NS, &v), 0);
	assert_true(v == INT64_C(1381236469457000000));
	assert_int_equal(ts("1381236469457123", SHMBUS_TS_US, &v), 0);
	assert_true(v == INT64_C(1381236469457123000));
	assert_int_equal(ts("1381236469457.5", SHMBUS_TS_US, &v), 0);
	assert_true(v == INT64_C(1381236469457500));
	assert_int_equal(ts("1381236469457", SHMBUS_TS_MS, &v), 0);
	assert_true(v == INT64_C(1381236469457000000));
	assert_int_equal(ts("1381236469457.25", SHMBUS_TS_MS, &v), 0);
	assert_true(v == INT64_C(1381236469457250000));
	assert_int_equal(ts("1381236469", SHMBUS_TS_S, &v), 0);
	assert_true(v == INT64_C(1381236469000000000));
	assert_int_equal(ts("1381236469.123456789", SHMBUS_TS_S, &v), 0);
	assert_true(v == INT64_C(1381236469123456789));
	/* Digits past nanoseconds are truncated. */
	assert_int_equal(ts("1.0000000019", SHMBUS_TS_S, &v), 0);
	assert_true(v == INT64_C(1000000001));
	assert_int_equal(ts("0", SHMBUS_TS_S, &v), 0);
	assert_true(v == 0);
}

static void test_md_parse_time_bad(void **state)
{
	int64_t v;
	const char *why = NULL;

	assert_int_equal(ts("", SHMBUS_TS_NS, &v), SHMBUS_MD_EMPTY);
	assert_int_equal(ts("12x", SHMBUS_TS_NS, &v), SHMBUS_MD_BAD);
	assert_int_equal(shmbus_md_parse_time("1.5", 3, SHMBUS_TS_NS, &v, &why), SHMBUS_MD_BAD);
	assert_string_equal(why, "nanosecond timestamps must be integers");
	assert_int_equal(ts("-5", SHMBUS_TS_S, &v), SHMBUS_MD_RANGE);
	assert_int_equal(ts("9223372036854775808", SHMBUS_TS_NS, &v), SHMBUS_MD_RANGE);
	assert_int_equal(ts("99999999999999999999999", SHMBUS_TS_NS, &v), SHMBUS_MD_RANGE);
	assert_int_equal(ts("9300000000", SHMBUS_TS_S, &v), SHMBUS_MD_RANGE);
	assert_int_equal(ts("9223372036854775807", SHMBUS_TS_NS, &v), 0);
	assert_true(v == INT64_MAX);
}

static void test_md_parse_iso8601_forms(void **state)
{
	int64_t v;

	assert_int_equal(ts("2013-10-08T13:30:00.123456789Z", SHMBUS_TS_ISO, &v), 0);
	assert_true(v == INT64_C(1381239000123456789));
	assert_int_equal(ts("2013-10-08T13:30:00Z", SHMBUS_TS_ISO, &v), 0);
	assert_true(v == INT64_C(1381239000000000000));
	assert_int_equal(ts("2013-10-08 13:30:00", SHMBUS_TS_ISO, &v), 0);
	assert_true(v == INT64_C(1381239000000000000));
	assert_int_equal(ts("2013-10-08T15:30:00+02:00", SHMBUS_TS_ISO, &v), 0);
	assert_true(v == INT64_C(1381239000000000000));
	assert_int_equal(ts("2013-10-08T09:30:00.5-0400", SHMBUS_TS_ISO, &v), 0);
	assert_true(v == INT64_C(1381239000500000000));
	assert_int_equal(ts("2013-10-08T13:30", SHMBUS_TS_ISO, &v), 0);
	assert_true(v == INT64_C(1381239000000000000));
	assert_int_equal(ts("2000-09-27", SHMBUS_TS_ISO, &v), 0);
	assert_true(v == INT64_C(970012800000000000));
	assert_int_equal(ts("2000-02-29", SHMBUS_TS_ISO, &v), 0);
	assert_true(v == INT64_C(951782400000000000));
	assert_int_equal(ts("1970-01-01T00:00:00Z", SHMBUS_TS_ISO, &v), 0);
	assert_true(v == 0);
}

static void test_md_parse_iso8601_bad(void **state)
{
	int64_t v;
	const char *why;

	assert_int_equal(shmbus_md_parse_iso8601("2013-13-01", 10, &v, &why), SHMBUS_MD_BAD);
	assert_string_equal(why, "no such date");
	assert_int_equal(ts("2001-02-29", SHMBUS_TS_ISO, &v), SHMBUS_MD_BAD);
	assert_int_equal(ts("2013/10/08", SHMBUS_TS_ISO, &v), SHMBUS_MD_BAD);
	assert_int_equal(ts("2013-10-08T25:00:00Z", SHMBUS_TS_ISO, &v), SHMBUS_MD_BAD);
	assert_int_equal(ts("2013-10-08T13:30:00.Z", SHMBUS_TS_ISO, &v), SHMBUS_MD_BAD);
	assert_int_equal(ts("2013-10-08T13:30:00+2", SHMBUS_TS_ISO, &v), SHMBUS_MD_BAD);
	assert_int_equal(ts("2013-10-08T13:30:00+05:", SHMBUS_TS_ISO, &v), SHMBUS_MD_BAD);
	assert_int_equal(ts("2013-10-08T13:30:00+05:3", SHMBUS_TS_ISO, &v), SHMBUS_MD_BAD);
	assert_int_equal(ts("2013-10-08T13:30:00+05", SHMBUS_TS_ISO, &v), 0);
	assert_true(v == INT64_C(1381221000000000000));
	assert_int_equal(ts("2013-10-08T13:30:00Zjunk", SHMBUS_TS_ISO, &v), SHMBUS_MD_BAD);
	assert_int_equal(ts("1969-12-31", SHMBUS_TS_ISO, &v), SHMBUS_MD_RANGE);
	assert_int_equal(ts("2263-01-01", SHMBUS_TS_ISO, &v), SHMBUS_MD_RANGE);
}

static void test_md_parse_guess_unit(void **state)
{
	assert_int_equal(shmbus_md_guess_unit("1381236469457000000", 19), SHMBUS_TS_NS);
	assert_int_equal(shmbus_md_guess_unit("1381236469457000", 16), SHMBUS_TS_US);
	assert_int_equal(shmbus_md_guess_unit("1381236469457", 13), SHMBUS_TS_MS);
	assert_int_equal(shmbus_md_guess_unit("1381236469.5", 12), SHMBUS_TS_S);
	assert_int_equal(shmbus_md_guess_unit("2000-09-27", 10), SHMBUS_TS_ISO);
	assert_int_equal(shmbus_md_guess_unit("abc", 3), SHMBUS_TS_AUTO);
	assert_int_equal(shmbus_ts_unit_from_name("ms"), SHMBUS_TS_MS);
	assert_int_equal(shmbus_ts_unit_from_name("iso8601"), SHMBUS_TS_ISO);
	assert_int_equal(shmbus_md_kind_from_name("trades"), SHMBUS_MD_TRADE);
	assert_int_equal(shmbus_md_kind_from_name("quote"), SHMBUS_MD_QUOTE);
	assert_int_equal(shmbus_md_kind_from_name("bars"), -EINVAL);
	assert_int_equal(shmbus_md_kind_from_name(NULL), -EINVAL);
	assert_true(shmbus_ts_unit_from_name("hours") < 0);
	assert_string_equal(shmbus_ts_unit_name(SHMBUS_TS_US), "us");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_md_parse_number_good),
		cmocka_unit_test(test_md_parse_number_bad),
		cmocka_unit_test(test_md_parse_number_long),
		cmocka_unit_test(test_md_parse_time_units),
		cmocka_unit_test(test_md_parse_time_bad),
		cmocka_unit_test(test_md_parse_iso8601_forms),
		cmocka_unit_test(test_md_parse_iso8601_bad),
		cmocka_unit_test(test_md_parse_guess_unit),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
