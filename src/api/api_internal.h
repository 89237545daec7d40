/*
 * api_internal.h — what the management API's files share, and nobody else:
 * the handle, a queued request (job) and its parsed parameters, and the
 * operations the workers run (ops.c).
 */
#ifndef HG_API_INTERNAL_H
#define HG_API_INTERNAL_H

#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>

#include "api/api.h"
#include "config/config.h"
#include "deliver/deliver.h"
#include "stats/stats.h"
#include "store/store.h"

#define HG_API_ARG_MAX    128 /* longest {id} or {name} path segment */
#define HG_API_MAX_QUEUE  256 /* requests waiting for a worker; 503 above */
#define HG_API_ACTION_MAX 64  /* longest ?action= (an audit event name) */

/* Query parameters of one request, parsed and checked on the loop. */
struct api_params {
	char source[HG_STATS_NAME_MAX]; /* "" when absent */
	char endpoint[HG_STORE_NAME_MAX + 1];
	int status;                 /* -1 when absent */
	int64_t since_ms, until_ms; /* INT64_MIN / INT64_MAX when absent */
	size_t limit;
	char cursor_id[HG_UUID_LEN + 1]; /* the id a cursor carried; "" when absent */
	int hours;
	char action[HG_API_ACTION_MAX]; /* an audit event; "" when absent */
	char dedupe_key[256];           /* ?dedupe_key= (needs source); "" when absent */
};

/* What a worker answers: a status and a JSON body it owns. */
struct api_answer {
	int status;
	const char *content_type; /* NULL: application/json */
	char ctype[160];          /* room for a content type the op chose */
	struct hg_buf body;
	int store_failed; /* the store failed: the worker heals its connection */
	char reason[192]; /* for the log line: the error, or "" */
	/* extra response headers: NULL-terminated name, value pairs (the
	 * values may point into hvals); headers[0] NULL = none */
	const char *headers[9];
	char hvals[4][24];
	int deferred; /* the op took over the pending answer: the worker must not answer */
	int quiet;    /* a probe's answer (/metrics): not logged per request */
};

struct api_worker;
struct api_job;

/* One operation of the API, run on a worker thread with the worker's store
 * connection; fills the answer. */
typedef void (*api_op_fn)(struct hg_api *api, struct hg_store *st, const struct api_job *j,
			  struct api_answer *a);

struct api_job {
	struct api_job *next;
	api_op_fn op;
	struct hg_http_pending *pending;
	char arg[HG_API_ARG_MAX + 1];           /* the path's {id} or {name} */
	char client[64];                        /* for the audit log */
	char request_id[HG_REQUEST_ID_MAX + 1]; /* named by every line the job logs */
	struct api_params p;
	void *ext;                   /* an op family's own request data (outbound.c) */
	struct hg_config *cfg;       /* the snapshot the job runs under (held while it runs) */
	void (*ext_free)(void *ext); /* releases ext with the job */
	int console;                 /* authenticated by a console session, not the token */
};

struct api_worker {
	struct hg_api *api;
	pthread_t tid;
	int started;
	struct hg_store *st; /* NULL after a failed re-open */
	int64_t checked_us;  /* hg_mono_us() of st's last health check */
};

struct hg_api {
	struct hg_config_live *live;
	int64_t started_s; /* wall clock, for process_start_time_seconds */
	struct hg_stats *stats;
	struct hg_ingest *ingest;
	struct hg_alerts *alerts;
	void (*wake)(void *arg);
	void *wake_arg;
	struct hg_deliver *deliver; /* endpoint health; may be NULL */
	struct hg_console *console; /* its session cookie authenticates too; may be NULL */
	char *store_uri;
	int have_token;
	uint8_t token_hash[32]; /* SHA-256 of the admin token: compared, never kept */

	pthread_mutex_t mu;
	pthread_cond_t cv; /* jobs queued, or stopping */
	struct api_job *head, *tail;
	size_t queued;
	int stopping;
	struct api_worker workers[HG_API_WORKERS];
};

/* ops.c: the operations, and the JSON answers they share. */
void hg_api_op_list_messages(struct hg_api *api, struct hg_store *st, const struct api_job *j,
			     struct api_answer *a);
void hg_api_op_show_message(struct hg_api *api, struct hg_store *st, const struct api_job *j,
			    struct api_answer *a);
void hg_api_op_replay(struct hg_api *api, struct hg_store *st, const struct api_job *j,
		      struct api_answer *a);
void hg_api_op_list_deliveries(struct hg_api *api, struct hg_store *st, const struct api_job *j,
			       struct api_answer *a);
void hg_api_op_retry(struct hg_api *api, struct hg_store *st, const struct api_job *j,
		     struct api_answer *a);
void hg_api_op_retry_dead(struct hg_api *api, struct hg_store *st, const struct api_job *j,
			  struct api_answer *a);
