/*
 * proc.c - who is alive. A pid alone can be reused by the kernel, so a
 * participant is identified by (pid, start time in clock ticks since boot,
 * field 22 of /proc/<pid>/stat), as Aeron identifies clients by id and
 * heartbeat rather than pid. Only called on cold paths.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bus_internal.h"

/* /proc/<pid>/<file> into buf (NUL-terminated). Returns its length, or
 * -1 when the process is gone (no such file, ESRCH), 0 when unreadable:
 * a caller out of file descriptors (EMFILE) or memory learns nothing of
 * the process, which must not then be taken for dead. */
static ssize_t proc_read(pid_t pid, const char *file, char *buf, size_t len)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, file);
	buf[0] = '\0';
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT || errno == ESRCH ? -1 : 0;
	ssize_t n = read(fd, buf, len - 1);
	int err = errno;
	close(fd);
	if (n < 0)
		return err == ESRCH ? -1 : 0;
	buf[n] = '\0';
	return n;
}

/* Field 22 (start time) of a /proc/<pid>/stat line, from p, its last ')'
 * (comm may hold spaces and ')': the fields restart after it); 0 if none. */
static uint64_t stat_start_time(const char *p)
{
	for (int field = 2; field < 22 && p; field++)
		p = strchr(p + 1, ' ');
	return p ? strtoull(p + 1, NULL, 10) : 0;
}

uint64_t proc_start_time(pid_t pid)
{
	char buf[1024];
	if (proc_read(pid, "stat", buf, sizeof(buf)) <= 0)
		return 0;
	const char *p = strrchr(buf, ')');
	return p ? stat_start_time(p) : 0;
}

uint64_t proc_self_start_time(void)
{
	/* Threads of one process may open buses at once: the pid is published
	 * after its start time (R20 / A20), so a thread never pairs this
	 * process's pid with its parent's start time (a forked child's first
	 * call finds the parent's pid cached and reads its own). Both writers
	 * of a race store the same values. An unreadable /proc (0) is not
	 * kept: the next call tries again. */
	static _Atomic uint64_t cached;
	static _Atomic pid_t cached_pid;
	pid_t me = getpid();
	if (load_acquire(&cached_pid) == me) /* A20 */
		return load_relaxed(&cached);
	uint64_t st = proc_start_time(me);
	if (st) {
		store_relaxed(&cached, st);
		store_release(&cached_pid, me); /* R20 */
	}
	return st;
}

/*
 * A thread-group leader that called pthread_exit() while other threads of
 * its process still run shows state Z as a dead process does; only the
 * thread count of /proc/<pid>/status tells them apart (a process that has
 * exited counts 1). Unreadable: one, the state alone decides as before.
 */
static long proc_threads(pid_t pid)
{
	char buf[4096];
	if (proc_read(pid, "status", buf, sizeof(buf)) <= 0)
		return 1;
	const char *t = strstr(buf, "\nThreads:");
	return t ? strtol(t + sizeof("\nThreads:") - 1, NULL, 10) : 1;
}

bool proc_alive(pid_t pid, uint64_t start_time)
{
	if (pid <= 0)
		return false;
	if (kill(pid, 0) != 0 && errno == ESRCH)
		return false;
	char buf[1024];
	if (proc_read(pid, "stat", buf, sizeof(buf)) < 0)
		return false; /* vanished between kill() and open() */
	const char *p = strrchr(buf, ')');
	if (!p || p[1] != ' ')
		return true; /* unreadable: assume alive, never skip wrongly */
	/* A zombie (Z) or dying (X) process will never commit or poll again;
	 * a Z leader whose threads run on is not one. */
	if (p[2] == 'X' || (p[2] == 'Z' && proc_threads(pid) <= 1))
		return false;
	/* A different start time is another process that reused the pid. */
	return start_time == 0 || stat_start_time(p) == start_time;
}

static _Atomic uint32_t proc_fork_count;
static pthread_once_t proc_fork_once = PTHREAD_ONCE_INIT;

static void proc_on_fork_child(void)
{
	fetch_add_relaxed(&proc_fork_count, 1);
}

static void proc_fork_handler(void)
{
	pthread_atfork(NULL, NULL, proc_on_fork_child);
}

uint32_t proc_forks(void)
{
	pthread_once(&proc_fork_once, proc_fork_handler);
	return load_relaxed(&proc_fork_count);
}
