/*
 * stat_watch.c - the bus a long-running shmbus-stat follows (the live
 * screen and the Prometheus exporter).
 *
 * shmbusctl removes a bus when it stops and makes a new file when it
 * starts again; the old mapping stays valid but frozen. So before each
 * snapshot the file now at the bus's path is compared (device, inode)
 * with the mapped one; a bus removed or replaced is unmapped, and the
 * name opened again, at most once a second, until a bus is there. A file
 * truncated under the mapping (SIGBUS during a read) is unmapped the
 * same way. Not thread-safe: the exporter holds its own lock around it,
 * and opens apart (stat_watch_open_apart): an open may wait for a bus
 * that is being built, which a scrape must not.
 */
#define _GNU_SOURCE /* asprintf */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <shmbus/clock.h>

#include "stat_tool.h"

#define WATCH_RETRY_NS 1000000000 /* one open attempt a second at most */

void stat_watch_init(struct stat_watch *w, const char *name, bool log)
{
	memset(w, 0, sizeof(*w));
	w->name = name;
	w->log = log;
	snprintf(w->why, sizeof(w->why), "bus '%s' not opened yet", name);
}

void stat_watch_close(struct stat_watch *w)
{
	shmbus_bus_close(w->bus);
	w->bus = NULL;
}

/* The bus's path now, and what is there (0, or -errno of stat). */
static int watch_stat(const struct stat_watch *w, char *path, size_t len, struct stat *st)
{
	int rc = shmbus_bus_path(w->name, path, len);
	if (rc)
		return rc;
	return stat(path, st) == 0 ? 0 : -errno;
}

/* Say why there is no bus, on stderr (when logging) once per new reason. */
static void watch_why(struct stat_watch *w, const char *fmt, ...)
{
	char why[sizeof(w->why)];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	if (w->log && strcmp(why, w->why) != 0)
		fprintf(stderr, STAT_TOOL ": %s\n", why);
	memcpy(w->why, why, sizeof(why));
}

/* Unmap the bus: its file is gone, replaced, or truncated under us. */
static void watch_drop(struct stat_watch *w)
{
	stat_watch_close(w);
	w->next_open_ns = 0;
	w->generation++;
}

/* One attempt at opening the bus, apart from the watch's state (so that
 * it can run outside the exporter's lock): what the file was, and the
 * open's result with its detail. */
struct watch_try {
	int rc;          /* of the first stat, else of the open */
	bool stat_failed;
	bool replaced;   /* a new file at the path during the open */
	shmbus_bus *bus; /* rc 0 and not replaced: the mapping to keep */
	struct stat before;
	char path[512];
	char detail[256];
};

/* The file is looked at before and after the open: the mapping is kept
 * only when both are the same file, so the device and inode kept are
 * those of the file mapped, even when the bus is replaced meanwhile. */
static void watch_try_open(const char *name, struct watch_try *t)
{
	struct stat_watch probe = {.name = name};
	struct stat after;
	memset(t, 0, sizeof(*t));
	if ((t->rc = watch_stat(&probe, t->path, sizeof(t->path), &t->before)) != 0) {
		t->stat_failed = true;
		return;
	}
	if ((t->rc = shmbus_bus_open_readonly(name, &t->bus)) != 0) {
		snprintf(t->detail, sizeof(t->detail), "%s", shmbus_errmsg());
		t->bus = NULL;
		return;
	}
	if (watch_stat(&probe, t->path, sizeof(t->path), &after) != 0 ||
	    after.st_dev != t->before.st_dev || after.st_ino != t->before.st_ino) {
		shmbus_bus_close(t->bus);
		t->bus = NULL;
		t->replaced = true;
	}
}

/* The attempt's outcome into the watch: its mapping, or why there is none. */
static void watch_apply(struct stat_watch *w, struct watch_try *t)
{
	w->attempts++;
	if (t->stat_failed) {
		if (t->rc != -ENOENT)
			watch_why(w, "bus '%s': stat %s: %s; retrying", w->name, t->path,
			          strerror(-t->rc));
		else if (!w->removed) /* else keep saying it was removed */
			watch_why(w, "bus '%s' does not exist (%s: %s); waiting for it", w->name,
			          t->path, strerror(-t->rc));
		return;
	}
	if (t->rc) {
		w->removed = false;
		watch_why(w, "open bus '%s': %s%s%s; retrying", w->name, shmbus_strerror(t->rc),
		          *t->detail ? " - " : "", t->detail);
		return;
	}
	if (t->replaced) {
		w->next_open_ns = 0; /* replaced while we opened it: next time */
		return;
	}
	w->bus = t->bus;
	w->dev = t->before.st_dev;
	w->ino = t->before.st_ino;
	w->removed = false;
	w->why[0] = '\0';
	if (w->log)
		fprintf(stderr, STAT_TOOL ": serving bus '%s' (%s)\n", w->name, t->path);
}

