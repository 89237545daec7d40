/*
 * deliver.h — the delivery engine: every accepted message goes to the
 * endpoints its source's routes select, as deliveries, each made of
 * attempts, until one succeeds or none are left (the dead-letter queue).
 *
 * Routing (routes.c) runs where a message is accepted, so its deliveries
 * are stored in the message's own transaction. The engine (engine.c) is
 * one thread with its own store handle: it claims due deliveries in
 * batches as leases (store.h), makes the attempts with a libcurl multi
 * handle (http endpoints) or child processes in the same poll loop (exec
 * endpoints), bounded per endpoint and in total, and records the outcomes
 * in batches. A delivery whose owner died is claimed again when its lease
 * expires, so delivery is at least once: receivers dedupe on
 * X-Hookgate-Message-Id (or webhook-id).
 *
 * Ownership: the engine borrows the config given to hg_deliver_start()
 * until hg_deliver_stop() returns.
 */
#ifndef HG_DELIVER_H
#define HG_DELIVER_H

#include <stddef.h>
#include <stdint.h>

#include "store/store.h"

struct hg_config;
struct hg_retry;
struct hg_source;
struct hg_deliver;

/* ---- routing (routes.c) ---- */

/* The deliveries a message of src should get: one target per distinct
 * endpoint its routes select for body, in route order, each due when the
 * endpoint's retry policy says its first attempt is (received_ms plus the
 * first wait). A filtered route looks at the body as JSON; a body that is
 * not JSON selects nothing, so "==" filters fail on it and "!=" filters
 * hold. out has room for src->n_routes targets; their endpoint names
 * belong to the config. The body is parsed at most once, and only when a
 * route has a filter; a body jansson cannot parse, for whatever reason,
 * counts as not JSON. Returns HG_OK. */
int hg_deliver_route(const struct hg_source *src, const uint8_t *body, size_t len,
		     int64_t received_ms, struct hg_store_target *out, size_t *n);

/* ---- retry arithmetic (schedule.c) ---- */

/* The wait before attempt n + 1 of a delivery that has had n attempts
 * (n = 0: the first attempt, counted from receipt; else counted from the
 * end of attempt n): schedule_ms[n], or 0 then base * factor^(n - 1) in the
 * exponential form; capped by max_delay_ms, then moved uniformly by up to
 * +-jitter of itself (a per-thread PRNG seeded from the CSPRNG) and capped
 * again, so it never exceeds max_delay_ms. -1 when there is no attempt
 * n + 1. */
int64_t hg_deliver_delay_ms(const struct hg_retry *r, size_t n);

/* A Retry-After value (RFC 9110): delay-seconds, or an HTTP date, which
 * gives its distance from now_ms (0 when it is past). Spaces around it are
 * ignored. HG_OK and *delay_ms, or HG_EINVAL. */
int hg_deliver_retry_after_ms(const char *text, size_t len, int64_t now_ms, int64_t *delay_ms);

/* ---- the engine (engine.c) ---- */

/* Opens the engine's own store handle on cfg->store and starts its thread,
 * which begins by claiming whatever is due (a previous run's backlog and,
 * once their leases expire, the deliveries it left in flight). err gets one
 * sentence on failure. */
int hg_deliver_start(const struct hg_config *cfg, struct hg_deliver **out, char *err,
		     size_t errlen);
/* Counts every recorded outcome (delivered, failed, dead) under its
 * message's source in stats from now on; NULL stops counting. stats must
 * outlive the engine. Thread-safe. */
struct hg_stats;
void hg_deliver_set_stats(struct hg_deliver *d, struct hg_stats *stats);
/* New deliveries may be due (the ingest writer committed some, or a replay
 * or retry was stored): claim now rather than at the next timer.
 * Thread-safe, never blocks; d may be NULL. */
void hg_deliver_wake(struct hg_deliver *d);
/* The same, shaped as a hook (arg is the engine), for hg_ingest_set_commit_hook(). */
void hg_deliver_wake_cb(void *arg);
/* Stops claiming, lets attempts in flight finish for up to
 * HG_DELIVER_STOP_GRACE_MS, records what finished, and stops the rest
 * (their leases expire and they are attempted again later); then closes
 * the store handle and frees d. */
void hg_deliver_stop(struct hg_deliver *d);

/* How long attempts in flight may finish at shutdown. */
#define HG_DELIVER_STOP_GRACE_MS 3000
/* A claim's lease is the endpoint's timeout plus this: room to record the
 * outcome (a store write may wait for the ingest writer's lock). */
#define HG_DELIVER_LEASE_MARGIN_MS 10000

#endif
