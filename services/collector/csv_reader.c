/*
 * csv_reader.c - trade/quote CSV reader of the collector.
 *
 * Design: the whole input is one read-only byte range (an mmap of the file,
 * or the caller's buffer); the reader walks it line by line with memchr,
 * splits a line into field slices, and parses only the mapped columns in
 * place with the slice parsers of md_parse.c. Records point into the range
 * (the symbol), so there is no per-row allocation and no copy; the only
 * allocations are at open (reader, header copy). A bad row is described once
 * into the reader's error struct, handed to the callback, counted per kind,
 * and skipped: one malformed line never ends a replay.
 *
 * Only regular files are read: a pipe or device would have to be copied
 * into memory, and an endless one (/dev/zero) would never be done. Line
 * ends are found in bounded chunks so that a '\r'-only file or a huge line
 * costs one pass, not one pass per line.
 */
#include "csv_reader.h"
#include "tool_file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

/* Logical fields; which ones a kind uses is csv_field_used(). */
enum csv_field { CF_TS, CF_SYMBOL, CF_PRICE, CF_SIZE, CF_BID, CF_BIDSZ, CF_ASK, CF_ASKSZ, CF_N };

static const char *const csv_field_key[CF_N] = {"ts",  "symbol",   "price", "size",
						"bid", "bid_size", "ask",   "ask_size"};
static const char *const csv_field_default[CF_N] = {"ts_ns",     "symbol",   "price",
						    "size",      "bid_price", "bid_size",
						    "ask_price", "ask_size"};

#define CSV_NAME_MAX 64
#define CSV_EOL_CHUNK 4096

/* Where the unit of the timestamp column came from (for messages). */
enum csv_unit_src { CSV_UNIT_OPTION, CSV_UNIT_NAME, CSV_UNIT_GUESS };

struct shmbus_csv_reader {
	const char *buf; /* the input: the file's map or the caller's buffer */
	size_t len;
	size_t pos;
	void *map;
	size_t map_len;
	char *name;
	enum shmbus_md_kind kind;
	char delim;
	uint32_t max_line;
	int any_price; /* allow_nonpositive_prices */
	enum shmbus_ts_unit unit;
	enum shmbus_ts_unit row_unit; /* the unit of the row being parsed */
	enum csv_unit_src unit_src;
	uint64_t unit_line; /* line the unit was guessed from */
	shmbus_csv_error_fn on_error;
	void *user;
	uint32_t ncols;
	char *header; /* header names, NUL-separated */
	const char *colname[SHMBUS_CSV_MAX_COLUMNS];
	int col[CF_N]; /* column of each used field, -1 if unused */
	char want[CF_N][CSV_NAME_MAX];
	struct shmbus_csv_stats st;
	struct shmbus_csv_error err;
};

static int csv_field_used(enum shmbus_md_kind kind, int f)
{
	if (f == CF_TS || f == CF_SYMBOL)
		return 1;
	if (kind == SHMBUS_MD_TRADE)
		return f == CF_PRICE || f == CF_SIZE;
	return f >= CF_BID;
}

/* Copies s[0..n) for a message: printable ASCII, others as \xNN, max ~40. */
static void csv_quote(char *dst, size_t cap, const char *s, size_t n)
{
	size_t o = 0;

	for (size_t i = 0; i < n && o + 5 < cap; i++) {
		unsigned char c = (unsigned char)s[i];
		if (o >= 40) {
			memcpy(dst + o, "...", 3);
			o += 3;
			break;
		}
		if (c >= 0x20 && c < 0x7f)
			dst[o++] = (char)c;
		else
			o += (size_t)snprintf(dst + o, cap - o, "\\x%02x", c);
	}
	dst[o] = '\0';
}

static void csv_set_error(struct shmbus_csv_error *e, enum shmbus_csv_errkind kind,
			  const char *file, uint64_t line, const char *column, const char *fmt, ...)
	__attribute__((format(printf, 6, 7)));

