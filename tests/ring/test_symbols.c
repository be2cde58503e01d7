/*
 * test_symbols.c - the bus symbol table: intern / lookup / name round
 * trips, name validation, a full table, and concurrent interning of
 * overlapping name sets from two threads and from two processes (every
 * name must end up with exactly one id).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <pthread.h>

#include "ring/test_util.h"

#define NNAMES 300 /* per worker; the two sets overlap by half */

static int sym_name(char *buf, size_t len, int i)
{
	return snprintf(buf, len, "SYM%04d.X", i);
}

/* Intern, look up, name: a round trip; re-intern gives the same id. */
static void test_symbols_round_trip(void **state)
{
	shmbus_bus *bus;
	assert_int_equal(tu_bus_create(NULL, 4, &bus), 0);
	assert_int_equal(shmbus_symbol_count(bus), 0);
	int64_t spy = shmbus_symbol_intern(bus, "SPY", 3);
	assert_true(spy >= 1);
	int64_t btc = shmbus_symbol_intern(bus, "BTC-USDT", 8);
	assert_true(btc >= 1);
	assert_true(btc != spy);
	assert_int_equal(shmbus_symbol_intern(bus, "SPY", 3), spy);
	/* the length counts, not a NUL: "SPYX" cut at 3 is "SPY" */
	assert_int_equal(shmbus_symbol_intern(bus, "SPYX", 3), spy);
	assert_int_equal(shmbus_symbol_lookup(bus, "SPY", 3), spy);
	assert_int_equal(shmbus_symbol_lookup(bus, "BTC-USDT", 8), btc);
	assert_int_equal(shmbus_symbol_lookup(bus, "QQQ", 3), -ENOENT);
	assert_int_equal(shmbus_symbol_lookup(bus, "SP", 2), -ENOENT);
	assert_int_equal(shmbus_symbol_count(bus), 2);

	char buf[SHMBUS_SYMBOL_MAX + 1];
	assert_int_equal(shmbus_symbol_name(bus, (uint32_t)btc, buf, sizeof buf), 8);
	assert_string_equal(buf, "BTC-USDT");
	assert_int_equal(shmbus_symbol_name(bus, (uint32_t)spy, buf, 4), 3);
	assert_string_equal(buf, "SPY");
	assert_int_equal(shmbus_symbol_name(bus, (uint32_t)spy, buf, 3), -ENOSPC);
	assert_int_equal(shmbus_symbol_name(bus, 0, buf, sizeof buf), -ENOENT);
	assert_int_equal(shmbus_symbol_name(bus, 999, buf, sizeof buf), -ENOENT);
	assert_int_equal(shmbus_symbol_name(bus, UINT32_MAX, buf, sizeof buf), -ENOENT);

	/* the longest name */
	const char *longest = "ABCDEFGHIJKLMNOPQRSTUVW";
	assert_int_equal(strlen(longest), SHMBUS_SYMBOL_MAX);
	int64_t id = shmbus_symbol_intern(bus, longest, SHMBUS_SYMBOL_MAX);
	assert_true(id >= 1);
	assert_int_equal(shmbus_symbol_name(bus, (uint32_t)id, buf, sizeof buf), SHMBUS_SYMBOL_MAX);
	assert_string_equal(buf, longest);
	assert_int_equal(shmbus_bus_close(bus), 0);
}

