/*
 * test_ring_dir.c - the ring directory and the arena: rings created and
 * freed in turn never leak arena bytes (top give-back, entries without a
 * region preferred, free neighbours merged, the smallest region dropped
 * only when nothing else helps); a full directory recycles an empty
 * orphaned ring, keeps declared rings and rings holding events, and says
 * so; shmbus_ring_remove() and `shmbusctl ring-remove`; consumer groups
 * refuse members that disagree on the size or share an index.
 *
 * Region sizes are computed from the private layout (ring header size)
 * so that each case can fill the arena exactly.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "ring/bus_internal.h" /* a ring's header, to fake a claim without a record */
#include "ring/layout.h"

#include "ring/test_util.h"

#define NSYM 16 /* max_symbols of these buses: a one-line symbol bitmap */

static void assert_msg_has(const char *what)
{
	if (!strstr(shmbus_errmsg(), what))
		fail_msg("error message \"%s\" does not name \"%s\"", shmbus_errmsg(), what);
}

/* Arena bytes of a ring of cap 64-byte slots (as consumer.c rounds them). */
static uint64_t region(uint32_t cap)
{
	uint64_t b = sizeof(struct ring_hdr) +
	             CACHE_LINE * ((NSYM / 8 + CACHE_LINE - 1) / CACHE_LINE) + (uint64_t)cap * 64;
	return (b + 4095) & ~(uint64_t)4095;
}

static shmbus_bus *dir_bus(const char *name, uint32_t max_rings, uint64_t arena)
{
	struct shmbus_bus_opts o;
	tu_bus_opts(&o, 1);
	o.arena_bytes = arena;
	o.max_rings = max_rings;
	o.max_symbols = NSYM;
	o.prefault = 0;
	shmbus_bus *bus = NULL;
	int rc = shmbus_bus_create(name, &o, &bus);
	if (rc)
		fail_msg("create bus: %s (%s)", shmbus_strerror(rc), shmbus_errmsg());
	return bus;
}

static uint64_t arena_used(const shmbus_bus *bus)
{
	struct shmbus_bus_info bi;
	assert_int_equal(shmbus_stat_bus(bus, &bi), 0);
	return bi.arena_used;
}

static shmbus_consumer *sub(shmbus_bus *bus, const char *name, uint32_t cap)
{
	struct shmbus_sub_opts so;
	tu_sub_opts(&so, cap, 64, SHMBUS_POLICY_DROP);
	shmbus_consumer *c = NULL;
	int rc = shmbus_subscribe(bus, name, &so, &c);
	if (rc)
		fail_msg("subscribe %s (cap %u): %s (%s)", name, cap, shmbus_strerror(rc),
		         shmbus_errmsg());
	return c;
}

static int try_sub(shmbus_bus *bus, const char *name, uint32_t cap)
{
	struct shmbus_sub_opts so;
	tu_sub_opts(&so, cap, 64, SHMBUS_POLICY_DROP);
	shmbus_consumer *c = NULL;
	int rc = shmbus_subscribe(bus, name, &so, &c);
	if (rc == 0)
		shmbus_consumer_close(c);
	return rc;
}

/* Declare ring `name` (64 slots): DETACHED until a consumer attaches. */
static int declare(shmbus_bus *bus, const char *name)
{
	struct shmbus_sub_opts so;
	tu_sub_opts(&so, 64, 64, SHMBUS_POLICY_DROP);
	return shmbus_ring_declare(bus, name, &so);
}

/* Publish one trade about symbol 1 and return the rings it reached. */
static int publish_one(shmbus_bus *bus, double price)
{
	shmbus_producer *p;
	assert_int_equal(shmbus_producer_open(bus, NULL, &p), 0);
	struct shmbus_trade t = tu_trade(1, price);
	int n = shmbus_publish(p, &t);
	shmbus_producer_close(p);
	return n;
}

/* One ring at a time, ever larger: every byte comes back (the probe saw
 * arena_used climb 69632 -> 999424 and a second ring refused). */
