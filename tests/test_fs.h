/*
 * test_fs.h - file helpers every test suite needs: remove a scratch tree,
 * read a whole file. Header-only; tests/ is on every test's include path.
 */
#ifndef SHMBUS_TEST_FS_H
#define SHMBUS_TEST_FS_H

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/*
 * Remove path and, when it is a directory, everything below it (links are
 * removed, not followed). Returns 0, or -1 when something could not be
 * removed (a missing path counts as removed).
 */
static inline int tfs_rm_rf(const char *path)
{
	struct stat st;
	if (lstat(path, &st) != 0)
		return errno == ENOENT ? 0 : -1;
	if (!S_ISDIR(st.st_mode))
		return unlink(path) == 0 || errno == ENOENT ? 0 : -1;
	int rc = 0;
	DIR *d = opendir(path);
	if (d) {
		struct dirent *de;
		char p[4096];
		while ((de = readdir(d)) != NULL) {
			if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
				continue;
			if (snprintf(p, sizeof(p), "%s/%s", path, de->d_name) >= (int)sizeof(p) ||
			    tfs_rm_rf(p) != 0)
				rc = -1;
		}
		closedir(d);
	}
	return rmdir(path) == 0 && rc == 0 ? 0 : -1;
}

/* A whole file as a malloc'd NUL-terminated string, or NULL when it cannot
 * be opened. */
static inline char *tfs_slurp(const char *path)
{
	FILE *f = fopen(path, "r");
	if (!f)
		return NULL;
	size_t cap = 1 << 12, n = 0, k;
	char *buf = malloc(cap);
	if (!buf) {
		fclose(f);
		return NULL;
	}
	while ((k = fread(buf + n, 1, cap - n - 1, f)) > 0) {
		n += k;
		if (cap - n < 2) {
			char *bigger = realloc(buf, cap *= 2);
			if (!bigger) {
				free(buf);
				fclose(f);
				return NULL;
			}
			buf = bigger;
		}
	}
	fclose(f);
	buf[n] = '\0';
	return buf;
}

#endif
