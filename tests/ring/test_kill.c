/*
 * test_kill.c - processes killed mid-operation.
 *
 * (a) A producer process claims a slot and is SIGKILLed before commit.
 *     While it is only stopped the consumer must not skip its slot; once
 *     it is dead the consumer skips it (counted once) and receives every
 *     event of a second, live producer process.
 * (a') The same for a batch: the producer is stopped (by the library's
 *     test hook) after committing the first event of a claimed run of 8,
 *     then SIGKILLed: the consumer gets that first event, skips the other
 *     7 claimed slots (counted 7) and goes on with the live producer.
 * (a'') The same when the dead claimer's entry was reaped, or then taken
 *     by a new producer: still skipped at once, not after stuck_timeout.
 * (a''') The same when the dead claimer's pid was given to another process
 *     (forged): its entry's start time says it is dead, to stat, the
 *     consumer, the reaper, a new producer of its source and of its
 *     single-producer ring.
 * (b) A consumer process is SIGKILLed while producers publish into its
 *     `block` ring. The producers must not stall: they detect the death
 *     and route around the ring (counted). The ring shows ORPHANED; a new
 *     consumer re-subscribes it, gets what the ring still held and what is
 *     published after, and the counters add up exactly.
 * (c) A consumer process whose main thread exited while its consumer
 *     thread runs on looks like a zombie in /proc: it is alive, its ring
 *     is neither orphaned nor routed around until its last thread ends.
 * (d) A process dies interning a symbol, after its entry is ready and
 *     before it is counted: the next locker recounts, the name keeps its
 *     id, and shmbus_symbol_count() matches the table.
 *
 * The parent reaps a killed child at once: a zombie is still a process.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <pthread.h>

#include "ring/test_util.h"
#include "ring/bus_internal.h" /* ring_test_hook */

#define SRC_DEAD 501u
#define SRC_LIVE 502u

static pid_t fork_or_fail(void)
{
	fflush(NULL);
	pid_t pid = fork();
	assert_true(pid >= 0);
	return pid;
}

/* Child: attach, make a producer with source `src`. */
static shmbus_producer *child_producer(const char *who, uint32_t src, shmbus_bus **bus)
{
	alarm(120);
	TU_CHILD_CHECK(shmbus_bus_open("kill", who, SHMBUS_ROLE_PRODUCER, bus) == 0);
	struct shmbus_producer_opts po;
	shmbus_producer_opts_init(&po);
	po.source_id = src;
	shmbus_producer *p;
	TU_CHILD_CHECK(shmbus_producer_open(*bus, &po, &p) == 0);
	return p;
}

/* Child: publish n trades from source src, then write n to report_fd. */
static void publisher_main(const char *who, uint32_t src, uint64_t n, int go_fd, int report_fd)
{
	shmbus_bus *bus;
	shmbus_producer *p = child_producer(who, src, &bus);
	char c;
	if (go_fd >= 0)
		TU_CHILD_CHECK(tu_read_all(go_fd, &c, 1, 60000) == 0);
	uint64_t delivered = 0;
	for (uint64_t i = 1; i <= n; i++) {
		struct shmbus_trade t = tu_trade(1, (double)i);
		int rc = shmbus_publish(p, &t);
		TU_CHILD_CHECK(rc == 0 || rc == 1);
		delivered += (uint64_t)rc;
	}
	uint64_t rep[2] = {n, delivered};
	TU_CHILD_CHECK(tu_write_all(report_fd, rep, sizeof rep) == 0);
	shmbus_producer_close(p);
	shmbus_bus_close(bus);
	_exit(0);
}

static int wait_stopped(pid_t pid, int timeout_ms)
{
	int64_t end = tu_mono_ms() + timeout_ms;
	int st;
	while (tu_mono_ms() < end) {
		pid_t r = waitpid(pid, &st, WUNTRACED | WNOHANG);
		if (r == pid)
			return WIFSTOPPED(st) ? 0 : -1;
		tu_sleep_us(1000);
	}
	return -ETIMEDOUT;
}

/* The victim is stopped: fork a live publisher of n events (reporting on
 * rep_fd) and poll the ring into *s for 300 ms. Returns its pid. */
static pid_t start_live_and_watch(shmbus_consumer *c, int rep_fd, uint64_t n, struct tu_sink *s)
{
	pid_t live = fork_or_fail();
	if (live == 0)
		publisher_main("live", SRC_LIVE, n, -1, rep_fd);
	tu_sink_init(s, n + 16);
	int64_t end = tu_mono_ms() + 300;
	while (tu_mono_ms() < end)
		if (shmbus_poll(c, tu_sink_fn, s, 64) == 0)
			shmbus_wait(c, 1000000);
	return live;
}

/* SIGKILL the stopped victim, then receive until `want` events are in *s,
 * and check that the live publisher delivered all its n events. */
