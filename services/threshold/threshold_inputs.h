/*
 * threshold_inputs.h - from bar and indicator events to the value updates
 * an evaluator takes (threshold_eval.h), shared by shmbus-threshold and
 * the pipeline benchmark's threshold stage.
 *
 * A bar gives its close, open, high, low and volume; an indicator its up
 * to three outputs, named by kind and parameters (rules.h). Each series
 * is looked up once: the bar fields when the map is made, an indicator's
 * outputs the first time its (kind, parameters) is seen, cached after
 * that (for the first SHMBUS_THR_IND_CACHE sets; later ones are looked up
 * at each event). Only series some rule reads become updates.
 */
#ifndef SHMBUS_THRESHOLD_INPUTS_H
#define SHMBUS_THRESHOLD_INPUTS_H

#include <stddef.h>
#include <stdint.h>

#include <shmbus/event.h>

#include "threshold_eval.h"

#define SHMBUS_THR_IND_CACHE 32 /* (kind, parameters) sets remembered */
#define SHMBUS_THR_INPUTS_MAX 5 /* updates one event gives at most */

struct shmbus_thr_ind_ids {
	uint16_t kind;
	uint16_t param[3];
	int32_t id[3]; /* value id per output, -1 when no rule reads it */
};

struct shmbus_thr_inputs {
	const struct shmbus_thr_eval *ev;
	int32_t bar_ids[5]; /* close, open, high, low, volume */
	struct shmbus_thr_ind_ids ind[SHMBUS_THR_IND_CACHE];
	unsigned nind;
	struct shmbus_thr_ind_ids spill; /* a set looked up while the cache is full */
};

/* Look up the bar series of evaluator ev (which must outlive m). */
void shmbus_thr_inputs_init(struct shmbus_thr_inputs *m, const struct shmbus_thr_eval *ev);

/*
 * The updates event ev carries, into in[SHMBUS_THR_INPUTS_MAX], and its
 * chain's origin time into *origin_ns. Returns how many (0 when no rule
 * reads any of them), or -1 when ev is not a (complete) bar or indicator.
 */
int shmbus_thr_inputs_of(struct shmbus_thr_inputs *m, const struct shmbus_event_header *ev,
			 struct shmbus_thr_input *in, int64_t *origin_ns);

#endif
