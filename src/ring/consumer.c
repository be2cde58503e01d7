/*
 * consumer.c - subscriptions and the consumer side of a ring.
 *
 * shmbus_subscribe() creates or re-attaches a ring under the bus lock,
 * fills the directory entry, and marks it ACTIVE with release (R2) before
 * bumping the routing generation (R1); producers pick it up at their next
 * event. Polling reads committed slots from the head in order (A6) and
 * publishes the new head after the batch (R5). When the head slot stays
 * uncommitted, every STUCK_CHECK_EVERY empty polls the consumer looks at
 * who claimed it: a claimer that is dead (or a claim never stamped for
 * stuck_timeout) is skipped and counted, so a producer SIGKILLed between
 * claim and commit cannot stall the ring.
 *
 * A new ring needs a free directory entry: when none is left, an empty
 * orphaned ring is recycled (ring_recycle_locked); which arena bytes it
 * gets is decided in ring_desc.c. Unsubscribe, shmbus_ring_remove() and
 * recycling all free an entry the same way (ring_entry_free_locked).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <numa.h>
#include <numaif.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "shmbus/clock.h"
#include "shmbus/error.h"
#include "ring.h"

#define STUCK_CHECK_EVERY 4096u
/* Adaptive waiting, for consumers that may share a core: a short spin
 * (~3 us), then yields (a core's other task runs at once; ~1 us each when
 * alone), then futex sleep. A long spin holds a shared core from the very
 * producer it waits for: with 2000 spins the 3-process pipeline bench on
 * 2 cores took 90 us per event end to end, with 200 spins 18 us. */
#define SPIN_ROUNDS 200u
#define YIELD_ROUNDS 2000u
#define SLEEP_CAP_NS 10000000 /* longest nap: stuck checks and heartbeats */
#define STUCK_TIMEOUT_DEFAULT_NS 1000000000 /* opts.stuck_timeout_ns 0, new ring */

struct shmbus_consumer {
	struct ring_view v;
	struct shmbus_bus *bus;
	uint64_t head;     /* read position: the next slot to deliver */
	uint64_t released; /* the ring's head: slots before it are free */
	int hold;          /* shmbus_consumer_hold: polls leave slots taken */
	int polling;       /* inside shmbus_poll: a handler's nested poll is refused */
	uint32_t close_pending; /* a handler closed it: 1 + the ring state to leave
	                           (RING_STATE_FREE is 0), done when the poll returns */
	uint32_t empty_polls;
	uint64_t unstamped_pos;
	int64_t unstamped_since;
	int64_t stuck_timeout_ns;
	int32_t pid; /* the subscribing process */
	char name[SHMBUS_NAME_MAX + 1];
};

void shmbus_sub_opts_init(struct shmbus_sub_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->capacity = 65536;
	o->slot_size = 128;
	o->policy = SHMBUS_POLICY_BLOCK;
	o->wait = SHMBUS_WAIT_ADAPTIVE;
	o->stuck_timeout_ns = 0; /* 1 s for a new ring; a re-attach keeps the ring's */
}

static int check_opts(const shmbus_bus *b, const char *ring, const struct shmbus_sub_opts *o)
{
	uint32_t c = o->capacity;
	if (c < 2 || c > (1u << 30) || (c & (c - 1)))
		return bus_err(-EINVAL, "ring '%s': capacity %u is not a power of two in 2..2^30",
			       ring, c);
	if (o->slot_size != 64 && o->slot_size != 128 && o->slot_size != 256)
		return bus_err(-EINVAL, "ring '%s': slot size %u is not 64, 128 or 256", ring,
			       o->slot_size);
	if ((unsigned)o->policy > SHMBUS_POLICY_DROP)
		return bus_err(-EINVAL, "ring '%s': full policy %d unknown", ring, (int)o->policy);
	if ((unsigned)o->wait > SHMBUS_WAIT_BLOCK)
		return bus_err(-EINVAL, "ring '%s': wait strategy %d unknown", ring, (int)o->wait);
	if (o->types & 1)
		return bus_err(-EINVAL, "ring '%s': type 0 is not a valid event type", ring);
	if (o->group) {
		int rc = bus_check_name("group", o->group);
		if (rc)
			return rc;
		if (o->group_size < 1 || o->group_size > 64 || o->group_member >= o->group_size)
			return bus_err(-EINVAL, "ring '%s': group member %u of %u (size 1..64)",
				       ring, o->group_member, o->group_size);
	}
	if (o->symbols && (o->nsymbols == 0 || o->nsymbols > SHMBUS_SUB_MAX_SYMBOLS))
		return bus_err(-EINVAL, "ring '%s': %zu symbols (1..%d)", ring, o->nsymbols,
			       SHMBUS_SUB_MAX_SYMBOLS);
	for (size_t i = 0; o->symbols && i < o->nsymbols; i++)
		if (o->symbols[i] == 0 || o->symbols[i] > b->max_symbols)
			return bus_err(-EINVAL, "ring '%s': symbol id %u is not in 1..%u", ring,
				       o->symbols[i], b->max_symbols);
	if (o->stuck_timeout_ns < 0)
		return bus_err(-EINVAL, "ring '%s': stuck_timeout_ns must be >= 0", ring);
	if (o->flags & ~SHMBUS_SUB_SINGLE_PRODUCER)
		return bus_err(-EINVAL, "ring '%s': unknown flags 0x%x", ring, o->flags);
	return 0;
}

