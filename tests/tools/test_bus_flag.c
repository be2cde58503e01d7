/*
 * test_bus_flag.c - every tool that attaches a bus treats a bad --bus name
 * as a usage error: exit 2 and a message naming the bad character, before
 * anything is attached, created or written (README: "2 on a usage error,
 * a bad --bus name included"). Most of them once tried to attach and
 * exited 1. Each tool's other required options are given, so the name is
 * the only thing wrong.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "tool_util.h"

struct tool {
	const char *bin;
	const char *args; /* the rest of a valid command line */
};

static const struct tool tools[] = {
    {SHMBUSCTL_BIN, "list"},
    {SHMBUS_STAT_BIN, "--once"},
#ifdef JOURNALD_BIN
    {JOURNALD_BIN, "--dir /nonexistent-shmbus-dir"},
#endif
#ifdef REPLAY_BIN
    {REPLAY_BIN, "--dir /nonexistent-shmbus-dir"},
#endif
#ifdef BRIDGE_BIN
    {BRIDGE_BIN, "--nats nats://127.0.0.1:1"},
#endif
#ifdef COLLECTOR_BIN
    {COLLECTOR_BIN, "--synthetic"},
#endif
#ifdef TA_BIN
    {TA_BIN, ""},
#endif
#ifdef THRESHOLD_BIN
    {THRESHOLD_BIN, ""},
#endif
#ifdef PIPELINE_BIN
    {PIPELINE_BIN, "--events 10"},
#endif
#ifdef DEMO_BIN
    {DEMO_BIN, "--events 10"},
#endif
};

static void test_bus_flag_bad_name_is_a_usage_error(void **state)
{
	(void)state;
	static char out[8192];
	for (size_t i = 0; i < sizeof(tools) / sizeof(tools[0]); i++) {
		int rc = tu_run(out, sizeof(out), "%s --bus 'a/b' %s 2>&1", tools[i].bin,
		                tools[i].args);
		if (rc != 2 || strstr(out, "bus name 'a/b': character 2") == NULL)
			fail_msg("%s --bus a/b %s: exit %d, output:\n%s", tools[i].bin, tools[i].args,
			         rc, out);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_bus_flag_bad_name_is_a_usage_error),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
