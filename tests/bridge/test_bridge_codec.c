/*
 * test_bridge_codec.c - every event type round-trips through the bridge's
 * JSON and binary encodings; bad input is an error naming where.
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

#include "bridge_codec.h"

static size_t make_event(unsigned type, unsigned i, unsigned char *buf)
{
	struct shmbus_event_header *h = (void *)buf;
	size_t size = shmbus_event_type_size(type);
	if (size == 0)
		size = sizeof *h + 24; /* a user type */
	memset(buf, 0, SHMBUS_EVENT_MAX);
	h->type = (uint16_t)type;
	h->version = 1;
	h->flags = (uint8_t)(i & 3);
	h->size = (uint16_t)size;
	h->source_id = 7 + i;
	h->symbol_id = 3 + i;
	h->seq = 1000000000000ULL + i;
	h->event_time_ns = 1700000000123456789LL + i;
	h->publish_time_ns = -5 - (int64_t)i;
	double *d = (double *)(buf + sizeof *h);
	switch (type) {
	case SHMBUS_EV_TRADE: d[0] = 0.1 + i; d[1] = 1e-9; break;
	case SHMBUS_EV_QUOTE: d[0] = 1.0 / 3; d[1] = NAN; d[2] = INFINITY; d[3] = -INFINITY; break;
	case SHMBUS_EV_BAR: {
		struct shmbus_bar *b = (void *)buf;
		b->start_ns = -1; b->interval_ms = 1000; b->trade_count = 42;
		b->open = 1; b->high = 2.5; b->low = 0.5; b->close = 1.25; b->volume = 1e300;
		b->origin_ns = 1700000000000000001LL + i;
		break;
	}
	case SHMBUS_EV_INDICATOR: {
		struct shmbus_indicator *in = (void *)buf;
		in->kind = SHMBUS_IND_MACD; in->param[0] = 12; in->param[1] = 26; in->param[2] = 9;
		in->value[0] = -0.5; in->value[1] = NAN; in->value[2] = 5e-324;
		in->origin_ns = -2 - (int64_t)i;
		break;
	}
	case SHMBUS_EV_THRESHOLD: {
		struct shmbus_threshold *t = (void *)buf;
		t->rule_id = 9; t->direction = SHMBUS_CROSS_BELOW; t->trigger_type = 1;
		t->value = 99.5; t->threshold = 100; t->trigger_source = 4; t->trigger_seq = UINT64_MAX;
		t->origin_ns = INT64_MAX - i;
		break;
	}
	case SHMBUS_EV_COLLECTION_FAILED: {
		struct shmbus_collection_failed *f = (void *)buf;
		f->error = -EINVAL; f->line = 17;
		strcpy(f->reason, "bad \"price\"\\ \x01 tab\there");
		break;
	}
	case SHMBUS_EV_HEARTBEAT: {
		struct shmbus_heartbeat *hb = (void *)buf;
		hb->pid = 1234; hb->status = 2; hb->events_in = UINT64_MAX; hb->events_out = 3;
		break;
	}
	default:
		for (size_t k = sizeof *h; k < size; k++)
			buf[k] = (unsigned char)(k * 37 + i);
	}
	return size;
}

static const unsigned types[] = {SHMBUS_EV_TRADE, SHMBUS_EV_QUOTE, SHMBUS_EV_BAR,
				 SHMBUS_EV_INDICATOR, SHMBUS_EV_THRESHOLD,
				 SHMBUS_EV_COLLECTION_FAILED, SHMBUS_EV_HEARTBEAT, SHMBUS_EV_USER};

static void roundtrip(enum bridge_encoding enc)
{
	unsigned char ev[SHMBUS_EVENT_MAX];
	char buf[BRIDGE_ENCODED_MAX], err[256] = "";
	struct bridge_decoded d;
	for (size_t t = 0; t < sizeof types / sizeof types[0]; t++) {
		for (unsigned i = 0; i < 3; i++) {
			size_t size = make_event(types[t], i, ev);
			int n = bridge_encode(enc, (void *)ev, "BRK.B", buf, sizeof buf);
			assert_true(n > 0);
			int rc = bridge_decode(enc, buf, (size_t)n, &d, err, sizeof err);
			if (rc != 0)
				fail_msg("type %u: %s: %.*s", types[t], err, n, buf);
			/* NaN != NaN as doubles but their bits are equal here */
			assert_memory_equal(d.ev.bytes, ev, size);
			if (enc == BRIDGE_ENC_JSON)
				assert_string_equal(d.symbol, "BRK.B");
		}
	}
}

