/*
 * test_segment.c - the bus segment: create / open / close / destroy, file
 * permissions, name and option validation, refusal of foreign, old,
 * truncated or corrupted segments, anonymous buses, the participants
 * table and the error strings.
 *
 * Corruption tests patch the bus file directly; they locate the version
 * and layout-hash fields through the private src/ring/layout.h. Anything
 * that could crash runs in a forked child so a crash is reported as a
 * failed test with its signal, not as a dead test runner.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <pthread.h>

#include "ring/bus_internal.h" /* ring_test_hook */
#include "ring/layout.h"
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/resource.h>

#include "ring/test_util.h"

static void bus_file(const char *name, char *buf, size_t len)
{
	assert_int_equal(shmbus_bus_path(name, buf, len), 0);
}

static off_t file_size(const char *path)
{
	struct stat st;
	assert_int_equal(stat(path, &st), 0);
	return st.st_size;
}

static void pwrite_all(const char *path, const void *buf, size_t len, off_t off)
{
	int fd = open(path, O_WRONLY);
	assert_true(fd >= 0);
	assert_int_equal(pwrite(fd, buf, len, off), (ssize_t)len);
	close(fd);
}

static void pread_all(const char *path, void *buf, size_t len, off_t off)
{
	int fd = open(path, O_RDONLY);
	assert_true(fd >= 0);
	assert_int_equal(pread(fd, buf, len, off), (ssize_t)len);
	close(fd);
}

/* Create a bus named `name`, leave it closed (the file stays). */
static void make_closed_bus(const char *name)
{
	shmbus_bus *bus;
	assert_int_equal(tu_bus_create(name, 4, &bus), 0);
	assert_int_equal(shmbus_bus_close(bus), 0);
}

/* Create, attach, close, destroy; the file lives exactly that long. */
static void test_segment_lifecycle(void **state)
{
	mode_t old = umask(022); /* 0660 must not depend on the umask */
	shmbus_bus *bus, *peer;
	int rc = tu_bus_create("life", 4, &bus);
	umask(old);
	assert_int_equal(rc, 0);
	char path[256], dir[256];
	bus_file("life", path, sizeof path);
	assert_int_equal(shmbus_bus_dir(dir, sizeof dir), 0);
	assert_string_equal(dir, tu_dir_path);
	assert_int_equal(strncmp(path, tu_dir_path, strlen(tu_dir_path)), 0);
	struct stat st;
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0660);
	assert_string_equal(shmbus_bus_name(bus), "life");
	assert_int_equal(shmbus_bus_backing(bus), SHMBUS_BACKING_SHM);
	assert_non_null(shmbus_backing_name(SHMBUS_BACKING_SHM));

	assert_int_equal(shmbus_bus_open("life", "peer", SHMBUS_ROLE_CLIENT, &peer), 0);
	struct shmbus_bus_info bi;
	assert_int_equal(shmbus_stat_bus(peer, &bi), 0);
	assert_string_equal(bi.name, "life");
	assert_int_equal(bi.creator_pid, getpid());
	assert_int_equal(bi.abi_version, SB_ABI_VERSION);
	assert_int_equal(bi.max_rings, 16);
	assert_int_equal(bi.max_symbols, 1024);
	assert_true(bi.arena_bytes >= (4u << 20));
	assert_true(bi.total_bytes >= bi.arena_bytes);
	assert_int_equal(bi.total_bytes, (uint64_t)st.st_size);
	assert_int_equal(bi.kept, 0);
	assert_int_equal(shmbus_bus_set_kept(bus, 1), 0); /* one process marks, another sees */
	assert_int_equal(shmbus_stat_bus(peer, &bi), 0);
	assert_int_equal(bi.kept, 1);
	assert_int_equal(shmbus_bus_set_kept(peer, 0), 0);
	assert_int_equal(shmbus_stat_bus(bus, &bi), 0);
	assert_int_equal(bi.kept, 0);
	assert_int_equal(shmbus_bus_close(peer), 0);
	assert_int_equal(shmbus_bus_close(bus), 0);

	assert_int_equal(stat(path, &st), 0); /* closing keeps the bus */
	assert_int_equal(shmbus_bus_open("life", NULL, SHMBUS_ROLE_TOOL, &bus), 0);
	assert_int_equal(shmbus_bus_destroy("life"), 0);
	assert_int_equal(stat(path, &st), -1);
	/* an attached handle keeps working after destroy */
	assert_int_equal(shmbus_stat_bus(bus, &bi), 0);
	assert_int_equal(shmbus_bus_close(bus), 0);
	assert_int_equal(shmbus_bus_open("life", NULL, SHMBUS_ROLE_CLIENT, &bus), -ENOENT);
	assert_int_equal(shmbus_bus_destroy("life"), -ENOENT);
}

/* opts.mode sets the file permissions. */
static void test_segment_mode_option(void **state)
{
	struct shmbus_bus_opts o;
	tu_bus_opts(&o, 4);
	o.mode = 0600;
	shmbus_bus *bus;
	assert_int_equal(shmbus_bus_create("private", &o, &bus), 0);
	char path[256];
	bus_file("private", path, sizeof path);
	struct stat st;
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(shmbus_bus_close(bus), 0);
}

/* hugepages always is a promise of 2 MiB pages: a SHMBUS_DIR that is no
 * hugetlbfs mount (this test's is tmpfs) is refused, not used silently. */
static void test_segment_hugepages_always_needs_hugetlbfs(void **state)
{
	struct shmbus_bus_opts o;
	shmbus_bus *bus;
	(void)state;
	tu_bus_opts(&o, 4);
	o.hugepages = SHMBUS_HUGEPAGES_ALWAYS;
	assert_int_equal(shmbus_bus_create("always", &o, &bus), -ENOMEM);
	assert_non_null(strstr(shmbus_errmsg(), "is not a hugetlbfs mount"));
	assert_int_equal(tu_dir_entries(), 0);
}

/* Create bus "full" of arena_mib in SHMBUS_DIR in a child (a SIGBUS ends
 * it, not the test): its exit status says whether that was -ENOSPC, with
 * the message naming the room missing. */
