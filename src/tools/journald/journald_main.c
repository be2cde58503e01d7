/*
 * shmbus-journald - journal every event of a ring to disk.
 *
 * An ordinary subscriber: it owns ring `--ring` (default "journal", 256-byte
 * slots so every event fits), copies each event into the journal writer
 * (io_uring, registered buffers, the chosen fsync policy) and never stops
 * draining the ring, even when the disk is full: the library counts the
 * events of failed blocks as lost and this process reports them, so
 * producers on a `block` ring never wait on the disk. When the ring goes
 * quiet a partial block is flushed after --flush-ms (50 ms): backtests want
 * the last events on disk soon, not when a 64 KiB block finally fills.
 * Once a second it heartbeats its bus participant and rewrites the stats
 * JSON (tmp + rename, so readers never see half a file). SIGTERM/SIGINT:
 * drain the ring, flush, write the stats, exit 0. Options and --config
 * files: journald_args.c.
 * Exit codes: 0 ok, 1 runtime failure, 2 usage.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "journald.h"
#include "journald_args.h"
#include "tool_proc.h"
#include "tool_version.h"

static volatile sig_atomic_t g_stop;

static void on_signal(int sig)
{
	(void)sig;
	g_stop = 1;
}

static void on_event(const struct shmbus_event_header *ev, void *ctx)
{
	struct jd *d = ctx;
	if (__builtin_expect(d->dd.active, 0) && jd_dedup_skip(d, ev))
		return; /* journaled before the last stop */
	jd_track(d, ev);
	if (shmbus_journal_writer_append(d->w, ev) != 0)
		d->append_errors++; /* malformed event: cannot happen from a ring */
}

/* Symbol names of --symbols (split by parse_args) into ids of the bus
 * (interned if new). */
static int sub_symbols(struct jd *d, uint32_t *ids, size_t *n)
{
	for (size_t i = 0; i < d->o.n_symbols; i++) {
		const char *name = d->o.sym_names[i];
		int64_t id = shmbus_symbol_intern(d->bus, name, strlen(name));
		if (id < 0) {
			fprintf(stderr, JD_TOOL ": interning symbol %s failed: %s (bus %s)\n", name,
			        shmbus_strerror((int)id), d->o.bus);
			return 1;
		}
		ids[i] = (uint32_t)id;
	}
	*n = d->o.n_symbols;
	return 0;
}

static int subscribe(struct jd *d)
{
	static uint32_t ids[SHMBUS_SUB_MAX_SYMBOLS];
	struct shmbus_sub_opts so;
	shmbus_sub_opts_init(&so);
	so.slot_size = 256;
	so.capacity = d->o.capacity ? d->o.capacity : 65536;
	so.policy = d->o.policy;
	if (d->o.types)
		so.types = d->o.type_mask; /* checked by parse_args */
	if (d->o.symbols) {
		int rc = sub_symbols(d, ids, &so.nsymbols);
		if (rc)
			return rc;
		so.symbols = ids;
	}
	int idx = shmbus_stat_find_ring(d->bus, d->o.ring);
	struct shmbus_ring_stat rs;
	const struct shmbus_sub_opts *op = &so;
	if (idx >= 0 && shmbus_stat_ring(d->bus, (uint32_t)idx, &rs) == 0) {
		/* an existing (declared or previous) ring keeps its geometry, and
		 * everything else unless the command line says otherwise */
		so.capacity = rs.capacity;
		so.slot_size = rs.slot_size;
		if (!d->o.types && !d->o.symbols && !d->o.policy_set)
			op = NULL;
		if (rs.slot_size < SHMBUS_EVENT_MAX + 8)
			fprintf(stderr, JD_TOOL ": warning: ring %s has %u-byte slots: larger events "
			                "never reach it (counted as too_big)\n", d->o.ring, rs.slot_size);
	}
	int rc = shmbus_subscribe(d->bus, d->o.ring, op, &d->c);
	if (rc) {
		fprintf(stderr, JD_TOOL ": subscribing failed: %s%s%s (ring %s on bus %s)\n",
		        shmbus_strerror(rc), *shmbus_errmsg() ? ": " : "", shmbus_errmsg(), d->o.ring,
		        d->o.bus);
		return 1;
	}
	d->ring_index = shmbus_consumer_ring(d->c);
	return 0;
}

