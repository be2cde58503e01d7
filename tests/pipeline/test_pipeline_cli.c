/*
 * test_pipeline_cli.c - the command lines of shmbus-pipeline and
 * shmbus-threshold: what they refuse before touching anything (a bus name
 * that would lead the run folder elsewhere, numbers out of range, a rules
 * path that is no file), -h, and how a failed child is described. Each
 * case exits in well under a second: no run goes past its start. And the
 * services take a SIGTERM that was pending before they started.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "pl_test.h"

/* Run @argv with stdout and stderr kept in the work folder; *err gets
 * stderr (free it). Returns the exit status. */
static int run_cli(char *const argv[], char **out, char **err)
{
	int rc = pt_run(argv, pt_path("cli.out"), pt_path("cli.err"));

	*out = pt_slurp(pt_path("cli.out"));
	*err = pt_slurp(pt_path("cli.err"));
	assert_non_null(*out);
	assert_non_null(*err);
	return rc;
}

static void expect_usage(char *const argv[], const char *want)
{
	char *out, *err;
	int rc = run_cli(argv, &out, &err);

	if (rc != 2 || !strstr(err, want))
		fprintf(stderr, "%s %s: rc %d, stderr:\n%s\n", argv[1], argv[2], rc, err);
	assert_int_equal(rc, 2);
	assert_non_null(strstr(err, want));
	free(out);
	free(err);
}

/* A bus name with '/' once became part of the run folder
 * (TMPDIR/shmbus-NAME): "x/../../victim" removed victim/ta.json and more
 * before the bus creation refused the name. */
static void test_pipeline_cli_bus_name_checked_first(void **state)
{
	char tmp[300], victim[300], file[340];
	char *argv[] = {PL_BIN_PIPELINE, "--bus", "x/../../victim", "--events", "10", NULL};
	struct stat st;
	FILE *f;

	(void)state;
	snprintf(tmp, sizeof(tmp), "%s/tmp", pt_dir);
	snprintf(victim, sizeof(victim), "%s/victim", pt_dir);
	snprintf(file, sizeof(file), "%s/ta.json", victim);
	assert_int_equal(mkdir(tmp, 0700), 0);
	assert_int_equal(mkdir(victim, 0700), 0);
	assert_non_null(f = fopen(file, "w"));
	fputs("{}\n", f);
	fclose(f);
	setenv("TMPDIR", tmp, 1);
	expect_usage(argv, "--bus: bus name 'x/../../victim'");
	unsetenv("TMPDIR");
	assert_int_equal(stat(file, &st), 0);
	snprintf(file, sizeof(file), "%s/shmbus-x", tmp);
	assert_int_not_equal(stat(file, &st), 0); /* no run folder made */
}

static void test_pipeline_cli_numbers_are_usage_errors(void **state)
{
	char *big[] = {PL_BIN_PIPELINE, "--timeout", "1e10", NULL};
	char *zero[] = {PL_BIN_PIPELINE, "--timeout", "0", NULL};
	char *events[] = {PL_BIN_PIPELINE, "--events", "abc", NULL};
	char *seed[] = {PL_BIN_PIPELINE, "--seed", "-1", NULL};
	char *rate[] = {PL_BIN_PIPELINE, "--rate", "0", NULL};
	char *grace0[] = {PL_BIN_PIPELINE, "--stop-grace", "0", NULL};
	char *grace_big[] = {PL_BIN_PIPELINE, "--stop-grace", "3601", NULL};
	char *grace_word[] = {PL_BIN_PIPELINE, "--stop-grace", "soon", NULL};

	(void)state;
	expect_usage(big, "--timeout '1e10'");
	expect_usage(zero, "--timeout '0'");
	expect_usage(events, "--events 'abc': expected a whole number");
	expect_usage(seed, "--seed '-1': expected a whole number");
	expect_usage(rate, "--rate '0': expected events per second in 0.001..1e9");
	expect_usage(grace0, "--stop-grace '0': expected seconds");
	expect_usage(grace_big, "--stop-grace '3601': expected seconds");
	expect_usage(grace_word, "--stop-grace 'soon': expected seconds");
}

