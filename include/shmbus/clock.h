/*
 * shmbus/clock.h - the bus clock: wall-clock nanoseconds since the epoch.
 *
 * Every publish_time_ns is stamped with shmbus_now_ns() so that processes
 * can compare times without exchanging anything. Where the CPU has an
 * invariant TSC (x86-64) it extrapolates the TSC between anchors to
 * CLOCK_REALTIME taken every millisecond, per thread (one rdtsc and one
 * multiply, no system call); elsewhere it reads CLOCK_REALTIME through
 * the vDSO.
 */
#ifndef SHMBUS_CLOCK_H
#define SHMBUS_CLOCK_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Epoch nanoseconds (CLOCK_REALTIME). Thread-safe; async-signal-safe. */
int64_t shmbus_now_ns(void);

/* Monotonic nanoseconds (CLOCK_MONOTONIC), for measuring intervals. */
int64_t shmbus_mono_ns(void);

#ifdef __cplusplus
}
#endif
#endif
