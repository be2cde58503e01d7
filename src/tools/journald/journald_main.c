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
 * drain the ring, flush, write the stats, exit 0.
 * Exit codes: 0 ok, 1 runtime failure, 2 usage.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "journald.h"
#include "tool_parse.h"

static volatile sig_atomic_t g_stop;

static const char usage_text[] =
    "usage: shmbus-journald --bus NAME --dir DIR [options]\n"
    "  --ring NAME            ring to own (default journal)\n"
    "  --types LIST           event types to journal (default all)\n"
    "  --symbols LIST         symbol names to journal (default all)\n"
    "  --policy block|drop    ring full policy (default block)\n"
    "  --fsync none|interval:MS|batch   durability (default interval:100)\n"
    "  --segment-mb N         rotate segments at N MiB (default 1024)\n"
    "  --segment-age SEC      rotate when events are SEC newer than the segment start\n"
    "  --retention-age SEC    delete segments older than SEC (event time)\n"
    "  --retention-mb N       keep at most N MiB of segments\n"
    "  --direct               O_DIRECT segment files\n"
    "  --block-kb N           journal block size in KiB, a multiple of 4 (default 64)\n"
    "  --capacity N           slots of a new ring, a power of two (default 65536)\n"
    "  --flush-ms N           flush a partial block N ms after its first event (default 50)\n"
    "  --stats-json FILE      counters as JSON, rewritten every second and at exit\n"
    "  --cpus LIST            pin to these CPUs (e.g. 1 or 2-3)\n"
    "Writes DIR/<bus>-<start>.shj segments and DIR/<bus>.symbols (id,name lines).\n"
    "Every option is checked before the bus is attached or DIR is written.\n"
    "exit: 0 ok, 1 runtime failure, 2 usage\n";

static int usage_err(const char *opt, const char *why)
{
	fprintf(stderr, JD_TOOL ": %s: %s\n%s", opt, why, usage_text);
	return 2;
}

static int parse_fsync(const char *s, struct shmbus_journal_writer_opts *w, char *why)
{
	uint64_t ms;
	if (!strcmp(s, "none")) {
		w->fsync_policy = SHMBUS_JOURNAL_FSYNC_NONE;
	} else if (!strcmp(s, "batch")) {
		w->fsync_policy = SHMBUS_JOURNAL_FSYNC_BATCH;
	} else if (!strncmp(s, "interval:", 9) && !jtool_parse_u64(s + 9, 1, 3600000, &ms, why)) {
		w->fsync_policy = SHMBUS_JOURNAL_FSYNC_INTERVAL;
		w->fsync_interval_ms = (uint32_t)ms;
	} else {
		snprintf(why, JTOOL_WHY, "'%s': want none, interval:MS or batch", s);
		return -EINVAL;
	}
	return 0;
}

/* Numeric options: returns 0 or the usage exit code. */
static int parse_num(struct jd_opts *o, int c, const char *arg)
{
	char why[JTOOL_WHY];
	uint64_t v;
	const char *name = c == 'm' ? "--segment-mb" : c == 'a' ? "--segment-age"
	                 : c == 'A' ? "--retention-age" : c == 'M' ? "--retention-mb"
	                 : c == 'k' ? "--block-kb" : c == 'q' ? "--capacity" : "--flush-ms";
	uint64_t min = c == 'q' ? 2 : 1;
	uint64_t max = c == 'k' ? 16384 : c == 'q' ? (1u << 30) : UINT32_MAX;
	if (jtool_parse_u64(arg, min, max, &v, why))
		return usage_err(name, why);
	/* what the journal writer and the ring would refuse later, after the
	 * bus is attached and DIR/<bus>.symbols created, and without the flag */
	if (c == 'k' && v % 4)
		return usage_err(name, "want a multiple of 4 (whole 4 KiB pages) in 4..16384");
	if (c == 'q' && (v & (v - 1)))
		return usage_err(name, "want a power of two in 2..1073741824");
	switch (c) {
	case 'm': o->w.segment_max_bytes = v << 20; break;
	case 'a': o->w.segment_max_age_ns = (int64_t)v * 1000000000; break;
	case 'A': o->w.retention_max_age_ns = (int64_t)v * 1000000000; break;
	case 'M': o->w.retention_max_bytes = v << 20; break;
	case 'k': o->w.block_size = (uint32_t)(v << 10); break;
	case 'q': o->capacity = (uint32_t)v; break;
	default: o->flush_ns = (int64_t)v * 1000000; break;
	}
	return 0;
}

