/*
 * threshold_eval.h - evaluates parsed rules against value updates.
 *
 * The caller feeds, per symbol, the latest values of named series ("close",
 * "rsi14", "macd_hist", ...: the canonical names of rules.h) together with
 * the identity (source, seq) and time of the event that carried them. The
 * evaluator keeps the latest value of every series per symbol and a state
 * per (rule, symbol), re-evaluates each rule that reads an updated series
 * (once per update, after all of its values are applied, so a bar's close
 * and vwap can move together) and reports firings:
 *
 *  - level (a > b, >=, <, <=): fires when the condition becomes true while
 *    armed; a rule starts armed, so it fires on the first observation that
 *    is inside. After firing it re-arms only once the value has left the
 *    condition by more than the hysteresis (a > b re-arms at a <= b - h).
 *  - crosses_above / crosses_below: with d = a - b, the side is +1 when
 *    d > h, -1 when d < -h, unchanged inside the dead band [-h, h]; fires
 *    when the side flips from -1 to +1 (above) or +1 to -1 (below). The first
 *    observation only sets the side.
 *  - sign_change: the same with b = 0; fires on every flip.
 *  - cooldown: a firing within cooldown of the last reported firing of the
 *    same (rule, symbol), in event time (at or after it, less than cooldown
 *    later), is suppressed (counted, not reported); the rule's state still
 *    moves (a suppressed level rule is disarmed as if it had fired). A
 *    firing at an earlier event time than the last (a replay) is not.
 *  - symbols=: a rule is evaluated only for its symbols.
 * A rule needs both operands to have a value for the symbol; NaN clears a
 * value (an indicator not warmed up).
 *
 * Hot path: no allocation except the first time a symbol is seen, no
 * printing. An evaluator is not thread-safe.
 */
#ifndef SHMBUS_THRESHOLD_EVAL_H
#define SHMBUS_THRESHOLD_EVAL_H

#include <stddef.h>
#include <stdint.h>

#include <shmbus/event.h>

#include "rules.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Identity and time of the event that carried an update. */
struct shmbus_thr_trigger {
	uint32_t source;
	uint64_t seq;
	int64_t time_ns; /* event time; cooldowns are measured in it */
};

/* One value update: a series id (shmbus_thr_value_id) and its value. */
struct shmbus_thr_input {
	int32_t value_id;
	double value;
};

struct shmbus_thr_fire {
	uint32_t rule_index;  /* index in the ruleset */
	const char *rule_id;  /* the rule's id (valid while the evaluator is) */
	enum shmbus_threshold_direction direction; /* LEVEL_ENTER, CROSS_*, SIGN_CHANGE */
	enum shmbus_rule_op op;
	int sign;             /* sign_change: the new sign (+1/-1); else 0 */
	double value;         /* left operand's value */
	double threshold;     /* right operand's value (level or compared), 0 for sign_change */
	const char *symbol;   /* as passed to the update (not NUL-terminated) */
	uint32_t symbol_len;
	struct shmbus_thr_trigger trigger;
};

struct shmbus_thr_stats {
	uint64_t updates;    /* update calls */
	uint64_t evaluations; /* rule evaluations */
	uint64_t fired;      /* firings reported */
	uint64_t suppressed; /* firings suppressed by a cooldown */
	uint64_t lost;       /* firings that did not fit the caller's array */
	uint32_t symbols;    /* symbols seen */
};

struct shmbus_thr_eval;

/*
 * Create an evaluator for @rs (copied: @rs may be freed afterwards).
 * Returns 0, -EINVAL (NULL or empty set) or -ENOMEM. Thread-safe.
 */
int shmbus_thr_create(struct shmbus_thr_eval **out, const struct shmbus_ruleset *rs);

/* Free the evaluator (NULL is a no-op). */
void shmbus_thr_destroy(struct shmbus_thr_eval *e);

/* Id of series @name for shmbus_thr_update, or -ENOENT when no rule reads it. */
int shmbus_thr_value_id(const struct shmbus_thr_eval *e, const char *name);

/* Number of distinct series the rules read, and the name of series @id. */
uint32_t shmbus_thr_value_count(const struct shmbus_thr_eval *e);
const char *shmbus_thr_value_name(const struct shmbus_thr_eval *e, uint32_t id);

/* Number of rules; each fires at most once per update, so a @fires array
 * of this many entries never loses a firing. */
uint32_t shmbus_thr_rule_count(const struct shmbus_thr_eval *e);

/*
 * Apply @n updates for symbol @sym (@sym_len bytes, 1..SHMBUS_RULE_SYMBOL_MAX:
 * any bus symbol) carried by the event @trig, then evaluate the rules that
 * read them, or a series applied by shmbus_thr_apply since the symbol's
 * last update, in rule order.
 * @fires, @max_fires: where firings go; extra ones are counted as lost.
 * Returns the number of firings written, -EINVAL (bad symbol or value id),
 * or -ENOMEM (first sight of a symbol and no memory).
 */
int shmbus_thr_update(struct shmbus_thr_eval *e, const char *sym, size_t sym_len,
		      const struct shmbus_thr_input *in, size_t n,
		      const struct shmbus_thr_trigger *trig, struct shmbus_thr_fire *fires,
		      size_t max_fires);

/*
 * Apply @n updates for symbol @sym without evaluating: the rules that read
 * them are evaluated at the symbol's next shmbus_thr_update (an event with
 * SHMBUS_EVF_MORE: the rest of its group follows). Returns 0, -EINVAL or
 * -ENOMEM as shmbus_thr_update.
 */
int shmbus_thr_apply(struct shmbus_thr_eval *e, const char *sym, size_t sym_len,
		     const struct shmbus_thr_input *in, size_t n);

/*
 * Convenience form by series name; names no rule reads are ignored.
 * Same returns as shmbus_thr_update.
 */
int shmbus_thr_update_named(struct shmbus_thr_eval *e, const char *sym, size_t sym_len,
			    const char *const *names, const double *values, size_t n,
			    const struct shmbus_thr_trigger *trig, struct shmbus_thr_fire *fires,
			    size_t max_fires);

void shmbus_thr_get_stats(const struct shmbus_thr_eval *e, struct shmbus_thr_stats *st);

#ifdef __cplusplus
}
#endif
#endif /* SHMBUS_THRESHOLD_EVAL_H */
