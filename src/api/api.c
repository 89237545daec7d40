/*
 * api.c — the management API's front: the /api/ and /metrics handlers on
 * the event loops (token, route, query parameters), the queue, and the
 * worker threads that run the operations (ops.c) on their own store
 * connections and answer with hg_http_pending_respond().
 *
 * Hot path (the handlers): no I/O and nothing that blocks beyond the queue's
 * mutex; one allocation for the job plus the pending answer. A bad token, an
 * unknown path or a malformed parameter is answered on the loop at once, so
 * only well-formed, authorized requests ever reach a worker. The queue is
 * bounded (HG_API_MAX_QUEUE): past it the API answers 503 rather than let a
 * flood of queries pile up memory.
 *
 * The admin token is kept only as its SHA-256 digest and a presented token
 * is compared by digest with hg_ct_equal(), so the comparison takes the same
 * time whatever the token's contents or length. Tokens are never logged; a
 * wrong one is audit-logged with the client's address.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "api/api_internal.h"
#include "config/config.h"
#include "console/console.h"
#include "http/http.h"
#include "ingest/ingest.h"

static const char json_type[] = "application/json";

/* The query parameters (their index in param_names), and as bits of a
 * route's set. */
enum {
	Q_SOURCE,
	Q_STATUS,
	Q_SINCE,
	Q_UNTIL,
	Q_LIMIT,
	Q_CURSOR,
	Q_ENDPOINT,
	Q_HOURS,
	Q_ACTION,
	Q_DEDUPE,
	Q_N
};
enum {
	P_SOURCE = 1 << Q_SOURCE,
	P_STATUS = 1 << Q_STATUS,
	P_SINCE = 1 << Q_SINCE,
	P_UNTIL = 1 << Q_UNTIL,
	P_LIMIT = 1 << Q_LIMIT,
	P_CURSOR = 1 << Q_CURSOR,
	P_ENDPOINT = 1 << Q_ENDPOINT,
	P_HOURS = 1 << Q_HOURS,
	P_ACTION = 1 << Q_ACTION,
	P_DEDUPE = 1 << Q_DEDUPE,
};
static const char *const param_names[Q_N] = {
    [Q_SOURCE] = "source",     [Q_STATUS] = "status", [Q_SINCE] = "since",
    [Q_UNTIL] = "until",       [Q_LIMIT] = "limit",   [Q_CURSOR] = "cursor",
    [Q_ENDPOINT] = "endpoint", [Q_HOURS] = "hours",   [Q_ACTION] = "action",
    [Q_DEDUPE] = "dedupe_key",
};

struct api_route {
	const char *method;
	const char *pattern; /* after /api/v1/; a '*' segment is the job's arg */
	unsigned params;     /* the query parameters it takes */
	char cursor_kind;    /* what its cursors carry: 'm' message ids, 'd' delivery ids,
			      * HG_API_CURSOR_SEQ audit rows */
	api_op_fn op;
};

static const struct api_route routes[] = {
    {"GET", "messages", P_SOURCE | P_STATUS | P_SINCE | P_UNTIL | P_LIMIT | P_CURSOR | P_DEDUPE,
     'm', hg_api_op_list_messages},
    {"GET", "messages/*", 0, 0, hg_api_op_show_message},
    {"POST", "messages/*/replay", 0, 0, hg_api_op_replay},
    {"GET", "deliveries", P_STATUS | P_ENDPOINT | P_LIMIT | P_CURSOR, 'd',
     hg_api_op_list_deliveries},
    {"POST", "deliveries/*/retry", 0, 0, hg_api_op_retry},
    {"GET", "endpoints", 0, 0, hg_api_op_endpoints},
    {"POST", "endpoints/*/retry-dead", 0, 0, hg_api_op_retry_dead},
    {"GET", "stats", P_SOURCE | P_HOURS, 0, hg_api_op_stats},
    {"GET", "alerts", 0, 0, hg_api_op_alerts},
    {"GET", "sources", 0, 0, hg_api_op_sources},
    {"GET", "audit/verify", 0, 0, hg_api_op_audit_verify},
    {"GET", "media/*", 0, 0, hg_api_op_get_media},
    {"GET", "audit", P_SOURCE | P_ACTION | P_SINCE | P_UNTIL | P_LIMIT | P_CURSOR,
     HG_API_CURSOR_SEQ, hg_api_op_list_audit},
};
#define HG_API_NROUTES (sizeof(routes) / sizeof(routes[0]))

