/*
 * shmbus/journal.h - append-only journal of bus events.
 *
 * A journal is a directory of segment files `<bus>-<start as 20 digits>.shj`.
 * Each segment holds a checksummed header and blocks of events (the
 * fixed-layout structs of shmbus/event.h, back to back). The byte layout is
 * documented in docs/journal-format.md.
 *
 * Writer: one thread owns a writer. It copies events into block buffers and
 * writes full blocks with io_uring (registered buffers, several writes in
 * flight), or with pwrite(2) where io_uring is unavailable. Write errors
 * (ENOSPC, EIO) never stop it: the events of a failed block are counted as
 * lost and the next block is tried again.
 *
 * Reader, verify and info treat every byte of a journal as untrusted: bad
 * data yields an error naming the segment file and the byte offset of the
 * first bad block (struct shmbus_journal_error), never a crash.
 *
 * Error codes are negative errno values. Functions that take a
 * `struct shmbus_journal_error *err` fill it (when not NULL) on failure.
 */
#ifndef SHMBUS_JOURNAL_H
#define SHMBUS_JOURNAL_H

#include <stddef.h>
#include <stdint.h>

#include <shmbus/event.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Longest bus name (bytes, without the NUL). Names use [A-Za-z0-9_.-]. */
#define SHMBUS_JOURNAL_BUS_MAX 63
/* Room for a segment path in error and info structs. */
#define SHMBUS_JOURNAL_PATH_MAX 512

/* Where a journal is bad: which file, which byte, what. */
struct shmbus_journal_error {
	int code;        /* negative errno (-EBADMSG for bad data) */
	uint64_t offset; /* byte offset in `segment` of the bad header/block */
	char segment[SHMBUS_JOURNAL_PATH_MAX]; /* path of the segment file ("" if none) */
	char detail[160];                      /* what is wrong, one line */
};

/* ------------------------------------------------------------------ writer */

enum shmbus_journal_fsync {
	SHMBUS_JOURNAL_FSYNC_NONE = 0,     /* durable = handed to the kernel */
	SHMBUS_JOURNAL_FSYNC_INTERVAL = 1, /* fdatasync every fsync_interval_ms */
	SHMBUS_JOURNAL_FSYNC_BATCH = 2,    /* fdatasync each block before it counts as durable */
};

enum shmbus_journal_io_path {
	SHMBUS_JOURNAL_IO_URING = 1,  /* io_uring with registered buffers */
	SHMBUS_JOURNAL_IO_PWRITE = 2, /* synchronous pwrite(2) fallback */
};

/* Writer options. Zero-initialise, then set what you need: every zero field
 * takes its default. */
struct shmbus_journal_writer_opts {
	uint32_t block_size;          /* bytes per block incl. header; default 64 KiB,
	                                 4 KiB..16 MiB, a multiple of 4 KiB */
	uint32_t queue_depth;         /* block buffers / writes in flight; default 8, max 64 */
	uint64_t segment_max_bytes;   /* rotate before a segment exceeds this; default 1 GiB */
	int64_t segment_max_age_ns;   /* rotate when an event is this much newer (event time)
	                                 than the segment's first event; 0 = never */
	uint64_t retention_max_bytes; /* delete oldest segments beyond this total; 0 = keep */
	int64_t retention_max_age_ns; /* delete segments older (event time) than this; 0 = keep */
	enum shmbus_journal_fsync fsync_policy;
	uint32_t fsync_interval_ms; /* for SHMBUS_JOURNAL_FSYNC_INTERVAL; default 100 */
	int o_direct;               /* 1: open segments with O_DIRECT (falls back if refused) */
	int force_pwrite;           /* 1: do not use io_uring */
	uint64_t layout_hash;       /* 0: the built-in event layout hash */
};

