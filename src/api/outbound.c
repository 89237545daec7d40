/*
 * outbound.c — the outbound subscription API (seed 003, docs/outbound.md):
 * /api/v1/api-keys, /api/v1/webhooks[...] and /api/v1/events, on the
 * management API's queue and workers (api.c).
 *
 * On the loop (hg_api_outbound_handle): route, copy what the worker needs
 * (the token's SHA-256, the body, the query, an Idempotency-Key header)
 * and queue; nothing is looked up there. On a worker: authenticate (the
 * admin token by digest, or an API key by the SHA-256 the store keeps),
 * apply the owner's rate limit, then the operation. A publish leaves the
 * worker at once: its answer comes from the ingest writer's done() after
 * the commit that stored the event and its deliveries.
 *
 * Never logged or echoed: tokens, secrets, bodies. A secret is in exactly
 * two answers (create and regenerate-secret), and with audit.reads each is
 * recorded ("read_secret") before it goes out; when that row cannot be
 * written the answer is a 500 without the secret (the subscription or its
 * new secret is stored all the same: regenerate it to see one).
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/crypto.h>

#include "api/api_internal.h"
#include "api/webhooks.h"
#include "config/config.h"
#include "deliver/deliver.h"
#include "events/events.h"
#include "http/http.h"
#include "ingest/ingest.h"
#include "store/store.h"

#define OB_SAVE_SECRET "Save the secret safely - it won't be shown again."

/* What the loop hands a worker beyond struct api_job. */
struct ob_req {
	uint8_t token[32]; /* SHA-256 of the Bearer token */
	int has_token;
	uint8_t *body;
	size_t body_len;
	char *query;
	size_t query_len;
	char idem[HG_WEBHOOK_IDEM_MAX + 1]; /* Idempotency-Key header; "" when absent */
};

/* Who is asking. */
struct ob_who {
	int admin;
	int role; /* enum hg_store_role, for an API key */
	char owner[HG_STORE_OWNER_ID_MAX + 1];
	char name[16 + HG_UUID_LEN]; /* for the audit log: "admin" or "api_key:<key id>" */
};

static void ob_req_free(void *p)
{
	struct ob_req *r = p;

	if (r == NULL)
		return;
	free(r->body);
	free(r->query);
	OPENSSL_cleanse(r->token, sizeof(r->token));
	free(r);
}

/* ---- answers ---- */

