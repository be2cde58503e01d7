/*
 * test_journal_bench.c - `shmbus-journal-bench` as a user runs it, with
 * tiny sizes and no fio: a journal folder it cannot write is a clear
 * failure (exit 1, nothing on stdout), not a crash on the results it never
 * measured, and a count that is no number a usage error. Timings are never
 * asserted.
 *
 * The binary comes from CMake (SHMBUS_BENCH_BIN); each test gets its own
 * folder under $TMPDIR.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_test_util.h"

static int tjb_setup(void **state)
{
	return bt_setup(state, "tjb");
}

/* A --dir under a missing folder: no journal opens, the run fails. */
static void test_journal_bench_unwritable_dir_fails_cleanly(void **state)
{
	struct bt_env *e = *state;
	char args[512];

	snprintf(args, sizeof(args), "--dir '%s/missing/journals' --events 100 --no-fio --json",
	         e->dir);
	assert_int_equal(bt_run(e, args), 1);
	assert_string_equal(e->out, "");
}

/* The same run in a folder it can write: one JSON report, exit 0. */
static void test_journal_bench_small_run_reports(void **state)
{
	struct bt_env *e = *state;
	char args[512];

	snprintf(args, sizeof(args), "--dir '%s/journals' --events 100 --no-fio --json", e->dir);
	assert_int_equal(bt_run(e, args), 0);
	assert_non_null(strstr(e->out, "\"results\":[{\"name\":\"none\""));
	assert_non_null(strstr(e->out, "\"name\":\"read (page cache)\""));
	snprintf(args, sizeof(args), "%s/journals", e->dir);
	assert_true(bt_dir_empty(args)); /* every journal it wrote removed */
}

/* A count that is not a whole number is a usage error (exit 2): strtoull
 * alone ran "--events 10M" as 10 events and took "abc" for 0. */
static void test_journal_bench_bad_numbers_exit_2(void **state)
{
	struct bt_env *e = *state;
	static const char *const bad[] = {
	    "--events 10M", "--events abc", "--events 0", "--events 5x", "--fio-mb 1q",
	};
	char args[512];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(args, sizeof(args), "--dir '%s/journals' --no-fio --json %s", e->dir,
		         bad[i]);
		print_message("bad: %s\n", args);
		assert_int_equal(bt_run(e, args), 2);
		assert_string_equal(e->out, "");
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_journal_bench_unwritable_dir_fails_cleanly,
	                                    tjb_setup, bt_teardown),
	    cmocka_unit_test_setup_teardown(test_journal_bench_small_run_reports, tjb_setup,
	                                    bt_teardown),
	    cmocka_unit_test_setup_teardown(test_journal_bench_bad_numbers_exit_2, tjb_setup,
	                                    bt_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