static void expect_no_room(uint32_t arena_mib, int prefault)
{
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct shmbus_bus_opts o;
		shmbus_bus *bus;
		shmbus_bus_opts_init(&o);
		o.arena_bytes = (uint64_t)arena_mib << 20;
		o.prefault = prefault;
		int rc = shmbus_bus_create("full", &o, &bus);
		if (rc != -ENOSPC || !strstr(shmbus_errmsg(), "no room for"))
			fprintf(stderr, "create -> %d (%s)\n", rc, shmbus_errmsg());
		_exit(rc == -ENOSPC && strstr(shmbus_errmsg(), "no room for") ? 0 : 1);
	}
	int st;
	assert_int_equal(waitpid(pid, &st, 0), pid);
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
		fail_msg("a %u MiB bus in a 4 MiB directory, prefault %d: %s %d", arena_mib, prefault,
			 WIFSIGNALED(st) ? "killed by signal" : "exit status",
			 WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st));
}

/* A bus directory too full for the bus: -ENOSPC at create, no file left.
 * tmpfs gives a page only at its first touch, so the prefault (or, without
 * it, a write at any time later, in any process) was a SIGBUS. Needs a
 * small tmpfs of its own: mounted here (root), else skipped. */
static void test_segment_full_directory_is_enospc(void **state)
{
	char dir[] = "/tmp/shmbus-full-XXXXXX", *old = NULL;
	(void)state;
	assert_non_null(mkdtemp(dir));
	if (mount("tmpfs", dir, "tmpfs", 0, "size=4m") != 0) {
		printf("SKIP: mounting a 4 MiB tmpfs on %s: %s\n", dir, strerror(errno));
		rmdir(dir);
		skip();
	}
	if (getenv("SHMBUS_DIR"))
		old = strdup(getenv("SHMBUS_DIR"));
	setenv("SHMBUS_DIR", dir, 1);
	expect_no_room(16, 1);
	expect_no_room(16, 0);
	char probe[600];
	snprintf(probe, sizeof(probe), "%s/shmbus.full", dir);
	assert_int_not_equal(access(probe, F_OK), 0); /* nothing left behind */
	/* a bus that fits is made there as before */
	shmbus_bus *bus;
	assert_int_equal(tu_bus_create("fits", 1, &bus), 0);
	assert_int_equal(shmbus_bus_close(bus), 0);
	assert_int_equal(shmbus_bus_destroy("fits"), 0);
	if (old) {
		setenv("SHMBUS_DIR", old, 1);
		free(old);
	} else {
		unsetenv("SHMBUS_DIR");
	}
	assert_int_equal(umount2(dir, MNT_DETACH), 0);
	rmdir(dir);
}

/* A second create fails with -EEXIST and leaves the first bus intact. */
static void test_segment_create_twice_eexist(void **state)
{
	shmbus_bus *a, *b = NULL;
	assert_int_equal(tu_bus_create("twice", 4, &a), 0);
	int64_t id = shmbus_symbol_intern(a, "SPY", 3);
	assert_true(id >= 1);
	assert_int_equal(tu_bus_create("twice", 4, &b), -EEXIST);
	assert_int_equal(shmbus_bus_open("twice", "late", SHMBUS_ROLE_CLIENT, &b), 0);
	assert_int_equal(shmbus_symbol_lookup(b, "SPY", 3), id);
	assert_int_equal(shmbus_bus_close(b), 0);
	assert_int_equal(shmbus_bus_close(a), 0);
}

static void test_segment_open_missing_enoent(void **state)
{
	shmbus_bus *bus = NULL;
	assert_int_equal(shmbus_bus_open("nope", NULL, SHMBUS_ROLE_CLIENT, &bus), -ENOENT);
	assert_int_equal(shmbus_bus_open_readonly("nope", &bus), -ENOENT);
	assert_int_equal(shmbus_bus_destroy("nope"), -ENOENT);
}

/* Bad bus names: -EINVAL, a detail message, and no file left behind. */
static void test_segment_bad_names(void **state)
{
	char longname[SHMBUS_NAME_MAX + 2];
	memset(longname, 'n', sizeof longname - 1);
	longname[sizeof longname - 1] = '\0';
	const char *bad[] = {"",      longname, "a/b",        "/abs",       "a b",
	                     " lead", "tab\t",  "semi;colon", "caf\xc3\xa9"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		shmbus_bus *bus = NULL;
		int rc = tu_bus_create(bad[i], 4, &bus);
		if (rc != -EINVAL)
			fail_msg("create \"%s\": %d, want -EINVAL", bad[i], rc);
		if (shmbus_errmsg()[0] == '\0')
			fail_msg("create \"%s\": empty shmbus_errmsg()", bad[i]);
		assert_true(shmbus_bus_open(bad[i], NULL, SHMBUS_ROLE_CLIENT, &bus) < 0);
	}
	assert_int_equal(tu_dir_entries(), 0);
	/* the longest legal name and every legal character */
	longname[SHMBUS_NAME_MAX] = '\0';
	shmbus_bus *bus;
	assert_int_equal(tu_bus_create(longname, 4, &bus), 0);
	assert_int_equal(shmbus_bus_close(bus), 0);
	assert_int_equal(tu_bus_create("Az09._-", 4, &bus), 0);
	assert_int_equal(shmbus_bus_close(bus), 0);
}

static void expect_opts_einval(const struct shmbus_bus_opts *o, const char *what)
{
	shmbus_bus *bus = NULL;
	int rc = shmbus_bus_create("opts", o, &bus);
	if (rc != -EINVAL)
		fail_msg("%s: create returned %d, want -EINVAL", what, rc);
	if (shmbus_errmsg()[0] == '\0')
		fail_msg("%s: empty shmbus_errmsg()", what);
}

/* Bad options: -EINVAL with a message; the limits themselves are fine. */
static void test_segment_bad_options(void **state)
{
	struct shmbus_bus_opts o;
	tu_bus_opts(&o, 4);
	o.max_symbols = 3;
	expect_opts_einval(&o, "max_symbols 3");
	o.max_symbols = 1000;
	expect_opts_einval(&o, "max_symbols 1000");
	tu_bus_opts(&o, 4);
	o.arena_bytes = 1;
	expect_opts_einval(&o, "arena 1 byte");
	tu_bus_opts(&o, 4);
	o.max_rings = 0;
	expect_opts_einval(&o, "max_rings 0");
	o.max_rings = 1025;
	expect_opts_einval(&o, "max_rings 1025");
	tu_bus_opts(&o, 4);
	o.hugepages = 9;
	expect_opts_einval(&o, "hugepages 9");
	assert_int_equal(tu_dir_entries(), 0);

	tu_bus_opts(&o, 4);
	o.max_rings = 1024;
	shmbus_bus *bus;
	assert_int_equal(shmbus_bus_create("opts", &o, &bus), 0);
	struct shmbus_bus_info bi;
	assert_int_equal(shmbus_stat_bus(bus, &bi), 0);
	assert_int_equal(bi.max_rings, 1024);
	assert_int_equal(shmbus_bus_close(bus), 0);
}

