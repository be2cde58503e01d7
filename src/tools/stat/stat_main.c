/*
 * shmbus-stat - live view of a bus: every ring and participant, refreshed
 * each --interval; --once [--json] for scripts; --prometheus ADDR:PORT to
 * serve /metrics and /health.
 *
 * It attaches with shmbus_bus_open_readonly(): the mapping has no write
 * permission and no participant is registered, so watching a bus can
 * never disturb it. A damaged segment is reported (what and where, from
 * shmbus_errmsg()) with exit status 1. If the file is truncated under the
 * mapping, the kernel raises SIGBUS on the next read; a handler turns
 * that into the same kind of message instead of a crash (--once), or the
 * live view into a "bus down" line.
 * The live view needs a bus to start, then follows it (stat_watch.c):
 * removed or replaced (shmbusctl re-creates a bus on each start), it
 * says so and shows the new one once it is there.
 * With --prometheus it is a long-running exporter instead: it waits for a
 * bus that does not exist yet, follows the bus being removed and created
 * again, and a SIGBUS during a scrape is reported on /health and the bus
 * opened again (stat_prom.c); it exits only on a signal or a usage error.
 * Exit codes: 0 ok, 1 failure (no bus, corrupt bus), 2 usage.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "stat_tool.h"
#include "tool_json.h"
#include "tool_parse.h"
#include "tool_proc.h"
#include "tool_version.h"

static const char *const usage_text =
    "usage: shmbus-stat [--bus NAME] [--interval SEC] [--count N] [--no-clear]\n"
    "       shmbus-stat [--bus NAME] --once [--json] [--interval SEC]\n"
    "       shmbus-stat [--bus NAME] --prometheus ADDR:PORT\n"
    "\n"
    "  --bus NAME           bus to watch (default 'default'; also $SHMBUS_BUS)\n"
    "  --interval SEC       refresh period, e.g. 0.5 (default 1)\n"
    "  --count N            stop after N refreshes\n"
    "  --no-clear           do not clear the screen between refreshes\n"
    "  --once               print one snapshot and exit; with --interval, rates are\n"
    "                       measured over one interval, else they are null/0\n"
    "  --json               JSON instead of the table (with --once or a loop)\n"
    "  --prometheus A:P     serve Prometheus /metrics and /health on A:P (port 0:\n"
    "                       any free port, printed); runs until SIGINT/SIGTERM,\n"
    "                       waiting for the bus and reopening it when re-created\n"
    "  -h, --help           this text\n"
    "  --version            the version (first argument)\n"
    "An option of another form than the one used is a usage error.\n"
    "The live view (and its --json lines) follows the bus: while it is removed or\n"
    "being re-created it shows DOWN and why (JSON \"up\": false), then the new bus.\n"
    "Read-only: never consumes, never writes. Exit: 0 ok, 1 failure, 2 usage.\n";

struct stat_opts {
	const char *bus;
	double interval;
	bool interval_set;
	uint64_t count; /* 0: no limit */
	bool once, json, no_clear;
	const char *prometheus;
};

static volatile int stop_flag;

_Thread_local sigjmp_buf *stat_sigbus_jmp;

static void on_stop(int sig)
{
	(void)sig;
	stop_flag = 1;
}

static void on_sigbus(int sig)
{
	static const char msg[] = STAT_TOOL ": the bus segment was truncated while being read "
	                                    "(SIGBUS): it is no longer a valid bus\n";
	(void)sig;
	if (stat_sigbus_jmp) /* a guarded read (stat_prom.c): back there */
		siglongjmp(*stat_sigbus_jmp, 1);
	ssize_t w = write(STDERR_FILENO, msg, sizeof(msg) - 1);
	(void)w;
	_exit(1);
}

/* An option the chosen mode does not use is refused, never ignored:
 * --once --prometheus served for ever, --once --count printed once. */
static int check_modes(const struct stat_opts *o)
{
	const bool prom = o->prometheus != NULL;
	const struct {
		bool given;
		const char *a, *b;
	} pairs[] = {
	    {prom && o->once, "--prometheus", "--once"},
	    {prom && o->json, "--prometheus", "--json"},
	    {prom && o->interval_set, "--prometheus", "--interval"},
	    {prom && o->count, "--prometheus", "--count"},
	    {prom && o->no_clear, "--prometheus", "--no-clear"},
	    {o->once && o->count, "--once", "--count"},
	    {o->once && o->no_clear, "--once", "--no-clear"},
	};
	for (size_t i = 0; i < sizeof(pairs) / sizeof(pairs[0]); i++)
		if (pairs[i].given)
			return fprintf(stderr, STAT_TOOL ": %s and %s exclude each other\n%s",
			               pairs[i].a, pairs[i].b, usage_text),
			       2;
	return 0;
}

