/*
 * svc_json.c - the flat JSON objects services write at exit, and the
 * little reader the pipeline uses to pick numbers out of them.
 *
 * The writer appends to one growing buffer; files are replaced atomically
 * (write a temporary, fsync-free rename) so a reader never sees half an
 * object. The reader is deliberately small: it finds "key": and parses the
 * number after it. It is meant for the files written here, whose keys are
 * unique, not for arbitrary JSON.
 */
#define _GNU_SOURCE
#include "svc.h"
#include "tool_json.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void svc_json_add(struct shmbus_svc_json *j, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void svc_json_add(struct shmbus_svc_json *j, const char *fmt, ...)
{
	va_list ap;
	int k;

	if (j->oom)
		return;
	for (;;) {
		size_t room = j->cap - j->len;
		va_start(ap, fmt);
		k = vsnprintf(j->buf ? j->buf + j->len : NULL, j->buf ? room : 0, fmt, ap);
		va_end(ap);
		if (k < 0) {
			j->oom = 1;
			return;
		}
		if (j->buf && (size_t)k < room) {
			j->len += (size_t)k;
			return;
		}
		size_t ncap = (j->cap ? j->cap * 2 : 256) + (size_t)k;
		char *nb = realloc(j->buf, ncap);
		if (!nb) {
			j->oom = 1;
			return;
		}
		j->buf = nb;
		j->cap = ncap;
	}
}

/* Key with the separator before it. Keys are ours: no escaping needed
 * beyond what svc_json_string does for values. */
static void svc_json_key(struct shmbus_svc_json *j, const char *key)
{
	svc_json_add(j, "%s\"%s\":", j->nfields++ ? "," : "", key);
}

/* A value quoted by the tools' one JSON string writer (tool_json_str:
 * UTF-8 kept, any other byte escaped): a path need not be UTF-8. */
static void svc_json_string(struct shmbus_svc_json *j, const char *v)
{
	char *q = NULL;
	size_t len = 0;
	FILE *m = open_memstream(&q, &len);

	if (m)
		tool_json_str(m, v);
	if (!m || fclose(m) != 0) {
		free(q);
		j->oom = 1;
		return;
	}
	svc_json_add(j, "%s", q);
	free(q);
}

void shmbus_svc_json_begin(struct shmbus_svc_json *j)
{
	memset(j, 0, sizeof(*j));
	svc_json_add(j, "{");
}

void shmbus_svc_json_u64(struct shmbus_svc_json *j, const char *key, uint64_t v)
{
	svc_json_key(j, key);
	svc_json_add(j, "%llu", (unsigned long long)v);
}

void shmbus_svc_json_begin_stage(struct shmbus_svc_json *j, const char *service, shmbus_producer *p,
                                 uint64_t events_in, uint64_t events_out)
{
	shmbus_svc_json_begin(j);
	shmbus_svc_json_str(j, "service", service);
	shmbus_svc_json_u64(j, "source_id", shmbus_producer_source(p));
	shmbus_svc_json_u64(j, "events_in", events_in);
	shmbus_svc_json_u64(j, "events_out", events_out);
}

void shmbus_svc_json_i64(struct shmbus_svc_json *j, const char *key, int64_t v)
{
	svc_json_key(j, key);
	svc_json_add(j, "%lld", (long long)v);
}

void shmbus_svc_json_f64(struct shmbus_svc_json *j, const char *key, double v)
{
	svc_json_key(j, key);
	if (isfinite(v))
		svc_json_add(j, "%.17g", v);
	else
		svc_json_add(j, "null");
}

void shmbus_svc_json_str(struct shmbus_svc_json *j, const char *key, const char *v)
{
	svc_json_key(j, key);
	svc_json_string(j, v ? v : "");
}

void shmbus_svc_json_raw(struct shmbus_svc_json *j, const char *key, const char *json)
{
	svc_json_key(j, key);
	svc_json_add(j, "%s", json && *json ? json : "null");
}

