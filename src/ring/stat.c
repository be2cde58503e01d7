/*
 * stat.c - read-only introspection for shmbus-stat and scripts.
 *
 * Nothing here writes to the segment or consumes. The handle was
 * validated at attach, but the tables can change (or be damaged) while we
 * read, so each entry is checked again before any offset in it is used.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "shmbus/clock.h"
#include "shmbus/error.h"
#include "shmbus/stat.h"
#include "ring.h"

int shmbus_stat_bus(const shmbus_bus *b, struct shmbus_bus_info *o)
{
	if (!b || !o)
		return -EINVAL;
	const struct sb *sb = b->sb;
	memset(o, 0, sizeof(*o));
	snprintf(o->name, sizeof(o->name), "%s", b->name);
	o->backing = shmbus_bus_backing(b);
	o->abi_version = load_relaxed(&((struct sb *)sb)->abi_version);
	o->layout_hash = sb->layout_hash;
	o->total_bytes = sb->total_bytes;
	/* The geometry checked at attach, which every call here is bounded
	 * by; the superblock's copy must not have moved since. */
	o->arena_bytes = b->arena_bytes;
	o->arena_used = sb->arena_used;
	o->max_rings = b->max_rings;
	o->max_participants = b->max_participants;
	o->max_producers = b->max_producers;
	o->max_symbols = b->max_symbols;
	o->symbols = load_relaxed(&((struct sb *)sb)->nsymbols);
	o->route_generation = load_relaxed(&((struct sb *)sb)->route_gen);
	o->creator_pid = sb->creator_pid;
	o->created_ns = sb->created_ns;
	o->kept = load_relaxed(&((struct sb *)sb)->kept) != 0;
	const struct {
		const char *what;
		uint64_t now, then;
	} geo[] = {
		{"max_rings", sb->max_rings, b->max_rings},
		{"max_participants", sb->max_participants, b->max_participants},
		{"max_producers", sb->max_producers, b->max_producers},
		{"max_symbols", sb->max_symbols, b->max_symbols},
		{"arena_off", sb->arena_off, b->arena_off},
		{"arena_bytes", sb->arena_bytes, b->arena_bytes},
	};
	for (size_t i = 0; i < sizeof(geo) / sizeof(geo[0]); i++)
		if (geo[i].now != geo[i].then)
			return bus_err(SHMBUS_ECORRUPT,
				       "bus '%s': superblock %s is %llu, was %llu at attach "
				       "(overwritten)",
				       b->name, geo[i].what, (unsigned long long)geo[i].now,
				       (unsigned long long)geo[i].then);
	if (o->arena_used > o->arena_bytes || o->symbols > o->max_symbols)
		return bus_err(SHMBUS_ECORRUPT, "bus '%s': arena or symbol count out of bounds",
			       b->name);
	return 0;
}

static void copy_name(char *dst, size_t n, const char *src, size_t srcmax)
{
	size_t len = strnlen(src, srcmax);
	if (len >= n)
		len = n - 1;
	memcpy(dst, src, len);
	dst[len] = '\0';
}

/*
 * Publish time of the oldest committed event between head and tail, for
 * the lag figure: the head slot's, unless a producer claimed that slot
 * and has not committed it (between claim and commit, or dead there until
 * the consumer skips it); the events committed behind it wait as long,
 * and a lag of 0 would hide them. A scan of at most one ring of slot
 * words, stopping at the first committed one.
 * The slots are not ours: once the consumer moves on, a producer may
 * refill one while we read. A6 makes the event as committed visible; the
 * read itself is one aligned 8-byte load (never torn on the platforms we
 * build for), and a refill in between only gives a newer event's time --
 * a diagnostic figure, never used for delivery. So it is a deliberate
 * race with the producers' plain stores: exempt from ThreadSanitizer,
 * here only.
 */
