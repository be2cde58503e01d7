/*
 * jtt_events.h - mixed events for the journal tool tests: every known type
 * and a user type, several symbols, event times that mostly rise (with
 * some steps back so time filters cannot rely on order).
 */
#ifndef SHMBUS_JTT_EVENTS_H
#define SHMBUS_JTT_EVENTS_H

#include <math.h>

#include "jtt.h"

#define JTT_NSYM 5
static const char *const jtt_symnames[JTT_NSYM] = {"SPY", "IBM", "MSFT", "BTC-USD", "ETH-USD"};

struct jtt_rec {
	_Alignas(8) uint8_t b[256];
};

struct jtt_gen {
	uint64_t rng;
	int64_t t;
	uint32_t sym[JTT_NSYM]; /* bus ids of jtt_symnames */
};

static inline void jtt_gen_init(struct jtt_gen *g, shmbus_bus *b, uint64_t seed)
{
	g->rng = seed;
	g->t = 1700000000000000000ll;
	for (int i = 0; i < JTT_NSYM; i++)
		g->sym[i] = (uint32_t)shmbus_symbol_intern(b, jtt_symnames[i], strlen(jtt_symnames[i]));
}

static inline void jtt_fill_indicator(struct jtt_gen *g, struct shmbus_indicator *ind)
{
	static const uint16_t kinds[] = {SHMBUS_IND_SMA, SHMBUS_IND_MACD, SHMBUS_IND_BOLLINGER,
	                                 SHMBUS_IND_RSI, SHMBUS_IND_VWAP};
	ind->kind = kinds[jtt_rand(&g->rng) % 5];
	if (ind->kind == SHMBUS_IND_MACD) {
		ind->param[0] = 12, ind->param[1] = 26, ind->param[2] = 9;
	} else if (ind->kind == SHMBUS_IND_BOLLINGER) {
		ind->param[0] = 20, ind->param[1] = 2;
	} else if (ind->kind != SHMBUS_IND_VWAP) {
		ind->param[0] = ind->kind == SHMBUS_IND_RSI ? 14 : 20;
	}
	for (int i = 0; i < 3; i++)
		ind->value[i] = (double)(jtt_rand(&g->rng) % 100000) / 64.0;
	ind->origin_ns = g->t - 5;
}

/* Payload of a known type (header filled by the caller). */
static inline void jtt_fill(struct jtt_gen *g, struct shmbus_event_header *h)
{
	double x = (double)(jtt_rand(&g->rng) % 1000000) / 100.0;
	switch (h->type) {
	case SHMBUS_EV_TRADE: ((struct shmbus_trade *)h)->price = x;
		((struct shmbus_trade *)h)->size = 0.125; break;
	case SHMBUS_EV_QUOTE: ((struct shmbus_quote *)h)->bid = x;
		((struct shmbus_quote *)h)->ask = x + 0.01; break;
	case SHMBUS_EV_BAR: ((struct shmbus_bar *)h)->close = x;
		((struct shmbus_bar *)h)->start_ns = g->t - 1000000000; break;
	case SHMBUS_EV_INDICATOR: jtt_fill_indicator(g, (struct shmbus_indicator *)h); break;
	case SHMBUS_EV_THRESHOLD: ((struct shmbus_threshold *)h)->trigger_seq = jtt_rand(&g->rng) % 999;
		((struct shmbus_threshold *)h)->value = x; break;
	case SHMBUS_EV_COLLECTION_FAILED:
		snprintf(((struct shmbus_collection_failed *)h)->reason, 48, "feed gap %u",
		         (unsigned)(jtt_rand(&g->rng) % 100)); break;
	case SHMBUS_EV_HEARTBEAT: ((struct shmbus_heartbeat *)h)->events_out = jtt_rand(&g->rng) % 5000;
		break;
	default:
		for (size_t i = sizeof(*h); i < h->size; i++)
			((uint8_t *)h)[i] = (uint8_t)jtt_rand(&g->rng);
	}
}

/* Make the next event into r (seq 0: the producer assigns it). */
static struct shmbus_event_header *jtt_gen_next(struct jtt_gen *g, struct jtt_rec *r)
{
	struct shmbus_event_header *h = (struct shmbus_event_header *)r->b;
	memset(r, 0, sizeof(*r));
	unsigned type = 1 + (unsigned)(jtt_rand(&g->rng) % 8);
	if (type == 8) {
		h->type = SHMBUS_EV_USER + 3;
		h->size = (uint16_t)(40 + 8 * (jtt_rand(&g->rng) % 27)); /* up to 248 */
	} else {
		h->type = (uint16_t)type;
		h->size = (uint16_t)shmbus_event_type_size(type);
	}
	h->version = 1;
	h->symbol_id = h->type == SHMBUS_EV_HEARTBEAT ? 0 : g->sym[jtt_rand(&g->rng) % JTT_NSYM];
	g->t += (int64_t)(jtt_rand(&g->rng) % 2000000) - 300000;
	h->event_time_ns = g->t;
	jtt_fill(g, h);
	return h;
}

/* Publish via p; r gets the identity the producer assigned. */
static inline int jtt_publish(shmbus_producer *p, struct jtt_rec *r)
{
	struct shmbus_event_header *h = (struct shmbus_event_header *)r->b;
	int rc = shmbus_publish(p, h);
	h->source_id = shmbus_producer_source(p);
	h->seq = shmbus_producer_last_seq(p);
	return rc;
}

#endif /* SHMBUS_JTT_EVENTS_H */
