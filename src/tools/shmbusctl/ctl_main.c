/*
 * shmbusctl - create, inspect, remove and run buses from the command line.
 *
 * The front end only parses the command line and dispatches; each
 * subcommand lives in ctl_bus.c (one-shot operations on segments) or
 * ctl_up.c (the launcher). Exit codes: 0 ok, 1 failure, 2 usage.
 */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"
#include "tool_parse.h"
#include "tool_version.h"

static const char *const usage_text =
    "usage: shmbusctl [--bus NAME] [--json] COMMAND [ARG...]\n"
    "\n"
    "commands:\n"
    "  check CONFIG    parse CONFIG and check it against this host\n"
    "  create CONFIG   create the bus CONFIG describes and declare its rings\n"
    "  list            buses in the bus directory: size, backing, live participants\n"
    "  info [BUS]      layout, rings, subscriptions, participants, symbol count\n"
    "  destroy [BUS]   remove a bus; refused while a participant lives (it would\n"
    "                  keep its mapping while a new bus of the name is another)\n"
    "  reclaim         remove every bus whose participants are all dead\n"
    "  ring-remove [BUS] RING\n"
    "                  remove a ring (one whose consumer died holding events, or a\n"
    "                  declared ring no longer wanted) and free its entry; refused\n"
    "                  while a live consumer holds it; its unread events are lost\n"
    "  up CONFIG       create the bus and run its services pinned to their cores,\n"
    "                  restarting crashed ones; SIGINT/SIGTERM stops everything\n"
    "\n"
    "options:\n"
    "  --bus NAME      bus to act on (overrides the config's [bus] name;\n"
    "                  where a BUS argument is optional: default $SHMBUS_BUS,\n"
    "                  else 'default'; given with a BUS argument, the same bus)\n"
    "  --json          machine-readable output (every command but up)\n"
    "  --status FILE   up: write service states to FILE on every change\n"
    "  --keep          up: leave the bus segment in place on exit (and take a kept,\n"
    "                  idle, matching bus again at start)\n"
    "  --dry-run       reclaim: say what would be removed, remove nothing\n"
    "  --force         destroy: remove the bus though participants live\n"
    "  -h, --help      this text\n"
    "  --version       the version (first argument)\n"
    "\n"
    "Buses live in $SHMBUS_DIR when set, else on hugetlbfs mounts (2 MiB pages)\n"
    "and in /dev/shm; list and reclaim look in all of them.\n"
    "Exit status: 0 ok, 1 failure, 2 usage error.\n";

static int usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int usage_error(const char *fmt, ...)
{
	va_list ap;
	fprintf(stderr, "shmbusctl: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n(see shmbusctl --help)\n");
	return CTL_USAGE;
}

/* --bus and a BUS argument both given: the same bus, or a usage error
 * (one of them would be ignored: `--bus X destroy Y` destroyed Y). */
static int bus_conflict(const struct ctl_opts *o, const char *cmd, const char *bus)
{
	if (!o->bus || strcmp(o->bus, bus) == 0)
		return 0;
	return usage_error("--bus '%s' and the BUS argument '%s' of '%s' name different buses",
	                   o->bus, bus, cmd);
}

