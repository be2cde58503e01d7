/*
 * bridge_ckpt.c - source map and atomic checkpoint file.
 *
 * The map is an open-addressing table (linear probing, no deletion) that
 * doubles when 3/4 full: lookups happen several times per exported event,
 * so they must not scan, and source ids (pids by default) are never
 * removed, so a long-lived bridge accumulates thousands of them; a fixed
 * table that filled up dropped their progress silently and made every
 * lookup of a missing source scan all of it. Growth allocates on the
 * event path, but only log2(n) times in a map's life. The file is rewritten
 * whole each time: it is a few lines, and rename(2) over the old one is
 * the only way to make the update atomic on every filesystem; it holds
 * every source of the map, so the loader takes files of up to
 * BRIDGE_SRCMAP_MAX lines. Loading
 * trusts nothing in the file: a value that sscanf would wrap or saturate
 * (a seq of -1 read as 2^64-1 makes the bridge skip every event of that
 * source for good, silently) is an error naming the file and line.
 */
#include "bridge_ckpt.h"
#include "tool_file.h"
#include "tool_parse.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define CKPT_MAGIC_WORD "shmbus-bridge-checkpoint"
#define CKPT_VERSION 1
#define CKPT_MAGIC CKPT_MAGIC_WORD " 1" /* with CKPT_VERSION */

/* Slots of a new map: a few hundred sources never grow it twice. */
#define SRCMAP_CAP0 256u

int bridge_srcmap_init(struct bridge_srcmap *m)
{
	m->e = calloc(SRCMAP_CAP0, sizeof *m->e);
	m->cap = m->e == NULL ? 0 : SRCMAP_CAP0;
	m->n = 0;
	return m->e == NULL ? -ENOMEM : 0;
}

void bridge_srcmap_free(struct bridge_srcmap *m)
{
	free(m->e);
	m->e = NULL;
	m->cap = 0;
	m->n = 0;
}

/* Home slot of source in a table of cap slots. Source ids are pids or
 * small configured numbers, often consecutive: the murmur3 finaliser
 * spreads them over the table. */
static uint32_t srcmap_slot(uint32_t source, uint32_t cap)
{
	uint32_t h = source;
	h ^= h >> 16;
	h *= 0x85ebca6bu;
	h ^= h >> 13;
	h *= 0xc2b2ae35u;
	h ^= h >> 16;
	return h & (cap - 1);
}

/* Slot holding source, or the empty slot where it would go. The table is
 * never full (at most 3/4), so the probe ends. */
static uint32_t srcmap_find(const struct bridge_src *e, uint32_t cap, uint32_t source)
{
	uint32_t i = srcmap_slot(source, cap);
	while (e[i].seq != 0 && e[i].source != source)
		i = (i + 1) & (cap - 1);
	return i;
}

const struct bridge_src *bridge_srcmap_get(const struct bridge_srcmap *m, uint32_t source)
{
	if (m->cap == 0)
		return NULL;
	uint32_t i = srcmap_find(m->e, m->cap, source);
	return m->e[i].seq != 0 ? &m->e[i] : NULL;
}

/* Double the table (rehashing every entry). 0 or -ENOMEM (m unchanged). */
static int srcmap_grow(struct bridge_srcmap *m)
{
	uint32_t cap = m->cap != 0 ? m->cap * 2 : SRCMAP_CAP0;
	struct bridge_src *e = calloc(cap, sizeof *e);
	if (e == NULL)
		return -ENOMEM;
	for (uint32_t i = 0; i < m->cap; i++)
		if (m->e[i].seq != 0)
			e[srcmap_find(e, cap, m->e[i].source)] = m->e[i];
	free(m->e);
	m->e = e;
	m->cap = cap;
	return 0;
}

int bridge_srcmap_set(struct bridge_srcmap *m, uint32_t source, uint64_t seq, int64_t t_ns)
{
	if (seq == 0)
		return -EINVAL;
	uint32_t i = m->cap != 0 ? srcmap_find(m->e, m->cap, source) : 0;
	if (m->cap == 0 || m->e[i].seq == 0) { /* a new source */
		if (m->n >= BRIDGE_SRCMAP_MAX)
			return -ENOSPC;
		if ((uint64_t)(m->n + 1) * 4 > (uint64_t)m->cap * 3) {
			int rc = srcmap_grow(m);
			if (rc < 0)
				return rc;
			i = srcmap_find(m->e, m->cap, source);
		}
		m->n++;
		m->e[i].source = source;
	}
	m->e[i].seq = seq;
	m->e[i].event_time_ns = t_ns;
	return 0;
}

