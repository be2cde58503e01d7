/*
 * jrnl_format.h - on-disk layout of journal segments (private).
 * docs/journal-format.md is the byte-by-byte reference; keep both in sync.
 */
#ifndef SHMBUS_JRNL_FORMAT_H
#define SHMBUS_JRNL_FORMAT_H

#include <stddef.h>
#include <stdint.h>

#include <shmbus/journal.h>

#if __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "the journal format is little-endian; add byte swaps for this target"
#endif

#define JRNL_SEG_MAGIC   0x4745534a424d4853ull /* "SHMBJSEG" */
#define JRNL_BLK_MAGIC   0x4b4c424au           /* "JBLK" */
#define JRNL_VERSION     1u
#define JRNL_HEADER_SIZE 4096u /* segment header, padded (O_DIRECT alignment) */
#define JRNL_BLK_HDR     64u
#define JRNL_EV_ALIGN    8u
#define JRNL_MAX_BLOCK   (16u << 20) /* largest block a reader accepts */
#define JRNL_EV_MIN      40u
#define JRNL_SUFFIX      ".shj"

/* Segment header: the first 128 bytes of the 4096-byte header area. */
struct jrnl_seg_header {
	uint64_t magic;       /*   0 */
	uint32_t version;     /*   8 */
	uint32_t header_size; /*  12: bytes before the first block */
	uint32_t block_align; /*  16: blocks start at multiples of this (8 or 4096) */
	uint32_t flags;       /*  20: 0 */
	uint64_t layout_hash; /*  24 */
	int64_t first_ts_ns;  /*  32: event time of the first event */
	int64_t created_ns;   /*  40: CLOCK_REALTIME at creation */
	char bus[64];         /*  48: NUL padded */
	uint64_t reserved;    /* 112: 0 */
	uint64_t checksum;    /* 120: xxh3-64 of the header area with this field zero */
};
_Static_assert(sizeof(struct jrnl_seg_header) == 128, "segment header");

/* Block header, followed by payload_len bytes of events. */
struct jrnl_blk_header {
	uint32_t magic;       /*  0 */
	uint32_t payload_len; /*  4: multiple of 8 */
	uint64_t checksum;    /*  8: xxh3-64 of bytes 16..63 + payload */
	uint32_t count;       /* 16: events in the payload */
	uint32_t block_no;    /* 20: index of the block in its segment */
	int64_t min_time_ns;  /* 24 */
	int64_t max_time_ns;  /* 32 */
	uint64_t min_seq;     /* 40 */
	uint64_t max_seq;     /* 48 */
	uint64_t reserved;    /* 56: 0 */
};
_Static_assert(sizeof(struct jrnl_blk_header) == JRNL_BLK_HDR, "block header");

static inline uint64_t jrnl_align_up(uint64_t v, uint64_t a)
{
	return (v + a - 1) / a * a;
}

/* Event layout hash written to new segments (shmbus_event_layout_hash). */
uint64_t jrnl_layout_hash(void);

/* 1 if name is a valid bus name. */
int jrnl_bus_name_ok(const char *name);

/* Fill and checksum a header area of JRNL_HEADER_SIZE bytes. */
void jrnl_seg_header_build(void *area, const char *bus, uint64_t layout_hash, uint32_t block_align,
                           int64_t first_ts, int64_t created);

/* Validate a header area of `len` bytes; *h gets the fields. Returns 0 or
 * -EBADMSG with a reason in detail[dlen]. */
int jrnl_seg_header_parse(const void *buf, size_t len, struct jrnl_seg_header *h, char *detail,
                          size_t dlen);

/* Checksum of a block (header bytes 16..63 + payload). */
uint64_t jrnl_blk_checksum(const struct jrnl_blk_header *bh, const void *payload);

/* Check a block header alone: magic, lengths, ranges. `room` = bytes of
 * the file from the block start. Returns 0 or -EBADMSG (detail). */
int jrnl_blk_header_check(const struct jrnl_blk_header *bh, uint64_t room, char *detail,
                          size_t dlen);

/* Check a whole block: checksum, every event's size, count, time and seq
 * ranges. Returns 0 or -EBADMSG (detail). */
