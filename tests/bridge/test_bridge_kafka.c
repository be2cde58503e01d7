/*
 * test_bridge_kafka.c - the bridge core exporting to librdkafka's built-in
 * mock cluster, events read back with a consumer (content, key, per-symbol
 * order, each once after dedup on the source/seq headers):
 * - every broker down for a while in the middle: no acknowledgement
 *   while down, then everything, with no copy (one producer session);
 * - every broker down while nothing is in flight, events arriving during
 *   the outage: exported once the brokers are back (no delivery report
 *   is pending to say so);
 * - a fatal error of the idempotent producer: the instance is replaced,
 *   everything arrives, copies only of what was in flight then;
 * - a crash after a checkpoint and a restart with journal catch-up: the
 *   events sent after the checkpoint reach Kafka twice (a new producer
 *   session), only those, and the headers dedup makes it exactly-once.
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

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <shmbus/shmbus.h>
#include <shmbus/journal.h>

#include "bridge_core.h"
#include "test_fs.h"

#define N_EVENTS 20000u
#define N_SYMS 8u
#define SOURCE 5u

static uint32_t g_sym[N_SYMS];

static void gen(uint32_t i, struct shmbus_quote *q)
{
	memset(q, 0, sizeof *q);
	q->h.type = SHMBUS_EV_QUOTE;
	q->h.version = 1;
	q->h.size = sizeof *q;
	q->h.source_id = SOURCE;
	q->h.symbol_id = g_sym[i % N_SYMS];
	q->h.seq = i + 1;
	q->h.event_time_ns = 1700000000000000000LL + i;
	q->bid = i;
	q->ask = i + 0.5;
	q->bid_size = 1;
	q->ask_size = 2;
}

/* Header `name` of m as a number (fails the test when absent). */
static uint64_t header_u64(rd_kafka_message_t *m, const char *name)
{
	rd_kafka_headers_t *hdrs = NULL;
	const void *v = NULL;
	size_t len = 0;
	char buf[32];
	assert_int_equal(rd_kafka_message_headers(m, &hdrs), RD_KAFKA_RESP_ERR_NO_ERROR);
	assert_int_equal(rd_kafka_header_get_last(hdrs, name, &v, &len), RD_KAFKA_RESP_ERR_NO_ERROR);
	assert_true(len > 0 && len < sizeof buf);
	memcpy(buf, v, len);
	buf[len] = '\0';
	return strtoull(buf, NULL, 10);
}

static rd_kafka_t *consumer_new(const char *bootstraps)
{
	char e[256];
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	assert_int_equal(rd_kafka_conf_set(conf, "bootstrap.servers", bootstraps, e, sizeof e), 0);
	assert_int_equal(rd_kafka_conf_set(conf, "group.id", "check", e, sizeof e), 0);
	assert_int_equal(rd_kafka_conf_set(conf, "auto.offset.reset", "earliest", e, sizeof e), 0);
	rd_kafka_t *c = rd_kafka_new(RD_KAFKA_CONSUMER, conf, e, sizeof e);
	assert_non_null(c);
	rd_kafka_poll_set_consumer(c);
	rd_kafka_topic_partition_list_t *tl = rd_kafka_topic_partition_list_new(1);
	rd_kafka_topic_partition_list_add(tl, "shmbus.quote", RD_KAFKA_PARTITION_UA);
	assert_int_equal(rd_kafka_subscribe(c, tl), 0);
	rd_kafka_topic_partition_list_destroy(tl);
	return c;
}

/* One consumed message, deduplicated on its (source, seq) headers as a
 * consumer is told to: returns 1 when new, 0 for a copy. New ones are
 * checked for content, key and per-symbol order. */
static int take(rd_kafka_message_t *m, uint8_t *seen, uint64_t *last)
{
	struct bridge_decoded d;
	struct shmbus_quote want;
	char err[256], key[16];
	assert_int_equal(header_u64(m, "source"), SOURCE);
	uint64_t seq = header_u64(m, "seq");
	assert_true(seq >= 1 && seq <= N_EVENTS);
	if (seen[seq])
		return 0;
	seen[seq] = 1;
	if (bridge_decode_binary(m->payload, m->len, &d, err, sizeof err) != 0)
		fail_msg("decode: %s", err);
	assert_int_equal(d.ev.h.seq, seq);
	gen((uint32_t)(seq - 1), &want);
	d.ev.h.publish_time_ns = 0;
	assert_memory_equal(d.ev.bytes, &want, sizeof want);
	snprintf(key, sizeof key, "Q%u", (unsigned)((seq - 1) % N_SYMS));
	assert_int_equal(m->key_len, strlen(key));
	assert_memory_equal(m->key, key, m->key_len);
	uint32_t s = (uint32_t)((seq - 1) % N_SYMS);
	if (seq <= last[s])
		fail_msg("symbol %u: seq %llu after %llu", s, (unsigned long long)seq,
			 (unsigned long long)last[s]);
	last[s] = seq;
	return 1;
}

