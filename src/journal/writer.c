/*
 * writer.c - the journal writer: block buffers, io_uring submission,
 * in-order completion and durability accounting.
 *
 * Events are copied into one of queue_depth block buffers (registered with
 * io_uring as fixed buffers). A full block gets its header and checksum and
 * is queued as one write (linked to an fdatasync under the BATCH policy);
 * several blocks are in flight at once. Completions may arrive in any
 * order, but buffers retire strictly in submission order: a block counts
 * as written (and its (source, seq) pairs as durable) only when every
 * block before it is, because recovery cuts a segment at its first torn
 * block. A failed write (ENOSPC, EIO, short write) waits for the requests
 * still in flight, truncates the segment back to the failed block, counts
 * the events of every block from there on as lost, and lets the next block
 * try the same offset again: the caller never blocks on a full disk and
 * keeps draining its ring. Without io_uring (ENOSYS, EPERM, or
 * force_pwrite) the same state machine runs with synchronous pwrite.
 */
#include "journal/jrnl_writer.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

int (*jrnl_test_truncate)(int fd, off_t len);

static uint64_t jrnl_mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void jrnl_writer_error(struct shmbus_journal_writer *w, int err)
{
	w->st.write_errors++;
	w->st.last_error = err;
	if (!w->pending_err)
		w->pending_err = err;
}

/*
 * A segment is closed after its fdatasync failed: the blocks it got since
 * the last good fsync never became durable, and no fsync of a later file
 * can make them so. Count their events lost, as a failed block's, and
 * take them out of the written map: the next fsync copies that map into
 * the durable one, and a source's durable seq then moves past them only
 * with its later events.
 */
void jrnl_writer_sync_lost(struct shmbus_journal_writer *w)
{
	uint64_t n = w->written_events - w->unsynced_lost - w->durable_events;
	w->st.events_lost += n;
	w->unsynced_lost += n;
	jrnl_srcmap_copy(&w->written, &w->durable);
}

static void jrnl_wbuf_reset(struct jrnl_wbuf *b)
{
	b->used = JRNL_BLK_HDR;
	b->count = 0;
	b->state = JB_FREE;
	b->pending = 0;
	b->err = 0;
	b->written = 0;
}

/* Block written: its events join the written (and durable) maps. */
static void jrnl_retire_ok(struct shmbus_journal_writer *w, struct jrnl_wbuf *b)
{
	uint32_t pos = 0, len = b->used - JRNL_BLK_HDR;
	const struct shmbus_event_header *e;
	while ((e = jrnl_next_event(b->mem + JRNL_BLK_HDR, len, &pos)) != NULL)
		jrnl_srcmap_put_max(&w->written, e->source_id, e->seq);
	w->written_events += b->count;
	w->st.blocks++;
	w->st.disk_bytes += b->disk_len;
	if (w->o.fsync_policy == SHMBUS_JOURNAL_FSYNC_BATCH)
		w->st.fsyncs++;
}

/* A short write: finish it synchronously to learn the real error. */
static void jrnl_finish_short(struct shmbus_journal_writer *w, struct jrnl_wbuf *b)
{
	uint32_t done = (uint32_t)b->written;
	while (done < b->disk_len) {
		ssize_t n =
		    pwrite(w->fd, b->mem + done, b->disk_len - done, (off_t)(b->off + done));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			b->err = n < 0 ? -errno : -ENOSPC;
			return;
		}
		done += (uint32_t)n;
	}
	if (w->o.fsync_policy == SHMBUS_JOURNAL_FSYNC_BATCH && fdatasync(w->fd) < 0)
		b->err = -errno;
	else
		b->err = 0;
}

/*
 * Cut the segment back to seg_off after a failed block. Until that works
 * the segment stays the current one and no block is written: its failed
 * bytes are then a torn tail of the newest segment, which recovery cuts,
 * and interval fsyncs keep covering its written blocks. Leaving it for a
 * new segment would leave a torn block inside the journal (verify fails,
 * recovery never looks there) and let the new file's fsync report the
 * old one's blocks durable.
 */
static int jrnl_cut(struct shmbus_journal_writer *w)
{
	if (!w->cut_pending)
		return 0;
	int rc = jrnl_test_truncate ? jrnl_test_truncate(w->fd, (off_t)w->seg_off)
	                            : ftruncate(w->fd, (off_t)w->seg_off);
	if (rc < 0)
		return -errno;
	w->cut_pending = 0;
	return 0;
}