/* Set a file's modification time to `secs` seconds ago. */
static void backdate(const char *path, int secs)
{
	struct timespec ts[2];
	clock_gettime(CLOCK_REALTIME, &ts[0]);
	ts[0].tv_sec -= secs;
	ts[1] = ts[0];
	assert_int_equal(utimensat(AT_FDCWD, path, ts, 0), 0);
}

/* A file that is not a bus: SHMBUS_EBADMAGIC; empty file: an error. */
static void test_segment_bad_magic(void **state)
{
	char path[256];
	bus_file("junk", path, sizeof path);
	int fd = open(path, O_CREAT | O_WRONLY, 0660);
	assert_true(fd >= 0);
	char buf[4096];
	memset(buf, 0xA5, sizeof buf);
	for (int i = 0; i < 64; i++)
		assert_int_equal(write(fd, buf, sizeof buf), (ssize_t)sizeof buf);
	close(fd);
	shmbus_bus *bus = NULL;
	assert_int_equal(shmbus_bus_open("junk", NULL, SHMBUS_ROLE_CLIENT, &bus), SHMBUS_EBADMAGIC);
	assert_true(shmbus_errmsg()[0] != '\0');
	assert_int_equal(shmbus_bus_open_readonly("junk", &bus), SHMBUS_EBADMAGIC);

	/* empty and old: a creator that died before sizing it (refused at
	 * once; a young one is waited for, see test_segment_open_races_create) */
	bus_file("empty", path, sizeof path);
	fd = open(path, O_CREAT | O_WRONLY, 0660);
	assert_true(fd >= 0);
	close(fd);
	backdate(path, 60);
	assert_int_equal(shmbus_bus_open("empty", NULL, SHMBUS_ROLE_CLIENT, &bus), SHMBUS_ECORRUPT);
	assert_non_null(strstr(shmbus_errmsg(), "died while building"));
	assert_int_equal(shmbus_bus_open_readonly("empty", &bus), SHMBUS_ECORRUPT);
}

/* What is not a regular file at a bus's path is SHMBUS_EBADMAGIC for both
 * opens, as bus.h says: a directory was -EISDIR for a read-write open,
 * whose open(2) refuses it before the file type is looked at. */
static void test_segment_not_a_regular_file(void **state)
{
	(void)state;
	char path[256];
	shmbus_bus *bus = NULL;
	bus_file("adir", path, sizeof path);
	assert_int_equal(mkdir(path, 0770), 0);
	assert_int_equal(shmbus_bus_open("adir", NULL, SHMBUS_ROLE_CLIENT, &bus), SHMBUS_EBADMAGIC);
	assert_non_null(strstr(shmbus_errmsg(), "not a regular file"));
	assert_int_equal(shmbus_bus_open_readonly("adir", &bus), SHMBUS_EBADMAGIC);
	assert_int_equal(rmdir(path), 0);
	bus_file("afifo", path, sizeof path);
	assert_int_equal(mkfifo(path, 0660), 0);
	assert_int_equal(shmbus_bus_open("afifo", NULL, SHMBUS_ROLE_CLIENT, &bus), SHMBUS_EBADMAGIC);
	assert_int_equal(shmbus_bus_open_readonly("afifo", &bus), SHMBUS_EBADMAGIC);
	assert_int_equal(unlink(path), 0);
}

/* Another ABI version: SHMBUS_EVERSION. */
static void test_segment_version_mismatch(void **state)
{
	make_closed_bus("oldver");
	char path[256];
	bus_file("oldver", path, sizeof path);
	uint64_t magic;
	pread_all(path, &magic, sizeof magic, 0);
	assert_int_equal(magic, SB_MAGIC);
	uint32_t v;
	pread_all(path, &v, sizeof v, offsetof(struct sb, abi_version));
	assert_int_equal(v, SB_ABI_VERSION);
	v = SB_ABI_VERSION + 1;
	pwrite_all(path, &v, sizeof v, offsetof(struct sb, abi_version));
	shmbus_bus *bus = NULL;
	assert_int_equal(shmbus_bus_open("oldver", NULL, SHMBUS_ROLE_CLIENT, &bus),
	                 SHMBUS_EVERSION);
	assert_true(shmbus_errmsg()[0] != '\0');
	assert_int_equal(shmbus_bus_open_readonly("oldver", &bus), SHMBUS_EVERSION);
}

/* Another layout hash: SHMBUS_ELAYOUT. */
static void test_segment_layout_mismatch(void **state)
{
	make_closed_bus("otherlayout");
	char path[256];
	bus_file("otherlayout", path, sizeof path);
	uint64_t h;
	pread_all(path, &h, sizeof h, offsetof(struct sb, layout_hash));
	shmbus_bus *bus;
	assert_int_equal(shmbus_bus_open_readonly("otherlayout", &bus), 0);
	struct shmbus_bus_info bi;
	assert_int_equal(shmbus_stat_bus(bus, &bi), 0);
	assert_int_equal(bi.layout_hash, h);
	assert_int_equal(shmbus_bus_close(bus), 0);
	h ^= 0x10;
	pwrite_all(path, &h, sizeof h, offsetof(struct sb, layout_hash));
	assert_int_equal(shmbus_bus_open("otherlayout", NULL, SHMBUS_ROLE_CLIENT, &bus),
	                 SHMBUS_ELAYOUT);
	assert_true(shmbus_errmsg()[0] != '\0');
	assert_int_equal(shmbus_bus_open_readonly("otherlayout", &bus), SHMBUS_ELAYOUT);
}

struct open_arg {
	const char *name;
	int readonly;
	int stat_all; /* after a successful open, walk every stat entry */
};

static int check_str(const char *s, size_t cap)
{
	return memchr(s, '\0', cap) != NULL;
}

