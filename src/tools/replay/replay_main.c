/*
 * shmbus-replay - republish a journal into a bus, for backtests.
 *
 * Events keep their identity (source_id, seq) and event time and get the
 * SHMBUS_EVF_REPLAYED flag; symbol ids are rewritten through the journal's
 * symbols file (journal id -> name -> id interned in the target bus), so a
 * journal replays into any bus. The output is a pure function of the
 * journal range and filters: the same range replayed twice gives the same
 * bytes (publish times aside), whatever the speed.
 *
 * Pacing: event i is due at start + (t_i - t_0) / speed on the monotonic
 * clock. The replayer sleeps (clock_nanosleep, absolute) until 50 us before
 * it is due, then spins on shmbus_mono_ns(): the sleep's wake-up jitter is
 * absorbed by the spin, so on an idle core an event leaves within a few
 * microseconds of its due time, and lateness never accumulates because
 * each due time is computed from the start, not from the previous event.
 * Documented tolerance at --speed 1: the median publish is within 100 us
 * of its due time and gaps between events keep their length to within
 * 1 ms at the median; single events may be late by a few ms when the
 * replayer is preempted (measured on a 2-core VM with a spinning consumer:
 * median gap error 24 us, p99 5 ms). A late event is published at once and
 * the following ones catch up: the error never accumulates. --json reports
 * the mean and max lateness and how many events were over 1 ms late.
 * Events whose time goes backwards are due at once. `max` does no pacing.
 * Due times are computed in saturating unsigned arithmetic
 * (tool_pace_target_ns): journal times are untrusted, and two int64 times
 * can be 2^64 - 1 ns apart.
 *
 * A journal is untrusted input. An event the bus would refuse (type not in
 * 1..63, size outside header..SHMBUS_EVENT_MAX) is skipped, counted and
 * named on stderr (the first REPLAY_NOTE_MAX, then a count) instead of
 * failing the batch it would have joined; the rest is replayed. A symbol id
 * the symbols file does not name is replayed as "unnamed-<id>" through a
 * cache bounded by the target bus's max_symbols (at least 65536 entries),
 * so no id, however large, sizes a table.
 * A journal journald is writing ends in a block whose write has not
 * completed: the file ends inside it, or holds a hole where an earlier
 * write lands after a later one (writes complete in any order). The
 * reader reports that as a bad block, and replaying a live journal failed
 * at random. So a bad block is held until the iteration goes on: events
 * after it make it damage, as does another error. Met last, in the newest
 * segment at open, where the block index of that segment still ends, or
 * in a file that has grown since, or in a segment journald started while
 * the journal was being opened, it is the journal's end (a write in
 * progress, or a crash's torn tail that recovery cuts): named on stderr,
 * not a failure. A checksum error inside a segment that neither grew nor
 * stops its index there is damage wherever it lies.
 * Exit codes: 0 ok, 1 runtime failure, 2 usage, 3 replayed but some
 * events were skipped as malformed (1 wins when both apply).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdarg.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <shmbus/journal.h>
#include <shmbus/shmbus.h>

#include "jtool.h"
#include "tool_json.h"
#include "tool_pace.h"
#include "tool_parse.h"
#include "tool_proc.h"
#include "tool_version.h"

#define TOOL "shmbus-replay"
#define SPIN_NS 50000 /* sleep until this long before due, then spin */
#define REPLAY_EXIT_SKIPPED 3 /* done, but malformed events were left out */
#define REPLAY_NOTE_MAX 10    /* lines per kind of warning; then only a count */
#define UNNAMED_MIN_LIM 65536 /* unnamed ids cached even on a small bus */

static volatile sig_atomic_t g_stop;

