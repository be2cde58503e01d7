/*
 * test_launcher.c - `shmbusctl up`: two services start pinned, a service
 * killed with SIGKILL is restarted and counted, and SIGTERM to the
 * launcher stops every service and removes the segment.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

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

static void test_launcher_restarts_and_stops_cleanly(void **state)
{
	(void)state;
	dir = tu_tmpdir();
	assert_non_null(dir);
	char cfg[256], text[1024], bus_file[256];
	snprintf(cfg, sizeof(cfg), "%s/up.ini", dir);
	snprintf(status_path, sizeof(status_path), "%s/up.status", dir);
	snprintf(bus_file, sizeof(bus_file), "%s/shmbus.uptest", dir);
	snprintf(text, sizeof(text),
	         "[bus]\nname = uptest\narena_mb = 2\n"
	         "[launcher]\nstop_grace_ms = 2000\nbackoff_initial_ms = 20\n"
	         "status_file = %s\n"
	         "[ring r]\ncapacity = 64\n"
	         "[service a]\ncommand = sleep\nargs = 1000\ncores = 0\nrestart = on-failure\n"
	         "[service b]\ncommand = /bin/sh\nargs = -c \"exec sleep 1000\"\n",
	         status_path);
	assert_int_equal(tu_write(cfg, text), 0);

	int fd;
	char *argv[] = {SHMBUSCTL_BIN, "up", cfg, NULL};
	pid_t launcher = tu_spawn(argv, &fd);
	assert_true(launcher > 0);

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

/* A status file that cannot be written is refused before anything starts
 * (it used to run blind, exit 0, and leave FILE.tmp beside a directory). */
static void test_launcher_refuses_unwritable_status_file(void **state)
{
	(void)state;
	dir = tu_tmpdir();
	assert_non_null(dir);
	char cfg[256], sdir[256], stmp[320], bus_file[256], out[4096];
	snprintf(cfg, sizeof(cfg), "%s/st.ini", dir);
	snprintf(sdir, sizeof(sdir), "%s/sd", dir);
	snprintf(stmp, sizeof(stmp), "%s.tmp", sdir);
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
	assert_int_not_equal(access(stmp, F_OK), 0);
	assert_int_not_equal(access(bus_file, F_OK), 0);

	/* A writable one is written, and no temporary is left. */
	char st[300], buf[1024];
	snprintf(st, sizeof(st), "%s/ok.status", dir);
	assert_int_equal(
	    tu_run(out, sizeof(out), "timeout 10 %s up --status %s %s", SHMBUSCTL_BIN, st, cfg), 0);
	assert_true(tu_read(st, buf, sizeof(buf)) > 0);
	assert_non_null(strstr(buf, "state=stopped"));
	snprintf(stmp, sizeof(stmp), "%s.tmp", st);
	assert_int_not_equal(access(stmp, F_OK), 0);
	tu_rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_launcher_restarts_and_stops_cleanly),
	    cmocka_unit_test(test_launcher_refuses_bad_config),
	    cmocka_unit_test(test_launcher_refuses_unwritable_status_file),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
