/*
 * ring_desc.c - a ring's directory entry and region, checked before use.
 *
 * Producers, consumers and stat readers all build their view of a ring
 * from its directory entry; since the segment is shared with processes we
 * do not control, every field is checked against the segment's bounds
 * before a pointer is formed from it. The second half decides, under the
 * bus lock, which entry and which arena bytes a new ring gets, and gives
 * freed ones back (see "The arena" below).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "shmbus/error.h"
#include "shmbus/stat.h"
#include "ring.h"

size_t ring_region_bytes(uint32_t capacity, uint32_t slot_size, uint32_t max_symbols)
{
	return sizeof(struct ring_hdr) + align_up(max_symbols / 8, CACHE_LINE) +
	       (size_t)capacity * slot_size;
}

size_t shmbus_ring_arena_bytes(uint32_t capacity, uint32_t slot_size, uint32_t max_symbols)
{
	return align_up(ring_region_bytes(capacity, slot_size, max_symbols), 4096);
}

/* One read of each field of an entry that the view of its ring is built
 * from: the entry is shared memory, and a field read again after the
 * check could be a value never checked. */
struct desc_snap {
	uint32_t index, capacity, slot_size, policy, wait, flags, nsymbols;
	uint32_t group_size, group_member;
	uint64_t region_off, region_bytes, types;
};

static int desc_snap_check(const struct shmbus_bus *b, const struct ring_desc *d,
			   struct desc_snap *s)
{
	uint32_t at = (uint32_t)(d - b->rings);
	/* volatile: each field read exactly once, never again from shared
	 * memory in place of the copy (which a compiler could otherwise do). */
	const volatile struct ring_desc *vd = d;
	*s = (struct desc_snap){.index = vd->index,
				.capacity = vd->capacity,
				.slot_size = vd->slot_size,
				.policy = vd->policy,
				.wait = vd->wait,
				.flags = vd->flags,
				.nsymbols = vd->nsymbols,
				.group_size = vd->group_size,
				.group_member = vd->group_member,
				.region_off = vd->region_off,
				.region_bytes = vd->region_bytes,
				.types = vd->types};
	uint32_t cap = s->capacity, ss = s->slot_size;
	if (s->index != at) /* it indexes per-ring tables (rings_seen, claim words) */
		return bus_err(SHMBUS_ECORRUPT, "ring entry %u: index field says %u", at,
			       s->index);
	if (cap < 2 || cap > (1u << 30) || (cap & (cap - 1)))
		return bus_err(SHMBUS_ECORRUPT, "ring %u: capacity %u invalid", at, cap);
	if (ss != 64 && ss != 128 && ss != 256)
		return bus_err(SHMBUS_ECORRUPT, "ring %u: slot size %u invalid", at, ss);
	uint64_t need = ring_region_bytes(cap, ss, b->max_symbols);
	if (s->region_off < b->arena_off || s->region_off % CACHE_LINE ||
	    s->region_bytes < need || s->region_bytes > b->arena_bytes ||
	    s->region_off - b->arena_off > b->arena_bytes - s->region_bytes)
		return bus_err(SHMBUS_ECORRUPT, "ring %u: region %llu+%llu outside the arena",
			       at, (unsigned long long)s->region_off,
			       (unsigned long long)s->region_bytes);
	if (s->group_size > 64 || (s->group_size && s->group_member >= s->group_size))
		return bus_err(SHMBUS_ECORRUPT, "ring %u: group member %u of %u", at,
			       s->group_member, s->group_size);
	if (s->policy > SHMBUS_POLICY_DROP || s->wait > SHMBUS_WAIT_BLOCK)
		return bus_err(SHMBUS_ECORRUPT, "ring %u: policy %u or wait %u unknown", at,
			       s->policy, s->wait);
	const struct ring_hdr *h = (const struct ring_hdr *)(b->base + s->region_off);
	if (h->capacity != cap || h->slot_size != ss || h->mask != cap - 1 ||
	    h->slots_off != sizeof(struct ring_hdr) + align_up(b->max_symbols / 8, CACHE_LINE) ||
	    h->bitmap_off != sizeof(struct ring_hdr))
		return bus_err(SHMBUS_ECORRUPT, "ring %u: header disagrees with its entry", at);
	/* Each ring's header names its own entry: two entries pointing at one
	 * region would mix two subscriptions' events. */
	if (h->desc_index != at)
		return bus_err(SHMBUS_ECORRUPT, "ring %u: region at %llu belongs to ring %u", at,
			       (unsigned long long)s->region_off, h->desc_index);
	return ring_positions_check(h, at, cap);
}

