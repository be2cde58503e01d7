/*
 * test_threshold_groups.c - shmbus-threshold on bar groups whose last event
 * never comes.
 *
 * ta flags every event of a bar's group but the last (SHMBUS_EVF_MORE), and
 * threshold evaluates its rules at the group's last event. A stream of bars
 * alone (a replay of `--types bar` of a ta journal, a threshold ring that
 * takes bars only, a dropped last event) has flagged bars and no last
 * event: threshold applied them and never evaluated, so no rule fired. A
 * group left open is now evaluated when the symbol's next group begins, or
 * at the end of the stream, with its last applied event as the trigger.
 * A SIGTERM ends the stream too: the service drains its ring, and the
 * groups left open in it by a source that has closed are evaluated before
 * it exits, not dropped; one a source still open left is awaited, and
 * not evaluated half-applied.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <signal.h>
#include <stdbool.h>
#include <sys/wait.h>

#include "pl_test.h"

#define NBARS 10
#define SEC 1000000000LL

/* Publish bar i of SPY (close 100 + i) with the header flags given. */
static uint64_t publish_bar(shmbus_producer *p, uint32_t sym, int i, uint8_t flags)
{
	struct shmbus_bar *e;
	assert_int_equal(shmbus_claim(p, SHMBUS_EV_BAR, sym, sizeof(*e), (void **)&e), 0);
	e->h.event_time_ns = SEC * (i + 1);
	e->h.flags = flags;
	e->start_ns = SEC * i;
	e->interval_ms = 1000;
	e->trade_count = 1;
	e->open = e->high = e->low = e->close = 100 + i;
	e->volume = 1;
	e->origin_ns = shmbus_now_ns();
	uint64_t seq = e->h.seq;
	assert_true(shmbus_commit(p) >= 0);
	return seq;
}

struct alerts_seen {
	struct shmbus_threshold got[4];
	int n;
};

static void on_alert(const struct shmbus_event_header *ev, void *ctx)
{
	struct alerts_seen *a = ctx;
	if (ev->type == SHMBUS_EV_THRESHOLD && a->n < 4)
		memcpy(&a->got[a->n++], ev, sizeof(a->got[0]));
}

/*
 * shmbus-threshold on bus `bus` with `rules`; NBARS bars of SPY published,
 * each flagged as followed by its indicators, their seqs in seq[]; the
 * stream ended by `end` (an end-of-stream marker with --exit-on-eos, or a
 * SIGTERM); then the alerts it published, in *a. It must exit 0.
 */
enum grp_end { GRP_EOS, GRP_SIGTERM };

/*
 * Bus `bus` with a producer (*p), a ring "alerts" of threshold events
 * (*alerts) and symbol SPY (*sym); shmbus-threshold started on it with
 * `rules_text` (and --exit-on-eos when `exit_on_eos`), subscribed. Returns
 * its pid.
 */
static pid_t grp_start(const char *bus, const char *rules_text, bool exit_on_eos, shmbus_bus **b,
		       shmbus_producer **p, shmbus_consumer **alerts, int64_t *sym)
{
	struct shmbus_sub_opts so;
	const char *rules = pt_path("groups.rules");
	FILE *f = fopen(rules, "w");

	assert_non_null(f);
	fputs(rules_text, f);
	assert_int_equal(fclose(f), 0);
	assert_int_equal(shmbus_bus_create(bus, NULL, b), 0);
	assert_int_equal(shmbus_producer_open(*b, NULL, p), 0);
	shmbus_sub_opts_init(&so);
	so.types = SHMBUS_TYPE_BIT(SHMBUS_EV_THRESHOLD);
	assert_int_equal(shmbus_subscribe(*b, "alerts", &so, alerts), 0);
	*sym = shmbus_symbol_intern(*b, "SPY", 3);
	assert_true(*sym > 0);

	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		execl(PL_BIN_THRESHOLD, PL_BIN_THRESHOLD, "--bus", bus, "--rules", rules, "--quiet",
		      exit_on_eos ? "--exit-on-eos" : (char *)NULL, (char *)NULL);
		_exit(127);
	}
	assert_int_equal(shmbus_wait_subscribers(*b, SHMBUS_TYPE_BIT(SHMBUS_EV_BAR), 1, 10 * SEC),
	                 1);
	return pid;
}

static void grp_run(const char *bus, const char *rules_text, enum grp_end end, uint64_t seq[NBARS],
		    struct alerts_seen *a)
{
	shmbus_bus *b;
	shmbus_producer *p;
	shmbus_consumer *alerts;
	int64_t sym;
	pid_t pid = grp_start(bus, rules_text, end == GRP_EOS, &b, &p, &alerts, &sym);
	for (int i = 0; i < NBARS; i++) /* every bar says its indicators follow */
		seq[i] = publish_bar(p, (uint32_t)sym, i, SHMBUS_EVF_MORE | SHMBUS_EVF_REPLAYED);
	if (end == GRP_EOS) {
		shmbus_svc_publish_status(p, SHMBUS_SVC_EOS_TA, NBARS, NBARS);
	} else {
		/* committed before the signal: the service drains them before it
		 * goes; the source closed first, as the launcher stops sources
		 * before their consumers (one still open may be in the middle of
		 * a group: test_threshold_groups_cut_by_sigterm_not_evaluated) */
		shmbus_producer_close(p);
		p = NULL;
		assert_int_equal(kill(pid, SIGTERM), 0);
	}
	int st;
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);

	memset(a, 0, sizeof(*a));
	while (shmbus_poll(alerts, on_alert, a, 16) > 0)
		;
	shmbus_consumer_close(alerts);
	if (p)
		shmbus_producer_close(p);
	assert_int_equal(shmbus_bus_close(b), 0);
	assert_int_equal(shmbus_bus_destroy(bus), 0);
}

