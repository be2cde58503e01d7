/*
 * test_journal_corrupt.c - damaged journals are reported at the exact
 * segment and block, never crash, and lose nothing before the damage.
 *
 * A journal of several segments is written once; each round damages one
 * segment (a flipped byte, or a truncation, at a random offset), then
 * verify, the reader and the in-memory parser must all name the block that
 * holds the damaged byte (offset 0 for the segment header), and the reader
 * must have returned every event before it. The segment is restored after
 * each round. Run under ASan (SHMBUS_SANITIZE=address) this also proves no
 * out-of-bounds read.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>

#include "jtest.h"
#include "journal/jrnl_format.h"

#define CO_ROUNDS 150

struct co_seg {
	char path[SHMBUS_JOURNAL_PATH_MAX];
	uint8_t *bytes;
	size_t size;
	struct jrnl_blk_ent *blks;
	size_t nblk;
	uint64_t events_before; /* events in earlier segments */
};

static char co_dir[128];
static struct co_seg co_segs[64];
static size_t co_nseg;
static uint64_t co_total;

static int co_setup(void **state)
{
	struct shmbus_journal_writer *w;
	struct shmbus_journal_error err;
	struct shmbus_journal_writer_opts o = {.block_size = 4096, .segment_max_bytes = 48 << 10};
	struct jt_gen g;
	uint8_t slot[JT_SLOT];
	jt_mkdtemp(co_dir, sizeof(co_dir), "corrupt");
	jt_gen_init(&g, 77);
	if (shmbus_journal_writer_open(co_dir, "co", &o, &w, NULL, &err))
		return -1;
	for (int i = 0; i < 2500; i++)
		shmbus_journal_writer_append(w, jt_gen_next(&g, slot));
	if (shmbus_journal_writer_close(w))
		return -1;
	struct jrnl_seg_entry *v;
	if (jrnl_dir_list(co_dir, "co", &v, &co_nseg) || co_nseg < 3 || co_nseg > 64)
		return -1;
	for (size_t i = 0; i < co_nseg; i++) {
		struct co_seg *c = &co_segs[i];
		struct jrnl_seg s;
		if (jrnl_seg_open_scan(&s, v[i].path) || s.bad)
			return -1;
		memcpy(c->path, s.path, sizeof(c->path));
		c->size = s.size;
		c->bytes = malloc(s.size);
		if (pread(s.fd, c->bytes, s.size, 0) != (ssize_t)s.size)
			return -1;
		c->blks = s.blks;
		c->nblk = s.nblk;
		s.blks = NULL;
		c->events_before = co_total;
		for (size_t b = 0; b < c->nblk; b++)
			co_total += c->blks[b].count;
		jrnl_seg_close(&s);
	}
	free(v);
	return 0;
}

static int co_teardown(void **state)
{
	for (size_t i = 0; i < co_nseg; i++) {
		free(co_segs[i].bytes);
		free(co_segs[i].blks);
	}
	tfs_rm_rf(co_dir);
	return 0;
}

static void co_write(const struct co_seg *c, const uint8_t *bytes, size_t len)
{
	int fd = open(c->path, O_WRONLY | O_TRUNC);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, bytes, len), (ssize_t)len);
	close(fd);
}

/* Block index holding byte x (-1: in the header), and events before it. */
static long co_block_at(const struct co_seg *c, uint64_t x, uint64_t *events_before)
{
	*events_before = c->events_before;
	if (x < JRNL_HEADER_SIZE)
		return -1;
	for (size_t b = 0; b < c->nblk; b++) {
		if (x < c->blks[b].off + JRNL_BLK_HDR + c->blks[b].payload_len)
			return (long)b;
		*events_before += c->blks[b].count;
	}
	fail_msg("offset %llu past the last block", (unsigned long long)x);
	return -2;
}

