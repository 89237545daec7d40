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
 * Deliveries: a message's deliveries are inserted in its own transaction.
 * A claim is one UPDATE ... RETURNING per endpoint inside one write
 * transaction; BEGIN IMMEDIATE serialises claimers (SQLite's stand-in for
 * PostgreSQL's SKIP LOCKED), and the lease columns make an expired claim
 * claimable again. Every write goes through txn_run(): one BEGIN, COMMIT
 * and ROLLBACK path, one log line when it fails.
 *
 * Threading: connections are opened with SQLITE_OPEN_NOMUTEX, so a handle
 * must stay on one thread at a time (store.h says so); threads that need the
 * database open their own handle, and WAL lets readers run beside the writer.
 */
#include <errno.h>
#include <jansson.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "stats/stats.h"
#include "store/sqlite_file.h"
#include "store/sqlite_vfs.h"
#include "store/sqlite_alerts.h"
#include "store/sqlite_media.h"
#include "store/sqlite_crypt.h"
#include "store/sqlite_internal.h"
#include "store/sqlite_outbound.h"
#include "store/store_internal.h"

/* How long a statement waits for another connection's write lock before it
 * fails. Only the ingest writer writes messages, so waits are rare and short;
 * this bounds the worst case well inside a provider's ack deadline. */
#define HG_SQLITE_BUSY_MS 5000

enum {
	S_BEGIN,
	S_BEGIN_READ,
	S_SYNC_NORMAL,
	S_SYNC_FULL,
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
	S_INSERT_DELIVERY,
	S_CLAIM,
	S_CLAIM_PREFIX,
	S_INSERT_ATTEMPT,
	S_OUTCOME,
	S_NEXT_DUE_ALL,
	S_NEXT_DUE_ENDPOINT,
	S_NEXT_DUE_PREFIX,
	S_MSG_EXISTS,
	S_DELIVERY_EXISTS,
	S_RETRY_ONE,
	S_RETRY_ENDPOINT,
	S_INSERT_MEDIA,
	S_N
};

/* Claims. The due deliveries of endpoint sel, oldest first: each status
 * is its own ordered, LIMITed index range, and only those few rows (at
 * most three LIMITs) are sorted together. One `status IN (...) OR ...`
 * condition instead made SQLite collect and sort every due row on each
 * claim: O(backlog) per claim, 1 ms per delivery with 20 000 due. sel is
 * "endpoint = ?4" (index endpoint, status, next_attempt_ms) or, for a
 * prefix, "endpoint >= ?4 AND endpoint < ?6" (index status,
 * next_attempt_ms, read in order until LIMIT rows match the range). */
#define HG_SQLITE_DUE_STATUS(sel, st)                                                              \
	"SELECT id, t FROM (SELECT id, next_attempt_ms AS t FROM deliveries WHERE " sel            \
	" AND status = '" st "' AND next_attempt_ms <= ?3 ORDER BY next_attempt_ms LIMIT ?5)"
#define HG_SQLITE_CLAIM(sel)                                                                       \
	"UPDATE deliveries SET status = 'delivering', lease_owner = ?1, lease_until_ms = ?2,"      \
	" updated_ms = ?3 WHERE id IN (SELECT id FROM (" HG_SQLITE_DUE_STATUS(                     \
	    sel,                                                                                   \
	    "pending") " UNION ALL " HG_SQLITE_DUE_STATUS(sel,                                     \
							  "failed") " UNION ALL SELECT id, t "     \
								    "FROM (SELECT id, "            \
								    "lease_until_ms AS t FROM "    \
								    "deliveries WHERE " sel        \
								    " AND status = 'delivering' "  \
								    "AND lease_until_ms <= ?3 "    \
								    "ORDER BY lease_until_ms "     \
								    "LIMIT ?5))"                   \
								    " ORDER BY t LIMIT ?5) "       \
								    "RETURNING id, message_id, "   \
								    "attempts, endpoint"
/* The earliest claimable time among the deliveries sel selects; min() of
 * one status at a time reads one index entry per status. */
#define HG_SQLITE_NEXT_DUE(sel)                                                                    \
	"SELECT min(t) FROM (SELECT min(next_attempt_ms) AS t FROM deliveries WHERE " sel          \
	" status = 'pending' UNION ALL SELECT min(next_attempt_ms) FROM deliveries WHERE " sel     \
	" status = 'failed' UNION ALL SELECT min(lease_until_ms) FROM deliveries WHERE " sel       \
	" status = 'delivering')"
/* A dead delivery back to pending at ?2 (see hg_store_retry_dead). */
#define HG_SQLITE_RETRY                                                                            \
	"UPDATE deliveries SET status = 'pending', next_attempt_ms = ?2, updated_ms = ?2"

#define HG_SQLITE_AUDIT_COLUMNS "seq, ts_ms, event, source, client, reason, prev_hash, hash, count"

static const char *const stmt_sql[S_N] = {
    [S_BEGIN] = "BEGIN IMMEDIATE",
    [S_BEGIN_READ] = "BEGIN",
    [S_SYNC_NORMAL] = "PRAGMA synchronous = NORMAL",
    [S_SYNC_FULL] = "PRAGMA synchronous = FULL",
    [S_COMMIT] = "COMMIT",
    [S_ROLLBACK] = "ROLLBACK",
    [S_FIND_KEY] = "SELECT message_id FROM dedupe WHERE source = ?1 AND key = ?2",
    [S_BUMP_DUP] = "UPDATE messages SET dedupe_count = dedupe_count + 1 WHERE id = ?1",
    [S_INSERT_MSG] = "INSERT INTO messages (id, source, received_ms, content_type, headers, body,"
		     " key_id, request_id) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    [S_INSERT_KEY] = "INSERT OR IGNORE INTO dedupe (source, key, message_id) VALUES (?1, ?2, ?3)",
    [S_GET] = "SELECT id, source, received_ms, content_type, headers, body, key_id, request_id"
	      " FROM messages WHERE id = ?1",
    [S_COUNT_ALL] = "SELECT count(*) FROM messages",
    [S_COUNT_SOURCE] = "SELECT count(*) FROM messages WHERE source = ?1",
    [S_PING] = "SELECT max(version) FROM schema_version",
    [S_AUDIT_LAST] = "SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1",
    [S_AUDIT_INSERT] = "INSERT INTO audit_log (seq, ts_ms, event, source, client, reason,"
		       " prev_hash, hash, count) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
    [S_AUDIT_ALL] = "SELECT " HG_SQLITE_AUDIT_COLUMNS " FROM audit_log ORDER BY seq",
    [S_INSERT_DELIVERY] = "INSERT INTO deliveries (id, message_id, endpoint, status,"
			  " next_attempt_ms, created_ms, updated_ms)"
			  " VALUES (?1, ?2, ?3, 'pending', ?4, ?5, ?5)",
    [S_CLAIM] = HG_SQLITE_CLAIM("endpoint = ?4"),
    [S_CLAIM_PREFIX] = HG_SQLITE_CLAIM("endpoint >= ?4 AND endpoint < ?6"),
    [S_INSERT_ATTEMPT] = "INSERT INTO attempts (delivery_id, n, started_ms, duration_ms,"
			 " status_code, error, response_head, key_id)"
			 " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    [S_OUTCOME] = "UPDATE deliveries SET status = ?2, attempts = max(attempts, ?3),"
		  " next_attempt_ms = ?4, lease_owner = NULL, lease_until_ms = NULL,"
		  " last_status = ?5, last_error = ?6, updated_ms = ?7"
		  " WHERE id = ?1 AND status = 'delivering' AND lease_owner = ?8",
    [S_NEXT_DUE_ALL] = HG_SQLITE_NEXT_DUE(""),
    [S_NEXT_DUE_ENDPOINT] = HG_SQLITE_NEXT_DUE("endpoint = ?1 AND"),
    [S_NEXT_DUE_PREFIX] = HG_SQLITE_NEXT_DUE("endpoint >= ?1 AND endpoint < ?2 AND"),
    [S_MSG_EXISTS] = "SELECT 1 FROM messages WHERE id = ?1",
    [S_DELIVERY_EXISTS] = "SELECT 1 FROM deliveries WHERE id = ?1",
    [S_RETRY_ONE] = HG_SQLITE_RETRY " WHERE id = ?1 AND status = 'dead'",
    [S_RETRY_ENDPOINT] = HG_SQLITE_RETRY " WHERE endpoint = ?1 AND status = 'dead'",
    [S_INSERT_MEDIA] = "INSERT INTO media (id, message_id, source, graph_id, mime, sha256, state,"
		       " next_try_ms, created_ms, updated_ms)"
		       " VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'pending', ?7, ?7, ?7)",
};

struct hg_sqlite {
	struct hg_store base; /* first: store.c sees only this */
	sqlite3 *db;
	char *path;
	int version;   /* schema version reached at open */
	int sync_lost; /* synchronous=FULL could not be restored after a lazy commit */
	struct hg_sqlite_file *file; /* shared with this process's other connections; may be NULL */
	sqlite3_stmt *stmt[S_N];
	sqlite3_stmt *extra[HG_SQLITE_EXTRA_STMTS]; /* hg_sqlite_stmt(): sqlite_outbound.c's */
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
		if (mkdir(dir, 0700) == 0) {
			/* never silently: a typo in `store:` shows here (and
			 * `hookgate config check` warns before the start) */
			hg_log(HG_LOG_WARN, "created the store directory", "dir", HG_LS(dir), NULL);
		} else if (errno != EEXIST && !is_dir(dir)) {
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

/* Waits for another connection's write lock. SQLite's own busy_timeout
 * handler sleeps 1, 2, 5, 10 ... 100 ms between tries, so when the ingest
 * writer and the delivery engine take turns at the lock every few
 * milliseconds, the loser sleeps far longer than the lock is held. Short
 * sleeps first keep the hand-over in the sub-millisecond range; the total
 * stays bounded by HG_SQLITE_BUSY_MS. */
static int busy_wait(void *arg, int count)
{
	enum { FAST_TRIES = 100, FAST_US = 100, SLOW_US = 1000 };
	int64_t waited_us;

	(void)arg;
	waited_us = count < FAST_TRIES
			? (int64_t)count * FAST_US
			: (int64_t)FAST_TRIES * FAST_US + (int64_t)(count - FAST_TRIES) * SLOW_US;
	if (waited_us >= (int64_t)HG_SQLITE_BUSY_MS * 1000)
		return 0;
	usleep(count < FAST_TRIES ? FAST_US : SLOW_US);
	return 1;
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

	/* The common case, a current schema, needs no write lock: under load
	 * the ingest writer and the delivery engine hold it most of the time,
	 * and a connection opened then (the API's) must not wait for it. */
	if (sqlite3_prepare_v2(s->db, "SELECT coalesce(max(version), 0) FROM schema_version", -1,
			       &q, NULL) == SQLITE_OK &&
	    sqlite3_step(q) == SQLITE_ROW &&
	    (uint64_t)sqlite3_column_int64(q, 0) == hg_sqlite_n_migrations) {
		sqlite3_finalize(q);
		s->version = (int)hg_sqlite_n_migrations;
		return SQLITE_OK;
	}
	sqlite3_finalize(q);
	q = NULL;

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
	for (i = 0; i < HG_SQLITE_EXTRA_STMTS; i++)
		sqlite3_finalize(s->extra[i]);
	hg_sqlite_file_detach(s->file, s->db);
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
	/* The VFS that writes a commit's WAL frames in one call
	 * (sqlite_vfs.h); the default one if it cannot be registered. */
	rc = sqlite3_open_v2(path, &s->db,
			     SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
			     hg_sqlite_vfs_register() == SQLITE_OK ? HG_SQLITE_VFS : NULL);
	if (rc != SQLITE_OK) {
		snprintf(err, errlen, "Cannot open the SQLite database %s: %s.", path,
			 s->db != NULL ? sqlite3_errmsg(s->db) : sqlite3_errstr(rc));
		rc = HG_EIO;
		goto out;
	}
	rc = sqlite3_extended_result_codes(s->db, 1);
	if (rc == SQLITE_OK)
		rc = sqlite3_busy_handler(s->db, busy_wait, NULL);
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
	/* secure_delete: what a purge or a rekey replaces is zeroed in the
	 * file, not left behind in free space. cache_size: 16 MiB (SQLite's
	 * default is 2 MiB) keeps the dedupe index's leaves, which random
	 * keys visit all over, in memory instead of a pread each. */
	rc = exec_sql(s->db,
		      "PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;"
		      " PRAGMA secure_delete = ON; PRAGMA cache_size = -16384",
		      err, errlen, "configure the SQLite database");
	if (rc != SQLITE_OK) {
		rc = HG_EIO;
		goto out;
	}
	rc = migrate(s, err, errlen);
	if (rc != HG_OK)
		goto out;
	if (!is_memory(path))
		s->file = hg_sqlite_file_attach(s->db, path);
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

/* Inserts one pending delivery of an open transaction; id receives its new
 * id. Returns SQLITE_DONE or the failing sqlite code. */
static int insert_delivery(struct hg_sqlite *s, const char *message_id, const char *endpoint,
			   int64_t due_ms, int64_t now_ms, char id[HG_UUID_LEN + 1])
{
	sqlite3_stmt *q = s->stmt[S_INSERT_DELIVERY];
	int rc;

	hg_uuid7(id);
	rc = sqlite3_bind_text(q, 1, id, -1, SQLITE_TRANSIENT);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_text(q, 2, message_id, -1, SQLITE_TRANSIENT);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_text(q, 3, endpoint, -1, SQLITE_STATIC);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_int64(q, 4, due_ms);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_int64(q, 5, now_ms);
	if (rc != SQLITE_OK)
		return rc;
	return run(s, S_INSERT_DELIVERY);
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
	if (rc == SQLITE_OK)
		rc = bind_text_or_null(q, 7, m->key_id);
	if (rc == SQLITE_OK)
		rc = bind_text_or_null(q, 8, m->request_id);
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

	*what = "delivery insert";
	for (k = 0; k < m->n_targets; k++) {
		char did[HG_UUID_LEN + 1];

		rc = insert_delivery(s, m->id, m->targets[k].endpoint, m->targets[k].due_ms,
				     m->received_ms, did);
		if (rc != SQLITE_DONE)
			goto out;
	}
	*what = "media insert";
	q = s->stmt[S_INSERT_MEDIA];
	for (k = 0; k < m->n_media; k++) {
		const struct hg_store_media_ref *r = &m->media[k];

		rc = sqlite3_bind_text(q, 1, r->id, -1, SQLITE_STATIC);
		if (rc == SQLITE_OK)
			rc = sqlite3_bind_text(q, 2, m->id, -1, SQLITE_STATIC);
		if (rc == SQLITE_OK)
			rc = sqlite3_bind_text(q, 3, m->source, -1, SQLITE_STATIC);
		if (rc == SQLITE_OK)
			rc = sqlite3_bind_text(q, 4, r->graph_id, -1, SQLITE_STATIC);
		if (rc == SQLITE_OK)
			rc = bind_text_or_null(q, 5, r->mime);
		if (rc == SQLITE_OK)
			rc = bind_text_or_null(q, 6, r->sha256);
		if (rc == SQLITE_OK)
			rc = sqlite3_bind_int64(q, 7, m->received_ms);
		if (rc != SQLITE_OK)
			goto out;
		rc = run(s, S_INSERT_MEDIA);
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
		if (rc == SQLITE_OK)
			rc = sqlite3_bind_int64(q, 9, hg_store_audit_count(&ev[i]));
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

/* One write transaction: BEGIN IMMEDIATE, body, a check that the database
 * file is still where it was opened, COMMIT (the one fsync, see the top of
 * the file). body returns SQLITE_OK or the failing sqlite code and names
 * its failing step in *what. On failure the transaction is rolled back and
 * one log line says what failed. Returns HG_OK or HG_EIO. The whole of it
 * runs in this process's turn to write (sqlite_file.h): BEGIN IMMEDIATE
 * then finds SQLite's lock free unless another process holds it. */
static int txn_run(struct hg_sqlite *s, const char *op,
		   int (*body)(struct hg_sqlite *s, void *arg, const char **what), void *arg)
{
	const char *what = "BEGIN";
	int rc, moved = 0;

	if (s->sync_lost) { /* see txn_run_lazy() */
		if (run(s, S_SYNC_FULL) != SQLITE_DONE) {
			hg_log(HG_LOG_ERROR, "store write refused: synchronous=FULL cannot be set",
			       "path", HG_LS(s->path), "op", HG_LS(op), NULL);
			return HG_EIO;
		}
		s->sync_lost = 0;
	}
	hg_sqlite_file_write_lock(s->file);
	rc = run(s, S_BEGIN);
	if (rc != SQLITE_DONE)
		goto fail;
	rc = body(s, arg, &what);
	if (rc != SQLITE_OK)
		goto fail;
	what = "database file check";
	rc = check_not_moved(s);
	if (rc != SQLITE_OK) {
		moved = rc == SQLITE_IOERR;
		goto fail;
	}
	what = "COMMIT";
	rc = run(s, S_COMMIT);
	if (rc == SQLITE_DONE) {
		hg_sqlite_file_write_unlock(s->file);
		return HG_OK;
	}
fail:
	hg_log(HG_LOG_ERROR, "store write failed", "path", HG_LS(s->path), "op", HG_LS(op), "step",
	       HG_LS(what), "error",
	       HG_LS(moved ? "the database file was moved or deleted" : sqlite3_errmsg(s->db)),
	       "code", HG_LI(rc), NULL);
	/* A failed COMMIT may have rolled back already; a failed BEGIN opened
	 * nothing. Only roll back what is still open. */
	if (!sqlite3_get_autocommit(s->db)) {
		rc = run(s, S_ROLLBACK);
		if (rc != SQLITE_DONE)
			hg_log(HG_LOG_ERROR, "store rollback failed", "path", HG_LS(s->path),
			       "error", HG_LS(sqlite3_errmsg(s->db)), NULL);
	}
	hg_sqlite_file_write_unlock(s->file);
	return HG_EIO;
}

int hg_sqlite_txn(struct hg_sqlite *s, const char *op, hg_sqlite_txn_fn body, void *arg)
{
	return txn_run(s, op, body, arg);
}

sqlite3 *hg_sqlite_db(struct hg_sqlite *s)
{
	return s->db;
}

sqlite3_stmt *hg_sqlite_stmt(struct hg_sqlite *s, int slot, const char *sql)
{
	if (slot < 0 || slot >= HG_SQLITE_EXTRA_STMTS)
		return NULL;
	if (s->extra[slot] == NULL && sqlite3_prepare_v3(s->db, sql, -1, SQLITE_PREPARE_PERSISTENT,
							 &s->extra[slot], NULL) != SQLITE_OK) {
		sqlite3_finalize(s->extra[slot]);
		s->extra[slot] = NULL;
	}
	return s->extra[slot];
}

/* txn_run() without its fsync: the commit is in the WAL but reaches the
 * disk only with the next durable commit of any connection (the WAL is
 * synced as a whole) or a checkpoint. For writes that a power failure may
 * undo without breaking a promise: a claim undone is a delivery claimed
 * again, attempted at least once as always. If the lighter setting cannot
 * be set, the commit is simply durable. */
static int txn_run_lazy(struct hg_sqlite *s, const char *op,
			int (*body)(struct hg_sqlite *s, void *arg, const char **what), void *arg)
{
	int lazy = run(s, S_SYNC_NORMAL) == SQLITE_DONE, rc;

	rc = txn_run(s, op, body, arg);
	if (lazy && run(s, S_SYNC_FULL) != SQLITE_DONE) {
		/* Later commits of this handle would skip their fsync: each
		 * tries again first and is refused while it fails. */
		hg_log(HG_LOG_ERROR, "store cannot restore synchronous=FULL", "path",
		       HG_LS(s->path), "error", HG_LS(sqlite3_errmsg(s->db)), NULL);
		s->sync_lost = 1;
	}
	return rc;
}

struct put_args {
	struct hg_store_msg *const *msgs;
	size_t n;
	const struct hg_audit_event *ev;
	size_t nev;
};

static int put_body(struct hg_sqlite *s, void *arg, const char **what)
{
	struct put_args *a = arg;
	struct hg_store_batch_audit b;
	size_t i;
	int rc;

	for (i = 0; i < a->n; i++) {
		a->msgs[i]->outcome = 0;
		a->msgs[i]->first_id[0] = '\0';
		rc = put_one(s, a->msgs[i], what);
		if (rc != SQLITE_OK)
			return rc;
	}
	*what = "audit log append";
	rc = hg_store_batch_audit(a->msgs, a->n, a->ev, a->nev, &b) == HG_OK
		 ? (b.n > 0 ? append_audit(s, b.ev, b.n) : SQLITE_OK)
		 : SQLITE_NOMEM;
	hg_store_batch_audit_free(&b);
	return rc;
}

static int sqlite_put_batch(struct hg_store *st, struct hg_store_msg *const *msgs, size_t n,
			    const struct hg_audit_event *ev, size_t nev)
{
	struct put_args a = {.msgs = msgs, .n = n, .ev = ev, .nev = nev};
	size_t i;
	int rc;

	if (n == 0 && nev == 0)
		return HG_OK;
	rc = txn_run((struct hg_sqlite *)st, "put_batch", put_body, &a);
	if (rc != HG_OK) {
		for (i = 0; i < n; i++) {
			msgs[i]->outcome = 0;
			msgs[i]->first_id[0] = '\0';
		}
	}
	return rc;
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
	idtext = sqlite3_column_text(q, 6);
	hg_strlcpy(row->key_id, idtext != NULL ? (const char *)idtext : "", sizeof(row->key_id));
	idtext = sqlite3_column_text(q, 7);
	hg_strlcpy(row->request_id, idtext != NULL ? (const char *)idtext : "",
		   sizeof(row->request_id));
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

/* One read transaction for all of them: each statement outside one would
 * take and drop SQLite's read lock (a few fcntl calls) by itself. */
static void sqlite_get_messages(struct hg_store *st, const char *const *ids, size_t n,
				struct hg_store_row *rows, int *rcs)
{
	struct hg_sqlite *s = (struct hg_sqlite *)st;
	int open = n > 1 && run(s, S_BEGIN_READ) == SQLITE_DONE;
	size_t i;

	for (i = 0; i < n; i++)
		rcs[i] = sqlite_get_message(st, ids[i], &rows[i]);
	if (open && run(s, S_COMMIT) != SQLITE_DONE)
		run(s, S_ROLLBACK); /* a read: nothing to lose */
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

/* A row of HG_SQLITE_AUDIT_COLUMNS; pointers valid until q steps again. */
static void audit_row_of(sqlite3_stmt *q, struct hg_store_audit_row *row)
{
	row->seq = sqlite3_column_int64(q, 0);
	row->ev.ts_ms = sqlite3_column_int64(q, 1);
	row->ev.event = column_text_or_null(q, 2);
	row->ev.source = column_text_or_null(q, 3);
	row->ev.client = column_text_or_null(q, 4);
	row->ev.reason = column_text_or_null(q, 5);
	row->prev_hash = column_text(q, 6);
	row->hash = column_text(q, 7);
	row->ev.count = sqlite3_column_int64(q, 8);
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
		audit_row_of(q, &row);
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

/* ---- deliveries ---- */

/* Binds a status code, NULL when there is none (< 0). */
static int bind_status(sqlite3_stmt *q, int i, int code)
{
	return code < 0 ? sqlite3_bind_null(q, i) : sqlite3_bind_int(q, i, code);
}

struct claim_args {
	const char *owner;
	int64_t now_ms;
	const struct hg_store_claim_req *req;
	size_t nreq;
	struct hg_store_claimed *out;
	size_t n;
};

/* The names an endpoint argument selects, as the half-open range [lo, hi):
 * "name" is [name, name "\x01") (nothing sorts between but name itself,
 * names hold no control characters), "prefix*" is [prefix, prefix with its
 * last byte + 1). An exact name's statements bind lo alone, a prefix's
 * both. 0, or -1 when it does not fit cap bytes. */
static int endpoint_range(const char *name, char *lo, char *hi, size_t cap)
{
	size_t n = strlen(name);

	if (n + 2 > cap)
		return -1;
	if (hg_store_endpoint_is_prefix(name)) {
		memcpy(lo, name, n - 1);
		lo[n - 1] = '\0';
		memcpy(hi, name, n - 1);
		hi[n - 2] = (char)(hi[n - 2] + 1);
		hi[n - 1] = '\0';
		return 0;
	}
	memcpy(lo, name, n + 1);
	memcpy(hi, name, n);
	hi[n] = '\x01';
	hi[n + 1] = '\0';
	return 0;
}

static int claim_body(struct hg_sqlite *s, void *arg, const char **what)
{
	struct claim_args *a = arg;
	sqlite3_stmt *q;
	char lo[HG_STORE_NAME_MAX + 2], hi[HG_STORE_NAME_MAX + 2];
	const unsigned char *id, *mid, *ep;
	size_t i, got;
	int rc = SQLITE_OK;

	*what = "claim";
	a->n = 0;
	for (i = 0; i < a->nreq; i++) {
		int prefix;

		if (a->req[i].limit == 0)
			continue;
		if (endpoint_range(a->req[i].endpoint, lo, hi, sizeof(lo)) != 0)
			return SQLITE_MISUSE; /* a name longer than any endpoint's */
		prefix = hg_store_endpoint_is_prefix(a->req[i].endpoint);
		q = s->stmt[prefix ? S_CLAIM_PREFIX : S_CLAIM];
		rc = sqlite3_bind_text(q, 1, a->owner, -1, SQLITE_STATIC);
		if (rc == SQLITE_OK)
			rc = sqlite3_bind_int64(q, 2, a->req[i].lease_until_ms);
		if (rc == SQLITE_OK)
			rc = sqlite3_bind_int64(q, 3, a->now_ms);
		if (rc == SQLITE_OK)
			rc = sqlite3_bind_text(q, 4, lo, -1, SQLITE_TRANSIENT);
		if (rc == SQLITE_OK)
			rc = sqlite3_bind_int64(q, 5, (sqlite3_int64)a->req[i].limit);
		if (rc == SQLITE_OK && prefix)
			rc = sqlite3_bind_text(q, 6, hi, -1, SQLITE_TRANSIENT);
		if (rc != SQLITE_OK)
			return rc;
		/* The UPDATE happens at the first step; the rest read RETURNING. */
		for (got = 0; (rc = sqlite3_step(q)) == SQLITE_ROW && got < a->req[i].limit;
		     got++) {
			struct hg_store_claimed *c = &a->out[a->n];

			id = sqlite3_column_text(q, 0);
			mid = sqlite3_column_text(q, 1);
			if (id == NULL || mid == NULL) { /* NOT NULL columns: out of memory */
				rc = SQLITE_NOMEM;
				break;
			}
			hg_strlcpy(c->id, (const char *)id, sizeof(c->id));
			hg_strlcpy(c->message_id, (const char *)mid, sizeof(c->message_id));
			ep = sqlite3_column_text(q, 3);
			hg_strlcpy(c->endpoint, ep != NULL ? (const char *)ep : "",
				   sizeof(c->endpoint));
			c->attempts = sqlite3_column_int(q, 2);
			c->req = i;
			a->n++;
		}
		sqlite3_reset(q);
		if (rc != SQLITE_DONE && rc != SQLITE_ROW)
			return rc;
		rc = SQLITE_OK;
	}
	return rc;
}

struct record_args {
	const struct hg_store_attempt *a;
	size_t n;
	int64_t now_ms;
};

static int record_body(struct hg_sqlite *s, void *arg, const char **what)
{
	struct record_args *r = arg;
	const struct hg_store_attempt *a;
	sqlite3_stmt *q;
	size_t i;
	int rc;

	for (i = 0; i < r->n; i++) {
		a = &r->a[i];
		*what = "attempt insert";
		q = s->stmt[S_INSERT_ATTEMPT];
		rc = sqlite3_bind_text(q, 1, a->delivery_id, -1, SQLITE_STATIC);
		if (rc == SQLITE_OK)
			rc = sqlite3_bind_int(q, 2, a->n);
		if (rc == SQLITE_OK)
			rc = sqlite3_bind_int64(q, 3, a->started_ms);
		if (rc == SQLITE_OK)
			rc = sqlite3_bind_int64(q, 4, a->duration_ms);
		if (rc == SQLITE_OK)
			rc = bind_status(q, 5, a->status_code);
		if (rc == SQLITE_OK)
			rc = bind_text_or_null(q, 6, a->error);
		if (rc == SQLITE_OK && a->response_head == NULL)
			rc = sqlite3_bind_null(q, 7);
		else if (rc == SQLITE_OK)
			rc = sqlite3_bind_blob64(q, 7, a->response_head, a->response_head_len,
						 SQLITE_STATIC);
		if (rc == SQLITE_OK)
			rc = bind_text_or_null(q, 8, a->key_id);
		if (rc != SQLITE_OK)
			return rc;
		rc = run(s, S_INSERT_ATTEMPT);
		if (rc != SQLITE_DONE)
			return rc;

		*what = "delivery update";
		q = s->stmt[S_OUTCOME];
		rc = sqlite3_bind_text(q, 1, a->delivery_id, -1, SQLITE_STATIC);
		if (rc == SQLITE_OK)
			rc = bind_text_or_null(q, 2, hg_store_delivery_status_name(a->outcome));
		if (rc == SQLITE_OK)
			rc = sqlite3_bind_int(q, 3, a->n);
		if (rc == SQLITE_OK && a->outcome == HG_DELIVERY_FAILED)
			rc = sqlite3_bind_int64(q, 4, a->next_attempt_ms);
		else if (rc == SQLITE_OK)
			rc = sqlite3_bind_null(q, 4);
		if (rc == SQLITE_OK)
			rc = bind_status(q, 5, a->status_code);
		if (rc == SQLITE_OK)
			rc = bind_text_or_null(q, 6, a->error);
		if (rc == SQLITE_OK)
			rc = sqlite3_bind_int64(q, 7, r->now_ms);
		if (rc == SQLITE_OK)
			rc = bind_text_or_null(q, 8, a->lease_owner);
		if (rc != SQLITE_OK)
			return rc;
		rc = run(s, S_OUTCOME);
		if (rc != SQLITE_DONE)
			return rc;
	}
	return SQLITE_OK;
}

struct settle_args {
	struct record_args r;
	struct claim_args c;
};

static int settle_body(struct hg_sqlite *s, void *arg, const char **what)
{
	struct settle_args *x = arg;
	int rc = SQLITE_OK;

	if (x->r.n > 0)
		rc = record_body(s, &x->r, what);
	if (rc == SQLITE_OK && x->c.nreq > 0)
		rc = claim_body(s, &x->c, what);
	return rc;
}

static int sqlite_record_and_claim(struct hg_store *st, const struct hg_store_attempt *a, size_t na,
				   const char *owner, int64_t now_ms,
				   const struct hg_store_claim_req *req, size_t nreq,
				   struct hg_store_claimed *out, size_t *n)
{
	struct settle_args x = {
	    .r = {.a = a, .n = na, .now_ms = hg_now_ms()},
	    .c = {.owner = owner, .now_ms = now_ms, .req = req, .nreq = nreq, .out = out}};
	int rc;

	/* Claims alone are not synced: the outcome recorded after the
	 * attempt is, and the WAL sync that makes it durable makes the claim
	 * durable too. */
	if (na > 0)
		rc = txn_run((struct hg_sqlite *)st, "record_and_claim", settle_body, &x);
	else
		rc = txn_run_lazy((struct hg_sqlite *)st, "claim_deliveries", settle_body, &x);
	*n = rc == HG_OK ? x.c.n : 0;
	return rc;
}

static int sqlite_next_due(struct hg_store *st, const char *endpoint, int64_t *due_ms)
{
	struct hg_sqlite *s = (struct hg_sqlite *)st;
	int prefix = endpoint != NULL && hg_store_endpoint_is_prefix(endpoint);
	sqlite3_stmt *q = s->stmt[endpoint == NULL ? S_NEXT_DUE_ALL
				  : prefix         ? S_NEXT_DUE_PREFIX
						   : S_NEXT_DUE_ENDPOINT];
	char lo[HG_STORE_NAME_MAX + 2], hi[HG_STORE_NAME_MAX + 2];
	int rc, ret = HG_EIO;

	if (endpoint != NULL) {
		if (endpoint_range(endpoint, lo, hi, sizeof(lo)) != 0)
			goto out;
		rc = sqlite3_bind_text(q, 1, lo, -1, SQLITE_TRANSIENT);
		if (rc == SQLITE_OK && prefix)
			rc = sqlite3_bind_text(q, 2, hi, -1, SQLITE_TRANSIENT);
		if (rc != SQLITE_OK)
			goto out;
	}
	rc = sqlite3_step(q);
	if (rc != SQLITE_ROW)
		goto out;
	ret = HG_ENOTFOUND;
	if (sqlite3_column_type(q, 0) != SQLITE_NULL) {
		*due_ms = sqlite3_column_int64(q, 0);
		ret = HG_OK;
	}
out:
	if (ret == HG_EIO)
		hg_log(HG_LOG_ERROR, "store read failed", "path", HG_LS(s->path), "op",
		       HG_LS("next_due"), "error", HG_LS(sqlite3_errmsg(s->db)), NULL);
	sqlite3_reset(q);
	return ret;
}

/* Steps a one-row existence query on text key and resets it: SQLITE_ROW
 * when the row exists, SQLITE_DONE when not, else the failing code. */
static int exists(struct hg_sqlite *s, int which, const char *key)
{
	int rc = sqlite3_bind_text(s->stmt[which], 1, key, -1, SQLITE_STATIC);

	return rc == SQLITE_OK ? run(s, which) : rc;
}

struct replay_args {
	const char *message_id;
	const char *const *endpoints;
	size_t n;
	int64_t now_ms;
	char (*ids)[HG_UUID_LEN + 1];
	int found;
};

static int replay_body(struct hg_sqlite *s, void *arg, const char **what)
{
	struct replay_args *a = arg;
	char id[HG_UUID_LEN + 1];
	size_t i;
	int rc;

	*what = "message lookup";
	rc = exists(s, S_MSG_EXISTS, a->message_id);
	a->found = rc == SQLITE_ROW;
	if (rc != SQLITE_ROW)
		return rc == SQLITE_DONE ? SQLITE_OK : rc;
	*what = "delivery insert";
	for (i = 0; i < a->n; i++) {
		rc = insert_delivery(s, a->message_id, a->endpoints[i], a->now_ms, a->now_ms, id);
		if (rc != SQLITE_DONE)
			return rc;
		if (a->ids != NULL)
			memcpy(a->ids[i], id, sizeof(id));
	}
	return SQLITE_OK;
}

static int sqlite_replay(struct hg_store *st, const char *message_id, const char *const *endpoints,
			 size_t n, int64_t now_ms, char (*ids)[HG_UUID_LEN + 1])
{
	struct replay_args a = {
	    .message_id = message_id, .endpoints = endpoints, .n = n, .now_ms = now_ms, .ids = ids};
	int rc;

	rc = txn_run((struct hg_sqlite *)st, "replay", replay_body, &a);
	if (rc == HG_OK && !a.found)
		rc = HG_ENOTFOUND;
	return rc;
}

struct retry_args {
	const char *delivery_id;
	const char *endpoint;
	int64_t now_ms;
	int64_t count;
	int found;
};

static int retry_body(struct hg_sqlite *s, void *arg, const char **what)
{
	struct retry_args *a = arg;
	int which = a->delivery_id != NULL ? S_RETRY_ONE : S_RETRY_ENDPOINT;
	sqlite3_stmt *q = s->stmt[which];
	int rc;

	*what = "dead delivery retry";
	rc = sqlite3_bind_text(q, 1, a->delivery_id != NULL ? a->delivery_id : a->endpoint, -1,
			       SQLITE_STATIC);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_int64(q, 2, a->now_ms);
	if (rc != SQLITE_OK)
		return rc;
	rc = run(s, which);
	if (rc != SQLITE_DONE)
		return rc;
	a->count = sqlite3_changes(s->db);
	a->found = 1;
	if (a->delivery_id == NULL || a->count > 0)
		return SQLITE_OK;
	*what = "delivery lookup";
	rc = exists(s, S_DELIVERY_EXISTS, a->delivery_id);
	a->found = rc == SQLITE_ROW;
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? SQLITE_OK : rc;
}

static int sqlite_retry_dead(struct hg_store *st, const char *delivery_id, const char *endpoint,
			     int64_t now_ms, int64_t *count)
{
	struct retry_args a = {.delivery_id = delivery_id, .endpoint = endpoint, .now_ms = now_ms};
	int rc;

	rc = txn_run((struct hg_sqlite *)st, "retry_dead", retry_body, &a);
	if (rc == HG_OK && !a.found)
		rc = HG_ENOTFOUND;
	*count = rc == HG_OK ? a.count : 0;
	return rc;
}

/* ---- management reads, stats and retention ----
 * The API's connections run these, never the ingest writer. Their SQL
 * depends on which filters a request sets (so SQLite can use the index that
 * fits), and they are rare next to ingest, so each call prepares its
 * statements instead of keeping them on the handle. Only fixed SQL text is
 * ever assembled; every value is bound. */

/* A statement assembled from fragments, each adding at most one parameter. */
#define HG_SQLITE_MAX_PARAMS 24

struct sql_builder {
	struct hg_buf sql;
	int n;
	struct {
		const char *text; /* bound as text when set, else as the integer */
		int64_t i;
	} p[HG_SQLITE_MAX_PARAMS];
};

/* Appends frag; when it holds a '?', that parameter is text (or, with text
 * NULL, the integer i). */
static void sql_add(struct sql_builder *b, const char *frag, const char *text, int64_t i)
{
	hg_buf_puts(&b->sql, frag);
	if (strchr(frag, '?') == NULL)
		return;
	if (b->n == HG_SQLITE_MAX_PARAMS) {
		hg_buf_set_error(&b->sql,
				 HG_ETOOBIG); /* never a statement with a parameter unbound */
		return;
	}
	b->p[b->n].text = text;
	b->p[b->n].i = i;
	b->n++;
}

/* Prepares and binds what b assembled; frees its text. SQLITE_OK or the
 * failing code (*q NULL then). */
static int sql_prepare(struct hg_sqlite *s, struct sql_builder *b, sqlite3_stmt **q)
{
	int rc = SQLITE_NOMEM, i;

	*q = NULL;
	if (hg_buf_status(&b->sql) != HG_OK)
		goto out;
	rc = sqlite3_prepare_v2(s->db, (const char *)b->sql.data, (int)b->sql.len, q, NULL);
	for (i = 0; rc == SQLITE_OK && i < b->n; i++)
		rc = b->p[i].text != NULL
			 ? sqlite3_bind_text(*q, i + 1, b->p[i].text, -1, SQLITE_STATIC)
			 : sqlite3_bind_int64(*q, i + 1, b->p[i].i);
	if (rc != SQLITE_OK) {
		sqlite3_finalize(*q);
		*q = NULL;
	}
out:
	hg_buf_free(&b->sql);
	return rc;
}

/* Logs a failed read; returns HG_EIO for the caller to pass on. */
static int read_failed(struct hg_sqlite *s, const char *op)
{
	hg_log(HG_LOG_ERROR, "store read failed", "path", HG_LS(s->path), "op", HG_LS(op), "error",
	       HG_LS(sqlite3_errmsg(s->db)), NULL);
	return HG_EIO;
}

/* Steps q to the end, calling row() on each row until it returns non-zero.
 * Finalizes q. HG_OK, or HG_EIO (logged under op). */
static int each_row(struct hg_sqlite *s, sqlite3_stmt *q, const char *op,
		    int (*row)(sqlite3_stmt *q, void *arg), void *arg)
{
	int rc;

	while ((rc = sqlite3_step(q)) == SQLITE_ROW)
		if (row(q, arg) != 0) {
			rc = SQLITE_DONE;
			break;
		}
	sqlite3_finalize(q);
	return rc == SQLITE_DONE ? HG_OK : read_failed(s, op);
}

/* A message's state is the highest rank among its deliveries' states. */
#define HG_SQLITE_RANK                                                                             \
	"CASE d.status WHEN 'dead' THEN 5 WHEN 'failed' THEN 4 WHEN 'pending' THEN 3"              \
	" WHEN 'delivering' THEN 2 ELSE 1 END"
static const int rank_status[] = {HG_STORE_NO_DELIVERIES, HG_DELIVERY_SUCCEEDED,
				  HG_DELIVERY_DELIVERING, HG_DELIVERY_PENDING,
				  HG_DELIVERY_FAILED,     HG_DELIVERY_DEAD};
#define HG_SQLITE_RANKS ((int)(sizeof(rank_status) / sizeof(rank_status[0])))

static int status_rank(int status)
{
	for (int r = 0; r < HG_SQLITE_RANKS; r++)
		if (rank_status[r] == status)
			return r;
	return -1;
}

/* Text of a column, or NULL for SQL NULL (also for out of memory, which
 * the NOT NULL columns this is used on then report as missing). */
static const char *text_or_null(sqlite3_stmt *q, int col)
{
	return (const char *)sqlite3_column_text(q, col);
}

struct list_cb {
	int (*msg)(const struct hg_store_msg_info *m, void *arg);
	int (*dlv)(const struct hg_store_delivery_info *d, void *arg);
	int (*att)(const struct hg_store_attempt_info *a, void *arg);
	void *arg;
};

static int message_row(sqlite3_stmt *q, void *arg)
{
	struct list_cb *cb = arg;
	int rank = sqlite3_column_int(q, 6);
	struct hg_store_msg_info m = {
	    .id = text_or_null(q, 0),
	    .source = text_or_null(q, 1),
	    .content_type = text_or_null(q, 2),
	    .received_ms = sqlite3_column_int64(q, 3),
	    .body_len = sqlite3_column_int64(q, 4),
	    .duplicates = sqlite3_column_int64(q, 5),
	    .status = rank >= 0 && rank < HG_SQLITE_RANKS ? rank_status[rank] : 0,
	    .deliveries = sqlite3_column_int64(q, 7),
	};

	if (m.id == NULL || m.source == NULL)
		return 0; /* out of memory on this row: leave it out */
	return cb->msg(&m, cb->arg);
}

static int sqlite_list_messages(struct hg_store *st, const struct hg_store_msg_filter *f,
				int (*fn)(const struct hg_store_msg_info *m, void *arg), void *arg)
{
	struct hg_sqlite *s = (struct hg_sqlite *)st;
	struct sql_builder b = {0};
	struct list_cb cb = {.msg = fn, .arg = arg};
	sqlite3_stmt *q;

	/* length() of a blob reads no body pages. */
	sql_add(&b,
		"SELECT m.id, m.source, m.content_type, m.received_ms, length(m.body) - CASE WHEN "
		"m.key_id IS NULL THEN 0 ELSE 28 END,"
		" m.dedupe_count, coalesce((SELECT max(" HG_SQLITE_RANK ") FROM deliveries d"
		" WHERE d.message_id = m.id), 0) AS rank,"
		" (SELECT count(*) FROM deliveries d WHERE d.message_id = m.id)"
		" FROM messages m WHERE 1",
		NULL, 0);
	if (f->id != NULL)
		sql_add(&b, " AND m.id = ?", f->id, 0);
	if (f->source != NULL)
		sql_add(&b, " AND m.source = ?", f->source, 0);
	if (f->since_ms != INT64_MIN)
		sql_add(&b, " AND m.received_ms >= ?", NULL, f->since_ms);
	if (f->until_ms != INT64_MAX)
		sql_add(&b, " AND m.received_ms < ?", NULL, f->until_ms);
	if (f->before_id != NULL)
		sql_add(&b, " AND m.id < ?", f->before_id, 0);
	if (f->status >= 0)
		sql_add(&b, " AND rank = ?", NULL, status_rank(f->status));
	if (f->n_dedupe_keys > 0) {
		sql_add(&b, " AND m.id IN (SELECT message_id FROM dedupe WHERE source = ?",
			f->source, 0);
		for (size_t i = 0; i < f->n_dedupe_keys; i++)
			sql_add(&b, i == 0 ? " AND key IN (?" : ", ?", f->dedupe_keys[i], 0);
		sql_add(&b, "))", NULL, 0);
	}
	sql_add(&b, " ORDER BY m.id DESC", NULL, 0);
	if (f->limit > 0)
		sql_add(&b, " LIMIT ?", NULL, (int64_t)f->limit);
	if (sql_prepare(s, &b, &q) != SQLITE_OK)
		return read_failed(s, "list_messages");
	return each_row(s, q, "list_messages", message_row, &cb);
}

struct audit_list_cb {
	int (*fn)(const struct hg_store_audit_row *row, void *arg);
	void *arg;
};

static int audit_list_row(sqlite3_stmt *q, void *arg)
{
	struct audit_list_cb *cb = arg;
	struct hg_store_audit_row row;

	audit_row_of(q, &row);
	return cb->fn(&row, cb->arg);
}

static int sqlite_audit_list(struct hg_store *st, const struct hg_store_audit_filter *f,
			     int (*fn)(const struct hg_store_audit_row *row, void *arg), void *arg)
{
	struct hg_sqlite *s = (struct hg_sqlite *)st;
	struct sql_builder b = {0};
	struct audit_list_cb cb = {.fn = fn, .arg = arg};
	sqlite3_stmt *q;

	sql_add(&b, "SELECT " HG_SQLITE_AUDIT_COLUMNS " FROM audit_log WHERE 1", NULL, 0);
	if (f->since_ms != INT64_MIN)
		sql_add(&b, " AND ts_ms >= ?", NULL, f->since_ms);
	if (f->until_ms != INT64_MAX)
		sql_add(&b, " AND ts_ms < ?", NULL, f->until_ms);
	if (f->event != NULL)
		sql_add(&b, " AND event = ?", f->event, 0);
	if (f->source != NULL)
		sql_add(&b, " AND source = ?", f->source, 0);
	if (f->before_seq > 0)
		sql_add(&b, " AND seq < ?", NULL, f->before_seq);
	sql_add(&b, " ORDER BY seq DESC", NULL, 0);
	if (f->limit > 0)
		sql_add(&b, " LIMIT ?", NULL, (int64_t)f->limit);
	if (sql_prepare(s, &b, &q) != SQLITE_OK)
		return read_failed(s, "audit_list");
	return each_row(s, q, "audit_list", audit_list_row, &cb);
}

static int delivery_row(sqlite3_stmt *q, void *arg)
{
	struct list_cb *cb = arg;
	struct hg_store_delivery_info d = {
	    .id = text_or_null(q, 0),
	    .message_id = text_or_null(q, 1),
	    .endpoint = text_or_null(q, 2),
	    .source = text_or_null(q, 3),
	    .attempts = sqlite3_column_int(q, 5),
	    .next_attempt_ms =
		sqlite3_column_type(q, 6) == SQLITE_NULL ? -1 : sqlite3_column_int64(q, 6),
	    .last_status = sqlite3_column_type(q, 7) == SQLITE_NULL ? -1 : sqlite3_column_int(q, 7),
	    .last_error = text_or_null(q, 8),
	    .created_ms = sqlite3_column_int64(q, 9),
	    .updated_ms = sqlite3_column_int64(q, 10),
	};

	if (d.id == NULL || d.message_id == NULL || d.endpoint == NULL ||
	    hg_store_delivery_status_parse(text_or_null(q, 4), &d.status) != HG_OK)
		return 0;
	return cb->dlv(&d, cb->arg);
}

static int sqlite_list_deliveries(struct hg_store *st, const struct hg_store_delivery_filter *f,
				  int (*fn)(const struct hg_store_delivery_info *d, void *arg),
				  void *arg)
{
	struct hg_sqlite *s = (struct hg_sqlite *)st;
	struct sql_builder b = {0};
	struct list_cb cb = {.dlv = fn, .arg = arg};
	sqlite3_stmt *q;

	sql_add(&b,
		"SELECT d.id, d.message_id, d.endpoint, m.source, d.status, d.attempts,"
		" d.next_attempt_ms, d.last_status, d.last_error, d.created_ms, d.updated_ms"
		" FROM deliveries d LEFT JOIN messages m ON m.id = d.message_id WHERE 1",
		NULL, 0);
	if (f->id != NULL)
		sql_add(&b, " AND d.id = ?", f->id, 0);
	if (f->message_id != NULL)
		sql_add(&b, " AND d.message_id = ?", f->message_id, 0);
	if (f->endpoint != NULL)
		sql_add(&b, " AND d.endpoint = ?", f->endpoint, 0);
	if (f->status != 0)
		sql_add(&b, " AND d.status = ?", hg_store_delivery_status_name(f->status), 0);
	if (f->before_id != NULL)
		sql_add(&b, " AND d.id < ?", f->before_id, 0);
	sql_add(&b, " ORDER BY d.id DESC", NULL, 0);
	if (f->limit > 0)
		sql_add(&b, " LIMIT ?", NULL, (int64_t)f->limit);
	if (sql_prepare(s, &b, &q) != SQLITE_OK)
		return read_failed(s, "list_deliveries");
	return each_row(s, q, "list_deliveries", delivery_row, &cb);
}

static int attempt_row(sqlite3_stmt *q, void *arg)
{
	struct list_cb *cb = arg;
	struct hg_store_attempt_info a = {
	    .delivery_id = text_or_null(q, 0),
	    .n = sqlite3_column_int(q, 1),
	    .started_ms = sqlite3_column_int64(q, 2),
	    .duration_ms = sqlite3_column_int64(q, 3),
	    .status_code = sqlite3_column_type(q, 4) == SQLITE_NULL ? -1 : sqlite3_column_int(q, 4),
	    .error = text_or_null(q, 5),
	    .response_head = sqlite3_column_blob(q, 6),
	    .response_head_len = (size_t)sqlite3_column_bytes(q, 6),
	    .key_id = text_or_null(q, 7),
	};

	if (a.delivery_id == NULL)
		return 0;
	return cb->att(&a, cb->arg);
}

static int sqlite_message_attempts(struct hg_store *st, const char *message_id,
				   int (*fn)(const struct hg_store_attempt_info *a, void *arg),
				   void *arg)
{
	struct hg_sqlite *s = (struct hg_sqlite *)st;
	struct sql_builder b = {0};
	struct list_cb cb = {.att = fn, .arg = arg};
	sqlite3_stmt *q;

	sql_add(&b,
		"SELECT delivery_id, n, started_ms, duration_ms, status_code, error, response_head,"
		" key_id FROM attempts WHERE delivery_id IN"
		" (SELECT id FROM deliveries WHERE message_id = ?) ORDER BY delivery_id, n",
		message_id, 0);
	if (sql_prepare(s, &b, &q) != SQLITE_OK)
		return read_failed(s, "message_attempts");
	return each_row(s, q, "message_attempts", attempt_row, &cb);
}

static int count_row(sqlite3_stmt *q, void *arg)
{
	int64_t *counts = arg;
	enum hg_delivery_status st;

	if (hg_store_delivery_status_parse(text_or_null(q, 0), &st) == HG_OK)
		counts[st] = sqlite3_column_int64(q, 1);
	return 0;
}

static int sqlite_count_deliveries(struct hg_store *st, int64_t counts[HG_DELIVERY_DEAD + 1])
{
	struct hg_sqlite *s = (struct hg_sqlite *)st;
	struct sql_builder b = {0};
	sqlite3_stmt *q;

	/* Each state is a range of the (status, ...) indexes: no table scan. */
	sql_add(&b,
		"SELECT status, count(*) FROM deliveries WHERE status IN"
		" ('pending', 'delivering', 'failed', 'dead') GROUP BY status",
		NULL, 0);
	if (sql_prepare(s, &b, &q) != SQLITE_OK)
		return read_failed(s, "count_deliveries");
	return each_row(s, q, "count_deliveries", count_row, counts);
}

struct backlog_cb {
	int (*fn)(const struct hg_store_backlog *b, void *arg);
	void *arg;
};

static int backlog_row(sqlite3_stmt *q, void *arg)
{
	struct backlog_cb *cb = arg;
	struct hg_store_backlog b = {.endpoint = text_or_null(q, 0),
				     .pending = sqlite3_column_int64(q, 1),
				     .oldest_ms = sqlite3_column_int64(q, 2)};

	return cb->fn(&b, cb->arg);
}

static int sqlite_backlog(struct hg_store *st,
			  int (*fn)(const struct hg_store_backlog *b, void *arg), void *arg)
{
	struct hg_sqlite *s = (struct hg_sqlite *)st;
	struct sql_builder b = {0};
	struct backlog_cb cb = {.fn = fn, .arg = arg};
	sqlite3_stmt *q;

	sql_add(&b, HG_STORE_BACKLOG_SQL, NULL, 0);
	if (sql_prepare(s, &b, &q) != SQLITE_OK)
		return read_failed(s, "backlog");
	return each_row(s, q, "backlog", backlog_row, &cb);
}

/* The stats_hourly counter columns, comma-separated, each as a plain name,
 * in sum() or as an upsert's "x = x + excluded.x". */
enum stat_col { COL_NAME, COL_SUM, COL_ADD };

static void stat_columns(struct hg_buf *b, enum stat_col how)
{
	for (int i = 0; i < HG_STAT_N; i++) {
		const char *c = hg_stat_names[i];

		hg_buf_puts(b, i > 0 ? ", " : "");
		if (how == COL_SUM)
			hg_buf_printf(b, "sum(%s)", c);
		else if (how == COL_ADD)
			hg_buf_printf(b, "%s = %s + excluded.%s", c, c, c);
		else
			hg_buf_puts(b, c);
	}
}

struct stats_args {
	const struct hg_stats_row *rows;
	size_t n;
};

static int stats_add_body(struct hg_sqlite *s, void *arg, const char **what)
{
	struct stats_args *a = arg;
	sqlite3_stmt *hq = NULL, *lq = NULL;
	struct hg_buf sql = {0};
	size_t i;
	int rc, k;

	*what = "stats statements";
	hg_buf_puts(&sql, "INSERT INTO stats_hourly (source, hour_ms, ");
	stat_columns(&sql, COL_NAME);
	hg_buf_puts(&sql, ") VALUES (?1, ?2");
	for (k = 0; k < HG_STAT_N; k++)
		hg_buf_printf(&sql, ", ?%d", k + 3);
	hg_buf_puts(&sql, ") ON CONFLICT (source, hour_ms) DO UPDATE SET ");
	stat_columns(&sql, COL_ADD);
	rc = hg_buf_status(&sql) == HG_OK
		 ? sqlite3_prepare_v2(s->db, (const char *)sql.data, -1, &hq, NULL)
		 : SQLITE_NOMEM;
	if (rc == SQLITE_OK)
		rc = sqlite3_prepare_v2(s->db,
					"INSERT INTO stats_latency (source, hour_ms, bucket, count)"
					" VALUES (?1, ?2, ?3, ?4) ON CONFLICT (source, hour_ms,"
					" bucket) DO UPDATE SET count = count + excluded.count",
					-1, &lq, NULL);
	*what = "stats upsert";
	for (i = 0; rc == SQLITE_OK && i < a->n; i++) {
		const struct hg_stats_row *r = &a->rows[i];

		rc = sqlite3_bind_text(hq, 1, r->source, -1, SQLITE_STATIC);
		if (rc == SQLITE_OK)
			rc = sqlite3_bind_int64(hq, 2, r->hour_ms);
		for (k = 0; rc == SQLITE_OK && k < HG_STAT_N; k++)
			rc = sqlite3_bind_int64(hq, k + 3, (sqlite3_int64)r->count[k]);
		if (rc == SQLITE_OK)
			rc = sqlite3_step(hq) == SQLITE_DONE ? SQLITE_OK : sqlite3_errcode(s->db);
		sqlite3_reset(hq);
		for (k = 0; rc == SQLITE_OK && k < HG_STATS_BUCKETS; k++) {
			if (r->latency[k] == 0)
				continue;
			rc = sqlite3_bind_text(lq, 1, r->source, -1, SQLITE_STATIC);
			if (rc == SQLITE_OK)
				rc = sqlite3_bind_int64(lq, 2, r->hour_ms);
			if (rc == SQLITE_OK)
				rc = sqlite3_bind_int(lq, 3, k);
			if (rc == SQLITE_OK)
				rc = sqlite3_bind_int64(lq, 4, (sqlite3_int64)r->latency[k]);
			if (rc == SQLITE_OK)
				rc = sqlite3_step(lq) == SQLITE_DONE ? SQLITE_OK
								     : sqlite3_errcode(s->db);
			sqlite3_reset(lq);
		}
	}
	/* the error stays readable with sqlite3_errmsg() after finalize */
	sqlite3_finalize(hq);
	sqlite3_finalize(lq);
	hg_buf_free(&sql);
	return rc;
}

static int sqlite_stats_add(struct hg_store *st, const struct hg_stats_row *rows, size_t n)
{
	struct stats_args a = {.rows = rows, .n = n};

	return txn_run((struct hg_sqlite *)st, "stats_add", stats_add_body, &a);
}

struct stats_read_args {
	int64_t from_ms;
	struct hg_stats_row *rows;
	size_t n;
};

/* The row of the hour in column 0, or NULL when outside the window. */
static struct hg_stats_row *stats_row_of(sqlite3_stmt *q, struct stats_read_args *a)
{
	int64_t h = sqlite3_column_int64(q, 0);

	if (h < a->from_ms || (h - a->from_ms) % HG_HOUR_MS != 0 ||
	    (uint64_t)((h - a->from_ms) / HG_HOUR_MS) >= a->n)
		return NULL;
	return &a->rows[(h - a->from_ms) / HG_HOUR_MS];
}

static int hourly_row(sqlite3_stmt *q, void *arg)
{
	struct hg_stats_row *r = stats_row_of(q, arg);

	for (int k = 0; r != NULL && k < HG_STAT_N; k++)
		r->count[k] += (uint64_t)sqlite3_column_int64(q, k + 1);
	return 0;
}

static int latency_row(sqlite3_stmt *q, void *arg)
{
	struct hg_stats_row *r = stats_row_of(q, arg);
	int b = sqlite3_column_int(q, 1);

	if (r != NULL && b >= 0 && b < HG_STATS_BUCKETS)
		r->latency[b] += (uint64_t)sqlite3_column_int64(q, 2);
	return 0;
}

/* Runs one of the two stats reads: SELECT hour_ms, cols FROM table over
 * the window (and source), grouped by hour (and tail). */
static int stats_query(struct hg_sqlite *s, const char *select, const char *table,
		       const char *group, const char *source, struct stats_read_args *a,
		       int (*row)(sqlite3_stmt *q, void *arg))
{
	struct sql_builder b = {0};
	sqlite3_stmt *q;

	sql_add(&b, select, NULL, 0);
	sql_add(&b, table, NULL, 0);
	sql_add(&b, " WHERE hour_ms >= ?", NULL, a->from_ms);
	sql_add(&b, " AND hour_ms < ?", NULL, a->from_ms + (int64_t)a->n * HG_HOUR_MS);
	if (source != NULL)
		sql_add(&b, " AND source = ?", source, 0);
	sql_add(&b, group, NULL, 0);
	if (sql_prepare(s, &b, &q) != SQLITE_OK)
		return read_failed(s, "stats_read");
	return each_row(s, q, "stats_read", row, a);
}

static int sqlite_stats_read(struct hg_store *st, const char *source, int64_t from_ms,
			     struct hg_stats_row *rows, size_t n)
{
	struct hg_sqlite *s = (struct hg_sqlite *)st;
	struct stats_read_args a = {.from_ms = from_ms, .rows = rows, .n = n};
	struct hg_buf sel = {0};
	int rc;

	hg_buf_puts(&sel, "SELECT hour_ms, ");
	stat_columns(&sel, COL_SUM);
	if (hg_buf_status(&sel) != HG_OK)
		return HG_ENOMEM;
	rc = stats_query(s, (const char *)sel.data, " FROM stats_hourly", " GROUP BY hour_ms",
			 source, &a, hourly_row);
	if (rc == HG_OK)
		rc = stats_query(s, "SELECT hour_ms, bucket, sum(count)", " FROM stats_latency",
				 " GROUP BY hour_ms, bucket", source, &a, latency_row);
	hg_buf_free(&sel);
	return rc;
}

struct purge_args {
	const struct hg_store_purge_scope *scope; /* NULL: every source */
	char *sources; /* the scope's sources as a JSON array, for json_each() */
	int64_t before_ms;
	size_t limit;
	struct hg_store_purged got;
	size_t n;
};

/* A purge's selection of messages, oldest first in the order of the index
 * it walks (no sort of a large backlog per batch). A scope of some sources
 * walks the (source, received_ms) index, so a short-lived source is purged
 * without stepping over the old rows of a long-lived one; "every source
 * but these" walks the primary key as the unscoped purge does. */
#define HG_PURGE_IN_FLIGHT                                                                         \
	" AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.message_id = messages.id"             \
	" AND d.status = 'delivering')"
static const char *const purge_select_sql[] = {
    "SELECT id FROM messages WHERE id < ?1 AND received_ms < ?2" HG_PURGE_IN_FLIGHT
    " ORDER BY id LIMIT ?3",
    "SELECT id FROM messages WHERE source IN (SELECT value FROM json_each(?4))"
    " AND received_ms < ?2 AND id < ?1" HG_PURGE_IN_FLIGHT " ORDER BY source, received_ms LIMIT ?3",
    "SELECT id FROM messages WHERE id < ?1 AND received_ms < ?2"
    " AND source NOT IN (SELECT value FROM json_each(?4))" HG_PURGE_IN_FLIGHT
    " ORDER BY id LIMIT ?3",
};
static const char *const purge_stats_sql[][2] = {
    {"DELETE FROM stats_hourly WHERE hour_ms <= ?1",
     "DELETE FROM stats_latency WHERE hour_ms <= ?1"},
    {"DELETE FROM stats_hourly WHERE hour_ms <= ?1"
     " AND source IN (SELECT value FROM json_each(?2))",
     "DELETE FROM stats_latency WHERE hour_ms <= ?1"
     " AND source IN (SELECT value FROM json_each(?2))"},
    {"DELETE FROM stats_hourly WHERE hour_ms <= ?1"
     " AND source NOT IN (SELECT value FROM json_each(?2))",
     "DELETE FROM stats_latency WHERE hour_ms <= ?1"
     " AND source NOT IN (SELECT value FROM json_each(?2))"},
};

/* 0: every source, 1: the scope's sources, 2: every source but those. */
static int purge_variant(const struct hg_store_purge_scope *scope)
{
	return scope == NULL ? 0 : scope->except ? 2 : 1;
}

/* The scope's sources as a JSON array (malloc'd), or NULL when out of memory. */
static char *purge_sources_json(const struct hg_store_purge_scope *scope)
{
	json_t *arr = json_array();
	char *text = NULL;
	size_t i;

	for (i = 0; arr != NULL && i < scope->n; i++)
		if (json_array_append_new(arr, json_string(scope->sources[i])) != 0)
			goto out;
	if (arr != NULL)
		text = json_dumps(arr, JSON_COMPACT);
out:
	json_decref(arr);
	return text;
}

/* The statements that delete one message and what hangs off it, in an
 * order that never leaves a row pointing at a deleted one. */
static const char *const purge_sql[] = {
    "DELETE FROM media WHERE message_id = ?1",
    "DELETE FROM attempts WHERE delivery_id IN (SELECT id FROM deliveries WHERE message_id = ?1)",
    "DELETE FROM deliveries WHERE message_id = ?1",
    "DELETE FROM dedupe WHERE message_id = ?1",
    "DELETE FROM messages WHERE id = ?1",
};
#define HG_PURGE_STEPS ((int)(sizeof(purge_sql) / sizeof(purge_sql[0])))

static int purge_body(struct hg_sqlite *s, void *arg, const char **what)
{
	struct purge_args *a = arg;
	int64_t media_rows = 0; /* their files went with the media purge before */
	int64_t *counts[HG_PURGE_STEPS] = {&media_rows, &a->got.attempts, &a->got.deliveries,
					   &a->got.dedupe_keys, &a->got.messages};
	sqlite3_stmt *sel = NULL, *del[HG_PURGE_STEPS] = {0}, *stats[2] = {0};
	char cutoff[16];
	const unsigned char *id;
	int rc, k, v;

	memset(&a->got, 0, sizeof(a->got));
	a->n = 0;
	/* A UUIDv7 starts with its 48-bit time in hex ("tttttttt-tttt"), so
	 * ids below that prefix of before_ms are exactly the older ones: the
	 * primary key finds them without an index on received_ms. */
	snprintf(cutoff, sizeof(cutoff), "%08llx-%04llx",
		 (unsigned long long)((uint64_t)a->before_ms >> 16) & 0xffffffffull,
		 (unsigned long long)a->before_ms & 0xffffull);
	*what = "purge statements";
	v = purge_variant(a->scope);
	rc = sqlite3_prepare_v2(s->db, purge_select_sql[v], -1, &sel, NULL);
	for (k = 0; rc == SQLITE_OK && k < HG_PURGE_STEPS; k++)
		rc = sqlite3_prepare_v2(s->db, purge_sql[k], -1, &del[k], NULL);
	for (k = 0; rc == SQLITE_OK && k < 2; k++)
		rc = sqlite3_prepare_v2(s->db, purge_stats_sql[v][k], -1, &stats[k], NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_text(sel, 1, cutoff, -1, SQLITE_STATIC);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_int64(sel, 2, a->before_ms);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_int64(sel, 3, (sqlite3_int64)a->limit);
	if (rc == SQLITE_OK && v > 0)
		rc = sqlite3_bind_text(sel, 4, a->sources, -1, SQLITE_STATIC);
	for (k = 0; rc == SQLITE_OK && v > 0 && k < 2; k++)
		rc = sqlite3_bind_text(stats[k], 2, a->sources, -1, SQLITE_STATIC);
	if (rc != SQLITE_OK)
		goto out;
	*what = "purge";
	/* Deleting other rows of messages while stepping the SELECT is fine in
	 * SQLite; the row being read is deleted only after it was read. */
	while ((rc = sqlite3_step(sel)) == SQLITE_ROW) {
		id = sqlite3_column_text(sel, 0);
		if (id == NULL) {
			rc = SQLITE_NOMEM;
			goto out;
		}
		for (k = 0; k < HG_PURGE_STEPS; k++) {
			rc = sqlite3_bind_text(del[k], 1, (const char *)id, -1, SQLITE_TRANSIENT);
			if (rc == SQLITE_OK)
				rc = sqlite3_step(del[k]);
			sqlite3_reset(del[k]);
			if (rc != SQLITE_DONE)
				goto out;
			*counts[k] += sqlite3_changes(s->db);
		}
		a->n++;
	}
	if (rc != SQLITE_DONE)
		goto out;
	/* An hour's stats go once the whole hour is older than before_ms. */
	for (k = 0; k < 2; k++) {
		rc = sqlite3_bind_int64(stats[k], 1, hg_stats_hour_of(a->before_ms) - HG_HOUR_MS);
		if (rc == SQLITE_OK)
			rc = sqlite3_step(stats[k]);
		if (rc != SQLITE_DONE)
			goto out;
		if (k == 0)
			a->got.stats_hours = sqlite3_changes(s->db);
	}
	rc = SQLITE_OK;
out:
	sqlite3_finalize(sel);
	for (k = 0; k < HG_PURGE_STEPS; k++)
		sqlite3_finalize(del[k]);
	sqlite3_finalize(stats[0]);
	sqlite3_finalize(stats[1]);
	return rc;
}

static int sqlite_purge(struct hg_store *st, const struct hg_store_purge_scope *scope,
			int64_t before_ms, size_t limit, struct hg_store_purged *out, int *more)
{
	struct purge_args a = {
	    .scope = scope, .before_ms = before_ms, .limit = limit > 0 ? limit : 1};
	int rc;

	if (scope != NULL && (a.sources = purge_sources_json(scope)) == NULL)
		return HG_EIO; /* out of memory: nothing deleted */
	rc = txn_run((struct hg_sqlite *)st, "purge", purge_body, &a);
	free(a.sources);
	if (rc != HG_OK)
		return rc;
	out->messages += a.got.messages;
	out->deliveries += a.got.deliveries;
	out->attempts += a.got.attempts;
	out->dedupe_keys += a.got.dedupe_keys;
	out->stats_hours += a.got.stats_hours;
	*more = a.n >= a.limit;
	return HG_OK;
}

struct audit_purge_args {
	int64_t before_ms, now_ms;
	size_t limit;
	int64_t removed;
	int more;
};

/* hg_store_audit_purge: the checkpoint row first, then the rows it names
 * (the DELETE guard of schema step 7 allows only rows a checkpoint names). */
static int audit_purge_body(struct hg_sqlite *s, void *arg, const char **what)
{
	struct audit_purge_args *a = arg;
	sqlite3_stmt *sel = NULL, *del = NULL;
	char last_hash[HG_AUDIT_HASH_LEN + 1] = "", reason[256];
	const unsigned char *h;
	int64_t first = 0, last = 0, n = 0;
	int rc;

	a->removed = 0;
	a->more = 0;
	*what = "audit purge statements";
	rc = sqlite3_prepare_v2(
	    s->db, "SELECT seq, ts_ms, hash FROM audit_log ORDER BY seq LIMIT ?1", -1, &sel, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_prepare_v2(
		    s->db, "DELETE FROM audit_log WHERE seq >= ?1 AND seq <= ?2", -1, &del, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_int64(sel, 1, (sqlite3_int64)a->limit);
	if (rc != SQLITE_OK)
		goto out;
	*what = "audit purge";
	while ((rc = sqlite3_step(sel)) == SQLITE_ROW) {
		if (sqlite3_column_int64(sel, 1) >= a->before_ms)
			break; /* the first newer row ends the run: the log stays a chain */
		last = sqlite3_column_int64(sel, 0);
		if (n == 0)
			first = last;
		h = sqlite3_column_text(sel, 2);
		hg_strlcpy(last_hash, h != NULL ? (const char *)h : "", sizeof(last_hash));
		n++;
	}
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		goto out;
	rc = SQLITE_OK;
	if (n == 0)
		goto out;
	if (hg_store_audit_checkpoint_reason(first, last, last_hash, a->before_ms, reason,
					     sizeof(reason)) != HG_OK) {
		rc = SQLITE_TOOBIG;
		goto out;
	}
	struct hg_audit_event cp = {
	    .ts_ms = a->now_ms, .event = HG_AUDIT_CHECKPOINT_EVENT, .reason = reason, .count = n};
	*what = "audit checkpoint";
	rc = append_audit(s, &cp, 1);
	if (rc != SQLITE_OK)
		goto out;
	*what = "audit purge";
	rc = sqlite3_bind_int64(del, 1, first);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_int64(del, 2, last);
	if (rc == SQLITE_OK)
		rc = sqlite3_step(del);
	if (rc != SQLITE_DONE)
		goto out;
	a->removed = sqlite3_changes(s->db);
	a->more = (size_t)n >= a->limit;
	rc = SQLITE_OK;
out:
	sqlite3_finalize(sel);
	sqlite3_finalize(del);
	return rc;
}

static int sqlite_audit_purge(struct hg_store *st, int64_t before_ms, size_t limit, int64_t now_ms,
			      int64_t *removed, int *more)
{
	struct audit_purge_args a = {.before_ms = before_ms, .now_ms = now_ms, .limit = limit};
	int rc;

	rc = txn_run((struct hg_sqlite *)st, "audit_purge", audit_purge_body, &a);
	if (rc != HG_OK)
		return rc;
	*removed += a.removed;
	*more = a.more;
	return HG_OK;
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

/* ---- outbound: sqlite_outbound.c does the work on this handle ---- */

static struct hg_sqlite *sq(struct hg_store *st)
{
	return (struct hg_sqlite *)st;
}

static int sqlite_api_key_put(struct hg_store *st, const struct hg_store_api_key *k)
{
	return hg_sqlite_api_key_put(sq(st), k);
}

static int sqlite_api_key_each(struct hg_store *st, const char *owner_id, hg_store_api_key_fn fn,
			       void *arg)
{
	return hg_sqlite_api_key_each(sq(st), owner_id, fn, arg);
}

static int sqlite_api_key_delete(struct hg_store *st, const char *id)
{
	return hg_sqlite_api_key_delete(sq(st), id);
}

static int sqlite_api_key_find(struct hg_store *st, const char *token_hash,
			       struct hg_store_api_key *out)
{
	return hg_sqlite_api_key_find(sq(st), token_hash, out);
}

static int sqlite_sub_create(struct hg_store *st, const struct hg_store_sub *sub)
{
	return hg_sqlite_sub_create(sq(st), sub);
}

static int sqlite_sub_get(struct hg_store *st, const char *id, const char *owner_id,
			  struct hg_store_sub *out)
{
	return hg_sqlite_sub_get(sq(st), id, owner_id, out);
}

static int sqlite_sub_each(struct hg_store *st, const char *owner_id, int active_only,
			   int (*fn)(const struct hg_store_sub *sub, void *arg), void *arg)
{
	return hg_sqlite_sub_each(sq(st), owner_id, active_only, fn, arg);
}

static int sqlite_sub_update(struct hg_store *st, const char *id, const char *owner_id,
			     const struct hg_store_sub_patch *p)
{
	return hg_sqlite_sub_update(sq(st), id, owner_id, p);
}

static int sqlite_sub_delete(struct hg_store *st, const char *id, const char *owner_id,
			     int64_t now_ms)
{
	return hg_sqlite_sub_delete(sq(st), id, owner_id, now_ms);
}

static int sqlite_sub_set_secret(struct hg_store *st, const char *id, const char *owner_id,
				 const char *secret, const char *old_secret, const char *key_id,
				 int64_t old_until_ms, int64_t now_ms)
{
	return hg_sqlite_sub_set_secret(sq(st), id, owner_id, secret, old_secret, key_id,
					old_until_ms, now_ms);
}

static int sqlite_sub_deliveries(struct hg_store *st, const char *id, int64_t offset, int64_t limit,
				 int (*fn)(const struct hg_store_sub_delivery *d, void *arg),
				 void *arg, int64_t *total)
{
	return hg_sqlite_sub_deliveries(sq(st), id, offset, limit, fn, arg, total);
}

static int sqlite_sub_outcome(struct hg_store *st, const char *id, int ok, int gone, int64_t now_ms,
			      int64_t disable_after_ms, const char *reason, int *disabled)
{
	return hg_sqlite_sub_outcome(sq(st), id, ok, gone, now_ms, disable_after_ms, reason,
				     disabled);
}

const struct hg_store_ops hg_store_sqlite_ops = {
    .name = "sqlite",
    .open = sqlite_open,
    .close = sqlite_close,
    .schema_version = sqlite_schema_version,
    .put_batch = sqlite_put_batch,
    .get_message = sqlite_get_message,
    .get_messages = sqlite_get_messages,
    .count_messages = sqlite_count_messages,
    .ping = sqlite_ping,
    .audit_rows = sqlite_audit_rows,
    .record_and_claim = sqlite_record_and_claim,
    .next_due = sqlite_next_due,
    .replay = sqlite_replay,
    .retry_dead = sqlite_retry_dead,
    .list_messages = sqlite_list_messages,
    .list_deliveries = sqlite_list_deliveries,
    .message_attempts = sqlite_message_attempts,
    .count_deliveries = sqlite_count_deliveries,
    .backlog = sqlite_backlog,
    .stats_add = sqlite_stats_add,
    .stats_read = sqlite_stats_read,
    .purge = sqlite_purge,
    .audit_list = sqlite_audit_list,
    .audit_purge = sqlite_audit_purge,
    .api_key_put = sqlite_api_key_put,
    .api_key_find = sqlite_api_key_find,
    .api_key_each = sqlite_api_key_each,
    .api_key_delete = sqlite_api_key_delete,
    .sub_create = sqlite_sub_create,
    .sub_get = sqlite_sub_get,
    .sub_each = sqlite_sub_each,
    .sub_update = sqlite_sub_update,
    .sub_delete = sqlite_sub_delete,
    .sub_set_secret = sqlite_sub_set_secret,
    .meta_get = hg_sqlite_meta_get,
    .meta_put = hg_sqlite_meta_put,
    .key_usage = hg_sqlite_key_usage,
    .sealed_scan = hg_sqlite_sealed_scan,
    .sealed_swap = hg_sqlite_sealed_swap,
    .dedupe_scan = hg_sqlite_dedupe_scan,
    .dedupe_rehash = hg_sqlite_dedupe_rehash,
    .scrub = hg_sqlite_scrub,
    .alert_set = hg_sqlite_alert_set,
    .alert_list = hg_sqlite_alert_list,
    .media_claim = hg_sqlite_media_claim,
    .media_update = hg_sqlite_media_update,
    .media_get = hg_sqlite_media_get,
    .media_list = hg_sqlite_media_list,
    .media_old = hg_sqlite_media_old,
    .media_defer = hg_sqlite_media_defer,
    .media_counts = hg_sqlite_media_counts,
    .sub_deliveries = sqlite_sub_deliveries,
    .sub_outcome = sqlite_sub_outcome,
};