static void test_threshold_groups_open_at_the_end(void **state)
{
	uint64_t seq[NBARS];
	struct alerts_seen a;
	(void)state;
	/* crossing at bar 5 (close 105); level entered at the last bar only */
	grp_run("thrgrp", "rule cross: close crosses_above 104.5\nrule last: close > 108.5\n",
		GRP_EOS, seq, &a);
	struct shmbus_threshold *got = a.got;
	assert_int_equal(a.n, 2);
	/* the crossing, when bar 6's group began; its trigger is bar 5 */
	assert_int_equal(got[0].rule_id, 0);
	assert_true(got[0].value == 105);
	assert_int_equal(got[0].trigger_seq, seq[5]);
	assert_true(got[0].h.event_time_ns == 6 * SEC);
	/* the last bar's group, evaluated at the end of the stream */
	assert_int_equal(got[1].rule_id, 1);
	assert_true(got[1].value == 109);
	assert_int_equal(got[1].trigger_seq, seq[9]);
}

/* The same bars, and a SIGTERM in place of the end-of-stream marker. */
static void test_threshold_groups_open_at_sigterm(void **state)
{
	uint64_t seq[NBARS];
	struct alerts_seen a;
	(void)state;
	/* the last bar's group only */
	grp_run("thrgrpterm", "rule last: close > 108.5\n", GRP_SIGTERM, seq, &a);
	assert_int_equal(a.n, 1);
	assert_int_equal(a.got[0].rule_id, 0);
	assert_true(a.got[0].value == 109);
	assert_int_equal(a.got[0].trigger_seq, seq[9]);
}

/* Publish SPY's sma20 = v at bar i's event time, with the flags given. */
static void publish_sma(shmbus_producer *p, uint32_t sym, int i, double v, uint8_t flags)
{
	struct shmbus_indicator *e;
	assert_int_equal(shmbus_claim(p, SHMBUS_EV_INDICATOR, sym, sizeof(*e), (void **)&e), 0);
	e->h.event_time_ns = SEC * (i + 1);
	e->h.flags = flags;
	e->kind = SHMBUS_IND_SMA;
	e->param[0] = 20;
	e->param[1] = e->param[2] = 0;
	e->value[0] = v;
	e->value[1] = e->value[2] = 0;
	e->origin_ns = shmbus_now_ns();
	assert_true(shmbus_commit(p) >= 0);
}

/*
 * A SIGTERM while the source (ta) is still open in the middle of a group:
 * bar 1's close (110) came, its sma20 (115) not yet. Evaluated at the
 * stop, `close > sma20` compared bar 1's close with bar 0's sma20 (105)
 * and fired on values no bar had. The stop waits for the rest of such a
 * group while its source is open (`rest` comes after the SIGTERM: the
 * whole group is evaluated, and does not fire), and does not evaluate
 * one whose rest never came (`rest` false); an open group of a source
 * that has closed is evaluated, as at the end of the stream
 * (test_threshold_groups_open_at_sigterm).
 */
static void sigterm_mid_group(const char *bus, bool rest)
{
	shmbus_bus *b;
	shmbus_producer *p;
	shmbus_consumer *alerts;
	struct alerts_seen a;
	int64_t sym;
	pid_t pid = grp_start(bus, "rule mix: close > sma20\n", false, &b, &p, &alerts, &sym);
	publish_bar(p, (uint32_t)sym, 0, SHMBUS_EVF_MORE);  /* close 100 */
	publish_sma(p, (uint32_t)sym, 0, 105, 0);           /* 100 > 105: no */
	publish_bar(p, (uint32_t)sym, 10, SHMBUS_EVF_MORE); /* close 110, its sma20 to come */
	int ring = shmbus_stat_find_ring(b, "threshold");
	struct shmbus_ring_stat rs = {0};
	assert_true(ring >= 0);
	for (int i = 0; i < 1000; i++) { /* threshold has applied them all */
		assert_int_equal(shmbus_stat_ring(b, (uint32_t)ring, &rs), 0);
		if (rs.depth == 0)
			break;
		usleep(10000);
	}
	assert_int_equal(rs.depth, 0);
	assert_int_equal(kill(pid, SIGTERM), 0);
	if (rest) {
		usleep(100000);                            /* it has drained the ring by now */
		publish_sma(p, (uint32_t)sym, 10, 115, 0); /* 110 > 115: no */
		shmbus_producer_close(p);                  /* the source is done */
	}
	int st;
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	memset(&a, 0, sizeof(a));
	while (shmbus_poll(alerts, on_alert, &a, 16) > 0)
		;
	if (a.n != 0)
		fail_msg("want no alert, got %d: rule %u on close %g against sma20 %g", a.n,
		         a.got[0].rule_id, a.got[0].value, a.got[0].threshold);
	shmbus_consumer_close(alerts);
	if (!rest)
		shmbus_producer_close(p);
	assert_int_equal(shmbus_bus_close(b), 0);
	assert_int_equal(shmbus_bus_destroy(bus), 0);
}

static void test_threshold_groups_cut_by_sigterm_not_evaluated(void **state)
{
	(void)state;
	sigterm_mid_group("thrcut", false);
}

static void test_threshold_groups_completed_after_sigterm(void **state)
{
	(void)state;
	sigterm_mid_group("thrrest", true);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_threshold_groups_open_at_the_end),
	    cmocka_unit_test(test_threshold_groups_open_at_sigterm),
	    cmocka_unit_test(test_threshold_groups_cut_by_sigterm_not_evaluated),
	    cmocka_unit_test(test_threshold_groups_completed_after_sigterm),
	};
	return cmocka_run_group_tests(tests, pt_setup, pt_teardown);
}
