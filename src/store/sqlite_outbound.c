/*
 * sqlite_outbound.c — the SQLite side of API keys and outbound
 * subscriptions (schema v5; store.h states the contract). sqlite.c's ops
 * table forwards to these with its handle.
 *
 * None of this is on the ingest hot path: management requests, the
 * fan-out lookup of a publish and the engine's per-attempt bookkeeping.
 * Every write, of one statement or several, is one hg_sqlite_txn(): the
 * same BEGIN IMMEDIATE / COMMIT / ROLLBACK path as the rest of the backend,
 * in this process's turn to write, with its check that the database file
 * was not moved and its one log line on failure. Statements are prepared
 * on first use and kept on the handle (hg_sqlite_stmt); every bind is
 * checked, and a statement is reset and unbound when its function is done
 * with it, so no binding outlives the caller's strings.
 */
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>

#include "store/sqlite_outbound.h"

#define SUB_COLS                                                                                   \
	"id, owner_id, url, events, is_active, description, disabled_reason, secret,"              \
	" old_secret, old_secret_until_ms, created_ms, updated_ms, last_delivery_ms,"              \
	" failing_since_ms, key_id"

/* The statements of this file, one slot each in the handle's cache. */
enum {
	OB_KEY_PUT,
	OB_KEY_FIND,
	OB_KEY_EACH,
	OB_KEY_DELETE,
	OB_SUB_CREATE,
	OB_SUB_GET,
	OB_SUB_EACH,
	OB_SUB_UPDATE,
	OB_SUB_DELETE,
	OB_SUB_SET_SECRET,
	OB_SUB_COUNT_DELIVERIES,
	OB_SUB_DELIVERIES,
	OB_SUB_LAST_OK,
	OB_SUB_FAILING,
	OB_SUB_FAILED,
	OB_DEAD_LETTER,
	OB_N
};

_Static_assert(OB_N <= HG_SQLITE_EXTRA_STMTS, "sqlite_internal.h: raise HG_SQLITE_EXTRA_STMTS");

