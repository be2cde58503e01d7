/*
 * svc_stage.c - a processing stage's hold on the bus (ta, threshold):
 * attach, report a failed start-up step, count end-of-stream markers,
 * close.
 *
 * A stage consumes one ring with policy block (it must not lose an event
 * of a stream whose end it will announce) and publishes with one
 * producer. A stream ends for it when the markers of all its upstream
 * sources (--eos-count) have arrived; one producer's events keep their
 * order in a ring, so by then every event of the stream has been handled.
 */
#define _GNU_SOURCE
#include "svc.h"

#include <errno.h>
#include <stdio.h>

/* Name the types of @mask into buf: "trade, heartbeat". */
static void type_list(uint64_t mask, char *buf, size_t len)
{
	size_t used = 0;
	buf[0] = '\0';
	for (unsigned t = 0; t < 64 && used < len; t++) {
		if (!(mask & SHMBUS_TYPE_BIT(t)))
			continue;
		const char *name = shmbus_event_type_name(t);
		int n = name ? snprintf(buf + used, len - used, "%s%s", used ? ", " : "", name)
		             : snprintf(buf + used, len - used, "%s%u", used ? ", " : "", t);
		used += n > 0 ? (size_t)n : 0;
	}
}

/*
 * A ring that exists already (declared by shmbusctl from the config, or
 * left by an earlier run) is adopted as it is: its geometry unless
 * --capacity says otherwise (then a differing ring is an error), its
 * filter, policy and wait strategy unless --wait says otherwise. One
 * exception: the types the stage publishes itself (`outputs`, e.g. ta's
 * bars) are taken out of the filter, since a ring of its own output
 * would feed the stage back and, under block, stall it for good; with a
 * declared symbol list too that cannot be done here (the list is not
 * readable through the API) and is refused. What the stage reads but the
 * ring will never hold is said on stderr. Returns 0 or -EINVAL.
 */
static int stage_adopt(const char *tool, const struct shmbus_svc_opts *o, const char *ring,
                       const struct shmbus_ring_stat *rs, uint64_t needs, uint64_t outputs,
                       uint32_t capacity, struct shmbus_sub_opts *so)
{
	char names[256];
	uint64_t declared = rs->types ? rs->types : ~UINT64_C(1); /* 0: every type */
	uint64_t feedback = declared & outputs;
	if (feedback && rs->nsymbols) {
		type_list(feedback, names, sizeof(names));
		fprintf(stderr,
		        "%s: ring '%s' takes %s events, which %s publishes itself: it would feed "
		        "itself; declare it with the types it reads (and heartbeat)\n",
		        tool, ring, names, tool);
		return -EINVAL;
	}
	if (feedback) {
		type_list(feedback, names, sizeof(names));
		fprintf(stderr,
		        "%s: note: ring '%s' takes %s events, which %s publishes itself: "
		        "subscribed without them\n",
		        tool, ring, names, tool);
	}
	if (!capacity)
		so->capacity = rs->capacity;
	so->slot_size = rs->slot_size;
	/* Without a symbol list the declared types are set again explicitly
	 * (a ring removed meanwhile is then made with them, not with every
	 * type); with one, types 0 and no symbols keep the whole filter. */
	so->types = rs->nsymbols ? 0 : declared & ~outputs;
	so->policy = rs->policy;
	if (!o->wait_set)
		so->wait = rs->wait;
	uint64_t missing = rs->types ? needs & ~rs->types : 0;
	if (missing) {
		type_list(missing, names, sizeof(names));
		fprintf(stderr, "%s: warning: ring '%s' takes no %s events: those never reach it\n",
		        tool, ring, names);
	}
	uint64_t too_big = 0;
	for (unsigned t = 0; t < 64; t++)
		if ((needs & SHMBUS_TYPE_BIT(t)) &&
		    shmbus_event_type_size(t) + 8 > rs->slot_size)
			too_big |= SHMBUS_TYPE_BIT(t);
	if (too_big) {
		type_list(too_big, names, sizeof(names));
		fprintf(stderr,
		        "%s: warning: ring '%s' has %u-byte slots: its %s events do not fit and "
		        "never reach it\n",
		        tool, ring, rs->slot_size, names);
	}
	if (rs->policy == SHMBUS_POLICY_DROP)
		fprintf(stderr,
		        "%s: note: ring '%s' has policy drop: events are dropped (counted) while "
		        "this stage falls behind\n",
		        tool, ring);
	return 0;
}

