/*
 * test_rules_parse.c - threshold rules parser: good rules, and bad ones with
 * the exact message, column and token each must report.
 */
#define _GNU_SOURCE /* mkdtemp */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rules.h"

static int parse(const char *line, struct shmbus_rule *r, struct shmbus_rule_error *e)
{
	memset(e, 0, sizeof(*e));
	return shmbus_rule_parse_line(line, strlen(line), 7, r, e);
}

static void test_rules_parse_level_forms(void **state)
{
	struct shmbus_rule r;
	struct shmbus_rule_error e;

	assert_int_equal(parse("rule hot: rsi14 > 70 symbols=SPY,IBM hysteresis=2.5 cooldown=5s",
			       &r, &e),
			 1);
	assert_string_equal(r.id, "hot");
	assert_int_equal(r.op, SHMBUS_RULE_GT);
	assert_int_equal(r.a.kind, SHMBUS_OPND_RSI);
	assert_int_equal(r.a.param[0], 14);
	assert_string_equal(r.a.name, "rsi14");
	assert_int_equal(r.b.kind, SHMBUS_OPND_CONST);
	assert_true(r.b.constant == 70);
	assert_int_equal(r.nsymbols, 2);
	assert_string_equal(r.symbols[0], "SPY");
	assert_string_equal(r.symbols[1], "IBM");
	assert_true(r.hysteresis == 2.5);
	assert_true(r.cooldown_ns == INT64_C(5000000000));
	assert_int_equal(r.line, 7);

	assert_int_equal(parse("rsi14<30 id=cold cooldown=250ms  # oversold", &r, &e), 1);
	assert_string_equal(r.id, "cold");
	assert_int_equal(r.op, SHMBUS_RULE_LT);
	assert_true(r.b.constant == 30);
	assert_true(r.cooldown_ns == INT64_C(250000000));
	assert_int_equal(r.nsymbols, 0);

	assert_int_equal(parse("close >= -1.5e2 cooldown=2m", &r, &e), 1);
	assert_string_equal(r.id, "line7"); /* default id */
	assert_int_equal(r.op, SHMBUS_RULE_GE);
	assert_true(r.b.constant == -150);
	assert_true(r.cooldown_ns == INT64_C(120000000000));
	assert_int_equal(parse("70 <= volume", &r, &e), 1);
	assert_int_equal(r.a.kind, SHMBUS_OPND_CONST);
	assert_string_equal(r.b.name, "volume");
}

static void test_rules_parse_cross_and_sign(void **state)
{
	struct shmbus_rule r;
	struct shmbus_rule_error e;
	unsigned kind, index;

	assert_int_equal(parse("rule x1: close crosses_above vwap", &r, &e), 1);
	assert_int_equal(r.op, SHMBUS_RULE_CROSSES_ABOVE);
	assert_string_equal(r.a.name, "close");
	assert_string_equal(r.b.name, "vwap");
	assert_int_equal(parse("rule x2: close crosses_below sma20", &r, &e), 1);
	assert_int_equal(r.op, SHMBUS_RULE_CROSSES_BELOW);
	assert_string_equal(r.b.name, "sma20");
	assert_int_equal(parse("rule m: macd_hist sign_change", &r, &e), 1);
	assert_int_equal(r.op, SHMBUS_RULE_SIGN_CHANGE);
	assert_string_equal(r.a.name, "macd_hist");
	assert_int_equal(r.a.param[0], 12);
	assert_int_equal(shmbus_rule_operand_indicator(&r.a, &kind, &index), 0);
	assert_int_equal(kind, 4 /* SHMBUS_IND_MACD */);
	assert_int_equal(index, 2);
	assert_int_equal(parse("rule m2: macd_hist(5,35,5) sign_change", &r, &e), 1);
	assert_string_equal(r.a.name, "macd_hist(5,35,5)");
	assert_int_equal(parse("rule b: close > bb_upper(20,2)", &r, &e), 1);
	assert_string_equal(r.b.name, "bb_upper"); /* defaults collapse */
	assert_int_equal(parse("rule b2: close < bb_lower(10,3)", &r, &e), 1);
	assert_string_equal(r.b.name, "bb_lower(10,3)");
	assert_int_equal(parse("ema12 crosses_above ema26", &r, &e), 1);
	assert_string_equal(r.a.name, "ema12");
	assert_int_equal(shmbus_rule_operand_indicator(&r.a, &kind, &index), 0);
	assert_int_equal(kind, 2 /* SHMBUS_IND_EMA */);
	assert_int_equal(parse("close > macd_signal", &r, &e), 1);
	assert_int_equal(shmbus_rule_operand_indicator(&r.a, &kind, &index), -ENOENT);
	/* Blank and comment lines are not rules. */
	assert_int_equal(parse("   # nothing here", &r, &e), 0);
	assert_int_equal(parse("", &r, &e), 0);
}

