/*
 * test_bridge_core.c - the bridge engine against a scripted fake sink
 * (no broker needed): per-symbol order and exactly-once survive failed
 * sends and outages that lose every send in flight, the journal/ring
 * hand-over after a checkpoint sends each event once, and a first start
 * exports the journal only with from_journal_start.
 *
 * The fake stores a message when it delivers its positive ack (acks go
 * out in send order, a few per poll, so some are always in flight), drops
 * a resend of a stored (source, seq) as a broker's dedup would, and can
 * fail sends synchronously (-EAGAIN) or NAK everything in flight.
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
#include <sys/stat.h>
#include <unistd.h>

#include <shmbus/shmbus.h>
#include <shmbus/journal.h>

#include "bridge_ckpt.h"
#include "bridge_core.h"

#define N_EVENTS 20000u
#define N_SYMS 8u
#define SOURCE 9u
#define QCAP 8192u

struct fake_ack {
	uint64_t pos, seq;
	uint32_t source;
	int err;
};

struct fake_sink {
	struct bridge_sink base;
	struct fake_ack q[QCAP]; /* acks in send order */
	size_t qh, qt;
	uint64_t stored[N_EVENTS + 1]; /* seqs in store order */
	uint8_t have[N_EVENTS + 1];
	size_t nstored;
	unsigned rng;
	unsigned sync_fail_pct; /* chance that send() returns -EAGAIN */
	unsigned outage_every;  /* NAK all in flight every N sends (0: never) */
	unsigned down_polls;    /* polls left disconnected */
	unsigned lose_every;    /* lose every ack in flight every N sends (0: never),
				   as a client replaced after a fatal error does */
	int lost_pending;       /* losses not yet reported (BRIDGE_ACK_ALL_LOST) */
	uint64_t sends, lose_sends, sync_fails, naks, dups, losses;
};

static uint32_t g_sym[N_SYMS];

static unsigned fake_rand(struct fake_sink *f)
{
	f->rng = f->rng * 1103515245u + 12345u;
	return (f->rng >> 16) % 100u;
}

static int fake_send(struct bridge_sink *b, uint64_t pos, const struct shmbus_event_header *ev,
		     const char *symbol, const void *payload, size_t len)
{
	struct fake_sink *f = (struct fake_sink *)b;
	(void)symbol;
	(void)payload;
	(void)len;
	if (f->down_polls > 0 || f->lost_pending || fake_rand(f) < f->sync_fail_pct) {
		f->sync_fails++;
		return -EAGAIN;
	}
	assert_true(f->qt - f->qh < QCAP);
	f->q[f->qt++ % QCAP] = (struct fake_ack){.pos = pos, .seq = ev->seq, .source = ev->source_id};
	if (f->outage_every != 0 && ++f->sends % f->outage_every == 0) {
		for (size_t i = f->qh; i < f->qt; i++) { /* the connection dies */
			f->q[i % QCAP].err = -EIO;
			f->naks++;
		}
		f->down_polls = 20;
	}
	if (f->lose_every != 0 && ++f->lose_sends % f->lose_every == 0) {
		f->losses += f->qt - f->qh; /* never stored, never acked */
		f->qh = f->qt;
		f->lost_pending = 1;
	}
	return 0;
}

static int fake_poll(struct bridge_sink *b, bridge_ack_fn fn, void *ctx)
{
	struct fake_sink *f = (struct fake_sink *)b;
	int n = 0;
	if (f->down_polls > 0)
		f->down_polls--;
	if (f->lost_pending) {
		f->lost_pending = 0;
		fn(ctx, BRIDGE_ACK_ALL_LOST, 0, 0, -EIO);
		n++;
	}
	for (; n < 64 && f->qh < f->qt; n++) {
		struct fake_ack a = f->q[f->qh++ % QCAP];
		if (a.err == 0) {
			assert_true(a.seq >= 1 && a.seq <= N_EVENTS);
			if (f->have[a.seq])
				f->dups++; /* dropped, as a broker's dedup does */
			else
				f->stored[f->nstored++] = a.seq;
			f->have[a.seq] = 1;
		}
		fn(ctx, a.pos, a.source, a.seq, a.err);
	}
	return n;
}

