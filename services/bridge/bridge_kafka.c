/*
 * bridge_kafka.c - Kafka sink (librdkafka).
 *
 * An idempotent producer (enable.idempotence=true, hence acks=all and
 * in-order retries per partition) with lz4 compression. The message key is
 * the symbol name, so the default partitioner keeps one symbol in one
 * partition and per-symbol order holds; headers carry type, source, seq
 * and event_time (decimal text). The core's window position rides in the
 * message opaque and comes back in the delivery report, which librdkafka
 * calls from rd_kafka_poll() on the core's thread. Reconnects are
 * librdkafka's own (reconnect.backoff.ms doubling up to
 * reconnect.backoff.max.ms, with jitter); "connected" is inferred from
 * the error callback (all brokers down) and successful deliveries.
 * A fatal error of the idempotent producer (librdkafka's ERR__FATAL, e.g.
 * an out-of-order sequence it cannot repair) leaves the instance unable
 * to send anything again: the sink then fails everything outstanding
 * back to the core (which resends it, in order, after its backoff) and
 * replaces the instance with a new one (a new producer session: what was
 * in flight may reach Kafka twice, deduplicated on the headers).
 * librdkafka's log lines are kept from stderr (libraries never print).
 */
#include "bridge_sink.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <librdkafka/rdkafka.h>

struct kafka_sink {
	struct bridge_sink base;
	struct bridge_kafka_config cfg;
	rd_kafka_t *rk;
	int connected;
	uint64_t reconnects;
	bridge_ack_fn fn; /* valid during poll() */
	void *fn_ctx;
	int acks;
	int fatal;          /* the instance hit a fatal error: replace it */
	int64_t retry_at_ns; /* rk == NULL: when to create it (again) */
	uint32_t replace_attempt; /* replacements since the last delivery */
	uint64_t replaced;  /* instances replaced after fatal errors */
};

static void kafka_dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
	struct kafka_sink *s = opaque;
	(void)rk;
	if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR && !s->connected) {
		s->connected = 1;
		s->reconnects++;
	}
	if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR)
		s->replace_attempt = 0;
	if (s->fn != NULL) {
		s->fn(s->fn_ctx, (uint64_t)(uintptr_t)m->_private, 0, 0,
		      m->err == RD_KAFKA_RESP_ERR_NO_ERROR ? 0 : -EIO);
		s->acks++;
	}
}

static void kafka_error_cb(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
	struct kafka_sink *s = opaque;
	(void)rk;
	(void)reason;
	if (err == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN)
		s->connected = 0;
	if (err == RD_KAFKA_RESP_ERR__FATAL)
		s->fatal = 1;
}

static void kafka_log_cb(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
	(void)rk;
	(void)level;
	(void)fac;
	(void)buf;
}

static int kafka_set(rd_kafka_conf_t *conf, const char *k, const char *v, char *err,
		     size_t errlen, int secret)
{
	char e[256];
	if (v == NULL || v[0] == '\0')
		return 0;
	if (rd_kafka_conf_set(conf, k, v, e, sizeof e) != RD_KAFKA_CONF_OK) {
		snprintf(err, errlen, "kafka setting %s=%s: %s (config)", k, secret ? "***" : v, e);
		return -EINVAL;
	}
	return 0;
}

static int kafka_conf(const struct bridge_kafka_config *c, rd_kafka_conf_t *conf, char *err,
		      size_t errlen)
{
	char num[32];
	int rc = 0;
	rc |= kafka_set(conf, "bootstrap.servers", c->brokers, err, errlen, 0);
	rc |= kafka_set(conf, "enable.idempotence", "true", err, errlen, 0);
	rc |= kafka_set(conf, "acks", "all", err, errlen, 0);
	rc |= kafka_set(conf, "compression.type", "lz4", err, errlen, 0);
	rc |= kafka_set(conf, "linger.ms", "2", err, errlen, 0);
	snprintf(num, sizeof num, "%" PRId64, c->message_timeout_ms);
	rc |= kafka_set(conf, "message.timeout.ms", num, err, errlen, 0);
	snprintf(num, sizeof num, "%" PRId64, c->reconnect_base_ms);
	rc |= kafka_set(conf, "reconnect.backoff.ms", num, err, errlen, 0);
	snprintf(num, sizeof num, "%" PRId64, c->reconnect_max_ms);
	rc |= kafka_set(conf, "reconnect.backoff.max.ms", num, err, errlen, 0);
	snprintf(num, sizeof num, "%" PRIu32, c->max_pending * 2 + 1024);
	rc |= kafka_set(conf, "queue.buffering.max.messages", num, err, errlen, 0);
	rc |= kafka_set(conf, "security.protocol", c->security_protocol, err, errlen, 0);
	rc |= kafka_set(conf, "sasl.mechanisms", c->sasl_mechanism, err, errlen, 0);
	rc |= kafka_set(conf, "sasl.username", c->sasl_username, err, errlen, 0);
	rc |= kafka_set(conf, "sasl.password", c->sasl_password, err, errlen, 1);
	rc |= kafka_set(conf, "ssl.ca.location", c->ssl_ca, err, errlen, 0);
	rc |= kafka_set(conf, "ssl.certificate.location", c->ssl_cert, err, errlen, 0);
	rc |= kafka_set(conf, "ssl.key.location", c->ssl_key, err, errlen, 0);
	for (int i = 0; rc == 0 && i < c->nprops; i++) {
		char kv[512], *eq;
		snprintf(kv, sizeof kv, "%s", c->props[i]);
		if ((eq = strchr(kv, '=')) == NULL) {
			snprintf(err, errlen, "kafka setting '%s': expected key=value (--kafka-set)",
				 kv);
			return -EINVAL;
		}
		*eq = '\0';
		rc |= kafka_set(conf, kv, eq + 1, err, errlen,
				strstr(kv, "password") != NULL || strstr(kv, "secret") != NULL);
	}
	return rc ? -EINVAL : 0;
}

