/*
 * test_install.c - `cmake --install` gives other projects what they need:
 * installed into a fresh prefix, the headers and libshmbus.a are found
 * through the installed shmbus.pc alone, and a program built with
 * `cc prog.c $(pkg-config --cflags --libs shmbus)` (libshmbus is static:
 * its dependencies must be public in the .pc) links and runs; the same
 * with a C++ compiler when there is one. The prefix is moved after the
 * install to show the .pc is relocatable, and the installed programs
 * still run from there (a shared libshmbus is found beside their bin/).
 * A CMake project finds the same tree with find_package(shmbus).
 * The rules, example configs, docs and systemd units are installed too.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char tmp[] = "/tmp/shmbus-install-XXXXXX";

/* Run a shell command; its output goes to the test's log. */
static int sh(const char *fmt, ...)
{
	char cmd[4096];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(cmd, sizeof cmd, fmt, ap);
	va_end(ap);
	print_message("$ %s\n", cmd);
	fflush(stdout);
	int rc = system(cmd);
	return rc == -1 ? -1 : WEXITSTATUS(rc);
}

/* The prefix goes whatever the test's outcome. */
static int remove_tmp(void **state)
{
	(void)state;
	if (strchr(tmp, 'X') == NULL) /* made */
		sh("rm -rf '%s'", tmp);
	return 0;
}

static void test_install_then_build_with_pkg_config(void **state)
{
	(void)state;
#ifdef SHMBUS_SANITIZED
	print_message("skipped: this tree is built with -fsanitize=%s; its installed libshmbus.a "
		      "links only into programs built the same way (the release pass runs this "
		      "test)\n",
		      SHMBUS_SANITIZED);
	skip();
#endif
	assert_non_null(mkdtemp(tmp));
	assert_int_equal(sh("'%s' --install '%s' --prefix '%s/stage' >/dev/null", SHMBUS_CMAKE,
			    SHMBUS_BUILD_DIR, tmp),
			 0);
	/* relocatable: the .pc finds its prefix from where it lies */
	assert_int_equal(sh("mv '%s/stage' '%s/moved'", tmp, tmp), 0);
	assert_int_equal(sh("test -f '%s/moved/include/shmbus/shmbus.h'", tmp), 0);
	const char *pc = "export PKG_CONFIG_PATH=\"$(dirname \"$(find '%s/moved' -name shmbus.pc)\")\"";
	char env[512];
	snprintf(env, sizeof env, pc, tmp);
	/* the installed .pc, not one the machine may have elsewhere */
	assert_int_equal(sh("test -n \"$(find '%s/moved' -name shmbus.pc)\"", tmp), 0);
	assert_int_equal(sh("%s; pkg-config --exists shmbus", env), 0);
	/* the rpath is what a user of a private prefix adds for a shared
	 * libshmbus (BUILD_SHARED_LIBS); a static one ignores it */
	const char *rpath = "-Wl,-rpath,\"$(pkg-config --variable=libdir shmbus)\"";
	assert_int_equal(sh("%s; cc -std=c11 -Wall -Wextra -Werror '%s' "
			    "$(pkg-config --cflags --libs shmbus) %s -o '%s/use_c' && "
			    "'%s/use_c' | grep -qx ok",
			    env, SHMBUS_PROBE_SRC, rpath, tmp, tmp),
			 0);
	if (sh("command -v c++ >/dev/null") == 0)
		assert_int_equal(sh("%s; c++ -std=c++17 -Wall -Wextra -Werror -x c++ '%s' -x none "
				    "$(pkg-config --cflags --libs shmbus) %s -o '%s/use_cxx' && "
				    "'%s/use_cxx' | grep -qx ok",
				    env, SHMBUS_PROBE_SRC, rpath, tmp, tmp),
				 0);
	else
		print_message("no c++ compiler: the C++ build is not tried\n");
	/* A CMake project finds it with find_package(shmbus) alone, in the
	 * moved prefix, and links shmbus::shmbus with its dependencies. */
	assert_int_equal(sh("'%s' -S '%s' -B '%s/cm' -DCMAKE_PREFIX_PATH='%s/moved' "
			    "-DSHMBUS_WANT=0.1 -DPROBE_SRC='%s' >/dev/null && "
			    "'%s' --build '%s/cm' >/dev/null && '%s/cm/use_c' | grep -qx ok",
			    SHMBUS_CMAKE, SHMBUS_CMAKE_USER, tmp, tmp, SHMBUS_PROBE_SRC,
			    SHMBUS_CMAKE, tmp, tmp),
			 0);
	/* and its version file refuses a version this one is not */
	assert_int_equal(sh("! '%s' -S '%s' -B '%s/cm9' -DCMAKE_PREFIX_PATH='%s/moved' "
			    "-DSHMBUS_WANT=9.0 -DPROBE_SRC='%s' >'%s/cm9.log' 2>&1 && "
			    "grep -q 'shmbusConfig.cmake, version: 0\\.1' '%s/cm9.log'",
			    SHMBUS_CMAKE, SHMBUS_CMAKE_USER, tmp, tmp, SHMBUS_PROBE_SRC, tmp, tmp),
			 0);
	/* Beside the library: the rules, example configs, docs, and systemd
	 * units naming the prefix they were installed to. */
	assert_int_equal(sh("test -f '%s/moved/share/shmbus/rules/default.rules'", tmp), 0);
	/* demo.ini beside the rules it names as ${configdir}/rules/default.rules */
	assert_int_equal(sh("test -f '%s/moved/share/shmbus/demo.ini'", tmp), 0);
	assert_int_equal(sh("test -f \"$(find '%s/moved/share/doc' -name config.md)\"", tmp), 0);
	/* the installed programs run from the moved prefix: a shared
	 * libshmbus is found relative to them, not at the build tree's or
	 * the install's path */
	assert_int_equal(sh("'%s/moved/bin/shmbusctl' --help >/dev/null", tmp), 0);
	/* the hugepage set-up the tools' hints name, runnable */
	assert_int_equal(sh("'%s/moved/bin/shmbus-hugepages' --help | grep -q 'vm.nr_hugepages'", tmp),
			 0);
	/* with the version written in (no source tree beside an install) */
	assert_int_equal(sh("test \"$('%s/moved/bin/shmbus-hugepages' --version)\" = "
			    "'shmbus-hugepages (shmbus) %s'",
			    tmp, SHMBUS_PROJECT_VERSION),
			 0);
	assert_int_equal(sh("grep -q '^ExecStart=%s/stage/bin/shmbusctl up' "
			    "'%s/moved/share/shmbus/systemd/shmbus@.service'",
			    tmp, tmp),
			 0);
	assert_int_equal(sh("grep -q '^Environment=PATH=%s/stage/bin:/usr/bin:' "
			    "'%s/moved/share/shmbus/systemd/shmbus@.service'",
			    tmp, tmp),
			 0);
	/* the installed pipeline's default rules are the installed ones, where
	 * the tree now lies */
	if (sh("test -x '%s/moved/bin/shmbus-pipeline'", tmp) == 0)
		assert_int_equal(sh("'%s/moved/bin/shmbus-pipeline' --help | tr -d ' \\n' | "
				    "grep -qF '%s/moved/bin/../share/shmbus/rules/default.rules'",
				    tmp, tmp),
				 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_install_then_build_with_pkg_config, remove_tmp),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
