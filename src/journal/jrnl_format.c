/*
 * jrnl_format.c - encode and validate segment headers and blocks.
 *
 * Everything here works on memory and trusts nothing it is given: a
 * length field is checked against the bytes really there before it is used,
 * every event's size field is checked against the payload end before the
 * event is read, and a failed check says which field was wrong. The reader,
 * verify, recovery and the fuzz target all go through these functions, so
 * the bounds logic exists exactly once.
 */
#include "journal/jrnl_format.h"

#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#define XXH_STATIC_LINKING_ONLY /* XXH3_state_t on the stack */
#include <xxhash.h>

uint64_t jrnl_layout_hash(void)
{
	/* src/ring/event.c folds every size and offset of event.h. */
	return shmbus_event_layout_hash();
}

int jrnl_bus_name_ok(const char *name)
{
	size_t n = name ? strlen(name) : 0;
	if (n == 0 || n > SHMBUS_JOURNAL_BUS_MAX)
		return 0;
	for (size_t i = 0; i < n; i++) {
		char c = name[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '_' || c == '.' || c == '-'))
			return 0;
	}
	return 1;
}

void jrnl_seg_header_build(void *area, const char *bus, uint64_t layout_hash, uint32_t block_align,
                           int64_t first_ts, int64_t created)
{
	struct jrnl_seg_header h;
	memset(area, 0, JRNL_HEADER_SIZE);
	memset(&h, 0, sizeof(h));
	h.magic = JRNL_SEG_MAGIC;
	h.version = JRNL_VERSION;
	h.header_size = JRNL_HEADER_SIZE;
	h.block_align = block_align;
	h.layout_hash = layout_hash;
	h.first_ts_ns = first_ts;
	h.created_ns = created;
	snprintf(h.bus, sizeof(h.bus), "%s", bus);
	memcpy(area, &h, sizeof(h));
	h.checksum = XXH3_64bits(area, JRNL_HEADER_SIZE);
	memcpy(area, &h, sizeof(h));
}

int jrnl_seg_header_parse(const void *buf, size_t len, struct jrnl_seg_header *h, char *detail,
                          size_t dlen)
{
	if (len < sizeof(*h)) {
		snprintf(detail, dlen, "segment header truncated (%zu of %u bytes)", len,
		         JRNL_HEADER_SIZE);
		return -EBADMSG;
	}
	memcpy(h, buf, sizeof(*h));
	if (h->magic != JRNL_SEG_MAGIC) {
		snprintf(detail, dlen, "bad segment magic 0x%016llx", (unsigned long long)h->magic);
		return -EBADMSG;
	}
	if (h->version != JRNL_VERSION) {
		snprintf(detail, dlen, "unsupported format version %u", h->version);
		return -EBADMSG;
	}
	if (h->header_size != JRNL_HEADER_SIZE) {
		snprintf(detail, dlen, "bad header size %u", h->header_size);
		return -EBADMSG;
	}
	if (len < JRNL_HEADER_SIZE) {
		snprintf(detail, dlen, "segment header truncated (%zu of %u bytes)", len,
		         JRNL_HEADER_SIZE);
		return -EBADMSG;
	}
	/* Hash with the checksum field zeroed; only the first 128 bytes are
	 * copied, the rest of the area is hashed in place. */
	uint8_t first[sizeof(*h)];
	memcpy(first, buf, sizeof(first));
	memset(first + offsetof(struct jrnl_seg_header, checksum), 0, 8);
	XXH3_state_t st;
	XXH3_64bits_reset(&st);
	XXH3_64bits_update(&st, first, sizeof(first));
	XXH3_64bits_update(&st, (const uint8_t *)buf + sizeof(first),
	                   JRNL_HEADER_SIZE - sizeof(first));
	if (XXH3_64bits_digest(&st) != h->checksum) {
		snprintf(detail, dlen, "segment header checksum mismatch");
		return -EBADMSG;
	}
	if (h->block_align != JRNL_EV_ALIGN && h->block_align != 4096) {
		snprintf(detail, dlen, "bad block alignment %u", h->block_align);
		return -EBADMSG;
	}
	if (memchr(h->bus, 0, sizeof(h->bus)) == NULL || !jrnl_bus_name_ok(h->bus)) {
		snprintf(detail, dlen, "bad bus name in segment header");
		return -EBADMSG;
	}
	return 0;
}

uint64_t jrnl_blk_checksum(const struct jrnl_blk_header *bh, const void *payload)
{
	XXH3_state_t st;
	XXH3_64bits_reset(&st);
	XXH3_64bits_update(&st, (const uint8_t *)bh + 16, JRNL_BLK_HDR - 16);
	XXH3_64bits_update(&st, payload, bh->payload_len);
	return XXH3_64bits_digest(&st);
}

int jrnl_blk_header_check(const struct jrnl_blk_header *bh, uint64_t room, char *detail,
                          size_t dlen)
{
	if (room < JRNL_BLK_HDR) {
		snprintf(detail, dlen, "torn block header (%llu bytes left)",
		         (unsigned long long)room);
		return -EBADMSG;
	}
	if (bh->magic != JRNL_BLK_MAGIC) {
		snprintf(detail, dlen, "bad block magic 0x%08x", bh->magic);
		return -EBADMSG;
	}
	if (bh->payload_len % JRNL_EV_ALIGN || bh->payload_len > JRNL_MAX_BLOCK ||
	    bh->payload_len < JRNL_EV_MIN || bh->count == 0 ||
	    bh->count > bh->payload_len / JRNL_EV_MIN) {
		snprintf(detail, dlen, "bad block length %u / count %u", bh->payload_len,
		         bh->count);
		return -EBADMSG;
	}
	if (bh->min_time_ns > bh->max_time_ns || bh->min_seq > bh->max_seq) {
		snprintf(detail, dlen, "bad block ranges (min > max)");
		return -EBADMSG;
	}
	if (room < (uint64_t)JRNL_BLK_HDR + bh->payload_len) {
		snprintf(detail, dlen, "torn block: %u payload bytes, %llu in file",
		         bh->payload_len, (unsigned long long)(room - JRNL_BLK_HDR));
		return -EBADMSG;
	}
	return 0;
}

