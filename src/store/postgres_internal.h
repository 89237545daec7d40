/*
 * postgres_internal.h — what the PostgreSQL backend's files share, and
 * nobody else (store_internal.h is the contract between store.c and every
 * backend; this is the PostgreSQL backend's own business): the handle, the
 * one transaction path and the helpers every file of the backend reads and
 * writes with, and the migration list.
 *
 *   postgres.c            connection, migrations, transactions, messages,
 *                         the audit append, deliveries, the ops table
 *   postgres_read.c       management reads, stats and retention
 *   postgres_outbound.c   outbound API keys and subscriptions
 *   postgres_ratelimit.c  rate-limit counters shared by several nodes
 *   postgres_migrations.c the schema
 */
#ifndef HG_POSTGRES_INTERNAL_H
#define HG_POSTGRES_INTERNAL_H

#include <libpq-fe.h>
#include <stddef.h>
#include <stdint.h>

#include "store/store_internal.h"
#include "util/util.h"

/* The backend's table; store.c picks it for postgres:// and postgresql://. */
extern const struct hg_store_ops hg_store_postgres_ops;

/* PostgreSQL schema migrations, oldest first: element i takes the schema
 * from version i to version i + 1, and version i means the same tables as
 * SQLite's version i, so `hookgate migrate` prints one number for both
 * backends. Append only; never edit a released one. */
extern const char *const hg_pg_migrations[];
extern const size_t hg_pg_n_migrations;

/* The statements every connection prepares at open (postgres.c). */
enum {
	P_KEYS,
	P_INSERT_MSG,
	P_FIRST_IDS,
	P_LOCK_DUPS,
	P_BUMP_DUPS,
	P_INSERT_DELIVERY,
	P_GET,
	P_COUNT_ALL,
	P_COUNT_SOURCE,
	P_PING,
	P_AUDIT_LOCK,
	P_AUDIT_LAST,
	P_AUDIT_INSERT,
	P_AUDIT_ALL,
	P_CLAIM,
	P_CLAIM_PREFIX,
	P_INSERT_ATTEMPT,
	P_OUTCOME,
	P_NEXT_DUE_ALL,
	P_NEXT_DUE_ENDPOINT,
	P_NEXT_DUE_PREFIX,
	P_MSG_EXISTS,
	P_DELIVERY_EXISTS,
	P_RETRY_ONE,
	P_RETRY_ENDPOINT,
	P_N
};

struct hg_pg {
	struct hg_store base; /* first: store.c sees only this */
	PGconn *conn;
	char label[256];     /* user@host:port/dbname, for logs; never the password */
	char *password;      /* only to scrub it from libpq's messages; NULL if none */
	int version;         /* schema version reached at open */
	int64_t rl_swept_ms; /* when this handle last forgot old rate-limit windows */
	/* scratch reused by every write (the handle is single-threaded):
	 * array literals for the batch statements, a key as stored, and
	 * UTF-8-repaired copies of text parameters */
	struct hg_buf arr[4];
	struct hg_buf darr[3];
	struct hg_buf key;
	struct hg_buf fix[4];
};

/* What failed in a transaction body, for the one log line and the retry
 * decision. */
struct hg_pg_fail {
	const char *what;
	char sqlstate[6];
	char msg[256];
};

/* ---- postgres.c: failures, statements, text, arrays, transactions ---- */

/* Records why step failed (res may be NULL) in f. Returns HG_EIO. */
int hg_pg_fail_with(struct hg_pg *p, struct hg_pg_fail *f, const char *what, const PGresult *res);
/* Runs prepared statement which (enum above) with text parameters (lens/fmts
 * NULL) or the formats given, asking for text (resfmt 0) or binary (1)
 * results. The caller checks and clears the result. */
PGresult *hg_pg_exec_stmt(struct hg_pg *p, int which, int n, const char *const *vals,
			  const int *lens, const int *fmts, int resfmt);
/* 1 when s is valid UTF-8. */
int hg_pg_utf8_valid(const char *s);
/* s as the database accepts it: itself, or a copy in b with every invalid
 * byte replaced by '?'; *rc gets HG_ENOMEM when the copy failed. */
