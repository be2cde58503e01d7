/*
 * journald.h - state shared by the files of shmbus-journald.
 */
#ifndef SHMBUS_JOURNALD_H
#define SHMBUS_JOURNALD_H

#include <stddef.h>
#include <stdint.h>

#include <shmbus/shmbus.h>
#include <shmbus/journal.h>

#include "jtool.h"

#define JD_TOOL "shmbus-journald"
#define JD_MAX_SOURCES (1u << 20) /* sources whose durable seq is tracked */
#define JD_STATS_SOURCES 65536     /* listed in the stats JSON at most */

struct jd_opts {
	const char *bus, *dir, *ring, *types, *symbols, *stats_json, *cpus;
	uint64_t type_mask; /* --types, parsed */
	/* --symbols, split (n_symbols names) */
	char sym_names[SHMBUS_SUB_MAX_SYMBOLS][32];
	size_t n_symbols;
	enum shmbus_full_policy policy;
	int policy_set;
	struct shmbus_journal_writer_opts w;
	uint32_t capacity;  /* ring slots for a new ring */
	int64_t flush_ns;   /* a partial block waits at most this long */
};

struct jd_source {
	uint32_t id;
	uint64_t reported; /* durable seq last reported to the hook fd */
};

/* One journaled event's identity. */
struct jd_ident {
	uint32_t source;
	uint64_t seq;
	int64_t publish_ns, event_ns;
};

/* Events of the ring's backlog already journaled (journald_dedup.c). */
struct jd_dedup {
	int active;          /* checking the ring's first events */
	struct jd_ident *id; /* the journal's last events, oldest first */
	size_t n, cap;
	size_t pos;          /* the next to match; SIZE_MAX: not located yet */
	uint64_t skipped;    /* ring events not written again */
};

/* Polls whose slots wait for their events' writes (journald_release.c). */
#define JD_RELEASE_Q 1024
struct jd_release {
	uint64_t appended[JD_RELEASE_Q]; /* events appended after that poll */
	uint64_t pos[JD_RELEASE_Q];      /* ring position after that poll */
	uint32_t head, n;
	uint64_t released; /* slots before it are free */
	uint64_t capacity; /* of the ring */
};

struct jd {
	struct jd_opts o;
	shmbus_bus *bus;
	shmbus_consumer *c;
	struct shmbus_journal_writer *w;
	uint32_t ring_index;

	/* sources seen, in order of arrival, for the durable seq per source
	 * (journald_track.c): src[0..nsrc-1], found through src_slot, an
	 * open-addressing index (slot_cap slots, each 0 or an index + 1) */
	struct jd_source *src;
	uint32_t nsrc, src_cap;
	uint32_t *src_slot;
	uint32_t slot_cap;
	uint32_t last_src; /* index of the previous event's source */
	uint64_t untracked; /* events whose source could not be tracked */
	uint64_t durable_seen; /* events_durable at the last check */

	/* symbols file: ids already named there (sym_seen 1), or whose line
	 * could not be written (2: retried each second, see sym_pending) */
	uint8_t *sym_seen;
	uint32_t sym_cap;
	uint32_t max_symbols; /* the bus's: larger ids name no symbol */
	int sym_fd;
	int sym_dirty; /* lines written since the last fdatasync */
	int sym_pending;      /* some ids are marked 2 in sym_seen */
	uint64_t sym_size;    /* bytes of whole lines: a short write is cut back to it */
	uint64_t sym_failed;  /* failed line writes (full disk, I/O error) */
	struct jtool_symtab known;

	int hook_fd;          /* SHMBUS_JOURNALD_DURABLE_FD, -1 when unset */
	struct jd_dedup dd;
	struct jd_release rel;
	uint64_t append_errors;
	int stats_failing;    /* the last --stats-json write failed (said once) */
	int reported_err;     /* last write error printed */
	int64_t last_err_print_ns;
	uint64_t lost_printed;
};

/* Hold the ring's slots from now on (journald_release.c); after each
 * poll, note where it ended; release what the writer has written; 1 when
 * half the ring is held (flush now). */
void jd_release_init(struct jd *d);
void jd_release_note(struct jd *d);
void jd_release_done(struct jd *d);
int jd_release_pressing(const struct jd *d);

/* Track ev's source and symbol (journald_track.c). Hot path: a compare
 * per event (a hash look-up when the source changes), an allocation only
 * when the source table grows, a system call only the first time a
 * symbol id is seen. A source that cannot be tracked (out of memory,
 * JD_MAX_SOURCES) is said once on stderr and counted. */
void jd_track(struct jd *d, const struct shmbus_event_header *ev);

/* Open DIR/<bus>.symbols for appending (cutting a torn last line) and load
 * the ids it already names. 0 or -errno (message printed). */
int jd_symbols_open(struct jd *d);

/* Write the lines that failed before (a full disk): called once a second
 * and at exit, never per event. Says on stderr when they are all written. */
void jd_symbols_retry(struct jd *d);

/* After writes completed: fsync the symbols file when new lines wait, and
 * report newly durable (source, seq) to the hook fd. */
void jd_durable_check(struct jd *d);

/* After attaching: load the journal's last events when the ring holds a
 * backlog (a warning, not an error, when they cannot be read). */
void jd_dedup_load(struct jd *d);

/* While d->dd.active: 1 when ev was journaled before the last stop (skip
 * it), 0 when it is new (the check then ends for good). */
int jd_dedup_skip(struct jd *d, const struct shmbus_event_header *ev);

/* End the check, saying how many events it skipped. */
void jd_dedup_end(struct jd *d);

/* Define / refresh the journaller's named counters in the bus. */
void jd_define_counters(struct jd *d);
void jd_publish_counters(struct jd *d);

/* Write the stats JSON file atomically (no-op without --stats-json). A
 * failure is said once, when it starts, and the recovery once too. */
void jd_write_stats(struct jd *d, int running);

/* Print write errors and lost events, at most once a second. */
void jd_report_errors(struct jd *d, int rc, int force);

#endif /* SHMBUS_JOURNALD_H */
