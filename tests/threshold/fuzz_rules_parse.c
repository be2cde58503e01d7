/*
 * fuzz_rules_parse.c - libFuzzer target for the threshold rules parser.
 *
 * Input bytes are a rules file. It goes through shmbus_rules_parse; when
 * it parses, every indicator operand's canonical name must be the one
 * shmbus_rule_indicator_value_name gives back for its kind and index (the
 * evaluator only matches names), and the set is run through an evaluator:
 * a few updates, their values and symbols drawn from the input bytes. Any
 * crash, sanitizer report or broken invariant (abort) is a bug.
 * Build: -DSHMBUS_FUZZ=ON with clang (tests/threshold/CMakeLists.txt).
 */
#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "rules.h"
#include "threshold_eval.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_operand(const struct shmbus_rule_operand *o)
{
	unsigned kind, index;
	char name[64];

	if (o->kind == SHMBUS_OPND_CONST) {
		if (!isfinite(o->constant) || o->name[0] != '\0')
			abort();
		return;
	}
	if (o->name[0] == '\0' || memchr(o->name, '\0', sizeof(o->name)) == NULL)
		abort();
	if (shmbus_rule_operand_indicator(o, &kind, &index) != 0)
		return; /* a bar field */
	if (shmbus_rule_indicator_value_name(kind, o->param, index, name, sizeof(name)) != 0 ||
	    strcmp(name, o->name) != 0)
		abort(); /* the service could never feed this operand */
}

static void run_eval(const struct shmbus_ruleset *rs, const uint8_t *data, size_t size)
{
	static const double vals[16] = {0,    1,     -1,   70,    30,   1e308, -1e308, NAN,
					 0.5,  -0.5,  100,  1e-310, 2.5, -70,   1e18,  -2.5};
	static const char *const syms[4] = {"SPY", "IBM", "A", "ABCDEFGHIJKLMNO"};
	struct shmbus_thr_eval *e = NULL;
	struct shmbus_thr_fire fires[8];
	struct shmbus_thr_input in[4];
	struct shmbus_thr_trigger trig = {1, 0, 0};
	struct shmbus_thr_stats st;
	uint32_t nv;

	if (shmbus_thr_create(&e, rs) != 0)
		return;
	nv = shmbus_thr_value_count(e);
	for (uint32_t i = 0; i < nv; i++) {
		const char *n = shmbus_thr_value_name(e, i);
		if (!n || shmbus_thr_value_id(e, n) != (int)i)
			abort();
	}
	/* Up to 64 updates driven by the input bytes (from the end). */
	for (size_t k = 0; nv > 0 && k < size && k < 64; k++) {
		uint8_t b = data[size - 1 - k];
		size_t n = 1 + (b & 3);
		const char *sym = syms[(b >> 2) & 3];
		for (size_t j = 0; j < n; j++) {
			uint8_t c = data[(k * 7 + j * 13) % size];
			in[j].value_id = (int32_t)((c + j) % nv);
			in[j].value = vals[(c >> 4) ^ (b & 15)];
		}
		trig.seq++;
		trig.time_ns += (int64_t)(b & 0xf0) * 100000000;
		if (b & 0x80) {
			if (shmbus_thr_apply(e, sym, strlen(sym), in, n) != 0)
				abort();
			continue;
		}
		int rc = shmbus_thr_update(e, sym, strlen(sym), in, n, &trig, fires,
					   (b & 0x40) ? 1 : 8);
		if (rc < 0)
			abort();
		for (int f = 0; f < rc; f++)
			if (fires[f].rule_index >= rs->count ||
			    strcmp(fires[f].rule_id, rs->rules[fires[f].rule_index].id) != 0)
				abort();
	}
	shmbus_thr_get_stats(e, &st);
	shmbus_thr_destroy(e);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct shmbus_ruleset rs;
	struct shmbus_rule_error err;
	/* An exact-size copy: a read past the text is an ASan report. */
	char *text = malloc(size ? size : 1);

	if (!text)
		return 0;
	memcpy(text, data, size);
	memset(&err, 0, sizeof(err));
	int rc = shmbus_rules_parse(text, size, &rs, &err);
	if (rc == 0) {
		for (uint32_t i = 0; i < rs.count; i++) {
			const struct shmbus_rule *r = &rs.rules[i];
			if (r->op < SHMBUS_RULE_GT || r->op > SHMBUS_RULE_SIGN_CHANGE ||
			    r->hysteresis < 0 || !isfinite(r->hysteresis) || r->cooldown_ns < 0 ||
			    r->nsymbols > SHMBUS_RULE_MAX_SYMBOLS ||
			    memchr(r->id, '\0', sizeof(r->id)) == NULL)
				abort();
			check_operand(&r->a);
			check_operand(&r->b);
		}
		if (rs.count > 0)
			run_eval(&rs, data, size);
		shmbus_rules_free(&rs);
	} else {
		if (rc != -EINVAL && rc != -ENOMEM)
			abort();
		if (rs.count != 0 || rs.rules != NULL)
			abort();
		if (rc == -EINVAL && (memchr(err.message, '\0', sizeof(err.message)) == NULL ||
				      err.message[0] == '\0' || err.line == 0))
			abort();
	}
	free(text);
	return 0;
}
