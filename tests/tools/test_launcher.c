/*
 * test_launcher.c - `shmbusctl up`: two services start pinned, a service
 * killed with SIGKILL is restarted and counted, and SIGTERM to the
 * launcher stops every service and removes the segment. Consumers start
 * before sources and are stopped after them (this program doubles as the
 * services of a small pipeline: `--svc src|stage|sink`), a closed stdout
 * does not kill the launcher, and a crashed service's group dies with it.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <shmbus/shmbus.h>

#include "tool_util.h"

static const char *dir;
static char status_path[256];

/* Field `key` of the status line of service `name` (or "launcher"). */
static int status_field(const char *name, const char *key, char *val, size_t len)
{
	char buf[4096], pat[96];
	if (tu_read(status_path, buf, sizeof(buf)) < 0)
		return -1;
	if (strcmp(name, "launcher") == 0)
		snprintf(pat, sizeof(pat), "launcher ");
	else
		snprintf(pat, sizeof(pat), "service name=%s ", name);
	const char *line = strstr(buf, pat);
	if (!line)
		return -1;
	const char *eol = strchr(line, '\n');
	snprintf(pat, sizeof(pat), " %s=", key);
	const char *k = strstr(line, pat);
	if (!k || (eol && k > eol))
		return -1;
	k += strlen(pat);
	size_t n = strcspn(k, " \n");
	snprintf(val, len, "%.*s", (int)(n < len ? n : len - 1), k);
	return 0;
}

/* Wait (up to ~10 s) until service `name` runs with restarts == want. */
static pid_t wait_running(const char *name, int restarts)
{
	char st[32], rs[32], pid[32];
	for (int i = 0; i < 1000; i++) {
		if (status_field(name, "state", st, sizeof(st)) == 0 &&
		    status_field(name, "restarts", rs, sizeof(rs)) == 0 &&
		    status_field(name, "pid", pid, sizeof(pid)) == 0 &&
		    strcmp(st, "running") == 0 && atoi(rs) == restarts && atoi(pid) > 0)
			return (pid_t)atoi(pid);
		tu_msleep(10);
	}
	return -1;
}

static bool cpus_allowed_is(pid_t pid, const char *want)
{
	char path[64], buf[4096];
	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	for (int i = 0; i < 200; i++) { /* the child pins itself right after fork */
		if (tu_read(path, buf, sizeof(buf)) > 0) {
			const char *l = strstr(buf, "Cpus_allowed_list:");
			char got[64] = "";
			if (l && sscanf(l, "Cpus_allowed_list: %63s", got) == 1 &&
			    strcmp(got, want) == 0)
				return true;
		}
		tu_msleep(10);
	}
	return false;
}

/* A launcher test's folder (dir) and status file (status_path, named
 * TAG.status), for the config text to name. */
static void up_begin(const char *tag)
{
	dir = tu_tmpdir();
	assert_non_null(dir);
	snprintf(status_path, sizeof(status_path), "%s/%s.status", dir, tag);
}

/* Write `text` as TAG.ini in dir and start `shmbusctl up` on it; *fd reads
 * its stdout and stderr. Returns the launcher's pid. */
static pid_t up_start(const char *tag, const char *text, int *fd)
{
	char cfg[256];
	snprintf(cfg, sizeof(cfg), "%s/%s.ini", dir, tag);
	assert_int_equal(tu_write(cfg, text), 0);
	char *argv[] = {SHMBUSCTL_BIN, "up", cfg, NULL};
	pid_t launcher = tu_spawn_all(argv, fd);
	assert_true(launcher > 0);
	return launcher;
}

/* This test program's path: it doubles as the pipeline's services. */
static void self_exe(char *buf, size_t len)
{
	ssize_t n = readlink("/proc/self/exe", buf, len - 1);
	assert_true(n > 0);
	buf[n] = '\0';
}

static void test_launcher_restarts_and_stops_cleanly(void **state)
{
	(void)state;
	up_begin("up");
	char text[1024], bus_file[256];
	snprintf(bus_file, sizeof(bus_file), "%s/shmbus.uptest", dir);
	snprintf(text, sizeof(text),
	         "[bus]\nname = uptest\narena_mb = 2\n"
	         "[launcher]\nstop_grace_ms = 2000\nbackoff_initial_ms = 20\n"
	         "status_file = %s\n"
	         "[ring r]\ncapacity = 64\n"
	         "[service a]\ncommand = sleep\nargs = 1000\ncores = 0\nrestart = on-failure\n"
	         "[service b]\ncommand = /bin/sh\nargs = -c \"exec sleep 1000\"\n",
	         status_path);

	int fd;
	pid_t launcher = up_start("up", text, &fd);

	pid_t a = wait_running("a", 0), b = wait_running("b", 0);
	assert_true(a > 0);
	assert_true(b > 0);
	assert_int_equal(access(bus_file, F_OK), 0);
	assert_true(cpus_allowed_is(a, "0"));

	assert_int_equal(kill(a, SIGKILL), 0);
	pid_t a2 = wait_running("a", 1);
	assert_true(a2 > 0);
	assert_int_not_equal(a2, a);
	char last[32];
	assert_int_equal(status_field("a", "last_exit", last, sizeof(last)), 0);
	assert_string_equal(last, "signal:9");
	assert_true(cpus_allowed_is(a2, "0"));
	assert_int_equal(wait_running("b", 0), b); /* b untouched */

	assert_int_equal(kill(launcher, SIGTERM), 0);
	int st;
	assert_int_equal(waitpid(launcher, &st, 0), launcher);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
	char out[8192];
	ssize_t n = read(fd, out, sizeof(out) - 1);
	out[n > 0 ? n : 0] = '\0';
	close(fd);
	assert_non_null(strstr(out, "service a ended (signal:9); restart 1"));
	assert_non_null(strstr(out, "bus 'uptest' removed"));
	/* No service left, no segment left. */
	assert_int_equal(kill(a2, 0), -1);
	assert_int_equal(errno, ESRCH);
	assert_int_equal(kill(b, 0), -1);
	assert_int_equal(errno, ESRCH);
	assert_int_not_equal(access(bus_file, F_OK), 0);
	char ls[32];
	assert_int_equal(status_field("launcher", "state", ls, sizeof(ls)), 0);
	assert_string_equal(ls, "stopped");
	tu_rmdir(dir);
}

/* ${bus}, ${config}, ${configdir} and ${service} in args: a config names
 * its files by ${configdir} wherever the launcher runs. */
static void test_launcher_substitutes_placeholders(void **state)
{
	(void)state;
	up_begin("subst");
	static char text[1024], out_path[PATH_MAX + 16], want[2 * PATH_MAX + 64],
	    got[2 * PATH_MAX + 64], real[PATH_MAX];
	assert_non_null(realpath(dir, real));
	snprintf(out_path, sizeof(out_path), "%s/subst.out", real);
	snprintf(text, sizeof(text),
	         "[bus]\nname = substbus\narena_mb = 2\n[launcher]\nstatus_file = %s\n"
	         "[service echoer]\ncommand = /bin/sh\nargs = -c \"echo ${bus} ${service} "
	         "${config} ${configdir} > ${configdir}/subst.tmp && mv ${configdir}/subst.tmp "
	         "${configdir}/subst.out; exec sleep 1000\"\n",
	         status_path);
	int fd;
	pid_t launcher = up_start("subst", text, &fd);
	long n = -1;
	for (int i = 0; i < 500 && n <= 0; i++) {
		n = tu_read(out_path, got, sizeof(got));
		if (n <= 0)
			tu_msleep(10);
	}
	assert_true(n > 0);
	snprintf(want, sizeof(want), "substbus echoer %s/subst.ini %s\n", real, real);
	assert_string_equal(got, want);
	assert_int_equal(kill(launcher, SIGTERM), 0);
	int st;
	assert_int_equal(waitpid(launcher, &st, 0), launcher);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
	close(fd);
	tu_rmdir(dir);
}

