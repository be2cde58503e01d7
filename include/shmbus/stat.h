/*
 * shmbus/stat.h - read-only introspection of a bus, for shmbus-stat and
 * scripts. Works on any handle, read-only ones included; never consumes
 * and never writes. Every offset and count read from the segment is
 * bounds-checked: a corrupt segment yields SHMBUS_ECORRUPT, not a crash.
 * Counters are read with relaxed loads: each is exact, a snapshot of
 * several is not atomic as a whole.
 */
#ifndef SHMBUS_STAT_H
#define SHMBUS_STAT_H

#include <stdint.h>

#include "bus.h"
#include "consumer.h"

#ifdef __cplusplus
extern "C" {
#endif

struct shmbus_bus_info {
	char name[SHMBUS_NAME_MAX + 1];
	enum shmbus_backing backing;
	uint32_t abi_version;
	uint64_t layout_hash;
	uint64_t total_bytes;
	uint64_t arena_bytes, arena_used;
	uint32_t max_rings, max_participants, max_producers, max_symbols;
	uint32_t symbols;
	uint64_t route_generation;
	int32_t creator_pid;
	int64_t created_ns;
	int kept; /* shmbus_bus_set_kept() */
};

enum shmbus_ring_state {
	SHMBUS_RING_FREE = 0,
	SHMBUS_RING_BUILDING = 1,
	SHMBUS_RING_ACTIVE = 2,   /* a consumer is attached */
	SHMBUS_RING_DETACHED = 3, /* consumer closed; routed around */
	SHMBUS_RING_ORPHANED = 4, /* consumer died; routed around */
};

struct shmbus_ring_stat {
	uint32_t index;
	char name[SHMBUS_NAME_MAX + 1];
	char group[SHMBUS_NAME_MAX + 1];
	enum shmbus_ring_state state;
	uint32_t capacity, slot_size, flags;
	enum shmbus_full_policy policy;
	enum shmbus_wait_strategy wait;
	uint32_t group_size, group_member;
	uint64_t types;
	uint32_t nsymbols;      /* 0 = all symbols */
	uint32_t producers;     /* open producers, their process alive, that
				   have routed to it or announced a type it
				   takes */
	int32_t consumer_pid;
	int consumer_alive;
	int consumer_sleeping;
	uint64_t claimed;       /* slots claimed by producers (tail) */
	uint64_t consumed;      /* slots released by the consumer (head) */
	uint64_t depth;         /* claimed - consumed */
	uint64_t delivered;     /* events handed to the consumer */
	uint64_t skipped;       /* stuck slots skipped */
	uint64_t dropped;       /* full under drop policy */
	uint64_t routed_around; /* while no live consumer */
	uint64_t too_big;       /* events larger than a slot */
	uint64_t producer_waits;/* times a producer waited for space */
	uint64_t wakeups;       /* futex wakes of a sleeping consumer */
	int64_t oldest_publish_ns; /* publish time of the oldest committed
				      unconsumed event (behind a claimed,
				      uncommitted slot too), 0 when none */
	uint64_t malformed;     /* committed slots whose header was not an
				   event that fits the slot: skipped */
	int32_t head_stuck_pid; /* the slot at head was claimed by this
				   producer process, which died (or closed its
				   producer) before committing it: the events
				   behind it wait for the consumer to skip it.
				   0: none, or its claimer is not known */
};

enum shmbus_participant_state {
	SHMBUS_PART_FREE = 0,
	SHMBUS_PART_ALIVE = 1,
	SHMBUS_PART_GONE = 2, /* detached cleanly */
};

struct shmbus_participant_stat {
	uint32_t index;
	char name[SHMBUS_PARTICIPANT_NAME_MAX + 1];
	enum shmbus_role role;
	enum shmbus_participant_state state;
	int32_t pid;
	int alive;          /* process exists with the recorded start time */
	uint64_t cpus;      /* affinity mask when attached (first 64 CPUs) */
	int64_t attached_ns;
	int64_t heartbeat_ns;
};

struct shmbus_producer_stat {
	uint32_t index;
	uint32_t participant;
	int32_t pid;
	uint32_t source_id;
	uint64_t published;     /* events given to claim/publish */
	uint64_t delivered;     /* ring deliveries */
	uint64_t dropped;
	uint64_t routed_around;
	uint64_t unrouted;      /* matched no ring */
	uint64_t last_seq;
	uint64_t announced;     /* types announced (shmbus_producer_announce) */
	int alive;              /* its process exists, with the recorded start
				   time (a reused pid is another process): a
				   dead producer's entry stays open until
				   shmbus_bus_reap() or a new producer takes it */
};

/*
 * Named counters: a participant (the journaller, the bridge ...) publishes
 * up to SHMBUS_MAX_COUNTERS u64 values under names of its choosing, so
 * that shmbus-stat shows them without knowing the service.
 */
#define SHMBUS_MAX_COUNTERS 16
#define SHMBUS_COUNTER_NAME_MAX 23

struct shmbus_counter {
	char name[SHMBUS_COUNTER_NAME_MAX + 1];
	uint64_t value;
};

/* Define this participant's counters (names: [a-z0-9_], 1..23 bytes,
 * each given once), all starting at 0; replaces an earlier definition. Returns 0, -EINVAL,
 * -EROFS (read-only handle), -EPERM (from a child forked with the handle:
 * the counters are its parent's). Call once, before setting values. */
int shmbus_counters_define(shmbus_bus *bus, const char *const names[], unsigned n);

/* Set counter `index` of this participant (relaxed store; one writer per
 * counter). Out-of-range indexes, and calls from a child forked with the
 * handle, are ignored. */
void shmbus_counter_set(shmbus_bus *bus, unsigned index, uint64_t value);

/* Read participant `index`'s counters into out (up to max). Returns how
 * many it has (0 for none), -ENOENT / -ERANGE as shmbus_stat_participant. */
int shmbus_stat_counters(const shmbus_bus *bus, uint32_t participant, struct shmbus_counter *out,
			 unsigned max);

/* Bus-wide facts. Returns 0 or SHMBUS_ECORRUPT. */
int shmbus_stat_bus(const shmbus_bus *bus, struct shmbus_bus_info *out);

/* Ring entry `index` (0 .. max_rings-1). Returns 0, -ENOENT for a free
 * entry, -ERANGE past the end, SHMBUS_ECORRUPT. A ring freed or replaced
 * while read reads as the old ring, the new one or -ENOENT (free
 * meanwhile), never a mix of two. */
int shmbus_stat_ring(const shmbus_bus *bus, uint32_t index, struct shmbus_ring_stat *out);

/*
 * Copy ring `index`'s symbol filter into ids: the symbol ids the ring
 * takes, in ascending order, each once, at most max of them (ids may be
 * NULL when max is 0). Returns how many ids the filter holds, which may
 * be more than max (then only the first max were copied); 0 when the ring
 * takes every symbol (shmbus_ring_stat.nsymbols 0); -EINVAL (NULL bus, or
 * NULL ids with max > 0), -ENOENT for a free entry, -ERANGE past the end,
 * SHMBUS_ECORRUPT, or -EAGAIN when the filter was still being rewritten
 * after 100 ms (the subscriber died in the middle; the next process that
 * locks the bus repairs it). Events about no symbol (id 0) pass every
 * filter and are not listed. shmbus_ring_stat.nsymbols counts the ids as
 * subscribed, a repeated one included: allocate that many to get them
 * all. Read-only, any process; a filter replaced meanwhile (a consumer
 * re-subscribing with another) reads as the old one or the new one, never
 * a mix (ids past the count returned may hold either's).
 */
int shmbus_stat_ring_symbols(const shmbus_bus *bus, uint32_t index, uint32_t *ids, unsigned max);

/* Participant entry `index`. Returns 0, -ENOENT (free), -ERANGE. */
int shmbus_stat_participant(const shmbus_bus *bus, uint32_t index,
			    struct shmbus_participant_stat *out);

/* Producer counter slot `index`. Returns 0, -ENOENT (free: out holds only
 * the source_id and last_seq its last producer left, 0 when never used),
 * -ERANGE. */
int shmbus_stat_producer(const shmbus_bus *bus, uint32_t index, struct shmbus_producer_stat *out);

/*
 * The bus's producer counters summed over every producer it has had: the
 * open ones and those that closed or died (their counts kept by the bus
 * as their entry leaves the table), so that each figure only grows, as a
 * monitoring counter must (a producer's restart is no counter reset).
 * Fills published, delivered, dropped, routed_around, unrouted, and
 * announced (the union over open producers); the other fields are 0.
 * Returns 0, -EINVAL, or -EAGAIN when a closing producer's counters were
 * still moving after 10 ms (its process died mid-close): out then holds a
 * sum that may count that producer twice or not at all. The next call
 * that locks the bus lets readers go on, but a process killed in the
 * middle of that move (a few instructions) can leave its counts in the
 * totals twice, or not at all, for the life of the bus.
 */
int shmbus_stat_producer_totals(const shmbus_bus *bus, struct shmbus_producer_stat *out);

/*
 * Does open producer `producer` feed ring `ring`: has it delivered there,
 * or announced a type the ring takes, and is its process alive? Returns 1
 * or 0 (0 for a producer whose process died: its entry stays open until
 * shmbus_bus_reap() or a new producer takes it, and, as in
 * shmbus_ring_stat.producers, it is no feeder); -ENOENT when either entry
 * is free (or the producer closed), -ERANGE past either table.
 */
int shmbus_stat_ring_fed_by(const shmbus_bus *bus, uint32_t ring, uint32_t producer);

/* Index of the ring named `name`, or -ENOENT. */
int shmbus_stat_find_ring(const shmbus_bus *bus, const char *name);

const char *shmbus_ring_state_name(enum shmbus_ring_state s);
const char *shmbus_policy_name(enum shmbus_full_policy p);
const char *shmbus_wait_name(enum shmbus_wait_strategy w);

#ifdef __cplusplus
}
#endif
#endif
