/*
 * test_shmbusctl.c - shmbusctl's one-shot commands end to end: check,
 * create, list, info, destroy, reclaim, and its exit codes.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <shmbus/shmbus.h>

#include "test_huge.h"
#include "tool_util.h"

static const char *dir;
static char out[65536];

static const char cfg_text[] = "[bus]\nname = ctl\narena_mb = 4\n"
                               "[ring ticks]\ncapacity = 1024\ntypes = trade\nsymbols = SPY,IBM\n"
                               "[ring bars]\ncapacity = 64\npolicy = drop\nslot_size = 256\n";

static int setup(void **state)
{
	(void)state;
	th_setup(12);
	dir = tu_tmpdir();
	char path[256];
	snprintf(path, sizeof(path), "%s/ctl.ini", dir);
	return dir && tu_write(path, cfg_text) == 0 ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	tu_rmdir(dir);
	return th_teardown();
}

static void test_shmbusctl_usage_and_help_exit_codes(void **state)
{
	(void)state;
	assert_int_equal(tu_run(out, sizeof(out), "%s --help", SHMBUSCTL_BIN), 0);
	assert_non_null(strstr(out, "usage: shmbusctl"));
	assert_int_equal(tu_run(out, sizeof(out), "%s", SHMBUSCTL_BIN), 2);
	assert_int_equal(tu_run(out, sizeof(out), "%s frobnicate", SHMBUSCTL_BIN), 2);
	assert_non_null(strstr(out, "unknown command 'frobnicate'"));
	assert_int_equal(tu_run(out, sizeof(out), "%s create", SHMBUSCTL_BIN), 2);
	assert_int_equal(tu_run(out, sizeof(out), "%s --bogus list", SHMBUSCTL_BIN), 2);
	assert_non_null(strstr(out, "unknown or incomplete option '--bogus'"));
	/* a bad short option in a cluster is named, not the program */
	assert_int_equal(tu_run(out, sizeof(out), "%s -xh", SHMBUSCTL_BIN), 2);
	assert_non_null(strstr(out, "unknown or incomplete option '-x'"));
	assert_int_equal(tu_run(out, sizeof(out), "%s list --bus", SHMBUSCTL_BIN), 2);
	assert_non_null(strstr(out, "unknown or incomplete option '--bus'"));
}

static void test_shmbusctl_check_reports_bad_config(void **state)
{
	(void)state;
	char path[256];
	snprintf(path, sizeof(path), "%s/bad.ini", dir);
	assert_int_equal(tu_write(path, "[ring a]\ncapacity = 3\n"), 0);
	assert_int_equal(tu_run(out, sizeof(out), "%s check %s", SHMBUSCTL_BIN, path), 1);
	assert_non_null(strstr(out, "bad.ini:2: [ring a] capacity: 3 is not a power of two"));
	snprintf(path, sizeof(path), "%s/ctl.ini", dir);
	assert_int_equal(tu_run(out, sizeof(out), "%s check --json %s", SHMBUSCTL_BIN, path), 0);
	assert_non_null(strstr(out, "\"rings\":2"));
}

static void test_shmbusctl_config_must_be_a_regular_file(void **state)
{
	(void)state;
	/* A directory once read as an empty config: "ok", and create made
	 * bus 'default'. */
	assert_int_equal(tu_run(out, sizeof(out), "%s check %s", SHMBUSCTL_BIN, dir), 1);
	assert_non_null(strstr(out, "not a regular file (a directory)"));
	assert_int_equal(tu_run(out, sizeof(out), "%s create %s", SHMBUSCTL_BIN, dir), 1);
	char path[512];
	snprintf(path, sizeof(path), "%s/shmbus.default", dir);
	assert_int_not_equal(access(path, F_OK), 0);
	/* A device once hung, reading without end. */
	assert_int_equal(tu_run(out, sizeof(out), "timeout 10 %s check /dev/zero", SHMBUSCTL_BIN),
	                 1);
	assert_non_null(strstr(out, "/dev/zero: cannot read: not a regular file"));
}

