/*
 * sqlite_crypt.h — private to src/store/: the SQLite ops of encryption at
 * rest (store_internal.h has the contract of each; sqlite_crypt.c).
 */
#ifndef HG_STORE_SQLITE_CRYPT_H
#define HG_STORE_SQLITE_CRYPT_H

#include "store/sqlite_internal.h"
#include "store/store_internal.h"

int hg_sqlite_meta_get(struct hg_store *st, const char *name, char key_id[HG_STORE_KEY_ID_MAX + 1],
		       char **value);
int hg_sqlite_meta_put(struct hg_store *st, const char *name, const char *key_id, const char *value,
		       const char *expect);
int hg_sqlite_key_usage(struct hg_store *st, int with_plain,
			int (*fn)(const char *table, const char *key_id, int64_t count, void *arg),
			void *arg);
int hg_sqlite_sealed_scan(struct hg_store *st, enum hg_store_sealed_kind kind,
			  const struct hg_store_sealed *after, const char *skip_key_id,
			  size_t limit, int (*fn)(const struct hg_store_sealed *r, void *arg),
			  void *arg);
int hg_sqlite_sealed_swap(struct hg_store *st, enum hg_store_sealed_kind kind,
			  const struct hg_store_sealed *old, const struct hg_store_sealed *new_,
			  size_t n, size_t *swapped);
int hg_sqlite_dedupe_scan(
    struct hg_store *st, const char *after_source, const char *after_key, size_t limit,
    int (*fn)(const char *source, const char *key, const char *message_id, void *arg), void *arg);
int hg_sqlite_dedupe_rehash(struct hg_store *st, const struct hg_store_rehash *r, size_t n);
/* Drops what a rekey replaced from the WAL: a TRUNCATE checkpoint (tried a
 * few times while other connections write). HG_OK or HG_EIO. */
int hg_sqlite_scrub(struct hg_store *st);

#endif