/* What writer open found and repaired in the newest existing segment. */
struct shmbus_journal_recovery {
	char segment[SHMBUS_JOURNAL_PATH_MAX]; /* segment examined ("" if none) */
	uint64_t blocks_kept;                  /* valid blocks left in it */
	uint64_t events_kept;                  /* events in those blocks */
	uint64_t bytes_removed;                /* torn tail truncated (or file removed) */
	uint64_t torn_offset;                  /* where the tail was cut (0 if intact) */
	int removed_file;                      /* 1: header torn, empty file deleted */
	int bad_header;                        /* 1: header bad but data follows: left as is */
	char detail[160];                      /* why the tail was bad ("" if intact) */
	int damaged_kept;        /* 1: damage at damaged_offset with valid blocks after it:
	                            nothing cut (readers skip the damaged block) */
	uint64_t damaged_offset; /* first damaged block when damaged_kept */
};

/* Writer counters (snapshot). */
struct shmbus_journal_writer_stats {
	uint64_t events;         /* events accepted by append */
	uint64_t bytes;          /* event bytes accepted */
	uint64_t blocks;         /* blocks written successfully */
	uint64_t disk_bytes;     /* bytes written to segment files (headers included) */
	uint64_t events_durable; /* events durable under the fsync policy */
	uint64_t events_written; /* events whose block write completed (in the
	                            page cache at least: a crash of the writing
	                            process no longer loses them) */
	uint64_t fsyncs;         /* fdatasync calls completed */
	uint64_t write_errors;   /* failed block or segment writes */
	uint64_t events_lost;    /* events dropped because their block failed */
	uint64_t segments_created;
	uint64_t segments_deleted; /* by retention */
	uint32_t inflight;         /* writes in flight now */
	int last_error;            /* last write error (negative errno), 0 if none */
	int io_path;               /* enum shmbus_journal_io_path */
	int o_direct;              /* 1 if segments are open with O_DIRECT */
};

struct shmbus_journal_writer;

/*
 * Open a writer on `dir` (created if missing) for bus `bus_name`.
 * Recovery first checks the newest segment of that bus: a torn tail (a
 * partial block, bad magic or bad checksum) is truncated and fsynced;
 * nothing before the first bad block is touched. What was found goes to
 * `*rec` (may be NULL). The writer then starts a new segment on its first
 * block (old segments are never appended to).
 * opts may be NULL (all defaults).
 * Returns 0, -EINVAL (bad name/options), -ENOMEM, or an I/O error
 * (details in *err when not NULL). Thread-safety: the writer belongs to the
 * calling thread; several writers on one bus/dir are not supported.
 */
int shmbus_journal_writer_open(const char *dir, const char *bus_name,
                               const struct shmbus_journal_writer_opts *opts,
                               struct shmbus_journal_writer **out,
                               struct shmbus_journal_recovery *rec,
                               struct shmbus_journal_error *err);

/*
 * Copy one event (ev->size bytes, 40..248) into the current block; a full
 * block is submitted for writing. Reaps finished writes without blocking;
 * blocks only when all queue_depth buffers are in flight.
 * Returns 0 when the event was accepted (even if it is later lost to a
 * write error: see stats), -EINVAL for a malformed event. Hot path: no
 * allocation; system calls only to submit/reap blocks.
 */
int shmbus_journal_writer_append(struct shmbus_journal_writer *w,
                                 const struct shmbus_event_header *ev);

/*
 * Reap finished writes (and run an interval fsync when due) without
 * blocking. Returns 0 or the first write error seen since the last
 * flush/poll return (negative errno).
 */
int shmbus_journal_writer_poll(struct shmbus_journal_writer *w);

/*
 * Submit the partial block and wait until every write is finished and,
 * unless the policy is NONE, fdatasync'ed. Returns 0, or the first write
 * error seen since the previous flush/poll return (e.g. -ENOSPC).
 */
int shmbus_journal_writer_flush(struct shmbus_journal_writer *w);

