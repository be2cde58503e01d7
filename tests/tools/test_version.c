/*
 * test_version.c - `PROG --version` in every tool and service: exit 0 and
 * "PROG (shmbus) VERSION" on stdout, VERSION the library's
 * (shmbus_version(), which is SHMBUS_VERSION_STRING); listed in --help;
 * a stdout that cannot take it is a failure (exit 1), not a silent 0.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include <shmbus/shmbus.h>

#include "tool_util.h"

struct prog {
	const char *bin;
	const char *name;
};

static const struct prog progs[] = {
    {SHMBUSCTL_BIN, "shmbusctl"},
    {SHMBUS_STAT_BIN, "shmbus-stat"},
#ifdef JOURNAL_BIN
    {JOURNAL_BIN, "shmbus-journal"},
#endif
#ifdef JOURNALD_BIN
    {JOURNALD_BIN, "shmbus-journald"},
#endif
#ifdef REPLAY_BIN
    {REPLAY_BIN, "shmbus-replay"},
#endif
#ifdef BRIDGE_BIN
    {BRIDGE_BIN, "shmbus-bridge"},
#endif
#ifdef COLLECTOR_BIN
    {COLLECTOR_BIN, "shmbus-collector"},
#endif
#ifdef TA_BIN
    {TA_BIN, "shmbus-ta"},
#endif
#ifdef THRESHOLD_BIN
    {THRESHOLD_BIN, "shmbus-threshold"},
#endif
#ifdef PIPELINE_BIN
    {PIPELINE_BIN, "shmbus-pipeline"},
#endif
#ifdef DEMO_BIN
    {DEMO_BIN, "shmbus-demo"},
#endif
#ifdef BENCH_BIN
    {BENCH_BIN, "shmbus-bench"},
#endif
};

#define NPROGS (sizeof(progs) / sizeof(progs[0]))

static void test_version_library_says_the_headers_version(void **state)
{
	(void)state;
	assert_string_equal(shmbus_version(), SHMBUS_VERSION_STRING);
}

static void test_version_every_tool_prints_it(void **state)
{
	(void)state;
	static char out[4096];
	char want[128];
	for (size_t i = 0; i < NPROGS; i++) {
		/* stdout alone: nothing on stderr, nothing else on stdout */
		int rc = tu_run(out, sizeof(out), "%s --version 2>/dev/null", progs[i].bin);
		snprintf(want, sizeof(want), "%s (shmbus) %s\n", progs[i].name, shmbus_version());
		if (rc != 0 || strcmp(out, want) != 0)
			fail_msg("%s --version: exit %d, output '%s', want '%s'", progs[i].bin, rc,
			         out, want);
		rc = tu_run(out, sizeof(out), "%s --version 2>&1 >/dev/null", progs[i].bin);
		if (rc != 0 || out[0] != '\0')
			fail_msg("%s --version: exit %d, stderr '%s'", progs[i].bin, rc, out);
	}
}

static void test_version_is_in_help(void **state)
{
	(void)state;
	static char out[16384];
	for (size_t i = 0; i < NPROGS; i++) {
		int rc = tu_run(out, sizeof(out), "%s --help 2>&1", progs[i].bin);
		if (rc != 0 || strstr(out, "--version") == NULL)
			fail_msg("%s --help: exit %d, no --version in:\n%s", progs[i].bin, rc, out);
	}
}

static void test_version_full_stdout_fails(void **state)
{
	(void)state;
	static char out[4096];
	if (tu_run(out, sizeof(out), "test -w /dev/full && echo yes") != 0 ||
	    strcmp(out, "yes\n") != 0)
		skip(); /* no /dev/full here */
	for (size_t i = 0; i < NPROGS; i++) {
		int rc = tu_run(out, sizeof(out), "%s --version >/dev/full 2>/dev/null",
		                progs[i].bin);
		if (rc != 1)
			fail_msg("%s --version >/dev/full: exit %d, want 1", progs[i].bin, rc);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_version_library_says_the_headers_version),
	    cmocka_unit_test(test_version_every_tool_prints_it),
	    cmocka_unit_test(test_version_is_in_help),
	    cmocka_unit_test(test_version_full_stdout_fails),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
