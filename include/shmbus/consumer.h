/*
 * shmbus/consumer.h - subscribing and consuming.
 *
 * A consumer owns exactly one ring. shmbus_subscribe() creates the ring
 * (named, with its filter, size, full policy and wait strategy) or
 * re-attaches to it when it exists and its previous consumer is gone, in
 * which case consumption resumes where that consumer stopped. Producers
 * route to the ring from then on. The consumer polls committed events in
 * batches, in ring order, and releases their slots after the batch.
 *
 * NULL handles: shmbus_poll(), shmbus_wait() and shmbus_wait_batch() are
 * the hot path and do not check theirs (NULL is undefined behaviour);
 * every other call takes NULL and returns -EINVAL, or does nothing, or
 * returns the empty value its comment names.
 *
 * A consumer group is N rings sharing one subscription (same group name
 * and size, members 0..N-1, a ring name of its own each): each symbol
 * hashes to exactly one member, so per-symbol order is kept while a slow
 * stage is scaled out. Only the size and member indexes are checked: give
 * every member the same filter. Subscribe every member before publishing:
 * an event whose symbol hashes to a member not yet subscribed reaches no
 * ring (the producer counts it as unrouted).
 *
 * An event about no symbol (symbol id 0: heartbeats, status and
 * end-of-stream markers) passes every symbol filter and reaches every
 * member of a group; the type filter still applies.
 */
#ifndef SHMBUS_CONSUMER_H
#define SHMBUS_CONSUMER_H

#include <stddef.h>
#include <stdint.h>

#include "bus.h"
#include "event.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct shmbus_consumer shmbus_consumer;

enum shmbus_full_policy {
	SHMBUS_POLICY_BLOCK = 0, /* producers wait: lossless */
	SHMBUS_POLICY_DROP = 1,  /* producers count a drop and go on */
};

enum shmbus_wait_strategy {
	SHMBUS_WAIT_ADAPTIVE = 0, /* spin ~3 us, yield ~2000 times, then futex sleep */
	SHMBUS_WAIT_SPIN = 1,     /* busy-spin: only with a core of its own */
	SHMBUS_WAIT_YIELD = 2,    /* sched_yield between polls */
	SHMBUS_WAIT_BLOCK = 3,    /* futex sleep at once */
};

#define SHMBUS_SUB_SINGLE_PRODUCER 0x1u /* one producer: no atomic RMW claims;
					   the first producer to deliver
					   owns the ring until it closes or
					   dies, any other is routed around
					   it (counted), threads included */
#define SHMBUS_SUB_MAX_SYMBOLS 4096     /* longest explicit symbol list */

struct shmbus_sub_opts {
	uint64_t types;           /* SHMBUS_TYPE_BIT(t) mask; 0 = every type */
	const uint32_t *symbols;  /* symbol ids to receive (copied); NULL = all */
	size_t nsymbols;
	uint32_t capacity;        /* slots, power of two >= 2 (default 65536:
				     8 MiB of 128-byte slots, of the bus's
				     64 MiB default arena) */
	uint32_t slot_size;       /* 64, 128 or 256 (default 128) */
	enum shmbus_full_policy policy;
	enum shmbus_wait_strategy wait;
	const char *group;        /* consumer group name, NULL for none */
	uint32_t group_size;      /* members in the group (1..64) */
	uint32_t group_member;    /* this member, 0..group_size-1 */
	uint32_t flags;           /* SHMBUS_SUB_* */
	int64_t stuck_timeout_ns; /* skip a claimed-but-unstamped slot after
				     this long (0, the default: 1 s for a
				     new ring, the ring's own on re-attach) */
};

void shmbus_sub_opts_init(struct shmbus_sub_opts *opts);

