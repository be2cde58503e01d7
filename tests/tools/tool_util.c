/*
 * tool_util.c - process and file helpers for the tool tests (see
 * tool_util.h). Kept dumb on purpose: tests read the tools' output the
 * way a script would.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "tool_util.h"
#include "test_fs.h"

const char *tu_tmpdir(void)
{
	static char dir[64];
	snprintf(dir, sizeof(dir), "/tmp/shmbus-tools-XXXXXX");
	if (!mkdtemp(dir))
		return NULL;
	setenv("SHMBUS_DIR", dir, 1);
	return dir;
}

void tu_rmdir(const char *dir)
{
	if (!dir || strncmp(dir, "/tmp/shmbus-tools-", 18) != 0)
		return;
	if (tfs_rm_rf(dir) != 0)
		fprintf(stderr, "could not remove %s\n", dir);
}

int tu_run(char *out, size_t outlen, const char *fmt, ...)
{
	char cmd[4096];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	char full[4200];
	snprintf(full, sizeof(full), "%s 2>&1", cmd);
	FILE *p = popen(full, "r");
	if (!p)
		return -1;
	size_t n = 0;
	if (out && outlen) {
		n = fread(out, 1, outlen - 1, p);
		out[n] = '\0';
	}
	char sink[4096];
	while (fread(sink, 1, sizeof(sink), p) > 0)
		;
	int st = pclose(p);
	if (WIFEXITED(st))
		return WEXITSTATUS(st);
	return WIFSIGNALED(st) ? 128 + WTERMSIG(st) : -1;
}

int tu_write(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	if (!f)
		return -1;
	fputs(text, f);
	return fclose(f) == 0 ? 0 : -1;
}

long tu_read(const char *path, char *buf, size_t len)
{
	FILE *f = fopen(path, "r");
	if (!f)
		return -1;
	size_t n = fread(buf, 1, len - 1, f);
	buf[n] = '\0';
	fclose(f);
	return (long)n;
}

long long tu_json_field(const char *json, const char *array, const char *name, const char *key)
{
	char pat[128];
	snprintf(pat, sizeof(pat), "\"%s\":[", array);
	const char *a = strstr(json, pat);
	if (!a)
		return -1;
	snprintf(pat, sizeof(pat), "\"name\":\"%s\"", name);
	const char *o = strstr(a, pat);
	if (!o)
		return -1;
	const char *end = strchr(o, '}');
	snprintf(pat, sizeof(pat), "\"%s\":", key);
	const char *k = strstr(o, pat);
	if (!k || (end && k > end))
		return -1;
	return strtoll(k + strlen(pat), NULL, 10);
}

void tu_msleep(int ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000};
	nanosleep(&ts, NULL);
}

static pid_t spawn(char *const argv[], int *fd, bool with_stderr)
{
	int p[2];
	if (pipe2(p, O_CLOEXEC) != 0)
		return -1;
	pid_t pid = fork();
	if (pid == 0) {
		dup2(p[1], STDOUT_FILENO);
		if (with_stderr)
			dup2(p[1], STDERR_FILENO);
		execv(argv[0], argv);
		_exit(127);
	}
	close(p[1]);
	*fd = p[0];
	return pid;
}

pid_t tu_spawn(char *const argv[], int *fd)
{
	return spawn(argv, fd, false);
}

pid_t tu_spawn_all(char *const argv[], int *fd)
{
	return spawn(argv, fd, true);
}
