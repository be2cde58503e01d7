/*
 * journal_fmt.h - how shmbus-journal cat prints events (text, CSV, JSON).
 */
#ifndef SHMBUS_JOURNAL_FMT_H
#define SHMBUS_JOURNAL_FMT_H

#include <stdint.h>
#include <stdio.h>

#include <shmbus/event.h>

#include "jtool.h"

enum jf_format { JF_TEXT = 0, JF_CSV = 1, JF_JSON = 2 };

struct jf_printer {
	enum jf_format format;
	int csv_type;  /* CSV: the one type selected (its own columns), 0 = mixed */
	int header_done;
	uint64_t csv_skipped; /* one-type CSV: events of that type with the wrong
	                         size, left out (their columns would not match) */
	const struct jtool_symtab *syms; /* names of symbol ids (may be empty) */
	FILE *out;
};

/* Name of an indicator with its parameters: "sma20", "macd12_26_9",
 * "bb20_2", "vwap". */
void jf_indicator_name(const struct shmbus_indicator *ind, char *buf, size_t len);

/* Print one event (its size already checked by the reader). Returns 0 or
 * -EIO when the output failed. */
int jf_print(struct jf_printer *p, const struct shmbus_event_header *ev);

/* After the last event: a CSV that got no row gets its header line.
 * Returns 0 or -EIO when the output failed. */
int jf_finish(struct jf_printer *p);

/* The CSV column sets, for --help. */
extern const char jf_csv_help[];

#endif /* SHMBUS_JOURNAL_FMT_H */
