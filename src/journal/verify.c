/*
 * verify.c - full check (verify) and header-only description (info) of a
 * journal directory.
 *
 * Verify reads every block of every segment, in write order, through the
 * same checks as the reader, and stops at the first bad header or block so
 * that the offset it reports is the exact first damage. It also follows
 * each source's sequence: a jump is counted as a gap (events lost to a
 * full disk or a dropping ring leave gaps legitimately), not as damage.
 * Info reads segment and block headers only, so it is cheap enough to run
 * on a live journal. Both leave out a segment that retention deleted
 * between the listing and its open (its name gone), as the reader does.
 */
#include "journal/jrnl_format.h"
#include "journal/jrnl_srcmap.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static void jrnl_verify_gaps(struct shmbus_journal_verify_report *rep, struct jrnl_srcmap *last,
                             const uint8_t *payload, uint32_t len)
{
	uint32_t pos = 0;
	const struct shmbus_event_header *e;
	while ((e = jrnl_next_event(payload, len, &pos))) {
		uint64_t prev;
		if (jrnl_srcmap_get(last, e->source_id, &prev) == 0 && e->seq != prev + 1) {
			if (rep->seq_gaps++ == 0) {
				rep->first_gap_source = e->source_id;
				rep->first_gap_expected = prev + 1;
				rep->first_gap_seq = e->seq;
			}
		}
		jrnl_srcmap_set(last, e->source_id, e->seq);
		rep->events++;
	}
}

/* Verify one segment; returns 0 or -EBADMSG (rep->bad) or -errno. */
static int jrnl_verify_segment(struct jrnl_seg *s, struct shmbus_journal_verify_report *rep,
                               struct jrnl_srcmap *last, uint8_t **buf, size_t *cap)
{
	if (s->bad && s->bad_off == 0)
		return jrnl_err_set(&rep->bad, -EBADMSG, s->path, 0, "%s", s->bad_detail);
	for (size_t i = 0; i < s->nblk; i++) {
		int rc = jrnl_seg_read_block(s, i, buf, cap, &rep->bad);
		if (rc)
			return rc;
		struct jrnl_blk_header bh;
		memcpy(&bh, *buf, sizeof(bh));
		if (bh.block_no != i)
			return jrnl_err_set(&rep->bad, -EBADMSG, s->path, s->blks[i].off,
			                    "block number %u, expected %zu", bh.block_no, i);
		jrnl_verify_gaps(rep, last, *buf + JRNL_BLK_HDR, bh.payload_len);
		rep->blocks++;
	}
	if (s->bad)
		return jrnl_err_set(&rep->bad, -EBADMSG, s->path, s->bad_off, "%s", s->bad_detail);
	return 0;
}

int shmbus_journal_verify(const char *dir, const char *bus_name,
                          struct shmbus_journal_verify_report *rep)
{
	memset(rep, 0, sizeof(*rep));
	if (!dir || (bus_name && !jrnl_bus_name_ok(bus_name)))
		return jrnl_err_set(&rep->bad, -EINVAL, NULL, 0, "bad directory or bus name");
	struct jrnl_seg_entry *v;
	size_t n;
	int rc = jrnl_dir_list(dir, bus_name, &v, &n);
	if (rc)
		return jrnl_err_set(&rep->bad, rc, dir, 0, "cannot list journal directory");
	struct jrnl_srcmap last = {0};
	uint8_t *buf = NULL;
	size_t cap = 0;
	for (size_t i = 0; i < n && rc == 0; i++) {
		struct jrnl_seg s;
		struct stat st;
		rc = jrnl_seg_open_scan(&s, v[i].path);
		if (rc == -ENOENT && lstat(v[i].path, &st) < 0 && errno == ENOENT) {
			rc = 0; /* deleted by retention since the listing: no damage */
			continue;
		}
		if (rc) {
			jrnl_err_set(&rep->bad, rc, v[i].path, 0, "cannot open segment: %s",
			             jrnl_open_error(rc));
			break;
		}
		rep->segments++;
		rc = jrnl_verify_segment(&s, rep, &last, &buf, &cap);
		jrnl_seg_close(&s);
	}
	free(buf);
	free(v);
	jrnl_srcmap_free(&last);
	return rc;
}

static void jrnl_info_segment(struct shmbus_journal_segment_info *si, const struct jrnl_seg *s)
{
	memset(si, 0, sizeof(*si));
	memcpy(si->path, s->path, sizeof(si->path));
	si->file_bytes = s->size;
	si->bad = s->bad;
	si->bad_offset = s->bad_off;
	if (s->bad && s->bad_off == 0)
		return;
	memcpy(si->bus, s->h.bus, sizeof(si->bus) - 1);
	si->layout_hash = s->h.layout_hash;
	si->first_ts_ns = s->h.first_ts_ns;
	si->created_ns = s->h.created_ns;
	si->blocks = s->nblk;
	for (size_t i = 0; i < s->nblk; i++) {
		const struct jrnl_blk_ent *b = &s->blks[i];
		si->events += b->count;
		if (i == 0 || b->min_time_ns < si->min_time_ns)
			si->min_time_ns = b->min_time_ns;
		if (i == 0 || b->max_time_ns > si->max_time_ns)
			si->max_time_ns = b->max_time_ns;
	}
}

static void jrnl_info_total(struct shmbus_journal_info *info)
{
	int any = 0;
	for (size_t i = 0; i < info->n_segments; i++) {
		const struct shmbus_journal_segment_info *si = &info->segments[i];
		info->blocks += si->blocks;
		info->events += si->events;
		info->file_bytes += si->file_bytes;
		if (!si->blocks)
			continue;
		if (!any || si->min_time_ns < info->min_time_ns)
			info->min_time_ns = si->min_time_ns;
		if (!any || si->max_time_ns > info->max_time_ns)
			info->max_time_ns = si->max_time_ns;
		any = 1;
	}
}

int shmbus_journal_info_get(const char *dir, const char *bus_name, struct shmbus_journal_info *info)
{
	memset(info, 0, sizeof(*info));
	if (!dir || (bus_name && !jrnl_bus_name_ok(bus_name)))
		return -EINVAL;
	struct jrnl_seg_entry *v;
	size_t n;
	int rc = jrnl_dir_list(dir, bus_name, &v, &n);
	if (rc)
		return rc;
	info->segments = calloc(n ? n : 1, sizeof(*info->segments));
	if (!info->segments) {
		free(v);
		return -ENOMEM;
	}
	for (size_t i = 0; i < n; i++) {
		struct jrnl_seg s;
		rc = jrnl_seg_open_scan(&s, v[i].path);
		if (rc == -ENOENT)
			continue; /* deleted by retention meanwhile */
		if (rc == -ENOMEM)
			break;
		if (rc) { /* listed as a bad segment, like one with a bad header */
			struct shmbus_journal_segment_info *si = &info->segments[info->n_segments++];
			memset(si, 0, sizeof(*si));
			snprintf(si->path, sizeof(si->path), "%s", v[i].path);
			si->bad = 1;
			rc = 0;
			continue;
		}
		jrnl_info_segment(&info->segments[info->n_segments++], &s);
		jrnl_seg_close(&s);
	}
	free(v);
	if (rc && rc != -ENOENT) {
		shmbus_journal_info_free(info);
		return rc;
	}
	jrnl_info_total(info);
	return 0;
}

void shmbus_journal_info_free(struct shmbus_journal_info *info)
{
	if (!info)
		return;
	free(info->segments);
	info->segments = NULL;
	info->n_segments = 0;
}