int ring_desc_check(const struct shmbus_bus *b, const struct ring_desc *d)
{
	struct desc_snap s;
	return desc_snap_check(b, d, &s);
}

int ring_positions_check(const struct ring_hdr *h, uint32_t index, uint32_t cap)
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
	if (!ring_positions_sound(h1, t, h2, cap))
		return bus_err(SHMBUS_ECORRUPT,
			       "ring %u: consumed %llu, claimed %llu, capacity %u: positions "
			       "inconsistent",
			       index, (unsigned long long)h1, (unsigned long long)t, cap);
	return 0;
}

int ring_view_init(struct ring_view *v, const struct shmbus_bus *b, struct ring_desc *d)
{
	/* First: a ring built in the entry while the rest is read makes the
	 * view look older than it is (stale at once), never newer. */
	uint32_t incarnation = load_relaxed(&d->incarnation);
	struct desc_snap s;
	int rc = desc_snap_check(b, d, &s);
	if (rc)
		return rc;
	/* From the checked snapshot and the attach-time geometry only. */
	struct ring_hdr *h = (struct ring_hdr *)(b->base + s.region_off);
	memset(v, 0, sizeof(*v));
	v->hdr = h;
	v->desc = d;
	v->slots = (uint8_t *)h + sizeof(struct ring_hdr) + align_up(b->max_symbols / 8, CACHE_LINE);
	v->bitmap = s.nsymbols ? (const uint64_t *)((uint8_t *)h + sizeof(struct ring_hdr)) : NULL;
	v->capacity = s.capacity;
	v->mask = s.capacity - 1;
	v->slot_shift = (uint32_t)__builtin_ctz(s.slot_size);
	v->payload_max = s.slot_size - SLOT_META;
	v->max_symbols = b->max_symbols;
	v->types = s.types;
	v->group_size = s.group_size;
	v->group_member = s.group_member;
	v->index = s.index;
	v->incarnation = incarnation;
	v->policy = (uint8_t)s.policy;
	v->wait = (uint8_t)s.wait;
	v->single_producer = (s.flags & SHMBUS_SUB_SINGLE_PRODUCER) != 0;
	v->wake_check = s.wait == SHMBUS_WAIT_ADAPTIVE || s.wait == SHMBUS_WAIT_BLOCK;
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

/*
 * ---- The arena: which entry and region a new ring gets ----
 *
 * The arena's bytes in use are exactly the regions of the entries that
 * are not FREE; every other byte is free, whatever a FREE entry's stale
 * region record says (it is cleared at the free and never trusted). A new
 * ring gets the smallest gap between used regions that holds it (best
 * fit; the gap above the highest one included), so churn in any order
 * cannot leak a byte, and no record can be reused that is damaged.
 * arena_used is the high-water mark: the end of the highest used region,
 * recomputed at every allocation and free (shmbus-stat shows it).
 *
 * Reuse and stale producers. Bytes change hands only once their entry is
 * FREE, which unsubscribe, shmbus_ring_remove() and the recycling of an
 * orphaned ring all store with release (R2) and publish with a new
 * routing generation (R1, ring_entry_free_locked()). A producer compares
 * the generation at every publish or claim call and rebuilds its table
 * (A1); within a call (a batch, a wait for room in a `block` ring) it
 * checks again before each claim, and once the generation moved it claims
 * only if the entry is still in use by the same ring (its incarnation,
 * bumped at every ring built in it). So only a producer between that check
 * and its commit can write into the old ring once it is freed;
 * ring_create_locked() wipes the bytes a new ring uses before it builds
 * there. Reuse lives with that window.
 *
 * Crash safety: a lock holder that dies leaves at worst a BUILDING entry,
 * which the next owner of the lock frees (segment.c); its bytes are then
 * free again by the rule above.
 */

struct used_reg {
	uint64_t off, end; /* relative to the arena */
};

static int used_reg_cmp(const void *a, const void *b)
{
	const struct used_reg *x = a, *y = b;
	return x->off < y->off ? -1 : x->off > y->off;
}

/* The regions of non-FREE entries, clamped to the arena, sorted by
 * offset, into r (max_rings entries). Returns how many. */
static uint32_t used_regions(const struct shmbus_bus *b, struct used_reg *r)
{
	uint32_t n = 0;
	for (uint32_t i = 0; i < b->max_rings; i++) {
		const struct ring_desc *e = &b->rings[i];
		uint64_t roff = e->region_off, rbytes = e->region_bytes;
		if (load_relaxed(&e->state) == RING_STATE_FREE || rbytes == 0)
			continue;
		uint64_t off = roff >= b->arena_off ? roff - b->arena_off : 0;
		if (off >= b->arena_bytes)
			continue; /* damaged: ring_desc_check() refuses such a ring */
		uint64_t end = rbytes > b->arena_bytes - off ? b->arena_bytes : off + rbytes;
		r[n++] = (struct used_reg){off, end};
	}
	qsort(r, n, sizeof(*r), used_reg_cmp);
	return n;
}

/* arena_used := the end of the highest used region (n sorted regions). */
static void arena_high_water(struct sb *sb, const struct used_reg *r, uint32_t n)
{
	uint64_t top = 0;
	for (uint32_t i = 0; i < n; i++)
		if (r[i].end > top)
			top = r[i].end;
	sb->arena_used = align_up(top, 4096);
}

void ring_arena_trim_locked(struct shmbus_bus *b)
{
	struct used_reg *r = malloc(b->max_rings * sizeof(*r));
	if (!r)
		return; /* arena_used stays a high-water mark: nothing is lost */
	arena_high_water(b->sb, r, used_regions(b, r));
	free(r);
}

void ring_entry_free_locked(struct shmbus_bus *b, struct ring_desc *d)
{
	store_release(&d->state, RING_STATE_FREE); /* R2, pairs with A2 */
	/* W14: FREE is visible to a stat reader that saw any write below
	 * (pairs with A14 in shmbus_stat_ring()); the name wiped before it
	 * read as the name of a ring in use. */
	atomic_thread_fence(memory_order_release);
	memset(d->name, 0, sizeof(d->name));
	bus_bump_generation(b); /* R1 */
	d->region_off = 0; /* a FREE entry's record is never used again */
	d->region_bytes = 0;
	ring_arena_trim_locked(b);
}

int ring_region_alloc_locked(struct shmbus_bus *b, const char *name, uint64_t need,
			     struct ring_alloc *a)
{
	struct sb *sb = b->sb;
	struct ring_desc *entry = NULL;
	for (uint32_t i = 0; i < b->max_rings && !entry; i++)
		if (load_relaxed(&b->rings[i].state) == RING_STATE_FREE)
			entry = &b->rings[i];
	if (!entry)
		return bus_err(-ENOSPC, "bus '%s': no free ring entry", b->name);
	struct used_reg *r = malloc(b->max_rings * sizeof(*r));
	if (!r)
		return bus_err(-ENOMEM, "bus '%s': no memory to sort the arena", b->name);
	uint32_t n = used_regions(b, r);
	/* Best fit among the gaps: below each used region, and above all. */
	uint64_t at = UINT64_MAX, best = UINT64_MAX, prev = 0, free_bytes = 0, largest = 0;
	for (uint32_t i = 0; i <= n; i++) {
		uint64_t start = align_up(prev, 4096), stop = i < n ? r[i].off : b->arena_bytes;
		uint64_t gap = stop > start ? stop - start : 0;
		free_bytes += gap;
		largest = gap > largest ? gap : largest;
		if (gap >= need && gap < best) {
			best = gap;
			at = start;
		}
		if (i < n && r[i].end > prev)
			prev = r[i].end;
	}
	if (at == UINT64_MAX) {
		free(r);
		return bus_err(-ENOSPC,
			       "ring '%s': needs %llu bytes, arena has %llu of %llu free (largest "
			       "gap %llu)",
			       name, (unsigned long long)need, (unsigned long long)free_bytes,
			       (unsigned long long)b->arena_bytes, (unsigned long long)largest);
	}
	r[n++] = (struct used_reg){at, at + need};
	arena_high_water(sb, r, n);
	free(r);
	*a = (struct ring_alloc){entry, b->arena_off + at, need};
	return 0;
}
