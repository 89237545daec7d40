/*
 * store_internal.h — what store.c and the backends share, and nobody else.
 *
 * Every backend handle begins with a struct hg_store whose ops table says
 * which backend owns it; store.c only parses the URI, picks the table and
 * forwards. Adding a backend means one more table and one more line in
 * store.c's URI dispatch; callers of store.h do not change. store.c
 * refuses at open a table that lacks a required op (hg_store_ops_check), so
 * an incomplete backend fails loudly instead of crashing later.
 */
#ifndef HG_STORE_INTERNAL_H
#define HG_STORE_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "store/store.h"

/* ---- encryption at rest: what the backends do for store_keys.c ----
 * meta_get: the crypt_meta row called name: HG_OK (*value malloc'd text,
 *   key_id the key it is sealed with), HG_ENOTFOUND or HG_EIO.
 * meta_put: writes it when expect is NULL and there is no such row, or
 *   when its value is expect; HG_OK, HG_ENOTFOUND (nothing written: the
 *   row exists, or its value is not expect) or HG_EIO.
 * key_usage: fn(table, key_id, rows) for each key id that values of table
 *   are sealed with (tables "messages", "attempts", "subscriptions",
 *   "crypt_meta"), and with_plain: also key_id NULL for rows holding a
 *   value stored as it is; read through the key_id indexes (with_plain
 *   reads attempts). HG_OK or HG_EIO.
 * sealed_scan: fn for up to limit rows of kind after the cursor *after
 *   (id, or rowid for attempts; NULL: from the first) whose key_id is not
 *   skip_key_id (NULL key_ids included; attempts without a response head
 *   left out), in cursor order. HG_OK or HG_EIO.
 * sealed_swap: in ONE transaction, replaces each old[i]'s values and key
 *   id by new_[i]'s where the row is still as old[i] says (a row changed
 *   since is left alone; a subscription's secret may be regenerated under
 *   the rekey); *swapped counts rows replaced. HG_OK or HG_EIO.
 * dedupe_scan: fn for up to limit dedupe rows after (after_source,
 *   after_key) (NULLs: from the first) whose key is not a keyed hash yet
 *   (is not HG_INDEX_HASH_PREFIX "h1:" and 32 lowercase hex digits: a
 *   sender's own key that only starts so is hashed too), in (source, key)
 *   order; keys as callers gave them to put_batch (whatever form the
 *   backend stores them in). HG_OK or HG_EIO.
 * dedupe_rehash: in ONE transaction, each (source, key) row becomes
 *   (source, hash) for the same message (kept as it is when that hash is
 *   there already: the first message keeps it), HG_OK or HG_EIO. */
enum hg_store_sealed_kind {
	HG_SEALED_MESSAGES,
	HG_SEALED_ATTEMPTS,
	HG_SEALED_SUBSCRIPTIONS,
};

/* One row's sealed values as stored. */
struct hg_store_sealed {
	char id[HG_UUID_LEN + 1]; /* messages, subscriptions: the id; attempts: the delivery */
	int64_t rowid;            /* attempts: the row's own id (their cursor) */
	int n;                    /* attempts: the attempt number */
	char source[HG_STORE_NAME_MAX + 2];   /* messages: the source */
	char key_id[HG_STORE_KEY_ID_MAX + 1]; /* "": stored as they are */
	/* messages: body, headers; attempts: response_head; subscriptions:
	 * secret, old_secret. NULL: SQL NULL. */
	const uint8_t *v[2];
	size_t len[2];
};

struct hg_store_rehash {
	const char *source;
	const char *key;  /* as dedupe_scan gave it */
	const char *hash; /* what it becomes */
	const char *message_id;
};

/* Both backends' backlog query: the (status, ...) index ranges of the
 * waiting states, grouped per endpoint, subscriptions left out. */
#define HG_STORE_BACKLOG_SQL                                                                       \
	"SELECT endpoint, count(*), min(created_ms) FROM deliveries WHERE status IN"               \
	" ('pending', 'delivering', 'failed') AND endpoint NOT LIKE 'sub:%' GROUP BY endpoint"