static const char *const ob_sql[OB_N] = {
    [OB_KEY_PUT] = "INSERT INTO api_keys (id, token_hash, owner_id, role, created_ms)"
		   " VALUES (?1, ?2, ?3, ?4, ?5)",
    [OB_KEY_FIND] = "SELECT id, token_hash, owner_id, role, created_ms FROM api_keys"
		    " WHERE token_hash = ?1",
    [OB_KEY_EACH] = "SELECT id, token_hash, owner_id, role, created_ms FROM api_keys"
		    " WHERE (?1 IS NULL OR owner_id = ?1) ORDER BY id",
    [OB_KEY_DELETE] = "DELETE FROM api_keys WHERE id = ?1",
    [OB_SUB_CREATE] = "INSERT INTO subscriptions (" SUB_COLS ") VALUES (?1, ?2, ?3, ?4, ?5,"
		      " ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)",
    [OB_SUB_GET] = "SELECT " SUB_COLS " FROM subscriptions WHERE id = ?1"
		   " AND (?2 IS NULL OR owner_id = ?2)",
    [OB_SUB_EACH] = "SELECT " SUB_COLS " FROM subscriptions"
		    " WHERE (?1 IS NULL OR owner_id = ?1) AND (?2 = 0 OR is_active = 1)"
		    " ORDER BY id DESC",
    [OB_SUB_UPDATE] =
	"UPDATE subscriptions SET url = coalesce(?3, url), events = coalesce(?4, events),"
	" is_active = CASE WHEN ?5 < 0 THEN is_active ELSE ?5 END,"
	" disabled_reason = CASE WHEN ?5 = 1 THEN NULL ELSE disabled_reason END,"
	" failing_since_ms = CASE WHEN ?5 = 1 THEN NULL ELSE failing_since_ms END,"
	" description = CASE WHEN ?6 THEN ?7 ELSE description END,"
	" updated_ms = max(?8, updated_ms + 1)"
	" WHERE id = ?1 AND (?2 IS NULL OR owner_id = ?2)",
    [OB_SUB_DELETE] = "DELETE FROM subscriptions WHERE id = ?1 AND (?2 IS NULL OR owner_id = ?2)",
    [OB_SUB_SET_SECRET] =
	"UPDATE subscriptions SET secret = ?3, old_secret = ?4,"
	" old_secret_until_ms = ?5, updated_ms = max(?6, updated_ms + 1), key_id = ?7"
	" WHERE id = ?1 AND (?2 IS NULL OR owner_id = ?2)",
    [OB_SUB_COUNT_DELIVERIES] =
	"SELECT count(*) FROM deliveries WHERE endpoint = '" HG_STORE_SUB_PREFIX "' || ?1",
    [OB_SUB_DELIVERIES] = "SELECT d.id, json_extract(m.headers, '$.\"X-Webhook-Event\"'), d.status,"
			  " d.last_status, d.last_error, d.attempts, d.created_ms, d.updated_ms,"
			  " d.next_attempt_ms FROM deliveries d LEFT JOIN messages m"
			  " ON m.id = d.message_id WHERE d.endpoint = '" HG_STORE_SUB_PREFIX
			  "' || ?1 ORDER BY d.id DESC LIMIT ?2 OFFSET ?3",
    [OB_SUB_LAST_OK] = "UPDATE subscriptions SET last_delivery_ms = ?2,"
		       " failing_since_ms = NULL WHERE id = ?1",
    [OB_SUB_FAILING] = "SELECT is_active, failing_since_ms FROM subscriptions WHERE id = ?1",
    [OB_SUB_FAILED] = "UPDATE subscriptions SET failing_since_ms = ?2,"
		      " is_active = CASE WHEN ?3 THEN 0 ELSE is_active END,"
		      " disabled_reason = CASE WHEN ?3 THEN ?4 ELSE disabled_reason END,"
		      " updated_ms = CASE WHEN ?3 THEN max(?5, updated_ms + 1) ELSE updated_ms END"
		      " WHERE id = ?1",
    [OB_DEAD_LETTER] = "UPDATE deliveries SET status = 'dead', next_attempt_ms = NULL,"
		       " last_error = ?2, updated_ms = ?3"
		       " WHERE endpoint = '" HG_STORE_SUB_PREFIX "' || ?1"
		       " AND status IN ('pending', 'failed')",
};

/* The cached statement of slot, or NULL when it cannot be prepared (the
 * caller reports SQLITE_ERROR; sqlite3_errmsg() says why). */
static sqlite3_stmt *ob_stmt(struct hg_sqlite *s, int slot)
{
	return hg_sqlite_stmt(s, slot, ob_sql[slot]);
}

/* Resets a statement and drops its bindings: no pointer into the caller's
 * strings stays on the handle. */
static void ob_done(sqlite3_stmt *q)
{
	sqlite3_reset(q);
	sqlite3_clear_bindings(q);
}

static int ob_bind_text(sqlite3_stmt *q, int i, const char *v)
{
	if (v == NULL)
		return sqlite3_bind_null(q, i);
	return sqlite3_bind_text(q, i, v, -1, SQLITE_STATIC);
}

/* 0 (never set) is stored as NULL. */
static int ob_bind_ms(sqlite3_stmt *q, int i, int64_t v)
{
	if (v == 0)
		return sqlite3_bind_null(q, i);
	return sqlite3_bind_int64(q, i, v);
}

