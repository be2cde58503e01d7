/*
 * csv_reader.h - streaming reader of trade and quote CSV files.
 *
 * Format: one header row (required), then one record per line; comma (or
 * another one-byte delimiter), no quoting, "\n", "\r\n" or "\r" line ends,
 * blank lines (empty, or blanks only) ignored, blanks around fields
 * trimmed. A line is at most max_line bytes (a longer row is malformed, a
 * longer header fatal); a header with a NUL or another control byte is
 * fatal. Columns are found by header name through a column mapping
 * (logical field = header name):
 *   trades: ts=ts_ns,symbol=symbol,price=price,size=size          (defaults)
 *   quotes: ts=ts_ns,symbol=symbol,bid=bid_price,bid_size=bid_size,
 *           ask=ask_price,ask_size=ask_size                       (defaults)
 * A mapping string names only what differs ("ts=time,size=qty"). Other
 * columns are ignored, but every row must have as many fields as the header.
 *
 * Timestamp unit: the option when given; else the suffix of the timestamp
 * column's header name (_ns, _us, _ms, _s); else guessed from the first row
 * that parses in full (then a later row in another unit is reported as
 * malformed, its message naming the line the unit was guessed from).
 *
 * Prices: a trade price must be > 0 and a quote price >= 0 (0: that side
 * is absent), which catches a price column mapped to the wrong field, a
 * placeholder 0 or a sign error. Some instruments trade at zero or
 * negative prices (spreads, WTI crude futures in April 2020, power):
 * allow_nonpositive_prices accepts trade prices of any sign and negative
 * quote prices (a quote price of 0 still means the side is absent).
 *
 * Malformed rows are never returned: each is counted, described in a
 * struct shmbus_csv_error (file, line, column, message) and handed to the
 * options' callback, and reading goes on with the next line.
 *
 * A reader is not thread-safe; distinct readers are independent.
 */
#ifndef SHMBUS_CSV_READER_H
#define SHMBUS_CSV_READER_H

#include <stddef.h>
#include <stdint.h>

#include "md_parse.h"
#include "md_record.h"

