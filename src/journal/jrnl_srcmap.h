/*
 * jrnl_srcmap.h - source id -> last sequence map (private).
 * Open addressing, linear probing, grows at 1/2 load. Sources are few
 * (tens), so snapshots are plain copies.
 */
#ifndef SHMBUS_JRNL_SRCMAP_H
#define SHMBUS_JRNL_SRCMAP_H

#include <stddef.h>
#include <stdint.h>

struct jrnl_srcmap {
	uint64_t *keys; /* source id + 1 (0 = empty slot) */
	uint64_t *vals;
	size_t cap, len;
};

/* Set key's value to max(current, seq). Returns 0 or -ENOMEM. */
int jrnl_srcmap_put_max(struct jrnl_srcmap *m, uint32_t source, uint64_t seq);
/* Set key's value to seq. Returns 0 or -ENOMEM. */
int jrnl_srcmap_set(struct jrnl_srcmap *m, uint32_t source, uint64_t seq);
/* Value of key into *seq. Returns 0 or -ENOENT. */
int jrnl_srcmap_get(const struct jrnl_srcmap *m, uint32_t source, uint64_t *seq);
/* Make dst a copy of src. Returns 0 or -ENOMEM. */
int jrnl_srcmap_copy(struct jrnl_srcmap *dst, const struct jrnl_srcmap *src);
void jrnl_srcmap_free(struct jrnl_srcmap *m);

#endif /* SHMBUS_JRNL_SRCMAP_H */