/* Read the topic back: every event exactly once after dedup on the
 * headers, in per-symbol order. A copy is allowed only for
 * dup_lo < seq <= dup_hi; returns how many copies were read. */
static uint64_t read_back(const char *bootstraps, uint64_t dup_lo, uint64_t dup_hi)
{
	rd_kafka_t *c = consumer_new(bootstraps);
	uint8_t *seen = calloc(N_EVENTS + 1, 1);
	uint64_t last[N_SYMS] = {0}, got = 0, dups = 0;
	/* Keep reading a little after the last message: copies may follow
	 * (idle counts empty polls in a row; it once counted them all, so the
	 * loop ended at the last new event and missed copies after it). */
	for (int idle = 0; idle < (got < N_EVENTS ? 300 : 10);) {
		rd_kafka_message_t *m = rd_kafka_consumer_poll(c, 100);
		if (m == NULL || m->err) {
			idle++;
			if (m != NULL)
				rd_kafka_message_destroy(m);
			continue;
		}
		idle = 0;
		if (take(m, seen, last)) {
			got++;
		} else {
			uint64_t seq = header_u64(m, "seq");
			if (seq <= dup_lo || seq > dup_hi)
				fail_msg("seq %llu delivered twice (copies allowed in %llu..%llu)",
					 (unsigned long long)seq, (unsigned long long)dup_lo + 1,
					 (unsigned long long)dup_hi);
			dups++;
		}
		rd_kafka_message_destroy(m);
	}
	assert_int_equal(got, N_EVENTS);
	free(seen);
	rd_kafka_consumer_close(c);
	rd_kafka_destroy(c);
	return dups;
}

struct cluster {
	rd_kafka_t *rk;
	rd_kafka_mock_cluster_t *mc;
	const char *boot;
};

static void cluster_up(struct cluster *cl)
{
	char e[256];
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	rd_kafka_conf_set(conf, "log_level", "0", e, sizeof e);
	cl->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, e, sizeof e);
	assert_non_null(cl->rk);
	cl->mc = rd_kafka_mock_cluster_new(cl->rk, 3);
	assert_non_null(cl->mc);
	cl->boot = rd_kafka_mock_cluster_bootstraps(cl->mc);
	assert_int_equal(rd_kafka_mock_topic_create(cl->mc, "shmbus.quote", 4, 3), 0);
	/* Every broker leads a partition (the mock picks leaders at random,
	 * and can leave a broker leading none), so the producer is connected
	 * to each of them before an outage. librdkafka reports "all brokers
	 * down" only once every broker it knows has gone down from a
	 * connection (or a failed attempt): one it never connected to, and
	 * does not happen to try during the outage, keeps that report (and
	 * the bridge's "disconnected") from ever coming. The keys Q0..Q7
	 * reach all 4 partitions. */
	for (int32_t p = 0; p < 4; p++)
		assert_int_equal(rd_kafka_mock_partition_set_leader(cl->mc, "shmbus.quote", p,
								    1 + p % 3),
				 RD_KAFKA_RESP_ERR_NO_ERROR);
}

static void cluster_down(struct cluster *cl)
{
	rd_kafka_mock_cluster_destroy(cl->mc);
	rd_kafka_destroy(cl->rk);
}

static shmbus_bus *bus_with_events(void)
{
	shmbus_bus *bus = NULL;
	assert_int_equal(shmbus_bus_create(NULL, NULL, &bus), 0);
	for (uint32_t s = 0; s < N_SYMS; s++) {
		char name[8];
		snprintf(name, sizeof name, "Q%u", s);
		g_sym[s] = (uint32_t)shmbus_symbol_intern(bus, name, strlen(name));
	}
	return bus;
}

/* Publish events lo..hi-1 (and journal them first when w is given). The
 * ring must be subscribed already. */
