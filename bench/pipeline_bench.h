/*
 * pipeline_bench.h - the parts of the pipeline scenario (pipeline_bench.c:
 * collector, rounds, report; pipeline_stages.c: the ta and threshold
 * stages and the transport they share, shmbus or line rings).
 */
#ifndef BENCH_PIPELINE_BENCH_H
#define BENCH_PIPELINE_BENCH_H

#include <shmbus/shmbus.h>

#include "bench.h"
#include "hist_share.h"
#include "line_ring.h"

#define PL_SYM         1u
#define PL_SYM_NAME    "BENCH"
#define PL_T0_NS       INT64_C(1000000000) /* event time of trade 0 */
#define PL_INTERVAL_MS 1u
#define PL_PRIME       2u      /* trades before the first threshold event */
#define PL_LEAD_NS     1000000 /* the schedule starts 1 ms after the barrier */
#define PL_POLL_BATCH  64u
#define PL_RINGS       3 /* trades, bars + indicators, thresholds */
#define PL_FIGS        3 /* end to end, trade -> indicator, indicator -> threshold */

/* The rules the threshold stage evaluates (pipeline_stages.c). */
extern const char pl_rules[];

/* What one round counted, stage by stage. */
struct pl_counts {
	uint64_t trades_sent, trades_in, bars_out, indicators_out;
	uint64_t events_in, thresholds_out, thresholds_in, measured;
	uint64_t errors;   /* failed publishes, bad indicator updates */
	uint64_t negative; /* clock differences below 0, taken as 0 */
	int64_t max_behind_ns;
};

struct pl_shared {
	struct bench_barrier bar;
	size_t bytes;
	struct pl_counts n;
	_Atomic uint32_t ta_done, thr_done; /* counts of that stage are final */
	struct lr_ring *ring[PL_RINGS];
	struct bench_hs *hs[PL_FIGS];
	int64_t *ind_pub; /* by closing trade: the triggering indicator's stamp */
};

struct pl_child {
	const struct bench_opts *o;
	struct pl_shared *sh;
	int round;
	int shmbus;
};

/* One stage's input and output, over shmbus or line rings. */
struct pl_io {
	const struct bench_opts *o;
	int shmbus;
	shmbus_bus *bus;
	shmbus_consumer *c;
	shmbus_producer *p;
	struct lr_cons in;
	struct lr_prod out;
	uint64_t seq; /* line rings: the stage's own sequence */
};

static inline uint64_t pl_total(const struct bench_opts *o)
{
	return PL_PRIME + o->warmup + o->iterations;
}

/* The cpu of stage 0 (collector), 1 (ta) or 2 (threshold). */
static inline int pl_cpu(const struct bench_opts *o, int stage)
{
	return o->cpus[stage % o->ncpus];
}

/* Abort the round's barrier and print why; returns 1 (a child's exit). */
int pl_fail(struct pl_shared *sh, const char *what, int rc);

/* Attach stage `stage` to its transport. Returns 0 or 1 (printed). */
int pl_io_open(struct pl_child *ch, struct pl_io *io, int stage, uint64_t types);
void pl_io_close(struct pl_io *io);
/* Publish ev; 0, or -1 when it did not reach exactly one ring. */
int pl_emit(struct pl_io *io, void *ev);
/* Up to PL_POLL_BATCH events to fn; returns how many. */
int pl_poll(struct pl_io *io, shmbus_handler fn, void *ctx);
/* Nothing to read: wait by the strategy, at most timeout_ns. */
void pl_idle(struct pl_io *io, int64_t timeout_ns);
/* Zero an event of `size` bytes and fill its header's type fields. */
void pl_header(struct shmbus_event_header *h, uint16_t type, uint16_t size, int64_t event_time);

/* The stages' process bodies (bench_spawn). */
int pl_ta_stage(void *arg);
int pl_thr_stage(void *arg);

#endif
