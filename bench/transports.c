/*
 * transports.c - the pingpong round trip of a 56-byte trade over several
 * inter-process transports in one run: shmbus and the raw cache-line
 * exchange (pingpong.c's rounds), a hand-written SPSC ring, pipes, a Unix
 * domain socket, and, when built, ZeroMQ and iceoryx (transport_*.c).
 *
 * Design: every transport runs between the same two pinned cores as two
 * fresh processes per round, and the rounds interleave (for round r:
 * shmbus, cacheline, spsc, pipe, ... in turn, then round r + 1), because
 * a VM's core placement and its neighbours' load drift over minutes: a
 * ratio only means something between figures taken side by side. Each
 * round's round trips go into an HDR histogram (ns, 3 digits); the report
 * gives every round's percentiles, their medians over rounds per
 * transport, each transport's ratio to shmbus's medians and the issue's
 * targets, and --hgrm writes each transport's histogram with all rounds
 * merged. The parent only forks and sleeps while a round runs.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <shmbus/shmbus.h>

#include "bench.h"
#include "hist_share.h"
#include "pingpong.h"
#include "transport.h"

/* One transport as the scenario lists it: pingpong.c's or a transport_*.c. */
struct tr_entry {
	const char *name;
	const char *what;
	int pp; /* 1: a pingpong.c round of kind pp_kind */
	enum bench_pp_kind pp_kind;
	const struct bench_transport *t;
};

static const struct tr_entry tr_entries[] = {
    {"shmbus", "shmbus rings ping/pong on the run's bus (pingpong.c)", 1, BENCH_PP_SHMBUS, NULL},
    {"cacheline", "raw shared-memory cache-line exchange, the floor (pingpong.c)", 1,
     BENCH_PP_CACHELINE, NULL},
    {"spsc", NULL, 0, 0, &bench_tr_spsc},
    {"pipe", NULL, 0, 0, &bench_tr_pipe},
    {"unix", NULL, 0, 0, &bench_tr_unix},
#ifdef SHMBUS_BENCH_HAVE_ZMQ
    {"zmq", NULL, 0, 0, &bench_tr_zmq},
#endif
#ifdef SHMBUS_BENCH_HAVE_ICEORYX
    {"iceoryx", NULL, 0, 0, &bench_tr_iceoryx},
#endif
};
#define TR_N ((int)(sizeof(tr_entries) / sizeof(tr_entries[0])))
_Static_assert(sizeof(tr_entries) / sizeof(tr_entries[0]) <= 32, "mask is 32 bits");

/* Names that exist only in some builds, for a clearer usage error. */
static const char *const tr_optional[] = {"zmq", "iceoryx"};

/*
 * The targets. shmbus_over: the figure is shmbus's percentile over
 * the transport's, which must be <= limit (the cache-line floor); else the
 * transport's over shmbus's, which must be >= limit (shmbus is that many
 * times faster).
 */
struct tr_target {
	const char *name;
	int p99; /* 0: p50, 1: p99 */
	int shmbus_over;
	double limit;
};

static const struct tr_target tr_targets[] = {
    {"cacheline", 0, 1, 1.2}, {"cacheline", 1, 1, 2.0}, {"iceoryx", 0, 0, 8.0},
    {"unix", 0, 0, 30.0},     {"pipe", 0, 0, 30.0},     {"zmq", 0, 0, 100.0},
};
#define TR_NTARGETS ((int)(sizeof(tr_targets) / sizeof(tr_targets[0])))

/* Everything measured for one selected transport. */
struct tr_result {
	const struct tr_entry *e;
	struct bench_lat rounds[BENCH_MAX_ROUNDS];
	struct bench_lat med;
	struct shmbus_hist *all; /* every round merged */
	int inited;              /* run_init done */
};

static const char *tr_what(const struct tr_entry *e)
{
	return e->t ? e->t->what : e->what;
}