static void csv_set_error(struct shmbus_csv_error *e, enum shmbus_csv_errkind kind,
			  const char *file, uint64_t line, const char *column, const char *fmt, ...)
{
	va_list ap;

	if (!e)
		return;
	e->kind = kind;
	e->file = file;
	e->line = line;
	snprintf(e->column, sizeof(e->column), "%s", column ? column : "");
	va_start(ap, fmt);
	vsnprintf(e->message, sizeof(e->message), fmt, ap);
	va_end(ap);
}

/* Reports one bad row: fills r->err with @msg, counts it, calls back.
 * Returns -1. */
static int csv_bad_msg(struct shmbus_csv_reader *r, enum shmbus_csv_errkind kind, int col,
		       const char *msg)
{
	csv_set_error(&r->err, kind, r->name, r->st.lines, col >= 0 ? r->colname[col] : NULL,
		      "%s", msg);
	r->st.rows_bad++;
	r->st.by_kind[kind]++;
	if (r->on_error)
		r->on_error(r->user, &r->err);
	return -1;
}

/* The same, the message "@what 'TXT'" quoting the @n bytes at @txt. */
static int csv_bad(struct shmbus_csv_reader *r, enum shmbus_csv_errkind kind, int col,
		   const char *txt, size_t n, const char *what)
{
	char q[64], msg[sizeof(r->err.message)];

	csv_quote(q, sizeof(q), txt, n);
	snprintf(msg, sizeof(msg), "%.120s '%s'", what, q);
	return csv_bad_msg(r, kind, col, msg);
}

static void csv_trim(const char **s, const char **e)
{
	while (*s < *e && (**s == ' ' || **s == '\t'))
		(*s)++;
	while (*e > *s && ((*e)[-1] == ' ' || (*e)[-1] == '\t'))
		(*e)--;
}

/* Parses a number field; checks the sign rule @min_rule:
 * 0 any, 1 >= 0 (sizes, quote prices), 2 > 0 (trade prices). */
static int csv_number(struct shmbus_csv_reader *r, int col, const char *s, size_t n,
		      int min_rule, double *out)
{
	int rc = shmbus_md_parse_number(s, n, out);

	switch (rc) {
	case SHMBUS_MD_OK:
		break;
	case SHMBUS_MD_TRAILING:
		return csv_bad(r, SHMBUS_CSV_E_TRAILING_GARBAGE, col, s, n,
			       "trailing garbage in number");
	case SHMBUS_MD_NONFINITE:
		return csv_bad(r, SHMBUS_CSV_E_NOT_FINITE, col, s, n, "non-finite number");
	case SHMBUS_MD_TOO_LONG: {
		char what[128];
		snprintf(what, sizeof(what),
			 "number too long to read exactly (%zu characters, more than 19 "
			 "significant digits; limit %d)",
			 n, SHMBUS_MD_NUMBER_TEXT_MAX);
		return csv_bad(r, SHMBUS_CSV_E_NUMBER_TOO_LONG, col, s, n, what);
	}
	default:
		return csv_bad(r, SHMBUS_CSV_E_BAD_NUMBER, col, s, n, "bad number");
	}
	if (min_rule == 2 && !(*out > 0))
		return csv_bad(r, SHMBUS_CSV_E_BAD_PRICE, col, s, n, "price must be positive, got");
	if (min_rule == 3 && *out < 0)
		return csv_bad(r, SHMBUS_CSV_E_BAD_PRICE, col, s, n, "negative price");
	if (min_rule == 1 && *out < 0)
		return csv_bad(r, SHMBUS_CSV_E_NEGATIVE_SIZE, col, s, n, "negative size");
	return 0;
}

/* "ns", "ns, from the column name", "s, guessed from line 2", ... */
static void csv_unit_desc(const struct shmbus_csv_reader *r, char *buf, size_t cap)
{
	const char *name = shmbus_ts_unit_name(r->row_unit);

	if (r->unit == SHMBUS_TS_AUTO)
		snprintf(buf, cap, "%s, guessed from this value", name);
	else if (r->unit_src == CSV_UNIT_NAME)
		snprintf(buf, cap, "%s, from the column name", name);
	else if (r->unit_src == CSV_UNIT_GUESS)
		snprintf(buf, cap, "%s, guessed from line %llu", name,
			 (unsigned long long)r->unit_line);
	else
		snprintf(buf, cap, "%s", name);
}

