/*
 * ops.c — the management API's operations, run on a worker thread with the
 * worker's own store connection: each reads or changes the store and turns
 * the result into the JSON answer (jansson). Also /metrics' Prometheus
 * text.
 *
 * Shapes: lists are {"data": [...], "next_cursor": "..." | null}, newest
 * first; times are ISO 8601 UTC ("..._at") with ms since the epoch beside
 * them where a client may want to compute; a body or response head that is
 * not UTF-8 text is given in base64 (with "..._encoding": "base64").
 * Errors are one line {"error": "..."}; unknown ids are 404.
 */
#include <dirent.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "alerts/alerts.h"
#include "api/api_internal.h"
#include "config/config.h"
#include "deliver/deliver.h"
#include "ingest/ingest.h"

void hg_api_answer_reason(struct api_answer *a, int status, const char *fmt, va_list ap)
{
	vsnprintf(a->reason, sizeof(a->reason), fmt, ap);
	a->status = status;
	a->content_type = NULL;
	hg_buf_free(&a->body);
}

void hg_api_answer_error(struct api_answer *a, int status, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	hg_api_answer_reason(a, status, fmt, ap);
	va_end(ap);
	hg_buf_puts(&a->body, "{\"error\":");
	hg_buf_json_str(&a->body, a->reason, strlen(a->reason));
	if (hg_buf_puts(&a->body, "}\n") != HG_OK)
		hg_buf_free(&a->body); /* the worker answers "out of memory" */
}

/* The answer for a failed store call. */
void hg_api_store_error(struct api_answer *a, int rc)
{
	if (rc == HG_ENOMEM) {
		hg_api_answer_error(a, 503, "out of memory");
		return;
	}
	a->store_failed = 1;
	hg_api_answer_error(a, 503, "store unavailable; try again shortly");
}

/* Answers a failed store call on what (an id): 404 when it does not exist,
 * else 503. Returns 1 when rc is a failure, so the caller stops. */
static int failed(struct api_answer *a, int rc, const char *what, const char *id)
{
	if (rc == HG_OK)
		return 0;
	if (rc == HG_ENOTFOUND)
		hg_api_answer_error(a, 404, "no %s with id %.40s", what, id);
	else if (rc == HG_EAUTH)
		hg_api_answer_error(a, 500,
				    "%s %.40s cannot be read: what is stored does not decrypt (it "
				    "was changed, or copied from another row)",
				    what, id);
	else if (rc == HG_ENOKEY)
		hg_api_answer_error(a, 503,
				    "%s %.40s is sealed with an encryption key this node does not "
				    "have; add the key to encryption: and reload",
				    what, id);
	else
		hg_api_store_error(a, rc);
	return 1;
}

/* Takes root (NULL: out of memory) and makes it the answer. */
void hg_api_answer_json(struct api_answer *a, int status, json_t *root)
{
	char *text = root != NULL ? json_dumps(root, JSON_COMPACT) : NULL;

	json_decref(root);
	a->status = status;
	hg_buf_free(&a->body);
	if (text != NULL && hg_buf_puts(&a->body, text) == HG_OK)
		hg_buf_puts(&a->body, "\n");
	free(text);
}

json_t *hg_api_time_json(int64_t ms)
{
	char iso[32];

	if (ms < 0)
		return json_null();
	hg_time_iso8601(ms, iso, sizeof(iso));
	return json_string(iso);
}

static json_t *text_or_null(const char *s)
{
	return s != NULL ? json_string(s) : json_null();
}

static json_t *int_or_null(int64_t v)
{
	return v >= 0 ? json_integer(v) : json_null();
}

/* Sets key to the bytes as a string when they are UTF-8 text, else to
 * their base64, and enc_key to "utf-8" or "base64". HG_OK or HG_ENOMEM. */
static int set_bytes(json_t *obj, const char *key, const char *enc_key, const uint8_t *p, size_t n)
{
	json_t *text = json_stringn(p != NULL ? (const char *)p : "", n); /* NULL: not UTF-8 */
	char *b64;
	int bad;

	if (text != NULL)
		return json_object_set_new(obj, key, text) != 0 ||
			       json_object_set_new(obj, enc_key, json_string("utf-8")) != 0
			   ? HG_ENOMEM
			   : HG_OK;
	b64 = malloc(4 * ((n + 2) / 3) + 1);
	if (b64 == NULL)
		return HG_ENOMEM;
	hg_b64_encode(p, n, b64);
	bad = json_object_set_new(obj, key, json_string(b64)) != 0 ||
	      json_object_set_new(obj, enc_key, json_string("base64")) != 0;
	free(b64);
	return bad ? HG_ENOMEM : HG_OK;
}

static json_t *message_json(const struct hg_store_msg_info *m)
{
	return json_pack("{s:s, s:s, s:o, s:I, s:o, s:I, s:I, s:s, s:I}", "id", m->id, "source",
			 m->source, "received_at", hg_api_time_json(m->received_ms), "received_ms",
			 (json_int_t)m->received_ms, "content_type", text_or_null(m->content_type),
			 "size", (json_int_t)m->body_len, "duplicates", (json_int_t)m->duplicates,
			 "status", hg_api_status_name(m->status), "delivery_count",
			 (json_int_t)m->deliveries);
}

static json_t *delivery_json(const struct hg_store_delivery_info *d)
{
	return json_pack("{s:s, s:s, s:o, s:s, s:s, s:i, s:o, s:o, s:o, s:o, s:o}", "id", d->id,
			 "message_id", d->message_id, "source", text_or_null(d->source), "endpoint",
			 d->endpoint, "status", hg_api_status_name((int)d->status), "attempt_count",
			 d->attempts, "next_attempt_at", hg_api_time_json(d->next_attempt_ms),
			 "last_status_code", int_or_null(d->last_status), "last_error",
			 text_or_null(d->last_error), "created_at", hg_api_time_json(d->created_ms),
			 "updated_at", hg_api_time_json(d->updated_ms));
}

