/*
 * ring.h - the MPSC ring's hot path, inlined into producers and consumers.
 *
 * Positions are 64-bit and never wrap; slot = position & mask. Producers
 * claim a position, or a run of them for a batch, by CAS on tail (a
 * single-producer ring stores it), record (ring, first position, count)
 * in their own prod_entry line, write the event in
 * place and commit by storing SLOT_WORD(position) with release. The consumer reads the
 * slot word at its head with acquire: committed means the event is
 * complete. It never reads tail on the fast path, so an idle consumer
 * spinning on its head slot costs producers nothing; tail is read only to
 * tell "empty" from "claimed but not stamped" when looking for a stuck
 * slot. After a batch the consumer publishes head with release, which
 * frees the slots for the producers' next lap.
 *
 * Orderings:
 *   R5 (consumer stores head, release)   pairs with A5 (producer loads head)
 *   R6 (producer commits word, release)  pairs with A6 (consumer loads word)
 *   F1 (producer fence before reading `sleeping`) pairs with F2 (consumer
 *      fence after announcing sleep): a Dekker pair, so a commit is never
 *      missed by a consumer going to sleep.
 *   F3 (consumer fence after its head, before reading prod_waiting, once
 *      out of events) pairs with a waiting producer's atomic exchange of
 *      prod_waiting before it reads the head: room is never missed by a
 *      producer going to sleep for longer than the consumer takes to run
 *      dry (wait.c).
 */
#ifndef RING_RING_H
#define RING_RING_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "shmbus/event.h"
#include "bus_internal.h"

/* Slots ahead of its claim a producer prefetches for writing (measured
 * best on the development VM among 8, 16 and 32; see bench/RESULTS.md). */
#ifndef RING_PREFETCH_AHEAD
#define RING_PREFETCH_AHEAD 16
#endif

/* A process-local view of one ring, cached by producers and consumers. */
struct ring_view {
	struct ring_hdr *hdr;
	uint8_t *slots;
	const uint64_t *bitmap; /* NULL: every symbol */
	struct ring_desc *desc;
	uint64_t types; /* SHMBUS_TYPE_BIT()s routed here */
	uint64_t head_cache; /* producer: last head seen */
	uint32_t mask;
	uint32_t slot_shift;
	uint32_t capacity;
	uint32_t payload_max;
	uint32_t max_symbols;
	uint32_t group_size;
	uint32_t group_member;
	uint32_t index;
	uint32_t incarnation; /* of the entry's ring the view was built from */
	uint8_t policy;
	uint8_t wait;
	bool single_producer;
	bool wake_check;   /* consumer may sleep: check `sleeping` */
	bool route_around; /* no live consumer: count, don't deliver */
	bool sp_unowned;   /* single-producer ring this producer has not yet claimed */
	bool seen;         /* this producer's rings_seen bit is set */
	bool cancel_stalled; /* producer: a cancelled wait gave up here... */
	uint32_t full_streak; /* producer: consecutive full claims */
	uint64_t cancel_head; /* ...when the consumer's head was this */
};

static inline struct slot *ring_slot(const struct ring_view *v, uint64_t pos)
{
	return (struct slot *)(v->slots + ((pos & v->mask) << v->slot_shift));
}

static inline void *slot_event(struct slot *s)
{
	return (uint8_t *)s + SLOT_META;
}

/*
 * Claim up to `want` (1..CLAIM_RUN_MAX) consecutive positions with one
 * read-modify-write: as many as the ring has room for. Returns how many
 * (0 when the ring is full); the first is *pos. rec is the claimer's
 * prod_entry, where the run is recorded for stuck-slot detection.
 */