/* Stop launcher pid with SIGTERM; returns its stdout+stderr (from fd) and
 * checks it exited with `want`. */
static char *up_stop(pid_t launcher, int fd, int want)
{
	static char out[8192];
	assert_int_equal(kill(launcher, SIGTERM), 0);
	int st;
	assert_int_equal(waitpid(launcher, &st, 0), launcher);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), want);
	ssize_t n = read(fd, out, sizeof(out) - 1);
	out[n > 0 ? n : 0] = '\0';
	close(fd);
	return out;
}

/* keep = true: the next `up` takes the kept bus again (it once failed with
 * "already exists" until someone ran reclaim), keeping what its rings
 * hold; a config that no longer matches it is refused, saying how. */
static void test_launcher_keep_reuses_the_bus(void **state)
{
	(void)state;
	up_begin("keep");
	char text[1024], out[8192];
	const char *fmt = "[bus]\nname = keptbus\narena_mb = 2\nkeep = true\n"
	                  "[launcher]\nstatus_file = %s\n[ring r]\ncapacity = %d\n"
	                  "[service s]\ncommand = sleep\nargs = 1000\n";
	snprintf(text, sizeof(text), fmt, status_path, 64);
	int fd;
	pid_t launcher = up_start("keep", text, &fd);
	assert_true(wait_running("s", 0) > 0);
	assert_non_null(strstr(up_stop(launcher, fd, 0), "bus 'keptbus' kept"));

	/* Something for the kept ring to hold across the restart. */
	shmbus_bus *bus;
	shmbus_producer *p;
	assert_int_equal(shmbus_bus_open("keptbus", "test", SHMBUS_ROLE_PRODUCER, &bus), 0);
	shmbus_consumer *c;
	assert_int_equal(shmbus_subscribe(bus, "r", NULL, &c), 0);
	assert_int_equal(shmbus_producer_open(bus, NULL, &p), 0);
	struct shmbus_heartbeat hb = {.h = {.type = SHMBUS_EV_HEARTBEAT,
	                                    .version = SHMBUS_EVENT_LAYOUT_VERSION,
	                                    .size = sizeof(hb)}};
	assert_int_equal(shmbus_publish(p, &hb.h), 1);
	shmbus_producer_close(p);
	shmbus_consumer_close(c);
	shmbus_bus_close(bus);

	launcher = up_start("keep", text, &fd);
	assert_true(wait_running("s", 0) > 0);
	snprintf(out, sizeof(out), "%s", up_stop(launcher, fd, 0));
	assert_non_null(strstr(out, "bus 'keptbus' kept from an earlier run: taken again "
	                            "(1 rings kept, 0 declared)"));
	assert_int_equal(shmbus_bus_open("keptbus", "test", SHMBUS_ROLE_CONSUMER, &bus), 0);
	int idx = shmbus_stat_find_ring(bus, "r");
	struct shmbus_ring_stat rs;
	assert_true(idx >= 0);
	assert_int_equal(shmbus_stat_ring(bus, (uint32_t)idx, &rs), 0);
	assert_int_equal(rs.depth, 1); /* the event is still there */
	struct shmbus_bus_info bi;
	assert_int_equal(shmbus_stat_bus(bus, &bi), 0);
	assert_int_equal(bi.kept, 1);
	shmbus_bus_close(bus);

	/* No participant lives, yet reclaim leaves it (it removed the bus
	 * and what its rings held, e.g. from a cron job between two runs). */
	assert_int_equal(tu_run(out, sizeof(out), "%s reclaim --json", SHMBUSCTL_BIN), 0);
	assert_non_null(strstr(out, "{\"name\":\"keptbus\",\"action\":\"kept (marked kept"));
	assert_int_equal(tu_run(out, sizeof(out), "%s list --json", SHMBUSCTL_BIN), 0);
	assert_non_null(strstr(out, "\"kept\":true"));
	assert_int_equal(tu_run(out, sizeof(out), "%s info keptbus", SHMBUSCTL_BIN), 0);
	assert_non_null(strstr(out, ", kept\n"));

	/* The ring's size changed in the config: refused, naming the ring. */
	snprintf(text, sizeof(text), fmt, status_path, 128);
	char cfg[256];
	snprintf(cfg, sizeof(cfg), "%s/keep.ini", dir);
	assert_int_equal(tu_write(cfg, text), 0);
	assert_int_equal(tu_run(out, sizeof(out), "%s up %s 2>&1", SHMBUSCTL_BIN, cfg), 1);
	if (!strstr(out, "has ring 'r' with 64 slots of 128 bytes (config: 128 of 128)"))
		fail_msg("want the ring's size named, got: %s", out);

	/* Same ring, no services: taken again quietly when it matches (types
	 * "all" of the config is the ring's every type), with a warning when
	 * its filter differs. */
	const char *quiet = "[bus]\nname = keptbus\narena_mb = 2\nkeep = true\n"
	                    "[ring r]\ncapacity = 64\n%s";
	snprintf(text, sizeof(text), quiet, "types = all\n");
	assert_int_equal(tu_write(cfg, text), 0);
	assert_int_equal(tu_run(out, sizeof(out), "%s up %s 2>&1", SHMBUSCTL_BIN, cfg), 0);
	if (!strstr(out, "taken again") || strstr(out, "warning"))
		fail_msg("want the kept bus taken again without a warning, got: %s", out);
	snprintf(text, sizeof(text), quiet, "types = trade\n");
	assert_int_equal(tu_write(cfg, text), 0);
	assert_int_equal(tu_run(out, sizeof(out), "%s up %s 2>&1", SHMBUSCTL_BIN, cfg), 0);
	if (!strstr(out, "warning: ring 'r' of the kept bus keeps the filter"))
		fail_msg("want the changed filter warned about, got: %s", out);
	assert_int_equal(shmbus_bus_destroy("keptbus"), 0);
	tu_rmdir(dir);
}

/* A service that exits 2 (a usage error: a bad option or config value)
 * is not restarted under on-failure: it would fail the same way each time
 * (an operator probe saw threshold restarted six times in 4 s over a
 * rules path). Another failure is. */
static void test_launcher_does_not_restart_usage_errors(void **state)
{
	(void)state;
	up_begin("ue");
	char text[1024], cfg[256];
	static char out[8192];
	snprintf(text, sizeof(text),
	         "[bus]\nname = uebus\narena_mb = 2\n[launcher]\nbackoff_initial_ms = 20\n"
	         "status_file = %s\n"
	         "[service bad]\ncommand = /bin/sh\nargs = -c \"exit 2\"\nrestart = on-failure\n"
	         "[service flaky]\ncommand = /bin/sh\nargs = -c \"exit 1\"\nrestart = on-failure\n"
	         "restart_max = 2\n",
	         status_path);
	snprintf(cfg, sizeof(cfg), "%s/ue.ini", dir);
	assert_int_equal(tu_write(cfg, text), 0);
	assert_int_equal(tu_run(out, sizeof(out), "%s up %s 2>&1", SHMBUSCTL_BIN, cfg), 1);
	const char *first = strstr(out, "service bad started");
	if (!strstr(out, "service bad ended (exit:2); exit 2 is a usage error: not restarted") ||
	    !first || strstr(first + 1, "service bad started") != NULL)
		fail_msg("want bad started once and not restarted, got:\n%s", out);
	if (!strstr(out, "service flaky ended (exit:1); gave up after 2 restarts"))
		fail_msg("want flaky restarted twice, got:\n%s", out);
	tu_rmdir(dir);
}

/* restart_max bounds restarts in a row: a run of healthy_run_ms starts
 * the count again. It counted over the launcher's life, so a service that
 * failed once a day was given up for good on the 11th day. */
