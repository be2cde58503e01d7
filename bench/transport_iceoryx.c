/*
 * transport_iceoryx.c - the round trip over iceoryx (C binding): A
 * publishes the trade on service ("shmbus-bench", <run-round>, "ping") and
 * takes the reply from "pong"; B subscribes to "ping" and publishes each
 * message back on "pong". Chunks are loaned from iceoryx's shared memory
 * and the 56 bytes written into them in place (zero copy, as iceoryx is
 * meant to be used). Under --wait spin both sides poll
 * iox_sub_take_chunk; otherwise they sleep in a waitset on the
 * subscriber's HAS_DATA state.
 *
 * iceoryx needs its broker, the iox-roudi daemon, for discovery and to
 * own the shared memory. run_init uses one that already runs (its
 * socket /tmp/roudi answers); else it starts iox-roudi with a small
 * config (one pool of 256-byte chunks) in $TMPDIR, waits until it answers
 * and stops it in run_fini. The daemon gets SIGTERM should this process
 * die first (PR_SET_PDEATHSIG).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <iceoryx_binding_c/enums.h>
#include <iceoryx_binding_c/log.h>
#include <iceoryx_binding_c/publisher.h>
#include <iceoryx_binding_c/runtime.h>
#include <iceoryx_binding_c/subscriber.h>
#include <iceoryx_binding_c/types.h>
#include <iceoryx_binding_c/wait_set.h>

#include "bench.h"
#include "transport.h"

#define IOX_ROUDI_SOCKET "/tmp/roudi"
#define IOX_SERVICE      "shmbus-bench"
#define IOX_CONNECT_WAIT 10 /* s: for iox-roudi, and for both sides to connect */

static pid_t iox_roudi_pid;
static char iox_roudi_cfg[256], iox_roudi_log[256];

static void iox_sleep_ms(int ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000};

	nanosleep(&ts, NULL);
}

/* Whether a RouDi answers on its well-known datagram socket. */
static int iox_roudi_alive(void)
{
	struct sockaddr_un a;
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0), ok;

	if (fd < 0)
		return 0;
	memset(&a, 0, sizeof(a));
	a.sun_family = AF_UNIX;
	snprintf(a.sun_path, sizeof(a.sun_path), "%s", IOX_ROUDI_SOCKET);
	ok = connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0;
	close(fd);
	return ok;
}

static int iox_write_config(void)
{
	static const char cfg[] = "[general]\nversion = 1\n\n[[segment]]\n\n"
	                          "[[segment.mempool]]\nsize = 256\ncount = 1024\n";
	const char *dir = getenv("TMPDIR");
	FILE *f;

	dir = dir && dir[0] ? dir : "/tmp";
	snprintf(iox_roudi_cfg, sizeof(iox_roudi_cfg), "%s/shmbus-bench-roudi-%ld.toml", dir,
	         (long)getpid());
	snprintf(iox_roudi_log, sizeof(iox_roudi_log), "%s/shmbus-bench-roudi-%ld.log", dir,
	         (long)getpid());
	f = fopen(iox_roudi_cfg, "w");
	if (!f || fputs(cfg, f) < 0 || fclose(f) != 0) {
		bench_err("iceoryx: write RouDi config", "%s: %s", iox_roudi_cfg, strerror(errno));
		return -EIO;
	}
	return 0;
}

/* In the forked child: a clean signal state, output to the log, exec. */
static void iox_exec_roudi(void)
{
	sigset_t none;
	int fd = open(iox_roudi_log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL); /* the bench parent blocks some */
	prctl(PR_SET_PDEATHSIG, SIGTERM);
	if (fd >= 0) {
		dup2(fd, STDOUT_FILENO);
		dup2(fd, STDERR_FILENO);
	}
	execlp("iox-roudi", "iox-roudi", "-c", iox_roudi_cfg, "-l", "warning", (char *)NULL);
	fprintf(stderr, "exec iox-roudi: %s\n", strerror(errno));
	_exit(127);
}

/* The last non-empty line RouDi wrote to its log, for an error message. */
static void iox_last_line(char *buf, size_t len)
{
	FILE *f = fopen(iox_roudi_log, "r");
	char line[200];

	snprintf(buf, len, "no output");
	while (f && fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\n")] = '\0';
		if (line[0])
			snprintf(buf, len, "%s", line);
	}
	if (f)
		fclose(f);
}

/*
 * A RouDi that still lists a process that is gone (a side killed by the
 * watchdog or by Ctrl-C) aborts in its SIGTERM shutdown and leaves its
 * socket, locks and shared memory behind; this run started it, so this
 * run removes them: the management segment and the payload segment,
 * which RouDi names after the user.
 */
