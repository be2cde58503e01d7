/*
 * tool_util.h - helpers for the tests of the command-line tools: a private
 * bus directory, running a tool and capturing its output, small file and
 * JSON look-ups. The tools' paths come from CMake (SHMBUSCTL_BIN,
 * SHMBUS_STAT_BIN compile definitions).
 */
#ifndef SHMBUS_TEST_TOOL_UTIL_H
#define SHMBUS_TEST_TOOL_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Make a fresh temp dir, export SHMBUS_DIR=it; returns the path (static). */
const char *tu_tmpdir(void);
/* Remove the temp dir and everything in it. */
void tu_rmdir(const char *dir);

/* Run `sh -c cmd` with stdout+stderr captured into out (NUL-terminated,
 * truncated to outlen). Returns the exit status, or 128+signal. */
int tu_run(char *out, size_t outlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Write text to path (0 or -1). */
int tu_write(const char *path, const char *text);
/* Read a whole file into buf (returns bytes or -1). */
long tu_read(const char *path, char *buf, size_t len);

/* In a JSON document, the first object containing "name":"<name>" after
 * the key "<array>": value of numeric field `key`; -1 when absent. */
long long tu_json_field(const char *json, const char *array, const char *name, const char *key);

/* Sleep ms milliseconds. */
void tu_msleep(int ms);

/* Spawn argv with stdout to a pipe; *fd is its read end. Returns pid. */
pid_t tu_spawn(char *const argv[], int *fd);

/* The same with stderr to the pipe too. */
pid_t tu_spawn_all(char *const argv[], int *fd);

#endif