static int dispatch(const struct ctl_opts *o, int argc, char **argv)
{
	const char *cmd = argv[0];
	const char *arg = argc > 1 ? argv[1] : NULL;
	bool needs_config =
	    strcmp(cmd, "check") == 0 || strcmp(cmd, "create") == 0 || strcmp(cmd, "up") == 0;
	bool takes_bus = strcmp(cmd, "info") == 0 || strcmp(cmd, "destroy") == 0;
	/* An option a command does not take is refused, never ignored:
	 * `destroy BUS --dry-run` must not destroy, `--bus X reclaim` must
	 * not reclaim every dead bus of the host. */
	bool is_up = strcmp(cmd, "up") == 0, is_reclaim = strcmp(cmd, "reclaim") == 0;
	if ((o->status || o->keep) && !is_up)
		return usage_error("--status and --keep are options of 'up', not of '%s'", cmd);
	if (o->json && is_up) /* it writes service states, with --status */
		return usage_error("--json is not an option of 'up' (see --status)");
	if (o->dry_run && !is_reclaim)
		return usage_error("--dry-run is an option of 'reclaim', not of '%s'", cmd);
	if (o->force && strcmp(cmd, "destroy") != 0)
		return usage_error("--force is an option of 'destroy', not of '%s'", cmd);
	if (o->bus && (is_reclaim || strcmp(cmd, "list") == 0))
		return usage_error("--bus does not apply to '%s' (it looks at every bus)", cmd);
	if (strcmp(cmd, "ring-remove") == 0) {
		/* ring-remove BUS RING, or ring-remove RING on --bus (or the default) */
		if (argc < 2 || argc > 3)
			return usage_error("'%s' needs [BUS] RING", cmd);
		char path[4096];
		const char *bus = argc == 3 ? argv[1] : o->default_bus;
		if (shmbus_bus_path(bus, path, sizeof(path)) == -EINVAL)
			return usage_error("ring-remove: %s", shmbus_errmsg());
		if (argc == 3 && bus_conflict(o, cmd, bus))
			return CTL_USAGE;
		return ctl_ring_remove(o, bus, argv[argc - 1]);
	}
	int max_args = needs_config || takes_bus ? 2 : 1;
	if (argc > max_args)
		return usage_error("too many arguments for '%s'", cmd);
	if (needs_config && !arg)
		return usage_error("'%s' needs a CONFIG file", cmd);
	if (takes_bus) {
		/* a BUS argument is a bus name as --bus is (ring-remove's too) */
		char path[4096];
		const char *bus = arg ? arg : o->default_bus;
		if (shmbus_bus_path(bus, path, sizeof(path)) == -EINVAL)
			return usage_error(arg ? "BUS: %s" : "SHMBUS_BUS: %s", shmbus_errmsg());
		if (arg && bus_conflict(o, cmd, arg))
			return CTL_USAGE;
		arg = bus;
	}
	if (strcmp(cmd, "check") == 0)
		return ctl_check(o, arg);
	if (strcmp(cmd, "create") == 0)
		return ctl_create(o, arg);
	if (strcmp(cmd, "up") == 0)
		return ctl_up(o, arg);
	if (strcmp(cmd, "list") == 0)
		return ctl_list(o);
	if (strcmp(cmd, "info") == 0)
		return ctl_info(o, arg);
	if (strcmp(cmd, "destroy") == 0)
		return ctl_destroy(o, arg);
	if (strcmp(cmd, "reclaim") == 0)
		return ctl_reclaim(o);
	return usage_error("unknown command '%s'", cmd);
}

int main(int argc, char **argv)
{
	if (tool_version_asked(argc, argv))
		return tool_version_print("shmbusctl");
	static const struct option longopts[] = {
	    {"bus", required_argument, NULL, 'b'},
	    {"json", no_argument, NULL, 'j'},
	    {"status", required_argument, NULL, 's'},
	    {"keep", no_argument, NULL, 'k'},
	    {"dry-run", no_argument, NULL, 'n'},
	    {"force", no_argument, NULL, 'f'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	struct ctl_opts o = {0};
	char bad[64];
	int c;
	opterr = 0;
	/* glibc permutes argv: options may come before or after the command. */
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (c) {
		case 'b':
			o.bus = optarg;
			break;
		case 'j':
			o.json = 1;
			break;
		case 's':
			o.status = optarg;
			break;
		case 'k':
			o.keep = 1;
			break;
		case 'n':
			o.dry_run = 1;
			break;
		case 'f':
			o.force = 1;
			break;
		case 'h':
			fputs(usage_text, stdout);
			return CTL_OK;
		default:
			return usage_error("unknown or incomplete option '%s'",
			                   tool_bad_option(argv, longopts, bad, sizeof(bad)));
		}
	}
	if (optind >= argc) {
		fputs(usage_text, stderr);
		return CTL_USAGE;
	}
	/* The name becomes a file name in the bus directory: refuse what the
	 * library would (a '/', "..", a leading '.') before any command runs
	 * on it, `check` included. */
	char path[4096];
	if (o.bus && shmbus_bus_path(o.bus, path, sizeof(path)) == -EINVAL)
		return usage_error("--bus: %s", shmbus_errmsg());
	/* Where a BUS argument is optional: --bus, else $SHMBUS_BUS as every
	 * tool takes it (the launcher sets it for its services), else the
	 * default. A config's [bus] name is not overridden by the variable. */
	const char *env = getenv("SHMBUS_BUS");
	o.default_bus = o.bus ? o.bus : env && *env ? env : SHMBUS_DEFAULT_BUS;
	return dispatch(&o, argc - optind, argv + optind);
}
