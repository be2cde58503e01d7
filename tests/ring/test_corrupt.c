/*
 * test_corrupt.c - shared-memory contents damaged while a bus is in use.
 *
 * test_segment.c covers what attaching refuses; this covers the fields a
 * process reads after attaching: a ring entry's index and region, the
 * ring's positions, the arena allocation record, the lock word, a slot's
 * event header, symbol and counter names. Each one damaged must give a
 * clear error (or be skipped and counted), never a crash, a hang, a
 * stray write or a silently wrong delivery.
 *
 * The bus file is mapped a second time here (MAP_SHARED: the same pages the
 * library uses) and patched through the private src/ring/layout.h.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <pthread.h>
#include <sys/mman.h>

#include "ring/bus_internal.h"
#include "ring/layout.h"
#include "ring/test_util.h"

struct mapped {
	uint8_t *base;
	size_t len;
	struct sb *sb;
	struct ring_desc *rings;
};

static void map_bus(const char *name, struct mapped *m)
{
	char path[256];
	struct stat st;
	assert_int_equal(shmbus_bus_path(name, path, sizeof path), 0);
	int fd = open(path, O_RDWR);
	assert_true(fd >= 0);
	assert_int_equal(fstat(fd, &st), 0);
	m->len = (size_t)st.st_size;
	m->base = mmap(NULL, m->len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	assert_true(m->base != MAP_FAILED);
	m->sb = (struct sb *)m->base;
	m->rings = (struct ring_desc *)(m->base + m->sb->rings_off);
}

static void unmap_bus(struct mapped *m)
{
	munmap(m->base, m->len);
}

static struct ring_hdr *hdr_of(const struct mapped *m, uint32_t ring)
{
	return (struct ring_hdr *)(m->base + m->rings[ring].region_off);
}

static uint8_t *slot_of(const struct mapped *m, uint32_t ring, uint64_t pos)
{
	struct ring_hdr *h = hdr_of(m, ring);
	return (uint8_t *)h + h->slots_off + (pos & h->mask) * h->slot_size;
}

static void assert_msg_has(const char *what)
{
	if (!strstr(shmbus_errmsg(), what))
		fail_msg("error message \"%s\" does not name \"%s\"", shmbus_errmsg(), what);
}

/* A bus "b" with rings r0 and r1 (capacity 8, 64-byte slots, every type
 * and symbol), a producer, and `queued` trades left in both rings. */
struct fixture {
	shmbus_bus *bus;
	shmbus_producer *p;
	shmbus_consumer *c[2];
	struct mapped m;
};

static void fixture_open(struct fixture *f, enum shmbus_full_policy policy, int queued)
{
	memset(f, 0, sizeof *f);
	assert_int_equal(tu_bus_create("b", 4, &f->bus), 0);
	struct shmbus_sub_opts so;
	tu_sub_opts(&so, 8, 64, policy);
	assert_int_equal(shmbus_subscribe(f->bus, "r0", &so, &f->c[0]), 0);
	assert_int_equal(shmbus_subscribe(f->bus, "r1", &so, &f->c[1]), 0);
	assert_int_equal(shmbus_producer_open(f->bus, NULL, &f->p), 0);
	for (int i = 0; i < queued; i++) {
		struct shmbus_trade t = tu_trade(0, 100.0 + i);
		assert_int_equal(shmbus_publish(f->p, &t), 2);
	}
	map_bus("b", &f->m);
}

static void fixture_close(struct fixture *f)
{
	unmap_bus(&f->m);
	for (int i = 0; i < 2; i++)
		if (f->c[i])
			shmbus_consumer_close(f->c[i]);
	shmbus_producer_close(f->p);
	assert_int_equal(shmbus_bus_close(f->bus), 0);
	shmbus_bus_destroy("b");
}

/* A ring entry whose index field points elsewhere: refused by stat and
 * re-attach, never routed into (it indexes per-ring producer tables). */