/* Parses the timestamp field. While the unit is not known each row is read
 * in the unit its own value suggests; csv_row locks that unit in only once
 * a whole row has parsed, so a bad first row cannot poison the file. */
static int csv_time(struct shmbus_csv_reader *r, int col, const char *s, size_t n, int64_t *out)
{
	const char *why = NULL;
	char msg[192], q[64], unit[48], size_why[32];
	enum shmbus_ts_unit other;
	int rc;

	r->row_unit = r->unit;
	if (r->unit == SHMBUS_TS_AUTO) {
		r->row_unit = shmbus_md_guess_unit(s, n);
		if (r->row_unit == SHMBUS_TS_AUTO)
			return csv_bad(r, SHMBUS_CSV_E_BAD_TIMESTAMP, col, s, n,
				       "bad timestamp (cannot tell its unit)");
	}
	rc = shmbus_md_parse_time(s, n, r->row_unit, out, &why);
	/* A guessed unit holds only for values of its size: read as ns, a
	 * row in ms or s fits as well, as a time in January 1970. */
	if (rc == SHMBUS_MD_OK && r->unit_src == CSV_UNIT_GUESS && r->unit != SHMBUS_TS_ISO &&
	    (other = shmbus_md_guess_unit(s, n)) != SHMBUS_TS_AUTO && other != r->unit) {
		snprintf(size_why, sizeof(size_why), "a value in %s by its size",
			 shmbus_ts_unit_name(other));
		why = size_why;
		rc = SHMBUS_MD_BAD;
	}
	if (rc == SHMBUS_MD_OK)
		return 0;
	csv_quote(q, sizeof(q), s, n);
	csv_unit_desc(r, unit, sizeof(unit));
	snprintf(msg, sizeof(msg), "%s '%s' (unit %s): %s",
		 rc == SHMBUS_MD_RANGE ? "timestamp out of range" : "bad timestamp", q, unit,
		 why ? why : "unparsable");
	return csv_bad_msg(r, rc == SHMBUS_MD_RANGE ? SHMBUS_CSV_E_TIME_RANGE
						    : SHMBUS_CSV_E_BAD_TIMESTAMP,
			   col, msg);
}

static int csv_symbol(struct shmbus_csv_reader *r, int col, const char *s, size_t n,
		      struct shmbus_md_record *rec)
{
	char msg[160], q[64];

	if (n > SHMBUS_MD_SYMBOL_MAX) {
		csv_quote(q, sizeof(q), s, n);
		snprintf(msg, sizeof(msg), "symbol too long (%zu bytes, limit %d) '%s'", n,
			 SHMBUS_MD_SYMBOL_MAX, q);
		return csv_bad_msg(r, SHMBUS_CSV_E_SYMBOL_TOO_LONG, col, msg);
	}
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c <= 0x20 || c >= 0x7f) {
			csv_quote(q, sizeof(q), s, n);
			snprintf(msg, sizeof(msg), "invalid byte 0x%02x in symbol '%s'", c, q);
			return csv_bad_msg(r, SHMBUS_CSV_E_BAD_SYMBOL, col, msg);
		}
	}
	/* Fields are not unquoted: "IBM" would be published as a symbol of
	 * its own, quotes included, beside IBM, with no error at all. */
	if (memchr(s, '"', n)) {
		csv_quote(q, sizeof(q), s, n);
		snprintf(msg, sizeof(msg), "quote in symbol '%s' (quoted fields are not read)", q);
		return csv_bad_msg(r, SHMBUS_CSV_E_BAD_SYMBOL, col, msg);
	}
	rec->symbol = s;
	rec->symbol_len = (uint32_t)n;
	return 0;
}

/* Splits [p, e) into fields; returns the field count (may exceed ncols). */
static uint32_t csv_split(const struct shmbus_csv_reader *r, const char *p, const char *e,
			  const char **fs, const char **fe)
{
	uint32_t nf = 0;

	for (;;) {
		const char *d = memchr(p, r->delim, (size_t)(e - p));
		if (nf < SHMBUS_CSV_MAX_COLUMNS) {
			fs[nf] = p;
			fe[nf] = d ? d : e;
		}
		nf++;
		if (!d)
			return nf;
		p = d + 1;
	}
}

