/*
 * routing.c - producers: routing table, claim/commit, copy-in publish.
 *
 * A producer keeps a view of every ring in the directory and, per event
 * type, the list of rings whose type mask includes it. Per event it tests
 * the symbol filter (a bitmap) and the consumer group (symbol hash modulo
 * group size) of each candidate: matching happens once, at the source.
 * An event about no symbol (id 0) passes both.
 * The table is rebuilt when the bus's routing generation moves (A1 pairs
 * with R1 in bus_bump_generation()), which costs one load of a read-mostly
 * cache line per event.
 *
 * Full rings: `drop` counts and moves on; `block` spins, yields, then
 * sleeps on the ring's space futex in short naps, checking every
 * block_timeout whether the consumer is still alive (and whether it is
 * still attached, at once when the generation moves). A dead consumer's
 * ring is marked orphaned and routed around from then on (counted), so a
 * producer never stalls behind a dead process.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "shmbus/clock.h"
#include "shmbus/error.h"
#include "shmbus/producer.h"
#include "clock_tsc.h"
#include "ring.h"

#define DROP_CHECK_EVERY 4096u /* full drops between consumer liveness checks */
#define SPACE_NAP_NS 200000    /* a blocked producer re-checks at least this often */
#define BATCH_CHUNK 64u        /* events a batch publish routes per pass */
#define BATCH_MAX 65536u       /* events per shmbus_publish_batch() call */
#define SOLE_CACHE_BITS 6      /* 64 remembered (type, symbol) pairs */
_Static_assert(BATCH_CHUNK <= 64, "a chunk's events for one ring fit a mask word");

/*
 * A (type, symbol) pair whose type has several rings but whose symbol
 * matches exactly one of them in the current routing table (two consumers
 * of one type filtered by symbol, a consumer group's members): the fast
 * paths take it like a type's only ring. Learned by the general routing,
 * forgotten at every routing-table rebuild. view 0 with type 0: empty.
 */
struct sole_entry {
	uint32_t symbol;
	uint16_t type;
	uint16_t view;
};

void (*ring_test_hook)(enum ring_hook where);

struct shmbus_producer {
	struct shmbus_bus *bus;
	struct prod_entry *ctr;
	uint32_t ctr_index;
	uint32_t source_id;
	uint32_t flags;
	int32_t pid;
	int64_t block_timeout_ns;
	const volatile int *cancel; /* opts.cancel */
	uint64_t seq;
	uint64_t gen;
	uint32_t nviews;
	struct ring_view *views;   /* max_rings entries */
	uint16_t *routes;          /* [type][i] -> view index */
	uint16_t nroutes[SHMBUS_MAX_TYPES];
	const _Atomic uint64_t *route_gen; /* &bus->sb->route_gen */
	struct ring_view *sole[SHMBUS_MAX_TYPES]; /* the ring a type alone routes to */
	struct sole_entry sole_cache[1u << SOLE_CACHE_BITS];
	uint64_t *batch_want;      /* [view]: events of the batch chunk for it
				      (bit i: ev[i]) */
	uint16_t *batch_views;     /* views the batch chunk touches */
	/* the open claim */
	bool claim_open;
	int32_t claim_view; /* -1: scratch */
	struct ring_view *claim_sole; /* claimed by the fast path, in this ring */
	uint64_t claim_pos;
	struct shmbus_event_header *claim_ev;
	uint32_t claim_symbol; /* general routing: what was claimed */
	uint16_t claim_type, claim_size;
	_Alignas(64) uint8_t scratch[SHMBUS_EVENT_MAX + 8];
};

void shmbus_producer_opts_init(struct shmbus_producer_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->block_timeout_ns = 10 * 1000 * 1000;
}

/* A single-producer ring's owner: the owning producer's counter slot + 1. */
static inline int32_t sp_owner_id(const struct shmbus_producer *p)
{
	return (int32_t)p->ctr_index + 1;
}

/* A single-producer ring belongs to the first producer that actually
 * routes an event to it; any other producer routes around it (counted). */
static __attribute__((noinline)) void view_take_single_producer(struct shmbus_producer *p,
								  struct ring_view *v)
{
	struct ring_desc *d = v->desc;
	struct shmbus_bus *b = p->bus;
	int32_t me = sp_owner_id(p);
	v->sp_unowned = false;
	int32_t owner = load_relaxed(&d->sp_owner);
	if (owner == me)
		return;
	/* The owner is a producer (its counter slot), not a process: two
	 * producers of one process (a thread each) would both store the tail
	 * unlocked and claim the same slots. An owner whose slot is free or
	 * whose process died no longer publishes. */
	if (owner > 0 && (uint32_t)owner <= b->max_producers) {
		const struct prod_entry *e = &b->prods[owner - 1];
		/* acquire: the pid was written before the entry's state
		 * (store_release in shmbus_producer_open) */
		if (load_acquire(&e->state) && prod_alive(e)) {
			v->route_around = true; /* another producer owns this ring */
			return;
		}
	}
	if (!atomic_compare_exchange_strong(&d->sp_owner, &owner, me))
		v->route_around = load_relaxed(&d->sp_owner) != me;
}

static void producer_free(struct shmbus_producer *p)
{
	free(p->views);
	free(p->routes);
	free(p->batch_want);
	free(p->batch_views);
	free(p);
}

static void routes_rebuild(struct shmbus_producer *p)
{
	struct shmbus_bus *b = p->bus;
	uint32_t max = b->max_rings;
	/* A1 pairs with R1: the directory as of this generation is visible. */
	p->gen = load_acquire(&b->sb->route_gen);
	p->nviews = 0;
	memset(p->nroutes, 0, sizeof(p->nroutes));
	for (uint32_t i = 0; i < max; i++) {
		struct ring_desc *d = &b->rings[i];
		uint32_t st = load_acquire(&d->state); /* A2 pairs with R2 */
		if (st != RING_STATE_ACTIVE && st != RING_STATE_DETACHED &&
		    st != RING_STATE_ORPHANED)
			continue;
		struct ring_view *v = &p->views[p->nviews];
		if (ring_view_init(v, b, d) != 0)
			continue; /* corrupt entry: never route into it */
		v->route_around = st != RING_STATE_ACTIVE;
		v->sp_unowned = v->single_producer;
		uint16_t vi = (uint16_t)p->nviews++;
		for (unsigned t = 0; t < SHMBUS_MAX_TYPES; t++) /* the checked copy */
			if (v->types & SHMBUS_TYPE_BIT(t))
				p->routes[t * max + p->nroutes[t]++] = vi;
	}
	for (unsigned t = 0; t < SHMBUS_MAX_TYPES; t++)
		p->sole[t] = p->nroutes[t] == 1 ? &p->views[p->routes[t * max]] : NULL;
	memset(p->sole_cache, 0, sizeof(p->sole_cache));
}