/* verify, reader and memory parser must all report (c, want_off). */
static void co_expect_bad(const struct co_seg *c, const uint8_t *bytes, size_t len,
                          uint64_t want_off, uint64_t events_before)
{
	struct shmbus_journal_verify_report rep;
	assert_int_equal(shmbus_journal_verify(co_dir, "co", &rep), -EBADMSG);
	assert_string_equal(rep.bad.segment, c->path);
	assert_int_equal(rep.bad.offset, want_off);
	assert_true(strlen(rep.bad.detail) > 0);

	struct shmbus_journal_reader *r;
	struct shmbus_journal_error err;
	const struct shmbus_event_header *e;
	uint64_t n = 0;
	int rc;
	assert_int_equal(shmbus_journal_reader_open(co_dir, "co", 0, &r, &err), 0);
	while ((rc = shmbus_journal_reader_next(r, &e, &err)) == 1)
		n++;
	assert_int_equal(rc, -EBADMSG);
	assert_string_equal(err.segment, c->path);
	assert_int_equal(err.offset, want_off);
	assert_int_equal(n, events_before); /* nothing before the damage lost */
	while ((rc = shmbus_journal_reader_next(r, &e, &err)) != 0)
		assert_true(rc == 1 || rc == -EBADMSG); /* goes on with later segments */
	shmbus_journal_reader_close(r);

	uint64_t bad_off;
	char detail[160];
	assert_int_equal(jrnl_mem_verify(bytes, len, &bad_off, detail, sizeof(detail)), -EBADMSG);
	assert_int_equal(bad_off, want_off);
}

static void test_journal_corrupt_flipped_byte_names_block(void **state)
{
	uint64_t rng = 99;
	for (int round = 0; round < CO_ROUNDS; round++) {
		const struct co_seg *c = &co_segs[jt_range(&rng, co_nseg)];
		uint64_t x = round < 10 ? jt_range(&rng, 128) : jt_range(&rng, c->size);
		uint8_t *b = malloc(c->size);
		memcpy(b, c->bytes, c->size);
		b[x] ^= (uint8_t)(1 + jt_range(&rng, 255));
		co_write(c, b, c->size);
		uint64_t before;
		long blk = co_block_at(c, x, &before);
		co_expect_bad(c, b, c->size, blk < 0 ? 0 : c->blks[blk].off, before);
		co_write(c, c->bytes, c->size);
		free(b);
	}
	struct shmbus_journal_verify_report rep;
	assert_int_equal(shmbus_journal_verify(co_dir, "co", &rep), 0); /* restored */
	assert_int_equal(rep.events, co_total);
}

static void test_journal_corrupt_truncation_names_block(void **state)
{
	uint64_t rng = 1234;
	for (int round = 0; round < CO_ROUNDS; round++) {
		const struct co_seg *c = &co_segs[jt_range(&rng, co_nseg)];
		uint64_t x = jt_range(&rng, c->size);
		if (round % 10 == 0) /* exactly at a block boundary: a valid, shorter segment */
			x = c->blks[jt_range(&rng, c->nblk)].off;
		co_write(c, c->bytes, x);
		uint64_t before;
		long blk = co_block_at(c, x, &before);
		if (blk >= 0 && c->blks[blk].off == x) {
			struct shmbus_journal_verify_report rep;
			assert_int_equal(shmbus_journal_verify(co_dir, "co", &rep), 0);
			uint64_t lost = 0;
			for (size_t k = (size_t)blk; k < c->nblk; k++)
				lost += c->blks[k].count;
			assert_int_equal(rep.events, co_total - lost);
		} else {
			co_expect_bad(c, c->bytes, x, blk < 0 ? 0 : c->blks[blk].off, before);
		}
		co_write(c, c->bytes, c->size);
	}
}

/* Every byte from a random offset on changed: errors, never a crash. */
static void test_journal_corrupt_garbage_blocks_rejected(void **state)
{
	const struct co_seg *c = &co_segs[0];
	uint64_t rng = 5;
	uint8_t *b = malloc(c->size);
	for (int round = 0; round < 50; round++) {
		memcpy(b, c->bytes, c->size);
		uint64_t from = JRNL_HEADER_SIZE + jt_range(&rng, c->size - JRNL_HEADER_SIZE);
		for (uint64_t i = from; i < c->size; i++)
			b[i] ^= (uint8_t)(1 + jt_range(&rng, 255)); /* every byte changes */
		co_write(c, b, c->size);
		uint64_t before;
		long blk = co_block_at(c, from, &before);
		co_expect_bad(c, b, c->size, c->blks[blk].off, before);
	}
	co_write(c, c->bytes, c->size);
	free(b);
}

/* A seek by time skips blocks from the index: a damaged payload outside
 * the range is never read, so the query succeeds. */