__attribute__((noinline, no_sanitize("thread"))) static int64_t
oldest_publish(const struct ring_view *v, uint64_t head, uint64_t tail)
{
	uint64_t end = tail - head > v->capacity ? head + v->capacity : tail;
	for (uint64_t pos = head; tail > head && pos < end; pos++) {
		struct slot *s = ring_slot(v, pos);
		if (load_acquire(&s->word) != SLOT_WORD(pos)) /* A6 */
			continue;
		const volatile struct shmbus_event_header *ev = slot_event(s);
		return ev->publish_time_ns;
	}
	return 0;
}

/*
 * The pid of the gone producer whose claim holds the head slot, not
 * committed, or 0: the slot the consumer will skip (consumer_check_stuck),
 * which holds back every event behind it meanwhile. Gone as the consumer
 * takes it (claimer_of()): dead with its entry open, closed or reaped (the
 * record left in its free entry), or its entry taken by another producer
 * (the record moved to gone_claim, its pid to gone_pid). A claim is
 * recorded before the tail moves past it (R9), so one read after the tail
 * (A9) finds it; a live claimer, or none found, is no stuck slot. A record
 * of the entry itself names its claimer before a moved one.
 */
static int32_t head_stuck_pid(const shmbus_bus *b, const struct ring_view *v, uint64_t head,
			      uint64_t tail)
{
	if (tail <= head || ring_committed(v, head))
		return 0;
	int32_t dead = 0, moved = 0;
	for (uint32_t i = 0; i < b->max_producers; i++) {
		const struct prod_entry *e = &b->prods[i];
		uint64_t w = load_acquire(&e->claim); /* A19, as in claimer_of() */
		if (!moved && claim_covers(load_relaxed(&e->gone_claim), v->index, head))
			moved = load_relaxed(&e->gone_pid);
		if (!claim_covers(w, v->index, head))
			continue;
		if (load_acquire(&e->state) && prod_alive(e))
			return 0;
		if (!dead)
			dead = e->pid;
	}
	return ring_committed(v, head) ? 0 : dead ? dead : moved;
}

/* Does producer entry e feed ring entry d (index `index`): delivered there
 * or announced one of its types? Whether e is open is the caller's. */
static bool prod_feeds(const struct prod_entry *e, const struct ring_desc *d, uint32_t index)
{
	return ((load_relaxed(&e->rings_seen[index >> 6]) >> (index & 63)) & 1) ||
	       (load_relaxed(&e->announced) & d->types) != 0;
}

/* Open producers feeding ring `index` whose process is alive: a dead
 * one's entry stays open until a reap or a new producer takes it, and
 * counted, it showed as a feeder beside a participant marked dead. */
static uint32_t ring_producers(const shmbus_bus *b, uint32_t index)
{
	uint32_t n = 0;
	for (uint32_t i = 0; i < b->max_producers; i++) {
		struct prod_entry *e = &b->prods[i];
		if (load_acquire(&e->state) && prod_feeds(e, &b->rings[index], index) &&
		    prod_alive(e))
			n++;
	}
	return n;
}

int shmbus_stat_ring_fed_by(const shmbus_bus *b, uint32_t ring, uint32_t producer)
{
	if (!b)
		return -EINVAL;
	if (ring >= b->max_rings || producer >= b->max_producers)
		return -ERANGE;
	uint32_t st = load_acquire(&b->rings[ring].state); /* A2 */
	if (st == RING_STATE_FREE || st == RING_STATE_BUILDING)
		return -ENOENT;
	struct prod_entry *e = &b->prods[producer];
	if (!load_acquire(&e->state))
		return -ENOENT;
	/* A dead producer feeds nothing, as ring_producers() counts. */
	return prod_feeds(e, &b->rings[ring], ring) && prod_alive(e);
}

/* Ring entry `index` in use, and a view of it: its state in *state and
 * its incarnation, read before the state, in *inc; or -ERANGE past the
 * end, -ENOENT (free or being built), SHMBUS_ECORRUPT. */
