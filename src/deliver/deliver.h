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

#include "config/config.h"
#include "store/store.h"
#include "util/util.h"

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
 * counts as not JSON. Header filters ask header(hctx, name, &len) for the
 * first value of a request header (name lower-case; NULL when absent);
 * header may be NULL (no headers). Returns HG_OK. */
/* ---- outbound: event types and who gets a published event (routes.c) ---- */

#define HG_DELIVER_EVENT_MAX 100 /* longest event type */

/* 1 when s is a well-formed event type: 1-100 bytes of lower-case letters,
 * digits, '_', '-', split by single dots ("clip.submitted"). */
int hg_deliver_event_name_ok(const char *s, size_t len);
/* For "prefix.*" (and "*"): sets *plen to the length of "prefix." (0) and
 * returns 1; 0 for anything else. */
int hg_deliver_event_wildcard(const char *pattern, size_t *plen);
/* 1 when pattern (an event type, "prefix.*" or "*") matches type. */
int hg_deliver_event_matches(const char *pattern, const char *type);

/* The targets of a published event: one per active subscription of the
 * owner (NULL: of every owner) with a pattern matching the event, named
 * "sub:<id>", due at now_ms plus retry's first wait. Free with
 * hg_deliver_fanout_free(). */
struct hg_deliver_fanout {
	const char *event;
	struct hg_store_target *targets; /* n; endpoint points into names */
	char (*names)[HG_STORE_NAME_MAX + 1];
	size_t n, cap;
	int oom;
};
struct hg_store;
int hg_deliver_fanout(struct hg_store *st, const char *owner, const char *event, int64_t now_ms,
		      const struct hg_retry *retry, struct hg_deliver_fanout *out);
void hg_deliver_fanout_free(struct hg_deliver_fanout *f);

/* ---- a published event as a message (event.c) ---- */

/* The body every receiver of an event gets, compact, keys in this order:
 * {"event":...,"timestamp":"2024-01-15T10:30:00.000Z","data":...}. The
 * same bytes are stored once and signed per delivery. Appends to out. */
struct json_t;
int hg_deliver_event_body(const char *event, int64_t ts_ms, const struct json_t *data,
			  struct hg_buf *out);

/* An event made into the message that carries it (store.h's outbound
 * shape): msg has a new id, source HG_STORE_OUTBOUND_SOURCE, headers
 * {"X-Webhook-Event": event}, the body above at now_ms, one dedupe key
 * (dedupe_key, copied; NULL: "id:<the message id>", never a duplicate) and
 * the given targets (borrowed: they must outlive msg's use). msg points
 * into ev, which must not move while msg is in use. HG_OK or HG_ENOMEM (ev
 * then holds nothing). Release with hg_deliver_event_free(). */
struct hg_deliver_event {
	struct hg_store_msg msg;
	struct hg_buf body;
	char *headers_json;
	char *key;
	const char *keys[1];
};
int hg_deliver_event_init(struct hg_deliver_event *ev, const char *event, int64_t now_ms,
			  const struct json_t *data, const char *dedupe_key,
			  const struct hg_store_target *targets, size_t n);
void hg_deliver_event_free(struct hg_deliver_event *ev);

/* A reload made cfg the current snapshot: the engine takes a reference
 * and, once the attempts in flight have finished (it claims nothing new
 * meanwhile; due deliveries wait in the store), rebuilds its endpoints from
 * cfg: new ones are claimed for, removed ones no longer (their queued
 * deliveries stay queued and are reported), changed ones are attempted as
 * cfg says. Any thread; d may be NULL. */
void hg_deliver_reload(struct hg_deliver *d, struct hg_config *cfg);

typedef const char *(*hg_deliver_header_fn)(void *ctx, const char *name, size_t *len);
int hg_deliver_route(const struct hg_source *src, const uint8_t *body, size_t len,
		     hg_deliver_header_fn header, void *hctx, int64_t received_ms,
		     struct hg_store_target *out, size_t *n);
/* The same on a body view whose JSON tree is parsed at most once for the
 * whole request (util/jsonpath.h). */
struct hg_json_body;
int hg_deliver_route_of(const struct hg_source *src, struct hg_json_body *body,
			hg_deliver_header_fn header, void *hctx, int64_t received_ms,
			struct hg_store_target *out, size_t *n);
