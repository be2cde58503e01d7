/*
 * ctl_bus.c - one-shot shmbusctl commands: check, create, list, info,
 * destroy, reclaim, ring-remove.
 *
 * Everything here goes through the public API; inspection uses read-only
 * attaches (shmbus_bus_open_readonly), so `list` and `info` never register
 * as participants and can look at a bus that is damaged or whose
 * processes are gone. `reclaim` removes a bus only when every participant
 * entry is dead by the library's test (pid and process start time), so a
 * recycled pid never keeps a dead bus alive nor kills a live one.
 */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ctl.h"
#include "tool_json.h"

#define TOOL "shmbusctl"

int ctl_load_config(const char *path, struct shmbus_config **out)
{
	char err[SHMBUS_CFG_ERR_MAX];
	int rc = shmbus_config_load(path, out, err, sizeof(err));
	if (rc == 0 && (rc = shmbus_config_check_host(*out, err, sizeof(err))) != 0) {
		shmbus_config_free(*out);
		*out = NULL;
	}
	if (rc) {
		fprintf(stderr, TOOL ": %s\n", err);
		return CTL_FAIL;
	}
	return CTL_OK;
}

/* Is `path` an executable regular file? 0 or -errno. */
static int executable(const char *path)
{
	struct stat st;
	if (stat(path, &st) != 0)
		return -errno;
	if (!S_ISREG(st.st_mode))
		return -EACCES;
	return access(path, X_OK) == 0 ? 0 : -errno;
}

void ctl_config_paths(const char *path, char *abs, char *dir)
{
	if (!realpath(path, abs))
		snprintf(abs, PATH_MAX, "%s", path);
	snprintf(dir, PATH_MAX, "%s", abs);
	char *slash = strrchr(dir, '/');
	if (slash)
		*slash = '\0';
}

void ctl_command_path(const char *config_dir, const char *command, char *out, size_t len)
{
	if (strchr(command, '/') && command[0] != '/')
		snprintf(out, len, "%s/%s", config_dir, command);
	else
		snprintf(out, len, "%s", command);
}

/* execvp()'s search for a bare name: 0 when some PATH folder holds an
 * executable file of that name, else the first error that is not ENOENT
 * (a file there that cannot be run), else -ENOENT. */
static int path_search(const char *name)
{
	const char *path = getenv("PATH");
	char *copy = strdup(path && *path ? path : "/bin:/usr/bin"), *save = NULL;
	char full[PATH_MAX * 2];
	int rc = -ENOENT;
	if (!copy)
		return -ENOMEM;
	for (char *d = strtok_r(copy, ":", &save); d && rc; d = strtok_r(NULL, ":", &save)) {
		int r = snprintf(full, sizeof(full), "%s/%s", d, name) < (int)sizeof(full)
		            ? executable(full)
		            : -ENAMETOOLONG;
		if (r != -ENOENT || rc == -ENOENT)
			rc = r;
	}
	free(copy);
	return rc;
}

int ctl_check_commands(const struct shmbus_config *cfg)
{
	char abs[PATH_MAX], dir[PATH_MAX], cmd[PATH_MAX * 2];
	ctl_config_paths(cfg->path, abs, dir);
	for (size_t i = 0; i < cfg->nservices; i++) {
		const struct shmbus_cfg_service *s = &cfg->services[i];
		ctl_command_path(dir, s->command, cmd, sizeof(cmd));
		bool bare = !strchr(cmd, '/');
		int rc = bare ? path_search(cmd) : executable(cmd);
		if (rc) {
			fprintf(stderr, TOOL ": %s:%d: [service %s] command: '%s'%s: %s\n", cfg->path,
			        s->line, s->name, cmd, bare ? " (looked up in PATH)" : "",
			        strerror(-rc));
			return CTL_FAIL;
		}
	}
	return CTL_OK;
}

int ctl_check_section_buses(const char *tool, const struct shmbus_config *cfg, const char *bus)
{
	/* journald and the bridge read [journal]/[bridge] through --config
	 * ${config}, and a `bus` key there wins over the SHMBUS_BUS the
	 * launcher gives them: under `up --bus test` they would attach
	 * another bus (production's) than the one the launcher runs. */
	const struct shmbus_cfg_section *sec[2] = {&cfg->journal, &cfg->bridge};
	for (int k = 0; k < 2; k++) {
		int line = 0;
		const char *b = shmbus_config_get(sec[k], "bus", &line);
		if (b && strcmp(b, bus) != 0) {
			fprintf(stderr,
			        "%s: %s:%d: [%s] bus: '%s' is not the bus this launcher runs "
			        "('%s'): a service reading --config ${config} would attach '%s' "
			        "(remove the key: services get the launcher's bus as SHMBUS_BUS)\n",
			        tool, cfg->path, line, k ? "bridge" : "journal", b, bus, b);
			return CTL_FAIL;
		}
	}
	return CTL_OK;
}