static void test_ring_dir_churn_returns_the_arena(void **state)
{
	(void)state;
	shmbus_bus *bus = dir_bus(NULL, 2, 1u << 20);
	for (int round = 0; round < 3; round++) {
		for (uint32_t cap = 1024; cap <= 8192; cap *= 2) {
			shmbus_consumer *c = sub(bus, "md", cap);
			assert_int_equal(arena_used(bus), region(cap));
			/* what a config's arena check counts per ring */
			assert_int_equal(shmbus_ring_arena_bytes(cap, 64, NSYM), region(cap));
			assert_int_equal(shmbus_unsubscribe(c), 0);
			assert_int_equal(arena_used(bus), 0);
		}
	}
	shmbus_consumer *big = sub(bus, "big", 8192), *other = sub(bus, "other", 1024);
	assert_int_equal(arena_used(bus), region(8192) + region(1024));
	assert_int_equal(shmbus_unsubscribe(big), 0);
	/* big's region is below other's: kept for reuse, not given back */
	assert_int_equal(arena_used(bus), region(8192) + region(1024));
	assert_int_equal(shmbus_unsubscribe(other), 0);
	assert_int_equal(arena_used(bus), 0); /* both, top down */
	assert_int_equal(shmbus_bus_close(bus), 0);
}

/* A freed ring's bytes are a gap: a bigger ring goes elsewhere, a later
 * ring of the same size fills the gap (best fit), nothing grows. */
static void test_ring_dir_reuses_the_best_fitting_gap(void **state)
{
	(void)state;
	shmbus_bus *bus = dir_bus(NULL, 3, 1u << 20);
	shmbus_consumer *a = sub(bus, "a", 1024), *keep = sub(bus, "keep", 1024);
	assert_int_equal(shmbus_unsubscribe(a), 0); /* a gap below keep */
	assert_int_equal(arena_used(bus), 2 * region(1024));
	shmbus_consumer *b = sub(bus, "b", 4096);
	uint64_t used = arena_used(bus);
	assert_int_equal(used, 2 * region(1024) + region(4096));
	shmbus_consumer *c = sub(bus, "c", 1024); /* a's bytes again */
	assert_int_equal(arena_used(bus), used);
	shmbus_consumer_close(c);
	shmbus_consumer_close(b);
	shmbus_consumer_close(keep);
	assert_int_equal(shmbus_bus_close(bus), 0);
}

/* Two freed neighbours are one gap, taken by a ring only their union
 * holds; the live ring above keeps its events, the new one starts empty. */
static void test_ring_dir_merges_free_neighbours(void **state)
{
	(void)state;
	uint64_t r1k = region(1024), r2k = region(2048), small = region(8);
	assert_true(2 * r1k == r2k + small && small == 4096);
	shmbus_bus *bus = dir_bus(NULL, 6, 3 * r1k + small); /* room for one small ring */
	shmbus_consumer *a = sub(bus, "a", 1024), *b = sub(bus, "b", 1024);
	shmbus_consumer *top = sub(bus, "top", 1024);
	assert_int_equal(publish_one(bus, 7.0), 3);
	assert_int_equal(shmbus_unsubscribe(a), 0);
	assert_int_equal(shmbus_unsubscribe(b), 0);
	assert_int_equal(arena_used(bus), 3 * r1k); /* top is still there */
	shmbus_consumer *d = sub(bus, "d", 2048);
	assert_int_equal(arena_used(bus), 3 * r1k);
	/* the page d left of the gap, then the one at the top, then none */
	shmbus_consumer *e = sub(bus, "e", 8);
	assert_int_equal(arena_used(bus), 3 * r1k);
	shmbus_consumer *f = sub(bus, "f", 8);
	assert_int_equal(arena_used(bus), 3 * r1k + small);
	assert_int_equal(try_sub(bus, "g", 8), -ENOSPC);
	assert_msg_has("arena has 0 of");
	struct tu_sink s;
	tu_sink_init(&s, 4);
	assert_int_equal(tu_drain(top, &s), 1);
	assert_true(((const struct shmbus_trade *)&s.ev[0])->price == 7.0);
	assert_int_equal(tu_drain(d, &s), 0); /* a wiped region: nothing stale */
	assert_int_equal(publish_one(bus, 8.0), 4); /* top, d, e, f */
	assert_int_equal(tu_drain(d, &s), 1);
	assert_true(((const struct shmbus_trade *)&s.ev[1])->price == 8.0);
	tu_sink_free(&s);
	shmbus_consumer_close(f);
	shmbus_consumer_close(e);
	shmbus_consumer_close(d);
	shmbus_consumer_close(top);
	assert_int_equal(shmbus_bus_close(bus), 0);
}

/* Random churn of rings of random sizes in any order (the review's fuzz
 * left 1036288 of 1 MiB to no one with the previous allocator): once
 * every ring is gone the whole arena is free, and rings of most of it fit
 * side by side from its bottom. */
