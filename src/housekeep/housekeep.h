/*
 * housekeep.h — housekeeping: the background thread that writes the
 * in-memory stats to the store about once a second, evaluates the alert
 * rules (src/alerts) and enforces `retention` and `audit_retention`, and the purges themselves,
 * which `hookgate purge` runs once without a daemon.
 *
 * The thread has a store connection of its own, so a long purge never
 * delays a query or an ingest commit; it reads the retention settings from
 * the config snapshot current at each round, so a reload changes them.
 */
#ifndef HG_HOUSEKEEP_H
#define HG_HOUSEKEEP_H

#include <stdatomic.h>
#include <stdint.h>

#include "util/util.h"

struct hg_config;
struct hg_config_live;
struct hg_stats;
struct hg_store;
struct hg_store_purged;
struct hg_store_purge_scope;
struct hg_housekeep;

#define HG_HOUSEKEEP_PURGE_BATCH       500  /* messages purged per transaction */
#define HG_HOUSEKEEP_AUDIT_PURGE_BATCH 5000 /* audit rows removed per transaction */

struct hg_alerts;

struct hg_housekeep_opts {
	const char *store_uri;       /* copied */
	struct hg_config_live *live; /* retention settings, per round */
	struct hg_stats *stats;      /* flushed to the store; may be NULL */
	struct hg_alerts *alerts;    /* its rules evaluated every HG_ALERTS_EVERY_MS; may be NULL */
	/* 1 while this node's store takes writes (the store alert); may be NULL */
	int (*store_ok)(void *arg);
	void *store_ok_arg;
};

/* Opens a store connection and starts the thread. err gets one sentence on
 * failure. */
int hg_housekeep_start(const struct hg_housekeep_opts *opts, struct hg_housekeep **out, char *err,
		       size_t errlen);
/* Stops the thread (a purge in progress stops between two batches),
 * flushes the stats a last time and closes the connection. NULL is fine. */
void hg_housekeep_stop(struct hg_housekeep *hk);

/* Deletes the messages received before before_ms (of scope's sources;
 * scope NULL: every source) with their deliveries,
 * attempts and dedupe keys, HG_HOUSEKEEP_PURGE_BATCH messages per
 * transaction with a short pause between, so the ingest writer never waits
 * long for the write lock; the audit log is never touched. Stops early,
 * with HG_OK, when *stop becomes non-zero (stop may be NULL). Adds what it
 * removed to *out. HG_OK or HG_EIO. */
int hg_housekeep_purge(struct hg_store *st, const struct hg_store_purge_scope *scope,
		       int64_t before_ms, const atomic_int *stop, struct hg_store_purged *out);
/* Retention as cfg says, at now_ms: each source with a retention of its own
 * is purged under its own cutoff (one with 0 never), then every other
 * source (outbound events and sources no longer configured too) under the
 * top-level retention, when it is set. Each purge as hg_housekeep_purge().
 * HG_OK, HG_ENOMEM or HG_EIO. */
int hg_housekeep_purge_config(struct hg_store *st, const struct hg_config *cfg, int64_t now_ms,
			      const atomic_int *stop, struct hg_store_purged *out);
/* 1 when cfg asks for any message retention (top-level or a source's). */
int hg_housekeep_retention_set(const struct hg_config *cfg);
/* audit_retention: removes the audit rows older than before_ms,
 * HG_HOUSEKEEP_AUDIT_PURGE_BATCH per transaction, each batch behind its own
 * checkpoint row (hg_store_audit_purge), pausing between them; stops early
 * as hg_housekeep_purge does. Adds the rows removed to *removed. HG_OK or
 * HG_EIO. */
int hg_housekeep_audit_purge(struct hg_store *st, int64_t before_ms, const atomic_int *stop,
			     int64_t *removed);

#endif
