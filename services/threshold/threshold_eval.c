/*
 * threshold_eval.c - rule evaluator (semantics in threshold_eval.h).
 *
 * Design: at creation every distinct series name the rules read gets a small
 * integer id, and a CSR table lists, per series, the rules that read it; an
 * update marks those rules and evaluates each marked rule once, in rule
 * order. Symbols live in an open-addressing hash table (FNV-1a, linear
 * probing, grown at half load); each symbol owns one block holding its
 * latest values, their presence flags and its per-rule states, so the hot
 * path touches one allocation per symbol and allocates only on the first
 * sight of a symbol. Rule state is tiny: armed flag (levels), last side
 * (crossings, sign changes) and last reported firing time (cooldown).
 */
#include "threshold_eval.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <shmbus/symbol.h>

_Static_assert(SHMBUS_RULE_SYMBOL_MAX == SHMBUS_SYMBOL_MAX, "rules take every bus symbol");

struct thr_state {
	int8_t side;       /* -1, +1, 0 = not yet known */
	uint8_t armed;     /* level rules */
	uint8_t has_fired; /* last_fire_ns is set */
	uint8_t allowed;   /* the rule applies to this symbol */
	int64_t last_fire_ns;
};

struct thr_sym {
	char name[SHMBUS_RULE_SYMBOL_MAX + 1];
	uint32_t len;
	double *val;
	uint8_t *has;
	uint8_t *dirty; /* series applied since the symbol's last evaluation */
	struct thr_state *st;
};

struct shmbus_thr_eval {
	struct shmbus_rule *rules;
	uint32_t nrules;
	int32_t *va, *vb; /* series id of each rule's operands, -1 for constants */
	char (*vname)[SHMBUS_RULE_NAME_MAX + 1];
	uint32_t nvals;
	uint32_t *dep_off, *dep; /* rules reading series v: dep[dep_off[v] .. dep_off[v+1]) */
	uint8_t *touched;
	struct thr_sym **tab;
	uint32_t cap;
	struct shmbus_thr_stats st;
};

static uint32_t thr_hash(const char *s, size_t n)
{
	uint32_t h = 2166136261u;

	for (size_t i = 0; i < n; i++)
		h = (h ^ (uint8_t)s[i]) * 16777619u;
	return h;
}

static int32_t thr_intern(struct shmbus_thr_eval *e, const struct shmbus_rule_operand *o)
{
	if (o->kind == SHMBUS_OPND_CONST)
		return -1;
	for (uint32_t v = 0; v < e->nvals; v++)
		if (strcmp(e->vname[v], o->name) == 0)
			return (int32_t)v;
	memcpy(e->vname[e->nvals], o->name, sizeof(e->vname[0]));
	return (int32_t)e->nvals++;
}

/* Builds series ids and the series -> rules table. */
static int thr_index(struct shmbus_thr_eval *e)
{
	uint32_t n = e->nrules, k = 0;

	e->va = malloc(n * sizeof(*e->va));
	e->vb = malloc(n * sizeof(*e->vb));
	e->vname = calloc(2 * (size_t)n, sizeof(*e->vname));
	e->dep_off = calloc(2 * (size_t)n + 1, sizeof(*e->dep_off));
	e->dep = malloc(2 * (size_t)n * sizeof(*e->dep));
	e->touched = calloc(n, 1);
	if (!e->va || !e->vb || !e->vname || !e->dep_off || !e->dep || !e->touched)
		return -ENOMEM;
	for (uint32_t i = 0; i < n; i++) {
		e->va[i] = thr_intern(e, &e->rules[i].a);
		e->vb[i] = thr_intern(e, &e->rules[i].b);
	}
	for (uint32_t v = 0; v < e->nvals; v++) {
		e->dep_off[v] = k;
		for (uint32_t i = 0; i < n; i++)
			if (e->va[i] == (int32_t)v || e->vb[i] == (int32_t)v)
				e->dep[k++] = i;
	}
	e->dep_off[e->nvals] = k;
	return 0;
}

