/*
 * sqlite_crypt.c — the SQLite side of encryption at rest: the crypt_meta
 * row, the key-usage counts, and the scans and swaps `keys rekey` walks
 * the tables with (store_internal.h has the contract of each op). These
 * run at start-up, at a reload and during a rekey, never per request, so
 * their statements are prepared when used rather than kept.
 */
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>

#include "store/sqlite_crypt.h"
#include "util/util.h"

static int read_failed(sqlite3 *db, const char *op)
{
	hg_log(HG_LOG_ERROR, "store read failed", "op", HG_LS(op), "error",
	       HG_LS(sqlite3_errmsg(db)), NULL);
	return HG_EIO;
}

static int bind_text(sqlite3_stmt *q, int i, const char *v)
{
	return v != NULL ? sqlite3_bind_text(q, i, v, -1, SQLITE_TRANSIENT)
			 : sqlite3_bind_null(q, i);
}

static int bind_blob(sqlite3_stmt *q, int i, const uint8_t *v, size_t len)
{
	if (v == NULL)
		return sqlite3_bind_null(q, i);
	return sqlite3_bind_blob64(q, i, len > 0 ? (const void *)v : "", len, SQLITE_TRANSIENT);
}

static void copy_text(char *dst, size_t cap, sqlite3_stmt *q, int col)
{
	const unsigned char *t = sqlite3_column_text(q, col);

	hg_strlcpy(dst, t != NULL ? (const char *)t : "", cap);
}

int hg_sqlite_meta_get(struct hg_store *st, const char *name, char key_id[HG_STORE_KEY_ID_MAX + 1],
		       char **value)
{
	sqlite3 *db = hg_sqlite_db((struct hg_sqlite *)st);
	sqlite3_stmt *q = NULL;
	int rc = HG_EIO;

	*value = NULL;
	if (sqlite3_prepare_v2(db, "SELECT key_id, value FROM crypt_meta WHERE name = ?1", -1, &q,
			       NULL) != SQLITE_OK ||
	    bind_text(q, 1, name) != SQLITE_OK)
		goto out;
	switch (sqlite3_step(q)) {
	case SQLITE_ROW:
		copy_text(key_id, HG_STORE_KEY_ID_MAX + 1, q, 0);
		*value = strdup((const char *)sqlite3_column_text(q, 1));
		rc = *value != NULL ? HG_OK : HG_ENOMEM;
		break;
	case SQLITE_DONE:
		rc = HG_ENOTFOUND;
		break;
	default:
		break;
	}
out:
	if (rc == HG_EIO)
		read_failed(db, "meta_get");
	sqlite3_finalize(q);
	return rc;
}

struct meta_put_args {
	const char *name, *key_id, *value, *expect;
	int changed;
};

static int meta_put_body(struct hg_sqlite *s, void *arg, const char **what)
{
	struct meta_put_args *a = arg;
	sqlite3 *db = hg_sqlite_db(s);
	sqlite3_stmt *q = NULL;
	int rc;

	*what = "write crypt_meta";
	rc = sqlite3_prepare_v2(db,
				a->expect == NULL
				    ? "INSERT OR IGNORE INTO crypt_meta (name, key_id, value)"
				      " VALUES (?1, ?2, ?3)"
				    : "UPDATE crypt_meta SET key_id = ?2, value = ?3"
				      " WHERE name = ?1 AND value = ?4",
				-1, &q, NULL);
	if (rc == SQLITE_OK && (rc = bind_text(q, 1, a->name)) == SQLITE_OK &&
	    (rc = bind_text(q, 2, a->key_id)) == SQLITE_OK &&
	    (rc = bind_text(q, 3, a->value)) == SQLITE_OK &&
	    (a->expect == NULL || (rc = bind_text(q, 4, a->expect)) == SQLITE_OK)) {
		rc = sqlite3_step(q) == SQLITE_DONE ? SQLITE_OK : sqlite3_errcode(db);
		a->changed = sqlite3_changes(db) > 0;
	}
	sqlite3_finalize(q);
	return rc;
}

int hg_sqlite_meta_put(struct hg_store *st, const char *name, const char *key_id, const char *value,
		       const char *expect)
{
	struct meta_put_args a = {.name = name, .key_id = key_id, .value = value, .expect = expect};
	int rc = hg_sqlite_txn((struct hg_sqlite *)st, "meta_put", meta_put_body, &a);

	return rc == HG_OK && !a.changed ? HG_ENOTFOUND : rc;
}

