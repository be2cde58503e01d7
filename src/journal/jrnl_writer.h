/*
 * jrnl_writer.h - writer internals shared by writer.c, jrnl_wseg.c and
 * jrnl_recover.c (private).
 */
#ifndef SHMBUS_JRNL_WRITER_H
#define SHMBUS_JRNL_WRITER_H

#include <liburing.h>
#include <stdint.h>
#include <sys/types.h>

#include <shmbus/journal.h>

#include "journal/jrnl_format.h"
#include "journal/jrnl_srcmap.h"

enum jrnl_wbuf_state { JB_FREE = 0, JB_FILL, JB_INFLIGHT, JB_DONE };

/* One block buffer. Buffers are used round-robin and retired in order, so
 * "durable" always means a prefix of the blocks written. */
struct jrnl_wbuf {
	uint8_t *mem;    /* block_size bytes, 4096-aligned, registered */
	uint32_t used;   /* bytes filled, block header included */
	uint32_t count;  /* events */
	int64_t first_t; /* event time of the first event */
	int64_t min_t, max_t;
	uint64_t min_seq, max_seq;
	enum jrnl_wbuf_state state;
	int pending;       /* completions still expected */
	int err;           /* 0 or negative errno */
	int32_t written;   /* bytes the write reported */
	uint64_t off;      /* file offset of the block */
	uint32_t disk_len; /* bytes written (padded to block_align) */
	uint32_t block_no;
};

struct shmbus_journal_writer {
	char dir[SHMBUS_JOURNAL_PATH_MAX];
	char bus[SHMBUS_JOURNAL_BUS_MAX + 1];
	struct shmbus_journal_writer_opts o; /* defaults resolved */
	uint32_t block_align;

	/* current segment (fd < 0: created on the next block) */
	int fd;
	char seg_path[SHMBUS_JOURNAL_PATH_MAX];
	uint64_t seg_off;     /* next block offset */
	uint64_t seg_start;   /* number in the file name */
	int64_t seg_first_ts; /* first event time */
	uint32_t blk_no;
	int cut_pending;     /* bytes of failed blocks lie past seg_off */
	int rotate_pending;  /* start a new segment with the next block */
	uint64_t last_start; /* largest segment number in use */
	int have_last;
	uint8_t *hdr_area; /* JRNL_HEADER_SIZE aligned scratch */

	struct jrnl_wbuf *bufs;
	uint32_t nbuf;
	uint32_t fill;     /* buffer being filled */
	uint32_t head;     /* oldest submitted, not retired */
	uint32_t nsub;     /* submitted, not retired */
	uint32_t inflight; /* requests in the kernel (writes + fsyncs) */

	int use_uring, fixed_bufs;
	struct io_uring ring;

	/* durability: `written` = retired blocks; `durable` = covered by an
	 * interval fsync (INTERVAL only; otherwise durable == written). */
	struct jrnl_srcmap written, durable, syncing;
	uint64_t written_events, durable_events, syncing_events;
	uint64_t unsynced_lost; /* written events lost to a failed segment close fsync */
	int sync_inflight;
	uint64_t last_sync_ns;

	int pending_err; /* first error since the last flush/poll */
	struct shmbus_journal_writer_stats st;
};

/* user_data of the interval fsync (block requests use the buffer index). */
#define JRNL_UD_SYNC       0xffffu
#define JRNL_UD_FSYNC_FLAG 0x10000u

/* jrnl_wseg.c: segment files */
int jrnl_wseg_create(struct shmbus_journal_writer *w, int64_t first_ts);
/* Tests: called with a new segment's path as soon as it has its name. */
extern void (*jrnl_test_hook)(const char *seg_path);
int jrnl_wseg_close(struct shmbus_journal_writer *w);
void jrnl_wseg_retention(struct shmbus_journal_writer *w);
int jrnl_recover(struct shmbus_journal_writer *w, struct shmbus_journal_recovery *rec,
                 struct shmbus_journal_error *err);

/* Tests: replaces ftruncate(2) when the writer cuts a failed block. */
extern int (*jrnl_test_truncate)(int fd, off_t len);
/* Tests: replaces fdatasync(2) when the writer closes a segment. */
extern int (*jrnl_test_fdatasync)(int fd);

/* writer.c: wait for every request in flight and retire what finished. */
void jrnl_writer_drain(struct shmbus_journal_writer *w);
/* Record a write error (counters, pending_err). */
void jrnl_writer_error(struct shmbus_journal_writer *w, int err);
/* INTERVAL: the closing fdatasync of a segment failed; what it wrote since
 * the last good one is lost. */
void jrnl_writer_sync_lost(struct shmbus_journal_writer *w);

#endif /* SHMBUS_JRNL_WRITER_H */
