/*
 * fuzz_csv_reader.c - libFuzzer target for the collector's CSV reader and
 * field parsers.
 *
 * Input: one options byte, then (when its top bit is set) a column mapping
 * string up to the first '\n', then the CSV text. The options byte picks
 * trades or quotes, the timestamp unit (auto, ns, us, ms, s, iso), the
 * delimiter and a short or the default line limit, the same options the
 * collector passes; the text's length picks batch or single reads. The CSV goes through shmbus_csv_open_buffer (from an
 * exact-size copy, so a read past the end is an ASan report) and, every
 * other input, through a memfd with shmbus_csv_open, the collector's own
 * path; every record and every error report must be well formed. The field
 * parsers (numbers, ISO-8601, every unit) also get the raw text directly.
 * Build: -DSHMBUS_FUZZ=ON with clang (tests/collector/CMakeLists.txt).
 */
#define _GNU_SOURCE /* memfd_create */
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>

#include "csv_reader.h"
#include "md_parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void on_error(void *user, const struct shmbus_csv_error *e)
{
	char line[512];

	(*(uint64_t *)user)++;
	if (e->kind <= SHMBUS_CSV_E_NONE || e->kind >= SHMBUS_CSV_E_ROW_KINDS ||
	    memchr(e->message, '\0', sizeof(e->message)) == NULL ||
	    memchr(e->column, '\0', sizeof(e->column)) == NULL || e->line < 2)
		abort();
	shmbus_csv_format_error(e, line, sizeof(line));
	(void)shmbus_csv_errkind_name(e->kind);
}

static void check_record(const struct shmbus_md_record *r, enum shmbus_md_kind kind)
{
	if (r->kind != kind || r->symbol_len < 1 || r->symbol_len > SHMBUS_MD_SYMBOL_MAX ||
	    r->time_ns < 0 || r->line < 2)
		abort();
	for (uint32_t i = 0; i < r->symbol_len; i++) /* no blank, control or non-ASCII */
		if ((unsigned char)r->symbol[i] <= 0x20 || (unsigned char)r->symbol[i] >= 0x7f)
			abort();
	if (kind == SHMBUS_MD_TRADE && !(isfinite(r->price) && r->price > 0 &&
					isfinite(r->size) && r->size >= 0))
		abort();
	if (kind == SHMBUS_MD_QUOTE &&
	    !(isfinite(r->bid) && r->bid >= 0 && isfinite(r->ask) && r->ask >= 0 &&
	      isfinite(r->bid_size) && r->bid_size >= 0 && isfinite(r->ask_size) &&
	      r->ask_size >= 0))
		abort();
}

static void read_all(struct shmbus_csv_reader *r, enum shmbus_md_kind kind, size_t sel,
		     const uint64_t *nerr)
{
	struct shmbus_md_record recs[4];
	struct shmbus_csv_stats st;
	uint64_t got = 0;
	size_t n;

	if (sel & 1) {
		while ((n = shmbus_csv_next_batch(r, recs, 1 + (sel >> 1) % 4)) > 0)
			for (size_t i = 0; i < n; i++, got++)
				check_record(&recs[i], kind);
	} else {
		while (shmbus_csv_next(r, &recs[0]) == 1) {
			check_record(&recs[0], kind);
			got++;
		}
	}
	if (shmbus_csv_next(r, &recs[0]) != 0) /* stays at end */
		abort();
	shmbus_csv_get_stats(r, &st);
	if (st.rows_ok != got || st.rows_bad != *nerr)
		abort();
}

static void fuzz_fields(const char *s, size_t n)
{
	double v;
	int64_t t;
	const char *why;

	if (shmbus_md_parse_number(s, n, &v) == SHMBUS_MD_OK && !isfinite(v))
		abort();
	shmbus_md_parse_iso8601(s, n, &t, &why);
	for (int u = SHMBUS_TS_NS; u <= SHMBUS_TS_ISO; u++)
		if (shmbus_md_parse_time(s, n, (enum shmbus_ts_unit)u, &t, &why) == SHMBUS_MD_OK &&
		    t < 0)
			abort();
	(void)shmbus_md_guess_unit(s, n);
}

static void via_memfd(const char *buf, size_t len, const struct shmbus_csv_options *o,
		      enum shmbus_md_kind kind, size_t sel, uint64_t *nerr)
{
	struct shmbus_csv_reader *r;
	struct shmbus_csv_error err;
	char path[64];
	int fd = memfd_create("fuzz_csv", 0);

	if (fd < 0)
		return;
	if (write(fd, buf, len) == (ssize_t)len) {
		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
		*nerr = 0;
		if (shmbus_csv_open(&r, path, o, &err) == 0) {
			read_all(r, kind, sel, nerr);
			shmbus_csv_close(r);
		}
	}
	close(fd);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char delims[4] = {0, ';', '\t', '|'};
	struct shmbus_csv_options o;
	struct shmbus_csv_reader *r;
	struct shmbus_csv_error err;
	char *mapping = NULL, *buf;
	uint64_t nerr = 0;
	size_t off = 1;

	if (size == 0)
		return 0;
	uint8_t sel = data[0];
	memset(&o, 0, sizeof(o));
	o.kind = (sel & 1) ? SHMBUS_MD_QUOTE : SHMBUS_MD_TRADE;
	o.ts_unit = (enum shmbus_ts_unit)(((sel >> 1) & 7) % 6);
	o.delimiter = delims[(sel >> 4) & 3];
	o.max_line = (sel & 0x40) ? 64 : 0;
	o.on_error = on_error;
	o.user = &nerr;
	if (sel & 0x80) {
		const uint8_t *nl = memchr(data + 1, '\n', size - 1);
		size_t ml = nl ? (size_t)(nl - (data + 1)) : size - 1;
		if (!(mapping = malloc(ml + 1)))
			return 0;
		memcpy(mapping, data + 1, ml);
		mapping[ml] = '\0';
		o.columns = mapping;
		off += ml + (nl != NULL);
	}
	size_t len = size - off;
	if (!(buf = malloc(len ? len : 1))) {
		free(mapping);
		return 0;
	}
	memcpy(buf, data + off, len);
	if (len <= 64)
		fuzz_fields(buf, len);
	memset(&err, 0, sizeof(err));
	if (shmbus_csv_open_buffer(&r, "fuzz.csv", buf, len, &o, &err) == 0) {
		/* the text's length picks batch or single reads, and the memfd */
		read_all(r, o.kind, len, &nerr);
		shmbus_csv_close(r);
		if (len & 2)
			via_memfd(buf, len, &o, o.kind, len >> 2, &nerr);
	} else {
		char line[512];
		if (memchr(err.message, '\0', sizeof(err.message)) == NULL)
			abort();
		shmbus_csv_format_error(&err, line, sizeof(line));
	}
	free(buf);
	free(mapping);
	return 0;
}
