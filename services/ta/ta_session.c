/*
 * ta_session.c - trading sessions: which session a time falls in, by the
 * local clock of a time zone (DST included, through the C library's tz
 * code and tzdata).
 */
#define _GNU_SOURCE /* timegm */
#include "ta_session.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>
#include <unistd.h>

int ta_session_parse_start(const char *s, int *minutes)
{
	int h, m;
	char end;

	if (!s || strlen(s) != 5 || s[2] != ':' ||
	    sscanf(s, "%2d:%2d%c", &h, &m, &end) != 2 || h < 0 || h > 23 || m < 0 || m > 59 ||
	    s[0] < '0' || s[0] > '9' || s[3] < '0' || s[3] > '9')
		return -EINVAL;
	*minutes = h * 60 + m;
	return 0;
}

int ta_session_set_zone(const char *zone)
{
	char path[512];
	const char *dir = getenv("TZDIR");

	if (!zone || !*zone || strstr(zone, "..") || zone[0] == '/' ||
	    strspn(zone, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_+-/") !=
	        strlen(zone))
		return -EINVAL;
	if (strcmp(zone, "UTC") != 0) {
		/* a zone file: regular, and a TZif one ("America" is a folder,
		 * "leapseconds" a text file: the C library takes both for UTC) */
		char magic[4];
		struct stat st;
		snprintf(path, sizeof(path), "%s/%s", dir && *dir ? dir : "/usr/share/zoneinfo",
		         zone);
		FILE *f = stat(path, &st) == 0 && S_ISREG(st.st_mode) ? fopen(path, "rb") : NULL;
		int ok = f && fread(magic, 1, 4, f) == 4 && memcmp(magic, "TZif", 4) == 0;
		if (f)
			fclose(f);
		if (!ok)
			return -ENOENT;
	}
	if (setenv("TZ", zone, 1) != 0)
		return -errno;
	tzset();
	return 0;
}

int64_t ta_session_day(int start_min, int64_t t_ns)
{
	time_t secs = (time_t)(t_ns / 1000000000 - (t_ns % 1000000000 < 0));
	struct tm lt, date;
	int64_t day;

	if (!localtime_r(&secs, &lt))
		return 0;
	date = (struct tm){.tm_year = lt.tm_year, .tm_mon = lt.tm_mon, .tm_mday = lt.tm_mday};
	day = (int64_t)timegm(&date) / 86400; /* the local date, as a day number */
	if (lt.tm_hour * 60 + lt.tm_min < start_min)
		day--; /* before today's start: still the session of the day before */
	return day;
}
