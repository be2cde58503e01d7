/*
 * pacing.c - replay pacing arithmetic (see pacing.h for the contract).
 *
 * Design: targets are computed from the origin every time (never by adding
 * waits) so rounding and sleep lateness cannot accumulate. Speed 1 stays in
 * integer arithmetic; other speeds divide in double, which is exact to the
 * nanosecond for any span a trading day can produce.
 */
#include "pacing.h"

#include <errno.h>
#include <math.h>

int64_t shmbus_pace_target_ns(int64_t wall_start_ns, int64_t first_event_ns, int64_t event_ns,
			      double speed)
{
	uint64_t d, off;

	if (!(speed > 0) || event_ns <= first_event_ns)
		return wall_start_ns;
	d = (uint64_t)event_ns - (uint64_t)first_event_ns; /* > 0, fits */
	if (speed == 1.0) {
		off = d;
	} else {
		double o = nearbyint((double)d / speed);
		if (o >= 9.2233720368547758e18)
			return INT64_MAX;
		off = (uint64_t)o;
	}
	if (off > (uint64_t)INT64_MAX ||
	    (wall_start_ns >= 0 && off > (uint64_t)(INT64_MAX - wall_start_ns)))
		return INT64_MAX;
	return (int64_t)((uint64_t)wall_start_ns + off);
}

int shmbus_pacer_init(struct shmbus_pacer *p, double speed, int64_t wall_start_ns)
{
	if (!p || !(speed >= 0) || isinf(speed))
		return -EINVAL;
	p->speed = speed;
	p->wall_start_ns = wall_start_ns;
	p->first_event_ns = 0;
	p->started = 0;
	return 0;
}

int64_t shmbus_pacer_due(struct shmbus_pacer *p, int64_t event_ns)
{
	if (!p->started) {
		p->first_event_ns = event_ns;
		p->started = 1;
	}
	return shmbus_pace_target_ns(p->wall_start_ns, p->first_event_ns, event_ns, p->speed);
}

int64_t shmbus_pacer_wait(struct shmbus_pacer *p, int64_t event_ns, int64_t now_ns)
{
	int64_t due = shmbus_pacer_due(p, event_ns);

	if (p->speed == 0 || due <= now_ns)
		return 0;
	return due - now_ns;
}
