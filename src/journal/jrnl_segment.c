/*
 * jrnl_segment.c - open a segment file, index its blocks, read one block.
 *
 * The sparse time index is rebuilt on open from the block headers alone
 * (one 64-byte pread per block, no payload): a block header carries its
 * time and seq ranges, so a seek skips whole blocks without reading them.
 * We chose this over a sidecar .idx file because there is nothing to keep
 * consistent after a crash: the segment is the only truth. Block headers
 * are only sanity-checked here; the checksum is verified when the block's
 * payload is actually read (jrnl_seg_read_block), so a block that passes
 * the scan but is damaged is still reported, at its exact offset.
 */
#include "journal/jrnl_format.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* pread all of len, or fewer at end of file. Returns bytes read or -errno. */
static ssize_t jrnl_pread_full(int fd, void *buf, size_t len, uint64_t off)
{
	size_t done = 0;
	while (done < len) {
		ssize_t n = pread(fd, (char *)buf + done, len - done, (off_t)(off + done));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			break;
		done += (size_t)n;
	}
	return (ssize_t)done;
}

static void jrnl_seg_mark_bad(struct jrnl_seg *s, uint64_t off, const char *detail)
{
	s->bad = 1;
	s->bad_off = off;
	snprintf(s->bad_detail, sizeof(s->bad_detail), "%s", detail);
}

static int jrnl_seg_push(struct jrnl_seg *s, size_t *cap, const struct jrnl_blk_header *bh,
                         uint64_t off)
{
	if (s->nblk == *cap) {
		size_t nc = *cap ? *cap * 2 : 64;
		void *nv = realloc(s->blks, nc * sizeof(*s->blks));
		if (!nv)
			return -ENOMEM;
		s->blks = nv;
		*cap = nc;
	}
	s->blks[s->nblk++] = (struct jrnl_blk_ent){
	    off,         bh->payload_len, bh->count, bh->min_time_ns, bh->max_time_ns,
	    bh->min_seq, bh->max_seq};
	return 0;
}

/* Index every block header after the segment header. */
static int jrnl_seg_scan_blocks(struct jrnl_seg *s)
{
	char detail[160];
	size_t cap = 0;
	uint64_t off = JRNL_HEADER_SIZE;
	while (off < s->size) {
		struct jrnl_blk_header bh;
		memset(&bh, 0, sizeof(bh));
		ssize_t n = jrnl_pread_full(s->fd, &bh, sizeof(bh), off);
		if (n < 0)
			return (int)n;
		int rc = jrnl_blk_header_check(&bh, s->size - off, detail, sizeof(detail));
		if (rc == 0 && off + jrnl_blk_span(&bh, s->h.block_align) > s->size) {
			snprintf(detail, sizeof(detail), "torn block padding");
			rc = -EBADMSG;
		}
		if (rc) {
			jrnl_seg_mark_bad(s, off, detail);
			return 0;
		}
		rc = jrnl_seg_push(s, &cap, &bh, off);
		if (rc)
			return rc;
		off += jrnl_blk_span(&bh, s->h.block_align);
	}
	return 0;
}

const char *jrnl_open_error(int rc)
{
	return rc == -EINVAL ? "not a regular file" : strerror(-rc);
}

int jrnl_seg_open_scan(struct jrnl_seg *s, const char *path)
{
	memset(s, 0, sizeof(*s));
	snprintf(s->path, sizeof(s->path), "%s", path);
	/* O_NONBLOCK: a FIFO named like a segment must not hang the open. */
	s->fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (s->fd < 0)
		return -errno;
	struct stat st;
	int rc = fstat(s->fd, &st) < 0   ? -errno
	         : S_ISDIR(st.st_mode)   ? -EISDIR
	         : !S_ISREG(st.st_mode) ? -EINVAL /* FIFO, device, socket */
	                                 : 0;
	if (rc) {
		jrnl_seg_close(s);
		return rc;
	}
	s->size = (uint64_t)st.st_size;
	s->dev = (uint64_t)st.st_dev;
	s->ino = (uint64_t)st.st_ino;
	static _Thread_local uint8_t area[JRNL_HEADER_SIZE];
	ssize_t n = jrnl_pread_full(s->fd, area, sizeof(area), 0);
	if (n < 0) {
		jrnl_seg_close(s);
		return (int)n;
	}
	char detail[160];
	if (jrnl_seg_header_parse(area, (size_t)n, &s->h, detail, sizeof(detail))) {
		jrnl_seg_mark_bad(s, 0, detail);
		return 0;
	}
	rc = jrnl_seg_scan_blocks(s);
	if (rc)
		jrnl_seg_close(s);
	return rc;
}

/* Open the file of a parked segment again. Its index was built from the
 * file that had this name then: another file under the name now (same
 * device and inode, else -ESTALE) is reported, never read, since a block
 * of the same length at the same offset would pass every block check. */
