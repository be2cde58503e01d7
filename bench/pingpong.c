/*
 * pingpong.c - round-trip latency through two shmbus rings, measured
 * against a raw shared-memory cache-line ping-pong in the same run.
 *
 * Design: process A (first cpu) publishes a 56-byte trade (symbol 1) that
 * only ring "ping" subscribes to; process B (second cpu) polls "ping" and,
 * inside its handler, publishes the trade back as symbol 2, which only
 * ring "pong" subscribes to; A polls "pong". A times each round trip with
 * the bench clock (invariant TSC when present) from before the publish to
 * after the reply was seen. The baseline is the least a shared-memory round
 * trip can cost on these two cores: A writes the same 56 bytes plus a
 * sequence word into one 64-byte line, B spins on it and copies the
 * payload into a second line (128 bytes away, clear of the adjacent-line
 * prefetcher) that A spins on. Both run the same iteration and warmup
 * counts on the same pinned cores, as fresh processes each round, and
 * rounds alternate (baseline, shmbus, baseline, ...) because a VM's core
 * placement drifts over time; the report takes the median of the rounds
 * for every percentile. Each shmbus round uses its own ring names and
 * unsubscribes them at the end, so rounds never share ring state.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <stdalign.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <shmbus/shmbus.h>

#include "bench.h"
#include "hist_share.h"
#include "pingpong.h"

#define PP_SYM_PING 1u
#define PP_SYM_PONG 2u

/* One direction of the baseline: a sequence word and the trade's bytes. */
struct pp_line {
	alignas(128) _Atomic uint64_t seq;
	unsigned char payload[56];
};
_Static_assert(sizeof(struct pp_line) == 128, "pp_line spans a line pair");

struct pp_shared {
	struct bench_barrier bar;
	_Atomic uint64_t errors;
	struct pp_line ping;
	struct pp_line pong;
	uint64_t samples[]; /* ticks, written by A */
};

struct pp_child {
	const struct bench_opts *o;
	struct pp_shared *sh;
	int round;
};

/* State of one shmbus party: its consumer, producer and the last reply. */
struct pp_party {
	const struct bench_opts *o;
	shmbus_bus *bus;
	shmbus_consumer *c;
	shmbus_producer *p;
	double price;   /* A: price of the reply seen */
	uint64_t got;   /* events handled */
	uint64_t fails; /* publish/claim failures */
};

/* Publish one trade about `sym` with `price`, by the API chosen. */
static int pp_send(struct pp_party *pp, uint32_t sym, double price)
{
	struct shmbus_trade t;
	int rc;

	if (pp->o->api_claim) {
		void *ev;
		struct shmbus_trade *tp;

		rc = shmbus_claim(pp->p, SHMBUS_EV_TRADE, sym, sizeof(t), &ev);
		if (rc < 0)
			return rc;
		tp = ev;
		tp->h.event_time_ns = (int64_t)price;
		tp->price = price;
		tp->size = 1.0;
		return shmbus_commit(pp->p);
	}
	memset(&t, 0, sizeof(t));
	t.h.type = SHMBUS_EV_TRADE;
	t.h.version = SHMBUS_EVENT_LAYOUT_VERSION;
	t.h.size = sizeof(t);
	t.h.symbol_id = sym;
	t.h.event_time_ns = (int64_t)price;
	t.price = price;
	t.size = 1.0;
	return shmbus_publish(pp->p, &t);
}

static void pp_on_pong(const struct shmbus_event_header *ev, void *ctx)
{
	struct pp_party *pp = ctx;

	pp->price = ((const struct shmbus_trade *)(const void *)ev)->price;
	pp->got++;
}

/* B's handler: answer at once, from inside the poll (one event per poll). */
static void pp_on_ping(const struct shmbus_event_header *ev, void *ctx)
{
	struct pp_party *pp = ctx;

	if (pp_send(pp, PP_SYM_PONG, ((const struct shmbus_trade *)(const void *)ev)->price) != 1)
		pp->fails++;
	pp->got++;
}

static void pp_idle(struct pp_party *pp)
{
	if (pp->o->wait == SHMBUS_WAIT_SPIN)
		bench_relax();
	else
		shmbus_wait(pp->c, 1000000000);
}