static int parse_args(int argc, char **argv, struct stat_opts *o)
{
	static const struct option longopts[] = {
	    {"bus", required_argument, NULL, 'b'},
	    {"interval", required_argument, NULL, 'i'},
	    {"count", required_argument, NULL, 'c'},
	    {"no-clear", no_argument, NULL, 'C'},
	    {"once", no_argument, NULL, 'o'},
	    {"json", no_argument, NULL, 'j'},
	    {"prometheus", required_argument, NULL, 'p'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	const char *env = getenv("SHMBUS_BUS");
	o->bus = env && *env ? env : SHMBUS_DEFAULT_BUS;
	o->interval = 1.0;
	int c;
	char bad[64];
	opterr = 0;
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (c) {
		case 'b': {
			char path[4096];
			if (shmbus_bus_path(optarg, path, sizeof(path)) == -EINVAL)
				return fprintf(stderr, STAT_TOOL ": --bus: %s\n", shmbus_errmsg()), 2;
			o->bus = optarg;
			break;
		}
		case 'i':
			if (tool_parse_double(optarg, &o->interval) ||
			    !(o->interval >= 0.01 && o->interval <= 3600))
				return fprintf(stderr,
				               STAT_TOOL ": --interval '%s': expected "
				                         "seconds in 0.01..3600\n",
				               optarg),
				       2;
			o->interval_set = true;
			break;
		case 'c':
			if (tool_parse_u64(optarg, &o->count) || o->count < 1)
				return fprintf(stderr,
				               STAT_TOOL ": --count '%s': expected a "
				                         "positive number\n",
				               optarg),
				       2;
			break;
		case 'C':
			o->no_clear = true;
			break;
		case 'o':
			o->once = true;
			break;
		case 'j':
			o->json = true;
			break;
		case 'p':
			o->prometheus = optarg;
			break;
		case 'h':
			fputs(usage_text, stdout);
			exit(0);
		default:
			fprintf(stderr, STAT_TOOL ": unknown or incomplete option '%s'\n%s",
			        tool_bad_option(argv, longopts, bad, sizeof(bad)), usage_text);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, STAT_TOOL ": unexpected argument '%s'\n", argv[optind]);
		return 2;
	}
	if (check_modes(o))
		return 2;
	char path[4096]; /* --bus was checked; $SHMBUS_BUS is a usage error too */
	if (shmbus_bus_path(o->bus, path, sizeof(path)) == -EINVAL)
		return fprintf(stderr, STAT_TOOL ": SHMBUS_BUS: %s\n", shmbus_errmsg()), 2;
	return 0;
}

static void sleep_interval(double sec)
{
	struct timespec ts = {(time_t)sec, (long)((sec - (double)(time_t)sec) * 1e9)};
	while (!stop_flag && nanosleep(&ts, &ts) != 0)
		;
}

static int snap_failed(const char *bus, int rc)
{
	char what[128];
	snprintf(what, sizeof(what), "read bus '%s'", bus);
	return tool_fail(STAT_TOOL, what, rc);
}

/* --once: one snapshot (two with --interval, for the rates). */
static int run_once(const struct stat_opts *o, const shmbus_bus *bus)
{
	struct stat_snap first = {0}, snap = {0};
	int rc = 0;
	if (o->interval_set) { /* a first sample, for the rates */
		if ((rc = stat_snap_take(bus, NULL, &first)) != 0)
			goto out;
		sleep_interval(o->interval);
	}
	if ((rc = stat_snap_take(bus, &first, &snap)) != 0)
		goto out;
	if (o->json)
		stat_print_json(stdout, &snap);
	else
		stat_print_screen(stdout, &snap, false);
out:
	stat_snap_free(&first);
	stat_snap_free(&snap);
	return rc ? snap_failed(o->bus, rc) : 0;
}

/*
 * The live view: a snapshot each interval. It follows the bus
 * (stat_watch.c): while the bus is removed, replaced or truncated it
 * says so and waits, and it shows the new bus once there is one (rates
 * start again). A bus that cannot be read is a failure, as with --once.
 */
static int run_live(const struct stat_opts *o, struct stat_watch *w)
{
	struct stat_snap snaps[2] = {{0}};
	int cur = 0, rc = 0;
	for (uint64_t n = 0; !stop_flag; n++) {
		char *why;
		rc = stat_watch_snap(w, &snaps[!cur], &snaps[cur], &why);
		if (rc == -ENOENT) {
			stat_print_down(stdout, o->bus, why ? why : "no bus", o->json,
			                !o->no_clear);
			rc = 0;
		} else if (rc == 0) {
			if (o->json)
				stat_print_json(stdout, &snaps[cur]);
			else
				stat_print_screen(stdout, &snaps[cur], !o->no_clear);
			cur = !cur;
		}
		free(why);
		if (rc || (o->count && n + 1 >= o->count))
			break;
		sleep_interval(o->interval);
	}
	stat_snap_free(&snaps[0]);
	stat_snap_free(&snaps[1]);
	return rc ? snap_failed(o->bus, rc) : 0;
}

int main(int argc, char **argv)
{
	if (tool_version_asked(argc, argv))
		return tool_version_print("shmbus-stat");
	struct stat_opts o = {0};
	int rc = parse_args(argc, argv, &o);
	if (rc)
		return rc;
	struct sigaction sb = {.sa_handler = on_sigbus};
	sigaction(SIGBUS, &sb, NULL);
	tool_stop_signals(on_stop);
	if (o.prometheus) /* opens, waits for and reopens the bus itself */
		return stat_serve(o.bus, o.prometheus, &stop_flag);
	shmbus_bus *bus;
	rc = shmbus_bus_open_readonly(o.bus, &bus);
	if (rc) { /* no bus (or a damaged one) to start with: a failure */
		char what[128];
		snprintf(what, sizeof(what), "open bus '%s'", o.bus);
		return tool_fail(STAT_TOOL, what, rc);
	}
	if (o.once) {
		rc = run_once(&o, bus);
		shmbus_bus_close(bus);
		return rc;
	}
	shmbus_bus_close(bus); /* the watch maps it again, knowing its file */
	struct stat_watch w;
	stat_watch_init(&w, o.bus, false);
	rc = run_live(&o, &w);
	stat_watch_close(&w);
	return rc;
}
