/*
 * test_pipeline_synth.c - the pipeline on the synthetic generator, and the
 * end-of-stream handling of shmbus-ta and shmbus-threshold one at a time.
 *
 * The service tests drive one service from the test process: the test
 * creates a bus, subscribes its own "check" ring, starts the service,
 * publishes hand-made trades or bars and the end-of-stream marker, and
 * reads what the service published.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <signal.h>
#include <time.h>

#include <sys/prctl.h>
#include <sys/ptrace.h>

#include "pl_test.h"

#define MAX_SEEN 256

struct seen {
	unsigned n;
	union {
		struct shmbus_event_header h;
		unsigned char raw[SHMBUS_EVENT_MAX];
	} ev[MAX_SEEN];
	int eos; /* a downstream end-of-stream marker arrived */
	uint32_t eos_status;
};

static void on_seen(const struct shmbus_event_header *ev, void *ctx)
{
	struct seen *s = ctx;

	if (s->n < MAX_SEEN)
		memcpy(s->ev[s->n++].raw, ev, ev->size <= SHMBUS_EVENT_MAX ? ev->size : 0);
	if (shmbus_svc_as_status(ev, s->eos_status))
		s->eos = 1;
}

/* Poll @c into @s until the marker arrives (at most ~10 s). */
static void collect_until_eos(shmbus_consumer *c, struct seen *s)
{
	for (int i = 0; i < 1000 && !s->eos; i++)
		if (shmbus_poll(c, on_seen, s, 64) == 0)
			shmbus_wait(c, 10 * 1000 * 1000);
}

/* Wait until ring @name has a live consumer (at most ~10 s). */
static int wait_ring(shmbus_bus *bus, const char *name)
{
	struct shmbus_ring_stat rs;

	for (int i = 0; i < 2000; i++) {
		int idx = shmbus_stat_find_ring(bus, name);
		if (idx >= 0 && shmbus_stat_ring(bus, (uint32_t)idx, &rs) == 0 &&
		    rs.state == SHMBUS_RING_ACTIVE)
			return 0;
		usleep(5000);
	}
	return -1;
}

static void test_pipeline_synth_counts_match_per_stage(void **state)
{
	char *argv[] = {PL_BIN_PIPELINE,
	                "--bus",
	                "pt-synth",
	                "--events",
	                "200000",
	                "--rules",
	                PL_RULES_DIR "/aggressive.rules",
	                "--no-journal",
	                "--json",
	                "--dir",
	                (char *)pt_path("run-synth"),
	                NULL};
	const char *out = pt_path("synth.json");
	char *j;
	int rc = pt_run(argv, out, NULL);

	if (rc != 0)
		pt_show(out);
	assert_int_equal(rc, 0);
	assert_non_null(j = pt_slurp(out));
	assert_true(pt_json(j, "collector_events_out") == 200000);
	assert_true(pt_json(j, "collector_trades") > 0);
	assert_true(pt_json(j, "collector_trades") == pt_json(j, "ta_events_in"));
	assert_true(pt_json(j, "ta_bars") > 0);
	assert_true(pt_json(j, "ta_events_out") ==
	            pt_json(j, "ta_bars") + pt_json(j, "ta_indicators"));
	assert_true(pt_json(j, "ta_events_out") == pt_json(j, "threshold_events_in"));
	assert_true(pt_json(j, "eos_ta_events_out") == pt_json(j, "ta_events_out"));
	assert_true(pt_json(j, "eos_threshold_events_in") == pt_json(j, "threshold_events_in"));
	assert_true(pt_json(j, "threshold_alerts") > 0);
	assert_true(pt_json(j, "threshold_alerts") == pt_json(j, "tap_alerts"));
	assert_true(pt_json(j, "eos_market") == 1 && pt_json(j, "eos_ta") == 1 &&
	            pt_json(j, "eos_threshold") == 1);
	assert_non_null(strstr(j, "\"result\":\"ok\""));
	free(j);
}

