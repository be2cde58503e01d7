/*
 * oneway.c - one-way latency at a fixed offered rate, corrected for
 * coordinated omission, through one shmbus ring against a hand-written
 * cache-line ring between the same two pinned processes.
 *
 * Design: the publisher (first cpu) sends event i at its intended time
 * start + i / rate, read on the bus clock (shmbus_now_ns(), the clock the
 * library stamps publish_time_ns with), and carries that intended time in
 * the trade's event_time_ns; its index rides in the price. A publisher
 * that falls behind (a preempted process, a full ring) sends the late
 * events back to back, never skipping their slots in the schedule. Each
 * subscriber reads the bus clock as it handles an event and records two
 * latencies: receipt - intended send ("corrected": what a caller who
 * wanted to send at that moment waited, so a stall is charged to every
 * event it delayed, not just to the one it hit) and receipt -
 * publish_time_ns ("uncorrected": the transport alone). Comparing clock
 * readings across processes is sound because the bus clock is
 * CLOCK_REALTIME extrapolated from the invariant TSC (tens of ns apart
 * between cores at most; a negative difference is counted and taken as 0).
 * The baseline is line_ring.h: the same 56-byte trade, stamped with the
 * same clock, in one 64-byte line per slot. Rounds alternate baseline and
 * shmbus with fresh processes each time; the report takes medians over
 * rounds. The engine serves fanout.c too (K subscribers, one ring each).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include <shmbus/shmbus.h>

#include "hist_share.h"
#include "line_ring.h"
#include "oneway.h"

#define OW_SYM        1u
#define OW_POLL_BATCH 64u
#define OW_LEAD_NS    1000000 /* the schedule starts 1 ms after the barrier */

struct ow_shared {
	struct bench_barrier bar;
	uint32_t nsubs;
	size_t bytes;
	size_t hs_bytes;
	/* the publisher's results */
	uint64_t published, undelivered;
	int last_rc;
	int64_t t_start_ns, t_end_ns, max_behind_ns;
	struct bench_ow_sub sub[BENCH_MAX_SUBS];
	struct lr_ring *ring[BENCH_MAX_SUBS];     /* inside this mapping */
	struct bench_hs *hs_corr[BENCH_MAX_SUBS]; /* inside this mapping */
	struct bench_hs *hs_unc[BENCH_MAX_SUBS];
};

struct ow_child {
	const struct bench_opts *o;
	struct ow_shared *sh;
	int round;
	uint32_t index; /* subscriber */
};

/* A subscriber's state while it consumes. */
struct ow_sub_state {
	uint64_t warmup;
	int record;
	struct bench_ow_sub res;
	struct shmbus_hist *corr, *unc;
};

static uint64_t ow_total(const struct bench_opts *o)
{
	return o->warmup + o->iterations;
}

static size_t ow_align(size_t n)
{
	return (n + 127) & ~(size_t)127;
}

struct ow_shared *bench_ow_alloc(const struct bench_opts *o, uint32_t nsubs)
{
	size_t head = ow_align(sizeof(struct ow_shared));
	size_t rb = ow_align(lr_bytes(o->capacity, o->slot_size));
	size_t hb = ow_align(bench_hs_bytes());
	size_t bytes = head + nsubs * rb + 2 * nsubs * hb;
	struct ow_shared *sh;
	unsigned char *p;

	if (!hb || nsubs == 0 || nsubs > BENCH_MAX_SUBS)
		return NULL;
	sh = bench_shared_alloc(bytes);
	if (!sh)
		return NULL;
	sh->nsubs = nsubs;
	sh->bytes = bytes;
	sh->hs_bytes = hb;
	p = (unsigned char *)sh + head;
	for (uint32_t i = 0; i < nsubs; i++, p += rb)
		sh->ring[i] = (struct lr_ring *)(void *)p;
	for (uint32_t i = 0; i < nsubs; i++, p += 2 * hb) {
		sh->hs_corr[i] = (struct bench_hs *)(void *)p;
		sh->hs_unc[i] = (struct bench_hs *)(void *)(p + hb);
	}
	return sh;
}

void bench_ow_free(struct ow_shared *sh)
{
	if (sh)
		bench_shared_free(sh, sh->bytes);
}

