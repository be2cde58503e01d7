/*
 * shmbus-journal-bench - journal write and read throughput next to the
 * disk's own sequential write bandwidth.
 *
 * Write: N 64-byte events appended by one thread to a fresh journal
 * under each fsync policy (none, interval:100, batch; optionally O_DIRECT),
 * timed from open to close (the close flushes and, except for `none`,
 * fdatasyncs, so every event is durable under its policy when the clock
 * stops). Read: every event of the `none` journal iterated with the reader
 * while the segments are in the page cache. Disk: fio, sequential 1 MiB
 * O_DIRECT writes with the io_uring engine in the same directory, run in
 * the same invocation so the figures are comparable. Prints the machine,
 * the command and the raw figures; asserts nothing (a benchmark).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <shmbus/clock.h>
#include <shmbus/journal.h>

#include "tool_version.h"

struct jb_opts {
	const char *dir;
	uint64_t events;
	unsigned fio_mb;
	int no_fio, direct, json;
};

struct jb_result {
	const char *name;
	uint64_t events, bytes, disk_bytes, lost;
	double sec;
};

static void jb_rm_journal(const char *dir)
{
	char cmd[1200];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "shmbus-journal-bench: cleaning %s failed\n", dir);
}

static void jb_rm_journal_named(const struct jb_opts *o, const char *name)
{
	char dir[1100];
	snprintf(dir, sizeof(dir), "%s/%s", o->dir, name);
	jb_rm_journal(dir);
}

/* Remove every journal a run writes (those it did not are no error). */
static void jb_cleanup(const struct jb_opts *o)
{
	static const char *const names[] = {"warmup", "none", "interval:100", "batch",
	                                    "none+direct"};

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		jb_rm_journal_named(o, names[i]);
}

/* Append n 64-byte user events; time open..close. -1 when it could not
 * run (*r unset), else 0. */
static int jb_write(const struct jb_opts *o, const char *name, enum shmbus_journal_fsync pol,
                    int direct, uint64_t n, struct jb_result *r)
{
	char dir[1024];
	snprintf(dir, sizeof(dir), "%s/%s", o->dir, name);
	jb_rm_journal(dir);
	struct shmbus_journal_writer_opts wo;
	memset(&wo, 0, sizeof(wo));
	wo.fsync_policy = pol;
	wo.fsync_interval_ms = 100;
	wo.o_direct = direct;
	wo.block_size = 1u << 20; /* big blocks: fewer syscalls and fsyncs */
	wo.queue_depth = 16;
	_Alignas(8) uint8_t ev[64];
	memset(ev, 0x5a, sizeof(ev));
	struct shmbus_event_header *h = (struct shmbus_event_header *)ev;
	h->type = 40;
	h->version = 1;
	h->size = 64;
	h->source_id = 1;
	h->symbol_id = 1;
	struct shmbus_journal_writer *w;
	struct shmbus_journal_error err;
	int64_t t0 = shmbus_mono_ns();
	int rc = shmbus_journal_writer_open(dir, "bench", &wo, &w, NULL, &err);
	if (rc) {
		fprintf(stderr, "shmbus-journal-bench: open failed: %s (%s)\n", err.detail, dir);
		return -1;
	}
	for (uint64_t i = 1; i <= n; i++) {
		h->seq = i;
		h->event_time_ns = 1700000000000000000ll + (int64_t)i * 100;
		shmbus_journal_writer_append(w, h);
	}
	struct shmbus_journal_writer_stats st;
	shmbus_journal_writer_flush(w);
	shmbus_journal_writer_stats_get(w, &st);
	shmbus_journal_writer_close(w);
	*r = (struct jb_result){.name = name, .events = n, .bytes = n * 64,
	                        .disk_bytes = st.disk_bytes, .lost = st.events_lost,
	                        .sec = (double)(shmbus_mono_ns() - t0) / 1e9};
	return 0;
}

/* Iterate the `none` journal: -1 when it could not be read (*r unset), 1
 * when the events read back wrong, else 0. */
