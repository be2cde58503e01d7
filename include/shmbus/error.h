/*
 * shmbus/error.h - error codes shared by every shmbus call.
 *
 * Cold-path calls (create, attach, subscribe, parse ...) return 0 or a
 * negative errno-style code (-EINVAL, -ENOENT, ...: include <errno.h> to
 * compare, shmbus.h does not); when they fail they may leave a sentence
 * naming what and where in a thread-local buffer read by shmbus_errmsg().
 * Hot-path calls (claim, commit, publish, poll) return the small SHMBUS_*
 * codes below and never format anything.
 */
#ifndef SHMBUS_ERROR_H
#define SHMBUS_ERROR_H

#ifdef __cplusplus
extern "C" {
#endif

/* shmbus-specific codes, below every errno value. */
#define SHMBUS_EBADMAGIC (-4001)  /* not a shmbus segment */
#define SHMBUS_EVERSION (-4002)   /* ABI version differs */
#define SHMBUS_ELAYOUT (-4003)    /* layout hash differs */
#define SHMBUS_ECORRUPT (-4004)   /* an offset or count is out of bounds */
#define SHMBUS_ETIMEDOUT (-4005)  /* a wait ended without an event */
#define SHMBUS_EFULL (-4006)      /* reserved: no call returns it; a full
				     `drop` ring counts the event as dropped
				     and publish returns its deliveries */
#define SHMBUS_ETOOBIG (-4007)    /* event larger than SHMBUS_EVENT_MAX; one
				     merely larger than a matching ring's slot
				     is counted there (too_big), not returned */
#define SHMBUS_EDEAD (-4008)      /* reserved: no call returns it */
#define SHMBUS_EBUSY (-4009)      /* ring already has a live consumer, or
				     source id held by an open producer */

/* A sentence describing any code returned by shmbus: the negative value
 * itself (-ENOENT, SHMBUS_EBUSY); 0 is "success". */
const char *shmbus_strerror(int code);

/* The detail message of the last failed cold-path call of this thread, or
 * "" when there is none. Read it right after the call that failed: a
 * later call may clear it (most cold-path calls do as they start) or leave
 * a stale one (successful hot-path calls and shmbus_bus_close() do).
 * Valid until the thread's next shmbus call. */
const char *shmbus_errmsg(void);

#ifdef __cplusplus
}
#endif
#endif
