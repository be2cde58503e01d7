/*
 * config_value.c - the configuration file's value readers and its one
 * error slot (config_internal.h): numbers in a range, booleans, names
 * that become file names, one of a list of words. Each says what is
 * wrong in words the error message (cfg_fail) puts after file:line.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "config_internal.h"
#include "tool_parse.h"

int cfg_fail(struct cfg_parse *p, int line, const char *key, int rc, const char *fmt, ...)
{
	if (p->rc)
		return rc;
	p->rc = rc;
	p->err_line = line;
	if (!p->err || !p->errlen)
		return rc;
	char why[256];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	if (key && p->section[0])
		snprintf(p->err, p->errlen, "%s:%d: [%s] %s: %s", p->path, line, p->section, key,
		         why);
	else if (key)
		snprintf(p->err, p->errlen, "%s:%d: %s: %s", p->path, line, key, why);
	else if (p->section[0])
		snprintf(p->err, p->errlen, "%s:%d: [%s]: %s", p->path, line, p->section, why);
	else
		snprintf(p->err, p->errlen, "%s:%d: %s", p->path, line, why);
	return rc;
}

bool cfg_parse_u64(const char *v, uint64_t min, uint64_t max, uint64_t *out, char *why, size_t n)
{
	if (!*v) {
		snprintf(why, n, "empty value, expected a number in %llu..%llu",
		         (unsigned long long)min, (unsigned long long)max);
		return false;
	}
	uint64_t x = 0;
	for (const char *c = v; *c; c++) {
		if (*c < '0' || *c > '9') {
			snprintf(why, n, "'%s' is not a number (expected %llu..%llu)", v,
			         (unsigned long long)min, (unsigned long long)max);
			return false;
		}
		if (x > (UINT64_MAX - 9) / 10) {
			snprintf(why, n, "'%s' is too large (at most %llu)", v,
			         (unsigned long long)max);
			return false;
		}
		x = x * 10 + (uint64_t)(*c - '0');
	}
	if (x < min || x > max) {
		snprintf(why, n, "%llu is not in %llu..%llu", (unsigned long long)x,
		         (unsigned long long)min, (unsigned long long)max);
		return false;
	}
	*out = x;
	return true;
}

bool cfg_parse_bool(const char *v, int *out, char *why, size_t n)
{
	int b = tool_parse_bool(v);
	if (b >= 0)
		return *out = b, true;
	snprintf(why, n, "'%s' is not a boolean (true/false, yes/no, on/off, 1/0)", v);
	return false;
}

bool cfg_valid_name(const char *v, size_t max, char *why, size_t n)
{
	size_t len = strlen(v);
	if (len == 0 || len > max) {
		snprintf(why, n, "name '%s' must be 1..%zu bytes", v, max);
		return false;
	}
	if (v[0] == '.') {
		snprintf(why, n, "name '%s' starts with '.'", v);
		return false;
	}
	for (size_t i = 0; i < len; i++) {
		char c = v[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '_' || c == '-' || c == '.')) {
			snprintf(why, n, "name '%s': character %zu is not one of [A-Za-z0-9._-]", v,
			         i + 1);
			return false;
		}
	}
	return true;
}

int cfg_parse_enum(struct cfg_parse *p, const char *key, const char *v, const char *const *names,
                   int n, int *out)
{
	for (int i = 0; i < n; i++)
		if (strcmp(v, names[i]) == 0)
			return *out = i, 0;
	char list[128] = "";
	for (int i = 0; i < n; i++)
		snprintf(list + strlen(list), sizeof(list) - strlen(list), "%s%s", i ? "|" : "",
		         names[i]);
	return cfg_fail(p, p->line, key, -EINVAL, "unknown %s '%s' (expected %s)", key, v, list);
}