static int jb_read(const struct jb_opts *o, struct jb_result *r)
{
	char dir[1024];
	snprintf(dir, sizeof(dir), "%s/none", o->dir);
	struct shmbus_journal_reader *rd;
	struct shmbus_journal_error err;
	struct shmbus_journal_query q;
	const struct shmbus_event_header *ev;
	uint64_t n = 0, sum = 0;
	int64_t t0 = shmbus_mono_ns();
	if (shmbus_journal_reader_open(dir, "bench", 0, &rd, &err)) {
		fprintf(stderr, "shmbus-journal-bench: read failed: %s (%s)\n", err.detail, dir);
		return -1;
	}
	shmbus_journal_query_init(&q);
	shmbus_journal_reader_seek(rd, &q);
	while (shmbus_journal_reader_next(rd, &ev, &err) == 1) {
		n++;
		sum += ev->seq; /* touch the event */
	}
	shmbus_journal_reader_close(rd);
	*r = (struct jb_result){.name = "read (page cache)", .events = n, .bytes = n * 64,
	                        .sec = (double)(shmbus_mono_ns() - t0) / 1e9};
	return sum == n * (n + 1) / 2 ? 0 : 1;
}

/* fio sequential write bandwidth in bytes/s (0 when fio failed). */
static double jb_fio(const struct jb_opts *o, char *cmd, size_t len)
{
	snprintf(cmd, len,
	         "fio --name=seq --rw=write --bs=1M --size=%uM --ioengine=io_uring --direct=1 "
	         "--filename=%s/fio.tmp --output-format=json",
	         o->fio_mb, o->dir);
	char full[1400];
	snprintf(full, sizeof(full), "%s 2>/dev/null", cmd);
	FILE *f = popen(full, "r");
	if (!f)
		return 0;
	static char out[1 << 16];
	size_t n = fread(out, 1, sizeof(out) - 1, f);
	out[n] = '\0';
	pclose(f);
	char path[1100];
	snprintf(path, sizeof(path), "%s/fio.tmp", o->dir);
	unlink(path);
	const char *w = strstr(out, "\"write\" : {"); /* not "rw" : "write" */
	const char *b = w ? strstr(w, "\"bw_bytes\"") : NULL;
	b = b ? strchr(b + 10, ':') : NULL; /* fio writes "bw_bytes" : N */
	return b ? strtod(b + 1, NULL) : 0;
}

static void jb_print(const struct jb_result *r, double fio_bw, int json, int first)
{
	double eps = (double)r->events / r->sec, mbs = (double)r->bytes / r->sec / 1e6;
	double disk = (double)r->disk_bytes / r->sec;
	if (json) {
		printf("%s{\"name\":\"%s\",\"events\":%" PRIu64 ",\"seconds\":%.4f,"
		       "\"events_per_sec\":%.0f,\"event_mb_per_sec\":%.1f,\"disk_mb_per_sec\":%.1f,"
		       "\"vs_fio\":%.3f,\"lost\":%" PRIu64 "}",
		       first ? "" : ",", r->name, r->events, r->sec, eps, mbs, disk / 1e6,
		       fio_bw > 0 ? disk / fio_bw : 0, r->lost);
		return;
	}
	printf("%-22s %12" PRIu64 " events %8.3f s %12.0f events/s %9.1f MB/s", r->name, r->events,
	       r->sec, eps, mbs);
	if (r->disk_bytes)
		printf("  disk %8.1f MB/s (%.2fx fio)", disk / 1e6, fio_bw > 0 ? disk / fio_bw : 0);
	printf("\n");
}

static void jb_machine(int argc, char **argv)
{
	struct utsname u;
	uname(&u);
	char model[128] = "?", line[256];
	FILE *f = fopen("/proc/cpuinfo", "r");
	while (f && fgets(line, sizeof(line), f))
		if (!strncmp(line, "model name", 10)) {
			snprintf(model, sizeof(model), "%s", strchr(line, ':') + 2);
			model[strcspn(model, "\n")] = '\0';
			break;
		}
	if (f)
		fclose(f);
	printf("# machine: %s %s, %ld CPUs, %s\n# command:", u.sysname, u.release,
	       sysconf(_SC_NPROCESSORS_ONLN), model);
	for (int i = 0; i < argc; i++)
		printf(" %s", argv[i]);
	printf("\n");
}

/* A whole decimal number in 1..hi; strtoull alone took "10M" for 10 and
 * "abc" for 0. 0 or -1 (said on stderr). */