static void test_launcher_restart_count_resets_after_healthy_run(void **state)
{
	(void)state;
	up_begin("hr");
	char text[1024];
	snprintf(text, sizeof(text),
	         "[bus]\nname = hrbus\narena_mb = 2\n"
	         "[launcher]\nbackoff_initial_ms = 20\nhealthy_run_ms = 100\nstatus_file = %s\n"
	         "[service slow]\ncommand = /bin/sh\nargs = -c \"sleep 0.3; exit 1\"\n"
	         "restart_max = 1\n"
	         "[service fast]\ncommand = /bin/sh\nargs = -c \"exit 1\"\nrestart_max = 2\n",
	         status_path);
	int fd;
	pid_t launcher = up_start("hr", text, &fd);
	pid_t slow = wait_running("slow", 3);
	char st[32];
	int fast_state = status_field("fast", "state", st, sizeof(st));
	char *out = up_stop(launcher, fd, 0);
	if (slow <= 0)
		fail_msg("slow (healthy runs between its failures) not restarted 3 times:\n%s", out);
	assert_int_equal(fast_state, 0);
	assert_string_equal(st, "failed");
	assert_non_null(strstr(out, "service fast ended (exit:1); gave up after 2 restarts in a row"));
	tu_rmdir(dir);
}

/* A launcher test TAG running one `sleep 1000` service on bus TAGbus:
 * its config text (TAG.ini), the bus file's path, its output on *fd. */
static pid_t sleeper_up(const char *tag, char *text, size_t len, char *bus_file, int *fd)
{
	up_begin(tag);
	snprintf(bus_file, 256, "%s/shmbus.%sbus", dir, tag);
	snprintf(text, len,
	         "[bus]\nname = %sbus\narena_mb = 2\n[launcher]\nstatus_file = %s\n"
	         "[service s]\ncommand = sleep\nargs = 1000\n",
	         tag, status_path);
	return up_start(tag, text, fd);
}

/* A launcher SIGKILLed (OOM, systemd's stop timeout) leaves its bus: the
 * next `up` failed on "already exists" until someone ran reclaim, so
 * systemd's Restart= failed for ever. It takes a bus none of whose
 * participants lives, and still refuses one in use. */
static void test_launcher_takes_over_bus_of_killed_launcher(void **state)
{
	(void)state;
	char text[1024], cfg[256], bus_file[256];
	static char out[8192];
	int fd;
	pid_t launcher = sleeper_up("tk", text, sizeof(text), bus_file, &fd);
	snprintf(cfg, sizeof(cfg), "%s/tk.ini", dir);
	pid_t s1 = wait_running("s", 0);
	assert_true(s1 > 0);
	assert_int_equal(kill(launcher, SIGKILL), 0);
	int st;
	assert_int_equal(waitpid(launcher, &st, 0), launcher);
	close(fd);
	for (int i = 0; i < 500 && kill(s1, 0) == 0; i++) /* PDEATHSIG: SIGTERM */
		tu_msleep(10);
	assert_int_not_equal(kill(s1, 0), 0);
	assert_int_equal(access(bus_file, F_OK), 0);

	shmbus_bus *user; /* a live participant: the bus is in use */
	assert_int_equal(shmbus_bus_open("tkbus", "user", SHMBUS_ROLE_TOOL, &user), 0);
	assert_int_equal(tu_run(out, sizeof(out), "%s up %s 2>&1", SHMBUSCTL_BIN, cfg), 1);
	assert_non_null(strstr(out, "exists"));
	assert_int_equal(shmbus_bus_close(user), 0);

	unlink(status_path); /* the killed launcher's last word */
	launcher = up_start("tk", text, &fd);
	pid_t s2 = wait_running("s", 0);
	assert_true(s2 > 0);
	assert_int_not_equal(s2, s1);
	char *log = up_stop(launcher, fd, 0);
	assert_non_null(strstr(log, "bus 'tkbus' left by an earlier run (no live participant) "
	                            "removed"));
	assert_non_null(strstr(log, "bus 'tkbus' removed"));
	assert_int_not_equal(access(bus_file, F_OK), 0);
	tu_rmdir(dir);
}

/* At its stop a launcher removes its bus only while the file is the one
 * it made: it removed by name, so after `destroy` and a new `create` (or
 * launcher) of that name it unlinked the other one's live bus. */
static void test_launcher_leaves_a_bus_that_is_not_its_own(void **state)
{
	(void)state;
	char text[1024], cfg2[256], bus_file[256];
	static char out[8192];
	int fd;
	pid_t launcher = sleeper_up("own", text, sizeof(text), bus_file, &fd);
	assert_true(wait_running("s", 0) > 0);
	assert_int_equal(tu_run(out, sizeof(out), "%s destroy ownbus", SHMBUSCTL_BIN), 1);
	assert_non_null(strstr(out, "1 live participant (pid "));
	assert_int_equal(tu_run(out, sizeof(out), "%s destroy ownbus --force", SHMBUSCTL_BIN), 0);
	snprintf(cfg2, sizeof(cfg2), "%s/other.ini", dir);
	assert_int_equal(tu_write(cfg2, "[bus]\nname = ownbus\narena_mb = 2\n"), 0);
	assert_int_equal(tu_run(out, sizeof(out), "%s create %s", SHMBUSCTL_BIN, cfg2), 0);
	char *log = up_stop(launcher, fd, 0);
	assert_non_null(strstr(log, "bus 'ownbus' is no longer the file this launcher made"));
	assert_null(strstr(log, "bus 'ownbus' removed"));
	assert_int_equal(access(bus_file, F_OK), 0);
	assert_int_equal(tu_run(out, sizeof(out), "%s destroy ownbus", SHMBUSCTL_BIN), 0);
	tu_rmdir(dir);
}

/* A `bus` key of [journal] or [bridge] wins over the SHMBUS_BUS the
 * launcher gives journald and the bridge: one that names another bus than
 * the launcher runs is refused (under `--bus test` they attached prod). */
static void test_launcher_refuses_other_bus_in_service_sections(void **state)
{
	(void)state;
	dir = tu_tmpdir();
	char cfg[256];
	static char out[8192];
	snprintf(cfg, sizeof(cfg), "%s/jb.ini", dir);
	assert_int_equal(tu_write(cfg, "[bus]\nname = prod\narena_mb = 2\n"
	                               "[journal]\nbus = prod\nring = journal.in\n"
	                               "[service s]\ncommand = sleep\nargs = 1000\n"),
	                 0);
	assert_int_equal( /* bounded: a launcher that took it would run on */
	    tu_run(out, sizeof(out), "timeout 10 %s --bus test up %s 2>&1", SHMBUSCTL_BIN, cfg),
	    1);
	assert_non_null(strstr(out, "jb.ini:5: [journal] bus: 'prod' is not the bus this "
	                            "launcher runs ('test')"));
	char path[256];
	snprintf(path, sizeof(path), "%s/shmbus.test", dir);
	assert_int_not_equal(access(path, F_OK), 0);
	tu_rmdir(dir);
}

static void test_launcher_refuses_bad_config(void **state)
{
	(void)state;
	dir = tu_tmpdir();
	char cfg[256], out[4096];
	snprintf(cfg, sizeof(cfg), "%s/bad.ini", dir);
	assert_int_equal(tu_write(cfg, "[service x]\nargs = 1\n"), 0);
	assert_int_equal(tu_run(out, sizeof(out), "%s up %s", SHMBUSCTL_BIN, cfg), 1);
	assert_non_null(strstr(out, "bad.ini:1: [service x] command: missing"));
	tu_rmdir(dir);
}

/* Is a status file's temporary (a name ending in .tmp) left in folder d? */
static bool tmp_left_in(const char *d)
{
	char out[1024];
	return tu_run(out, sizeof(out), "ls -a %s | grep '\\.tmp$'", d) == 0;
}

