/*
 * test_stat_corrupt.c - shmbus-stat and shmbusctl meet damaged segment
 * files (random bytes, a tiny file, a truncated bus, a valid superblock
 * with bad table offsets, a ring entry with a bad index) with a message
 * and exit status 1, never a crash. (CI also runs this under ASan.)
 * Values that are odd but not damage (a heartbeat stamped ahead of the
 * reader's clock) read sanely. Uses the private layout only to write a
 * real segment precisely.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <shmbus/clock.h>
#include <shmbus/shmbus.h>

#include "ring/layout.h"
#include "tool_util.h"

static const char *dir;
static char out[16384];

static int setup(void **state)
{
	(void)state;
	dir = tu_tmpdir();
	return dir ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	tu_rmdir(dir);
	return 0;
}

/* Both tools must fail with status 1 (not a signal) and say `expect`. */
static void expect_refused(const char *bus, const char *expect)
{
	int rc = tu_run(out, sizeof(out), "%s --bus %s --once --json", SHMBUS_STAT_BIN, bus);
	if (rc != 1 || !strstr(out, expect))
		print_error("shmbus-stat on %s: rc %d, output: %s\n", bus, rc, out);
	assert_int_equal(rc, 1);
	assert_non_null(strstr(out, expect));
	assert_non_null(strstr(out, "shmbus-stat: "));
	rc = tu_run(out, sizeof(out), "%s info %s", SHMBUSCTL_BIN, bus);
	assert_int_equal(rc, 1);
	assert_non_null(strstr(out, expect));
	/* list survives it and reports the bus as unreadable */
	assert_int_equal(tu_run(out, sizeof(out), "%s list --json", SHMBUSCTL_BIN), 0);
	assert_non_null(strstr(out, "\"ok\":false"));
}

static void make_bus(const char *name)
{
	struct shmbus_bus_opts bo;
	shmbus_bus_opts_init(&bo);
	bo.arena_bytes = 1u << 20;
	shmbus_bus *b;
	assert_int_equal(shmbus_bus_create(name, &bo, &b), 0);
	struct shmbus_sub_opts so;
	shmbus_sub_opts_init(&so);
	so.capacity = 64;
	assert_int_equal(shmbus_ring_declare(b, "r", &so), 0);
	assert_int_equal(shmbus_bus_close(b), 0);
}

static void *map_bus(const char *name, size_t *size)
{
	char path[256];
	snprintf(path, sizeof(path), "%s/shmbus.%s", dir, name);
	int fd = open(path, O_RDWR);
	assert_true(fd >= 0);
	struct stat st;
	assert_int_equal(fstat(fd, &st), 0);
	*size = (size_t)st.st_size;
	void *p = mmap(NULL, *size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	assert_true(p != MAP_FAILED);
	return p;
}

static void test_stat_corrupt_random_bytes(void **state)
{
	(void)state;
	char path[256];
	snprintf(path, sizeof(path), "%s/shmbus.noise", dir);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	srand(42);
	for (int i = 0; i < 65536; i++)
		fputc(rand() & 0xff, f);
	fclose(f);
	expect_refused("noise", "not a shmbus segment");
	unlink(path);
}

static void test_stat_corrupt_tiny_file(void **state)
{
	(void)state;
	char path[256];
	snprintf(path, sizeof(path), "%s/shmbus.tiny", dir);
	assert_int_equal(tu_write(path, "SHMBUS"), 0);
	expect_refused("tiny", "smaller than a superblock");
	unlink(path);
}

static void test_stat_corrupt_truncated_bus(void **state)
{
	(void)state;
	make_bus("trunc");
	char path[256];
	snprintf(path, sizeof(path), "%s/shmbus.trunc", dir);
	struct stat st;
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(truncate(path, st.st_size / 2), 0);
	expect_refused("trunc", "disagree");
	unlink(path);
}

static void test_stat_corrupt_bad_offsets(void **state)
{
	(void)state;
	make_bus("offs");
	size_t size;
	struct sb *sb = map_bus("offs", &size);
	sb->rings_off = size + 4096; /* points past the end of the file */
	munmap(sb, size);
	expect_refused("offs", "disagree");
	shmbus_bus_destroy("offs");
}

static void test_stat_corrupt_bad_ring_entry(void **state)
{
	(void)state;
	make_bus("ringbad");
	size_t size;
	struct sb *sb = map_bus("ringbad", &size);
	uint8_t *ring0 = (uint8_t *)sb + sb->rings_off;
	/* Flip every byte of the first ring entry: state and index go wild. */
	for (size_t i = 0; i < 64; i++)
		ring0[i] ^= 0xA5;
	munmap(sb, size);
	int rc = tu_run(out, sizeof(out), "%s --bus ringbad --once --json", SHMBUS_STAT_BIN);
	assert_int_equal(rc, 1);
	assert_non_null(strstr(out, "shmbus-stat: read bus 'ringbad'"));
	assert_int_equal(tu_run(out, sizeof(out), "%s info ringbad", SHMBUSCTL_BIN), 1);
	shmbus_bus_destroy("ringbad");
}

/* A heartbeat stamped after shmbus-stat read its clock (the clock is read
 * before the tables), or by a process whose clock runs a little ahead,
 * gave a negative heartbeat_age_ns in the JSON and the Prometheus
 * exposition, and "-" (never) on the screen. It is 0 old. */
static void test_stat_heartbeat_ahead_is_not_negative(void **state)
{
	(void)state;
	struct shmbus_bus_opts bo;
	shmbus_bus_opts_init(&bo);
	bo.arena_bytes = 1u << 20;
	bo.participant_name = "ahead";
	shmbus_bus *b;
	assert_int_equal(shmbus_bus_create("hbf", &bo, &b), 0);
	size_t size;
	struct sb *sb = map_bus("hbf", &size);
	struct part_entry *p = (struct part_entry *)((uint8_t *)sb + sb->parts_off);
	assert_string_equal(p->name, "ahead");
	p->heartbeat_ns = shmbus_now_ns() + 1000000000; /* a second ahead */
	munmap(sb, size);
	assert_int_equal(tu_run(out, sizeof(out), "%s --bus hbf --once --json", SHMBUS_STAT_BIN),
	                 0);
	assert_int_equal(tu_json_field(out, "participants", "ahead", "heartbeat_age_ns"), 0);
	assert_int_equal(tu_run(out, sizeof(out), "%s --bus hbf --once", SHMBUS_STAT_BIN), 0);
	const char *row = strstr(out, "\nahead ");
	if (!row || !strstr(row, " alive       0.0us\n"))
		fail_msg("heartbeat not 0 old in:\n%s", out);
	assert_int_equal(shmbus_bus_close(b), 0);
	assert_int_equal(shmbus_bus_destroy("hbf"), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_stat_corrupt_random_bytes),
	    cmocka_unit_test(test_stat_corrupt_tiny_file),
	    cmocka_unit_test(test_stat_corrupt_truncated_bus),
	    cmocka_unit_test(test_stat_corrupt_bad_offsets),
	    cmocka_unit_test(test_stat_corrupt_bad_ring_entry),
	    cmocka_unit_test(test_stat_heartbeat_ahead_is_not_negative),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