static void test_journal_corrupt_time_query_skips_blocks(void **state)
{
	const struct co_seg *c = &co_segs[0];
	const struct jrnl_blk_ent *b = &c->blks[1];
	uint8_t *bytes = malloc(c->size);
	memcpy(bytes, c->bytes, c->size);
	bytes[b->off + JRNL_BLK_HDR + 8] ^= 0x5a; /* inside an event of block 1 */
	co_write(c, bytes, c->size);
	struct shmbus_journal_reader *r;
	struct shmbus_journal_error err;
	struct shmbus_journal_query q;
	const struct shmbus_event_header *e;
	assert_int_equal(shmbus_journal_reader_open(co_dir, "co", 0, &r, &err), 0);
	shmbus_journal_query_init(&q);
	q.t_from = b->max_time_ns + 1;
	assert_int_equal(shmbus_journal_reader_seek(r, &q), 0);
	uint64_t n = 0;
	int rc;
	while ((rc = shmbus_journal_reader_next(r, &e, &err)) == 1) {
		assert_true(e->event_time_ns >= q.t_from);
		n++;
	}
	assert_int_equal(rc, 0);
	assert_true(n > 0);
	shmbus_journal_query_init(&q); /* the full range does reach it */
	assert_int_equal(shmbus_journal_reader_seek(r, &q), 0);
	while ((rc = shmbus_journal_reader_next(r, &e, &err)) == 1)
		;
	assert_int_equal(rc, -EBADMSG);
	assert_int_equal(err.offset, b->off);
	shmbus_journal_reader_close(r);
	co_write(c, c->bytes, c->size);
	free(bytes);
}

/* Read the whole journal: events returned and -EBADMSG reports. */
static uint64_t co_read_all(int *bad)
{
	struct shmbus_journal_reader *r;
	struct shmbus_journal_error err;
	const struct shmbus_event_header *e;
	uint64_t n = 0;
	int rc;
	*bad = 0;
	assert_int_equal(shmbus_journal_reader_open(co_dir, "co", 0, &r, &err), 0);
	while ((rc = shmbus_journal_reader_next(r, &e, &err)) != 0) {
		assert_true(rc == 1 || rc == -EBADMSG);
		if (rc == 1)
			n++;
		else
			(*bad)++;
	}
	shmbus_journal_reader_close(r);
	return n;
}

/* Entries named like segments that are no files (a FIFO, a directory):
 * reported where they fall, never waited on, and every real segment
 * around them is still read, listed and named. A start number past
 * INT64_MAX is no segment name at all. */
static void test_journal_corrupt_unopenable_entries(void **state)
{
	char fifo[SHMBUS_JOURNAL_PATH_MAX], sub[SHMBUS_JOURNAL_PATH_MAX],
	    big[SHMBUS_JOURNAL_PATH_MAX];
	assert_int_equal(jrnl_seg_name(fifo, sizeof(fifo), co_dir, "co", 1), 0);
	assert_int_equal(jrnl_seg_name(sub, sizeof(sub), co_dir, "co", (uint64_t)INT64_MAX), 0);
	snprintf(big, sizeof(big), "%s/co-18446744073709551615.shj", co_dir);
	assert_int_equal(mkfifo(fifo, 0600), 0);
	assert_int_equal(mkdir(sub, 0700), 0);
	assert_int_equal(mkdir(big, 0700), 0);
	int bad;
	assert_int_equal(co_read_all(&bad), co_total);
	assert_int_equal(bad, 2);
	struct shmbus_journal_info info;
	assert_int_equal(shmbus_journal_info_get(co_dir, "co", &info), 0);
	assert_int_equal(info.n_segments, co_nseg + 2);
	assert_string_equal(info.segments[0].path, fifo);
	assert_int_equal(info.segments[0].bad, 1);
	assert_string_equal(info.segments[co_nseg + 1].path, sub);
	assert_int_equal(info.segments[co_nseg + 1].bad, 1);
	assert_int_equal(info.events, co_total);
	shmbus_journal_info_free(&info);
	struct shmbus_journal_verify_report rep;
	assert_true(shmbus_journal_verify(co_dir, "co", &rep) < 0);
	assert_string_equal(rep.bad.segment, fifo);
	assert_non_null(strstr(rep.bad.detail, "not a regular file"));
	unlink(fifo);
	rmdir(sub);
	rmdir(big);
	assert_int_equal(shmbus_journal_verify(co_dir, "co", &rep), 0);
}

/* Open (recovery) and close a writer; its report in *rec. */
static void co_recover(struct shmbus_journal_recovery *rec)
{
	struct shmbus_journal_writer *w;
	struct shmbus_journal_error err;
	struct shmbus_journal_writer_opts o = {.block_size = 4096};
	assert_int_equal(shmbus_journal_writer_open(co_dir, "co", &o, &w, rec, &err), 0);
	assert_int_equal(shmbus_journal_writer_close(w), 0);
}

/* Damage to a written block of the newest segment with valid blocks after
 * it is no torn tail: recovery keeps the file whole, and readers report
 * the block and go on with the next ones. A never-written hole (zeros,
 * a crash with writes landing out of order) is cut as before. */