/* Parses the used fields of one row; returns 0 or -1 (reported). */
static int csv_fields(struct shmbus_csv_reader *r, const char **fs, const char **fe,
		      struct shmbus_md_record *rec)
{
	/* Sign rule per field: trade price > 0; quote prices, sizes >= 0;
	 * prices of any sign when the options allow them. */
	static const int rule[CF_N] = {0, 0, 2, 1, 3, 1, 3, 1};
	double *dst[CF_N] = {NULL,      NULL,           &rec->price, &rec->size,
			     &rec->bid, &rec->bid_size, &rec->ask,   &rec->ask_size};

	for (int f = 0; f < CF_N; f++) {
		int c = r->col[f], sign = r->any_price && rule[f] >= 2 ? 0 : rule[f];
		const char *s, *e;

		if (c < 0)
			continue;
		s = fs[c];
		e = fe[c];
		csv_trim(&s, &e);
		if (s == e)
			return csv_bad_msg(r, SHMBUS_CSV_E_EMPTY_FIELD, c, "empty field");
		if (f == CF_TS) {
			if (csv_time(r, c, s, (size_t)(e - s), &rec->time_ns) != 0)
				return -1;
		} else if (f == CF_SYMBOL) {
			if (csv_symbol(r, c, s, (size_t)(e - s), rec) != 0)
				return -1;
		} else if (csv_number(r, c, s, (size_t)(e - s), sign, dst[f]) != 0) {
			return -1;
		}
	}
	return 0;
}

static int csv_row(struct shmbus_csv_reader *r, const char *p, const char *e,
		   struct shmbus_md_record *rec)
{
	const char *fs[SHMBUS_CSV_MAX_COLUMNS], *fe[SHMBUS_CSV_MAX_COLUMNS];
	uint32_t nf = csv_split(r, p, e, fs, fe);
	char msg[128];

	if (nf != r->ncols) {
		snprintf(msg, sizeof(msg), "too %s columns: expected %u (as in the header), found %u",
			 nf < r->ncols ? "few" : "many", r->ncols, nf);
		return csv_bad_msg(r, nf < r->ncols ? SHMBUS_CSV_E_TOO_FEW_COLUMNS
						    : SHMBUS_CSV_E_TOO_MANY_COLUMNS,
				   -1, msg);
	}
	memset(rec, 0, sizeof(*rec));
	rec->kind = r->kind;
	rec->line = r->st.lines;
	if (csv_fields(r, fs, fe, rec) != 0)
		return -1;
	if (r->unit == SHMBUS_TS_AUTO) { /* the first good row decides */
		r->unit = r->row_unit;
		r->st.ts_unit = r->row_unit;
		r->unit_src = CSV_UNIT_GUESS;
		r->unit_line = r->st.lines;
	}
	return 0;
}

/* First line end in [p, end): a '\n' or a '\r'; NULL when there is none.
 * Searches in chunks so that the cost is the line's length, not the rest
 * of the input's (a '\r'-only file has no '\n' to find). */
static const char *csv_eol(const char *p, const char *end)
{
	while (p < end) {
		size_t n = (size_t)(end - p) < CSV_EOL_CHUNK ? (size_t)(end - p) : CSV_EOL_CHUNK;
		const char *lf = memchr(p, '\n', n);
		const char *cr = memchr(p, '\r', lf ? (size_t)(lf - p) : n);

		if (cr)
			return cr;
		if (lf)
			return lf;
		p += n;
	}
	return NULL;
}

/* The line at @pos ends (its text, line end excluded) at the returned
 * offset; *next is where the following line starts. "\r\n" is one end. */
static size_t csv_line(const char *buf, size_t len, size_t pos, size_t *next)
{
	const char *e = csv_eol(buf + pos, buf + len);
	size_t at;

	if (!e) {
		*next = len;
		return len;
	}
	at = (size_t)(e - buf);
	*next = at + 1 + (*e == '\r' && at + 1 < len && buf[at + 1] == '\n');
	return at;
}

