/*
 * housekeep.c — the management side's background thread, with its own
 * store connection: it writes the in-memory stats to stats_hourly about
 * once a second (one small transaction, and none when nothing happened),
 * and it enforces `retention` and `audit_retention` every
 * HG_API_PURGE_EVERY_MS.
 *
 * Retention deletes in batches of HG_API_PURGE_BATCH messages, one
 * transaction each, pausing HG_API_PURGE_PAUSE_MS between them: each batch
 * holds SQLite's write lock for a few milliseconds only, so the ingest
 * writer's commits (and so the providers' acknowledgements) are never held
 * up for long, however much there is to delete. The audit log's rows go
 * the same way, HG_API_AUDIT_PURGE_BATCH at a time, each batch behind a
 * checkpoint row that keeps the chain verifiable (store.h,
 * hg_store_audit_purge).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api/api_internal.h"
#include "config/config.h"

#define HG_API_FLUSH_EVERY_MS 1000
#define HG_API_PURGE_EVERY_MS (60 * 1000)
#define HG_API_PURGE_PAUSE_MS 20

static void sleep_ms(long ms)
{
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

int hg_api_purge(struct hg_store *st, int64_t before_ms, const atomic_int *stop,
		 struct hg_store_purged *out)
{
	int more = 1, rc = HG_OK;

	while (more && rc == HG_OK && (stop == NULL || !atomic_load(stop))) {
		rc = hg_store_purge(st, before_ms, HG_API_PURGE_BATCH, out, &more);
		if (more && rc == HG_OK)
			sleep_ms(HG_API_PURGE_PAUSE_MS);
	}
	return rc;
}

int hg_api_audit_purge(struct hg_store *st, int64_t before_ms, const atomic_int *stop,
		       int64_t *removed)
{
	int more = 1, rc = HG_OK;

	while (more && rc == HG_OK && (stop == NULL || !atomic_load(stop))) {
		rc = hg_store_audit_purge(st, before_ms, HG_API_AUDIT_PURGE_BATCH, hg_now_ms(),
					  removed, &more);
		if (more && rc == HG_OK)
			sleep_ms(HG_API_PURGE_PAUSE_MS);
	}
	return rc;
}

/* Writes what the stats counted since the last flush; on failure it stays
 * in memory for the next one. */
static void flush_stats(struct hg_api *api)
{
	const struct hg_stats_row *rows;
	size_t n = 0;

	if (api->stats == NULL)
		return;
	if (hg_stats_take(api->stats, &rows, &n) != HG_OK)
		hg_log(HG_LOG_WARN, "stats: out of memory; some counts wait for the next flush",
		       NULL);
	if (n == 0)
		return;
	if (api->hk_st == NULL)
		hg_api_store_heal(&api->hk_st, api->store_uri);
	if (api->hk_st != NULL && hg_store_stats_add(api->hk_st, rows, n) == HG_OK) {
		hg_stats_taken(api->stats);
		return;
	}
	hg_api_store_heal(&api->hk_st, api->store_uri);
}

static void purge_old(struct hg_api *api, const struct hg_config *cfg)
{
	struct hg_store_purged got = {0};
	int64_t before = hg_now_ms() - cfg->retention_ms;
	int rc;

	if (api->hk_st == NULL)
		hg_api_store_heal(&api->hk_st, api->store_uri);
	if (api->hk_st == NULL)
		return;
	rc = hg_api_purge(api->hk_st, before, &api->hk_stop, &got);
	if (got.messages > 0 || got.stats_hours > 0)
		hg_log(HG_LOG_INFO, "retention purge", "messages", HG_LI(got.messages),
		       "deliveries", HG_LI(got.deliveries), "attempts", HG_LI(got.attempts),
		       "dedupe_keys", HG_LI(got.dedupe_keys), "stats_hours", HG_LI(got.stats_hours),
		       NULL);
	if (rc != HG_OK)
		hg_api_store_heal(&api->hk_st, api->store_uri);
}