struct hg_store_ops {
	const char *name; /* "sqlite", for messages a person reads */
	/* target is the URI with the scheme removed (the file path for sqlite).
	 * On success *out is a handle whose first member is a struct hg_store
	 * with ops set to this table. */
	int (*open)(const char *target, struct hg_store **out, char *err, size_t errlen);
	void (*close)(struct hg_store *st);
	int (*schema_version)(struct hg_store *st);
	/* msgs and audit events in one transaction (store.h, hg_store_put_batch) */
	int (*put_batch)(struct hg_store *st, struct hg_store_msg *const *msgs, size_t n,
			 const struct hg_audit_event *ev, size_t nev);
	/* Calls fn for every audit row in seq order until fn returns non-zero.
	 * HG_OK, or HG_EIO when the rows cannot be read. */
	int (*audit_rows)(struct hg_store *st,
			  int (*fn)(const struct hg_store_audit_row *row, void *arg), void *arg);
	/* hg_store_audit_list (optional) */
	int (*audit_list)(struct hg_store *st, const struct hg_store_audit_filter *f,
			  int (*fn)(const struct hg_store_audit_row *row, void *arg), void *arg);
	int (*get_message)(struct hg_store *st, const char *id, struct hg_store_row *row);
	/* may be NULL: hg_store_get_messages then reads them one by one */
	void (*get_messages)(struct hg_store *st, const char *const *ids, size_t n,
			     struct hg_store_row *rows, int *rcs);
	int (*count_messages)(struct hg_store *st, const char *source, int64_t *count);
	int (*ping)(struct hg_store *st);
	/* deliveries: the store.h functions of the same names;
	 * hg_store_claim_deliveries and hg_store_record_attempts are
	 * record_and_claim with nothing to record or to claim */
	int (*record_and_claim)(struct hg_store *st, const struct hg_store_attempt *a, size_t na,
				const char *owner, int64_t now_ms,
				const struct hg_store_claim_req *req, size_t nreq,
				struct hg_store_claimed *out, size_t *n);
	int (*next_due)(struct hg_store *st, const char *endpoint, int64_t *due_ms);
	int (*replay)(struct hg_store *st, const char *message_id, const char *const *endpoints,
		      size_t n, int64_t now_ms, char (*ids)[HG_UUID_LEN + 1]);
	int (*retry_dead)(struct hg_store *st, const char *delivery_id, const char *endpoint,
			  int64_t now_ms, int64_t *count);
	/* management reads, stats and retention: the store.h functions of the
	 * same names. A backend may leave them NULL (they fail with HG_EIO). */
	int (*list_messages)(struct hg_store *st, const struct hg_store_msg_filter *f,
			     int (*fn)(const struct hg_store_msg_info *m, void *arg), void *arg);
	int (*list_deliveries)(struct hg_store *st, const struct hg_store_delivery_filter *f,
			       int (*fn)(const struct hg_store_delivery_info *d, void *arg),
			       void *arg);
	int (*message_attempts)(struct hg_store *st, const char *message_id,
				int (*fn)(const struct hg_store_attempt_info *a, void *arg),
				void *arg);
	int (*count_deliveries)(struct hg_store *st, int64_t counts[HG_DELIVERY_DEAD + 1]);
	int (*backlog)(struct hg_store *st, int (*fn)(const struct hg_store_backlog *b, void *arg),
		       void *arg);
	int (*stats_add)(struct hg_store *st, const struct hg_stats_row *rows, size_t n);
	int (*stats_read)(struct hg_store *st, const char *source, int64_t from_ms,
			  struct hg_stats_row *rows, size_t n);
	/* scope NULL: every source; else never "none" (store.c answers that) */
	int (*purge)(struct hg_store *st, const struct hg_store_purge_scope *scope,
		     int64_t before_ms, size_t limit, struct hg_store_purged *out, int *more);
	/* hg_store_audit_purge (limit >= 1); may be NULL */
	int (*audit_purge)(struct hg_store *st, int64_t before_ms, size_t limit, int64_t now_ms,
			   int64_t *removed, int *more);
	/* outbound API keys and subscriptions (optional): the store.h
	 * functions of the same names */
	int (*api_key_put)(struct hg_store *st, const struct hg_store_api_key *k);
	int (*api_key_find)(struct hg_store *st, const char *token_hash,
			    struct hg_store_api_key *out);
	int (*api_key_each)(struct hg_store *st, const char *owner_id, hg_store_api_key_fn fn,
			    void *arg);
	int (*api_key_delete)(struct hg_store *st, const char *id);
	int (*sub_create)(struct hg_store *st, const struct hg_store_sub *s);
	int (*sub_get)(struct hg_store *st, const char *id, const char *owner_id,
		       struct hg_store_sub *out);
	int (*sub_each)(struct hg_store *st, const char *owner_id, int active_only,
			int (*fn)(const struct hg_store_sub *s, void *arg), void *arg);
	int (*sub_update)(struct hg_store *st, const char *id, const char *owner_id,
			  const struct hg_store_sub_patch *p);
	int (*sub_delete)(struct hg_store *st, const char *id, const char *owner_id,
			  int64_t now_ms);
	int (*sub_set_secret)(struct hg_store *st, const char *id, const char *owner_id,
			      const char *secret, const char *old_secret, const char *key_id,
			      int64_t old_until_ms, int64_t now_ms);
	int (*sub_deliveries)(struct hg_store *st, const char *id, int64_t offset, int64_t limit,
			      int (*fn)(const struct hg_store_sub_delivery *d, void *arg),
			      void *arg, int64_t *total);
	int (*sub_outcome)(struct hg_store *st, const char *id, int ok, int gone, int64_t now_ms,
			   int64_t disable_after_ms, const char *reason, int *disabled);
	/* rate-limit counters shared by several nodes (optional, both or
	 * neither): the store.h functions of the same names, called only with
	 * n >= 1. A backend without them shares nothing. */
	int (*ratelimit_add)(struct hg_store *st, struct hg_store_rl_count *c, size_t n);
	int (*ratelimit_changes)(struct hg_store *st, int64_t since_ms,
				 int (*fn)(const struct hg_store_rl_count *c, void *arg), void *arg,
				 int64_t *now_ms);
	/* encryption at rest (store_crypt.c, store_keys.c): optional, all
	 * or none (a backend without them cannot be used with encryption) */
	int (*meta_get)(struct hg_store *st, const char *name, char key_id[HG_STORE_KEY_ID_MAX + 1],
			char **value);
	int (*meta_put)(struct hg_store *st, const char *name, const char *key_id,
			const char *value, const char *expect);
	int (*key_usage)(struct hg_store *st, int with_plain,
			 int (*fn)(const char *table, const char *key_id, int64_t count, void *arg),
			 void *arg);
	int (*sealed_scan)(struct hg_store *st, enum hg_store_sealed_kind kind,
			   const struct hg_store_sealed *after, const char *skip_key_id,
			   size_t limit, int (*fn)(const struct hg_store_sealed *r, void *arg),
			   void *arg);
	int (*sealed_swap)(struct hg_store *st, enum hg_store_sealed_kind kind,
			   const struct hg_store_sealed *old, const struct hg_store_sealed *new_,
			   size_t n, size_t *swapped);
	int (*dedupe_scan)(struct hg_store *st, const char *after_source, const char *after_key,
			   size_t limit,
			   int (*fn)(const char *source, const char *key, const char *message_id,
				     void *arg),
			   void *arg);
	int (*dedupe_rehash)(struct hg_store *st, const struct hg_store_rehash *r, size_t n);
	/* after a rekey: drop the replaced bytes where the backend can (may
	 * be NULL). HG_OK or HG_EIO. */
	int (*scrub)(struct hg_store *st);
	/* alert state (optional, both or neither): the store.h functions of
	 * the same names */
	int (*alert_set)(struct hg_store *st, const struct hg_store_alert *a, int64_t now_ms,
			 int *changed);
	int (*alert_list)(struct hg_store *st, int64_t since_ms,
			  int (*fn)(const struct hg_store_alert *a, void *arg), void *arg);
	/* WhatsApp media (optional, all or none): the store.h functions of
	 * the same names */
	int (*media_claim)(struct hg_store *st, int64_t now_ms, int64_t lease_until_ms,
			   struct hg_store_media *out);
	int (*media_update)(struct hg_store *st, const struct hg_store_media *m, int64_t now_ms);
	int (*media_get)(struct hg_store *st, const char *id, struct hg_store_media *out);
	int (*media_list)(struct hg_store *st, const char *message_id,
			  int (*fn)(const struct hg_store_media *m, void *arg), void *arg);
	int (*media_old)(struct hg_store *st, const char *source, int64_t before_ms, size_t limit,
			 int (*fn)(const struct hg_store_media *m, void *arg), void *arg);
	int (*media_counts)(struct hg_store *st, int64_t counts[HG_MEDIA_EXPIRED + 1],
			    int64_t *stored_bytes);
	int (*media_defer)(struct hg_store *st, const char *delivery_id, const char *lease_owner,
			   int64_t until_ms);
};