int bench_ow_sub_cpu(const struct bench_opts *o, uint32_t i)
{
	if (o->ncpus < 2)
		return o->cpus[0];
	return o->cpus[1 + i % (uint32_t)(o->ncpus - 1)];
}

/* Wait until the bus clock reads `until`; returns the time read. Spins
 * with pause under --wait spin; otherwise sleeps through long gaps and
 * yields through short ones, so a shared core is not hogged. */
static int64_t ow_pace(const struct bench_opts *o, int64_t until)
{
	int64_t now;

	while ((now = shmbus_now_ns()) < until) {
		if (o->wait == SHMBUS_WAIT_SPIN) {
			bench_relax();
		} else if (until - now > 200000) {
			int64_t nap = until - now - 100000; /* wake 100 us early */
			struct timespec ts = {nap / 1000000000, nap % 1000000000};

			nanosleep(&ts, NULL);
		} else {
			sched_yield();
		}
	}
	return now;
}

/* The intended send time of event i (0 when unpaced). */
static int64_t ow_intended(const struct bench_opts *o, int64_t start, uint64_t i)
{
	if (!o->rate)
		return 0;
	return start + (int64_t)((double)i * 1e9 / (double)o->rate);
}

static void ow_trade(struct shmbus_trade *t, uint64_t i, int64_t intended)
{
	memset(t, 0, sizeof(*t));
	t->h.type = SHMBUS_EV_TRADE;
	t->h.version = SHMBUS_EVENT_LAYOUT_VERSION;
	t->h.size = sizeof(*t);
	t->h.symbol_id = OW_SYM;
	t->h.event_time_ns = intended;
	t->price = (double)i;
	t->size = 1.0;
}

static int ow_send(shmbus_producer *p, int claim, uint64_t i, int64_t intended)
{
	struct shmbus_trade t;

	if (claim) {
		struct shmbus_trade *tp;
		void *ev;
		int rc = shmbus_claim(p, SHMBUS_EV_TRADE, OW_SYM, sizeof(t), &ev);

		if (rc < 0)
			return rc;
		tp = ev;
		tp->h.event_time_ns = intended;
		tp->price = (double)i;
		tp->size = 1.0;
		return shmbus_commit(p);
	}
	ow_trade(&t, i, intended);
	return shmbus_publish(p, &t);
}

/* Track how late the publisher is against its schedule. */
static void ow_behind(struct ow_shared *sh, int64_t now, int64_t intended)
{
	if (intended && now - intended > sh->max_behind_ns)
		sh->max_behind_ns = now - intended;
}

static int ow_shmbus_publisher(void *arg)
{
	struct ow_child *ch = arg;
	const struct bench_opts *o = ch->o;
	struct ow_shared *sh = ch->sh;
	struct shmbus_producer_opts po;
	shmbus_producer *p;
	shmbus_bus *bus;
	uint64_t total = ow_total(o);
	int rc = bench_pin(o->cpus[0]);

	if (rc < 0)
		return bench_fail(&sh->bar, "publisher: pin", rc);
	rc = shmbus_bus_open(o->bus, "bench-ow-pub", SHMBUS_ROLE_PRODUCER, &bus);
	if (rc < 0)
		return bench_fail(&sh->bar, "publisher: open bus", rc);
	shmbus_producer_opts_init(&po);
	po.source_id = 1;
	if (o->block_timeout_ns)
		po.block_timeout_ns = o->block_timeout_ns;
	rc = shmbus_producer_open(bus, &po, &p);
	if (rc < 0)
		return bench_fail(&sh->bar, "publisher: open producer", rc);
	if (bench_barrier_wait(&sh->bar, sh->nsubs + 1) < 0)
		return 1;
	sh->t_start_ns = shmbus_now_ns() + (o->rate ? OW_LEAD_NS : 0);
	for (uint64_t i = 0; i < total; i++) {
		int64_t intended = ow_intended(o, sh->t_start_ns, i);
		int sent;

		if (intended)
			ow_behind(sh, ow_pace(o, intended), intended);
		sent = ow_send(p, o->api_claim, i, intended);
		if (sent != (int)sh->nsubs) {
			sh->undelivered++;
			sh->last_rc = sent;
		}
	}
	sh->t_end_ns = shmbus_now_ns();
	sh->published = total;
	shmbus_producer_close(p);
	shmbus_bus_close(bus);
	return 0;
}