static void test_corrupt_ring_index(void **state)
{
	(void)state;
	static const uint32_t bad[] = {0xffffffffu, 1, 100000};
	for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
		struct fixture f;
		fixture_open(&f, SHMBUS_POLICY_DROP, 0);
		shmbus_consumer_close(f.c[0]);
		f.c[0] = NULL;
		f.m.rings[0].index = bad[k];
		struct shmbus_ring_stat rs;
		assert_int_equal(shmbus_stat_ring(f.bus, 0, &rs), SHMBUS_ECORRUPT);
		shmbus_consumer *c = NULL;
		assert_int_equal(shmbus_subscribe(f.bus, "r0", NULL, &c), SHMBUS_ECORRUPT);
		assert_msg_has("ring entry 0");
		/* not marked ours: ring-remove can still free it */
		assert_int_equal(f.m.rings[0].state, RING_STATE_DETACHED);
		/* A fresh producer builds its routes now: r1 only. */
		shmbus_producer *p;
		assert_int_equal(shmbus_producer_open(f.bus, NULL, &p), 0);
		struct shmbus_trade t = tu_trade(0, 1.0);
		assert_int_equal(shmbus_publish(p, &t), 1);
		shmbus_producer_close(p);
		struct tu_sink s;
		tu_sink_init(&s, 4);
		assert_int_equal(tu_drain(f.c[1], &s), 1);
		tu_sink_free(&s);
		f.m.rings[0].index = 0;
		fixture_close(&f);
	}
}

/* Two entries naming one region: the second is refused, not fed the
 * first one's events. */
static void test_corrupt_region_alias(void **state)
{
	(void)state;
	struct fixture f;
	fixture_open(&f, SHMBUS_POLICY_DROP, 2);
	uint64_t saved = f.m.rings[1].region_off;
	f.m.rings[1].region_off = f.m.rings[0].region_off;
	struct shmbus_ring_stat rs;
	assert_int_equal(shmbus_stat_ring(f.bus, 1, &rs), SHMBUS_ECORRUPT);
	assert_msg_has("belongs to ring 0");
	assert_int_equal(shmbus_stat_ring(f.bus, 0, &rs), 0);
	f.m.rings[1].region_off = saved;
	fixture_close(&f);
}

/* head past tail, or tail more than a ring past head: refused at attach
 * and by stat. */
static void test_corrupt_positions_at_attach(void **state)
{
	(void)state;
	for (int which = 0; which < 2; which++) {
		struct fixture f;
		fixture_open(&f, SHMBUS_POLICY_BLOCK, 3);
		shmbus_consumer_close(f.c[0]);
		f.c[0] = NULL;
		struct ring_hdr *h = hdr_of(&f.m, 0);
		uint64_t head = h->head, tail = h->tail;
		if (which == 0)
			h->head = 1000;
		else
			h->tail = 1000000;
		struct shmbus_ring_stat rs;
		assert_int_equal(shmbus_stat_ring(f.bus, 0, &rs), SHMBUS_ECORRUPT);
		assert_msg_has("positions inconsistent");
		shmbus_consumer *c = NULL;
		assert_int_equal(shmbus_subscribe(f.bus, "r0", NULL, &c), SHMBUS_ECORRUPT);
		h->head = head;
		h->tail = tail;
		assert_int_equal(shmbus_subscribe(f.bus, "r0", NULL, &f.c[0]), 0);
		struct tu_sink s;
		tu_sink_init(&s, 8);
		assert_int_equal(tu_drain(f.c[0], &s), 3); /* nothing was lost */
		tu_sink_free(&s);
		fixture_close(&f);
	}
}

/* The positions test on values a live ring can give: the consumer may
 * pass the tail read between the two head reads (a subtraction there
 * wrapped and called a sound, busy ring broken, routing around it). */
