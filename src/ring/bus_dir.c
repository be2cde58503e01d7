/*
 * bus_dir.c - where named buses live.
 *
 * SHMBUS_DIR, when set, is the one bus directory. Otherwise a bus is a
 * file on a hugetlbfs mount of 2 MiB pages, when one is writable and the
 * pages the bus needs are free, else in /dev/shm; lookups search the same
 * directories in the same order (every such mount, then /dev/shm), so a
 * bus is found wherever its creator put it.
 *
 * Free pages: a hugetlbfs mount made with size= reports its own limit in
 * statfs; one without (the usual case, e.g. systemd's /dev/hugepages)
 * reports 0 blocks, and its pages are whatever the kernel's pool of that
 * size has free and not reserved by mappings already made.
 */
#include <errno.h>
#include <mntent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include "bus_internal.h"

#define HUGETLBFS_MAGIC_ 0x958458f6
#define DEV_SHM          "/dev/shm"
#define POOL_DIR         "/sys/kernel/mm/hugepages/hugepages-2048kB/"

static uint64_t read_count(const char *file)
{
	char path[128], buf[32];
	snprintf(path, sizeof(path), POOL_DIR "%s", file);
	FILE *f = fopen(path, "re");
	if (!f)
		return 0;
	unsigned long long v = 0;
	if (!fgets(buf, sizeof(buf), f) || sscanf(buf, "%llu", &v) != 1)
		v = 0;
	fclose(f);
	return v;
}

/* Pages of the 2 MiB pool that a new mapping can still reserve. */
static uint64_t pool_available(void)
{
	uint64_t free_pages = read_count("free_hugepages");
	uint64_t resv = read_count("resv_hugepages");
	return free_pages > resv ? free_pages - resv : 0;
}

bool bus_dir_is_hugetlbfs(const char *dir)
{
	struct statfs st;
	return statfs(dir, &st) == 0 && (unsigned long)st.f_type == HUGETLBFS_MAGIC_;
}

uint64_t bus_dir_huge_free(const char *dir)
{
	struct statfs st;
	if (statfs(dir, &st) != 0 || (unsigned long)st.f_type != HUGETLBFS_MAGIC_ ||
	    (uint64_t)st.f_bsize != BUS_HUGE_PAGE)
		return 0;
	uint64_t pages = pool_available();
	if (st.f_blocks && (uint64_t)st.f_bfree < pages) /* a mount with size= */
		pages = st.f_bfree;
	return pages * BUS_HUGE_PAGE;
}

int shmbus_bus_dirs_each(int (*fn)(const char *dir, void *ctx), void *ctx)
{
	const char *env = getenv("SHMBUS_DIR");
	if (env && *env)
		return fn(env, ctx);
	FILE *f = setmntent("/proc/mounts", "re");
	int rc = 0;
	struct mntent *m;
	dev_t seen[16];
	unsigned nseen = 0;
	while (f && rc == 0 && (m = getmntent(f))) {
		struct statfs sf;
		struct stat st;
		if (strcmp(m->mnt_type, "hugetlbfs") != 0 || statfs(m->mnt_dir, &sf) != 0 ||
		    (uint64_t)sf.f_bsize != BUS_HUGE_PAGE || access(m->mnt_dir, W_OK | X_OK) != 0 ||
		    stat(m->mnt_dir, &st) != 0)
			continue;
		/* one file system mounted twice (a bind mount) is one directory */
		unsigned k = 0;
		while (k < nseen && seen[k] != st.st_dev)
			k++;
		if (k < nseen)
			continue;
		if (nseen < sizeof(seen) / sizeof(seen[0]))
			seen[nseen++] = st.st_dev;
		rc = fn(m->mnt_dir, ctx);
	}
	if (f)
		endmntent(f);
	return rc ? rc : fn(DEV_SHM, ctx);
}

struct dir_pick {
	uint64_t need;    /* bytes of free pages, for bus_dir_for_create */
	const char *name; /* bus to look for, for shmbus_bus_path */
	char *buf;
	size_t len;
	int rc;
};

int bus_path_in(const char *dir, const char *name, char *buf, size_t len)
{
	int n = snprintf(buf, len, "%s/shmbus.%s", dir, name);
	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

/* 1 (stop) at the first directory holding the bus; its path is in buf. */
static int pick_existing(const char *dir, void *ctx)
{
	struct dir_pick *p = ctx;
	p->rc = bus_path_in(dir, p->name, p->buf, p->len);
	return p->rc == 0 && access(p->buf, F_OK) == 0;
}

/* 1 (stop) at the first hugetlbfs mount with p->need bytes of free pages. */
static int pick_free(const char *dir, void *ctx)
{
	struct dir_pick *p = ctx;
	if (strcmp(dir, DEV_SHM) == 0 || bus_dir_huge_free(dir) < p->need)
		return 0;
	int n = snprintf(p->buf, p->len, "%s", dir);
	return n > 0 && (size_t)n < p->len;
}

const char *bus_dir_for_create(uint64_t need, int hugepages, char *buf, size_t len)
{
	const char *env = getenv("SHMBUS_DIR");
	if (env && *env)
		return env;
	struct dir_pick p = {.need = need, .buf = buf, .len = len};
	if (hugepages != SHMBUS_HUGEPAGES_NEVER && shmbus_bus_dirs_each(pick_free, &p) == 1)
		return buf;
	return hugepages == SHMBUS_HUGEPAGES_ALWAYS ? NULL : DEV_SHM;
}

int shmbus_bus_dir(char *buf, size_t len)
{
	const char *env = getenv("SHMBUS_DIR");
	int n = snprintf(buf, len, "%s", env && *env ? env : DEV_SHM);
	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

int shmbus_bus_path(const char *name, char *buf, size_t len)
{
	int rc = bus_check_name("bus", name);
	if (rc)
		return rc;
	struct dir_pick p = {.name = name, .buf = buf, .len = len};
	if (shmbus_bus_dirs_each(pick_existing, &p) == 1)
		return 0;
	if (p.rc)
		return p.rc;
	/* Nowhere yet: the last directory searched (SHMBUS_DIR or /dev/shm). */
	return 0;
}
