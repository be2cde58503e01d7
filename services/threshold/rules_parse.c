/*
 * rules_parse.c - parser of threshold rules (syntax in rules.h and
 * docs/threshold-rules.md).
 *
 * Design: a line is cut into tokens that remember their column, then read
 * by a tiny recursive-descent parser: optional "rule <id>:", operand,
 * operator, operand (not after sign_change), then key=value options. Every
 * failure goes through one helper that records line, column and token, so
 * each message can point at what the user typed. Operands are resolved to a
 * kind, parameters and a canonical value name; the evaluator only ever
 * matches those names, and shmbus_rule_indicator_value_name() produces the
 * same names from indicator events, which keeps the two sides in step.
 */
#define _GNU_SOURCE
#include "rules.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <shmbus/event.h>

#include "tool_file.h"

#define RP_MAX_TOKENS 64

struct rp_tok {
	const char *s;
	uint32_t n;
	uint32_t col; /* 1-based */
};

struct rp_line {
	struct rp_tok t[RP_MAX_TOKENS];
	int n;
	uint32_t lineno;
	uint32_t end_col; /* column just past the text (for "at end of line") */
	struct shmbus_rule_error *err;
	unsigned seen;    /* options already given, bit per option */
	int has_id;
};

static int rp_err(struct rp_line *L, const struct rp_tok *t, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Records an error at token @t (NULL = end of line). Returns -EINVAL. */
static int rp_err(struct rp_line *L, const struct rp_tok *t, const char *fmt, ...)
{
	struct shmbus_rule_error *e = L->err;
	va_list ap;

	if (!e)
		return -EINVAL;
	e->line = L->lineno;
	e->column = t ? t->col : L->end_col;
	snprintf(e->token, sizeof(e->token), "%.*s", t ? (int)t->n : 0, t ? t->s : "");
	va_start(ap, fmt);
	vsnprintf(e->message, sizeof(e->message), fmt, ap);
	va_end(ap);
	return -EINVAL;
}

static int rp_is_word_end(char c)
{
	return c == ' ' || c == '\t' || c == '<' || c == '>' || c == ':' || c == '#' || c == '\r';
}

/* A byte no rule can contain: C0 controls but tab and CR, and DEL. A NUL
 * in particular would end the token early for strtod and friends, so
 * "70\0junk" must not read as 70. */
static int rp_is_control(char c)
{
	unsigned char u = (unsigned char)c;

	return (u < 0x20 && c != '\t' && c != '\r') || u == 0x7f;
}

static int rp_tokenize(struct rp_line *L, const char *s, size_t len)
{
	size_t i = 0;

	L->n = 0;
	L->end_col = (uint32_t)len + 1;
	while (i < len) {
		size_t j = i;
		if (rp_is_control(s[i])) {
			struct rp_tok t = {s + i, 0, (uint32_t)i + 1};
			return rp_err(L, &t, "control byte 0x%02x in the rule (rules are text)",
				      (unsigned char)s[i]);
		}
		if (rp_is_word_end(s[i]) && s[i] != '<' && s[i] != '>' && s[i] != ':') {
			if (s[i] == '#') {
				L->end_col = (uint32_t)i + 1;
				break;
			}
			i++;
			continue;
		}
		if (s[i] == '<' || s[i] == '>')
			j = i + 1 + (i + 1 < len && s[i + 1] == '=');
		else if (s[i] == ':')
			j = i + 1;
		else
			while (j < len && !rp_is_word_end(s[j]) && !rp_is_control(s[j]))
				j++;
		if (L->n == RP_MAX_TOKENS) {
			struct rp_tok t = {s + i, (uint32_t)(j - i), (uint32_t)i + 1};
			return rp_err(L, &t, "too many tokens on the line (limit %d)", RP_MAX_TOKENS);
		}
		L->t[L->n++] = (struct rp_tok){s + i, (uint32_t)(j - i), (uint32_t)i + 1};
		i = j;
	}
	while (L->end_col > 1 && (s[L->end_col - 2] == ' ' || s[L->end_col - 2] == '\t' ||
				  s[L->end_col - 2] == '\r'))
		L->end_col--;
	return 0;
}

static int rp_eq(const struct rp_tok *t, const char *w)
{
	return strlen(w) == t->n && memcmp(t->s, w, t->n) == 0;
}

static int rp_valid_id(const char *s, size_t n)
{
	if (n == 0 || n > SHMBUS_RULE_ID_MAX || !(isalpha((unsigned char)s[0]) || s[0] == '_'))
		return 0;
	for (size_t i = 1; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && s[i] != '_' && s[i] != '.' && s[i] != '-')
			return 0;
	return 1;
}

/* A finite number spanning all of s[0..n). */
static int rp_number(const char *s, size_t n, double *v)
{
	char buf[64], *end;

	if (n == 0 || n >= sizeof(buf))
		return -1;
	memcpy(buf, s, n);
	buf[n] = '\0';
	*v = strtod(buf, &end);
	return (*end != '\0' || !isfinite(*v) || isspace((unsigned char)buf[0])) ? -1 : 0;
}

static const struct {
	const char *name;
	enum shmbus_operand_kind kind;
	int nparam;           /* 0: none; 2 or 3: optional parameter list */
	uint16_t def[3];
} rp_named[] = {
	{"vwap", SHMBUS_OPND_VWAP, 0, {0}},
	{"macd", SHMBUS_OPND_MACD, 3, {12, 26, 9}},
	{"macd_signal", SHMBUS_OPND_MACD_SIGNAL, 3, {12, 26, 9}},
	{"macd_hist", SHMBUS_OPND_MACD_HIST, 3, {12, 26, 9}},
	{"bb_upper", SHMBUS_OPND_BB_UPPER, 2, {20, 2}},
	{"bb_middle", SHMBUS_OPND_BB_MIDDLE, 2, {20, 2}},
	{"bb_lower", SHMBUS_OPND_BB_LOWER, 2, {20, 2}},
	{"close", SHMBUS_OPND_CLOSE, 0, {0}},
	{"open", SHMBUS_OPND_OPEN, 0, {0}},
	{"high", SHMBUS_OPND_HIGH, 0, {0}},
	{"low", SHMBUS_OPND_LOW, 0, {0}},
	{"volume", SHMBUS_OPND_VOLUME, 0, {0}},
};

static const struct {
	const char *prefix;
	enum shmbus_operand_kind kind;
} rp_periodic[] = {{"sma", SHMBUS_OPND_SMA}, {"ema", SHMBUS_OPND_EMA}, {"rsi", SHMBUS_OPND_RSI}};

/* Parses "1..65535" from s[0..n); returns the value or -1. */
static long rp_period(const char *s, size_t n)
{
	long v = 0;

	if (n == 0 || n > 5)
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (!isdigit((unsigned char)s[i]))
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	return (v >= 1 && v <= 65535) ? v : -1;
}

/* Parses "(a,b[,c])" at the end of a named operand into o->param. */
static int rp_params(struct rp_line *L, const struct rp_tok *t, size_t open, int want,
		     struct shmbus_rule_operand *o)
{
	const char *p = t->s + open + 1, *end = t->s + t->n - 1;
	int k = 0;

	if (t->s[t->n - 1] != ')')
		return rp_err(L, t, "missing ')' in '%.*s'", (int)t->n, t->s);
	while (p <= end && k < want) {
		const char *c = memchr(p, ',', (size_t)(end - p));
		long v = rp_period(p, (size_t)((c ? c : end) - p));
		if (v < 0)
			break;
		o->param[k++] = (uint16_t)v;
		p = c ? c + 1 : end + 1;
	}
	if (k != want || p != end + 1)
		return rp_err(L, t, "expected %s (integers 1..65535) in '%.*s'",
			      want == 3 ? "(fast,slow,signal)" : "(period,k)", (int)t->n, t->s);
	return 0;
}

static void rp_canonical(struct shmbus_rule_operand *o, const char *base, int nparam,
			 const uint16_t *def)
{
	if (nparam == 0 || memcmp(o->param, def, sizeof(uint16_t) * (size_t)nparam) == 0)
		snprintf(o->name, sizeof(o->name), "%s", base);
	else if (nparam == 2)
		snprintf(o->name, sizeof(o->name), "%s(%u,%u)", base, o->param[0], o->param[1]);
	else
		snprintf(o->name, sizeof(o->name), "%s(%u,%u,%u)", base, o->param[0], o->param[1],
			 o->param[2]);
}

static int rp_named_operand(struct rp_line *L, const struct rp_tok *t,
			    struct shmbus_rule_operand *o)
{
	const char *paren = memchr(t->s, '(', t->n);
	size_t bl = paren ? (size_t)(paren - t->s) : t->n;

	for (size_t i = 0; i < sizeof(rp_named) / sizeof(rp_named[0]); i++) {
		if (strlen(rp_named[i].name) != bl || memcmp(rp_named[i].name, t->s, bl) != 0)
			continue;
		o->kind = rp_named[i].kind;
		memcpy(o->param, rp_named[i].def, sizeof(o->param));
		if (paren && rp_named[i].nparam == 0)
			return rp_err(L, t, "'%s' takes no parameters", rp_named[i].name);
		if (paren && rp_params(L, t, bl, rp_named[i].nparam, o) != 0)
			return -EINVAL;
		rp_canonical(o, rp_named[i].name, rp_named[i].nparam, rp_named[i].def);
		return 0;
	}
	return -ENOENT;
}

static int rp_operand(struct rp_line *L, const struct rp_tok *t, struct shmbus_rule_operand *o)
{
	int rc;

	memset(o, 0, sizeof(*o));
	if (isdigit((unsigned char)t->s[0]) || t->s[0] == '-' || t->s[0] == '+' || t->s[0] == '.') {
		if (rp_number(t->s, t->n, &o->constant) != 0)
			return rp_err(L, t, "bad number '%.*s'", (int)t->n, t->s);
		return 0;
	}
	rc = rp_named_operand(L, t, o);
	if (rc != -ENOENT)
		return rc;
	for (size_t i = 0; i < 3; i++) {
		long v;
		if (t->n < 3 || memcmp(t->s, rp_periodic[i].prefix, 3) != 0)
			continue;
		if (t->n == 3)
			return rp_err(L, t, "'%s' needs a period, e.g. %s14", rp_periodic[i].prefix,
				      rp_periodic[i].prefix);
		if (!isdigit((unsigned char)t->s[3]))
			break;
		v = rp_period(t->s + 3, t->n - 3);
		if (v < 0)
			return rp_err(L, t, "period must be an integer 1..65535 in '%.*s'",
				      (int)t->n, t->s);
		o->kind = rp_periodic[i].kind;
		o->param[0] = (uint16_t)v;
		snprintf(o->name, sizeof(o->name), "%s%ld", rp_periodic[i].prefix, v);
		return 0;
	}
	return rp_err(L, t,
		      "unknown operand '%.*s' (expected a number or one of sma<N>, ema<N>, "
		      "rsi<N>, vwap, macd, macd_signal, macd_hist, bb_upper, bb_middle, "
		      "bb_lower, close, open, high, low, volume)",
		      (int)t->n, t->s);
}

static const char *const rp_ops[] = {NULL, ">", ">=", "<", "<=", "crosses_above", "crosses_below",
				     "sign_change"};

const char *shmbus_rule_op_name(enum shmbus_rule_op op)
{
	return (op >= SHMBUS_RULE_GT && op <= SHMBUS_RULE_SIGN_CHANGE) ? rp_ops[op] : "?";
}

static int rp_op(struct rp_line *L, int i, const struct rp_tok *prev, enum shmbus_rule_op *op)
{
	static const char expect[] =
		"expected an operator (>, >=, <, <=, crosses_above, crosses_below, sign_change)";

	if (i >= L->n)
		return rp_err(L, NULL, "%s after '%.*s'", expect, (int)prev->n, prev->s);
	for (int k = SHMBUS_RULE_GT; k <= SHMBUS_RULE_SIGN_CHANGE; k++)
		if (rp_eq(&L->t[i], rp_ops[k])) {
			*op = (enum shmbus_rule_op)k;
			return 0;
		}
	return rp_err(L, &L->t[i], "%s but found '%.*s'", expect, (int)L->t[i].n, L->t[i].s);
}

static int rp_symbols(struct rp_line *L, const struct rp_tok *t, const char *v, size_t n,
		      struct shmbus_rule *r)
{
	const char *p = v, *end = v + n;

	if (n == 0)
		return rp_err(L, t, "empty symbol list in '%.*s'", (int)t->n, t->s);
	while (p <= end) {
		const char *c = memchr(p, ',', (size_t)(end - p));
		size_t k = (size_t)((c ? c : end) - p);
		if (k == 0)
			return rp_err(L, t, "empty symbol in '%.*s'", (int)t->n, t->s);
		if (k > SHMBUS_RULE_SYMBOL_MAX)
			return rp_err(L, t, "symbol '%.*s' longer than %d bytes", (int)k, p,
				      SHMBUS_RULE_SYMBOL_MAX);
		if (r->nsymbols == SHMBUS_RULE_MAX_SYMBOLS)
			return rp_err(L, t, "more than %d symbols in one rule",
				      SHMBUS_RULE_MAX_SYMBOLS);
		memcpy(r->symbols[r->nsymbols], p, k);
		r->symbols[r->nsymbols++][k] = '\0';
		p = (c ? c : end) + 1;
	}
	return 0;
}

static int rp_cooldown(struct rp_line *L, const struct rp_tok *t, const char *v, size_t n,
		       struct shmbus_rule *r)
{
	size_t k = n;
	double x, scale;

	while (k > 0 && isalpha((unsigned char)v[k - 1]))
		k--;
	if (n - k == 2 && memcmp(v + k, "ms", 2) == 0)
		scale = 1e6;
	else if (n - k == 1 && v[k] == 's')
		scale = 1e9;
	else if (n - k == 1 && v[k] == 'm')
		scale = 60e9;
	else
		k = 0;
	if (k == 0 || rp_number(v, k, &x) != 0 || x < 0 || x * scale > 9.0e18)
		return rp_err(L, t,
			      "bad cooldown '%.*s' (expected a number >= 0 followed by ms, s or m)",
			      (int)n, v);
	r->cooldown_ns = (int64_t)llround(x * scale);
	return 0;
}

static int rp_option(struct rp_line *L, const struct rp_tok *t, struct shmbus_rule *r)
{
	static const char *const keys[] = {"symbols", "hysteresis", "cooldown", "id"};
	const char *eq = memchr(t->s, '=', t->n), *v;
	size_t kl, vn;
	int k;

	if (!eq)
		return rp_err(L, t, "unexpected token '%.*s' (options are key=value)", (int)t->n,
			      t->s);
	kl = (size_t)(eq - t->s);
	v = eq + 1;
	vn = t->n - kl - 1;
	for (k = 0; k < 4; k++)
		if (strlen(keys[k]) == kl && memcmp(keys[k], t->s, kl) == 0)
			break;
	if (k == 4)
		return rp_err(L, t,
			      "unknown option '%.*s' (expected symbols, hysteresis, cooldown or id)",
			      (int)kl, t->s);
	if ((L->seen & (1u << k)) || (k == 3 && L->has_id))
		return rp_err(L, t, "rule %s given twice", k == 3 ? "id" : keys[k]);
	L->seen |= 1u << k;
	switch (k) {
	case 0:
		return rp_symbols(L, t, v, vn, r);
	case 1:
		if (rp_number(v, vn, &r->hysteresis) != 0 || r->hysteresis < 0)
			return rp_err(L, t, "hysteresis must be a number >= 0, got '%.*s'", (int)vn,
				      v);
		return 0;
	case 2:
		return rp_cooldown(L, t, v, vn, r);
	default:
		if (!rp_valid_id(v, vn))
			return rp_err(L, t,
				      "bad rule id '%.*s' (letters, digits, _ . -; starts with a "
				      "letter or _; at most %d bytes)",
				      (int)vn, v, SHMBUS_RULE_ID_MAX);
		memcpy(r->id, v, vn);
		r->id[vn] = '\0';
		L->has_id = 1;
		return 0;
	}
}

/* "rule <id>:" prefix; returns the index of the first token after it. */
static int rp_head(struct rp_line *L, struct shmbus_rule *r)
{
	const struct rp_tok *id = L->n > 1 ? &L->t[1] : NULL;

	if (L->n == 0 || !rp_eq(&L->t[0], "rule"))
		return 0;
	if (!id || rp_eq(id, ":"))
		return rp_err(L, id, "expected a rule id after 'rule'");
	if (!rp_valid_id(id->s, id->n))
		return rp_err(L, id,
			      "bad rule id '%.*s' (letters, digits, _ . -; starts with a letter "
			      "or _; at most %d bytes)",
			      (int)id->n, id->s, SHMBUS_RULE_ID_MAX);
	if (L->n < 3 || !rp_eq(&L->t[2], ":"))
		return rp_err(L, L->n < 3 ? NULL : &L->t[2], "expected ':' after the rule id '%.*s'",
			      (int)id->n, id->s);
	memcpy(r->id, id->s, id->n);
	r->id[id->n] = '\0';
	L->has_id = 1;
	return 3;
}

/* A rule reading one series on both sides ("close > close", or the same
 * indicator under an alias: "macd_hist > macd_hist(12,26,9)") compares a
 * value with itself: "a > a" is never true and "a >= a" always, so the
 * rule could never fire, or only once; the file surely meant another
 * operand. */
static int rp_self_compare(struct rp_line *L, const struct rp_tok *rhs,
			   const struct shmbus_rule *r)
{
	const char *a = r->a.name, *op = shmbus_rule_op_name(r->op);

	if (r->op == SHMBUS_RULE_CROSSES_ABOVE || r->op == SHMBUS_RULE_CROSSES_BELOW)
		return rp_err(L, rhs,
			      "rule compares '%s' with itself: a value never crosses itself, the "
			      "rule would never fire",
			      a);
	return rp_err(L, rhs, "rule compares '%s' with itself: '%s %s %s' is %s", a, a, op, a,
		      r->op == SHMBUS_RULE_GE || r->op == SHMBUS_RULE_LE
			      ? "always true, the rule would fire once and never again"
			      : "never true, the rule would never fire");
}

static int rp_rule(struct rp_line *L, struct shmbus_rule *r)
{
	int i = rp_head(L, r), lhs, rhs = -1;

	if (i < 0)
		return i;
	if (i >= L->n || rp_eq(&L->t[i], ":"))
		return rp_err(L, i < L->n ? &L->t[i] : NULL, "expected an operand");
	lhs = i;
	if (rp_operand(L, &L->t[i++], &r->a) != 0 || rp_op(L, i, &L->t[i - 1], &r->op) != 0)
		return -EINVAL;
	i++;
	if (r->op != SHMBUS_RULE_SIGN_CHANGE) {
		if (i >= L->n)
			return rp_err(L, NULL, "expected an operand after '%s'",
				      shmbus_rule_op_name(r->op));
		rhs = i;
		if (rp_operand(L, &L->t[i++], &r->b) != 0)
			return -EINVAL;
	}
	for (; i < L->n; i++)
		if (rp_option(L, &L->t[i], r) != 0)
			return -EINVAL;
	if (r->a.kind == SHMBUS_OPND_CONST && r->b.kind == SHMBUS_OPND_CONST)
		return rp_err(L, &L->t[lhs],
			      r->op == SHMBUS_RULE_SIGN_CHANGE
				      ? "sign_change needs a value name, not a constant"
				      : "rule compares two constants");
	if (rhs >= 0 && r->a.kind != SHMBUS_OPND_CONST && strcmp(r->a.name, r->b.name) == 0)
		return rp_self_compare(L, &L->t[rhs], r);
	if (!L->has_id)
		snprintf(r->id, sizeof(r->id), "line%u", L->lineno);
	return 1;
}

int shmbus_rule_parse_line(const char *line, size_t len, uint32_t lineno, struct shmbus_rule *out,
			   struct shmbus_rule_error *err)
{
	struct rp_line *L = calloc(1, sizeof(*L));
	int rc;

	if (!L)
		return -ENOMEM;
	L->lineno = lineno;
	L->err = err;
	memset(out, 0, sizeof(*out));
	out->line = lineno;
	rc = rp_tokenize(L, line, len);
	if (rc == 0 && L->n > 0)
		rc = rp_rule(L, out);
	free(L);
	return rc;
}

static int rp_append(struct shmbus_ruleset *rs, uint32_t *cap, const struct shmbus_rule *r)
{
	if (rs->count == *cap) {
		uint32_t nc = *cap ? *cap * 2 : 16;
		struct shmbus_rule *n = realloc(rs->rules, nc * sizeof(*n));
		if (!n)
			return -ENOMEM;
		rs->rules = n;
		*cap = nc;
	}
	rs->rules[rs->count++] = *r;
	return 0;
}

/* The ids seen so far: open addressing over rule indexes + 1 (0 = free),
 * at most half full, so a file of many rules is checked in linear time. */
struct rp_ids {
	uint32_t *slot;
	uint32_t mask; /* slots - 1; no table while slot is NULL */
};

static uint32_t rp_id_hash(const char *id)
{
	uint32_t h = 2166136261u; /* FNV-1a */

	for (; *id; id++)
		h = (h ^ (unsigned char)*id) * 16777619u;
	return h;
}

/* Slot of @id in @ids: the one holding it, or the free one it would take. */
static uint32_t *rp_ids_find(const struct rp_ids *ids, const struct shmbus_ruleset *rs,
			     const char *id)
{
	for (uint32_t i = rp_id_hash(id);; i++) {
		uint32_t *s = &ids->slot[i & ids->mask];
		if (*s == 0 || strcmp(rs->rules[*s - 1].id, id) == 0)
			return s;
	}
}

/* Room for one more id than @rs holds, rehashing into a table twice the size. */
static int rp_ids_reserve(struct rp_ids *ids, const struct shmbus_ruleset *rs)
{
	uint32_t n = ids->slot ? ids->mask + 1 : 0;
	if (2 * (rs->count + 1) <= n)
		return 0;
	struct rp_ids big = { calloc(n ? 2 * n : 64, sizeof(uint32_t)), n ? 2 * n - 1 : 63 };
	if (!big.slot)
		return -ENOMEM;
	for (uint32_t k = 0; k < rs->count; k++)
		*rp_ids_find(&big, rs, rs->rules[k].id) = k + 1;
	free(ids->slot);
	*ids = big;
	return 0;
}

/* Column of the id in @line, a rule that parsed: the token after "rule",
 * or the value of its id= option; for a rule without one (its id is the
 * default "line<N>"), the column of its first token, with *dflt set. */
static uint32_t rp_id_column(const char *line, size_t len, int *dflt)
{
	struct rp_line *L = calloc(1, sizeof(*L));
	uint32_t col = 0;

	*dflt = 0;
	if (!L || rp_tokenize(L, line, len) != 0) {
		free(L);
		return 0;
	}
	if (L->n > 1 && rp_eq(&L->t[0], "rule"))
		col = L->t[1].col;
	for (int i = 0; i < L->n && col == 0; i++)
		if (L->t[i].n > 3 && memcmp(L->t[i].s, "id=", 3) == 0)
			col = L->t[i].col + 3;
	if (col == 0 && L->n > 0) {
		*dflt = 1;
		col = L->t[0].col;
	}
	free(L);
	return col;
}

/* Whether the rule on line @lineno of @text has the default id. */
static int rp_id_is_default(const char *text, size_t len, uint32_t lineno)
{
	const char *l = text, *end = text + len, *nl;
	int dflt;

	for (uint32_t k = 1; k < lineno && (nl = memchr(l, '\n', (size_t)(end - l))); k++)
		l = nl + 1;
	nl = memchr(l, '\n', (size_t)(end - l));
	rp_id_column(l, (size_t)((nl ? nl : end) - l), &dflt);
	return dflt;
}

/*
 * Appends @r (on @line, in @text) unless its id is already used; the error
 * points at the id. A rule without an id is named "line<N>", which a rule
 * elsewhere may have been given by hand: the message then says which of
 * the two got it by default, so that neither is a "duplicate" the file
 * never spelt twice.
 */
static int rp_add_unique(struct shmbus_ruleset *rs, uint32_t *cap, struct rp_ids *ids,
			 const struct shmbus_rule *r, const char *text, size_t text_len,
			 const char *line, size_t len, struct shmbus_rule_error *err)
{
	int rc = rp_ids_reserve(ids, rs), dflt;
	if (rc < 0)
		return rc;
	uint32_t *s = rp_ids_find(ids, rs, r->id);
	if (*s == 0) {
		if ((rc = rp_append(rs, cap, r)) == 0)
			*s = rs->count;
		return rc;
	}
	if (err) {
		uint32_t first = rs->rules[*s - 1].line;
		err->line = r->line;
		err->column = rp_id_column(line, len, &dflt);
		snprintf(err->token, sizeof(err->token), "%s", r->id);
		if (dflt)
			snprintf(err->message, sizeof(err->message),
				 "rule without an id: its default id '%s' is already the id of the "
				 "rule on line %u (give one of them another id)",
				 r->id, first);
		else if (rp_id_is_default(text, text_len, first))
			snprintf(err->message, sizeof(err->message),
				 "duplicate rule id '%s': the rule on line %u has no id and gets "
				 "'%s' by default (give one of them another id)",
				 r->id, first, r->id);
		else
			snprintf(err->message, sizeof(err->message),
				 "duplicate rule id '%s' (first defined on line %u)", r->id, first);
	}
	return -EINVAL;
}

int shmbus_rules_parse(const char *text, size_t len, struct shmbus_ruleset *out,
		       struct shmbus_rule_error *err)
{
	struct shmbus_rule *r = malloc(sizeof(*r));
	struct rp_ids ids = { NULL, 0 };
	size_t pos = 0;
	uint32_t lineno = 0, cap = 0;
	int rc = r ? 0 : -ENOMEM;

	memset(out, 0, sizeof(*out));
	/* A UTF-8 byte order mark is not part of the first line: the text
	 * starts after it, for the lines and for the id clash's look back at
	 * line 1 (rp_id_is_default) alike. */
	if (len >= 3 && memcmp(text, "\xef\xbb\xbf", 3) == 0) {
		text += 3;
		len -= 3;
	}
	while (rc >= 0 && pos < len) {
		const char *l = text + pos, *nl = memchr(l, '\n', len - pos);
		size_t ll = nl ? (size_t)(nl - l) : len - pos;

		pos += ll + (nl != NULL);
		rc = shmbus_rule_parse_line(l, ll, ++lineno, r, err);
		if (rc == 1)
			rc = rp_add_unique(out, &cap, &ids, r, text, len, l, ll, err);
	}
	free(ids.slot);
	free(r);
	if (rc < 0)
		shmbus_rules_free(out);
	return rc < 0 ? rc : 0;
}

/* Open @path for reading if it is a regular file (tool_file.h): a
 * directory, device or FIFO is refused with what it is. */
static int rp_open_regular(const char *path, FILE **out, const char **kind)
{
	int fd = tool_open_regular(path, kind, NULL);
	if (fd < 0)
		return fd;
	if (!(*out = fdopen(fd, "r"))) {
		int rc = -errno;
		close(fd);
		return rc;
	}
	return 0;
}

int shmbus_rules_load(const char *path, struct shmbus_ruleset *out, struct shmbus_rule_error *err)
{
	FILE *f = NULL;
	const char *kind;
	char *buf = NULL;
	size_t len = 0, cap = 0, got;
	int rc = rp_open_regular(path, &f, &kind);

	memset(out, 0, sizeof(*out));
	while (rc == 0) {
		if (len == cap) {
			char *n = realloc(buf, cap ? cap * 2 : 65536);
			if (!n) {
				rc = -ENOMEM;
				break;
			}
			buf = n;
			cap = cap ? cap * 2 : 65536;
		}
		got = fread(buf + len, 1, cap - len, f);
		len += got;
		if (got == 0)
			rc = ferror(f) ? -(errno ? errno : EIO) : 1;
	}
	if (f)
		fclose(f);
	if (rc < 0) {
		if (err) {
			memset(err, 0, sizeof(*err));
			if (kind)
				snprintf(err->message, sizeof(err->message),
					 "cannot read rules file %s: not a regular file (%s)", path,
					 kind);
			else
				snprintf(err->message, sizeof(err->message),
					 "cannot read rules file %s: %s", path, strerror(-rc));
		}
		free(buf);
		return rc;
	}
	rc = shmbus_rules_parse(buf, len, out, err);
	free(buf);
	return rc;
}

int shmbus_rules_load_cli(const char *tool, const char *path, struct shmbus_ruleset *out)
{
	struct shmbus_rule_error err;
	int rc;

	memset(&err, 0, sizeof(err));
	if ((rc = shmbus_rules_load(path, out, &err)) != 0) {
		if (err.line)
			fprintf(stderr, "%s: %s:%u:%u: %s\n", tool, path, err.line, err.column,
			        err.message);
		else /* the message names the file */
			fprintf(stderr, "%s: %s\n", tool,
			        err.message[0] ? err.message : strerror(-rc));
		return rc == -EIO || rc == -ENOMEM ? 1 : 2;
	}
	if (out->count == 0) {
		fprintf(stderr, "%s: %s: no rules (only blank and comment lines)\n", tool, path);
		shmbus_rules_free(out);
		return 2;
	}
	return 0;
}

void shmbus_rules_free(struct shmbus_ruleset *rs)
{
	if (!rs)
		return;
	free(rs->rules);
	rs->rules = NULL;
	rs->count = 0;
}

int shmbus_rule_indicator_value_name(unsigned kind, const uint16_t param[3], unsigned index,
				     char *buf, size_t n)
{
	static const char *const macd[] = {"macd", "macd_signal", "macd_hist"};
	static const char *const bb[] = {"bb_middle", "bb_upper", "bb_lower"};
	static const uint16_t mdef[3] = {12, 26, 9}, bdef[3] = {20, 2, 0};
	struct shmbus_rule_operand o = {0};
	int k;

	if (index > 2 || ((kind != SHMBUS_IND_MACD && kind != SHMBUS_IND_BOLLINGER) && index))
		return -EINVAL;
	memcpy(o.param, param, sizeof(o.param));
	switch (kind) {
	case SHMBUS_IND_SMA:
	case SHMBUS_IND_EMA:
	case SHMBUS_IND_RSI:
		snprintf(o.name, sizeof(o.name), "%s%u",
			 kind == SHMBUS_IND_SMA ? "sma" : kind == SHMBUS_IND_EMA ? "ema" : "rsi",
			 param[0]);
		break;
	case SHMBUS_IND_VWAP:
		snprintf(o.name, sizeof(o.name), "vwap");
		break;
	case SHMBUS_IND_MACD:
		rp_canonical(&o, macd[index], 3, mdef);
		break;
	case SHMBUS_IND_BOLLINGER:
		rp_canonical(&o, bb[index], 2, bdef);
		break;
	default:
		return -EINVAL;
	}
	k = snprintf(buf, n, "%s", o.name);
	return (k < 0 || (size_t)k >= n) ? -ENOSPC : 0;
}

int shmbus_rule_operand_indicator(const struct shmbus_rule_operand *o, unsigned *kind,
				  unsigned *index)
{
	static const struct {
		enum shmbus_operand_kind ok;
		unsigned kind, index;
	} map[] = {{SHMBUS_OPND_SMA, SHMBUS_IND_SMA, 0},
		   {SHMBUS_OPND_EMA, SHMBUS_IND_EMA, 0},
		   {SHMBUS_OPND_RSI, SHMBUS_IND_RSI, 0},
		   {SHMBUS_OPND_VWAP, SHMBUS_IND_VWAP, 0},
		   {SHMBUS_OPND_MACD, SHMBUS_IND_MACD, 0},
		   {SHMBUS_OPND_MACD_SIGNAL, SHMBUS_IND_MACD, 1},
		   {SHMBUS_OPND_MACD_HIST, SHMBUS_IND_MACD, 2},
		   {SHMBUS_OPND_BB_MIDDLE, SHMBUS_IND_BOLLINGER, 0},
		   {SHMBUS_OPND_BB_UPPER, SHMBUS_IND_BOLLINGER, 1},
		   {SHMBUS_OPND_BB_LOWER, SHMBUS_IND_BOLLINGER, 2}};

	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (map[i].ok == o->kind) {
			*kind = map[i].kind;
			*index = map[i].index;
			return 0;
		}
	return -ENOENT;
}
