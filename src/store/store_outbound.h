/*
 * store_outbound.h — DRAFT block for store.h (schema v5): API keys and
 * outbound subscriptions. Kept apart until the delivery and API work on
 * store.h has landed; then it moves to the end of store.h and this file
 * goes away.
 *
 * Outbound events are messages like any other: source HG_STORE_OUTBOUND_SOURCE,
 * body {"event","timestamp","data"}, headers {"X-Webhook-Event": type},
 * dedupe key "idem:<scope>:<idempotency key>" (or one of its own), and one
 * delivery per matching subscription whose endpoint is
 * HG_STORE_SUB_PREFIX + subscription id. Configured names are
 * [a-z0-9][a-z0-9_-]*, so neither can collide with a source or endpoint.
 */
#ifndef HG_STORE_OUTBOUND_H
#define HG_STORE_OUTBOUND_H

#include <stddef.h>
#include <stdint.h>

#include "store/store.h"

#define HG_STORE_OUTBOUND_SOURCE "@outbound"
#define HG_STORE_SUB_PREFIX      "sub:"
#define HG_STORE_OWNER_ID_MAX    128
#define HG_STORE_SECRET_LEN      64  /* hex characters */
#define HG_STORE_TOKEN_HASH_LEN  64  /* hex SHA-256 */

enum hg_store_role { HG_STORE_ROLE_OWNER = 1, HG_STORE_ROLE_PUBLISHER = 2 };

/* An API key: the token itself is never stored, only its SHA-256. */
struct hg_store_api_key {
	char id[HG_UUID_LEN + 1];
	char token_hash[HG_STORE_TOKEN_HASH_LEN + 1];
	char owner_id[HG_STORE_OWNER_ID_MAX + 1];
	int role; /* enum hg_store_role */
	int64_t created_ms;
};

/* HG_OK, or HG_EIO. */
int hg_store_api_key_put(struct hg_store *st, const struct hg_store_api_key *k);
/* Finds the key whose token hashes to token_hash: HG_OK, HG_ENOTFOUND or HG_EIO. */
int hg_store_api_key_find(struct hg_store *st, const char *token_hash,
			  struct hg_store_api_key *out);

/* A subscription. Read back by the functions below, its strings are
 * malloc'd: release with hg_store_sub_free(). */
struct hg_store_sub {
	char id[HG_UUID_LEN + 1];
	char owner_id[HG_STORE_OWNER_ID_MAX + 1];
	char *url;
	char *events_json; /* a JSON array of event types and patterns */
	int is_active;
	char *description;     /* NULL: none */
	char *disabled_reason; /* NULL unless the gateway switched it off */
	char secret[HG_STORE_SECRET_LEN + 1];
	char old_secret[HG_STORE_SECRET_LEN + 1]; /* "" unless in a grace period */
	int64_t old_secret_until_ms;
	int64_t created_ms;
	int64_t updated_ms;
	int64_t last_delivery_ms; /* 0: never delivered */
	int64_t failing_since_ms; /* 0: not failing */
};
void hg_store_sub_free(struct hg_store_sub *s);

/* Inserts s (every field as given). HG_OK or HG_EIO. */
int hg_store_sub_create(struct hg_store *st, const struct hg_store_sub *s);
/* The subscription id, of owner_id unless it is NULL (any owner).
 * HG_OK, HG_ENOTFOUND or HG_EIO. */
int hg_store_sub_get(struct hg_store *st, const char *id, const char *owner_id,
		     struct hg_store_sub *out);
/* Calls fn for each subscription of owner_id (all when NULL), newest first,
 * until fn returns non-zero. active_only: only is_active ones. The row is
 * valid during the call only. HG_OK or HG_EIO. */
int hg_store_sub_each(struct hg_store *st, const char *owner_id, int active_only,
		      int (*fn)(const struct hg_store_sub *s, void *arg), void *arg);

/* A change: NULL strings and is_active < 0 keep the value. Turning
 * is_active on clears disabled_reason and failing_since. */
struct hg_store_sub_patch {
	const char *url;
	const char *events_json;
	int is_active;
	int set_description; /* description = description (NULL clears it) */
	const char *description;
	int64_t now_ms;
};
/* HG_OK, HG_ENOTFOUND (no such subscription of owner_id) or HG_EIO. */
int hg_store_sub_update(struct hg_store *st, const char *id, const char *owner_id,
			const struct hg_store_sub_patch *p);
/* Deletes it and dead-letters its deliveries still waiting ("subscription
 * deleted"), in one transaction. HG_OK, HG_ENOTFOUND or HG_EIO. */
int hg_store_sub_delete(struct hg_store *st, const char *id, const char *owner_id,
			int64_t now_ms);
/* A new secret; old_secret (NULL: none) keeps signing until old_until_ms.
 * HG_OK, HG_ENOTFOUND or HG_EIO. */
int hg_store_sub_set_secret(struct hg_store *st, const char *id, const char *owner_id,
			    const char *secret, const char *old_secret, int64_t old_until_ms,
			    int64_t now_ms);

/* One row of a subscription's delivery history (strings valid during the
 * callback only). */
struct hg_store_sub_delivery {
	const char *id;
	const char *event_type;
	int status;        /* enum hg_delivery_status */
	int last_status;   /* HTTP status of the last attempt; < 0 none */
	const char *last_error;
	int attempts;
	int64_t created_ms;
	int64_t updated_ms;
	int64_t next_attempt_ms; /* 0 when none */
};
/* The page of deliveries of subscription id, newest first: offset rows
 * skipped, at most limit given to fn; *total gets the count of all.
 * HG_OK or HG_EIO. */
int hg_store_sub_deliveries(struct hg_store *st, const char *id, int64_t offset, int64_t limit,
			    int (*fn)(const struct hg_store_sub_delivery *d, void *arg), void *arg,
			    int64_t *total);

/* What one attempt to subscription id says about its health:
 *  ok: last_delivery = now, failing_since cleared;
 *  else failing_since = its first failure; when that is disable_after_ms
 *  (> 0) or more ago, or gone (the subscriber said 410), the subscription
 *  is switched off with reason and its waiting deliveries dead-lettered.
 * *disabled (may be NULL) is set to 1 when this call switched it off.
 * HG_OK (also when the subscription no longer exists) or HG_EIO. */
int hg_store_sub_outcome(struct hg_store *st, const char *id, int ok, int gone,
			 int64_t now_ms, int64_t disable_after_ms, const char *reason,
			 int *disabled);

#endif
