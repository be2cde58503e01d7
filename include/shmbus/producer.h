/*
 * shmbus/producer.h - publishing events.
 *
 * A producer belongs to one thread. It routes each event to every ring
 * whose subscription matches the event's type and symbol (and, for a
 * consumer group, to the one member the symbol hashes to): matching is
 * done once, here, at the source, from a routing table the producer caches
 * and rebuilds when the bus's routing generation changes.
 *
 * Two ways to publish:
 *  - zero copy: shmbus_claim() returns the slot of the first matching ring
 *    to write the event in place, shmbus_commit() makes it visible (and
 *    copies it to any further matching ring);
 *  - copy in: shmbus_publish() copies a finished event into every ring;
 *    shmbus_publish_batch() does so for many, one atomic claim per run.
 * Neither takes a lock, allocates or makes a system call unless a ring is
 * full under `block` policy or a consumer sleeps and must be woken.
 *
 * When a ring is full its subscription's policy decides: `block` waits for
 * space (lossless), `drop` counts the event as dropped for that ring.
 * Rings whose consumer died or detached are routed around (counted).
 * None of these is an error: commit and publish return the number of rings
 * that received the event, and 0 (no ring, all full, too big) is success.
 * A ring receives only events published after it was subscribed.
 *
 * NULL handles: claim, commit, publish and publish_batch are the hot path
 * and do not check theirs (NULL is undefined behaviour); every other call
 * takes NULL (see each).
 */
#ifndef SHMBUS_PRODUCER_H
#define SHMBUS_PRODUCER_H

#include <stddef.h>
#include <stdint.h>

#include "bus.h"
#include "event.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct shmbus_producer shmbus_producer;

#define SHMBUS_PRODUCER_NO_TIMESTAMP 0x1u /* leave publish_time_ns as given */

struct shmbus_producer_opts {
	uint32_t source_id; /* identity stamped in events (0: the pid; a
			       second open pid-named producer of the process,
			       a thread each, gets pid + k * 2^22) */
	uint32_t flags;     /* SHMBUS_PRODUCER_* */
	int64_t block_timeout_ns; /* longest wait on a full `block` ring before
				     the consumer's liveness is checked
				     (default 10 ms); never drops */
	/* NULL (default), or a flag the process sets when it is stopping
	 * (its SIGTERM handler's). Once *cancel is non-zero, a wait for room
	 * in a full `block` ring gives up when it has seen that ring's
	 * consumer take nothing for SHMBUS_CANCEL_STALL_NS from then on
	 * (stopped, in a debugger, stuck):
	 * the event is not delivered there and is counted `dropped`, and
	 * later waits on that ring give up at once until its consumer moves.
	 * A consumer still taking events is waited for as before, so a final
	 * flush into a stage that is itself stopping loses nothing. */
	const volatile int *cancel;
};

#define SHMBUS_CANCEL_STALL_NS 1000000000LL /* 1 s */

void shmbus_producer_opts_init(struct shmbus_producer_opts *opts);

/*
 * Make a producer on `bus` (opts may be NULL). Takes a producer counter
 * slot in the bus. Its sequence goes on after the highest seq that a
 * producer of the same source id left in the bus's counter slots (a
 * service restarted with its --source-id), so (source, seq) names one
 * event for as long as the bus lives; a new bus starts at 1. Once every
 * slot has been used, a new source takes first a slot a pid-named source
 * (source_id 0) left, and only then one that holds a named source's last
 * seq (which that source then loses). Two open producers never share a
 * source: an explicit source_id that an open producer of a live process
 * holds is refused with SHMBUS_EBUSY. A process forked with the bus (an
 * anonymous one) produces as itself: its own pid, source and liveness.
 * Returns 0, SHMBUS_EBUSY, -ENOSPC (no free slot), -EROFS, -ENOMEM.
 * Call from the thread that will publish.
 */
int shmbus_producer_open(shmbus_bus *bus, const struct shmbus_producer_opts *opts,
			 shmbus_producer **out);

