/*
 * transport_spsc.c - the round trip through two hand-written SPSC rings
 * (spsc_baseline.c) of 64-byte slots in one shared anonymous mapping: A
 * pushes the trade into ring "ping" and polls ring "pong"; B polls "ping"
 * and pushes each event back into "pong". Every push publishes its index
 * at once (the peer waits for this very event), so a round trip moves the
 * slot's line and the index's line each way: the cost of a plain ring, a
 * little above the bare cache-line exchange. Both sides poll with pause
 * (yield under a non-spin --wait).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <string.h>

#include "bench.h"
#include "spsc_baseline.h"
#include "transport.h"

/* The two rings live one after the other in r->mem. */
static struct spsc_ring *spsc_tr_ring(const struct tr_round *r, int pong)
{
	size_t one = spsc_ring_bytes(r->o->capacity);

	return (struct spsc_ring *)(void *)((char *)r->mem + (pong ? one : 0));
}

static int spsc_tr_setup(struct tr_round *r)
{
	size_t one = spsc_ring_bytes(r->o->capacity);

	r->mem_bytes = 2 * one;
	r->mem = bench_baseline_alloc(&r->mem_bytes);
	if (!r->mem) {
		bench_err("spsc: shared rings", "%s", strerror(errno));
		return -ENOMEM;
	}
	spsc_ring_init(spsc_tr_ring(r, 0), r->o->capacity, 1);
	spsc_ring_init(spsc_tr_ring(r, 1), r->o->capacity, 1);
	return 0;
}

static int spsc_tr_side_a(struct tr_round *r)
{
	struct spsc_ring *ping = spsc_tr_ring(r, 0), *pong = spsc_tr_ring(r, 1);
	struct spsc_cursor out = {0, 0}, in = {0, 0};
	struct shmbus_trade t, back;

	tr_msg_init(&t);
	if (tr_ready(r))
		return 1;
	for (uint64_t i = 0; i < tr_total(r); i++) {
		uint64_t t0 = bench_ticks(&r->o->clock), t1;

		t.h.seq = i + 1;
		t.price = (double)i;
		spsc_push(ping, &out, &t);
		while (!spsc_try_pop(pong, &in, &back))
			tr_idle(r);
		t1 = bench_ticks(&r->o->clock);
		tr_sample(r, i, t0, t1, &back);
	}
	return 0;
}

static int spsc_tr_side_b(struct tr_round *r)
{
	struct spsc_ring *ping = spsc_tr_ring(r, 0), *pong = spsc_tr_ring(r, 1);
	struct spsc_cursor out = {0, 0}, in = {0, 0};
	struct shmbus_trade t;

	if (tr_ready(r))
		return 1;
	for (uint64_t i = 0; i < tr_total(r); i++) {
		while (!spsc_try_pop(ping, &in, &t))
			tr_idle(r);
		spsc_push(pong, &out, &t);
	}
	return 0;
}

static void spsc_tr_teardown(struct tr_round *r)
{
	if (r->mem)
		bench_shared_free(r->mem, r->mem_bytes);
	r->mem = NULL;
}

const struct bench_transport bench_tr_spsc = {
    .name = "spsc",
    .what = "two hand-written SPSC rings of 64-byte slots, polled",
    .setup = spsc_tr_setup,
    .side_a = spsc_tr_side_a,
    .side_b = spsc_tr_side_b,
    .teardown = spsc_tr_teardown,
};
