/*
 * test_replay_untrusted.c - shmbus-replay on journals whose events are
 * well-checksummed but hostile: symbol ids no symbols file names (up to
 * 2^32 - 1), event types the bus refuses, and event times at the ends of
 * int64.
 *
 * Each journal is written with the library writer (it checks sizes, not
 * types or ids, as journald would journal whatever a bus carried). The
 * replayer runs as a process with a time limit: a replayer that loops or
 * allocates by the id would be killed or show in its peak RSS, one that
 * overflows a signed sum aborts under UBSan (the ASan+UBSan build) or paces
 * wrongly (any build).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <sys/resource.h>

#include "jtt.h"

#define RU_SYM        7 /* the one id the symbols file names ("SPY") */
#define RU_MAX_EVENTS 128
#define RU_RSS_MAX_KB (512 * 1024) /* far below the 2 GiB an id-sized table took */

struct ru_rec {
	_Alignas(8) uint8_t b[256];
};

static struct ru_rec ru_journal[RU_MAX_EVENTS];

/* A trade with the given header fields (type may be one the bus refuses). */
static void ru_event(struct ru_rec *r, uint16_t type, uint32_t sym, uint64_t seq, int64_t t)
{
	struct shmbus_trade *tr = (void *)r->b;
	memset(r, 0, sizeof(*r));
	tr->h.type = type;
	tr->h.version = 1;
	tr->h.size = sizeof(*tr);
	tr->h.source_id = 1;
	tr->h.seq = seq;
	tr->h.symbol_id = sym;
	tr->h.event_time_ns = t;
	tr->price = 100.0 + (double)seq;
	tr->size = 10;
}

/* Journal of bus "src" in jtt_jdir holding recs, and its symbols file,
 * which names only RU_SYM. */
static void ru_write(int n)
{
	struct shmbus_journal_writer *w;
	struct shmbus_journal_error err;
	assert_int_equal(shmbus_journal_writer_open(jtt_jdir, "src", NULL, &w, NULL, &err), 0);
	for (int i = 0; i < n; i++)
		assert_int_equal(shmbus_journal_writer_append(w, (void *)ru_journal[i].b), 0);
	assert_int_equal(shmbus_journal_writer_close(w), 0);
	char path[300];
	snprintf(path, sizeof(path), "%s/src.symbols", jtt_jdir);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fprintf(f, "%d,SPY\n", RU_SYM);
	fclose(f);
}

struct ru_run {
	int status;     /* exit status, 128+signal, or -1: killed at the limit */
	long maxrss_kb; /* the replayer's peak RSS */
	int n;          /* events received */
	struct ru_rec got[RU_MAX_EVENTS];
	char *out, *err; /* its stdout and stderr (malloc'd) */
};

static void ru_on(const struct shmbus_event_header *ev, void *ctx)
{
	struct ru_run *r = ctx;
	if (r->n < RU_MAX_EVENTS)
		memcpy(r->got[r->n++].b, ev, ev->size);
}

static shmbus_consumer *ru_subscribe(shmbus_bus *b)
{
	shmbus_consumer *c;
	struct shmbus_sub_opts so;
	shmbus_sub_opts_init(&so);
	so.slot_size = 256;
	so.capacity = 1024;
	so.wait = SHMBUS_WAIT_SPIN;
	assert_int_equal(shmbus_subscribe(b, "cap", &so, &c), 0);
	return c;
}

static pid_t ru_spawn(const char *speed)
{
	char *av[] = {REPLAY_BIN, "--bus",       jtt_bus,  "--dir", jtt_jdir,
	              "--speed",  (char *)speed, "--json", NULL};
	char out[200], err[200];
	snprintf(out, sizeof(out), "%s/replay.out", jtt_shm);
	snprintf(err, sizeof(err), "%s/replay.err", jtt_shm);
	return jtt_spawn(av, out, err);
}

/* Reap pid if it has exited (0: still running), recording status and RSS. */
static int ru_reap(struct ru_run *r, pid_t pid, int options)
{
	int st;
	struct rusage ru;
	pid_t w = wait4(pid, &st, options, &ru);
	if (w != pid)
		return 0;
	r->status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
	r->maxrss_kb = ru.ru_maxrss;
	return 1;
}

/* Read the run's output files. */
static void ru_collect(struct ru_run *r)
{
	char path[200];
	snprintf(path, sizeof(path), "%s/replay.out", jtt_shm);
	r->out = jtt_slurp(path);
	snprintf(path, sizeof(path), "%s/replay.err", jtt_shm);
	r->err = jtt_slurp(path);
	printf("replay status %d, peak RSS %ld KiB\nstdout: %sstderr: %s", r->status, r->maxrss_kb,
	       r->out, r->err);
}

