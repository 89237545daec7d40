/*
 * config_alerts.c — the alerts: section. Only alerts.endpoint is read
 * here: the configured endpoint operational events (src/events/events.h)
 * are delivered to besides the operator's subscriptions. It is checked
 * after the endpoints are read, so an unknown name is an error at its line.
 */
#include "config/config_internal.h"

#include <stdlib.h>
#include <string.h>

static const char *const cfg_alerts_keys[] = {"endpoint", NULL};
/* The alert rules DESIGN.md lists that this version does not read yet. */
static const char *const cfg_alerts_later[] = {
    "bad_signatures", "volume", "duplicate_ratio", "error_ratio", "slow_ack", NULL,
};

int cfg_parse_alerts(struct cfg_ctx *c, const yaml_node_t *root, struct hg_config *cfg)
{
	const yaml_node_t *m = cfg_get(c, root, "alerts"), *v;
	const char *name;
	int rc;

	if (!m)
		return HG_OK;
	if (m->type != YAML_MAPPING_NODE)
		return cfg_fail(c, cfg_line(m),
				"alerts: expected a mapping such as {endpoint: ops-alerts}, got %s",
				cfg_kind(m));
	rc = cfg_check_keys(c, m, cfg_alerts_keys, cfg_alerts_later, "alerts");
	if (!rc)
		rc = cfg_value(c, m, "endpoint", CFG_NAME_WHAT, cfg_name_ok, &v, &name);
	if (rc || !name)
		return rc;
	if (!hg_config_find_endpoint(cfg, name))
		return cfg_fail(c, cfg_line(v),
				"endpoint: alerts.endpoint names '%.64s', which is not one of the "
				"endpoints; add it under endpoints: or name one that is there",
				name);
	cfg->alerts.endpoint = strdup(name);
	return cfg->alerts.endpoint ? HG_OK : cfg_oom(c);
}
