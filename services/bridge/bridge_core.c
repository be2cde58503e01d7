/*
 * bridge_core.c - the bridge engine.
 *
 * Design: a bounded window (a power-of-two array indexed by a 64-bit send
 * position) holds a copy of every event sent and not yet acknowledged by
 * every sink: per entry a bit mask of sinks still pending and one of sinks
 * whose send failed. Acks may come out of order (Kafka partitions); the
 * head only moves over entries with no pending bit, so the per-source
 * progress it records (and the checkpoint written from it) never runs
 * ahead of an unacknowledged event: after a crash nothing before the
 * checkpoint is missing. What was sent after it is sent again; the
 * broker's dedup (Nats-Msg-Id) removes the copies.
 *
 * Per-symbol order across failures: the first failed send or negative
 * ack of a sink puts that sink in recovery. While it recovers, nothing
 * new is sent to it: entries added meanwhile are only marked to send.
 * Once none of its sends is still awaiting an ack (so no earlier send can
 * still land), the sink is ready (see bridge_sink_ops) and a jittered
 * exponential delay has passed, every marked entry is sent again in
 * window order, stopping at the first one that fails again; when all
 * went out the sink leaves recovery. So no event is ever sent to a sink before an earlier one
 * that sink has not stored, except when the broker stored later sends
 * that were already in flight while rejecting an earlier one (see
 * docs/bridge.md). When the window is full or a sink is not ready,
 * on_full=block stops polling the ring (so the ring fills and the bus's
 * policy decides what producers see); on_full=drop keeps polling and
 * counts the events it cannot send.
 */
#include "bridge_core.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <shmbus/clock.h>
#include <shmbus/error.h>
#include <shmbus/journal.h>
#include <shmbus/stat.h>
#include <shmbus/symbol.h>

#include "bridge_ckpt.h"

struct bw_entry {
	uint64_t pos;
	uint32_t source;
	uint8_t pending, failed;
	uint8_t released; /* sinks that let it go unexported: counted in unencodable */
	uint64_t seq;
	union {
		struct shmbus_event_header h;
		unsigned char bytes[SHMBUS_EVENT_MAX];
	} ev;
};

struct bridge {
	shmbus_bus *bus;
	shmbus_consumer *c;
	struct bridge_core_config cfg;
	struct bridge_sink *sinks[BRIDGE_MAX_SINKS];
	int nsinks;
	struct bw_entry *w;
	uint64_t mask, head, tail;
	uint64_t hint[BRIDGE_MAX_SINKS];
	int cur_sink;
	struct bridge_srcmap acked, sent;
	struct bridge_srcmap published; /* the bus's last seq per source at subscription */
	struct bridge_srcmap live;      /* the last seq per source seen in the ring */
	uint32_t *ring_symbols;         /* an adopted ring's symbol filter (cfg.sub) */
	int dirty, had_checkpoint, no_ring;
	unsigned blocked; /* sinks in recovery (bit k: sinks[k]) */
	unsigned probing; /* sinks in recovery whose first marked entry alone was resent */
	int64_t down_nap_ns; /* next idle nap while a sink is not ready (doubles) */
	int64_t last_ckpt_ns, last_hb_ns;
	int64_t retry_at_ns[BRIDGE_MAX_SINKS];
	uint32_t retry_attempt[BRIDGE_MAX_SINKS];
	int64_t ckpt_warn_ns, enc_warn_ns, back_warn_ns; /* rate limits of warnings */
	int64_t progress_warn_ns;
	uint64_t ckpt_failing;                            /* failed writes in a row */
	struct bridge_stats st;
	char enc_buf[BRIDGE_ENCODED_MAX];
};

void bridge_core_config_init(struct bridge_core_config *c)
{
	memset(c, 0, sizeof *c);
	c->ring = "bridge";
	shmbus_sub_opts_init(&c->sub);
	c->enc = BRIDGE_ENC_JSON;
	c->window = 8192;
	c->on_full = BRIDGE_ON_FULL_BLOCK;
	c->checkpoint_interval_ns = 100 * 1000000LL;
	c->catchup_slack_ns = 60 * 1000000000LL;
	c->retry_base_ms = 100;
	c->retry_max_ms = 5000;
	c->handover_timeout_ms = 5000;
}

int64_t bridge_backoff_ms(uint32_t attempt, int64_t base_ms, int64_t max_ms)
{
	int64_t d = base_ms > 0 ? base_ms : 1;
	for (uint32_t i = 0; i < attempt && d < max_ms; i++)
		d *= 2;
	if (d > max_ms)
		d = max_ms;
	/* jitter: [d/2, d], so reconnecting clients spread out */
	return d / 2 + (int64_t)((uint64_t)rand() % (uint64_t)(d / 2 + 1));
}

static int64_t mono_ns(void)
{
	return shmbus_mono_ns();
}

/* Runtime warnings: at most one a WARN_EVERY_NS per kind (*last). */
#define WARN_EVERY_NS (10 * 1000000000LL)

