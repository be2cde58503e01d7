/*
 * pipeline_bench.c - end-to-end latency of the collector -> ta ->
 * threshold chain through the bus, three processes, with the services'
 * own computation (services/ta: bar builder and indicators; services/
 * threshold: rules parser and evaluator), against the same chain over
 * hand-written cache-line rings (line_ring.h) in the same run.
 *
 * Design: the collector (first cpu) publishes trades of one symbol at
 * --rate by its intended-send schedule; trade i carries a synthetic event
 * time T0 + i ms and a price alternating 100 / 102. The ta stage (second
 * cpu) builds 1 ms bars, so every trade closes the previous bar, and
 * publishes the bar and each ready indicator as shmbus-ta does, with
 * origin_ns = the closing trade's publish stamp; its EMA has period 1, so
 * ema1 is the bar's close. The threshold stage (third cpu, or the first
 * again) evaluates four rules: ema1 crosses above / below 101 (one of them
 * fires on every bar after the first) and two level rules on rsi14 and
 * bb_upper that alternating prices never meet, so every bar and indicator
 * is evaluated and exactly one threshold event per bar goes out, carrying
 * origin_ns as shmbus-threshold's do. The collector also consumes the
 * threshold events and records, for each, receipt - origin_ns (end to
 * end), the triggering indicator's publish stamp - origin_ns (trade ->
 * indicator) and receipt - that stamp (indicator -> threshold); the
 * threshold stage passes the stamp through shared memory, indexed by the
 * closing trade (the threshold event's event time is the bar's end). The
 * first two trades only prime the indicators and --warmup more are not
 * recorded, so each round records --iterations events. Every stage counts
 * what it took and gave; the run fails on any loss. When the three
 * processes outnumber the cpus the wait strategy defaults to adaptive.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pipeline_bench.h"

static const char *const pl_fig_names[PL_FIGS] = {"end_to_end", "trade_to_indicator",
                                                  "indicator_to_threshold"};

static size_t pl_align(size_t n)
{
	return (n + 127) & ~(size_t)127;
}

static struct pl_shared *pl_alloc(const struct bench_opts *o)
{
	size_t head = pl_align(sizeof(struct pl_shared));
	size_t rb = pl_align(lr_bytes(o->capacity, o->slot_size));
	size_t hb = pl_align(bench_hs_bytes());
	size_t ab = pl_align(pl_total(o) * sizeof(int64_t));
	size_t bytes = head + PL_RINGS * rb + PL_FIGS * hb + ab;
	struct pl_shared *sh;
	unsigned char *p;

	if (!hb || !(sh = bench_shared_alloc(bytes)))
		return NULL;
	sh->bytes = bytes;
	p = (unsigned char *)sh + head;
	for (int i = 0; i < PL_RINGS; i++, p += rb)
		sh->ring[i] = (struct lr_ring *)(void *)p;
	for (int i = 0; i < PL_FIGS; i++, p += hb)
		sh->hs[i] = (struct bench_hs *)(void *)p;
	sh->ind_pub = (int64_t *)(void *)p;
	return sh;
}

/* ---- collector: paced trades out, threshold events in ---- */

struct pl_col {
	struct pl_io io;
	struct pl_shared *sh;
	uint64_t first, last; /* measured closing trades */
	struct shmbus_hist *h[PL_FIGS];
	struct pl_counts n;
};

static void pl_col_record(struct pl_col *c, int fig, int64_t v)
{
	if (v < 0) {
		c->n.negative++;
		v = 0;
	}
	shmbus_hist_record(c->h[fig], v);
}

static void pl_col_on_event(const struct shmbus_event_header *ev, void *ctx)
{
	const struct shmbus_threshold *e = (const struct shmbus_threshold *)(const void *)ev;
	struct pl_col *c = ctx;
	int64_t now = shmbus_now_ns();
	int64_t k = (ev->event_time_ns - PL_T0_NS) / ((int64_t)PL_INTERVAL_MS * 1000000);
	int64_t ind;

	c->n.thresholds_in++;
	if (k < (int64_t)c->first || k > (int64_t)c->last)
		return;
	ind = c->sh->ind_pub[k];
	c->n.measured++;
	pl_col_record(c, 0, now - e->origin_ns);
	pl_col_record(c, 1, ind - e->origin_ns);
	pl_col_record(c, 2, now - ind);
}

