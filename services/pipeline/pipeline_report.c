/*
 * pipeline_report.c - the pipeline's summary: events in and out per stage
 * (from the stats file each service writes at exit), alerts, end-to-end
 * latency (from the tap's histogram) and where the journal is.
 *
 * The summary is also the pipeline's self-check: events the collector
 * published as trades must all have reached ta, everything ta published
 * must have reached threshold, and every alert must have reached the tap.
 * A mismatch is reported and makes the run fail (exit 1): with block rings
 * nothing may be lost.
 */
#define _GNU_SOURCE
#include "pipeline.h"

#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

struct pl_stats {
	char *text[PL_NCHILD]; /* each child's stats JSON, or NULL */
};

static double pl_get(const struct pl_stats *s, enum pl_child_id id, const char *key)
{
	double v;

	if (!s->text[id] || shmbus_svc_json_get_f64(s->text[id], key, &v) != 0)
		return NAN;
	return v;
}

/* A stage without stats (it died before writing them) gets a line saying
 * so instead of a row of nan. Returns 1 when it printed that line. */
static int pl_no_stats(const struct pipeline *p, const struct pl_stats *s, enum pl_child_id id,
                       const char *name)
{
	if (s->text[id])
		return 0;
	printf("%-10s %12s %12s  no stats (it did not write them: see %s)\n", name, "?", "?",
	       p->child[id].log);
	return 1;
}

static void pl_check(struct pipeline *p, double a, double b, const char *what)
{
	size_t used = strlen(p->fail_msg);

	if (isnan(a) || isnan(b) || a == b)
		return;
	snprintf(p->fail_msg + used, sizeof(p->fail_msg) - used, "%s%s: %.0f != %.0f",
	         used ? "; " : "", what, a, b);
	p->failed = 1;
}

/* Whether @c died of the SIGTERM the pipeline sent it: a stage stopped
 * before it had its handler in place (just started) takes the default
 * action, where one that had it would have stopped cleanly. */
static int pl_died_of_our_stop(const struct pl_child *c)
{
	return c->stopping && c->exited && WIFSIGNALED(c->status) && WTERMSIG(c->status) == SIGTERM;
}

/* The consistency checks; sets p->failed with a message. */
static void pl_verify(struct pipeline *p, const struct pl_stats *s)
{
	int failed_before = p->failed; /* a stage failed, the run timed out ... */

	for (int i = 0; i < PL_NCHILD; i++)
		if (!pl_child_ok(&p->child[i])) {
			struct pl_child *c = &p->child[i];
			size_t used = strlen(p->fail_msg);
			char how[64];
			/* Stopped because the run had failed already: that failure
			 * is the cause, this stage's end is no failure of its own. */
			if (failed_before && pl_died_of_our_stop(c)) {
				c->stopped = 1;
				continue;
			}
			if (c->stuck[0])
				snprintf(p->fail_msg + used, sizeof(p->fail_msg) - used,
				         "%s%s did not stop within %g s of SIGTERM and was "
				         "SIGKILLed%s (%s; see %s)",
				         used ? "; " : "", c->name, p->o.stop_grace_s,
				         s->text[i] && strstr(s->text[i], "\"running\":false")
				             ? " after its final stats"
				             : "",
				         c->stuck, c->log);
			else
				snprintf(p->fail_msg + used, sizeof(p->fail_msg) - used,
				         "%s%s failed (%s, see %s)", used ? "; " : "", c->name,
				         c->exited ? pl_exit_text(c->status, how, sizeof(how))
				                   : "did not exit",
				         c->log);
			p->failed = 1;
		}
	if (!p->failed && p->tap.eos_threshold == 0) {
		snprintf(p->fail_msg, sizeof(p->fail_msg),
		         "the end of stream never reached the tap");
		p->failed = 1;
	}
	if (!p->o.replay_dir)
		pl_check(p, pl_get(s, PL_SOURCE, "trades"), pl_get(s, PL_TA, "trades_in"),
		         "trades published by collector vs received by ta");
	pl_check(p, pl_get(s, PL_TA, "events_out"), pl_get(s, PL_THRESHOLD, "events_in"),
	         "events published by ta vs received by threshold");
	pl_check(p, pl_get(s, PL_THRESHOLD, "alerts"), (double)p->tap.alerts,
	         "alerts published by threshold vs received by the tap");
	if (p->tap.io_error && !p->failed) {
		snprintf(p->fail_msg, sizeof(p->fail_msg), "writing a CSV output failed");
		p->failed = 1;
	}
}

static void pl_print_latency(const struct pl_tap *t)
{
	const struct shmbus_hist *h = t->lat;

	if (shmbus_hist_total_count(h) == 0) {
		printf("end-to-end latency: no alert, nothing to measure\n");
		return;
	}
	printf("end-to-end latency, collector publish -> threshold publish (%lld alerts):\n"
	       "  p50 %.1f us  p99 %.1f us  p99.9 %.1f us  max %.1f us\n",
	       (long long)shmbus_hist_total_count(h), shmbus_hist_value_at_percentile(h, 50) / 1e3,
	       shmbus_hist_value_at_percentile(h, 99) / 1e3,
	       shmbus_hist_value_at_percentile(h, 99.9) / 1e3, shmbus_hist_max(h) / 1e3);
}