/* Does an open producer of a live process publish as source? Under the lock. */
static bool source_held(const struct shmbus_bus *b, uint32_t source)
{
	for (uint32_t i = 0; i < b->max_producers; i++) {
		const struct prod_entry *e = &b->prods[i];
		if (load_relaxed(&e->state) && e->source_id == source && prod_alive(e))
			return true;
	}
	return false;
}

_Static_assert(offsetof(struct prod_entry, published) == 16 &&
		       offsetof(struct prod_entry, pad) ==
			       offsetof(struct prod_entry, gone_pid) + 4 &&
		       offsetof(struct prod_entry, rings_seen) + sizeof(((struct prod_entry *)0)->rings_seen) ==
			       sizeof(struct prod_entry),
	       "prod_entry_clear() names every field after source_id");

/* Zero a producer entry's counters for a new producer, one by one: stat
 * and the totals load them atomically at any time, never through memset.
 * The claim record of the producer it had moves to gone_claim first, with
 * its pid (one that never claimed leaves the one before it there): a
 * consumer looking for a stuck slot's claimer never finds neither. */
static void prod_entry_clear(struct prod_entry *e)
{
	uint64_t gone = load_relaxed(&e->claim);
	if (gone) {
		store_relaxed(&e->gone_pid, e->pid);
		store_relaxed(&e->gone_claim, gone);
	}
	store_relaxed(&e->published, 0);
	store_relaxed(&e->delivered, 0);
	store_relaxed(&e->dropped, 0);
	store_relaxed(&e->routed_around, 0);
	store_relaxed(&e->unrouted, 0);
	store_relaxed(&e->last_seq, 0);
	/* R19: the moved record (gone_claim) is visible to a reader that
	 * finds the record cleared (A19 in claimer_of(), head_stuck_pid()). */
	store_release(&e->claim, 0);
	store_relaxed(&e->announced, 0);
	memset(e->pad, 0, sizeof(e->pad));
	for (size_t i = 0; i < sizeof(e->rings_seen) / sizeof(e->rings_seen[0]); i++)
		store_relaxed(&e->rings_seen[i], 0);
}

int shmbus_producer_open(shmbus_bus *b, const struct shmbus_producer_opts *opts,
			 shmbus_producer **out)
{
	struct shmbus_producer_opts o;
	bus_err_clear();
	if (!b || !out)
		return bus_err(-EINVAL, "producer open: bus or out is NULL");
	if (opts)
		o = *opts;
	else
		shmbus_producer_opts_init(&o);
	if (o.block_timeout_ns <= 0)
		return bus_err(-EINVAL, "producer: block_timeout_ns %lld must be > 0",
			       (long long)o.block_timeout_ns);
	struct shmbus_producer *p;
	if (posix_memalign((void **)&p, 64, sizeof(*p)) != 0)
		return -ENOMEM;
	memset(p, 0, sizeof(*p));
	uint32_t max = b->max_rings;
	p->views = calloc(max, sizeof(*p->views));
	p->routes = calloc((size_t)max * SHMBUS_MAX_TYPES, sizeof(*p->routes));
	p->batch_want = calloc(max, sizeof(*p->batch_want));
	p->batch_views = calloc(max, sizeof(*p->batch_views));
	int rc = (!p->views || !p->routes || !p->batch_want || !p->batch_views) ? -ENOMEM
										 : bus_lock(b);
	if (rc)
		goto fail;
	/* A source id used before on this bus (a restarted service, a
	 * recycled pid) goes on from its last seq, so that (source, seq)
	 * stays unique for the journal, the bridge and brokers' dedup. A slot
	 * keeps its counters until it is reused, so the slot taken is, in
	 * this order: one this source had, one never used, one a pid-named
	 * source left (it never comes back: a new process is a new source),
	 * any other that is free or whose producer died (its source's last
	 * seq is then lost, once every slot of the bus has been used). */
	int32_t idx = -1;
	int rank = 4; /* of idx: 0 own, 1 never used, 2 a pid's, 3 another's */
	pid_t self = getpid(); /* not b->pid: a forked child is a process of its own */
	uint32_t source = o.source_id ? o.source_id : (uint32_t)self;
	/* (source, seq) names one event: two open producers of one source
	 * would number the same seqs. A second pid-named producer of this
	 * process (a thread each) takes pid + k * 2^22 (above any pid); a
	 * named source held by an open producer is refused. */
	for (uint32_t k = 1; source_held(b, source); k++) {
		if (o.source_id || k >= 1024) {
			bus_unlock(b);
			rc = bus_err(SHMBUS_EBUSY, "bus '%s': source id %u is held by an open producer",
				     b->name, source);
			goto fail;
		}
		source = (uint32_t)self + (k << 22);
	}
	uint64_t seq = 0;
	for (uint32_t i = 0; i < b->max_producers; i++) {
		struct prod_entry *e = &b->prods[i];
		uint64_t last = load_relaxed(&e->last_seq);
		if (e->source_id == source && last > seq)
			seq = last;
		if (load_relaxed(&e->state) && prod_alive(e))
			continue; /* in use */
		int r = e->source_id == source                  ? 0
			: e->source_id == 0 && last == 0        ? 1
			: e->source_id == (uint32_t)e->pid      ? 2
								: 3;
		if (r < rank) {
			rank = r;
			idx = (int32_t)i;
		}
	}
	if (idx < 0) {
		bus_unlock(b);
		rc = bus_err(-ENOSPC, "bus '%s': all %u producer slots in use", b->name,
			     b->max_producers);
		goto fail;
	}
	p->bus = b;
	p->route_gen = &b->sb->route_gen;
	p->pid = self;
	p->source_id = source;
	p->seq = seq;
	p->flags = o.flags;
	p->block_timeout_ns = o.block_timeout_ns;
	p->cancel = o.cancel;
	p->ctr_index = (uint32_t)idx;
	p->ctr = &b->prods[idx];
	/* A dead producer's entry (not reaped): its counts go to the totals. */
	bool dead = load_relaxed(&p->ctr->state) != 0;
	if (dead) {
		prod_retire_begin(b);
		prod_retire_counts(b, p->ctr);
		store_relaxed(&p->ctr->state, 0);
	}
	prod_entry_clear(p->ctr);
	p->ctr->participant = (uint32_t)(b->part_index < 0 ? 0 : b->part_index);
	p->ctr->pid = p->pid;
	p->ctr->start_time = self == b->pid ? b->start_time : proc_start_time(self);
	p->ctr->source_id = p->source_id;
	store_relaxed(&p->ctr->last_seq, seq);
	store_release(&p->ctr->state, 1);
	if (dead)
		prod_retire_end(b);
	bus_unlock(b);
	routes_rebuild(p);
	*out = p;
	return 0;
fail:
	producer_free(p);
	return rc;
}

