/*
 * batch_util.h - shared set-up of the shmbus_publish_batch() tests
 * (test_batch.c, test_batch_routing.c): a bus with a producer and named
 * symbols, batches of events with their pointer array, a check of one
 * received event against its input, and a consumer thread that drains.
 */
#ifndef SHMBUS_TEST_BATCH_UTIL_H
#define SHMBUS_TEST_BATCH_UTIL_H

#include <pthread.h>
#include <stdatomic.h>

#include "ring/test_util.h"

#define SRC        TU_ENV_SRC           /* the producer's source id */
#define NSYM       12                   /* symbols S1..S12 are used */
#define USER_TYPE  (SHMBUS_EV_USER + 8) /* an application type, any size */
#define INPUT_PT   12345                /* publish_time_ns of every input */
#define ET0        1000                 /* input i has event_time_ns ET0 + i */
#define SLOT64_MAX (64 - 8)             /* event bytes a 64-byte slot holds */

/* A ring of every symbol for `types` (0: all types). */
static inline shmbus_consumer *sub(struct tu_env *e, const char *name, uint32_t capacity,
                                   uint32_t slot, enum shmbus_full_policy policy, uint64_t types)
{
	struct shmbus_sub_opts so;
	tu_sub_opts(&so, capacity, slot, policy);
	so.types = types;
	return tu_env_sub(e, name, &so);
}

static inline struct shmbus_ring_stat ring_stat(const struct tu_env *e, const char *ring)
{
	struct shmbus_ring_stat rs;
	int rc = tu_ring_stat(e->bus, ring, &rs);
	if (rc != 0)
		fail_msg("ring stat %s: %s", ring, shmbus_strerror(rc));
	return rs;
}

static inline int64_t realtime_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* ---- the events of a batch: storage and the pointer array ---- */

struct batch {
	struct tu_rec *ev;
	const void **ptr; /* ptr[i] = &ev[i] */
	unsigned n;
};

static inline void batch_init(struct batch *b, unsigned n)
{
	b->ev = calloc(n ? n : 1, sizeof *b->ev);
	b->ptr = calloc(n ? n : 1, sizeof *b->ptr);
	assert_non_null(b->ev);
	assert_non_null(b->ptr);
	for (unsigned i = 0; i < n; i++)
		b->ptr[i] = &b->ev[i];
	b->n = n;
}

static inline void batch_free(struct batch *b)
{
	free(b->ev);
	free(b->ptr);
}

/* Input i: a trade about sym, price i + 0.5, size 2i (seq 0: assigned). */
static inline void batch_trade(struct batch *b, unsigned i, uint32_t sym)
{
	struct shmbus_trade t = tu_trade(sym, i + 0.5);
	t.size = 2.0 * i;
	t.h.flags = SHMBUS_EVF_SYNTHETIC;
	t.h.event_time_ns = ET0 + (int64_t)i;
	t.h.publish_time_ns = INPUT_PT;
	memset(&b->ev[i], 0, sizeof b->ev[i]);
	memcpy(&b->ev[i], &t, sizeof t);
}

/* Input i: an event of `type` and `size` about sym, payload bytes made
 * from (i, type, offset) so that any misplaced byte shows. */
static inline void batch_event(struct batch *b, unsigned i, uint16_t type, uint32_t sym,
                               uint16_t size)
{
	memset(&b->ev[i], 0, sizeof b->ev[i]);
	tu_event(b->ev[i].bytes, type, sym, size);
	b->ev[i].h.event_time_ns = ET0 + (int64_t)i;
	b->ev[i].h.publish_time_ns = INPUT_PT;
	for (unsigned k = sizeof(struct shmbus_event_header); k < size; k++)
		b->ev[i].bytes[k] = (uint8_t)(i * 7 + k * 13 + type);
}

/* Which input a received event is (by its event time). */
static inline unsigned input_index(const struct tu_rec *r)
{
	return (unsigned)(r->h.event_time_ns - ET0);
}

/*
 * Received event r is input `in` with identity (src, seq): every byte of
 * it but source_id, seq and publish_time_ns is the input's.
 */
static inline void check_event(const struct tu_rec *r, const struct tu_rec *in, uint32_t src,
                               uint64_t seq)
{
	assert_int_equal(r->h.size, in->h.size);
	assert_int_equal(r->h.source_id, src);
	assert_int_equal(r->h.seq, seq);
	struct tu_rec a = *r, b = *in;
	a.h.source_id = b.h.source_id = 0;
	a.h.seq = b.h.seq = 0;
	a.h.publish_time_ns = b.h.publish_time_ns = 0;
	assert_memory_equal(a.bytes, b.bytes, in->h.size);
}

/* ---- a consumer thread that drains into a sink ---- */

struct drain_arg {
	shmbus_consumer *c;
	size_t want;
	struct tu_sink sink;
	atomic_int fail;
};

static inline void *drain_thread(void *arg)
{
	struct drain_arg *d = arg;
	int64_t end = tu_mono_ms() + 60000;
	unsigned round = 0;
	while (d->sink.n + d->sink.overflow < d->want && tu_mono_ms() < end) {
		/* small, varying polls: the ring stays (nearly) full, so the
		 * producer's runs are cut short and it waits for space */
		if (shmbus_poll(d->c, tu_sink_fn, &d->sink, 1 + round++ % 7) == 0) {
			int rc = shmbus_wait(d->c, 10000000);
			TU_THREAD_CHECK(&d->fail, rc == 0 || rc == SHMBUS_ETIMEDOUT);
		}
	}
	TU_THREAD_CHECK(&d->fail, d->sink.n == d->want);
	return NULL;
}

#endif