/* Replay the journal at `speed` while consuming; kill it after limit_s. */
static void ru_replay(shmbus_bus *b, const char *speed, int limit_s, struct ru_run *r)
{
	shmbus_consumer *c = ru_subscribe(b);
	pid_t pid = ru_spawn(speed);
	int64_t until = shmbus_mono_ns() + (int64_t)limit_s * 1000000000;
	r->status = -1;
	while (!ru_reap(r, pid, WNOHANG)) {
		if (shmbus_mono_ns() > until) {
			kill(pid, SIGKILL);
			ru_reap(r, pid, 0);
			r->status = -1;
			break;
		}
		if (shmbus_poll(c, ru_on, r, 256) == 0)
			usleep(1000);
	}
	while (shmbus_poll(c, ru_on, r, 256) > 0)
		;
	shmbus_consumer_close(c);
	ru_collect(r);
}

static void ru_free(struct ru_run *r)
{
	free(r->out);
	free(r->err);
}

static int ru_count(const char *text, const char *needle)
{
	int n = 0;
	for (const char *p = text; (p = strstr(p, needle)) != NULL; p += strlen(needle))
		n++;
	return n;
}

/* Bus name of the symbol of received event i. */
static void ru_name(shmbus_bus *b, const struct ru_run *r, int i, char *name, size_t len)
{
	const struct shmbus_event_header *h = (const void *)r->got[i].b;
	name[0] = '\0';
	assert_true(shmbus_symbol_name(b, h->symbol_id, name, len) > 0);
}

/* Ids of 2^28 (a 2 GiB table), 2^31 (the doubling wrapped to 0 and never
 * ended) and 2^32 - 1 replay under bounded memory, within seconds, as
 * "unnamed-<id>", each id to one bus symbol; named ids still map by name. */
static void test_replay_untrusted_huge_symbol_ids_are_bounded(void **state)
{
	(void)state;
	static struct ru_run r;
	static const uint32_t syms[] = {RU_SYM,      0x10000000u, 0x80000000u, 0xFFFFFFFFu,
	                                0x80000000u, 9,           RU_SYM,      0};
	const int n = (int)(sizeof(syms) / sizeof(syms[0]));
	shmbus_bus *b = jtt_setup();
	shmbus_symbol_intern(b, "DECOY", 5); /* bus ids differ from the journal's */
	for (int i = 0; i < n; i++)
		ru_event(&ru_journal[i], SHMBUS_EV_TRADE, syms[i], (uint64_t)i + 1,
		         1700000000000000000ll + i * 1000);
	ru_write(n);
	memset(&r, 0, sizeof(r));
	ru_replay(b, "max", 10, &r);
	assert_int_equal(r.status, 0);
	assert_true(r.maxrss_kb < RU_RSS_MAX_KB);
	assert_int_equal(r.n, n);
	assert_int_equal(jtt_json_i64(r.out, "events"), n);
	assert_int_equal(jtt_json_i64(r.out, "unnamed_symbols"), 4); /* distinct ids */
	assert_int_equal(jtt_json_i64(r.out, "skipped"), 0);
	static const char *const want[] = {"SPY",
	                                   "unnamed-268435456",
	                                   "unnamed-2147483648",
	                                   "unnamed-4294967295",
	                                   "unnamed-2147483648",
	                                   "unnamed-9",
	                                   "SPY"};
	for (int i = 0; i < n; i++) {
		const struct shmbus_event_header *h = (const void *)r.got[i].b;
		char name[32];
		assert_int_equal(h->seq, (uint64_t)i + 1);
		if (syms[i] == 0) {
			assert_int_equal(h->symbol_id, 0);
			continue;
		}
		ru_name(b, &r, i, name, sizeof(name));
		assert_string_equal(name, want[i]);
	}
	assert_int_equal(((struct shmbus_event_header *)r.got[2].b)->symbol_id,
	                 ((struct shmbus_event_header *)r.got[4].b)->symbol_id);
	assert_non_null(strstr(r.err, "symbol id 2147483648 has no name"));
	ru_free(&r);
	jtt_teardown(b);
}

/* Events of types the bus refuses are skipped one by one (not the batch of
 * 32 around them), the first 10 named by source, seq and place, the rest
 * counted; every good event is replayed in order; exit status 3. */
