/*
 * webhooks.h — private to src/api/: the pure parts of the outbound
 * subscription API (seed 003, the Clipper contract): event-type rules,
 * request bodies turned into validated values, and the JSON the endpoints
 * answer with. No I/O here; the handlers (routing, auth, store calls) use
 * these, and tests/unit/test_webhooks.c tests them.
 *
 * Every answer is an envelope: {"success":true,"data":...[,"meta":...]}
 * or {"success":false,"error":"one sentence"}. A secret appears in exactly
 * two answers (create, regenerate-secret), never in a read.
 *
 * Ownership: every json_t * returned is a new reference the caller
 * releases with json_decref(); every struct filled here is released with
 * its *_free() function.
 */
#ifndef HG_API_WEBHOOKS_H
#define HG_API_WEBHOOKS_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "deliver/deliver.h"
#include "util/util.h"

#define HG_WEBHOOK_MAX_EVENTS   32 /* event types (or patterns) per subscription */
#define HG_WEBHOOK_EVENT_MAX    HG_DELIVER_EVENT_MAX /* longest event type */
#define HG_WEBHOOK_DESC_MAX     500                  /* longest description, in bytes */
#define HG_WEBHOOK_URL_MAX      2048
#define HG_WEBHOOK_OWNER_MAX    128 /* longest owner id */
#define HG_WEBHOOK_IDEM_MAX     200 /* longest idempotency key */
#define HG_WEBHOOK_PAGE_DEFAULT 20  /* deliveries per page when ?limit= is absent */
#define HG_WEBHOOK_PAGE_MAX     100
#define HG_WEBHOOK_GRACE_MAX_MS (7LL * 24 * 3600 * 1000) /* longest grace_period */

/* ---- event types ---- */

/* (The event-type grammar and its match: deliver.h, with the fan-out.) */
/* Whether a subscription may list pattern: a configured type, "*", or
 * "prefix.*" matching at least one configured type, or any well-formed
 * type or pattern under "hookgate." (the operational events, events.h).
 * With no configured types (n == 0) any well-formed type or pattern is
 * allowed. */
int hg_webhook_pattern_allowed(const char *pattern, const char *const *types, size_t n);
/* Whether an event may be published as type: a configured type (any
 * well-formed one when n == 0); never a pattern. */
int hg_webhook_type_allowed(const char *type, const char *const *types, size_t n);

/* ---- request bodies ---- */

/* What create and patch carry. For patch, has_* says which fields were
 * given; create requires url and events. */
struct hg_webhook_input {
	int has_url, has_events, has_active, has_description;
	char *owner_id; /* create only: the owner to create for (NULL: the caller's) */
	char *url;
	char **events; /* distinct, in the order given */
	size_t n_events;
	int is_active;
	char *description; /* NULL: none (or patched to null) */
};
void hg_webhook_input_free(struct hg_webhook_input *in);

/* Parses a create (patch == 0) or patch (patch == 1) body: a JSON object
 * with url (string), events (array of strings, 1-32, each allowed by
 * hg_webhook_pattern_allowed), description (string or null, at most 500
 * bytes) and is_active (boolean); create also accepts owner_id (whom
 * the caller creates for; the handler decides whether it may). Unknown
 * fields are refused so a typo is not silently
 * ignored. The URL's shape is checked here (length, a string); the SSRF
 * rules are the caller's (hg_ssrf_check_url). HG_OK, HG_EINVAL with one
 * sentence in err, or HG_ENOMEM. */
int hg_webhook_parse(const uint8_t *body, size_t len, int patch, const char *const *types,
		     size_t ntypes, struct hg_webhook_input *out, char *err, size_t errlen);

