/*
 * test_journal_roundtrip.c - events written are read back byte-identical
 * and in order, on the io_uring and the pwrite paths, with and without
 * O_DIRECT; filtered and time-range reads equal a brute-force scan;
 * rotation, retention, durable seqs, info and verify agree with what was
 * written.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <dirent.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/resource.h>

#include "jtest.h"
#include "journal/jrnl_writer.h"

#define RT_N 20000

struct rt_journal {
	char dir[128];
	uint8_t *ev; /* RT_N slots of JT_SLOT */
	size_t n;
};

static struct shmbus_event_header *rt_ev(struct rt_journal *j, size_t i)
{
	return (struct shmbus_event_header *)(j->ev + i * JT_SLOT);
}

/* Write n events with opts; keep a copy of each. */
static void rt_write(struct rt_journal *j, const struct shmbus_journal_writer_opts *o, size_t n,
                     uint64_t seed, struct shmbus_journal_writer_stats *st)
{
	struct shmbus_journal_writer *w;
	struct shmbus_journal_error err;
	struct jt_gen g;
	jt_gen_init(&g, seed);
	j->ev = calloc(n, JT_SLOT);
	j->n = n;
	assert_int_equal(shmbus_journal_writer_open(j->dir, "rt", o, &w, NULL, &err), 0);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(shmbus_journal_writer_append(w, jt_gen_next(&g, rt_ev(j, i))), 0);
	assert_int_equal(shmbus_journal_writer_flush(w), 0);
	shmbus_journal_writer_stats_get(w, st);
	for (uint32_t s = 1; s <= JT_SOURCES; s++) {
		uint64_t seq;
		assert_int_equal(shmbus_journal_writer_durable_seq(w, s, &seq), 0);
		assert_int_equal(seq, g.seq[s]);
	}
	assert_int_equal(shmbus_journal_writer_close(w), 0);
}

/* Read everything back and compare byte for byte from index `first`. */
static void rt_check_all(struct rt_journal *j, size_t first)
{
	struct shmbus_journal_reader *r;
	struct shmbus_journal_error err;
	const struct shmbus_event_header *e;
	assert_int_equal(shmbus_journal_reader_open(j->dir, "rt", 0, &r, &err), 0);
	size_t i = first;
	int rc;
	while ((rc = shmbus_journal_reader_next(r, &e, &err)) == 1) {
		assert_true(i < j->n);
		assert_int_equal(e->size, rt_ev(j, i)->size);
		assert_memory_equal(e, rt_ev(j, i), e->size);
		i++;
	}
	assert_int_equal(rc, 0);
	assert_int_equal(i, j->n);
	shmbus_journal_reader_close(r);
}

static void rt_free(struct rt_journal *j)
{
	tfs_rm_rf(j->dir);
	free(j->ev);
}

static void rt_path(int force_pwrite, int o_direct)
{
	struct rt_journal j;
	struct shmbus_journal_writer_stats st;
	struct shmbus_journal_writer_opts o = {.block_size = 8192,
	                                       .segment_max_bytes = 256 << 10,
	                                       .force_pwrite = force_pwrite,
	                                       .o_direct = o_direct,
	                                       .queue_depth = 4};
	jt_mkdtemp(j.dir, sizeof(j.dir), "rt");
	rt_write(&j, &o, RT_N, 42, &st);
	if (force_pwrite)
		assert_int_equal(st.io_path, SHMBUS_JOURNAL_IO_PWRITE);
	printf("# io_path=%s o_direct=%d segments=%llu blocks=%llu\n",
	       st.io_path == SHMBUS_JOURNAL_IO_URING ? "io_uring" : "pwrite", st.o_direct,
	       (unsigned long long)st.segments_created, (unsigned long long)st.blocks);
	assert_int_equal(st.events, RT_N);
	assert_int_equal(st.events_durable, RT_N);
	assert_int_equal(st.write_errors, 0);
	assert_true(st.segments_created > 1);
	rt_check_all(&j, 0);

	struct shmbus_journal_verify_report rep;
	assert_int_equal(shmbus_journal_verify(j.dir, "rt", &rep), 0);
	assert_int_equal(rep.events, RT_N);
	assert_int_equal(rep.seq_gaps, 0);
	assert_int_equal(rep.segments, st.segments_created);
	struct shmbus_journal_info info;
	assert_int_equal(shmbus_journal_info_get(j.dir, "rt", &info), 0);
	assert_int_equal(info.events, RT_N);
	assert_int_equal(info.n_segments, st.segments_created);
	assert_int_equal(info.blocks, st.blocks);
	shmbus_journal_info_free(&info);
	rt_free(&j);
}

static void test_journal_roundtrip_io_uring(void **state)
{
	rt_path(0, 0);
}

static void test_journal_roundtrip_pwrite_fallback(void **state)
{
	rt_path(1, 0);
}

static void test_journal_roundtrip_o_direct(void **state)
{
	rt_path(0, 1);
	rt_path(1, 1);
}

