/*
 * bridge_codec.c - encoders and template expansion.
 *
 * The JSON encoder writes fields in layout order with a bounded writer
 * (struct jw): every append checks the room left, so a too-small buffer is
 * -ENOSPC, never an overrun. Doubles use "%.17g", which is enough digits
 * for strtod() to give back the same bits; NaN and infinities, which JSON
 * cannot express, become strings the decoder maps back. Unknown (user)
 * types carry their payload after the header as a hex string so every
 * event on the bus has a JSON form.
 */
#include "bridge_codec.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "the binary encoding copies the little-endian layout as is"
#endif

struct jw {
	char *buf;
	size_t len, pos;
	int overflow;
};

static void jw_printf(struct jw *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void jw_printf(struct jw *w, const char *fmt, ...)
{
	va_list ap;
	if (w->overflow)
		return;
	va_start(ap, fmt);
	int n = vsnprintf(w->buf + w->pos, w->len - w->pos, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= w->len - w->pos) {
		w->overflow = 1;
		return;
	}
	w->pos += (size_t)n;
}

static void jw_double(struct jw *w, const char *key, double v)
{
	if (isnan(v))
		jw_printf(w, ",\"%s\":\"nan\"", key);
	else if (isinf(v))
		jw_printf(w, ",\"%s\":\"%s\"", key, v > 0 ? "inf" : "-inf");
	else
		jw_printf(w, ",\"%s\":%.17g", key, v);
}

static void jw_string(struct jw *w, const char *key, const char *s, size_t max)
{
	jw_printf(w, ",\"%s\":\"", key);
	for (size_t i = 0; i < max && s[i] != '\0'; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '"' || c == '\\')
			jw_printf(w, "\\%c", c);
		else if (c < 0x20 || c >= 0x7f)
			jw_printf(w, "\\u%04x", c);
		else
			jw_printf(w, "%c", c);
	}
	jw_printf(w, "\"");
}

static int event_size_ok(const struct shmbus_event_header *ev)
{
	if (ev->size < sizeof *ev || ev->size > SHMBUS_EVENT_MAX)
		return 0;
	size_t want = shmbus_event_type_size(ev->type);
	return want == 0 || want == ev->size;
}

static void json_payload(struct jw *w, const struct shmbus_event_header *ev)
{
	switch (ev->type) {
	case SHMBUS_EV_TRADE: {
		const struct shmbus_trade *t = (const void *)ev;
		jw_double(w, "price", t->price);
		jw_double(w, "size", t->size);
		break;
	}
	case SHMBUS_EV_QUOTE: {
		const struct shmbus_quote *q = (const void *)ev;
		jw_double(w, "bid", q->bid);
		jw_double(w, "bid_size", q->bid_size);
		jw_double(w, "ask", q->ask);
		jw_double(w, "ask_size", q->ask_size);
		break;
	}
	case SHMBUS_EV_BAR: {
		const struct shmbus_bar *b = (const void *)ev;
		jw_printf(w, ",\"start_ns\":%lld,\"interval_ms\":%u,\"trade_count\":%u",
			  (long long)b->start_ns, b->interval_ms, b->trade_count);
		jw_double(w, "open", b->open);
		jw_double(w, "high", b->high);
		jw_double(w, "low", b->low);
		jw_double(w, "close", b->close);
		jw_double(w, "volume", b->volume);
		jw_printf(w, ",\"origin_ns\":%lld", (long long)b->origin_ns);
		break;
	}
	case SHMBUS_EV_INDICATOR: {
		const struct shmbus_indicator *in = (const void *)ev;
		jw_printf(w, ",\"kind\":%u,\"param\":[%u,%u,%u]", in->kind, in->param[0],
			  in->param[1], in->param[2]);
		jw_double(w, "value0", in->value[0]);
		jw_double(w, "value1", in->value[1]);
		jw_double(w, "value2", in->value[2]);
		jw_printf(w, ",\"origin_ns\":%lld", (long long)in->origin_ns);
		break;
	}
	case SHMBUS_EV_THRESHOLD: {
		const struct shmbus_threshold *t = (const void *)ev;
		jw_printf(w, ",\"rule_id\":%u,\"direction\":%u,\"trigger_type\":%u", t->rule_id,
			  t->direction, t->trigger_type);
		jw_double(w, "value", t->value);
		jw_double(w, "threshold", t->threshold);
		jw_printf(w, ",\"trigger_source\":%u,\"trigger_seq\":%llu,\"origin_ns\":%lld",
			  t->trigger_source, (unsigned long long)t->trigger_seq,
			  (long long)t->origin_ns);
		break;
	}
	case SHMBUS_EV_COLLECTION_FAILED: {
		const struct shmbus_collection_failed *f = (const void *)ev;
		jw_printf(w, ",\"error\":%d,\"line\":%u", f->error, f->line);
		/* NUL-terminated by contract, so at most sizeof - 1 bytes: what
		 * the JSON decoder takes back (a full field from a bad producer
		 * is cut like any truncated reason) */
		jw_string(w, "reason", f->reason, sizeof f->reason - 1);
		break;
	}
	case SHMBUS_EV_HEARTBEAT: {
		const struct shmbus_heartbeat *hb = (const void *)ev;
		jw_printf(w, ",\"pid\":%u,\"status\":%u,\"events_in\":%llu,\"events_out\":%llu",
			  hb->pid, hb->status, (unsigned long long)hb->events_in,
			  (unsigned long long)hb->events_out);
		break;
	}
	default: {
		const unsigned char *p = (const unsigned char *)ev + sizeof *ev;
		jw_printf(w, ",\"payload_hex\":\"");
		for (size_t i = 0; i < ev->size - sizeof *ev; i++)
			jw_printf(w, "%02x", p[i]);
		jw_printf(w, "\"");
		break;
	}
	}
}

