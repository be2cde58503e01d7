/*
 * bridge_nats.c - NATS JetStream sink (cnats).
 *
 * Publishes are asynchronous (js_PublishMsgAsync) with the event identity
 * "source:seq" in the Nats-Msg-Id header, so a resend after a failure or
 * a restart is dropped by the stream's duplicate window. cnats calls the
 * ack handler on its own thread: the handler only parses the id and
 * queues (source, seq, err) under a mutex; the core's thread takes the
 * queue in poll(). The connection is made with RetryOnFailedConnect and a
 * connected callback: with that callback natsConnection_Connect returns
 * NATS_NOT_YET_CONNECTED at once when no server answers and cnats keeps
 * trying in the background (without it, cnats retries inside the call
 * and the bridge's thread hangs there, deaf to SIGTERM). Every reconnect
 * waits an exponential, jittered delay (custom reconnect delay callback).
 * The stream is looked up (and created when allowed) once connected, at
 * most once per NATS_LOOKUP_MIN_NS and with backoff while that fails; a
 * publish that finds no stream (no responders, stream not found) makes
 * the sink look it up again, so a deleted stream is created anew. While
 * disconnected, send() refuses (-EAGAIN) rather than filling cnats's
 * reconnect buffer, so that the core can resend in order.
 *
 * Diagnostics go to stderr, one line per change of state: connection
 * lost and regained, asynchronous errors, why the stream is not usable.
 * A publish the broker refuses is printed with its JetStream error: the
 * first at once, then at most one line per NATS_REPORT_NS with a count.
 * cnats's callbacks run on its threads; they print only what concerns
 * the connection, and leave refused publishes to poll() on the core's.
 */
#include "bridge_sink.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <nats/nats.h>

#define NATS_LOG_PREFIX    "shmbus-bridge: nats: "
#define NATS_REPORT_NS     (5 * 1000000000LL) /* refused publishes: one line per 5 s */
#define NATS_LOOKUP_MIN_NS 1000000000LL       /* stream lookups: at most one a second */
#define NATS_CLOSE_WAIT_S  2                  /* destroy waits this long for cnats's closed cb */

enum { NATS_CONN_UNKNOWN, NATS_CONN_UP, NATS_CONN_DOWN };

struct nats_ack {
	uint32_t source;
	uint64_t seq;
	int err;
};

struct nats_sink {
	struct bridge_sink base;
	struct bridge_nats_config cfg;
	natsOptions *opts;
	natsConnection *nc;
	jsCtx *js;
	pthread_mutex_t mu;
	pthread_cond_t closed_cv;
	int closed;              /* under mu: cnats's closed callback has run */
	struct nats_ack *q, *q2; /* pending acks / swap buffer */
	size_t qn, qcap, q2cap;
	int q_dropped; /* under mu: an ack found no room in q (out of memory) */
	/* Refused publishes not yet reported, and the latest one (under mu). */
	uint64_t nack_n;
	int nack_code;
	char nack_text[160], nack_subject[128];
	/* Asynchronous errors: the last printed and how many since (under mu). */
	natsStatus aerr_last;
	int64_t aerr_ns;
	uint64_t aerr_quiet;
	atomic_uint_fast64_t reconnects;
	atomic_int conn_state;  /* NATS_CONN_*: what was printed last */
	atomic_int closing;     /* destroy() began: the disconnect is ours */
	atomic_int stream_lost; /* a publish found no stream (ack handler) */
	/* The core's thread only. */
	int stream_ready;
	int dup_warned; /* the stream's short duplicate window was said */
	uint32_t lookup_attempt;
	int64_t lookup_at_ns; /* no stream lookup before this */
	int64_t nack_next_ns; /* no refused-publish line before this */
	natsStatistics *stats;   /* for cnats's reconnect count */
	uint64_t conn_gen;       /* cnats's reconnect count when the core last heard of a loss */
	int nack_reported;
	char why[256];          /* why the stream is not usable, as printed; "" when it is */
	char lost_subject[128]; /* a publish to it found no stream; "" when none */
	char mismatch[256];     /* the stream's subjects last said not to take it */
	char url_safe[256];     /* cfg.url without user:password */
	char subject_filter[256];
};

static void nats_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* One line to stderr, in one write so that threads do not interleave. */
static void nats_log(const char *fmt, ...)
{
	char line[768];
	va_list ap;
	int n = snprintf(line, sizeof line, "%s", NATS_LOG_PREFIX);
	va_start(ap, fmt);
	vsnprintf(line + n, sizeof line - (size_t)n - 1, fmt, ap);
	va_end(ap);
	strcat(line, "\n");
	fputs(line, stderr);
}

