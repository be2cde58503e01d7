/*
 * ctl_up.c - `shmbusctl up CONFIG`: the launcher.
 *
 * It creates the bus, starts each [service] as a child pinned to its
 * cores (sched_setaffinity) and NUMA node (numa_run_on_node + a preferred
 * memory policy, both inherited across exec), restarts the ones that die
 * by their restart policy with an exponential backoff, and on SIGINT,
 * SIGTERM or SIGHUP stops them all: SIGTERM to each child's process group,
 * a grace period, then SIGKILL. Children ask the kernel for SIGTERM when
 * the launcher dies (PR_SET_PDEATHSIG), so a kill -9 of the launcher
 * leaves no orphans either.
 *
 * One thread, no signal handlers doing work: the signals are blocked and
 * taken synchronously with sigtimedwait(), whose timeout is the next
 * restart due (or a second, to heartbeat the bus). The state of every
 * service is written to a status file (--status or [launcher]
 * status_file) after each change, atomically (write + rename), for
 * scripts and tests.
 */
#define _GNU_SOURCE /* sched_setaffinity, CPU_SET */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <numa.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ctl.h"
#include "tool_json.h"

#define TOOL        "shmbusctl up"
#define LONG_RUN_NS (10 * INT64_C(1000000000)) /* a run this long resets the backoff */

enum svc_state { SVC_PENDING, SVC_RUNNING, SVC_BACKOFF, SVC_STOPPED, SVC_FAILED };

struct svc {
	const struct shmbus_cfg_service *cfg;
	pid_t pid;
	enum svc_state state;
	unsigned restarts;
	unsigned backoff_ms;
	int64_t started_ns;
	int64_t next_start_ns;
	char last_exit[32];
};

struct launcher {
	const struct shmbus_config *cfg;
	const char *bus_name;
	const char *status_path;
	char config_abs[PATH_MAX];
	char config_dir[PATH_MAX];
	struct svc *svcs;
	size_t n;
	shmbus_bus *bus;
	sigset_t mask, oldmask;
	pid_t self;
	int stopping;
	int status_failed; /* the last status write failed (warned once) */
};

static int64_t mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static const char *state_name(enum svc_state s)
{
	static const char *const n[] = {"pending", "running", "backoff", "stopped", "failed"};
	return n[s];
}

/* Write the status file: a temporary beside it, then rename. Returns 0 or
 * -errno with *what naming the step that failed; the temporary never
 * stays behind. */
static int write_status_file(const struct launcher *l, const char **what)
{
	char tmp[PATH_MAX + 8];
	snprintf(tmp, sizeof(tmp), "%s.tmp", l->status_path);
	FILE *f = fopen(tmp, "we");
	if (!f) {
		*what = "create";
		return -errno;
	}
	fprintf(f, "launcher pid=%d bus=%s state=%s\n", (int)l->self, l->bus_name,
	        l->stopping == 2 ? "stopped"
	        : l->stopping    ? "stopping"
	                         : "running");
	for (size_t i = 0; i < l->n; i++) {
		const struct svc *s = &l->svcs[i];
		fprintf(f, "service name=%s pid=%d state=%s restarts=%u last_exit=%s\n",
		        s->cfg->name, (int)s->pid, state_name(s->state), s->restarts,
		        s->last_exit[0] ? s->last_exit : "-");
	}
	int rc = ferror(f) ? -EIO : 0;
	if (fclose(f) != 0 && !rc)
		rc = -errno;
	*what = "write";
	if (!rc && rename(tmp, l->status_path) != 0) {
		rc = -errno;
		*what = "rename into place";
	}
	if (rc)
		unlink(tmp);
	return rc;
}

/* Rewrite the status file after a change. A failure while services run
 * is only reported (once until a write succeeds again): stopping the
 * services over a status file would be worse. */
static void write_status(struct launcher *l)
{
	if (!l->status_path)
		return;
	const char *what = "";
	int rc = write_status_file(l, &what);
	if (rc && !l->status_failed)
		fprintf(stderr, TOOL ": warning: status file %s: %s failed: %s\n", l->status_path,
		        what, strerror(-rc));
	l->status_failed = rc != 0;
}

/* Before anything starts: the status file must be writable where it is
 * (its folder exists and takes files, it is not a folder itself), or the
 * launcher would run blind for scripts that wait on it. */
static int check_status_path(const char *path)
{
	struct stat st;
	char tmp[PATH_MAX + 8];
	if (stat(path, &st) == 0 && !S_ISREG(st.st_mode)) {
		fprintf(stderr, TOOL ": status file %s: not a regular file%s\n", path,
		        S_ISDIR(st.st_mode) ? " (a directory)" : "");
		return CTL_FAIL;
	}
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (fd < 0) {
		fprintf(stderr, TOOL ": status file %s: cannot create %s: %s\n", path, tmp,
		        strerror(errno));
		return CTL_FAIL;
	}
	close(fd);
	unlink(tmp);
	return CTL_OK;
}