static int stat_ring_view(const shmbus_bus *b, uint32_t index, struct ring_view *v,
			  uint32_t *state, uint32_t *inc_out)
{
	if (index >= b->max_rings)
		return -ERANGE;
	struct ring_desc *d = &b->rings[index];
	for (unsigned round = 0;; round++) {
		/* A16 pairs with R16: a new ring's count comes with its BUILDING */
		uint32_t inc = load_acquire(&d->incarnation);
		uint32_t st = load_acquire(&d->state); /* A2 */
		if (st == RING_STATE_FREE || st == RING_STATE_BUILDING)
			return -ENOENT;
		int rc = st > RING_STATE_ORPHANED || d->index != index
				 ? bus_err(SHMBUS_ECORRUPT,
					   "ring entry %u: state %u or index %u invalid", index, st,
					   d->index)
				 : ring_view_init(v, b, d);
		if (rc == 0) {
			*state = st;
			*inc_out = inc;
			return 0;
		}
		/* Freed (its region record cleared after the state), or freed
		 * and built again, while we read it: no damage, read it again
		 * (a few times: one such race per read is already rare). */
		atomic_thread_fence(memory_order_acquire);
		if (round < 8 && (load_relaxed(&d->state) != st ||
				  load_relaxed(&d->incarnation) != inc))
			continue;
		return rc;
	}
}

/* One read of the ring of view v (entry state st); the caller checks
 * that the entry held the same ring all along. */
static void ring_stat_read(const shmbus_bus *b, const struct ring_view *v, uint32_t st,
			   struct shmbus_ring_stat *o)
{
	uint32_t index = v->index;
	const struct ring_desc *d = &b->rings[index];
	struct ring_hdr *h = v->hdr;
	memset(o, 0, sizeof(*o));
	o->index = index;
	copy_name(o->name, sizeof(o->name), d->name, sizeof(d->name));
	copy_name(o->group, sizeof(o->group), d->group, sizeof(d->group));
	o->state = (enum shmbus_ring_state)st;
	o->capacity = d->capacity;
	o->slot_size = d->slot_size;
	o->flags = d->flags & ~RING_F_DECLARED; /* the public SHMBUS_SUB_* ones */
	o->policy = (enum shmbus_full_policy)d->policy;
	o->wait = (enum shmbus_wait_strategy)d->wait;
	o->group_size = d->group_size;
	o->group_member = d->group_member;
	o->types = d->types;
	o->nsymbols = d->nsymbols;
	o->producers = ring_producers(b, index);
	o->consumer_pid = load_relaxed(&d->consumer_pid);
	o->consumer_alive = st == RING_STATE_ACTIVE && ring_consumer_alive(d);
	o->consumer_sleeping = load_relaxed(&h->sleeping) != 0;
	o->consumed = load_acquire(&h->head);
	o->claimed = load_acquire(&h->tail);
	o->depth = o->claimed >= o->consumed ? o->claimed - o->consumed : 0;
	o->delivered = load_relaxed(&h->delivered);
	o->skipped = load_relaxed(&h->skipped);
	o->malformed = load_relaxed(&h->malformed);
	o->dropped = load_relaxed(&h->dropped);
	o->routed_around = load_relaxed(&h->routed_around);
	o->too_big = load_relaxed(&h->too_big);
	o->producer_waits = load_relaxed(&h->producer_waits);
	o->wakeups = load_relaxed(&h->wakeups);
	o->oldest_publish_ns = oldest_publish(v, o->consumed, o->claimed);
	o->head_stuck_pid = head_stuck_pid(b, v, o->consumed, o->claimed);
}

