/*
 * server.c — the HTTP front end on libh2o-evloop 2.2: listeners, event
 * loops, limits, routing and the request log. The only file that includes
 * h2o; everything else sees struct hg_http_req (http.h).
 *
 * One event loop per thread, each with its own SO_REUSEPORT listener, so the
 * kernel spreads connections and no lock sits between the loops. Handlers
 * run on the loop thread and never block; answers that wait for the ingest
 * writer come back through an h2o_multithread queue per loop.
 *
 * Hot path: on_req() allocates only from the request's pool (freed by h2o
 * with the request) and hg_http_defer() makes one malloc for the pending
 * answer.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <h2o.h>
#include <h2o/http2.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "http/http.h"
#include "util/util.h"

#define HG_HTTP_MAX_ROUTES   16
#define HG_HTTP_ACCEPT_BURST 16
/* h2o 2.2 buffers up to ~400 KB of request headers (H2O_MAX_REQLEN); we
 * refuse anything past this much, which is far above what providers send. */
#define HG_HTTP_MAX_HEADER_BYTES (16 * 1024)
#define HG_HTTP_DRAIN_MS         5000
/* A connection closed with request bytes unread drains this long, this much. */
#define HG_HTTP_LINGER_MS    2000
#define HG_HTTP_LINGER_BYTES (32 * 1024 * 1024)
/* How often each loop looks for clients that stopped reading its answers. */
#define HG_HTTP_SWEEP_MS 1000
/* accept() out of descriptors (EMFILE): the listener rests this long. */
#define HG_HTTP_ACCEPT_BACKOFF_MS 100

struct hg_http_route {
	char *prefix;
	size_t len;
	int exact; /* prefix without trailing '/' matches only itself */
	hg_http_handler_fn fn;
	void *arg;
};

struct hg_http_loop {
	struct hg_http_server *srv;
	pthread_t tid;
	int started;
	int fd;
	h2o_context_t ctx;
	h2o_accept_ctx_t accept_ctx;
	h2o_socket_t *listener;
	h2o_multithread_queue_t *queue;
	h2o_multithread_receiver_t answers; /* pending answers from other threads */
	h2o_multithread_receiver_t control; /* stop requests */
	size_t nconns;
	size_t max_conns;
	int paused;                   /* listener stopped because this loop is at its cap */
	int resting;                  /* listener stopped for a while: accept() had no descriptor */
	h2o_linklist_t conns;         /* struct hg_http_conn.link, open (not lingering) ones */
	h2o_timeout_t linger_timeout; /* HG_HTTP_LINGER_MS, for lingering closes */
	h2o_timeout_t sweep_timeout;  /* HG_HTTP_SWEEP_MS */
	h2o_timeout_entry_t sweep;
	h2o_timeout_t rest_timeout; /* HG_HTTP_ACCEPT_BACKOFF_MS */
	h2o_timeout_entry_t rest;
	int64_t rest_logged_ms;
	int closing;
};

/* One per accepted connection, hung on the socket's on_close hook (which h2o
 * leaves to the application) so TLS callbacks and requests can find it. */
struct hg_http_conn {
	struct hg_http_loop *loop;
	h2o_socket_t *sock;   /* until h2o closes it */
	h2o_linklist_t link;  /* in loop->conns until h2o closes the socket */
	size_t seen_written;  /* sock->bytes_written at the last sweep */
	int64_t stuck_since;  /* monotonic ms since an answer made no progress; 0 */
	SSL *ssl;             /* set by the verify callback when a client certificate came */
	int linger_fd;        /* -1, or our copy of the descriptor (see conn_want_linger) */
	h2o_socket_t *linger; /* while draining after h2o closed its socket */
	h2o_timeout_entry_t linger_timer;
	size_t linger_bytes;
};

struct hg_http_server {
	struct hg_http_opts opts;
	SSL_CTX *ssl_ctx;
	char *host;
	int port;
	h2o_globalconf_t config;
	struct hg_http_route routes[HG_HTTP_MAX_ROUTES];
	size_t nroutes;
	struct hg_http_loop *loops;
	size_t nloops;
	atomic_int exit_loops;
	atomic_long open_conns; /* across loops; read by stop() */
	atomic_long pending;    /* deferred answers not yet delivered */
	/* Held while a deferred answer is handed to its loop; closed once the
	 * loops are about to end, after which answers are dropped, not sent
	 * into a queue that is going away. */
	pthread_mutex_t gate;
	int gate_closed;
	int stopped; /* hg_http_server_stop() ran */
	sem_t ready; /* posted by each loop thread once its loop exists */
	int have_ready;
	int configured;
};

/* Per-request adapter state, allocated from the request's pool. */
struct hg_http_impl {
	h2o_req_t *req;
	struct hg_http_loop *loop;
};

/* Lives in the request's pool; tells a pending answer when h2o disposed
 * the request (the connection closed or timed out) before it was sent. */
struct hg_http_guard {
	struct hg_http_pending *pending;
};

struct hg_http_pending {
	h2o_multithread_message_t super; /* first: the queue hands us this */
	struct hg_http_loop *loop;
	struct hg_http_req *hreq; /* NULL once the request is gone */
	struct hg_http_guard *guard;
	struct hg_http_resp resp; /* deep copy, owned */
	char *strings;            /* one block holding every copied string */
	const char **headers;
	char request_id[HG_REQUEST_ID_MAX + 1]; /* for the lines logged without hreq */
};

struct hg_http_handler {
	h2o_handler_t super;
	struct hg_http_server *srv;
};

/* ---- request accessors ---- */

const char *hg_http_header(const struct hg_http_req *req, const char *name, size_t *len)
{
	struct hg_http_impl *impl = req->impl;
	char lower[128];
	size_t n = strlen(name);
	/* h2o keeps header names in lower case and compares bytes. */
	if (n >= sizeof(lower))
		return NULL;
	for (size_t k = 0; k != n; ++k)
		lower[k] = (char)((name[k] >= 'A' && name[k] <= 'Z') ? name[k] + 32 : name[k]);
	ssize_t i = h2o_find_header_by_str(&impl->req->headers, lower, n, -1);
	if (i < 0)
		return NULL;
	h2o_header_t *h = impl->req->headers.entries + i;
	if (len != NULL)
		*len = h->value.len;
	return h->value.base;
}

const char *hg_http_header_cb(void *req, const char *name, size_t *len)
{
	return hg_http_header(req, name, len);
}

void hg_http_header_each(const struct hg_http_req *req,
			 void (*fn)(const char *name, size_t nlen, const char *val, size_t vlen,
				    void *arg),
			 void *arg)
{
	struct hg_http_impl *impl = req->impl;
	for (size_t i = 0; i != impl->req->headers.size; ++i) {
		h2o_header_t *h = impl->req->headers.entries + i;
		fn(h->name->base, h->name->len, h->value.base, h->value.len, arg);
	}
}

/* ---- TLS and client certificates ---- */

static void on_conn_close(void *data);
static void conn_want_linger(h2o_req_t *req);

static struct hg_http_conn *conn_of(const struct hg_http_req *req)
{
	struct hg_http_impl *impl = req->impl;
	h2o_conn_t *c = impl->req->conn;
	if (c->callbacks->get_socket == NULL)
		return NULL;
	h2o_socket_t *sock = c->callbacks->get_socket(c);
	if (sock == NULL || sock->on_close.cb != on_conn_close)
		return NULL;
	return sock->on_close.data;
}