static json_t *attempt_json(const struct hg_store_attempt_info *t)
{
	json_t *o =
	    json_pack("{s:i, s:o, s:I, s:o, s:o}", "n", t->n, "started_at",
		      hg_api_time_json(t->started_ms), "duration_ms", (json_int_t)t->duration_ms,
		      "status_code", int_or_null(t->status_code), "error", text_or_null(t->error));

	if (o != NULL && t->response_head != NULL)
		set_bytes(o, "response", "response_encoding", t->response_head,
			  t->response_head_len);
	return o;
}

json_t *hg_api_audit_row_json(const struct hg_store_audit_row *r)
{
	return json_pack("{s:I, s:o, s:I, s:o, s:o, s:o, s:o, s:I, s:s}", "seq", (json_int_t)r->seq,
			 "time", hg_api_time_json(r->ev.ts_ms), "time_ms", (json_int_t)r->ev.ts_ms,
			 "event", text_or_null(r->ev.event), "source", text_or_null(r->ev.source),
			 "client", text_or_null(r->ev.client), "reason", text_or_null(r->ev.reason),
			 "count", (json_int_t)r->ev.count, "hash", r->hash != NULL ? r->hash : "");
}

/* ---- lists ---- */

/* One page being gathered: limit items, then one more tells there is more. */
struct page {
	json_t *data;
	size_t n, limit;
	char last_id[HG_UUID_LEN + 1];
	int more;
	int failed; /* out of memory */
};

/* Adds item (the JSON of the row with id) to the page; 1 stops the walk. */
static int page_add(struct page *pg, const char *id, json_t *item)
{
	if (pg->n == pg->limit) {
		json_decref(item);
		pg->more = 1;
		return 1;
	}
	if (item == NULL || json_array_append_new(pg->data, item) != 0) {
		pg->failed = 1;
		return 1;
	}
	hg_strlcpy(pg->last_id, id, sizeof(pg->last_id));
	pg->n++;
	return 0;
}

static int page_message(const struct hg_store_msg_info *m, void *arg)
{
	return page_add(arg, m->id, message_json(m));
}

static int page_delivery(const struct hg_store_delivery_info *d, void *arg)
{
	return page_add(arg, d->id, delivery_json(d));
}

/* Answers the page a list call (status rc) gathered: {"data": [...],
 * "next_cursor": ...}. Takes pg->data. */
static void answer_page(struct api_answer *a, struct page *pg, int rc, char kind)
{
	char cursor[HG_API_CURSOR_MAX + 1];
	json_t *next = json_null();

	if (rc == HG_OK && pg->data == NULL)
		rc = HG_ENOMEM;
	if (rc != HG_OK) {
		json_decref(pg->data);
		hg_api_store_error(a, rc);
		return;
	}
	if (pg->failed) {
		json_decref(pg->data);
		hg_api_answer_json(a, 200, NULL);
		return;
	}
	if (pg->more && hg_api_cursor_encode(kind, pg->last_id, cursor, sizeof(cursor)) == HG_OK)
		next = json_string(cursor);
	hg_api_answer_json(a, 200, json_pack("{s:o, s:o}", "data", pg->data, "next_cursor", next));
}

/* A cursor's id from the parameters, or NULL for the first page. */
static const char *cursor_of(const struct api_params *p)
{
	return p->cursor_id[0] != '\0' ? p->cursor_id : NULL;
}

/* The keys ?dedupe_key=V may mean: V as the source's rules make keys
 * ("$.id=V", "header:X-Id=V", ...: what an operator knows is the value),
 * and V itself (a whole key, rule included). Into keys (text in text). */
static size_t dedupe_candidates(const struct hg_config *cfg, const struct api_params *p,
				char text[HG_STORE_FILTER_KEYS][320],
				const char *keys[HG_STORE_FILTER_KEYS])
{
	const struct hg_source *src = hg_config_find_source(cfg, p->source, strlen(p->source));
	size_t n = 0, i;

	keys[n++] = p->dedupe_key;
	for (i = 0; src != NULL && i < src->n_dedupe && n < HG_STORE_FILTER_KEYS; i++) {
		snprintf(text[n], sizeof(text[n]), "%s=%s", src->dedupe[i].expr, p->dedupe_key);
		keys[n] = text[n];
		n++;
	}
	return n;
}

void hg_api_op_list_messages(struct hg_api *api, struct hg_store *st, const struct api_job *j,
			     struct api_answer *a)
{
	const struct api_params *p = &j->p;
	struct page pg = {.data = json_array(), .limit = p->limit};
	char text[HG_STORE_FILTER_KEYS][320];
	const char *keys[HG_STORE_FILTER_KEYS];
	/* one more than a page: whether there is a next one */
	struct hg_store_msg_filter f = {.source = p->source[0] != '\0' ? p->source : NULL,
					.status = p->status,
					.since_ms = p->since_ms,
					.until_ms = p->until_ms,
					.before_id = cursor_of(p),
					.limit = p->limit + 1};

	(void)api;
	if (p->dedupe_key[0] != '\0') {
		f.n_dedupe_keys = dedupe_candidates(j->cfg, p, text, keys);
		f.dedupe_keys = keys;
	}
	answer_page(a, &pg,
		    pg.data != NULL ? hg_store_list_messages(st, &f, page_message, &pg) : HG_OK,
		    'm');
}

void hg_api_op_list_deliveries(struct hg_api *api, struct hg_store *st, const struct api_job *j,
			       struct api_answer *a)
{
	const struct api_params *p = &j->p;
	struct page pg = {.data = json_array(), .limit = p->limit};
	struct hg_store_delivery_filter f = {.endpoint =
						 p->endpoint[0] != '\0' ? p->endpoint : NULL,
					     .status = p->status > 0 ? p->status : 0,
					     .before_id = cursor_of(p),
					     .limit = p->limit + 1};