static void kill_and_collect(pid_t dead, pid_t live, shmbus_consumer *c, int rep_fd, uint64_t n,
			     uint64_t want, struct tu_sink *s)
{
	kill(dead, SIGKILL);
	int st;
	assert_int_equal(waitpid(dead, &st, 0), dead);
	tu_poll_until(c, s, want, 30000);
	uint64_t report[2] = {0, 0};
	int rrc = tu_read_all(rep_fd, report, sizeof report, 30000);
	int wrc = tu_wait_child(live, 30000, &st);
	assert_int_equal(rrc, 0);
	assert_int_equal(wrc, 0);
	assert_true(tu_exited_ok(st));
	assert_int_equal(report[0], n);
	assert_int_equal(report[1], n);
	tu_drain(c, s);
}

/* Bus "kill" (*bus) with ring "victim" (1024 slots of 64 bytes, block)
 * subscribed: its consumer. stuck_ns: the stuck timeout (0: the default;
 * VICTIM_NO_TIMEOUT when a skip must come from finding the claimer dead,
 * never from the timeout); flags: SHMBUS_SUB_* of the ring. */
#define VICTIM_NO_TIMEOUT (INT64_C(600) * 1000000000)
static shmbus_consumer *victim_open(shmbus_bus **bus, int64_t stuck_ns, uint32_t flags)
{
	assert_int_equal(tu_bus_create("kill", 8, bus), 0);
	struct shmbus_sub_opts so;
	tu_sub_opts(&so, 1024, 64, SHMBUS_POLICY_BLOCK);
	if (stuck_ns)
		so.stuck_timeout_ns = stuck_ns;
	so.flags = flags;
	shmbus_consumer *c;
	assert_int_equal(shmbus_subscribe(*bus, "victim", &so, &c), 0);
	return c;
}

/* A child claims a slot of ring "victim" as source SRC_DEAD and stops
 * before it commits; returns its pid once it is stopped. */
static pid_t claimer_stopped(void)
{
	int claimed[2];
	assert_int_equal(pipe(claimed), 0);
	pid_t pid = fork_or_fail();
	if (pid == 0) {
		shmbus_bus *cb;
		shmbus_producer *p = child_producer("claimer", SRC_DEAD, &cb);
		void *mem;
		TU_CHILD_CHECK(shmbus_claim(p, SHMBUS_EV_TRADE, 1, 56, &mem) == 0);
		TU_CHILD_CHECK(tu_write_all(claimed[1], "c", 1) == 0);
		raise(SIGSTOP);
		_exit(0); /* never reached: killed while stopped */
	}
	char ch;
	assert_int_equal(tu_read_all(claimed[0], &ch, 1, 20000), 0);
	assert_int_equal(wait_stopped(pid, 20000), 0);
	close(claimed[0]);
	close(claimed[1]);
	return pid;
}

/* (a) A claimer dies between claim and commit: skipped once, no loss. */
static void test_kill_producer_mid_claim(void **state)
{
	enum { N = 5000 };
	shmbus_bus *bus;
	shmbus_consumer *c = victim_open(&bus, 0, 0);
	int rep[2];
	assert_int_equal(pipe(rep), 0);
	pid_t dead = claimer_stopped();

	/* claimer alive (stopped): its slot heads the ring and is not skipped */
	struct tu_sink s;
	pid_t live = start_live_and_watch(c, rep[1], N, &s);
	assert_int_equal(s.n, 0);
	struct shmbus_ring_stat rs;
	assert_int_equal(tu_ring_stat(bus, "victim", &rs), 0);
	assert_int_equal(rs.skipped, 0);
	assert_true(rs.claimed >= 1);

	kill_and_collect(dead, live, c, rep[0], N, N, &s);
	assert_int_equal(s.n, N);
	for (size_t i = 0; i < s.n; i++) {
		assert_int_equal(s.ev[i].h.source_id, SRC_LIVE);
		assert_int_equal(s.ev[i].h.seq, i + 1);
	}
	assert_int_equal(tu_ring_stat(bus, "victim", &rs), 0);
	assert_int_equal(rs.skipped, 1);
	assert_int_equal(rs.delivered, N);
	assert_int_equal(rs.depth, 0);
	assert_int_equal(rs.claimed, N + 1);
	tu_sink_free(&s);
	shmbus_consumer_close(c);
	close(rep[0]);
	close(rep[1]);
	assert_int_equal(shmbus_bus_close(bus), 0);
}

static int hook_fd = -1;

/* In the batch publisher: say so, then stop mid-run (claimed, not committed). */
static void stop_mid_run(enum ring_hook where)
{
	if (where != RING_HOOK_MID_RUN)
		return;
	if (write(hook_fd, "h", 1) != 1)
		_exit(TU_CHILD_FAIL);
	raise(SIGSTOP);
}

/* (a') A batch publisher dies inside a claimed run: each slot of the run
 * after the committed first is skipped once, no other event is lost. */
