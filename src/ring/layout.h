/*
 * layout.h - the bytes of a bus segment. Private: tools read them through
 * the stat API, never through this header.
 *
 *   [superblock 512 B][ring directory][participants][producer slots]
 *   [symbol table][arena: ring regions, 64-byte aligned]
 *
 * Everything is addressed by offsets from the segment base, never by
 * pointers, and every offset is checked against the segment size when a
 * process attaches. Fields written by different processes at high rates
 * (ring tail, ring head, the sleep words, counters) each own a cache line,
 * with a guard line after the hottest ones against the adjacent-line
 * prefetcher (as DPDK's rte_ring does).
 */
#ifndef RING_LAYOUT_H
#define RING_LAYOUT_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "shmbus/stat.h"
#include "atomics.h"

#define SB_MAGIC UINT64_C(0x31305355424D4853) /* "SHMBUS01" little-endian */
#define SB_ABI_VERSION 2u /* 2: claim records hold a run of positions */
#define SB_SIZE 512u

enum sb_flags {
	SB_F_ANON = 0x1,
	SB_F_PREFAULT = 0x2, /* attachers map every page at open, too */
};

struct sb {
	/* line 0-1: identity and geometry, read-only after creation */
	uint64_t magic;
	_Atomic uint32_t abi_version; /* 0 while building; R0: set last */
	uint32_t sb_size;
	uint64_t layout_hash;
	uint64_t total_bytes;
	uint32_t max_rings;
	uint32_t max_participants;
	uint32_t max_producers;
	uint32_t max_symbols;
	uint32_t backing;
	uint32_t flags;
	int32_t creator_pid;
	_Atomic uint32_t kept; /* shmbus_bus_set_kept(): 1 kept for a later run (was 0) */
	uint64_t creator_start;
	int64_t created_ns;
	uint64_t rings_off;
	uint64_t parts_off;
	uint64_t prods_off;
	uint64_t syms_off;
	uint64_t arena_off;
	uint64_t arena_bytes;
	/* line 2 */
	char name[64];
	/* lines 3-4: cold-path lock, process-shared and robust */
	union {
		pthread_mutex_t lock;
		char lock_pad[128];
	};
	/* lines 5-6: routing generation, read on every publish; guard line */
	_Atomic uint64_t route_gen;
	char gen_pad[120];
	/* line 7: allocation state, under the lock */
	uint64_t arena_used;
	_Atomic uint32_t nsymbols;
	_Atomic uint32_t retire_seq; /* odd while a producer's counters move (was 0) */
	uint64_t ctrs_off; /* named counters: max_participants x CTR_SLOTS */
	/* Counters of the producers that closed or died (reaped, or their
	 * slot taken), added as their entry leaves the table, so that a
	 * bus-wide total never goes back (Prometheus reads a drop as a
	 * counter reset). Moved under the lock, inside retire_seq odd
	 * (shmbus_stat_producer_totals() reads around it). Was padding
	 * (zero) before: an older library's buses read as none retired. */
	_Atomic uint64_t retired_published, retired_delivered, retired_dropped;
	_Atomic uint64_t retired_routed_around, retired_unrouted;
};
_Static_assert(sizeof(pthread_mutex_t) <= 128, "mutex fits its lines");
_Static_assert(sizeof(struct sb) == SB_SIZE, "superblock size");
_Static_assert(offsetof(struct sb, abi_version) == 8, "version offset");
_Static_assert(offsetof(struct sb, name) == 128, "name line");
_Static_assert(offsetof(struct sb, lock) % CACHE_LINE == 0, "lock line");
_Static_assert(offsetof(struct sb, route_gen) % CACHE_LINE == 0, "gen line");
_Static_assert(offsetof(struct sb, arena_used) % CACHE_LINE == 0, "alloc line");
_Static_assert(offsetof(struct sb, retired_published) == offsetof(struct sb, ctrs_off) + 8 &&
		       offsetof(struct sb, retired_unrouted) + 8 == SB_SIZE,
	       "retired totals fill the old tail padding");

