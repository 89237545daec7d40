/*
 * sqlite_outbound.h — private to src/store/: the SQLite functions behind
 * the API-key and subscription ops (store.h has the contract; each takes
 * the backend's connection). Their tables are schema step 5
 * (sqlite_migrations.c).
 */
#ifndef HG_STORE_SQLITE_OUTBOUND_H
#define HG_STORE_SQLITE_OUTBOUND_H

#include <sqlite3.h>

#include "store/store.h"

int hg_sqlite_api_key_put(sqlite3 *db, const struct hg_store_api_key *k);
int hg_sqlite_api_key_find(sqlite3 *db, const char *token_hash, struct hg_store_api_key *out);
int hg_sqlite_sub_create(sqlite3 *db, const struct hg_store_sub *s);
int hg_sqlite_sub_get(sqlite3 *db, const char *id, const char *owner_id, struct hg_store_sub *out);
int hg_sqlite_sub_each(sqlite3 *db, const char *owner_id, int active_only,
		       int (*fn)(const struct hg_store_sub *s, void *arg), void *arg);
int hg_sqlite_sub_update(sqlite3 *db, const char *id, const char *owner_id,
			 const struct hg_store_sub_patch *p);
int hg_sqlite_sub_delete(sqlite3 *db, const char *id, const char *owner_id, int64_t now_ms);
int hg_sqlite_sub_set_secret(sqlite3 *db, const char *id, const char *owner_id, const char *secret,
			     const char *old_secret, int64_t old_until_ms, int64_t now_ms);
int hg_sqlite_sub_deliveries(sqlite3 *db, const char *id, int64_t offset, int64_t limit,
			     int (*fn)(const struct hg_store_sub_delivery *d, void *arg), void *arg,
			     int64_t *total);
int hg_sqlite_sub_outcome(sqlite3 *db, const char *id, int ok, int gone, int64_t now_ms,
			  int64_t disable_after_ms, const char *reason, int *disabled);

#endif