int hg_sqlite_key_usage(struct hg_store *st, int with_plain,
			int (*fn)(const char *table, const char *key_id, int64_t count, void *arg),
			void *arg)
{
	/* [0]: sealed rows only (through the key_id indexes); [1]: with the
	 * rows stored as they are (attempts without a response head hold
	 * nothing and are left out) */
	static const struct {
		const char *table, *sql[2];
	} q_of[] = {
	    {"messages",
	     {"SELECT key_id, count(*) FROM messages WHERE key_id IS NOT NULL GROUP BY key_id",
	      "SELECT key_id, count(*) FROM messages GROUP BY key_id"}},
	    {"attempts",
	     {"SELECT key_id, count(*) FROM attempts WHERE key_id IS NOT NULL GROUP BY key_id",
	      "SELECT key_id, count(*) FROM attempts WHERE key_id IS NOT NULL"
	      " OR response_head IS NOT NULL GROUP BY key_id"}},
	    {"subscriptions",
	     {"SELECT key_id, count(*) FROM subscriptions WHERE key_id IS NOT NULL GROUP BY key_id",
	      "SELECT key_id, count(*) FROM subscriptions GROUP BY key_id"}},
	    {"crypt_meta",
	     {"SELECT key_id, count(*) FROM crypt_meta GROUP BY key_id",
	      "SELECT key_id, count(*) FROM crypt_meta GROUP BY key_id"}},
	};
	sqlite3 *db = hg_sqlite_db((struct hg_sqlite *)st);
	sqlite3_stmt *q = NULL;
	size_t t;
	int rc = SQLITE_DONE, stop = 0;

	for (t = 0; t < sizeof(q_of) / sizeof(q_of[0]) && !stop; t++) {
		if (sqlite3_prepare_v2(db, q_of[t].sql[with_plain ? 1 : 0], -1, &q, NULL) !=
		    SQLITE_OK)
			return read_failed(db, "key_usage");
		while (!stop && (rc = sqlite3_step(q)) == SQLITE_ROW)
			stop = fn(q_of[t].table, (const char *)sqlite3_column_text(q, 0),
				  sqlite3_column_int64(q, 1), arg);
		sqlite3_finalize(q);
		if (!stop && rc != SQLITE_DONE)
			return read_failed(db, "key_usage");
	}
	return HG_OK;
}

/* The scan of each kind: ?1 the cursor, ?2 the key to skip, ?3 the limit. */
static const char *const scan_sql[] = {
    [HG_SEALED_MESSAGES] = "SELECT id, 0, 0, source, key_id, body, headers FROM messages"
			   " WHERE (?1 IS NULL OR id > ?1) AND key_id IS NOT ?2"
			   " ORDER BY id LIMIT ?3",
    [HG_SEALED_ATTEMPTS] = "SELECT delivery_id, id, n, '', key_id, response_head, NULL"
			   " FROM attempts WHERE id > ?1 AND key_id IS NOT ?2"
			   " AND response_head IS NOT NULL ORDER BY id LIMIT ?3",
    [HG_SEALED_SUBSCRIPTIONS] = "SELECT id, 0, 0, '', key_id, secret, old_secret"
				" FROM subscriptions WHERE (?1 IS NULL OR id > ?1)"
				" AND key_id IS NOT ?2 ORDER BY id LIMIT ?3",
};

static void sealed_row(sqlite3_stmt *q, struct hg_store_sealed *r)
{
	int i;

	memset(r, 0, sizeof(*r));
	copy_text(r->id, sizeof(r->id), q, 0);
	r->rowid = sqlite3_column_int64(q, 1);
	r->n = sqlite3_column_int(q, 2);
	copy_text(r->source, sizeof(r->source), q, 3);
	copy_text(r->key_id, sizeof(r->key_id), q, 4);
	for (i = 0; i < 2; i++) {
		if (sqlite3_column_type(q, 5 + i) == SQLITE_NULL)
			continue;
		r->v[i] = sqlite3_column_type(q, 5 + i) == SQLITE_BLOB
			      ? sqlite3_column_blob(q, 5 + i)
			      : (const uint8_t *)sqlite3_column_text(q, 5 + i);
		r->len[i] = (size_t)sqlite3_column_bytes(q, 5 + i);
		if (r->v[i] == NULL) /* an empty blob */
			r->v[i] = (const uint8_t *)"";
	}
}

