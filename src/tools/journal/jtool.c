/*
 * jtool.c - argument parsing and small file helpers of the journal tools.
 *
 * Everything here is on the cold path (command line, start-up, once a
 * second): clarity over speed. Times are parsed by hand rather than with
 * strptime so that fractions (up to 9 digits) and numeric zones are
 * accepted the same way on every libc, and UTC is assumed when no zone is
 * given: journals hold epoch times and a backtest must not depend on the
 * TZ of the machine it runs on.
 */
#define _GNU_SOURCE
#include "jtool.h"
#include "tool_parse.h"
#include "tool_time.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

int jtool_parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out, char *why)
{
	uint64_t v;
	if (!s || !isdigit((unsigned char)*s)) {
		snprintf(why, JTOOL_WHY, "'%.100s' is not an unsigned number", s ? s : "");
		return -EINVAL;
	}
	if (tool_parse_u64(s, &v) || v < min || v > max) {
		snprintf(why, JTOOL_WHY, "'%.100s' is not a number in %" PRIu64 "..%" PRIu64, s,
		         min, max);
		return -EINVAL;
	}
	*out = v;
	return 0;
}

int jtool_parse_time(const char *s, int64_t *out, char *why)
{
	if (!s || !*s)
		goto bad;
	const char *p = s + (*s == '-');
	size_t n = strspn(p, "0123456789");
	if (n > 0 && p[n] == '\0') { /* all digits: epoch ns */
		errno = 0;
		char *end;
		long long v = strtoll(s, &end, 10);
		if (errno == ERANGE)
			goto range;
		if (errno || *end)
			goto bad;
		*out = v;
		return 0;
	}
	int rc = tool_parse_iso8601(s, strlen(s), out, NULL);
	if (rc == 0)
		return 0;
	if (rc == -ERANGE)
		goto range;
bad:
	snprintf(why, JTOOL_WHY,
	         "'%s' is not a time: want epoch ns or ISO-8601 like 2024-03-01T14:30:00.5Z",
	         s ? s : "");
	return -EINVAL;
range: /* the exact bounds: INT64_MIN and INT64_MAX ns */
	snprintf(why, JTOOL_WHY,
	         "'%s' is out of range: times are int64 ns since 1970, "
	         "1677-09-21T00:12:43.145224192Z .. 2262-04-11T23:47:16.854775807Z",
	         s);
	return -ERANGE;
}

int jtool_parse_query(const char *from, const char *to, const char *types,
                      struct shmbus_journal_query *q, const char **opt, char *why)
{
	int rc = 0;
	shmbus_journal_query_init(q);
	if (from && (rc = jtool_parse_time(from, &q->t_from, why)) != 0)
		*opt = "--from";
	else if (to && (rc = jtool_parse_time(to, &q->t_to, why)) != 0)
		*opt = "--to";
	else if (to && q->t_to != INT64_MAX && q->t_to <= q->t_from) {
		/* [from, to) empty: a swapped pair, which read as "no event" */
		*opt = "--to";
		snprintf(why, JTOOL_WHY, "'%s' is not after --from '%s': no time is in the range", to,
		         from ? from : "");
		rc = -EINVAL;
	} else if (types && (rc = tool_parse_types(types, &q->type_mask, why, JTOOL_WHY)) != 0)
		*opt = "--types";
	return rc;
}

int jtool_pin_cpus(const char *list, char *why)
{
	char items[CPU_SETSIZE > 256 ? 256 : CPU_SETSIZE][16];
	int n = tool_split_list(list, &items[0][0], sizeof(items[0]), 256, why, JTOOL_WHY);
	if (n < 0)
		return n;
	cpu_set_t set;
	CPU_ZERO(&set);
	for (int i = 0; i < n; i++) {
		uint64_t a, b;
		char *dash = strchr(items[i], '-');
		if (dash)
			*dash = '\0';
		if (jtool_parse_u64(items[i], 0, CPU_SETSIZE - 1, &a, why) ||
		    jtool_parse_u64(dash ? dash + 1 : items[i], a, CPU_SETSIZE - 1, &b, why))
			return -EINVAL;
		for (uint64_t c = a; c <= b; c++)
			CPU_SET((int)c, &set);
	}
	if (sched_setaffinity(0, sizeof(set), &set) < 0) {
		int e = errno;
		snprintf(why, JTOOL_WHY, "sched_setaffinity(%.64s): %s", list, strerror(e));
		return -e;
	}
	return 0;
}

