/*
 * md_parse.h - field parsers of the collector: decimal numbers and
 * timestamps, parsed from a (pointer, length) slice that need not be
 * NUL-terminated (the CSV reader parses in place from a read-only mapping).
 *
 * Every function here is pure, allocation-free and thread-safe.
 */
#ifndef SHMBUS_MD_PARSE_H
#define SHMBUS_MD_PARSE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Longest number text that may have more than 19 significant digits. */
#define SHMBUS_MD_NUMBER_TEXT_MAX 127

/* Result of a field parser: 0 or one of these negative codes. */
enum shmbus_md_status {
	SHMBUS_MD_OK = 0,
	SHMBUS_MD_EMPTY = -1,     /* nothing to parse */
	SHMBUS_MD_BAD = -2,       /* does not start like a number / timestamp */
	SHMBUS_MD_TRAILING = -3,  /* a valid prefix followed by garbage */
	SHMBUS_MD_NONFINITE = -4, /* nan, inf, or overflows a double */
	SHMBUS_MD_RANGE = -5,     /* timestamp outside 1970-01-01 .. 2262-04-11 */
	SHMBUS_MD_TOO_LONG = -6,  /* number text too long to round exactly */
};

/* Units of a timestamp column. */
enum shmbus_ts_unit {
	SHMBUS_TS_AUTO = 0, /* ISO-8601 if it looks like a date, else by magnitude */
	SHMBUS_TS_NS = 1,   /* integer nanoseconds since the epoch */
	SHMBUS_TS_US = 2,   /* microseconds, integer or decimal */
	SHMBUS_TS_MS = 3,   /* milliseconds, integer or decimal */
	SHMBUS_TS_S = 4,    /* seconds, integer or decimal */
	SHMBUS_TS_ISO = 5,  /* ISO-8601 date or date-time, see shmbus_md_parse_iso8601 */
};

/*
 * Parse a decimal number: [+-]digits[.digits][(e|E)[+-]digits] (also
 * ".5" and "5."). Up to 19 significant digits and |exponent| <= 22 take an
 * exact fast path (correctly rounded); longer forms fall back to strtod.
 * A text longer than 127 characters is accepted when its digits past the
 * 19th significant one are all zeros ("1" and 200 zeros is 1e200), and is
 * SHMBUS_MD_TOO_LONG otherwise (it cannot be rounded without a copy).
 * @s, @n: the text (no surrounding blanks). @out: the value on success.
 * Returns SHMBUS_MD_OK, _EMPTY, _BAD, _TRAILING, _NONFINITE ("nan",
 * "inf", "1e999") or _TOO_LONG. Thread-safe.
 */
int shmbus_md_parse_number(const char *s, size_t n, double *out);

/*
 * Parse an ISO-8601 date or date-time in UTC nanoseconds:
 *   YYYY-MM-DD                      midnight UTC
 *   YYYY-MM-DD(T| )HH:MM[:SS[.f]]   f: 1 to 9 digits (more are truncated)
 * followed optionally by Z, +HH, +HH:MM, +HHMM (or -), the offset of local
 * time from UTC; no suffix means UTC.
 * @why: on failure, a static string saying what was wrong (may be NULL).
 * Returns SHMBUS_MD_OK, _EMPTY, _BAD (with *why set) or _RANGE. Thread-safe.
 */
int shmbus_md_parse_iso8601(const char *s, size_t n, int64_t *out_ns, const char **why);

/*
 * Parse a timestamp in @unit (not SHMBUS_TS_AUTO) to epoch nanoseconds.
 * Integers for every numeric unit, decimals for s, ms and us (digits past
 * nanosecond precision are truncated). Negative times and times past
 * INT64_MAX ns are SHMBUS_MD_RANGE. Returns 0 or a negative status; @why
 * as for shmbus_md_parse_iso8601. Thread-safe.
 */
int shmbus_md_parse_time(const char *s, size_t n, enum shmbus_ts_unit unit, int64_t *out_ns,
			 const char **why);

/*
 * Guess the unit of one timestamp text: ISO when it looks like a date
 * (YYYY-...), else by the magnitude of its integer part: >= 1e17 ns,
 * >= 1e14 us, >= 1e11 ms, else s (right for any time after 1973).
 * Returns the unit, or SHMBUS_TS_AUTO when it cannot tell (not a number).
 */
enum shmbus_ts_unit shmbus_md_guess_unit(const char *s, size_t n);

/* Name of a unit ("ns", "iso", "auto"...), or "?" for an unknown value. */
const char *shmbus_ts_unit_name(enum shmbus_ts_unit unit);

/* Unit for a name ("ns", "us", "ms", "s", "iso", "auto"), or -EINVAL. */
int shmbus_ts_unit_from_name(const char *name);

/* Record kind for a --kind name ("trades" or "trade", "quotes" or
 * "quote"), or -EINVAL. */
int shmbus_md_kind_from_name(const char *name);

#ifdef __cplusplus
}
#endif
#endif /* SHMBUS_MD_PARSE_H */