/* Options that exclude each other name both: --no-journal --journal-dir
 * ran without a journal, the folder silently ignored. */
static void test_pipeline_cli_exclusive_options(void **state)
{
	char *nj[] = {PL_BIN_PIPELINE, "--no-journal", "--journal-dir", (char *)pt_dir,
	              "--events",      "10",           NULL};
	char *rp[] = {PL_BIN_PIPELINE, "--input", "x.csv", "--replay", (char *)pt_dir, NULL};

	(void)state;
	expect_usage(nj, "--no-journal and --journal-dir exclude each other");
	expect_usage(rp, "--input and --replay exclude each other");
}

/* The collector's --kind, --columns, --ts-unit and --symbols are checked
 * here too: a bad one ran the whole pipeline (bus, run folder, services),
 * the collector exited 2 and the pipeline 1, a failed run. */
static void test_pipeline_cli_collector_words_are_usage_errors(void **state)
{
	char *kind[] = {PL_BIN_PIPELINE, "--kind", "bars", NULL};
	char *unit[] = {PL_BIN_PIPELINE, "--ts-unit", "h", NULL};
	char *syms[] = {PL_BIN_PIPELINE, "--symbols", "A,,B", NULL};
	char *none[] = {PL_BIN_PIPELINE, "--symbols", "", NULL};
	char *cols[] = {PL_BIN_PIPELINE, "--columns", "price=px", "--kind", "quotes", NULL};

	(void)state;
	expect_usage(kind, "--kind 'bars': expected trades or quotes");
	expect_usage(unit, "--ts-unit 'h': expected auto, ns, us, ms, s or iso");
	expect_usage(syms, "--symbols 'A,,B': empty symbol name");
	expect_usage(none, "--symbols '': empty list");
	expect_usage(cols, "--columns 'price=px': column mapping: unknown field 'price' for quotes");
}

/* A run folder kept from an earlier run of the same bus (same --bus and
 * --dir, or a recycled pid) held that run's journal: journald appended
 * this run's events to it, under the new bus's symbol ids, and the
 * backtest the summary offers replayed both runs' trades. */
static void test_pipeline_cli_journal_of_an_earlier_run_refused(void **state)
{
	char run[300], jdir[320], seg[380];
	char *argv[] = {PL_BIN_PIPELINE, "--bus", "again", "--dir", run, "--events", "10", NULL};
	struct stat st;
	FILE *f;

	(void)state;
	snprintf(run, sizeof(run), "%s/again-run", pt_dir);
	snprintf(jdir, sizeof(jdir), "%s/journal", run);
	snprintf(seg, sizeof(seg), "%s/again-01704205800001260022.shj", jdir);
	assert_int_equal(mkdir(run, 0700), 0);
	assert_int_equal(mkdir(jdir, 0700), 0);
	assert_non_null(f = fopen(seg, "w"));
	fputs("earlier run", f);
	fclose(f);
	expect_usage(argv, "already holds a journal of bus 'again'");
	assert_int_equal(stat(seg, &st), 0);
	assert_int_equal(st.st_size, 11); /* left as it was */
	snprintf(seg, sizeof(seg), "%s/ta.log", run);
	assert_int_not_equal(stat(seg, &st), 0); /* no service started */
}

/* Without --bus and --dir the bus and run folder are named after the pid,
 * which repeats from start to start in a container: the folder of an
 * earlier run with this pid is left alone and the run takes the next free
 * name, where the check above would have refused its journal (exit 2). */