/* Open the bus when none is mapped, at most once a second. */
static void watch_open(struct stat_watch *w)
{
	int64_t now = shmbus_mono_ns();
	if (w->bus || now < w->next_open_ns)
		return;
	w->next_open_ns = now + WATCH_RETRY_NS;
	struct watch_try t;
	watch_try_open(w->name, &t);
	watch_apply(w, &t);
}

void stat_watch_open_apart(struct stat_watch *w, pthread_mutex_t *lock)
{
	int64_t now = shmbus_mono_ns();
	pthread_mutex_lock(lock);
	bool due = !w->bus && now >= w->next_open_ns;
	if (due)
		w->next_open_ns = now + WATCH_RETRY_NS;
	pthread_mutex_unlock(lock);
	if (!due)
		return;
	struct watch_try t;
	watch_try_open(w->name, &t); /* may wait for a bus being built: unlocked */
	pthread_mutex_lock(lock);
	if (w->bus) /* cannot happen (only this opens), but never leak a mapping */
		shmbus_bus_close(t.bus);
	else
		watch_apply(w, &t);
	pthread_mutex_unlock(lock);
}

shmbus_bus *stat_watch_check(struct stat_watch *w)
{
	if (w->bus) {
		char path[512];
		struct stat st;
		int rc = watch_stat(w, path, sizeof(path), &st);
		if (rc) {
			watch_drop(w);
			w->removed = true;
			watch_why(w, "bus '%s' was removed (%s: %s); waiting for it", w->name, path,
			          strerror(-rc));
		} else if (st.st_dev != w->dev || st.st_ino != w->ino) {
			watch_drop(w);
			watch_why(w, "bus '%s' was replaced (%s is a new file); reopening", w->name,
			          path);
		}
	}
	if (!w->open_apart)
		watch_open(w);
	return w->bus;
}

/*
 * A snapshot that survives the file being truncated under the mapping:
 * the SIGBUS handler (stat_main.c) jumps back here instead of exiting.
 * Returns stat_snap_take()'s code, or 1 for SIGBUS.
 */
static int guarded_snap(const shmbus_bus *bus, const struct stat_snap *prev,
                        struct stat_snap *s)
{
	sigjmp_buf jb;
	if (sigsetjmp(jb, 1) != 0) {
		stat_sigbus_jmp = NULL;
		return 1;
	}
	stat_sigbus_jmp = &jb;
	int rc = stat_snap_take(bus, prev, s);
	stat_sigbus_jmp = NULL;
	return rc;
}

int stat_watch_snap(struct stat_watch *w, const struct stat_snap *prev, struct stat_snap *s,
                    char **why)
{
	shmbus_bus *bus = stat_watch_check(w);
	if (w->snap_generation != w->generation)
		prev = NULL; /* taken of another mapping: no rates from it */
	int rc = bus ? guarded_snap(bus, prev, s) : -ENOENT;
	if (rc == 0)
		w->snap_generation = w->generation;
	*why = NULL;
	if (!bus) {
		*why = strdup(w->why);
	} else if (rc == 1) {
		watch_drop(w);
		w->next_open_ns = shmbus_mono_ns() + WATCH_RETRY_NS;
		watch_why(w,
		          "bus '%s': the segment was truncated while being read (SIGBUS); "
		          "reopening",
		          w->name);
		*why = strdup(w->why);
		rc = -ENOENT; /* no bus now, as when it was removed */
	} else if (rc) {
		const char *detail = shmbus_errmsg();
		if (asprintf(why, "bus '%s' unreadable: %s%s%s", w->name, shmbus_strerror(rc),
		             *detail ? " - " : "", detail) < 0)
			*why = NULL;
	}
	return rc;
}
