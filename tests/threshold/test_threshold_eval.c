/*
 * test_threshold_eval.c - threshold evaluator: level rules with hysteresis,
 * crossings both ways, sign changes, cooldown, symbol filters, identities.
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

#include "threshold_eval.h"

#define SEC INT64_C(1000000000)

struct fixture {
	struct shmbus_ruleset rs;
	struct shmbus_thr_eval *e;
	struct shmbus_thr_fire f[8];
	uint64_t seq;
};

static void load(struct fixture *x, const char *rules)
{
	struct shmbus_rule_error err;

	memset(x, 0, sizeof(*x));
	if (shmbus_rules_parse(rules, strlen(rules), &x->rs, &err) != 0)
		fail_msg("rules: line %u: %s", err.line, err.message);
	assert_int_equal(shmbus_thr_create(&x->e, &x->rs), 0);
	shmbus_rules_free(&x->rs); /* the evaluator keeps its own copy */
}

static void unload(struct fixture *x)
{
	shmbus_thr_destroy(x->e);
}

/* Feeds one value for @sym at time @t (seconds); returns the firing count. */
static int feed(struct fixture *x, const char *sym, const char *name, double v, int64_t t)
{
	struct shmbus_thr_trigger trig = {.source = 9, .seq = ++x->seq, .time_ns = t * SEC};
	const char *names[1] = {name};

	return shmbus_thr_update_named(x->e, sym, strlen(sym), names, &v, 1, &trig, x->f, 8);
}

static int feed2(struct fixture *x, const char *n1, double v1, const char *n2, double v2)
{
	struct shmbus_thr_trigger trig = {.source = 9, .seq = ++x->seq, .time_ns = 0};
	const char *names[2] = {n1, n2};
	double v[2] = {v1, v2};

	return shmbus_thr_update_named(x->e, "SPY", 3, names, v, 2, &trig, x->f, 8);
}

static void test_threshold_eval_level_hysteresis(void **state)
{
	struct fixture x;

	load(&x, "rule hot: rsi14 > 70 hysteresis=5\nrule cold: rsi14 < 30\n");
	assert_int_equal(feed(&x, "SPY", "rsi14", 65, 0), 0);
	assert_int_equal(feed(&x, "SPY", "rsi14", 71, 1), 1);
	assert_int_equal(x.f[0].rule_index, 0);
	assert_string_equal(x.f[0].rule_id, "hot");
	assert_int_equal(x.f[0].direction, SHMBUS_LEVEL_ENTER);
	assert_int_equal(x.f[0].op, SHMBUS_RULE_GT);
	assert_true(x.f[0].value == 71 && x.f[0].threshold == 70);
	assert_int_equal(x.f[0].trigger.source, 9);
	assert_int_equal(x.f[0].trigger.seq, 2);
	assert_true(x.f[0].trigger.time_ns == 1 * SEC);
	assert_int_equal(x.f[0].symbol_len, 3);
	assert_memory_equal(x.f[0].symbol, "SPY", 3);
	assert_int_equal(feed(&x, "SPY", "rsi14", 72, 2), 0);  /* still inside */
	assert_int_equal(feed(&x, "SPY", "rsi14", 68, 3), 0);  /* left, inside the band */
	assert_int_equal(feed(&x, "SPY", "rsi14", 71, 4), 0);  /* not re-armed yet */
	assert_int_equal(feed(&x, "SPY", "rsi14", 64.9, 5), 0); /* re-arms below 65 */
	assert_int_equal(feed(&x, "SPY", "rsi14", 70.5, 6), 1);
	assert_string_equal(x.f[0].rule_id, "hot");
	/* A level rule is armed from the start: the first value inside fires. */
	assert_int_equal(feed(&x, "IBM", "rsi14", 25, 7), 1);
	assert_string_equal(x.f[0].rule_id, "cold");
	assert_int_equal(x.f[0].rule_index, 1);
	assert_int_equal(feed(&x, "IBM", "rsi14", 20, 8), 0);
	assert_int_equal(feed(&x, "IBM", "rsi14", 30, 9), 0); /* re-arms at >= 30 (h = 0) */
	assert_int_equal(feed(&x, "IBM", "rsi14", 29, 10), 1);
	unload(&x);
}

