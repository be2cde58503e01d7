/*
 * test_ownership.c - who a slot, a ring and an event's identity belong to,
 * where a caller embedding the library reaches the edges (an API probe
 * found each of these; every test fails without its fix):
 * - claim/commit fanning out to a full `block` ring commits the claimed
 *   ring first: its slot used to stay uncommitted while the commit waited,
 *   its claim record moved to the other ring, so the consumer skipped it
 *   as claimer-less and the late commit stamped a later event's slot;
 * - a single-producer ring belongs to one producer, not one process: two
 *   producers of one process (a thread each) both stored its tail;
 * - a child forked with an anonymous bus subscribes and publishes as
 *   itself: its ring carried the parent's pid, so its death went unseen
 *   and a producer blocked on its full ring for ever;
 * - a child closing the producer and consumers it inherited leaves the
 *   parent's alone: its close detached the parent's rings (producers
 *   routed around them) and freed the parent's producer entry and source;
 * - two open producers never number the same (source, seq): a second
 *   pid-named one gets another source, an explicit source held by an open
 *   producer is refused (SHMBUS_EBUSY);
 * - re-subscribing a group member's ring with other group settings is
 *   refused instead of keeping the old ones silently;
 * - a live producer's claimed slot stays its own when the consumer's
 *   process cannot open /proc (out of file descriptors): its claimer was
 *   taken for dead and the slot skipped, the late commit then landing in
 *   a slot the consumer had released.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <pthread.h>
#include <sys/resource.h>

#include "ring/test_util.h"

/* ---- claim/commit with fan-out to a full block ring ---------------------- */

struct fan {
	shmbus_producer *p;
	int rc;
	atomic_int done;
};

static void *fan_claim_commit(void *arg)
{
	struct fan *f = arg;
	struct shmbus_trade *t;
	f->rc = shmbus_claim(f->p, SHMBUS_EV_TRADE, 1, sizeof *t, (void **)&t);
	if (f->rc == 0) {
		t->price = 999;
		t->size = 1;
		f->rc = shmbus_commit(f->p); /* waits for room in C */
	}
	atomic_store(&f->done, 1);
	return NULL;
}

struct seen {
	unsigned n, trades, quotes;
	double trade_price;
};

static void seen_fn(const struct shmbus_event_header *ev, void *ctx)
{
	struct seen *s = ctx;
	s->n++;
	if (ev->type == SHMBUS_EV_TRADE) {
		s->trades++;
		s->trade_price = ((const struct shmbus_trade *)ev)->price;
	} else if (ev->type == SHMBUS_EV_QUOTE) {
		s->quotes++;
	}
}

static void drain(shmbus_consumer *c, struct seen *s)
{
	while (shmbus_poll(c, seen_fn, s, 64) > 0)
		;
}