int ctl_declare_ring(shmbus_bus *bus, const struct shmbus_cfg_ring *r)
{
	struct shmbus_sub_opts o = r->opts;
	uint32_t *ids = NULL;
	if (r->nsymbols) {
		ids = calloc(r->nsymbols, sizeof(*ids));
		if (!ids)
			return -ENOMEM;
		for (size_t i = 0; i < r->nsymbols; i++) {
			int64_t id =
			    shmbus_symbol_intern(bus, r->symbols[i], strlen(r->symbols[i]));
			if (id < 0) {
				free(ids);
				return (int)id;
			}
			ids[i] = (uint32_t)id;
		}
		o.symbols = ids;
		o.nsymbols = r->nsymbols;
	}
	int rc = shmbus_ring_declare(bus, r->name, &o);
	free(ids);
	return rc;
}

int ctl_build_bus(const struct shmbus_config *cfg, const char *name, shmbus_bus **out)
{
	struct shmbus_bus_opts opts = cfg->bus.opts;
	opts.participant_name = "shmbusctl";
	shmbus_bus *bus;
	int rc = shmbus_bus_create(name, &opts, &bus);
	if (rc) {
		char what[128];
		snprintf(what, sizeof(what), "create bus '%s' (%s)", name, cfg->path);
		return tool_fail(TOOL, what, rc);
	}
	for (size_t i = 0; i < cfg->nrings; i++) {
		rc = ctl_declare_ring(bus, &cfg->rings[i]);
		if (rc) {
			char what[256];
			snprintf(what, sizeof(what), "%s:%d: [ring %s]: declare", cfg->path,
			         cfg->rings[i].line, cfg->rings[i].name);
			tool_fail(TOOL, what, rc);
			shmbus_bus_close(bus);
			shmbus_bus_destroy(name);
			return CTL_FAIL;
		}
	}
	shmbus_bus_set_kept(bus, cfg->bus.keep); /* reclaim leaves a kept bus */
	*out = bus;
	return CTL_OK;
}

int ctl_check(const struct ctl_opts *o, const char *path)
{
	struct shmbus_config *cfg;
	if (ctl_load_config(path, &cfg))
		return CTL_FAIL;
	const char *name = o->bus ? o->bus : cfg->bus.name;
	const char *status = cfg->launcher.status_file;
	if (ctl_check_commands(cfg) || ctl_check_section_buses(TOOL, cfg, name) ||
	    (status && ctl_check_status_path(TOOL, status))) {
		shmbus_config_free(cfg);
		return CTL_FAIL;
	}
	if (o->json) {
		printf("{\"config\":");
		tool_json_str_ascii(stdout, path); /* a path's bytes need not be UTF-8 */
		printf(",\"bus\":");
		tool_json_str(stdout, name);
		printf(",\"rings\":%zu,\"services\":%zu,\"journal\":%s,\"bridge\":%s}\n",
		       cfg->nrings, cfg->nservices, cfg->journal.present ? "true" : "false",
		       cfg->bridge.present ? "true" : "false");
	} else {
		printf("%s: ok: bus '%s', %zu rings, %zu services%s%s\n", path, name, cfg->nrings,
		       cfg->nservices, cfg->journal.present ? ", journal" : "",
		       cfg->bridge.present ? ", bridge" : "");
	}
	shmbus_config_free(cfg);
	return CTL_OK;
}