/* POST /api/v1/events {event, data[, owner_id][, idempotency_key]}. */
struct hg_webhook_publish {
	char *event;
	json_t *data;          /* any JSON value the publisher sent (an object, usually) */
	char *owner_id;        /* NULL: every owner's subscriptions */
	char *idempotency_key; /* NULL: none (an Idempotency-Key header may give it) */
};
void hg_webhook_publish_free(struct hg_webhook_publish *p);
int hg_webhook_parse_publish(const uint8_t *body, size_t len, const char *const *types,
			     size_t ntypes, struct hg_webhook_publish *out, char *err,
			     size_t errlen);
/* (The body every subscriber receives: hg_deliver_event_body, deliver.h.) */

/* POST /api/v1/api-keys {owner_id[, role]}: role "owner" (default: manages
 * the owner's subscriptions) or "publisher" (publishes events for the
 * owner, and manages nothing). */
enum hg_webhook_role { HG_ROLE_OWNER = 1, HG_ROLE_PUBLISHER = 2 };
const char *hg_webhook_role_name(int role);
int hg_webhook_parse_api_key(const uint8_t *body, size_t len, char owner[HG_WEBHOOK_OWNER_MAX + 1],
			     int *role, char *err, size_t errlen);
/* 1 when s is a usable owner id: 1-128 bytes of letters, digits and
 * "._:@-" (UUIDs, emails, "team-core"). */
int hg_webhook_owner_ok(const char *s, size_t len);

/* regenerate-secret's optional body {"grace_period": "24h" | seconds}:
 * *grace_ms 0 when absent; at most HG_WEBHOOK_GRACE_MAX_MS. An empty body
 * is no grace period. */
int hg_webhook_parse_regenerate(const uint8_t *body, size_t len, int64_t *grace_ms, char *err,
				size_t errlen);

/* ?page=&limit= of the deliveries history: page >= 1 (default 1), limit
 * 1-100 (default 20). HG_OK or HG_EINVAL with err. */
int hg_webhook_parse_page(const char *query, size_t qlen, int64_t *page, int64_t *limit, char *err,
			  size_t errlen);

/* ---- answers ---- */

/* A subscription as it is shown: never its secret. */
struct hg_webhook_view {
	const char *id;
	const char *owner_id;
	const char *url;
	const char *events_json; /* a JSON array of strings, as stored */
	int is_active;
	const char *description;     /* may be NULL */
	const char *disabled_reason; /* why the gateway switched it off; may be NULL */
	int64_t created_ms;
	int64_t updated_ms;
	int64_t last_delivery_ms; /* 0: never */
};
/* {"id","user_id","url","events","is_active","description","created_at",
 * "updated_at","last_delivery_at"[,"disabled_reason"]}; user_id is the
 * owner (seed 003's name for it). NULL when out of memory. */
json_t *hg_webhook_view_json(const struct hg_webhook_view *v);

/* One row of a subscription's delivery history. */
struct hg_webhook_delivery_view {
	const char *id;
	const char *event_type;
	int status;           /* enum hg_delivery_status (store.h) as an int */
	int http_status_code; /* < 0: none yet */
	const char *error;    /* the last attempt's error; NULL when none */
	int attempt_count;
	int64_t created_ms;
	int64_t delivered_ms;    /* 0 unless delivered */
	int64_t next_attempt_ms; /* 0 unless another attempt is scheduled */
};
/* The seed's words: "delivered" (succeeded), "failed" (dead: no attempts
 * left), "pending" (anything else). */
const char *hg_webhook_delivery_word(int status);
json_t *hg_webhook_delivery_json(const struct hg_webhook_delivery_view *d);
/* {"page","limit","total","total_pages"} */
json_t *hg_webhook_meta_json(int64_t page, int64_t limit, int64_t total);

/* Envelopes, appended to out as compact JSON. data/meta are borrowed (not
 * stolen); either may be NULL (left out). extra: NULL or a NULL-terminated
 * list of key, value pairs of top-level strings ("secret", "message"). */
int hg_webhook_envelope(struct hg_buf *out, const json_t *data, const json_t *meta,
			const char *const *extra);
int hg_webhook_error(struct hg_buf *out, const char *message);

#endif
