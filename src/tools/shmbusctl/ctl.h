/*
 * ctl.h - the subcommands of shmbusctl, one function each. Each returns
 * the process exit code: 0 ok, 1 failure, 2 usage.
 */
#ifndef SHMBUS_CTL_H
#define SHMBUS_CTL_H

#include <shmbus/shmbus.h>

#include "shmbus_config.h"

#define CTL_OK    0
#define CTL_FAIL  1
#define CTL_USAGE 2

struct ctl_opts {
	const char *bus;    /* --bus NAME, or NULL */
	const char *status; /* --status FILE (up), or NULL */
	int json;           /* --json */
	int dry_run;        /* --dry-run (reclaim) */
	int keep;           /* --keep (up) */
};

int ctl_check(const struct ctl_opts *o, const char *config);
int ctl_create(const struct ctl_opts *o, const char *config);
int ctl_list(const struct ctl_opts *o);
int ctl_info(const struct ctl_opts *o, const char *bus);
int ctl_destroy(const struct ctl_opts *o, const char *bus);
int ctl_reclaim(const struct ctl_opts *o);
/* Remove ring `ring` of bus `bus` (shmbus_ring_remove). */
int ctl_ring_remove(const struct ctl_opts *o, const char *bus, const char *ring);
int ctl_up(const struct ctl_opts *o, const char *config);

/* Load and host-check a config; prints the error. 0 or CTL_FAIL. */
int ctl_load_config(const char *path, struct shmbus_config **out);

/*
 * Create the bus a config describes (named `name`) and declare its rings
 * (interning their symbols). On failure the half-made bus is destroyed,
 * the error is printed, and CTL_FAIL is returned.
 */
int ctl_build_bus(const struct shmbus_config *cfg, const char *name, shmbus_bus **out);

/* Declare ring r of a config on bus (interning its symbols). Returns 0 or
 * shmbus_ring_declare's / shmbus_symbol_intern's error. */
int ctl_declare_ring(shmbus_bus *bus, const struct shmbus_cfg_ring *r);

#endif