int ctl_create(const struct ctl_opts *o, const char *path)
{
	struct shmbus_config *cfg;
	if (ctl_load_config(path, &cfg))
		return CTL_FAIL;
	const char *name = o->bus ? o->bus : cfg->bus.name;
	shmbus_bus *bus;
	int rc = ctl_build_bus(cfg, name, &bus);
	if (rc == CTL_OK) {
		char p[512] = "";
		shmbus_bus_path(name, p, sizeof(p));
		const char *backing = shmbus_backing_name(shmbus_bus_backing(bus));
		if (o->json) {
			printf("{\"bus\":");
			tool_json_str(stdout, name);
			printf(",\"path\":");
			tool_json_str_ascii(stdout, p); /* a path's bytes need not be UTF-8 */
			printf(",\"backing\":\"%s\",\"rings\":%zu,\"created\":true}\n", backing,
			       cfg->nrings);
		} else {
			printf("created bus '%s' (%s, %s) with %zu rings\n", name, p, backing,
			       cfg->nrings);
		}
		shmbus_bus_close(bus);
	}
	shmbus_config_free(cfg);
	return rc;
}

/* Live participants of an open bus, or -1 when the table is damaged; the
 * first live one into *first when first is not NULL. */
static int count_alive(const shmbus_bus *bus, uint32_t max, int *total,
                       struct shmbus_participant_stat *first)
{
	int alive = 0;
	*total = 0;
	for (uint32_t i = 0; i < max; i++) {
		struct shmbus_participant_stat ps;
		int rc = shmbus_stat_participant(bus, i, &ps);
		if (rc == -ENOENT)
			continue;
		if (rc)
			return -1;
		if (ps.state == SHMBUS_PART_ALIVE)
			(*total)++;
		if (ps.alive && alive++ == 0 && first)
			*first = ps;
	}
	return alive;
}

/* Live participants of bus `name` (the first into *first, may be NULL), or
 * -1 when it cannot be opened or read. */
static int bus_alive(const char *name, struct shmbus_participant_stat *first)
{
	shmbus_bus *bus;
	struct shmbus_bus_info bi;
	int total, alive = -1;
	if (shmbus_bus_open_readonly(name, &bus) != 0)
		return -1;
	if (shmbus_stat_bus(bus, &bi) == 0)
		alive = count_alive(bus, bi.max_participants, &total, first);
	shmbus_bus_close(bus);
	return alive;
}

int ctl_bus_file_id(const char *name, dev_t *dev, ino_t *ino)
{
	char path[4096];
	struct stat st;
	int rc = shmbus_bus_path(name, path, sizeof(path));
	if (rc)
		return rc;
	if (stat(path, &st) != 0)
		return -errno;
	*dev = st.st_dev;
	*ino = st.st_ino;
	return 0;
}

int ctl_remove_dead_bus(const char *name)
{
	dev_t dev, dev2;
	ino_t ino, ino2;
	if (ctl_bus_file_id(name, &dev, &ino) != 0)
		return 0;
	if (bus_alive(name, NULL) != 0)
		return 0; /* in use, or unreadable: left to the operator */
	/* still the file that was checked (not one re-created meanwhile) */
	if (ctl_bus_file_id(name, &dev2, &ino2) != 0 || dev2 != dev || ino2 != ino)
		return 0;
	int rc = shmbus_bus_destroy(name);
	return rc ? rc : 1;
}

struct bus_entry {
	/* The whole file name after "shmbus.", as a folder may hold one of
	 * any length: cut to a bus name's length, it named another bus. */
	char name[NAME_MAX + 1];
	long long size;
	int ok;         /* attached and validated */
	int alive;      /* live participants */
	int registered; /* entries still marked attached */
	int creator_pid;
	int kept; /* shmbus_bus_set_kept(): the launcher's keep */
	char backing[16];
	char error[256];
};

static void probe(const char *dir, const char *file, struct bus_entry *e)
{
	char path[1024];
	struct stat st;
	memset(e, 0, sizeof(*e));
	snprintf(e->name, sizeof(e->name), "%s", file + strlen("shmbus."));
	snprintf(path, sizeof(path), "%s/%s", dir, file);
	e->size = stat(path, &st) == 0 ? (long long)st.st_size : -1;
	/* The library opens a bus by name, in the first directory holding
	 * it: a file of the same name further down the search is another
	 * bus, which this entry must not describe (nor reclaim remove). */
	char first[1024];
	if (shmbus_bus_path(e->name, first, sizeof(first)) == 0 && strcmp(first, path) != 0) {
		snprintf(e->error, sizeof(e->error), "shadowed by %.200s (same name, searched first)",
		         first);
		return;
	}
	shmbus_bus *bus;
	int rc = shmbus_bus_open_readonly(e->name, &bus);
	if (rc) {
		snprintf(e->error, sizeof(e->error), "%s%s%s", shmbus_strerror(rc),
		         *shmbus_errmsg() ? ": " : "", shmbus_errmsg());
		return;
	}
	struct shmbus_bus_info bi;
	if ((rc = shmbus_stat_bus(bus, &bi)) == 0 &&
	    (e->alive = count_alive(bus, bi.max_participants, &e->registered, NULL)) >= 0) {
		e->ok = 1;
		e->creator_pid = bi.creator_pid;
		e->kept = bi.kept;
		snprintf(e->backing, sizeof(e->backing), "%s", shmbus_backing_name(bi.backing));
	} else {
		snprintf(e->error, sizeof(e->error), "corrupt tables%s%s",
		         *shmbus_errmsg() ? ": " : "", shmbus_errmsg());
	}
	shmbus_bus_close(bus);
}

