/*
 * store.h — the storage interface. One implementation per backend
 * (sqlite.c now; postgres.c later) behind the same functions, chosen by the
 * URI given to hg_store_open(): "sqlite:PATH", a bare PATH, or
 * "postgres://...".
 *
 * A handle is one database connection: use it from one thread at a time and
 * open one per thread that needs one (the ingest writer, API readers, ...).
 * hg_store_open() applies the schema migrations that are missing, so every
 * handle sees the current schema.
 */
#ifndef HG_STORE_H
#define HG_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "util/util.h"

struct hg_store;

enum hg_store_outcome {
	HG_STORE_ACCEPTED = 1,  /* stored as a new message */
	HG_STORE_DUPLICATE = 2, /* every dedupe key was seen before; not stored */
};

/* One inbound message to store. The caller owns every pointer. */
struct hg_store_msg {
	char id[HG_UUID_LEN + 1]; /* caller generates (hg_uuid7) */
	const char *source;
	int64_t received_ms;
	const char *content_type;      /* may be NULL */
	const char *headers_json;      /* selected headers as a JSON object; may be NULL */
	const uint8_t *body;
	size_t body_len;
	const char *const *dedupe_keys; /* >= 1 key */
	size_t n_dedupe_keys;
	/* results, set by hg_store_put_messages() */
	enum hg_store_outcome outcome;
	char first_id[HG_UUID_LEN + 1]; /* for a duplicate: the id it duplicates; else == id */
};

/* A stored message as read back. Release with hg_store_row_free(). */
struct hg_store_row {
	char id[HG_UUID_LEN + 1];
	char *source;
	int64_t received_ms;
	char *content_type;
	char *headers_json;
	uint8_t *body;
	size_t body_len;
};

/* Opens (creating if needed) and migrates. err gets one sentence on failure. */
int hg_store_open(const char *uri, struct hg_store **out, char *err, size_t errlen);
void hg_store_close(struct hg_store *st);
/* Schema version after migrations. */
int hg_store_schema_version(struct hg_store *st);

/* Stores a batch in ONE transaction, in order, and makes it durable (fsync)
 * before returning HG_OK. Dedupe is by (source, key): a message is a
 * duplicate only when all of its keys were already stored for its source
 * (earlier in the same batch counts). On any failure returns HG_EIO and
 * nothing of the batch is stored. */
int hg_store_put_messages(struct hg_store *st, struct hg_store_msg *const *msgs, size_t n);

/* HG_OK and fills row, HG_ENOTFOUND, or HG_EIO. */
int hg_store_get_message(struct hg_store *st, const char *id, struct hg_store_row *row);
void hg_store_row_free(struct hg_store_row *row);
/* Number of stored messages (all sources when source is NULL). */
int hg_store_count_messages(struct hg_store *st, const char *source, int64_t *count);

/* Cheap liveness check of the connection: HG_OK or HG_EIO. */
int hg_store_ping(struct hg_store *st);

#endif