static void test_pipeline_synth_usage_errors(void **state)
{
	char *bad_flag[] = {PL_BIN_PIPELINE, "--bogus", NULL};
	char *bad_speed[] = {PL_BIN_PIPELINE, "--speed", "fast", NULL};
	char *no_file[] = {PL_BIN_PIPELINE, "--input", "/nonexistent/trades.csv", NULL};
	char *help[] = {PL_BIN_PIPELINE, "--help", NULL};
	const char *rules = pt_path("bad.rules");
	char *bad_rules[] = {PL_BIN_PIPELINE, "--rules", (char *)rules, NULL};
	FILE *f = fopen(rules, "w");
	char *err;

	assert_non_null(f);
	fputs("rule ok: rsi14 > 70\nrule bad: rsi14 >> 70\n", f);
	fclose(f);
	assert_int_equal(pt_run(bad_flag, "/dev/null", "/dev/null"), 2);
	assert_int_equal(pt_run(bad_speed, "/dev/null", "/dev/null"), 2);
	assert_int_equal(pt_run(no_file, "/dev/null", pt_path("nofile.err")), 2);
	assert_non_null(err = pt_slurp(pt_path("nofile.err")));
	assert_non_null(strstr(err, "/nonexistent/trades.csv"));
	free(err);
	assert_int_equal(pt_run(bad_rules, "/dev/null", pt_path("rules.err")), 2);
	assert_non_null(err = pt_slurp(pt_path("rules.err")));
	assert_non_null(strstr(err, ":2:")); /* file:line:column of the bad rule */
	free(err);
	assert_int_equal(pt_run(help, pt_path("help.out"), NULL), 0);
}

/* Publish one trade of @sym at @sec seconds (+@ms) and return its header. */
static void put_trade(shmbus_producer *p, uint32_t sym, int64_t sec, int ms, double px)
{
	struct shmbus_trade *t;

	assert_int_equal(shmbus_claim(p, SHMBUS_EV_TRADE, sym, sizeof(*t), (void **)&t), 0);
	t->h.event_time_ns = sec * 1000000000LL + ms * 1000000LL;
	t->price = px;
	t->size = 100;
	assert_true(shmbus_commit(p) >= 1);
}

