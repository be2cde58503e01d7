/*
 * spsc_baseline.c - the best plain SPSC ring we know how to write, as the
 * throughput baseline for shmbus's one-producer case.
 *
 * Design: a power-of-two array of 64-byte slots, each holding one 56-byte
 * trade (the same payload shmbus carries), in a MAP_SHARED anonymous
 * mapping between two pinned processes. The producer's tail and the
 * consumer's head each sit alone on a 128-byte pair of lines (clear of the
 * adjacent-line prefetcher). Each side keeps a private copy of the other's
 * index and reads the shared one only when its copy says the ring is full
 * (producer) or empty (consumer), and each publishes its own index only
 * every `batch` events, or before it starts waiting, so a cache line moves
 * between the cores once per batch rather than once per event. The
 * producer builds each event in place in its slot (zero copy). Nothing on
 * either side is an atomic read-modify-write; there are no clock reads and
 * no per-event metadata: this is the floor a general MPSC ring is held to.
 */
#include "spsc_baseline.h"

#include <stdalign.h>
#include <stdint.h>
#include <sys/mman.h>
#include <stdatomic.h>
#include <string.h>

struct spsc_slot {
	struct shmbus_trade ev;
	uint64_t pad;
};
_Static_assert(sizeof(struct spsc_slot) == 64, "one slot, one line");

struct spsc_ring {
	alignas(128) _Atomic uint64_t tail; /* written by the producer */
	alignas(128) _Atomic uint64_t head; /* written by the consumer */
	alignas(128) uint32_t capacity;     /* read-only after init */
	uint32_t mask;
	uint32_t batch;
	alignas(128) struct spsc_slot slots[];
};
_Static_assert(offsetof(struct spsc_ring, head) - offsetof(struct spsc_ring, tail) == 128,
               "head and tail on separate line pairs");

size_t spsc_ring_bytes(uint32_t capacity)
{
	return sizeof(struct spsc_ring) + (size_t)capacity * sizeof(struct spsc_slot);
}

void spsc_ring_init(struct spsc_ring *r, uint32_t capacity, uint32_t batch)
{
	atomic_store_explicit(&r->tail, 0, memory_order_relaxed);
	atomic_store_explicit(&r->head, 0, memory_order_relaxed);
	r->capacity = capacity;
	r->mask = capacity - 1;
	r->batch = batch ? batch : 1;
	/* Touch every slot now so no page fault lands inside a measurement. */
	memset(r->slots, 0, (size_t)capacity * sizeof(struct spsc_slot));
}

void spsc_ring_prefault(struct spsc_ring *r)
{
	size_t bytes = spsc_ring_bytes(r->capacity);

#ifdef MADV_POPULATE_WRITE
	if (madvise(r, bytes, MADV_POPULATE_WRITE) == 0)
		return;
#endif
	/* Read faults at least: the ring's contents must not change here. */
	for (size_t off = 0; off < bytes; off += 4096)
		(void)((volatile const uint8_t *)r)[off];
}

/* A publish stamp as cheap as this machine has: raw TSC ticks where
 * there is a TSC (shmbus converts to ns as well), else the library clock. */
static inline int64_t spsc_stamp(void)
{
#if defined(__x86_64__)
	return (int64_t)__builtin_ia32_rdtsc();
#else
	return shmbus_now_ns();
#endif
}

void spsc_produce(struct spsc_ring *r, uint64_t n, int stamp)
{
	const uint64_t cap = r->capacity, batch = r->batch;
	uint64_t tail = 0, published = 0, cached_head = 0;

	for (uint64_t seq = 1; seq <= n; seq++) {
		struct spsc_slot *s;

		if (tail - cached_head >= cap) {
			if (published != tail) {
				/* R1 (flush before waiting): pairs with consumer A1. */
				atomic_store_explicit(&r->tail, tail, memory_order_release);
				published = tail;
			}
			/* A2 pairs with the consumer's R2: its reads of the slots
			 * we are about to overwrite are done. */
			while (tail - (cached_head =
			                   atomic_load_explicit(&r->head, memory_order_acquire)) >=
			       cap)
				bench_relax();
		}
		s = &r->slots[tail & r->mask];
		s->ev.h.type = SHMBUS_EV_TRADE;
		s->ev.h.version = SHMBUS_EVENT_LAYOUT_VERSION;
		s->ev.h.flags = 0;
		s->ev.h.size = sizeof(s->ev);
		s->ev.h.reserved = 0;
		s->ev.h.source_id = 1;
		s->ev.h.symbol_id = 1;
		s->ev.h.seq = seq;
		s->ev.h.event_time_ns = (int64_t)seq;
		s->ev.h.publish_time_ns = stamp ? spsc_stamp() : 0;
		s->ev.price = (double)seq;
		s->ev.size = 1.0;
		tail++;
		if (tail - published >= batch) {
			/* R1: makes the slots up to tail visible; pairs with A1. */
			atomic_store_explicit(&r->tail, tail, memory_order_release);
			published = tail;
		}
	}
	atomic_store_explicit(&r->tail, tail, memory_order_release); /* R1, final flush */
}

void spsc_consume(struct spsc_ring *r, uint64_t n, struct tv_state *v)
{
	const uint64_t batch = r->batch;
	uint64_t head = 0, released = 0, cached_tail = 0;

	while (head < n) {
		if (head == cached_tail) {
			/* A1 pairs with the producer's R1. */
			cached_tail = atomic_load_explicit(&r->tail, memory_order_acquire);
			if (head == cached_tail) {
				if (released != head) {
					/* R2 (flush before waiting): pairs with A2. */
					atomic_store_explicit(&r->head, head, memory_order_release);
					released = head;
				}
				bench_relax();
				continue;
			}
		}
		tv_check(v, &r->slots[head & r->mask].ev);
		head++;
		if (head - released >= batch) {
			/* R2: the slots before head may be reused; pairs with A2. */
			atomic_store_explicit(&r->head, head, memory_order_release);
			released = head;
		}
	}
	atomic_store_explicit(&r->head, head, memory_order_release);
}

void spsc_push(struct spsc_ring *r, struct spsc_cursor *c, const struct shmbus_trade *t)
{
	if (c->pos - c->cached >= r->capacity) {
		/* A4 pairs with spsc_try_pop's R5: the slot is free again. */
		while (c->pos -
		           (c->cached = atomic_load_explicit(&r->head, memory_order_acquire)) >=
		       r->capacity)
			bench_relax();
	}
	r->slots[c->pos & r->mask].ev = *t;
	c->pos++;
	/* R4: publishes the slot's bytes; pairs with spsc_try_pop's A5. */
	atomic_store_explicit(&r->tail, c->pos, memory_order_release);
}

int spsc_try_pop(struct spsc_ring *r, struct spsc_cursor *c, struct shmbus_trade *t)
{
	if (c->pos == c->cached) {
		/* A5 pairs with spsc_push's R4. */
		c->cached = atomic_load_explicit(&r->tail, memory_order_acquire);
		if (c->pos == c->cached)
			return 0;
	}
	*t = r->slots[c->pos & r->mask].ev;
	c->pos++;
	/* R5: the slot may be reused; pairs with spsc_push's A4. */
	atomic_store_explicit(&r->head, c->pos, memory_order_release);
	return 1;
}
