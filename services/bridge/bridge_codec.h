/*
 * bridge_codec.h - wire encodings of bus events for the bridge, and the
 * subject/topic template expansion.
 *
 * Two encodings (docs/bridge.md has the schemas):
 *  - JSON: one flat object per event, field names as in shmbus/event.h,
 *    the symbol both as "symbol" (name) and "symbol_id". Doubles are
 *    printed with 17 significant digits so they round-trip exactly;
 *    non-finite doubles are the strings "nan", "inf", "-inf".
 *  - binary: one version byte (BRIDGE_BIN_VERSION) followed by the event's
 *    fixed little-endian layout (header.size bytes).
 * Decoders treat their input as untrusted: bad input is an error with a
 * message naming the field and byte offset, never a crash.
 *
 * Everything here is pure (no bus, no I/O) and thread-safe.
 */
#ifndef SHMBUS_BRIDGE_CODEC_H
#define SHMBUS_BRIDGE_CODEC_H

#include <stddef.h>
#include <stdint.h>

#include <shmbus/event.h>
#include <shmbus/symbol.h>

#define BRIDGE_BIN_VERSION 1u
/* Largest encoded event: JSON of the biggest layout with escapes. */
#define BRIDGE_ENCODED_MAX 2048u

enum bridge_encoding {
	BRIDGE_ENC_JSON = 0,
	BRIDGE_ENC_BINARY = 1,
};

/* A decoded event: the fixed layout (in `ev`) plus the symbol name. */
struct bridge_decoded {
	union {
		struct shmbus_event_header h;
		unsigned char bytes[SHMBUS_EVENT_MAX];
		uint64_t align_;
	} ev;
	char symbol[SHMBUS_SYMBOL_MAX + 1]; /* "" when not carried */
};

/*
 * Encode `ev` (ev->size bytes) with symbol name `symbol` (NULL or "" when
 * unknown) into buf. Returns the encoded length (> 0), -ENOSPC when buf is
 * too small, -EINVAL for a malformed event (size below the header or
 * beyond SHMBUS_EVENT_MAX, or a known type with the wrong size).
 */
int bridge_encode(enum bridge_encoding enc, const struct shmbus_event_header *ev,
		  const char *symbol, char *buf, size_t len);
int bridge_encode_json(const struct shmbus_event_header *ev, const char *symbol, char *buf,
		       size_t len);
int bridge_encode_binary(const struct shmbus_event_header *ev, char *buf, size_t len);

/*
 * Decode `len` bytes of `data` into *out. Returns 0, or -EINVAL / -EBADMSG
 * with a one-line reason in err (naming the field and byte offset).
 * Thread-safe.
 */
int bridge_decode(enum bridge_encoding enc, const void *data, size_t len,
		  struct bridge_decoded *out, char *err, size_t errlen);
int bridge_decode_json(const char *data, size_t len, struct bridge_decoded *out, char *err,
		       size_t errlen);
int bridge_decode_binary(const void *data, size_t len, struct bridge_decoded *out, char *err,
			 size_t errlen);

/* "json" / "binary" to an encoding; -EINVAL for anything else. */
int bridge_encoding_from_name(const char *name);
const char *bridge_encoding_name(enum bridge_encoding enc);

/*
 * Expand template `tpl` into buf: {type} (type name, or "type<N>"),
 * {symbol} (name, or the id when unknown), {symbol_id}, {source}.
 * Characters outside [A-Za-z0-9_-] in the expanded values become '_'
 * (a '.' would split a NATS subject token). Returns the length, -ENOSPC,
 * or -EINVAL for an unknown {placeholder}.
 */
int bridge_expand_template(const char *tpl, const struct shmbus_event_header *ev,
			   const char *symbol, char *buf, size_t len);

/* Longest subject or topic the sinks send (bytes, without the NUL). */
#define BRIDGE_NAME_MAX 255
/* Longest Kafka topic: the broker refuses a longer one. */
#define BRIDGE_KAFKA_TOPIC_MAX 249

enum bridge_name_kind { BRIDGE_NAME_NATS_SUBJECT, BRIDGE_NAME_KAFKA_TOPIC };

/*
 * Check template `tpl` once, before anything is sent: every {placeholder}
 * known and closed, the longest expansion (longest type name, a symbol of
 * SHMBUS_SYMBOL_MAX bytes, 10-digit ids) at most BRIDGE_NAME_MAX bytes
 * (a Kafka topic: BRIDGE_KAFKA_TOPIC_MAX), and the literal text valid for
 * its kind: a NATS publish subject has no empty token ('..', or a '.'
 * first or last), no wildcard ('*', '>') and no white space; a Kafka topic
 * has only [A-Za-z0-9._-] and is neither '.' nor '..'. Returns 0, or
 * -EINVAL with why filled.
 */
int bridge_check_template(const char *tpl, enum bridge_name_kind kind, char *why, size_t n);

#endif