/* Brute force: does event i match q (resume point handled by caller)? */
static int rt_match(const struct shmbus_event_header *e, const struct shmbus_journal_query *q)
{
	if (e->event_time_ns < q->t_from || (e->event_time_ns >= q->t_to && q->t_to != INT64_MAX))
		return 0;
	if (q->type_mask && (e->type >= 64 || !(q->type_mask & SHMBUS_TYPE_BIT(e->type))))
		return 0;
	if (q->symbols) {
		size_t k;
		for (k = 0; k < q->n_symbols && q->symbols[k] != e->symbol_id; k++)
			;
		if (k == q->n_symbols)
			return 0;
	}
	return 1;
}

static void rt_random_query(struct rt_journal *j, uint64_t *rng, struct shmbus_journal_query *q,
                            uint32_t *syms)
{
	shmbus_journal_query_init(q);
	int64_t t0 = rt_ev(j, 0)->event_time_ns, t1 = rt_ev(j, j->n - 1)->event_time_ns;
	uint64_t span = (uint64_t)(t1 - t0) + 2000000;
	if (jt_range(rng, 4)) {
		q->t_from = t0 - 1000000 + (int64_t)jt_range(rng, span);
		q->t_to = q->t_from + (int64_t)jt_range(rng, span / 8 + 1);
	}
	if (jt_range(rng, 3) == 0)
		q->type_mask = jt_rand(rng) & 0xfffffffffull;
	if (jt_range(rng, 3) == 0) {
		q->n_symbols = jt_range(rng, 6);
		for (size_t k = 0; k < q->n_symbols; k++)
			syms[k] = (uint32_t)jt_range(rng, 22);
		q->symbols = syms;
	}
	if (jt_range(rng, 3) == 0) {
		/* a resume point the query itself returned: at or after t_from */
		const struct shmbus_event_header *a = rt_ev(j, jt_range(rng, j->n));
		for (int k = 0; k < 64 && a->event_time_ns < q->t_from; k++)
			a = rt_ev(j, jt_range(rng, j->n));
		if (a->event_time_ns < q->t_from)
			return;
		q->after = 1;
		q->after_source = a->source_id;
		q->after_seq = a->seq + jt_range(rng, 2); /* present or absent */
	}
}

/* Index of the first event after the resume point, by brute force. */
static size_t rt_resume_index(struct rt_journal *j, const struct shmbus_journal_query *q)
{
	for (size_t i = 0; q->after && i < j->n; i++) {
		const struct shmbus_event_header *e = rt_ev(j, i);
		if (e->source_id == q->after_source && e->seq == q->after_seq)
			return i + 1;
		if (e->source_id == q->after_source && e->seq > q->after_seq)
			return i;
	}
	return q->after ? j->n : 0;
}

static void test_journal_roundtrip_queries_match_bruteforce(void **state)
{
	struct rt_journal j;
	struct shmbus_journal_writer_stats st;
	struct shmbus_journal_writer_opts o = {.block_size = 4096, .segment_max_bytes = 128 << 10};
	jt_mkdtemp(j.dir, sizeof(j.dir), "q");
	rt_write(&j, &o, RT_N, 7, &st);
	struct shmbus_journal_reader *r;
	struct shmbus_journal_error err;
	assert_int_equal(shmbus_journal_reader_open(j.dir, "rt", 0, &r, &err), 0);
	uint64_t rng = 12345;
	size_t total = 0, nonempty = 0;
	for (int round = 0; round < 300; round++) {
		struct shmbus_journal_query q;
		uint32_t syms[8];
		rt_random_query(&j, &rng, &q, syms);
		assert_int_equal(shmbus_journal_reader_seek(r, &q), 0);
		const struct shmbus_event_header *e;
		size_t i = rt_resume_index(&j, &q), got = 0;
		int rc;
		while ((rc = shmbus_journal_reader_next(r, &e, &err)) == 1) {
			while (i < j.n && !rt_match(rt_ev(&j, i), &q))
				i++;
			assert_true(i < j.n);
			assert_memory_equal(e, rt_ev(&j, i), e->size);
			i++;
			got++;
		}
		assert_int_equal(rc, 0);
		while (i < j.n && !rt_match(rt_ev(&j, i), &q))
			i++;
		assert_int_equal(i, j.n); /* nothing the reader missed */
		total += got;
		nonempty += got > 0;
	}
	assert_true(nonempty > 100 && total < 300u * RT_N); /* queries select, not all-or-nothing */
	int64_t latest = 0, want = INT64_MIN;
	for (size_t i = 0; i < j.n; i++)
		if (rt_ev(&j, i)->event_time_ns > want)
			want = rt_ev(&j, i)->event_time_ns;
	assert_int_equal(shmbus_journal_reader_latest_time(r, &latest), 0);
	assert_int_equal(latest, want);
	uint64_t seq;
	assert_int_equal(shmbus_journal_reader_last_seq(r, 2, &seq, &err), 0);
	struct jt_gen g;
	jt_gen_init(&g, 7);
	uint8_t slot[JT_SLOT];
	for (size_t i = 0; i < RT_N; i++)
		jt_gen_next(&g, slot);
	assert_int_equal(seq, g.seq[2]);
	assert_int_equal(shmbus_journal_reader_last_seq(r, 99, &seq, &err), -ENOENT);
	/* Many at once, in one pass: absent ones 0, a repeated one twice. */
	const uint32_t src[] = {3, 99, 1, 2, 1};
	uint64_t seqs[5];
	assert_int_equal(shmbus_journal_reader_last_seqs(r, src, 5, seqs, &err), 3);
	assert_int_equal(seqs[0], g.seq[3]);
	assert_int_equal(seqs[1], 0);
	assert_int_equal(seqs[2], g.seq[1]);
	assert_int_equal(seqs[3], g.seq[2]);
	assert_int_equal(seqs[4], g.seq[1]);
	assert_int_equal(shmbus_journal_reader_last_seqs(r, src, 0, seqs, &err), 0);
	shmbus_journal_reader_close(r);
	rt_free(&j);
}

