/*
 * tput_verify.h - the throughput consumer's check of every event, shared
 * by the shmbus consumer and the SPSC baseline so that both do the same
 * work per event.
 *
 * Producer i (source id source_base + i + 1) publishes events seq
 * 1..expected[i] with price == seq. Each shmbus round takes new source ids
 * (source_base): the bus goes on from a reused id's last seq. A bitmap per producer gives exact duplicates and, at the
 * end, exact losses; a sequence that is not last + 1 counts as out of
 * order; a price that does not match its seq counts as corrupt (a torn or
 * recycled slot).
 */
#ifndef BENCH_TPUT_VERIFY_H
#define BENCH_TPUT_VERIFY_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <shmbus/event.h>

#include "bench_common.h"

struct tv_state {
	uint32_t nprod;
	uint32_t source_base; /* producer i is source source_base + i + 1 */
	uint64_t received; /* every event seen */
	uint64_t duplicates, out_of_order, corrupt, foreign;
	uint64_t expected[BENCH_MAX_PRODUCERS];
	uint64_t unique[BENCH_MAX_PRODUCERS];
	uint64_t last[BENCH_MAX_PRODUCERS];
	uint64_t *bits[BENCH_MAX_PRODUCERS];
};

/* Allocate and touch the bitmaps (no page fault later). Returns 0 or -ENOMEM. */
static inline int tv_init(struct tv_state *s, uint32_t nprod, const uint64_t *expected)
{
	memset(s, 0, sizeof(*s));
	s->nprod = nprod;
	for (uint32_t i = 0; i < nprod; i++) {
		size_t words = (size_t)(expected[i] + 63) / 64 + 1;

		s->expected[i] = expected[i];
		s->bits[i] = malloc(words * sizeof(uint64_t));
		if (!s->bits[i])
			return -12; /* -ENOMEM */
		memset(s->bits[i], 0, words * sizeof(uint64_t));
	}
	return 0;
}

static inline void tv_free(struct tv_state *s)
{
	for (uint32_t i = 0; i < s->nprod; i++)
		free(s->bits[i]);
}

static inline void tv_check(struct tv_state *s, const struct shmbus_trade *t)
{
	uint32_t idx = t->h.source_id - s->source_base - 1;
	uint64_t seq = t->h.seq, k, mask;

	s->received++;
	if (idx >= s->nprod || seq == 0 || seq > s->expected[idx]) {
		s->foreign++;
		return;
	}
	k = seq - 1;
	mask = UINT64_C(1) << (k & 63);
	if (s->bits[idx][k >> 6] & mask) {
		s->duplicates++;
		return;
	}
	s->bits[idx][k >> 6] |= mask;
	s->unique[idx]++;
	if (seq != s->last[idx] + 1)
		s->out_of_order++;
	s->last[idx] = seq;
	if (t->price != (double)seq)
		s->corrupt++;
}

/* Events expected but never seen, over every producer. */
static inline uint64_t tv_lost(const struct tv_state *s)
{
	uint64_t lost = 0;

	for (uint32_t i = 0; i < s->nprod; i++)
		lost += s->expected[i] - s->unique[i];
	return lost;
}

#endif
