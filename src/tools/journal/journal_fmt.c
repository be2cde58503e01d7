/*
 * journal_fmt.c - text, CSV and JSON renderings of journaled events.
 *
 * Each known type is described once, as a list of named fields
 * (jf_fields); the three formats only differ in how they lay that list
 * out, so a new type needs one case here and prints everywhere. Doubles
 * are printed with the fewest digits that read back to the same value:
 * a CSV or JSON export of a backtest must compare equal to the events that
 * produced it. Indicator events in a CSV selected to that one type are the
 * exception: one row per output (event_time_ns,symbol,indicator,value), the
 * shape the pipeline's checks and spreadsheets want.
 */
#include "journal_fmt.h"
#include "tool_fmt.h"
#include "tool_json.h"

#include <errno.h>
#include <inttypes.h>
#include <string.h>

#define JF_MAXF 16

struct jf_field {
	const char *key;
	char val[448]; /* a 208-byte user payload in hex fits */
	int str; /* 1: quote in JSON */
};

struct jf_fields {
	struct jf_field f[JF_MAXF];
	int n;
};

const char jf_csv_help[] =
    "  CSV columns (--format csv; with --types naming exactly one type that type's\n"
    "  own columns, else the mixed set). A header line names the columns.\n"
    "    trade:      event_time_ns,symbol,source_id,seq,price,size\n"
    "    quote:      event_time_ns,symbol,source_id,seq,bid,bid_size,ask,ask_size\n"
    "    bar:        event_time_ns,symbol,source_id,seq,start_ns,interval_ms,open,high,\n"
    "                low,close,volume,trade_count,origin_ns\n"
    "    indicator:  event_time_ns,symbol,indicator,value   one row per output; names\n"
    "                carry the parameters: sma20, ema20, rsi14, vwap, macd12_26_9,\n"
    "                macd12_26_9_signal, macd12_26_9_hist, bb20_2_middle, bb20_2_upper,\n"
    "                bb20_2_lower\n"
    "    threshold:  event_time_ns,symbol,source_id,seq,rule_id,direction,value,\n"
    "                threshold,trigger_source,trigger_seq,origin_ns\n"
    "    collection_failed: event_time_ns,symbol,source_id,seq,error,line,reason\n"
    "    heartbeat:  event_time_ns,symbol,source_id,seq,pid,status,events_in,events_out\n"
    "    other ids:  event_time_ns,symbol,source_id,seq,payload_hex\n"
    "    mixed:      event_time_ns,type,symbol,source_id,seq,fields\n"
    "                (fields: \"key=value key=value ...\" as in the text format)\n";

/* The next field of fs, named key; str 1 quotes its value in JSON. The
 * longest list (a bar) has 9 fields, well under JF_MAXF. */
static struct jf_field *jf_add(struct jf_fields *fs, const char *key, int str)
{
	struct jf_field *f = &fs->f[fs->n++];
	f->key = key;
	f->str = str;
	return f;
}

static void jf_add_str(struct jf_fields *fs, const char *key, const char *v)
{
	struct jf_field *f = jf_add(fs, key, 1);
	snprintf(f->val, sizeof(f->val), "%s", v);
}

static void jf_add_d(struct jf_fields *fs, const char *key, double v)
{
	struct jf_field *f = jf_add(fs, key, 0);
	tool_fmt_double(v, f->val, sizeof(f->val));
	if (!strcmp(f->val, "nan") || !strcmp(f->val, "inf") || !strcmp(f->val, "-inf"))
		f->str = 1; /* JSON has no NaN: a string keeps the line valid */
}

static void jf_add_i(struct jf_fields *fs, const char *key, int64_t v)
{
	struct jf_field *f = jf_add(fs, key, 0);
	snprintf(f->val, sizeof(f->val), "%" PRId64, v);
}

static void jf_add_u(struct jf_fields *fs, const char *key, uint64_t v)
{
	struct jf_field *f = jf_add(fs, key, 0);
	snprintf(f->val, sizeof(f->val), "%" PRIu64, v);
}

void jf_indicator_name(const struct shmbus_indicator *ind, char *buf, size_t len)
{
	const char *base = ind->kind == SHMBUS_IND_BOLLINGER ? "bb" : shmbus_indicator_name(ind->kind);
	char tmp[24];
	if (!base) {
		snprintf(tmp, sizeof(tmp), "ind%u", ind->kind);
		base = tmp;
	}
	int n = snprintf(buf, len, "%s", base);
	for (int i = 0; i < 3 && ind->param[i] && n > 0 && (size_t)n < len; i++)
		n += snprintf(buf + n, len - (size_t)n, "%s%u", i ? "_" : "", ind->param[i]);
}