static inline uint32_t ring_try_claim_run(struct ring_view *v, struct prod_entry *rec,
					  uint32_t want, uint64_t *pos)
{
	struct ring_hdr *h = v->hdr;
	uint64_t t = load_relaxed(&h->tail);
	uint32_t n;
	for (;;) {
		if (unlikely(t - v->head_cache + want > v->capacity)) {
			/* A5 pairs with R5: the consumer finished with slot t-cap. */
			v->head_cache = load_acquire(&h->head);
			if (t - v->head_cache >= v->capacity)
				return 0;
		}
		uint64_t room = v->capacity - (t - v->head_cache);
		n = want < room ? want : (uint32_t)room;
		/* Who claims positions t..t+n-1, on the claimer's own line, and
		 * before the tail moves: a consumer that sees the tail past an
		 * uncommitted slot always finds its claimer's record, so a live
		 * claimer stalled between the two (stopped, preempted) is waited
		 * for, never skipped as claimer-less. A record left by a lost CAS
		 * only delays a skip until the retry rewrites it. */
		store_relaxed(&rec->claim, CLAIM_WORD(v->index, t, n));
		if (v->single_producer) {
			/* R9 publishes the record; pairs with A9 in
			 * consumer_check_stuck(). */
			store_release(&h->tail, t + n);
			break;
		}
		if (cas_acq_rel(&h->tail, &t, t + n)) /* R9 as above */
			break;
	}
	/* Start taking the lines of slots a little ahead from the consumer's
	 * cache, so that their stores, when they come, do not wait for them
	 * and hold up every later store of this producer (the store buffer
	 * drains in order). Only a hint: it changes no data. */
	for (uint32_t i = 0; i < n; i++)
		prefetch_write(ring_slot(v, t + RING_PREFETCH_AHEAD + i));
	*pos = t;
	return n;
}

/* Claim one position; false when the ring is full. */
static inline bool ring_try_claim(struct ring_view *v, struct prod_entry *rec, uint64_t *pos)
{
	return ring_try_claim_run(v, rec, 1, pos) != 0;
}

void ring_wake_consumer(struct ring_hdr *h);

/* Make the event at pos visible, without waking a sleeping consumer:
 * the caller runs ring_wake_check() after its last commit to the ring. */
static inline void ring_commit_nowake(struct ring_view *v, uint64_t pos)
{
	store_release(&ring_slot(v, pos)->word, SLOT_WORD(pos)); /* R6 */
}

/* After commits: wake the consumer if it announced sleep. */
static inline void ring_wake_check(struct ring_view *v)
{
	if (v->wake_check) {
		fence_seq_cst(); /* F1, pairs with F2 in ring_sleep() */
		if (unlikely(load_relaxed(&v->hdr->sleeping)))
			ring_wake_consumer(v->hdr);
	}
}

static inline void ring_commit(struct ring_view *v, uint64_t pos)
{
	ring_commit_nowake(v, pos);
	ring_wake_check(v);
}

/* Is the event at position pos committed? A6 pairs with R6. */
static inline bool ring_committed(const struct ring_view *v, uint64_t pos)
{
	return load_acquire(&ring_slot(v, pos)->word) == SLOT_WORD(pos);
}

/* ring_desc.c */
int ring_view_init(struct ring_view *v, const struct shmbus_bus *bus, struct ring_desc *d);

/* wait.c */
int futex_wait_u32(_Atomic uint32_t *addr, uint32_t val, int64_t timeout_ns);
void futex_wake_all(_Atomic uint32_t *addr);
/* Consumer: announce sleep, re-check, sleep up to timeout_ns; producers
 * waiting for room are woken first (see ring_space_recheck). */
void ring_sleep(struct ring_view *v, uint64_t head, int64_t timeout_ns);
/* Wake every producer sleeping for room in the ring, if one announced a
 * wait (prod_waiting, which it clears). */
void ring_wake_producers(struct ring_hdr *h);
/* Consumer, out of events: after a fence (F3, pairs with a waiting
 * producer's atomic exchange of prod_waiting), wake the producers waiting for
 * room that its last release of slots may have missed, if it made room. */
void ring_space_recheck(struct ring_view *v);

#endif
