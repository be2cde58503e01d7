/*
 * test_ta_config.c - shmbus-ta's --config file and list options, run as a
 * process (TA_BIN). A config that parses goes on to attach the bus, absent
 * here: exit 1 ("attaching"); a bad one is a usage error, exit 2, naming the
 * file and the line. Covers what fgets(256) and strtok used to get wrong: a
 * long comment whose tail was read as a setting (at the wrong line), empty
 * list items skipped, a NUL byte ending the line early, and a directory
 * read as an empty config, and bar lengths over 65535 ms (minute bars and
 * longer) refused as if they were 16-bit indicator periods.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static char g_dir[64];

static const char *path_of(const char *name)
{
	static char bufs[4][128];
	static int k;
	char *b = bufs[k++ % 4];

	snprintf(b, 128, "%s/%s", g_dir, name);
	return b;
}

/* Write n bytes (NULs allowed) to name in the work folder; its path. */
static const char *put(const char *name, const char *text, size_t n)
{
	const char *p = path_of(name);
	FILE *f = fopen(p, "wb");

	assert_non_null(f);
	assert_int_equal(fwrite(text, 1, n, f), n);
	assert_int_equal(fclose(f), 0);
	return p;
}

/* Run shmbus-ta with argv[1..] (NULL-terminated); exit status, stderr in
 * *err (malloc'd). */
static int run_ta(const char *const *args, char **err)
{
	const char *errpath = path_of("stderr");
	char *argv[16] = {TA_BIN};
	int st, n = 1;

	for (; args[n - 1] && n < 15; n++)
		argv[n] = (char *)args[n - 1];
	argv[n] = NULL;
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		int fd = open(errpath, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		if (fd < 0 || dup2(fd, 2) < 0 || !freopen("/dev/null", "w", stdout))
			_exit(126);
		execv(argv[0], argv);
		_exit(127);
	}
	assert_int_equal(waitpid(pid, &st, 0), pid);
	FILE *f = fopen(errpath, "r");
	assert_non_null(f);
	*err = calloc(1, 8192);
	assert_non_null(*err);
	size_t k = fread(*err, 1, 8191, f);
	(*err)[k] = '\0';
	fclose(f);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* --config path must be refused (exit 2) with every `want` in the message. */
static void expect_bad(const char *path, const char *want1, const char *want2)
{
	const char *args[] = {"--bus", "ta-cfg-none", "--config", path, NULL};
	char *err;
	int rc = run_ta(args, &err);

	if (rc != 2 || !strstr(err, want1) || (want2 && !strstr(err, want2)))
		fail_msg("%s: exit %d (want 2 naming '%s' '%s'): %s", path, rc, want1,
		         want2 ? want2 : "", err);
	free(err);
}

/* --config path must parse: the run goes on to attach the (absent) bus. */
static void expect_ok(const char *path)
{
	const char *args[] = {"--bus", "ta-cfg-none", "--config", path, NULL};
	char *err;
	int rc = run_ta(args, &err);

	if (rc != 1 || !strstr(err, "attaching"))
		fail_msg("%s: exit %d (want 1 at attaching the bus): %s", path, rc, err);
	free(err);
}

static int setup(void **state)
{
	(void)state;
	snprintf(g_dir, sizeof(g_dir), "/tmp/shmbus-ta-cfg-XXXXXX");
	if (!mkdtemp(g_dir))
		return -1;
	setenv("SHMBUS_DIR", g_dir, 1); /* no bus there */
	return 0;
}

static int teardown(void **state)
{
	const char *names[] = {"stderr", "a.conf", "b.conf", "c.conf", "d.conf", "e.conf", "f.conf",
	                       "g.conf", "h.conf", "i.conf", "j.conf", "k.conf", "l.conf"};

	(void)state;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		unlink(path_of(names[i]));
	rmdir(path_of("sub"));
	rmdir(g_dir);
	return 0;
}

/* A comment longer than the old 256-byte buffer is one line: its tail is
 * not a setting, and a bad line after it is named at its own line. */
static void test_ta_config_long_comment_is_one_line(void **state)
{
	char text[1200];

	(void)state;
	memset(text, 0, sizeof(text));
	text[0] = '#';
	memset(text + 1, 'x', 300);
	strcat(text, "sma=0\nsma=20\n"); /* "sma=0" is inside the comment */
	expect_ok(put("a.conf", text, strlen(text)));
	strcat(text, "ema=0\n");
	expect_bad(put("b.conf", text, strlen(text)), "b.conf:3:", "ema");
	/* Lines are capped, and the error names the line. */
	char *big = malloc(5000);
	assert_non_null(big);
	memset(big, 'z', 5000);
	memcpy(big, "sma=20\n#", 8);
	big[4999] = '\n';
	expect_bad(put("c.conf", big, 5000), "c.conf:2:", "longer than 4096");
	free(big);
}

/* Empty items and trailing commas are errors, not fewer items. */
static void test_ta_config_rejects_empty_list_items(void **state)
{
	static const char *const bad[] = {"macd=12,,26,9\n", "macd=12,26,9,\n", "bb=20,,2\n",
	                                  "bb=,20,2\n",      "sma=\n",          "macd=12,26,,9\n"};
	char *err;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		expect_bad(put("d.conf", bad[i], strlen(bad[i])), "d.conf:1:", "bad value");
	const char *good = "macd = 12,26,9\nbb=20,2 # comment\n";
	expect_ok(put("e.conf", good, strlen(good)));
	const char *args[] = {"--bus", "ta-cfg-none", "--macd", "12,,26,9", NULL};
	assert_int_equal(run_ta(args, &err), 2);
	assert_non_null(strstr(err, "--macd"));
	free(err);
}

/* A NUL or another control byte in a line is an error naming the line
 * (it used to end the line early: "sma=5\0garbage" read as sma=5). */
static void test_ta_config_rejects_control_bytes(void **state)
{
	(void)state;
	expect_bad(put("f.conf", "sma=5\0garbage\n", 14), "f.conf:1:", "0x00");
	expect_bad(put("g.conf", "# ok\nema=5\x01\n", 12), "g.conf:2:", "0x01");
	expect_ok(put("h.conf", "sma=5\r\nema=6\t\r\n", 15)); /* CRLF and a tab are fine */
}

/* A directory (or anything but a regular file) is refused, not read as an
 * empty config; a missing file names the path. */
static void test_ta_config_requires_regular_file(void **state)
{
	(void)state;
	assert_int_equal(mkdir(path_of("sub"), 0700), 0);
	expect_bad(path_of("sub"), "not a regular file", "sub");
	expect_bad(path_of("missing.conf"), "missing.conf", NULL);
	expect_ok(put("i.conf", "", 0));
}

/* A bar length is not a 16-bit parameter: 5-minute, hourly and daily bars
 * (up to TA_BAR_MAX_INTERVAL_MS, one day) are accepted, in the file and as
 * a flag; 0 and more than a day are usage errors. */
static void test_ta_config_accepts_intervals_up_to_a_day(void **state)
{
	static const char *const ok[] = {"300000", "3600000", "86400000"};
	char *err;

	(void)state;
	expect_ok(put("k.conf", "interval_ms=86400000\n", 21));
	expect_ok(put("k.conf", "interval_ms = 300000 # 5-minute bars\n", 37));
	expect_bad(put("l.conf", "interval_ms=86400001\n", 21), "l.conf:1:", "interval_ms");
	expect_bad(put("l.conf", "interval_ms=0\n", 14), "l.conf:1:", "bad value");
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		const char *args[] = {"--bus", "ta-cfg-none", "--interval-ms", ok[i], NULL};
		int rc = run_ta(args, &err);
		if (rc != 1 || !strstr(err, "attaching"))
			fail_msg("--interval-ms %s: exit %d (want 1 at attaching): %s", ok[i], rc,
			         err);
		free(err);
	}
	const char *bad[] = {"--bus", "ta-cfg-none", "--interval-ms", "86400001", NULL};
	assert_int_equal(run_ta(bad, &err), 2);
	assert_non_null(strstr(err, "--interval-ms"));
	free(err);
}