static void test_corrupt_positions_sound_when_live(void **state)
{
	(void)state;
	assert_true(ring_positions_sound(0, 5, 7, 8)); /* head passed t meanwhile */
	assert_true(ring_positions_sound(1024, 2048, 2100, 1024));
	assert_true(ring_positions_sound(3, 3, 3, 8));        /* empty */
	assert_true(ring_positions_sound(0, 8, 0, 8));        /* full */
	assert_false(ring_positions_sound(1000, 4, 1000, 8)); /* head past tail */
	assert_false(ring_positions_sound(2, 1000000, 2, 8)); /* tail a ring ahead */
	assert_false(ring_positions_sound(0, 9, 0, 8));
}

/* A live producer on a full block-policy ring whose head was overwritten
 * past its tail: it routes around the ring after its block timeout
 * instead of waiting for space that can never come. */
static void test_corrupt_head_live_producer(void **state)
{
	(void)state;
	struct fixture f;
	fixture_open(&f, SHMBUS_POLICY_BLOCK, 8); /* both rings full */
	struct tu_sink s;
	tu_sink_init(&s, 16);
	assert_int_equal(tu_drain(f.c[1], &s), 8);
	hdr_of(&f.m, 0)->head = 1000;
	int64_t t0 = tu_mono_ms();
	struct shmbus_trade t = tu_trade(0, 9.0);
	assert_int_equal(shmbus_publish(f.p, &t), 1); /* r1 only */
	assert_true(tu_mono_ms() - t0 < 5000);
	assert_msg_has("ring 0");
	struct shmbus_ring_stat rs;
	hdr_of(&f.m, 0)->head = 0; /* stat reads positions: make them sane */
	assert_int_equal(shmbus_stat_ring(f.bus, 0, &rs), 0);
	assert_true(rs.routed_around >= 1);
	tu_sink_free(&s);
	fixture_close(&f);
}

/* A live consumer whose ring's tail was overwritten: wait and poll report
 * it (poll within a few thousand empty polls) instead of skipping slot after
 * slot or waiting forever. */
static void test_corrupt_tail_live_consumer(void **state)
{
	(void)state;
	static const uint64_t bad[] = {1000000, 1};
	for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
		struct fixture f;
		fixture_open(&f, SHMBUS_POLICY_BLOCK, 2);
		struct tu_sink s;
		tu_sink_init(&s, 8);
		assert_int_equal(tu_drain(f.c[0], &s), 2);
		hdr_of(&f.m, 0)->tail = bad[k];
		/* a wait says so too (it said "ready", and a wait-then-poll
		 * loop spun through its empty polls) */
		assert_int_equal(shmbus_wait(f.c[0], INT64_C(5000000000)), SHMBUS_ECORRUPT);
		assert_msg_has("tail was overwritten");
		int rc = 0;
		for (int i = 0; i < 20000 && rc == 0; i++)
			rc = shmbus_poll(f.c[0], tu_sink_fn, &s, 16);
		assert_int_equal(rc, SHMBUS_ECORRUPT);
		assert_msg_has("tail was overwritten");
		assert_int_equal(s.n, 2);
		hdr_of(&f.m, 0)->tail = 2;
		tu_sink_free(&s);
		fixture_close(&f);
	}
}

/* The arena's high-water mark set back: free bytes are found from the
 * rings in use, not from it, so a new ring is built beside the live one,
 * whose queued events survive, and the mark is put right. A mark that is
 * not page-aligned is refused at attach. */