static void test_pipeline_eos_ta_flushes_open_bars(void **state)
{
	char *argv[] = {PL_BIN_TA, "--bus", "pt-ta",  "--exit-on-eos", "--source-id",
	                "9",       "--sma", "2",      "--ema",         "2",
	                "--rsi",   "2",     "--macd", "1,2,1",         "--bb",
	                "2,2",     NULL};
	static struct seen s;
	shmbus_bus *bus;
	shmbus_consumer *c;
	shmbus_producer *p;
	struct shmbus_sub_opts so;
	const int64_t t0 = 1700000000;
	unsigned bars = 0, inds = 0, trades = 0;
	int64_t trade_pub[4];
	pid_t pid;

	memset(&s, 0, sizeof(s));
	s.eos_status = SHMBUS_SVC_EOS_TA;
	assert_int_equal(shmbus_bus_create("pt-ta", NULL, &bus), 0);
	shmbus_sub_opts_init(&so);
	so.types = SHMBUS_TYPE_BIT(SHMBUS_EV_TRADE) | SHMBUS_TYPE_BIT(SHMBUS_EV_BAR) |
	           SHMBUS_TYPE_BIT(SHMBUS_EV_INDICATOR) | SHMBUS_TYPE_BIT(SHMBUS_EV_HEARTBEAT);
	assert_int_equal(shmbus_subscribe(bus, "check", &so, &c), 0);
	pid = pt_spawn(argv, pt_path("ta.out"), 0);
	assert_int_equal(wait_ring(bus, "ta"), 0);
	assert_int_equal(shmbus_producer_open(bus, NULL, &p), 0);
	int64_t sym = shmbus_symbol_intern(bus, "XYZ", 3);
	assert_true(sym > 0);
	put_trade(p, (uint32_t)sym, t0, 100, 10.0); /* bar t0 */
	put_trade(p, (uint32_t)sym, t0, 500, 11.0);
	put_trade(p, (uint32_t)sym, t0 + 1, 200, 12.0); /* closes bar t0 */
	put_trade(p, (uint32_t)sym, t0 + 3, 900, 14.0); /* closes t0+1; t0+3 stays open */
	assert_int_equal(shmbus_svc_publish_status(p, SHMBUS_SVC_EOS_MARKET, 4, 4), 2);
	collect_until_eos(c, &s);
	assert_true(s.eos);
	assert_int_equal(pt_wait_exit(pid, 10), 0); /* --exit-on-eos */

	const struct shmbus_bar *b[3] = {0};
	for (unsigned i = 0; i < s.n; i++) {
		const struct shmbus_event_header *h = &s.ev[i].h;
		if (h->type == SHMBUS_EV_TRADE && trades < 4)
			trade_pub[trades++] = h->publish_time_ns;
		if (h->type == SHMBUS_EV_BAR && bars < 3)
			b[bars++] = (const struct shmbus_bar *)h;
		if (h->type == SHMBUS_EV_INDICATOR) {
			inds++;
			assert_int_equal(h->source_id, 9);
		}
	}
	assert_int_equal(trades, 4);
	assert_int_equal(bars, 3); /* two closed by trades, one flushed at the end */
	assert_true(b[0]->start_ns == t0 * 1000000000LL &&
	            b[0]->h.event_time_ns == (t0 + 1) * 1000000000LL);
	assert_true(b[0]->open == 10.0 && b[0]->close == 11.0 && b[0]->trade_count == 2);
	assert_true(b[0]->origin_ns == trade_pub[2]); /* the trade that closed it */
	assert_true(b[1]->close == 12.0 && b[1]->origin_ns == trade_pub[3]);
	assert_true(b[2]->start_ns == (t0 + 3) * 1000000000LL && b[2]->close == 14.0);
	assert_true(b[2]->origin_ns == trade_pub[3]); /* flushed: its own last trade */
	/* The marker comes last and counts what went before. */
	const struct shmbus_heartbeat *hb = (const struct shmbus_heartbeat *)&s.ev[s.n - 1].h;
	assert_int_equal(hb->h.type, SHMBUS_EV_HEARTBEAT);
	assert_int_equal(hb->status, SHMBUS_SVC_EOS_TA);
	assert_int_equal(hb->events_in, 4);
	assert_int_equal(hb->events_out, bars + inds);
	/* The last SMA(2) is the mean of the last two closes. */
	for (int i = (int)s.n - 1; i >= 0; i--) {
		const struct shmbus_indicator *in = (const struct shmbus_indicator *)&s.ev[i].h;
		if (in->h.type == SHMBUS_EV_INDICATOR && in->kind == SHMBUS_IND_SMA) {
			assert_true(in->param[0] == 2 && fabs(in->value[0] - 13.0) < 1e-12);
			break;
		}
	}
	shmbus_producer_close(p);
	shmbus_consumer_close(c);
	shmbus_bus_close(bus);
	shmbus_bus_destroy("pt-ta");
}

/* Does file @path contain @text? */
static int file_has(const char *path, const char *text)
{
	static char buf[8192];
	FILE *f = fopen(path, "r");
	size_t n = f ? fread(buf, 1, sizeof(buf) - 1, f) : 0;

	if (f)
		fclose(f);
	buf[n] = '\0';
	return strstr(buf, text) != NULL;
}

/* A ring declared before the stage starts (shmbusctl does it from the
 * config) keeps its geometry, filter and wait: ta adopts it instead of
 * failing on its own default capacity, and receives only the declared
 * symbol. What the declaration can never deliver to it is warned about. */