/* Child body: open (read-only or not); walk stats; 0 = no crash. */
static int open_and_walk(void *argp)
{
	const struct open_arg *a = argp;
	shmbus_bus *bus = NULL;
	int rc = a->readonly ? shmbus_bus_open_readonly(a->name, &bus)
	                     : shmbus_bus_open(a->name, "prober", SHMBUS_ROLE_TOOL, &bus);
	if (rc != 0)
		return 10; /* refused: what the caller usually expects */
	if (a->stat_all) {
		struct shmbus_bus_info bi;
		if (shmbus_stat_bus(bus, &bi) == 0)
			TU_CHILD_CHECK(check_str(bi.name, sizeof bi.name));
		for (uint32_t i = 0; i < 4096; i++) {
			struct shmbus_ring_stat rs;
			rc = shmbus_stat_ring(bus, i, &rs);
			if (rc == -ERANGE)
				break;
			TU_CHILD_CHECK(rc == 0 || rc == -ENOENT || rc == SHMBUS_ECORRUPT);
			if (rc == 0) {
				TU_CHILD_CHECK(check_str(rs.name, sizeof rs.name));
				TU_CHILD_CHECK(check_str(rs.group, sizeof rs.group));
				TU_CHILD_CHECK(rs.state <= SHMBUS_RING_ORPHANED);
				TU_CHILD_CHECK(shmbus_ring_state_name(rs.state) != NULL);
			}
		}
		for (uint32_t i = 0; i < 4096; i++) {
			struct shmbus_participant_stat ps;
			rc = shmbus_stat_participant(bus, i, &ps);
			if (rc == -ERANGE)
				break;
			if (rc == 0) {
				TU_CHILD_CHECK(check_str(ps.name, sizeof ps.name));
				TU_CHILD_CHECK(ps.state <= SHMBUS_PART_GONE);
				shmbus_role_name(ps.role); /* any role value: no crash */
			}
		}
		for (uint32_t i = 0; i < 4096; i++) {
			struct shmbus_producer_stat pr;
			if (shmbus_stat_producer(bus, i, &pr) == -ERANGE)
				break;
		}
		shmbus_stat_find_ring(bus, "r0");
		char name[SHMBUS_SYMBOL_MAX + 1];
		shmbus_symbol_lookup(bus, "SPY", 3);
		for (uint32_t id = 0; id < 40; id++)
			if (shmbus_symbol_name(bus, id, name, sizeof name) >= 0)
				TU_CHILD_CHECK(check_str(name, sizeof name));
		shmbus_symbol_count(bus);
	}
	shmbus_bus_close(bus);
	return 0;
}

/* Child status: 10 refused cleanly, 0 opened (and walked); else fail. */
static int probe(const char *name, int readonly, int stat_all)
{
	struct open_arg a = {name, readonly, stat_all};
	int st = tu_run_in_child(open_and_walk, &a, 10000);
	if (st == -1)
		fail_msg("open of \"%s\" hung", name);
	if (WIFSIGNALED(st))
		fail_msg("open/stat of \"%s\" crashed: %s", name, strsignal(WTERMSIG(st)));
	if (!WIFEXITED(st))
		fail_msg("bad child status %d", st);
	return WEXITSTATUS(st);
}

/*
 * An opener racing the creator of the same bus waits for it: the file
 * exists, empty and then all zero, before its superblock is published,
 * and open() failed with SHMBUS_EBADMAGIC or SHMBUS_ECORRUPT then (found
 * by a walk through the API). The opener child retries only on ENOENT,
 * as a service started beside the creator does; a prefaulted 64 MiB bus
 * keeps the window wide. Each of several rounds must attach.
 */
static void test_segment_open_races_create(void **state)
{
	for (int round = 0; round < 8; round++) {
		pid_t pid = fork();
		assert_true(pid >= 0);
		if (pid == 0) {
			alarm(20);
			shmbus_bus *b = NULL;
			int rc;
			while ((rc = shmbus_bus_open("race", "opener", SHMBUS_ROLE_CLIENT, &b)) ==
			       -ENOENT)
				;
			if (rc != 0)
				fprintf(stderr, "round %d: open -> %s (%s)\n", round,
					shmbus_strerror(rc), shmbus_errmsg());
			_exit(rc == 0 && shmbus_bus_close(b) == 0 ? 0 : 1);
		}
		usleep(2000 + round * 3000);
		struct shmbus_bus_opts o;
		shmbus_bus_opts_init(&o);
		o.arena_bytes = 64u << 20;
		o.prefault = 1;
		shmbus_bus *bus;
		assert_int_equal(shmbus_bus_create("race", &o, &bus), 0);
		int st;
		assert_int_equal(waitpid(pid, &st, 0), pid);
		if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
			fail_msg("round %d: the opener failed (status 0x%x)", round, st);
		assert_int_equal(shmbus_bus_close(bus), 0);
		assert_int_equal(shmbus_bus_destroy("race"), 0);
	}
}

/* A bus file sized but never built, by a creator that died: refused with
 * a message that says so, after the grace while the file is young. */
static void test_segment_abandoned_build(void **state)
{
	char path[256];
	bus_file("dead", path, sizeof path);
	int fd = open(path, O_CREAT | O_RDWR, 0660);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, 1 << 20), 0);
	close(fd);
	shmbus_bus *bus = NULL;
	int64_t t0 = shmbus_now_ns();
	assert_int_equal(shmbus_bus_open("dead", NULL, SHMBUS_ROLE_CLIENT, &bus), SHMBUS_ECORRUPT);
	int64_t waited = shmbus_now_ns() - t0;
	assert_non_null(strstr(shmbus_errmsg(), "not initialised"));
	assert_non_null(strstr(shmbus_errmsg(), "died while building"));
	assert_true(waited >= 1000000000LL); /* young: waited for its creator */
	assert_null(bus);
	backdate(path, 60); /* old: refused without a wait */
	assert_int_equal(shmbus_bus_open_readonly("dead", &bus), SHMBUS_ECORRUPT);
	assert_non_null(strstr(shmbus_errmsg(), "not initialised"));
	/* an mtime in the future (the wall clock stepped back since) never
	 * ages: refused once unchanged for the grace by the opener's clock
	 * (it waited for ever) */
	backdate(path, -3600);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		alarm(20);
		shmbus_bus *b2 = NULL;
		_exit(shmbus_bus_open("dead", NULL, SHMBUS_ROLE_CLIENT, &b2) == SHMBUS_ECORRUPT ? 0 : 1);
	}
	int st;
	assert_int_equal(waitpid(pid, &st, 0), pid);
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
		fail_msg("open of an unbuilt file with a future mtime: status 0x%x (hung?)", st);
	assert_int_equal(unlink(path), 0);
}

/* Truncated segments are refused, never mapped past the end. */
static void test_segment_truncated(void **state)
{
	make_closed_bus("trunc");
	char path[256];
	bus_file("trunc", path, sizeof path);
	off_t full = file_size(path);
	assert_int_equal(truncate(path, full / 2), 0);
	assert_int_equal(probe("trunc", 0, 0), 10);
	assert_int_equal(probe("trunc", 1, 0), 10);
	assert_int_equal(truncate(path, 100), 0);
	assert_int_equal(probe("trunc", 0, 0), 10);
	assert_int_equal(probe("trunc", 1, 0), 10);
	shmbus_bus *bus;
	assert_true(shmbus_bus_open_readonly("trunc", &bus) < 0);
	assert_true(shmbus_errmsg()[0] != '\0');
}

