/*
 * throughput.c - events per second through one shmbus ring from P
 * producer processes to one consumer, against a hand-written SPSC ring
 * moving the same 56-byte trades between the same two pinned processes.
 *
 * Design: the consumer runs on the last cpu of --cpus, the producers
 * round-robin over the others (over all of them when only one is given).
 * Every party is a fresh process per round; they meet at a barrier after
 * attaching and subscribing, so setup is never timed. Producer i publishes
 * its share of the events as source TP_SOURCE_BASE(round) + i + 1, price
 * == seq; the consumer
 * checks every event (tput_verify.h: losses, duplicates, order, payload)
 * and times from the barrier to the last event. Per-producer rates are
 * each producer's events over its own publishing time. Rounds alternate
 * SPSC baseline and shmbus and the report takes medians. With more
 * parties than cpus the ring's wait strategy defaults to adaptive (a
 * process that shares a core must not spin); otherwise to spin.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <shmbus/shmbus.h>

#include "bench.h"
#include "spsc_baseline.h"
#include "tput_verify.h"

/* Source ids of round r's producers start above this: the bus goes on
 * from a reused source id's last seq, and each round counts from 1. */
#define TP_SOURCE_BASE(r) ((uint32_t)(r) * BENCH_MAX_PRODUCERS)

#define TP_POLL_BATCH 256

struct tp_prod_result {
	int64_t t_start, t_end;
	uint64_t published;
	uint64_t undelivered;             /* publish returned 0 rings or an error */
	int last_rc;                      /* the last such return code */
	double clock_ns;                  /* one shmbus_now_ns() on its core */
	struct shmbus_producer_stat stat; /* the bus's counters for it */
};

struct tp_round {
	double eps;
	double clock_ns; /* producer 0's shmbus_now_ns() cost, this round */
	double per_producer[BENCH_MAX_PRODUCERS];
	uint64_t lost, duplicates, out_of_order, corrupt, foreign, undelivered;
};

struct tp_shared {
	struct bench_barrier bar;
	_Atomic uint32_t producers_done;
	int64_t t_start, t_end; /* consumer's */
	struct tp_round cons;
	struct tp_prod_result prod[BENCH_MAX_PRODUCERS];
	struct spsc_ring *spsc; /* separate shared mapping */
};

struct tp_child {
	const struct bench_opts *o;
	struct tp_shared *sh;
	int round;
	uint32_t index; /* producer index */
	uint64_t expected[BENCH_MAX_PRODUCERS];
};

static int tp_consumer_cpu(const struct bench_opts *o)
{
	return o->cpus[o->ncpus - 1];
}

static int tp_producer_cpu(const struct bench_opts *o, uint32_t i)
{
	int n = o->ncpus > 1 ? o->ncpus - 1 : 1;

	return o->cpus[i % (uint32_t)n];
}

static void tp_store_verify(struct tp_shared *sh, const struct tv_state *v)
{
	sh->cons.lost = tv_lost(v);
	sh->cons.duplicates = v->duplicates;
	sh->cons.out_of_order = v->out_of_order;
	sh->cons.corrupt = v->corrupt;
	sh->cons.foreign = v->foreign;
}

static int tp_spsc_producer(void *arg)
{
	struct tp_child *ch = arg;
	struct tp_shared *sh = ch->sh;
	int rc = bench_pin(tp_producer_cpu(ch->o, 0));

	if (rc < 0)
		return bench_fail(&sh->bar, "spsc producer: pin", rc);
	spsc_ring_prefault(sh->spsc);
	if (bench_barrier_wait(&sh->bar, 2) < 0)
		return 1;
	sh->prod[0].t_start = shmbus_mono_ns();
	spsc_produce(sh->spsc, ch->expected[0], ch->o->baseline_stamp);
	sh->prod[0].t_end = shmbus_mono_ns();
	sh->prod[0].published = ch->expected[0];
	return 0;
}

