/*
 * alerts.h — the built-in alert rules, evaluated every few seconds by the
 * housekeeping thread from the hourly statistics every node already writes
 * to the store (nothing new on the request path).
 *
 * Rules (thresholds from the config's `alerts:`, struct hg_alert_config):
 *   bad_signatures  per source: more than limit refusals for a bad
 *                   signature, a replay or a missing client certificate in
 *                   the last `per`
 *   rate_limited    per source: more than limit 429s in the last `per`
 *   dead            per source: more than limit deliveries gone dead in the
 *                   last `per`
 *   volume          per source: requests this hour above factor times the
 *                   mean of the same hour on the days of the baseline that
 *                   had traffic then (no such day yet: it cannot fire)
 *   duplicate_ratio per source: duplicates over requests in the last hour
 *   error_ratio     per source: failed and dead attempts over all delivery
 *                   outcomes in the last hour
 *   slow_ack        per source: the p95 acknowledgement time of the hour
 *   store           the store refuses writes (this node's ingest)
 *   circuit         per endpoint (its name in the source field): its
 *                   circuit is open or half-open on this node
 * The ratios and slow_ack judge an hour with at least min_requests events.
 *
 * An alert fires once when its condition starts and resolves once when it
 * has been false for a while (a minute, or the rule's window when shorter),
 * never once per request: its state lives in the store (store.h,
 * hg_store_alert_set), and only the node whose compare-and-set changes it
 * logs the change (warn), counts it and announces it on the event bus as
 * hookgate.alert.firing / hookgate.alert.resolved. With several nodes on
 * PostgreSQL an alert therefore fires once.
 *
 * Two things keep nodes from undoing each other's alerts. A node that has
 * not watched a whole window yet (it just started) can fire a windowed
 * rule but not resolve it. The store and circuit rules are judged by each
 * node alone: their alert stays while any node still finds the condition
 * (it refreshes the alert every REFRESH_MS) and resolves a minute after the
 * last one stopped. The store rule's log line and /metrics come from the
 * node itself, so they work while the store refuses writes; the stored
 * alert and its event follow once the store takes writes again.
 */
#ifndef HG_ALERTS_H
#define HG_ALERTS_H

#include <stdint.h>

#include "util/util.h"

struct hg_config;
struct hg_store;
struct hg_buf;

enum hg_alert_rule {
	HG_ALERT_BAD_SIGNATURES,
	HG_ALERT_RATE_LIMITED,
	HG_ALERT_DEAD,
	HG_ALERT_VOLUME,
	HG_ALERT_DUPLICATE_RATIO,
	HG_ALERT_ERROR_RATIO,
	HG_ALERT_SLOW_ACK,
	HG_ALERT_STORE,
	HG_ALERT_CIRCUIT,
	HG_ALERT_N
};

/* The rules' names, as the config, the API, /metrics and the events say them. */
extern const char *const hg_alert_rule_names[HG_ALERT_N];

#define HG_ALERTS_EVERY_MS  2000       /* how often the rules are evaluated */
#define HG_ALERTS_RECENT_MS 86400000LL /* resolved alerts the API still lists */

struct hg_alerts;

int hg_alerts_new(struct hg_alerts **out);
void hg_alerts_free(struct hg_alerts *al);
/* The delivery engine: woken after an alert was published on the event
 * bus, and asked for its endpoints' circuits. NULL before the engine
 * stops: returns once no round is using the old one. */
struct hg_deliver;
void hg_alerts_set_engine(struct hg_alerts *al, struct hg_deliver *d);

/* One round (one thread: housekeeping): evaluates every rule of cfg over
 * st's statistics at now_ms, changes the alert state where a condition
 * started or ended, and refreshes what hg_alerts_metrics() shows.
 * store_ok is 0 when this node's store refuses writes; st is NULL when it
 * cannot even be opened (only the store rule is judged then). */
void hg_alerts_tick(struct hg_alerts *al, struct hg_store *st, const struct hg_config *cfg,
		    int64_t now_ms, int store_ok);

/* /metrics: hookgate_alerts_firing{rule,source} (1 or 0, for every rule
 * and configured source as of the last round) and
 * hookgate_alerts_changes_total{rule,state} (the changes this node made).
 * Any thread. HG_OK or the buffer's error. */
int hg_alerts_metrics(struct hg_alerts *al, const struct hg_config *cfg, struct hg_buf *b);

/* What one evaluation of a windowed count sees: the count of the hour
 * that holds now and of the hour before, and a snapshot taken at or after
 * now - per (its time, its hour and that hour's count then). The count in
 * the window is what was added since the snapshot (a lower bound when the
 * snapshot is younger than the window). Exposed for the unit tests. */
struct hg_alert_window {
	int64_t now_ms;
	uint64_t cur, prev;   /* counts of the current and the previous hour */
	int64_t snap_hour_ms; /* the hour the snapshot counted in */
	uint64_t snap_count;  /* its count at the snapshot */
};
uint64_t hg_alert_window_count(const struct hg_alert_window *w);

#endif