/* Filter part of an entry: types and the symbol bitmap. */
static void desc_set_filter(struct shmbus_bus *b, struct ring_desc *d, struct ring_hdr *h,
			    const struct shmbus_sub_opts *o)
{
	/* h: the header at the region checked (or just allocated) under the
	 * lock, never d->region_off read again. */
	uint64_t *bm = (uint64_t *)((uint8_t *)h + sizeof(struct ring_hdr));
	/* The bitmap is cleared, then filled: a stat reader in between would
	 * see no symbol at all. W2: the odd seq is visible before the filter
	 * changes (pairs with the reader's fence after A13). */
	fetch_add_relaxed(&d->filter_seq, 1);
	atomic_thread_fence(memory_order_release);
	memset(bm, 0, align_up(b->max_symbols / 8, CACHE_LINE));
	d->types = o->types ? o->types : ~UINT64_C(1);
	d->nsymbols = o->symbols ? (uint32_t)o->nsymbols : 0;
	for (size_t i = 0; o->symbols && i < o->nsymbols; i++)
		bm[(o->symbols[i] - 1) >> 6] |= UINT64_C(1) << ((o->symbols[i] - 1) & 63);
	/* R13: the new filter before the even seq, pairs with A13 in stat.c */
	atomic_fetch_add_explicit(&d->filter_seq, 1, memory_order_release);
}

/* Bind a new ring's pages to the node of the CPU the consumer runs on. */
static void bind_to_local_node(void *addr, size_t len)
{
	if (numa_available() < 0 || numa_max_node() < 1)
		return;
	int node = numa_node_of_cpu(sched_getcpu());
	if (node < 0)
		return;
	unsigned long mask = 1ul << node;
	uintptr_t a = (uintptr_t)addr & ~(uintptr_t)4095;
	mbind((void *)a, len + ((uintptr_t)addr - a), MPOL_BIND, &mask, sizeof(mask) * 8,
	      MPOL_MF_MOVE);
}

/* Does [off, off + bytes) overlap the region of a ring in use other than
 * `self`? Only a damaged allocation record (arena_used, a freed entry's
 * region) makes it so; building there would wipe a live ring. */
static int region_in_use(const struct shmbus_bus *b, const struct ring_desc *self,
			 uint64_t off, uint64_t bytes)
{
	for (uint32_t i = 0; i < b->max_rings; i++) {
		const struct ring_desc *e = &b->rings[i];
		if (e == self || load_relaxed(&e->state) == RING_STATE_FREE)
			continue;
		if (e->region_off < off + bytes && off < e->region_off + e->region_bytes)
			return bus_err(SHMBUS_ECORRUPT,
				       "bus '%s': arena bytes %llu+%llu for a new ring overlap ring "
				       "%u '%.*s' (allocation record damaged)",
				       b->name, (unsigned long long)off, (unsigned long long)bytes,
				       i, (int)sizeof(e->name), e->name);
	}
	return 0;
}

/* A new member of group o->group must agree with the group's rings: the
 * same size, and a member index no other ring of the group holds (else
 * some symbols reach no member and others two). */
static int group_check_locked(const struct shmbus_bus *b, const char *name,
			      const struct shmbus_sub_opts *o)
{
	for (uint32_t i = 0; o->group && i < b->max_rings; i++) {
		const struct ring_desc *e = &b->rings[i];
		uint32_t st = load_relaxed(&e->state);
		if (st == RING_STATE_FREE || st == RING_STATE_BUILDING || e->group_size == 0 ||
		    strncmp(e->group, o->group, sizeof(e->group)) != 0)
			continue;
		if (e->group_size != o->group_size)
			return bus_err(-EINVAL,
				       "ring '%s': group '%s' has %u members (ring '%.*s'), not %u",
				       name, o->group, e->group_size, (int)sizeof(e->name), e->name,
				       o->group_size);
		if (e->group_member == o->group_member && !ring_consumer_alive(e) &&
		    st != RING_STATE_DETACHED)
			return bus_err(-EINVAL,
				       "ring '%s': member %u of group '%s' is ring '%.*s' already, "
				       "whose consumer (pid %d) died: subscribe that ring again, or "
				       "remove it with `shmbusctl ring-remove %s %.*s`",
				       name, o->group_member, o->group, (int)sizeof(e->name), e->name,
				       (int)load_relaxed(&e->consumer_pid), b->name,
				       (int)sizeof(e->name), e->name);
		if (e->group_member == o->group_member)
			return bus_err(-EINVAL,
				       "ring '%s': member %u of group '%s' is ring '%.*s' already",
				       name, o->group_member, o->group, (int)sizeof(e->name),
				       e->name);
	}
	return 0;
}

