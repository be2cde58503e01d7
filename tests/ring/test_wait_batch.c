/*
 * test_wait_batch.c - shmbus_wait_batch(): returns when a whole batch is
 * ready, when a partial batch has lingered, or on timeout; and delivers
 * everything a producer thread publishes when used as the only wait.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <pthread.h>
#include <time.h>

#include "test_util.h"

struct env {
	shmbus_bus *bus;
	shmbus_consumer *c;
	shmbus_producer *p;
};

static void env_open_wait(struct env *e, uint32_t capacity, enum shmbus_wait_strategy w)
{
	struct shmbus_sub_opts so;
	assert_int_equal(tu_bus_create("wb", 4, &e->bus), 0);
	tu_sub_opts(&so, capacity, 64, SHMBUS_POLICY_BLOCK);
	so.wait = w;
	assert_int_equal(shmbus_subscribe(e->bus, "wb", &so, &e->c), 0);
	assert_int_equal(shmbus_producer_open(e->bus, NULL, &e->p), 0);
}

static void env_open(struct env *e, uint32_t capacity)
{
	env_open_wait(e, capacity, SHMBUS_WAIT_ADAPTIVE);
}

static void env_close(struct env *e)
{
	shmbus_producer_close(e->p);
	shmbus_consumer_close(e->c);
	shmbus_bus_close(e->bus);
	shmbus_bus_destroy("wb");
}

static void publish_n(struct env *e, int n)
{
	for (int i = 0; i < n; i++) {
		struct shmbus_trade t = tu_trade(1, i);
		assert_int_equal(shmbus_publish(e->p, &t), 1);
	}
}

static void test_wait_batch_full_partial_empty(void **state)
{
	struct env e;
	env_open(&e, 64);
	struct tu_sink s;
	tu_sink_init(&s, 1024);
	/* empty: times out */
	assert_int_equal(shmbus_wait_batch(e.c, 8, 1000, 2000000), SHMBUS_ETIMEDOUT);
	/* a whole batch: ready */
	publish_n(&e, 8);
	assert_int_equal(shmbus_wait_batch(e.c, 8, 1000000000, 1000000000), 0);
	assert_int_equal(tu_drain(e.c, &s), 8);
	/* a partial batch is returned once it has lingered, long before the
	 * (huge) timeout */
	publish_n(&e, 3);
	assert_int_equal(shmbus_wait_batch(e.c, 8, 100000, INT64_C(1) << 62), 0);
	assert_int_equal(tu_drain(e.c, &s), 3);
	/* batch larger than the ring is capped: 64 ready is enough */
	publish_n(&e, 64);
	assert_int_equal(shmbus_wait_batch(e.c, 1000, INT64_C(1) << 62, INT64_C(1) << 62), 0);
	assert_int_equal(tu_drain(e.c, &s), 64);
	/* batch 1 is shmbus_wait */
	assert_int_equal(shmbus_wait_batch(e.c, 1, 0, 1000000), SHMBUS_ETIMEDOUT);
	tu_sink_free(&s);
	env_close(&e);
}

/*
 * Every timeout returns, whatever the length. A deadline that passed
 * during the 64th round of the batch spin (where it falls back to
 * shmbus_wait() for the time left) left a negative time, which
 * shmbus_wait() took for "no timeout": the call then slept until an event
 * came, forever on an idle ring. Timeouts of 10 ns to 100 us in 10 ns
 * steps put the deadline in that round (a few spins wide) for some of
 * them; they run in a child with an alarm, so a hang fails instead of
 * stalling the suite.
 */
/* Every timeout of 10 ns to 100 us (10 ns steps) on an idle ring times
 * out. 0, or exits TU_CHILD_FAIL. */
static int short_timeouts(void *arg)
{
	shmbus_consumer *c = arg;
	/* ~0.5 s alone; on a loaded machine each wait's yields may give the
	 * core away for a whole time slice (10000 waits took over 10 s in CI
	 * beside a fuzzer), so the sweep stops after 5 s: a hang is what this
	 * catches, and it still fails at the child's time limit */
	int64_t stop = tu_mono_ms() + 5000;
	for (int64_t ns = 10; ns <= 100000 && tu_mono_ms() < stop; ns += 10)
		TU_CHILD_CHECK(shmbus_wait_batch(c, 8, 1000, ns) == SHMBUS_ETIMEDOUT);
	return 0;
}

static void test_wait_batch_timeout_any_length(void **state)
{
	(void)state;
	struct env e;
	env_open(&e, 64);
	/* a hang is killed after 60 s: tu_run_in_child gives -1 then */
	assert_true(tu_exited_ok(tu_run_in_child(short_timeouts, e.c, 60000)));
	env_close(&e);
}