/* Attach, subscribe `ring` to trades about `sym`, open a producer. */
static int pp_party_open(struct pp_party *pp, struct pp_child *ch, const char *who, int cpu,
                         const char *ring, uint32_t sym)
{
	struct shmbus_sub_opts so;
	struct shmbus_producer_opts po;
	char what[96];
	int rc;

	memset(pp, 0, sizeof(*pp));
	pp->o = ch->o;
	rc = bench_pin(cpu);
	snprintf(what, sizeof(what), "%s: pin to cpu %d", who, cpu);
	if (rc < 0)
		return bench_fail(&ch->sh->bar, what, rc);
	rc = shmbus_bus_open(ch->o->bus, who, SHMBUS_ROLE_SERVICE, &pp->bus);
	snprintf(what, sizeof(what), "%s: open bus %s", who, ch->o->bus);
	if (rc < 0)
		return bench_fail(&ch->sh->bar, what, rc);
	shmbus_sub_opts_init(&so);
	so.types = SHMBUS_TYPE_BIT(SHMBUS_EV_TRADE);
	so.symbols = &sym;
	so.nsymbols = 1;
	so.capacity = ch->o->capacity;
	so.slot_size = ch->o->slot_size;
	so.policy = SHMBUS_POLICY_BLOCK;
	so.wait = ch->o->wait;
	so.flags = ch->o->single_producer ? SHMBUS_SUB_SINGLE_PRODUCER : 0;
	rc = shmbus_subscribe(pp->bus, ring, &so, &pp->c);
	snprintf(what, sizeof(what), "%s: subscribe ring %s", who, ring);
	if (rc < 0)
		return bench_fail(&ch->sh->bar, what, rc);
	shmbus_producer_opts_init(&po);
	po.flags = ch->o->no_timestamp ? SHMBUS_PRODUCER_NO_TIMESTAMP : 0;
	if (ch->o->block_timeout_ns)
		po.block_timeout_ns = ch->o->block_timeout_ns;
	rc = shmbus_producer_open(pp->bus, &po, &pp->p);
	snprintf(what, sizeof(what), "%s: open producer", who);
	if (rc < 0)
		return bench_fail(&ch->sh->bar, what, rc);
	return 0;
}

static void pp_party_close(struct pp_party *pp)
{
	shmbus_producer_close(pp->p);
	shmbus_unsubscribe(pp->c);
	shmbus_bus_close(pp->bus);
}

static int pp_shmbus_a(void *arg)
{
	struct pp_child *ch = arg;
	const struct bench_opts *o = ch->o;
	uint64_t total = o->warmup + o->iterations;
	struct pp_party pp;
	char ring[32];

	snprintf(ring, sizeof(ring), "pong-r%d", ch->round);
	if (pp_party_open(&pp, ch, "bench-pp-a", o->cpus[0], ring, PP_SYM_PONG))
		return 1;
	if (bench_barrier_wait(&ch->sh->bar, 2) < 0)
		return 1;
	for (uint64_t i = 0; i < total; i++) {
		uint64_t t0 = bench_ticks(&o->clock), t1;

		if (pp_send(&pp, PP_SYM_PING, (double)i) != 1)
			return bench_fail(&ch->sh->bar, "bench-pp-a: publish to ring ping", -EPIPE);
		while (shmbus_poll(pp.c, pp_on_pong, &pp, 1) == 0)
			pp_idle(&pp);
		t1 = bench_ticks(&o->clock);
		if (pp.price != (double)i)
			atomic_fetch_add(&ch->sh->errors, 1);
		if (i >= o->warmup)
			ch->sh->samples[i - o->warmup] = t1 - t0;
	}
	pp_party_close(&pp);
	return 0;
}

static int pp_shmbus_b(void *arg)
{
	struct pp_child *ch = arg;
	const struct bench_opts *o = ch->o;
	uint64_t total = o->warmup + o->iterations;
	struct pp_party pp;
	char ring[32];

	snprintf(ring, sizeof(ring), "ping-r%d", ch->round);
	if (pp_party_open(&pp, ch, "bench-pp-b", o->cpus[1], ring, PP_SYM_PING))
		return 1;
	if (bench_barrier_wait(&ch->sh->bar, 2) < 0)
		return 1;
	while (pp.got < total) {
		if (shmbus_poll(pp.c, pp_on_ping, &pp, 1) == 0)
			pp_idle(&pp);
	}
	if (pp.fails)
		return bench_fail(&ch->sh->bar, "bench-pp-b: publish to ring pong", -EPIPE);
	pp_party_close(&pp);
	return 0;
}

