/*
 * api.h — the management API (/api/v1/...: messages, deliveries, the
 * dead-letter queue, hourly stats), /metrics, and the housekeeping thread
 * that flushes the stats and enforces retention.
 *
 * Threads: the handlers run on the event loops and only check the token,
 * route and validate; every query is queued (hg_http_defer) to a small pool
 * of workers, each with its own store connection, which answer with
 * hg_http_pending_respond(). The housekeeping thread has a connection of
 * its own too, so a long purge never delays a query or an ingest commit.
 *
 * Auth: every /api request needs "Authorization: Bearer <token>" equal to
 * the configured admin token (compared in constant time); with no token
 * configured every /api request is refused. /metrics needs no token and
 * shows only aggregate numbers.
 */
#ifndef HG_API_H
#define HG_API_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "util/util.h"

struct hg_config;
struct hg_http_req;
struct hg_ingest;
struct hg_stats;
struct hg_store;
struct hg_api;

#define HG_API_WORKERS           2  /* query threads, each with its own store connection */
#define HG_API_DEFAULT_LIMIT     50 /* page size when ?limit= is absent */
#define HG_API_MAX_LIMIT         500
#define HG_API_MAX_HOURS         (24 * 31) /* ?hours= of /api/v1/stats at most */
#define HG_API_CURSOR_MAX        64        /* longest cursor accepted */
#define HG_API_PURGE_BATCH       500       /* messages purged per transaction */
#define HG_API_AUDIT_PURGE_BATCH 5000      /* audit rows removed per transaction */

struct hg_api_opts {
	const struct hg_config *cfg; /* the startup config: the admin token, the store */
	struct hg_config_live *live; /* jobs and housekeeping take the current snapshot */
	struct hg_stats *stats;      /* counted and flushed; may be NULL */
	struct hg_ingest *ingest;    /* audit log of refusals and changes; may be NULL */
	/* Called after deliveries were made due (retry, replay) so the delivery
	 * engine looks at once instead of at its next poll; may be NULL. */
	void (*wake)(void *arg);
	void *wake_arg;
};

/* Opens HG_API_WORKERS + 1 store connections and starts the workers and
 * the housekeeping thread. err gets one sentence on failure. */
int hg_api_start(const struct hg_api_opts *opts, struct hg_api **out, char *err, size_t errlen);
/* Answers everything queued, flushes the stats a last time, joins the
 * threads and closes the connections. Call after the HTTP server stopped. */
void hg_api_stop(struct hg_api *api);

/* Route "/api/" to this (arg: the struct hg_api). */
void hg_api_handle(struct hg_http_req *req, void *arg);
/* Route "/metrics" to this (arg: the struct hg_api): Prometheus text. */
void hg_api_metrics(struct hg_http_req *req, void *arg);
/* Outbound webhooks (seed 003's API, docs/outbound.md; outbound.c): route
 * "/api/v1/api-keys", "/api/v1/webhooks", "/api/v1/webhooks/" and
 * "/api/v1/events" to this (arg: the struct hg_api). Owners authenticate
 * with API keys; the admin token works too. */
void hg_api_outbound_handle(struct hg_http_req *req, void *arg);

/* ---- retention (also `hookgate purge`) ---- */
struct hg_store_purged;

/* Deletes the messages received before before_ms with their deliveries,
 * attempts and dedupe keys, HG_API_PURGE_BATCH messages per transaction
 * with a short pause between, so the ingest writer never waits long for
 * the write lock; the audit log is never touched. Stops early, with
 * HG_OK, when *stop becomes non-zero (stop may be NULL). Adds what it
 * removed to *out. HG_OK or HG_EIO. */
int hg_api_purge(struct hg_store *st, int64_t before_ms, const atomic_int *stop,
		 struct hg_store_purged *out);
/* audit_retention: removes the audit rows older than before_ms,
 * HG_API_AUDIT_PURGE_BATCH per transaction, each batch behind its own
 * checkpoint row (hg_store_audit_purge), pausing between them; stops early
 * as hg_api_purge does. Adds the rows removed to *removed. HG_OK or
 * HG_EIO. */
int hg_api_audit_purge(struct hg_store *st, int64_t before_ms, const atomic_int *stop,
		       int64_t *removed);

/* ---- pure helpers (unit-tested; the CLI shares them) ---- */

/* A message's or delivery's state by name: "none" (a message without
 * deliveries) is HG_STORE_NO_DELIVERIES, the others enum
 * hg_delivery_status (store.h). -1 for anything else. */
int hg_api_status_parse(const char *s);
/* The name of such a state ("none" for anything unknown). */
const char *hg_api_status_name(int status);

/* Finds the token of an Authorization header value "Bearer <token>" (the
 * scheme in any case, spaces around ignored). HG_OK and *tok, *toklen point
 * into hdr, or HG_EINVAL for anything else. */
int hg_api_bearer(const char *hdr, size_t len, const char **tok, size_t *toklen);
/* 1 when s[0, len) is a UUID in its 8-4-4-4-12 hex form. */
int hg_api_is_uuid(const char *s, size_t len);
/* Opaque pagination cursors: kind ('m' messages, 'd' deliveries) and the
 * last id of a page, written URL-safe. out needs HG_API_CURSOR_MAX + 1
 * bytes. Decoding checks the kind and the id: HG_OK or HG_EINVAL. */
int hg_api_cursor_encode(char kind, const char *id, char *out, size_t outlen);
int hg_api_cursor_decode(const char *cur, size_t len, char kind, char id[HG_UUID_LEN + 1]);
/* A time as ms since the epoch: digits (ms since the epoch) or ISO 8601
 * (2024-01-15, 2024-01-15T10:30:00Z, ...T10:30:00.250+02:00). HG_OK or
 * HG_EINVAL. */
int hg_api_parse_time(const char *s, int64_t *ms);

#endif