static int64_t nats_mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* cnats's thread-local last error without its "(file.c:123): " prefix. */
static const char *nats_last_text(void)
{
	const char *t = nats_GetLastError(NULL);
	const char *e = t != NULL && t[0] == '(' ? strstr(t, "): ") : NULL;
	return t == NULL ? "" : e != NULL ? e + 3 : t;
}

/* url with any "user:password@" shown as "***@", for messages. */
static void nats_url_redact(const char *url, char *buf, size_t len)
{
	size_t o = 0;
	buf[0] = '\0';
	for (const char *p = url; o + 1 < len;) {
		size_t n = strcspn(p, ",");
		const char *host = strstr(p, "://"), *at = NULL;
		host = host != NULL && host < p + n ? host + 3 : p;
		for (const char *c = host; c < p + n; c++)
			if (*c == '@')
				at = c;
		if (at != NULL)
			o += (size_t)snprintf(buf + o, len - o, "%.*s***%.*s", (int)(host - p), p,
			                      (int)(p + n - at), at);
		else
			o += (size_t)snprintf(buf + o, len - o, "%.*s", (int)n, p);
		if (p[n] == '\0' || o + 1 >= len)
			break;
		buf[o++] = ',';
		buf[o] = '\0';
		p += n + 1;
	}
}

/* What cnats's parser lets through but can never connect to: an empty
 * server, a host with several ':' outside [], a port that is not
 * 1..65535 ("notaurl:::" would otherwise be retried forever). */
static int nats_check_url(const char *url, char *why, size_t len)
{
	const char *p = url != NULL ? url : "";
	for (;;) {
		char one[512], *h, *port = NULL;
		size_t n = strcspn(p, ",");
		if (n >= sizeof one) {
			snprintf(why, len, "server longer than %zu characters", sizeof one - 1);
			return -EINVAL;
		}
		memcpy(one, p, n);
		one[n] = '\0';
		for (h = one; *h == ' ' || *h == '\t'; h++)
			;
		for (char *e = h + strlen(h); e > h && (e[-1] == ' ' || e[-1] == '\t');)
			*--e = '\0';
		if (strstr(h, "://") != NULL)
			h = strstr(h, "://") + 3;
		if (strrchr(h, '@') != NULL)
			h = strrchr(h, '@') + 1;
		h[strcspn(h, "/")] = '\0';
		if (h[0] == '[') {
			char *rb = strchr(h, ']');
			if (rb == NULL || (rb[1] != '\0' && rb[1] != ':')) {
				snprintf(why, len,
				         "an IPv6 address must read [address] or [address]:port");
				return -EINVAL;
			}
			port = rb[1] == ':' ? rb + 2 : NULL;
		} else if (strchr(h, ':') != NULL) {
			port = strchr(h, ':');
			*port++ = '\0';
			if (strchr(port, ':') != NULL) {
				snprintf(why, len,
				         "more than one ':' after the host (IPv6: [address]:port)");
				return -EINVAL;
			}
		}
		if (h[0] == '\0') {
			snprintf(why, len, "a server without a host");
			return -EINVAL;
		}
		if (port != NULL) {
			char *end = NULL;
			long v = strtol(port, &end, 10);
			if (port[0] < '0' || port[0] > '9' || *end != '\0' || v < 1 || v > 65535) {
				snprintf(why, len, "port '%s' is not a number 1..65535", port);
				return -EINVAL;
			}
		}
		if (p[n] == '\0')
			return 0;
		p += n + 1;
	}
}

/* cnats reads the .creds file only when it connects, so a missing one
 * would be retried forever in the background: check it is readable. */
static int nats_check_creds(const char *path, char *why, size_t len)
{
	FILE *f = fopen(path, "r");
	int c = f != NULL ? fgetc(f) : EOF;
	int rc = 0;
	if (f == NULL || ferror(f)) {
		snprintf(why, len, "%s", strerror(errno));
		rc = -EINVAL;
	} else if (c == EOF) {
		snprintf(why, len, "the file is empty");
		rc = -EINVAL;
	}
	if (f != NULL)
		fclose(f);
	return rc;
}

/* Record a refused publish for poll() to print; a publish that found no
 * stream makes the core's thread look the stream up again. */
static void nats_note_nack(struct nats_sink *s, natsMsg *msg, const jsPubAckErr *pae)
{
	const char *subject = natsMsg_GetSubject(msg);
	if (pae->Err == NATS_NO_RESPONDERS || pae->ErrCode == JSStreamNotFoundErr)
		atomic_store(&s->stream_lost, 1);
	s->nack_n++;
	s->nack_code = (int)pae->ErrCode;
	if (pae->Err == NATS_NO_RESPONDERS)
		snprintf(s->nack_text, sizeof s->nack_text,
		         "no stream takes this subject (stream %s deleted, or the subject is "
		         "outside its subjects)",
		         s->cfg.stream);
	else
		snprintf(s->nack_text, sizeof s->nack_text, "%s",
		         pae->ErrText != NULL && pae->ErrText[0] != '\0'
		             ? pae->ErrText
		             : natsStatus_GetText(pae->Err));
	snprintf(s->nack_subject, sizeof s->nack_subject, "%s", subject != NULL ? subject : "?");
}

