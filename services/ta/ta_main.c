/*
 * shmbus-ta - the technical-analysis service.
 *
 * Subscribes one ring (default "ta", policy block: lossless) to trades and
 * heartbeats. Per symbol it builds time bars (1 s by default) and, when a
 * bar closes, feeds it to that symbol's indicators (services/ta core) and
 * publishes the bar followed by one indicator event per kind that has a
 * value (SMA, EMA, RSI, MACD, VWAP, Bollinger; kinds still warming up are
 * not published). A bar closes when a trade of a later interval arrives,
 * so its origin_ns is that trade's publish time; bars flushed at the end of
 * a stream carry the publish time of their own last trade.
 *
 * End of stream: when the end-of-stream markers of --eos-count upstream
 * sources (heartbeats with status SHMBUS_SVC_EOS_MARKET) have arrived, the
 * service closes every open bar, publishes them with their indicators and
 * then its own marker (SHMBUS_SVC_EOS_TA). SIGTERM does the same for what
 * arrived since the last marker, then writes --stats-json and exits.
 *
 * Per-symbol state lives in a table indexed by symbol id, allocated the
 * first time a symbol trades; the hot path allocates nothing else.
 * Exit codes: 0 ok, 1 runtime failure, 2 usage.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <shmbus/shmbus.h>

#include "svc.h"
#include "ta_state.h"
#include "tool_file.h"

#define TOOL "shmbus-ta"
#define TA_CONFIG_LINE_MAX 4096 /* bytes of a config line, newline aside */

static const char usage_text[] =
    "usage: shmbus-ta [options]\n"
    "Builds per-symbol time bars from the trades of a bus and publishes bars and\n"
    "indicator events (SMA, EMA, RSI, MACD, VWAP, Bollinger) when each bar closes.\n"
    "  --ring NAME         ring to subscribe (default \"ta\")\n"
    "  --capacity N        ring slots, a power of two (default 65536)\n"
    "  --interval-ms MS    bar length (default 1000)\n"
    "  --sma N --ema N --rsi N   periods (defaults 20, 20, 14)\n"
    "  --macd F,S,G        MACD fast, slow, signal (default 12,26,9)\n"
    "  --bb N,K            Bollinger period and whole-number width (default 20,2)\n"
    "  --config FILE       the same settings as key=value lines (sma=20, macd=12,26,9,\n"
    "                      bb=20,2, interval_ms=1000; # comments; lines of at most\n"
    "                      4096 bytes); flags given after --config override it\n"
    "  --eos-count N       end-of-stream markers to wait for before flushing (default 1)\n"
    "  --exit-on-eos       exit after forwarding the end of stream\n"
    "%s"
    "  --help              this text\n"
    "Exit codes: 0 ok, 1 runtime failure, 2 usage.\n";

struct ta_sym {
	struct ta_bar_builder b;
	struct ta_symbol_state st;
	int64_t last_publish_ns; /* publish time of the last trade added */
};

struct ta_svc {
	struct shmbus_svc_opts so;
	const char *ring;
	uint32_t capacity;
	uint32_t interval_ms;
	struct ta_params params;
	uint64_t eos_count;
	int exit_on_eos;

	shmbus_bus *bus;
	shmbus_producer *p;
	struct ta_sym **syms; /* by symbol id, 1..max_symbols */
	uint32_t max_symbols;
	uint32_t nsyms;
	uint64_t eos_seen;
	int dirty; /* trades since the last forwarded end of stream */
	int done;
	int fatal; /* negative code: allocation failure */

	uint64_t trades_in, late, invalid, bad_bars, bars, indicators, eos_in, eos_out;
};

static int ta_usage_error(const char *fmt, const char *arg)
{
	fprintf(stderr, TOOL ": ");
	fprintf(stderr, fmt, arg);
	fprintf(stderr, "\n(see " TOOL " --help)\n");
	return 2;
}

/* "a,b,c" of up to @max whole numbers 1..65535 into @v; returns the count
 * or -EINVAL. Every item must be a number: "12,,26" or a trailing comma is
 * refused, not read as fewer items. */
