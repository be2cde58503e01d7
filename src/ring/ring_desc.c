/*
 * ring_desc.c - a ring's directory entry and region, checked before use.
 *
 * Producers, consumers and stat readers all build their view of a ring
 * from its directory entry; since the segment is shared with processes we
 * do not control, every field is checked against the segment's bounds
 * before a pointer is formed from it.
 */
#include <errno.h>

#include "shmbus/error.h"
#include "shmbus/stat.h"
#include "ring.h"

size_t ring_region_bytes(uint32_t capacity, uint32_t slot_size, uint32_t max_symbols)
{
	return sizeof(struct ring_hdr) + align_up(max_symbols / 8, CACHE_LINE) +
	       (size_t)capacity * slot_size;
}

int ring_desc_check(const struct shmbus_bus *b, const struct ring_desc *d)
{
	const struct sb *sb = b->sb;
	uint32_t cap = d->capacity, ss = d->slot_size;
	uint32_t at = (uint32_t)(d - b->rings);
	if (d->index != at) /* it indexes per-ring tables (rings_seen, claim words) */
		return bus_err(SHMBUS_ECORRUPT, "ring entry %u: index field says %u", at,
			       d->index);
	if (cap < 2 || cap > (1u << 30) || (cap & (cap - 1)))
		return bus_err(SHMBUS_ECORRUPT, "ring %u: capacity %u invalid", d->index, cap);
	if (ss != 64 && ss != 128 && ss != 256)
		return bus_err(SHMBUS_ECORRUPT, "ring %u: slot size %u invalid", d->index, ss);
	uint64_t need = ring_region_bytes(cap, ss, sb->max_symbols);
	if (d->region_off < sb->arena_off || d->region_off % CACHE_LINE ||
	    d->region_bytes < need || d->region_bytes > sb->arena_bytes ||
	    d->region_off - sb->arena_off > sb->arena_bytes - d->region_bytes)
		return bus_err(SHMBUS_ECORRUPT, "ring %u: region %llu+%llu outside the arena",
			       d->index, (unsigned long long)d->region_off,
			       (unsigned long long)d->region_bytes);
	if (d->group_size > 64 || (d->group_size && d->group_member >= d->group_size))
		return bus_err(SHMBUS_ECORRUPT, "ring %u: group member %u of %u", d->index,
			       d->group_member, d->group_size);
	if (d->policy > SHMBUS_POLICY_DROP || d->wait > SHMBUS_WAIT_BLOCK)
		return bus_err(SHMBUS_ECORRUPT, "ring %u: policy %u or wait %u unknown", d->index,
			       d->policy, d->wait);
	const struct ring_hdr *h = ring_hdr_of(b, d);
	if (h->capacity != cap || h->slot_size != ss || h->mask != cap - 1 ||
	    h->slots_off != sizeof(struct ring_hdr) + align_up(sb->max_symbols / 8, CACHE_LINE) ||
	    h->bitmap_off != sizeof(struct ring_hdr))
		return bus_err(SHMBUS_ECORRUPT, "ring %u: header disagrees with its entry",
			       d->index);
	/* Each ring's header names its own entry: two entries pointing at one
	 * region would mix two subscriptions' events. */
	if (h->desc_index != d->index)
		return bus_err(SHMBUS_ECORRUPT, "ring %u: region at %llu belongs to ring %u",
			       d->index, (unsigned long long)d->region_off, h->desc_index);
	return ring_positions_check(h, d->index);
}

int ring_positions_check(const struct ring_hdr *h, uint32_t index)
{
	/* head <= tail <= head + capacity. Read head, tail, head again, so
	 * that a live consumer and live producers moving both cannot make a
	 * sound ring look broken: both only grow, so h1 <= (head when t was
	 * read) <= t, and t <= (that head) + capacity <= h2 + capacity. h2
	 * may be past t by then: compare, never subtract. A1 pairs with R5
	 * and with the producers' claims. */
	uint64_t h1 = load_acquire(&h->head);
	uint64_t t = load_acquire(&h->tail);
	uint64_t h2 = load_acquire(&h->head);
	if (!ring_positions_sound(h1, t, h2, h->capacity))
		return bus_err(SHMBUS_ECORRUPT,
			       "ring %u: consumed %llu, claimed %llu, capacity %u: positions "
			       "inconsistent",
			       index, (unsigned long long)h1, (unsigned long long)t, h->capacity);
	return 0;
}

int ring_view_init(struct ring_view *v, const struct shmbus_bus *b, struct ring_desc *d)
{
	int rc = ring_desc_check(b, d);
	if (rc)
		return rc;
	struct ring_hdr *h = ring_hdr_of(b, d);
	memset(v, 0, sizeof(*v));
	v->hdr = h;
	v->desc = d;
	v->slots = (uint8_t *)h + h->slots_off;
	v->bitmap = d->nsymbols ? (const uint64_t *)((uint8_t *)h + h->bitmap_off) : NULL;
	v->capacity = d->capacity;
	v->mask = d->capacity - 1;
	v->slot_shift = (uint32_t)__builtin_ctz(d->slot_size);
	v->payload_max = d->slot_size - SLOT_META;
	v->max_symbols = b->sb->max_symbols;
	v->types = d->types;
	v->group_size = d->group_size;
	v->group_member = d->group_member;
	v->index = d->index;
	v->policy = (uint8_t)d->policy;
	v->wait = (uint8_t)d->wait;
	v->single_producer = (d->flags & SHMBUS_SUB_SINGLE_PRODUCER) != 0;
	v->wake_check = d->wait == SHMBUS_WAIT_ADAPTIVE || d->wait == SHMBUS_WAIT_BLOCK;
	v->head_cache = load_acquire(&h->head); /* A5 */
	return 0;
}

bool ring_consumer_alive(const struct ring_desc *d)
{
	return proc_alive(load_relaxed(&d->consumer_pid), load_relaxed(&d->consumer_start));
}

bool ring_orphan_if_dead(struct shmbus_bus *b, struct ring_desc *d)
{
	if (b->readonly || ring_consumer_alive(d))
		return false;
	/* Under the lock, so a consumer re-attaching right now (which sets a
	 * new pid and ACTIVE under the same lock) cannot be orphaned by a
	 * decision taken on its predecessor's pid. */
	if (bus_lock(b))
		return false;
	bool done = false;
	if (load_relaxed(&d->state) == RING_STATE_ACTIVE && !ring_consumer_alive(d)) {
		store_release(&d->state, RING_STATE_ORPHANED); /* R2 */
		bus_bump_generation(b);
		done = true;
	}
	bus_unlock(b);
	return done;
}