static void test_kill_producer_mid_batch(void **state)
{
	enum { N = 5000, RUN = 8 };
	shmbus_bus *bus;
	/* Skips must come from finding the dead claimer of each slot of the
	 * run, not from the timeout for slots whose claimer is unknown. */
	shmbus_consumer *c = victim_open(&bus, VICTIM_NO_TIMEOUT, 0);
	int hooked[2], rep[2];
	assert_int_equal(pipe(hooked), 0);
	assert_int_equal(pipe(rep), 0);

	pid_t dead = fork_or_fail();
	if (dead == 0) {
		shmbus_bus *cb;
		shmbus_producer *p = child_producer("batcher", SRC_DEAD, &cb);
		struct shmbus_trade t[RUN];
		const void *evs[RUN];
		for (int i = 0; i < RUN; i++) {
			t[i] = tu_trade(1, 100.0 + i);
			evs[i] = &t[i];
		}
		hook_fd = hooked[1];
		ring_test_hook = stop_mid_run;
		shmbus_publish_batch(p, evs, RUN);
		_exit(0); /* never reached: killed while stopped */
	}
	char ch;
	assert_int_equal(tu_read_all(hooked[0], &ch, 1, 20000), 0);
	assert_int_equal(wait_stopped(dead, 20000), 0);

	/* the batcher is alive (stopped): its first event is there, the rest
	 * of its run heads the ring and is not skipped */
	struct tu_sink s;
	pid_t live = start_live_and_watch(c, rep[1], N, &s);
	assert_int_equal(s.n, 1);
	assert_int_equal(s.ev[0].h.source_id, SRC_DEAD);
	assert_int_equal(s.ev[0].h.seq, 1);
	struct shmbus_trade first;
	memcpy(&first, s.ev[0].bytes, sizeof first);
	assert_true(first.price == 100.0);
	struct shmbus_ring_stat rs;
	assert_int_equal(tu_ring_stat(bus, "victim", &rs), 0);
	assert_int_equal(rs.skipped, 0);
	assert_true(rs.claimed >= RUN);

	kill_and_collect(dead, live, c, rep[0], N, N + 1, &s);
	assert_int_equal(s.n, N + 1);
	for (size_t i = 1; i < s.n; i++) {
		assert_int_equal(s.ev[i].h.source_id, SRC_LIVE);
		assert_int_equal(s.ev[i].h.seq, i);
	}
	assert_int_equal(tu_ring_stat(bus, "victim", &rs), 0);
	assert_int_equal(rs.skipped, RUN - 1);
	assert_int_equal(rs.delivered, N + 1);
	assert_int_equal(rs.depth, 0);
	assert_int_equal(rs.claimed, N + RUN);
	tu_sink_free(&s);
	shmbus_consumer_close(c);
	close(hooked[0]);
	close(hooked[1]);
	close(rep[0]);
	close(rep[1]);
	assert_int_equal(shmbus_bus_close(bus), 0);
}

/* A child that claimed a slot of ring "victim" as source SRC_DEAD is
 * SIGKILLed before it commits (claimer_stopped()); returns its pid once it
 * is dead and gone. */
static pid_t claimer_killed(void)
{
	pid_t dead = claimer_stopped();
	kill(dead, SIGKILL);
	int st;
	assert_int_equal(waitpid(dead, &st, 0), dead);
	return dead;
}

/*
 * (a'') The dead claimer's producer entry was freed by a reap, or then
 * taken by a new producer (its source restarted): the claimer is gone all
 * the same, and its slot is skipped at once, as a dead one's. It waited
 * for stuck_timeout instead (600 s here), the claim record no longer
 * being in an open entry. shmbus_stat_ring() names the claimer meanwhile,
 * as for one dead with its entry open.
 */
static void check_reaped_claimer_skipped(bool reuse)
{
	shmbus_bus *bus;
	shmbus_consumer *c = victim_open(&bus, VICTIM_NO_TIMEOUT, 0);
	pid_t dead = claimer_killed();
	assert_true(shmbus_bus_reap(bus) >= 0);
	struct shmbus_producer_stat ps;
	assert_int_equal(tu_producer_stat(bus, SRC_DEAD, 0, &ps), -ENOENT); /* freed */
	/* stat names the claimer the consumer is about to skip (it said 0) */
	struct shmbus_ring_stat rs;
	assert_int_equal(tu_ring_stat(bus, "victim", &rs), 0);
	assert_int_equal(rs.head_stuck_pid, dead);
	struct shmbus_producer_opts po;
	shmbus_producer_opts_init(&po);
	po.source_id = reuse ? SRC_DEAD : SRC_LIVE;
	shmbus_producer *p;
	assert_int_equal(shmbus_producer_open(bus, &po, &p), 0);
	assert_int_equal(tu_ring_stat(bus, "victim", &rs), 0);
	assert_int_equal(rs.head_stuck_pid, dead);
	struct shmbus_trade t = tu_trade(1, 1.0);
	assert_int_equal(shmbus_publish(p, &t), 1);
	struct tu_sink s;
	tu_sink_init(&s, 4);
	tu_poll_until(c, &s, 1, 20000);
	if (s.n != 1)
		fail_msg("entry %s: the dead claimer's slot still heads the ring after 20 s",
			 reuse ? "reused" : "reaped");
	assert_int_equal(s.ev[0].h.source_id, po.source_id);
	assert_int_equal(tu_ring_stat(bus, "victim", &rs), 0);
	assert_int_equal(rs.skipped, 1);
	assert_int_equal(rs.head_stuck_pid, 0);
	assert_int_equal(rs.delivered, 1);
	assert_int_equal(rs.depth, 0);
	tu_sink_free(&s);
	shmbus_producer_close(p);
	shmbus_consumer_close(c);
	assert_int_equal(shmbus_bus_close(bus), 0);
}

