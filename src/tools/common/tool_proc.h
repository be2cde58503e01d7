/*
 * tool_proc.h - where a process that will not stop is.
 *
 * The launcher and the pipeline SIGKILL a service that outlives its stop
 * grace. A bare "killed by signal 9" says nothing of why it did not stop:
 * a shutdown flush waiting on the disk, a lock, a debugger, a sanitizer's
 * exit-time check. Before that SIGKILL they name, from /proc, each thread
 * of it with its scheduler state and the kernel function it waits in
 * (wchan), and its children (a sanitizer's tracer is one).
 *
 * And how a tool or service is asked to stop: tool_stop_signals().
 */
#ifndef SHMBUS_TOOL_PROC_H
#define SHMBUS_TOOL_PROC_H

#include <stddef.h>
#include <sys/types.h>

/*
 * Write into buf (n bytes, always terminated) a one-line description of
 * process pid: "threads: NAME STATE WCHAN, ...; children: PID NAME STATE
 * WCHAN, ..." where STATE is the state word of /proc (e.g. "S (sleeping)",
 * "t (tracing stop)") and WCHAN is "-" for a thread on a CPU. At most
 * TOOL_PROC_LIST threads and as many children are named, then "+N more".
 * A process /proc no longer has reads "gone". Returns buf.
 */
#define TOOL_PROC_LIST     8
#define TOOL_PROC_DESC_MAX 640 /* room for a description: 8 threads, 8 children */
const char *tool_proc_describe(pid_t pid, char *buf, size_t n);

/*
 * SIGTERM and SIGINT call on_stop (a handler that sets a flag; system calls
 * it interrupts fail with EINTR, no SA_RESTART), SIGPIPE is ignored (a
 * closed pipe or socket is an error return), and SIGTERM and SIGINT are
 * unblocked: a mask inherited through exec from a parent that blocked them
 * would keep a stop pending for ever, and the launcher's SIGKILL after the
 * grace would lose the final flush and stats. Returns 0 or -errno.
 */
int tool_stop_signals(void (*on_stop)(int));

#endif
