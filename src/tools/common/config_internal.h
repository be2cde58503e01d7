/*
 * config_internal.h - parser state shared by the config_*.c files of the
 * shmbus_config library. Not installed, not used outside this folder.
 */
#ifndef SHMBUS_CONFIG_INTERNAL_H
#define SHMBUS_CONFIG_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "shmbus_config.h"

enum cfg_kind {
	CFG_NONE = 0, /* before the first section */
	CFG_BUS,
	CFG_LAUNCHER,
	CFG_RING,
	CFG_SERVICE,
	CFG_JOURNAL,
	CFG_BRIDGE,
	CFG_SKIP, /* a section already reported as bad: its keys are ignored */
};

#define CFG_MAX_KEYS 64
/* Longest line the file reader takes before it gives up on the file: far
 * above what libinih accepts (INI_MAX_LINE), so a merely long line still
 * gets its exact length reported, while a file with no newline at all
 * cannot make the reader grow without bound. */
#define CFG_LINE_CAP  4096
#define CFG_MAX_RINGS 1024 /* the largest [bus] max_rings */

struct cfg_parse {
	struct shmbus_config *cfg;
	const char *path;
	int line; /* line the reader returned last */
	char *err;
	size_t errlen;
	int rc;       /* first error (0 while none) */
	int err_line; /* line of that error */
	enum cfg_kind kind;
	char section[96];            /* as written between the brackets */
	void *cur;                   /* the ring or service being filled */
	char keys[CFG_MAX_KEYS][32]; /* keys seen in this section */
	int key_lines[CFG_MAX_KEYS];
	int nkeys;
	/* lines of keys that the end-of-file checks name (0: not given) */
	int max_rings_line, backoff_initial_line, backoff_max_line;
	int arena_line, max_symbols_line; /* checked against the rings at the end */
	/* reader */
	FILE *file;
	const char *text;
	size_t pos;
	char linebuf[CFG_LINE_CAP + 1]; /* a file line and its '\n' */
};

/* Record the first error: "PATH:LINE: [SECTION] KEY: why" (key may be
 * NULL for a section-level error). Returns rc (a negative errno). */
int cfg_fail(struct cfg_parse *p, int line, const char *key, int rc, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

/* Strict value parsers: they write a reason into why and return false. */
bool cfg_parse_u64(const char *v, uint64_t min, uint64_t max, uint64_t *out, char *why, size_t n);
bool cfg_parse_bool(const char *v, int *out, char *why, size_t n);
bool cfg_valid_name(const char *v, size_t max, char *why, size_t n);

/* v is one of the n names: *out = its index and 0; else the error
 * "unknown KEY 'V' (expected a|b|c)" is recorded (cfg_fail) and returned. */
int cfg_parse_enum(struct cfg_parse *p, const char *key, const char *v, const char *const *names,
                   int n, int *out);

/* Service keys ([service NAME]) and its final checks (config_service.c). */
int cfg_service_key(struct cfg_parse *p, struct shmbus_cfg_service *s, const char *key,
                    const char *value);
int cfg_service_check(struct cfg_parse *p, const struct shmbus_cfg_service *s);
void cfg_service_free(struct shmbus_cfg_service *s);

/* Kept sections ([journal], [bridge]): known keys and value checks. */
int cfg_kept_key(struct cfg_parse *p, struct shmbus_cfg_section *s, enum cfg_kind kind,
                 const char *key, const char *value);
/* Whether the kept key may appear more than once in its section
 * ([bridge] kafka-set): the duplicate-key check skips it. */
bool cfg_kept_repeatable(enum cfg_kind kind, const char *key);

#endif