static void test_bridge_codec_json_roundtrip_every_type(void **state)
{
	(void)state;
	roundtrip(BRIDGE_ENC_JSON);
}

static void test_bridge_codec_binary_roundtrip_every_type(void **state)
{
	(void)state;
	roundtrip(BRIDGE_ENC_BINARY);
}

static void test_bridge_codec_json_field_names(void **state)
{
	unsigned char ev[SHMBUS_EVENT_MAX];
	char buf[BRIDGE_ENCODED_MAX];
	(void)state;
	make_event(SHMBUS_EV_TRADE, 0, ev);
	int n = bridge_encode_json((void *)ev, "AAPL", buf, sizeof buf);
	assert_true(n > 0);
	assert_non_null(strstr(buf, "\"type\":\"trade\""));
	assert_non_null(strstr(buf, "\"symbol\":\"AAPL\""));
	assert_non_null(strstr(buf, "\"symbol_id\":3"));
	assert_non_null(strstr(buf, "\"seq\":1000000000000"));
	assert_non_null(strstr(buf, "\"price\":"));
	assert_int_equal(bridge_encode_json((void *)ev, "AAPL", buf, 20), -ENOSPC);
}

static void test_bridge_codec_rejects_bad_input(void **state)
{
	unsigned char ev[SHMBUS_EVENT_MAX];
	char buf[BRIDGE_ENCODED_MAX], err[256];
	struct bridge_decoded d;
	(void)state;
	size_t size = make_event(SHMBUS_EV_QUOTE, 0, ev);
	int n = bridge_encode_binary((void *)ev, buf, sizeof buf);
	assert_int_equal(n, (int)size + 1);
	assert_int_equal(bridge_decode_binary(buf, (size_t)n - 1, &d, err, sizeof err), -EBADMSG);
	buf[0] = 9;
	assert_int_equal(bridge_decode_binary(buf, (size_t)n, &d, err, sizeof err), -EBADMSG);
	assert_non_null(strstr(err, "version"));
	const char *js = "{\"type\":\"trade\",\"version\":1,\"flags\":0,\"event_size\":56,"
			 "\"source_id\":1,\"seq\":2,\"symbol_id\":1,\"event_time_ns\":1,"
			 "\"publish_time_ns\":1,\"price\":\"abc\",\"size\":1}";
	assert_int_equal(bridge_decode_json(js, strlen(js), &d, err, sizeof err), -EBADMSG);
	assert_non_null(strstr(err, "price"));
	assert_int_equal(bridge_decode_json("{\"type\":", 8, &d, err, sizeof err), -EBADMSG);
	assert_int_equal(bridge_decode_json("[1]", 3, &d, err, sizeof err), -EBADMSG);
	((struct shmbus_event_header *)ev)->size = 55; /* wrong size for a quote */
	assert_int_equal(bridge_encode_json((void *)ev, NULL, buf, sizeof buf), -EINVAL);
}

/* Found by fuzz_bridge_decode: the binary decoder took any type id (here
 * 0x2d07) and the JSON one took type 0, though a bus carries only
 * 1..SHMBUS_MAX_TYPES-1; such an event decoded from binary encoded to JSON
 * that the JSON decoder refused. Both decoders now refuse it. */
static void test_bridge_codec_rejects_type_out_of_range(void **state)
{
	unsigned char ev[SHMBUS_EVENT_MAX];
	char buf[BRIDGE_ENCODED_MAX], err[256] = "";
	struct bridge_decoded d;
	static const unsigned bad[] = {0, SHMBUS_MAX_TYPES, 0x2d07, UINT16_MAX};
	(void)state;
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		size_t size = make_event(SHMBUS_EV_USER, 0, ev);
		((struct shmbus_event_header *)ev)->type = (uint16_t)bad[i];
		buf[0] = BRIDGE_BIN_VERSION;
		memcpy(buf + 1, ev, size);
		assert_int_equal(bridge_decode_binary(buf, size + 1, &d, err, sizeof err), -EBADMSG);
		assert_non_null(strstr(err, "type"));
	}
	const char *js = "{\"type\":0,\"version\":1,\"flags\":0,\"event_size\":40,"
			 "\"source_id\":1,\"seq\":2,\"symbol_id\":1,\"event_time_ns\":1,"
			 "\"publish_time_ns\":1}";
	assert_int_equal(bridge_decode_json(js, strlen(js), &d, err, sizeof err), -EBADMSG);
	assert_non_null(strstr(err, "\"type\""));
	/* the highest id still decodes, both ways */
	size_t size = make_event(SHMBUS_MAX_TYPES - 1, 0, ev);
	int n = bridge_encode_binary((void *)ev, buf, sizeof buf);
	assert_int_equal(n, (int)size + 1);
	assert_int_equal(bridge_decode_binary(buf, (size_t)n, &d, err, sizeof err), 0);
	n = bridge_encode_json((void *)ev, NULL, buf, sizeof buf);
	assert_true(n > 0);
	assert_int_equal(bridge_decode_json(buf, (size_t)n, &d, err, sizeof err), 0);
	assert_int_equal(d.ev.h.type, SHMBUS_MAX_TYPES - 1);
}