static void test_shmbusctl_bus_option_is_a_bus_name(void **state)
{
	(void)state;
	assert_int_equal(
	    tu_run(out, sizeof(out), "%s --bus ../x check %s/ctl.ini", SHMBUSCTL_BIN, dir), 2);
	assert_non_null(strstr(out, "--bus: bus name '../x'"));
	assert_int_equal(tu_run(out, sizeof(out), "%s --bus .hidden list", SHMBUSCTL_BIN), 2);
	assert_int_equal(tu_run(out, sizeof(out), "%s --bus '' list", SHMBUSCTL_BIN), 2);
	assert_int_equal(
	    tu_run(out, sizeof(out), "%s --bus ok-name check %s/ctl.ini", SHMBUSCTL_BIN, dir), 0);
	assert_non_null(strstr(out, "bus 'ok-name'"));
}

/* A BUS argument is a bus name as --bus is: info and destroy exited 1
 * ("open bus 'a/b': Invalid argument") where ring-remove and --bus say
 * it is a usage error (README: "a bad bus name included"). */
static void test_shmbusctl_bus_argument_is_a_bus_name(void **state)
{
	(void)state;
	static const char *const cmds[] = {"info", "destroy", "ring-remove"};
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		int rc = tu_run(out, sizeof(out), "%s %s 'a/b'%s 2>&1", SHMBUSCTL_BIN, cmds[i],
		                i == 2 ? " ring" : "");
		if (rc != 2 || !strstr(out, "bus name 'a/b': character 2"))
			fail_msg("%s 'a/b': exit %d, output:\n%s", cmds[i], rc, out);
	}
	assert_int_equal(tu_run(out, sizeof(out), "%s destroy '' 2>&1", SHMBUSCTL_BIN), 2);
	assert_non_null(strstr(out, "bus name is empty"));
	assert_int_equal(tu_run(out, sizeof(out), "%s info ../x 2>&1", SHMBUSCTL_BIN), 2);
}

static void test_shmbusctl_create_info_list_destroy(void **state)
{
	(void)state;
	assert_int_equal(tu_run(out, sizeof(out), "%s create %s/ctl.ini", SHMBUSCTL_BIN, dir), 0);
	assert_non_null(strstr(out, "created bus 'ctl'"));
	/* A second create of the same bus fails, and says why. */
	assert_int_equal(tu_run(out, sizeof(out), "%s create %s/ctl.ini", SHMBUSCTL_BIN, dir), 1);
	assert_non_null(strstr(out, "exists"));

	assert_int_equal(tu_run(out, sizeof(out), "%s info ctl --json", SHMBUSCTL_BIN), 0);
	assert_int_equal(tu_json_field(out, "rings", "ticks", "capacity"), 1024);
	assert_int_equal(tu_json_field(out, "rings", "ticks", "symbols"), 2);
	assert_int_equal(tu_json_field(out, "rings", "bars", "slot_size"), 256);
	assert_non_null(strstr(out, "\"policy\":\"drop\""));
	assert_non_null(strstr(out, "\"types\":\"trade\""));
	assert_non_null(strstr(out, "\"symbols\":2,"));

	assert_int_equal(tu_run(out, sizeof(out), "%s info --bus ctl", SHMBUSCTL_BIN), 0);
	assert_non_null(strstr(out, "ticks"));
	assert_non_null(strstr(out, "detached"));

	assert_int_equal(tu_run(out, sizeof(out), "%s list --json", SHMBUSCTL_BIN), 0);
	assert_non_null(strstr(out, "\"name\":\"ctl\""));
	assert_non_null(strstr(out, "\"participants_alive\":0"));

	assert_int_equal(tu_run(out, sizeof(out), "%s destroy ctl", SHMBUSCTL_BIN), 0);
	assert_int_equal(tu_run(out, sizeof(out), "%s info ctl", SHMBUSCTL_BIN), 1);
	assert_non_null(strstr(out, "No such file"));
	assert_int_equal(tu_run(out, sizeof(out), "%s destroy ctl", SHMBUSCTL_BIN), 1);
}