static void publish_range(shmbus_bus *bus, struct shmbus_journal_writer *w, uint32_t lo,
			  uint32_t hi)
{
	shmbus_producer *p = NULL;
	struct shmbus_producer_opts po;
	shmbus_producer_opts_init(&po);
	po.source_id = SOURCE;
	assert_int_equal(shmbus_producer_open(bus, &po, &p), 0);
	for (uint32_t i = lo; i < hi; i++) {
		struct shmbus_quote q;
		gen(i, &q);
		if (w != NULL)
			assert_int_equal(shmbus_journal_writer_append(w, &q.h), 0);
		assert_int_equal(shmbus_publish(p, &q), 1);
	}
	shmbus_producer_close(p);
}

static void publish_all(shmbus_bus *bus, struct shmbus_journal_writer *w)
{
	publish_range(bus, w, 0, N_EVENTS);
}

static struct bridge_sink *g_sink; /* the last bridge_new()'s sink */

static struct bridge *bridge_new(shmbus_bus *bus, const char *boot,
				 const struct bridge_core_config *cc)
{
	char err[512];
	struct bridge *b = NULL;
	struct bridge_sink *sink = NULL;
	struct bridge_kafka_config kc = {.brokers = boot, .topic = "shmbus.{type}",
					 .reconnect_base_ms = 50, .reconnect_max_ms = 500,
					 .max_pending = 1024};
	assert_int_equal(bridge_kafka_open(&kc, BRIDGE_ENC_BINARY, &sink, err, sizeof err), 0);
	g_sink = sink;
	if (bridge_open(bus, cc, &sink, 1, &b, err, sizeof err) != 0)
		fail_msg("%s", err);
	return b;
}

static void core_config(struct bridge_core_config *cc)
{
	bridge_core_config_init(cc);
	cc->enc = BRIDGE_ENC_BINARY;
	cc->window = 1024;
}

/* A mock cluster, a bus and a bridge exporting its ring to the cluster. */
struct rig {
	struct cluster cl;
	shmbus_bus *bus;
	struct bridge_core_config cc;
	struct bridge *b;
};

static void rig_up(struct rig *r)
{
	cluster_up(&r->cl);
	r->bus = bus_with_events();
	core_config(&r->cc);
	r->b = bridge_new(r->bus, r->cl.boot, &r->cc);
}

static void rig_down(struct rig *r)
{
	bridge_close(r->b);
	shmbus_bus_close(r->bus);
	cluster_down(&r->cl);
}

static void test_bridge_kafka_export_survives_broker_down(void **state)
{
	char err[512];
	struct rig r;
	struct bridge_stats st;
	(void)state;
	rig_up(&r);
	struct bridge *b = r.b;
	publish_all(r.bus, NULL);
	int down = 0, saw_disconnected = 0;
	uint64_t acked_early = 0, acked_late = 0, failed_at_down = 0, reconnects_at_down = 0;
	uint64_t acked_at_down = 0;
	for (int i = 0; i < 200000; i++) {
		bridge_step(b, 1000000);
		bridge_get_stats(b, &st);
		if (!down && st.acked >= N_EVENTS / 4) {
			for (int id = 1; id <= 3; id++)
				rd_kafka_mock_broker_set_down(r.cl.mc, id);
			down = i;
			failed_at_down = st.failed;
			acked_at_down = st.acked;
			reconnects_at_down = st.reconnects;
		}
		if (down > 0 && i > down && i < down + 1500 && !st.connected)
			saw_disconnected = 1;
		if (down > 0 && i == down + 300) /* what was in flight has settled */
			acked_early = st.acked;
		if (down > 0 && i == down + 1500) { /* ~0.3 s or more of steps */
			acked_late = st.acked;
			for (int id = 1; id <= 3; id++)
				rd_kafka_mock_broker_set_up(r.cl.mc, id);
		}
		if (st.acked == N_EVENTS)
			break;
	}
	assert_true(down > 0);
	/* The outage held delivery up: no acknowledgement while every broker
	 * was down, and the bridge noticed (or the sends failed). */
	assert_true(acked_late < N_EVENTS);
	assert_int_equal(acked_late, acked_early);
	assert_true(saw_disconnected || st.failed > failed_at_down ||
		    st.reconnects > reconnects_at_down);
	/* Then everything arrived after set_up, each once. */
	assert_int_equal(st.acked, N_EVENTS);
	assert_int_equal(st.dropped, 0);
	assert_int_equal(bridge_acked_seq(b, SOURCE), N_EVENTS);
	assert_int_equal(bridge_drain(b, 5000, err, sizeof err), 0);
	/* Copies may exist only of what was in flight when the brokers went
	 * down (librdkafka 2.0's mock cluster keeps some batches whose
	 * response the outage cut off, and the idempotent retry appends them
	 * again), or of what the bridge itself resent after a failed delivery
	 * report. Each is dropped by a consumer on the source/seq headers. */
	uint64_t hi = st.resent > 0 ? N_EVENTS : acked_at_down + r.cc.window;
	uint64_t dups = read_back(r.cl.boot, acked_at_down, hi);
	print_message("outage at %llu acked: failed %llu, resent %llu, copies read %llu\n",
		      (unsigned long long)acked_at_down, (unsigned long long)st.failed,
		      (unsigned long long)st.resent, (unsigned long long)dups);
	rig_down(&r);
}