/* Is [p, e) blank: empty, or blanks only? Blanks around fields are
 * trimmed, so a line an editor left holding a few spaces is no row; a tab
 * is a blank unless it is the delimiter (then the line has empty fields). */
static int csv_blank(const struct shmbus_csv_reader *r, const char *p, const char *e)
{
	for (; p < e; p++)
		if (*p != ' ' && (*p != '\t' || r->delim == '\t'))
			return 0;
	return 1;
}

int shmbus_csv_next(struct shmbus_csv_reader *r, struct shmbus_md_record *rec)
{
	char msg[96];

	while (r->pos < r->len) {
		const char *p = r->buf + r->pos;
		const char *e = r->buf + csv_line(r->buf, r->len, r->pos, &r->pos);

		r->st.lines++;
		if ((size_t)(e - p) > r->max_line) {
			snprintf(msg, sizeof(msg), "line too long (%zu bytes, limit %u)",
				 (size_t)(e - p), r->max_line);
			csv_bad_msg(r, SHMBUS_CSV_E_LINE_TOO_LONG, -1, msg);
			continue;
		}
		if (csv_blank(r, p, e)) {
			r->st.blank++;
			continue;
		}
		if (csv_row(r, p, e, rec) == 0) {
			r->st.rows_ok++;
			return 1;
		}
	}
	return 0;
}

size_t shmbus_csv_next_batch(struct shmbus_csv_reader *r, struct shmbus_md_record *recs,
			     size_t max)
{
	size_t n = 0;

	while (n < max && shmbus_csv_next(r, &recs[n]) == 1)
		n++;
	return n;
}

/* Applies "key=value,key=value" over the default column names. */
static int csv_mapping(struct shmbus_csv_reader *r, const char *m, const char *file,
		       struct shmbus_csv_error *err)
{
	const char *p = m;

	while (p && *p) {
		const char *end = strchr(p, ','), *eq, *ks, *ke, *vs, *ve;
		int f;

		end = end ? end : p + strlen(p);
		eq = memchr(p, '=', (size_t)(end - p));
		if (!eq) {
			csv_set_error(err, SHMBUS_CSV_E_BAD_MAPPING, file, 0, NULL,
				      "column mapping: expected field=column, got '%.*s'",
				      (int)(end - p), p);
			return -EINVAL;
		}
		ks = p, ke = eq, vs = eq + 1, ve = end;
		csv_trim(&ks, &ke);
		csv_trim(&vs, &ve);
		for (f = 0; f < CF_N; f++)
			if (csv_field_used(r->kind, f) && (size_t)(ke - ks) == strlen(csv_field_key[f]) &&
			    memcmp(ks, csv_field_key[f], (size_t)(ke - ks)) == 0)
				break;
		if (f == CF_N) {
			csv_set_error(err, SHMBUS_CSV_E_BAD_MAPPING, file, 0, NULL,
				      "column mapping: unknown field '%.*s' for %s (known: %s)",
				      (int)(ke - ks), ks, r->kind == SHMBUS_MD_TRADE ? "trades" : "quotes",
				      r->kind == SHMBUS_MD_TRADE
					      ? "ts, symbol, price, size"
					      : "ts, symbol, bid, bid_size, ask, ask_size");
			return -EINVAL;
		}
		if (ve == vs || ve - vs >= CSV_NAME_MAX) {
			csv_set_error(err, SHMBUS_CSV_E_BAD_MAPPING, file, 0, NULL,
				      "column mapping: %s column name for field '%s'",
				      ve == vs ? "empty" : "too long a", csv_field_key[f]);
			return -EINVAL;
		}
		memcpy(r->want[f], vs, (size_t)(ve - vs));
		r->want[f][ve - vs] = '\0';
		p = *end ? end + 1 : end;
	}
	return 0;
}