static void test_shmbusctl_reclaim_removes_only_dead_buses(void **state)
{
	(void)state;
	assert_int_equal(tu_run(out, sizeof(out), "%s create %s/ctl.ini", SHMBUSCTL_BIN, dir), 0);
	shmbus_bus *live;
	assert_int_equal(shmbus_bus_create("live", NULL, &live), 0);

	assert_int_equal(tu_run(out, sizeof(out), "%s reclaim --dry-run", SHMBUSCTL_BIN), 0);
	assert_non_null(strstr(out, "would remove"));
	assert_non_null(strstr(out, "1 would be removed, 1 kept")); /* it said "1 removed" */
	assert_int_equal(tu_run(out, sizeof(out), "%s list", SHMBUSCTL_BIN), 0);
	assert_non_null(strstr(out, "ctl"));

	assert_int_equal(tu_run(out, sizeof(out), "%s reclaim --json", SHMBUSCTL_BIN), 0);
	assert_non_null(strstr(out, "{\"name\":\"ctl\",\"action\":\"removed\""));
	assert_non_null(strstr(out, "{\"name\":\"live\",\"action\":\"kept (live participants)\""));
	char path[512];
	snprintf(path, sizeof(path), "%s/shmbus.ctl", dir);
	assert_int_not_equal(access(path, F_OK), 0);
	snprintf(path, sizeof(path), "%s/shmbus.live", dir);
	assert_int_equal(access(path, F_OK), 0);
	shmbus_bus_close(live);
	shmbus_bus_destroy("live");
}

/* A file whose name is longer than a bus name can be (no bus makes one)
 * is listed by its whole name, as no bus: its name was cut to 47 bytes,
 * and the row named another bus, said to shadow it (or not to exist). */
static void test_shmbusctl_list_names_an_over_long_file(void **state)
{
	(void)state;
	char name[SHMBUS_NAME_MAX + 5], path[512];
	memset(name, 'a', sizeof(name) - 1);
	name[sizeof(name) - 1] = '\0';
	snprintf(path, sizeof(path), "%s/shmbus.%s", dir, name);
	assert_int_equal(tu_write(path, "not a bus"), 0);
	assert_int_equal(tu_run(out, sizeof(out), "%s list --json", SHMBUSCTL_BIN), 0);
	char want[128];
	snprintf(want, sizeof(want), "{\"name\":\"%s\",", name);
	if (!strstr(out, want) || strstr(out, "shadowed") || !strstr(out, "longer than 47"))
		fail_msg("listed as:\n%s", out);
	assert_int_equal(tu_run(out, sizeof(out), "%s list", SHMBUSCTL_BIN), 0);
	if (!strstr(out, name) || strstr(out, "shadowed"))
		fail_msg("listed as:\n%s", out);
	unlink(path);
}

/* An option the command does not take is a usage error, never ignored:
 * `destroy BUS --dry-run` destroyed the bus, `--bus X reclaim` removed
 * every dead bus of the host, `--keep` and `--status` passed anywhere,
 * `--bus X info Y` showed Y. */