static void ow_base_idle(const struct bench_opts *o)
{
	if (o->wait == SHMBUS_WAIT_SPIN)
		bench_relax();
	else
		sched_yield();
}

static int ow_base_publisher(void *arg)
{
	struct ow_child *ch = arg;
	const struct bench_opts *o = ch->o;
	struct ow_shared *sh = ch->sh;
	struct lr_prod prod[BENCH_MAX_SUBS];
	uint64_t total = ow_total(o);
	struct shmbus_trade t;
	int rc = bench_pin(o->cpus[0]);

	if (rc < 0)
		return bench_fail(&sh->bar, "baseline publisher: pin", rc);
	for (uint32_t j = 0; j < sh->nsubs; j++)
		prod[j] = (struct lr_prod){.r = sh->ring[j]};
	if (bench_barrier_wait(&sh->bar, sh->nsubs + 1) < 0)
		return 1;
	sh->t_start_ns = shmbus_now_ns() + (o->rate ? OW_LEAD_NS : 0);
	for (uint64_t i = 0; i < total; i++) {
		int64_t intended = ow_intended(o, sh->t_start_ns, i);

		if (intended)
			ow_behind(sh, ow_pace(o, intended), intended);
		/* As shmbus_publish does: one stamp, then a copy per ring. */
		ow_trade(&t, i, intended);
		t.h.source_id = 1;
		t.h.seq = i + 1;
		t.h.publish_time_ns = shmbus_now_ns();
		for (uint32_t j = 0; j < sh->nsubs; j++) {
			void *slot;

			while (!(slot = lr_claim(&prod[j])))
				ow_base_idle(o);
			memcpy(slot, &t, sizeof(t));
			lr_commit(&prod[j]);
		}
	}
	sh->t_end_ns = shmbus_now_ns();
	sh->published = total;
	return 0;
}

static void ow_record(struct ow_sub_state *s, struct shmbus_hist *h, int64_t v)
{
	if (v < 0) {
		s->res.negative++;
		v = 0;
	}
	shmbus_hist_record(h, v);
}

static void ow_on_event(const struct shmbus_event_header *ev, void *ctx)
{
	struct ow_sub_state *s = ctx;
	int64_t now = shmbus_now_ns();
	uint64_t idx = (uint64_t)((const struct shmbus_trade *)(const void *)ev)->price;

	if (idx != s->res.received)
		s->res.out_of_order++;
	s->res.received++;
	s->res.t_last_ns = now;
	if (s->record && idx >= s->warmup) {
		ow_record(s, s->corr, now - ev->event_time_ns);
		ow_record(s, s->unc, now - ev->publish_time_ns);
	}
}

/* Pin, create the subscriber's histograms; common to both kinds. */
static int ow_sub_init(struct ow_child *ch, struct ow_sub_state *s)
{
	const struct bench_opts *o = ch->o;
	int rc;

	memset(s, 0, sizeof(*s));
	s->warmup = o->warmup;
	s->record = o->rate > 0;
	s->res.cpu = bench_ow_sub_cpu(o, ch->index);
	rc = bench_pin(s->res.cpu);
	if (rc < 0)
		return bench_fail(&ch->sh->bar, "subscriber: pin", rc);
	if (bench_hs_create(&s->corr) < 0 || bench_hs_create(&s->unc) < 0)
		return bench_fail(&ch->sh->bar, "subscriber: histogram", -ENOMEM);
	return 0;
}

/* Hand the results and histograms to the parent; free the histograms. */
static int ow_sub_finish(struct ow_child *ch, struct ow_sub_state *s)
{
	struct ow_shared *sh = ch->sh;
	int rc = bench_hs_export(sh->hs_corr[ch->index], s->corr);

	if (rc == 0)
		rc = bench_hs_export(sh->hs_unc[ch->index], s->unc);
	sh->sub[ch->index] = s->res;
	shmbus_hist_destroy(s->corr);
	shmbus_hist_destroy(s->unc);
	if (rc < 0)
		return bench_fail(&sh->bar, "subscriber: export histogram", rc);
	return 0;
}