int bridge_srcmap_copy(struct bridge_srcmap *dst, const struct bridge_srcmap *src)
{
	if (src->cap == 0) {
		if (dst->cap != 0)
			memset(dst->e, 0, (size_t)dst->cap * sizeof *dst->e);
		dst->n = 0;
		return 0;
	}
	if (dst->cap != src->cap) {
		struct bridge_src *e = malloc((size_t)src->cap * sizeof *e);
		if (e == NULL)
			return -ENOMEM;
		free(dst->e);
		dst->e = e;
		dst->cap = src->cap;
	}
	memcpy(dst->e, src->e, (size_t)src->cap * sizeof *dst->e);
	dst->n = src->n;
	return 0;
}

const struct bridge_src *bridge_srcmap_next(const struct bridge_srcmap *m, uint32_t *it)
{
	while (*it < m->cap) {
		const struct bridge_src *s = &m->e[(*it)++];
		if (s->seq != 0)
			return s;
	}
	return NULL;
}

/* Longest line the loader takes: a valid one is at most 52 bytes
 * ("4294967295 18446744073709551615 -9223372036854775808"). */
#define CKPT_LINE_MAX 255
/* Longest line the writer writes, its newline included. */
#define CKPT_LINE_WRITTEN 53
/* Largest file the loader reads: BRIDGE_SRCMAP_MAX lines as the writer
 * writes them (at most 53 bytes each, 53 MiB) and room to spare (a fixed
 * 1 MiB bound cut a checkpoint of about 20000 sources). */
#define CKPT_FILE_MAX ((uint64_t)BRIDGE_SRCMAP_MAX * 64)

/* Decimal digits only (no sign, no blank, no base prefix) that fit in 64
 * bits. strtoull alone takes "-1" (as UINT64_MAX), "+1" and " 1", and
 * sscanf saturates an overflow to UINT64_MAX. */
/* An optional '-', then decimal digits that fit in int64_t. */
static int ckpt_parse_i64(const char *s, int64_t *out)
{
	char *end;
	const char *d = s[0] == '-' ? s + 1 : s;
	if (*d < '0' || *d > '9')
		return -EINVAL;
	errno = 0;
	long long v = strtoll(s, &end, 10);
	if (errno != 0 || *end != '\0')
		return -EINVAL;
	*out = v;
	return 0;
}

/* Split line (NUL-terminated, no newline) at blanks into fields; trailing
 * blanks (and a '\r') are ignored. Stores at most max + 1 fields and
 * returns their number: max + 1 means there are more than max. */
static int ckpt_split(char *line, char **f, int max)
{
	int n = 0;
	for (char *p = line;;) {
		p += strspn(p, " \t\r");
		if (*p == '\0' || n > max)
			return n;
		f[n++] = p;
		p += strcspn(p, " \t\r");
		if (*p != '\0')
			*p++ = '\0';
	}
}

/* Line 1: "shmbus-bridge-checkpoint <version>", the version exactly 1. */
static int ckpt_check_magic(char *line, char *why, size_t whylen)
{
	char *f[3];
	uint64_t v;
	int n = ckpt_split(line, f, 2);
	if (n < 2 || strcmp(f[0], CKPT_MAGIC_WORD) != 0) {
		snprintf(why, whylen, "not a bridge checkpoint (line 1 is not '%s')", CKPT_MAGIC);
		return -EBADMSG;
	}
	if (n > 2 || tool_parse_u64(f[1], &v) < 0) {
		snprintf(why, whylen, "bad checkpoint version '%.32s%s'", f[1],
			 n > 2 ? " ..." : "");
		return -EBADMSG;
	}
	if (v != CKPT_VERSION) {
		snprintf(why, whylen,
			 "unsupported checkpoint version %" PRIu64
			 " (this bridge reads version %d)",
			 v, CKPT_VERSION);
		return -EBADMSG;
	}
	return 0;
}