static void nats_ack_cb(jsCtx *js, natsMsg *msg, jsPubAck *pa, jsPubAckErr *pae, void *closure)
{
	struct nats_sink *s = closure;
	const char *id = NULL;
	struct nats_ack a = {0};
	(void)js;
	if (natsMsgHeader_Get(msg, "Nats-Msg-Id", &id) == NATS_OK && id != NULL &&
	    sscanf(id, "%" SCNu32 ":%" SCNu64, &a.source, &a.seq) == 2) {
		a.err = (pa != NULL && pae == NULL) ? 0 : -EIO;
		pthread_mutex_lock(&s->mu);
		if (pae != NULL)
			nats_note_nack(s, msg, pae);
		if (s->qn == s->qcap) {
			size_t ncap = s->qcap ? s->qcap * 2 : 1024;
			struct nats_ack *nq = realloc(s->q, ncap * sizeof *nq);
			if (nq != NULL) {
				s->q = nq;
				s->qcap = ncap;
			}
		}
		if (s->qn < s->qcap)
			s->q[s->qn++] = a;
		else /* no timeout brings it back: poll() reports every ack lost */
			s->q_dropped = 1;
		pthread_mutex_unlock(&s->mu);
	}
	natsMsg_Destroy(msg);
}

static int64_t nats_reconnect_delay(natsConnection *nc, int attempts, void *closure)
{
	struct nats_sink *s = closure;
	(void)nc;
	return bridge_backoff_ms((uint32_t)(attempts > 0 ? attempts - 1 : 0),
	                         s->cfg.reconnect_base_ms, s->cfg.reconnect_max_ms);
}

/* Print a connection state once, when it changes (cnats's thread). */
static void nats_conn_state(struct nats_sink *s, natsConnection *nc, int state, const char *verb)
{
	char url[256] = "", safe[256];
	if (atomic_load(&s->closing) || atomic_exchange(&s->conn_state, state) == state)
		return;
	if (state == NATS_CONN_DOWN) {
		nats_log("lost the connection to %s: reconnecting in the background "
		         "(backoff %" PRId64 "..%" PRId64 " ms); not sending meanwhile",
		         s->url_safe, s->cfg.reconnect_base_ms, s->cfg.reconnect_max_ms);
		return;
	}
	if (nc == NULL || natsConnection_GetConnectedUrl(nc, url, sizeof url) != NATS_OK ||
	    url[0] == '\0')
		snprintf(url, sizeof url, "%s", s->cfg.url);
	nats_url_redact(url, safe, sizeof safe);
	nats_log("%s to %s", verb, safe);
}

static void nats_connected_cb(natsConnection *nc, void *closure)
{
	nats_conn_state(closure, nc, NATS_CONN_UP, "connected");
}

static void nats_reconnected_cb(natsConnection *nc, void *closure)
{
	struct nats_sink *s = closure;
	atomic_fetch_add(&s->reconnects, 1);
	nats_conn_state(s, nc, NATS_CONN_UP, "reconnected");
}

static void nats_disconnected_cb(natsConnection *nc, void *closure)
{
	nats_conn_state(closure, nc, NATS_CONN_DOWN, "lost");
}

static void nats_closed_cb(natsConnection *nc, void *closure)
{
	struct nats_sink *s = closure;
	(void)nc;
	if (!atomic_load(&s->closing))
		nats_log("connection to %s closed: not sending any more", s->url_safe);
	pthread_mutex_lock(&s->mu);
	s->closed = 1;
	pthread_cond_broadcast(&s->closed_cv);
	pthread_mutex_unlock(&s->mu);
}

/* Asynchronous errors (permissions, slow consumer): the first of a kind
 * at once, a repeat at most once per NATS_REPORT_NS with a count. */