/* Is ring d, orphaned (its consumer died, producers route around it since
 * then), free of unconsumed events? A damaged entry is not. */
static bool orphan_empty(const struct shmbus_bus *b, struct ring_desc *d)
{
	struct ring_view v; /* the header where the entry said when checked */
	if (ring_view_init(&v, b, d) != 0)
		return false;
	/* A5 pairs with R5 (the consumer's last release), A9 with R9 (claims) */
	return load_acquire(&v.hdr->head) == load_acquire(&v.hdr->tail);
}

/*
 * The directory is full. Recycle an orphaned ring that holds nothing:
 * ORPHANED (set by shmbus_bus_reap() or by a producer that found the
 * consumer dead; a declared ring never attached is DETACHED and stays, and
 * a dead consumer's ACTIVE ring is kept for its restart until reaped) and
 * empty; of those, the one whose consumer started first. It is freed as
 * unsubscribe frees (ring_entry_free_locked), so a ring created in it
 * later is as safe from stale producers as any reuse (see ring_desc.c).
 * Returns 0, after saying which ring went in shmbus_errmsg(), or -ENOSPC.
 * Should the arena then refuse the new ring, the orphan stays freed: it
 * held nothing, and its bytes are free for the new one. A declared ring
 * (shmbusctl made it from the config: its group and filter are the
 * config's) is never recycled; ring-remove can free it.
 */
static int ring_recycle_locked(struct shmbus_bus *b, const char *name)
{
	uint32_t max = b->max_rings;
	for (uint32_t i = 0; i < max; i++)
		if (load_relaxed(&b->rings[i].state) == RING_STATE_FREE)
			return 0;
	struct ring_desc *best = NULL;
	uint32_t full = 0, unreaped = 0;
	for (uint32_t i = 0; i < max; i++) {
		struct ring_desc *d = &b->rings[i];
		uint32_t st = load_relaxed(&d->state);
		if ((st != RING_STATE_ORPHANED && st != RING_STATE_ACTIVE) || ring_consumer_alive(d))
			continue;
		if (d->flags & RING_F_DECLARED)
			full++; /* kept: its settings are the config's */
		else if (st == RING_STATE_ACTIVE)
			unreaped++;
		else if (!orphan_empty(b, d))
			full++;
		else if (!best || load_relaxed(&d->consumer_start) < load_relaxed(&best->consumer_start))
			best = d;
	}
	if (!best && full)
		return bus_err(-ENOSPC,
			       "bus '%s': all %u ring entries in use (%u of them orphaned: consumers "
			       "dead, events unconsumed or the ring declared by the config; remove "
			       "one with `shmbusctl ring-remove %s RING`)",
			       b->name, max, full, b->name);
	if (!best && unreaped)
		return bus_err(-ENOSPC,
			       "bus '%s': all %u ring entries in use (%u by consumers that died, not "
			       "yet reaped: shmbus_bus_reap() orphans them, then an empty one is "
			       "recycled)",
			       b->name, max, unreaped);
	if (!best)
		return bus_err(-ENOSPC, "bus '%s': all %u ring entries in use", b->name, max);
	char old[sizeof(best->name) + 1];
	snprintf(old, sizeof(old), "%.*s", (int)sizeof(best->name), best->name);
	int32_t pid = load_relaxed(&best->consumer_pid);
	ring_entry_free_locked(b, best);
	bus_err(0, "ring '%s' took the entry of orphaned ring '%s' (consumer pid %d dead, "
		   "nothing unconsumed)", name, old, (int)pid);
	return 0;
}

_Static_assert(offsetof(struct ring_desc, pad) - offsetof(struct ring_desc, consumer_pid) == 28,
	       "ring_create_locked() resets each field from consumer_pid on by name");

