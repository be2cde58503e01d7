/*
 * tool_proc.c - where a process that will not stop is (tool_proc.h).
 */
#define _GNU_SOURCE
#include "tool_proc.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Read a small /proc file into b (n bytes, terminated, trailing newline
 * cut). Returns its length, or -1. */
static ssize_t proc_read(const char *path, char *b, size_t n)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	ssize_t len;
	do
		len = read(fd, b, n - 1);
	while (len < 0 && errno == EINTR);
	close(fd);
	if (len < 0)
		return -1;
	while (len > 0 && (b[len - 1] == '\n' || b[len - 1] == '\0'))
		len--;
	b[len] = '\0';
	return len;
}

/* Append to buf at *at, never past n - 1. */
static void put(char *buf, size_t n, size_t *at, const char *fmt, ...)
{
	if (*at >= n - 1)
		return;
	va_list ap;
	va_start(ap, fmt);
	int w = vsnprintf(buf + *at, n - *at, fmt, ap);
	va_end(ap);
	if (w > 0)
		*at = (size_t)w < n - *at ? *at + (size_t)w : n - 1;
}

/* Name (comm, non-printing bytes as '?'), state word and wchan of task
 * tid of process pid (tid == pid: the process itself). */
static void put_task(char *buf, size_t n, size_t *at, pid_t pid, pid_t tid, int with_pid)
{
	char path[96], comm[64], state[256], wchan[96];
	const char *st = "?";
	snprintf(path, sizeof(path), "/proc/%d/task/%d/comm", (int)pid, (int)tid);
	if (proc_read(path, comm, sizeof(comm)) < 0)
		snprintf(comm, sizeof(comm), "?");
	for (char *c = comm; *c; c++)
		if (!isprint((unsigned char)*c) || *c == ',' || *c == ';')
			*c = '?';
	/* status carries "State:\tS (sleeping)"; stat's comm may hold ')' */
	snprintf(path, sizeof(path), "/proc/%d/task/%d/status", (int)pid, (int)tid);
	if (proc_read(path, state, sizeof(state)) > 0) {
		char *s = strstr(state, "State:");
		if (s) {
			s += strlen("State:");
			s += strspn(s, " \t");
			s[strcspn(s, "\n")] = '\0';
			st = s;
		}
	}
	snprintf(path, sizeof(path), "/proc/%d/task/%d/wchan", (int)pid, (int)tid);
	if (proc_read(path, wchan, sizeof(wchan)) <= 0 || strcmp(wchan, "0") == 0)
		snprintf(wchan, sizeof(wchan), "-");
	if (with_pid)
		put(buf, n, at, "%d %s %s %s", (int)tid, comm, st, wchan);
	else
		put(buf, n, at, "%s %s %s", comm, st, wchan);
}

static int is_number(const char *s)
{
	if (!*s)
		return 0;
	for (; *s; s++)
		if (!isdigit((unsigned char)*s))
			return 0;
	return 1;
}

const char *tool_proc_describe(pid_t pid, char *buf, size_t n)
{
	char path[64];
	size_t at = 0;
	if (!buf || n == 0)
		return buf;
	buf[0] = '\0';
	snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
	DIR *d = opendir(path);
	if (!d) {
		put(buf, n, &at, "gone");
		return buf;
	}
	unsigned listed = 0, more = 0;
	put(buf, n, &at, "threads: ");
	struct dirent *e;
	while ((e = readdir(d)) != NULL) {
		if (!is_number(e->d_name))
			continue;
		if (listed == TOOL_PROC_LIST) {
			more++;
			continue;
		}
		put(buf, n, &at, listed++ ? ", " : "");
		put_task(buf, n, &at, pid, (pid_t)atoi(e->d_name), 0);
	}
	closedir(d);
	if (more)
		put(buf, n, &at, ", +%u more", more);
	/* Children of every thread (CONFIG_PROC_CHILDREN); none: nothing said */
	char kids[1024];
	listed = more = 0;
	snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
	if ((d = opendir(path)) != NULL) {
		while ((e = readdir(d)) != NULL) {
			if (!is_number(e->d_name))
				continue;
			char kpath[320];
			snprintf(kpath, sizeof(kpath), "/proc/%d/task/%s/children", (int)pid,
			         e->d_name);
			if (proc_read(kpath, kids, sizeof(kids)) <= 0)
				continue;
			for (char *save = NULL, *k = strtok_r(kids, " ", &save); k;
			     k = strtok_r(NULL, " ", &save)) {
				if (listed == TOOL_PROC_LIST) {
					more++;
					continue;
				}
				put(buf, n, &at, listed++ ? ", " : "; children: ");
				put_task(buf, n, &at, (pid_t)atoi(k), (pid_t)atoi(k), 1);
			}
		}
		closedir(d);
	}
	if (more)
		put(buf, n, &at, ", +%u more", more);
	return buf;
}

int tool_stop_signals(void (*on_stop)(int))
{
	struct sigaction sa;
	sigset_t stop;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_stop;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGTERM, &sa, NULL) != 0 || sigaction(SIGINT, &sa, NULL) != 0)
		return -errno;
	sa.sa_handler = SIG_IGN;
	if (sigaction(SIGPIPE, &sa, NULL) != 0)
		return -errno;
	sigemptyset(&stop);
	sigaddset(&stop, SIGTERM);
	sigaddset(&stop, SIGINT);
	return sigprocmask(SIG_UNBLOCK, &stop, NULL) != 0 ? -errno : 0;
}
