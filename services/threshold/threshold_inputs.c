/*
 * threshold_inputs.c - bar and indicator events to evaluator updates
 * (threshold_inputs.h).
 */
#include "threshold_inputs.h"

#include <string.h>

void shmbus_thr_inputs_init(struct shmbus_thr_inputs *m, const struct shmbus_thr_eval *ev)
{
	static const char *const bar_names[5] = {"close", "open", "high", "low", "volume"};
	memset(m, 0, sizeof(*m));
	m->ev = ev;
	for (int i = 0; i < 5; i++)
		m->bar_ids[i] = shmbus_thr_value_id(ev, bar_names[i]);
}

/* Value ids of an indicator's outputs, cached per (kind, params). */
static const struct shmbus_thr_ind_ids *ind_ids(struct shmbus_thr_inputs *m,
						 const struct shmbus_indicator *e)
{
	char name[SHMBUS_RULE_NAME_MAX + 16];
	for (unsigned i = 0; i < m->nind; i++)
		if (m->ind[i].kind == e->kind && memcmp(m->ind[i].param, e->param, 6) == 0)
			return &m->ind[i];
	/* absurdly many parameter sets: the rest are looked up each time, a
	 * set a rule reads must still reach it */
	struct shmbus_thr_ind_ids *c =
		m->nind < SHMBUS_THR_IND_CACHE ? &m->ind[m->nind++] : &m->spill;
	c->kind = e->kind;
	memcpy(c->param, e->param, sizeof(c->param));
	for (unsigned k = 0; k < 3; k++) {
		c->id[k] = -1;
		if (shmbus_rule_indicator_value_name(e->kind, e->param, k, name, sizeof(name)) == 0)
			c->id[k] = shmbus_thr_value_id(m->ev, name);
		if (c->id[k] < 0)
			c->id[k] = -1;
	}
	return c;
}

int shmbus_thr_inputs_of(struct shmbus_thr_inputs *m, const struct shmbus_event_header *ev,
			 struct shmbus_thr_input *in, int64_t *origin_ns)
{
	int n = 0;
	if (ev->type == SHMBUS_EV_BAR && ev->size >= sizeof(struct shmbus_bar)) {
		const struct shmbus_bar *b = (const struct shmbus_bar *)(const void *)ev;
		const double v[5] = {b->close, b->open, b->high, b->low, b->volume};
		for (int i = 0; i < 5; i++)
			if (m->bar_ids[i] >= 0)
				in[n++] = (struct shmbus_thr_input){m->bar_ids[i], v[i]};
		*origin_ns = b->origin_ns;
		return n;
	}
	if (ev->type == SHMBUS_EV_INDICATOR && ev->size >= sizeof(struct shmbus_indicator)) {
		const struct shmbus_indicator *e = (const struct shmbus_indicator *)(const void *)ev;
		const struct shmbus_thr_ind_ids *ids = ind_ids(m, e);
		for (int i = 0; i < 3; i++)
			if (ids->id[i] >= 0)
				in[n++] = (struct shmbus_thr_input){ids->id[i], e->value[i]};
		*origin_ns = e->origin_ns;
		return n;
	}
	return -1;
}
