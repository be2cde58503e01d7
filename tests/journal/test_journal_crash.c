/*
 * test_journal_crash.c - a writer killed with SIGKILL at random moments
 * loses nothing it reported durable.
 *
 * Each round forks a child that opens a writer on the same directory
 * (running recovery), resumes every source at the last seq in the journal,
 * appends as fast as it can with fsync policy BATCH, and reports each newly
 * durable (source, seq) through a pipe. The parent kills it after a random
 * delay; recovery then runs, verify must pass with no seq gap, and every
 * reported (source, seq) must be in the journal. SIGKILL alone leaves
 * whole writes (though in-flight ones may land out of order), so every
 * third round also appends a torn block (the first bytes of a real one)
 * as a power cut would, after a first recovery, and recovery must then
 * cut exactly those bytes. Odd rounds use the pwrite
 * fallback, even rounds io_uring. Also: a hand-made torn tail is cut at
 * exactly the right offset and reported.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>

#include "jtest.h"

#define CR_ROUNDS 24

struct cr_report {
	uint32_t source;
	uint32_t pad;
	uint64_t seq;
};

/* Child: never returns. */
static void cr_child(const char *dir, int fd, int force_pwrite, uint64_t seed)
{
	struct shmbus_journal_writer_opts o = {.block_size = 4096,
	                                       .queue_depth = 4,
	                                       .segment_max_bytes = 512 << 10,
	                                       .fsync_policy = SHMBUS_JOURNAL_FSYNC_BATCH,
	                                       .force_pwrite = force_pwrite};
	struct shmbus_journal_writer *w;
	struct shmbus_journal_reader *r;
	struct shmbus_journal_error err;
	struct jt_gen g;
	if (shmbus_journal_writer_open(dir, "crash", &o, &w, NULL, &err))
		_exit(2);
	jt_gen_init(&g, seed);
	if (shmbus_journal_reader_open(dir, "crash", 0, &r, &err))
		_exit(3);
	for (uint32_t s = 1; s <= JT_SOURCES; s++)
		if (shmbus_journal_reader_last_seq(r, s, &g.seq[s], &err) == -EBADMSG)
			_exit(4);
	shmbus_journal_reader_close(r);
	uint64_t reported[JT_SOURCES + 1] = {0}, durable_events = 0;
	uint8_t slot[JT_SLOT];
	for (;;) {
		if (shmbus_journal_writer_append(w, jt_gen_next(&g, slot)))
			_exit(5);
		struct shmbus_journal_writer_stats st;
		shmbus_journal_writer_stats_get(w, &st);
		if (st.events_durable == durable_events)
			continue;
		durable_events = st.events_durable;
		for (uint32_t s = 1; s <= JT_SOURCES; s++) {
			struct cr_report rep = {.source = s};
			if (shmbus_journal_writer_durable_seq(w, s, &rep.seq) ||
			    rep.seq == reported[s])
				continue;
			reported[s] = rep.seq;
			if (write(fd, &rep, sizeof(rep)) != (ssize_t)sizeof(rep))
				_exit(6);
		}
	}
}

/* Parent: read reports for `ms` milliseconds (or until EOF). */
static void cr_collect(int fd, int ms, uint64_t *durable)
{
	struct timespec t0, t;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		clock_gettime(CLOCK_MONOTONIC, &t);
		long left =
		    ms - ((t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000);
		if (ms >= 0 && left <= 0)
			return;
		struct pollfd p = {.fd = fd, .events = POLLIN};
		if (poll(&p, 1, ms >= 0 ? (int)left : -1) <= 0)
			continue;
		struct cr_report rep;
		ssize_t n = read(fd, &rep, sizeof(rep));
		if (n <= 0)
			return;
		assert_int_equal(n, sizeof(rep));
		assert_true(rep.source >= 1 && rep.source <= JT_SOURCES);
		if (rep.seq > durable[rep.source])
			durable[rep.source] = rep.seq;
	}
}

