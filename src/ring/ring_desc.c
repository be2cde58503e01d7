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

/*
 * ---- The arena: which entry and region a new ring gets ----
 *
 * Regions are carved from the bottom of the arena upwards (arena_used).
 * A freed ring's region stays with its directory entry, for a later ring
 * of at most that size (best fit). So that churn cannot leak the arena, a
 * region is never lost while anything else is possible: free regions
 * that end at the top go back to the arena (arena_used shrinks), a fresh
 * allocation takes an entry that holds no region, free regions that touch
 * are merged when that makes a fit (or frees an entry for a fresh one);
 * only when none of that helps is a region dropped, the smallest.
 *
 * Reuse and stale producers. A region changes hands only once its entry
 * is FREE, which unsubscribe, shmbus_ring_remove() and the recycling of
 * an orphaned ring all store with release (R2) and publish with a new
 * routing generation (R1, ring_entry_free_locked()). A producer compares
 * the generation at every publish or claim call and rebuilds its table
 * (A1), so only a producer that read the old generation and is still
 * between its claim and its commit can write into the old ring once it
 * is freed. The
 * best-fit reuse has always lived with that window (the next subscribe
 * wipes the region and builds a new ring in it); a region given back at
 * the top and allocated again, or merged with a free neighbour, changes
 * hands under exactly the same condition (a FREE entry, a later
 * generation, under the bus lock) and is wiped the same way by
 * ring_create_locked(), so these paths are no less safe. Merged bytes
 * beyond the new ring's own size are never read by it: a later ring in
 * that region wipes what it uses.
 *
 * Crash safety: the next owner of the lock after a holder died frees only
 * BUILDING entries (segment.c). So each step takes a region away from an
 * entry before it gives the bytes elsewhere (to arena_used, to the merged
 * entry): a holder dying in between leaks bytes, it never leaves two
 * entries holding the same bytes.
 */

/* Take e's region away. The compiler barrier keeps the stores that give
 * the bytes elsewhere after these ones (see "Crash safety"; the CPU's own
 * order does not matter: a killed process's stores all land). */
static void region_forget(struct ring_desc *e)
{
	e->region_off = 0;
	e->region_bytes = 0;
	atomic_signal_fence(memory_order_seq_cst);
}

/* Does FREE entry e hold a region inside the arena's used part? Shared
 * memory: a damaged record is treated as none (never reused). */
static bool free_region(const struct shmbus_bus *b, const struct ring_desc *e)
{
	const struct sb *sb = b->sb;
	if (load_relaxed(&e->state) != RING_STATE_FREE || e->region_bytes == 0)
		return false;
	return e->region_off >= sb->arena_off && e->region_bytes <= sb->arena_used &&
	       e->region_off - sb->arena_off <= sb->arena_used - e->region_bytes;
}

void ring_arena_trim_locked(struct shmbus_bus *b)
{
	struct sb *sb = b->sb;
	for (bool again = true; again;) {
		again = false;
		for (uint32_t i = 0; i < sb->max_rings; i++) {
			struct ring_desc *e = &b->rings[i];
			if (!free_region(b, e) ||
			    e->region_off + e->region_bytes != sb->arena_off + sb->arena_used)
				continue;
			uint64_t bytes = e->region_bytes;
			region_forget(e); /* first: "Crash safety" */
			sb->arena_used -= bytes;
			again = true;
		}
	}
}

void ring_entry_free_locked(struct shmbus_bus *b, struct ring_desc *d)
{
	memset(d->name, 0, sizeof(d->name));
	store_release(&d->state, RING_STATE_FREE); /* R2, pairs with A2 */
	bus_bump_generation(b);                    /* R1 */
	ring_arena_trim_locked(b);
}

struct free_reg {
	uint64_t off, bytes;
	uint32_t index;
};

static int free_reg_cmp(const void *a, const void *b)
{
	const struct free_reg *x = a, *y = b;
	return x->off < y->off ? -1 : x->off > y->off;
}