static void pl_col_send(struct pl_col *c, uint64_t i)
{
	struct shmbus_trade t;

	pl_header(&t.h, SHMBUS_EV_TRADE, sizeof(t),
	          PL_T0_NS + (int64_t)i * PL_INTERVAL_MS * 1000000);
	t.price = i % 2 ? 102.0 : 100.0;
	t.size = 1.0;
	c->n.errors += pl_emit(&c->io, &t) != 0;
	c->n.trades_sent++;
}

/* Send every trade on schedule, handling threshold events meanwhile. */
static void pl_col_run(const struct bench_opts *o, struct pl_col *c)
{
	uint64_t total = pl_total(o);
	int64_t start = shmbus_now_ns() + PL_LEAD_NS;

	for (uint64_t i = 0; i < total; i++) {
		int64_t intended = start + (int64_t)((double)i * 1e9 / (double)o->rate), now;

		while ((now = shmbus_now_ns()) < intended)
			if (pl_poll(&c->io, pl_col_on_event, c) == 0)
				pl_idle(&c->io, intended - now);
		if (now - intended > c->n.max_behind_ns)
			c->n.max_behind_ns = now - intended;
		pl_col_send(c, i);
	}
	/* A2 pairs with the threshold stage's R2. */
	while (!atomic_load_explicit(&c->sh->thr_done, memory_order_acquire) ||
	       c->n.thresholds_in < c->sh->n.thresholds_out)
		if (pl_poll(&c->io, pl_col_on_event, c) == 0)
			pl_idle(&c->io, 1000000);
}

static int pl_collector(void *arg)
{
	struct pl_child *ch = arg;
	struct pl_shared *sh = ch->sh;
	struct pl_col c;
	int rc = 0;

	memset(&c, 0, sizeof(c));
	c.sh = sh;
	c.first = PL_PRIME + ch->o->warmup;
	c.last = pl_total(ch->o) - 1;
	for (int i = 0; i < PL_FIGS; i++)
		if (bench_hs_create(&c.h[i]) < 0)
			return pl_fail(sh, "collector: histogram", -ENOMEM);
	if (pl_io_open(ch, &c.io, 0, SHMBUS_TYPE_BIT(SHMBUS_EV_THRESHOLD)))
		return 1;
	if (bench_barrier_wait(&sh->bar, 3) < 0)
		return 1;
	pl_col_run(ch->o, &c);
	for (int i = 0; i < PL_FIGS && rc == 0; i++)
		rc = bench_hs_export(sh->hs[i], c.h[i]);
	sh->n.trades_sent = c.n.trades_sent;
	sh->n.thresholds_in = c.n.thresholds_in;
	sh->n.measured = c.n.measured;
	sh->n.negative = c.n.negative;
	sh->n.max_behind_ns = c.n.max_behind_ns;
	sh->n.errors += c.n.errors;
	for (int i = 0; i < PL_FIGS; i++)
		shmbus_hist_destroy(c.h[i]);
	pl_io_close(&c.io);
	return rc < 0 ? pl_fail(sh, "collector: export histogram", rc) : 0;
}

/* ---- rounds, report ---- */

struct pl_round {
	struct pl_counts n;
	struct bench_lat fig[PL_FIGS];
};

static int pl_check(const struct bench_opts *o, const struct pl_counts *n, const char *kind,
                    int round)
{
	uint64_t total = pl_total(o);

	if (n->errors || n->trades_in != total || n->trades_sent != total ||
	    n->events_in != n->bars_out + n->indicators_out ||
	    n->thresholds_in != n->thresholds_out || n->measured != o->iterations) {
		bench_err(kind,
		          "round %d: trades %llu sent / %llu in, %llu bars + %llu indicators out / "
		          "%llu in, thresholds %llu out / %llu in, %llu measured of %llu, %llu "
		          "errors",
		          round, (unsigned long long)n->trades_sent,
		          (unsigned long long)n->trades_in, (unsigned long long)n->bars_out,
		          (unsigned long long)n->indicators_out, (unsigned long long)n->events_in,
		          (unsigned long long)n->thresholds_out,
		          (unsigned long long)n->thresholds_in, (unsigned long long)n->measured,
		          (unsigned long long)o->iterations, (unsigned long long)n->errors);
		return BENCH_EXIT_FAIL;
	}
	return BENCH_EXIT_OK;
}