static void test_ring_dir_churn_in_any_order_loses_nothing(void **state)
{
	(void)state;
	enum { SLOTS = 6 };
	shmbus_bus *bus = dir_bus(NULL, SLOTS, 1u << 20);
	shmbus_consumer *c[SLOTS] = {0};
	uint64_t rnd = 7;
	for (int step = 0; step < 3000; step++) {
		uint64_t r = tu_rand(&rnd);
		int k = (int)(r % SLOTS);
		char name[8];
		snprintf(name, sizeof(name), "r%d", k);
		if (c[k]) { /* freed one way or the other */
			if ((r >> 8) & 1) {
				assert_int_equal(shmbus_unsubscribe(c[k]), 0);
			} else {
				shmbus_consumer_close(c[k]);
				assert_int_equal(shmbus_ring_remove(bus, name), 0);
			}
			c[k] = NULL;
			continue;
		}
		uint32_t cap = 8u << ((r >> 16) % 9); /* 8 .. 2048 slots */
		struct shmbus_sub_opts so;
		tu_sub_opts(&so, cap, 64, SHMBUS_POLICY_DROP);
		int rc = shmbus_subscribe(bus, name, &so, &c[k]);
		if (rc == -ENOSPC)
			c[k] = NULL; /* fragmented for now: fine, later steps free bytes */
		else
			assert_int_equal(rc, 0);
	}
	for (int k = 0; k < SLOTS; k++)
		if (c[k])
			assert_int_equal(shmbus_unsubscribe(c[k]), 0);
	assert_int_equal(arena_used(bus), 0);
	shmbus_consumer *big = sub(bus, "big", 8192), *mid = sub(bus, "mid", 4096);
	assert_int_equal(arena_used(bus), region(8192) + region(4096)); /* ~80% of it */
	shmbus_consumer_close(mid);
	shmbus_consumer_close(big);
	assert_int_equal(shmbus_bus_close(bus), 0);
}

/* A child subscribes ring `name`, says so through a pipe and waits to be
 * killed; returns its pid once it subscribed. */
static pid_t doomed_consumer(const char *bus_name, const char *name)
{
	int fd[2];
	assert_int_equal(pipe(fd), 0);
	fflush(NULL);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(fd[0]);
		shmbus_bus *b;
		TU_CHILD_CHECK(shmbus_bus_open(bus_name, "doomed", SHMBUS_ROLE_CONSUMER, &b) == 0);
		struct shmbus_sub_opts so;
		tu_sub_opts(&so, 64, 64, SHMBUS_POLICY_DROP);
		shmbus_consumer *c;
		int rc = shmbus_subscribe(b, name, &so, &c);
		TU_CHILD_CHECK(tu_write_all(fd[1], &rc, sizeof rc) == 0);
		for (;;)
			pause();
	}
	close(fd[1]);
	int rc = -1, rd = tu_read_all(fd[0], &rc, sizeof rc, 10000);
	close(fd[0]);
	if (rd != 0 || rc != 0) {
		kill(pid, SIGKILL); /* a child left pausing would outlive the test */
		waitpid(pid, NULL, 0);
		fail_msg("child subscribe %s: read %d, rc %d (%s)", name, rd, rc,
		         shmbus_strerror(rc));
	}
	return pid;
}

static void kill_and_reap(pid_t pid)
{
	int status;
	kill(pid, SIGKILL);
	assert_int_equal(waitpid(pid, &status, 0), pid);
}

/* The probe's case: five consumers SIGKILLed in turn, each with its own
 * ring, on a bus of four entries; the fifth used to find them all "in
 * use". The oldest empty orphan goes first; declared rings and orphans
 * holding events stay, and the failure says how to remove those. */