/* ${bus}, ${config} and ${service} in an argument. */
static char *expand(const struct launcher *l, const struct svc *s, const char *arg)
{
	const char *keys[] = {"${bus}", "${config}", "${service}"};
	const char *vals[] = {l->bus_name, l->config_abs, s->cfg->name};
	size_t cap = strlen(arg) + 1;
	for (int k = 0; k < 3; k++)
		for (const char *p = strstr(arg, keys[k]); p; p = strstr(p + 1, keys[k]))
			cap += strlen(vals[k]);
	char *out = malloc(cap), *o = out;
	if (!out)
		return NULL;
	while (*arg) {
		int k = 0;
		while (k < 3 && strncmp(arg, keys[k], strlen(keys[k])) != 0)
			k++;
		if (k < 3) {
			o = stpcpy(o, vals[k]);
			arg += strlen(keys[k]);
		} else {
			*o++ = *arg++;
		}
	}
	*o = '\0';
	return out;
}

static void pin_or_die(const struct svc *s)
{
	const struct shmbus_cfg_service *c = s->cfg;
	if (c->numa_node >= 0 && numa_available() >= 0) {
		if (numa_run_on_node(c->numa_node) != 0) {
			fprintf(stderr, TOOL ": service %s: numa_run_on_node(%d): %s\n", c->name,
			        c->numa_node, strerror(errno));
			_exit(126);
		}
		numa_set_preferred(c->numa_node); /* memory policy, kept across exec */
	}
	if (c->ncores == 0)
		return;
	cpu_set_t set;
	CPU_ZERO(&set);
	for (size_t i = 0; i < c->ncores; i++)
		CPU_SET(c->cores[i], &set);
	if (sched_setaffinity(0, sizeof(set), &set) != 0) {
		fprintf(stderr, TOOL ": service %s: sched_setaffinity(cores from line %d): %s\n",
		        c->name, c->cores_line, strerror(errno));
		_exit(126);
	}
}

/* In the child: never returns. */
static void child_exec(const struct launcher *l, const struct svc *s)
{
	const struct shmbus_cfg_service *c = s->cfg;
	signal(SIGCHLD, SIG_DFL);
	sigprocmask(SIG_SETMASK, &l->oldmask, NULL);
	prctl(PR_SET_PDEATHSIG, SIGTERM);
	if (getppid() != l->self) /* the launcher died before prctl */
		_exit(1);
	setpgid(0, 0);
	int devnull = open("/dev/null", O_RDONLY);
	if (devnull >= 0) {
		dup2(devnull, STDIN_FILENO);
		close(devnull);
	}
	pin_or_die(s);
	setenv("SHMBUS_BUS", l->bus_name, 1);
	setenv("SHMBUS_CONFIG", l->config_abs, 1);
	setenv("SHMBUS_SERVICE", c->name, 1);
	char **argv = calloc(c->nargs + 2, sizeof(*argv));
	char cmd[PATH_MAX * 2];
	if (strchr(c->command, '/') && c->command[0] != '/')
		snprintf(cmd, sizeof(cmd), "%s/%s", l->config_dir, c->command);
	else
		snprintf(cmd, sizeof(cmd), "%s", c->command);
	if (!argv)
		_exit(127);
	argv[0] = cmd;
	for (size_t i = 0; i < c->nargs; i++)
		if (!(argv[i + 1] = expand(l, s, c->args[i])))
			_exit(127);
	execvp(cmd, argv);
	fprintf(stderr, TOOL ": service %s: exec %s: %s\n", c->name, cmd, strerror(errno));
	_exit(127);
}

static void start(struct launcher *l, struct svc *s)
{
	fflush(NULL);
	pid_t pid = fork();
	if (pid < 0) {
		fprintf(stderr, TOOL ": service %s: fork: %s\n", s->cfg->name, strerror(errno));
		s->state = SVC_BACKOFF;
		s->next_start_ns = mono_ns() + (int64_t)s->backoff_ms * 1000000;
		return;
	}
	if (pid == 0)
		child_exec(l, s);
	setpgid(pid, pid); /* both sides, so kill(-pid) works at once */
	s->pid = pid;
	s->state = SVC_RUNNING;
	s->started_ns = mono_ns();
	printf("%s: service %s started, pid %d (restarts %u)\n", TOOL, s->cfg->name, (int)pid,
	       s->restarts);
}