/*
 * Last durable sequence of `source_id` into *seq. Durable means: written
 * and fdatasync'ed (BATCH, INTERVAL) or handed to the kernel (NONE), with
 * every earlier block durable too, except the blocks whose write failed
 * (or, under INTERVAL, whose segment's closing fdatasync failed):
 * their events are lost (stats write_errors, events_lost) and the seq
 * reported moves past them, so it says nothing of the events before it
 * once events_lost is not 0 (shmbus_journal_verify() names the gap). Only
 * events appended through this
 * writer count: a writer opened on an existing journal knows none of the
 * seqs already in it (shmbus_journal_reader_last_seq() reads those), and
 * retention deleting a segment does not lower what it reports. Returns 0,
 * or -ENOENT if no event of that source appended through w is durable yet.
 */
int shmbus_journal_writer_durable_seq(const struct shmbus_journal_writer *w, uint32_t source_id,
                                      uint64_t *seq);

/* Counters snapshot into *st. Never fails. */
void shmbus_journal_writer_stats_get(const struct shmbus_journal_writer *w,
                                     struct shmbus_journal_writer_stats *st);

/*
 * Flush, fdatasync (unless NONE) and free. Returns 0 or the flush error;
 * the writer is freed in every case. NULL is a no-op.
 */
int shmbus_journal_writer_close(struct shmbus_journal_writer *w);

/* ------------------------------------------------------------------ reader */

struct shmbus_journal_reader;

/* What to iterate. Zero-initialise, then call shmbus_journal_query_init()
 * or set the fields: all filters apply together. */
struct shmbus_journal_query {
	int64_t t_from;          /* event_time_ns >= t_from (INT64_MIN: no bound) */
	int64_t t_to;            /* event_time_ns <  t_to   (INT64_MAX: no bound, so
	                            events stamped INT64_MAX are included;
	                            INT64_MIN: nothing matches) */
	uint64_t type_mask;      /* bit SHMBUS_TYPE_BIT(type); 0 = every type */
	const uint32_t *symbols; /* symbol ids to keep; NULL = every symbol */
	size_t n_symbols;
	int after;             /* 1: start after event (after_source, after_seq) */
	uint32_t after_source; /* start just after that event in journal order; */
	uint64_t after_seq;    /* if absent: at the first later seq of that source.
	                          The event must be at or after t_from (one this
	                          query returned): earlier blocks are not searched */
};

/* Set q to "everything": no time bound, no filter. */
void shmbus_journal_query_init(struct shmbus_journal_query *q);

/*
 * Open every segment of `bus_name` (NULL: every *.shj file) in `dir`, in
 * write order, and build the sparse time index by reading block headers
 * only (no payload). expected_layout_hash != 0 makes segments with another
 * hash an error. Returns 0, -ENOENT (no such dir), -EPROTO (layout), -ENOMEM.
 * A damaged block is not an open error: it is reported when reached.
 * Thread-safety: a reader belongs to one thread; readers are independent.
 */
int shmbus_journal_reader_open(const char *dir, const char *bus_name, uint64_t expected_layout_hash,
                               struct shmbus_journal_reader **out,
                               struct shmbus_journal_error *err);

/* Start (or restart) an iteration with query q (copied). Returns 0,
 * -EINVAL, -ENOMEM. */
int shmbus_journal_reader_seek(struct shmbus_journal_reader *r,
                               const struct shmbus_journal_query *q);

/*
 * Next matching event. On 1, *ev points into the reader's block buffer,
 * valid until the next call. Returns 1 (event), 0 (end), or a negative
 * error (-EBADMSG: bad block, details in *err). After an error, the next
 * call continues with the following segment.
 */
int shmbus_journal_reader_next(struct shmbus_journal_reader *r,
                               const struct shmbus_event_header **ev,
                               struct shmbus_journal_error *err);

/* Latest event time (max over block headers) into *t. Returns 0 or
 * -ENOENT (empty journal). */
int shmbus_journal_reader_latest_time(struct shmbus_journal_reader *r, int64_t *t);

/*
 * Highest seq of source_id in the most recent block that has it (reads
 * blocks from the end). Only the segments present when the reader was
 * opened are searched: the journal keeps no per-source record outside its
 * blocks, so once retention (or an operator) deleted every segment that
 * held the source's events, the answer is -ENOENT, although the source
 * may have been journaled up to any seq. A resume point that must survive
 * retention belongs in the caller's own checkpoint (as the bridge keeps
 * one). Returns 0, -ENOENT (no block of the source), or -EBADMSG (*err).
 */