static int ta_parse_list(const char *s, uint32_t *v, int max)
{
	int n = 0;
	char buf[64], *p, *comma;

	if (strlen(s) >= sizeof(buf))
		return -EINVAL;
	strcpy(buf, s);
	for (p = buf;; p = comma + 1) {
		uint64_t x;
		if ((comma = strchr(p, ',')) != NULL)
			*comma = '\0';
		if (n == max || shmbus_svc_parse_u64(p, &x) != 0 || x < 1 || x > UINT16_MAX)
			return -EINVAL;
		v[n++] = (uint32_t)x;
		if (!comma)
			return n;
	}
}

/* One setting by key (flag name without "--", or config key). Returns 0 or
 * -EINVAL (unknown key) or -ERANGE (bad value). */
static int ta_setting(struct ta_svc *t, const char *key, const char *val)
{
	uint32_t v[3];
	int n;

	if (strcmp(key, "interval_ms") == 0 || strcmp(key, "interval-ms") == 0) {
		n = ta_parse_list(val, v, 1);
		if (n != 1)
			return -ERANGE;
		t->interval_ms = v[0];
		return 0;
	}
	n = ta_parse_list(val, v, 3);
	if (strcmp(key, "sma") == 0 || strcmp(key, "ema") == 0 || strcmp(key, "rsi") == 0) {
		if (n != 1)
			return -ERANGE;
		*(key[0] == 's'   ? &t->params.sma_n
		  : key[0] == 'e' ? &t->params.ema_n
		                  : &t->params.rsi_n) = v[0];
	} else if (strcmp(key, "macd") == 0) {
		if (n != 3)
			return -ERANGE;
		t->params.macd_fast = v[0];
		t->params.macd_slow = v[1];
		t->params.macd_signal = v[2];
	} else if (strcmp(key, "bb") == 0) {
		if (n != 2)
			return -ERANGE;
		t->params.boll_n = v[0];
		t->params.boll_k = v[1];
	} else {
		return -EINVAL;
	}
	return 0;
}

/* One config line (comment and newline already cut). Returns 0, or 2 with
 * the message printed. */
static int ta_config_line(struct ta_svc *t, char *p, const char *path, unsigned lineno)
{
	char *eq, *end;
	int rc;

	while (*p == ' ' || *p == '\t')
		p++;
	end = p + strlen(p);
	while (end > p && (end[-1] == ' ' || end[-1] == '\t'))
		*--end = '\0';
	if (!*p)
		return 0;
	if (!(eq = strchr(p, '='))) {
		fprintf(stderr, TOOL ": %s:%u: expected key=value, got '%.80s'\n", path, lineno, p);
		return 2;
	}
	for (end = eq; end > p && (end[-1] == ' ' || end[-1] == '\t'); end--)
		; /* "sma = 20": blanks around '=' are not part of the key or value */
	*end = '\0';
	for (eq++; *eq == ' ' || *eq == '\t'; eq++)
		;
	if ((rc = ta_setting(t, p, eq)) != 0) {
		fprintf(stderr, TOOL ": %s:%u: %s '%.40s'%s\n", path, lineno,
		        rc == -EINVAL ? "unknown key" : "bad value for", p,
		        rc == -EINVAL ? " (expected sma, ema, rsi, macd, bb, interval_ms)"
		                      : " (whole numbers 1..65535; macd F,S,G; bb N,K)");
		return 2;
	}
	return 0;
}

/* Read a key=value config file: a regular file of lines of at most
 * TA_CONFIG_LINE_MAX bytes, no NUL or other control byte (a tab aside).
 * getline, so a long line is one line: never cut in pieces whose tail
 * would be read as a setting. Returns 0 or 2 (message printed). */