static void nats_error_cb(natsConnection *nc, natsSubscription *sub, natsStatus err, void *closure)
{
	struct nats_sink *s = closure;
	const char *detail = NULL;
	int64_t now = nats_mono_ns();
	uint64_t quiet;
	(void)sub;
	pthread_mutex_lock(&s->mu);
	if (err == s->aerr_last && now < s->aerr_ns + NATS_REPORT_NS) {
		s->aerr_quiet++;
		pthread_mutex_unlock(&s->mu);
		return;
	}
	quiet = s->aerr_quiet;
	s->aerr_quiet = 0;
	s->aerr_last = err;
	s->aerr_ns = now;
	pthread_mutex_unlock(&s->mu);
	if (natsConnection_GetLastError(nc, &detail) == NATS_OK || detail == NULL)
		detail = "";
	if (quiet > 0)
		nats_log("asynchronous error: %s%s%s (%s; %" PRIu64 " more since the last report)",
		         natsStatus_GetText(err), detail[0] ? ": " : "", detail, s->url_safe,
		         quiet);
	else
		nats_log("asynchronous error: %s%s%s (%s)", natsStatus_GetText(err),
		         detail[0] ? ": " : "", detail, s->url_safe);
}

/* Stream subjects: the template with every token that holds a
 * {placeholder} as '*'. NATS takes '*' as a wildcard only as a whole
 * token: "md.{type}-{symbol}" as "md.*-*" made a stream of that literal
 * subject, which none of the bridge's publishes matched. Expanded values
 * hold no '.' (bridge_expand_template), so a token stays one token. */
static void nats_subject_filter(const char *tpl, char *buf, size_t len)
{
	size_t o = 0;
	for (const char *p = tpl; *p != '\0' && o + 2 < len;) {
		size_t n = strcspn(p, ".");
		if (memchr(p, '{', n) != NULL)
			buf[o++] = '*';
		else
			o += (size_t)snprintf(buf + o, len - o, "%.*s", (int)n, p);
		if (o + 2 >= len || p[n] == '\0')
			break;
		buf[o++] = '.';
		p += n + 1;
	}
	buf[o < len ? o : len - 1] = '\0';
}

