/*
 * ctl.h - the subcommands of shmbusctl, one function each. Each returns
 * the process exit code: 0 ok, 1 failure, 2 usage.
 */
#ifndef SHMBUS_CTL_H
#define SHMBUS_CTL_H

#include <shmbus/shmbus.h>
#include <sys/types.h>

#include "shmbus_config.h"

#define CTL_OK    0
#define CTL_FAIL  1
#define CTL_USAGE 2

struct ctl_opts {
	const char *bus;    /* --bus NAME, or NULL */
	const char *default_bus; /* --bus, else $SHMBUS_BUS, else "default" */
	const char *status; /* --status FILE (up), or NULL */
	int json;           /* --json */
	int dry_run;        /* --dry-run (reclaim) */
	int keep;           /* --keep (up) */
	int force;          /* --force (destroy) */
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

/* Config file `path` made absolute (abs) and its folder (dir), both of
 * PATH_MAX bytes: where relative commands and ${configdir} point. */
void ctl_config_paths(const char *path, char *abs, char *dir);

/* What the launcher executes for a service's `command`: a relative path
 * with a '/' is taken from config_dir, anything else as it is (execvp
 * searches PATH for a bare name). */
void ctl_command_path(const char *config_dir, const char *command, char *out, size_t len);

/* Every service's command resolves, as the launcher will run it, to an
 * executable file; prints the first that does not. 0 or CTL_FAIL. */
int ctl_check_commands(const struct shmbus_config *cfg);

/* A `bus` key of [journal] or [bridge] names bus `bus`, the one the
 * launcher runs, or is absent; prints the first that does not, as
 * `tool`. The launcher and `check` refuse the same. 0 or CTL_FAIL. */
int ctl_check_section_buses(const char *tool, const struct shmbus_config *cfg, const char *bus);

/* The status file `path` can be written where it is (its folder exists
 * and takes files, it is no folder itself): a temporary is created beside
 * it and removed. Prints why not, as `tool`. `up` checks it before
 * anything starts and `check` the config's [launcher] status_file the
 * same way. 0 or CTL_FAIL. */
int ctl_check_status_path(const char *tool, const char *path);

/* Device and inode of bus `name`'s file. 0 or -errno. */
int ctl_bus_file_id(const char *name, dev_t *dev, ino_t *ino);

/* Remove bus `name` when it exists and every participant it lists is
 * dead (reclaim's test): what an unclean stop of a launcher left. 1 when
 * removed, 0 when there is none or it is in use or unreadable, -errno. */
int ctl_remove_dead_bus(const char *name);

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
