/*
 * bus_internal.h - the bus handle and helpers shared by src/ring files.
 */
#ifndef RING_BUS_INTERNAL_H
#define RING_BUS_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "shmbus/bus.h"
#include "shmbus/consumer.h"
#include "layout.h"

struct shmbus_bus {
	uint8_t *base;
	size_t size;
	bool readonly;
	bool anonymous;
	struct sb *sb;
	struct ring_desc *rings;
	struct part_entry *parts;
	struct prod_entry *prods;
	struct sym_entry *syms;
	struct ctr_entry *ctrs;
	/* The geometry segment_validate() checked at attach. Every bound and
	 * offset is taken from here, never read again from the superblock:
	 * any process may overwrite that while we run, and a table walked
	 * to a max_rings grown since, or a region bounded by a moved arena,
	 * is memory outside the mapping (shmbus_stat_bus() reports such a
	 * change). */
	uint32_t max_rings, max_participants, max_producers, max_symbols;
	uint64_t arena_off, arena_bytes;
	int32_t part_index; /* -1: not a participant (read-only) */
	pid_t pid;
	uint32_t forks; /* proc_forks() when opened: another value in a forked child */
	uint64_t start_time;
	char name[SHMBUS_NAME_MAX + 1];
};

/* errors.c: set the thread's detail message and return code. */
int bus_err(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void bus_err_clear(void);

/* proc.c: process identity and liveness. */
uint64_t proc_start_time(pid_t pid); /* 0 when unknown */
bool proc_alive(pid_t pid, uint64_t start_time); /* start 0: pid only */
uint64_t proc_self_start_time(void);
/* Forks this process came out of as the child since the library first
 * counted (a fork handler): comparing it with a value taken before tells
 * a forked child without a system call, where getpid() is one. */
uint32_t proc_forks(void);
/* Is the process of producer entry e alive: its pid and start time, as a
 * participant's (an entry with no start time, an older library's: its pid). */
static inline bool prod_alive(const struct prod_entry *e)
{
	return proc_alive(e->pid, e->start_time);
}

/* segment.c */
int bus_check_name(const char *what, const char *name);
int bus_lock(struct shmbus_bus *bus);
void bus_unlock(struct shmbus_bus *bus);
void bus_bump_generation(struct shmbus_bus *bus);

/* symbols.c: recount the symbols after a lock holder died (locked). */
void sym_recount_locked(struct shmbus_bus *bus);

/* ring_desc.c: bounds-checked access to a ring's region. */
int ring_desc_check(const struct shmbus_bus *bus, const struct ring_desc *d);
/* head <= tail <= head + cap (the checked capacity, not the header's live
 * word), else SHMBUS_ECORRUPT naming ring `index`. */
int ring_positions_check(const struct ring_hdr *h, uint32_t index, uint32_t cap);
/* The test behind it, on head read before tail (h1), tail (t) and head
 * read after (h2): both only grow, so a sound ring gives h1 <= t <=
 * h2 + cap, and h2 may already be past t. */
static inline bool ring_positions_sound(uint64_t h1, uint64_t t, uint64_t h2, uint32_t cap)
{
	return h1 <= t && t <= h2 + cap;
}
size_t ring_region_bytes(uint32_t capacity, uint32_t slot_size, uint32_t max_symbols);
bool ring_consumer_alive(const struct ring_desc *d);
/* Mark ring d orphaned if its consumer is dead. Returns true if it did. */
bool ring_orphan_if_dead(struct shmbus_bus *bus, struct ring_desc *d);

/* ring_desc.c, the arena; every call under the bus lock. */
struct ring_alloc {
	struct ring_desc *desc; /* a FREE entry for the new ring */
	uint64_t off, bytes;    /* its region to be (arena_used already covers it) */
};
/* Pick a FREE entry and the best-fitting gap of at least need bytes (a
 * multiple of 4096) between the regions of the entries in use, for ring
 * `name`. 0, or -ENOSPC / -ENOMEM with a detail. */
int ring_region_alloc_locked(struct shmbus_bus *bus, const char *name, uint64_t need,
			     struct ring_alloc *a);
/* arena_used := the end of the highest region in use. */
void ring_arena_trim_locked(struct shmbus_bus *bus);
/* Free entry d (unsubscribe, removal, recycling): nameless and FREE (R2),
 * a new routing generation (R1), its region record cleared, the arena's
 * high-water mark recomputed. */
void ring_entry_free_locked(struct shmbus_bus *bus, struct ring_desc *d);

/* routing.c: a test hook, NULL outside tests. RING_HOOK_MID_RUN runs
 * when a batch has committed the first of a run of claimed positions and
 * the others are still claimed, uncommitted (kill tests stop there);
 * RING_HOOK_STAT_RING when shmbus_stat_ring() has its view of a ring and
 * reads the rest of it next; RING_HOOK_STAT_PARTICIPANT when
 * shmbus_stat_participant() has read an entry's name and pid and reads
 * the rest of it next. */
enum ring_hook { RING_HOOK_MID_RUN = 1, RING_HOOK_STAT_RING = 2, RING_HOOK_STAT_PARTICIPANT = 3 };
extern void (*ring_test_hook)(enum ring_hook where);

/* bus_dir.c: where named buses live (see there). */
#define BUS_HUGE_PAGE (2u << 20)
bool bus_dir_is_hugetlbfs(const char *dir);
/* Bytes of 2 MiB pages a new bus in hugetlbfs directory dir can get (0:
 * no such directory). */
uint64_t bus_dir_huge_free(const char *dir);
/* Directory a new bus of need bytes goes to: SHMBUS_DIR; else, unless
 * hugepages (enum shmbus_hugepages) is never, the first hugetlbfs mount
 * with the pages free; else /dev/shm, or NULL when hugepages is always. */
const char *bus_dir_for_create(uint64_t need, int hugepages, char *buf, size_t len);
/* dir/shmbus.name into buf; 0 or -ENAMETOOLONG. */
int bus_path_in(const char *dir, const char *name, char *buf, size_t len);

/* participants.c */
int part_register(struct shmbus_bus *bus, const char *name, enum shmbus_role role);
void part_unregister(struct shmbus_bus *bus);

static inline uint64_t align_up(uint64_t v, uint64_t a)
{
	return (v + a - 1) & ~(a - 1);
}

/*
 * A producer entry leaving the table (closed, reaped, or a dead one's slot
 * taken) moves its counters into the superblock's retired totals, so that
 * shmbus_stat_producer_totals() never goes back. Under the bus lock (one
 * mover at a time), between prod_retire_begin() and prod_retire_end(),
 * which make retire_seq odd then even again; readers retry around it.
 */
void prod_retire_begin(struct shmbus_bus *b);
void prod_retire_counts(struct shmbus_bus *b, const struct prod_entry *e);
void prod_retire_end(struct shmbus_bus *b);

/* now + timeout_ns, INT64_MAX for a negative timeout (none) or one so
 * large that the sum would overflow. */
static inline int64_t deadline_after(int64_t now, int64_t timeout_ns)
{
	return timeout_ns < 0 || timeout_ns > INT64_MAX - now ? INT64_MAX : now + timeout_ns;
}

/* FNV-1a, for name hashes (symbols, groups) and the layout hash. */
static inline uint32_t fnv1a32(const void *p, size_t n)
{
	const uint8_t *b = p;
	uint32_t h = 2166136261u;
	for (size_t i = 0; i < n; i++)
		h = (h ^ b[i]) * 16777619u;
	return h;
}

static inline uint64_t fnv1a64(uint64_t h, const void *p, size_t n)
{
	const uint8_t *b = p;
	for (size_t i = 0; i < n; i++)
		h = (h ^ b[i]) * UINT64_C(1099511628211);
	return h;
}
#define FNV64_INIT UINT64_C(14695981039346656037)

#endif
