/*
 * test_bridge_srcmap.c - the bridge's per-source progress past the 4096
 * sources its fixed table used to hold (source ids are pids by default
 * and never removed, so a long-lived bridge meets thousands).
 *
 * The map holds tens of thousands of sources (get, set, copy, iterate,
 * growth) and refuses a source past BRIDGE_SRCMAP_MAX with -ENOSPC while
 * the others stay usable; a checkpoint of 10000 sources comes back whole,
 * and a version 1 file as earlier bridges wrote it loads unchanged. The
 * engine, against a fake sink, exports one event of each of 6000 sources,
 * checkpoints, restarts, and skips every one of them when they are
 * offered again: none is exported twice.
 */
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

#include <shmbus/shmbus.h>

#include "bridge_ckpt.h"
#include "bridge_core.h"
#include "test_fs.h"

#define N_MAP  20000u /* sources in the map tests */
#define N_CKPT 10000u /* sources in the checkpoint round trip */
#define N_CORE 6000u  /* distinct sources through the engine */

/* The i-th source id: spread over 32 bits (pids, configured ids), 0 and
 * UINT32_MAX included, all distinct (an odd multiplier is a bijection). */
static uint32_t src_id(uint32_t i)
{
	return i == 0 ? 0 : i == 1 ? UINT32_MAX : i * 2654435761u;
}

static uint64_t src_seq(uint32_t i)
{
	return (uint64_t)i * 1000003u + 1;
}

static int64_t src_time(uint32_t i)
{
	return 1700000000000000000LL + (int64_t)i * 7 - (i % 3 == 0 ? 3400000000000000000LL : 0);
}

/* m holds sources 0..n-1 with src_seq + bump and src_time, nothing else. */
static void check_map(const struct bridge_srcmap *m, uint32_t n, uint64_t bump)
{
	assert_int_equal(m->n, n);
	for (uint32_t i = 0; i < n; i++) {
		const struct bridge_src *e = bridge_srcmap_get(m, src_id(i));
		if (e == NULL)
			fail_msg("source %u (#%u of %u) missing", src_id(i), i, n);
		assert_int_equal(e->source, src_id(i));
		assert_true(e->seq == src_seq(i) + bump);
		assert_true(e->event_time_ns == src_time(i));
	}
	for (uint32_t i = n; i < n + 100; i++)
		assert_null(bridge_srcmap_get(m, src_id(i)));
	/* Iteration visits each entry once. */
	uint32_t seen = 0;
	const struct bridge_src *e;
	for (uint32_t it = 0; (e = bridge_srcmap_next(m, &it)) != NULL; seen++)
		assert_ptr_equal(bridge_srcmap_get(m, e->source), e);
	assert_int_equal(seen, n);
}

static void fill(struct bridge_srcmap *m, uint32_t n, uint64_t bump)
{
	for (uint32_t i = 0; i < n; i++) {
		int rc = bridge_srcmap_set(m, src_id(i), src_seq(i) + bump, src_time(i));
		if (rc != 0)
			fail_msg("set of source #%u (id %u): %d", i, src_id(i), rc);
	}
}

static void test_bridge_srcmap_holds_many_sources(void **state)
{
	struct bridge_srcmap m, c = {0};
	(void)state;
	assert_int_equal(bridge_srcmap_init(&m), 0);
	uint32_t cap0 = m.cap;
	assert_int_equal(bridge_srcmap_set(&m, 5, 0, 0), -EINVAL);
	fill(&m, N_MAP, 0);
	assert_true(m.cap > cap0 && m.cap >= N_MAP); /* it grew */
	check_map(&m, N_MAP, 0);
	/* Updates keep one entry per source. */
	fill(&m, N_MAP, 5);
	check_map(&m, N_MAP, 5);
	/* A copy holds the same, into a fresh map and over a fuller one. */
	assert_int_equal(bridge_srcmap_init(&c), 0);
	assert_int_equal(bridge_srcmap_copy(&c, &m), 0);
	check_map(&c, N_MAP, 5);
	struct bridge_srcmap small;
	assert_int_equal(bridge_srcmap_init(&small), 0);
	fill(&small, 10, 0);
	assert_int_equal(bridge_srcmap_copy(&c, &small), 0);
	check_map(&c, 10, 0);
	/* Copy of an empty (zeroed) map empties dst. */
	struct bridge_srcmap none = {0};
	assert_int_equal(bridge_srcmap_copy(&c, &none), 0);
	assert_int_equal(c.n, 0);
	assert_null(bridge_srcmap_get(&c, src_id(3)));
	assert_null(bridge_srcmap_get(&none, src_id(3)));
	bridge_srcmap_free(&small);
	bridge_srcmap_free(&c);
	bridge_srcmap_free(&m);
	bridge_srcmap_free(&m); /* freed twice: harmless */
}