static void test_ring_dir_full_directory_recycles_empty_orphans(void **state)
{
	(void)state;
	shmbus_bus *bus = dir_bus("orph", 4, 1u << 20);
	assert_int_equal(declare(bus, "decl"), 0);
	char name[32];
	pid_t pids[5];
	for (int i = 0; i < 5; i++) {
		snprintf(name, sizeof name, "w%d", i);
		pids[i] = doomed_consumer("orph", name);
		kill_and_reap(pids[i]);
		assert_true(shmbus_bus_reap(bus) >= 1);
		tu_sleep_us(30000); /* start times in clock ticks: keep them apart */
	}
	/* w0..w2 filled the entries; w3 recycled w0, w4 then w1 (oldest first) */
	assert_int_equal(shmbus_stat_find_ring(bus, "w0"), -ENOENT);
	assert_int_equal(shmbus_stat_find_ring(bus, "w1"), -ENOENT);
	assert_true(shmbus_stat_find_ring(bus, "w2") >= 0);
	assert_true(shmbus_stat_find_ring(bus, "w4") >= 0);
	assert_true(shmbus_stat_find_ring(bus, "decl") >= 0);
	/* w2 and w4 get an event each from a consumer that comes back and
	 * closes (DETACHED: kept for it, never recycled); w3 stays an empty
	 * orphan: recycled, and the detail says so */
	shmbus_consumer *w2 = sub(bus, "w2", 64), *w4 = sub(bus, "w4", 64);
	assert_int_equal(publish_one(bus, 1.0), 2);
	shmbus_consumer_close(w2);
	shmbus_consumer_close(w4);
	shmbus_consumer *y = sub(bus, "y", 64);
	assert_msg_has("took the entry of orphaned ring 'w3'");
	assert_int_equal(try_sub(bus, "z", 64), -ENOSPC);
	assert_msg_has("all 4 ring entries in use");
	assert_int_equal(shmbus_ring_remove(bus, "w4"), 0);
	assert_int_equal(shmbus_stat_find_ring(bus, "w4"), -ENOENT);
	assert_int_equal(try_sub(bus, "z", 64), 0);
	assert_true(shmbus_stat_find_ring(bus, "decl") >= 0);
	assert_true(shmbus_stat_find_ring(bus, "w2") >= 0);
	/* A declared ring whose consumer died is an empty orphan too, but its
	 * group and filter are the config's: never recycled (it was before,
	 * and the restarted service re-made it without them). */
	pid_t dp = doomed_consumer("orph", "decl");
	kill_and_reap(dp);
	assert_true(shmbus_bus_reap(bus) >= 1);
	assert_int_equal(shmbus_ring_remove(bus, "z"), 0);
	assert_int_equal(try_sub(bus, "z", 64), 0); /* the free entry z left */
	assert_int_equal(try_sub(bus, "zz", 64), -ENOSPC);
	assert_msg_has("ring-remove");
	assert_true(shmbus_stat_find_ring(bus, "decl") >= 0);
	shmbus_consumer_close(y);
	assert_int_equal(shmbus_bus_close(bus), 0);
	assert_int_equal(shmbus_bus_destroy("orph"), 0);
}

/* An orphan still holding events is kept: the failure counts it and names
 * the command that removes it; once removed, the subscribe succeeds. */
static void test_ring_dir_full_directory_keeps_orphans_with_events(void **state)
{
	(void)state;
	shmbus_bus *bus = dir_bus("keep", 2, 1u << 20);
	assert_int_equal(declare(bus, "decl"), 0);
	pid_t pid = doomed_consumer("keep", "w");
	kill_and_reap(pid);
	assert_int_equal(publish_one(bus, 3.0), 1); /* to w, still ACTIVE */
	assert_int_equal(try_sub(bus, "x", 64), -ENOSPC);
	assert_msg_has("not yet reaped"); /* not orphaned yet */
	assert_int_equal(shmbus_bus_reap(bus), 1);
	assert_int_equal(try_sub(bus, "x", 64), -ENOSPC);
	assert_msg_has("1 of them orphaned: consumers dead, events unconsumed");
	assert_msg_has("shmbusctl ring-remove keep RING");
	assert_int_equal(shmbus_ring_remove(bus, "nope"), -ENOENT);
	assert_int_equal(shmbus_ring_remove(bus, "bad/name"), -EINVAL);
	assert_int_equal(shmbus_ring_remove(bus, "w"), 0);
	shmbus_consumer *x = sub(bus, "x", 64);
	assert_int_equal(shmbus_ring_remove(bus, "x"), SHMBUS_EBUSY);
	assert_msg_has("live consumer");
	assert_int_equal(shmbus_ring_remove(bus, "decl"), 0); /* on purpose: allowed */
	shmbus_consumer *x2 = sub(bus, "x2", 64);
	assert_int_equal(shmbus_unsubscribe(x2), 0);
	assert_int_equal(shmbus_unsubscribe(x), 0);
	assert_int_equal(arena_used(bus), 0);
	assert_int_equal(shmbus_bus_close(bus), 0);
	assert_int_equal(shmbus_bus_destroy("keep"), 0);
}

/* The ring freed by removal is routed around at once by a producer that
 * had it in its table (a new routing generation), and a ring built in
 * its place gets only its own events. */
