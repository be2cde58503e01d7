/*
 * test_tool_parse.c - the strict readers of shmbus_toolcommon that every
 * tool and service takes its numbers, booleans and lists from.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <math.h>
#include <string.h>

#include <shmbus/event.h>

#include "tool_fmt.h"
#include "tool_parse.h"

static void test_tool_parse_u64(void **state)
{
	static const char *const bad[] = {"", "-1", "+1", " 1", "1 ", "0x10", "1e3",
					  "18446744073709551616", "abc", NULL};
	uint64_t v = 7;
	(void)state;
	assert_int_equal(tool_parse_u64("0", &v), 0);
	assert_int_equal(v, 0);
	assert_int_equal(tool_parse_u64("18446744073709551615", &v), 0);
	assert_true(v == UINT64_MAX);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		v = 7;
		assert_int_equal(tool_parse_u64(bad[i], &v), -EINVAL);
		assert_int_equal(v, 7); /* untouched on error */
	}
}

/* Blanks before the number were skipped (strtod does), so " 1" passed
 * where the integer readers refuse it. */
static void test_tool_parse_double(void **state)
{
	static const char *const bad[] = {"", " 1", "\t2", "\n0.5", "1 ", "abc", "nan",
					  "inf", "1e999", "1x", "0x1p3", "0X10", NULL};
	double v = 7;
	(void)state;
	assert_int_equal(tool_parse_double("0.5", &v), 0);
	assert_true(v == 0.5);
	assert_int_equal(tool_parse_double("-1e3", &v), 0);
	assert_true(v == -1000);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		v = 7;
		if (tool_parse_double(bad[i], &v) != -EINVAL)
			fail_msg("'%s' taken", bad[i] ? bad[i] : "NULL");
		assert_true(v == 7); /* untouched on error */
	}
}

/* Numbers as text: the fewest of 15..17 digits that read back exactly. */
static void test_tool_fmt_double(void **state)
{
	static const struct {
		double v;
		const char *text;
	} cases[] = {{60, "60"},          {0.1, "0.1"},   {-2.5, "-2.5"},
		     {0.1 + 0.2, "0.30000000000000004"}, {1e20, "1e+20"}, {168.43, "168.43"},
		     {1.5e-5, "1.5e-05"}, {0, "0"}};
	char buf[32];
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		assert_string_equal(tool_fmt_double(cases[i].v, buf, sizeof(buf)), cases[i].text);
	assert_string_equal(tool_fmt_double(NAN, buf, sizeof(buf)), "nan");
	assert_string_equal(tool_fmt_double(1, NULL, 0), "");
}

static void test_tool_parse_bool(void **state)
{
	(void)state;
	assert_int_equal(tool_parse_bool("ON"), 1);
	assert_int_equal(tool_parse_bool("yes"), 1);
	assert_int_equal(tool_parse_bool("1"), 1);
	assert_int_equal(tool_parse_bool("False"), 0);
	assert_int_equal(tool_parse_bool("off"), 0);
	assert_int_equal(tool_parse_bool("2"), -1);
	assert_int_equal(tool_parse_bool(""), -1);
	assert_int_equal(tool_parse_bool(NULL), -1);
}

static void test_tool_split_list(void **state)
{
	char names[3][8], why[256];
	(void)state;
	assert_int_equal(tool_split_list("a,bb,ccc", &names[0][0], 8, 3, why, sizeof(why)), 3);
	assert_string_equal(names[0], "a");
	assert_string_equal(names[1], "bb");
	assert_string_equal(names[2], "ccc");
	assert_int_equal(tool_split_list("a,b,c,d", &names[0][0], 8, 3, why, sizeof(why)), -EINVAL);
	assert_non_null(strstr(why, "more than 3 items"));
	assert_int_equal(tool_split_list("a,,b", &names[0][0], 8, 3, why, sizeof(why)), -EINVAL);
	assert_non_null(strstr(why, "bad item ''"));
	assert_int_equal(tool_split_list("a,", &names[0][0], 8, 3, why, sizeof(why)), -EINVAL);
	assert_non_null(strstr(why, "ends with a comma"));
	assert_int_equal(tool_split_list("a,12345678", &names[0][0], 8, 3, why, sizeof(why)),
			 -EINVAL);
	assert_non_null(strstr(why, "12345678"));
	assert_int_equal(tool_split_list("", &names[0][0], 8, 3, why, sizeof(why)), -EINVAL);
	assert_string_equal(why, "empty list");
	assert_int_equal(tool_split_list(NULL, &names[0][0], 8, 3, why, sizeof(why)), -EINVAL);
}