/* Answers an error on the loop, with extra headers when given. */
static void reply_error(struct hg_http_req *req, int status, const char *reason,
			const char *const *headers)
{
	struct hg_buf b = {0};

	hg_buf_puts(&b, "{\"error\":");
	hg_buf_json_str(&b, reason, strlen(reason));
	if (headers == NULL || hg_buf_puts(&b, "}\n") != HG_OK) {
		hg_buf_free(&b);
		hg_http_respond_error(req, status, NULL, reason);
		return;
	}
	struct hg_http_resp resp = {.status = status,
				    .content_type = json_type,
				    .body = b.data,
				    .body_len = b.len,
				    .headers = headers,
				    .log_outcome = "rejected",
				    .log_reason = reason};
	hg_http_respond(req, &resp);
	hg_buf_free(&b);
}

/* A request without an Authorization header may come from the console with
 * its session cookie: 1 when it does and the session (and, for anything
 * but GET, its CSRF token) is good; -1 when it was answered (401 for a
 * session that ended, 403 for a missing or wrong CSRF token); 0 when there
 * is no session cookie. */
int hg_api_console_auth(struct hg_api *api, struct hg_http_req *req)
{
	switch (hg_console_check(api->console, req)) {
	case HG_CONSOLE_OK:
		return 1;
	case HG_CONSOLE_EXPIRED:
		hg_http_respond_error(req, 401, NULL,
				      "the console session has ended; sign in again");
		return -1;
	case HG_CONSOLE_CSRF:
		hg_ingest_refusal(api->ingest, "console_csrf", NULL, req->peer,
				  "missing or wrong X-CSRF-Token");
		hg_http_respond_error(req, 403, NULL,
				      "missing or wrong X-CSRF-Token for this console session");
		return -1;
	default:
		return 0;
	}
}

/* 1 when the request carries the admin token (or a console session:
 * *console set); else it was answered 401 or 403. */
static int authorized(struct hg_api *api, struct hg_http_req *req, int *console)
{
	static const char *const challenge[] = {"www-authenticate", "Bearer realm=\"hookgate\"",
						NULL};
	const char *hdr = NULL, *tok, *reason;
	uint8_t digest[32];
	size_t hlen = 0, tlen = 0;
	int c;

	*console = 0;
	if (api->have_token && hg_http_header(req, "authorization", &hlen) == NULL &&
	    (c = hg_api_console_auth(api, req)) != 0) {
		*console = c > 0;
		return c > 0;
	}
	if (!api->have_token) {
		reason = "the management API is off: admin_token_env is not set in the "
			 "configuration; set it to the name of an environment variable that "
			 "holds the token and restart hookgate";
	} else if ((hdr = hg_http_header(req, "authorization", &hlen)) == NULL) {
		reason = "missing Authorization header; send Authorization: Bearer <admin token>";
	} else if (hg_api_bearer(hdr, hlen, &tok, &tlen) != HG_OK) {
		reason = "the Authorization header must be Bearer <admin token>";
	} else {
		hg_sha256((const uint8_t *)tok, tlen, digest);
		if (hg_ct_equal(digest, api->token_hash, sizeof(digest)))
			return 1;
		reason = "invalid admin token";
	}
	if (api->have_token && hdr != NULL)
		hg_ingest_refusal(api->ingest, "api_unauthorized", NULL, req->peer, reason);
	reply_error(req, 401, reason, challenge);
	return 0;
}