void shmbus_producer_close(shmbus_producer *p)
{
	if (!p)
		return;
	/* A forked child closing the copy it inherited frees only its memory:
	 * the entry, its source and any single-producer ring it owns are still
	 * the parent's, publishing. */
	if (p->pid != getpid()) {
		producer_free(p);
		return;
	}
	/* Its counters move to the bus's totals, under the lock that makes
	 * it the only mover, and only while the entry is still its own (a
	 * reaper that took this process for dead moved them already, and the
	 * slot may be another's now). A lock that cannot be taken (damaged:
	 * 5 s) leaves the entry to the reaper once this process is gone:
	 * a move without the lock could meet another. */
	struct prod_entry *e = p->ctr;
	if (bus_lock(p->bus) == 0) {
		if (load_relaxed(&e->state) && e->pid == p->pid && e->source_id == p->source_id) {
			prod_retire_begin(p->bus);
			prod_retire_counts(p->bus, e);
			store_release(&e->state, 0);
			prod_retire_end(p->bus);
		}
		bus_unlock(p->bus);
	}
	for (uint32_t i = 0; i < p->nviews; i++) {
		int32_t me = sp_owner_id(p);
		if (p->views[i].single_producer)
			atomic_compare_exchange_strong(&p->views[i].desc->sp_owner, &me, 0);
	}
	producer_free(p);
}

int shmbus_producer_announce(shmbus_producer *p, uint64_t types)
{
	if (!p)
		return bus_err(-EINVAL, "producer announce: producer is NULL");
	if (types & SHMBUS_TYPE_BIT(SHMBUS_EV_INVALID))
		return bus_err(-EINVAL, "producer announce: type 0 is not a type");
	/* Relaxed: a reader's count is a snapshot either way. */
	store_relaxed(&p->ctr->announced, types);
	return 0;
}

uint32_t shmbus_producer_source(const shmbus_producer *p)
{
	return p ? p->source_id : 0;
}

uint64_t shmbus_producer_last_seq(const shmbus_producer *p)
{
	return p ? p->seq : 0;
}

/* Which member of a group of n receives symbol sym: a multiplicative hash
 * every producer computes alike, so a symbol always lands in one member. */
static inline uint32_t group_of(uint32_t sym, uint32_t n)
{
	return (uint32_t)(((uint64_t)(sym * 0x9E3779B1u) * n) >> 32);
}

/* Does the ring take an event about symbol sym? An event about no symbol
 * (0: heartbeats, end-of-stream markers, status) passes a symbol filter
 * and reaches every member of a group: each of them needs it. */
static inline bool view_matches(const struct ring_view *v, uint32_t sym)
{
	if (sym == 0)
		return true;
	if (v->bitmap) {
		if (sym > v->max_symbols)
			return false;
		if (!((v->bitmap[(sym - 1) >> 6] >> ((sym - 1) & 63)) & 1))
			return false;
	}
	return v->group_size <= 1 || group_of(sym, v->group_size) == v->group_member;
}

static void count_routed_around(struct shmbus_producer *p, struct ring_view *v)
{
	fetch_add_relaxed(&v->hdr->routed_around, 1);
	counter_bump(&p->ctr->routed_around, 1);
}

/* The consumer is gone or detached: stop delivering to this ring. */
static bool view_lost_consumer(struct shmbus_producer *p, struct ring_view *v)
{
	if (load_acquire(&v->desc->state) != RING_STATE_ACTIVE || /* A2 */
	    ring_orphan_if_dead(p->bus, v->desc)) {
		v->route_around = true;
		count_routed_around(p, v);
		return true;
	}
	return false;
}

/* The ring's positions were overwritten (head past tail, or tail more than
 * a ring ahead): it can never make room again. Route around it, counted,
 * with the reason left in shmbus_errmsg(). */
static bool view_positions_broken(struct shmbus_producer *p, struct ring_view *v)
{
	if (ring_positions_check(v->hdr, v->index, v->capacity) == 0)
		return false;
	v->route_around = true;
	count_routed_around(p, v);
	return true;
}

/* The routing table is older than the bus's generation: is v's entry still
 * in use by the ring the view was built from? Once removed, its entry and
 * arena bytes may hold another ring (another filter, another geometry)
 * that a claim through the view would write into. A replaced ring is
 * counted routed around by the producer alone: the header is not its. */
static __attribute__((noinline)) bool view_replaced(struct shmbus_producer *p,
						    const struct ring_view *v)
{
	uint32_t st = load_acquire(&v->desc->state); /* A2 pairs with R2 */
	if ((st == RING_STATE_ACTIVE || st == RING_STATE_DETACHED || st == RING_STATE_ORPHANED) &&
	    load_relaxed(&v->desc->incarnation) == v->incarnation)
		return false;
	counter_bump(&p->ctr->routed_around, 1);
	return true;
}

/* Has the generation moved and v's ring gone? Before every claim through a
 * view: a batch or a wait for room outlives the table it started with. */
static inline bool view_gone(struct shmbus_producer *p, const struct ring_view *v)
{
	return unlikely(load_relaxed(p->route_gen) != p->gen) && view_replaced(p, v);
}

static inline bool producer_cancelled(const struct shmbus_producer *p)
{
	return p->cancel && *p->cancel;
}

/* Give up a wait for room, cancelled: not delivered, counted dropped. */
static void view_cancel(struct shmbus_producer *p, struct ring_view *v, uint64_t head)
{
	v->cancel_stalled = true;
	v->cancel_head = head;
	fetch_add_relaxed(&v->hdr->dropped, 1);
	counter_bump(&p->ctr->dropped, 1);
}

