/*
 * shmbus-pipeline - the main job: collector -> ta -> threshold on one bus,
 * journaled, with a summary of what went through each stage.
 *
 * Order of a run: create the bus and the pipeline's own tap ring; start
 * the journaller (when shmbus-journald is built beside this program), ta
 * and threshold, and wait until each has subscribed its ring -- a producer
 * routes around a ring nobody consumes yet, so starting the collector
 * earlier could lose its first events; then start the collector (or, with
 * --replay, shmbus-replay of a journal's trades followed by an
 * end-of-stream marker published here). The end of stream travels
 * collector -> ta -> threshold -> tap as heartbeat markers, each stage
 * forwarding its own after flushing (see services/common/svc.h). Once the
 * threshold's marker reaches the tap every stage has finished: the
 * services are stopped with SIGTERM, their stats files read and the
 * summary printed.
 *
 * Every service waits adaptively (spin briefly, yield, sleep on a futex),
 * so five processes on two cores share them instead of spinning.
 * Exit codes: 0 ok, 1 runtime failure (a service failed, events lost, time
 * out), 2 usage.
 */
#define _GNU_SOURCE
#include "pipeline.h"
#include "csv_reader.h"
#include "md_parse.h"
#include "synth.h"
#include "tool_file.h"

#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tool_version.h"


static const char usage_text[] =
    "usage: shmbus-pipeline [options]\n"
    "Runs collector -> ta -> threshold (and the journaller, when built) on a new bus\n"
    "and prints events in and out per stage, the alerts and end-to-end latency.\n"
    "Input (default: the synthetic market generator):\n"
    "  --input FILE        trades CSV, e.g. ../shared/data/spy_trades_20131008.csv\n"
    "  --kind K --columns MAP --ts-unit U   passed to shmbus-collector\n"
    "  --allow-nonpositive-prices  passed to shmbus-collector: accept trade prices\n"
    "                      <= 0 and negative quote prices (spreads, some futures)\n"
    "  --symbols LIST --rate R --events N --seed S   synthetic generator settings\n"
    "                      (defaults: 8 symbols, 2000 events/s, 1000000 events, seed 1)\n"
    "  --speed S           max (default), 1 = original timing, N = N times faster\n"
    "  --replay DIR        backtest: replay the trades of the journal in DIR instead\n"
    "                      of running the collector (implies --no-journal unless\n"
    "                      --journal-dir is given)\n"
    "Services:\n"
    "  --rules FILE        threshold rules (default: share/shmbus/rules/default.rules\n"
    "                      beside an installed bin/, else the source tree's; here:\n"
    "                      %s)\n"
    "  --ta-config FILE    indicator settings for shmbus-ta --config\n"
    "  --journal-dir DIR   where the journal goes (default RUNDIR/journal)\n"
    "  --no-journal        do not start shmbus-journald (not with --journal-dir)\n"
    "Output:\n"
    "  --dir DIR           run folder: logs, stats, journal\n"
    "                      (default ${TMPDIR:-/tmp}/shmbus-BUS)\n"
    "  --tap-csv FILE      indicator events, one row per output:\n"
    "                      event_time_ns,symbol,indicator,value\n"
    "  --alerts-csv FILE   threshold events, one row each\n"
    "  --show-alerts N     alert lines in the summary (default 10, at most 64)\n"
    "  --json              the summary as one JSON object\n"
    "Other:\n"
    "  --bus NAME          bus to create (default pipeline-PID); removed at the end\n"
    "  --keep-bus          leave the bus in place\n"
    "  --timeout SEC       give up after SEC seconds (default 110, at most 1000000)\n"
    "  --stop-grace SEC    at the end, SIGKILL a stage still running SEC seconds\n"
    "                      after its SIGTERM, naming where it was (default 15,\n"
    "                      at most 3600)\n"
    "  -h, --help          this text\n"
    "  --version           the version (first argument)\n"
    "Exit codes: 0 ok, 1 runtime failure (a stage failed or lost events), 2 usage.\n";

static void pl_usage(FILE *f)
{
	char rules[PL_PATH_MAX];
	pl_default_rules(rules, sizeof(rules));
	fprintf(f, usage_text, rules);
}

