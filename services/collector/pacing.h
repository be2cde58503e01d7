/*
 * pacing.h - when to publish each record of a replay.
 *
 * A replay maps event time onto wall-clock time: the first record is due at
 * the wall-clock start, and a record whose event time is d ns after the
 * first one's is due d / speed ns after the start. speed 1 keeps the original
 * timing, N is N times faster, 0 means as fast as possible (always due).
 * Targets are absolute, never accumulated from one wait to the next, so
 * sleeping late does not drift: a late publisher catches up by publishing
 * the overdue records at once, and the average rate stays right.
 *
 * Tolerance: the computed target is exact for speed 1 and within 1 ns of
 * the exact d / speed for spans below 2^53 ns (104 days); beyond, the error
 * is relative (1e-16). What the caller achieves depends on its sleep: with
 * clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME) typical lateness is
 * 50-100 us, so a caller that needs better spins for the last ~100 us.
 * Use one clock (CLOCK_MONOTONIC) for the start and for "now".
 *
 * Everything here is pure arithmetic on caller-owned state: no clock is
 * read, no allocation; a pacer is not shared between threads.
 */
#ifndef SHMBUS_PACING_H
#define SHMBUS_PACING_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

struct shmbus_pacer {
	double speed;           /* 0 = as fast as possible */
	int64_t wall_start_ns;  /* wall-clock time of the first record */
	int64_t first_event_ns; /* event time of the first record */
	int started;            /* first_event_ns is set */
};

/*
 * Wall-clock time at which a record of @event_ns is due: @wall_start_ns +
 * (@event_ns - @first_event_ns) / @speed, rounded to the nearest ns and
 * saturated to the int64 range. Records earlier than the first are due at
 * the start (never before it). With @speed <= 0 (or not a number), returns
 * @wall_start_ns. Pure, thread-safe.
 */
int64_t shmbus_pace_target_ns(int64_t wall_start_ns, int64_t first_event_ns, int64_t event_ns,
			      double speed);

/*
 * Initialise @p for a replay at @speed (0 = max, 1 = original timing, N =
 * N times faster) that starts at @wall_start_ns. The first record passed
 * to shmbus_pacer_due / _wait fixes the event-time origin.
 * Returns 0, or -EINVAL when @speed is negative, infinite or NaN.
 */
int shmbus_pacer_init(struct shmbus_pacer *p, double speed, int64_t wall_start_ns);

/* Wall-clock time at which the record of @event_ns is due. */
int64_t shmbus_pacer_due(struct shmbus_pacer *p, int64_t event_ns);

/*
 * How long to wait, from @now_ns, before publishing the record of
 * @event_ns: due - now, or 0 when it is already due (or speed is 0).
 */
int64_t shmbus_pacer_wait(struct shmbus_pacer *p, int64_t event_ns, int64_t now_ns);

#ifdef __cplusplus
}
#endif
#endif /* SHMBUS_PACING_H */