/*
 * Subscribe ring `ring_name` on `bus`. A new ring is created with opts; an
 * existing ring is re-attached if its consumer is gone. opts NULL keeps
 * everything the ring has; otherwise opts replace its full policy and
 * wait strategy, its stuck timeout when opts->stuck_timeout_ns is set,
 * and its filter when opts->types or opts->symbols are set. It fails
 * with SHMBUS_EBUSY while a live consumer holds the ring, and with
 * -EINVAL (shmbus_errmsg() naming the ring's value and opts') if capacity
 * or slot size differ, or opts->flags or opts->group is set and differs
 * from the ring's flags or group name, size or member (a ring keeps these
 * for life: remove it to change them; flags 0 and group NULL keep the
 * ring's). The
 * consumer is the calling process (a child forked with an anonymous bus
 * subscribes as itself, and its death is seen). A new member of a consumer group must
 * give the group's size and a member index no other ring of the group
 * holds (-EINVAL naming the other ring). When every ring entry is taken,
 * an orphaned ring (its consumer died and shmbus_bus_reap() or a producer
 * marked it so) that holds no unconsumed event is recycled for the new
 * one, the one whose consumer started first; shmbus_errmsg() then names
 * it although the call succeeds. Other errors: -EINVAL (bad option, see
 * shmbus_errmsg()), -ENOSPC (no ring entry or arena room; the detail
 * counts orphaned rings still holding events), -EROFS.
 */
int shmbus_subscribe(shmbus_bus *bus, const char *ring_name, const struct shmbus_sub_opts *opts,
		     shmbus_consumer **out);

/*
 * Create ring `ring_name` without attaching a consumer (shmbusctl does
 * this from a config file so that rings exist, with their geometry and
 * filter, before the services start). The ring is DETACHED: producers
 * route around it (counted) until a consumer subscribes to it, which may
 * then pass opts NULL to keep everything declared here. Returns 0,
 * -EEXIST when a ring of that name exists, or subscribe's errors.
 */
int shmbus_ring_declare(shmbus_bus *bus, const char *ring_name, const struct shmbus_sub_opts *opts);

/* Detach: the ring stays (and keeps what it holds) but producers route
 * around it until a consumer re-attaches. In a child forked with the
 * consumer, this and shmbus_unsubscribe() free only the child's copy: the
 * ring stays the parent's. Called from a handler of c's own poll, this
 * and shmbus_unsubscribe() take effect when that poll returns (the rest
 * of its batch is still delivered); c is gone from then on. */
void shmbus_consumer_close(shmbus_consumer *c);

/* Detach and free the ring entry (its memory goes to a later ring, or
 * back to the arena). Returns 0, or -EINVAL when c is NULL. */
int shmbus_unsubscribe(shmbus_consumer *c);

/*
 * Remove ring `ring_name` from the bus, whatever it holds, and free its
 * entry as shmbus_unsubscribe() does: for the ring of a consumer that
 * died (orphaned) or will not come back, or a declared ring no longer
 * wanted (`shmbusctl ring-remove`). Any participant may call it; unread
 * events in the ring are lost. Returns 0, SHMBUS_EBUSY while a live
 * consumer holds the ring, -ENOENT (no such ring), -EINVAL (bad name),
 * -EROFS (read-only handle).
 */
int shmbus_ring_remove(shmbus_bus *bus, const char *ring_name);

/*
 * Wait until at least `min` rings with a live consumer take an event of
 * one of `types` (SHMBUS_TYPE_BIT()s; 0: any type): a publisher whose
 * first events must not be lost calls it before publishing, since a ring
 * receives only what is published after it was subscribed. Each member
 * of a consumer group is a ring of its own, and a symbol filter is not
 * looked at. timeout_ns < 0 waits without end. Polls every millisecond:
 * a start-up call, not for the hot path. Returns the number of such rings
 * (>= min), -ETIMEDOUT (the detail says how many there were), -EINVAL
 * (NULL bus, type bit 0, min 0 or above the bus's max_rings).
 */
int shmbus_wait_subscribers(shmbus_bus *bus, uint64_t types, unsigned min, int64_t timeout_ns);

/* Arena bytes a ring of `capacity` slots of `slot_size` bytes takes on a
 * bus whose symbol table has `max_symbols` entries: its slots, header and
 * symbol-filter bitmap, rounded up to whole 4 KiB pages (what a config's
 * arena must hold for it). */
size_t shmbus_ring_arena_bytes(uint32_t capacity, uint32_t slot_size, uint32_t max_symbols);