static void test_pipeline_cli_recycled_pid_gets_a_fresh_folder(void **state)
{
	char *argv[] = {PL_BIN_PIPELINE, "--events", "2000", NULL};
	char old[300], sym[400];
	int go[2];
	struct stat st;
	FILE *f;

	(void)state;
	assert_int_equal(pipe(go), 0);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		char c;
		close(go[1]);
		if (read(go[0], &c, 1) != 1) /* the earlier run's folder is there */
			_exit(126);
		setenv("TMPDIR", pt_dir, 1);
		int fd = open(pt_path("recycled.out"), O_WRONLY | O_CREAT | O_TRUNC, 0644);
		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
		}
		execv(argv[0], argv);
		_exit(127);
	}
	close(go[0]);
	snprintf(old, sizeof(old), "%s/shmbus-pipeline-%d", pt_dir, (int)pid);
	assert_int_equal(mkdir(old, 0700), 0);
	snprintf(sym, sizeof(sym), "%s/journal", old);
	assert_int_equal(mkdir(sym, 0700), 0);
	snprintf(sym, sizeof(sym), "%s/journal/pipeline-%d.symbols", old, (int)pid);
	assert_non_null(f = fopen(sym, "w"));
	fputs("1,OLD\n", f);
	fclose(f);
	assert_int_equal(write(go[1], "g", 1), 1);
	close(go[1]);
	int rc = pt_wait_exit(pid, 60);
	if (rc != 0) {
		pt_show(pt_path("recycled.out"));
		fail_msg("pipeline: %d, want 0", rc);
	}
	assert_int_equal(stat(sym, &st), 0);
	assert_int_equal(st.st_size, 6); /* the earlier run's, as it was */
	snprintf(sym, sizeof(sym), "%s-2/journal", old);
	assert_int_equal(stat(sym, &st), 0); /* this run's */
}

/* A --ta-config that cannot be read was found by shmbus-ta only: the
 * pipeline made its run folder, started the services, and failed the run
 * (exit 1) when ta exited 2 before subscribing. */
static void test_pipeline_cli_ta_config_checked_first(void **state)
{
	char run[300];
	char *missing[] = {PL_BIN_PIPELINE,
	                   "--ta-config",
	                   "/nonexistent/ta.conf",
	                   "--dir",
	                   run,
	                   "--events",
	                   "10",
	                   NULL};
	char *folder[] = {PL_BIN_PIPELINE, "--ta-config", (char *)pt_dir, "--dir", run, NULL};
	struct stat st;

	(void)state;
	snprintf(run, sizeof(run), "%s/ta-config-run", pt_dir);
	expect_usage(missing, "--ta-config '/nonexistent/ta.conf': cannot read the file");
	expect_usage(folder, "': not a regular file");
	assert_int_not_equal(stat(run, &st), 0); /* no run folder made */
}

static void test_pipeline_cli_short_help(void **state)
{
	char *pl[] = {PL_BIN_PIPELINE, "-h", NULL};
	char *thr[] = {PL_BIN_THRESHOLD, "-h", NULL};
	char *out, *err;

	(void)state;
	assert_int_equal(run_cli(pl, &out, &err), 0);
	assert_non_null(strstr(out, "usage: shmbus-pipeline"));
	free(out);
	free(err);
	assert_int_equal(run_cli(thr, &out, &err), 0);
	assert_non_null(strstr(out, "usage: shmbus-threshold"));
	free(out);
	free(err);
}

/* An --input that is no regular file (a directory, a FIFO) is a usage
 * error before the run folder is made, as an unreadable one is: it
 * passed the check (it can be read), the services started, and the run
 * failed (exit 1) when the collector refused it. */
static void test_pipeline_cli_input_must_be_a_file(void **state)
{
	char *argv[] = {PL_BIN_PIPELINE, "--input", (char *)pt_dir, "--no-journal",
	                "--dir", (char *)pt_path("run-input"), NULL};
	char fifo[300];

	(void)state;
	expect_usage(argv, "not a regular file (a directory)");
	snprintf(fifo, sizeof(fifo), "%s", pt_path("input.fifo"));
	assert_int_equal(mkfifo(fifo, 0600), 0);
	argv[2] = fifo;
	expect_usage(argv, "not a regular file (a FIFO)");
	assert_int_equal(access(pt_path("run-input"), F_OK), -1); /* never made */
}

