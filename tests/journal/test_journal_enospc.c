/*
 * test_journal_enospc.c - a full disk is reported, counted and survived.
 *
 * The journal directory is a 1 MiB tmpfs mounted by the test (needs root
 * or CAP_SYS_ADMIN: skipped with exit 77 otherwise). A filler file takes
 * part of it; the writer then appends far more than fits. It must report
 * -ENOSPC, count the failed writes and the lost events, keep accepting
 * appends, and once the filler is deleted write the following blocks
 * again. What is on disk must verify. Both io paths are run. Also: a
 * failed block that cannot be cut off is never left behind in an older
 * segment, and the unsynced blocks of a segment whose last fdatasync
 * failed are never reported durable.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <sys/mount.h>

#include "jtest.h"
#include "journal/jrnl_writer.h"

static char es_dir[128];

static void es_fill(const char *path, size_t bytes)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0640);
	assert_true(fd >= 0);
	static uint8_t buf[64 << 10];
	memset(buf, 0xab, sizeof(buf));
	for (size_t done = 0; done < bytes; done += sizeof(buf))
		assert_int_equal(write(fd, buf, sizeof(buf)), sizeof(buf));
	close(fd);
}

/* Space comes back: the next blocks are written again, and what is on
 * disk verifies. */
static void es_recover(struct shmbus_journal_writer *w, const char *filler, struct jt_gen *g,
                       uint64_t durable_before)
{
	struct shmbus_journal_error err;
	uint8_t slot[JT_SLOT];
	unlink(filler);
	struct shmbus_event_header *h;
	for (uint64_t s = 1; s <= 1000; s++) {
		h = jt_gen_next(g, slot);
		h->source_id = 9;
		h->seq = s;
		assert_int_equal(shmbus_journal_writer_append(w, h), 0);
	}
	assert_int_equal(shmbus_journal_writer_flush(w), 0);
	uint64_t seq;
	assert_int_equal(shmbus_journal_writer_durable_seq(w, 9, &seq), 0);
	assert_int_equal(seq, 1000);
	assert_int_equal(shmbus_journal_writer_close(w), 0);

	struct shmbus_journal_verify_report rep;
	assert_int_equal(shmbus_journal_verify(es_dir, "full", &rep), 0);
	assert_int_equal(rep.events, durable_before + 1000);
	struct shmbus_journal_reader *r;
	assert_int_equal(shmbus_journal_reader_open(es_dir, "full", 0, &r, &err), 0);
	const struct shmbus_event_header *e;
	uint64_t n = 0;
	while (shmbus_journal_reader_next(r, &e, &err) == 1)
		n += e->source_id == 9;
	assert_int_equal(n, 1000);
	shmbus_journal_reader_close(r);
}

static void es_run(int force_pwrite)
{
	char filler[192];
	snprintf(filler, sizeof(filler), "%s/filler", es_dir);
	es_fill(filler, 512 << 10);
	struct shmbus_journal_writer *w;
	struct shmbus_journal_error err;
	struct shmbus_journal_writer_opts o = {
	    .block_size = 16384, .queue_depth = 4, .force_pwrite = force_pwrite};
	struct jt_gen g;
	uint8_t slot[JT_SLOT];
	jt_gen_init(&g, 11);
	assert_int_equal(shmbus_journal_writer_open(es_dir, "full", &o, &w, NULL, &err), 0);
	int seen = 0;
	for (int i = 0; i < 20000; i++) { /* ~2.5 MB into < 0.5 MB of space */
		assert_int_equal(shmbus_journal_writer_append(w, jt_gen_next(&g, slot)), 0);
		int rc = shmbus_journal_writer_poll(w);
		assert_true(rc == 0 || rc == -ENOSPC);
		seen |= rc == -ENOSPC;
	}
	int rc = shmbus_journal_writer_flush(w);
	assert_true(rc == 0 || rc == -ENOSPC);
	seen |= rc == -ENOSPC;
	assert_true(seen);
	struct shmbus_journal_writer_stats st;
	shmbus_journal_writer_stats_get(w, &st);
	assert_int_equal(st.last_error, -ENOSPC);
	assert_true(st.write_errors > 0);
	assert_true(st.events_lost > 0);
	assert_int_equal(st.events, 20000);
	assert_int_equal(st.events_durable + st.events_lost, st.events);
	printf("# %s: %llu events, %llu durable, %llu lost, %llu write errors\n",
	       force_pwrite ? "pwrite" : "io_uring", (unsigned long long)st.events,
	       (unsigned long long)st.events_durable, (unsigned long long)st.events_lost,
	       (unsigned long long)st.write_errors);

	es_recover(w, filler, &g, st.events_durable);
}