static void test_journal_roundtrip_retention_keeps_newest(void **state)
{
	struct rt_journal j;
	struct shmbus_journal_writer_stats st;
	/* times rise ~0.8 ms per event: rotate every 200 ms of event time */
	struct shmbus_journal_writer_opts o = {.block_size = 4096,
	                                       .segment_max_age_ns = 200000000,
	                                       .retention_max_bytes = 200 << 10,
	                                       .fsync_policy = SHMBUS_JOURNAL_FSYNC_INTERVAL,
	                                       .fsync_interval_ms = 1};
	jt_mkdtemp(j.dir, sizeof(j.dir), "ret");
	rt_write(&j, &o, RT_N, 9, &st);
	assert_true(st.segments_deleted > 0);
	struct shmbus_journal_info info;
	assert_int_equal(shmbus_journal_info_get(j.dir, "rt", &info), 0);
	assert_int_equal(info.n_segments, st.segments_created - st.segments_deleted);
	assert_true(info.file_bytes <= (200 << 10) + 64 * 1024);
	assert_true(info.events < RT_N);
	/* what is left is exactly the newest events, byte-identical */
	size_t kept = (size_t)info.events;
	shmbus_journal_info_free(&info);
	rt_check_all(&j, RT_N - kept);
	rt_free(&j);
}

/* Readers opened the moment each new segment has its name. */
static struct {
	char dir[128];
	int calls, bad;
	char detail[200];
} rt_named;

static void rt_read_at_naming(const char *seg_path)
{
	struct shmbus_journal_reader *r;
	struct shmbus_journal_error err;
	const struct shmbus_event_header *e;
	int rc;
	(void)seg_path;
	rt_named.calls++;
	if (shmbus_journal_reader_open(rt_named.dir, "rt", 0, &r, &err) != 0) {
		rt_named.bad++;
		snprintf(rt_named.detail, sizeof(rt_named.detail), "open: %s", err.detail);
		return;
	}
	while ((rc = shmbus_journal_reader_next(r, &e, &err)) != 0)
		if (rc < 0) {
			rt_named.bad++;
			snprintf(rt_named.detail, sizeof(rt_named.detail), "%s", err.detail);
			break;
		}
	shmbus_journal_reader_close(r);
}

/* A writer rotating created the next segment and then wrote its header: a
 * reader opening the journal in between (cat, replay, a bridge's catch-up
 * of a live journal) found a newest segment of 0 bytes and reported
 * "segment header truncated". The name now comes with the whole header:
 * a reader run at the moment each segment is named sees no damage. */
static void test_journal_roundtrip_segment_named_with_its_header(void **state)
{
	struct rt_journal j;
	struct shmbus_journal_writer_stats st;
	struct shmbus_journal_writer_opts o = {.block_size = 8192, .segment_max_bytes = 256 << 10};
	(void)state;
	jt_mkdtemp(j.dir, sizeof(j.dir), "named");
	snprintf(rt_named.dir, sizeof(rt_named.dir), "%s", j.dir);
	jrnl_test_hook = rt_read_at_naming;
	rt_write(&j, &o, RT_N, 11, &st);
	jrnl_test_hook = NULL;
	printf("# %d segments named, %d readers saw damage%s%s\n", rt_named.calls, rt_named.bad,
	       rt_named.bad ? ": " : "", rt_named.detail);
	assert_int_equal(rt_named.calls, (int)st.segments_created);
	assert_true(rt_named.calls > 1);
	assert_int_equal(rt_named.bad, 0);
	rt_check_all(&j, 0);
	rt_free(&j);
}

/* What last_seq and durable_seq say of a source whose every segment
 * retention deleted (the contract journal.h states): the reader knows
 * only the blocks still there (-ENOENT), the writer what it appended
 * (its seq, until it is closed; a reopened writer knows none). */
