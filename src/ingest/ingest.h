/*
 * ingest.h — from a verified request to a durable message: dedupe-key
 * extraction and the group-commit writer.
 *
 * The writer is one thread that owns one store handle. Submitters queue
 * items; the writer takes everything queued, stores it in one transaction
 * (hg_store_put_messages: one commit, one fsync) and then calls each item's
 * done() on the writer thread. A caller acknowledges a message only from
 * done() with status HG_OK: nothing is acknowledged before its commit.
 */
#ifndef HG_INGEST_H
#define HG_INGEST_H

#include <stddef.h>
#include <stdint.h>

#include "store/store.h"

struct hg_source;
struct hg_ingest;

struct hg_ingest_item {
	struct hg_store_msg msg; /* filled by the submitter; results land here */
	int status;              /* set before done(): HG_OK or HG_EIO */
	void (*done)(struct hg_ingest_item *it); /* runs on the writer thread */
	void *user;
	struct hg_ingest_item *next; /* private to the writer */
};

/* Opens its own store handle on uri and starts the writer thread. */
int hg_ingest_start(const char *store_uri, struct hg_ingest **out, char *err, size_t errlen);
/* Queues it; done() will be called exactly once. Thread-safe; never blocks on I/O. */
void hg_ingest_submit(struct hg_ingest *ing, struct hg_ingest_item *it);
/* Finishes every queued item, stops the thread, closes the store. */
void hg_ingest_stop(struct hg_ingest *ing);
/* 1 while the last commit (or the store check) succeeded. */
int hg_ingest_healthy(const struct hg_ingest *ing);

/* Dedupe keys of one request per the source's rules: each configured header
 * or JSON path adds the values it selects, prefixed by the rule ("$.id=...")
 * so different rules never collide; when the rules select nothing (or there
 * are none), the single key is "sha256:<hex of body>". On success *keys is a
 * malloc'd array of malloc'd strings; free with hg_ingest_keys_free(). */
int hg_ingest_dedupe_keys(const struct hg_source *src, const uint8_t *body, size_t len,
			  const char *(*header)(void *ctx, const char *name, size_t *len),
			  void *ctx, char ***keys, size_t *n);
void hg_ingest_keys_free(char **keys, size_t n);

#endif