static void test_threshold_eval_crossings(void **state)
{
	struct fixture x;

	load(&x, "rule up: close crosses_above vwap\nrule down: close crosses_below vwap\n"
		 "rule band: close crosses_above 100 hysteresis=0.5\n");
	assert_int_equal(feed2(&x, "close", 10, "vwap", 11), 0); /* first: sets the side */
	assert_int_equal(feed2(&x, "close", 12, "vwap", 11), 1);
	assert_string_equal(x.f[0].rule_id, "up");
	assert_int_equal(x.f[0].direction, SHMBUS_CROSS_ABOVE);
	assert_true(x.f[0].value == 12 && x.f[0].threshold == 11);
	assert_int_equal(feed2(&x, "close", 13, "vwap", 11), 0);
	assert_int_equal(feed2(&x, "close", 11, "vwap", 11), 0); /* touching is no cross */
	assert_int_equal(feed2(&x, "close", 10.5, "vwap", 11), 1);
	assert_string_equal(x.f[0].rule_id, "down");
	assert_int_equal(x.f[0].direction, SHMBUS_CROSS_BELOW);
	/* vwap alone moving across close is a crossing too. */
	assert_int_equal(feed(&x, "SPY", "vwap", 10, 0), 1);
	assert_string_equal(x.f[0].rule_id, "up");

	/* Dead band: 99.6..100.4 changes nothing. */
	assert_int_equal(feed(&x, "IBM", "close", 99, 0), 0);
	assert_int_equal(feed(&x, "IBM", "close", 100.4, 1), 0);
	assert_int_equal(feed(&x, "IBM", "close", 100.6, 2), 1);
	assert_string_equal(x.f[0].rule_id, "band");
	assert_int_equal(feed(&x, "IBM", "close", 99.7, 3), 0);
	assert_int_equal(feed(&x, "IBM", "close", 100.6, 4), 0); /* never went below the band */
	unload(&x);
}

static void test_threshold_eval_sign_change(void **state)
{
	struct fixture x;

	load(&x, "rule m: macd_hist sign_change\n");
	assert_int_equal(feed(&x, "SPY", "macd_hist", -1, 0), 0);
	assert_int_equal(feed(&x, "SPY", "macd_hist", -0.5, 1), 0);
	assert_int_equal(feed(&x, "SPY", "macd_hist", 0, 2), 0);
	assert_int_equal(feed(&x, "SPY", "macd_hist", 0.2, 3), 1);
	assert_int_equal(x.f[0].direction, SHMBUS_SIGN_CHANGE);
	assert_int_equal(x.f[0].sign, 1);
	assert_true(x.f[0].value == 0.2 && x.f[0].threshold == 0);
	assert_int_equal(feed(&x, "SPY", "macd_hist", 0.3, 4), 0);
	assert_int_equal(feed(&x, "SPY", "macd_hist", -0.1, 5), 1);
	assert_int_equal(x.f[0].sign, -1);
	/* NaN (indicator not ready) clears the value: nothing is evaluated. */
	assert_int_equal(feed(&x, "SPY", "macd_hist", NAN, 6), 0);
	assert_int_equal(feed(&x, "SPY", "macd_hist", 0.4, 7), 1);
	unload(&x);
}

static void test_threshold_eval_cooldown(void **state)
{
	struct fixture x;
	struct shmbus_thr_stats st;

	load(&x, "rule c: close > 100 cooldown=5s\n");
	assert_int_equal(feed(&x, "SPY", "close", 101, 0), 1);
	assert_int_equal(feed(&x, "SPY", "close", 99, 1), 0);
	assert_int_equal(feed(&x, "SPY", "close", 101, 2), 0); /* within 5 s: suppressed */
	assert_int_equal(feed(&x, "SPY", "close", 99, 3), 0);
	assert_int_equal(feed(&x, "SPY", "close", 101, 4), 0); /* still within */
	assert_int_equal(feed(&x, "SPY", "close", 99, 5), 0);
	assert_int_equal(feed(&x, "SPY", "close", 101, 5), 1); /* exactly 5 s later */
	assert_true(x.f[0].trigger.time_ns == 5 * SEC);
	/* Cooldowns are per symbol. */
	assert_int_equal(feed(&x, "IBM", "close", 101, 5), 1);
	shmbus_thr_get_stats(x.e, &st);
	assert_int_equal(st.suppressed, 2);
	assert_int_equal(st.fired, 3);
	assert_int_equal(st.symbols, 2);
	unload(&x);
}