enum {
	OPT_INPUT = 0x100,
	OPT_KIND,
	OPT_COLUMNS,
	OPT_TSUNIT,
	OPT_ANYPRICE,
	OPT_SYMBOLS,
	OPT_RATE,
	OPT_EVENTS,
	OPT_SEED,
	OPT_SPEED,
	OPT_REPLAY,
	OPT_RULES,
	OPT_TACONFIG,
	OPT_JDIR,
	OPT_NOJOURNAL,
	OPT_DIR,
	OPT_TAPCSV,
	OPT_ALERTSCSV,
	OPT_SHOW,
	OPT_JSON,
	OPT_BUS,
	OPT_KEEP,
	OPT_TIMEOUT,
	OPT_STOP_GRACE,
	OPT_HELP,
};

/* Options whose value is kept as given (checked by the child). */
static const char **pl_string_opt(struct pl_opts *o, int opt)
{
	switch (opt) {
	case OPT_INPUT:
		return &o->input;
	case OPT_KIND:
		return &o->kind;
	case OPT_COLUMNS:
		return &o->columns;
	case OPT_TSUNIT:
		return &o->ts_unit;
	case OPT_SYMBOLS:
		return &o->symbols;
	case OPT_RATE:
		return &o->rate;
	case OPT_EVENTS:
		return &o->events;
	case OPT_SEED:
		return &o->seed;
	case OPT_REPLAY:
		return &o->replay_dir;
	case OPT_RULES:
		return &o->rules;
	case OPT_TACONFIG:
		return &o->ta_config;
	case OPT_JDIR:
		return &o->journal_dir;
	case OPT_DIR:
		return &o->dir;
	case OPT_TAPCSV:
		return &o->tap_csv;
	case OPT_ALERTSCSV:
		return &o->alerts_csv;
	case OPT_BUS:
		return &o->bus;
	default:
		return NULL;
	}
}

static int pl_other_opt(struct pl_opts *o, int opt, const char *arg)
{
	uint64_t v;
	double d;

	switch (opt) {
	case OPT_SPEED:
		if (shmbus_svc_parse_speed(arg, &d) != 0)
			return shmbus_svc_usage_error(
			    PL_TOOL, "--speed '%s': expected max or a positive number", arg);
		o->speed = arg;
		return 0;
	case OPT_NOJOURNAL:
		o->no_journal = 1;
		return 0;
	case OPT_ANYPRICE:
		o->any_price = 1;
		return 0;
	case OPT_SHOW:
		if (shmbus_svc_parse_u64(arg, &v) != 0 || v > PL_MAX_SHOWN)
			return shmbus_svc_usage_error(PL_TOOL, "--show-alerts '%s': expected 0..64",
			                              arg);
		o->show_alerts = (unsigned)v;
		return 0;
	case OPT_JSON:
		o->json = 1;
		return 0;
	case OPT_KEEP:
		o->keep_bus = 1;
		return 0;
	case OPT_TIMEOUT:
		/* bounded: the deadline is timeout_s * 1e9 in an int64_t */
		if (shmbus_svc_parse_double(arg, &o->timeout_s) != 0 || !(o->timeout_s > 0) ||
		    o->timeout_s > PL_TIMEOUT_MAX_S)
			return shmbus_svc_usage_error(PL_TOOL,
			                              "--timeout '%s': expected seconds, more "
			                              "than 0 and at most 1000000",
			                              arg);
		return 0;
	case OPT_STOP_GRACE:
		if (shmbus_svc_parse_double(arg, &o->stop_grace_s) != 0 || !(o->stop_grace_s > 0) ||
		    o->stop_grace_s > PL_STOP_GRACE_MAX_S)
			return shmbus_svc_usage_error(PL_TOOL,
			                              "--stop-grace '%s': expected seconds, more "
			                              "than 0 and at most 3600",
			                              arg);
		return 0;
	case OPT_HELP:
		pl_usage(stdout);
		exit(0);
	default:
		pl_usage(stderr);
		return 2;
	}
}

/* The collector's numbers, checked here with the collector's rules: a
 * bad one is a usage error of this command, not a failed run. */
