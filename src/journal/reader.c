/*
 * reader.c - iterate a journal directory with time, type, symbol and
 * position filters.
 *
 * Open indexes every segment from its block headers (jrnl_segment.c); a
 * query then walks segments and blocks in write order and skips, from the
 * index alone, every block whose time range misses [t_from, t_to) or whose
 * max seq is below the resume point, so a narrow time window reads only
 * the blocks that overlap it. A block that is read is checked in full
 * (checksum, every event's bounds) before any event of it is returned, and
 * a bad one is reported with its segment and offset. The iteration then
 * goes on with the next block the index located (its header chain was
 * sound, and each block is checked by its own checksum before use); after
 * an unreadable block header nothing more of that segment can be located
 * safely, so it goes on with the next segment.
 *
 * Open files are bounded: a journal can hold more segments than the
 * process may open (one per journald restart, or per --segment-age
 * period, for months), and holding one descriptor per segment made cat
 * and replay of such a journal fail with EMFILE. Only the first
 * JRNL_READER_FDS segments keep their file open after the index is built
 * (the oldest, which retention would delete first); every other one is
 * parked and opened again when one of its blocks is read, and a segment
 * is parked again once the iteration has left it.
 *
 * Retention deletes the oldest segments while readers open the journal:
 * a segment listed but gone by the time it is opened is left out, as
 * verify and info do, not reported as damage (a dangling link named like
 * a segment is still reported: the name is there, its file is not). A
 * parked segment deleted later, while the reader holds the journal open
 * (a live cat, a seek back, tail and last_seqs), is left out the same
 * way when its reopen finds the name gone: retention, not damage.
 */
#include "journal/jrnl_format.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define JRNL_READER_FDS 16 /* segment files kept open after the index is built */

struct shmbus_journal_reader {
	struct jrnl_seg *segs;
	size_t nseg;
	struct shmbus_journal_query q;
	uint32_t *syms; /* sorted copy of q.symbols */
	size_t si, bi;  /* next block: segment si, block bi */
	int bad_reported;
	int searching; /* q.after: looking for the resume point */
	uint8_t *buf;
	size_t cap;
	int have_block;
	uint32_t pos, plen;
};

void shmbus_journal_query_init(struct shmbus_journal_query *q)
{
	memset(q, 0, sizeof(*q));
	q->t_from = INT64_MIN;
	q->t_to = INT64_MAX;
}

void shmbus_journal_reader_close(struct shmbus_journal_reader *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < r->nseg; i++)
		jrnl_seg_close(&r->segs[i]);
	free(r->segs);
	free(r->syms);
	free(r->buf);
	free(r);
}

/* 1 when the segment at path is gone, name and all: retention deleted it
 * (a dangling link named like a segment is still there, and is damage). */
static int jrnl_seg_deleted(const char *path)
{
	struct stat st;
	return lstat(path, &st) < 0 && errno == ENOENT;
}

static int jrnl_reader_load(struct shmbus_journal_reader *r, const struct jrnl_seg_entry *v,
                            size_t n, uint64_t expect, struct shmbus_journal_error *err)
{
	r->segs = calloc(n ? n : 1, sizeof(*r->segs));
	if (!r->segs)
		return jrnl_err_set(err, -ENOMEM, NULL, 0, "out of memory");
	for (size_t i = 0; i < n; i++) {
		struct jrnl_seg *s = &r->segs[r->nseg];
		int rc = jrnl_seg_open_scan(s, v[i].path);
		if (rc == -ENOENT && jrnl_seg_deleted(v[i].path))
			continue; /* deleted by retention since the listing: no damage */
		if (rc && rc != -EISDIR && rc != -EINVAL && rc != -ENOENT && rc != -ELOOP)
			return jrnl_err_set(err, rc, v[i].path, 0, "cannot open segment: %s",
			                    jrnl_open_error(rc)); /* EACCES, EMFILE, EIO ... */
		if (rc) {
			/* An entry that is no segment file (a directory, a FIFO, a
			 * dangling or looping link named like a segment) is
			 * reported where it falls in the order, as damaged data;
			 * the segments around it are still read. Any other error
			 * stops the open, as it did: it says nothing of the data. */
			memset(s, 0, sizeof(*s));
			s->fd = -1;
			snprintf(s->path, sizeof(s->path), "%s", v[i].path);
			s->bad = 1;
			snprintf(s->bad_detail, sizeof(s->bad_detail), "cannot open segment: %s",
			         jrnl_open_error(rc));
			r->nseg++;
			continue;
		}
		r->nseg++;
		if (r->nseg > JRNL_READER_FDS)
			jrnl_seg_park(s); /* reopened when one of its blocks is read */
		if (expect && !(s->bad && s->bad_off == 0) && s->h.layout_hash != expect)
			return jrnl_err_set(err, -EPROTO, s->path, 24,
			                    "event layout hash 0x%016llx, expected 0x%016llx",
			                    (unsigned long long)s->h.layout_hash,
			                    (unsigned long long)expect);
	}
	return 0;
}

