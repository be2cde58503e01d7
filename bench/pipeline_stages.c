/*
 * pipeline_stages.c - the ta and threshold stages of the pipeline
 * scenario (see pipeline_bench.c for the whole design), and the transport
 * every stage uses: shmbus (one ring per stage, subscribed by type, and a
 * producer) or the line rings of the baseline, in a chain 0 -> 1 -> 2 -> 0.
 * The ta stage drives services/ta's bar builder and indicators exactly as
 * shmbus-ta does; the threshold stage services/threshold's parser and
 * evaluator exactly as shmbus-threshold does. Both publish by copy
 * (shmbus_publish) so that the shmbus and line-ring runs do the same work.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <math.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>

#include "pipeline_bench.h"
#include "rules.h"
#include "ta_state.h"
#include "threshold_eval.h"
#include "threshold_inputs.h"

#define PL_MAX_FIRES 8

const char pl_rules[] = "rule up: ema1 crosses_above 101\n"
                        "rule down: ema1 crosses_below 101\n"
                        "rule hot: rsi14 > 99\n"
                        "rule band: close > bb_upper\n";

int pl_fail(struct pl_shared *sh, const char *what, int rc)
{
	atomic_store(&sh->bar.abort, 1);
	bench_err(what, "%s%s%s", shmbus_strerror(rc), shmbus_errmsg()[0] ? ": " : "",
	          shmbus_errmsg());
	return 1;
}

/* Attach stage `stage` (0 collector, 1 ta, 2 threshold): pin, and over
 * shmbus open the bus, subscribe its input ring to `types`, open a
 * producer; over line rings take ring `stage` in and `stage + 1` out. */
int pl_io_open(struct pl_child *ch, struct pl_io *io, int stage, uint64_t types)
{
	static const char *const who[3] = {"collector", "ta", "threshold"};
	const struct bench_opts *o = ch->o;
	struct shmbus_producer_opts po;
	struct shmbus_sub_opts so;
	uint32_t sym = PL_SYM;
	char name[48];
	int rc;

	memset(io, 0, sizeof(*io));
	io->o = o;
	io->shmbus = ch->shmbus;
	rc = bench_pin(pl_cpu(o, stage));
	if (rc < 0)
		return pl_fail(ch->sh, who[stage], rc);
	if (o->wait != SHMBUS_WAIT_SPIN)
		prctl(PR_SET_TIMERSLACK, 1000UL, 0, 0, 0); /* 1 us, not 50 */
	if (!io->shmbus) {
		io->in = (struct lr_cons){.r = ch->sh->ring[(stage + 2) % PL_RINGS]};
		io->out = (struct lr_prod){.r = ch->sh->ring[stage]};
		return 0;
	}
	snprintf(name, sizeof(name), "bench-pl-%s", who[stage]);
	rc = shmbus_bus_open(o->bus, name, SHMBUS_ROLE_SERVICE, &io->bus);
	if (rc < 0)
		return pl_fail(ch->sh, who[stage], rc);
	shmbus_sub_opts_init(&so);
	so.types = types;
	so.symbols = &sym;
	so.nsymbols = 1;
	so.capacity = o->capacity;
	so.slot_size = o->slot_size;
	so.policy = SHMBUS_POLICY_BLOCK;
	so.wait = o->wait;
	so.flags = o->single_producer ? SHMBUS_SUB_SINGLE_PRODUCER : 0;
	snprintf(name, sizeof(name), "pl-r%d-%s", ch->round, who[stage]);
	rc = shmbus_subscribe(io->bus, name, &so, &io->c);
	if (rc < 0)
		return pl_fail(ch->sh, who[stage], rc);
	shmbus_producer_opts_init(&po);
	po.source_id = (uint32_t)stage + 1;
	if (o->block_timeout_ns)
		po.block_timeout_ns = o->block_timeout_ns;
	rc = shmbus_producer_open(io->bus, &po, &io->p);
	if (rc < 0)
		return pl_fail(ch->sh, who[stage], rc);
	return 0;
}

void pl_io_close(struct pl_io *io)
{
	if (!io->shmbus)
		return;
	shmbus_producer_close(io->p);
	shmbus_unsubscribe(io->c);
	shmbus_bus_close(io->bus);
}