static int pl_check_numbers(const struct pl_opts *o)
{
	uint64_t v;
	double d;

	if (o->events && shmbus_svc_parse_u64(o->events, &v) != 0)
		return shmbus_svc_usage_error(PL_TOOL, "--events '%s': expected a whole number",
		                              o->events);
	if (o->seed && shmbus_svc_parse_u64(o->seed, &v) != 0)
		return shmbus_svc_usage_error(PL_TOOL, "--seed '%s': expected a whole number",
		                              o->seed);
	if (o->rate &&
	    (shmbus_svc_parse_double(o->rate, &d) != 0 || !(d >= PL_RATE_MIN) || d > PL_RATE_MAX))
		return shmbus_svc_usage_error(
		    PL_TOOL, "--rate '%s': expected events per second in 0.001..1e9", o->rate);
	return 0;
}

/* The collector's words, checked here with the collector's rules for
 * the same reason: --kind, --columns, --ts-unit and the generator's
 * --symbols. */
static int pl_check_words(const struct pl_opts *o)
{
	int kind = o->kind ? shmbus_md_kind_from_name(o->kind) : SHMBUS_MD_TRADE;
	char err[256];

	if (kind < 0)
		return shmbus_svc_usage_error(PL_TOOL, "--kind '%s': expected trades or quotes",
		                              o->kind);
	if (o->columns &&
	    shmbus_csv_check_columns((enum shmbus_md_kind)kind, o->columns, err, sizeof(err)) != 0)
		return shmbus_svc_usage_error(PL_TOOL, "--columns '%s': %s", o->columns, err);
	if (o->ts_unit && shmbus_ts_unit_from_name(o->ts_unit) < 0)
		return shmbus_svc_usage_error(
		    PL_TOOL, "--ts-unit '%s': expected auto, ns, us, ms, s or iso", o->ts_unit);
	if (o->symbols && shmbus_synth_check_symbols(o->symbols, err, sizeof(err)) != 0)
		return shmbus_svc_usage_error(PL_TOOL, "--symbols '%s': %s", o->symbols, err);
	return 0;
}

/* The bus name names the run folder (TMPDIR/shmbus-NAME), where old
 * stats files are removed: it must be what the library accepts (no '/',
 * no leading '.'), checked before anything touches the disk. */
static int pl_check_bus(const char *bus)
{
	char path[PL_PATH_MAX];

	if (bus && shmbus_bus_path(bus, path, sizeof(path)) == -EINVAL)
		return shmbus_svc_usage_error(PL_TOOL, "--bus: %s", shmbus_errmsg());
	return 0;
}

/* The file of option @flag (--input, --ta-config), opened as its stage
 * will (the collector maps its input whole, ta reads its config): one it
 * would refuse (a directory, a FIFO) or cannot read is a usage error of
 * this command, found before the run folder is made, not a run failed
 * once the services started. */
static int pl_check_file(const char *flag, const char *path)
{
	const char *kind;
	int fd = tool_open_regular(path, &kind, NULL);

	if (fd >= 0) {
		close(fd);
		return 0;
	}
	if (kind)
		return shmbus_svc_usage_error(PL_TOOL, "%s '%s': not a regular file (%s)", flag,
		                              path, kind);
	return shmbus_svc_usage_error(PL_TOOL, "%s '%s': cannot read the file (%s)", flag, path,
	                              strerror(-fd));
}