const char *hg_pg_text_param(struct hg_buf *b, const char *s, int *rc);
/* A dedupe key as stored: itself, or "hex:" + its bytes when not UTF-8. */
int hg_pg_stored_key(struct hg_buf *b, const char *key);
/* Array literals ("{a,b}") built in a reused buffer. */
void hg_pg_arr_start(struct hg_buf *b);
int hg_pg_arr_add(struct hg_buf *b, const char *v, size_t n);
int hg_pg_arr_add_int(struct hg_buf *b, int64_t v);
int hg_pg_arr_end(struct hg_buf *b);

/* One write transaction: BEGIN, body, COMMIT once the server flushed its
 * WAL; a deadlock or serialization failure runs it again (reset first), any
 * other failure rolls back with one log line. HG_OK or HG_EIO. */
int hg_pg_txn_run(struct hg_pg *p, const char *op,
		  int (*body)(struct hg_pg *p, void *arg, struct hg_pg_fail *f),
		  void (*reset)(void *arg), void *arg);
/* Appends ev[0..n) to the shared audit chain inside the caller's
 * transaction (under the audit advisory lock). */
int hg_pg_append_audit(struct hg_pg *p, const struct hg_audit_event *ev, size_t n,
		       struct hg_pg_fail *f);
/* Logs a failed read. */
void hg_pg_read_failed(struct hg_pg *p, const char *op, const PGresult *res);
/* ---- postgres_read.c: read helpers the other files use too ---- */

/* A text column as an integer; null_value when it is NULL. */
int64_t hg_pg_text_i64(const PGresult *res, int row, int col, int64_t null_value);
/* Whether every non-NULL text parameter is UTF-8. */
int hg_pg_params_utf8(const char *const *vals, int n);
/* Runs a read with text parameters; NULL (logged) unless it returned rows. */
PGresult *hg_pg_read_query(struct hg_pg *p, const char *op, const char *sql, int n,
			   const char *const *vals, int resfmt);
/* ---- the ops each file implements (store.h names them) ---- */

/* postgres_read.c */
int hg_pg_list_messages(struct hg_store *st, const struct hg_store_msg_filter *f,
			int (*fn)(const struct hg_store_msg_info *m, void *arg), void *arg);
int hg_pg_list_deliveries(struct hg_store *st, const struct hg_store_delivery_filter *f,
			  int (*fn)(const struct hg_store_delivery_info *d, void *arg), void *arg);
int hg_pg_message_attempts(struct hg_store *st, const char *message_id,
			   int (*fn)(const struct hg_store_attempt_info *a, void *arg), void *arg);
int hg_pg_count_deliveries(struct hg_store *st, int64_t counts[HG_DELIVERY_DEAD + 1]);
int hg_pg_backlog(struct hg_store *st, int (*fn)(const struct hg_store_backlog *b, void *arg),
		  void *arg);
int hg_pg_stats_add(struct hg_store *st, const struct hg_stats_row *rows, size_t n);
int hg_pg_stats_read(struct hg_store *st, const char *source, int64_t from_ms,
		     struct hg_stats_row *rows, size_t n);
int hg_pg_purge(struct hg_store *st, const struct hg_store_purge_scope *scope, int64_t before_ms,
		size_t limit, struct hg_store_purged *out, int *more);
int hg_pg_audit_purge(struct hg_store *st, int64_t before_ms, size_t limit, int64_t now_ms,
		      int64_t *removed, int *more);

/* postgres_outbound.c */
int hg_pg_api_key_put(struct hg_store *st, const struct hg_store_api_key *k);
int hg_pg_api_key_find(struct hg_store *st, const char *token_hash, struct hg_store_api_key *out);
int hg_pg_api_key_each(struct hg_store *st, const char *owner_id, hg_store_api_key_fn fn,
		       void *arg);
int hg_pg_api_key_delete(struct hg_store *st, const char *id);
int hg_pg_sub_create(struct hg_store *st, const struct hg_store_sub *s);
int hg_pg_sub_get(struct hg_store *st, const char *id, const char *owner_id,
		  struct hg_store_sub *out);
int hg_pg_sub_each(struct hg_store *st, const char *owner_id, int active_only,
		   int (*fn)(const struct hg_store_sub *s, void *arg), void *arg);