int shmbus_journal_reader_open(const char *dir, const char *bus_name, uint64_t expected_layout_hash,
                               struct shmbus_journal_reader **out, struct shmbus_journal_error *err)
{
	if (!dir || !out || (bus_name && !jrnl_bus_name_ok(bus_name)))
		return jrnl_err_set(err, -EINVAL, NULL, 0, "bad directory or bus name");
	struct jrnl_seg_entry *v;
	size_t n;
	int rc = jrnl_dir_list(dir, bus_name, &v, &n);
	if (rc)
		return jrnl_err_set(err, rc, dir, 0, "cannot list journal directory");
	struct shmbus_journal_reader *r = calloc(1, sizeof(*r));
	if (!r) {
		free(v);
		return jrnl_err_set(err, -ENOMEM, NULL, 0, "out of memory");
	}
	rc = jrnl_reader_load(r, v, n, expected_layout_hash, err);
	free(v);
	struct shmbus_journal_query q;
	shmbus_journal_query_init(&q);
	if (rc == 0)
		rc = shmbus_journal_reader_seek(r, &q);
	if (rc) {
		shmbus_journal_reader_close(r);
		return rc;
	}
	*out = r;
	return 0;
}

static int jrnl_u32_cmp(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? -1 : x > y;
}

int shmbus_journal_reader_seek(struct shmbus_journal_reader *r,
                               const struct shmbus_journal_query *q)
{
	if (!r || !q || (q->n_symbols && !q->symbols))
		return -EINVAL;
	uint32_t *syms = NULL;
	if (q->symbols) {
		syms = malloc((q->n_symbols ? q->n_symbols : 1) * sizeof(*syms));
		if (!syms)
			return -ENOMEM;
		memcpy(syms, q->symbols, q->n_symbols * sizeof(*syms));
		qsort(syms, q->n_symbols, sizeof(*syms), jrnl_u32_cmp);
	}
	/* A segment the iteration leaves here gives its file back, as when
	 * it walks off one (repeated seeks back held them all open). */
	if (r->si < r->nseg && r->si >= JRNL_READER_FDS)
		jrnl_seg_park(&r->segs[r->si]);
	free(r->syms);
	r->syms = syms;
	r->q = *q;
	r->q.symbols = syms;
	r->si = r->bi = 0;
	r->bad_reported = 0;
	r->have_block = 0;
	r->searching = q->after;
	return 0;
}

/* 1 if t is at or past the query's upper bound. t_to = INT64_MAX is no
 * bound at all: an event stamped INT64_MAX is in every range open at the
 * top, the default query's included. */
static int jrnl_past_end(const struct shmbus_journal_reader *r, int64_t t)
{
	return t >= r->q.t_to && r->q.t_to != INT64_MAX;
}

/* 1 if the index alone proves block b holds no match. */
static int jrnl_block_skip(const struct shmbus_journal_reader *r, const struct jrnl_blk_ent *b)
{
	if (r->searching) /* the resume point: at its seq or later, not before t_from */
		return b->max_seq < r->q.after_seq || b->max_time_ns < r->q.t_from;
	return b->max_time_ns < r->q.t_from || jrnl_past_end(r, b->min_time_ns);
}