static void test_shmbusctl_refuses_options_of_other_commands(void **state)
{
	(void)state;
	char path[512];
	snprintf(path, sizeof(path), "%s/shmbus.ctl", dir);
	assert_int_equal(tu_run(out, sizeof(out), "%s create %s/ctl.ini", SHMBUSCTL_BIN, dir), 0);
	assert_int_equal(tu_run(out, sizeof(out), "%s destroy ctl --dry-run", SHMBUSCTL_BIN), 2);
	assert_non_null(strstr(out, "--dry-run is an option of 'reclaim', not of 'destroy'"));
	assert_int_equal(access(path, F_OK), 0);
	assert_int_equal(tu_run(out, sizeof(out), "%s --bus ctl reclaim", SHMBUSCTL_BIN), 2);
	assert_non_null(strstr(out, "--bus does not apply to 'reclaim'"));
	assert_int_equal(access(path, F_OK), 0);
	assert_int_equal(tu_run(out, sizeof(out), "%s --bus ctl list", SHMBUSCTL_BIN), 2);
	assert_int_equal(tu_run(out, sizeof(out), "%s list --keep", SHMBUSCTL_BIN), 2);
	assert_non_null(strstr(out, "not of 'list'"));
	assert_int_equal(tu_run(out, sizeof(out), "%s info ctl --status x", SHMBUSCTL_BIN), 2);
	assert_int_equal(tu_run(out, sizeof(out), "%s destroy ctl --keep", SHMBUSCTL_BIN), 2);
	assert_int_equal(access(path, F_OK), 0);
	assert_int_equal(tu_run(out, sizeof(out), "%s reclaim --dry-run", SHMBUSCTL_BIN), 0);
	assert_int_equal(tu_run(out, sizeof(out), "%s list --force", SHMBUSCTL_BIN), 2);
	assert_non_null(strstr(out, "--force is an option of 'destroy'"));
	/* --bus and a BUS argument that differ: one of them was ignored
	 * (--bus), so `--bus other destroy ctl` destroyed ctl */
	static const char *const cmds[] = {"info ctl", "destroy ctl", "ring-remove ctl ticks"};
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		int rc = tu_run(out, sizeof(out), "%s --bus other %s", SHMBUSCTL_BIN, cmds[i]);
		if (rc != 2 || !strstr(out, "--bus 'other' and the BUS argument 'ctl'"))
			fail_msg("--bus other %s: exit %d, output:\n%s", cmds[i], rc, out);
	}
	assert_int_equal(access(path, F_OK), 0);
	assert_int_equal(tu_run(out, sizeof(out), "%s --bus ctl info ctl", SHMBUSCTL_BIN), 0);
	/* a live participant: destroy would split it from the next bus of
	 * the name; refused unless --force */
	shmbus_bus *live;
	assert_int_equal(shmbus_bus_open("ctl", "holder", SHMBUS_ROLE_TOOL, &live), 0);
	assert_int_equal(tu_run(out, sizeof(out), "%s destroy ctl", SHMBUSCTL_BIN), 1);
	assert_non_null(strstr(out, "destroy bus 'ctl': 1 live participant (pid "));
	assert_non_null(strstr(out, "'holder'): stop them first, or --force"));
	assert_int_equal(access(path, F_OK), 0);
	assert_int_equal(tu_run(out, sizeof(out), "%s destroy ctl --force", SHMBUSCTL_BIN), 0);
	assert_int_not_equal(access(path, F_OK), 0);
	assert_int_equal(shmbus_bus_close(live), 0);
}

/* --json was taken by every command, but create printed its text line
 * and destroy printed nothing: a script reading a JSON document failed
 * on both. They write one now; up, which has none (--status writes the
 * service states), refuses --json rather than ignore it. */
static void test_shmbusctl_json_is_a_document_or_refused(void **state)
{
	(void)state;
	char want[640];
	assert_int_equal(tu_run(out, sizeof(out), "%s create --json %s/ctl.ini 2>/dev/null",
	                        SHMBUSCTL_BIN, dir),
	                 0);
	snprintf(want, sizeof(want),
	         "{\"bus\":\"ctl\",\"path\":\"%s/shmbus.ctl\",\"backing\":\"", dir);
	if (strncmp(out, want, strlen(want)) != 0 ||
	    !strstr(out, "\",\"rings\":2,\"created\":true}\n"))
		fail_msg("create --json wrote:\n%s", out);
	assert_int_equal(
	    tu_run(out, sizeof(out), "%s --json destroy ctl 2>/dev/null", SHMBUSCTL_BIN), 0);
	assert_string_equal(out, "{\"bus\":\"ctl\",\"destroyed\":true}\n");
	assert_int_equal(
	    tu_run(out, sizeof(out), "timeout 10 %s --json up %s/ctl.ini", SHMBUSCTL_BIN, dir), 2);
	assert_non_null(strstr(out, "--json is not an option of 'up'"));
	assert_int_equal(tu_run(out, sizeof(out), "%s info ctl", SHMBUSCTL_BIN), 1);
}

/* list, reclaim and check print names and paths from the file system in
 * their JSON: bytes that are not UTF-8 there came out raw, and a strict
 * JSON reader refused the whole document. Escaped, the output is ASCII. */