static int method_is(const struct hg_http_req *req, const char *m)
{
	return req->method_len == strlen(m) && memcmp(req->method, m, req->method_len) == 0;
}

/* 1 when path[0, len) matches pattern; the '*' segment lands in *arg. */
int hg_api_path_matches(const char *pattern, const char *path, size_t len, const char **arg,
			size_t *arglen)
{
	size_t i = 0, start;

	for (const char *p = pattern; *p != '\0'; p++) {
		if (*p != '*') {
			if (i >= len || path[i] != *p)
				return 0;
			i++;
			continue;
		}
		for (start = i; i < len && path[i] != '/'; i++)
			;
		if (i == start)
			return 0;
		*arg = path + start;
		*arglen = i - start;
	}
	return i == len;
}

/* 1 when v is a whole number from 1 to max (into *out). */
static int whole(const char *v, long max, long *out)
{
	char *end;

	errno = 0;
	*out = strtol(v, &end, 10);
	return v[0] != '\0' && *end == '\0' && errno == 0 && *out >= 1 && *out <= max;
}

/* 1 when v is a name that fits dst (copied there). */
static int name_into(const char *v, char *dst, size_t cap)
{
	return v[0] != '\0' && hg_strlcpy(dst, v, cap) < cap;
}

/* Checks one parameter's decoded value v into p; NULL or the reason it is
 * refused. */
static const char *param_set(int which, const char *v, char kind, struct api_params *p)
{
	long n;

	switch (which) {
	case Q_SOURCE:
		return name_into(v, p->source, sizeof(p->source)) ? NULL
								  : "source must be a source name";
	case Q_ACTION:
		return name_into(v, p->action, sizeof(p->action))
			   ? NULL
			   : "action must be an audit event name";
	case Q_ENDPOINT:
		return name_into(v, p->endpoint, sizeof(p->endpoint))
			   ? NULL
			   : "endpoint must be an endpoint name";
	case Q_STATUS:
		p->status = hg_api_status_parse(v);
		if (kind == 'd' && (p->status < 0 || p->status == HG_STORE_NO_DELIVERIES))
			return "status must be one of pending, delivering, succeeded, failed, dead";
		return p->status >= 0 ? NULL
				      : "status must be one of pending, delivering, succeeded, "
					"failed, dead, none";
	case Q_SINCE:
	case Q_UNTIL:
		if (hg_api_parse_time(v, which == Q_SINCE ? &p->since_ms : &p->until_ms) == HG_OK)
			return NULL;
		return which == Q_SINCE ? "since must be a time: ms since the epoch or ISO 8601 "
					  "such as 2024-01-15T10:30:00Z"
					: "until must be a time: ms since the epoch or ISO 8601 "
					  "such as 2024-01-15T10:30:00Z";
	case Q_LIMIT:
		if (!whole(v, HG_API_MAX_LIMIT, &n))
			return "limit must be a whole number from 1 to 500";
		p->limit = (size_t)n;
		return NULL;
	case Q_DEDUPE:
		return name_into(v, p->dedupe_key, sizeof(p->dedupe_key))
			   ? NULL
			   : "dedupe_key must be 1 to 255 bytes";
	case Q_HOURS:
		if (!whole(v, HG_API_MAX_HOURS, &n))
			return "hours must be a whole number from 1 to 744";
		p->hours = (int)n;
		return NULL;
	default: /* Q_CURSOR */
		if (hg_api_cursor_decode(v, strlen(v), kind, p->cursor_id) != HG_OK)
			return "cursor is not one this list handed out; start again without it";
		return NULL;
	}
}

/* Parses the query string for route r into p. NULL, or the reason for a
 * 400 (into why when it names the parameter). */
