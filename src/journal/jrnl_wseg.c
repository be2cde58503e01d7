/*
 * jrnl_wseg.c - the writer's segment files: create, close, retention and
 * crash recovery.
 *
 * These are cold paths (once per segment), so they are synchronous and
 * simple. A segment becomes visible only with a complete header: it is
 * written (and, unless the policy is NONE, fdatasync'ed together with the
 * directory) before any block is queued to it, so a crash can tear a
 * segment's tail but never leave blocks behind a torn header; and, where
 * the filesystem makes unnamed files, before the segment has its name, so
 * a reader never lists a segment shorter than its header. File names
 * carry a number that is the segment's first event time, forced strictly
 * increasing so that name order is write order even if event times go
 * backwards. Recovery only looks at the newest segment (older ones were
 * closed cleanly or already recovered) and cuts it at the first block that
 * fails any check: everything before that block is kept byte for byte.
 */
#include "journal/jrnl_writer.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static int64_t jrnl_realtime_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int jrnl_fsync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	int rc = fsync(fd) < 0 ? -errno : 0;
	close(fd);
	return rc;
}

void (*jrnl_test_hook)(const char *seg_path);

/* The segment's name: the first start number from first_ts on (above the
 * last one) that try_name() does not find taken. try_name returns 0 when
 * it took w->seg_path, -EEXIST when the name is another's, else an error. */
static int jrnl_wseg_name(struct shmbus_journal_writer *w, int64_t first_ts,
                          int (*try_name)(struct shmbus_journal_writer *w, int *fd), int *fd)
{
	uint64_t start = first_ts > 0 ? (uint64_t)first_ts : 0;
	if (w->have_last && start <= w->last_start)
		start = w->last_start + 1;
	for (int tries = 0; tries < 1000; tries++, start++) {
		if (start > (uint64_t)INT64_MAX) /* names would no longer sort in write order */
			return -EOVERFLOW;
		int rc = jrnl_seg_name(w->seg_path, sizeof(w->seg_path), w->dir, w->bus, start);
		if (rc == 0)
			rc = try_name(w, fd);
		if (rc == 0) {
			w->seg_start = start;
			w->last_start = start;
			w->have_last = 1;
			return 0;
		}
		if (rc != -EEXIST)
			return rc;
	}
	return -EEXIST;
}

/* Create w->seg_path (O_EXCL) into *out, honouring O_DIRECT when the
 * filesystem accepts it (tmpfs does not). */
static int jrnl_wseg_create_named(struct shmbus_journal_writer *w, int *out)
{
	int flags = O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC;
	int fd;
	w->st.o_direct = 0;
	if (w->o.o_direct) {
		fd = open(w->seg_path, flags | O_DIRECT, 0640);
		if (fd >= 0)
			w->st.o_direct = 1;
		else if (errno == EINVAL) /* may have created it already */
			fd = open(w->seg_path, O_WRONLY | O_CREAT | O_CLOEXEC, 0640);
	} else {
		fd = open(w->seg_path, flags, 0640);
	}
	if (fd < 0)
		return -errno;
	*out = fd;
	return 0;
}

/* Give the unnamed file fd the name w->seg_path. */
static int jrnl_wseg_link(struct shmbus_journal_writer *w, int *fd)
{
	char proc[64];
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", *fd);
	return linkat(AT_FDCWD, proc, AT_FDCWD, w->seg_path, AT_SYMLINK_FOLLOW) == 0 ? 0 : -errno;
}

/* An unnamed file in the journal's directory (O_TMPFILE), with O_DIRECT
 * when asked and accepted; -errno when the filesystem makes none. */
static int jrnl_wseg_open_unnamed(struct shmbus_journal_writer *w)
{
	int flags = O_TMPFILE | O_WRONLY | O_CLOEXEC, fd = -1;
	w->st.o_direct = 0;
	if (w->o.o_direct && (fd = open(w->dir, flags | O_DIRECT, 0640)) >= 0)
		w->st.o_direct = 1;
	if (fd < 0)
		fd = open(w->dir, flags, 0640);
	return fd < 0 ? -errno : fd;
}

/* Write the header, durable unless the policy is NONE. */
static int jrnl_wseg_write_header(struct shmbus_journal_writer *w, int fd, int64_t first_ts)
{
	jrnl_seg_header_build(w->hdr_area, w->bus, w->o.layout_hash, w->block_align, first_ts,
	                      jrnl_realtime_ns());
	ssize_t n;
	do
		n = pwrite(fd, w->hdr_area, JRNL_HEADER_SIZE, 0);
	while (n < 0 && errno == EINTR);
	int rc = n < 0 ? -errno : (n != JRNL_HEADER_SIZE ? -ENOSPC : 0);
	if (rc == 0 && w->o.fsync_policy != SHMBUS_JOURNAL_FSYNC_NONE)
		rc = fdatasync(fd) < 0 ? -errno : 0;
	return rc;
}