int shmbus_stat_ring(const shmbus_bus *b, uint32_t index, struct shmbus_ring_stat *o)
{
	if (!b || !o)
		return -EINVAL;
	for (unsigned round = 0; round < 8; round++) {
		struct ring_view v;
		uint32_t st = 0, inc = 0;
		int rc = stat_ring_view(b, index, &v, &st, &inc);
		if (rc)
			return rc;
		if (unlikely(ring_test_hook != NULL))
			ring_test_hook(RING_HOOK_STAT_RING);
		ring_stat_read(b, &v, st, o);
		/* The entry freed, or freed and built again, while we read: the
		 * figures may mix the old ring's with the new one's (its name
		 * with the old counters) or hold the name the free wiped. A14
		 * pairs with W14 and W15: what a free or a build wrote, once
		 * read, comes with its state; a new ring's ACTIVE (A2 pairs with
		 * R2) with its count. A state moved between in-use ones is the
		 * same ring, its consumer come or gone. */
		struct ring_desc *d = &b->rings[index];
		atomic_thread_fence(memory_order_acquire); /* A14 */
		uint32_t now = load_acquire(&d->state);
		if (now >= RING_STATE_ACTIVE && now <= RING_STATE_ORPHANED &&
		    load_relaxed(&d->incarnation) == inc)
			return 0;
	}
	/* Freed during each of 8 reads (a consumer that subscribes and
	 * unsubscribes in a loop): the entry was free at some time of this
	 * call, and no read of one ring could be had. */
	memset(o, 0, sizeof(*o));
	return -ENOENT;
}

/* One read of ring `index`'s filter; the caller checks filter_seq around it. */
static int ring_symbols_read(const shmbus_bus *b, uint32_t index, uint32_t *ids, unsigned max)
{
	struct ring_view v;
	uint32_t st = 0, inc = 0;
	int rc = stat_ring_view(b, index, &v, &st, &inc);
	if (rc)
		return rc;
	const struct ring_desc *d = &b->rings[index];
	if (!v.bitmap)
		return 0;
	/* Bit id - 1 of the bitmap (ring_view_init bounded it by the
	 * attach-time max_symbols, a power of two >= 16: the region holds at
	 * least one whole word). */
	unsigned n = 0;
	for (uint32_t w = 0; w < (v.max_symbols + 63) / 64; w++)
		for (uint64_t bits = v.bitmap[w]; bits != 0; bits &= bits - 1) {
			uint32_t id = w * 64 + (uint32_t)__builtin_ctzll(bits) + 1;
			if (id > v.max_symbols)
				break;
			if (n < max)
				ids[n] = id;
			n++;
		}
	/* A filter of nsymbols > 0 ids in 1..max_symbols sets some bit: an
	 * empty one would read as "every symbol" while the ring takes none. */
	if (n == 0)
		return bus_err(SHMBUS_ECORRUPT, "ring %u: a filter of %u symbols with none set",
			       index, d->nsymbols);
	return (int)n;
}

int shmbus_stat_ring_symbols(const shmbus_bus *b, uint32_t index, uint32_t *ids, unsigned max)
{
	if (!b || (!ids && max))
		return -EINVAL;
	if (index >= b->max_rings)
		return -ERANGE;
	struct ring_desc *d = &b->rings[index];
	uint32_t odd = 0; /* the rewrite seen going on since give_up - 100 ms */
	int64_t give_up = 0;
	for (;;) {
		/* A13 pairs with R13: the filter the last rewrite left is visible. */
		uint32_t s0 = load_acquire(&d->filter_seq);
		if (!(s0 & 1)) {
			int rc = ring_symbols_read(b, index, ids, max);
			atomic_thread_fence(memory_order_acquire); /* pairs with W2 */
			if (load_relaxed(&d->filter_seq) == s0)
				return rc;
			continue; /* rewritten meanwhile: its writer is alive */
		}
		/* A rewrite takes microseconds, under the bus lock: the same one
		 * still going after 100 ms was cut short (its process died
		 * holding the lock, which the next locker repairs). */
		int64_t now = shmbus_mono_ns();
		if (s0 != odd) {
			odd = s0;
			give_up = now + 100000000;
		} else if (now > give_up) {
			return bus_err(-EAGAIN,
				       "ring %u: its symbol filter was being rewritten for 100 ms "
				       "(the subscriber died?)",
				       index);
		}
		cpu_relax();
	}
}

/* One read of participant entry `index` (state st); the caller checks
 * that the entry held the same participant all along. */
