/*
 * test_synth.c - synthetic market generator: determinism, validity of the
 * records and basic statistics (rate, trade share, bursts).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "synth.h"

#define N_EVENTS 200000

static struct shmbus_synth *make(uint64_t seed, const char *symbols)
{
	struct shmbus_synth_options o = {.seed = seed, .symbols = symbols, .rate = 2000};
	struct shmbus_synth *g = NULL;
	char eb[128];

	assert_int_equal(shmbus_synth_create(&g, &o, eb, sizeof(eb)), 0);
	return g;
}

static int same(const struct shmbus_md_record *a, const struct shmbus_md_record *b)
{
	return a->kind == b->kind && a->time_ns == b->time_ns && a->symbol_len == b->symbol_len &&
	       memcmp(a->symbol, b->symbol, a->symbol_len) == 0 && a->price == b->price &&
	       a->size == b->size && a->bid == b->bid && a->ask == b->ask &&
	       a->bid_size == b->bid_size && a->ask_size == b->ask_size;
}

static void test_synth_deterministic(void **state)
{
	struct shmbus_synth *a = make(42, "SPY,IBM,AAPL"), *b = make(42, "SPY,IBM,AAPL");
	struct shmbus_synth *c = make(43, "SPY,IBM,AAPL");
	struct shmbus_md_record ra, rb, rc;
	int differs = 0;

	for (int i = 0; i < 20000; i++) {
		shmbus_synth_next(a, &ra);
		shmbus_synth_next(b, &rb);
		shmbus_synth_next(c, &rc);
		assert_true(same(&ra, &rb));
		differs |= !same(&ra, &rc);
	}
	assert_true(differs);
	shmbus_synth_destroy(a);
	shmbus_synth_destroy(b);
	shmbus_synth_destroy(c);
}

struct tally {
	uint64_t trades, quotes;
	uint32_t per_sym[8];
	uint32_t max_per_sec, seconds;
	int bursts_seen;
	double span_s;
};

static void check_record(const struct shmbus_md_record *r, int64_t prev)
{
	assert_true(r->time_ns >= prev);
	assert_int_equal(r->line, 0);
	assert_true(r->symbol_len >= 1 && r->symbol_len <= SHMBUS_MD_SYMBOL_MAX);
	if (r->kind == SHMBUS_MD_TRADE) {
		assert_true(r->price > 0 && r->size > 0);
		assert_true(fabs(r->price * 100 - nearbyint(r->price * 100)) < 1e-6);
	} else {
		assert_int_equal(r->kind, SHMBUS_MD_QUOTE);
		assert_true(r->bid > 0 && r->ask > r->bid);
		assert_true(r->bid_size > 0 && r->ask_size > 0);
	}
}

static void run_stats(struct shmbus_synth *g, struct tally *t)
{
	struct shmbus_md_record r;
	int64_t prev = 0, first = 0, sec = -1;
	uint32_t in_sec[8] = {0};

	for (int i = 0; i < N_EVENTS; i++) {
		shmbus_synth_next(g, &r);
		check_record(&r, prev);
		if (i == 0)
			first = r.time_ns;
		prev = r.time_ns;
		t->trades += r.kind == SHMBUS_MD_TRADE;
		t->quotes += r.kind == SHMBUS_MD_QUOTE;
		t->per_sym[r.symbol[4] - '0']++; /* SYN0n */
		if ((r.time_ns - first) / 1000000000 != sec) {
			sec = (r.time_ns - first) / 1000000000;
			t->seconds++;
			memset(in_sec, 0, sizeof(in_sec));
		}
		/* Busiest second of any one symbol. */
		if (++in_sec[r.symbol[4] - '0'] > t->max_per_sec)
			t->max_per_sec = in_sec[r.symbol[4] - '0'];
		t->bursts_seen |= shmbus_synth_in_burst(g, (uint32_t)(r.symbol[4] - '0'));
	}
	t->span_s = (double)(prev - first) * 1e-9;
}

static void test_synth_statistics(void **state)
{
	struct shmbus_synth *g = make(7, NULL);
	struct tally t = {0};
	double rate, share;

	assert_int_equal(shmbus_synth_symbol_count(g), 8);
	assert_string_equal(shmbus_synth_symbol(g, 3), "SYN03");
	run_stats(g, &t);
	rate = N_EVENTS / t.span_s;
	share = (double)t.trades / N_EVENTS;
	/* Calm rate 2000/s; bursts (8x activity, ~4% of the time) raise the mean a bit. */
	assert_true(rate > 1900 && rate < 4000);
	assert_true(share > 0.23 && share < 0.27);
	for (int i = 0; i < 8; i++)
		assert_true(t.per_sym[i] > N_EVENTS / 8 / 3);
	/* Bursts exist: some symbol has a second far busier than its mean
	 * (250/s calm, 2000/s in a burst). */
	assert_true(t.bursts_seen);
	assert_true(t.max_per_sec > 3.0 * rate / 8);
	shmbus_synth_destroy(g);
}