/* The session of the VWAP: HH:MM and an installed tzdata zone, from the
 * config file and the flags; anything else is a usage error naming it. */
static void test_ta_config_session(void **state)
{
	char *err;

	(void)state;
	expect_ok(put("s.conf", "session_start=09:30\nsession_tz=America/New_York\n", 48));
	expect_bad(put("t.conf", "session_start=9:30\n", 19), "t.conf:1:", "session_start");
	expect_bad(put("t.conf", "session_tz=Mars/Base\n", 21), "t.conf:1:", "tzdata zone");
	const char *ok[] = {"--bus", "ta-cfg-none", "--session-start", "16:00", "--session-tz",
	                    "UTC", NULL};
	int rc = run_ta(ok, &err);
	if (rc != 1 || !strstr(err, "attaching"))
		fail_msg("--session-start 16:00 --session-tz UTC: exit %d (want 1 at attaching): %s",
		         rc, err);
	free(err);
	const char *bad[] = {"--bus", "ta-cfg-none", "--session-tz", "../../etc/passwd", NULL};
	assert_int_equal(run_ta(bad, &err), 2);
	assert_non_null(strstr(err, "--session-tz"));
	free(err);
}

/* A --stats-json file that cannot be written is a usage error at start
 * (exit 2, naming it), as an unreadable --config is: it was found only at
 * exit, after the whole run, as a warning with exit 0. */
static void test_ta_config_stats_json_checked_first(void **state)
{
	char *err;

	(void)state;
	const char *bad[] = {path_of("missing/ta.json"), g_dir};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		const char *args[] = {"--bus", "ta-cfg-none", "--stats-json", bad[i], NULL};
		int rc = run_ta(args, &err);
		if (rc != 2 || !strstr(err, "--stats-json") || !strstr(err, bad[i]))
			fail_msg("--stats-json %s: exit %d (want 2 naming it): %s", bad[i], rc, err);
		free(err);
	}
	const char *ok[] = {"--bus", "ta-cfg-none", "--stats-json", path_of("ta.json"), NULL};
	assert_int_equal(run_ta(ok, &err), 1); /* on to attaching the (absent) bus */
	assert_non_null(strstr(err, "attaching"));
	free(err);
	assert_int_equal(access(path_of("ta.json.tmp"), F_OK), -1); /* the probe is gone */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_ta_config_long_comment_is_one_line),
	    cmocka_unit_test(test_ta_config_rejects_empty_list_items),
	    cmocka_unit_test(test_ta_config_rejects_control_bytes),
	    cmocka_unit_test(test_ta_config_requires_regular_file),
	    cmocka_unit_test(test_ta_config_accepts_intervals_up_to_a_day),
	    cmocka_unit_test(test_ta_config_session),
	    cmocka_unit_test(test_ta_config_stats_json_checked_first),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