static void part_stat_read(const shmbus_bus *b, uint32_t index, uint32_t st,
			   struct shmbus_participant_stat *o)
{
	struct part_entry *p = &b->parts[index];
	memset(o, 0, sizeof(*o));
	o->index = index;
	copy_name(o->name, sizeof(o->name), p->name, sizeof(p->name));
	o->role = p->role <= SHMBUS_ROLE_CREATOR ? (enum shmbus_role)p->role : SHMBUS_ROLE_CLIENT;
	o->state = (enum shmbus_participant_state)st;
	o->pid = p->pid;
	if (unlikely(ring_test_hook != NULL))
		ring_test_hook(RING_HOOK_STAT_PARTICIPANT);
	o->alive = st == SHMBUS_PART_ALIVE && proc_alive(p->pid, p->start_time);
	o->cpus = p->cpus;
	o->attached_ns = p->attached_ns;
	o->heartbeat_ns = load_relaxed(&p->heartbeat_ns);
}

int shmbus_stat_participant(const shmbus_bus *b, uint32_t index,
			    struct shmbus_participant_stat *o)
{
	if (!b || !o)
		return -EINVAL;
	if (index >= b->max_participants)
		return -ERANGE;
	struct part_entry *p = &b->parts[index];
	for (unsigned round = 0; round < 8; round++) {
		/* A17 pairs with R17: a new participant's count comes with its FREE */
		uint32_t inc = load_acquire(&p->incarnation);
		uint32_t st = load_acquire(&p->state); /* A3 pairs with R3 */
		if (st == SHMBUS_PART_FREE)
			return -ENOENT;
		if (st > SHMBUS_PART_GONE)
			return bus_err(SHMBUS_ECORRUPT, "participant %u: state %u invalid", index, st);
		part_stat_read(b, index, st, o);
		/* Taken by another participant while we read (FREE, then ALIVE
		 * again): the fields may mix the two (the old name with the new
		 * attach time). A18 pairs with W18: what the new one wrote, once
		 * read, comes with its count. ALIVE to GONE is the same one. */
		atomic_thread_fence(memory_order_acquire); /* A18 */
		if (load_relaxed(&p->state) != SHMBUS_PART_FREE &&
		    load_relaxed(&p->incarnation) == inc)
			return 0;
	}
	/* Taken anew during each of 8 reads: it was free at some time of
	 * this call, and no read of one participant could be had. */
	memset(o, 0, sizeof(*o));
	return -ENOENT;
}

int shmbus_stat_producer(const shmbus_bus *b, uint32_t index, struct shmbus_producer_stat *o)
{
	if (!b || !o)
		return -EINVAL;
	if (index >= b->max_producers)
		return -ERANGE;
	struct prod_entry *e = &b->prods[index];
	memset(o, 0, sizeof(*o));
	if (!load_acquire(&e->state)) {
		/* what the slot's last producer left (until the slot is reused) */
		o->index = index;
		o->source_id = e->source_id;
		o->last_seq = load_relaxed(&e->last_seq);
		return -ENOENT;
	}
	o->index = index;
	o->participant = e->participant;
	o->pid = e->pid;
	o->source_id = e->source_id;
	o->published = load_relaxed(&e->published);
	o->delivered = load_relaxed(&e->delivered);
	o->dropped = load_relaxed(&e->dropped);
	o->routed_around = load_relaxed(&e->routed_around);
	o->unrouted = load_relaxed(&e->unrouted);
	o->last_seq = load_relaxed(&e->last_seq);
	o->announced = load_relaxed(&e->announced);
	o->alive = proc_alive(o->pid, e->start_time);
	return 0;
}

/* W1: the odd seq is visible before any counter moves (pairs with the
 * reader's A12 fence). */
void prod_retire_begin(struct shmbus_bus *b)
{
	fetch_add_relaxed(&b->sb->retire_seq, 1);
	atomic_thread_fence(memory_order_release);
}