static int pl_parse_args(struct pipeline *p, int argc, char **argv)
{
	static const struct option opts[] = {{"input", required_argument, 0, OPT_INPUT},
	                                     {"kind", required_argument, 0, OPT_KIND},
	                                     {"columns", required_argument, 0, OPT_COLUMNS},
	                                     {"ts-unit", required_argument, 0, OPT_TSUNIT},
	                                     {"allow-nonpositive-prices", no_argument, 0,
	                                      OPT_ANYPRICE},
	                                     {"symbols", required_argument, 0, OPT_SYMBOLS},
	                                     {"rate", required_argument, 0, OPT_RATE},
	                                     {"events", required_argument, 0, OPT_EVENTS},
	                                     {"seed", required_argument, 0, OPT_SEED},
	                                     {"speed", required_argument, 0, OPT_SPEED},
	                                     {"replay", required_argument, 0, OPT_REPLAY},
	                                     {"rules", required_argument, 0, OPT_RULES},
	                                     {"ta-config", required_argument, 0, OPT_TACONFIG},
	                                     {"journal-dir", required_argument, 0, OPT_JDIR},
	                                     {"no-journal", no_argument, 0, OPT_NOJOURNAL},
	                                     {"dir", required_argument, 0, OPT_DIR},
	                                     {"tap-csv", required_argument, 0, OPT_TAPCSV},
	                                     {"alerts-csv", required_argument, 0, OPT_ALERTSCSV},
	                                     {"show-alerts", required_argument, 0, OPT_SHOW},
	                                     {"json", no_argument, 0, OPT_JSON},
	                                     {"bus", required_argument, 0, OPT_BUS},
	                                     {"keep-bus", no_argument, 0, OPT_KEEP},
	                                     {"timeout", required_argument, 0, OPT_TIMEOUT},
	                                     {"stop-grace", required_argument, 0, OPT_STOP_GRACE},
	                                     {"help", no_argument, 0, OPT_HELP},
	                                     {0, 0, 0, 0}};
	struct pl_opts *o = &p->o;
	int opt, rc;

	o->speed = "max";
	o->show_alerts = 10;
	o->timeout_s = 110;
	o->stop_grace_s = PL_STOP_GRACE_S;
	while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		const char **slot = pl_string_opt(o, opt);
		if (opt == 'h')
			opt = OPT_HELP;
		if (slot)
			*slot = optarg;
		else if ((rc = pl_other_opt(o, opt, optarg)) != 0)
			return rc;
	}
	if (optind < argc)
		return shmbus_svc_usage_error(PL_TOOL, "unexpected argument '%s'", argv[optind]);
	if (o->dir && strlen(o->dir) >= PL_PATH_MAX - 64)
		return shmbus_svc_usage_error(PL_TOOL, "--dir '%s': path too long", o->dir);
	if (o->input && o->replay_dir)
		return shmbus_svc_usage_error(PL_TOOL, "%s",
		                              "--input and --replay exclude each other");
	if (o->no_journal && o->journal_dir) /* the folder was ignored */
		return shmbus_svc_usage_error(PL_TOOL, "%s",
		                              "--no-journal and --journal-dir exclude each other");
	if ((rc = pl_check_bus(o->bus)) != 0 || (rc = pl_check_numbers(o)) != 0 ||
	    (rc = pl_check_words(o)) != 0)
		return rc;
	if (o->input && (rc = pl_check_file("--input", o->input)) != 0)
		return rc;
	if (o->replay_dir && access(o->replay_dir, R_OK | X_OK) != 0)
		return shmbus_svc_usage_error(PL_TOOL, "--replay '%s': cannot read the folder",
		                              o->replay_dir);
	if (o->ta_config && (rc = pl_check_file("--ta-config", o->ta_config)) != 0)
		return rc;
	return 0;
}

/* mkdir -p for the run folder. */
static int pl_mkdirs(const char *path)
{
	char buf[PL_PATH_MAX];

	snprintf(buf, sizeof(buf), "%s", path);
	for (char *s = buf + 1; *s; s++)
		if (*s == '/') {
			*s = '\0';
			if (mkdir(buf, 0775) != 0 && errno != EEXIST)
				return -errno;
			*s = '/';
		}
	if (mkdir(buf, 0775) != 0 && errno != EEXIST)
		return -errno;
	return 0;
}

/* Whether this run writes a journal (journald found, not turned off; a
 * replay only into an explicit --journal-dir). */
static int pl_journaled(const struct pipeline *p)
{
	return p->child[PL_JOURNALD].bin[0] && !p->o.no_journal &&
	       (!p->o.replay_dir || p->o.journal_dir);
}

/* The journal folder must hold nothing of this bus: a run folder kept from
 * an earlier run of the same name (--bus and --dir given again, a recycled
 * pid) would get this run's events appended to that run's journal, under
 * this bus's symbol ids, and a backtest of it would replay both runs. */
