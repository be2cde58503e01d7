/*
 * tool_fmt.h - numbers as the tools and services write them in text, CSV
 * and alert lines, so that the same value reads the same everywhere (a
 * pipeline's tap CSV and `shmbus-journal cat --format csv` agree).
 */
#ifndef SHMBUS_TOOL_FMT_H
#define SHMBUS_TOOL_FMT_H

#include <stddef.h>

/* v in the fewest of 15..17 significant digits (%g) that read back as v
 * exactly: "60", "0.1", "0.30000000000000004"; "nan" for a NaN. Returns
 * buf (n bytes; 32 hold any double), "" when buf is NULL or n is 0. */
const char *tool_fmt_double(double v, char *buf, size_t n);

#endif
