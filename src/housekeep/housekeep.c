/*
 * housekeep.c — the housekeeping thread (housekeep.h states the contract),
 * with its own store connection: it writes the in-memory stats to
 * stats_hourly about once a second (one small transaction, and none when
 * nothing happened), and it enforces `retention` (the top-level one and
 * each source's own) and `audit_retention` every HK_PURGE_EVERY_MS.
 *
 * Retention deletes in batches of HG_HOUSEKEEP_PURGE_BATCH messages, one
 * transaction each, pausing HK_PURGE_PAUSE_MS between them: each batch
 * holds SQLite's write lock for a few milliseconds only, so the ingest
 * writer's commits (and so the providers' acknowledgements) are never held
 * up for long, however much there is to delete. The audit log's rows go
 * the same way, HG_HOUSEKEEP_AUDIT_PURGE_BATCH at a time, each batch behind
 * a checkpoint row that keeps the chain verifiable (store.h,
 * hg_store_audit_purge).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <pthread.h>

#include "alerts/alerts.h"
#include "config/config.h"
#include "housekeep/housekeep.h"
#include "media/media.h"
#include "stats/stats.h"
#include "store/store.h"

#define HK_FLUSH_EVERY_MS 1000
#define HK_PURGE_EVERY_MS (60 * 1000)
#define HK_PURGE_PAUSE_MS 20

struct hg_housekeep {
	char *store_uri;
	struct hg_config_live *live;
	struct hg_stats *stats;
	struct hg_alerts *alerts;
	int (*store_ok)(void *arg);
	void *store_ok_arg;
	struct hg_store *st;
	pthread_t tid;
	pthread_mutex_t mu;
	pthread_cond_t cv; /* monotonic clock: stop wakes it */
	atomic_int stop;   /* also read by the purges between batches */
};