/* Ring directory entry: the subscription. Written under the lock. */
struct ring_desc {
	_Atomic uint32_t state; /* enum shmbus_ring_state; R2: set last */
	uint32_t index;
	uint64_t region_off; /* ring region in the arena */
	uint64_t region_bytes;
	uint64_t types; /* type mask; ~0 = all */
	uint32_t capacity;
	uint32_t slot_size;
	uint32_t policy;
	uint32_t wait;
	uint32_t flags;
	uint32_t nsymbols; /* 0 = all symbols, else bitmap in the region */
	uint32_t group_size; /* 0 = no group */
	uint32_t group_member;
	char name[48];
	char group[48];
	uint32_t group_hash;
	_Atomic int32_t consumer_pid;
	_Atomic uint64_t consumer_start;
	int64_t stuck_timeout_ns;
	_Atomic int32_t sp_owner; /* single-producer ring: owning producer's
				      counter slot + 1 (0: none) */
	/* Rings built in this entry so far (ring_create_locked()): a
	 * producer's view of an earlier one is stale. Was reserved (zero). */
	_Atomic uint32_t incarnation;
	char pad[60];
	/* Odd while the filter (types, nsymbols, the symbol bitmap) is
	 * rewritten under the lock (desc_set_filter()), so that a reader of
	 * the bitmap retries around it (shmbus_stat_ring_symbols()). Was
	 * padding (zero); never reset, so a reader never misses a rewrite. */
	_Atomic uint32_t filter_seq;
};
_Static_assert(sizeof(struct ring_desc) == 256, "ring_desc size");
_Static_assert(offsetof(struct ring_desc, filter_seq) == 252, "filter_seq after the pad");
_Static_assert(offsetof(struct ring_desc, name) == 64, "ring_desc name");

/* Head of a ring region; the symbol bitmap and the slots follow it. */
struct ring_hdr {
	/* line 0: geometry, read-only after creation */
	uint32_t capacity;
	uint32_t mask;
	uint32_t slot_size;
	uint32_t slot_shift;
	uint32_t desc_index;
	uint32_t reserved;
	uint64_t bitmap_off; /* from region start */
	uint64_t slots_off;  /* from region start */
	char cfg_pad[24];
	/* lines 1-2: producers' claim position; guard line */
	_Atomic uint64_t tail;
	char tail_pad[120];
	/* lines 3-4: consumer's release position; guard line */
	_Atomic uint64_t head;
	char head_pad[120];
	/* line 5: consumer sleep announcement + futex word */
	_Atomic uint32_t sleeping;
	_Atomic uint32_t wake_seq;
	char sleep_pad[56];
	/* line 6: producers waiting for space + futex word */
	_Atomic uint32_t prod_waiting;
	_Atomic uint32_t space_seq;
	char space_pad[56];
	/* line 7: counters written by producers on cold paths (atomic add) */
	_Atomic uint64_t dropped;
	_Atomic uint64_t routed_around;
	_Atomic uint64_t too_big;
	_Atomic uint64_t producer_waits;
	char prodctr_pad[32];
	/* line 8: counters written by the consumer alone */
	_Atomic uint64_t delivered;
	_Atomic uint64_t skipped;
	_Atomic uint64_t wakeups;
	_Atomic uint64_t sleeps;
	_Atomic uint64_t malformed; /* committed slots whose header was no event */
	char consctr_pad[24];
};
_Static_assert(sizeof(struct ring_hdr) == 9 * CACHE_LINE, "ring_hdr size");
_Static_assert(offsetof(struct ring_hdr, tail) == 1 * CACHE_LINE, "tail line");
_Static_assert(offsetof(struct ring_hdr, head) == 3 * CACHE_LINE, "head line");
_Static_assert(offsetof(struct ring_hdr, sleeping) == 5 * CACHE_LINE, "sleep line");
_Static_assert(offsetof(struct ring_hdr, prod_waiting) == 6 * CACHE_LINE, "space line");
_Static_assert(offsetof(struct ring_hdr, dropped) == 7 * CACHE_LINE, "pctr line");
_Static_assert(offsetof(struct ring_hdr, delivered) == 8 * CACHE_LINE, "cctr line");