/* The stream cannot be used: say why, once per reason. */
static int nats_stream_down(struct nats_sink *s, int rc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int nats_stream_down(struct nats_sink *s, int rc, const char *fmt, ...)
{
	char why[sizeof s->why];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(why, sizeof why, fmt, ap);
	va_end(ap);
	if (strcmp(why, s->why) != 0) {
		nats_log("%s", why);
		memcpy(s->why, why, sizeof why);
	}
	return rc;
}

static int nats_stream_up(struct nats_sink *s)
{
	if (s->why[0] != '\0')
		nats_log("stream %s is there now: sending", s->cfg.stream);
	s->why[0] = '\0';
	s->stream_ready = 1;
	return 0;
}

/* A publish to lost_subject found no stream, yet the stream is there:
 * most likely its subjects do not take ours. Said once per subjects. */
static void nats_check_subjects(struct nats_sink *s, const jsStreamInfo *si)
{
	char subjects[sizeof s->mismatch] = "";
	size_t o = 0;
	for (int i = 0;
	     si->Config != NULL && i < si->Config->SubjectsLen && o + 1 < sizeof subjects; i++)
		o += (size_t)snprintf(subjects + o, sizeof subjects - o, "%s%s", i ? " " : "",
		                      si->Config->Subjects[i]);
	if (strcmp(subjects, s->mismatch) != 0)
		nats_log("stream %s exists but took no publish to %s: its subjects are '%s' "
		         "(check --nats-subject %s)",
		         s->cfg.stream, s->lost_subject, subjects, s->cfg.subject);
	memcpy(s->mismatch, subjects, sizeof subjects);
	s->lost_subject[0] = '\0';
}

static int nats_ensure_stream(struct nats_sink *s)
{
	jsStreamInfo *si = NULL;
	jsErrCode jerr = 0;
	natsStatus st = js_GetStreamInfo(&si, s->js, s->cfg.stream, NULL, &jerr);
	if (st == NATS_OK) {
		if (s->lost_subject[0] != '\0')
			nats_check_subjects(s, si);
		/* The resends after a crash or an outage are dropped only within
		 * the stream's duplicate window: one shorter than ours (made by
		 * someone else) turns them into duplicates. Said once. */
		if (!s->dup_warned && si->Config != NULL &&
		    si->Config->Duplicates < s->cfg.dup_window_ns) {
			nats_log("stream %s drops duplicates for %.3f s only: events resent after a "
			         "bridge restart or a server outage longer than that (up to --window "
			         "of them) are stored twice; give the stream a duplicate window of at "
			         "least %.0f s",
			         s->cfg.stream, (double)si->Config->Duplicates / 1e9,
			         (double)s->cfg.dup_window_ns / 1e9);
			s->dup_warned = 1;
		}
		jsStreamInfo_Destroy(si);
		return nats_stream_up(s);
	}
	if (st != NATS_NOT_FOUND)
		return nats_stream_down(s, -EIO, "cannot look up stream %s: %s (%s): retrying",
		                        s->cfg.stream, natsStatus_GetText(st), nats_last_text());
	if (!s->cfg.create_stream)
		return nats_stream_down(s, -ENOENT,
		                        "stream %s does not exist and --nats-create-stream is 0: "
		                        "not sending until it is created",
		                        s->cfg.stream);
	jsStreamConfig sc;
	const char *subjects[1] = {s->subject_filter};
	jsStreamConfig_Init(&sc);
	sc.Name = s->cfg.stream;
	sc.Subjects = subjects;
	sc.SubjectsLen = 1;
	sc.Storage = js_FileStorage;
	sc.Duplicates = s->cfg.dup_window_ns;
	st = js_AddStream(&si, s->js, &sc, NULL, &jerr);
	if (st != NATS_OK)
		return nats_stream_down(
		    s, -EIO,
		    "cannot create stream %s (subjects %s): %s (JetStream error "
		    "%d): retrying",
		    s->cfg.stream, s->subject_filter, nats_last_text(), (int)jerr);
	jsStreamInfo_Destroy(si);
	nats_log("created stream %s (subjects %s)", s->cfg.stream, s->subject_filter);
	s->lost_subject[0] = '\0';
	s->why[0] = '\0';
	s->stream_ready = 1;
	return 0;
}

/* cnats's count of reconnections. cnats bumps it under the connection's
 * lock before the status goes back to CONNECTED, so a caller that saw
 * CONNECTED also sees the count of the connection it saw. */
static uint64_t nats_conn_gen(struct nats_sink *s)
{
	uint64_t n = 0;
	if (s->stats != NULL && natsConnection_GetStats(s->nc, s->stats) == NATS_OK)
		natsStatistics_GetCounts(s->stats, NULL, NULL, NULL, NULL, &n);
	return n;
}

/* Connected, with the stream there. The core calls this several times
 * per step: the stream is looked up at most once per NATS_LOOKUP_MIN_NS,
 * and with exponential backoff while that fails. */
static int nats_connected(struct bridge_sink *b)
{
	struct nats_sink *s = (struct nats_sink *)b;
	if (natsConnection_Status(s->nc) != NATS_CONN_STATUS_CONNECTED)
		return 0;
	if (s->stream_ready)
		return 1;
	int64_t now = nats_mono_ns();
	if (now < s->lookup_at_ns)
		return 0;
	if (nats_ensure_stream(s) < 0) {
		s->lookup_at_ns =
		    now + 1000000LL * bridge_backoff_ms(s->lookup_attempt, s->cfg.reconnect_base_ms,
		                                        s->cfg.reconnect_max_ms);
		if (s->lookup_attempt < 32)
			s->lookup_attempt++;
		return 0;
	}
	s->lookup_attempt = 0;
	s->lookup_at_ns = now + NATS_LOOKUP_MIN_NS;
	return 1;
}

static int nats_send(struct bridge_sink *b, uint64_t pos, const struct shmbus_event_header *ev,
                     const char *symbol, const void *payload, size_t len)
{
	struct nats_sink *s = (struct nats_sink *)b;
	char subject[256], id[48];
	natsMsg *msg = NULL;
	jsPubOptions po;
	(void)pos;
	/* Not into cnats's reconnect buffer: what it holds would be stored
	 * after a reconnect ahead of sends lost with the old connection. The
	 * core resends in order once connected. */
	if (!nats_connected(b))
		return -EAGAIN;
	/* The connection was lost and made again since the core last heard
	 * of it: the publishes still awaiting an ack went down with the old
	 * one and come back only as time-outs (MaxWait later). Anything sent
	 * on the new connection before those are resent would be stored
	 * ahead of them: refuse until poll() has told the core (it then marks
	 * every unacknowledged send to go again, in order). */
	if (nats_conn_gen(s) != s->conn_gen)
		return -EAGAIN;
	if (bridge_expand_template(s->cfg.subject, ev, symbol, subject, sizeof subject) < 0)
		return -EINVAL;
	snprintf(id, sizeof id, "%" PRIu32 ":%" PRIu64, ev->source_id, ev->seq);
	if (natsMsg_Create(&msg, subject, NULL, payload, (int)len) != NATS_OK)
		return -ENOMEM;
	if (natsMsgHeader_Set(msg, "Nats-Msg-Id", id) != NATS_OK) {
		natsMsg_Destroy(msg);
		return -ENOMEM;
	}
	jsPubOptions_Init(&po);
	po.MaxWait = s->cfg.ack_timeout_ms;
	natsStatus st = js_PublishMsgAsync(s->js, &msg, &po);
	natsMsg_Destroy(msg); /* NULL after a successful call */
	if (st == NATS_OK)
		return 0;
	return -EAGAIN; /* stalled, disconnected buffer full, ...: retried */
}

/* The refused publishes recorded since the last line: the first at once,
 * then one line per NATS_REPORT_NS. */
static void nats_report_nacks(struct nats_sink *s, uint64_t n, int code, const char *text,
                              const char *subject)
{
	char count[64] = "";
	if (s->nack_reported)
		snprintf(count, sizeof count, "; %" PRIu64 " refused since the last report", n);
	if (code != 0)
		nats_log("publish to %s refused by stream %s: %s (JetStream error %d%s); resending "
		         "with backoff",
		         subject, s->cfg.stream, text, code, count);
	else
		nats_log("publish to %s not stored: %s%s%s%s; resending with backoff", subject,
		         text, count[0] ? " (" : "", count[0] ? count + 2 : "",
		         count[0] ? ")" : "");
	s->nack_reported = 1;
}

static int nats_poll(struct bridge_sink *b, bridge_ack_fn fn, void *ctx)
{
	struct nats_sink *s = (struct nats_sink *)b;
	struct nats_ack *q;
	size_t n, cap;
	uint64_t nacks = 0;
	int code = 0;
	char text[sizeof s->nack_text], subject[sizeof s->nack_subject];
	/* Read before the acks are taken: an ack queued after this belongs
	 * to the connection counted here or a later one. */
	uint64_t gen = nats_conn_gen(s);
	pthread_mutex_lock(&s->mu);
	q = s->q; /* swap: the handler fills the other buffer meanwhile */
	n = s->qn;
	cap = s->qcap;
	s->q = s->q2;
	s->qcap = s->q2cap;
	s->q2 = q;
	s->q2cap = cap;
	s->qn = 0;
	if (s->nack_n > 0 && (!s->nack_reported || nats_mono_ns() >= s->nack_next_ns)) {
		nacks = s->nack_n;
		code = s->nack_code;
		memcpy(text, s->nack_text, sizeof text);
		memcpy(subject, s->nack_subject, sizeof subject);
		s->nack_n = 0;
	}
	int lost = atomic_exchange(&s->stream_lost, 0);
	if (lost)
		memcpy(s->lost_subject, s->nack_subject, sizeof s->lost_subject);
	int dropped = s->q_dropped;
	s->q_dropped = 0;
	pthread_mutex_unlock(&s->mu);
	if (nacks > 0) {
		nats_report_nacks(s, nacks, code, text, subject);
		s->nack_next_ns = nats_mono_ns() + NATS_REPORT_NS;
	}
	/* A publish found no stream: look it up (create it) again, within
	 * the lookup rate limit. */
	if (lost && s->stream_ready) {
		s->stream_ready = 0;
		s->lookup_attempt = 0;
	}
	for (size_t i = 0; i < n; i++)
		fn(ctx, UINT64_MAX, q[i].source, q[i].seq, q[i].err);
	/* A reconnection since the last poll: every send still awaiting its
	 * ack may have been lost with the old connection (its ack would only
	 * come as a time-out, after newer sends were stored). The core marks
	 * them all to send again, in order; those the server did store are
	 * dropped by the stream's duplicate window. */
	/* So is a lost ack (the queue could not grow): cnats counts it as
	 * delivered, so nothing else would ever end its send, which held the
	 * window's head for good. */
	if (gen != s->conn_gen || dropped) {
		s->conn_gen = gen;
		fn(ctx, BRIDGE_ACK_ALL_LOST, 0, 0, -EIO);
		n++;
	}
	return (int)n;
}

static uint64_t nats_reconnects(struct bridge_sink *b)
{
	return atomic_load(&((struct nats_sink *)b)->reconnects);
}

static int nats_flush(struct bridge_sink *b, int timeout_ms)
{
	struct nats_sink *s = (struct nats_sink *)b;
	jsPubOptions po;
	jsPubOptions_Init(&po);
	po.MaxWait = timeout_ms;
	return js_PublishAsyncComplete(s->js, &po) == NATS_OK ? 0 : -ETIMEDOUT;
}

/* Close first and wait (bounded) for cnats's closed callback: its
 * callbacks hold s as closure and must not run after the free. */
static void nats_close(struct nats_sink *s)
{
	struct timespec until;
	atomic_store(&s->closing, 1);
	natsConnection_Close(s->nc);
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += NATS_CLOSE_WAIT_S;
	pthread_mutex_lock(&s->mu);
	while (!s->closed && pthread_cond_timedwait(&s->closed_cv, &s->mu, &until) == 0)
		;
	pthread_mutex_unlock(&s->mu);
}

/* Sinks destroyed, kept (reachable) rather than freed: see nats_destroy. */
static struct nats_sink *nats_graveyard[8];
static unsigned nats_ngraves;

static void nats_destroy(struct bridge_sink *b)
{
	struct nats_sink *s = (struct nats_sink *)b;
	if (s == NULL)
		return;
	if (s->nc != NULL)
		nats_close(s);
	jsCtx_Destroy(s->js);
	natsConnection_Destroy(s->nc);
	natsOptions_Destroy(s->opts);
	natsStatistics_Destroy(s->stats);
	s->stats = NULL;
	/* cnats runs the publish-ack handler on the reply subscription's own
	 * thread, and closing the connection does not join it: a handler
	 * already running may still take s->mu and fill s->q, and a closed
	 * callback later than NATS_CLOSE_WAIT_S still touches s. So s and its
	 * queues are not freed while cnats may call into them: a bridge
	 * destroys its sink once, at exit. */
	if (nats_ngraves < sizeof(nats_graveyard) / sizeof(nats_graveyard[0])) {
		nats_graveyard[nats_ngraves++] = s;
		return;
	}
	free(s->q); /* more sinks than a bridge ever makes: the old way */
	free(s->q2);
	pthread_cond_destroy(&s->closed_cv);
	pthread_mutex_destroy(&s->mu);
	free(s);
}

static const struct bridge_sink_ops nats_ops = {
    .name = "nats",
    .send = nats_send,
    .poll = nats_poll,
    .connected = nats_connected,
    .reconnects = nats_reconnects,
    .flush = nats_flush,
    .destroy = nats_destroy,
};

int bridge_nats_check(const struct bridge_nats_config *c, char *err, size_t errlen)
{
	char why[200], url_safe[256];
	if (nats_check_url(c->url, why, sizeof why) < 0) {
		nats_url_redact(c->url != NULL ? c->url : "", url_safe, sizeof url_safe);
		snprintf(err, errlen, "nats URL: %s (--nats/NATS_URL '%s')", why, url_safe);
		return -EINVAL;
	}
	if (c->creds != NULL && c->creds[0] != '\0' &&
	    nats_check_creds(c->creds, why, sizeof why) < 0) {
		snprintf(err, errlen,
		         "nats credentials: cannot read %s: %s (--nats-creds/NATS_CREDS)", c->creds,
		         why);
		return -EINVAL;
	}
	/* JetStream refuses such a name on every lookup: retried forever. */
	const char *sn = c->stream != NULL ? c->stream : "";
	if (sn[0] == '\0' || strlen(sn) > 255 || sn[strcspn(sn, ".*>/\\ \t\r\n")] != '\0') {
		snprintf(err, errlen,
		         "nats stream name '%.64s': %s (--nats-stream)", sn,
		         sn[0] == '\0' ? "empty"
		                       : "JetStream takes at most 255 characters, none of '.', '*', "
		                         "'>', '/', '\\' or white space");
		return -EINVAL;
	}
	return 0;
}

/* Connection options from the config; secrets go to cnats only. A bad
 * URL or an unreadable .creds file is a configuration error (-EINVAL),
 * reported now rather than retried forever in the background. */
static int nats_make_opts(struct nats_sink *s, char *err, size_t errlen)
{
	const struct bridge_nats_config *c = &s->cfg;
	natsOptions *o = NULL;
	int rc = bridge_nats_check(c, err, errlen);
	if (rc < 0)
		return rc;
	natsStatus st = natsOptions_Create(&o);
	s->opts = o;
	if (st == NATS_OK)
		st = natsOptions_SetURL(o, c->url);
	if (st == NATS_OK)
		st = natsOptions_SetName(o, "shmbus-bridge");
	if (st == NATS_OK)
		st = natsOptions_SetMaxReconnect(o, -1);
	if (st == NATS_OK)
		st = natsOptions_SetCustomReconnectDelay(o, nats_reconnect_delay, s);
	if (st == NATS_OK)
		st = natsOptions_SetReconnectedCB(o, nats_reconnected_cb, s);
	if (st == NATS_OK)
		st = natsOptions_SetDisconnectedCB(o, nats_disconnected_cb, s);
	if (st == NATS_OK)
		st = natsOptions_SetClosedCB(o, nats_closed_cb, s);
	if (st == NATS_OK)
		st = natsOptions_SetErrorHandler(o, nats_error_cb, s);
	/* With a connected callback, Connect does not block (see the top). */
	if (st == NATS_OK)
		st = natsOptions_SetRetryOnFailedConnect(o, true, nats_connected_cb, s);
	if (st == NATS_OK)
		st = natsOptions_SetReconnectBufSize(o, 32 * 1024 * 1024);
	if (st != NATS_OK) {
		snprintf(err, errlen, "nats options: %s: %s (--nats/NATS_URL '%s')",
		         natsStatus_GetText(st), nats_last_text(), s->url_safe);
		return st == NATS_NO_MEMORY ? -ENOMEM : -EINVAL;
	}
	if (c->creds != NULL && c->creds[0] != '\0' &&
	    (st = natsOptions_SetUserCredentialsFromFiles(o, c->creds, NULL)) != NATS_OK) {
		snprintf(err, errlen, "nats credentials: %s (--nats-creds/NATS_CREDS %s)",
		         natsStatus_GetText(st), c->creds);
		return -EINVAL;
	}
	if (c->user != NULL && c->user[0] != '\0')
		st = natsOptions_SetUserInfo(o, c->user, c->password);
	if (st == NATS_OK && c->token != NULL && c->token[0] != '\0')
		st = natsOptions_SetToken(o, c->token);
	if (st != NATS_OK) {
		snprintf(err, errlen, "nats user/token: %s (NATS_USER/NATS_TOKEN)",
		         natsStatus_GetText(st));
		return -EINVAL;
	}
	if (c->tls || (c->tls_ca != NULL && c->tls_ca[0] != '\0'))
		st = natsOptions_SetSecure(o, true);
	if (st == NATS_OK && c->tls_ca != NULL && c->tls_ca[0] != '\0')
		st = natsOptions_LoadCATrustedCertificates(o, c->tls_ca);
	if (st == NATS_OK && c->tls_cert != NULL && c->tls_cert[0] != '\0')
		st = natsOptions_LoadCertificatesChain(o, c->tls_cert, c->tls_key);
	if (st != NATS_OK) {
		snprintf(err, errlen, "nats tls: %s (NATS_TLS_CA/NATS_TLS_CERT/NATS_TLS_KEY)",
		         natsStatus_GetText(st));
		return -EINVAL;
	}
	return 0;
}

int bridge_nats_open(const struct bridge_nats_config *c, enum bridge_encoding enc,
                     struct bridge_sink **out, char *err, size_t errlen)
{
	struct nats_sink *s = calloc(1, sizeof *s);
	jsOptions jo;
	natsStatus st;
	if (s == NULL)
		return -ENOMEM;
	s->base.ops = &nats_ops;
	s->base.enc = enc;
	s->cfg = *c;
	pthread_mutex_init(&s->mu, NULL);
	pthread_cond_init(&s->closed_cv, NULL);
	nats_url_redact(c->url != NULL ? c->url : "", s->url_safe, sizeof s->url_safe);
	nats_subject_filter(c->subject, s->subject_filter, sizeof s->subject_filter);
	int rc = nats_make_opts(s, err, errlen);
	if (rc < 0)
		goto fail;
	/* DOWN before Connect: the connected callback may run before it
	 * returns, and then prints the change. */
	atomic_store(&s->conn_state, NATS_CONN_DOWN);
	if (natsStatistics_Create(&s->stats) != NATS_OK) {
		snprintf(err, errlen, "nats: out of memory");
		rc = -ENOMEM;
		goto fail;
	}
	st = natsConnection_Connect(&s->nc, s->opts);
	if (st == NATS_OK) {
		atomic_store(&s->conn_state, NATS_CONN_UP);
	} else if (st == NATS_NOT_YET_CONNECTED) {
		nats_log("cannot connect to %s yet: retrying in the background (backoff %" PRId64
		         "..%" PRId64 " ms); not sending until connected",
		         s->url_safe, c->reconnect_base_ms, c->reconnect_max_ms);
	} else {
		snprintf(err, errlen, "nats connect: %s: %s (--nats/NATS_URL '%s')",
		         natsStatus_GetText(st), nats_last_text(), s->url_safe);
		rc = st == NATS_INVALID_ARG ? -EINVAL : -EIO;
		goto fail;
	}
	jsOptions_Init(&jo);
	/* cnats counts a publish as outstanding until our ack handler has
	 * returned, but the core may already have taken that queued ack,
	 * freed its window slot and sent again: with MaxPending equal to the
	 * window that send stalls until cnats's thread runs, and on a loaded
	 * host the 1 ms stall times out (a failed send, once the root of
	 * reordered resends). The window bounds what is in flight; twice it
	 * leaves cnats room to lag. */
	jo.PublishAsync.MaxPending = 2 * (int64_t)c->max_pending;
	jo.PublishAsync.AckHandler = nats_ack_cb;
	jo.PublishAsync.AckHandlerClosure = s;
	jo.PublishAsync.StallWait = 1;
	jo.Wait = c->ack_timeout_ms;
	if ((st = natsConnection_JetStream(&s->js, s->nc, &jo)) != NATS_OK) {
		snprintf(err, errlen, "nats jetstream context: %s (%s)", natsStatus_GetText(st),
		         s->url_safe);
		rc = -EIO;
		goto fail;
	}
	s->conn_gen = nats_conn_gen(s);
	*out = &s->base;
	return 0;
fail:
	nats_destroy(&s->base);
	return rc;
}
