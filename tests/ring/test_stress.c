/*
 * test_stress.c - millions of events between processes over a named bus.
 *
 * A consumer process subscribes one ring; 2 or 3 producer processes
 * publish into it (producer 0 through claim/commit, the scenario's batch
 * producer through shmbus_publish_batch in bursts of 1..BATCH_MAX events,
 * the others through publish). Each event carries (source, seq) and a payload with a
 * checksum derived from them. Under `block` the consumer verifies no
 * loss, no duplicate, per-producer order and payload integrity; under
 * `drop` (a small ring) it verifies order and integrity, and the parent
 * checks delivered + dropped == published, with delivered counted by the
 * consumer, dropped from shmbus_stat_ring and published both from the
 * producers' own counts (sent through a pipe) and shmbus_stat_producer.
 *
 * Everyone uses the adaptive wait: on 2 cores three busy-spinning
 * processes would starve each other. SHMBUS_STRESS_EVENTS sets the total
 * events per scenario (sanitizer runs shrink it).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "ring/test_util.h"

#define MAXPROD 3
#define SRC0    1000u
#define BATCH_MAX 75 /* bursts of 1..75: runs of 32, chunks of 64 and less */

struct stress_ev {
	struct shmbus_event_header h;
	uint64_t payload; /* tu_mix(source, seq) */
	uint64_t check;   /* tu_mix(payload, seq ^ symbol) */
};
_Static_assert(sizeof(struct stress_ev) == 56, "fits a 64-byte slot");

struct scenario {
	int nprod;
	uint64_t per_prod;
	enum shmbus_full_policy policy;
	uint32_t capacity;
	int batch_prod; /* which producer publishes in batches; -1: none */
};

struct prod_report {
	uint64_t published, delivered, not_delivered; /* own counts */
	struct shmbus_producer_stat stat;
	int stat_rc;
};

struct cons_report {
	uint64_t delivered;
	uint64_t got[MAXPROD];  /* events per producer */
	uint64_t last[MAXPROD]; /* last seq per producer */
	uint64_t gaps;          /* seq != last + 1 (loss, under block) */
	uint64_t backwards;     /* seq <= last: duplicate or reordering */
	uint64_t corrupt;       /* bad payload, checksum, type or size */
	uint64_t unknown_source;
};

static uint64_t total_events(uint64_t dflt)
{
	const char *s = getenv("SHMBUS_STRESS_EVENTS");
	if (s != NULL && *s != '\0') {
		uint64_t v = strtoull(s, NULL, 10);
		if (v > 0)
			return v;
	}
	return dflt;
}

static void fill(struct stress_ev *e, uint32_t src, uint64_t seq)
{
	e->payload = tu_mix(src, seq);
	e->check = tu_mix(e->payload, seq ^ e->h.symbol_id);
}

static void on_event(const struct shmbus_event_header *h, void *ctx)
{
	struct cons_report *r = ctx;
	const struct stress_ev *e = (const void *)h;
	r->delivered++;
	uint32_t i = h->source_id - SRC0;
	if (i >= MAXPROD) {
		r->unknown_source++;
		return;
	}
	if (h->seq <= r->last[i])
		r->backwards++;
	else if (h->seq != r->last[i] + 1)
		r->gaps++;
	r->last[i] = h->seq;
	r->got[i]++;
	if (h->type != SHMBUS_EV_USER || h->size != sizeof *e || h->symbol_id != 1 + h->seq % 7 ||
	    e->payload != tu_mix(h->source_id, h->seq) ||
	    e->check != tu_mix(e->payload, h->seq ^ h->symbol_id))
		r->corrupt++;
}

/* Consumer process: subscribe, say ready, consume until told the
 * producers are done and the ring is empty, report. */