/* Called once per event, in ring order. The event is valid only during
 * the call (its slot is released after the batch). It may publish, and
 * close its consumer (done when the poll returns); a shmbus_poll() of its
 * own consumer returns -EALREADY. A publish that routes to the handler's own ring
 * under the `block` policy waits for room that only this poll's return
 * makes: into a full ring, for ever (give such a ring `drop`). */
typedef void (*shmbus_handler)(const struct shmbus_event_header *ev, void *ctx);

/*
 * Deliver up to `max` committed events to fn, then release their slots.
 * Returns the number delivered (0 when none is ready), or -EALREADY when
 * called from a handler of the same consumer's poll. Never blocks and
 * makes no system call, except every few thousand empty polls when the
 * slot at the head is claimed but not committed: then it checks whether
 * the claimer is dead (or the slot unstamped past stuck_timeout) and if
 * so skips the slot and counts it. That check also returns SHMBUS_ECORRUPT
 * when the ring's shared tail was overwritten (behind the head, or more
 * than a ring ahead): no event can arrive through it again.
 */
int shmbus_poll(shmbus_consumer *c, shmbus_handler fn, void *ctx, unsigned max);

/*
 * Wait, by the ring's strategy, until an event is ready or timeout_ns
 * passes (< 0: forever). Returns 0 when ready, SHMBUS_ETIMEDOUT, or
 * SHMBUS_ECORRUPT when the ring's shared tail was overwritten (as
 * shmbus_poll() says it).
 * A sleeping consumer is woken by the futex on the ring's wake word, which
 * producers touch only when the consumer announced it sleeps. A signal
 * does not end the wait (an interrupted sleep resumes): a loop that must
 * see a flag its signal handler sets waits with a bounded timeout (the
 * services use 100 ms).
 */
int shmbus_wait(shmbus_consumer *c, int64_t timeout_ns);

/*
 * Throughput-oriented wait: return once `batch` events are ready, or once
 * at least one is ready and `linger_ns` has passed since it was first
 * seen, or when timeout_ns passes (SHMBUS_ETIMEDOUT). While waiting for a
 * batch it watches the slot batch-1 ahead of the head, so it reads a slot
 * the producer is writing once per batch instead of once per event: the
 * producer then writes whole runs of slots without losing their lines to
 * the consumer. A partial batch lingers by the ring's wait strategy:
 * `spin` spins, `yield` yields, `block` sleeps at once and `adaptive`
 * after its spin and yields, until the commit that fills the batch wakes
 * it or linger_ns ends. A ring that stays empty for a few microseconds is
 * waited on as shmbus_wait() does, and the call returns with its first
 * event. Latency-bound consumers use shmbus_wait(); journallers, bridges
 * and bulk readers use this. batch is capped at the capacity; batch 1
 * behaves like shmbus_wait().
 */
int shmbus_wait_batch(shmbus_consumer *c, unsigned batch, int64_t linger_ns, int64_t timeout_ns);

/*
 * Hold the slots of polled events (on != 0): shmbus_poll delivers as
 * usual but leaves the slots taken, so producers cannot reuse them, until
 * shmbus_consumer_release(). For a consumer that must make events durable
 * before letting them go (the journaller): if it dies first, the consumer
 * that attaches next gets them again. Turning it off releases every slot
 * polled so far. The ring fills by what is held: release regularly.
 * c NULL: nothing.
 */
void shmbus_consumer_hold(shmbus_consumer *c, int on);

/* Ring position after the last event delivered (the argument for
 * shmbus_consumer_release); 0 for c NULL. */
uint64_t shmbus_consumer_position(const shmbus_consumer *c);

/* Free the held slots before position pos (at most
 * shmbus_consumer_position(), at least the last released one).
 * Returns 0 or -EINVAL. */
int shmbus_consumer_release(shmbus_consumer *c, uint64_t pos);

/* Index of the consumer's ring (for shmbus_stat_ring) and its name;
 * UINT32_MAX and "" for c NULL. */
uint32_t shmbus_consumer_ring(const shmbus_consumer *c);
const char *shmbus_consumer_name(const shmbus_consumer *c);

#ifdef __cplusplus
}
#endif
#endif