/* A producer instance with the sink's settings and callbacks. */
static rd_kafka_t *kafka_new_instance(struct kafka_sink *s, char *err, size_t errlen, int *rc)
{
	char e[512];
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	if (conf == NULL) {
		*rc = -ENOMEM;
		return NULL;
	}
	if (kafka_conf(&s->cfg, conf, err, errlen) < 0) {
		rd_kafka_conf_destroy(conf);
		*rc = -EINVAL;
		return NULL;
	}
	rd_kafka_conf_set_opaque(conf, s);
	rd_kafka_conf_set_dr_msg_cb(conf, kafka_dr_cb);
	rd_kafka_conf_set_error_cb(conf, kafka_error_cb);
	rd_kafka_conf_set_log_cb(conf, kafka_log_cb);
	rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, e, sizeof e);
	if (rk == NULL) {
		snprintf(err, errlen, "kafka producer: %s (brokers %s)", e, s->cfg.brokers);
		rd_kafka_conf_destroy(conf);
		*rc = -EIO;
	}
	return rk;
}

static int64_t kafka_mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* The reconnect backoff (jittered, doubling) for attempt n, in ns. */
static int64_t kafka_backoff_ns(const struct kafka_sink *s, uint32_t n)
{
	int64_t base = s->cfg.reconnect_base_ms > 0 ? s->cfg.reconnect_base_ms : 100;
	int64_t max = s->cfg.reconnect_max_ms > base ? s->cfg.reconnect_max_ms : base;
	return 1000000LL * bridge_backoff_ms(n, base, max);
}

/*
 * After a fatal error: fail back everything outstanding (purged, each
 * with a delivery report the core takes as a negative ack; whatever has
 * not reported within a short wait is declared lost in one go, since
 * destroying the instance drops its reports), drop the instance and
 * start a new one: at once the first time, after the reconnect backoff
 * when replacements follow each other without a delivery in between
 * (a fatal cause that persists), and again after it when creating one
 * fails. Called from poll(), with the core's ack function.
 */
