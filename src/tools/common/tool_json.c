/*
 * tool_json.c - output helpers shared by the command-line tools.
 *
 * The tools write JSON by hand (the documents are flat and small); the
 * one thing that must be right everywhere is string escaping, so it lives
 * here once (the services' stats files use it too), with its form for
 * the terminal.
 */
#include <shmbus/error.h>

#include "tool_json.h"

/* Length of the well-formed UTF-8 sequence at s (RFC 3629: no overlong
 * form, no surrogate, nothing past U+10FFFF), or 0 when none starts there.
 * s is NUL-terminated, so a cut sequence stops at the NUL. */
static size_t utf8_len(const unsigned char *s)
{
	unsigned char lo = 0x80, hi = 0xbf; /* range of the second byte */
	size_t n;

	if (s[0] >= 0xc2 && s[0] <= 0xdf) {
		n = 2;
	} else if (s[0] >= 0xe0 && s[0] <= 0xef) {
		n = 3;
		if (s[0] == 0xe0)
			lo = 0xa0; /* below: overlong */
		if (s[0] == 0xed)
			hi = 0x9f; /* above: a surrogate */
	} else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		n = 4;
		if (s[0] == 0xf0)
			lo = 0x90; /* below: overlong */
		if (s[0] == 0xf4)
			hi = 0x8f; /* above: past U+10FFFF */
	} else {
		return 0; /* a continuation byte, C0, C1 or F5..FF */
	}
	if (s[1] < lo || s[1] > hi)
		return 0;
	for (size_t i = 2; i < n; i++)
		if ((s[i] & 0xc0) != 0x80)
			return 0;
	return n;
}

/* s quoted: '"' and '\' backslash-escaped; control bytes, DEL and every
 * byte >= 0x80 as \u00XX, except, unless @ascii, the bytes of well-formed
 * UTF-8 sequences, which pass as they are. */
static void json_str(FILE *f, const char *s, int ascii)
{
	fputc('"', f);
	for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
		size_t n;
		if (*c == '"' || *c == '\\')
			fprintf(f, "\\%c", *c);
		else if (*c >= 0x80 && !ascii && (n = utf8_len(c)) > 0) {
			fwrite(c, 1, n, f);
			c += n - 1;
		} else if (*c < 0x20 || *c >= 0x7f)
			fprintf(f, "\\u%04x", *c);
		else
			fputc(*c, f);
	}
	fputc('"', f);
}

void tool_json_str(FILE *f, const char *s)
{
	json_str(f, s, 0);
}

void tool_json_str_ascii(FILE *f, const char *s)
{
	json_str(f, s, 1);
}

const char *tool_text_name(const char *name, char *buf, size_t len)
{
	size_t i = 0;
	for (; name[i] && i + 1 < len; i++)
		buf[i] = name[i] >= ' ' && name[i] < 127 ? name[i] : '?';
	buf[i] = '\0';
	return buf;
}

void tool_json_error(FILE *f, const char *path, const char *detail)
{
	fputs("{\"ok\":false,\"error\":{\"path\":", f);
	tool_json_str(f, path);
	fputs(",\"detail\":", f);
	tool_json_str(f, detail);
	fputs("}}\n", f);
}

int tool_fail(const char *tool, const char *what, int rc)
{
	const char *detail = shmbus_errmsg();
	fprintf(stderr, "%s: %s: %s%s%s\n", tool, what, shmbus_strerror(rc), *detail ? " - " : "",
	        detail);
	return 1;
}