/* Found by fuzz_bridge_decode: a collection_failed event whose reason
 * filled all 48 bytes with no NUL (from a bad producer, or a binary
 * decode) was encoded with 48 bytes of reason, which the JSON decoder
 * refused (the field holds 47 and the NUL). The encoder now keeps to the
 * layout's contract and writes at most 47. */
static void test_bridge_codec_reason_without_nul(void **state)
{
	unsigned char ev[SHMBUS_EVENT_MAX];
	char buf[BRIDGE_ENCODED_MAX], err[256] = "";
	struct bridge_decoded d;
	(void)state;
	make_event(SHMBUS_EV_COLLECTION_FAILED, 0, ev);
	struct shmbus_collection_failed *f = (void *)ev;
	memset(f->reason, 'x', sizeof f->reason); /* no NUL */
	int n = bridge_encode_json((void *)ev, NULL, buf, sizeof buf);
	assert_true(n > 0);
	int rc = bridge_decode_json(buf, (size_t)n, &d, err, sizeof err);
	if (rc != 0)
		fail_msg("%s: %.*s", err, n, buf);
	const struct shmbus_collection_failed *g = (const void *)d.ev.bytes;
	assert_int_equal(strlen(g->reason), sizeof g->reason - 1);
	assert_memory_equal(g->reason, f->reason, sizeof g->reason - 1);
}

/* Bars, indicators and threshold events carry origin_ns, the publish
 * time of the market event that started their chain: a remote consumer
 * measures end-to-end latency with it. The JSON encoding left it out (the
 * binary one has the whole layout), so it arrived as 0 and a JSON round
 * trip lost it. A JSON event without it (from an earlier bridge) still
 * decodes, with origin_ns 0. */
static void test_bridge_codec_json_carries_origin_ns(void **state)
{
	unsigned char ev[SHMBUS_EVENT_MAX];
	char buf[BRIDGE_ENCODED_MAX], err[256] = "";
	struct bridge_decoded d;
	static const unsigned derived[] = {SHMBUS_EV_BAR, SHMBUS_EV_INDICATOR,
					   SHMBUS_EV_THRESHOLD};
	static const size_t at[] = {offsetof(struct shmbus_bar, origin_ns),
				    offsetof(struct shmbus_indicator, origin_ns),
				    offsetof(struct shmbus_threshold, origin_ns)};
	(void)state;
	for (size_t t = 0; t < sizeof derived / sizeof derived[0]; t++) {
		make_event(derived[t], 0, ev);
		int64_t origin = 1700000000987654321LL + (int64_t)t;
		memcpy(ev + at[t], &origin, sizeof origin);
		int n = bridge_encode_json((void *)ev, NULL, buf, sizeof buf);
		assert_true(n > 0);
		char want[64];
		snprintf(want, sizeof want, "\"origin_ns\":%lld", (long long)origin);
		if (strstr(buf, want) == NULL)
			fail_msg("type %u: no %s in %.*s", derived[t], want, n, buf);
		assert_int_equal(bridge_decode_json(buf, (size_t)n, &d, err, sizeof err), 0);
		int64_t got;
		memcpy(&got, d.ev.bytes + at[t], sizeof got);
		assert_int_equal(got, origin);
	}
	const char *old = "{\"type\":\"bar\",\"version\":1,\"flags\":0,\"event_size\":104,"
			  "\"source_id\":1,\"seq\":2,\"symbol_id\":1,\"event_time_ns\":1,"
			  "\"publish_time_ns\":1,\"start_ns\":0,\"interval_ms\":1000,"
			  "\"trade_count\":1,\"open\":1,\"high\":1,\"low\":1,\"close\":1,"
			  "\"volume\":1}";
	if (bridge_decode_json(old, strlen(old), &d, err, sizeof err) != 0)
		fail_msg("a bar without origin_ns: %s", err);
	const struct shmbus_bar *b = (const void *)d.ev.bytes;
	assert_int_equal(b->origin_ns, 0);
	const char *bad = "{\"type\":\"bar\",\"version\":1,\"flags\":0,\"event_size\":104,"
			  "\"source_id\":1,\"seq\":2,\"symbol_id\":1,\"event_time_ns\":1,"
			  "\"publish_time_ns\":1,\"start_ns\":0,\"interval_ms\":1000,"
			  "\"trade_count\":1,\"open\":1,\"high\":1,\"low\":1,\"close\":1,"
			  "\"volume\":1,\"origin_ns\":1.5}";
	assert_int_equal(bridge_decode_json(bad, strlen(bad), &d, err, sizeof err), -EBADMSG);
	assert_non_null(strstr(err, "origin_ns"));
}

