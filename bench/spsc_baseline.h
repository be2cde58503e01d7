/*
 * spsc_baseline.h - a hand-written single-producer single-consumer ring,
 * the throughput yardstick shmbus is compared with (see spsc_baseline.c).
 */
#ifndef BENCH_SPSC_BASELINE_H
#define BENCH_SPSC_BASELINE_H

#include <stddef.h>
#include <stdint.h>

#include "tput_verify.h"

struct spsc_ring;

/* Bytes of shared memory a ring of `capacity` slots (a power of two) needs. */
size_t spsc_ring_bytes(uint32_t capacity);

/* Initialise a ring in zeroed shared memory of spsc_ring_bytes() bytes.
 * batch: how many events go by before an index is published (>= 1). */
void spsc_ring_init(struct spsc_ring *r, uint32_t capacity, uint32_t batch);

/* Producer side: write trades seq 1..n (price == seq) as source 1. */
/* Map every page of the ring into the calling process (a forked child
 * inherits a shared mapping without its page tables), so that no page
 * fault lands inside a measurement. */
void spsc_ring_prefault(struct spsc_ring *r);

void spsc_produce(struct spsc_ring *r, uint64_t n, int stamp);

/* Consumer side: read n events, checking each with tv_check(). */
void spsc_consume(struct spsc_ring *r, uint64_t n, struct tv_state *v);

/*
 * One event at a time, for round trips (transport_spsc.c): each side keeps
 * its position in a cursor of its own, starting zeroed, and publishes its
 * index at once (no batching: the peer is waiting for this very event).
 * spsc_push() copies *t into the next slot, spinning while the ring is
 * full. spsc_try_pop() copies the next event into *t and returns 1, or
 * returns 0 when the ring is empty.
 */
struct spsc_cursor {
	uint64_t pos;    /* events pushed (producer) or popped (consumer) */
	uint64_t cached; /* the peer's index as last read */
};
void spsc_push(struct spsc_ring *r, struct spsc_cursor *c, const struct shmbus_trade *t);
int spsc_try_pop(struct spsc_ring *r, struct spsc_cursor *c, struct shmbus_trade *t);

#endif
