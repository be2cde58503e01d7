/*
 * tool_parse.h - the strict number, boolean and list readers every tool
 * and service uses for command-line and file values. Cold path; nothing
 * here prints, exits or allocates; thread-safe.
 */
#ifndef SHMBUS_TOOL_PARSE_H
#define SHMBUS_TOOL_PARSE_H

#include <getopt.h>
#include <stddef.h>
#include <stdint.h>

/* s is decimal digits only (no sign, no space, no 0x) that fit in 64 bits:
 * 0 and *out set, else -EINVAL. */
int tool_parse_u64(const char *s, uint64_t *out);

/* s is a finite decimal number as strtod reads it ("2", "0.5", "1e3",
 * "-1"), the whole text: no blank before it (strtod would skip it), none
 * after, no hex float, no nan or inf, nothing out of range: 0 and *out set, else
 * -EINVAL. Callers check their own bounds. */
int tool_parse_double(const char *s, double *out);

/* s is a boolean: 1 for 1/true/yes/on, 0 for 0/false/no/off (any case),
 * -1 for anything else (NULL included). */
int tool_parse_bool(const char *s);

/*
 * The next item of the comma-separated list at *p (which starts at list)
 * into item (len bytes): 1 and *p moved past it, 0 at the end, or -EINVAL
 * with a one-line reason naming the list in why (n bytes) for an empty
 * item ("a,,b"), a trailing comma or an item of len bytes or more.
 */
int tool_list_next(const char **p, const char *list, char *item, size_t len, char *why, size_t n);

/*
 * Split the comma-separated list "a,b,c" into at most max NUL-terminated
 * items of fewer than len bytes each, the i-th stored at names + i * len.
 * An empty list (or NULL), an empty item ("a,,b"), a trailing comma
 * ("a,"), an item of len bytes or more and more than max items are
 * errors. Returns the item count (>= 1), or -EINVAL with a one-line reason
 * naming the list in why (n bytes).
 */
int tool_split_list(const char *list, char *names, size_t len, size_t max, char *why, size_t n);

/*
 * Read the event-type list "trade,quote,33" into *mask, one
 * SHMBUS_TYPE_BIT per item: a type name (shmbus_event_type_from_name) or
 * a decimal id in 1..SHMBUS_MAX_TYPES-1; items follow tool_split_list
 * (names under 24 bytes, any number of them: it is a set). Returns 0, or
 * -EINVAL with the reason in why (n bytes); *mask is undefined then.
 */
int tool_parse_types(const char *list, uint64_t *mask, char *why, size_t n);

/*
 * The option getopt_long() has just refused (returned '?' for), as it was
 * written, for a usage message: "--nope", "--bus" (no value), "--json=1"
 * for a long option, "-x" for a short one, in a cluster too: in "-xh"
 * argv[optind - 1] is the element before the cluster, or the program.
 * glibc leaves optopt 0 for an unknown long option and sets it to the val
 * of a known one that lacks or refuses its value, so a long option is the
 * one in argv[optind - 1] when optopt is 0 or the val of a @longopts entry
 * of that name. Reads optind and optopt: call it before getopt_long() runs
 * again. Returns @buf (n bytes).
 */
const char *tool_bad_option(char *const argv[], const struct option *longopts, char *buf,
                            size_t n);

/*
 * Where the bus name @bus a tool is about to check came from, to name in
 * its usage message: "SHMBUS_BUS" when @bus is that variable's value
 * itself (the very string getenv() returned, kept because no --bus, no
 * config setting replaced it), else "--bus". A user who gave no --bus is
 * not told that the --bus was bad.
 */
const char *tool_bus_origin(const char *bus);

#endif
