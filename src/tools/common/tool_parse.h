/*
 * tool_parse.h - the strict number and boolean readers every tool and
 * service uses for command-line and file values.
 */
#ifndef SHMBUS_TOOL_PARSE_H
#define SHMBUS_TOOL_PARSE_H

#include <stdint.h>

/* s is decimal digits only (no sign, no space, no 0x) that fit in 64 bits:
 * 0 and *out set, else -EINVAL. */
int tool_parse_u64(const char *s, uint64_t *out);

/* s is a boolean: 1 for 1/true/yes/on, 0 for 0/false/no/off (any case),
 * -1 for anything else (NULL included). */
int tool_parse_bool(const char *s);

#endif
