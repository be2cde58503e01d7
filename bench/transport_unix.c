/*
 * transport_unix.c - the round trip over a Unix domain socketpair of type
 * SOCK_SEQPACKET: connected, reliable, and it keeps message boundaries,
 * so one send(2) is one recv(2) of the whole 56-byte trade. A sends and
 * blocks in recv for the reply; B blocks in recv and sends each message
 * back. Like the pipes, both sides block in the kernel whatever --wait
 * says. A socketpair made in the parent is the same kernel path as a
 * bound socket that two unrelated processes connect to, minus the
 * connect(2) that is not timed anyway.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bench.h"
#include "transport.h"

enum { UNIX_A, UNIX_B };

static int unix_setup(struct tr_round *r)
{
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, &r->fds[UNIX_A]) < 0) {
		bench_err("unix: socketpair", "%s", strerror(errno));
		return -errno;
	}
	return 0;
}

/* One whole message; a seqpacket recv never returns part of one unless
 * the buffer is too small, which a short count reports as corruption. */
static int unix_recv(int fd, struct shmbus_trade *t)
{
	ssize_t n;

	do
		n = recv(fd, t, sizeof(*t), 0);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	return n == (ssize_t)sizeof(*t) ? 0 : -EPIPE;
}

static int unix_send(int fd, const struct shmbus_trade *t)
{
	ssize_t n;

	do
		n = send(fd, t, sizeof(*t), MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	return n == (ssize_t)sizeof(*t) ? 0 : -EPIPE;
}

static int unix_side_a(struct tr_round *r)
{
	int fd = r->fds[UNIX_A];
	struct shmbus_trade t, back;
	int rc;

	close(r->fds[UNIX_B]);
	tr_msg_init(&t);
	if (tr_ready(r))
		return 1;
	for (uint64_t i = 0; i < tr_total(r); i++) {
		uint64_t t0 = bench_ticks(&r->o->clock), t1;

		t.h.seq = i + 1;
		t.price = (double)i;
		rc = unix_send(fd, &t);
		if (rc == 0)
			rc = unix_recv(fd, &back);
		if (rc < 0)
			return tr_fail(r, "a", "round trip", strerror(-rc));
		t1 = bench_ticks(&r->o->clock);
		tr_sample(r, i, t0, t1, &back);
	}
	return 0;
}

static int unix_side_b(struct tr_round *r)
{
	int fd = r->fds[UNIX_B];
	struct shmbus_trade t;
	int rc;

	close(r->fds[UNIX_A]);
	if (tr_ready(r))
		return 1;
	for (uint64_t i = 0; i < tr_total(r); i++) {
		rc = unix_recv(fd, &t);
		if (rc == 0)
			rc = unix_send(fd, &t);
		if (rc < 0)
			return tr_fail(r, "b", "echo", strerror(-rc));
	}
	return 0;
}

const struct bench_transport bench_tr_unix = {
    .name = "unix",
    .what = "Unix domain SOCK_SEQPACKET socketpair, blocking send/recv",
    .setup = unix_setup,
    .side_a = unix_side_a,
    .side_b = unix_side_b,
    .teardown = tr_close_fds,
};