static void consumer_main(const struct scenario *sc, int ready_fd, int done_fd, int report_fd)
{
	alarm(600);
	shmbus_bus *bus;
	TU_CHILD_CHECK(shmbus_bus_open("stress", "stress-cons", SHMBUS_ROLE_CONSUMER, &bus) == 0);
	struct shmbus_sub_opts so;
	tu_sub_opts(&so, sc->capacity, 64, sc->policy);
	so.wait = SHMBUS_WAIT_ADAPTIVE;
	shmbus_consumer *c;
	TU_CHILD_CHECK(shmbus_subscribe(bus, "stress", &so, &c) == 0);
	TU_CHILD_CHECK(tu_write_all(ready_fd, "r", 1) == 0);
	struct cons_report r;
	memset(&r, 0, sizeof r);
	int done = 0;
	for (;;) {
		if (shmbus_poll(c, on_event, &r, 512) > 0)
			continue;
		int rc = shmbus_wait(c, 20000000);
		TU_CHILD_CHECK(rc == 0 || rc == SHMBUS_ETIMEDOUT);
		if (rc == 0)
			continue;
		if (done)
			break; /* producers gone, nothing for 20 ms: drained */
		struct pollfd pfd = {.fd = done_fd, .events = POLLIN};
		done = poll(&pfd, 1, 0) == 1;
	}
	while (shmbus_poll(c, on_event, &r, 512) > 0)
		;
	TU_CHILD_CHECK(tu_write_all(report_fd, &r, sizeof r) == 0);
	shmbus_consumer_close(c);
	shmbus_bus_close(bus);
	_exit(0);
}

/* The batch producer's loop: bursts of 1..BATCH_MAX events. */
static void publish_batches(const struct scenario *sc, shmbus_producer *p, uint32_t src,
			    struct prod_report *r)
{
	static struct stress_ev ev[BATCH_MAX];
	const void *evs[BATCH_MAX];
	uint64_t rnd = src;
	for (uint64_t seq = 1; seq <= sc->per_prod;) {
		unsigned n = 1 + (unsigned)(tu_rand(&rnd) % BATCH_MAX);
		if (n > sc->per_prod - seq + 1)
			n = (unsigned)(sc->per_prod - seq + 1);
		for (unsigned k = 0; k < n; k++) {
			tu_event(&ev[k], SHMBUS_EV_USER, 1 + (uint32_t)((seq + k) % 7), sizeof ev[k]);
			fill(&ev[k], src, seq + k); /* the seqs the producer will assign */
			evs[k] = &ev[k];
		}
		int rc = shmbus_publish_batch(p, evs, n);
		TU_CHILD_CHECK(rc >= 0 && (unsigned)rc <= n);
		TU_CHILD_CHECK(sc->policy == SHMBUS_POLICY_DROP || (unsigned)rc == n);
		r->published += n;
		r->delivered += (uint64_t)rc;
		r->not_delivered += n - (uint64_t)rc;
		seq += n;
	}
}

/* Producer process i: publish per_prod events, report own counts. */
static void producer_main(const struct scenario *sc, int i, int go_fd, int report_fd)
{
	alarm(600);
	shmbus_bus *bus;
	char pname[32];
	snprintf(pname, sizeof pname, "stress-prod-%d", i);
	TU_CHILD_CHECK(shmbus_bus_open("stress", pname, SHMBUS_ROLE_PRODUCER, &bus) == 0);
	struct shmbus_producer_opts po;
	shmbus_producer_opts_init(&po);
	po.source_id = SRC0 + (uint32_t)i;
	shmbus_producer *p;
	TU_CHILD_CHECK(shmbus_producer_open(bus, &po, &p) == 0);
	char c;
	TU_CHILD_CHECK(tu_read_all(go_fd, &c, 1, 60000) == 0);
	struct prod_report r;
	memset(&r, 0, sizeof r);
	if (i == sc->batch_prod) {
		publish_batches(sc, p, po.source_id, &r);
		goto done;
	}
	for (uint64_t seq = 1; seq <= sc->per_prod; seq++) {
		uint32_t sym = 1 + (uint32_t)(seq % 7);
		int rc;
		if (i == 0) {
			void *mem;
			rc = shmbus_claim(p, SHMBUS_EV_USER, sym, sizeof(struct stress_ev), &mem);
			TU_CHILD_CHECK(rc == 0);
			struct stress_ev *e = mem;
			TU_CHILD_CHECK(e->h.seq == seq && e->h.source_id == po.source_id);
			fill(e, po.source_id, seq);
			rc = shmbus_commit(p);
		} else {
			struct stress_ev e;
			tu_event(&e, SHMBUS_EV_USER, sym, sizeof e);
			fill(&e, po.source_id, seq); /* the seq the producer will assign */
			rc = shmbus_publish(p, &e);
		}
		TU_CHILD_CHECK(rc == 0 || rc == 1);
		TU_CHILD_CHECK(sc->policy == SHMBUS_POLICY_DROP || rc == 1);
		r.published++;
		r.delivered += (uint64_t)rc;
		r.not_delivered += (uint64_t)(1 - rc);
	}
done:
	TU_CHILD_CHECK(shmbus_producer_last_seq(p) == sc->per_prod);
	r.stat_rc = tu_producer_stat(bus, po.source_id, getpid(), &r.stat);
	TU_CHILD_CHECK(tu_write_all(report_fd, &r, sizeof r) == 0);
	shmbus_producer_close(p);
	shmbus_bus_close(bus);
	_exit(0);
}