static int tp_spsc_consumer(void *arg)
{
	struct tp_child *ch = arg;
	struct tp_shared *sh = ch->sh;
	struct tv_state v;
	int rc = bench_pin(tp_consumer_cpu(ch->o));

	if (rc < 0)
		return bench_fail(&sh->bar, "spsc consumer: pin", rc);
	if (tv_init(&v, 1, ch->expected) < 0)
		return bench_fail(&sh->bar, "spsc consumer: bitmap", -ENOMEM);
	spsc_ring_prefault(sh->spsc);
	if (bench_barrier_wait(&sh->bar, 2) < 0)
		return 1;
	sh->t_start = shmbus_mono_ns();
	spsc_consume(sh->spsc, ch->expected[0], &v);
	sh->t_end = shmbus_mono_ns();
	tp_store_verify(sh, &v);
	tv_free(&v);
	return 0;
}

/* The trade the throughput scenario sends as number seq (price == seq). */
static void tp_trade(struct shmbus_trade *t, uint64_t seq)
{
	memset(t, 0, sizeof(*t));
	t->h.type = SHMBUS_EV_TRADE;
	t->h.version = SHMBUS_EVENT_LAYOUT_VERSION;
	t->h.size = sizeof(*t);
	t->h.symbol_id = 1;
	t->h.event_time_ns = (int64_t)seq;
	t->price = (double)seq;
	t->size = 1.0;
}

/* Publish trades first..last with shmbus_publish_batch(), batch at a time;
 * counts in *undelivered the events no ring took. */
static void tp_send_batches(shmbus_producer *p, uint32_t batch, uint64_t last,
                            struct tp_prod_result *res)
{
	struct shmbus_trade *t = calloc(batch, sizeof(*t));
	const void **evs = calloc(batch, sizeof(*evs));

	if (!t || !evs) {
		res->undelivered = last;
		res->last_rc = -ENOMEM;
		goto out;
	}
	for (uint32_t i = 0; i < batch; i++) {
		tp_trade(&t[i], 0);
		evs[i] = &t[i];
	}
	for (uint64_t seq = 1; seq <= last;) {
		uint32_t n = last - seq + 1 < batch ? (uint32_t)(last - seq + 1) : batch;

		/* A feed handler decoding into a reused array: only what
		 * changes from one trade to the next is written. */
		for (uint32_t i = 0; i < n; i++) {
			t[i].h.event_time_ns = (int64_t)(seq + i);
			t[i].price = (double)(seq + i);
		}
		int sent = shmbus_publish_batch(p, evs, n);

		if (sent != (int)n) {
			res->undelivered += sent < 0 ? n : n - (uint32_t)sent;
			res->last_rc = sent;
		}
		seq += n;
	}
out:
	free(t);
	free(evs);
}

static int tp_send(shmbus_producer *p, int claim, uint64_t seq)
{
	struct shmbus_trade t;

	if (claim) {
		void *ev;
		struct shmbus_trade *tp;
		int rc = shmbus_claim(p, SHMBUS_EV_TRADE, 1, sizeof(t), &ev);

		if (rc < 0)
			return rc;
		tp = ev;
		tp->h.event_time_ns = (int64_t)seq;
		tp->price = (double)seq;
		tp->size = 1.0;
		return shmbus_commit(p);
	}
	tp_trade(&t, seq);
	return shmbus_publish(p, &t);
}

/* The bus's counters of this process's producer (to explain losses). */
static void tp_own_stat(shmbus_bus *bus, struct shmbus_producer_stat *out)
{
	for (uint32_t i = 0; i < 4096; i++) {
		int rc = shmbus_stat_producer(bus, i, out);

		if (rc == -ERANGE)
			break;
		if (rc == 0 && out->pid == (int32_t)getpid())
			return;
	}
	memset(out, 0, sizeof(*out));
}

/*
 * What one shmbus_now_ns() costs on this core (ns), measured before the
 * barrier: shmbus_publish() reads the clock once per event and
 * shmbus_publish_batch() once per call, so it is a floor under the
 * one-event-per-call rate that no ring design removes (--no-timestamp
 * does). Each read is chained to the last, as a stamp feeds a store.
 */
