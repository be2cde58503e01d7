/*
 * pipeline_tap.c - the pipeline's own subscriber ("pipeline-tap", policy
 * block): it sees every threshold event and every end-of-stream marker,
 * and the indicator events when --tap-csv asks for them.
 *
 * End-to-end latency is measured here as threshold.publish_time_ns -
 * origin_ns: both are stamped by the bus clock (CLOCK_REALTIME) in the
 * collector's and the threshold service's processes, so the tap adds
 * nothing to what it measures. The tap is the last stage to learn that a
 * stream ended: the threshold service's marker arrives after every alert
 * it published, in the same ring.
 */
#define _GNU_SOURCE
#include "pipeline.h"
#include "tool_fmt.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define PL_TAP_SYMS 4097

static char pl_sym_names[PL_TAP_SYMS][SHMBUS_SYMBOL_MAX + 1];

static const char *pl_symbol(shmbus_bus *bus, uint32_t id)
{
	static char other[SHMBUS_SYMBOL_MAX + 1];
	char *s = id < PL_TAP_SYMS ? pl_sym_names[id] : other;

	if (s[0] == '\0' || s == other)
		if (shmbus_symbol_name(bus, id, s, SHMBUS_SYMBOL_MAX + 1) < 0)
			snprintf(s, SHMBUS_SYMBOL_MAX + 1, "#%u", id);
	return s;
}

static void pl_on_alert(struct pl_tap *t, const struct shmbus_threshold *e)
{
	const struct shmbus_rule *r =
	    e->rule_id < t->rules->count ? &t->rules->rules[e->rule_id] : NULL;
	const char *sym = pl_symbol(t->bus, e->h.symbol_id);
	char line[320], v[32], th[32];

	t->alerts++;
	shmbus_hist_record(t->lat, e->h.publish_time_ns - e->origin_ns);
	if (t->nshown < t->max_shown) {
		shmbus_svc_alert_line(line, sizeof(line), e, sym, r); /* truncation is fine */
		t->shown[t->nshown++] = strdup(line);
	}
	if (t->alerts_csv && fprintf(t->alerts_csv, "%lld,%s,%u,%s,%u,%s,%s,%s,%u,%llu\n",
	                             (long long)e->h.event_time_ns, sym, e->rule_id, r ? r->id : "",
	                             e->direction, tool_fmt_double(e->value, v, sizeof(v)),
	                             tool_fmt_double(e->threshold, th, sizeof(th)),
	                             shmbus_event_type_name(e->trigger_type)
	                                 ? shmbus_event_type_name(e->trigger_type)
	                                 : "?",
	                             e->trigger_source, (unsigned long long)e->trigger_seq) < 0)
		t->io_error = 1;
}

static void pl_on_indicator(struct pl_tap *t, const struct shmbus_indicator *e)
{
	const char *sym;
	char name[64], v[32];

	t->indicators++;
	if (!t->tap_csv)
		return;
	sym = pl_symbol(t->bus, e->h.symbol_id);
	for (unsigned i = 0; i < shmbus_svc_indicator_outputs(e->kind); i++) {
		if (shmbus_svc_indicator_name(e->kind, e->param, i, name, sizeof(name)) != 0)
			continue;
		/* Same rows as `shmbus-journal cat --format csv --types indicator`,
		 * "nan" for an output still warming up (the MACD signal). */
		if (fprintf(t->tap_csv, "%lld,%s,%s,%s\n", (long long)e->h.event_time_ns, sym, name,
		            tool_fmt_double(e->value[i], v, sizeof(v))) < 0)
			t->io_error = 1;
		t->indicator_rows++;
	}
}

static void pl_on_tap(const struct shmbus_event_header *ev, void *ctx)
{
	struct pl_tap *t = ctx;
	const struct shmbus_heartbeat *hb;

	if (ev->type == SHMBUS_EV_THRESHOLD && ev->size >= sizeof(struct shmbus_threshold)) {
		pl_on_alert(t, (const struct shmbus_threshold *)ev);
	} else if (ev->type == SHMBUS_EV_INDICATOR && ev->size >= sizeof(struct shmbus_indicator)) {
		pl_on_indicator(t, (const struct shmbus_indicator *)ev);
	} else if (shmbus_svc_as_status(ev, SHMBUS_SVC_EOS_MARKET)) {
		t->eos_market++;
	} else if ((hb = shmbus_svc_as_status(ev, SHMBUS_SVC_EOS_TA)) != NULL) {
		t->eos_ta++;
		t->last_eos_ta = *hb;
	} else if ((hb = shmbus_svc_as_status(ev, SHMBUS_SVC_EOS_THRESHOLD)) != NULL) {
		t->eos_threshold++;
		t->last_eos_threshold = *hb;
	}
}

static FILE *pl_open_csv(const char *path, const char *header)
{
	FILE *f = fopen(path, "w");

	if (f) {
		setvbuf(f, NULL, _IOFBF, 1 << 20);
		fputs(header, f);
	}
	return f;
}

int pl_tap_open(struct pipeline *p)
{
	struct pl_tap *t = &p->tap;
	struct shmbus_sub_opts so;
	int rc;

	t->bus = p->bus;
	t->rules = &p->rules;
	t->max_shown = p->o.show_alerts < PL_MAX_SHOWN ? p->o.show_alerts : PL_MAX_SHOWN;
	if ((rc = shmbus_hist_create(1, SHMBUS_HIST_HOUR_NS, 3, &t->lat)) != 0)
		return rc;
	if (p->o.tap_csv &&
	    !(t->tap_csv = pl_open_csv(p->o.tap_csv, "event_time_ns,symbol,indicator,value\n")))
		return -errno;
	if (p->o.alerts_csv &&
	    !(t->alerts_csv = pl_open_csv(p->o.alerts_csv,
	                                  "event_time_ns,symbol,rule_index,rule_id,direction,value,"
	                                  "threshold,trigger_type,trigger_source,trigger_seq\n")))
		return -errno;
	shmbus_sub_opts_init(&so);
	so.types = SHMBUS_TYPE_BIT(SHMBUS_EV_THRESHOLD) | SHMBUS_TYPE_BIT(SHMBUS_EV_HEARTBEAT);
	if (p->o.tap_csv)
		so.types |= SHMBUS_TYPE_BIT(SHMBUS_EV_INDICATOR);
	so.slot_size = 128;
	so.capacity = 65536;
	so.policy = SHMBUS_POLICY_BLOCK;
	return shmbus_subscribe(p->bus, "pipeline-tap", &so, &p->tap_c);
}

int pl_tap_poll(struct pipeline *p)
{
	int total = 0, got;

	if (!p->tap_c)
		return 0;
	while ((got = shmbus_poll(p->tap_c, pl_on_tap, &p->tap, 512)) > 0)
		total += got;
	if (got < 0 && !p->tap_broken) { /* the tap's ring is unusable: say so once */
		p->tap_broken = 1;
		fprintf(stderr, PL_TOOL ": tap: %s\n", shmbus_errmsg());
	}
	return total;
}

void pl_tap_close(struct pipeline *p)
{
	struct pl_tap *t = &p->tap;

	if (t->tap_csv && fclose(t->tap_csv) != 0)
		t->io_error = 1;
	if (t->alerts_csv && fclose(t->alerts_csv) != 0)
		t->io_error = 1;
	t->tap_csv = t->alerts_csv = NULL;
	if (p->tap_c)
		shmbus_consumer_close(p->tap_c);
	p->tap_c = NULL;
}