/* The block at head failed: wait for the rest, drop it and everything
 * submitted after it, cut the file back to where it started. */
static void jrnl_retire_failed(struct shmbus_journal_writer *w, struct jrnl_wbuf *b)
{
	uint64_t cut = b->off;
	uint32_t blk_no = b->block_no;
	jrnl_writer_error(w, b->err);
	while (w->inflight > 0) {
		struct io_uring_cqe *cqe;
		if (io_uring_wait_cqe(&w->ring, &cqe) == 0)
			io_uring_cqe_seen(&w->ring, cqe);
		w->inflight--;
	}
	w->sync_inflight = 0;
	while (w->nsub > 0) {
		struct jrnl_wbuf *x = &w->bufs[w->head];
		w->st.events_lost += x->count;
		jrnl_wbuf_reset(x);
		w->head = (w->head + 1) % w->nbuf;
		w->nsub--;
	}
	w->seg_off = cut;
	w->blk_no = blk_no;
	w->cut_pending = w->fd >= 0;
	jrnl_cut(w);
}

/* Retire finished buffers in submission order. */
static void jrnl_retire(struct shmbus_journal_writer *w)
{
	while (w->nsub > 0 && w->bufs[w->head].state == JB_DONE) {
		struct jrnl_wbuf *b = &w->bufs[w->head];
		if (b->err == 0 && (uint32_t)b->written != b->disk_len)
			jrnl_finish_short(w, b);
		if (b->err) {
			jrnl_retire_failed(w, b);
			return;
		}
		jrnl_retire_ok(w, b);
		jrnl_wbuf_reset(b);
		w->head = (w->head + 1) % w->nbuf;
		w->nsub--;
	}
}

static void jrnl_sync_done(struct shmbus_journal_writer *w, int res)
{
	w->sync_inflight = 0;
	if (res < 0) {
		jrnl_writer_error(w, res);
		return;
	}
	w->st.fsyncs++;
	jrnl_srcmap_copy(&w->durable, &w->syncing);
	w->durable_events = w->syncing_events;
}

static void jrnl_complete(struct shmbus_journal_writer *w, uint64_t ud, int res)
{
	w->inflight--;
	if (ud == JRNL_UD_SYNC) {
		jrnl_sync_done(w, res);
		return;
	}
	struct jrnl_wbuf *b = &w->bufs[ud & 0xffffu];
	if (ud & JRNL_UD_FSYNC_FLAG) {
		if (res < 0 && !b->err && res != -ECANCELED)
			b->err = res;
	} else if (res < 0) {
		b->err = res;
	} else {
		b->written = res; /* a short write cancels the linked fsync (-ECANCELED) */
	}
	if (--b->pending <= 0)
		b->state = JB_DONE;
}

/* Reap completions; wait for at least one when `wait`. */
static void jrnl_reap(struct shmbus_journal_writer *w, int wait)
{
	if (!w->use_uring || w->inflight == 0) {
		jrnl_retire(w);
		return;
	}
	struct io_uring_cqe *cqe;
	if (wait) {
		int rc;
		do
			rc = io_uring_wait_cqe(&w->ring, &cqe);
		while (rc == -EINTR);
		if (rc < 0)
			return;
	}
	unsigned head, n = 0;
	io_uring_for_each_cqe(&w->ring, head, cqe)
	{
		jrnl_complete(w, cqe->user_data, cqe->res);
		n++;
	}
	io_uring_cq_advance(&w->ring, n);
	jrnl_retire(w);
}

void jrnl_writer_drain(struct shmbus_journal_writer *w)
{
	while (w->inflight > 0)
		jrnl_reap(w, 1);
	jrnl_retire(w);
}

/* INTERVAL policy: start an fdatasync covering what is written now. */
static void jrnl_maybe_sync(struct shmbus_journal_writer *w, int force)
{
	if (w->o.fsync_policy != SHMBUS_JOURNAL_FSYNC_INTERVAL || w->fd < 0 || w->sync_inflight)
		return;
	uint64_t now = jrnl_mono_ns();
	if (!force && now - w->last_sync_ns < (uint64_t)w->o.fsync_interval_ms * 1000000u)
		return;
	if (w->written_events - w->unsynced_lost == w->durable_events)
		return;
	w->last_sync_ns = now;
	if (jrnl_srcmap_copy(&w->syncing, &w->written))
		return;
	w->syncing_events = w->written_events - w->unsynced_lost;
	struct io_uring_sqe *sqe = w->use_uring ? io_uring_get_sqe(&w->ring) : NULL;
	if (!sqe) {
		jrnl_sync_done(w, fdatasync(w->fd) < 0 ? -errno : 0);
		return;
	}
	io_uring_prep_fsync(sqe, w->fd, IORING_FSYNC_DATASYNC);
	io_uring_sqe_set_data64(sqe, JRNL_UD_SYNC);
	w->sync_inflight = 1;
	w->inflight++;
	io_uring_submit(&w->ring);
}

