/*
 * test_threshold_inputs.c - bar and indicator events to evaluator
 * updates (threshold_inputs.h): only the series some rule reads, with the
 * evaluator's ids and the event's values; indicator outputs named by kind
 * and parameters, looked up once and cached; anything else refused.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "threshold_inputs.h"

static const char rules[] = "rule a: close > 10\n"
			    "rule b: volume > 5\n"
			    "rule c: macd_hist sign_change\n"
			    "rule d: bb_upper < close\n";

struct fixture {
	struct shmbus_ruleset rs;
	struct shmbus_thr_eval *ev;
	struct shmbus_thr_inputs m;
};

static void load(struct fixture *x)
{
	struct shmbus_rule_error err;
	memset(&err, 0, sizeof err);
	assert_int_equal(shmbus_rules_parse(rules, strlen(rules), &x->rs, &err), 0);
	assert_int_equal(shmbus_thr_create(&x->ev, &x->rs), 0);
	shmbus_thr_inputs_init(&x->m, x->ev);
}

static void unload(struct fixture *x)
{
	shmbus_thr_destroy(x->ev);
	shmbus_rules_free(&x->rs);
}

static struct shmbus_indicator indicator(uint16_t kind, uint16_t p0, uint16_t p1, uint16_t p2)
{
	struct shmbus_indicator e;
	memset(&e, 0, sizeof e);
	e.h.type = SHMBUS_EV_INDICATOR;
	e.h.size = sizeof e;
	e.kind = kind;
	e.param[0] = p0;
	e.param[1] = p1;
	e.param[2] = p2;
	e.value[0] = 1.5;
	e.value[1] = 2.5;
	e.value[2] = 3.5;
	e.origin_ns = 777;
	return e;
}

/* A bar gives close and volume (read by rules), not open/high/low. */
static void test_inputs_bar(void **state)
{
	(void)state;
	struct fixture x;
	load(&x);
	struct shmbus_bar b;
	memset(&b, 0, sizeof b);
	b.h.type = SHMBUS_EV_BAR;
	b.h.size = sizeof b;
	b.open = 1;
	b.high = 2;
	b.low = 0.5;
	b.close = 11;
	b.volume = 42;
	b.origin_ns = 123;
	struct shmbus_thr_input in[SHMBUS_THR_INPUTS_MAX];
	int64_t origin = 0;
	assert_int_equal(shmbus_thr_inputs_of(&x.m, &b.h, in, &origin), 2);
	assert_int_equal(origin, 123);
	assert_int_equal(in[0].value_id, shmbus_thr_value_id(x.ev, "close"));
	assert_true(in[0].value == 11);
	assert_int_equal(in[1].value_id, shmbus_thr_value_id(x.ev, "volume"));
	assert_true(in[1].value == 42);
	/* a truncated bar is refused */
	b.h.size = sizeof b - 8;
	assert_int_equal(shmbus_thr_inputs_of(&x.m, &b.h, in, &origin), -1);
	unload(&x);
}

/* MACD (12,26,9) gives its histogram only; Bollinger its upper band only;
 * an SMA nobody reads gives nothing; each set is cached once. */
static void test_inputs_indicators(void **state)
{
	(void)state;
	struct fixture x;
	load(&x);
	struct shmbus_thr_input in[SHMBUS_THR_INPUTS_MAX];
	int64_t origin = 0;
	struct shmbus_indicator macd = indicator(SHMBUS_IND_MACD, 12, 26, 9);
	assert_int_equal(shmbus_thr_inputs_of(&x.m, &macd.h, in, &origin), 1);
	assert_int_equal(in[0].value_id, shmbus_thr_value_id(x.ev, "macd_hist"));
	assert_true(in[0].value == 3.5);
	assert_int_equal(origin, 777);
	struct shmbus_indicator bb = indicator(SHMBUS_IND_BOLLINGER, 20, 2, 0);
	assert_int_equal(shmbus_thr_inputs_of(&x.m, &bb.h, in, &origin), 1);
	assert_int_equal(in[0].value_id, shmbus_thr_value_id(x.ev, "bb_upper"));
	assert_true(in[0].value == 2.5);
	struct shmbus_indicator sma = indicator(SHMBUS_IND_SMA, 20, 0, 0);
	assert_int_equal(shmbus_thr_inputs_of(&x.m, &sma.h, in, &origin), 0);
	/* other MACD parameters are another series, nobody reads it */
	struct shmbus_indicator macd2 = indicator(SHMBUS_IND_MACD, 5, 35, 5);
	assert_int_equal(shmbus_thr_inputs_of(&x.m, &macd2.h, in, &origin), 0);
	assert_int_equal(x.m.nind, 4);
	assert_int_equal(shmbus_thr_inputs_of(&x.m, &macd.h, in, &origin), 1);
	assert_int_equal(x.m.nind, 4); /* cached */
	unload(&x);
}

/* More parameter sets than the cache holds: the cache stays full, and a
 * set a rule reads still gives its values, looked up each time. They were
 * dropped: once 32 other sets had been seen, no rule on macd_hist fired. */
static void test_inputs_cache_full(void **state)
{
	(void)state;
	struct fixture x;
	load(&x);
	struct shmbus_thr_input in[SHMBUS_THR_INPUTS_MAX];
	int64_t origin;
	for (uint16_t i = 0; i < SHMBUS_THR_IND_CACHE; i++) {
		struct shmbus_indicator e = indicator(SHMBUS_IND_SMA, (uint16_t)(100 + i), 0, 0);
		assert_int_equal(shmbus_thr_inputs_of(&x.m, &e.h, in, &origin), 0);
	}
	assert_int_equal(x.m.nind, SHMBUS_THR_IND_CACHE);
	struct shmbus_indicator macd = indicator(SHMBUS_IND_MACD, 12, 26, 9);
	for (int k = 0; k < 2; k++) {
		assert_int_equal(shmbus_thr_inputs_of(&x.m, &macd.h, in, &origin), 1);
		assert_int_equal(in[0].value_id, shmbus_thr_value_id(x.ev, "macd_hist"));
		assert_true(in[0].value == 3.5);
		struct shmbus_indicator sma = indicator(SHMBUS_IND_SMA, 7, 0, 0); /* read by none */
		assert_int_equal(shmbus_thr_inputs_of(&x.m, &sma.h, in, &origin), 0);
	}
	assert_int_equal(x.m.nind, SHMBUS_THR_IND_CACHE);
	unload(&x);
}

/* Neither a bar nor an indicator: -1. */
static void test_inputs_other_types(void **state)
{
	(void)state;
	struct fixture x;
	load(&x);
	struct shmbus_thr_input in[SHMBUS_THR_INPUTS_MAX];
	int64_t origin;
	struct shmbus_trade t;
	memset(&t, 0, sizeof t);
	t.h.type = SHMBUS_EV_TRADE;
	t.h.size = sizeof t;
	assert_int_equal(shmbus_thr_inputs_of(&x.m, &t.h, in, &origin), -1);
	unload(&x);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_inputs_bar),
		cmocka_unit_test(test_inputs_indicators),
		cmocka_unit_test(test_inputs_cache_full),
		cmocka_unit_test(test_inputs_other_types),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
