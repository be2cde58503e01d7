/*
 * shmbus_config.h - the host configuration file (INI) shared by shmbusctl,
 * the launcher and the services.
 *
 * One file describes a bus ([bus]), its rings ([ring NAME]), the journal
 * and bridge settings ([journal], [bridge]: the long options of
 * shmbus-journald and shmbus-bridge, which read them with --config,
 * kept as validated key/value pairs), the launcher ([launcher]) and the services it
 * starts ([service NAME]). The format is documented in docs/config.md.
 *
 * Parsing is pure: no global state, nothing printed; results are owned by
 * the caller. Every error is one sentence of the form
 *   FILE:LINE: [SECTION] KEY: what is wrong
 * written into the caller's buffer. Thread-safe (distinct configs).
 */
#ifndef SHMBUS_CONFIG_H
#define SHMBUS_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#include <shmbus/bus.h>
#include <shmbus/consumer.h>
#include <shmbus/symbol.h>

#ifdef __cplusplus
extern "C" {
#endif

#define SHMBUS_CFG_MAX_CPUS 1024 /* cores are 0..1023 (CPU_SETSIZE) */
#define SHMBUS_CFG_ERR_MAX  512  /* a buffer this big holds any message */

enum shmbus_cfg_restart {
	SHMBUS_RESTART_NEVER = 0,
	SHMBUS_RESTART_ON_FAILURE = 1, /* exit status != 0 or killed */
	SHMBUS_RESTART_ALWAYS = 2,
};

/* A key = value pair kept for a service that reads it ([journal], [bridge]). */
struct shmbus_cfg_kv {
	char *key;
	char *value;
	int line;
};

struct shmbus_cfg_section {
	int present; /* 1 when the file has this section */
	int line;    /* line of its [header] */
	struct shmbus_cfg_kv *kv;
	size_t nkv;
};

struct shmbus_cfg_ring {
	char name[SHMBUS_NAME_MAX + 1];
	int line;                    /* line of [ring NAME] */
	struct shmbus_sub_opts opts; /* symbols left NULL: they are names below */
	char group[SHMBUS_NAME_MAX + 1];
	char **symbols; /* symbol names to intern and filter on */
	size_t nsymbols;
};

struct shmbus_cfg_service {
	char name[SHMBUS_NAME_MAX + 1];
	int line;      /* line of [service NAME] */
	char *command; /* program (PATH lookup when it has no '/') */
	char **args;   /* argv[1..]: `args` split on blanks, "quotes" kept whole */
	size_t nargs;
	int *cores; /* CPUs to pin to (sorted, unique); ncores 0 = no pinning */
	size_t ncores;
	int numa_node; /* -1: none */
	enum shmbus_cfg_restart restart;
	unsigned restart_max;      /* restarts before giving up; 0 = unlimited */
	int cores_line, numa_line; /* lines of those keys (0 if absent) */
};

struct shmbus_config {
	char *path; /* as given to the loader (used in every message) */
	struct {
		char name[SHMBUS_NAME_MAX + 1];
		struct shmbus_bus_opts opts; /* arena, maxima, hugepages filled */
		int keep;                    /* launcher leaves the segment on exit */
		int line;
	} bus;
	struct {
		unsigned stop_grace_ms;      /* SIGTERM -> SIGKILL (default 3000) */
		unsigned backoff_initial_ms; /* first restart delay (default 100) */
		unsigned backoff_max_ms;     /* cap of the doubling (default 5000) */
		unsigned healthy_run_ms;     /* a run this long resets backoff and restart_max's count */
		char *status_file;           /* NULL: none */
		int line;                    /* line of [launcher] (0: absent) */
	} launcher;
	struct shmbus_cfg_ring *rings;
	size_t nrings;
	struct shmbus_cfg_service *services;
	size_t nservices;
	struct shmbus_cfg_section journal, bridge;
};

/*
 * Parse the file at `path`, which must be a regular file. Returns 0 and
 * *out (free with shmbus_config_free), -ENOENT/-EACCES/... when it cannot
 * be opened, -EISDIR for a directory, -EINVAL for another kind of file
 * (device, FIFO, socket: "PATH: cannot read: not a regular file (...)")
 * or a bad file, -EIO/... for a read error, -ENOMEM. On error `err`
 * (errlen bytes, may be NULL) holds "PATH:LINE: [SECTION] KEY: why".
 * Thread-safe.
 */
int shmbus_config_load(const char *path, struct shmbus_config **out, char *err, size_t errlen);

/* Same, from a NUL-terminated string; `name` stands for the path in
 * messages. */
int shmbus_config_parse_string(const char *text, const char *name, struct shmbus_config **out,
                               char *err, size_t errlen);

/* Free a config (NULL is fine). */
void shmbus_config_free(struct shmbus_config *cfg);

/* Value of `key` in a kept section ([journal], [bridge]), or NULL; *line
 * (may be NULL) gets its line. */
const char *shmbus_config_get(const struct shmbus_cfg_section *s, const char *key, int *line);

/*
 * The keys [journal] or [bridge] (section "journal" or "bridge") accept:
 * shmbus-journald's and shmbus-bridge's long option names. The i-th one,
 * or NULL past the last (or for another section). Pure.
 */
const char *shmbus_config_kept_key(const char *section, size_t i);

/*
 * Check what only the running host can tell: every core exists (below the
 * configured CPU count) and every NUMA node exists (libnuma; a node other
 * than 0 without NUMA support is an error). Returns 0 or -EINVAL with the
 * message in err. Thread-safe.
 */
int shmbus_config_check_host(const struct shmbus_config *cfg, char *err, size_t errlen);

/*
 * Parse a CPU list "0,2-3,8" into a sorted unique array of at most `max`
 * entries (each < SHMBUS_CFG_MAX_CPUS). Returns the count, or -EINVAL
 * with a reason in why (whylen bytes). Pure.
 */
int shmbus_cpulist_parse(const char *s, int *cpus, size_t max, char *why, size_t whylen);

/* Names of the restart policies ("never", "on-failure", "always"). */
const char *shmbus_restart_name(enum shmbus_cfg_restart r);

#ifdef __cplusplus
}
#endif
#endif