int hg_http_is_tls(const struct hg_http_req *req)
{
	struct hg_http_impl *impl = req->impl;
	h2o_conn_t *c = impl->req->conn;
	h2o_socket_t *sock = c->callbacks->get_socket != NULL ? c->callbacks->get_socket(c) : NULL;
	return sock != NULL && sock->ssl != NULL;
}

static int name_equal(const unsigned char *a, size_t alen, const char *b)
{
	return alen == strlen(b) && strncasecmp((const char *)a, b, alen) == 0 &&
	       memchr(a, '\0', alen) == NULL;
}

static int cert_has_name(X509 *cert, const char *name)
{
	int found = 0;
	X509_NAME *subject = X509_get_subject_name(cert);
	for (int i = -1;
	     !found && (i = X509_NAME_get_index_by_NID(subject, NID_commonName, i)) >= 0;) {
		ASN1_STRING *cn = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subject, i));
		found = name_equal(ASN1_STRING_get0_data(cn), (size_t)ASN1_STRING_length(cn), name);
	}
	GENERAL_NAMES *sans = X509_get_ext_d2i(cert, NID_subject_alt_name, NULL, NULL);
	for (int i = 0; !found && sans != NULL && i < sk_GENERAL_NAME_num(sans); ++i) {
		GENERAL_NAME *gn = sk_GENERAL_NAME_value(sans, i);
		if (gn->type == GEN_DNS)
			found = name_equal(ASN1_STRING_get0_data(gn->d.dNSName),
					   (size_t)ASN1_STRING_length(gn->d.dNSName), name);
	}
	GENERAL_NAMES_free(sans);
	return found;
}

int hg_http_client_cert_matches(const struct hg_http_req *req, const char *name)
{
	struct hg_http_conn *conn = conn_of(req);
	if (conn == NULL || conn->ssl == NULL || name == NULL)
		return 0;
	/* The chain's verdict for the whole handshake, not one callback's. */
	if (SSL_get_verify_result(conn->ssl) != X509_V_OK)
		return 0;
	X509 *peer = SSL_get1_peer_certificate(conn->ssl);
	if (peer == NULL)
		return 0;
	int ok = cert_has_name(peer, name);
	X509_free(peer);
	return ok;
}

/* h2o 2.2 has no accessor for the peer certificate, so we note the SSL
 * object of each connection when OpenSSL asks us about its client chain.
 * h2o's BIO carries the h2o_socket_t (checked by the BIO's name), whose
 * on_close hook holds our connection record. */
static int on_verify(int preverify_ok, X509_STORE_CTX *x)
{
	SSL *ssl = X509_STORE_CTX_get_ex_data(x, SSL_get_ex_data_X509_STORE_CTX_idx());
	BIO *bio = ssl != NULL ? SSL_get_rbio(ssl) : NULL;
	if (bio != NULL && BIO_method_name(bio) != NULL &&
	    strcmp(BIO_method_name(bio), "h2o_socket") == 0) {
		h2o_socket_t *sock = BIO_get_data(bio);
		if (sock != NULL && sock->on_close.cb == on_conn_close)
			((struct hg_http_conn *)sock->on_close.data)->ssl = ssl;
	}
	/* require: a bad chain ends the handshake; optional: the connection
	 * goes on and hg_http_client_cert_matches() reports no certificate. */
	int *require = SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), 0);
	return (require != NULL && *require) ? preverify_ok : 1;
}

static SSL_CTX *tls_context(const struct hg_http_opts *o, char *err, size_t errlen)
{
	static int require_yes = 1, require_no = 0;
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
	unsigned long e;
	if (ctx == NULL)
		goto fail;
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_CIPHER_SERVER_PREFERENCE);
	if (SSL_CTX_use_certificate_chain_file(ctx, o->tls_cert) != 1) {
		snprintf(err, errlen, "cannot load the TLS certificate %s", o->tls_cert);
		goto fail;
	}
	if (SSL_CTX_use_PrivateKey_file(ctx, o->tls_key, SSL_FILETYPE_PEM) != 1 ||
	    SSL_CTX_check_private_key(ctx) != 1) {
		snprintf(err, errlen,
			 "cannot load the TLS key %s or it does not match the certificate",
			 o->tls_key);
		goto fail;
	}
	if (o->tls_client_ca != NULL) {
		STACK_OF(X509_NAME) *names = SSL_load_client_CA_file(o->tls_client_ca);
		if (names == NULL ||
		    SSL_CTX_load_verify_locations(ctx, o->tls_client_ca, NULL) != 1) {
			sk_X509_NAME_pop_free(names, X509_NAME_free);
			snprintf(err, errlen, "cannot load the client CA %s", o->tls_client_ca);
			goto fail;
		}
		SSL_CTX_set_client_CA_list(ctx, names);
		int require = o->tls_client_cert == 2;
		SSL_CTX_set_ex_data(ctx, 0, require ? &require_yes : &require_no);
		SSL_CTX_set_verify(
		    ctx, SSL_VERIFY_PEER | (require ? SSL_VERIFY_FAIL_IF_NO_PEER_CERT : 0),
		    on_verify);
		/* A resumed session skips the verify callback; every connection
		 * must show its certificate again. */
		SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
		SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
		SSL_CTX_set_num_tickets(ctx, 0);
	}
	h2o_ssl_register_alpn_protocols(ctx, h2o_http2_alpn_protocols);
	return ctx;
fail:
	e = ERR_peek_last_error();
	if (e != 0 && errlen > 0 && strlen(err) + 3 < errlen) {
		char why[160];
		ERR_error_string_n(e, why, sizeof(why));
		snprintf(err + strlen(err), errlen - strlen(err), " (%s)", why);
	}
	ERR_clear_error();
	SSL_CTX_free(ctx);
	return NULL;
}

/* ---- answering ---- */

static const char *status_reason(int status)
{
	switch (status) {
	case 200:
		return "OK";
	case 202:
		return "Accepted";
	case 204:
		return "No Content";
	case 400:
		return "Bad Request";
	case 401:
		return "Unauthorized";
	case 403:
		return "Forbidden";
	case 404:
		return "Not Found";
	case 405:
		return "Method Not Allowed";
	case 409:
		return "Conflict";
	case 413:
		return "Payload Too Large";
	case 415:
		return "Unsupported Media Type";
	case 422:
		return "Unprocessable Entity";
	case 429:
		return "Too Many Requests";
	case 431:
		return "Request Header Fields Too Large";
	case 500:
		return "Internal Server Error";
	case 503:
		return "Service Unavailable";
	default:
		return "Status";
	}
}

/* At most cap - 1 bytes of s[0, n) and a NUL, for a log line. */
static void span_text(char *dst, size_t cap, const char *s, size_t n)
{
	if (n > cap - 1)
		n = cap - 1;
	memcpy(dst, s, n);
	dst[n] = '\0';
}

static void log_request(const struct hg_http_req *req, const struct hg_http_resp *resp)
{
	const char *was = hg_log_request_id();
	char method[16], path[256];
	span_text(method, sizeof(method), req->method, req->method_len);
	span_text(path, sizeof(path), req->path, req->path_len);
	double latency_ms = (double)(hg_mono_us() - req->start_us) / 1000.0;
	/* 5xx: something is wrong here; 401: someone sent a request that does
	 * not authenticate (a bad signature, a wrong token), worth a look */
	enum hg_log_level lvl =
	    resp->status >= 500 || resp->status == 401 ? HG_LOG_WARN : HG_LOG_INFO;
	/* an answer completed from another thread is logged here, outside the
	 * handler: the line still names its request */
	hg_log_set_request_id(req->request_id);
	hg_log(lvl, "request", "method", HG_LS(method), "path", HG_LS(path), "status",
	       HG_LI(resp->status), "latency_ms", HG_LF(latency_ms), "peer", HG_LS(req->peer),
	       "source", HG_LS(resp->log_source), "outcome", HG_LS(resp->log_outcome), "id",
	       HG_LS(resp->log_id), "reason", HG_LS(resp->log_reason), NULL);
	hg_log_set_request_id(was);
}

