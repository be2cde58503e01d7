/*
 * bench.h - the options of a shmbus-bench run and the scenario entry
 * points (bench_main.c parses, the scenario files measure and report).
 */
#ifndef BENCH_H
#define BENCH_H

#include <stdint.h>

#include <shmbus/consumer.h>

#include "bench_common.h"

enum bench_scenario {
	BENCH_PINGPONG = 1,
	BENCH_THROUGHPUT = 2,
	BENCH_ONEWAY = 3,   /* oneway.c: paced one-way latency, CO-corrected */
	BENCH_FANOUT = 4,   /* fanout.c: one publisher, K subscriber rings */
	BENCH_PIPELINE = 5, /* pipeline_bench.c: collector -> ta -> threshold */
	BENCH_TRANSPORTS = 10, /* transports.c: round trip over several IPCs */
};

struct bench_opts {
	enum bench_scenario scenario;
	int cpus[BENCH_MAX_CPUS];
	int ncpus;
	uint64_t iterations; /* pingpong: measured round trips per round */
	uint64_t warmup;     /* pingpong: unmeasured round trips first */
	uint64_t events;     /* throughput: events per round, all producers */
	uint32_t producers;
	uint32_t slot_size;
	uint32_t capacity;
	enum shmbus_wait_strategy wait;
	int wait_set;             /* --wait given (else the scenario chooses) */
	int api_claim;            /* 1: claim/commit, 0: publish (copy in) */
	int single_producer;      /* SHMBUS_SUB_SINGLE_PRODUCER on the rings */
	int no_timestamp;         /* SHMBUS_PRODUCER_NO_TIMESTAMP on the producers */
	int64_t block_timeout_ns; /* producers' block_timeout_ns; 0: default */
	uint32_t spsc_batch;      /* SPSC baseline: index publication batch */
	int baseline_stamp;       /* throughput: the SPSC baseline stamps each event */
	uint32_t consumer_batch;  /* throughput: shmbus_wait_batch size */
	uint32_t producer_batch;  /* throughput: events per shmbus_publish_batch */
	int rounds;
	int timeout_s; /* per round, then the children are killed */
	int json;
	uint32_t transports;  /* transports: bit i = entry i of transports.c; 0 = all built */
	const char *hgrm_dir; /* --hgrm: write DIR/<figure>.hgrm files (ns) */
	uint64_t rate;        /* oneway/fanout/pipeline: events/s offered; 0 = max */
	int rate_set;         /* --rate given (else the scenario's default) */
	uint64_t duration_s;  /* --duration: iterations = rate * duration */
	int iterations_set;   /* --iterations given */
	int slot_set;         /* --slot-size given */
	uint32_t subscribers; /* fanout: subscriber processes, one ring each (2) */
	const char *bus;      /* the run's private bus */
	char command[1024];
	struct bench_machine machine;
	struct bench_clock clock;
};

/* Run the scenario and print its report. Return a BENCH_EXIT_* code. */
int bench_pingpong_run(const struct bench_opts *o);
int bench_throughput_run(const struct bench_opts *o);
int bench_transports_run(const struct bench_opts *o);
int bench_oneway_run(const struct bench_opts *o);
int bench_fanout_run(const struct bench_opts *o);
int bench_pipeline_run(const struct bench_opts *o);

/* Parse --transports "a,b,c" into a mask of transports.c's entries.
 * Returns 0, or -EINVAL (unknown name) / -ENOTSUP (not built) with a
 * sentence in why. */
int bench_transports_parse(const char *list, uint32_t *mask, char *why, size_t len);

#endif
