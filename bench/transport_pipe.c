/*
 * transport_pipe.c - the round trip through two pipes: A writes the trade
 * into pipe "ping" and blocks reading pipe "pong"; B blocks reading
 * "ping" and writes each message back into "pong". A 56-byte write to a
 * pipe is atomic (< PIPE_BUF), so every read normally returns one whole
 * message; tr_read_full() still copes with a short one. Both sides block
 * in read(2) whatever --wait says: sleeping in the kernel is how pipes are
 * used, and the wake-up is part of what this transport costs.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "bench.h"
#include "transport.h"

enum { PIPE_PING_R, PIPE_PING_W, PIPE_PONG_R, PIPE_PONG_W };

static int pipe_setup(struct tr_round *r)
{
	if (pipe2(&r->fds[PIPE_PING_R], O_CLOEXEC) < 0 ||
	    pipe2(&r->fds[PIPE_PONG_R], O_CLOEXEC) < 0) {
		bench_err("pipe: create pipes", "%s", strerror(errno));
		return -errno;
	}
	return 0;
}

static int pipe_side_a(struct tr_round *r)
{
	struct shmbus_trade t, back;
	int rc;

	close(r->fds[PIPE_PING_R]);
	close(r->fds[PIPE_PONG_W]);
	tr_msg_init(&t);
	if (tr_ready(r))
		return 1;
	for (uint64_t i = 0; i < tr_total(r); i++) {
		uint64_t t0 = bench_ticks(&r->o->clock), t1;

		t.h.seq = i + 1;
		t.price = (double)i;
		rc = tr_write_full(r->fds[PIPE_PING_W], &t, sizeof(t));
		if (rc == 0)
			rc = tr_read_full(r->fds[PIPE_PONG_R], &back, sizeof(back));
		if (rc < 0)
			return tr_fail(r, "a", "round trip", strerror(-rc));
		t1 = bench_ticks(&r->o->clock);
		tr_sample(r, i, t0, t1, &back);
	}
	return 0;
}

static int pipe_side_b(struct tr_round *r)
{
	struct shmbus_trade t;
	int rc;

	close(r->fds[PIPE_PING_W]);
	close(r->fds[PIPE_PONG_R]);
	if (tr_ready(r))
		return 1;
	for (uint64_t i = 0; i < tr_total(r); i++) {
		rc = tr_read_full(r->fds[PIPE_PING_R], &t, sizeof(t));
		if (rc == 0)
			rc = tr_write_full(r->fds[PIPE_PONG_W], &t, sizeof(t));
		if (rc < 0)
			return tr_fail(r, "b", "echo", strerror(-rc));
	}
	return 0;
}

const struct bench_transport bench_tr_pipe = {
    .name = "pipe",
    .what = "two pipes, blocking read/write",
    .setup = pipe_setup,
    .side_a = pipe_side_a,
    .side_b = pipe_side_b,
    .teardown = tr_close_fds,
};