/* Steps a statement that returns no rows; SQLITE_OK or the failing code. */
static int ob_exec(sqlite3_stmt *q)
{
	int rc = sqlite3_step(q);
	return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

static void ob_copy(char *dst, size_t cap, sqlite3_stmt *q, int col)
{
	const unsigned char *t = sqlite3_column_text(q, col);

	hg_strlcpy(dst, t != NULL ? (const char *)t : "", cap);
}

static int ob_dup(sqlite3_stmt *q, int col, char **out)
{
	const unsigned char *t = sqlite3_column_text(q, col);

	*out = NULL;
	if (t == NULL)
		return HG_OK;
	*out = strdup((const char *)t);
	return *out != NULL ? HG_OK : HG_ENOMEM;
}

/* The result of a read that failed: logged once, HG_EIO. */
static int ob_read_failed(struct hg_sqlite *s, const char *op)
{
	hg_log(HG_LOG_ERROR, "store read failed", "op", HG_LS(op), "error",
	       HG_LS(sqlite3_errmsg(hg_sqlite_db(s))), NULL);
	return HG_EIO;
}

/* ---- API keys ---- */

static int key_put_body(struct hg_sqlite *s, void *arg, const char **what)
{
	const struct hg_store_api_key *k = arg;
	sqlite3_stmt *q = ob_stmt(s, OB_KEY_PUT);
	int rc;

	*what = "insert api key";
	if (q == NULL)
		return SQLITE_ERROR;
	if ((rc = ob_bind_text(q, 1, k->id)) == SQLITE_OK &&
	    (rc = ob_bind_text(q, 2, k->token_hash)) == SQLITE_OK &&
	    (rc = ob_bind_text(q, 3, k->owner_id)) == SQLITE_OK &&
	    (rc = ob_bind_text(q, 4, k->role == HG_STORE_ROLE_PUBLISHER ? "publisher" : "owner")) ==
		SQLITE_OK &&
	    (rc = sqlite3_bind_int64(q, 5, k->created_ms)) == SQLITE_OK)
		rc = ob_exec(q);
	ob_done(q);
	return rc;
}

int hg_sqlite_api_key_put(struct hg_sqlite *s, const struct hg_store_api_key *k)
{
	return hg_sqlite_txn(s, "api_key_put", key_put_body, (void *)k);
}

/* One row of OB_KEY_FIND or OB_KEY_EACH into out. */
static void key_row(sqlite3_stmt *q, struct hg_store_api_key *out)
{
	ob_copy(out->id, sizeof(out->id), q, 0);
	ob_copy(out->token_hash, sizeof(out->token_hash), q, 1);
	ob_copy(out->owner_id, sizeof(out->owner_id), q, 2);
	out->role = strcmp((const char *)sqlite3_column_text(q, 3), "publisher") == 0
			? HG_STORE_ROLE_PUBLISHER
			: HG_STORE_ROLE_OWNER;
	out->created_ms = sqlite3_column_int64(q, 4);
}

int hg_sqlite_api_key_each(struct hg_sqlite *s, const char *owner_id, hg_store_api_key_fn fn,
			   void *arg)
{
	sqlite3_stmt *q = ob_stmt(s, OB_KEY_EACH);
	struct hg_store_api_key k;
	int rc = HG_EIO, step;

	if (q == NULL || ob_bind_text(q, 1, owner_id) != SQLITE_OK)
		goto out;
	while ((step = sqlite3_step(q)) == SQLITE_ROW) {
		memset(&k, 0, sizeof(k));
		key_row(q, &k);
		if (fn(&k, arg) != 0)
			break;
	}
	if (step == SQLITE_ROW || step == SQLITE_DONE)
		rc = HG_OK;
out:
	if (rc == HG_EIO)
		ob_read_failed(s, "api_key_each");
	if (q != NULL)
		ob_done(q);
	return rc;
}

struct key_delete_args {
	const char *id;
	int changed;
};

static int key_delete_body(struct hg_sqlite *s, void *arg, const char **what)
{
	struct key_delete_args *a = arg;
	sqlite3_stmt *q = ob_stmt(s, OB_KEY_DELETE);
	int rc;

	*what = "delete api key";
	if (q == NULL)
		return SQLITE_ERROR;
	if ((rc = ob_bind_text(q, 1, a->id)) == SQLITE_OK && (rc = ob_exec(q)) == SQLITE_OK)
		a->changed = sqlite3_changes(hg_sqlite_db(s)) > 0;
	ob_done(q);
	return rc;
}

int hg_sqlite_api_key_delete(struct hg_sqlite *s, const char *id)
{
	struct key_delete_args a = {.id = id};
	int rc = hg_sqlite_txn(s, "api_key_delete", key_delete_body, &a);

	return rc == HG_OK && !a.changed ? HG_ENOTFOUND : rc;
}

int hg_sqlite_api_key_find(struct hg_sqlite *s, const char *token_hash,
			   struct hg_store_api_key *out)
{
	sqlite3_stmt *q = ob_stmt(s, OB_KEY_FIND);
	int rc = HG_EIO;

	if (q == NULL || ob_bind_text(q, 1, token_hash) != SQLITE_OK)
		goto out;
	switch (sqlite3_step(q)) {
	case SQLITE_ROW:
		ob_copy(out->id, sizeof(out->id), q, 0);
		ob_copy(out->token_hash, sizeof(out->token_hash), q, 1);
		ob_copy(out->owner_id, sizeof(out->owner_id), q, 2);
		out->role = strcmp((const char *)sqlite3_column_text(q, 3), "publisher") == 0
				? HG_STORE_ROLE_PUBLISHER
				: HG_STORE_ROLE_OWNER;
		out->created_ms = sqlite3_column_int64(q, 4);
		rc = HG_OK;
		break;
	case SQLITE_DONE:
		rc = HG_ENOTFOUND;
		break;
	default:
		break;
	}
out:
	if (rc == HG_EIO)
		ob_read_failed(s, "api_key_find");
	if (q != NULL)
		ob_done(q);
	return rc;
}

/* ---- subscriptions ---- */

static int sub_create_body(struct hg_sqlite *s, void *arg, const char **what)
{
	const struct hg_store_sub *sub = arg;
	sqlite3_stmt *q = ob_stmt(s, OB_SUB_CREATE);
	int rc;

	*what = "insert subscription";
	if (q == NULL)
		return SQLITE_ERROR;
	if ((rc = ob_bind_text(q, 1, sub->id)) == SQLITE_OK &&
	    (rc = ob_bind_text(q, 2, sub->owner_id)) == SQLITE_OK &&
	    (rc = ob_bind_text(q, 3, sub->url)) == SQLITE_OK &&
	    (rc = ob_bind_text(q, 4, sub->events_json)) == SQLITE_OK &&
	    (rc = sqlite3_bind_int(q, 5, sub->is_active ? 1 : 0)) == SQLITE_OK &&
	    (rc = ob_bind_text(q, 6, sub->description)) == SQLITE_OK &&
	    (rc = ob_bind_text(q, 7, sub->disabled_reason)) == SQLITE_OK &&
	    (rc = ob_bind_text(q, 8, sub->secret)) == SQLITE_OK &&
	    (rc = ob_bind_text(q, 9, sub->old_secret[0] != '\0' ? sub->old_secret : NULL)) ==
		SQLITE_OK &&
	    (rc = ob_bind_ms(q, 10, sub->old_secret_until_ms)) == SQLITE_OK &&
	    (rc = sqlite3_bind_int64(q, 11, sub->created_ms)) == SQLITE_OK &&
	    (rc = sqlite3_bind_int64(q, 12, sub->updated_ms)) == SQLITE_OK &&
	    (rc = ob_bind_ms(q, 13, sub->last_delivery_ms)) == SQLITE_OK &&
	    (rc = ob_bind_ms(q, 14, sub->failing_since_ms)) == SQLITE_OK &&
	    (rc = ob_bind_text(q, 15, sub->key_id[0] != '\0' ? sub->key_id : NULL)) == SQLITE_OK)
		rc = ob_exec(q);
	ob_done(q);
	return rc;
}

int hg_sqlite_sub_create(struct hg_sqlite *s, const struct hg_store_sub *sub)
{
	return hg_sqlite_txn(s, "sub_create", sub_create_body, (void *)sub);
}

/* Fills sub from a row of SUB_COLS. HG_OK or HG_ENOMEM. */
static int ob_sub_row(sqlite3_stmt *q, struct hg_store_sub *sub)
{
	memset(sub, 0, sizeof(*sub));
	ob_copy(sub->id, sizeof(sub->id), q, 0);
	ob_copy(sub->owner_id, sizeof(sub->owner_id), q, 1);
	sub->is_active = sqlite3_column_int(q, 4);
	ob_copy(sub->secret, sizeof(sub->secret), q, 7);
	ob_copy(sub->old_secret, sizeof(sub->old_secret), q, 8);
	sub->old_secret_until_ms = sqlite3_column_int64(q, 9);
	sub->created_ms = sqlite3_column_int64(q, 10);
	sub->updated_ms = sqlite3_column_int64(q, 11);
	sub->last_delivery_ms = sqlite3_column_int64(q, 12);
	sub->failing_since_ms = sqlite3_column_int64(q, 13);
	ob_copy(sub->key_id, sizeof(sub->key_id), q, 14);
	if (ob_dup(q, 2, &sub->url) != HG_OK || ob_dup(q, 3, &sub->events_json) != HG_OK ||
	    ob_dup(q, 5, &sub->description) != HG_OK ||
	    ob_dup(q, 6, &sub->disabled_reason) != HG_OK || sub->url == NULL ||
	    sub->events_json == NULL) {
		hg_store_sub_free(sub);
		return HG_ENOMEM;
	}
	return HG_OK;
}

int hg_sqlite_sub_get(struct hg_sqlite *s, const char *id, const char *owner_id,
		      struct hg_store_sub *out)
{
	sqlite3_stmt *q = ob_stmt(s, OB_SUB_GET);
	int rc = HG_EIO;

	memset(out, 0, sizeof(*out));
	if (q == NULL || ob_bind_text(q, 1, id) != SQLITE_OK ||
	    ob_bind_text(q, 2, owner_id) != SQLITE_OK)
		goto out;
	switch (sqlite3_step(q)) {
	case SQLITE_ROW:
		rc = ob_sub_row(q, out);
		break;
	case SQLITE_DONE:
		rc = HG_ENOTFOUND;
		break;
	default:
		break;
	}
out:
	if (rc == HG_EIO)
		ob_read_failed(s, "sub_get");
	if (q != NULL)
		ob_done(q);
	return rc;
}

int hg_sqlite_sub_each(struct hg_sqlite *s, const char *owner_id, int active_only,
		       int (*fn)(const struct hg_store_sub *sub, void *arg), void *arg)
{
	sqlite3_stmt *q = ob_stmt(s, OB_SUB_EACH);
	struct hg_store_sub sub;
	int rc = HG_OK, step = SQLITE_ERROR;

	if (q == NULL || ob_bind_text(q, 1, owner_id) != SQLITE_OK ||
	    sqlite3_bind_int(q, 2, active_only ? 1 : 0) != SQLITE_OK) {
		rc = HG_EIO;
		goto out;
	}
	while ((step = sqlite3_step(q)) == SQLITE_ROW) {
		int stop;

		rc = ob_sub_row(q, &sub);
		if (rc != HG_OK)
			break;
		stop = fn(&sub, arg);
		hg_store_sub_free(&sub);
		if (stop)
			break;
	}
	if (rc == HG_OK && step != SQLITE_ROW && step != SQLITE_DONE)
		rc = HG_EIO;
out:
	if (rc == HG_EIO)
		ob_read_failed(s, "sub_each");
	if (q != NULL)
		ob_done(q);
	return rc;
}

/* A write of one statement whose rows changed decide "not found". */
struct ob_change {
	const char *id, *owner_id;
	int changed;
};

struct sub_update_args {
	struct ob_change c;
	const struct hg_store_sub_patch *p;
};

static int sub_update_body(struct hg_sqlite *s, void *arg, const char **what)
{
	struct sub_update_args *a = arg;
	const struct hg_store_sub_patch *p = a->p;
	sqlite3_stmt *q = ob_stmt(s, OB_SUB_UPDATE);
	int rc;

	*what = "update subscription";
	if (q == NULL)
		return SQLITE_ERROR;
	if ((rc = ob_bind_text(q, 1, a->c.id)) == SQLITE_OK &&
	    (rc = ob_bind_text(q, 2, a->c.owner_id)) == SQLITE_OK &&
	    (rc = ob_bind_text(q, 3, p->url)) == SQLITE_OK &&
	    (rc = ob_bind_text(q, 4, p->events_json)) == SQLITE_OK &&
	    (rc = sqlite3_bind_int(q, 5, p->is_active < 0 ? -1 : (p->is_active ? 1 : 0))) ==
		SQLITE_OK &&
	    (rc = sqlite3_bind_int(q, 6, p->set_description ? 1 : 0)) == SQLITE_OK &&
	    (rc = ob_bind_text(q, 7, p->description)) == SQLITE_OK &&
	    (rc = sqlite3_bind_int64(q, 8, p->now_ms)) == SQLITE_OK &&
	    (rc = ob_exec(q)) == SQLITE_OK)
		a->c.changed = sqlite3_changes(hg_sqlite_db(s)) > 0;
	ob_done(q);
	return rc;
}

int hg_sqlite_sub_update(struct hg_sqlite *s, const char *id, const char *owner_id,
			 const struct hg_store_sub_patch *p)
{
	struct sub_update_args a = {.c = {.id = id, .owner_id = owner_id}, .p = p};
	int rc = hg_sqlite_txn(s, "sub_update", sub_update_body, &a);

	return rc == HG_OK && !a.c.changed ? HG_ENOTFOUND : rc;
}

/* Dead-letters the waiting deliveries of subscription id with error why,
 * inside the caller's transaction. */
static int dead_letter(struct hg_sqlite *s, const char *id, const char *why, int64_t now_ms,
		       const char **what)
{
	sqlite3_stmt *q = ob_stmt(s, OB_DEAD_LETTER);
	int rc;

	*what = "dead-letter the subscription's deliveries";
	if (q == NULL)
		return SQLITE_ERROR;
	if ((rc = ob_bind_text(q, 1, id)) == SQLITE_OK &&
	    (rc = ob_bind_text(q, 2, why)) == SQLITE_OK &&
	    (rc = sqlite3_bind_int64(q, 3, now_ms)) == SQLITE_OK)
		rc = ob_exec(q);
	ob_done(q);
	return rc;
}

struct sub_delete_args {
	struct ob_change c;
	int64_t now_ms;
};

static int sub_delete_body(struct hg_sqlite *s, void *arg, const char **what)
{
	struct sub_delete_args *a = arg;
	sqlite3_stmt *q = ob_stmt(s, OB_SUB_DELETE);
	int rc;

	*what = "delete subscription";
	if (q == NULL)
		return SQLITE_ERROR;
	if ((rc = ob_bind_text(q, 1, a->c.id)) == SQLITE_OK &&
	    (rc = ob_bind_text(q, 2, a->c.owner_id)) == SQLITE_OK && (rc = ob_exec(q)) == SQLITE_OK)
		a->c.changed = sqlite3_changes(hg_sqlite_db(s)) > 0;
	ob_done(q);
	if (rc == SQLITE_OK && a->c.changed)
		rc = dead_letter(s, a->c.id, "subscription deleted", a->now_ms, what);
	return rc;
}

int hg_sqlite_sub_delete(struct hg_sqlite *s, const char *id, const char *owner_id, int64_t now_ms)
{
	struct sub_delete_args a = {.c = {.id = id, .owner_id = owner_id}, .now_ms = now_ms};
	int rc = hg_sqlite_txn(s, "sub_delete", sub_delete_body, &a);

	return rc == HG_OK && !a.c.changed ? HG_ENOTFOUND : rc;
}

struct set_secret_args {
	struct ob_change c;
	const char *secret, *old_secret, *key_id;
	int64_t old_until_ms, now_ms;
};

static int set_secret_body(struct hg_sqlite *s, void *arg, const char **what)
{
	struct set_secret_args *a = arg;
	sqlite3_stmt *q = ob_stmt(s, OB_SUB_SET_SECRET);
	int rc;

	*what = "set subscription secret";
	if (q == NULL)
		return SQLITE_ERROR;
	if ((rc = ob_bind_text(q, 1, a->c.id)) == SQLITE_OK &&
	    (rc = ob_bind_text(q, 2, a->c.owner_id)) == SQLITE_OK &&
	    (rc = ob_bind_text(q, 3, a->secret)) == SQLITE_OK &&
	    (rc = ob_bind_text(q, 4, a->old_secret)) == SQLITE_OK &&
	    (rc = ob_bind_ms(q, 5, a->old_secret != NULL ? a->old_until_ms : 0)) == SQLITE_OK &&
	    (rc = sqlite3_bind_int64(q, 6, a->now_ms)) == SQLITE_OK &&
	    (rc = ob_bind_text(q, 7, a->key_id)) == SQLITE_OK && (rc = ob_exec(q)) == SQLITE_OK)
		a->c.changed = sqlite3_changes(hg_sqlite_db(s)) > 0;
	ob_done(q);
	return rc;
}

int hg_sqlite_sub_set_secret(struct hg_sqlite *s, const char *id, const char *owner_id,
			     const char *secret, const char *old_secret, const char *key_id,
			     int64_t old_until_ms, int64_t now_ms)
{
	struct set_secret_args a = {.c = {.id = id, .owner_id = owner_id},
				    .secret = secret,
				    .old_secret = old_secret,
				    .key_id = key_id,
				    .old_until_ms = old_until_ms,
				    .now_ms = now_ms};
	int rc = hg_sqlite_txn(s, "sub_set_secret", set_secret_body, &a);

	return rc == HG_OK && !a.c.changed ? HG_ENOTFOUND : rc;
}

int hg_sqlite_sub_deliveries(struct hg_sqlite *s, const char *id, int64_t offset, int64_t limit,
			     int (*fn)(const struct hg_store_sub_delivery *d, void *arg), void *arg,
			     int64_t *total)
{
	sqlite3_stmt *q = ob_stmt(s, OB_SUB_COUNT_DELIVERIES);
	struct hg_store_sub_delivery d;
	int rc = HG_EIO, step;

	*total = 0;
	if (q == NULL || ob_bind_text(q, 1, id) != SQLITE_OK)
		goto out;
	if (sqlite3_step(q) != SQLITE_ROW)
		goto out;
	*total = sqlite3_column_int64(q, 0);
	ob_done(q);
	q = ob_stmt(s, OB_SUB_DELIVERIES);
	if (q == NULL || ob_bind_text(q, 1, id) != SQLITE_OK ||
	    sqlite3_bind_int64(q, 2, limit) != SQLITE_OK ||
	    sqlite3_bind_int64(q, 3, offset) != SQLITE_OK)
		goto out;
	while ((step = sqlite3_step(q)) == SQLITE_ROW) {
		enum hg_delivery_status st = HG_DELIVERY_PENDING;
		const unsigned char *ev = sqlite3_column_text(q, 1);

		memset(&d, 0, sizeof(d));
		d.id = (const char *)sqlite3_column_text(q, 0);
		d.event_type = ev != NULL ? (const char *)ev : "";
		(void)hg_store_delivery_status_parse((const char *)sqlite3_column_text(q, 2), &st);
		d.status = (int)st;
		d.last_status =
		    sqlite3_column_type(q, 3) == SQLITE_NULL ? -1 : sqlite3_column_int(q, 3);
		d.last_error = (const char *)sqlite3_column_text(q, 4);
		d.attempts = sqlite3_column_int(q, 5);
		d.created_ms = sqlite3_column_int64(q, 6);
		d.updated_ms = sqlite3_column_int64(q, 7);
		d.next_attempt_ms = sqlite3_column_int64(q, 8);
		if (fn(&d, arg))
			break;
	}
	if (step == SQLITE_ROW || step == SQLITE_DONE)
		rc = HG_OK;
out:
	if (rc == HG_EIO)
		ob_read_failed(s, "sub_deliveries");
	if (q != NULL)
		ob_done(q);
	return rc;
}

struct outcome_args {
	const char *id, *reason;
	int ok, gone, off;
	int64_t now_ms, disable_after_ms;
};

static int outcome_ok_body(struct hg_sqlite *s, void *arg, const char **what)
{
	struct outcome_args *a = arg;
	sqlite3_stmt *q = ob_stmt(s, OB_SUB_LAST_OK);
	int rc;

	*what = "record a delivery";
	if (q == NULL)
		return SQLITE_ERROR;
	if ((rc = ob_bind_text(q, 1, a->id)) == SQLITE_OK &&
	    (rc = sqlite3_bind_int64(q, 2, a->now_ms)) == SQLITE_OK)
		rc = ob_exec(q);
	ob_done(q);
	return rc;
}

/* A failed delivery: the subscription is failing since its first failure
 * after the last success, and is switched off by a 410 or once that is
 * disable_after ago (its waiting deliveries are dead-lettered with it). */
static int outcome_failed_body(struct hg_sqlite *s, void *arg, const char **what)
{
	struct outcome_args *a = arg;
	sqlite3_stmt *q = ob_stmt(s, OB_SUB_FAILING);
	int64_t since = a->now_ms;
	int rc, active = 0, found = 0;

	*what = "read the subscription's failures";
	if (q == NULL)
		return SQLITE_ERROR;
	rc = ob_bind_text(q, 1, a->id);
	if (rc == SQLITE_OK) {
		rc = sqlite3_step(q);
		if (rc == SQLITE_ROW) {
			found = 1;
			active = sqlite3_column_int(q, 0);
			if (sqlite3_column_type(q, 1) != SQLITE_NULL)
				since = sqlite3_column_int64(q, 1);
		}
		rc = rc == SQLITE_ROW || rc == SQLITE_DONE ? SQLITE_OK : rc;
	}
	ob_done(q);
	if (rc != SQLITE_OK || !found)
		return rc;

	a->off = active &&
		 (a->gone || (a->disable_after_ms > 0 && a->now_ms - since >= a->disable_after_ms));
	*what = "record a failed delivery";
	if ((q = ob_stmt(s, OB_SUB_FAILED)) == NULL)
		return SQLITE_ERROR;
	if ((rc = ob_bind_text(q, 1, a->id)) == SQLITE_OK &&
	    (rc = sqlite3_bind_int64(q, 2, since)) == SQLITE_OK &&
	    (rc = sqlite3_bind_int(q, 3, a->off)) == SQLITE_OK &&
	    (rc = ob_bind_text(q, 4,
			       a->reason != NULL ? a->reason : "switched off by the gateway")) ==
		SQLITE_OK &&
	    (rc = sqlite3_bind_int64(q, 5, a->now_ms)) == SQLITE_OK)
		rc = ob_exec(q);
	ob_done(q);
	if (rc == SQLITE_OK && a->off)
		rc = dead_letter(s, a->id,
				 a->reason != NULL ? a->reason : "subscription switched off",
				 a->now_ms, what);
	return rc;
}

int hg_sqlite_sub_outcome(struct hg_sqlite *s, const char *id, int ok, int gone, int64_t now_ms,
			  int64_t disable_after_ms, const char *reason, int *disabled)
{
	struct outcome_args a = {.id = id,
				 .reason = reason,
				 .ok = ok,
				 .gone = gone,
				 .now_ms = now_ms,
				 .disable_after_ms = disable_after_ms};
	int rc = hg_sqlite_txn(s, "sub_outcome", ok ? outcome_ok_body : outcome_failed_body, &a);

	if (disabled != NULL)
		*disabled = rc == HG_OK && a.off;
	return rc;
}
