/*
 * test_counters.c - named per-participant counters (journal, bridge ...)
 * as shmbus-stat reads them: defined and set by one process, read by
 * another through a read-only handle; bad names refused; a reused
 * participant entry starts without the previous owner's counters.
 */
#include <errno.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "test_util.h"

static int find_part(const shmbus_bus *bus, int32_t pid, const char *name)
{
	struct shmbus_participant_stat ps;
	int idx = tu_participant_stat(bus, pid, name, &ps);
	return idx;
}

static void test_counters_define_set_read(void **state)
{
	shmbus_bus *bus, *ro;
	assert_int_equal(tu_bus_create("ctr", 1, &bus), 0);
	static const char *const names[] = {"events", "bytes", "last_durable_seq"};
	assert_int_equal(shmbus_counters_define(bus, names, 3), 0);
	shmbus_counter_set(bus, 0, 42);
	shmbus_counter_set(bus, 2, UINT64_C(1) << 40);
	shmbus_counter_set(bus, 99, 7); /* ignored */
	assert_int_equal(shmbus_bus_open_readonly("ctr", &ro), 0);
	int idx = find_part(ro, getpid(), NULL);
	assert_true(idx >= 0);
	struct shmbus_counter c[SHMBUS_MAX_COUNTERS];
	assert_int_equal(shmbus_stat_counters(ro, (uint32_t)idx, c, SHMBUS_MAX_COUNTERS), 3);
	assert_string_equal(c[0].name, "events");
	assert_int_equal(c[0].value, 42);
	assert_string_equal(c[1].name, "bytes");
	assert_int_equal(c[1].value, 0);
	assert_string_equal(c[2].name, "last_durable_seq");
	assert_int_equal(c[2].value, UINT64_C(1) << 40);
	/* a short buffer still reports how many there are */
	assert_int_equal(shmbus_stat_counters(ro, (uint32_t)idx, c, 1), 3);
	assert_int_equal(shmbus_counters_define(ro, names, 1), -EROFS);
	assert_int_equal(shmbus_stat_counters(ro, 100000, c, 1), -ERANGE);
	shmbus_bus_close(ro);
	shmbus_bus_close(bus);
	shmbus_bus_destroy("ctr");
}

static void test_counters_bad_names(void **state)
{
	shmbus_bus *bus;
	assert_int_equal(tu_bus_create("ctrbad", 1, &bus), 0);
	const char *bad[][1] = {{""}, {"Upper"}, {"has space"}, {"a_name_that_is_far_too_long_x"}};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(shmbus_counters_define(bus, bad[i], 1), -EINVAL);
		assert_true(strlen(shmbus_errmsg()) > 0);
	}
	const char *many[SHMBUS_MAX_COUNTERS + 1];
	for (int i = 0; i <= SHMBUS_MAX_COUNTERS; i++)
		many[i] = "x";
	assert_int_equal(shmbus_counters_define(bus, many, SHMBUS_MAX_COUNTERS + 1), -EINVAL);
	static const char *const sixteen[SHMBUS_MAX_COUNTERS] = {
	    "a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k", "l", "m", "n", "o", "p"};
	assert_int_equal(shmbus_counters_define(bus, sixteen, SHMBUS_MAX_COUNTERS), 0);
	/* a name twice: a duplicate JSON key and Prometheus series in stat */
	static const char *const twice[] = {"events", "bytes", "events"};
	assert_int_equal(shmbus_counters_define(bus, twice, 3), -EINVAL);
	assert_non_null(strstr(shmbus_errmsg(), "'events' given twice (1 and 3)"));
	struct shmbus_counter c[SHMBUS_MAX_COUNTERS];
	int idx = find_part(bus, getpid(), NULL);
	assert_true(idx >= 0);
	/* refused: the earlier definition stands */
	assert_int_equal(shmbus_stat_counters(bus, (uint32_t)idx, c, SHMBUS_MAX_COUNTERS),
	                 SHMBUS_MAX_COUNTERS);
	assert_string_equal(c[15].name, "p");
	shmbus_bus_close(bus);
	shmbus_bus_destroy("ctrbad");
}

