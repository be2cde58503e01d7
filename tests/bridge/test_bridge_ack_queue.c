/*
 * test_bridge_ack_queue.c - the NATS sink's ack queue when it cannot
 * grow (no server needed: cnats's ack handler is called as its thread
 * would call it, and the sink is polled as the core polls it).
 *
 * The queue lives in bridge_nats.c's statics, so this file includes it,
 * with realloc() redirected to a version that fails on demand: the only
 * way to reach an allocation made on cnats's thread.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdlib.h>
#include <cmocka.h>

static int g_fail_realloc; /* the next reallocs fail */

static void *ackq_realloc(void *p, size_t n)
{
	return g_fail_realloc ? NULL : realloc(p, n);
}

#define realloc ackq_realloc
#include "bridge_nats.c"
#undef realloc

struct acks {
	uint64_t pos[8], seq[8];
	int err[8];
	unsigned n;
};

static void take_ack(void *ctx, uint64_t pos, uint32_t source, uint64_t seq, int err)
{
	struct acks *a = ctx;
	(void)source;
	assert_true(a->n < 8);
	a->pos[a->n] = pos;
	a->seq[a->n] = seq;
	a->err[a->n++] = err;
}

/* cnats's publish-ack of "source:seq" (a stored message). */
static void deliver_ack(struct nats_sink *s, const char *id)
{
	natsMsg *msg = NULL;
	jsPubAck pa;
	memset(&pa, 0, sizeof pa);
	assert_int_equal(natsMsg_Create(&msg, "shmbus.trade.X", NULL, "x", 1), NATS_OK);
	assert_int_equal(natsMsgHeader_Set(msg, "Nats-Msg-Id", id), NATS_OK);
	nats_ack_cb(NULL, msg, &pa, NULL, s); /* it destroys msg */
}

/* An ack the queue had no room for was dropped with the promise that
 * "the core resends on timeout", but the core has no such timeout: the
 * send stayed pending for good and held the window's head (the bridge
 * stopped exporting). The sink now reports every send awaiting its ack
 * as lost, so the core sends them again (the stream's duplicate window
 * drops what was stored). */
static void test_bridge_ack_queue_full_reports_loss(void **state)
{
	struct acks a = {0};
	(void)state;
	assert_int_equal(nats_Open(-1), NATS_OK); /* cnats's messages need it */
	struct nats_sink *s = calloc(1, sizeof *s);
	assert_non_null(s);
	s->base.ops = &nats_ops;
	pthread_mutex_init(&s->mu, NULL);
	deliver_ack(s, "9:1"); /* the first queue */
	assert_int_equal(nats_poll(&s->base, take_ack, &a), 1);
	assert_int_equal(a.n, 1);
	assert_int_equal(a.seq[0], 1);
	assert_int_equal(a.err[0], 0);
	/* The poll swapped in the other buffer, not yet allocated: it
	 * cannot grow. */
	memset(&a, 0, sizeof a);
	assert_int_equal(s->qcap, 0);
	g_fail_realloc = 1;
	deliver_ack(s, "9:2");
	g_fail_realloc = 0;
	nats_poll(&s->base, take_ack, &a);
	if (a.n != 1 || a.pos[0] != BRIDGE_ACK_ALL_LOST || a.err[0] >= 0)
		fail_msg("a dropped ack was not reported (%u acks, first pos %llu): its send "
			 "would hold the window",
			 a.n, (unsigned long long)(a.n ? a.pos[0] : 0));
	/* Room again: acks flow as before, the loss reported once. */
	memset(&a, 0, sizeof a);
	deliver_ack(s, "9:3");
	assert_int_equal(nats_poll(&s->base, take_ack, &a), 1);
	assert_int_equal(a.seq[0], 3);
	assert_int_equal(a.pos[0], UINT64_MAX);
	free(s->q);
	free(s->q2);
	pthread_mutex_destroy(&s->mu);
	free(s);
	nats_Close();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bridge_ack_queue_full_reports_loss),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
