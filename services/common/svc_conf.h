/*
 * svc_conf.h - the reader of the services' config files (shmbus-ta's and
 * shmbus-bridge's --config): lines of "key = value", read one at a time
 * into a fixed buffer, so that a line is bounded before it is held.
 *
 * Part of shmbus_svc, but apart from svc.h: a tool that is no bus stage
 * (the bridge) reads configs too. Nothing here prints: each tool words
 * its own messages (they all name the file and the line).
 * Thread-safety: a reader belongs to one thread; the helpers are pure.
 */
#ifndef SHMBUS_SVC_CONF_H
#define SHMBUS_SVC_CONF_H

#include <stddef.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Longest line of a config file, its newline (and a CR before it) aside. */
#define SHMBUS_SVC_CONF_LINE_MAX 4096

/*
 * A config file of lines read one at a time into a fixed buffer: a line
 * longer than SHMBUS_SVC_CONF_LINE_MAX is refused, never held whole in
 * memory. What a line means (comments, "key = value", which bytes are
 * allowed) is the caller's; shmbus_svc_conf_split and shmbus_svc_conf_ctrl
 * help with the common shape.
 */
struct shmbus_svc_conf {
	FILE *f;
	unsigned lineno;                         /* the line last read, from 1 */
	size_t len;                              /* its bytes (NUL bytes among them) */
	char line[SHMBUS_SVC_CONF_LINE_MAX + 2]; /* room for a CR and the final NUL */
};

/*
 * Open @path, which must be a regular file (tool_open_regular). Returns 0,
 * or -errno with *kind (when @kind is not NULL) naming what the path is
 * when it is no regular file ("a directory"), else NULL.
 */
int shmbus_svc_conf_open(struct shmbus_svc_conf *c, const char *path, const char **kind);

/*
 * Read the next line into c->line (NUL-terminated, c->len bytes), its
 * "\n" or "\r\n" cut; c->lineno is its number. Returns 1 for a line, 0 at
 * the end of the file, -E2BIG for a line longer than
 * SHMBUS_SVC_CONF_LINE_MAX (c->lineno names it) or -errno of a read
 * error. After an error the reader is done: close it.
 */
int shmbus_svc_conf_next(struct shmbus_svc_conf *c);

/* Close the file. */
void shmbus_svc_conf_close(struct shmbus_svc_conf *c);

/* 1 + the offset of the first control byte (below 0x20, a tab aside; NUL
 * included) of the @len bytes at @s, or 0 when there is none. Pure. */
size_t shmbus_svc_conf_ctrl(const char *s, size_t len);

/*
 * Split a "key = value" line in place, blanks (spaces, tabs) around the
 * line, the key and the value cut. Returns 1 with *key and *val set, 0
 * for a blank line, -EINVAL when the line holds no '=' (*key is then the
 * trimmed line, for a message). Pure.
 */
int shmbus_svc_conf_split(char *line, char **key, char **val);

#ifdef __cplusplus
}
#endif
#endif /* SHMBUS_SVC_CONF_H */
