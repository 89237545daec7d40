/*
 * api.h — the management API (/api/v1/...: messages, deliveries, the
 * dead-letter queue, hourly stats) and /metrics (the stats they show are
 * flushed to the store by housekeeping, src/housekeep).
 *
 * Threads: the handlers run on the event loops and only check the token,
 * route and validate; every query is queued (hg_http_defer) to a small pool
 * of workers, each with its own store connection, which answer with
 * hg_http_pending_respond().
 *
 * Auth: every /api request needs "Authorization: Bearer <token>" equal to
 * the configured admin token (compared in constant time); with no token
 * configured every /api request is refused. A request without an
 * Authorization header may instead carry the web console's session cookie
 * (src/console): then every method but GET also needs the session's
 * X-CSRF-Token (403 without). /metrics needs no token and
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
struct hg_alerts;
struct hg_stats;
struct hg_store;
struct hg_api;

#define HG_API_WORKERS       2  /* query threads, each with its own store connection */
#define HG_API_DEFAULT_LIMIT 50 /* page size when ?limit= is absent */
#define HG_API_MAX_LIMIT     500
#define HG_API_MAX_HOURS     (24 * 31) /* ?hours= of /api/v1/stats at most */
#define HG_API_CURSOR_MAX    64        /* longest cursor accepted */

struct hg_api_opts {
	const struct hg_config *cfg; /* the startup config: the admin token, the store */
	struct hg_config_live *live; /* each job takes the current snapshot */
	struct hg_stats *stats;      /* counted and flushed; may be NULL */
	struct hg_ingest *ingest;    /* audit log of refusals and changes; may be NULL */
	struct hg_alerts *alerts;    /* what /metrics says of alerts; may be NULL */
	/* Called after deliveries were made due (retry, replay) so the delivery
	 * engine looks at once instead of at its next poll; may be NULL. */
	void (*wake)(void *arg);
	void *wake_arg;
	/* The delivery engine, for its endpoints' health (GET /api/v1/endpoints,
	 * /metrics); may be NULL (every circuit then shows closed). */
	struct hg_deliver *deliver;
	/* The web console, whose session cookie the API accepts in place of the
	 * Bearer token (with X-CSRF-Token for anything but GET); may be NULL. */
	struct hg_console *console;
};

/* Opens HG_API_WORKERS store connections and starts the workers. err gets
 * one sentence on failure. */
int hg_api_start(const struct hg_api_opts *opts, struct hg_api **out, char *err, size_t errlen);
/* Answers everything queued, joins the workers and closes their
 * connections. Call after the HTTP server stopped. */
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
/* Opaque pagination cursors: kind ('m' messages, 'd' deliveries,
 * HG_API_CURSOR_SEQ audit rows) and the last id of a page (for audit rows
 * its seq in decimal), written URL-safe. out needs HG_API_CURSOR_MAX + 1
 * bytes. Decoding checks the kind and the id: HG_OK or HG_EINVAL. */
#define HG_API_CURSOR_SEQ 'a'

int hg_api_cursor_encode(char kind, const char *id, char *out, size_t outlen);
int hg_api_cursor_decode(const char *cur, size_t len, char kind, char id[HG_UUID_LEN + 1]);
/* A time as ms since the epoch: digits (ms since the epoch) or ISO 8601
 * (2024-01-15, 2024-01-15T10:30:00Z, ...T10:30:00.250+02:00). HG_OK or
 * HG_EINVAL. */
int hg_api_parse_time(const char *s, int64_t *ms);

struct hg_store_audit_row;
struct json_t;
/* One audit row as GET /api/v1/audit and `hookgate audit list --json` show
 * it: {seq, time (ISO 8601), time_ms, event, source, client, reason, count,
 * hash}. NULL when out of memory. */
struct json_t *hg_api_audit_row_json(const struct hg_store_audit_row *r);

#endif
