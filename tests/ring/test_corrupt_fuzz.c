/*
 * test_corrupt_fuzz.c - seeded random damage to a whole bus segment.
 *
 * test_corrupt.c patches one known field at a time; this one replays, a
 * few hundred cases from fixed seeds, the random mutation probe that
 * found the superblock geometry being trusted after attach: 1 to 3
 * fields of the superblock, ring entries and headers, slots, participant,
 * producer, symbol and counter entries (or random bytes) are set to 0,
 * ~0, off by one, a flipped bit, a huge or a random value, either in the
 * file before anyone attaches or through a second mapping while the bus
 * is attached, producing and consuming. Then everything a user runs is
 * run against it: attach, every stat call, subscribe (existing and new
 * rings), poll and wait, producer open, publish, claim/commit and batch,
 * symbols, reap, ring declare and remove. Every call must return (a
 * result or an error code); ASan and UBSan in CI catch the rest.
 *
 * Left out on purpose: the lock word (a damaged one costs each locking
 * call its 5 s timeout, test_corrupt.c covers it) and a ring's full
 * policy (every ring here drops: a block ring whose only consumer is this
 * very thread would wait for it, by design).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <sys/mman.h>

#include "ring/bus_internal.h"
#include "ring/layout.h"
#include "ring/test_util.h"

#define FUZZ_CASES 250
#define NRINGS 5

static const char *const ring_names[NRINGS] = {"plain", "sym", "grp0", "grp1", "decl"};

struct field {
	uint32_t off, size;
};
#define FLD(T, m) {offsetof(struct T, m), sizeof(((struct T *)0)->m)}
#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

static const struct field sb_fields[] = {
    FLD(sb, magic),         FLD(sb, abi_version),   FLD(sb, sb_size),
    FLD(sb, layout_hash),   FLD(sb, total_bytes),   FLD(sb, max_rings),
    FLD(sb, max_participants), FLD(sb, max_producers), FLD(sb, max_symbols),
    FLD(sb, backing),       FLD(sb, flags),         FLD(sb, creator_pid),
    FLD(sb, rings_off),     FLD(sb, parts_off),     FLD(sb, prods_off),
    FLD(sb, syms_off),      FLD(sb, arena_off),     FLD(sb, arena_bytes),
    FLD(sb, name),          FLD(sb, route_gen),     FLD(sb, arena_used),
    FLD(sb, nsymbols),      FLD(sb, ctrs_off),
};
static const struct field desc_fields[] = {
    FLD(ring_desc, state),        FLD(ring_desc, index),        FLD(ring_desc, region_off),
    FLD(ring_desc, region_bytes), FLD(ring_desc, types),        FLD(ring_desc, capacity),
    FLD(ring_desc, slot_size),    FLD(ring_desc, wait),         FLD(ring_desc, flags),
    FLD(ring_desc, nsymbols),     FLD(ring_desc, group_size),   FLD(ring_desc, group_member),
    FLD(ring_desc, name),         FLD(ring_desc, group),        FLD(ring_desc, consumer_pid),
    FLD(ring_desc, consumer_start), FLD(ring_desc, stuck_timeout_ns), FLD(ring_desc, sp_owner),
};
static const struct field hdr_fields[] = {
    FLD(ring_hdr, capacity),   FLD(ring_hdr, mask),     FLD(ring_hdr, slot_size),
    FLD(ring_hdr, slot_shift), FLD(ring_hdr, desc_index), FLD(ring_hdr, bitmap_off),
    FLD(ring_hdr, slots_off),  FLD(ring_hdr, tail),     FLD(ring_hdr, head),
    FLD(ring_hdr, sleeping),   FLD(ring_hdr, wake_seq), FLD(ring_hdr, prod_waiting),
    FLD(ring_hdr, space_seq),
};
static const struct field slot_fields[] = {
    {0, 8},
    {SLOT_META + offsetof(struct shmbus_event_header, type), 2},
    {SLOT_META + offsetof(struct shmbus_event_header, size), 2},
    {SLOT_META + offsetof(struct shmbus_event_header, symbol_id), 4},
};
static const struct field part_fields[] = {
    FLD(part_entry, state), FLD(part_entry, pid),  FLD(part_entry, start_time),
    FLD(part_entry, role),  FLD(part_entry, name), FLD(part_entry, ctr_count),
};
static const struct field prod_fields[] = {
    FLD(prod_entry, state),     FLD(prod_entry, participant), FLD(prod_entry, pid),
    FLD(prod_entry, source_id), FLD(prod_entry, last_seq),    FLD(prod_entry, claim),
    FLD(prod_entry, rings_seen),
};
static const struct field sym_fields[] = {FLD(sym_entry, state), FLD(sym_entry, hash),
                                          FLD(sym_entry, name)};
static const struct field ctr_fields[] = {FLD(ctr_entry, name), FLD(ctr_entry, value)};

/* The pristine segment and where its pieces are. */
static uint8_t *pristine;
static size_t plen;
static uint32_t sym_ids[4];

