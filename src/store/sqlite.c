/*
 * sqlite.c — the embedded SQLite backend of store.h: one connection per
 * handle, WAL journal, schema migrations at open, dedupe by a unique
 * (source, key) index, and group commit for the ingest writer.
 *
 * Durability: the database runs in WAL mode with synchronous=FULL, so every
 * COMMIT appends the transaction's pages and a commit record to the WAL and
 * fsyncs the WAL before returning. That one fsync is what makes a whole
 * batch durable: a transaction is either entirely in the synced WAL (and
 * replayed from it after a crash) or not visible at all. The main database
 * file is only written at checkpoints, which sync it themselves, so nothing
 * else has to reach the disk before we acknowledge. (synchronous=NORMAL would
 * skip that fsync in WAL mode and lose the last commits on power failure.)
 *
 * Hot path: hg_store_put_batch() runs on the ingest writer for every batch.
 * Its statements are prepared once at open and kept on the handle,
 * parameters are bound SQLITE_STATIC straight from the caller's buffers, and
 * nothing is allocated for messages; only SQLite's own page cache works.
 * Audit events (rare: refused requests) allocate one small buffer each to
 * hash their row.
 *
 * Audit log: rows are chained inside the batch's write transaction (BEGIN
 * IMMEDIATE holds the write lock), so the last row read is the last row
 * there is, even with other processes appending.
 *
 * Threading: connections are opened with SQLITE_OPEN_NOMUTEX, so a handle
 * must stay on one thread at a time (store.h says so); threads that need the
 * database open their own handle, and WAL lets readers run beside the writer.
 */
#include <errno.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "store/store_internal.h"

/* How long a statement waits for another connection's write lock before it
 * fails. Only the ingest writer writes messages, so waits are rare and short;
 * this bounds the worst case well inside a provider's ack deadline. */
#define HG_SQLITE_BUSY_MS 5000

enum {
	S_BEGIN,
	S_COMMIT,
	S_ROLLBACK,
	S_FIND_KEY,
	S_BUMP_DUP,
	S_INSERT_MSG,
	S_INSERT_KEY,
	S_GET,
	S_COUNT_ALL,
	S_COUNT_SOURCE,
	S_PING,
	S_AUDIT_LAST,
	S_AUDIT_INSERT,
	S_AUDIT_ALL,
	S_N
};

static const char *const stmt_sql[S_N] = {
    [S_BEGIN] = "BEGIN IMMEDIATE",
    [S_COMMIT] = "COMMIT",
    [S_ROLLBACK] = "ROLLBACK",
    [S_FIND_KEY] = "SELECT message_id FROM dedupe WHERE source = ?1 AND key = ?2",
    [S_BUMP_DUP] = "UPDATE messages SET dedupe_count = dedupe_count + 1 WHERE id = ?1",
    [S_INSERT_MSG] = "INSERT INTO messages (id, source, received_ms, content_type, headers, body)"
		     " VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    [S_INSERT_KEY] = "INSERT OR IGNORE INTO dedupe (source, key, message_id) VALUES (?1, ?2, ?3)",
    [S_GET] = "SELECT id, source, received_ms, content_type, headers, body"
	      " FROM messages WHERE id = ?1",
    [S_COUNT_ALL] = "SELECT count(*) FROM messages",
    [S_COUNT_SOURCE] = "SELECT count(*) FROM messages WHERE source = ?1",
    [S_PING] = "SELECT max(version) FROM schema_version",
    [S_AUDIT_LAST] = "SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1",
    [S_AUDIT_INSERT] = "INSERT INTO audit_log (seq, ts_ms, event, source, client, reason,"
		       " prev_hash, hash) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    [S_AUDIT_ALL] = "SELECT seq, ts_ms, event, source, client, reason, prev_hash, hash"
		    " FROM audit_log ORDER BY seq",
};

