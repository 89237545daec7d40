/*
 * sqlite_migrations.c — the SQLite schema, as the ordered list of steps that
 * build it. sqlite.c applies the steps a database has not seen yet, all in
 * one transaction at open, and records the version reached in schema_version.
 *
 * Append a new step for every change; never edit one that has shipped, since
 * databases in the field have already run it.
 */
#include "store/store_internal.h"

const char *const hg_sqlite_migrations[] = {
    /* 1: inbound messages and their dedupe keys. */
    "CREATE TABLE messages ("
    "  id TEXT PRIMARY KEY,"
    "  source TEXT NOT NULL,"
    "  received_ms INTEGER NOT NULL,"
    "  content_type TEXT,"
    "  headers TEXT,"
    "  body BLOB NOT NULL,"
    "  dedupe_count INTEGER NOT NULL DEFAULT 0"
    ");"
    "CREATE INDEX messages_source_received ON messages(source, received_ms);"
    /* The primary key is the unique (source, key) index dedupe relies on;
     * WITHOUT ROWID keeps the rows inside that index, one lookup per key. */
    "CREATE TABLE dedupe ("
    "  source TEXT NOT NULL,"
    "  key TEXT NOT NULL,"
    "  message_id TEXT NOT NULL,"
    "  PRIMARY KEY (source, key)"
    ") WITHOUT ROWID;",
    /* 2: the append-only, hash-chained audit log (store.h defines the
     * hash). seq is assigned by the appender, never reused. The triggers
     * make a change or deletion through hookgate's own connections (or a
     * mistaken script) fail outright; someone who drops them first is what
     * the chain is for. */
    "CREATE TABLE audit_log ("
    "  seq INTEGER PRIMARY KEY,"
    "  ts_ms INTEGER NOT NULL,"
    "  event TEXT NOT NULL,"
    "  source TEXT,"
    "  client TEXT,"
    "  reason TEXT,"
    "  prev_hash TEXT NOT NULL,"
    "  hash TEXT NOT NULL"
    ");"
    "CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log"
    " BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;"
    "CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log"
    " BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;",
};

const size_t hg_sqlite_n_migrations =
    sizeof(hg_sqlite_migrations) / sizeof(hg_sqlite_migrations[0]);
