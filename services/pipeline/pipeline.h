/*
 * pipeline.h - internals of shmbus-pipeline, the main job: one process that
 * creates a bus, starts the journaller, ta and threshold services and then
 * the collector (or a journal replay) as child processes, watches the end
 * of stream pass through every stage on its own tap ring, stops the
 * services and reports per-stage counts and end-to-end latency.
 *
 * Files: pipeline_main.c (flags, the run), pipeline_proc.c (finding and
 * starting the binaries, stopping them), pipeline_tap.c (the tap ring's
 * handler: end-of-stream markers, latency, CSV output), pipeline_report.c
 * (the summary, text or JSON).
 */
#ifndef SHMBUS_PIPELINE_H
#define SHMBUS_PIPELINE_H

#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include <shmbus/histogram.h>
#include <shmbus/shmbus.h>

#include "rules.h"
#include "svc.h"
#include "tool_proc.h"

#define PL_TOOL          "shmbus-pipeline"
#define PL_MAX_SHOWN     64 /* alert lines kept for the summary */
#define PL_PATH_MAX      1024
#define PL_TIMEOUT_MAX_S 1e6   /* --timeout bound: ~11 days, far from int64 ns */
#define PL_RATE_MIN      0.001 /* --rate bounds: shmbus-collector's own */
#define PL_RATE_MAX      1e9
#define PL_STOP_GRACE_S  15.0 /* --stop-grace default */
#define PL_STOP_GRACE_MAX_S 3600.0

/* The child processes, in start order. */
enum pl_child_id {
	PL_JOURNALD = 0,
	PL_TA,
	PL_THRESHOLD,
	PL_SOURCE, /* the collector, or shmbus-replay in --replay mode */
	PL_NCHILD,
};

struct pl_child {
	const char *name; /* "ta", ... (log and stats file stem) */
	char bin[PL_PATH_MAX];
	char log[PL_PATH_MAX];
	char stats[PL_PATH_MAX];
	pid_t pid;   /* 0: not running */
	int started; /* was started at all */
	int status;  /* wait status once it exited */
	int exited;
	int stopping; /* we sent SIGTERM */
	int stopped;  /* ended by that SIGTERM (before it caught signals) in a run
	                 that had failed already: stopped, not failed */
	int done_status; /* an exit status other than 0 that still means done
	                    (shmbus-replay's 3: malformed events skipped) */
	char stuck[TOOL_PROC_DESC_MAX]; /* where it was when SIGKILLed past its stop
	                             grace (tool_proc_describe), else "" */
};

struct pl_opts {
	const char *bus;
	const char *dir;
	const char *input, *kind, *columns, *ts_unit;
	int any_price; /* --allow-nonpositive-prices, for the collector */
	const char *speed;
	const char *symbols, *rate, *events, *seed;
	const char *rules;
	const char *ta_config;
	const char *journal_dir;
	int no_journal;
	const char *replay_dir;
	const char *tap_csv, *alerts_csv;
	unsigned show_alerts;
	double timeout_s;
	double stop_grace_s; /* SIGTERM -> SIGKILL at the end */
	int json;
	int keep_bus;
};

/* What the tap ring saw. */
struct pl_tap {
	shmbus_bus *bus;
	struct shmbus_hist *lat; /* threshold publish - origin, ns */
	FILE *tap_csv;           /* indicator rows, or NULL */
	FILE *alerts_csv;        /* alert rows, or NULL */
	const struct shmbus_ruleset *rules;
	uint64_t alerts, indicators, indicator_rows;
	uint64_t eos_market, eos_ta, eos_threshold;
	struct shmbus_heartbeat last_eos_ta, last_eos_threshold;
	char *shown[PL_MAX_SHOWN];
	unsigned nshown, max_shown;
	int io_error;
};

struct pipeline {
	struct pl_opts o;
	char bus_name[SHMBUS_NAME_MAX + 1];
	char dir[PL_PATH_MAX - 64]; /* room for "/threshold.json" */
	char journal_dir[PL_PATH_MAX];
	char rules_path[PL_PATH_MAX];
	struct pl_child child[PL_NCHILD];
	struct shmbus_ruleset rules;
	shmbus_bus *bus;
	shmbus_consumer *tap_c;
	int tap_broken; /* its poll reported the ring unusable (printed once) */
	shmbus_producer *prod; /* end-of-stream marker after a replay */
	struct pl_tap tap;
	int64_t t_start, t_source_done, t_end;
	int failed;
	char fail_msg[1024];
};

/* The source tree's rules (the build defines it with its absolute path). */
#ifndef SHMBUS_PIPELINE_DEFAULT_RULES
#define SHMBUS_PIPELINE_DEFAULT_RULES "config/rules/default.rules"
#endif

/* pipeline_proc.c */
int pl_find_binary(const char *name, char *out, size_t n);
/* The default rules file: share/shmbus/rules/default.rules beside this
 * program's bin/ (an installed tree, wherever it was moved), else the
 * source tree's config/rules/default.rules it was built from. */
void pl_default_rules(char *out, size_t n);
int pl_start(struct pipeline *p, enum pl_child_id id, char *const argv[]);
void pl_reap(struct pipeline *p);
void pl_stop(struct pipeline *p, enum pl_child_id id);
/* Wait up to grace_s for the stopped children; name where each one still
 * running is (pl_child.stuck, and on stderr), then SIGKILL it. */
void pl_wait_stopped(struct pipeline *p, double grace_s);
void pl_kill_all(struct pipeline *p);
int pl_child_ok(const struct pl_child *c);
/* "exited with status N" / "killed by signal S (NAME)" for a wait status. */
const char *pl_exit_text(int status, char *buf, size_t n);
void pl_print_log_tail(const struct pl_child *c, FILE *f);
int pl_wait_rings(struct pipeline *p, const char *const *rings, int n, double timeout_s);

/* pipeline_tap.c */
int pl_tap_open(struct pipeline *p);
int pl_tap_poll(struct pipeline *p);
void pl_tap_close(struct pipeline *p);

/* pipeline_report.c */
int pl_report(struct pipeline *p);

#endif /* SHMBUS_PIPELINE_H */