static int pl_check_journal_dir(const struct pipeline *p)
{
	size_t blen = strlen(p->bus_name);
	DIR *d = opendir(p->journal_dir);
	struct dirent *e;
	int found = 0;

	if (!d)
		return 0; /* not there yet (or unreadable: journald says so) */
	while (!found && (e = readdir(d)) != NULL) {
		const char *rest = e->d_name + blen;
		found = strncmp(e->d_name, p->bus_name, blen) == 0 &&
		        (strcmp(rest, ".symbols") == 0 ||
		         (rest[0] == '-' && strspn(rest + 1, "0123456789") == 20 &&
		          strcmp(rest + 21, ".shj") == 0));
	}
	closedir(d);
	if (found)
		return shmbus_svc_usage_error(PL_TOOL,
		                              "%s already holds a journal of bus '%s' (an "
		                              "earlier run): remove it, or choose another "
		                              "--dir, --journal-dir or --bus",
		                              p->journal_dir, p->bus_name);
	return 0;
}

/* Names, folders, binaries, rules. Returns 0 or an exit code. */
static int pl_prepare(struct pipeline *p)
{
	static const char *const names[PL_NCHILD] = {"journald", "ta", "threshold", "collector"};
	static const char *const bins[PL_NCHILD] = {"shmbus-journald", "shmbus-ta",
	                                            "shmbus-threshold", "shmbus-collector"};
	const char *tmp = getenv("TMPDIR");
	int rc;

	snprintf(p->bus_name, sizeof(p->bus_name), "%s", p->o.bus ? p->o.bus : "");
	/* The default names are the pid's; a run folder left by an earlier run
	 * of a recycled pid (in a container, the same pid at every start) is
	 * not reused (its journal would be refused): the next free suffix is. */
	for (int n = 1; !p->o.bus && n <= 1000; n++) {
		if (n == 1)
			snprintf(p->bus_name, sizeof(p->bus_name), "pipeline-%d", (int)getpid());
		else
			snprintf(p->bus_name, sizeof(p->bus_name), "pipeline-%d-%d", (int)getpid(), n);
		snprintf(p->dir, sizeof(p->dir), "%s/shmbus-%s", tmp && *tmp ? tmp : "/tmp",
		         p->bus_name);
		if (p->o.dir || access(p->dir, F_OK) != 0)
			break;
	}
	if (p->o.dir)
		snprintf(p->dir, sizeof(p->dir), "%s", p->o.dir);
	else if (p->o.bus)
		snprintf(p->dir, sizeof(p->dir), "%s/shmbus-%s", tmp && *tmp ? tmp : "/tmp",
		         p->bus_name);
	snprintf(p->journal_dir, sizeof(p->journal_dir), "%s",
	         p->o.journal_dir ? p->o.journal_dir : "");
	if (!p->o.journal_dir)
		snprintf(p->journal_dir, sizeof(p->journal_dir), "%s/journal", p->dir);
	/* The rules are the last usage check: read them before the disk is
	 * touched, so a bad file leaves no run folder behind. */
	if (p->o.rules)
		snprintf(p->rules_path, sizeof(p->rules_path), "%s", p->o.rules);
	else
		pl_default_rules(p->rules_path, sizeof(p->rules_path));
	if ((rc = shmbus_rules_load_cli(PL_TOOL, p->rules_path, &p->rules)) != 0)
		return rc;
	for (int i = 0; i < PL_NCHILD; i++) {
		struct pl_child *c = &p->child[i];
		c->name = (i == PL_SOURCE && p->o.replay_dir) ? "replay" : names[i];
		snprintf(c->log, sizeof(c->log), "%s/%s.log", p->dir, c->name);
		snprintf(c->stats, sizeof(c->stats), "%s/%s.json", p->dir, c->name);
		rc = pl_find_binary(i == PL_SOURCE && p->o.replay_dir ? "shmbus-replay" : bins[i],
		                    c->bin, sizeof(c->bin));
		if (rc != 0 && i != PL_JOURNALD) {
			fprintf(stderr, PL_TOOL ": %s not found beside %s (build it first)\n",
			        i == PL_SOURCE && p->o.replay_dir ? "shmbus-replay" : bins[i],
			        "this program");
			return 1;
		}
		if (rc != 0)
			c->bin[0] = '\0';
	}
	if (pl_journaled(p) && (rc = pl_check_journal_dir(p)) != 0)
		return rc;
	if ((rc = pl_mkdirs(p->dir)) != 0) {
		fprintf(stderr, PL_TOOL ": creating run folder %s failed: %s\n", p->dir,
		        strerror(-rc));
		return 1;
	}
	for (int i = 0; i < PL_NCHILD; i++)
		unlink(p->child[i].stats); /* never report a previous run's numbers */
	return 0;
}

