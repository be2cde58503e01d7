/*
 * hist_share.h - moving latency histograms from the measuring child
 * processes to the parent of a shmbus-bench run, and writing them out.
 *
 * A child records into its own shmbus_hist (malloc'd, private to it) and,
 * when its round is done, exports the non-empty buckets into a slot of
 * shared anonymous memory the parent mapped before forking; the parent
 * imports them into a histogram of the same configuration (1 ns .. 1 h, 3
 * significant digits), so every bucket lands where it was. A slot's size is
 * bounded by the histogram's bucket count, not by the number of samples, so
 * long --duration runs need no sample buffers.
 */
#ifndef BENCH_HIST_SHARE_H
#define BENCH_HIST_SHARE_H

#include <stddef.h>
#include <stdint.h>

#include <shmbus/histogram.h>

#include "bench_common.h"

/* One exported histogram: its non-empty buckets, lowest value first. */
struct bench_hs {
	int64_t n;        /* buckets used */
	int64_t rejected; /* values the child's histogram refused */
	struct {
		int64_t value; /* lowest value of the bucket */
		int64_t count;
	} b[];
};

/* A histogram of the configuration every bench histogram uses. Returns 0
 * or -ENOMEM/-EINVAL. */
int bench_hs_create(struct shmbus_hist **out);

/* Bytes one exported histogram may need (the same for every slot). */
size_t bench_hs_bytes(void);

/* Export h into dst (bench_hs_bytes() bytes). Returns 0 or -ENOSPC. */
int bench_hs_export(struct bench_hs *dst, const struct shmbus_hist *h);

/* Add the buckets of src to dst. Returns 0 or -ERANGE (values dropped). */
int bench_hs_import(struct shmbus_hist *dst, const struct bench_hs *src);

/* Summary of a histogram in the form the reports print (ns). */
void bench_hs_lat(const struct shmbus_hist *h, struct bench_lat *out);

/*
 * Write h as DIR/NAME.hgrm (HdrHistogram percentile distribution, values
 * in ns, 5 ticks per half distance). Prints why on failure. Returns a
 * BENCH_EXIT_* code.
 */
int bench_hs_write_hgrm(const char *dir, const char *name, const struct shmbus_hist *h);

#endif
