/*
 * sqlite_media.h — private to src/store/: the SQLite ops of the media jobs
 * (store.h, hg_store_media_*).
 */
#ifndef HG_STORE_SQLITE_MEDIA_H
#define HG_STORE_SQLITE_MEDIA_H

#include "store/sqlite_internal.h"
#include "store/store_internal.h"

int hg_sqlite_media_claim(struct hg_store *st, int64_t now_ms, int64_t lease_until_ms,
			  struct hg_store_media *out);
int hg_sqlite_media_update(struct hg_store *st, const struct hg_store_media *m, int64_t now_ms);
int hg_sqlite_media_get(struct hg_store *st, const char *id, struct hg_store_media *out);
int hg_sqlite_media_list(struct hg_store *st, const char *message_id,
			 int (*fn)(const struct hg_store_media *m, void *arg), void *arg);
int hg_sqlite_media_old(struct hg_store *st, const char *source, int64_t before_ms, size_t limit,
			int (*fn)(const struct hg_store_media *m, void *arg), void *arg);

int hg_sqlite_media_defer(struct hg_store *st, const char *delivery_id, const char *lease_owner,
			  int64_t until_ms);

int hg_sqlite_media_counts(struct hg_store *st, int64_t counts[HG_MEDIA_EXPIRED + 1],
			   int64_t *stored_bytes);

#endif