/* A status file that cannot be written is refused before anything starts
 * (it used to run blind, exit 0, and leave FILE.tmp beside a directory). */
static void test_launcher_refuses_unwritable_status_file(void **state)
{
	(void)state;
	dir = tu_tmpdir();
	assert_non_null(dir);
	char cfg[256], sdir[256], bus_file[256], out[4096];
	snprintf(cfg, sizeof(cfg), "%s/st.ini", dir);
	snprintf(sdir, sizeof(sdir), "%s/sd", dir);
	snprintf(bus_file, sizeof(bus_file), "%s/shmbus.sttest", dir);
	assert_int_equal(tu_write(cfg, "[bus]\nname = sttest\narena_mb = 2\n"
	                               "[service a]\ncommand = /bin/true\nrestart = never\n"),
	                 0);
	assert_int_equal(mkdir(sdir, 0700), 0);

	assert_int_equal(tu_run(out, sizeof(out), "timeout 10 %s up --status %s/none/st %s",
	                        SHMBUSCTL_BIN, dir, cfg),
	                 1);
	assert_non_null(strstr(out, "/none/st: cannot create"));
	assert_null(strstr(out, "started"));
	assert_int_not_equal(access(bus_file, F_OK), 0);

	assert_int_equal(
	    tu_run(out, sizeof(out), "timeout 10 %s up --status %s %s", SHMBUSCTL_BIN, sdir, cfg),
	    1);
	assert_non_null(strstr(out, "/sd: not a regular file (a directory)"));
	assert_false(tmp_left_in(dir));
	assert_int_not_equal(access(bus_file, F_OK), 0);

	/* A writable one is written, and no temporary is left. */
	char st[300], buf[1024];
	snprintf(st, sizeof(st), "%s/ok.status", dir);
	assert_int_equal(
	    tu_run(out, sizeof(out), "timeout 10 %s up --status %s %s", SHMBUSCTL_BIN, st, cfg), 0);
	assert_true(tu_read(st, buf, sizeof(buf)) > 0);
	assert_non_null(strstr(buf, "state=stopped"));
	assert_false(tmp_left_in(dir));
	tu_rmdir(dir);
}

/* Two launchers given the same status file (one config run twice under
 * --bus) each write it whole and leave no temporary: both wrote
 * FILE.tmp, so one renamed the other's half-written file into place, or
 * failed to rename its own ("rename into place failed": the other had
 * taken it), and the startup check unlinked the other's temporary. */
static void test_launcher_status_file_shared_by_two_launchers(void **state)
{
	(void)state;
	up_begin("two");
	char text[1024], cfg[256], out[4096];
	snprintf(cfg, sizeof(cfg), "%s/two.ini", dir);
	snprintf(text, sizeof(text),
	         "[bus]\narena_mb = 2\n[launcher]\nbackoff_initial_ms = 1\nbackoff_max_ms = 1\n"
	         "status_file = %s\n"
	         "[service a]\ncommand = /bin/true\nrestart = always\nrestart_max = 40\n"
	         "[service b]\ncommand = /bin/true\nrestart = always\nrestart_max = 40\n",
	         status_path);
	assert_int_equal(tu_write(cfg, text), 0);
	/* each run writes the file some 160 times, at the same time as the other */
	assert_int_equal(tu_run(out, sizeof(out),
	                        "timeout 60 %s --bus two1 up %s > %s/o1 2>&1 & "
	                        "timeout 60 %s --bus two2 up %s > %s/o2 2>&1 & wait; "
	                        "grep -h 'status file\\|gave up' %s/o1 %s/o2",
	                        SHMBUSCTL_BIN, cfg, dir, SHMBUSCTL_BIN, cfg, dir, dir, dir),
	                 0);
	if (strstr(out, "status file"))
		fail_msg("want every status write to succeed, got:\n%s", out);
	assert_non_null(strstr(out, "gave up")); /* both ran their course */
	char buf[1024];
	assert_true(tu_read(status_path, buf, sizeof(buf)) > 0);
	assert_non_null(strstr(buf, "state=stopped"));
	assert_false(tmp_left_in(dir));
	tu_rmdir(dir);
}

/* A fork() that fails (EAGAIN: the host, the user or the cgroup is out
 * of processes) is backed off and counted like a crash, and restart_max
 * gives it up: the launcher retried at backoff_initial_ms for ever, never
 * doubling, never counting, never giving up. */
static void test_launcher_backs_off_failed_forks(void **state)
{
	(void)state;
	up_begin("ff");
	char text[1024], cfg[256], buf[1024];
	static char out[8192];
	snprintf(cfg, sizeof(cfg), "%s/ff.ini", dir);
	snprintf(text, sizeof(text),
	         "[bus]\nname = ffbus\narena_mb = 2\n"
	         "[launcher]\nbackoff_initial_ms = 20\nbackoff_max_ms = 60\nstatus_file = %s\n"
	         "[service a]\ncommand = sleep\nargs = 1000\nrestart = on-failure\n"
	         "restart_max = 3\n",
	         status_path);
	assert_int_equal(tu_write(cfg, text), 0);
	/* bounded: a launcher that retries for ever is stopped by timeout */
	int rc = tu_run(out, sizeof(out),
	                "ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0 "
	                "timeout -s INT 10 env LD_PRELOAD=%s %s up %s",
	                FORK_FAIL_LIB, SHMBUSCTL_BIN, cfg);
	if (rc != 1 ||
	    !strstr(out, "service a: fork failed: Resource temporarily unavailable; restart 1 in "
	                 "20 ms") ||
	    !strstr(out, "restart 2 in 40 ms") || !strstr(out, "restart 3 in 60 ms") ||
	    !strstr(out, "gave up after 3 restarts in a row"))
		fail_msg("want 3 restarts backed off, then given up (exit 1), got %d:\n%.2000s", rc,
		         out);
	assert_true(tu_read(status_path, buf, sizeof(buf)) > 0);
	assert_non_null(strstr(buf, "state=failed restarts=3 last_exit=fork:11"));
	tu_rmdir(dir);
}

/* ---- the pipeline services: this program run as `--svc ROLE ...` ----
 * src:   publishes 200 events of type 32 at once, then idles (another 200
 *        on each SIGUSR1); on SIGTERM it flushes late (300 ms) one event of
 *        type 33. It announces types 32 and 33. `src stubborn` ignores
 *        SIGTERM: it ends by the SIGKILL after its grace.
 * stage: subscribes RING after 300 ms, forwards each event as type 34; on
 *        SIGTERM drains, then flushes late one event of type 35. It
 *        announces types 34 and 35.
 * sink:  subscribes RING after 300 ms, counts types 32..35; on SIGTERM
 *        drains and writes the four counts to FILE, then whether src's and
 *        stage's producers had closed when its SIGTERM came (1 or 0).
 *        With a 5th argument `hb` it has a producer that announces
 *        heartbeats (publishing none), as every stage with an
 *        end-of-stream marker does; with `slow` it subscribes after 3 s
 *        (a journald recovering a long segment).
 * Each producer, once closed, leaves ROLE.closed beside the config.
 * A sink stopped with or before its producers misses their late flushes;
 * a source started before the consumers subscribe is routed around them. */
static volatile sig_atomic_t svc_stop, svc_burst;
static unsigned svc_counts[4], svc_closed_at_term[2];
static shmbus_producer *svc_out;

/* ROLE.closed beside the launcher's config ($SHMBUS_CONFIG). */
static const char *svc_marker(const char *role)
{
	static char path[2][512];
	static int k;
	char *p = path[k++ % 2];
	const char *cfg = getenv("SHMBUS_CONFIG");
	const char *slash = cfg ? strrchr(cfg, '/') : NULL;
	snprintf(p, 512, "%.*s/%s.closed", slash ? (int)(slash - cfg) : 1, slash ? cfg : ".",
	         role);
	return p;
}

