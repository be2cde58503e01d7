/*
 * clock_tsc.h - the bus clock's fast path, inlined where every publish
 * stamps an event (a call costs the producer stores it cannot spare, see
 * ring.h). The state and the slow path live in clock.c.
 */
#ifndef RING_CLOCK_TSC_H
#define RING_CLOCK_TSC_H

#include <stdint.h>

#include "shmbus/clock.h"

#if defined(__x86_64__) && !defined(SHMBUS_TSAN)
#include <x86intrin.h>

/* Per thread: TSC extrapolation anchored to CLOCK_REALTIME. */
struct tsc_clock {
	int state; /* 0 unknown, 1 tsc, -1 no invariant tsc */
	uint64_t first_tsc, base_tsc, next_anchor;
	int64_t first_ns, base_ns;
	double ns_per_tick;
	uint64_t ns_per_tick_q32; /* ns_per_tick in 32.32 fixed point */
};
extern _Thread_local struct tsc_clock ring_tsc_clock
	__attribute__((tls_model("initial-exec"), visibility("hidden")));

/* Re-anchor (or first use, or no usable TSC): clock.c. */
int64_t ring_clock_slow(void) __attribute__((visibility("hidden")));

static inline int64_t ring_now_ns(void)
{
	struct tsc_clock *tc = &ring_tsc_clock;
	if (__builtin_expect(tc->state > 0, 1)) {
		uint64_t t = __rdtsc();
		/* Within the anchor's window the product stays below 2^53
		 * (1 ms of ticks times the factor in 32.32): one integer
		 * multiply, where a double conversion costs three dependent
		 * instructions on the publish path. */
		if (__builtin_expect(t - tc->base_tsc < tc->next_anchor - tc->base_tsc, 1))
			return tc->base_ns +
			       (int64_t)(((t - tc->base_tsc) * tc->ns_per_tick_q32) >> 32);
	}
	return ring_clock_slow();
}
#else
static inline int64_t ring_now_ns(void)
{
	return shmbus_now_ns();
}
#endif

#endif
