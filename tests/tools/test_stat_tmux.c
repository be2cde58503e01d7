/*
 * test_stat_tmux.c - the live screen in a real terminal: shmbus-stat runs
 * in a detached tmux session, the test publishes and consumes, and the
 * captured pane shows the ring and a DELIVERED count that moves.
 * Skips (77) when tmux is not installed.
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

#include <shmbus/shmbus.h>

#include "tool_util.h"

static char sock[64];

static void count(const struct shmbus_event_header *ev, void *ctx)
{
	(void)ev;
	(*(int *)ctx)++;
}

static void publish_and_consume(shmbus_producer *p, shmbus_consumer *c, int n)
{
	struct shmbus_trade t;
	memset(&t, 0, sizeof(t));
	t.h.type = SHMBUS_EV_TRADE;
	t.h.version = SHMBUS_EVENT_LAYOUT_VERSION;
	t.h.size = sizeof(t);
	t.h.symbol_id = 1;
	for (int i = 0; i < n; i++)
		assert_true(shmbus_publish(p, &t) >= 0);
	int got = 0;
	while (got < n)
		shmbus_poll(c, count, &got, 256);
}

/* DELIVERED column of the row of ring `ring` in the pane, or -1. */
static long long pane_delivered(const char *ring)
{
	char out[16384];
	if (tu_run(out, sizeof(out), "tmux -L %s capture-pane -p -t stat", sock) != 0)
		return -1;
	for (char *l = strtok(out, "\n"); l; l = strtok(NULL, "\n")) {
		char name[64], state[16];
		long long prods, pid, cap, depth, delivered;
		double evs, mbs;
		if (sscanf(l, "%63s %15s %lld %lld %lld %lld %lf %lf %lld", name, state, &prods,
		           &pid, &cap, &depth, &evs, &mbs, &delivered) == 9 &&
		    strcmp(name, ring) == 0)
			return prods == 1 ? delivered : -2; /* one producer routes here */
	}
	return -1;
}

static long long wait_delivered(const char *ring, long long want)
{
	long long v = -1;
	for (int i = 0; i < 300 && v != want; i++) {
		tu_msleep(20);
		v = pane_delivered(ring);
	}
	return v;
}

static void test_stat_tmux_screen_shows_rings_and_updates(void **state)
{
	(void)state;
	char out[4096];
	if (tu_run(out, sizeof(out), "tmux -V") != 0) {
		printf("SKIP: tmux is not installed\n");
		exit(77);
	}
	const char *dir = tu_tmpdir();
	assert_non_null(dir);
	snprintf(sock, sizeof(sock), "shmbus-test-%d", (int)getpid());
	shmbus_bus *bus;
	struct shmbus_bus_opts bo;
	shmbus_bus_opts_init(&bo);
	bo.arena_bytes = 2u << 20;
	assert_int_equal(shmbus_bus_create("tmuxbus", &bo, &bus), 0);
	struct shmbus_sub_opts so;
	shmbus_sub_opts_init(&so);
	so.capacity = 1024;
	shmbus_consumer *c;
	shmbus_producer *p;
	assert_int_equal(shmbus_subscribe(bus, "screenring", &so, &c), 0);
	assert_int_equal(shmbus_producer_open(bus, NULL, &p), 0);
	publish_and_consume(p, c, 100);

	int rc = tu_run(out, sizeof(out),
	                "tmux -L %s new-session -d -s stat -x 160 -y 40 "
	                "'env SHMBUS_DIR=%s %s --bus tmuxbus --interval 0.1'",
	                sock, dir, SHMBUS_STAT_BIN);
	assert_int_equal(rc, 0);
	assert_int_equal(wait_delivered("screenring", 100), 100);
	publish_and_consume(p, c, 250);
	assert_int_equal(wait_delivered("screenring", 350), 350);
	assert_int_equal(tu_run(out, sizeof(out), "tmux -L %s capture-pane -p -t stat", sock), 0);
	assert_non_null(strstr(out, "shmbus-stat  bus tmuxbus"));
	assert_non_null(strstr(out, "PARTICIPANT"));

	tu_run(out, sizeof(out), "tmux -L %s kill-server", sock);
	shmbus_producer_close(p);
	shmbus_consumer_close(c);
	shmbus_bus_close(bus);
	shmbus_bus_destroy("tmuxbus");
	tu_rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_stat_tmux_screen_shows_rings_and_updates),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
