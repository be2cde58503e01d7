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

#include <shmbus/shmbus.h>

#include "svc.h"
#include "svc_conf.h"
#include "ta_session.h"
#include "ta_state.h"

#define TOOL "shmbus-ta"

static const char usage_text[] =
    "usage: shmbus-ta [options]\n"
    "Builds per-symbol time bars from the trades of a bus and publishes bars and\n"
    "indicator events (SMA, EMA, RSI, MACD, VWAP, Bollinger) when each bar closes.\n"
    "  --ring NAME         ring to subscribe (default \"ta\")\n"
    "  --capacity N        slots of the ring it creates, a power of two (default\n"
    "                      65536); an existing (declared) ring keeps its own, and\n"
    "                      its filter, policy and wait (unless --wait is given)\n"
    "  --interval-ms MS    bar length, 1..86400000 (one day; default 1000)\n"
    "  --sma N --ema N --rsi N   periods (defaults 20, 20, 14)\n"
    "  --macd F,S,G        MACD fast, slow, signal (default 12,26,9)\n"
    "  --bb N,K            Bollinger period and whole-number width (default 20,2)\n"
    "  --session-start HH:MM   restart the VWAP at the first bar of each trading\n"
    "                      session, which starts daily at HH:MM local time (default:\n"
    "                      never, a VWAP since start)\n"
    "  --session-tz ZONE   the time zone of --session-start, a tzdata name such as\n"
    "                      America/New_York (DST followed; default UTC)\n"
    "  --config FILE       the same settings as key=value lines (sma=20, macd=12,26,9,\n"
    "                      bb=20,2, interval_ms=1000, session_start=09:30,\n"
    "                      session_tz=America/New_York; # comments; lines of at most\n"
    "                      4096 bytes); flags given after --config override it\n"
    "  --eos-count N       end-of-stream markers to wait for before flushing (default 1)\n"
    "  --exit-on-eos       exit after forwarding the end of stream\n"
    "%s"
    "  --help              this text\n"
    "  --version           the version (first argument)\n"
    "Exit codes: 0 ok, 1 runtime failure, 2 usage.\n";

struct ta_sym {
	struct ta_bar_builder b;
	struct ta_symbol_state st;
	int64_t last_publish_ns; /* publish time of the last trade added */
	int64_t session_day;     /* of its last bar (ta_session_day), INT64_MIN: none */
};

struct ta_svc {
	struct shmbus_svc_opts so;
	struct shmbus_svc_stage_opts stage;
	uint32_t interval_ms;
	struct ta_params params;
	int session_on;        /* --session-start given */
	int session_start_min; /* minutes after local midnight */
	int session_tz_set;    /* --session-tz given (else UTC, not the inherited TZ) */

	struct shmbus_svc_stage st; /* bus, producer, consumer */
	struct ta_sym **syms;       /* by symbol id, 1..st.max_symbols */
	uint32_t nsyms;
	uint64_t eos_seen;
	int dirty; /* trades since the last forwarded end of stream */
	int done;
	int fatal; /* negative code: allocation failure */

