/*
 * jtool.h - helpers shared by the journal tools (shmbus-journal,
 * shmbus-journald, shmbus-replay): parsing of times and query filters,
 * the journal's symbols file, finding the bus of a journal directory, and
 * CPU pinning (lists are split by tool_split_list, tool_parse.h). Built
 * as the static library shmbus_jtool in src/tools/journal; the tools see
 * only the public shmbus API through it.
 *
 * Every function returns 0 (or a count) or a negative errno-style code and
 * writes a one-line reason into the caller's `why` buffer; nothing here
 * prints or exits. Not thread-safe across a shared jtool_symtab.
 */
#ifndef SHMBUS_JTOOL_H
#define SHMBUS_JTOOL_H

#include <stddef.h>
#include <stdint.h>

#include <shmbus/bus.h>
#include <shmbus/journal.h>

#define JTOOL_WHY 256 /* size of every `why` buffer */

/* Parse an epoch-ns integer or an ISO-8601 UTC time
 * ("2024-03-01", "2024-03-01T14:30:00", "...:00.123456789Z", "...+02:00").
 * A time without zone is UTC. Returns 0, -EINVAL (not a time) or -ERANGE
 * (a time outside int64 ns: before 1677-09-21T00:12:43.145224192Z or after
 * 2262-04-11T23:47:16.854775807Z). */
int jtool_parse_time(const char *s, int64_t *out, char *why);

/*
 * Set q to shmbus_journal_query_init()'s "everything", then apply the
 * --from, --to and --types values (each NULL when not given): t_from and
 * t_to by jtool_parse_time, type_mask by tool_parse_types, in that order.
 * Returns 0, or -EINVAL / -ERANGE with *opt set to the option at fault
 * ("--from", "--to" or "--types") and the reason in why.
 */
int jtool_parse_query(const char *from, const char *to, const char *types,
                      struct shmbus_journal_query *q, const char **opt, char *why);

/* Parse an unsigned decimal with an optional range check. -EINVAL. */
int jtool_parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out, char *why);

/* Pin the calling process to the CPUs of "0,2-3". Returns 0, -EINVAL, -errno. */
int jtool_pin_cpus(const char *list, char *why);

/*
 * Name of the only bus journaled in dir (segment files BUS-<20 digits>.shj)
 * into bus (len >= 64 bytes). Returns 0, -ENOENT (no segment), -ENOTUNIQ
 * (several buses: why lists them and says to name one with option `opt`,
 * the tool's own: "--bus", "--journal-bus") or -errno.
 */
int jtool_find_bus(const char *dir, const char *opt, char *bus, size_t len, char *why);

/*
 * Count the segment files of bus in dir (BUS-<20 digits>.shj). Returns the
 * count (> 0), -ENOENT when there is none (why: "no segment of bus X in
 * DIR") or -errno when dir cannot be read.
 */
int jtool_check_bus(const char *dir, const char *bus, char *why);

/* ------------------------------------------------------ the symbols file */

/*
 * DIR/<bus>.symbols holds lines "id,name" appended by shmbus-journald the
 * first time it journals an event of that symbol id. A later line for an
 * id replaces an earlier one (a bus recreated with other ids).
 */
struct jtool_symtab {
	char (*names)[32]; /* names[id], "" when unknown */
	uint32_t cap;      /* entries allocated */
	uint32_t count;    /* ids with a name */
};

/* Path of the symbols file of bus in dir. Returns 0 or -ENAMETOOLONG. */
int jtool_symbols_path(const char *dir, const char *bus, char *path, size_t len);

/* Load the file (a missing file gives an empty table). Bad lines are an
 * error naming the line. Returns 0, -EINVAL, -ENOMEM, -errno. */
int jtool_symtab_load(struct jtool_symtab *t, const char *path, char *why);

/* jtool_symtab_load of the symbols file of bus in dir; -ENAMETOOLONG (with
 * why set) when its path does not fit. */
int jtool_symtab_load_bus(struct jtool_symtab *t, const char *dir, const char *bus, char *why);

/* Set id's name. Returns 0, -EINVAL (id 0 or > 1<<24, bad name), -ENOMEM. */
int jtool_symtab_set(struct jtool_symtab *t, uint32_t id, const char *name);

/* Name of id, or NULL when unknown. */
const char *jtool_symtab_name(const struct jtool_symtab *t, uint32_t id);

/* The first id above `after` that has name (linear scan: cold path), or 0
 * when none. A name can have several ids (a bus recreated with other ids):
 * start at 0 and pass each id found back as `after` to get them all. */
uint32_t jtool_symtab_find(const struct jtool_symtab *t, const char *name, uint32_t after);

void jtool_symtab_free(struct jtool_symtab *t);

/* ------------------------------------------------------------ formatting */

/* Epoch ns as "2024-03-01T14:30:00.123456789Z". */
void jtool_fmt_time(char *buf, size_t len, int64_t ns);

/* Write `text` to `path` atomically (tmp file + rename). 0 or -errno. */
int jtool_write_atomic(const char *path, const char *text, size_t n);

#endif /* SHMBUS_JTOOL_H */