/* A hg_deliver_header_fn over a stored message's headers: headers is the
 * jansson object of its headers_json (names compared in any case). */
const char *hg_deliver_stored_header(void *headers, const char *name, size_t *len);

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

/* ---- endpoint health and the circuit breaker (health.c) ----
 * Per configured endpoint, on this node: failures in a row, the last
 * success and failure, and with endpoints[].circuit {failures, cooldown}
 * a circuit: closed (attempts as usual); open after `failures` failed
 * attempts in a row (nothing of the endpoint is claimed until the
 * cooldown ends: pausing is not an attempt, so no delivery's attempt
 * count or retries change); then half-open (exactly one delivery is
 * claimed as a probe: success closes it, failure opens it for another
 * cooldown). A success at any time closes it. The engine publishes
 * hookgate.endpoint.circuit_open when it opens from closed and
 * hookgate.endpoint.circuit_closed when it closes (a failed probe in
 * between publishes nothing new), hookgate.delivery.dead and
 * hookgate.subscription.disabled (src/events/events.h). */
enum hg_circuit_state { HG_CIRCUIT_CLOSED = 0, HG_CIRCUIT_OPEN = 1, HG_CIRCUIT_HALF_OPEN = 2 };

/* "closed", "open", "half_open". */
const char *hg_deliver_circuit_name(enum hg_circuit_state s);

struct hg_deliver_health {
	enum hg_circuit_state state;
	int64_t open_until_ms;   /* wall clock; 0 unless open */
	int64_t opened_at_ms;    /* when it last opened from closed; 0: never */
	int64_t failures_in_row; /* failed attempts since the last success */
	int64_t last_success_ms; /* 0: none since the engine started */
	int64_t last_failure_ms; /* 0: none since the engine started */
	/* attempts recorded by this node's engine since it started, by outcome
	 * (kept across reloads, like the rest) */
	int64_t delivered, failed, dead;
};

/* A copy of the engine's health of endpoint (a configured name). HG_OK,
 * or HG_ENOTFOUND when the engine does not (yet) deliver to it: *out is
 * then all zeros (closed, no attempts). Any thread; d may be NULL. */
int hg_deliver_health(struct hg_deliver *d, const char *endpoint, struct hg_deliver_health *out);

/* At most this many hookgate.delivery.dead events a minute per node: a
 * storm of dead deliveries (an endpoint gone for a day) tells the operator
 * without becoming a storm of events; the rest are counted in a warn log
 * line, and the dead-letter queue (GET /api/v1/dlq) lists every one. */
#define HG_DELIVER_DEAD_EVENTS_PER_MIN 60

/* How long attempts in flight may finish at shutdown. */
#define HG_DELIVER_STOP_GRACE_MS 3000
/* A claim's lease is the endpoint's timeout plus this: room to record the
 * outcome (a store write may wait for the ingest writer's lock). */
#define HG_DELIVER_LEASE_MARGIN_MS 10000

/* ==== outbound subscriptions ====
 * What only subscribers' deliveries (DESIGN.md §4, the Clipper contract)
 * need: the SSRF guard (which addresses a subscriber URL may reach, checked
 * on the URL when a subscription is written and on every address at
 * connect time), the subscription secret, and the two signature formats
 * every delivery carries. The API handlers (create/patch checks, secrets)
 * and the engine (connect-time guard, signing) share these. */

/* ---- the SSRF guard (ssrf.c) ---- */

/* What subscriber URLs may reach: https only unless allow_http, and no
 * address in a blocked range unless one of allow[] (egress_allow) holds it.
 * The caller owns allow; it must outlive every use of the policy. */
struct hg_ssrf_policy {
	int allow_http;
	const struct hg_cidr *allow;
	size_t n_allow;
};

/* The blocked range holding addr, as a static name such as "loopback
 * 127.0.0.0/8", or NULL when outbound deliveries may reach it. family is
 * AF_INET (addr holds 4 bytes) or AF_INET6 (16 bytes); IPv6 forms that
 * carry an IPv4 address (::ffff:0:0/96, 64:ff9b::/96, 2002::/16) are judged
 * by that address. Any other family is blocked ("unsupported address
 * family"). Pure: no I/O, no allocation. */
const char *hg_ssrf_blocked_range(int family, const uint8_t *addr);

