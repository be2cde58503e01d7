/*
 * wait.c - sleeping and waking through futexes on shared words.
 *
 * The futexes are not FUTEX_PRIVATE: the words live in shared memory
 * mapped by several processes. A consumer sleeps on its ring's wake_seq
 * only after announcing it in `sleeping`; producers look at `sleeping`
 * after each commit (F1/F2) and make the wake system call only when it is
 * set, so a busy ring never enters the kernel.
 *
 * Producers waiting for room sleep on space_seq after announcing it in
 * prod_waiting (an atomic exchange, a full barrier) and reading the head;
 * the consumer that wakes them clears it, as for `sleeping`. The
 * consumer stores its head and then reads prod_waiting, with no fence
 * between (that is every poll's release): the read may pass the store, and
 * a producer that announced meanwhile sleeps on a ring with room. So a
 * consumer that runs out of events, before it sleeps and at its stuck
 * checks, fences (F3) and looks again: such a producer is then woken
 * within a few microseconds instead of at the end of its nap.
 */
#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "ring.h"

#ifdef SHMBUS_TSAN
_Atomic uint64_t ring_tsan_fence_word;
#endif

int futex_wait_u32(_Atomic uint32_t *addr, uint32_t val, int64_t timeout_ns)
{
	struct timespec ts = {(time_t)(timeout_ns / 1000000000), (long)(timeout_ns % 1000000000)};
	long rc = syscall(SYS_futex, (uint32_t *)addr, FUTEX_WAIT, val,
			  timeout_ns >= 0 ? &ts : NULL, NULL, 0);
	return rc == 0 ? 0 : -errno;
}

void futex_wake_all(_Atomic uint32_t *addr)
{
	syscall(SYS_futex, (uint32_t *)addr, FUTEX_WAKE, INT_MAX, NULL, NULL, 0);
}

void ring_wake_consumer(struct ring_hdr *h)
{
	/* Only the producer that flips `sleeping` makes the system call. */
	if (atomic_exchange_explicit(&h->sleeping, 0, memory_order_acq_rel)) {
		atomic_fetch_add_explicit(&h->wake_seq, 1, memory_order_release);
		futex_wake_all(&h->wake_seq);
		fetch_add_relaxed(&h->wakeups, 1);
	}
}

void ring_wake_producers(struct ring_hdr *h)
{
	/* Only the consumer that clears the flag makes the system call; a
	 * producer still waiting sets it again before its next nap. */
	if (atomic_exchange_explicit(&h->prod_waiting, 0, memory_order_acq_rel)) {
		atomic_fetch_add_explicit(&h->space_seq, 1, memory_order_release);
		futex_wake_all(&h->space_seq);
	}
}

/* A producer waits for room and the ring has some (a consumer holding
 * its slots makes none): wake it. */
static void space_wake_if_room(struct ring_view *v)
{
	struct ring_hdr *h = v->hdr;
	if (load_relaxed(&h->prod_waiting) &&
	    load_relaxed(&h->tail) - load_relaxed(&h->head) < v->capacity)
		ring_wake_producers(h);
}

void ring_space_recheck(struct ring_view *v)
{
	fence_seq_cst(); /* F3: the head stored before, prod_waiting read after */
	space_wake_if_room(v);
}

void ring_sleep(struct ring_view *v, uint64_t head, int64_t timeout_ns)
{
	struct ring_hdr *h = v->hdr;
	uint32_t seq = load_acquire(&h->wake_seq);
	atomic_store_explicit(&h->sleeping, 1, memory_order_seq_cst);
	fence_seq_cst(); /* F2, pairs with F1 in ring_commit(); F3 as well */
	/* A producer waiting for room that the last release missed (see the
	 * top): a consumer about to sleep is its last chance of a wake. */
	space_wake_if_room(v);
	if (!ring_committed(v, head)) {
		counter_bump(&h->sleeps, 1);
		futex_wait_u32(&h->wake_seq, seq, timeout_ns);
	}
	store_relaxed(&h->sleeping, 0);
}