/* The columns every backend reads a media row with, in the order
 * hg_store_media_fill() takes them (text form). */
#define HG_STORE_MEDIA_COLUMNS                                                                     \
	"id, message_id, source, graph_id, mime, sha256, state, size, attempts, next_try_ms,"      \
	" error, file, key_id, created_ms, updated_ms"
#define HG_STORE_MEDIA_NCOLS 15
/* Fills m from the 15 columns as text (NULL: empty / 0). */
void hg_store_media_fill(struct hg_store_media *m, const char *const *col);

/* HG_OK when ops has every op store.c calls without a NULL check (name,
 * open, close, schema_version, put_batch, audit_rows, get_message,
 * count_messages, ping, record_and_claim, next_due, replay, retry_dead)
 * and its optional capabilities whole (both rate-limit ops or neither);
 * else HG_EINVAL and err says which op is missing. */
int hg_store_ops_check(const struct hg_store_ops *ops, char *err, size_t errlen);
/* hg_store_open() once the URI chose ops and target: the check above, then
 * ops->open. Declared here so tests can open a table of their own. */
int hg_store_open_backend(const struct hg_store_ops *ops, const char *target, struct hg_store **out,
			  char *err, size_t errlen);

/* 1 when an endpoint argument of a claim or next_due is a prefix
 * ("prefix*": every endpoint whose name starts with prefix, as "sub:*"
 * selects every outbound subscription), 0 when it is one name. */