static int pl_spawn(const struct bench_opts *o, struct pl_shared *sh, int round, int shmbus)
{
	int (*const fn[3])(void *) = {pl_thr_stage, pl_ta_stage, pl_collector};
	struct pl_child ch = {.o = o, .sh = sh, .round = round, .shmbus = shmbus};
	pid_t pids[3] = {0, 0, 0};
	int rc = 0;

	/* Downstream first, though the barrier makes the order moot: every
	 * ring exists before the collector publishes. */
	for (int i = 0; i < 3 && rc == 0; i++)
		rc = bench_spawn(&pids[i], fn[i], &ch);
	return bench_round_wait(pids, 3, rc, o->timeout_s,
	                        shmbus ? "pipeline shmbus round" : "pipeline cacheline round");
}

static int pl_round(const struct bench_opts *o, struct pl_shared *sh, int round, int shmbus,
                    struct pl_round *out, struct shmbus_hist **acc)
{
	const char *kind = shmbus ? "pipeline shmbus" : "pipeline cacheline";
	struct shmbus_hist *tmp;
	int rc;

	atomic_store(&sh->bar.arrived, 0);
	atomic_store(&sh->bar.abort, 0);
	atomic_store(&sh->ta_done, 0);
	atomic_store(&sh->thr_done, 0);
	memset(&sh->n, 0, sizeof(sh->n));
	for (int i = 0; i < PL_RINGS && !shmbus; i++)
		lr_init(sh->ring[i], o->capacity, o->slot_size);
	memset(sh->ind_pub, 0, pl_total(o) * sizeof(int64_t));
	rc = pl_spawn(o, sh, round, shmbus);
	if (rc == BENCH_EXIT_OK)
		rc = pl_check(o, &sh->n, kind, round);
	if (rc != BENCH_EXIT_OK)
		return rc;
	out->n = sh->n;
	if (bench_hs_create(&tmp) < 0) {
		bench_err(kind, "histogram: out of memory");
		return BENCH_EXIT_FAIL;
	}
	for (int i = 0; i < PL_FIGS && rc == BENCH_EXIT_OK; i++) {
		shmbus_hist_reset(tmp);
		if (bench_hs_import(tmp, sh->hs[i]) < 0 || shmbus_hist_merge(acc[i], tmp) != 0) {
			bench_err(kind, "histogram: values out of range were dropped");
			rc = BENCH_EXIT_FAIL;
		}
		bench_hs_lat(tmp, &out->fig[i]);
	}
	shmbus_hist_destroy(tmp);
	return rc;
}

struct pl_report {
	struct pl_round *base, *bus;
	struct bench_lat mb[PL_FIGS], ms[PL_FIGS];
	double ratio_p50, ratio_p99, ratio_p50_paired;
	uint64_t lost;
};

static void pl_summarise(const struct bench_opts *o, struct pl_report *r)
{
	struct bench_lat v[BENCH_MAX_ROUNDS] = {{0}};
	double d[BENCH_MAX_ROUNDS];
	int n = o->rounds;

	for (int f = 0; f < PL_FIGS; f++) {
		for (int i = 0; i < n; i++)
			v[i] = r->base[i].fig[f];
		bench_lat_median(v, n, &r->mb[f]);
		for (int i = 0; i < n; i++)
			v[i] = r->bus[i].fig[f];
		bench_lat_median(v, n, &r->ms[f]);
	}
	r->ratio_p50 = bench_ratio(r->ms[0].p50, r->mb[0].p50);
	r->ratio_p99 = bench_ratio(r->ms[0].p99, r->mb[0].p99);
	for (int i = 0; i < n; i++)
		d[i] = bench_ratio(r->bus[i].fig[0].p50, r->base[i].fig[0].p50);
	r->ratio_p50_paired = bench_median(d, (size_t)n);
}