static void test_journal_roundtrip_last_seq_after_retention(void **state)
{
	struct shmbus_journal_writer *w;
	struct shmbus_journal_reader *r;
	struct shmbus_journal_error err;
	struct shmbus_journal_writer_stats st;
	struct shmbus_journal_writer_opts o = {.block_size = 4096,
	                                       .segment_max_bytes = 16 << 10,
	                                       .retention_max_bytes = 64 << 10};
	struct shmbus_trade t;
	char dir[128];
	uint64_t seq = 0;
	(void)state;
	jt_mkdtemp(dir, sizeof(dir), "lsret");
	memset(&t, 0, sizeof(t));
	t.h.type = SHMBUS_EV_TRADE;
	t.h.version = 1;
	t.h.size = sizeof(t);
	assert_int_equal(shmbus_journal_writer_open(dir, "rt", &o, &w, NULL, &err), 0);
	for (int i = 0; i < 5100; i++) { /* source 1 first, then only source 2 */
		t.h.source_id = i < 100 ? 1 : 2;
		t.h.seq = i < 100 ? (uint64_t)i + 1 : (uint64_t)i - 99;
		t.h.event_time_ns = 1000 + i;
		assert_int_equal(shmbus_journal_writer_append(w, &t.h), 0);
	}
	assert_int_equal(shmbus_journal_writer_flush(w), 0);
	shmbus_journal_writer_stats_get(w, &st);
	assert_true(st.segments_deleted > 0);
	assert_int_equal(shmbus_journal_writer_durable_seq(w, 1, &seq), 0);
	assert_int_equal(seq, 100);
	assert_int_equal(shmbus_journal_writer_close(w), 0);
	assert_int_equal(shmbus_journal_reader_open(dir, "rt", 0, &r, &err), 0);
	assert_int_equal(shmbus_journal_reader_last_seq(r, 1, &seq, &err), -ENOENT);
	assert_int_equal(shmbus_journal_reader_last_seq(r, 2, &seq, &err), 0);
	assert_int_equal(seq, 5000);
	shmbus_journal_reader_close(r);
	assert_int_equal(shmbus_journal_writer_open(dir, "rt", &o, &w, NULL, &err), 0);
	assert_int_equal(shmbus_journal_writer_durable_seq(w, 2, &seq), -ENOENT);
	assert_int_equal(shmbus_journal_writer_close(w), 0);
	tfs_rm_rf(dir);
}

struct rt_live {
	const char *dir;
	atomic_int stop;
	uint64_t deleted; /* segments retention deleted */
};

/* A writer whose retention deletes a segment every few ms, until stop. */
static void *rt_live_writer(void *arg)
{
	struct rt_live *l = arg;
	struct shmbus_journal_writer *w;
	struct shmbus_journal_error err;
	struct shmbus_journal_writer_stats st;
	struct shmbus_journal_writer_opts o = {.block_size = 4096,
	                                       .segment_max_bytes = 8192,
	                                       .retention_max_bytes = 40 << 10,
	                                       .force_pwrite = 1};
	struct shmbus_trade t;
	if (shmbus_journal_writer_open(l->dir, "rt", &o, &w, NULL, &err) != 0)
		return NULL;
	memset(&t, 0, sizeof(t));
	t.h.type = SHMBUS_EV_TRADE;
	t.h.version = 1;
	t.h.size = sizeof(t);
	t.h.source_id = 1;
	for (uint64_t i = 0; !atomic_load(&l->stop); i++) {
		t.h.seq = i + 1;
		t.h.event_time_ns = 1000 + (int64_t)i;
		shmbus_journal_writer_append(w, &t.h);
		if (i % 64 == 0)
			shmbus_journal_writer_flush(w);
	}
	shmbus_journal_writer_stats_get(w, &st);
	l->deleted = st.segments_deleted;
	shmbus_journal_writer_close(w);
	return NULL;
}

/* Readers opened while retention deletes the oldest segments: a segment
 * listed, then deleted before the reader opened it, was reported as a
 * damaged one ("cannot open segment: No such file or directory"), so cat
 * of a live journal failed and the bridge's catch-up warned of damage,
 * where verify and info leave such a segment out. */
