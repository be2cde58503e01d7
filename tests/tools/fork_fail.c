/*
 * fork_fail.c - an LD_PRELOAD stand-in for fork() that fails as a host
 * out of processes does (EAGAIN: RLIMIT_NPROC, pid_max, a cgroup's
 * pids.max), for the launcher's tests; an rlimit would not do, since
 * root is above RLIMIT_NPROC. Preload it into the program under test
 * only (not into a shell or `timeout`, which fork themselves).
 */
#include <errno.h>
#include <unistd.h>

pid_t fork(void)
{
	errno = EAGAIN;
	return -1;
}