static void test_shmbusctl_json_is_ascii_whatever_the_file_names(void **state)
{
	(void)state;
	char path[512];
	snprintf(path, sizeof(path), "%s/shmbus.bad\xff", dir);
	assert_int_equal(tu_write(path, "not a bus"), 0);
	assert_int_equal(tu_run(out, sizeof(out), "%s list --json", SHMBUSCTL_BIN), 0);
	assert_non_null(strstr(out, "\"name\":\"bad\\u00ff\""));
	for (const char *c = out; *c; c++)
		assert_true((unsigned char)*c < 0x80);
	assert_int_equal(tu_run(out, sizeof(out), "%s reclaim --dry-run --json", SHMBUSCTL_BIN), 0);
	for (const char *c = out; *c; c++)
		assert_true((unsigned char)*c < 0x80);
	unlink(path);
}

/* Overwrite, in bus `name`'s file, byte 4 on of every copy of `what`
 * with `with` (a damaged segment, or a process writing to it). */
static void damage_names(const char *name, const char *what, const char *with)
{
	char path[512];
	assert_int_equal(shmbus_bus_path(name, path, sizeof(path)), 0);
	int fd = open(path, O_RDWR);
	assert_true(fd >= 0);
	struct stat st;
	assert_int_equal(fstat(fd, &st), 0);
	size_t size = (size_t)st.st_size, n = strlen(what);
	char *map = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	assert_true(map != MAP_FAILED);
	int patched = 0;
	for (size_t i = 0; i + n <= size; i++)
		if (memcmp(map + i, what, n) == 0) {
			memcpy(map + i + 4, with, strlen(with));
			patched++;
		}
	munmap(map, size);
	assert_true(patched > 0);
}

/* Text output holds no byte outside printable ASCII but newlines. */
static void assert_plain_text(const char *what, const char *text)
{
	for (const char *c = text; *c; c++)
		if ((unsigned char)*c >= 0x7f || ((unsigned char)*c < ' ' && *c != '\n'))
			fail_msg("%s: byte 0x%02x in:\n%s", what, (unsigned char)*c, text);
}

/* info printed the ring, group and participant names of the segment as
 * they were, and destroy the name of the live participant that stops it:
 * a damaged segment, or any process that can write to it, sent escape
 * sequences to the operator's terminal. shmbus-stat writes such bytes as
 * '?', and so do they now. */
static void test_shmbusctl_text_escapes_names_from_the_segment(void **state)
{
	(void)state;
	struct shmbus_bus_opts bo;
	shmbus_bus_opts_init(&bo);
	bo.arena_bytes = 1u << 20;
	bo.participant_name = "part-to-damage";
	shmbus_bus *b;
	assert_int_equal(shmbus_bus_create("esc", &bo, &b), 0);
	struct shmbus_sub_opts so;
	shmbus_sub_opts_init(&so);
	so.capacity = 64;
	so.group = "grp-to-damage";
	so.group_size = 1;
	assert_int_equal(shmbus_ring_declare(b, "ring-to-damage", &so), 0);
	damage_names("esc", "ring-to-damage", "\x1b[2J");
	damage_names("esc", "grp-to-damage", "\x9b\x07");
	damage_names("esc", "part-to-damage", "\x1b]0;");
	assert_int_equal(tu_run(out, sizeof(out), "%s info esc", SHMBUSCTL_BIN), 0);
	assert_plain_text("info", out);
	assert_non_null(strstr(out, "ring?[2Jdamage"));
	assert_non_null(strstr(out, "grp-?" "?-damage[0/1]"));
	assert_non_null(strstr(out, "part?]0;damage"));
	/* the JSON form escapes them */
	assert_int_equal(tu_run(out, sizeof(out), "%s info esc --json", SHMBUSCTL_BIN), 0);
	assert_non_null(strstr(out, "\"name\":\"ring\\u001b[2Jdamage\""));
	assert_int_equal(tu_run(out, sizeof(out), "%s destroy esc", SHMBUSCTL_BIN), 1);
	assert_plain_text("destroy", out);
	assert_non_null(strstr(out, "part?]0;damage"));
	assert_int_equal(shmbus_bus_close(b), 0);
	assert_int_equal(shmbus_bus_destroy("esc"), 0);
}