static const char *parse_params(const struct hg_http_req *req, const struct api_route *r,
				struct api_params *p, char *why, size_t whylen)
{
	const char *q = req->query, *end = req->query != NULL ? req->query + req->query_len : NULL;
	const char *k, *v, *bad;
	char value[256];
	size_t kl, vl;
	unsigned seen = 0;
	int i;

	*p = (struct api_params){.status = -1,
				 .since_ms = INT64_MIN,
				 .until_ms = INT64_MAX,
				 .limit = HG_API_DEFAULT_LIMIT,
				 .hours = 24};
	while (hg_query_next(&q, end, &k, &kl, &v, &vl)) {
		for (i = 0; i < Q_N; i++)
			if (strlen(param_names[i]) == kl && memcmp(param_names[i], k, kl) == 0)
				break;
		if (i == Q_N || !(r->params & (1u << i))) {
			snprintf(why, whylen, "unknown query parameter '%.*s' for this path",
				 (int)(kl < 32 ? kl : 32), k);
			return why;
		}
		if (seen & (1u << i)) {
			snprintf(why, whylen, "query parameter '%s' is given twice",
				 param_names[i]);
			return why;
		}
		seen |= 1u << i;
		if (vl >= sizeof(value))
			return "a query parameter is too long";
		value[hg_form_unescape(v, vl, value)] = '\0';
		bad = param_set(i, value, r->cursor_kind, p);
		if (bad != NULL)
			return bad;
	}
	if (p->since_ms != INT64_MIN && p->until_ms != INT64_MAX && p->since_ms >= p->until_ms)
		return "since must be before until";
	if (p->dedupe_key[0] != '\0' && p->source[0] == '\0')
		return "dedupe_key needs source: dedupe keys belong to one source";
	return NULL;
}

static void job_free(struct api_job *job)
{
	if (job->ext_free != NULL)
		job->ext_free(job->ext);
	free(job);
}

/* Queues job for a worker and detaches the request; answers 503 itself
 * when the queue is full. Takes ownership of job. */
void hg_api_enqueue(struct hg_api *api, struct hg_http_req *req, struct api_job *job)
{
	pthread_mutex_lock(&api->mu);
	if (api->queued >= HG_API_MAX_QUEUE || api->stopping) {
		pthread_mutex_unlock(&api->mu);
		job_free(job);
		hg_http_respond_error(req, 503, NULL,
				      "the management API is busy; try again shortly");
		return;
	}
	job->pending = hg_http_defer(req);
	if (job->pending == NULL) {
		pthread_mutex_unlock(&api->mu);
		job_free(job);
		hg_http_respond_error(req, 503, NULL, "out of memory");
		return;
	}
	job->next = NULL;
	if (api->tail != NULL)
		api->tail->next = job;
	else
		api->head = job;
	api->tail = job;
	api->queued++;
	pthread_cond_signal(&api->cv);
	pthread_mutex_unlock(&api->mu);
}