static void describe_exit(int status, char *buf, size_t len)
{
	if (WIFEXITED(status))
		snprintf(buf, len, "exit:%d", WEXITSTATUS(status));
	else if (WIFSIGNALED(status))
		snprintf(buf, len, "signal:%d", WTERMSIG(status));
	else
		snprintf(buf, len, "status:%d", status);
}

static void on_exit_of(struct launcher *l, struct svc *s, int status)
{
	const struct shmbus_cfg_service *c = s->cfg;
	int64_t now = mono_ns();
	bool failed = !(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	describe_exit(status, s->last_exit, sizeof(s->last_exit));
	s->pid = 0;
	printf("%s: service %s ended (%s)", TOOL, c->name, s->last_exit);
	bool restart = c->restart == SHMBUS_RESTART_ALWAYS ||
	               (c->restart == SHMBUS_RESTART_ON_FAILURE && failed);
	if (l->stopping || !restart) {
		s->state = failed && !l->stopping ? SVC_FAILED : SVC_STOPPED;
		printf("\n");
		return;
	}
	if (c->restart_max && s->restarts >= c->restart_max) {
		s->state = SVC_FAILED;
		printf("; gave up after %u restarts (restart_max)\n", s->restarts);
		return;
	}
	if (now - s->started_ns >= LONG_RUN_NS)
		s->backoff_ms = l->cfg->launcher.backoff_initial_ms;
	unsigned delay = s->backoff_ms;
	s->backoff_ms = s->backoff_ms * 2 > l->cfg->launcher.backoff_max_ms
	                    ? l->cfg->launcher.backoff_max_ms
	                    : s->backoff_ms * 2;
	s->restarts++;
	s->state = SVC_BACKOFF;
	s->next_start_ns = now + (int64_t)delay * 1000000;
	printf("; restart %u in %u ms\n", s->restarts, delay);
}

static void reap_children(struct launcher *l)
{
	int status;
	pid_t pid;
	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		for (size_t i = 0; i < l->n; i++)
			if (l->svcs[i].pid == pid) {
				on_exit_of(l, &l->svcs[i], status);
				if (l->stopping) /* stragglers the service left in its group */
					kill(-pid, SIGKILL);
				break;
			}
	}
}

static size_t count_running(const struct launcher *l)
{
	size_t n = 0;
	for (size_t i = 0; i < l->n; i++)
		n += l->svcs[i].state == SVC_RUNNING;
	return n;
}

static void signal_all(const struct launcher *l, int sig)
{
	for (size_t i = 0; i < l->n; i++)
		if (l->svcs[i].state == SVC_RUNNING) {
			kill(-l->svcs[i].pid, sig);
			kill(l->svcs[i].pid, sig);
		}
}

/* Wait for SIGCHLDs until no child runs or `deadline` (monotonic ns). */
static void wait_children(struct launcher *l, int64_t deadline)
{
	sigset_t chld;
	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	reap_children(l);
	while (count_running(l) && mono_ns() < deadline) {
		int64_t left = deadline - mono_ns();
		if (left > 100000000)
			left = 100000000; /* re-check: SIGCHLDs coalesce */
		struct timespec ts = {left / 1000000000, left % 1000000000};
		sigtimedwait(&chld, NULL, &ts);
		reap_children(l);
	}
}

static void stop_all(struct launcher *l)
{
	l->stopping = 1;
	for (size_t i = 0; i < l->n; i++)
		if (l->svcs[i].state != SVC_RUNNING && l->svcs[i].state != SVC_FAILED)
			l->svcs[i].state = SVC_STOPPED;
	write_status(l);
	printf("%s: stopping %zu services (SIGTERM, then SIGKILL after %u ms)\n", TOOL,
	       count_running(l), l->cfg->launcher.stop_grace_ms);
	signal_all(l, SIGTERM);
	wait_children(l, mono_ns() + (int64_t)l->cfg->launcher.stop_grace_ms * 1000000);
	if (count_running(l)) {
		printf("%s: %zu services still running: SIGKILL\n", TOOL, count_running(l));
		signal_all(l, SIGKILL);
		wait_children(l, INT64_MAX);
	}
	l->stopping = 2;
	write_status(l);
}

/* Start due services; returns ns until the next one is due (or 1 s). */
static int64_t start_due(struct launcher *l, bool *active)
{
	int64_t now = mono_ns(), wait = 1000000000;
	*active = false;
	for (size_t i = 0; i < l->n; i++) {
		struct svc *s = &l->svcs[i];
		if ((s->state == SVC_PENDING || s->state == SVC_BACKOFF) &&
		    s->next_start_ns <= now) {
			start(l, s);
			write_status(l);
		}
		if (s->state == SVC_BACKOFF && s->next_start_ns - now < wait)
			wait = s->next_start_ns - now;
		if (s->state == SVC_PENDING || s->state == SVC_RUNNING || s->state == SVC_BACKOFF)
			*active = true;
	}
	return wait > 0 ? wait : 0;
}