static void svc_on_term(int sig)
{
	(void)sig;
	svc_stop = 1;
}

static void svc_on_usr1(int sig)
{
	(void)sig;
	svc_burst = 1;
}

static void svc_publish(uint16_t type)
{
	struct shmbus_event_header ev;
	memset(&ev, 0, sizeof(ev));
	ev.type = type;
	ev.size = sizeof(ev);
	shmbus_publish(svc_out, &ev);
}

static void svc_on_event(const struct shmbus_event_header *ev, void *ctx)
{
	(void)ctx;
	if (ev->type >= 32 && ev->type <= 35)
		svc_counts[ev->type - 32]++;
	if (svc_out && ev->type == 32)
		svc_publish(34);
}

static int svc_main(int argc, char **argv)
{
	const char *role = argv[2];
	shmbus_bus *bus;
	shmbus_consumer *c = NULL;
	struct shmbus_producer_opts po;
	bool stubborn = argc > 3 && strcmp(argv[3], "stubborn") == 0;
	signal(SIGTERM, stubborn ? SIG_IGN : svc_on_term);
	signal(SIGUSR1, svc_on_usr1);
	if (shmbus_bus_open(getenv("SHMBUS_BUS"), role, SHMBUS_ROLE_SERVICE, &bus) != 0)
		return 1;
	shmbus_producer_opts_init(&po);
	bool src = strcmp(role, "src") == 0;
	if (strcmp(role, "sink") != 0 &&
	    (shmbus_producer_open(bus, &po, &svc_out) != 0 ||
	     shmbus_producer_announce(svc_out, SHMBUS_TYPE_BIT(src ? 32 : 34) |
	                                           SHMBUS_TYPE_BIT(src ? 33 : 35)) != 0))
		return 1;
	if (src)
		for (int i = 0; i < 200; i++)
			svc_publish(32);
	else if (argc < 4 ||
	         (tu_msleep(argc > 5 && strcmp(argv[5], "slow") == 0 ? 3000 : 300),
	          shmbus_subscribe(bus, argv[3], NULL, &c)) != 0)
		return 1;
	shmbus_producer *hb = NULL;
	if (argc > 5 && strcmp(argv[5], "hb") == 0 &&
	    (shmbus_producer_open(bus, &po, &hb) != 0 ||
	     shmbus_producer_announce(hb, SHMBUS_TYPE_BIT(SHMBUS_EV_HEARTBEAT)) != 0))
		return 1;
	while (!svc_stop) {
		if (svc_burst && svc_out) {
			svc_burst = 0;
			for (int i = 0; i < 200; i++)
				svc_publish(32);
		}
		if (!c || shmbus_poll(c, svc_on_event, NULL, 64) == 0)
			tu_msleep(1);
	}
	/* What had stopped feeding it when its SIGTERM came (the launcher stops
	 * a consumer once no producer feeds it; a process may still be
	 * finishing after it closed its producer, so "ended" lines may come in
	 * either order). */
	svc_closed_at_term[0] = access(svc_marker("src"), F_OK) == 0;
	svc_closed_at_term[1] = access(svc_marker("stage"), F_OK) == 0;
	while (c && shmbus_poll(c, svc_on_event, NULL, 64) > 0)
		;
	if (svc_out) {
		tu_msleep(300);
		svc_publish(src ? 33 : 35);
		shmbus_producer_close(svc_out);
		tu_write(svc_marker(role), "closed\n");
	}
	if (strcmp(role, "sink") == 0 && argc > 4) {
		char text[128];
		snprintf(text, sizeof(text), "%u %u %u %u %u %u\n", svc_counts[0], svc_counts[1],
		         svc_counts[2], svc_counts[3], svc_closed_at_term[0], svc_closed_at_term[1]);
		tu_write(argv[4], text);
	}
	if (hb)
		shmbus_producer_close(hb);
	if (c)
		shmbus_consumer_close(c);
	shmbus_bus_close(bus);
	return 0;
}

/* Wait (up to 20 s) until ring `ring` of bus `bus` delivered `n` events. */
static bool wait_delivered(const char *bus, const char *ring, uint64_t n)
{
	shmbus_bus *b = NULL;
	struct shmbus_ring_stat st = {0};
	for (int i = 0; i < 2000; i++, tu_msleep(10)) {
		if (!b && shmbus_bus_open_readonly(bus, &b) != 0)
			continue;
		int idx = shmbus_stat_find_ring(b, ring);
		if (idx >= 0 && shmbus_stat_ring(b, (uint32_t)idx, &st) == 0 && st.delivered >= n)
			break;
	}
	if (b)
		shmbus_bus_close(b);
	return st.delivered >= n;
}

/* The pipeline of run_pipeline_with: src's arguments, the types of the
 * stage's ring and of the sink's, the launcher's stop_grace_ms, whether
 * the sink announces heartbeats, and how many of src's first burst reach
 * the sink (directly or through the stage) before the stop. */
struct pl_cfg {
	const char *src_args, *stage_types, *sink_types;
	unsigned grace_ms;
	bool sink_hb;
	unsigned burst;
};

/* Run src -> stage -> sink (listed in that order: sources first) under
 * the launcher, stop it, and read what the sink counted. */
static void run_pipeline_with(const struct pl_cfg *pc, unsigned counts[6], char *out,
                              size_t outlen)
{
	up_begin("pl");
	char self[256], sink_out[256], text[2048];
	self_exe(self, sizeof(self));
	snprintf(sink_out, sizeof(sink_out), "%s/sink.out", dir);
	snprintf(text, sizeof(text),
	         "[bus]\nname = pltest\narena_mb = 4\n"
	         "[launcher]\nstop_grace_ms = %u\nstatus_file = %s\n"
	         "[ring stage.in]\ntypes = %s\ncapacity = 1024\n"
	         "[ring sink.in]\ntypes = %s\ncapacity = 1024\n"
	         "[service src]\ncommand = %s\nargs = %s\nrestart = never\n"
	         "[service stage]\ncommand = %s\nargs = --svc stage stage.in\nrestart = never\n"
	         "[service sink]\ncommand = %s\nargs = --svc sink sink.in %s%s\nrestart = never\n",
	         pc->grace_ms, status_path, pc->stage_types, pc->sink_types, self, pc->src_args,
	         self, self, sink_out, pc->sink_hb ? " hb" : "");
	int fd;
	pid_t launcher = up_start("pl", text, &fd);
	assert_true(wait_running("src", 0) > 0);
	assert_true(wait_running("stage", 0) > 0);
	assert_true(wait_running("sink", 0) > 0);
	/* the burst is through (a fixed 500 ms did not always suffice on a
	 * loaded machine, and a stop before src published anything saw no
	 * producer feeding any ring) */
	assert_true(wait_delivered("pltest", "sink.in", pc->burst));
	if (pc->sink_hb) /* a routing change: the sink's producer sees the rings */
		tu_msleep(100);
	assert_int_equal(kill(launcher, SIGTERM), 0);
	int st;
	assert_int_equal(waitpid(launcher, &st, 0), launcher);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
	size_t len = 0; /* everything: the launcher and its services are gone */
	for (ssize_t got; len < outlen - 1 && (got = read(fd, out + len, outlen - 1 - len)) > 0;)
		len += (size_t)got;
	out[len] = '\0';
	close(fd);
	char res[128] = "";
	assert_true(tu_read(sink_out, res, sizeof(res)) > 0);
	assert_int_equal(sscanf(res, "%u %u %u %u %u %u", &counts[0], &counts[1], &counts[2],
	                        &counts[3], &counts[4], &counts[5]),
	                 6);
	tu_rmdir(dir);
}

/* run_pipeline_with src's defaults, a sink that takes src's and the
 * stage's types and a long grace. The stage's ring takes `stage_types`
 * (with type 33 alone: src's late flush, which the stage does not
 * forward, so it publishes only its own late flush; the sink then sees
 * src's burst directly only); `sink_hb`: the sink announces heartbeats. */