static void print_recovery(const struct jd *d, const struct shmbus_journal_recovery *r)
{
	if (!r->segment[0])
		printf(JD_TOOL ": recovery: no previous segment of bus %s in %s\n", d->o.bus, d->o.dir);
	else if (r->damaged_kept)
		printf(JD_TOOL ": recovery: %s: damaged block at offset %" PRIu64 " (%s) with %" PRIu64
		       " valid blocks (%" PRIu64 " events) around it: left as is, readers skip the "
		       "damaged block\n",
		       r->segment, r->damaged_offset, r->detail, r->blocks_kept, r->events_kept);
	else if (!r->bytes_removed && !r->bad_header && !r->removed_file)
		printf(JD_TOOL ": recovery: %s intact: %" PRIu64 " blocks, %" PRIu64 " events\n",
		       r->segment, r->blocks_kept, r->events_kept);
	else
		printf(JD_TOOL ": recovery: %s: kept %" PRIu64 " blocks (%" PRIu64
		       " events), removed %" PRIu64 " torn bytes at offset %" PRIu64 "%s%s: %s\n",
		       r->segment, r->blocks_kept, r->events_kept, r->bytes_removed, r->torn_offset,
		       r->removed_file ? " (file deleted)" : "",
		       r->bad_header ? " (bad header left as is)" : "", r->detail);
	fflush(stdout);
}

static int open_all(struct jd *d)
{
	struct shmbus_journal_recovery rec;
	struct shmbus_journal_error err;
	memset(&rec, 0, sizeof(rec));
	memset(&err, 0, sizeof(err));
	int rc = shmbus_bus_open(d->o.bus, JD_TOOL, SHMBUS_ROLE_CONSUMER, &d->bus);
	if (rc) {
		fprintf(stderr, JD_TOOL ": attaching failed: %s%s%s (bus %s)\n", shmbus_strerror(rc),
		        *shmbus_errmsg() ? ": " : "", shmbus_errmsg(), d->o.bus);
		return 1;
	}
	struct shmbus_bus_info info;
	if ((rc = shmbus_stat_bus(d->bus, &info)) != 0) {
		fprintf(stderr, JD_TOOL ": bus %s: %s\n", d->o.bus, shmbus_errmsg());
		return 1;
	}
	d->max_symbols = info.max_symbols;
	rc = shmbus_journal_writer_open(d->o.dir, d->o.bus, &d->o.w, &d->w, &rec, &err);
	if (rc) {
		fprintf(stderr, JD_TOOL ": opening the journal failed: %s (%s offset %" PRIu64 ")\n",
		        err.detail[0] ? err.detail : shmbus_strerror(rc),
		        err.segment[0] ? err.segment : d->o.dir, err.offset);
		return 1;
	}
	print_recovery(d, &rec);
	if (jd_symbols_open(d))
		return 1;
	if ((rc = subscribe(d)) != 0)
		return rc;
	jd_dedup_load(d);
	jd_release_init(d);
	jd_define_counters(d);
	struct shmbus_journal_writer_stats st;
	shmbus_journal_writer_stats_get(d->w, &st);
	printf(JD_TOOL ": journaling ring %s of bus %s into %s (%s, fsync %s)\n", d->o.ring,
	       d->o.bus, d->o.dir, st.io_path == SHMBUS_JOURNAL_IO_URING ? "io_uring" : "pwrite",
	       d->o.w.fsync_policy == SHMBUS_JOURNAL_FSYNC_NONE    ? "none"
	       : d->o.w.fsync_policy == SHMBUS_JOURNAL_FSYNC_BATCH ? "batch"
	                                                           : "interval");
	fflush(stdout);
	return 0;
}