/* Simulate a torn write of a block nobody saw durable: append the first
 * bytes of a real block to the newest segment. Returns bytes appended. */
static uint64_t cr_tear(const char *dir, uint64_t *rng)
{
	struct shmbus_journal_info info;
	assert_int_equal(shmbus_journal_info_get(dir, "crash", &info), 0);
	uint64_t n = 0;
	const struct shmbus_journal_segment_info *si =
	    info.n_segments ? &info.segments[info.n_segments - 1] : NULL;
	if (si && si->blocks > 0) {
		uint8_t blk[4096];
		n = 1 + jt_range(rng, sizeof(blk) - 1);
		int fd = open(si->path, O_RDWR);
		assert_true(fd >= 0);
		assert_int_equal(pread(fd, blk, n, 4096), (ssize_t)n);
		assert_int_equal(pwrite(fd, blk, n, (off_t)si->file_bytes), (ssize_t)n);
		close(fd);
	}
	shmbus_journal_info_free(&info);
	return n;
}

/* Run recovery alone, adding what it cut to *cut_bytes. */
static void cr_recover(const char *dir, uint64_t *cut_bytes)
{
	struct shmbus_journal_writer *w;
	struct shmbus_journal_recovery rec;
	struct shmbus_journal_error err;
	assert_int_equal(shmbus_journal_writer_open(dir, "crash", NULL, &w, &rec, &err), 0);
	*cut_bytes += rec.bytes_removed;
	assert_int_equal(shmbus_journal_writer_close(w), 0);
}

/* After a crash: recovery, verify, and every durable seq present. */
static void cr_check(const char *dir, const uint64_t *durable, uint64_t torn, uint64_t *cut_bytes)
{
	struct shmbus_journal_writer *w;
	struct shmbus_journal_recovery rec;
	struct shmbus_journal_error err;
	assert_int_equal(shmbus_journal_writer_open(dir, "crash", NULL, &w, &rec, &err), 0);
	*cut_bytes += rec.bytes_removed;
	if (torn)
		assert_int_equal(rec.bytes_removed, torn); /* exactly the torn bytes */
	assert_int_equal(shmbus_journal_writer_close(w), 0);
	struct shmbus_journal_verify_report rep;
	int rc = shmbus_journal_verify(dir, "crash", &rep);
	if (rc)
		print_error("verify: %s at %s+%llu\n", rep.bad.detail, rep.bad.segment,
		            (unsigned long long)rep.bad.offset);
	assert_int_equal(rc, 0);
	assert_int_equal(rep.seq_gaps, 0);
	struct shmbus_journal_reader *r;
	assert_int_equal(shmbus_journal_reader_open(dir, "crash", 0, &r, &err), 0);
	uint64_t last[JT_SOURCES + 1] = {0};
	const struct shmbus_event_header *e;
	while ((rc = shmbus_journal_reader_next(r, &e, &err)) == 1) {
		assert_true(e->source_id >= 1 && e->source_id <= JT_SOURCES);
		assert_int_equal(e->seq, last[e->source_id] + 1); /* 1..last, no hole */
		last[e->source_id] = e->seq;
	}
	assert_int_equal(rc, 0);
	for (int s = 1; s <= JT_SOURCES; s++)
		assert_true(last[s] >= durable[s]);
	shmbus_journal_reader_close(r);
}

