/*
 * test_names.c - names that reach tool output, and the detail messages of
 * the symbol calls: participant names follow the ring-name rule
 * ([A-Za-z0-9._-]) and a refusal names the byte and its position; the
 * default name (the process name, which any process may set) is cleaned
 * instead of refused; every symbol call leaves shmbus_errmsg() about
 * itself, never about an earlier call.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <sys/prctl.h>

#include "ring/test_util.h"

static void assert_msg_has(const char *what)
{
	if (!strstr(shmbus_errmsg(), what))
		fail_msg("error message \"%s\" does not name \"%s\"", shmbus_errmsg(), what);
}

/* The probe's name: a newline, a forged table row, 0xff, an escape. */
static void test_names_participant_name_refused_with_the_byte(void **state)
{
	(void)state;
	shmbus_bus *bus, *h = NULL;
	assert_int_equal(tu_bus_create("pn", 4, &bus), 0);
	assert_int_equal(
	    shmbus_bus_open("pn", "evil\n  9 fake  \xff\x1b[31m", SHMBUS_ROLE_CLIENT, &h), -EINVAL);
	assert_null(h);
	assert_msg_has("byte 5 (0x0a)");
	assert_null(strchr(shmbus_errmsg(), '\n')); /* the message itself stays clean */
	static const char *const bad[] = {
	    "a b", "\xff", "x\x1b", "q\"uote", "tab\t", "sl/ash", "\xc3\xa9t\xc3\xa9"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		int rc = shmbus_bus_open("pn", bad[i], SHMBUS_ROLE_CLIENT, &h);
		if (rc != -EINVAL)
			fail_msg("participant name #%zu accepted (rc %d)", i, rc);
	}
	assert_int_equal(shmbus_bus_open("pn", "svc-1.ta_B", SHMBUS_ROLE_SERVICE, &h), 0);
	struct shmbus_participant_stat ps;
	assert_true(tu_participant_stat(bus, getpid(), "svc-1.ta_B", &ps) >= 0);
	assert_int_equal(shmbus_bus_close(h), 0);
	/* the creator's name goes through the same rule */
	struct shmbus_bus_opts o;
	tu_bus_opts(&o, 4);
	o.participant_name = "bad name";
	shmbus_bus *other = NULL;
	assert_int_equal(shmbus_bus_create("pn2", &o, &other), -EINVAL);
	assert_msg_has("byte 4 (0x20)");
	assert_int_equal(shmbus_bus_close(bus), 0);
}

struct comm_case {
	const char *comm;
	const char *want;
};

/* In a child: set the process name, attach with the default name and
 * compare what the table holds. */
static int child_default_name(void *arg)
{
	const struct comm_case *c = arg;
	TU_CHILD_CHECK(prctl(PR_SET_NAME, c->comm, 0, 0, 0) == 0);
	shmbus_bus *h;
	int rc = shmbus_bus_open("pn", NULL, SHMBUS_ROLE_CLIENT, &h);
	if (rc) {
		fprintf(stderr, "open: %s (%s)\n", shmbus_strerror(rc), shmbus_errmsg());
		return 1;
	}
	struct shmbus_participant_stat ps;
	int idx = tu_participant_stat(h, getpid(), NULL, &ps);
	TU_CHILD_CHECK(idx >= 0);
	if (strcmp(ps.name, c->want) != 0) {
		fprintf(stderr, "default name '%s', want '%s'\n", ps.name, c->want);
		return 1;
	}
	shmbus_bus_close(h);
	return 0;
}

/* The default name comes from /proc/self/comm, which any process sets:
 * bytes the rule refuses become '_', the attach succeeds. */