static double tp_clock_cost(void)
{
	enum { N = 200000 };
	int64_t acc = 0, t0 = shmbus_mono_ns();

	for (int i = 0; i < N; i++) {
		acc += shmbus_now_ns();
		__asm__ __volatile__("" : "+r"(acc));
	}
	return (double)(shmbus_mono_ns() - t0) / N;
}

static int tp_shmbus_producer(void *arg)
{
	struct tp_child *ch = arg;
	struct tp_shared *sh = ch->sh;
	struct tp_prod_result *res = &sh->prod[ch->index];
	struct shmbus_producer_opts po;
	shmbus_producer *p;
	shmbus_bus *bus;
	char name[32];
	int rc = bench_pin(tp_producer_cpu(ch->o, ch->index));

	if (rc < 0)
		return bench_fail(&sh->bar, "producer: pin", rc);
	snprintf(name, sizeof(name), "bench-tp-p%u", ch->index);
	rc = shmbus_bus_open(ch->o->bus, name, SHMBUS_ROLE_PRODUCER, &bus);
	if (rc < 0)
		return bench_fail(&sh->bar, "producer: open bus", rc);
	shmbus_producer_opts_init(&po);
	po.source_id = TP_SOURCE_BASE(ch->round) + ch->index + 1;
	po.flags = ch->o->no_timestamp ? SHMBUS_PRODUCER_NO_TIMESTAMP : 0;
	if (ch->o->block_timeout_ns)
		po.block_timeout_ns = ch->o->block_timeout_ns;
	rc = shmbus_producer_open(bus, &po, &p);
	if (rc < 0)
		return bench_fail(&sh->bar, "producer: open producer", rc);
	res->clock_ns = tp_clock_cost();
	if (bench_barrier_wait(&sh->bar, ch->o->producers + 1) < 0)
		return 1;
	res->t_start = shmbus_mono_ns();
	if (ch->o->producer_batch > 1)
		tp_send_batches(p, ch->o->producer_batch, ch->expected[ch->index], res);
	for (uint64_t seq = 1; ch->o->producer_batch <= 1 && seq <= ch->expected[ch->index];
	     seq++) {
		int sent = tp_send(p, ch->o->api_claim, seq);

		if (sent != 1) {
			res->undelivered++;
			res->last_rc = sent;
		}
	}
	res->t_end = shmbus_mono_ns();
	res->published = ch->expected[ch->index];
	tp_own_stat(bus, &res->stat);
	atomic_fetch_add(&sh->producers_done, 1);
	shmbus_producer_close(p);
	shmbus_bus_close(bus);
	return 0;
}

static void tp_on_event(const struct shmbus_event_header *ev, void *ctx)
{
	tv_check(ctx, (const struct shmbus_trade *)(const void *)ev);
}

/* Poll until every event came, or the producers are done and it is dry. */
static void tp_consume(const struct bench_opts *o, struct tp_shared *sh, shmbus_consumer *c,
                       struct tv_state *v)
{
	int dry = 0;

	unsigned batch = o->consumer_batch;

	while (v->received < o->events) {
		/* A batching consumer waits for a whole batch (or the linger)
		 * before each poll and takes at most that batch: polling on
		 * until the ring is empty would read the slots the producer is
		 * still writing and pull their lines away from it, event after
		 * event. 2 us linger: a trickle is still delivered promptly. */
		if (batch > 1 && shmbus_wait_batch(c, batch, 2000, 1000000) != 0 &&
		    atomic_load_explicit(&sh->producers_done, memory_order_acquire) !=
		        o->producers)
			continue;
		if (shmbus_poll(c, tp_on_event, v, batch > 1 ? batch : TP_POLL_BATCH) > 0) {
			dry = 0;
			continue;
		}
		if (atomic_load_explicit(&sh->producers_done, memory_order_acquire) ==
		    o->producers) {
			if (++dry > 1000)
				break;
		} else if (batch <= 1 && o->wait != SHMBUS_WAIT_SPIN) {
			shmbus_wait(c, 1000000);
		} else if (batch <= 1) {
			bench_relax();
		}
	}
}