static int jrnl_event_match(struct shmbus_journal_reader *r, const struct shmbus_event_header *e)
{
	if (r->searching) {
		if (e->source_id != r->q.after_source || e->seq < r->q.after_seq)
			return 0;
		r->searching = 0;
		if (e->seq == r->q.after_seq)
			return 0; /* the resume point itself is not returned */
	}
	if (e->event_time_ns < r->q.t_from || jrnl_past_end(r, e->event_time_ns))
		return 0;
	if (r->q.type_mask && (e->type >= 64 || !(r->q.type_mask & SHMBUS_TYPE_BIT(e->type))))
		return 0;
	if (r->q.symbols &&
	    !bsearch(&e->symbol_id, r->syms, r->q.n_symbols, sizeof(uint32_t), jrnl_u32_cmp))
		return 0;
	return 1;
}

/* Load the next block that may match. Returns 1, 0 (end), or an error. */
static int jrnl_reader_advance(struct shmbus_journal_reader *r, struct shmbus_journal_error *err)
{
	while (r->si < r->nseg) {
		struct jrnl_seg *s = &r->segs[r->si];
		if (r->bi >= s->nblk) {
			if (s->bad && !r->bad_reported) {
				r->bad_reported = 1;
				return jrnl_err_set(err, -EBADMSG, s->path, s->bad_off, "%s",
				                    s->bad_detail);
			}
			jrnl_seg_park(s); /* done with it: free the descriptor */
			r->si++;
			r->bi = 0;
			r->bad_reported = 0;
			continue;
		}
		size_t i = r->bi++;
		if (jrnl_block_skip(r, &s->blks[i]))
			continue;
		int rc = jrnl_seg_read_block(s, i, &r->buf, &r->cap, err);
		if (rc == -EBADMSG)
			return rc; /* the next call goes on with block i + 1 */
		if (rc) {
			jrnl_seg_park(s);
			r->si++; /* I/O error: go on with the next segment */
			r->bi = 0;
			r->bad_reported = 0;
			if (rc == -ENOENT && jrnl_seg_deleted(s->path))
				continue; /* parked, then deleted by retention: no damage */
			return rc;
		}
		r->have_block = 1;
		r->pos = 0;
		r->plen = s->blks[i].payload_len;
		return 1;
	}
	return 0;
}

int shmbus_journal_reader_next(struct shmbus_journal_reader *r,
                               const struct shmbus_event_header **ev,
                               struct shmbus_journal_error *err)
{
	if (!r || !ev)
		return -EINVAL;
	for (;;) {
		if (r->have_block) {
			const struct shmbus_event_header *e;
			while ((e = jrnl_next_event(r->buf + JRNL_BLK_HDR, r->plen, &r->pos))) {
				if (jrnl_event_match(r, e)) {
					*ev = e;
					return 1;
				}
			}
			r->have_block = 0;
		}
		int rc = jrnl_reader_advance(r, err);
		if (rc <= 0)
			return rc;
	}
}

int shmbus_journal_reader_latest_time(struct shmbus_journal_reader *r, int64_t *t)
{
	int found = 0;
	int64_t best = INT64_MIN;
	for (size_t i = 0; i < r->nseg; i++) {
		for (size_t j = 0; j < r->segs[i].nblk; j++) {
			found = 1;
			if (r->segs[i].blks[j].max_time_ns > best)
				best = r->segs[i].blks[j].max_time_ns;
		}
	}
	if (!found)
		return -ENOENT;
	*t = best;
	return 0;
}

/* A wanted source and where its answer goes, sorted by source. */
struct jrnl_want {
	uint32_t source;
	uint32_t index; /* into the caller's arrays */
	uint64_t block; /* 1 + the block (counted from the end) that had it; 0: none yet */
};

static int jrnl_want_cmp(const void *a, const void *b)
{
	const struct jrnl_want *x = a, *y = b;
	return x->source < y->source ? -1 : x->source > y->source;
}

