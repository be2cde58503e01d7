/*
 * test_bridge_kafka.c - the bridge core exporting to librdkafka's built-in
 * mock cluster: events read back with a consumer (content, per-symbol
 * order, each once), and every broker down for a while in the middle,
 * survived by retries with nothing lost.
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

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <shmbus/shmbus.h>

#include "bridge_core.h"

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

static void read_back(const char *bootstraps)
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
	uint8_t *seen = calloc(N_EVENTS + 1, 1);
	uint64_t last[N_SYMS] = {0}, got = 0;
	for (int idle = 0; got < N_EVENTS && idle < 300;) {
		rd_kafka_message_t *m = rd_kafka_consumer_poll(c, 100);
		if (m == NULL || m->err) {
			idle++;
			if (m != NULL)
				rd_kafka_message_destroy(m);
			continue;
		}
		struct bridge_decoded d;
		struct shmbus_quote want;
		char err[256];
		if (bridge_decode_binary(m->payload, m->len, &d, err, sizeof err) != 0)
			fail_msg("decode: %s", err);
		uint64_t seq = d.ev.h.seq;
		assert_true(seq >= 1 && seq <= N_EVENTS);
		if (seen[seq])
			fail_msg("seq %llu delivered twice", (unsigned long long)seq);
		seen[seq] = 1;
		gen((uint32_t)(seq - 1), &want);
		d.ev.h.publish_time_ns = 0;
		assert_memory_equal(d.ev.bytes, &want, sizeof want);
		char key[16];
		snprintf(key, sizeof key, "Q%u", (unsigned)((seq - 1) % N_SYMS));
		assert_int_equal(m->key_len, strlen(key));
		assert_memory_equal(m->key, key, m->key_len);
		uint32_t s = (uint32_t)((seq - 1) % N_SYMS);
		if (seq <= last[s])
			fail_msg("symbol %u: seq %llu after %llu", s, (unsigned long long)seq,
				 (unsigned long long)last[s]);
		last[s] = seq;
		got++;
		rd_kafka_message_destroy(m);
	}
	assert_int_equal(got, N_EVENTS);
	free(seen);
	rd_kafka_consumer_close(c);
	rd_kafka_destroy(c);
}

static void test_bridge_kafka_export_survives_broker_down(void **state)
{
	char e[256], err[512];
	shmbus_bus *bus = NULL;
	shmbus_producer *p = NULL;
	struct bridge *b = NULL;
	struct bridge_sink *sink = NULL;
	(void)state;
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	rd_kafka_conf_set(conf, "log_level", "0", e, sizeof e);
	rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, e, sizeof e);
	assert_non_null(rk);
	rd_kafka_mock_cluster_t *mc = rd_kafka_mock_cluster_new(rk, 3);
	assert_non_null(mc);
	const char *boot = rd_kafka_mock_cluster_bootstraps(mc);
	assert_int_equal(rd_kafka_mock_topic_create(mc, "shmbus.quote", 4, 3), 0);

	assert_int_equal(shmbus_bus_create(NULL, NULL, &bus), 0);
	for (uint32_t s = 0; s < N_SYMS; s++) {
		char name[8];
		snprintf(name, sizeof name, "Q%u", s);
		g_sym[s] = (uint32_t)shmbus_symbol_intern(bus, name, strlen(name));
	}
	struct bridge_kafka_config kc = {.brokers = boot, .topic = "shmbus.{type}",
					 .reconnect_base_ms = 50, .reconnect_max_ms = 500,
					 .max_pending = 1024};
	assert_int_equal(bridge_kafka_open(&kc, BRIDGE_ENC_BINARY, &sink, err, sizeof err), 0);
	struct bridge_core_config cc;
	bridge_core_config_init(&cc);
	cc.enc = BRIDGE_ENC_BINARY;
	cc.window = 1024;
	if (bridge_open(bus, &cc, &sink, 1, &b, err, sizeof err) != 0)
		fail_msg("%s", err);
	struct shmbus_producer_opts po;
	shmbus_producer_opts_init(&po);
	po.source_id = SOURCE;
	assert_int_equal(shmbus_producer_open(bus, &po, &p), 0);
	for (uint32_t i = 0; i < N_EVENTS; i++) {
		struct shmbus_quote q;
		gen(i, &q);
		assert_int_equal(shmbus_publish(p, &q), 1);
	}
	struct bridge_stats st;
	int down = 0;
	for (int i = 0; i < 200000; i++) {
		bridge_step(b, 1000000);
		bridge_get_stats(b, &st);
		if (!down && st.acked >= N_EVENTS / 4) {
			for (int id = 1; id <= 3; id++)
				rd_kafka_mock_broker_set_down(mc, id);
			down = i;
		}
		if (down > 0 && i == down + 1500) /* ~1.5 s of steps at most 1 ms each */
			for (int id = 1; id <= 3; id++)
				rd_kafka_mock_broker_set_up(mc, id);
		if (st.acked == N_EVENTS)
			break;
	}
	assert_true(down > 0);
	assert_int_equal(st.acked, N_EVENTS);
	assert_int_equal(st.dropped, 0);
	assert_int_equal(bridge_acked_seq(b, SOURCE), N_EVENTS);
	assert_int_equal(bridge_drain(b, 5000, err, sizeof err), 0);
	read_back(boot);
	bridge_close(b);
	shmbus_producer_close(p);
	shmbus_bus_close(bus);
	rd_kafka_mock_cluster_destroy(mc);
	rd_kafka_destroy(rk);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bridge_kafka_export_survives_broker_down),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