/* Find a free entry and arena room for a new ring; under the lock. */
static int ring_create_locked(struct shmbus_bus *b, const char *name,
			      const struct shmbus_sub_opts *o, struct ring_desc **out)
{
	uint64_t need = shmbus_ring_arena_bytes(o->capacity, o->slot_size, b->max_symbols);
	struct ring_alloc a;
	int rc = group_check_locked(b, name, o);
	if (rc || (rc = ring_recycle_locked(b, name)) ||
	    (rc = ring_region_alloc_locked(b, name, need, &a)) ||
	    (rc = region_in_use(b, a.desc, a.off, a.bytes)))
		return rc;
	struct ring_desc *d = a.desc;
	uint64_t off = a.off, bytes = a.bytes;
	store_relaxed(&d->state, RING_STATE_BUILDING);
	/* W15: BUILDING is visible to a stat reader that saw any write below
	 * (pairs with A14 in shmbus_stat_ring()). */
	atomic_thread_fence(memory_order_release);
	uint32_t index = (uint32_t)(d - b->rings);
	uint32_t incarnation = load_relaxed(&d->incarnation) + 1;
	/* Wiped field by field where others read at any time (state, the
	 * consumer, the owner): atomically, never by memset. */
	memset(&d->index, 0, offsetof(struct ring_desc, consumer_pid) - offsetof(struct ring_desc, index));
	store_relaxed(&d->consumer_pid, 0);
	store_relaxed(&d->consumer_start, 0);
	d->stuck_timeout_ns = 0;
	store_relaxed(&d->sp_owner, 0);
	d->index = index;
	/* A producer still routing with a view of the ring this entry held
	 * before tells it from this one by the count (view_replaced()). R16:
	 * a stat reader that reads the new count (A16) sees BUILDING too. */
	store_release(&d->incarnation, incarnation);
	/* The producers that delivered to the ring this index held before did
	 * not deliver to this one: their rings_seen bit would count them among
	 * its feeders (shmbus-stat, and the launcher's stop order). */
	for (uint32_t i = 0; i < b->max_producers; i++)
		fetch_and_relaxed(&b->prods[i].rings_seen[index >> 6],
				  ~(UINT64_C(1) << (index & 63)));
	d->region_off = off;
	d->region_bytes = bytes;
	d->capacity = o->capacity;
	d->slot_size = o->slot_size;
	struct ring_hdr *h = (struct ring_hdr *)(b->base + off);
	/* A reused region holds old slot stamps that could look committed. */
	memset(h, 0, ring_region_bytes(o->capacity, o->slot_size, b->max_symbols));
	bind_to_local_node(h, bytes);
	h->capacity = o->capacity;
	h->mask = o->capacity - 1;
	h->slot_size = o->slot_size;
	h->slot_shift = (uint32_t)__builtin_ctz(o->slot_size);
	h->desc_index = index;
	h->bitmap_off = sizeof(struct ring_hdr);
	h->slots_off = sizeof(struct ring_hdr) + align_up(b->max_symbols / 8, CACHE_LINE);
	snprintf(d->name, sizeof(d->name), "%s", name);
	d->policy = o->policy;
	d->wait = o->wait;
	d->flags = o->flags;
	d->stuck_timeout_ns = o->stuck_timeout_ns ? o->stuck_timeout_ns : STUCK_TIMEOUT_DEFAULT_NS;
	if (o->group) {
		snprintf(d->group, sizeof(d->group), "%s", o->group);
		d->group_hash = fnv1a32(o->group, strlen(o->group));
		d->group_size = o->group_size;
		d->group_member = o->group_member;
	}
	desc_set_filter(b, d, h, o);
	*out = d;
	return 0;
}

static struct ring_desc *ring_find_locked(struct shmbus_bus *b, const char *name)
{
	for (uint32_t i = 0; i < b->max_rings; i++) {
		struct ring_desc *d = &b->rings[i];
		uint32_t st = load_relaxed(&d->state);
		if (st != RING_STATE_FREE && st != RING_STATE_BUILDING &&
		    strncmp(d->name, name, sizeof(d->name)) == 0)
			return d;
	}
	return NULL;
}

/* Re-attach to an existing ring whose consumer is gone. */
static int ring_reattach_locked(struct shmbus_bus *b, struct ring_desc *d, const char *name,
				const struct shmbus_sub_opts *o, bool explicit_opts)
{
	struct ring_view v;
	int rc = ring_view_init(&v, b, d);
	if (rc)
		return rc;
	if (load_relaxed(&d->state) == RING_STATE_ACTIVE && ring_consumer_alive(d))
		return bus_err(SHMBUS_EBUSY, "ring '%s' has a live consumer (pid %d)", name,
			       (int)load_relaxed(&d->consumer_pid));
	if (explicit_opts && (o->capacity != d->capacity || o->slot_size != d->slot_size))
		return bus_err(-EINVAL,
			       "ring '%s' exists with capacity %u and slot size %u, not %u/%u",
			       name, d->capacity, d->slot_size, o->capacity, o->slot_size);
	if (!explicit_opts)
		return 0; /* opts NULL: keep everything as declared */
	/* Group settings are the ring's for life: a re-attach naming other
	 * ones would receive another member's share (or half the symbols
	 * where it asked for all) without a word. */
	if (o->group && (d->group_size == 0 || strncmp(d->group, o->group, sizeof(d->group)) != 0 ||
			 d->group_size != o->group_size || d->group_member != o->group_member))
		return bus_err(-EINVAL,
			       "ring '%s' exists as member %u of %u of group '%.*s', not member %u "
			       "of %u of '%s' (remove the ring to change its group)",
			       name, d->group_member, d->group_size, (int)sizeof(d->group), d->group,
			       o->group_member, o->group_size, o->group);
	/* So is the claim mode (flags 0 keeps it, as group NULL does): a
	 * producer still in a call with its view of the ring in the other
	 * mode would mix plain stores of the tail with another's atomic
	 * claims, and both would take the same slot. */
	uint32_t flags = d->flags & ~RING_F_DECLARED;
	if (o->flags && o->flags != flags)
		return bus_err(-EINVAL,
			       "ring '%s' exists with flags 0x%x, not 0x%x (remove the ring to "
			       "change its single-producer mode)",
			       name, flags, o->flags);
	if (o->types || o->symbols)
		desc_set_filter(b, d, v.hdr, o);
	d->policy = o->policy;
	d->wait = o->wait;
	/* The consumer's own setting (it alone reads it, at subscribe): a
	 * new one given replaces the declared one, 0 keeps it. */
	if (o->stuck_timeout_ns)
		d->stuck_timeout_ns = o->stuck_timeout_ns;
	return 0;
}