/*
 * Slot metadata word, the first 8 bytes of every slot: the slot at
 * position p is committed when its word is SLOT_WORD(p), i.e. the low 32
 * bits of p + 1 in the upper half. A fresh segment is all zeros, which is
 * never the committed word of position 0. Who claimed a slot is not
 * written here but in the claimer's own prod_entry (claim, see
 * CLAIM_WORD): a consumer spinning on this line would otherwise pull it
 * back and forth once more per event.
 */
#define SLOT_META 8u
#define SLOT_WORD(pos) ((uint64_t)(uint32_t)((pos) + 1) << 32)

struct slot {
	_Atomic uint64_t word;
	/* the event follows, 8-byte aligned */
};
_Static_assert(sizeof(struct slot) == SLOT_META, "slot meta");

struct part_entry {
	_Atomic uint32_t state; /* enum shmbus_participant_state; R3 */
	int32_t pid;
	uint64_t start_time; /* /proc/<pid>/stat field 22 */
	uint32_t role;
	/* Participants this entry has had, counted up as each takes it (R17),
	 * so that a stat reader tells a participant from the next one in its
	 * entry. Was reserved (zero): an older library does not count, and
	 * its re-registrations go unseen, as before. */
	_Atomic uint32_t incarnation;
	int64_t attached_ns;
	char name[32];
	/* line 1: written about once a second by its owner */
	_Atomic int64_t heartbeat_ns;
	uint64_t cpus; /* affinity at attach, first 64 CPUs */
	_Atomic uint32_t ctr_count; /* named counters defined; R7 */
	uint32_t reserved2;
	char pad[40];
};
_Static_assert(sizeof(struct part_entry) == 2 * CACHE_LINE, "part_entry size");
_Static_assert(offsetof(struct part_entry, heartbeat_ns) == CACHE_LINE, "heartbeat line");
_Static_assert(offsetof(struct part_entry, incarnation) == 20, "incarnation where reserved was");

/* One producer's counters and claim record: lines of its own, one writer. */
struct prod_entry {
	_Atomic uint32_t state; /* 0 free, 1 used */
	uint32_t participant;
	int32_t pid;
	uint32_t source_id;
	_Atomic uint64_t published;
	_Atomic uint64_t delivered;
	_Atomic uint64_t dropped;
	_Atomic uint64_t routed_around;
	_Atomic uint64_t unrouted;
	_Atomic uint64_t last_seq;
	/* line 1: the latest claim, read only by consumers hunting a stuck slot */
	_Atomic uint64_t claim; /* CLAIM_WORD(ring index, first, n); 0 = none */
	/* types the producer announced it publishes (shmbus_producer_announce);
	 * written by it once, read by stat. Was padding (zero) before, so a
	 * bus made by an older library reads as "none announced". */
	_Atomic uint64_t announced;
	/* The latest claim of the producer that had this entry before this
	 * one took it (it closed, or died: reaped or not), moved here from
	 * `claim`: a slot it left claimed and uncommitted is then still known
	 * as a gone claimer's, skipped at once (consumer.c). Was padding. */
	_Atomic uint64_t gone_claim;
	/* The producer process's start time (/proc/<pid>/stat field 22), set
	 * with pid: a dead producer's pid reused by another process must not
	 * make it look alive. Was padding: 0 (an older library's entry, or
	 * /proc unreadable) is unknown, and the pid alone decides. */
	uint64_t start_time;
	/* The pid of the producer whose claim record is gone_claim, moved
	 * with it (shmbus-stat names a stuck slot's claimer by it). Was
	 * padding: 0, one moved by an older library, is unknown. */
	_Atomic int32_t gone_pid;
	char pad[28];
	/* lines 2-3: rings this producer has delivered to (bit = ring index),
	 * set once per ring; stat counts a ring's producers from them and
	 * from `announced` */
	_Atomic uint64_t rings_seen[16];
};
_Static_assert(sizeof(struct prod_entry) == 4 * CACHE_LINE, "prod_entry size");
_Static_assert(16 * 64 >= 1024, "rings_seen covers max_rings");
_Static_assert(offsetof(struct prod_entry, claim) == CACHE_LINE, "claim line");
_Static_assert(offsetof(struct prod_entry, announced) == CACHE_LINE + 8, "announced beside claim");
_Static_assert(offsetof(struct prod_entry, gone_claim) == CACHE_LINE + 16, "gone_claim too");
_Static_assert(offsetof(struct prod_entry, start_time) == CACHE_LINE + 24, "start_time after them");
_Static_assert(offsetof(struct prod_entry, gone_pid) == CACHE_LINE + 32, "gone_pid after it");