int jrnl_blk_check(const struct jrnl_blk_header *bh, const uint8_t *payload, char *detail,
                   size_t dlen);

/* Bytes the block takes in the file (header + payload + padding). */
static inline uint64_t jrnl_blk_span(const struct jrnl_blk_header *bh, uint32_t align)
{
	return jrnl_align_up((uint64_t)JRNL_BLK_HDR + bh->payload_len, align);
}

/* Walk the events of a checked payload: returns the event at *pos and
 * advances it, or NULL at the end. */
static inline const struct shmbus_event_header *jrnl_next_event(const uint8_t *payload,
                                                                uint32_t len, uint32_t *pos)
{
	if (*pos >= len)
		return NULL;
	const struct shmbus_event_header *e = (const void *)(payload + *pos);
	*pos += (uint32_t)jrnl_align_up(e->size, JRNL_EV_ALIGN);
	return e;
}

/* Segment file names: "<bus>-<20 digits>.shj". */
int jrnl_seg_name(char *out, size_t n, const char *dir, const char *bus, uint64_t start);
/* Parse a file name; bus may be NULL (any). Returns 0 and *start, or -1. */
int jrnl_seg_name_parse(const char *name, const char *bus, uint64_t *start);

/* A directory's segments, sorted by start (then name). */
struct jrnl_seg_entry {
	char path[SHMBUS_JOURNAL_PATH_MAX];
	uint64_t start;
};
int jrnl_dir_list(const char *dir, const char *bus, struct jrnl_seg_entry **out, size_t *n);

/* Fill err (may be NULL). Returns code. */
int jrnl_err_set(struct shmbus_journal_error *err, int code, const char *segment, uint64_t offset,
                 const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* ---- segment files opened for reading (jrnl_segment.c) ---- */

/* Sparse index entry: one per block, from its header only. */
struct jrnl_blk_ent {
	uint64_t off;
	uint32_t payload_len;
	uint32_t count;
	int64_t min_time_ns, max_time_ns;
	uint64_t min_seq, max_seq;
};

struct jrnl_seg {
	char path[SHMBUS_JOURNAL_PATH_MAX];
	int fd;
	uint64_t dev, ino; /* the file indexed: a reopen must find the same */
	uint64_t size;
	struct jrnl_seg_header h;
	struct jrnl_blk_ent *blks;
	size_t nblk;
	int bad; /* 1: header or a block header is bad at bad_off */
	uint64_t bad_off;
	char bad_detail[160];
};

/* Open path read-only, check its header and index its block headers.
 * Returns 0 (s->bad may be set), -errno for I/O, -ENOMEM. */
int jrnl_seg_open_scan(struct jrnl_seg *s, const char *path);
/* Why jrnl_seg_open_scan() failed, in words (-EINVAL: not a regular file). */
const char *jrnl_open_error(int rc);
/* Read block i into *buf (grown as needed) and check it fully; a parked
 * segment's file is opened again first. Returns 0, -EBADMSG (err names
 * the block), -errno (err names the segment). */
int jrnl_seg_read_block(struct jrnl_seg *s, size_t i, uint8_t **buf, size_t *cap,
                        struct shmbus_journal_error *err);
/* 1 when a whole valid block starts after offset off (at off + k * align),
 * 0 when none does, or -errno. Recovery uses it to tell a torn tail (cut)
 * from damage with committed blocks behind it (kept). */
int jrnl_seg_valid_block_after(struct jrnl_seg *s, uint64_t off);
/* Close the file but keep the index: a reader of a journal with more
 * segments than the process may hold open files parks those it is not
 * reading; jrnl_seg_read_block() opens the file again when needed. */
void jrnl_seg_park(struct jrnl_seg *s);
void jrnl_seg_close(struct jrnl_seg *s);

/* Verify a whole segment image in memory (fuzz target, tests). Returns the
 * number of good blocks (>= 0), or -EBADMSG with *bad_off and detail. */
long jrnl_mem_verify(const uint8_t *buf, size_t len, uint64_t *bad_off, char *detail, size_t dlen);

#endif /* SHMBUS_JRNL_FORMAT_H */