void hg_http_respond(struct hg_http_req *hreq, const struct hg_http_resp *resp)
{
	struct hg_http_impl *impl = hreq->impl;
	h2o_req_t *req = impl->req;

	if (!resp->log_quiet || resp->status >= 500)
		log_request(hreq, resp);
	req->res.status = resp->status;
	req->res.reason = status_reason(resp->status);
	if (resp->content_type != NULL)
		h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL,
			       resp->content_type, strlen(resp->content_type));
	h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CACHE_CONTROL, NULL,
		       H2O_STRLIT("no-store"));
	h2o_add_header_by_str(&req->pool, &req->res.headers, H2O_STRLIT("x-content-type-options"),
			      0, NULL, H2O_STRLIT("nosniff"));
	if (hreq->request_id[0] != '\0')
		h2o_add_header_by_str(&req->pool, &req->res.headers, H2O_STRLIT("x-request-id"), 0,
				      NULL, hreq->request_id, strlen(hreq->request_id));
	for (const char *const *h = resp->headers; h != NULL && h[0] != NULL; h += 2) {
		const char *name = h2o_strdup(&req->pool, h[0], strlen(h[0])).base;
		h2o_add_header_by_str(&req->pool, &req->res.headers, name, strlen(name), 1, NULL,
				      h[1], strlen(h[1]));
	}
	req->res.content_length = resp->body_len;
	/* h2o_send_inline copies the body into the request's pool. */
	h2o_send_inline(req, resp->body != NULL ? resp->body : "", resp->body_len);
}

void hg_http_respond_error(struct hg_http_req *req, int status, const char *source,
			   const char *reason)
{
	struct hg_buf b = {0};
	if (hg_buf_puts(&b, "{\"error\":") != HG_OK ||
	    hg_buf_json_str(&b, reason, strlen(reason)) != HG_OK ||
	    hg_buf_puts(&b, "}\n") != HG_OK) {
		hg_buf_free(&b);
		b.data = (uint8_t *)"{\"error\":\"out of memory\"}\n";
		b.len = strlen((const char *)b.data);
		b.cap = 0;
	}
	struct hg_http_resp resp = {.status = status,
				    .content_type = "application/json",
				    .body = b.data,
				    .body_len = b.len,
				    .log_source = source,
				    .log_outcome = "rejected",
				    .log_reason = reason};
	hg_http_respond(req, &resp);
	if (b.cap != 0)
		hg_buf_free(&b);
}

static void guard_dispose(void *p)
{
	struct hg_http_guard *g = p;
	if (g->pending != NULL)
		g->pending->hreq = NULL;
}

struct hg_http_pending *hg_http_defer(struct hg_http_req *hreq)
{
	struct hg_http_impl *impl = hreq->impl;
	struct hg_http_pending *p = calloc(1, sizeof(*p));
	if (p == NULL)
		return NULL;
	p->guard = h2o_mem_alloc_shared(&impl->req->pool, sizeof(*p->guard), guard_dispose);
	p->guard->pending = p;
	p->loop = impl->loop;
	p->hreq = hreq;
	hg_strlcpy(p->request_id, hreq->request_id, sizeof(p->request_id));
	atomic_fetch_add(&impl->loop->srv->pending, 1);
	return p;
}

static size_t strsize(const char *s)
{
	return s != NULL ? strlen(s) + 1 : 0;
}

static const char *stash(char **cursor, const char *s)
{
	if (s == NULL)
		return NULL;
	size_t n = strlen(s) + 1;
	char *dst = *cursor;
	memcpy(dst, s, n);
	*cursor += n;
	return dst;
}

/* Copies resp into p so the caller's memory can go at once. One block holds
 * all strings and the body, so the answer costs two allocations. */
static int pending_copy(struct hg_http_pending *p, const struct hg_http_resp *resp)
{
	size_t nh = 0, total = resp->body_len + 1;
	for (const char *const *h = resp->headers; h != NULL && h[0] != NULL; h += 2, nh += 2)
		total += strsize(h[0]) + strsize(h[1]);
	total += strsize(resp->content_type) + strsize(resp->log_source) +
		 strsize(resp->log_outcome) + strsize(resp->log_id) + strsize(resp->log_reason);
	p->strings = malloc(total);
	p->headers = calloc(nh + 1, sizeof(*p->headers));
	if (p->strings == NULL || p->headers == NULL)
		return HG_ENOMEM;
	char *cur = p->strings;
	p->resp = *resp;
	memcpy(cur, resp->body, resp->body_len);
	p->resp.body = cur;
	cur += resp->body_len;
	*cur++ = '\0';
	for (size_t i = 0; i != nh; ++i)
		p->headers[i] = stash(&cur, resp->headers[i]);
	p->resp.headers = p->headers;
	p->resp.content_type = stash(&cur, resp->content_type);
	p->resp.log_source = stash(&cur, resp->log_source);
	p->resp.log_outcome = stash(&cur, resp->log_outcome);
	p->resp.log_id = stash(&cur, resp->log_id);
	p->resp.log_reason = stash(&cur, resp->log_reason);
	return HG_OK;
}

static void pending_free(struct hg_http_pending *p)
{
	free(p->strings);
	free(p->headers);
	free(p);
}

void hg_http_pending_respond(struct hg_http_pending *p, const struct hg_http_resp *resp)
{
	if (pending_copy(p, resp) != HG_OK) {
		static const char oom[] = "{\"error\":\"out of memory\"}\n";
		free(p->strings);
		free(p->headers);
		p->strings = NULL;
		p->headers = NULL;
		p->resp = (struct hg_http_resp){.status = 503,
						.content_type = "application/json",
						.body = oom,
						.body_len = sizeof(oom) - 1,
						.log_outcome = "error",
						.log_reason = "out of memory"};
	}
	struct hg_http_server *srv = p->loop->srv;
	pthread_mutex_lock(&srv->gate);
	if (!srv->gate_closed) {
		h2o_multithread_send_message(&p->loop->answers, &p->super);
		p = NULL;
	}
	pthread_mutex_unlock(&srv->gate);
	if (p != NULL) { /* the server stopped before this answer was ready */
		const char *was = hg_log_request_id();
		hg_log_set_request_id(p->request_id);
		hg_log(HG_LOG_WARN, "answer dropped: the server stopped first", "status",
		       HG_LI(p->resp.status), "source", HG_LS(p->resp.log_source), "id",
		       HG_LS(p->resp.log_id), NULL);
		hg_log_set_request_id(was);
		pending_free(p);
		atomic_fetch_sub(&srv->pending, 1);
	}
}