void prod_retire_counts(struct shmbus_bus *b, const struct prod_entry *e)
{
	struct sb *sb = b->sb;
	fetch_add_relaxed(&sb->retired_published, load_relaxed(&e->published));
	fetch_add_relaxed(&sb->retired_delivered, load_relaxed(&e->delivered));
	fetch_add_relaxed(&sb->retired_dropped, load_relaxed(&e->dropped));
	fetch_add_relaxed(&sb->retired_routed_around, load_relaxed(&e->routed_around));
	fetch_add_relaxed(&sb->retired_unrouted, load_relaxed(&e->unrouted));
}

/* R12: the moved counters and the entry's new state before the even seq. */
void prod_retire_end(struct shmbus_bus *b)
{
	atomic_fetch_add_explicit(&b->sb->retire_seq, 1, memory_order_release);
}

/* One read of the totals; the caller checks retire_seq around it. */
static void totals_read(const shmbus_bus *b, struct shmbus_producer_stat *o)
{
	struct sb *sb = b->sb;
	memset(o, 0, sizeof(*o));
	o->published = load_relaxed(&sb->retired_published);
	o->delivered = load_relaxed(&sb->retired_delivered);
	o->dropped = load_relaxed(&sb->retired_dropped);
	o->routed_around = load_relaxed(&sb->retired_routed_around);
	o->unrouted = load_relaxed(&sb->retired_unrouted);
	for (uint32_t i = 0; i < b->max_producers; i++) {
		struct prod_entry *e = &b->prods[i];
		if (!load_acquire(&e->state))
			continue;
		o->published += load_relaxed(&e->published);
		o->delivered += load_relaxed(&e->delivered);
		o->dropped += load_relaxed(&e->dropped);
		o->routed_around += load_relaxed(&e->routed_around);
		o->unrouted += load_relaxed(&e->unrouted);
		o->announced |= load_relaxed(&e->announced);
	}
}

int shmbus_stat_producer_totals(const shmbus_bus *b, struct shmbus_producer_stat *o)
{
	if (!b || !o)
		return -EINVAL;
	int64_t give_up = 0;
	for (unsigned round = 0;; round++) {
		/* A12 pairs with R12: what the last mover did is visible. */
		uint32_t s0 = load_acquire(&b->sb->retire_seq);
		if (!(s0 & 1)) {
			totals_read(b, o);
			atomic_thread_fence(memory_order_acquire); /* pairs with W1 */
			if (load_relaxed(&b->sb->retire_seq) == s0)
				return 0;
		}
		/* A move takes nanoseconds: one still going after 10 ms was
		 * cut short (its process died holding the lock, which the next
		 * locker repairs). */
		if (round % 64 == 63) {
			int64_t now = shmbus_mono_ns();
			if (!give_up)
				give_up = now + 10000000;
			else if (now > give_up) {
				totals_read(b, o);
				return bus_err(-EAGAIN,
					       "bus '%s': producer totals: a closing producer's "
					       "counters were being moved for 10 ms (its process "
					       "died?); the figures may count it twice or not",
					       b->name);
			}
		}
	}
}

int shmbus_stat_find_ring(const shmbus_bus *b, const char *name)
{
	if (!b || !name)
		return -EINVAL;
	for (uint32_t i = 0; i < b->max_rings; i++) {
		const struct ring_desc *d = &b->rings[i];
		uint32_t st = load_acquire(&((struct ring_desc *)d)->state);
		if (st >= RING_STATE_ACTIVE && st <= RING_STATE_ORPHANED &&
		    strncmp(d->name, name, sizeof(d->name)) == 0)
			return (int)i;
	}
	return -ENOENT;
}

const char *shmbus_ring_state_name(enum shmbus_ring_state s)
{
	static const char *const n[] = {"free", "building", "active", "detached", "orphaned"};
	return (unsigned)s < 5 ? n[s] : "unknown";
}

const char *shmbus_policy_name(enum shmbus_full_policy p)
{
	return p == SHMBUS_POLICY_BLOCK ? "block" : p == SHMBUS_POLICY_DROP ? "drop" : "unknown";
}

const char *shmbus_wait_name(enum shmbus_wait_strategy w)
{
	static const char *const n[] = {"adaptive", "spin", "yield", "block"};
	return (unsigned)w < 4 ? n[w] : "unknown";
}