static void test_kill_producer_mid_claim_reaped(void **state)
{
	check_reaped_claimer_skipped(false);
}

static void test_kill_producer_mid_claim_entry_reused(void **state)
{
	check_reaped_claimer_skipped(true);
}

/*
 * A claimer of ring "victim" (claimer_stopped()) SIGKILLed, whose pid the
 * kernel then gave to another process before its entry was reaped: forged
 * here, the entry's pid set to that of a live child started earlier (in
 * *other; other_end() ends it). Returns the dead producer's entry.
 */
static uint32_t claimer_pid_reused(shmbus_bus *bus, pid_t *other)
{
	*other = fork_or_fail();
	if (*other == 0) {
		alarm(120);
		for (;;)
			pause();
	}
	tu_sleep_us(50000); /* start times count clock ticks: the claimer's is later */
	pid_t dead = claimer_stopped();
	assert_true(proc_start_time(dead) != proc_start_time(*other));
	struct shmbus_producer_stat ps;
	int idx = tu_producer_stat(bus, SRC_DEAD, dead, &ps);
	assert_true(idx >= 0);
	kill(dead, SIGKILL);
	int st;
	assert_int_equal(waitpid(dead, &st, 0), dead);
	bus->prods[idx].pid = *other;
	return (uint32_t)idx;
}

static void other_end(pid_t other)
{
	kill(other, SIGKILL);
	assert_int_equal(waitpid(other, NULL, 0), other);
}

/*
 * (a''') The dead claimer's pid belongs to a live process now: by its pid
 * alone it looked alive, to stat (alive, a feeder of the ring), to the
 * consumer (its slot waited for stuck_timeout, 600 s here) and to
 * shmbus_bus_reap() (its entry kept). Its entry's start time tells.
 */
static void test_kill_producer_pid_reused(void **state)
{
	shmbus_bus *bus;
	shmbus_consumer *c = victim_open(&bus, VICTIM_NO_TIMEOUT, 0);
	pid_t other;
	uint32_t idx = claimer_pid_reused(bus, &other);

	struct shmbus_producer_stat ps;
	assert_int_equal(shmbus_stat_producer(bus, idx, &ps), 0);
	assert_int_equal(ps.pid, other);
	assert_false(ps.alive);
	struct shmbus_ring_stat rs;
	assert_int_equal(tu_ring_stat(bus, "victim", &rs), 0);
	assert_int_equal(rs.producers, 0);
	assert_int_equal(shmbus_stat_ring_fed_by(bus, rs.index, idx), 0);
	assert_int_equal(rs.head_stuck_pid, other);

	/* its slot is skipped at once */
	struct shmbus_producer_opts po;
	shmbus_producer_opts_init(&po);
	po.source_id = SRC_LIVE;
	shmbus_producer *p;
	assert_int_equal(shmbus_producer_open(bus, &po, &p), 0);
	struct shmbus_trade t = tu_trade(1, 1.0);
	assert_int_equal(shmbus_publish(p, &t), 1);
	struct tu_sink s;
	tu_sink_init(&s, 4);
	tu_poll_until(c, &s, 1, 5000);
	if (s.n != 1)
		fail_msg("the dead claimer's slot still heads the ring after 5 s");
	assert_int_equal(s.ev[0].h.source_id, SRC_LIVE);
	assert_int_equal(tu_ring_stat(bus, "victim", &rs), 0);
	assert_int_equal(rs.skipped, 1);

	/* and its entry is reaped */
	assert_true(shmbus_bus_reap(bus) >= 0);
	assert_int_equal(shmbus_stat_producer(bus, idx, &ps), -ENOENT);
	other_end(other);
	tu_sink_free(&s);
	shmbus_producer_close(p);
	shmbus_consumer_close(c);
	assert_int_equal(shmbus_bus_close(bus), 0);
}

