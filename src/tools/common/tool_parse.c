/*
 * tool_parse.c - strict number, boolean and list readers (tool_parse.h).
 *
 * Lists are split into caller-owned fixed-size slots rather than
 * allocated: every list the tools take has a hard bound (event types,
 * SHMBUS_SUB_MAX_SYMBOLS symbols, CPUs), and a bad list must fail with a
 * message before anything is attached or created.
 */
#include "tool_parse.h"

#include <errno.h>
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

int tool_split_list(const char *list, char *names, size_t len, size_t max, char *why, size_t n)
{
	size_t k = 0;
	const char *p = list;
	while (p && *p) {
		const char *c = strchr(p, ',');
		size_t l = c ? (size_t)(c - p) : strlen(p);
		if (l == 0 || l >= len) {
			snprintf(why, n, "bad item '%.*s' in list '%s' (empty or too long)", (int)l,
			         p, list);
			return -EINVAL;
		}
		if (k == max) {
			snprintf(why, n, "list '%.40s...' has more than %zu items", list, max);
			return -EINVAL;
		}
		memcpy(names + k * len, p, l);
		names[k * len + l] = '\0';
		k++;
		p = c ? c + 1 : NULL;
		if (c && !*p) {
			snprintf(why, n, "list '%s' ends with a comma", list);
			return -EINVAL;
		}
	}
	if (k == 0) {
		snprintf(why, n, "empty list");
		return -EINVAL;
	}
	return (int)k;
}

int tool_parse_types(const char *list, uint64_t *mask, char *why, size_t n)
{
	char names[SHMBUS_MAX_TYPES][24];
	int k = tool_split_list(list, &names[0][0], sizeof(names[0]), SHMBUS_MAX_TYPES, why, n);
	if (k < 0)
		return k;
	*mask = 0;
	for (int i = 0; i < k; i++) {
		uint64_t id;
		int t = shmbus_event_type_from_name(names[i]);
		if (t <= 0) {
			if (tool_parse_u64(names[i], &id) || id < 1 || id >= SHMBUS_MAX_TYPES) {
				snprintf(
				    why, n,
				    "unknown event type '%.23s' (trade, quote, bar, indicator, "
				    "threshold, collection_failed, heartbeat, or an id 1..63)",
				    names[i]);
				return -EINVAL;
			}
			t = (int)id;
		}
		*mask |= SHMBUS_TYPE_BIT(t);
	}
	return 0;
}