/* Queue buffer b at w->seg_off through io_uring, or write it now. */
static void jrnl_issue(struct shmbus_journal_writer *w, struct jrnl_wbuf *b, uint32_t idx)
{
	int batch = w->o.fsync_policy == SHMBUS_JOURNAL_FSYNC_BATCH;
	if (w->use_uring && io_uring_sq_space_left(&w->ring) >= 2) {
		struct io_uring_sqe *sqe = io_uring_get_sqe(&w->ring);
		if (w->fixed_bufs)
			io_uring_prep_write_fixed(sqe, w->fd, b->mem, b->disk_len, b->off,
			                          (int)idx);
		else
			io_uring_prep_write(sqe, w->fd, b->mem, b->disk_len, b->off);
		io_uring_sqe_set_data64(sqe, idx);
		b->pending = 1;
		if (batch) {
			sqe->flags |= IOSQE_IO_LINK;
			sqe = io_uring_get_sqe(&w->ring);
			io_uring_prep_fsync(sqe, w->fd, IORING_FSYNC_DATASYNC);
			io_uring_sqe_set_data64(sqe, idx | JRNL_UD_FSYNC_FLAG);
			b->pending = 2;
		}
		w->inflight += (uint32_t)b->pending;
		io_uring_submit(&w->ring);
		return;
	}
	ssize_t n;
	do
		n = pwrite(w->fd, b->mem, b->disk_len, (off_t)b->off);
	while (n < 0 && errno == EINTR);
	b->written = n < 0 ? 0 : (int32_t)n;
	b->err = n < 0 ? -errno : 0;
	if (!b->err && (uint32_t)n == b->disk_len && batch && fdatasync(w->fd) < 0)
		b->err = -errno;
	b->state = JB_DONE;
}

/* Fill in the block header and padding of b. */
static void jrnl_seal(struct shmbus_journal_writer *w, struct jrnl_wbuf *b)
{
	struct jrnl_blk_header bh = {
	    .magic = JRNL_BLK_MAGIC,
	    .payload_len = b->used - JRNL_BLK_HDR,
	    .count = b->count,
	    .block_no = w->blk_no,
	    .min_time_ns = b->min_t,
	    .max_time_ns = b->max_t,
	    .min_seq = b->min_seq,
	    .max_seq = b->max_seq,
	};
	memcpy(b->mem, &bh, sizeof(bh));
	bh.checksum = jrnl_blk_checksum(&bh, b->mem + JRNL_BLK_HDR);
	memcpy(b->mem, &bh, sizeof(bh));
	b->disk_len = (uint32_t)jrnl_align_up(b->used, w->block_align);
	memset(b->mem + b->used, 0, b->disk_len - b->used);
	b->block_no = w->blk_no;
}

/* The filling buffer cannot be written: its events are lost. */
static void jrnl_drop_fill(struct shmbus_journal_writer *w, struct jrnl_wbuf *b, int err)
{
	jrnl_writer_error(w, err);
	w->st.events_lost += b->count;
	jrnl_wbuf_reset(b);
	b->state = JB_FILL;
}

/* Submit the filling buffer (if it holds events) and move to the next. */
static void jrnl_submit_fill(struct shmbus_journal_writer *w)
{
	uint32_t idx = w->fill;
	struct jrnl_wbuf *b = &w->bufs[idx];
	if (b->count == 0)
		return;
	int rc = w->fd >= 0 ? jrnl_cut(w) : 0;
	if (rc) {
		jrnl_drop_fill(w, b, rc);
		return;
	}
	uint64_t span = jrnl_align_up(b->used, w->block_align);
	if (w->fd >= 0 && (w->rotate_pending || (w->seg_off > JRNL_HEADER_SIZE &&
	                                         w->seg_off + span > w->o.segment_max_bytes)))
		jrnl_wseg_close(w);
	if (w->fd < 0 && (rc = jrnl_wseg_create(w, b->first_t)) != 0) {
		jrnl_drop_fill(w, b, rc);
		return;
	}
	jrnl_seal(w, b);
	b->off = w->seg_off;
	w->seg_off += b->disk_len;
	w->blk_no++;
	b->state = JB_INFLIGHT;
	w->nsub++;
	jrnl_issue(w, b, idx);
	jrnl_reap(w, 0);
	jrnl_retire(w);
	jrnl_maybe_sync(w, 0);
	w->fill = (w->fill + 1) % w->nbuf;
	while (w->bufs[w->fill].state != JB_FREE)
		jrnl_reap(w, 1); /* all buffers busy: back-pressure */
	w->bufs[w->fill].state = JB_FILL;
}