static void test_rules_parse_indicator_names(void **state)
{
	const uint16_t macd_def[3] = {12, 26, 9}, macd_fast[3] = {5, 35, 5}, bb[3] = {20, 2, 0};
	const uint16_t sma[3] = {20, 0, 0};
	char buf[32];

	assert_int_equal(shmbus_rule_indicator_value_name(1, sma, 0, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "sma20");
	assert_int_equal(shmbus_rule_indicator_value_name(4, macd_def, 2, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "macd_hist");
	assert_int_equal(shmbus_rule_indicator_value_name(4, macd_fast, 1, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "macd_signal(5,35,5)");
	assert_int_equal(shmbus_rule_indicator_value_name(6, bb, 1, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "bb_upper");
	assert_int_equal(shmbus_rule_indicator_value_name(1, sma, 1, buf, sizeof(buf)), -EINVAL);
	assert_int_equal(shmbus_rule_indicator_value_name(99, sma, 0, buf, sizeof(buf)), -EINVAL);
	assert_int_equal(shmbus_rule_indicator_value_name(4, macd_def, 2, buf, 4), -ENOSPC);
}

static void test_rules_parse_bad_rules(void **state)
{
	static const struct {
		const char *line;
		uint32_t column;
		const char *token;
		const char *message;
	} bad[] = {
		{"rule a: rsx14 > 70", 9, "rsx14",
		 "unknown operand 'rsx14' (expected a number or one of sma<N>, ema<N>, rsi<N>, "
		 "vwap, macd, macd_signal, macd_hist, bb_upper, bb_middle, bb_lower, close, open, "
		 "high, low, volume)"},
		{"rule a: rsi14 70", 15, "70",
		 "expected an operator (>, >=, <, <=, crosses_above, crosses_below, sign_change) "
		 "but found '70'"},
		{"rule a: rsi14 >", 16, "", "expected an operand after '>'"},
		{"rule a: rsi14 > 7o", 17, "7o", "bad number '7o'"},
		{"rule a: sma0 > 5", 9, "sma0", "period must be an integer 1..65535 in 'sma0'"},
		{"rule a: sma > 5", 9, "sma", "'sma' needs a period, e.g. sma14"},
		{"rule a: rsi14 > 70 foo=1", 20, "foo=1",
		 "unknown option 'foo' (expected symbols, hysteresis, cooldown or id)"},
		{"rule a: rsi14 > 70 hysteresis=-1", 20, "hysteresis=-1",
		 "hysteresis must be a number >= 0, got '-1'"},
		{"rule a: rsi14 > 70 cooldown=5h", 20, "cooldown=5h",
		 "bad cooldown '5h' (expected a number >= 0 followed by ms, s or m)"},
		{"rule a: rsi14 > 70 cooldown=1s cooldown=2s", 32, "cooldown=2s",
		 "rule cooldown given twice"},
		{"rule a: macd_hist sign_change 0", 31, "0",
		 "unexpected token '0' (options are key=value)"},
		{"rule a: 70 > 30", 9, "70", "rule compares two constants"},
		{"rule 1x: rsi14 > 70", 6, "1x",
		 "bad rule id '1x' (letters, digits, _ . -; starts with a letter or _; at most 31 "
		 "bytes)"},
		{"rule foo rsi14 > 70", 10, "rsi14", "expected ':' after the rule id 'foo'"},
		{"rule a: rsi14 > 70 symbols=SPY,,IBM", 20, "symbols=SPY,,IBM",
		 "empty symbol in 'symbols=SPY,,IBM'"},
		{"rule a: rsi14 > 70 symbols=SPY,ABCDEFGHIJKLMNOPQRSTUVWX", 20,
		 "symbols=SPY,ABCDEFGHIJKLMNOPQRSTUVWX",
		 "symbol 'ABCDEFGHIJKLMNOPQRSTUVWX' longer than 23 bytes"},
		{"rule a: rsi14 > 70 id=b", 20, "id=b", "rule id given twice"},
		{"rule a: close > macd(1,2)", 17, "macd(1,2)",
		 "expected (fast,slow,signal) (integers 1..65535) in 'macd(1,2)'"},
		{"rule a: close(3) > 1", 9, "close(3)", "'close' takes no parameters"},
		{"rule a:", 8, "", "expected an operand"},
		{"rule a: close", 14, "",
		 "expected an operator (>, >=, <, <=, crosses_above, crosses_below, sign_change) "
		 "after 'close'"},
		{"rule a: 5 sign_change", 9, "5", "sign_change needs a value name, not a constant"},
		/* a series against itself: never true, or always (fires once) */
		{"rule a: close > close", 17, "close",
		 "rule compares 'close' with itself: 'close > close' is never true, the rule would "
		 "never fire"},
		{"rule a: sma20 <= sma20", 18, "sma20",
		 "rule compares 'sma20' with itself: 'sma20 <= sma20' is always true, the rule "
		 "would fire once and never again"},
		{"rule a: macd_hist crosses_above macd_hist(12,26,9)", 33, "macd_hist(12,26,9)",
		 "rule compares 'macd_hist' with itself: a value never crosses itself, the rule "
		 "would never fire"},
	};
	struct shmbus_rule r;
	struct shmbus_rule_error e;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int rc = parse(bad[i].line, &r, &e);
		if (rc != -EINVAL || e.line != 7 || e.column != bad[i].column ||
		    strcmp(e.token, bad[i].token) != 0 || strcmp(e.message, bad[i].message) != 0)
			fail_msg("'%s': rc %d line %u column %u token '%s' message '%s'", bad[i].line,
				 rc, e.line, e.column, e.token, e.message);
	}
}

/* Control bytes (a NUL above all) used to ride inside tokens: "7\0junk"
 * read as 7. Each is refused at its own column; tab and CR still separate. */
static void test_rules_parse_control_bytes(void **state)
{
	static const struct {
		const char *line;
		size_t len; /* the lines hold NULs */
		uint32_t column;
		const char *message;
	} bad[] = {
#define TEXT(s) s, sizeof(s) - 1
		{TEXT("rule a: rsi14 > 7\0garbage"), 18, "control byte 0x00 in the rule (rules are text)"},
		{TEXT("rule a: rsi14 > 70 cooldown=5\0s"), 30,
		 "control byte 0x00 in the rule (rules are text)"},
		{TEXT("rule a: rsi14 > 70 symbols=SP\0Y"), 30,
		 "control byte 0x00 in the rule (rules are text)"},
		{TEXT("\0rule a: rsi14 > 70"), 1, "control byte 0x00 in the rule (rules are text)"},
		{TEXT("rule a: rsi14\x01 > 70"), 14, "control byte 0x01 in the rule (rules are text)"},
		{TEXT("rule a: rsi14 > 70 \x7f"), 20, "control byte 0x7f in the rule (rules are text)"},
	};
	static const char comment[] = "rsi14 > 70 # \x01\0";
	struct shmbus_rule r;
	struct shmbus_rule_error e;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memset(&e, 0, sizeof(e));
		int rc = shmbus_rule_parse_line(bad[i].line, bad[i].len, 7, &r, &e);
		if (rc != -EINVAL || e.line != 7 || e.column != bad[i].column ||
		    strcmp(e.message, bad[i].message) != 0)
			fail_msg("case %zu: rc %d line %u column %u message '%s'", i, rc, e.line,
				 e.column, e.message);
	}
	assert_int_equal(parse("rule a:\trsi14\t>\t70\r", &r, &e), 1);
	assert_true(r.b.constant == 70);
	/* after a comment, anything goes */
	assert_int_equal(shmbus_rule_parse_line(comment, sizeof(comment) - 1, 7, &r, &e), 1);
#undef TEXT
}

/* A rules path that is no regular file says what it is (a directory once
 * gave "Input/output error"; a device would be read without end). */
static void test_rules_parse_load_refuses_non_regular(void **state)
{
	char dir[] = "/tmp/shmbus-rulestest-XXXXXX";
	struct shmbus_ruleset rs;
	struct shmbus_rule_error e;

	assert_non_null(mkdtemp(dir));
	assert_int_equal(shmbus_rules_load(dir, &rs, &e), -EISDIR);
	assert_int_equal(e.line, 0);
	assert_non_null(strstr(e.message, dir));
	assert_non_null(strstr(e.message, "not a regular file (a directory)"));
	assert_int_equal(shmbus_rules_load("/dev/null", &rs, &e), -EINVAL);
	assert_non_null(strstr(e.message, "/dev/null: not a regular file (a character device)"));
	assert_int_equal(rmdir(dir), 0);
}

static void test_rules_parse_file(void **state)
{
	static const char text[] = "# alerts\n"
				   "rule hot: rsi14 > 70 cooldown=5s\n"
				   "\n"
				   "rule cold: rsi14 < 30\n"
				   "close crosses_above vwap symbols=SPY\n";
	static const char dup[] = "rule hot: rsi14 > 70\n"
				  "rule cold: rsi14 < 30\n"
				  "rule  hot: close > 1\n";
	static const char broken[] = "rule ok: rsi14 > 70\n"
				     "rule bad: rsi14 >> 70\n";
	static const char dup_r[] = "rule r: close > 1\n"
				    "rule r: close > 2\n";
	static const char dup_opt[] = "close > 1 id=close\n"
				      "close > 2 id=close\n";
	struct shmbus_ruleset rs;
	struct shmbus_rule_error e;

	assert_int_equal(shmbus_rules_parse(text, sizeof(text) - 1, &rs, &e), 0);
	assert_int_equal(rs.count, 3);
	assert_string_equal(rs.rules[0].id, "hot");
	assert_int_equal(rs.rules[1].line, 4);
	assert_string_equal(rs.rules[2].id, "line5");
	shmbus_rules_free(&rs);
	assert_null(rs.rules);

	assert_int_equal(shmbus_rules_parse(dup, sizeof(dup) - 1, &rs, &e), -EINVAL);
	assert_int_equal(rs.count, 0);
	assert_int_equal(e.line, 3);
	assert_int_equal(e.column, 7);
	assert_string_equal(e.token, "hot");
	assert_string_equal(e.message, "duplicate rule id 'hot' (first defined on line 1)");

	assert_int_equal(shmbus_rules_parse(broken, sizeof(broken) - 1, &rs, &e), -EINVAL);
	assert_int_equal(e.line, 2);
	assert_int_equal(e.column, 18);
	assert_string_equal(e.token, ">");

	/* the column is the id's, not the first place its text occurs */
	assert_int_equal(shmbus_rules_parse(dup_r, sizeof(dup_r) - 1, &rs, &e), -EINVAL);
	assert_int_equal(e.line, 2);
	assert_int_equal(e.column, 6);
	assert_string_equal(e.token, "r");
	assert_int_equal(shmbus_rules_parse(dup_opt, sizeof(dup_opt) - 1, &rs, &e), -EINVAL);
	assert_int_equal(e.line, 2);
	assert_int_equal(e.column, 14);
	assert_string_equal(e.token, "close");

	assert_int_equal(shmbus_rules_load("/nonexistent/rules.conf", &rs, &e), -ENOENT);
	assert_non_null(strstr(e.message, "/nonexistent/rules.conf"));
}

/* A file saved with a UTF-8 byte order mark (some Windows editors write
 * one) reads as without it: the mark was taken for part of the first word,
 * "unknown operand 'rule'" with the mark invisible in the message. Columns
 * count from after it, as an editor shows the line. */
static void test_rules_parse_utf8_bom(void **state)
{
	static const char text[] = "\xef\xbb\xbfrule hot: rsi14 > 70\n"
				   "rule cold: rsi14 < 30\n";
	static const char bad[] = "\xef\xbb\xbfrule hot: rsi14 >> 70\n";
	struct shmbus_ruleset rs;
	struct shmbus_rule_error e;
	(void)state;

	assert_int_equal(shmbus_rules_parse(text, sizeof(text) - 1, &rs, &e), 0);
	assert_int_equal(rs.count, 2);
	assert_string_equal(rs.rules[0].id, "hot");
	shmbus_rules_free(&rs);
	assert_int_equal(shmbus_rules_parse(bad, sizeof(bad) - 1, &rs, &e), -EINVAL);
	assert_int_equal(e.line, 1);
	assert_int_equal(e.column, 18);
	assert_string_equal(e.token, ">");
}

/* With a byte order mark, the rule on line 1 still has the id it spells:
 * a clash with it is a plain duplicate, not one with a default id (the
 * mark was taken for part of "rule", and line 1 for a rule without one). */
static void test_rules_parse_utf8_bom_duplicate_id(void **state)
{
	static const char dup[] = "\xef\xbb\xbfrule hot: rsi14 > 70\n"
				  "rule hot: rsi14 < 30\n";
	struct shmbus_ruleset rs;
	struct shmbus_rule_error e;
	(void)state;

	memset(&e, 0, sizeof(e));
	assert_int_equal(shmbus_rules_parse(dup, sizeof(dup) - 1, &rs, &e), -EINVAL);
	assert_int_equal(e.line, 2);
	assert_int_equal(e.column, 6);
	assert_string_equal(e.token, "hot");
	assert_string_equal(e.message, "duplicate rule id 'hot' (first defined on line 1)");
}

/* A rule without an id is named line<N>, which another rule may carry by
 * hand: the clash names both lines and says which id is the default, not
 * "duplicate rule id 'line2'" at column 0 of a line that spells no id, nor
 * "first defined on line 1" for a line that spells none either. */
static void test_rules_parse_default_id_clash(void **state)
{
	static const char named_first[] = "rule line2: rsi14 > 70\n"
					  "  close > 5\n";
	static const char default_first[] = "close > 5\n"
					    "rule cold: rsi14 < 30\n"
					    "rsi14 > 70 id=line1\n";
	static const char both_named[] = "rule line1: close > 5\n"
					 "rule line1: close < 3\n";
	struct shmbus_ruleset rs;
	struct shmbus_rule_error e;

	(void)state;
	memset(&e, 0, sizeof(e));
	assert_int_equal(shmbus_rules_parse(named_first, sizeof(named_first) - 1, &rs, &e), -EINVAL);
	assert_int_equal(e.line, 2);
	assert_int_equal(e.column, 3); /* the rule itself: it has no id to point at */
	assert_string_equal(e.token, "line2");
	assert_string_equal(e.message, "rule without an id: its default id 'line2' is already the "
				       "id of the rule on line 1 (give one of them another id)");

	memset(&e, 0, sizeof(e));
	assert_int_equal(shmbus_rules_parse(default_first, sizeof(default_first) - 1, &rs, &e),
			 -EINVAL);
	assert_int_equal(e.line, 3);
	assert_int_equal(e.column, 15);
	assert_string_equal(e.token, "line1");
	assert_string_equal(e.message, "duplicate rule id 'line1': the rule on line 1 has no id "
				       "and gets 'line1' by default (give one of them another id)");

	/* written twice by hand: a plain duplicate */
	memset(&e, 0, sizeof(e));
	assert_int_equal(shmbus_rules_parse(both_named, sizeof(both_named) - 1, &rs, &e), -EINVAL);
	assert_int_equal(e.line, 2);
	assert_int_equal(e.column, 6);
	assert_string_equal(e.message, "duplicate rule id 'line1' (first defined on line 1)");
}

/* Ids are checked through a hash index: many rules, every one kept in
 * order, and a late duplicate still names the line of the first one. */
static void test_rules_parse_many_ids(void **state)
{
	enum { N = 20000 };
	size_t cap = (size_t)N * 32 + 64, len = 0;
	char *text = malloc(cap);
	struct shmbus_ruleset rs;
	struct shmbus_rule_error e;

	(void)state;
	assert_non_null(text);
	for (unsigned i = 0; i < N; i++)
		len += (size_t)snprintf(text + len, cap - len, "rule r%u: rsi14 > 70\n", i);
	assert_int_equal(shmbus_rules_parse(text, len, &rs, &e), 0);
	assert_int_equal(rs.count, N);
	for (unsigned i = 0; i < N; i += 997) {
		char id[16];
		snprintf(id, sizeof(id), "r%u", i);
		assert_string_equal(rs.rules[i].id, id);
		assert_int_equal(rs.rules[i].line, i + 1);
	}
	shmbus_rules_free(&rs);

	len += (size_t)snprintf(text + len, cap - len, "rsi14 < 30\nrule r12345: close > 1\n");
	assert_int_equal(shmbus_rules_parse(text, len, &rs, &e), -EINVAL);
	assert_int_equal(rs.count, 0);
	assert_int_equal(e.line, N + 2);
	assert_string_equal(e.message, "duplicate rule id 'r12345' (first defined on line 12346)");
	free(text);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rules_parse_level_forms),
		cmocka_unit_test(test_rules_parse_cross_and_sign),
		cmocka_unit_test(test_rules_parse_indicator_names),
		cmocka_unit_test(test_rules_parse_bad_rules),
		cmocka_unit_test(test_rules_parse_control_bytes),
		cmocka_unit_test(test_rules_parse_load_refuses_non_regular),
		cmocka_unit_test(test_rules_parse_file),
		cmocka_unit_test(test_rules_parse_utf8_bom),
		cmocka_unit_test(test_rules_parse_utf8_bom_duplicate_id),
		cmocka_unit_test(test_rules_parse_default_id_clash),
		cmocka_unit_test(test_rules_parse_many_ids),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
