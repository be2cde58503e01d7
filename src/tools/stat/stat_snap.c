/*
 * stat_snap.c - one snapshot of a bus, read through the public stat API.
 *
 * shmbus-stat never writes to the segment: it walks every ring,
 * participant and producer entry with shmbus_stat_*(), which bounds-check
 * what they read and answer SHMBUS_ECORRUPT for damage. Rates are the
 * difference of two snapshots over the monotonic time between them;
 * rings are matched by index and name so a ring freed and reused in
 * between does not produce a negative or huge rate.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <shmbus/clock.h>

#include "stat_tool.h"

static const struct stat_ring *prev_ring(const struct stat_snap *prev,
                                         const struct shmbus_ring_stat *r)
{
	for (size_t i = 0; prev && i < prev->nrings; i++)
		if (prev->rings[i].s.index == r->index &&
		    strcmp(prev->rings[i].s.name, r->name) == 0)
			return &prev->rings[i];
	return NULL;
}

static void ring_rates(struct stat_snap *s, const struct stat_snap *prev, struct stat_ring *r)
{
	r->lag_ns = r->s.oldest_publish_ns > 0 && s->now_ns > r->s.oldest_publish_ns
	                ? s->now_ns - r->s.oldest_publish_ns
	                : 0;
	const struct stat_ring *p = prev_ring(prev, &r->s);
	double dt = prev ? (double)(s->mono_ns - prev->mono_ns) / 1e9 : 0;
	if (!p || dt <= 0 || r->s.delivered < p->s.delivered)
		return;
	double ev = (double)(r->s.delivered - p->s.delivered) / dt;
	r->events_per_s = ev;
	r->mb_per_s = ev * r->s.slot_size / 1e6;
}

static int take_rings(const shmbus_bus *bus, struct stat_snap *s, const struct stat_snap *prev)
{
	struct stat_ring *rings = realloc(s->rings, (s->bus.max_rings + 1) * sizeof(*rings));
	if (!rings)
		return -ENOMEM;
	s->rings = rings;
	s->nrings = 0;
	for (uint32_t i = 0; i < s->bus.max_rings; i++) {
		struct stat_ring *r = &rings[s->nrings];
		memset(r, 0, sizeof(*r));
		int rc = shmbus_stat_ring(bus, i, &r->s);
		if (rc == -ENOENT)
			continue;
		if (rc)
			return rc;
		ring_rates(s, prev, r);
		s->nrings++;
	}
	return 0;
}

static int take_parts(const shmbus_bus *bus, struct stat_snap *s)
{
	size_t max = s->bus.max_participants + 1;
	struct shmbus_participant_stat *p = realloc(s->parts, max * sizeof(*p));
	if (p)
		s->parts = p;
	void *c = p ? realloc(s->counters, max * sizeof(*s->counters)) : NULL;
	if (c)
		s->counters = c;
	unsigned *nc = c ? realloc(s->ncounters, max * sizeof(*nc)) : NULL;
	if (!nc)
		return -ENOMEM;
	s->ncounters = nc;
	s->nparts = 0;
	for (uint32_t i = 0; i < s->bus.max_participants; i++) {
		int rc = shmbus_stat_participant(bus, i, &p[s->nparts]);
		if (rc == -ENOENT)
			continue;
		if (rc)
			return rc;
		rc = shmbus_stat_counters(bus, i, s->counters[s->nparts], SHMBUS_MAX_COUNTERS);
		if (rc < 0 && rc != -ENOENT)
			return rc; /* damaged counter table: say so, don't show none */
		s->ncounters[s->nparts] =
		    rc > 0 ? (unsigned)(rc < SHMBUS_MAX_COUNTERS ? rc : SHMBUS_MAX_COUNTERS) : 0;
		s->nparts++;
	}
	return 0;
}

static int take_prods(const shmbus_bus *bus, struct stat_snap *s)
{
	struct shmbus_producer_stat *p = realloc(s->prods, (s->bus.max_producers + 1) * sizeof(*p));
	if (!p)
		return -ENOMEM;
	s->prods = p;
	s->nprods = 0;
	for (uint32_t i = 0; i < s->bus.max_producers; i++) {
		int rc = shmbus_stat_producer(bus, i, &p[s->nprods]);
		if (rc == -ENOENT)
			continue;
		if (rc)
			return rc;
		s->nprods++;
	}
	/* Over every producer the bus has had, so that they never go back
	 * when one closes (-EAGAIN: a best-effort sum, said in the message). */
	struct shmbus_producer_stat t;
	int rc = shmbus_stat_producer_totals(bus, &t);
	if (rc && rc != -EAGAIN)
		return rc;
	s->published = t.published;
	s->unrouted = t.unrouted;
	return 0;
}

int stat_snap_take(const shmbus_bus *bus, const struct stat_snap *prev, struct stat_snap *s)
{
	if (prev && !prev->mono_ns)
		prev = NULL;
	s->now_ns = shmbus_now_ns();
	s->mono_ns = shmbus_mono_ns();
	s->has_rates = prev != NULL;
	int rc = shmbus_stat_bus(bus, &s->bus);
	if (rc == 0)
		rc = take_rings(bus, s, prev);
	if (rc == 0)
		rc = take_parts(bus, s);
	if (rc == 0)
		rc = take_prods(bus, s);
	return rc;
}

/* The clock is read before the tables: a participant may beat between
 * the two, and another process's clock may run a little ahead of ours
 * (shmbus_now_ns() is per-thread TSC extrapolation). Either gave a
 * negative age; such a heartbeat is as fresh as can be. */
int64_t stat_heartbeat_age(const struct stat_snap *s, const struct shmbus_participant_stat *p)
{
	if (!p->heartbeat_ns)
		return -1;
	return s->now_ns > p->heartbeat_ns ? s->now_ns - p->heartbeat_ns : 0;
}

void stat_snap_free(struct stat_snap *s)
{
	free(s->rings);
	free(s->parts);
	free(s->prods);
	free(s->counters);
	free(s->ncounters);
	memset(s, 0, sizeof(*s));
}