static void test_journal_roundtrip_readers_beside_retention(void **state)
{
	struct rt_live l = {.stop = 0};
	char dir[128];
	pthread_t th;
	uint64_t opens = 0, gone = 0;
	(void)state;
	jt_mkdtemp(dir, sizeof(dir), "live");
	l.dir = dir;
	assert_int_equal(pthread_create(&th, NULL, rt_live_writer, &l), 0);
	for (int k = 0; k < 3000; k++) {
		struct shmbus_journal_reader *r;
		struct shmbus_journal_error err;
		const struct shmbus_event_header *e;
		int rc;
		if (shmbus_journal_reader_open(dir, "rt", 0, &r, &err) != 0)
			continue; /* nothing written yet */
		opens++;
		while ((rc = shmbus_journal_reader_next(r, &e, &err)) != 0)
			gone += rc < 0 && strstr(err.detail, "cannot open segment") != NULL;
		shmbus_journal_reader_close(r);
	}
	atomic_store(&l.stop, 1);
	assert_int_equal(pthread_join(th, NULL), 0);
	printf("# %llu opens beside %llu segments deleted\n", (unsigned long long)opens,
	       (unsigned long long)l.deleted);
	assert_true(opens > 0 && l.deleted > 0);
	assert_int_equal(gone, 0);
	tfs_rm_rf(dir);
}

/* verify beside retention: a segment listed, then deleted before verify
 * opened it, failed the whole verify ("cannot open segment: No such file
 * or directory"), so verify of a live journal failed now and then, where
 * the reader and info leave such a segment out. */
static void test_journal_roundtrip_verify_beside_retention(void **state)
{
	struct rt_live l = {.stop = 0};
	char dir[128], detail[900] = "";
	pthread_t th;
	uint64_t runs = 0, failed = 0;
	(void)state;
	jt_mkdtemp(dir, sizeof(dir), "vlive");
	l.dir = dir;
	assert_int_equal(pthread_create(&th, NULL, rt_live_writer, &l), 0);
	for (int k = 0; k < 3000; k++) {
		struct shmbus_journal_verify_report rep;
		int rc = shmbus_journal_verify(dir, "rt", &rep);
		if (rc == 0 && rep.segments == 0)
			continue; /* nothing written yet */
		runs++;
		/* the newest block may be one the writer is still writing */
		if (rc != 0 && !strstr(rep.bad.detail, "torn")) {
			failed++;
			snprintf(detail, sizeof(detail), "%d %s (%s)", rc, rep.bad.detail,
			         rep.bad.segment);
		}
	}
	atomic_store(&l.stop, 1);
	assert_int_equal(pthread_join(th, NULL), 0);
	printf("# %llu verifies beside %llu segments deleted, %llu failed%s%s\n",
	       (unsigned long long)runs, (unsigned long long)l.deleted,
	       (unsigned long long)failed, failed ? ": " : "", detail);
	assert_true(runs > 0 && l.deleted > 0);
	assert_int_equal(failed, 0);
	tfs_rm_rf(dir);
}

/* Rotation by event time with times that no int64 difference holds
 * (producers stamp what they like): INT64_MIN then INT64_MAX - 1 is far more
 * than any age, and starts a new segment. The difference overflowed (to
 * -1: no rotation, and undefined behaviour). */
static void test_journal_roundtrip_age_of_extreme_times(void **state)
{
	struct rt_journal j;
	struct shmbus_journal_writer *w;
	struct shmbus_journal_error err;
	struct shmbus_journal_writer_stats st;
	struct shmbus_journal_writer_opts o = {.block_size = 4096,
	                                       .segment_max_age_ns = 1000000000};
	struct jt_gen g;
	(void)state;
	jt_mkdtemp(j.dir, sizeof(j.dir), "age");
	enum { N = 201 }; /* blocks at INT64_MIN (the segment is open), then one event */
	jt_gen_init(&g, 3);
	j.ev = calloc(N, JT_SLOT);
	j.n = N;
	assert_int_equal(shmbus_journal_writer_open(j.dir, "rt", &o, &w, NULL, &err), 0);
	for (size_t i = 0; i < N; i++) {
		struct shmbus_event_header *e = jt_gen_next(&g, rt_ev(&j, i));
		e->event_time_ns = i < N - 1 ? INT64_MIN : INT64_MAX - 1;
		assert_int_equal(shmbus_journal_writer_append(w, e), 0);
	}
	assert_int_equal(shmbus_journal_writer_flush(w), 0);
	shmbus_journal_writer_stats_get(w, &st);
	assert_int_equal(st.segments_created, 2);
	assert_int_equal(shmbus_journal_writer_close(w), 0);
	rt_check_all(&j, 0);
	rt_free(&j);
}

/* Events read back with query q: how many. */
static size_t rt_count_query(const char *dir, const struct shmbus_journal_query *q)
{
	struct shmbus_journal_reader *r;
	struct shmbus_journal_error err;
	const struct shmbus_event_header *e;
	size_t n = 0;
	int rc;
	assert_int_equal(shmbus_journal_reader_open(dir, "rt", 0, &r, &err), 0);
	assert_int_equal(shmbus_journal_reader_seek(r, q), 0);
	while ((rc = shmbus_journal_reader_next(r, &e, &err)) == 1)
		n++;
	assert_int_equal(rc, 0);
	shmbus_journal_reader_close(r);
	return n;
}

/* t_to = INT64_MAX is "no bound": an event stamped INT64_MAX (a producer
 * may stamp what it likes) is in every range open at the top, the default
 * query's included. The bound was applied as "< INT64_MAX", so the whole
 * journal read back without those events, from its index and its blocks. */