static void test_pipeline_ta_adopts_declared_ring(void **state)
{
	char *argv[] = {PL_BIN_TA, "--bus", "pt-decl", "--exit-on-eos", NULL};
	char *argv2[] = {PL_BIN_TA, "--bus", "pt-decl", "--ring", "narrow", NULL};
	static struct seen s;
	shmbus_bus *bus;
	shmbus_consumer *c;
	shmbus_producer *p;
	struct shmbus_sub_opts so;
	struct shmbus_ring_stat rs;
	const int64_t t0 = 1700000000;

	(void)state;
	memset(&s, 0, sizeof(s));
	s.eos_status = SHMBUS_SVC_EOS_TA;
	assert_int_equal(shmbus_bus_create("pt-decl", NULL, &bus), 0);
	int64_t xyz = shmbus_symbol_intern(bus, "XYZ", 3), abc = shmbus_symbol_intern(bus, "ABC", 3);
	assert_true(xyz > 0 && abc > 0);
	uint32_t only = (uint32_t)xyz;
	shmbus_sub_opts_init(&so);
	so.types = SHMBUS_TYPE_BIT(SHMBUS_EV_TRADE) | SHMBUS_TYPE_BIT(SHMBUS_EV_HEARTBEAT);
	so.symbols = &only;
	so.nsymbols = 1;
	so.capacity = 1024;
	so.wait = SHMBUS_WAIT_YIELD;
	assert_int_equal(shmbus_ring_declare(bus, "ta", &so), 0);
	shmbus_sub_opts_init(&so); /* trades too: each published event reaches a ring */
	so.types = SHMBUS_TYPE_BIT(SHMBUS_EV_TRADE) | SHMBUS_TYPE_BIT(SHMBUS_EV_BAR) |
	           SHMBUS_TYPE_BIT(SHMBUS_EV_HEARTBEAT);
	assert_int_equal(shmbus_subscribe(bus, "check", &so, &c), 0);

	pid_t pid = pt_spawn(argv, pt_path("ta-decl.out"), 0);
	assert_int_equal(wait_ring(bus, "ta"), 0);
	int idx = shmbus_stat_find_ring(bus, "ta");
	assert_true(idx >= 0);
	assert_int_equal(shmbus_stat_ring(bus, (uint32_t)idx, &rs), 0);
	assert_int_equal(rs.capacity, 1024);
	assert_int_equal(rs.nsymbols, 1);
	assert_int_equal(rs.wait, SHMBUS_WAIT_YIELD);
	assert_int_equal(shmbus_producer_open(bus, NULL, &p), 0);
	put_trade(p, (uint32_t)abc, t0, 100, 50.0); /* not declared: never reaches ta */
	put_trade(p, (uint32_t)xyz, t0, 100, 10.0);
	put_trade(p, (uint32_t)abc, t0 + 1, 100, 51.0);
	put_trade(p, (uint32_t)xyz, t0 + 1, 200, 12.0); /* closes XYZ's bar t0 */
	assert_int_equal(shmbus_svc_publish_status(p, SHMBUS_SVC_EOS_MARKET, 4, 4), 2);
	collect_until_eos(c, &s);
	assert_true(s.eos);
	assert_int_equal(pt_wait_exit(pid, 10), 0);
	unsigned bars = 0;
	for (unsigned i = 0; i < s.n; i++)
		if (s.ev[i].h.type == SHMBUS_EV_BAR) {
			bars++;
			assert_int_equal(s.ev[i].h.symbol_id, (uint32_t)xyz);
		}
	assert_int_equal(bars, 2); /* XYZ's t0 closed, t0+1 flushed; no ABC bar */
	const struct shmbus_heartbeat *hb = (const struct shmbus_heartbeat *)&s.ev[s.n - 1].h;
	assert_int_equal(hb->events_in, 2); /* only XYZ's trades came in */

	/* Declared without heartbeats, in 64-byte slots: adopted, with warnings. */
	shmbus_sub_opts_init(&so);
	so.types = SHMBUS_TYPE_BIT(SHMBUS_EV_TRADE);
	so.slot_size = 64;
	so.capacity = 256;
	assert_int_equal(shmbus_ring_declare(bus, "narrow", &so), 0);
	pid = pt_spawn(argv2, pt_path("ta-narrow.out"), 0);
	assert_int_equal(wait_ring(bus, "narrow"), 0);
	kill(pid, SIGTERM);
	assert_int_equal(pt_wait_exit(pid, 10), 0);
	assert_true(file_has(pt_path("ta-narrow.out"), "ring 'narrow' takes no heartbeat events"));
	assert_true(file_has(pt_path("ta-narrow.out"), "ring 'narrow' has 64-byte slots"));

	/* Declared with every type (the default): ta's own bars and indicators
	 * are kept out, or under block it would fill its ring with its own
	 * output and stall for good (300 bars against 64 slots here). */
	shmbus_sub_opts_init(&so);
	so.capacity = 64;
	assert_int_equal(shmbus_ring_declare(bus, "all", &so), 0);
	char *argv4[] = {PL_BIN_TA, "--bus", "pt-decl", "--ring", "all", "--exit-on-eos", NULL};
	memset(&s, 0, sizeof(s));
	s.eos_status = SHMBUS_SVC_EOS_TA;
	pid = pt_spawn(argv4, pt_path("ta-all.out"), 0);
	assert_int_equal(wait_ring(bus, "all"), 0);
	idx = shmbus_stat_find_ring(bus, "all");
	assert_int_equal(shmbus_stat_ring(bus, (uint32_t)idx, &rs), 0);
	assert_int_equal(rs.types & (SHMBUS_TYPE_BIT(SHMBUS_EV_BAR) | SHMBUS_TYPE_BIT(SHMBUS_EV_INDICATOR)),
	                 0);
	for (int i = 0; i < 300; i++) /* each trade closes the previous second's bar */
		put_trade(p, (uint32_t)xyz, t0 + 10 + i, 0, 10.0 + i);
	assert_int_equal(shmbus_svc_publish_status(p, SHMBUS_SVC_EOS_MARKET, 300, 300), 2);
	for (int i = 0; i < 3000 && !s.eos; i++) /* drain check: ta must never wait on it */
		if (shmbus_poll(c, on_seen, &s, 64) == 0)
			shmbus_wait(c, 10 * 1000 * 1000);
	assert_true(s.eos);
	assert_int_equal(pt_wait_exit(pid, 10), 0);
	assert_true(file_has(pt_path("ta-all.out"), "which shmbus-ta publishes itself: subscribed "
	                                            "without them"));
	/* ... and with a symbol list as well, which cannot be rewritten here: refused. */
	shmbus_sub_opts_init(&so);
	so.symbols = &only;
	so.nsymbols = 1;
	assert_int_equal(shmbus_ring_declare(bus, "allsym", &so), 0);
	char *argv5[] = {PL_BIN_TA, "--bus", "pt-decl", "--ring", "allsym", NULL};
	pid = pt_spawn(argv5, pt_path("ta-allsym.out"), 0);
	assert_int_equal(pt_wait_exit(pid, 10), 1);
	assert_true(file_has(pt_path("ta-allsym.out"), "it would feed itself"));

	/* An explicit --capacity other than the ring's is still an error. */
	char *argv3[] = {PL_BIN_TA, "--bus", "pt-decl", "--ring", "narrow", "--capacity", "512",
	                 NULL};
	pid = pt_spawn(argv3, pt_path("ta-cap.out"), 0);
	assert_int_equal(pt_wait_exit(pid, 10), 1);
	assert_true(file_has(pt_path("ta-cap.out"), "exists with capacity 256"));

	shmbus_producer_close(p);
	shmbus_consumer_close(c);
	shmbus_bus_close(bus);
	shmbus_bus_destroy("pt-decl");
}