static void test_journal_crash_sigkill_keeps_durable_events(void **state)
{
	char dir[128];
	uint64_t durable[JT_SOURCES + 1] = {0}, rng = 2024, cut_bytes = 0;
	jt_mkdtemp(dir, sizeof(dir), "crash");
	for (int round = 0; round < CR_ROUNDS; round++) {
		int p[2];
		assert_int_equal(pipe(p), 0);
		pid_t pid = fork();
		assert_true(pid >= 0);
		if (pid == 0) {
			close(p[0]);
			cr_child(dir, p[1], round & 1, rng + (uint64_t)round);
		}
		close(p[1]);
		cr_collect(p[0], 5 + (int)jt_range(&rng, 60), durable);
		kill(pid, SIGKILL);
		int status;
		assert_int_equal(waitpid(pid, &status, 0), pid);
		assert_true(WIFSIGNALED(status)); /* not an early exit of the child */
		cr_collect(p[0], -1, durable);
		close(p[0]);
		uint64_t torn = 0;
		if (round % 3 == 2) {
			/* Repair what the kill left first: writes in flight may
			 * land out of order (a hole before a later block), and
			 * recovery cuts from the hole. Then the torn bytes are
			 * the whole bad tail. */
			cr_recover(dir, &cut_bytes);
			torn = cr_tear(dir, &rng);
		}
		cr_check(dir, durable, torn, &cut_bytes);
	}
	printf("# durable seqs %llu %llu %llu, torn bytes cut %llu\n",
	       (unsigned long long)durable[1], (unsigned long long)durable[2],
	       (unsigned long long)durable[3], (unsigned long long)cut_bytes);
	assert_true(durable[1] > 0 && durable[2] > 0 && durable[3] > 0);
	tfs_rm_rf(dir);
}

/* A torn tail made by hand is cut exactly at the last good block. */
static void test_journal_crash_recovery_cuts_torn_tail(void **state)
{
	char dir[128];
	jt_mkdtemp(dir, sizeof(dir), "torn");
	struct shmbus_journal_writer *w;
	struct shmbus_journal_recovery rec;
	struct shmbus_journal_error err;
	struct shmbus_journal_writer_opts o = {.block_size = 4096};
	struct jt_gen g;
	uint8_t slot[JT_SLOT];
	jt_gen_init(&g, 5);
	assert_int_equal(shmbus_journal_writer_open(dir, "torn", &o, &w, &rec, &err), 0);
	for (int i = 0; i < 1000; i++)
		assert_int_equal(shmbus_journal_writer_append(w, jt_gen_next(&g, slot)), 0);
	struct shmbus_journal_writer_stats st;
	assert_int_equal(shmbus_journal_writer_close(w), 0);
	struct shmbus_journal_info info;
	assert_int_equal(shmbus_journal_info_get(dir, "torn", &info), 0);
	assert_int_equal(info.n_segments, 1);
	uint64_t good = info.segments[0].file_bytes, blocks = info.blocks;
	char path[SHMBUS_JOURNAL_PATH_MAX];
	memcpy(path, info.segments[0].path, sizeof(path));
	shmbus_journal_info_free(&info);
	/* append half of a copy of the first block: a torn write */
	int fd = open(path, O_RDWR);
	uint8_t blk[2048];
	assert_int_equal(pread(fd, blk, sizeof(blk), 4096), sizeof(blk));
	assert_int_equal(pwrite(fd, blk, sizeof(blk), (off_t)good), sizeof(blk));
	close(fd);
	assert_int_equal(shmbus_journal_writer_open(dir, "torn", &o, &w, &rec, &err), 0);
	assert_string_equal(rec.segment, path);
	assert_int_equal(rec.bytes_removed, sizeof(blk));
	assert_int_equal(rec.torn_offset, good);
	assert_int_equal(rec.blocks_kept, blocks);
	assert_int_equal(rec.events_kept, 1000);
	assert_true(strlen(rec.detail) > 0);
	shmbus_journal_writer_stats_get(w, &st);
	assert_int_equal(shmbus_journal_writer_close(w), 0);
	struct stat sb;
	assert_int_equal(stat(path, &sb), 0);
	assert_int_equal(sb.st_size, good);
	/* an intact journal is left alone */
	assert_int_equal(shmbus_journal_writer_open(dir, "torn", &o, &w, &rec, &err), 0);
	assert_int_equal(rec.bytes_removed, 0);
	assert_int_equal(rec.blocks_kept, blocks);
	assert_int_equal(shmbus_journal_writer_close(w), 0);
	tfs_rm_rf(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_journal_crash_recovery_cuts_torn_tail),
	    cmocka_unit_test(test_journal_crash_sigkill_keeps_durable_events),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