/* Populate a bus so the tables hold rings, participants and symbols. */
static void populate(const char *name)
{
	shmbus_bus *bus;
	assert_int_equal(tu_bus_create(name, 4, &bus), 0);
	struct shmbus_sub_opts so;
	tu_sub_opts(&so, 64, 64, SHMBUS_POLICY_DROP);
	for (int i = 0; i < 3; i++) {
		char rn[8];
		snprintf(rn, sizeof rn, "r%d", i);
		shmbus_consumer *c;
		assert_int_equal(shmbus_subscribe(bus, rn, &so, &c), 0);
		shmbus_consumer_close(c);
	}
	assert_true(shmbus_symbol_intern(bus, "SPY", 3) >= 1);
	assert_true(shmbus_symbol_intern(bus, "QQQ", 3) >= 1);
	assert_int_equal(shmbus_bus_close(bus), 0);
}

/* Random bytes in the tables: read-only open + stat never crash. */
static void test_segment_random_tables(void **state)
{
	populate("noisy");
	char path[256];
	bus_file("noisy", path, sizeof path);
	struct sb sb;
	pread_all(path, &sb, sizeof sb, 0);
	assert_true(sb.rings_off >= SB_SIZE && sb.rings_off < sb.arena_off);
	size_t tables = (size_t)(sb.arena_off - sb.rings_off);
	uint8_t *orig = malloc(tables), *noise = malloc(tables);
	assert_non_null(orig);
	assert_non_null(noise);
	pread_all(path, orig, tables, (off_t)sb.rings_off);
	assert_int_equal(probe("noisy", 1, 1), 0); /* intact: opens */
	int refused = 0;
	for (uint64_t seed = 1; seed <= 24; seed++) {
		uint64_t rs = seed;
		memcpy(noise, orig, tables);
		/* seeds 1-8: all noise; 9-24: 1..64 random bytes at random spots */
		size_t nflip = seed <= 8 ? tables : (size_t)(tu_rand(&rs) % 64) + 1;
		for (size_t k = 0; k < nflip; k++) {
			size_t at = seed <= 8 ? k : (size_t)(tu_rand(&rs) % tables);
			noise[at] = (uint8_t)tu_rand(&rs);
		}
		pwrite_all(path, noise, tables, (off_t)sb.rings_off);
		refused += probe("noisy", 1, 1) == 10;
	}
	(void)refused; /* refusing or reporting sane data are both fine */
	free(orig);
	free(noise);
}

/* Random bytes in the superblock geometry fields: refused or sane. */
static void test_segment_random_superblock(void **state)
{
	populate("badsb");
	char path[256];
	bus_file("badsb", path, sizeof path);
	struct sb orig;
	pread_all(path, &orig, sizeof orig, 0);
	static const size_t fields[] = {
	    offsetof(struct sb, total_bytes),      offsetof(struct sb, max_rings),
	    offsetof(struct sb, max_participants), offsetof(struct sb, max_producers),
	    offsetof(struct sb, max_symbols),      offsetof(struct sb, rings_off),
	    offsetof(struct sb, parts_off),        offsetof(struct sb, prods_off),
	    offsetof(struct sb, syms_off),         offsetof(struct sb, arena_off),
	    offsetof(struct sb, arena_bytes),      offsetof(struct sb, sb_size),
	};
	uint64_t rs = 42;
	for (size_t f = 0; f < sizeof fields / sizeof fields[0]; f++) {
		for (int k = 0; k < 3; k++) {
			struct sb bad = orig;
			uint32_t v32 = k == 0 ? 0xFFFFFFFFu : (uint32_t)tu_rand(&rs);
			if (k == 2)
				v32 = 0;
			uint8_t *p = (uint8_t *)&bad + fields[f];
			if (fields[f] == offsetof(struct sb, sb_size) ||
			    (fields[f] >= offsetof(struct sb, max_rings) &&
			     fields[f] <= offsetof(struct sb, max_symbols))) {
				memcpy(p, &v32, 4);
			} else {
				uint64_t v64 = k == 0 ? UINT64_MAX : tu_rand(&rs);
				if (k == 2)
					v64 = 0;
				memcpy(p, &v64, 8);
			}
			pwrite_all(path, &bad, sizeof bad, 0);
			int st = probe("badsb", 1, 1);
			if (st != 10 && st != 0)
				fail_msg("field at %zu, variant %d: child status %d", fields[f], k,
				         st);
			st = probe("badsb", 0, 1);
			if (st != 10 && st != 0)
				fail_msg("rw field at %zu, variant %d: child status %d", fields[f],
				         k, st);
		}
	}
	pwrite_all(path, &orig, sizeof orig, 0);
	assert_int_equal(probe("badsb", 1, 1), 0);
}

struct anon_arg {
	shmbus_bus *bus;
	atomic_int fail;
};

static void *anon_producer(void *argp)
{
	struct anon_arg *a = argp;
	shmbus_producer *p;
	int rc = shmbus_producer_open(a->bus, NULL, &p);
	TU_THREAD_CHECK(&a->fail, rc == 0);
	if (rc != 0)
		return NULL;
	for (int i = 0; i < 1000; i++) {
		struct shmbus_trade t = tu_trade(1, i);
		TU_THREAD_CHECK(&a->fail, shmbus_publish(p, &t) == 1);
	}
	shmbus_producer_close(p);
	return NULL;
}

/* An anonymous bus carries events between threads and has no file. */
static void test_segment_anonymous_threads(void **state)
{
	struct anon_arg a;
	atomic_init(&a.fail, 0);
	assert_int_equal(tu_bus_create(NULL, 4, &a.bus), 0);
	assert_string_equal(shmbus_bus_name(a.bus), "");
	assert_int_equal(shmbus_bus_backing(a.bus), SHMBUS_BACKING_ANON);
	assert_int_equal(tu_dir_entries(), 0);
	assert_int_equal(shmbus_bus_set_kept(a.bus, 1), -EINVAL); /* nothing outlives it */
	struct shmbus_sub_opts so;
	tu_sub_opts(&so, 64, 64, SHMBUS_POLICY_BLOCK);
	shmbus_consumer *c;
	assert_int_equal(shmbus_subscribe(a.bus, "anon", &so, &c), 0);
	pthread_t th;
	assert_int_equal(pthread_create(&th, NULL, anon_producer, &a), 0);
	struct tu_sink s;
	tu_sink_init(&s, 1000);
	tu_poll_until(c, &s, 1000, 20000);
	pthread_join(th, NULL);
	assert_int_equal(atomic_load(&a.fail), 0);
	assert_int_equal(s.n, 1000);
	for (size_t i = 0; i < s.n; i++)
		assert_int_equal(s.ev[i].h.seq, i + 1);
	tu_sink_free(&s);
	shmbus_consumer_close(c);
	assert_int_equal(shmbus_bus_close(a.bus), 0);
}