/*
 * The same for the dead producer's source, held by no one, and for the
 * single-producer ring it owned, which another producer takes: by pid
 * alone the source was refused (SHMBUS_EBUSY) and the ring routed around.
 */
static void test_kill_producer_pid_reused_owns_nothing(void **state)
{
	shmbus_bus *bus;
	shmbus_consumer *c = victim_open(&bus, 0, SHMBUS_SUB_SINGLE_PRODUCER);
	pid_t other;
	claimer_pid_reused(bus, &other);

	struct shmbus_producer_opts po;
	shmbus_producer_opts_init(&po);
	po.source_id = SRC_LIVE;
	shmbus_producer *p;
	assert_int_equal(shmbus_producer_open(bus, &po, &p), 0);
	struct shmbus_trade t = tu_trade(1, 1.0);
	assert_int_equal(shmbus_publish(p, &t), 1); /* the ring is its now */
	struct tu_sink s;
	tu_sink_init(&s, 4);
	tu_poll_until(c, &s, 1, 5000);
	assert_int_equal(s.n, 1);
	assert_int_equal(s.ev[0].h.source_id, SRC_LIVE);
	shmbus_producer_close(p);

	po.source_id = SRC_DEAD;
	int rc = shmbus_producer_open(bus, &po, &p);
	if (rc != 0)
		fail_msg("source %u of a dead producer: %s (%s)", SRC_DEAD, shmbus_strerror(rc),
			 shmbus_errmsg());
	assert_int_equal(shmbus_producer_source(p), SRC_DEAD);
	other_end(other);
	tu_sink_free(&s);
	shmbus_producer_close(p);
	shmbus_consumer_close(c);
	assert_int_equal(shmbus_bus_close(bus), 0);
}

/* Consumer child: subscribe, say ready, take exactly `take` events, say
 * how many, then stop consuming (the ring fills) until killed. */
static void doomed_consumer_main(uint32_t capacity, uint64_t take, int ready_fd)
{
	alarm(120);
	shmbus_bus *bus;
	TU_CHILD_CHECK(shmbus_bus_open("kill", "doomed", SHMBUS_ROLE_CONSUMER, &bus) == 0);
	struct shmbus_sub_opts so;
	tu_sub_opts(&so, capacity, 64, SHMBUS_POLICY_BLOCK);
	shmbus_consumer *c;
	TU_CHILD_CHECK(shmbus_subscribe(bus, "orphan", &so, &c) == 0);
	TU_CHILD_CHECK(tu_write_all(ready_fd, "r", 1) == 0);
	struct tu_sink s;
	tu_sink_init(&s, take);
	while (s.n < take) {
		if (shmbus_poll(c, tu_sink_fn, &s, (unsigned)(take - s.n)) == 0)
			shmbus_wait(c, 10000000);
	}
	TU_CHILD_CHECK(tu_write_all(ready_fd, &s.n, sizeof s.n) == 0);
	for (;;)
		pause();
}

/* A new consumer re-subscribes the orphaned ring: it gets the `left`
 * held events first, then m events a new producer publishes after. */
static void resume_orphan(shmbus_bus *bus, uint32_t cap, uint64_t take, uint64_t left,
                          uint64_t routed, uint64_t m)
{
	struct shmbus_sub_opts so;
	tu_sub_opts(&so, cap, 64, SHMBUS_POLICY_BLOCK);
	shmbus_consumer *c;
	assert_int_equal(shmbus_subscribe(bus, "orphan", &so, &c), 0);
	struct shmbus_ring_stat rs;
	assert_int_equal(tu_ring_stat(bus, "orphan", &rs), 0);
	assert_int_equal(rs.state, SHMBUS_RING_ACTIVE);
	int rep3[2];
	assert_int_equal(pipe(rep3), 0);
	pid_t late = fork_or_fail();
	if (late == 0)
		publisher_main("pub2", SRC_DEAD + 2, m, -1, rep3[1]);
	struct tu_sink s;
	tu_sink_init(&s, (size_t)(left + m + 16));
	tu_poll_until(c, &s, left + m, 30000);
	uint64_t r3[2] = {0, 0};
	int rrc = tu_read_all(rep3[0], r3, sizeof r3, 30000);
	int st;
	int wrc = tu_wait_child(late, 30000, &st);
	assert_int_equal(rrc, 0);
	assert_int_equal(wrc, 0);
	assert_true(tu_exited_ok(st));
	tu_drain(c, &s);
	assert_int_equal(s.n, left + m);
	uint64_t old = 0, fresh = 0, last_old[2] = {0, 0}, last_fresh = 0;
	for (size_t i = 0; i < s.n; i++) {
		const struct shmbus_event_header *h = &s.ev[i].h;
		if (h->source_id == SRC_DEAD + 2) {
			fresh++;
			assert_int_equal(h->seq, last_fresh + 1);
			last_fresh = h->seq;
		} else {
			uint32_t k = h->source_id - SRC_DEAD;
			assert_true(k < 2);
			assert_int_equal(fresh, 0); /* held events come first */
			assert_true(h->seq > last_old[k]);
			last_old[k] = h->seq;
			old++;
		}
	}
	assert_int_equal(old, left);
	assert_int_equal(fresh, m);
	assert_int_equal(r3[1], m);
	close(rep3[0]);
	close(rep3[1]);
	assert_int_equal(tu_ring_stat(bus, "orphan", &rs), 0);
	assert_int_equal(rs.delivered, take + left + m);
	assert_int_equal(rs.routed_around, routed);
	tu_sink_free(&s);
	shmbus_consumer_close(c);
}