/* The ring name checked and the options (defaults when NULL) validated into *o. */
static int sub_opts_resolve(shmbus_bus *b, const char *name, const struct shmbus_sub_opts *opts,
			    struct shmbus_sub_opts *o)
{
	int rc = bus_check_name("ring", name);
	if (rc)
		return rc;
	if (opts)
		*o = *opts;
	else
		shmbus_sub_opts_init(o);
	return check_opts(b, name, o);
}

int shmbus_subscribe(shmbus_bus *b, const char *name, const struct shmbus_sub_opts *opts,
		     shmbus_consumer **out)
{
	struct shmbus_sub_opts o;
	bus_err_clear();
	if (!b || !out)
		return bus_err(-EINVAL, "subscribe: bus or out is NULL");
	*out = NULL;
	int rc = sub_opts_resolve(b, name, opts, &o);
	if (rc)
		return rc;
	struct shmbus_consumer *c;
	if (posix_memalign((void **)&c, 64, sizeof(*c)) != 0)
		return -ENOMEM;
	memset(c, 0, sizeof(*c));
	c->pid = getpid();
	if ((rc = bus_lock(b))) {
		free(c);
		return rc;
	}
	struct ring_desc *d = ring_find_locked(b, name);
	bool created = false;
	if (d) {
		rc = ring_reattach_locked(b, d, name, &o, opts != NULL);
	} else if ((rc = ring_create_locked(b, name, &o, &d)) == 0) {
		created = true;
	}
	/* The view first: a damaged entry is refused before it is marked
	 * ours (it once stayed ACTIVE with this pid, so ring-remove said
	 * "live consumer" until the process exited). */
	if (rc == 0 && (rc = ring_view_init(&c->v, b, d)) != 0 && created)
		ring_entry_free_locked(b, d);
	if (rc == 0) {
		/* This process, not the handle's: a child forked with the
		 * handle (an anonymous bus) is a consumer of its own, which
		 * producers must find dead when it dies. */
		store_relaxed(&d->consumer_pid, c->pid);
		store_relaxed(&d->consumer_start, proc_self_start_time());
		store_release(&d->state, RING_STATE_ACTIVE); /* R2, pairs with A2 */
		bus_bump_generation(b);                      /* R1 */
	}
	bus_unlock(b);
	if (rc) {
		free(c);
		return rc;
	}
	c->bus = b;
	c->head = load_acquire(&c->v.hdr->head);
	c->released = c->head;
	/* One read of a shared word checked by no one since: a damaged one
	 * (<= 0 would skip every slot not yet stamped) takes the default. */
	int64_t stuck = *(volatile int64_t *)&d->stuck_timeout_ns;
	c->stuck_timeout_ns = stuck > 0 ? stuck : STUCK_TIMEOUT_DEFAULT_NS;
	snprintf(c->name, sizeof(c->name), "%s", name);
	*out = c;
	return 0;
}

int shmbus_ring_declare(shmbus_bus *b, const char *name, const struct shmbus_sub_opts *opts)
{
	struct shmbus_sub_opts o;
	bus_err_clear();
	if (!b)
		return bus_err(-EINVAL, "declare: bus is NULL");
	int rc = sub_opts_resolve(b, name, opts, &o);
	if (rc || (rc = bus_lock(b)))
		return rc;
	struct ring_desc *d = ring_find_locked(b, name);
	if (d) {
		rc = bus_err(-EEXIST, "ring '%s' already exists", name);
	} else if ((rc = ring_create_locked(b, name, &o, &d)) == 0) {
		d->flags |= RING_F_DECLARED;
		store_release(&d->state, RING_STATE_DETACHED); /* R2 */
		bus_bump_generation(b);                        /* R1 */
	}
	bus_unlock(b);
	return rc;
}