/* Runs on the loop thread: delivers the answers other threads completed. */
static void on_answers(h2o_multithread_receiver_t *receiver, h2o_linklist_t *messages)
{
	struct hg_http_loop *loop = H2O_STRUCT_FROM_MEMBER(struct hg_http_loop, answers, receiver);
	while (!h2o_linklist_is_empty(messages)) {
		h2o_multithread_message_t *m =
		    H2O_STRUCT_FROM_MEMBER(h2o_multithread_message_t, link, messages->next);
		struct hg_http_pending *p = (struct hg_http_pending *)m;
		h2o_linklist_unlink(&m->link);
		if (p->hreq != NULL) {
			p->guard->pending = NULL;
			hg_http_respond(p->hreq, &p->resp);
		} else {
			hg_log_set_request_id(p->request_id);
			hg_log(HG_LOG_INFO, "client gone before answer", "status",
			       HG_LI(p->resp.status), "source", HG_LS(p->resp.log_source), "id",
			       HG_LS(p->resp.log_id), NULL);
			hg_log_set_request_id(NULL);
		}
		pending_free(p);
		atomic_fetch_sub(&loop->srv->pending, 1);
	}
}

/* ---- routing ---- */

static const struct hg_http_route *route_find(const struct hg_http_server *srv, const char *path,
					      size_t len)
{
	const struct hg_http_route *best = NULL;
	for (size_t i = 0; i != srv->nroutes; ++i) {
		const struct hg_http_route *r = srv->routes + i;
		int match = r->exact ? (len == r->len && memcmp(path, r->prefix, len) == 0)
				     : (len >= r->len && memcmp(path, r->prefix, r->len) == 0);
		if (match && (best == NULL || r->len > best->len))
			best = r;
	}
	return best;
}

/* The address in ss (sl bytes of it; 0: none) as text, "" when there is none. */
static void addr_text(const struct sockaddr_storage *ss, socklen_t sl, char *out, size_t outlen)
{
	out[0] = '\0';
	if (sl == 0)
		return;
	if (ss->ss_family == AF_INET)
		inet_ntop(AF_INET, &((const struct sockaddr_in *)ss)->sin_addr, out,
			  (socklen_t)outlen);
	else if (ss->ss_family == AF_INET6)
		inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)ss)->sin6_addr, out,
			  (socklen_t)outlen);
}

static void peer_text(h2o_conn_t *conn, char *out, size_t outlen)
{
	struct sockaddr_storage ss;

	addr_text(&ss, conn->callbacks->get_peername(conn, (struct sockaddr *)&ss), out, outlen);
}

/*
 * Request smuggling (RFC 9112 section 6.3). h2o 2.2 frames a body by the
 * FIRST Content-Length, and by Transfer-Encoding when both are present,
 * without complaint; behind a proxy that frames the same bytes differently,
 * the rest of the body becomes a request of its own, arriving from the
 * trusted proxy's address. h2o keeps neither header in req->headers, so we
 * read the request's head again from the connection's input buffer, where
 * it still starts the buffer (h2o consumes a request's bytes only after it
 * was answered; a chunked body is decoded in place behind the head). Any
 * second Content-Length (even an equal one), any second Transfer-Encoding,
 * or both together is refused with 400 and the connection closed.
 */
static const char *framing_problem(h2o_req_t *req)
{
	h2o_conn_t *c = req->conn;
	h2o_socket_t *sock = c->callbacks->get_socket != NULL ? c->callbacks->get_socket(c) : NULL;
	if (req->version >= 0x200 || sock == NULL || sock->input == NULL)
		return NULL;
	const char *p = sock->input->bytes, *end = p + sock->input->size, *nl;
	size_t ncl = 0, nte = 0;
	while (p != end && (*p == '\r' || *p == '\n'))
		++p; /* picohttpparser skips empty lines before a request */
	if ((nl = memchr(p, '\n', (size_t)(end - p))) == NULL)
		return NULL;
	for (p = nl + 1; p < end && (nl = memchr(p, '\n', (size_t)(end - p))) != NULL; p = nl + 1) {
		size_t len = (size_t)(nl - p);
		if (len != 0 && p[len - 1] == '\r')
			--len;
		if (len == 0)
			break; /* the end of the head */
		if (len > 15 && strncasecmp(p, "content-length:", 15) == 0)
			++ncl;
		else if (len > 18 && strncasecmp(p, "transfer-encoding:", 18) == 0)
			++nte;
	}
	if (ncl > 1)
		return "more than one Content-Length header";
	if (nte > 1)
		return "more than one Transfer-Encoding header";
	if (ncl != 0 && nte != 0)
		return "both Content-Length and Transfer-Encoding";
	if (nte != 0 && req->version < 0x101)
		return "Transfer-Encoding in an HTTP/1.0 request";
	/* h2o keeps an obsolete folded line (one starting with a space) as a
	 * header without a name; a proxy may read it as a header of its own
	 * (RFC 9112 section 5.2: refuse it). */
	for (size_t i = 0; i != req->headers.size; ++i)
		if (req->headers.entries[i].name->len == 0)
			return "a folded header line (obsolete line folding)";
	return NULL;
}

/*
 * h2o answers some requests itself, before any handler runs: 413 for a body
 * over max_request_entity_size, 400 for broken chunked framing, 417 for an
 * unknown Expect. Those answers go through the host's fallback path, where
 * this filter makes their body one line of JSON like every other error of
 * ours, logs them, and, when the connection ends with the request unread,
 * closes it lingeringly. (A request line h2o cannot parse at all gets h2o's
 * fixed plain-text 400, written straight to the socket.)
 */
struct hg_http_error_ostream {
	h2o_ostream_t super;
};

static void on_error_send(h2o_ostream_t *self, h2o_req_t *req, h2o_iovec_t *bufs, size_t bufcnt,
			  h2o_send_state_t state)
{
	char reason[128], peer[64];
	size_t n = 0;
	for (size_t i = 0; i != bufcnt && n < sizeof(reason) - 1; ++i) {
		size_t take =
		    bufs[i].len < sizeof(reason) - 1 - n ? bufs[i].len : sizeof(reason) - 1 - n;
		memcpy(reason + n, bufs[i].base, take);
		n += take;
	}
	reason[n] = '\0';
	if (n == 0)
		snprintf(reason, sizeof(reason), "%s",
			 req->res.reason != NULL ? req->res.reason : "error");

	struct hg_buf b = {0};
	int ok = hg_buf_puts(&b, "{\"error\":") == HG_OK &&
		 hg_buf_json_str(&b, reason, strlen(reason)) == HG_OK &&
		 hg_buf_puts(&b, "}\n") == HG_OK;
	h2o_iovec_t json = ok ? h2o_strdup(&req->pool, (const char *)b.data, b.len)
			      : h2o_iovec_init(H2O_STRLIT("{\"error\":\"out of memory\"}\n"));
	hg_buf_free(&b);
	req->res.content_length = json.len;
	ssize_t ct = h2o_find_header(&req->res.headers, H2O_TOKEN_CONTENT_TYPE, -1);
	if (ct >= 0)
		req->res.headers.entries[ct].value = h2o_iovec_init(H2O_STRLIT("application/json"));

	char path[256];
	span_text(path, sizeof(path), req->input.path.base, req->input.path.len);
	peer_text(req->conn, peer, sizeof(peer));
	hg_log(HG_LOG_INFO, "request", "path", HG_LS(path), "status", HG_LI(req->res.status),
	       "peer", HG_LS(peer), "outcome", HG_LS("rejected"), "reason", HG_LS(reason), NULL);
	h2o_ostream_send_next(self, req, bufcnt != 0 ? &json : NULL, bufcnt != 0 ? 1 : 0, state);
}

static void on_error_setup(h2o_filter_t *self, h2o_req_t *req, h2o_ostream_t **slot)
{
	(void)self;
	struct hg_http_error_ostream *os = (void *)h2o_add_ostream(req, sizeof(*os), slot);
	os->super.do_send = on_error_send;
	if (!req->http1_is_persistent)
		conn_want_linger(req);
	h2o_setup_next_ostream(req, &os->super.next);
}