/* (b) A consumer killed under `block`: producers go on, the ring is
 * orphaned, a new consumer resumes it and every event is accounted for. */
static void test_kill_consumer_routed_around(void **state)
{
	enum { N = 20000, TAKE = 1000, CAP = 64, M = 500 };
	shmbus_bus *bus;
	assert_int_equal(tu_bus_create("kill", 8, &bus), 0);
	int ready[2], go[2], rep[2][2];
	assert_int_equal(pipe(ready), 0);
	assert_int_equal(pipe(go), 0);
	pid_t cons = fork_or_fail();
	if (cons == 0)
		doomed_consumer_main(CAP, TAKE, ready[1]);
	char ch;
	assert_int_equal(tu_read_all(ready[0], &ch, 1, 20000), 0);

	pid_t prod[2];
	for (int i = 0; i < 2; i++) {
		assert_int_equal(pipe(rep[i]), 0);
		prod[i] = fork_or_fail();
		if (prod[i] == 0)
			publisher_main(i ? "pub1" : "pub0", SRC_DEAD + (uint32_t)i, N, go[0],
			               rep[i][1]);
	}
	/* Both producers attached before anything dies (attaching takes a
	 * dead participant's entry only when no free or departed one is
	 * left, but the check of that entry below should not depend on the
	 * table's size). */
	struct shmbus_participant_stat pst;
	int64_t until = tu_mono_ms() + 20000;
	while ((tu_participant_stat(bus, prod[0], "pub0", &pst) < 0 ||
	        tu_participant_stat(bus, prod[1], "pub1", &pst) < 0) &&
	       tu_mono_ms() < until)
		tu_sleep_us(1000);
	assert_true(tu_participant_stat(bus, prod[0], "pub0", &pst) >= 0);
	assert_true(tu_participant_stat(bus, prod[1], "pub1", &pst) >= 0);
	assert_int_equal(tu_write_all(go[1], "gg", 2), 0);
	uint64_t took = 0;
	assert_int_equal(tu_read_all(ready[0], &took, sizeof took, 30000), 0);
	assert_int_equal(took, TAKE);
	/* let the producers fill the ring and block on it, then kill */
	int64_t end = tu_mono_ms() + 5000;
	struct shmbus_ring_stat rs;
	do {
		tu_sleep_us(2000);
		assert_int_equal(tu_ring_stat(bus, "orphan", &rs), 0);
	} while (rs.depth < CAP && tu_mono_ms() < end);
	kill(cons, SIGKILL);
	int st;
	assert_int_equal(waitpid(cons, &st, 0), cons);

	/* the producers finish on their own (no reap from us first) */
	uint64_t r[2][2];
	for (int i = 0; i < 2; i++) {
		int rrc = tu_read_all(rep[i][0], r[i], sizeof r[i], 30000);
		int wrc = tu_wait_child(prod[i], 30000, &st);
		if (rrc != 0 || wrc != 0)
			fail_msg("producer %d stalled after its consumer died", i);
		assert_true(tu_exited_ok(st));
		assert_int_equal(r[i][0], N);
	}
	assert_int_equal(tu_ring_stat(bus, "orphan", &rs), 0);
	assert_int_equal(rs.state, SHMBUS_RING_ORPHANED);
	assert_int_equal(rs.consumer_alive, 0);
	assert_true(rs.routed_around > 0);
	assert_int_equal(rs.delivered, TAKE);
	assert_int_equal(rs.dropped, 0);
	uint64_t left = rs.depth, routed = rs.routed_around;
	print_message("consumer died after %d: %llu left in ring, %llu routed around\n", TAKE,
	              (unsigned long long)left, (unsigned long long)routed);
	assert_int_equal(TAKE + left + routed, 2 * N);
	assert_int_equal(r[0][1] + r[1][1], TAKE + left);
	struct shmbus_participant_stat ps;
	if (tu_participant_stat(bus, cons, "doomed", &ps) < 0) {
		for (uint32_t i = 0; shmbus_stat_participant(bus, i, &ps) != -ERANGE; i++)
			if (shmbus_stat_participant(bus, i, &ps) == 0)
				print_message("participant %u: %s pid %d state %d alive %d\n", i,
					      ps.name, (int)ps.pid, (int)ps.state, ps.alive);
		fail_msg("the dead consumer (pid %d) is not in the participants table", (int)cons);
	}
	assert_int_equal(ps.alive, 0);
	assert_true(shmbus_bus_reap(bus) >= 0);

	resume_orphan(bus, CAP, TAKE, left, routed, M);
	int fds[] = {ready[0], ready[1], go[0], go[1], rep[0][0], rep[0][1], rep[1][0], rep[1][1]};
	for (size_t i = 0; i < sizeof fds / sizeof fds[0]; i++)
		close(fds[i]);
	assert_int_equal(shmbus_bus_close(bus), 0);
}

