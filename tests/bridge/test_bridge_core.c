/*
 * test_bridge_core.c - the bridge engine against a scripted fake sink
 * (no broker needed): per-symbol order and exactly-once survive failed
 * sends and outages that lose every send in flight, the journal/ring
 * hand-over after a checkpoint sends each event once, and a first start
 * exports the journal only with from_journal_start. The checkpoint loader
 * rejects every malformed value with its file and line; a checkpoint past
 * the journal's end is warned about; a journal that cannot be read makes
 * bridge_catchup (and shmbus-bridge) fail instead of going live.
 * shmbus-bridge's options: bad values and config lines are usage errors
 * named with their origin, found before the bus is attached; config
 * booleans mean what they say; the command line wins over --config.
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
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <shmbus/shmbus.h>
#include <shmbus/journal.h>

#include "bridge_ckpt.h"
#include "bridge_core.h"
#include "test_fs.h"

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
	int refuse;             /* NAK every send, as a broker that refuses them */
	unsigned invalid_every; /* refuse seqs that are multiples of N as invalid
				   (-EINVAL: never exportable; 0: none) */
	uint64_t sends, lose_sends, sync_fails, naks, dups, losses, calls;
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
	if (f->invalid_every != 0 && ev->seq % f->invalid_every == 0)
		return -EINVAL;
	if (f->down_polls > 0 || f->lost_pending || fake_rand(f) < f->sync_fail_pct) {
		f->sync_fails++;
		return -EAGAIN;
	}
	assert_true(f->qt - f->qh < QCAP);
	f->calls++;
	f->q[f->qt++ % QCAP] = (struct fake_ack){
	    .pos = pos, .seq = ev->seq, .source = ev->source_id, .err = f->refuse ? -EIO : 0};
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

/* Catch-up warnings (cfg.warn), one per line. */
static char g_warn[8192];
static unsigned g_nwarn;

static void capture_warn(void *ctx, const char *msg)
{
	size_t len = strlen(g_warn);
	(void)ctx;
	snprintf(g_warn + len, sizeof g_warn - len, "%s\n", msg);
	g_nwarn++;
}

static void warn_reset(void)
{
	g_warn[0] = '\0';
	g_nwarn = 0;
}