/* Read producer `pid`'s report from fd, reap it, check its own counts
 * against its shmbus_stat_producer entry. */
static void collect_producer(const struct scenario *sc, pid_t pid, int fd, struct prod_report *pr)
{
	int rc = tu_read_all(fd, pr, sizeof *pr, 500000);
	int st;
	int wrc = tu_wait_child(pid, 30000, &st);
	assert_int_equal(rc, 0);
	assert_int_equal(wrc, 0);
	assert_true(tu_exited_ok(st));
	assert_int_equal(pr->published, sc->per_prod);
	assert_int_equal(pr->stat_rc >= 0, 1);
	assert_int_equal(pr->stat.published, pr->published);
	assert_int_equal(pr->stat.delivered, pr->delivered);
	assert_int_equal(pr->stat.dropped, pr->not_delivered);
	assert_int_equal(pr->stat.last_seq, sc->per_prod);
	assert_int_equal(pr->stat.unrouted, 0);
}

/* delivered + dropped == published, by every count there is. */
static void check_totals(const struct scenario *sc, const struct prod_report *pr,
                         const struct cons_report *cr, const struct shmbus_ring_stat *rs)
{
	uint64_t published = 0, stat_published = 0, stat_dropped = 0, own_dropped = 0;
	for (int i = 0; i < sc->nprod; i++) {
		published += pr[i].published;
		stat_published += pr[i].stat.published;
		stat_dropped += pr[i].stat.dropped;
		own_dropped += pr[i].not_delivered;
		assert_int_equal(cr->got[i], pr[i].delivered);
	}
	assert_int_equal(stat_published, published);
	assert_int_equal(cr->delivered + rs->dropped, published);
	assert_int_equal(stat_dropped, rs->dropped);
	assert_int_equal(own_dropped, rs->dropped);
}

static pid_t spawn_consumer(const struct scenario *sc, int ready[2], int done[2], int rep[2])
{
	fflush(NULL);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		consumer_main(sc, ready[1], done[0], rep[1]);
	return pid;
}