/* ---- A consumer whose main thread exited, its other threads running ---- */

struct zl_thread {
	shmbus_consumer *c;
	uint64_t want;
	int go_fd, report_fd;
};

/* Waits for the go byte, drains `want` events, reports, and returns: the
 * process ends with this, its last thread. */
static void *zl_drain(void *arg)
{
	struct zl_thread *z = arg;
	char ch;
	TU_CHILD_CHECK(tu_read_all(z->go_fd, &ch, 1, 60000) == 0);
	struct tu_sink s;
	tu_sink_init(&s, z->want);
	while (s.n < z->want)
		if (shmbus_poll(z->c, tu_sink_fn, &s, (unsigned)(z->want - s.n)) == 0)
			shmbus_wait(z->c, 10000000);
	TU_CHILD_CHECK(tu_write_all(z->report_fd, &s.n, sizeof s.n) == 0);
	return NULL;
}

static void zl_consumer_main(uint32_t capacity, uint64_t want, int ready_fd, int go_fd,
                             int report_fd)
{
	alarm(120);
	static struct zl_thread z;
	shmbus_bus *bus;
	TU_CHILD_CHECK(shmbus_bus_open("kill", "zl", SHMBUS_ROLE_CONSUMER, &bus) == 0);
	struct shmbus_sub_opts so;
	tu_sub_opts(&so, capacity, 64, SHMBUS_POLICY_BLOCK);
	TU_CHILD_CHECK(shmbus_subscribe(bus, "zl", &so, &z.c) == 0);
	z.want = want;
	z.go_fd = go_fd;
	z.report_fd = report_fd;
	pthread_t t;
	TU_CHILD_CHECK(pthread_create(&t, NULL, zl_drain, &z) == 0);
	TU_CHILD_CHECK(tu_write_all(ready_fd, "r", 1) == 0);
	pthread_exit(NULL); /* the leader shows Z from now on */
}

/* State letter of /proc/<pid>/stat, or 0. */
static char proc_state(pid_t pid)
{
	char path[64], buf[512];
	snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
	FILE *f = fopen(path, "r");
	if (!f)
		return 0;
	size_t n = fread(buf, 1, sizeof buf - 1, f);
	fclose(f);
	buf[n] = '\0';
	const char *p = strrchr(buf, ')');
	return p && p[1] == ' ' ? p[2] : 0;
}

/*
 * A consumer process whose main thread called pthread_exit() while its
 * consumer thread runs on: /proc shows its leader as a zombie, yet it is
 * alive. A reap and a producer blocked on its full ring must not take it
 * for dead (they did: its ring was orphaned and every event routed
 * around). Once its last thread returns it is dead and reaped.
 */
