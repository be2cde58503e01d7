/*
 * rules.h - threshold rules: types and the rules-file parser.
 *
 * Syntax, one rule per line (full description in docs/threshold-rules.md):
 *
 *   # comment (also after a rule)
 *   rule <id>: <operand> <op> <operand> [option ...]
 *   rule <id>: <operand> sign_change [option ...]
 *   <operand> <op> <operand> [id=<id>] [option ...]      (short form)
 *
 *   <op>      >  >=  <  <=              level: fires on entering the condition
 *             crosses_above crosses_below   fires when sign(a - b) flips that way
 *             sign_change                    fires when the operand changes sign
 *   <operand> a number (70, -0.5, 1e3) or a value name:
 *             sma<N> ema<N> rsi<N>           N = 1..65535
 *             macd macd_signal macd_hist     [(fast,slow,signal)], default (12,26,9)
 *             bb_upper bb_middle bb_lower    [(period,k)], default (20,2)
 *             vwap close open high low volume
 *             (not two numbers, nor one value name on both sides)
 *   options   symbols=SPY,IBM               only these symbols (default: all)
 *             hysteresis=<x>                 dead band >= 0 around the threshold
 *             cooldown=<n>(ms|s|m)           no re-firing within the window
 *             id=<id>                        name, when the "rule <id>:" form is not used
 *   <id>      [A-Za-z_][A-Za-z0-9_.-]*, at most 31 bytes; unique in a file;
 *             default "line<N>" for a rule without one.
 *
 * Errors name the line, the column (1-based, in bytes) and the token.
 * Parsing is pure and thread-safe (no global state); results are owned by
 * the caller.
 */
#ifndef SHMBUS_RULES_H
#define SHMBUS_RULES_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define SHMBUS_RULE_ID_MAX 31
#define SHMBUS_RULE_NAME_MAX 31
#define SHMBUS_RULE_MAX_SYMBOLS 64
#define SHMBUS_RULE_SYMBOL_MAX 23 /* SHMBUS_SYMBOL_MAX: any bus symbol */

enum shmbus_operand_kind {
	SHMBUS_OPND_CONST = 0,
	SHMBUS_OPND_SMA,
	SHMBUS_OPND_EMA,
	SHMBUS_OPND_RSI,
	SHMBUS_OPND_VWAP,
	SHMBUS_OPND_MACD,
	SHMBUS_OPND_MACD_SIGNAL,
	SHMBUS_OPND_MACD_HIST,
	SHMBUS_OPND_BB_UPPER,
	SHMBUS_OPND_BB_MIDDLE,
	SHMBUS_OPND_BB_LOWER,
	SHMBUS_OPND_CLOSE,
	SHMBUS_OPND_OPEN,
	SHMBUS_OPND_HIGH,
	SHMBUS_OPND_LOW,
	SHMBUS_OPND_VOLUME,
};

struct shmbus_rule_operand {
	enum shmbus_operand_kind kind;
	double constant;                  /* SHMBUS_OPND_CONST only */
	uint16_t param[3];                /* period(s); 0 where unused */
	char name[SHMBUS_RULE_NAME_MAX + 1]; /* canonical value name, "" for a constant */
};

enum shmbus_rule_op {
	SHMBUS_RULE_GT = 1,
	SHMBUS_RULE_GE,
	SHMBUS_RULE_LT,
	SHMBUS_RULE_LE,
	SHMBUS_RULE_CROSSES_ABOVE,
	SHMBUS_RULE_CROSSES_BELOW,
	SHMBUS_RULE_SIGN_CHANGE,
};

struct shmbus_rule {
	char id[SHMBUS_RULE_ID_MAX + 1];
	uint32_t line;                /* line in the source, 1-based */
	enum shmbus_rule_op op;
	struct shmbus_rule_operand a; /* left operand */
	struct shmbus_rule_operand b; /* right operand (constant 0 for sign_change) */
	double hysteresis;            /* >= 0 */
	int64_t cooldown_ns;          /* >= 0 */
	uint32_t nsymbols;            /* 0 = every symbol */
	char symbols[SHMBUS_RULE_MAX_SYMBOLS][SHMBUS_RULE_SYMBOL_MAX + 1];
};

struct shmbus_ruleset {
	uint32_t count;
	struct shmbus_rule *rules;
};

struct shmbus_rule_error {
	uint32_t line;      /* 1-based; 0 when not about a line */
	uint32_t column;    /* 1-based byte column of the token; 0 if none */
	char token[48];     /* the offending token ("" at end of line) */
	char message[224];  /* what is wrong, naming the token */
};

/*
 * Parse one line. @line, @len: its text (no newline needed, need not be
 * NUL-terminated). @lineno: for errors and rule->line. @out: the rule.
 * Returns 1 when @out holds a rule, 0 for a blank or comment line, or
 * -EINVAL with @err filled (may be NULL). Thread-safe.
 */
int shmbus_rule_parse_line(const char *line, size_t len, uint32_t lineno, struct shmbus_rule *out,
			   struct shmbus_rule_error *err);

/*
 * Parse a whole rules text (lines separated by "\n"); ids must be unique.
 * @out: receives the rules (free with shmbus_rules_free); zeroed on error.
 * Returns 0, -EINVAL (first error in @err), or -ENOMEM. Thread-safe.
 */
int shmbus_rules_parse(const char *text, size_t len, struct shmbus_ruleset *out,
		       struct shmbus_rule_error *err);

/* Same as shmbus_rules_parse on the contents of file @path, which must be
 * a regular file; also returns the negated errno of open/read, -EISDIR for
 * a directory and -EINVAL for another kind of file (a device, a FIFO);
 * err->message says which, naming @path, with err->line 0. */
int shmbus_rules_load(const char *path, struct shmbus_ruleset *out, struct shmbus_rule_error *err);

/*
 * shmbus_rules_load for a program's --rules FILE: on failure, say why on
 * stderr as "@tool: FILE:LINE:COLUMN: message" (or the message naming the
 * file) and return the program's exit code: 2 when the file is absent, no
 * regular file, has a bad rule or no rule at all (the argument is wrong),
 * 1 when it could not be read (-EIO, -ENOMEM). Returns 0 on success.
 */
int shmbus_rules_load_cli(const char *tool, const char *path, struct shmbus_ruleset *out);

/* Free what a parse stored in @rs and zero it (safe on a zeroed set). */
void shmbus_rules_free(struct shmbus_ruleset *rs);

/* Text of an operator (">", "crosses_above", ...), "?" if unknown. */
const char *shmbus_rule_op_name(enum shmbus_rule_op op);

/*
 * Canonical value name of output @index of an indicator event (kind from
 * enum shmbus_indicator_kind, params as carried by the event), the same
 * name the parser gives operands: "sma20", "rsi14", "macd_hist",
 * "macd_hist(5,35,5)", "bb_upper", "vwap". Lets the service feed indicator
 * events to the evaluator. Returns 0, or -EINVAL for an unknown kind or
 * index, or -ENOSPC when @n is too small.
 */
int shmbus_rule_indicator_value_name(unsigned kind, const uint16_t param[3], unsigned index,
				     char *buf, size_t n);

/*
 * The inverse, for subscriptions: indicator kind and output index an
 * operand reads. Returns 0, or -ENOENT for a constant or a bar field
 * (close, open, high, low, volume).
 */
int shmbus_rule_operand_indicator(const struct shmbus_rule_operand *o, unsigned *kind,
				  unsigned *index);

#ifdef __cplusplus
}
#endif
#endif /* SHMBUS_RULES_H */