/* A cancelled producer (opts.cancel set: its process is stopping) gives up
 * once it has seen the consumer's head stand still for
 * SHMBUS_CANCEL_STALL_NS: *moved_at is when it first looked (0: not yet)
 * or saw the head move. Never before the flag is seen: the head's line is
 * the consumer's, and a wait that is not cancelled does not read it. */
static bool view_cancel_stalled(struct shmbus_producer *p, struct ring_view *v, int64_t now,
				uint64_t *head_seen, int64_t *moved_at)
{
	uint64_t head = load_relaxed(&v->hdr->head); /* a position compared, nothing read by it */
	if (*moved_at == 0 || head != *head_seen) {
		*head_seen = head;
		*moved_at = now;
		return false;
	}
	if (now - *moved_at < SHMBUS_CANCEL_STALL_NS)
		return false;
	view_cancel(p, v, head);
	return true;
}

/* Block policy: wait for space, adaptively, never behind a dead consumer,
 * nor, once cancelled, behind one that stands still. */
static __attribute__((noinline)) int view_wait_space(struct shmbus_producer *p,
						     struct ring_view *v, uint64_t *pos)
{
	struct ring_hdr *h = v->hdr;
	fetch_add_relaxed(&h->producer_waits, 1);
	int64_t last = shmbus_mono_ns(), moved_at = 0;
	uint64_t head_seen = 0;
	/* Gave up here already, and the consumer has not moved since: at once,
	 * or a flush of many events would wait a stall for each. */
	if (unlikely(v->cancel_stalled)) {
		uint64_t head = load_relaxed(&h->head);
		if (producer_cancelled(p) && head == v->cancel_head) {
			view_cancel(p, v, head);
			return 0;
		}
		v->cancel_stalled = false;
	}
	uint64_t gen_seen = p->gen;
	for (unsigned spins = 0;; spins++) {
		if (view_gone(p, v))
			return 0;
		/* A detach (close, or the ring orphaned by another producer)
		 * moves the generation: a consumer that left is not waited for
		 * until the next liveness check, block_timeout away. */
		uint64_t gen = load_relaxed(p->route_gen);
		if (unlikely(gen != gen_seen)) {
			gen_seen = gen;
			if (view_lost_consumer(p, v))
				return 0;
		}
		if (ring_try_claim(v, p->ctr, pos))
			return 1;
		if (spins < 64) {
			cpu_relax();
			continue;
		}
		if (spins < 128) {
			sched_yield();
		} else {
			/* Announce, then re-check, then nap. A wake the consumer's
			 * release misses (it reads prod_waiting with no fence) is
			 * made once it runs out of events (ring_space_recheck). */
			uint32_t seq = load_acquire(&h->space_seq);
			/* A flag, not a count: the consumer that wakes clears it
			 * (ring_wake_producers), so one left by a producer killed
			 * in its nap costs one wake, not one at every release. */
			atomic_exchange(&h->prod_waiting, 1);
			if (load_acquire(&h->tail) - load_acquire(&h->head) >= v->capacity)
				futex_wait_u32(&h->space_seq, seq, SPACE_NAP_NS);
		}
		int64_t now = shmbus_mono_ns();
		if (now - last >= p->block_timeout_ns) {
			last = now;
			if (view_lost_consumer(p, v) || view_positions_broken(p, v))
				return 0;
		}
		if (producer_cancelled(p) && view_cancel_stalled(p, v, now, &head_seen, &moved_at))
			return 0;
	}
}

static __attribute__((noinline)) int view_full(struct shmbus_producer *p, struct ring_view *v,
					       uint64_t *pos)
{
	if (v->policy == SHMBUS_POLICY_BLOCK)
		return view_wait_space(p, v, pos);
	if (v->full_streak++ % DROP_CHECK_EVERY == 0 &&
	    (view_lost_consumer(p, v) || view_positions_broken(p, v)))
		return 0;
	fetch_add_relaxed(&v->hdr->dropped, 1);
	counter_bump(&p->ctr->dropped, 1);
	return 0;
}

/* First delivery to a ring: record it for the ring's producer count. An
 * atomic or: a new ring at a reused index clears the bit from another
 * process (ring_create_locked()), and a plain store of the old word could
 * bring a cleared bit of another ring back. */
static __attribute__((noinline)) void view_mark_seen(struct shmbus_producer *p, struct ring_view *v)
{
	fetch_or_relaxed(&p->ctr->rings_seen[v->index >> 6], UINT64_C(1) << (v->index & 63));
	v->seen = true;
}

/* Claim a run of up to `want` slots in v under its policy: how many were
 * claimed (from *pos on), 0 when not delivered (dropped, routed around). */
static inline uint32_t view_claim_run(struct shmbus_producer *p, struct ring_view *v,
				      uint32_t want, uint64_t *pos)
{
	if (view_gone(p, v))
		return 0;
	if (unlikely(v->sp_unowned) && !v->route_around)
		view_take_single_producer(p, v);
	if (unlikely(v->route_around)) {
		count_routed_around(p, v);
		return 0;
	}
	if (unlikely(!v->seen))
		view_mark_seen(p, v);
	uint32_t n = ring_try_claim_run(v, p->ctr, want < CLAIM_RUN_MAX ? want : CLAIM_RUN_MAX, pos);
	if (likely(n)) {
		v->full_streak = 0;
		return n;
	}
	/* A batch checks for a sleeping consumer only after its last commit
	 * to the ring: one that went to sleep before the commits so far must
	 * be woken now, or it naps (up to 10 ms) while this producer waits
	 * for it to make room. */
	ring_wake_check(v);
	return (uint32_t)view_full(p, v, pos);
}

/* An event too big for v's slots: counted on the ring, not delivered. */
static inline bool view_too_big(struct ring_view *v, uint16_t size)
{
	if (likely(size <= v->payload_max))
		return false;
	fetch_add_relaxed(&v->hdr->too_big, 1);
	return true;
}

/* Claim a slot in v under its policy: 1 claimed, 0 not delivered. */
static inline int view_claim(struct shmbus_producer *p, struct ring_view *v, uint16_t size,
			     uint64_t *pos)
{
	if (view_too_big(v, size))
		return 0;
	return (int)view_claim_run(p, v, 1, pos);
}