static void test_ownership_commit_publishes_claimed_ring_first(void **state)
{
	(void)state;
	shmbus_bus *bus;
	assert_int_equal(tu_bus_create(NULL, 8, &bus), 0);
	struct shmbus_sub_opts so;
	shmbus_consumer *ca, *cb, *cc;
	tu_sub_opts(&so, 8, 128, SHMBUS_POLICY_BLOCK);
	so.stuck_timeout_ns = 50 * 1000 * 1000; /* claimer-less slots skipped quickly */
	so.types = SHMBUS_TYPE_BIT(SHMBUS_EV_TRADE) | SHMBUS_TYPE_BIT(SHMBUS_EV_QUOTE);
	assert_int_equal(shmbus_subscribe(bus, "A", &so, &ca), 0);
	so.types = SHMBUS_TYPE_BIT(SHMBUS_EV_TRADE);
	assert_int_equal(shmbus_subscribe(bus, "B", &so, &cb), 0);
	so.capacity = 2;
	assert_int_equal(shmbus_subscribe(bus, "C", &so, &cc), 0);
	struct shmbus_producer_opts po;
	shmbus_producer_opts_init(&po);
	struct fan f = {.rc = -1};
	shmbus_producer *p2;
	po.source_id = 1;
	assert_int_equal(shmbus_producer_open(bus, &po, &f.p), 0);
	po.source_id = 2;
	assert_int_equal(shmbus_producer_open(bus, &po, &p2), 0);
	for (int i = 0; i < 2; i++) { /* C full: 2 of 2 */
		struct shmbus_trade t = tu_trade(1, i);
		assert_int_equal(shmbus_publish(f.p, &t), 3);
	}
	struct seen sa = {0}, sb = {0}, sc = {0};
	drain(ca, &sa);
	drain(cb, &sb);
	memset(&sa, 0, sizeof sa);

	atomic_init(&f.done, 0);
	pthread_t th;
	assert_int_equal(pthread_create(&th, NULL, fan_claim_commit, &f), 0);
	/* A's consumer polls on (busily, as a consumer with its own core)
	 * while the commit waits for C */
	int64_t end = tu_mono_ms() + 300;
	while (tu_mono_ms() < end)
		shmbus_poll(ca, seen_fn, &sa, 64);
	int waiting = !atomic_load(&f.done);
	struct shmbus_ring_stat rs;
	for (int i = 0; i < 8; i++) { /* another producer's events after it */
		struct shmbus_quote q;
		memset(&q, 0, sizeof q);
		q.h.type = SHMBUS_EV_QUOTE;
		q.h.size = sizeof q;
		q.h.symbol_id = 2;
		q.h.version = SHMBUS_EVENT_LAYOUT_VERSION;
		q.bid = 100 + i;
		/* this thread is A's consumer: a publish into a full A would
		 * wait for ever (it did, once A's consumer stuck on the slot) */
		assert_int_equal(tu_ring_stat(bus, "A", &rs), 0);
		if (rs.depth >= rs.capacity)
			fail_msg("ring A full (%llu held, %llu delivered, %llu skipped): its "
			         "consumer is stuck",
			         (unsigned long long)rs.depth, (unsigned long long)rs.delivered,
			         (unsigned long long)rs.skipped);
		assert_int_equal(shmbus_publish(p2, &q), 1);
		drain(ca, &sa);
	}
	while (!atomic_load(&f.done)) { /* C's consumer catches up */
		drain(cc, &sc);
		tu_sleep_us(1000);
	}
	assert_int_equal(pthread_join(th, NULL), 0);
	end = tu_mono_ms() + 300;
	while (tu_mono_ms() < end && sa.n < 9)
		if (shmbus_poll(ca, seen_fn, &sa, 64) == 0)
			tu_sleep_us(1000);
	assert_int_equal(tu_ring_stat(bus, "A", &rs), 0);
	assert_true(waiting); /* the commit did wait for C */
	assert_int_equal(f.rc, 3);
	assert_int_equal(sa.trades, 1);
	assert_true(sa.trade_price == 999);
	assert_int_equal(sa.quotes, 8);
	assert_int_equal(rs.skipped, 0);
	drain(cb, &sb);
	assert_int_equal(sb.trades, 3); /* 2 before, the claimed one */
	shmbus_producer_close(f.p);
	shmbus_producer_close(p2);
	shmbus_consumer_close(ca);
	shmbus_consumer_close(cb);
	shmbus_consumer_close(cc);
	assert_int_equal(shmbus_bus_close(bus), 0);
}

/* ---- a single-producer ring and two producers of one process ------------- */

#define SP_N 20000

struct sp_arg {
	shmbus_bus *bus;
	uint32_t source;
	atomic_int *go, *done; /* both open before either publishes, and
	                          before either closes (a closed owner's
	                          ring may be taken by the next producer) */
	atomic_int fail;
	uint64_t delivered;
};

static void *sp_producer(void *arg)
{
	struct sp_arg *a = arg;
	struct shmbus_producer_opts po;
	shmbus_producer_opts_init(&po);
	po.source_id = a->source;
	shmbus_producer *p;
	TU_THREAD_CHECK(&a->fail, shmbus_producer_open(a->bus, &po, &p) == 0);
	if (atomic_load(&a->fail)) { /* the other one must not wait for us */
		atomic_fetch_add(a->go, 1);
		atomic_fetch_add(a->done, 1);
		return NULL;
	}
	atomic_fetch_add(a->go, 1);
	while (atomic_load(a->go) < 2)
		;
	for (int i = 0; i < SP_N; i++) {
		struct shmbus_trade t = tu_trade(1, i);
		int rc = shmbus_publish(p, &t);
		TU_THREAD_CHECK(&a->fail, rc == 0 || rc == 1);
		a->delivered += (uint64_t)(rc > 0);
	}
	atomic_fetch_add(a->done, 1);
	while (atomic_load(a->done) < 2)
		;
	shmbus_producer_close(p);
	return NULL;
}