static const char usage_text[] =
    "usage: shmbus-replay --bus NAME --dir DIR [options]\n"
    "  --bus NAME          bus to publish into (must exist)\n"
    "  --dir DIR           journal directory\n"
    "  --journal-bus NAME  journal bus name (default: the only one in DIR)\n"
    "  --from T --to T     event_time_ns in [from, to); epoch ns or ISO-8601\n"
    "  --speed max|1|N     original pacing (1), N times faster, or no pacing\n"
    "                      (default max); at 1 the median event leaves within\n"
    "                      100 us of its due time (late ones catch up, no drift)\n"
    "  --types LIST        event types to replay\n"
    "  --symbols LIST      symbol names to replay\n"
    "  --json              print the summary as JSON (a failure before the replay:\n"
    "                      {\"ok\":false,\"error\":{\"path\":...,\"detail\":...}})\n"
    "  --version           the version (first argument)\n"
    "events the bus would refuse (type not 1..63, bad size) are skipped and\n"
    "named on stderr; the rest is replayed\n"
    "exit: 0 ok, 1 runtime failure, 2 usage, 3 malformed events were skipped\n";

struct ropts {
	const char *bus, *dir, *jbus, *from, *to, *types, *symbols;
	double speed; /* 0 = max */
	int json;
	struct shmbus_journal_query q; /* --from, --to, --types, parsed */
	char jbusbuf[128];
};

#define REPLAY_BATCH 32 /* events per publish call at --speed max: one claim run */

/* Journal ids the symbols file does not name -> bus id of "unnamed-<id>"
 * (0: interning failed). Open addressing, key 0 = free slot; at most `lim`
 * entries (the target bus's max_symbols, at least UNNAMED_MIN_LIM so that
 * failures are remembered too: more distinct names could not be interned
 * anyway), so memory stays bounded (16 MiB at most) whatever ids a journal
 * holds. Past the bound, ids are interned per event and counted per event. */
struct unnamed_map {
	uint32_t *key, *val;
	uint64_t cap, n, lim;
};

struct rstate {
	struct jtool_symtab syms;
	uint32_t *map;    /* named journal symbol id -> bus id; 0 = not mapped yet */
	uint64_t map_cap; /* never above syms.cap: only named ids index it */
	struct unnamed_map un;
	shmbus_bus *bus;
	shmbus_producer *p;
	uint64_t events, late_1ms, unmapped, intern_failed;
	uint64_t read, skipped; /* events read from the range; left out as malformed */
	uint64_t damaged;       /* damaged blocks (or read failures) reported: exit 1 */
	int interrupted;        /* a signal stopped it before the end of the range */
	uint8_t keep_flags;     /* header flags kept (a filter cutting groups drops EVF_MORE) */
	int64_t late_max_ns;
	double late_sum_ns;
	/* the newest segment when the journal was opened, and its size then */
	char tail_seg[SHMBUS_JOURNAL_PATH_MAX];
	uint64_t tail_bytes;
	struct shmbus_journal_error bad; /* bad.code != 0: a bad block held, see replay() */
	/* --speed max: events gathered for one shmbus_publish_batch() */
	unsigned pending;
	_Alignas(64) uint8_t batch[REPLAY_BATCH][SHMBUS_EVENT_MAX + 8];
};

static int usage_err(const char *opt, const char *why)
{
	fprintf(stderr, TOOL ": %s: %s\n%s", opt, why, usage_text);
	return 2;
}

static void on_signal(int sig)
{
	(void)sig;
	g_stop = 1;
}

static int parse_speed(const char *s, double *speed)
{
	if (!strcmp(s, "max")) {
		*speed = 0;
		return 0;
	}
	return tool_parse_double(s, speed) || !(*speed > 0) ? -1 : 0;
}