static void test_replay_untrusted_skips_events_the_bus_refuses(void **state)
{
	(void)state;
	static struct ru_run r;
	static const uint16_t bad_types[] = {0, 64, 1000, 65535};
	const int n = 60;
	int bad = 0, good = 0;
	uint64_t good_seq[RU_MAX_EVENTS];
	shmbus_bus *b = jtt_setup();
	for (int i = 0; i < n; i++) {
		/* 14 bad events: at 2, 5, 8, ... 41 */
		int is_bad = i % 3 == 2 && i < 44;
		uint16_t type = is_bad ? bad_types[bad++ % 4] : SHMBUS_EV_TRADE;
		ru_event(&ru_journal[i], type, RU_SYM, (uint64_t)i + 1,
		         1700000000000000000ll + i * 1000);
		if (!is_bad)
			good_seq[good++] = (uint64_t)i + 1;
	}
	assert_int_equal(bad, 14);
	ru_write(n);
	memset(&r, 0, sizeof(r));
	ru_replay(b, "max", 10, &r);
	assert_int_equal(r.status, 3);
	assert_int_equal(jtt_json_i64(r.out, "events"), good);
	assert_int_equal(jtt_json_i64(r.out, "skipped"), bad);
	assert_int_equal(r.n, good);
	for (int i = 0; i < good; i++) {
		const struct shmbus_event_header *h = (const void *)r.got[i].b;
		char name[32];
		assert_int_equal(h->type, SHMBUS_EV_TRADE);
		assert_int_equal(h->seq, good_seq[i]);
		ru_name(b, &r, i, name, sizeof(name));
		assert_string_equal(name, "SPY");
	}
	/* The first bad event is named with its identity and place. */
	assert_non_null(
	    strstr(r.err, "type 0 is not in 1..63 (source 1 seq 3, event 3 of the range"));
	assert_non_null(strstr(r.err, "type 1000 is not in 1..63 (source 1 seq 9,"));
	assert_int_equal(ru_count(r.err, "skipping an event"), 10);
	assert_non_null(strstr(r.err, "further skipped events are counted"));
	assert_non_null(strstr(r.err, "skipped 14 malformed events"));
	ru_free(&r);
	jtt_teardown(b);
}

/* Event times 2^64 - 21 ns apart. Backwards across the int64 range: due at
 * once (a signed difference overflowed). Forwards: due at the saturated
 * end of time, so the replayer waits (until SIGTERM) instead of wrapping
 * to "due now". */
static void test_replay_untrusted_pacing_survives_extreme_times(void **state)
{
	(void)state;
	static struct ru_run r;
	shmbus_bus *b = jtt_setup();

	ru_event(&ru_journal[0], SHMBUS_EV_TRADE, RU_SYM, 1, INT64_MAX - 10);
	ru_event(&ru_journal[1], SHMBUS_EV_TRADE, RU_SYM, 2, INT64_MIN + 10);
	ru_event(&ru_journal[2], SHMBUS_EV_TRADE, RU_SYM, 3, INT64_MAX - 5);
	ru_write(3);
	for (int k = 0; k < 2; k++) {
		memset(&r, 0, sizeof(r));
		ru_replay(b, k ? "4" : "1", 10, &r);
		assert_int_equal(r.status, 0);
		assert_int_equal(r.n, 3);
		assert_int_equal(jtt_json_i64(r.out, "events"), 3);
		ru_free(&r);
	}
	jtt_teardown(b);

	b = jtt_setup();
	ru_event(&ru_journal[0], SHMBUS_EV_TRADE, RU_SYM, 1, INT64_MIN + 10);
	ru_event(&ru_journal[1], SHMBUS_EV_TRADE, RU_SYM, 2, INT64_MAX - 10);
	ru_write(2);
	memset(&r, 0, sizeof(r));
	shmbus_consumer *c = ru_subscribe(b);
	pid_t pid = ru_spawn("1");
	int64_t until = shmbus_mono_ns() + 10000000000ll;
	while (r.n < 1 && shmbus_mono_ns() < until && !ru_reap(&r, pid, WNOHANG))
		shmbus_poll(c, ru_on, &r, 256);
	int first = r.n; /* the first event left at once */
	usleep(300000);
	while (shmbus_poll(c, ru_on, &r, 256) > 0)
		;
	int waiting = ru_reap(&r, pid, WNOHANG) == 0; /* the second is not due: it waits */
	if (waiting) {
		kill(pid, SIGTERM);
		until = shmbus_mono_ns() + 10000000000ll;
		while (!ru_reap(&r, pid, WNOHANG) && shmbus_mono_ns() < until)
			usleep(1000);
		if (shmbus_mono_ns() >= until) { /* deaf to SIGTERM */
			kill(pid, SIGKILL);
			ru_reap(&r, pid, 0);
			r.status = -1;
		}
	}
	shmbus_consumer_close(c);
	ru_collect(&r);
	assert_int_equal(first, 1);
	assert_true(waiting);
	assert_int_equal(r.status, 0); /* stopped by request: not a failure */
	assert_int_equal(r.n, 1);
	assert_int_equal(jtt_json_i64(r.out, "events"), 1);
	ru_free(&r);
	jtt_teardown(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_replay_untrusted_huge_symbol_ids_are_bounded),
	    cmocka_unit_test(test_replay_untrusted_skips_events_the_bus_refuses),
	    cmocka_unit_test(test_replay_untrusted_pacing_survives_extreme_times),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