int bridge_encode_json(const struct shmbus_event_header *ev, const char *symbol, char *buf,
		       size_t len)
{
	if (ev == NULL || buf == NULL || !event_size_ok(ev))
		return -EINVAL;
	struct jw w = {.buf = buf, .len = len};
	if (len == 0)
		return -ENOSPC;
	const char *tn = shmbus_event_type_name(ev->type);
	if (tn != NULL)
		jw_printf(&w, "{\"type\":\"%s\"", tn);
	else
		jw_printf(&w, "{\"type\":%u", ev->type);
	jw_printf(&w, ",\"version\":%u,\"flags\":%u,\"event_size\":%u,\"source_id\":%u,\"seq\":%llu",
		  ev->version, ev->flags, ev->size, ev->source_id, (unsigned long long)ev->seq);
	if (symbol != NULL && symbol[0] != '\0')
		jw_string(&w, "symbol", symbol, SHMBUS_SYMBOL_MAX);
	jw_printf(&w, ",\"symbol_id\":%u,\"event_time_ns\":%lld,\"publish_time_ns\":%lld",
		  ev->symbol_id, (long long)ev->event_time_ns, (long long)ev->publish_time_ns);
	json_payload(&w, ev);
	jw_printf(&w, "}");
	return w.overflow ? -ENOSPC : (int)w.pos;
}

int bridge_encode_binary(const struct shmbus_event_header *ev, char *buf, size_t len)
{
	if (ev == NULL || buf == NULL || !event_size_ok(ev))
		return -EINVAL;
	if (len < (size_t)ev->size + 1)
		return -ENOSPC;
	buf[0] = (char)BRIDGE_BIN_VERSION;
	memcpy(buf + 1, ev, ev->size);
	return ev->size + 1;
}

int bridge_encode(enum bridge_encoding enc, const struct shmbus_event_header *ev,
		  const char *symbol, char *buf, size_t len)
{
	if (enc == BRIDGE_ENC_BINARY)
		return bridge_encode_binary(ev, buf, len);
	return bridge_encode_json(ev, symbol, buf, len);
}

int bridge_encoding_from_name(const char *name)
{
	if (name != NULL && strcmp(name, "json") == 0)
		return BRIDGE_ENC_JSON;
	if (name != NULL && (strcmp(name, "binary") == 0 || strcmp(name, "raw") == 0))
		return BRIDGE_ENC_BINARY;
	return -EINVAL;
}

const char *bridge_encoding_name(enum bridge_encoding enc)
{
	return enc == BRIDGE_ENC_BINARY ? "binary" : "json";
}

/* Append `s` with every character outside [A-Za-z0-9_-] replaced by '_'. */
static int tpl_put(char *buf, size_t len, size_t *pos, const char *s)
{
	for (; *s != '\0'; s++) {
		char c = *s;
		int ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
			 c == '_' || c == '-';
		if (*pos + 1 >= len)
			return -ENOSPC;
		buf[(*pos)++] = ok ? c : '_';
	}
	return 0;
}