#ifdef __cplusplus
extern "C" {
#endif

#define SHMBUS_CSV_MAX_COLUMNS 64
#define SHMBUS_CSV_DEFAULT_MAX_LINE 4096

/* Kinds of bad rows (and of fatal open errors, from SHMBUS_CSV_E_OPEN on). */
enum shmbus_csv_errkind {
	SHMBUS_CSV_E_NONE = 0,
	SHMBUS_CSV_E_TOO_FEW_COLUMNS,
	SHMBUS_CSV_E_TOO_MANY_COLUMNS,
	SHMBUS_CSV_E_EMPTY_FIELD,
	SHMBUS_CSV_E_BAD_NUMBER,
	SHMBUS_CSV_E_TRAILING_GARBAGE,
	SHMBUS_CSV_E_NOT_FINITE,
	SHMBUS_CSV_E_BAD_PRICE,     /* trade price <= 0, quote price < 0 */
	SHMBUS_CSV_E_NEGATIVE_SIZE,
	SHMBUS_CSV_E_BAD_TIMESTAMP,
	SHMBUS_CSV_E_TIME_RANGE,
	SHMBUS_CSV_E_SYMBOL_TOO_LONG,
	SHMBUS_CSV_E_BAD_SYMBOL,    /* a blank, control, non-ASCII byte or '"' */
	SHMBUS_CSV_E_LINE_TOO_LONG,
	SHMBUS_CSV_E_NUMBER_TOO_LONG, /* see shmbus_md_parse_number */
	SHMBUS_CSV_E_ROW_KINDS,     /* number of row error kinds */
	/* Fatal, from open only: */
	SHMBUS_CSV_E_OPEN = SHMBUS_CSV_E_ROW_KINDS, /* cannot open/read, not a regular file */
	SHMBUS_CSV_E_NO_HEADER,                     /* empty input */
	SHMBUS_CSV_E_BAD_HEADER,                    /* too many columns, NUL, too long */
	SHMBUS_CSV_E_MISSING_COLUMN,                /* mapped column not in header */
	SHMBUS_CSV_E_BAD_MAPPING,                   /* bad column mapping string */
	SHMBUS_CSV_E_BAD_OPTION,                    /* bad options (kind, unit) */
};

struct shmbus_csv_error {
	enum shmbus_csv_errkind kind;
	const char *file;   /* the name given at open (valid while the reader is) */
	uint64_t line;      /* 1-based; 1 is the header; 0 when not about a line */
	char column[64];    /* header name of the offending column, "" if none */
	char message[192];  /* what was wrong, with the offending text quoted */
};

/* Called once per bad row; @e is valid only during the call. */
typedef void (*shmbus_csv_error_fn)(void *user, const struct shmbus_csv_error *e);

struct shmbus_csv_options {
	enum shmbus_md_kind kind;    /* SHMBUS_MD_TRADE or SHMBUS_MD_QUOTE */
	const char *columns;         /* mapping string; NULL or "" = defaults */
	enum shmbus_ts_unit ts_unit; /* SHMBUS_TS_AUTO: header name, else first row */
	char delimiter;              /* 0 = ',' */
	uint32_t max_line;           /* longest accepted line; 0 = default */
	int allow_nonpositive_prices; /* 1: prices of any sign (see above); 0 = refuse */
	shmbus_csv_error_fn on_error; /* may be NULL (errors are still counted) */
	void *user;
};

struct shmbus_csv_stats {
	uint64_t lines;      /* lines read, header and blank lines included */
	uint64_t rows_ok;    /* records returned */
	uint64_t rows_bad;   /* malformed rows skipped */
	uint64_t blank;      /* blank lines skipped */
	uint64_t by_kind[SHMBUS_CSV_E_ROW_KINDS];
	enum shmbus_ts_unit ts_unit; /* unit in use (AUTO until decided) */
};

struct shmbus_csv_reader;

/*
 * Open @path, a regular file (mapped read-only), and read its header.
 * Anything else (a pipe, FIFO, device, socket, directory) is refused: the
 * reader needs the whole input mapped, and an endless stream would never
 * end; save a stream to a file first.
 * @out: the new reader. @opt: options (copied; the mapping string need not
 * outlive the call). @err: filled on failure (may be NULL).
 * Returns 0, -EINVAL (bad options or mapping, or not a regular file),
 * -EISDIR (a directory), -ENOENT (a mapped column missing from the header:
 * err->column names it), -ENODATA (empty file), -E2BIG (more than
 * SHMBUS_CSV_MAX_COLUMNS columns), -EBADMSG (a NUL or control byte in the
 * header, or a header longer than max_line), -ENOMEM, or the negated errno
 * of open/mmap. Thread-safe.
 */
int shmbus_csv_open(struct shmbus_csv_reader **out, const char *path,
		    const struct shmbus_csv_options *opt, struct shmbus_csv_error *err);

/*
 * Same as shmbus_csv_open on a caller's buffer, which must stay valid and
 * unchanged until shmbus_csv_close. @name is used in error reports.
 */
int shmbus_csv_open_buffer(struct shmbus_csv_reader **out, const char *name, const char *buf,
			   size_t len, const struct shmbus_csv_options *opt,
			   struct shmbus_csv_error *err);

/*
 * Check a column mapping string as shmbus_csv_open would take it for
 * records of @kind, before any file is read (a tool's --columns): 0
 * (NULL or "" too: the defaults), or -EINVAL with @errbuf (@errlen bytes)
 * saying what is wrong, as the open would. Thread-safe.
 */
int shmbus_csv_check_columns(enum shmbus_md_kind kind, const char *columns, char *errbuf,
			     size_t errlen);

/*
 * Next good record into @rec, skipping (and reporting) bad rows.
 * Returns 1 with a record, 0 at end of input. The record's symbol points
 * into the input and stays valid until shmbus_csv_close.
 */
int shmbus_csv_next(struct shmbus_csv_reader *r, struct shmbus_md_record *rec);

/* Up to @max records into @recs; returns how many (0 at end of input). */
size_t shmbus_csv_next_batch(struct shmbus_csv_reader *r, struct shmbus_md_record *recs,
			     size_t max);

/* Counters so far. */
void shmbus_csv_get_stats(const struct shmbus_csv_reader *r, struct shmbus_csv_stats *st);

/* Release the reader (NULL is a no-op). */
void shmbus_csv_close(struct shmbus_csv_reader *r);

/* Short name of an error kind ("bad number", ...). */
const char *shmbus_csv_errkind_name(enum shmbus_csv_errkind kind);

/*
 * Format @e as one line "file:line: column 'c': message" ("file: message"
 * when e->line is 0) into @buf (at most @n bytes, NUL-terminated). Returns
 * what snprintf returns.
 */
int shmbus_csv_format_error(const struct shmbus_csv_error *e, char *buf, size_t n);

#ifdef __cplusplus
}
#endif
#endif /* SHMBUS_CSV_READER_H */