/* The request's id: a valid X-Request-Id as sent, else a new UUID. */
static void request_id_of(h2o_req_t *req, char out[HG_REQUEST_ID_MAX + 1])
{
	ssize_t i = h2o_find_header_by_str(&req->headers, H2O_STRLIT("x-request-id"), -1);
	if (i >= 0 && hg_request_id_valid(req->headers.entries[i].value.base,
					  req->headers.entries[i].value.len)) {
		memcpy(out, req->headers.entries[i].value.base, req->headers.entries[i].value.len);
		out[req->headers.entries[i].value.len] = '\0';
		return;
	}
	hg_uuid7(out);
}

static int on_req_run(h2o_handler_t *self, h2o_req_t *req, struct hg_http_req *hreq);

/* Every line logged while the request is handled on this thread names it. */
static int on_req(h2o_handler_t *self, h2o_req_t *req)
{
	struct hg_http_req *hreq = h2o_mem_alloc_pool(&req->pool, sizeof(*hreq));
	memset(hreq, 0, sizeof(*hreq));
	request_id_of(req, hreq->request_id);
	hg_log_set_request_id(hreq->request_id);
	int rc = on_req_run(self, req, hreq);
	hg_log_set_request_id(NULL);
	return rc;
}

static int on_req_run(h2o_handler_t *self, h2o_req_t *req, struct hg_http_req *hreq)
{
	struct hg_http_handler *h = (struct hg_http_handler *)self;
	struct hg_http_impl *impl = h2o_mem_alloc_pool(&req->pool, sizeof(*impl));

	impl->req = req;
	impl->loop = H2O_STRUCT_FROM_MEMBER(struct hg_http_loop, ctx, req->conn->ctx);
	hreq->impl = impl;
	hreq->start_us = hg_mono_us();
	hreq->method = req->method.base;
	hreq->method_len = req->method.len;
	hreq->path = req->path.base;
	hreq->path_len = req->query_at != SIZE_MAX ? req->query_at : req->path.len;
	if (req->query_at != SIZE_MAX) {
		hreq->query = req->path.base + req->query_at + 1;
		hreq->query_len = req->path.len - req->query_at - 1;
	}
	hreq->body = (const uint8_t *)req->entity.base;
	hreq->body_len = req->entity.base != NULL ? req->entity.len : 0;
	peer_text(req->conn, hreq->peer, sizeof(hreq->peer));

	/* Framing first: any answer on a badly framed request must close the
	 * connection, or the rest of its bytes would be served as a request. */
	const char *framing = framing_problem(req);
	if (framing != NULL) {
		req->http1_is_persistent = 0;
		conn_want_linger(req);
		hg_http_respond_error(hreq, 400, NULL, framing);
		return 0;
	}
	size_t header_bytes = 0;
	for (size_t i = 0; i != req->headers.size; ++i)
		header_bytes +=
		    req->headers.entries[i].name->len + req->headers.entries[i].value.len;
	if (header_bytes > HG_HTTP_MAX_HEADER_BYTES) {
		req->http1_is_persistent = 0;
		conn_want_linger(req);
		hg_http_respond_error(hreq, 431, NULL, "request headers too large");
		return 0;
	}

	const struct hg_http_route *r = route_find(h->srv, hreq->path, hreq->path_len);
	if (r == NULL) {
		hg_http_respond_error(hreq, 404, NULL, "not found");
		return 0;
	}
	r->fn(hreq, r->arg);
	return 0;
}

/* ---- connections and loops ---- */

static void on_accept(h2o_socket_t *listener, const char *err);

/* The connection is gone (and, when it lingered, drained): it no longer
 * counts against the cap, so a loop paused at the cap takes new clients. */
static void conn_release(struct hg_http_conn *conn)
{
	struct hg_http_loop *loop = conn->loop;
	free(conn);
	loop->nconns--;
	atomic_fetch_sub(&loop->srv->open_conns, 1);
	if (loop->paused && !loop->closing) {
		loop->paused = 0;
		if (!loop->resting)
			h2o_socket_read_start(loop->listener, on_accept);
	}
}

/*
 * Lingering close. h2o 2.2 closes an HTTP/1 connection as soon as an answer
 * that ends it (413 for a body over the limit, 400 for bad framing) is
 * written, with the rest of the request still unread; the kernel then
 * resets the connection, and a client still sending its body may never read
 * the answer. So when such an answer starts we keep a duplicate of the
 * socket's descriptor: h2o's close() then only drops its copy, and ours
 * shuts down writing (the answer is followed by a FIN) and reads and
 * discards what the client still sends, until it closes, for at most
 * HG_HTTP_LINGER_MS and HG_HTTP_LINGER_BYTES. The connection keeps its place
 * under max_connections until then, so lingering cannot run past the cap.
 */
static void conn_want_linger(h2o_req_t *req)
{
	h2o_conn_t *c = req->conn;
	h2o_socket_t *sock = c->callbacks->get_socket != NULL ? c->callbacks->get_socket(c) : NULL;
	if (req->version >= 0x200 || sock == NULL || sock->on_close.cb != on_conn_close)
		return;
	struct hg_http_conn *conn = sock->on_close.data;
	if (conn->linger_fd < 0)
		conn->linger_fd = fcntl(h2o_socket_get_fd(sock), F_DUPFD_CLOEXEC, 0);
	/* no descriptor left: the connection closes the plain way */
}

static void linger_end(struct hg_http_conn *conn)
{
	if (h2o_timeout_is_linked(&conn->linger_timer))
		h2o_timeout_unlink(&conn->linger_timer);
	h2o_socket_close(conn->linger);
	conn_release(conn);
}

static void on_linger_read(h2o_socket_t *sock, const char *err)
{
	struct hg_http_conn *conn = sock->data;
	if (err == NULL) {
		conn->linger_bytes += sock->input->size;
		h2o_buffer_consume(&sock->input, sock->input->size);
		if (conn->linger_bytes <= HG_HTTP_LINGER_BYTES)
			return;
	}
	linger_end(conn); /* the client closed, failed, or sent too much */
}

static void on_linger_timeout(h2o_timeout_entry_t *entry)
{
	linger_end(H2O_STRUCT_FROM_MEMBER(struct hg_http_conn, linger_timer, entry));
}

static void on_conn_close(void *data)
{
	struct hg_http_conn *conn = data;
	struct hg_http_loop *loop = conn->loop;
	int fd = conn->linger_fd;
	h2o_linklist_unlink(&conn->link);
	conn->sock = NULL;
	conn->linger_fd = -1;
	if (fd >= 0 && (loop->closing || shutdown(fd, SHUT_WR) != 0)) {
		close(fd);
		fd = -1;
	}
	if (fd < 0) {
		conn_release(conn);
		return;
	}
	conn->linger = h2o_evloop_socket_create(loop->ctx.loop, fd, 0);
	conn->linger->data = conn;
	conn->linger_timer.cb = on_linger_timeout;
	h2o_timeout_link(loop->ctx.loop, &loop->linger_timeout, &conn->linger_timer);
	h2o_socket_read_start(conn->linger, on_linger_read);
}

/*
 * Out of descriptors, accept() fails while the listener stays readable: the
 * loop would spin. The listener rests HG_HTTP_ACCEPT_BACKOFF_MS instead
 * (clients wait in the backlog), and the condition is logged once a second
 * at most.
 */