struct pl_argv {
	char *v[48];
	int n;
};

static void pl_arg(struct pl_argv *a, const char *s)
{
	if (a->n < 47)
		a->v[a->n++] = (char *)s;
	a->v[a->n] = NULL;
}

static void pl_arg2(struct pl_argv *a, const char *flag, const char *val)
{
	if (val) {
		pl_arg(a, flag);
		pl_arg(a, val);
	}
}

/* Common arguments of the shmbus services. */
static void pl_service_args(struct pipeline *p, struct pl_argv *a, enum pl_child_id id,
                            const char *source)
{
	a->n = 0;
	pl_arg(a, p->child[id].bin);
	pl_arg2(a, "--bus", p->bus_name);
	pl_arg2(a, "--source-id", source);
	pl_arg2(a, "--stats-json", p->child[id].stats);
}

static int pl_start_services(struct pipeline *p)
{
	struct pl_argv a;
	const char *rings[3] = {"ta", "threshold", "journal"};
	int nrings = 2, rc;
	int journal = pl_journaled(p);

	if (journal) {
		a.n = 0;
		pl_arg(&a, p->child[PL_JOURNALD].bin);
		pl_arg2(&a, "--bus", p->bus_name);
		pl_arg2(&a, "--dir", p->journal_dir);
		pl_arg2(&a, "--stats-json", p->child[PL_JOURNALD].stats);
		if ((rc = pl_start(p, PL_JOURNALD, a.v)) != 0)
			return rc;
		nrings = 3;
	}
	pl_service_args(p, &a, PL_TA, "2");
	pl_arg2(&a, "--config", p->o.ta_config);
	if ((rc = pl_start(p, PL_TA, a.v)) != 0)
		return rc;
	pl_service_args(p, &a, PL_THRESHOLD, "3");
	pl_arg2(&a, "--rules", p->rules_path);
	if ((rc = pl_start(p, PL_THRESHOLD, a.v)) != 0)
		return rc;
	/* Within --timeout as well: a stage that never subscribes must not
	 * hold a --timeout 3 run for 15 s. */
	return pl_wait_rings(p, rings, nrings, p->o.timeout_s < 15.0 ? p->o.timeout_s : 15.0);
}

static int pl_start_source(struct pipeline *p)
{
	struct pl_argv a;

	if (p->o.replay_dir) {
		a.n = 0;
		pl_arg(&a, p->child[PL_SOURCE].bin);
		pl_arg2(&a, "--bus", p->bus_name);
		pl_arg2(&a, "--dir", p->o.replay_dir);
		pl_arg2(&a, "--types", "trade");
		pl_arg2(&a, "--speed", p->o.speed);
		/* 3: replayed, but events the bus refuses were skipped (each
		 * named in replay.log): the run goes on and says so. */
		p->child[PL_SOURCE].done_status = 3;
		return pl_start(p, PL_SOURCE, a.v);
	}
	pl_service_args(p, &a, PL_SOURCE, "1");
	pl_arg2(&a, "--speed", p->o.speed);
	pl_arg2(&a, "--input", p->o.input);
	pl_arg2(&a, "--kind", p->o.kind);
	pl_arg2(&a, "--columns", p->o.columns);
	pl_arg2(&a, "--ts-unit", p->o.ts_unit);
	if (p->o.any_price)
		pl_arg(&a, "--allow-nonpositive-prices");
	pl_arg2(&a, "--symbols", p->o.symbols);
	pl_arg2(&a, "--rate", p->o.rate ? p->o.rate : p->o.input ? NULL : "2000");
	pl_arg2(&a, "--seed", p->o.seed);
	pl_arg2(&a, "--events", p->o.events ? p->o.events : p->o.input ? NULL : "1000000");
	return pl_start(p, PL_SOURCE, a.v);
}

/* After the source exits: in replay mode, the marker replay does not send. */
static void pl_source_done(struct pipeline *p)
{
	struct shmbus_producer_opts po;

	p->t_source_done = shmbus_mono_ns();
	if (!p->o.replay_dir)
		return;
	shmbus_producer_opts_init(&po);
	po.source_id = SHMBUS_SVC_SOURCE_PIPELINE;
	if (shmbus_producer_open(p->bus, &po, &p->prod) == 0)
		shmbus_svc_publish_status(p->prod, SHMBUS_SVC_EOS_MARKET, 0, 0);
}

