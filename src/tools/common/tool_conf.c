/*
 * tool_conf.c - the --config FILE reader of the journaller and the bridge
 * (tool_conf.h).
 *
 * The file is read one byte at a time into a buffer of TOOL_CONF_LINE_MAX
 * bytes and a CR: getline would hold a line of any length (a file of one
 * 4 GiB line, all of it) before its length could be checked, and a line is
 * never cut in pieces whose tail would be read as a setting of its own.
 * NUL bytes are kept and counted, so that "a=1\0junk" is refused instead
 * of read as "a=1".
 *
 * Which shape a file has is decided by its first setting line (comments
 * and blank lines aside): a "[section]" header makes it an INI file, read
 * as shmbusctl's libinih reads it (a ';' after a blank starts a comment,
 * '=' or ':' ends the key), so that a service sees exactly the values that
 * `shmbusctl check` validated; anything else makes it a flat file, where a
 * header later on is an error (the file would mean two things).
 *
 * shmbusctl's libinih is built with INI_ALLOW_MULTILINE, so an INI file
 * has continuation lines, read here as libinih (55, the version shmbusctl
 * links) reads them: a line that starts with a blank and is no comment or
 * blank line, after a key line of the same section (comment and blank
 * lines in between do not break the run; a "[section]" line does), is one
 * more value of that key, called back with the key and its own FILE:LINE.
 * Its text is taken whole: libinih 55 cuts no inline comment there (later
 * upstream releases do; test_config compares this reader with the linked
 * libinih so that a change of version is noticed), and an indented "[x]"
 * or "a = b" there is a value, not a header or a key. An indented line
 * with no key before it in its section is an ordinary key line, an error
 * when it holds no '=' or ':', as in libinih. A flat file has no
 * continuations: its indented lines have always been "key = value" lines
 * of their own, and existing flat files must keep their meaning.
 */
#include "tool_conf.h"
#include "tool_file.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

enum conf_shape { SHAPE_UNKNOWN, SHAPE_FLAT, SHAPE_INI };

struct conf_reader {
	FILE *f;
	const char *path;
	unsigned lineno;                   /* the line last read, from 1 */
	size_t len;                        /* its bytes (NUL bytes among them) */
	char line[TOOL_CONF_LINE_MAX + 2]; /* room for a CR and the final NUL */
	/* INI: the key of the section's last key line (libinih's prev_name), ""
	 * when none since the last header; any section's, so that a
	 * continuation of another section is never read as a header. */
	char prev[TOOL_CONF_LINE_MAX + 1];
	char where[sizeof(((struct tool_conf_error *)0)->where)];
	int in_bus;     /* INI: in the [bus] section */
	char *bus;      /* where its name goes (NULL: not wanted) */
	size_t bus_len;
};

/* Fill err; where is "PATH:LINE" (line != 0) or PATH. Returns rc. */
static int conf_fail(struct tool_conf_error *err, const struct conf_reader *r, unsigned line,
                     int rc, const char *what, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));

static int conf_fail(struct tool_conf_error *err, const struct conf_reader *r, unsigned line,
                     int rc, const char *what, const char *fmt, ...)
{
	va_list ap;
	snprintf(err->what, sizeof(err->what), "%s", what);
	va_start(ap, fmt);
	vsnprintf(err->why, sizeof(err->why), fmt, ap);
	va_end(ap);
	if (line)
		snprintf(err->where, sizeof(err->where), "%.600s:%u", r->path, line);
	else
		snprintf(err->where, sizeof(err->where), "%.600s", r->path);
	return rc;
}

/* The next line into r->line, its "\n" or "\r\n" cut. 1 for a line, 0 at
 * the end, -E2BIG for a line longer than TOOL_CONF_LINE_MAX (r->lineno
 * names it), -errno of a read error. */