static void accept_rest(struct hg_http_loop *loop, int err)
{
	int64_t now = hg_mono_us() / 1000;
	if (now - loop->rest_logged_ms >= 1000) {
		loop->rest_logged_ms = now;
		hg_log(HG_LOG_WARN, "cannot accept connections: out of file descriptors; pausing",
		       "error", HG_LS(strerror(err)), "open_connections",
		       HG_LI((int64_t)loop->nconns), NULL);
	}
	h2o_socket_read_stop(loop->listener);
	loop->resting = 1;
	h2o_timeout_link(loop->ctx.loop, &loop->rest_timeout, &loop->rest);
}

static void on_rest_over(h2o_timeout_entry_t *entry)
{
	struct hg_http_loop *loop = H2O_STRUCT_FROM_MEMBER(struct hg_http_loop, rest, entry);
	loop->resting = 0;
	if (!loop->closing && !loop->paused && loop->listener != NULL)
		h2o_socket_read_start(loop->listener, on_accept);
}

/*
 * h2o 2.2 bounds reading a request (request_timeout) but not writing its
 * answer: a client that sends requests and never reads the answers would
 * keep its connection, and its place under max_connections, for good. Once
 * a second each loop looks at its connections; one whose answer has made no
 * progress for request_timeout is shut down, so h2o's pending write fails
 * and h2o closes the connection through its own path.
 */
static void on_sweep(h2o_timeout_entry_t *entry)
{
	struct hg_http_loop *loop = H2O_STRUCT_FROM_MEMBER(struct hg_http_loop, sweep, entry);
	int64_t now = hg_mono_us() / 1000, limit = loop->srv->opts.request_timeout_ms;
	for (h2o_linklist_t *n = loop->conns.next; n != &loop->conns; n = n->next) {
		struct hg_http_conn *conn = H2O_STRUCT_FROM_MEMBER(struct hg_http_conn, link, n);
		h2o_socket_t *sock = conn->sock;
		if (!h2o_socket_is_writing(sock) || sock->bytes_written != conn->seen_written) {
			conn->seen_written = sock->bytes_written;
			conn->stuck_since = 0;
		} else if (conn->stuck_since == 0) {
			conn->stuck_since = now;
		} else if (now - conn->stuck_since >= limit) {
			char peer[64];
			struct sockaddr_storage ss;
			addr_text(&ss, h2o_socket_getpeername(sock, (struct sockaddr *)&ss), peer,
				  sizeof(peer));
			hg_log(HG_LOG_WARN, "closing a connection whose client stopped reading",
			       "peer", HG_LS(peer), "stalled_ms", HG_LI(now - conn->stuck_since),
			       NULL);
			conn->stuck_since = now; /* once; h2o closes it on the failed write */
			shutdown(h2o_socket_get_fd(sock), SHUT_RDWR);
		}
	}
	if (!loop->closing)
		h2o_timeout_link(loop->ctx.loop, &loop->sweep_timeout, &loop->sweep);
}

/* At shutdown: h2o 2.2 ends HTTP/2 connections gracefully itself but leaves
 * idle HTTP/1 keep-alive ones open until they time out; those (no request
 * bytes waiting, nothing being written) are shut down now, so a stop does
 * not wait for every pooled client. Busy ones finish their request (h2o
 * answers it with Connection: close). */
static void close_idle(struct hg_http_loop *loop)
{
	for (h2o_linklist_t *n = loop->conns.next; n != &loop->conns; n = n->next) {
		struct hg_http_conn *conn = H2O_STRUCT_FROM_MEMBER(struct hg_http_conn, link, n);
		h2o_socket_t *sock = conn->sock;
		const char *alpn =
		    sock->ssl != NULL ? h2o_socket_ssl_get_selected_protocol(sock).base : NULL;
		int http2 = alpn != NULL && h2o_socket_ssl_get_selected_protocol(sock).len == 2 &&
			    memcmp(alpn, "h2", 2) == 0;
		if (!http2 && !h2o_socket_is_writing(sock) && sock->input->size == 0)
			shutdown(h2o_socket_get_fd(sock), SHUT_RDWR);
	}
}

static void on_accept(h2o_socket_t *listener, const char *err)
{
	struct hg_http_loop *loop = listener->data;
	if (err != NULL)
		return;
	for (int i = 0; i != HG_HTTP_ACCEPT_BURST; ++i) {
		if (loop->nconns >= loop->max_conns) {
			/* At the cap: stop accepting; the kernel backlog holds new
			 * clients until a connection of this loop closes
			 * (conn_release() starts accepting again). */
			h2o_socket_read_stop(loop->listener);
			loop->paused = 1;
			return;
		}
		errno = 0;
		h2o_socket_t *sock = h2o_evloop_socket_accept(listener);
		if (sock == NULL) {
			if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS ||
			    errno == ENOMEM)
				accept_rest(loop, errno);
			return;
		}
		struct hg_http_conn *conn = calloc(1, sizeof(*conn));
		if (conn == NULL) {
			h2o_socket_close(sock);
			return;
		}
		conn->loop = loop;
		conn->sock = sock;
		conn->seen_written = sock->bytes_written;
		h2o_linklist_insert(&loop->conns, &conn->link);
		conn->linger_fd = -1;
		loop->nconns++;
		atomic_fetch_add(&loop->srv->open_conns, 1);
		sock->on_close.cb = on_conn_close;
		sock->on_close.data = conn;
		h2o_accept(&loop->accept_ctx, sock);
	}
}

static void on_control(h2o_multithread_receiver_t *receiver, h2o_linklist_t *messages)
{
	struct hg_http_loop *loop = H2O_STRUCT_FROM_MEMBER(struct hg_http_loop, control, receiver);
	while (!h2o_linklist_is_empty(messages)) {
		h2o_multithread_message_t *m =
		    H2O_STRUCT_FROM_MEMBER(h2o_multithread_message_t, link, messages->next);
		h2o_linklist_unlink(&m->link);
		free(m);
	}
	if (!loop->closing && loop->listener != NULL) {
		loop->closing = 1;
		h2o_socket_read_stop(loop->listener);
		h2o_socket_close(loop->listener);
		loop->listener = NULL;
		loop->fd = -1;
		/* HTTP/2 connections get a GOAWAY, busy HTTP/1 ones close after
		 * their current request, idle HTTP/1 ones now. */
		h2o_context_request_shutdown(&loop->ctx);
		close_idle(loop);
	}
}

static int loop_init(struct hg_http_server *srv, struct hg_http_loop *loop, h2o_hostconf_t **hosts);

