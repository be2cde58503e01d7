/*
 * bridge_sink.h - what the bridge core needs from an export target.
 *
 * A sink sends encoded events asynchronously and later reports, from
 * poll(), one acknowledgement per event: err 0 (stored by the broker) or a
 * negative code (the core sends it again). Every function is called from
 * the core's thread only; a sink that gets acks on a client library's own
 * thread queues them until poll().
 */
#ifndef SHMBUS_BRIDGE_SINK_H
#define SHMBUS_BRIDGE_SINK_H

#include <stddef.h>
#include <stdint.h>

#include <shmbus/event.h>

#include "bridge_codec.h"

/* pos: the core's window position given to send(), or UINT64_MAX when the
 * sink only knows the event identity (source, seq), or BRIDGE_ACK_ALL_LOST
 * (err < 0): every send of this sink still awaiting its ack is lost (the
 * client that held them is gone) and must be sent again. */
typedef void (*bridge_ack_fn)(void *ctx, uint64_t pos, uint32_t source, uint64_t seq, int err);
#define BRIDGE_ACK_ALL_LOST (UINT64_MAX - 1)

struct bridge_sink;

struct bridge_sink_ops {
	const char *name;
	/* Start sending one event. Returns 0, -EAGAIN (not now: disconnected
	 * or the client's queue is full; try later) or another negative code. */
	int (*send)(struct bridge_sink *s, uint64_t pos, const struct shmbus_event_header *ev,
		    const char *symbol, const void *payload, size_t len);
	/* Deliver the acknowledgements received so far. Returns how many. */
	int (*poll)(struct bridge_sink *s, bridge_ack_fn fn, void *ctx);
	/* 1 when the sink is connected to its broker (as far as it knows). */
	int (*connected)(struct bridge_sink *s);
	/* 1 when the core may send now. NULL: same as connected(). A client
	 * that learns of a reconnection only from a delivery, and buffers
	 * sends while disconnected, is ready when nothing of ours is
	 * outstanding in it: only a send can then find out that the broker
	 * is back, and the send waits in the client until it is. */
	int (*ready)(struct bridge_sink *s);
	/* Reconnections since open. */
	uint64_t (*reconnects)(struct bridge_sink *s);
	/* Wait up to timeout_ms for everything sent to be acknowledged. */
	int (*flush)(struct bridge_sink *s, int timeout_ms);
	void (*destroy)(struct bridge_sink *s);
};

struct bridge_sink {
	const struct bridge_sink_ops *ops;
	enum bridge_encoding enc;
};

/* Reconnect backoff: exponential from base_ms to max_ms, with jitter
 * (a random factor in [0.5, 1]). */
int64_t bridge_backoff_ms(uint32_t attempt, int64_t base_ms, int64_t max_ms);

/* ------------------------------------------------------------------ NATS */

struct bridge_nats_config {
	const char *url;              /* NATS_URL; comma-separated list allowed */
	const char *creds;            /* NATS_CREDS: .creds file */
	const char *user, *password;  /* NATS_USER / NATS_PASSWORD */
	const char *token;            /* NATS_TOKEN */
	const char *tls_ca, *tls_cert, *tls_key; /* NATS_TLS_CA / _CERT / _KEY */
	int tls;                      /* NATS_TLS=1: require TLS */
	const char *stream;           /* JetStream stream (default SHMBUS) */
	const char *subject;          /* subject template (shmbus.{type}.{symbol}) */
	int create_stream;            /* 1: create the stream when missing */
	int64_t dup_window_ns;        /* stream duplicate window (default 2 min) */
	int64_t ack_timeout_ms;       /* async publish ack wait (default 5000) */
	int64_t reconnect_base_ms, reconnect_max_ms; /* backoff (100, 5000) */
	uint32_t max_pending;         /* async publishes in flight (window) */
};

/* Connect (or keep trying in the background when the server is absent)
 * and make a sink. Returns 0, -EINVAL (bad option), -ENOMEM, -EIO with a
 * reason in err. Secrets never appear in err. */
int bridge_nats_open(const struct bridge_nats_config *c, enum bridge_encoding enc,
		     struct bridge_sink **out, char *err, size_t errlen);

/* Check c's URL, .creds file and stream name without connecting, so that
 * a bad one is a usage error before anything starts (bridge_nats_open
 * checks them too). Returns 0 or -EINVAL with the reason in err. */
int bridge_nats_check(const struct bridge_nats_config *c, char *err, size_t errlen);

/* ----------------------------------------------------------------- Kafka */

#define BRIDGE_KAFKA_MAX_PROPS 32

struct bridge_kafka_config {
	const char *brokers;           /* KAFKA_BROKERS */
	const char *topic;             /* topic template (shmbus.{type}) */
	const char *security_protocol; /* KAFKA_SECURITY_PROTOCOL */
	const char *sasl_mechanism, *sasl_username, *sasl_password; /* KAFKA_SASL_* */
	const char *ssl_ca, *ssl_cert, *ssl_key; /* KAFKA_SSL_CA_LOCATION, ... */
	int64_t message_timeout_ms;    /* 0: retry forever (default) */
	int64_t reconnect_base_ms, reconnect_max_ms;
	uint32_t max_pending;
	const char *props[BRIDGE_KAFKA_MAX_PROPS]; /* extra "key=value" settings */
	int nprops;
};

int bridge_kafka_open(const struct bridge_kafka_config *c, enum bridge_encoding enc,
		      struct bridge_sink **out, char *err, size_t errlen);

/* Check c's librdkafka settings (--kafka-set included) without making a
 * producer, so that a bad one is a usage error before anything starts.
 * Returns 0 or -EINVAL with "kafka setting k=v: why (config)" in err. */
int bridge_kafka_check(const struct bridge_kafka_config *c, char *err, size_t errlen);

/* Producer instances replaced after fatal errors since open. */
uint64_t bridge_kafka_replaced(const struct bridge_sink *s);

/* Fault injection: make the sink's librdkafka instance fail as on a fatal
 * idempotence error (rd_kafka_test_fatal_error). Returns 0, -EINVAL (not
 * a Kafka sink, or no instance) or -EIO. */
int bridge_kafka_test_fatal(struct bridge_sink *s, const char *reason);

#endif
