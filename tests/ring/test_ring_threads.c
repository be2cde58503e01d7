/*
 * test_ring_threads.c - MPSC under real concurrency, threads only (so it
 * also runs under ThreadSanitizer): two producer threads publish into one
 * ring (each through publish, claim/commit or batches of 1..40) while a
 * consumer thread drains it. The consumer checks there is no
 * loss, no duplicate, per-producer order and payload integrity; a stat
 * thread reads the ring's counters all along, as shmbus-stat does, and
 * must never find a live ring's positions inconsistent.
 *
 * SHMBUS_TSAN_SMALL in the environment shrinks the counts (TSan is ~10x
 * slower); SHMBUS_TSAN builds shrink them too.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <pthread.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ring/test_util.h"

#define NPROD 2
#define BATCH 40
#ifndef STALL_MS
#define STALL_MS 60000 /* no event for this long: stalled */
#endif

enum { MODE_PUBLISH, MODE_CLAIM, MODE_BATCH };

struct mpsc {
	shmbus_bus *bus;
	shmbus_consumer *c;
	uint64_t per_producer;
	int mode[NPROD]; /* producer i's API: MODE_* */
	atomic_int fail;
	atomic_int ready;
	atomic_int stop; /* a producer gave up: the consumer stops too */
	atomic_int done; /* producers and consumer finished: the stat thread stops */
	uint64_t stat_reads, stat_errors; /* stat thread's findings */
	/* consumer's findings */
	uint64_t got[NPROD];
	uint64_t out_of_order, bad_payload, unknown_source, total;
};

struct prod_arg {
	struct mpsc *m;
	int idx;
};

static uint64_t events_per_producer(void)
{
	const char *small = getenv("SHMBUS_TSAN_SMALL");
#ifdef SHMBUS_TSAN
	small = "1";
#endif
	return small != NULL && small[0] != '\0' && small[0] != '0' ? 20000 : 200000;
}

/* Publish events first.. in a batch of 1..BATCH (at most left); returns
 * how many, or -1 on an error. */
static int64_t publish_some(struct mpsc *m, shmbus_producer *p, uint32_t src, uint64_t first,
                            uint64_t left, uint64_t *rnd)
{
	struct shmbus_trade t[BATCH];
	const void *evs[BATCH];
	unsigned n = 1 + (unsigned)(tu_rand(rnd) % BATCH);
	if (n > left)
		n = (unsigned)left;
	for (unsigned k = 0; k < n; k++) {
		uint64_t i = first + k;
		t[k] = tu_trade((uint32_t)(i % 13) + 1, (double)tu_mix(src, i));
		t[k].size = (double)i;
		evs[k] = &t[k];
	}
	int rc = shmbus_publish_batch(p, evs, n);
	TU_THREAD_CHECK(&m->fail, rc == (int)n);
	return rc == (int)n ? (int64_t)n : -1;
}

static void *producer_thread(void *arg)
{
	struct prod_arg *pa = arg;
	struct mpsc *m = pa->m;
	struct shmbus_producer_opts po;
	shmbus_producer_opts_init(&po);
	po.source_id = 100 + (uint32_t)pa->idx;
	shmbus_producer *p = NULL;
	int rc = shmbus_producer_open(m->bus, &po, &p);
	TU_THREAD_CHECK(&m->fail, rc == 0);
	atomic_fetch_add(&m->ready, 1);
	while (rc == 0 && atomic_load(&m->ready) < NPROD)
		; /* start together: maximal contention */
	uint64_t rnd = po.source_id;
	for (uint64_t i = 1; rc == 0 && i <= m->per_producer; i++) {
		if (m->mode[pa->idx] == MODE_BATCH) {
			int64_t n =
			    publish_some(m, p, po.source_id, i, m->per_producer - i + 1, &rnd);
			if (n < 0) {
				rc = -1;
				break;
			}
			i += (uint64_t)n - 1;
			continue;
		}
		if (m->mode[pa->idx] == MODE_CLAIM) {
			void *mem;
			rc = shmbus_claim(p, SHMBUS_EV_TRADE, (uint32_t)(i % 13) + 1,
			                  sizeof(struct shmbus_trade), &mem);
			TU_THREAD_CHECK(&m->fail, rc == 0);
			if (rc != 0)
				break;
			struct shmbus_trade *t = mem;
			t->price = (double)tu_mix(po.source_id, i);
			t->size = (double)i;
			rc = shmbus_commit(p);
		} else {
			struct shmbus_trade t =
			    tu_trade((uint32_t)(i % 13) + 1, (double)tu_mix(po.source_id, i));
			t.size = (double)i;
			rc = shmbus_publish(p, &t);
		}
		TU_THREAD_CHECK(&m->fail, rc == 1);
		if (rc != 1) {
			fprintf(stderr, "producer %d: event %llu: %d\n", pa->idx,
			        (unsigned long long)i, rc);
			break;
		}
		rc = 0;
	}
	TU_THREAD_CHECK(&m->fail, rc != 0 || shmbus_producer_last_seq(p) == m->per_producer);
	if (rc != 0)
		atomic_store(&m->stop, 1);
	if (p)
		shmbus_producer_close(p);
	return NULL;
}

