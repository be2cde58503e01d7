/*
 * fanout.c - one publisher, K subscriber processes, each with its own
 * ring subscribed with the same filter, so that every publish is copied
 * into all K rings; against K hand-written cache-line rings written by the
 * same publisher (line_ring.h), in the same run.
 *
 * Design: the engine is oneway.c's (bench_ow_round): the publisher on the
 * first cpu, the subscribers round-robin over the others. At --rate R > 0
 * the publisher paces by its intended-send schedule and every subscriber
 * records its own one-way latency from the publish stamp (and from the
 * intended send time, corrected for coordinated omission); the report
 * gives each subscriber's percentiles and all of them merged. At --rate 0
 * the publisher sends as fast as the rings take the events (block policy:
 * lossless) and the figure is its publishing rate, events/s, plus the
 * rate at which the events reached all rings. When the processes
 * outnumber the distinct cpus, busy-spinning would starve a process that
 * shares a core, so the wait strategy defaults to adaptive and the report
 * says so. Rounds alternate baseline and shmbus; medians over rounds.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <shmbus/shmbus.h>

#include "hist_share.h"
#include "oneway.h"

struct fo_report {
	struct bench_ow_round *base, *bus;                               /* o->rounds each */
	struct bench_lat mb_sub[BENCH_MAX_SUBS], ms_sub[BENCH_MAX_SUBS]; /* uncorrected */
	struct bench_lat mb_corr, mb_unc, ms_corr, ms_unc;               /* merged */
	double base_send, bus_send, base_recv, bus_recv;                 /* events/s */
	double ratio_p50, ratio_p99, ratio_p50_corr, ratio_p99_corr, ratio_send;
	int distinct_cpus;
};

static double fo_ratio(double a, double b)
{
	return a / (b != 0 ? b : 1);
}

static double fo_med_rate(const struct bench_ow_round *x, int n, int send)
{
	double v[BENCH_MAX_ROUNDS];

	for (int i = 0; i < n; i++)
		v[i] = send ? x[i].send_rate : x[i].recv_rate;
	return bench_median(v, (size_t)n);
}

static void fo_summarise(const struct bench_opts *o, struct fo_report *r)
{
	struct bench_lat v[BENCH_MAX_ROUNDS] = {{0}};
	int n = o->rounds;

#define FO_MED(arr, expr, dst)                                                                     \
	do {                                                                                       \
		for (int i = 0; i < n; i++)                                                        \
			v[i] = r->arr[i].expr;                                                     \
		bench_lat_median(v, n, dst);                                                    \
	} while (0)
	for (uint32_t j = 0; j < o->subscribers; j++) {
		FO_MED(base, sub[j].uncorrected, &r->mb_sub[j]);
		FO_MED(bus, sub[j].uncorrected, &r->ms_sub[j]);
	}
	FO_MED(base, all_corrected, &r->mb_corr);
	FO_MED(base, all_uncorrected, &r->mb_unc);
	FO_MED(bus, all_corrected, &r->ms_corr);
	FO_MED(bus, all_uncorrected, &r->ms_unc);
#undef FO_MED
	r->base_send = fo_med_rate(r->base, n, 1);
	r->bus_send = fo_med_rate(r->bus, n, 1);
	r->base_recv = fo_med_rate(r->base, n, 0);
	r->bus_recv = fo_med_rate(r->bus, n, 0);
	r->ratio_p50 = fo_ratio((double)r->ms_unc.p50, (double)r->mb_unc.p50);
	r->ratio_p99 = fo_ratio((double)r->ms_unc.p99, (double)r->mb_unc.p99);
	r->ratio_p50_corr = fo_ratio((double)r->ms_corr.p50, (double)r->mb_corr.p50);
	r->ratio_p99_corr = fo_ratio((double)r->ms_corr.p99, (double)r->mb_corr.p99);
	r->ratio_send = fo_ratio(r->bus_send, r->base_send);
	r->distinct_cpus = bench_distinct_cpus(o->cpus, o->ncpus);
}

/* Why the wait strategy is what it is, in one phrase. */
static const char *fo_wait_reason(const struct bench_opts *o, const struct fo_report *r)
{
	if (o->wait_set)
		return "as given";
	if ((int)o->subscribers + 1 > r->distinct_cpus)
		return "default: the processes outnumber the cpus";
	return "default: one core per process";
}

static void fo_json_kind(const struct bench_opts *o, const char *key, const struct bench_lat *subs,
                         const struct bench_lat *c, const struct bench_lat *u, double send,
                         double recv)
{
	printf("\"%s\":{\"send_rate\":%.0f,\"delivered_rate\":%.0f", key, send, recv);
	if (o->rate) {
		printf(",\"corrected\":{");
		bench_json_lat(stdout, c);
		printf("},\"uncorrected\":{");
		bench_json_lat(stdout, u);
		printf("},\"subscribers\":[");
		for (uint32_t j = 0; j < o->subscribers; j++) {
			printf("%s{\"index\":%u,\"cpu\":%d,", j ? "," : "", j,
			       bench_ow_sub_cpu(o, j));
			bench_json_lat(stdout, &subs[j]);
			printf("}");
		}
		printf("]");
	}
	printf("}");
}