static int es_cuts_failed;

static int es_cut_fails(int fd, off_t len)
{
	(void)fd;
	(void)len;
	es_cuts_failed++;
	errno = EIO;
	return -1;
}

/* The disk fills and the cut of the failed block fails too (EIO). The
 * writer used to close that segment as it was, with no fdatasync, and go
 * on in a new one: the old segment kept the failed block's bytes as a torn
 * block that was no longer at the journal's end (verify failed, recovery
 * never looks there), and the next interval fsync, on the new file,
 * reported the old file's blocks durable. The torn bytes must stay the
 * newest segment's tail until a cut succeeds. */
static void es_failed_cut(int force_pwrite)
{
	char filler[192];
	snprintf(filler, sizeof(filler), "%s/filler", es_dir);
	es_fill(filler, 512 << 10);
	struct shmbus_journal_writer *w;
	struct shmbus_journal_error err;
	struct shmbus_journal_writer_opts o = {.block_size = 16384,
	                                       .queue_depth = 4,
	                                       .fsync_policy = SHMBUS_JOURNAL_FSYNC_INTERVAL,
	                                       .fsync_interval_ms = 3600000,
	                                       .force_pwrite = force_pwrite};
	struct jt_gen g;
	uint8_t slot[JT_SLOT];
	jt_gen_init(&g, 12);
	assert_int_equal(shmbus_journal_writer_open(es_dir, "full", &o, &w, NULL, &err), 0);
	es_cuts_failed = 0;
	jrnl_test_truncate = es_cut_fails;
	for (int i = 0; i < 20000 && !es_cuts_failed; i++) {
		assert_int_equal(shmbus_journal_writer_append(w, jt_gen_next(&g, slot)), 0);
		int rc = shmbus_journal_writer_poll(w);
		assert_true(rc == 0 || rc == -ENOSPC);
	}
	assert_true(es_cuts_failed > 0);
	/* more blocks while the cut still fails, then space comes back */
	for (int i = 0; i < 2000; i++)
		assert_int_equal(shmbus_journal_writer_append(w, jt_gen_next(&g, slot)), 0);
	shmbus_journal_writer_flush(w);
	jrnl_test_truncate = NULL;
	struct shmbus_journal_writer_stats st;
	shmbus_journal_writer_stats_get(w, &st);
	printf("# %s: %d cuts failed, %llu events, %llu durable, %llu lost, %llu segments\n",
	       st.io_path == SHMBUS_JOURNAL_IO_URING ? "io_uring" : "pwrite", es_cuts_failed,
	       (unsigned long long)st.events, (unsigned long long)st.events_durable,
	       (unsigned long long)st.events_lost, (unsigned long long)st.segments_created);
	assert_int_equal(st.segments_created, 1);
	assert_int_equal(st.events_durable + st.events_lost, st.events);
	es_recover(w, filler, &g, st.events_durable);
}

static void test_journal_enospc_failed_cut_stays_at_the_end(void **state)
{
	(void)state;
	es_failed_cut(1);
}

static void test_journal_enospc_failed_cut_stays_at_the_end_io_uring(void **state)
{
	(void)state;
	es_failed_cut(0);
}

static int es_syncs_failed;

static int es_sync_fails(int fd)
{
	(void)fd;
	es_syncs_failed++;
	errno = EIO;
	return -1;
}

static void es_append(struct shmbus_journal_writer *w, struct jt_gen *g, uint32_t source,
                      uint64_t seq, int64_t t)
{
	uint8_t slot[JT_SLOT];
	struct shmbus_event_header *h = jt_gen_next(g, slot);
	h->source_id = source;
	h->seq = seq;
	h->event_time_ns = t;
	assert_int_equal(shmbus_journal_writer_append(w, h), 0);
}

/* Interval policy: a segment rotates (by age) and its closing fdatasync
 * fails. Its blocks written since the last good fsync were never synced;
 * the writer used to report them durable as soon as the next fsync, on
 * the new file, succeeded. They are lost, as a failed block is. */