static void check_event(const struct shmbus_event_header *ev, void *ctx)
{
	struct mpsc *m = ctx;
	const struct shmbus_trade *t = (const void *)ev;
	m->total++;
	int idx = (int)ev->source_id - 100;
	if (idx < 0 || idx >= NPROD) {
		m->unknown_source++;
		return;
	}
	if (ev->seq != m->got[idx] + 1)
		m->out_of_order++;
	m->got[idx] = ev->seq;
	if (ev->type != SHMBUS_EV_TRADE || ev->size != sizeof *t ||
	    t->price != (double)tu_mix(ev->source_id, ev->seq) || t->size != (double)ev->seq ||
	    ev->symbol_id != (uint32_t)(ev->seq % 13) + 1)
		m->bad_payload++;
}

static void *consumer_thread(void *arg)
{
	struct mpsc *m = arg;
	uint64_t want = m->per_producer * NPROD;
	/* A stall, not slowness, is a failure: on a loaded machine the small
	 * rings progress at the scheduler's pace (a context switch per ring
	 * full), so the limit is on time without any event, not on the run. */
	int64_t end = tu_mono_ms() + STALL_MS;
	while (m->total < want && !atomic_load(&m->stop)) {
		if (shmbus_poll(m->c, check_event, m, 256) > 0) {
			end = tu_mono_ms() + STALL_MS;
			continue;
		}
		TU_THREAD_CHECK(&m->fail, tu_mono_ms() < end);
		if (tu_mono_ms() >= end) {
			/* Stalled. Detach, so that producers blocked on the
			 * full ring route around it and return (and fail)
			 * instead of hanging; m->c is not used after a fail. */
			shmbus_consumer_close(m->c);
			break;
		}
		int rc = shmbus_wait(m->c, 50000000);
		TU_THREAD_CHECK(&m->fail, rc == 0 || rc == SHMBUS_ETIMEDOUT);
	}
	return NULL;
}

/* shmbus-stat's view while the ring runs: every read must succeed. */
static void *stat_thread(void *arg)
{
	struct mpsc *m = arg;
	uint32_t ring = shmbus_consumer_ring(m->c);
	while (!atomic_load(&m->done)) {
		struct shmbus_ring_stat rs;
		int rc = shmbus_stat_ring(m->bus, ring, &rs);
		m->stat_reads++;
		if (rc != 0) {
			if (m->stat_errors++ == 0)
				fprintf(stderr, "stat: %s (%s)\n", shmbus_strerror(rc),
				        shmbus_errmsg());
		}
	}
	return NULL;
}

static void run_mpsc(uint32_t capacity, enum shmbus_wait_strategy wait, int mode0, int mode1)
{
	/* Per test, a last resort against a hang (a stall fails in the
	 * consumer): ~1 s unloaded, ~2 min for a small-ring run on
	 * a core shared with three busy processes. */
	alarm(600);
	struct mpsc m;
	memset(&m, 0, sizeof m);
	atomic_init(&m.fail, 0);
	atomic_init(&m.ready, 0);
	atomic_init(&m.stop, 0);
	m.per_producer = events_per_producer();
	m.mode[0] = mode0;
	m.mode[1] = mode1;
	assert_int_equal(tu_bus_create(NULL, 8, &m.bus), 0);
	struct shmbus_sub_opts so;
	tu_sub_opts(&so, capacity, 64, SHMBUS_POLICY_BLOCK);
	so.wait = wait;
	assert_int_equal(shmbus_subscribe(m.bus, "mpsc", &so, &m.c), 0);

	pthread_t cons, stat, prod[NPROD];
	struct prod_arg pa[NPROD];
	atomic_init(&m.done, 0);
	assert_int_equal(pthread_create(&stat, NULL, stat_thread, &m), 0);
	assert_int_equal(pthread_create(&cons, NULL, consumer_thread, &m), 0);
	for (int i = 0; i < NPROD; i++) {
		pa[i] = (struct prod_arg){.m = &m, .idx = i};
		assert_int_equal(pthread_create(&prod[i], NULL, producer_thread, &pa[i]), 0);
	}
	for (int i = 0; i < NPROD; i++)
		pthread_join(prod[i], NULL);
	pthread_join(cons, NULL);
	atomic_store(&m.done, 1);
	pthread_join(stat, NULL);

	assert_int_equal(atomic_load(&m.fail), 0);
	assert_true(m.stat_reads > 0);
	assert_int_equal(m.stat_errors, 0);
	assert_int_equal(m.unknown_source, 0);
	assert_int_equal(m.out_of_order, 0);
	assert_int_equal(m.bad_payload, 0);
	for (int i = 0; i < NPROD; i++)
		assert_int_equal(m.got[i], m.per_producer);
	assert_int_equal(m.total, m.per_producer * NPROD);
	/* nothing more arrives: no duplicate after the last event */
	assert_int_equal(shmbus_poll(m.c, check_event, &m, 256), 0);

	struct shmbus_ring_stat rs;
	assert_int_equal(shmbus_stat_ring(m.bus, shmbus_consumer_ring(m.c), &rs), 0);
	assert_int_equal(rs.delivered, m.per_producer * NPROD);
	assert_int_equal(rs.claimed, m.per_producer * NPROD);
	assert_int_equal(rs.dropped, 0);
	assert_int_equal(rs.skipped, 0);
	assert_int_equal(rs.depth, 0);
	shmbus_consumer_close(m.c);
	assert_int_equal(shmbus_bus_close(m.bus), 0);
}