static int ta_load_config(struct ta_svc *t, const char *path)
{
	const char *kind;
	int fd = tool_open_regular(path, &kind, NULL);
	FILE *f = fd >= 0 ? fdopen(fd, "r") : NULL;
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	unsigned lineno = 0;
	int rc = 0;

	if (!f) {
		if (kind)
			fprintf(stderr, TOOL ": cannot read config '%s': not a regular file (%s)\n",
			        path, kind);
		else
			fprintf(stderr, TOOL ": cannot open config '%s': %s\n", path,
			        strerror(fd < 0 ? -fd : errno));
		if (fd >= 0)
			close(fd);
		return 2;
	}
	while (rc == 0 && (n = getline(&line, &cap, f)) >= 0) {
		lineno++;
		if (n > 0 && line[n - 1] == '\n')
			line[--n] = '\0';
		if (n > 0 && line[n - 1] == '\r')
			line[--n] = '\0';
		if (n > TA_CONFIG_LINE_MAX) {
			fprintf(stderr, TOOL ": %s:%u: line longer than %d bytes\n", path, lineno,
			        TA_CONFIG_LINE_MAX);
			rc = 2;
			break;
		}
		for (ssize_t i = 0; i < n; i++)
			if ((unsigned char)line[i] < 0x20 && line[i] != '\t') {
				fprintf(stderr, TOOL ": %s:%u: control byte 0x%02x at column %zd\n",
				        path, lineno, (unsigned char)line[i], i + 1);
				rc = 2;
				break;
			}
		if (rc == 0) {
			line[strcspn(line, "#")] = '\0';
			rc = ta_config_line(t, line, path, lineno);
		}
	}
	if (rc == 0 && ferror(f)) {
		fprintf(stderr, TOOL ": reading config '%s' failed: %s\n", path, strerror(errno));
		rc = 2;
	}
	free(line);
	fclose(f);
	return rc;
}

static int ta_own_opt(struct ta_svc *t, int opt, const char *name, const char *arg)
{
	uint64_t v;

	switch (opt) {
	case 'r':
		t->ring = arg;
		return 0;
	case 'c':
		if (shmbus_svc_parse_u64(arg, &v) != 0 || v < 2 || v > (1u << 24) || (v & (v - 1)))
			return ta_usage_error("--capacity '%s': a power of two 2..16777216", arg);
		t->capacity = (uint32_t)v;
		return 0;
	case 'C':
		return ta_load_config(t, arg);
	case 'n':
		if (shmbus_svc_parse_u64(arg, &t->eos_count) != 0 || t->eos_count == 0)
			return ta_usage_error("--eos-count '%s': a whole number >= 1", arg);
		return 0;
	case 'x':
		t->exit_on_eos = 1;
		return 0;
	case 's':
		if (ta_setting(t, name, arg) != 0) {
			fprintf(stderr,
			        TOOL ": --%s '%s': bad value (whole numbers 1..65535; "
			             "macd F,S,G; bb N,K)\n",
			        name, arg);
			return 2;
		}
		return 0;
	default:
		fprintf(stderr, usage_text, shmbus_svc_common_usage);
		return 2;
	}
}

static int ta_parse_args(struct ta_svc *t, int argc, char **argv)
{
	static const struct option opts[] = {{"ring", required_argument, 0, 'r'},
	                                     {"capacity", required_argument, 0, 'c'},
	                                     {"interval-ms", required_argument, 0, 's'},
	                                     {"sma", required_argument, 0, 's'},
	                                     {"ema", required_argument, 0, 's'},
	                                     {"rsi", required_argument, 0, 's'},
	                                     {"macd", required_argument, 0, 's'},
	                                     {"bb", required_argument, 0, 's'},
	                                     {"config", required_argument, 0, 'C'},
	                                     {"eos-count", required_argument, 0, 'n'},
	                                     {"exit-on-eos", no_argument, 0, 'x'},
	                                     {"help", no_argument, 0, 'h'},
	                                     SHMBUS_SVC_LONGOPTS,
	                                     {0, 0, 0, 0}};
	static struct ta_symbol_state probe;
	char err[256];
	int opt, idx = 0, rc;

	while ((opt = getopt_long(argc, argv, "", opts, &idx)) != -1) {
		if (opt == 'h') {
			printf(usage_text, shmbus_svc_common_usage);
			exit(0);
		}
		rc = shmbus_svc_opt(&t->so, opt, optarg, err, sizeof(err));
		if (rc < 0)
			return ta_usage_error("%s", err);
		if (rc == 0 && (rc = ta_own_opt(t, opt, opts[idx].name, optarg)) != 0)
			return rc;
	}
	if (optind < argc)
		return ta_usage_error("unexpected argument '%s'", argv[optind]);
	if (ta_symbol_init(&probe, &t->params) != 0 || t->interval_ms > TA_BAR_MAX_INTERVAL_MS) {
		fprintf(stderr,
		        TOOL ": invalid indicator parameters (MACD needs fast < slow; "
		             "periods at most %u for SMA and Bollinger; interval at most one "
		             "day)\n",
		        TA_MAX_PERIOD);
		return 2;
	}
	return 0;
}

