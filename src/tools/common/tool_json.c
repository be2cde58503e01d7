/*
 * tool_json.c - output helpers shared by the command-line tools.
 *
 * The tools write JSON by hand (the documents are flat and small); the
 * one thing that must be right everywhere is string escaping, so it lives
 * here once.
 */
#include <shmbus/error.h>

#include "tool_json.h"

/* s quoted: '"' and '\' backslash-escaped; control bytes, DEL and every
 * byte from hi up as \u00XX. */
static void json_str(FILE *f, const char *s, unsigned hi)
{
	fputc('"', f);
	for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
		if (*c == '"' || *c == '\\')
			fprintf(f, "\\%c", *c);
		else if (*c < 0x20 || *c == 0x7f || *c >= hi)
			fprintf(f, "\\u%04x", *c);
		else
			fputc(*c, f);
	}
	fputc('"', f);
}

void tool_json_str(FILE *f, const char *s)
{
	json_str(f, s, 0x100); /* bytes >= 0x80 pass: UTF-8 stays readable */
}

void tool_json_str_ascii(FILE *f, const char *s)
{
	json_str(f, s, 0x80);
}

int tool_fail(const char *tool, const char *what, int rc)
{
	const char *detail = shmbus_errmsg();
	fprintf(stderr, "%s: %s: %s%s%s\n", tool, what, shmbus_strerror(rc), *detail ? " - " : "",
	        detail);
	return 1;
}