static void pl_print_text(struct pipeline *p, const struct pl_stats *s)
{
	const char *src = p->o.replay_dir ? "replay" : "collector";
	double secs = (p->t_end - p->t_start) / 1e9;

	printf("shmbus-pipeline: bus %s, input %s, speed %s, rules %s\n", p->bus_name,
	       p->o.replay_dir ? p->o.replay_dir
	       : p->o.input    ? p->o.input
	                       : "synthetic",
	       p->o.speed, p->rules_path);
	printf("%-10s %12s %12s  %s\n", "stage", "events in", "events out", "detail");
	if (p->o.replay_dir)
		printf("%-10s %12s %12s  trades replayed from the journal (see %s)\n", src, "-",
		       "-", p->child[PL_SOURCE].log);
	else if (!pl_no_stats(p, s, PL_SOURCE, src))
		printf("%-10s %12.0f %12.0f  %.0f trades, %.0f quotes, %.0f malformed rows\n", src,
		       pl_get(s, PL_SOURCE, "rows"), pl_get(s, PL_SOURCE, "events_out"),
		       pl_get(s, PL_SOURCE, "trades"), pl_get(s, PL_SOURCE, "quotes"),
		       pl_get(s, PL_SOURCE, "malformed"));
	if (!pl_no_stats(p, s, PL_TA, "ta"))
		printf("%-10s %12.0f %12.0f  %.0f bars, %.0f indicators, %.0f late trades, %.0f "
		       "symbols\n",
		       "ta", pl_get(s, PL_TA, "events_in"), pl_get(s, PL_TA, "events_out"),
		       pl_get(s, PL_TA, "bars"), pl_get(s, PL_TA, "indicators"),
		       pl_get(s, PL_TA, "late"), pl_get(s, PL_TA, "symbols"));
	if (!pl_no_stats(p, s, PL_THRESHOLD, "threshold"))
		printf(
		    "%-10s %12.0f %12.0f  %.0f alerts (%.0f suppressed by cooldown), %.0f rules\n",
		    "threshold", pl_get(s, PL_THRESHOLD, "events_in"),
		    pl_get(s, PL_THRESHOLD, "events_out"), pl_get(s, PL_THRESHOLD, "alerts"),
		    pl_get(s, PL_THRESHOLD, "suppressed"), pl_get(s, PL_THRESHOLD, "rules"));
	if (p->child[PL_JOURNALD].started && !pl_no_stats(p, s, PL_JOURNALD, "journal"))
		printf("%-10s %12.0f %12s  every event of the bus, in %s\n", "journal",
		       pl_get(s, PL_JOURNALD, "events"), "-", p->journal_dir);
	printf("%-10s %12llu %12s  alerts seen by the pipeline's tap\n", "tap",
	       (unsigned long long)p->tap.alerts, "-");
	printf("alerts: %llu", (unsigned long long)p->tap.alerts);
	printf(p->tap.nshown ? " (first %u below; all in %s)\n" : "\n", p->tap.nshown,
	       p->child[PL_THRESHOLD].log);
	for (unsigned i = 0; i < p->tap.nshown; i++)
		printf("  %s\n", p->tap.shown[i]);
	pl_print_latency(&p->tap);
	printf("elapsed %.3f s (source finished after %.3f s); run folder %s\n", secs,
	       p->t_source_done ? (p->t_source_done - p->t_start) / 1e9 : secs, p->dir);
	printf("bus: %s on %s pages%s\n", p->bus_name,
	       shmbus_backing_name(shmbus_bus_backing(p->bus)),
	       shmbus_bus_backing(p->bus) == SHMBUS_BACKING_HUGETLBFS
	           ? ""
	           : " (shmbus-hugepages, scripts/hugepages.sh in the source tree, puts "
	             "buses on 2 MiB pages)");
	if (p->child[PL_JOURNALD].started)
		printf("journal: %s  (backtest: shmbus-pipeline --replay %s)\n", p->journal_dir,
		       p->journal_dir);
	else
		printf("journal: none (%s)\n",
		       p->o.no_journal   ? "--no-journal"
		       : p->o.replay_dir ? "a replay is not journaled unless --journal-dir is given"
		                         : "shmbus-journald is not built beside this pipeline");
	if (p->o.tap_csv)
		printf("indicator rows: %s (%llu rows)\n", p->o.tap_csv,
		       (unsigned long long)p->tap.indicator_rows);
	if (p->o.alerts_csv)
		printf("alert rows: %s\n", p->o.alerts_csv);
	if (p->failed)
		printf("FAILED: %s\n", p->fail_msg);
}