static void test_journal_roundtrip_unbounded_range_has_int64_max(void **state)
{
	struct rt_journal j;
	struct shmbus_journal_writer *w;
	struct shmbus_journal_error err;
	struct shmbus_journal_writer_opts o = {.block_size = 4096};
	struct jt_gen g;
	(void)state;
	jt_mkdtemp(j.dir, sizeof(j.dir), "max");
	enum { N = 300, AT_MAX = 100 }; /* the last AT_MAX events (whole blocks) at INT64_MAX */
	jt_gen_init(&g, 5);
	j.ev = calloc(N, JT_SLOT);
	j.n = N;
	assert_int_equal(shmbus_journal_writer_open(j.dir, "rt", &o, &w, NULL, &err), 0);
	for (size_t i = 0; i < N; i++) {
		struct shmbus_event_header *e = jt_gen_next(&g, rt_ev(&j, i));
		if (i >= N - AT_MAX)
			e->event_time_ns = INT64_MAX;
		assert_int_equal(shmbus_journal_writer_append(w, e), 0);
	}
	assert_int_equal(shmbus_journal_writer_close(w), 0);
	rt_check_all(&j, 0);
	struct shmbus_journal_query q;
	shmbus_journal_query_init(&q);
	q.t_from = INT64_MAX; /* "everything from INT64_MAX on" */
	assert_int_equal(rt_count_query(j.dir, &q), AT_MAX);
	q.t_from = rt_ev(&j, N / 2)->event_time_ns;
	size_t below = 0; /* events in [t_from, INT64_MAX) */
	for (size_t i = 0; i < N - AT_MAX; i++)
		below += rt_ev(&j, i)->event_time_ns >= q.t_from;
	assert_int_equal(rt_count_query(j.dir, &q), below + AT_MAX);
	q.t_to = INT64_MAX - 1; /* a bound below it still excludes it */
	assert_int_equal(rt_count_query(j.dir, &q), below);
	rt_free(&j);
}

static void rt_count_tail(const struct shmbus_event_header *ev, void *ctx)
{
	(void)ev;
	++*(size_t *)ctx;
}

/* Copy file from to file to. 0 or -1. */
static int rt_copy(const char *from, const char *to)
{
	FILE *in = fopen(from, "rb"), *out = fopen(to, "wb");
	char buf[8192];
	size_t n;
	int rc = in && out ? 0 : -1;
	while (rc == 0 && (n = fread(buf, 1, sizeof buf, in)) > 0)
		rc = fwrite(buf, 1, n, out) == n ? 0 : -1;
	if (in)
		fclose(in);
	if (out && fclose(out) != 0)
		rc = -1;
	return rc;
}

static int rt_is_segment(const struct dirent *d)
{
	size_t n = strlen(d->d_name);
	return n > 4 && strcmp(d->d_name + n - 4, ".shj") == 0;
}

/* A journal of more segments than the process may open files (one per
 * journald restart, for months) reads whole: the reader used to hold
 * every segment's file open and failed with EMFILE. */