/* Two publish() threads into a mid-size ring, default wait. */
static void test_ring_threads_mpsc_publish(void **state)
{
	run_mpsc(1024, SHMBUS_WAIT_ADAPTIVE, MODE_PUBLISH, MODE_PUBLISH);
}

/* publish() and claim/commit racing into a small ring: many full waits. */
static void test_ring_threads_mpsc_claim_small_ring(void **state)
{
	run_mpsc(16, SHMBUS_WAIT_ADAPTIVE, MODE_PUBLISH, MODE_CLAIM);
}

/* The futex path: the consumer sleeps at once whenever the ring is empty. */
static void test_ring_threads_mpsc_block_wait(void **state)
{
	run_mpsc(256, SHMBUS_WAIT_BLOCK, MODE_PUBLISH, MODE_CLAIM);
}

/* Batches racing publish() into a small ring: runs cut short by a full
 * ring, claims of other producers between a batch's runs. */
static void test_ring_threads_mpsc_batch_small_ring(void **state)
{
	run_mpsc(16, SHMBUS_WAIT_ADAPTIVE, MODE_BATCH, MODE_PUBLISH);
}

/* Two batch producers, consumer sleeping whenever empty: one wake check
 * per batch must never leave it asleep. */
static void test_ring_threads_mpsc_batch_block_wait(void **state)
{
	run_mpsc(256, SHMBUS_WAIT_BLOCK, MODE_BATCH, MODE_BATCH);
}

/* Threads of a fresh process (a forked child: the library's cache of its
 * own start time still holds the parent's pid) open one bus at once:
 * each computes and caches the start time. The cache was two plain
 * statics, a data race ThreadSanitizer reports (it makes the child exit
 * non-zero) and that could pair the child's pid with its parent's start
 * time, making the child's producers look dead. */
#define OPENERS 4
static void *open_close(void *arg)
{
	shmbus_bus *b;
	if (shmbus_bus_open((const char *)arg, "opener", SHMBUS_ROLE_CLIENT, &b) != 0)
		return (void *)1;
	shmbus_bus_close(b);
	return NULL;
}

static void test_ring_threads_open_at_once_in_a_child(void **state)
{
	(void)state;
	shmbus_bus *bus;
	assert_int_equal(tu_bus_create("thr-open", 4, &bus), 0);
	fflush(NULL);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		pthread_t th[OPENERS];
		for (int i = 0; i < OPENERS; i++)
			TU_CHILD_CHECK(pthread_create(&th[i], NULL, open_close, "thr-open") == 0);
		for (int i = 0; i < OPENERS; i++) {
			void *r;
			TU_CHILD_CHECK(pthread_join(th[i], &r) == 0 && r == NULL);
		}
		_exit(0);
	}
	int st;
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(tu_exited_ok(st));
	shmbus_bus_close(bus);
	shmbus_bus_destroy("thr-open");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    TU_TEST(test_ring_threads_open_at_once_in_a_child),
	    TU_TEST(test_ring_threads_mpsc_publish),
	    TU_TEST(test_ring_threads_mpsc_claim_small_ring),
	    TU_TEST(test_ring_threads_mpsc_block_wait),
	    TU_TEST(test_ring_threads_mpsc_batch_small_ring),
	    TU_TEST(test_ring_threads_mpsc_batch_block_wait),
	};
	return cmocka_run_group_tests_name("ring_threads", tests, NULL, NULL);
}