static void consumer_detach(shmbus_consumer *c, uint32_t new_state)
{
	struct shmbus_bus *b = c->bus;
	struct ring_desc *d = c->v.desc;
	/* A forked child closing the copy it inherited frees only its memory:
	 * the ring's consumer is still the parent, consuming. */
	if (c->pid != getpid())
		return;
	if (bus_lock(b) == 0) {
		if (load_relaxed(&d->consumer_pid) == c->pid &&
		    load_relaxed(&d->state) == RING_STATE_ACTIVE) {
			if (new_state == RING_STATE_FREE) {
				ring_entry_free_locked(b, d);
			} else {
				store_release(&d->state, new_state); /* R2 */
				bus_bump_generation(b);              /* R1 */
			}
		}
		bus_unlock(b);
	}
}

/* Detach (leaving the ring in new_state) and free; from a handler of this
 * consumer's poll, when that poll returns: it still reads the handle. */
static void consumer_end(shmbus_consumer *c, uint32_t new_state)
{
	if (c->polling) {
		c->close_pending = new_state + 1;
		return;
	}
	consumer_detach(c, new_state);
	free(c);
}

void shmbus_consumer_close(shmbus_consumer *c)
{
	if (c)
		consumer_end(c, RING_STATE_DETACHED);
}

int shmbus_unsubscribe(shmbus_consumer *c)
{
	if (!c)
		return -EINVAL;
	consumer_end(c, RING_STATE_FREE);
	return 0;
}

int shmbus_ring_remove(shmbus_bus *b, const char *name)
{
	bus_err_clear();
	if (!b)
		return bus_err(-EINVAL, "ring remove: bus is NULL");
	int rc = bus_check_name("ring", name);
	if (rc || (rc = bus_lock(b)))
		return rc;
	struct ring_desc *d = ring_find_locked(b, name);
	if (!d)
		rc = bus_err(-ENOENT, "bus '%s' has no ring '%s'", b->name, name);
	else if (load_relaxed(&d->state) == RING_STATE_ACTIVE && ring_consumer_alive(d))
		rc = bus_err(SHMBUS_EBUSY, "ring '%s' has a live consumer (pid %d)", name,
			     (int)load_relaxed(&d->consumer_pid));
	else
		ring_entry_free_locked(b, d); /* as unsubscribe does */
	bus_unlock(b);
	return rc;
}

uint32_t shmbus_consumer_ring(const shmbus_consumer *c)
{
	return c ? c->v.index : UINT32_MAX;
}

const char *shmbus_consumer_name(const shmbus_consumer *c)
{
	return c ? c->name : "";
}

/* Free the slots before head for producers. */
static void consumer_publish_head(shmbus_consumer *c, uint64_t head)
{
	struct ring_hdr *h = c->v.hdr;
	c->released = head;
	store_release(&h->head, head); /* R5, pairs with A5 in ring_try_claim() */
	/* No fence before this read: a wake it misses is made when the
	 * consumer runs out of events (ring_space_recheck, F3). */
	if (unlikely(load_relaxed(&h->prod_waiting)))
		ring_wake_producers(h);
}

/* Move the read position; free the slots too unless they are held. */
static void consumer_release(shmbus_consumer *c, uint64_t head)
{
	c->head = head;
	if (!c->hold)
		consumer_publish_head(c, head);
}

void shmbus_consumer_hold(shmbus_consumer *c, int on)
{
	if (!c)
		return;
	c->hold = on != 0;
	if (!c->hold && c->released != c->head)
		consumer_publish_head(c, c->head);
}

uint64_t shmbus_consumer_position(const shmbus_consumer *c)
{
	return c ? c->head : 0;
}

int shmbus_consumer_release(shmbus_consumer *c, uint64_t pos)
{
	if (!c || pos < c->released || pos > c->head)
		return bus_err(-EINVAL, "release: position %llu is outside the held %llu..%llu",
			       (unsigned long long)pos, (unsigned long long)(c ? c->released : 0),
			       (unsigned long long)(c ? c->head : 0));
	if (pos != c->released)
		consumer_publish_head(c, pos);
	return 0;
}

enum claimer { CLAIMER_UNKNOWN, CLAIMER_LIVE, CLAIMER_GONE };

/*
 * Who claimed position pos of this ring, by the claim records (a run
 * each): a live producer, whose open entry's latest claim covers pos; or
 * one that is gone: dead with its entry open, closed or reaped (its entry
 * free, the record left in it), or its entry since taken by another
 * producer (the record moved to gone_claim). A record is only ever
 * cleared by a producer taking an entry no live producer has, so the
 * record of a live claimer is always found; a gone one's may cover pos
 * without its having claimed it (it lost the race for pos, or an earlier
 * ring in this entry had the position): the whole table is read, and any
 * live claimer wins. UNKNOWN: no record covers pos.
 */