static void ta_publish_indicator(struct ta_svc *t, uint32_t sym, int64_t when, int64_t origin,
                                 unsigned kind, const uint32_t *param, const double *val)
{
	struct shmbus_indicator *e;

	if (shmbus_claim(t->p, SHMBUS_EV_INDICATOR, sym, sizeof(*e), (void **)&e) != 0)
		return;
	e->h.event_time_ns = when;
	e->kind = (uint16_t)kind;
	for (int i = 0; i < 3; i++) {
		e->param[i] = (uint16_t)param[i];
		e->value[i] = val[i];
	}
	e->origin_ns = origin;
	shmbus_commit(t->p);
	t->indicators++;
}

/* Publish the indicators that have a value after a bar, in kind order. */
static void ta_publish_indicators(struct ta_svc *t, uint32_t sym, const struct ta_symbol_state *st,
                                  int64_t when, int64_t origin)
{
	const struct ta_params *pp = &st->params;
	struct ta_values v;
	uint32_t none[3] = {0, 0, 0};

	ta_symbol_values(st, &v);
	if (v.ready & TA_OUT_SMA)
		ta_publish_indicator(t, sym, when, origin, SHMBUS_IND_SMA,
		                     (uint32_t[3]){pp->sma_n, 0, 0}, (double[3]){v.sma, 0, 0});
	if (v.ready & TA_OUT_EMA)
		ta_publish_indicator(t, sym, when, origin, SHMBUS_IND_EMA,
		                     (uint32_t[3]){pp->ema_n, 0, 0}, (double[3]){v.ema, 0, 0});
	if (v.ready & TA_OUT_RSI)
		ta_publish_indicator(t, sym, when, origin, SHMBUS_IND_RSI,
		                     (uint32_t[3]){pp->rsi_n, 0, 0}, (double[3]){v.rsi, 0, 0});
	if (v.ready & TA_OUT_MACD) {
		int sig = (v.ready & TA_OUT_MACD_SIGNAL) != 0;
		ta_publish_indicator(t, sym, when, origin, SHMBUS_IND_MACD,
		                     (uint32_t[3]){pp->macd_fast, pp->macd_slow, pp->macd_signal},
		                     (double[3]){v.macd.macd, sig ? v.macd.signal : NAN,
		                                 sig ? v.macd.histogram : NAN});
	}
	if (v.ready & TA_OUT_VWAP)
		ta_publish_indicator(t, sym, when, origin, SHMBUS_IND_VWAP, none,
		                     (double[3]){v.vwap, 0, 0});
	if (v.ready & TA_OUT_BOLLINGER)
		ta_publish_indicator(t, sym, when, origin, SHMBUS_IND_BOLLINGER,
		                     (uint32_t[3]){pp->boll_n, (uint32_t)pp->boll_k, 0},
		                     (double[3]){v.boll.middle, v.boll.upper, v.boll.lower});
}