static uint64_t rng;
static uint64_t rnd(void)
{
	return tu_rand(&rng);
}
static uint64_t rnd_below(uint64_t n)
{
	return n ? rnd() % n : 0;
}

static uint64_t damaged_value(uint64_t orig, uint32_t size)
{
	uint32_t bits = size >= 8 ? 64 : size * 8;
	switch (rnd_below(12)) {
	case 0: return 0;
	case 1: return ~UINT64_C(0);
	case 2: return orig + 1;
	case 3: return orig - 1;
	case 4: return orig ^ (UINT64_C(1) << rnd_below(bits));
	case 5: return rnd();
	case 6: return UINT64_C(1) << rnd_below(64);
	case 7: return rnd_below(300);
	case 8: return orig * 2;
	case 9: return 0x80000000u;
	case 10: return UINT64_C(1) << 62;
	default: return orig + rnd_below(8192);
	}
}

/* Damage field f of the structure at base + at. */
static void damage_field(uint8_t *base, uint64_t at, const struct field *f)
{
	uint8_t *p = base + at + f->off;
	if (f->size > 8) { /* a name or an array: one byte, or all of it */
		if (rnd_below(3) == 0)
			memset(p, (int)(rnd() & 0xff), f->size);
		else
			p[rnd_below(f->size)] = (uint8_t)rnd();
		return;
	}
	uint64_t v = 0;
	memcpy(&v, p, f->size);
	v = damaged_value(v, f->size);
	memcpy(p, &v, f->size);
}

/* One random damage to the segment at base (laid out like pristine). */
static void damage_one(uint8_t *base)
{
	const struct sb *sb = (const struct sb *)pristine;
	const struct ring_desc *rd = (const struct ring_desc *)(pristine + sb->rings_off);
	uint32_t used[16], n = 0;
	for (uint32_t i = 0; i < sb->max_rings && n < 16; i++)
		if (rd[i].state != RING_STATE_FREE)
			used[n++] = i;
	uint32_t r = used[rnd_below(n)];
	const struct ring_hdr *h = (const struct ring_hdr *)(pristine + rd[r].region_off);
	switch (rnd_below(10)) {
	case 0:
		damage_field(base, 0, &sb_fields[rnd_below(NELEM(sb_fields))]);
		break;
	case 1:
	case 2:
		damage_field(base, sb->rings_off + (uint64_t)r * sizeof(struct ring_desc),
		             &desc_fields[rnd_below(NELEM(desc_fields))]);
		break;
	case 3:
		damage_field(base, rd[r].region_off, &hdr_fields[rnd_below(NELEM(hdr_fields))]);
		break;
	case 4: {
		uint64_t pos = h->head + rnd_below(h->tail - h->head + 2);
		uint64_t at = rd[r].region_off + h->slots_off + (pos & h->mask) * h->slot_size;
		damage_field(base, at, &slot_fields[rnd_below(NELEM(slot_fields))]);
		break;
	}
	case 5:
		damage_field(base, sb->parts_off + rnd_below(2) * sizeof(struct part_entry),
		             &part_fields[rnd_below(NELEM(part_fields))]);
		break;
	case 6:
		damage_field(base, sb->prods_off + rnd_below(2) * sizeof(struct prod_entry),
		             &prod_fields[rnd_below(NELEM(prod_fields))]);
		break;
	case 7:
		damage_field(base, sb->syms_off + rnd_below(sb->max_symbols) * sizeof(struct sym_entry),
		             &sym_fields[rnd_below(NELEM(sym_fields))]);
		break;
	case 8:
		damage_field(base, sb->ctrs_off + rnd_below(2) * sizeof(struct ctr_entry),
		             &ctr_fields[rnd_below(NELEM(ctr_fields))]);
		break;
	default: { /* random bytes in the tables, never in the lock word */
		uint64_t lock = offsetof(struct sb, lock_pad);
		for (uint32_t k = 1 + (uint32_t)rnd_below(6); k > 0; k--) {
			uint64_t at = rnd_below(sb->arena_off);
			if (at < lock || at >= lock + sizeof(((struct sb *)0)->lock_pad))
				base[at] = (uint8_t)rnd();
		}
	}
	}
}

