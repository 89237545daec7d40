/*
 * config_media.c — a source's media: mapping (WhatsApp Cloud API media).
 *
 *   media:
 *     token_env: WHATSAPP_ACCESS_TOKEN   # required: the Graph API token
 *     graph_url: https://graph.facebook.com/v21.0
 *     dir: ./var/media
 *     ttl: 30d                           # 0: kept until the message goes
 *     max_size: 100m
 *     wait: 2m                           # deliveries wait this long for media
 *     scan: ["clamdscan", "--no-summary", "-"]
 *
 * Only provider meta sends WhatsApp payloads, so only a meta source may
 * have it. The token is resolved here like every secret (never logged);
 * scan's command is resolved on PATH now, as exec endpoints' are.
 */
#include "config/config_internal.h"

#include <stdlib.h>
#include <string.h>

#include "verify/verify.h"

static const char *const cfg_media_keys[] = {"token_env", "graph_url", "dir",  "ttl",
					     "max_size",  "scan",      "wait", NULL};

#define CFG_MEDIA_EXAMPLE "{token_env: WHATSAPP_ACCESS_TOKEN, dir: ./var/media}"

/* One word of scan:, appended to the NULL-terminated argv. */
static int cfg_add_scan_word(struct cfg_ctx *c, const yaml_node_t *at, const char *key,
			     const char *text, void *arg)
{
	struct hg_media_config *m = arg;
	size_t n = 0;
	char **grown, *word;

	(void)at;
	(void)key;
	while (m->scan && m->scan[n])
		n++;
	word = strdup(text);
	grown = word ? realloc(m->scan, (n + 2) * sizeof *grown) : NULL;
	if (!grown) {
		free(word);
		return cfg_oom(c);
	}
	m->scan = grown;
	m->scan[n] = word;
	m->scan[n + 1] = NULL;
	return HG_OK;
}

static int cfg_media_defaults(struct cfg_ctx *c, struct hg_media_config *m)
{
	m->graph_url = strdup(HG_DEFAULT_MEDIA_GRAPH_URL);
	m->dir = strdup(HG_DEFAULT_MEDIA_DIR);
	m->ttl_ms = HG_DEFAULT_MEDIA_TTL_MS;
	m->max_size = HG_DEFAULT_MEDIA_MAX_SIZE;
	m->wait_ms = HG_DEFAULT_MEDIA_WAIT_MS;
	return m->graph_url && m->dir ? HG_OK : cfg_oom(c);
}

int cfg_parse_media(struct cfg_ctx *c, const yaml_node_t *node, struct hg_source *src,
		    const char *where)
{
	struct hg_media_config *m;
	const yaml_node_t *map, *v;
	const char *s;
	char in[128];
	int rc;

	snprintf(in, sizeof in, "media of %s", where);
	rc = cfg_mapping(c, node, "media", cfg_media_keys, in, CFG_MEDIA_EXAMPLE, &map);
	if (rc || !map)
		return rc;
	if (strcmp(src->scheme->name, "meta") != 0)
		return cfg_fail(c, cfg_key_line(c, node, "media"),
				"media: %s has provider %s, but media are fetched from the "
				"WhatsApp Cloud API only; use provider: meta or remove media:",
				where, src->provider);
	m = calloc(1, sizeof *m);
	if (!m)
		return cfg_oom(c);
	src->media = m;
	rc = cfg_media_defaults(c, m);
	if (rc)
		return rc;

	rc =
	    cfg_value(c, map, "token_env", "an environment variable name", cfg_env_name_ok, &v, &s);
	if (rc)
		return rc;
	if (!s)
		return cfg_fail(c, cfg_line(map),
				"media: %s has no token_env; add token_env: the environment "
				"variable holding the WhatsApp Cloud API access token",
				where);
	m->token_env = strdup(s);
	if (!m->token_env)
		return cfg_oom(c);
	rc = cfg_resolve_secret(c, v, "token_env", CFG_FROM_ENV, s, &m->token);
	if (!rc)
		rc = cfg_url(c, map, "graph_url", &m->graph_url);
	if (!rc)
		rc = cfg_text(c, map, "dir", "a directory such as ./var/media", cfg_nonempty_ok,
			      &m->dir);
	if (!rc)
		rc = cfg_number(c, map, "ttl", CFG_DURATION,
				"a duration such as 30d, or 0 to keep files as long as their "
				"message",
				0, INT64_MAX, &m->ttl_ms);
	if (!rc)
		rc = cfg_number(c, map, "max_size", CFG_SIZE, CFG_SIZE_WHAT, 1, INT64_MAX,
				&m->max_size);
	if (!rc)
		rc = cfg_number(c, map, "wait", CFG_DURATION,
				"a duration such as 2m, or 0 to deliver without waiting for media",
				0, INT64_MAX, &m->wait_ms);
	if (rc)
		return rc;
	v = cfg_get(c, map, "scan");
	if (!v)
		return HG_OK;
	rc = cfg_each_string(c, v, "scan",
			     "a command as a list of words, such as [clamdscan, --no-summary, -]",
			     cfg_nonempty_ok, cfg_add_scan_word, m);
	if (!rc && !m->scan)
		return cfg_fail(c, cfg_line(v),
				"scan: %s names no command; give a list such as [clamdscan, "
				"--no-summary, -] or remove scan:",
				where);
	if (!rc)
		rc = cfg_resolve_command(c, v, "scan", &m->scan[0]);
	return rc;
}

void cfg_media_free(struct hg_media_config *m)
{
	size_t i;

	if (!m)
		return;
	cfg_wipe_secret(&m->token);
	free(m->token_env);
	free(m->graph_url);
	free(m->dir);
	for (i = 0; m->scan && m->scan[i]; i++)
		free(m->scan[i]);
	free(m->scan);
	free(m);
}