static void test_names_default_name_is_cleaned(void **state)
{
	(void)state;
	shmbus_bus *bus;
	assert_int_equal(tu_bus_create("pn", 4, &bus), 0);
	static const struct comm_case cases[] = {
	    {"ok-name.1", "ok-name.1"},
	    {"a b\x1b[1m\xff", "a_b__1m_"},
	    {"\"q\":1", "_q__1"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		int st = tu_run_in_child(child_default_name, (void *)&cases[i], 10000);
		if (!tu_exited_ok(st))
			fail_msg("default name case %zu", i);
	}
	assert_int_equal(shmbus_bus_close(bus), 0);
}

/* A lookup that fails after an intern that failed says why it failed
 * itself: the probe read "symbol table full" after -ENOENT. */
static void test_names_symbol_errmsg_is_never_stale(void **state)
{
	(void)state;
	struct shmbus_bus_opts o;
	tu_bus_opts(&o, 4);
	o.max_symbols = 16;
	shmbus_bus *bus;
	assert_int_equal(shmbus_bus_create(NULL, &o, &bus), 0);
	char name[16];
	for (int i = 0; i < 16; i++) {
		int len = snprintf(name, sizeof name, "S%d", i);
		assert_true(shmbus_symbol_intern(bus, name, (size_t)len) >= 1);
		assert_string_equal(shmbus_errmsg(), "");
	}
	assert_int_equal(shmbus_symbol_intern(bus, "MORE", 4), -ENOSPC);
	assert_msg_has("symbol table full");
	assert_int_equal(shmbus_symbol_lookup(bus, "NOPE", 4), -ENOENT);
	assert_null(strstr(shmbus_errmsg(), "full"));
	assert_msg_has("no symbol 'NOPE'");
	assert_int_equal(shmbus_symbol_intern(bus, "MORE", 4), -ENOSPC);
	assert_true(shmbus_symbol_lookup(bus, "S3", 2) >= 1);
	assert_string_equal(shmbus_errmsg(), "");
	assert_int_equal(shmbus_symbol_lookup(bus, "a b", 3), -EINVAL);
	assert_msg_has("byte 2 (0x20)");
	assert_int_equal(shmbus_symbol_intern(bus, "MORE", 4), -ENOSPC);
	assert_true(shmbus_symbol_intern(bus, "S3", 2) >= 1); /* exists: no room needed */
	assert_string_equal(shmbus_errmsg(), "");

	char buf[SHMBUS_SYMBOL_MAX + 1];
	assert_int_equal(shmbus_symbol_intern(bus, "MORE", 4), -ENOSPC);
	assert_int_equal(shmbus_symbol_name(bus, 0, buf, sizeof buf), -ENOENT);
	assert_msg_has("symbol id 0 is not in 1..16");
	assert_int_equal(shmbus_symbol_intern(bus, "MORE", 4), -ENOSPC);
	int64_t id = shmbus_symbol_lookup(bus, "S10", 3);
	assert_true(id >= 1);
	assert_int_equal(shmbus_symbol_name(bus, (uint32_t)id, buf, 2), -ENOSPC);
	assert_msg_has("buffer of 2");
	assert_int_equal(shmbus_symbol_name(bus, (uint32_t)id, buf, sizeof buf), 3);
	assert_string_equal(shmbus_errmsg(), "");
	assert_int_equal(shmbus_symbol_lookup(NULL, "S1", 2), -EINVAL);
	assert_msg_has("bus is NULL");
	assert_int_equal(shmbus_bus_close(bus), 0);

	/* an id never interned, on a table with room */
	assert_int_equal(tu_bus_create(NULL, 4, &bus), 0);
	assert_int_equal(shmbus_symbol_intern(bus, "a b", 3), -EINVAL);
	assert_int_equal(shmbus_symbol_name(bus, 5, buf, sizeof buf), -ENOENT);
	assert_msg_has("no symbol has id 5");
	assert_int_equal(shmbus_bus_close(bus), 0);
}

/* Bytes a symbol name may not hold are refused and named, never copied
 * into the message: a tool prints it, and an escape or a newline in a
 * caller's name would act on the terminal or forge a log line. */
static void test_names_symbol_refusal_quotes_no_bad_byte(void **state)
{
	(void)state;
	shmbus_bus *bus;
	assert_int_equal(tu_bus_create(NULL, 4, &bus), 0);
	static const struct {
		const char *name;
		const char *says;
	} bad[] = {
	    {"A\x1b[2JB", "byte 2 (0x1b)"},
	    {"SPY\nfake log line", "byte 4 (0x0a)"},
	    {"A\xff", "byte 2 (0xff)"},
	    {"\x1b]0;title\x07XXXXXXXXXXXXXXXXXXXX", "30 bytes, longer than 23"},
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		for (int call = 0; call < 2; call++) {
			size_t len = strlen(bad[i].name);
			int64_t rc = call ? shmbus_symbol_lookup(bus, bad[i].name, len)
			                  : shmbus_symbol_intern(bus, bad[i].name, len);
			assert_int_equal(rc, -EINVAL);
			assert_msg_has(bad[i].says);
			for (const char *m = shmbus_errmsg(); *m; m++)
				if ((unsigned char)*m < 0x20 || (unsigned char)*m >= 0x7f)
					fail_msg("name %zu: message holds byte 0x%02x", i,
					         (unsigned char)*m);
		}
	}
	assert_int_equal(shmbus_bus_close(bus), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    TU_TEST(test_names_participant_name_refused_with_the_byte),
	    TU_TEST(test_names_default_name_is_cleaned),
	    TU_TEST(test_names_symbol_errmsg_is_never_stale),
	    TU_TEST(test_names_symbol_refusal_quotes_no_bad_byte),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