static void expect_participant(shmbus_bus *bus, pid_t pid, const char *name, enum shmbus_role role)
{
	struct shmbus_participant_stat ps;
	if (tu_participant_stat(bus, pid, name, &ps) < 0)
		fail_msg("no participant %s (pid %d)", name, (int)pid);
	assert_int_equal(ps.role, role);
	assert_int_equal(ps.state, SHMBUS_PART_ALIVE);
	assert_int_equal(ps.alive, 1);
	assert_true(ps.attached_ns > 0);
}

static int not_alive(shmbus_bus *bus, pid_t pid, const char *name)
{
	struct shmbus_participant_stat ps;
	if (tu_participant_stat(bus, pid, name, &ps) < 0)
		return 1; /* entry freed */
	return ps.state != SHMBUS_PART_ALIVE || ps.alive == 0;
}

/* Participants show pid, name and role; leaving or dying shows too. */
static void test_segment_participants(void **state)
{
	struct shmbus_bus_opts o;
	tu_bus_opts(&o, 4);
	o.participant_name = "creator-x";
	shmbus_bus *bus, *alice;
	assert_int_equal(shmbus_bus_create("parts", &o, &bus), 0);
	expect_participant(bus, getpid(), "creator-x", SHMBUS_ROLE_CREATOR);
	assert_int_equal(shmbus_bus_open("parts", "alice", SHMBUS_ROLE_CONSUMER, &alice), 0);
	expect_participant(bus, getpid(), "alice", SHMBUS_ROLE_CONSUMER);
	assert_non_null(shmbus_role_name(SHMBUS_ROLE_CONSUMER));

	int up[2], down[2];
	assert_int_equal(pipe(up), 0);
	assert_int_equal(pipe(down), 0);
	fflush(NULL);
	pid_t kid = fork();
	assert_true(kid >= 0);
	if (kid == 0) {
		shmbus_bus *cb;
		TU_CHILD_CHECK(shmbus_bus_open("parts", "child-p", SHMBUS_ROLE_PRODUCER, &cb) == 0);
		char c = 'r';
		TU_CHILD_CHECK(tu_write_all(up[1], &c, 1) == 0);
		TU_CHILD_CHECK(tu_read_all(down[0], &c, 1, 20000) == 0);
		TU_CHILD_CHECK(shmbus_bus_close(cb) == 0);
		_exit(0);
	}
	char c;
	assert_int_equal(tu_read_all(up[0], &c, 1, 10000), 0);
	expect_participant(bus, kid, "child-p", SHMBUS_ROLE_PRODUCER);
	assert_int_equal(tu_write_all(down[1], &c, 1), 0);
	int st;
	assert_int_equal(tu_wait_child(kid, 10000, &st), 0);
	assert_true(tu_exited_ok(st));
	assert_true(not_alive(bus, kid, "child-p"));

	/* a participant killed without closing: visible as not alive */
	kid = fork();
	assert_true(kid >= 0);
	if (kid == 0) {
		shmbus_bus *cb;
		TU_CHILD_CHECK(shmbus_bus_open("parts", "doomed", SHMBUS_ROLE_SERVICE, &cb) == 0);
		char r = 'r';
		TU_CHILD_CHECK(tu_write_all(up[1], &r, 1) == 0);
		pause();
		_exit(0);
	}
	assert_int_equal(tu_read_all(up[0], &c, 1, 10000), 0);
	expect_participant(bus, kid, "doomed", SHMBUS_ROLE_SERVICE);
	kill(kid, SIGKILL);
	waitpid(kid, &st, 0);
	assert_true(not_alive(bus, kid, "doomed"));
	assert_true(shmbus_bus_reap(bus) >= 0);

	assert_int_equal(shmbus_bus_close(alice), 0);
	assert_true(not_alive(bus, getpid(), "alice"));
	expect_participant(bus, getpid(), "creator-x", SHMBUS_ROLE_CREATOR);
	close(up[0]);
	close(up[1]);
	close(down[0]);
	close(down[1]);
	assert_int_equal(shmbus_bus_close(bus), 0);
}

/* Fork a child that attaches to bus `bus_name` as `name` and is killed
 * once it is in the table: its entry stays there, its process dead. */
static pid_t attach_and_die(const char *bus_name, const char *name)
{
	int up[2];
	assert_int_equal(pipe(up), 0);
	fflush(NULL);
	pid_t kid = fork();
	assert_true(kid >= 0);
	if (kid == 0) {
		shmbus_bus *cb;
		TU_CHILD_CHECK(shmbus_bus_open(bus_name, name, SHMBUS_ROLE_SERVICE, &cb) == 0);
		char r = 'r';
		TU_CHILD_CHECK(tu_write_all(up[1], &r, 1) == 0);
		pause();
		_exit(0);
	}
	char c;
	assert_int_equal(tu_read_all(up[0], &c, 1, 10000), 0);
	kill(kid, SIGKILL);
	int st;
	assert_int_equal(waitpid(kid, &st, 0), kid);
	close(up[0]);
	close(up[1]);
	return kid;
}

/* Is the dead participant `name` (pid) still in the table, marked dead? */
static int dead_listed(shmbus_bus *bus, pid_t pid, const char *name)
{
	struct shmbus_participant_stat ps;
	return tu_participant_stat(bus, pid, name, &ps) >= 0 && ps.state == SHMBUS_PART_ALIVE &&
	       ps.alive == 0;
}

/* A new participant takes a free entry, then one left cleanly, and a dead
 * participant's only when nothing else is left, the oldest death first:
 * a crash stays visible in shmbus-stat as long as the table has room. */