static int run_loop(struct launcher *l)
{
	for (;;) {
		bool active;
		int64_t wait = start_due(l, &active);
		if (!active) {
			printf("%s: no service left to run\n", TOOL);
			return 0;
		}
		struct timespec ts = {wait / 1000000000, wait % 1000000000};
		siginfo_t si;
		int sig = sigtimedwait(&l->mask, &si, &ts);
		shmbus_bus_heartbeat(l->bus);
		shmbus_bus_reap(l->bus);
		if (sig == SIGCHLD) {
			reap_children(l);
			write_status(l);
		} else if (sig == SIGINT || sig == SIGTERM || sig == SIGHUP) {
			printf("%s: %s received\n", TOOL, strsignal(sig));
			return 1;
		}
	}
}

static void on_sigchld(int sig)
{
	(void)sig; /* never runs: SIGCHLD is blocked and taken by sigtimedwait */
}

static int launcher_init(struct launcher *l, const struct ctl_opts *o,
                         const struct shmbus_config *cfg, const char *path)
{
	l->cfg = cfg;
	l->self = getpid();
	l->bus_name = o->bus ? o->bus : cfg->bus.name;
	l->status_path = o->status ? o->status : cfg->launcher.status_file;
	if (!realpath(path, l->config_abs))
		snprintf(l->config_abs, sizeof(l->config_abs), "%s", path);
	snprintf(l->config_dir, sizeof(l->config_dir), "%s", l->config_abs);
	char *slash = strrchr(l->config_dir, '/');
	if (slash)
		*slash = '\0';
	l->n = cfg->nservices;
	l->svcs = calloc(l->n ? l->n : 1, sizeof(*l->svcs));
	if (!l->svcs)
		return -ENOMEM;
	for (size_t i = 0; i < l->n; i++) {
		l->svcs[i].cfg = &cfg->services[i];
		l->svcs[i].backoff_ms = cfg->launcher.backoff_initial_ms;
	}
	signal(SIGCHLD, on_sigchld);
	sigemptyset(&l->mask);
	sigaddset(&l->mask, SIGCHLD);
	sigaddset(&l->mask, SIGINT);
	sigaddset(&l->mask, SIGTERM);
	sigaddset(&l->mask, SIGHUP);
	sigprocmask(SIG_BLOCK, &l->mask, &l->oldmask);
	return 0;
}

/* The bus is built: run the services until a signal or until none is
 * left, stop them, and remove the bus unless it is kept. */
static int launcher_run(struct launcher *l, const struct ctl_opts *o)
{
	const struct shmbus_config *cfg = l->cfg;
	printf("%s: bus '%s' (%s): %zu rings, %zu services; launcher pid %d\n", TOOL, l->bus_name,
	       shmbus_backing_name(shmbus_bus_backing(l->bus)), cfg->nrings, l->n, (int)l->self);
	write_status(l);
	int by_signal = run_loop(l);
	stop_all(l);
	bool any_failed = false;
	for (size_t i = 0; i < l->n; i++)
		any_failed |= l->svcs[i].state == SVC_FAILED;
	shmbus_bus_close(l->bus);
	if (cfg->bus.keep || o->keep)
		printf("%s: bus '%s' kept\n", TOOL, l->bus_name);
	else if (shmbus_bus_destroy(l->bus_name) == 0)
		printf("%s: bus '%s' removed\n", TOOL, l->bus_name);
	return !by_signal && any_failed ? CTL_FAIL : CTL_OK;
}

int ctl_up(const struct ctl_opts *o, const char *path)
{
	struct shmbus_config *cfg;
	if (ctl_load_config(path, &cfg))
		return CTL_FAIL;
	setvbuf(stdout, NULL, _IOLBF, 0);
	struct launcher l = {0};
	if (launcher_init(&l, o, cfg, path)) {
		shmbus_config_free(cfg);
		return tool_fail(TOOL, "init", -ENOMEM);
	}
	int rc = l.status_path ? check_status_path(l.status_path) : CTL_OK;
	if (rc == CTL_OK && (rc = ctl_build_bus(cfg, l.bus_name, &l.bus)) != CTL_OK)
		fprintf(stderr, TOOL ": (a dead bus of that name can be removed with "
		                     "`shmbusctl reclaim`)\n");
	if (rc == CTL_OK)
		rc = launcher_run(&l, o);
	free(l.svcs);
	shmbus_config_free(cfg);
	return rc;
}
