/*
 * sqlite_outbound.c — the SQLite side of API keys and outbound
 * subscriptions (schema v5; store.h states the contract). sqlite.c's ops
 * table forwards to these with its connection.
 *
 * None of this is on the ingest hot path: management requests, the
 * fan-out lookup of a publish and the engine's per-attempt bookkeeping.
 * Statements are prepared per call (they are cheap next to the request
 * around them, and it keeps sqlite.c's statement cache for the hot path).
 * Writes of more than one statement run in their own BEGIN IMMEDIATE
 * transaction; single statements are atomic on their own.
 */
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>

#include "store/sqlite_outbound.h"

#define SUB_COLS                                                                                   \
	"id, owner_id, url, events, is_active, description, disabled_reason, secret,"              \
	" old_secret, old_secret_until_ms, created_ms, updated_ms, last_delivery_ms,"              \
	" failing_since_ms"

static int ob_prepare(sqlite3 *db, const char *sql, sqlite3_stmt **q)
{
	return sqlite3_prepare_v2(db, sql, -1, q, NULL) == SQLITE_OK ? HG_OK : HG_EIO;
}

static int ob_bind_text(sqlite3_stmt *q, int i, const char *v)
{
	if (v == NULL)
		return sqlite3_bind_null(q, i);
	return sqlite3_bind_text(q, i, v, -1, SQLITE_STATIC);
}

static int ob_bind_ms(sqlite3_stmt *q, int i, int64_t v)
{
	if (v == 0)
		return sqlite3_bind_null(q, i);
	return sqlite3_bind_int64(q, i, v);
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

static int ob_run(sqlite3 *db, const char *sql)
{
	return sqlite3_exec(db, sql, NULL, NULL, NULL) == SQLITE_OK ? HG_OK : HG_EIO;
}

static int ob_begin(sqlite3 *db)
{
	return ob_run(db, "BEGIN IMMEDIATE");
}

static int ob_end(sqlite3 *db, int rc)
{
	if (rc == HG_OK && ob_run(db, "COMMIT") == HG_OK)
		return HG_OK;
	if (!sqlite3_get_autocommit(db))
		(void)ob_run(db, "ROLLBACK");
	return rc == HG_OK ? HG_EIO : rc;
}

/* ---- API keys ---- */

int hg_sqlite_api_key_put(sqlite3 *db, const struct hg_store_api_key *k)
{
	sqlite3_stmt *q = NULL;
	int rc = ob_prepare(db,
			    "INSERT INTO api_keys (id, token_hash, owner_id, role, created_ms)"
			    " VALUES (?1, ?2, ?3, ?4, ?5)",
			    &q);

	if (rc != HG_OK)
		return rc;
	ob_bind_text(q, 1, k->id);
	ob_bind_text(q, 2, k->token_hash);
	ob_bind_text(q, 3, k->owner_id);
	ob_bind_text(q, 4, k->role == HG_STORE_ROLE_PUBLISHER ? "publisher" : "owner");
	sqlite3_bind_int64(q, 5, k->created_ms);
	rc = sqlite3_step(q) == SQLITE_DONE ? HG_OK : HG_EIO;
	sqlite3_finalize(q);
	return rc;
}

int hg_sqlite_api_key_find(sqlite3 *db, const char *token_hash, struct hg_store_api_key *out)
{
	sqlite3_stmt *q = NULL;
	int rc = ob_prepare(db,
			    "SELECT id, token_hash, owner_id, role, created_ms FROM api_keys"
			    " WHERE token_hash = ?1",
			    &q);

	if (rc != HG_OK)
		return rc;
	ob_bind_text(q, 1, token_hash);
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
		rc = HG_EIO;
	}
	sqlite3_finalize(q);
	return rc;
}

/* ---- subscriptions ---- */

int hg_sqlite_sub_create(sqlite3 *db, const struct hg_store_sub *s)
{
	sqlite3_stmt *q = NULL;
	int rc = ob_prepare(db,
			    "INSERT INTO subscriptions (" SUB_COLS ") VALUES (?1, ?2, ?3, ?4, ?5,"
			    " ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
			    &q);

	if (rc != HG_OK)
		return rc;
	ob_bind_text(q, 1, s->id);
	ob_bind_text(q, 2, s->owner_id);
	ob_bind_text(q, 3, s->url);
	ob_bind_text(q, 4, s->events_json);
	sqlite3_bind_int(q, 5, s->is_active ? 1 : 0);
	ob_bind_text(q, 6, s->description);
	ob_bind_text(q, 7, s->disabled_reason);
	ob_bind_text(q, 8, s->secret);
	ob_bind_text(q, 9, s->old_secret[0] != '\0' ? s->old_secret : NULL);
	ob_bind_ms(q, 10, s->old_secret_until_ms);
	sqlite3_bind_int64(q, 11, s->created_ms);
	sqlite3_bind_int64(q, 12, s->updated_ms);
	ob_bind_ms(q, 13, s->last_delivery_ms);
	ob_bind_ms(q, 14, s->failing_since_ms);
	rc = sqlite3_step(q) == SQLITE_DONE ? HG_OK : HG_EIO;
	sqlite3_finalize(q);
	return rc;
}