static void *loop_main(void *arg)
{
	struct hg_http_loop *loop = arg;
	/* Every socket of the loop (the listener, the pipe of its message
	 * queue) is created HERE, on the loop's own thread: h2o takes a
	 * socket's buffers from the recycle bins of the thread that created it
	 * (the thread-local h2o_socket_buffer_prototype), and those bins have
	 * no lock. Created on the main thread, every loop's queue pipe shared
	 * the main thread's bins, and loops woken at once by the ingest writer
	 * corrupted the heap. */
	loop_init(loop->srv, loop, loop->srv->config.hosts);
	sem_post(&loop->srv->ready);
	/* The request lines of one turn of the loop leave together, before
	 * it waits again (hg_log_hold). */
	while (!atomic_load(&loop->srv->exit_loops)) {
		hg_log_hold();
		h2o_evloop_run(loop->ctx.loop, 100);
		hg_log_release();
	}
	/* The gate is closed: answers handed over before it closed are
	 * delivered (h2o insists a receiver is empty when it goes). */
	h2o_evloop_run(loop->ctx.loop, 0);
	/* The loop's resources can only go on its own thread, and only once no
	 * connection is left on it; a straggler past the drain time keeps them
	 * (the process is exiting anyway). */
	h2o_multithread_unregister_receiver(loop->queue, &loop->answers);
	h2o_multithread_unregister_receiver(loop->queue, &loop->control);
	h2o_multithread_destroy_queue(loop->queue);
	loop->queue = NULL;
	if (loop->nconns == 0) {
		h2o_loop_t *evloop = loop->ctx.loop;
		/* request_shutdown() arms HTTP/2's graceful-close timer even with
		 * no HTTP/2 connection; h2o_context_dispose() insists it is idle. */
		if (h2o_timeout_is_linked(&loop->ctx.http2._graceful_shutdown_timeout))
			h2o_timeout_unlink(&loop->ctx.http2._graceful_shutdown_timeout);
		h2o_timeout_dispose(evloop, &loop->linger_timeout);
		if (h2o_timeout_is_linked(&loop->sweep))
			h2o_timeout_unlink(&loop->sweep);
		if (h2o_timeout_is_linked(&loop->rest))
			h2o_timeout_unlink(&loop->rest);
		h2o_timeout_dispose(evloop, &loop->sweep_timeout);
		h2o_timeout_dispose(evloop, &loop->rest_timeout);
		h2o_context_dispose(&loop->ctx);
		h2o_evloop_destroy(evloop);
	}
	return NULL;
}

static int parse_host(const char *host, int port, struct sockaddr_storage *ss, socklen_t *sl)
{
	memset(ss, 0, sizeof(*ss));
	struct sockaddr_in *a4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)ss;
	if (host == NULL || host[0] == '\0' || strcmp(host, "0.0.0.0") == 0) {
		a4->sin_family = AF_INET;
		a4->sin_addr.s_addr = htonl(INADDR_ANY);
		a4->sin_port = htons((uint16_t)port);
		*sl = sizeof(*a4);
		return HG_OK;
	}
	if (inet_pton(AF_INET, host, &a4->sin_addr) == 1) {
		a4->sin_family = AF_INET;
		a4->sin_port = htons((uint16_t)port);
		*sl = sizeof(*a4);
		return HG_OK;
	}
	if (inet_pton(AF_INET6, host, &a6->sin6_addr) == 1) {
		a6->sin6_family = AF_INET6;
		a6->sin6_port = htons((uint16_t)port);
		*sl = sizeof(*a6);
		return HG_OK;
	}
	if (strcmp(host, "localhost") == 0)
		return parse_host("127.0.0.1", port, ss, sl);
	return HG_EINVAL;
}

static int open_listener(const struct sockaddr_storage *ss, socklen_t sl, char *err, size_t errlen)
{
	int fd = socket(ss->ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	int on = 1;
	if (fd < 0) {
		snprintf(err, errlen, "cannot create a socket: %s", strerror(errno));
		return -1;
	}
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on)) != 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &on, sizeof(on)) != 0 ||
	    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on)) != 0) {
		snprintf(err, errlen, "cannot set socket options: %s", strerror(errno));
		goto fail;
	}
	if (bind(fd, (const struct sockaddr *)ss, sl) != 0) {
		snprintf(err, errlen, "cannot listen on that address: %s", strerror(errno));
		goto fail;
	}
	if (listen(fd, 1024) != 0) {
		snprintf(err, errlen, "cannot listen: %s", strerror(errno));
		goto fail;
	}
	return fd;
fail:
	close(fd);
	return -1;
}

/* SO_REUSEPORT lets any process of the same user bind the port too, and
 * the kernel would then split clients between two daemons without a word.
 * A socket without it cannot bind where anyone listens: one such probe
 * before our own binds finds another listener. */
static int address_taken(const struct sockaddr_storage *ss, socklen_t sl)
{
	int fd = socket(ss->ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0), on = 1, taken = 0;
	if (fd < 0)
		return 0;
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on)) == 0 &&
	    bind(fd, (const struct sockaddr *)ss, sl) != 0 && errno == EADDRINUSE)
		taken = 1;
	close(fd);
	return taken;
}

/* Each connection needs a descriptor (two while it lingers) and the store,
 * the engine and the logs need some: the soft limit is raised to the hard
 * one, and a cap the limit cannot hold is reported (accept() then rests
 * instead of failing in a loop). */
static void descriptor_room(size_t max_connections)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
		return;
	if (rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		(void)setrlimit(RLIMIT_NOFILE, &rl);
		(void)getrlimit(RLIMIT_NOFILE, &rl);
	}
	uint64_t need = (uint64_t)max_connections + 64;
	if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < need)
		hg_log(HG_LOG_WARN,
		       "max_connections is more than the open-file limit allows; raise the limit "
		       "(ulimit -n, LimitNOFILE=) or lower max_connections",
		       "max_connections", HG_LI((int64_t)max_connections), "nofile_limit",
		       HG_LI((int64_t)rl.rlim_cur), NULL);
}

int hg_http_server_new(const struct hg_http_opts *opts, struct hg_http_server **out)
{
	struct hg_http_server *srv = calloc(1, sizeof(*srv));
	if (srv == NULL)
		return HG_ENOMEM;
	srv->opts = *opts;
	srv->host = strdup(opts->host != NULL ? opts->host : "127.0.0.1");
	if (srv->host == NULL) {
		free(srv);
		return HG_ENOMEM;
	}
	srv->opts.host = srv->host;
	if (srv->opts.threads <= 0) {
		long n = sysconf(_SC_NPROCESSORS_ONLN);
		srv->opts.threads = n > 0 ? (int)n : 1;
	}
	if (srv->opts.max_connections == 0)
		srv->opts.max_connections = 1024;
	/* Each loop takes an even share of the cap and needs at least one. */
	if ((size_t)srv->opts.threads > srv->opts.max_connections)
		srv->opts.threads = (int)srv->opts.max_connections;
	if (srv->opts.request_timeout_ms <= 0)
		srv->opts.request_timeout_ms = 10000;
	pthread_mutex_init(&srv->gate, NULL);
	*out = srv;
	return HG_OK;
}

int hg_http_server_route(struct hg_http_server *srv, const char *prefix, hg_http_handler_fn fn,
			 void *arg)
{
	if (srv->nroutes == HG_HTTP_MAX_ROUTES)
		return HG_ETOOBIG;
	struct hg_http_route *r = srv->routes + srv->nroutes;
	r->prefix = strdup(prefix);
	if (r->prefix == NULL)
		return HG_ENOMEM;
	r->len = strlen(prefix);
	r->exact = r->len == 0 || prefix[r->len - 1] != '/';
	r->fn = fn;
	r->arg = arg;
	srv->nroutes++;
	return HG_OK;
}

