/*
 * tool_parse.c - strict number, boolean and list readers, and the name of
 * a refused option (tool_parse.h).
 *
 * Lists are split into caller-owned fixed-size slots rather than
 * allocated: every list the tools take has a hard bound (event types,
 * SHMBUS_SUB_MAX_SYMBOLS symbols, CPUs), and a bad list must fail with a
 * message before anything is attached or created.
 */
#include "tool_parse.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <shmbus/event.h>

int tool_parse_u64(const char *s, uint64_t *out)
{
	char *end;
	if (!s || *s < '0' || *s > '9') /* strtoull would take a sign or spaces */
		return -EINVAL;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno || *end)
		return -EINVAL;
	*out = v;
	return 0;
}

int tool_parse_double(const char *s, double *out)
{
	char *end;
	/* Decimal digits, sign, point and exponent only: strtod would skip
	 * blanks and read hex floats ("0x1p3") too. */
	if (!s || !*s || s[strspn(s, "0123456789+-.eE")] != '\0')
		return -EINVAL;
	errno = 0;
	double v = strtod(s, &end);
	if (errno || *end || !isfinite(v))
		return -EINVAL;
	*out = v;
	return 0;
}

int tool_parse_bool(const char *s)
{
	static const char *const yes[] = {"1", "true", "yes", "on"};
	static const char *const no[] = {"0", "false", "no", "off"};
	for (unsigned i = 0; s && i < 4; i++) {
		if (strcasecmp(s, yes[i]) == 0)
			return 1;
		if (strcasecmp(s, no[i]) == 0)
			return 0;
	}
	return -1;
}

int tool_list_next(const char **p, const char *list, char *item, size_t len, char *why, size_t n)
{
	if (!*p || !**p)
		return 0;
	const char *c = strchr(*p, ',');
	size_t l = c ? (size_t)(c - *p) : strlen(*p);
	if (l == 0 || l >= len) {
		snprintf(why, n, "bad item '%.*s' in list '%s' (empty or too long)", (int)l, *p,
		         list);
		return -EINVAL;
	}
	memcpy(item, *p, l);
	item[l] = '\0';
	*p = c ? c + 1 : NULL;
	if (c && !**p) {
		snprintf(why, n, "list '%s' ends with a comma", list);
		return -EINVAL;
	}
	return 1;
}

int tool_split_list(const char *list, char *names, size_t len, size_t max, char *why, size_t n)
{
	size_t k = 0;
	const char *p = list;
	while (p && *p) {
		if (k == max) {
			snprintf(why, n, "list '%.40s...' has more than %zu items", list, max);
			return -EINVAL;
		}
		int rc = tool_list_next(&p, list, names + k * len, len, why, n);
		if (rc < 0)
			return rc;
		k++;
	}
	if (k == 0) {
		snprintf(why, n, "empty list");
		return -EINVAL;
	}
	return (int)k;
}

int tool_parse_types(const char *list, uint64_t *mask, char *why, size_t n)
{
	char name[24];
	const char *p = list;
	int rc;
	*mask = 0;
	/* No count limit: the result is a set, so a repeated type is harmless. */
	while ((rc = tool_list_next(&p, list, name, sizeof(name), why, n)) > 0) {
		uint64_t id;
		int t = shmbus_event_type_from_name(name);
		if (t <= 0) {
			if (tool_parse_u64(name, &id) || id < 1 || id >= SHMBUS_MAX_TYPES) {
				snprintf(
				    why, n,
				    "unknown event type '%.23s' (trade, quote, bar, indicator, "
				    "threshold, collection_failed, heartbeat, or an id 1..63)",
				    name);
				return -EINVAL;
			}
			t = (int)id;
		}
		*mask |= SHMBUS_TYPE_BIT(t);
	}
	if (rc == 0 && *mask == 0) {
		snprintf(why, n, "empty list");
		return -EINVAL;
	}
	return rc;
}

const char *tool_bad_option(char *const argv[], const struct option *longopts, char *buf,
                            size_t n)
{
	const char *last = optind > 0 ? argv[optind - 1] : NULL;

	if (last && strncmp(last, "--", 2) == 0 && last[2]) {
		size_t len = strcspn(last + 2, "="); /* "--json=1", "--js" (abbreviated) */
		int is_long = optopt == 0;
		for (const struct option *lo = longopts; !is_long && lo && lo->name; lo++)
			is_long = lo->val == optopt && strncmp(lo->name, last + 2, len) == 0;
		if (is_long) {
			snprintf(buf, n, "%s", last);
			return buf;
		}
	}
	snprintf(buf, n, "-%c", optopt);
	return buf;
}

const char *tool_bus_origin(const char *bus)
{
	const char *env = getenv("SHMBUS_BUS");

	return bus && bus == env ? "SHMBUS_BUS" : "--bus";
}
