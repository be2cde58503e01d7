/*
 * journald_dedup.c - what a restarted journald must not write twice.
 *
 * journald writes a block, then releases the ring slots its events came
 * from (it holds them, journald_release.c). Killed between the two, it
 * leaves those events both in the journal and in the ring, which hands
 * them over again to the journald that attaches next. Releasing first
 * would lose them instead. They are the head of the ring's backlog
 * and the tail of the journal, in the same order: at start the last
 * `backlog` events of the journal are loaded as identities (source, seq,
 * publish and event time: a producer that reuses a source id restarts
 * its sequence, but not the clock), the
 * ring's first event is looked for among them, and from there each event
 * that matches the next pair is skipped. The first event that does not
 * match ends the check for good: at worst a duplicate is written, and
 * nothing new is skipped. When an event of the backlog was lost to a
 * write error (its block failed) and a later block was written, the check
 * ends at the lost event and the blocks written after it are journaled
 * again (docs/journal-format.md).
 */
#include "journald.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

static void jd_tail_event(const struct shmbus_event_header *ev, void *ctx)
{
	struct jd_dedup *dd = ctx;
	if (dd->n < dd->cap) {
		dd->id[dd->n].source = ev->source_id;
		dd->id[dd->n].seq = ev->seq;
		dd->id[dd->n].publish_ns = ev->publish_time_ns;
		dd->id[dd->n].event_ns = ev->event_time_ns;
		dd->n++;
	}
}

void jd_dedup_load(struct jd *d)
{
	struct jd_dedup *dd = &d->dd;
	struct shmbus_ring_stat rs;
	struct shmbus_journal_reader *r = NULL;
	struct shmbus_journal_error err = {0};
	dd->pos = SIZE_MAX;
	if (shmbus_stat_ring(d->bus, d->ring_index, &rs) != 0 || rs.depth == 0)
		return; /* nothing waits in the ring: nothing can be written twice */
	dd->cap = rs.depth < rs.capacity ? rs.depth : rs.capacity;
	dd->id = calloc(dd->cap, sizeof(*dd->id));
	int rc = dd->id ? shmbus_journal_reader_open(d->o.dir, d->o.bus, 0, &r, &err) : -ENOMEM;
	if (rc == 0)
		rc = shmbus_journal_reader_tail(r, dd->cap, jd_tail_event, dd, &err);
	shmbus_journal_reader_close(r);
	if (rc != 0 && rc != -ENOENT)
		fprintf(stderr,
		        JD_TOOL ": warning: cannot read the journal's last events (%s%s%s): events "
		        "written just before the last stop may be journaled twice\n",
		        shmbus_strerror(rc), err.detail[0] ? ": " : "", err.detail);
	dd->active = rc == 0 && dd->n > 0;
	if (!dd->active)
		jd_dedup_end(d);
}

static int jd_same(const struct jd_ident *id, const struct shmbus_event_header *ev)
{
	return id->seq == ev->seq && id->source == ev->source_id &&
	       id->publish_ns == ev->publish_time_ns && id->event_ns == ev->event_time_ns;
}

int jd_dedup_skip(struct jd *d, const struct shmbus_event_header *ev)
{
	struct jd_dedup *dd = &d->dd;
	if (dd->pos == SIZE_MAX) { /* the ring's first event: where is it in the journal? */
		size_t i = dd->n;
		while (i-- > 0 && !jd_same(&dd->id[i], ev))
			;
		dd->pos = i; /* SIZE_MAX when absent */
	}
	if (dd->pos < dd->n && jd_same(&dd->id[dd->pos], ev)) {
		dd->skipped++;
		if (++dd->pos == dd->n)
			jd_dedup_end(d);
		return 1;
	}
	jd_dedup_end(d);
	return 0;
}

void jd_dedup_end(struct jd *d)
{
	struct jd_dedup *dd = &d->dd;
	if (dd->skipped && dd->active)
		printf(JD_TOOL ": %" PRIu64 " events waiting in the ring were already journaled "
		               "(before the last stop): not written again\n",
		       dd->skipped);
	dd->active = 0;
	free(dd->id);
	dd->id = NULL;
	dd->n = dd->cap = 0;
}