	uint64_t trades_in, late, invalid, bad_bars, bars, indicators, eos_in, eos_out;
};

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

	if (strcmp(key, "session_start") == 0 || strcmp(key, "session-start") == 0) {
		if (ta_session_parse_start(val, &t->session_start_min) != 0)
			return -ERANGE;
		t->session_on = 1;
		return 0;
	}
	if (strcmp(key, "session_tz") == 0 || strcmp(key, "session-tz") == 0) {
		if (ta_session_set_zone(val) != 0)
			return -ERANGE;
		t->session_tz_set = 1;
		return 0;
	}
	if (strcmp(key, "interval_ms") == 0 || strcmp(key, "interval-ms") == 0) {
		uint64_t ms;

		/* Not a list item: those are 16-bit event parameters, a bar length
		 * is not, and minute, hour or daily bars need more than 65535. */
		if (shmbus_svc_parse_u64(val, &ms) != 0 || ms < 1 || ms > TA_BAR_MAX_INTERVAL_MS)
			return -ERANGE;
		t->interval_ms = (uint32_t)ms;
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

/* One config line (newline already cut). Returns 0, or 2 with the
 * message printed. */
static int ta_config_line(struct ta_svc *t, struct shmbus_svc_conf *cf, const char *path)
{
	char *key, *val;
	size_t col = shmbus_svc_conf_ctrl(cf->line, cf->len);
	int rc;

	if (col) {
		fprintf(stderr, TOOL ": %s:%u: control byte 0x%02x at column %zu\n", path,
		        cf->lineno, (unsigned char)cf->line[col - 1], col);
		return 2;
	}
	cf->line[strcspn(cf->line, "#")] = '\0';
	if ((rc = shmbus_svc_conf_split(cf->line, &key, &val)) == 0)
		return 0;
	if (rc < 0) {
		fprintf(stderr, TOOL ": %s:%u: expected key=value, got '%.80s'\n", path, cf->lineno,
		        key);
		return 2;
	}
	if ((rc = ta_setting(t, key, val)) != 0) {
		fprintf(stderr, TOOL ": %s:%u: %s '%.40s'%s\n", path, cf->lineno,
		        rc == -EINVAL ? "unknown key" : "bad value for", key,
		        rc == -EINVAL ? " (expected sma, ema, rsi, macd, bb, interval_ms, "
		                        "session_start, session_tz)"
		                      : " (whole numbers 1..65535; macd F,S,G; bb N,K; "
		                        "interval_ms 1..86400000; session_start HH:MM; "
		                        "session_tz an installed tzdata zone)");
		return 2;
	}
	return 0;
}

/* Read a key=value config file: a regular file of lines of at most
 * SHMBUS_SVC_CONF_LINE_MAX bytes, no NUL or other control byte (a tab
 * aside), "#" starting a comment anywhere. Returns 0 or 2 (message
 * printed). */
static int ta_load_config(struct ta_svc *t, const char *path)
{
	struct shmbus_svc_conf cf;
	const char *kind;
	int rc = shmbus_svc_conf_open(&cf, path, &kind);

	if (rc != 0) {
		if (kind)
			fprintf(stderr, TOOL ": cannot read config '%s': not a regular file (%s)\n",
			        path, kind);
		else
			fprintf(stderr, TOOL ": cannot open config '%s': %s\n", path,
			        strerror(-rc));
		return 2;
	}
	while ((rc = shmbus_svc_conf_next(&cf)) == 1 && (rc = ta_config_line(t, &cf, path)) == 0)
		;
	if (rc == -E2BIG)
		fprintf(stderr, TOOL ": %s:%u: line longer than %d bytes\n", path, cf.lineno,
		        SHMBUS_SVC_CONF_LINE_MAX);
	else if (rc < 0)
		fprintf(stderr, TOOL ": reading config '%s' failed: %s\n", path, strerror(-rc));
	shmbus_svc_conf_close(&cf);
	return rc == 0 ? 0 : 2;
}

/* One option of the tool's own (struct shmbus_svc_cli.own). */
static int ta_own_opt(void *ctx, int opt, const char *name, const char *arg)
{
	struct ta_svc *t = ctx;

	switch (opt) {
	case 'C':
		return ta_load_config(t, arg);
	case 's':
		if (ta_setting(t, name, arg) != 0) {
			fprintf(stderr,
			        TOOL ": --%s '%s': bad value (whole numbers 1..65535; "
			             "macd F,S,G; bb N,K; interval-ms 1..86400000; session-start "
			             "HH:MM; session-tz an installed tzdata zone)\n",
			        name, arg);
			return 2;
		}
		return 0;
	default:
		return -ENOENT;
	}
}

/* Returns -1 to go on, else the exit code. */
static int ta_parse_args(struct ta_svc *t, int argc, char **argv)
{
	/* The stage flags one by one, not SHMBUS_SVC_STAGE_LONGOPTS: getopt
	 * lists the candidates of an ambiguous abbreviation ("--r": ring, rsi)
	 * in table order, and this is the order they always had. */
	static const struct option opts[] = {
	    {"ring", required_argument, 0, SHMBUS_SVC_OPT_RING},
	    {"capacity", required_argument, 0, SHMBUS_SVC_OPT_CAPACITY},
	    {"interval-ms", required_argument, 0, 's'},
	    {"sma", required_argument, 0, 's'},
	    {"ema", required_argument, 0, 's'},
	    {"rsi", required_argument, 0, 's'},
	    {"macd", required_argument, 0, 's'},
	    {"bb", required_argument, 0, 's'},
	    {"session-start", required_argument, 0, 's'},
	    {"session-tz", required_argument, 0, 's'},
	    {"config", required_argument, 0, 'C'},
	    {"eos-count", required_argument, 0, SHMBUS_SVC_OPT_EOS_COUNT},
	    {"exit-on-eos", no_argument, 0, SHMBUS_SVC_OPT_EXIT_ON_EOS},
	    {"help", no_argument, 0, 'h'},
	    SHMBUS_SVC_LONGOPTS,
	    {0, 0, 0, 0}};
	const struct shmbus_svc_cli cli = {.tool = TOOL,
	                                   .usage = usage_text,
	                                   .longopts = opts,
	                                   .shortopts = "",
	                                   .so = &t->so,
	                                   .stage = &t->stage,
	                                   .own = ta_own_opt,
	                                   .ctx = t};
	static struct ta_symbol_state probe;
	int rc = shmbus_svc_parse_args(&cli, argc, argv);

	if (rc >= 0)
		return rc;
	/* sessions are in UTC unless a zone was named: never the zone the
	 * process inherited (TZ, /etc/localtime) */
	if (t->session_on && !t->session_tz_set && ta_session_set_zone("UTC") != 0) {
		fprintf(stderr, TOOL ": cannot set the session time zone to UTC\n");
		return 1;
	}
	if (ta_symbol_init(&probe, &t->params) != 0 || t->interval_ms > TA_BAR_MAX_INTERVAL_MS) {
		fprintf(stderr,
		        TOOL ": invalid indicator parameters (MACD needs fast < slow; "
		             "periods at most %u for SMA and Bollinger; interval at most one "
		             "day)\n",
		        TA_MAX_PERIOD);
		return 2;
	}
	return -1;
}

/* One indicator event to publish after a bar. */
struct ta_ind {
	unsigned kind;
	uint32_t param[3];
	double val[3];
};

static void ta_publish_indicator(struct ta_svc *t, uint32_t sym, int64_t when, int64_t origin,
                                 const struct ta_ind *ind, int more)
{
	struct shmbus_indicator *e;

	if (shmbus_claim(t->st.p, SHMBUS_EV_INDICATOR, sym, sizeof(*e), (void **)&e) != 0)
		return;
	e->h.event_time_ns = when;
	e->h.flags = more ? SHMBUS_EVF_MORE : 0;
	e->kind = (uint16_t)ind->kind;
	for (int i = 0; i < 3; i++) {
		e->param[i] = (uint16_t)ind->param[i];
		e->value[i] = ind->val[i];
	}
	e->origin_ns = origin;
	shmbus_commit(t->st.p);
	t->indicators++;
}

/* The indicators that have a value after a bar, in kind order, into
 * out[6]: how many. */
static int ta_indicators_of(const struct ta_symbol_state *st, struct ta_ind *out)
{
	const struct ta_params *pp = &st->params;
	struct ta_values v;
	int n = 0;

	ta_symbol_values(st, &v);
	if (v.ready & TA_OUT_SMA)
		out[n++] = (struct ta_ind){SHMBUS_IND_SMA, {pp->sma_n, 0, 0}, {v.sma, 0, 0}};
	if (v.ready & TA_OUT_EMA)
		out[n++] = (struct ta_ind){SHMBUS_IND_EMA, {pp->ema_n, 0, 0}, {v.ema, 0, 0}};
	if (v.ready & TA_OUT_RSI)
		out[n++] = (struct ta_ind){SHMBUS_IND_RSI, {pp->rsi_n, 0, 0}, {v.rsi, 0, 0}};
	if (v.ready & TA_OUT_MACD) {
		int sig = (v.ready & TA_OUT_MACD_SIGNAL) != 0;
		out[n++] = (struct ta_ind){SHMBUS_IND_MACD,
		                           {pp->macd_fast, pp->macd_slow, pp->macd_signal},
		                           {v.macd.macd, sig ? v.macd.signal : NAN,
		                            sig ? v.macd.histogram : NAN}};
	}
	if (v.ready & TA_OUT_VWAP)
		out[n++] = (struct ta_ind){SHMBUS_IND_VWAP, {0, 0, 0}, {v.vwap, 0, 0}};
	if (v.ready & TA_OUT_BOLLINGER)
		out[n++] = (struct ta_ind){SHMBUS_IND_BOLLINGER,
		                           {pp->boll_n, (uint32_t)pp->boll_k, 0},
		                           {v.boll.middle, v.boll.upper, v.boll.lower}};
	return n;
}

/*
 * Publish a closed bar and the indicators it moved. Every event of the
 * group but the last carries SHMBUS_EVF_MORE, so that a consumer which
 * compares values across them (threshold: close against a band) waits for
 * the whole group instead of pairing this bar's close with the last bar's
 * band.
 */
static void ta_close_bar(struct ta_svc *t, uint32_t id, struct ta_sym *s, const struct ta_bar *b,
                         int64_t origin)
{
	struct shmbus_bar *e;
	struct ta_ind ind[6];
	int nind = 0;

	if (t->session_on) { /* a bar of a new session restarts the VWAP */
		int64_t day = ta_session_day(t->session_start_min, b->start_ns);
		/* later sessions only: a start inside the hour repeated when DST
		 * ends gives the day before again for a while */
		if (s->session_day != INT64_MIN && day > s->session_day)
			ta_symbol_reset_session(&s->st);
		if (day > s->session_day)
			s->session_day = day;
	}
	if (ta_on_bar(&s->st, b) < 0)
		t->bad_bars++;
	else
		nind = ta_indicators_of(&s->st, ind);
	if (shmbus_claim(t->st.p, SHMBUS_EV_BAR, id, sizeof(*e), (void **)&e) == 0) {
		e->h.event_time_ns = b->end_ns;
		e->h.flags = nind > 0 ? SHMBUS_EVF_MORE : 0;
		e->start_ns = b->start_ns;
		e->interval_ms = t->interval_ms;
		e->trade_count = b->trade_count;
		e->open = b->open;
		e->high = b->high;
		e->low = b->low;
		e->close = b->close;
		e->volume = b->volume;
		e->origin_ns = origin;
		shmbus_commit(t->st.p);
		t->bars++;
	}
	for (int i = 0; i < nind; i++)
		ta_publish_indicator(t, id, b->end_ns, origin, &ind[i], i + 1 < nind);
}

static struct ta_sym *ta_symbol(struct ta_svc *t, uint32_t id)
{
	struct ta_sym *s;

	if (id == 0 || id > t->st.max_symbols)
		return NULL;
	if ((s = t->syms[id]) != NULL)
		return s;
	if (!(s = calloc(1, sizeof(*s)))) {
		t->fatal = -ENOMEM;
		return NULL;
	}
	ta_bar_builder_init(&s->b, t->interval_ms);
	ta_symbol_init(&s->st, &t->params);
	s->session_day = INT64_MIN;
	t->syms[id] = s;
	t->nsyms++;
	return s;
}

/* Close every open bar (symbol id order) and forward the end of stream. */
static void ta_end_of_stream(struct ta_svc *t)
{
	struct ta_bar b;

	for (uint32_t id = 1; id <= t->st.max_symbols; id++) {
		struct ta_sym *s = t->syms[id];
		if (s && ta_bar_builder_flush(&s->b, &b) == 1)
			ta_close_bar(t, id, s, &b, s->last_publish_ns);
	}
	shmbus_svc_publish_status(t->st.p, SHMBUS_SVC_EOS_TA, t->trades_in,
	                          t->bars + t->indicators);
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
	} else if (shmbus_svc_eos_arrived(ev, SHMBUS_SVC_EOS_MARKET, t->stage.eos_count,
	                                  &t->eos_seen, &t->eos_in) == 1) {
		ta_end_of_stream(t);
		if (t->stage.exit_on_eos)
			t->done = 1;
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

	printf(TOOL ": %llu trades in (%llu late, %llu invalid), %llu bars, %llu indicators out, "
	            "%u symbols, %llu end-of-stream markers forwarded\n",
	       (unsigned long long)t->trades_in, (unsigned long long)t->late,
	       (unsigned long long)t->invalid, (unsigned long long)t->bars,
	       (unsigned long long)t->indicators, t->nsyms, (unsigned long long)t->eos_out);
	fflush(stdout);
	if (!t->so.stats_json)
		return;
	shmbus_svc_json_begin_stage(&j, "ta", t->st.p, t->trades_in, t->bars + t->indicators);
	shmbus_svc_json_u64(&j, "trades_in", t->trades_in);
	shmbus_svc_json_u64(&j, "late", t->late);
	shmbus_svc_json_u64(&j, "invalid", t->invalid);
	shmbus_svc_json_u64(&j, "bad_bars", t->bad_bars);
	shmbus_svc_json_u64(&j, "bars", t->bars);
	shmbus_svc_json_u64(&j, "indicators", t->indicators);
	shmbus_svc_json_u64(&j, "symbols", t->nsyms);
	shmbus_svc_json_u64(&j, "eos_in", t->eos_in);
	shmbus_svc_json_u64(&j, "eos_out", t->eos_out);
	shmbus_svc_json_save(&j, TOOL, t->so.stats_json);
}

/* Attach, subscribe, open the producer, size the symbol table. Returns 0
 * or an exit code (message printed). */
static int ta_attach(struct ta_svc *t)
{
	const char *what;
	int rc = shmbus_svc_stage_attach(TOOL, &t->so, t->stage.ring,
	                                 SHMBUS_TYPE_BIT(SHMBUS_EV_TRADE) |
	                                     SHMBUS_TYPE_BIT(SHMBUS_EV_HEARTBEAT),
	                                 SHMBUS_TYPE_BIT(SHMBUS_EV_BAR) |
	                                     SHMBUS_TYPE_BIT(SHMBUS_EV_INDICATOR),
	                                 t->stage.capacity, &t->st, &what);

	if (rc == 0) {
		t->syms = calloc((size_t)t->st.max_symbols + 1, sizeof(*t->syms));
		what = "allocating symbol state";
		if (!t->syms)
			rc = -ENOMEM;
	}
	return rc == 0 ? 0 : shmbus_svc_stage_fail(TOOL, &t->so, t->stage.ring, what, rc);
}

int main(int argc, char **argv)
{
	static struct ta_svc t;
	int rc;

	shmbus_svc_opts_init(&t.so, "ta");
	shmbus_svc_stage_opts_init(&t.stage, "ta");
	t.interval_ms = 1000;
	ta_params_default(&t.params);
	if ((rc = ta_parse_args(&t, argc, argv)) >= 0)
		return rc;
	if ((rc = shmbus_svc_start(TOOL, &t.so)) != 0 || (rc = ta_attach(&t)) != 0)
		return rc;
	struct shmbus_svc_loop loop = {
	    .bus = t.st.bus, .c = t.st.c, .on_event = ta_on_event, .ctx = &t, .done = ta_done};
	if (shmbus_svc_run(&loop) < 0)
		rc = 1;
	if (t.fatal) {
		fprintf(stderr, TOOL ": out of memory for symbol state\n");
		rc = 1;
	} else if (t.dirty) {
		ta_end_of_stream(&t); /* SIGTERM before the marker: flush anyway */
	}
	ta_report(&t);
	shmbus_svc_stage_close(&t.st);
	for (uint32_t i = 0; i <= t.st.max_symbols; i++)
		free(t.syms[i]);
	free(t.syms);
	return rc;
}