static void test_segment_dead_participant_outlives_attach(void **state)
{
	struct shmbus_bus_opts o;
	tu_bus_opts(&o, 4);
	o.max_participants = 5;
	shmbus_bus *bus, *left, *h[4];
	assert_int_equal(shmbus_bus_create("deadp", &o, &bus), 0);
	pid_t d1 = attach_and_die("deadp", "dead-1");
	pid_t d2 = attach_and_die("deadp", "dead-2");
	assert_int_equal(shmbus_bus_open("deadp", "left", SHMBUS_ROLE_TOOL, &left), 0);
	assert_int_equal(shmbus_bus_close(left), 0);
	/* creator, dead-1, dead-2, left (gone) and one free entry */
	assert_int_equal(shmbus_bus_open("deadp", "new-0", SHMBUS_ROLE_TOOL, &h[0]), 0);
	assert_true(dead_listed(bus, d1, "dead-1"));
	assert_true(dead_listed(bus, d2, "dead-2"));
	assert_int_equal(shmbus_bus_open("deadp", "new-1", SHMBUS_ROLE_TOOL, &h[1]), 0);
	assert_true(dead_listed(bus, d1, "dead-1"));
	assert_true(dead_listed(bus, d2, "dead-2"));
	/* only the dead are left: the one that died first goes first */
	assert_int_equal(shmbus_bus_open("deadp", "new-2", SHMBUS_ROLE_TOOL, &h[2]), 0);
	assert_false(dead_listed(bus, d1, "dead-1"));
	assert_true(dead_listed(bus, d2, "dead-2"));
	assert_int_equal(shmbus_bus_open("deadp", "new-3", SHMBUS_ROLE_TOOL, &h[3]), 0);
	assert_false(dead_listed(bus, d2, "dead-2"));
	shmbus_bus *full;
	assert_int_equal(shmbus_bus_open("deadp", "new-4", SHMBUS_ROLE_TOOL, &full), -ENOSPC);
	for (int i = 0; i < 4; i++)
		assert_int_equal(shmbus_bus_close(h[i]), 0);
	assert_int_equal(shmbus_bus_close(bus), 0);
}

static shmbus_bus *reuse_first;
static int reuse_calls;

/* In the middle of a stat read of participant "first": it leaves, and
 * "second" takes its entry (the only one not alive). */
static void reregister_mid_stat(enum ring_hook where)
{
	if (where != RING_HOOK_STAT_PARTICIPANT || reuse_calls++ > 0)
		return;
	shmbus_bus *second;
	assert_int_equal(shmbus_bus_close(reuse_first), 0);
	assert_int_equal(shmbus_bus_open("reuse", "second", SHMBUS_ROLE_TOOL, &second), 0);
	/* left attached: the test reads it after the hook */
	reuse_first = second;
}

/* An entry taken by another participant while shmbus_stat_participant()
 * reads it reads as the new participant, never as a mix of the two. */
static void test_segment_stat_participant_reregistered_while_read(void **state)
{
	struct shmbus_bus_opts o;
	tu_bus_opts(&o, 4);
	o.max_participants = 2;
	shmbus_bus *bus;
	assert_int_equal(shmbus_bus_create("reuse", &o, &bus), 0);
	assert_int_equal(shmbus_bus_open("reuse", "first", SHMBUS_ROLE_CONSUMER, &reuse_first), 0);
	struct shmbus_participant_stat ps, now;
	int idx = tu_participant_stat(bus, getpid(), "first", &ps);
	assert_true(idx >= 0);
	reuse_calls = 0;
	ring_test_hook = reregister_mid_stat;
	int rc = shmbus_stat_participant(bus, (uint32_t)idx, &ps);
	ring_test_hook = NULL;
	assert_int_equal(shmbus_stat_participant(bus, (uint32_t)idx, &now), 0);
	assert_string_equal(now.name, "second");
	assert_int_equal(rc, 0);
	if (strcmp(ps.name, now.name) != 0 || ps.role != now.role ||
	    ps.attached_ns != now.attached_ns)
		fail_msg("read '%s' (%s) attached at %lld: 'second' (%s) was attached at %lld",
			 ps.name, shmbus_role_name(ps.role), (long long)ps.attached_ns,
			 shmbus_role_name(now.role), (long long)now.attached_ns);
	assert_int_equal(reuse_calls, 2); /* read again after the hook */
	assert_int_equal(shmbus_bus_close(reuse_first), 0);
	assert_int_equal(shmbus_bus_close(bus), 0);
}

/* A child forked with a participant's handle is no participant: its
 * heartbeat must not write the entry, where it would show its dead parent
 * as beating (or, once another participant took the entry, that one). */
static void test_segment_forked_heartbeat_leaves_entry(void **state)
{
	shmbus_bus *bus;
	assert_int_equal(tu_bus_create("fhb", 4, &bus), 0);
	int ready[2], go[2], done[2];
	assert_int_equal(pipe(ready), 0);
	assert_int_equal(pipe(go), 0);
	assert_int_equal(pipe(done), 0);
	fflush(NULL);
	pid_t kid = fork();
	assert_true(kid >= 0);
	if (kid == 0) {
		shmbus_bus *cb;
		TU_CHILD_CHECK(shmbus_bus_open("fhb", "hb-owner", SHMBUS_ROLE_SERVICE, &cb) == 0);
		pid_t grandkid = fork();
		TU_CHILD_CHECK(grandkid >= 0);
		if (grandkid == 0) {
			char g;
			TU_CHILD_CHECK(tu_read_all(go[0], &g, 1, 20000) == 0);
			shmbus_bus_heartbeat(cb);
			TU_CHILD_CHECK(tu_write_all(done[1], &g, 1) == 0);
			_exit(0);
		}
		char r = 'r';
		TU_CHILD_CHECK(tu_write_all(ready[1], &r, 1) == 0);
		pause();
		_exit(0);
	}
	char c;
	assert_int_equal(tu_read_all(ready[0], &c, 1, 10000), 0);
	struct shmbus_participant_stat before, after;
	int idx = tu_participant_stat(bus, kid, "hb-owner", &before);
	assert_true(idx >= 0);
	kill(kid, SIGKILL);
	int st;
	assert_int_equal(waitpid(kid, &st, 0), kid);
	tu_sleep_us(1000); /* a heartbeat now would differ from `before` */
	assert_int_equal(tu_write_all(go[1], "g", 1), 0);
	assert_int_equal(tu_read_all(done[0], &c, 1, 10000), 0);
	assert_int_equal(shmbus_stat_participant(bus, (uint32_t)idx, &after), 0);
	assert_int_equal(after.pid, kid);
	assert_int_equal(after.alive, 0);
	if (after.heartbeat_ns != before.heartbeat_ns)
		fail_msg("dead participant %d: heartbeat moved %lld ns after its death (by its child)",
			 (int)kid, (long long)(after.heartbeat_ns - before.heartbeat_ns));
	int fds[] = {ready[0], ready[1], go[0], go[1], done[0], done[1]};
	for (size_t i = 0; i < sizeof fds / sizeof fds[0]; i++)
		close(fds[i]);
	assert_int_equal(shmbus_bus_close(bus), 0);
}