static int64_t thread_cpu_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/*
 * A partial batch lingers the way the ring's strategy waits: a `block`
 * (or adaptive, after its spin and yields) consumer sleeps through the
 * linger instead of spinning on the far slot for all of it. It once
 * spun: 2 s of linger took up to 2 s of CPU whatever the strategy. The
 * bound is a behaviour check (sleeping or not), not a speed one: a
 * sleeping wait uses a few ms.
 */
static void check_linger_sleeps(enum shmbus_wait_strategy w)
{
	struct env e;
	env_open_wait(&e, 64, w);
	publish_n(&e, 1);
	int64_t cpu = thread_cpu_ns();
	assert_int_equal(shmbus_wait_batch(e.c, 8, 2000000000, 10000000000), 0);
	cpu = thread_cpu_ns() - cpu;
	if (cpu >= 500000000)
		fail_msg("wait strategy %d: 2 s of linger took %lld ms of CPU", (int)w,
		         (long long)(cpu / 1000000));
	env_close(&e);
}

static void test_wait_batch_linger_sleeps_when_blocking(void **state)
{
	(void)state;
	check_linger_sleeps(SHMBUS_WAIT_BLOCK);
	check_linger_sleeps(SHMBUS_WAIT_ADAPTIVE);
}

struct fill_arg {
	struct env *e;
	int n;
};

static void *fill_later(void *a)
{
	struct fill_arg *fa = a;
	tu_sleep_us(100000); /* the consumer is asleep in its linger by then */
	for (int i = 0; i < fa->n; i++) {
		struct shmbus_trade t = tu_trade(1, i);
		shmbus_publish(fa->e->p, &t);
	}
	return NULL;
}

/* A sleeping linger ends when the batch fills, not when the linger (30 s
 * here; 15 s is only a hang bound) runs out. */
static void check_linger_wakes_on_fill(enum shmbus_wait_strategy w)
{
	struct env e;
	env_open_wait(&e, 64, w);
	publish_n(&e, 1);
	struct fill_arg fa = {&e, 7};
	pthread_t t;
	int64_t start = tu_mono_ms();
	assert_int_equal(pthread_create(&t, NULL, fill_later, &fa), 0);
	int rc = shmbus_wait_batch(e.c, 8, 30000000000, 30000000000);
	int64_t took = tu_mono_ms() - start;
	pthread_join(t, NULL);
	assert_int_equal(rc, 0);
	if (took >= 15000)
		fail_msg("wait strategy %d: a filled batch did not end the linger", (int)w);
	struct tu_sink s;
	tu_sink_init(&s, 16);
	assert_int_equal(tu_drain(e.c, &s), 8);
	tu_sink_free(&s);
	env_close(&e);
}

static void test_wait_batch_sleeping_linger_wakes_on_fill(void **state)
{
	(void)state;
	check_linger_wakes_on_fill(SHMBUS_WAIT_BLOCK);
	check_linger_wakes_on_fill(SHMBUS_WAIT_ADAPTIVE);
}

struct prod_arg {
	struct env *e;
	int n;
};

static void *producer(void *a)
{
	struct prod_arg *pa = a;
	for (int i = 0; i < pa->n; i++) {
		struct shmbus_trade t = tu_trade(1, i);
		shmbus_publish(pa->e->p, &t);
	}
	return NULL;
}

static void count_fn(const struct shmbus_event_header *ev, void *ctx)
{
	uint64_t *next = ctx;
	if (ev->seq == *next + 1)
		*next = ev->seq;
}

/* The only wait of a consumer: everything arrives, in order. */
static void test_wait_batch_delivers_stream(void **state)
{
	struct env e;
	env_open(&e, 256);
	struct prod_arg pa = {&e, 200000};
	pthread_t t;
	assert_int_equal(pthread_create(&t, NULL, producer, &pa), 0);
	uint64_t in_order = 0;
	int64_t deadline = tu_mono_ms() + 60000;
	while (in_order < (uint64_t)pa.n && tu_mono_ms() < deadline) {
		if (shmbus_poll(e.c, count_fn, &in_order, 256) == 0)
			shmbus_wait_batch(e.c, 32, 2000, 10000000);
	}
	pthread_join(t, NULL);
	assert_int_equal(in_order, pa.n);
	env_close(&e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		TU_TEST(test_wait_batch_full_partial_empty),
		TU_TEST(test_wait_batch_timeout_any_length),
		TU_TEST(test_wait_batch_delivers_stream),
		TU_TEST(test_wait_batch_linger_sleeps_when_blocking),
		TU_TEST(test_wait_batch_sleeping_linger_wakes_on_fill),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