/* Past BRIDGE_SRCMAP_MAX sources a new one is refused with -ENOSPC; the
 * ones held still update. */
static void test_bridge_srcmap_refuses_past_max(void **state)
{
	struct bridge_srcmap m;
	(void)state;
	assert_int_equal(bridge_srcmap_init(&m), 0);
	for (uint32_t i = 0; i < BRIDGE_SRCMAP_MAX; i++)
		if (bridge_srcmap_set(&m, i, 1, 0) != 0)
			fail_msg("set of source %u of %u failed", i, BRIDGE_SRCMAP_MAX);
	assert_int_equal(m.n, BRIDGE_SRCMAP_MAX);
	assert_int_equal(bridge_srcmap_set(&m, BRIDGE_SRCMAP_MAX, 1, 0), -ENOSPC);
	assert_null(bridge_srcmap_get(&m, BRIDGE_SRCMAP_MAX));
	assert_int_equal(bridge_srcmap_set(&m, 77, 9, 9), 0);
	assert_true(bridge_srcmap_get(&m, 77)->seq == 9);
	assert_int_equal(m.n, BRIDGE_SRCMAP_MAX);
	bridge_srcmap_free(&m);
}

/* A checkpoint of N_CKPT sources comes back whole (the loader took at most
 * 4095 sources and 1 MiB). */
static void test_bridge_srcmap_ckpt_round_trip(void **state)
{
	char dir[] = "/tmp/shmbus-bridge-srcmap-XXXXXX", path[64], err[600] = "";
	struct bridge_srcmap m, back;
	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof path, "%s/ckpt", dir);
	assert_int_equal(bridge_srcmap_init(&m), 0);
	fill(&m, N_CKPT, 0);
	if (bridge_ckpt_save(path, &m, err, sizeof err) != 0)
		fail_msg("save: %s", err);
	assert_int_equal(bridge_srcmap_init(&back), 0);
	if (bridge_ckpt_load(path, &back, err, sizeof err) != 0)
		fail_msg("load: %s", err);
	check_map(&back, N_CKPT, 0);
	/* One line per source and the magic line, nothing else. */
	char *text = tfs_slurp(path);
	assert_non_null(text);
	size_t lines = 0;
	for (const char *p = text; *p; p++)
		lines += *p == '\n';
	assert_int_equal(lines, N_CKPT + 1);
	assert_int_equal(strncmp(text, "shmbus-bridge-checkpoint 1\n", 27), 0);
	free(text);
	bridge_srcmap_free(&back);
	bridge_srcmap_free(&m);
	assert_int_equal(tfs_rm_rf(dir), 0);
}

/* Version 1 files as earlier bridges wrote them load unchanged: a small
 * one byte for byte, and one of 30000 long lines (1.6 MiB). */
static void test_bridge_srcmap_ckpt_loads_version_1(void **state)
{
	char dir[] = "/tmp/shmbus-bridge-srcmap-XXXXXX", path[64], err[600] = "";
	struct bridge_srcmap m;
	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof path, "%s/ckpt", dir);
	const char old[] = "shmbus-bridge-checkpoint 1\n"
	                   "9 20000 1700000000000019999\n"
	                   "4242 7 -5\n";
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	assert_int_equal(fwrite(old, 1, sizeof old - 1, f), sizeof old - 1);
	assert_int_equal(fclose(f), 0);
	assert_int_equal(bridge_srcmap_init(&m), 0);
	if (bridge_ckpt_load(path, &m, err, sizeof err) != 0)
		fail_msg("load: %s", err);
	assert_int_equal(m.n, 2);
	assert_true(bridge_srcmap_get(&m, 9)->seq == 20000);
	assert_true(bridge_srcmap_get(&m, 9)->event_time_ns == 1700000000000019999LL);
	assert_true(bridge_srcmap_get(&m, 4242)->event_time_ns == -5);
	bridge_srcmap_free(&m);

	f = fopen(path, "w");
	assert_non_null(f);
	fprintf(f, "shmbus-bridge-checkpoint 1\n");
	for (uint32_t i = 0; i < 30000; i++)
		fprintf(f, "%u %llu %lld\n", 4000000000u - i, 18000000000000000000ull + i,
		        -9000000000000000000LL + i);
	assert_int_equal(fclose(f), 0);
	assert_int_equal(bridge_srcmap_init(&m), 0);
	if (bridge_ckpt_load(path, &m, err, sizeof err) != 0)
		fail_msg("load: %s", err);
	assert_int_equal(m.n, 30000);
	for (uint32_t i = 0; i < 30000; i++) {
		const struct bridge_src *e = bridge_srcmap_get(&m, 4000000000u - i);
		assert_non_null(e);
		assert_true(e->seq == 18000000000000000000ull + i);
		assert_true(e->event_time_ns == -9000000000000000000LL + i);
	}
	bridge_srcmap_free(&m);
	assert_int_equal(tfs_rm_rf(dir), 0);
}

