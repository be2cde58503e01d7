/*
 * test_pipeline_backtest.c - a backtest reproduces the live run.
 *
 * Run 1: shmbus-pipeline with the journaller. Run 2: shmbus-pipeline
 * --replay of that journal: shmbus-replay republishes the journaled trades
 * into a fresh bus where a fresh ta and threshold run. The alerts (every
 * field: time, symbol, rule, direction, value, threshold, trigger type and
 * trigger identity) and the indicator rows of the two runs must be the same
 * bytes in the same order. Trigger identities match too because the
 * pipeline gives each stage a fixed source id (ta = 2) and ta numbers its
 * events from 1 in both runs; origin_ns (a publish time) is the one field
 * that differs and is not compared.
 *
 * When shmbus-journal is built, `shmbus-journal cat --format csv --types
 * indicator` of the live run's journal must also equal its --tap-csv file.
 *
 * Needs shmbus-journald and shmbus-replay (skipped, exit 77, without them);
 * the SPY case also needs ../shared/data.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "pl_test.h"

/* Run live then replayed with the same rules; compare the outputs. */
static void live_then_replay(const char *tag, char *const *input, int ninput)
{
	char a1[512], a2[512], i1[512], i2[512], j1[512], j2[512], jdir[512], d1[512], d2[512];
	char *argv[40];
	int n = 0, rc;

	snprintf(a1, sizeof(a1), "%s", pt_path("alerts1.csv"));
	snprintf(a2, sizeof(a2), "%s", pt_path("alerts2.csv"));
	snprintf(i1, sizeof(i1), "%s", pt_path("ind1.csv"));
	snprintf(i2, sizeof(i2), "%s", pt_path("ind2.csv"));
	snprintf(j1, sizeof(j1), "%s-live.json", pt_path(tag));
	snprintf(j2, sizeof(j2), "%s-replay.json", pt_path(tag));
	snprintf(jdir, sizeof(jdir), "%s-journal", pt_path(tag));
	snprintf(d1, sizeof(d1), "%s-run1", pt_path(tag));
	snprintf(d2, sizeof(d2), "%s-run2", pt_path(tag));

	char *common[] = {PL_BIN_PIPELINE, "--rules", PL_RULES_DIR "/aggressive.rules", "--json"};
	for (int k = 0; k < 4; k++)
		argv[n++] = common[k];
	int base = n;
	for (int k = 0; k < ninput; k++)
		argv[n++] = input[k];
	char *live[] = {"--bus",
	                "pt-bt-live",
	                "--journal-dir",
	                jdir,
	                "--alerts-csv",
	                a1,
	                "--tap-csv",
	                i1,
	                "--dir",
	                d1,
	                NULL};
	memcpy(argv + n, live, sizeof(live));
	rc = pt_run(argv, j1, NULL);
	if (rc != 0)
		pt_show(j1);
	assert_int_equal(rc, 0);

	n = base;
	char *replay[] = {"--replay",     jdir, "--bus",     "pt-bt-replay",
	                  "--alerts-csv", a2,   "--tap-csv", i2,
	                  "--dir",        d2,   NULL};
	memcpy(argv + n, replay, sizeof(replay));
	rc = pt_run(argv, j2, NULL);
	if (rc != 0)
		pt_show(j2);
	assert_int_equal(rc, 0);

	char *s1 = pt_slurp(j1), *s2 = pt_slurp(j2);
	assert_true(s1 && s2);
	assert_true(pt_json(s1, "journal_events") > pt_json(s1, "collector_events_out"));
	assert_true(pt_json(s2, "ta_events_in") == pt_json(s1, "collector_trades"));
	assert_true(pt_json(s2, "ta_events_out") == pt_json(s1, "ta_events_out"));
	assert_true(pt_json(s1, "threshold_alerts") > 0);
	free(s1);
	free(s2);

	char *x1 = pt_slurp(a1), *x2 = pt_slurp(a2), *y1 = pt_slurp(i1), *y2 = pt_slurp(i2);
	assert_true(x1 && x2 && y1 && y2);
	assert_true(strlen(x1) > 200 && strlen(y1) > 200);
	assert_string_equal(x1, x2); /* same alerts, same order, same values */
	assert_string_equal(y1, y2); /* same indicator values */
#ifdef PL_BIN_JOURNAL
	/* The journal itself holds the same indicators, row for row. */
	char *cat[] = {PL_BIN_JOURNAL, "cat",     "--dir",     jdir, "--format",
	               "csv",          "--types", "indicator", NULL};
	char catout[512];
	snprintf(catout, sizeof(catout), "%s-cat.csv", pt_path(tag));
	assert_int_equal(pt_run(cat, catout, NULL), 0);
	char *z = pt_slurp(catout);
	assert_non_null(z);
	assert_string_equal(z, y1);
	free(z);
#endif
	free(x1);
	free(x2);
	free(y1);
	free(y2);
}

static void test_pipeline_backtest_synthetic_same_alerts(void **state)
{
	char *in[] = {"--events", "200000", "--seed", "7"};

	live_then_replay("synth", in, 4);
}

static void test_pipeline_backtest_spy_same_alerts(void **state)
{
	const char *dir = getenv("SHMBUS_SHARED_DATA");
	char path[512];
	char *in[] = {"--input", path};

	snprintf(path, sizeof(path), "%s/spy_trades_20131008.csv", dir ? dir : "");
	if (!dir || access(path, R_OK) != 0) {
		print_message("skipped: %s not readable\n", path);
		skip();
	}
	live_then_replay("spy", in, 2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_pipeline_backtest_synthetic_same_alerts),
	    cmocka_unit_test(test_pipeline_backtest_spy_same_alerts),
	};

#ifndef PL_HAVE_JOURNAL_TOOLS
	printf("SKIP: shmbus-journald and shmbus-replay are not built in this tree\n");
	return 77;
#endif
	return cmocka_run_group_tests(tests, pt_setup, pt_teardown);
}