static void test_tool_parse_types(void **state)
{
	char why[256], many[1024] = "";
	uint64_t mask = 0;
	(void)state;
	assert_int_equal(tool_parse_types("trade,quote,33", &mask, why, sizeof(why)), 0);
	assert_true(mask == (SHMBUS_TYPE_BIT(SHMBUS_EV_TRADE) | SHMBUS_TYPE_BIT(SHMBUS_EV_QUOTE) |
			     SHMBUS_TYPE_BIT(33)));
	/* A set: any number of items, repeats included (70 here). */
	for (int i = 0; i < 70; i++)
		strcat(many, i ? ",trade" : "trade");
	assert_int_equal(tool_parse_types(many, &mask, why, sizeof(why)), 0);
	assert_true(mask == SHMBUS_TYPE_BIT(SHMBUS_EV_TRADE));
	assert_int_equal(tool_parse_types("trade,tick", &mask, why, sizeof(why)), -EINVAL);
	assert_non_null(strstr(why, "unknown event type 'tick'"));
	assert_int_equal(tool_parse_types("0", &mask, why, sizeof(why)), -EINVAL);
	assert_int_equal(tool_parse_types("64", &mask, why, sizeof(why)), -EINVAL);
	assert_int_equal(tool_parse_types("trade,", &mask, why, sizeof(why)), -EINVAL);
	assert_non_null(strstr(why, "ends with a comma"));
	assert_int_equal(tool_parse_types("", &mask, why, sizeof(why)), -EINVAL);
	assert_string_equal(why, "empty list");
}

/* The refused option as written: -x in a cluster was named after the
 * element before it (argv[optind - 1]): the program, or another option. */
static void test_tool_bad_option(void **state)
{
	(void)state;
	static const struct option lo[] = {{"bus", required_argument, NULL, 'b'},
	                                   {"json", no_argument, NULL, 'j'},
	                                   {NULL, 0, NULL, 0}};
	static const struct {
		const char *args[3], *want;
	} cases[] = {
	    {{"-xh"}, "-x"},           {{"list", "-xh"}, "-x"}, {{"--json", "-xh"}, "-x"},
	    {{"-x"}, "-x"},            {{"--bus"}, "--bus"},    {{"--json=1"}, "--json=1"},
	    {{"--nope"}, "--nope"},    {{"--js=1"}, "--js=1"},  {{"--bus", "b", "-bh"}, "-b"},
	};
	char buf[64];
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *argv[5] = {"tool"};
		int argc = 1, c;
		for (int k = 0; k < 3 && cases[i].args[k]; k++)
			argv[argc++] = (char *)cases[i].args[k];
		optind = 0; /* glibc: a full rescan */
		opterr = 0;
		while ((c = getopt_long(argc, argv, "h", lo, NULL)) != -1 && c != '?')
			;
		assert_int_equal(c, '?');
		tool_bad_option(argv, lo, buf, sizeof(buf));
		if (strcmp(buf, cases[i].want) != 0)
			fail_msg("case %zu (%s): got '%s', want '%s'", i, cases[i].args[0], buf,
			         cases[i].want);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_tool_parse_u64),
	    cmocka_unit_test(test_tool_parse_double),
	    cmocka_unit_test(test_tool_fmt_double),
	    cmocka_unit_test(test_tool_parse_bool),
	    cmocka_unit_test(test_tool_split_list),
	    cmocka_unit_test(test_tool_parse_types),
	    cmocka_unit_test(test_tool_bad_option),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