int hg_store_endpoint_is_prefix(const char *name);

/* The common head of every backend handle. */
struct hg_store {
	const struct hg_store_ops *ops;
};

extern const struct hg_store_ops hg_store_sqlite_ops;

/* The audit chain's hash of one row (the serialization store.h defines),
 * shared so every backend stores the same bytes: out gets 64 lower-case
 * hex digits and a NUL. HG_OK or HG_ENOMEM. */
#define HG_AUDIT_HASH_LEN 64
int hg_store_audit_hash(const char *prev_hash, int64_t seq, const struct hg_audit_event *ev,
			char out[HG_AUDIT_HASH_LEN + 1]);
/* The count a row of ev stores: ev->count, or 1 when it is 0 (callers
 * that itemise one event leave it unset). */
int64_t hg_store_audit_count(const struct hg_audit_event *ev);
/* Retention checkpoints (hg_store_audit_purge): event HG_AUDIT_CHECKPOINT_EVENT,
 * reason HG_AUDIT_CHECKPOINT_PREFIX "<last removed seq>, hash <its hash>: ..."
 * The schema's DELETE guard reads the same prefix (see the migrations). */
#define HG_AUDIT_CHECKPOINT_EVENT  "audit_checkpoint"
#define HG_AUDIT_CHECKPOINT_PREFIX "through row "
/* The reason of a checkpoint for removed rows first..last (last_hash the
 * hash of row last), older than before_ms. HG_OK or HG_ETOOBIG. */
int hg_store_audit_checkpoint_reason(int64_t first, int64_t last, const char *last_hash,
				     int64_t before_ms, char *out, size_t outlen);
/* Reads a checkpoint's reason back: HG_OK, or HG_EINVAL when it is not one. */
int hg_store_audit_checkpoint_parse(const char *reason, int64_t *last,
				    char last_hash[HG_AUDIT_HASH_LEN + 1]);
/* The audit rows of a put_batch once its messages' outcomes are known
 * (store.h, hg_store_put_batch): ev is the caller's rows and then one for
 * each accepted message with audit_received, n of them. ev points at the
 * caller's array when no message adds a row; else at own. */
#define HG_AUDIT_RECEIVED_REASON_LEN 64
struct hg_store_batch_audit {
	const struct hg_audit_event *ev;
	size_t n;
	struct hg_audit_event *own;
	char (*reason)[HG_AUDIT_RECEIVED_REASON_LEN];
};
/* HG_OK or HG_ENOMEM; release with hg_store_batch_audit_free() either way. */
int hg_store_batch_audit(struct hg_store_msg *const *msgs, size_t n,
			 const struct hg_audit_event *ev, size_t nev,
			 struct hg_store_batch_audit *out);
void hg_store_batch_audit_free(struct hg_store_batch_audit *b);
/* The prev_hash of row 1. */
extern const char hg_store_audit_genesis[HG_AUDIT_HASH_LEN + 1];

#endif
