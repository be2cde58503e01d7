/*
 * journald_track.c - what shmbus-journald keeps next to the journal: the
 * symbols file, the durable sequence per source, the stats JSON file and
 * the error reports.
 *
 * Sources arrive in runs, so the per-event cost is one compare against
 * the previous event's source; a hash look-up runs only when the source
 * changes. They are not few: the default source id is the pid, so a
 * long-lived journaller meets one per producer process ever started. The
 * table grows on demand (a fixed one of 4096 dropped every later source
 * from the durable list without a word) up to JD_MAX_SOURCES, and the
 * stats JSON lists at most JD_STATS_SOURCES, saying how many it left out. Symbol ids are dense
 * and small, so "already named in the symbols file" is one byte per id.
 * A new symbol line is written at once (it survives a crash of this
 * process) and fdatasync'ed as soon as the writer reports more events
 * durable, so a durable block never names an id that a power loss could
 * take away from the symbols file for longer than that window. A line
 * that cannot be written (full disk) is cut back to the last whole line,
 * so that no torn line ends up in the middle of the file, and written
 * again once a second until it succeeds: the id was marked as named
 * before the write, so a full disk at a symbol's first event left it
 * unnamed for the life of the process (cat printed "#id", replay
 * "unnamed-id", --symbols NAME matched nothing) even after space returned.
 *
 * Test hook: with SHMBUS_JOURNALD_DURABLE_FD=N in the environment, every
 * advance of a source's durable seq is written to fd N as "source seq\n"
 * right after the writer declared it durable. Crash tests read that to
 * know exactly what must survive a SIGKILL.
 */
#define _GNU_SOURCE
#include "journald.h"
#include "tool_json.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Home slot of id in the index (slot_cap a power of two): the murmur3
 * finaliser, as ids are often consecutive pids. */
static uint32_t jd_source_hash(uint32_t id, uint32_t cap)
{
	id ^= id >> 16;
	id *= 0x85ebca6bu;
	id ^= id >> 13;
	id *= 0xc2b2ae35u;
	id ^= id >> 16;
	return id & (cap - 1);
}

/* Slot of id in the index, or the empty slot where it would go (the
 * index is at most half full, so the probe ends). */
static uint32_t jd_source_slot(const struct jd *d, uint32_t id)
{
	uint32_t i = jd_source_hash(id, d->slot_cap);
	while (d->src_slot[i] != 0 && d->src[d->src_slot[i] - 1].id != id)
		i = (i + 1) & (d->slot_cap - 1);
	return i;
}

/* Room for one more source: grow the array and, past half full, the
 * index (rehashed). 0, -ENOMEM or -ENOSPC (JD_MAX_SOURCES). */
static int jd_source_room(struct jd *d)
{
	if (d->nsrc >= JD_MAX_SOURCES)
		return -ENOSPC;
	if (d->nsrc == d->src_cap) {
		uint32_t cap = d->src_cap ? d->src_cap * 2 : 64;
		struct jd_source *n = realloc(d->src, cap * sizeof(*n));
		if (!n)
			return -ENOMEM;
		d->src = n;
		d->src_cap = cap;
	}
	if ((uint64_t)(d->nsrc + 1) * 2 > d->slot_cap) {
		uint32_t cap = d->slot_cap ? d->slot_cap * 2 : 128;
		uint32_t *slot = calloc(cap, sizeof(*slot));
		if (!slot)
			return -ENOMEM;
		free(d->src_slot);
		d->src_slot = slot;
		d->slot_cap = cap;
		for (uint32_t k = 0; k < d->nsrc; k++)
			d->src_slot[jd_source_slot(d, d->src[k].id)] = k + 1;
	}
	return 0;
}

static void jd_source_add(struct jd *d, uint32_t id)
{
	uint32_t i = d->slot_cap ? jd_source_slot(d, id) : 0;
	if (d->slot_cap && d->src_slot[i] != 0) {
		d->last_src = d->src_slot[i] - 1;
		return;
	}
	int rc = jd_source_room(d);
	if (rc) { /* still journaled; its durable seq is just not listed */
		if (d->untracked++ == 0)
			fprintf(stderr,
			        JD_TOOL ": warning: cannot track source %u: %s (%u sources "
			                "tracked, at most %u): the durable seqs of it and of any "
			                "later new source are left out of the stats (its events "
			                "are journaled; counted in untracked_events)\n",
			        id, rc == -ENOSPC ? "too many sources" : strerror(-rc), d->nsrc,
			        JD_MAX_SOURCES);
		return;
	}
	d->src[d->nsrc] = (struct jd_source){.id = id};
	d->src_slot[jd_source_slot(d, id)] = d->nsrc + 1;
	d->last_src = d->nsrc++;
}