/* Output names (suffixes) of multi-output kinds. */
static const char *const *jf_ind_outputs(unsigned kind, int *n)
{
	static const char *const one[] = {""};
	static const char *const macd[] = {"", "_signal", "_hist"};
	static const char *const bb[] = {"_middle", "_upper", "_lower"};
	*n = kind == SHMBUS_IND_MACD || kind == SHMBUS_IND_BOLLINGER ? 3 : 1;
	return kind == SHMBUS_IND_MACD ? macd : kind == SHMBUS_IND_BOLLINGER ? bb : one;
}

static void jf_payload_hex(struct jf_fields *fs, const struct shmbus_event_header *ev)
{
	static const char hex[] = "0123456789abcdef";
	struct jf_field *f = jf_add(fs, "payload_hex", 1);
	const uint8_t *p = (const uint8_t *)ev + sizeof(*ev);
	size_t n = ev->size - sizeof(*ev), o = 0;
	for (size_t i = 0; i < n && o + 3 < sizeof(f->val); i++) {
		f->val[o++] = hex[p[i] >> 4];
		f->val[o++] = hex[p[i] & 15];
	}
	f->val[o] = '\0';
	if (n * 2 + 1 > sizeof(f->val)) /* 208 bytes max: keep every byte */
		f->key = "payload_hex_prefix";
}

static void jf_fields_market(struct jf_fields *fs, const struct shmbus_event_header *ev)
{
	if (ev->type == SHMBUS_EV_TRADE) {
		const struct shmbus_trade *t = (const void *)ev;
		jf_add_d(fs, "price", t->price);
		jf_add_d(fs, "size", t->size);
	} else if (ev->type == SHMBUS_EV_QUOTE) {
		const struct shmbus_quote *q = (const void *)ev;
		jf_add_d(fs, "bid", q->bid);
		jf_add_d(fs, "bid_size", q->bid_size);
		jf_add_d(fs, "ask", q->ask);
		jf_add_d(fs, "ask_size", q->ask_size);
	} else {
		const struct shmbus_bar *b = (const void *)ev;
		jf_add_i(fs, "start_ns", b->start_ns);
		jf_add_u(fs, "interval_ms", b->interval_ms);
		jf_add_d(fs, "open", b->open);
		jf_add_d(fs, "high", b->high);
		jf_add_d(fs, "low", b->low);
		jf_add_d(fs, "close", b->close);
		jf_add_d(fs, "volume", b->volume);
		jf_add_u(fs, "trade_count", b->trade_count);
		jf_add_i(fs, "origin_ns", b->origin_ns);
	}
}

static void jf_fields_derived(struct jf_fields *fs, const struct shmbus_event_header *ev)
{
	if (ev->type == SHMBUS_EV_INDICATOR) {
		const struct shmbus_indicator *ind = (const void *)ev;
		char name[48];
		int n;
		jf_indicator_name(ind, name, sizeof(name));
		jf_add_str(fs, "indicator", name);
		jf_ind_outputs(ind->kind, &n);
		static const char *const keys[3][3] = {{"value", "", ""},
		                                       {"macd", "macd_signal", "macd_hist"},
		                                       {"bb_middle", "bb_upper", "bb_lower"}};
		int k = ind->kind == SHMBUS_IND_MACD ? 1 : ind->kind == SHMBUS_IND_BOLLINGER ? 2 : 0;
		for (int i = 0; i < n; i++)
			jf_add_d(fs, keys[k][i], ind->value[i]);
		jf_add_i(fs, "origin_ns", ind->origin_ns);
	} else {
		const struct shmbus_threshold *t = (const void *)ev;
		jf_add_u(fs, "rule_id", t->rule_id);
		jf_add_u(fs, "direction", t->direction);
		jf_add_d(fs, "value", t->value);
		jf_add_d(fs, "threshold", t->threshold);
		jf_add_u(fs, "trigger_source", t->trigger_source);
		jf_add_u(fs, "trigger_seq", t->trigger_seq);
		jf_add_i(fs, "origin_ns", t->origin_ns);
	}
}

