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

/* Big-endian count i of a TZif header (RFC 8536: isutcnt, isstdcnt,
 * leapcnt, timecnt, typecnt, charcnt, from offset 20). */
static uint64_t tzif_count(const unsigned char *h, int i)
{
	const unsigned char *p = h + 20 + 4 * i;

	return (uint64_t)p[0] << 24 | (uint64_t)p[1] << 16 | (uint64_t)p[2] << 8 | p[3];
}

/* Bytes of the data block after TZif header h, whose times are @tw bytes
 * wide; 0 when h is no TZif header (magic, no type or abbreviation, more
 * indicators than types). */
static uint64_t tzif_block(const unsigned char *h, uint64_t tw)
{
	uint64_t isut = tzif_count(h, 0), isstd = tzif_count(h, 1), leap = tzif_count(h, 2);
	uint64_t timecnt = tzif_count(h, 3), typecnt = tzif_count(h, 4), charcnt = tzif_count(h, 5);

	if (memcmp(h, "TZif", 4) != 0 || typecnt == 0 || charcnt == 0 || isut > typecnt ||
	    isstd > typecnt)
		return 0;
	return timecnt * (tw + 1) + typecnt * 6 + charcnt + leap * (tw + 4) + isstd + isut;
}

/* Is f (@size bytes) a whole TZif file: every header and data block there
 * and, from version 2 on, the footer ("\n" TZ-string "\n") after them? The
 * C library takes a zone file cut short (a partial copy, a full disk) for
 * UTC as silently as an unknown name. */
static int tzif_whole(FILE *f, uint64_t size)
{
	unsigned char h[44];
	uint64_t len, off;

	if (fread(h, 1, sizeof(h), f) != sizeof(h) || (len = tzif_block(h, 4)) == 0 ||
	    size < sizeof(h) + len)
		return 0;
	if (h[4] == '\0') /* version 1: that block is all */
		return 1;
	/* version 2+: a second header and block, of 64-bit times */
	off = sizeof(h) + len;
	if (fseeko(f, (off_t)off, SEEK_SET) != 0 || fread(h, 1, sizeof(h), f) != sizeof(h) ||
	    (len = tzif_block(h, 8)) == 0)
		return 0;
	off += sizeof(h) + len;
	return size >= off + 2 && fseeko(f, (off_t)off, SEEK_SET) == 0 && getc(f) == '\n';
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
		/* a zone file: regular, and a whole TZif one ("America" is a
		 * folder, "leapseconds" a text file, and a zone file cut short:
		 * the C library takes each for UTC) */
		struct stat st;
		snprintf(path, sizeof(path), "%s/%s", dir && *dir ? dir : "/usr/share/zoneinfo",
		         zone);
		FILE *f = stat(path, &st) == 0 && S_ISREG(st.st_mode) ? fopen(path, "rb") : NULL;
		int ok = f && tzif_whole(f, (uint64_t)st.st_size);
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