/* "BUS-<20 digits>.shj" -> bus; 0 or -1 when the name is not a segment. */
static int jt_segment_bus(const char *fname, char *bus, size_t len)
{
	size_t n = strlen(fname);
	if (n < 26 || strcmp(fname + n - 4, ".shj") || fname[n - 25] != '-')
		return -1;
	if (strspn(fname + n - 24, "0123456789") != 20 || n - 25 >= len)
		return -1;
	memcpy(bus, fname, n - 25);
	bus[n - 25] = '\0';
	return 0;
}

int jtool_find_bus(const char *dir, const char *opt, char *bus, size_t len, char *why)
{
	DIR *d = opendir(dir);
	if (!d) {
		int e = errno;
		snprintf(why, JTOOL_WHY, "cannot open journal dir %s: %s", dir, strerror(e));
		return -e;
	}
	char first[128] = "", cur[128];
	int rc = -ENOENT;
	struct dirent *de;
	while ((de = readdir(d)) != NULL) {
		if (jt_segment_bus(de->d_name, cur, sizeof(cur)))
			continue;
		if (!first[0]) {
			snprintf(first, sizeof(first), "%s", cur);
			rc = 0;
		} else if (strcmp(first, cur)) {
			snprintf(why, JTOOL_WHY, "%.80s holds journals of several buses (%.40s, "
			         "%.40s, ...): name one with %.20s", dir, first, cur, opt);
			rc = -ENOTUNIQ;
			break;
		}
	}
	closedir(d);
	if (rc == -ENOENT)
		snprintf(why, JTOOL_WHY, "no journal segment (*.shj) in %s", dir);
	else if (rc == 0)
		snprintf(bus, len, "%s", first);
	return rc;
}

int jtool_check_bus(const char *dir, const char *bus, char *why)
{
	DIR *d = opendir(dir);
	if (!d) {
		int e = errno;
		snprintf(why, JTOOL_WHY, "cannot open journal dir %.200s: %s", dir, strerror(e));
		return -e;
	}
	char cur[128];
	int n = 0;
	struct dirent *de;
	while ((de = readdir(d)) != NULL)
		if (!jt_segment_bus(de->d_name, cur, sizeof(cur)) && !strcmp(cur, bus))
			n++;
	closedir(d);
	if (n == 0) {
		snprintf(why, JTOOL_WHY, "no segment of bus %.64s in %.160s", bus, dir);
		return -ENOENT;
	}
	return n;
}

void jtool_fmt_time(char *buf, size_t len, int64_t ns)
{
	int64_t s = ns / 1000000000, f = ns % 1000000000;
	if (f < 0) {
		f += 1000000000;
		s--;
	}
	time_t t = (time_t)s;
	struct tm tm;
	gmtime_r(&t, &tm);
	snprintf(buf, len, "%04d-%02d-%02dT%02d:%02d:%02d.%09" PRId64 "Z", tm.tm_year + 1900,
	         tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, f);
}

int jtool_write_atomic(const char *path, const char *text, size_t n)
{
	char tmp[1024];
	if (snprintf(tmp, sizeof(tmp), "%s.tmp.%d", path, (int)getpid()) >= (int)sizeof(tmp))
		return -ENAMETOOLONG;
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return -errno;
	ssize_t w = write(fd, text, n);
	int e = w < 0 ? errno : (size_t)w != n ? ENOSPC : 0;
	if (close(fd) < 0 && !e)
		e = errno;
	if (!e && rename(tmp, path) < 0)
		e = errno;
	if (e)
		unlink(tmp);
	return -e;
}