/* audit_retention: the oldest audit rows go, behind a checkpoint row. */
static void purge_old_audit(struct hg_api *api, const struct hg_config *cfg)
{
	int64_t removed = 0;
	int rc;

	if (api->hk_st == NULL)
		hg_api_store_heal(&api->hk_st, api->store_uri);
	if (api->hk_st == NULL)
		return;
	rc = hg_api_audit_purge(api->hk_st, hg_now_ms() - cfg->audit_retention_ms, &api->hk_stop,
				&removed);
	if (removed > 0)
		hg_log(HG_LOG_INFO, "audit retention purge", "rows", HG_LI(removed), NULL);
	if (rc != HG_OK)
		hg_api_store_heal(&api->hk_st, api->store_uri);
}

static void *housekeep_main(void *arg)
{
	struct hg_api *api = arg;
	struct timespec deadline;
	int64_t next_purge = hg_now_ms(); /* a restart after a long stop purges at once */

	pthread_mutex_lock(&api->mu);
	while (!atomic_load(&api->hk_stop)) {
		hg_mono_deadline(&deadline, HG_API_FLUSH_EVERY_MS);
		while (!atomic_load(&api->hk_stop) &&
		       pthread_cond_timedwait(&api->hk_cv, &api->mu, &deadline) != ETIMEDOUT)
			;
		pthread_mutex_unlock(&api->mu);
		flush_stats(api);
		/* retention as the current snapshot says */
		struct hg_config *cfg = hg_config_get(api->live, NULL);
		if ((cfg->retention_ms > 0 || cfg->audit_retention_ms > 0) &&
		    !atomic_load(&api->hk_stop) && hg_now_ms() >= next_purge) {
			if (cfg->retention_ms > 0)
				purge_old(api, cfg);
			if (cfg->audit_retention_ms > 0 && !atomic_load(&api->hk_stop))
				purge_old_audit(api, cfg);
			next_purge = hg_now_ms() + HG_API_PURGE_EVERY_MS;
		}
		hg_config_put(cfg);
		pthread_mutex_lock(&api->mu);
	}
	pthread_mutex_unlock(&api->mu);
	flush_stats(api); /* what was counted up to the stop */
	return NULL;
}

int hg_api_housekeep_start(struct hg_api *api, char *err, size_t errlen)
{
	pthread_condattr_t ca;
	int rc;

	/* Waits on the monotonic clock so a wall-clock jump neither stalls nor
	 * spins the flusher. */
	if (pthread_condattr_init(&ca) != 0) {
		snprintf(err, errlen,
			 "Cannot create the housekeeping thread's condition variable.");
		return HG_EIO;
	}
	rc = pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	if (rc == 0)
		rc = pthread_cond_init(&api->hk_cv, &ca);
	pthread_condattr_destroy(&ca);
	if (rc != 0) {
		snprintf(err, errlen,
			 "Cannot create the housekeeping thread's condition variable.");
		return HG_EIO;
	}
	rc = hg_store_open(api->store_uri, &api->hk_st, err, errlen);
	if (rc != HG_OK)
		goto fail;
	rc = pthread_create(&api->hk_tid, NULL, housekeep_main, api);
	if (rc != 0) {
		snprintf(err, errlen, "Cannot start the housekeeping thread: %s.", strerror(rc));
		rc = HG_EIO;
		goto fail;
	}
	api->hk_started = 1;
	return HG_OK;
fail:
	hg_store_close(api->hk_st);
	api->hk_st = NULL;
	pthread_cond_destroy(&api->hk_cv);
	return rc;
}

void hg_api_housekeep_stop(struct hg_api *api)
{
	if (!api->hk_started)
		return;
	pthread_mutex_lock(&api->mu);
	atomic_store(&api->hk_stop, 1);
	pthread_cond_signal(&api->hk_cv);
	pthread_mutex_unlock(&api->mu);
	pthread_join(api->hk_tid, NULL);
	api->hk_started = 0;
	hg_store_close(api->hk_st);
	api->hk_st = NULL;
	pthread_cond_destroy(&api->hk_cv);
}