/* Drain, flush, heartbeat and write stats until a signal. */
static int run(struct jd *d)
{
	int64_t now = shmbus_mono_ns(), dirty_since = 0, next_sec = now + 1000000000;
	while (!g_stop) {
		int n = shmbus_poll(d->c, on_event, d, 4096);
		if (n < 0) {
			fprintf(stderr, "shmbus-journald: %s\n", shmbus_errmsg());
			return 1;
		}
		now = shmbus_mono_ns();
		if (n > 0) {
			jd_release_note(d);
			if (!dirty_since)
				dirty_since = now;
		}
		int rc = shmbus_journal_writer_poll(d->w);
		if (dirty_since && (now - dirty_since >= d->o.flush_ns || jd_release_pressing(d))) {
			int frc = shmbus_journal_writer_flush(d->w);
			rc = rc ? rc : frc;
			dirty_since = 0;
		}
		jd_release_done(d);
		jd_durable_check(d);
		if (rc)
			jd_report_errors(d, rc, 0);
		if (now >= next_sec) {
			shmbus_bus_heartbeat(d->bus);
			jd_publish_counters(d);
			jd_write_stats(d, 1);
			jd_report_errors(d, 0, 0);
			jd_symbols_retry(d);
			next_sec = now + 1000000000;
		}
		if (n == 0) {
			int64_t t = dirty_since ? dirty_since + d->o.flush_ns - now : 100000000;
			shmbus_wait(d->c, t > 0 ? t : 0);
		}
	}
	return 0;
}

/* After a signal: take what the ring holds now (bounded: producers may
 * never stop), then flush everything. */
static int shutdown_all(struct jd *d)
{
	int64_t until = shmbus_mono_ns() + 2000000000;
	while (shmbus_poll(d->c, on_event, d, 4096) > 0 && shmbus_mono_ns() < until) {
		jd_release_note(d);
		shmbus_journal_writer_poll(d->w);
		if (jd_release_pressing(d))
			shmbus_journal_writer_flush(d->w);
		jd_release_done(d);
	}
	int rc = shmbus_journal_writer_flush(d->w);
	jd_release_done(d);
	jd_durable_check(d);
	if (rc)
		jd_report_errors(d, rc, 1);
	jd_report_errors(d, 0, 1);
	jd_symbols_retry(d);
	if (d->sym_fd >= 0) {
		fdatasync(d->sym_fd);
		close(d->sym_fd);
	}
	jd_publish_counters(d);
	jd_write_stats(d, 0);
	struct shmbus_journal_writer_stats st;
	shmbus_journal_writer_stats_get(d->w, &st);
	printf(JD_TOOL ": stopped: %" PRIu64 " events, %" PRIu64 " blocks, %" PRIu64
	       " durable, %" PRIu64 " lost, %" PRIu64 " write errors\n",
	       st.events, st.blocks, st.events_durable, st.events_lost, st.write_errors);
	/* Out now, not at exit: a log that ends before this line then says
	 * the shutdown itself stalled, not what runs after it. */
	fflush(stdout);
	shmbus_journal_writer_close(d->w);
	shmbus_consumer_close(d->c);
	shmbus_bus_close(d->bus);
	return 0;
}

int main(int argc, char **argv)
{
	if (tool_version_asked(argc, argv))
		return tool_version_print("shmbus-journald");
	static struct jd d; /* large: the source table */
	d.sym_fd = -1;
	d.hook_fd = -1;
	int rc = jd_parse_args(argc, argv, &d.o);
	if (rc >= 0)
		return rc;
	char why[JTOOL_WHY];
	if (d.o.cpus && jtool_pin_cpus(d.o.cpus, why))
		return jd_usage_err("--cpus", why, NULL);
	const char *hook = getenv("SHMBUS_JOURNALD_DURABLE_FD");
	if (hook && *hook)
		d.hook_fd = atoi(hook);
	tool_stop_signals(on_signal);
	if ((rc = open_all(&d)) != 0) {
		shmbus_journal_writer_close(d.w);
		if (d.bus)
			shmbus_bus_close(d.bus);
		return rc;
	}
	jd_write_stats(&d, 1);
	int ring_rc = run(&d);
	rc = shutdown_all(&d);
	return rc ? rc : ring_rc;
}
