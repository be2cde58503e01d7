/*
 * hist_share.c - latency histograms across the processes of a run (see
 * hist_share.h): export/import through shared memory, summaries, medians
 * over rounds and .hgrm files.
 */
#include "hist_share.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

int bench_hs_create(struct shmbus_hist **out)
{
	return shmbus_hist_create(1, SHMBUS_HIST_HOUR_NS, 3, out);
}

size_t bench_hs_bytes(void)
{
	static size_t bytes;
	struct shmbus_hist *h;

	/* The bucket count depends only on the configuration: ask once. */
	if (!bytes && bench_hs_create(&h) == 0) {
		bytes = sizeof(struct bench_hs) +
		        (size_t)shmbus_hist_counts_len(h) * 2 * sizeof(int64_t);
		shmbus_hist_destroy(h);
	}
	return bytes;
}

int bench_hs_export(struct bench_hs *dst, const struct shmbus_hist *h)
{
	size_t cap = (bench_hs_bytes() - sizeof(*dst)) / (2 * sizeof(int64_t));
	struct shmbus_hist_iter it;
	struct shmbus_hist_bucket b;

	dst->n = 0;
	dst->rejected = shmbus_hist_rejected(h);
	shmbus_hist_iter_init(&it, h);
	while (shmbus_hist_iter_next(&it, &b)) {
		if ((size_t)dst->n == cap)
			return -ENOSPC;
		dst->b[dst->n].value = b.value_lo;
		dst->b[dst->n].count = b.count;
		dst->n++;
	}
	return 0;
}

int bench_hs_import(struct shmbus_hist *dst, const struct bench_hs *src)
{
	int rc = 0;

	for (int64_t i = 0; i < src->n; i++)
		if (!shmbus_hist_record_n(dst, src->b[i].value, src->b[i].count))
			rc = -ERANGE;
	return src->rejected ? -ERANGE : rc;
}

void bench_hs_lat(const struct shmbus_hist *h, struct bench_lat *out)
{
	memset(out, 0, sizeof(*out));
	out->count = (uint64_t)shmbus_hist_total_count(h);
	if (!out->count)
		return;
	out->min = shmbus_hist_min(h);
	out->mean = shmbus_hist_mean(h);
	bench_lat_percentiles(h, out);
}

int bench_hs_write_hgrm(const char *dir, const char *name, const struct shmbus_hist *h)
{
	char path[4096];
	FILE *f;
	int rc;

	snprintf(path, sizeof(path), "%s/%s.hgrm", dir, name);
	f = fopen(path, "w");
	if (!f) {
		bench_err("write histogram", "%s: %s", path, strerror(errno));
		return BENCH_EXIT_FAIL;
	}
	rc = shmbus_hist_write_hgrm(h, f, 5, 1.0);
	if (fclose(f) != 0 && rc == 0)
		rc = -EIO;
	if (rc < 0) {
		bench_err("write histogram", "%s: %s", path, strerror(-rc));
		return BENCH_EXIT_FAIL;
	}
	return BENCH_EXIT_OK;
}