/* A child process defines counters; the parent sees them while the child
 * lives, and an entry reused after the child is gone has none. */
static void test_counters_cross_process_and_reuse(void **state)
{
	shmbus_bus *bus;
	struct shmbus_bus_opts o;
	tu_bus_opts(&o, 1);
	o.max_participants = 2; /* creator + one: the child's entry is reused */
	assert_int_equal(shmbus_bus_create("ctrx", &o, &bus), 0);
	int go[2], done[2];
	assert_int_equal(pipe(go), 0);
	assert_int_equal(pipe(done), 0);
	pid_t pid = fork();
	if (pid == 0) {
		shmbus_bus *cb;
		static const char *const names[] = {"acked", "reconnects"};
		TU_CHILD_CHECK(shmbus_bus_open("ctrx", "bridge", SHMBUS_ROLE_SERVICE, &cb) == 0);
		TU_CHILD_CHECK(shmbus_counters_define(cb, names, 2) == 0);
		shmbus_counter_set(cb, 0, 1000);
		shmbus_counter_set(cb, 1, 3);
		char x = 1;
		TU_CHILD_CHECK(write(done[1], &x, 1) == 1);
		TU_CHILD_CHECK(read(go[0], &x, 1) == 1);
		_exit(0); /* dies without closing its handle */
	}
	char x;
	assert_int_equal(tu_read_all(done[0], &x, 1, 10000), 0);
	int idx = find_part(bus, pid, "bridge");
	assert_true(idx >= 0);
	struct shmbus_counter c[4];
	assert_int_equal(shmbus_stat_counters(bus, (uint32_t)idx, c, 4), 2);
	assert_string_equal(c[0].name, "acked");
	assert_int_equal(c[0].value, 1000);
	assert_int_equal(c[1].value, 3);
	assert_int_equal(write(go[1], &x, 1), 1);
	int status;
	assert_int_equal(tu_wait_child(pid, 10000, &status), 0);
	shmbus_bus *again;
	assert_int_equal(shmbus_bus_open("ctrx", "other", SHMBUS_ROLE_CLIENT, &again), 0);
	int idx2 = find_part(bus, getpid(), "other");
	assert_int_equal(idx2, idx);
	assert_int_equal(shmbus_stat_counters(bus, (uint32_t)idx2, c, 4), 0);
	shmbus_bus_close(again);
	shmbus_bus_close(bus);
	shmbus_bus_destroy("ctrx");
}

/* A child forked with the handle is not the participant: its define or
 * set wrote its parent's entry (another participant's, once the parent
 * died and its entry was taken). */
static void test_counters_forked_child_writes_nothing(void **state)
{
	(void)state;
	shmbus_bus *bus, *ro;
	assert_int_equal(tu_bus_create("ctrfork", 1, &bus), 0);
	static const char *const names[] = {"events"};
	assert_int_equal(shmbus_counters_define(bus, names, 1), 0);
	shmbus_counter_set(bus, 0, 5);
	fflush(NULL);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		static const char *const other[] = {"child_a", "child_b"};
		TU_CHILD_CHECK(shmbus_counters_define(bus, other, 2) == -EPERM);
		shmbus_counter_set(bus, 0, 99);
		_exit(0);
	}
	int st;
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(tu_exited_ok(st));
	assert_int_equal(shmbus_bus_open_readonly("ctrfork", &ro), 0);
	int idx = find_part(ro, getpid(), NULL);
	assert_true(idx >= 0);
	struct shmbus_counter c[SHMBUS_MAX_COUNTERS];
	assert_int_equal(shmbus_stat_counters(ro, (uint32_t)idx, c, SHMBUS_MAX_COUNTERS), 1);
	assert_string_equal(c[0].name, "events");
	assert_int_equal(c[0].value, 5);
	shmbus_bus_close(ro);
	shmbus_bus_close(bus);
	shmbus_bus_destroy("ctrfork");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		TU_TEST(test_counters_define_set_read),
		TU_TEST(test_counters_bad_names),
		TU_TEST(test_counters_cross_process_and_reuse),
		TU_TEST(test_counters_forked_child_writes_nothing),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