static void run_pipeline(const char *stage_types, bool sink_hb, unsigned counts[6], char *out,
                         size_t outlen)
{
	const struct pl_cfg pc = {"--svc src", stage_types, "32, 33, 34, 35", 5000, sink_hb,
	                          strcmp(stage_types, "33") ? 400 : 200};
	run_pipeline_with(&pc, counts, out, outlen);
}

/* A launcher running src and sink (sink.in takes types 32 and 33; the
 * sink subscribes 3 s after its start when `slow`), the sink SIGKILLed
 * after the first burst and restarted: what the restarts tests share. */
struct restart_run {
	char bus[32], sink_out[256], out[8192];
	int fd;
	pid_t launcher, src, sink;
};

static void restart_run_start(struct restart_run *r, const char *tag, bool slow)
{
	char self[256], text[2048];
	up_begin(tag);
	self_exe(self, sizeof(self));
	snprintf(r->bus, sizeof(r->bus), "%stest", tag);
	snprintf(r->sink_out, sizeof(r->sink_out), "%s/sink.out", dir);
	snprintf(text, sizeof(text),
	         "[bus]\nname = %s\narena_mb = 4\n"
	         "[launcher]\nbackoff_initial_ms = 50\nstatus_file = %s\n"
	         "[ring sink.in]\ntypes = 32, 33\ncapacity = 1024\n"
	         "[service src]\ncommand = %s\nargs = --svc src\nrestart = never\n"
	         "[service sink]\ncommand = %s\nargs = --svc sink sink.in %s%s\n",
	         r->bus, status_path, self, self, r->sink_out, slow ? " slow" : "");
	r->launcher = up_start(tag, text, &r->fd);
	r->src = wait_running("src", 0);
	r->sink = wait_running("sink", 0);
	assert_true(r->src > 0 && r->sink > 0);
	assert_true(wait_delivered(r->bus, "sink.in", 200)); /* the first burst */
	assert_int_equal(kill(r->sink, SIGKILL), 0);
	r->sink = wait_running("sink", 1);
	assert_true(r->sink > 0);
}

/* Stop the launcher (exit 0, its output kept in r->out); the sink's six
 * counts into c. */
static void restart_run_stop(struct restart_run *r, unsigned c[6])
{
	char res[128] = "";
	size_t len = 0;
	int st;
	assert_int_equal(kill(r->launcher, SIGTERM), 0);
	assert_int_equal(waitpid(r->launcher, &st, 0), r->launcher);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
	for (ssize_t got; len < sizeof(r->out) - 1 &&
	                  (got = read(r->fd, r->out + len, sizeof(r->out) - 1 - len)) > 0;)
		len += (size_t)got;
	r->out[len] = '\0';
	close(r->fd);
	if (tu_read(r->sink_out, res, sizeof(res)) <= 0)
		fail_msg("the sink wrote no counts; the launcher said:\n%s", r->out);
	assert_int_equal(sscanf(res, "%u %u %u %u %u %u", &c[0], &c[1], &c[2], &c[3], &c[4], &c[5]),
	                 6);
	tu_rmdir(dir);
}

/* A consumer that dies and is restarted keeps its ring meanwhile: what
 * the source publishes before the new instance subscribes waits for it.
 * The launcher used to orphan the ring at once, so those events were
 * routed around: a gap in the journal at every journald restart. */
static void test_launcher_restarting_consumer_keeps_its_ring(void **state)
{
	(void)state;
	struct restart_run r;
	restart_run_start(&r, "rs", false);
	/* restarted: it subscribes 300 ms after its start; burst before that */
	assert_int_equal(kill(r.src, SIGUSR1), 0);
	assert_true(wait_delivered(r.bus, "sink.in", 400)); /* the second */
	unsigned c[6];
	restart_run_stop(&r, c);
	assert_int_equal(c[0], 200); /* the second burst, all of it */
	assert_int_equal(c[1], 1);   /* and src's flush at the stop */
}

/* A restarted consumer that takes long to subscribe (a journald
 * recovering its last segment) keeps its ring until it has: the launcher
 * used to reap the bus at its next turn (within a second of the start),
 * which orphaned the ring of the dead instance, and what the source
 * published before the new one subscribed was routed around. */
static void test_launcher_keeps_the_ring_until_the_restart_subscribes(void **state)
{
	(void)state;
	struct restart_run r;
	restart_run_start(&r, "rw", true);
	/* past the launcher's turn (about a second), before the new sink
	 * subscribes (3 s after its start) */
	tu_msleep(1500);
	assert_int_equal(kill(r.src, SIGUSR1), 0);
	wait_delivered(r.bus, "sink.in", 400); /* the second, when it is not lost */
	unsigned c[6];
	restart_run_stop(&r, c);
	assert_int_equal(c[0], 200); /* the second burst, all of it */
	assert_int_equal(c[1], 1);   /* and src's flush at the stop */
}

/* An `up --keep` while a launcher runs that bus is refused, and leaves
 * the bus as it was: the ring of a consumer being restarted still waits
 * for it. It used to reap the bus before it looked for live participants,
 * which orphaned that ring, and what the source published until the new
 * instance subscribed was routed around. */
static void test_launcher_second_up_leaves_a_running_bus_alone(void **state)
{
	(void)state;
	struct restart_run r;
	char out[4096];
	restart_run_start(&r, "ru", true);
	/* the sink's restart subscribes 3 s after its start */
	int rc =
	    tu_run(out, sizeof(out), "timeout 10 %s up --keep --status %s/second.status %s/ru.ini",
	           SHMBUSCTL_BIN, dir, dir);
	assert_int_equal(kill(r.src, SIGUSR1), 0);
	wait_delivered(r.bus, "sink.in", 400); /* the second, when it is not lost */
	unsigned c[6];
	restart_run_stop(&r, c);
	assert_int_equal(rc, 1);
	assert_non_null(strstr(out, "is in use by pid"));
	assert_int_equal(c[0], 200); /* the second burst, all of it */
	assert_int_equal(c[1], 1);   /* and src's flush at the stop */
}

/* Wait (up to 10 s) until process `pid` is attached to bus `bus` (its
 * signal handlers are in place by then). */
static bool wait_attached(const char *bus, pid_t pid)
{
	bool found = false;
	for (int i = 0; i < 1000 && !found; i++, tu_msleep(10)) {
		shmbus_bus *b;
		struct shmbus_bus_info bi;
		struct shmbus_participant_stat ps;
		if (shmbus_bus_open_readonly(bus, &b) != 0)
			continue;
		for (uint32_t k = 0; shmbus_stat_bus(b, &bi) == 0 && k < bi.max_participants; k++)
			found |=
			    shmbus_stat_participant(b, k, &ps) == 0 && ps.alive && ps.pid == pid;
		shmbus_bus_close(b);
	}
	return found;
}

/* A stop that comes while a restarted consumer has not subscribed yet:
 * the consumer is stopped after its source all the same, and gets the
 * source's late flush. It used to have no feeders (it consumed no ring
 * yet), so it was SIGTERMed with the source, and the stop's reaping had
 * orphaned the ring that waited for it. */
static void test_launcher_stops_a_starting_consumer_after_its_source(void **state)
{
	(void)state;
	struct restart_run r;
	restart_run_start(&r, "rt", true);
	assert_true(wait_attached(r.bus, r.sink)); /* subscribes 3 s after it */
	unsigned c[6];
	restart_run_stop(&r, c);
	if (c[1] != 1 || c[4] != 1)
		fail_msg("sink got %u src flushes, src closed %u at its SIGTERM; the launcher "
		         "said:\n%s",
		         c[1], c[4], r.out);
}

