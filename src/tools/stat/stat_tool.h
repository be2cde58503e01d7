/*
 * stat_tool.h - shmbus-stat's pieces: a snapshot of a bus taken through
 * the public read-only API (stat_snap.c), and its three renderings: the
 * live screen and JSON (stat_out.c) and Prometheus text (stat_prom.c).
 */
#ifndef SHMBUS_STAT_TOOL_H
#define SHMBUS_STAT_TOOL_H

#include <setjmp.h>
#include <stdbool.h>
#include <stdio.h>

#include <shmbus/shmbus.h>

#define STAT_TOOL "shmbus-stat"

struct stat_ring {
	struct shmbus_ring_stat s;
	double events_per_s; /* delivered per second since the previous snapshot */
	double mb_per_s;     /* delivered * slot_size, MB (1e6) per second */
	int64_t lag_ns;      /* now - oldest unconsumed publish time; 0 when empty */
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
	uint64_t published, unrouted; /* sums over prods, for the bus totals */
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

/* Live screen (clears it first when `clear`), and one JSON document. */
void stat_print_screen(FILE *f, const struct stat_snap *s, bool clear);
void stat_print_json(FILE *f, const struct stat_snap *s);

/* Prometheus text exposition of a snapshot, into a malloc'd string. */
char *stat_prometheus_text(const struct stat_snap *s, size_t *len);

/* Serve /metrics and /health of bus `bus` on "ADDR:PORT" until *stop;
 * prints the bound port. The bus is opened read-only, waited for while it
 * does not exist, and opened again when it is removed or replaced (see
 * stat_prom.c). Returns the exit code. */
int stat_serve(const char *bus, const char *addr, volatile int *stop);

/* Where this thread's SIGBUS (the bus file truncated under the mapping)
 * jumps to while it reads the bus; NULL: report it and exit 1. */
extern _Thread_local sigjmp_buf *stat_sigbus_jmp;

#endif