static int loop_init(struct hg_http_server *srv, struct hg_http_loop *loop, h2o_hostconf_t **hosts)
{
	loop->srv = srv;
	h2o_context_init(&loop->ctx, h2o_evloop_create(), &srv->config);
	h2o_timeout_init(loop->ctx.loop, &loop->linger_timeout, HG_HTTP_LINGER_MS);
	h2o_timeout_init(loop->ctx.loop, &loop->sweep_timeout, HG_HTTP_SWEEP_MS);
	h2o_timeout_init(loop->ctx.loop, &loop->rest_timeout, HG_HTTP_ACCEPT_BACKOFF_MS);
	h2o_linklist_init_anchor(&loop->conns);
	loop->sweep.cb = on_sweep;
	loop->rest.cb = on_rest_over;
	h2o_timeout_link(loop->ctx.loop, &loop->sweep_timeout, &loop->sweep);
	loop->accept_ctx.ctx = &loop->ctx;
	loop->accept_ctx.hosts = hosts;
	loop->accept_ctx.ssl_ctx = srv->ssl_ctx;
	loop->queue = h2o_multithread_create_queue(loop->ctx.loop);
	h2o_multithread_register_receiver(loop->queue, &loop->answers, on_answers);
	h2o_multithread_register_receiver(loop->queue, &loop->control, on_control);
	loop->listener =
	    h2o_evloop_socket_create(loop->ctx.loop, loop->fd, H2O_SOCKET_FLAG_DONT_READ);
	loop->listener->data = loop;
	h2o_socket_read_start(loop->listener, on_accept);
	return HG_OK;
}

int hg_http_server_start(struct hg_http_server *srv, char *err, size_t errlen)
{
	struct sockaddr_storage ss;
	socklen_t sl;
	int rc = HG_EIO;

	if (parse_host(srv->opts.host, srv->opts.port, &ss, &sl) != HG_OK) {
		snprintf(err, errlen, "cannot listen on '%s': not an IP address", srv->opts.host);
		return HG_EINVAL;
	}

	if (srv->opts.tls_cert != NULL) {
		err[0] = '\0';
		srv->ssl_ctx = tls_context(&srv->opts, err, errlen);
		if (srv->ssl_ctx == NULL)
			return HG_EINVAL;
	}
	h2o_config_init(&srv->config);
	srv->configured = 1;
	srv->config.server_name = h2o_iovec_init(H2O_STRLIT("hookgate"));
	/* h2o refuses a chunked body of exactly its limit (it compares with
	 * >=) but accepts a Content-Length of it: one byte more makes both
	 * refuse what is over max_body, and the handlers' own per-source check
	 * answers a body of exactly max_body + 1 (which h2o then reads). */
	srv->config.max_request_entity_size = srv->opts.max_body + 1;
	srv->config.http1.req_timeout = (uint64_t)srv->opts.request_timeout_ms;
	srv->config.http1.upgrade_to_http2 = 0;
	srv->config.http2.idle_timeout = (uint64_t)srv->opts.request_timeout_ms;
	h2o_hostconf_t *hostconf =
	    h2o_config_register_host(&srv->config, h2o_iovec_init(H2O_STRLIT("default")), 65535);
	h2o_pathconf_t *pathconf = h2o_config_register_path(hostconf, "/", 0);
	struct hg_http_handler *handler =
	    (struct hg_http_handler *)h2o_create_handler(pathconf, sizeof(*handler));
	handler->super.on_req = on_req;
	handler->srv = srv;
	h2o_filter_t *errors = h2o_create_filter(&hostconf->fallback_path, sizeof(*errors));
	errors->on_setup_ostream = on_error_setup;

	srv->nloops = (size_t)srv->opts.threads;
	srv->loops = calloc(srv->nloops, sizeof(*srv->loops));
	if (srv->loops == NULL)
		return HG_ENOMEM;
	for (size_t i = 0; i != srv->nloops; ++i)
		srv->loops[i].fd = -1;

	if (srv->opts.port != 0 && address_taken(&ss, sl)) {
		snprintf(err, errlen,
			 "cannot listen on that address: %s (another process listens there)",
			 strerror(EADDRINUSE));
		return HG_EIO;
	}
	descriptor_room(srv->opts.max_connections);

	/* Bind every listener first, so a bad address fails before any thread
	 * starts; with port 0 the first bind picks the port for the rest. */
	for (size_t i = 0; i != srv->nloops; ++i) {
		struct hg_http_loop *loop = srv->loops + i;
		loop->fd = open_listener(&ss, sl, err, errlen);
		if (loop->fd < 0)
			goto out;
		if (i == 0) {
			struct sockaddr_storage bound;
			socklen_t bl = sizeof(bound);
			getsockname(loop->fd, (struct sockaddr *)&bound, &bl);
			srv->port = ntohs(bound.ss_family == AF_INET
					      ? ((struct sockaddr_in *)&bound)->sin_port
					      : ((struct sockaddr_in6 *)&bound)->sin6_port);
			if (ss.ss_family == AF_INET)
				((struct sockaddr_in *)&ss)->sin_port = htons((uint16_t)srv->port);
			else
				((struct sockaddr_in6 *)&ss)->sin6_port =
				    htons((uint16_t)srv->port);
		}
		size_t share = srv->opts.max_connections / srv->nloops;
		loop->max_conns = share > 0 ? share : 1;
	}
	if (sem_init(&srv->ready, 0, 0) != 0) {
		snprintf(err, errlen, "cannot start the event loops: %s", strerror(errno));
		goto out;
	}
	srv->have_ready = 1;
	for (size_t i = 0; i != srv->nloops; ++i) {
		struct hg_http_loop *loop = srv->loops + i;
		loop->srv = srv;
		if (pthread_create(&loop->tid, NULL, loop_main, loop) != 0) {
			snprintf(err, errlen, "cannot start an event-loop thread");
			goto out;
		}
		loop->started = 1;
		/* stop() may message the loop as soon as this returns */
		while (sem_wait(&srv->ready) != 0 && errno == EINTR)
			;
	}
	rc = HG_OK;
out:
	return rc;
}

int hg_http_server_port(const struct hg_http_server *srv)
{
	return srv->port;
}

void hg_http_server_stop(struct hg_http_server *srv)
{
	if (srv->loops == NULL || srv->stopped)
		return;
	srv->stopped = 1;
	for (size_t i = 0; i != srv->nloops; ++i) {
		struct hg_http_loop *loop = srv->loops + i;
		if (!loop->started)
			continue;
		h2o_multithread_message_t *m = calloc(1, sizeof(*m));
		if (m != NULL)
			h2o_multithread_send_message(&loop->control, m);
	}
	/* Let deferred answers reach their clients and connections close
	 * before the loops end. */
	for (int waited = 0;
	     (atomic_load(&srv->pending) > 0 || atomic_load(&srv->open_conns) > 0) &&
	     waited < HG_HTTP_DRAIN_MS;
	     waited += 10)
		usleep(10 * 1000);
	pthread_mutex_lock(&srv->gate);
	srv->gate_closed = 1;
	pthread_mutex_unlock(&srv->gate);
	atomic_store(&srv->exit_loops, 1);
	for (size_t i = 0; i != srv->nloops; ++i)
		if (srv->loops[i].started) {
			pthread_join(srv->loops[i].tid, NULL);
			srv->loops[i].started = 0;
		}
}

void hg_http_server_free(struct hg_http_server *srv)
{
	if (srv == NULL)
		return;
	hg_http_server_stop(srv);
	for (size_t i = 0; srv->loops != NULL && i != srv->nloops; ++i) {
		struct hg_http_loop *loop = srv->loops + i;
		if (loop->fd >= 0 && loop->listener == NULL)
			close(loop->fd);
	}
	free(srv->loops);
	if (srv->have_ready)
		sem_destroy(&srv->ready);
	pthread_mutex_destroy(&srv->gate);
	if (srv->configured)
		h2o_config_dispose(&srv->config);
	SSL_CTX_free(srv->ssl_ctx);
	for (size_t i = 0; i != srv->nroutes; ++i)
		free(srv->routes[i].prefix);
	free(srv->host);
	free(srv);
}
