/*
 * journald_release.c - the ring's slots go back only once their events
 * are written.
 *
 * journald holds the slots it polls (shmbus_consumer_hold): an appended
 * event sits in a partial block until the block is submitted and its
 * write completes, and a journald killed before that would lose it had
 * the slot been freed at the poll (the launcher fault probe lost 45-73
 * events per SIGKILL that way, and all 500 with a long flush interval).
 * After each poll the ring position and the count of events appended so
 * far are queued; once the writer's written and lost events reach a
 * queued count, the slots before its position are released. A journald
 * that dies holding slots leaves their events in the ring: the next one
 * gets them again and skips those already in the journal
 * (journald_dedup.c). Holding half the ring asks for a flush, so that a
 * ring smaller than a block never stalls its producers on a timer.
 */
#include "journald.h"

#include <stdio.h>
#include <string.h>

void jd_release_init(struct jd *d)
{
	struct shmbus_ring_stat rs;
	memset(&d->rel, 0, sizeof(d->rel));
	d->rel.capacity = shmbus_stat_ring(d->bus, d->ring_index, &rs) == 0 ? rs.capacity : 0;
	d->rel.released = shmbus_consumer_position(d->c);
	shmbus_consumer_hold(d->c, 1);
}

/* The writer's count of events appended, and of those written or lost. */
static void jd_counts(const struct jd *d, uint64_t *appended, uint64_t *done)
{
	struct shmbus_journal_writer_stats st;
	shmbus_journal_writer_stats_get(d->w, &st);
	*appended = st.events;
	*done = st.events_written + st.events_lost;
}

void jd_release_note(struct jd *d)
{
	struct jd_release *r = &d->rel;
	uint64_t pos = shmbus_consumer_position(d->c), appended, done;
	if (pos == r->released || (r->n > 0 && r->pos[(r->head + r->n - 1) % JD_RELEASE_Q] == pos))
		return;
	jd_counts(d, &appended, &done);
	if (r->n == JD_RELEASE_Q) { /* full: the newest entry absorbs this poll */
		uint32_t last = (r->head + r->n - 1) % JD_RELEASE_Q;
		r->appended[last] = appended;
		r->pos[last] = pos;
		return;
	}
	uint32_t i = (r->head + r->n++) % JD_RELEASE_Q;
	r->appended[i] = appended;
	r->pos[i] = pos;
}

void jd_release_done(struct jd *d)
{
	struct jd_release *r = &d->rel;
	uint64_t appended, done, to = r->released;
	if (r->n == 0)
		return;
	jd_counts(d, &appended, &done);
	while (r->n > 0 && r->appended[r->head] <= done) {
		to = r->pos[r->head];
		r->head = (r->head + 1) % JD_RELEASE_Q;
		r->n--;
	}
	if (to != r->released && shmbus_consumer_release(d->c, to) == 0)
		r->released = to;
}

int jd_release_pressing(const struct jd *d)
{
	uint64_t held = shmbus_consumer_position(d->c) - d->rel.released;
	return d->rel.capacity != 0 && held >= d->rel.capacity / 2;
}