	(void)api;
	answer_page(a, &pg,
		    pg.data != NULL ? hg_store_list_deliveries(st, &f, page_delivery, &pg) : HG_OK,
		    'd');
}

static int page_audit(const struct hg_store_audit_row *r, void *arg)
{
	char seq[24];

	snprintf(seq, sizeof(seq), "%" PRId64, r->seq);
	return page_add(arg, seq, hg_api_audit_row_json(r));
}

/* GET /api/v1/audit: reading the audit log is not itself audited (it
 * holds no body, header value or secret). */
void hg_api_op_list_audit(struct hg_api *api, struct hg_store *st, const struct api_job *j,
			  struct api_answer *a)
{
	const struct api_params *p = &j->p;
	struct page pg = {.data = json_array(), .limit = p->limit};
	struct hg_store_audit_filter f = {
	    .since_ms = p->since_ms,
	    .until_ms = p->until_ms,
	    .event = p->action[0] != '\0' ? p->action : NULL,
	    .source = p->source[0] != '\0' ? p->source : NULL,
	    .before_seq = p->cursor_id[0] != '\0' ? strtoll(p->cursor_id, NULL, 10) : 0,
	    .limit = p->limit + 1};

	(void)api;
	answer_page(a, &pg, pg.data != NULL ? hg_store_audit_list(st, &f, page_audit, &pg) : HG_OK,
		    HG_API_CURSOR_SEQ);
}

void hg_api_op_audit_verify(struct hg_api *api, struct hg_store *st, const struct api_job *j,
			    struct api_answer *a)
{
	char why[256] = "";
	int64_t rows = 0, bad = 0;
	int rc;

	(void)api;
	(void)j;
	rc = hg_store_audit_verify(st, &rows, &bad, why, sizeof(why));
	if (rc != HG_OK && rc != HG_EAUTH) {
		hg_api_store_error(a, rc);
		return;
	}
	hg_api_answer_json(a, 200,
			   json_pack("{s:b s:I s:o s:s?}", "intact", rc == HG_OK, "rows",
				     (json_int_t)rows, "first_bad_seq",
				     rc == HG_OK ? json_null() : json_integer(bad), "detail",
				     why[0] != '\0' ? why : NULL));
}

int hg_api_audit_read(struct hg_store *st, const struct api_job *j, const char *event,
		      const char *source, const char *who, const char *fmt, ...)
{
	char reason[256];
	struct hg_audit_event ev = {
	    .ts_ms = hg_now_ms(), .event = event, .source = source, .client = who};
	va_list ap;
	int n;

	if (!hg_config_audit_reads(j->cfg))
		return HG_OK;
	va_start(ap, fmt);
	n = vsnprintf(reason, sizeof(reason), fmt, ap);
	va_end(ap);
	if (n > 0 && (size_t)n < sizeof(reason))
		snprintf(reason + n, sizeof(reason) - (size_t)n, ", from %s", j->client);
	ev.reason = reason;
	if (hg_store_audit_append(st, &ev, 1) == HG_OK)
		return HG_OK;
	hg_log(HG_LOG_ERROR, "read refused: its audit row could not be written", "event",
	       HG_LS(event), NULL);
	return HG_EIO;
}

/* ---- one message ---- */

static int take_message(const struct hg_store_msg_info *m, void *arg)
{
	json_t **out = arg;

	*out = message_json(m);
	return 1;
}

/* The message's deliveries, keyed by id so attempts find theirs. */
struct show {
	json_t *deliveries; /* array */
	json_t *by_id;      /* id -> the delivery's object in the array */
	int failed;
};

static int show_delivery(const struct hg_store_delivery_info *d, void *arg)
{
	struct show *sh = arg;
	json_t *o = delivery_json(d);

	if (o == NULL || json_object_set_new(o, "attempts", json_array()) != 0 ||
	    json_object_set(sh->by_id, d->id, o) != 0 ||
	    json_array_append_new(sh->deliveries, o) != 0) {
		sh->failed = 1;
		return 1;
	}
	return 0;
}

static int show_attempt(const struct hg_store_attempt_info *t, void *arg)
{
	struct show *sh = arg;
	json_t *d = json_object_get(sh->by_id, t->delivery_id);

	if (d != NULL &&
	    json_array_append_new(json_object_get(d, "attempts"), attempt_json(t)) != 0)
		sh->failed = 1;
	return sh->failed;
}

/* 1 when arg is shaped like an id; else the answer is 404. */
static int id_ok(const struct api_job *j, struct api_answer *a, const char *what)
{
	return hg_api_is_uuid(j->arg, strlen(j->arg)) || !failed(a, HG_ENOTFOUND, what, j->arg);
}

void hg_api_op_show_message(struct hg_api *api, struct hg_store *st, const struct api_job *j,
			    struct api_answer *a)
{
	struct hg_store_msg_filter f = {
	    .id = j->arg, .status = -1, .since_ms = INT64_MIN, .until_ms = INT64_MAX, .limit = 1};
	struct hg_store_delivery_filter df = {.message_id = j->arg};
	struct show sh = {.deliveries = json_array(), .by_id = json_object()};
	struct hg_store_row row = {0};
	json_t *msg = NULL, *headers;
	int rc;