/* Is an event at time t at least max_age newer than the segment's first?
 * Event times are what producers stamped: any two int64 values, whose
 * difference may not fit one (a time far past is always newer enough). */
static bool jrnl_segment_aged(const struct shmbus_journal_writer *w, int64_t t)
{
	int64_t age;
	if (__builtin_sub_overflow(t, w->seg_first_ts, &age))
		return t > w->seg_first_ts;
	return age >= w->o.segment_max_age_ns;
}

int shmbus_journal_writer_append(struct shmbus_journal_writer *w,
                                 const struct shmbus_event_header *ev)
{
	if (!w || !ev || ev->size < JRNL_EV_MIN || ev->size > SHMBUS_EVENT_MAX)
		return -EINVAL;
	uint32_t sz = (uint32_t)jrnl_align_up(ev->size, JRNL_EV_ALIGN);
	struct jrnl_wbuf *b = &w->bufs[w->fill];
	if (w->fd >= 0 && w->o.segment_max_age_ns && !w->rotate_pending &&
	    jrnl_segment_aged(w, ev->event_time_ns)) {
		jrnl_submit_fill(w);
		w->rotate_pending = 1;
		b = &w->bufs[w->fill];
	}
	if (b->used + sz > w->o.block_size) {
		jrnl_submit_fill(w);
		b = &w->bufs[w->fill];
	}
	if (b->count == 0) {
		b->first_t = b->min_t = b->max_t = ev->event_time_ns;
		b->min_seq = b->max_seq = ev->seq;
	}
	memcpy(b->mem + b->used, ev, ev->size);
	memset(b->mem + b->used + ev->size, 0, sz - ev->size);
	b->used += sz;
	b->count++;
	b->min_t = ev->event_time_ns < b->min_t ? ev->event_time_ns : b->min_t;
	b->max_t = ev->event_time_ns > b->max_t ? ev->event_time_ns : b->max_t;
	b->min_seq = ev->seq < b->min_seq ? ev->seq : b->min_seq;
	b->max_seq = ev->seq > b->max_seq ? ev->seq : b->max_seq;
	w->st.events++;
	w->st.bytes += ev->size;
	return 0;
}

int shmbus_journal_writer_poll(struct shmbus_journal_writer *w)
{
	jrnl_reap(w, 0);
	jrnl_retire(w);
	jrnl_maybe_sync(w, 0);
	int rc = w->pending_err;
	w->pending_err = 0;
	return rc;
}

int shmbus_journal_writer_flush(struct shmbus_journal_writer *w)
{
	jrnl_submit_fill(w);
	jrnl_writer_drain(w);
	if (w->o.fsync_policy == SHMBUS_JOURNAL_FSYNC_INTERVAL && w->fd >= 0 &&
	    w->written_events - w->unsynced_lost != w->durable_events) {
		if (jrnl_srcmap_copy(&w->syncing, &w->written) == 0) {
			w->syncing_events = w->written_events - w->unsynced_lost;
			jrnl_sync_done(w, fdatasync(w->fd) < 0 ? -errno : 0);
		}
	}
	int rc = w->pending_err;
	w->pending_err = 0;
	return rc;
}

int shmbus_journal_writer_durable_seq(const struct shmbus_journal_writer *w, uint32_t source_id,
                                      uint64_t *seq)
{
	const struct jrnl_srcmap *m =
	    w->o.fsync_policy == SHMBUS_JOURNAL_FSYNC_INTERVAL ? &w->durable : &w->written;
	return jrnl_srcmap_get(m, source_id, seq);
}

void shmbus_journal_writer_stats_get(const struct shmbus_journal_writer *w,
                                     struct shmbus_journal_writer_stats *st)
{
	*st = w->st;
	st->inflight = w->inflight;
	st->events_written = w->written_events;
	st->events_durable = w->o.fsync_policy == SHMBUS_JOURNAL_FSYNC_INTERVAL ? w->durable_events
	                                                                        : w->written_events;
}