static enum claimer claimer_of(const shmbus_consumer *c, uint64_t pos)
{
	const struct shmbus_bus *b = c->bus;
	bool gone = false;
	for (uint32_t i = 0; i < b->max_producers; i++) {
		const struct prod_entry *e = &b->prods[i];
		/* The record, then where it moves (A19 pairs with R19 in
		 * prod_entry_clear()): one being moved is seen in one or the
		 * other, never in neither (read the other way round, a reader
		 * between the two stores waited stuck_timeout). */
		uint64_t w = load_acquire(&e->claim);
		if (claim_covers(load_relaxed(&e->gone_claim), c->v.index, pos))
			gone = true;
		if (!claim_covers(w, c->v.index, pos))
			continue;
		if (load_acquire(&e->state) && prod_alive(e))
			return CLAIMER_LIVE;
		gone = true;
	}
	return gone ? CLAIMER_GONE : CLAIMER_UNKNOWN;
}

/*
 * The head slot is not committed. If a producer claimed it (tail is past
 * it), skip it once the claimer is gone (dead, or its entry closed, reaped
 * or taken by another), or once no claimer can be found for stuck_timeout
 * (its record was overwritten or lost: a claimer records before it moves
 * the tail, R9). Returns 1 when it skipped the slot, 0 when not, SHMBUS_ECORRUPT
 * when the ring's tail is behind the head or more than a ring ahead.
 */
static __attribute__((noinline)) int consumer_check_stuck(shmbus_consumer *c)
{
	struct ring_view *v = &c->v;
	uint64_t h = c->head;
	/* Out of events: a producer may wait for room our release missed. */
	ring_space_recheck(v);
	uint64_t t = load_acquire(&v->hdr->tail); /* A9 pairs with R9: t's claim records */
	if (!ring_committed(v, h) && (t < h || t - h > v->capacity))
		return bus_err(SHMBUS_ECORRUPT,
			       "ring '%s': claimed %llu but consumed %llu of %u slots: the tail "
			       "was overwritten",
			       c->name, (unsigned long long)t, (unsigned long long)h, v->capacity);
	if (ring_committed(v, h) || t <= h) {
		c->unstamped_since = 0;
		return 0; /* ready, or simply empty */
	}
	enum claimer who = claimer_of(c, h);
	if (who == CLAIMER_LIVE)
		return 0;
	if (who == CLAIMER_UNKNOWN) {
		int64_t now = shmbus_mono_ns();
		if (c->unstamped_since == 0 || c->unstamped_pos != h) {
			c->unstamped_pos = h;
			c->unstamped_since = now;
			return 0;
		}
		if (now - c->unstamped_since < c->stuck_timeout_ns)
			return 0;
	}
	if (ring_committed(v, h))
		return 0; /* committed while we looked */
	c->unstamped_since = 0;
	counter_bump(&v->hdr->skipped, 1);
	consumer_release(c, h + 1);
	return 1;
}

/* Only an event that fits its slot reaches the handler: the slot's bytes
 * are shared with every process on the bus, and a handler copies size. */
static inline bool event_sound(const struct ring_view *v, const struct shmbus_event_header *ev)
{
	return ev->type != 0 && ev->type < SHMBUS_MAX_TYPES &&
	       ev->size >= sizeof(struct shmbus_event_header) && ev->size <= v->payload_max;
}

int shmbus_poll(shmbus_consumer *c, shmbus_handler fn, void *ctx, unsigned max)
{
	struct ring_view *v = &c->v;
	uint64_t h = c->head;
	unsigned n = 0, bad = 0;
	/* A handler polling its own consumer would start again from the
	 * batch's first event (c->head moves after the batch), deliver it
	 * twice, and the outer poll would then move the head back. */
	if (unlikely(c->polling))
		return -EALREADY;
	c->polling = 1;
	while (n < max) {
		struct slot *s = ring_slot(v, h);
		if (!ring_committed(v, h)) { /* A6 */
			if (n == 0 && unlikely(++c->empty_polls >= STUCK_CHECK_EVERY)) {
				c->empty_polls = 0;
				int rc = consumer_check_stuck(c);
				if (rc < 0) {
					c->polling = 0;
					return rc;
				}
				if (rc) {
					h = c->head;
					continue;
				}
			}
			break;
		}
		const struct shmbus_event_header *ev = slot_event(s);
		h++;
		if (unlikely(!event_sound(v, ev))) {
			bad++;
			continue;
		}
		fn(ev, ctx);
		n++;
	}
	if (n | bad) {
		c->empty_polls = 0;
		counter_bump(&v->hdr->delivered, n);
		if (unlikely(bad))
			counter_bump(&v->hdr->malformed, bad);
		consumer_release(c, h);
	}
	c->polling = 0;
	if (unlikely(c->close_pending))
		consumer_end(c, c->close_pending - 1); /* a handler closed it */
	return (int)n;
}

/* Ready: the head slot is committed (a stuck one is handled by poll). */
static inline bool consumer_ready(shmbus_consumer *c)
{
	return ring_committed(&c->v, c->head);
}

