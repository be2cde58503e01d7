/*
 * test_tool_json.c - the JSON string writer of the tools and services:
 * well-formed UTF-8 passes, every other byte >= 0x80 is escaped, so the
 * output is valid JSON whatever the bytes (a path need not be UTF-8).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tool_json.h"

static char *quote(const char *s, int ascii)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *m = open_memstream(&buf, &len);

	assert_non_null(m);
	if (ascii)
		tool_json_str_ascii(m, s);
	else
		tool_json_str(m, s);
	assert_int_equal(fclose(m), 0);
	return buf;
}

/* Bytes that are not UTF-8 came out raw: a strict JSON reader refused
 * the whole document (a collector input or a pipeline run folder with
 * such a name in its stats file). */
static void test_tool_json_str_escapes_what_is_not_utf8(void **state)
{
	static const char *const cases[][2] = {
	    {"a\"b\\c\n", "\"a\\\"b\\\\c\\u000a\""},
	    {"caf\xc3\xa9", "\"caf\xc3\xa9\""},                       /* U+00E9 */
	    /* U+20AC U+1F600, then U+FFFF U+10FFFF */
	    {"\xe2\x82\xac\xf0\x9f\x98\x80", "\"\xe2\x82\xac\xf0\x9f\x98\x80\""},
	    {"\xef\xbf\xbf\xf4\x8f\xbf\xbf", "\"\xef\xbf\xbf\xf4\x8f\xbf\xbf\""},
	    {"bad\xff.csv", "\"bad\\u00ff.csv\""},
	    {"\xc3", "\"\\u00c3\""},                          /* cut at the end */
	    {"\xe2\x82x", "\"\\u00e2\\u0082x\""},             /* cut before 'x' */
	    {"\xc0\xaf", "\"\\u00c0\\u00af\""},               /* overlong '/' */
	    {"\xe0\x80\xaf", "\"\\u00e0\\u0080\\u00af\""},    /* overlong */
	    {"\xed\xa0\x80", "\"\\u00ed\\u00a0\\u0080\""},    /* surrogate D800 */
	    {"\xf4\x90\x80\x80", "\"\\u00f4\\u0090\\u0080\\u0080\""}, /* past U+10FFFF */
	    {"\x80\xc3\xa9", "\"\\u0080\xc3\xa9\""},          /* lone continuation */
	    {"\x7f", "\"\\u007f\""},
	};
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *got = quote(cases[i][0], 0);
		if (strcmp(got, cases[i][1]) != 0)
			fail_msg("case %zu: got %s, want %s", i, got, cases[i][1]);
		free(got);
	}
	/* the ASCII form escapes UTF-8 too */
	char *got = quote("caf\xc3\xa9\xff", 1);
	assert_string_equal(got, "\"caf\\u00c3\\u00a9\\u00ff\"");
	free(got);
}

/* Names as terminal text: anything but printable ASCII is a '?', and
 * the text is cut to the buffer. */
static void test_tool_text_name_is_printable_ascii(void **state)
{
	char buf[8];
	(void)state;
	assert_string_equal(tool_text_name("a\x1b[2J", buf, sizeof(buf)), "a?[2J");
	assert_string_equal(tool_text_name("\x7f\x9b\xc3\xa9\t", buf, sizeof(buf)), "?????");
	assert_string_equal(tool_text_name("0123456789", buf, sizeof(buf)), "0123456");
	assert_string_equal(tool_text_name("", buf, 1), "");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_tool_json_str_escapes_what_is_not_utf8),
	    cmocka_unit_test(test_tool_text_name_is_printable_ascii),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