static int conf_next(struct conf_reader *r)
{
	size_t n = 0;
	int ch;

	errno = 0; /* a read error sets it; one of an earlier call must not count */
	while ((ch = getc(r->f)) != EOF && ch != '\n') {
		if (n == sizeof(r->line) - 1) {
			r->lineno++; /* the line being refused */
			return -E2BIG;
		}
		r->line[n++] = (char)ch;
	}
	if (ch == EOF && ferror(r->f))
		return errno ? -errno : -EIO;
	if (ch == EOF && n == 0)
		return 0; /* a last line ends with its newline: no empty line after it */
	r->lineno++;
	if (n > 0 && r->line[n - 1] == '\r')
		n--;
	r->line[n] = '\0';
	r->len = n;
	return n > TOOL_CONF_LINE_MAX ? -E2BIG : 1;
}

static int conf_blank(char c)
{
	return c == ' ' || c == '\t';
}

/* Cut the blanks at the end of s. */
static void conf_rtrim(char *s)
{
	size_t n = strlen(s);
	while (n > 0 && conf_blank(s[n - 1]))
		s[--n] = '\0';
}

/* A setting line (blanks skipped, no comment) split into key and value.
 * INI: an inline comment (';' after a blank) is cut first and the key ends
 * at '=' or ':', as libinih does; flat: the key ends at '='. 1, or 0 when
 * the line holds no separator. */
static int conf_split(char *s, enum conf_shape shape, char **key, char **val)
{
	char *sep;
	if (shape == SHAPE_INI)
		for (char *c = s + 1; *c; c++)
			if (*c == ';' && conf_blank(c[-1])) {
				*c = '\0';
				break;
			}
	sep = shape == SHAPE_INI ? s + strcspn(s, "=:") : strchr(s, '=');
	if (sep == NULL || *sep == '\0')
		return 0;
	*sep = '\0';
	conf_rtrim(s);
	*key = s;
	*val = sep + 1 + strspn(sep + 1, " \t");
	conf_rtrim(*val);
	return 1;
}

/* A "[name]" line: copy name into sec. 0, or -1 without a ']'. */
static int conf_section(const char *s, char *sec, size_t len)
{
	const char *end = strchr(s + 1, ']');
	if (end == NULL)
		return -1;
	snprintf(sec, len, "%.*s", (int)(end - s - 1), s + 1);
	return 0;
}

/* Refuse a control byte (a tab aside) in s. 0 or -EINVAL with err filled. */
static int conf_text(struct conf_reader *r, const char *s, struct tool_conf_error *err)
{
	for (const char *c = s; *c; c++)
		if ((unsigned char)*c < 0x20 && *c != '\t')
			return conf_fail(err, r, r->lineno, -EINVAL, "config",
			                 "control character in the line");
	return 0;
}

/* An INI continuation line s (blanks skipped): one more value of r->prev.
 * Skipped outside the section read. 0, the callback's return, or -errno. */
static int conf_continue(struct conf_reader *r, char *s, int in_own, tool_conf_fn fn, void *ctx,
                         struct tool_conf_error *err)
{
	int rc;
	if (!in_own)
		return 0;
	if ((rc = conf_text(r, s, err)) != 0)
		return rc;
	conf_rtrim(s); /* the whole text: libinih 55 cuts no ';' comment here */
	snprintf(r->where, sizeof(r->where), "%.600s:%u", r->path, r->lineno);
	return fn(ctx, r->prev, s, r->where);
}

/* One line of the file, checked. *in_own: whether the line is in the
 * section read (always, for a flat file). 0, the callback's return, or
 * -errno with err filled. */
