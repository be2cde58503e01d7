/*
 * stat_tool.h - shmbus-stat's pieces: a snapshot of a bus taken through
 * the public read-only API (stat_snap.c), and its three renderings: the
 * live screen and JSON (stat_out.c) and Prometheus text (stat_prom.c).
 */
#ifndef SHMBUS_STAT_TOOL_H
#define SHMBUS_STAT_TOOL_H

#include <pthread.h>
#include <setjmp.h>
#include <stdbool.h>
#include <stdio.h>
#include <sys/types.h>

#include <shmbus/shmbus.h>

#define STAT_TOOL "shmbus-stat"

struct stat_ring {
	struct shmbus_ring_stat s;
	double events_per_s; /* delivered per second since the previous snapshot */
	double mb_per_s;     /* delivered * slot_size, MB (1e6) per second */
	int64_t lag_ns;      /* now - oldest committed unconsumed publish time; 0: none */
};

struct stat_snap {
	int64_t now_ns;  /* shmbus_now_ns() at the snapshot (wall clock) */
	int64_t mono_ns; /* for rates */
	bool has_rates;  /* a previous snapshot of the same bus existed */
	struct shmbus_bus_info bus;
	struct stat_ring *rings;
	size_t nrings;
	struct shmbus_participant_stat *parts;
	size_t nparts;
	/* Named counters of each participant (journaller, bridge ...), by the
	 * same index as parts; ncounters[i] is 0 for none. */
	struct shmbus_counter (*counters)[SHMBUS_MAX_COUNTERS];
	unsigned *ncounters;
	struct shmbus_producer_stat *prods;
	size_t nprods;
	uint64_t published, unrouted; /* bus totals, over every producer it has had */
	/* The journaller and the bridge publish their counters as named
	 * participant counters (above); they are shown per participant. */
};

/*
 * Read every table of `bus` into `snap` (its arrays are reallocated);
 * rates are computed against `prev` (may be NULL or empty). Returns 0,
 * SHMBUS_ECORRUPT (the message in shmbus_errmsg()) or -ENOMEM.
 */
int stat_snap_take(const shmbus_bus *bus, const struct stat_snap *prev, struct stat_snap *snap);
void stat_snap_free(struct stat_snap *snap);

/* Age of participant p's last heartbeat at the snapshot s, in ns: never
 * negative (one stamped after the snapshot's clock read, or by a clock a
 * little ahead, is 0 old); -1 when it never beat. */
int64_t stat_heartbeat_age(const struct stat_snap *s, const struct shmbus_participant_stat *p);

/* Live screen (clears it first when `clear`), and one JSON document. */
void stat_print_screen(FILE *f, const struct stat_snap *s, bool clear);
void stat_print_json(FILE *f, const struct stat_snap *s);
/* The live view while there is no readable bus: why, as a screen or as a
 * JSON document with "up": false (a snapshot's has "up": true). */
void stat_print_down(FILE *f, const char *bus, const char *why, bool json, bool clear);

/* Prometheus text exposition of a snapshot, into a malloc'd string. */
char *stat_prometheus_text(const struct stat_snap *s, size_t *len);

/* Serve /metrics and /health of bus `bus` on "ADDR:PORT" until *stop;
 * prints the bound port. The bus is opened read-only, waited for while it
 * does not exist, and opened again when it is removed or replaced (see
 * stat_prom.c). Returns the exit code. */
int stat_serve(const char *bus, const char *addr, volatile int *stop);

/*
 * The bus a long-running view follows (stat_watch.c): it is mapped while
 * the file at the bus's path is the one mapped, unmapped when that file
 * is removed, replaced or truncated, and opened again (at most once a
 * second) when a bus is there. Not thread-safe.
 */
struct stat_watch {
	const char *name;
	shmbus_bus *bus;          /* NULL while there is no readable bus */
	dev_t dev;                /* of the file bus maps */
	ino_t ino;
	int64_t next_open_ns;     /* no open attempt before this (monotonic) */
	unsigned generation;      /* mappings dropped so far */
	unsigned snap_generation; /* generation of the last snapshot taken */
	bool removed;             /* bus is NULL because its file went away */
	bool log;                 /* say each new reason and re-open on stderr */
	bool open_apart;          /* stat_watch_check() never opens: only
				     stat_watch_open_apart() does */
	unsigned attempts;        /* open attempts completed */
	char why[512];            /* why bus is NULL */
};

void stat_watch_init(struct stat_watch *w, const char *name, bool log);
void stat_watch_close(struct stat_watch *w);
/* Drop the mapping when its file is no longer the bus's, then open the
 * bus when none is mapped and a try is due. Returns the bus or NULL. */
shmbus_bus *stat_watch_check(struct stat_watch *w);
/* With open_apart: open the bus when none is mapped and a try is due,
 * outside `lock` (opening waits for a bus being built), installing it
 * under `lock`, which guards every other use of w. */
void stat_watch_open_apart(struct stat_watch *w, pthread_mutex_t *lock);
/*
 * stat_watch_check(), then a snapshot that survives SIGBUS, with rates
 * against prev only when prev was taken of the same mapping. Returns 0;
 * -ENOENT when there is no bus (now or after a SIGBUS), with the reason
 * in *why; or stat_snap_take()'s error, *why saying it. *why is a
 * malloc'd string (NULL on success or when out of memory).
 */
int stat_watch_snap(struct stat_watch *w, const struct stat_snap *prev, struct stat_snap *s,
                    char **why);

/* Where this thread's SIGBUS (the bus file truncated under the mapping)
 * jumps to while it reads the bus; NULL: report it and exit 1. */
extern _Thread_local sigjmp_buf *stat_sigbus_jmp;

#endif
