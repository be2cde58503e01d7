/*
 * pl_test.h - helpers of the pipeline tests: a fresh SHMBUS_DIR and work
 * folder per test file, running the built binaries as child processes with
 * their output captured to files, and reading the JSON they leave.
 *
 * The binaries' paths come from the build (PL_BIN_* definitions), so the
 * tests run exactly what was just built. Everything is static: each test
 * file is one unit.
 */
#ifndef SHMBUS_TEST_PIPELINE_H
#define SHMBUS_TEST_PIPELINE_H

#include <errno.h>
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <shmbus/shmbus.h>

#include "svc.h"
#include "test_fs.h"

static char pt_dir[256]; /* work folder (and SHMBUS_DIR) of this test file */

/* Make the work folder and point SHMBUS_DIR at it. 0 or -1. */
static inline int pt_setup(void **state)
{
	(void)state;
	snprintf(pt_dir, sizeof(pt_dir), "%s/shmbus-pltest-XXXXXX",
	         access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp");
	if (!mkdtemp(pt_dir)) {
		fprintf(stderr, "pt_setup: mkdtemp: %s\n", strerror(errno));
		return -1;
	}
	setenv("SHMBUS_DIR", pt_dir, 1);
	return 0;
}

/* Remove the work folder and everything in it. */
static inline int pt_teardown(void **state)
{
	(void)state;
	if (pt_dir[0])
		tfs_rm_rf(pt_dir);
	return 0;
}

/* Path of @name in the work folder (a static buffer per call slot). */
static inline const char *pt_path(const char *name)
{
	static char bufs[8][512];
	static int k;
	char *b = bufs[k++ % 8];

	snprintf(b, 512, "%s/%s", pt_dir, name);
	return b;
}

/*
 * Run argv (NULL-terminated) with stdout into @out_file and stderr into
 * @err_file (NULL: inherit). Returns the exit status (0..255), or 128+sig
 * when killed, or -1 when it could not run.
 */
static inline int pt_run(char *const argv[], const char *out_file, const char *err_file)
{
	pid_t pid = fork();
	int st;

	if (pid < 0)
		return -1;
	if (pid == 0) {
		if (out_file) {
			int fd = open(out_file, O_WRONLY | O_CREAT | O_TRUNC, 0644);
			if (fd >= 0)
				dup2(fd, 1);
		}
		if (err_file) {
			int fd = open(err_file, O_WRONLY | O_CREAT | O_TRUNC, 0644);
			if (fd >= 0)
				dup2(fd, 2);
		}
		execv(argv[0], argv);
		_exit(127);
	}
	if (waitpid(pid, &st, 0) != pid)
		return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/*
 * Start argv with stdout and stderr into @out; the child dies with the test
 * (also when a failed assertion skipped its kill). With @pending_sig not
 * 0 it starts with that signal blocked and already pending, as a parent
 * that blocked it passes both through exec. Returns its pid.
 */
static inline pid_t pt_spawn(char *const argv[], const char *out, int pending_sig)
{
	pid_t parent = getpid(), pid = fork();

	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent)
			_exit(127);
		int fd = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
		}
		if (pending_sig) {
			sigset_t set;
			sigemptyset(&set);
			sigaddset(&set, pending_sig);
			sigprocmask(SIG_BLOCK, &set, NULL);
			raise(pending_sig);
		}
		execv(argv[0], argv);
		_exit(127);
	}
	return pid;
}

/* The exit status of @pid within @secs seconds (128+sig when a signal
 * ended it), or -1 when it still ran then (it is SIGKILLed). */
static inline int pt_wait_exit(pid_t pid, int secs)
{
	int st;

	for (int i = 0; i < secs * 100; i++) {
		if (waitpid(pid, &st, WNOHANG) == pid)
			return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
		usleep(10000);
	}
	kill(pid, SIGKILL);
	waitpid(pid, &st, 0);
	return -1;
}

/* Contents of a file (malloc'd, NUL-terminated) or NULL. */
static inline char *pt_slurp(const char *path)
{
	return tfs_slurp(path);
}

/* Number @key of a flat JSON text, or -1 when absent. */
static inline double pt_json(const char *text, const char *key)
{
	double v;

	if (!text || shmbus_svc_json_get_f64(text, key, &v) != 0)
		return -1;
	return v;
}

/* Print a file to stderr (on failure, to show what a child said). */
static inline void pt_show(const char *path)
{
	char *t = pt_slurp(path);

	fprintf(stderr, "--- %s:\n%s\n", path, t ? t : "(unreadable)");
	free(t);
}

#endif /* SHMBUS_TEST_PIPELINE_H */