/* Step the bridge until `acked` events are acknowledged or about
 * `seconds` passed; returns the stats seen last. */
static struct bridge_stats step_until_acked(struct bridge *b, uint64_t acked, int seconds)
{
	struct bridge_stats st;
	int64_t end = shmbus_mono_ns() + (int64_t)seconds * 1000000000;
	do {
		bridge_step(b, 1000000);
		bridge_get_stats(b, &st);
	} while (st.acked < acked && shmbus_mono_ns() < end);
	return st;
}

/*
 * Every broker goes down while nothing is in flight (all acknowledged):
 * no delivery report will ever come to say they are back. The bridge
 * must still find out and export what the ring received meanwhile
 * (it once waited for a report that could not come, forever).
 */
static void test_bridge_kafka_idle_outage_resumes(void **state)
{
	char err[512];
	struct rig r;
	struct bridge_stats st;
	(void)state;
	rig_up(&r);
	struct bridge *b = r.b;
	publish_range(r.bus, NULL, 0, N_EVENTS / 2);
	st = step_until_acked(b, N_EVENTS / 2, 60);
	assert_int_equal(st.acked, N_EVENTS / 2);
	for (int id = 1; id <= 3; id++)
		rd_kafka_mock_broker_set_down(r.cl.mc, id);
	/* librdkafka reports "all brokers down" once its connections fail */
	int64_t end = shmbus_mono_ns() + 30 * 1000000000LL;
	do {
		bridge_step(b, 1000000);
		bridge_get_stats(b, &st);
	} while (st.connected && shmbus_mono_ns() < end);
	assert_int_equal(st.connected, 0);
	publish_range(r.bus, NULL, N_EVENTS / 2, N_EVENTS);
	for (int i = 0; i < 300; i++) /* ~0.3 s or more down, events waiting */
		bridge_step(b, 1000000);
	bridge_get_stats(b, &st);
	assert_int_equal(st.acked, N_EVENTS / 2);
	for (int id = 1; id <= 3; id++)
		rd_kafka_mock_broker_set_up(r.cl.mc, id);
	st = step_until_acked(b, N_EVENTS, 60);
	assert_int_equal(st.acked, N_EVENTS);
	assert_int_equal(st.connected, 1);
	assert_int_equal(st.dropped, 0);
	assert_int_equal(bridge_drain(b, 5000, err, sizeof err), 0);
	read_back(r.cl.boot, 0, 0); /* each once, in per-symbol order */
	rig_down(&r);
}

/*
 * The idempotent producer hits a fatal error mid-export (as on an
 * out-of-order sequence it cannot repair): that librdkafka instance can
 * never send again. The sink must fail back what was outstanding,
 * replace the instance, and the core resend: everything arrives, copies
 * only of what was in flight then (a new producer session), each
 * dropped on the headers.
 */
static void test_bridge_kafka_fatal_error_replaces_producer(void **state)
{
	char err[512];
	struct rig r;
	struct bridge_stats st;
	(void)state;
	rig_up(&r);
	struct bridge *b = r.b;
	publish_all(r.bus, NULL);
	st = step_until_acked(b, N_EVENTS / 4, 60);
	assert_true(st.acked >= N_EVENTS / 4);
	uint64_t acked_at_fatal = st.acked, reconnects = st.reconnects;
	assert_int_equal(bridge_kafka_test_fatal(g_sink, "test: injected"), 0);
	st = step_until_acked(b, N_EVENTS, 60);
	assert_int_equal(st.acked, N_EVENTS);
	assert_int_equal(st.dropped, 0);
	assert_int_equal(bridge_kafka_replaced(g_sink), 1);
	assert_true(st.reconnects > reconnects);
	assert_int_equal(bridge_acked_seq(b, SOURCE), N_EVENTS);
	assert_int_equal(bridge_drain(b, 5000, err, sizeof err), 0);
	uint64_t dups = read_back(r.cl.boot, acked_at_fatal, acked_at_fatal + r.cc.window);
	print_message("fatal at %llu acked: failed %llu, resent %llu, copies read %llu\n",
		      (unsigned long long)acked_at_fatal, (unsigned long long)st.failed,
		      (unsigned long long)st.resent, (unsigned long long)dups);
	/* not a Kafka sink, or none */
	assert_int_equal(bridge_kafka_test_fatal(NULL, "x"), -EINVAL);
	rig_down(&r);
}