struct sp_seen {
	uint64_t n[3], last[3], gaps, foreign;
};

static void sp_fn(const struct shmbus_event_header *ev, void *ctx)
{
	struct sp_seen *s = ctx;
	if (ev->source_id < 1 || ev->source_id > 2) {
		s->foreign++;
		return;
	}
	s->gaps += ev->seq != s->last[ev->source_id] + 1;
	s->last[ev->source_id] = ev->seq;
	s->n[ev->source_id]++;
}

static void test_ownership_single_producer_ring_is_one_producers(void **state)
{
	(void)state;
	shmbus_bus *bus;
	assert_int_equal(tu_bus_create(NULL, 16, &bus), 0);
	struct shmbus_sub_opts so;
	/* room for both producers' events: nobody waits, whatever goes wrong */
	tu_sub_opts(&so, 65536, 64, SHMBUS_POLICY_BLOCK);
	so.flags = SHMBUS_SUB_SINGLE_PRODUCER;
	shmbus_consumer *c;
	assert_int_equal(shmbus_subscribe(bus, "sp", &so, &c), 0);
	atomic_int go, done;
	atomic_init(&go, 0);
	atomic_init(&done, 0);
	struct sp_arg a[2] = {{.bus = bus, .source = 1, .go = &go, .done = &done},
	                      {.bus = bus, .source = 2, .go = &go, .done = &done}};
	pthread_t th[2];
	for (int i = 0; i < 2; i++) {
		atomic_init(&a[i].fail, 0);
		assert_int_equal(pthread_create(&th[i], NULL, sp_producer, &a[i]), 0);
	}
	for (int i = 0; i < 2; i++)
		assert_int_equal(pthread_join(th[i], NULL), 0);
	struct sp_seen s = {0};
	while (shmbus_poll(c, sp_fn, &s, 256) > 0)
		;
	assert_int_equal(atomic_load(&a[0].fail), 0);
	assert_int_equal(atomic_load(&a[1].fail), 0);
	/* one producer owns the ring and delivers everything, in order; the
	 * other is routed around, counted (both stored its tail unlocked:
	 * events lost and overwritten, each publish said "delivered") */
	assert_int_equal(s.foreign, 0);
	assert_int_equal(s.gaps, 0);
	assert_int_equal(s.n[1] + s.n[2], SP_N);
	assert_true(s.n[1] == 0 || s.n[2] == 0);
	assert_int_equal(a[0].delivered + a[1].delivered, SP_N);
	struct shmbus_ring_stat rs;
	assert_int_equal(tu_ring_stat(bus, "sp", &rs), 0);
	assert_int_equal(rs.delivered, SP_N);
	assert_int_equal(rs.routed_around, SP_N);
	shmbus_consumer_close(c);
	assert_int_equal(shmbus_bus_close(bus), 0);
}

/* ---- a child forked with an anonymous bus -------------------------------- */

static shmbus_bus *g_anon;

static int anon_publish_past_dead_child(void *arg)
{
	(void)arg;
	shmbus_producer *p;
	if (shmbus_producer_open(g_anon, NULL, &p) != 0)
		return 10;
	for (int i = 0; i < 20; i++) { /* 8 fit; the rest wait for a dead consumer */
		struct shmbus_trade t = tu_trade(1, i);
		if (shmbus_publish(p, &t) < 0)
			return 11;
	}
	struct shmbus_ring_stat rs;
	if (tu_ring_stat(g_anon, "kid", &rs) != 0 || rs.routed_around == 0)
		return 12;
	return 0;
}