static void kafka_replace(struct kafka_sink *s)
{
	if (s->rk != NULL) {
		rd_kafka_purge(s->rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
		int64_t end = kafka_mono_ns() + 200000000LL;
		do
			rd_kafka_poll(s->rk, 10);
		while (rd_kafka_outq_len(s->rk) > 0 && kafka_mono_ns() < end);
		rd_kafka_destroy(s->rk);
		s->rk = NULL;
		s->replaced++;
		if (s->fn != NULL)
			s->fn(s->fn_ctx, BRIDGE_ACK_ALL_LOST, 0, 0, -EIO);
		s->retry_at_ns = kafka_mono_ns();
		if (s->replace_attempt++ > 0)
			s->retry_at_ns += kafka_backoff_ns(s, s->replace_attempt - 1);
	}
	if (kafka_mono_ns() < s->retry_at_ns)
		return;
	char err[256]; /* a setting that worked at open: not expected */
	int rc = 0;
	s->fatal = 0;
	s->rk = kafka_new_instance(s, err, sizeof err, &rc);
	if (s->rk == NULL) {
		s->retry_at_ns = kafka_mono_ns() + kafka_backoff_ns(s, s->replace_attempt++);
		return;
	}
	s->reconnects++;
}

static int kafka_send(struct bridge_sink *b, uint64_t pos, const struct shmbus_event_header *ev,
		      const char *symbol, const void *payload, size_t len)
{
	struct kafka_sink *s = (struct kafka_sink *)b;
	char topic[256], src[16], seq[24], et[24], key[32];
	if (s->rk == NULL || s->fatal)
		return -EAGAIN; /* being replaced: resent once it is */
	const char *tn = shmbus_event_type_name(ev->type);
	char tbuf[16];
	if (bridge_expand_template(s->cfg.topic, ev, symbol, topic, sizeof topic) < 0)
		return -EINVAL;
	if (tn == NULL) {
		snprintf(tbuf, sizeof tbuf, "%u", ev->type);
		tn = tbuf;
	}
	snprintf(src, sizeof src, "%" PRIu32, ev->source_id);
	snprintf(seq, sizeof seq, "%" PRIu64, ev->seq);
	snprintf(et, sizeof et, "%" PRId64, ev->event_time_ns);
	if (symbol == NULL || symbol[0] == '\0') {
		snprintf(key, sizeof key, "%" PRIu32, ev->symbol_id);
		symbol = key;
	}
	rd_kafka_resp_err_t e = rd_kafka_producev(
		s->rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
		RD_KAFKA_V_KEY(symbol, strlen(symbol)), RD_KAFKA_V_VALUE((void *)payload, len),
		RD_KAFKA_V_HEADER("type", tn, -1), RD_KAFKA_V_HEADER("source", src, -1),
		RD_KAFKA_V_HEADER("seq", seq, -1), RD_KAFKA_V_HEADER("event_time", et, -1),
		RD_KAFKA_V_OPAQUE((void *)(uintptr_t)pos), RD_KAFKA_V_END);
	if (e == RD_KAFKA_RESP_ERR_NO_ERROR)
		return 0;
	if (e == RD_KAFKA_RESP_ERR__QUEUE_FULL)
		return -EAGAIN;
	if (e == RD_KAFKA_RESP_ERR__FATAL)
		s->fatal = 1; /* replaced at the next poll() */
	return -EIO;
}

static int kafka_poll(struct bridge_sink *b, bridge_ack_fn fn, void *ctx)
{
	struct kafka_sink *s = (struct kafka_sink *)b;
	s->fn = fn;
	s->fn_ctx = ctx;
	s->acks = 0;
	if (s->rk != NULL)
		rd_kafka_poll(s->rk, 0);
	if (s->fatal || s->rk == NULL)
		kafka_replace(s);
	s->fn = NULL;
	return s->acks;
}

static int kafka_connected(struct bridge_sink *b)
{
	struct kafka_sink *s = (struct kafka_sink *)b;
	return s->rk != NULL && !s->fatal && s->connected;
}

/* librdkafka says "all brokers down" but nothing when one is back: a
 * delivery is the only news. With none outstanding no news can come, so
 * the core may send: librdkafka holds the messages until a broker is up
 * (message.timeout.ms 0: forever), and their reports say it is. */
static int kafka_ready(struct bridge_sink *b)
{
	struct kafka_sink *s = (struct kafka_sink *)b;
	if (s->rk == NULL || s->fatal)
		return 0;
	return s->connected || rd_kafka_outq_len(s->rk) == 0;
}

static uint64_t kafka_reconnects(struct bridge_sink *b)
{
	return ((struct kafka_sink *)b)->reconnects;
}

static int kafka_flush(struct bridge_sink *b, int timeout_ms)
{
	struct kafka_sink *s = (struct kafka_sink *)b;
	if (s->rk == NULL || s->fatal)
		return -EIO;
	return rd_kafka_flush(s->rk, timeout_ms) == RD_KAFKA_RESP_ERR_NO_ERROR ? 0 : -ETIMEDOUT;
}

static void kafka_destroy(struct bridge_sink *b)
{
	struct kafka_sink *s = (struct kafka_sink *)b;
	if (s == NULL)
		return;
	if (s->rk != NULL)
		rd_kafka_destroy(s->rk);
	free(s);
}

static const struct bridge_sink_ops kafka_ops = {
	.name = "kafka",
	.send = kafka_send,
	.poll = kafka_poll,
	.connected = kafka_connected,
	.ready = kafka_ready,
	.reconnects = kafka_reconnects,
	.flush = kafka_flush,
	.destroy = kafka_destroy,
};

int bridge_kafka_check(const struct bridge_kafka_config *c, char *err, size_t errlen)
{
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	if (conf == NULL)
		return -ENOMEM;
	int rc = kafka_conf(c, conf, err, errlen);
	rd_kafka_conf_destroy(conf);
	return rc;
}

int bridge_kafka_open(const struct bridge_kafka_config *c, enum bridge_encoding enc,
		      struct bridge_sink **out, char *err, size_t errlen)
{
	struct kafka_sink *s = calloc(1, sizeof *s);
	int rc = 0;
	if (s == NULL)
		return -ENOMEM;
	s->base.ops = &kafka_ops;
	s->base.enc = enc;
	s->cfg = *c;
	s->connected = 1; /* optimistic until the first "all brokers down" */
	s->rk = kafka_new_instance(s, err, errlen, &rc);
	if (s->rk == NULL) {
		free(s);
		return rc;
	}
	*out = &s->base;
	return 0;
}

int bridge_kafka_test_fatal(struct bridge_sink *b, const char *reason)
{
	struct kafka_sink *s = (struct kafka_sink *)b;
	if (b == NULL || b->ops != &kafka_ops || s->rk == NULL)
		return -EINVAL;
	return rd_kafka_test_fatal_error(s->rk, RD_KAFKA_RESP_ERR_OUT_OF_ORDER_SEQUENCE_NUMBER,
					 reason) == RD_KAFKA_RESP_ERR_NO_ERROR
		       ? 0
		       : -EIO;
}

uint64_t bridge_kafka_replaced(const struct bridge_sink *b)
{
	return b != NULL && b->ops == &kafka_ops ? ((const struct kafka_sink *)b)->replaced : 0;
}