/* A read-only handle reads but refuses every write. */
static void test_segment_readonly_handle(void **state)
{
	populate("ro");
	shmbus_bus *bus;
	assert_int_equal(shmbus_bus_open_readonly("ro", &bus), 0);
	assert_true(shmbus_symbol_lookup(bus, "SPY", 3) >= 1);
	assert_int_equal(shmbus_symbol_intern(bus, "NEW", 3), -EROFS);
	shmbus_producer *p;
	assert_int_equal(shmbus_producer_open(bus, NULL, &p), -EROFS);
	struct shmbus_sub_opts so;
	tu_sub_opts(&so, 64, 64, SHMBUS_POLICY_DROP);
	shmbus_consumer *c;
	assert_int_equal(shmbus_subscribe(bus, "r9", &so, &c), -EROFS);
	assert_true(shmbus_stat_find_ring(bus, "r1") >= 0);
	assert_int_equal(shmbus_bus_set_kept(bus, 1), -EROFS);
	assert_int_equal(shmbus_bus_set_kept(NULL, 1), -EINVAL);
	/* no participant was registered: none of ours is alive */
	for (uint32_t i = 0;; i++) {
		struct shmbus_participant_stat ps;
		int rc = shmbus_stat_participant(bus, i, &ps);
		if (rc == -ERANGE)
			break;
		if (rc == 0 && ps.pid == getpid())
			assert_int_not_equal(ps.state, SHMBUS_PART_ALIVE);
	}
	assert_int_equal(shmbus_bus_close(bus), 0);
}

/* Every shmbus code has its own non-empty sentence. */
static void test_segment_strerror(void **state)
{
	static const int codes[] = {SHMBUS_EBADMAGIC, SHMBUS_EVERSION,  SHMBUS_ELAYOUT,
	                            SHMBUS_ECORRUPT,  SHMBUS_ETIMEDOUT, SHMBUS_EFULL,
	                            SHMBUS_ETOOBIG,   SHMBUS_EDEAD,     SHMBUS_EBUSY,
	                            -EINVAL,          -ENOENT};
	size_t n = sizeof codes / sizeof codes[0];
	for (size_t i = 0; i < n; i++) {
		const char *a = shmbus_strerror(codes[i]);
		assert_non_null(a);
		assert_true(a[0] != '\0');
		for (size_t j = 0; j < i; j++)
			if (strcmp(a, shmbus_strerror(codes[j])) == 0)
				fail_msg("codes %d and %d share \"%s\"", codes[i], codes[j], a);
	}
	assert_non_null(shmbus_strerror(0));
	assert_non_null(shmbus_strerror(-99999));
	assert_non_null(shmbus_errmsg());
}

/* Child: attach, publish into every slot of ring "pf"; exit 0 when the
 * publishing took no page fault, 1 when it did, 3 on an error. */
static int publish_counting_faults(void *arg)
{
	uint32_t cap = *(const uint32_t *)arg;
	shmbus_bus *bus;
	shmbus_producer *p;
	if (shmbus_bus_open("pf", "pf-producer", SHMBUS_ROLE_PRODUCER, &bus) != 0 ||
	    shmbus_producer_open(bus, NULL, &p) != 0)
		return TU_CHILD_FAIL;
	struct shmbus_trade t = tu_trade(1, 1.0);
	struct rusage before, after;
	getrusage(RUSAGE_SELF, &before);
	for (uint32_t i = 0; i < cap; i++)
		if (shmbus_publish(p, &t) != 1)
			return TU_CHILD_FAIL;
	getrusage(RUSAGE_SELF, &after);
	long faults = after.ru_minflt - before.ru_minflt;
	if (faults)
		fprintf(stderr, "publish_counting_faults: %ld page faults\n", faults);
	shmbus_producer_close(p);
	shmbus_bus_close(bus);
	return faults ? 1 : 0;
}

/* A prefaulted bus is mapped whole at each attach, not only at creation:
 * a producer that attaches later takes no page fault writing a ring's
 * slots (256 KiB here: 64 small pages). */
static void test_segment_attach_prefaults(void **state)
{
#if !defined(MADV_POPULATE_WRITE)
	(void)publish_counting_faults;
	print_message("skipped: no MADV_POPULATE_WRITE (headers before Linux 5.14)\n");
	skip();
#elif defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
	(void)publish_counting_faults;
	print_message("skipped: a sanitizer's shadow memory faults in on first use\n");
	skip();
#else
	uint32_t cap = 4096;
	shmbus_bus *bus;
	assert_int_equal(tu_bus_create("pf", 8, &bus), 0);
	struct shmbus_sub_opts so;
	tu_sub_opts(&so, cap, 64, SHMBUS_POLICY_DROP);
	shmbus_consumer *c;
	assert_int_equal(shmbus_subscribe(bus, "pf-ring", &so, &c), 0);
	assert_int_equal(tu_run_in_child(publish_counting_faults, &cap, 30000), 0);
	shmbus_consumer_close(c);
	assert_int_equal(shmbus_bus_close(bus), 0);
#endif
}

int main(void)
{
	alarm(120);
	const struct CMUnitTest tests[] = {
	    TU_TEST(test_segment_lifecycle),           TU_TEST(test_segment_mode_option),
	    TU_TEST(test_segment_hugepages_always_needs_hugetlbfs),
	    TU_TEST(test_segment_full_directory_is_enospc), TU_TEST(test_segment_create_twice_eexist),
	    TU_TEST(test_segment_open_missing_enoent),
	    TU_TEST(test_segment_bad_names),           TU_TEST(test_segment_bad_options),
	    TU_TEST(test_segment_bad_magic),           TU_TEST(test_segment_version_mismatch),
	    TU_TEST(test_segment_layout_mismatch),     TU_TEST(test_segment_truncated),
	    TU_TEST(test_segment_random_tables),       TU_TEST(test_segment_random_superblock),
	    TU_TEST(test_segment_anonymous_threads),   TU_TEST(test_segment_participants),
	    TU_TEST(test_segment_dead_participant_outlives_attach),
	    TU_TEST(test_segment_stat_participant_reregistered_while_read),
	    TU_TEST(test_segment_forked_heartbeat_leaves_entry),
	    TU_TEST(test_segment_readonly_handle),     TU_TEST(test_segment_strerror),
	    TU_TEST(test_segment_attach_prefaults),    TU_TEST(test_segment_open_races_create),
	    TU_TEST(test_segment_abandoned_build),     TU_TEST(test_segment_not_a_regular_file),
	};
	return cmocka_run_group_tests_name("segment", tests, NULL, NULL);
}