/* Fills s from a row of SUB_COLS. HG_OK or HG_ENOMEM. */
static int ob_sub_row(sqlite3_stmt *q, struct hg_store_sub *s)
{
	memset(s, 0, sizeof(*s));
	ob_copy(s->id, sizeof(s->id), q, 0);
	ob_copy(s->owner_id, sizeof(s->owner_id), q, 1);
	s->is_active = sqlite3_column_int(q, 4);
	ob_copy(s->secret, sizeof(s->secret), q, 7);
	ob_copy(s->old_secret, sizeof(s->old_secret), q, 8);
	s->old_secret_until_ms = sqlite3_column_int64(q, 9);
	s->created_ms = sqlite3_column_int64(q, 10);
	s->updated_ms = sqlite3_column_int64(q, 11);
	s->last_delivery_ms = sqlite3_column_int64(q, 12);
	s->failing_since_ms = sqlite3_column_int64(q, 13);
	if (ob_dup(q, 2, &s->url) != HG_OK || ob_dup(q, 3, &s->events_json) != HG_OK ||
	    ob_dup(q, 5, &s->description) != HG_OK || ob_dup(q, 6, &s->disabled_reason) != HG_OK ||
	    s->url == NULL || s->events_json == NULL) {
		hg_store_sub_free(s);
		return HG_ENOMEM;
	}
	return HG_OK;
}

int hg_sqlite_sub_get(sqlite3 *db, const char *id, const char *owner_id, struct hg_store_sub *out)
{
	sqlite3_stmt *q = NULL;
	int rc = ob_prepare(db,
			    "SELECT " SUB_COLS " FROM subscriptions WHERE id = ?1"
			    " AND (?2 IS NULL OR owner_id = ?2)",
			    &q);

	memset(out, 0, sizeof(*out));
	if (rc != HG_OK)
		return rc;
	ob_bind_text(q, 1, id);
	ob_bind_text(q, 2, owner_id);
	switch (sqlite3_step(q)) {
	case SQLITE_ROW:
		rc = ob_sub_row(q, out);
		break;
	case SQLITE_DONE:
		rc = HG_ENOTFOUND;
		break;
	default:
		rc = HG_EIO;
	}
	sqlite3_finalize(q);
	return rc;
}

int hg_sqlite_sub_each(sqlite3 *db, const char *owner_id, int active_only,
		       int (*fn)(const struct hg_store_sub *s, void *arg), void *arg)
{
	sqlite3_stmt *q = NULL;
	struct hg_store_sub s;
	int rc = ob_prepare(db,
			    "SELECT " SUB_COLS " FROM subscriptions"
			    " WHERE (?1 IS NULL OR owner_id = ?1) AND (?2 = 0 OR is_active = 1)"
			    " ORDER BY id DESC",
			    &q);
	int step;

	if (rc != HG_OK)
		return rc;
	ob_bind_text(q, 1, owner_id);
	sqlite3_bind_int(q, 2, active_only ? 1 : 0);
	while ((step = sqlite3_step(q)) == SQLITE_ROW) {
		int stop;

		rc = ob_sub_row(q, &s);
		if (rc != HG_OK)
			break;
		stop = fn(&s, arg);
		hg_store_sub_free(&s);
		if (stop)
			break;
	}
	if (rc == HG_OK && step != SQLITE_ROW && step != SQLITE_DONE)
		rc = HG_EIO;
	sqlite3_finalize(q);
	return rc;
}