static void run_scenario(const struct scenario *sc)
{
	struct shmbus_bus_opts o;
	tu_bus_opts(&o, 16);
	shmbus_bus *bus;
	assert_int_equal(shmbus_bus_create("stress", &o, &bus), 0);
	int ready[2], done[2], crep[2], go[2], prep[MAXPROD][2];
	assert_int_equal(pipe(ready), 0);
	assert_int_equal(pipe(done), 0);
	assert_int_equal(pipe(crep), 0);
	assert_int_equal(pipe(go), 0);
	pid_t cons = spawn_consumer(sc, ready, done, crep);
	char c;
	assert_int_equal(tu_read_all(ready[0], &c, 1, 20000), 0);
	pid_t prod[MAXPROD];
	for (int i = 0; i < sc->nprod; i++) {
		assert_int_equal(pipe(prep[i]), 0);
		fflush(NULL);
		prod[i] = fork();
		assert_true(prod[i] >= 0);
		if (prod[i] == 0)
			producer_main(sc, i, go[0], prep[i][1]);
	}
	char gos[MAXPROD] = {'g', 'g', 'g'};
	assert_int_equal(tu_write_all(go[1], gos, (size_t)sc->nprod), 0);

	struct prod_report pr[MAXPROD];
	for (int i = 0; i < sc->nprod; i++)
		collect_producer(sc, prod[i], prep[i][0], &pr[i]);
	assert_int_equal(tu_write_all(done[1], "d", 1), 0);
	struct cons_report cr;
	assert_int_equal(tu_read_all(crep[0], &cr, sizeof cr, 60000), 0);
	int st;
	assert_int_equal(tu_wait_child(cons, 20000, &st), 0);
	assert_true(tu_exited_ok(st));

	struct shmbus_ring_stat rs;
	assert_int_equal(tu_ring_stat(bus, "stress", &rs), 0);
	print_message("%d producers x %llu, %s, capacity %u: delivered %llu dropped %llu "
	              "producer waits %llu wakeups %llu\n",
	              sc->nprod, (unsigned long long)sc->per_prod, shmbus_policy_name(sc->policy),
	              sc->capacity, (unsigned long long)cr.delivered,
	              (unsigned long long)rs.dropped, (unsigned long long)rs.producer_waits,
	              (unsigned long long)rs.wakeups);
	assert_int_equal(cr.unknown_source, 0);
	assert_int_equal(cr.corrupt, 0);
	assert_int_equal(cr.backwards, 0);
	assert_int_equal(rs.skipped, 0);
	assert_int_equal(rs.too_big, 0);
	assert_int_equal(rs.routed_around, 0);
	assert_int_equal(rs.delivered, cr.delivered);
	assert_int_equal(rs.depth, 0);
	check_totals(sc, pr, &cr, &rs);
	if (sc->policy == SHMBUS_POLICY_BLOCK) {
		assert_int_equal(rs.dropped, 0);
		assert_int_equal(cr.gaps, 0);
		for (int i = 0; i < sc->nprod; i++) {
			assert_int_equal(cr.got[i], sc->per_prod);
			assert_int_equal(cr.last[i], sc->per_prod);
		}
	}
	for (int i = 0; i < sc->nprod; i++) {
		close(prep[i][0]);
		close(prep[i][1]);
	}
	int fds[] = {ready[0], ready[1], done[0], done[1], crep[0], crep[1], go[0], go[1]};
	for (size_t i = 0; i < sizeof fds / sizeof fds[0]; i++)
		close(fds[i]);
	assert_int_equal(shmbus_bus_close(bus), 0);
	assert_int_equal(shmbus_bus_destroy("stress"), 0);
}

/* 2 producer processes x 5M, lossless. */
static void test_stress_block_2_producers(void **state)
{
	struct scenario sc = {2, total_events(10000000) / 2, SHMBUS_POLICY_BLOCK, 4096, -1};
	run_scenario(&sc);
}

/* 3 producer processes sharing 10M (one in batches), lossless, small
 * ring: many waits, runs cut short by a full ring. */
static void test_stress_block_3_producers(void **state)
{
	struct scenario sc = {3, (total_events(10000000) + 2) / 3, SHMBUS_POLICY_BLOCK, 256, 2};
	run_scenario(&sc);
}

/* 2 producers (one in batches) into a small drop ring: every event
 * accounted for, also those of runs the ring had no room for. */
static void test_stress_drop_2_producers(void **state)
{
	struct scenario sc = {2, total_events(10000000) / 2, SHMBUS_POLICY_DROP, 1024, 1};
	run_scenario(&sc);
}

int main(void)
{
	alarm(900);
	const struct CMUnitTest tests[] = {
	    TU_TEST(test_stress_block_2_producers),
	    TU_TEST(test_stress_block_3_producers),
	    TU_TEST(test_stress_drop_2_producers),
	};
	return cmocka_run_group_tests_name("stress", tests, NULL, NULL);
}
