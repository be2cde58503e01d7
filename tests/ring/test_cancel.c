/*
 * test_cancel.c - shmbus_producer_opts.cancel: a producer blocked on a
 * full `block` ring whose consumer stands still gives up once its process
 * is stopping (the flag its SIGTERM handler sets), counted dropped, and
 * gives up at once on that ring until the consumer moves; a consumer
 * still taking events is waited for, whatever the flag.
 *
 * Without it a collector whose downstream was stopped (SIGSTOP, a
 * debugger, a hang) ignored its SIGTERM for good: the pipeline and the
 * launcher had to SIGKILL it, and its stats were never written.
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <pthread.h>
#include <signal.h>
#include <time.h>
#include <unistd.h>

#include "test_util.h"

#define CAP 16

static volatile sig_atomic_t stop_flag;

static void on_usr1(int sig)
{
	(void)sig;
	stop_flag = 1;
}

struct env {
	shmbus_bus *bus;
	shmbus_consumer *c;
	shmbus_producer *p;
	int ring;
};

static void env_open(struct env *e)
{
	struct shmbus_sub_opts so;
	struct shmbus_producer_opts po;
	assert_int_equal(tu_bus_create("cancel", 4, &e->bus), 0);
	tu_sub_opts(&so, CAP, 64, SHMBUS_POLICY_BLOCK);
	assert_int_equal(shmbus_subscribe(e->bus, "cancel", &so, &e->c), 0);
	shmbus_producer_opts_init(&po);
	po.cancel = &stop_flag;
	assert_int_equal(shmbus_producer_open(e->bus, &po, &e->p), 0);
	assert_true((e->ring = shmbus_stat_find_ring(e->bus, "cancel")) >= 0);
	stop_flag = 0;
	struct sigaction sa = {.sa_handler = on_usr1};
	sigemptyset(&sa.sa_mask);
	assert_int_equal(sigaction(SIGUSR1, &sa, NULL), 0);
	alarm(60); /* a wait that never ends fails the test, not ctest's timeout */
}

static void env_close(struct env *e)
{
	alarm(0);
	shmbus_producer_close(e->p);
	shmbus_consumer_close(e->c);
	shmbus_bus_close(e->bus);
	shmbus_bus_destroy("cancel");
}

static uint64_t ring_dropped(struct env *e)
{
	struct shmbus_ring_stat rs;
	assert_int_equal(shmbus_stat_ring(e->bus, (uint32_t)e->ring, &rs), 0);
	return rs.dropped;
}

static double publish_secs(struct env *e, int *delivered)
{
	struct shmbus_trade t = tu_trade(1, 100.0);
	int64_t t0 = tu_mono_ms();
	*delivered = shmbus_publish(e->p, &t);
	return (double)(tu_mono_ms() - t0) / 1e3;
}

/* The signal comes from another thread 50 ms into the wait, as a
 * SIGTERM from the launcher would. */
static void *signal_later(void *arg)
{
	usleep(50000);
	pthread_kill(*(pthread_t *)arg, SIGUSR1);
	return NULL;
}

static void fill(struct env *e)
{
	for (int i = 0; i < CAP; i++) {
		struct shmbus_trade t = tu_trade(1, i);
		assert_int_equal(shmbus_publish(e->p, &t), 1);
	}
}

static void test_cancel_gives_up_behind_a_consumer_that_stands_still(void **state)
{
	struct env e;
	int n;
	(void)state;
	env_open(&e);
	fill(&e);
	pthread_t self = pthread_self(), th;
	assert_int_equal(pthread_create(&th, NULL, signal_later, &self), 0);
	/* blocked: the flag is set meanwhile; the consumer never moved */
	double took = publish_secs(&e, &n);
	pthread_join(th, NULL);
	assert_int_equal(stop_flag, 1);
	assert_int_equal(n, 0);
	assert_true(took >= SHMBUS_CANCEL_STALL_NS / 1e9 * 0.9); /* waited a stall first */
	assert_int_equal(ring_dropped(&e), 1);
	/* the same ring, the consumer still where it was: no second stall */
	took = publish_secs(&e, &n);
	assert_int_equal(n, 0);
	assert_true(took < SHMBUS_CANCEL_STALL_NS / 1e9 * 0.9);
	assert_int_equal(ring_dropped(&e), 2);
	/* the consumer takes one: room for one, delivered at once */
	struct tu_sink s;
	tu_sink_init(&s, CAP);
	assert_int_equal(shmbus_poll(e.c, tu_sink_fn, &s, 1), 1);
	publish_secs(&e, &n);
	assert_int_equal(n, 1);
	/* full again and it moved since the give-up: a stall is waited again */
	took = publish_secs(&e, &n);
	assert_int_equal(n, 0);
	assert_true(took >= SHMBUS_CANCEL_STALL_NS / 1e9 * 0.9);
	assert_int_equal(ring_dropped(&e), 3);
	/* every delivered event is there: 15 of the fill and the one after */
	assert_int_equal(tu_drain(e.c, &s), CAP);
	tu_sink_free(&s);
	env_close(&e);
}

struct slow {
	shmbus_consumer *c;
	int takes;
	struct tu_sink s;
};

/* A consumer that takes one event every 300 ms: slower than nothing, but
 * moving; each pause is shorter than a stall. */
static void *slow_consumer(void *arg)
{
	struct slow *sl = arg;
	for (int i = 0; i < sl->takes; i++) {
		usleep(300000);
		while (shmbus_poll(sl->c, tu_sink_fn, &sl->s, 1) != 1)
			usleep(1000);
	}
	return NULL;
}

static void test_cancel_waits_for_a_consumer_that_moves(void **state)
{
	struct env e;
	int n;
	(void)state;
	env_open(&e);
	fill(&e);
	stop_flag = 1; /* stopping already: a final flush */
	struct slow sl = {.c = e.c, .takes = 6};
	tu_sink_init(&sl.s, CAP + 6);
	pthread_t th;
	assert_int_equal(pthread_create(&th, NULL, slow_consumer, &sl), 0);
	for (int i = 0; i < 6; i++) {
		publish_secs(&e, &n);
		assert_int_equal(n, 1);
	}
	pthread_join(th, NULL);
	assert_int_equal(ring_dropped(&e), 0);
	assert_int_equal(tu_drain(e.c, &sl.s), CAP);
	assert_int_equal(sl.s.n, CAP + 6);
	tu_sink_free(&sl.s);
	env_close(&e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_cancel_gives_up_behind_a_consumer_that_stands_still),
	    cmocka_unit_test(test_cancel_waits_for_a_consumer_that_moves),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