int shmbus_svc_stage_attach(const char *tool, const struct shmbus_svc_opts *o, const char *ring,
                            uint64_t types, uint64_t outputs, uint32_t capacity,
                            struct shmbus_svc_stage *st, const char **what)
{
	struct shmbus_sub_opts so;
	struct shmbus_producer_opts po;
	struct shmbus_bus_info bi;
	struct shmbus_ring_stat rs;
	int rc;

	*what = "attaching the bus";
	if ((rc = shmbus_bus_open(o->bus, o->name, SHMBUS_ROLE_SERVICE, &st->bus)) != 0)
		return rc;
	*what = "reading the bus";
	if ((rc = shmbus_stat_bus(st->bus, &bi)) != 0)
		return rc;
	st->max_symbols = bi.max_symbols;
	shmbus_producer_opts_init(&po);
	po.source_id = o->source_id;
	po.cancel = shmbus_svc_stop_flag(); /* its SIGTERM ends a wait behind a stuck consumer */
	*what = "opening the producer";
	if ((rc = shmbus_producer_open(st->bus, &po, &st->p)) != 0)
		return rc;
	/* What it publishes (its end-of-stream marker is a heartbeat): its
	 * consumers count it as a feeder before its first event, so that the
	 * launcher stops them after its final flush. */
	*what = "announcing the producer's types";
	if ((rc = shmbus_producer_announce(st->p, outputs | SHMBUS_TYPE_BIT(SHMBUS_EV_HEARTBEAT))) != 0)
		return rc;
	shmbus_sub_opts_init(&so);
	so.types = types;
	so.capacity = capacity ? capacity : SHMBUS_SVC_STAGE_CAPACITY;
	so.slot_size = 128;
	so.policy = SHMBUS_POLICY_BLOCK;
	so.wait = o->wait;
	int idx = shmbus_stat_find_ring(st->bus, ring);
	*what = "adopting the declared ring";
	if (idx >= 0 && shmbus_stat_ring(st->bus, (uint32_t)idx, &rs) == 0 &&
	    (rc = stage_adopt(tool, o, ring, &rs, types, outputs & ~SHMBUS_TYPE_BIT(SHMBUS_EV_HEARTBEAT),
	                      capacity, &so)) != 0)
		return rc;
	*what = "subscribing";
	return shmbus_subscribe(st->bus, ring, &so, &st->c);
}

int shmbus_svc_stage_fail(const char *tool, const struct shmbus_svc_opts *o, const char *ring,
                          const char *what, int rc)
{
	char err[256];

	fprintf(stderr, "%s: %s (bus '%s', ring '%s') failed: %s\n", tool, what, o->bus, ring,
	        shmbus_svc_strerror(rc, err, sizeof(err)));
	return 1;
}

void shmbus_svc_stage_close(struct shmbus_svc_stage *st)
{
	shmbus_consumer_close(st->c);
	shmbus_producer_close(st->p);
	shmbus_bus_close(st->bus);
}

int shmbus_svc_eos_arrived(const struct shmbus_event_header *ev, uint32_t status, uint64_t count,
                           uint64_t *seen, uint64_t *in)
{
	if (!shmbus_svc_as_status(ev, status))
		return -1;
	(*in)++;
	if (++*seen < count)
		return 0;
	*seen = 0;
	return 1;
}
