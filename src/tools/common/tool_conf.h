/*
 * tool_conf.h - the --config FILE reader of the journaller and the bridge.
 *
 * One file, two shapes:
 *  - flat: lines of "key = value" ("#" comments, blank lines), the keys
 *    being the tool's long option names;
 *  - the host's INI config (shmbusctl, docs/config.md), recognised by a
 *    "[section]" header as its first setting line: only the tool's own
 *    section ([journal], [bridge]) is read, every other one is skipped
 *    (shmbusctl validates those). Comments are ";" or "#" lines and a ";"
 *    after a blank, and an indented line after a key line continues that
 *    key (one more value, with its own line), as libinih reads them for
 *    shmbusctl. A flat file has no continuation lines.
 * Lines are read into a fixed buffer (a line is bounded before it is held),
 * and the file must be a regular file (tool_open_regular). Nothing here
 * prints: each tool words its messages as `tool: what: why (where)`.
 * Thread-safety: none needed; state lives on the caller's stack.
 */
#ifndef SHMBUS_TOOL_CONF_H
#define SHMBUS_TOOL_CONF_H

#include <stddef.h>

/* Longest line of a config file, its newline (and a CR before it) aside. */
#define TOOL_CONF_LINE_MAX 4096

/* A reader error: print as "what: why (where)"; where is "FILE:LINE", or
 * FILE for what concerns the whole file. */
struct tool_conf_error {
	char what[48];
	char why[160];
	char where[640];
};

/*
 * Called for each setting, in file order: key and value trimmed of blanks
 * (both live only during the call: copy what is kept), where = "FILE:LINE"
 * for messages. Returns 0 to go on, or a positive value (an exit code,
 * after the callback's own message) that stops the reading and is
 * returned by tool_conf_read.
 */
typedef int (*tool_conf_fn)(void *ctx, const char *key, const char *value, const char *where);

/*
 * Read @path, flat or INI (only [@section] is read from an INI file), and
 * call @fn for each setting. @bus (@bus_len bytes, NULL/0 when not
 * wanted) gets the name of an INI file's [bus] section, "" when it has
 * none: the bus the file describes, for a tool given neither --bus nor
 * $SHMBUS_BUS. Returns 0; the callback's positive return
 * (@err untouched: the callback said why); or -errno with @err filled: the
 * file cannot be opened or read (-EISDIR / -EINVAL when it is no regular
 * file, why naming what it is), a line is too long (-E2BIG), holds a NUL or
 * another control byte, is no "key = value", or an INI file has no
 * [@section] (-ENOENT, naming the file and the section).
 */
int tool_conf_read(const char *path, const char *section, tool_conf_fn fn, void *ctx,
                   char *bus, size_t bus_len, struct tool_conf_error *err);

#endif /* SHMBUS_TOOL_CONF_H */