/* The policy's verdict on one address: NULL when it may be reached (a
 * public address, or one egress_allow admits), else the blocked range's
 * name as hg_ssrf_blocked_range() gives it. */
const char *hg_ssrf_addr_refused(const struct hg_ssrf_policy *p, int family, const uint8_t *addr);

/* Parses host as an IPv4 literal the way inet_aton() and URL parsers do:
 * one to four parts separated by dots, each decimal, octal (leading 0) or
 * hex (0x), the last part filling the remaining bytes ("127.1",
 * "2130706433", "0177.0.0.1", "0x7f000001"); one trailing dot is ignored.
 * Returns 1 and fills out[4] when host is such a literal, sets *canonical
 * to 1 when it was written as four plain decimal numbers; 0 when host is
 * not one (a name); -1 when it ends in a number but is no valid address
 * (URL parsers refuse such hosts, so must we). */
int hg_ssrf_ipv4_literal(const char *host, size_t len, uint8_t out[4], int *canonical);

/* Checks a subscriber URL before it is stored (create and patch): an
 * absolute http(s) URL (http only with allow_http), no user:password@, a
 * host that is a DNS name or an IP literal, and no literal (in any
 * spelling: decimal, octal, hex, short forms, IPv4-mapped IPv6) in a
 * blocked range unless egress_allow admits it. IPv4 literals must be
 * written as four decimal numbers: other spellings serve only to slip past
 * filters. "localhost" and names under ".localhost" count as 127.0.0.1.
 * Other names pass; the connect-time guard judges what they resolve to.
 * HG_OK, or HG_EINVAL with one sentence in err (for a 400). */
int hg_ssrf_check_url(const struct hg_ssrf_policy *p, const char *url, size_t len, char *err,
		      size_t errlen);

/* The connect-time guard of one transfer. The engine keeps one per easy
 * handle, zeroed with the policy set, and reads refused/addr/range after a
 * failed transfer: a refused address is an attempt error ("blocked
 * address") that retrying cannot fix. */
struct hg_ssrf_guard {
	const struct hg_ssrf_policy *policy;
	int refused;       /* set when an address was refused */
	char addr[64];     /* the last refused address, textual */
	const char *range; /* its range's name (static) */
};

/* ---- subscription secrets and signatures (outsign.c) ---- */

/* A secret: 64 lower-case hex characters from the CSPRNG (32 random
 * bytes). Both signature formats use these 64 ASCII characters as the HMAC
 * key, so one secret serves X-Webhook-Signature and Standard Webhooks. */
#define HG_OUTBOUND_SECRET_LEN 64
/* "whsec_" + base64 of the 64 characters (88 with padding). */
#define HG_OUTBOUND_WHSEC_LEN (6 + 88)

/* Fills out with a new secret and a NUL. HG_OK or HG_EIO (no randomness). */
int hg_outbound_secret_new(char out[HG_OUTBOUND_SECRET_LEN + 1]);
/* 1 when s (len bytes) has the shape of a secret, else 0. */
int hg_outbound_secret_valid(const char *s, size_t len);
/* The Standard Webhooks form of secret (64 characters): the key bytes are
 * the same, so `new Webhook(whsec).verify(...)` accepts our signatures. */
int hg_outbound_secret_whsec(const char *secret, char out[HG_OUTBOUND_WHSEC_LEN + 1]);

/* One delivery's signature headers over body, sent as
 *   X-Webhook-Signature: hex HMAC-SHA256(secret, body)
 *   webhook-id: msg_id, webhook-timestamp: ts,
 *   webhook-signature: v1,<base64 HMAC-SHA256(secret, msg_id "." ts "." body)>
 * During a secret's grace period old_secret is the previous one (else
 * NULL): webhook-signature then lists both signatures (new first), so a
 * subscriber still verifying with either secret accepts the delivery; the
 * hex header, which holds one value, carries the new secret's. */
struct hg_outbound_sig {
	char clipper[2 * 32 + 1];                 /* X-Webhook-Signature */
	char webhook_id[HG_UUID_LEN + 8];         /* webhook-id */
	char webhook_timestamp[24];               /* webhook-timestamp */
	char webhook_signature[2 * (3 + 44) + 2]; /* webhook-signature */
};
int hg_outbound_sign(const char *secret, const char *old_secret, const char *msg_id, int64_t ts_s,
		     const uint8_t *body, size_t len, struct hg_outbound_sig *out);

#endif