/* Fields of ev's payload; a known type of the wrong size prints as hex. */
static void jf_fields(struct jf_fields *fs, const struct shmbus_event_header *ev)
{
	fs->n = 0;
	size_t want = shmbus_event_type_size(ev->type);
	if (want == 0 || want != ev->size) {
		jf_payload_hex(fs, ev);
	} else if (ev->type <= SHMBUS_EV_BAR) {
		jf_fields_market(fs, ev);
	} else if (ev->type <= SHMBUS_EV_THRESHOLD) {
		jf_fields_derived(fs, ev);
	} else if (ev->type == SHMBUS_EV_COLLECTION_FAILED) {
		const struct shmbus_collection_failed *c = (const void *)ev;
		char reason[sizeof(c->reason) + 1];
		memcpy(reason, c->reason, sizeof(c->reason));
		reason[sizeof(c->reason)] = '\0';
		jf_add_i(fs, "error", c->error);
		jf_add_u(fs, "line", c->line);
		jf_add_str(fs, "reason", reason);
	} else {
		const struct shmbus_heartbeat *h = (const void *)ev;
		jf_add_u(fs, "pid", h->pid);
		jf_add_u(fs, "status", h->status);
		jf_add_u(fs, "events_in", h->events_in);
		jf_add_u(fs, "events_out", h->events_out);
	}
}

/* Write s as one CSV cell: quoted when it holds a comma, quote or space. */
static void jf_csv_cell(FILE *o, const char *s)
{
	if (!strpbrk(s, ",\"\n\r ")) {
		fputs(s, o);
		return;
	}
	fputc('"', o);
	for (; *s; s++) {
		if (*s == '"')
			fputc('"', o);
		fputc(*s == '\n' || *s == '\r' ? ' ' : *s, o);
	}
	fputc('"', o);
}

static const char *jf_symbol(const struct jf_printer *p, uint32_t id, char *buf, size_t len)
{
	const char *n = id ? jtool_symtab_name(p->syms, id) : "";
	if (n)
		return n;
	snprintf(buf, len, "#%u", id); /* an id the symbols file does not name */
	return buf;
}

static const char *jf_type(unsigned type, char *buf, size_t len)
{
	const char *n = shmbus_event_type_name(type);
	if (n)
		return n;
	snprintf(buf, len, "type%u", type);
	return buf;
}

static void jf_print_json(struct jf_printer *p, const struct shmbus_event_header *ev,
                          const struct jf_fields *fs)
{
	char sb[32], tb[32];
	FILE *o = p->out;
	fprintf(o, "{\"type\":\"%s\",\"type_id\":%u,\"version\":%u,\"flags\":%u,\"size\":%u,"
	           "\"source_id\":%u,\"seq\":%" PRIu64 ",\"symbol_id\":%u,\"symbol\":",
	        jf_type(ev->type, tb, sizeof(tb)), ev->type, ev->version, ev->flags, ev->size,
	        ev->source_id, ev->seq, ev->symbol_id);
	tool_json_str_ascii(o, jf_symbol(p, ev->symbol_id, sb, sizeof(sb)));
	fprintf(o, ",\"event_time_ns\":%" PRId64 ",\"publish_time_ns\":%" PRId64 ",\"data\":{",
	        ev->event_time_ns, ev->publish_time_ns);
	for (int i = 0; i < fs->n; i++) {
		fprintf(o, "%s\"%s\":", i ? "," : "", fs->f[i].key);
		if (fs->f[i].str)
			tool_json_str_ascii(o, fs->f[i].val);
		else
			fputs(fs->f[i].val, o);
	}
	fputs("}}\n", o);
}

static void jf_print_text(struct jf_printer *p, const struct shmbus_event_header *ev,
                          const struct jf_fields *fs)
{
	char tb[40], sb[32], yb[32];
	FILE *o = p->out;
	jtool_fmt_time(tb, sizeof(tb), ev->event_time_ns);
	fprintf(o, "%s %s src=%u seq=%" PRIu64 " sym=%s", tb, jf_type(ev->type, yb, sizeof(yb)),
	        ev->source_id, ev->seq, jf_symbol(p, ev->symbol_id, sb, sizeof(sb)));
	if (ev->flags)
		fprintf(o, " flags=0x%x", ev->flags);
	for (int i = 0; i < fs->n; i++)
		fprintf(o, " %s=%s", fs->f[i].key, fs->f[i].val);
	fputc('\n', o);
}