/* A sink that acks every send at the next poll, counting sends per
 * source (source ids 1..N_CORE). */
struct count_sink {
	struct bridge_sink base;
	struct {
		uint64_t pos, seq;
		uint32_t source;
	} q[1u << 14];
	size_t qh, qt;
	uint32_t sends[N_CORE + 1];
	uint64_t total;
};

static int count_send(struct bridge_sink *b, uint64_t pos, const struct shmbus_event_header *ev,
                      const char *symbol, const void *payload, size_t len)
{
	struct count_sink *f = (struct count_sink *)b;
	(void)symbol;
	(void)payload;
	(void)len;
	assert_true(ev->source_id >= 1 && ev->source_id <= N_CORE);
	assert_true(f->qt - f->qh < sizeof f->q / sizeof f->q[0]);
	size_t i = f->qt++ % (sizeof f->q / sizeof f->q[0]);
	f->q[i].pos = pos;
	f->q[i].seq = ev->seq;
	f->q[i].source = ev->source_id;
	f->sends[ev->source_id]++;
	f->total++;
	return 0;
}

static int count_poll(struct bridge_sink *b, bridge_ack_fn fn, void *ctx)
{
	struct count_sink *f = (struct count_sink *)b;
	int n = 0;
	for (; f->qh < f->qt; n++) {
		size_t i = f->qh++ % (sizeof f->q / sizeof f->q[0]);
		fn(ctx, f->q[i].pos, f->q[i].source, f->q[i].seq, 0);
	}
	return n;
}

static int count_connected(struct bridge_sink *b)
{
	(void)b;
	return 1;
}

static uint64_t count_reconnects(struct bridge_sink *b)
{
	(void)b;
	return 0;
}

static int count_flush(struct bridge_sink *b, int timeout_ms)
{
	(void)b;
	(void)timeout_ms;
	return 0;
}

static void count_destroy(struct bridge_sink *b)
{
	(void)b; /* owned by the test */
}

static const struct bridge_sink_ops count_ops = {
    .name = "count",
    .send = count_send,
    .poll = count_poll,
    .connected = count_connected,
    .reconnects = count_reconnects,
    .flush = count_flush,
    .destroy = count_destroy,
};

static char g_warn[4096];

static void keep_warn(void *ctx, const char *msg)
{
	(void)ctx;
	if (g_warn[0] == '\0')
		snprintf(g_warn, sizeof g_warn, "%s", msg);
}

static struct bridge *open_counting(shmbus_bus *bus, const char *ckpt, struct count_sink *f)
{
	struct bridge_core_config cc;
	struct bridge *b = NULL;
	struct bridge_sink *sink = &f->base;
	char err[600];
	memset(f, 0, sizeof *f);
	f->base.ops = &count_ops;
	f->base.enc = BRIDGE_ENC_BINARY;
	bridge_core_config_init(&cc);
	cc.enc = BRIDGE_ENC_BINARY;
	cc.sub.capacity = 16384;
	cc.checkpoint = ckpt;
	cc.warn = keep_warn;
	if (bridge_open(bus, &cc, &sink, 1, &b, err, sizeof err) != 0)
		fail_msg("bridge_open: %s", err);
	return b;
}

/* One event (seq `seq`) of each source 1..N_CORE, identities kept. */
static void publish_all(shmbus_producer *p, uint32_t sym, uint64_t seq)
{
	struct shmbus_trade t;
	memset(&t, 0, sizeof t);
	t.h.type = SHMBUS_EV_TRADE;
	t.h.version = 1;
	t.h.size = sizeof t;
	t.h.symbol_id = sym;
	t.h.seq = seq;
	for (uint32_t s = 1; s <= N_CORE; s++) {
		t.h.source_id = s;
		t.h.event_time_ns = 1700000000000000000LL + s;
		assert_int_equal(shmbus_publish(p, &t), 1);
	}
}