/*
 * A new segment. Its name appears only with its whole header: a reader
 * listing the journal meanwhile would take a shorter newest file for a
 * damaged one (cat or replay of a live journal exiting 1, a bridge's
 * catch-up failing). So the file is made unnamed (O_TMPFILE), given its
 * header, then linked under its name. Where the filesystem makes no
 * unnamed file, or /proc is not there to link it, the file is created
 * under its name and the header written after, as before.
 */
int jrnl_wseg_create(struct shmbus_journal_writer *w, int64_t first_ts)
{
	int fd = jrnl_wseg_open_unnamed(w), rc;
	if (fd >= 0) {
		rc = jrnl_wseg_write_header(w, fd, first_ts);
		if (rc == 0)
			rc = jrnl_wseg_name(w, first_ts, jrnl_wseg_link, &fd);
		if (rc == -ENOENT || rc == -EPERM || rc == -EACCES) { /* no /proc to link through */
			close(fd);
			fd = -1;
		} else if (rc) {
			close(fd);
			return rc;
		}
	}
	int named = fd < 0;
	if (named && (rc = jrnl_wseg_name(w, first_ts, jrnl_wseg_create_named, &fd)) != 0)
		return rc;
	if (jrnl_test_hook)
		jrnl_test_hook(w->seg_path); /* the name is there */
	if (named)
		rc = jrnl_wseg_write_header(w, fd, first_ts);
	if (rc == 0 && w->o.fsync_policy != SHMBUS_JOURNAL_FSYNC_NONE)
		rc = jrnl_fsync_dir(w->dir);
	if (rc) {
		close(fd);
		unlink(w->seg_path);
		return rc;
	}
	w->fd = fd;
	w->seg_off = JRNL_HEADER_SIZE;
	w->seg_first_ts = first_ts;
	w->blk_no = 0;
	w->cut_pending = 0;
	w->rotate_pending = 0;
	w->st.segments_created++;
	w->st.disk_bytes += JRNL_HEADER_SIZE;
	jrnl_wseg_retention(w);
	return 0;
}

int (*jrnl_test_fdatasync)(int fd);

int jrnl_wseg_close(struct shmbus_journal_writer *w)
{
	if (w->fd < 0)
		return 0;
	jrnl_writer_drain(w);
	int rc = 0;
	if (w->o.fsync_policy == SHMBUS_JOURNAL_FSYNC_INTERVAL && w->fd >= 0) {
		if ((jrnl_test_fdatasync ? jrnl_test_fdatasync(w->fd) : fdatasync(w->fd)) < 0) {
			rc = -errno;
			jrnl_writer_error(w, rc);
			jrnl_writer_sync_lost(w);
		} else {
			w->st.fsyncs++;
			jrnl_srcmap_copy(&w->durable, &w->written);
			w->durable_events = w->written_events - w->unsynced_lost;
		}
	}
	if (w->fd >= 0)
		close(w->fd);
	w->fd = -1;
	return rc;
}

/* Delete the oldest segments (never the current one) beyond the limits.
 * Age is measured in event time against the current segment's start. */
void jrnl_wseg_retention(struct shmbus_journal_writer *w)
{
	if (!w->o.retention_max_bytes && !w->o.retention_max_age_ns)
		return;
	struct jrnl_seg_entry *v;
	size_t n;
	if (jrnl_dir_list(w->dir, w->bus, &v, &n))
		return;
	uint64_t total = 0;
	uint64_t *sz = calloc(n ? n : 1, sizeof(*sz));
	for (size_t i = 0; sz && i < n; i++) {
		struct stat st;
		sz[i] = stat(v[i].path, &st) == 0 ? (uint64_t)st.st_size : 0;
		total += sz[i];
	}
	for (size_t i = 0; sz && i + 1 < n; i++) {
		if (strcmp(v[i].path, w->seg_path) == 0)
			break;
		int too_big = w->o.retention_max_bytes && total > w->o.retention_max_bytes;
		/* segment i ends where segment i+1 starts */
		int too_old =
		    w->o.retention_max_age_ns &&
		    (int64_t)v[i + 1].start <= (int64_t)w->seg_start - w->o.retention_max_age_ns;
		if (!too_big && !too_old)
			break;
		if (unlink(v[i].path) == 0) {
			total -= sz[i];
			w->st.segments_deleted++;
		}
	}
	free(sz);
	free(v);
}