struct hg_sqlite {
	struct hg_store base; /* first: store.c sees only this */
	sqlite3 *db;
	char *path;
	int version; /* schema version reached at open */
	sqlite3_stmt *stmt[S_N];
};

static int is_memory(const char *path)
{
	return strcmp(path, ":memory:") == 0;
}

static int is_dir(const char *path)
{
	struct stat sb;

	return stat(path, &sb) == 0 && S_ISDIR(sb.st_mode);
}

/* mkdir -p of the directory that holds path. The directory is private to
 * the daemon's user (0700): message bodies may carry personal data. */
static int make_parent_dir(const char *path, char *err, size_t errlen)
{
	char *dir = NULL;
	char *slash, *p;
	int rc = HG_OK;

	dir = strdup(path);
	if (dir == NULL) {
		rc = HG_ENOMEM;
		snprintf(err, errlen, "Out of memory while opening the database %s.", path);
		goto out;
	}
	slash = strrchr(dir, '/');
	if (slash == NULL || slash == dir)
		goto out; /* in the working directory or in / */
	*slash = '\0';
	for (p = dir + 1;; p++) {
		if (*p != '/' && *p != '\0')
			continue;
		char saved = *p;
		*p = '\0';
		if (mkdir(dir, 0700) != 0 && errno != EEXIST && !is_dir(dir)) {
			rc = HG_EIO;
			snprintf(err, errlen,
				 "Cannot create the directory %s for the database: %s.", dir,
				 strerror(errno));
			goto out;
		}
		*p = saved;
		if (saved == '\0')
			break;
	}
out:
	free(dir);
	return rc;
}

/* Steps a statement without result rows (or whose rows do not matter) and
 * resets it. Returns the sqlite code of the step. */
static int run(struct hg_sqlite *s, int which)
{
	sqlite3_stmt *st = s->stmt[which];
	int rc = sqlite3_step(st);

	sqlite3_reset(st); /* repeats the step's error, which we already have */
	return rc;
}

/* Runs a script outside the statement cache (pragmas, migrations). */
static int exec_sql(sqlite3 *db, const char *sql, char *err, size_t errlen, const char *what)
{
	int rc = sqlite3_exec(db, sql, NULL, NULL, NULL);

	if (rc != SQLITE_OK)
		snprintf(err, errlen, "Cannot %s: %s.", what, sqlite3_errmsg(db));
	return rc;
}

/* Returns SQLITE_OK, or SQLITE_IOERR when the file we opened is no longer at
 * its path (its directory was removed or replaced). Writes to an unlinked
 * file succeed but are lost, so they must not be acknowledged. */
static int check_not_moved(struct hg_sqlite *s)
{
	int moved = 0;
	int rc = sqlite3_file_control(s->db, "main", SQLITE_FCNTL_HAS_MOVED, &moved);

	if (rc == SQLITE_NOTFOUND) /* no file behind it (":memory:") */
		return SQLITE_OK;
	if (rc != SQLITE_OK)
		return rc;
	return moved ? SQLITE_IOERR : SQLITE_OK;
}

/* Brings the schema to the newest version in ONE immediate transaction, so
 * two processes opening a fresh database at once cannot both migrate: the
 * second waits for the write lock, then finds nothing left to do. */