static void test_ownership_forked_child_consumes_as_itself(void **state)
{
	(void)state;
	assert_int_equal(tu_bus_create(NULL, 4, &g_anon), 0);
	fflush(NULL);
	pid_t kid = fork();
	assert_true(kid >= 0);
	if (kid == 0) {
		struct shmbus_sub_opts so;
		tu_sub_opts(&so, 8, 64, SHMBUS_POLICY_BLOCK);
		shmbus_consumer *c;
		TU_CHILD_CHECK(shmbus_subscribe(g_anon, "kid", &so, &c) == 0);
		_exit(0); /* dies holding the ring */
	}
	int st;
	assert_int_equal(waitpid(kid, &st, 0), kid);
	assert_true(tu_exited_ok(st));
	struct shmbus_ring_stat rs;
	assert_int_equal(tu_ring_stat(g_anon, "kid", &rs), 0);
	assert_int_equal(rs.consumer_pid, kid);
	assert_int_equal(rs.consumer_alive, 0);
	/* a producer is not held for ever by the dead child's full ring (in a
	 * child of ours, so a hang fails the test instead of hanging it) */
	assert_int_equal(tu_run_in_child(anon_publish_past_dead_child, NULL, 20000), 0);
	assert_int_equal(tu_ring_stat(g_anon, "kid", &rs), 0);
	assert_int_equal(rs.state, SHMBUS_RING_ORPHANED); /* by that producer */
	assert_int_equal(shmbus_bus_close(g_anon), 0);
}

/* A child forked with the handles (cleaning up before it execs or exits)
 * closes its copies: the parent's rings and producer stay the parent's. */
static void test_ownership_forked_child_closes_only_its_copies(void **state)
{
	(void)state;
	shmbus_bus *bus;
	assert_int_equal(tu_bus_create(NULL, 4, &bus), 0);
	struct shmbus_sub_opts so;
	tu_sub_opts(&so, 8, 64, SHMBUS_POLICY_DROP);
	shmbus_consumer *c1, *c2;
	assert_int_equal(shmbus_subscribe(bus, "closed", &so, &c1), 0);
	assert_int_equal(shmbus_subscribe(bus, "unsubscribed", &so, &c2), 0);
	struct shmbus_producer_opts po;
	shmbus_producer_opts_init(&po);
	po.source_id = 77;
	shmbus_producer *p, *p2;
	assert_int_equal(shmbus_producer_open(bus, &po, &p), 0);
	fflush(NULL);
	pid_t kid = fork();
	assert_true(kid >= 0);
	if (kid == 0) {
		shmbus_consumer_close(c1);
		TU_CHILD_CHECK(shmbus_unsubscribe(c2) == 0);
		shmbus_producer_close(p);
		TU_CHILD_CHECK(shmbus_bus_close(bus) == 0);
		_exit(0);
	}
	int st;
	assert_int_equal(waitpid(kid, &st, 0), kid);
	assert_true(tu_exited_ok(st));
	struct shmbus_ring_stat rs;
	assert_int_equal(tu_ring_stat(bus, "closed", &rs), 0);
	assert_int_equal(rs.state, SHMBUS_RING_ACTIVE);
	assert_int_equal(tu_ring_stat(bus, "unsubscribed", &rs), 0);
	assert_int_equal(rs.state, SHMBUS_RING_ACTIVE);
	struct shmbus_trade t = tu_trade(1, 1);
	assert_int_equal(shmbus_publish(p, &t), 2);
	struct seen s = {0};
	drain(c1, &s);
	drain(c2, &s);
	assert_int_equal(s.trades, 2);
	/* source 77 is still held by the parent's open producer */
	assert_int_equal(shmbus_producer_open(bus, &po, &p2), SHMBUS_EBUSY);
	shmbus_producer_close(p);
	shmbus_consumer_close(c1);
	shmbus_consumer_close(c2);
	assert_int_equal(shmbus_bus_close(bus), 0);
}

/* ---- (source, seq) names one event --------------------------------------- */

struct id_seen {
	unsigned n;
	uint32_t source[8];
	uint64_t seq[8];
};

static void id_fn(const struct shmbus_event_header *ev, void *ctx)
{
	struct id_seen *s = ctx;
	if (s->n < 8) {
		s->source[s->n] = ev->source_id;
		s->seq[s->n] = ev->seq;
	}
	s->n++;
}

