/*
 * test_huge.h - a private hugetlbfs mount with pages free, for the tests
 * of buses on 2 MiB pages. Header-only; tests/ is on every include path.
 *
 * th_setup() mounts hugetlbfs (pagesize=2M, no size limit: the mount draws
 * on the kernel's pool, as systemd's /dev/hugepages does) on a fresh
 * directory and, when fewer than `pages` pages are free, raises
 * vm.nr_hugepages by the difference; th_teardown() unmounts it and puts
 * vm.nr_hugepages back. Both need root. Where something cannot be done (not
 * root, no hugetlb in the kernel, a container without mount rights, memory
 * too fragmented for the pages), th_skip_reason says why and the tests skip.
 */
#ifndef SHMBUS_TEST_HUGE_H
#define SHMBUS_TEST_HUGE_H

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <unistd.h>

#define TH_PAGE     (2ull << 20)
#define TH_NR_PAGES "/proc/sys/vm/nr_hugepages"
#define TH_POOL     "/sys/kernel/mm/hugepages/hugepages-2048kB/"

static char th_mount[64];         /* the hugetlbfs mount, "" when none */
static char th_skip_reason[160];  /* why the tests skip, "" when they run */
static long long th_nr_orig = -1; /* vm.nr_hugepages before th_setup */

static inline long long th_read(const char *path)
{
	FILE *f = fopen(path, "re");
	long long v = -1;
	if (f) {
		if (fscanf(f, "%lld", &v) != 1)
			v = -1;
		fclose(f);
	}
	return v;
}

static inline int th_write(const char *path, long long v)
{
	FILE *f = fopen(path, "we");
	if (!f)
		return -1;
	int ok = fprintf(f, "%lld\n", v) > 0;
	return fclose(f) == 0 && ok ? 0 : -1;
}

/* Pages of 2 MiB that a new mapping can reserve now. */
static inline long long th_available(void)
{
	long long free_pages = th_read(TH_POOL "free_hugepages");
	long long resv = th_read(TH_POOL "resv_hugepages");
	return free_pages < 0 || resv < 0 ? -1 : free_pages - resv;
}

static inline int th_setup(long long pages)
{
	char dir[] = "/tmp/shmbus-huge-XXXXXX";
	th_skip_reason[0] = th_mount[0] = '\0';
	if (geteuid() != 0) {
		snprintf(th_skip_reason, sizeof(th_skip_reason),
		         "not root (mounting hugetlbfs and reserving pages need it)");
		return 0;
	}
	th_nr_orig = th_read(TH_NR_PAGES);
	long long avail = th_available();
	if (th_nr_orig < 0 || avail < 0) {
		snprintf(th_skip_reason, sizeof(th_skip_reason), "no 2 MiB hugetlb pool (%s, %s)",
		         TH_NR_PAGES, TH_POOL);
		return 0;
	}
	if (avail < pages &&
	    (th_write(TH_NR_PAGES, th_nr_orig + pages - avail) != 0 || th_available() < pages)) {
		snprintf(th_skip_reason, sizeof(th_skip_reason),
		         "could not make %lld pages of 2 MiB free through %s (%lld are)", pages,
		         TH_NR_PAGES, th_available());
		th_write(TH_NR_PAGES, th_nr_orig);
		return 0;
	}
	if (!mkdtemp(dir)) {
		snprintf(th_skip_reason, sizeof(th_skip_reason), "mkdtemp: %s", strerror(errno));
		return 0;
	}
	if (mount("none", dir, "hugetlbfs", 0, "pagesize=2M") != 0) {
		snprintf(th_skip_reason, sizeof(th_skip_reason), "mount -t hugetlbfs on %s: %s",
		         dir, strerror(errno));
		rmdir(dir);
		th_write(TH_NR_PAGES, th_nr_orig);
		return 0;
	}
	snprintf(th_mount, sizeof(th_mount), "%s", dir);
	return 0;
}

/* In a cmocka test: skip, saying why, when th_setup could not prepare. */
#define TH_REQUIRE_MOUNT()                                                                         \
	do {                                                                                       \
		if (th_skip_reason[0]) {                                                           \
			print_message("skipped: %s\n", th_skip_reason);                            \
			skip();                                                                    \
			return;                                                                    \
		}                                                                                  \
	} while (0)

static inline int th_teardown(void)
{
	if (th_mount[0]) {
		if (umount(th_mount) != 0)
			umount2(th_mount, MNT_DETACH);
		rmdir(th_mount);
		th_mount[0] = '\0';
	}
	if (th_nr_orig >= 0 && th_read(TH_NR_PAGES) != th_nr_orig)
		th_write(TH_NR_PAGES, th_nr_orig);
	return 0;
}

#endif
