/*
 * test_journald_sources.c - shmbus-journald's durable list past 4096
 * sources.
 *
 * The default source id is the pid, so a long-lived journaller meets one
 * source per producer process ever started. Its table held 4096: later
 * sources were journaled but left out of the stats' durable list without
 * a word. Now every source is tracked; the list names each with its last
 * durable seq, and when it must be bounded (JD_STATS_SOURCES) the stats
 * say how many it left out.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "jtt.h"

#define SRC_FEW    6000u  /* past the old table's 4096 */
#define SRC_MANY   70000u /* past the stats list's bound, 65536 */
#define SRC_LISTED 65536u /* JD_STATS_SOURCES */
#define SRC_CHUNK  4096u  /* published between waits for the ring to drain */

/* Publish seq 1..seqs of each source 1..n (ids kept), a chunk at a time. */
static void src_publish(shmbus_bus *b, uint32_t n, uint64_t seqs)
{
	shmbus_producer *p;
	struct shmbus_producer_opts po;
	shmbus_producer_opts_init(&po);
	assert_int_equal(shmbus_producer_open(b, &po, &p), 0);
	int sym = shmbus_symbol_intern(b, "SRC", 3);
	assert_true(sym > 0);
	struct shmbus_trade t;
	memset(&t, 0, sizeof(t));
	t.h.type = SHMBUS_EV_TRADE;
	t.h.version = 1;
	t.h.size = sizeof(t);
	t.h.symbol_id = (uint32_t)sym;
	uint32_t k = 0;
	for (uint64_t seq = 1; seq <= seqs; seq++) {
		for (uint32_t s = 1; s <= n; s++) {
			t.h.source_id = s;
			t.h.seq = seq;
			t.h.event_time_ns = 1700000000000000000LL + s;
			assert_int_equal(shmbus_publish(p, &t), 1);
			if (++k % SRC_CHUNK == 0)
				assert_int_equal(jtt_wait_drained(b, "journal", 30), 0);
		}
	}
	assert_int_equal(jtt_wait_drained(b, "journal", 30), 0);
	shmbus_producer_close(p);
}

/* Run journald over n sources (seqs events each) and return its final
 * stats JSON (malloc'd). */
static char *src_journal(shmbus_bus *b, uint32_t n, uint64_t seqs)
{
	char stats[256], err[256];
	snprintf(stats, sizeof(stats), "%s/stats.json", jtt_shm);
	snprintf(err, sizeof(err), "%s/journald.err", jtt_shm);
	char *av[] = {JOURNALD_BIN, "--bus", jtt_bus,        "--dir", jtt_jdir,
	              "--fsync",    "batch", "--stats-json", stats,   NULL};
	pid_t jd = jtt_spawn(av, "/dev/null", err);
	assert_int_equal(jtt_wait_ring(b, "journal", jd), 0);
	src_publish(b, n, seqs);
	kill(jd, SIGTERM);
	assert_int_equal(jtt_wait(jd, 60), 0);
	char *e = jtt_slurp(err);
	if (strstr(e, "cannot track"))
		fail_msg("journald: %s", e);
	free(e);
	char *st = jtt_slurp(stats);
	assert_int_equal(jtt_json_i64(st, "events"), (int64_t)n * (int64_t)seqs);
	assert_int_equal(jtt_json_i64(st, "events_durable"), (int64_t)n * (int64_t)seqs);
	return st;
}

/* Entries of the durable list: each source 1..n at most once, with seq
 * `seq`. Returns how many. */
static uint32_t src_count_durable(const char *st, uint32_t n, uint64_t seq)
{
	const char *p = strstr(st, "\"durable\":[");
	assert_non_null(p);
	uint8_t *seen = calloc(n + 1, 1);
	assert_non_null(seen);
	uint32_t count = 0;
	while ((p = strstr(p, "{\"source_id\":")) != NULL) {
		char *end;
		unsigned long s = strtoul(p + 13, &end, 10);
		if (s < 1 || s > n || seen[s])
			fail_msg("durable list: source %lu unexpected or twice", s);
		seen[s] = 1;
		if (strncmp(end, ",\"seq\":", 7) != 0 || strtoull(end + 7, NULL, 10) != seq)
			fail_msg("durable list: source %lu: %.40s (want seq %llu)", s, end,
			         (unsigned long long)seq);
		count++;
		p = end;
	}
	free(seen);
	return count;
}

/* 6000 sources: each listed with its last durable seq (4096 were). */
static void test_journald_sources_all_listed(void **state)
{
	(void)state;
	shmbus_bus *b = jtt_setup();
	char *st = src_journal(b, SRC_FEW, 2);
	assert_int_equal(src_count_durable(st, SRC_FEW, 2), SRC_FEW);
	assert_int_equal(jtt_json_i64(st, "sources"), SRC_FEW);
	assert_int_equal(jtt_json_i64(st, "durable_omitted"), 0);
	assert_int_equal(jtt_json_i64(st, "untracked_events"), 0);
	free(st);
	jtt_teardown(b);
}

/* Past the stats list's bound: the first SRC_LISTED are listed and the
 * rest are counted in durable_omitted, not cut silently. */
static void test_journald_sources_list_bound_is_said(void **state)
{
	(void)state;
	shmbus_bus *b = jtt_setup();
	char *st = src_journal(b, SRC_MANY, 1);
	assert_int_equal(jtt_json_i64(st, "sources"), SRC_MANY);
	assert_int_equal(jtt_json_i64(st, "durable_omitted"), SRC_MANY - SRC_LISTED);
	assert_int_equal(jtt_json_i64(st, "untracked_events"), 0);
	assert_int_equal(src_count_durable(st, SRC_MANY, 1), SRC_LISTED);
	free(st);
	jtt_teardown(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_journald_sources_all_listed),
	    cmocka_unit_test(test_journald_sources_list_bound_is_said),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