static void test_corrupt_arena_used(void **state)
{
	(void)state;
	struct fixture f;
	fixture_open(&f, SHMBUS_POLICY_BLOCK, 4);
	uint64_t used = f.m.sb->arena_used;
	f.m.sb->arena_used = 0;
	shmbus_consumer *c = NULL;
	struct shmbus_sub_opts so;
	tu_sub_opts(&so, 8, 64, SHMBUS_POLICY_BLOCK);
	assert_int_equal(shmbus_subscribe(f.bus, "r2", &so, &c), 0);
	assert_true(f.m.sb->arena_used > used); /* r2 above ring 0 */
	struct tu_sink s;
	tu_sink_init(&s, 8);
	assert_int_equal(tu_drain(f.c[0], &s), 4);
	for (int i = 0; i < 4; i++)
		assert_true(((const struct shmbus_trade *)&s.ev[i])->price == 100.0 + i);
	tu_sink_free(&s);
	assert_int_equal(shmbus_unsubscribe(c), 0);
	assert_int_equal(f.m.sb->arena_used, used);
	f.m.sb->arena_used = used + 1; /* not page-aligned: refused at attach */
	shmbus_bus *other;
	assert_int_equal(shmbus_bus_open_readonly("b", &other), SHMBUS_ECORRUPT);
	assert_msg_has("arena used");
	f.m.sb->arena_used = used;
	fixture_close(&f);
}

/* Committed slots whose header is no event fitting the slot: skipped and
 * counted, the events around them delivered. */
static void test_corrupt_event_header(void **state)
{
	(void)state;
	struct fixture f;
	fixture_open(&f, SHMBUS_POLICY_BLOCK, 1);
	struct ring_hdr *h = hdr_of(&f.m, 0);
	/* Positions 1 (size past the 56-byte payload) and 2 (type 0). */
	for (uint64_t pos = 1; pos <= 2; pos++) {
		uint8_t *slot = slot_of(&f.m, 0, pos);
		struct shmbus_event_header *ev = (void *)(slot + SLOT_META);
		memset(ev, 0, 56);
		ev->type = pos == 1 ? SHMBUS_EV_TRADE : 0;
		ev->size = pos == 1 ? 248 : 56;
		atomic_store(&((struct slot *)slot)->word, SLOT_WORD(pos));
	}
	h->tail = 3;
	struct shmbus_trade t = tu_trade(0, 7.0);
	assert_int_equal(shmbus_publish(f.p, &t), 2); /* r0 takes it at position 3 */
	struct tu_sink s;
	tu_sink_init(&s, 8);
	assert_int_equal(tu_drain(f.c[0], &s), 2);
	assert_int_equal(s.ev[0].h.size, sizeof(struct shmbus_trade));
	assert_true(((const struct shmbus_trade *)&s.ev[1])->price == 7.0);
	struct shmbus_ring_stat rs;
	assert_int_equal(shmbus_stat_ring(f.bus, 0, &rs), 0);
	assert_int_equal(rs.malformed, 2);
	assert_int_equal(rs.delivered, 2);
	tu_sink_free(&s);
	fixture_close(&f);
}

/* Symbol names read back are held to the interning rules. */
static void test_corrupt_symbol_name(void **state)
{
	(void)state;
	struct fixture f;
	fixture_open(&f, SHMBUS_POLICY_DROP, 0);
	int64_t id = shmbus_symbol_intern(f.bus, "SPY", 3);
	assert_true(id >= 1);
	struct sym_entry *e = (struct sym_entry *)(f.m.base + f.m.sb->syms_off) + (id - 1);
	char name[SHMBUS_SYMBOL_MAX + 1];
	memcpy(e->name, "SP\nY", 5);
	assert_int_equal(shmbus_symbol_name(f.bus, (uint32_t)id, name, sizeof name),
	                 SHMBUS_ECORRUPT);
	assert_msg_has("byte 3 of its name is 0x0a");
	memset(e->name, 'A', sizeof e->name);
	assert_int_equal(shmbus_symbol_name(f.bus, (uint32_t)id, name, sizeof name),
	                 SHMBUS_ECORRUPT);
	assert_msg_has("not terminated");
	memset(e->name, 0, sizeof e->name);
	memcpy(e->name, "SPY", 3);
	assert_int_equal(shmbus_symbol_name(f.bus, (uint32_t)id, name, sizeof name), 3);
	fixture_close(&f);
}

