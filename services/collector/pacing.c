/*
 * pacing.c - replay pacing arithmetic (see pacing.h for the contract).
 *
 * Design: the arithmetic is tool_pace_target_ns() (shared with
 * shmbus-replay): targets are computed from the origin every time, never
 * by adding waits, so rounding and sleep lateness cannot accumulate.
 */
#include "pacing.h"
#include "tool_pace.h"

#include <errno.h>
#include <math.h>

int64_t shmbus_pace_target_ns(int64_t wall_start_ns, int64_t first_event_ns, int64_t event_ns,
			      double speed)
{
	return tool_pace_target_ns(wall_start_ns, first_event_ns, event_ns, speed);
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