int bench_transports_parse(const char *list, uint32_t *mask, char *why, size_t len)
{
	const char *p = list;

	*mask = 0;
	for (;;) {
		size_t n = strcspn(p, ",");
		int found = 0;

		if (n == 0) {
			snprintf(why, len, "'%s' has an empty name (use a,b,c)", list);
			return -EINVAL;
		}

		for (int i = 0; i < TR_N; i++) {
			if (strlen(tr_entries[i].name) == n &&
			    strncmp(p, tr_entries[i].name, n) == 0) {
				*mask |= 1u << i;
				found = 1;
			}
		}
		if (!found) {
			for (size_t i = 0; i < sizeof(tr_optional) / sizeof(tr_optional[0]); i++) {
				if (strlen(tr_optional[i]) == n &&
				    strncmp(p, tr_optional[i], n) == 0) {
					snprintf(why, len,
					         "'%s' is not in this build (its CMake option "
					         "SHMBUS_BENCH_* is off, or its library was not "
					         "found)",
					         tr_optional[i]);
					return -ENOTSUP;
				}
			}
			snprintf(why, len,
			         "'%.*s' is not one of shmbus, cacheline, spsc, pipe, unix, "
			         "zmq, iceoryx",
			         (int)n, p);
			return -EINVAL;
		}
		p += n;
		if (*p == '\0')
			return 0;
		p++; /* the comma */
	}
}

/* Helpers for transport_*.c (transport.h). */

void tr_msg_init(struct shmbus_trade *t)
{
	memset(t, 0, sizeof(*t));
	t->h.type = SHMBUS_EV_TRADE;
	t->h.version = SHMBUS_EVENT_LAYOUT_VERSION;
	t->h.size = sizeof(*t);
	t->h.source_id = 1;
	t->h.symbol_id = 1;
	t->size = 1.0;
}

int tr_fail(struct tr_round *r, const char *side, const char *what, const char *why)
{
	char w[160];

	atomic_store(&r->sh->bar.abort, 1);
	snprintf(w, sizeof(w), "%s %s: %s", r->t->name, side, what);
	bench_err(w, "%s", why);
	return 1;
}

int tr_ready(struct tr_round *r)
{
	return bench_barrier_wait(&r->sh->bar, 2) < 0 ? 1 : 0;
}

void tr_idle(const struct tr_round *r)
{
	if (r->o->wait == SHMBUS_WAIT_SPIN)
		bench_relax();
	else
		sched_yield();
}