static void fo_json_round(const struct bench_opts *o, int r, const char *kind,
                          const struct bench_ow_round *x)
{
	printf("{\"round\":%d,\"kind\":\"%s\",\"published\":%llu,\"send_rate\":%.0f,"
	       "\"delivered_rate\":%.0f,\"max_behind_ns\":%lld,\"subscribers\":[",
	       r + 1, kind, (unsigned long long)x->published, x->send_rate, x->recv_rate,
	       (long long)x->max_behind_ns);
	for (uint32_t j = 0; j < x->nsubs; j++) {
		printf("%s{\"index\":%u,\"cpu\":%d,\"received\":%llu,\"lost\":%llu,"
		       "\"out_of_order\":%llu,\"negative\":%llu",
		       j ? "," : "", j, x->sub[j].cpu, (unsigned long long)x->sub[j].received,
		       (unsigned long long)(x->published - x->sub[j].received),
		       (unsigned long long)x->sub[j].out_of_order,
		       (unsigned long long)x->sub[j].negative);
		if (o->rate) {
			printf(",\"uncorrected\":{");
			bench_json_lat(stdout, &x->sub[j].uncorrected);
			printf("},\"corrected\":{");
			bench_json_lat(stdout, &x->sub[j].corrected);
			printf("}");
		}
		printf("}");
	}
	printf("]}");
}

static void fo_print_json(const struct bench_opts *o, const struct fo_report *r)
{
	bench_json_head(stdout, "fanout", &o->machine, o->command);
	printf(",\"config\":{\"cpus\":[");
	for (int i = 0; i < o->ncpus; i++)
		printf("%s%d", i ? "," : "", o->cpus[i]);
	printf("],\"subscribers\":%u,\"rate\":%llu,\"iterations\":%llu,\"warmup\":%llu,"
	       "\"rounds\":%d,\"slot_size\":%u,\"capacity\":%u,\"wait\":\"%s\",\"wait_reason\":",
	       o->subscribers, (unsigned long long)o->rate, (unsigned long long)o->iterations,
	       (unsigned long long)o->warmup, o->rounds, o->slot_size, o->capacity,
	       shmbus_wait_name(o->wait));
	bench_json_str(stdout, fo_wait_reason(o, r));
	printf(",\"api\":\"%s\",\"single_producer\":%s,\"clock\":\"shmbus_now_ns\",\"hgrm_dir\":",
	       o->api_claim ? "claim" : "publish", o->single_producer ? "true" : "false");
	bench_json_str_or_null(stdout, o->hgrm_dir);
	printf(",\"hgrm_unit\":\"ns\"},\"mode\":\"%s\",", o->rate ? "latency" : "throughput");
	fo_json_kind(o, "shmbus", r->ms_sub, &r->ms_corr, &r->ms_unc, r->bus_send, r->bus_recv);
	printf(",");
	fo_json_kind(o, "baseline", r->mb_sub, &r->mb_corr, &r->mb_unc, r->base_send, r->base_recv);
	bench_json_ratio(stdout, "ratio_send_rate", r->ratio_send);
	if (o->rate) {
		bench_json_ratio(stdout, "ratio_p50", r->ratio_p50);
		bench_json_ratio(stdout, "ratio_p99", r->ratio_p99);
		bench_json_ratio(stdout, "ratio_p50_corrected", r->ratio_p50_corr);
		bench_json_ratio(stdout, "ratio_p99_corrected", r->ratio_p99_corr);
	}
	printf(",\"rounds\":[");
	for (int i = 0; i < o->rounds; i++) {
		printf("%s", i ? "," : "");
		fo_json_round(o, i, "cacheline", &r->base[i]);
		printf(",");
		fo_json_round(o, i, "shmbus", &r->bus[i]);
	}
	printf("]}\n");
}

static void fo_row(const char *label, const struct bench_lat *l)
{
	bench_lat_row(24, label, l);
}

static void fo_table_latency(const struct bench_opts *o, const struct fo_report *r)
{
	char label[48];

	printf("  one-way from publish stamp (ns)  min      p50      p90      p99     p99.9        "
	       "max       mean\n");
	for (int i = 0; i < o->rounds; i++) {
		for (int k = 0; k < 2; k++) {
			const struct bench_ow_round *x = k ? &r->bus[i] : &r->base[i];

			for (uint32_t j = 0; j < o->subscribers; j++) {
				snprintf(label, sizeof(label), "r%d %s s%u", i + 1,
				         k ? "shmbus" : "cacheline", j);
				fo_row(label, &x->sub[j].uncorrected);
			}
		}
	}
	printf("\n");
	for (uint32_t j = 0; j < o->subscribers; j++) {
		snprintf(label, sizeof(label), "median cacheline s%u", j);
		fo_row(label, &r->mb_sub[j]);
		snprintf(label, sizeof(label), "median shmbus s%u", j);
		fo_row(label, &r->ms_sub[j]);
	}
	fo_row("median cacheline all", &r->mb_unc);
	fo_row("median shmbus all", &r->ms_unc);
	fo_row("corrected cacheline all", &r->mb_corr);
	fo_row("corrected shmbus all", &r->ms_corr);
	printf("\n  ratio shmbus/cacheline (medians, all subscribers): p50 %.3g, p99 %.3g; "
	       "corrected p50 %.3g, p99 %.3g\n",
	       r->ratio_p50, r->ratio_p99, r->ratio_p50_corr, r->ratio_p99_corr);
}