/* Cut the segment at `cut`; fills rec. */
static int jrnl_recover_cut(struct jrnl_seg *s, uint64_t cut, struct shmbus_journal_recovery *rec)
{
	int fd = open(s->path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	int rc = ftruncate(fd, (off_t)cut) < 0 ? -errno : 0;
	if (rc == 0 && fsync(fd) < 0)
		rc = -errno;
	close(fd);
	if (rc == 0) {
		rec->torn_offset = cut;
		rec->bytes_removed = s->size - cut;
	}
	return rc;
}

/*
 * Does the block at off (len bytes: header and payload) show what only a
 * crash leaves: never-written bytes? The writer only writes past the end
 * of the file, so what a crash did not write is zeros, in whole sectors:
 * an all-zero block header, or an all-zero 512-byte sector inside the
 * block. A flipped bit or garbage leaves none, and neither does a sound
 * payload: every event (at most 256 bytes) starts with a non-zero type.
 */
static int jrnl_crash_torn(const struct jrnl_seg *s, uint64_t off, uint64_t len)
{
	enum { SECTOR = 512 };
	uint8_t buf[SECTOR];
	int zero = 1;
	ssize_t n = pread(s->fd, buf, JRNL_BLK_HDR, (off_t)off);
	for (ssize_t i = 0; i < n && zero; i++)
		zero = buf[i] == 0;
	if (n <= 0 || zero)
		return 1;
	for (uint64_t o = jrnl_align_up(off, SECTOR); o + SECTOR <= off + len; o += SECTOR) {
		if (pread(s->fd, buf, SECTOR, (off_t)o) != SECTOR)
			return 1;
		zero = 1;
		for (int i = 0; i < SECTOR && zero; i++)
			zero = buf[i] == 0;
		if (zero)
			return 1;
	}
	return 0;
}

/*
 * Check every block of the newest segment. A crash leaves bad blocks only
 * at the end, or a block torn or never written (requests in flight land
 * out of order) followed by blocks that were never durable, since
 * durability needs every block before: cut at the first bad block. Damage
 * that shows no never-written bytes (jrnl_crash_torn: a flipped bit,
 * garbage) with a valid block after it is no crash: the blocks after it
 * may hold committed events, so the file is kept as it is and reported
 * (readers report the damaged block and go on). The writer starts a new
 * segment in any case.
 */
static int jrnl_recover_segment(struct jrnl_seg *s, struct shmbus_journal_recovery *rec,
                                struct shmbus_journal_error *err)
{
	uint8_t *buf = NULL;
	size_t cap = 0;
	uint64_t cut = 0, cut_len = JRNL_BLK_HDR;
	int valid_after = 0;
	struct shmbus_journal_error e;
	for (size_t i = 0; i < s->nblk; i++) {
		int rc = jrnl_seg_read_block(s, i, &buf, &cap, &e);
		if (rc == -EBADMSG) {
			if (!cut) {
				cut = s->blks[i].off;
				cut_len = JRNL_BLK_HDR + (uint64_t)s->blks[i].payload_len;
				snprintf(rec->detail, sizeof(rec->detail), "%s", e.detail);
			}
			continue;
		}
		if (rc) {
			free(buf);
			return jrnl_err_set(err, rc, s->path, s->blks[i].off,
			                    "recovery read failed");
		}
		valid_after |= cut != 0;
		rec->blocks_kept++;
		rec->events_kept += s->blks[i].count;
	}
	free(buf);
	if (!cut && s->bad) {
		cut = s->bad_off;
		snprintf(rec->detail, sizeof(rec->detail), "%s", s->bad_detail);
	}
	if (!cut)
		return 0;
	if (jrnl_crash_torn(s, cut, cut_len))
		valid_after = 0;
	else if (!valid_after && s->bad) {
		/* The index stops at an unreadable block header: look past it. */
		int rc = jrnl_seg_valid_block_after(s, s->bad_off);
		if (rc < 0)
			return jrnl_err_set(err, rc, s->path, s->bad_off, "recovery scan failed");
		valid_after = rc;
	}
	if (valid_after) {
		rec->damaged_kept = 1;
		rec->damaged_offset = cut;
		return 0;
	}
	int rc = jrnl_recover_cut(s, cut, rec);
	return rc ? jrnl_err_set(err, rc, s->path, cut, "cannot truncate torn tail") : 0;
}

int jrnl_recover(struct shmbus_journal_writer *w, struct shmbus_journal_recovery *rec,
                 struct shmbus_journal_error *err)
{
	struct jrnl_seg_entry *v;
	size_t n;
	memset(rec, 0, sizeof(*rec));
	int rc = jrnl_dir_list(w->dir, w->bus, &v, &n);
	if (rc)
		return jrnl_err_set(err, rc, w->dir, 0, "cannot list journal directory");
	if (n == 0) {
		free(v);
		return 0;
	}
	w->last_start = v[n - 1].start;
	w->have_last = 1;
	struct jrnl_seg s;
	rc = jrnl_seg_open_scan(&s, v[n - 1].path);
	free(v);
	if (rc)
		return jrnl_err_set(err, rc, s.path, 0, "cannot open newest segment: %s",
		                    jrnl_open_error(rc));
	snprintf(rec->segment, sizeof(rec->segment), "%s", s.path);
	if (s.bad && s.bad_off == 0) {
		/* A torn header can only be a crash during creation, when the
		 * file holds no more than the header: remove it. Otherwise
		 * keep the file for a human; the reader reports it. */
		snprintf(rec->detail, sizeof(rec->detail), "%s", s.bad_detail);
		if (s.size <= JRNL_HEADER_SIZE && unlink(s.path) == 0) {
			rec->removed_file = 1;
			rec->bytes_removed = s.size;
		} else {
			rec->bad_header = 1;
		}
		jrnl_seg_close(&s);
		return 0;
	}
	rc = jrnl_recover_segment(&s, rec, err);
	jrnl_seg_close(&s);
	return rc;
}
