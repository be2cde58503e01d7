/*
 * shmbus/bus.h - a bus: one named shared-memory segment.
 *
 * A bus holds a superblock, a directory of rings, a participants table,
 * producer counter slots, a symbol table and an arena the rings live in.
 * It is created once (shmbus_bus_create, or shmbusctl from a config) and
 * attached by every process that uses it. Each attached handle is one
 * participant: pid, process start time, name, role and heartbeat are
 * visible to shmbus-stat. A handle may be shared by the threads of a
 * process; producers and consumers made from it are per thread.
 *
 * Backing: a file on a hugetlbfs mount with enough free 2 MiB pages when
 * one exists, else a /dev/shm file with MADV_HUGEPAGE. The environment
 * variable SHMBUS_DIR names another directory (tests use it); a bus there
 * is on 2 MiB pages when that directory is a hugetlbfs mount.
 */
#ifndef SHMBUS_BUS_H
#define SHMBUS_BUS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct shmbus_bus shmbus_bus;

#define SHMBUS_NAME_MAX 47        /* bus and ring names: [A-Za-z0-9._-] */
#define SHMBUS_PARTICIPANT_NAME_MAX 31 /* participant names: [A-Za-z0-9._-] too */
#define SHMBUS_DEFAULT_BUS "default"

/* A participant's role is a label shmbus-stat shows; it grants nothing:
 * a handle of any role may produce and consume. */
enum shmbus_role {
	SHMBUS_ROLE_CLIENT = 0,
	SHMBUS_ROLE_PRODUCER = 1,
	SHMBUS_ROLE_CONSUMER = 2,
	SHMBUS_ROLE_SERVICE = 3, /* both */
	SHMBUS_ROLE_TOOL = 4,
	SHMBUS_ROLE_CREATOR = 5,
};

enum shmbus_backing {
	SHMBUS_BACKING_ANON = 0,     /* anonymous: threads and forked children */
	SHMBUS_BACKING_HUGETLBFS = 1, /* 2 MiB pages: a hugetlbfs file, or an
					 anonymous bus made with hugepages
					 always (MAP_HUGETLB) */
	SHMBUS_BACKING_SHM = 2,       /* tmpfs file with MADV_HUGEPAGE */
};

enum shmbus_hugepages {
	SHMBUS_HUGEPAGES_AUTO = 0,   /* named bus: hugetlbfs when mounted with
					the pages free; anonymous: small pages */
	SHMBUS_HUGEPAGES_NEVER = 1,  /* /dev/shm (or SHMBUS_DIR as it is) */
	SHMBUS_HUGEPAGES_ALWAYS = 2, /* 2 MiB pages (anonymous: MAP_HUGETLB) or
					fail with -ENOMEM */
};

struct shmbus_bus_opts {
	size_t arena_bytes;        /* memory for rings (default 64 MiB) */
	uint32_t max_rings;        /* default 64, at most 1024 */
	uint32_t max_participants; /* default 128 */
	uint32_t max_producers;    /* producer counter slots, default 256 */
	uint32_t max_symbols;      /* power of two, default 4096 */
	uint32_t mode;             /* file permissions, default 0660 */
	int hugepages;             /* enum shmbus_hugepages */
	int prefault;              /* map every page at creation, and at each
				      attach where MADV_POPULATE_WRITE exists
				      (default 1): no page fault on the hot path */
	int lock_pages;            /* mlock the mapping (default 0) */
	const char *participant_name; /* creator's name (default: comm) */
};

/* Fill opts with the defaults above. */
void shmbus_bus_opts_init(struct shmbus_bus_opts *opts);

/*
 * Create bus `name` (NULL: an anonymous bus, shared only with threads and
 * children forked after this call) and attach to it as its creator; the
 * handle produces and consumes like any other. A named bus outlives the
 * handle until shmbus_bus_destroy(). opts may be NULL for defaults.
 * Returns 0 and *out, or -EEXIST (a bus of that name exists), -EINVAL
 * (bad name or option; see shmbus_errmsg()), -ENOMEM, -EACCES or another
 * negative errno. The superblock's version is written last, with release,
 * so attachers never see a half-built bus.
 */
int shmbus_bus_create(const char *name, const struct shmbus_bus_opts *opts, shmbus_bus **out);