static int tp_shmbus_consumer(void *arg)
{
	struct tp_child *ch = arg;
	const struct bench_opts *o = ch->o;
	struct tp_shared *sh = ch->sh;
	struct shmbus_sub_opts so;
	shmbus_consumer *c;
	shmbus_bus *bus;
	struct tv_state v;
	char ring[32];
	int rc = bench_pin(tp_consumer_cpu(o));

	if (rc < 0)
		return bench_fail(&sh->bar, "consumer: pin", rc);
	rc = shmbus_bus_open(o->bus, "bench-tp-c", SHMBUS_ROLE_CONSUMER, &bus);
	if (rc < 0)
		return bench_fail(&sh->bar, "consumer: open bus", rc);
	shmbus_sub_opts_init(&so);
	so.types = SHMBUS_TYPE_BIT(SHMBUS_EV_TRADE);
	so.capacity = o->capacity;
	so.slot_size = o->slot_size;
	so.policy = SHMBUS_POLICY_BLOCK;
	so.wait = o->wait;
	so.flags = o->single_producer ? SHMBUS_SUB_SINGLE_PRODUCER : 0;
	snprintf(ring, sizeof(ring), "tput-r%d", ch->round);
	rc = shmbus_subscribe(bus, ring, &so, &c);
	if (rc < 0)
		return bench_fail(&sh->bar, "consumer: subscribe", rc);
	if (tv_init(&v, o->producers, ch->expected) < 0)
		return bench_fail(&sh->bar, "consumer: bitmap", -ENOMEM);
	v.source_base = TP_SOURCE_BASE(ch->round);
	if (bench_barrier_wait(&sh->bar, o->producers + 1) < 0)
		return 1;
	sh->t_start = shmbus_mono_ns();
	tp_consume(o, sh, c, &v);
	sh->t_end = shmbus_mono_ns();
	tp_store_verify(sh, &v);
	tv_free(&v);
	shmbus_unsubscribe(c);
	shmbus_bus_close(bus);
	return 0;
}

static void tp_reset(struct tp_shared *sh)
{
	atomic_store(&sh->bar.arrived, 0);
	atomic_store(&sh->bar.abort, 0);
	atomic_store(&sh->producers_done, 0);
	sh->t_start = sh->t_end = 0;
	memset(&sh->cons, 0, sizeof(sh->cons));
	memset(sh->prod, 0, sizeof(sh->prod));
}

/* Fork the parties of one round and wait for them. */
static int tp_spawn_round(const struct bench_opts *o, struct tp_child *ch, int shmbus)
{
	uint32_t nprod = shmbus ? o->producers : 1;
	pid_t pids[BENCH_MAX_PRODUCERS + 1] = {0};
	struct tp_child kids[BENCH_MAX_PRODUCERS];
	int rc = bench_spawn(&pids[0], shmbus ? tp_shmbus_consumer : tp_spsc_consumer, ch);

	for (uint32_t i = 0; i < nprod && rc == 0; i++) {
		kids[i] = *ch;
		kids[i].index = i;
		rc = bench_spawn(&pids[i + 1], shmbus ? tp_shmbus_producer : tp_spsc_producer,
		                 &kids[i]);
	}
	return bench_round_wait(pids, (int)nprod + 1, rc, o->timeout_s,
	                        shmbus ? "throughput shmbus round" : "throughput spsc round");
}

static int tp_round(const struct bench_opts *o, struct tp_shared *sh, int round, int shmbus,
                    struct tp_round *out)
{
	struct tp_child ch = {.o = o, .sh = sh, .round = round};
	uint32_t nprod = shmbus ? o->producers : 1;
	int rc;