static int fake_connected(struct bridge_sink *b)
{
	return ((struct fake_sink *)b)->down_polls == 0;
}

static uint64_t fake_reconnects(struct bridge_sink *b)
{
	(void)b;
	return 0;
}

static int fake_flush(struct bridge_sink *b, int timeout_ms)
{
	(void)b;
	(void)timeout_ms;
	return 0;
}

static void fake_destroy(struct bridge_sink *b)
{
	(void)b; /* owned by the test */
}

static const struct bridge_sink_ops fake_ops = {
	.name = "fake",
	.send = fake_send,
	.poll = fake_poll,
	.connected = fake_connected,
	.reconnects = fake_reconnects,
	.flush = fake_flush,
	.destroy = fake_destroy,
};

static struct fake_sink *fake_new(unsigned sync_fail_pct, unsigned outage_every,
				  unsigned lose_every)
{
	struct fake_sink *f = calloc(1, sizeof *f);
	assert_non_null(f);
	f->base.ops = &fake_ops;
	f->base.enc = BRIDGE_ENC_BINARY;
	f->rng = 12345u;
	f->sync_fail_pct = sync_fail_pct;
	f->outage_every = outage_every;
	f->lose_every = lose_every;
	return f;
}

static void gen(uint32_t i, struct shmbus_trade *t)
{
	memset(t, 0, sizeof *t);
	t->h.type = SHMBUS_EV_TRADE;
	t->h.version = 1;
	t->h.size = sizeof *t;
	t->h.source_id = SOURCE;
	t->h.symbol_id = g_sym[i % N_SYMS];
	t->h.seq = i + 1;
	t->h.event_time_ns = 1700000000000000000LL + i;
	t->price = i * 0.5;
	t->size = i % 50 + 1;
}

static shmbus_bus *bus_with_symbols(void)
{
	shmbus_bus *bus = NULL;
	assert_int_equal(shmbus_bus_create(NULL, NULL, &bus), 0);
	for (uint32_t s = 0; s < N_SYMS; s++) {
		char name[8];
		snprintf(name, sizeof name, "C%u", s);
		g_sym[s] = (uint32_t)shmbus_symbol_intern(bus, name, strlen(name));
	}
	return bus;
}

static void core_config(struct bridge_core_config *cc)
{
	bridge_core_config_init(cc);
	cc->enc = BRIDGE_ENC_BINARY;
	cc->window = 256;
	cc->retry_base_ms = 1; /* resends come fast; order must not depend on it */
	cc->retry_max_ms = 2;
	cc->sub.capacity = 32768;
}

static void publish(shmbus_bus *bus, uint32_t from, uint32_t to)
{
	struct shmbus_producer_opts po;
	shmbus_producer *p = NULL;
	shmbus_producer_opts_init(&po);
	po.source_id = SOURCE;
	assert_int_equal(shmbus_producer_open(bus, &po, &p), 0);
	for (uint32_t i = from; i < to; i++) {
		struct shmbus_trade t;
		gen(i, &t);
		assert_int_equal(shmbus_publish(p, &t), 1);
	}
	shmbus_producer_close(p);
}

/* Step until `want` events are acknowledged (bounded by a step count). */
static void run_until_acked(struct bridge *b, uint64_t want)
{
	struct bridge_stats st;
	for (long i = 0; i < 2000000; i++) {
		bridge_step(b, 0);
		bridge_get_stats(b, &st);
		if (st.acked >= want && st.inflight == 0)
			return;
	}
	fail_msg("only %llu of %llu events acknowledged", (unsigned long long)st.acked,
		 (unsigned long long)want);
}