/* One event at payload offset pos: size and ranges against the header. */
static int jrnl_event_check(const struct jrnl_blk_header *bh, const uint8_t *p, uint32_t pos,
                            char *detail, size_t dlen)
{
	struct shmbus_event_header e;
	if (bh->payload_len - pos < JRNL_EV_MIN) {
		snprintf(detail, dlen, "event at payload offset %u: truncated header", pos);
		return -EBADMSG;
	}
	memcpy(&e, p + pos, sizeof(e));
	if (e.size < JRNL_EV_MIN || e.size > SHMBUS_EVENT_MAX ||
	    jrnl_align_up(e.size, JRNL_EV_ALIGN) > bh->payload_len - pos) {
		snprintf(detail, dlen, "event at payload offset %u: bad size %u", pos, e.size);
		return -EBADMSG;
	}
	if (e.event_time_ns < bh->min_time_ns || e.event_time_ns > bh->max_time_ns ||
	    e.seq < bh->min_seq || e.seq > bh->max_seq) {
		snprintf(detail, dlen, "event at payload offset %u: time/seq outside block range",
		         pos);
		return -EBADMSG;
	}
	return 0;
}

int jrnl_blk_check(const struct jrnl_blk_header *bh, const uint8_t *payload, char *detail,
                   size_t dlen)
{
	if (jrnl_blk_checksum(bh, payload) != bh->checksum) {
		snprintf(detail, dlen, "block checksum mismatch");
		return -EBADMSG;
	}
	uint32_t pos = 0, n = 0;
	while (pos < bh->payload_len) {
		int rc = jrnl_event_check(bh, payload, pos, detail, dlen);
		if (rc)
			return rc;
		uint16_t sz;
		memcpy(&sz, payload + pos + offsetof(struct shmbus_event_header, size), 2);
		pos += (uint32_t)jrnl_align_up(sz, JRNL_EV_ALIGN);
		n++;
	}
	if (n != bh->count) {
		snprintf(detail, dlen, "block holds %u events, header says %u", n, bh->count);
		return -EBADMSG;
	}
	return 0;
}

int jrnl_seg_name(char *out, size_t n, const char *dir, const char *bus, uint64_t start)
{
	int len =
	    snprintf(out, n, "%s/%s-%020llu%s", dir, bus, (unsigned long long)start, JRNL_SUFFIX);
	return (len < 0 || (size_t)len >= n) ? -ENAMETOOLONG : 0;
}

int jrnl_seg_name_parse(const char *name, const char *bus, uint64_t *start)
{
	size_t n = strlen(name), sl = strlen(JRNL_SUFFIX);
	if (n < 22 + sl || strcmp(name + n - sl, JRNL_SUFFIX) != 0)
		return -1;
	const char *digits = name + n - sl - 20;
	if (digits[-1] != '-')
		return -1;
	size_t blen = (size_t)(digits - 1 - name);
	if (bus && (strlen(bus) != blen || memcmp(name, bus, blen) != 0))
		return -1;
	uint64_t v = 0;
	for (int i = 0; i < 20; i++) {
		if (digits[i] < '0' || digits[i] > '9')
			return -1;
		uint64_t d = (uint64_t)(digits[i] - '0');
		if (v > ((uint64_t)INT64_MAX - d) / 10)
			return -1; /* start numbers are times in ns: never past INT64_MAX */
		v = v * 10 + d;
	}
	*start = v;
	return 0;
}

static int jrnl_seg_entry_cmp(const void *a, const void *b)
{
	const struct jrnl_seg_entry *x = a, *y = b;
	if (x->start != y->start)
		return x->start < y->start ? -1 : 1;
	return strcmp(x->path, y->path);
}

int jrnl_dir_list(const char *dir, const char *bus, struct jrnl_seg_entry **out, size_t *n)
{
	DIR *d = opendir(dir);
	if (!d)
		return -errno;
	struct jrnl_seg_entry *v = NULL;
	size_t cnt = 0, cap = 0;
	struct dirent *de;
	int rc = 0;
	while ((de = readdir(d)) != NULL) {
		uint64_t start;
		if (jrnl_seg_name_parse(de->d_name, bus, &start))
			continue;
		if (cnt == cap) {
			cap = cap ? cap * 2 : 16;
			void *nv = realloc(v, cap * sizeof(*v));
			if (!nv) {
				rc = -ENOMEM;
				break;
			}
			v = nv;
		}
		int len = snprintf(v[cnt].path, sizeof(v[cnt].path), "%s/%s", dir, de->d_name);
		if (len < 0 || (size_t)len >= sizeof(v[cnt].path))
			continue;
		v[cnt++].start = start;
	}
	closedir(d);
	if (rc) {
		free(v);
		return rc;
	}
	if (cnt)
		qsort(v, cnt, sizeof(*v), jrnl_seg_entry_cmp);
	*out = v;
	*n = cnt;
	return 0;
}

int jrnl_err_set(struct shmbus_journal_error *err, int code, const char *segment, uint64_t offset,
                 const char *fmt, ...)
{
	if (!err)
		return code;
	err->code = code;
	err->offset = offset;
	snprintf(err->segment, sizeof(err->segment), "%s", segment ? segment : "");
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err->detail, sizeof(err->detail), fmt, ap);
	va_end(ap);
	return code;
}
