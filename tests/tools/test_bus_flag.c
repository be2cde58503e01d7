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
	int ring;         /* takes --ring */
};

static const struct tool tools[] = {
    {SHMBUSCTL_BIN, "list", 0},
    {SHMBUS_STAT_BIN, "--once", 0},
#ifdef JOURNALD_BIN
    {JOURNALD_BIN, "--dir /nonexistent-shmbus-dir", 0},
#endif
#ifdef REPLAY_BIN
    {REPLAY_BIN, "--dir /nonexistent-shmbus-dir", 0},
#endif
#ifdef BRIDGE_BIN
    {BRIDGE_BIN, "--nats nats://127.0.0.1:1", 0},
#endif
#ifdef COLLECTOR_BIN
    {COLLECTOR_BIN, "--synthetic", 0},
#endif
#ifdef TA_BIN
    {TA_BIN, "", 0},
#endif
#ifdef THRESHOLD_BIN
    {THRESHOLD_BIN, "", 0},
#endif
#ifdef PIPELINE_BIN
    {PIPELINE_BIN, "--events 10", 0},
#endif
#ifdef DEMO_BIN
    {DEMO_BIN, "--events 10", 0},
#endif
};

/* Run each tool (those that take --ring when `ring`) as `ENV timeout 10
 * BIN FLAG ARGS`: it must exit 2 saying `want` (bounded: a tool that took
 * the name would run on). */
static void each_usage_error(const struct tool *t, size_t n, int ring, const char *env,
                             const char *flag, const char *want)
{
	static char out[8192];
	for (size_t i = 0; i < n; i++) {
		if (ring && !t[i].ring)
			continue;
		int rc = tu_run(out, sizeof(out), "%s timeout 10 %s %s %s 2>&1", env, t[i].bin,
		                flag, t[i].args);
		if (rc != 2 || strstr(out, want) == NULL)
			fail_msg("%s %s %s %s: exit %d, output:\n%s", env, t[i].bin, flag, t[i].args,
			         rc, out);
	}
}

static void test_bus_flag_bad_name_is_a_usage_error(void **state)
{
	(void)state;
	each_usage_error(tools, sizeof(tools) / sizeof(tools[0]), 0, "", "--bus 'a/b'",
	                 "bus name 'a/b': character 2");
}

/* Without --bus every tool that attaches an existing bus by default takes
 * $SHMBUS_BUS (the launcher sets it for its services): shmbusctl, the
 * collector, ta and threshold took "default"; a bad name there is a usage
 * error as on the command line (shmbus-stat exited 1), naming the variable. */
static const struct tool env_tools[] = {
    {SHMBUSCTL_BIN, "info", 0},
    {SHMBUS_STAT_BIN, "--once", 0},
#ifdef JOURNALD_BIN
    {JOURNALD_BIN, "--dir /nonexistent-shmbus-dir", 1},
#endif
#ifdef BRIDGE_BIN
    {BRIDGE_BIN, "--nats nats://127.0.0.1:1", 1},
#endif
#ifdef COLLECTOR_BIN
    {COLLECTOR_BIN, "--synthetic --events 10 --quiet", 0},
#endif
#ifdef TA_BIN
    {TA_BIN, "", 1},
#endif
#ifdef THRESHOLD_BIN
    {THRESHOLD_BIN, "--rules /nonexistent-shmbus-rules", 1},
#endif
};

static void test_bus_flag_environment_names_the_bus(void **state)
{
	(void)state;
	static char out[8192];
	/* named as the variable's: journald and the bridge blamed a --bus
	 * nobody gave */
	each_usage_error(env_tools, sizeof(env_tools) / sizeof(env_tools[0]), 0,
	                 "SHMBUS_BUS='a/b'", "", "SHMBUS_BUS: bus name 'a/b': character 2");
	/* a bus of that name, and no bus "default": found through the variable */
	const char *dir = tu_tmpdir();
	assert_non_null(dir);
	char cfg[256];
	snprintf(cfg, sizeof(cfg), "%s/env.ini", dir);
	assert_int_equal(tu_write(cfg, "[bus]\nname = envbus\narena_mb = 2\n"), 0);
	assert_int_equal(tu_run(out, sizeof(out), "%s create %s", SHMBUSCTL_BIN, cfg), 0);
	assert_int_equal(tu_run(out, sizeof(out), "SHMBUS_BUS=envbus %s info", SHMBUSCTL_BIN), 0);
	assert_non_null(strstr(out, "bus envbus"));
#ifdef COLLECTOR_BIN
	assert_int_equal(tu_run(out, sizeof(out),
	                        "SHMBUS_BUS=envbus %s --synthetic --events 10 --quiet 2>&1",
	                        COLLECTOR_BIN),
	                 0);
#endif
	assert_int_equal(tu_run(out, sizeof(out), "SHMBUS_BUS=envbus %s destroy", SHMBUSCTL_BIN),
	                 0);
	tu_rmdir(dir);
}

/* A bad --ring name is a usage error too, before anything is attached
 * (it failed at subscribe: exit 1, after the bus was opened). */
static void test_bus_flag_bad_ring_name_is_a_usage_error(void **state)
{
	(void)state;
	each_usage_error(env_tools, sizeof(env_tools) / sizeof(env_tools[0]), 1, "",
	                 "--ring 'a b'", "ring name 'a b': character 2");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_bus_flag_bad_name_is_a_usage_error),
	    cmocka_unit_test(test_bus_flag_environment_names_the_bus),
	    cmocka_unit_test(test_bus_flag_bad_ring_name_is_a_usage_error),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
