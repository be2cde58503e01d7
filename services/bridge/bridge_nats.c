/*
 * bridge_nats.c - NATS JetStream sink (cnats).
 *
 * Publishes are asynchronous (js_PublishMsgAsync) with the event identity
 * "source:seq" in the Nats-Msg-Id header, so a resend after a failure or
 * a restart is dropped by the stream's duplicate window. cnats calls the
 * ack handler on its own thread: the handler only parses the id and
 * queues (source, seq, err) under a mutex; the core's thread takes the
 * queue in poll(). The connection is made with RetryOnFailedConnect so a
 * bridge started before its server keeps trying; every reconnect waits an
 * exponential, jittered delay (custom reconnect delay callback). The
 * stream is looked up (and created when allowed) once connected. While
 * disconnected, send() refuses (-EAGAIN) rather than filling cnats's
 * reconnect buffer, so that the core can resend in order.
 */
#include "bridge_sink.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nats/nats.h>

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
	int stream_ready;
	pthread_mutex_t mu;
	struct nats_ack *q, *q2; /* pending acks / swap buffer */
	size_t qn, qcap, q2cap;
	atomic_uint_fast64_t reconnects;
	char subject_filter[256];
};

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
		if (s->qn == s->qcap) {
			size_t ncap = s->qcap ? s->qcap * 2 : 1024;
			struct nats_ack *nq = realloc(s->q, ncap * sizeof *nq);
			if (nq != NULL) {
				s->q = nq;
				s->qcap = ncap;
			}
		}
		if (s->qn < s->qcap) /* else lost: the core resends on timeout */
			s->q[s->qn++] = a;
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

static void nats_reconnected_cb(natsConnection *nc, void *closure)
{
	struct nats_sink *s = closure;
	(void)nc;
	atomic_fetch_add(&s->reconnects, 1);
}

/* Stream subjects: the template with every {placeholder} as '*'. */
static void nats_subject_filter(const char *tpl, char *buf, size_t len)
{
	size_t o = 0;
	for (const char *p = tpl; *p != '\0' && o + 2 < len; p++) {
		if (*p == '{') {
			const char *e = strchr(p, '}');
			if (e == NULL)
				break;
			buf[o++] = '*';
			p = e;
		} else {
			buf[o++] = *p;
		}
	}
	buf[o] = '\0';
}

static int nats_ensure_stream(struct nats_sink *s)
{
	jsStreamInfo *si = NULL;
	jsErrCode jerr = 0;
	natsStatus st = js_GetStreamInfo(&si, s->js, s->cfg.stream, NULL, &jerr);
	if (st == NATS_OK) {
		jsStreamInfo_Destroy(si);
		s->stream_ready = 1;
		return 0;
	}
	if (st != NATS_NOT_FOUND || !s->cfg.create_stream)
		return -ENOENT;
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
		return -EIO;
	jsStreamInfo_Destroy(si);
	s->stream_ready = 1;
	return 0;
}

static int nats_connected(struct bridge_sink *b)
{
	struct nats_sink *s = (struct nats_sink *)b;
	if (natsConnection_Status(s->nc) != NATS_CONN_STATUS_CONNECTED)
		return 0;
	if (!s->stream_ready && nats_ensure_stream(s) < 0)
		return 0;
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

static int nats_poll(struct bridge_sink *b, bridge_ack_fn fn, void *ctx)
{
	struct nats_sink *s = (struct nats_sink *)b;
	struct nats_ack *q;
	size_t n, cap;
	pthread_mutex_lock(&s->mu);
	q = s->q; /* swap: the handler fills the other buffer meanwhile */
	n = s->qn;
	cap = s->qcap;
	s->q = s->q2;
	s->qcap = s->q2cap;
	s->q2 = q;
	s->q2cap = cap;
	s->qn = 0;
	pthread_mutex_unlock(&s->mu);
	for (size_t i = 0; i < n; i++)
		fn(ctx, UINT64_MAX, q[i].source, q[i].seq, q[i].err);
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

static void nats_destroy(struct bridge_sink *b)
{
	struct nats_sink *s = (struct nats_sink *)b;
	if (s == NULL)
		return;
	jsCtx_Destroy(s->js);
	natsConnection_Destroy(s->nc);
	natsOptions_Destroy(s->opts);
	free(s->q);
	free(s->q2);
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

/* Connection options from the config; secrets go to cnats only. */
static int nats_make_opts(struct nats_sink *s, char *err, size_t errlen)
{
	const struct bridge_nats_config *c = &s->cfg;
	natsOptions *o = NULL;
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
		st = natsOptions_SetRetryOnFailedConnect(o, true, NULL, NULL);
	if (st == NATS_OK)
		st = natsOptions_SetReconnectBufSize(o, 32 * 1024 * 1024);
	if (st != NATS_OK) {
		snprintf(err, errlen, "nats options: %s (url %s)", natsStatus_GetText(st), c->url);
		return -EINVAL;
	}
	if (c->creds != NULL && c->creds[0] != '\0' &&
	    (st = natsOptions_SetUserCredentialsFromFiles(o, c->creds, NULL)) != NATS_OK) {
		snprintf(err, errlen, "nats credentials: %s (%s)", natsStatus_GetText(st), c->creds);
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
	nats_subject_filter(c->subject, s->subject_filter, sizeof s->subject_filter);
	int rc = nats_make_opts(s, err, errlen);
	if (rc < 0)
		goto fail;
	st = natsConnection_Connect(&s->nc, s->opts);
	if (st != NATS_OK && st != NATS_NOT_YET_CONNECTED) {
		snprintf(err, errlen, "nats connect: %s (%s)", natsStatus_GetText(st), c->url);
		rc = -EIO;
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
			 c->url);
		rc = -EIO;
		goto fail;
	}
	*out = &s->base;
	return 0;
fail:
	nats_destroy(&s->base);
	return rc;
}