static void test_bridge_kafka_crash_copies_dedup_on_headers(void **state)
{
	char err[512], dir[] = "/tmp/shmbus-bridge-kafka-XXXXXX", jdir[64], ckpt[64];
	struct cluster cl;
	struct bridge_core_config cc;
	struct bridge_stats st;
	struct shmbus_journal_writer *w = NULL;
	shmbus_consumer *c = NULL;
	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(jdir, sizeof jdir, "%s/journal", dir);
	snprintf(ckpt, sizeof ckpt, "%s/ckpt", dir);
	mkdir(jdir, 0700);
	cluster_up(&cl);
	shmbus_bus *bus = bus_with_events();
	core_config(&cc);
	cc.checkpoint = ckpt;
	cc.checkpoint_interval_ns = 3600 * 1000000000LL; /* only when the test says */
	cc.journal_dir = jdir;
	cc.journal_bus = "kt";
	assert_int_equal(shmbus_subscribe(bus, cc.ring, &cc.sub, &c), 0);
	assert_int_equal(shmbus_journal_writer_open(jdir, "kt", NULL, &w, NULL, NULL), 0);
	publish_all(bus, w);
	assert_int_equal(shmbus_journal_writer_close(w), 0);
	shmbus_consumer_close(c); /* the ring keeps the events for the bridge */

	/* First run: checkpoint at a quarter, then "crash" past half: the
	 * events acknowledged after the checkpoint are sent again. */
	struct bridge *b = bridge_new(bus, cl.boot, &cc);
	uint64_t ckpt_seq = 0;
	for (int i = 0; i < 200000; i++) {
		bridge_step(b, 1000000);
		bridge_get_stats(b, &st);
		if (ckpt_seq == 0 && st.acked >= N_EVENTS / 4) {
			assert_int_equal(bridge_checkpoint(b, err, sizeof err), 0);
			ckpt_seq = bridge_acked_seq(b, SOURCE);
		}
		if (st.acked >= N_EVENTS / 2)
			break;
	}
	assert_true(ckpt_seq >= N_EVENTS / 4 && st.acked >= N_EVENTS / 2);
	bridge_close(b); /* no drain, no checkpoint: a crash for what follows */

	/* Restart: catch-up from the checkpoint, then the ring. */
	b = bridge_new(bus, cl.boot, &cc);
	int64_t n = bridge_catchup(b, NULL, err, sizeof err);
	if (n < 0)
		fail_msg("catch-up: %s", err);
	assert_true(n >= (int64_t)(N_EVENTS - ckpt_seq));
	for (int i = 0; i < 200000 && bridge_acked_seq(b, SOURCE) < N_EVENTS; i++)
		bridge_step(b, 1000000);
	assert_int_equal(bridge_acked_seq(b, SOURCE), N_EVENTS);
	assert_int_equal(bridge_drain(b, 5000, err, sizeof err), 0);
	/* Kafka kept copies of what was sent after the checkpoint; a consumer
	 * deduplicating on (source, seq) sees each event once, in order. */
	uint64_t dups = read_back(cl.boot, ckpt_seq, N_EVENTS);
	assert_true(dups > 0);
	assert_true(dups <= N_EVENTS - ckpt_seq);
	bridge_close(b);
	shmbus_bus_close(bus);
	cluster_down(&cl);
	assert_int_equal(tfs_rm_rf(dir), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bridge_kafka_export_survives_broker_down),
		cmocka_unit_test(test_bridge_kafka_idle_outage_resumes),
		cmocka_unit_test(test_bridge_kafka_fatal_error_replaces_producer),
		cmocka_unit_test(test_bridge_kafka_crash_copies_dedup_on_headers),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
