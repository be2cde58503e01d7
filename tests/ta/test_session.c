/*
 * test_session.c - trading sessions of the session VWAP (ta_session.c):
 * HH:MM parsing, zone names checked against tzdata, and the session of a
 * time by the local clock, across a DST change.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "test_fs.h"
#include "ta_session.h"

#define NS INT64_C(1000000000)

/* Day number of a UTC date. */
static int64_t day_of(int y, int m, int d)
{
	/* days from civil (Howard Hinnant's algorithm) */
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	int64_t yoe = y - era * 400;
	int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

/* Seconds of a UTC date and time. */
static int64_t at(int y, int mo, int d, int h, int mi, int s)
{
	return ((day_of(y, mo, d) * 24 + h) * 60 + mi) * 60 + s;
}

static void test_session_parse_start(void **state)
{
	int m = -1;

	(void)state;
	assert_int_equal(ta_session_parse_start("09:30", &m), 0);
	assert_int_equal(m, 570);
	assert_int_equal(ta_session_parse_start("00:00", &m), 0);
	assert_int_equal(m, 0);
	assert_int_equal(ta_session_parse_start("23:59", &m), 0);
	assert_int_equal(m, 1439);
	const char *bad[] = {"24:00", "9:30", "09:60", "09:3", "09:30x", "0930", "", "-1:00",
	                     "ab:cd", "09 30", "+9:30"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (ta_session_parse_start(bad[i], &m) != -EINVAL)
			fail_msg("'%s' taken for a session start", bad[i]);
	assert_int_equal(ta_session_parse_start(NULL, &m), -EINVAL);
}

static void test_session_zones(void **state)
{
	(void)state;
	assert_int_equal(ta_session_set_zone("UTC"), 0);
	assert_int_equal(ta_session_set_zone(""), -EINVAL);
	assert_int_equal(ta_session_set_zone("../etc/passwd"), -EINVAL);
	assert_int_equal(ta_session_set_zone("/etc/localtime"), -EINVAL);
	assert_int_equal(ta_session_set_zone("Europe/Lon don"), -EINVAL);
	assert_int_equal(ta_session_set_zone("Mars/Olympus_Mons"), -ENOENT);
	/* names under the zone folder that are no zone files: a folder, a
	 * text table (the C library would take them for UTC) */
	assert_int_equal(ta_session_set_zone("America"), -ENOENT);
	assert_int_equal(ta_session_set_zone("leapseconds"), -ENOENT);
	assert_int_equal(ta_session_set_zone("zone.tab"), -EINVAL); /* no dots in a zone name */
	assert_int_equal(ta_session_set_zone(NULL), -EINVAL);
}

/* Write the first @len bytes of @data (then @tail, if any) to dir/name. */
static void put_zone(const char *dir, const char *name, const char *data, size_t len,
                     const char *tail)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	assert_non_null(f = fopen(path, "wb"));
	assert_int_equal(fwrite(data, 1, len, f), len);
	if (tail)
		fputs(tail, f);
	assert_int_equal(fclose(f), 0);
}

static char tz_dir[] = "/tmp/shmbus-tzdir-XXXXXX";
static int tz_dir_made;

/* Undo test_session_zone_file_cut_short's TZDIR and files, also when it
 * failed half-way. */
static int tz_dir_teardown(void **state)
{
	(void)state;
	unsetenv("TZDIR");
	ta_session_set_zone("UTC");
	if (tz_dir_made)
		tfs_rm_rf(tz_dir);
	return 0;
}

/*
 * A zone file cut short starts with "TZif" all the same, and the C library
 * takes it for UTC without a word: New York's 09:30 would be 09:30 UTC. A
 * zone file is taken only whole (headers, data blocks, the footer of a
 * version 2+ file); the whole copy of the same file still is.
 */
static void test_session_zone_file_cut_short(void **state)
{
	const char *src = "/usr/share/zoneinfo/America/New_York";
	const char *dir = tz_dir;
	struct stat st;
	size_t n, foot;
	char *ny;

	(void)state;
	if (stat(src, &st) != 0 || !(ny = tfs_slurp(src)))
		fail_msg("America/New_York is not installed: tzdata is missing "
		         "(scripts/install-deps.sh installs it)");
	n = (size_t)st.st_size;
	assert_true(n > 200 && memcmp(ny, "TZif2", 5) == 0 && ny[n - 1] == '\n');
	for (foot = n - 1; foot > 0 && ny[foot - 1] != '\n'; foot--)
		;
	assert_true(foot > n / 2); /* the footer is "\nTZ-string\n" */
	assert_non_null(mkdtemp(tz_dir));
	tz_dir_made = 1;
	put_zone(dir, "Whole", ny, n, NULL);
	put_zone(dir, "Header", ny, 30, NULL);         /* inside the first header */
	put_zone(dir, "Half", ny, n / 2, NULL);        /* inside the data */
	put_zone(dir, "NoFooter", ny, foot - 1, NULL); /* data whole, footer gone */
	put_zone(dir, "Junk", ny, 4, "2 this is no zone at all, just some text\n");
	setenv("TZDIR", dir, 1);
	assert_int_equal(ta_session_set_zone("Whole"), 0);
	assert_int_equal(ta_session_day(570, at(2013, 10, 8, 13, 30, 0) * NS), day_of(2013, 10, 8));
	assert_int_equal(ta_session_day(570, at(2013, 10, 8, 13, 29, 0) * NS), day_of(2013, 10, 7));
	assert_int_equal(ta_session_set_zone("Header"), -ENOENT);
	assert_int_equal(ta_session_set_zone("Half"), -ENOENT);
	assert_int_equal(ta_session_set_zone("NoFooter"), -ENOENT);
	assert_int_equal(ta_session_set_zone("Junk"), -ENOENT);
	free(ny);
}

/* UTC: the session of 09:30 starts at 09:30 UTC every day. */
static void test_session_day_utc(void **state)
{
	(void)state;
	assert_int_equal(ta_session_set_zone("UTC"), 0);
	assert_int_equal(ta_session_day(570, at(2013, 10, 8, 9, 30, 0) * NS), day_of(2013, 10, 8));
	assert_int_equal(ta_session_day(570, at(2013, 10, 8, 9, 29, 59) * NS),
	                 day_of(2013, 10, 7));
	assert_int_equal(ta_session_day(0, at(2013, 10, 8, 0, 0, 0) * NS), day_of(2013, 10, 8));
	assert_int_equal(ta_session_day(0, at(2013, 10, 7, 23, 59, 59) * NS + NS - 1),
	                 day_of(2013, 10, 7));
	assert_int_equal(ta_session_day(0, -1), day_of(1969, 12, 31)); /* before 1970 */
}

/* New York: 09:30 is 13:30 UTC in summer (EDT), 14:30 in winter (EST). */
static void test_session_day_new_york_dst(void **state)
{
	(void)state;
	int rc = ta_session_set_zone("America/New_York");
	if (rc == -ENOENT)
		fail_msg("America/New_York is not installed: tzdata is missing "
		         "(scripts/install-deps.sh installs it)");
	assert_int_equal(rc, 0);
	/* 2013-10-08, EDT */
	assert_int_equal(ta_session_day(570, at(2013, 10, 8, 13, 30, 0) * NS), day_of(2013, 10, 8));
	assert_int_equal(ta_session_day(570, at(2013, 10, 8, 13, 29, 59) * NS),
	                 day_of(2013, 10, 7));
	/* after midnight UTC, still the evening of the 8th in New York */
	assert_int_equal(ta_session_day(570, at(2013, 10, 9, 3, 0, 0) * NS), day_of(2013, 10, 8));
	/* 2013-11-04, EST (DST ended on the 3rd) */
	assert_int_equal(ta_session_day(570, at(2013, 11, 4, 14, 30, 0) * NS), day_of(2013, 11, 4));
	assert_int_equal(ta_session_day(570, at(2013, 11, 4, 13, 30, 0) * NS), day_of(2013, 11, 3));
	/* a start inside the hour repeated when DST ends (01:30 on
	 * 2013-11-03): the day goes D, D-1, D again; ta only moves forward */
	assert_int_equal(ta_session_day(90, at(2013, 11, 3, 5, 45, 0) * NS), day_of(2013, 11, 3));
	assert_int_equal(ta_session_day(90, at(2013, 11, 3, 6, 15, 0) * NS), day_of(2013, 11, 2));
	assert_int_equal(ta_session_day(90, at(2013, 11, 3, 6, 45, 0) * NS), day_of(2013, 11, 3));
	assert_int_equal(ta_session_set_zone("UTC"), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_session_parse_start),
	    cmocka_unit_test(test_session_zones),
	    cmocka_unit_test_teardown(test_session_zone_file_cut_short, tz_dir_teardown),
	    cmocka_unit_test(test_session_day_utc),
	    cmocka_unit_test(test_session_day_new_york_dst),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