static void iox_roudi_leftovers(void)
{
	struct passwd *pw = getpwuid(geteuid());
	char path[300];

	unlink(IOX_ROUDI_SOCKET);
	unlink(IOX_ROUDI_SOCKET ".lock");
	unlink("/tmp/iox-unique-roudi.lock");
	shm_unlink("iceoryx_mgmt");
	if (pw && pw->pw_name) {
		snprintf(path, sizeof(path), "%s", pw->pw_name);
		shm_unlink(path);
	}
}

static void iox_run_fini(void)
{
	int status = 0;

	if (iox_roudi_pid > 0) {
		kill(iox_roudi_pid, SIGTERM);
		/* RouDi tears its shared memory down on SIGTERM; give it time. */
		for (int i = 0; i < 100; i++) {
			if (waitpid(iox_roudi_pid, &status, WNOHANG) == iox_roudi_pid) {
				iox_roudi_pid = 0;
				break;
			}
			iox_sleep_ms(50);
		}
		if (iox_roudi_pid > 0) {
			kill(iox_roudi_pid, SIGKILL);
			waitpid(iox_roudi_pid, &status, 0);
			iox_roudi_pid = 0;
		}
		if (!WIFEXITED(status))
			iox_roudi_leftovers();
		unlink(iox_roudi_log);
	}
	if (iox_roudi_cfg[0])
		unlink(iox_roudi_cfg);
	iox_roudi_cfg[0] = '\0';
}

static int iox_run_init(const struct bench_opts *o)
{
	int status;

	if (iox_roudi_alive())
		return 0;
	if (iox_write_config() < 0)
		return -EIO;
	iox_roudi_pid = fork();
	if (iox_roudi_pid < 0) {
		bench_err("iceoryx: fork for iox-roudi", "%s", strerror(errno));
		iox_roudi_pid = 0;
		iox_run_fini();
		return -EAGAIN;
	}
	if (iox_roudi_pid == 0)
		iox_exec_roudi();
	for (int i = 0; i < IOX_CONNECT_WAIT * 20; i++) {
		if (iox_roudi_alive())
			return 0;
		if (waitpid(iox_roudi_pid, &status, WNOHANG) == iox_roudi_pid) {
			char said[200];

			iox_last_line(said, sizeof(said));
			bench_err(
			    "iceoryx: start iox-roudi",
			    "it exited with status %d: %s (is the iceoryx package installed?)",
			    WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status), said);
			iox_roudi_pid = 0;
			unlink(iox_roudi_log);
			iox_run_fini();
			return -ECHILD;
		}
		iox_sleep_ms(50);
	}
	{
		char said[200];

		iox_last_line(said, sizeof(said));
		bench_err("iceoryx: start iox-roudi", "%s did not answer within %d s; it said: %s",
		          IOX_ROUDI_SOCKET, IOX_CONNECT_WAIT, said);
	}
	iox_run_fini();
	return -ETIMEDOUT;
}

/* One side's publisher, subscriber and (for non-spin waits) waitset. */
struct iox_side {
	iox_pub_storage_t pub_storage;
	iox_sub_storage_t sub_storage;
	iox_ws_storage_t ws_storage;
	iox_pub_t pub;
	iox_sub_t sub;
	iox_ws_t ws;
};

/* Runtime, publisher on `out`, subscriber on `in`; then wait until both
 * are connected to the other side's, so that no message is lost. */
static int iox_side_open(struct tr_round *r, struct iox_side *s, const char *side, const char *out,
                         const char *in)
{
	iox_pub_options_t po;
	iox_sub_options_t so;
	char name[96], instance[64];

	snprintf(name, sizeof(name), "shmbus-bench-%s-%s", side, r->tag);
	snprintf(instance, sizeof(instance), "r%s", r->tag);
	iox_set_loglevel(Iceoryx_LogLevel_Warn);
	iox_runtime_init(name);
	iox_pub_options_init(&po);
	po.historyCapacity = 0;
	po.subscriberTooSlowPolicy = ConsumerTooSlowPolicy_WAIT_FOR_CONSUMER;
	s->pub = iox_pub_init(&s->pub_storage, IOX_SERVICE, instance, out, &po);
	iox_sub_options_init(&so);
	so.queueCapacity = 16;
	so.queueFullPolicy = QueueFullPolicy_BLOCK_PRODUCER;
	s->sub = iox_sub_init(&s->sub_storage, IOX_SERVICE, instance, in, &so);
	s->ws = NULL;
	if (r->o->wait != SHMBUS_WAIT_SPIN) {
		s->ws = iox_ws_init(&s->ws_storage);
		if (iox_ws_attach_subscriber_state(s->ws, s->sub, SubscriberState_HAS_DATA, 0,
		                                   NULL) != WaitSetResult_SUCCESS)
			return tr_fail(r, side, "attach the subscriber to a waitset",
			               "iox_ws_attach_subscriber_state failed");
	}
	for (int i = 0; i < IOX_CONNECT_WAIT * 1000; i++) {
		if (iox_sub_get_subscription_state(s->sub) == SubscribeState_SUBSCRIBED &&
		    iox_pub_has_subscribers(s->pub))
			return 0;
		iox_sleep_ms(1);
	}
	return tr_fail(r, side, "connect",
	               "the other side's publisher or subscriber did not "
	               "appear within 10 s");
}

