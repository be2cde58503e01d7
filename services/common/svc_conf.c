/*
 * svc_conf.c - the config file reader of the services.
 *
 * getline would hold a line of any length (a file of one 4 GiB line, all
 * of it) before its length could be checked. Here bytes go one at a time
 * into a buffer of SHMBUS_SVC_CONF_LINE_MAX bytes and a CR: the byte past
 * that ends the read with -E2BIG, wherever the newline is. A line is
 * still one line, never cut in pieces whose tail would be read as a
 * setting of its own. NUL bytes are kept and counted in len, so that the
 * caller can refuse them instead of reading "a=1\0junk" as "a=1".
 */
#include "svc_conf.h"
#include "tool_file.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

int shmbus_svc_conf_open(struct shmbus_svc_conf *c, const char *path, const char **kind)
{
	int fd = tool_open_regular(path, kind, NULL);

	c->f = NULL;
	c->lineno = 0;
	c->len = 0;
	c->line[0] = '\0';
	if (fd < 0)
		return fd;
	if (!(c->f = fdopen(fd, "r"))) {
		int e = errno;
		close(fd);
		return -e;
	}
	return 0;
}

int shmbus_svc_conf_next(struct shmbus_svc_conf *c)
{
	size_t n = 0;
	int ch;

	errno = 0; /* a read error sets it; one of an earlier call must not count */
	while ((ch = getc(c->f)) != EOF && ch != '\n') {
		if (n == sizeof(c->line) - 1) {
			c->lineno++; /* the line being refused */
			return -E2BIG;
		}
		c->line[n++] = (char)ch;
	}
	if (ch == EOF && ferror(c->f))
		return errno ? -errno : -EIO;
	if (ch == EOF && n == 0)
		return 0; /* a last line ends with its newline: no empty line after it */
	c->lineno++;
	if (n > 0 && c->line[n - 1] == '\r')
		n--;
	c->line[n] = '\0';
	c->len = n;
	return n > SHMBUS_SVC_CONF_LINE_MAX ? -E2BIG : 1;
}

void shmbus_svc_conf_close(struct shmbus_svc_conf *c)
{
	if (c->f)
		fclose(c->f);
	c->f = NULL;
}

size_t shmbus_svc_conf_ctrl(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)s[i] < 0x20 && s[i] != '\t')
			return i + 1;
	return 0;
}

/* Whether @c is a blank of a config line. */
static int conf_blank(char c)
{
	return c == ' ' || c == '\t';
}

int shmbus_svc_conf_split(char *line, char **key, char **val)
{
	char *p = line + strspn(line, " \t"), *end = p + strlen(p), *eq;

	while (end > p && conf_blank(end[-1]))
		end--;
	*end = '\0';
	*key = p;
	*val = end;
	if (!*p)
		return 0;
	if (!(eq = strchr(p, '=')))
		return -EINVAL;
	/* "sma = 20": the blanks around '=' are part of neither side */
	for (end = eq; end > p && conf_blank(end[-1]); end--)
		;
	*end = '\0';
	*val = eq + 1 + strspn(eq + 1, " \t");
	return 1;
}