static int migrate(struct hg_sqlite *s, char *err, size_t errlen)
{
	sqlite3_stmt *q = NULL;
	sqlite3_stmt *ins = NULL;
	int64_t have = 0;
	size_t v;
	int rc;

	rc = exec_sql(s->db, "BEGIN IMMEDIATE", err, errlen, "lock the database for migration");
	if (rc != SQLITE_OK)
		goto out;
	rc = exec_sql(s->db,
		      "CREATE TABLE IF NOT EXISTS schema_version ("
		      "  version INTEGER PRIMARY KEY,"
		      "  applied_ms INTEGER NOT NULL)",
		      err, errlen, "create the schema_version table");
	if (rc != SQLITE_OK)
		goto out;
	rc = sqlite3_prepare_v2(s->db, "SELECT coalesce(max(version), 0) FROM schema_version", -1,
				&q, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_step(q);
	if (rc != SQLITE_ROW) {
		snprintf(err, errlen, "Cannot read the schema version of %s: %s.", s->path,
			 sqlite3_errmsg(s->db));
		rc = rc == SQLITE_OK ? SQLITE_ERROR : rc;
		goto out;
	}
	have = sqlite3_column_int64(q, 0);
	if (have < 0 || (uint64_t)have > hg_sqlite_n_migrations) {
		snprintf(err, errlen,
			 "The database %s has schema version %lld, newer than this build knows "
			 "(%zu); run a newer hookgate or restore a matching database.",
			 s->path, (long long)have, hg_sqlite_n_migrations);
		rc = SQLITE_ERROR;
		goto out;
	}
	rc = sqlite3_prepare_v2(s->db,
				"INSERT INTO schema_version (version, applied_ms) VALUES (?1, "
				"CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER))",
				-1, &ins, NULL);
	if (rc != SQLITE_OK) {
		snprintf(err, errlen, "Cannot prepare the migration of %s: %s.", s->path,
			 sqlite3_errmsg(s->db));
		goto out;
	}
	for (v = (size_t)have; v < hg_sqlite_n_migrations; v++) {
		char what[64];

		snprintf(what, sizeof(what), "apply schema migration %zu", v + 1);
		rc = exec_sql(s->db, hg_sqlite_migrations[v], err, errlen, what);
		if (rc != SQLITE_OK)
			goto out;
		rc = sqlite3_bind_int64(ins, 1, (sqlite3_int64)(v + 1));
		if (rc == SQLITE_OK)
			rc = sqlite3_step(ins);
		if (rc != SQLITE_DONE) {
			snprintf(err, errlen, "Cannot record schema version %zu: %s.", v + 1,
				 sqlite3_errmsg(s->db));
			rc = rc == SQLITE_OK ? SQLITE_ERROR : rc;
			goto out;
		}
		sqlite3_reset(ins);
	}
	rc = exec_sql(s->db, "COMMIT", err, errlen, "commit the schema migration");
	if (rc != SQLITE_OK)
		goto out;
	s->version = (int)hg_sqlite_n_migrations;
out:
	sqlite3_finalize(q);
	sqlite3_finalize(ins);
	if (rc != SQLITE_OK && !sqlite3_get_autocommit(s->db))
		sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL); /* best effort; err says why */
	return rc == SQLITE_OK ? HG_OK : HG_EIO;
}

static void sqlite_close(struct hg_store *st)
{
	struct hg_sqlite *s = (struct hg_sqlite *)st;
	int i, rc;

	if (s == NULL)
		return;
	for (i = 0; i < S_N; i++)
		sqlite3_finalize(s->stmt[i]); /* returns the last step's error, not a close error */
	rc = sqlite3_close(s->db);
	if (rc != SQLITE_OK)
		hg_log(HG_LOG_ERROR, "store close failed", "path", HG_LS(s->path), "error",
		       HG_LS(sqlite3_errstr(rc)), NULL);
	free(s->path);
	free(s);
}

/* Reads one pragma's textual answer into out. */
static int pragma_text(sqlite3 *db, const char *sql, char *out, size_t outlen)
{
	sqlite3_stmt *q = NULL;
	const unsigned char *t;
	int rc;

	out[0] = '\0';
	rc = sqlite3_prepare_v2(db, sql, -1, &q, NULL);
	if (rc != SQLITE_OK)
		goto out;
	rc = sqlite3_step(q);
	if (rc != SQLITE_ROW)
		goto out;
	t = sqlite3_column_text(q, 0);
	snprintf(out, outlen, "%s", t != NULL ? (const char *)t : "");
	rc = SQLITE_OK;
out:
	sqlite3_finalize(q);
	return rc;
}

