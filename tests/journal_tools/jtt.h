/*
 * jtt.h - helpers shared by the journal tool tests: a fresh SHMBUS_DIR and
 * journal dir per test, a bus, starting the tools (paths come from the
 * compile definitions JOURNALD_BIN, JOURNAL_BIN, REPLAY_BIN), capturing
 * their output, waiting for a ring's consumer, and a tiny JSON field
 * getter. Everything is static: each test file is one unit.
 */
#ifndef SHMBUS_JTT_H
#define SHMBUS_JTT_H

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <shmbus/journal.h>
#include <shmbus/shmbus.h>

#include "test_fs.h"

static char jtt_shm[160], jtt_jdir[160], jtt_bus[48];

static inline uint64_t jtt_rand(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/* Fresh SHMBUS_DIR and journal dir; bus jtt<pid> created with 256 MiB. */
static inline shmbus_bus *jtt_setup(void)
{
	snprintf(jtt_shm, sizeof(jtt_shm), "/dev/shm/jtt-shm-XXXXXX");
	if (!mkdtemp(jtt_shm)) {
		snprintf(jtt_shm, sizeof(jtt_shm), "/tmp/jtt-shm-XXXXXX");
		if (!mkdtemp(jtt_shm))
			abort();
	}
	setenv("SHMBUS_DIR", jtt_shm, 1);
	snprintf(jtt_jdir, sizeof(jtt_jdir), "/tmp/jtt-journal-XXXXXX");
	if (!mkdtemp(jtt_jdir))
		abort();
	snprintf(jtt_bus, sizeof(jtt_bus), "jtt%d", (int)getpid());
	struct shmbus_bus_opts o;
	shmbus_bus_opts_init(&o);
	o.arena_bytes = 128u << 20;
	o.hugepages = SHMBUS_HUGEPAGES_NEVER;
	o.prefault = 0;
	shmbus_bus *b = NULL;
	if (shmbus_bus_create(jtt_bus, &o, &b)) {
		fprintf(stderr, "jtt: bus create failed: %s\n", shmbus_errmsg());
		abort();
	}
	return b;
}

static inline void jtt_teardown(shmbus_bus *b)
{
	if (b)
		shmbus_bus_close(b);
	shmbus_bus_destroy(jtt_bus);
	tfs_rm_rf(jtt_shm);
	tfs_rm_rf(jtt_jdir);
}

/* Start argv[0] with stdout/stderr to files (NULL: inherit). */
static inline pid_t jtt_spawn(char *const argv[], const char *out, const char *err)
{
	fflush(stdout);
	fflush(stderr);
	pid_t parent = getpid();
	pid_t pid = fork();
	if (pid == 0) {
		/* Dies with the test, also when a failed assertion skipped the
		 * test's own kill. */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent)
			_exit(127);
		if (out) {
			int fd = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
			dup2(fd, 1);
		}
		if (err) {
			int fd = open(err, O_WRONLY | O_CREAT | O_TRUNC, 0644);
			dup2(fd, 2);
		}
		execv(argv[0], argv);
		_exit(127);
	}
	return pid;
}

/* Exit status of pid (waits at most timeout_s, then kills it: -1). */
static inline int jtt_wait(pid_t pid, int timeout_s)
{
	int st;
	for (int i = 0; i < timeout_s * 100; i++) {
		pid_t r = waitpid(pid, &st, WNOHANG);
		if (r == pid)
			return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
		usleep(10000);
	}
	kill(pid, SIGKILL);
	waitpid(pid, &st, 0);
	return -1;
}

/* Flip the bits of one byte of file path (a damaged block, for verify and
 * readers to name). Returns 0, or -1 when the file cannot be changed. */
static inline int jtt_flip_byte(const char *path, off_t off)
{
	uint8_t x;
	int fd = open(path, O_RDWR), rc = -1;
	if (fd >= 0 && pread(fd, &x, 1, off) == 1) {
		x ^= 0x5a;
		rc = pwrite(fd, &x, 1, off) == 1 ? 0 : -1;
	}
	if (fd >= 0)
		close(fd);
	return rc;
}

/* Read a whole file into a malloc'd string ("" when missing). */
static inline char *jtt_slurp(const char *path)
{
	char *s = tfs_slurp(path);
	return s ? s : strdup("");
}

/* Run to completion; stdout into a malloc'd string (*out), exit status. */
static inline int jtt_run(char *const argv[], char **out)
{
	char path[200];
	snprintf(path, sizeof(path), "%s/run.out", jtt_shm);
	int rc = jtt_wait(jtt_spawn(argv, path, NULL), 60);
	char *buf = jtt_slurp(path);
	unlink(path);
	*out = buf;
	return rc;
}


/* Wait until ring `name` has a live consumer with pid (10 s). 0 or -1. */
static inline int jtt_wait_ring(shmbus_bus *b, const char *name, pid_t pid)
{
	for (int i = 0; i < 1000; i++) {
		int idx = shmbus_stat_find_ring(b, name);
		struct shmbus_ring_stat rs;
		if (idx >= 0 && shmbus_stat_ring(b, (uint32_t)idx, &rs) == 0 &&
		    rs.state == SHMBUS_RING_ACTIVE && rs.consumer_pid == pid)
			return 0;
		usleep(10000);
	}
	return -1;
}

/* Depth of ring `name` (UINT64_MAX when absent). */
static inline uint64_t jtt_ring_depth(shmbus_bus *b, const char *name)
{
	int idx = shmbus_stat_find_ring(b, name);
	struct shmbus_ring_stat rs;
	if (idx < 0 || shmbus_stat_ring(b, (uint32_t)idx, &rs))
		return UINT64_MAX;
	return rs.depth;
}

/* Wait until ring `name` is empty (timeout_s). 0 or -1. */
static inline int jtt_wait_drained(shmbus_bus *b, const char *name, int timeout_s)
{
	for (int i = 0; i < timeout_s * 200; i++) {
		if (jtt_ring_depth(b, name) == 0)
			return 0;
		usleep(5000);
	}
	return -1;
}

/* Value text after "key": in json (starting at from), or NULL. */
static inline const char *jtt_json_at(const char *json, const char *key)
{
	char k[64];
	snprintf(k, sizeof(k), "\"%s\":", key);
	const char *p = strstr(json, k);
	return p ? p + strlen(k) : NULL;
}

static inline int64_t jtt_json_i64(const char *json, const char *key)
{
	const char *p = jtt_json_at(json, key);
	return p ? strtoll(p, NULL, 10) : INT64_MIN;
}

static inline double jtt_json_d(const char *json, const char *key)
{
	const char *p = jtt_json_at(json, key);
	return p ? strtod(p, NULL) : -1e300;
}

/* Copy the string value of key (unescaped only for plain text). */
static inline void jtt_json_str(const char *json, const char *key, char *buf, size_t len)
{
	const char *p = jtt_json_at(json, key);
	buf[0] = '\0';
	if (!p || *p != '"')
		return;
	size_t n = strcspn(p + 1, "\"");
	if (n >= len)
		n = len - 1;
	memcpy(buf, p + 1, n);
	buf[n] = '\0';
}

#endif /* SHMBUS_JTT_H */