/* Publish ev (header filled but for identity and stamp). Returns 0, or -1
 * when it did not reach exactly one ring. */
int pl_emit(struct pl_io *io, void *ev)
{
	struct shmbus_event_header *h = ev;
	void *slot;

	if (io->shmbus)
		return shmbus_publish(io->p, ev) == 1 ? 0 : -1;
	h->seq = ++io->seq;
	h->publish_time_ns = shmbus_now_ns();
	while (!(slot = lr_claim(&io->out)))
		if (io->o->wait == SHMBUS_WAIT_SPIN)
			bench_relax();
		else
			sched_yield();
	memcpy(slot, ev, h->size);
	lr_commit(&io->out);
	return 0;
}

int pl_poll(struct pl_io *io, shmbus_handler fn, void *ctx)
{
	if (io->shmbus)
		return shmbus_poll(io->c, fn, ctx, PL_POLL_BATCH);
	return lr_poll(&io->in, fn, ctx, PL_POLL_BATCH);
}

/* Nothing to read: wait by the strategy, at most timeout_ns. */
void pl_idle(struct pl_io *io, int64_t timeout_ns)
{
	if (io->o->wait == SHMBUS_WAIT_SPIN)
		bench_relax();
	else if (io->shmbus)
		shmbus_wait(io->c, timeout_ns);
	else
		sched_yield();
}

void pl_header(struct shmbus_event_header *h, uint16_t type, uint16_t size, int64_t event_time)
{
	memset(h, 0, size);
	h->type = type;
	h->version = SHMBUS_EVENT_LAYOUT_VERSION;
	h->size = size;
	h->symbol_id = PL_SYM;
	h->event_time_ns = event_time;
}

/* ---- ta stage: services/ta's bar builder and indicators ---- */

struct pl_ta {
	struct pl_io io;
	struct ta_bar_builder b;
	struct ta_symbol_state st;
	struct pl_counts n;
};

static void pl_ta_indicator(struct pl_ta *t, int64_t when, int64_t origin, unsigned kind,
                            uint32_t p0, uint32_t p1, uint32_t p2, double v0, double v1, double v2)
{
	struct shmbus_indicator e;

	pl_header(&e.h, SHMBUS_EV_INDICATOR, sizeof(e), when);
	e.kind = (uint16_t)kind;
	e.param[0] = (uint16_t)p0;
	e.param[1] = (uint16_t)p1;
	e.param[2] = (uint16_t)p2;
	e.value[0] = v0;
	e.value[1] = v1;
	e.value[2] = v2;
	e.origin_ns = origin;
	t->n.errors += pl_emit(&t->io, &e) != 0;
	t->n.indicators_out++;
}

/* The indicators that have a value after a bar, in kind order, as
 * shmbus-ta publishes them. */
static void pl_ta_indicators(struct pl_ta *t, int64_t when, int64_t origin)
{
	const struct ta_params *pp = &t->st.params;
	struct ta_values v;

	ta_symbol_values(&t->st, &v);
	if (v.ready & TA_OUT_SMA)
		pl_ta_indicator(t, when, origin, SHMBUS_IND_SMA, pp->sma_n, 0, 0, v.sma, 0, 0);
	if (v.ready & TA_OUT_EMA)
		pl_ta_indicator(t, when, origin, SHMBUS_IND_EMA, pp->ema_n, 0, 0, v.ema, 0, 0);
	if (v.ready & TA_OUT_RSI)
		pl_ta_indicator(t, when, origin, SHMBUS_IND_RSI, pp->rsi_n, 0, 0, v.rsi, 0, 0);
	if (v.ready & TA_OUT_MACD) {
		int sig = (v.ready & TA_OUT_MACD_SIGNAL) != 0;

		pl_ta_indicator(t, when, origin, SHMBUS_IND_MACD, pp->macd_fast, pp->macd_slow,
		                pp->macd_signal, v.macd.macd, sig ? v.macd.signal : NAN,
		                sig ? v.macd.histogram : NAN);
	}
	if (v.ready & TA_OUT_VWAP)
		pl_ta_indicator(t, when, origin, SHMBUS_IND_VWAP, 0, 0, 0, v.vwap, 0, 0);
	if (v.ready & TA_OUT_BOLLINGER)
		pl_ta_indicator(t, when, origin, SHMBUS_IND_BOLLINGER, pp->boll_n,
		                (uint32_t)pp->boll_k, 0, v.boll.middle, v.boll.upper, v.boll.lower);
}