/* Publish a closed bar, then feed it to the indicators and publish them. */
static void ta_close_bar(struct ta_svc *t, uint32_t id, struct ta_sym *s, const struct ta_bar *b,
                         int64_t origin)
{
	struct shmbus_bar *e;

	if (shmbus_claim(t->p, SHMBUS_EV_BAR, id, sizeof(*e), (void **)&e) == 0) {
		e->h.event_time_ns = b->end_ns;
		e->start_ns = b->start_ns;
		e->interval_ms = t->interval_ms;
		e->trade_count = b->trade_count;
		e->open = b->open;
		e->high = b->high;
		e->low = b->low;
		e->close = b->close;
		e->volume = b->volume;
		e->origin_ns = origin;
		shmbus_commit(t->p);
		t->bars++;
	}
	if (ta_on_bar(&s->st, b) < 0) {
		t->bad_bars++;
		return;
	}
	ta_publish_indicators(t, id, &s->st, b->end_ns, origin);
}

static struct ta_sym *ta_symbol(struct ta_svc *t, uint32_t id)
{
	struct ta_sym *s;

	if (id == 0 || id > t->max_symbols)
		return NULL;
	if ((s = t->syms[id]) != NULL)
		return s;
	if (!(s = calloc(1, sizeof(*s)))) {
		t->fatal = -ENOMEM;
		return NULL;
	}
	ta_bar_builder_init(&s->b, t->interval_ms);
	ta_symbol_init(&s->st, &t->params);
	t->syms[id] = s;
	t->nsyms++;
	return s;
}

/* Close every open bar (symbol id order) and forward the end of stream. */
static void ta_end_of_stream(struct ta_svc *t)
{
	struct ta_bar b;

	for (uint32_t id = 1; id <= t->max_symbols; id++) {
		struct ta_sym *s = t->syms[id];
		if (s && ta_bar_builder_flush(&s->b, &b) == 1)
			ta_close_bar(t, id, s, &b, s->last_publish_ns);
	}
	shmbus_svc_publish_status(t->p, SHMBUS_SVC_EOS_TA, t->trades_in, t->bars + t->indicators);
	t->eos_out++;
	t->dirty = 0;
}

static void ta_on_trade(struct ta_svc *t, const struct shmbus_trade *tr)
{
	struct ta_sym *s = ta_symbol(t, tr->h.symbol_id);
	struct ta_bar closed;
	int r;

	t->trades_in++;
	t->dirty = 1;
	if (!s) {
		t->invalid++;
		return;
	}
	r = ta_bar_builder_add(&s->b, tr->h.event_time_ns, tr->price, tr->size, &closed);
	if (r == TA_BAR_CLOSED)
		ta_close_bar(t, tr->h.symbol_id, s, &closed, tr->h.publish_time_ns);
	else if (r == TA_BAR_LATE)
		t->late++;
	else if (r < 0)
		t->invalid++;
	if (r >= 0 && r != TA_BAR_LATE)
		s->last_publish_ns = tr->h.publish_time_ns;
}

static void ta_on_event(const struct shmbus_event_header *ev, void *ctx)
{
	struct ta_svc *t = ctx;

	if (ev->type == SHMBUS_EV_TRADE && ev->size >= sizeof(struct shmbus_trade)) {
		ta_on_trade(t, (const struct shmbus_trade *)ev);
	} else if (shmbus_svc_as_status(ev, SHMBUS_SVC_EOS_MARKET)) {
		t->eos_in++;
		if (++t->eos_seen >= t->eos_count) {
			t->eos_seen = 0;
			ta_end_of_stream(t);
			if (t->exit_on_eos)
				t->done = 1;
		}
	}
}

static int ta_done(void *ctx)
{
	const struct ta_svc *t = ctx;

	return t->done || t->fatal;
}

