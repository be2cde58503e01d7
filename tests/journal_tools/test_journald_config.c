/*
 * test_journald_config.c - shmbus-journald --config: the [journal]
 * section of the host's INI config (what `shmbusctl up` gives a service
 * as ${config}) or a flat file of "key = value" lines sets its options;
 * the command line wins over the file; SHMBUS_BUS (the launcher's) names
 * the bus when --bus is absent; a bad key or value names FILE:LINE and
 * exits 2 before anything is attached or written.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "jtt_events.h"

#define JC_N 500

static char jc_ini[200], jc_out[200], jc_err[200];

static void jc_write(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static int jc_has(const char *path, const char *what)
{
	char *s = jtt_slurp(path);
	int found = strstr(s, what) != NULL;
	if (!found)
		print_message("%s: no '%s' in:\n%s\n", path, what, s);
	free(s);
	return found;
}

/* A segment file of bus in dir: 1 when there is one. */
static int jc_has_segment(const char *dir, const char *bus)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int found = 0;
	assert_non_null(d);
	while ((e = readdir(d)) != NULL)
		found |=
		    strncmp(e->d_name, bus, strlen(bus)) == 0 && strstr(e->d_name, ".shj") != NULL;
	closedir(d);
	return found;
}

static void jc_paths(void)
{
	snprintf(jc_ini, sizeof(jc_ini), "%s/host.ini", jtt_shm);
	snprintf(jc_out, sizeof(jc_out), "%s/jd.out", jtt_shm);
	snprintf(jc_err, sizeof(jc_err), "%s/jd.err", jtt_shm);
}

/* The INI file's [journal] sets dir, ring, fsync and stats-json; the other
 * sections are skipped ([bridge] holds a value journald would refuse);
 * --fsync on the command line, given before --config, still wins; with
 * neither --bus nor SHMBUS_BUS the bus is the file's [bus] name, and
 * SHMBUS_BUS (the launcher's) wins over that name. */
static void test_journald_config_ini_section(void **state)
{
	(void)state;
	shmbus_bus *b = jtt_setup();
	char text[2048], stats[200];
	jc_paths();
	snprintf(stats, sizeof(stats), "%s/jd.json", jtt_shm);
	snprintf(text, sizeof(text),
	         "; the host's config, as shmbusctl reads it\n"
	         "[bus]\n"
	         "name = %s\n"
	         "[ring jc.in]\n"
	         "capacity = 1024\n"
	         "slot_size = 256\n"
	         "[journal]\n"
	         "dir = %s\n"
	         "ring = jc.in   ; an inline comment\n"
	         "fsync = batch\n"
	         "flush-ms = 5\n"
	         "stats-json = %s\n"
	         "[bridge]\n"
	         "window = 3\n"
	         "dir = not-journald's\n",
	         jtt_bus, jtt_jdir, stats);
	jc_write(jc_ini, text);
	char *av[] = {JOURNALD_BIN, "--fsync", "none", "--config", jc_ini, NULL};
	setenv("SHMBUS_BUS", "jc-nosuchbus", 1);
	assert_int_equal(jtt_wait(jtt_spawn(av, jc_out, jc_err), 10), 1);
	assert_true(jc_has(jc_err, "jc-nosuchbus"));
	unsetenv("SHMBUS_BUS");
	pid_t jd = jtt_spawn(av, jc_out, jc_err);
	if (jtt_wait_ring(b, "jc.in", jd) != 0) {
		kill(jd, SIGKILL);
		jtt_wait(jd, 10);
		jc_has(jc_err, "(no error)");
		fail_msg("journald did not subscribe ring jc.in");
	}
	shmbus_producer *p;
	struct jtt_gen g;
	struct jtt_rec r;
	assert_int_equal(shmbus_producer_open(b, NULL, &p), 0);
	jtt_gen_init(&g, b, 7);
	for (int i = 0; i < JC_N; i++) {
		jtt_gen_next(&g, &r);
		assert_int_equal(jtt_publish(p, &r), 1);
	}
	assert_int_equal(jtt_wait_drained(b, "jc.in", 20), 0);
	kill(jd, SIGTERM);
	assert_int_equal(jtt_wait(jd, 30), 0);
	shmbus_producer_close(p);
	char want[400];
	snprintf(want, sizeof(want), "journaling ring jc.in of bus %s into %s", jtt_bus, jtt_jdir);
	assert_true(jc_has(jc_out, want));
	assert_true(jc_has(jc_out, "fsync none")); /* the command line's */
	assert_true(jc_has_segment(jtt_jdir, jtt_bus));
	char *st = jtt_slurp(stats);
	assert_int_equal(jtt_json_i64(st, "events"), JC_N);
	free(st);
	jtt_teardown(b);
}

/* --stats-json is JSON whatever DIR is: the directory was printed raw
 * into it, so a '"' or '\' in the path made the file unreadable to a
 * JSON parser. */
static void test_journald_stats_json_escapes_the_dir(void **state)
{
	(void)state;
	shmbus_bus *b = jtt_setup();
	char dir[300], stats[200], want[400];
	jc_paths();
	snprintf(dir, sizeof(dir), "%s/a\"b\\c", jtt_jdir);
	snprintf(stats, sizeof(stats), "%s/jd.json", jtt_shm);
	char *av[] = {JOURNALD_BIN, "--bus", jtt_bus, "--dir", dir, "--stats-json", stats, NULL};
	pid_t jd = jtt_spawn(av, jc_out, jc_err);
	if (jtt_wait_ring(b, "journal", jd) != 0) {
		kill(jd, SIGKILL);
		jtt_wait(jd, 10);
		jc_has(jc_err, "(no error)");
		fail_msg("journald did not subscribe ring journal");
	}
	kill(jd, SIGTERM);
	assert_int_equal(jtt_wait(jd, 30), 0);
	snprintf(want, sizeof(want), "\"dir\":\"%s/a\\\"b\\\\c\",", jtt_jdir);
	assert_true(jc_has(stats, want));
	assert_true(jc_has(stats, "\"running\":false"));
	jtt_teardown(b);
}