static int sqlite_open(const char *path, struct hg_store **out, char *err, size_t errlen)
{
	struct hg_sqlite *s = NULL;
	char mode[16];
	int rc, i;

	s = calloc(1, sizeof(*s));
	if (s == NULL || (s->path = strdup(path)) == NULL) {
		rc = HG_ENOMEM;
		snprintf(err, errlen, "Out of memory while opening the database %s.", path);
		goto out;
	}
	s->base.ops = &hg_store_sqlite_ops;
	if (!is_memory(path)) {
		rc = make_parent_dir(path, err, errlen);
		if (rc != HG_OK)
			goto out;
	}
	rc = sqlite3_open_v2(
	    path, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
	if (rc != SQLITE_OK) {
		snprintf(err, errlen, "Cannot open the SQLite database %s: %s.", path,
			 s->db != NULL ? sqlite3_errmsg(s->db) : sqlite3_errstr(rc));
		rc = HG_EIO;
		goto out;
	}
	rc = sqlite3_extended_result_codes(s->db, 1);
	if (rc == SQLITE_OK)
		rc = sqlite3_busy_timeout(s->db, HG_SQLITE_BUSY_MS);
	if (rc != SQLITE_OK) {
		snprintf(err, errlen, "Cannot configure the SQLite connection to %s: %s.", path,
			 sqlite3_errstr(rc));
		rc = HG_EIO;
		goto out;
	}
	/* journal_mode answers with the mode in force, which stays "delete" when
	 * WAL is impossible (e.g. a filesystem without shared memory). */
	rc = pragma_text(s->db, "PRAGMA journal_mode = WAL", mode, sizeof(mode));
	if (rc != SQLITE_OK) {
		snprintf(err, errlen, "Cannot open the SQLite database %s: %s.", path,
			 sqlite3_errmsg(s->db));
		rc = HG_EIO;
		goto out;
	}
	if (strcmp(mode, "wal") != 0 && !(is_memory(path) && strcmp(mode, "memory") == 0)) {
		snprintf(err, errlen,
			 "Cannot put the SQLite database %s in WAL mode (it stays in \"%s\"); "
			 "place it on a local filesystem.",
			 path, mode);
		rc = HG_EIO;
		goto out;
	}
	rc = exec_sql(s->db, "PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON", err, errlen,
		      "configure the SQLite database");
	if (rc != SQLITE_OK) {
		rc = HG_EIO;
		goto out;
	}
	rc = migrate(s, err, errlen);
	if (rc != HG_OK)
		goto out;
	for (i = 0; i < S_N; i++) {
		rc = sqlite3_prepare_v3(s->db, stmt_sql[i], -1, SQLITE_PREPARE_PERSISTENT,
					&s->stmt[i], NULL);
		if (rc != SQLITE_OK) {
			snprintf(err, errlen, "Cannot prepare a statement on %s: %s.", path,
				 sqlite3_errmsg(s->db));
			rc = HG_EIO;
			goto out;
		}
	}
	rc = HG_OK;
out:
	if (rc != HG_OK && s != NULL) {
		if (s->path == NULL)
			free(s);
		else
			sqlite_close(&s->base);
		s = NULL;
	}
	*out = s != NULL ? &s->base : NULL;
	return rc;
}

static int sqlite_schema_version(struct hg_store *st)
{
	return ((struct hg_sqlite *)st)->version;
}

/* Binds a possibly-NULL string. */
static int bind_text_or_null(sqlite3_stmt *q, int i, const char *v)
{
	if (v == NULL)
		return sqlite3_bind_null(q, i);
	return sqlite3_bind_text(q, i, v, -1, SQLITE_STATIC);
}

/* Stores one message of an open transaction, or records it as a duplicate.
 * Returns SQLITE_OK or the failing sqlite code; *what names the step. */
static int put_one(struct hg_sqlite *s, struct hg_store_msg *m, const char **what)
{
	sqlite3_stmt *q;
	size_t k;
	int rc = SQLITE_OK;
	int dup = m->n_dedupe_keys > 0; /* no keys: nothing to match, always new */

	*what = "dedupe lookup";
	q = s->stmt[S_FIND_KEY];
	for (k = 0; k < m->n_dedupe_keys && dup; k++) {
		rc = sqlite3_bind_text(q, 1, m->source, -1, SQLITE_STATIC);
		if (rc == SQLITE_OK)
			rc = sqlite3_bind_text(q, 2, m->dedupe_keys[k], -1, SQLITE_STATIC);
		if (rc != SQLITE_OK)
			goto out;
		rc = sqlite3_step(q);
		if (rc == SQLITE_ROW && k == 0) {
			const unsigned char *first = sqlite3_column_text(q, 0);

			if (first == NULL) { /* the column is NOT NULL: out of memory */
				rc = SQLITE_NOMEM;
				sqlite3_reset(q);
				goto out;
			}
			hg_strlcpy(m->first_id, (const char *)first, sizeof(m->first_id));
		}
		sqlite3_reset(q);
		if (rc == SQLITE_DONE)
			dup = 0; /* one unseen key makes it a new message */
		else if (rc != SQLITE_ROW)
			goto out;
		rc = SQLITE_OK;
	}
	if (dup) {
		*what = "duplicate count update";
		q = s->stmt[S_BUMP_DUP];
		rc = sqlite3_bind_text(q, 1, m->first_id, -1, SQLITE_STATIC);
		if (rc != SQLITE_OK)
			goto out;
		rc = run(s, S_BUMP_DUP);
		if (rc != SQLITE_DONE)
			goto out;
		m->outcome = HG_STORE_DUPLICATE;
		rc = SQLITE_OK;
		goto out;
	}

	*what = "message insert";
	q = s->stmt[S_INSERT_MSG];
	rc = sqlite3_bind_text(q, 1, m->id, -1, SQLITE_STATIC);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_text(q, 2, m->source, -1, SQLITE_STATIC);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_int64(q, 3, m->received_ms);
	if (rc == SQLITE_OK)
		rc = bind_text_or_null(q, 4, m->content_type);
	if (rc == SQLITE_OK)
		rc = bind_text_or_null(q, 5, m->headers_json);
	/* An empty body is a zero-length blob, not NULL (the column is NOT NULL
	 * and bind_blob with a NULL pointer would bind NULL). */
	if (rc == SQLITE_OK && m->body_len == 0)
		rc = sqlite3_bind_zeroblob(q, 6, 0);
	else if (rc == SQLITE_OK)
		rc = sqlite3_bind_blob64(q, 6, m->body, m->body_len, SQLITE_STATIC);
	if (rc != SQLITE_OK)
		goto out;
	rc = run(s, S_INSERT_MSG);
	if (rc != SQLITE_DONE)
		goto out;

	/* OR IGNORE: keys already seen keep pointing at the message that brought
	 * them first (a partial overlap is a new message, not a re-owner). */
	*what = "dedupe key insert";
	q = s->stmt[S_INSERT_KEY];
	for (k = 0; k < m->n_dedupe_keys; k++) {
		rc = sqlite3_bind_text(q, 1, m->source, -1, SQLITE_STATIC);
		if (rc == SQLITE_OK)
			rc = sqlite3_bind_text(q, 2, m->dedupe_keys[k], -1, SQLITE_STATIC);
		if (rc == SQLITE_OK)
			rc = sqlite3_bind_text(q, 3, m->id, -1, SQLITE_STATIC);
		if (rc != SQLITE_OK)
			goto out;
		rc = run(s, S_INSERT_KEY);
		if (rc != SQLITE_DONE)
			goto out;
	}
	m->outcome = HG_STORE_ACCEPTED;
	memcpy(m->first_id, m->id, sizeof(m->first_id));
	rc = SQLITE_OK;
out:
	return rc;
}

/* Appends ev[0..n) to the audit log of an open write transaction, each row
 * chained to the one before (store.h defines the hash). Returns SQLITE_OK or
 * the failing sqlite code. */
static int append_audit(struct hg_sqlite *s, const struct hg_audit_event *ev, size_t n)
{
	char prev[HG_AUDIT_HASH_LEN + 1], hash[HG_AUDIT_HASH_LEN + 1];
	sqlite3_stmt *q = s->stmt[S_AUDIT_LAST];
	const unsigned char *last;
	int64_t seq = 0;
	size_t i;
	int rc;

	memcpy(prev, hg_store_audit_genesis, sizeof(prev));
	rc = sqlite3_step(q);
	if (rc == SQLITE_ROW) {
		seq = sqlite3_column_int64(q, 0);
		last = sqlite3_column_text(q, 1);
		hg_strlcpy(prev, last != NULL ? (const char *)last : "", sizeof(prev));
		rc = SQLITE_OK;
	} else if (rc == SQLITE_DONE) {
		rc = SQLITE_OK;
	}
	sqlite3_reset(q);
	if (rc != SQLITE_OK)
		goto out;
	q = s->stmt[S_AUDIT_INSERT];
	for (i = 0; i < n; i++) {
		seq++;
		if (hg_store_audit_hash(prev, seq, &ev[i], hash) != HG_OK) {
			rc = SQLITE_NOMEM;
			goto out;
		}
		rc = sqlite3_bind_int64(q, 1, seq);
		if (rc == SQLITE_OK)
			rc = sqlite3_bind_int64(q, 2, ev[i].ts_ms);
		if (rc == SQLITE_OK)
			rc = bind_text_or_null(q, 3, ev[i].event);
		if (rc == SQLITE_OK)
			rc = bind_text_or_null(q, 4, ev[i].source);
		if (rc == SQLITE_OK)
			rc = bind_text_or_null(q, 5, ev[i].client);
		if (rc == SQLITE_OK)
			rc = bind_text_or_null(q, 6, ev[i].reason);
		if (rc == SQLITE_OK)
			rc = sqlite3_bind_text(q, 7, prev, -1, SQLITE_STATIC);
		if (rc == SQLITE_OK)
			rc = sqlite3_bind_text(q, 8, hash, -1, SQLITE_STATIC);
		if (rc != SQLITE_OK)
			goto out;
		rc = run(s, S_AUDIT_INSERT);
		if (rc != SQLITE_DONE)
			goto out;
		memcpy(prev, hash, sizeof(prev));
	}
	rc = SQLITE_OK;
out:
	/* prev and hash are stack buffers bound STATIC: unbind before leaving */
	sqlite3_clear_bindings(s->stmt[S_AUDIT_INSERT]);
	return rc;
}

static int sqlite_put_batch(struct hg_store *st, struct hg_store_msg *const *msgs, size_t n,
			    const struct hg_audit_event *ev, size_t nev)
{
	struct hg_sqlite *s = (struct hg_sqlite *)st;
	const char *what = "BEGIN";
	size_t i;
	int rc, ret = HG_EIO, moved = 0;

	if (n == 0 && nev == 0)
		return HG_OK;
	rc = run(s, S_BEGIN);
	if (rc != SQLITE_DONE)
		goto out;
	for (i = 0; i < n; i++) {
		msgs[i]->outcome = 0;
		msgs[i]->first_id[0] = '\0';
		rc = put_one(s, msgs[i], &what);
		if (rc != SQLITE_OK)
			goto out;
	}
	what = "audit log append";
	if (nev > 0) {
		rc = append_audit(s, ev, nev);
		if (rc != SQLITE_OK)
			goto out;
	}
	what = "database file check";
	rc = check_not_moved(s);
	if (rc != SQLITE_OK) {
		moved = rc == SQLITE_IOERR;
		goto out;
	}
	/* The one fsync of the batch happens here (see the top of the file). */
	what = "COMMIT";
	rc = run(s, S_COMMIT);
	if (rc != SQLITE_DONE)
		goto out;
	ret = HG_OK;
out:
	if (ret != HG_OK) {
		hg_log(
		    HG_LOG_ERROR, "store write failed", "path", HG_LS(s->path), "step", HG_LS(what),
		    "error",
		    HG_LS(moved ? "the database file was moved or deleted" : sqlite3_errmsg(s->db)),
		    "code", HG_LI(rc), "batch", HG_LI(n), "audit_events", HG_LI(nev), NULL);
		/* A failed COMMIT may have rolled back already; a failed BEGIN
		 * opened nothing. Only roll back what is still open. */
		if (!sqlite3_get_autocommit(s->db)) {
			rc = run(s, S_ROLLBACK);
			if (rc != SQLITE_DONE)
				hg_log(HG_LOG_ERROR, "store rollback failed", "path",
				       HG_LS(s->path), "error", HG_LS(sqlite3_errmsg(s->db)), NULL);
		}
		for (i = 0; i < n; i++) {
			msgs[i]->outcome = 0;
			msgs[i]->first_id[0] = '\0';
		}
	}
	return ret;
}

/* Copies a text column, or NULL for SQL NULL. Returns 0 or HG_ENOMEM. */
static int dup_text(sqlite3_stmt *q, int col, char **out)
{
	const unsigned char *t;
	size_t len;

	*out = NULL;
	if (sqlite3_column_type(q, col) == SQLITE_NULL)
		return HG_OK;
	t = sqlite3_column_text(q, col);
	if (t == NULL)
		return HG_ENOMEM;
	len = (size_t)sqlite3_column_bytes(q, col);
	*out = malloc(len + 1);
	if (*out == NULL)
		return HG_ENOMEM;
	memcpy(*out, t, len);
	(*out)[len] = '\0';
	return HG_OK;
}

static int sqlite_get_message(struct hg_store *st, const char *id, struct hg_store_row *row)
{
	struct hg_sqlite *s = (struct hg_sqlite *)st;
	sqlite3_stmt *q = s->stmt[S_GET];
	const unsigned char *idtext;
	const void *blob;
	int rc, ret = HG_EIO;

	memset(row, 0, sizeof(*row));
	rc = sqlite3_bind_text(q, 1, id, -1, SQLITE_STATIC);
	if (rc != SQLITE_OK)
		goto out;
	rc = sqlite3_step(q);
	if (rc == SQLITE_DONE) {
		ret = HG_ENOTFOUND;
		goto out;
	}
	if (rc != SQLITE_ROW)
		goto out;
	ret = HG_ENOMEM;
	idtext = sqlite3_column_text(q, 0);
	if (idtext == NULL)
		goto out;
	hg_strlcpy(row->id, (const char *)idtext, sizeof(row->id));
	if (dup_text(q, 1, &row->source) != HG_OK || dup_text(q, 3, &row->content_type) != HG_OK ||
	    dup_text(q, 4, &row->headers_json) != HG_OK)
		goto out;
	row->received_ms = sqlite3_column_int64(q, 2);
	blob = sqlite3_column_blob(q, 5);
	row->body_len = (size_t)sqlite3_column_bytes(q, 5);
	if (blob == NULL && row->body_len > 0)
		goto out;
	row->body = malloc(row->body_len > 0 ? row->body_len : 1); /* never NULL on success */
	if (row->body == NULL)
		goto out;
	if (row->body_len > 0)
		memcpy(row->body, blob, row->body_len);
	ret = HG_OK;
out:
	if (ret == HG_EIO)
		hg_log(HG_LOG_ERROR, "store read failed", "path", HG_LS(s->path), "error",
		       HG_LS(sqlite3_errmsg(s->db)), NULL);
	sqlite3_reset(q);
	if (ret != HG_OK)
		hg_store_row_free(row);
	return ret;
}

static int sqlite_count_messages(struct hg_store *st, const char *source, int64_t *count)
{
	struct hg_sqlite *s = (struct hg_sqlite *)st;
	sqlite3_stmt *q = s->stmt[source != NULL ? S_COUNT_SOURCE : S_COUNT_ALL];
	int rc, ret = HG_EIO;

	*count = 0;
	if (source != NULL) {
		rc = sqlite3_bind_text(q, 1, source, -1, SQLITE_STATIC);
		if (rc != SQLITE_OK)
			goto out;
	}
	rc = sqlite3_step(q);
	if (rc != SQLITE_ROW)
		goto out;
	*count = sqlite3_column_int64(q, 0);
	ret = HG_OK;
out:
	if (ret != HG_OK)
		hg_log(HG_LOG_ERROR, "store count failed", "path", HG_LS(s->path), "error",
		       HG_LS(sqlite3_errmsg(s->db)), NULL);
	sqlite3_reset(q);
	return ret;
}

/* Text of a column, "" for NULL (the audit columns that matter are NOT NULL). */
static const char *column_text(sqlite3_stmt *q, int col)
{
	const unsigned char *t = sqlite3_column_text(q, col);

	return t != NULL ? (const char *)t : "";
}

/* Text of a nullable column, NULL for SQL NULL. */
static const char *column_text_or_null(sqlite3_stmt *q, int col)
{
	return sqlite3_column_type(q, col) == SQLITE_NULL ? NULL : column_text(q, col);
}

static int sqlite_audit_rows(struct hg_store *st,
			     int (*fn)(const struct hg_store_audit_row *row, void *arg), void *arg)
{
	struct hg_sqlite *s = (struct hg_sqlite *)st;
	sqlite3_stmt *q = s->stmt[S_AUDIT_ALL];
	struct hg_store_audit_row row;
	int rc, ret = HG_EIO;

	/* One statement is one read transaction: the walk sees a consistent log
	 * while the writer keeps appending. */
	while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		row.seq = sqlite3_column_int64(q, 0);
		row.ev.ts_ms = sqlite3_column_int64(q, 1);
		row.ev.event = column_text_or_null(q, 2);
		row.ev.source = column_text_or_null(q, 3);
		row.ev.client = column_text_or_null(q, 4);
		row.ev.reason = column_text_or_null(q, 5);
		row.prev_hash = column_text(q, 6);
		row.hash = column_text(q, 7);
		if (fn(&row, arg) != 0) {
			rc = SQLITE_DONE;
			break;
		}
	}
	if (rc == SQLITE_DONE)
		ret = HG_OK;
	else
		hg_log(HG_LOG_ERROR, "audit log read failed", "path", HG_LS(s->path), "error",
		       HG_LS(sqlite3_errmsg(s->db)), NULL);
	sqlite3_reset(q);
	return ret;
}

/* Reads a page of the database and checks the file is still the one at the
 * configured path: a connection to a deleted file would "work" forever. */
static int sqlite_ping(struct hg_store *st)
{
	struct hg_sqlite *s = (struct hg_sqlite *)st;
	int rc;

	rc = run(s, S_PING);
	if (rc != SQLITE_ROW)
		return HG_EIO;
	rc = check_not_moved(s);
	return rc == SQLITE_OK ? HG_OK : HG_EIO;
}

const struct hg_store_ops hg_store_sqlite_ops = {
    .name = "sqlite",
    .open = sqlite_open,
    .close = sqlite_close,
    .schema_version = sqlite_schema_version,
    .put_batch = sqlite_put_batch,
    .get_message = sqlite_get_message,
    .count_messages = sqlite_count_messages,
    .ping = sqlite_ping,
    .audit_rows = sqlite_audit_rows,
};