/* Counter names read back are held to [a-z0-9_]: they become JSON keys
 * and Prometheus labels. */
static void test_corrupt_counter_name(void **state)
{
	(void)state;
	struct fixture f;
	fixture_open(&f, SHMBUS_POLICY_DROP, 0);
	static const char *const names[] = {"sent", "acked"};
	assert_int_equal(shmbus_counters_define(f.bus, names, 2), 0);
	struct shmbus_participant_stat ps;
	int idx = tu_participant_stat(f.bus, getpid(), NULL, &ps);
	assert_true(idx >= 0);
	struct ctr_entry *c =
	    (struct ctr_entry *)(f.m.base + f.m.sb->ctrs_off) + (size_t)idx * CTR_SLOTS;
	struct shmbus_counter out[SHMBUS_MAX_COUNTERS];
	assert_int_equal(shmbus_stat_counters(f.bus, (uint32_t)idx, out, SHMBUS_MAX_COUNTERS), 2);
	memcpy(c[1].name, "x\"} 1", 6);
	assert_int_equal(shmbus_stat_counters(f.bus, (uint32_t)idx, out, SHMBUS_MAX_COUNTERS),
	                 SHMBUS_ECORRUPT);
	assert_msg_has("counter 1");
	fixture_close(&f);
}

/*
 * The superblock's geometry overwritten while the bus is attached (found
 * by a random mutation probe of whole segments). Every bound and offset
 * was read from the superblock at each use, so a max_rings grown since
 * attach walked tables past the mapping and overflowed a producer's
 * routing table (heap write), a moved arena let a ring region outside
 * the file pass the check, and a larger max_symbols made a filter's
 * memset overrun its ring. The handle's attach-time copy bounds all of
 * it now, and shmbus_stat_bus() reports the change.
 */