static void pl_json_figs(const struct bench_lat *f)
{
	for (int i = 0; i < PL_FIGS; i++) {
		printf("%s\"%s\":{", i ? "," : "", pl_fig_names[i]);
		bench_json_lat(stdout, &f[i]);
		printf("}");
	}
}

static void pl_json_round(int r, const char *kind, const struct pl_round *x)
{
	const struct pl_counts *n = &x->n;

	printf("{\"round\":%d,\"kind\":\"%s\",\"trades\":%llu,\"bars\":%llu,\"indicators\":%llu,"
	       "\"thresholds_published\":%llu,\"thresholds_received\":%llu,\"measured\":%llu,"
	       "\"lost\":%llu,\"negative\":%llu,\"max_behind_ns\":%lld,",
	       r + 1, kind, (unsigned long long)n->trades_in, (unsigned long long)n->bars_out,
	       (unsigned long long)n->indicators_out, (unsigned long long)n->thresholds_out,
	       (unsigned long long)n->thresholds_in, (unsigned long long)n->measured,
	       (unsigned long long)(n->thresholds_out - n->thresholds_in),
	       (unsigned long long)n->negative, (long long)n->max_behind_ns);
	pl_json_figs(x->fig);
	printf("}");
}

static void pl_print_json(const struct bench_opts *o, const struct pl_report *r)
{
	bench_json_head(stdout, "pipeline", &o->machine, o->command);
	printf(",\"config\":{\"cpus\":{\"collector\":%d,\"ta\":%d,\"threshold\":%d},\"rate\":%llu,"
	       "\"iterations\":%llu,\"warmup\":%llu,\"prime\":%u,\"rounds\":%d,\"slot_size\":%u,"
	       "\"capacity\":%u,\"wait\":\"%s\",\"single_producer\":%s,\"clock\":\"shmbus_now_ns\","
	       "\"bar_interval_ms\":%u,\"rules\":",
	       pl_cpu(o, 0), pl_cpu(o, 1), pl_cpu(o, 2), (unsigned long long)o->rate,
	       (unsigned long long)o->iterations, (unsigned long long)o->warmup, PL_PRIME,
	       o->rounds, o->slot_size, o->capacity, shmbus_wait_name(o->wait),
	       o->single_producer ? "true" : "false", PL_INTERVAL_MS);
	bench_json_str(stdout, pl_rules);
	printf(",\"hgrm_dir\":");
	bench_json_str_or_null(stdout, o->hgrm_dir);
	printf(",\"hgrm_unit\":\"ns\"},\"shmbus\":{");
	pl_json_figs(r->ms);
	printf("},\"baseline\":{");
	pl_json_figs(r->mb);
	printf("}");
	bench_json_ratio(stdout, "ratio_p50", r->ratio_p50);
	bench_json_ratio(stdout, "ratio_p99", r->ratio_p99);
	bench_json_ratio(stdout, "ratio_p50_paired", r->ratio_p50_paired);
	printf(",\"lost\":0,\"rounds\":[");
	for (int i = 0; i < o->rounds; i++) {
		printf("%s", i ? "," : "");
		pl_json_round(i, "cacheline", &r->base[i]);
		printf(",");
		pl_json_round(i, "shmbus", &r->bus[i]);
	}
	printf("]}\n");
}

static void pl_rows(const char *who, const struct bench_lat *f)
{
	char label[64];

	for (int i = 0; i < PL_FIGS; i++) {
		snprintf(label, sizeof(label), "%s %s", who, pl_fig_names[i]);
		bench_lat_row(34, label, &f[i]);
	}
}

