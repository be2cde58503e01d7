/*
 * transport.h - one inter-process transport of the transports scenario
 * (transports.c): how to set a round up, side A's timed send/receive loop,
 * side B's echo loop, and the teardown.
 *
 * A round runs as two fresh processes forked by transports.c: side A on
 * o->cpus[0], side B on o->cpus[1], each pinned before its side function
 * is called. Both inherit whatever setup() made in the parent (pipes,
 * sockets, shared memory, names in r->tag). Each side connects, calls
 * tr_ready() (the start barrier: nothing before it is timed), then side A
 * sends o->warmup + o->iterations 56-byte trades, one at a time, each
 * carrying its index as price, and times every round trip with
 * tr_sample(); side B sends every message back unchanged. A side that
 * fails calls tr_fail(), which prints why and lets the other side's
 * barrier give up, and returns its exit code (non-zero).
 */
#ifndef BENCH_TRANSPORT_H
#define BENCH_TRANSPORT_H

#include <stddef.h>
#include <stdint.h>

#include <shmbus/event.h>

#include "bench.h"

/* Shared by the parent and both sides of a round. */
struct tr_shared {
	struct bench_barrier bar;
	_Atomic uint64_t errors; /* replies that carried the wrong payload */
	uint64_t samples[];      /* o->iterations round trips in ticks, by side A */
};

struct bench_transport;

/* One round of one transport, as both sides see it. */
struct tr_round {
	const struct bench_opts *o;
	const struct bench_transport *t;
	struct tr_shared *sh;
	int round;    /* 1.. */
	char tag[48]; /* "<parent pid>-r<round>": unique per run and round */
	int fds[4];   /* setup()'s descriptors, -1 when unused */
	void *mem;    /* setup()'s shared mapping, NULL when unused */
	size_t mem_bytes;
};

struct bench_transport {
	const char *name; /* as --transports names it */
	const char *what; /* one line for the report */
	/* Once per run in the parent, before the first round and after the
	 * last one (also after a failure); either may be NULL. run_init
	 * prints why it failed and returns a negative errno. */
	int (*run_init)(const struct bench_opts *o);
	void (*run_fini)(void);
	/* In the parent before each round's fork; NULL when nothing to do.
	 * Returns 0, or a negative errno after printing why. */
	int (*setup)(struct tr_round *r);
	/* In the pinned children: side A's timed loop and side B's echo loop.
	 * Return the child's exit code. */
	int (*side_a)(struct tr_round *r);
	int (*side_b)(struct tr_round *r);
	/* In the parent after both sides exited (also after a failure), for
	 * whatever setup() made; NULL when nothing to do. */
	void (*teardown)(struct tr_round *r);
};

/* The transports beyond pingpong.c's two (each in transport_<name>.c). */
extern const struct bench_transport bench_tr_spsc;
extern const struct bench_transport bench_tr_pipe;
extern const struct bench_transport bench_tr_unix;
#ifdef SHMBUS_BENCH_HAVE_ZMQ
extern const struct bench_transport bench_tr_zmq;
#endif
#ifdef SHMBUS_BENCH_HAVE_ICEORYX
extern const struct bench_transport bench_tr_iceoryx;
#endif

/* Helpers for the sides (transports.c). */

/* Fill t as the trade every transport carries (56 bytes). */
void tr_msg_init(struct shmbus_trade *t);
/* Flag the round as failed (the peer stops waiting at the barrier), print
 * "shmbus-bench: <transport> <side>: what: why", return 1. */
int tr_fail(struct tr_round *r, const char *side, const char *what, const char *why);
/* The start barrier; returns 0, or 1 when the other side failed. */
int tr_ready(struct tr_round *r);
/* Wait a moment while polling: pause under --wait spin, else yield. */
void tr_idle(const struct tr_round *r);
/* Write / read exactly n bytes on a blocking descriptor, retrying short
 * transfers and EINTR. Return 0, -errno, or -EPIPE at end of file. */
int tr_write_full(int fd, const void *buf, size_t n);
int tr_read_full(int fd, void *buf, size_t n);
/* The teardown of a transport whose setup() made only descriptors: close
 * every one of r->fds that is open and mark it -1. */
void tr_close_fds(struct tr_round *r);

static inline uint64_t tr_total(const struct tr_round *r)
{
	return r->o->warmup + r->o->iterations;
}

/* Side A: check the reply to message i and keep its time once warm. */
static inline void tr_sample(struct tr_round *r, uint64_t i, uint64_t t0, uint64_t t1,
                             const struct shmbus_trade *reply)
{
	if (reply->price != (double)i)
		atomic_fetch_add_explicit(&r->sh->errors, 1, memory_order_relaxed);
	if (i >= r->o->warmup)
		r->sh->samples[i - r->o->warmup] = t1 - t0;
}

#endif