	for (uint32_t i = 0; i < nprod; i++)
		ch.expected[i] = o->events / nprod + (i < o->events % nprod);
	tp_reset(sh);
	if (!shmbus)
		spsc_ring_init(sh->spsc, o->capacity, o->spsc_batch);
	rc = tp_spawn_round(o, &ch, shmbus);
	if (rc != BENCH_EXIT_OK)
		return rc;
	*out = sh->cons;
	/* As per producer below: a clock too coarse to see the round (0 ns)
	 * gave inf, which the JSON wrote as a bare "inf". */
	int64_t span = sh->t_end - sh->t_start;
	out->eps = span > 0 ? (double)o->events * 1e9 / (double)span : 0;
	out->clock_ns = shmbus ? sh->prod[0].clock_ns : 0;
	for (uint32_t i = 0; i < nprod; i++) {
		int64_t d = sh->prod[i].t_end - sh->prod[i].t_start;

		out->per_producer[i] = d > 0 ? (double)sh->prod[i].published * 1e9 / (double)d : 0;
		out->undelivered += sh->prod[i].undelivered;
		if (sh->prod[i].undelivered)
			bench_err(
			    "throughput",
			    "round %d: producer %u: %llu events not delivered "
			    "(last publish returned %d; bus counters: published %llu, "
			    "delivered %llu, dropped %llu, routed around %llu, unrouted %llu)",
			    round, i, (unsigned long long)sh->prod[i].undelivered,
			    sh->prod[i].last_rc, (unsigned long long)sh->prod[i].stat.published,
			    (unsigned long long)sh->prod[i].stat.delivered,
			    (unsigned long long)sh->prod[i].stat.dropped,
			    (unsigned long long)sh->prod[i].stat.routed_around,
			    (unsigned long long)sh->prod[i].stat.unrouted);
	}
	return BENCH_EXIT_OK;
}

struct tp_summary {
	double eps, spsc, ratio;
	double ratio_paired; /* median over rounds of shmbus/spsc of that round */
	double clock_ns;     /* median over rounds of one clock read's cost */
	double per_producer[BENCH_MAX_PRODUCERS];
	uint64_t lost, duplicates, out_of_order, corrupt, foreign, undelivered;
	uint64_t spsc_errors;
};

static void tp_summarise(const struct bench_opts *o, const struct tp_round *sp,
                         const struct tp_round *sb, struct tp_summary *s)
{
	double v[BENCH_MAX_ROUNDS];

	memset(s, 0, sizeof(*s));
	for (int r = 0; r < o->rounds; r++)
		v[r] = sp[r].eps;
	s->spsc = bench_median(v, (size_t)o->rounds);
	for (int r = 0; r < o->rounds; r++)
		v[r] = sb[r].eps;
	s->eps = bench_median(v, (size_t)o->rounds);
	for (uint32_t i = 0; i < o->producers; i++) {
		for (int r = 0; r < o->rounds; r++)
			v[r] = sb[r].per_producer[i];
		s->per_producer[i] = bench_median(v, (size_t)o->rounds);
	}
	for (int r = 0; r < o->rounds; r++) {
		s->lost += sb[r].lost;
		s->duplicates += sb[r].duplicates;
		s->out_of_order += sb[r].out_of_order;
		s->corrupt += sb[r].corrupt;
		s->foreign += sb[r].foreign;
		s->undelivered += sb[r].undelivered;
		s->spsc_errors += sp[r].lost + sp[r].duplicates + sp[r].out_of_order +
		                  sp[r].corrupt + sp[r].foreign;
	}
	for (int r = 0; r < o->rounds; r++)
		v[r] = sb[r].clock_ns;
	s->clock_ns = bench_median(v, (size_t)o->rounds);
	s->ratio = s->spsc > 0 ? s->eps / s->spsc : 0;
	for (int r = 0; r < o->rounds; r++)
		v[r] = sp[r].eps > 0 ? sb[r].eps / sp[r].eps : 0;
	s->ratio_paired = bench_median(v, (size_t)o->rounds);
}