/* A directory as rules file: said so (it once read "Input/output error"). */
static void test_pipeline_cli_rules_must_be_a_file(void **state)
{
	char *thr[] = {PL_BIN_THRESHOLD, "--rules", pt_dir, NULL};
	char *pl[] = {PL_BIN_PIPELINE,
	              "--rules",
	              pt_dir,
	              "--bus",
	              "pt-cli-rules",
	              "--dir",
	              (char *)pt_path("run-rules"),
	              NULL};

	(void)state;
	expect_usage(thr, "not a regular file (a directory)");
	expect_usage(pl, "not a regular file (a directory)");
	/* checked before the run folder is made */
	assert_int_equal(access(pt_path("run-rules"), F_OK), -1);
}

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs(text, f);
	assert_int_equal(fclose(f), 0);
}

/* Both programs that take --rules refuse a missing file, a bad rule and a
 * file with no rule in the same words and with the same exit code (2): the
 * pipeline once printed "rules: ..." and the threshold engine exited 1 for
 * a missing file, 2 for a bad one. */
static void test_pipeline_cli_rules_errors_are_usage_errors(void **state)
{
	char bad[300], empty[300], missing[300], want[360];
	const char *bin[] = {PL_BIN_THRESHOLD, PL_BIN_PIPELINE};

	(void)state;
	snprintf(bad, sizeof(bad), "%s", pt_path("bad.rules"));
	snprintf(empty, sizeof(empty), "%s", pt_path("empty.rules"));
	snprintf(missing, sizeof(missing), "%s", pt_path("missing.rules"));
	write_file(bad, "# a comment\nhot: trade.price >> 10\n");
	write_file(empty, "# only a comment\n\n");
	for (int i = 0; i < 2; i++) {
		char *argv[] = {(char *)bin[i], "--rules", bad, "--bus", "pt-cli-rules2", "--dir",
		                (char *)pt_path("run-rules2"), NULL};

		if (i == 0) /* the threshold engine takes no --bus/--dir here */
			argv[3] = NULL;
		snprintf(want, sizeof(want), "%s:2:", bad);
		expect_usage(argv, want);
		argv[2] = empty;
		snprintf(want, sizeof(want), "%s: no rules", empty);
		expect_usage(argv, want);
		argv[2] = missing;
		snprintf(want, sizeof(want), "cannot read rules file %s: No such file", missing);
		expect_usage(argv, want);
	}
	assert_int_equal(access(pt_path("run-rules2"), F_OK), -1); /* never made */
}

/* --allow-nonpositive-prices goes to the collector, as --kind and the
 * other collector options do: the pipeline refused it (unknown flag,
 * exit 2), so a feed of spreads or of a future that traded below zero
 * could not run through it at all (without the flag, every such row is
 * malformed and the run fails). */
static void test_pipeline_cli_allow_nonpositive_prices(void **state)
{
	const char *csv = pt_path("neg.csv");
	char *argv[] = {PL_BIN_PIPELINE,
	                "--bus",
	                "pt-neg",
	                "--input",
	                (char *)csv,
	                "--no-journal",
	                "--json",
	                "--dir",
	                (char *)pt_path("run-neg"),
	                "--timeout",
	                "20",
	                "--allow-nonpositive-prices",
	                NULL};
	char *help[] = {PL_BIN_PIPELINE, "--help", NULL};
	char *out, *err;

	(void)state;
	write_file(csv, "ts_ns,symbol,price,size\n"
	                "1587412800000000000,CLK0,-37.63,5\n"
	                "1587412801000000000,CLK0,0,1\n"
	                "1587412802000000000,CLK0,10.01,1\n");
	int rc = run_cli(argv, &out, &err);
	if (rc != 0)
		fail_msg("exit %d, want 0: %s%s", rc, out, err);
	assert_int_equal(pt_json(out, "collector_trades"), 3);
	assert_int_equal(pt_json(out, "collector_malformed"), 0);
	assert_int_equal(pt_json(out, "ta_events_in"), 3);
	free(out);
	free(err);
	assert_int_equal(run_cli(help, &out, &err), 0);
	assert_non_null(strstr(out, "--allow-nonpositive-prices"));
	free(out);
	free(err);
}