/* list and reclaim printed the shmbus.* file names of the bus folders,
 * and the errors that quote them, as they were: anyone may create a file
 * in /dev/shm, and its name's escape sequences went to the terminal of
 * the operator listing buses. */
static void test_shmbusctl_list_text_escapes_file_names(void **state)
{
	(void)state;
	char path[512];
	snprintf(path, sizeof(path), "%s/shmbus.a\x1b[2Jb\xff", dir);
	assert_int_equal(tu_write(path, "not a bus"), 0);
	assert_int_equal(tu_run(out, sizeof(out), "%s list", SHMBUSCTL_BIN), 0);
	assert_plain_text("list", out);
	assert_non_null(strstr(out, "\na?[2Jb?  "));
	assert_int_equal(tu_run(out, sizeof(out), "%s reclaim --dry-run", SHMBUSCTL_BIN), 0);
	assert_plain_text("reclaim", out);
	assert_non_null(strstr(out, "a?[2Jb?  "));
	unlink(path);
}

/* A service command that cannot be run fails `check` (the unit's
 * ExecStartPre) and `up` before anything starts, naming file, line and
 * service; it used to pass check, then be restarted like a crash. */
static void test_shmbusctl_check_finds_commands_that_cannot_run(void **state)
{
	(void)state;
	char path[256];
	snprintf(path, sizeof(path), "%s/cmd.ini", dir);
	assert_int_equal(tu_write(path, "[bus]\nname = cmdbus\n"
	                                "[service ok]\ncommand = sleep\nargs = 1\n"
	                                "[service gone]\ncommand = /nonexistent/prog\n"),
	                 0);
	assert_int_equal(tu_run(out, sizeof(out), "%s check %s", SHMBUSCTL_BIN, path), 1);
	assert_non_null(strstr(out, "cmd.ini:6: [service gone] command: '/nonexistent/prog': No "
	                            "such file or directory"));
	assert_int_equal(tu_run(out, sizeof(out), "%s up %s", SHMBUSCTL_BIN, path), 1);
	snprintf(path, sizeof(path), "%s/shmbus.cmdbus", dir);
	assert_int_not_equal(access(path, F_OK), 0); /* nothing created */

	snprintf(path, sizeof(path), "%s/cmd.ini", dir);
	assert_int_equal(tu_write(path, "[service bare]\ncommand = shmbus-no-such-program\n"), 0);
	assert_int_equal(tu_run(out, sizeof(out), "%s check %s", SHMBUSCTL_BIN, path), 1);
	assert_non_null(strstr(out, "cmd.ini:1: [service bare] command: 'shmbus-no-such-program' "
	                            "(looked up in PATH): No such file or directory"));
	/* relative to the config's folder: a file there that is not executable */
	char prog[256];
	snprintf(prog, sizeof(prog), "%s/bin/run.sh", dir);
	snprintf(path, sizeof(path), "%s/bin", dir);
	assert_int_equal(mkdir(path, 0755), 0);
	assert_int_equal(tu_write(prog, "#!/bin/sh\nexit 0\n"), 0);
	snprintf(path, sizeof(path), "%s/cmd.ini", dir);
	assert_int_equal(tu_write(path, "[service rel]\ncommand = bin/run.sh\n"), 0);
	assert_int_equal(tu_run(out, sizeof(out), "%s check %s", SHMBUSCTL_BIN, path), 1);
	assert_non_null(strstr(out, "[service rel] command: '"));
	assert_non_null(strstr(out, "/bin/run.sh': Permission denied"));
	assert_int_equal(chmod(prog, 0755), 0);
	assert_int_equal(tu_run(out, sizeof(out), "%s check %s", SHMBUSCTL_BIN, path), 0);
}

/* A `bus` key of [journal] or [bridge] other than the bus run fails `check`
 * as it fails `up`, with the same message: check passed it, and the
 * launcher its ExecStartPre had vetted then refused to start. */