int shmbus_csv_check_columns(enum shmbus_md_kind kind, const char *columns, char *errbuf,
			     size_t errlen)
{
	/* The mapping is read into a reader's want[]; this one is thrown away. */
	struct shmbus_csv_reader r = {.kind = kind};
	struct shmbus_csv_error err;
	int rc;

	memset(&err, 0, sizeof(err));
	rc = csv_mapping(&r, columns, NULL, &err);
	if (rc != 0 && errbuf && errlen)
		snprintf(errbuf, errlen, "%s", err.message);
	return rc;
}

/* Rejects a NUL or another control byte in the header line h[0..n) (a
 * tab is a blank, the delimiter is whatever it is): such a header is not
 * text, and names cut or joined by it would mislead every later message. */
static int csv_header_bytes(const struct shmbus_csv_reader *r, const char *h, size_t n,
			    const char *file, struct shmbus_csv_error *err)
{
	size_t start = 0, stop;
	uint32_t col = 1;
	char q[64];

	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)h[i];
		if (c == (unsigned char)r->delim) {
			col++;
			start = i + 1;
			continue;
		}
		if ((c >= 0x20 && c != 0x7f) || c == '\t')
			continue;
		for (stop = i + 1; stop < n && h[stop] != r->delim; stop++)
			;
		csv_quote(q, sizeof(q), h + start, stop - start);
		if (c == 0)
			csv_set_error(err, SHMBUS_CSV_E_BAD_HEADER, file, 1, NULL,
				      "NUL byte in the header, in column %u '%s': not a text file?",
				      col, q);
		else
			csv_set_error(err, SHMBUS_CSV_E_BAD_HEADER, file, 1, NULL,
				      "control character 0x%02x in the header, in column %u '%s'", c,
				      col, q);
		return -EBADMSG;
	}
	return 0;
}

/* The timestamp unit a column name states by its suffix, or AUTO. */
static enum shmbus_ts_unit csv_unit_from_name(const char *name)
{
	static const struct {
		const char *suffix;
		enum shmbus_ts_unit unit;
	} sfx[] = {{"_ns", SHMBUS_TS_NS},
		   {"_us", SHMBUS_TS_US},
		   {"_ms", SHMBUS_TS_MS},
		   {"_s", SHMBUS_TS_S}};
	size_t n = strlen(name);

	for (size_t i = 0; i < sizeof(sfx) / sizeof(sfx[0]); i++) {
		size_t k = strlen(sfx[i].suffix);
		if (n > k && strcasecmp(name + n - k, sfx[i].suffix) == 0)
			return sfx[i].unit;
	}
	return SHMBUS_TS_AUTO;
}