void hg_api_handle(struct hg_http_req *req, void *arg)
{
	static const char prefix[] = "/api/v1/";
	struct hg_api *api = arg;
	const struct api_route *found = NULL;
	const char *path, *seg = NULL, *bad;
	char allow[64] = "", why[128];
	size_t len, seglen = 0, i;
	struct api_job *job;
	int console;

	if (!authorized(api, req, &console))
		return;
	if (req->path_len < sizeof(prefix) - 1 ||
	    memcmp(req->path, prefix, sizeof(prefix) - 1) != 0) {
		hg_http_respond_error(req, 404, NULL, "no such API path; see /api/v1/");
		return;
	}
	path = req->path + sizeof(prefix) - 1;
	len = req->path_len - (sizeof(prefix) - 1);
	if (len > 0 && path[len - 1] == '/')
		len--;
	for (i = 0; i < HG_API_NROUTES && found == NULL; i++) {
		if (!hg_api_path_matches(routes[i].pattern, path, len, &seg, &seglen))
			continue;
		if (method_is(req, routes[i].method))
			found = &routes[i];
		else if (strstr(allow, routes[i].method) == NULL)
			snprintf(allow + strlen(allow), sizeof(allow) - strlen(allow), "%s%s",
				 allow[0] != '\0' ? ", " : "", routes[i].method);
	}
	if (found == NULL && allow[0] != '\0') {
		const char *const headers[] = {"allow", allow, NULL};

		snprintf(why, sizeof(why), "method not allowed; this path takes %s", allow);
		reply_error(req, 405, why, headers);
		return;
	}
	if (found == NULL || seglen > HG_API_ARG_MAX) {
		hg_http_respond_error(req, 404, NULL, "no such API path");
		return;
	}
	job = calloc(1, sizeof(*job));
	if (job == NULL) {
		hg_http_respond_error(req, 503, NULL, "out of memory");
		return;
	}
	bad = parse_params(req, found, &job->p, why, sizeof(why));
	if (bad != NULL) {
		free(job);
		hg_http_respond_error(req, 400, NULL, bad);
		return;
	}
	if (seg != NULL)
		memcpy(job->arg, seg, seglen);
	hg_strlcpy(job->client, req->peer, sizeof(job->client));
	hg_strlcpy(job->request_id, req->request_id, sizeof(job->request_id));
	job->op = found->op;
	job->console = console;
	hg_api_enqueue(api, req, job);
}

void hg_api_metrics(struct hg_http_req *req, void *arg)
{
	static const char *const allow[] = {"allow", "GET", NULL};
	struct hg_api *api = arg;
	struct api_job *job;

	if (!method_is(req, "GET")) {
		reply_error(req, 405, "method not allowed; /metrics takes GET", allow);
		return;
	}
	job = calloc(1, sizeof(*job));
	if (job == NULL) {
		hg_http_respond_error(req, 503, NULL, "out of memory");
		return;
	}
	job->op = hg_api_op_metrics;
	hg_api_enqueue(api, req, job);
}

enum { API_CHECK_US = 1000 * 1000 };

/* Runs one job on a worker and answers it. */
static void run_job(struct api_worker *w, struct api_job *j)
{
	static const char oom[] = "{\"error\":\"out of memory\"}\n";
	struct hg_api *api = w->api;
	struct api_answer a = {0};
	int64_t now_us;

	/* A read on a connection whose file was removed (or replaced) still
	 * succeeds, on the old file, so a failed op alone never notices it: the
	 * handle is checked (SQLite: is the file at its path still ours) at most
	 * once a second before a job runs. */
	now_us = hg_mono_us();
	if (w->st == NULL || now_us - w->checked_us >= API_CHECK_US) {
		hg_store_heal(&w->st, api->store_uri, "api worker");
		w->checked_us = now_us;
	}
	j->cfg = hg_config_get(api->live, NULL);
	if (w->st == NULL)
		hg_api_answer_error(&a, 503, "store unavailable");
	else {
		hg_log_set_request_id(j->request_id);
		j->op(api, w->st, j, &a);
		hg_log_set_request_id(NULL);
	}
	hg_config_put(j->cfg);
	j->cfg = NULL;
	if (a.store_failed)
		hg_store_heal(&w->st, api->store_uri, "api worker");
	if (a.deferred) { /* answered elsewhere (a publish: after its commit) */
		hg_buf_free(&a.body);
		job_free(j);
		return;
	}
	if (a.body.data == NULL) /* out of memory while building the answer */
		hg_api_answer_error(&a, 503, "out of memory");
	struct hg_http_resp resp = {.status = a.body.data != NULL ? a.status : 503,
				    .content_type =
					a.content_type != NULL ? a.content_type : json_type,
				    .body = a.body.data != NULL ? (const void *)a.body.data : oom,
				    .body_len = a.body.data != NULL ? a.body.len : sizeof(oom) - 1,
				    .headers = a.headers[0] != NULL ? a.headers : NULL,
				    .log_outcome = a.status < 400 ? "ok" : "rejected",
				    .log_reason = a.reason[0] != '\0' ? a.reason : NULL,
				    .log_quiet = a.quiet};
	hg_http_pending_respond(j->pending, &resp);
	hg_buf_free(&a.body);
	job_free(j);
}