/* A stop while a restarted consumer (late) has not subscribed yet: the
 * launcher frees no dead producer's slot meanwhile (the ring of late's
 * dead instance waits for it), but a producer whose process is gone
 * feeds nothing any more. src ignores SIGTERM and is SIGKILLed after its
 * grace, its producer left open; the stage, fed by src alone, is stopped
 * once src is gone, and the sink only after the stage's late flush. The
 * killed src used to count as the stage's feeder until the reap, so the
 * stall fallback SIGTERMed the stage and the sink (one feeder each)
 * together, and the sink missed the stage's flush. */
static void test_launcher_stop_order_skips_exited_producers(void **state)
{
	(void)state;
	up_begin("dx");
	char self[256], sink_out[256], late_out[256], text[4096];
	self_exe(self, sizeof(self));
	snprintf(sink_out, sizeof(sink_out), "%s/sink.out", dir);
	snprintf(late_out, sizeof(late_out), "%s/late.out", dir);
	snprintf(text, sizeof(text),
	         "[bus]\nname = dxtest\narena_mb = 4\n"
	         "[launcher]\nstop_grace_ms = 600\nbackoff_initial_ms = 50\nstatus_file = %s\n"
	         "[ring stage.in]\ntypes = 32, 33\ncapacity = 1024\n"
	         "[ring sink.in]\ntypes = 34, 35\ncapacity = 1024\n"
	         "[ring late.in]\ntypes = 32, 33\ncapacity = 1024\n"
	         "[service src]\ncommand = %s\nargs = --svc src stubborn\nrestart = never\n"
	         "[service stage]\ncommand = %s\nargs = --svc stage stage.in\nrestart = never\n"
	         "[service sink]\ncommand = %s\nargs = --svc sink sink.in %s\nrestart = never\n"
	         "[service late]\ncommand = %s\nargs = --svc sink late.in %s slow\n",
	         status_path, self, self, self, sink_out, self, late_out);
	int fd;
	pid_t launcher = up_start("dx", text, &fd);
	pid_t late = wait_running("late", 0);
	assert_true(late > 0);
	assert_true(wait_running("src", 0) > 0);
	assert_true(wait_delivered("dxtest", "sink.in", 200)); /* src's burst, through the stage */
	assert_int_equal(kill(late, SIGKILL), 0);
	late = wait_running("late", 1);
	assert_true(late > 0);
	assert_true(wait_attached("dxtest", late)); /* subscribes 3 s after it */
	assert_int_equal(kill(launcher, SIGTERM), 0);
	int st;
	assert_int_equal(waitpid(launcher, &st, 0), launcher);
	char out[8192], res[128] = "";
	size_t len = 0;
	for (ssize_t got;
	     len < sizeof(out) - 1 && (got = read(fd, out + len, sizeof(out) - 1 - len)) > 0;)
		len += (size_t)got;
	out[len] = '\0';
	close(fd);
	unsigned c[6] = {0};
	assert_true(tu_read(sink_out, res, sizeof(res)) > 0);
	assert_int_equal(sscanf(res, "%u %u %u %u %u %u", &c[0], &c[1], &c[2], &c[3], &c[4], &c[5]),
	                 6);
	tu_rmdir(dir);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
	assert_int_equal(c[2], 200);
	assert_non_null(strstr(out, "service src still running 600 ms after SIGTERM: SIGKILL"));
	if (c[3] != 1 || c[5] != 1)
		fail_msg("sink got %u stage flushes, stage closed %u at its SIGTERM; the launcher "
		         "said:\n%s",
		         c[3], c[5], out);
}

/* The source waits until its consumers have subscribed, though it is
 * listed first: none of its first events is routed around them. */
static void test_launcher_starts_sources_after_consumers_subscribe(void **state)
{
	(void)state;
	unsigned c[6];
	char out[8192];
	run_pipeline("32, 33", false, c, out, sizeof(out));
	assert_int_equal(c[0], 200); /* src's burst, directly */
	assert_int_equal(c[2], 200); /* src's burst, through the stage */
}

/* Stop: src first, then the stage once src is gone, then the sink once the
 * stage is gone: the sink gets both late flushes. */
static void test_launcher_stops_producers_before_consumers(void **state)
{
	(void)state;
	unsigned c[6];
	char out[8192];
	run_pipeline("32, 33", false, c, out, sizeof(out));
	assert_int_equal(c[1], 1); /* src's flush */
	assert_int_equal(c[3], 1); /* the stage's flush */
	/* the sink was stopped only once both its feeders had closed */
	if (c[4] != 1 || c[5] != 1)
		fail_msg("sink stopped with src closed %u, stage closed %u; the launcher said:\n%s",
		         c[4], c[5], out);
	const char *src = strstr(out, "service src ended");
	const char *stage = strstr(out, "service stage ended");
	if (!(src && stage && src < stage))
		fail_msg("services did not end src, then stage; the launcher said:\n%s", out);
}

/* A stage that has published nothing yet still feeds the sink: it
 * announced its types, so the sink is stopped only after the stage's late
 * flush. The launcher used to count only producers that had delivered to
 * a ring, and stopped the sink together with the stage (once src, which
 * feeds both, had exited). */
static void test_launcher_waits_for_quiet_stage(void **state)
{
	(void)state;
	unsigned c[6];
	char out[8192];
	run_pipeline("33", false, c, out, sizeof(out));
	assert_int_equal(c[0], 200);
	assert_int_equal(c[1], 1); /* src's flush */
	assert_int_equal(c[2], 0); /* the stage got nothing to forward */
	if (c[3] != 1 || c[5] != 1)
		fail_msg("sink got %u stage flushes, stage closed %u at its SIGTERM; the launcher "
		         "said:\n%s",
		         c[3], c[5], out);
}

/* Every stage announces heartbeats (its end-of-stream marker), and a
 * stage's input ring takes them: the sink's marker reaches the stage's
 * ring. That does not make the sink the stage's upstream: the sink still
 * stops after the stage's late flush. Counted, it made the two feed each
 * other, and the stall fallback stopped them together. */
static void test_launcher_heartbeats_make_no_cycle(void **state)
{
	(void)state;
	unsigned c[6];
	char out[8192];
	run_pipeline("32, 33, heartbeat", true, c, out, sizeof(out));
	assert_int_equal(c[0], 200);
	assert_int_equal(c[2], 200);
	if (c[1] != 1 || c[3] != 1 || c[4] != 1 || c[5] != 1)
		fail_msg("sink got %u src and %u stage flushes, src closed %u and stage %u at its "
		         "SIGTERM; the launcher said:\n%s",
		         c[1], c[3], c[4], c[5], out);
}

/* A source that outlives its grace is SIGKILLed; the stage it fed is
 * stopped after that, and the sink, which only the stage feeds, after
 * the stage's late flush. The wait for the source's grace used to count
 * as a stall: at the SIGKILL the stage (fed by the dying source) and the
 * sink (fed by the stage) both had the fewest feeders, one, and were
 * SIGTERMed together, so the sink missed the stage's flush. */
static void test_launcher_stops_in_order_after_a_sigkill(void **state)
{
	(void)state;
	unsigned c[6];
	char out[8192];
	const struct pl_cfg pc = {"--svc src stubborn", "32, 33", "34, 35", 600, false, 200};
	run_pipeline_with(&pc, c, out, sizeof(out));
	assert_int_equal(c[2], 200); /* src's burst, through the stage */
	/* with where it was: its threads, from /proc */
	assert_non_null(strstr(out, "service src still running 600 ms after SIGTERM: SIGKILL "
	                            "(threads: "));
	if (c[3] != 1 || c[5] != 1)
		fail_msg("sink got %u stage flushes, stage closed %u at its SIGTERM; the launcher "
		         "said:\n%s",
		         c[3], c[5], out);
}