static void fo_print_table(const struct bench_opts *o, const struct fo_report *r)
{
	bench_print_machine(stdout, &o->machine, o->command, NULL);
	printf("clock:   shmbus_now_ns (bus clock) on every side\n");
	printf("fanout: publisher on cpu %d, %u subscribers (cpus", o->cpus[0], o->subscribers);
	for (uint32_t j = 0; j < o->subscribers; j++)
		printf(" %d", bench_ow_sub_cpu(o, j));
	printf("), ");
	if (o->rate)
		printf("%llu events/s, ", (unsigned long long)o->rate);
	else
		printf("unpaced (max rate), ");
	printf("%llu events (+%llu warmup) x %d rounds, slot %u, capacity %u\n",
	       (unsigned long long)o->iterations, (unsigned long long)o->warmup, o->rounds,
	       o->slot_size, o->capacity);
	printf("  wait %s (%s; %u processes on %d distinct cpus)\n\n", shmbus_wait_name(o->wait),
	       fo_wait_reason(o, r), o->subscribers + 1, r->distinct_cpus);
	if (o->rate)
		fo_table_latency(o, r);
	printf("\n  round  cacheline send Mev/s  delivered Mev/s   shmbus send Mev/s  delivered "
	       "Mev/s\n");
	for (int i = 0; i < o->rounds; i++)
		printf("  %5d  %20.3f  %15.3f  %18.3f  %15.3f\n", i + 1, r->base[i].send_rate / 1e6,
		       r->base[i].recv_rate / 1e6, r->bus[i].send_rate / 1e6,
		       r->bus[i].recv_rate / 1e6);
	printf("  median %20.3f  %15.3f  %18.3f  %15.3f\n", r->base_send / 1e6, r->base_recv / 1e6,
	       r->bus_send / 1e6, r->bus_recv / 1e6);
	printf("  ratio of publisher rates shmbus/cacheline: %.3g%s\n", r->ratio_send,
	       o->rate ? " (paced: both should match --rate)" : "");
	if (o->hgrm_dir && o->rate)
		printf("  histograms (ns, all rounds and subscribers merged): "
		       "%s/fanout-{shmbus,cacheline}[-uncorrected].hgrm\n",
		       o->hgrm_dir);
}

int bench_fanout_run(const struct bench_opts *o)
{
	static const char *const names[4] = {"fanout-cacheline", "fanout-cacheline-uncorrected",
	                                     "fanout-shmbus", "fanout-shmbus-uncorrected"};
	struct shmbus_hist *h[4] = {NULL, NULL, NULL, NULL};
	struct ow_shared *sh = bench_ow_alloc(o, o->subscribers);
	struct fo_report *r = calloc(1, sizeof(*r));
	int rc = BENCH_EXIT_OK;

	if (r)
		r->base = calloc((size_t)o->rounds * 2, sizeof(*r->base));
	for (int i = 0; i < 4; i++)
		if (bench_hs_create(&h[i]) < 0)
			rc = BENCH_EXIT_FAIL;
	if (!sh || !r || !r->base || rc != BENCH_EXIT_OK) {
		bench_err("fanout", "cannot allocate rings and histograms");
		rc = BENCH_EXIT_FAIL;
	} else {
		r->bus = r->base + o->rounds;
	}
	for (int i = 0; i < o->rounds && rc == BENCH_EXIT_OK; i++) {
		rc = bench_ow_round(o, sh, i + 1, BENCH_OW_CACHELINE, &r->base[i], h[0], h[1]);
		if (rc == BENCH_EXIT_OK)
			rc = bench_ow_round(o, sh, i + 1, BENCH_OW_SHMBUS, &r->bus[i], h[2], h[3]);
	}
	if (rc == BENCH_EXIT_OK) {
		fo_summarise(o, r);
		if (o->json)
			fo_print_json(o, r);
		else
			fo_print_table(o, r);
	}
	for (int i = 0; i < 4 && rc == BENCH_EXIT_OK && o->hgrm_dir && o->rate; i++)
		rc = bench_hs_write_hgrm(o->hgrm_dir, names[i], h[i]);
	for (int i = 0; i < 4; i++)
		shmbus_hist_destroy(h[i]);
	if (r)
		free(r->base);
	free(r);
	bench_ow_free(sh);
	return rc;
}