static void test_corrupt_geometry_after_attach(void **state)
{
	(void)state;
	static const struct {
		size_t off, size;
		uint64_t bad;
		const char *what;
	} cases[] = {
	    {offsetof(struct sb, max_rings), 4, 0xffffffffu, "max_rings"},
	    {offsetof(struct sb, max_rings), 4, 1024, "max_rings"},
	    {offsetof(struct sb, max_producers), 4, 0x200008u, "max_producers"},
	    {offsetof(struct sb, max_participants), 4, 0xffffffffu, "max_participants"},
	    {offsetof(struct sb, max_symbols), 4, 1u << 30, "max_symbols"},
	    {offsetof(struct sb, arena_off), 8, UINT64_C(0x4000000000000000), "arena_off"},
	    {offsetof(struct sb, arena_off), 8, 0xab, "arena_off"},
	    {offsetof(struct sb, arena_bytes), 8, UINT64_C(1) << 40, "arena_bytes"},
	};
	for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
		struct fixture f;
		fixture_open(&f, SHMBUS_POLICY_DROP, 2);
		shmbus_bus *ro;
		assert_int_equal(shmbus_bus_open_readonly("b", &ro), 0);
		uint8_t *field = f.m.base + cases[k].off;
		uint64_t saved = 0;
		memcpy(&saved, field, cases[k].size);
		memcpy(field, &cases[k].bad, cases[k].size);

		struct shmbus_bus_info bi;
		assert_int_equal(shmbus_stat_bus(ro, &bi), SHMBUS_ECORRUPT);
		assert_msg_has(cases[k].what);
		assert_msg_has("at attach");
		assert_int_equal(bi.max_rings, 16); /* the attach-time geometry */
		struct shmbus_ring_stat rs;
		for (uint32_t i = 0; i < 64; i++) /* bounded by 16, not the new value */
			assert_true(shmbus_stat_ring(ro, i, &rs) == (i < 2 ? 0 : i < 16 ? -ENOENT
			                                                               : -ERANGE));
		struct shmbus_participant_stat ps;
		assert_int_equal(shmbus_stat_participant(ro, 40, &ps), -ERANGE);
		struct shmbus_counter ctr[SHMBUS_MAX_COUNTERS];
		assert_int_equal(shmbus_stat_counters(ro, 40, ctr, SHMBUS_MAX_COUNTERS), -ERANGE);
		struct shmbus_producer_stat pr;
		assert_int_equal(shmbus_stat_producer(ro, 40, &pr), -ERANGE);
		char name[SHMBUS_SYMBOL_MAX + 1];
		assert_int_equal(shmbus_symbol_name(ro, 2000, name, sizeof name), -ENOENT);
		assert_int_equal(shmbus_symbol_lookup(ro, "NOPE", 4), -ENOENT);

		/* A new ring, with a symbol filter (bumps the generation). */
		int64_t sym = shmbus_symbol_intern(f.bus, "IBM", 3);
		assert_true(sym >= 1 && sym <= 1024);
		uint32_t ids[1] = {(uint32_t)sym};
		struct shmbus_sub_opts so;
		tu_sub_opts(&so, 8, 64, SHMBUS_POLICY_DROP);
		so.symbols = ids;
		so.nsymbols = 1;
		shmbus_consumer *c2 = NULL;
		assert_int_equal(shmbus_subscribe(f.bus, "r2", &so, &c2), 0);
		/* The producer rebuilds its routes now: r0, r1 and r2. */
		struct shmbus_trade t = tu_trade((uint32_t)sym, 5.0);
		assert_int_equal(shmbus_publish(f.p, &t), 3);
		const void *evs[2] = {&t, &t};
		assert_int_equal(shmbus_publish_batch(f.p, evs, 2), 6);
		shmbus_producer *p2;
		assert_int_equal(shmbus_producer_open(f.bus, NULL, &p2), 0);
		assert_int_equal(shmbus_publish(p2, &t), 3);
		shmbus_producer_close(p2);
		struct tu_sink s;
		tu_sink_init(&s, 16);
		assert_int_equal(tu_drain(c2, &s), 4);
		assert_int_equal(tu_drain(f.c[0], &s), 2 + 4);
		tu_sink_free(&s);
		assert_true(shmbus_bus_reap(f.bus) >= 0);
		assert_int_equal(shmbus_unsubscribe(c2), 0);

		memcpy(field, &saved, cases[k].size);
		assert_int_equal(shmbus_stat_bus(ro, &bi), 0);
		assert_int_equal(shmbus_bus_close(ro), 0);
		fixture_close(&f);
	}
}

static _Atomic int flip_stop;
static volatile uint64_t *flip_word;
static uint64_t flip_good, flip_bad;

static void *flip_fn(void *arg)
{
	(void)arg;
	while (!flip_stop) {
		*flip_word = flip_bad;
		*flip_word = flip_good;
	}
	return NULL;
}

/* The child of the test below: subscribes for a second while a thread
 * flips the ring's region offset. 0, or dies of a stray write. */
static int flip_child(void *arg)
{
	(void)arg;
	shmbus_bus *b;
	TU_CHILD_CHECK(tu_bus_create("flip", 4, &b) == 0);
	struct shmbus_sub_opts o;
	tu_sub_opts(&o, 1024, 64, SHMBUS_POLICY_DROP);
	o.types = SHMBUS_TYPE_BIT(SHMBUS_EV_TRADE);
	shmbus_consumer *c;
	TU_CHILD_CHECK(shmbus_subscribe(b, "r", &o, &c) == 0);
	struct ring_desc *d = &b->rings[shmbus_consumer_ring(c)];
	shmbus_consumer_close(c);
	flip_word = (volatile uint64_t *)&d->region_off;
	flip_good = d->region_off;
	flip_bad = flip_good + (UINT64_C(1) << 44); /* far outside the mapping */
	pthread_t th;
	TU_CHILD_CHECK(pthread_create(&th, NULL, flip_fn, NULL) == 0);
	int64_t end = shmbus_mono_ns() + 1000000000;
	unsigned long n = 0, refused = 0;
	for (; shmbus_mono_ns() < end; n++) {
		if (shmbus_subscribe(b, "r", &o, &c) == 0)
			shmbus_consumer_close(c);
		else
			refused++;
	}
	flip_stop = 1;
	pthread_join(th, NULL);
	*flip_word = flip_good;
	printf("# %lu subscribes, %lu refused\n", n, refused);
	fflush(stdout);
	shmbus_bus_close(b);
	shmbus_bus_destroy("flip");
	return 0;
}

