/*
 * tool_json.h - helpers the shmbus command-line tools share: JSON string
 * output and a "why" suffix for error lines. Executables only (prints).
 */
#ifndef SHMBUS_TOOL_JSON_H
#define SHMBUS_TOOL_JSON_H

#include <stdio.h>

/* Write s as a JSON string literal (quotes and escapes included). */
void tool_json_str(FILE *f, const char *s);

/* The same, with every byte >= 0x80 escaped too (as \u00XX, one per
 * byte): the output is pure ASCII whatever s holds. */
void tool_json_str_ascii(FILE *f, const char *s);

/* Print "tool: what: strerror(rc)[ - errmsg]" to stderr. Returns 1. */
int tool_fail(const char *tool, const char *what, int rc);

#endif