/* A producer's latest claim in one word, so that a reader never pairs one
 * claim's ring with another's position: ring index + 1 in the top 11 bits
 * (max_rings <= 1024), the run length - 1 in the next 5 (a batch claims up
 * to CLAIM_RUN_MAX consecutive positions with one read-modify-write), the
 * first position modulo 2^48 below (a ring would need 2^48 events between
 * two looks of the consumer to alias). One store on the producer's hot
 * path, whatever the run. */
#define CLAIM_RUN_MAX 32u
#define CLAIM_POS_MASK ((UINT64_C(1) << 48) - 1)
#define CLAIM_WORD(ring_index, pos, n)                                   \
	((((uint64_t)(ring_index) + 1) << 53) | ((uint64_t)((n) - 1) << 48) | \
	 ((uint64_t)(pos) & CLAIM_POS_MASK))
_Static_assert(1024 + 1 < (1u << 11), "ring index + 1 fits the claim word's 11 bits");
_Static_assert(CLAIM_RUN_MAX <= 32, "a run's length - 1 fits the claim word's 5 bits");

/* Does claim word w cover position pos of ring ring_index? */
static inline bool claim_covers(uint64_t w, uint32_t ring_index, uint64_t pos)
{
	if (w >> 53 != (uint64_t)ring_index + 1)
		return false;
	uint64_t first = w & CLAIM_POS_MASK, n = ((w >> 48) & 31) + 1;
	return ((pos - first) & CLAIM_POS_MASK) < n;
}

/* Symbol table entry; id = index + 1. Filled under the lock, then R4. */
struct sym_entry {
	_Atomic uint32_t state; /* 0 free, 1 ready */
	uint32_t hash;
	char name[24];
};
_Static_assert(sizeof(struct sym_entry) == 32, "sym_entry size");

/* A participant's named counters (journal, bridge ...), one writer each.
 * The name is filled before the participant publishes ctr_count (R7). */
#define CTR_SLOTS 16u
struct ctr_entry {
	char name[24];
	_Atomic uint64_t value;
};
_Static_assert(sizeof(struct ctr_entry) == 32, "ctr_entry size");
_Static_assert(SHMBUS_MAX_COUNTERS == CTR_SLOTS, "counter slots");

#define RING_STATE_FREE 0u
#define RING_STATE_BUILDING 1u
#define RING_STATE_ACTIVE 2u
#define RING_STATE_DETACHED 3u
#define RING_STATE_ORPHANED 4u

/* ring_desc.flags beside the public SHMBUS_SUB_* ones: made by
 * shmbus_ring_declare() (from a config), so never recycled when empty. */
#define RING_F_DECLARED 0x80000000u

/* Hash of every structure above and of the event layouts. */
uint64_t ring_layout_hash(void);

#endif