static int ow_shmbus_subscriber(void *arg)
{
	struct ow_child *ch = arg;
	const struct bench_opts *o = ch->o;
	uint64_t total = ow_total(o);
	uint32_t sym = OW_SYM;
	struct shmbus_sub_opts so;
	struct ow_sub_state s;
	shmbus_consumer *c;
	shmbus_bus *bus;
	char name[32];
	int rc;

	if (ow_sub_init(ch, &s))
		return 1;
	snprintf(name, sizeof(name), "bench-ow-s%u", ch->index);
	rc = shmbus_bus_open(o->bus, name, SHMBUS_ROLE_CONSUMER, &bus);
	if (rc < 0)
		return bench_fail(&ch->sh->bar, "subscriber: open bus", rc);
	shmbus_sub_opts_init(&so);
	so.types = SHMBUS_TYPE_BIT(SHMBUS_EV_TRADE);
	so.symbols = &sym;
	so.nsymbols = 1;
	so.capacity = o->capacity;
	so.slot_size = o->slot_size;
	so.policy = SHMBUS_POLICY_BLOCK;
	so.wait = o->wait;
	so.flags = o->single_producer ? SHMBUS_SUB_SINGLE_PRODUCER : 0;
	snprintf(name, sizeof(name), "ow-r%d-s%u", ch->round, ch->index);
	rc = shmbus_subscribe(bus, name, &so, &c);
	if (rc < 0)
		return bench_fail(&ch->sh->bar, "subscriber: subscribe", rc);
	if (bench_barrier_wait(&ch->sh->bar, ch->sh->nsubs + 1) < 0)
		return 1;
	while (s.res.received < total) {
		if (shmbus_poll(c, ow_on_event, &s, OW_POLL_BATCH) > 0)
			continue;
		if (o->wait == SHMBUS_WAIT_SPIN)
			bench_relax();
		else
			shmbus_wait(c, 1000000000);
	}
	rc = ow_sub_finish(ch, &s);
	shmbus_unsubscribe(c);
	shmbus_bus_close(bus);
	return rc;
}

static int ow_base_subscriber(void *arg)
{
	struct ow_child *ch = arg;
	const struct bench_opts *o = ch->o;
	uint64_t total = ow_total(o);
	struct lr_cons cons = {.r = ch->sh->ring[ch->index]};
	struct ow_sub_state s;

	if (ow_sub_init(ch, &s))
		return 1;
	if (bench_barrier_wait(&ch->sh->bar, ch->sh->nsubs + 1) < 0)
		return 1;
	while (s.res.received < total)
		if (lr_poll(&cons, ow_on_event, &s, OW_POLL_BATCH) == 0)
			ow_base_idle(o);
	return ow_sub_finish(ch, &s);
}

static void ow_reset(const struct bench_opts *o, struct ow_shared *sh, int base)
{
	atomic_store(&sh->bar.arrived, 0);
	atomic_store(&sh->bar.abort, 0);
	sh->published = sh->undelivered = 0;
	sh->last_rc = 0;
	sh->t_start_ns = sh->t_end_ns = sh->max_behind_ns = 0;
	memset(sh->sub, 0, sizeof(sh->sub));
	for (uint32_t j = 0; j < sh->nsubs; j++) {
		sh->hs_corr[j]->n = sh->hs_unc[j]->n = 0;
		if (base)
			lr_init(sh->ring[j], o->capacity, o->slot_size);
	}
}

static int ow_spawn(const struct bench_opts *o, struct ow_shared *sh, int round, int shmbus)
{
	struct ow_child kids[BENCH_MAX_SUBS + 1];
	pid_t pids[BENCH_MAX_SUBS + 1] = {0};
	int n = (int)sh->nsubs + 1, rc = 0;
	char why[160];

	/* Subscribers first: they subscribe before the barrier lets the
	 * publisher go, so no event is routed before its ring exists. */
	for (int i = 0; i < n && rc == 0; i++) {
		int pub = i == n - 1;

		kids[i] = (struct ow_child){.o = o, .sh = sh, .round = round, .index = (uint32_t)i};
		rc = bench_spawn(&pids[i],
		                 pub ? (shmbus ? ow_shmbus_publisher : ow_base_publisher)
		                     : (shmbus ? ow_shmbus_subscriber : ow_base_subscriber),
		                 &kids[i]);
	}
	if (rc < 0) {
		bench_err("fork", "%s", strerror(-rc));
		bench_children_wait(pids, n, 0, why, sizeof(why));
		return BENCH_EXIT_FAIL;
	}
	rc = bench_children_wait(pids, n, o->timeout_s, why, sizeof(why));
	if (rc < 0) {
		bench_err(shmbus ? "shmbus round" : "cacheline round", "%s", why);
		return BENCH_EXIT_FAIL;
	}
	return BENCH_EXIT_OK;
}

