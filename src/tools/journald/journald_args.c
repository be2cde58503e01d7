/*
 * journald_args.c - shmbus-journald's options: the command line and
 * --config files.
 *
 * Options come from, in increasing priority: the environment (SHMBUS_BUS,
 * which the launcher sets), --config files and the command line, as the
 * bridge takes them: every --config is read first, in its order, wherever
 * it stands, so that the command line overrides it. A config key is a
 * long option name, its value what the command line takes (the --direct
 * flag takes a boolean), checked by the same code, so a bad key or value
 * names FILE:LINE and exits 2 like a bad option. Every value is checked
 * here, before the bus is attached or DIR written.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "journald_args.h"
#include "tool_conf.h"
#include "tool_parse.h"

#define JD_OWNED_MAX 256 /* settings --config files may hold, all together */

static const char usage_text[] =
    "usage: shmbus-journald --bus NAME --dir DIR [options]\n"
    "  --bus NAME             bus to attach (default $SHMBUS_BUS, else the [bus] name\n"
    "                         of an INI --config file; one is required)\n"
    "  --dir DIR              journal directory (required)\n"
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
    "  --stats-json FILE      counters as JSON, rewritten every second and at exit (a\n"
    "                         failed write is said once, until it works again)\n"
    "  --cpus LIST            pin to these CPUs (e.g. 1 or 2-3)\n"
    "  --config FILE          settings from FILE: 'key = value' lines, or the [journal]\n"
    "                         section of a shmbusctl INI config (other sections\n"
    "                         skipped); keys are the long option names but help and\n"
    "                         config, values as on the command line (direct takes a\n"
    "                         boolean: 1/0, yes/no, true/false, on/off); '#' and ';'\n"
    "                         lines are comments\n"
    "  --help                 this text (command line only)\n"
    "  --version              the version (command line only, first argument)\n"
    "Precedence: the command line wins over --config files (read first, in their\n"
    "order, wherever they stand), which win over the environment.\n"
    "Writes DIR/<bus>-<start>.shj segments and DIR/<bus>.symbols (id,name lines).\n"
    "Every option is checked before the bus is attached or DIR is written.\n"
    "exit: 0 ok, 1 runtime failure, 2 usage\n";

static const struct option long_opts[] = {{"bus", 1, 0, 'b'},          {"dir", 1, 0, 'd'},
                                          {"ring", 1, 0, 'r'},         {"types", 1, 0, 't'},
                                          {"symbols", 1, 0, 's'},      {"policy", 1, 0, 'p'},
                                          {"fsync", 1, 0, 'f'},        {"segment-mb", 1, 0, 'm'},
                                          {"segment-age", 1, 0, 'a'},  {"retention-age", 1, 0, 'A'},
                                          {"retention-mb", 1, 0, 'M'}, {"direct", 0, 0, 'D'},
                                          {"block-kb", 1, 0, 'k'},     {"capacity", 1, 0, 'q'},
                                          {"flush-ms", 1, 0, 'F'},     {"stats-json", 1, 0, 'S'},
                                          {"cpus", 1, 0, 'c'},         {"config", 1, 0, 'C'},
                                          {"help", 0, 0, 'h'},         {0, 0, 0, 0}};

/* Config values the options point into: reachable until exit. */
static char *owned[JD_OWNED_MAX];
static size_t nowned;