int hg_sqlite_sealed_scan(struct hg_store *st, enum hg_store_sealed_kind kind,
			  const struct hg_store_sealed *after, const char *skip_key_id,
			  size_t limit, int (*fn)(const struct hg_store_sealed *r, void *arg),
			  void *arg)
{
	sqlite3 *db = hg_sqlite_db((struct hg_sqlite *)st);
	struct hg_store_sealed r;
	sqlite3_stmt *q = NULL;
	int rc;

	if (sqlite3_prepare_v2(db, scan_sql[kind], -1, &q, NULL) != SQLITE_OK)
		return read_failed(db, "sealed_scan");
	if (kind == HG_SEALED_ATTEMPTS)
		rc = sqlite3_bind_int64(q, 1, after != NULL ? after->rowid : 0);
	else
		rc = bind_text(q, 1, after != NULL ? after->id : NULL);
	if (rc == SQLITE_OK)
		rc = bind_text(q, 2, skip_key_id);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_int64(q, 3, (sqlite3_int64)limit);
	while (rc == SQLITE_OK && (rc = sqlite3_step(q)) == SQLITE_ROW) {
		sealed_row(q, &r);
		if (fn(&r, arg) != 0) {
			rc = SQLITE_DONE;
			break;
		}
		rc = SQLITE_OK;
	}
	sqlite3_finalize(q);
	return rc == SQLITE_DONE ? HG_OK : read_failed(db, "sealed_scan");
}

/* The swap of each kind: ?1 the row, ?2 the key it had, ?3 the new key,
 * ?4 ?5 the new values, ?6 ?7 the values it had (subscriptions). */
static const char *const swap_sql[] = {
    [HG_SEALED_MESSAGES] = "UPDATE messages SET key_id = ?3, body = ?4, headers = ?5"
			   " WHERE id = ?1 AND key_id IS ?2",
    [HG_SEALED_ATTEMPTS] = "UPDATE attempts SET key_id = ?3, response_head = ?4"
			   " WHERE id = ?1 AND key_id IS ?2",
    [HG_SEALED_SUBSCRIPTIONS] = "UPDATE subscriptions SET key_id = ?3, secret = ?4,"
				" old_secret = ?5 WHERE id = ?1 AND key_id IS ?2"
				" AND secret = ?6 AND old_secret IS ?7",
};

struct swap_args {
	enum hg_store_sealed_kind kind;
	const struct hg_store_sealed *old, *new_;
	size_t n, swapped;
};

static int bind_swap(sqlite3_stmt *q, enum hg_store_sealed_kind kind,
		     const struct hg_store_sealed *o, const struct hg_store_sealed *w)
{
	int rc, i;

	rc = kind == HG_SEALED_ATTEMPTS ? sqlite3_bind_int64(q, 1, o->rowid)
					: bind_text(q, 1, o->id);
	if (rc == SQLITE_OK)
		rc = bind_text(q, 2, o->key_id[0] != '\0' ? o->key_id : NULL);
	if (rc == SQLITE_OK)
		rc = bind_text(q, 3, w->key_id[0] != '\0' ? w->key_id : NULL);
	for (i = 0; i < 2 && rc == SQLITE_OK; i++) {
		if (kind == HG_SEALED_ATTEMPTS && i == 1)
			break;
		/* the body and response head are blobs, the rest text */
		if (i == 0 && kind != HG_SEALED_SUBSCRIPTIONS)
			rc = bind_blob(q, 4, w->v[0], w->len[0]);
		else
			rc = w->v[i] != NULL ? sqlite3_bind_text(q, 4 + i, (const char *)w->v[i],
								 (int)w->len[i], SQLITE_TRANSIENT)
					     : sqlite3_bind_null(q, 4 + i);
	}
	for (i = 0; i < 2 && rc == SQLITE_OK && kind == HG_SEALED_SUBSCRIPTIONS; i++)
		rc = o->v[i] != NULL ? sqlite3_bind_text(q, 6 + i, (const char *)o->v[i],
							 (int)o->len[i], SQLITE_TRANSIENT)
				     : sqlite3_bind_null(q, 6 + i);
	return rc;
}

static int swap_body(struct hg_sqlite *s, void *arg, const char **what)
{
	struct swap_args *a = arg;
	sqlite3 *db = hg_sqlite_db(s);
	sqlite3_stmt *q = NULL;
	size_t i;
	int rc;

	*what = "re-encrypt";
	a->swapped = 0;
	rc = sqlite3_prepare_v2(db, swap_sql[a->kind], -1, &q, NULL);
	for (i = 0; i < a->n && rc == SQLITE_OK; i++) {
		rc = bind_swap(q, a->kind, &a->old[i], &a->new_[i]);
		if (rc == SQLITE_OK)
			rc = sqlite3_step(q) == SQLITE_DONE ? SQLITE_OK : sqlite3_errcode(db);
		if (rc == SQLITE_OK)
			a->swapped += (size_t)sqlite3_changes(db);
		sqlite3_reset(q);
		sqlite3_clear_bindings(q);
	}
	sqlite3_finalize(q);
	return rc;
}

int hg_sqlite_sealed_swap(struct hg_store *st, enum hg_store_sealed_kind kind,
			  const struct hg_store_sealed *old, const struct hg_store_sealed *new_,
			  size_t n, size_t *swapped)
{
	struct swap_args a = {.kind = kind, .old = old, .new_ = new_, .n = n};
	int rc = hg_sqlite_txn((struct hg_sqlite *)st, "sealed_swap", swap_body, &a);

	*swapped = rc == HG_OK ? a.swapped : 0;
	return rc;
}