static int jrnl_seg_reopen(struct jrnl_seg *s, struct shmbus_journal_error *err)
{
	int fd = open(s->path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	struct stat st;
	int rc = fd < 0                  ? -errno
	         : fstat(fd, &st) < 0    ? -errno
	         : S_ISDIR(st.st_mode)   ? -EISDIR
	         : !S_ISREG(st.st_mode) ? -EINVAL
	         : (uint64_t)st.st_dev != s->dev || (uint64_t)st.st_ino != s->ino ? -ESTALE
	                                 : 0;
	if (rc) {
		if (fd >= 0)
			close(fd);
		if (rc == -ESTALE) /* its blocks could pass every check and be another's */
			return jrnl_err_set(err, rc, s->path, 0,
			                    "cannot reopen segment: the file was replaced since "
			                    "the journal was opened");
		return jrnl_err_set(err, rc, s->path, 0, "cannot reopen segment: %s",
		                    jrnl_open_error(rc));
	}
	s->fd = fd;
	return 0;
}

void jrnl_seg_park(struct jrnl_seg *s)
{
	if (s->fd >= 0)
		close(s->fd);
	s->fd = -1;
}

int jrnl_seg_read_block(struct jrnl_seg *s, size_t i, uint8_t **buf, size_t *cap,
                        struct shmbus_journal_error *err)
{
	const struct jrnl_blk_ent *b = &s->blks[i];
	struct jrnl_blk_header bh;
	if (s->fd < 0) {
		int rc = jrnl_seg_reopen(s, err);
		if (rc)
			return rc;
	}
	uint64_t span = jrnl_align_up((uint64_t)JRNL_BLK_HDR + b->payload_len, s->h.block_align);
	if (*cap < span) {
		void *nb = realloc(*buf, span);
		if (!nb)
			return -ENOMEM;
		*buf = nb;
		*cap = span;
	}
	ssize_t n = jrnl_pread_full(s->fd, *buf, span, b->off);
	if (n < 0)
		return jrnl_err_set(err, (int)n, s->path, b->off, "read failed");
	char detail[160];
	memcpy(&bh, *buf, sizeof(bh));
	/* The file may have changed since the scan: check the header again. */
	int rc = jrnl_blk_header_check(&bh, (uint64_t)n, detail, sizeof(detail));
	if (rc == 0 && (uint64_t)n < span) {
		snprintf(detail, sizeof(detail), "torn block padding");
		rc = -EBADMSG;
	}
	if (rc == 0 && bh.payload_len != b->payload_len) {
		snprintf(detail, sizeof(detail), "block changed since the index was built");
		rc = -EBADMSG;
	}
	if (rc == 0)
		rc = jrnl_blk_check(&bh, *buf + JRNL_BLK_HDR, detail, sizeof(detail));
	for (uint64_t p = JRNL_BLK_HDR + bh.payload_len; rc == 0 && p < span; p++) {
		if ((*buf)[p] != 0) {
			snprintf(detail, sizeof(detail), "non-zero block padding");
			rc = -EBADMSG;
		}
	}
	if (rc)
		return jrnl_err_set(err, rc, s->path, b->off, "%s", detail);
	return 0;
}

/* Is there a whole valid block (header, checksum, events) at one of the
 * candidate offsets off + k * align, k >= 1? Read in 1 MiB chunks: the
 * rest of a segment can be tens of MB. */
int jrnl_seg_valid_block_after(struct jrnl_seg *s, uint64_t off)
{
	enum { CHUNK = 1 << 20 };
	const uint64_t align = s->h.block_align;
	uint8_t *chunk = malloc(CHUNK), *blk = NULL;
	size_t cap = 0;
	char detail[160];
	int found = 0;
	if (!chunk)
		return -ENOMEM;
	for (uint64_t base = off + align; !found && base + JRNL_BLK_HDR <= s->size;
	     base += CHUNK / align * align) {
		ssize_t n = jrnl_pread_full(s->fd, chunk, CHUNK, base);
		if (n <= 0) {
			found = (int)n;
			break;
		}
		for (uint64_t p = 0; !found && p + JRNL_BLK_HDR <= (uint64_t)n; p += align) {
			struct jrnl_blk_header bh;
			memcpy(&bh, chunk + p, sizeof(bh));
			if (jrnl_blk_header_check(&bh, s->size - (base + p), detail, sizeof(detail)))
				continue;
			uint64_t span = jrnl_blk_span(&bh, (uint32_t)align);
			if (base + p + span > s->size)
				continue;
			if (cap < span) {
				void *nb = realloc(blk, span);
				if (!nb) {
					found = -ENOMEM;
					break;
				}
				blk = nb;
				cap = span;
			}
			if (jrnl_pread_full(s->fd, blk, span, base + p) == (ssize_t)span &&
			    jrnl_blk_check(&bh, blk + JRNL_BLK_HDR, detail, sizeof(detail)) == 0)
				found = 1;
		}
	}
	free(blk);
	free(chunk);
	return found;
}

void jrnl_seg_close(struct jrnl_seg *s)
{
	if (s->fd >= 0)
		close(s->fd);
	s->fd = -1;
	free(s->blks);
	s->blks = NULL;
	s->nblk = 0;
}

long jrnl_mem_verify(const uint8_t *buf, size_t len, uint64_t *bad_off, char *detail, size_t dlen)
{
	struct jrnl_seg_header h;
	*bad_off = 0;
	if (jrnl_seg_header_parse(buf, len, &h, detail, dlen))
		return -EBADMSG;
	uint64_t off = JRNL_HEADER_SIZE;
	long good = 0;
	while (off < len) {
		struct jrnl_blk_header bh;
		size_t room = len - off;
		memset(&bh, 0, sizeof(bh));
		memcpy(&bh, buf + off, room < sizeof(bh) ? room : sizeof(bh));
		*bad_off = off;
		if (jrnl_blk_header_check(&bh, room, detail, dlen))
			return -EBADMSG;
		uint64_t span = jrnl_blk_span(&bh, h.block_align);
		if (span > room) {
			snprintf(detail, dlen, "torn block padding");
			return -EBADMSG;
		}
		if (jrnl_blk_check(&bh, buf + off + JRNL_BLK_HDR, detail, dlen))
			return -EBADMSG;
		for (uint64_t p = JRNL_BLK_HDR + bh.payload_len; p < span; p++) {
			if (buf[off + p] != 0) {
				snprintf(detail, dlen, "non-zero block padding");
				return -EBADMSG;
			}
		}
		off += span;
		good++;
	}
	return good;
}
