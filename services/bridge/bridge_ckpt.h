/*
 * bridge_ckpt.h - per-source progress of the bridge and its checkpoint file.
 *
 * A bridge_srcmap maps a source id to a sequence number and the event time
 * of that event (the last one acknowledged by every sink, or the last one
 * sent). The checkpoint file is text:
 *
 *   shmbus-bridge-checkpoint 1
 *   <source_id> <seq> <event_time_ns>
 *   ...
 *
 * one line per source, every source of the map (up to BRIDGE_SRCMAP_MAX),
 * written atomically (temp file, fsync, rename, fsync of the directory),
 * so after a crash it holds either the old or the new content, never a
 * mix. Not thread-safe: one thread owns a map.
 */
#ifndef SHMBUS_BRIDGE_CKPT_H
#define SHMBUS_BRIDGE_CKPT_H

#include <stddef.h>
#include <stdint.h>

/* Sources one map holds at most: a bound on memory (a table of 2^21
 * slots, 48 MiB) and on the checkpoint file (about 53 MiB), far beyond any
 * bus's producers, but reachable in theory as ids are never removed. */
#define BRIDGE_SRCMAP_MAX (1u << 20)

struct bridge_src {
	uint32_t source;
	uint64_t seq; /* 0 = unused entry */
	int64_t event_time_ns;
};

struct bridge_srcmap {
	struct bridge_src *e; /* open addressing, cap slots; NULL before init */
	uint32_t cap;         /* a power of two, at most 3/4 full */
	uint32_t n;           /* sources held */
};

/* Allocate an empty map. Returns 0 or -ENOMEM. */
int bridge_srcmap_init(struct bridge_srcmap *m);
/* Free m's table; m is then empty (a zeroed or freed map may be freed). */
void bridge_srcmap_free(struct bridge_srcmap *m);
/* Entry of `source`, or NULL when absent (or m not initialised). The
 * pointer is valid until the next set or copy into m (the table grows). */
const struct bridge_src *bridge_srcmap_get(const struct bridge_srcmap *m, uint32_t source);
/*
 * Set source's seq/time (seq >= 1). The table doubles when 3/4 full, so
 * adding a source may allocate. Returns 0, -EINVAL (seq 0), -ENOMEM (the
 * table could not grow) or -ENOSPC (m already holds BRIDGE_SRCMAP_MAX
 * sources); m is unchanged on error.
 */
int bridge_srcmap_set(struct bridge_srcmap *m, uint32_t source, uint64_t seq, int64_t t_ns);
/* Make dst a copy of src (dst initialised). Returns 0 or -ENOMEM (dst
 * unchanged). */
int bridge_srcmap_copy(struct bridge_srcmap *dst, const struct bridge_srcmap *src);
/*
 * Iterate: start with *it = 0; each call returns the next entry, or NULL
 * at the end. In no particular order; m must not change meanwhile.
 *   for (uint32_t it = 0; (s = bridge_srcmap_next(m, &it)) != NULL;)
 */
const struct bridge_src *bridge_srcmap_next(const struct bridge_srcmap *m, uint32_t *it);

/*
 * Load checkpoint `path` into m. Every value is checked: the magic line
 * names version 1 exactly; a source id fits in 32 bits, a seq is 1..2^64-1
 * and a time fits in int64_t, all plain decimal (no sign but the time's
 * '-'); each line ends with a newline and has no other text; no source
 * appears twice; at most BRIDGE_SRCMAP_MAX sources. Returns 0, -ENOENT
 * (no file: fresh start; err untouched), -EBADMSG with "checkpoint: why
 * (path:line)" in err for bad content, -ENOMEM (the map could not grow)
 * with "checkpoint: out of memory (path:line)", or another negative code
 * with "checkpoint: why (path)" (-EISDIR: path is a directory). m may
 * hold part of the file after an error. Version 1 files of any earlier
 * bridge load unchanged.
 */
int bridge_ckpt_load(const char *path, struct bridge_srcmap *m, char *err, size_t errlen);

/*
 * Write m to `path` atomically (path.tmp + fsync + rename + directory
 * fsync). Returns 0 or -errno with the failing step in err.
 */
int bridge_ckpt_save(const char *path, const struct bridge_srcmap *m, char *err, size_t errlen);

/*
 * Check that a checkpoint can be written at `path`: write and fsync
 * path.tmp, then remove it. Returns 0 or -errno with "checkpoint: cannot
 * create|write path.tmp: why" in err (a missing directory, a read-only or
 * full file system).
 */
int bridge_ckpt_probe(const char *path, char *err, size_t errlen);

#endif
