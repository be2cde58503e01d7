/*
 * bridge_ckpt.c - source map and atomic checkpoint file.
 *
 * The map is a fixed open-addressing table (linear probing, no deletion):
 * a bus has at most a few hundred sources, and lookups happen once per
 * exported event, so it must not allocate or scan. The file is rewritten
 * whole each time: it is a few lines, and rename(2) over the old one is
 * the only way to make the update atomic on every filesystem.
 */
#include "bridge_ckpt.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CKPT_MAGIC "shmbus-bridge-checkpoint 1"

int bridge_srcmap_init(struct bridge_srcmap *m)
{
	m->e = calloc(BRIDGE_MAX_SOURCES, sizeof *m->e);
	m->n = 0;
	return m->e == NULL ? -ENOMEM : 0;
}

void bridge_srcmap_free(struct bridge_srcmap *m)
{
	free(m->e);
	m->e = NULL;
	m->n = 0;
}

static uint32_t srcmap_slot(uint32_t source)
{
	return (source * 2654435761u) & (BRIDGE_MAX_SOURCES - 1);
}

const struct bridge_src *bridge_srcmap_get(const struct bridge_srcmap *m, uint32_t source)
{
	uint32_t i = srcmap_slot(source);
	for (uint32_t k = 0; k < BRIDGE_MAX_SOURCES; k++, i = (i + 1) & (BRIDGE_MAX_SOURCES - 1)) {
		if (m->e[i].seq == 0)
			return NULL;
		if (m->e[i].source == source)
			return &m->e[i];
	}
	return NULL;
}

int bridge_srcmap_set(struct bridge_srcmap *m, uint32_t source, uint64_t seq, int64_t t_ns)
{
	uint32_t i = srcmap_slot(source);
	if (seq == 0)
		return -EINVAL;
	for (uint32_t k = 0; k < BRIDGE_MAX_SOURCES; k++, i = (i + 1) & (BRIDGE_MAX_SOURCES - 1)) {
		if (m->e[i].seq == 0) {
			if (m->n + 1 >= BRIDGE_MAX_SOURCES)
				return -ENOSPC;
			m->n++;
			m->e[i].source = source;
		} else if (m->e[i].source != source) {
			continue;
		}
		m->e[i].seq = seq;
		m->e[i].event_time_ns = t_ns;
		return 0;
	}
	return -ENOSPC;
}

void bridge_srcmap_copy(struct bridge_srcmap *dst, const struct bridge_srcmap *src)
{
	memcpy(dst->e, src->e, BRIDGE_MAX_SOURCES * sizeof *dst->e);
	dst->n = src->n;
}

int bridge_ckpt_load(const char *path, struct bridge_srcmap *m, char *err, size_t errlen)
{
	FILE *f = fopen(path, "r");
	char line[256];
	unsigned lineno = 0;
	int rc = 0;
	if (f == NULL) {
		rc = -errno;
		if (rc != -ENOENT)
			snprintf(err, errlen, "cannot open: %s (%s)", strerror(errno), path);
		return rc;
	}
	while (rc == 0 && fgets(line, sizeof line, f) != NULL) {
		uint32_t src;
		uint64_t seq;
		int64_t t;
		char extra;
		lineno++;
		if (lineno == 1) {
			if (strncmp(line, CKPT_MAGIC, strlen(CKPT_MAGIC)) != 0) {
				snprintf(err, errlen, "not a bridge checkpoint (%s:1)", path);
				rc = -EBADMSG;
			}
			continue;
		}
		if (sscanf(line, "%" SCNu32 " %" SCNu64 " %" SCNd64 " %c", &src, &seq, &t,
			   &extra) != 3 ||
		    seq == 0) {
			snprintf(err, errlen, "expected '<source> <seq> <event_time_ns>' (%s:%u)",
				 path, lineno);
			rc = -EBADMSG;
		} else if (bridge_srcmap_set(m, src, seq, t) < 0) {
			snprintf(err, errlen, "too many sources (%s:%u)", path, lineno);
			rc = -EBADMSG;
		}
	}
	if (rc == 0 && lineno == 0) {
		snprintf(err, errlen, "empty checkpoint file (%s)", path);
		rc = -EBADMSG;
	}
	fclose(f);
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
	size_t cap = 64 + (size_t)m->n * 64, len;
	char *buf = malloc(cap);
	int rc, fd;
	if (buf == NULL)
		return -ENOMEM;
	len = (size_t)snprintf(buf, cap, CKPT_MAGIC "\n");
	for (uint32_t i = 0; i < BRIDGE_MAX_SOURCES; i++)
		if (m->e[i].seq != 0)
			len += (size_t)snprintf(buf + len, cap - len, "%" PRIu32 " %" PRIu64
						" %" PRId64 "\n", m->e[i].source, m->e[i].seq,
						m->e[i].event_time_ns);
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
