/*
 * test_journald_enospc.c - journald on a full disk.
 *
 * The journal dir is a 1 MiB tmpfs (needs root or CAP_SYS_ADMIN: skipped
 * with exit 77 otherwise). 300k trades (17 MB) go through a 65536-slot
 * `block` ring, so publishing can only finish if journald keeps draining
 * its ring while every write fails. It must say so clearly on stderr,
 * count the lost events (journaled + lost = published), keep what it did
 * write verifiable, and the bus must keep serving another consumer.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <sys/mount.h>

#include "jtt.h"

#define ES_N 300000

/* Publish n trades of symbol name with times from t0, each delivered to
 * `rings` rings (-1: any number). */
static void es_publish_sym(shmbus_bus *b, const char *name, int n, int64_t t0, int rings)
{
	shmbus_producer *p;
	assert_int_equal(shmbus_producer_open(b, NULL, &p), 0);
	struct shmbus_trade t;
	memset(&t, 0, sizeof(t));
	t.h.type = SHMBUS_EV_TRADE;
	t.h.version = 1;
	t.h.size = sizeof(t);
	t.h.symbol_id = (uint32_t)shmbus_symbol_intern(b, name, strlen(name));
	for (int i = 0; i < n; i++) {
		t.h.event_time_ns = t0 + i;
		t.price = i;
		int rc = shmbus_publish(p, &t);
		assert_true(rings < 0 ? rc >= 0 : rc == rings);
	}
	shmbus_producer_close(p);
}

static void es_on(const struct shmbus_event_header *ev, void *ctx)
{
	(void)ev;
	++*(int *)ctx;
}

/* A bus, and a 1 MiB tmpfs on the journal directory (skips the test
 * without the right to mount one). */
static shmbus_bus *es_setup_small_disk(void)
{
	shmbus_bus *b = jtt_setup();
	if (mount("tmpfs", jtt_jdir, "tmpfs", 0, "size=1m") != 0) {
		printf("skip: cannot mount a 1 MiB tmpfs on %s: %s (needs CAP_SYS_ADMIN)\n", jtt_jdir,
		       strerror(errno));
		jtt_teardown(b);
		exit(77);
	}
	return b;
}

static void test_journald_enospc_keeps_draining(void **state)
{
	(void)state;
	shmbus_bus *b = es_setup_small_disk();
	shmbus_consumer *obs;
	struct shmbus_sub_opts so;
	shmbus_sub_opts_init(&so);
	so.capacity = 1u << 19;
	so.slot_size = 64;
	assert_int_equal(shmbus_subscribe(b, "observer", &so, &obs), 0);

	char stats[200], errf[200];
	snprintf(stats, sizeof(stats), "%s/stats.json", jtt_shm);
	snprintf(errf, sizeof(errf), "%s/journald.err", jtt_shm);
	char *av[] = {JOURNALD_BIN, "--bus", jtt_bus, "--dir", jtt_jdir, "--fsync", "none",
	              "--block-kb", "16", "--stats-json", stats, NULL};
	pid_t jd = jtt_spawn(av, "/dev/null", errf);
	assert_int_equal(jtt_wait_ring(b, "journal", jd), 0);
	es_publish_sym(b, "SPY", ES_N, 1700000000000000000ll, 2); /* journal + observer */
	assert_int_equal(jtt_wait_drained(b, "journal", 30), 0);
	int got = 0;
	while (shmbus_poll(obs, es_on, &got, 4096) > 0)
		;
	assert_int_equal(got, ES_N);
	assert_int_equal(kill(jd, 0), 0); /* still running */
	kill(jd, SIGTERM);
	assert_int_equal(jtt_wait(jd, 30), 0);

	char *st = jtt_slurp(stats), *err = jtt_slurp(errf);
	assert_int_equal(jtt_json_i64(st, "events"), ES_N);
	int64_t lost = jtt_json_i64(st, "lost");
	assert_true(lost > 0);
	assert_true(jtt_json_i64(st, "errors") > 0);
	assert_non_null(strstr(st, "No space left on device"));
	assert_non_null(strstr(err, "journal write failed: No space left on device"));
	struct shmbus_journal_verify_report rep;
	memset(&rep, 0, sizeof(rep));
	assert_int_equal(shmbus_journal_verify(jtt_jdir, jtt_bus, &rep), 0);
	assert_int_equal(rep.events + (uint64_t)lost, ES_N);
	printf("journaled %llu, lost %lld\n", (unsigned long long)rep.events, (long long)lost);
	free(st);
	free(err);
	shmbus_consumer_close(obs);
	umount2(jtt_jdir, MNT_DETACH);
	jtt_teardown(b);
}

/* Fill the file system of dir: a file that takes every free byte. */
static void es_fill(const char *path)
{
	static char buf[4096];
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	assert_true(fd >= 0);
	while (write(fd, buf, sizeof(buf)) > 0)
		;
	close(fd);
}


/* The disk is full when a symbol first shows up, then space returns: the
 * symbols file must still name it. journald marked the id as named before
 * its line was written, so the name was never written again and every
 * later event of the symbol read as "#id" (replay: "unnamed-id"). */
static void test_journald_enospc_symbol_named_after_space_returns(void **state)
{
	(void)state;
	shmbus_bus *b = es_setup_small_disk();
	char filler[256], errf[256], syms[512];
	snprintf(filler, sizeof(filler), "%s/filler", jtt_jdir);
	snprintf(errf, sizeof(errf), "%s/journald.err", jtt_shm);
	snprintf(syms, sizeof(syms), "%s/%s.symbols", jtt_jdir, jtt_bus);
	es_fill(filler);
	char *av[] = {JOURNALD_BIN, "--bus", jtt_bus, "--dir", jtt_jdir, "--fsync", "none",
	              "--block-kb", "4", "--flush-ms", "1", NULL};
	pid_t jd = jtt_spawn(av, "/dev/null", errf);
	assert_int_equal(jtt_wait_ring(b, "journal", jd), 0);
	es_publish_sym(b, "FULL", 100, 1700000000000000000ll, -1); /* first seen on a full disk */
	assert_int_equal(jtt_wait_drained(b, "journal", 30), 0);
	usleep(100000);
	assert_int_equal(unlink(filler), 0);
	es_publish_sym(b, "FULL", 100, 1700000001000000000ll, -1); /* journaled now */
	assert_int_equal(jtt_wait_drained(b, "journal", 30), 0);
	kill(jd, SIGTERM);
	assert_int_equal(jtt_wait(jd, 30), 0);

	char *err = jtt_slurp(errf), *sf = jtt_slurp(syms);
	printf("# symbols file: '%s'\n", sf);
	assert_non_null(strstr(sf, ",FULL\n"));
	assert_non_null(strstr(err, "symbols file failed: No space left on device"));
	char *out = NULL;
	char *cat[] = {JOURNAL_BIN, "cat", "--dir", jtt_jdir, "--bus", jtt_bus, "--symbols", "FULL",
	               "--format", "csv", NULL};
	assert_int_equal(jtt_run(cat, &out), 0);
	int rows = 0;
	for (const char *c = out; (c = strchr(c, '\n')) != NULL; c++)
		rows++;
	assert_true(rows > 1); /* the header and the events journaled after space returned */
	free(out);
	free(err);
	free(sf);
	umount2(jtt_jdir, MNT_DETACH);
	jtt_teardown(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_journald_enospc_keeps_draining),
	    cmocka_unit_test(test_journald_enospc_symbol_named_after_space_returns),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