void shmbus_svc_json_end(struct shmbus_svc_json *j)
{
	svc_json_add(j, "}");
}

void shmbus_svc_json_free(struct shmbus_svc_json *j)
{
	free(j->buf);
	memset(j, 0, sizeof(*j));
}

int shmbus_svc_json_write(const struct shmbus_svc_json *j, const char *path)
{
	char tmp[4096];
	FILE *f;
	int rc = 0;

	if (j->oom || !j->buf)
		return -ENOMEM;
	if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp))
		return -ENAMETOOLONG;
	if (!(f = fopen(tmp, "w")))
		return -errno;
	if (fprintf(f, "%s\n", j->buf) < 0)
		rc = -EIO;
	if (fclose(f) != 0 && rc == 0)
		rc = -errno;
	if (rc == 0 && rename(tmp, path) != 0)
		rc = -errno;
	if (rc != 0)
		unlink(tmp);
	return rc;
}

int shmbus_svc_json_check(const char *path)
{
	char tmp[4096];
	struct stat st;
	FILE *f;

	if (!path || !*path)
		return -ENOENT;
	if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp))
		return -ENAMETOOLONG;
	if (stat(path, &st) == 0 && S_ISDIR(st.st_mode))
		return -EISDIR; /* the rename would fail, at exit */
	if (!(f = fopen(tmp, "w")))
		return -errno;
	fclose(f);
	unlink(tmp);
	return 0;
}

void shmbus_svc_json_save(struct shmbus_svc_json *j, const char *tool, const char *path)
{
	int rc;

	shmbus_svc_json_end(j);
	if ((rc = shmbus_svc_json_write(j, path)) != 0)
		fprintf(stderr, "%s: writing %s failed: %s\n", tool, path, strerror(-rc));
	shmbus_svc_json_free(j);
}

/* The end of the JSON string that starts at the quote @q: its closing
 * quote (escapes skipped), or NULL when it is not closed. */
static const char *svc_json_string_end(const char *q)
{
	for (const char *p = q + 1; *p; p++) {
		if (*p == '\\' && p[1])
			p++;
		else if (*p == '"')
			return p;
	}
	return NULL;
}

static const char *svc_json_blanks(const char *v)
{
	while (*v == ' ' || *v == '\t' || *v == '\n')
		v++;
	return v;
}

int shmbus_svc_json_get_f64(const char *text, const char *key, double *out)
{
	size_t kl = strlen(key);
	const char *p = text;

	/* String by string: a value ("input":"trades") is no key, however it
	 * reads; a key is a string followed by ':'. */
	while ((p = strchr(p, '"')) != NULL) {
		const char *end = svc_json_string_end(p);
		if (!end)
			break;
		const char *v = svc_json_blanks(end + 1);
		if (*v == ':' && (size_t)(end - p - 1) == kl && strncmp(p + 1, key, kl) == 0) {
			char *num_end;
			v = svc_json_blanks(v + 1);
			*out = strtod(v, &num_end);
			return num_end == v ? -EINVAL : 0;
		}
		p = end + 1;
	}
	return -ENOENT;
}

int shmbus_svc_read_file(const char *path, char **out, size_t *len)
{
	FILE *f = fopen(path, "rb");
	struct stat st;
	char *buf;
	size_t got;

	if (!f)
		return -errno;
	if (fstat(fileno(f), &st) != 0) {
		int e = errno;
		fclose(f);
		return -e;
	}
	if (st.st_size > (16 << 20)) {
		fclose(f);
		return -EFBIG;
	}
	buf = malloc((size_t)st.st_size + 1);
	if (!buf) {
		fclose(f);
		return -ENOMEM;
	}
	got = fread(buf, 1, (size_t)st.st_size, f);
	fclose(f);
	buf[got] = '\0';
	*out = buf;
	if (len)
		*len = got;
	return 0;
}
