/*
 * test_hugetlbfs.c - buses on 2 MiB pages (tests/test_huge.h mounts a
 * private hugetlbfs and makes pages free; as root only, else skipped):
 * - hugepages auto finds a hugetlbfs mount without SHMBUS_DIR, and the
 *   bus is found there by name from another process (a mount without
 *   size= reports no free blocks; the pool's free pages count instead);
 * - SHMBUS_DIR naming a hugetlbfs mount;
 * - a bus larger than the free pages: auto falls back to /dev/shm, always
 *   refuses, a hugetlbfs SHMBUS_DIR refuses and leaves no file;
 * - an anonymous bus with hugepages always is on 2 MiB pages;
 * - the pages go back to the pool when the bus is destroyed.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <sys/statfs.h>

#include "test_huge.h"
#include "test_util.h"

#define HUGETLBFS_MAGIC_ 0x958458f6
#define NEED_PAGES       12 /* the largest bus here (4 MiB arena) takes 3 */
#define N_EVENTS         2000

static int group_setup(void **state)
{
	(void)state;
	return th_setup(NEED_PAGES);
}

static int group_teardown(void **state)
{
	(void)state;
	return th_teardown();
}

static void bus_opts(struct shmbus_bus_opts *o, size_t arena_bytes, int hugepages)
{
	tu_bus_opts(o, 1);
	o->arena_bytes = arena_bytes;
	o->hugepages = hugepages;
	o->prefault = 0; /* a fallback bus in /dev/shm need not touch its pages */
}

static int is_hugetlbfs_file(const char *path)
{
	char dir[512];
	struct statfs st;
	snprintf(dir, sizeof(dir), "%s", path);
	char *slash = strrchr(dir, '/');
	if (!slash)
		return 0;
	*slash = '\0';
	return statfs(dir, &st) == 0 && (unsigned long)st.f_type == HUGETLBFS_MAGIC_;
}

static off_t file_size(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 ? st.st_size : -1;
}

/* In a child: publish N_EVENTS trades on bus. */
static int publish_trades(shmbus_bus *bus)
{
	shmbus_producer *p;
	TU_CHILD_CHECK(shmbus_producer_open(bus, NULL, &p) == 0);
	for (int i = 0; i < N_EVENTS; i++) {
		struct shmbus_trade t = tu_trade(1, 100.0 + i);
		TU_CHILD_CHECK(shmbus_publish(p, &t) == 1);
	}
	shmbus_producer_close(p);
	return 0;
}

/* In a child: attach bus `name` by name, as another process would. */
static int publish_by_name(void *arg)
{
	const char *name = arg;
	shmbus_bus *bus;
	TU_CHILD_CHECK(shmbus_bus_open(name, "hp-child", SHMBUS_ROLE_PRODUCER, &bus) == 0);
	TU_CHILD_CHECK(shmbus_bus_backing(bus) == SHMBUS_BACKING_HUGETLBFS);
	publish_trades(bus);
	TU_CHILD_CHECK(shmbus_bus_close(bus) == 0);
	return 0;
}

/* In a child: the anonymous bus inherited through fork. */
static int publish_inherited(void *arg)
{
	return publish_trades(arg);
}

/* A consumer on bus, a child running publish(arg): every event, in order. */
static void expect_exchange(shmbus_bus *bus, int (*publish)(void *), void *arg)
{
	struct shmbus_sub_opts so;
	shmbus_consumer *c;
	struct tu_sink s;
	tu_sub_opts(&so, 4096, 64, SHMBUS_POLICY_BLOCK);
	assert_int_equal(shmbus_subscribe(bus, "hp-ring", &so, &c), 0);
	assert_true(tu_exited_ok(tu_run_in_child(publish, arg, 30000)));
	tu_sink_init(&s, N_EVENTS + 1);
	assert_int_equal(tu_poll_until(c, &s, N_EVENTS, 10000), N_EVENTS);
	for (size_t i = 0; i < s.n; i++) {
		const struct shmbus_trade *t = (const void *)s.ev[i].bytes;
		assert_true(t->price == 100.0 + (double)i);
	}
	tu_sink_free(&s);
	shmbus_consumer_close(c);
}