static void test_journal_roundtrip_more_segments_than_fds(void **state)
{
	struct rt_journal j;
	struct shmbus_journal_writer_stats st;
	/* room for one 4 KiB block per segment: every block starts a segment */
	struct shmbus_journal_writer_opts o = {.block_size = 4096,
	                                       .segment_max_bytes = 8192,
	                                       .force_pwrite = 1};
	jt_mkdtemp(j.dir, sizeof(j.dir), "fds");
	rt_write(&j, &o, 12000, 17, &st);
	assert_true(st.segments_created > 150);
	struct rlimit old, low;
	assert_int_equal(getrlimit(RLIMIT_NOFILE, &old), 0);
	low = old;
	low.rlim_cur = 64; /* far fewer than the segments */
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &low), 0);
	rt_check_all(&j, 0);
	struct shmbus_journal_reader *r;
	struct shmbus_journal_error err;
	assert_int_equal(shmbus_journal_reader_open(j.dir, "rt", 0, &r, &err), 0);
	size_t n = 0; /* what a restarted journald reads to skip duplicates */
	assert_int_equal(shmbus_journal_reader_tail(r, j.n, rt_count_tail, &n, &err), 0);
	assert_int_equal(n, j.n);
	uint64_t seq;
	assert_int_equal(shmbus_journal_reader_last_seq(r, 99, &seq, &err), -ENOENT);
	shmbus_journal_reader_close(r);

	/* Seeking back, again and again, to ever earlier segments: each one
	 * the iteration leaves gives its file back (they stayed open). */
	assert_int_equal(shmbus_journal_reader_open(j.dir, "rt", 0, &r, &err), 0);
	int seeks = 0;
	for (size_t i = j.n - 1; i > j.n / 10; i -= 20, seeks++) {
		struct shmbus_journal_query q;
		shmbus_journal_query_init(&q);
		q.t_from = rt_ev(&j, i)->event_time_ns;
		assert_int_equal(shmbus_journal_reader_seek(r, &q), 0);
		const struct shmbus_event_header *e;
		int rc = shmbus_journal_reader_next(r, &e, &err);
		if (rc != 1)
			fail_msg("seek %d back to event %zu: %d %s (%s)", seeks, i, rc, err.detail,
			         err.segment);
	}
	shmbus_journal_reader_close(r);

	/* A parked segment's file replaced after the index was built (by a
	 * copy of the next one: blocks of the same length at the same
	 * offsets, each passing its checks) is reported, never read as it. */
	struct dirent **names;
	int nn = scandir(j.dir, &names, rt_is_segment, alphasort);
	assert_true(nn > 40);
	char victim[400], donor[400], tmp[400];
	snprintf(victim, sizeof victim, "%s/%s", j.dir, names[30]->d_name);
	snprintf(donor, sizeof donor, "%s/%s", j.dir, names[31]->d_name);
	snprintf(tmp, sizeof tmp, "%s/copy.tmp", j.dir);
	for (int i = 0; i < nn; i++)
		free(names[i]);
	free(names);
	assert_int_equal(shmbus_journal_reader_open(j.dir, "rt", 0, &r, &err), 0);
	assert_int_equal(rt_copy(donor, tmp), 0);
	assert_int_equal(rename(tmp, victim), 0);
	const struct shmbus_event_header *e;
	size_t got = 0, k = 0;
	int rc, stale = 0;
	while ((rc = shmbus_journal_reader_next(r, &e, &err)) != 0) {
		if (rc < 0) {
			assert_int_equal(rc, -ESTALE);
			assert_non_null(strstr(err.detail, "replaced"));
			assert_string_equal(err.segment, victim);
			stale++;
			continue;
		}
		while (k < j.n && memcmp(e, rt_ev(&j, k), e->size) != 0)
			k++; /* the events of the replaced segment are skipped */
		assert_true(k < j.n);
		got++;
		k++;
	}
	shmbus_journal_reader_close(r);
	assert_int_equal(stale, 1);
	assert_true(got < j.n && got > j.n - 200);
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &old), 0);
	printf("# %llu segments read with at most 64 open files, %d seeks back; %zu of %zu events "
	       "read around a replaced segment\n",
	       (unsigned long long)st.segments_created, seeks, got, j.n);
	rt_free(&j);
}

/* Read every event left from where r stands: each must be the next one
 * written at or after index *k (events of deleted segments are skipped);
 * returns how many were read, and fails on any error. */
static size_t rt_read_rest(struct rt_journal *j, struct shmbus_journal_reader *r, size_t *k)
{
	struct shmbus_journal_error err;
	const struct shmbus_event_header *e;
	size_t got = 0;
	int rc;
	while ((rc = shmbus_journal_reader_next(r, &e, &err)) != 0) {
		if (rc < 0)
			fail_msg("read: %d %s (%s)", rc, err.detail, err.segment);
		while (*k < j->n && memcmp(e, rt_ev(j, *k), e->size) != 0)
			(*k)++;
		assert_true(*k < j->n);
		(*k)++;
		got++;
	}
	return got;
}

/* A reader that has a journal open while the writer goes on: retention
 * deleting segments it had parked (those past the first 16, never read
 * yet, and those it read and left, for a seek back) made their reopen
 * fail ("cannot reopen segment: No such file or directory"), reported as
 * an error, where a segment deleted before the open is left out. */
