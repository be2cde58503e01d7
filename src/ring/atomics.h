/*
 * atomics.h - the few memory-ordering helpers the bus uses, named for what
 * they order. Every acquire in src/ring names the release it pairs with
 * (and the reverse) in a comment: "A1 pairs with R1".
 */
#ifndef RING_ATOMICS_H
#define RING_ATOMICS_H

#include <stdatomic.h>
#include <stdint.h>

#define CACHE_LINE 64

#define load_relaxed(p) atomic_load_explicit((p), memory_order_relaxed)
#define load_acquire(p) atomic_load_explicit((p), memory_order_acquire)
#define store_relaxed(p, v) atomic_store_explicit((p), (v), memory_order_relaxed)
#define store_release(p, v) atomic_store_explicit((p), (v), memory_order_release)
#define fetch_add_relaxed(p, v) atomic_fetch_add_explicit((p), (v), memory_order_relaxed)
#define fetch_or_relaxed(p, v) atomic_fetch_or_explicit((p), (v), memory_order_relaxed)
#define fetch_and_relaxed(p, v) atomic_fetch_and_explicit((p), (v), memory_order_relaxed)
#define cas_acq_rel(p, expp, v)                                                                    \
	atomic_compare_exchange_weak_explicit((p), (expp), (v), memory_order_acq_rel,              \
					      memory_order_relaxed)
/* Full barrier: orders a store before a later load (store-load, Dekker).
 * ThreadSanitizer does not model fences, so its builds use a seq_cst
 * read-modify-write on one shared word instead, which it does model. */
#ifdef SHMBUS_TSAN
extern _Atomic uint64_t ring_tsan_fence_word;
#define fence_seq_cst() atomic_fetch_add_explicit(&ring_tsan_fence_word, 0, memory_order_seq_cst)
#else
#define fence_seq_cst() atomic_thread_fence(memory_order_seq_cst)
#endif

/*
 * Single-writer counter bump: a relaxed load and store, no locked RMW.
 * Only for counters with exactly one writing thread (readers elsewhere see
 * a torn-free value because 64-bit aligned accesses are atomic).
 */
#define counter_bump(p, v) store_relaxed((p), load_relaxed(p) + (v))

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	__asm__ __volatile__("yield" ::: "memory");
#else
	__asm__ __volatile__("" ::: "memory");
#endif
}

/* Ask for line p in exclusive state ahead of writing it (x86 PREFETCHW,
 * a no-op hint on CPUs without it; a read prefetch elsewhere). */
static inline void prefetch_write(const void *p)
{
#if defined(__x86_64__)
	__asm__("prefetchw %0" : : "m"(*(const char *)p));
#else
	__builtin_prefetch(p, 1, 3);
#endif
}

#define likely(x) __builtin_expect(!!(x), 1)
#define unlikely(x) __builtin_expect(!!(x), 0)

#endif
