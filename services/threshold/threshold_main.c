/*
 * shmbus-threshold - the alert service.
 *
 * Loads threshold rules (--rules FILE, syntax in docs/threshold-rules.md),
 * subscribes one ring (default "threshold", policy block) to bars,
 * indicators and heartbeats, and feeds the evaluator: a bar updates the
 * series close, open, high, low and volume of its symbol; an indicator
 * event updates the series its outputs are named by
 * (shmbus_rule_indicator_value_name: "sma20", "macd_hist", "bb_upper"...).
 * Series no rule reads are skipped before the evaluator sees them: the
 * value ids of each (kind, params) seen are cached.
 *
 * Every firing becomes one shmbus_threshold event: rule_id is the rule's
 * index in the file (0-based, in file order), value/threshold are the two
 * operands, (trigger_source, trigger_seq) the identity of the bar or
 * indicator event that triggered it, origin_ns copied from that event, so
 * publish - origin is the end-to-end latency from the market event. Each
 * alert is also printed as one line (unless --quiet).
 *
 * End of stream: after --eos-count markers of ta (heartbeat status
 * SHMBUS_SVC_EOS_TA) the service evaluates the groups left open and
 * publishes its own marker (SHMBUS_SVC_EOS_THRESHOLD). SIGTERM drains the
 * ring, then waits (THR_STOP_WAIT_NS at most) for the rest of the groups
 * left open whose source is still open, and evaluates the groups left
 * open by a source that has closed, as the marker does; a group whose
 * source is still open after the wait is not evaluated (counted as cut):
 * its rest may still come, and its values mixed with the last group's
 * would raise or miss alerts on values no bar had.
 * Exit codes: 0 ok, 1 runtime failure, 2 usage (bad rules included).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <shmbus/histogram.h>
#include <shmbus/shmbus.h>

#include "rules.h"
#include "svc.h"
#include "threshold_eval.h"
#include "threshold_inputs.h"

#define TOOL          "shmbus-threshold"
/* a stop waits this long for the rest of a group its open source began */
#define THR_STOP_WAIT_NS (1000 * INT64_C(1000000))

static const char usage_text[] =
    "usage: shmbus-threshold --rules FILE [options]\n"
    "Evaluates threshold rules on the bars and indicators of a bus and publishes a\n"
    "threshold event (and prints a line) for each alert.\n"
    "  --rules FILE        rules, one per line (docs/threshold-rules.md)\n"
    "  --ring NAME         ring to subscribe (default \"threshold\")\n"
    "  --capacity N        slots of the ring it creates, a power of two (default\n"
    "                      65536); an existing (declared) ring keeps its own, and\n"
    "                      its filter, policy and wait (unless --wait is given)\n"
    "  --eos-count N       ta end-of-stream markers to wait for (default 1)\n"
    "  --exit-on-eos       exit after forwarding the end of stream\n"
    "%s"
    "  -h, --help          this text\n"
    "  --version           the version (first argument)\n"
    "Exit codes: 0 ok, 1 runtime failure, 2 usage or bad rules.\n";

struct thr_sym {
	char name[SHMBUS_SYMBOL_MAX + 1];
	uint8_t len;     /* 0: not looked up yet */
	uint8_t pending; /* a group (SHMBUS_EVF_MORE) applied, not evaluated yet */
	int64_t pend_origin;
	struct shmbus_event_header pend; /* its last applied event: the trigger */
};

struct thr_svc {
	struct shmbus_svc_opts so;
	struct shmbus_svc_stage_opts stage;
	const char *rules_path;

	struct shmbus_ruleset rs;
	struct shmbus_thr_eval *ev;
	struct shmbus_thr_fire *fires;
	uint32_t nrules;
	struct shmbus_thr_inputs map; /* bars, indicators -> value updates */

	struct shmbus_svc_stage st; /* bus, producer, consumer */
	struct thr_sym *syms;       /* by symbol id, 1..st.max_symbols */
	struct shmbus_hist *lat;    /* commit time - origin, ns */
	uint64_t eos_seen;
	int done;

	uint64_t bars_in, indicators_in, alerts, eval_errors, eos_in, eos_out;
	uint64_t groups_cut; /* left open at a stop by a source still open: not evaluated */
};

/* One option of the tool's own (struct shmbus_svc_cli.own): --rules. */
static int thr_own_opt(void *ctx, int opt, const char *name, const char *arg)
{
	(void)name;
	if (opt != 'R')
		return -ENOENT;
	((struct thr_svc *)ctx)->rules_path = arg;
	return 0;
}