static uint64_t put_bar(shmbus_producer *p, uint32_t sym, int64_t end_s, double close,
                        int64_t origin)
{
	struct shmbus_bar *b;
	uint64_t seq;

	assert_int_equal(shmbus_claim(p, SHMBUS_EV_BAR, sym, sizeof(*b), (void **)&b), 0);
	seq = b->h.seq;
	b->h.event_time_ns = end_s * 1000000000LL;
	b->start_ns = (end_s - 1) * 1000000000LL;
	b->interval_ms = 1000;
	b->trade_count = 1;
	b->open = b->high = b->low = b->close = close;
	b->volume = 100;
	b->origin_ns = origin;
	assert_true(shmbus_commit(p) >= 1);
	return seq;
}

static void test_pipeline_eos_threshold_alert_identity(void **state)
{
	const char *rules = pt_path("hi.rules");
	char *argv[] = {PL_BIN_THRESHOLD, "--bus",       "pt-thr", "--rules", (char *)rules,
	                "--exit-on-eos",  "--source-id", "5",      NULL};
	static struct seen s;
	struct shmbus_producer_opts po;
	struct shmbus_sub_opts so;
	shmbus_bus *bus;
	shmbus_consumer *c;
	shmbus_producer *p;
	FILE *f = fopen(rules, "w");
	char *out;
	pid_t pid;

	assert_non_null(f);
	fputs("# one level rule\nrule hi: close > 100\n", f);
	fclose(f);
	memset(&s, 0, sizeof(s));
	s.eos_status = SHMBUS_SVC_EOS_THRESHOLD;
	assert_int_equal(shmbus_bus_create("pt-thr", NULL, &bus), 0);
	shmbus_sub_opts_init(&so);
	so.types = SHMBUS_TYPE_BIT(SHMBUS_EV_THRESHOLD) | SHMBUS_TYPE_BIT(SHMBUS_EV_HEARTBEAT);
	assert_int_equal(shmbus_subscribe(bus, "check", &so, &c), 0);
	pid = pt_spawn(argv, pt_path("thr.out"), 0);
	assert_int_equal(wait_ring(bus, "threshold"), 0);
	shmbus_producer_opts_init(&po);
	po.source_id = 77;
	assert_int_equal(shmbus_producer_open(bus, &po, &p), 0);
	int64_t sym = shmbus_symbol_intern(bus, "ABC", 3);
	put_bar(p, (uint32_t)sym, 1700000001, 99.0, 111);
	uint64_t seq = put_bar(p, (uint32_t)sym, 1700000002, 101.0, 222);
	put_bar(p, (uint32_t)sym, 1700000003, 102.0, 333); /* still inside: no new alert */
	shmbus_svc_publish_status(p, SHMBUS_SVC_EOS_TA, 0, 3);
	collect_until_eos(c, &s);
	assert_true(s.eos);
	assert_int_equal(pt_wait_exit(pid, 10), 0);
	assert_int_equal(s.n, 2 + 1); /* our own EOS_TA marker, one alert, EOS_THRESHOLD */
	const struct shmbus_threshold *t = NULL;
	for (unsigned i = 0; i < s.n; i++)
		if (s.ev[i].h.type == SHMBUS_EV_THRESHOLD)
			t = (const struct shmbus_threshold *)&s.ev[i].h;
	assert_non_null(t);
	assert_int_equal(t->rule_id, 0);
	assert_int_equal(t->direction, SHMBUS_LEVEL_ENTER);
	assert_int_equal(t->trigger_type, SHMBUS_EV_BAR);
	assert_true(t->value == 101.0 && t->threshold == 100.0);
	assert_int_equal(t->trigger_source, 77);
	assert_int_equal(t->trigger_seq, seq);
	assert_int_equal(t->origin_ns, 222);
	assert_int_equal(t->h.source_id, 5);
	assert_int_equal(t->h.symbol_id, (uint32_t)sym);
	const struct shmbus_heartbeat *hb = (const struct shmbus_heartbeat *)&s.ev[s.n - 1].h;
	assert_int_equal(hb->events_in, 3);
	assert_int_equal(hb->events_out, 1);
	assert_non_null(out = pt_slurp(pt_path("thr.out")));
	assert_non_null(strstr(out, "alert 2023-11-14T22:13:22.000000000Z ABC hi: close > 100"));
	free(out);
	shmbus_producer_close(p);
	shmbus_consumer_close(c);
	shmbus_bus_close(bus);
	shmbus_bus_destroy("pt-thr");
}

