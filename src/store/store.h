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
	const char *content_type; /* may be NULL */
	const char *headers_json; /* selected headers as a JSON object; may be NULL */
	const uint8_t *body;
	size_t body_len;
	const char *const *dedupe_keys; /* >= 1 key */
	size_t n_dedupe_keys;
	/* results, set by hg_store_put_messages() */
	enum hg_store_outcome outcome;
	char first_id[HG_UUID_LEN + 1]; /* for a duplicate: the id it duplicates; else == id */
};

/* One audit-log event (what happened, where, to whom, why): never a body, a
 * header value or a secret. The caller owns every pointer; event must not
 * be NULL, the others may be. */
struct hg_audit_event {
	int64_t ts_ms;      /* when it happened, ms since the epoch */
	const char *event;  /* "bad_signature", "replay", "mtls_failure", "rate_limited", ... */
	const char *source; /* the source it concerns */
	const char *client; /* the client address */
	const char *reason; /* one line for a person */
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
/* hg_store_put_messages() plus audit events appended to the audit log in
 * the same transaction, so the ingest writer records them with the batch
 * it commits anyway (no fsync of their own). All or nothing. */
int hg_store_put_batch(struct hg_store *st, struct hg_store_msg *const *msgs, size_t n,
		       const struct hg_audit_event *ev, size_t nev);

/* ---- the audit log: append-only and hash-chained ----
 * Row seq (1, 2, ...) stores hash = hex SHA-256 of
 *   prev_hash "\n" I(seq) I(ts_ms) S(event) S(source) S(client) S(reason)
 * where prev_hash is the previous row's hash (64 zeros for row 1),
 * I(n) = "i" <decimal n> ";", S(NULL) = "n;" and S(s) = "s" <byte length
 * of s in decimal> ":" <s> ";". Every field is typed and length-prefixed,
 * so no bytes can move from one field to the next without changing the
 * hash. A changed, removed or reordered row breaks the chain from that
 * row on; removing the newest rows cannot be seen from the log alone. */

/* Appends ev[0..n) after the current last row, in its own transaction. */
int hg_store_audit_append(struct hg_store *st, const struct hg_audit_event *ev, size_t n);
/* Recomputes the chain from row 1. HG_OK when it is intact (*rows rows);
 * HG_EAUTH when it is broken: *bad_seq is the first row that does not
 * verify (for missing rows, the first missing seq), *rows the rows that
 * verified before it and why one sentence; HG_EIO (why says so) when the
 * log cannot be read. */
int hg_store_audit_verify(struct hg_store *st, int64_t *rows, int64_t *bad_seq, char *why,
			  size_t whylen);

/* HG_OK and fills row, HG_ENOTFOUND, or HG_EIO. */
int hg_store_get_message(struct hg_store *st, const char *id, struct hg_store_row *row);
void hg_store_row_free(struct hg_store_row *row);
/* Number of stored messages (all sources when source is NULL). */
int hg_store_count_messages(struct hg_store *st, const char *source, int64_t *count);

/* Cheap liveness check of the connection: HG_OK or HG_EIO. */
int hg_store_ping(struct hg_store *st);

#endif