/* Returns -1 to go on, else the exit code. */
static int thr_parse_args(struct thr_svc *t, int argc, char **argv)
{
	static const struct option opts[] = {{"rules", required_argument, 0, 'R'},
	                                     SHMBUS_SVC_STAGE_LONGOPTS,
	                                     {"help", no_argument, 0, 'h'},
	                                     SHMBUS_SVC_LONGOPTS,
	                                     {0, 0, 0, 0}};
	const struct shmbus_svc_cli cli = {.tool = TOOL,
	                                   .usage = usage_text,
	                                   .longopts = opts,
	                                   .shortopts = "h",
	                                   .so = &t->so,
	                                   .stage = &t->stage,
	                                   .own = thr_own_opt,
	                                   .ctx = t};
	int rc = shmbus_svc_parse_args(&cli, argc, argv);

	if (rc < 0 && !t->rules_path)
		return shmbus_svc_usage_error(TOOL, "%s", "--rules FILE is required");
	return rc;
}

/* Load the rules and build the evaluator. Returns 0 or an exit code. */
static int thr_load_rules(struct thr_svc *t)
{
	int rc;

	if ((rc = shmbus_rules_load_cli(TOOL, t->rules_path, &t->rs)) != 0)
		return rc;
	if ((rc = shmbus_thr_create(&t->ev, &t->rs)) != 0) {
		fprintf(stderr, TOOL ": evaluator: %s\n", strerror(-rc));
		return 1;
	}
	t->nrules = shmbus_thr_rule_count(t->ev);
	if (!(t->fires = calloc(t->nrules, sizeof(*t->fires)))) {
		fprintf(stderr, TOOL ": out of memory\n");
		return 1;
	}
	shmbus_thr_inputs_init(&t->map, t->ev);
	return 0;
}

/* Symbol name of @id, looked up in the bus once. */
static struct thr_sym *thr_symbol(struct thr_svc *t, uint32_t id)
{
	struct thr_sym *s;
	int n;

	if (id == 0 || id > t->st.max_symbols)
		return NULL;
	s = &t->syms[id];
	if (s->len == 0) {
		n = shmbus_symbol_name(t->st.bus, id, s->name, sizeof(s->name));
		if (n <= 0)
			return NULL;
		s->len = (uint8_t)n;
	}
	return s;
}

static void thr_publish(struct thr_svc *t, const struct shmbus_event_header *ev, int64_t origin,
                        const struct shmbus_thr_fire *f, const struct thr_sym *sym)
{
	struct shmbus_threshold *e;
	struct shmbus_threshold copy;
	char line[320];

	if (shmbus_claim(t->st.p, SHMBUS_EV_THRESHOLD, ev->symbol_id, sizeof(*e), (void **)&e) != 0)
		return;
	e->h.event_time_ns = ev->event_time_ns;
	e->rule_id = f->rule_index;
	e->direction = (uint16_t)f->direction;
	e->trigger_type = ev->type;
	e->value = f->value;
	e->threshold = f->threshold;
	e->trigger_source = ev->source_id;
	e->reserved = 0;
	e->trigger_seq = ev->seq;
	e->origin_ns = origin;
	copy = *e;
	shmbus_commit(t->st.p);
	shmbus_hist_record(t->lat, shmbus_now_ns() - origin);
	t->alerts++;
	if (!t->so.quiet) {
		shmbus_svc_alert_line(line, sizeof(line), &copy, sym->name,
		                      f->rule_index < t->rs.count ? &t->rs.rules[f->rule_index]
		                                                  : NULL);
		puts(line);
	}
}

/* Evaluate the rules reading what @ev carries (@n inputs) or what the
 * symbol's pending group applied; firings name @ev as their trigger. */
static void thr_eval(struct thr_svc *t, const struct shmbus_event_header *ev, int64_t origin,
                     struct thr_sym *sym, const struct shmbus_thr_input *in, size_t n)
{
	struct shmbus_thr_trigger trig = {ev->source_id, ev->seq, ev->event_time_ns};
	int k;

	sym->pending = 0;
	k = shmbus_thr_update(t->ev, sym->name, sym->len, in, n, &trig, t->fires, t->nrules);
	if (k < 0) {
		t->eval_errors++;
		return;
	}
	for (int i = 0; i < k; i++)
		thr_publish(t, ev, origin, &t->fires[i], sym);
}

/* A group whose last event never came (dropped, filtered out of this
 * ring, a replay of bars alone): evaluated at its last applied event. */
static void thr_flush(struct thr_svc *t, struct thr_sym *sym)
{
	if (sym->pending) {
		struct shmbus_event_header last = sym->pend;
		thr_eval(t, &last, sym->pend_origin, sym, NULL, 0);
	}
}

/*
 * Feed @n inputs carried by @ev. An event flagged SHMBUS_EVF_MORE is
 * applied only: the rest of its group (a bar's indicators, same source,
 * symbol and event time) follows, and the rules are evaluated at the
 * group's last event, on one bar's values. An event of another group for
 * the symbol first evaluates a group left open, as the end of stream does.
 */