/* Hide (or bring back) the segments after segment i: recovery examines
 * the newest one, and it must have a few blocks here. */
static void co_hide_after(size_t i, int hide)
{
	char away[SHMBUS_JOURNAL_PATH_MAX + 8];
	for (size_t k = i + 1; k < co_nseg; k++) {
		snprintf(away, sizeof(away), "%s.away", co_segs[k].path);
		assert_int_equal(
		    hide ? rename(co_segs[k].path, away) : rename(away, co_segs[k].path), 0);
	}
}

static void test_journal_corrupt_recovery_keeps_blocks_after_damage(void **state)
{
	size_t i = co_nseg - 1;
	while (i > 0 && co_segs[i].nblk < 3)
		i--;
	const struct co_seg *c = &co_segs[i];
	assert_true(c->nblk >= 3);
	co_hide_after(i, 1);
	uint64_t through = c->events_before;
	for (size_t k = 0; k < c->nblk; k++)
		through += c->blks[k].count;
	const struct jrnl_blk_ent *b = &c->blks[1];
	uint8_t *bytes = malloc(c->size);
	memcpy(bytes, c->bytes, c->size);
	bytes[b->off + JRNL_BLK_HDR + 8] ^= 0x5a; /* a flipped bit in block 1 */
	co_write(c, bytes, c->size);
	struct shmbus_journal_recovery rec;
	co_recover(&rec);
	assert_int_equal(rec.damaged_kept, 1);
	assert_int_equal(rec.damaged_offset, b->off);
	assert_int_equal(rec.bytes_removed, 0);
	assert_int_equal(rec.blocks_kept, c->nblk - 1);
	struct stat st;
	assert_int_equal(stat(c->path, &st), 0);
	assert_int_equal(st.st_size, c->size);
	int bad;
	assert_int_equal(co_read_all(&bad), through - b->count);
	assert_int_equal(bad, 1);

	/* Garbage in block 1's header: the index stops there, recovery looks
	 * past it and still keeps the blocks behind. */
	memcpy(bytes, c->bytes, c->size);
	memset(bytes + b->off, 0xa5, 16);
	co_write(c, bytes, c->size);
	co_recover(&rec);
	assert_int_equal(rec.damaged_kept, 1);
	assert_int_equal(rec.bytes_removed, 0);
	assert_int_equal(stat(c->path, &st), 0);
	assert_int_equal(st.st_size, c->size);

	/* Block 1 torn by a power cut (one 512-byte sector of its payload
	 * never written) while block 2 landed: those were never durable,
	 * everything from block 1 on goes. */
	memcpy(bytes, c->bytes, c->size);
	uint64_t sector = (b->off + JRNL_BLK_HDR + 511) / 512 * 512;
	assert_true(sector + 512 <= b->off + JRNL_BLK_HDR + b->payload_len);
	memset(bytes + sector, 0, 512);
	co_write(c, bytes, c->size);
	co_recover(&rec);
	assert_int_equal(rec.damaged_kept, 0);
	assert_int_equal(rec.torn_offset, b->off);
	assert_int_equal(stat(c->path, &st), 0);
	assert_int_equal(st.st_size, b->off);

	/* Block 1 never written: everything from it on goes. */
	memcpy(bytes, c->bytes, c->size);
	memset(bytes + b->off, 0, c->blks[2].off - b->off);
	co_write(c, bytes, c->size);
	co_recover(&rec);
	assert_int_equal(rec.damaged_kept, 0);
	assert_int_equal(rec.torn_offset, b->off);
	assert_int_equal(rec.bytes_removed, c->size - b->off);
	assert_int_equal(stat(c->path, &st), 0);
	assert_int_equal(st.st_size, b->off);
	co_write(c, c->bytes, c->size);
	co_hide_after(i, 0);
	struct shmbus_journal_verify_report rep;
	assert_int_equal(shmbus_journal_verify(co_dir, "co", &rep), 0);
	assert_int_equal(rep.events, co_total);
	free(bytes);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_journal_corrupt_flipped_byte_names_block),
	    cmocka_unit_test(test_journal_corrupt_truncation_names_block),
	    cmocka_unit_test(test_journal_corrupt_garbage_blocks_rejected),
	    cmocka_unit_test(test_journal_corrupt_time_query_skips_blocks),
	    cmocka_unit_test(test_journal_corrupt_unopenable_entries),
	    cmocka_unit_test(test_journal_corrupt_recovery_keeps_blocks_after_damage),
	};
	return cmocka_run_group_tests(tests, co_setup, co_teardown);
}
