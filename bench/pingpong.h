/*
 * pingpong.h - one round of the pingpong scenario's two measurements, for
 * scenarios that set them beside other transports (transports.c): the
 * shmbus round trip through rings "ping"/"pong" and the raw shared-memory
 * cache-line round trip, both between o->cpus[0] and o->cpus[1].
 */
#ifndef BENCH_PINGPONG_H
#define BENCH_PINGPONG_H

#include <shmbus/histogram.h>

#include "bench.h"

enum bench_pp_kind {
	BENCH_PP_CACHELINE = 0, /* the baseline: two 64-byte lines, spin */
	BENCH_PP_SHMBUS = 1,    /* two shmbus rings on the run's bus */
};

/* Shared state of the rounds (barrier, sample buffer of o->iterations). */
struct pp_shared;

/* Allocate it in shared anonymous memory. Returns NULL on failure (the
 * caller reports it). Free with bench_pp_free() and the same o. */
struct pp_shared *bench_pp_alloc(const struct bench_opts *o);
void bench_pp_free(const struct bench_opts *o, struct pp_shared *sh);

/*
 * Run one round of `kind`: two fresh pinned processes, o->warmup +
 * o->iterations round trips of a 56-byte trade. `round` (>= 1) names the
 * shmbus rings, so that rounds share no ring state. Fills lat and, when h
 * is not NULL, records every measured round trip (ns) into h. Returns a
 * BENCH_EXIT_* code after printing why on failure.
 */
int bench_pp_round(const struct bench_opts *o, struct pp_shared *sh, int round,
                   enum bench_pp_kind kind, struct bench_lat *lat, struct shmbus_hist *h);

#endif