/* The baseline spins with pause; under a non-spin --wait it yields
 * instead, so that it still finishes when its cores are shared. */
static void pp_base_idle(const struct bench_opts *o)
{
	if (o->wait == SHMBUS_WAIT_SPIN)
		bench_relax();
	else
		sched_yield();
}

static int pp_base_a(void *arg)
{
	struct pp_child *ch = arg;
	const struct bench_opts *o = ch->o;
	struct pp_shared *sh = ch->sh;
	uint64_t total = o->warmup + o->iterations;
	struct shmbus_trade t;

	int rc = bench_pin(o->cpus[0]);

	if (rc < 0)
		return bench_fail(&sh->bar, "baseline a: pin", rc);
	memset(&t, 0, sizeof(t));
	t.h.type = SHMBUS_EV_TRADE;
	t.h.size = sizeof(t);
	if (bench_barrier_wait(&sh->bar, 2) < 0)
		return 1;
	for (uint64_t i = 0; i < total; i++) {
		uint64_t t0 = bench_ticks(&o->clock), t1;
		double back;

		t.h.seq = i + 1;
		t.price = (double)i;
		memcpy(sh->ping.payload, &t, sizeof(t));
		/* R1: publishes the payload; pairs with B's acquire A1. */
		atomic_store_explicit(&sh->ping.seq, i + 1, memory_order_release);
		/* A2 pairs with B's release R2 of the reply. */
		while (atomic_load_explicit(&sh->pong.seq, memory_order_acquire) != i + 1)
			pp_base_idle(o);
		memcpy(&back, sh->pong.payload + offsetof(struct shmbus_trade, price),
		       sizeof(back));
		t1 = bench_ticks(&o->clock);
		if (back != (double)i)
			atomic_fetch_add(&sh->errors, 1);
		if (i >= o->warmup)
			sh->samples[i - o->warmup] = t1 - t0;
	}
	return 0;
}

static int pp_base_b(void *arg)
{
	struct pp_child *ch = arg;
	const struct bench_opts *o = ch->o;
	struct pp_shared *sh = ch->sh;
	uint64_t total = o->warmup + o->iterations;

	int rc = bench_pin(o->cpus[1]);

	if (rc < 0)
		return bench_fail(&sh->bar, "baseline b: pin", rc);
	if (bench_barrier_wait(&sh->bar, 2) < 0)
		return 1;
	for (uint64_t i = 0; i < total; i++) {
		/* A1 pairs with A's release R1. */
		while (atomic_load_explicit(&sh->ping.seq, memory_order_acquire) != i + 1)
			pp_base_idle(o);
		memcpy(sh->pong.payload, sh->ping.payload, sizeof(sh->pong.payload));
		/* R2: publishes the copy; pairs with A's acquire A2. */
		atomic_store_explicit(&sh->pong.seq, i + 1, memory_order_release);
	}
	return 0;
}

struct pp_shared *bench_pp_alloc(const struct bench_opts *o)
{
	return bench_shared_alloc(sizeof(struct pp_shared) + o->iterations * sizeof(uint64_t));
}

void bench_pp_free(const struct bench_opts *o, struct pp_shared *sh)
{
	bench_shared_free(sh, sizeof(struct pp_shared) + o->iterations * sizeof(uint64_t));
}

int bench_pp_round(const struct bench_opts *o, struct pp_shared *sh, int round,
                   enum bench_pp_kind kind, struct bench_lat *lat, struct shmbus_hist *h)
{
	int shmbus = kind == BENCH_PP_SHMBUS;
	struct pp_child ch = {.o = o, .sh = sh, .round = round};
	pid_t pids[2] = {0, 0};
	int rc;