int hg_sqlite_dedupe_scan(
    struct hg_store *st, const char *after_source, const char *after_key, size_t limit,
    int (*fn)(const char *source, const char *key, const char *message_id, void *arg), void *arg)
{
	sqlite3 *db = hg_sqlite_db((struct hg_sqlite *)st);
	sqlite3_stmt *q = NULL;
	int rc;

	rc = sqlite3_prepare_v2(db,
				"SELECT source, key, message_id FROM dedupe"
				" WHERE (?1 IS NULL OR (source, key) > (?1, ?2))"
				" AND NOT (length(key) = 35 AND substr(key, 1, 3) = 'h1:'"
				" AND substr(key, 4) NOT GLOB '*[^0-9a-f]*')"
				" ORDER BY source, key LIMIT ?3",
				-1, &q, NULL);
	if (rc == SQLITE_OK && (rc = bind_text(q, 1, after_source)) == SQLITE_OK &&
	    (rc = bind_text(q, 2, after_key)) == SQLITE_OK)
		rc = sqlite3_bind_int64(q, 3, (sqlite3_int64)limit);
	while (rc == SQLITE_OK && (rc = sqlite3_step(q)) == SQLITE_ROW) {
		if (fn((const char *)sqlite3_column_text(q, 0),
		       (const char *)sqlite3_column_text(q, 1),
		       (const char *)sqlite3_column_text(q, 2), arg) != 0) {
			rc = SQLITE_DONE;
			break;
		}
		rc = SQLITE_OK;
	}
	sqlite3_finalize(q);
	return rc == SQLITE_DONE ? HG_OK : read_failed(db, "dedupe_scan");
}

struct rehash_args {
	const struct hg_store_rehash *r;
	size_t n;
};

static int rehash_body(struct hg_sqlite *s, void *arg, const char **what)
{
	static const char *const sql[] = {
	    "INSERT OR IGNORE INTO dedupe (source, key, message_id) VALUES (?1, ?3, ?4)",
	    "DELETE FROM dedupe WHERE source = ?1 AND key = ?2",
	};
	struct rehash_args *a = arg;
	sqlite3 *db = hg_sqlite_db(s);
	sqlite3_stmt *q[2] = {NULL, NULL};
	size_t i, k;
	int rc = SQLITE_OK;

	*what = "re-hash dedupe keys";
	for (k = 0; k < 2 && rc == SQLITE_OK; k++)
		rc = sqlite3_prepare_v2(db, sql[k], -1, &q[k], NULL);
	for (i = 0; i < a->n && rc == SQLITE_OK; i++) {
		for (k = 0; k < 2 && rc == SQLITE_OK; k++) {
			if ((rc = bind_text(q[k], 1, a->r[i].source)) == SQLITE_OK &&
			    (rc = bind_text(q[k], 2, a->r[i].key)) == SQLITE_OK &&
			    (k == 1 ||
			     ((rc = bind_text(q[k], 3, a->r[i].hash)) == SQLITE_OK &&
			      (rc = bind_text(q[k], 4, a->r[i].message_id)) == SQLITE_OK)))
				rc = sqlite3_step(q[k]) == SQLITE_DONE ? SQLITE_OK
								       : sqlite3_errcode(db);
			sqlite3_reset(q[k]);
			sqlite3_clear_bindings(q[k]);
		}
	}
	for (k = 0; k < 2; k++)
		sqlite3_finalize(q[k]);
	return rc;
}

int hg_sqlite_dedupe_rehash(struct hg_store *st, const struct hg_store_rehash *r, size_t n)
{
	struct rehash_args a = {.r = r, .n = n};

	return hg_sqlite_txn((struct hg_sqlite *)st, "dedupe_rehash", rehash_body, &a);
}

int hg_sqlite_scrub(struct hg_store *st)
{
	sqlite3 *db = hg_sqlite_db((struct hg_sqlite *)st);
	int log = 0, done = 0, tries;

	/* secure_delete (set at open) zeroed the replaced bytes in the
	 * database file; the WAL still holds the pages as they were until
	 * it is checkpointed and cut to nothing */
	for (tries = 0; tries < 50; tries++) {
		if (sqlite3_wal_checkpoint_v2(db, NULL, SQLITE_CHECKPOINT_TRUNCATE, &log, &done) ==
		    SQLITE_OK)
			return HG_OK;
		sqlite3_sleep(100);
	}
	hg_log(HG_LOG_WARN, "store WAL not truncated: other connections kept writing", "error",
	       HG_LS(sqlite3_errmsg(db)), NULL);
	return HG_EIO;
}