static void thr_feed(struct thr_svc *t, const struct shmbus_event_header *ev, int64_t origin,
                     const struct shmbus_thr_input *in, size_t n)
{
	struct thr_sym *sym = thr_symbol(t, ev->symbol_id);

	if (!sym) {
		t->eval_errors += n != 0;
		return;
	}
	if (sym->pending &&
	    (sym->pend.source_id != ev->source_id || sym->pend.event_time_ns != ev->event_time_ns))
		thr_flush(t, sym);
	if (ev->flags & SHMBUS_EVF_MORE) {
		if (n && shmbus_thr_apply(t->ev, sym->name, sym->len, in, n) < 0)
			t->eval_errors++;
		sym->pending = 1;
		sym->pend = *ev;
		sym->pend_origin = origin;
		return;
	}
	if (n == 0 && !sym->pending)
		return; /* nothing a rule reads, and no group to close */
	thr_eval(t, ev, origin, sym, in, n);
}

static void thr_on_event(const struct shmbus_event_header *ev, void *ctx)
{
	struct thr_svc *t = ctx;
	struct shmbus_thr_input in[SHMBUS_THR_INPUTS_MAX];
	int64_t origin;
	int n = shmbus_thr_inputs_of(&t->map, ev, in, &origin);

	if (n >= 0) {
		if (ev->type == SHMBUS_EV_BAR)
			t->bars_in++;
		else
			t->indicators_in++;
		thr_feed(t, ev, origin, in, (size_t)n);
	} else if (shmbus_svc_eos_arrived(ev, SHMBUS_SVC_EOS_TA, t->stage.eos_count, &t->eos_seen,
	                                  &t->eos_in) == 1) {
		for (uint32_t id = 1; id <= t->st.max_symbols; id++)
			thr_flush(t, &t->syms[id]); /* groups whose last event never came */
		fflush(stdout);
		shmbus_svc_publish_status(t->st.p, SHMBUS_SVC_EOS_THRESHOLD,
		                          t->bars_in + t->indicators_in, t->alerts);
		t->eos_out++;
		t->done = t->stage.exit_on_eos;
	}
}

/* Has source @source an open producer whose process lives (it may still
 * publish the rest of a group)? Two open producers never share a source. */
static int thr_source_open(const struct thr_svc *t, uint32_t source)
{
	struct shmbus_producer_stat ps;
	int rc;

	for (uint32_t i = 0; (rc = shmbus_stat_producer(t->st.bus, i, &ps)) != -ERANGE; i++)
		if (rc == 0 && ps.alive && ps.source_id == source)
			return 1;
	return 0;
}

/* Symbols with a group left open by a source still open. */
static unsigned thr_groups_awaited(const struct thr_svc *t)
{
	unsigned n = 0;

	for (uint32_t id = 1; id <= t->st.max_symbols; id++)
		n += t->syms[id].pending && thr_source_open(t, t->syms[id].pend.source_id);
	return n;
}

/*
 * A stop (SIGTERM): the ring was drained, but a source still open (ta,
 * stopped at the same time or not at all) may be in the middle of a
 * group. Its rest is waited for, THR_STOP_WAIT_NS at most; then the groups
 * of sources that have closed are evaluated, as at the end of the stream
 * (their rest never comes), and those of sources still open are cut: not
 * evaluated, since a half-applied group mixes this bar's values with the
 * last bar's.
 */
static void thr_stop(struct thr_svc *t)
{
	int64_t deadline = shmbus_mono_ns() + THR_STOP_WAIT_NS;

	for (;;) {
		/* counted before the poll: what a source committed before it
		 * closed is in the ring by then, and that poll takes it */
		unsigned awaited = thr_groups_awaited(t);
		int got = shmbus_poll(t->st.c, thr_on_event, t, 256);
		if (got < 0 || t->done)
			break;
		if (got > 0)
			continue;
		if (!awaited || shmbus_mono_ns() >= deadline)
			break;
		shmbus_wait(t->st.c, 10 * 1000 * 1000);
	}
	for (uint32_t id = 1; id <= t->st.max_symbols; id++) {
		struct thr_sym *sym = &t->syms[id];
		if (sym->pending && thr_source_open(t, sym->pend.source_id)) {
			sym->pending = 0;
			t->groups_cut++;
		} else {
			thr_flush(t, sym);
		}
	}
}

static int thr_done(void *ctx)
{
	return ((const struct thr_svc *)ctx)->done;
}