/* Stored exactly seqs from..to, each once, in per-symbol order. */
static void check_stored(const struct fake_sink *f, uint64_t from, uint64_t to)
{
	uint64_t last[N_SYMS] = {0};
	assert_int_equal(f->nstored, to - from + 1);
	assert_int_equal(f->dups, 0);
	for (size_t i = 0; i < f->nstored; i++) {
		uint64_t seq = f->stored[i];
		uint32_t s = (uint32_t)((seq - 1) % N_SYMS);
		if (seq < from || seq > to)
			fail_msg("seq %llu stored, outside %llu..%llu", (unsigned long long)seq,
				 (unsigned long long)from, (unsigned long long)to);
		if (seq <= last[s])
			fail_msg("symbol %u: seq %llu stored after %llu", s, (unsigned long long)seq,
				 (unsigned long long)last[s]);
		last[s] = seq;
	}
}

static void export_with_faults(unsigned sync_fail_pct, unsigned outage_every, unsigned lose_every)
{
	char err[512];
	struct bridge *b = NULL;
	struct bridge_core_config cc;
	struct bridge_stats st;
	shmbus_bus *bus = bus_with_symbols();
	struct fake_sink *f = fake_new(sync_fail_pct, outage_every, lose_every);
	struct bridge_sink *sink = &f->base;
	core_config(&cc);
	if (bridge_open(bus, &cc, &sink, 1, &b, err, sizeof err) != 0)
		fail_msg("%s", err);
	publish(bus, 0, N_EVENTS);
	run_until_acked(b, N_EVENTS);
	bridge_get_stats(b, &st);
	assert_true(f->sync_fails > 0 || f->naks > 0 || f->losses > 0); /* the faults did happen */
	assert_true(st.resent > 0);
	assert_int_equal(st.acked, N_EVENTS);
	assert_int_equal(bridge_acked_seq(b, SOURCE), N_EVENTS);
	check_stored(f, 1, N_EVENTS);
	bridge_close(b);
	shmbus_bus_close(bus);
	free(f);
}

static void test_bridge_core_failed_sends_keep_order(void **state)
{
	(void)state;
	export_with_faults(3, 0, 0);
}

static void test_bridge_core_outages_keep_order(void **state)
{
	(void)state;
	export_with_faults(1, 2500, 0);
}

/* The sink's client is replaced now and then and every ack it held is
 * lost (BRIDGE_ACK_ALL_LOST): each lost send goes out again, in order. */
static void test_bridge_core_lost_acks_resent(void **state)
{
	(void)state;
	export_with_faults(0, 0, 3000);
}

static void make_journal(const char *dir, uint32_t n)
{
	struct shmbus_journal_writer *w = NULL;
	mkdir(dir, 0700);
	assert_int_equal(shmbus_journal_writer_open(dir, "jt", NULL, &w, NULL, NULL), 0);
	for (uint32_t i = 0; i < n; i++) {
		struct shmbus_trade t;
		gen(i, &t);
		assert_int_equal(shmbus_journal_writer_append(w, &t.h), 0);
	}
	assert_int_equal(shmbus_journal_writer_close(w), 0);
}

/* Catch-up from `ckpt` (NULL: none) and journal `jdir`, then the ring.
 * Returns what bridge_catchup returned; *skipped: events not sent again. */