static void publish_some(shmbus_producer *p, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++) {
		struct shmbus_trade t = tu_trade(i % 5 == 4 ? 0 : sym_ids[i % 4], 100.0 + i);
		assert_true(shmbus_publish(p, &t) >= 0);
	}
}

/* The bus every case starts from: rings plain, sym (two symbols), grp0
 * and grp1 (a group of two), decl (declared, single-producer), all drop
 * policy; events queued in each; no process attached. */
static void build_pristine(void)
{
	struct shmbus_bus_opts bo;
	tu_bus_opts(&bo, 1);
	bo.arena_bytes = 256u << 10;
	bo.max_rings = 8;
	bo.max_participants = 8;
	bo.max_producers = 8;
	bo.max_symbols = 64;
	shmbus_bus *b;
	assert_int_equal(shmbus_bus_create("fz", &bo, &b), 0);
	static const char *const syms[] = {"AAPL", "MSFT", "SPY", "QQQ"};
	for (int i = 0; i < 4; i++) {
		int64_t id = shmbus_symbol_intern(b, syms[i], strlen(syms[i]));
		assert_true(id >= 1);
		sym_ids[i] = (uint32_t)id;
	}
	static const char *const cn[] = {"sent", "acked"};
	assert_int_equal(shmbus_counters_define(b, cn, 2), 0);
	shmbus_consumer *c[4];
	struct shmbus_sub_opts so;
	for (int i = 0; i < 4; i++) {
		tu_sub_opts(&so, i == 0 ? 64 : 16, i == 1 ? 128 : 64, SHMBUS_POLICY_DROP);
		if (i == 1) {
			so.symbols = sym_ids;
			so.nsymbols = 2;
		} else if (i >= 2) {
			so.group = "grp";
			so.group_size = 2;
			so.group_member = (uint32_t)i - 2;
		}
		assert_int_equal(shmbus_subscribe(b, ring_names[i], &so, &c[i]), 0);
	}
	tu_sub_opts(&so, 16, 256, SHMBUS_POLICY_DROP);
	so.flags = SHMBUS_SUB_SINGLE_PRODUCER;
	assert_int_equal(shmbus_ring_declare(b, "decl", &so), 0);
	shmbus_producer *p;
	assert_int_equal(shmbus_producer_open(b, NULL, &p), 0);
	publish_some(p, 12);
	shmbus_producer_close(p);
	for (int i = 0; i < 4; i++)
		shmbus_consumer_close(c[i]);
	assert_int_equal(shmbus_bus_close(b), 0);

	char path[256];
	assert_int_equal(shmbus_bus_path("fz", path, sizeof path), 0);
	int fd = open(path, O_RDONLY);
	assert_true(fd >= 0);
	struct stat st;
	assert_int_equal(fstat(fd, &st), 0);
	plen = (size_t)st.st_size;
	pristine = malloc(plen);
	assert_non_null(pristine);
	assert_int_equal(pread(fd, pristine, plen, 0), (ssize_t)plen);
	close(fd);
}