	atomic_store(&sh->bar.arrived, 0);
	atomic_store(&sh->bar.abort, 0);
	atomic_store(&sh->errors, 0);
	atomic_store(&sh->ping.seq, 0);
	atomic_store(&sh->pong.seq, 0);
	rc = bench_spawn(&pids[0], shmbus ? pp_shmbus_a : pp_base_a, &ch);
	if (rc == 0)
		rc = bench_spawn(&pids[1], shmbus ? pp_shmbus_b : pp_base_b, &ch);
	rc = bench_round_wait(pids, 2, rc, o->timeout_s,
	                      shmbus ? "pingpong shmbus round" : "pingpong baseline round");
	if (rc != BENCH_EXIT_OK)
		return rc;
	return bench_rtt_summarise(&o->clock, "pingpong", atomic_load(&sh->errors), sh->samples,
	                           o->iterations, h, lat);
}

/* Median over rounds of shmbus/baseline for one percentile of the same
 * round: steadier than the ratio of medians when the VM's core distance
 * drifts between rounds. which: 0 = p50, 1 = p99. */
static double pp_paired(const struct bench_lat *bs, const struct bench_lat *sb, int n, int which)
{
	double v[BENCH_MAX_ROUNDS];

	for (int i = 0; i < n; i++) {
		int64_t b = which ? bs[i].p99 : bs[i].p50;
		int64_t x = which ? sb[i].p99 : sb[i].p50;

		v[i] = bench_ratio(x, b);
	}
	return bench_median(v, (size_t)n);
}

static const char *pp_verdict(double ratio, double target)
{
	return ratio <= target ? "met" : "MISSED";
}

static void pp_print_json(const struct bench_opts *o, const struct bench_lat *bs,
                          const struct bench_lat *sb, const struct bench_lat *mb,
                          const struct bench_lat *ms)
{
	double r50 = bench_ratio(ms->p50, mb->p50);
	double r99 = bench_ratio(ms->p99, mb->p99);

	bench_json_head(stdout, "pingpong", &o->machine, o->command);
	printf(",\"config\":{\"cpus\":[%d,%d],\"iterations\":%llu,\"warmup\":%llu,"
	       "\"rounds\":%d,\"slot_size\":%u,\"capacity\":%u,\"wait\":\"%s\",\"api\":\"%s\","
	       "\"single_producer\":%s,\"no_timestamp\":%s,\"clock\":\"%s\",\"ns_per_tick\":%.6f},",
	       o->cpus[0], o->cpus[1], (unsigned long long)o->iterations,
	       (unsigned long long)o->warmup, o->rounds, o->slot_size, o->capacity,
	       shmbus_wait_name(o->wait), o->api_claim ? "claim" : "publish",
	       o->single_producer ? "true" : "false", o->no_timestamp ? "true" : "false",
	       o->clock.tsc ? "tsc" : "monotonic", o->clock.ns_per_tick);
	bench_json_lat(stdout, ms);
	printf(",\"baseline\":{");
	bench_json_lat(stdout, mb);
	printf("}");
	bench_json_ratio(stdout, "ratio_p50", r50);
	bench_json_ratio(stdout, "ratio_p99", r99);
	bench_json_ratio(stdout, "ratio_p50_paired", pp_paired(bs, sb, o->rounds, 0));
	bench_json_ratio(stdout, "ratio_p99_paired", pp_paired(bs, sb, o->rounds, 1));
	printf(",\"targets\":{\"ratio_p50_max\":1.2,\"ratio_p99_max\":2.0,\"p50\":\"%s\","
	       "\"p99\":\"%s\"},\"rounds\":[",
	       pp_verdict(r50, 1.2), pp_verdict(r99, 2.0));
	for (int r = 0; r < o->rounds; r++) {
		printf("%s{\"round\":%d,\"kind\":\"baseline\",", r ? "," : "", r + 1);
		bench_json_lat(stdout, &bs[r]);
		printf("},{\"round\":%d,\"kind\":\"shmbus\",", r + 1);
		bench_json_lat(stdout, &sb[r]);
		printf("}");
	}
	printf("]}\n");
}

static void pp_row(const char *label, const struct bench_lat *l)
{
	bench_lat_row(16, label, l);
}

