/*
 * sqlite_media.c — the media jobs of the SQLite backend (store.h). A few
 * writes per file fetched: statements prepared when used. The jobs
 * themselves are inserted with their message by sqlite.c's put_one.
 */
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>

#include "store/sqlite_media.h"
#include "util/util.h"

#define MEDIA_SELECT "SELECT " HG_STORE_MEDIA_COLUMNS " FROM media"

/* Steps q (bound) and hands each row to fn; claim: at most one row. */
static int media_rows(sqlite3_stmt *q, int (*fn)(const struct hg_store_media *m, void *arg),
		      void *arg)
{
	const char *col[HG_STORE_MEDIA_NCOLS];
	struct hg_store_media m;
	int rc, i;

	while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		for (i = 0; i < HG_STORE_MEDIA_NCOLS; i++)
			col[i] = (const char *)sqlite3_column_text(q, i);
		hg_store_media_fill(&m, col);
		if (fn(&m, arg) != 0)
			return SQLITE_DONE;
	}
	return rc;
}

static int media_copy(const struct hg_store_media *m, void *arg)
{
	memcpy(arg, m, sizeof(*m));
	return 1;
}

/* One read of the media table: sql with text ?1 (may be NULL) and
 * integers ?2, ?3. HG_OK, or HG_EIO (logged). *n counts the rows seen. */
static int media_read(struct hg_store *st, const char *op, const char *sql, const char *text,
		      int64_t a, int64_t b, int (*fn)(const struct hg_store_media *m, void *arg),
		      void *arg)
{
	sqlite3 *db = hg_sqlite_db((struct hg_sqlite *)st);
	sqlite3_stmt *q = NULL;
	int rc;

	rc = sqlite3_prepare_v2(db, sql, -1, &q, NULL);
	if (rc == SQLITE_OK && text != NULL)
		rc = sqlite3_bind_text(q, 1, text, -1, SQLITE_STATIC);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_int64(q, 2, a);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_int64(q, 3, b);
	if (rc == SQLITE_OK)
		rc = media_rows(q, fn, arg);
	sqlite3_finalize(q);
	if (rc == SQLITE_DONE)
		return HG_OK;
	hg_log(HG_LOG_ERROR, "store read failed", "op", HG_LS(op), "error",
	       HG_LS(sqlite3_errmsg(db)), NULL);
	return HG_EIO;
}

struct claim_args {
	int64_t now_ms, lease_until_ms;
	struct hg_store_media *out;
	int found;
};