int shmbus_thr_create(struct shmbus_thr_eval **out, const struct shmbus_ruleset *rs)
{
	struct shmbus_thr_eval *e;
	int rc;

	*out = NULL;
	if (!rs || rs->count == 0 || !rs->rules)
		return -EINVAL;
	e = calloc(1, sizeof(*e));
	if (!e)
		return -ENOMEM;
	e->nrules = rs->count;
	e->rules = malloc(rs->count * sizeof(*e->rules));
	e->cap = 64;
	e->tab = calloc(e->cap, sizeof(*e->tab));
	rc = (e->rules && e->tab) ? 0 : -ENOMEM;
	if (rc == 0) {
		memcpy(e->rules, rs->rules, rs->count * sizeof(*e->rules));
		rc = thr_index(e);
	}
	if (rc != 0) {
		shmbus_thr_destroy(e);
		return rc;
	}
	*out = e;
	return 0;
}

void shmbus_thr_destroy(struct shmbus_thr_eval *e)
{
	if (!e)
		return;
	for (uint32_t i = 0; e->tab && i < e->cap; i++)
		free(e->tab[i]);
	free(e->tab);
	free(e->rules);
	free(e->va);
	free(e->vb);
	free(e->vname);
	free(e->dep_off);
	free(e->dep);
	free(e->touched);
	free(e);
}

int shmbus_thr_value_id(const struct shmbus_thr_eval *e, const char *name)
{
	for (uint32_t v = 0; v < e->nvals; v++)
		if (strcmp(e->vname[v], name) == 0)
			return (int)v;
	return -ENOENT;
}

uint32_t shmbus_thr_value_count(const struct shmbus_thr_eval *e)
{
	return e->nvals;
}

const char *shmbus_thr_value_name(const struct shmbus_thr_eval *e, uint32_t id)
{
	return id < e->nvals ? e->vname[id] : NULL;
}

uint32_t shmbus_thr_rule_count(const struct shmbus_thr_eval *e)
{
	return e->nrules;
}

void shmbus_thr_get_stats(const struct shmbus_thr_eval *e, struct shmbus_thr_stats *st)
{
	*st = e->st;
}

static int thr_rule_allows(const struct shmbus_rule *r, const char *s, size_t n)
{
	if (r->nsymbols == 0)
		return 1;
	for (uint32_t i = 0; i < r->nsymbols; i++)
		if (strlen(r->symbols[i]) == n && memcmp(r->symbols[i], s, n) == 0)
			return 1;
	return 0;
}

static struct thr_sym *thr_sym_new(const struct shmbus_thr_eval *e, const char *s, size_t n)
{
	size_t sz = sizeof(struct thr_sym) + e->nvals * sizeof(double) +
		    e->nrules * sizeof(struct thr_state) + 2 * (size_t)e->nvals;
	struct thr_sym *y = calloc(1, sz);

	if (!y)
		return NULL;
	memcpy(y->name, s, n);
	y->len = (uint32_t)n;
	y->val = (double *)(y + 1);
	y->st = (struct thr_state *)(y->val + e->nvals);
	y->has = (uint8_t *)(y->st + e->nrules);
	y->dirty = y->has + e->nvals;
	for (uint32_t i = 0; i < e->nrules; i++) {
		y->st[i].armed = 1;
		y->st[i].allowed = (uint8_t)thr_rule_allows(&e->rules[i], s, n);
	}
	return y;
}

static int thr_grow(struct shmbus_thr_eval *e)
{
	uint32_t nc = e->cap * 2;
	struct thr_sym **t = calloc(nc, sizeof(*t));

	if (!t)
		return -ENOMEM;
	for (uint32_t i = 0; i < e->cap; i++) {
		uint32_t h;
		if (!e->tab[i])
			continue;
		h = thr_hash(e->tab[i]->name, e->tab[i]->len) & (nc - 1);
		while (t[h])
			h = (h + 1) & (nc - 1);
		t[h] = e->tab[i];
	}
	free(e->tab);
	e->tab = t;
	e->cap = nc;
	return 0;
}

static struct thr_sym *thr_lookup(struct shmbus_thr_eval *e, const char *s, size_t n)
{
	uint32_t h = thr_hash(s, n) & (e->cap - 1);