static void jf_csv_header(struct jf_printer *p, const struct jf_fields *fs)
{
	FILE *o = p->out;
	if (p->csv_type == 0) {
		fputs("event_time_ns,type,symbol,source_id,seq,fields\n", o);
	} else if (p->csv_type == SHMBUS_EV_INDICATOR) {
		fputs("event_time_ns,symbol,indicator,value\n", o);
	} else {
		fputs("event_time_ns,symbol,source_id,seq", o);
		for (int i = 0; i < fs->n; i++)
			fprintf(o, ",%s", fs->f[i].key);
		fputc('\n', o);
	}
	p->header_done = 1;
}

static void jf_print_csv(struct jf_printer *p, const struct shmbus_event_header *ev,
                         const struct jf_fields *fs)
{
	char sb[32], yb[32];
	FILE *o = p->out;
	size_t want = shmbus_event_type_size(ev->type);
	if (p->csv_type && want && want != ev->size) {
		/* A known type of the wrong size has no columns of its own: it
		 * must neither set the header nor fill a row under it. */
		if (p->csv_skipped++ < 10)
			fprintf(stderr,
			        "shmbus-journal: source %u seq %" PRIu64 ": %s of %u bytes, not %zu: "
			        "left out of the CSV\n",
			        ev->source_id, ev->seq, jf_type(ev->type, yb, sizeof(yb)), ev->size, want);
		return;
	}
	const char *sym = jf_symbol(p, ev->symbol_id, sb, sizeof(sb));
	if (!p->header_done)
		jf_csv_header(p, fs);
	if (p->csv_type == SHMBUS_EV_INDICATOR && fs->n >= 2) {
		const struct shmbus_indicator *ind = (const void *)ev;
		char name[48];
		int n;
		const char *const *outs = jf_ind_outputs(ind->kind, &n);
		jf_indicator_name(ind, name, sizeof(name));
		for (int i = 0; i < n; i++) {
			fprintf(o, "%" PRId64 ",", ev->event_time_ns);
			jf_csv_cell(o, sym);
			fprintf(o, ",%s%s,%s\n", name, outs[i], fs->f[1 + i].val);
		}
		return;
	}
	fprintf(o, "%" PRId64 ",", ev->event_time_ns);
	if (p->csv_type == 0) {
		fprintf(o, "%s,", jf_type(ev->type, yb, sizeof(yb)));
		jf_csv_cell(o, sym);
		fprintf(o, ",%u,%" PRIu64 ",", ev->source_id, ev->seq);
		char all[JF_MAXF * 128];
		size_t n = 0;
		all[0] = '\0';
		for (int i = 0; i < fs->n && n < sizeof(all); i++)
			n += (size_t)snprintf(all + n, sizeof(all) - n, "%s%s=%s", i ? " " : "",
			                      fs->f[i].key, fs->f[i].val);
		jf_csv_cell(o, all);
		fputc('\n', o);
		return;
	}
	jf_csv_cell(o, sym);
	fprintf(o, ",%u,%" PRIu64, ev->source_id, ev->seq);
	for (int i = 0; i < fs->n; i++) {
		fputc(',', o);
		jf_csv_cell(o, fs->f[i].val);
	}
	fputc('\n', o);
}

int jf_finish(struct jf_printer *p)
{
	if (p->format != JF_CSV || p->header_done)
		return 0;
	/* No row came: the header alone still names the columns, so that an
	 * empty selection reads as an empty table, not as no CSV at all. The
	 * columns of one type come from a blank event of its own size. */
	union {
		struct shmbus_event_header h;
		uint8_t b[SHMBUS_EVENT_MAX];
	} blank;
	struct jf_fields fs;
	size_t size = shmbus_event_type_size((unsigned)p->csv_type);
	memset(&blank, 0, sizeof(blank));
	blank.h.type = (uint16_t)p->csv_type;
	blank.h.size = (uint16_t)(size ? size : sizeof(blank.h));
	jf_fields(&fs, &blank.h);
	jf_csv_header(p, &fs);
	return ferror(p->out) ? -EIO : 0;
}

int jf_print(struct jf_printer *p, const struct shmbus_event_header *ev)
{
	struct jf_fields fs;
	jf_fields(&fs, ev);
	if (p->format == JF_JSON)
		jf_print_json(p, ev, &fs);
	else if (p->format == JF_CSV)
		jf_print_csv(p, ev, &fs);
	else
		jf_print_text(p, ev, &fs);
	return ferror(p->out) ? -EIO : 0;
}