static inline int check_header(uint16_t type, uint16_t size)
{
	if (unlikely(type == 0 || type >= SHMBUS_MAX_TYPES))
		return -EINVAL;
	if (unlikely(size < sizeof(struct shmbus_event_header)))
		return -EINVAL;
	if (unlikely(size > SHMBUS_EVENT_MAX))
		return SHMBUS_ETOOBIG;
	return 0;
}

static inline void routes_refresh(struct shmbus_producer *p)
{
	/* Relaxed: a stale read only delays the rebuild, which re-reads the
	 * generation with acquire (A1). */
	if (unlikely(load_relaxed(p->route_gen) != p->gen))
		routes_rebuild(p);
}

static inline void count_events(struct shmbus_producer *p, unsigned n, unsigned delivered,
				unsigned unrouted)
{
	struct prod_entry *c = p->ctr;
	counter_bump(&c->published, n);
	counter_bump(&c->delivered, delivered);
	if (unlikely(unrouted))
		counter_bump(&c->unrouted, unrouted);
	store_relaxed(&c->last_seq, p->seq);
}

static inline void count_publish(struct shmbus_producer *p, unsigned matched, unsigned delivered)
{
	count_events(p, 1, delivered, !matched);
}

static inline struct sole_entry *sole_entry_of(struct shmbus_producer *p, uint32_t type,
					       uint32_t symbol_id)
{
	uint32_t h = (symbol_id ^ (type << 20)) * 0x9E3779B1u;
	return &p->sole_cache[h >> (32 - SOLE_CACHE_BITS)];
}

/* The ring a type routes symbol_id to when its table has several: learned
 * (sole_learn), or NULL. */
static inline struct ring_view *sole_cached(struct shmbus_producer *p, uint32_t type,
					    uint32_t symbol_id)
{
	const struct sole_entry *e = sole_entry_of(p, type, symbol_id);
	return e->type == type && e->symbol == symbol_id ? &p->views[e->view] : NULL;
}

/* The general routing found that symbol_id of type matches only the ring
 * of route index i: remember it for the fast paths. */
static void sole_learn(struct shmbus_producer *p, uint32_t type, uint32_t symbol_id,
		       unsigned i)
{
	struct sole_entry *e = sole_entry_of(p, type, symbol_id);
	e->symbol = symbol_id;
	e->type = (uint16_t)type;
	e->view = p->routes[(size_t)type * p->bus->max_rings + i];
}

/*
 * The ring of the fast paths (shmbus_publish, shmbus_claim), or NULL for
 * the general routing: the type has one ring (p->sole), or the event's
 * symbol matches one ring of the type's (sole_cached), whose filter takes
 * the event, which fits; the ring was delivered to before (seen), is owned
 * if single-producer, has a live consumer, and the routing table is
 * current. Only the claim itself (room in the ring) is left to check.
 */
static inline struct ring_view *sole_ring(struct shmbus_producer *p, uint32_t type,
					  uint32_t symbol_id, uint32_t size)
{
	struct ring_view *v;
	if (unlikely(type - 1u >= SHMBUS_MAX_TYPES - 1u))
		return NULL;
	v = p->sole[type];
	if (!v && !(v = sole_cached(p, type, symbol_id)))
		return NULL;
	if (likely(size >= sizeof(struct shmbus_event_header) && size <= v->payload_max &&
		   view_matches(v, symbol_id) && !v->route_around && !v->sp_unowned && v->seen &&
		   load_relaxed(p->route_gen) == p->gen))
		return v;
	return NULL;
}

/* After a fast-path claim: the ring is no longer full. */
static inline void sole_claimed(struct ring_view *v)
{
	if (unlikely(v->full_streak))
		v->full_streak = 0; /* a load, not a store, when not full */
}

/*
 * Write an event header into a slot as five whole 8-byte words: the first
 * two composed in registers from their narrow fields. Callers set those
 * fields one by one, and an 8-byte load across several of those stores
 * could not be store-forwarded (nor could a struct composed on the
 * stack); and each store takes a store-buffer entry and waits its turn to
 * drain behind the previous events' slot stores: field by field would
 * take six more.
 */
_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
	       "header_store composes header words little-endian");
_Static_assert(offsetof(struct shmbus_event_header, version) == 2 &&
		       offsetof(struct shmbus_event_header, flags) == 3 &&
		       offsetof(struct shmbus_event_header, size) == 4 &&
		       offsetof(struct shmbus_event_header, source_id) == 8 &&
		       offsetof(struct shmbus_event_header, symbol_id) == 12,
	       "header_store's words");
static inline void header_store(struct shmbus_event_header *dst, uint16_t type, uint8_t version,
				uint8_t flags, uint16_t size, uint32_t src, uint32_t sym,
				uint64_t seq, int64_t event_time, int64_t pt)
{
	uint64_t w0 = (uint64_t)type | (uint64_t)version << 16 | (uint64_t)flags << 24 |
		      (uint64_t)size << 32; /* reserved: zero */
	uint64_t ids = (uint64_t)src | (uint64_t)sym << 32;
	memcpy(dst, &w0, 8);
	memcpy((unsigned char *)dst + 8, &ids, 8);
	dst->seq = seq;
	dst->event_time_ns = event_time;
	dst->publish_time_ns = pt;
}

/* A claimed event's header: flags, times zero (the commit stamps it). */
static inline void claim_header(struct shmbus_event_header *ev, uint16_t type, uint16_t size,
				uint32_t src, uint32_t sym, uint64_t seq)
{
	header_store(ev, type, SHMBUS_EVENT_LAYOUT_VERSION, 0, size, src, sym, seq, 0, 0);
}

static __attribute__((noinline)) int claim_routed(shmbus_producer *p, uint16_t type,
						  uint32_t symbol_id, uint16_t size, void **out)
{
	int rc = check_header(type, size);
	if (rc)
		return rc;
	routes_refresh(p);
	uint32_t max = p->bus->max_rings;
	const uint16_t *r = &p->routes[(size_t)type * max];
	unsigned n = p->nroutes[type], matched = 0;
	struct shmbus_event_header *ev = (struct shmbus_event_header *)p->scratch;
	p->claim_view = -1;
	for (unsigned i = 0; i < n; i++) {
		struct ring_view *v = &p->views[r[i]];
		if (!view_matches(v, symbol_id))
			continue;
		matched++;
		if (view_claim(p, v, size, &p->claim_pos)) {
			p->claim_view = (int32_t)i;
			ev = slot_event(ring_slot(v, p->claim_pos));
			break;
		}
	}
	if (p->claim_view >= 0 && matched == 1 && n > 1) {
		unsigned more = 0; /* does a later ring match too? (fan-out) */
		for (unsigned i = (unsigned)p->claim_view + 1; i < n && !more; i++)
			more = view_matches(&p->views[r[i]], symbol_id);
		if (!more)
			sole_learn(p, type, symbol_id, (unsigned)p->claim_view);
	}
	claim_header(ev, type, size, p->source_id, symbol_id, ++p->seq);
	p->claim_ev = ev;
	p->claim_type = type;
	p->claim_size = size;
	p->claim_symbol = symbol_id;
	p->claim_sole = NULL;
	p->claim_open = true;
	/* matched rings before the claimed one dropped it; remember whether
	 * anything matched for the unrouted counter */
	p->claim_pos = p->claim_view >= 0 ? p->claim_pos : matched;
	*out = ev;
	return 0;
}