/* A value in a stage's stats file that reads like a key (an input file
 * named "trades") is not taken for that key: the reader matched the
 * string "trades" of "input":"trades", found no ':' after it and gave up,
 * so the summary said "nan trades", the JSON "collector_trades":null, and
 * the check of the collector's trades against ta's was skipped. */
static void test_pipeline_cli_stats_value_like_a_key(void **state)
{
	char *argv[] = {PL_BIN_PIPELINE, "--bus", "pt-key", "--input", "trades", "--no-journal",
	                "--json", "--dir", (char *)pt_path("run-key"), "--timeout", "20", NULL};
	char cwd[4096], *out, *err;

	(void)state;
	assert_non_null(getcwd(cwd, sizeof(cwd)));
	assert_int_equal(chdir(pt_dir), 0); /* --input trades: a relative path */
	write_file("trades", "ts_ns,symbol,price,size\n"
	                     "1381219217000000000,SPY,167.5,100\n"
	                     "1381219218000000000,SPY,167.6,100\n");
	int rc = run_cli(argv, &out, &err);
	assert_int_equal(chdir(cwd), 0);
	if (rc != 0 || pt_json(out, "collector_trades") != 2)
		fail_msg("exit %d: %s%s", rc, out, err);
	free(out);
	free(err);
}

/* A --stats-json file that cannot be written is a usage error at start,
 * as an unreadable --rules is: it was found only at exit, as a warning
 * with exit 0. */
static void test_pipeline_cli_threshold_stats_json_checked_first(void **state)
{
	char *argv[] = {PL_BIN_THRESHOLD, "--rules", PL_RULES_DIR "/default.rules", "--bus",
	                "pt-none", "--stats-json", (char *)pt_path("missing/thr.json"), NULL};

	(void)state;
	expect_usage(argv, "--stats-json '");
	expect_usage(argv, "missing/thr.json': cannot be written: No such file or directory");
}

/* A child that fails is described by how it ended, not by a raw wait
 * status ("wait status 512"). */
static void test_pipeline_cli_child_failure_is_described(void **state)
{
	char *argv[] = {PL_BIN_PIPELINE,
	                "--bus",
	                "pt-cli",
	                "--events",
	                "10",
	                "--no-journal",
	                "--ta-config",
	                (char *)pt_path("bad-ta.conf"),
	                "--dir",
	                (char *)pt_path("run-cli"),
	                "--timeout",
	                "20",
	                NULL};
	char *out, *err;
	FILE *f;

	(void)state;
	/* read by ta alone: its value error is ta's exit status 2 */
	assert_non_null(f = fopen(pt_path("bad-ta.conf"), "w"));
	fputs("sma = none\n", f);
	fclose(f);
	assert_int_equal(run_cli(argv, &out, &err), 1);
	if (!strstr(err, "ta failed (exited with status 2"))
		fprintf(stderr, "stderr:\n%s\n", err);
	assert_non_null(strstr(err, "ta failed (exited with status 2"));
	assert_null(strstr(err, "wait status"));
	/* the summary's row of a stage without stats said "nan" */
	assert_non_null(strstr(out, "no stats (it did not write them"));
	assert_null(strstr(out, "nan"));
	free(out);
	free(err);
}

/* Copy the file @from to @to with mode @mode. */
static void copy_file(const char *from, const char *to, mode_t mode)
{
	char buf[65536];
	size_t n;
	FILE *in = fopen(from, "rb"), *out = fopen(to, "wb");

	assert_non_null(in);
	assert_non_null(out);
	while ((n = fread(buf, 1, sizeof(buf), in)) > 0)
		assert_int_equal(fwrite(buf, 1, n, out), n);
	fclose(in);
	assert_int_equal(fclose(out), 0);
	assert_int_equal(chmod(to, mode), 0);
}

/* A folder @bin with a copy of shmbus-pipeline and, beside it (where it
 * looks first), stand-ins for its stages: a ta that exits 3 (after
 * @ta_wait seconds), a threshold that never catches SIGTERM and a
 * collector never started. @pl gets the copy's path. */