static void pl_ta_close_bar(struct pl_ta *t, const struct ta_bar *b, int64_t origin)
{
	struct shmbus_bar e;

	pl_header(&e.h, SHMBUS_EV_BAR, sizeof(e), b->end_ns);
	e.start_ns = b->start_ns;
	e.interval_ms = PL_INTERVAL_MS;
	e.trade_count = b->trade_count;
	e.open = b->open;
	e.high = b->high;
	e.low = b->low;
	e.close = b->close;
	e.volume = b->volume;
	e.origin_ns = origin;
	t->n.errors += pl_emit(&t->io, &e) != 0;
	t->n.bars_out++;
	if (ta_on_bar(&t->st, b) < 0) {
		t->n.errors++;
		return;
	}
	pl_ta_indicators(t, b->end_ns, origin);
}

static void pl_ta_on_event(const struct shmbus_event_header *ev, void *ctx)
{
	const struct shmbus_trade *tr = (const struct shmbus_trade *)(const void *)ev;
	struct pl_ta *t = ctx;
	struct ta_bar closed;
	int r;

	t->n.trades_in++;
	r = ta_bar_builder_add(&t->b, ev->event_time_ns, tr->price, tr->size, &closed);
	if (r == TA_BAR_CLOSED)
		pl_ta_close_bar(t, &closed, ev->publish_time_ns);
	else if (r != TA_BAR_ADDED)
		t->n.errors++;
}

int pl_ta_stage(void *arg)
{
	struct pl_child *ch = arg;
	struct pl_shared *sh = ch->sh;
	uint64_t total = pl_total(ch->o);
	struct ta_params params;
	struct pl_ta *t = calloc(1, sizeof(*t));

	if (!t)
		return pl_fail(sh, "ta", -ENOMEM);
	ta_params_default(&params);
	params.ema_n = 1; /* ema1 == close: the rules fire on every bar */
	if (ta_bar_builder_init(&t->b, PL_INTERVAL_MS) < 0 || ta_symbol_init(&t->st, &params) < 0)
		return pl_fail(sh, "ta: init", -EINVAL);
	if (pl_io_open(ch, &t->io, 1, SHMBUS_TYPE_BIT(SHMBUS_EV_TRADE)))
		return 1;
	if (bench_barrier_wait(&sh->bar, 3) < 0)
		return 1;
	while (t->n.trades_in < total)
		if (pl_poll(&t->io, pl_ta_on_event, t) == 0)
			pl_idle(&t->io, 1000000);
	sh->n.trades_in = t->n.trades_in;
	sh->n.bars_out = t->n.bars_out;
	sh->n.indicators_out = t->n.indicators_out;
	sh->n.errors += t->n.errors;
	/* R1: the counts above are final; pairs with the threshold stage's A1. */
	atomic_store_explicit(&sh->ta_done, 1, memory_order_release);
	pl_io_close(&t->io);
	free(t);
	return 0;
}

/* ---- threshold stage: services/threshold's parser and evaluator ---- */

struct pl_thr {
	struct pl_io io;
	struct pl_shared *sh;
	uint64_t total;
	struct shmbus_ruleset rs;
	struct shmbus_thr_eval *ev;
	struct shmbus_thr_fire fires[PL_MAX_FIRES];
	struct shmbus_thr_inputs map; /* bars, indicators -> value updates */
	struct pl_counts n;
};

static int pl_thr_init(struct pl_thr *t)
{
	struct shmbus_rule_error err;

	memset(&err, 0, sizeof(err));
	if (shmbus_rules_parse(pl_rules, sizeof(pl_rules) - 1, &t->rs, &err) != 0) {
		bench_err("threshold: rules", "line %u: %s", err.line, err.message);
		return -EINVAL;
	}
	if (shmbus_thr_create(&t->ev, &t->rs) != 0)
		return -ENOMEM;
	shmbus_thr_inputs_init(&t->map, t->ev);
	return 0;
}

