/*
 * ingest.h — from a verified request to a durable message: dedupe-key
 * extraction, rate limits, the audit log's queue and the group-commit
 * writer.
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

struct hg_json_body; /* util/jsonpath.h */

struct hg_source;
struct hg_rate_limit;
struct hg_ingest;
struct hg_ratelimit;

struct hg_ingest_item {
	struct hg_store_msg msg;                 /* filled by the submitter; results land here */
	int status;                              /* set before done(): HG_OK or HG_EIO */
	void (*done)(struct hg_ingest_item *it); /* runs on the writer thread */
	void *user;
	struct hg_ingest_item *next; /* private to the writer */
};

/* One transaction of the writer holds at most HG_INGEST_MAX_BATCH messages,
 * and closes before the message that would take it past
 * HG_INGEST_MAX_BATCH_KEYS dedupe keys or HG_INGEST_MAX_BATCH_BYTES of
 * bodies (a single message over either still goes alone): the work of one
 * commit, which every waiting request of every source shares, stays
 * bounded. */
#define HG_INGEST_MAX_BATCH       512
#define HG_INGEST_MAX_BATCH_KEYS  4096
#define HG_INGEST_MAX_BATCH_BYTES ((size_t)16 << 20)

/* How many items from the head of list (linked by next) the writer puts in
 * its next batch: >= 1 unless list is NULL. */
size_t hg_ingest_batch_len(const struct hg_ingest_item *list);

/* Opens its own store handle on uri and starts the writer thread. */
int hg_ingest_start(const char *store_uri, struct hg_ingest **out, char *err, size_t errlen);
/* fn(arg) runs on the writer thread after every commit that created
 * deliveries (an accepted message with targets), before the batch is
 * answered; it must be quick and must not block (the delivery engine's
 * wake-up). NULL removes it; once this returns, the previous hook is
 * neither running nor called again, so its arg may be freed. */
void hg_ingest_set_commit_hook(struct hg_ingest *ing, void (*fn)(void *arg), void *arg);
/* Queues it; done() will be called exactly once. Thread-safe; never blocks on I/O. */
void hg_ingest_submit(struct hg_ingest *ing, struct hg_ingest_item *it);
/* Finishes every queued item, stops the thread, closes the store. */
void hg_ingest_stop(struct hg_ingest *ing);
/* 1 while the last commit (or the store check) succeeded. */
int hg_ingest_healthy(const struct hg_ingest *ing);
/* 1 when healthy now and no commit failed since the call that set *seen
 * (a failure between two looks, over before the second, still counts). */
int hg_ingest_healthy_since(struct hg_ingest *ing, uint64_t *seen);
/* The rate limiter the inbound handlers share; lives as long as ing. */
struct hg_ratelimit *hg_ingest_ratelimit(struct hg_ingest *ing);

/* Records an audit event (store.h: struct hg_audit_event): copies the
 * strings, queues them and returns; the writer appends them to the audit
 * log with its next batch, in the same transaction. Thread-safe; never
 * blocks on I/O. event must not be NULL (the call is ignored); the others
 * may be. Never pass a body, a header value or a secret. Events the writer
 * cannot keep up with (65536 waiting) are dropped, counted, and the count
 * itself is audited ("audit_dropped"). One row per call: for events a
 * caller can repeat at will without credentials (refusals) use
 * hg_ingest_refusal() instead. Events: "config_loaded" (reason: the config
 * path), "api_replay", "api_retry", "api_retry_dead", "api_key_created",
 * "api_key_revoked". */
void hg_ingest_audit(struct hg_ingest *ing, const char *event, const char *source,
		     const char *client, const char *reason);