/* Put the pristine bytes (damaged first when `damage`) back in the file. */
static void restore(int ndamage)
{
	uint8_t *copy = malloc(plen);
	assert_non_null(copy);
	memcpy(copy, pristine, plen);
	for (int i = 0; i < ndamage; i++)
		damage_one(copy);
	char path[256];
	assert_int_equal(shmbus_bus_path("fz", path, sizeof path), 0);
	int fd = open(path, O_WRONLY);
	assert_true(fd >= 0);
	assert_int_equal(pwrite(fd, copy, plen, 0), (ssize_t)plen);
	close(fd);
	free(copy);
}

/* Damage the live segment through a mapping of our own. */
static void damage_live(int ndamage)
{
	char path[256];
	assert_int_equal(shmbus_bus_path("fz", path, sizeof path), 0);
	int fd = open(path, O_RDWR);
	assert_true(fd >= 0);
	uint8_t *m = mmap(NULL, plen, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	assert_true(m != MAP_FAILED);
	for (int i = 0; i < ndamage; i++)
		damage_one(m);
	munmap(m, plen);
}

/* Every read-only call over every entry; returns whether stat_bus passed. */
static bool stat_everything(const shmbus_bus *b)
{
	struct shmbus_bus_info bi;
	int rc = shmbus_stat_bus(b, &bi);
	assert_true(rc == 0 || rc == SHMBUS_ECORRUPT);
	if (rc)
		return false;
	for (uint32_t i = 0; i <= bi.max_rings; i++) {
		struct shmbus_ring_stat rs;
		assert_true(shmbus_stat_ring(b, i, &rs) <= 0);
	}
	for (uint32_t i = 0; i <= bi.max_participants; i++) {
		struct shmbus_participant_stat ps;
		struct shmbus_counter ctr[SHMBUS_MAX_COUNTERS];
		assert_true(shmbus_stat_participant(b, i, &ps) <= 0);
		assert_true(shmbus_stat_counters(b, i, ctr, SHMBUS_MAX_COUNTERS) <= SHMBUS_MAX_COUNTERS);
	}
	for (uint32_t i = 0; i <= bi.max_producers; i++) {
		struct shmbus_producer_stat pr;
		assert_true(shmbus_stat_producer(b, i, &pr) <= 0);
	}
	shmbus_stat_find_ring(b, "plain");
	char name[SHMBUS_SYMBOL_MAX + 1];
	for (uint32_t id = 0; id <= bi.max_symbols + 1; id++)
		assert_true(shmbus_symbol_name(b, id, name, sizeof name) <= SHMBUS_SYMBOL_MAX);
	shmbus_symbol_lookup(b, "AAPL", 4);
	return true;
}

static void drain_all(shmbus_consumer *const *c, size_t n, struct tu_sink *s)
{
	for (size_t i = 0; i < n; i++)
		if (c[i])
			tu_drain(c[i], s);
}

/* What producers do: single events, claim/commit, a batch. */
static void produce(shmbus_producer *p)
{
	publish_some(p, 5);
	void *ev;
	if (shmbus_claim(p, SHMBUS_EV_TRADE, sym_ids[0], sizeof(struct shmbus_trade), &ev) == 0) {
		((struct shmbus_trade *)ev)->price = 1.0;
		assert_true(shmbus_commit(p) >= 0);
	}
	struct shmbus_trade t[6];
	const void *evs[6];
	for (int i = 0; i < 6; i++) {
		t[i] = tu_trade(sym_ids[i % 4], i);
		evs[i] = &t[i];
	}
	assert_true(shmbus_publish_batch(p, evs, 6) >= 0);
}

/*
 * One case: damage before attach (live false) or after (live true), then
 * the whole workload. Returns whether the bus could be attached.
 */
static bool run_case(bool live, int ndamage)
{
	restore(live ? 0 : ndamage);
	shmbus_bus *ro = NULL, *b = NULL;
	int rc = shmbus_bus_open_readonly("fz", &ro);
	if (rc != 0) {
		assert_true(rc < 0);
		assert_true(shmbus_errmsg()[0] != '\0');
		return false;
	}
	if (!live)
		stat_everything(ro);
	if (shmbus_bus_open("fz", "fuzz", SHMBUS_ROLE_SERVICE, &b) != 0) {
		shmbus_bus_close(ro);
		return false;
	}
	shmbus_consumer *c[NRINGS + 1] = {0};
	shmbus_producer *p = NULL, *p2 = NULL;
	struct tu_sink s;
	tu_sink_init(&s, 0); /* counts only */
	if (live) { /* attached, subscribed, producing: then damaged */
		for (int i = 0; i < NRINGS; i++)
			if (shmbus_subscribe(b, ring_names[i], NULL, &c[i]) != 0)
				c[i] = NULL;
		assert_int_equal(shmbus_producer_open(b, NULL, &p), 0);
		produce(p);
		drain_all(c, NRINGS, &s);
		damage_live(ndamage);
		produce(p);
		drain_all(c, NRINGS, &s);
	}
	stat_everything(ro);
	stat_everything(b);
	shmbus_bus_reap(b);
	int64_t id = shmbus_symbol_intern(b, "NEWSYM", 6);
	assert_true(id != 0);
	static const char *const cn[] = {"a"};
	shmbus_counters_define(b, cn, 1);
	for (int i = 0; i < NRINGS && !live; i++)
		if (shmbus_subscribe(b, ring_names[i], NULL, &c[i]) != 0)
			c[i] = NULL;
	struct shmbus_sub_opts so;
	tu_sub_opts(&so, 16, 64, SHMBUS_POLICY_DROP);
	uint32_t one = id > 0 && id <= 64 ? (uint32_t)id : 1;
	so.symbols = &one;
	so.nsymbols = 1;
	if (shmbus_subscribe(b, "fresh", &so, &c[NRINGS]) != 0) /* new generation */
		c[NRINGS] = NULL;
	drain_all(c, NRINGS + 1, &s);
	for (int i = 0; i <= NRINGS; i++)
		if (c[i]) {
			assert_true(shmbus_wait(c[i], 100000) <= 0);
			assert_true(shmbus_wait_batch(c[i], 4, 10000, 100000) <= 0);
		}
	if (shmbus_producer_open(b, NULL, &p2) == 0) {
		produce(p2);
		drain_all(c, NRINGS + 1, &s);
		shmbus_producer_close(p2);
	}
	if (p) {
		produce(p);
		drain_all(c, NRINGS + 1, &s);
		shmbus_producer_close(p);
	}
	tu_sub_opts(&so, 16, 64, SHMBUS_POLICY_DROP);
	shmbus_ring_declare(b, "decl2", &so);
	stat_everything(b);
	for (int i = 0; i <= NRINGS; i++)
		if (c[i]) {
			if (i % 2)
				assert_int_equal(shmbus_unsubscribe(c[i]), 0);
			else
				shmbus_consumer_close(c[i]);
		}
	shmbus_ring_remove(b, "decl");
	shmbus_ring_remove(b, "decl2");
	shmbus_bus_reap(b);
	tu_sink_free(&s);
	assert_int_equal(shmbus_bus_close(b), 0);
	assert_int_equal(shmbus_bus_close(ro), 0);
	return true;
}

static void run_cases(uint64_t seed, bool live)
{
	build_pristine();
	unsigned attached = 0;
	for (unsigned k = 0; k < FUZZ_CASES; k++) {
		rng = seed + k;
		int ndamage = 1 + (int)rnd_below(3);
		attached += run_case(live, ndamage);
	}
	/* Both kinds of outcome happened: the damage was not all refused at
	 * attach, nor all harmless. */
	assert_true(attached > FUZZ_CASES / 4);
	if (!live)
		assert_true(attached < FUZZ_CASES);
	free(pristine);
	pristine = NULL;
	assert_int_equal(shmbus_bus_destroy("fz"), 0);
}

/* Damage in the file, then attach and use it. */
static void test_corrupt_fuzz_before_attach(void **state)
{
	(void)state;
	run_cases(UINT64_C(0x5eed0001) << 20, false);
}

/* Damage while attached, subscribed and producing, then go on using it. */
static void test_corrupt_fuzz_while_attached(void **state)
{
	(void)state;
	run_cases(UINT64_C(0x5eed0002) << 20, true);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    TU_TEST(test_corrupt_fuzz_before_attach),
	    TU_TEST(test_corrupt_fuzz_while_attached),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