int shmbus_journal_reader_last_seqs(struct shmbus_journal_reader *r, const uint32_t *sources,
                                    size_t n, uint64_t *seqs, struct shmbus_journal_error *err)
{
	if (n == 0)
		return 0;
	struct jrnl_want *w = calloc(n, sizeof(*w));
	if (!w)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		w[i].source = sources[i];
		w[i].index = (uint32_t)i;
		seqs[i] = 0;
	}
	qsort(w, n, sizeof(*w), jrnl_want_cmp);
	size_t distinct = 0; /* a source named twice is one to find */
	for (size_t i = 0; i < n; i++)
		distinct += i == 0 || w[i].source != w[i - 1].source;
	uint8_t *buf = NULL;
	size_t cap = 0, found = 0;
	uint64_t nblock = 0;
	int rc = 0;
	/* One pass from the end, block by block, until every source is found:
	 * a source's answer is the highest seq in the most recent block that
	 * has it. */
	for (size_t i = r->nseg; i-- > 0 && found < distinct && rc == 0;) {
		struct jrnl_seg *sg = &r->segs[i];
		for (size_t j = sg->nblk; j-- > 0 && found < distinct;) {
			if ((rc = jrnl_seg_read_block(sg, j, &buf, &cap, err)) != 0) {
				if (rc == -ENOENT && jrnl_seg_deleted(sg->path))
					rc = 0; /* deleted by retention: on with the one before */
				break;
			}
			nblock++;
			uint32_t pos = 0;
			const struct shmbus_event_header *e;
			while ((e = jrnl_next_event(buf + JRNL_BLK_HDR, sg->blks[j].payload_len,
			                            &pos))) {
				struct jrnl_want key = {.source = e->source_id};
				struct jrnl_want *hit = bsearch(&key, w, n, sizeof(*w), jrnl_want_cmp);
				if (!hit)
					continue;
				while (hit > w && hit[-1].source == e->source_id)
					hit--; /* the first of its run answers for all */
				if (hit->block != 0 && hit->block != nblock)
					continue; /* found in a more recent block */
				if (hit->block == 0) {
					hit->block = nblock;
					found++;
				}
				if (e->seq > seqs[hit->index])
					seqs[hit->index] = e->seq;
			}
		}
		jrnl_seg_park(sg);
	}
	free(buf);
	for (size_t i = 1; i < n; i++) /* the duplicates of a source */
		if (w[i].source == w[i - 1].source) {
			seqs[w[i].index] = seqs[w[i - 1].index];
			w[i].block = w[i - 1].block;
		}
	free(w);
	return rc ? rc : (int)found;
}

int shmbus_journal_reader_last_seq(struct shmbus_journal_reader *r, uint32_t source_id,
                                   uint64_t *seq, struct shmbus_journal_error *err)
{
	uint64_t s;
	int rc = shmbus_journal_reader_last_seqs(r, &source_id, 1, &s, err);
	if (rc < 0)
		return rc;
	if (rc == 0)
		return -ENOENT;
	*seq = s;
	return 0;
}

int shmbus_journal_reader_tail(struct shmbus_journal_reader *r, uint64_t max_events,
                               void (*fn)(const struct shmbus_event_header *ev, void *ctx),
                               void *ctx, struct shmbus_journal_error *err)
{
	/* The first block of the tail: walk back until max_events are covered. */
	size_t first_seg = r->nseg, first_blk = 0;
	uint64_t have = 0;
	for (size_t i = r->nseg; i-- > 0 && have < max_events;) {
		const struct jrnl_seg *s = &r->segs[i];
		for (size_t j = s->nblk; j-- > 0 && have < max_events;) {
			have += s->blks[j].count;
			first_seg = i;
			first_blk = j;
		}
	}
	uint64_t skip = have > max_events ? have - max_events : 0;
	uint8_t *buf = NULL;
	size_t cap = 0;
	int rc = 0;
	for (size_t i = first_seg; i < r->nseg && rc == 0; i++) {
		struct jrnl_seg *s = &r->segs[i];
		for (size_t j = i == first_seg ? first_blk : 0; j < s->nblk && rc == 0; j++) {
			rc = jrnl_seg_read_block(s, j, &buf, &cap, err);
			if (rc == -ENOENT && jrnl_seg_deleted(s->path)) {
				rc = 0; /* deleted by retention: go on with the next one */
				break;
			}
			uint32_t pos = 0;
			const struct shmbus_event_header *e;
			while (rc == 0 && (e = jrnl_next_event(buf + JRNL_BLK_HDR,
			                                       s->blks[j].payload_len, &pos))) {
				if (skip)
					skip--;
				else
					fn(e, ctx);
			}
		}
		jrnl_seg_park(s);
	}
	free(buf);
	return rc;
}
