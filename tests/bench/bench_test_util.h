/*
 * bench_test_util.h - helpers of the shmbus-bench tests: a fresh folder
 * per test under $TMPDIR with its own SHMBUS_DIR (and an --hgrm folder
 * name), the cpus to pin to, running the built shmbus-bench with its
 * stdout captured (stderr printed when it fails), reading an .hgrm file
 * and its HdrHistogram footer, and whether the bus folder is empty.
 *
 * The binary's path comes from CMake (SHMBUS_BENCH_BIN). Everything is
 * static: each test file is one unit and keeps its own checks; the .hgrm
 * readers are marked unused for the tests of tools that write none.
 */
#ifndef SHMBUS_TEST_BENCH_UTIL_H
#define SHMBUS_TEST_BENCH_UTIL_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "test_fs.h"

struct bt_env {
	char dir[256];     /* the test's folder: bus dir, outputs */
	char bus_dir[300]; /* SHMBUS_DIR */
	char hgrm[300];    /* --hgrm DIR */
	char cpus[16];
	char out[1 << 17]; /* stdout of the last run */
};

/* Make the test's folder $TMPDIR/<prefix>-XXXXXX and its bus folder, point
 * SHMBUS_DIR there and pick the cpus; *state is the env. 0 or -1. */
static int bt_setup(void **state, const char *prefix)
{
	static struct bt_env e;
	const char *tmp = getenv("TMPDIR");

	memset(&e, 0, sizeof(e));
	snprintf(e.dir, sizeof(e.dir), "%s/%s-XXXXXX", tmp && tmp[0] ? tmp : "/tmp", prefix);
	if (!mkdtemp(e.dir))
		return -1;
	snprintf(e.bus_dir, sizeof(e.bus_dir), "%s/bus", e.dir);
	snprintf(e.hgrm, sizeof(e.hgrm), "%s/hgrm", e.dir);
	if (mkdir(e.bus_dir, 0700) < 0)
		return -1;
	setenv("SHMBUS_DIR", e.bus_dir, 1);
	/* Two cores when there are two; one shared core otherwise. */
	snprintf(e.cpus, sizeof(e.cpus), "%s", sysconf(_SC_NPROCESSORS_ONLN) >= 2 ? "0,1" : "0,0");
	*state = &e;
	return 0;
}

/* Remove the test's folder and everything in it. */
static int bt_teardown(void **state)
{
	struct bt_env *e = *state;

	return tfs_rm_rf(e->dir);
}

/* Run the shmbus-bench at bin with args; stdout into e->out. Returns the
 * exit status. */
static int bt_run_bin(struct bt_env *e, const char *bin, const char *args)
{
	char cmd[1024], path[300], err[2048];
	FILE *f;
	size_t n;
	int st;

	snprintf(path, sizeof(path), "%s/stdout", e->dir);
	snprintf(cmd, sizeof(cmd), "'%s' %s > '%s' 2> '%s/stderr'", bin, args, path, e->dir);
	st = system(cmd);
	f = fopen(path, "r");
	n = f ? fread(e->out, 1, sizeof(e->out) - 1, f) : 0;
	e->out[n] = '\0';
	if (f)
		fclose(f);
	if (st != -1 && WIFEXITED(st) && WEXITSTATUS(st) != 0) {
		snprintf(path, sizeof(path), "%s/stderr", e->dir);
		f = fopen(path, "r");
		n = f ? fread(err, 1, sizeof(err) - 1, f) : 0;
		err[n] = '\0';
		if (f)
			fclose(f);
		print_message("shmbus-bench %s: exit %d: %s", args, WEXITSTATUS(st), err);
	}
	return st == -1 || !WIFEXITED(st) ? -1 : WEXITSTATUS(st);
}

/* Run the built shmbus-bench with args (bt_run_bin). */
static int bt_run(struct bt_env *e, const char *args)
{
	return bt_run_bin(e, SHMBUS_BENCH_BIN, args);
}

/* Read the .hgrm file at path into hg (size bytes, NUL-terminated) and
 * check it has the HdrHistogram table ("Value") and the "#[Mean" footer
 * line; fails the test otherwise. */
static __attribute__((unused)) void bt_read_hgrm(const char *path, char *hg, size_t size)
{
	FILE *f = fopen(path, "r");
	size_t n;

	assert_non_null(f);
	n = fread(hg, 1, size - 1, f);
	hg[n] = '\0';
	fclose(f);
	assert_non_null(strstr(hg, "Value"));
	assert_non_null(strstr(hg, "#[Mean"));
}

/* The "Total count" of the footer of .hgrm text hg; fails the test when
 * the line is absent. */
static __attribute__((unused)) long bt_hgrm_total(const char *hg)
{
	const char *t = strstr(hg, "Total count    =");

	assert_non_null(t);
	return strtol(t + strlen("Total count    ="), NULL, 10);
}

/* 1 when dir holds nothing (or does not exist), else 0. */
static int bt_dir_empty(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int n = 0;

	if (!d)
		return 1;
	while ((de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			n++;
	closedir(d);
	return n == 0;
}

#endif
