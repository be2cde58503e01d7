/*
 * tool_pace.h - when a replayed record is due: the pacing arithmetic of
 * every tool or service that maps event time onto wall-clock time
 * (shmbus-replay; the collector's replay pacer is meant to call it too).
 */
#ifndef SHMBUS_TOOL_PACE_H
#define SHMBUS_TOOL_PACE_H

#include <stdint.h>

/*
 * Clock time at which a record of time event_ns is due when the first
 * record (time first_ns) was due at start_ns: start_ns + (event_ns -
 * first_ns) / speed, rounded to the nearest ns (exact at speed 1, where no
 * double is used). Event times are untrusted and two int64 times can be
 * 2^64 - 1 ns apart, so the span is taken unsigned and the result
 * saturates at INT64_MAX instead of overflowing. Records at or before
 * first_ns are due at start_ns (never before it), and so is every record
 * when speed is not > 0 (0, negative or NaN). Pure: reads no clock;
 * thread-safe.
 */
int64_t tool_pace_target_ns(int64_t start_ns, int64_t first_ns, int64_t event_ns, double speed);

#endif