	(void)api;
	if (!id_ok(j, a, "message"))
		goto out;
	rc = hg_store_get_message(st, j->arg, &row);
	if (rc == HG_OK)
		rc = hg_store_list_messages(st, &f, take_message, &msg);
	if (rc == HG_OK)
		rc = hg_store_list_deliveries(st, &df, show_delivery, &sh);
	if (rc == HG_OK)
		rc = hg_store_message_attempts(st, j->arg, show_attempt, &sh);
	if (rc == HG_OK && (msg == NULL || sh.failed || sh.deliveries == NULL))
		rc = HG_ENOMEM;
	if (rc == HG_OK) {
		json_t *media = hg_api_media_list_json(st, j->arg, &rc);

		if (media != NULL && json_array_size(media) > 0)
			json_object_set(msg, "media", media);
		json_decref(media);
	}
	if (failed(a, rc, "message", j->arg))
		goto out;
	/* The stored headers are a JSON object (credentials were never kept). */
	headers = row.headers_json != NULL ? json_loads(row.headers_json, 0, NULL) : NULL;
	if (json_object_set_new(msg, "headers", headers != NULL ? headers : json_object()) != 0 ||
	    json_object_set_new(msg, "request_id",
				row.request_id[0] != '\0' ? json_string(row.request_id)
							  : json_null()) != 0 ||
	    set_bytes(msg, "body", "body_encoding", row.body, row.body_len) != HG_OK ||
	    json_object_set(msg, "deliveries", sh.deliveries) != 0) {
		hg_api_answer_error(a, 503, "out of memory");
		goto out;
	}
	if (hg_api_audit_read(
		st, j, HG_API_READ_MESSAGE, row.source, j->console ? "console" : "admin",
		"message %s: body, headers and attempts' responses", j->arg) != HG_OK) {
		a->store_failed = 1;
		hg_api_answer_error(a, 500, HG_API_AUDIT_FAILED);
		goto out;
	}
	hg_api_answer_json(a, 200, msg);
	msg = NULL;
out:
	json_decref(msg);
	json_decref(sh.deliveries);
	json_decref(sh.by_id);
	hg_store_row_free(&row);
}

/* ---- changes ---- */