static void pl_fail(struct pipeline *p, const char *msg)
{
	if (!p->failed && msg != p->fail_msg) /* no overlapping copy */
		snprintf(p->fail_msg, sizeof(p->fail_msg), "%s", msg);
	p->failed = 1;
}

/* Follow the run until the end of stream reached the tap. */
static void pl_follow(struct pipeline *p)
{
	int64_t deadline = p->t_start + (int64_t)(p->o.timeout_s * 1e9);
	struct pl_child *src = &p->child[PL_SOURCE];

	while (p->tap.eos_threshold == 0) {
		if (pl_tap_poll(p) > 0)
			continue;
		pl_reap(p);
		for (int i = PL_JOURNALD; i < PL_SOURCE; i++)
			if (p->child[i].started && p->child[i].exited) {
				pl_fail(p, "a service exited before the end of the stream");
				return;
			}
		if (src->exited && !p->t_source_done) {
			if (!pl_child_ok(src)) {
				pl_fail(p, "the source failed");
				return;
			}
			if (WEXITSTATUS(src->status) != 0)
				fprintf(stderr, PL_TOOL ": the replay skipped malformed events (named "
				                "in %s); going on with the rest\n",
				        src->log);
			pl_source_done(p);
		}
		if (shmbus_svc_stop_requested()) {
			pl_fail(p, "interrupted");
			return;
		}
		if (shmbus_mono_ns() > deadline) {
			pl_fail(p, "timed out before the end of the stream reached the tap");
			return;
		}
		shmbus_wait(p->tap_c, 20 * 1000 * 1000);
	}
}

static int pl_create_bus(struct pipeline *p)
{
	struct shmbus_bus_opts bo;
	char err[256];
	int rc;

	shmbus_bus_opts_init(&bo);
	bo.participant_name = "pipeline";
	if ((rc = shmbus_bus_create(p->bus_name, &bo, &p->bus)) != 0) {
		fprintf(stderr, PL_TOOL ": creating bus '%s' failed: %s%s\n", p->bus_name,
		        shmbus_svc_strerror(rc, err, sizeof(err)),
		        rc == -EEXIST ? " (choose another --bus, or remove it)" : "");
		return 1;
	}
	if ((rc = pl_tap_open(p)) != 0) {
		fprintf(stderr, PL_TOOL ": tap subscription failed: %s\n",
		        shmbus_svc_strerror(rc, err, sizeof(err)));
		return 1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	if (tool_version_asked(argc, argv))
		return tool_version_print("shmbus-pipeline");
	static struct pipeline p;
	int rc;

	if ((rc = pl_parse_args(&p, argc, argv)) != 0)
		return rc;
	if ((rc = pl_prepare(&p)) != 0) {
		shmbus_rules_free(&p.rules);
		return rc;
	}
	shmbus_svc_signals_install();
	if (pl_create_bus(&p) != 0) {
		shmbus_rules_free(&p.rules);
		return 1;
	}
	p.t_start = shmbus_mono_ns();
	if ((rc = pl_start_services(&p)) != 0 || (rc = pl_start_source(&p)) != 0)
		pl_fail(&p, p.fail_msg[0] ? p.fail_msg : "starting a service failed");
	else
		pl_follow(&p);
	for (int i = 0; i < PL_NCHILD; i++)
		if (i != PL_SOURCE || p.failed)
			pl_stop(&p, (enum pl_child_id)i);
	pl_wait_stopped(&p, p.o.stop_grace_s);
	pl_tap_poll(&p);
	p.t_end = shmbus_mono_ns();
	pl_tap_close(&p);
	rc = pl_report(&p);
	if (p.prod)
		shmbus_producer_close(p.prod);
	shmbus_bus_close(p.bus);
	if (!p.o.keep_bus)
		shmbus_bus_destroy(p.bus_name);
	for (unsigned i = 0; i < p.tap.nshown; i++)
		free(p.tap.shown[i]);
	shmbus_hist_destroy(p.tap.lat);
	shmbus_rules_free(&p.rules);
	return rc;
}