static void pl_print_json(struct pipeline *p, const struct pl_stats *s)
{
	static const struct {
		enum pl_child_id id;
		const char *key, *out;
	} keys[] = {
	    {PL_SOURCE, "rows", "collector_rows"},
	    {PL_SOURCE, "events_out", "collector_events_out"},
	    {PL_SOURCE, "trades", "collector_trades"},
	    {PL_SOURCE, "quotes", "collector_quotes"},
	    {PL_SOURCE, "malformed", "collector_malformed"},
	    {PL_TA, "events_in", "ta_events_in"},
	    {PL_TA, "events_out", "ta_events_out"},
	    {PL_TA, "bars", "ta_bars"},
	    {PL_TA, "indicators", "ta_indicators"},
	    {PL_TA, "late", "ta_late"},
	    {PL_TA, "symbols", "ta_symbols"},
	    {PL_THRESHOLD, "events_in", "threshold_events_in"},
	    {PL_THRESHOLD, "events_out", "threshold_events_out"},
	    {PL_THRESHOLD, "alerts", "threshold_alerts"},
	    {PL_THRESHOLD, "suppressed", "threshold_suppressed"},
	    {PL_JOURNALD, "events", "journal_events"},
	};
	struct shmbus_svc_json j;
	char *lat = NULL;
	size_t latlen = 0;
	FILE *mf = open_memstream(&lat, &latlen);

	if (mf) {
		shmbus_hist_write_json_summary(p->tap.lat, mf, 1.0);
		fclose(mf);
	}
	shmbus_svc_json_begin(&j);
	shmbus_svc_json_str(&j, "result", p->failed ? "failed" : "ok");
	shmbus_svc_json_str(&j, "error", p->failed ? p->fail_msg : "");
	shmbus_svc_json_str(&j, "bus", p->bus_name);
	shmbus_svc_json_str(&j, "bus_backing", shmbus_backing_name(shmbus_bus_backing(p->bus)));
	shmbus_svc_json_str(&j, "input",
	                    p->o.replay_dir ? p->o.replay_dir
	                    : p->o.input    ? p->o.input
	                                    : "synthetic");
	shmbus_svc_json_str(&j, "mode", p->o.replay_dir ? "replay" : "collector");
	shmbus_svc_json_str(&j, "run_dir", p->dir);
	shmbus_svc_json_str(&j, "journal_dir", p->child[PL_JOURNALD].started ? p->journal_dir : "");
	shmbus_svc_json_f64(&j, "elapsed_s", (p->t_end - p->t_start) / 1e9);
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		shmbus_svc_json_f64(&j, keys[i].out, pl_get(s, keys[i].id, keys[i].key));
	shmbus_svc_json_u64(&j, "tap_alerts", p->tap.alerts);
	shmbus_svc_json_u64(&j, "tap_indicators", p->tap.indicators);
	shmbus_svc_json_u64(&j, "tap_indicator_rows", p->tap.indicator_rows);
	shmbus_svc_json_u64(&j, "eos_market", p->tap.eos_market);
	shmbus_svc_json_u64(&j, "eos_ta", p->tap.eos_ta);
	shmbus_svc_json_u64(&j, "eos_threshold", p->tap.eos_threshold);
	shmbus_svc_json_u64(&j, "eos_ta_events_out", p->tap.last_eos_ta.events_out);
	shmbus_svc_json_u64(&j, "eos_threshold_events_in", p->tap.last_eos_threshold.events_in);
	shmbus_svc_json_raw(&j, "latency", lat);
	shmbus_svc_json_end(&j);
	if (j.buf)
		printf("%s\n", j.buf);
	shmbus_svc_json_free(&j);
	free(lat);
}

int pl_report(struct pipeline *p)
{
	struct pl_stats s;

	memset(&s, 0, sizeof(s));
	for (int i = 0; i < PL_NCHILD; i++)
		if (p->child[i].started)
			shmbus_svc_read_file(p->child[i].stats, &s.text[i], NULL);
	pl_verify(p, &s);
	if (p->o.json)
		pl_print_json(p, &s);
	else
		pl_print_text(p, &s);
	if (p->failed) {
		fprintf(stderr, PL_TOOL ": %s\n", p->fail_msg);
		for (int i = 0; i < PL_NCHILD; i++)
			if (p->child[i].stopped)
				fprintf(stderr,
				        "%s: %s was stopped by the pipeline after the failure (SIGTERM "
				        "before it could catch it)\n",
				        PL_TOOL, p->child[i].name);
		for (int i = 0; i < PL_NCHILD; i++)
			if (!pl_child_ok(&p->child[i]) && !p->child[i].stopped)
				pl_print_log_tail(&p->child[i], stderr);
	}
	for (int i = 0; i < PL_NCHILD; i++)
		free(s.text[i]);
	return p->failed ? 1 : 0;
}