/*
 * Fast path: claim the slot of the type's only ring (sole_ring) and write
 * the header there; the general routing (fan-out, drops, a full ring,
 * errors) in claim_routed(). Claim + commit + poll on one core, rings in L1:
 * 14.6-17.1 -> 8.9 ns per event single-producer without stamp, 19.7-20.0
 * -> 14.5 multi-producer stamped: on a par with shmbus_publish().
 */
int shmbus_claim(shmbus_producer *p, uint16_t type, uint32_t symbol_id, uint16_t size, void **out)
{
	if (unlikely(p->claim_open))
		return -EALREADY;
	struct ring_view *v = sole_ring(p, type, symbol_id, size);
	uint64_t pos;
	if (likely(v && ring_try_claim_run(v, p->ctr, 1, &pos))) {
		sole_claimed(v);
		struct shmbus_event_header *ev = slot_event(ring_slot(v, pos));
		claim_header(ev, type, size, p->source_id, symbol_id, ++p->seq);
		p->claim_sole = v;
		p->claim_pos = pos;
		p->claim_ev = ev;
		p->claim_open = true;
		*out = ev;
		return 0;
	}
	return claim_routed(p, type, symbol_id, size, out);
}

int shmbus_commit(shmbus_producer *p)
{
	if (unlikely(!p->claim_open))
		return -EINVAL;
	struct shmbus_event_header *ev = p->claim_ev;
	p->claim_open = false;
	if (!(p->flags & SHMBUS_PRODUCER_NO_TIMESTAMP))
		ev->publish_time_ns = ring_now_ns();
	if (likely(p->claim_sole)) {
		/* fast-path claim: one ring, nothing to fan out */
		ring_commit(p->claim_sole, p->claim_pos);
		count_publish(p, 1, 1);
		return 1;
	}
	if (p->claim_view < 0) {
		count_publish(p, (unsigned)p->claim_pos, 0);
		return 0;
	}
	uint32_t max = p->bus->max_rings;
	/* Type, symbol and size as claimed: the caller wrote the slot since. */
	const uint16_t *r = &p->routes[(size_t)p->claim_type * max];
	unsigned n = p->nroutes[p->claim_type], delivered = 1;
	uint32_t sym = p->claim_symbol;
	uint16_t size = p->claim_size;
	uint64_t pos;
	/* Publish ours first, then fan out from a private copy: a claimed
	 * slot must not stay uncommitted while this producer waits for room
	 * in another ring (a `block` ring's slow consumer). Its claim record
	 * moves to that ring, so the first ring's consumer would skip the
	 * slot as claimer-less after stuck_timeout, and the late commit would
	 * then stamp the slot of an event published since, a lap later. The
	 * copy: once committed, the slot is the consumer's to free and reuse. */
	bool more = (unsigned)p->claim_view + 1 < n;
	if (more)
		memcpy(p->scratch, ev, size);
	ring_commit(&p->views[r[p->claim_view]], p->claim_pos);
	ev = (struct shmbus_event_header *)p->scratch;
	for (unsigned i = (unsigned)p->claim_view + 1; more && i < n; i++) {
		struct ring_view *v = &p->views[r[i]];
		if (!view_matches(v, sym) || !view_claim(p, v, size, &pos))
			continue;
		memcpy(slot_event(ring_slot(v, pos)), ev, size);
		ring_commit(v, pos);
		delivered++;
	}
	count_publish(p, 1, delivered);
	return (int)delivered;
}

/*
 * Copy an event into a slot, with the producer's identity and stamp, in
 * 8-byte words on purpose. The caller has usually just written the event,
 * so its stores are still in flight behind the previous events' slot
 * stores (each waiting for its line to come over from the consumer); a
 * wide vector load spanning several of them cannot be store-forwarded
 * and stalls until all of those drain, serialising the producer on the
 * consumer's cache. Loads that each fall within one store forward.
 * The empty asm keeps the compiler from vectorising the loop back.
 */
static inline void event_copy_in(struct shmbus_event_header *dst,
				 const struct shmbus_event_header *in, uint32_t src, uint64_t seq,
				 int64_t pt)
{
	const unsigned char *s = (const unsigned char *)in;
	unsigned char *d = (unsigned char *)dst;
	uint32_t size = in->size, off = sizeof(*in);
	uint64_t w;
	header_store(dst, in->type, in->version, in->flags, in->size, src, in->symbol_id, seq,
		     in->event_time_ns, pt);
	for (; off + 8 <= size; off += 8) {
		memcpy(&w, s + off, 8);
		__asm__("" : "+r"(w));
		memcpy(d + off, &w, 8);
	}
	if (off < size)
		memcpy(d + off, s + off, size - off);
}

/* The identity and stamp an event is published with: its own (source,
 * seq) when seq is set (replays, bridges), else this producer's next. */
struct pub_id {
	uint64_t seq;
	uint32_t src;
	int64_t pt;
};

/* The stamp first: the clock read (tens of cycles of microcode here) then
 * overlaps the claim instead of holding up the slot's stores after it;
 * measured in the pingpong round trip. */
static inline int64_t publish_stamp(const shmbus_producer *p, const struct shmbus_event_header *in)
{
	return (p->flags & SHMBUS_PRODUCER_NO_TIMESTAMP) ? in->publish_time_ns : ring_now_ns();
}

static inline struct pub_id publish_id(shmbus_producer *p, const struct shmbus_event_header *in,
				       int64_t pt)
{
	struct pub_id id = {in->seq, in->source_id, pt};
	if (id.seq == 0) {
		id.seq = ++p->seq;
		id.src = p->source_id;
	}
	return id;
}