/* Every event reached every subscriber once, in order. */
static int ow_check(const struct bench_opts *o, const struct ow_shared *sh, const char *kind,
                    int round)
{
	if (sh->undelivered) {
		bench_err(kind,
		          "round %d: %llu publishes reached fewer than %u rings (last returned %d)",
		          round, (unsigned long long)sh->undelivered, sh->nsubs, sh->last_rc);
		return BENCH_EXIT_FAIL;
	}
	for (uint32_t j = 0; j < sh->nsubs; j++) {
		if (sh->sub[j].received != ow_total(o) || sh->sub[j].out_of_order) {
			bench_err(
			    kind,
			    "round %d: subscriber %u got %llu of %llu events, %llu out of order",
			    round, j, (unsigned long long)sh->sub[j].received,
			    (unsigned long long)ow_total(o),
			    (unsigned long long)sh->sub[j].out_of_order);
			return BENCH_EXIT_FAIL;
		}
	}
	return BENCH_EXIT_OK;
}

/* Import one exported histogram into tmp (reset first), merge it into
 * the round's and the run's accumulators, and summarise it. */
static int ow_collect(const struct bench_hs *src, struct shmbus_hist *tmp,
                      struct shmbus_hist *round_all, struct shmbus_hist *run_all,
                      struct bench_lat *lat)
{
	shmbus_hist_reset(tmp);
	if (bench_hs_import(tmp, src) < 0 || shmbus_hist_merge(round_all, tmp) != 0 ||
	    (run_all && shmbus_hist_merge(run_all, tmp) != 0)) {
		bench_err("histogram", "values out of range were dropped");
		return BENCH_EXIT_FAIL;
	}
	bench_hs_lat(tmp, lat);
	return BENCH_EXIT_OK;
}

static void ow_rates(const struct ow_shared *sh, struct bench_ow_round *out)
{
	int64_t last = 0;

	for (uint32_t j = 0; j < sh->nsubs; j++)
		if (sh->sub[j].t_last_ns > last)
			last = sh->sub[j].t_last_ns;
	out->send_rate = sh->t_end_ns > sh->t_start_ns
	                     ? (double)sh->published * 1e9 / (double)(sh->t_end_ns - sh->t_start_ns)
	                     : 0;
	out->recv_rate = last > sh->t_start_ns ? (double)sh->published * sh->nsubs * 1e9 /
	                                             (double)(last - sh->t_start_ns)
	                                       : 0;
}

int bench_ow_round(const struct bench_opts *o, struct ow_shared *sh, int round,
                   enum bench_ow_kind kind, struct bench_ow_round *out,
                   struct shmbus_hist *all_corr, struct shmbus_hist *all_unc)
{
	int shmbus = kind == BENCH_OW_SHMBUS;
	const char *what = shmbus ? "shmbus" : "cacheline";
	struct shmbus_hist *tmp = NULL, *rc_all = NULL, *ru_all = NULL;
	int rc;