static const struct option long_opts[] = {
    {"bus", 1, 0, 'b'},         {"dir", 1, 0, 'd'},          {"ring", 1, 0, 'r'},
    {"types", 1, 0, 't'},       {"symbols", 1, 0, 's'},      {"policy", 1, 0, 'p'},
    {"fsync", 1, 0, 'f'},       {"segment-mb", 1, 0, 'm'},   {"segment-age", 1, 0, 'a'},
    {"retention-age", 1, 0, 'A'}, {"retention-mb", 1, 0, 'M'}, {"direct", 0, 0, 'D'},
    {"block-kb", 1, 0, 'k'},    {"capacity", 1, 0, 'q'},     {"flush-ms", 1, 0, 'F'},
    {"stats-json", 1, 0, 'S'},  {"cpus", 1, 0, 'c'},         {"help", 0, 0, 'h'},
    {0, 0, 0, 0}};

/* Returns -1 to go on, else the exit code. */
static int parse_args(int argc, char **argv, struct jd_opts *o)
{
	char why[JTOOL_WHY];
	int c, rc;
	o->ring = "journal";
	o->w.fsync_policy = SHMBUS_JOURNAL_FSYNC_INTERVAL;
	o->w.fsync_interval_ms = 100;
	o->flush_ns = 50000000;
	while ((c = getopt_long(argc, argv, "h", long_opts, NULL)) != -1) {
		switch (c) {
		case 'b': o->bus = optarg; break;
		case 'd': o->dir = optarg; break;
		case 'r': o->ring = optarg; break;
		case 't': o->types = optarg; break;
		case 's': o->symbols = optarg; break;
		case 'S': o->stats_json = optarg; break;
		case 'c': o->cpus = optarg; break;
		case 'D': o->w.o_direct = 1; break;
		case 'p':
			if (strcmp(optarg, "block") && strcmp(optarg, "drop"))
				return usage_err("--policy", "want block or drop");
			o->policy = optarg[0] == 'd' ? SHMBUS_POLICY_DROP : SHMBUS_POLICY_BLOCK;
			o->policy_set = 1;
			break;
		case 'f':
			if (parse_fsync(optarg, &o->w, why))
				return usage_err("--fsync", why);
			break;
		case 'h': fputs(usage_text, stdout); return 0;
		case '?': return usage_err("command line", "bad option");
		default:
			if ((rc = parse_num(o, c, optarg)) != 0)
				return rc;
		}
	}
	if (optind < argc)
		return usage_err(argv[optind], "unexpected argument");
	if (!o->bus || !o->dir)
		return usage_err("command line", "--bus and --dir are required");
	/* Lists checked here, before anything is attached or created. */
	if (o->types && tool_parse_types(o->types, &o->type_mask, why, sizeof(why)))
		return usage_err("--types", why);
	if (o->symbols) {
		rc = tool_split_list(o->symbols, &o->sym_names[0][0], sizeof(o->sym_names[0]),
		                     SHMBUS_SUB_MAX_SYMBOLS, why, sizeof(why));
		if (rc < 0)
			return usage_err("--symbols", why);
		o->n_symbols = (size_t)rc;
	}
	return -1;
}

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
	else if (!r->bytes_removed && !r->bad_header)
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
	shmbus_journal_writer_close(d->w);
	shmbus_consumer_close(d->c);
	shmbus_bus_close(d->bus);
	return 0;
}

int main(int argc, char **argv)
{
	static struct jd d; /* large: the source table */
	d.sym_fd = -1;
	d.hook_fd = -1;
	int rc = parse_args(argc, argv, &d.o);
	if (rc >= 0)
		return rc;
	char why[JTOOL_WHY];
	if (d.o.cpus && jtool_pin_cpus(d.o.cpus, why))
		return usage_err("--cpus", why);
	const char *hook = getenv("SHMBUS_JOURNALD_DURABLE_FD");
	if (hook && *hook)
		d.hook_fd = atoi(hook);
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
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