static void test_kill_consumer_leader_exited(void **state)
{
	(void)state;
	enum { CAP = 64, N = 4 * CAP };
	shmbus_bus *bus;
	assert_int_equal(tu_bus_create("kill", 8, &bus), 0);
	int ready[2], go[2], crep[2], prep[2];
	assert_int_equal(pipe(ready), 0);
	assert_int_equal(pipe(go), 0);
	assert_int_equal(pipe(crep), 0);
	assert_int_equal(pipe(prep), 0);
	pid_t cons = fork_or_fail();
	if (cons == 0)
		zl_consumer_main(CAP, N, ready[1], go[0], crep[1]);
	char ch;
	assert_int_equal(tu_read_all(ready[0], &ch, 1, 20000), 0);
	int64_t end = tu_mono_ms() + 10000;
	while (proc_state(cons) != 'Z' && tu_mono_ms() < end)
		tu_sleep_us(1000);
	assert_int_equal(proc_state(cons), 'Z');

	assert_int_equal(shmbus_bus_reap(bus), 0);
	struct shmbus_ring_stat rs;
	assert_int_equal(tu_ring_stat(bus, "zl", &rs), 0);
	assert_int_equal(rs.state, SHMBUS_RING_ACTIVE);
	assert_int_equal(rs.consumer_alive, 1);

	/* a producer fills the ring and blocks on it while the consumer
	 * thread waits for the go byte, then everything arrives */
	pid_t prod = fork_or_fail();
	if (prod == 0)
		publisher_main("zlpub", SRC_LIVE, N, -1, prep[1]);
	end = tu_mono_ms() + 10000;
	do {
		tu_sleep_us(2000);
		assert_int_equal(tu_ring_stat(bus, "zl", &rs), 0);
	} while (rs.depth < CAP && tu_mono_ms() < end);
	assert_int_equal(rs.depth, CAP);
	tu_sleep_us(200000); /* the producer keeps finding the ring full */
	assert_int_equal(tu_write_all(go[1], "g", 1), 0);
	uint64_t got = 0, rep[2] = {0, 0};
	int st;
	assert_int_equal(tu_read_all(crep[0], &got, sizeof got, 30000), 0);
	assert_int_equal(tu_read_all(prep[0], rep, sizeof rep, 30000), 0);
	assert_int_equal(tu_wait_child(prod, 30000, &st), 0);
	assert_true(tu_exited_ok(st));
	assert_int_equal(got, N);
	assert_int_equal(rep[0], N);
	assert_int_equal(rep[1], N);
	assert_int_equal(tu_ring_stat(bus, "zl", &rs), 0);
	assert_int_equal(rs.routed_around, 0);
	assert_int_equal(rs.delivered, N);

	/* its last thread returned: now it is dead (a zombie not reaped yet,
	 * then gone), and a reap orphans its ring */
	end = tu_mono_ms() + 10000;
	while (shmbus_bus_reap(bus) == 0 && tu_mono_ms() < end)
		tu_sleep_us(2000);
	assert_int_equal(tu_ring_stat(bus, "zl", &rs), 0);
	assert_int_equal(rs.state, SHMBUS_RING_ORPHANED);
	assert_int_equal(tu_wait_child(cons, 30000, &st), 0);
	int fds[] = {ready[0], ready[1], go[0], go[1], crep[0], crep[1], prep[0], prep[1]};
	for (size_t i = 0; i < sizeof fds / sizeof fds[0]; i++)
		close(fds[i]);
	assert_int_equal(shmbus_bus_close(bus), 0);
}

/* (d): the child does what shmbus_symbol_intern() does under the lock up
 * to marking its entry ready (R4), then dies holding the lock, as if
 * SIGKILLed before its next instruction, the count. */
static void test_kill_interner_before_count(void **state)
{
	(void)state;
	shmbus_bus *bus;
	assert_int_equal(tu_bus_create("kill", 4, &bus), 0);
	assert_true(shmbus_symbol_intern(bus, "SPY", 3) >= 1);
	pid_t pid = fork_or_fail();
	if (pid == 0) {
		shmbus_bus *cb;
		TU_CHILD_CHECK(shmbus_bus_open("kill", "interner", SHMBUS_ROLE_CLIENT, &cb) == 0);
		TU_CHILD_CHECK(pthread_mutex_lock(&cb->sb->lock) == 0);
		uint32_t h = fnv1a32("DEAD", 4), mask = cb->max_symbols - 1, i = h & mask;
		while (load_relaxed(&cb->syms[i].state))
			i = (i + 1) & mask;
		struct sym_entry *e = &cb->syms[i];
		memset(e->name, 0, sizeof(e->name));
		memcpy(e->name, "DEAD", 4);
		e->hash = h;
		store_release(&e->state, 1);
		_exit(0); /* the lock is robust: the next locker gets EOWNERDEAD */
	}
	int st;
	assert_int_equal(tu_wait_child(pid, 10000, &st), 0);
	assert_true(tu_exited_ok(st));
	int64_t dead = shmbus_symbol_lookup(bus, "DEAD", 4);
	assert_true(dead >= 1);
	int64_t live = shmbus_symbol_intern(bus, "LIVE", 4); /* takes the lock */
	assert_true(live >= 1 && live != dead);
	assert_int_equal(shmbus_symbol_intern(bus, "DEAD", 4), dead);
	assert_int_equal(shmbus_symbol_count(bus), 3);
	struct shmbus_bus_info bi;
	assert_int_equal(shmbus_stat_bus(bus, &bi), 0);
	assert_int_equal(bi.symbols, 3);
	assert_int_equal(shmbus_bus_close(bus), 0);
}

int main(void)
{
	alarm(300);
	const struct CMUnitTest tests[] = {
	    TU_TEST(test_kill_producer_mid_claim),
	    TU_TEST(test_kill_producer_mid_batch),
	    TU_TEST(test_kill_producer_mid_claim_reaped),
	    TU_TEST(test_kill_producer_mid_claim_entry_reused),
	    TU_TEST(test_kill_producer_pid_reused),
	    TU_TEST(test_kill_producer_pid_reused_owns_nothing),
	    TU_TEST(test_kill_consumer_routed_around),
	    TU_TEST(test_kill_consumer_leader_exited),
	    TU_TEST(test_kill_interner_before_count),
	};
	return cmocka_run_group_tests_name("kill", tests, NULL, NULL);
}
