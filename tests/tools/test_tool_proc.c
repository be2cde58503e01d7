/*
 * test_tool_proc.c - where a process that will not stop is: each thread's
 * name, state and wait channel, its children, "+N more" past the list,
 * "gone" once it exited, and a short buffer that stays terminated.
 */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tool_proc.h"

static void *idle_thread(void *arg)
{
	(void)arg;
	prctl(PR_SET_NAME, "tp-worker");
	for (;;)
		pause();
	return NULL;
}

/* A process named tp-main with `threads` more threads and one child
 * (tp-kid), all asleep; the pipe says when all are named. */
static pid_t start_sleeper(int threads, pid_t *kid)
{
	int fds[2];
	assert_int_equal(pipe(fds), 0);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		pid_t k = fork();
		if (k == 0) {
			prctl(PR_SET_PDEATHSIG, SIGKILL);
			prctl(PR_SET_NAME, "tp-kid");
			for (;;)
				pause();
		}
		prctl(PR_SET_NAME, "tp-main");
		for (int i = 0; i < threads; i++) {
			pthread_t t;
			if (pthread_create(&t, NULL, idle_thread, NULL) != 0)
				_exit(3);
		}
		usleep(100000); /* the threads and the kid name themselves */
		if (write(fds[1], &k, sizeof(k)) != (ssize_t)sizeof(k))
			_exit(4);
		for (;;)
			pause();
	}
	close(fds[1]);
	assert_int_equal(read(fds[0], kid, sizeof(*kid)), (ssize_t)sizeof(*kid));
	close(fds[0]);
	return pid;
}

static void stop_sleeper(pid_t pid)
{
	kill(pid, SIGKILL);
	assert_int_equal(waitpid(pid, NULL, 0), pid);
}

static unsigned count(const char *s, const char *what)
{
	unsigned n = 0;
	for (const char *p = s; (p = strstr(p, what)) != NULL; p += strlen(what))
		n++;
	return n;
}

/* The description once every thread and the kid sleep in the kernel: tp-main,
 * past its write, may still be on a CPU (R) or not yet in pause() ("-"),
 * longer on a loaded machine. */
static void describe_asleep(pid_t pid, char *buf, size_t size)
{
	for (int i = 0; i < 500; i++) {
		tool_proc_describe(pid, buf, size);
		if (!strstr(buf, "(sleeping) -") && !strstr(buf, " R ("))
			break;
		usleep(10000);
	}
	printf("%s\n", buf);
}

static void test_tool_proc_names_threads_and_children(void **state)
{
	char buf[TOOL_PROC_DESC_MAX], want[64];
	pid_t kid;
	(void)state;
	pid_t pid = start_sleeper(2, &kid);
	describe_asleep(pid, buf, sizeof(buf));
	assert_true(strncmp(buf, "threads: tp-main S (sleeping) ", 30) == 0);
	assert_int_equal(count(buf, "tp-worker S (sleeping) "), 2);
	snprintf(want, sizeof(want), "; children: %d tp-kid S (sleeping) ", (int)kid);
	assert_non_null(strstr(buf, want));
	assert_null(strstr(buf, "more"));
	/* asleep in pause(): a kernel function is named, "-" is for one on a CPU */
	assert_null(strstr(buf, "(sleeping) -"));
	assert_int_equal(count(buf, "pause"), 4);
	stop_sleeper(pid);
	assert_string_equal(tool_proc_describe(pid, buf, sizeof(buf)), "gone");
}

static void test_tool_proc_lists_at_most_eight(void **state)
{
	char buf[TOOL_PROC_DESC_MAX];
	pid_t kid;
	(void)state;
	pid_t pid = start_sleeper(TOOL_PROC_LIST + 3, &kid);
	describe_asleep(pid, buf, sizeof(buf));
	/* 12 threads: 8 named, then the rest counted */
	assert_int_equal(count(buf, " S (sleeping) ") - 1 /* the kid */, TOOL_PROC_LIST);
	assert_non_null(strstr(buf, ", +4 more; children: "));
	stop_sleeper(pid);
}

static void test_tool_proc_short_buffer_stays_terminated(void **state)
{
	char buf[16];
	(void)state;
	memset(buf, 'x', sizeof(buf));
	tool_proc_describe(getpid(), buf, 12);
	assert_int_equal(strlen(buf), 11);
	assert_string_equal(buf, "threads: te");
	assert_int_equal(buf[12], 'x'); /* nothing past n */
	buf[0] = 'x';
	tool_proc_describe(getpid(), buf, 1);
	assert_int_equal(buf[0], '\0');
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_tool_proc_names_threads_and_children),
	    cmocka_unit_test(test_tool_proc_lists_at_most_eight),
	    cmocka_unit_test(test_tool_proc_short_buffer_stays_terminated),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