/*
 * A cooldown is the window [last firing, last firing + cooldown) of event
 * time. Event time that goes back (a journal replayed into a running
 * service) is not in it: without a cooldown nothing is ever suppressed.
 * The evaluator suppressed every firing earlier than the last reported
 * one, cooldown 0 included, and the distance of far-apart times overflowed.
 */
static void test_threshold_eval_cooldown_time_back(void **state)
{
	struct fixture x;
	struct shmbus_thr_stats st;

	(void)state;
	load(&x, "rule none: close > 100\nrule c: close < 50 cooldown=5s\n");
	assert_int_equal(feed(&x, "SPY", "close", 101, 100), 1);
	assert_int_equal(feed(&x, "SPY", "close", 99, 10), 0); /* a replay from earlier */
	assert_int_equal(feed(&x, "SPY", "close", 101, 11), 1);
	assert_string_equal(x.f[0].rule_id, "none");
	assert_true(x.f[0].trigger.time_ns == 11 * SEC);
	assert_int_equal(feed(&x, "SPY", "close", 49, 200), 1);
	assert_int_equal(feed(&x, "SPY", "close", 60, 20), 0);
	assert_int_equal(feed(&x, "SPY", "close", 49, 21), 1); /* before the window */
	assert_string_equal(x.f[0].rule_id, "c");
	assert_int_equal(feed(&x, "SPY", "close", 60, 22), 0);
	assert_int_equal(feed(&x, "SPY", "close", 49, 25), 0); /* 4 s after 21: inside */
	shmbus_thr_get_stats(x.e, &st);
	assert_int_equal(st.suppressed, 1);
	/* times 18e18 ns apart: far out of any cooldown */
	struct shmbus_thr_trigger trig = {.source = 9, .seq = 1, .time_ns = -9 * SEC * SEC};
	struct shmbus_thr_input in = {shmbus_thr_value_id(x.e, "close"), 49};
	assert_int_equal(shmbus_thr_update(x.e, "IBM", 3, &in, 1, &trig, x.f, 8), 1);
	in.value = 60;
	assert_int_equal(shmbus_thr_update(x.e, "IBM", 3, &in, 1, &trig, x.f, 8), 0);
	in.value = 49;
	trig.time_ns = 9 * SEC * SEC;
	assert_int_equal(shmbus_thr_update(x.e, "IBM", 3, &in, 1, &trig, x.f, 8), 1);
	unload(&x);
}

static void test_threshold_eval_symbol_filter(void **state)
{
	struct fixture x;

	load(&x, "rule s: close > 100 symbols=SPY,QQQ\nrule all: close > 200\n");
	assert_int_equal(feed(&x, "IBM", "close", 150, 0), 0);
	assert_int_equal(feed(&x, "SPY", "close", 150, 0), 1);
	assert_string_equal(x.f[0].rule_id, "s");
	assert_memory_equal(x.f[0].symbol, "SPY", 3);
	assert_int_equal(feed(&x, "IBM", "close", 250, 1), 1);
	assert_string_equal(x.f[0].rule_id, "all");
	assert_int_equal(feed(&x, "QQQ", "close", 250, 1), 2); /* both, in rule order */
	assert_string_equal(x.f[0].rule_id, "s");
	assert_string_equal(x.f[1].rule_id, "all");
	unload(&x);
}

/* Apply one value for @sym without evaluating (an event with MORE). */
static void apply1(struct fixture *x, const char *sym, const char *name, double v)
{
	struct shmbus_thr_input in = {shmbus_thr_value_id(x->e, name), v};
	assert_true(in.value_id >= 0);
	assert_int_equal(shmbus_thr_apply(x->e, sym, strlen(sym), &in, 1), 0);
}

