/*
 * synth.c - synthetic market generator (model in synth.h).
 *
 * Design: the generator is a small discrete-event simulation. The total
 * event intensity only changes when some symbol enters or leaves a burst,
 * so the next event time is drawn from an exponential with the current total
 * intensity; if that time passes the earliest pending burst toggle, the clock
 * jumps to the toggle instead, the toggle is applied and the draw is redone
 * (memorylessness makes this exact). The symbol of an event is then picked
 * in proportion to its intensity. Randomness is xoshiro256** seeded through
 * splitmix64, so a seed fully determines the output and any seed is fine.
 */
#include "synth.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct synth_sym {
	char name[SHMBUS_MD_SYMBOL_MAX + 1];
	uint32_t len;
	double mid;
	int64_t last_ns;   /* time of its last event */
	int64_t toggle_ns; /* when it next enters or leaves a burst */
	int in_burst;
};

struct shmbus_synth {
	struct shmbus_synth_options o;
	uint64_t s[4];
	struct synth_sym *sym;
	uint32_t n;
	int64_t now_ns;
	double total; /* current total intensity, events/s */
};

static uint64_t synth_splitmix(uint64_t *x)
{
	uint64_t z = (*x += UINT64_C(0x9e3779b97f4a7c15));

	z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
	return z ^ (z >> 31);
}

static uint64_t synth_rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

static uint64_t synth_u64(struct shmbus_synth *g)
{
	uint64_t *s = g->s, r = synth_rotl(s[1] * 5, 7) * 9, t = s[1] << 17;

	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = synth_rotl(s[3], 45);
	return r;
}

/* Uniform in (0, 1): never 0, so log() is safe. */
static double synth_unif(struct shmbus_synth *g)
{
	return ((double)(synth_u64(g) >> 11) + 0.5) * (1.0 / 9007199254740992.0);
}

static double synth_exp(struct shmbus_synth *g, double mean)
{
	return -log(synth_unif(g)) * mean;
}

