/*
 * sqlite_migrations.c — the SQLite schema, as the ordered list of steps that
 * build it. sqlite.c applies the steps a database has not seen yet, all in
 * one transaction at open, and records the version reached in schema_version.
 *
 * Append a new step for every change; never edit one that has shipped, since
 * databases in the field have already run it.
 */
#include "store/sqlite_internal.h"

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
    /* 3: deliveries (one message to one endpoint) and their attempts. A
     * claim is a lease (lease_owner until lease_until_ms) so a dead
     * owner's deliveries are claimed again once it expires. The endpoint
     * index also orders by due time: the engine claims per endpoint, oldest
     * due first. */
    "CREATE TABLE deliveries ("
    "  id TEXT PRIMARY KEY,"
    "  message_id TEXT NOT NULL,"
    "  endpoint TEXT NOT NULL,"
    "  status TEXT NOT NULL"
    "    CHECK (status IN ('pending', 'delivering', 'succeeded', 'failed', 'dead')),"
    "  attempts INTEGER NOT NULL DEFAULT 0,"
    "  next_attempt_ms INTEGER,"
    "  lease_owner TEXT,"
    "  lease_until_ms INTEGER,"
    "  last_status INTEGER,"
    "  last_error TEXT,"
    "  created_ms INTEGER NOT NULL,"
    "  updated_ms INTEGER NOT NULL"
    ");"
    "CREATE INDEX deliveries_status_due ON deliveries(status, next_attempt_ms);"
    "CREATE INDEX deliveries_message ON deliveries(message_id);"
    "CREATE INDEX deliveries_endpoint_status ON deliveries(endpoint, status, next_attempt_ms);"
    "CREATE TABLE attempts ("
    "  id INTEGER PRIMARY KEY,"
    "  delivery_id TEXT NOT NULL,"
    "  n INTEGER NOT NULL,"
    "  started_ms INTEGER NOT NULL,"
    "  duration_ms INTEGER NOT NULL,"
    "  status_code INTEGER,"
    "  error TEXT,"
    "  response_head BLOB"
    ");"
    "CREATE INDEX attempts_delivery ON attempts(delivery_id, n);",
    /* 4: hourly stats per source (the stats module's counters; latency as
     * a histogram, one row per non-empty bucket, so hours and sources merge
     * exactly), and the indexes the management API and retention need:
     * dedupe keys by message (a purge deletes them with their message) and
     * deliveries by state in id order (the dead-letter list pages by id). */
    "CREATE TABLE stats_hourly ("
    "  source TEXT NOT NULL,"
    "  hour_ms INTEGER NOT NULL,"
    "  received INTEGER NOT NULL DEFAULT 0,"
    "  accepted INTEGER NOT NULL DEFAULT 0,"
    "  duplicates INTEGER NOT NULL DEFAULT 0,"
    "  invalid_signatures INTEGER NOT NULL DEFAULT 0,"
    "  rate_limited INTEGER NOT NULL DEFAULT 0,"
    "  delivered INTEGER NOT NULL DEFAULT 0,"
    "  failed INTEGER NOT NULL DEFAULT 0,"
    "  dead INTEGER NOT NULL DEFAULT 0,"
    "  PRIMARY KEY (source, hour_ms)"
    ") WITHOUT ROWID;"
    "CREATE INDEX stats_hourly_hour ON stats_hourly(hour_ms);"
    "CREATE TABLE stats_latency ("
    "  source TEXT NOT NULL,"
    "  hour_ms INTEGER NOT NULL,"
    "  bucket INTEGER NOT NULL,"
    "  count INTEGER NOT NULL,"
    "  PRIMARY KEY (source, hour_ms, bucket)"
    ") WITHOUT ROWID;"
    "CREATE INDEX stats_latency_hour ON stats_latency(hour_ms);"
    "CREATE INDEX dedupe_message ON dedupe(message_id);"
    "CREATE INDEX deliveries_status_id ON deliveries(status, id);",
    /* 5: outbound webhooks (docs/outbound.md): API keys (only the SHA-256
     * of a token is kept) and subscriptions. A subscription's deliveries
     * are ordinary deliveries to endpoint 'sub:<id>'; its history pages
     * them by id. The secrets must be usable to sign, so they are stored
     * as they are: protect the database file. */
    "CREATE TABLE api_keys ("
    "  id TEXT PRIMARY KEY,"
    "  token_hash TEXT NOT NULL UNIQUE,"
    "  owner_id TEXT NOT NULL,"
    "  role TEXT NOT NULL CHECK (role IN ('owner', 'publisher')),"
    "  created_ms INTEGER NOT NULL"
    ");"
    "CREATE TABLE subscriptions ("
    "  id TEXT PRIMARY KEY,"
    "  owner_id TEXT NOT NULL,"
    "  url TEXT NOT NULL,"
    "  events TEXT NOT NULL,"
    "  is_active INTEGER NOT NULL,"
    "  description TEXT,"
    "  disabled_reason TEXT,"
    "  secret TEXT NOT NULL,"
    "  old_secret TEXT,"
    "  old_secret_until_ms INTEGER,"
    "  created_ms INTEGER NOT NULL,"
    "  updated_ms INTEGER NOT NULL,"
    "  last_delivery_ms INTEGER,"
    "  failing_since_ms INTEGER"
    ");"
    "CREATE INDEX subscriptions_owner ON subscriptions(owner_id, id);"
    "CREATE INDEX subscriptions_active ON subscriptions(is_active, owner_id);"
    /* a subscription's history pages by delivery id */
    "CREATE INDEX deliveries_endpoint_id ON deliveries(endpoint, id);",
    /* 6: how many events an audit row stands for. Refusals (bad
     * signatures, replays, ...) are summed per window into one row per
     * event, source, client and reason, so a flood writes a row per window
     * rather than a row per request; summing count gives the exact number.
     * Existing rows stand for one event each. */
    "ALTER TABLE audit_log ADD COLUMN count INTEGER NOT NULL DEFAULT 1;",
    /* 7: audit retention. The log may now lose its oldest rows, but only
     * behind a checkpoint: hg_store_audit_purge() first appends a chained
     * "audit_checkpoint" row whose reason begins "through row N, hash H"
     * (N the last row it removes, H that row's hash), then deletes rows up
     * to N. The DELETE guard allows exactly that: a row may be deleted only
     * when some checkpoint row names a row at or after it; anything else is
     * still refused as append-only. (The alternative, dropping the trigger
     * inside the purge's transaction and creating it again, would change
     * the schema, and so re-prepare every connection's statements, on each
     * purge, and would leave the table unguarded for whoever else drops the
     * trigger the same way; this rule needs no DDL at run time.) The partial
     * index keeps the guard's lookup of checkpoints to those few rows. A
     * forged checkpoint could unlock more, but verify only accepts a head
     * that a chained checkpoint names with its hash, as it only accepts
     * chained rows: the guard stops mistakes, the chain finds the rest. */
    "CREATE INDEX audit_log_checkpoints ON audit_log(seq) WHERE event = 'audit_checkpoint';"
    "DROP TRIGGER audit_log_no_delete;"
    "CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log"
    " WHEN OLD.seq > coalesce((SELECT max(CAST(substr(reason, 13, instr(reason, ',') - 13)"
    " AS INTEGER)) FROM audit_log WHERE event = 'audit_checkpoint'"
    " AND reason LIKE 'through row %'), 0)"
    " BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;",
    /* 8: encryption at rest (src/crypt/crypt.h, store_crypt.c). A row whose
     * values are sealed names the key in key_id (NULL: stored as they are,
     * as every row written before encryption was on): messages (body and
     * headers), attempts (response_head), subscriptions (secret and
     * old_secret). The key_id indexes let the start-up check and `keys
     * rekey` count the rows of each key without reading the rows; every
     * new row of one key lands at the same end of the index, so ingest
     * pays one sequential index entry. crypt_meta keeps the index key
     * (the key of the dedupe and rate-limit hashes), sealed like a value. */
    "ALTER TABLE messages ADD COLUMN key_id TEXT;"
    "ALTER TABLE attempts ADD COLUMN key_id TEXT;"
    "ALTER TABLE subscriptions ADD COLUMN key_id TEXT;"
    "CREATE INDEX messages_key ON messages(key_id);"
    "CREATE INDEX attempts_key ON attempts(key_id);"
    "CREATE TABLE crypt_meta ("
    "  name TEXT PRIMARY KEY,"
    "  key_id TEXT NOT NULL,"
    "  value BLOB NOT NULL"
    ");",
    /* 9: alert state (src/alerts): one row per rule and source, firing or
     * resolved; a node changes it only from the other state (the
     * compare-and-set that makes an alert fire once with several nodes). */
    "CREATE TABLE alerts ("
    "  rule TEXT NOT NULL,"
    "  source TEXT NOT NULL,"
    "  state TEXT NOT NULL CHECK (state IN ('firing', 'resolved')),"
    "  value REAL NOT NULL,"
    "  threshold REAL NOT NULL,"
    "  fired_ms INTEGER NOT NULL,"
    "  resolved_ms INTEGER,"
    "  updated_ms INTEGER NOT NULL,"
    "  PRIMARY KEY (rule, source)"
    ") WITHOUT ROWID;",
    /* 10: WhatsApp media (src/media). One row per file a message names,
     * inserted with the message; the fetcher claims pending rows whose
     * next_try_ms is due (a claim moves next_try_ms past the lease, so a
     * node that dies mid-download leaves the job to be claimed again).
     * The file under the media dir is named by id alone, never by
     * anything from the payload; key_id names the key it is sealed with
     * (NULL: in clear). */
    "CREATE TABLE media ("
    "  id TEXT PRIMARY KEY,"
    "  message_id TEXT NOT NULL,"
    "  source TEXT NOT NULL,"
    "  graph_id TEXT NOT NULL,"
    "  mime TEXT,"
    "  sha256 TEXT,"
    "  state TEXT NOT NULL"
    "    CHECK (state IN ('pending', 'stored', 'failed', 'quarantined', 'expired')),"
    "  size INTEGER NOT NULL DEFAULT 0,"
    "  attempts INTEGER NOT NULL DEFAULT 0,"
    "  next_try_ms INTEGER NOT NULL,"
    "  error TEXT,"
    "  file TEXT,"
    "  key_id TEXT,"
    "  created_ms INTEGER NOT NULL,"
    "  updated_ms INTEGER NOT NULL"
    ");"
    "CREATE INDEX media_message ON media(message_id);"
    "CREATE INDEX media_due ON media(state, next_try_ms);",
    /* 11: the id of the request that brought a message (its X-Request-Id
     * or one hookgate made), forwarded on its deliveries; NULL for rows
     * stored before. */
    "ALTER TABLE messages ADD COLUMN request_id TEXT;",
};

const size_t hg_sqlite_n_migrations =
    sizeof(hg_sqlite_migrations) / sizeof(hg_sqlite_migrations[0]);