/* Append "id,name" for id unless the file already names it so. Returns 0,
 * or -errno when the line could not be written whole (it is then cut
 * back, and said on stderr the first time). */
static int jd_symbol_write(struct jd *d, uint32_t id)
{
	char name[SHMBUS_SYMBOL_MAX + 8], line[64];
	if (shmbus_symbol_name(d->bus, id, name, sizeof(name)) < 0)
		return 0; /* not interned in this bus: nothing to name */
	const char *had = jtool_symtab_name(&d->known, id);
	if (had && !strcmp(had, name))
		return 0;
	if (d->sym_fd < 0)
		return 0; /* no symbols file (not opened): nothing to retry */
	int n = snprintf(line, sizeof(line), "%u,%s\n", id, name);
	ssize_t w = write(d->sym_fd, line, (size_t)n);
	if (w == n) {
		d->sym_size += (uint64_t)n;
		jtool_symtab_set(&d->known, id, name);
		d->sym_dirty = 1;
		return 0;
	}
	int rc = w < 0 ? -errno : -ENOSPC;
	/* a torn line followed by the next one would make one bad line */
	if (w > 0 && ftruncate(d->sym_fd, (off_t)d->sym_size) < 0)
		fprintf(stderr, JD_TOOL ": cutting a torn symbols line failed: %s\n",
		        strerror(errno));
	if (d->sym_failed++ == 0)
		fprintf(stderr,
		        JD_TOOL ": warning: naming symbol %u (%s) in the symbols file failed: %s; "
		                "retried every second (its events are journaled)\n",
		        id, name, strerror(-rc));
	return rc;
}

void jd_symbols_retry(struct jd *d)
{
	if (!d->sym_pending)
		return;
	d->sym_pending = 0;
	for (uint32_t id = 1; id < d->sym_cap; id++) {
		if (d->sym_seen[id] != 2)
			continue;
		if (jd_symbol_write(d, id) != 0) {
			d->sym_pending = 1; /* still failing: the next try is in a second */
			return;
		}
		d->sym_seen[id] = 1;
	}
	fprintf(stderr, JD_TOOL ": symbols file: every name written (after %" PRIu64
	                " failed tries)\n", d->sym_failed);
	d->sym_failed = 0;
}

/* First event of symbol id: name it in the symbols file. */
static void jd_symbol_new(struct jd *d, uint32_t id)
{
	if (id >= d->sym_cap) {
		uint32_t cap = d->sym_cap ? d->sym_cap : 4096;
		while (cap <= id)
			cap *= 2;
		uint8_t *n = realloc(d->sym_seen, cap);
		if (!n)
			return; /* retried with the next event of this id */
		memset(n + d->sym_cap, 0, cap - d->sym_cap);
		d->sym_seen = n;
		d->sym_cap = cap;
	}
	d->sym_seen[id] = 1;
	if (jd_symbol_write(d, id) != 0) {
		d->sym_seen[id] = 2; /* jd_symbols_retry() writes it later */
		d->sym_pending = 1;
	}
}

void jd_track(struct jd *d, const struct shmbus_event_header *ev)
{
	if (d->nsrc == 0 || d->src[d->last_src].id != ev->source_id)
		jd_source_add(d, ev->source_id);
	uint32_t sym = ev->symbol_id;
	/* Ids past the bus's table name nothing (the event is still journaled):
	 * taking them would size the seen-table by whatever a producer wrote. */
	if (sym && sym <= d->max_symbols && (sym >= d->sym_cap || !d->sym_seen[sym]))
		jd_symbol_new(d, sym);
}

/* Cut a torn last line (no newline) left by a crash mid-write. */
static int jd_symbols_cut_torn(int fd, const char *path)
{
	struct stat sb;
	if (fstat(fd, &sb) < 0 || sb.st_size == 0)
		return 0;
	off_t end = sb.st_size;
	char c;
	while (end > 0 && pread(fd, &c, 1, end - 1) == 1 && c != '\n')
		end--;
	if (end != sb.st_size) {
		fprintf(stderr, JD_TOOL ": recovery: cut a torn line of %lld bytes (%s)\n",
		        (long long)(sb.st_size - end), path);
		if (ftruncate(fd, end) < 0)
			return -errno;
	}
	return 0;
}

