/*
 * pipeline_proc.c - the pipeline's child processes.
 *
 * Binaries are found relative to the running executable (/proc/self/exe),
 * so a build tree works without installing: first beside it (an installed
 * bin/ folder), then in the sibling folders of the build tree
 * (services/<x>/, src/tools/<x>/). Each child gets its stdout and stderr
 * in <run dir>/<name>.log and dies with the pipeline (PR_SET_PDEATHSIG),
 * so a killed pipeline leaves no service behind.
 *
 * Stopping is SIGTERM (the services drain their ring, flush and write
 * their stats), then SIGKILL for any child that outlives the timeout.
 */
#define _GNU_SOURCE
#include "pipeline.h"

#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int pl_is_exec(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISREG(st.st_mode) && access(path, X_OK) == 0;
}

void pl_default_rules(char *out, size_t n)
{
	char self[PATH_MAX];
	ssize_t len = readlink("/proc/self/exe", self, sizeof(self) - 1);
	char *slash;

	if (len > 0) {
		self[len] = '\0';
		if ((slash = strrchr(self, '/')) != NULL)
			*slash = '\0';
		snprintf(out, n, "%s/../share/shmbus/rules/default.rules", self);
		if (access(out, R_OK) == 0)
			return;
	}
	snprintf(out, n, "%s", SHMBUS_PIPELINE_DEFAULT_RULES);
}

int pl_find_binary(const char *name, char *out, size_t n)
{
	static const char *const patterns[] = {"%s/%s", "%s/../*/%s", "%s/../../src/tools/*/%s",
	                                       "%s/../../*/*/%s"};
	char self[PATH_MAX], pat[PATH_MAX + 64];
	ssize_t len = readlink("/proc/self/exe", self, sizeof(self) - 1);
	char *slash;

	if (len <= 0)
		return -errno;
	self[len] = '\0';
	if ((slash = strrchr(self, '/')) != NULL)
		*slash = '\0';
	for (size_t i = 0; i < sizeof(patterns) / sizeof(patterns[0]); i++) {
		glob_t g;
		snprintf(pat, sizeof(pat), patterns[i], self, name);
		if (glob(pat, 0, NULL, &g) != 0)
			continue;
		for (size_t k = 0; k < g.gl_pathc; k++) {
			char real[PATH_MAX];
			if (pl_is_exec(g.gl_pathv[k]) && realpath(g.gl_pathv[k], real)) {
				snprintf(out, n, "%s", real);
				globfree(&g);
				return 0;
			}
		}
		globfree(&g);
	}
	return -ENOENT;
}

/* In the child: the default action for the stop signals (the pipeline's
 * handler, inherited, would take a SIGTERM sent before the exec and the
 * stage would never see it), output to the log, die with the parent,
 * exec. @mask: the signal mask to restore. */