static void tp_json_round(const char *kind, int r, const struct tp_round *x, uint32_t nprod)
{
	printf("{\"round\":%d,\"kind\":\"%s\",\"events_per_sec\":%.0f,\"lost\":%llu,"
	       "\"duplicates\":%llu,\"out_of_order\":%llu,\"corrupt\":%llu,\"per_producer\":[",
	       r + 1, kind, x->eps, (unsigned long long)x->lost, (unsigned long long)x->duplicates,
	       (unsigned long long)x->out_of_order, (unsigned long long)x->corrupt);
	for (uint32_t i = 0; i < nprod; i++)
		printf("%s%.0f", i ? "," : "", x->per_producer[i]);
	printf("]}");
}

/* The target: one producer against the plain SPSC baseline. */
static int tp_target_applies(const struct bench_opts *o)
{
	return o->producers == 1 && !o->baseline_stamp;
}

static void tp_print_json(const struct bench_opts *o, const struct tp_round *sp,
                          const struct tp_round *sb, const struct tp_summary *s)
{
	bench_json_head(stdout, "throughput", &o->machine, o->command);
	printf(",\"config\":{\"cpus\":[");
	for (int i = 0; i < o->ncpus; i++)
		printf("%s%d", i ? "," : "", o->cpus[i]);
	printf("],\"producers\":%u,\"events\":%llu,\"rounds\":%d,\"slot_size\":%u,"
	       "\"capacity\":%u,\"wait\":\"%s\",\"api\":\"%s\",\"single_producer\":%s,"
	       "\"no_timestamp\":%s,\"poll_batch\":%d,\"spsc_batch\":%u,\"consumer_batch\":%u,"
	       "\"producer_batch\":%u,\"baseline_stamp\":%s},",
	       o->producers, (unsigned long long)o->events, o->rounds, o->slot_size, o->capacity,
	       shmbus_wait_name(o->wait), o->api_claim ? "claim" : "publish",
	       o->single_producer ? "true" : "false", o->no_timestamp ? "true" : "false",
	       TP_POLL_BATCH, o->spsc_batch, o->consumer_batch, o->producer_batch,
	       o->baseline_stamp ? "true" : "false");
	printf("\"events_per_sec\":%.0f,\"lost\":%llu,\"duplicates\":%llu,\"out_of_order\":%llu,"
	       "\"corrupt\":%llu,\"foreign\":%llu,\"undelivered\":%llu,\"per_producer\":[",
	       s->eps, (unsigned long long)s->lost, (unsigned long long)s->duplicates,
	       (unsigned long long)s->out_of_order, (unsigned long long)s->corrupt,
	       (unsigned long long)s->foreign, (unsigned long long)s->undelivered);
	for (uint32_t i = 0; i < o->producers; i++)
		printf("%s%.0f", i ? "," : "", s->per_producer[i]);
	printf("],\"clock_read_ns\":%.1f", s->clock_ns);
	printf(",\"baseline_spsc\":%.0f,\"baseline_spsc_errors\":%llu", s->spsc,
	       (unsigned long long)s->spsc_errors);
	bench_json_ratio(stdout, "ratio", s->ratio);
	bench_json_ratio(stdout, "ratio_paired", s->ratio_paired);
	printf(",\"target\":{\"ratio_min\":0.8,\"applies\":%s,\"result\":\"%s\"},\"rounds\":[",
	       tp_target_applies(o) ? "true" : "false", s->ratio >= 0.8 ? "met" : "MISSED");
	for (int r = 0; r < o->rounds; r++) {
		printf("%s", r ? "," : "");
		tp_json_round("spsc", r, &sp[r], 1);
		printf(",");
		tp_json_round("shmbus", r, &sb[r], o->producers);
	}
	printf("]}\n");
}