/* Returns -1 to go on, else the exit code. */
static int parse_args(int argc, char **argv, struct ropts *o)
{
	static const struct option lo[] = {
	    {"bus", 1, 0, 'b'},   {"dir", 1, 0, 'd'},     {"journal-bus", 1, 0, 'J'},
	    {"from", 1, 0, 'F'},  {"to", 1, 0, 'T'},      {"speed", 1, 0, 'x'},
	    {"types", 1, 0, 't'}, {"symbols", 1, 0, 's'}, {"json", 0, 0, 'j'},
	    {"help", 0, 0, 'h'},  {0, 0, 0, 0}};
	int c;
	while ((c = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
		switch (c) {
		case 'b': o->bus = optarg; break;
		case 'd': o->dir = optarg; break;
		case 'J': o->jbus = optarg; break;
		case 'F': o->from = optarg; break;
		case 'T': o->to = optarg; break;
		case 't': o->types = optarg; break;
		case 's': o->symbols = optarg; break;
		case 'j': o->json = 1; break;
		case 'x':
			if (parse_speed(optarg, &o->speed))
				return usage_err("--speed", "want max, 1 or a factor > 0");
			break;
		case 'h': fputs(usage_text, stdout); return 0;
		default: return usage_err("command line", "bad option");
		}
	}
	if (optind < argc)
		return usage_err(argv[optind], "unexpected argument");
	if (!o->bus || !o->dir)
		return usage_err("command line", "--bus and --dir are required");
	char path[4096];
	if (shmbus_bus_path(o->bus, path, sizeof(path)) == -EINVAL)
		return usage_err("--bus", shmbus_errmsg());
	/* Values parsed before any file is read or bus attached. */
	char why[JTOOL_WHY];
	const char *opt;
	if (jtool_parse_query(o->from, o->to, o->types, &o->q, &opt, why))
		return usage_err(opt, why);
	return -1;
}

/* A failure before the replay: the line on stderr and, with --json, the
 * result on stdout saying it (where: the path or bus concerned). Returns
 * code. */
static int __attribute__((format(printf, 4, 5)))
open_fail(const struct ropts *o, int code, const char *where, const char *fmt, ...)
{
	char msg[JTOOL_WHY + 1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	fprintf(stderr, TOOL ": %s\n", msg);
	if (o->json) {
		tool_json_error(stdout, where, msg);
		fflush(stdout);
	}
	return code;
}

/* Journal ids of the --symbols names. */
static int query_symbols(const struct ropts *o, struct rstate *s, struct shmbus_journal_query *q,
                         uint32_t **ids)
{
	static char names[SHMBUS_SUB_MAX_SYMBOLS][32];
	char why[JTOOL_WHY];
	int k =
	    tool_split_list(o->symbols, &names[0][0], 32, SHMBUS_SUB_MAX_SYMBOLS, why, sizeof(why));
	if (k < 0)
		return usage_err("--symbols", why);
	/* Each id has one name: the names' ids fit in count. */
	*ids = calloc((size_t)k + s->syms.count, sizeof(**ids));
	if (!*ids)
		return open_fail(o, 1, o->dir, "no memory for the ids of %d symbols", k);
	size_t n = 0;
	for (int i = 0; i < k; i++) {
		/* Every id of the name (a bus recreated with other ids): each
		 * is replayed under it. */
		uint32_t id = jtool_symtab_find(&s->syms, names[i], 0);
		if (!id)
			fprintf(stderr, TOOL ": note: symbol %s is not in the journal\n", names[i]);
		for (; id; id = jtool_symtab_find(&s->syms, names[i], id))
			(*ids)[n++] = id;
	}
	q->symbols = *ids;
	q->n_symbols = n;
	if (n == 0)
		q->t_to = INT64_MIN; /* nothing can match */
	return 0;
}

static int build_query(const struct ropts *o, struct rstate *s, struct shmbus_journal_query *q,
                       uint32_t **ids)
{
	*q = o->q;
	return o->symbols ? query_symbols(o, s, q, ids) : 0;
}

/* Slot of the hash of jid in a table of cap (a power of two) slots. */
static uint64_t unnamed_slot(uint32_t jid, uint64_t cap)
{
	return (uint64_t)((jid * 0x9E3779B97F4A7C15ull) >> 32) & (cap - 1);
}

/* Index of jid in the cache, or of the free slot where it would go. The
 * table is at most half full, so a free slot always ends the probe. */
static uint64_t unnamed_find(const struct unnamed_map *u, uint32_t jid)
{
	uint64_t i = unnamed_slot(jid, u->cap);
	while (u->key[i] && u->key[i] != jid)
		i = (i + 1) & (u->cap - 1);
	return i;
}

/* Remember jid -> id unless the cache holds its bound (then the id is
 * interned again next time: correct, only slower) or memory is short. */
static void unnamed_put(struct unnamed_map *u, uint32_t jid, uint32_t id)
{
	if (u->n >= u->lim)
		return;
	if (2 * (u->n + 1) > u->cap) { /* grow (rehash) to keep probes short */
		uint64_t cap = u->cap ? 2 * u->cap : 64;
		struct unnamed_map g = {calloc(cap, sizeof(uint32_t)),
		                        calloc(cap, sizeof(uint32_t)), cap, 0, u->lim};
		if (!g.key || !g.val) {
			free(g.key);
			free(g.val);
			return;
		}
		for (uint64_t i = 0; i < u->cap; i++)
			if (u->key[i]) {
				uint64_t j = unnamed_find(&g, u->key[i]);
				g.key[j] = u->key[i];
				g.val[j] = u->val[i];
				g.n++;
			}
		free(u->key);
		free(u->val);
		*u = g;
	}
	uint64_t i = unnamed_find(u, jid);
	u->key[i] = jid;
	u->val[i] = id;
	u->n++;
}

/* Bus id of name, or 0 (with a message) when it cannot be interned. */
static uint32_t intern_name(struct rstate *s, const char *name)
{
	int64_t id = shmbus_symbol_intern(s->bus, name, strlen(name));
	if (id < 0) {
		if (s->intern_failed++ < REPLAY_NOTE_MAX)
			fprintf(stderr, TOOL ": interning %s failed: %s (replayed as symbol 0)\n",
			        name, shmbus_strerror((int)id));
		else if (s->intern_failed == REPLAY_NOTE_MAX + 1)
			fprintf(stderr, TOOL ": note: further interning failures are counted, "
			                "not shown\n");
		return 0;
	}
	return (uint32_t)id;
}

/* Bus id for a journal id the symbols file does not name: "unnamed-<id>",
 * kept apart from every named symbol, visibly. */
static uint32_t map_unnamed(struct rstate *s, uint32_t jid)
{
	if (s->un.cap) {
		uint64_t i = unnamed_find(&s->un, jid);
		if (s->un.key[i])
			return s->un.val[i];
	}
	char name[24];
	snprintf(name, sizeof(name), "unnamed-%u", jid);
	if (s->unmapped++ < REPLAY_NOTE_MAX)
		fprintf(stderr, TOOL ": warning: symbol id %u has no name in the symbols file; "
		                "replayed as %s\n", jid, name);
	else if (s->unmapped == REPLAY_NOTE_MAX + 1)
		fprintf(stderr, TOOL ": note: further unnamed symbol ids are counted, not shown\n");
	uint32_t id = intern_name(s, name);
	unnamed_put(&s->un, jid, id);
	return id;
}

/* Bus id of journal symbol id (interned on first use). Only ids the
 * symbols file names index the direct table, and those are below its own
 * table's size: an id from a damaged or hostile journal never sizes one. */
static uint32_t map_symbol(struct rstate *s, uint32_t jid)
{
	if (jid == 0)
		return 0;
	if (jid < s->map_cap && s->map[jid])
		return s->map[jid];
	const char *name = jtool_symtab_name(&s->syms, jid);
	if (!name)
		return map_unnamed(s, jid);
	if (jid >= s->map_cap) { /* jid < syms.cap, a power of two: cap stays <= it */
		uint64_t cap = s->map_cap ? s->map_cap : 1024;
		while (cap <= jid)
			cap *= 2;
		if (cap > s->syms.cap)
			cap = s->syms.cap;
		uint32_t *m = realloc(s->map, cap * sizeof(*m));
		if (!m)
			return intern_name(s, name); /* correct, uncached */
		memset(m + s->map_cap, 0, (cap - s->map_cap) * sizeof(*m));
		s->map = m;
		s->map_cap = cap;
	}
	s->map[jid] = intern_name(s, name);
	return s->map[jid];
}

/* Wait until mono time `due`: sleep to SPIN_NS before, then spin. */
static void wait_until(int64_t due)
{
	int64_t now = shmbus_mono_ns();
	if (due - now > SPIN_NS) {
		int64_t wake = due - SPIN_NS;
		struct timespec ts = {.tv_sec = wake / 1000000000, .tv_nsec = wake % 1000000000};
		while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR && !g_stop)
			;
	}
	while (shmbus_mono_ns() < due && !g_stop)
		;
}

/* Publish the gathered events, in order, in one call. */
static int publish_pending(struct rstate *s)
{
	const void *evs[REPLAY_BATCH];
	for (unsigned i = 0; i < s->pending; i++)
		evs[i] = s->batch[i];
	int rc = s->pending ? shmbus_publish_batch(s->p, evs, s->pending) : 0;
	if (rc < 0) {
		const struct shmbus_event_header *h = evs[0];
		fprintf(stderr, TOOL ": publishing failed: %s (%s; batch from source %u seq %" PRIu64
		                ")\n",
		        shmbus_strerror(rc), shmbus_errmsg(), h->source_id, h->seq);
		return 1;
	}
	s->events += s->pending;
	s->pending = 0;
	return 0;
}

/* Gather one event (marked replayed, symbol mapped to this bus); publish
 * at once when paced (`now`), else when the batch is full. */
static int publish_one(struct rstate *s, const struct shmbus_event_header *ev, bool now)
{
	struct shmbus_event_header *h = (struct shmbus_event_header *)s->batch[s->pending++];
	memcpy(h, ev, ev->size);
	h->flags = (uint8_t)((h->flags & s->keep_flags) | SHMBUS_EVF_REPLAYED);
	h->symbol_id = map_symbol(s, ev->symbol_id);
	h->publish_time_ns = 0;
	return now || s->pending == REPLAY_BATCH ? publish_pending(s) : 0;
}

/* Why the bus would refuse ev (the header checks shmbus_publish_batch
 * makes, which fail the whole batch), or NULL when it would take it. */
static const char *event_defect(const struct shmbus_event_header *ev, char *buf, size_t len)
{
	if (ev->type == SHMBUS_EV_INVALID || ev->type >= SHMBUS_MAX_TYPES)
		snprintf(buf, len, "type %u is not in 1..%d", ev->type, SHMBUS_MAX_TYPES - 1);
	else if (ev->size < sizeof(*ev) || ev->size > SHMBUS_EVENT_MAX)
		snprintf(buf, len, "size %u is not in %zu..%u", ev->size, sizeof(*ev),
		         SHMBUS_EVENT_MAX);
	else
		return NULL;
	return buf;
}

/* Count a skipped event; name the first REPLAY_NOTE_MAX. The reader does
 * not tell an event's segment and offset, so the event is located by its
 * identity, its place in the replayed range and its time. */
static void skip_event(struct rstate *s, const struct shmbus_event_header *ev, const char *why)
{
	if (s->skipped++ < REPLAY_NOTE_MAX) {
		char t[48];
		jtool_fmt_time(t, sizeof(t), ev->event_time_ns);
		fprintf(stderr,
		        TOOL ": skipping an event the bus would refuse: %s (source %u seq %" PRIu64
		             ", event %" PRIu64 " of the range, time %s)\n",
		        why, ev->source_id, ev->seq, s->read, t);
	} else if (s->skipped == REPLAY_NOTE_MAX + 1) {
		fprintf(stderr, TOOL ": note: further skipped events are counted, not shown\n");
	}
}

/* Report the held bad block, if any, as a failure of the run. */
static void tell_bad(struct rstate *s, int *ret)
{
	if (!s->bad.code)
		return;
	fprintf(stderr, TOOL ": reading the journal failed: %s (%s offset %" PRIu64 ")\n",
	        s->bad.detail, s->bad.segment, s->bad.offset);
	s->bad.code = 0;
	s->damaged++;
	*ret = 1;
}

/* 1 when the held bad block, met last, is the end of a journal still
 * being written (or a torn tail): in a segment started after open_all()
 * noted the newest one (journald rotated while the reader listed the
 * journal), or in the segment that was the newest at open, where its
 * block index still stops now, or in a file that grew. */
static int bad_is_tail(const struct ropts *o, const struct rstate *s)
{
	struct shmbus_journal_info in;
	int tail = 0;
	/* Both paths are DIR/<bus>-<20 digits>.shj: they sort as the numbers,
	 * which is write order. */
	if (s->tail_seg[0] && strcmp(s->bad.segment, s->tail_seg) > 0)
		return 1;
	if (strcmp(s->bad.segment, s->tail_seg) != 0 ||
	    shmbus_journal_info_get(o->dir, o->jbus, &in) != 0)
		return 0;
	for (size_t i = 0; i < in.n_segments; i++) {
		const struct shmbus_journal_segment_info *g = &in.segments[i];
		if (strcmp(g->path, s->bad.segment) == 0)
			tail = (g->bad && g->bad_offset == s->bad.offset) ||
			       g->file_bytes != s->tail_bytes;
	}
	shmbus_journal_info_free(&in);
	return tail;
}

static int replay(const struct ropts *o, struct rstate *s, struct shmbus_journal_reader *r,
                  int64_t *elapsed)
{
	struct shmbus_journal_error err;
	const struct shmbus_event_header *ev;
	int64_t start = 0, t0 = 0;
	int rc = 1, ret = 0;
	char why[64];
	while (!g_stop && (rc = shmbus_journal_reader_next(r, &ev, &err)) != 0) {
		tell_bad(s, &ret); /* something follows it: damage */
		if (rc == -EBADMSG) {
			s->bad = err; /* told once the iteration goes on, or at its end */
			continue;
		}
		if (rc < 0) {
			fprintf(stderr, TOOL ": reading the journal failed: %s (%s offset %" PRIu64 ")\n",
			        err.detail, err.segment, err.offset);
			s->damaged++;
			ret = 1;
			continue;
		}
		s->read++;
		if (event_defect(ev, why, sizeof(why))) {
			skip_event(s, ev, why); /* before pacing: it neither waits nor sets t0 */
			continue;
		}
		if (s->events + s->pending == 0) {
			start = shmbus_mono_ns();
			t0 = ev->event_time_ns;
		} else if (o->speed > 0) {
			int64_t due = tool_pace_target_ns(start, t0, ev->event_time_ns, o->speed);
			wait_until(due);
			if (g_stop) /* interrupted before it was due: not published */
				break;
			int64_t late = shmbus_mono_ns() - due;
			if (late > 0) {
				s->late_sum_ns += (double)late;
				s->late_max_ns = late > s->late_max_ns ? late : s->late_max_ns;
				s->late_1ms += late > 1000000;
			}
		}
		if (publish_one(s, ev, o->speed > 0))
			return 1;
	}
	s->interrupted = rc != 0; /* the loop ended before the journal did */
	if (s->bad.code && !s->interrupted && bad_is_tail(o, s)) {
		fprintf(stderr,
		        TOOL ": note: the journal ends in a block not completely written "
		             "(journald still writing it, or a torn tail its recovery cuts): "
		             "%s (%s offset %" PRIu64 "); not replayed\n",
		        s->bad.detail, s->bad.segment, s->bad.offset);
		s->bad.code = 0;
	}
	tell_bad(s, &ret);
	if (publish_pending(s))
		return 1;
	*elapsed = s->events ? shmbus_mono_ns() - start : 0;
	return ret;
}

static void summary(const struct ropts *o, const struct rstate *s, int64_t ns)
{
	double sec = (double)ns / 1e9, rate = sec > 0 ? (double)s->events / sec : 0;
	double late_mean = s->events > 1 ? s->late_sum_ns / (double)(s->events - 1) : 0;
	if (o->json)
		printf("{\"events\":%" PRIu64 ",\"elapsed_s\":%.6f,\"events_per_sec\":%.0f,"
		       "\"speed\":%g,\"late_mean_ns\":%.0f,\"late_max_ns\":%" PRId64
		       ",\"late_over_1ms\":%" PRIu64 ",\"unnamed_symbols\":%" PRIu64
		       ",\"skipped\":%" PRIu64 ",\"damaged_blocks\":%" PRIu64 ",\"interrupted\":%s}\n",
		       s->events, sec, rate, o->speed, late_mean, s->late_max_ns, s->late_1ms,
		       s->unmapped, s->skipped, s->damaged, s->interrupted ? "true" : "false");
	else
		printf(TOOL ": replayed %" PRIu64 " events in %.3f s (%.0f events/s; late mean %.0f "
		            "ns, max %" PRId64 " ns, %" PRIu64 " over 1 ms)%s\n",
		       s->events, sec, rate, late_mean, s->late_max_ns, s->late_1ms,
		       s->interrupted ? ", interrupted by a signal before the end of the journal" : "");
	if (s->unmapped > REPLAY_NOTE_MAX)
		fprintf(stderr, TOOL ": %" PRIu64 " symbol ids had no name in the symbols file\n",
		        s->unmapped);
	if (s->intern_failed > REPLAY_NOTE_MAX)
		fprintf(stderr, TOOL ": %" PRIu64 " symbol lookups failed to intern a name\n",
		        s->intern_failed);
	if (s->skipped)
		fprintf(stderr, TOOL ": skipped %" PRIu64 " malformed events of %" PRIu64
		                " read (exit status %d)\n",
		        s->skipped, s->read, REPLAY_EXIT_SKIPPED);
}

static int open_all(struct ropts *o, struct rstate *s, struct shmbus_journal_reader **r,
                    uint32_t **ids)
{
	char why[JTOOL_WHY];
	struct shmbus_journal_error err;
	struct shmbus_journal_query q;
	memset(&err, 0, sizeof(err));
	if (!o->jbus) {
		/* its --bus is the bus it publishes into */
		int rc = jtool_find_bus(o->dir, "--journal-bus", o->jbusbuf, sizeof(o->jbusbuf),
		                        why);
		if (rc)
			return open_fail(o, rc == -ENOTUNIQ ? 2 : 1, o->dir,
			                 "finding the journal bus failed: %s (%s)", why, o->dir);
		o->jbus = o->jbusbuf;
	} else if (jtool_check_bus(o->dir, o->jbus, why) < 0) {
		/* a misspelt name would otherwise replay nothing and exit 0 */
		return open_fail(o, 1, o->dir, "--journal-bus %s: %s", o->jbus, why);
	}
	if (jtool_symtab_load_bus(&s->syms, o->dir, o->jbus, why))
		return open_fail(o, 1, o->dir, "reading the symbols file failed: %s", why);
	int rc = build_query(o, s, &q, ids);
	if (rc)
		return rc;
	/* A type filter without bars or indicators can leave a bar's group
	 * without its last event (bars alone): its events must not say that
	 * more of the group follows. One with both keeps groups whole, and the
	 * flag that makes threshold compare values of one bar only. */
	const uint64_t group =
	    SHMBUS_TYPE_BIT(SHMBUS_EV_BAR) | SHMBUS_TYPE_BIT(SHMBUS_EV_INDICATOR);
	s->keep_flags =
	    (uint8_t)(q.type_mask && (q.type_mask & group) != group ? ~SHMBUS_EVF_MORE : 0xff);
	struct shmbus_journal_info in; /* before the reader's own scan: see bad_is_tail() */
	if (shmbus_journal_info_get(o->dir, o->jbus, &in) == 0) {
		if (in.n_segments) {
			const struct shmbus_journal_segment_info *g =
			    &in.segments[in.n_segments - 1];
			snprintf(s->tail_seg, sizeof(s->tail_seg), "%s", g->path);
			s->tail_bytes = g->file_bytes;
		}
		shmbus_journal_info_free(&in);
	}
	rc = shmbus_journal_reader_open(o->dir, o->jbus, 0, r, &err);
	if (!rc)
		rc = shmbus_journal_reader_seek(*r, &q);
	if (rc)
		return open_fail(o, 1, err.segment[0] ? err.segment : o->dir,
		                 "opening the journal failed: %s (%s offset %" PRIu64 ")",
		                 err.detail[0] ? err.detail : shmbus_strerror(rc),
		                 err.segment[0] ? err.segment : o->dir, err.offset);
	struct shmbus_producer_opts po;
	shmbus_producer_opts_init(&po);
	po.cancel = &g_stop; /* SIGTERM ends a wait behind a consumer that stands still */
	if ((rc = shmbus_bus_open(o->bus, TOOL, SHMBUS_ROLE_PRODUCER, &s->bus)) != 0 ||
	    (rc = shmbus_producer_open(s->bus, &po, &s->p)) != 0 ||
	    /* what it may publish: the rings that take it count replay among
	     * their feeders before its first event (shmbusctl's stop order) */
	    (rc = shmbus_producer_announce(s->p, q.type_mask ? q.type_mask : ~UINT64_C(1))) != 0) {
		return open_fail(o, 1, o->bus, "attaching failed: %s%s%s (bus %s)",
		                 shmbus_strerror(rc), *shmbus_errmsg() ? ": " : "",
		                 shmbus_errmsg(), o->bus);
	}
	struct shmbus_bus_info bi;
	s->un.lim = shmbus_stat_bus(s->bus, &bi) == 0 ? bi.max_symbols : 0;
	if (s->un.lim < UNNAMED_MIN_LIM)
		s->un.lim = UNNAMED_MIN_LIM;
	return 0;
}

int main(int argc, char **argv)
{
	if (tool_version_asked(argc, argv))
		return tool_version_print("shmbus-replay");
	struct ropts o;
	static struct rstate s;
	struct shmbus_journal_reader *r = NULL;
	uint32_t *ids = NULL;
	int64_t elapsed = 0;
	memset(&o, 0, sizeof(o));
	int rc = parse_args(argc, argv, &o);
	if (rc >= 0)
		return rc;
	tool_stop_signals(on_signal);
	rc = open_all(&o, &s, &r, &ids);
	if (rc == 0) {
		rc = replay(&o, &s, r, &elapsed);
		summary(&o, &s, elapsed);
		if (rc == 0 && s.skipped)
			rc = REPLAY_EXIT_SKIPPED;
		/* the summary is the result of the run (--json is read by
		 * scripts): one that could not be written is a failure */
		errno = 0;
		if (fflush(stdout) != 0 || ferror(stdout)) {
			fprintf(stderr, TOOL ": writing the summary failed: %s (stdout)\n",
			        errno ? strerror(errno) : "write error");
			rc = 1;
		}
	}
	if (s.p)
		shmbus_producer_close(s.p);
	if (s.bus)
		shmbus_bus_close(s.bus);
	shmbus_journal_reader_close(r);
	jtool_symtab_free(&s.syms);
	free(ids);
	free(s.map);
	free(s.un.key);
	free(s.un.val);
	return rc;
}