/* Reads the header line and finds every mapped column. */
static int csv_header(struct shmbus_csv_reader *r, const char *file, struct shmbus_csv_error *err)
{
	size_t start, end, hl;
	char *q;
	int rc;

	if (r->len >= 3 && memcmp(r->buf, "\xef\xbb\xbf", 3) == 0)
		r->pos = 3; /* UTF-8 byte order mark */
	start = r->pos;
	end = csv_line(r->buf, r->len, start, &r->pos);
	hl = end - start;
	if (hl == 0) {
		csv_set_error(err, SHMBUS_CSV_E_NO_HEADER, file, 1, NULL,
			      r->pos < r->len
				      ? "line 1 is blank; the header naming the columns must come first"
				      : "no header row (empty input); a header naming the columns is "
					"required");
		return -ENODATA;
	}
	if (hl > r->max_line) {
		csv_set_error(err, SHMBUS_CSV_E_BAD_HEADER, file, 1, NULL,
			      "header line too long (%zu bytes, limit %u)", hl, r->max_line);
		return -EBADMSG;
	}
	if ((rc = csv_header_bytes(r, r->buf + start, hl, file, err)) != 0)
		return rc;
	r->header = malloc(hl + 1);
	if (!r->header)
		return -ENOMEM;
	memcpy(r->header, r->buf + start, hl);
	r->header[hl] = '\0';
	r->st.lines = 1;
	for (q = r->header;; q++) {
		char *d = strchr(q, r->delim);
		const char *s = q, *t;
		if (d)
			*d = '\0';
		t = q + strlen(q);
		csv_trim(&s, &t);
		((char *)s)[t - s] = '\0';
		if (r->ncols == SHMBUS_CSV_MAX_COLUMNS) {
			csv_set_error(err, SHMBUS_CSV_E_BAD_HEADER, file, 1, NULL,
				      "header has more than %d columns", SHMBUS_CSV_MAX_COLUMNS);
			return -E2BIG;
		}
		r->colname[r->ncols++] = s;
		if (!d)
			break;
		q = d;
	}
	for (int f = 0; f < CF_N; f++) {
		r->col[f] = -1;
		if (!csv_field_used(r->kind, f))
			continue;
		for (uint32_t c = 0; c < r->ncols; c++) {
			if (strcmp(r->colname[c], r->want[f]) != 0)
				continue;
			/* which of two would be a guess: the data of one of
			 * them would be published as the field, silently */
			if (r->col[f] >= 0) {
				csv_set_error(err, SHMBUS_CSV_E_BAD_HEADER, file, 1, r->want[f],
					      "column '%s' (field '%s') is in the header twice: "
					      "columns %d and %u",
					      r->want[f], csv_field_key[f], r->col[f] + 1, c + 1);
				return -EINVAL;
			}
			r->col[f] = (int)c;
		}
		if (r->col[f] < 0) {
			csv_set_error(err, SHMBUS_CSV_E_MISSING_COLUMN, file, 1, r->want[f],
				      "column '%s' (field '%s') not found in the header",
				      r->want[f], csv_field_key[f]);
			return -ENOENT;
		}
	}
	if (r->unit == SHMBUS_TS_AUTO &&
	    (r->unit = csv_unit_from_name(r->colname[r->col[CF_TS]])) != SHMBUS_TS_AUTO) {
		r->st.ts_unit = r->unit;
		r->unit_src = CSV_UNIT_NAME;
	}
	return 0;
}

static int csv_init(struct shmbus_csv_reader *r, const char *file,
		    const struct shmbus_csv_options *opt, struct shmbus_csv_error *err)
{
	if (!opt || (opt->kind != SHMBUS_MD_TRADE && opt->kind != SHMBUS_MD_QUOTE) ||
	    (unsigned)opt->ts_unit > SHMBUS_TS_ISO || opt->delimiter == '\n' ||
	    opt->delimiter == '\r' || opt->delimiter == ' ') {
		csv_set_error(err, SHMBUS_CSV_E_BAD_OPTION, file, 0, NULL,
			      "bad reader options (kind, timestamp unit or delimiter)");
		return -EINVAL;
	}
	r->kind = opt->kind;
	r->unit = opt->ts_unit;
	r->st.ts_unit = opt->ts_unit;
	r->delim = opt->delimiter ? opt->delimiter : ',';
	r->max_line = opt->max_line ? opt->max_line : SHMBUS_CSV_DEFAULT_MAX_LINE;
	r->any_price = opt->allow_nonpositive_prices != 0;
	r->on_error = opt->on_error;
	r->user = opt->user;
	for (int f = 0; f < CF_N; f++)
		snprintf(r->want[f], CSV_NAME_MAX, "%s", csv_field_default[f]);
	if (csv_mapping(r, opt->columns, file, err) != 0)
		return -EINVAL;
	return csv_header(r, file, err);
}

static struct shmbus_csv_reader *csv_alloc(const char *name)
{
	struct shmbus_csv_reader *r = calloc(1, sizeof(*r));

	if (!r)
		return NULL;
	r->name = strdup(name ? name : "<buffer>");
	if (!r->name) {
		free(r);
		return NULL;
	}
	return r;
}

int shmbus_csv_open_buffer(struct shmbus_csv_reader **out, const char *name, const char *buf,
			   size_t len, const struct shmbus_csv_options *opt,
			   struct shmbus_csv_error *err)
{
	struct shmbus_csv_reader *r;
	int rc;

	*out = NULL;
	if (!buf && len)
		return -EINVAL;
	r = csv_alloc(name);
	if (!r)
		return -ENOMEM;
	r->buf = buf ? buf : "";
	r->len = len;
	rc = csv_init(r, name ? name : "<buffer>", opt, err);
	if (rc != 0) {
		shmbus_csv_close(r);
		return rc;
	}
	*out = r;
	return 0;
}