static void test_ring_dir_remove_moves_the_generation(void **state)
{
	(void)state;
	shmbus_bus *bus = dir_bus(NULL, 2, 1u << 20);
	shmbus_consumer *a = sub(bus, "a", 64);
	shmbus_consumer_close(a);
	shmbus_producer *p;
	assert_int_equal(shmbus_producer_open(bus, NULL, &p), 0);
	struct shmbus_bus_info before, after;
	assert_int_equal(shmbus_stat_bus(bus, &before), 0);
	assert_int_equal(shmbus_ring_remove(bus, "a"), 0);
	assert_int_equal(shmbus_stat_bus(bus, &after), 0);
	assert_true(after.route_generation > before.route_generation);
	struct shmbus_sub_opts so;
	tu_sub_opts(&so, 64, 64, SHMBUS_POLICY_DROP);
	so.types = SHMBUS_TYPE_BIT(SHMBUS_EV_QUOTE);
	shmbus_consumer *q;
	assert_int_equal(shmbus_subscribe(bus, "q", &so, &q), 0);
	struct shmbus_trade t = tu_trade(1, 1.0);
	assert_int_equal(shmbus_publish(p, &t), 0); /* a trade: not for q */
	struct tu_sink s;
	tu_sink_init(&s, 4);
	assert_int_equal(tu_drain(q, &s), 0);
	tu_sink_free(&s);
	shmbus_producer_close(p);
	shmbus_consumer_close(q);
	assert_int_equal(shmbus_bus_close(bus), 0);
}