void hg_api_op_stats(struct hg_api *api, struct hg_store *st, const struct api_job *j,
		     struct api_answer *a);
void hg_api_op_metrics(struct hg_api *api, struct hg_store *st, const struct api_job *j,
		       struct api_answer *a);
/* Takes root (NULL: out of memory) and makes it the answer, compact JSON. */
struct json_t;
void hg_api_answer_json(struct api_answer *a, int status, struct json_t *root);
/* The answer for a failed store call (status rc): 503, and the worker
 * heals its connection unless it was out of memory. */
void hg_api_store_error(struct api_answer *a, int rc);
/* ms as an ISO 8601 string; null when ms < 0. */
struct json_t *hg_api_time_json(int64_t ms);
/* An hour of stats as the stats endpoint shows it (hour_ms < 0: without
 * its hour). */
struct json_t *hg_api_stats_json(const struct hg_stats_row *r, int64_t hour_ms);
/* alerts.c: GET /api/v1/alerts and GET /api/v1/sources */
void hg_api_op_alerts(struct hg_api *api, struct hg_store *st, const struct api_job *j,
		      struct api_answer *a);
void hg_api_op_sources(struct hg_api *api, struct hg_store *st, const struct api_job *j,
		       struct api_answer *a);
/* media.c: GET /api/v1/media/{id}, and a message's media as JSON */
void hg_api_op_get_media(struct hg_api *api, struct hg_store *st, const struct api_job *j,
			 struct api_answer *a);
/* The media of message_id as a JSON array (NULL: the store failed, *rc says how). */
struct json_t *hg_api_media_list_json(struct hg_store *st, const char *message_id, int *rc);
void hg_api_op_list_audit(struct hg_api *api, struct hg_store *st, const struct api_job *j,
			  struct api_answer *a);
/* GET /api/v1/audit/verify: the hash chain checked as `hookgate audit verify` does. */
void hg_api_op_audit_verify(struct hg_api *api, struct hg_store *st, const struct api_job *j,
			    struct api_answer *a);
/* api.c, shared with outbound.c: a request without Authorization may carry
 * the console's session cookie. 1: a good session (and CSRF token); -1:
 * answered (401 ended session, 403 CSRF); 0: no session cookie. */
int hg_api_console_auth(struct hg_api *api, struct hg_http_req *req);

/* audit.reads: records that who (the caller's identity: "admin", or an API
 * key's "api_key:<key id>"; never a token) read what event names (HG_API_READ_*)
 * about source, with reason (the ids read; the caller's address is added),
 * in a transaction of its own on st before the data goes out. HG_OK when
 * the row is written or reads are not audited (j->cfg); HG_EIO when the
 * append failed: the caller must then answer 500 with
 * HG_API_AUDIT_FAILED instead of the data. */
#define HG_API_READ_MESSAGE "read_message" /* a message's body, headers, attempts' responses */
#define HG_API_READ_SECRET  "read_secret"  /* a subscription's signing secret, as issued */
#define HG_API_READ_MEDIA   "read_media"   /* a stored media file */
#define HG_API_AUDIT_FAILED                                                                        \
	"the audit log could not record this read, so nothing was shown; try again shortly"
int hg_api_audit_read(struct hg_store *st, const struct api_job *j, const char *event,
		      const char *source, const char *who, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));

/* endpoints.c: GET /api/v1/endpoints, and the rows /metrics shows too. */
struct api_endpoint_row {
	const struct hg_endpoint *ep; /* of the job's snapshot */
	struct hg_deliver_health h;   /* this node's engine */
	int64_t pending;              /* deliveries not yet done (the store: every node's) */
	int64_t oldest_ms;            /* the oldest of them was created then; -1: none */
};
/* One row per endpoint of cfg, in its order; *out (cfg->n_endpoints rows)
 * is the caller's to free. HG_OK, HG_EIO (the store) or HG_ENOMEM. */
int hg_api_endpoint_rows(struct hg_api *api, struct hg_store *st, const struct hg_config *cfg,
			 struct api_endpoint_row **out);
void hg_api_op_endpoints(struct hg_api *api, struct hg_store *st, const struct api_job *j,
			 struct api_answer *a);

/* Answers {"error":"<reason>"} with status; the reason (one sentence, no
 * secrets) also goes into the request's log line. */
void hg_api_answer_error(struct api_answer *a, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* The common start of every error answer: the status, the reason formatted
 * into a->reason, and an empty body for the caller's format of it. */
void hg_api_answer_reason(struct api_answer *a, int status, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));

/* api.c, shared with outbound.c: queue job for a worker and detach req
 * (answers 503 itself when the queue is full; takes ownership of job), and
 * match a path against a route pattern whose '*' segment lands in *arg. */
void hg_api_enqueue(struct hg_api *api, struct hg_http_req *req, struct api_job *job);
int hg_api_path_matches(const char *pattern, const char *path, size_t len, const char **arg,
			size_t *arglen);

#endif