int hg_pg_sub_update(struct hg_store *st, const char *id, const char *owner_id,
		     const struct hg_store_sub_patch *pt);
int hg_pg_sub_delete(struct hg_store *st, const char *id, const char *owner_id, int64_t now_ms);
int hg_pg_sub_set_secret(struct hg_store *st, const char *id, const char *owner_id,
			 const char *secret, const char *old_secret, const char *key_id,
			 int64_t old_until_ms, int64_t now_ms);
int hg_pg_sub_deliveries(struct hg_store *st, const char *id, int64_t offset, int64_t limit,
			 int (*fn)(const struct hg_store_sub_delivery *d, void *arg), void *arg,
			 int64_t *total);
int hg_pg_sub_outcome(struct hg_store *st, const char *id, int ok, int gone, int64_t now_ms,
		      int64_t disable_after_ms, const char *reason, int *disabled);

/* postgres_ratelimit.c */
int hg_pg_ratelimit_add(struct hg_store *st, struct hg_store_rl_count *c, size_t n);
int hg_pg_ratelimit_changes(struct hg_store *st, int64_t since_ms,
			    int (*fn)(const struct hg_store_rl_count *c, void *arg), void *arg,
			    int64_t *now_ms);

/* postgres_alerts.c: the alert state (store.h) */
int hg_pg_alert_set(struct hg_store *st, const struct hg_store_alert *a, int64_t now_ms,
		    int *changed);
int hg_pg_alert_list(struct hg_store *st, int64_t since_ms,
		     int (*fn)(const struct hg_store_alert *a, void *arg), void *arg);

/* postgres_media.c: the media jobs (store.h); put_media inserts m's
 * jobs inside the caller's transaction (put_batch) */
int hg_pg_put_media(struct hg_pg *p, const struct hg_store_msg *m, struct hg_pg_fail *f);
int hg_pg_media_claim(struct hg_store *st, int64_t now_ms, int64_t lease_until_ms,
		      struct hg_store_media *out);
int hg_pg_media_update(struct hg_store *st, const struct hg_store_media *m, int64_t now_ms);
int hg_pg_media_get(struct hg_store *st, const char *id, struct hg_store_media *out);
int hg_pg_media_list(struct hg_store *st, const char *message_id,
		     int (*fn)(const struct hg_store_media *m, void *arg), void *arg);
int hg_pg_media_defer(struct hg_store *st, const char *delivery_id, const char *lease_owner,
		      int64_t until_ms);
int hg_pg_media_counts(struct hg_store *st, int64_t counts[HG_MEDIA_EXPIRED + 1],
		       int64_t *stored_bytes);
int hg_pg_media_old(struct hg_store *st, const char *source, int64_t before_ms, size_t limit,
		    int (*fn)(const struct hg_store_media *m, void *arg), void *arg);

/* postgres_crypt.c: encryption at rest (store_internal.h) */
int hg_pg_meta_get(struct hg_store *st, const char *name, char key_id[HG_STORE_KEY_ID_MAX + 1],
		   char **value);
int hg_pg_meta_put(struct hg_store *st, const char *name, const char *key_id, const char *value,
		   const char *expect);
int hg_pg_key_usage(struct hg_store *st, int with_plain,
		    int (*fn)(const char *table, const char *key_id, int64_t count, void *arg),
		    void *arg);
int hg_pg_sealed_scan(struct hg_store *st, enum hg_store_sealed_kind kind,
		      const struct hg_store_sealed *after, const char *skip_key_id, size_t limit,
		      int (*fn)(const struct hg_store_sealed *r, void *arg), void *arg);
int hg_pg_sealed_swap(struct hg_store *st, enum hg_store_sealed_kind kind,
		      const struct hg_store_sealed *old, const struct hg_store_sealed *new_,
		      size_t n, size_t *swapped);
int hg_pg_dedupe_scan(
    struct hg_store *st, const char *after_source, const char *after_key, size_t limit,
    int (*fn)(const char *source, const char *key, const char *message_id, void *arg), void *arg);
int hg_pg_dedupe_rehash(struct hg_store *st, const struct hg_store_rehash *r, size_t n);

#endif
