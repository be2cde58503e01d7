/*
 * test_space_wait.c - producers waiting for room in a full `block` ring,
 * and the consumer that must wake them (the futex on the ring's
 * space_seq, announced in prod_waiting).
 *
 * A producer announces its wait, reads the head, and sleeps if the ring
 * is still full; the consumer stores its head, then reads the
 * announcement. Without a fence between the consumer's two steps, its
 * read can come before its store is seen: both miss each other and the
 * producer naps its full 200 us while the ring has room. That interleaving
 * cannot be forced from outside, so the tests set the state it leaves
 * (room made, nobody woken, a producer announced) through the private
 * layout and check that the consumer's own way of running out of events
 * wakes the producer.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "ring/test_util.h"
#include "ring/bus_internal.h" /* the ring's header: prod_waiting, space_seq */

struct rig {
	shmbus_bus *bus;
	shmbus_producer *p;
	shmbus_consumer *c;
	struct ring_hdr *h;
};

/* An anonymous bus with one `block` ring of 2 slots, waited on by wait. */
static void rig_open(struct rig *r, enum shmbus_wait_strategy wait)
{
	struct shmbus_sub_opts so;
	assert_int_equal(tu_bus_create(NULL, 4, &r->bus), 0);
	tu_sub_opts(&so, 2, 64, SHMBUS_POLICY_BLOCK);
	so.wait = wait;
	assert_int_equal(shmbus_subscribe(r->bus, "full", &so, &r->c), 0);
	assert_int_equal(shmbus_producer_open(r->bus, NULL, &r->p), 0);
	const struct ring_desc *d = &r->bus->rings[shmbus_consumer_ring(r->c)];
	r->h = (struct ring_hdr *)(r->bus->base + d->region_off);
}

static void rig_close(struct rig *r)
{
	shmbus_producer_close(r->p);
	shmbus_consumer_close(r->c);
	assert_int_equal(shmbus_bus_close(r->bus), 0);
}

/*
 * The ring filled, then emptied by the consumer while no producer had
 * announced a wait (its release wakes nobody), then a producer announces
 * one as a producer that read the head before that release does: it would
 * sleep on the space_seq it read. Returns that value.
 */
static uint32_t missed_wake(struct rig *r)
{
	struct tu_sink s;
	for (int i = 0; i < 2; i++) {
		struct shmbus_trade t = tu_trade(1, 1.0 + i);
		assert_int_equal(shmbus_publish(r->p, &t), 1);
	}
	tu_sink_init(&s, 4);
	assert_int_equal(tu_drain(r->c, &s), 2);
	tu_sink_free(&s);
	uint32_t seq = load_acquire(&r->h->space_seq);
	atomic_fetch_add(&r->h->prod_waiting, 1);
	return seq;
}

/* A consumer that waits for events (by each strategy) wakes a producer
 * that announced a wait for room, before it sleeps or while it spins:
 * the producer's futex word has moved when the wait returns. */
static void wait_wakes_producer(enum shmbus_wait_strategy wait)
{
	struct rig r;
	rig_open(&r, wait);
	uint32_t seq = missed_wake(&r);
	assert_int_equal(shmbus_wait(r.c, 20 * 1000 * 1000), SHMBUS_ETIMEDOUT);
	assert_int_not_equal(load_acquire(&r.h->space_seq), seq);
	rig_close(&r);
}

static void test_space_wait_block_consumer_wakes_producer(void **state)
{
	(void)state;
	wait_wakes_producer(SHMBUS_WAIT_BLOCK);
}

static void test_space_wait_adaptive_consumer_wakes_producer(void **state)
{
	(void)state;
	wait_wakes_producer(SHMBUS_WAIT_ADAPTIVE);
}

static void test_space_wait_spin_consumer_wakes_producer(void **state)
{
	(void)state;
	wait_wakes_producer(SHMBUS_WAIT_SPIN);
}

static void test_space_wait_yield_consumer_wakes_producer(void **state)
{
	(void)state;
	wait_wakes_producer(SHMBUS_WAIT_YIELD);
}

/* A consumer that only polls (no shmbus_wait) wakes it too, at the check
 * its empty polls make every few thousand. */
static void test_space_wait_polling_consumer_wakes_producer(void **state)
{
	(void)state;
	struct rig r;
	struct tu_sink s;
	rig_open(&r, SHMBUS_WAIT_SPIN);
	uint32_t seq = missed_wake(&r);
	tu_sink_init(&s, 1);
	for (int i = 0; i < 10000; i++)
		assert_int_equal(shmbus_poll(r.c, tu_sink_fn, &s, 16), 0);
	tu_sink_free(&s);
	assert_int_not_equal(load_acquire(&r.h->space_seq), seq);
	rig_close(&r);
}

