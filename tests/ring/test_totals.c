/*
 * test_totals.c - the bus's producer totals (shmbus_stat_producer_totals):
 * summed over every producer the bus has had, so that they never go back.
 * They used to be sums over open producers only: a producer's close made
 * the bus's published total drop (shmbus-stat, and Prometheus read the drop
 * as a counter reset: a false spike in rate()).
 * - closed, dead, reaped and reused-dead producers all keep their counts;
 * - a reader beside threads that open, publish and close producers never
 *   sees a total go back (the move of a closing producer's counts is
 *   bracketed by a sequence word; TSan runs it);
 * - a mover that died mid-move (odd sequence left) is repaired by the
 *   next lock owner, and readers meanwhile get -EAGAIN, not a hang.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "ring/bus_internal.h"
#include "ring/layout.h"
#include "test_util.h"

static uint64_t published_total(const shmbus_bus *bus)
{
	struct shmbus_producer_stat t;
	int rc = shmbus_stat_producer_totals(bus, &t);
	if (rc != 0)
		fail_msg("totals: %s (%s)", shmbus_strerror(rc), shmbus_errmsg());
	return t.published;
}

/* Open a producer of source `src` (0: the pid's), publish n trades to the
 * bus's one ring, and close it unless keep. */
static shmbus_producer *publish_n(shmbus_bus *bus, uint32_t src, uint32_t sym, int n, int keep)
{
	struct shmbus_producer_opts po;
	shmbus_producer_opts_init(&po);
	po.source_id = src;
	shmbus_producer *p;
	assert_int_equal(shmbus_producer_open(bus, &po, &p), 0);
	struct shmbus_trade t = tu_trade(sym, 1.0);
	for (int i = 0; i < n; i++)
		assert_true(shmbus_publish(p, &t) >= 0);
	if (keep)
		return p;
	shmbus_producer_close(p);
	return NULL;
}

static void drain(shmbus_consumer *c)
{
	struct tu_sink s;
	tu_sink_init(&s, 4096);
	tu_drain(c, &s);
	tu_sink_free(&s);
}

static void test_totals_keep_closed_and_dead(void **state)
{
	(void)state;
	shmbus_bus *bus;
	assert_int_equal(tu_bus_create("tot", 4, &bus), 0);
	int64_t sym = shmbus_symbol_intern(bus, "IBM", 3);
	assert_true(sym > 0);
	struct shmbus_sub_opts so;
	tu_sub_opts(&so, 4096, 64, SHMBUS_POLICY_DROP);
	shmbus_consumer *c;
	assert_int_equal(shmbus_subscribe(bus, "r", &so, &c), 0);
	assert_int_equal(published_total(bus), 0);

	shmbus_producer *a = publish_n(bus, 0, (uint32_t)sym, 5, 1);
	assert_int_equal(published_total(bus), 5);
	shmbus_producer_close(a); /* closed: its 5 stay */
	assert_int_equal(published_total(bus), 5);
	publish_n(bus, 0, (uint32_t)sym, 3, 0);
	assert_int_equal(published_total(bus), 8);
	drain(c);

	/* a producer that dies without closing: counted while its entry is
	 * there, kept when the reaper frees it */
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		shmbus_bus *b;
		if (shmbus_bus_open("tot", "child", SHMBUS_ROLE_PRODUCER, &b) != 0)
			_exit(1);
		publish_n(b, 0, (uint32_t)sym, 7, 1);
		_exit(0); /* no close */
	}
	int st;
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(tu_exited_ok(st));
	assert_int_equal(published_total(bus), 15);
	assert_true(shmbus_bus_reap(bus) >= 0);
	assert_int_equal(published_total(bus), 15);
	drain(c);

	/* a dead producer's entry taken by a new producer of its source
	 * before any reap: its counts are kept too */
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		shmbus_bus *b;
		if (shmbus_bus_open("tot", "child2", SHMBUS_ROLE_PRODUCER, &b) != 0)
			_exit(1);
		publish_n(b, 4242, (uint32_t)sym, 11, 1);
		_exit(0);
	}
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(tu_exited_ok(st));
	assert_int_equal(published_total(bus), 26);
	shmbus_producer *d = publish_n(bus, 4242, (uint32_t)sym, 2, 1);
	struct shmbus_producer_stat ps;
	assert_true(tu_producer_stat(bus, 4242, getpid(), &ps) >= 0);
	assert_int_equal(ps.published, 2); /* its own slot starts from 0 */
	assert_int_equal(published_total(bus), 28);
	shmbus_producer_close(d);
	assert_int_equal(published_total(bus), 28);

	struct shmbus_producer_stat t;
	assert_int_equal(shmbus_stat_producer_totals(bus, &t), 0);
	assert_int_equal(t.delivered + t.dropped, 28); /* one ring took each */
	assert_int_equal(shmbus_stat_producer_totals(NULL, &t), -EINVAL);
	assert_int_equal(shmbus_stat_producer_totals(bus, NULL), -EINVAL);
	shmbus_consumer_close(c);
	assert_int_equal(shmbus_bus_close(bus), 0);
	assert_int_equal(shmbus_bus_destroy("tot"), 0);
}