	ow_reset(o, sh, !shmbus);
	rc = ow_spawn(o, sh, round, shmbus);
	if (rc == BENCH_EXIT_OK)
		rc = ow_check(o, sh, what, round);
	if (rc != BENCH_EXIT_OK)
		return rc;
	memset(out, 0, sizeof(*out));
	out->nsubs = sh->nsubs;
	out->published = sh->published;
	out->t_start_ns = sh->t_start_ns;
	out->t_end_ns = sh->t_end_ns;
	out->max_behind_ns = sh->max_behind_ns;
	ow_rates(sh, out);
	memcpy(out->sub, sh->sub, sizeof(out->sub));
	if (bench_hs_create(&tmp) < 0 || bench_hs_create(&rc_all) < 0 ||
	    bench_hs_create(&ru_all) < 0) {
		bench_err(what, "histogram: out of memory");
		rc = BENCH_EXIT_FAIL;
	}
	for (uint32_t j = 0; j < sh->nsubs && rc == BENCH_EXIT_OK; j++) {
		rc = ow_collect(sh->hs_corr[j], tmp, rc_all, all_corr, &out->sub[j].corrected);
		if (rc == BENCH_EXIT_OK)
			rc = ow_collect(sh->hs_unc[j], tmp, ru_all, all_unc,
			                &out->sub[j].uncorrected);
	}
	bench_hs_lat(rc_all, &out->all_corrected);
	bench_hs_lat(ru_all, &out->all_uncorrected);
	shmbus_hist_destroy(tmp);
	shmbus_hist_destroy(rc_all);
	shmbus_hist_destroy(ru_all);
	return rc;
}

/* ---- the oneway scenario: K = 1, report and files ---- */

struct ow_report {
	struct bench_ow_round *base, *bus; /* o->rounds each */
	struct bench_lat mb_corr, mb_unc, ms_corr, ms_unc;
	double r50_corr, r99_corr, r50_unc, r99_unc;
	double p50_paired, p99_paired; /* corrected, median of per-round ratios */
	double send_rate;              /* shmbus, median */
	int64_t max_behind_ns;         /* shmbus, worst round */
};

static void ow_summarise(const struct bench_opts *o, struct ow_report *r)
{
	struct bench_lat v[BENCH_MAX_ROUNDS] = {{0}};
	double d[BENCH_MAX_ROUNDS];
	int n = o->rounds;

#define OW_MED(arr, field, dst)                                                                    \
	do {                                                                                       \
		for (int i = 0; i < n; i++)                                                        \
			v[i] = r->arr[i].sub[0].field;                                             \
		bench_lat_median(v, n, dst);                                                    \
	} while (0)
	OW_MED(base, corrected, &r->mb_corr);
	OW_MED(base, uncorrected, &r->mb_unc);
	OW_MED(bus, corrected, &r->ms_corr);
	OW_MED(bus, uncorrected, &r->ms_unc);
#undef OW_MED
	r->r50_corr = bench_ratio(r->ms_corr.p50, r->mb_corr.p50);
	r->r99_corr = bench_ratio(r->ms_corr.p99, r->mb_corr.p99);
	r->r50_unc = bench_ratio(r->ms_unc.p50, r->mb_unc.p50);
	r->r99_unc = bench_ratio(r->ms_unc.p99, r->mb_unc.p99);
	for (int i = 0; i < n; i++)
		d[i] = bench_ratio(r->bus[i].sub[0].corrected.p50, r->base[i].sub[0].corrected.p50);
	r->p50_paired = bench_median(d, (size_t)n);
	for (int i = 0; i < n; i++)
		d[i] = bench_ratio(r->bus[i].sub[0].corrected.p99, r->base[i].sub[0].corrected.p99);
	r->p99_paired = bench_median(d, (size_t)n);
	for (int i = 0; i < n; i++)
		d[i] = r->bus[i].send_rate;
	r->send_rate = bench_median(d, (size_t)n);
	r->max_behind_ns = 0;
	for (int i = 0; i < n; i++)
		if (r->bus[i].max_behind_ns > r->max_behind_ns)
			r->max_behind_ns = r->bus[i].max_behind_ns;
}

static void ow_json_pair(const char *key, const struct bench_lat *c, const struct bench_lat *u)
{
	printf("\"%s\":{\"corrected\":{", key);
	bench_json_lat(stdout, c);
	printf("},\"uncorrected\":{");
	bench_json_lat(stdout, u);
	printf("}}");
}