int hg_sqlite_sub_update(sqlite3 *db, const char *id, const char *owner_id,
			 const struct hg_store_sub_patch *p)
{
	sqlite3_stmt *q = NULL;
	int rc = ob_prepare(
	    db,
	    "UPDATE subscriptions SET url = coalesce(?3, url), events = coalesce(?4, events),"
	    " is_active = CASE WHEN ?5 < 0 THEN is_active ELSE ?5 END,"
	    " disabled_reason = CASE WHEN ?5 = 1 THEN NULL ELSE disabled_reason END,"
	    " failing_since_ms = CASE WHEN ?5 = 1 THEN NULL ELSE failing_since_ms END,"
	    " description = CASE WHEN ?6 THEN ?7 ELSE description END,"
	    " updated_ms = max(?8, updated_ms + 1)"
	    " WHERE id = ?1 AND (?2 IS NULL OR owner_id = ?2)",
	    &q);

	if (rc != HG_OK)
		return rc;
	ob_bind_text(q, 1, id);
	ob_bind_text(q, 2, owner_id);
	ob_bind_text(q, 3, p->url);
	ob_bind_text(q, 4, p->events_json);
	sqlite3_bind_int(q, 5, p->is_active < 0 ? -1 : (p->is_active ? 1 : 0));
	sqlite3_bind_int(q, 6, p->set_description ? 1 : 0);
	ob_bind_text(q, 7, p->description);
	sqlite3_bind_int64(q, 8, p->now_ms);
	if (sqlite3_step(q) != SQLITE_DONE)
		rc = HG_EIO;
	else
		rc = sqlite3_changes(db) > 0 ? HG_OK : HG_ENOTFOUND;
	sqlite3_finalize(q);
	return rc;
}

/* Dead-letters the waiting deliveries of subscription id with error why. */
static int ob_dead_letter(sqlite3 *db, const char *id, const char *why, int64_t now_ms)
{
	sqlite3_stmt *q = NULL;
	int rc = ob_prepare(db,
			    "UPDATE deliveries SET status = 'dead', next_attempt_ms = NULL,"
			    " last_error = ?2, updated_ms = ?3"
			    " WHERE endpoint = '" HG_STORE_SUB_PREFIX "' || ?1"
			    " AND status IN ('pending', 'failed')",
			    &q);

	if (rc != HG_OK)
		return rc;
	ob_bind_text(q, 1, id);
	ob_bind_text(q, 2, why);
	sqlite3_bind_int64(q, 3, now_ms);
	rc = sqlite3_step(q) == SQLITE_DONE ? HG_OK : HG_EIO;
	sqlite3_finalize(q);
	return rc;
}

int hg_sqlite_sub_delete(sqlite3 *db, const char *id, const char *owner_id, int64_t now_ms)
{
	sqlite3_stmt *q = NULL;
	int rc = ob_begin(db);

	if (rc != HG_OK)
		return rc;
	rc = ob_prepare(
	    db, "DELETE FROM subscriptions WHERE id = ?1 AND (?2 IS NULL OR owner_id = ?2)", &q);
	if (rc == HG_OK) {
		ob_bind_text(q, 1, id);
		ob_bind_text(q, 2, owner_id);
		if (sqlite3_step(q) != SQLITE_DONE)
			rc = HG_EIO;
		else if (sqlite3_changes(db) == 0)
			rc = HG_ENOTFOUND;
		sqlite3_finalize(q);
	}
	if (rc == HG_OK)
		rc = ob_dead_letter(db, id, "subscription deleted", now_ms);
	return ob_end(db, rc);
}

int hg_sqlite_sub_set_secret(sqlite3 *db, const char *id, const char *owner_id, const char *secret,
			     const char *old_secret, int64_t old_until_ms, int64_t now_ms)
{
	sqlite3_stmt *q = NULL;
	int rc = ob_prepare(db,
			    "UPDATE subscriptions SET secret = ?3, old_secret = ?4,"
			    " old_secret_until_ms = ?5, updated_ms = max(?6, updated_ms + 1)"
			    " WHERE id = ?1 AND (?2 IS NULL OR owner_id = ?2)",
			    &q);

	if (rc != HG_OK)
		return rc;
	ob_bind_text(q, 1, id);
	ob_bind_text(q, 2, owner_id);
	ob_bind_text(q, 3, secret);
	ob_bind_text(q, 4, old_secret);
	ob_bind_ms(q, 5, old_secret != NULL ? old_until_ms : 0);
	sqlite3_bind_int64(q, 6, now_ms);
	if (sqlite3_step(q) != SQLITE_DONE)
		rc = HG_EIO;
	else
		rc = sqlite3_changes(db) > 0 ? HG_OK : HG_ENOTFOUND;
	sqlite3_finalize(q);
	return rc;
}

