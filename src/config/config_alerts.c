/*
 * config_alerts.c — the `alerts:` section: the thresholds of the built-in
 * alert rules (src/alerts/alerts.h says what each rule watches) and where
 * alerts are delivered besides the operator's subscriptions.
 *
 *   alerts:
 *     bad_signatures: {limit: 5, per: 1h}   # more than limit per window, per source
 *     rate_limited: {limit: 0, per: 1h}
 *     dead: {limit: 0, per: 1h}
 *     volume: {factor: 3, baseline: 7d}     # this hour vs the same hour's mean
 *     duplicate_ratio: 0.10
 *     error_ratio: 0.05
 *     slow_ack: 1500ms                       # ack p95 in the hour
 *     store: on                              # the store refuses writes
 *     circuit: on                            # an endpoint's circuit is open
 *     min_requests: 20                       # the ratios and slow_ack need this many
 *     endpoint: ops-alerts
 *
 * Every rule is on with these defaults when the section is absent; `off`
 * turns one off.
 */
#include <stdlib.h>
#include <string.h>

#include "config/config_internal.h"

#define CFG_HOUR_MS_ 3600000LL

static const char *const cfg_alert_keys[] = {
    "bad_signatures", "rate_limited", "dead",         "volume",   "duplicate_ratio", "error_ratio",
    "slow_ack",       "store",        "min_requests", "endpoint", "circuit",         NULL,
};
static const char *const cfg_limit_keys[] = {"limit", "per", NULL};
static const char *const cfg_volume_keys[] = {"factor", "baseline", NULL};

void cfg_alerts_default(struct hg_alert_config *a)
{
	memset(a, 0, sizeof(*a));
	a->bad_signatures = (struct hg_alert_limit){.on = 1, .limit = 5, .per_ms = CFG_HOUR_MS_};
	a->rate_limited = (struct hg_alert_limit){.on = 1, .limit = 0, .per_ms = CFG_HOUR_MS_};
	a->dead = (struct hg_alert_limit){.on = 1, .limit = 0, .per_ms = CFG_HOUR_MS_};
	a->volume_on = 1;
	a->volume_factor = 3;
	a->volume_baseline_ms = 7 * 24 * CFG_HOUR_MS_;
	a->duplicate_on = 1;
	a->duplicate_ratio = 0.10;
	a->error_on = 1;
	a->error_ratio = 0.05;
	a->slow_ack_on = 1;
	a->slow_ack_ms = 1500;
	a->store_on = 1;
	a->circuit_on = 1;
	a->min_requests = 20;
}

/* 1 when key of map is written `off` (or false); the rule is then off. */
static int cfg_off(struct cfg_ctx *c, const yaml_node_t *map, const char *key)
{
	const yaml_node_t *v = cfg_get(c, map, key);
	const char *s;

	if (!v || v->type != YAML_SCALAR_NODE)
		return 0;
	s = (const char *)v->data.scalar.value;
	return !strcmp(s, "off") || !strcmp(s, "false");
}

/* key: on or off (a rule without a threshold). */
static int cfg_on_off(struct cfg_ctx *c, const yaml_node_t *map, const char *key, int *out)
{
	if (cfg_off(c, map, key)) {
		*out = 0;
		return HG_OK;
	}
	return cfg_choice(c, map, key, (const char *const[]){"off", "on", NULL}, out);
}

/* {limit: N, per: DURATION} (per at most an hour), or off. */
static int cfg_alert_limit(struct cfg_ctx *c, const yaml_node_t *map, const char *key,
			   struct hg_alert_limit *out)
{
	const yaml_node_t *m;
	char where[64];
	int rc;

	if (cfg_off(c, map, key)) {
		out->on = 0;
		return HG_OK;
	}
	snprintf(where, sizeof(where), "alerts.%s", key);
	rc = cfg_mapping(c, map, key, cfg_limit_keys, where, "{limit: 5, per: 1h}, or off", &m);
	if (rc || !m)
		return rc;
	rc = cfg_number(c, m, "limit", CFG_INT, "a whole number from 0 to 1000000000", 0,
			1000000000, &out->limit);
	if (!rc)
		rc = cfg_number(c, m, "per", CFG_DURATION, "a duration from 1s to 1h such as 10m",
				1000, CFG_HOUR_MS_, &out->per_ms);
	return rc;
}

