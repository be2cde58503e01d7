/*
 * bridge_decode.c - decoders for the bridge's JSON and binary encodings.
 *
 * The JSON decoder is not a general JSON parser: it accepts exactly what
 * the schema allows (one flat object whose values are numbers, strings or
 * arrays of numbers), tokenizes it into a small field table first and
 * then fills the layout by field name, so the order of fields does not
 * matter and unknown fields are ignored (forward compatibility). Every
 * failure names the field or byte offset. Input is never trusted: lengths
 * are checked before each read and nothing needs a NUL terminator.
 */
#include "bridge_codec.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define JD_MAX_FIELDS 40

struct jd_field {
	const char *key, *val; /* val: start of the value token */
	size_t klen, vlen;
	char kind; /* 'n' number/bare word, 's' string (val excludes quotes), 'a' array */
};

struct jd {
	const char *s;
	size_t len, pos;
	struct jd_field f[JD_MAX_FIELDS];
	size_t n;
	char *err;
	size_t errlen;
};

static int jd_fail(struct jd *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int jd_fail(struct jd *d, const char *fmt, ...)
{
	va_list ap;
	if (d->err != NULL && d->errlen > 0) {
		va_start(ap, fmt);
		vsnprintf(d->err, d->errlen, fmt, ap);
		va_end(ap);
	}
	return -EBADMSG;
}

static void jd_ws(struct jd *d)
{
	while (d->pos < d->len && (d->s[d->pos] == ' ' || d->s[d->pos] == '\t' ||
				   d->s[d->pos] == '\n' || d->s[d->pos] == '\r'))
		d->pos++;
}

/* A string token; start and slen exclude the quotes. Escapes are skipped
 * here and resolved by jd_unescape. */
static int jd_string(struct jd *d, const char **start, size_t *slen)
{
	if (d->pos >= d->len || d->s[d->pos] != '"')
		return jd_fail(d, "expected '\"' at byte %zu", d->pos);
	size_t b = ++d->pos;
	while (d->pos < d->len && d->s[d->pos] != '"') {
		if (d->s[d->pos] == '\\')
			d->pos++;
		d->pos++;
	}
	if (d->pos >= d->len)
		return jd_fail(d, "unterminated string at byte %zu", b - 1);
	*start = d->s + b;
	*slen = d->pos - b;
	d->pos++;
	return 0;
}

static int jd_value(struct jd *d, struct jd_field *f)
{
	jd_ws(d);
	if (d->pos >= d->len)
		return jd_fail(d, "missing value at byte %zu", d->pos);
	char c = d->s[d->pos];
	if (c == '"') {
		f->kind = 's';
		return jd_string(d, &f->val, &f->vlen);
	}
	size_t b = d->pos;
	if (c == '[') {
		f->kind = 'a';
		while (d->pos < d->len && d->s[d->pos] != ']')
			d->pos++;
		if (d->pos >= d->len)
			return jd_fail(d, "unterminated array at byte %zu", b);
		d->pos++;
	} else {
		f->kind = 'n';
		while (d->pos < d->len && strchr(",} \t\r\n", d->s[d->pos]) == NULL)
			d->pos++;
		if (d->pos == b)
			return jd_fail(d, "bad value at byte %zu", b);
	}
	f->val = d->s + b;
	f->vlen = d->pos - b;
	return 0;
}

static int jd_tokenize(struct jd *d)
{
	jd_ws(d);
	if (d->pos >= d->len || d->s[d->pos] != '{')
		return jd_fail(d, "expected '{' at byte %zu", d->pos);
	d->pos++;
	for (;;) {
		jd_ws(d);
		if (d->pos < d->len && d->s[d->pos] == '}' && d->n == 0)
			break;
		if (d->n == JD_MAX_FIELDS)
			return jd_fail(d, "too many fields (more than %d) at byte %zu",
				       JD_MAX_FIELDS, d->pos);
		struct jd_field *f = &d->f[d->n];
		int rc = jd_string(d, &f->key, &f->klen);
		if (rc < 0)
			return rc;
		jd_ws(d);
		if (d->pos >= d->len || d->s[d->pos] != ':')
			return jd_fail(d, "expected ':' at byte %zu", d->pos);
		d->pos++;
		if ((rc = jd_value(d, f)) < 0)
			return rc;
		d->n++;
		jd_ws(d);
		if (d->pos < d->len && d->s[d->pos] == ',') {
			d->pos++;
			continue;
		}
		if (d->pos < d->len && d->s[d->pos] == '}')
			break;
		return jd_fail(d, "expected ',' or '}' at byte %zu", d->pos);
	}
	d->pos++;
	jd_ws(d);
	if (d->pos != d->len)
		return jd_fail(d, "trailing bytes at byte %zu", d->pos);
	return 0;
}

static const struct jd_field *jd_find(const struct jd *d, const char *key)
{
	size_t kl = strlen(key);
	for (size_t i = 0; i < d->n; i++)
		if (d->f[i].klen == kl && memcmp(d->f[i].key, key, kl) == 0)
			return &d->f[i];
	return NULL;
}

/* Copy a token into a NUL-terminated scratch buffer for strto*(). */
static int jd_tok(const struct jd_field *f, char *tmp, size_t tlen)
{
	if (f->vlen == 0 || f->vlen >= tlen)
		return -1;
	memcpy(tmp, f->val, f->vlen);
	tmp[f->vlen] = '\0';
	return 0;
}

static int jd_i64(struct jd *d, const char *key, int64_t min, int64_t max, int64_t *out)
{
	const struct jd_field *f = jd_find(d, key);
	char tmp[32], *end;
	if (f == NULL)
		return jd_fail(d, "missing field \"%s\"", key);
	if (f->kind != 'n' || jd_tok(f, tmp, sizeof tmp) < 0)
		return jd_fail(d, "field \"%s\" is not an integer (byte %zu)", key,
			       (size_t)(f->val - d->s));
	errno = 0;
	long long v = strtoll(tmp, &end, 10);
	if (errno != 0 || *end != '\0' || v < min || v > max)
		return jd_fail(d, "field \"%s\" out of range or not an integer (byte %zu)", key,
			       (size_t)(f->val - d->s));
	*out = v;
	return 0;
}

static int jd_u64(struct jd *d, const char *key, uint64_t *out)
{
	const struct jd_field *f = jd_find(d, key);
	char tmp[32], *end;
	if (f == NULL)
		return jd_fail(d, "missing field \"%s\"", key);
	if (f->kind != 'n' || jd_tok(f, tmp, sizeof tmp) < 0 || tmp[0] == '-')
		return jd_fail(d, "field \"%s\" is not an unsigned integer (byte %zu)", key,
			       (size_t)(f->val - d->s));
	errno = 0;
	unsigned long long v = strtoull(tmp, &end, 10);
	if (errno != 0 || *end != '\0')
		return jd_fail(d, "field \"%s\" out of range (byte %zu)", key,
			       (size_t)(f->val - d->s));
	*out = v;
	return 0;
}

static int jd_double_tok(const char *tok, size_t n, double *out)
{
	char tmp[64], *end;
	if (n == 0 || n >= sizeof tmp)
		return -1;
	memcpy(tmp, tok, n);
	tmp[n] = '\0';
	if (strcmp(tmp, "nan") == 0 || strcmp(tmp, "\"nan\"") == 0) {
		*out = NAN;
		return 0;
	}
	if (strcmp(tmp, "inf") == 0 || strcmp(tmp, "\"inf\"") == 0) {
		*out = INFINITY;
		return 0;
	}
	if (strcmp(tmp, "-inf") == 0 || strcmp(tmp, "\"-inf\"") == 0) {
		*out = -INFINITY;
		return 0;
	}
	errno = 0;
	*out = strtod(tmp, &end);
	return (errno != 0 && errno != ERANGE) || *end != '\0' ? -1 : 0;
}

static int jd_double(struct jd *d, const char *key, double *out)
{
	const struct jd_field *f = jd_find(d, key);
	if (f == NULL)
		return jd_fail(d, "missing field \"%s\"", key);
	if (f->kind == 'a' || jd_double_tok(f->val, f->vlen, out) < 0)
		return jd_fail(d, "field \"%s\" is not a number (byte %zu)", key,
			       (size_t)(f->val - d->s));
	return 0;
}

#define JD_U(key, dst, max)                                                                        \
	do {                                                                                       \
		int64_t v_;                                                                        \
		if ((rc = jd_i64(d, key, 0, (max), &v_)) < 0)                                     \
			return rc;                                                                 \
		(dst) = v_;                                                                        \
	} while (0)
#define JD_D(key, dst)                                                                             \
	do {                                                                                       \
		if ((rc = jd_double(d, key, &(dst))) < 0)                                         \
			return rc;                                                                 \
	} while (0)

/* Unescape a JSON string token into dst (cap bytes with the NUL). Only the
 * escapes the encoder writes are accepted: \" \\ \/ and \u00hh (code points
 * below 0x100, four hex digits); anything else is refused. */
static int jd_unescape(const char *s, size_t n, char *dst, size_t cap)
{
	size_t o = 0;
	for (size_t i = 0; i < n; i++) {
		unsigned c = (unsigned char)s[i];
		if (c == '\\') {
			if (++i >= n)
				return -1;
			c = (unsigned char)s[i];
			if (c == 'u') {
				unsigned v;
				char hex[5];
				if (i + 4 >= n)
					return -1;
				memcpy(hex, s + i + 1, 4);
				hex[4] = '\0';
				if (sscanf(hex, "%4x", &v) != 1 || v > 0xff)
					return -1;
				c = v;
				i += 4;
			} else if (c != '"' && c != '\\' && c != '/') {
				return -1;
			}
		}
		if (o + 1 >= cap)
			return -1;
		dst[o++] = (char)c;
	}
	dst[o] = '\0';
	return (int)o;
}

static int jd_header(struct jd *d, struct bridge_decoded *out)
{
	struct shmbus_event_header *h = &out->ev.h;
	const struct jd_field *f = jd_find(d, "type");
	int64_t v;
	int rc;
	if (f == NULL)
		return jd_fail(d, "missing field \"type\"");
	if (f->kind == 's') {
		char name[32];
		if (jd_unescape(f->val, f->vlen, name, sizeof name) < 0 ||
		    (rc = shmbus_event_type_from_name(name)) < 0)
			return jd_fail(d, "unknown type name at byte %zu", (size_t)(f->val - d->s));
		h->type = (uint16_t)rc;
	} else {
		/* 1..SHMBUS_MAX_TYPES-1, as on the bus: 0 is invalid. */
		if ((rc = jd_i64(d, "type", 1, SHMBUS_MAX_TYPES - 1, &v)) < 0)
			return rc;
		h->type = (uint16_t)v;
	}
	JD_U("version", h->version, UINT8_MAX);
	JD_U("flags", h->flags, UINT8_MAX);
	JD_U("event_size", h->size, SHMBUS_EVENT_MAX);
	JD_U("source_id", h->source_id, UINT32_MAX);
	JD_U("symbol_id", h->symbol_id, UINT32_MAX);
	if ((rc = jd_u64(d, "seq", &h->seq)) < 0)
		return rc;
	if ((rc = jd_i64(d, "event_time_ns", INT64_MIN, INT64_MAX, &v)) < 0)
		return rc;
	h->event_time_ns = v;
	if ((rc = jd_i64(d, "publish_time_ns", INT64_MIN, INT64_MAX, &v)) < 0)
		return rc;
	h->publish_time_ns = v;
	size_t want = shmbus_event_type_size(h->type);
	if (h->size < sizeof *h || (want != 0 && want != h->size))
		return jd_fail(d, "field \"event_size\" is %u, type %u needs %zu", h->size, h->type,
			       want);
	f = jd_find(d, "symbol");
	if (f != NULL && (f->kind != 's' ||
			  jd_unescape(f->val, f->vlen, out->symbol, sizeof out->symbol) < 0))
		return jd_fail(d, "field \"symbol\" is not a symbol name (byte %zu)",
			       (size_t)(f->val - d->s));
	return 0;
}

static int jd_array3(struct jd *d, const char *key, uint16_t out[3])
{
	const struct jd_field *f = jd_find(d, key);
	char tmp[64];
	unsigned a, b, c;
	char end;
	if (f == NULL)
		return jd_fail(d, "missing field \"%s\"", key);
	if (f->kind != 'a' || jd_tok(f, tmp, sizeof tmp) < 0 ||
	    sscanf(tmp, "[%u ,%u ,%u ]%c", &a, &b, &c, &end) != 3 || a > UINT16_MAX ||
	    b > UINT16_MAX || c > UINT16_MAX)
		return jd_fail(d, "field \"%s\" is not an array of 3 integers (byte %zu)", key,
			       (size_t)(f->val - d->s));
	out[0] = (uint16_t)a;
	out[1] = (uint16_t)b;
	out[2] = (uint16_t)c;
	return 0;
}

/* origin_ns of a derived event (bar, indicator, threshold): 0 when absent,
 * as in the JSON of bridges that did not write it. */
static int jd_origin(struct jd *d, int64_t *out)
{
	*out = 0;
	if (jd_find(d, "origin_ns") == NULL)
		return 0;
	return jd_i64(d, "origin_ns", INT64_MIN, INT64_MAX, out);
}

static int jd_payload_market(struct jd *d, struct bridge_decoded *out)
{
	int rc;
	switch (out->ev.h.type) {
	case SHMBUS_EV_TRADE: {
		struct shmbus_trade *t = (void *)out->ev.bytes;
		JD_D("price", t->price);
		JD_D("size", t->size);
		return 0;
	}
	case SHMBUS_EV_QUOTE: {
		struct shmbus_quote *q = (void *)out->ev.bytes;
		JD_D("bid", q->bid);
		JD_D("bid_size", q->bid_size);
		JD_D("ask", q->ask);
		JD_D("ask_size", q->ask_size);
		return 0;
	}
	case SHMBUS_EV_BAR: {
		struct shmbus_bar *b = (void *)out->ev.bytes;
		int64_t v;
		if ((rc = jd_i64(d, "start_ns", INT64_MIN, INT64_MAX, &v)) < 0)
			return rc;
		b->start_ns = v;
		JD_U("interval_ms", b->interval_ms, UINT32_MAX);
		JD_U("trade_count", b->trade_count, UINT32_MAX);
		JD_D("open", b->open);
		JD_D("high", b->high);
		JD_D("low", b->low);
		JD_D("close", b->close);
		JD_D("volume", b->volume);
		return jd_origin(d, &b->origin_ns);
	}
	case SHMBUS_EV_INDICATOR: {
		struct shmbus_indicator *in = (void *)out->ev.bytes;
		JD_U("kind", in->kind, UINT16_MAX);
		if ((rc = jd_array3(d, "param", in->param)) < 0)
			return rc;
		JD_D("value0", in->value[0]);
		JD_D("value1", in->value[1]);
		JD_D("value2", in->value[2]);
		return jd_origin(d, &in->origin_ns);
	}
	default:
		return 1; /* not a market type */
	}
}

static int jd_payload_hex(struct jd *d, struct bridge_decoded *out)
{
	const struct jd_field *f = jd_find(d, "payload_hex");
	size_t n = out->ev.h.size - sizeof out->ev.h;
	if (n == 0 && f == NULL)
		return 0;
	if (f == NULL || f->kind != 's' || f->vlen != 2 * n)
		return jd_fail(d, "field \"payload_hex\" missing or not %zu hex digits", 2 * n);
	for (size_t i = 0; i < n; i++) {
		unsigned v;
		char hex[3] = {f->val[2 * i], f->val[2 * i + 1], '\0'};
		if (strspn(hex, "0123456789abcdefABCDEF") != 2 || sscanf(hex, "%2x", &v) != 1)
			return jd_fail(d, "field \"payload_hex\": bad digit at byte %zu",
				       (size_t)(f->val - d->s) + 2 * i);
		out->ev.bytes[sizeof out->ev.h + i] = (unsigned char)v;
	}
	return 0;
}

static int jd_payload(struct jd *d, struct bridge_decoded *out)
{
	int rc = jd_payload_market(d, out);
	if (rc <= 0)
		return rc;
	switch (out->ev.h.type) {
	case SHMBUS_EV_THRESHOLD: {
		struct shmbus_threshold *t = (void *)out->ev.bytes;
		JD_U("rule_id", t->rule_id, UINT32_MAX);
		JD_U("direction", t->direction, UINT16_MAX);
		JD_U("trigger_type", t->trigger_type, UINT16_MAX);
		JD_D("value", t->value);
		JD_D("threshold", t->threshold);
		JD_U("trigger_source", t->trigger_source, UINT32_MAX);
		if ((rc = jd_u64(d, "trigger_seq", &t->trigger_seq)) < 0)
			return rc;
		return jd_origin(d, &t->origin_ns);
	}
	case SHMBUS_EV_COLLECTION_FAILED: {
		struct shmbus_collection_failed *cf = (void *)out->ev.bytes;
		const struct jd_field *f = jd_find(d, "reason");
		int64_t v;
		if ((rc = jd_i64(d, "error", INT32_MIN, INT32_MAX, &v)) < 0)
			return rc;
		cf->error = (int32_t)v;
		JD_U("line", cf->line, UINT32_MAX);
		if (f == NULL || f->kind != 's' ||
		    jd_unescape(f->val, f->vlen, cf->reason, sizeof cf->reason) < 0)
			return jd_fail(d, "field \"reason\" missing or longer than %zu bytes",
				       sizeof cf->reason - 1);
		return 0;
	}
	case SHMBUS_EV_HEARTBEAT: {
		struct shmbus_heartbeat *hb = (void *)out->ev.bytes;
		JD_U("pid", hb->pid, UINT32_MAX);
		JD_U("status", hb->status, UINT32_MAX);
		if ((rc = jd_u64(d, "events_in", &hb->events_in)) < 0)
			return rc;
		return jd_u64(d, "events_out", &hb->events_out);
	}
	default:
		return jd_payload_hex(d, out);
	}
}

int bridge_decode_json(const char *data, size_t len, struct bridge_decoded *out, char *err,
		       size_t errlen)
{
	struct jd d = {.s = data, .len = len, .err = err, .errlen = errlen};
	if (data == NULL || out == NULL)
		return -EINVAL;
	memset(out, 0, sizeof *out);
	int rc = jd_tokenize(&d);
	if (rc < 0)
		return rc;
	if ((rc = jd_header(&d, out)) < 0)
		return rc;
	return jd_payload(&d, out);
}

int bridge_decode_binary(const void *data, size_t len, struct bridge_decoded *out, char *err,
			 size_t errlen)
{
	const unsigned char *p = data;
	struct shmbus_event_header h;
	if (data == NULL || out == NULL)
		return -EINVAL;
	memset(out, 0, sizeof *out);
	if (len < 1 + sizeof h) {
		snprintf(err, errlen, "binary event too short: %zu bytes (need %zu)", len,
			 1 + sizeof h);
		return -EBADMSG;
	}
	if (p[0] != BRIDGE_BIN_VERSION) {
		snprintf(err, errlen, "binary encoding version %u unknown at byte 0 (expected %u)",
			 p[0], BRIDGE_BIN_VERSION);
		return -EBADMSG;
	}
	memcpy(&h, p + 1, sizeof h);
	if (h.type == 0 || h.type >= SHMBUS_MAX_TYPES) {
		/* no bus carries it, and the JSON encoding could not say it */
		snprintf(err, errlen, "binary event type %u (byte 1) is not in 1..%d", h.type,
			 SHMBUS_MAX_TYPES - 1);
		return -EBADMSG;
	}
	size_t want = shmbus_event_type_size(h.type);
	if (h.size < sizeof h || h.size > SHMBUS_EVENT_MAX || h.size != len - 1 ||
	    (want != 0 && want != h.size)) {
		snprintf(err, errlen,
			 "binary event size field %u (byte 5) does not match %zu payload bytes "
			 "or type %u",
			 h.size, len - 1, h.type);
		return -EBADMSG;
	}
	memcpy(out->ev.bytes, p + 1, h.size);
	return 0;
}

int bridge_decode(enum bridge_encoding enc, const void *data, size_t len,
		  struct bridge_decoded *out, char *err, size_t errlen)
{
	if (enc == BRIDGE_ENC_BINARY)
		return bridge_decode_binary(data, len, out, err, errlen);
	return bridge_decode_json(data, len, out, err, errlen);
}