static void sleep_ms(long ms)
{
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

int hg_housekeep_purge(struct hg_store *st, const struct hg_store_purge_scope *scope,
		       int64_t before_ms, const atomic_int *stop, struct hg_store_purged *out)
{
	int more = 1, rc = HG_OK;

	while (more && rc == HG_OK && (stop == NULL || !atomic_load(stop))) {
		rc = hg_store_purge_scoped(st, scope, before_ms, HG_HOUSEKEEP_PURGE_BATCH, out,
					   &more);
		if (more && rc == HG_OK)
			sleep_ms(HK_PURGE_PAUSE_MS);
	}
	return rc;
}

int hg_housekeep_purge_config(struct hg_store *st, const struct hg_config *cfg, int64_t now_ms,
			      const atomic_int *stop, struct hg_store_purged *out)
{
	const char **own = calloc(cfg->n_sources + 1, sizeof(*own));
	struct hg_store_purge_scope scope = {.sources = own};
	int64_t keep;
	size_t i;
	int rc = HG_OK;

	if (own == NULL)
		return HG_ENOMEM;
	/* media files first: a message purged below takes its media rows along */
	rc = hg_media_purge(st, cfg, now_ms, -1, stop, &out->media_files);
	for (i = 0; i < cfg->n_sources && rc == HG_OK; i++) {
		if (cfg->sources[i].retention_ms < 0)
			continue; /* the top-level retention applies */
		own[scope.n] = cfg->sources[i].name;
		keep = cfg->sources[i].retention_ms;
		if (keep > 0) { /* 0: kept forever */
			struct hg_store_purge_scope one = {.sources = &own[scope.n], .n = 1};
			rc = hg_housekeep_purge(st, &one, now_ms - keep, stop, out);
		}
		scope.n++;
	}
	scope.except = 1; /* the rest, outbound events and unconfigured sources too */
	if (rc == HG_OK && cfg->retention_ms > 0)
		rc = hg_housekeep_purge(st, &scope, now_ms - cfg->retention_ms, stop, out);
	free(own);
	return rc;
}

int hg_housekeep_retention_set(const struct hg_config *cfg)
{
	size_t i;

	for (i = 0; i < cfg->n_sources; i++)
		if (cfg->sources[i].retention_ms > 0 ||
		    (cfg->sources[i].media != NULL && cfg->sources[i].media->ttl_ms > 0))
			return 1;
	return cfg->retention_ms > 0;
}

int hg_housekeep_audit_purge(struct hg_store *st, int64_t before_ms, const atomic_int *stop,
			     int64_t *removed)
{
	int more = 1, rc = HG_OK;

	while (more && rc == HG_OK && (stop == NULL || !atomic_load(stop))) {
		rc = hg_store_audit_purge(st, before_ms, HG_HOUSEKEEP_AUDIT_PURGE_BATCH,
					  hg_now_ms(), removed, &more);
		if (more && rc == HG_OK)
			sleep_ms(HK_PURGE_PAUSE_MS);
	}
	return rc;
}

/* Writes what the stats counted since the last flush; on failure it stays
 * in memory for the next one. */
static void flush_stats(struct hg_housekeep *hk)
{
	const struct hg_stats_row *rows;
	size_t n = 0;

	if (hk->stats == NULL)
		return;
	if (hg_stats_take(hk->stats, &rows, &n) != HG_OK)
		hg_log(HG_LOG_WARN, "stats: out of memory; some counts wait for the next flush",
		       NULL);
	if (n == 0)
		return;
	if (hk->st == NULL)
		hg_store_heal(&hk->st, hk->store_uri, "housekeeping");
	if (hk->st != NULL && hg_store_stats_add(hk->st, rows, n) == HG_OK) {
		hg_stats_taken(hk->stats);
		return;
	}
	hg_store_heal(&hk->st, hk->store_uri, "housekeeping");
}

static void purge_old(struct hg_housekeep *hk, const struct hg_config *cfg)
{
	struct hg_store_purged got = {0};
	int rc;

	if (hk->st == NULL)
		hg_store_heal(&hk->st, hk->store_uri, "housekeeping");
	if (hk->st == NULL)
		return;
	rc = hg_housekeep_purge_config(hk->st, cfg, hg_now_ms(), &hk->stop, &got);
	if (got.messages > 0 || got.stats_hours > 0 || got.media_files > 0)
		hg_log(HG_LOG_INFO, "retention purge", "media_files", HG_LI(got.media_files),
		       "messages", HG_LI(got.messages), "deliveries", HG_LI(got.deliveries),
		       "attempts", HG_LI(got.attempts), "dedupe_keys", HG_LI(got.dedupe_keys),
		       "stats_hours", HG_LI(got.stats_hours), NULL);
	if (rc != HG_OK)
		hg_store_heal(&hk->st, hk->store_uri, "housekeeping");
}

/* audit_retention: the oldest audit rows go, behind a checkpoint row. */
static void purge_old_audit(struct hg_housekeep *hk, const struct hg_config *cfg)
{
	int64_t removed = 0;
	int rc;

	if (hk->st == NULL)
		hg_store_heal(&hk->st, hk->store_uri, "housekeeping");
	if (hk->st == NULL)
		return;
	rc = hg_housekeep_audit_purge(hk->st, hg_now_ms() - cfg->audit_retention_ms, &hk->stop,
				      &removed);
	if (removed > 0)
		hg_log(HG_LOG_INFO, "audit retention purge", "rows", HG_LI(removed), NULL);
	if (rc != HG_OK)
		hg_store_heal(&hk->st, hk->store_uri, "housekeeping");
}

/* One evaluation of the alert rules (src/alerts). */
static void alerts_round(struct hg_housekeep *hk, const struct hg_config *cfg)
{
	if (hk->alerts == NULL)
		return;
	hg_store_heal(&hk->st, hk->store_uri, "housekeeping");
	/* without a store too: the store rule is judged here all the same */
	hg_alerts_tick(hk->alerts, hk->st, cfg, hg_now_ms(),
		       hk->st != NULL && (hk->store_ok == NULL || hk->store_ok(hk->store_ok_arg)));
}

static void *housekeep_main(void *arg)
{
	struct hg_housekeep *hk = arg;
	struct timespec deadline;
	int64_t next_purge = hg_now_ms(); /* a restart after a long stop purges at once */
	int64_t next_alerts = 0;

	/* a first round before anything is counted: the alert windows start
	 * from what the store held when this node started */
	struct hg_config *first = hg_config_get(hk->live, NULL);
	alerts_round(hk, first);
	hg_config_put(first);
	next_alerts = hg_now_ms() + HG_ALERTS_EVERY_MS;
	pthread_mutex_lock(&hk->mu);
	while (!atomic_load(&hk->stop)) {
		hg_mono_deadline(&deadline, HK_FLUSH_EVERY_MS);
		while (!atomic_load(&hk->stop) &&
		       pthread_cond_timedwait(&hk->cv, &hk->mu, &deadline) != ETIMEDOUT)
			;
		pthread_mutex_unlock(&hk->mu);
		flush_stats(hk);
		/* retention as the current snapshot says */
		struct hg_config *cfg = hg_config_get(hk->live, NULL);
		if (hg_now_ms() >= next_alerts && !atomic_load(&hk->stop)) {
			alerts_round(hk, cfg);
			next_alerts = hg_now_ms() + HG_ALERTS_EVERY_MS;
		}
		int retention = hg_housekeep_retention_set(cfg);
		if ((retention || cfg->audit_retention_ms > 0) && !atomic_load(&hk->stop) &&
		    hg_now_ms() >= next_purge) {
			if (retention)
				purge_old(hk, cfg);
			if (cfg->audit_retention_ms > 0 && !atomic_load(&hk->stop))
				purge_old_audit(hk, cfg);
			next_purge = hg_now_ms() + HK_PURGE_EVERY_MS;
		}
		hg_config_put(cfg);
		pthread_mutex_lock(&hk->mu);
	}
	pthread_mutex_unlock(&hk->mu);
	flush_stats(hk); /* what was counted up to the stop */
	return NULL;
}

static void hk_free(struct hg_housekeep *hk)
{
	hg_store_close(hk->st);
	pthread_cond_destroy(&hk->cv);
	pthread_mutex_destroy(&hk->mu);
	free(hk->store_uri);
	free(hk);
}

int hg_housekeep_start(const struct hg_housekeep_opts *opts, struct hg_housekeep **out, char *err,
		       size_t errlen)
{
	struct hg_housekeep *hk = calloc(1, sizeof(*hk));
	pthread_condattr_t ca;
	int rc;

	*out = NULL;
	if (hk == NULL || (hk->store_uri = strdup(opts->store_uri)) == NULL) {
		free(hk);
		snprintf(err, errlen, "Out of memory while starting housekeeping.");
		return HG_ENOMEM;
	}
	hk->live = opts->live;
	hk->stats = opts->stats;
	hk->alerts = opts->alerts;
	hk->store_ok = opts->store_ok;
	hk->store_ok_arg = opts->store_ok_arg;
	pthread_mutex_init(&hk->mu, NULL);
	/* Waits on the monotonic clock so a wall-clock jump neither stalls nor
	 * spins the flusher. */
	rc = pthread_condattr_init(&ca);
	if (rc == 0) {
		rc = pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
		if (rc == 0)
			rc = pthread_cond_init(&hk->cv, &ca);
		pthread_condattr_destroy(&ca);
	}
	if (rc != 0) {
		snprintf(err, errlen,
			 "Cannot create the housekeeping thread's condition variable.");
		pthread_mutex_destroy(&hk->mu);
		free(hk->store_uri);
		free(hk);
		return HG_EIO;
	}
	rc = hg_store_open(hk->store_uri, &hk->st, err, errlen);
	if (rc != HG_OK) {
		hk_free(hk);
		return rc;
	}
	rc = pthread_create(&hk->tid, NULL, housekeep_main, hk);
	if (rc != 0) {
		snprintf(err, errlen, "Cannot start the housekeeping thread: %s.", strerror(rc));
		hk_free(hk);
		return HG_EIO;
	}
	*out = hk;
	return HG_OK;
}

void hg_housekeep_stop(struct hg_housekeep *hk)
{
	if (hk == NULL)
		return;
	pthread_mutex_lock(&hk->mu);
	atomic_store(&hk->stop, 1);
	pthread_cond_signal(&hk->cv);
	pthread_mutex_unlock(&hk->mu);
	pthread_join(hk->tid, NULL);
	hk_free(hk);
}