struct bus_walk {
	void (*fn)(const char *dir, const char *file, void *ctx);
	void *ctx;
	int n;
	char *dir; /* the directory that failed */
	size_t dirlen;
};

static int walk_dir(const char *dir, void *arg)
{
	struct bus_walk *w = arg;
	DIR *d = opendir(dir);
	if (!d) {
		snprintf(w->dir, w->dirlen, "%s", dir);
		return -errno;
	}
	struct dirent *de;
	while ((de = readdir(d))) {
		if (strncmp(de->d_name, "shmbus.", 7) != 0 || !de->d_name[7])
			continue;
		w->fn(dir, de->d_name, w->ctx);
		w->n++;
	}
	closedir(d);
	return 0;
}

/* Calls fn for each shmbus.* file in every bus directory (SHMBUS_DIR, else
 * the hugetlbfs mounts and /dev/shm); returns the count, or -errno with the
 * directory that could not be read in dir. */
static int for_each_bus(void (*fn)(const char *dir, const char *file, void *ctx), void *ctx,
                        char *dir, size_t dirlen)
{
	struct bus_walk w = {.fn = fn, .ctx = ctx, .dir = dir, .dirlen = dirlen};
	int rc = shmbus_bus_dirs_each(walk_dir, &w);
	return rc ? rc : w.n;
}

static void list_one(const char *dir, const char *file, void *ctx)
{
	const struct ctl_opts *o = ctx;
	struct bus_entry e;
	static int first = 1;
	probe(dir, file, &e);
	if (o->json) {
		printf("%s{\"name\":", first ? "" : ",");
		tool_json_str_ascii(stdout, e.name); /* any file name of the folder */
		printf(",\"size\":%lld,\"ok\":%s", e.size, e.ok ? "true" : "false");
		if (e.ok)
			printf(",\"backing\":\"%s\",\"participants_alive\":%d,\"creator_pid\":%d,"
			       "\"kept\":%s",
			       e.backing, e.alive, e.creator_pid, e.kept ? "true" : "false");
		else {
			printf(",\"error\":");
			tool_json_str_ascii(stdout, e.error);
		}
		printf("}");
		first = 0;
		return;
	}
	/* Any file of the folder (anyone may write to /dev/shm): its name,
	 * and the error that quotes it, as text, never a control sequence. */
	char name[sizeof(e.name)], error[sizeof(e.error)];
	tool_text_name(e.name, name, sizeof(name));
	if (e.ok)
		printf("%-24s %10lld  %-10s %5d  %-7d%s\n", name, e.size, e.backing, e.alive,
		       e.creator_pid, e.kept ? "  kept" : "");
	else
		printf("%-24s %10lld  %-10s %5s  -  (%s)\n", name, e.size, "?", "?",
		       tool_text_name(e.error, error, sizeof(error)));
}

int ctl_list(const struct ctl_opts *o)
{
	char dir[512];
	if (o->json)
		printf("[");
	else
		printf("%-24s %10s  %-10s %5s  %s\n", "BUS", "BYTES", "BACKING", "ALIVE",
		       "CREATOR");
	int n = for_each_bus(list_one, (void *)o, dir, sizeof(dir));
	if (o->json)
		printf("]\n");
	if (n < 0) {
		fprintf(stderr, TOOL ": list %s: %s\n", dir, shmbus_strerror(n));
		return CTL_FAIL;
	}
	return CTL_OK;
}