/* One "<source> <seq> <event_time_ns>" line into m. */
static int ckpt_parse_entry(struct bridge_srcmap *m, char *line, char *why, size_t whylen)
{
	char *f[4];
	uint64_t src, seq;
	int64_t t;
	int n = ckpt_split(line, f, 3);
	if (n != 3) {
		if (n > 3)
			snprintf(why, whylen, "unexpected text '%.32s' after the event time", f[3]);
		else if (n == 0)
			snprintf(why, whylen, "empty line");
		else
			snprintf(why, whylen,
				 "expected '<source> <seq> <event_time_ns>', found %d field%s", n,
				 n == 1 ? "" : "s");
		return -EBADMSG;
	}
	if (tool_parse_u64(f[0], &src) < 0 || src > UINT32_MAX) {
		snprintf(why, whylen, "source id '%.32s' is not a number in 0..%" PRIu32, f[0],
			 UINT32_MAX);
		return -EBADMSG;
	}
	if (tool_parse_u64(f[1], &seq) < 0 || seq == 0) {
		snprintf(why, whylen, "seq '%.32s' is not a number in 1..%" PRIu64, f[1],
			 UINT64_MAX);
		return -EBADMSG;
	}
	if (ckpt_parse_i64(f[2], &t) < 0) {
		snprintf(why, whylen, "event time '%.32s' is not a number in %" PRId64 "..%" PRId64,
			 f[2], INT64_MIN, INT64_MAX);
		return -EBADMSG;
	}
	if (bridge_srcmap_get(m, (uint32_t)src) != NULL) {
		snprintf(why, whylen, "source %" PRIu64 " appears twice", src);
		return -EBADMSG;
	}
	int rc = bridge_srcmap_set(m, (uint32_t)src, seq, t);
	if (rc == -ENOMEM) {
		snprintf(why, whylen, "out of memory");
		return rc;
	}
	if (rc < 0) {
		snprintf(why, whylen, "too many sources (at most %u)", BRIDGE_SRCMAP_MAX);
		return -EBADMSG;
	}
	return 0;
}

/* All of regular file `path` (at most CKPT_FILE_MAX bytes) into a malloc'd
 * buffer. Returns 0, or a negative code with why filled. */
static int ckpt_read_file(const char *path, char **buf, size_t *len, char *why, size_t whylen)
{
	const char *kind;
	off_t size = 0;
	int fd = tool_open_regular(path, &kind, &size), rc = 0;
	*buf = NULL;
	*len = 0;
	if (fd == -EISDIR) {
		snprintf(why, whylen, "is a directory, not a checkpoint file");
		return fd;
	}
	if (fd < 0) {
		if (kind)
			snprintf(why, whylen, "not a regular file (%s)", kind);
		else
			snprintf(why, whylen, "cannot open: %s", strerror(-fd));
		return fd;
	}
	if ((uint64_t)size > CKPT_FILE_MAX) {
		rc = -EFBIG;
		snprintf(why, whylen, "%lld bytes, a checkpoint file is at most %" PRIu64,
			 (long long)size, CKPT_FILE_MAX);
	} else if ((*buf = malloc((size_t)size + 1)) == NULL) {
		rc = -ENOMEM;
		snprintf(why, whylen, "out of memory");
	}
	while (rc == 0 && *len < (size_t)size) {
		ssize_t n = read(fd, *buf + *len, (size_t)size - *len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) { /* 0: the file shrank while we read it */
			rc = n < 0 ? -errno : -EIO;
			snprintf(why, whylen, "cannot read: %s", strerror(-rc));
		} else {
			*len += (size_t)n;
		}
	}
	close(fd);
	if (rc < 0) {
		free(*buf);
		*buf = NULL;
	}
	return rc;
}

/* Check one line of the file (s, len bytes, without its newline) and take
 * it. has_nl: a newline ended it. */
static int ckpt_take_line(struct bridge_srcmap *m, const char *s, size_t len, int has_nl,
			  unsigned lineno, char *why, size_t whylen)
{
	char line[CKPT_LINE_MAX + 1];
	if (len > CKPT_LINE_MAX) {
		snprintf(why, whylen, "line too long (%zu bytes, at most %d)", len, CKPT_LINE_MAX);
		return -EBADMSG;
	}
	if (memchr(s, '\0', len) != NULL) {
		snprintf(why, whylen, "NUL byte in line");
		return -EBADMSG;
	}
	memcpy(line, s, len);
	line[len] = '\0';
	int rc = lineno == 1 ? ckpt_check_magic(line, why, whylen)
			     : ckpt_parse_entry(m, line, why, whylen);
	if (rc == 0 && !has_nl) { /* the writer ends every line: cut short? */
		snprintf(why, whylen, "no newline at the end of the last line (truncated?)");
		rc = -EBADMSG;
	}
	return rc;
}