static int run_ctl(char *out, size_t len, const char *fmt, ...)
{
	char args[512], cmd[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(args, sizeof args, fmt, ap);
	va_end(ap);
	snprintf(cmd, sizeof cmd, "%s %s 2>&1", SHMBUSCTL_BIN, args);
	fflush(NULL);
	FILE *f = popen(cmd, "r");
	assert_non_null(f);
	size_t n = fread(out, 1, len - 1, f);
	out[n] = '\0';
	int st = pclose(f);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* `shmbusctl ring-remove BUS RING`: exit 0 and a line (or JSON); 1 when
 * the ring is missing or has a live consumer; 2 on a usage error. */
static void test_ring_dir_shmbusctl_ring_remove(void **state)
{
	(void)state;
	char out[4096];
	shmbus_bus *bus = dir_bus("ctlrm", 4, 1u << 20);
	pid_t pid = doomed_consumer("ctlrm", "gone");
	kill_and_reap(pid);
	assert_int_equal(declare(bus, "decl"), 0);
	shmbus_consumer *live = sub(bus, "live", 64);
	assert_int_equal(run_ctl(out, sizeof out, "ring-remove ctlrm gone"), 0);
	assert_non_null(strstr(out, "removed ring 'gone' of bus 'ctlrm'"));
	assert_int_equal(shmbus_stat_find_ring(bus, "gone"), -ENOENT);
	assert_int_equal(run_ctl(out, sizeof out, "ring-remove ctlrm gone"), 1);
	assert_non_null(strstr(out, "no ring 'gone'"));
	assert_int_equal(run_ctl(out, sizeof out, "--bus ctlrm ring-remove live"), 1);
	assert_non_null(strstr(out, "live consumer"));
	assert_true(shmbus_stat_find_ring(bus, "live") >= 0);
	assert_int_equal(run_ctl(out, sizeof out, "--json ring-remove ctlrm decl"), 0);
	assert_non_null(strstr(out, "{\"bus\":\"ctlrm\",\"ring\":\"decl\",\"removed\":true}"));
	assert_int_equal(run_ctl(out, sizeof out, "ring-remove"), 2);
	assert_int_equal(run_ctl(out, sizeof out, "ring-remove a b c"), 2);
	assert_int_equal(run_ctl(out, sizeof out, "ring-remove ../x r"), 2);
	assert_int_equal(run_ctl(out, sizeof out, "ring-remove nobus r"), 1);
	assert_int_equal(run_ctl(out, sizeof out, "--help"), 0);
	assert_non_null(strstr(out, "ring-remove [BUS] RING"));
	shmbus_consumer_close(live);
	assert_int_equal(shmbus_bus_close(bus), 0);
	assert_int_equal(shmbus_bus_destroy("ctlrm"), 0);
}

static int group_sub(shmbus_bus *bus, const char *name, uint32_t size, uint32_t member,
                     shmbus_consumer **c)
{
	struct shmbus_sub_opts so;
	tu_sub_opts(&so, 64, 64, SHMBUS_POLICY_DROP);
	so.group = "G";
	so.group_size = size;
	so.group_member = member;
	return shmbus_subscribe(bus, name, &so, c);
}

/* Members that disagree on the group's size, or share a member index,
 * are refused: the probe's three subscribes all succeeded, and of 40
 * events 20 reached no member and 20 reached two. */
static void test_ring_dir_group_members_must_agree(void **state)
{
	(void)state;
	shmbus_bus *bus = dir_bus(NULL, 8, 1u << 20);
	shmbus_consumer *a0, *a1, *x = NULL;
	assert_int_equal(group_sub(bus, "a0", 2, 0, &a0), 0);
	assert_int_equal(group_sub(bus, "a1", 4, 1, &x), -EINVAL);
	assert_msg_has("group 'G' has 2 members (ring 'a0'), not 4");
	assert_int_equal(group_sub(bus, "a2", 2, 0, &x), -EINVAL);
	assert_msg_has("member 0 of group 'G' is ring 'a0'");
	struct shmbus_sub_opts so;
	tu_sub_opts(&so, 64, 64, SHMBUS_POLICY_DROP);
	so.group = "G";
	so.group_size = 3;
	so.group_member = 2;
	assert_int_equal(shmbus_ring_declare(bus, "a3", &so), -EINVAL);
	assert_null(x);
	assert_int_equal(group_sub(bus, "a1", 2, 1, &a1), 0);
	shmbus_producer *p;
	assert_int_equal(shmbus_producer_open(bus, NULL, &p), 0);
	for (uint32_t sym = 1; sym <= 40; sym++) {
		struct shmbus_trade t = tu_trade(sym, 1.0);
		assert_int_equal(shmbus_publish(p, &t), 1);
	}
	shmbus_producer_close(p);
	/* a member's ring gone: its index is free for another ring */
	assert_int_equal(shmbus_unsubscribe(a1), 0);
	assert_int_equal(group_sub(bus, "b1", 2, 1, &a1), 0);
	shmbus_consumer_close(a1);
	shmbus_consumer_close(a0);
	assert_int_equal(shmbus_bus_close(bus), 0);
}

/* A member whose consumer died holds its index until its ring is taken
 * again or removed; the refusal of a replacement says both ways. */
static void test_ring_dir_dead_group_member_names_the_way_out(void **state)
{
	(void)state;
	shmbus_bus *bus = dir_bus("grp", 8, 1u << 20);
	fflush(NULL);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		shmbus_bus *b;
		shmbus_consumer *c;
		TU_CHILD_CHECK(shmbus_bus_open("grp", "member", SHMBUS_ROLE_CONSUMER, &b) == 0);
		TU_CHILD_CHECK(group_sub(b, "m0", 2, 0, &c) == 0);
		_exit(0); /* dies holding it */
	}
	int st;
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	shmbus_consumer *c = NULL;
	assert_int_equal(group_sub(bus, "m0b", 2, 0, &c), -EINVAL);
	assert_msg_has("whose consumer (pid");
	assert_msg_has("`shmbusctl ring-remove grp m0`");
	assert_int_equal(group_sub(bus, "m0", 2, 0, &c), 0); /* taken again */
	shmbus_consumer_close(c);
	assert_int_equal(shmbus_bus_close(bus), 0);
	assert_int_equal(shmbus_bus_destroy("grp"), 0);
}

/* A re-attach with explicit options takes those the ring's memory does
 * not fix: a stuck timeout given is the new consumer's (the declared one,
 * here an hour, was kept and the slot never skipped), 0 keeps the ring's.
 * The single-producer flag is the ring's for life, like its geometry:
 * asking for it on a ring without fails naming both (it was ignored
 * without a word); flags 0 keep the ring's, as group NULL does. */
static void test_ring_dir_reattach_options(void **state)
{
	(void)state;
	shmbus_bus *bus = dir_bus(NULL, 4, 1u << 20);
	struct shmbus_sub_opts so;
	tu_sub_opts(&so, 64, 64, SHMBUS_POLICY_DROP);
	so.stuck_timeout_ns = INT64_C(3600) * 1000000000;
	assert_int_equal(shmbus_ring_declare(bus, "mp", &so), 0);
	so.flags = SHMBUS_SUB_SINGLE_PRODUCER;
	assert_int_equal(shmbus_ring_declare(bus, "sp", &so), 0);

	shmbus_consumer *c = NULL;
	assert_int_equal(shmbus_subscribe(bus, "mp", &so, &c), -EINVAL);
	assert_msg_has("ring 'mp' exists with flags 0x0, not 0x1");
	assert_null(c);
	so.flags = 0;
	assert_int_equal(shmbus_subscribe(bus, "sp", &so, &c), 0);
	struct shmbus_ring_stat rs;
	assert_int_equal(tu_ring_stat(bus, "sp", &rs), 0);
	assert_int_equal(rs.flags, SHMBUS_SUB_SINGLE_PRODUCER);
	shmbus_consumer_close(c);
	assert_int_equal(shmbus_subscribe(bus, "sp", NULL, &c), 0); /* keeps all */
	shmbus_consumer_close(c);

	/* A slot claimed with no claimer's record: skipped after the
	 * timeout of this subscribe, not the declared hour. */
	so.stuck_timeout_ns = 1000000;
	assert_int_equal(shmbus_subscribe(bus, "mp", &so, &c), 0);
	const struct ring_desc *d = &bus->rings[shmbus_consumer_ring(c)];
	struct ring_hdr *h = (struct ring_hdr *)(bus->base + d->region_off);
	store_release(&h->tail, 1);
	assert_int_equal(shmbus_wait(c, INT64_C(5) * 1000000000), 0);
	assert_int_equal(tu_ring_stat(bus, "mp", &rs), 0);
	assert_int_equal(rs.skipped, 1);
	assert_int_equal(rs.consumed, 1);
	shmbus_consumer_close(c);
	/* 0 keeps that 1 ms: a second such slot is skipped too */
	so.stuck_timeout_ns = 0;
	assert_int_equal(shmbus_subscribe(bus, "mp", &so, &c), 0);
	store_release(&h->tail, 2);
	assert_int_equal(shmbus_wait(c, INT64_C(5) * 1000000000), 0);
	assert_int_equal(tu_ring_stat(bus, "mp", &rs), 0);
	assert_int_equal(rs.skipped, 2);
	shmbus_consumer_close(c);
	assert_int_equal(shmbus_bus_close(bus), 0);
}

/*
 * Readers of an entry that a consumer frees (unsubscribe, ring-remove) and
 * builds again meanwhile see the ring, or no ring (-ENOENT): never
 * SHMBUS_ECORRUPT, nor a ring of one's name and another's capacity. shmbus_stat_ring() and shmbus_stat_ring_symbols() read
 * the state as in use, then a region record the free had cleared, and
 * called a healthy bus damaged ("region 0+0 outside the arena"). The
 * churn runs in a child process until killed.
 */
static void test_ring_dir_stat_races_free_and_rebuild(void **state)
{
	static const uint32_t syms[] = {1, 2};
	shmbus_bus *bus = dir_bus("churn", 4, 1u << 20);
	fflush(NULL);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		shmbus_bus *cb;
		alarm(60);
		TU_CHILD_CHECK(shmbus_bus_open("churn", "churner", SHMBUS_ROLE_CONSUMER, &cb) == 0);
		for (unsigned i = 0;; i++) {
			struct shmbus_sub_opts so;
			tu_sub_opts(&so, i & 1 ? 64 : 128, 64, SHMBUS_POLICY_DROP);
			so.symbols = i & 2 ? syms : NULL;
			so.nsymbols = i & 2 ? 2 : 0;
			const char *name = i & 1 ? "ra" : "rb";
			shmbus_consumer *c;
			TU_CHILD_CHECK(shmbus_subscribe(cb, name, &so, &c) == 0);
			if (i % 3) {
				TU_CHILD_CHECK(shmbus_unsubscribe(c) == 0);
			} else {
				shmbus_consumer_close(c);
				TU_CHILD_CHECK(shmbus_ring_remove(cb, name) == 0);
			}
		}
	}
	uint64_t in_use = 0, bad = 0, mixed = 0;
	int first_rc = 0;
	char first_msg[160] = "", first_mix[96] = "";
	for (int64_t end = tu_mono_ms() + 2000; tu_mono_ms() < end;) {
		struct shmbus_ring_stat rs;
		uint32_t ids[4];
		int rc[2] = {shmbus_stat_ring(bus, 0, &rs),
			     shmbus_stat_ring_symbols(bus, 0, ids, 4)};
		for (int k = 0; k < 2; k++) {
			in_use += rc[k] >= 0;
			if (rc[k] < 0 && rc[k] != -ENOENT && bad++ == 0) {
				first_rc = rc[k];
				snprintf(first_msg, sizeof first_msg, "%s", shmbus_errmsg());
			}
		}
		/* one ring's name and capacity, never a mix of two */
		if (rc[0] == 0 && !(strcmp(rs.name, "ra") == 0 && rs.capacity == 64) &&
		    !(strcmp(rs.name, "rb") == 0 && rs.capacity == 128) && mixed++ == 0)
			snprintf(first_mix, sizeof first_mix, "ring '%s' of %u slots (%s)", rs.name,
			         rs.capacity, shmbus_ring_state_name(rs.state));
	}
	kill(pid, SIGKILL);
	assert_int_equal(waitpid(pid, NULL, 0), pid);
	if (bad)
		fail_msg("%llu reads failed: first %s (%s)", (unsigned long long)bad,
			 shmbus_strerror(first_rc), first_msg);
	if (mixed)
		fail_msg("%llu reads mixed two rings: first %s", (unsigned long long)mixed,
			 first_mix);
	assert_true(in_use > 0); /* the child did build the ring */
	assert_int_equal(shmbus_bus_close(bus), 0);
}