static int conf_line(struct conf_reader *r, enum conf_shape *shape, const char *section,
                     int *in_own, int *seen, tool_conf_fn fn, void *ctx,
                     struct tool_conf_error *err)
{
	char *s = r->line, *key, *val;
	int rc;
	if (r->lineno == 1 && r->len >= 3 && memcmp(s, "\xEF\xBB\xBF", 3) == 0)
		s += 3; /* a UTF-8 byte order mark, skipped as shmbusctl does */
	if (memchr(r->line, '\0', r->len) != NULL)
		return conf_fail(err, r, r->lineno, -EINVAL, "config", "NUL byte in the line");
	s += strspn(s, " \t");
	if (*s == '\0' || *s == '#' || *s == ';')
		return 0; /* libinih keeps prev_name over these too */
	/* libinih tests for a continuation before a header: an indented
	 * "[x]" after a key line is a value. */
	if (*shape == SHAPE_INI && r->prev[0] != '\0' && s != r->line)
		return conf_continue(r, s, *in_own, fn, ctx, err);
	if (*s == '[') {
		char sec[128];
		if (*shape == SHAPE_FLAT)
			return conf_fail(err, r, r->lineno, -EINVAL, "config",
			                 "expected 'key = value' (an INI config starts with its "
			                 "first [section])");
		*shape = SHAPE_INI;
		if (conf_section(s, sec, sizeof(sec)) < 0)
			return conf_fail(err, r, r->lineno, -EINVAL, "config",
			                 "expected ']' closing the section name");
		*in_own = strcmp(sec, section) == 0;
		*seen |= *in_own;
		r->in_bus = strcmp(sec, "bus") == 0;
		r->prev[0] = '\0';
		return 0;
	}
	if (*shape == SHAPE_UNKNOWN) {
		*shape = SHAPE_FLAT;
		*in_own = 1;
	}
	if (!*in_own) {
		/* another section of an INI file: shmbusctl's to check, but its
		 * key lines start continuations there */
		if (conf_split(s, *shape, &key, &val)) {
			snprintf(r->prev, sizeof(r->prev), "%s", key);
			if (r->in_bus && r->bus && strcmp(key, "name") == 0)
				snprintf(r->bus, r->bus_len, "%s", val); /* the bus it describes */
		}
		return 0;
	}
	if ((rc = conf_text(r, s, err)) != 0)
		return rc;
	if (!conf_split(s, *shape, &key, &val) || *key == '\0')
		return conf_fail(err, r, r->lineno, -EINVAL, "config", "expected 'key = value'");
	if (*shape == SHAPE_INI)
		snprintf(r->prev, sizeof(r->prev), "%s", key);
	snprintf(r->where, sizeof(r->where), "%.600s:%u", r->path, r->lineno);
	return fn(ctx, key, val, r->where);
}

int tool_conf_read(const char *path, const char *section, tool_conf_fn fn, void *ctx,
                   char *bus, size_t bus_len, struct tool_conf_error *err)
{
	struct conf_reader r = {.path = path, .bus = bus_len ? bus : NULL, .bus_len = bus_len};
	if (r.bus)
		r.bus[0] = '\0';
	enum conf_shape shape = SHAPE_UNKNOWN;
	const char *kind;
	int in_own = 0, seen = 0, rc;
	int fd = tool_open_regular(path, &kind, NULL);

	if (fd < 0 || !(r.f = fdopen(fd, "r"))) {
		rc = fd < 0 ? fd : -errno;
		if (fd >= 0)
			close(fd);
		if (kind)
			return conf_fail(err, &r, 0, rc, "cannot read config",
			                 "not a regular file (%s)", kind);
		return conf_fail(err, &r, 0, rc, "cannot read config", "%s", strerror(-rc));
	}
	while ((rc = conf_next(&r)) == 1)
		if ((rc = conf_line(&r, &shape, section, &in_own, &seen, fn, ctx, err)) != 0)
			goto out; /* err filled, or the callback's own stop */
	if (rc == -E2BIG)
		conf_fail(err, &r, r.lineno, rc, "config", "line longer than %d bytes",
		          TOOL_CONF_LINE_MAX);
	else if (rc < 0)
		conf_fail(err, &r, 0, rc, "cannot read config", "%s", strerror(-rc));
	else if (shape == SHAPE_INI && !seen)
		rc = conf_fail(err, &r, 0, -ENOENT, "config",
		               "no [%s] section (an INI config is read from its [%s] section "
		               "only)",
		               section, section);
out:
	fclose(r.f);
	return rc;
}