static void thr_report(struct thr_svc *t)
{
	struct shmbus_thr_stats st;
	struct shmbus_svc_json j;
	char *lat = NULL;
	size_t latlen = 0;
	FILE *mf;

	shmbus_thr_get_stats(t->ev, &st);
	fprintf(stderr,
	        TOOL ": %llu bars and %llu indicators in, %llu alerts out (%llu suppressed by "
	             "cooldown), %u rules, %u symbols\n",
	        (unsigned long long)t->bars_in, (unsigned long long)t->indicators_in,
	        (unsigned long long)t->alerts, (unsigned long long)st.suppressed, t->nrules,
	        st.symbols);
	if (t->groups_cut)
		fprintf(stderr,
		        TOOL ": %llu bar groups cut by the stop (their source still open): not "
		             "evaluated\n",
		        (unsigned long long)t->groups_cut);
	if (!t->so.stats_json)
		return;
	if ((mf = open_memstream(&lat, &latlen)) != NULL) {
		shmbus_hist_write_json_summary(t->lat, mf, 1.0);
		fclose(mf);
	}
	shmbus_svc_json_begin_stage(&j, "threshold", t->st.p, t->bars_in + t->indicators_in,
	                            t->alerts);
	shmbus_svc_json_u64(&j, "bars_in", t->bars_in);
	shmbus_svc_json_u64(&j, "indicators_in", t->indicators_in);
	shmbus_svc_json_u64(&j, "alerts", t->alerts);
	shmbus_svc_json_u64(&j, "suppressed", st.suppressed);
	shmbus_svc_json_u64(&j, "evaluations", st.evaluations);
	shmbus_svc_json_u64(&j, "eval_errors", t->eval_errors);
	shmbus_svc_json_u64(&j, "rules", t->nrules);
	shmbus_svc_json_u64(&j, "eos_in", t->eos_in);
	shmbus_svc_json_u64(&j, "eos_out", t->eos_out);
	shmbus_svc_json_u64(&j, "groups_cut", t->groups_cut);
	shmbus_svc_json_raw(&j, "commit_latency", lat);
	shmbus_svc_json_save(&j, TOOL, t->so.stats_json);
	free(lat);
}

/* Attach, subscribe, open the producer, size the symbol table and make
 * the latency histogram. Returns 0 or an exit code (message printed). */
static int thr_attach(struct thr_svc *t)
{
	const char *what;
	int rc = shmbus_svc_stage_attach(TOOL, &t->so, t->stage.ring,
	                                 SHMBUS_TYPE_BIT(SHMBUS_EV_BAR) |
	                                     SHMBUS_TYPE_BIT(SHMBUS_EV_INDICATOR) |
	                                     SHMBUS_TYPE_BIT(SHMBUS_EV_HEARTBEAT),
	                                 SHMBUS_TYPE_BIT(SHMBUS_EV_THRESHOLD),
	                                 t->stage.capacity, &t->st, &what);

	if (rc == 0) {
		what = "allocating";
		if (!(t->syms = calloc((size_t)t->st.max_symbols + 1, sizeof(*t->syms))))
			rc = -ENOMEM;
		else
			rc = shmbus_hist_create(1, SHMBUS_HIST_HOUR_NS, 3, &t->lat);
	}
	return rc == 0 ? 0 : shmbus_svc_stage_fail(TOOL, &t->so, t->stage.ring, what, rc);
}

int main(int argc, char **argv)
{
	static struct thr_svc t;
	int rc;

	shmbus_svc_opts_init(&t.so, "threshold");
	shmbus_svc_stage_opts_init(&t.stage, "threshold");
	if ((rc = thr_parse_args(&t, argc, argv)) >= 0)
		return rc;
	/* the stop signals first: a SIGTERM while the rules load stops it cleanly */
	if ((rc = shmbus_svc_start(TOOL, &t.so)) != 0 || (rc = thr_load_rules(&t)) != 0 ||
	    (rc = thr_attach(&t)) != 0)
		return rc;
	struct shmbus_svc_loop loop = {
	    .bus = t.st.bus, .c = t.st.c, .on_event = thr_on_event, .ctx = &t, .done = thr_done};
	int ran = shmbus_svc_run(&loop);
	/* A stop (SIGTERM) ends the stream as its marker does for a source
	 * that has closed: a group whose last event never came is evaluated
	 * now, not dropped with the process (thr_stop). */
	if (ran == 0)
		thr_stop(&t);
	else if (ran > 0)
		for (uint32_t id = 1; id <= t.st.max_symbols; id++)
			thr_flush(&t, &t.syms[id]);
	fflush(stdout);
	thr_report(&t);
	shmbus_svc_stage_close(&t.st);
	shmbus_thr_destroy(t.ev);
	shmbus_rules_free(&t.rs);
	shmbus_hist_destroy(t.lat);
	free(t.fires);
	free(t.syms);
	return ran < 0 ? 1 : 0;
}
