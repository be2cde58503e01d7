/*
 * subscribers.c - waiting for consumers before publishing.
 *
 * A ring receives only what is published after it was subscribed, so a
 * publisher whose first events matter (a backtest's feed, a one-shot
 * replay) waits until its consumers are there. This is a poll of the ring
 * directory every millisecond, with no lock: a cold-path call for a
 * program's start, never for the hot path.
 */
#include <errno.h>
#include <time.h>

#include "shmbus/clock.h"
#include "shmbus/consumer.h"
#include "shmbus/error.h"
#include "ring.h"

/* Rings with a live consumer that take a type of `types` (0: any). */
static unsigned rings_listening(shmbus_bus *b, uint64_t types)
{
	unsigned n = 0;
	for (uint32_t i = 0; i < b->max_rings; i++) {
		struct ring_desc *d = &b->rings[i];
		/* A2 pairs with R2: an active entry is built. */
		if (load_acquire(&d->state) != RING_STATE_ACTIVE)
			continue;
		if (types && !(d->types & types))
			continue;
		if (ring_consumer_alive(d))
			n++;
	}
	return n;
}

int shmbus_wait_subscribers(shmbus_bus *b, uint64_t types, unsigned min, int64_t timeout_ns)
{
	bus_err_clear();
	if (!b)
		return bus_err(-EINVAL, "wait for subscribers: bus is NULL");
	if (types & SHMBUS_TYPE_BIT(SHMBUS_EV_INVALID))
		return bus_err(-EINVAL, "wait for subscribers: type 0 is not a type");
	if (min == 0 || min > b->max_rings)
		return bus_err(-EINVAL, "wait for subscribers: %u rings (1..%u, the bus's rings)",
			       min, b->max_rings);
	int64_t deadline = deadline_after(shmbus_mono_ns(), timeout_ns);
	for (;;) {
		unsigned n = rings_listening(b, types);
		if (n >= min) {
			/* A subscribe marks its ring active before it bumps the
			 * routing generation, both under the lock: once the lock
			 * was ours, every ring counted is routed to by the next
			 * publish. */
			if (!b->readonly && bus_lock(b) == 0)
				bus_unlock(b);
			return (int)n;
		}
		if (shmbus_mono_ns() >= deadline)
			return bus_err(-ETIMEDOUT,
				       "bus '%s': %u of the %u rings waited for have a live "
				       "consumer after %lld ms",
				       b->name, n, min, (long long)(timeout_ns / 1000000));
		struct timespec ts = {0, 1000000};
		nanosleep(&ts, NULL);
	}
}