/*
 * Merge a run of free regions that touch (each ends where the next
 * starts) into the run's first entry; the others keep none. The run is
 * the one of smallest union among those of at least two regions and of at
 * least want bytes (want 0: any two, to free an entry). Returns the entry
 * that took the union and in *freed one that gave its region away, NULL
 * when no run qualifies, or sets *err (-ENOMEM).
 */
static struct ring_desc *merge_free_regions(struct shmbus_bus *b, uint64_t want,
					     struct ring_desc **freed, int *err)
{
	uint32_t n = 0, max = b->sb->max_rings;
	struct free_reg *r = malloc(max * sizeof(*r));
	if (!r) {
		*err = bus_err(-ENOMEM, "bus '%s': no memory to sort free regions", b->name);
		return NULL;
	}
	for (uint32_t i = 0; i < max; i++)
		if (free_region(b, &b->rings[i]))
			r[n++] = (struct free_reg){b->rings[i].region_off, b->rings[i].region_bytes, i};
	qsort(r, n, sizeof(*r), free_reg_cmp);
	uint32_t best_i = 0, best_j = 0;
	uint64_t best = UINT64_MAX;
	for (uint32_t i = 0; i < n; i++) {
		uint64_t sum = r[i].bytes;
		for (uint32_t j = i + 1; j < n && r[j - 1].off + r[j - 1].bytes == r[j].off; j++) {
			sum += r[j].bytes;
			if (sum >= want) {
				if (sum < best) {
					best = sum;
					best_i = i;
					best_j = j;
				}
				break;
			}
		}
	}
	struct ring_desc *into = NULL;
	if (best != UINT64_MAX) {
		for (uint32_t k = best_i + 1; k <= best_j; k++)
			region_forget(&b->rings[r[k].index]); /* first: "Crash safety" */
		into = &b->rings[r[best_i].index];
		into->region_bytes = best;
		*freed = &b->rings[r[best_i + 1].index];
	}
	free(r);
	return into;
}

int ring_region_alloc_locked(struct shmbus_bus *b, const char *name, uint64_t need,
			     struct ring_alloc *a)
{
	struct sb *sb = b->sb;
	ring_arena_trim_locked(b);
	struct ring_desc *bare = NULL, *fit = NULL, *smallest = NULL, *freed = NULL;
	uint64_t held = 0;
	uint32_t nheld = 0;
	for (uint32_t i = 0; i < sb->max_rings; i++) {
		struct ring_desc *e = &b->rings[i];
		if (load_relaxed(&e->state) != RING_STATE_FREE)
			continue;
		if (!free_region(b, e)) {
			if (!bare)
				bare = e;
			continue;
		}
		held += e->region_bytes;
		nheld++;
		if (e->region_bytes >= need && (!fit || e->region_bytes < fit->region_bytes))
			fit = e; /* best fit among freed regions */
		if (!smallest || e->region_bytes < smallest->region_bytes)
			smallest = e;
	}
	if (!bare && !smallest)
		return bus_err(-ENOSPC, "bus '%s': no free ring entry", b->name);
	int err = 0;
	bool room = sb->arena_bytes - sb->arena_used >= need;
	if (!fit && !room)
		fit = merge_free_regions(b, need, &freed, &err);
	if (fit) {
		*a = (struct ring_alloc){fit, fit->region_off, fit->region_bytes, false};
		return 0;
	}
	if (err)
		return err;
	if (!room)
		return bus_err(-ENOSPC,
			       "ring '%s': needs %llu bytes, arena has %llu of %llu free (and %llu "
			       "in %u freed regions, none large enough)",
			       name, (unsigned long long)need,
			       (unsigned long long)(sb->arena_bytes - sb->arena_used),
			       (unsigned long long)sb->arena_bytes, (unsigned long long)held, nheld);
	/* Fresh bytes from the top: an entry holding no region; else one that
	 * a merge empties; else (nothing else possible) drop the smallest. */
	if (!bare && merge_free_regions(b, 0, &freed, &err))
		bare = freed;
	if (err)
		return err;
	*a = (struct ring_alloc){bare ? bare : smallest, sb->arena_off + sb->arena_used, need, true};
	return 0;
}
