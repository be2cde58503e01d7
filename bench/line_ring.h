/*
 * line_ring.h - the latency baseline of the oneway, fanout and pipeline
 * scenarios: a hand-written single-producer single-consumer ring of cache
 * lines in shared anonymous memory, the least a one-way shared-memory
 * handover costs.
 *
 * Design: slot_size-byte slots (64, 128 or 256, like the shmbus ring's),
 * each an 8-byte sequence word followed by the event, so a 56-byte trade
 * fills exactly one line as it does in a 64-byte shmbus slot. The producer
 * writes the event, then stores the slot's sequence (index + 1) with
 * release; the consumer spins on the sequence of the slot at its head, so
 * no shared index is read per event. The consumer publishes its head (on
 * its own line pair) after each batch; the producer reads it only when its
 * cached copy says the ring is full. No atomic read-modify-write, no
 * routing, no per-event bookkeeping beyond the sequence: what is left when
 * a bus is taken away.
 */
#ifndef BENCH_LINE_RING_H
#define BENCH_LINE_RING_H

#include <stdalign.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <shmbus/consumer.h>

struct lr_ring {
	alignas(128) _Atomic uint64_t head; /* written by the consumer */
	alignas(128) uint32_t mask;         /* read-only after lr_init */
	uint32_t stride;                    /* slot bytes */
	alignas(128) unsigned char slots[];
};
_Static_assert(offsetof(struct lr_ring, mask) - offsetof(struct lr_ring, head) == 128,
               "head alone on its line pair");

struct lr_prod {
	struct lr_ring *r;
	uint64_t tail, cached_head;
};

struct lr_cons {
	struct lr_ring *r;
	uint64_t head;
};

static inline size_t lr_bytes(uint32_t capacity, uint32_t slot_size)
{
	return sizeof(struct lr_ring) + (size_t)capacity * slot_size;
}

/* capacity a power of two; slot_size 64, 128 or 256. */
static inline void lr_init(struct lr_ring *r, uint32_t capacity, uint32_t slot_size)
{
	atomic_store_explicit(&r->head, 0, memory_order_relaxed);
	r->mask = capacity - 1;
	r->stride = slot_size;
	/* Touch every slot now: no page fault inside a measurement. */
	memset(r->slots, 0, (size_t)capacity * slot_size);
}

static inline _Atomic uint64_t *lr_seq(struct lr_ring *r, uint64_t pos)
{
	return (_Atomic uint64_t *)(void *)(r->slots + (size_t)(pos & r->mask) * r->stride);
}

/* Where to write the next event (slot_size - 8 bytes), or NULL when full. */
static inline void *lr_claim(struct lr_prod *p)
{
	if (p->tail - p->cached_head > p->r->mask) {
		/* A1 pairs with the consumer's R2: it is done with the slots it
		 * released, so they may be overwritten. */
		p->cached_head = atomic_load_explicit(&p->r->head, memory_order_acquire);
		if (p->tail - p->cached_head > p->r->mask)
			return NULL;
	}
	return (unsigned char *)lr_seq(p->r, p->tail) + 8;
}

/* Publish the event written at lr_claim's pointer. */
static inline void lr_commit(struct lr_prod *p)
{
	/* R1 publishes the event; pairs with the consumer's A2. */
	atomic_store_explicit(lr_seq(p->r, p->tail), p->tail + 1, memory_order_release);
	p->tail++;
}

/* Hand up to max ready events to fn, in order; returns how many. */
static inline int lr_poll(struct lr_cons *c, shmbus_handler fn, void *ctx, unsigned max)
{
	unsigned n = 0;

	while (n < max) {
		_Atomic uint64_t *seq = lr_seq(c->r, c->head);

		/* A2 pairs with the producer's R1. */
		if (atomic_load_explicit(seq, memory_order_acquire) != c->head + 1)
			break;
		fn((const struct shmbus_event_header *)(const void *)((unsigned char *)seq + 8),
		   ctx);
		c->head++;
		n++;
	}
	if (n)
		/* R2: the slots up to head are read; pairs with lr_claim's A1. */
		atomic_store_explicit(&c->r->head, c->head, memory_order_release);
	return (int)n;
}

#endif
