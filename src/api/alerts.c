/*
 * alerts.c — the operator's view of what is wrong and what comes in:
 * GET /api/v1/alerts (the alerts firing and those resolved in the last
 * day, with the rules' thresholds) and GET /api/v1/sources (each source's
 * counters of this hour and the keys its rate limit counts most).
 */
#include <jansson.h>
#include <string.h>

#include "alerts/alerts.h"
#include "api/api_internal.h"
#include "config/config.h"
#include "ingest/ingest.h"

#define TOP_KEYS 20 /* rate-limited keys shown per source */

static int add_alert(const struct hg_store_alert *s, void *arg)
{
	json_t *list = arg;

	return json_array_append_new(
		   list, json_pack("{s:s, s:s, s:s, s:f, s:f, s:o, s:o}", "rule", s->rule, "source",
				   s->source, "state", s->firing ? "firing" : "resolved", "value",
				   s->value, "threshold", s->threshold, "fired_at",
				   hg_api_time_json(s->fired_ms), "resolved_at",
				   s->resolved_ms > 0 ? hg_api_time_json(s->resolved_ms)
						      : json_null())) != 0;
}

static json_t *limit_json(const struct hg_alert_limit *l)
{
	return l->on ? json_pack("{s:I, s:I}", "limit", (json_int_t)l->limit, "per_ms",
				 (json_int_t)l->per_ms)
		     : json_string("off");
}

/* The thresholds in force, as the config gives them. */
static json_t *rules_json(const struct hg_alert_config *c)
{
	return json_pack(
	    "{s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:I, s:o}", "bad_signatures",
	    limit_json(&c->bad_signatures), "rate_limited", limit_json(&c->rate_limited), "dead",
	    limit_json(&c->dead), "volume",
	    c->volume_on ? json_pack("{s:f, s:I}", "factor", c->volume_factor, "baseline_ms",
				     (json_int_t)c->volume_baseline_ms)
			 : json_string("off"),
	    "duplicate_ratio", c->duplicate_on ? json_real(c->duplicate_ratio) : json_string("off"),
	    "error_ratio", c->error_on ? json_real(c->error_ratio) : json_string("off"),
	    "slow_ack_ms", c->slow_ack_on ? json_integer(c->slow_ack_ms) : json_string("off"),
	    "store", json_string(c->store_on ? "on" : "off"), "min_requests",
	    (json_int_t)c->min_requests, "endpoint",
	    c->endpoint != NULL ? json_string(c->endpoint) : json_null());
}

void hg_api_op_alerts(struct hg_api *api, struct hg_store *st, const struct api_job *j,
		      struct api_answer *a)
{
	json_t *list = json_array();
	int rc;

	(void)api;
	rc = list != NULL
		 ? hg_store_alert_list(st, hg_now_ms() - HG_ALERTS_RECENT_MS, add_alert, list)
		 : HG_ENOMEM;
	if (rc != HG_OK) {
		json_decref(list);
		hg_api_store_error(a, rc);
		return;
	}
	hg_api_answer_json(
	    a, 200, json_pack("{s:o, s:o}", "data", list, "rules", rules_json(&j->cfg->alerts)));
}

static void add_key(const char *key, double hits, int blocked, void *arg)
{
	json_array_append_new(
	    arg, json_pack("{s:s, s:f, s:b}", "key", key, "hits", hits, "blocked", blocked));
}

static json_t *source_json(struct hg_api *api, const struct hg_source *src,
			   const struct hg_stats_row *row, int64_t hour, int64_t now)
{
	const struct hg_rate_limit *rl = &src->rate_limit;
	json_t *keys = json_array(), *limit = json_null();

	if (rl->limit > 0 && keys != NULL) {
		if (api->ingest != NULL)
			hg_ratelimit_top(hg_ingest_ratelimit(api->ingest), src->name, rl->limit,
					 rl->per_ms, now, TOP_KEYS, add_key, keys);
		limit = json_pack("{s:s, s:I, s:I, s:O}", "key", rl->key, "limit",
				  (json_int_t)rl->limit, "per_ms", (json_int_t)rl->per_ms,
				  "top_keys", keys);
	}
	json_decref(keys);
	return json_pack("{s:s, s:s, s:o, s:o}", "name", src->name, "provider", src->provider,
			 "this_hour", hg_api_stats_json(row, hour), "rate_limit", limit);
}

void hg_api_op_sources(struct hg_api *api, struct hg_store *st, const struct api_job *j,
		       struct api_answer *a)
{
	const struct hg_config *cfg = j->cfg;
	int64_t now = hg_now_ms(), hour = hg_stats_hour_of(now);
	struct hg_stats_row row;
	json_t *list = json_array(), *one;
	size_t i;
	int rc = list != NULL ? HG_OK : HG_ENOMEM;

	for (i = 0; i < cfg->n_sources && rc == HG_OK; i++) {
		memset(&row, 0, sizeof(row));
		rc = hg_store_stats_read(st, cfg->sources[i].name, hour, &row, 1);
		one = rc == HG_OK ? source_json(api, &cfg->sources[i], &row, hour, now) : NULL;
		if (rc == HG_OK && (one == NULL || json_array_append_new(list, one) != 0))
			rc = HG_ENOMEM;
	}
	if (rc != HG_OK) {
		json_decref(list);
		hg_api_store_error(a, rc);
		return;
	}
	hg_api_answer_json(a, 200, json_pack("{s:o}", "data", list));
}