int ctl_destroy(const struct ctl_opts *o, const char *name)
{
	struct shmbus_participant_stat ps;
	/* one that cannot be read (-1) is damaged: destroy is for that */
	int alive = o->force ? 0 : bus_alive(name, &ps);
	if (alive > 0) {
		/* They keep their mapping, but the next create or up of the name
		 * makes another bus: producers and consumers split in two. */
		char pname[SHMBUS_PARTICIPANT_NAME_MAX + 1];
		fprintf(stderr,
		        TOOL ": destroy bus '%s': %d live participant%s (pid %d '%s'%s): stop them "
		             "first, or --force\n",
		        name, alive, alive > 1 ? "s" : "", (int)ps.pid,
		        tool_text_name(ps.name, pname, sizeof(pname)),
		        alive > 1 ? ", ..." : "");
		return CTL_FAIL;
	}
	int rc = shmbus_bus_destroy(name);
	if (rc) {
		char what[128];
		snprintf(what, sizeof(what), "destroy bus '%s'", name);
		return tool_fail(TOOL, what, rc);
	}
	if (o->json) {
		printf("{\"bus\":");
		tool_json_str(stdout, name);
		printf(",\"destroyed\":true}\n");
	} else {
		printf("destroyed bus '%s'\n", name);
	}
	return CTL_OK;
}

struct reclaim_ctx {
	const struct ctl_opts *o;
	int removed, kept, failed;
};

static void reclaim_one(const char *dir, const char *file, void *ctx)
{
	struct reclaim_ctx *r = ctx;
	struct bus_entry e;
	probe(dir, file, &e);
	const char *what;
	if (!e.ok) {
		what = "skipped (unreadable)";
		r->kept++;
	} else if (e.alive > 0) {
		what = "kept (live participants)";
		r->kept++;
	} else if (e.kept) { /* left for the next `up`: what its rings hold too */
		what = "kept (marked kept: destroy removes it)";
		r->kept++;
	} else if (r->o->dry_run) {
		what = "would remove";
		r->removed++;
	} else if (shmbus_bus_destroy(e.name) == 0) {
		what = "removed";
		r->removed++;
	} else {
		what = "failed to remove";
		r->failed++;
	}
	if (r->o->json) {
		printf("%s{\"name\":", r->removed + r->kept + r->failed > 1 ? "," : "");
		tool_json_str_ascii(stdout, e.name);
		printf(",\"action\":\"%s\",\"participants_alive\":%d}", what, e.ok ? e.alive : -1);
	} else { /* names and errors as text: see list_one() */
		char name[sizeof(e.name)], error[sizeof(e.error)];
		printf("%-24s %s%s%s\n", tool_text_name(e.name, name, sizeof(name)), what,
		       e.ok ? "" : ": ", e.ok ? "" : tool_text_name(e.error, error, sizeof(error)));
	}
}

int ctl_reclaim(const struct ctl_opts *o)
{
	char dir[512];
	struct reclaim_ctx r = {.o = o};
	if (o->json)
		printf("[");
	int n = for_each_bus(reclaim_one, &r, dir, sizeof(dir));
	if (o->json)
		printf("]\n");
	else if (n >= 0)
		printf("%d %s, %d kept\n", r.removed, o->dry_run ? "would be removed" : "removed",
		       r.kept);
	if (n < 0) {
		fprintf(stderr, TOOL ": reclaim %s: %s\n", dir, shmbus_strerror(n));
		return CTL_FAIL;
	}
	return r.failed ? CTL_FAIL : CTL_OK;
}

/* ring-remove attaches read-write as a participant (the library takes the
 * bus lock and bumps the routing generation, as unsubscribe does) and
 * detaches at once. */
int ctl_ring_remove(const struct ctl_opts *o, const char *name, const char *ring)
{
	shmbus_bus *bus;
	char what[160];
	int rc = shmbus_bus_open(name, TOOL, SHMBUS_ROLE_TOOL, &bus);
	if (rc) {
		snprintf(what, sizeof(what), "open bus '%s'", name);
		return tool_fail(TOOL, what, rc);
	}
	rc = shmbus_ring_remove(bus, ring);
	if (rc) {
		snprintf(what, sizeof(what), "remove ring '%s' of bus '%s'", ring, name);
		tool_fail(TOOL, what, rc);
	} else if (o->json) {
		printf("{\"bus\":");
		tool_json_str(stdout, name);
		printf(",\"ring\":");
		tool_json_str(stdout, ring);
		printf(",\"removed\":true}\n");
	} else {
		printf("removed ring '%s' of bus '%s'\n", ring, name);
	}
	shmbus_bus_close(bus);
	return rc ? CTL_FAIL : CTL_OK;
}