struct dir_list {
	char dirs[8][256];
	int n;
};

static int collect_dir(const char *dir, void *ctx)
{
	struct dir_list *l = ctx;
	if (l->n < 8)
		snprintf(l->dirs[l->n++], sizeof(l->dirs[0]), "%s", dir);
	return 0;
}

static void test_hugetlbfs_auto_finds_the_mount(void **state)
{
	(void)state;
	TH_REQUIRE_MOUNT();
	unsetenv("SHMBUS_DIR");
	char name[32], path[512];
	snprintf(name, sizeof(name), "hp-auto-%d", (int)getpid());
	long long before = th_available();

	/* Searched: every hugetlbfs mount, then /dev/shm last. */
	struct dir_list l = {.n = 0};
	assert_int_equal(shmbus_bus_dirs_each(collect_dir, &l), 0);
	int mine = -1;
	for (int i = 0; i < l.n; i++)
		if (strcmp(l.dirs[i], th_mount) == 0)
			mine = i;
	assert_true(mine >= 0);
	assert_true(l.n >= 2);
	assert_string_equal(l.dirs[l.n - 1], "/dev/shm");
	/* The same mount at a second path (a bind mount) is searched once. */
	char bind[] = "/tmp/shmbus-huge-bind-XXXXXX";
	assert_non_null(mkdtemp(bind));
	if (mount(th_mount, bind, NULL, MS_BIND, NULL) == 0) {
		struct dir_list l2 = {.n = 0};
		assert_int_equal(shmbus_bus_dirs_each(collect_dir, &l2), 0);
		umount(bind);
		assert_int_equal(l2.n, l.n);
	}
	rmdir(bind);

	struct shmbus_bus_opts o;
	shmbus_bus *bus;
	bus_opts(&o, 4 << 20, SHMBUS_HUGEPAGES_AUTO);
	int rc = shmbus_bus_create(name, &o, &bus);
	if (rc)
		fprintf(stderr, "create: %s\n", shmbus_errmsg());
	assert_int_equal(rc, 0);
	assert_int_equal(shmbus_bus_backing(bus), SHMBUS_BACKING_HUGETLBFS);
	assert_int_equal(shmbus_bus_path(name, path, sizeof(path)), 0);
	assert_true(is_hugetlbfs_file(path));
	assert_true(file_size(path) > 0 && file_size(path) % (off_t)TH_PAGE == 0);
	assert_true(th_available() < before);
	expect_exchange(bus, publish_by_name, name);
	assert_int_equal(shmbus_bus_close(bus), 0);
	assert_int_equal(shmbus_bus_destroy(name), 0);
	assert_int_equal(file_size(path), -1);
	assert_int_equal(th_available(), before);
}

static void test_hugetlbfs_dir_named_by_env(void **state)
{
	(void)state;
	TH_REQUIRE_MOUNT();
	setenv("SHMBUS_DIR", th_mount, 1);
	char path[512];
	struct shmbus_bus_opts o;
	shmbus_bus *bus;
	bus_opts(&o, 4 << 20, SHMBUS_HUGEPAGES_ALWAYS);
	assert_int_equal(shmbus_bus_create("hp-env", &o, &bus), 0);
	assert_int_equal(shmbus_bus_backing(bus), SHMBUS_BACKING_HUGETLBFS);
	assert_int_equal(shmbus_bus_path("hp-env", path, sizeof(path)), 0);
	assert_int_equal(strncmp(path, th_mount, strlen(th_mount)), 0);
	expect_exchange(bus, publish_by_name, "hp-env");
	assert_int_equal(shmbus_bus_close(bus), 0);
	assert_int_equal(shmbus_bus_destroy("hp-env"), 0);
	unsetenv("SHMBUS_DIR");
}