static void test_shmbusctl_check_refuses_other_bus_in_service_sections(void **state)
{
	(void)state;
	char path[256], up_out[1024];
	const char *want = "jb.ini:5: [journal] bus: 'prod' is not the bus this launcher runs "
	                   "('test')";
	snprintf(path, sizeof(path), "%s/jb.ini", dir);
	assert_int_equal(tu_write(path, "[bus]\nname = prod\narena_mb = 2\n"
	                                "[journal]\nbus = prod\nring = journal.in\n"
	                                "[service s]\ncommand = sleep\nargs = 1000\n"),
	                 0);
	assert_int_equal(
	    tu_run(up_out, sizeof(up_out), "timeout 10 %s --bus test up %s", SHMBUSCTL_BIN, path),
	    1);
	assert_non_null(strstr(up_out, want));
	assert_int_equal(tu_run(out, sizeof(out), "%s --bus test check %s", SHMBUSCTL_BIN, path),
	                 1);
	assert_non_null(strstr(out, want));
	assert_int_equal(
	    tu_run(out, sizeof(out), "%s --bus test check --json %s", SHMBUSCTL_BIN, path), 1);
	assert_non_null(strstr(out, want));
	/* [bridge] against the config's own [bus] name, without --bus */
	assert_int_equal(
	    tu_write(path, "[bus]\nname = prod\narena_mb = 2\n[bridge]\nbus = other\n"), 0);
	assert_int_equal(tu_run(out, sizeof(out), "%s check %s", SHMBUSCTL_BIN, path), 1);
	assert_non_null(strstr(out, "jb.ini:5: [bridge] bus: 'other' is not the bus this launcher "
	                            "runs ('prod')"));
	/* the bus run named: accepted */
	assert_int_equal(tu_run(out, sizeof(out), "%s --bus other check %s", SHMBUSCTL_BIN, path),
	                 0);
}

/* check refuses a [launcher] status_file that up refuses before it starts
 * anything (a folder that does not exist, a directory in its place): it
 * said ok, and up then failed. */
static void test_shmbusctl_check_refuses_status_file_up_refuses(void **state)
{
	(void)state;
	char path[256], status[256], up_out[1024], want[400];
	const char *bad[] = {"%s/nosuch/status", "%s"};
	snprintf(path, sizeof(path), "%s/st.ini", dir);
	for (size_t i = 0; i < 2; i++) {
		snprintf(status, sizeof(status), bad[i], dir);
		char cfg[600];
		snprintf(cfg, sizeof(cfg),
		         "[bus]\nname = stfile\narena_mb = 2\n[launcher]\nstatus_file = %s\n"
		         "[service s]\ncommand = sleep\nargs = 1000\n",
		         status);
		assert_int_equal(tu_write(path, cfg), 0);
		snprintf(want, sizeof(want), "status file %s: %s", status,
		         i ? "not a regular file (a directory)" : "cannot create");
		assert_int_equal(
		    tu_run(up_out, sizeof(up_out), "timeout 10 %s up %s 2>&1", SHMBUSCTL_BIN, path), 1);
		if (!strstr(up_out, want))
			fail_msg("up: want '%s' in: %s", want, up_out);
		assert_int_equal(tu_run(out, sizeof(out), "%s check %s 2>&1", SHMBUSCTL_BIN, path), 1);
		if (!strstr(out, want) || strncmp(out, "shmbusctl: ", 11) != 0)
			fail_msg("check: want 'shmbusctl: ...%s' in: %s", want, out);
	}
	/* a writable one: ok, and nothing left beside it */
	snprintf(status, sizeof(status), "%s/status", dir);
	char cfg[600];
	snprintf(cfg, sizeof(cfg),
	         "[bus]\nname = stfile\narena_mb = 2\n[launcher]\nstatus_file = %s\n", status);
	assert_int_equal(tu_write(path, cfg), 0);
	assert_int_equal(tu_run(out, sizeof(out), "%s check %s 2>&1", SHMBUSCTL_BIN, path), 0);
	assert_int_equal(tu_run(out, sizeof(out), "ls %s | grep -c tmp", dir), 1); /* none */
}