/* The pid of pid's child named comm (/proc children list), or -1. */
static pid_t pt_child_named(pid_t pid, const char *comm)
{
	char path[96], name[32], *list;
	snprintf(path, sizeof(path), "/proc/%d/task/%d/children", (int)pid, (int)pid);
	if (!(list = pt_slurp(path)))
		return -1;
	pid_t found = -1;
	for (char *tok = strtok(list, " \n"); tok && found < 0; tok = strtok(NULL, " \n")) {
		snprintf(path, sizeof(path), "/proc/%s/comm", tok);
		FILE *f = fopen(path, "r");
		if (f && fgets(name, sizeof(name), f) && strncmp(name, comm, strlen(comm)) == 0 &&
		    name[strlen(comm)] == '\n')
			found = (pid_t)atoi(tok);
		if (f)
			fclose(f);
	}
	free(list);
	return found;
}

/* Events ring @name of bus @bus_name has handed to its consumer, or -1
 * while the bus or the ring does not exist yet. */
static int64_t pt_ring_delivered(const char *bus_name, const char *name)
{
	shmbus_bus *b;
	struct shmbus_ring_stat rs;
	int64_t n = -1;

	if (shmbus_bus_open_readonly(bus_name, &b) != 0)
		return -1;
	int idx = shmbus_stat_find_ring(b, name);
	if (idx >= 0 && shmbus_stat_ring(b, (uint32_t)idx, &rs) == 0)
		n = (int64_t)rs.delivered;
	shmbus_bus_close(b);
	return n;
}