static void pl_exec_child(const struct pl_child *c, char *const argv[], pid_t parent,
                          const sigset_t *mask)
{
	signal(SIGTERM, SIG_DFL);
	signal(SIGINT, SIG_DFL);
	sigprocmask(SIG_SETMASK, mask, NULL); /* a stop sent since the fork acts now */
	int fd = open(c->log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

	if (fd >= 0) {
		dup2(fd, STDOUT_FILENO);
		dup2(fd, STDERR_FILENO);
	}
	prctl(PR_SET_PDEATHSIG, SIGTERM);
	if (getppid() != parent)
		_exit(127); /* the pipeline died before we got here */
	execv(c->bin, argv);
	fprintf(stderr, PL_TOOL ": exec %s failed: %s\n", c->bin, strerror(errno));
	_exit(127);
}

int pl_start(struct pipeline *p, enum pl_child_id id, char *const argv[])
{
	struct pl_child *c = &p->child[id];
	pid_t parent = getpid();
	sigset_t stop, old;
	pid_t pid;
	int err;

	/* Held from the fork until the child has dropped our handler. */
	sigemptyset(&stop);
	sigaddset(&stop, SIGTERM);
	sigaddset(&stop, SIGINT);
	fflush(NULL);
	sigprocmask(SIG_BLOCK, &stop, &old);
	pid = fork();
	err = errno;
	if (pid == 0)
		pl_exec_child(c, argv, parent, &old);
	sigprocmask(SIG_SETMASK, &old, NULL);
	if (pid < 0)
		return -err;
	c->pid = pid;
	c->started = 1;
	c->exited = 0;
	return 0;
}

/* Collect every child that exited, without blocking. */
void pl_reap(struct pipeline *p)
{
	for (int i = 0; i < PL_NCHILD; i++) {
		struct pl_child *c = &p->child[i];
		int st;
		if (c->pid > 0 && waitpid(c->pid, &st, WNOHANG) == c->pid) {
			c->status = st;
			c->exited = 1;
			c->pid = 0;
		}
	}
}

void pl_stop(struct pipeline *p, enum pl_child_id id)
{
	struct pl_child *c = &p->child[id];

	if (c->pid > 0 && !c->stopping) {
		kill(c->pid, SIGTERM);
		kill(c->pid, SIGCONT); /* a stopped child handles SIGTERM only once continued */
		c->stopping = 1;
	}
}

void pl_wait_stopped(struct pipeline *p, double grace_s)
{
	int64_t deadline = shmbus_mono_ns() + (int64_t)(grace_s * 1e9);

	for (;;) {
		int running = 0;
		pl_reap(p);
		for (int i = 0; i < PL_NCHILD; i++)
			running += p->child[i].pid > 0;
		if (!running)
			return;
		if (shmbus_mono_ns() > deadline) {
			for (int i = 0; i < PL_NCHILD; i++) {
				struct pl_child *c = &p->child[i];
				if (c->pid <= 0)
					continue;
				tool_proc_describe(c->pid, c->stuck, sizeof(c->stuck));
				fprintf(stderr,
				        PL_TOOL ": %s (pid %d) still running %g s after SIGTERM, "
				                "SIGKILL: %s\n",
				        c->name, (int)c->pid, grace_s, c->stuck);
			}
			pl_kill_all(p);
			return;
		}
		/* The tap must keep draining: a service blocked on a full tap
		 * ring could not finish its own drain. */
		pl_tap_poll(p);
		usleep(2000);
	}
}

void pl_kill_all(struct pipeline *p)
{
	for (int i = 0; i < PL_NCHILD; i++) {
		struct pl_child *c = &p->child[i];
		if (c->pid > 0) {
			kill(c->pid, SIGKILL);
			if (waitpid(c->pid, &c->status, 0) == c->pid)
				c->exited = 1;
			c->pid = 0;
		}
	}
}

int pl_child_ok(const struct pl_child *c)
{
	return !c->started ||
	       (c->exited && WIFEXITED(c->status) &&
	        (WEXITSTATUS(c->status) == 0 ||
	         (c->done_status && WEXITSTATUS(c->status) == c->done_status)));
}

const char *pl_exit_text(int status, char *buf, size_t n)
{
	if (WIFEXITED(status))
		snprintf(buf, n, "exited with status %d", WEXITSTATUS(status));
	else if (WIFSIGNALED(status))
		snprintf(buf, n, "killed by signal %d (%s)", WTERMSIG(status),
		         strsignal(WTERMSIG(status)));
	else
		snprintf(buf, n, "wait status %#x", (unsigned)status);
	return buf;
}

void pl_print_log_tail(const struct pl_child *c, FILE *f)
{
	char *text = NULL;
	size_t len = 0;
	const char *from;
	int lines = 0;

	if (!c->started || shmbus_svc_read_file(c->log, &text, &len) != 0)
		return;
	from = text + len;
	while (from > text && lines <= 10)
		if (*--from == '\n')
			lines++;
	if (from > text)
		from++;
	fprintf(f, "--- last lines of %s:\n%s%s", c->log, from,
	        len && text[len - 1] != '\n' ? "\n" : "");
	free(text);
}

/* Whether ring @name exists with a live consumer attached. */
static int pl_ring_active(shmbus_bus *bus, const char *name)
{
	struct shmbus_ring_stat rs;
	int idx = shmbus_stat_find_ring(bus, name);

	return idx >= 0 && shmbus_stat_ring(bus, (uint32_t)idx, &rs) == 0 &&
	       rs.state == SHMBUS_RING_ACTIVE;
}

int pl_wait_rings(struct pipeline *p, const char *const *rings, int n, double timeout_s)
{
	int64_t deadline = shmbus_mono_ns() + (int64_t)(timeout_s * 1e9);

	for (;;) {
		int ready = 0;
		for (int i = 0; i < n; i++)
			ready += pl_ring_active(p->bus, rings[i]);
		if (ready == n)
			return 0;
		pl_reap(p);
		for (int i = 0; i < PL_NCHILD; i++)
			if (p->child[i].started && p->child[i].exited) {
				char how[64];
				snprintf(p->fail_msg, sizeof(p->fail_msg),
				         "%s ended before subscribing (%s)", p->child[i].name,
				         pl_exit_text(p->child[i].status, how, sizeof(how)));
				return -ECHILD;
			}
		if (shmbus_mono_ns() > deadline) {
			snprintf(p->fail_msg, sizeof(p->fail_msg),
			         "services did not subscribe within %.0f s", timeout_s);
			return -ETIMEDOUT;
		}
		usleep(5000);
	}
}