/* Without SHMBUS_DIR a bus goes to a hugetlbfs mount with pages free (one
 * without size= once looked full), and list, info and destroy find it
 * there: list once read /dev/shm only. */
static void test_shmbusctl_lists_buses_on_hugetlbfs(void **state)
{
	char name[32], want[64];
	(void)state;
	TH_REQUIRE_MOUNT();
	snprintf(name, sizeof(name), "ctl-huge-%d", (int)getpid());
	unsetenv("SHMBUS_DIR");
	int rc =
	    tu_run(out, sizeof(out), "%s --bus %s create %s/ctl.ini", SHMBUSCTL_BIN, name, dir);
	if (rc == 0)
		rc = tu_run(out, sizeof(out), "%s list --json", SHMBUSCTL_BIN);
	snprintf(want, sizeof(want), "{\"name\":\"%s\",", name);
	const char *entry = strstr(out, want);
	const char *b = entry ? strstr(entry, "\"backing\":") : NULL;
	const char *huge = "\"backing\":\"hugetlbfs\"";
	int backing_ok = b && strncmp(b, huge, strlen(huge)) == 0;
	if (!backing_ok)
		fprintf(stderr, "list: %s\n", out);
	int info = tu_run(out, sizeof(out), "%s info %s --json", SHMBUSCTL_BIN, name);
	/* A copy of the same name in /dev/shm is another bus, searched after
	 * the mount: listed as shadowed, not as the hugetlbfs one (it used to
	 * be described, and reclaimed, by the name's first file). */
	char copy[128], cmd[900], orig[512] = "";
	snprintf(copy, sizeof(copy), "/dev/shm/shmbus.%s", name);
	shmbus_bus_path(name, orig, sizeof(orig));
	snprintf(cmd, sizeof(cmd), "cp %s %s", orig, copy);
	int shadowed = -1;
	if (access(copy, F_OK) != 0 && system(cmd) == 0) {
		tu_run(out, sizeof(out), "%s list", SHMBUSCTL_BIN);
		shadowed = strstr(out, "shadowed by") != NULL;
		unlink(copy);
	}
	int destroyed = tu_run(out, sizeof(out), "%s destroy %s", SHMBUSCTL_BIN, name);
	setenv("SHMBUS_DIR", dir, 1);
	assert_int_equal(rc, 0);
	assert_non_null(entry);
	assert_true(backing_ok);
	assert_int_equal(info, 0);
	assert_int_equal(shadowed, 1);
	assert_int_equal(destroyed, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_shmbusctl_usage_and_help_exit_codes),
	    cmocka_unit_test(test_shmbusctl_check_reports_bad_config),
	    cmocka_unit_test(test_shmbusctl_config_must_be_a_regular_file),
	    cmocka_unit_test(test_shmbusctl_bus_option_is_a_bus_name),
	    cmocka_unit_test(test_shmbusctl_bus_argument_is_a_bus_name),
	    cmocka_unit_test(test_shmbusctl_create_info_list_destroy),
	    cmocka_unit_test(test_shmbusctl_reclaim_removes_only_dead_buses),
	    cmocka_unit_test(test_shmbusctl_list_names_an_over_long_file),
	    cmocka_unit_test(test_shmbusctl_refuses_options_of_other_commands),
	    cmocka_unit_test(test_shmbusctl_check_finds_commands_that_cannot_run),
	    cmocka_unit_test(test_shmbusctl_check_refuses_other_bus_in_service_sections),
	    cmocka_unit_test(test_shmbusctl_check_refuses_status_file_up_refuses),
	    cmocka_unit_test(test_shmbusctl_json_is_ascii_whatever_the_file_names),
	    cmocka_unit_test(test_shmbusctl_json_is_a_document_or_refused),
	    cmocka_unit_test(test_shmbusctl_list_text_escapes_file_names),
	    cmocka_unit_test(test_shmbusctl_text_escapes_names_from_the_segment),
	    cmocka_unit_test(test_shmbusctl_lists_buses_on_hugetlbfs),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