static void test_synth_fractional_and_options(void **state)
{
	struct shmbus_synth_options o = {.seed = 1, .symbols = "BTCUSD", .fractional_sizes = 1,
					 .trade_fraction = 1.0, .start_ns = 1000};
	struct shmbus_synth *g;
	struct shmbus_md_record r;
	int fractional = 0;
	char eb[128];

	assert_int_equal(shmbus_synth_create(&g, &o, eb, sizeof(eb)), 0);
	for (int i = 0; i < 1000; i++) {
		shmbus_synth_next(g, &r);
		assert_int_equal(r.kind, SHMBUS_MD_TRADE);
		assert_true(r.time_ns >= 1000);
		fractional += r.size != floor(r.size);
	}
	assert_true(fractional > 900);
	shmbus_synth_destroy(g);

	o.symbols = "SPY,,IBM";
	assert_int_equal(shmbus_synth_create(&g, &o, eb, sizeof(eb)), -EINVAL);
	assert_null(g);
	assert_string_equal(eb, "empty symbol name ''");
	o.symbols = "SPY,IBM,SPY";
	assert_int_equal(shmbus_synth_create(&g, &o, eb, sizeof(eb)), -EINVAL);
	assert_string_equal(eb, "duplicate symbol 'SPY'");
	o.symbols = "ABCDEFGHIJKLMNOPQRSTUVWX";
	assert_int_equal(shmbus_synth_create(&g, &o, eb, sizeof(eb)), -EINVAL);
	assert_string_equal(eb, "symbol longer than 23 bytes 'ABCDEFGHIJKLMNOPQRSTUVWX'");
	o.symbols = NULL;
	o.rate = -5;
	assert_int_equal(shmbus_synth_create(&g, &o, eb, sizeof(eb)), -EINVAL);
	assert_string_equal(eb, "option must be a positive finite number: 'rate'");
	o.rate = 0;
	o.trade_fraction = 1.5;
	assert_int_equal(shmbus_synth_create(&g, &o, eb, sizeof(eb)), -EINVAL);

	/* the tools' check of a --symbols list, before anything is attached */
	assert_int_equal(shmbus_synth_check_symbols("SPY,IBM", eb, sizeof(eb)), 0);
	/* Any bus symbol, up to 23 bytes (16..23 were refused). */
	assert_int_equal(shmbus_synth_check_symbols("BTC-USDT-SWAP-250328,ABCDEFGHIJKLMNOPQRSTUVW",
						    eb, sizeof(eb)),
			 0);
	assert_int_equal(shmbus_synth_check_symbols("SPY,IBM,SPY", eb, sizeof(eb)), -EINVAL);
	assert_string_equal(eb, "duplicate symbol 'SPY'");
	assert_int_equal(shmbus_synth_check_symbols("", eb, sizeof(eb)), -EINVAL);
	assert_string_equal(eb, "empty list");
}

/* A rate of 1e-300 drew gaps of 9e18 ns, past INT64_MAX from any start
 * (signed overflow): rates outside 0.001..1e9 are refused, and the clock
 * saturates at INT64_MAX instead of wrapping (times never decrease) when
 * the start is near the end of the int64 range. Records keep coming: the
 * generator never spins on a toggle at INT64_MAX. */
static void test_synth_clock_saturates(void **state)
{
	struct shmbus_synth_options o = {.seed = 7, .rate = 1e-300};
	struct shmbus_synth *g;
	struct shmbus_md_record r;
	char eb[128];
	int64_t prev;

	(void)state;
	assert_int_equal(shmbus_synth_create(&g, &o, eb, sizeof(eb)), -EINVAL);
	assert_string_equal(eb, "option must be in 0.001..1e9: 'rate'");
	o.rate = 2e9;
	assert_int_equal(shmbus_synth_create(&g, &o, eb, sizeof(eb)), -EINVAL);

	o.rate = SHMBUS_SYNTH_MIN_RATE;
	o.start_ns = INT64_MAX - 10000000000000; /* 10000 s left */
	assert_int_equal(shmbus_synth_create(&g, &o, eb, sizeof(eb)), 0);
	prev = o.start_ns;
	for (int i = 0; i < 200; i++) { /* 1000 s apart on average */
		shmbus_synth_next(g, &r);
		assert_true(r.time_ns >= prev);
		prev = r.time_ns;
	}
	assert_int_equal(prev, INT64_MAX);
	shmbus_synth_destroy(g);

	o.rate = 0;
	o.start_ns = INT64_MAX - 1000000;
	assert_int_equal(shmbus_synth_create(&g, &o, eb, sizeof(eb)), 0);
	prev = o.start_ns;
	for (int i = 0; i < 20000; i++) {
		shmbus_synth_next(g, &r);
		assert_true(r.time_ns >= prev);
		prev = r.time_ns;
	}
	assert_int_equal(prev, INT64_MAX);
	shmbus_synth_destroy(g);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_synth_deterministic),
		cmocka_unit_test(test_synth_statistics),
		cmocka_unit_test(test_synth_fractional_and_options),
		cmocka_unit_test(test_synth_clock_saturates),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