/* The last event of a group, carrying nothing the rules read. */
static int close_group(struct fixture *x, const char *sym)
{
	struct shmbus_thr_trigger trig = {.source = 9, .seq = ++x->seq, .time_ns = 0};
	return shmbus_thr_update(x->e, sym, strlen(sym), NULL, 0, &trig, x->f, 8);
}

/*
 * A bar's values arrive in several events (the bar, then one per
 * indicator): applied without evaluation until the group's last one, the
 * rules compare values of one bar only. Evaluated per event, `close >
 * bb_upper` compared the new close with the last bar's band.
 */
static void test_threshold_eval_groups(void **state)
{
	struct fixture x;

	(void)state;
	load(&x, "rule above: close > bb_upper\nrule cross: ema20 crosses_above sma20\n");
	/* bar 1: close 10, band 11 */
	apply1(&x, "SPY", "close", 10);
	assert_int_equal(feed(&x, "SPY", "bb_upper", 11, 1), 0);
	/* bar 2: close 11.5, band 12 */
	apply1(&x, "SPY", "close", 11.5); /* above bar 1's band, not bar 2's */
	assert_int_equal(feed(&x, "SPY", "bb_upper", 12, 2), 0);
	/* bar 3: close 13 above its own band 12.5: fires once, at the last event */
	apply1(&x, "SPY", "close", 13);
	apply1(&x, "IBM", "close", 99); /* another symbol's group meanwhile */
	assert_int_equal(feed(&x, "SPY", "bb_upper", 12.5, 3), 1);
	assert_string_equal(x.f[0].rule_id, "above");
	assert_true(x.f[0].value == 13 && x.f[0].threshold == 12.5);
	assert_int_equal(x.f[0].trigger.seq, x.seq);
	/* IBM's pending close is evaluated at IBM's own last event, even one
	 * that carries nothing a rule reads */
	apply1(&x, "IBM", "bb_upper", 50);
	assert_int_equal(close_group(&x, "IBM"), 1);
	assert_memory_equal(x.f[0].symbol, "IBM", 3);
	assert_true(x.f[0].value == 99 && x.f[0].threshold == 50);
	/* crossing: ema and sma of the same bar; ema 1 < sma 2, then 3 > 2.5 */
	apply1(&x, "SPY", "ema20", 1);
	apply1(&x, "SPY", "sma20", 2);
	assert_int_equal(close_group(&x, "SPY"), 0);
	apply1(&x, "SPY", "ema20", 3); /* above the last bar's sma 2 ... */
	apply1(&x, "SPY", "sma20", 3.5); /* ... but below this bar's */
	assert_int_equal(close_group(&x, "SPY"), 0);
	apply1(&x, "SPY", "ema20", 4);
	apply1(&x, "SPY", "sma20", 3.6);
	assert_int_equal(close_group(&x, "SPY"), 1);
	assert_string_equal(x.f[0].rule_id, "cross");
	/* bad input */
	struct shmbus_thr_input bad = {1000, 1};
	assert_int_equal(shmbus_thr_apply(x.e, "SPY", 3, &bad, 1), -EINVAL);
	assert_int_equal(shmbus_thr_apply(x.e, NULL, 3, NULL, 0), -EINVAL);
	assert_int_equal(shmbus_thr_apply(x.e, "SPY", 0, NULL, 0), -EINVAL);
	unload(&x);
}