/* The entry of ring "ra" that shmbus_stat_ring() is reading is freed
 * (stat_hook_rebuild 0) or freed and built again as ring "rb" (1), once,
 * by the library's test hook. */
static shmbus_bus *stat_hook_bus;
static shmbus_consumer *stat_hook_ra, *stat_hook_rb;
static int stat_hook_rebuild, stat_hook_calls;

static void rebuild_mid_stat(enum ring_hook where)
{
	if (where != RING_HOOK_STAT_RING || stat_hook_calls++ > 0)
		return;
	assert_int_equal(shmbus_unsubscribe(stat_hook_ra), 0);
	if (stat_hook_rebuild)
		stat_hook_rb = sub(stat_hook_bus, "rb", 256);
}

/*
 * A ring freed, or freed and built again, between shmbus_stat_ring()'s
 * view of it and the rest of its read: the read is the old ring, the new
 * one or -ENOENT, never a mix. It returned the new ring's name with the
 * old one's counters (its region, freed, still held them), or an empty
 * name (wiped by the free) for a ring in use.
 */
static void check_stat_ring_rebuilt_while_read(int rebuild)
{
	shmbus_bus *bus = dir_bus("statre", 4, 1u << 20);
	stat_hook_bus = bus;
	stat_hook_ra = sub(bus, "ra", 64);
	shmbus_consumer *keep = sub(bus, "keep", 64); /* rb's region cannot be ra's */
	shmbus_producer *p;
	assert_int_equal(shmbus_producer_open(bus, NULL, &p), 0);
	for (int i = 0; i < 3; i++) {
		struct shmbus_trade t = tu_trade(1, 1.0 + i);
		assert_int_equal(shmbus_publish(p, &t), 2);
	}
	struct tu_sink s;
	tu_sink_init(&s, 8);
	assert_int_equal(tu_drain(stat_hook_ra, &s), 3);
	tu_sink_free(&s);
	uint32_t ra = shmbus_consumer_ring(stat_hook_ra);

	stat_hook_rebuild = rebuild;
	stat_hook_calls = 0;
	stat_hook_rb = NULL;
	ring_test_hook = rebuild_mid_stat;
	struct shmbus_ring_stat rs;
	int rc = shmbus_stat_ring(bus, ra, &rs);
	ring_test_hook = NULL;
	if (!rebuild) {
		if (rc == 0)
			fail_msg("a freed ring read as ring '%s' (%s), %llu delivered", rs.name,
				 shmbus_ring_state_name(rs.state), (unsigned long long)rs.delivered);
		assert_int_equal(rc, -ENOENT);
	} else {
		assert_int_equal(rc, 0);
		assert_int_equal(shmbus_consumer_ring(stat_hook_rb), ra);
		assert_string_equal(rs.name, "rb");
		assert_int_equal(rs.capacity, 256);
		assert_int_equal(rs.delivered, 0);
		assert_int_equal(rs.claimed, 0);
		shmbus_consumer_close(stat_hook_rb);
	}
	assert_int_equal(stat_hook_calls, rebuild ? 2 : 1); /* read again after the hook */
	shmbus_producer_close(p);
	shmbus_consumer_close(keep);
	assert_int_equal(shmbus_bus_close(bus), 0);
}