static void make_stand_ins(char *bin, size_t n, char *pl, size_t pln, const char *name,
                           const char *ta_wait)
{
	char path[400], ta[64];
	const char *const stand_ins[][2] = {
	    {"shmbus-ta", ta},
	    {"shmbus-threshold", "#!/bin/sh\nexec sleep 30\n"}, /* SIGTERM: default action */
	    {"shmbus-collector", "#!/bin/sh\nexit 0\n"}};

	snprintf(ta, sizeof(ta), "#!/bin/sh\nsleep %s\nexit 3\n", ta_wait);
	snprintf(bin, n, "%s/%s", pt_dir, name);
	assert_int_equal(mkdir(bin, 0700), 0);
	snprintf(pl, pln, "%s/shmbus-pipeline", bin);
	copy_file(PL_BIN_PIPELINE, pl, 0755);
	for (size_t i = 0; i < sizeof(stand_ins) / sizeof(stand_ins[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", bin, stand_ins[i][0]);
		write_file(path, stand_ins[i][1]);
		assert_int_equal(chmod(path, 0755), 0);
	}
}

/* A stage the pipeline stops with SIGTERM after another one failed, before
 * it has its signal handler (here: a stand-in that never installs one), is
 * said to be stopped by the pipeline: it was named beside the real failure
 * as "threshold failed (killed by signal 15 (Terminated) ...)", as if it
 * had failed too, with its log. The run still fails (exit 1), with ta's
 * failure alone as the cause. */
static void test_pipeline_cli_stopped_stage_is_no_failure(void **state)
{
	char bin[300], pl[340];
	char *argv[] = {pl,          "--bus",  "pt-stop",      "--no-journal", "--events",
	                "10",        "--dir",  (char *)pt_path("run-stop"), "--rules",
	                PL_RULES_DIR "/default.rules", "--stop-grace", "10", NULL};
	char *out, *err;

	(void)state;
	make_stand_ins(bin, sizeof(bin), pl, sizeof(pl), "stop-bin", "0.5"); /* threshold runs by then */
	assert_int_equal(run_cli(argv, &out, &err), 1);
	if (!strstr(err, "ta ended before subscribing (exited with status 3)") ||
	    strstr(err, "threshold failed") || strstr(err, "signal 15") ||
	    strstr(out, "signal 15") || !strstr(err, "threshold was stopped by the pipeline")) {
		fprintf(stderr, "stdout:\n%s\nstderr:\n%s\n", out, err);
		fail_msg("%s", "threshold described as failed, or not as stopped");
	}
	free(out);
	free(err);
}

/* A stage stopped between the pipeline's fork and its exec (here held
 * there by its log, a FIFO nobody reads) dies of the SIGTERM: the child
 * ran the pipeline's own handler then, which only set a flag, and the
 * stage exec'd after it never saw the signal; the pipeline waited its
 * whole --stop-grace and SIGKILLed it ("did not stop within ..."). */
static void test_pipeline_cli_stop_before_exec_is_not_lost(void **state)
{
	char bin[300], pl[340], run[300], log[340];
	char *argv[] = {pl, "--bus", "pt-stop2", "--no-journal", "--events", "10", "--dir", run,
	                "--rules", PL_RULES_DIR "/default.rules", "--stop-grace", "3", NULL};
	const char *outp = pt_path("stop2.out");
	char *out = NULL;
	int rc = -1, fifo = -1;

	(void)state;
	make_stand_ins(bin, sizeof(bin), pl, sizeof(pl), "stop2-bin", "0");
	snprintf(run, sizeof(run), "%s/run-stop2", pt_dir);
	snprintf(log, sizeof(log), "%s/threshold.log", run);
	assert_int_equal(mkdir(run, 0700), 0);
	assert_int_equal(mkfifo(log, 0600), 0);
	pid_t pid = pt_spawn(argv, outp, 0);
	for (int i = 0; i < 3000 && rc < 0; i++) {
		int st;
		if (waitpid(pid, &st, WNOHANG) == pid) {
			rc = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
			break;
		}
		free(out);
		out = pt_slurp(outp);
		/* Lost: its log tail is read next; a writer lets that read end. */
		if (fifo < 0 && out && strstr(out, "still running"))
			fifo = open(log, O_RDWR | O_NONBLOCK);
		usleep(10000);
	}
	if (rc < 0) {
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
	}
	if (fifo >= 0)
		close(fifo);
	free(out);
	out = pt_slurp(outp);
	assert_non_null(out);
	if (rc != 1 || strstr(out, "did not stop") ||
	    !strstr(out, "threshold was stopped by the pipeline")) {
		fprintf(stderr, "exit %d:\n%s\n", rc, out);
		fail_msg("%s", "the SIGTERM sent before threshold's exec was lost");
	}
	free(out);
}

/* A service started with SIGTERM blocked and pending unblocks it once its
 * handler is in place: it stops at once, cleanly (exit 0, its report
 * written), where it used to run until something SIGKILLed it and lost its
 * final flush. The threshold engine's handler now comes before its rules
 * load, so a stop while they load is clean too. */
static void test_pipeline_cli_services_take_a_pending_sigterm(void **state)
{
	(void)state;
	shmbus_bus *b;
	char rules[512];
	snprintf(rules, sizeof(rules), "%s/default.rules", PL_RULES_DIR);
	char *collector[] = {PL_BIN_COLLECTOR, "--bus", "sigpend", "--events", "1000000", "--speed", "1",
			     "--rate", "10", NULL};
	char *ta[] = {PL_BIN_TA, "--bus", "sigpend", NULL};
	char *threshold[] = {PL_BIN_THRESHOLD, "--bus", "sigpend", "--rules", rules, NULL};
	char *const *runs[] = {collector, ta, threshold};

	assert_int_equal(shmbus_bus_create("sigpend", NULL, &b), 0);
	for (size_t i = 0; i < sizeof(runs) / sizeof(runs[0]); i++) {
		int rc = pt_wait_exit(pt_spawn(runs[i], pt_path("sigterm.out"), SIGTERM), 20);
		if (rc != 0) {
			pt_show(pt_path("sigterm.out"));
			fail_msg("%s: %d (-1: still running after 20 s)", runs[i][0], rc);
		}
	}
	assert_int_equal(shmbus_bus_close(b), 0);
	assert_int_equal(shmbus_bus_destroy("sigpend"), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_pipeline_cli_bus_name_checked_first),
	    cmocka_unit_test(test_pipeline_cli_numbers_are_usage_errors),
	    cmocka_unit_test(test_pipeline_cli_exclusive_options),
	    cmocka_unit_test(test_pipeline_cli_collector_words_are_usage_errors),
	    cmocka_unit_test(test_pipeline_cli_journal_of_an_earlier_run_refused),
	    cmocka_unit_test(test_pipeline_cli_recycled_pid_gets_a_fresh_folder),
	    cmocka_unit_test(test_pipeline_cli_ta_config_checked_first),
	    cmocka_unit_test(test_pipeline_cli_short_help),
	    cmocka_unit_test(test_pipeline_cli_rules_must_be_a_file),
	    cmocka_unit_test(test_pipeline_cli_input_must_be_a_file),
	    cmocka_unit_test(test_pipeline_cli_rules_errors_are_usage_errors),
	    cmocka_unit_test(test_pipeline_cli_threshold_stats_json_checked_first),
	    cmocka_unit_test(test_pipeline_cli_allow_nonpositive_prices),
	    cmocka_unit_test(test_pipeline_cli_stats_value_like_a_key),
	    cmocka_unit_test(test_pipeline_cli_child_failure_is_described),
	    cmocka_unit_test(test_pipeline_cli_stopped_stage_is_no_failure),
	    cmocka_unit_test(test_pipeline_cli_stop_before_exec_is_not_lost),
	    cmocka_unit_test(test_pipeline_cli_services_take_a_pending_sigterm),
	};
	return cmocka_run_group_tests(tests, pt_setup, pt_teardown);
}