/* Records a refusal that says something about the caller ("bad_signature",
 * "replay", "mtls_failure", "rate_limited", "api_unauthorized"): not one
 * row each, but one row per (event, source, client, reason) per window of
 * window_ms (aligned to the epoch), written with its count once the window
 * has ended (or at stop). At most max_rows keys are itemised per window
 * over all sources; further keys are summed into one row per (event,
 * source) with client NULL and a reason starting "audit_suppressed:". Every
 * refusal is counted exactly once, in a row's count and in
 * hg_ingest_refusal_totals(). Thread-safe, never blocks on I/O; the same
 * rules for the strings as hg_ingest_audit(). */
#define HG_INGEST_AUDIT_WINDOW_MS 10000
#define HG_INGEST_AUDIT_MAX_ROWS  100
void hg_ingest_refusal(struct hg_ingest *ing, const char *event, const char *source,
		       const char *client, const char *reason);
/* The window and the cap of hg_ingest_refusal() (defaults above; <= 0
 * keeps the default). Call before the first refusal. */
void hg_ingest_set_audit_policy(struct hg_ingest *ing, int64_t window_ms, int64_t max_rows);
/* Refusals since start, for /metrics: fn(source ("" for none), event, n)
 * for each pair seen, in first-seen order. */
void hg_ingest_refusal_totals(struct hg_ingest *ing,
			      void (*fn)(const char *source, const char *event, uint64_t n,
					 void *arg),
			      void *arg);
/* What this process's writer wrote to the audit log since start. */
struct hg_ingest_audit_counts {
	uint64_t rows;         /* audit rows committed, of every kind */
	uint64_t refusal_rows; /* of which refusal sums (itemised or suppressed) */
	uint64_t suppressed;   /* refusals summed into audit_suppressed rows */
};
void hg_ingest_audit_counts(struct hg_ingest *ing, struct hg_ingest_audit_counts *out);

/* Dedupe keys of one request per the source's rules: each configured header,
 * form field (every value of it, and only in a body whose Content-Type is
 * application/x-www-form-urlencoded) or JSON path adds the values it
 * selects, prefixed by the rule ("$.id=...", "form:MessageSid=...") so
 * different rules never collide; when the rules select nothing (or there
 * are none), the single key is "sha256:<hex of body>". On success *keys is a
 * malloc'd array of malloc'd strings; free with hg_ingest_keys_free().
 * HG_ETOOBIG (nothing returned) when the rules select more than the
 * source's max_dedupe_keys (0: no limit): extraction stops there. */
int hg_ingest_dedupe_keys(const struct hg_source *src, const uint8_t *body, size_t len,
			  const char *(*header)(void *ctx, const char *name, size_t *len),
			  void *ctx, char ***keys, size_t *n);
/* The same on a body view: its JSON tree is parsed at most once for the
 * whole request (jsonpath.h), and used here when already made. */
int hg_ingest_dedupe_keys_of(const struct hg_source *src, struct hg_json_body *body,
			     const char *(*header)(void *ctx, const char *name, size_t *len),
			     void *ctx, char ***keys, size_t *n);
void hg_ingest_keys_free(char **keys, size_t n);

/* ---- rate limits (ratelimit.c) ----
 * In memory, per process: a sliding-window approximation per (source, key)
 * — the current fixed window's count plus the previous window's count
 * weighted by how much of it still overlaps the last per_ms — which, unlike
 * a plain fixed window, admits no burst of 2x the limit across a window
 * edge. Sharded mutexes; bounded memory (expired windows are evicted, and
 * each source keeps at most max_keys keys, least recently seen evicted
 * first). Several nodes on one PostgreSQL store share their counts
 * through it (hg_ratelimit_share; the decision stays in memory). */
#define HG_RATELIMIT_MAX_KEYS 100000

int hg_ratelimit_new(size_t max_keys_per_source, struct hg_ratelimit **out);
void hg_ratelimit_free(struct hg_ratelimit *rl);
/* Counts one hit of key at now_ms against limit per per_ms. Returns 1 when
 * it is allowed (and counted), else 0 with *retry_after_s >= 1: the whole
 * seconds until a hit would be allowed again. Fails open (1) when out of
 * memory. Thread-safe. */