static double synth_normal(struct shmbus_synth *g)
{
	double u1 = synth_unif(g), u2 = synth_unif(g);

	return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

static double synth_sym_rate(const struct shmbus_synth *g, const struct synth_sym *s)
{
	return g->o.rate / g->n * (s->in_burst ? g->o.burst_intensity : 1.0);
}

static int64_t synth_secs_to_ns(double s)
{
	return s > 9.0e9 ? INT64_C(9000000000000000000) : (int64_t)(s * 1e9);
}

static void synth_schedule_toggle(struct shmbus_synth *g, struct synth_sym *s)
{
	double mean = s->in_burst ? g->o.burst_mean_s : 1.0 / g->o.burst_rate;
	int64_t d = synth_secs_to_ns(synth_exp(g, mean));

	s->toggle_ns = g->now_ns > INT64_MAX - d ? INT64_MAX : g->now_ns + d;
}

static void synth_recompute(struct shmbus_synth *g)
{
	g->total = 0;
	for (uint32_t i = 0; i < g->n; i++)
		g->total += synth_sym_rate(g, &g->sym[i]);
}

/* Advances the clock to the next event and returns its symbol. The clock
 * saturates at INT64_MAX instead of wrapping: a tiny rate draws gaps of up
 * to 9e18 ns, more than is left after any start time. A toggle at
 * INT64_MAX means "never" (it is where saturated schedules land), so the
 * loop cannot spin on it once the clock is there. */
static struct synth_sym *synth_advance(struct shmbus_synth *g)
{
	for (;;) {
		struct synth_sym *first = &g->sym[0];
		int64_t dt = synth_secs_to_ns(synth_exp(g, 1.0 / g->total));
		double u;

		for (uint32_t i = 1; i < g->n; i++)
			if (g->sym[i].toggle_ns < first->toggle_ns)
				first = &g->sym[i];
		/* toggles are never behind the clock: the difference is >= 0 */
		if (first->toggle_ns != INT64_MAX && dt >= first->toggle_ns - g->now_ns) {
			g->now_ns = first->toggle_ns;
			first->in_burst = !first->in_burst;
			synth_schedule_toggle(g, first);
			synth_recompute(g);
			continue;
		}
		g->now_ns = dt > INT64_MAX - g->now_ns ? INT64_MAX : g->now_ns + dt;
		u = synth_unif(g) * g->total;
		for (uint32_t i = 0; i < g->n; i++) {
			u -= synth_sym_rate(g, &g->sym[i]);
			if (u <= 0)
				return &g->sym[i];
		}
		return &g->sym[g->n - 1];
	}
}

static double synth_tick(double px)
{
	return px >= 1.0 ? 0.01 : 0.0001;
}

static double synth_round(double px, double tick)
{
	return nearbyint(px / tick) * tick;
}

static void synth_move(struct shmbus_synth *g, struct synth_sym *s)
{
	double dt = ((double)g->now_ns - (double)s->last_ns) * 1e-9; /* no int64 overflow */
	double vol = g->o.volatility * (s->in_burst ? g->o.burst_vol : 1.0);
	double floor_px = 100 * synth_tick(s->mid);

	s->mid *= exp(vol * sqrt(dt) * synth_normal(g));
	if (s->mid < floor_px)
		s->mid = floor_px;
	s->last_ns = g->now_ns;
}

static double synth_lot(struct shmbus_synth *g)
{
	if (synth_unif(g) < 0.15)
		return 1.0 + floor(synth_unif(g) * 99.0); /* odd lot */
	return 100.0 * (1.0 + floor(synth_exp(g, 2.0)));
}

static void synth_fill(struct shmbus_synth *g, struct synth_sym *s, struct shmbus_md_record *r)
{
	double tick = synth_tick(s->mid);
	double width = s->mid * 0.0001 * (s->in_burst ? g->o.burst_vol : 1.0);
	double ticks = 1.0 + floor(synth_exp(g, width / tick));
	double bid = synth_round(s->mid - ticks * tick / 2, tick);
	double ask = synth_round(bid + ticks * tick, tick);

	if (bid < tick)
		bid = tick, ask = bid + ticks * tick;
	if (synth_unif(g) < g->o.trade_fraction) {
		r->kind = SHMBUS_MD_TRADE;
		r->price = synth_unif(g) < 0.5 ? bid : ask;
		if (g->o.fractional_sizes)
			r->size = fmax(0.0001, nearbyint(synth_exp(g, 0.5) * 1e4) / 1e4);
		else
			r->size = synth_lot(g);
	} else {
		r->kind = SHMBUS_MD_QUOTE;
		r->bid = bid;
		r->ask = ask;
		r->bid_size = synth_lot(g);
		r->ask_size = synth_lot(g);
	}
}

void shmbus_synth_next(struct shmbus_synth *g, struct shmbus_md_record *rec)
{
	struct synth_sym *s = synth_advance(g);

	synth_move(g, s);
	memset(rec, 0, sizeof(*rec));
	rec->symbol = s->name;
	rec->symbol_len = s->len;
	rec->time_ns = g->now_ns;
	synth_fill(g, s, rec);
}

static int synth_err(char *buf, size_t len, const char *msg, const char *what, size_t wl)
{
	if (buf && len)
		snprintf(buf, len, "%s '%.*s'", msg, (int)wl, what);
	return -EINVAL;
}

static int synth_add(struct shmbus_synth *g, const char *s, size_t n, char *eb, size_t el)
{
	if (n == 0 || n > SHMBUS_MD_SYMBOL_MAX)
		return synth_err(eb, el, n ? "symbol longer than 23 bytes" : "empty symbol name", s,
				 n);
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] <= 0x20 || (unsigned char)s[i] >= 0x7f)
			return synth_err(eb, el, "bad character in symbol", s, n);
	for (uint32_t i = 0; i < g->n; i++)
		if (g->sym[i].len == n && memcmp(g->sym[i].name, s, n) == 0)
			return synth_err(eb, el, "duplicate symbol", s, n);
	if (g->n == SHMBUS_SYNTH_MAX_SYMBOLS)
		return synth_err(eb, el, "too many symbols (limit 1024) at", s, n);
	memcpy(g->sym[g->n].name, s, n);
	g->sym[g->n].name[n] = '\0';
	g->sym[g->n++].len = (uint32_t)n;
	return 0;
}

static int synth_symbols(struct shmbus_synth *g, char *eb, size_t el)
{
	const char *p = g->o.symbols;
	char name[16];

	if (!p || !*p) {
		for (uint32_t i = 0; i < g->o.nsymbols; i++) {
			int k = snprintf(name, sizeof(name), "SYN%02u", i);
			synth_add(g, name, (size_t)k, NULL, 0);
		}
		return 0;
	}
	for (;;) {
		const char *e = strchr(p, ','), *q;
		int rc;

		e = e ? e : p + strlen(p);
		for (q = e; q > p && q[-1] == ' '; q--)
			;
		while (p < q && *p == ' ')
			p++;
		rc = synth_add(g, p, (size_t)(q - p), eb, el);
		if (rc != 0)
			return rc;
		if (!*e)
			return 0;
		p = e + 1;
	}
}