int jd_symbols_open(struct jd *d)
{
	char path[1024], why[JTOOL_WHY];
	if (jtool_symbols_path(d->o.dir, d->o.bus, path, sizeof(path))) {
		fprintf(stderr, JD_TOOL ": symbols file path too long (%s)\n", d->o.dir);
		return -ENAMETOOLONG;
	}
	d->sym_fd = open(path, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	int rc = d->sym_fd < 0 ? -errno : jd_symbols_cut_torn(d->sym_fd, path);
	if (rc) {
		fprintf(stderr, JD_TOOL ": opening the symbols file failed: %s (%s)\n",
		        strerror(-rc), path);
		return rc;
	}
	struct stat sb;
	d->sym_size = fstat(d->sym_fd, &sb) == 0 ? (uint64_t)sb.st_size : 0;
	rc = jtool_symtab_load(&d->known, path, why);
	if (rc) /* a bad line: keep appending; readers report it */
		fprintf(stderr, JD_TOOL ": warning: %s\n", why);
	return 0;
}

static void jd_hook_report(struct jd *d)
{
	char buf[8192];
	size_t n = 0;
	for (uint32_t i = 0; i < d->nsrc; i++) {
		uint64_t seq;
		if (shmbus_journal_writer_durable_seq(d->w, d->src[i].id, &seq) ||
		    seq == d->src[i].reported)
			continue;
		d->src[i].reported = seq;
		n += (size_t)snprintf(buf + n, sizeof(buf) - n, "%u %" PRIu64 "\n", d->src[i].id,
		                      seq);
		if (n > sizeof(buf) - 64 || i + 1 == d->nsrc) {
			if (write(d->hook_fd, buf, n) < 0)
				d->hook_fd = -1;
			n = 0;
		}
	}
	if (n && d->hook_fd >= 0 && write(d->hook_fd, buf, n) < 0)
		d->hook_fd = -1;
}

void jd_durable_check(struct jd *d)
{
	struct shmbus_journal_writer_stats st;
	shmbus_journal_writer_stats_get(d->w, &st);
	if (st.events_durable == d->durable_seen)
		return;
	d->durable_seen = st.events_durable;
	if (d->sym_dirty && d->sym_fd >= 0) {
		fdatasync(d->sym_fd);
		d->sym_dirty = 0;
	}
	if (d->hook_fd >= 0)
		jd_hook_report(d);
}

static const char *jd_fsync_name(const struct shmbus_journal_writer_opts *w)
{
	return w->fsync_policy == SHMBUS_JOURNAL_FSYNC_NONE    ? "none"
	       : w->fsync_policy == SHMBUS_JOURNAL_FSYNC_BATCH ? "batch"
	                                                       : "interval";
}

static size_t jd_stats_ring(struct jd *d, char *b, size_t len)
{
	struct shmbus_ring_stat rs;
	if (shmbus_stat_ring(d->bus, d->ring_index, &rs))
		return 0;
	return (size_t)snprintf(b, len,
	                        ",\"ring_depth\":%" PRIu64 ",\"ring_dropped\":%" PRIu64
	                        ",\"ring_delivered\":%" PRIu64 ",\"ring_too_big\":%" PRIu64
	                        ",\"ring_routed_around\":%" PRIu64 ",\"duplicates_skipped\":%" PRIu64,
	                        rs.depth, rs.dropped, rs.delivered, rs.too_big, rs.routed_around,
	                        d->dd.skipped);
}

/* The writer's counters as named bus counters, for shmbus-stat. */
static const char *const jd_counter_names[] = {
	"events",  "bytes", "blocks",   "disk_bytes", "durable", "fsyncs",
	"errors",  "lost",  "inflight", "segments",   "last_errno",
};

void jd_define_counters(struct jd *d)
{
	if (shmbus_counters_define(d->bus, jd_counter_names,
				   sizeof(jd_counter_names) / sizeof(jd_counter_names[0])) != 0)
		fprintf(stderr, JD_TOOL ": counters: %s\n", shmbus_errmsg());
}

void jd_publish_counters(struct jd *d)
{
	struct shmbus_journal_writer_stats st;
	shmbus_journal_writer_stats_get(d->w, &st);
	const uint64_t v[] = {st.events,         st.bytes,        st.blocks,   st.disk_bytes,
			      st.events_durable, st.fsyncs,       st.write_errors,
			      st.events_lost,    st.inflight,     st.segments_created,
			      (uint64_t)(st.last_error < 0 ? -st.last_error : st.last_error)};
	for (unsigned i = 0; i < sizeof(v) / sizeof(v[0]); i++)
		shmbus_counter_set(d->bus, i, v[i]);
}

void jd_write_stats(struct jd *d, int running)
{
	if (!d->o.stats_json)
		return;
	/* The counters take < 2 KiB besides the names; 64 bytes hold the
	 * longest {"source_id":..,"seq":..}, */
	static char small[16384];
	uint32_t listed = d->nsrc < JD_STATS_SOURCES ? d->nsrc : JD_STATS_SOURCES;
	/* Bus and ring are checked names; DIR is any path: escaped, or a '"'
	 * in it would end the string. */
	char *dir = NULL;
	size_t dir_len = 0;
	FILE *df = open_memstream(&dir, &dir_len);
	if (df) {
		tool_json_str(df, d->o.dir);
		if (fclose(df) != 0) {
			free(dir);
			dir = NULL;
		}
	}
	size_t cap = 2048 + strlen(d->o.bus) + strlen(d->o.ring) + (dir ? strlen(dir) : 0) +
	             (size_t)listed * 64;
	char *b = malloc(cap);
	if (!b) { /* the counters still go out; the list is said to be left out */
		b = small;
		cap = sizeof(small);
		listed = 0;
	}
	struct shmbus_journal_writer_stats st;
	shmbus_journal_writer_stats_get(d->w, &st);
	size_t n = (size_t)snprintf(
	    b, cap,
	    "{\"tool\":\"" JD_TOOL "\",\"pid\":%d,\"running\":%s,\"time_ns\":%" PRId64
	    ",\"bus\":\"%s\",\"ring\":\"%s\",\"dir\":%s,\"fsync\":\"%s\",\"io_path\":\"%s\","
	    "\"o_direct\":%d,\"events\":%" PRIu64 ",\"bytes\":%" PRIu64 ",\"blocks\":%" PRIu64
	    ",\"disk_bytes\":%" PRIu64 ",\"inflight\":%u,\"events_durable\":%" PRIu64
	    ",\"fsyncs\":%" PRIu64 ",\"errors\":%" PRIu64 ",\"lost\":%" PRIu64
	    ",\"last_error\":%d,\"last_error_text\":\"%s\",\"segments_created\":%" PRIu64
	    ",\"segments_deleted\":%" PRIu64,
	    (int)getpid(), running ? "true" : "false", shmbus_now_ns(), d->o.bus, d->o.ring,
	    dir ? dir : "null", jd_fsync_name(&d->o.w),
	    st.io_path == SHMBUS_JOURNAL_IO_URING ? "io_uring" : "pwrite", st.o_direct, st.events,
	    st.bytes, st.blocks, st.disk_bytes, st.inflight, st.events_durable, st.fsyncs,
	    st.write_errors + d->append_errors, st.events_lost, st.last_error,
	    st.last_error ? strerror(-st.last_error) : "", st.segments_created,
	    st.segments_deleted);
	n = n < cap ? n : cap - 1; /* never past b, even if a name outgrew small */
	n += jd_stats_ring(d, b + n, cap - n);
	n = n < cap ? n : cap - 1;
	/* The sources, in order of arrival: the first `listed`; the others
	 * are counted in durable_omitted, never cut without a word. */
	n += (size_t)snprintf(b + n, cap - n,
	                      ",\"sources\":%u,\"durable_omitted\":%u,\"untracked_events\":%" PRIu64
	                      ",\"durable\":[",
	                      d->nsrc, d->nsrc - listed, d->untracked);
	for (uint32_t i = 0, k = 0; i < listed && n < cap; i++) {
		uint64_t seq;
		if (shmbus_journal_writer_durable_seq(d->w, d->src[i].id, &seq) == 0)
			n += (size_t)snprintf(b + n, cap - n,
			                      "%s{\"source_id\":%u,\"seq\":%" PRIu64 "}", k++ ? "," : "",
			                      d->src[i].id, seq);
	}
	n = n < cap ? n : cap - 1;
	n += (size_t)snprintf(b + n, cap - n, "]}\n");
	n = n < cap ? n : cap - 1;
	int rc = jtool_write_atomic(d->o.stats_json, b, n);
	if (b != small)
		free(b);
	free(dir);
	/* Once a second: a folder that went away must not fill the log with
	 * the same line; said when it starts failing and when it works again. */
	if (rc && !d->stats_failing)
		fprintf(stderr, JD_TOOL ": writing stats failed: %s (%s)\n", strerror(-rc),
		        d->o.stats_json);
	else if (!rc && d->stats_failing)
		fprintf(stderr, JD_TOOL ": stats written again (%s)\n", d->o.stats_json);
	d->stats_failing = rc != 0;
}

void jd_report_errors(struct jd *d, int rc, int force)
{
	struct shmbus_journal_writer_stats st;
	int64_t now = shmbus_mono_ns();
	if (rc)
		d->reported_err = d->reported_err ? d->reported_err : rc;
	if (!force && now - d->last_err_print_ns < 1000000000)
		return;
	shmbus_journal_writer_stats_get(d->w, &st);
	if (!d->reported_err && st.events_lost == d->lost_printed)
		return;
	fprintf(stderr,
	        JD_TOOL ": journal write failed: %s (%s); %" PRIu64 " write errors, %" PRIu64
	                " events lost so far; still draining ring %s\n",
	        strerror(-(d->reported_err ? d->reported_err : st.last_error)), d->o.dir,
	        st.write_errors, st.events_lost, d->o.ring);
	d->reported_err = 0;
	d->lost_printed = st.events_lost;
	d->last_err_print_ns = now;
}