static void test_hugetlbfs_bus_larger_than_the_free_pages(void **state)
{
	(void)state;
	TH_REQUIRE_MOUNT();
	long long avail = th_available();
	size_t arena = (size_t)(avail + 2) * TH_PAGE;
	if (arena > ((size_t)2 << 30)) {
		print_message("skipped: %lld pages free, a bus larger than that is too big here\n",
		              avail);
		skip();
		return;
	}
	char name[32], path[512];
	struct shmbus_bus_opts o;
	shmbus_bus *bus;
	snprintf(name, sizeof(name), "hp-big-%d", (int)getpid());

	/* auto: /dev/shm instead */
	unsetenv("SHMBUS_DIR");
	bus_opts(&o, arena, SHMBUS_HUGEPAGES_AUTO);
	assert_int_equal(shmbus_bus_create(name, &o, &bus), 0);
	assert_int_equal(shmbus_bus_backing(bus), SHMBUS_BACKING_SHM);
	assert_int_equal(shmbus_bus_path(name, path, sizeof(path)), 0);
	assert_int_equal(strncmp(path, "/dev/shm/", 9), 0);
	assert_int_equal(shmbus_bus_close(bus), 0);
	assert_int_equal(shmbus_bus_destroy(name), 0);

	/* always: refused, naming the need */
	o.hugepages = SHMBUS_HUGEPAGES_ALWAYS;
	assert_int_equal(shmbus_bus_create(name, &o, &bus), -ENOMEM);
	assert_non_null(strstr(shmbus_errmsg(), "no hugetlbfs mount has"));
	assert_int_equal(shmbus_bus_path(name, path, sizeof(path)), 0);
	assert_int_equal(file_size(path), -1);

	/* the mount named by SHMBUS_DIR: refused, and no file left there */
	setenv("SHMBUS_DIR", th_mount, 1);
	o.hugepages = SHMBUS_HUGEPAGES_AUTO;
	assert_int_equal(shmbus_bus_create(name, &o, &bus), -ENOMEM);
	assert_non_null(strstr(shmbus_errmsg(), th_mount));
	assert_int_equal(shmbus_bus_path(name, path, sizeof(path)), 0);
	assert_int_equal(file_size(path), -1);
	unsetenv("SHMBUS_DIR");
	assert_int_equal(th_available(), avail);
}

static void test_hugetlbfs_anonymous_always(void **state)
{
	(void)state;
	TH_REQUIRE_MOUNT();
	long long before = th_available();
	struct shmbus_bus_opts o;
	shmbus_bus *bus;
	bus_opts(&o, 4 << 20, SHMBUS_HUGEPAGES_ALWAYS);
	assert_int_equal(shmbus_bus_create(NULL, &o, &bus), 0);
	assert_int_equal(shmbus_bus_backing(bus), SHMBUS_BACKING_HUGETLBFS);
	assert_true(th_available() < before);

	expect_exchange(bus, publish_inherited, bus);
	assert_int_equal(shmbus_bus_close(bus), 0);
	assert_int_equal(th_available(), before);

	/* auto leaves an anonymous bus on small pages */
	o.hugepages = SHMBUS_HUGEPAGES_AUTO;
	assert_int_equal(shmbus_bus_create(NULL, &o, &bus), 0);
	assert_int_equal(shmbus_bus_backing(bus), SHMBUS_BACKING_ANON);
	assert_int_equal(th_available(), before);
	assert_int_equal(shmbus_bus_close(bus), 0);
}

int main(void)
{
	alarm(120);
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_hugetlbfs_auto_finds_the_mount),
	    cmocka_unit_test(test_hugetlbfs_dir_named_by_env),
	    cmocka_unit_test(test_hugetlbfs_bus_larger_than_the_free_pages),
	    cmocka_unit_test(test_hugetlbfs_anonymous_always),
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