/* Empty, too long, spaces, commas, control bytes: -EINVAL. */
static void test_symbols_bad_names(void **state)
{
	shmbus_bus *bus;
	assert_int_equal(tu_bus_create(NULL, 4, &bus), 0);
	static const char *const bad[] = {"A B",  "A,B",  " SPY", "SPY ",
	                                  "A\tB", "A\nB", "\x7f", "caf\xc3\xa9"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		int64_t rc = shmbus_symbol_intern(bus, bad[i], strlen(bad[i]));
		if (rc != -EINVAL)
			fail_msg("intern \"%s\": %lld, want -EINVAL", bad[i], (long long)rc);
		assert_true(shmbus_symbol_lookup(bus, bad[i], strlen(bad[i])) < 0);
	}
	assert_int_equal(shmbus_symbol_intern(bus, "", 0), -EINVAL);
	assert_int_equal(shmbus_symbol_intern(bus, "SPY", 0), -EINVAL);
	const char *toolong = "ABCDEFGHIJKLMNOPQRSTUVWX"; /* 24 */
	assert_int_equal(shmbus_symbol_intern(bus, toolong, 24), -EINVAL);
	assert_int_equal(shmbus_symbol_intern(bus, "A\0B", 3), -EINVAL);
	assert_true(shmbus_symbol_lookup(bus, toolong, 24) < 0);
	assert_int_equal(shmbus_symbol_count(bus), 0);
	assert_int_equal(shmbus_bus_close(bus), 0);
}

/*
 * max_symbols 16: ids 1..16 all get used, then -ENOSPC, and old names
 * still work.
 */
static void test_symbols_table_full(void **state)
{
	struct shmbus_bus_opts o;
	tu_bus_opts(&o, 4);
	o.max_symbols = 16;
	shmbus_bus *bus;
	assert_int_equal(shmbus_bus_create(NULL, &o, &bus), 0);
	int64_t ids[17];
	char name[16];
	int n = 0, len;
	for (; n < 17; n++) {
		len = sym_name(name, sizeof name, n);
		ids[n] = shmbus_symbol_intern(bus, name, (size_t)len);
		if (ids[n] == -ENOSPC)
			break;
		if (ids[n] < 1 || ids[n] > 16)
			fail_msg("symbol %d of 16: %lld", n, (long long)ids[n]);
		for (int j = 0; j < n; j++)
			assert_true(ids[j] != ids[n]);
	}
	if (n != 16)
		fail_msg("%d symbols fit a table of 16", n);
	assert_int_equal(shmbus_symbol_lookup(bus, name, (size_t)len), -ENOENT);
	assert_int_equal(shmbus_symbol_count(bus), n);
	len = sym_name(name, sizeof name, 99); /* full stays full */
	assert_int_equal(shmbus_symbol_intern(bus, name, (size_t)len), -ENOSPC);
	for (int i = 0; i < n; i++) {
		len = sym_name(name, sizeof name, i);
		assert_int_equal(shmbus_symbol_intern(bus, name, (size_t)len), ids[i]);
		assert_int_equal(shmbus_symbol_lookup(bus, name, (size_t)len), ids[i]);
	}
	assert_int_equal(shmbus_bus_close(bus), 0);
}

/* Worker w interns names [w*NNAMES/2, w*NNAMES/2 + NNAMES), w=1 backwards. */
static void intern_set(shmbus_bus *bus, int w, int64_t *ids)
{
	for (int k = 0; k < NNAMES; k++) {
		int i = w == 0 ? k : NNAMES / 2 + (NNAMES - 1 - k);
		char name[16];
		int len = sym_name(name, sizeof name, i);
		ids[i] = shmbus_symbol_intern(bus, name, (size_t)len);
	}
}

/* Both workers' results: one id per name, distinct ids, all lookups. */
static void check_sets(shmbus_bus *bus, int64_t (*ids)[NNAMES * 3 / 2])
{
	enum { TOTAL = NNAMES * 3 / 2 };
	for (int i = 0; i < TOTAL; i++) {
		int64_t id = i < NNAMES ? ids[0][i] : ids[1][i];
		if (id < 1)
			fail_msg("name %d: intern returned %lld", i, (long long)id);
		if (i >= NNAMES / 2 && i < NNAMES && ids[1][i] != id)
			fail_msg("name %d: ids %lld and %lld", i, (long long)id,
			         (long long)ids[1][i]);
		char name[16];
		int len = sym_name(name, sizeof name, i);
		assert_int_equal(shmbus_symbol_lookup(bus, name, (size_t)len), id);
	}
	assert_int_equal(shmbus_symbol_count(bus), TOTAL);
	/* distinct: count ids through a bitmap */
	uint8_t seen[4097] = {0};
	for (int i = 0; i < TOTAL; i++) {
		int64_t id = i < NNAMES ? ids[0][i] : ids[1][i];
		assert_true(id <= 4096);
		assert_int_equal(seen[id], 0);
		seen[id] = 1;
	}
}