static void test_bridge_codec_template(void **state)
{
	unsigned char ev[SHMBUS_EVENT_MAX];
	char buf[128];
	(void)state;
	make_event(SHMBUS_EV_BAR, 0, ev);
	assert_true(bridge_expand_template("shmbus.{type}.{symbol}", (void *)ev, "BRK.B", buf,
					   sizeof buf) > 0);
	assert_string_equal(buf, "shmbus.bar.BRK_B");
	assert_true(bridge_expand_template("x.{source}.{symbol}", (void *)ev, NULL, buf,
					   sizeof buf) > 0);
	assert_string_equal(buf, "x.7.3");
	assert_int_equal(bridge_expand_template("{nope}", (void *)ev, NULL, buf, sizeof buf),
			 -EINVAL);
}

/* Kafka takes a topic of at most 249 characters of [A-Za-z0-9._-], not
 * '.' or '..': the check allowed 255 bytes (the NATS bound), so a topic
 * of 250..255 passed at start and every event was then refused by the
 * broker. The longest expansion counts ({type}: 17 characters). */
static void test_bridge_codec_kafka_topic_limits(void **state)
{
	char tpl[300], why[256];
	(void)state;
	memset(tpl, 'k', sizeof tpl);
	tpl[249] = '\0';
	assert_int_equal(bridge_check_template(tpl, BRIDGE_NAME_KAFKA_TOPIC, why, sizeof why), 0);
	tpl[249] = 'k';
	tpl[250] = '\0';
	assert_int_equal(bridge_check_template(tpl, BRIDGE_NAME_KAFKA_TOPIC, why, sizeof why),
			 -EINVAL);
	if (strstr(why, "249") == NULL)
		fail_msg("want the limit named, got: %s", why);
	/* a NATS subject keeps its own bound */
	assert_int_equal(bridge_check_template(tpl, BRIDGE_NAME_NATS_SUBJECT, why, sizeof why), 0);
	memcpy(tpl + 232, ".{type}", 8); /* 232 + 1 + 17 = 250 */
	assert_int_equal(bridge_check_template(tpl, BRIDGE_NAME_KAFKA_TOPIC, why, sizeof why),
			 -EINVAL);
	memcpy(tpl + 231, ".{type}", 8); /* 249 */
	assert_int_equal(bridge_check_template(tpl, BRIDGE_NAME_KAFKA_TOPIC, why, sizeof why), 0);
	assert_int_equal(bridge_check_template(".", BRIDGE_NAME_KAFKA_TOPIC, why, sizeof why),
			 -EINVAL);
	assert_int_equal(bridge_check_template("..", BRIDGE_NAME_KAFKA_TOPIC, why, sizeof why),
			 -EINVAL);
	assert_int_equal(bridge_check_template("...", BRIDGE_NAME_KAFKA_TOPIC, why, sizeof why),
			 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bridge_codec_json_roundtrip_every_type),
		cmocka_unit_test(test_bridge_codec_binary_roundtrip_every_type),
		cmocka_unit_test(test_bridge_codec_json_field_names),
		cmocka_unit_test(test_bridge_codec_rejects_bad_input),
		cmocka_unit_test(test_bridge_codec_rejects_type_out_of_range),
		cmocka_unit_test(test_bridge_codec_reason_without_nul),
		cmocka_unit_test(test_bridge_codec_json_carries_origin_ns),
		cmocka_unit_test(test_bridge_codec_template),
		cmocka_unit_test(test_bridge_codec_kafka_topic_limits),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