/*
 * A ring entry's region offset flipped by another process between the
 * check of the entry and its use, while a consumer subscribes again (found
 * by review): the symbol bitmap was cleared through the offset read again
 * after the check, a write of max_symbols/8 bytes anywhere (a crash in
 * 4 runs of 4 within 2.5k..214k subscribes). Now every write goes through
 * the checked copy: subscribes are refused or succeed, in a child that
 * would die of the stray write, for about a second.
 */
static void test_corrupt_region_flipped_during_subscribe(void **state)
{
	(void)state;
	assert_true(tu_exited_ok(tu_run_in_child(flip_child, NULL, 30000)));
}

#ifdef __GLIBC__
/* A lock word held by a thread that does not exist (never on the robust
 * list, so no EOWNERDEAD): operations that need the lock fail after a
 * bounded wait, naming the holder, instead of hanging. */
static void test_corrupt_lock_word(void **state)
{
	(void)state;
	struct fixture f;
	fixture_open(&f, SHMBUS_POLICY_DROP, 0);
	pthread_mutex_t saved = f.m.sb->lock;
	f.m.sb->lock.__data.__lock = 0x3ffffff0;
	f.m.sb->lock.__data.__owner = 0x3ffffff0;
	int64_t t0 = tu_mono_ms();
	assert_int_equal(shmbus_symbol_intern(f.bus, "QQQ", 3), -ETIMEDOUT);
	assert_true(tu_mono_ms() - t0 < 30000);
	assert_msg_has("thread 1073741808");
	f.m.sb->lock = saved;
	assert_true(shmbus_symbol_intern(f.bus, "QQQ", 3) >= 1);
	fixture_close(&f);
}
#endif

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_corrupt_ring_index, tu_setup, tu_teardown),
	    cmocka_unit_test_setup_teardown(test_corrupt_region_alias, tu_setup, tu_teardown),
	    cmocka_unit_test(test_corrupt_positions_sound_when_live),
	    cmocka_unit_test_setup_teardown(test_corrupt_positions_at_attach, tu_setup,
	                                    tu_teardown),
	    cmocka_unit_test_setup_teardown(test_corrupt_head_live_producer, tu_setup, tu_teardown),
	    cmocka_unit_test_setup_teardown(test_corrupt_tail_live_consumer, tu_setup, tu_teardown),
	    cmocka_unit_test_setup_teardown(test_corrupt_arena_used, tu_setup, tu_teardown),
	    cmocka_unit_test_setup_teardown(test_corrupt_event_header, tu_setup, tu_teardown),
	    cmocka_unit_test_setup_teardown(test_corrupt_symbol_name, tu_setup, tu_teardown),
	    cmocka_unit_test_setup_teardown(test_corrupt_counter_name, tu_setup, tu_teardown),
	    cmocka_unit_test_setup_teardown(test_corrupt_geometry_after_attach, tu_setup,
	                                    tu_teardown),
	    cmocka_unit_test_setup_teardown(test_corrupt_region_flipped_during_subscribe, tu_setup,
	                                    tu_teardown),
#ifdef __GLIBC__
	    cmocka_unit_test_setup_teardown(test_corrupt_lock_word, tu_setup, tu_teardown),
#endif
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