int jd_usage_err(const char *opt, const char *why, const char *where)
{
	if (where)
		fprintf(stderr, JD_TOOL ": %s: %s (%s)\n", opt, why, where);
	else
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
static int parse_num(struct jd_opts *o, int c, const char *arg, const char *where)
{
	char why[JTOOL_WHY];
	uint64_t v;
	const char *name = c == 'm'   ? "--segment-mb"
	                   : c == 'a' ? "--segment-age"
	                   : c == 'A' ? "--retention-age"
	                   : c == 'M' ? "--retention-mb"
	                   : c == 'k' ? "--block-kb"
	                   : c == 'q' ? "--capacity"
	                              : "--flush-ms";
	uint64_t min = c == 'q' ? 2 : c == 'k' ? 0 : 1;
	uint64_t max = c == 'q' ? (1u << 30) : UINT32_MAX; /* --block-kb: below */
	if (jtool_parse_u64(arg, min, max, &v, why))
		return jd_usage_err(name, why, where);
	/* what the journal writer and the ring would refuse later, after the
	 * bus is attached and DIR/<bus>.symbols created, and without the flag */
	if (c == 'k' && (v < 4 || v % 4 || v > 16384)) /* one message for every bad size */
		return jd_usage_err(name, "want a multiple of 4 (whole 4 KiB pages) in 4..16384",
		                    where);
	if (c == 'q' && (v & (v - 1)))
		return jd_usage_err(name, "want a power of two in 2..1073741824", where);
	switch (c) {
	case 'm':
		o->w.segment_max_bytes = v << 20;
		break;
	case 'a':
		o->w.segment_max_age_ns = (int64_t)v * 1000000000;
		break;
	case 'A':
		o->w.retention_max_age_ns = (int64_t)v * 1000000000;
		break;
	case 'M':
		o->w.retention_max_bytes = v << 20;
		break;
	case 'k':
		o->w.block_size = (uint32_t)(v << 10);
		break;
	case 'q':
		o->capacity = (uint32_t)v;
		break;
	default:
		o->flush_ns = (int64_t)v * 1000000;
		break;
	}
	return 0;
}

/* Lists, checked when given (a later one replaces an earlier one). */
static int parse_list(struct jd_opts *o, int c, const char *v, const char *where)
{
	char why[JTOOL_WHY];
	int rc;
	if (c == 't') {
		o->types = v;
		if (tool_parse_types(v, &o->type_mask, why, sizeof(why)))
			return jd_usage_err("--types", why, where);
		return 0;
	}
	o->symbols = v;
	rc = tool_split_list(v, &o->sym_names[0][0], sizeof(o->sym_names[0]),
	                     SHMBUS_SUB_MAX_SYMBOLS, why, sizeof(why));
	if (rc < 0)
		return jd_usage_err("--symbols", why, where);
	o->n_symbols = (size_t)rc;
	return 0;
}

/* Apply option c: v is its value (NULL for --direct on the command line);
 * where is NULL for the command line, else FILE:LINE. 0 or 2. */
static int apply(struct jd_opts *o, int c, const char *v, const char *where)
{
	char why[JTOOL_WHY];
	int b;
	switch (c) {
	case 'b': /* checked here: a --config file's bad name is its line's */
		if (shmbus_name_check("bus", v) != 0)
			return jd_usage_err("--bus", shmbus_errmsg(), where);
		o->bus = v;
		break;
	case 'd':
		o->dir = v;
		break;
	case 'r':
		if (shmbus_name_check("ring", v) != 0)
			return jd_usage_err("--ring", shmbus_errmsg(), where);
		o->ring = v;
		break;
	case 't':
	case 's':
		return parse_list(o, c, v, where);
	case 'S':
		o->stats_json = v;
		break;
	case 'c':
		o->cpus = v;
		break;
	case 'D':
		if ((b = v ? tool_parse_bool(v) : 1) < 0)
			return jd_usage_err("--direct",
			                    "want 1, 0, yes, no, true, false, on or off", where);
		o->w.o_direct = b;
		break;
	case 'p':
		if (strcmp(v, "block") && strcmp(v, "drop"))
			return jd_usage_err("--policy", "want block or drop", where);
		o->policy = v[0] == 'd' ? SHMBUS_POLICY_DROP : SHMBUS_POLICY_BLOCK;
		o->policy_set = 1;
		break;
	case 'f':
		if (parse_fsync(v, &o->w, why))
			return jd_usage_err("--fsync", why, where);
		break;
	default:
		return parse_num(o, c, v, where);
	}
	return 0;
}

/* One setting of a --config file (tool_conf_read calls it). 0 or 2. */
static int config_setting(void *ctx, const char *k, const char *v, const char *where)
{
	char what[64];
	const struct option *lo = long_opts;
	if (strcmp(k, "help") == 0)
		return jd_usage_err("config 'help'", "a command-line flag, not a setting", where);
	if (strcmp(k, "config") == 0)
		return jd_usage_err("config 'config'", "a config file cannot include another",
		                    where);
	while (lo->name != NULL && strcmp(lo->name, k) != 0)
		lo++;
	if (lo->name == NULL) {
		snprintf(what, sizeof(what), "config key '%.40s'", k);
		return jd_usage_err(what, "unknown (keys are the long option names)", where);
	}
	if (nowned == JD_OWNED_MAX)
		return jd_usage_err("config", "too many settings (at most 256)", where);
	if (!(owned[nowned] = strdup(v)))
		return jd_usage_err("config", "out of memory", where);
	return apply(ctx, lo->val, owned[nowned++], where);
}

static int config_file(struct jd_opts *o, const char *path)
{
	struct tool_conf_error err;
	char bus[SHMBUS_NAME_MAX + 1];
	int rc = tool_conf_read(path, "journal", config_setting, o, bus, sizeof(bus), &err);
	if (rc < 0)
		return jd_usage_err(err.what, err.why, err.where);
	if (rc == 0 && !o->bus && bus[0]) { /* neither $SHMBUS_BUS nor a bus key: */
		if (nowned == JD_OWNED_MAX || !(owned[nowned] = strdup(bus)))
			return jd_usage_err("config", "out of memory", path);
		o->bus = owned[nowned++]; /* the INI file's [bus] name */
	}
	return rc;
}

int jd_parse_args(int argc, char **argv, struct jd_opts *o)
{
	const char *env = getenv("SHMBUS_BUS");
	int c;
	o->bus = env && *env ? env : NULL; /* the launcher's; --bus wins */
	o->ring = "journal";
	o->w.fsync_policy = SHMBUS_JOURNAL_FSYNC_INTERVAL;
	o->w.fsync_interval_ms = 100;
	o->flush_ns = 50000000;
	/* Pass 0 reads the --config files, pass 1 the rest of the command line
	 * over them. */
	for (int pass = 0; pass < 2; pass++) {
		optind = 0; /* glibc: a full rescan */
		opterr = pass == 0;
		while ((c = getopt_long(argc, argv, "h", long_opts, NULL)) != -1) {
			if (c == 'h') {
				fputs(usage_text, stdout);
				return 0;
			}
			if (c == '?')
				return jd_usage_err("command line", "bad option", NULL);
			if ((c == 'C') != (pass == 0))
				continue;
			int rc = c == 'C' ? config_file(o, optarg) : apply(o, c, optarg, NULL);
			if (rc)
				return rc;
		}
	}
	if (optind < argc)
		return jd_usage_err(argv[optind], "unexpected argument", NULL);
	if (!o->bus || !o->dir)
		return jd_usage_err("command line",
		                    "--bus (or $SHMBUS_BUS) and --dir (or a --config file's dir) "
		                    "are required",
		                    NULL);
	char path[4096];
	if (shmbus_bus_path(o->bus, path, sizeof(path)) == -EINVAL)
		return jd_usage_err(tool_bus_origin(o->bus), shmbus_errmsg(), NULL);
	return -1;
}