static void tp_print_table(const struct bench_opts *o, const struct tp_round *sp,
                           const struct tp_round *sb, const struct tp_summary *s)
{
	bench_print_machine(stdout, &o->machine, o->command, NULL);
	printf("throughput: %u producer(s), consumer on cpu %d, %llu events x %d rounds, slot %u, "
	       "capacity %u, wait %s, api %s%s%s, spsc batch %u, consumer batch %u, "
	       "producer batch %u%s\n\n",
	       o->producers, tp_consumer_cpu(o), (unsigned long long)o->events, o->rounds,
	       o->slot_size, o->capacity, shmbus_wait_name(o->wait),
	       o->api_claim ? "claim" : "publish",
	       o->single_producer ? ", single-producer ring" : "",
	       o->no_timestamp ? ", no publish timestamp" : "", o->spsc_batch, o->consumer_batch,
	       o->producer_batch,
	       o->baseline_stamp ? ", SPSC baseline stamps each event (raw TSC)" : "");
	printf("  round  spsc Mev/s  shmbus Mev/s  lost  dups  ooo  corrupt  per-producer Mev/s\n");
	for (int r = 0; r < o->rounds; r++) {
		printf("  %5d  %10.2f  %12.2f  %4llu  %4llu  %3llu  %7llu ", r + 1, sp[r].eps / 1e6,
		       sb[r].eps / 1e6, (unsigned long long)sb[r].lost,
		       (unsigned long long)sb[r].duplicates, (unsigned long long)sb[r].out_of_order,
		       (unsigned long long)sb[r].corrupt);
		for (uint32_t i = 0; i < o->producers; i++)
			printf(" %.2f", sb[r].per_producer[i] / 1e6);
		printf("\n");
	}
	printf("\n  median: spsc %.2f Mev/s, shmbus %.2f Mev/s, ratio %.3g (per-round paired %.3g)",
	       s->spsc / 1e6, s->eps / 1e6, s->ratio, s->ratio_paired);
	if (tp_target_applies(o))
		printf(" (target >= 0.8: %s)", s->ratio >= 0.8 ? "met" : "MISSED");
	printf("\n  clock: one shmbus_now_ns() costs %.1f ns on the producer's core (read once per "
	       "shmbus_publish, once per batch call)",
	       s->clock_ns);
	printf("\n  shmbus totals over rounds: lost %llu, duplicates %llu, out of order %llu, "
	       "corrupt %llu, undelivered %llu; spsc check errors %llu\n",
	       (unsigned long long)s->lost, (unsigned long long)s->duplicates,
	       (unsigned long long)s->out_of_order, (unsigned long long)s->corrupt,
	       (unsigned long long)s->undelivered, (unsigned long long)s->spsc_errors);
}

int bench_throughput_run(const struct bench_opts *o)
{
	size_t rb = spsc_ring_bytes(o->capacity);
	struct tp_shared *sh = bench_shared_alloc(sizeof(*sh));
	struct tp_round *sp = calloc((size_t)o->rounds * 2, sizeof(*sp));
	struct tp_round *sb = sp ? sp + o->rounds : NULL;
	struct tp_summary s;
	int rc = BENCH_EXIT_OK;

	if (sh)
		sh->spsc = bench_baseline_alloc(&rb);
	if (!sh || !sp || !sh->spsc) {
		bench_err("throughput", "cannot allocate shared memory (%zu bytes)", rb);
		rc = BENCH_EXIT_FAIL;
	}
	for (int r = 0; r < o->rounds && rc == BENCH_EXIT_OK; r++) {
		rc = tp_round(o, sh, r + 1, 0, &sp[r]);
		if (rc == BENCH_EXIT_OK)
			rc = tp_round(o, sh, r + 1, 1, &sb[r]);
	}
	if (rc == BENCH_EXIT_OK) {
		tp_summarise(o, sp, sb, &s);
		if (o->json)
			tp_print_json(o, sp, sb, &s);
		else
			tp_print_table(o, sp, sb, &s);
		if (s.lost || s.duplicates || s.corrupt || s.foreign || s.spsc_errors) {
			bench_err("throughput", "events were lost, duplicated or corrupted");
			rc = BENCH_EXIT_FAIL;
		}
	}
	if (sh)
		bench_shared_free(sh->spsc, rb);
	bench_shared_free(sh, sizeof(*sh));
	free(sp);
	return rc;
}