static int jb_number(const char *name, const char *arg, uint64_t hi, uint64_t *out)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(arg, &end, 10);
	if (arg[0] < '0' || arg[0] > '9' || *end != '\0' || errno || v < 1 || v > hi) {
		fprintf(stderr, "shmbus-journal-bench: --%s: '%s' is not a number in 1..%llu\n",
		        name, arg, (unsigned long long)hi);
		return -1;
	}
	*out = v;
	return 0;
}

static int jb_args(int argc, char **argv, struct jb_opts *o)
{
	static const struct option lo[] = {
	    {"dir", 1, 0, 'd'},    {"events", 1, 0, 'n'}, {"fio-mb", 1, 0, 'f'},
	    {"no-fio", 0, 0, 'N'}, {"direct", 0, 0, 'D'}, {"json", 0, 0, 'j'},
	    {"help", 0, 0, 'h'},   {0, 0, 0, 0}};
	uint64_t v;
	int c;
	o->dir = "/var/tmp/shmbus-journal-bench";
	o->events = 20000000;
	o->fio_mb = 512;
	while ((c = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
		switch (c) {
		case 'd': o->dir = optarg; break;
		case 'n':
			if (jb_number("events", optarg, UINT64_MAX / 64, &o->events) < 0)
				return 2;
			break;
		case 'f':
			if (jb_number("fio-mb", optarg, UINT32_MAX, &v) < 0)
				return 2;
			o->fio_mb = (unsigned)v;
			break;
		case 'N': o->no_fio = 1; break;
		case 'D': o->direct = 1; break;
		case 'j': o->json = 1; break;
		default:
			printf("usage: shmbus-journal-bench [--dir DIR] [--events N] [--fio-mb N] "
			       "[--no-fio] [--direct] [--json]\n  batch runs N/10 events.\n");
			return c == 'h' ? 0 : 2;
		}
	}
	if (!o->events)
		return 2;
	mkdir(o->dir, 0755);
	return -1;
}

int main(int argc, char **argv)
{
	if (tool_version_asked(argc, argv))
		return tool_version_print("shmbus-journal-bench");
	struct jb_opts o;
	memset(&o, 0, sizeof(o));
	int rc = jb_args(argc, argv, &o);
	if (rc >= 0)
		return rc;
	char cmd[1200] = "";
	double fio_bw = o.no_fio ? 0 : jb_fio(&o, cmd, sizeof(cmd));
	struct jb_result r[5];
	int n = 0;
	/* warm-up (page allocator, io_uring workers, CPU clock): not reported */
	rc = jb_write(&o, "warmup", SHMBUS_JOURNAL_FSYNC_NONE, 0, o.events / 4, &r[0]);
	rc |= jb_write(&o, "none", SHMBUS_JOURNAL_FSYNC_NONE, 0, o.events, &r[n++]);
	rc |= jb_write(&o, "interval:100", SHMBUS_JOURNAL_FSYNC_INTERVAL, 0, o.events, &r[n++]);
	rc |= jb_write(&o, "batch", SHMBUS_JOURNAL_FSYNC_BATCH, 0, o.events / 10, &r[n++]);
	if (o.direct)
		rc |= jb_write(&o, "none+direct", SHMBUS_JOURNAL_FSYNC_NONE, 1, o.events, &r[n++]);
	rc |= jb_read(&o, &r[n++]);
	if (rc < 0) {
		/* a step that could not run left its result unset: printing
		 * it read garbage (a crash); there is nothing to report */
		jb_cleanup(&o);
		return 1;
	}
	if (o.json) {
		printf("{\"fio_write_mb_per_sec\":%.1f,\"results\":[", fio_bw / 1e6);
		for (int i = 0; i < n; i++)
			jb_print(&r[i], fio_bw, 1, i == 0);
		printf("]}\n");
	} else {
		jb_machine(argc, argv);
		if (cmd[0])
			printf("# fio: %s\n", cmd);
		printf("fio sequential write (O_DIRECT, io_uring): %.1f MB/s\n", fio_bw / 1e6);
		for (int i = 0; i < n; i++)
			jb_print(&r[i], fio_bw, 0, 0);
	}
	jb_cleanup(&o);
	return rc ? 1 : 0;
}