/* A consumer holding the slots it polled made no room: its waits wake
 * no producer for nothing (each would find the ring full again). */
static void test_space_wait_holding_consumer_wakes_no_one(void **state)
{
	(void)state;
	struct rig r;
	struct tu_sink s;
	rig_open(&r, SHMBUS_WAIT_ADAPTIVE);
	shmbus_consumer_hold(r.c, 1);
	uint32_t seq = missed_wake(&r);
	assert_int_equal(shmbus_wait(r.c, 20 * 1000 * 1000), SHMBUS_ETIMEDOUT);
	tu_sink_init(&s, 1);
	for (int i = 0; i < 10000; i++)
		assert_int_equal(shmbus_poll(r.c, tu_sink_fn, &s, 16), 0);
	tu_sink_free(&s);
	assert_int_equal(load_acquire(&r.h->space_seq), seq);
	/* the release makes room, and wakes it */
	assert_int_equal(shmbus_consumer_release(r.c, shmbus_consumer_position(r.c)), 0);
	assert_int_not_equal(load_acquire(&r.h->space_seq), seq);
	rig_close(&r);
}

/* A child producer that fills the ring (2 slots) and waits for room for
 * a third event, until it is killed. */
static pid_t spawn_waiting_producer(struct rig *r)
{
	fflush(NULL);
	pid_t pid = fork();
	if (pid == 0) {
		shmbus_producer *p;
		TU_CHILD_CHECK(shmbus_producer_open(r->bus, NULL, &p) == 0);
		for (int i = 0; i < 3; i++) {
			struct shmbus_trade t = tu_trade(1, 1.0 + i);
			shmbus_publish(p, &t);
		}
		_exit(TU_CHILD_FAIL); /* nobody made room */
	}
	return pid;
}

/* A producer killed while it waits for room leaves its announcement:
 * it must cost the consumer one wake, not a system call at every
 * release from then on (each poll's release woke nobody, for ever). */
static void test_space_wait_dead_waiter_costs_one_wake(void **state)
{
	(void)state;
	struct rig r;
	struct tu_sink s;
	rig_open(&r, SHMBUS_WAIT_ADAPTIVE);
	tu_sink_init(&s, 64);
	/* Killed inside its wait, announced: not between two naps. */
	int announced = 0;
	for (int tries = 0; tries < 50 && !announced; tries++) {
		pid_t pid = spawn_waiting_producer(&r);
		assert_true(pid > 0);
		int64_t end = tu_mono_ms() + 10000;
		while (load_acquire(&r.h->prod_waiting) == 0 && tu_mono_ms() < end)
			tu_sleep_us(100);
		kill(pid, SIGKILL);
		int st;
		assert_int_equal(waitpid(pid, &st, 0), pid);
		assert_true(WIFSIGNALED(st));
		announced = load_acquire(&r.h->prod_waiting) != 0;
		tu_drain(r.c, &s);
		s.n = 0;
	}
	assert_true(announced);
	uint32_t seq = load_acquire(&r.h->space_seq);
	for (int i = 0; i < 20; i++) {
		struct shmbus_trade t = tu_trade(1, 1.0);
		assert_int_equal(shmbus_publish(r.p, &t), 1);
		assert_int_equal(shmbus_poll(r.c, tu_sink_fn, &s, 16), 1);
		s.n = 0;
	}
	assert_true(load_acquire(&r.h->space_seq) - seq <= 1);
	tu_sink_free(&s);
	rig_close(&r);
}

int main(void)
{
	alarm(120);
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_space_wait_block_consumer_wakes_producer),
	    cmocka_unit_test(test_space_wait_adaptive_consumer_wakes_producer),
	    cmocka_unit_test(test_space_wait_spin_consumer_wakes_producer),
	    cmocka_unit_test(test_space_wait_yield_consumer_wakes_producer),
	    cmocka_unit_test(test_space_wait_polling_consumer_wakes_producer),
	    cmocka_unit_test(test_space_wait_holding_consumer_wakes_no_one),
	    cmocka_unit_test(test_space_wait_dead_waiter_costs_one_wake),
	};
	return cmocka_run_group_tests_name("space_wait", tests, NULL, NULL);
}