/* A ratio from 0 to 1 such as 0.1, or off. */
static int cfg_alert_ratio(struct cfg_ctx *c, const yaml_node_t *map, const char *key, int *on,
			   double *out)
{
	if (cfg_off(c, map, key)) {
		*on = 0;
		return HG_OK;
	}
	return cfg_real(c, map, key, "a ratio from 0 to 1 such as 0.1, or off", 0, 0, 1, out);
}

static int cfg_alert_volume(struct cfg_ctx *c, const yaml_node_t *map, struct hg_alert_config *a)
{
	const yaml_node_t *m;
	int rc;

	if (cfg_off(c, map, "volume")) {
		a->volume_on = 0;
		return HG_OK;
	}
	rc = cfg_mapping(c, map, "volume", cfg_volume_keys, "alerts.volume",
			 "{factor: 3, baseline: 7d}, or off", &m);
	if (rc || !m)
		return rc;
	rc = cfg_real(c, m, "factor", "a number above 1 such as 3", 0, 1.000001, 1000000,
		      &a->volume_factor);
	if (!rc)
		rc = cfg_number(c, m, "baseline", CFG_DURATION, "a whole number of days such as 7d",
				24 * CFG_HOUR_MS_, 90 * 24 * CFG_HOUR_MS_, &a->volume_baseline_ms);
	if (!rc && a->volume_baseline_ms % (24 * CFG_HOUR_MS_) != 0)
		return cfg_fail(c, cfg_line(m),
				"alerts.volume.baseline: expected a whole number of days such as "
				"7d (the same hour of each day is compared)");
	return rc;
}

int cfg_parse_alerts(struct cfg_ctx *c, const yaml_node_t *root, struct hg_config *cfg)
{
	struct hg_alert_config *a = &cfg->alerts;
	const yaml_node_t *m;
	int rc;

	cfg_alerts_default(a);
	rc = cfg_mapping(c, root, "alerts", cfg_alert_keys, "alerts",
			 "{bad_signatures: {limit: 5, per: 1h}}", &m);
	if (rc || !m)
		return rc;
	if ((rc = cfg_alert_limit(c, m, "bad_signatures", &a->bad_signatures)) ||
	    (rc = cfg_alert_limit(c, m, "rate_limited", &a->rate_limited)) ||
	    (rc = cfg_alert_limit(c, m, "dead", &a->dead)) || (rc = cfg_alert_volume(c, m, a)) ||
	    (rc =
		 cfg_alert_ratio(c, m, "duplicate_ratio", &a->duplicate_on, &a->duplicate_ratio)) ||
	    (rc = cfg_alert_ratio(c, m, "error_ratio", &a->error_on, &a->error_ratio)))
		return rc;
	if (cfg_off(c, m, "slow_ack"))
		a->slow_ack_on = 0;
	else if ((rc = cfg_number(c, m, "slow_ack", CFG_DURATION,
				  "a duration such as 1500ms, or off", 1, CFG_HOUR_MS_,
				  &a->slow_ack_ms)))
		return rc;
	if ((rc = cfg_on_off(c, m, "store", &a->store_on)) ||
	    (rc = cfg_on_off(c, m, "circuit", &a->circuit_on)))
		return rc;
	rc = cfg_number(c, m, "min_requests", CFG_INT, "a whole number from 1 to 1000000", 1,
			1000000, &a->min_requests);
	if (rc)
		return rc;
	return cfg_text(c, m, "endpoint", "the name of one of the config's endpoints", cfg_name_ok,
			&a->endpoint);
}

/* After the endpoints are read: alerts.endpoint must name one of them. */
int cfg_check_alerts(struct cfg_ctx *c, const yaml_node_t *root, struct hg_config *cfg)
{
	const yaml_node_t *m = cfg_get(c, root, "alerts");
	const yaml_node_t *v = m != NULL ? cfg_get(c, m, "endpoint") : NULL;

	if (cfg->alerts.endpoint == NULL || hg_config_find_endpoint(cfg, cfg->alerts.endpoint))
		return HG_OK;
	return cfg_fail(c, v != NULL ? cfg_line(v) : 0,
			"endpoint: alerts.endpoint names '%.64s', which is not one of the "
			"endpoints; add it under endpoints: or name one that is there",
			cfg->alerts.endpoint);
}
