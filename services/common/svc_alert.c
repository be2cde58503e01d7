/*
 * svc_alert.c - one-line renderings shared by shmbus-threshold (which
 * prints each alert it raises) and shmbus-pipeline (which prints alerts
 * and indicator rows from its tap): the same text wherever it is seen.
 *
 * Indicator names follow the journal tools' CSV (sma20, macd12_26_9_hist,
 * bb20_2_upper) so a tap file and `shmbus-journal cat --format csv` agree.
 */
#define _GNU_SOURCE
#include "svc.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rules.h"

static const char *svc_direction_name(unsigned d)
{
	static const char *const n[] = {"?", "cross_above", "cross_below", "sign_change",
	                                "level_enter"};
	return d < sizeof(n) / sizeof(n[0]) ? n[d] : "?";
}

static void svc_operand_text(const struct shmbus_rule_operand *o, char *buf, size_t n)
{
	if (o->kind == SHMBUS_OPND_CONST)
		snprintf(buf, n, "%.10g", o->constant);
	else
		snprintf(buf, n, "%s", o->name);
}

int shmbus_svc_rule_text(const struct shmbus_rule *r, char *buf, size_t n)
{
	char a[48], b[48];
	int k;

	svc_operand_text(&r->a, a, sizeof(a));
	svc_operand_text(&r->b, b, sizeof(b));
	if (r->op == SHMBUS_RULE_SIGN_CHANGE)
		k = snprintf(buf, n, "%s sign_change", a);
	else
		k = snprintf(buf, n, "%s %s %s", a, shmbus_rule_op_name(r->op), b);
	return (k < 0 || (size_t)k >= n) ? -ENOSPC : 0;
}

int shmbus_svc_alert_line(char *buf, size_t n, const struct shmbus_threshold *e, const char *symbol,
                          const struct shmbus_rule *rule)
{
	char when[40], text[112] = "", id[40];
	int k;

	shmbus_svc_iso_time(e->h.event_time_ns, when, sizeof(when));
	if (rule) {
		shmbus_svc_rule_text(rule, text, sizeof(text));
		snprintf(id, sizeof(id), "%s", rule->id);
	} else {
		snprintf(id, sizeof(id), "rule#%u", e->rule_id);
	}
	k = snprintf(
	    buf, n, "alert %s %s %s: %s%s%s value=%.10g threshold=%.10g trigger=%s:%u:%llu", when,
	    symbol, id, text, text[0] ? " " : "", svc_direction_name(e->direction), e->value,
	    e->threshold,
	    shmbus_event_type_name(e->trigger_type) ? shmbus_event_type_name(e->trigger_type) : "?",
	    e->trigger_source, (unsigned long long)e->trigger_seq);
	return (k < 0 || (size_t)k >= n) ? -ENOSPC : 0;
}

int shmbus_svc_indicator_name(unsigned kind, const uint16_t p[3], unsigned index, char *buf,
                              size_t n)
{
	static const char *const macd[] = {"", "_signal", "_hist"};
	static const char *const bb[] = {"_middle", "_upper", "_lower"};
	int k;

	if (index > 2 || ((kind != SHMBUS_IND_MACD && kind != SHMBUS_IND_BOLLINGER) && index))
		return -EINVAL;
	switch (kind) {
	case SHMBUS_IND_SMA:
	case SHMBUS_IND_EMA:
	case SHMBUS_IND_RSI:
		k = snprintf(buf, n, "%s%u", shmbus_indicator_name(kind), p[0]);
		break;
	case SHMBUS_IND_VWAP:
		k = snprintf(buf, n, "vwap");
		break;
	case SHMBUS_IND_MACD:
		k = snprintf(buf, n, "macd%u_%u_%u%s", p[0], p[1], p[2], macd[index]);
		break;
	case SHMBUS_IND_BOLLINGER:
		k = snprintf(buf, n, "bb%u_%u%s", p[0], p[1], bb[index]);
		break;
	default:
		return -EINVAL;
	}
	return (k < 0 || (size_t)k >= n) ? -ENOSPC : 0;
}

unsigned shmbus_svc_indicator_outputs(unsigned kind)
{
	return (kind == SHMBUS_IND_MACD || kind == SHMBUS_IND_BOLLINGER) ? 3 : 1;
}

