/*
 * transport_zmq.c - the round trip over ZeroMQ: a PAIR socket pair on an
 * ipc:// endpoint (a Unix domain socket file in $TMPDIR, else /tmp, named
 * for the run and round). A binds and B connects; A sends the trade and
 * blocks in zmq_recv for the reply, B echoes. Each side makes its own
 * context after the fork (a context never crosses fork), so each process
 * has ZeroMQ's I/O thread as well, on the same pinned cpu: that is how an
 * application meets ZeroMQ. Blocking receives whatever --wait says.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <zmq.h>

#include "bench.h"
#include "transport.h"

/* The endpoint's socket file: one per run and round. */
static void zmq_tr_path(const struct tr_round *r, char *buf, size_t len)
{
	const char *dir = getenv("TMPDIR");

	snprintf(buf, len, "%s/shmbus-bench-zmq-%s", dir && dir[0] ? dir : "/tmp", r->tag);
}

struct zmq_side {
	void *ctx;
	void *sock;
};

static int zmq_side_open(struct tr_round *r, struct zmq_side *z, const char *side, int bind)
{
	char path[200], ep[220];
	int zero = 0;

	zmq_tr_path(r, path, sizeof(path));
	snprintf(ep, sizeof(ep), "ipc://%s", path);
	z->ctx = zmq_ctx_new();
	if (!z->ctx)
		return tr_fail(r, side, "zmq_ctx_new", zmq_strerror(zmq_errno()));
	z->sock = zmq_socket(z->ctx, ZMQ_PAIR);
	if (!z->sock)
		return tr_fail(r, side, "zmq_socket", zmq_strerror(zmq_errno()));
	zmq_setsockopt(z->sock, ZMQ_LINGER, &zero, sizeof(zero));
	if ((bind ? zmq_bind(z->sock, ep) : zmq_connect(z->sock, ep)) != 0)
		return tr_fail(r, side, bind ? "zmq_bind" : "zmq_connect",
		               zmq_strerror(zmq_errno()));
	return 0;
}

static void zmq_side_close(struct zmq_side *z)
{
	if (z->sock)
		zmq_close(z->sock);
	if (z->ctx)
		zmq_ctx_term(z->ctx);
}

/* One whole message, retrying EINTR; -1 when it fails or is not 56 bytes. */
static int zmq_tr_recv(void *sock, struct shmbus_trade *t)
{
	int n;

	do
		n = zmq_recv(sock, t, sizeof(*t), 0);
	while (n < 0 && zmq_errno() == EINTR);
	return n == (int)sizeof(*t) ? 0 : -1;
}

static int zmq_tr_send(void *sock, const struct shmbus_trade *t)
{
	int n;

	do
		n = zmq_send(sock, t, sizeof(*t), 0);
	while (n < 0 && zmq_errno() == EINTR);
	return n == (int)sizeof(*t) ? 0 : -1;
}

static int zmq_side_a(struct tr_round *r)
{
	struct zmq_side z = {NULL, NULL};
	struct shmbus_trade t, back;
	int rc = 0;

	if (zmq_side_open(r, &z, "a", 1)) {
		zmq_side_close(&z);
		return 1;
	}
	tr_msg_init(&t);
	if (tr_ready(r)) {
		zmq_side_close(&z);
		return 1;
	}
	for (uint64_t i = 0; i < tr_total(r) && rc == 0; i++) {
		uint64_t t0 = bench_ticks(&r->o->clock), t1;

		t.h.seq = i + 1;
		t.price = (double)i;
		if (zmq_tr_send(z.sock, &t) < 0 || zmq_tr_recv(z.sock, &back) < 0) {
			rc = tr_fail(r, "a", "round trip", zmq_strerror(zmq_errno()));
			break;
		}
		t1 = bench_ticks(&r->o->clock);
		tr_sample(r, i, t0, t1, &back);
	}
	zmq_side_close(&z);
	return rc;
}

static int zmq_side_b(struct tr_round *r)
{
	struct zmq_side z = {NULL, NULL};
	struct shmbus_trade t;
	int rc = 0;

	if (zmq_side_open(r, &z, "b", 0)) {
		zmq_side_close(&z);
		return 1;
	}
	if (tr_ready(r)) {
		zmq_side_close(&z);
		return 1;
	}
	for (uint64_t i = 0; i < tr_total(r); i++) {
		if (zmq_tr_recv(z.sock, &t) < 0 || zmq_tr_send(z.sock, &t) < 0) {
			rc = tr_fail(r, "b", "echo", zmq_strerror(zmq_errno()));
			break;
		}
	}
	zmq_side_close(&z);
	return rc;
}

/* The binding side unlinks its socket file on close; a killed round may
 * leave it, so the parent removes it too. */
static void zmq_tr_teardown(struct tr_round *r)
{
	char path[200];

	zmq_tr_path(r, path, sizeof(path));
	unlink(path);
}

const struct bench_transport bench_tr_zmq = {
    .name = "zmq",
    .what = "ZeroMQ PAIR sockets over ipc://, blocking zmq_send/zmq_recv",
    .setup = NULL,
    .side_a = zmq_side_a,
    .side_b = zmq_side_b,
    .teardown = zmq_tr_teardown,
};