int tr_write_full(int fd, const void *buf, size_t n)
{
	const char *p = buf;

	while (n > 0) {
		ssize_t w = write(fd, p, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -errno;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

int tr_read_full(int fd, void *buf, size_t n)
{
	char *p = buf;

	while (n > 0) {
		ssize_t got = read(fd, p, n);

		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0)
			return -errno;
		if (got == 0)
			return -EPIPE;
		p += got;
		n -= (size_t)got;
	}
	return 0;
}

void tr_close_fds(struct tr_round *r)
{
	for (size_t i = 0; i < sizeof(r->fds) / sizeof(r->fds[0]); i++) {
		if (r->fds[i] >= 0)
			close(r->fds[i]);
		r->fds[i] = -1;
	}
}

/* The generic round: setup, fork both sides, wait, teardown. */

static int tr_child(struct tr_round *r, int side)
{
	int rc = bench_pin(r->o->cpus[side]);

	if (rc < 0) {
		char what[32];

		snprintf(what, sizeof(what), "pin to cpu %d", r->o->cpus[side]);
		return tr_fail(r, side ? "b" : "a", what, strerror(-rc));
	}
	return side ? r->t->side_b(r) : r->t->side_a(r);
}

static int tr_child_a(void *arg)
{
	return tr_child(arg, 0);
}

static int tr_child_b(void *arg)
{
	return tr_child(arg, 1);
}

static int tr_generic_round(const struct bench_opts *o, const struct bench_transport *t,
                            struct tr_shared *sh, int round, struct bench_lat *lat,
                            struct shmbus_hist *h)
{
	struct tr_round r;
	pid_t pids[2] = {0, 0};
	char what[64];
	int rc;

	memset(&r, 0, sizeof(r));
	r.o = o;
	r.t = t;
	r.sh = sh;
	r.round = round;
	snprintf(r.tag, sizeof(r.tag), "%ld-r%d", (long)getpid(), round);
	for (int i = 0; i < 4; i++)
		r.fds[i] = -1;
	atomic_store(&sh->bar.arrived, 0);
	atomic_store(&sh->bar.abort, 0);
	atomic_store(&sh->errors, 0);
	if (t->setup && t->setup(&r) < 0) {
		if (t->teardown)
			t->teardown(&r);
		return BENCH_EXIT_FAIL;
	}
	rc = bench_spawn(&pids[0], tr_child_a, &r);
	if (rc == 0)
		rc = bench_spawn(&pids[1], tr_child_b, &r);
	snprintf(what, sizeof(what), "transports %s round %d", t->name, round);
	rc = bench_round_wait(pids, 2, rc, o->timeout_s, what);
	if (t->teardown)
		t->teardown(&r);
	if (rc != BENCH_EXIT_OK)
		return rc;
	return bench_rtt_summarise(&o->clock, t->name, atomic_load(&sh->errors), sh->samples,
	                           o->iterations, h, lat);
}

static const struct tr_result *tr_find(const struct tr_result *res, int n, const char *name)
{
	for (int i = 0; i < n; i++)
		if (strcmp(res[i].e->name, name) == 0)
			return &res[i];
	return NULL;
}

/* A target's figure and verdict; "n/a" when shmbus or the transport was
 * not measured. */
static const char *tr_verdict(const struct tr_target *tg, const struct tr_result *res, int n,
                              double *value)
{
	const struct tr_result *s = tr_find(res, n, "shmbus"), *x = tr_find(res, n, tg->name);

	*value = 0;
	if (!s || !x)
		return "n/a";
	if (tg->shmbus_over) {
		*value = tg->p99 ? bench_ratio(s->med.p99, x->med.p99)
		                 : bench_ratio(s->med.p50, x->med.p50);
		return *value <= tg->limit ? "met" : "MISSED";
	}
	*value =
	    tg->p99 ? bench_ratio(x->med.p99, s->med.p99) : bench_ratio(x->med.p50, s->med.p50);
	return *value >= tg->limit ? "met" : "MISSED";
}

static void tr_target_text(const struct tr_target *tg, char *buf, size_t len)
{
	if (tg->shmbus_over)
		snprintf(buf, len, "shmbus %s <= %.1fx %s", tg->p99 ? "p99" : "p50", tg->limit,
		         tg->name);
	else
		snprintf(buf, len, "shmbus %s >= %.0fx lower than %s", tg->p99 ? "p99" : "p50",
		         tg->limit, tg->name);
}

static void tr_print_json(const struct bench_opts *o, const struct tr_result *res, int n)
{
	const struct tr_result *s = tr_find(res, n, "shmbus");
	char text[96];
	int first = 1;

	bench_json_head(stdout, "transports", &o->machine, o->command);
	printf(",\"config\":{\"cpus\":[%d,%d],\"iterations\":%llu,\"warmup\":%llu,\"rounds\":%d,"
	       "\"message_bytes\":%zu,\"slot_size\":%u,\"capacity\":%u,\"wait\":\"%s\","
	       "\"clock\":\"%s\",\"ns_per_tick\":%.6f,\"hgrm_dir\":",
	       o->cpus[0], o->cpus[1], (unsigned long long)o->iterations,
	       (unsigned long long)o->warmup, o->rounds, sizeof(struct shmbus_trade), o->slot_size,
	       o->capacity, shmbus_wait_name(o->wait), o->clock.tsc ? "tsc" : "monotonic",
	       o->clock.ns_per_tick);
	bench_json_str_or_null(stdout, o->hgrm_dir);
	printf(",\"hgrm_unit\":\"ns\"},\"transports\":[");
	for (int i = 0; i < n; i++) {
		printf("%s{\"name\":\"%s\",\"what\":", i ? "," : "", res[i].e->name);
		bench_json_str(stdout, tr_what(res[i].e));
		printf(",");
		bench_json_lat(stdout, &res[i].med);
		if (s)
			/* significant digits: a ratio far below 1 (shmbus's p99 a
			 * stall of the loaded machine) printed as 0.000 */
			printf(",\"ratio_p50\":%.4g,\"ratio_p99\":%.4g",
			       bench_ratio(res[i].med.p50, s->med.p50),
			       bench_ratio(res[i].med.p99, s->med.p99));
		printf(",\"rounds\":[");
		for (int r = 0; r < o->rounds; r++) {
			printf("%s{\"round\":%d,", r ? "," : "", r + 1);
			bench_json_lat(stdout, &res[i].rounds[r]);
			printf("}");
		}
		printf("]}");
	}
	printf("],\"targets\":[");
	for (int t = 0; t < TR_NTARGETS; t++) {
		double v;
		const char *verdict = tr_verdict(&tr_targets[t], res, n, &v);

		if (strcmp(verdict, "n/a") == 0)
			continue;
		tr_target_text(&tr_targets[t], text, sizeof(text));
		printf("%s{\"transport\":\"%s\",\"percentile\":\"%s\",\"target\":",
		       first ? "" : ",", tr_targets[t].name, tr_targets[t].p99 ? "p99" : "p50");
		bench_json_str(stdout, text);
		printf(",\"figure\":\"%s\",\"op\":\"%s\",\"limit\":%.1f,\"value\":%.3f,"
		       "\"verdict\":\"%s\"}",
		       tr_targets[t].shmbus_over ? "shmbus/transport" : "transport/shmbus",
		       tr_targets[t].shmbus_over ? "<=" : ">=", tr_targets[t].limit, v, verdict);
		first = 0;
	}
	printf("]}\n");
}

static void tr_row(const char *label, const struct bench_lat *l)
{
	printf("  %-14s %9lld %9lld %9lld %9lld %10lld %11lld\n", label, (long long)l->min,
	       (long long)l->p50, (long long)l->p90, (long long)l->p99, (long long)l->p999,
	       (long long)l->max);
}

static void tr_print_table(const struct bench_opts *o, const struct tr_result *res, int n)
{
	const struct tr_result *s = tr_find(res, n, "shmbus");
	char label[48], text[96];

	bench_print_machine(stdout, &o->machine, o->command, &o->clock);
	printf("transports: cpus %d,%d, %llu round trips (+%llu warmup) x %d rounds, "
	       "%zu-byte message, wait %s\n",
	       o->cpus[0], o->cpus[1], (unsigned long long)o->iterations,
	       (unsigned long long)o->warmup, o->rounds, sizeof(struct shmbus_trade),
	       shmbus_wait_name(o->wait));
	for (int i = 0; i < n; i++)
		printf("  %-10s %s\n", res[i].e->name, tr_what(res[i].e));
	printf(
	    "\n  round trip (ns)      min       p50       p90       p99      p99.9         max\n");
	for (int r = 0; r < o->rounds; r++) {
		for (int i = 0; i < n; i++) {
			snprintf(label, sizeof(label), "r%d %s", r + 1, res[i].e->name);
			tr_row(label, &res[i].rounds[r]);
		}
	}
	printf("\n  median of rounds     min       p50       p90       p99      p99.9         max"
	       "   p50/shmbus  p99/shmbus\n");
	for (int i = 0; i < n; i++) {
		printf("  %-14s %9lld %9lld %9lld %9lld %10lld %11lld", res[i].e->name,
		       (long long)res[i].med.min, (long long)res[i].med.p50,
		       (long long)res[i].med.p90, (long long)res[i].med.p99,
		       (long long)res[i].med.p999, (long long)res[i].med.max);
		if (s)
			printf("   %10.2f  %10.2f", bench_ratio(res[i].med.p50, s->med.p50),
			       bench_ratio(res[i].med.p99, s->med.p99));
		printf("\n");
	}
	printf("\n  targets (issue 7):\n");
	for (int t = 0; t < TR_NTARGETS; t++) {
		double v;
		const char *verdict = tr_verdict(&tr_targets[t], res, n, &v);

		tr_target_text(&tr_targets[t], text, sizeof(text));
		if (strcmp(verdict, "n/a") == 0)
			printf("    %-40s n/a (not measured)\n", text);
		else
			printf("    %-40s %7.2fx  %s\n", text, v, verdict);
	}
	if (o->hgrm_dir)
		printf("\n  histograms (ns, all rounds merged): %s/rtt-<transport>.hgrm\n",
		       o->hgrm_dir);
}

static int tr_write_hgrm(const struct bench_opts *o, const struct tr_result *x)
{
	char name[64];

	snprintf(name, sizeof(name), "rtt-%s", x->e->name);
	return bench_hs_write_hgrm(o->hgrm_dir, name, x->all);
}

/* One round of one transport into x->rounds[round - 1] and x->all. */
static int tr_round(const struct bench_opts *o, struct tr_result *x, struct pp_shared *pp,
                    struct tr_shared *sh, struct shmbus_hist *h, int round)
{
	struct bench_lat *lat = &x->rounds[round - 1];
	int rc;

	shmbus_hist_reset(h);
	if (x->e->pp)
		rc = bench_pp_round(o, pp, round, x->e->pp_kind, lat, h);
	else
		rc = tr_generic_round(o, x->e->t, sh, round, lat, h);
	if (rc == BENCH_EXIT_OK && shmbus_hist_merge(x->all, h) != 0) {
		bench_err(x->e->name, "histogram merge dropped values");
		rc = BENCH_EXIT_FAIL;
	}
	return rc;
}

/* Set up what the selected transports need for the whole run. */
static int tr_prepare(const struct bench_opts *o, struct tr_result *res, int n)
{
	for (int i = 0; i < n; i++) {
		if (bench_hs_create(&res[i].all) < 0) {
			bench_err("transports", "histogram: out of memory");
			return BENCH_EXIT_FAIL;
		}
		if (res[i].e->t && res[i].e->t->run_init) {
			if (res[i].e->t->run_init(o) < 0)
				return BENCH_EXIT_FAIL;
			res[i].inited = 1;
		}
	}
	return BENCH_EXIT_OK;
}

static void tr_finish(struct tr_result *res, int n)
{
	for (int i = 0; i < n; i++) {
		if (res[i].inited && res[i].e->t->run_fini)
			res[i].e->t->run_fini();
		shmbus_hist_destroy(res[i].all);
	}
}

static int tr_measure(const struct bench_opts *o, struct tr_result *res, int n,
                      struct pp_shared *pp, struct tr_shared *sh)
{
	struct shmbus_hist *h;
	int rc = BENCH_EXIT_OK;

	if (bench_hs_create(&h) < 0) {
		bench_err("transports", "histogram: out of memory");
		return BENCH_EXIT_FAIL;
	}
	/* Interleaved: round r of every transport before round r + 1 of any. */
	for (int r = 1; r <= o->rounds && rc == BENCH_EXIT_OK; r++)
		for (int i = 0; i < n && rc == BENCH_EXIT_OK; i++)
			rc = tr_round(o, &res[i], pp, sh, h, r);
	shmbus_hist_destroy(h);
	if (rc != BENCH_EXIT_OK)
		return rc;
	for (int i = 0; i < n; i++)
		bench_lat_median(res[i].rounds, o->rounds, &res[i].med);
	if (o->json)
		tr_print_json(o, res, n);
	else
		tr_print_table(o, res, n);
	for (int i = 0; i < n && o->hgrm_dir && rc == BENCH_EXIT_OK; i++)
		rc = tr_write_hgrm(o, &res[i]);
	return rc;
}

int bench_transports_run(const struct bench_opts *o)
{
	uint32_t mask = o->transports ? o->transports : (1u << TR_N) - 1;
	size_t sh_bytes = sizeof(struct tr_shared) + o->iterations * sizeof(uint64_t);
	struct tr_result *res = calloc(TR_N, sizeof(*res));
	struct tr_shared *sh = bench_shared_alloc(sh_bytes);
	struct pp_shared *pp = bench_pp_alloc(o);
	int n = 0, rc;

	if (!res || !sh || !pp) {
		bench_err("transports", "cannot allocate %llu samples",
		          (unsigned long long)o->iterations);
		rc = BENCH_EXIT_FAIL;
		goto out;
	}
	for (int i = 0; i < TR_N; i++)
		if (mask & (1u << i))
			res[n++].e = &tr_entries[i];
	rc = tr_prepare(o, res, n);
	if (rc == BENCH_EXIT_OK)
		rc = tr_measure(o, res, n, pp, sh);
	tr_finish(res, n);
out:
	free(res);
	if (sh)
		bench_shared_free(sh, sh_bytes);
	if (pp)
		bench_pp_free(o, pp);
	return rc;
}
