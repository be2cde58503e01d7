/*
 * oneway.h - one round of paced one-way delivery from one publisher
 * process to K subscriber processes, over shmbus (one ring per
 * subscriber, the same filter, so one publish reaches every ring) or over
 * K hand-written cache-line rings (line_ring.h). oneway.c runs it with
 * K = 1, fanout.c with K >= 1; both report from what it returns.
 */
#ifndef BENCH_ONEWAY_H
#define BENCH_ONEWAY_H

#include <shmbus/histogram.h>

#include "bench.h"

#define BENCH_MAX_SUBS 16

enum bench_ow_kind {
	BENCH_OW_CACHELINE = 0, /* the baseline: line_ring.h, one ring per subscriber */
	BENCH_OW_SHMBUS = 1,    /* one shmbus ring per subscriber on the run's bus */
};

struct bench_ow_sub {
	int cpu;
	uint64_t received;
	uint64_t out_of_order;        /* index not last + 1: a loss, duplicate or reorder */
	uint64_t negative;            /* receipt read before the stamp (clock skew): taken as 0 */
	int64_t t_last_ns;            /* receipt time of its last event (bus clock) */
	struct bench_lat corrected;   /* receipt - intended send time */
	struct bench_lat uncorrected; /* receipt - publish stamp */
};

struct bench_ow_round {
	uint32_t nsubs;
	uint64_t published;    /* events the publisher sent (warmup included) */
	uint64_t undelivered;  /* publishes that reached fewer than nsubs rings */
	int last_rc;           /* the last such publish's return */
	int64_t t_start_ns;    /* the schedule's start (bus clock) */
	int64_t t_end_ns;      /* after the last publish */
	int64_t max_behind_ns; /* worst lateness of a send against its schedule */
	double send_rate;      /* published / (t_end - t_start), events/s */
	double recv_rate;      /* events delivered to all rings / (last receipt - start) */
	struct bench_ow_sub sub[BENCH_MAX_SUBS];
	struct bench_lat all_corrected, all_uncorrected; /* subscribers merged */
};

/* Shared state of the rounds: barrier, results, rings, histogram slots. */
struct ow_shared;

/* Allocate it for nsubs subscribers (1..BENCH_MAX_SUBS) in shared
 * anonymous memory. Returns NULL on failure (the caller reports it). */
struct ow_shared *bench_ow_alloc(const struct bench_opts *o, uint32_t nsubs);
void bench_ow_free(struct ow_shared *sh);

/*
 * One round of `kind`: a fresh publisher on o->cpus[0] and nsubs fresh
 * subscribers round-robin over the other cpus (all of them when only one
 * is given); o->warmup + o->iterations events at o->rate events/s (0: as
 * fast as the rings take them, no latency recorded). `round` (>= 1) names
 * the rings. Fills out and, when not NULL, adds every measured latency
 * (ns; all subscribers) to all_corr / all_unc. Fails (prints why, returns
 * BENCH_EXIT_FAIL) when an event is lost, duplicated or reordered.
 */
int bench_ow_round(const struct bench_opts *o, struct ow_shared *sh, int round,
                   enum bench_ow_kind kind, struct bench_ow_round *out,
                   struct shmbus_hist *all_corr, struct shmbus_hist *all_unc);

/* The cpu of subscriber i. */
int bench_ow_sub_cpu(const struct bench_opts *o, uint32_t i);

#endif