static int64_t catchup_then_live(shmbus_bus *bus, struct fake_sink *f, const char *ckpt,
				 const char *jdir, int from_start, uint64_t want, uint64_t *skipped)
{
	struct bridge_stats st;
	char err[512] = "";
	struct bridge *b = NULL;
	struct bridge_core_config cc;
	struct bridge_sink *sink = &f->base;
	core_config(&cc);
	cc.checkpoint = ckpt;
	cc.journal_dir = jdir;
	cc.journal_bus = "jt";
	cc.from_journal_start = from_start;
	if (bridge_open(bus, &cc, &sink, 1, &b, err, sizeof err) != 0)
		fail_msg("%s", err);
	int64_t n = bridge_catchup(b, NULL, err, sizeof err);
	if (n < 0)
		fail_msg("catch-up: %s", err);
	run_until_acked(b, want);
	for (int i = 0; i < 200; i++) /* the ring's rest: all already sent */
		bridge_step(b, 0);
	if (bridge_drain(b, 5000, err, sizeof err) != 0)
		fail_msg("drain: %s", err);
	bridge_get_stats(b, &st);
	*skipped = st.skipped;
	bridge_close(b);
	return n;
}

static void test_bridge_core_handover_sends_each_once(void **state)
{
	char dir[] = "/tmp/shmbus-bridge-core-XXXXXX", jdir[64], ckpt[64];
	struct bridge_srcmap m;
	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(jdir, sizeof jdir, "%s/journal", dir);
	snprintf(ckpt, sizeof ckpt, "%s/ckpt", dir);
	shmbus_bus *bus = bus_with_symbols();
	make_journal(jdir, N_EVENTS);
	/* Exported up to 5000 before a crash; the ring still holds 12000.. */
	assert_int_equal(bridge_srcmap_init(&m), 0);
	assert_int_equal(bridge_srcmap_set(&m, SOURCE, 5000, 1700000000000000000LL + 4999), 0);
	char err[256];
	assert_int_equal(bridge_ckpt_save(ckpt, &m, err, sizeof err), 0);
	bridge_srcmap_free(&m);
	struct bridge_core_config cc;
	shmbus_consumer *c = NULL;
	core_config(&cc);
	assert_int_equal(shmbus_subscribe(bus, cc.ring, &cc.sub, &c), 0);
	publish(bus, 12000, N_EVENTS);
	shmbus_consumer_close(c); /* the ring keeps them for the next bridge */
	struct fake_sink *f = fake_new(2, 0, 0);
	uint64_t skipped = 0;
	int64_t n = catchup_then_live(bus, f, ckpt, jdir, 0, N_EVENTS - 5000, &skipped);
	assert_true(n >= N_EVENTS - 5000);
	assert_true(skipped >= N_EVENTS - 12000); /* the ring's copies */
	check_stored(f, 5001, N_EVENTS);
	free(f);
	shmbus_bus_close(bus);
	char cmd[128];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
}

static void test_bridge_core_first_start_from_journal(void **state)
{
	char dir[] = "/tmp/shmbus-bridge-core-XXXXXX", jdir[64], ckpt[64];
	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(jdir, sizeof jdir, "%s/journal", dir);
	snprintf(ckpt, sizeof ckpt, "%s/ckpt", dir);
	make_journal(jdir, 3000);
	shmbus_bus *bus = bus_with_symbols();
	/* Default: a first start (no checkpoint) begins live and leaves the
	 * journal alone. */
	struct fake_sink *f = fake_new(0, 0, 0);
	uint64_t skipped = 0;
	assert_int_equal(catchup_then_live(bus, f, ckpt, jdir, 0, 0, &skipped), 0);
	assert_int_equal(f->nstored, 0);
	free(f);
	/* from_journal_start: the whole journal first, then live. */
	f = fake_new(0, 0, 0);
	assert_int_equal(catchup_then_live(bus, f, ckpt, jdir, 1, 3000, &skipped), 3000);
	check_stored(f, 1, 3000);
	free(f);
	assert_int_equal(access(ckpt, F_OK), 0); /* progress recorded */
	shmbus_bus_close(bus);
	char cmd[128];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bridge_core_failed_sends_keep_order),
		cmocka_unit_test(test_bridge_core_outages_keep_order),
		cmocka_unit_test(test_bridge_core_lost_acks_resent),
		cmocka_unit_test(test_bridge_core_handover_sends_each_once),
		cmocka_unit_test(test_bridge_core_first_start_from_journal),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