/*
 * One round of lingering for a partial batch (the head is ready, slot
 * `last` not yet), the way the ring's strategy waits: spin (the caller's
 * spin on `last` is the whole round), yield, or sleep until `last` is
 * committed, for at most left_ns. A sleep is announced like any other
 * (ring_sleep on `last`), so commits wake it and the one that fills the
 * batch ends the wait: `block` is the user saying a sleep is fine, and a
 * linger of milliseconds must not hold a core for all of them.
 */
static void consumer_linger(shmbus_consumer *c, uint64_t last, uint32_t round, int64_t left_ns)
{
	uint8_t strategy = c->v.wait;
	/* Adaptive: ~SPIN_ROUNDS spins (16 a round), then YIELD_ROUNDS yields */
	if (strategy == SHMBUS_WAIT_SPIN ||
	    (strategy == SHMBUS_WAIT_ADAPTIVE && round < SPIN_ROUNDS / 16))
		return;
	if (strategy == SHMBUS_WAIT_YIELD ||
	    (strategy == SHMBUS_WAIT_ADAPTIVE && round < SPIN_ROUNDS / 16 + YIELD_ROUNDS)) {
		sched_yield();
		return;
	}
	if (left_ns > 0) {
		ring_sleep(&c->v, last, left_ns < SLEEP_CAP_NS ? left_ns : SLEEP_CAP_NS);
		shmbus_bus_heartbeat(c->bus);
	}
}

int shmbus_wait_batch(shmbus_consumer *c, unsigned batch, int64_t linger_ns, int64_t timeout_ns)
{
	if (batch > c->v.capacity)
		batch = c->v.capacity;
	if (batch <= 1)
		return shmbus_wait(c, timeout_ns);
	uint64_t last = c->head + batch - 1;
	if (ring_committed(&c->v, last))
		return 0;
	int64_t start = shmbus_mono_ns(), first_ready = 0, linger_end = 0;
	int64_t deadline = deadline_after(start, timeout_ns);
	uint32_t lingered = 0;
	for (uint32_t round = 1;; round++) {
		/* Spin on the far slot; glance at the head only every 16 rounds
		 * (that read disturbs the producer's current line). */
		for (int i = 0; i < 16; i++) {
			if (ring_committed(&c->v, last))
				return 0;
			cpu_relax();
		}
		int64_t now = shmbus_mono_ns();
		if (consumer_ready(c)) {
			if (!first_ready) {
				first_ready = now;
				linger_end = deadline_after(now, linger_ns);
				linger_end = linger_end < deadline ? linger_end : deadline;
			} else if (now - first_ready >= linger_ns) {
				return 0;
			} else {
				consumer_linger(c, last, ++lingered, linger_end - now);
			}
		} else if (round % 64 == 0) {
			/* Nothing at the head for a while: fall back to the
			 * ring's own strategy, which may sleep. */
			if (deadline == INT64_MAX)
				return shmbus_wait(c, -1);
			/* Past the deadline already: what is left is negative,
			 * which shmbus_wait() would take for "no timeout". */
			if (now >= deadline)
				return consumer_ready(c) ? 0 : SHMBUS_ETIMEDOUT;
			return shmbus_wait(c, deadline - now);
		}
		if (now >= deadline)
			return consumer_ready(c) ? 0 : SHMBUS_ETIMEDOUT;
	}
}

int shmbus_wait(shmbus_consumer *c, int64_t timeout_ns)
{
	if (consumer_ready(c))
		return 0;
	int64_t start = shmbus_mono_ns();
	int64_t deadline = deadline_after(start, timeout_ns);
	uint8_t strategy = c->v.wait;
	for (uint64_t round = 1;; round++) {
		if (consumer_ready(c))
			return 0;
		bool spin = strategy == SHMBUS_WAIT_SPIN ||
			    (strategy == SHMBUS_WAIT_ADAPTIVE && round < SPIN_ROUNDS);
		bool yield = strategy == SHMBUS_WAIT_YIELD ||
			     (strategy == SHMBUS_WAIT_ADAPTIVE &&
			      round < SPIN_ROUNDS + YIELD_ROUNDS);
		if (spin) {
			cpu_relax();
			if (round % 1024)
				continue; /* clock and stuck checks every 1024 spins */
		} else if (yield) {
			sched_yield();
		} else {
			int64_t now = shmbus_mono_ns();
			int64_t nap = deadline - now < SLEEP_CAP_NS ? deadline - now : SLEEP_CAP_NS;
			if (nap > 0)
				ring_sleep(&c->v, c->head, nap);
			shmbus_bus_heartbeat(c->bus);
		}
		if (!consumer_ready(c)) {
			int st = consumer_check_stuck(c);
			if (st != 0)
				return st < 0 ? st : 0; /* skipped a stuck slot: poll */
		}
		if (shmbus_mono_ns() >= deadline)
			return consumer_ready(c) ? 0 : SHMBUS_ETIMEDOUT;
	}
}
