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

#include <stdio.h>

int shmbus_svc_stage_attach(const struct shmbus_svc_opts *o, const char *ring, uint64_t types,
                            uint32_t capacity, struct shmbus_svc_stage *st, const char **what)
{
	struct shmbus_sub_opts so;
	struct shmbus_producer_opts po;
	struct shmbus_bus_info bi;
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
	*what = "opening the producer";
	if ((rc = shmbus_producer_open(st->bus, &po, &st->p)) != 0)
		return rc;
	shmbus_sub_opts_init(&so);
	so.types = types;
	so.capacity = capacity;
	so.slot_size = 128;
	so.policy = SHMBUS_POLICY_BLOCK;
	so.wait = o->wait;
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