static void test_journal_roundtrip_parked_segment_deleted_by_retention(void **state)
{
	struct rt_journal j;
	struct shmbus_journal_writer_stats st;
	struct shmbus_journal_writer_opts o = {.block_size = 4096,
	                                       .segment_max_bytes = 8192,
	                                       .force_pwrite = 1};
	struct shmbus_journal_writer *w;
	struct shmbus_journal_reader *r;
	struct shmbus_journal_error err;
	const struct shmbus_event_header *e;
	struct shmbus_journal_query q;
	uint8_t slot[JT_SLOT];
	struct jt_gen g;
	(void)state;
	jt_mkdtemp(j.dir, sizeof(j.dir), "parkret");
	rt_write(&j, &o, 3000, 23, &st);
	assert_true(st.segments_created > 40);
	assert_int_equal(shmbus_journal_reader_open(j.dir, "rt", 0, &r, &err), 0);
	assert_int_equal(shmbus_journal_reader_next(r, &e, &err), 1);
	assert_memory_equal(e, rt_ev(&j, 0), e->size);

	/* The writer goes on; its retention deletes all but the newest
	 * segments, parked ones among them. */
	o.retention_max_bytes = 64 << 10;
	jt_gen_init(&g, 24);
	assert_int_equal(shmbus_journal_writer_open(j.dir, "rt", &o, &w, NULL, &err), 0);
	for (int i = 0; i < 200; i++)
		assert_int_equal(shmbus_journal_writer_append(w, jt_gen_next(&g, slot)), 0);
	assert_int_equal(shmbus_journal_writer_close(w), 0);
	struct shmbus_journal_info info;
	assert_int_equal(shmbus_journal_info_get(j.dir, "rt", &info), 0);
	assert_true(info.n_segments < 20);
	shmbus_journal_info_free(&info);

	/* The segments open since the index was built read whole; the rest
	 * of the index is gone: no error, the journal's end. */
	size_t k = 1;
	size_t got = 1 + rt_read_rest(&j, r, &k);
	assert_true(got < j.n);
	/* A seek back finds every segment it had read and left deleted. */
	shmbus_journal_query_init(&q);
	assert_int_equal(shmbus_journal_reader_seek(r, &q), 0);
	k = 0;
	size_t again = rt_read_rest(&j, r, &k);
	assert_true(again < got);
	/* tail and last_seqs read the parked segments too */
	size_t n = 0;
	assert_int_equal(shmbus_journal_reader_tail(r, j.n, rt_count_tail, &n, &err), 0);
	assert_int_equal(n, again);
	uint32_t none = 99;
	uint64_t seq;
	assert_int_equal(shmbus_journal_reader_last_seqs(r, &none, 1, &seq, &err), 0);
	shmbus_journal_reader_close(r);
	printf("# %zu of %zu events read while retention ran, %zu after a seek back\n", got, j.n,
	       again);
	rt_free(&j);
}

static void test_journal_roundtrip_rejects_bad_input(void **state)
{
	struct shmbus_journal_writer *w;
	struct shmbus_journal_error err;
	char dir[128];
	jt_mkdtemp(dir, sizeof(dir), "bad");
	assert_int_equal(shmbus_journal_writer_open(dir, "a/b", NULL, &w, NULL, &err), -EINVAL);
	struct shmbus_journal_writer_opts o = {.block_size = 1000};
	assert_int_equal(shmbus_journal_writer_open(dir, "x", &o, &w, NULL, &err), -EINVAL);
	assert_int_equal(shmbus_journal_writer_open(dir, "x", NULL, &w, NULL, &err), 0);
	struct shmbus_event_header h = {.type = 1, .size = 12};
	assert_int_equal(shmbus_journal_writer_append(w, &h), -EINVAL);
	h.size = 300;
	assert_int_equal(shmbus_journal_writer_append(w, &h), -EINVAL);
	assert_int_equal(shmbus_journal_writer_close(w), 0);
	struct shmbus_journal_reader *r;
	assert_int_equal(shmbus_journal_reader_open("/nonexistent/j", NULL, 0, &r, &err), -ENOENT);
	assert_string_equal(err.segment, "/nonexistent/j");
	tfs_rm_rf(dir);
}

static void test_journal_roundtrip_layout_hash_checked(void **state)
{
	struct rt_journal j;
	struct shmbus_journal_writer_stats st;
	struct shmbus_journal_writer_opts o = {.layout_hash = 0x1234};
	jt_mkdtemp(j.dir, sizeof(j.dir), "lh");
	rt_write(&j, &o, 100, 3, &st);
	struct shmbus_journal_reader *r;
	struct shmbus_journal_error err;
	assert_int_equal(
	    shmbus_journal_reader_open(j.dir, "rt", shmbus_event_layout_hash(), &r, &err), -EPROTO);
	assert_int_equal(err.offset, 24);
	assert_int_equal(shmbus_journal_reader_open(j.dir, "rt", 0x1234, &r, &err), 0);
	shmbus_journal_reader_close(r);
	rt_free(&j);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_journal_roundtrip_io_uring),
	    cmocka_unit_test(test_journal_roundtrip_pwrite_fallback),
	    cmocka_unit_test(test_journal_roundtrip_o_direct),
	    cmocka_unit_test(test_journal_roundtrip_queries_match_bruteforce),
	    cmocka_unit_test(test_journal_roundtrip_retention_keeps_newest),
	    cmocka_unit_test(test_journal_roundtrip_segment_named_with_its_header),
	    cmocka_unit_test(test_journal_roundtrip_last_seq_after_retention),
	    cmocka_unit_test(test_journal_roundtrip_readers_beside_retention),
	    cmocka_unit_test(test_journal_roundtrip_verify_beside_retention),
	    cmocka_unit_test(test_journal_roundtrip_age_of_extreme_times),
	    cmocka_unit_test(test_journal_roundtrip_unbounded_range_has_int64_max),
	    cmocka_unit_test(test_journal_roundtrip_more_segments_than_fds),
	    cmocka_unit_test(test_journal_roundtrip_parked_segment_deleted_by_retention),
	    cmocka_unit_test(test_journal_roundtrip_rejects_bad_input),
	    cmocka_unit_test(test_journal_roundtrip_layout_hash_checked),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