/* A producer closed twice over (here: by a forked child that inherited
 * the handle, then by its owner; or by its owner after a reaper took it
 * for dead) moves its counts once: the second close finds the entry no
 * longer open and leaves the totals alone (they were counted twice). */
static void test_totals_close_twice_counts_once(void **state)
{
	(void)state;
	shmbus_bus *bus;
	assert_int_equal(tu_bus_create("tw", 4, &bus), 0);
	shmbus_producer *p = publish_n(bus, 0, 0, 5, 1);
	assert_int_equal(published_total(bus), 5);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		shmbus_producer_close(p);
		_exit(0);
	}
	int st;
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(tu_exited_ok(st));
	assert_int_equal(published_total(bus), 5);
	shmbus_producer_close(p);
	assert_int_equal(published_total(bus), 5);
	assert_int_equal(shmbus_bus_close(bus), 0);
	assert_int_equal(shmbus_bus_destroy("tw"), 0);
}

struct churn {
	shmbus_bus *bus;
	uint32_t sym;
	_Atomic int stop;
};

static void *churn_fn(void *arg)
{
	struct churn *ch = arg;
	for (int round = 0; !ch->stop && round < 3000; round++)
		publish_n(ch->bus, 0, ch->sym, 1 + round % 5, 0);
	ch->stop = 1;
	return NULL;
}

/* Totals read beside producers that open, publish and close: never back. */
static void test_totals_never_go_back(void **state)
{
	(void)state;
	struct churn ch = {0};
	assert_int_equal(tu_bus_create(NULL, 4, &ch.bus), 0);
	int64_t sym = shmbus_symbol_intern(ch.bus, "IBM", 3);
	assert_true(sym > 0);
	ch.sym = (uint32_t)sym;
	struct shmbus_sub_opts so;
	tu_sub_opts(&so, 64, 64, SHMBUS_POLICY_DROP);
	shmbus_consumer *c;
	assert_int_equal(shmbus_subscribe(ch.bus, "r", &so, &c), 0);
	pthread_t th[2];
	for (int i = 0; i < 2; i++)
		assert_int_equal(pthread_create(&th[i], NULL, churn_fn, &ch), 0);
	uint64_t last = 0, reads = 0;
	while (!ch.stop) {
		uint64_t now = published_total(ch.bus);
		if (now < last)
			fail_msg("published total went back from %llu to %llu after %llu reads",
			         (unsigned long long)last, (unsigned long long)now,
			         (unsigned long long)reads);
		last = now;
		reads++;
	}
	for (int i = 0; i < 2; i++)
		pthread_join(th[i], NULL);
	printf("# %llu reads, final total %llu\n", (unsigned long long)reads,
	       (unsigned long long)published_total(ch.bus));
	assert_true(published_total(ch.bus) >= last);
	shmbus_consumer_close(c);
	assert_int_equal(shmbus_bus_close(ch.bus), 0);
}

/* A mover killed mid-move leaves the sequence odd: readers return -EAGAIN
 * after a bounded wait, never hang (the next lock owner that finds the
 * lock's owner dead makes it even again, in repair_after_owner_death()). */
static void test_totals_mover_died(void **state)
{
	(void)state;
	shmbus_bus *bus;
	assert_int_equal(tu_bus_create("mv", 4, &bus), 0);
	publish_n(bus, 0, 0, 0, 0);
	struct sb *sb = bus->sb;
	atomic_fetch_add(&sb->retire_seq, 1); /* as if a mover died here */
	struct shmbus_producer_stat t;
	assert_int_equal(shmbus_stat_producer_totals(bus, &t), -EAGAIN);
	assert_non_null(strstr(shmbus_errmsg(), "died"));
	atomic_fetch_add(&sb->retire_seq, 1);
	assert_int_equal(shmbus_stat_producer_totals(bus, &t), 0);
	assert_int_equal(shmbus_bus_close(bus), 0);
	assert_int_equal(shmbus_bus_destroy("mv"), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    TU_TEST(test_totals_keep_closed_and_dead),
	    TU_TEST(test_totals_close_twice_counts_once),
	    TU_TEST(test_totals_never_go_back),
	    TU_TEST(test_totals_mover_died),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