static void test_ownership_open_producers_never_share_a_source(void **state)
{
	(void)state;
	shmbus_bus *bus;
	assert_int_equal(tu_bus_create(NULL, 4, &bus), 0);
	struct shmbus_sub_opts so;
	tu_sub_opts(&so, 64, 64, SHMBUS_POLICY_BLOCK);
	shmbus_consumer *c;
	assert_int_equal(shmbus_subscribe(bus, "r", &so, &c), 0);
	shmbus_producer *p1, *p2, *p3, *p4;
	assert_int_equal(shmbus_producer_open(bus, NULL, &p1), 0); /* a thread each */
	assert_int_equal(shmbus_producer_open(bus, NULL, &p2), 0);
	assert_int_equal(shmbus_producer_source(p1), (uint32_t)getpid());
	assert_int_not_equal(shmbus_producer_source(p2), shmbus_producer_source(p1));
	struct shmbus_trade t = tu_trade(1, 1);
	for (int i = 0; i < 2; i++) {
		assert_int_equal(shmbus_publish(p1, &t), 1);
		assert_int_equal(shmbus_publish(p2, &t), 1);
	}
	struct id_seen s = {0};
	while (shmbus_poll(c, id_fn, &s, 8) > 0)
		;
	assert_int_equal(s.n, 4);
	for (unsigned i = 0; i < 4; i++)
		for (unsigned j = i + 1; j < 4; j++)
			assert_false(s.source[i] == s.source[j] && s.seq[i] == s.seq[j]);
	/* an explicit source held by an open producer: refused, named */
	struct shmbus_producer_opts po;
	shmbus_producer_opts_init(&po);
	po.source_id = 77;
	assert_int_equal(shmbus_producer_open(bus, &po, &p3), 0);
	assert_int_equal(shmbus_producer_open(bus, &po, &p4), SHMBUS_EBUSY);
	assert_non_null(strstr(shmbus_errmsg(), "source id 77"));
	/* closed, it is free again, and numbering goes on after its last seq */
	assert_int_equal(shmbus_publish(p3, &t), 1);
	shmbus_producer_close(p3);
	assert_int_equal(shmbus_producer_open(bus, &po, &p4), 0);
	assert_int_equal(shmbus_publish(p4, &t), 1);
	memset(&s, 0, sizeof s);
	while (shmbus_poll(c, id_fn, &s, 8) > 0)
		;
	assert_int_equal(s.n, 2);
	assert_int_equal(s.source[1], 77);
	assert_int_equal(s.seq[1], s.seq[0] + 1);
	shmbus_producer_close(p1);
	shmbus_producer_close(p2);
	shmbus_producer_close(p4);
	shmbus_consumer_close(c);
	assert_int_equal(shmbus_bus_close(bus), 0);
}

/* ---- a group member's ring keeps its group ------------------------------- */

static int group_sub(shmbus_bus *bus, const char *ring, const char *group, uint32_t size,
                     uint32_t member, shmbus_consumer **c)
{
	struct shmbus_sub_opts so;
	tu_sub_opts(&so, 64, 64, SHMBUS_POLICY_BLOCK);
	so.group = group;
	so.group_size = size;
	so.group_member = member;
	return shmbus_subscribe(bus, ring, &so, c);
}

static void test_ownership_resubscribe_keeps_the_group(void **state)
{
	(void)state;
	shmbus_bus *bus;
	assert_int_equal(tu_bus_create(NULL, 4, &bus), 0);
	shmbus_consumer *c0, *c1, *x;
	assert_int_equal(group_sub(bus, "g0", "g", 2, 0, &c0), 0);
	assert_int_equal(group_sub(bus, "g1", "g", 2, 1, &c1), 0);
	shmbus_consumer_close(c1);
	/* other member, other size, other group: each would take another
	 * member's share of the symbols without a word */
	assert_int_equal(group_sub(bus, "g1", "g", 4, 3, &x), -EINVAL);
	assert_non_null(strstr(shmbus_errmsg(), "member 1 of 2 of group 'g'"));
	assert_int_equal(group_sub(bus, "g1", "g", 2, 0, &x), -EINVAL);
	assert_int_equal(group_sub(bus, "g1", "other", 2, 1, &x), -EINVAL);
	struct shmbus_ring_stat rs;
	assert_int_equal(tu_ring_stat(bus, "g1", &rs), 0);
	assert_string_equal(rs.group, "g");
	assert_int_equal(rs.group_size, 2);
	assert_int_equal(rs.group_member, 1);
	assert_int_equal(group_sub(bus, "g1", "g", 2, 1, &c1), 0); /* the same: fine */
	shmbus_consumer_close(c1);
	shmbus_consumer_close(c0);
	assert_int_equal(shmbus_bus_close(bus), 0);
}