/* shmbus_publish() for any routing: every ring of the type, filtered. */
static __attribute__((noinline)) int publish_routed(shmbus_producer *p,
						 const struct shmbus_event_header *in)
{
	int rc = check_header(in->type, in->size);
	if (rc)
		return rc;
	routes_refresh(p);
	struct pub_id id = publish_id(p, in, publish_stamp(p, in));
	uint32_t max = p->bus->max_rings;
	const uint16_t *r = &p->routes[(size_t)in->type * max];
	unsigned n = p->nroutes[in->type], matched = 0, delivered = 0, last = 0;
	uint64_t pos;
	for (unsigned i = 0; i < n; i++) {
		struct ring_view *v = &p->views[r[i]];
		if (!view_matches(v, in->symbol_id))
			continue;
		matched++;
		last = i;
		if (!view_claim(p, v, in->size, &pos))
			continue;
		event_copy_in(slot_event(ring_slot(v, pos)), in, id.src, id.seq, id.pt);
		ring_commit(v, pos);
		delivered++;
	}
	if (matched == 1 && n > 1)
		sole_learn(p, in->type, in->symbol_id, last);
	count_publish(p, matched, delivered);
	return (int)delivered;
}

/*
 * The common case inline, everything else in publish_routed(): the
 * event's type has one ring ready for it (sole_ring) with room. Measured on the
 * development VM (publish + poll on one core, rings in L1): 11.7 -> 7.9
 * ns per event without stamp, 18.1 -> 13.8 with; the general loop keeps
 * more values live (callee-saved registers and stack spills: stores that
 * queue behind the slot's).
 */
int shmbus_publish(shmbus_producer *p, const void *evp)
{
	const struct shmbus_event_header *in = evp;
	if (unlikely(!in || p->claim_open))
		return -EINVAL;
	uint64_t pos;
	int64_t pt = publish_stamp(p, in);
	struct ring_view *v = sole_ring(p, in->type, in->symbol_id, in->size);
	if (likely(v && ring_try_claim_run(v, p->ctr, 1, &pos))) {
		struct pub_id id = publish_id(p, in, pt);
		sole_claimed(v);
		event_copy_in(slot_event(ring_slot(v, pos)), in, id.src, id.seq, id.pt);
		ring_commit(v, pos);
		count_publish(p, 1, 1);
		return 1;
	}
	return publish_routed(p, in);
}

/* Identity and stamp of the events of one batch chunk. */
enum batch_idmode {
	BATCH_ASSIGN, /* every seq 0: this producer's source id, seq0 + i */
	BATCH_KEEP,   /* every seq set: kept (replays, bridges) */
	BATCH_MIXED,  /* some of each: from the arrays */
};

struct batch_ids {
	enum batch_idmode mode;
	uint32_t src0;
	uint64_t seq0;
	int64_t pt; /* publish time, or -1: keep each event's own */
	uint64_t seq[BATCH_CHUNK];
	uint32_t src[BATCH_CHUNK];
};

/*
 * Copy the next `run` events for v from ev[*ip] on into the slots from pos
 * on, committing each. `all`: every event is for v, else those whose bit
 * is set in `sel`: what the routing pass chose (a symbol filter lives in
 * shared memory, where a consumer re-attaching with another filter
 * rewrites it meanwhile, so it is never read again here: the events
 * would no longer be the ones counted). `mode`, `stamp`: the identity
 * mode and whether ids->pt is stamped; constants in the fast
 * instance, so its loop holds nothing else. The ring's geometry is read
 * into locals once: the compiler must otherwise reload it after every
 * store into a slot, which might alias it.
 */
static inline __attribute__((always_inline)) void
batch_fill_run(struct ring_view *v, uint64_t pos, uint32_t run,
	       const struct shmbus_event_header *const *ev, unsigned *ip, uint64_t sel, bool all,
	       enum batch_idmode mode, bool stamp, const struct batch_ids *ids)
{
	uint8_t *const slots = v->slots;
	const uint64_t mask = v->mask;
	const uint32_t shift = v->slot_shift, src0 = ids->src0;
	const uint64_t seq0 = ids->seq0;
	const int64_t pt = ids->pt;
	unsigned i = *ip;
	for (uint32_t k = 0; k < run; k++, i++) {
		while (!all && !((sel >> i) & 1))
			i++;
		const struct shmbus_event_header *in = ev[i];
		uint64_t at = pos + k;
		struct slot *s = (struct slot *)(slots + ((at & mask) << shift));
		uint32_t src = mode == BATCH_ASSIGN ? src0
			       : mode == BATCH_KEEP ? in->source_id
						    : ids->src[i];
		uint64_t seq = mode == BATCH_ASSIGN ? seq0 + i
			       : mode == BATCH_KEEP ? in->seq
						    : ids->seq[i];
		event_copy_in(slot_event(s), in, src, seq, stamp ? pt : in->publish_time_ns);
		store_release(&s->word, SLOT_WORD(at)); /* R6 */
		if (unlikely(k == 0 && run > 1 && ring_test_hook != NULL))
			ring_test_hook(RING_HOOK_MID_RUN);
	}
	*ip = i;
}

/*
 * Deliver to v, in order, the `want` events of ev[] meant for it (all, or
 * those of `sel`, as batch_fill_run() takes them): claim
 * them in runs (one read-modify-write each), copy each in and commit it,
 * and check for a sleeping consumer once at the end. Each view is filled
 * before the next is claimed, so a ring never holds claimed slots while
 * this producer waits on another.
 */
static inline __attribute__((always_inline)) unsigned
batch_to_view(struct shmbus_producer *p, struct ring_view *v,
	      const struct shmbus_event_header *const *ev, unsigned want, uint64_t sel, bool all,
	      enum batch_idmode mode, bool stamp, const struct batch_ids *ids)
{
	unsigned delivered = 0, i = 0;
	while (want) {
		while (!all && !((sel >> i) & 1))
			i++;
		uint64_t pos;
		uint32_t run = view_claim_run(p, v, want, &pos);
		if (run == 0) { /* dropped or routed around, counted */
			i++;
			want--;
			continue;
		}
		want -= run;
		delivered += run;
		batch_fill_run(v, pos, run, ev, &i, sel, all, mode, stamp, ids);
	}
	ring_wake_check(v);
	return delivered;
}

/* The common case, compiled for it: every event for v, identities
 * assigned here, one publish time. */