static void core_config(struct bridge_core_config *cc)
{
	bridge_core_config_init(cc);
	cc->enc = BRIDGE_ENC_BINARY;
	cc->window = 256;
	cc->retry_base_ms = 1; /* resends come fast; order must not depend on it */
	cc->retry_max_ms = 2;
	cc->sub.capacity = 32768;
	cc->warn = capture_warn;
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

/* A bridge over a fresh bus exporting to one fake sink. */
struct fake_run {
	shmbus_bus *bus;
	struct fake_sink *f;
	struct bridge *b;
};

static void fake_run_open(struct fake_run *r, const struct bridge_core_config *cc,
			  struct fake_sink *f)
{
	char err[512];
	struct bridge_sink *sink = &f->base;
	r->bus = bus_with_symbols();
	r->f = f;
	r->b = NULL;
	if (bridge_open(r->bus, cc, &sink, 1, &r->b, err, sizeof err) != 0)
		fail_msg("%s", err);
}

static void fake_run_close(struct fake_run *r)
{
	bridge_close(r->b);
	shmbus_bus_close(r->bus);
	free(r->f);
}

static void export_with_faults(unsigned sync_fail_pct, unsigned outage_every, unsigned lose_every)
{
	struct bridge_core_config cc;
	struct bridge_stats st;
	struct fake_run r;
	core_config(&cc);
	fake_run_open(&r, &cc, fake_new(sync_fail_pct, outage_every, lose_every));
	struct bridge *b = r.b;
	struct fake_sink *f = r.f;
	publish(r.bus, 0, N_EVENTS);
	run_until_acked(b, N_EVENTS);
	bridge_get_stats(b, &st);
	assert_true(f->sync_fails > 0 || f->naks > 0 || f->losses > 0); /* the faults did happen */
	assert_true(st.resent > 0);
	assert_int_equal(st.acked, N_EVENTS);
	assert_int_equal(bridge_acked_seq(b, SOURCE), N_EVENTS);
	check_stored(f, 1, N_EVENTS);
	fake_run_close(&r);
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

/* A broker that refuses every publish (a subject outside the stream) was
 * sent the same events again every 5-10 ms for as long as it refused: a
 * resend's NAK came back after the retry count was reset. The delay now
 * doubles with each refusal (here 10 ms up to 2 s) until an ack. */
static void test_bridge_core_refusals_back_off(void **state)
{
	struct bridge_core_config cc;
	struct fake_run r;
	(void)state;
	core_config(&cc);
	cc.retry_base_ms = 10;
	cc.retry_max_ms = 2000;
	fake_run_open(&r, &cc, fake_new(0, 0, 0));
	struct bridge *b = r.b;
	struct fake_sink *f = r.f;
	f->refuse = 1;
	publish(r.bus, 0, 10);
	for (int64_t end = shmbus_mono_ns() + 1000000000LL; shmbus_mono_ns() < end;)
		bridge_step(b, 200000);
	/* 10 events: at 5-10 ms a round, ~1500 sends in 1 s; doubling, < 100 */
	if (f->calls > 300)
		fail_msg("%llu sends in 1 s of refusals: no backoff", (unsigned long long)f->calls);
	/* the first sends and at least one resend (the first refused one
	 * alone: a probe, until the sink takes it) */
	assert_true(f->calls >= 11);
	f->refuse = 0;
	run_until_acked(b, 10);
	check_stored(f, 1, 10);
	fake_run_close(&r);
}

/* An event no sink can take (here refused as invalid) is released from
 * the window, but not as acknowledged: it was counted in acked, so acked
 * (and --max-events) said the broker had events it never got. Progress
 * still moves past it. */
static void test_bridge_core_unencodable_not_acked(void **state)
{
	struct bridge_core_config cc;
	struct bridge_stats st;
	struct fake_run r;
	(void)state;
	core_config(&cc);
	fake_run_open(&r, &cc, fake_new(0, 0, 0));
	r.f->invalid_every = 5;
	publish(r.bus, 0, 10);
	for (long i = 0; i < 100000; i++) {
		bridge_step(r.b, 0);
		bridge_get_stats(r.b, &st);
		if (st.received == 10 && st.inflight == 0)
			break;
	}
	assert_int_equal(st.received, 10);
	assert_int_equal(st.inflight, 0);
	assert_int_equal(r.f->nstored, 8);
	if (st.acked != 8)
		fail_msg("acked %llu, want the 8 the sink stored (seqs 5 and 10 refused)",
			 (unsigned long long)st.acked);
	assert_int_equal(st.unencodable, 2);
	assert_int_equal(bridge_acked_seq(r.b, SOURCE), 10);
	fake_run_close(&r);
}

/* A sink that is down is waited for with naps that grow to 10 ms: at a
 * fixed 200 us a bridge whose broker was down burnt ~10% of a core in
 * ~5000 wake-ups a second. Once the sink is back, everything goes out. */
static void test_bridge_core_down_sink_naps(void **state)
{
	struct bridge_core_config cc;
	struct fake_run r;
	(void)state;
	core_config(&cc);
	fake_run_open(&r, &cc, fake_new(0, 0, 0));
	struct bridge *b = r.b;
	struct fake_sink *f = r.f;
	f->down_polls = UINT_MAX;
	publish(r.bus, 0, 10);
	unsigned steps = 0;
	for (int64_t end = shmbus_mono_ns() + 1000000000LL; shmbus_mono_ns() < end; steps++)
		bridge_step(b, 50000000); /* the main loop's idle wait */
	/* ~110 naps in 1 s (10 ms each after the first few); ~4000 before */
	if (steps > 600)
		fail_msg("%u steps in 1 s with the sink down: it is polled, not waited for", steps);
	assert_int_equal(f->calls, 0);
	f->down_polls = 0;
	run_until_acked(b, 10);
	check_stored(f, 1, 10);
	fake_run_close(&r);
}

/* Counts and names checkpoint writes that fail; a checkpoint that cannot
 * be written at all stops bridge_open. Both used to be silent until the
 * stop (or a crash resumed from a stale checkpoint). */
static void test_bridge_core_checkpoint_failures_are_told(void **state)
{
	char dir[] = "/tmp/shmbus-bridge-core-XXXXXX", sub[64], ckpt[96], err[512] = "";
	struct bridge *b = NULL;
	struct bridge_core_config cc;
	struct bridge_stats st;
	shmbus_bus *bus = bus_with_symbols();
	struct fake_sink *f = fake_new(0, 0, 0);
	struct bridge_sink *sink = &f->base;
	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(sub, sizeof sub, "%s/gone", dir);
	snprintf(ckpt, sizeof ckpt, "%s/ckpt", sub);
	core_config(&cc);
	cc.checkpoint = ckpt;
	cc.checkpoint_interval_ns = 1000000;
	assert_int_equal(bridge_open(bus, &cc, &sink, 1, &b, err, sizeof err), -ENOENT);
	assert_non_null(strstr(err, "checkpoint: cannot create"));
	assert_non_null(strstr(err, sub));
	assert_int_equal(mkdir(sub, 0700), 0);
	warn_reset();
	if (bridge_open(bus, &cc, &sink, 1, &b, err, sizeof err) != 0)
		fail_msg("%s", err);
	assert_int_equal(tfs_rm_rf(sub), 0); /* the directory goes away */
	publish(bus, 0, 100);
	run_until_acked(b, 100);
	for (int i = 0; i < 20; i++)
		bridge_step(b, 1000000);
	bridge_get_stats(b, &st);
	assert_true(st.checkpoint_errors > 0);
	if (g_nwarn != 1 || strstr(g_warn, "checkpoint") == NULL || strstr(g_warn, sub) == NULL)
		fail_msg("want one warning naming the checkpoint, got %u: %s", g_nwarn, g_warn);
	assert_int_equal(mkdir(sub, 0700), 0); /* back: said so, and written */
	publish(bus, 100, 110);
	run_until_acked(b, 110);
	for (int i = 0; i < 20; i++)
		bridge_step(b, 1000000);
	assert_non_null(strstr(g_warn, "written again"));
	assert_int_equal(access(ckpt, F_OK), 0);
	bridge_close(b);
	shmbus_bus_close(bus);
	free(f);
	assert_int_equal(tfs_rm_rf(dir), 0);
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
	warn_reset();
	int64_t n = catchup_then_live(bus, f, ckpt, jdir, 0, N_EVENTS - 5000, &skipped);
	assert_true(n >= N_EVENTS - 5000);
	assert_true(skipped >= N_EVENTS - 12000); /* the ring's copies */
	check_stored(f, 5001, N_EVENTS);
	if (g_nwarn != 0) /* the journal reaches the checkpoint: nothing to say */
		fail_msg("unexpected warning: %s", g_warn);
	free(f);
	shmbus_bus_close(bus);
	assert_int_equal(tfs_rm_rf(dir), 0);
}

/* Journal events from..to-1 (gen) in a new segment of journal dir. */
static void append_journal(const char *dir, uint32_t from, uint32_t to)
{
	struct shmbus_journal_writer *w = NULL;
	mkdir(dir, 0700);
	assert_int_equal(shmbus_journal_writer_open(dir, "jt", NULL, &w, NULL, NULL), 0);
	for (uint32_t i = from; i < to; i++) {
		struct shmbus_trade t;
		gen(i, &t);
		assert_int_equal(shmbus_journal_writer_append(w, &t.h), 0);
	}
	assert_int_equal(shmbus_journal_writer_close(w), 0);
}

struct late_journal {
	const char *dir;
	uint32_t from, to;
	int delay_ms;
	char torn[400]; /* "": append a segment; else: the torn segment to complete */
	char *bytes;    /* its whole content */
	size_t len;
};

/* A journaller behind the bus: what it writes lands delay_ms late. */
static void *late_journal_thread(void *arg)
{
	struct late_journal *l = arg;
	struct timespec ts = {l->delay_ms / 1000, (l->delay_ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
	if (l->torn[0] == '\0') {
		append_journal(l->dir, l->from, l->to);
		return NULL;
	}
	FILE *f = fopen(l->torn, "r+");
	if (f != NULL) { /* the block in progress is finished */
		fwrite(l->bytes, 1, l->len, f);
		fclose(f);
	}
	return NULL;
}

/* Journal events from..to-1 as one new segment of dir whose last block is
 * still being written (cut short); l gets what completes it. */
static void torn_segment(const char *dir, uint32_t from, uint32_t to, struct late_journal *l)
{
	char stage[96], path[400];
	snprintf(stage, sizeof stage, "%s.stage", dir);
	append_journal(stage, from, to);
	DIR *d = opendir(stage);
	struct dirent *de;
	assert_non_null(d);
	while ((de = readdir(d)) != NULL && strstr(de->d_name, ".shj") == NULL)
		;
	assert_non_null(de);
	snprintf(path, sizeof path, "%s/%s", stage, de->d_name);
	snprintf(l->torn, sizeof l->torn, "%s/%s", dir, de->d_name);
	closedir(d);
	struct stat st;
	assert_int_equal(stat(path, &st), 0);
	l->len = (size_t)st.st_size;
	l->bytes = tfs_slurp(path); /* binary: its length is the file's */
	assert_non_null(l->bytes);
	FILE *f = fopen(l->torn, "w");
	assert_non_null(f);
	assert_int_equal(fwrite(l->bytes, 1, l->len - 100, f), l->len - 100);
	fclose(f);
	assert_int_equal(tfs_rm_rf(stage), 0);
}

/*
 * A bridge restarting on bus with the checkpoint ckpt saying SOURCE was
 * exported up to seq 500, catching up from journal jdir with a hand-over
 * timeout and a catch-up slack (-2: the default), into a fake sink *f.
 * Warnings are reset.
 */
static struct bridge *restarted_bridge(shmbus_bus *bus, const char *ckpt, const char *jdir,
				       int64_t timeout_ms, int64_t slack_ns, struct fake_sink **f)
{
	struct bridge_srcmap m;
	char err[512] = "";
	assert_int_equal(bridge_srcmap_init(&m), 0);
	assert_int_equal(bridge_srcmap_set(&m, SOURCE, 500, 1700000000000000000LL + 499), 0);
	assert_int_equal(bridge_ckpt_save(ckpt, &m, err, sizeof err), 0);
	bridge_srcmap_free(&m);
	*f = fake_new(0, 0, 0);
	struct bridge_sink *sink = &(*f)->base;
	struct bridge *b = NULL;
	struct bridge_core_config cc;
	core_config(&cc);
	cc.checkpoint = ckpt;
	cc.journal_dir = jdir; /* journal_bus NULL: this bus's own journal */
	cc.handover_timeout_ms = timeout_ms;
	if (slack_ns != -2)
		cc.catchup_slack_ns = slack_ns;
	warn_reset();
	if (bridge_open(bus, &cc, &sink, 1, &b, err, sizeof err) != 0)
		fail_msg("%s", err);
	return b;
}

/*
 * Events published while the bridge was down (3000 of them, before its
 * ring was subscribed) reach it only through the journal, and the
 * journaller had written 1000 when the bridge came back: the catch-up
 * read to the journal's end and went live, and 1001..3000 were never
 * exported, silently (the fault probe lost 3556 that way). It now reads
 * on until the journal holds what the bus's counters showed at
 * subscription; when the journal never gets there it says which source
 * and seqs are missing.
 */
static void test_bridge_core_handover_waits_for_a_late_journal(void **state)
{
	char dir[] = "/tmp/shmbus-bridge-core-XXXXXX", jdir[64], ckpt[64], err[512] = "";
	struct shmbus_producer_opts po;
	shmbus_producer *p = NULL;
	pthread_t th;
	(void)state;
	/* late 2: the journaller is writing the block that holds them (a torn
	 * block at the newest segment's end: not damage, no warning) */
	for (int late = 2; late >= 0; late--) {
		assert_non_null(mkdtemp(dir));
		snprintf(jdir, sizeof jdir, "%s/journal", dir);
		snprintf(ckpt, sizeof ckpt, "%s/ckpt", dir);
		shmbus_bus *bus = bus_with_symbols();
		shmbus_producer_opts_init(&po);
		po.source_id = SOURCE;
		assert_int_equal(shmbus_producer_open(bus, &po, &p), 0);
		for (uint32_t i = 0; i < 3000; i++) { /* the bus numbers them 1..3000 */
			struct shmbus_trade t;
			gen(i, &t);
			t.h.seq = 0;
			assert_int_equal(shmbus_publish(p, &t), 0); /* no ring takes trades yet */
		}
		if (late == 1) { /* a producer gone before the bridge starts counts too */
			shmbus_producer_close(p);
			p = NULL;
		}
		append_journal(jdir, 0, 1000);
		struct fake_sink *f;
		struct bridge *b = restarted_bridge(bus, ckpt, jdir, late ? 10000 : 300, -2, &f);
		struct late_journal lj = {.dir = jdir, .from = 1000, .to = 3000, .delay_ms = 300};
		if (late == 2)
			torn_segment(jdir, 1000, 3000, &lj);
		if (late)
			assert_int_equal(pthread_create(&th, NULL, late_journal_thread, &lj), 0);
		int64_t n = bridge_catchup(b, NULL, err, sizeof err);
		if (late)
			pthread_join(th, NULL);
		free(lj.bytes);
		if (n < 0)
			fail_msg("catch-up: %s", err);
		assert_int_equal(n, late ? 3000 : 1000); /* read; 1..500 skipped as exported */
		run_until_acked(b, late ? 2500 : 500);
		check_stored(f, 501, late ? 3000 : 1000);
		if (late && g_nwarn != 0)
			fail_msg("unexpected warning: %s", g_warn);
		if (!late && (g_nwarn != 1 || strstr(g_warn, "hand-over") == NULL ||
			      strstr(g_warn, "up to seq 1000") == NULL ||
			      strstr(g_warn, "up to seq 3000") == NULL))
			fail_msg("want one hand-over warning naming seqs 1000 and 3000, got %u: %s",
				 g_nwarn, g_warn);
		bridge_close(b);
		shmbus_producer_close(p);
		shmbus_bus_close(bus);
		free(f);
		assert_int_equal(tfs_rm_rf(dir), 0);
		memcpy(dir + strlen(dir) - 6, "XXXXXX", 6);
	}
}

/*
 * A source whose events all lie before the catch-up's t_from (another
 * collector that published long before the checkpointed one) is not read
 * by the catch-up; the hand-over finds its last seq at the journal's end
 * (one backward pass for all such sources) instead of waiting for events
 * the journal already holds. Those events were not exported, though: the
 * catch-up says so for each such source (it could not tell whether they
 * were published while the bridge was down) and names the remedy.
 */
static void test_bridge_core_handover_finds_sources_before_t_from(void **state)
{
	char dir[] = "/tmp/shmbus-bridge-core-XXXXXX", jdir[64], ckpt[64], err[512] = "";
	struct shmbus_producer_opts po;
	shmbus_producer *p[3] = {NULL, NULL, NULL};
	struct shmbus_journal_writer *w = NULL;
	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(jdir, sizeof jdir, "%s/journal", dir);
	snprintf(ckpt, sizeof ckpt, "%s/ckpt", dir);
	shmbus_bus *bus = bus_with_symbols();
	mkdir(jdir, 0700);
	assert_int_equal(shmbus_journal_writer_open(jdir, "jt", NULL, &w, NULL, NULL), 0);
	for (uint32_t k = 0; k < 3; k++) { /* SOURCE, then two early ones */
		shmbus_producer_opts_init(&po);
		po.source_id = SOURCE + k;
		assert_int_equal(shmbus_producer_open(bus, &po, &p[k]), 0);
		for (uint32_t i = 0; i < 1000; i++) {
			struct shmbus_trade t;
			gen(i, &t);
			t.h.source_id = SOURCE + k;
			if (k > 0) /* an hour before SOURCE's events */
				t.h.event_time_ns -= 3600 * 1000000000LL;
			assert_int_equal(shmbus_journal_writer_append(w, &t.h), 0);
			t.h.seq = 0;
			assert_int_equal(shmbus_publish(p[k], &t), 0); /* no ring yet */
		}
	}
	assert_int_equal(shmbus_journal_writer_close(w), 0);
	struct fake_sink *f;
	/* t_from: 1 us before SOURCE's checkpoint */
	struct bridge *b = restarted_bridge(bus, ckpt, jdir, 300, 1000, &f);
	int64_t n = bridge_catchup(b, NULL, err, sizeof err);
	if (n < 0)
		fail_msg("catch-up: %s", err);
	/* No hand-over warning (the journal holds their seqs), but their
	 * events were not read, so not exported: that is said, once per
	 * source (they used to count as caught up, silently). */
	if (g_nwarn != 2 || strstr(g_warn, "hand-over") != NULL ||
	    strstr(g_warn, "lie before the catch-up's start") == NULL)
		fail_msg("want 2 warnings about sources before the catch-up's start, got %u: %s",
			 g_nwarn, g_warn);
	bridge_close(b);
	for (int k = 0; k < 3; k++)
		shmbus_producer_close(p[k]);
	shmbus_bus_close(bus);
	free(f);
	assert_int_equal(tfs_rm_rf(dir), 0);
}

/* A ring declared before the bridge starts (shmbusctl does it from the
 * config) keeps its size, policy and filter: the bridge no longer fails on
 * its own default capacity nor replaces the declared filter. A --capacity
 * given and different is still an error. */
static void test_bridge_core_adopts_a_declared_ring(void **state)
{
	char err[512] = "";
	(void)state;
	shmbus_bus *bus = bus_with_symbols();
	struct shmbus_sub_opts so;
	shmbus_sub_opts_init(&so);
	so.types = SHMBUS_TYPE_BIT(SHMBUS_EV_TRADE);
	so.symbols = &g_sym[1];
	so.nsymbols = 1;
	so.capacity = 1024;
	so.policy = SHMBUS_POLICY_DROP;
	assert_int_equal(shmbus_ring_declare(bus, "bridge", &so), 0);
	struct fake_sink *f = fake_new(0, 0, 0);
	struct bridge_sink *sink = &f->base;
	struct bridge *b = NULL;
	struct bridge_core_config cc;
	core_config(&cc); /* capacity 32768, policy block: the bridge's own defaults */
	warn_reset();
	if (bridge_open(bus, &cc, &sink, 1, &b, err, sizeof err) != 0)
		fail_msg("%s", err);
	struct shmbus_ring_stat rs;
	int idx = shmbus_stat_find_ring(bus, "bridge");
	assert_true(idx >= 0);
	assert_int_equal(shmbus_stat_ring(bus, (uint32_t)idx, &rs), 0);
	assert_int_equal(rs.capacity, 1024);
	assert_int_equal(rs.policy, SHMBUS_POLICY_DROP);
	assert_int_equal(rs.types, SHMBUS_TYPE_BIT(SHMBUS_EV_TRADE));
	assert_int_equal(rs.nsymbols, 1);
	bridge_close(b);
	b = NULL;
	cc.sub_given = BRIDGE_SUB_CAPACITY; /* --capacity 32768 */
	assert_true(bridge_open(bus, &cc, &sink, 1, &b, err, sizeof err) < 0);
	if (strstr(err, "exists with capacity 1024") == NULL)
		fail_msg("want the ring's capacity named, got: %s", err);
	free(f);
	shmbus_bus_close(bus);
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
	assert_int_equal(tfs_rm_rf(dir), 0);
}

/* Journal `jdir` of seqs 1..16: trades of symbols 0..7, but seqs 5 and
 * 13 (symbol 4's) as events of type `type` (a heartbeat: about no
 * symbol). */
static void make_mixed_journal(const char *jdir, uint16_t type)
{
	struct shmbus_journal_writer *w = NULL;
	mkdir(jdir, 0700);
	assert_int_equal(shmbus_journal_writer_open(jdir, "jt", NULL, &w, NULL, NULL), 0);
	for (uint32_t i = 0; i < 16; i++) {
		union {
			struct shmbus_trade t;
			struct shmbus_quote q;
			struct shmbus_heartbeat hb;
		} ev;
		gen(i, &ev.t);
		if (i % N_SYMS == 4) {
			memset(&ev, 0, sizeof ev);
			ev.t.h = (struct shmbus_event_header){
			    .type = type,
			    .version = 1,
			    .size = type == SHMBUS_EV_HEARTBEAT ? sizeof ev.hb : sizeof ev.q,
			    .source_id = SOURCE,
			    .symbol_id = type == SHMBUS_EV_HEARTBEAT ? 0 : g_sym[4],
			    .seq = i + 1};
		}
		assert_int_equal(shmbus_journal_writer_append(w, &ev.t.h), 0);
	}
	assert_int_equal(shmbus_journal_writer_close(w), 0);
}

/* Export journal `jdir` from its start (filter `sub`), then check that
 * exactly want[0..n-1] were stored, in that order. */
static void expect_catchup(struct fake_run *r, const char *jdir, const struct shmbus_sub_opts *sub,
			   const uint64_t *want, size_t n)
{
	char err[512] = "";
	struct bridge_core_config cc;
	struct bridge_sink *sink = &r->f->base;
	core_config(&cc);
	cc.journal_dir = jdir;
	cc.journal_bus = "jt";
	cc.from_journal_start = 1;
	cc.sub = *sub;
	cc.sub.capacity = 32768;
	if (bridge_open(r->bus, &cc, &sink, 1, &r->b, err, sizeof err) != 0)
		fail_msg("%s", err);
	if (bridge_catchup(r->b, NULL, err, sizeof err) < 0)
		fail_msg("catch-up: %s", err);
	for (int i = 0; i < 200; i++)
		bridge_step(r->b, 0);
	if (r->f->nstored != n)
		fail_msg("%zu events exported from the journal, want %zu", r->f->nstored, n);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(r->f->stored[i], want[i]);
}

/* A catch-up test's bus, its symbols interned (by a bridge opened and
 * closed at once), and a journal folder jdir in a new folder dir. */
static void catchup_env(struct fake_run *r, char *dir, char *jdir, size_t jlen)
{
	struct bridge_core_config cc;
	assert_non_null(mkdtemp(dir));
	snprintf(jdir, jlen, "%s/journal", dir);
	core_config(&cc);
	fake_run_open(r, &cc, fake_new(0, 0, 0));
	bridge_close(r->b);
}

/* Events about no symbol (heartbeats) pass a --symbols filter in the
 * ring, and the catch-up exports what the ring would take; its filter
 * dropped them, so the heartbeats published while the bridge was down
 * were never exported while the live ones were. */
static void test_bridge_core_catchup_symbol_filter_passes_heartbeats(void **state)
{
	char dir[] = "/tmp/shmbus-bridge-core-XXXXXX", jdir[64];
	struct shmbus_sub_opts sub;
	struct fake_run r;
	(void)state;
	catchup_env(&r, dir, jdir, sizeof jdir);
	make_mixed_journal(jdir, SHMBUS_EV_HEARTBEAT);
	shmbus_sub_opts_init(&sub);
	sub.symbols = &g_sym[0];
	sub.nsymbols = 1;
	/* symbol 0's trades (seqs 1, 9) and both heartbeats (5, 13), in order */
	static const uint64_t want[] = {1, 5, 9, 13};
	expect_catchup(&r, jdir, &sub, want, 4);
	fake_run_close(&r);
	assert_int_equal(tfs_rm_rf(dir), 0);
}

/* The bridge restarted on a ring declared (shmbusctl, from the config) with
 * filter `declared`, given no --types or --symbols, catches up from a
 * journal of trades and quotes: it must export exactly `want`, without
 * the warning that the ring's symbol list cannot be read. */
static void catchup_declared(struct shmbus_sub_opts *declared, const uint64_t *want, size_t n)
{
	char dir[] = "/tmp/shmbus-bridge-core-XXXXXX", jdir[64];
	struct shmbus_sub_opts sub;
	struct fake_run r;
	catchup_env(&r, dir, jdir, sizeof jdir);
	assert_int_equal(shmbus_ring_remove(r.bus, "bridge"), 0);
	declared->capacity = 32768;
	assert_int_equal(shmbus_ring_declare(r.bus, "bridge", declared), 0);
	make_mixed_journal(jdir, SHMBUS_EV_QUOTE);
	shmbus_sub_opts_init(&sub); /* no --types, no --symbols */
	warn_reset();
	expect_catchup(&r, jdir, &sub, want, n);
	if (strstr(g_warn, "cannot read that list") != NULL)
		fail_msg("warned: %s", g_warn);
	fake_run_close(&r);
	assert_int_equal(tfs_rm_rf(dir), 0);
}

/* A declared ring keeps its type filter when the bridge is given no
 * --types, so only its types are exported live; the catch-up went by the
 * bridge's own (empty) filter and exported every type the journal held
 * after a restart. */
static void test_bridge_core_catchup_takes_a_declared_ring_types(void **state)
{
	struct shmbus_sub_opts sub;
	(void)state;
	shmbus_sub_opts_init(&sub);
	sub.types = SHMBUS_TYPE_BIT(SHMBUS_EV_TRADE);
	/* the trades only: not the quotes at seqs 5 and 13 */
	static const uint64_t want[] = {1, 2, 3, 4, 6, 7, 8, 9, 10, 11, 12, 14, 15, 16};
	catchup_declared(&sub, want, 14);
}

/* A declared ring's symbol filter is the catch-up's too: the catch-up
 * could not read the list through the public API, warned, and exported
 * every symbol the journal held after a restart while the ring took two. */
static void test_bridge_core_catchup_takes_a_declared_ring_symbols(void **state)
{
	struct shmbus_sub_opts sub;
	(void)state;
	const uint32_t syms[] = {g_sym[4], g_sym[0]};
	shmbus_sub_opts_init(&sub);
	sub.symbols = syms;
	sub.nsymbols = 2;
	/* symbol 0's trades (seqs 1, 9) and symbol 4's quotes (5, 13) */
	static const uint64_t want[] = {1, 5, 9, 13};
	catchup_declared(&sub, want, 4);
}

static void rm_rf(const char *dir)
{
	assert_int_equal(tfs_rm_rf(dir), 0);
}

static void write_file(const char *path, const char *text, size_t len)
{
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	assert_int_equal(fwrite(text, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
}

/* Load `text` as a checkpoint: the return code, the error in err. */
static int load_text(const char *path, const char *text, size_t len, struct bridge_srcmap *m,
		     char *err, size_t errlen)
{
	write_file(path, text, len);
	err[0] = '\0';
	bridge_srcmap_free(m);
	assert_int_equal(bridge_srcmap_init(m), 0);
	return bridge_ckpt_load(path, m, err, errlen);
}

/* Rejected with -EBADMSG, an error naming path:line and containing `why`. */
static void expect_bad(const char *path, const char *text, size_t len, unsigned line,
		       const char *why)
{
	char err[600], where[300];
	struct bridge_srcmap m = {0};
	int rc = load_text(path, text, len, &m, err, sizeof err);
	snprintf(where, sizeof where, "(%s:%u)", path, line);
	if (rc != -EBADMSG || strstr(err, where) == NULL || strstr(err, why) == NULL)
		fail_msg("checkpoint %.*s: rc %d, err '%s' (want -EBADMSG, '%s', '%s')", (int)len,
			 text, rc, err, why, where);
	bridge_srcmap_free(&m);
}

#define MAGIC "shmbus-bridge-checkpoint 1\n"
#define EXPECT_BAD(path, lit, line, why) expect_bad(path, lit, sizeof(lit) - 1, line, why)

/* A value sscanf wrapped or saturated (seq -1 or 10^23 became 2^64-1, so
 * every event was skipped as already sent) is an error with file:line. */
static void test_bridge_core_ckpt_rejects_bad_values(void **state)
{
	char dir[] = "/tmp/shmbus-bridge-core-XXXXXX", path[64], err[600];
	struct bridge_srcmap m = {0};
	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof path, "%s/ckpt", dir);
	EXPECT_BAD(path, MAGIC "77 -1 1\n", 2, "seq '-1'");
	EXPECT_BAD(path, MAGIC "77 99999999999999999999999 1\n", 2, "seq '99999");
	EXPECT_BAD(path, MAGIC "77 18446744073709551616 1\n", 2, "seq '18446744073709551616'");
	EXPECT_BAD(path, MAGIC "77 +5 1\n", 2, "seq '+5'");
	EXPECT_BAD(path, MAGIC "77 0 1\n", 2, "seq '0'");
	EXPECT_BAD(path, MAGIC "77 0x10 1\n", 2, "seq '0x10'");
	EXPECT_BAD(path, MAGIC "-4294967219 10 1\n", 2, "source id '-4294967219'");
	EXPECT_BAD(path, MAGIC "4294967296 10 1\n", 2, "source id '4294967296'");
	EXPECT_BAD(path, MAGIC "77 10 9223372036854775808\n", 2, "event time");
	EXPECT_BAD(path, MAGIC "77 10 -9223372036854775809\n", 2, "event time");
	EXPECT_BAD(path, MAGIC "77 10 1x\n", 2, "event time '1x'");
	EXPECT_BAD(path, MAGIC "1 5 5\n77 10 1 garbage\n", 3, "unexpected text 'garbage'");
	EXPECT_BAD(path, MAGIC "77 10 1\0garbage\n", 2, "NUL byte");
	EXPECT_BAD(path, MAGIC "77 5\n", 2, "expected '<source> <seq> <event_time_ns>'");
	EXPECT_BAD(path, MAGIC "77 10 1", 2, "no newline");
	EXPECT_BAD(path, MAGIC "77 10 1\n\n", 3, "empty line");
	EXPECT_BAD(path, MAGIC "77 10 1\n77 11 2\n", 3, "source 77 appears twice");
	/* The extremes are valid and come back exactly. */
	const char ok[] = MAGIC "4294967295 18446744073709551615 -9223372036854775808\n"
			  "0 1 9223372036854775807\n";
	assert_int_equal(load_text(path, ok, sizeof ok - 1, &m, err, sizeof err), 0);
	const struct bridge_src *e = bridge_srcmap_get(&m, UINT32_MAX);
	assert_non_null(e);
	assert_true(e->seq == UINT64_MAX && e->event_time_ns == INT64_MIN);
	assert_non_null(e = bridge_srcmap_get(&m, 0));
	assert_true(e->seq == 1 && e->event_time_ns == INT64_MAX);
	/* What bridge_ckpt_save writes, bridge_ckpt_load reads. */
	assert_int_equal(bridge_ckpt_save(path, &m, err, sizeof err), 0);
	bridge_srcmap_free(&m);
	assert_int_equal(bridge_srcmap_init(&m), 0);
	assert_int_equal(bridge_ckpt_load(path, &m, err, sizeof err), 0);
	assert_int_equal(m.n, 2);
	assert_true(bridge_srcmap_get(&m, UINT32_MAX)->seq == UINT64_MAX);
	bridge_srcmap_free(&m);
	rm_rf(dir);
}

/* A directory, a line longer than the reader's buffer and an unknown
 * version were reported as an empty file, at a line that does not exist,
 * or accepted as version 1. */
static void test_bridge_core_ckpt_reports_file_problems(void **state)
{
	char dir[] = "/tmp/shmbus-bridge-core-XXXXXX", path[64], sub[64], err[600], text[600];
	struct bridge_srcmap m;
	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof path, "%s/ckpt", dir);
	snprintf(sub, sizeof sub, "%s/isdir.ckpt", dir);
	assert_int_equal(mkdir(sub, 0700), 0);
	assert_int_equal(bridge_srcmap_init(&m), 0);
	int rc = bridge_ckpt_load(sub, &m, err, sizeof err);
	if (rc != -EISDIR || strstr(err, "directory") == NULL || strstr(err, sub) == NULL)
		fail_msg("directory as checkpoint: rc %d, err '%s'", rc, err);
	bridge_srcmap_free(&m);
	/* 300 blanks after a valid entry: one line 2, too long. */
	int n = snprintf(text, sizeof text, MAGIC "77 10 1%300s\n5 5 5\n", "");
	expect_bad(path, text, (size_t)n, 2, "line too long");
	EXPECT_BAD(path, "shmbus-bridge-checkpoint 12345\n77 10 1\n", 1,
		   "unsupported checkpoint version 12345");
	EXPECT_BAD(path, "shmbus-bridge-checkpoint 2\n77 10 1\n", 1,
		   "unsupported checkpoint version 2");
	EXPECT_BAD(path, "shmbus-bridge-checkpoint 1x\n77 10 1\n", 1, "bad checkpoint version");
	EXPECT_BAD(path, "shmbus-bridge-checkpoint 1 2\n77 10 1\n", 1, "bad checkpoint version");
	EXPECT_BAD(path, "shmbus-bridge-checkpoint\n77 10 1\n", 1, "not a bridge checkpoint");
	EXPECT_BAD(path, "shmbus-bridge-chec", 1, "not a bridge checkpoint");
	EXPECT_BAD(path, "shmbus-bridge-checkpoint10\n", 1, "not a bridge checkpoint");
	write_file(path, "", 0);
	assert_int_equal(bridge_srcmap_init(&m), 0);
	assert_int_equal(bridge_ckpt_load(path, &m, err, sizeof err), -EBADMSG);
	assert_non_null(strstr(err, "empty file"));
	bridge_srcmap_free(&m);
	rm_rf(dir);
}

/* Open a bridge on `ckpt` and journal `jdir` ("jt") and catch up; the
 * warnings land in g_warn. Returns what bridge_catchup returned. */
static int64_t catchup_only(const char *ckpt, const char *jdir, char *err, size_t errlen)
{
	struct bridge *b = NULL;
	struct bridge_core_config cc;
	shmbus_bus *bus = bus_with_symbols();
	struct fake_sink *f = fake_new(0, 0, 0);
	struct bridge_sink *sink = &f->base;
	core_config(&cc);
	cc.checkpoint = ckpt;
	cc.journal_dir = jdir;
	cc.journal_bus = "jt";
	if (bridge_open(bus, &cc, &sink, 1, &b, err, errlen) != 0)
		fail_msg("%s", err);
	warn_reset();
	err[0] = '\0';
	int64_t n = bridge_catchup(b, NULL, err, errlen);
	if (n >= 0 && bridge_drain(b, 5000, err, errlen) != 0)
		fail_msg("drain: %s", err);
	bridge_close(b);
	shmbus_bus_close(bus);
	free(f);
	return n;
}

static void save_ckpt(const char *path, uint32_t source, uint64_t seq, int64_t t)
{
	struct bridge_srcmap m;
	char err[256];
	assert_int_equal(bridge_srcmap_init(&m), 0);
	assert_int_equal(bridge_srcmap_set(&m, source, seq, t), 0);
	if (bridge_ckpt_save(path, &m, err, sizeof err) != 0)
		fail_msg("%s", err);
	bridge_srcmap_free(&m);
}

static void expect_warning(const char *a, const char *b, const char *c)
{
	if (g_nwarn != 1 || strstr(g_warn, a) == NULL || strstr(g_warn, b) == NULL ||
	    strstr(g_warn, c) == NULL)
		fail_msg("want one warning with '%s', '%s', '%s'; got %u: %s", a, b, c, g_nwarn,
			 g_warn);
}

/* A checkpoint whose seq is past the journal's last seq of its source, or
 * whose time is past the journal's latest event, exported nothing and
 * said nothing: now each is a warning naming both sides. */
static void test_bridge_core_catchup_warns_checkpoint_past_journal(void **state)
{
	char dir[] = "/tmp/shmbus-bridge-core-XXXXXX", jdir[64], ckpt[64], err[600];
	const int64_t t0 = 1700000000000000000LL;
	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(jdir, sizeof jdir, "%s/journal", dir);
	snprintf(ckpt, sizeof ckpt, "%s/ckpt", dir);
	make_journal(jdir, 3000); /* seqs 1..3000, times t0 .. t0 + 2999 */
	/* Seq past the end: every journal event is skipped as already sent. */
	save_ckpt(ckpt, SOURCE, 1000000, t0 + 5);
	assert_int_equal(catchup_only(ckpt, jdir, err, sizeof err), 3000);
	expect_warning("source 9 (seq 1000000, event time 1700000000000000005)",
		       "last seq of that source: 3000", "latest event time: 1700000000000002999");
	/* Time past the end: the journal is read from there on, so nothing. */
	save_ckpt(ckpt, SOURCE, 10, 9000000000000000000LL);
	assert_int_equal(catchup_only(ckpt, jdir, err, sizeof err), 0);
	expect_warning("source 9 (seq 10, event time 9000000000000000000)",
		       "last seq of that source: 3000", "latest event time: 1700000000000002999");
	/* A source the journal does not hold at all. */
	save_ckpt(ckpt, 4242, 10, t0 + 5);
	assert_true(catchup_only(ckpt, jdir, err, sizeof err) > 0);
	expect_warning("source 4242 (seq 10,", "last seq of that source: none since",
		       "rotated or replaced");
	/* Within the journal: caught up, no warning. */
	save_ckpt(ckpt, SOURCE, 2000, t0 + 1999);
	assert_int_equal(catchup_only(ckpt, jdir, err, sizeof err), 3000);
	if (g_nwarn != 0)
		fail_msg("unexpected warning: %s", g_warn);
	/* The journal's last event itself: nothing left, but nothing lost. */
	save_ckpt(ckpt, SOURCE, 3000, t0 + 2999);
	assert_true(catchup_only(ckpt, jdir, err, sizeof err) >= 0);
	if (g_nwarn != 0)
		fail_msg("unexpected warning: %s", g_warn);
	rm_rf(dir);
}

static void make_other_layout_journal(const char *jdir)
{
	struct shmbus_journal_writer_opts wo = {.layout_hash = 0x1234};
	struct shmbus_journal_writer *w = NULL;
	struct shmbus_trade t;
	assert_int_equal(shmbus_journal_writer_open(jdir, "jt", &wo, &w, NULL, NULL), 0);
	gen(0, &t);
	assert_int_equal(shmbus_journal_writer_append(w, &t.h), 0);
	assert_int_equal(shmbus_journal_writer_close(w), 0);
}

/* A journal that exists but cannot be opened is an error, not "no
 * journal" (only a missing directory is -ENOENT); an entry that is no
 * segment file is damage: warned about, the rest is read. */
static void test_bridge_core_catchup_fails_on_unreadable_journal(void **state)
{
	char dir[] = "/tmp/shmbus-bridge-core-XXXXXX", jdir[64], ckpt[64], seg[128], err[600];
	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(jdir, sizeof jdir, "%s/journal", dir);
	snprintf(ckpt, sizeof ckpt, "%s/ckpt", dir);
	save_ckpt(ckpt, SOURCE, 10, 1700000000000000009LL);
	assert_int_equal(catchup_only(ckpt, jdir, err, sizeof err), -ENOENT);
	/* A file where the directory should be. */
	write_file(jdir, "x", 1);
	int64_t n = catchup_only(ckpt, jdir, err, sizeof err);
	if (n != -ENOTDIR || strstr(err, "journal open") == NULL || strstr(err, jdir) == NULL)
		fail_msg("journal is a file: %lld, '%s'", (long long)n, err);
	assert_int_equal(unlink(jdir), 0);
	/* Another event layout. */
	make_other_layout_journal(jdir);
	n = catchup_only(ckpt, jdir, err, sizeof err);
	if (n >= 0 || n == -ENOENT || strstr(err, "layout") == NULL)
		fail_msg("other layout: %lld, '%s'", (long long)n, err);
	rm_rf(jdir);
	/* A directory named like a segment, before the real one. */
	make_journal(jdir, 100);
	snprintf(seg, sizeof seg, "%s/jt-00000000000000000001.shj", jdir);
	assert_int_equal(mkdir(seg, 0700), 0);
	assert_int_equal(catchup_only(ckpt, jdir, err, sizeof err), 100);
	if (g_nwarn != 1 || strstr(g_warn, "journal read") == NULL || strstr(g_warn, seg) == NULL)
		fail_msg("want one warning naming %s; got %u: %s", seg, g_nwarn, g_warn);
	rm_rf(dir);
}

#ifdef BRIDGE_EXE
/* Run shmbus-bridge with `journal`, stderr to errpath. When wait_for is
 * not NULL, stop it (SIGTERM) once its stderr shows that text. Returns
 * the wait status, or -1 when it ran on for 30 s. */
static int run_exe(const char *journal, const char *ckpt, const char *errpath,
		   const char *wait_for)
{
	char *argv[] = {BRIDGE_EXE, "--bus", "bcore", "--kafka", "127.0.0.1:1", "--checkpoint",
			(char *)ckpt, "--journal", (char *)journal, "--journal-bus", "jt",
			"--stats-interval", "0", "--quiet", NULL};
	pid_t p = fork();
	assert_true(p >= 0);
	if (p == 0) {
		FILE *e = freopen(errpath, "w", stderr);
		if (e == NULL || freopen("/dev/null", "w", stdout) == NULL)
			_exit(126);
		execv(argv[0], argv);
		_exit(127);
	}
	int status = -1, signalled = 0;
	for (int i = 0; i < 3000; i++) {
		if (waitpid(p, &status, WNOHANG) == p)
			return status;
		char text[4096] = "";
		FILE *f = fopen(errpath, "r");
		if (f != NULL) {
			text[fread(text, 1, sizeof text - 1, f)] = '\0';
			fclose(f);
		}
		if (wait_for != NULL && !signalled && strstr(text, wait_for) != NULL) {
			kill(p, SIGTERM);
			signalled = 1;
		}
		struct timespec ts = {0, 10000000};
		nanosleep(&ts, NULL);
	}
	kill(p, SIGKILL);
	waitpid(p, &status, 0);
	return -1;
}

static int file_has(const char *path, const char *what)
{
	char text[4096] = "";
	FILE *f = fopen(path, "r");
	assert_non_null(f);
	text[fread(text, 1, sizeof text - 1, f)] = '\0';
	fclose(f);
	return strstr(text, what) != NULL;
}

/* shmbus-bridge went live after a failed catch-up, so the journal's events
 * after the checkpoint were never exported: it now exits 1 (a supervisor
 * restarts it once the journal is repaired). Without a journal directory
 * it still starts live. (Kafka at a closed port: nothing is sent.) */
static void test_bridge_core_exe_exits_when_catchup_fails(void **state)
{
	char dir[] = "/tmp/shmbus-bridge-core-XXXXXX", jdir[64], ckpt[64], busdir[64];
	char errpath[64];
	shmbus_bus *bus = NULL;
	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(jdir, sizeof jdir, "%s/journal", dir);
	snprintf(ckpt, sizeof ckpt, "%s/ckpt", dir);
	snprintf(busdir, sizeof busdir, "%s/bus", dir);
	snprintf(errpath, sizeof errpath, "%s/stderr", dir);
	assert_int_equal(mkdir(busdir, 0700), 0);
	const char *old = getenv("SHMBUS_DIR");
	char *saved = old != NULL ? strdup(old) : NULL;
	setenv("SHMBUS_DIR", busdir, 1);
	assert_int_equal(shmbus_bus_create("bcore", NULL, &bus), 0);
	save_ckpt(ckpt, SOURCE, 10, 1700000000000000009LL);
	make_other_layout_journal(jdir);
	int st = run_exe(jdir, ckpt, errpath, NULL);
	if (st == -1 || !WIFEXITED(st) || WEXITSTATUS(st) != 1 ||
	    !file_has(errpath, "journal catch-up failed"))
		fail_msg("unreadable journal: status %d (want exit 1 and 'journal catch-up "
			 "failed' on stderr)", st);
	snprintf(jdir, sizeof jdir, "%s/none", dir);
	st = run_exe(jdir, ckpt, errpath, "no journal at");
	if (st == -1 || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
		fail_msg("no journal: status %d (want live, then exit 0 on SIGTERM)", st);
	shmbus_bus_close(bus);
	shmbus_bus_destroy("bcore");
	if (saved != NULL)
		setenv("SHMBUS_DIR", saved, 1);
	else
		unsetenv("SHMBUS_DIR");
	free(saved);
	rm_rf(dir);
}

/* Run shmbus-bridge with args (NULL-terminated, after the program name),
 * stdout to outpath, stderr to errpath. When wait_for is not NULL, stop it
 * (SIGTERM) settle_ms after errpath shows that text. Returns the exit
 * status (0..255), 128 + signal, or -1 when it ran on for 30 s. */
static int run_bridge(const char *const *args, const char *outpath, const char *errpath,
		      const char *wait_for, int settle_ms)
{
	char *argv[40] = {BRIDGE_EXE};
	int n = 1;
	for (; args[n - 1] != NULL && n < 39; n++)
		argv[n] = (char *)args[n - 1];
	argv[n] = NULL;
	pid_t p = fork();
	assert_true(p >= 0);
	if (p == 0) {
		if (freopen(errpath, "w", stderr) == NULL || freopen(outpath, "w", stdout) == NULL)
			_exit(126);
		execv(argv[0], argv);
		_exit(127);
	}
	int status = -1;
	int64_t stop_at = -1;
	for (int i = 0; i < 3000; i++) {
		if (waitpid(p, &status, WNOHANG) == p)
			return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
		if (wait_for != NULL && stop_at < 0 && access(errpath, R_OK) == 0 &&
		    file_has(errpath, wait_for))
			stop_at = i + settle_ms / 10;
		if (stop_at >= 0 && i == stop_at)
			kill(p, SIGTERM);
		struct timespec ts = {0, 10000000};
		nanosleep(&ts, NULL);
	}
	kill(p, SIGKILL);
	waitpid(p, &status, 0);
	return -1;
}

/* A fresh folder for a run of the bridge executable: dir (a mkdtemp
 * template) made, out and err paths and a third file (name) in it, and
 * SHMBUS_DIR pointing there. */
static void exe_dir(char *dir, char out[64], char err[64], char file[64], const char *name)
{
	assert_non_null(mkdtemp(dir));
	snprintf(out, 64, "%s/out", dir);
	snprintf(err, 64, "%s/err", dir);
	snprintf(file, 64, "%s/%s", dir, name);
	setenv("SHMBUS_DIR", dir, 1);
}

/* Bad values are usage errors (exit 2) naming the option and where it
 * came from, found before the bus is attached (the bus named here does
 * not exist: attaching would be exit 1). They were taken silently:
 * strtoll/strtod without checks ("abc" = 0, 1e300 s = a status line per
 * loop, nan), sn * 1000000 overflowed, any word but 0/no meant true, a
 * capacity that is no power of two passed, and "help = 1" in a config
 * exited 2 without a word. */
/* 250 characters: one past Kafka's longest topic. */
#define LONG_TOPIC50 "kkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkk"
#define LONG_TOPIC LONG_TOPIC50 LONG_TOPIC50 LONG_TOPIC50 LONG_TOPIC50 LONG_TOPIC50

static void test_bridge_core_exe_rejects_bad_options(void **state)
{
	char dir[] = "/tmp/shmbus-bridge-core-XXXXXX", out[64], err[64], conf[64];
	static const char *const bad[][3] = {
		{"--catchup-slack-ms", "99999999999999999", "--catchup-slack-ms"},
		{"--catchup-slack-ms", "abc", "--catchup-slack-ms"},
		{"--catchup-slack-ms", "-5", "--catchup-slack-ms"},
		{"--stats-interval", "1e300", "--stats-interval"},
		{"--stats-interval", "banana", "--stats-interval"},
		{"--stats-interval", "-5", "--stats-interval"},
		{"--stats-interval", "nan", "--stats-interval"},
		{"--stats-interval", "0.001", "--stats-interval"},
		{"--capacity", "1000", "power of two"},
		{"--nats-create-stream", "maybe", "--nats-create-stream 'maybe'"},
		{"--max-events", " 5", "--max-events"},
		{"--types", "trade,,quote", "bad item ''"},
		{"--types", "trade,tick", "tick"},
		{"--symbols", "AAPL,,MSFT", "bad item ''"},
		{"--symbols", "AAPL,", "ends with a comma"},
		/* names the bus would refuse: found only once attached (after
		 * interning the names before them), without saying why */
		{"--symbols", "AAPL,ABCDEFGHIJKLMNOPQRSTUVWXYZ", "ABCDEFGHIJKLMNOPQRSTUVWXYZ"},
		{"--symbols", "AA PL", "'AA...': byte 3 (0x20)"},
		{"--handover-timeout-ms", "soon", "--handover-timeout-ms"},
		/* empty values (shmbusctl check refuses them too): the
		 * checkpoint's and stats file's start-up checks passed (writing
		 * ".tmp" in the working directory) and every write failed
		 * after; no journal was read; Kafka with no broker took every
		 * event and never delivered one */
		{"--checkpoint", "", "--checkpoint: empty value"},
		{"--journal", "", "--journal: empty value"},
		{"--journal-bus", "", "--journal-bus: empty value"},
		{"--stats-json", "", "--stats-json: empty value"},
		{"--kafka", "", "--kafka: empty value"},
		{"--nats-creds", "", "--nats-creds: empty value"},
	};
	/* Outputs that could never take an event: every event used to be
	 * counted as acknowledged and dropped (a subject with a typo), or the
	 * error came after the bus was attached (exit 1). */
	static const char *const bad_out[][3] = {
		{"--nats-subject", "S2.{tpye}.{symbol}", "unknown or unclosed {placeholder}"},
		{"--nats-subject", "x.{type", "unknown or unclosed {placeholder}"},
		{"--nats-subject", "a..{type}", "no empty token"},
		{"--nats-subject", "a.*", "wildcard"},
		{"--kafka-topic", "trades {type}", "not allowed in a Kafka topic"},
		{"--kafka-topic", LONG_TOPIC, "at most 249"},
		{"--kafka-set", "no.such.prop=1", "no.such.prop"},
		{"--stats-json", "/nonexistent/dir/s.json", "--stats-json"},
		/* the NATS settings bridge_nats_open refuses: they were checked
		 * only after the bus was attached (exit 1 without a bus) */
		{"--nats-stream", "A.B", "--nats-stream"},
		{"--nats-creds", "/nonexistent/dir/x.creds", "--nats-creds"},
		{"--nats", "notaurl:::", "'notaurl:::'"},
		/* no broker, or an empty one: taken, connected=1, nothing sent */
		{"--kafka", ",", "broker 1 of ',' is empty"},
		{"--kafka", "127.0.0.1:1, ,127.0.0.1:2", "broker 2 of"},
		{"--kafka", "127.0.0.1:1,", "broker 2 of"},
	};
	(void)state;
	exe_dir(dir, out, err, conf, "conf"); /* no bus there */
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		const char *args[] = {"--bus", "none", "--kafka", "127.0.0.1:1", bad[i][0], bad[i][1],
				      NULL};
		int st = run_bridge(args, out, err, NULL, 0);
		if (st != 2 || !file_has(err, bad[i][2]) || !file_has(err, "(command line)"))
			fail_msg("%s %s: status %d, want 2 naming '%s'", bad[i][0], bad[i][1], st,
				 bad[i][2]);
	}
	for (size_t i = 0; i < sizeof bad_out / sizeof bad_out[0]; i++) {
		const char *args[] = {"--bus",        "none",       "--kafka",   "127.0.0.1:1",
				      "--nats",       "nats://127.0.0.1:1",  bad_out[i][0], bad_out[i][1],
				      NULL};
		int st = run_bridge(args, out, err, NULL, 0);
		if (st != 2 || !file_has(err, bad_out[i][2]) || file_has(err, "attach bus"))
			fail_msg("%s %s: status %d, want 2 naming '%s' before attaching",
				 bad_out[i][0], bad_out[i][1], st, bad_out[i][2]);
	}
	/* In a config file: the key and file:line are named. */
	static const char *const conf_bad[][2] = {
		{"bus = x\nhelp = 1\n", "'help': a command-line flag"},
		{"# c\n\njson = maybe\n", "--json 'maybe'"},
		{"quiet = 2\n", "--quiet '2'"},
		{"from-journal-start = enabled\n", "--from-journal-start 'enabled'"},
		{"config = /etc/passwd\n", "cannot include another"},
		{"stats-interval = banana\n", "--stats-interval"},
		{"bogus = 1\n", "config key 'bogus'"},
		{"json = 0\ncheckpoint =\n", "--checkpoint: empty value"},
		/* a bad bus name of the file was blamed on the command line */
		{"bus = a/b\n", "--bus: bus name 'a/b': character 2"},
	};
	static const unsigned conf_line[] = {2, 3, 1, 1, 1, 1, 1, 2, 1};
	for (size_t i = 0; i < sizeof conf_bad / sizeof conf_bad[0]; i++) {
		char where[128];
		const char *args[] = {"--bus", "none", "--kafka", "127.0.0.1:1", "--config", conf,
				      NULL};
		write_file(conf, conf_bad[i][0], strlen(conf_bad[i][0]));
		snprintf(where, sizeof where, "(%s:%u)", conf, conf_line[i]);
		int st = run_bridge(args, out, err, NULL, 0);
		if (st != 2 || !file_has(err, conf_bad[i][1]) || !file_has(err, where))
			fail_msg("config '%s': status %d, want 2 with '%s' %s", conf_bad[i][0], st,
				 conf_bad[i][1], where);
	}
	/* A line longer than the old 1024-byte buffer is one line (its tail
	 * used to be read as the next one); past 4096 bytes it is refused. */
	char big[5200];
	memset(big, 'x', sizeof big);
	memcpy(big, "# ", 2);
	memcpy(big + 2000, "\nbogus = 1\n", 11); /* line 2 */
	big[sizeof big - 1] = '\n';
	write_file(conf, big, sizeof big);
	const char *cargs[] = {"--bus", "none", "--kafka", "127.0.0.1:1", "--config", conf, NULL};
	char where[128];
	snprintf(where, sizeof where, "(%s:2)", conf);
	assert_int_equal(run_bridge(cargs, out, err, NULL, 0), 2);
	assert_true(file_has(err, "config key 'bogus'") && file_has(err, where));
	memset(big, '#', sizeof big);
	big[sizeof big - 1] = '\n';
	write_file(conf, big, sizeof big);
	snprintf(where, sizeof where, "(%s:1)", conf);
	assert_int_equal(run_bridge(cargs, out, err, NULL, 0), 2);
	assert_true(file_has(err, "longer than 4096") && file_has(err, where));
	write_file(conf, "json = 1\0garbage\n", 17);
	assert_int_equal(run_bridge(cargs, out, err, NULL, 0), 2);
	assert_true(file_has(err, "NUL byte"));
	/* A directory is no config file. */
	const char *dargs[] = {"--bus", "none", "--kafka", "127.0.0.1:1", "--config", dir, NULL};
	assert_int_equal(run_bridge(dargs, out, err, NULL, 0), 2);
	assert_true(file_has(err, "not a regular file"));
	/* Good values get past the parser, to attaching the bus (absent). */
	write_file(conf, "json = false\nquiet = No\nnats-create-stream = true\n"
			 "stats-interval = 0.5\ncatchup-slack-ms = -1\n", 93);
	const char *good[] = {"--bus", "none", "--kafka", "127.0.0.1:1", "--config", conf,
			      "--capacity", "1024", "--nats-create-stream", "false",
			      "--catchup-slack-ms", "9223372036854", "--stats-interval", "0", NULL};
	assert_int_equal(run_bridge(good, out, err, NULL, 0), 1);
	assert_true(file_has(err, "attach bus"));
	/* A --stats-json path over 290 bytes: its start-up check cut the path
	 * short, then created and removed the file of that shorter name. */
	char sub[300], longpath[400], victim[400];
	snprintf(sub, sizeof sub, "%s/%0250d", dir, 0);
	assert_int_equal(mkdir(sub, 0755), 0);
	snprintf(longpath, sizeof longpath, "%s/%080d.json", sub, 0);
	snprintf(victim, sizeof victim, "%.290s.tmp", longpath);
	write_file(victim, "keep\n", 5);
	const char *largs[] = {"--bus", "none", "--kafka", "127.0.0.1:1", "--stats-json", longpath,
			       NULL};
	assert_int_equal(run_bridge(largs, out, err, NULL, 0), 1);
	assert_true(file_has(err, "attach bus"));
	assert_int_equal(access(victim, F_OK), 0);
	unsetenv("SHMBUS_DIR");
	rm_rf(dir);
}

/* Status lines as the config's booleans say: "json = 0" is text and
 * "quiet = no" prints (both used to turn the flag on, whatever the
 * value); a command-line option wins over the --config file wherever the
 * file stands. (Kafka at a closed port: nothing is sent.) */
static void test_bridge_core_exe_config_booleans(void **state)
{
	char dir[] = "/tmp/shmbus-bridge-core-XXXXXX", out[64], err[64], conf[64];
	shmbus_bus *bus = NULL;
	static const struct {
		const char *conf, *flag, *flag_value;
		int lines, json;
	} cases[] = {
		{"json = 0\n", NULL, NULL, 1, 0},
		{"json = yes\nquiet = no\n", NULL, NULL, 1, 1},
		{"quiet = no\n", NULL, NULL, 1, 0},
		{"quiet = true\n", NULL, NULL, 0, 0},
		{"stats-interval = 0\n", "--stats-interval", "0.05", 1, 0},
	};
	(void)state;
	exe_dir(dir, out, err, conf, "conf");
	assert_int_equal(shmbus_bus_create("bbool", NULL, &bus), 0);
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		const char *args[12] = {"--bus", "bbool", "--kafka", "127.0.0.1:1",
					"--stats-interval", "0.05"};
		int k = 6;
		if (cases[i].flag != NULL) { /* the flag before the file: it still wins */
			args[4] = cases[i].flag;
			args[5] = cases[i].flag_value;
		}
		args[k++] = "--config";
		args[k++] = conf;
		args[k] = NULL;
		write_file(conf, cases[i].conf, strlen(cases[i].conf));
		int st = run_bridge(args, out, err, "starting live", 300);
		char *text = tfs_slurp(out);
		assert_non_null(text);
		int lines = text[0] != '\0', json = text[0] == '{';
		if (st != 0 || lines != cases[i].lines || (lines && json != cases[i].json) ||
		    (lines && !json && strncmp(text, "connected=", 10) != 0))
			fail_msg("config '%s': status %d, want %s; stdout: '%.200s'", cases[i].conf,
				 st, !cases[i].lines ? "no status line" : cases[i].json ? "JSON lines"
												 : "text lines",
				 text);
		free(text);
	}
	shmbus_bus_close(bus);
	shmbus_bus_destroy("bbool");
	unsetenv("SHMBUS_DIR");
	rm_rf(dir);
}

/* --config on the host's INI file (what `shmbusctl up` passes as
 * ${config}): the bridge reads its [bridge] section, with the line of a
 * bad value named, skips the others ([journal] holds keys it does not
 * know), and refuses a file without [bridge]; with no --bus the bus is
 * SHMBUS_BUS (the launcher's), else the file's [bus] name. (Kafka at a
 * closed port: nothing is sent.) */
static void test_bridge_core_exe_config_ini(void **state)
{
	char dir[] = "/tmp/shmbus-bridge-core-XXXXXX", out[64], err[64], ini[64], where[128];
	shmbus_bus *bus = NULL;
	static const char good[] = "; the host's config\n"
	                           "[bus]\n"
	                           "name = bini\n"
	                           "[journal]\n"
	                           "dir = /nonexistent\n"
	                           "fsync = interval:100\n"
	                           "[bridge]\n"
	                           "kafka = 127.0.0.1:1   ; no broker there\n"
	                           "json = yes\n"
	                           "stats-interval = 0.05\n";
	(void)state;
	exe_dir(dir, out, err, ini, "host.ini");
	assert_int_equal(shmbus_bus_create("bini", NULL, &bus), 0);
	unsetenv("SHMBUS_BUS"); /* the bus: the file's [bus] name */
	const char *args[] = {"--config", ini, NULL};
	write_file(ini, good, strlen(good));
	int st = run_bridge(args, out, err, "starting live", 300);
	char *text = tfs_slurp(out);
	assert_non_null(text);
	if (st != 0 || text[0] != '{')
		fail_msg("INI [bridge]: status %d, want 0 and JSON status lines; stdout '%.200s'",
		         st, text);
	free(text);
	setenv("SHMBUS_BUS", "bnone", 1); /* the launcher's wins over the file's */
	assert_int_equal(run_bridge(args, out, err, NULL, 0), 1);
	assert_true(file_has(err, "bnone"));
	static const char bad[] = "[bridge]\nkafka = 127.0.0.1:1\n\nwindow = 3\n";
	write_file(ini, bad, strlen(bad));
	snprintf(where, sizeof where, "(%s:4)", ini);
	assert_int_equal(run_bridge(args, out, err, NULL, 0), 2);
	assert_true(file_has(err, "--window") && file_has(err, where));
	static const char none[] = "[bus]\nname = bini\n[journal]\ndir = /tmp\n";
	write_file(ini, none, strlen(none));
	snprintf(where, sizeof where, "(%s)", ini);
	assert_int_equal(run_bridge(args, out, err, NULL, 0), 2);
	assert_true(file_has(err, "no [bridge] section") && file_has(err, where));
	unsetenv("SHMBUS_BUS");
	shmbus_bus_close(bus);
	shmbus_bus_destroy("bini");
	unsetenv("SHMBUS_DIR");
	rm_rf(dir);
}

/* shmbus-bridge started by a parent that blocked SIGTERM and had one
 * pending (the mask and the signal pass through exec, as from a launcher
 * started so): the other services unblock their stop signals
 * (tool_stop_signals()), the bridge never saw its stop and ran on until
 * SIGKILLed, losing its last checkpoint. It now stops cleanly, exit 0.
 * (Kafka at a closed port: nothing is sent.) */
static void test_bridge_core_exe_stops_on_pending_sigterm(void **state)
{
	char dir[] = "/tmp/shmbus-bridge-core-XXXXXX", out[64], err[64], ckpt[64];
	char *argv[] = {BRIDGE_EXE, "--bus", "bterm", "--kafka", "127.0.0.1:1", "--checkpoint",
			ckpt, "--stats-interval", "0", "--quiet", NULL};
	shmbus_bus *bus = NULL;
	int status = -1;
	(void)state;
	exe_dir(dir, out, err, ckpt, "ckpt");
	assert_int_equal(shmbus_bus_create("bterm", NULL, &bus), 0);
	pid_t p = fork();
	assert_true(p >= 0);
	if (p == 0) {
		sigset_t term;
		sigemptyset(&term);
		sigaddset(&term, SIGTERM);
		if (freopen(err, "w", stderr) == NULL || freopen(out, "w", stdout) == NULL ||
		    sigprocmask(SIG_BLOCK, &term, NULL) != 0 || raise(SIGTERM) != 0)
			_exit(126);
		execv(argv[0], argv);
		_exit(127);
	}
	for (int i = 0; i < 3000 && status == -1; i++) {
		if (waitpid(p, &status, WNOHANG) == p)
			break;
		status = -1;
		struct timespec ts = {0, 10000000};
		nanosleep(&ts, NULL);
	}
	if (status == -1) { /* ran on for 30 s: the stop never came */
		kill(p, SIGKILL);
		waitpid(p, NULL, 0);
	}
	shmbus_bus_close(bus);
	shmbus_bus_destroy("bterm");
	unsetenv("SHMBUS_DIR");
	rm_rf(dir);
	if (status == -1 || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
		fail_msg("with SIGTERM pending at start: status 0x%x, want exit 0 (-1: still "
			 "running after 30 s)",
			 (unsigned)status);
}
#else
static void test_bridge_core_exe_exits_when_catchup_fails(void **state)
{
	(void)state;
	skip(); /* built without BRIDGE_EXE */
}

static void test_bridge_core_exe_rejects_bad_options(void **state)
{
	(void)state;
	skip(); /* built without BRIDGE_EXE */
}

static void test_bridge_core_exe_config_booleans(void **state)
{
	(void)state;
	skip(); /* built without BRIDGE_EXE */
}

static void test_bridge_core_exe_config_ini(void **state)
{
	(void)state;
	skip(); /* built without BRIDGE_EXE */
}

static void test_bridge_core_exe_stops_on_pending_sigterm(void **state)
{
	(void)state;
	skip(); /* built without BRIDGE_EXE */
}
#endif

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bridge_core_failed_sends_keep_order),
		cmocka_unit_test(test_bridge_core_outages_keep_order),
		cmocka_unit_test(test_bridge_core_lost_acks_resent),
		cmocka_unit_test(test_bridge_core_refusals_back_off),
		cmocka_unit_test(test_bridge_core_down_sink_naps),
		cmocka_unit_test(test_bridge_core_unencodable_not_acked),
		cmocka_unit_test(test_bridge_core_checkpoint_failures_are_told),
		cmocka_unit_test(test_bridge_core_handover_sends_each_once),
		cmocka_unit_test(test_bridge_core_handover_waits_for_a_late_journal),
		cmocka_unit_test(test_bridge_core_handover_finds_sources_before_t_from),
		cmocka_unit_test(test_bridge_core_adopts_a_declared_ring),
		cmocka_unit_test(test_bridge_core_first_start_from_journal),
		cmocka_unit_test(test_bridge_core_catchup_symbol_filter_passes_heartbeats),
		cmocka_unit_test(test_bridge_core_catchup_takes_a_declared_ring_types),
		cmocka_unit_test(test_bridge_core_catchup_takes_a_declared_ring_symbols),
		cmocka_unit_test(test_bridge_core_ckpt_rejects_bad_values),
		cmocka_unit_test(test_bridge_core_ckpt_reports_file_problems),
		cmocka_unit_test(test_bridge_core_catchup_warns_checkpoint_past_journal),
		cmocka_unit_test(test_bridge_core_catchup_fails_on_unreadable_journal),
		cmocka_unit_test(test_bridge_core_exe_exits_when_catchup_fails),
		cmocka_unit_test(test_bridge_core_exe_rejects_bad_options),
		cmocka_unit_test(test_bridge_core_exe_config_booleans),
		cmocka_unit_test(test_bridge_core_exe_config_ini),
		cmocka_unit_test(test_bridge_core_exe_stops_on_pending_sigterm),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