struct intern_arg {
	shmbus_bus *bus;
	pthread_barrier_t *go;
	int w;
	int64_t *ids;
};

static void *intern_thread(void *argp)
{
	struct intern_arg *a = argp;
	pthread_barrier_wait(a->go);
	intern_set(a->bus, a->w, a->ids);
	return NULL;
}

/* Two threads intern overlapping sets: one id per name. */
static void test_symbols_concurrent_threads(void **state)
{
	shmbus_bus *bus;
	assert_int_equal(tu_bus_create(NULL, 4, &bus), 0);
	static int64_t ids[2][NNAMES * 3 / 2];
	memset(ids, 0, sizeof ids);
	pthread_barrier_t go;
	pthread_barrier_init(&go, NULL, 2);
	pthread_t th[2];
	struct intern_arg a[2];
	for (int w = 0; w < 2; w++) {
		a[w] = (struct intern_arg){bus, &go, w, ids[w]};
		assert_int_equal(pthread_create(&th[w], NULL, intern_thread, &a[w]), 0);
	}
	for (int w = 0; w < 2; w++)
		pthread_join(th[w], NULL);
	pthread_barrier_destroy(&go);
	check_sets(bus, ids);
	assert_int_equal(shmbus_bus_close(bus), 0);
}

/* Two processes intern overlapping sets on a named bus. */
static void test_symbols_concurrent_processes(void **state)
{
	shmbus_bus *bus;
	assert_int_equal(tu_bus_create("syms", 4, &bus), 0);
	static int64_t ids[2][NNAMES * 3 / 2];
	memset(ids, 0, sizeof ids);
	int go[2], res[2][2];
	assert_int_equal(pipe(go), 0);
	pid_t kid[2];
	for (int w = 0; w < 2; w++) {
		assert_int_equal(pipe(res[w]), 0);
		fflush(NULL);
		kid[w] = fork();
		assert_true(kid[w] >= 0);
		if (kid[w] == 0) {
			shmbus_bus *cb;
			TU_CHILD_CHECK(
			    shmbus_bus_open("syms", "interner", SHMBUS_ROLE_CLIENT, &cb) == 0);
			char c;
			TU_CHILD_CHECK(tu_read_all(go[0], &c, 1, 20000) == 0);
			intern_set(cb, w, ids[w]);
			TU_CHILD_CHECK(tu_write_all(res[w][1], ids[w], sizeof ids[w]) == 0);
			shmbus_bus_close(cb);
			_exit(0);
		}
	}
	char two[2] = {'g', 'g'};
	assert_int_equal(tu_write_all(go[1], two, 2), 0);
	for (int w = 0; w < 2; w++) {
		/* read before waiting: the result is larger than a pipe buffer may be */
		assert_int_equal(tu_read_all(res[w][0], ids[w], sizeof ids[w], 20000), 0);
		int st;
		assert_int_equal(tu_wait_child(kid[w], 20000, &st), 0);
		assert_true(tu_exited_ok(st));
		close(res[w][0]);
		close(res[w][1]);
	}
	close(go[0]);
	close(go[1]);
	check_sets(bus, ids);
	assert_int_equal(shmbus_bus_close(bus), 0);
}

int main(void)
{
	alarm(120);
	const struct CMUnitTest tests[] = {
	    TU_TEST(test_symbols_round_trip),           TU_TEST(test_symbols_bad_names),
	    TU_TEST(test_symbols_table_full),           TU_TEST(test_symbols_concurrent_threads),
	    TU_TEST(test_symbols_concurrent_processes),
	};
	return cmocka_run_group_tests_name("symbols", tests, NULL, NULL);
}