int hg_sqlite_sub_deliveries(sqlite3 *db, const char *id, int64_t offset, int64_t limit,
			     int (*fn)(const struct hg_store_sub_delivery *d, void *arg), void *arg,
			     int64_t *total)
{
	sqlite3_stmt *q = NULL;
	struct hg_store_sub_delivery d;
	int rc, step;

	*total = 0;
	rc = ob_prepare(
	    db, "SELECT count(*) FROM deliveries WHERE endpoint = '" HG_STORE_SUB_PREFIX "' || ?1",
	    &q);
	if (rc != HG_OK)
		return rc;
	ob_bind_text(q, 1, id);
	if (sqlite3_step(q) == SQLITE_ROW)
		*total = sqlite3_column_int64(q, 0);
	else
		rc = HG_EIO;
	sqlite3_finalize(q);
	if (rc != HG_OK)
		return rc;
	rc = ob_prepare(db,
			"SELECT d.id, json_extract(m.headers, '$.\"X-Webhook-Event\"'), d.status,"
			" d.last_status, d.last_error, d.attempts, d.created_ms, d.updated_ms,"
			" d.next_attempt_ms FROM deliveries d LEFT JOIN messages m"
			" ON m.id = d.message_id WHERE d.endpoint = '" HG_STORE_SUB_PREFIX
			"' || ?1 ORDER BY d.id DESC LIMIT ?2 OFFSET ?3",
			&q);
	if (rc != HG_OK)
		return rc;
	ob_bind_text(q, 1, id);
	sqlite3_bind_int64(q, 2, limit);
	sqlite3_bind_int64(q, 3, offset);
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
	if (step != SQLITE_ROW && step != SQLITE_DONE)
		rc = HG_EIO;
	sqlite3_finalize(q);
	return rc;
}

int hg_sqlite_sub_outcome(sqlite3 *db, const char *id, int ok, int gone, int64_t now_ms,
			  int64_t disable_after_ms, const char *reason, int *disabled)
{
	sqlite3_stmt *q = NULL;
	int64_t since = now_ms;
	int rc, active = 0, off = 0, found = 0;

	if (disabled != NULL)
		*disabled = 0;
	if (ok) {
		rc = ob_prepare(db,
				"UPDATE subscriptions SET last_delivery_ms = ?2,"
				" failing_since_ms = NULL WHERE id = ?1",
				&q);
		if (rc != HG_OK)
			return rc;
		ob_bind_text(q, 1, id);
		sqlite3_bind_int64(q, 2, now_ms);
		rc = sqlite3_step(q) == SQLITE_DONE ? HG_OK : HG_EIO;
		sqlite3_finalize(q);
		return rc;
	}
	rc = ob_begin(db);
	if (rc != HG_OK)
		return rc;
	rc = ob_prepare(db, "SELECT is_active, failing_since_ms FROM subscriptions WHERE id = ?1",
			&q);
	if (rc == HG_OK) {
		ob_bind_text(q, 1, id);
		switch (sqlite3_step(q)) {
		case SQLITE_ROW:
			found = 1;
			active = sqlite3_column_int(q, 0);
			if (sqlite3_column_type(q, 1) != SQLITE_NULL)
				since = sqlite3_column_int64(q, 1);
			break;
		case SQLITE_DONE:
			break;
		default:
			rc = HG_EIO;
		}
		sqlite3_finalize(q);
	}
	if (rc != HG_OK || !found)
		return ob_end(db, rc);
	/* failing since its first failure after the last success; switched
	 * off by a 410, or once that is disable_after ago */
	off = active && (gone || (disable_after_ms > 0 && now_ms - since >= disable_after_ms));
	rc =
	    ob_prepare(db,
		       "UPDATE subscriptions SET failing_since_ms = ?2,"
		       " is_active = CASE WHEN ?3 THEN 0 ELSE is_active END,"
		       " disabled_reason = CASE WHEN ?3 THEN ?4 ELSE disabled_reason END,"
		       " updated_ms = CASE WHEN ?3 THEN max(?5, updated_ms + 1) ELSE updated_ms END"
		       " WHERE id = ?1",
		       &q);
	if (rc == HG_OK) {
		ob_bind_text(q, 1, id);
		sqlite3_bind_int64(q, 2, since);
		sqlite3_bind_int(q, 3, off);
		ob_bind_text(q, 4, reason != NULL ? reason : "switched off by the gateway");
		sqlite3_bind_int64(q, 5, now_ms);
		rc = sqlite3_step(q) == SQLITE_DONE ? HG_OK : HG_EIO;
		sqlite3_finalize(q);
	}
	if (rc == HG_OK && off)
		rc = ob_dead_letter(db, id, reason != NULL ? reason : "subscription switched off",
				    now_ms);
	rc = ob_end(db, rc);
	if (rc == HG_OK && disabled != NULL)
		*disabled = off;
	return rc;
}