int bridge_ckpt_load(const char *path, struct bridge_srcmap *m, char *err, size_t errlen)
{
	char why[160], *buf;
	size_t len, off = 0;
	unsigned lineno = 0;
	int rc = ckpt_read_file(path, &buf, &len, why, sizeof why);
	if (rc == -ENOENT)
		return rc; /* no checkpoint yet: a first start */
	if (rc < 0) {
		snprintf(err, errlen, "checkpoint: %s (%s)", why, path);
		return rc;
	}
	if (len == 0) {
		snprintf(err, errlen, "checkpoint: empty file (%s)", path);
		free(buf);
		return -EBADMSG;
	}
	while (rc == 0 && off < len) {
		const char *nl = memchr(buf + off, '\n', len - off);
		size_t n = nl != NULL ? (size_t)(nl - (buf + off)) : len - off;
		rc = ckpt_take_line(m, buf + off, n, nl != NULL, ++lineno, why, sizeof why);
		off += n + 1;
	}
	free(buf);
	if (rc < 0)
		snprintf(err, errlen, "checkpoint: %s (%s:%u)", why, path, lineno);
	return rc;
}

static int ckpt_fsync_dir(const char *path)
{
	char copy[4096];
	snprintf(copy, sizeof copy, "%s", path);
	int fd = open(dirname(copy), O_RDONLY | O_DIRECTORY);
	if (fd < 0)
		return -errno;
	int rc = fsync(fd) < 0 ? -errno : 0;
	close(fd);
	return rc;
}

static int ckpt_write_all(int fd, const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, buf, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

int bridge_ckpt_save(const char *path, const struct bridge_srcmap *m, char *err, size_t errlen)
{
	char tmp[4200];
	const struct bridge_src *s;
	/* + 1: snprintf's NUL after the last line */
	size_t cap = sizeof(CKPT_MAGIC "\n") + (size_t)m->n * CKPT_LINE_WRITTEN + 1, len;
	char *buf = malloc(cap);
	int rc, fd;
	if (buf == NULL) {
		snprintf(err, errlen, "out of memory for %" PRIu32 " sources (%s)", m->n, path);
		return -ENOMEM;
	}
	len = (size_t)snprintf(buf, cap, CKPT_MAGIC "\n");
	for (uint32_t it = 0; (s = bridge_srcmap_next(m, &it)) != NULL;)
		len += (size_t)snprintf(buf + len, cap - len, "%" PRIu32 " %" PRIu64 " %" PRId64 "\n",
					s->source, s->seq, s->event_time_ns);
	snprintf(tmp, sizeof tmp, "%s.tmp", path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) {
		rc = -errno;
		snprintf(err, errlen, "cannot create: %s (%s)", strerror(-rc), tmp);
		free(buf);
		return rc;
	}
	rc = ckpt_write_all(fd, buf, len);
	free(buf);
	if (rc == 0 && fsync(fd) < 0)
		rc = -errno;
	close(fd);
	if (rc == 0 && rename(tmp, path) < 0)
		rc = -errno;
	if (rc == 0)
		rc = ckpt_fsync_dir(path);
	if (rc < 0) {
		snprintf(err, errlen, "cannot write: %s (%s)", strerror(-rc), path);
		unlink(tmp);
	}
	return rc;
}

int bridge_ckpt_probe(const char *path, char *err, size_t errlen)
{
	char tmp[4200];
	snprintf(tmp, sizeof tmp, "%s.tmp", path);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) {
		int rc = -errno;
		snprintf(err, errlen, "checkpoint: cannot create %s: %s", tmp, strerror(-rc));
		return rc;
	}
	int rc = ckpt_write_all(fd, CKPT_MAGIC "\n", sizeof(CKPT_MAGIC "\n") - 1);
	if (rc == 0 && fsync(fd) < 0)
		rc = -errno;
	close(fd);
	unlink(tmp);
	if (rc < 0)
		snprintf(err, errlen, "checkpoint: cannot write %s: %s", tmp, strerror(-rc));
	return rc;
}