/* Start the pipeline argv (output to out) and return once its ta has taken
 * events from bus's ring "ta" (mid-stream, not before it subscribed,
 * whatever the machine's load; no fixed wait: a hang is ctest's timeout).
 * *ta gets ta's pid. */
static pid_t spawn_until_ta_busy(char *const argv[], const char *out, const char *bus, pid_t *ta)
{
	pid_t pid = pt_spawn(argv, out, 0);
	assert_true(pid > 0);
	*ta = -1;
	while (*ta < 0 || pt_ring_delivered(bus, "ta") <= 0) {
		usleep(10000);
		if (*ta < 0)
			*ta = pt_child_named(pid, "shmbus-ta");
		assert_int_equal(waitpid(pid, NULL, WNOHANG), 0); /* still running */
	}
	return pid;
}

/* A stage stopped (SIGSTOP) when the run times out: the launcher's SIGTERM
 * must reach it (it continues the child), not wait out the grace period
 * and SIGKILL it. ta is stopped once it has taken events (so mid-stream,
 * not before it subscribed, whatever the machine's load); a run whose
 * start took so long that its --timeout may already have passed before
 * the stop is repeated with a longer one. */
static void test_pipeline_timeout_with_a_stopped_stage(void **state)
{
	const char *out = pt_path("stop.out");
	(void)state;
	for (int timeout_s = 3;; timeout_s *= 2) {
		char tmo[16];
		snprintf(tmo, sizeof(tmo), "%d", timeout_s);
		char *argv[] = {PL_BIN_PIPELINE, "--bus", "pt-stop", "--events", "500000000",
		                "--no-journal", "--timeout", tmo, "--dir",
		                (char *)pt_path("run-stop"), NULL};
		struct timespec t0, t1;
		clock_gettime(CLOCK_MONOTONIC, &t0);
		pid_t ta, pid = spawn_until_ta_busy(argv, out, "pt-stop", &ta);
		assert_int_equal(kill(ta, SIGSTOP), 0);
		clock_gettime(CLOCK_MONOTONIC, &t1);
		double took = (double)(t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9;
		int st; /* no time limit: the launcher itself kills what outlives its grace */
		assert_int_equal(waitpid(pid, &st, 0), pid);
		if (took > timeout_s / 2.0 && timeout_s < 100)
			continue; /* stopped late: maybe after the timeout; again, longer */
		char *text = pt_slurp(out);
		assert_non_null(text);
		if (!WIFEXITED(st) || WEXITSTATUS(st) != 1 || strstr(text, "signal 9"))
			fail_msg("expected a timeout failure with ta stopped by SIGTERM: %s", text);
		assert_non_null(strstr(text, "timed out"));
		free(text);
		return;
	}
}

/* A stage that does not stop on SIGTERM (here held in a ptrace stop,
 * which SIGCONT does not end) is SIGKILLed after --stop-grace, and the
 * failure says where it was: the run in CI where journald outlived the
 * grace said only "killed by signal 9". The test is ta's tracer, so it
 * collects ta's end (until then the pipeline's own wait for ta waits). */
static void test_pipeline_stop_grace_names_where_a_stage_hangs(void **state)
{
	const char *out = pt_path("stuck.out");
	(void)state;
	for (int timeout_s = 4;; timeout_s *= 2) {
		char tmo[16];
		snprintf(tmo, sizeof(tmo), "%d", timeout_s);
		char *argv[] = {PL_BIN_PIPELINE, "--bus", "pt-stuck", "--events", "500000000",
		                "--no-journal", "--timeout", tmo, "--stop-grace", "3", "--dir",
		                (char *)pt_path("run-stuck"), NULL};
		pid_t ta, pid = spawn_until_ta_busy(argv, out, "pt-stuck", &ta);
		if (ptrace(PTRACE_SEIZE, ta, NULL, NULL) != 0) {
			int err = errno;
			kill(pid, SIGTERM);
			pt_wait_exit(pid, 10);
			if (err == ESRCH && timeout_s < 100)
				continue; /* ta already stopping: the run timed out first */
			printf("SKIP: PTRACE_SEIZE of ta: %s\n", strerror(err));
			skip();
			return;
		}
		assert_int_equal(ptrace(PTRACE_INTERRUPT, ta, NULL, NULL), 0);
		int st;
		for (;;) { /* ta's stops stay stops: only its end ends this */
			assert_int_equal(waitpid(ta, &st, __WALL), ta);
			if (WIFEXITED(st) || WIFSIGNALED(st))
				break;
		}
		assert_true(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
		assert_int_equal(waitpid(pid, &st, 0), pid);
		char *text = pt_slurp(out);
		assert_non_null(text);
		fputs(text, stdout);
		assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 1);
		assert_non_null(strstr(text, "still running 3 s after SIGTERM, SIGKILL: threads: "
		                             "shmbus-ta t (tracing stop)"));
		assert_non_null(strstr(text, "ta did not stop within 3 s of SIGTERM and was "
		                             "SIGKILLed (threads: shmbus-ta t (tracing stop)"));
		/* The collector, blocked on ta's full ring, gave up at its SIGTERM
		 * (ta stood still): it stopped by itself, stats written. */
		assert_null(strstr(text, "collector did not stop"));
		assert_null(strstr(text, "collector (pid"));
		const char *row = strstr(text, "\ncollector ");
		char line[256];
		assert_non_null(row);
		snprintf(line, sizeof(line), "%.*s", (int)strcspn(row + 1, "\n"), row + 1);
		assert_null(strstr(line, "no stats"));
		free(text);
		return;
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_pipeline_synth_counts_match_per_stage),
	    cmocka_unit_test(test_pipeline_synth_usage_errors),
	    cmocka_unit_test(test_pipeline_eos_ta_flushes_open_bars),
	    cmocka_unit_test(test_pipeline_ta_adopts_declared_ring),
	    cmocka_unit_test(test_pipeline_eos_threshold_alert_identity),
	    cmocka_unit_test(test_pipeline_timeout_with_a_stopped_stage),
	    cmocka_unit_test(test_pipeline_stop_grace_names_where_a_stage_hangs),
	};
	return cmocka_run_group_tests(tests, pt_setup, pt_teardown);
}