/* ---- a live claimer, seen by a consumer out of file descriptors -------- */

/* Take every file descriptor the soft limit leaves, up to 64 more than
 * are open; returns how many, their numbers in fds. */
static unsigned fds_exhaust(int *fds, unsigned max, struct rlimit *saved)
{
	assert_int_equal(getrlimit(RLIMIT_NOFILE, saved), 0);
	struct rlimit low = *saved;
	int top = dup(0);
	assert_true(top >= 0);
	close(top);
	low.rlim_cur = (rlim_t)top + max / 2;
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &low), 0);
	unsigned n = 0;
	while (n < max) {
		int fd = dup(0);
		if (fd < 0)
			break;
		fds[n++] = fd;
	}
	assert_int_equal(errno, EMFILE);
	return n;
}

static void fds_restore(const int *fds, unsigned n, const struct rlimit *saved)
{
	for (unsigned i = 0; i < n; i++)
		close(fds[i]);
	assert_int_equal(setrlimit(RLIMIT_NOFILE, saved), 0);
}

/*
 * A producer claims and has not committed yet (preempted, or writing a
 * big event) while its consumer's process has no file descriptor left:
 * /proc/<pid>/stat cannot be opened, which said "the claimer is gone",
 * so the consumer skipped the live producer's slot, and the commit then
 * stamped a slot already released (an event lost, or a lap later one
 * delivered in its place).
 */
static void test_ownership_live_claimer_kept_without_fds(void **state)
{
	(void)state;
	shmbus_bus *bus;
	assert_int_equal(tu_bus_create(NULL, 4, &bus), 0);
	struct shmbus_sub_opts so;
	tu_sub_opts(&so, 64, 64, SHMBUS_POLICY_BLOCK);
	so.stuck_timeout_ns = INT64_C(600) * 1000000000;
	shmbus_consumer *c;
	assert_int_equal(shmbus_subscribe(bus, "r", &so, &c), 0);
	shmbus_producer *p;
	assert_int_equal(shmbus_producer_open(bus, NULL, &p), 0);
	struct shmbus_trade *t;
	assert_int_equal(shmbus_claim(p, SHMBUS_EV_TRADE, 1, sizeof *t, (void **)&t), 0);
	t->price = 7;
	t->size = 1;

	int fds[64];
	struct rlimit saved;
	unsigned nfds = fds_exhaust(fds, 64, &saved);
	struct seen s = {0};
	int polled = 0;
	for (int i = 0; i < 3 * 4096 && polled == 0; i++) /* past STUCK_CHECK_EVERY */
		polled = shmbus_poll(c, seen_fn, &s, 64);
	fds_restore(fds, nfds, &saved);
	assert_int_equal(polled, 0);
	struct shmbus_ring_stat rs;
	assert_int_equal(tu_ring_stat(bus, "r", &rs), 0);
	if (rs.skipped != 0)
		fail_msg("a live producer's claimed slot was skipped (%llu) while /proc "
			 "could not be opened",
			 (unsigned long long)rs.skipped);

	assert_int_equal(shmbus_commit(p), 1);
	drain(c, &s);
	assert_int_equal(s.trades, 1);
	assert_true(s.trade_price == 7);
	assert_int_equal(tu_ring_stat(bus, "r", &rs), 0);
	assert_int_equal(rs.delivered, 1);
	assert_int_equal(rs.depth, 0);
	shmbus_producer_close(p);
	shmbus_consumer_close(c);
	assert_int_equal(shmbus_bus_close(bus), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    TU_TEST(test_ownership_commit_publishes_claimed_ring_first),
	    TU_TEST(test_ownership_single_producer_ring_is_one_producers),
	    TU_TEST(test_ownership_forked_child_consumes_as_itself),
	    TU_TEST(test_ownership_forked_child_closes_only_its_copies),
	    TU_TEST(test_ownership_open_producers_never_share_a_source),
	    TU_TEST(test_ownership_resubscribe_keeps_the_group),
	    TU_TEST(test_ownership_live_claimer_kept_without_fds),
	};
	return cmocka_run_group_tests_name("ownership", tests, NULL, NULL);
}