static void ob_error(struct api_answer *a, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void ob_error(struct api_answer *a, int status, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	hg_api_answer_reason(a, status, fmt, ap);
	va_end(ap);
	if (hg_webhook_error(&a->body, a->reason) != HG_OK)
		hg_buf_free(&a->body);
}

static void ob_store_error(struct api_answer *a, int rc)
{
	if (rc != HG_ENOMEM)
		a->store_failed = 1;
	ob_error(a, 503,
		 rc == HG_ENOMEM ? "out of memory"
				 : "store unavailable; nothing was changed; try again shortly");
}

/* The envelope with data (borrowed) and extra top-level strings. */
static void ob_answer(struct api_answer *a, int status, const json_t *data, const json_t *meta,
		      const char *const *extra)
{
	hg_buf_free(&a->body);
	a->status = status;
	a->content_type = NULL;
	if (hg_webhook_envelope(&a->body, data, meta, extra) != HG_OK)
		hg_buf_free(&a->body); /* the worker answers "out of memory" */
}

/* ---- rate limits ---- */

/* Counts one request of kind for owner; sets the RateLimit-* headers on
 * the answer either way. 1 when allowed, else 0 with the 429 answered. */
static int ob_limit(struct hg_api *api, struct api_answer *a, const char *kind,
		    const struct hg_outbound_limit *l, const char *owner)
{
	int64_t retry_after = 0, remaining = 0, reset = 0;
	int ok;

	if (l->limit <= 0)
		return 1;
	ok = hg_ratelimit_hit_info(hg_ingest_ratelimit(api->ingest), kind, owner, l->limit,
				   l->per_ms, hg_now_ms(), &retry_after, &remaining, &reset);
	snprintf(a->hvals[0], sizeof(a->hvals[0]), "%" PRId64, l->limit);
	snprintf(a->hvals[1], sizeof(a->hvals[1]), "%" PRId64, remaining);
	snprintf(a->hvals[2], sizeof(a->hvals[2]), "%" PRId64, reset);
	a->headers[0] = "ratelimit-limit";
	a->headers[1] = a->hvals[0];
	a->headers[2] = "ratelimit-remaining";
	a->headers[3] = a->hvals[1];
	a->headers[4] = "ratelimit-reset";
	a->headers[5] = a->hvals[2];
	a->headers[6] = NULL;
	if (ok)
		return 1;
	snprintf(a->hvals[3], sizeof(a->hvals[3]), "%" PRId64, retry_after);
	a->headers[6] = "retry-after";
	a->headers[7] = a->hvals[3];
	a->headers[8] = NULL;
	ob_error(a, 429,
		 "rate limit exceeded: %" PRId64 " per %" PRId64
		 " s for this owner; try again in %" PRId64 " s",
		 l->limit, l->per_ms / 1000, retry_after);
	return 0;
}

/* ---- who is asking ---- */

/* Fills who from the request's token: the admin token, or an API key.
 * 1 when known, else 0 with the answer (401, or 503 when the store
 * failed). */
static int ob_auth(struct hg_api *api, struct hg_store *st, const struct ob_req *r,
		   struct ob_who *who, struct api_answer *a)
{
	struct hg_store_api_key k;
	char hex[65];
	int rc;

	memset(who, 0, sizeof(*who));
	if (!r->has_token) {
		ob_error(a, 401,
			 "missing Authorization header; send Authorization: Bearer <API key>");
		return 0;
	}
	if (api->have_token && hg_ct_equal(r->token, api->token_hash, sizeof(r->token))) {
		who->admin = 1;
		hg_strlcpy(who->name, "admin", sizeof(who->name));
		return 1;
	}
	hg_hex_encode(r->token, sizeof(r->token), hex);
	rc = hg_store_api_key_find(st, hex, &k);
	if (rc == HG_ENOTFOUND) {
		ob_error(a, 401, "invalid API key");
		return 0;
	}
	if (rc != HG_OK) {
		ob_store_error(a, rc);
		return 0;
	}
	who->role = k.role;
	hg_strlcpy(who->owner, k.owner_id, sizeof(who->owner));
	snprintf(who->name, sizeof(who->name), "api_key:%s", k.id);
	return 1;
}

/* audit.reads of a secret about to be answered; 0 (with the 500 answered)
 * when its row could not be written. */
static int ob_audit_secret(struct hg_store *st, const struct api_job *j, const struct ob_who *who,
			   const char *sub_id, const char *owner, const char *how,
			   struct api_answer *a)
{
	if (hg_api_audit_read(st, j, HG_API_READ_SECRET, HG_STORE_OUTBOUND_SOURCE, who->name,
			      "subscription %s of owner %s: secret %s", sub_id, owner,
			      how) == HG_OK)
		return 1;
	a->store_failed = 1;
	ob_error(a, 500, HG_API_AUDIT_FAILED);
	return 0;
}

/* Subscriptions are managed by owner keys and the admin token. */
static int ob_may_manage(const struct ob_who *who, struct api_answer *a)
{
	if (who->admin || who->role == HG_STORE_ROLE_OWNER)
		return 1;
	ob_error(a, 403,
		 "a publisher key publishes events and manages nothing; use the owner's "
		 "key");
	return 0;
}

/* The owner scope of a subscription request: NULL for the admin (any). */
static const char *ob_scope(const struct ob_who *who)
{
	return who->admin ? NULL : who->owner;
}

static const struct ob_req *ob_ext(const struct api_job *j)
{
	return j->ext;
}

static struct hg_ssrf_policy ob_policy(const struct hg_config *cfg)
{
	return (struct hg_ssrf_policy){.allow_http = cfg->allow_http,
				       .allow = cfg->egress_allow,
				       .n_allow = cfg->n_egress_allow};
}

static const char *const *ob_types(const struct hg_config *cfg)
{
	return (const char *const *)cfg->event_types;
}

/* "[...]" of events, malloc'd; NULL when out of memory. */
static char *ob_events_json(char **events, size_t n)
{
	json_t *arr = json_array();
	char *text = NULL;
	size_t i;

	if (arr == NULL)
		return NULL;
	for (i = 0; i < n; i++)
		if (json_array_append_new(arr, json_string(events[i])) != 0)
			goto out;
	text = json_dumps(arr, JSON_COMPACT);
out:
	json_decref(arr);
	return text;
}

static json_t *ob_view(const struct hg_store_sub *s)
{
	struct hg_webhook_view v = {.id = s->id,
				    .owner_id = s->owner_id,
				    .url = s->url,
				    .events_json = s->events_json,
				    .is_active = s->is_active,
				    .description = s->description,
				    .disabled_reason = s->is_active ? NULL : s->disabled_reason,
				    .created_ms = s->created_ms,
				    .updated_ms = s->updated_ms,
				    .last_delivery_ms = s->last_delivery_ms};

	return hg_webhook_view_json(&v);
}

/* ---- operations ---- */

static void op_api_key_create(struct hg_api *api, struct hg_store *st, const struct api_job *j,
			      struct api_answer *a)
{
	const struct ob_req *r = ob_ext(j);
	struct hg_store_api_key k;
	struct ob_who who;
	uint8_t raw[32];
	char tok[4 + 44 + 1], err[256], ts[32], reason[192];
	size_t n;
	int rc;

	if (!ob_auth(api, st, r, &who, a))
		return;
	if (!who.admin) {
		ob_error(a, 403, "only the admin token creates API keys");
		return;
	}
	memset(&k, 0, sizeof(k));
	if (hg_webhook_parse_api_key(r->body, r->body_len, k.owner_id, &k.role, err, sizeof(err)) !=
	    HG_OK) {
		ob_error(a, 400, "%s", err);
		return;
	}
	if (hg_random_bytes(raw, sizeof(raw)) != HG_OK) {
		ob_error(a, 503, "no randomness available for a new key; try again");
		return;
	}
	/* "hgk_" + unpadded base64url: safe in headers and shells */
	memcpy(tok, "hgk_", 4);
	n = hg_b64_encode(raw, sizeof(raw), tok + 4);
	OPENSSL_cleanse(raw, sizeof(raw));
	while (n > 0 && tok[4 + n - 1] == '=')
		n--;
	tok[4 + n] = '\0';
	for (char *p = tok + 4; *p != '\0'; p++)
		*p = *p == '+' ? '-' : *p == '/' ? '_' : *p;
	hg_sha256((const uint8_t *)tok, strlen(tok), raw);
	hg_hex_encode(raw, sizeof(raw), k.token_hash);
	hg_uuid7(k.id);
	k.created_ms = hg_now_ms();
	rc = hg_store_api_key_put(st, &k);
	if (rc != HG_OK) {
		OPENSSL_cleanse(tok, sizeof(tok));
		ob_store_error(a, rc);
		return;
	}
	snprintf(reason, sizeof(reason), "API key %s for owner %s, role %s", k.id, k.owner_id,
		 hg_webhook_role_name(k.role));
	hg_ingest_audit(api->ingest, "api_key_created", NULL, j->client, reason);
	hg_time_iso8601(k.created_ms, ts, sizeof(ts));
	json_t *data = json_pack("{s:s s:s s:s s:s}", "id", k.id, "owner_id", k.owner_id, "role",
				 hg_webhook_role_name(k.role), "created_at", ts);
	const char *const extra[] = {"token", tok, "message",
				     "API key created. Save the token safely - it won't be shown "
				     "again.",
				     NULL};
	ob_answer(a, 201, data, NULL, extra);
	json_decref(data);
	OPENSSL_cleanse(tok, sizeof(tok));
}

static void op_sub_create(struct hg_api *api, struct hg_store *st, const struct api_job *j,
			  struct api_answer *a)
{
	const struct ob_req *r = ob_ext(j);
	const struct hg_config *cfg = j->cfg;
	struct hg_ssrf_policy pol = ob_policy(cfg);
	struct hg_webhook_input in;
	struct hg_store_sub s;
	struct ob_who who;
	char err[512], whsec[HG_OUTBOUND_WHSEC_LEN + 1];
	const char *owner;
	json_t *view = NULL;
	int rc;

	memset(&s, 0, sizeof(s));
	if (!ob_auth(api, st, r, &who, a) || !ob_may_manage(&who, a))
		return;
	if (hg_webhook_parse(r->body, r->body_len, 0, ob_types(cfg), cfg->n_event_types, &in, err,
			     sizeof(err)) != HG_OK) {
		ob_error(a, 400, "%s", err);
		return;
	}
	owner = who.admin ? in.owner_id : who.owner;
	if (owner == NULL) {
		ob_error(a, 400, "owner_id: required when the admin token creates a subscription");
		goto out;
	}
	if (!who.admin && in.owner_id != NULL && strcmp(in.owner_id, who.owner) != 0) {
		ob_error(a, 403, "an owner key creates subscriptions for its own owner only");
		goto out;
	}
	if (hg_ssrf_check_url(&pol, in.url, strlen(in.url), err, sizeof(err)) != HG_OK) {
		ob_error(a, 400, "%s", err);
		goto out;
	}
	/* counted once the request is valid: a refused one costs nothing */
	if (!ob_limit(api, a, "@api:create", &cfg->outbound.rl_create, owner))
		goto out;
	hg_uuid7(s.id);
	hg_strlcpy(s.owner_id, owner, sizeof(s.owner_id));
	s.url = in.url;
	s.events_json = ob_events_json(in.events, in.n_events);
	s.is_active = in.is_active;
	s.description = in.description;
	s.created_ms = s.updated_ms = hg_now_ms();
	if (s.events_json == NULL) {
		ob_error(a, 503, "out of memory");
		goto out;
	}
	if (hg_outbound_secret_new(s.secret) != HG_OK ||
	    hg_outbound_secret_whsec(s.secret, whsec) != HG_OK) {
		ob_error(a, 503, "no randomness available for a secret; try again");
		goto out;
	}
	rc = hg_store_sub_create(st, &s);
	if (rc != HG_OK) {
		ob_store_error(a, rc);
		goto out;
	}
	if (!ob_audit_secret(st, j, &who, s.id, owner, "issued at creation", a))
		goto out;
	view = ob_view(&s);
	const char *const extra[] = {
	    "secret", s.secret,  "secret_standard",
	    whsec,    "message", "Webhook subscription created. " OB_SAVE_SECRET,
	    NULL};
	ob_answer(a, 201, view, NULL, extra);
out:
	json_decref(view);
	free(s.events_json);
	OPENSSL_cleanse(s.secret, sizeof(s.secret));
	OPENSSL_cleanse(whsec, sizeof(whsec));
	hg_webhook_input_free(&in);
}

struct ob_list {
	json_t *arr;
	int oom;
};

static int ob_list_one(const struct hg_store_sub *s, void *arg)
{
	struct ob_list *l = arg;

	if (json_array_append_new(l->arr, ob_view(s)) != 0) {
		l->oom = 1;
		return 1;
	}
	return 0;
}

/* One API key as the API shows it: never its token or the token's hash. */
static int ob_key_one(const struct hg_store_api_key *k, void *arg)
{
	struct ob_list *l = arg;
	char ts[32];
	json_t *o;

	hg_time_iso8601(k->created_ms, ts, sizeof(ts));
	o = json_pack("{s:s s:s s:s s:s}", "id", k->id, "owner_id", k->owner_id, "role",
		      hg_webhook_role_name(k->role), "created_at", ts);
	if (o == NULL || json_array_append_new(l->arr, o) != 0) {
		l->oom = 1;
		return 1;
	}
	return 0;
}

static int ob_has_param(const struct ob_req *r, const char *name)
{
	const char *q = r->query, *k, *v;
	size_t klen, vlen;

	while (q != NULL && hg_query_next(&q, r->query + r->query_len, &k, &klen, &v, &vlen))
		if (klen == strlen(name) && memcmp(k, name, klen) == 0)
			return 1;
	return 0;
}

/* GET /api/v1/api-keys[?owner_id=O]: the admin's view of every key. */
static void op_api_key_list(struct hg_api *api, struct hg_store *st, const struct api_job *j,
			    struct api_answer *a)
{
	const struct ob_req *r = ob_ext(j);
	struct ob_list l = {.arr = json_array()};
	char owner[HG_STORE_OWNER_ID_MAX + 1];
	struct ob_who who;
	long n;
	int rc;

	if (!ob_auth(api, st, r, &who, a))
		goto out;
	if (!who.admin) {
		ob_error(a, 403, "only the admin token lists API keys");
		goto out;
	}
	if (l.arr == NULL) {
		ob_error(a, 503, "out of memory");
		goto out;
	}
	/* -1 is absent or too long: a filter is never ignored, so look again */
	n = hg_query_get(r->query, r->query_len, "owner_id", owner, sizeof(owner));
	if (n == 0 || (n < 0 && ob_has_param(r, "owner_id"))) {
		ob_error(a, 400, "owner_id: expected 1-%d letters, digits or ._:@-",
			 HG_STORE_OWNER_ID_MAX);
		goto out;
	}
	rc = hg_store_api_key_each(st, n > 0 ? owner : NULL, ob_key_one, &l);
	if (rc != HG_OK || l.oom) {
		ob_store_error(a, l.oom ? HG_ENOMEM : rc);
		goto out;
	}
	ob_answer(a, 200, l.arr, NULL, NULL);
out:
	json_decref(l.arr);
}

/* DELETE /api/v1/api-keys/{id}: revokes the key; its token is refused from
 * the next request on (keys are looked up on every request). */
static void op_api_key_revoke(struct hg_api *api, struct hg_store *st, const struct api_job *j,
			      struct api_answer *a)
{
	static const char *const extra[] = {"message", "API key revoked.", NULL};
	char reason[16 + HG_STORE_OWNER_ID_MAX];
	struct ob_who who;
	int rc;

	if (!ob_auth(api, st, ob_ext(j), &who, a))
		return;
	if (!who.admin) {
		ob_error(a, 403, "only the admin token revokes API keys");
		return;
	}
	if (!hg_api_is_uuid(j->arg, strlen(j->arg))) {
		ob_error(a, 404, "no such API key");
		return;
	}
	rc = hg_store_api_key_delete(st, j->arg);
	if (rc == HG_ENOTFOUND) {
		ob_error(a, 404, "no such API key");
		return;
	}
	if (rc != HG_OK) {
		ob_store_error(a, rc);
		return;
	}
	snprintf(reason, sizeof(reason), "API key %s", j->arg);
	hg_ingest_audit(api->ingest, "api_key_revoked", NULL, j->client, reason);
	ob_answer(a, 200, NULL, NULL, extra);
}

static void op_sub_list(struct hg_api *api, struct hg_store *st, const struct api_job *j,
			struct api_answer *a)
{
	struct ob_list l = {.arr = json_array()};
	struct ob_who who;
	int rc;

	if (!ob_auth(api, st, ob_ext(j), &who, a) || !ob_may_manage(&who, a))
		goto out;
	if (!ob_limit(api, a, "@api:manage", &j->cfg->outbound.rl_manage,
		      who.admin ? "*" : who.owner))
		goto out;
	if (l.arr == NULL) {
		ob_error(a, 503, "out of memory");
		goto out;
	}
	rc = hg_store_sub_each(st, ob_scope(&who), 0, ob_list_one, &l);
	if (rc != HG_OK || l.oom) {
		ob_store_error(a, l.oom ? HG_ENOMEM : rc);
		goto out;
	}
	ob_answer(a, 200, l.arr, NULL, NULL);
out:
	json_decref(l.arr);
}

/* Loads the subscription of j->arg for who into s: 1, or 0 answered (404
 * for an unknown id, another owner's, or a malformed one). */
static int ob_load(struct hg_api *api, struct hg_store *st, const struct api_job *j,
		   const struct ob_who *who, struct hg_store_sub *s, struct api_answer *a)
{
	int rc;

	(void)api;
	memset(s, 0, sizeof(*s));
	if (!hg_api_is_uuid(j->arg, strlen(j->arg))) {
		ob_error(a, 404, "no such webhook subscription");
		return 0;
	}
	rc = hg_store_sub_get(st, j->arg, ob_scope(who), s);
	if (rc == HG_ENOTFOUND) {
		ob_error(a, 404, "no such webhook subscription");
		return 0;
	}
	if (rc != HG_OK) {
		ob_store_error(a, rc);
		return 0;
	}
	return 1;
}

static int ob_manage_prologue(struct hg_api *api, struct hg_store *st, const struct api_job *j,
			      struct ob_who *who, struct api_answer *a)
{
	return ob_auth(api, st, ob_ext(j), who, a) && ob_may_manage(who, a) &&
	       ob_limit(api, a, "@api:manage", &j->cfg->outbound.rl_manage,
			who->admin ? "*" : who->owner);
}

static void op_sub_get(struct hg_api *api, struct hg_store *st, const struct api_job *j,
		       struct api_answer *a)
{
	struct hg_store_sub s;
	struct ob_who who;
	json_t *view;

	if (!ob_manage_prologue(api, st, j, &who, a) || !ob_load(api, st, j, &who, &s, a))
		return;
	view = ob_view(&s);
	ob_answer(a, 200, view, NULL, NULL);
	json_decref(view);
	hg_store_sub_free(&s);
}

static void op_sub_patch(struct hg_api *api, struct hg_store *st, const struct api_job *j,
			 struct api_answer *a)
{
	const struct ob_req *r = ob_ext(j);
	const struct hg_config *cfg = j->cfg;
	struct hg_ssrf_policy pol = ob_policy(cfg);
	struct hg_webhook_input in;
	struct hg_store_sub_patch p = {.is_active = -1};
	struct hg_store_sub s;
	struct ob_who who;
	char err[512], *events = NULL;
	json_t *view;
	int rc;

	if (!ob_manage_prologue(api, st, j, &who, a))
		return;
	if (!hg_api_is_uuid(j->arg, strlen(j->arg))) {
		ob_error(a, 404, "no such webhook subscription");
		return;
	}
	if (hg_webhook_parse(r->body, r->body_len, 1, ob_types(cfg), cfg->n_event_types, &in, err,
			     sizeof(err)) != HG_OK) {
		ob_error(a, 400, "%s", err);
		return;
	}
	if (in.has_url &&
	    hg_ssrf_check_url(&pol, in.url, strlen(in.url), err, sizeof(err)) != HG_OK) {
		ob_error(a, 400, "%s", err);
		goto out;
	}
	if (in.has_events && (events = ob_events_json(in.events, in.n_events)) == NULL) {
		ob_error(a, 503, "out of memory");
		goto out;
	}
	p.url = in.has_url ? in.url : NULL;
	p.events_json = events;
	p.is_active = in.has_active ? in.is_active : -1;
	p.set_description = in.has_description;
	p.description = in.description;
	p.now_ms = hg_now_ms();
	rc = hg_store_sub_update(st, j->arg, ob_scope(&who), &p);
	if (rc == HG_ENOTFOUND) {
		ob_error(a, 404, "no such webhook subscription");
		goto out;
	}
	if (rc != HG_OK) {
		ob_store_error(a, rc);
		goto out;
	}
	if (!ob_load(api, st, j, &who, &s, a))
		goto out;
	view = ob_view(&s);
	ob_answer(a, 200, view, NULL, NULL);
	json_decref(view);
	hg_store_sub_free(&s);
out:
	free(events);
	hg_webhook_input_free(&in);
}

static void op_sub_delete(struct hg_api *api, struct hg_store *st, const struct api_job *j,
			  struct api_answer *a)
{
	static const char *const extra[] = {"message", "Webhook subscription deleted.", NULL};
	struct ob_who who;
	int rc;

	if (!ob_manage_prologue(api, st, j, &who, a))
		return;
	if (!hg_api_is_uuid(j->arg, strlen(j->arg))) {
		ob_error(a, 404, "no such webhook subscription");
		return;
	}
	rc = hg_store_sub_delete(st, j->arg, ob_scope(&who), hg_now_ms());
	if (rc == HG_ENOTFOUND) {
		ob_error(a, 404, "no such webhook subscription");
		return;
	}
	if (rc != HG_OK) {
		ob_store_error(a, rc);
		return;
	}
	ob_answer(a, 200, NULL, NULL, extra);
}

static void op_sub_regenerate(struct hg_api *api, struct hg_store *st, const struct api_job *j,
			      struct api_answer *a)
{
	const struct ob_req *r = ob_ext(j);
	char secret[HG_OUTBOUND_SECRET_LEN + 1], whsec[HG_OUTBOUND_WHSEC_LEN + 1], err[256],
	    until[32] = "";
	struct hg_store_sub s;
	struct ob_who who;
	int64_t grace = 0, now = hg_now_ms();
	int rc;

	if (!ob_auth(api, st, r, &who, a) || !ob_may_manage(&who, a))
		return;
	if (hg_webhook_parse_regenerate(r->body, r->body_len, &grace, err, sizeof(err)) != HG_OK) {
		ob_error(a, 400, "%s", err);
		return;
	}
	if (!ob_load(api, st, j, &who, &s, a))
		return;
	if (!ob_limit(api, a, "@api:regenerate", &j->cfg->outbound.rl_regenerate, s.owner_id))
		goto out;
	if (hg_outbound_secret_new(secret) != HG_OK ||
	    hg_outbound_secret_whsec(secret, whsec) != HG_OK) {
		ob_error(a, 503, "no randomness available for a secret; try again");
		goto out;
	}
	rc = hg_store_sub_set_secret(st, s.id, ob_scope(&who), secret, grace > 0 ? s.secret : NULL,
				     now + grace, now);
	if (rc != HG_OK) {
		if (rc == HG_ENOTFOUND)
			ob_error(a, 404, "no such webhook subscription");
		else
			ob_store_error(a, rc);
		goto out;
	}
	if (!ob_audit_secret(st, j, &who, s.id, s.owner_id, "regenerated", a))
		goto out;
	if (grace > 0)
		hg_time_iso8601(now + grace, until, sizeof(until));
	{
		const char *const extra[] = {"secret",
					     secret,
					     "secret_standard",
					     whsec,
					     "message",
					     "Secret regenerated. " OB_SAVE_SECRET,
					     grace > 0 ? "grace_period_ends_at" : NULL,
					     until,
					     NULL};

		ob_answer(a, 200, NULL, NULL, extra);
	}
out:
	OPENSSL_cleanse(secret, sizeof(secret));
	OPENSSL_cleanse(whsec, sizeof(whsec));
	hg_store_sub_free(&s);
}

static int ob_delivery_one(const struct hg_store_sub_delivery *d, void *arg)
{
	struct ob_list *l = arg;
	struct hg_webhook_delivery_view v = {
	    .id = d->id,
	    .event_type = d->event_type,
	    .status = d->status,
	    .http_status_code = d->last_status,
	    .error = d->status == HG_DELIVERY_SUCCEEDED ? NULL : d->last_error,
	    .attempt_count = d->attempts,
	    .created_ms = d->created_ms,
	    .delivered_ms = d->status == HG_DELIVERY_SUCCEEDED ? d->updated_ms : 0,
	    .next_attempt_ms = (d->status == HG_DELIVERY_PENDING || d->status == HG_DELIVERY_FAILED)
				   ? d->next_attempt_ms
				   : 0};

	if (json_array_append_new(l->arr, hg_webhook_delivery_json(&v)) != 0) {
		l->oom = 1;
		return 1;
	}
	return 0;
}

static void op_sub_deliveries(struct hg_api *api, struct hg_store *st, const struct api_job *j,
			      struct api_answer *a)
{
	const struct ob_req *r = ob_ext(j);
	struct ob_list l = {.arr = json_array()};
	struct hg_store_sub s;
	struct ob_who who;
	int64_t page, limit, total = 0;
	json_t *meta = NULL;
	char err[256];
	int rc;

	if (!ob_manage_prologue(api, st, j, &who, a))
		goto out;
	if (hg_webhook_parse_page(r->query, r->query_len, &page, &limit, err, sizeof(err)) !=
	    HG_OK) {
		ob_error(a, 400, "%s", err);
		goto out;
	}
	if (!ob_load(api, st, j, &who, &s, a))
		goto out;
	hg_store_sub_free(&s);
	if (l.arr == NULL) {
		ob_error(a, 503, "out of memory");
		goto out;
	}
	rc = hg_store_sub_deliveries(st, j->arg, (page - 1) * limit, limit, ob_delivery_one, &l,
				     &total);
	if (rc != HG_OK || l.oom) {
		ob_store_error(a, l.oom ? HG_ENOMEM : rc);
		goto out;
	}
	meta = hg_webhook_meta_json(page, limit, total);
	ob_answer(a, 200, l.arr, meta, NULL);
out:
	json_decref(meta);
	json_decref(l.arr);
}

/* ---- publish ---- */

/* One event on its way through the ingest writer; freed in its done(). */
struct ob_publish {
	struct hg_ingest_item it;
	struct hg_http_pending *pending;
	struct hg_api *api;
	char event[HG_WEBHOOK_EVENT_MAX + 1];
	char request_id[HG_REQUEST_ID_MAX + 1]; /* the publishing request's */
	struct hg_deliver_event ev;             /* the message it.msg copies */
	struct hg_deliver_fanout to;            /* the subscriptions that get it */
};

static void ob_publish_free(struct ob_publish *p)
{
	hg_deliver_event_free(&p->ev);
	hg_deliver_fanout_free(&p->to);
	free(p);
}

/* Runs on the ingest writer after the commit (or its failure). */
static void ob_publish_done(struct hg_ingest_item *it)
{
	struct ob_publish *p = (struct ob_publish *)it;
	struct hg_http_resp resp = {.content_type = "application/json", .log_source = NULL};
	struct hg_buf b = {0};
	json_t *data = NULL;
	int dup = it->msg.outcome == HG_STORE_DUPLICATE;

	if (it->status != HG_OK) {
		resp.status = 503;
		resp.log_reason = "the event could not be stored";
		hg_webhook_error(&b, "the event could not be stored; nothing will be delivered; "
				     "try again");
	} else {
		resp.status = 202;
		resp.log_id = dup ? it->msg.first_id : it->msg.id;
		resp.log_outcome = dup ? "duplicate" : "accepted";
		data = json_pack("{s:s s:s s:I s:b}", "id", dup ? it->msg.first_id : it->msg.id,
				 "event", p->event, "deliveries", (json_int_t)(dup ? 0 : p->to.n),
				 "duplicate", dup);
		if (data == NULL || hg_webhook_envelope(&b, data, NULL, NULL) != HG_OK) {
			hg_buf_free(&b);
			resp.status = 503;
			hg_webhook_error(&b, "out of memory");
		}
		json_decref(data);
	}
	resp.body = b.data;
	resp.body_len = b.len;
	hg_http_pending_respond(p->pending, &resp);
	hg_buf_free(&b);
	ob_publish_free(p);
}

static void op_publish(struct hg_api *api, struct hg_store *st, const struct api_job *j,
		       struct api_answer *a)
{
	const struct ob_req *r = ob_ext(j);
	const struct hg_config *cfg = j->cfg;
	struct hg_webhook_publish in;
	struct ob_publish *p = NULL;
	struct ob_who who;
	const char *owner, *idem;
	struct hg_buf key = {0};
	char err[512];
	int64_t now = hg_now_ms();
	int rc;

	if (!ob_auth(api, st, r, &who, a))
		return;
	if (!who.admin && who.role != HG_STORE_ROLE_PUBLISHER) {
		ob_error(a, 403,
			 "an owner key manages subscriptions; publish with a publisher key "
			 "or the admin token");
		return;
	}
	if (hg_webhook_parse_publish(r->body, r->body_len, ob_types(cfg), cfg->n_event_types, &in,
				     err, sizeof(err)) != HG_OK) {
		ob_error(a, 400, "%s", err);
		return;
	}
	if (hg_events_reserved(in.event, strlen(in.event))) {
		ob_error(a, 400,
			 "event: types under \"" HG_EVENTS_PREFIX
			 "\" are hookgate's own operational "
			 "events; publish another type");
		goto out;
	}
	owner = who.admin ? in.owner_id : who.owner;
	if (!who.admin && in.owner_id != NULL && strcmp(in.owner_id, who.owner) != 0) {
		ob_error(a, 403, "a publisher key publishes for its own owner only");
		goto out;
	}
	if (!ob_limit(api, a, "@api:publish", &cfg->outbound.rl_publish,
		      owner != NULL ? owner : "*"))
		goto out;
	p = calloc(1, sizeof(*p));
	if (p == NULL) {
		ob_error(a, 503, "out of memory");
		goto out;
	}
	p->api = api;
	hg_strlcpy(p->event, in.event, sizeof(p->event));
	rc = hg_deliver_fanout(st, owner, p->event, now, &cfg->outbound.retry, &p->to);
	if (rc != HG_OK) {
		ob_store_error(a, rc);
		goto out;
	}
	/* the body every subscriber gets, stored once, signed per delivery */
	idem = in.idempotency_key != NULL ? in.idempotency_key : (r->idem[0] ? r->idem : NULL);
	if (idem != NULL &&
	    hg_buf_printf(&key, "idem:%s:%s", owner != NULL ? owner : "*", idem) != HG_OK) {
		ob_error(a, 503, "out of memory");
		goto out;
	}
	if (hg_deliver_event_init(&p->ev, in.event, now, in.data, (const char *)key.data,
				  p->to.targets, p->to.n) != HG_OK) {
		ob_error(a, 503, "out of memory");
		goto out;
	}
	p->it.msg = p->ev.msg;
	hg_strlcpy(p->request_id, j->request_id, sizeof(p->request_id));
	p->it.msg.request_id = p->request_id;
	p->it.done = ob_publish_done;
	p->pending = j->pending;
	a->deferred = 1; /* the writer answers, after the commit */
	hg_ingest_submit(api->ingest, &p->it);
	p = NULL;
out:
	hg_buf_free(&key);
	if (p != NULL)
		ob_publish_free(p);
	hg_webhook_publish_free(&in);
}

/* ---- the loop side ---- */

struct ob_route {
	const char *method;
	const char *pattern; /* after /api/v1/ */
	api_op_fn op;
};

static const struct ob_route ob_routes[] = {
    {"POST", "api-keys", op_api_key_create},
    {"GET", "api-keys", op_api_key_list},
    {"DELETE", "api-keys/*", op_api_key_revoke},
    {"GET", "webhooks", op_sub_list},
    {"POST", "webhooks", op_sub_create},
    {"GET", "webhooks/*", op_sub_get},
    {"PATCH", "webhooks/*", op_sub_patch},
    {"DELETE", "webhooks/*", op_sub_delete},
    {"POST", "webhooks/*/regenerate-secret", op_sub_regenerate},
    {"GET", "webhooks/*/deliveries", op_sub_deliveries},
    {"POST", "events", op_publish},
};
#define OB_NROUTES (sizeof(ob_routes) / sizeof(ob_routes[0]))

static void ob_reply(struct hg_http_req *req, int status, const char *reason,
		     const char *const *headers)
{
	struct hg_buf b = {0};
	struct hg_http_resp resp = {.status = status,
				    .content_type = "application/json",
				    .headers = headers,
				    .log_outcome = "rejected",
				    .log_reason = reason};

	if (hg_webhook_error(&b, reason) != HG_OK) {
		hg_buf_free(&b);
		hg_http_respond_error(req, status, NULL, reason);
		return;
	}
	resp.body = b.data;
	resp.body_len = b.len;
	hg_http_respond(req, &resp);
	hg_buf_free(&b);
}

void hg_api_outbound_handle(struct hg_http_req *req, void *arg)
{
	static const char prefix[] = "/api/v1/";
	struct hg_api *api = arg;
	const struct ob_route *found = NULL;
	const char *path, *seg = NULL, *hdr, *tok;
	char allow[64] = "", why[128];
	size_t len, seglen = 0, hlen = 0, tlen = 0, i;
	struct api_job *job = NULL;
	struct ob_req *r = NULL;
	int console;

	if (req->path_len < sizeof(prefix) - 1 ||
	    memcmp(req->path, prefix, sizeof(prefix) - 1) != 0) {
		ob_reply(req, 404, "no such API path", NULL);
		return;
	}
	path = req->path + sizeof(prefix) - 1;
	len = req->path_len - (sizeof(prefix) - 1);
	if (len > 0 && path[len - 1] == '/')
		len--;
	for (i = 0; i < OB_NROUTES && found == NULL; i++) {
		if (!hg_api_path_matches(ob_routes[i].pattern, path, len, &seg, &seglen))
			continue;
		if (req->method_len == strlen(ob_routes[i].method) &&
		    memcmp(req->method, ob_routes[i].method, req->method_len) == 0)
			found = &ob_routes[i];
		else if (strstr(allow, ob_routes[i].method) == NULL)
			snprintf(allow + strlen(allow), sizeof(allow) - strlen(allow), "%s%s",
				 allow[0] != '\0' ? ", " : "", ob_routes[i].method);
	}
	if (found == NULL && allow[0] != '\0') {
		const char *const headers[] = {"allow", allow, NULL};

		snprintf(why, sizeof(why), "method not allowed; this path takes %s", allow);
		ob_reply(req, 405, why, headers);
		return;
	}
	if (found == NULL || seglen > HG_API_ARG_MAX) {
		ob_reply(req, 404, "no such API path", NULL);
		return;
	}
	hdr = hg_http_header(req, "authorization", &hlen);
	/* the console's session stands for the admin token */
	console = hdr == NULL && api->have_token ? hg_api_console_auth(api, req) : 0;
	if (console < 0)
		return;
	job = calloc(1, sizeof(*job));
	r = calloc(1, sizeof(*r));
	if (job == NULL || r == NULL)
		goto oom;
	if (console > 0) {
		memcpy(r->token, api->token_hash, sizeof(r->token));
		r->has_token = 1;
		job->console = 1;
	} else if (hdr != NULL && hg_api_bearer(hdr, hlen, &tok, &tlen) == HG_OK) {
		hg_sha256((const uint8_t *)tok, tlen, r->token);
		r->has_token = 1;
	}
	if (req->body_len > 0) {
		r->body = malloc(req->body_len);
		if (r->body == NULL)
			goto oom;
		memcpy(r->body, req->body, req->body_len);
		r->body_len = req->body_len;
	}
	if (req->query != NULL && req->query_len > 0) {
		r->query = malloc(req->query_len + 1);
		if (r->query == NULL)
			goto oom;
		memcpy(r->query, req->query, req->query_len);
		r->query[req->query_len] = '\0';
		r->query_len = req->query_len;
	}
	hdr = hg_http_header(req, "idempotency-key", &hlen);
	if (hdr != NULL && hlen > 0 && hlen <= HG_WEBHOOK_IDEM_MAX) {
		memcpy(r->idem, hdr, hlen);
		r->idem[hlen] = '\0';
	}
	if (seg != NULL)
		memcpy(job->arg, seg, seglen);
	hg_strlcpy(job->client, req->peer, sizeof(job->client));
	hg_strlcpy(job->request_id, req->request_id, sizeof(job->request_id));
	job->op = found->op;
	job->ext = r;
	job->ext_free = ob_req_free;
	hg_api_enqueue(api, req, job);
	return;
oom:
	ob_req_free(r);
	free(job);
	ob_reply(req, 503, "out of memory", NULL);
}