static void ow_json_round(int r, const char *kind, const struct bench_ow_round *x)
{
	printf("{\"round\":%d,\"kind\":\"%s\",\"received\":%llu,\"lost\":%llu,"
	       "\"out_of_order\":%llu,\"negative\":%llu,\"send_rate\":%.0f,\"max_behind_ns\":%lld,",
	       r + 1, kind, (unsigned long long)x->sub[0].received,
	       (unsigned long long)(x->published - x->sub[0].received),
	       (unsigned long long)x->sub[0].out_of_order, (unsigned long long)x->sub[0].negative,
	       x->send_rate, (long long)x->max_behind_ns);
	printf("\"corrected\":{");
	bench_json_lat(stdout, &x->sub[0].corrected);
	printf("},\"uncorrected\":{");
	bench_json_lat(stdout, &x->sub[0].uncorrected);
	printf("}}");
}

static void ow_print_json(const struct bench_opts *o, const struct ow_report *r)
{
	bench_json_head(stdout, "oneway", &o->machine, o->command);
	printf(",\"config\":{\"cpus\":[%d,%d],\"rate\":%llu,\"iterations\":%llu,\"warmup\":%llu,"
	       "\"rounds\":%d,\"slot_size\":%u,\"capacity\":%u,\"wait\":\"%s\",\"api\":\"%s\","
	       "\"single_producer\":%s,\"clock\":\"shmbus_now_ns\",\"hgrm_dir\":",
	       o->cpus[0], bench_ow_sub_cpu(o, 0), (unsigned long long)o->rate,
	       (unsigned long long)o->iterations, (unsigned long long)o->warmup, o->rounds,
	       o->slot_size, o->capacity, shmbus_wait_name(o->wait),
	       o->api_claim ? "claim" : "publish", o->single_producer ? "true" : "false");
	bench_json_str_or_null(stdout, o->hgrm_dir);
	printf(",\"hgrm_unit\":\"ns\"},");
	ow_json_pair("shmbus", &r->ms_corr, &r->ms_unc);
	printf(",");
	ow_json_pair("baseline", &r->mb_corr, &r->mb_unc);
	bench_json_ratio(stdout, "ratio_p50", r->r50_corr);
	bench_json_ratio(stdout, "ratio_p99", r->r99_corr);
	bench_json_ratio(stdout, "ratio_p50_uncorrected", r->r50_unc);
	bench_json_ratio(stdout, "ratio_p99_uncorrected", r->r99_unc);
	bench_json_ratio(stdout, "ratio_p50_paired", r->p50_paired);
	bench_json_ratio(stdout, "ratio_p99_paired", r->p99_paired);
	printf(",\"send_rate\":%.0f,\"max_behind_ns\":%lld,\"rounds\":[", r->send_rate,
	       (long long)r->max_behind_ns);
	for (int i = 0; i < o->rounds; i++) {
		printf("%s", i ? "," : "");
		ow_json_round(i, "cacheline", &r->base[i]);
		printf(",");
		ow_json_round(i, "shmbus", &r->bus[i]);
	}
	printf("]}\n");
}

static void ow_row(const char *label, const struct bench_lat *l)
{
	printf("  %-24s %8lld %8lld %8lld %8lld %9lld %10lld %10.1f\n", label, (long long)l->min,
	       (long long)l->p50, (long long)l->p90, (long long)l->p99, (long long)l->p999,
	       (long long)l->max, l->mean);
}

static void ow_rows(const char *who, const struct bench_lat *c, const struct bench_lat *u)
{
	char label[48];

	snprintf(label, sizeof(label), "%s corr", who);
	ow_row(label, c);
	snprintf(label, sizeof(label), "%s uncorr", who);
	ow_row(label, u);
}