/* A launcher started with its stop signals blocked (a supervisor's
 * inherited mask) gave that mask to every service: a service that does
 * not unblock SIGTERM itself (a plain command, a shell wrapper) never got
 * the stop's SIGTERM and was SIGKILLed after its grace. */
static void test_launcher_services_get_stop_signals_unblocked(void **state)
{
	(void)state;
	char text[1024], bus_file[256], path[64], buf[4096];
	int fd;
	sigset_t stop, old;
	sigemptyset(&stop);
	sigaddset(&stop, SIGTERM);
	sigaddset(&stop, SIGINT);
	assert_int_equal(sigprocmask(SIG_BLOCK, &stop, &old), 0);
	pid_t launcher = sleeper_up("mask", text, sizeof(text), bus_file, &fd);
	assert_int_equal(sigprocmask(SIG_SETMASK, &old, NULL), 0);
	pid_t s = wait_running("s", 0);
	assert_true(s > 0);
	snprintf(path, sizeof(path), "/proc/%d/status", (int)s);
	assert_true(tu_read(path, buf, sizeof(buf)) > 0);
	const char *blk = strstr(buf, "SigBlk:");
	assert_non_null(blk);
	unsigned long long mask = strtoull(blk + 7, NULL, 16);
	char *out = up_stop(launcher, fd, 0);
	if (mask & ((1ULL << (SIGTERM - 1)) | (1ULL << (SIGINT - 1))))
		fail_msg("service started with SIGTERM or SIGINT blocked (SigBlk %llx):\n%s", mask,
		         out);
	assert_null(strstr(out, "after SIGTERM: SIGKILL"));
	tu_rmdir(dir);
}

/* A reader of the launcher's stdout that goes away does not kill it (it
 * used to die of SIGPIPE, and its services with it); services get SIGPIPE
 * back at its default. */
static void test_launcher_survives_closed_stdout(void **state)
{
	(void)state;
	up_begin("sp");
	char text[2048], sig[256], buf[4096];
	snprintf(sig, sizeof(sig), "%s/sigign", dir);
	snprintf(text, sizeof(text),
	         "[bus]\nname = sptest\narena_mb = 2\n"
	         "[launcher]\nbackoff_initial_ms = 20\nstatus_file = %s\n"
	         "[service a]\ncommand = /bin/sh\n"
	         "args = -c \"grep SigIgn /proc/self/status > %s.tmp; mv %s.tmp %s; "
	         "exec sleep 1000\"\n",
	         status_path, sig, sig, sig);
	int fd;
	pid_t launcher = up_start("sp", text, &fd);
	close(fd); /* before its first line */
	pid_t a = wait_running("a", 0);
	assert_true(a > 0);
	assert_int_equal(kill(a, SIGKILL), 0); /* the launcher prints about it */
	assert_true(wait_running("a", 1) > 0);
	assert_int_equal(kill(launcher, 0), 0);
	unsigned long long ign = ~0ULL;
	for (int i = 0; i < 500 && tu_read(sig, buf, sizeof(buf)) <= 0; i++)
		tu_msleep(10);
	assert_int_equal(kill(launcher, SIGTERM), 0);
	int st;
	assert_int_equal(waitpid(launcher, &st, 0), launcher);
	assert_int_equal(sscanf(buf, "SigIgn: %llx", &ign), 1);
	assert_int_equal(ign & (1ULL << (SIGPIPE - 1)), 0);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
	char ls[32];
	assert_int_equal(status_field("launcher", "state", ls, sizeof(ls)), 0);
	assert_string_equal(ls, "stopped");
	tu_rmdir(dir);
}

/* Gone or a zombie (an orphan waiting for init to reap it). */
static bool pid_gone(pid_t pid)
{
	char path[64], buf[512];
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if (tu_read(path, buf, sizeof(buf)) <= 0)
		return true;
	const char *p = strrchr(buf, ')');
	return p && p[1] == ' ' && p[2] == 'Z';
}

/* A service whose main process dies takes its process group with it: the
 * child it left does not outlive it (it would hold its ring). */
static void test_launcher_kills_group_of_crashed_service(void **state)
{
	(void)state;
	up_begin("pg");
	char text[2048], pidf[256], buf[64];
	snprintf(pidf, sizeof(pidf), "%s/child.pid", dir);
	snprintf(text, sizeof(text),
	         "[bus]\nname = pgtest\narena_mb = 2\n"
	         "[launcher]\nbackoff_initial_ms = 20\nstatus_file = %s\n"
	         "[service w]\ncommand = /bin/sh\n"
	         "args = -c \"sleep 1000 & echo $! > %s.tmp; mv %s.tmp %s; wait\"\n",
	         status_path, pidf, pidf, pidf);
	int fd;
	pid_t launcher = up_start("pg", text, &fd);
	pid_t w = wait_running("w", 0);
	assert_true(w > 0);
	pid_t child = 0;
	for (int i = 0; i < 500 && child <= 0; i++) {
		if (tu_read(pidf, buf, sizeof(buf)) > 0)
			child = (pid_t)atoi(buf);
		if (child <= 0)
			tu_msleep(10);
	}
	assert_true(child > 0);
	assert_int_equal(getpgid(child), w);
	assert_int_equal(kill(w, SIGKILL), 0);
	assert_true(wait_running("w", 1) > 0);
	bool gone = false;
	for (int i = 0; i < 300 && !(gone = pid_gone(child)); i++)
		tu_msleep(10);
	if (!gone) /* it would outlive the test and hold its stderr */
		kill(child, SIGKILL);
	assert_int_equal(kill(launcher, SIGTERM), 0);
	int st;
	assert_int_equal(waitpid(launcher, &st, 0), launcher);
	close(fd);
	tu_rmdir(dir);
	assert_true(gone);
}

int main(int argc, char **argv)
{
	if (argc > 2 && strcmp(argv[1], "--svc") == 0)
		return svc_main(argc, argv);
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_launcher_restarts_and_stops_cleanly),
	    cmocka_unit_test(test_launcher_substitutes_placeholders),
	    cmocka_unit_test(test_launcher_keep_reuses_the_bus),
	    cmocka_unit_test(test_launcher_does_not_restart_usage_errors),
	    cmocka_unit_test(test_launcher_restart_count_resets_after_healthy_run),
	    cmocka_unit_test(test_launcher_takes_over_bus_of_killed_launcher),
	    cmocka_unit_test(test_launcher_leaves_a_bus_that_is_not_its_own),
	    cmocka_unit_test(test_launcher_refuses_other_bus_in_service_sections),
	    cmocka_unit_test(test_launcher_refuses_bad_config),
	    cmocka_unit_test(test_launcher_refuses_unwritable_status_file),
	    cmocka_unit_test(test_launcher_status_file_shared_by_two_launchers),
	    cmocka_unit_test(test_launcher_backs_off_failed_forks),
	    cmocka_unit_test(test_launcher_starts_sources_after_consumers_subscribe),
	    cmocka_unit_test(test_launcher_stops_producers_before_consumers),
	    cmocka_unit_test(test_launcher_waits_for_quiet_stage),
	    cmocka_unit_test(test_launcher_heartbeats_make_no_cycle),
	    cmocka_unit_test(test_launcher_stops_in_order_after_a_sigkill),
	    cmocka_unit_test(test_launcher_restarting_consumer_keeps_its_ring),
	    cmocka_unit_test(test_launcher_keeps_the_ring_until_the_restart_subscribes),
	    cmocka_unit_test(test_launcher_second_up_leaves_a_running_bus_alone),
	    cmocka_unit_test(test_launcher_stops_a_starting_consumer_after_its_source),
	    cmocka_unit_test(test_launcher_stop_order_skips_exited_producers),
	    cmocka_unit_test(test_launcher_survives_closed_stdout),
	    cmocka_unit_test(test_launcher_services_get_stop_signals_unblocked),
	    cmocka_unit_test(test_launcher_kills_group_of_crashed_service),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