static void pp_print_table(const struct bench_opts *o, const struct bench_lat *bs,
                           const struct bench_lat *sb, const struct bench_lat *mb,
                           const struct bench_lat *ms)
{
	double r50 = bench_ratio(ms->p50, mb->p50);
	double r99 = bench_ratio(ms->p99, mb->p99);
	char label[32];

	bench_print_machine(stdout, &o->machine, o->command, &o->clock);
	printf("pingpong: cpus %d,%d, %llu round trips (+%llu warmup) x %d rounds, slot %u, "
	       "capacity %u, wait %s, api %s%s%s\n\n",
	       o->cpus[0], o->cpus[1], (unsigned long long)o->iterations,
	       (unsigned long long)o->warmup, o->rounds, o->slot_size, o->capacity,
	       shmbus_wait_name(o->wait), o->api_claim ? "claim" : "publish",
	       o->single_producer ? ", single-producer rings" : "",
	       o->no_timestamp ? ", no publish timestamp" : "");
	printf("  round trip (ns)       min      p50      p90      p99     p99.9        max       "
	       "mean\n");
	for (int r = 0; r < o->rounds; r++) {
		snprintf(label, sizeof(label), "r%d baseline", r + 1);
		pp_row(label, &bs[r]);
		snprintf(label, sizeof(label), "r%d shmbus", r + 1);
		pp_row(label, &sb[r]);
	}
	printf("\n");
	pp_row("median baseline", mb);
	pp_row("median shmbus", ms);
	printf("\n  ratio p50 %.3g (target <= 1.2: %s), ratio p99 %.3g (target <= 2.0: %s)\n", r50,
	       pp_verdict(r50, 1.2), r99, pp_verdict(r99, 2.0));
	printf("  per-round paired ratios (median): p50 %.3g, p99 %.3g\n",
	       pp_paired(bs, sb, o->rounds, 0), pp_paired(bs, sb, o->rounds, 1));
}

/* --hgrm: every round's round trips of each kind, merged (ns). */
static int pp_write_hgrm(const struct bench_opts *o, struct shmbus_hist *const *h)
{
	int rc = bench_hs_write_hgrm(o->hgrm_dir, "pingpong-cacheline", h[0]);

	if (rc == BENCH_EXIT_OK)
		rc = bench_hs_write_hgrm(o->hgrm_dir, "pingpong-shmbus", h[1]);
	if (rc == BENCH_EXIT_OK && !o->json)
		printf("  histograms (ns, all rounds merged): %s/pingpong-{shmbus,cacheline}.hgrm\n",
		       o->hgrm_dir);
	return rc;
}

int bench_pingpong_run(const struct bench_opts *o)
{
	struct bench_lat *bs = calloc((size_t)o->rounds * 2, sizeof(*bs));
	struct bench_lat *sb = bs ? bs + o->rounds : NULL;
	struct bench_lat mb, ms;
	struct pp_shared *sh = bench_pp_alloc(o);
	struct shmbus_hist *h[2] = {NULL, NULL}; /* cacheline, shmbus; with --hgrm */
	int rc = BENCH_EXIT_OK;

	if (!sh || !bs ||
	    (o->hgrm_dir && (bench_hs_create(&h[0]) < 0 || bench_hs_create(&h[1]) < 0))) {
		bench_err("pingpong", "cannot allocate %llu samples",
		          (unsigned long long)o->iterations);
		free(bs);
		if (sh)
			bench_pp_free(o, sh);
		shmbus_hist_destroy(h[0]);
		shmbus_hist_destroy(h[1]);
		return BENCH_EXIT_FAIL;
	}
	/* bench_pp_round adds each round's samples to h: merged over rounds. */
	for (int r = 0; r < o->rounds && rc == BENCH_EXIT_OK; r++) {
		rc = bench_pp_round(o, sh, r + 1, BENCH_PP_CACHELINE, &bs[r], h[0]);
		if (rc == BENCH_EXIT_OK)
			rc = bench_pp_round(o, sh, r + 1, BENCH_PP_SHMBUS, &sb[r], h[1]);
	}
	if (rc == BENCH_EXIT_OK) {
		bench_lat_median(bs, o->rounds, &mb);
		bench_lat_median(sb, o->rounds, &ms);
		if (o->json)
			pp_print_json(o, bs, sb, &mb, &ms);
		else
			pp_print_table(o, bs, sb, &mb, &ms);
		if (o->hgrm_dir)
			rc = pp_write_hgrm(o, h);
	}
	shmbus_hist_destroy(h[0]);
	shmbus_hist_destroy(h[1]);
	free(bs);
	bench_pp_free(o, sh);
	return rc;
}
