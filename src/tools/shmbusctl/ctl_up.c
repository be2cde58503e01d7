/*
 * ctl_up.c - `shmbusctl up CONFIG`: the launcher.
 *
 * It creates the bus, starts each [service] as a child pinned to its
 * cores (sched_setaffinity) and NUMA node (numa_run_on_node + a preferred
 * memory policy, both inherited across exec), restarts the ones that die
 * by their restart policy with an exponential backoff, and on SIGINT,
 * SIGTERM or SIGHUP stops them all. Children ask the kernel for SIGTERM
 * when the launcher dies (PR_SET_PDEATHSIG), so a kill -9 of the launcher
 * stops every service that honours SIGTERM (one that ignores it, or what a
 * shell wrapper started, is left to systemd's KillMode=mixed; the bus such
 * a launcher leaves is taken over by the next `up` once no participant
 * lives). A service is its process group: when its main
 * process ends, whatever is left in the group is SIGKILLed before any
 * restart (a leftover would hold the service's ring).
 *
 * Data flows from sources to consumers, and the launcher follows it both
 * ways. At start, consumers (services that name a declared ring in their
 * arguments, or pass ${config}) start first, and the sources wait until
 * those consumers have subscribed (bounded by START_WAIT_NS): a ring is
 * routed around until its consumer subscribes. At stop, a service gets
 * SIGTERM only once no open producer feeds the rings it consumes (sources
 * first, then each stage after its upstream has flushed and exited), so
 * that every final flush reaches a consumer that still runs; each service
 * has stop_grace_ms from its SIGTERM before its group is SIGKILLed.
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
#include "tool_proc.h"

#define TOOL          "shmbusctl up"
#define START_WAIT_NS (5 * INT64_C(1000000000))  /* sources wait this long for consumers */
#define POLL_NS       (10 * INT64_C(1000000))    /* ring state is polled this often */
#define STALL_NS      (300 * INT64_C(1000000))   /* stop: no progress this long, see stop_step */

enum svc_state { SVC_PENDING, SVC_RUNNING, SVC_BACKOFF, SVC_STOPPED, SVC_FAILED };

