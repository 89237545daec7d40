/*
 * http.h — the HTTP front end. This module is the only code that includes
 * h2o: it owns the listeners (one event loop per thread on a SO_REUSEPORT
 * socket), the limits (request deadline, body cap, connection cap), routing
 * by path prefix and the per-request JSON log line.
 *
 * Handlers run on an event-loop thread and must not block. A handler either
 * answers at once with hg_http_respond(), or calls hg_http_defer() and later
 * answers from any thread with hg_http_pending_respond().
 */
#ifndef HG_HTTP_H
#define HG_HTTP_H

#include <stddef.h>
#include <stdint.h>

#include "util/util.h"

struct hg_http_server;

/* A request as handlers see it. Every pointer is valid until the request is
 * answered (hg_http_respond / hg_http_defer); nothing is NUL-terminated
 * except peer. */
struct hg_http_req {
	const char *method;
	size_t method_len;
	const char *path; /* without the query */
	size_t path_len;
	const char *query; /* after '?', NULL when absent */
	size_t query_len;
	const uint8_t *body;
	size_t body_len;
	char peer[64];    /* client address, textual */
	int64_t start_us; /* hg_mono_us() when the request was complete */
	/* The request's id: its X-Request-Id when valid (hg_request_id_valid),
	 * else a new UUID. Every line logged while a handler runs carries it,
	 * and the answer returns it in X-Request-Id. */
	char request_id[HG_REQUEST_ID_MAX + 1];
	void *impl; /* the adapter's own state */
};

/* An answer. headers: NULL or a NULL-terminated list of name, value pairs.
 * The log_* fields only go into the request's log line (never a body or a
 * secret there). */
struct hg_http_resp {
	int status;
	const char *content_type;
	const void *body;
	size_t body_len;
	const char *const *headers;
	const char *log_source;
	const char *log_outcome;
	const char *log_id;
	const char *log_reason;
	int log_quiet; /* a probe's answer (/healthz, /readyz, /metrics): no log line unless >= 500
			*/
};

/* First value of header name (case-insensitive), or NULL; *len gets its length. */
const char *hg_http_header(const struct hg_http_req *req, const char *name, size_t *len);
/* Same, shaped for struct hg_verify_input.header (ctx is the request). */
const char *hg_http_header_cb(void *req, const char *name, size_t *len);

/* Calls fn for every request header in order (names are lower-case). */
void hg_http_header_each(const struct hg_http_req *req,
			 void (*fn)(const char *name, size_t nlen, const char *val, size_t vlen,
				    void *arg),
			 void *arg);

/* 1 when the request came over TLS. */
int hg_http_is_tls(const struct hg_http_req *req);
/* 1 when this connection presented a client certificate that verified
 * against the configured client CA and whose subject CN or one of whose DNS
 * subjectAltNames equals name (exactly, case-insensitively); else 0. */
int hg_http_client_cert_matches(const struct hg_http_req *req, const char *name);

/* Answers now; req is gone afterwards. */
void hg_http_respond(struct hg_http_req *req, const struct hg_http_resp *resp);
/* Shorthand: JSON {"error":"reason"} with status, reason also logged. */
void hg_http_respond_error(struct hg_http_req *req, int status, const char *source,
			   const char *reason);

/* Detaches the answer from the loop. The returned pending answer must be
 * completed exactly once with hg_http_pending_respond(), from any thread;
 * if the client went away meanwhile, the answer is dropped. After
 * hg_http_defer() the req pointers stay valid only until the handler
 * returns: copy what you need. */
struct hg_http_pending *hg_http_defer(struct hg_http_req *req);
/* Copies resp (body and headers included); frees the pending answer. */
void hg_http_pending_respond(struct hg_http_pending *p, const struct hg_http_resp *resp);

typedef void (*hg_http_handler_fn)(struct hg_http_req *req, void *arg);

struct hg_http_opts {
	const char *host;
	int port;
	int threads;     /* event loops; 0 = one per core */
	size_t max_body; /* largest body accepted by any route (413 above) */
	int64_t request_timeout_ms;
	size_t max_connections; /* across all loops; further accepts wait */
	/* TLS: cert and key files (PEM) turn it on; client_ca enables client
	 * certificates, optional or required at the handshake. */
	const char *tls_cert;
	const char *tls_key;
	const char *tls_client_ca;
	int tls_client_cert; /* enum hg_client_cert */
};

int hg_http_server_new(const struct hg_http_opts *opts, struct hg_http_server **out);
/* Routes a path prefix (longest match wins; "/in/" matches "/in/x", "/healthz"
 * matches exactly that path). Call before hg_http_server_start(). */
int hg_http_server_route(struct hg_http_server *srv, const char *prefix, hg_http_handler_fn fn,
			 void *arg);
/* Binds and starts the loops; err gets one sentence on failure. */
int hg_http_server_start(struct hg_http_server *srv, char *err, size_t errlen);
/* The bound port (useful with port 0). */
int hg_http_server_port(const struct hg_http_server *srv);
/* Stops accepting, lets in-flight requests finish (bounded), joins the loops. */
void hg_http_server_stop(struct hg_http_server *srv);
void hg_http_server_free(struct hg_http_server *srv);

#endif
