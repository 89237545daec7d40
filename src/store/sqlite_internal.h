/*
 * sqlite_internal.h — private to the SQLite backend's files: what
 * sqlite.c's handle lends the others (sqlite_outbound.c), so that every
 * write of the backend takes one path, and the migration list
 * (sqlite_migrations.c) that sqlite.c applies at open.
 */
#ifndef HG_STORE_SQLITE_INTERNAL_H
#define HG_STORE_SQLITE_INTERNAL_H

#include <sqlite3.h>
#include <stddef.h>

struct hg_sqlite;

/* The body of a write transaction: returns SQLITE_OK or the failing sqlite
 * code, and names its failing step in *what. */
typedef int (*hg_sqlite_txn_fn)(struct hg_sqlite *s, void *arg, const char **what);

/* One write transaction on the handle: this process's turn to write,
 * BEGIN IMMEDIATE, body, a check that the database file is still where it
 * was opened, COMMIT (synchronous=FULL: durable on return). On failure it
 * is rolled back and one log line says what failed. HG_OK or HG_EIO. */
int hg_sqlite_txn(struct hg_sqlite *s, const char *op, hg_sqlite_txn_fn body, void *arg);

/* The handle's connection (for sqlite3_changes(), sqlite3_errmsg()). */
sqlite3 *hg_sqlite_db(struct hg_sqlite *s);

/* Statement slots the handle keeps for the other files of the backend. */
#define HG_SQLITE_EXTRA_STMTS 32

/* The statement in slot (< HG_SQLITE_EXTRA_STMTS), prepared from sql on
 * first use and kept until the handle closes; NULL when it cannot be
 * prepared. The caller resets it (and clears its bindings) when done. */
sqlite3_stmt *hg_sqlite_stmt(struct hg_sqlite *s, int slot, const char *sql);

/* SQLite schema migrations, oldest first: element i takes the schema from
 * version i to version i + 1. Append only; never edit a released one.
 * Nobody outside the backend reads them: hg_store_schema_version() says
 * where a database is. */
extern const char *const hg_sqlite_migrations[];
extern const size_t hg_sqlite_n_migrations;

#endif