static int claim_body(struct hg_sqlite *s, void *arg, const char **what)
{
	struct claim_args *x = arg;
	sqlite3 *db = hg_sqlite_db(s);
	sqlite3_stmt *q = NULL;
	int rc;

	*what = "media claim";
	rc = sqlite3_prepare_v2(db,
				"UPDATE media SET next_try_ms = ?2, attempts = attempts + 1,"
				" updated_ms = ?1 WHERE id = (SELECT id FROM media"
				" WHERE state = 'pending' AND next_try_ms <= ?1"
				" ORDER BY next_try_ms LIMIT 1) RETURNING " HG_STORE_MEDIA_COLUMNS,
				-1, &q, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_int64(q, 1, x->now_ms);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_int64(q, 2, x->lease_until_ms);
	if (rc == SQLITE_OK) {
		x->found = 0;
		x->out->id[0] = '\0';
		rc = media_rows(q, media_copy, x->out);
		x->found = x->out->id[0] != '\0';
		/* RETURNING: the statement must run to its end to finish the update */
		while (rc == SQLITE_ROW)
			rc = sqlite3_step(q);
		rc = rc == SQLITE_DONE ? SQLITE_OK : rc;
	}
	sqlite3_finalize(q);
	return rc;
}

static int media_any(const struct hg_store_media *m, void *arg)
{
	(void)m;
	*(int *)arg = 1;
	return 1;
}

int hg_sqlite_media_claim(struct hg_store *st, int64_t now_ms, int64_t lease_until_ms,
			  struct hg_store_media *out)
{
	struct claim_args x = {.now_ms = now_ms, .lease_until_ms = lease_until_ms, .out = out};
	int due = 0, rc;

	/* A read first: an idle fetcher asks twice a second, and a write
	 * transaction each time would take the write lock from the ingest
	 * writer for nothing. (?1 is media_read's text slot, unused here.) */
	rc = media_read(st, "media_claim",
			MEDIA_SELECT " WHERE state = 'pending' AND next_try_ms <= ?2 AND ?1 IS NULL"
				     " LIMIT ?3",
			NULL, now_ms, 1, media_any, &due);
	if (rc != HG_OK || !due)
		return rc != HG_OK ? rc : HG_ENOTFOUND;
	rc = hg_sqlite_txn((struct hg_sqlite *)st, "media_claim", claim_body, &x);

	if (rc != HG_OK)
		return rc;
	return x.found ? HG_OK : HG_ENOTFOUND;
}

struct update_args {
	const struct hg_store_media *m;
	int64_t now_ms;
	int changed;
};

static int bind_opt(sqlite3_stmt *q, int i, const char *s)
{
	return s[0] != '\0' ? sqlite3_bind_text(q, i, s, -1, SQLITE_STATIC)
			    : sqlite3_bind_null(q, i);
}

static int update_body(struct hg_sqlite *s, void *arg, const char **what)
{
	struct update_args *x = arg;
	const struct hg_store_media *m = x->m;
	sqlite3 *db = hg_sqlite_db(s);
	sqlite3_stmt *q = NULL;
	int rc;

	*what = "media update";
	rc = sqlite3_prepare_v2(db,
				"UPDATE media SET state = ?2, mime = ?3, sha256 = ?4, size = ?5,"
				" next_try_ms = ?6, error = ?7, file = ?8, key_id = ?9,"
				" updated_ms = ?10 WHERE id = ?1",
				-1, &q, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_text(q, 1, m->id, -1, SQLITE_STATIC);
	if (rc == SQLITE_OK)
		rc =
		    sqlite3_bind_text(q, 2, hg_store_media_state_name(m->state), -1, SQLITE_STATIC);
	if (rc == SQLITE_OK)
		rc = bind_opt(q, 3, m->mime);
	if (rc == SQLITE_OK)
		rc = bind_opt(q, 4, m->sha256);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_int64(q, 5, m->size);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_int64(q, 6, m->next_try_ms);
	if (rc == SQLITE_OK)
		rc = bind_opt(q, 7, m->error);
	if (rc == SQLITE_OK)
		rc = bind_opt(q, 8, m->file);
	if (rc == SQLITE_OK)
		rc = bind_opt(q, 9, m->key_id);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_int64(q, 10, x->now_ms);
	if (rc == SQLITE_OK) {
		rc = sqlite3_step(q) == SQLITE_DONE ? SQLITE_OK : sqlite3_errcode(db);
		x->changed = rc == SQLITE_OK && sqlite3_changes(db) > 0;
	}
	sqlite3_finalize(q);
	return rc;
}

int hg_sqlite_media_update(struct hg_store *st, const struct hg_store_media *m, int64_t now_ms)
{
	struct update_args x = {.m = m, .now_ms = now_ms};
	int rc;

	if (hg_store_media_state_name(m->state) == NULL)
		return HG_EINVAL;
	rc = hg_sqlite_txn((struct hg_sqlite *)st, "media_update", update_body, &x);
	if (rc != HG_OK)
		return rc;
	return x.changed ? HG_OK : HG_ENOTFOUND;
}

int hg_sqlite_media_get(struct hg_store *st, const char *id, struct hg_store_media *out)
{
	int rc;

	out->id[0] = '\0';
	rc = media_read(st, "media_get", MEDIA_SELECT " WHERE id = ?1 AND ?2 = ?3", id, 0, 0,
			media_copy, out);
	if (rc != HG_OK)
		return rc;
	return out->id[0] != '\0' ? HG_OK : HG_ENOTFOUND;
}

int hg_sqlite_media_list(struct hg_store *st, const char *message_id,
			 int (*fn)(const struct hg_store_media *m, void *arg), void *arg)
{
	return media_read(st, "media_list",
			  MEDIA_SELECT " WHERE message_id = ?1 AND ?2 = ?3 ORDER BY id", message_id,
			  0, 0, fn, arg);
}

int hg_sqlite_media_old(struct hg_store *st, const char *source, int64_t before_ms, size_t limit,
			int (*fn)(const struct hg_store_media *m, void *arg), void *arg)
{
	return media_read(st, "media_old",
			  MEDIA_SELECT " WHERE source = ?1 AND created_ms < ?2"
				       " AND state IN ('stored', 'quarantined') ORDER BY created_ms"
				       " LIMIT ?3",
			  source, before_ms, (int64_t)limit, fn, arg);
}

struct defer_args {
	const char *id, *owner;
	int64_t until_ms;
};

static int defer_body(struct hg_sqlite *s, void *arg, const char **what)
{
	struct defer_args *x = arg;
	sqlite3 *db = hg_sqlite_db(s);
	sqlite3_stmt *q = NULL;
	int rc;

	*what = "delivery defer";
	rc = sqlite3_prepare_v2(db,
				"UPDATE deliveries SET status = 'pending', next_attempt_ms = ?3,"
				" lease_owner = NULL, lease_until_ms = NULL, updated_ms = ?4"
				" WHERE id = ?1 AND status = 'delivering' AND lease_owner = ?2",
				-1, &q, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_text(q, 1, x->id, -1, SQLITE_STATIC);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_text(q, 2, x->owner, -1, SQLITE_STATIC);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_int64(q, 3, x->until_ms);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_int64(q, 4, hg_now_ms());
	if (rc == SQLITE_OK)
		rc = sqlite3_step(q) == SQLITE_DONE ? SQLITE_OK : sqlite3_errcode(db);
	sqlite3_finalize(q);
	return rc;
}

int hg_sqlite_media_defer(struct hg_store *st, const char *delivery_id, const char *lease_owner,
			  int64_t until_ms)
{
	struct defer_args x = {.id = delivery_id, .owner = lease_owner, .until_ms = until_ms};

	return hg_sqlite_txn((struct hg_sqlite *)st, "media_defer", defer_body, &x);
}

int hg_sqlite_media_counts(struct hg_store *st, int64_t counts[HG_MEDIA_EXPIRED + 1],
			   int64_t *stored_bytes)
{
	sqlite3 *db = hg_sqlite_db((struct hg_sqlite *)st);
	sqlite3_stmt *q = NULL;
	enum hg_media_state s;
	int rc;

	rc = sqlite3_prepare_v2(
	    db, "SELECT state, count(*), coalesce(sum(size), 0) FROM media GROUP BY state", -1, &q,
	    NULL);
	while (rc == SQLITE_OK && (rc = sqlite3_step(q)) == SQLITE_ROW) {
		if (hg_store_media_state_parse((const char *)sqlite3_column_text(q, 0), &s) ==
		    HG_OK) {
			counts[s] = sqlite3_column_int64(q, 1);
			if (s == HG_MEDIA_STORED)
				*stored_bytes = sqlite3_column_int64(q, 2);
		}
		rc = SQLITE_OK;
	}
	sqlite3_finalize(q);
	if (rc == SQLITE_DONE)
		return HG_OK;
	hg_log(HG_LOG_ERROR, "store read failed", "op", HG_LS("media_counts"), "error",
	       HG_LS(sqlite3_errmsg(db)), NULL);
	return HG_EIO;
}