	for (; e->tab[h]; h = (h + 1) & (e->cap - 1))
		if (e->tab[h]->len == n && memcmp(e->tab[h]->name, s, n) == 0)
			return e->tab[h];
	if ((e->st.symbols + 1) * 2 > e->cap) {
		if (thr_grow(e) != 0)
			return NULL;
		return thr_lookup(e, s, n);
	}
	e->tab[h] = thr_sym_new(e, s, n);
	if (e->tab[h])
		e->st.symbols++;
	return e->tab[h];
}

/* Reads an operand; returns 0 when it has no value yet. */
static int thr_operand(const struct thr_sym *y, const struct shmbus_rule_operand *o, int32_t id,
		       double *v)
{
	if (id < 0) {
		*v = o->constant;
		return 1;
	}
	*v = y->val[id];
	return y->has[id];
}

/* Advances the state of rule @r; returns whether it triggers. */
static int thr_step(const struct shmbus_rule *r, struct thr_state *st, double a, double b,
		    int *sign)
{
	double h = r->hysteresis, d = a - b;
	int cond, rearm, side, prev;

	switch (r->op) {
	case SHMBUS_RULE_GT:
	case SHMBUS_RULE_GE:
		cond = r->op == SHMBUS_RULE_GT ? a > b : a >= b;
		rearm = r->op == SHMBUS_RULE_GT ? a <= b - h : a < b - h;
		break;
	case SHMBUS_RULE_LT:
	case SHMBUS_RULE_LE:
		cond = r->op == SHMBUS_RULE_LT ? a < b : a <= b;
		rearm = r->op == SHMBUS_RULE_LT ? a >= b + h : a > b + h;
		break;
	default:
		side = d > h ? 1 : d < -h ? -1 : 0;
		if (side == 0)
			return 0;
		prev = st->side;
		st->side = (int8_t)side;
		*sign = side;
		if (prev == 0 || prev == side)
			return 0;
		return r->op == SHMBUS_RULE_SIGN_CHANGE ||
		       (r->op == SHMBUS_RULE_CROSSES_ABOVE) == (side > 0);
	}
	if (st->armed && cond) {
		st->armed = 0;
		return 1;
	}
	if (!st->armed && rearm)
		st->armed = 1;
	return 0;
}

static enum shmbus_threshold_direction thr_direction(enum shmbus_rule_op op)
{
	switch (op) {
	case SHMBUS_RULE_CROSSES_ABOVE:
		return SHMBUS_CROSS_ABOVE;
	case SHMBUS_RULE_CROSSES_BELOW:
		return SHMBUS_CROSS_BELOW;
	case SHMBUS_RULE_SIGN_CHANGE:
		return SHMBUS_SIGN_CHANGE;
	default:
		return SHMBUS_LEVEL_ENTER;
	}
}

/* Whether a firing at event time @t falls in the cooldown of the last
 * reported one: [last, last + cooldown). A time before the last firing (a
 * replay, another source's clock) is not after it; unsigned, because the
 * distance between two event times may not fit an int64_t. */
static int thr_cooling(const struct shmbus_rule *r, const struct thr_state *st, int64_t t)
{
	return st->has_fired && t >= st->last_fire_ns &&
	       (uint64_t)t - (uint64_t)st->last_fire_ns < (uint64_t)r->cooldown_ns;
}

/* Evaluates rule @i for @y; returns 1 when @f holds a firing. */
static int thr_eval_rule(struct shmbus_thr_eval *e, uint32_t i, struct thr_sym *y,
			 const struct shmbus_thr_trigger *trig, struct shmbus_thr_fire *f)
{
	const struct shmbus_rule *r = &e->rules[i];
	struct thr_state *st = &y->st[i];
	double a, b;
	int sign = 0;

	if (!st->allowed || !thr_operand(y, &r->a, e->va[i], &a) ||
	    !thr_operand(y, &r->b, e->vb[i], &b))
		return 0;
	e->st.evaluations++;
	if (!thr_step(r, st, a, b, &sign))
		return 0;
	if (thr_cooling(r, st, trig->time_ns)) {
		e->st.suppressed++;
		return 0;
	}
	st->has_fired = 1;
	st->last_fire_ns = trig->time_ns;
	e->st.fired++;
	*f = (struct shmbus_thr_fire){.rule_index = i,
				      .rule_id = r->id,
				      .direction = thr_direction(r->op),
				      .op = r->op,
				      .sign = r->op == SHMBUS_RULE_SIGN_CHANGE ? sign : 0,
				      .value = a,
				      .threshold = b,
				      .symbol_len = y->len,
				      .trigger = *trig};
	return 1;
}