/* Lines of @path that hold @what. */
static int jc_count(const char *path, const char *what)
{
	char *s = jtt_slurp(path);
	int n = 0;
	for (const char *p = s; (p = strstr(p, what)) != NULL; p += strlen(what))
		n++;
	free(s);
	return n;
}

/* Wait (at most 10 s) until @path holds @what @n times; 1 when it did. */
static int jc_wait_count(const char *path, const char *what, int n)
{
	for (int i = 0; i < 1000; i++) {
		if (jc_count(path, what) >= n)
			return 1;
		usleep(10000);
	}
	return 0;
}

/* A --stats-json file that cannot be written is said once per failure,
 * not each second (the log filled with the same line while a folder was
 * missing); its recovery is said, and a new failure after it again. */
static void test_journald_stats_json_failure_said_once(void **state)
{
	(void)state;
	static const char failed[] = "writing stats failed";
	shmbus_bus *b = jtt_setup();
	char sub[200], gone[200], stats[260];
	jc_paths();
	snprintf(sub, sizeof(sub), "%s/later", jtt_shm);
	snprintf(gone, sizeof(gone), "%s/gone", jtt_shm);
	snprintf(stats, sizeof(stats), "%s/jd.json", sub);
	char *av[] = {JOURNALD_BIN, "--bus", jtt_bus, "--dir", jtt_jdir, "--stats-json", stats,
	              NULL};
	pid_t jd = jtt_spawn(av, jc_out, jc_err);
	assert_int_equal(jtt_wait_ring(b, "journal", jd), 0);
	assert_true(jc_wait_count(jc_err, failed, 1));
	usleep(2500000); /* two more writes, at least, of a second each */
	assert_int_equal(jc_count(jc_err, failed), 1);
	assert_int_equal(mkdir(sub, 0755), 0);
	assert_true(jc_wait_count(jc_err, "stats written again", 1));
	assert_int_equal(access(stats, F_OK), 0);
	assert_int_equal(rename(sub, gone), 0); /* the folder goes away again */
	assert_true(jc_wait_count(jc_err, failed, 2));
	kill(jd, SIGTERM);
	assert_int_equal(jtt_wait(jd, 30), 0);
	assert_int_equal(jc_count(jc_err, failed), 2); /* the write at exit: same failure */
	jtt_teardown(b);
}

/* A bad key or value names the file and its line and exits 2; so do an
 * INI file without [journal] and a missing bus. */
static void test_journald_config_errors_name_file_and_line(void **state)
{
	(void)state;
	shmbus_bus *b = jtt_setup();
	static const struct {
		const char *text, *want;
		unsigned line; /* 0: the message names the file alone */
	} cases[] = {
	    {"[bus]\nname = x\n[journal]\ndir = /tmp\nsegment_mb = 256\n",
	     "config key 'segment_mb'", 5},
	    {"[journal]\ndir = /tmp\nfsync = interval\n", "--fsync", 3},
	    {"[journal]\n\ncapacity = 1000\n", "--capacity", 3},
	    {"[journal]\ndirect = maybe\n", "--direct", 2},
	    {"[journal]\nhelp = 1\n", "'help': a command-line flag", 2},
	    {"# flat\nring = r\nbogus = 1\n", "config key 'bogus'", 3},
	    {"ring = r\n[journal]\n", "an INI config starts with its first [section]", 2},
	    {"[bus]\nname = x\n[bridge]\nwindow = 8\n", "no [journal] section", 0},
	    /* a bad bus name of the file was blamed on the command line */
	    {"[journal]\nbus = a/b\n", "--bus: bus name 'a/b': character 2", 2},
	};
	char want[300];
	jc_paths();
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		jc_write(jc_ini, cases[i].text);
		char *av[] = {JOURNALD_BIN, "--bus", jtt_bus, "--config", jc_ini, NULL};
		int rc = jtt_wait(jtt_spawn(av, jc_out, jc_err), 10);
		if (cases[i].line)
			snprintf(want, sizeof(want), "(%s:%u)", jc_ini, cases[i].line);
		else
			snprintf(want, sizeof(want), "(%s)", jc_ini);
		if (rc != 2 || !jc_has(jc_err, cases[i].want) || !jc_has(jc_err, want))
			fail_msg("case %zu: exit %d, want 2 with '%s' %s", i, rc, cases[i].want,
			         want);
	}
	/* No bus: neither --bus, nor the file, nor SHMBUS_BUS. */
	unsetenv("SHMBUS_BUS");
	jc_write(jc_ini, "[journal]\ndir = /tmp\n");
	char *av[] = {JOURNALD_BIN, "--config", jc_ini, NULL};
	assert_int_equal(jtt_wait(jtt_spawn(av, jc_out, jc_err), 10), 2);
	assert_true(jc_has(jc_err, "$SHMBUS_BUS"));
	jtt_teardown(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_journald_config_ini_section),
	    cmocka_unit_test(test_journald_config_errors_name_file_and_line),
	    cmocka_unit_test(test_journald_stats_json_escapes_the_dir),
	    cmocka_unit_test(test_journald_stats_json_failure_said_once),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
