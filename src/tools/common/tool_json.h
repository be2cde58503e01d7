/*
 * tool_json.h - helpers the shmbus command-line tools share: JSON string
 * output, names as terminal text, and a "why" suffix for error lines.
 * Executables only (prints).
 */
#ifndef SHMBUS_TOOL_JSON_H
#define SHMBUS_TOOL_JSON_H

#include <stdio.h>

/*
 * Write s as a JSON string literal (quotes and escapes included). Text
 * that is UTF-8 stays readable: each well-formed UTF-8 sequence passes as
 * it is. Any other byte >= 0x80 (a file name or path need not be UTF-8)
 * is escaped alone as \u00XX, so the output is valid JSON whatever s
 * holds. Escaping keeps it apart where U+FFFD would not: a \u0080..\u00ff
 * escape can only come from such a byte (a real U+0080..U+00FF character
 * is two raw UTF-8 bytes), so a reader can get the bytes back.
 */
void tool_json_str(FILE *f, const char *s);

/* The same, with every byte >= 0x80 escaped too (as \u00XX, one per
 * byte): the output is pure ASCII whatever s holds. */
void tool_json_str_ascii(FILE *f, const char *s);

/* A name from shared memory (or a file name) as terminal text: every byte
 * outside printable ASCII (a damaged segment, an odd file) becomes '?',
 * never a control sequence. Writes at most len - 1 bytes and a NUL to buf
 * (len >= 1); returns buf. The JSON forms above escape such bytes. */
const char *tool_text_name(const char *name, char *buf, size_t len);

/* The --json result of a run that failed before it had one, on a line of
 * its own: {"ok":false,"error":{"path":PATH,"detail":DETAIL}}. A script
 * reading stdout finds why there, as the line on stderr says it. */
void tool_json_error(FILE *f, const char *path, const char *detail);

/* Print "tool: what: strerror(rc)[ - errmsg]" to stderr. Returns 1. */
int tool_fail(const char *tool, const char *what, int rc);

#endif