int shmbus_journal_reader_last_seq(struct shmbus_journal_reader *r, uint32_t source_id,
                                   uint64_t *seq, struct shmbus_journal_error *err);

/*
 * shmbus_journal_reader_last_seq for n sources in one pass from the end,
 * which stops once every source is found: seqs[i] is the highest seq of
 * sources[i] in the most recent block that has it, 0 when no block has
 * it (none ever, or retention deleted them all). Returns how many
 * distinct sources were found, -ENOMEM, or -EBADMSG (*err).
 */
int shmbus_journal_reader_last_seqs(struct shmbus_journal_reader *r, const uint32_t *sources,
                                    size_t n, uint64_t *seqs, struct shmbus_journal_error *err);

/*
 * Call fn(ev, ctx) for each of the last max_events events of the journal,
 * oldest first (whole blocks are read from the end until they hold
 * max_events; the excess at the front is not passed). For a restarted
 * journaller to recognise what it wrote just before it died. Returns 0,
 * -ENOMEM, or an I/O or -EBADMSG error (*err) of a block it had to read.
 */
int shmbus_journal_reader_tail(struct shmbus_journal_reader *r, uint64_t max_events,
                               void (*fn)(const struct shmbus_event_header *ev, void *ctx),
                               void *ctx, struct shmbus_journal_error *err);

/* Free the reader. NULL is a no-op. */
void shmbus_journal_reader_close(struct shmbus_journal_reader *r);

/* ------------------------------------------------------------- verify/info */

struct shmbus_journal_verify_report {
	uint64_t segments;
	uint64_t blocks;
	uint64_t events;
	uint64_t seq_gaps;         /* events whose seq != previous seq of its source + 1 */
	uint32_t first_gap_source; /* first gap seen (when seq_gaps > 0) */
	uint64_t first_gap_expected;
	uint64_t first_gap_seq;
	struct shmbus_journal_error bad; /* first bad header/block (bad.code != 0) */
};

/*
 * Check every segment of `bus_name` (NULL: all) in `dir`: headers, block
 * checksums, event bounds, counts and ranges, and per-source sequence gaps.
 * Returns 0 if no block is bad (gaps are reported, not errors), -EBADMSG
 * with rep->bad set to the first bad block, or -ENOENT/-ENOMEM.
 */
int shmbus_journal_verify(const char *dir, const char *bus_name,
                          struct shmbus_journal_verify_report *rep);

struct shmbus_journal_segment_info {
	char path[SHMBUS_JOURNAL_PATH_MAX];
	char bus[SHMBUS_JOURNAL_BUS_MAX + 1];
	uint64_t layout_hash;
	int64_t first_ts_ns; /* header: first event time */
	int64_t created_ns;  /* header: wall clock at creation */
	uint64_t file_bytes;
	uint64_t blocks; /* from block headers (checksums not verified) */
	uint64_t events;
	int64_t min_time_ns, max_time_ns; /* over block headers; 0 if no block */
	int bad;                          /* 1: a bad header/block stopped the scan at bad_offset */
	uint64_t bad_offset;
};

struct shmbus_journal_info {
	size_t n_segments;
	struct shmbus_journal_segment_info *segments; /* write order */
	uint64_t blocks, events, file_bytes;
	int64_t min_time_ns, max_time_ns;
};

/*
 * Describe the journal from segment and block headers (fast: no payload
 * read). Fills *info (free with shmbus_journal_info_free). Returns 0,
 * -ENOENT, -ENOMEM.
 */
int shmbus_journal_info_get(const char *dir, const char *bus_name,
                            struct shmbus_journal_info *info);
/* Free what shmbus_journal_info_get allocated. */
void shmbus_journal_info_free(struct shmbus_journal_info *info);

#ifdef __cplusplus
}
#endif
#endif /* SHMBUS_JOURNAL_H */
