/*
 * sqlite_outbound.h — private to src/store/: the SQLite functions behind
 * the API-key and subscription ops (store.h has the contract; each takes
 * the backend's handle and returns HG_OK, HG_ENOTFOUND, HG_ENOMEM or
 * HG_EIO, already logged). Their tables are schema step 5
 * (sqlite_migrations.c).
 */
#ifndef HG_STORE_SQLITE_OUTBOUND_H
#define HG_STORE_SQLITE_OUTBOUND_H

#include <sqlite3.h>

#include "store/sqlite_internal.h"
#include "store/store.h"

int hg_sqlite_api_key_put(struct hg_sqlite *s, const struct hg_store_api_key *k);
int hg_sqlite_api_key_each(struct hg_sqlite *s, const char *owner_id, hg_store_api_key_fn fn,
			   void *arg);
int hg_sqlite_api_key_delete(struct hg_sqlite *s, const char *id);
int hg_sqlite_api_key_find(struct hg_sqlite *s, const char *token_hash,
			   struct hg_store_api_key *out);
int hg_sqlite_sub_create(struct hg_sqlite *s, const struct hg_store_sub *sub);
int hg_sqlite_sub_get(struct hg_sqlite *s, const char *id, const char *owner_id,
		      struct hg_store_sub *out);
int hg_sqlite_sub_each(struct hg_sqlite *s, const char *owner_id, int active_only,
		       int (*fn)(const struct hg_store_sub *sub, void *arg), void *arg);
int hg_sqlite_sub_update(struct hg_sqlite *s, const char *id, const char *owner_id,
			 const struct hg_store_sub_patch *p);
int hg_sqlite_sub_delete(struct hg_sqlite *s, const char *id, const char *owner_id, int64_t now_ms);
int hg_sqlite_sub_set_secret(struct hg_sqlite *s, const char *id, const char *owner_id,
			     const char *secret, const char *old_secret, const char *key_id,
			     int64_t old_until_ms, int64_t now_ms);
int hg_sqlite_sub_deliveries(struct hg_sqlite *s, const char *id, int64_t offset, int64_t limit,
			     int (*fn)(const struct hg_store_sub_delivery *d, void *arg), void *arg,
			     int64_t *total);
int hg_sqlite_sub_outcome(struct hg_sqlite *s, const char *id, int ok, int gone, int64_t now_ms,
			  int64_t disable_after_ms, const char *reason, int *disabled);

#endif