static void pl_print_table(const struct bench_opts *o, const struct pl_report *r)
{
	char who[32];

	bench_print_machine(stdout, &o->machine, o->command, NULL);
	printf("clock:   shmbus_now_ns (bus clock) in every stage\n");
	printf("pipeline: collector cpu %d -> ta cpu %d -> threshold cpu %d -> collector, %llu "
	       "trades/s, %llu measured (+%llu warmup, +%u priming) x %d rounds, slot %u, "
	       "capacity %u, wait %s\n",
	       pl_cpu(o, 0), pl_cpu(o, 1), pl_cpu(o, 2), (unsigned long long)o->rate,
	       (unsigned long long)o->iterations, (unsigned long long)o->warmup, PL_PRIME,
	       o->rounds, o->slot_size, o->capacity, shmbus_wait_name(o->wait));
	printf("  per trade: 1 bar + up to 6 indicators to threshold, 1 threshold event back "
	       "(rules: ema1 crosses 101, rsi14 > 99, close > bb_upper)\n\n");
	printf(
	    "  latency (ns)                            min      p50      p90      p99     p99.9  "
	    "      max       mean\n");
	for (int i = 0; i < o->rounds; i++) {
		snprintf(who, sizeof(who), "r%d cacheline", i + 1);
		pl_rows(who, r->base[i].fig);
		snprintf(who, sizeof(who), "r%d shmbus", i + 1);
		pl_rows(who, r->bus[i].fig);
	}
	printf("\n");
	pl_rows("median cacheline", r->mb);
	pl_rows("median shmbus", r->ms);
	printf("\n  end to end, shmbus/cacheline (medians): p50 %.3g, p99 %.3g; paired p50 %.3g\n",
	       r->ratio_p50, r->ratio_p99, r->ratio_p50_paired);
	printf("  shmbus round 1: %llu trades, %llu bars, %llu indicators, %llu threshold events, "
	       "none lost\n",
	       (unsigned long long)r->bus[0].n.trades_in, (unsigned long long)r->bus[0].n.bars_out,
	       (unsigned long long)r->bus[0].n.indicators_out,
	       (unsigned long long)r->bus[0].n.thresholds_in);
	if (o->hgrm_dir)
		printf("  histograms (ns, all rounds merged): %s/pipeline-{shmbus,cacheline}"
		       "[-trade-indicator|-indicator-threshold].hgrm\n",
		       o->hgrm_dir);
}

static int pl_write_hgrm(const struct bench_opts *o, struct shmbus_hist **acc)
{
	static const char *const suffix[PL_FIGS] = {"", "-trade-indicator", "-indicator-threshold"};
	char name[64];
	int rc = BENCH_EXIT_OK;

	for (int k = 0; k < 2; k++)
		for (int f = 0; f < PL_FIGS && rc == BENCH_EXIT_OK; f++) {
			snprintf(name, sizeof(name), "pipeline-%s%s", k ? "shmbus" : "cacheline",
			         suffix[f]);
			rc = bench_hs_write_hgrm(o->hgrm_dir, name, acc[k * PL_FIGS + f]);
		}
	return rc;
}

int bench_pipeline_run(const struct bench_opts *o)
{
	struct shmbus_hist *acc[2 * PL_FIGS] = {NULL};
	struct pl_shared *sh = pl_alloc(o);
	struct pl_report r;
	int rc = BENCH_EXIT_OK;

	memset(&r, 0, sizeof(r));
	r.base = calloc((size_t)o->rounds * 2, sizeof(*r.base));
	r.bus = r.base ? r.base + o->rounds : NULL;
	for (int i = 0; i < 2 * PL_FIGS; i++)
		if (bench_hs_create(&acc[i]) < 0)
			rc = BENCH_EXIT_FAIL;
	if (!sh || !r.base || rc != BENCH_EXIT_OK) {
		bench_err("pipeline", "cannot allocate rings and histograms");
		rc = BENCH_EXIT_FAIL;
	}
	for (int i = 0; i < o->rounds && rc == BENCH_EXIT_OK; i++) {
		rc = pl_round(o, sh, i + 1, 0, &r.base[i], acc);
		if (rc == BENCH_EXIT_OK)
			rc = pl_round(o, sh, i + 1, 1, &r.bus[i], acc + PL_FIGS);
	}
	if (rc == BENCH_EXIT_OK) {
		pl_summarise(o, &r);
		if (o->json)
			pl_print_json(o, &r);
		else
			pl_print_table(o, &r);
		if (o->hgrm_dir)
			rc = pl_write_hgrm(o, acc);
	}
	for (int i = 0; i < 2 * PL_FIGS; i++)
		shmbus_hist_destroy(acc[i]);
	free(r.base);
	if (sh)
		bench_shared_free(sh, sh->bytes);
	return rc;
}
