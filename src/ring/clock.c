/*
 * clock.c - the bus clock.
 *
 * Every publish is stamped, so the clock is on the hot path. Reading
 * CLOCK_REALTIME through the vDSO costs ~60 ns on a KVM guest (kvm-clock),
 * an rdtsc ~20 ns. Where the TSC is invariant (CPUID 0x80000007 EDX bit 8)
 * shmbus_now_ns() extrapolates from the TSC and re-anchors to
 * CLOCK_REALTIME every ~1 ms, refining its ticks-to-ns factor each time
 * over the whole span since the thread's first call; the error stays
 * within tens of ns of CLOCK_REALTIME, and times from different processes
 * remain comparable. Elsewhere it reads CLOCK_REALTIME directly.
 * State is per thread: no shared line is written.
 */
#include <stdbool.h>
#include <time.h>
#if defined(__x86_64__)
#include <cpuid.h>
#include <x86intrin.h>
#endif

#include "shmbus/clock.h"
#include "clock_tsc.h"

static int64_t realtime_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int64_t shmbus_mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

#if defined(__x86_64__) && !defined(SHMBUS_TSAN)
#define ANCHOR_NS 1000000 /* re-anchor period */

_Thread_local struct tsc_clock ring_tsc_clock;
#define tc ring_tsc_clock /* this file's short name for it */

static bool tsc_invariant(void)
{
	unsigned a, b, c, d;
	if (!__get_cpuid(0x80000007, &a, &b, &c, &d))
		return false;
	return (d >> 8) & 1;
}

/* Pair a TSC reading with CLOCK_REALTIME, bracketed to bound the gap:
 * the narrowest of a few brackets, so that one stretched by an interrupt
 * or a VM exit does not shift every later reading of this thread. */
static void anchor(uint64_t *tsc, int64_t *ns)
{
	uint64_t best = UINT64_MAX;
	for (int i = 0; i < 4; i++) {
		uint64_t t0 = __rdtsc();
		int64_t r = realtime_ns();
		uint64_t t1 = __rdtsc();
		if (t1 - t0 < best) {
			best = t1 - t0;
			*ns = r;
			*tsc = t0 + (t1 - t0) / 2;
		}
	}
}

static __attribute__((noinline)) int64_t tsc_reanchor(void)
{
	if (tc.state == 0) {
		tc.state = tsc_invariant() ? 1 : -1;
		if (tc.state < 0)
			return realtime_ns();
		anchor(&tc.first_tsc, &tc.first_ns);
		int64_t until = tc.first_ns + 200000; /* 200 us first estimate */
		while (realtime_ns() < until)
			;
	}
	anchor(&tc.base_tsc, &tc.base_ns);
	if (tc.base_tsc > tc.first_tsc && tc.base_ns > tc.first_ns)
		tc.ns_per_tick =
			(double)(tc.base_ns - tc.first_ns) / (double)(tc.base_tsc - tc.first_tsc);
	if (!(tc.ns_per_tick > 0.01 && tc.ns_per_tick < 100)) {
		tc.state = -1; /* implausible: TSC unusable */
		return realtime_ns();
	}
	tc.ns_per_tick_q32 = (uint64_t)(tc.ns_per_tick * 4294967296.0 + 0.5);
	tc.next_anchor = tc.base_tsc + (uint64_t)(ANCHOR_NS / tc.ns_per_tick);
	return tc.base_ns;
}

int64_t ring_clock_slow(void)
{
	if (tc.state < 0)
		return realtime_ns();
	return tsc_reanchor();
}

int64_t shmbus_now_ns(void)
{
	return ring_now_ns();
}
#else
int64_t shmbus_now_ns(void)
{
	return realtime_ns();
}
#endif