static void pl_thr_publish(struct pl_thr *t, const struct shmbus_event_header *ev, int64_t origin,
                           const struct shmbus_thr_fire *f)
{
	int64_t k = (ev->event_time_ns - PL_T0_NS) / ((int64_t)PL_INTERVAL_MS * 1000000);
	struct shmbus_threshold e;

	/* Plain store before the publish's release: the collector reads it
	 * after acquiring the threshold event. */
	if (k >= 0 && (uint64_t)k < t->total)
		t->sh->ind_pub[k] = ev->publish_time_ns;
	pl_header(&e.h, SHMBUS_EV_THRESHOLD, sizeof(e), ev->event_time_ns);
	e.rule_id = f->rule_index;
	e.direction = (uint16_t)f->direction;
	e.trigger_type = ev->type;
	e.value = f->value;
	e.threshold = f->threshold;
	e.trigger_source = ev->source_id;
	e.trigger_seq = ev->seq;
	e.origin_ns = origin;
	t->n.errors += pl_emit(&t->io, &e) != 0;
	t->n.thresholds_out++;
}

static void pl_thr_feed(struct pl_thr *t, const struct shmbus_event_header *ev, int64_t origin,
                        const struct shmbus_thr_input *in, size_t n)
{
	struct shmbus_thr_trigger trig = {ev->source_id, ev->seq, ev->event_time_ns};
	int k;

	if (n == 0)
		return;
	k = shmbus_thr_update(t->ev, PL_SYM_NAME, sizeof(PL_SYM_NAME) - 1, in, n, &trig, t->fires,
	                      PL_MAX_FIRES);
	if (k < 0) {
		t->n.errors++;
		return;
	}
	for (int i = 0; i < k; i++)
		pl_thr_publish(t, ev, origin, &t->fires[i]);
}

static void pl_thr_on_event(const struct shmbus_event_header *ev, void *ctx)
{
	struct pl_thr *t = ctx;
	struct shmbus_thr_input in[SHMBUS_THR_INPUTS_MAX];
	int64_t origin;
	int n;

	t->n.events_in++;
	n = shmbus_thr_inputs_of(&t->map, ev, in, &origin);
	if (n > 0)
		pl_thr_feed(t, ev, origin, in, (size_t)n);
}

/* Everything ta published was evaluated. */
static int pl_thr_done(struct pl_thr *t)
{
	struct pl_shared *sh = t->sh;

	/* A1 pairs with the ta stage's R1. */
	return atomic_load_explicit(&sh->ta_done, memory_order_acquire) &&
	       t->n.events_in >= sh->n.bars_out + sh->n.indicators_out;
}

int pl_thr_stage(void *arg)
{
	struct pl_child *ch = arg;
	struct pl_shared *sh = ch->sh;
	struct pl_thr *t = calloc(1, sizeof(*t));

	if (!t)
		return pl_fail(sh, "threshold", -ENOMEM);
	t->sh = sh;
	t->total = pl_total(ch->o);
	if (pl_thr_init(t) < 0)
		return pl_fail(sh, "threshold: evaluator", -EINVAL);
	if (pl_io_open(ch, &t->io, 2,
	               SHMBUS_TYPE_BIT(SHMBUS_EV_BAR) | SHMBUS_TYPE_BIT(SHMBUS_EV_INDICATOR)))
		return 1;
	if (bench_barrier_wait(&sh->bar, 3) < 0)
		return 1;
	while (!pl_thr_done(t))
		if (pl_poll(&t->io, pl_thr_on_event, t) == 0)
			pl_idle(&t->io, 1000000);
	sh->n.events_in = t->n.events_in;
	sh->n.thresholds_out = t->n.thresholds_out;
	sh->n.errors += t->n.errors;
	/* R2: the counts above are final; pairs with the collector's A2. */
	atomic_store_explicit(&sh->thr_done, 1, memory_order_release);
	pl_io_close(&t->io);
	shmbus_thr_destroy(t->ev);
	shmbus_rules_free(&t->rs);
	free(t);
	return 0;
}