/*
 * Attach to an existing bus and register as a participant named
 * `participant` with `role`. The name is 1..31 bytes of [A-Za-z0-9._-]
 * (else -EINVAL, the detail naming the first bad byte and its position);
 * NULL or "": the process name, each byte outside that set made '_'.
 * Returns 0, -ENOENT (no such bus), -EINVAL, SHMBUS_EBADMAGIC /
 * SHMBUS_EVERSION / SHMBUS_ELAYOUT (not a regular file, or a segment of
 * another kind or version), SHMBUS_ECORRUPT (an offset or size out of
 * bounds), -ENOSPC (participants table full) or -errno. An open racing
 * the creation of the bus waits for it to be built (while its file is
 * under 2 s old); a file left unbuilt by a creator that died is
 * SHMBUS_ECORRUPT, saying so.
 */
int shmbus_bus_open(const char *name, const char *participant, enum shmbus_role role,
		    shmbus_bus **out);

/*
 * Attach read-only for inspection (shmbus-stat): maps the segment without
 * write permission, registers no participant, validates every offset.
 * Only the shmbus_stat_* and symbol lookup calls may use such a handle.
 */
int shmbus_bus_open_readonly(const char *name, shmbus_bus **out);

/*
 * Detach: unregister the participant and unmap. Producers and consumers
 * made from the handle must be closed first. Returns 0 or -EINVAL.
 */
int shmbus_bus_close(shmbus_bus *bus);

/* Remove bus `name` (unlink its file); attached processes keep their
 * mapping until they close. Returns 0, -ENOENT or -errno. */
int shmbus_bus_destroy(const char *name);

/*
 * Directories named buses live in, in search order: SHMBUS_DIR alone when
 * set; else every writable hugetlbfs mount of 2 MiB pages, then /dev/shm.
 * Calls fn(dir, ctx) for each until fn returns non-zero, and returns that
 * value (0 when every call returned 0). Lists of buses use it.
 */
int shmbus_bus_dirs_each(int (*fn)(const char *dir, void *ctx), void *ctx);

/* The default bus directory (SHMBUS_DIR, else /dev/shm), and the path of
 * bus `name`: the first directory above that holds it, else its path in
 * the default directory. Return 0, -EINVAL (bad name) or -ENAMETOOLONG. */
int shmbus_bus_dir(char *buf, size_t len);
int shmbus_bus_path(const char *name, char *buf, size_t len);

/* Check a bus, ring or group name as the library will: 1..SHMBUS_NAME_MAX
 * bytes of [A-Za-z0-9._-], not starting with '.'. Returns 0, or -EINVAL
 * with shmbus_errmsg() naming `what` ("ring", ...) and the bad byte, so a
 * tool can refuse a bad --ring before it attaches anything. */
int shmbus_name_check(const char *what, const char *name);

/* Record that this participant is alive now (services call it about once
 * a second; consumers waiting in shmbus_wait do it themselves). bus NULL
 * or read-only, or a child forked with the handle (the participant is its
 * parent): nothing. */
void shmbus_bus_heartbeat(shmbus_bus *bus);

/*
 * Look for dead consumers (process gone) and stop routing to their rings;
 * free the entries of dead producers. A dead participant's entry stays,
 * shown dead (not gone: that is a clean detach), until a new participant
 * takes it. Any participant may call it; producers also do it themselves
 * when a ring stays full.
 * An orphaned ring stays for its consumer to re-attach, until the ring
 * directory is full: then shmbus_subscribe() recycles an empty one, and
 * shmbus_ring_remove() removes one holding events.
 * Returns the number of rings newly marked orphaned, or -errno.
 */
int shmbus_bus_reap(shmbus_bus *bus);

/*
 * Mark the bus kept for a later run (kept = 1) or not (0): the launcher's
 * `[bus] keep` does, and `shmbusctl reclaim` leaves a kept bus alone
 * though no participant of it lives (shmbus_bus_destroy() still removes
 * it). Shown by shmbus_stat_bus(). Returns 0, -EROFS (read-only handle) or
 * -EINVAL (NULL or anonymous bus).
 */
int shmbus_bus_set_kept(shmbus_bus *bus, int kept);

/* Name of the bus ("" for anonymous) and its backing ("" and
 * SHMBUS_BACKING_ANON for bus NULL). */
const char *shmbus_bus_name(const shmbus_bus *bus);
enum shmbus_backing shmbus_bus_backing(const shmbus_bus *bus);
const char *shmbus_backing_name(enum shmbus_backing b);
const char *shmbus_role_name(enum shmbus_role r);

#ifdef __cplusplus
}
#endif
#endif
