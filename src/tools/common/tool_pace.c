/*
 * tool_pace.c - replay pacing arithmetic (tool_pace.h).
 *
 * Targets are computed from the origin every time, never by adding waits,
 * so rounding and sleep lateness cannot accumulate. Speed 1 stays in
 * integer arithmetic; other speeds divide in double, which is exact to the
 * nanosecond for any span below 2^53 ns (104 days).
 */
#include "tool_pace.h"

#include <math.h>

int64_t tool_pace_target_ns(int64_t start_ns, int64_t first_ns, int64_t event_ns, double speed)
{
	if (!(speed > 0) || event_ns <= first_ns)
		return start_ns;
	uint64_t d = (uint64_t)event_ns - (uint64_t)first_ns, off = d; /* > 0, exact */
	if (speed != 1.0) {
		double o = nearbyint((double)d / speed);
		if (o >= 9.2233720368547758e18) /* 2^63: would not fit */
			return INT64_MAX;
		off = (uint64_t)o;
	}
	if (off > (uint64_t)INT64_MAX || (start_ns >= 0 && off > (uint64_t)(INT64_MAX - start_ns)))
		return INT64_MAX;
	return (int64_t)((uint64_t)start_ns + off);
}