/* Release the producer and its counter slot (p NULL: nothing). No claim
 * may be open. In a
 * child forked with the producer it frees only the child's copy: the slot
 * and source stay the parent's. */
void shmbus_producer_close(shmbus_producer *p);

/*
 * Claim room for one event of `size` bytes (sizeof the event struct, at
 * least the header) of `type` about `symbol_id`. On return *ev points to
 * writable memory whose header already holds type, size, symbol, source
 * id, the next sequence number and layout version; the caller fills the
 * event time and payload, then calls shmbus_commit(). When no ring
 * matches (or every match dropped it) *ev is a private scratch buffer and
 * commit delivers nothing (nor to a ring whose slot is smaller than size:
 * counted there as too_big). Returns 0, or SHMBUS_ETOOBIG (size above
 * SHMBUS_EVENT_MAX) / -EINVAL (size below the header, bad type), or
 * -EALREADY when a claim is already open (that claim stays open).
 *
 * Between claim and commit the slot is stamped with this process's pid: a
 * consumer that finds it stuck skips it only once this process is dead.
 */
int shmbus_claim(shmbus_producer *p, uint16_t type, uint32_t symbol_id, uint16_t size,
		 void **ev);

/* Publish the claimed event: stamp its publish time and make it visible
 * to its ring, and copy it to every other matching ring. Returns the
 * number of rings it was delivered to (>= 0), or -EINVAL without a claim. */
int shmbus_commit(shmbus_producer *p);

/*
 * Copy one finished event (header.size bytes) into every matching ring.
 * The caller fills type, size, symbol_id, version
 * (SHMBUS_EVENT_LAYOUT_VERSION: publish neither stamps nor checks it),
 * event_time_ns, the payload, and flags (SHMBUS_EVF_*); reserved is zero.
 * If header.seq is 0 the producer assigns its source id and next
 * sequence; otherwise the event keeps its identity (replay, bridges).
 * publish_time_ns is stamped unless SHMBUS_PRODUCER_NO_TIMESTAMP.
 * Returns the number of rings delivered to (>= 0; a ring whose slot is
 * too small counts the event as too_big), or SHMBUS_ETOOBIG (size above
 * SHMBUS_EVENT_MAX) / -EINVAL (size below the header, bad type).
 */
int shmbus_publish(shmbus_producer *p, const void *ev);

/*
 * Publish n finished events (evs: n pointers, each to an event filled as
 * for shmbus_publish(); n <= 65536) as shmbus_publish() would, one
 * after the other, but faster: each ring's share is claimed in runs of up
 * to 32 slots with one atomic operation per run, all events get the same
 * publish time (one clock read), and a sleeping consumer is woken once per
 * ring. Each ring receives its events in array order. For bursts a source
 * already holds together (a feed message with many trades, a replay).
 * Every header is checked first: if one is malformed nothing is published
 * and SHMBUS_ETOOBIG / -EINVAL is returned (shmbus_errmsg() names the
 * index). Otherwise returns the total number of deliveries (events times
 * rings, >= 0).
 */
int shmbus_publish_batch(shmbus_producer *p, const void *const *evs, unsigned n);

/*
 * Announce the event types this producer publishes (SHMBUS_TYPE_BIT()s;
 * a later call replaces them, 0 withdraws). Every ring that takes one of
 * them counts the producer among its feeders (shmbus_ring_stat.producers,
 * shmbus_stat_ring_fed_by()) from now on, before its first event and for
 * rings made later, not only once it delivered there. Announce every type
 * it may publish: `shmbusctl up` stops services upstream first by what
 * they announced (heartbeats aside, see docs/config.md), so that a stage
 * that has not published yet still has its consumers wait for its final
 * flush. Routing does not change.
 * Returns 0, or -EINVAL for a NULL producer or type bit 0 (no such type).
 */
int shmbus_producer_announce(shmbus_producer *p, uint64_t types);

/* Source id and the last sequence number this producer assigned; 0 for
 * p NULL. */
uint32_t shmbus_producer_source(const shmbus_producer *p);
uint64_t shmbus_producer_last_seq(const shmbus_producer *p);

#ifdef __cplusplus
}
#endif
#endif