static void ta_report(struct ta_svc *t)
{
	struct shmbus_svc_json j;
	int rc;

	printf(TOOL ": %llu trades in (%llu late, %llu invalid), %llu bars, %llu indicators out, "
	            "%u symbols, %llu end-of-stream markers forwarded\n",
	       (unsigned long long)t->trades_in, (unsigned long long)t->late,
	       (unsigned long long)t->invalid, (unsigned long long)t->bars,
	       (unsigned long long)t->indicators, t->nsyms, (unsigned long long)t->eos_out);
	fflush(stdout);
	if (!t->so.stats_json)
		return;
	shmbus_svc_json_begin(&j);
	shmbus_svc_json_str(&j, "service", "ta");
	shmbus_svc_json_u64(&j, "source_id", shmbus_producer_source(t->p));
	shmbus_svc_json_u64(&j, "events_in", t->trades_in);
	shmbus_svc_json_u64(&j, "events_out", t->bars + t->indicators);
	shmbus_svc_json_u64(&j, "trades_in", t->trades_in);
	shmbus_svc_json_u64(&j, "late", t->late);
	shmbus_svc_json_u64(&j, "invalid", t->invalid);
	shmbus_svc_json_u64(&j, "bad_bars", t->bad_bars);
	shmbus_svc_json_u64(&j, "bars", t->bars);
	shmbus_svc_json_u64(&j, "indicators", t->indicators);
	shmbus_svc_json_u64(&j, "symbols", t->nsyms);
	shmbus_svc_json_u64(&j, "eos_in", t->eos_in);
	shmbus_svc_json_u64(&j, "eos_out", t->eos_out);
	shmbus_svc_json_end(&j);
	if ((rc = shmbus_svc_json_write(&j, t->so.stats_json)) != 0)
		fprintf(stderr, TOOL ": writing %s failed: %s\n", t->so.stats_json, strerror(-rc));
	shmbus_svc_json_free(&j);
}

/* Attach, subscribe, open the producer, size the symbol table. */
static int ta_attach(struct ta_svc *t, shmbus_consumer **c)
{
	struct shmbus_svc_stage st = {0};
	char err[256];
	const char *what;
	int rc = shmbus_svc_stage_attach(&t->so, t->ring,
	                                 SHMBUS_TYPE_BIT(SHMBUS_EV_TRADE) |
	                                     SHMBUS_TYPE_BIT(SHMBUS_EV_HEARTBEAT),
	                                 t->capacity, &st, &what);

	t->bus = st.bus;
	t->p = st.p;
	*c = st.c;
	if (rc == 0) {
		t->max_symbols = st.max_symbols;
		t->syms = calloc((size_t)st.max_symbols + 1, sizeof(*t->syms));
		what = "allocating symbol state";
		if (!t->syms)
			rc = -ENOMEM;
	}
	if (rc == 0)
		return 0;
	fprintf(stderr, TOOL ": %s (bus '%s', ring '%s') failed: %s\n", what, t->so.bus, t->ring,
	        shmbus_svc_strerror(rc, err, sizeof(err)));
	return 1;
}

int main(int argc, char **argv)
{
	static struct ta_svc t;
	shmbus_consumer *c = NULL;
	char err[256];
	int rc;

	shmbus_svc_opts_init(&t.so, "ta");
	t.ring = "ta";
	t.capacity = 65536;
	t.interval_ms = 1000;
	t.eos_count = 1;
	ta_params_default(&t.params);
	if ((rc = ta_parse_args(&t, argc, argv)) != 0)
		return rc;
	shmbus_svc_signals_install();
	if (shmbus_svc_pin(t.so.cpus, err, sizeof(err)) != 0) {
		fprintf(stderr, TOOL ": pinning failed: %s\n", err);
		return 1;
	}
	if ((rc = ta_attach(&t, &c)) != 0)
		return rc;
	struct shmbus_svc_loop loop = {
	    .bus = t.bus, .c = c, .on_event = ta_on_event, .ctx = &t, .done = ta_done};
	if (shmbus_svc_run(&loop) < 0)
		rc = 1;
	if (t.fatal) {
		fprintf(stderr, TOOL ": out of memory for symbol state\n");
		rc = 1;
	} else if (t.dirty) {
		ta_end_of_stream(&t); /* SIGTERM before the marker: flush anyway */
	}
	ta_report(&t);
	shmbus_consumer_close(c);
	shmbus_producer_close(t.p);
	shmbus_bus_close(t.bus);
	for (uint32_t i = 0; i <= t.max_symbols; i++)
		free(t.syms[i]);
	free(t.syms);
	return rc;
}