/* Step until acked + skipped reach `want` with nothing in flight. */
static void step_until(struct bridge *b, uint64_t want)
{
	struct bridge_stats st;
	for (long i = 0; i < 1000000; i++) {
		bridge_step(b, 0);
		bridge_get_stats(b, &st);
		if (st.acked + st.skipped >= want && st.inflight == 0 && st.ring_depth == 0)
			return;
	}
	fail_msg("acked %llu + skipped %llu of %llu", (unsigned long long)st.acked,
	         (unsigned long long)st.skipped, (unsigned long long)want);
}

/* Each of N_CORE sources exported once, across a restart from the
 * checkpoint: the checkpoint used to keep 4095 of them, so the others'
 * events went out again. */
static void test_bridge_srcmap_core_restart_exports_once(void **state)
{
	char dir[] = "/tmp/shmbus-bridge-srcmap-XXXXXX", ckpt[64], err[600];
	shmbus_bus *bus = NULL;
	shmbus_producer *p = NULL;
	struct shmbus_producer_opts po;
	struct bridge_stats st;
	struct count_sink *f = malloc(sizeof *f);
	(void)state;
	assert_non_null(f);
	assert_non_null(mkdtemp(dir));
	snprintf(ckpt, sizeof ckpt, "%s/ckpt", dir);
	g_warn[0] = '\0';
	assert_int_equal(shmbus_bus_create(NULL, NULL, &bus), 0);
	int sym = shmbus_symbol_intern(bus, "SYM", 3);
	assert_true(sym > 0);
	shmbus_producer_opts_init(&po);
	assert_int_equal(shmbus_producer_open(bus, &po, &p), 0);

	struct bridge *b = open_counting(bus, ckpt, f);
	publish_all(p, (uint32_t)sym, 1);
	step_until(b, N_CORE);
	/* The same events again (a replay): skipped, before a restart too. */
	publish_all(p, (uint32_t)sym, 1);
	step_until(b, 2 * N_CORE);
	bridge_get_stats(b, &st);
	assert_int_equal(st.acked, N_CORE);
	assert_int_equal(st.skipped, N_CORE);
	assert_int_equal(st.progress_errors, 0);
	assert_int_equal(bridge_acked_seq(b, N_CORE), 1);
	if (bridge_drain(b, 5000, err, sizeof err) != 0)
		fail_msg("drain: %s", err);
	bridge_close(b);
	assert_int_equal(f->total, N_CORE);
	for (uint32_t s = 1; s <= N_CORE; s++)
		if (f->sends[s] != 1)
			fail_msg("source %u sent %u times before the restart", s, f->sends[s]);

	b = open_counting(bus, ckpt, f);
	publish_all(p, (uint32_t)sym, 1);
	step_until(b, N_CORE);
	bridge_get_stats(b, &st);
	for (uint32_t s = 1; s <= N_CORE; s++)
		if (f->sends[s] != 0)
			fail_msg("source %u exported again after the restart (%llu of %u sources)",
			         s, (unsigned long long)f->total, N_CORE);
	assert_int_equal(st.skipped, N_CORE);
	assert_int_equal(st.sent, 0);
	/* A new event of each is still exported, once. */
	publish_all(p, (uint32_t)sym, 2);
	step_until(b, 2 * N_CORE);
	bridge_get_stats(b, &st);
	assert_int_equal(st.acked, N_CORE);
	assert_int_equal(f->total, N_CORE);
	assert_int_equal(st.progress_errors, 0);
	if (g_warn[0] != '\0')
		fail_msg("unexpected warning: %s", g_warn);
	bridge_close(b);
	shmbus_producer_close(p);
	shmbus_bus_close(bus);
	free(f);
	assert_int_equal(tfs_rm_rf(dir), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_bridge_srcmap_holds_many_sources),
	    cmocka_unit_test(test_bridge_srcmap_refuses_past_max),
	    cmocka_unit_test(test_bridge_srcmap_ckpt_round_trip),
	    cmocka_unit_test(test_bridge_srcmap_ckpt_loads_version_1),
	    cmocka_unit_test(test_bridge_srcmap_core_restart_exports_once),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