static void test_threshold_eval_api_edges(void **state)
{
	struct fixture x;
	struct shmbus_thr_trigger trig = {1, 1, 0};
	struct shmbus_thr_input in = {.value_id = 0, .value = 150};
	struct shmbus_thr_input bad = {.value_id = 5, .value = 1};
	struct shmbus_thr_stats st;
	struct shmbus_ruleset empty = {0};
	struct shmbus_thr_eval *e;
	char sym[8];

	load(&x, "rule a: close > 100\nrule b: close > 120\nrule c: sma20 < close\n");
	assert_int_equal(shmbus_thr_value_count(x.e), 2);
	assert_int_equal(shmbus_thr_value_id(x.e, "close"), 0);
	assert_int_equal(shmbus_thr_value_id(x.e, "sma20"), 1);
	assert_int_equal(shmbus_thr_value_id(x.e, "rsi14"), -ENOENT);
	assert_string_equal(shmbus_thr_value_name(x.e, 1), "sma20");
	assert_int_equal(shmbus_thr_rule_count(x.e), 3);
	assert_int_equal(shmbus_thr_update(x.e, "SPY", 3, &bad, 1, &trig, x.f, 8), -EINVAL);
	assert_int_equal(shmbus_thr_update(x.e, "", 0, &in, 1, &trig, x.f, 8), -EINVAL);
	assert_int_equal(shmbus_thr_update(x.e, "ABCDEFGHIJKLMNOPQRSTUVWX", 24, &in, 1, &trig, x.f,
					   8),
			 -EINVAL);
	/* Two rules fire but room for one: the other is counted as lost. */
	assert_int_equal(shmbus_thr_update(x.e, "SPY", 3, &in, 1, &trig, x.f, 1), 1);
	shmbus_thr_get_stats(x.e, &st);
	assert_int_equal(st.lost, 1);
	/* Many symbols: the table grows and keeps each one's state. */
	for (int i = 0; i < 500; i++) {
		snprintf(sym, sizeof(sym), "S%d", i);
		assert_int_equal(shmbus_thr_update(x.e, sym, strlen(sym), &in, 1, &trig, x.f, 8), 2);
	}
	for (int i = 0; i < 500; i++) {
		snprintf(sym, sizeof(sym), "S%d", i);
		assert_int_equal(shmbus_thr_update(x.e, sym, strlen(sym), &in, 1, &trig, x.f, 8), 0);
	}
	shmbus_thr_get_stats(x.e, &st);
	assert_int_equal(st.symbols, 501);
	assert_int_equal(shmbus_thr_create(&e, &empty), -EINVAL);
	unload(&x);
}

/*
 * A bus symbol has up to SHMBUS_SYMBOL_MAX (23) bytes ("BTC-USDT-SWAP-250328"):
 * rules apply to every one, and symbols= can name it. The evaluator took 15
 * bytes at most, so shmbus-threshold never alerted on a longer symbol.
 */
static void test_threshold_eval_long_symbols(void **state)
{
	struct fixture x;
	const char *sym = "BTC-USDT-SWAP-250328.XYZ"; /* first 23 bytes: the symbol */

	(void)state;
	load(&x, "rule one: close > 100 symbols=SPY,BTC-USDT-SWAP-250328.XY\n"
		 "rule all: close > 100\n");
	struct shmbus_thr_trigger trig = {.source = 9, .seq = 1, .time_ns = 0};
	struct shmbus_thr_input in = {shmbus_thr_value_id(x.e, "close"), 101};
	assert_int_equal(shmbus_thr_update(x.e, sym, 23, &in, 1, &trig, x.f, 8), 2);
	assert_string_equal(x.f[0].rule_id, "one");
	assert_string_equal(x.f[1].rule_id, "all");
	assert_int_equal(x.f[1].symbol_len, 23);
	assert_memory_equal(x.f[1].symbol, sym, 23);
	/* one byte shorter: another symbol, which rule one does not name */
	assert_int_equal(shmbus_thr_update(x.e, sym, 22, &in, 1, &trig, x.f, 8), 1);
	assert_string_equal(x.f[0].rule_id, "all");
	/* longer than any bus symbol */
	assert_int_equal(shmbus_thr_update(x.e, sym, 24, &in, 1, &trig, x.f, 8), -EINVAL);
	unload(&x);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_threshold_eval_level_hysteresis),
		cmocka_unit_test(test_threshold_eval_crossings),
		cmocka_unit_test(test_threshold_eval_sign_change),
		cmocka_unit_test(test_threshold_eval_cooldown),
		cmocka_unit_test(test_threshold_eval_cooldown_time_back),
		cmocka_unit_test(test_threshold_eval_symbol_filter),
		cmocka_unit_test(test_threshold_eval_groups),
		cmocka_unit_test(test_threshold_eval_api_edges),
		cmocka_unit_test(test_threshold_eval_long_symbols),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