/* Tells the engine and the audit log about a change that was stored. */
static void changed(struct hg_api *api, const struct api_job *j, const char *event,
		    const char *source, const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static void changed(struct hg_api *api, const struct api_job *j, const char *event,
		    const char *source, const char *fmt, ...)
{
	char reason[160];
	va_list ap;

	if (api->wake != NULL)
		api->wake(api->wake_arg);
	va_start(ap, fmt);
	vsnprintf(reason, sizeof(reason), fmt, ap);
	va_end(ap);
	hg_ingest_audit(api->ingest, event, source, j->client, reason);
}

void hg_api_op_replay(struct hg_api *api, struct hg_store *st, const struct api_job *j,
		      struct api_answer *a)
{
	const struct hg_source *src;
	struct hg_store_target *targets = NULL;
	const char **names = NULL;
	char(*ids)[HG_UUID_LEN + 1] = NULL;
	struct hg_store_row row = {0};
	json_t *list = NULL, *stored;
	size_t n = 0, i;
	int64_t now = hg_now_ms();
	int rc;

	if (!id_ok(j, a, "message"))
		return;
	rc = hg_store_get_message(st, j->arg, &row);
	if (failed(a, rc, "message", j->arg))
		goto out;
	src = hg_config_find_source(j->cfg, row.source, strlen(row.source));
	if (src == NULL) {
		hg_api_answer_error(a, 409,
				    "the message's source %.64s is no longer configured; there is "
				    "nothing to replay it to",
				    row.source);
		goto out;
	}
	targets = calloc(src->n_routes + 1, sizeof(*targets));
	names = calloc(src->n_routes + 1, sizeof(*names));
	ids = calloc(src->n_routes + 1, sizeof(*ids));
	rc = targets != NULL && names != NULL && ids != NULL ? HG_OK : HG_ENOMEM;
	/* The source's routes as they are now, filters included; header
	 * filters see the headers stored with the message. */
	stored = row.headers_json != NULL ? json_loads(row.headers_json, 0, NULL) : NULL;
	if (rc == HG_OK)
		rc = hg_deliver_route(src, row.body, row.body_len,
				      stored != NULL ? hg_deliver_stored_header : NULL, stored, now,
				      targets, &n);
	json_decref(stored);
	if (failed(a, rc, "message", j->arg))
		goto out;
	if (n == 0) {
		hg_api_answer_error(a, 409, "no route of source %.64s selects this message",
				    row.source);
		goto out;
	}
	for (i = 0; i < n; i++)
		names[i] = targets[i].endpoint;
	rc = hg_store_replay(st, j->arg, names, n, now, ids);
	if (failed(a, rc, "message", j->arg))
		goto out;
	changed(api, j, "api_replay", row.source, "message %s replayed to %zu endpoint%s", j->arg,
		n, n == 1 ? "" : "s");
	list = json_array();
	for (i = 0; list != NULL && i < n; i++)
		if (json_array_append_new(
			list, json_pack("{s:s, s:s}", "id", ids[i], "endpoint", names[i])) != 0) {
			json_decref(list);
			list = NULL; /* json_pack's "o" of NULL fails: out of memory */
		}
	hg_api_answer_json(a, 202,
			   json_pack("{s:s, s:o}", "message_id", j->arg, "deliveries", list));
out:
	free(targets);
	free(names);
	free(ids);
	hg_store_row_free(&row);
}

static int take_status(const struct hg_store_delivery_info *d, void *arg)
{
	*(int *)arg = (int)d->status;
	return 1;
}

void hg_api_op_retry(struct hg_api *api, struct hg_store *st, const struct api_job *j,
		     struct api_answer *a)
{
	struct hg_store_delivery_filter f = {.id = j->arg, .limit = 1};
	int64_t count = 0;
	int rc, status = 0;

	if (!id_ok(j, a, "delivery"))
		return;
	rc = hg_store_retry_dead(st, j->arg, NULL, hg_now_ms(), &count);
	if (rc == HG_OK && count == 0)
		rc = hg_store_list_deliveries(st, &f, take_status, &status);
	if (failed(a, rc, "delivery", j->arg))
		return;
	if (count == 0) {
		hg_api_answer_error(a, 409,
				    "delivery %s is %s, not dead: only dead deliveries can be "
				    "retried",
				    j->arg, hg_api_status_name(status));
		return;
	}
	changed(api, j, "api_retry", NULL, "dead delivery %s retried", j->arg);
	hg_api_answer_json(a, 200, json_pack("{s:s, s:s}", "id", j->arg, "status", "pending"));
}

void hg_api_op_retry_dead(struct hg_api *api, struct hg_store *st, const struct api_job *j,
			  struct api_answer *a)
{
	int64_t count = 0;
	int rc;

	if (hg_config_find_endpoint(j->cfg, j->arg) == NULL) {
		hg_api_answer_error(a, 404, "no endpoint called %.64s in the configuration",
				    j->arg);
		return;
	}
	rc = hg_store_retry_dead(st, NULL, j->arg, hg_now_ms(), &count);
	if (failed(a, rc, "endpoint", j->arg))
		return;
	if (count > 0)
		changed(api, j, "api_retry_dead", NULL,
			"%" PRId64 " dead deliveries of endpoint %.64s retried", count, j->arg);
	hg_api_answer_json(
	    a, 200, json_pack("{s:s, s:I}", "endpoint", j->arg, "retried", (json_int_t)count));
}

/* ---- stats ---- */

/* One hour's (or the window's) counts and ack latency percentiles. */
static json_t *stats_json(const struct hg_stats_row *r, int64_t hour_ms)
{
	json_t *o = json_object();
	int64_t p50 = hg_stats_percentile_us(r->latency, 0.50);
	int64_t p95 = hg_stats_percentile_us(r->latency, 0.95);

	int bad = 0;

	if (o == NULL)
		return NULL;
	if (hour_ms >= 0)
		bad |= json_object_set_new(o, "hour", hg_api_time_json(hour_ms));
	for (int k = 0; k < HG_STAT_N; k++)
		bad |=
		    json_object_set_new(o, hg_stat_names[k], json_integer((json_int_t)r->count[k]));
	bad |= json_object_set_new(o, "ack_p50_ms",
				   p50 >= 0 ? json_real((double)p50 / 1000.0) : json_null());
	bad |= json_object_set_new(o, "ack_p95_ms",
				   p95 >= 0 ? json_real((double)p95 / 1000.0) : json_null());
	if (bad) {
		json_decref(o);
		return NULL;
	}
	return o;
}

void hg_api_op_stats(struct hg_api *api, struct hg_store *st, const struct api_job *j,
		     struct api_answer *a)
{
	const struct api_params *p = &j->p;
	size_t n = (size_t)p->hours, i;
	int64_t to = hg_stats_hour_of(hg_now_ms()) + HG_HOUR_MS; /* the current hour counts */
	int64_t from = to - (int64_t)n * HG_HOUR_MS;
	struct hg_stats_row *rows = calloc(n + 1, sizeof(*rows)); /* + the window's total */
	json_t *hours = json_array();
	int rc;

	(void)api;
	rc = rows != NULL && hours != NULL ? HG_OK : HG_ENOMEM;
	if (rc == HG_OK)
		rc =
		    hg_store_stats_read(st, p->source[0] != '\0' ? p->source : NULL, from, rows, n);
	if (rc != HG_OK) {
		hg_api_store_error(a, rc);
		goto out;
	}
	/* Newest hour first, as an operator reads it. */
	for (i = n; i-- > 0;) {
		hg_stats_row_add(&rows[n], &rows[i]);
		if (json_array_append_new(
			hours, stats_json(&rows[i], from + (int64_t)i * HG_HOUR_MS)) != 0) {
			hg_api_answer_error(a, 503, "out of memory");
			goto out;
		}
	}
	{
		int64_t mc[HG_MEDIA_EXPIRED + 1], bytes;

		rc = hg_store_media_counts(st, mc, &bytes);
		if (rc != HG_OK) {
			hg_api_store_error(a, rc);
			goto out;
		}
		hg_api_answer_json(
		    a, 200,
		    json_pack("{s:o, s:i, s:o, s:o, s:o, s:o, s:{s:I, s:I, s:I, s:I, s:I, s:I}}",
			      "source", text_or_null(p->source[0] != '\0' ? p->source : NULL),
			      "hours", p->hours, "from", hg_api_time_json(from), "to",
			      hg_api_time_json(to), "totals", stats_json(&rows[n], -1), "data",
			      hours, "media", "pending", (json_int_t)mc[HG_MEDIA_PENDING], "stored",
			      (json_int_t)mc[HG_MEDIA_STORED], "failed",
			      (json_int_t)mc[HG_MEDIA_FAILED], "quarantined",
			      (json_int_t)mc[HG_MEDIA_QUARANTINED], "expired",
			      (json_int_t)mc[HG_MEDIA_EXPIRED], "bytes_stored", (json_int_t)bytes));
	}
	hours = NULL;
out:
	json_decref(hours);
	free(rows);
}

/* ---- /metrics ---- */

struct metric_source {
	char name[HG_STATS_NAME_MAX];
	uint64_t count[HG_STAT_N];
	uint64_t latency[HG_STATS_BUCKETS];
	uint64_t latency_sum_us;
};

struct metric_sources {
	struct metric_source *s;
	size_t n, cap;
};

static void collect_source(const char *source, const uint64_t count[HG_STAT_N],
			   const uint64_t latency[HG_STATS_BUCKETS], uint64_t sum, void *arg)
{
	struct metric_sources *ms = arg;

	if (ms->n == ms->cap) {
		size_t cap = ms->cap != 0 ? ms->cap * 2 : 8;
		struct metric_source *s = realloc(ms->s, cap * sizeof(*s));

		if (s == NULL)
			return;
		ms->s = s;
		ms->cap = cap;
	}
	hg_strlcpy(ms->s[ms->n].name, source, sizeof(ms->s[ms->n].name));
	memcpy(ms->s[ms->n].count, count, sizeof(ms->s[ms->n].count));
	memcpy(ms->s[ms->n].latency, latency, sizeof(ms->s[ms->n].latency));
	ms->s[ms->n].latency_sum_us = sum;
	ms->n++;
}

/* A label value as the exposition format escapes it. */
static void label_value(struct hg_buf *b, const char *v)
{
	for (; *v != '\0'; v++) {
		if (*v == '\\' || *v == '"')
			hg_buf_printf(b, "\\%c", *v);
		else if (*v == '\n')
			hg_buf_puts(b, "\\n");
		else
			hg_buf_append(b, v, 1);
	}
}

static void family(struct hg_buf *b, const char *name, const char *type, const char *help)
{
	hg_buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* One sample per source of counter k, labelled outcome when given. */
static void per_source(struct hg_buf *b, const struct metric_sources *ms, const char *name, int k,
		       const char *outcome)
{
	for (size_t i = 0; i < ms->n; i++) {
		hg_buf_printf(b, "%s{source=\"", name);
		label_value(b, ms->s[i].name);
		if (outcome != NULL)
			hg_buf_printf(b, "\",outcome=\"%s", outcome);
		hg_buf_printf(b, "\"} %" PRIu64 "\n", ms->s[i].count[k]);
	}
}

static void refusal_line(const char *source, const char *event, uint64_t n, void *arg)
{
	struct hg_buf *b = arg;

	hg_buf_puts(b, "hookgate_refusals_total{source=\"");
	label_value(b, source);
	hg_buf_puts(b, "\",reason=\"");
	label_value(b, event);
	hg_buf_printf(b, "\"} %" PRIu64 "\n", n);
}

/* Refusals, exact even where the audit log sums or does not itemise them,
 * and what this node's writer put in the audit log. */
static void audit_metrics(struct hg_api *api, struct hg_buf *b)
{
	struct hg_ingest_audit_counts c;

	family(b, "hookgate_refusals_total", "counter",
	       "Requests refused for what they say about the caller, by source and reason "
	       "(bad_signature, replay, mtls_failure, rate_limited, api_unauthorized), since "
	       "start; every one is counted, also those the audit log sums.");
	hg_ingest_refusal_totals(api->ingest, refusal_line, b);
	hg_ingest_audit_counts(api->ingest, &c);
	family(b, "hookgate_audit_rows_total", "counter",
	       "Rows this node appended to the audit log since start, by kind: refusal (one "
	       "row per event, source, client and reason per audit_window, with a count) "
	       "or other.");
	hg_buf_printf(b, "hookgate_audit_rows_total{kind=\"refusal\"} %" PRIu64 "\n",
		      c.refusal_rows);
	hg_buf_printf(b, "hookgate_audit_rows_total{kind=\"other\"} %" PRIu64 "\n",
		      c.rows - c.refusal_rows);
	family(b, "hookgate_audit_refusals_suppressed_total", "counter",
	       "Refusals not itemised because a window already had audit_max_rows rows; they "
	       "are counted in audit_suppressed rows instead, since start.");
	hg_buf_printf(b, "hookgate_audit_refusals_suppressed_total %" PRIu64 "\n", c.suppressed);
}

#ifndef HG_VERSION
#define HG_VERSION "0.0.0"
#endif

/* utime + stime of /proc/self/stat (fields 14 and 15, after the command
 * name in parentheses, which may itself hold spaces); 0 when unreadable. */
static double process_cpu_seconds(void)
{
	char buf[1024];
	unsigned long long ut = 0, st = 0;
	long tck = sysconf(_SC_CLK_TCK);
	FILE *f = fopen("/proc/self/stat", "r");
	size_t n = f != NULL ? fread(buf, 1, sizeof(buf) - 1, f) : 0;
	const char *p;

	if (f != NULL)
		fclose(f);
	buf[n] = '\0';
	p = strrchr(buf, ')');
	if (p == NULL || tck <= 0 ||
	    sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2)
		return 0;
	return (double)(ut + st) / (double)tck;
}

/* hookgate_build_info and the process metrics a Prometheus client library
 * exports: resident memory and open descriptors from /proc, and the start
 * time, which is when the API started (with the daemon, a moment after
 * exec). */
static void process_metrics(const struct hg_api *api, struct hg_buf *b)
{
	long page = sysconf(_SC_PAGESIZE);
	unsigned long long rss = 0;
	FILE *f;
	DIR *fds;
	struct dirent *e;
	long nfd = -1;

	family(b, "hookgate_build_info", "gauge", "1, labelled with the version that runs.");
	hg_buf_printf(b, "hookgate_build_info{version=\"%s\"} 1\n", HG_VERSION);

	if ((f = fopen("/proc/self/statm", "r")) != NULL) {
		if (fscanf(f, "%*s %llu", &rss) != 1)
			rss = 0;
		fclose(f);
	}
	family(b, "process_resident_memory_bytes", "gauge", "Resident memory size in bytes.");
	hg_buf_printf(b, "process_resident_memory_bytes %llu\n", rss * (unsigned long long)page);

	if ((fds = opendir("/proc/self/fd")) != NULL) {
		for (nfd = 0; (e = readdir(fds)) != NULL;)
			if (e->d_name[0] != '.')
				nfd++;
		closedir(fds);
		nfd--; /* the directory's own descriptor */
	}
	family(b, "process_open_fds", "gauge", "Open file descriptors.");
	hg_buf_printf(b, "process_open_fds %ld\n", nfd);

	family(b, "process_start_time_seconds", "gauge",
	       "Start time of the process since the epoch, in seconds.");
	hg_buf_printf(b, "process_start_time_seconds %lld\n", (long long)api->started_s);

	family(b, "process_cpu_seconds_total", "counter",
	       "Total user and system CPU time spent in seconds.");
	hg_buf_printf(b, "process_cpu_seconds_total %.2f\n", process_cpu_seconds());
}

/* Every configured endpoint's health, present from the start (zeros until
 * its first attempt): the circuit (1 while open; 0 closed or half-open),
 * failures in a row, and the backlog from the store. */
static int endpoint_metrics(struct hg_api *api, struct hg_store *st, const struct hg_config *cfg,
			    struct hg_buf *b)
{
	static const struct {
		const char *name, *type, *help;
	} fam[] = {
	    {"hookgate_endpoint_circuit_open", "gauge",
	     "1 while the endpoint's circuit is open (nothing is attempted), else 0."},
	    {"hookgate_endpoint_failures_in_row", "gauge",
	     "Failed attempts to the endpoint since its last success, on this node."},
	    {"hookgate_endpoint_pending", "gauge",
	     "Deliveries to the endpoint not yet done (pending, failed, delivering)."},
	    {"hookgate_endpoint_oldest_pending_seconds", "gauge",
	     "Age of the endpoint's oldest delivery not yet done; 0 when none."},
	};
	struct api_endpoint_row *rows = NULL;
	int64_t now = hg_now_ms(), v;
	int rc = hg_api_endpoint_rows(api, st, cfg, &rows);

	if (rc != HG_OK)
		return rc;
	for (size_t f = 0; f < sizeof(fam) / sizeof(fam[0]); f++) {
		family(b, fam[f].name, fam[f].type, fam[f].help);
		for (size_t i = 0; i < cfg->n_endpoints; i++) {
			const struct api_endpoint_row *r = &rows[i];

			hg_buf_printf(b, "%s{endpoint=\"", fam[f].name);
			label_value(b, r->ep->name);
			if (f == 3) {
				v = r->oldest_ms >= 0 && now > r->oldest_ms ? now - r->oldest_ms
									    : 0;
				hg_buf_printf(b, "\"} %.3f\n", (double)v / 1000.0);
				continue;
			}
			v = f == 0   ? r->h.state == HG_CIRCUIT_OPEN
			    : f == 1 ? r->h.failures_in_row
				     : r->pending;
			hg_buf_printf(b, "\"} %" PRId64 "\n", v);
		}
	}
	family(b, "hookgate_endpoint_deliveries_total", "counter",
	       "Delivery attempts to the endpoint recorded by this node since start, by "
	       "outcome: delivered, failed (retried later), dead.");
	for (size_t i = 0; i < cfg->n_endpoints; i++) {
		const int64_t n[3] = {rows[i].h.delivered, rows[i].h.failed, rows[i].h.dead};
		static const char *const outcome[3] = {"delivered", "failed", "dead"};

		for (int k = 0; k < 3; k++) {
			hg_buf_puts(b, "hookgate_endpoint_deliveries_total{endpoint=\"");
			label_value(b, rows[i].ep->name);
			hg_buf_printf(b, "\",outcome=\"%s\"} %" PRId64 "\n", outcome[k], n[k]);
		}
	}
	free(rows);
	return HG_OK;
}

/* The upper bounds (seconds) of hookgate_ack_latency_seconds' buckets: the
 * same on every node, so histograms add up across nodes. */
static const double ack_le[] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
				0.1,    0.25,  0.5,    1,     2.5,  5,     10};

/* One source's ack latency as a Prometheus histogram. The stats keep a finer
 * histogram (src/stats); each of its buckets is counted under the first
 * bound at or above its largest value, so a bucket's count may include
 * values up to a quarter above the previous bound, never values above its
 * own. */
static void ack_histogram(struct hg_buf *b, const struct metric_source *m)
{
	const size_t nle = sizeof(ack_le) / sizeof(ack_le[0]);
	uint64_t per[sizeof(ack_le) / sizeof(ack_le[0]) + 1] = {0}, cum = 0;
	int64_t lo, hi;

	for (int k = 0; k < HG_STATS_BUCKETS; k++) {
		size_t i = 0;

		if (m->latency[k] == 0)
			continue;
		hg_stats_bucket_bounds(k, &lo, &hi);
		while (i < nle && (double)hi / 1e6 > ack_le[i])
			i++;
		per[i] += m->latency[k];
	}
	for (size_t i = 0; i <= nle; i++) {
		cum += per[i];
		hg_buf_puts(b, "hookgate_ack_latency_seconds_bucket{source=\"");
		label_value(b, m->name);
		if (i < nle)
			hg_buf_printf(b, "\",le=\"%g\"} %" PRIu64 "\n", ack_le[i], cum);
		else
			hg_buf_printf(b, "\",le=\"+Inf\"} %" PRIu64 "\n", cum);
	}
	hg_buf_puts(b, "hookgate_ack_latency_seconds_sum{source=\"");
	label_value(b, m->name);
	hg_buf_printf(b, "\"} %.6f\n", (double)m->latency_sum_us / 1e6);
	hg_buf_puts(b, "hookgate_ack_latency_seconds_count{source=\"");
	label_value(b, m->name);
	hg_buf_printf(b, "\"} %" PRIu64 "\n", cum);
}

/* Every configured source, in the config's order, with this node's counts
 * (zeros for one nothing reached yet); *outbound gets the published
 * events' pseudo-source, which is no source of the config. */
static void config_sources(const struct hg_config *cfg, const struct metric_sources *seen,
			   struct metric_sources *out, struct metric_source *outbound)
{
	memset(outbound, 0, sizeof(*outbound));
	for (size_t i = 0; i < seen->n; i++)
		if (strcmp(seen->s[i].name, HG_STORE_OUTBOUND_SOURCE) == 0)
			*outbound = seen->s[i];
	out->s = calloc(cfg->n_sources != 0 ? cfg->n_sources : 1, sizeof(*out->s));
	out->n = out->cap = out->s != NULL ? cfg->n_sources : 0;
	for (size_t i = 0; i < out->n; i++) {
		hg_strlcpy(out->s[i].name, cfg->sources[i].name, sizeof(out->s[i].name));
		for (size_t k = 0; k < seen->n; k++)
			if (strcmp(seen->s[k].name, out->s[i].name) == 0)
				out->s[i] = seen->s[k];
	}
}

/* WhatsApp media now, from the store (the same for every node). */
static int media_metrics(struct hg_store *st, struct hg_buf *b)
{
	int64_t counts[HG_MEDIA_EXPIRED + 1], bytes;
	int rc = hg_store_media_counts(st, counts, &bytes);

	if (rc != HG_OK)
		return rc;
	family(b, "hookgate_media", "gauge",
	       "WhatsApp media by state now: pending (being fetched), stored, failed, "
	       "quarantined (the scan refused it), expired (deleted by its ttl).");
	for (int s = HG_MEDIA_PENDING; s <= HG_MEDIA_EXPIRED; s++)
		hg_buf_printf(b, "hookgate_media{state=\"%s\"} %" PRId64 "\n",
			      hg_store_media_state_name(s), counts[s]);
	family(b, "hookgate_media_stored_bytes", "gauge",
	       "Bytes of the stored media files (as fetched, before sealing).");
	hg_buf_printf(b, "hookgate_media_stored_bytes %" PRId64 "\n", bytes);
	return HG_OK;
}

void hg_api_op_metrics(struct hg_api *api, struct hg_store *st, const struct api_job *j,
		       struct api_answer *a)
{
	static const struct {
		int k;
		const char *outcome;
	} requests[] = {{HG_STAT_ACCEPTED, "accepted"},
			{HG_STAT_DUPLICATES, "duplicate"},
			{HG_STAT_INVALID_SIGNATURES, "invalid_signature"},
			{HG_STAT_RATE_LIMITED, "rate_limited"}},
	  deliveries[] = {
	      {HG_STAT_DELIVERED, "delivered"}, {HG_STAT_FAILED, "failed"}, {HG_STAT_DEAD, "dead"}};
	struct metric_sources seen = {0}, ms = {0};
	struct metric_source outbound;
	int64_t queued[HG_DELIVERY_DEAD + 1];
	struct hg_buf *b = &a->body;
	size_t i;
	int rc;

	process_metrics(api, b);
	if (api->stats != NULL)
		hg_stats_totals(api->stats, collect_source, &seen);
	config_sources(j->cfg, &seen, &ms, &outbound);
	free(seen.s);
	if (ms.s == NULL) {
		hg_api_answer_error(a, 503, "out of memory");
		return;
	}
	family(b, "hookgate_requests_received_total", "counter",
	       "POST requests to /in/{source} that reached a configured source, since start.");
	per_source(b, &ms, "hookgate_requests_received_total", HG_STAT_RECEIVED, NULL);
	family(b, "hookgate_requests_total", "counter",
	       "Inbound requests by source and outcome, since start.");
	for (i = 0; i < sizeof(requests) / sizeof(requests[0]); i++)
		per_source(b, &ms, "hookgate_requests_total", requests[i].k, requests[i].outcome);
	family(b, "hookgate_deliveries_total", "counter",
	       "Delivery outcomes of the source's messages: delivered, failed (retried later), "
	       "dead.");
	for (i = 0; i < sizeof(deliveries) / sizeof(deliveries[0]); i++)
		per_source(b, &ms, "hookgate_deliveries_total", deliveries[i].k,
			   deliveries[i].outcome);
	family(b, "hookgate_published_deliveries_total", "counter",
	       "Delivery outcomes of published outbound events (subscribers and "
	       "alerts.endpoint): delivered, failed (retried later), dead.");
	for (i = 0; i < sizeof(deliveries) / sizeof(deliveries[0]); i++)
		hg_buf_printf(b,
			      "hookgate_published_deliveries_total{outcome=\"%s\"} %" PRIu64 "\n",
			      deliveries[i].outcome, outbound.count[deliveries[i].k]);
	family(b, "hookgate_ack_latency_seconds", "histogram",
	       "Time from a complete request to its acknowledgement, since start.");
	for (i = 0; i < ms.n; i++)
		ack_histogram(b, &ms.s[i]);
	free(ms.s);
	audit_metrics(api, b);
	if (api->alerts != NULL)
		hg_alerts_metrics(api->alerts, j->cfg, b);
	/* Queue depth comes from the store: it is the same for every node. */
	rc = hg_store_count_deliveries(st, queued);
	if (rc == HG_OK) {
		family(b, "hookgate_deliveries_queued", "gauge",
		       "Deliveries by state now: waiting (pending, failed), in flight "
		       "(delivering), dead-lettered (dead).");
		for (int s = HG_DELIVERY_PENDING; s <= HG_DELIVERY_DEAD; s++)
			if (s != HG_DELIVERY_SUCCEEDED)
				hg_buf_printf(
				    b, "hookgate_deliveries_queued{status=\"%s\"} %" PRId64 "\n",
				    hg_api_status_name(s), queued[s]);
	} else {
		a->store_failed = 1;
	}
	if (rc == HG_OK && endpoint_metrics(api, st, j->cfg, b) == HG_EIO)
		a->store_failed = 1;
	if (rc == HG_OK && media_metrics(st, b) != HG_OK)
		a->store_failed = 1;
	if (hg_buf_status(b) != HG_OK) { /* the appends above fail as one */
		hg_api_answer_error(a, 503, "out of memory");
		return;
	}
	a->status = 200;
	a->quiet = 1; /* scraped every few seconds: not one log line each */
	a->content_type = "text/plain; version=0.0.4; charset=utf-8";
}

/* ---- for the other files of operations (alerts.c) ---- */

json_t *hg_api_stats_json(const struct hg_stats_row *r, int64_t hour_ms)
{
	return stats_json(r, hour_ms);
}