static void ow_print_table(const struct bench_opts *o, const struct ow_report *r)
{
	char who[32];

	bench_print_machine(stdout, &o->machine, o->command, NULL);
	printf("clock:   shmbus_now_ns (bus clock) on both sides\n");
	printf("oneway: cpu %d -> cpu %d, %llu events/s, %llu events (+%llu warmup) x %d rounds, "
	       "slot %u, capacity %u, wait %s, api %s%s\n",
	       o->cpus[0], bench_ow_sub_cpu(o, 0), (unsigned long long)o->rate,
	       (unsigned long long)o->iterations, (unsigned long long)o->warmup, o->rounds,
	       o->slot_size, o->capacity, shmbus_wait_name(o->wait),
	       o->api_claim ? "claim" : "publish",
	       o->single_producer ? ", single-producer ring" : "");
	printf("  corr = receipt - intended send time (coordinated omission corrected); "
	       "uncorr = receipt - publish stamp\n\n");
	printf(
	    "  one-way (ns)                  min      p50      p90      p99     p99.9        max  "
	    "     mean\n");
	for (int i = 0; i < o->rounds; i++) {
		snprintf(who, sizeof(who), "r%d cacheline", i + 1);
		ow_rows(who, &r->base[i].sub[0].corrected, &r->base[i].sub[0].uncorrected);
		snprintf(who, sizeof(who), "r%d shmbus", i + 1);
		ow_rows(who, &r->bus[i].sub[0].corrected, &r->bus[i].sub[0].uncorrected);
	}
	printf("\n");
	ow_rows("median cacheline", &r->mb_corr, &r->mb_unc);
	ow_rows("median shmbus", &r->ms_corr, &r->ms_unc);
	printf(
	    "\n  ratio shmbus/cacheline (medians): corrected p50 %.3g, p99 %.3g; uncorrected p50 "
	    "%.3g, p99 %.3g\n",
	    r->r50_corr, r->r99_corr, r->r50_unc, r->r99_unc);
	printf("  per-round paired ratios (median, corrected): p50 %.3g, p99 %.3g\n", r->p50_paired,
	       r->p99_paired);
	printf("  shmbus publisher: %.0f events/s achieved (median), worst lag behind schedule "
	       "%lld ns\n",
	       r->send_rate, (long long)r->max_behind_ns);
	if (o->hgrm_dir)
		printf("  histograms (ns, all rounds merged): %s/oneway-{shmbus,cacheline}"
		       "[-uncorrected].hgrm\n",
		       o->hgrm_dir);
}

/* Run every round, interleaved; hists[0..3]: cacheline corr/unc, shmbus
 * corr/unc over all rounds. */
static int ow_measure(const struct bench_opts *o, struct ow_shared *sh, struct ow_report *r,
                      struct shmbus_hist **hists)
{
	int rc = BENCH_EXIT_OK;

	for (int i = 0; i < o->rounds && rc == BENCH_EXIT_OK; i++) {
		rc = bench_ow_round(o, sh, i + 1, BENCH_OW_CACHELINE, &r->base[i], hists[0],
		                    hists[1]);
		if (rc == BENCH_EXIT_OK)
			rc = bench_ow_round(o, sh, i + 1, BENCH_OW_SHMBUS, &r->bus[i], hists[2],
			                    hists[3]);
	}
	return rc;
}

int bench_oneway_run(const struct bench_opts *o)
{
	static const char *const names[4] = {"oneway-cacheline", "oneway-cacheline-uncorrected",
	                                     "oneway-shmbus", "oneway-shmbus-uncorrected"};
	struct shmbus_hist *hists[4] = {NULL, NULL, NULL, NULL};
	struct ow_shared *sh = bench_ow_alloc(o, 1);
	struct ow_report r;
	int rc = BENCH_EXIT_OK;

	memset(&r, 0, sizeof(r));
	r.base = calloc((size_t)o->rounds * 2, sizeof(*r.base));
	r.bus = r.base ? r.base + o->rounds : NULL;
	for (int i = 0; i < 4; i++)
		if (bench_hs_create(&hists[i]) < 0)
			rc = BENCH_EXIT_FAIL;
	if (!sh || !r.base || rc != BENCH_EXIT_OK) {
		bench_err("oneway", "cannot allocate rings and histograms");
		rc = BENCH_EXIT_FAIL;
	}
	if (rc == BENCH_EXIT_OK)
		rc = ow_measure(o, sh, &r, hists);
	if (rc == BENCH_EXIT_OK) {
		ow_summarise(o, &r);
		if (o->json)
			ow_print_json(o, &r);
		else
			ow_print_table(o, &r);
	}
	for (int i = 0; i < 4 && rc == BENCH_EXIT_OK && o->hgrm_dir; i++)
		rc = bench_hs_write_hgrm(o->hgrm_dir, names[i], hists[i]);
	for (int i = 0; i < 4; i++)
		shmbus_hist_destroy(hists[i]);
	free(r.base);
	bench_ow_free(sh);
	return rc;
}