struct svc {
	const struct shmbus_cfg_service *cfg;
	pid_t pid;
	enum svc_state state;
	unsigned restarts; /* in all (printed, status file) */
	unsigned streak;   /* restarts since the last healthy run: restart_max counts these */
	unsigned backoff_ms;
	int64_t started_ns;
	int64_t next_start_ns;
	int64_t term_ns; /* when the stop sent it SIGTERM (0: not yet) */
	pid_t lingering; /* stopping: group whose main process ended, still draining */
	bool killed;     /* stopping: SIGKILLed after its grace */
	unsigned feeders; /* stopping: svc_feeders at this stop_step, before any SIGTERM */
	bool consumer;   /* names a declared ring or ${config}: started before sources */
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
	int stop_signals; /* signals received while stopping: 1 all at once, 2+ SIGKILL */
	bool sources_go;  /* the consumers subscribed (or START_WAIT_NS passed) */
	int64_t sources_deadline;
	int status_failed; /* the last status write failed (warned once) */
	dev_t bus_dev;     /* the bus file this launcher made or took (0: unknown) */
	ino_t bus_ino;
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

/* The temporary a status file is written to, beside it: named by our pid,
 * since two launchers may share a status file (one config run under two
 * --bus), and with one name each renamed or unlinked the other's. */
static void status_tmp_path(const char *path, char *tmp, size_t len)
{
	snprintf(tmp, len, "%s.%d.tmp", path, (int)getpid());
}

/* Write the status file: a temporary beside it, then rename. Returns 0 or
 * -errno with *what naming the step that failed; the temporary never
 * stays behind. */
static int write_status_file(const struct launcher *l, const char **what)
{
	char tmp[PATH_MAX + 32];
	status_tmp_path(l->status_path, tmp, sizeof(tmp));
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

/* Before anything starts: the status file must be writable where it is,
 * or the launcher would run blind for scripts that wait on it. */
int ctl_check_status_path(const char *tool, const char *path)
{
	struct stat st;
	char tmp[PATH_MAX + 32];
	if (stat(path, &st) == 0 && !S_ISREG(st.st_mode)) {
		fprintf(stderr, "%s: status file %s: not a regular file%s\n", tool, path,
		        S_ISDIR(st.st_mode) ? " (a directory)" : "");
		return CTL_FAIL;
	}
	status_tmp_path(path, tmp, sizeof(tmp));
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (fd < 0) {
		fprintf(stderr, "%s: status file %s: cannot create %s: %s\n", tool, path, tmp,
		        strerror(errno));
		return CTL_FAIL;
	}
	close(fd);
	unlink(tmp);
	return CTL_OK;
}

/* ${bus}, ${config}, ${configdir} and ${service} in an argument.
 * ${configdir} lets a config name its files (rules ...) wherever the
 * launcher runs: services start in the launcher's working directory. */
static char *expand(const struct launcher *l, const struct svc *s, const char *arg)
{
	enum { NKEYS = 4 };
	const char *keys[NKEYS] = {"${bus}", "${config}", "${configdir}", "${service}"};
	const char *vals[NKEYS] = {l->bus_name, l->config_abs, l->config_dir, s->cfg->name};
	size_t cap = strlen(arg) + 1;
	for (int k = 0; k < NKEYS; k++)
		for (const char *p = strstr(arg, keys[k]); p; p = strstr(p + 1, keys[k]))
			cap += strlen(vals[k]);
	char *out = malloc(cap), *o = out;
	if (!out)
		return NULL;
	while (*arg) {
		int k = 0;
		while (k < NKEYS && strncmp(arg, keys[k], strlen(keys[k])) != 0)
			k++;
		if (k < NKEYS) {
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
	signal(SIGPIPE,
	       SIG_DFL); /* ignored in the launcher; an ignored signal stays so across exec */
	/* The mask the launcher was started with, less the signals the stop
	 * sends: inherited blocked from a supervisor, SIGTERM never reached a
	 * service that does not unblock it itself (a plain command, a shell
	 * wrapper), and every stop ended in SIGKILL after the grace. */
	sigprocmask(SIG_SETMASK, &l->oldmask, NULL);
	sigprocmask(SIG_UNBLOCK, &l->mask, NULL);
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
	ctl_command_path(l->config_dir, c->command, cmd, sizeof(cmd));
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

/*
 * A service ended (`failed`: not with exit 0; `usage`: exit 2 under
 * on-failure) after a run of ran_ns, or could not be started at all:
 * restart it by its policy with the exponential backoff, or give it up.
 * Ends the line the caller began about it.
 */
static void after_end(struct launcher *l, struct svc *s, bool failed, bool usage, int64_t ran_ns)
{
	const struct shmbus_cfg_service *c = s->cfg;
	bool restart = c->restart == SHMBUS_RESTART_ALWAYS ||
	               (c->restart == SHMBUS_RESTART_ON_FAILURE && failed);
	if (l->stopping || !restart) {
		s->state = failed && !l->stopping ? SVC_FAILED : SVC_STOPPED;
		printf("\n");
		return;
	}
	/* Exit 2 is a usage error by every shmbus tool's convention (a bad
	 * option or config value): it fails the same way each time. */
	if (usage) {
		s->state = SVC_FAILED;
		printf("; exit 2 is a usage error: not restarted (fix its args or config)\n");
		return;
	}
	/* After a healthy run (healthy_run_ms) the backoff and the count that
	 * restart_max bounds start again, or a service that fails once a day
	 * would be given up for good on the 11th day. */
	if (ran_ns >= (int64_t)l->cfg->launcher.healthy_run_ms * 1000000) {
		s->backoff_ms = l->cfg->launcher.backoff_initial_ms;
		s->streak = 0;
	}
	if (c->restart_max && s->streak >= c->restart_max) {
		s->state = SVC_FAILED;
		printf("; gave up after %u restarts in a row (restart_max)\n", s->streak);
		return;
	}
	unsigned delay = s->backoff_ms;
	s->backoff_ms = s->backoff_ms * 2 > l->cfg->launcher.backoff_max_ms
	                    ? l->cfg->launcher.backoff_max_ms
	                    : s->backoff_ms * 2;
	s->restarts++;
	s->streak++;
	s->state = SVC_BACKOFF;
	s->next_start_ns = mono_ns() + (int64_t)delay * 1000000;
	printf("; restart %u in %u ms\n", s->restarts, delay);
}

static void start(struct launcher *l, struct svc *s)
{
	fflush(NULL);
	pid_t pid = fork();
	if (pid < 0) {
		/* Out of processes (EAGAIN: RLIMIT_NPROC, a cgroup's pids.max)
		 * or memory: a crash at once, backed off and counted as one,
		 * or the launcher retried every backoff_initial_ms for ever. */
		int err = errno;
		snprintf(s->last_exit, sizeof(s->last_exit), "fork:%d", err);
		printf("%s: service %s: fork failed: %s", TOOL, s->cfg->name, strerror(err));
		after_end(l, s, true, false, 0);
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
	bool failed = !(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	bool usage = c->restart == SHMBUS_RESTART_ON_FAILURE && WIFEXITED(status) &&
	             WEXITSTATUS(status) == 2;
	describe_exit(status, s->last_exit, sizeof(s->last_exit));
	s->pid = 0;
	printf("%s: service %s ended (%s)", TOOL, c->name, s->last_exit);
	after_end(l, s, failed, usage, mono_ns() - s->started_ns);
}

/* Is `pid` one of service s's processes (its main one, or in its group)? */
static bool svc_owns(const struct svc *s, pid_t pid)
{
	return s->pid > 0 && pid > 0 && (pid == s->pid || getpgid(pid) == s->pid);
}

/* Does argument `arg` name ring `ring` (`--ring NAME` or `--ring=NAME`)? */
static bool arg_names(const char *arg, const char *ring)
{
	const char *eq = strrchr(arg, '=');
	return strcmp(arg, ring) == 0 || (eq && strcmp(eq + 1, ring) == 0);
}

/* A consumer names a declared ring in its arguments, or passes ${config}
 * (it reads its ring from the file, as journald and the bridge do). */
static bool svc_is_consumer(const struct launcher *l, const struct shmbus_cfg_service *c)
{
	for (size_t a = 0; a < c->nargs; a++) {
		if (strstr(c->args[a], "${config}"))
			return true;
		for (size_t r = 0; r < l->cfg->nrings; r++)
			if (arg_names(c->args[a], l->cfg->rings[r].name))
				return true;
	}
	return false;
}

/* Has consumer s subscribed? Every declared ring it names is ACTIVE with
 * one of its processes as the consumer (after a restart, the dead
 * instance's ring is ACTIVE too until the new one takes it), or, naming
 * none, one of its processes consumes some ring. */
static bool svc_subscribed(const struct launcher *l, const struct svc *s)
{
	struct shmbus_ring_stat st;
	bool named = false, own = false;
	for (size_t r = 0; r < l->cfg->nrings; r++) {
		const char *ring = l->cfg->rings[r].name;
		bool names = false;
		for (size_t a = 0; a < s->cfg->nargs && !names; a++)
			names = arg_names(s->cfg->args[a], ring);
		if (!names)
			continue;
		named = true;
		int i = shmbus_stat_find_ring(l->bus, ring);
		if (i < 0 || shmbus_stat_ring(l->bus, (uint32_t)i, &st) != 0 ||
		    st.state != SHMBUS_RING_ACTIVE || !svc_owns(s, st.consumer_pid))
			return false;
	}
	for (uint32_t i = 0; !named && !own; i++) {
		int rc = shmbus_stat_ring(l->bus, i, &st);
		if (rc != 0 && rc != -ENOENT)
			break;
		own = rc == 0 && st.state == SHMBUS_RING_ACTIVE && svc_owns(s, st.consumer_pid);
	}
	return named || own;
}

/* Is s a consumer started that has not subscribed yet (for START_WAIT_NS
 * at most)? The ring of its dead predecessor waits for it: not reaped
 * (orphaned, it would be routed around), and at a stop, s is stopped
 * only once it has subscribed and its feeders can be counted. */
static bool svc_starting(const struct launcher *l, const struct svc *s, int64_t now)
{
	return s->consumer && s->state == SVC_RUNNING && now - s->started_ns < START_WAIT_NS &&
	       !svc_subscribed(l, s);
}

/* Orphan the rings of dead consumers and free dead producers' slots,
 * unless a consumer is starting (svc_starting). */
static void reap_unless_starting(struct launcher *l)
{
	int64_t now = mono_ns();
	for (size_t i = 0; i < l->n; i++)
		if (svc_starting(l, &l->svcs[i], now))
			return;
	shmbus_bus_reap(l->bus);
}

/* May the sources start? Once every consumer that runs (or is about to)
 * has subscribed, or START_WAIT_NS after the start, whichever is first. */
static bool sources_may_start(struct launcher *l)
{
	if (l->sources_go)
		return true;
	const struct svc *late = NULL;
	for (size_t i = 0; i < l->n && !late; i++) {
		const struct svc *s = &l->svcs[i];
		bool coming = s->state == SVC_PENDING || s->state == SVC_BACKOFF;
		if (s->consumer && (coming || (s->state == SVC_RUNNING && !svc_subscribed(l, s))))
			late = s;
	}
	if (late && mono_ns() < l->sources_deadline)
		return false;
	if (late)
		fprintf(stderr,
		        TOOL ": warning: service %s has not subscribed its rings after %d s: "
		             "starting the sources anyway\n",
		        late->cfg->name, (int)(START_WAIT_NS / 1000000000));
	l->sources_go = true;
	return true;
}

/* Does open producer `p` (stat ps) feed ring `r` (types `types`) for the
 * stop order? One that announced its types: when it publishes a type the
 * ring takes other than heartbeats, or the ring takes heartbeats alone.
 * Every stage's end-of-stream marker is a heartbeat, and reaches every
 * ring that takes heartbeats, its upstream's included: counted, they
 * would make every two stages feed each other. One that announced
 * nothing: once it delivered there. */
static bool feeds_for_stop(const struct launcher *l, uint32_t p,
                           const struct shmbus_producer_stat *ps, uint32_t r, uint64_t types)
{
	const uint64_t hb = SHMBUS_TYPE_BIT(SHMBUS_EV_HEARTBEAT);
	if (ps->announced)
		return (ps->announced & types & ~hb) != 0 ||
		       ((types & ~hb) == 0 && (ps->announced & hb) != 0);
	return shmbus_stat_ring_fed_by(l->bus, r, p) == 1;
}

/* How many open producers other than s's own feed the rings one of s's
 * processes consumes (feeds_for_stop; 0: nothing upstream feeds s any
 * more). s's own producers are left out: a stage's end-of-stream marker
 * may reach its own input ring; and so are those whose process is gone
 * (SIGKILLed, crashed): their slots stay open until the bus is reaped,
 * which waits while a consumer starts, but they publish nothing more. */
static unsigned svc_feeders(const struct launcher *l, const struct svc *s)
{
	struct shmbus_ring_stat rs;
	struct shmbus_producer_stat ps;
	uint32_t rings[1024], nrings = 0; /* a bus has at most 1024 rings */
	uint64_t types[1024];
	for (uint32_t i = 0; nrings < 1024; i++) {
		int rc = shmbus_stat_ring(l->bus, i, &rs);
		if (rc != 0 && rc != -ENOENT)
			break;
		if (rc == 0 && rs.state == SHMBUS_RING_ACTIVE && svc_owns(s, rs.consumer_pid)) {
			types[nrings] = rs.types;
			rings[nrings++] = i;
		}
	}
	unsigned n = 0;
	for (uint32_t p = 0; nrings; p++) {
		int rc = shmbus_stat_producer(l->bus, p, &ps);
		if (rc != 0 && rc != -ENOENT)
			break;
		if (rc != 0 || !ps.alive || svc_owns(s, ps.pid))
			continue;
		for (uint32_t r = 0; r < nrings; r++)
			if (feeds_for_stop(l, p, &ps, rings[r], types[r])) {
				n++;
				break;
			}
	}
	return n;
}

static void reap_children(struct launcher *l)
{
	int status;
	pid_t pid;
	int64_t grace = (int64_t)l->cfg->launcher.stop_grace_ms * 1000000;
	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		for (size_t i = 0; i < l->n; i++) {
			struct svc *s = &l->svcs[i];
			if (s->pid != pid)
				continue;
			on_exit_of(l, s, status);
			/* A service is its process group: what its main process
			 * left there dies with it, or it would hold the service's
			 * ring against the restart. When stopping, the rest of a
			 * group that got SIGTERM may finish its drain within the
			 * grace (stop_all SIGKILLs it after). */
			if (l->stopping && s->term_ns && !s->killed && kill(-pid, 0) == 0 &&
			    mono_ns() < s->term_ns + grace)
				s->lingering = pid;
			else
				kill(-pid, SIGKILL);
			break;
		}
	}
}

static size_t count_running(const struct launcher *l)
{
	size_t n = 0;
	for (size_t i = 0; i < l->n; i++)
		n += l->svcs[i].state == SVC_RUNNING || l->svcs[i].lingering;
	return n;
}

static void signal_svc(struct svc *s, int sig)
{
	pid_t g = s->pid ? s->pid : s->lingering;
	/* The group, and the main process apart only when it left the group
	 * (setsid): a second SIGTERM cut short what a service does in its
	 * shutdown path (a late flush's wait). */
	bool grouped = kill(-g, sig) == 0 && (!s->pid || getpgid(s->pid) == g);
	if (s->pid && !grouped)
		kill(s->pid, sig);
	if (sig == SIGKILL)
		s->killed = true;
	else if (!s->term_ns)
		s->term_ns = mono_ns();
}

/* One step of the stop: SIGKILL what outlived its grace; when no SIGTERMed
 * service is still running, SIGTERM the next ones: those no open producer
 * of another service feeds (sources first); or, `stalled` (none of those
 * for STALL_NS), the ones with the fewest feeders (a cycle, a producer
 * outside the launcher). A consumer still starting (svc_starting) waits
 * until it has subscribed. Returns true when it sent a SIGTERM or a
 * SIGKILL: the stall is counted from then. A SIGKILL is progress too (the
 * step ends there: the killed service's producers count as feeders until
 * its process is gone), or the grace it outlived would count as a stall,
 * and the two stages after it, one feeder each, were SIGTERMed together. */
static bool stop_step(struct launcher *l, bool stalled)
{
	int64_t now = mono_ns(), grace = (int64_t)l->cfg->launcher.stop_grace_ms * 1000000;
	bool in_flight = false, sent = false;
	for (size_t i = 0; i < l->n; i++) {
		struct svc *s = &l->svcs[i];
		if (s->lingering && (kill(-s->lingering, 0) != 0 || s->killed))
			s->lingering = 0;
		if (s->state != SVC_RUNNING && !s->lingering)
			continue;
		if (s->term_ns && !s->killed && now - s->term_ns >= grace) {
			char where[TOOL_PROC_DESC_MAX];
			printf("%s: service %s still running %u ms after SIGTERM: SIGKILL (%s)\n",
			       TOOL, s->cfg->name, l->cfg->launcher.stop_grace_ms,
			       tool_proc_describe(s->pid ? s->pid : s->lingering, where,
			                          sizeof(where)));
			signal_svc(s, SIGKILL);
			sent = true;
		}
		in_flight |= s->term_ns != 0 && !s->killed;
	}
	if ((in_flight || sent) && l->stop_signals == 0)
		return sent;
	/* Every service's feeders are counted before any SIGTERM of this step:
	 * a producer SIGTERMed here may close at once, but its consumers wait
	 * until it has exited (in_flight above), not only closed. */
	unsigned least = UINT_MAX;
	for (size_t i = 0; i < l->n; i++) {
		struct svc *s = &l->svcs[i];
		if (s->state != SVC_RUNNING || s->term_ns)
			continue;
		if (l->stop_signals == 0 && svc_starting(l, s, now)) {
			s->feeders = UINT_MAX; /* not yet: its rings are unknown */
			continue;
		}
		s->feeders = l->stop_signals == 0 ? svc_feeders(l, s) : 0;
		least = s->feeders < least ? s->feeders : least;
	}
	for (size_t i = 0; i < l->n; i++) {
		struct svc *s = &l->svcs[i];
		if (s->state != SVC_RUNNING || s->term_ns || s->feeders == UINT_MAX)
			continue;
		unsigned f = s->feeders;
		if (f != 0 && !(stalled && f == least))
			continue;
		signal_svc(s, SIGTERM);
		sent = true;
	}
	return sent;
}

static void stop_all(struct launcher *l)
{
	l->stopping = 1;
	for (size_t i = 0; i < l->n; i++)
		if (l->svcs[i].state != SVC_RUNNING && l->svcs[i].state != SVC_FAILED)
			l->svcs[i].state = SVC_STOPPED;
	write_status(l);
	printf("%s: stopping %zu services, producers before their consumers (SIGTERM, then "
	       "SIGKILL after %u ms)\n",
	       TOOL, count_running(l), l->cfg->launcher.stop_grace_ms);
	int64_t progress = mono_ns(); /* the last signal sent or service ended */
	reap_children(l);
	while (count_running(l)) {
		reap_unless_starting(l); /* frees the producers of dead processes */
		if (stop_step(l, mono_ns() - progress >= STALL_NS))
			progress = mono_ns();
		struct timespec ts = {0, POLL_NS};
		siginfo_t si;
		int sig = sigtimedwait(&l->mask, &si, &ts);
		if (sig == SIGCHLD) {
			reap_children(l);
			write_status(l);
			progress = mono_ns();
		} else if (sig == SIGINT || sig == SIGTERM || sig == SIGHUP) {
			l->stop_signals++;
			printf("%s: %s received again: %s\n", TOOL, strsignal(sig),
			       l->stop_signals > 1 ? "SIGKILL to every service"
			                           : "SIGTERM to every service at once");
			if (l->stop_signals > 1)
				for (size_t i = 0; i < l->n; i++)
					if (l->svcs[i].state == SVC_RUNNING || l->svcs[i].lingering)
						signal_svc(&l->svcs[i], SIGKILL);
		}
	}
	l->stopping = 2;
	write_status(l);
}

/* Start what is due: the consumers, then, once they have subscribed, the
 * sources. Returns ns until the next one is due (or 1 s). */
static int64_t start_due(struct launcher *l, bool *active)
{
	int64_t now = mono_ns(), wait = 1000000000;
	*active = false;
	for (int pass = 0; pass < 2; pass++)
		for (size_t i = 0; i < l->n; i++) {
			struct svc *s = &l->svcs[i];
			if (s->consumer != (pass == 0))
				continue;
			if ((s->state == SVC_PENDING || s->state == SVC_BACKOFF) &&
			    s->next_start_ns <= now) {
				if (pass == 1 && !sources_may_start(l)) {
					wait = POLL_NS;
				} else {
					start(l, s);
					write_status(l);
				}
			}
			if (s->state == SVC_BACKOFF && s->next_start_ns - now < wait)
				wait = s->next_start_ns - now;
			if (s->state == SVC_PENDING || s->state == SVC_RUNNING ||
			    s->state == SVC_BACKOFF)
				*active = true;
		}
	return wait > 0 ? wait : 0;
}

/*
 * Orphan the rings of dead consumers and free dead producers' slots,
 * except while a service waits to be restarted, or a consumer started
 * has not subscribed yet (for START_WAIT_NS at most): then the ring of the
 * consumer that died keeps what producers publish meanwhile (up to its
 * capacity; a full ring makes producers check its consumer and route
 * around it themselves), and the new instance, journald above all, gets
 * it. Orphaned at once, the ring lost everything published during the
 * restart's backoff: a gap in the journal at every journald restart; and
 * reaped once the restart began, everything published until the new
 * instance subscribed (a journald recovering a long segment first).
 */
static void reap_unless_restarting(struct launcher *l)
{
	for (size_t i = 0; i < l->n; i++)
		if (l->svcs[i].state == SVC_BACKOFF)
			return;
	reap_unless_starting(l);
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
		if (sig == SIGCHLD) {
			reap_children(l);
			write_status(l);
		}
		reap_unless_restarting(l);
		if (sig == SIGINT || sig == SIGTERM || sig == SIGHUP) {
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
	ctl_config_paths(path, l->config_abs, l->config_dir);
	l->n = cfg->nservices;
	l->svcs = calloc(l->n ? l->n : 1, sizeof(*l->svcs));
	if (!l->svcs)
		return -ENOMEM;
	for (size_t i = 0; i < l->n; i++) {
		l->svcs[i].cfg = &cfg->services[i];
		l->svcs[i].backoff_ms = cfg->launcher.backoff_initial_ms;
		l->svcs[i].consumer = svc_is_consumer(l, &cfg->services[i]);
	}
	signal(SIGCHLD, on_sigchld);
	/* A reader of our stdout that goes away must not kill the launcher
	 * (and with it, by PDEATHSIG, every service): lines to a closed pipe
	 * are lost, nothing else. */
	signal(SIGPIPE, SIG_IGN);
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
	l->sources_deadline = mono_ns() + START_WAIT_NS;
	int by_signal = run_loop(l);
	stop_all(l);
	bool any_failed = false;
	for (size_t i = 0; i < l->n; i++)
		any_failed |= l->svcs[i].state == SVC_FAILED;
	shmbus_bus_close(l->bus);
	dev_t dev;
	ino_t ino;
	int rc = 0;
	if (cfg->bus.keep || o->keep)
		printf("%s: bus '%s' kept\n", TOOL, l->bus_name);
	else if (ctl_bus_file_id(l->bus_name, &dev, &ino) != 0 || dev != l->bus_dev ||
	         ino != l->bus_ino)
		/* removed under us, and maybe made again by another launcher:
		 * that one is not ours to remove */
		fprintf(stderr, "%s: warning: bus '%s' is no longer the file this launcher made: "
		                "left alone\n", TOOL, l->bus_name);
	else if ((rc = shmbus_bus_destroy(l->bus_name)) == 0)
		printf("%s: bus '%s' removed\n", TOOL, l->bus_name);
	else
		tool_fail(TOOL, "remove the bus", rc);
	return (!by_signal && any_failed) || rc ? CTL_FAIL : CTL_OK;
}

/* A kept bus that differs from the config in `what`: refused. */
static int kept_differs(const char *bus, const char *what, uint64_t has, uint64_t want)
{
	fprintf(stderr,
	        TOOL ": bus '%s' (kept from an earlier run) has %s %llu, the config %llu: "
	        "remove it with `shmbusctl destroy %s` (what its rings hold is lost) or "
	        "give another --bus\n",
	        bus, what, (unsigned long long)has, (unsigned long long)want, bus);
	return CTL_FAIL;
}

/*
 * [bus] keep = true (or --keep) leaves the segment when the launcher stops
 * so that what its rings hold outlives the services; the next `up` takes
 * that bus again instead of failing on "already exists". It must be idle
 * (no live participant but us: another launcher may be running it) and
 * match the config: the same table sizes, and each configured ring of the
 * same geometry (rings the config adds are declared). Returns CTL_OK with
 * l->bus set, CTL_OK with l->bus NULL when there is no such bus, or
 * CTL_FAIL (said why).
 */
static int reuse_kept_bus(struct launcher *l)
{
	const struct shmbus_config *cfg = l->cfg;
	shmbus_bus *bus;
	int rc = shmbus_bus_open(l->bus_name, "shmbusctl", SHMBUS_ROLE_CREATOR, &bus);
	if (rc == -ENOENT)
		return CTL_OK;
	if (rc) {
		char what[160];
		snprintf(what, sizeof(what), "open kept bus '%s'", l->bus_name);
		return tool_fail(TOOL, what, rc);
	}
	struct shmbus_bus_info bi;
	if ((rc = shmbus_stat_bus(bus, &bi)) != 0) {
		shmbus_bus_close(bus);
		return tool_fail(TOOL, "read kept bus", rc);
	}
	for (uint32_t i = 0; i < bi.max_participants; i++) {
		struct shmbus_participant_stat ps;
		if (shmbus_stat_participant(bus, i, &ps) != 0 || !ps.alive || ps.pid == getpid())
			continue;
		fprintf(stderr,
		        TOOL ": bus '%s' (kept from an earlier run) is in use by pid %d ('%s'): "
		        "is another launcher running it?\n",
		        l->bus_name, (int)ps.pid, ps.name);
		shmbus_bus_close(bus);
		return CTL_FAIL;
	}
	/* The dead of the earlier run; only now: on a bus another launcher
	 * runs, it would orphan the ring a restarting consumer waits for. */
	shmbus_bus_reap(bus);
	const struct shmbus_bus_opts *want = &cfg->bus.opts;
	rc = bi.arena_bytes != want->arena_bytes
	         ? kept_differs(l->bus_name, "arena_mb", bi.arena_bytes >> 20, want->arena_bytes >> 20)
	     : bi.max_rings != want->max_rings
	         ? kept_differs(l->bus_name, "max_rings", bi.max_rings, want->max_rings)
	     : bi.max_participants != want->max_participants
	         ? kept_differs(l->bus_name, "max_participants", bi.max_participants,
	                        want->max_participants)
	     : bi.max_producers != want->max_producers
	         ? kept_differs(l->bus_name, "max_producers", bi.max_producers, want->max_producers)
	     : bi.max_symbols != want->max_symbols
	         ? kept_differs(l->bus_name, "max_symbols", bi.max_symbols, want->max_symbols)
	         : CTL_OK;
	size_t declared = 0;
	for (size_t i = 0; rc == CTL_OK && i < cfg->nrings; i++) {
		const struct shmbus_cfg_ring *r = &cfg->rings[i];
		struct shmbus_ring_stat rs;
		int idx = shmbus_stat_find_ring(bus, r->name);
		if (idx < 0) {
			int drc = ctl_declare_ring(bus, r);
			if (drc) {
				char what[256];
				snprintf(what, sizeof(what), "%s:%d: [ring %s]: declare", cfg->path,
				         r->line, r->name);
				rc = tool_fail(TOOL, what, drc);
			}
			declared++;
		} else if (shmbus_stat_ring(bus, (uint32_t)idx, &rs) != 0) {
			continue; /* freed meanwhile: services re-create it */
		} else if (rs.capacity != r->opts.capacity || rs.slot_size != r->opts.slot_size) {
			char what[96];
			snprintf(what, sizeof(what), "ring '%s' with %u slots of %u bytes (config: %u of %u)",
			         r->name, rs.capacity, rs.slot_size, r->opts.capacity, r->opts.slot_size);
			fprintf(stderr,
			        TOOL ": bus '%s' (kept from an earlier run) has %s: remove the ring with "
			        "`shmbusctl ring-remove %s %s` or the bus with `shmbusctl destroy %s`\n",
			        l->bus_name, what, l->bus_name, r->name, l->bus_name);
			rc = CTL_FAIL;
		} else if (rs.types != (r->opts.types ? r->opts.types : ~UINT64_C(1)) ||
		           rs.nsymbols != r->nsymbols || rs.policy != r->opts.policy ||
		           strncmp(rs.group, r->group, sizeof(rs.group)) != 0 ||
		           rs.group_size != (r->opts.group_size ? r->opts.group_size : 0) ||
		           rs.group_member != r->opts.group_member) {
			fprintf(stderr,
			        "%s: warning: ring '%s' of the kept bus keeps the filter, policy and "
			        "group of the earlier run, which differ from the config's (remove it "
			        "with `shmbusctl ring-remove %s %s` to declare it anew)\n",
			        TOOL, r->name, l->bus_name, r->name);
		}
	}
	if (rc != CTL_OK) {
		shmbus_bus_close(bus);
		return rc;
	}
	printf("%s: bus '%s' kept from an earlier run: taken again (%zu rings kept, %zu declared)\n",
	       TOOL, l->bus_name, cfg->nrings - declared, declared);
	l->bus = bus;
	return CTL_OK;
}

int ctl_up(const struct ctl_opts *o, const char *path)
{
	struct shmbus_config *cfg;
	if (ctl_load_config(path, &cfg))
		return CTL_FAIL;
	if (ctl_check_commands(cfg)) {
		shmbus_config_free(cfg);
		return CTL_FAIL;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	struct launcher l = {0};
	if (launcher_init(&l, o, cfg, path)) {
		shmbus_config_free(cfg);
		return tool_fail(TOOL, "init", -ENOMEM);
	}
	int rc = ctl_check_section_buses(TOOL, cfg, l.bus_name);
	if (rc == CTL_OK && l.status_path)
		rc = ctl_check_status_path(TOOL, l.status_path);
	if (rc == CTL_OK && (cfg->bus.keep || o->keep))
		rc = reuse_kept_bus(&l);
	/* What a launcher that was SIGKILLed (OOM, systemd's stop timeout)
	 * left behind: no participant alive. Taken over, or systemd's
	 * Restart= would fail on "already exists" for ever. */
	if (rc == CTL_OK && !l.bus && ctl_remove_dead_bus(l.bus_name) == 1)
		fprintf(stderr, TOOL ": warning: bus '%s' left by an earlier run (no live "
		                     "participant) removed\n", l.bus_name);
	if (rc == CTL_OK && !l.bus && (rc = ctl_build_bus(cfg, l.bus_name, &l.bus)) != CTL_OK)
		fprintf(stderr, TOOL ": (a bus of that name with a live participant, or one that "
		                     "cannot be read, is not taken over: `shmbusctl info %s` shows "
		                     "it, `shmbusctl destroy %s` removes it)\n",
		        l.bus_name, l.bus_name);
	if (rc == CTL_OK) /* --keep as well as [bus] keep */
		shmbus_bus_set_kept(l.bus, cfg->bus.keep || o->keep);
	if (rc == CTL_OK && ctl_bus_file_id(l.bus_name, &l.bus_dev, &l.bus_ino) != 0)
		l.bus_dev = 0, l.bus_ino = 0;
	if (rc == CTL_OK)
		rc = launcher_run(&l, o);
	free(l.svcs);
	shmbus_config_free(cfg);
	return rc;
}