/*
 * Close everything and leave through exit(), not the _exit() that the
 * bench's children otherwise end with: the runtime deregisters from RouDi
 * and removes its socket file in a static destructor, and a RouDi that
 * still lists an exited process aborts when it shuts down. (exit() is
 * safe in the child: the bus's atexit handler acts only in its creator.)
 */
static _Noreturn void iox_side_exit(struct iox_side *s, int rc)
{
	if (s->ws)
		iox_ws_deinit(s->ws);
	iox_sub_deinit(s->sub);
	iox_pub_deinit(s->pub);
	iox_runtime_shutdown();
	exit(rc);
}

/* Take the next chunk from the subscriber, polling or in the waitset. */
static const void *iox_take(struct tr_round *r, struct iox_side *s)
{
	const void *p;
	iox_notification_info_t info[1];
	uint64_t missed;

	while (iox_sub_take_chunk(s->sub, &p) != ChunkReceiveResult_SUCCESS) {
		if (s->ws)
			iox_ws_wait(s->ws, info, 1, &missed);
		else
			tr_idle(r);
	}
	return p;
}

/* Loan a chunk, write t into it, publish it. Returns 0 or -ENOMEM. */
static int iox_send(struct iox_side *s, const struct shmbus_trade *t)
{
	void *p;

	if (iox_pub_loan_chunk(s->pub, &p, sizeof(*t)) != AllocationResult_SUCCESS)
		return -ENOMEM;
	memcpy(p, t, sizeof(*t));
	iox_pub_publish_chunk(s->pub, p);
	return 0;
}

static int iox_side_a(struct tr_round *r)
{
	struct iox_side s;
	struct shmbus_trade t, back;
	int rc = 0;

	if (iox_side_open(r, &s, "a", "ping", "pong") == 0 && tr_ready(r) == 0) {
		tr_msg_init(&t);
		for (uint64_t i = 0; i < tr_total(r); i++) {
			uint64_t t0 = bench_ticks(&r->o->clock), t1;
			const void *p;

			t.h.seq = i + 1;
			t.price = (double)i;
			if (iox_send(&s, &t) < 0) {
				rc = tr_fail(r, "a", "loan a chunk", "the pool is exhausted");
				break;
			}
			p = iox_take(r, &s);
			memcpy(&back, p, sizeof(back));
			iox_sub_release_chunk(s.sub, p);
			t1 = bench_ticks(&r->o->clock);
			tr_sample(r, i, t0, t1, &back);
		}
	} else {
		rc = 1;
	}
	iox_side_exit(&s, rc);
}

static int iox_side_b(struct tr_round *r)
{
	struct iox_side s;
	int rc = 0;

	if (iox_side_open(r, &s, "b", "pong", "ping") == 0 && tr_ready(r) == 0) {
		for (uint64_t i = 0; i < tr_total(r); i++) {
			const void *p = iox_take(r, &s);
			int sent = iox_send(&s, p);

			iox_sub_release_chunk(s.sub, p);
			if (sent < 0) {
				rc = tr_fail(r, "b", "loan a chunk", "the pool is exhausted");
				break;
			}
		}
	} else {
		rc = 1;
	}
	iox_side_exit(&s, rc);
}

/* A side killed by the watchdog leaves its runtime's socket file. */
static void iox_teardown(struct tr_round *r)
{
	static const char *const sides[] = {"a", "b"};
	char path[160];

	for (int i = 0; i < 2; i++) {
		snprintf(path, sizeof(path), "/tmp/shmbus-bench-%s-%s", sides[i], r->tag);
		unlink(path);
		snprintf(path, sizeof(path), "/tmp/shmbus-bench-%s-%s.lock", sides[i], r->tag);
		unlink(path);
	}
}

const struct bench_transport bench_tr_iceoryx = {
    .name = "iceoryx",
    .what = "iceoryx publisher/subscriber pairs (C binding), loaned chunks, iox-roudi",
    .run_init = iox_run_init,
    .run_fini = iox_run_fini,
    .side_a = iox_side_a,
    .side_b = iox_side_b,
    .teardown = iox_teardown,
};