static void test_ring_dir_stat_ring_freed_while_read(void **state)
{
	check_stat_ring_rebuilt_while_read(0);
}

static void test_ring_dir_stat_ring_rebuilt_while_read(void **state)
{
	check_stat_ring_rebuilt_while_read(1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    TU_TEST(test_ring_dir_churn_returns_the_arena),
	    TU_TEST(test_ring_dir_reuses_the_best_fitting_gap),
	    TU_TEST(test_ring_dir_merges_free_neighbours),
	    TU_TEST(test_ring_dir_churn_in_any_order_loses_nothing),
	    TU_TEST(test_ring_dir_full_directory_recycles_empty_orphans),
	    TU_TEST(test_ring_dir_full_directory_keeps_orphans_with_events),
	    TU_TEST(test_ring_dir_remove_moves_the_generation),
	    TU_TEST(test_ring_dir_shmbusctl_ring_remove),
	    TU_TEST(test_ring_dir_group_members_must_agree),
	    TU_TEST(test_ring_dir_dead_group_member_names_the_way_out),
	    TU_TEST(test_ring_dir_reattach_options),
	    TU_TEST(test_ring_dir_stat_races_free_and_rebuild),
	    TU_TEST(test_ring_dir_stat_ring_freed_while_read),
	    TU_TEST(test_ring_dir_stat_ring_rebuilt_while_read),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