/* Maps @path, which must be a regular file. O_NONBLOCK: opening a FIFO
 * with no writer must not hang before it can be refused. */
static int csv_load(struct shmbus_csv_reader *r, const char *path, struct shmbus_csv_error *err)
{
	const char *kind;
	off_t size = 0;
	int fd = tool_open_regular(path, &kind, &size), rc = 0;

	if (fd < 0 && kind) {
		rc = fd;
		csv_set_error(err, SHMBUS_CSV_E_OPEN, path, 0, NULL,
			      "not a regular file (%s); the reader maps its input whole, so save "
			      "a stream to a file first",
			      kind);
	} else if (fd < 0) {
		rc = fd;
		csv_set_error(err, SHMBUS_CSV_E_OPEN, path, 0, NULL, "cannot read the file: %s",
			      strerror(-rc));
	} else if (size == 0) {
		r->buf = "";
	} else {
		r->map = mmap(NULL, (size_t)size, PROT_READ, MAP_PRIVATE, fd, 0);
		if (r->map == MAP_FAILED) {
			r->map = NULL;
			rc = -errno;
			csv_set_error(err, SHMBUS_CSV_E_OPEN, path, 0, NULL,
				      "cannot map the file: %s", strerror(-rc));
		} else {
			r->map_len = (size_t)size;
			(void)madvise(r->map, r->map_len, MADV_SEQUENTIAL | MADV_WILLNEED);
			r->buf = r->map;
			r->len = r->map_len;
		}
	}
	if (fd >= 0)
		close(fd);
	return rc;
}

int shmbus_csv_open(struct shmbus_csv_reader **out, const char *path,
		    const struct shmbus_csv_options *opt, struct shmbus_csv_error *err)
{
	struct shmbus_csv_reader *r;
	int rc;

	*out = NULL;
	if (!path)
		return -EINVAL;
	r = csv_alloc(path);
	if (!r)
		return -ENOMEM;
	rc = csv_load(r, path, err);
	if (rc != 0) {
		shmbus_csv_close(r);
		return rc;
	}
	rc = csv_init(r, path, opt, err);
	if (rc != 0) {
		shmbus_csv_close(r);
		return rc;
	}
	*out = r;
	return 0;
}

void shmbus_csv_get_stats(const struct shmbus_csv_reader *r, struct shmbus_csv_stats *st)
{
	*st = r->st;
}

void shmbus_csv_close(struct shmbus_csv_reader *r)
{
	if (!r)
		return;
	if (r->map)
		munmap(r->map, r->map_len);
	free(r->header);
	free(r->name);
	free(r);
}

const char *shmbus_csv_errkind_name(enum shmbus_csv_errkind kind)
{
	static const char *const names[] = {
		"none",           "too few columns",  "too many columns", "empty field",
		"bad number",     "trailing garbage", "non-finite number", "bad price",
		"negative size",  "bad timestamp",    "timestamp out of range",
		"symbol too long", "bad symbol",      "line too long",    "number too long",
		"cannot open",
		"no header",      "bad header",       "missing column",   "bad column mapping",
		"bad option"};

	_Static_assert(sizeof(names) / sizeof(names[0]) == SHMBUS_CSV_E_BAD_OPTION + 1,
		       "one name per error kind");
	if ((unsigned)kind >= sizeof(names) / sizeof(names[0]))
		return "unknown";
	return names[kind];
}

int shmbus_csv_format_error(const struct shmbus_csv_error *e, char *buf, size_t n)
{
	if (e->line == 0) /* about the file, not one of its lines */
		return snprintf(buf, n, "%s: %s", e->file ? e->file : "?", e->message);
	if (e->column[0])
		return snprintf(buf, n, "%s:%llu: column '%s': %s", e->file ? e->file : "?",
				(unsigned long long)e->line, e->column, e->message);
	return snprintf(buf, n, "%s:%llu: %s", e->file ? e->file : "?",
			(unsigned long long)e->line, e->message);
}