/* Fills defaults; returns 0 or -EINVAL naming the bad option. */
static int synth_defaults(struct shmbus_synth_options *o, char *eb, size_t el)
{
	const struct {
		double *v;
		double def;
		const char *name;
	} d[] = {{&o->rate, 1000, "rate"},
		 {&o->trade_fraction, 0.25, "trade_fraction"},
		 {&o->volatility, 0.0005, "volatility"},
		 {&o->burst_rate, 1.0 / 120, "burst_rate"},
		 {&o->burst_mean_s, 5, "burst_mean_s"},
		 {&o->burst_intensity, 8, "burst_intensity"},
		 {&o->burst_vol, 4, "burst_vol"}};

	for (size_t i = 0; i < sizeof(d) / sizeof(d[0]); i++) {
		if (*d[i].v == 0)
			*d[i].v = d[i].def;
		if (!(*d[i].v > 0) || !isfinite(*d[i].v))
			return synth_err(eb, el, "option must be a positive finite number:", d[i].name,
					 strlen(d[i].name));
	}
	if (o->rate < SHMBUS_SYNTH_MIN_RATE || o->rate > SHMBUS_SYNTH_MAX_RATE)
		return synth_err(eb, el, "option must be in 0.001..1e9:", "rate", 4);
	if (o->trade_fraction > 1)
		return synth_err(eb, el, "option must be in (0, 1]:", "trade_fraction", 14);
	if (o->nsymbols == 0)
		o->nsymbols = 8;
	if (o->nsymbols > SHMBUS_SYNTH_MAX_SYMBOLS)
		return synth_err(eb, el, "too many symbols (limit 1024):", "nsymbols", 8);
	if (o->start_ns == 0)
		o->start_ns = SHMBUS_SYNTH_DEFAULT_START_NS;
	return 0;
}

int shmbus_synth_check_symbols(const char *list, char *errbuf, size_t errlen)
{
	struct shmbus_synth_options so = {.symbols = list};
	struct shmbus_synth *g;

	if (!list || !*list) {
		if (errbuf && errlen)
			snprintf(errbuf, errlen, "empty list");
		return -EINVAL;
	}
	int rc = shmbus_synth_create(&g, &so, errbuf, errlen);
	shmbus_synth_destroy(g);
	return rc == -EINVAL ? rc : 0; /* out of memory: the run will say it */
}

int shmbus_synth_create(struct shmbus_synth **out, const struct shmbus_synth_options *opt,
			char *errbuf, size_t errlen)
{
	struct shmbus_synth *g;
	uint64_t x;
	int rc;

	*out = NULL;
	g = calloc(1, sizeof(*g));
	if (!g)
		return -ENOMEM;
	if (opt)
		g->o = *opt;
	g->sym = calloc(SHMBUS_SYNTH_MAX_SYMBOLS, sizeof(*g->sym));
	rc = g->sym ? synth_defaults(&g->o, errbuf, errlen) : -ENOMEM;
	if (rc == 0)
		rc = synth_symbols(g, errbuf, errlen);
	if (rc != 0) {
		shmbus_synth_destroy(g);
		return rc;
	}
	g->o.symbols = NULL; /* not kept: the caller's string may go away */
	x = g->o.seed;
	for (int i = 0; i < 4; i++)
		g->s[i] = synth_splitmix(&x);
	g->now_ns = g->o.start_ns;
	for (uint32_t i = 0; i < g->n; i++) {
		g->sym[i].mid = synth_round(20.0 + 480.0 * synth_unif(g), 0.01);
		g->sym[i].last_ns = g->now_ns;
		synth_schedule_toggle(g, &g->sym[i]);
	}
	synth_recompute(g);
	*out = g;
	return 0;
}

uint32_t shmbus_synth_symbol_count(const struct shmbus_synth *g)
{
	return g->n;
}

const char *shmbus_synth_symbol(const struct shmbus_synth *g, uint32_t i)
{
	return i < g->n ? g->sym[i].name : NULL;
}

int shmbus_synth_in_burst(const struct shmbus_synth *g, uint32_t i)
{
	return i < g->n && g->sym[i].in_burst;
}

void shmbus_synth_destroy(struct shmbus_synth *g)
{
	if (!g)
		return;
	free(g->sym);
	free(g);
}