static void *worker_main(void *arg)
{
	struct api_worker *w = arg;
	struct hg_api *api = w->api;
	struct api_job *j;

	for (;;) {
		pthread_mutex_lock(&api->mu);
		while (api->head == NULL && !api->stopping)
			pthread_cond_wait(&api->cv, &api->mu);
		j = api->head;
		if (j != NULL) {
			api->head = j->next;
			if (api->head == NULL)
				api->tail = NULL;
			api->queued--;
		}
		pthread_mutex_unlock(&api->mu);
		if (j == NULL)
			break; /* stopping, and everything queued was answered */
		run_job(w, j);
	}
	return NULL;
}

/* Frees what start made; api->workers must be joined. */
static void api_free(struct hg_api *api)
{
	for (int i = 0; i < HG_API_WORKERS; i++)
		hg_store_close(api->workers[i].st);
	pthread_cond_destroy(&api->cv);
	pthread_mutex_destroy(&api->mu);
	OPENSSL_cleanse(api->token_hash, sizeof(api->token_hash));
	free(api->store_uri);
	free(api);
}

static void stop_workers(struct hg_api *api)
{
	pthread_mutex_lock(&api->mu);
	api->stopping = 1;
	pthread_cond_broadcast(&api->cv);
	pthread_mutex_unlock(&api->mu);
	for (int i = 0; i < HG_API_WORKERS; i++)
		if (api->workers[i].started)
			pthread_join(api->workers[i].tid, NULL);
}

int hg_api_start(const struct hg_api_opts *opts, struct hg_api **out, char *err, size_t errlen)
{
	const struct hg_secret *tok = &opts->cfg->admin_token;
	struct hg_api *api;
	int rc = HG_ENOMEM, i;

	*out = NULL;
	api = calloc(1, sizeof(*api));
	if (api == NULL || (api->store_uri = strdup(opts->cfg->store)) == NULL) {
		free(api);
		snprintf(err, errlen, "Out of memory while starting the management API.");
		return HG_ENOMEM;
	}
	api->live = opts->live;
	api->started_s = hg_now_ms() / 1000;
	api->stats = opts->stats;
	api->ingest = opts->ingest;
	api->alerts = opts->alerts;
	api->wake = opts->wake;
	api->wake_arg = opts->wake_arg;
	api->deliver = opts->deliver;
	api->console = opts->console;
	if (tok->bytes != NULL && tok->len > 0) {
		hg_sha256(tok->bytes, tok->len, api->token_hash);
		api->have_token = 1;
	}
	if (pthread_mutex_init(&api->mu, NULL) != 0 || pthread_cond_init(&api->cv, NULL) != 0) {
		snprintf(err, errlen, "Cannot create the management API's locks.");
		free(api->store_uri);
		free(api);
		return HG_EIO;
	}
	for (i = 0; i < HG_API_WORKERS; i++) {
		struct api_worker *w = &api->workers[i];

		w->api = api;
		rc = hg_store_open(api->store_uri, &w->st, err, errlen);
		if (rc != HG_OK)
			goto out;
		rc = pthread_create(&w->tid, NULL, worker_main, w);
		if (rc != 0) {
			snprintf(err, errlen, "Cannot start a management API worker: %s.",
				 strerror(rc));
			rc = HG_EIO;
			goto out;
		}
		w->started = 1;
	}
	*out = api;
	return HG_OK;
out:
	stop_workers(api);
	api_free(api);
	return rc;
}

void hg_api_stop(struct hg_api *api)
{
	if (api == NULL)
		return;
	stop_workers(api);
	api_free(api);
}