static int tpl_value(const char *key, size_t klen, const struct shmbus_event_header *ev,
		     const char *symbol, char *val, size_t vlen)
{
	const char *tn;
	if (klen == 4 && memcmp(key, "type", 4) == 0) {
		tn = shmbus_event_type_name(ev->type);
		if (tn != NULL)
			snprintf(val, vlen, "%s", tn);
		else
			snprintf(val, vlen, "type%u", ev->type);
	} else if (klen == 6 && memcmp(key, "symbol", 6) == 0) {
		if (symbol != NULL && symbol[0] != '\0')
			snprintf(val, vlen, "%s", symbol);
		else
			snprintf(val, vlen, "%u", ev->symbol_id);
	} else if (klen == 9 && memcmp(key, "symbol_id", 9) == 0) {
		snprintf(val, vlen, "%u", ev->symbol_id);
	} else if (klen == 6 && memcmp(key, "source", 6) == 0) {
		snprintf(val, vlen, "%u", ev->source_id);
	} else {
		return -EINVAL;
	}
	return 0;
}

int bridge_expand_template(const char *tpl, const struct shmbus_event_header *ev,
			   const char *symbol, char *buf, size_t len)
{
	size_t pos = 0;
	char val[64];
	if (len == 0)
		return -ENOSPC;
	for (const char *p = tpl; *p != '\0'; p++) {
		if (*p == '{') {
			const char *end = strchr(p, '}');
			if (end == NULL)
				return -EINVAL;
			if (tpl_value(p + 1, (size_t)(end - p - 1), ev, symbol, val, sizeof val) < 0)
				return -EINVAL;
			if (tpl_put(buf, len, &pos, val) < 0)
				return -ENOSPC;
			p = end;
			continue;
		}
		if (pos + 1 >= len)
			return -ENOSPC;
		buf[pos++] = *p;
	}
	buf[pos] = '\0';
	return (int)pos;
}

int bridge_check_template(const char *tpl, enum bridge_name_kind kind, char *why, size_t n)
{
	struct shmbus_event_header ev = {.type = SHMBUS_EV_COLLECTION_FAILED,
					 .symbol_id = UINT32_MAX,
					 .source_id = UINT32_MAX};
	char sym[SHMBUS_SYMBOL_MAX + 1], buf[BRIDGE_NAME_MAX + 1];
	memset(sym, 'X', SHMBUS_SYMBOL_MAX);
	sym[SHMBUS_SYMBOL_MAX] = '\0';
	int len = bridge_expand_template(tpl, &ev, sym, buf, sizeof buf);
	if (len == -EINVAL) {
		snprintf(why, n, "unknown or unclosed {placeholder} (known: {type}, {symbol}, "
				 "{symbol_id}, {source})");
		return -EINVAL;
	}
	if (kind == BRIDGE_NAME_KAFKA_TOPIC && (len < 0 || len > BRIDGE_KAFKA_TOPIC_MAX)) {
		snprintf(why, n, "expands to more than %d characters (a Kafka topic has at most %d)",
			 len < 0 ? BRIDGE_NAME_MAX : BRIDGE_KAFKA_TOPIC_MAX, BRIDGE_KAFKA_TOPIC_MAX);
		return -EINVAL;
	}
	if (len < 0) {
		snprintf(why, n, "expands to more than %d bytes", BRIDGE_NAME_MAX);
		return -EINVAL;
	}
	if (len == 0) {
		snprintf(why, n, "empty");
		return -EINVAL;
	}
	if (kind == BRIDGE_NAME_KAFKA_TOPIC && (strcmp(buf, ".") == 0 || strcmp(buf, "..") == 0)) {
		snprintf(why, n, "'.' and '..' are not allowed as a Kafka topic");
		return -EINVAL;
	}
	for (int i = 0; i < len; i++) {
		unsigned char c = (unsigned char)buf[i];
		if (kind == BRIDGE_NAME_KAFKA_TOPIC) {
			if (!isalnum(c) && c != '.' && c != '_' && c != '-') {
				snprintf(why, n, "character '%c' is not allowed in a Kafka topic "
						 "([A-Za-z0-9._-])", c);
				return -EINVAL;
			}
		} else if (c == '*' || c == '>' || isspace(c) || c < 0x20 || c == 0x7f) {
			snprintf(why, n, "a NATS publish subject cannot hold a wildcard or white "
					 "space (byte 0x%02x)", c);
			return -EINVAL;
		} else if (c == '.' && (i == 0 || i == len - 1 || buf[i + 1] == '.')) {
			snprintf(why, n, "a NATS subject has no empty token ('.' first, last or "
					 "twice in a row)");
			return -EINVAL;
		}
	}
	return 0;
}