static __attribute__((noinline)) unsigned batch_to_view_fast(struct shmbus_producer *p,
							     struct ring_view *v,
							     const struct shmbus_event_header *const *ev,
							     unsigned n, const struct batch_ids *ids)
{
	return batch_to_view(p, v, ev, n, 0, true, BATCH_ASSIGN, true, ids);
}

/* Any case: the events for v among ev[], those of `sel` (bit i: ev[i]). */
static __attribute__((noinline)) unsigned batch_to_view_some(struct shmbus_producer *p,
							     struct ring_view *v,
							     const struct shmbus_event_header *const *ev,
							     uint64_t sel, const struct batch_ids *ids)
{
	return batch_to_view(p, v, ev, (unsigned)__builtin_popcountll(sel), sel, false, ids->mode,
			     ids->pt >= 0, ids);
}

/* Every event of the chunk has `type` and fits every slot of its rings,
 * none of which filters symbols: each ring takes them all. */
static unsigned batch_uniform(struct shmbus_producer *p, const struct shmbus_event_header *const *ev,
			      unsigned n, uint16_t type, const struct batch_ids *ids)
{
	const uint16_t *r = &p->routes[(size_t)type * p->bus->max_rings];
	unsigned nr = p->nroutes[type], delivered = 0;
	bool fast = ids->mode == BATCH_ASSIGN && ids->pt >= 0;
	uint64_t every = n < 64 ? (UINT64_C(1) << n) - 1 : UINT64_MAX;
	for (unsigned k = 0; k < nr; k++)
		delivered += fast ? batch_to_view_fast(p, &p->views[r[k]], ev, n, ids)
				  : batch_to_view_some(p, &p->views[r[k]], ev, every, ids);
	return delivered;
}

/* Any chunk: count each ring's share, then deliver ring by ring. */
static unsigned batch_routed(struct shmbus_producer *p, const struct shmbus_event_header *const *ev,
			     unsigned n, const struct batch_ids *ids, unsigned *unrouted)
{
	uint32_t max = p->bus->max_rings;
	unsigned nviews = 0, delivered = 0;
	for (unsigned i = 0; i < n; i++) {
		const struct shmbus_event_header *in = ev[i];
		const uint16_t *r = &p->routes[(size_t)in->type * max];
		unsigned nr = p->nroutes[in->type], matched = 0;
		for (unsigned k = 0; k < nr; k++) {
			struct ring_view *v = &p->views[r[k]];
			if (!view_matches(v, in->symbol_id))
				continue;
			matched++;
			if (view_too_big(v, in->size))
				continue;
			if (p->batch_want[r[k]] == 0)
				p->batch_views[nviews++] = r[k];
			p->batch_want[r[k]] |= UINT64_C(1) << i;
		}
		*unrouted += !matched;
	}
	for (unsigned k = 0; k < nviews; k++) {
		uint16_t vi = p->batch_views[k];
		delivered += batch_to_view_some(p, &p->views[vi], ev, p->batch_want[vi], ids);
		p->batch_want[vi] = 0;
	}
	return delivered;
}

/* Route and deliver up to BATCH_CHUNK events; returns deliveries. */
static unsigned batch_chunk(struct shmbus_producer *p, const struct shmbus_event_header *const *ev,
			    unsigned n, int64_t pt)
{
	struct batch_ids ids;
	uint16_t type = ev[0]->type, size_max = 0;
	unsigned zero = 0, unrouted = 0, delivered;
	bool one_type = true;
	/* Loads only: the stores of earlier events may still be draining. */
	for (unsigned i = 0; i < n; i++) {
		const struct shmbus_event_header *in = ev[i];
		one_type &= in->type == type;
		size_max = in->size > size_max ? in->size : size_max;
		zero += in->seq == 0;
	}
	ids.pt = pt;
	ids.src0 = p->source_id;
	ids.seq0 = p->seq + 1;
	ids.mode = zero == n ? BATCH_ASSIGN : zero == 0 ? BATCH_KEEP : BATCH_MIXED;
	for (unsigned i = 0; ids.mode == BATCH_MIXED && i < n; i++) {
		bool assign = ev[i]->seq == 0;
		ids.seq[i] = assign ? ++p->seq : ev[i]->seq;
		ids.src[i] = assign ? p->source_id : ev[i]->source_id;
	}
	if (ids.mode == BATCH_ASSIGN)
		p->seq += n;
	bool uniform = one_type;
	const uint16_t *r = &p->routes[(size_t)type * p->bus->max_rings];
	for (unsigned k = 0; uniform && k < p->nroutes[type]; k++) {
		const struct ring_view *v = &p->views[r[k]];
		uniform = !v->bitmap && v->group_size <= 1 && size_max <= v->payload_max;
	}
	if (uniform) {
		delivered = batch_uniform(p, ev, n, type, &ids);
		unrouted = p->nroutes[type] ? 0 : n;
	} else {
		delivered = batch_routed(p, ev, n, &ids, &unrouted);
	}
	count_events(p, n, delivered, unrouted);
	return delivered;
}

int shmbus_publish_batch(shmbus_producer *p, const void *const *evs, unsigned n)
{
	if (unlikely(!p || (!evs && n) || p->claim_open))
		return bus_err(-EINVAL, "publish batch: %s",
			       !p ? "producer is NULL"
				  : !evs ? "events is NULL" : "a claim is open");
	if (unlikely(n > BATCH_MAX))
		return bus_err(-EINVAL, "publish batch: %u events, at most %u per call", n,
			       BATCH_MAX);
	const struct shmbus_event_header *const *ev = (const struct shmbus_event_header *const *)evs;
	for (unsigned i = 0; i < n; i++) {
		int rc = ev[i] ? check_header(ev[i]->type, ev[i]->size) : -EINVAL;
		if (unlikely(rc))
			return ev[i] ? bus_err(rc, "publish batch: event %u: type %u, size %u", i,
					       ev[i]->type, ev[i]->size)
				     : bus_err(rc, "publish batch: event %u is NULL", i);
	}
	routes_refresh(p);
	int64_t pt = (p->flags & SHMBUS_PRODUCER_NO_TIMESTAMP) ? -1 : ring_now_ns();
	unsigned delivered = 0;
	for (unsigned base = 0; base < n; base += BATCH_CHUNK)
		delivered += batch_chunk(p, ev + base, n - base < BATCH_CHUNK ? n - base : BATCH_CHUNK,
					 pt);
	return (int)delivered;
}