static void test_journal_enospc_failed_close_sync_not_durable(void **state)
{
	(void)state;
	struct shmbus_journal_writer *w;
	struct shmbus_journal_error err;
	struct shmbus_journal_writer_opts o = {.block_size = 16384,
	                                       .queue_depth = 4,
	                                       .segment_max_age_ns = 1000000000,
	                                       .fsync_policy = SHMBUS_JOURNAL_FSYNC_INTERVAL,
	                                       .fsync_interval_ms = UINT32_MAX,
	                                       .force_pwrite = 1};
	struct jt_gen g;
	jt_gen_init(&g, 13);
	int64_t t = g.t;
	assert_int_equal(shmbus_journal_writer_open(es_dir, "full", &o, &w, NULL, &err), 0);
	es_append(w, &g, 3, 1, t); /* segment 1, fsynced */
	assert_int_equal(shmbus_journal_writer_flush(w), 0);
	for (uint64_t s = 1; s <= 50; s++) /* one block, < 16 KiB */
		es_append(w, &g, 1, s, t);
	/* an event 2 s later: the block above goes to segment 1, the next
	 * block to segment 2, whose creation closes segment 1 */
	es_append(w, &g, 2, 1, t + 2000000000);
	es_syncs_failed = 0;
	jrnl_test_fdatasync = es_sync_fails;
	int rc = shmbus_journal_writer_flush(w);
	jrnl_test_fdatasync = NULL;
	assert_int_equal(es_syncs_failed, 1);
	assert_int_equal(rc, -EIO);

	struct shmbus_journal_writer_stats st;
	shmbus_journal_writer_stats_get(w, &st);
	printf("# %llu events, %llu written, %llu durable, %llu lost, %llu segments\n",
	       (unsigned long long)st.events, (unsigned long long)st.events_written,
	       (unsigned long long)st.events_durable, (unsigned long long)st.events_lost,
	       (unsigned long long)st.segments_created);
	assert_int_equal(st.segments_created, 2);
	uint64_t seq;
	assert_int_equal(shmbus_journal_writer_durable_seq(w, 1, &seq), -ENOENT);
	assert_int_equal(shmbus_journal_writer_durable_seq(w, 2, &seq), 0);
	assert_int_equal(seq, 1);
	assert_int_equal(shmbus_journal_writer_durable_seq(w, 3, &seq), 0);
	assert_int_equal(seq, 1);
	assert_int_equal(st.events_durable, 2);
	assert_int_equal(st.events_lost, 50);
	assert_int_equal(st.events_durable + st.events_lost, st.events);

	/* later events of source 1 move its durable seq past the lost ones */
	es_append(w, &g, 1, 51, t + 2000000000);
	assert_int_equal(shmbus_journal_writer_flush(w), 0);
	assert_int_equal(shmbus_journal_writer_durable_seq(w, 1, &seq), 0);
	assert_int_equal(seq, 51);
	shmbus_journal_writer_stats_get(w, &st);
	assert_int_equal(st.events_durable + st.events_lost, st.events);
	assert_int_equal(shmbus_journal_writer_close(w), 0);
}

static void test_journal_enospc_io_uring(void **state)
{
	es_run(0);
}

static void test_journal_enospc_pwrite(void **state)
{
	es_run(1);
}

static int es_clean(void **state)
{
	/* remove the journal between runs, keep the mount */
	tfs_rm_rf(es_dir);
	mkdir(es_dir, 0750);
	return 0;
}

int main(void)
{
	jt_mkdtemp(es_dir, sizeof(es_dir), "enospc");
	if (mount("tmpfs", es_dir, "tmpfs", 0, "size=1m") != 0) {
		printf("skip: cannot mount a 1 MiB tmpfs on %s: %s (needs root)\n", es_dir,
		       strerror(errno));
		rmdir(es_dir);
		return 77;
	}
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_teardown(test_journal_enospc_io_uring, es_clean),
	    cmocka_unit_test_teardown(test_journal_enospc_pwrite, es_clean),
	    cmocka_unit_test_teardown(test_journal_enospc_failed_cut_stays_at_the_end, es_clean),
	    cmocka_unit_test_teardown(test_journal_enospc_failed_cut_stays_at_the_end_io_uring,
	                              es_clean),
	    cmocka_unit_test_teardown(test_journal_enospc_failed_close_sync_not_durable, es_clean),
	};
	int rc = cmocka_run_group_tests(tests, NULL, NULL);
	umount2(es_dir, MNT_DETACH);
	rmdir(es_dir);
	return rc;
}