static void core_warn(struct bridge *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void core_warn(struct bridge *b, const char *fmt, ...)
{
	char msg[768];
	va_list ap;
	if (b->cfg.warn == NULL)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	b->cfg.warn(b->cfg.warn_ctx, msg);
}

/* 1 when a warning of the kind whose last time is *last may go now. */
static int warn_due(int64_t *last)
{
	int64_t now = mono_ns();
	if (*last != 0 && now - *last < WARN_EVERY_NS)
		return 0;
	*last = now;
	return 1;
}

/* What a source's progress missing from each map costs. */
#define LOSS_ACKED "the checkpoint lacks it, so after a restart its events are exported again"
#define LOSS_SENT "a second copy of its events (journal hand-over, a replay) is exported again"
#define LOSS_LIVE "a producer restarting its sequence goes unnoticed"
#define LOSS_PUBLISHED "the journal hand-over does not wait for its events"
#define LOSS_CATCHUP "the catch-up's warnings about it may be missing"

/*
 * Record source's progress in m (`what`: the map, for the warning). A
 * failure (out of memory, or BRIDGE_SRCMAP_MAX sources) is counted in
 * progress_errors and warned about, the first at once, then at most one
 * a WARN_EVERY_NS, naming the source and what its missing progress costs
 * (`loss`). Returns bridge_srcmap_set's code.
 */
static int progress_set(struct bridge *b, struct bridge_srcmap *m, const char *what,
			const char *loss, uint32_t source, uint64_t seq, int64_t t_ns)
{
	int rc = bridge_srcmap_set(m, source, seq, t_ns);
	if (rc == 0)
		return 0;
	b->st.progress_errors++;
	if (warn_due(&b->progress_warn_ns))
		core_warn(b,
			  "cannot record the %s seq %" PRIu64 " of source %" PRIu32
			  ": %s (%" PRIu32 " sources held, at most %u): %s (%" PRIu64
			  " such error%s so far, counted in progress_errors)",
			  what, seq, source, rc == -ENOSPC ? "too many sources" : strerror(-rc),
			  m->n, BRIDGE_SRCMAP_MAX, loss, b->st.progress_errors,
			  b->st.progress_errors == 1 ? "" : "s");
	return rc;
}

/* Put sink k in recovery (if not yet) with e marked to send again. */
static void fail_sink(struct bridge *b, struct bw_entry *e, int k)
{
	unsigned bit = 1u << k;
	e->failed |= (uint8_t)bit;
	if ((b->blocked & bit) && !(b->probing & bit))
		return;
	/* A refused probe (see recover) backs off again, one step longer. */
	b->probing &= ~bit;
	b->blocked |= bit;
	b->retry_at_ns[k] = mono_ns() + 1000000LL * bridge_backoff_ms(b->retry_attempt[k],
									b->cfg.retry_base_ms,
									b->cfg.retry_max_ms);
	/* A negative ack of a resend starts the next streak one step longer;
	 * an ack (on_ack) brings it back to retry_base_ms. */
	if (b->retry_attempt[k] < 32)
		b->retry_attempt[k]++;
}

/* Encode e once and send it to every sink in `mask`. A sink that fails
 * goes into recovery; an event that cannot be encoded (or that a sink
 * rejects as invalid: -EINVAL) can never go, so it is counted and
 * released instead of blocking the window. Returns the mask of sinks
 * that took it. */
static unsigned send_entry(struct bridge *b, struct bw_entry *e, unsigned mask)
{
	char sym[SHMBUS_SYMBOL_MAX + 1] = "";
	unsigned ok = 0;
	if (e->ev.h.symbol_id != 0 && shmbus_symbol_name(b->bus, e->ev.h.symbol_id, sym, sizeof sym) < 0)
		sym[0] = '\0';
	int n = bridge_encode(b->cfg.enc, &e->ev.h, sym, b->enc_buf, sizeof b->enc_buf);
	for (int k = 0; k < b->nsinks; k++) {
		unsigned bit = 1u << k;
		if (!(mask & bit))
			continue;
		int rc = n < 0 ? n : b->sinks[k]->ops->send(b->sinks[k], e->pos, &e->ev.h, sym,
							    b->enc_buf, (size_t)n);
		if (rc == 0) {
			ok |= bit;
			e->failed &= (uint8_t)~bit;
		} else if (n < 0 || rc == -EINVAL) {
			e->pending &= (uint8_t)~bit; /* never exportable: released */
			e->failed &= (uint8_t)~bit;
			e->released |= (uint8_t)bit;
			if (warn_due(&b->enc_warn_ns))
				core_warn(b,
					  "event of source %" PRIu32 " seq %" PRIu64 " (type %u, symbol "
					  "'%s') cannot be %s: not exported (counted in encode_errors; "
					  "%" PRIu64 " before it)",
					  e->source, e->seq, e->ev.h.type, sym,
					  n < 0 ? "encoded" : "sent: the sink refuses it as invalid",
					  b->st.encode_errors);
		} else {
			if (rc != -EAGAIN)
				b->st.failed++;
			fail_sink(b, e, k);
		}
	}
	if (n < 0 || (mask & ~ok & ~(unsigned)e->failed) != 0)
		b->st.encode_errors++;
	return ok;
}

/* A source's seq going back in the ring: one producer's events arrive in
 * order, so a producer of that source id started again at a lower seq (on
 * a new bus: the bus itself goes on from a reused id's last seq). */
static void check_live_seq(struct bridge *b, const struct shmbus_event_header *ev)
{
	const struct bridge_src *l = bridge_srcmap_get(&b->live, ev->source_id);
	const struct bridge_src *s = bridge_srcmap_get(&b->sent, ev->source_id);
	if (l != NULL && ev->seq < l->seq && s != NULL && ev->seq <= s->seq &&
	    warn_due(&b->back_warn_ns))
		core_warn(b,
			  "source %" PRIu32 " went back from seq %" PRIu64 " to %" PRIu64
			  " in the ring: a producer reused that source id with a new sequence "
			  "(a new bus?); its events are skipped as exported until seq passes %" PRIu64
			  " (remove the checkpoint to export them)",
			  ev->source_id, l->seq, ev->seq, s->seq);
	progress_set(b, &b->live, "last", LOSS_LIVE, ev->source_id, ev->seq, ev->event_time_ns);
}

/* 1: sent (or skipped as already exported), 0: window full. */
static int offer(struct bridge *b, const struct shmbus_event_header *ev)
{
	if (ev->size < sizeof *ev || ev->size > SHMBUS_EVENT_MAX) {
		b->st.encode_errors++;
		b->st.unencodable++;
		return 1;
	}
	const struct bridge_src *s = bridge_srcmap_get(&b->sent, ev->source_id);
	if (s != NULL && ev->seq <= s->seq) {
		b->st.skipped++;
		return 1;
	}
	if (b->tail - b->head > b->mask)
		return 0;
	struct bw_entry *e = &b->w[b->tail & b->mask];
	e->pos = b->tail;
	e->source = ev->source_id;
	e->seq = ev->seq;
	e->pending = (uint8_t)((1u << b->nsinks) - 1);
	e->released = 0;
	/* A sink in recovery gets it later, in order, behind its failed ones. */
	e->failed = (uint8_t)(e->pending & b->blocked);
	memcpy(e->ev.bytes, ev, ev->size);
	/* On failure the event still goes: only a later copy of it would. */
	progress_set(b, &b->sent, "sent", LOSS_SENT, ev->source_id, ev->seq, ev->event_time_ns);
	b->tail++;
	b->st.sent++;
	if (e->pending & ~b->blocked)
		send_entry(b, e, e->pending & ~b->blocked);
	return 1;
}

static struct bw_entry *find_entry(struct bridge *b, uint64_t pos, uint32_t source, uint64_t seq)
{
	if (pos != UINT64_MAX) {
		struct bw_entry *e = &b->w[pos & b->mask];
		return pos >= b->head && pos < b->tail && e->pos == pos ? e : NULL;
	}
	/* Acks of one sink come nearly in send order: look at the hint first. */
	uint64_t h = b->hint[b->cur_sink];
	if (h < b->head || h >= b->tail)
		h = b->head;
	for (uint64_t n = 0, p = h; n < b->tail - b->head; n++) {
		struct bw_entry *e = &b->w[p & b->mask];
		if (e->source == source && e->seq == seq) {
			b->hint[b->cur_sink] = p + 1;
			return e;
		}
		if (++p >= b->tail)
			p = b->head;
	}
	return NULL;
}

/* The sink lost every send still awaiting its ack: mark each to resend. */
static void on_all_lost(struct bridge *b)
{
	unsigned bit = 1u << b->cur_sink;
	for (uint64_t p = b->head; p < b->tail; p++) {
		struct bw_entry *e = &b->w[p & b->mask];
		if ((e->pending & bit) && !(e->failed & bit)) {
			b->st.failed++;
			fail_sink(b, e, b->cur_sink);
		}
	}
}

static void on_ack(void *ctx, uint64_t pos, uint32_t source, uint64_t seq, int err)
{
	struct bridge *b = ctx;
	if (pos == BRIDGE_ACK_ALL_LOST) {
		on_all_lost(b);
		return;
	}
	struct bw_entry *e = find_entry(b, pos, source, seq);
	unsigned bit = 1u << b->cur_sink;
	if (e == NULL || !(e->pending & bit))
		return; /* late or duplicate ack */
	if (e->failed & bit)
		return; /* not in flight (marked to send again): a stray ack */
	if (err == 0) {
		e->pending &= (uint8_t)~bit;
		b->retry_attempt[b->cur_sink] = 0;
	} else {
		b->st.failed++;
		fail_sink(b, e, b->cur_sink);
	}
}

static void advance(struct bridge *b)
{
	while (b->head < b->tail) {
		struct bw_entry *e = &b->w[b->head & b->mask];
		if (e->pending != 0)
			break;
		progress_set(b, &b->acked, "acknowledged", LOSS_ACKED, e->source, e->seq,
			     e->ev.h.event_time_ns);
		/* Past it either way; acknowledged only when no sink let it go. */
		if (e->released != 0) {
			b->st.unencodable++;
		} else {
			b->st.lag_ns = shmbus_now_ns() - e->ev.h.publish_time_ns;
			b->st.acked++;
		}
		b->head++;
		b->dirty = 1;
	}
}

static int all_connected(struct bridge *b)
{
	for (int k = 0; k < b->nsinks; k++)
		if (!b->sinks[k]->ops->connected(b->sinks[k]))
			return 0;
	return 1;
}

static int sink_ready(struct bridge_sink *s)
{
	return s->ops->ready != NULL ? s->ops->ready(s) : s->ops->connected(s);
}

/* 1 when every sink may be sent to now (see bridge_sink_ops.ready). */
static int all_ready(struct bridge *b)
{
	for (int k = 0; k < b->nsinks; k++)
		if (!sink_ready(b->sinks[k]))
			return 0;
	return 1;
}

/* 1 when some entry was sent to sink `bit` and its ack is still due. */
static int awaiting_ack(struct bridge *b, unsigned bit)
{
	for (uint64_t p = b->head; p < b->tail; p++) {
		const struct bw_entry *e = &b->w[p & b->mask];
		if ((e->pending & bit) && !(e->failed & bit))
			return 1;
	}
	return 0;
}

/* Resend up to `max` of sink k's marked entries in window order, stopping
 * at the first failure so that nothing overtakes it. Returns 0 when one
 * failed again, -1 when none was marked, else 1 (sent, or released as
 * invalid). */
static int resend_marked(struct bridge *b, int k, uint64_t max)
{
	unsigned bit = 1u << k;
	int rc = -1;
	for (uint64_t p = b->head; p < b->tail && max > 0; p++) {
		struct bw_entry *e = &b->w[p & b->mask];
		if (!(e->failed & bit))
			continue;
		if (send_entry(b, e, bit) != 0)
			b->st.resent++;
		else if (e->failed & bit)
			return 0;
		rc = 1;
		max--;
	}
	return rc;
}

/* Take sinks out of recovery when due: ready, the backoff passed and
 * no earlier send of theirs is still in flight. The first marked entry
 * goes alone (a probe): only once the sink stored it do the others
 * follow. An asynchronous sink takes every send and refuses it later,
 * so resending the whole window at each retry sent up to --window
 * publishes per backoff to a broker that refused them all (a full
 * stream: 15 resends per event exported), and a batch that met room
 * freeing up half-way was stored out of order. */
static void recover(struct bridge *b, int64_t now)
{
	for (int k = 0; k < b->nsinks && b->blocked != 0; k++) {
		unsigned bit = 1u << k;
		if (!(b->blocked & bit) || now < b->retry_at_ns[k] ||
		    !sink_ready(b->sinks[k]) || awaiting_ack(b, bit))
			continue;
		if (!(b->probing & bit)) {
			int r = resend_marked(b, k, 1); /* the probe */
			if (r > 0) {
				b->probing |= bit; /* fail_sink clears it if refused */
				continue;
			}
			if (r < 0) {
				b->blocked &= ~bit;
				continue;
			}
			/* r == 0: refused at once: back off */
		} else {
			b->probing &= ~bit; /* the probe was stored: the rest follow */
			if (resend_marked(b, k, UINT64_MAX) != 0) {
				b->blocked &= ~bit;
				continue;
			}
		}
		b->retry_attempt[k]++;
		b->retry_at_ns[k] = now + 1000000LL * bridge_backoff_ms(b->retry_attempt[k],
									b->cfg.retry_base_ms,
									b->cfg.retry_max_ms);
	}
}

int bridge_checkpoint(struct bridge *b, char *err, size_t errlen)
{
	if (b->cfg.checkpoint == NULL || !b->dirty)
		return 0;
	int rc = bridge_ckpt_save(b->cfg.checkpoint, &b->acked, err, errlen);
	if (rc == 0) {
		b->dirty = 0;
		b->st.checkpoints++;
		if (b->ckpt_failing != 0)
			core_warn(b, "checkpoint %s written again after %" PRIu64 " failed writes",
				  b->cfg.checkpoint, b->ckpt_failing);
		b->ckpt_failing = 0;
	} else {
		b->st.checkpoint_errors++;
		b->ckpt_failing++;
	}
	b->last_ckpt_ns = mono_ns();
	return rc;
}

/* Acks, resends, window advance and checkpoint: everything but the ring. */
static int pump(struct bridge *b)
{
	int acks = 0;
	char err[256];
	for (int k = 0; k < b->nsinks; k++) {
		b->cur_sink = k;
		acks += b->sinks[k]->ops->poll(b->sinks[k], on_ack, b);
	}
	int64_t now = mono_ns();
	recover(b, now);
	advance(b);
	if (b->dirty && now - b->last_ckpt_ns >= b->cfg.checkpoint_interval_ns &&
	    bridge_checkpoint(b, err, sizeof err) < 0 && warn_due(&b->ckpt_warn_ns))
		core_warn(b,
			  "checkpoint %s (%" PRIu64 " failed write%s in a row; retried every %lld "
			  "ms): after a crash the bridge would resume from the last one written and "
			  "send again what followed",
			  err, b->ckpt_failing, b->ckpt_failing == 1 ? "" : "s",
			  (long long)(b->cfg.checkpoint_interval_ns / 1000000));
	if (now - b->last_hb_ns > 1000000000LL) {
		shmbus_bus_heartbeat(b->bus);
		b->last_hb_ns = now;
	}
	return acks;
}

static void live_handler(const struct shmbus_event_header *ev, void *ctx)
{
	struct bridge *b = ctx;
	b->st.received++;
	check_live_seq(b, ev);
	if (b->cfg.on_full == BRIDGE_ON_FULL_DROP && (b->blocked != 0 || !all_ready(b))) {
		b->st.dropped++;
		return;
	}
	if (!offer(b, ev))
		b->st.dropped++; /* drop mode only: block mode polls at most the room left */
}

#define NAP_MIN_NS 200000LL        /* a step's nap while waiting for acks */
#define NAP_DOWN_MAX_NS 10000000LL /* the longest, while a sink is down */

static void nap(int64_t ns)
{
	struct timespec ts = {.tv_sec = ns / 1000000000LL, .tv_nsec = ns % 1000000000LL};
	nanosleep(&ts, NULL);
}

int bridge_step(struct bridge *b, int64_t wait_ns)
{
	int acks = pump(b);
	int moved = 0;
	uint64_t room = b->mask + 1 - (b->tail - b->head);
	int ok = all_ready(b);
	if (!b->no_ring) {
		if (b->cfg.on_full == BRIDGE_ON_FULL_DROP)
			moved = shmbus_poll(b->c, live_handler, b, 1024);
		else if (ok && b->blocked == 0 && room > 0)
			moved = shmbus_poll(b->c, live_handler, b, room < 1024 ? (unsigned)room : 1024);
	}
	/* A sink that is down (reconnecting in the background) is waited
	 * for with naps doubling from 200 us to 10 ms: at 200 us a bridge
	 * whose broker was down for hours burnt ~10% of a core; 10 ms is
	 * the most a reconnection then waits to be noticed. */
	int64_t most = ok ? NAP_MIN_NS : b->down_nap_ns;
	b->down_nap_ns = ok ? NAP_MIN_NS : (most * 2 < NAP_DOWN_MAX_NS ? most * 2 : NAP_DOWN_MAX_NS);
	if (moved == 0 && acks == 0 && wait_ns > 0) {
		if (!b->no_ring && ok && room > 0 && b->head == b->tail)
			shmbus_wait(b->c, wait_ns);
		else
			nap(wait_ns < most ? wait_ns : most);
	}
	return moved;
}

/*
 * What the bus had published per source when the ring was subscribed
 * (its producers' counters, the highest seq of each source id): events up
 * to there may have missed the ring and come only from the journal (the
 * hand-over, bridge_catchup). A checkpoint beyond it means the source's
 * seq started again (a new bus): its events would be skipped as exported.
 */
static void snapshot_published(struct bridge *b)
{
	struct shmbus_bus_info bi;
	struct shmbus_producer_stat ps;
	if (shmbus_stat_bus(b->bus, &bi) < 0)
		return;
	for (uint32_t i = 0; i < bi.max_producers; i++) {
		int rc = shmbus_stat_producer(b->bus, i, &ps);
		if ((rc < 0 && rc != -ENOENT) || ps.last_seq == 0)
			continue; /* a closed producer's slot counts: its events may be unjournaled */
		const struct bridge_src *p = bridge_srcmap_get(&b->published, ps.source_id);
		if (p == NULL || ps.last_seq > p->seq)
			progress_set(b, &b->published, "published", LOSS_PUBLISHED, ps.source_id,
				     ps.last_seq, 0);
	}
	const struct bridge_src *c, *p;
	for (uint32_t it = 0; (c = bridge_srcmap_next(&b->acked, &it)) != NULL;) {
		if ((p = bridge_srcmap_get(&b->published, c->source)) == NULL || p->seq >= c->seq)
			continue;
		core_warn(b,
			  "checkpoint of source %" PRIu32 " is at seq %" PRIu64
			  " but the bus's producers of that source are at seq %" PRIu64
			  " (a new bus?): its events are skipped as exported until seq passes %" PRIu64
			  " (remove the checkpoint to export them)",
			  c->source, c->seq, p->seq, c->seq);
	}
}

/*
 * A ring that exists already (declared by shmbusctl from the config, or
 * left by an earlier run) is adopted as it is: its geometry unless
 * --capacity was given (then a differing ring is an error), its policy
 * unless --ring-policy was, its filter unless --types or --symbols were
 * (the library keeps it when so has neither; the catch-up then takes its
 * types and symbols). Slots smaller than those the bridge would make are
 * warned about. Returns 0, or a negative code with err filled when the
 * ring's symbol list cannot be read.
 */
static int adopt_ring(struct bridge *b, struct shmbus_sub_opts *so, char *err, size_t errlen)
{
	struct shmbus_ring_stat rs;
	int idx = shmbus_stat_find_ring(b->bus, b->cfg.ring);
	if (idx < 0 || shmbus_stat_ring(b->bus, (uint32_t)idx, &rs) != 0)
		return 0;
	if (!(b->cfg.sub_given & BRIDGE_SUB_CAPACITY))
		so->capacity = rs.capacity;
	so->slot_size = rs.slot_size;
	if (!(b->cfg.sub_given & BRIDGE_SUB_POLICY))
		so->policy = rs.policy;
	so->wait = rs.wait;
	if (rs.slot_size < b->cfg.sub.slot_size)
		core_warn(b,
			  "ring %s has %u-byte slots: events larger than %u bytes never reach it "
			  "(counted as too_big)",
			  b->cfg.ring, rs.slot_size, rs.slot_size - 8);
	/* The ring keeps its filter: the catch-up must export what it takes.
	 * Its symbol list (nsymbols counts a repeated id twice: room for all)
	 * is the catch-up's; one that could not be read exported every
	 * symbol of the journal. */
	if (b->cfg.sub.types != 0 || b->cfg.sub.symbols != NULL)
		return 0;
	b->cfg.sub.types = rs.types;
	if (rs.nsymbols == 0)
		return 0;
	if ((b->ring_symbols = calloc(rs.nsymbols, sizeof *b->ring_symbols)) == NULL) {
		snprintf(err, errlen, "ring %s: out of memory for its %u symbols", b->cfg.ring,
			 rs.nsymbols);
		return -ENOMEM;
	}
	int n = shmbus_stat_ring_symbols(b->bus, (uint32_t)idx, b->ring_symbols, rs.nsymbols);
	if (n <= 0 || (unsigned)n > rs.nsymbols) { /* 0: its filter was removed meanwhile */
		snprintf(err, errlen, "ring %s: cannot read its symbol filter: %s%s%s", b->cfg.ring,
			 n < 0 ? shmbus_strerror(n) : "it changed while read",
			 n < 0 && shmbus_errmsg()[0] ? ": " : "", n < 0 ? shmbus_errmsg() : "");
		return n < 0 ? n : -EAGAIN;
	}
	b->cfg.sub.symbols = b->ring_symbols;
	b->cfg.sub.nsymbols = (size_t)n;
	return 0;
}

int bridge_open(shmbus_bus *bus, const struct bridge_core_config *cfg, struct bridge_sink **sinks,
		int nsinks, struct bridge **out, char *err, size_t errlen)
{
	struct bridge *b;
	int rc;
	if (nsinks < 1 || nsinks > BRIDGE_MAX_SINKS || cfg->window < 2 ||
	    (cfg->window & (cfg->window - 1)) != 0) {
		snprintf(err, errlen, "bridge: bad configuration: %s",
			 nsinks < 1 ? "no sink (give --nats and/or --kafka)"
				    : "window must be a power of two >= 2");
		return -EINVAL;
	}
	if ((b = calloc(1, sizeof *b)) == NULL)
		return -ENOMEM;
	b->bus = bus;
	b->cfg = *cfg;
	b->mask = cfg->window - 1;
	b->down_nap_ns = NAP_MIN_NS;
	b->w = calloc(cfg->window, sizeof *b->w);
	if (b->w == NULL || bridge_srcmap_init(&b->acked) < 0 || bridge_srcmap_init(&b->sent) < 0 ||
	    bridge_srcmap_init(&b->published) < 0 || bridge_srcmap_init(&b->live) < 0) {
		rc = -ENOMEM;
		goto fail;
	}
	if (cfg->checkpoint != NULL) {
		rc = bridge_ckpt_load(cfg->checkpoint, &b->acked, err, errlen);
		if (rc < 0 && rc != -ENOENT)
			goto fail;
		b->had_checkpoint = rc == 0;
		if ((rc = bridge_srcmap_copy(&b->sent, &b->acked)) < 0) {
			snprintf(err, errlen, "checkpoint: out of memory for %" PRIu32 " sources (%s)",
				 b->acked.n, cfg->checkpoint);
			goto fail;
		}
		/* A checkpoint that cannot be written would only show at the
		 * next crash: find out now. */
		if ((rc = bridge_ckpt_probe(cfg->checkpoint, err, errlen)) < 0)
			goto fail;
	}
	/* Subscribe before any catch-up: whatever is published from now on
	 * waits in the ring while the journal is read. */
	struct shmbus_sub_opts so = cfg->sub;
	if ((rc = adopt_ring(b, &so, err, errlen)) < 0)
		goto fail;
	rc = shmbus_subscribe(bus, cfg->ring, &so, &b->c);
	if (rc < 0) {
		snprintf(err, errlen, "subscribe: %s (ring %s%s%s)", shmbus_strerror(rc), cfg->ring,
			 shmbus_errmsg()[0] ? ": " : "", shmbus_errmsg());
		goto fail;
	}
	for (int k = 0; k < nsinks; k++)
		b->sinks[k] = sinks[k];
	b->nsinks = nsinks;
	b->last_ckpt_ns = mono_ns();
	snapshot_published(b);
	*out = b;
	return 0;
fail:
	free(b->ring_symbols);
	bridge_srcmap_free(&b->acked);
	bridge_srcmap_free(&b->sent);
	bridge_srcmap_free(&b->published);
	bridge_srcmap_free(&b->live);
	free(b->w);
	free(b);
	return rc;
}

static void catchup_query(struct bridge *b, struct shmbus_journal_query *q)
{
	/* No type or symbol filter here: see catchup_wanted. */
	shmbus_journal_query_init(q);
	if (b->cfg.catchup_slack_ns < 0)
		return;
	int64_t tmin = INT64_MAX;
	const struct bridge_src *c;
	for (uint32_t it = 0; (c = bridge_srcmap_next(&b->acked, &it)) != NULL;)
		if (c->event_time_ns < tmin)
			tmin = c->event_time_ns;
	if (tmin != INT64_MAX && tmin > INT64_MIN + b->cfg.catchup_slack_ns)
		q->t_from = tmin - b->cfg.catchup_slack_ns;
}

/* A catch-up warning: to cfg->warn, or left in err when there is none. */
static void catchup_warn(struct bridge *b, char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static void catchup_warn(struct bridge *b, char *err, size_t errlen, const char *fmt, ...)
{
	char msg[768];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	if (b->cfg.warn != NULL)
		b->cfg.warn(b->cfg.warn_ctx, msg);
	else
		snprintf(err, errlen, "%s", msg);
}

/* Sources named one by one (and journal look-ups made) at most, per
 * catch-up: a checkpoint can list thousands, and a look-up of a source
 * the journal lacks reads the whole journal. */
#define CATCHUP_WARN_MAX 8

/*
 * After a full catch-up, warn about each checkpoint source (ck) whose
 * checkpoint lies past the journal's end: a seq above the journal's last
 * seq of that source, a time after the journal's latest event, or no
 * event of the source read at all. None of its events was caught up, and
 * none will be until its seq passes the checkpoint's, which is silent
 * loss when the journal was rotated or replaced (or belongs to another
 * bus). Not an error: the operator decides. seen holds the highest seq
 * read per checkpoint source.
 */
static void catchup_check_ahead(struct bridge *b, struct shmbus_journal_reader *r,
				const struct bridge_srcmap *ck, const struct bridge_srcmap *seen,
				int64_t t_from, char *err, size_t errlen)
{
	struct shmbus_journal_error jerr = {0};
	int64_t latest = 0;
	int have_latest = shmbus_journal_reader_latest_time(r, &latest) == 0;
	unsigned warned = 0, more = 0;
	char last_s[64], latest_s[32];
	if (have_latest)
		snprintf(latest_s, sizeof latest_s, "%" PRId64, latest);
	else
		snprintf(latest_s, sizeof latest_s, "none (empty journal)");
	const struct bridge_src *c;
	for (uint32_t it = 0; (c = bridge_srcmap_next(ck, &it)) != NULL;) {
		const struct bridge_src *s = bridge_srcmap_get(seen, c->source);
		int late = !have_latest || c->event_time_ns > latest;
		if (s != NULL && !late && s->seq >= c->seq)
			continue; /* the journal reaches the checkpoint */
		if (warned == CATCHUP_WARN_MAX) {
			more++;
			continue;
		}
		warned++;
		uint64_t last;
		if (s != NULL)
			snprintf(last_s, sizeof last_s, "%" PRIu64, s->seq);
		else if (!late && t_from != INT64_MIN) /* read from t_from on: none there */
			snprintf(last_s, sizeof last_s, "none since %" PRId64, t_from);
		else if (have_latest &&
			 shmbus_journal_reader_last_seq(r, c->source, &last, &jerr) == 0)
			snprintf(last_s, sizeof last_s, "%" PRIu64, last);
		else
			snprintf(last_s, sizeof last_s, "none");
		catchup_warn(b, err, errlen,
			     "checkpoint of source %" PRIu32 " (seq %" PRIu64
			     ", event time %" PRId64 ") is past the end of journal %s (last "
			     "seq of that source: %s, latest event time: %s): none of its events "
			     "was caught up; was the journal rotated or replaced?",
			     c->source, c->seq, c->event_time_ns, b->cfg.journal_dir, last_s,
			     latest_s);
	}
	if (more > 0)
		catchup_warn(b, err, errlen,
			     "checkpoint of %u more source%s is past the end of journal %s", more,
			     more == 1 ? "" : "s", b->cfg.journal_dir);
}

/* Open the journal; -ENOENT only when there is no journal directory. */
static int catchup_open(struct bridge *b, struct shmbus_journal_reader **r, char *err,
			size_t errlen)
{
	struct shmbus_journal_error jerr = {0};
	const char *jbus = b->cfg.journal_bus ? b->cfg.journal_bus : shmbus_bus_name(b->bus);
	struct stat st;
	int rc = shmbus_journal_reader_open(b->cfg.journal_dir, jbus[0] ? jbus : NULL,
					    shmbus_event_layout_hash(), r, &jerr);
	if (rc == 0)
		return 0;
	if (rc == -ENOENT && stat(b->cfg.journal_dir, &st) < 0 && errno == ENOENT)
		return rc; /* no journal: the caller starts live */
	snprintf(err, errlen, "journal open: %s%s%s (%s)", strerror(-rc),
		 jerr.detail[0] ? ": " : "", jerr.detail,
		 jerr.segment[0] ? jerr.segment : b->cfg.journal_dir);
	/* A segment that vanished (a dangling link, a race with retention)
	 * is a damaged journal, not a missing one. */
	return rc == -ENOENT ? -EIO : rc;
}

/* 1 when ev passes the ring's filter: the catch-up reads the journal
 * unfiltered, so that it sees how far every source got (the hand-over).
 * As in the ring, an event about no symbol (id 0: heartbeats, status and
 * end-of-stream markers) passes a symbol filter. */
static int catchup_wanted(const struct bridge *b, const struct shmbus_event_header *ev)
{
	const struct shmbus_sub_opts *f = &b->cfg.sub;
	if (f->types != 0 && (ev->type >= SHMBUS_MAX_TYPES || !(f->types & SHMBUS_TYPE_BIT(ev->type))))
		return 0;
	if (f->symbols == NULL || ev->symbol_id == 0)
		return 1;
	for (size_t i = 0; i < f->nsymbols; i++)
		if (f->symbols[i] == ev->symbol_id)
			return 1;
	return 0;
}

struct catchup_state {
	struct shmbus_journal_reader *r;
	struct shmbus_journal_query q;
	struct bridge_srcmap ck;   /* the checkpoint as loaded */
	struct bridge_srcmap seen; /* highest seq read per checkpoint source */
	struct bridge_srcmap jmax; /* highest seq read per source */
	struct bridge_srcmap rmax; /* highest seq actually read (and offered) per source */
	struct bridge_srcmap unread; /* last seq the hand-over found beyond what was read */
	int have_last;             /* the last event read, to read on after it */
	uint32_t last_source;
	uint64_t last_seq;
	/* Damage met last and not yet told: a reader reports it and goes on
	 * with the next segment, so when the journal's end follows it lies in
	 * the newest segment, where it may be a block the journaller is still
	 * writing. It is told when events follow it, or when the catch-up
	 * ends; a read that goes on after the last event drops it (that read
	 * meets it again if it is still there). */
	char bad[1024];
};

static void catchup_tell_bad(struct bridge *b, struct catchup_state *cs, char *err, size_t errlen)
{
	if (cs->bad[0] != '\0')
		catchup_warn(b, err, errlen, "%s", cs->bad);
	cs->bad[0] = '\0';
}

/* Read to the journal's end, sending what passes the filter. Returns the
 * events sent, -EINTR, or a read error (err filled). */
static int64_t catchup_read(struct bridge *b, struct catchup_state *cs,
			    volatile sig_atomic_t *stop, char *err, size_t errlen)
{
	struct shmbus_journal_error jerr = {0};
	int64_t n = 0;
	for (;;) {
		const struct shmbus_event_header *ev;
		if (stop != NULL && *stop)
			return -EINTR;
		int rc = shmbus_journal_reader_next(cs->r, &ev, &jerr);
		if (rc == 0)
			return n;
		if (rc == -EBADMSG) { /* damaged data: reported, the reader goes on */
			catchup_tell_bad(b, cs, err, errlen); /* a segment followed it */
			snprintf(cs->bad, sizeof cs->bad,
				 "journal read: %s (%s at byte %llu): its events were skipped",
				 jerr.detail, jerr.segment, (unsigned long long)jerr.offset);
			jerr.segment[0] = '\0'; /* not to be named by a later error */
			jerr.offset = 0;
			continue;
		}
		if (rc < 0) { /* an I/O error may pass: fail rather than skip */
			snprintf(err, errlen, "journal read: %s (%s at byte %llu)", strerror(-rc),
				 jerr.segment[0] ? jerr.segment : b->cfg.journal_dir,
				 (unsigned long long)jerr.offset);
			return rc;
		}
		catchup_tell_bad(b, cs, err, errlen); /* events follow it: not a write in progress */
		cs->have_last = 1;
		cs->last_source = ev->source_id;
		cs->last_seq = ev->seq;
		const struct bridge_src *m = bridge_srcmap_get(&cs->jmax, ev->source_id);
		if (m == NULL || ev->seq > m->seq)
			progress_set(b, &cs->jmax, "journal's last", LOSS_CATCHUP, ev->source_id,
				     ev->seq, ev->event_time_ns);
		m = bridge_srcmap_get(&cs->rmax, ev->source_id);
		if (m == NULL || ev->seq > m->seq)
			progress_set(b, &cs->rmax, "journal's last", LOSS_CATCHUP, ev->source_id,
				     ev->seq, ev->event_time_ns);
		if (cs->ck.e != NULL && bridge_srcmap_get(&cs->ck, ev->source_id) != NULL) {
			const struct bridge_src *s = bridge_srcmap_get(&cs->seen, ev->source_id);
			if (s == NULL || ev->seq > s->seq)
				progress_set(b, &cs->seen, "journal's last", LOSS_CATCHUP,
					     ev->source_id, ev->seq, ev->event_time_ns);
		}
		if (!catchup_wanted(b, ev))
			continue;
		n++;
		b->st.journal++;
		while (!offer(b, ev)) {
			if (stop != NULL && *stop)
				return -EINTR;
			if (pump(b) == 0)
				nap(100000);
		}
	}
}

/*
 * Sources whose events up to their seq at subscription (b->published) the
 * journal read so far does not reach, and that the checkpoint does not
 * cover either: those events may have missed the ring. On the first call
 * a source not read since t_from is looked up at the journal's end.
 * Warns about each when `warn`. Returns how many.
 */
/* Does the hand-over still wait for source p (published, not yet
 * exported, and beyond what the journal read so far holds)? */
static int handover_wants(struct bridge *b, struct catchup_state *cs, const struct bridge_src *p)
{
	const struct bridge_src *a = bridge_srcmap_get(&b->acked, p->source);
	const struct bridge_src *j = bridge_srcmap_get(&cs->jmax, p->source);
	return (a == NULL || a->seq < p->seq) && (j == NULL || j->seq < p->seq);
}

/* The sources not read since t_from are looked up at the journal's end,
 * all in one backward pass (a source the journal lacks costs that pass
 * once, not once per source). */
static void handover_lookup(struct bridge *b, struct catchup_state *cs)
{
	struct shmbus_journal_error jerr = {0};
	const struct bridge_src *p;
	uint32_t n = 0, k = 0;
	for (uint32_t it = 0; (p = bridge_srcmap_next(&b->published, &it)) != NULL;)
		n += handover_wants(b, cs, p);
	uint32_t *src = n ? calloc(n, sizeof(*src)) : NULL;
	uint64_t *seq = n ? calloc(n, sizeof(*seq)) : NULL;
	if (n && (!src || !seq)) {
		free(src);
		free(seq);
		return; /* the waits go by what the journal read shows */
	}
	for (uint32_t it = 0; (p = bridge_srcmap_next(&b->published, &it)) != NULL && k < n;)
		if (handover_wants(b, cs, p))
			src[k++] = p->source;
	if (k && shmbus_journal_reader_last_seqs(cs->r, src, k, seq, &jerr) > 0)
		for (uint32_t i = 0; i < k; i++) {
			const struct bridge_src *j = bridge_srcmap_get(&cs->jmax, src[i]);
			if (seq[i] > 0 && (j == NULL || seq[i] > j->seq)) {
				progress_set(b, &cs->jmax, "journal's last", LOSS_CATCHUP, src[i],
					     seq[i], 0);
				/* found, not read: its events lie before t_from */
				progress_set(b, &cs->unread, "journal's last", LOSS_CATCHUP,
					     src[i], seq[i], 0);
			}
		}
	free(src);
	free(seq);
}

static unsigned handover_behind(struct bridge *b, struct catchup_state *cs, int first, int warn,
				char *err, size_t errlen)
{
	unsigned behind = 0;
	const struct bridge_src *p, *a, *j;
	if (first)
		handover_lookup(b, cs);
	for (uint32_t it = 0; (p = bridge_srcmap_next(&b->published, &it)) != NULL;) {
		if ((a = bridge_srcmap_get(&b->acked, p->source)) != NULL && a->seq >= p->seq)
			continue; /* exported before the restart */
		j = bridge_srcmap_get(&cs->jmax, p->source);
		uint64_t have = j != NULL ? j->seq : 0;
		if (have >= p->seq)
			continue;
		if (warn && behind < CATCHUP_WARN_MAX)
			catchup_warn(b, err, errlen,
				     "hand-over: journal %s holds source %" PRIu32 " up to seq %" PRIu64
				     " after %lld ms, but the bus had published up to seq %" PRIu64
				     " when the bridge subscribed its ring: those events of it were "
				     "not exported (is the journaller running, keeping up, and taking "
				     "every event?)",
				     b->cfg.journal_dir, p->source, have,
				     (long long)b->cfg.handover_timeout_ms, p->seq);
		behind++;
	}
	if (warn && behind > CATCHUP_WARN_MAX)
		catchup_warn(b, err, errlen, "hand-over: %u more sources behind in journal %s",
			     behind - CATCHUP_WARN_MAX, b->cfg.journal_dir);
	return behind;
}

/* Reopen the journal (it grew) and read on after the last event read. */
static int catchup_reopen(struct bridge *b, struct catchup_state *cs, char *err, size_t errlen)
{
	struct shmbus_journal_query q = cs->q;
	cs->bad[0] = '\0'; /* read again below, if it is still there */
	shmbus_journal_reader_close(cs->r);
	cs->r = NULL;
	int rc = catchup_open(b, &cs->r, err, errlen);
	if (rc < 0)
		return rc == -ENOENT ? -EIO : rc; /* it was there a moment ago */
	if (cs->have_last) {
		q.after = 1;
		q.after_source = cs->last_source;
		q.after_seq = cs->last_seq;
	}
	if ((rc = shmbus_journal_reader_seek(cs->r, &q)) < 0)
		snprintf(err, errlen, "journal seek: %s (%s)", strerror(-rc), b->cfg.journal_dir);
	return rc;
}

/*
 * Sources the hand-over found in the journal (looking back from its end)
 * beyond both the checkpoint and what the catch-up read: their events lie
 * before t_from (event times older than the checkpoint's by more than the
 * slack: a replay or backfill started while the bridge was down, a source
 * whose event times went back), so they were not exported. The hand-over
 * used to count them as caught up and say nothing: silent loss. Whether
 * they were published while the bridge was down or before it ever ran
 * cannot be told from the journal, so say so and name the remedy.
 */
static void catchup_check_unread(struct bridge *b, struct catchup_state *cs, char *err,
				 size_t errlen)
{
	const struct bridge_src *u, *r, *c;
	unsigned warned = 0, more = 0;
	for (uint32_t it = 0; (u = bridge_srcmap_next(&cs->unread, &it)) != NULL;) {
		uint64_t from = 0;
		if ((r = bridge_srcmap_get(&cs->rmax, u->source)) != NULL)
			from = r->seq;
		if (cs->ck.e != NULL && (c = bridge_srcmap_get(&cs->ck, u->source)) != NULL &&
		    c->seq > from)
			from = c->seq;
		if (u->seq <= from)
			continue;
		if (warned == CATCHUP_WARN_MAX) {
			more++;
			continue;
		}
		warned++;
		catchup_warn(b, err, errlen,
			     "catch-up: journal %s holds source %" PRIu32 " up to seq %" PRIu64
			     " but its events after seq %" PRIu64 " lie before the catch-up's start "
			     "(event time %" PRId64 ", the checkpoint's minus --catchup-slack-ms): "
			     "they were not exported; if they were published while the bridge was "
			     "down, restart with --catchup-slack-ms -1 to export them",
			     b->cfg.journal_dir, u->source, u->seq, from, cs->q.t_from);
	}
	if (more > 0)
		catchup_warn(b, err, errlen,
			     "catch-up: %u more source%s of journal %s lie before the catch-up's "
			     "start and were not exported",
			     more, more == 1 ? "" : "s", b->cfg.journal_dir);
}

int64_t bridge_catchup(struct bridge *b, volatile sig_atomic_t *stop, char *err, size_t errlen)
{
	struct catchup_state cs;
	int64_t n = 0, got;
	memset(&cs, 0, sizeof cs);
	if (b->cfg.journal_dir == NULL)
		return -ENOENT;
	if (!b->had_checkpoint && !b->cfg.from_journal_start)
		return 0; /* first start: begin live unless asked for the journal */
	int rc = catchup_open(b, &cs.r, err, errlen);
	if (rc < 0)
		return rc;
	catchup_query(b, &cs.q);
	if ((rc = shmbus_journal_reader_seek(cs.r, &cs.q)) < 0) {
		snprintf(err, errlen, "journal seek: %s (%s)", strerror(-rc), b->cfg.journal_dir);
		shmbus_journal_reader_close(cs.r);
		return rc;
	}
	if (bridge_srcmap_init(&cs.jmax) < 0 || bridge_srcmap_init(&cs.rmax) < 0 ||
	    bridge_srcmap_init(&cs.unread) < 0 ||
	    (b->had_checkpoint &&
	     (bridge_srcmap_init(&cs.ck) < 0 || bridge_srcmap_init(&cs.seen) < 0))) {
		snprintf(err, errlen, "journal catch-up: out of memory");
		n = -ENOMEM;
		goto out;
	}
	/* The checkpoint as loaded (acked moves on as the catch-up is acked). */
	if (b->had_checkpoint && bridge_srcmap_copy(&cs.ck, &b->acked) < 0) {
		snprintf(err, errlen, "journal catch-up: out of memory");
		n = -ENOMEM;
		goto out;
	}
	/* The hand-over waits only for this bus's own journal. */
	const char *jbus = b->cfg.journal_bus;
	int handover = jbus == NULL || strcmp(jbus, shmbus_bus_name(b->bus)) == 0;
	int64_t deadline = mono_ns() + b->cfg.handover_timeout_ms * 1000000LL;
	for (int first = 1;; first = 0) {
		if ((got = catchup_read(b, &cs, stop, err, errlen)) < 0) {
			n = got;
			break;
		}
		n += got;
		if (!handover || handover_behind(b, &cs, first, 0, err, errlen) == 0)
			break;
		if (mono_ns() >= deadline) {
			handover_behind(b, &cs, 0, 1, err, errlen);
			break;
		}
		for (int64_t until = mono_ns() + 5000000; mono_ns() < until;)
			if (pump(b) == 0)
				nap(500000);
		if ((rc = catchup_reopen(b, &cs, err, errlen)) < 0) {
			n = rc;
			break;
		}
	}
	catchup_tell_bad(b, &cs, err, errlen);
	if (n >= 0)
		catchup_check_unread(b, &cs, err, errlen);
	if (n >= 0 && cs.ck.e != NULL)
		catchup_check_ahead(b, cs.r, &cs.ck, &cs.seen, cs.q.t_from, err, errlen);
out:
	bridge_srcmap_free(&cs.ck);
	bridge_srcmap_free(&cs.seen);
	bridge_srcmap_free(&cs.jmax);
	bridge_srcmap_free(&cs.rmax);
	bridge_srcmap_free(&cs.unread);
	shmbus_journal_reader_close(cs.r);
	return n;
}

int bridge_drain(struct bridge *b, int timeout_ms, char *err, size_t errlen)
{
	int64_t end = mono_ns() + (int64_t)timeout_ms * 1000000LL;
	b->no_ring = 1;
	while (b->head != b->tail && mono_ns() < end)
		bridge_step(b, 200000);
	b->no_ring = 0;
	int rc = bridge_checkpoint(b, err, errlen);
	if (rc == 0 && b->head != b->tail) {
		snprintf(err, errlen, "drain: %llu events still unacknowledged after %d ms",
			 (unsigned long long)(b->tail - b->head), timeout_ms);
		rc = -ETIMEDOUT;
	}
	return rc;
}

void bridge_get_stats(struct bridge *b, struct bridge_stats *st)
{
	struct shmbus_ring_stat rs;
	b->st.inflight = (uint32_t)(b->tail - b->head);
	b->st.connected = all_connected(b);
	b->st.reconnects = 0;
	for (int k = 0; k < b->nsinks; k++)
		b->st.reconnects += b->sinks[k]->ops->reconnects(b->sinks[k]);
	if (shmbus_stat_ring(b->bus, shmbus_consumer_ring(b->c), &rs) == 0)
		b->st.ring_depth = rs.depth;
	*st = b->st;
}

uint64_t bridge_acked_total(const struct bridge *b)
{
	return b->st.acked;
}

uint64_t bridge_acked_seq(struct bridge *b, uint32_t source)
{
	const struct bridge_src *s = bridge_srcmap_get(&b->acked, source);
	return s != NULL ? s->seq : 0;
}

void bridge_close(struct bridge *b)
{
	if (b == NULL)
		return;
	if (b->c != NULL)
		shmbus_consumer_close(b->c);
	for (int k = 0; k < b->nsinks; k++)
		b->sinks[k]->ops->destroy(b->sinks[k]);
	bridge_srcmap_free(&b->acked);
	bridge_srcmap_free(&b->sent);
	bridge_srcmap_free(&b->published);
	bridge_srcmap_free(&b->live);
	free(b->ring_symbols);
	free(b->w);
	free(b);
}