int hg_ratelimit_hit(struct hg_ratelimit *rl, const char *source, const char *key, int64_t limit,
		     int64_t per_ms, int64_t now_ms, int64_t *retry_after_s);
/* hg_ratelimit_hit() that also says what is left, for RateLimit-* headers:
 * *remaining the hits still allowed now (0 when denied), *reset_s the whole
 * seconds until the count next falls (the end of the current window when
 * allowed, *retry_after_s when denied). */
int hg_ratelimit_hit_info(struct hg_ratelimit *rl, const char *source, const char *key,
			  int64_t limit, int64_t per_ms, int64_t now_ms, int64_t *retry_after_s,
			  int64_t *remaining, int64_t *reset_s);
/* The n keys of source with the most hits in the last per_ms at now_ms
 * (this node's and, when shared, the others'), most first: fn gets each
 * key as counted (a keyed hash when encryption is on), its hits and
 * whether it is refused now (hits >= limit). Returns how many. For the
 * operator's view (GET /api/v1/sources); takes each shard's lock briefly. */
int hg_ratelimit_top(struct hg_ratelimit *rl, const char *source, int64_t limit, int64_t per_ms,
		     int64_t now_ms, size_t n,
		     void (*fn)(const char *key, double hits, int blocked, void *arg), void *arg);
/* Shares the counts with every node on the store store_uri names, when it
 * can (PostgreSQL; see ratelimit.c for how exact that is): a thread pushes
 * and reads them every 200 ms on a store handle of its own. With SQLite it
 * does nothing and returns HG_OK. Call once, before the first hit. HG_OK,
 * or HG_EIO/HG_ENOMEM with err filled (the store cannot be opened). */
int hg_ratelimit_share(struct hg_ratelimit *rl, const char *store_uri, char *err, size_t errlen);
/* One push and read of the shared counts now (the thread does this on its
 * own; for tests). HG_OK (also when nothing is shared) or HG_EIO. */
int hg_ratelimit_sync(struct hg_ratelimit *rl);
/* Keys held for source now (for tests and metrics); at most
 * max_keys_per_source rounded up to a multiple of 16 (the shard count). */
size_t hg_ratelimit_keys(struct hg_ratelimit *rl, const char *source);
/* The key a request is limited by under rule: client (the client address)
 * for "ip", the header's value for "header:NAME", the first non-empty value
 * of the field for "form:NAME" (only in a body whose Content-Type is
 * application/x-www-form-urlencoded), the first non-empty value the JSON
 * path selects in body for "$...". *key is a malloc'd string, or
 * NULL when the rule selects nothing (the request is not limited). HG_OK or
 * HG_ENOMEM. */
int hg_ratelimit_key(const struct hg_rate_limit *rule, const char *client, const uint8_t *body,
		     size_t len, const char *(*header)(void *ctx, const char *name, size_t *len),
		     void *ctx, char **key);
/* The same on a body view whose JSON tree is parsed at most once. */
int hg_ratelimit_key_of(const struct hg_rate_limit *rule, const char *client,
			struct hg_json_body *body,
			const char *(*header)(void *ctx, const char *name, size_t *len), void *ctx,
			char **key);

/* ---- the inbound HTTP handlers (inbound.c) ---- */
struct hg_config;
struct hg_http_req;

struct hg_stats;

struct hg_inbound {
	struct hg_config_live *live; /* each request works on the snapshot current at its start */
	struct hg_ingest *ingest;
	struct hg_stats *stats; /* counts each source's outcomes; may be NULL */
};

/* /in/{source}: GET handshake, POST verify -> dedupe -> store -> answer.
 * arg is a struct hg_inbound that outlives the server. */
void hg_inbound_handle(struct hg_http_req *req, void *arg);
/* /healthz (the process answers) and /readyz (the store accepts writes). */
void hg_inbound_healthz(struct hg_http_req *req, void *arg);
void hg_inbound_readyz(struct hg_http_req *req, void *arg);

#endif