/* Checks, then the symbol's entry (made at first sight); NULL with *rc. */
static struct thr_sym *thr_sym_for(struct shmbus_thr_eval *e, const char *sym, size_t sym_len,
				   const struct shmbus_thr_input *in, size_t n, int *rc)
{
	struct thr_sym *y;

	*rc = -EINVAL;
	if (!sym || sym_len == 0 || sym_len > SHMBUS_RULE_SYMBOL_MAX)
		return NULL;
	for (size_t k = 0; k < n; k++)
		if (in[k].value_id < 0 || (uint32_t)in[k].value_id >= e->nvals)
			return NULL;
	y = thr_lookup(e, sym, sym_len);
	*rc = y ? 0 : -ENOMEM;
	return y;
}

/* Take the values; their rules are evaluated at the symbol's next update. */
static void thr_apply(struct shmbus_thr_eval *e, struct thr_sym *y,
		      const struct shmbus_thr_input *in, size_t n)
{
	e->st.updates++;
	for (size_t k = 0; k < n; k++) {
		uint32_t v = (uint32_t)in[k].value_id;
		y->val[v] = in[k].value;
		y->has[v] = !isnan(in[k].value);
		y->dirty[v] = 1;
	}
}

int shmbus_thr_apply(struct shmbus_thr_eval *e, const char *sym, size_t sym_len,
		     const struct shmbus_thr_input *in, size_t n)
{
	int rc;
	struct thr_sym *y = thr_sym_for(e, sym, sym_len, in, n, &rc);

	if (y)
		thr_apply(e, y, in, n);
	return rc;
}

int shmbus_thr_update(struct shmbus_thr_eval *e, const char *sym, size_t sym_len,
		      const struct shmbus_thr_input *in, size_t n,
		      const struct shmbus_thr_trigger *trig, struct shmbus_thr_fire *fires,
		      size_t max_fires)
{
	struct shmbus_thr_fire f;
	size_t out = 0;
	int rc;

	if (!trig)
		return -EINVAL;
	struct thr_sym *y = thr_sym_for(e, sym, sym_len, in, n, &rc);
	if (!y)
		return rc;
	thr_apply(e, y, in, n);
	/* every rule reading a series applied since the last evaluation,
	 * by this update or by shmbus_thr_apply() before it */
	for (uint32_t v = 0; v < e->nvals; v++) {
		if (!y->dirty[v])
			continue;
		y->dirty[v] = 0;
		for (uint32_t d = e->dep_off[v]; d < e->dep_off[v + 1]; d++)
			e->touched[e->dep[d]] = 1;
	}
	for (uint32_t i = 0; i < e->nrules; i++) {
		if (!e->touched[i])
			continue;
		e->touched[i] = 0;
		if (!thr_eval_rule(e, i, y, trig, &f))
			continue;
		f.symbol = sym;
		if (out < max_fires)
			fires[out++] = f;
		else
			e->st.lost++;
	}
	return (int)out;
}

int shmbus_thr_update_named(struct shmbus_thr_eval *e, const char *sym, size_t sym_len,
			    const char *const *names, const double *values, size_t n,
			    const struct shmbus_thr_trigger *trig, struct shmbus_thr_fire *fires,
			    size_t max_fires)
{
	struct shmbus_thr_input in[32];
	size_t k = 0;

	if (n > 32)
		return -EINVAL;
	for (size_t i = 0; i < n; i++) {
		int id = shmbus_thr_value_id(e, names[i]);
		if (id >= 0)
			in[k++] = (struct shmbus_thr_input){id, values[i]};
	}
	return shmbus_thr_update(e, sym, sym_len, in, k, trig, fires, max_fires);
}
