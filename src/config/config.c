/*
 * config.c — reads the YAML config file into a validated struct hg_config.
 *
 * libyaml's document API (yaml_parser_load) gives us the whole tree with a
 * line for every node, so every error can be one sentence that starts with
 * "FILE:LINE:" and names the key. Secrets are resolved at load time
 * (environment, files, inline), once, so nothing on the request path
 * touches the environment or the file system. Everything allocated belongs
 * to the returned struct; on any error the partial tree is freed with
 * hg_config_free(), so parsers fill it in place without cleanup of their
 * own.
 *
 * This file reads the top level and holds the public functions; the node
 * readers are in config_yaml.c, the sections in config_sources.c and
 * config_endpoints.c (config_internal.h is what they share).
 */
#include "config/config.h"
#include "config/config_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "util/jsonpath.h"

#define CFG_MAX_FILE    ((size_t)4 << 20) /* a larger config file is a mistake */
#define CFG_HOUR_MS     (3600 * 1000LL)   /* audit windows divide an hour */
#define CFG_LISTEN_WHAT "\"host:port\", \"[ipv6]:port\" or \":port\" (port 1-65535)"

/* Keys each level accepts. */
static const char *const cfg_top_keys[] = {
    "listen",
    "public_url",
    "store",
    "threads",
    "max_connections",
    "request_timeout",
    "max_body",
    "log_level",
    "tls",
    "trusted_proxies",
    "sources",
    "endpoints",
    "max_in_flight",
    "admin_token_env",
    "retention",
    "event_types",
    "allow_http",
    "egress_allow",
    "outbound",
    "max_dedupe_keys",
    "audit_window",
    "audit_max_rows",
    "audit_retention",
    "encryption",
    "alerts",
    "audit",
    "console",
    NULL,
};
/* Keys of the nested mappings. */
static const char *const cfg_tls_keys[] = {"cert", "key", "client_ca", "client_cert", NULL};
/* Keys DESIGN.md shows that this version does not implement yet. They get
 * their own error rather than "unknown key", so an operator following the
 * design knows the key is right and the build is old. Enabling one means
 * moving it to the list above and parsing it. */
static const char *const cfg_top_unsupported[] = {NULL};
static const char *const cfg_outbound_keys[] = {"retry",         "timeout",     "disable_after",
						"max_in_flight", "rate_limits", NULL};
static const char *const cfg_outbound_limit_names[] = {"create", "regenerate", "manage", "publish",
						       NULL};
static const char *const cfg_limit_keys[] = {"limit", "per", NULL};
static const char *const cfg_audit_keys[] = {"received", "reads", NULL};

/* Indexed by the enums they spell, so a name's position is its value. */
static const char *const cfg_log_levels[] = {
    [HG_LOG_DEBUG] = "debug",
    [HG_LOG_INFO] = "info",
    [HG_LOG_WARN] = "warn",
    [HG_LOG_ERROR] = "error",
    NULL,
};
/* Offset by HG_CLIENT_CERT_OPTIONAL: "none" is what leaving client_ca out means. */
static const char *const cfg_client_certs[] = {"optional", "require", NULL};

/* A top-level list of named things (sources, endpoints): the elements are
 * structs of size bytes with a char *name and an int line at the given
 * offsets, each filled by parse; names must be unique. */
struct cfg_list {
	const char *key;  /* "sources" */
	const char *noun; /* "source" */
	size_t size, name_off, line_off;
	int (*parse)(struct cfg_ctx *c, const yaml_node_t *node, size_t index, void *item);
};

static const struct cfg_list cfg_sources_list = {
    "sources",
    "source",
    sizeof(struct hg_source),
    offsetof(struct hg_source, name),
    offsetof(struct hg_source, line),
    cfg_parse_source,
};
static const struct cfg_list cfg_endpoints_list = {
    "endpoints",
    "endpoint",
    sizeof(struct hg_endpoint),
    offsetof(struct hg_endpoint, name),
    offsetof(struct hg_endpoint, line),
    cfg_parse_endpoint,
};

static int cfg_parse_list(struct cfg_ctx *c, const yaml_node_t *root, const struct cfg_list *l,
			  void **items, size_t *n_items)
{
	const yaml_node_t *v = cfg_get(c, root, l->key), *item;
	const char *name, *prev;
	size_t i, j, n;
	char *base;
	int rc;

	if (!v || cfg_is_null(v))
		return HG_OK;
	if (v->type != YAML_SEQUENCE_NODE)
		return cfg_fail(c, cfg_line(v),
				"%s: expected a list of %s, each starting with '- name:', got %s",
				l->key, l->key, cfg_kind(v));
	n = (size_t)(v->data.sequence.items.top - v->data.sequence.items.start);
	*items = calloc(n ? n : 1, l->size);
	if (!*items)
		return cfg_oom(c);
	base = *items;
	for (i = 0; i < n; i++) {
		item = yaml_document_get_node(&c->doc, v->data.sequence.items.start[i]);
		*n_items = i + 1; /* so hg_config_free sees the partial element */
		rc = l->parse(c, item, i, base + i * l->size);
		if (rc)
			return rc;
		name = *(char **)(base + i * l->size + l->name_off);
		for (j = 0; j < i; j++) {
			prev = *(char **)(base + j * l->size + l->name_off);
			if (!strcmp(prev, name))
				return cfg_fail(
				    c, cfg_line(cfg_get(c, item, "name")),
				    "name: %s '%s' is already defined at line %d; %s names "
				    "must be unique",
				    l->noun, name, *(int *)(base + j * l->size + l->line_off),
				    l->noun);
		}
	}
	return HG_OK;
}

/* ---- the top level ---- */

/* One TLS file: resolved against the config's directory and readable now,
 * so a typo fails `config check` instead of the first handshake. */
static int cfg_tls_file(struct cfg_ctx *c, const yaml_node_t *m, const char *key, char **out)
{
	const yaml_node_t *v;
	const char *s;
	struct stat sb;
	int rc, fd;

	rc = cfg_value(c, m, key, "a file path (PEM)", cfg_nonempty_ok, &v, &s);
	if (rc || !s)
		return rc;
	*out = cfg_resolve_path(c, s);
	if (!*out)
		return cfg_oom(c);
	fd = open(*out, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return cfg_fail(c, cfg_line(v), "%s: cannot read %s: %s", key, *out,
				strerror(errno));
	rc = fstat(fd, &sb);
	close(fd);
	if (rc || !S_ISREG(sb.st_mode))
		return cfg_fail(c, cfg_line(v), "%s: %s is not a regular file", key, *out);
	return HG_OK;
}

/* tls: {cert, key, client_ca, client_cert: optional|require} */
static int cfg_parse_tls(struct cfg_ctx *c, const yaml_node_t *root, struct hg_config *cfg)
{
	const yaml_node_t *m, *v;
	int i = 0, rc;

	rc = cfg_mapping(c, root, "tls", cfg_tls_keys, "tls",
			 "{cert: cert.pem, key: key.pem, client_ca: ca.pem}", &m);
	if (rc || !m)
		return rc;
	rc = cfg_tls_file(c, m, "cert", &cfg->tls_cert);
	if (!rc)
		rc = cfg_tls_file(c, m, "key", &cfg->tls_key);
	if (!rc)
		rc = cfg_tls_file(c, m, "client_ca", &cfg->tls_client_ca);
	if (rc)
		return rc;
	if (!cfg->tls_cert || !cfg->tls_key)
		return cfg_fail(c, cfg_key_line(c, root, "tls"),
				"tls: cert and key go together; give both the certificate chain "
				"(cert:) and its private key (key:)");
	v = cfg_get(c, m, "client_cert");
	if (v && !cfg->tls_client_ca)
		return cfg_fail(c, cfg_line(v),
				"client_cert: client certificates need client_ca: the CA file "
				"they are verified against");
	rc = cfg_choice(c, m, "client_cert", cfg_client_certs, &i);
	if (rc)
		return rc;
	if (cfg->tls_client_ca)
		cfg->tls_client_cert = (enum hg_client_cert)(HG_CLIENT_CERT_OPTIONAL + i);
	return HG_OK;
}

static int cfg_add_proxy(struct cfg_ctx *c, const yaml_node_t *at, const char *key,
			 const char *text, void *arg)
{
	struct hg_config *cfg = arg;
	struct hg_cidr r, *grown;

	if (hg_cidr_parse(text, &r) != HG_OK)
		return cfg_bad_value(c, at, key,
				     "an address or range such as 192.0.2.10, 10.0.0.0/8 or "
				     "2001:db8::/32",
				     text);
	grown = realloc(cfg->trusted_proxies, (cfg->n_trusted_proxies + 1) * sizeof *grown);
	if (!grown)
		return cfg_oom(c);
	cfg->trusted_proxies = grown;
	cfg->trusted_proxies[cfg->n_trusted_proxies++] = r;
	return HG_OK;
}

/* event_types: lower-case words split by dots ("clip.submitted"). */
static int cfg_event_type_ok(const char *s)
{
	size_t i, label = 0;

	for (i = 0; s[i]; i++) {
		if (s[i] == '.') {
			if (!label)
				return 0;
			label = 0;
			continue;
		}
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '_' ||
		      s[i] == '-'))
			return 0;
		label++;
	}
	return label > 0 && i <= 100;
}

static int cfg_add_event_type(struct cfg_ctx *c, const yaml_node_t *at, const char *key,
			      const char *text, void *arg)
{
	struct hg_config *cfg = arg;
	char **grown;
	size_t i;

	for (i = 0; i < cfg->n_event_types; i++)
		if (!strcmp(cfg->event_types[i], text))
			return cfg_fail(c, cfg_line(at), "%s: \"%s\" is listed twice", key, text);
	grown = realloc(cfg->event_types, (cfg->n_event_types + 2) * sizeof *grown);
	if (!grown)
		return cfg_oom(c);
	cfg->event_types = grown;
	grown[cfg->n_event_types] = strdup(text);
	if (!grown[cfg->n_event_types])
		return cfg_oom(c);
	grown[++cfg->n_event_types] = NULL;
	return HG_OK;
}

static int cfg_add_egress(struct cfg_ctx *c, const yaml_node_t *at, const char *key,
			  const char *text, void *arg)
{
	struct hg_config *cfg = arg;
	struct hg_cidr r, *grown;

	if (hg_cidr_parse(text, &r) != HG_OK)
		return cfg_bad_value(c, at, key,
				     "an address or range such as 127.0.0.1/32, 10.20.0.0/16 or "
				     "fd00::/8",
				     text);
	grown = realloc(cfg->egress_allow, (cfg->n_egress_allow + 1) * sizeof *grown);
	if (!grown)
		return cfg_oom(c);
	cfg->egress_allow = grown;
	cfg->egress_allow[cfg->n_egress_allow++] = r;
	return HG_OK;
}

/* audit: {received, reads}: which events besides refusals the audit log
 * records (config.h). Either may be left out; reads then keeps its default. */
static int cfg_parse_audit_map(struct cfg_ctx *c, const yaml_node_t *root, struct hg_config *cfg)
{
	const yaml_node_t *m;
	int rc;

	rc = cfg_mapping(c, root, "audit", cfg_audit_keys, "audit",
			 "{received: false, reads: true}", &m);
	if (rc || !m)
		return rc;
	rc = cfg_choice(c, m, "received", cfg_bools, &cfg->audit_received);
	if (!rc) /* untouched (-1) when absent */
		rc = cfg_choice(c, m, "reads", cfg_bools, &cfg->audit_reads);
	return rc;
}

int hg_config_audit_reads(const struct hg_config *cfg)
{
	return cfg->audit_reads >= 0 ? cfg->audit_reads : cfg->n_enc_keys > 0;
}

int64_t hg_config_retention(const struct hg_config *cfg, const struct hg_source *src)
{
	return src != NULL && src->retention_ms >= 0 ? src->retention_ms : cfg->retention_ms;
}

/* audit_window, audit_max_rows, audit_retention: how refusals are summed
 * into the audit log, and how long its rows are kept. A window must divide an hour,
 * so no window straddles an hour and per-hour sums of the log are exact. */
static int cfg_parse_audit(struct cfg_ctx *c, const yaml_node_t *root, struct hg_config *cfg)
{
	static const char window_what[] =
	    "a duration from 100ms to 1h that divides an hour, such as 1s, 10s or 1m";
	const yaml_node_t *v = cfg_get(c, root, "audit_window");
	int rc;

	rc = cfg_number(c, root, "audit_window", CFG_DURATION, window_what, 100, CFG_HOUR_MS,
			&cfg->audit_window_ms);
	if (rc)
		return rc;
	if (v && CFG_HOUR_MS % cfg->audit_window_ms != 0)
		return cfg_bad_value(c, v, "audit_window", window_what,
				     (const char *)v->data.scalar.value);
	rc = cfg_number(c, root, "audit_max_rows", CFG_INT, "a whole number from 1 to 1000000", 1,
			1000000, &cfg->audit_max_rows);
	if (rc)
		return rc;
	rc = cfg_number(c, root, "audit_retention", CFG_DURATION,
			"a duration such as 400d or 2557d, or 0 to keep the audit log forever", 0,
			INT64_MAX, &cfg->audit_retention_ms);
	if (rc)
		return rc;
	return cfg_parse_audit_map(c, root, cfg);
}

/* outbound: {retry, timeout, disable_after, max_in_flight, rate_limits}. */
static int cfg_parse_outbound(struct cfg_ctx *c, const yaml_node_t *root, struct hg_outbound *o)
{
	struct hg_outbound_limit *limits[] = {&o->rl_create, &o->rl_regenerate, &o->rl_manage,
					      &o->rl_publish};
	const yaml_node_t *m, *rl, *one;
	char where[64];
	int64_t n;
	int rc, i;

	rc = cfg_mapping(
	    c, root, "outbound", cfg_outbound_keys, "outbound",
	    "{retry: {schedule: [0s, 60s, 2m, 4m, 8m]}, timeout: 10s, disable_after: 5d}", &m);
	if (rc || !m)
		return rc;
	rc = cfg_parse_retry(c, m, &o->retry, "outbound");
	if (!rc)
		rc = cfg_number(c, m, "timeout", CFG_DURATION, CFG_DURATION_WHAT, 1, INT64_MAX,
				&o->timeout_ms);
	if (!rc)
		rc = cfg_number(c, m, "disable_after", CFG_DURATION,
				"a duration such as 5d, or 0 to never switch a subscription off", 0,
				INT64_MAX, &o->disable_after_ms);
	if (!rc)
		rc = cfg_max_in_flight(c, m, &o->max_in_flight);
	if (!rc)
		rc = cfg_mapping(c, m, "rate_limits", cfg_outbound_limit_names,
				 "rate_limits of outbound", "{create: {limit: 10, per: 1h}}", &rl);
	if (rc || !rl)
		return rc;
	for (i = 0; cfg_outbound_limit_names[i]; i++) {
		snprintf(where, sizeof where, "rate_limits.%s of outbound",
			 cfg_outbound_limit_names[i]);
		rc = cfg_mapping(c, rl, cfg_outbound_limit_names[i], cfg_limit_keys, where,
				 "{limit: 10, per: 1h}", &one);
		if (rc)
			return rc;
		if (!one)
			continue;
		n = limits[i]->limit;
		rc = cfg_number(c, one, "limit", CFG_INT, "a whole number >= 0 (0 turns it off)", 0,
				INT32_MAX, &n);
		limits[i]->limit = n;
		if (!rc)
			rc = cfg_number(c, one, "per", CFG_DURATION, CFG_DURATION_WHAT, 1,
					INT64_MAX, &limits[i]->per_ms);
		if (rc)
			return rc;
	}
	return HG_OK;
}

static int cfg_parse_top(struct cfg_ctx *c, const yaml_node_t *root, struct hg_config *cfg)
{
	const yaml_node_t *v;
	const char *s;
	char host[256], *dup;
	int64_t n;
	int i, rc;

	if (root->type != YAML_MAPPING_NODE)
		return cfg_fail(c, cfg_line(root),
				"the top level must be a mapping of settings (key: value lines), "
				"got %s",
				cfg_kind(root));
	rc = cfg_check_keys(c, root, cfg_top_keys, cfg_top_unsupported, "the top-level settings");
	if (rc)
		return rc;

	rc = cfg_value(c, root, "listen", CFG_LISTEN_WHAT, cfg_listen_ok, &v, &s);
	if (rc)
		return rc;
	if (s) {
		cfg_listen_split(s, host, sizeof host, &cfg->listen_port);
		dup = strdup(host);
		if (!dup)
			return cfg_oom(c);
		free(cfg->listen_host);
		cfg->listen_host = dup;
	}

	/* the path of a request is appended to it (Twilio signs the result) */
	rc = cfg_url(c, root, "public_url", &cfg->public_url);
	if (rc)
		return rc;

	rc = cfg_text(c, root, "store", "sqlite:PATH or postgres://user@host/db", cfg_store_ok,
		      &cfg->store);
	if (rc)
		return rc;

	n = cfg->threads;
	rc = cfg_number(c, root, "threads", CFG_INT,
			"a whole number >= 0 (0 = one event loop per core)", 0, INT32_MAX, &n);
	if (rc)
		return rc;
	cfg->threads = (int)n;

	n = (int64_t)cfg->max_connections;
	rc = cfg_number(c, root, "max_connections", CFG_INT, "a whole number >= 1", 1, INT32_MAX,
			&n);
	if (rc)
		return rc;
	cfg->max_connections = (size_t)n;

	rc = cfg_number(c, root, "request_timeout", CFG_DURATION,
			"a duration above zero such as 500ms, 10s or 2m", 1, INT64_MAX,
			&cfg->request_timeout_ms);
	if (rc)
		return rc;

	rc = cfg_size_limits(c, root, &cfg->max_body, &cfg->max_dedupe_keys);
	if (rc)
		return rc;

	i = (int)cfg->log_level;
	rc = cfg_choice(c, root, "log_level", cfg_log_levels, &i);
	if (rc)
		return rc;
	cfg->log_level = (enum hg_log_level)i;

	/* both before the sources: an mtls source checks a certificate can reach us */
	rc = cfg_parse_tls(c, root, cfg);
	if (rc)
		return rc;
	v = cfg_get(c, root, "trusted_proxies");
	if (v) {
		rc = cfg_each_string(c, v, "trusted_proxies",
				     "an address or range, or a list of them", NULL, cfg_add_proxy,
				     cfg);
		if (rc)
			return rc;
	}

	rc = cfg_max_in_flight(c, root, &cfg->max_in_flight);
	if (rc)
		return rc;
	rc = cfg_number(c, root, "retention", CFG_DURATION,
			"a duration such as 30d, or 0 to keep everything", 0, INT64_MAX,
			&cfg->retention_ms);
	if (rc)
		return rc;
	rc = cfg_parse_audit(c, root, cfg);
	if (rc)
		return rc;
	rc = cfg_parse_encryption(c, root, cfg);
	if (rc)
		return rc;
	rc = cfg_parse_alerts(c, root, cfg);
	if (rc)
		return rc;
	rc = cfg_value(c, root, "admin_token_env", "an environment variable name", cfg_env_name_ok,
		       &v, &s);
	if (!rc && s && !(cfg->admin_token_env = strdup(s)))
		rc = cfg_oom(c);
	if (!rc && s)
		rc =
		    cfg_resolve_secret(c, v, "admin_token_env", CFG_FROM_ENV, s, &cfg->admin_token);
	if (rc)
		return rc;

	/* outbound webhooks */
	v = cfg_get(c, root, "event_types");
	if (v) {
		rc = cfg_each_string(c, v, "event_types",
				     "an event type such as clip.submitted (lower-case words split "
				     "by dots), or a list of them",
				     cfg_event_type_ok, cfg_add_event_type, cfg);
		if (rc)
			return rc;
	}
	/* the web console (src/console): on unless turned off */
	rc =
	    cfg_choice(c, root, "console", (const char *const[]){"off", "on", NULL}, &cfg->console);
	if (rc)
		return rc;
	i = cfg->allow_http;
	rc = cfg_choice(c, root, "allow_http", cfg_bools, &i);
	if (rc)
		return rc;
	cfg->allow_http = i;
	v = cfg_get(c, root, "egress_allow");
	if (v) {
		rc = cfg_each_string(c, v, "egress_allow", "an address or range, or a list of them",
				     NULL, cfg_add_egress, cfg);
		if (rc)
			return rc;
	}
	rc = cfg_parse_outbound(c, root, &cfg->outbound);
	if (rc)
		return rc;

	/* endpoints first: routes of sources name them */
	rc = cfg_parse_list(c, root, &cfg_endpoints_list, (void **)&cfg->endpoints,
			    &cfg->n_endpoints);
	if (!rc)
		rc = cfg_check_alerts(c, root, cfg);
	return rc ? rc
		  : cfg_parse_list(c, root, &cfg_sources_list, (void **)&cfg->sources,
				   &cfg->n_sources);
}

static int cfg_syntax_error(struct cfg_ctx *c, const yaml_parser_t *p, const uint8_t *text,
			    size_t len)
{
	size_t line = p->problem_mark.line + 1, at = p->problem_mark.index, i;
	const char *hint = "";

	if (p->error == YAML_MEMORY_ERROR)
		return cfg_oom(c);
	if (p->error == YAML_READER_ERROR) /* marks are not set for bad bytes */
		for (i = 0, line = 1; i < p->problem_offset && i < len; i++)
			line += text[i] == '\n';
	/* the most common mistake, and libyaml's words do not name it */
	if (p->error == YAML_SCANNER_ERROR && at < len && text[at] == '\t')
		hint = "; indent with spaces, YAML does not allow tabs";
	if (p->context)
		return cfg_fail(c, (int)line, "YAML syntax error: %s (%s at line %d)%s",
				p->problem ? p->problem : "unknown problem", p->context,
				(int)p->context_mark.line + 1, hint);
	return cfg_fail(c, (int)line, "YAML syntax error: %s%s",
			p->problem ? p->problem : "unknown problem", hint);
}

/* Inline secrets live in the document's scalars; wipe them before freeing. */
static void cfg_document_wipe_delete(yaml_document_t *doc)
{
	yaml_node_t *n;

	for (n = doc->nodes.start; n && n < doc->nodes.top; n++)
		if (n->type == YAML_SCALAR_NODE && n->data.scalar.value)
			OPENSSL_cleanse(n->data.scalar.value, n->data.scalar.length);
	yaml_document_delete(doc);
}

/* ---- public ---- */

int hg_config_default(struct hg_config **out)
{
	struct hg_config *cfg;

	*out = NULL;
	cfg = calloc(1, sizeof *cfg);
	if (!cfg)
		return HG_ENOMEM;
	cfg->path = strdup("(built-in)");
	cfg->listen_host = strdup(HG_DEFAULT_LISTEN_HOST);
	cfg->store = strdup(HG_DEFAULT_STORE);
	if (!cfg->path || !cfg->listen_host || !cfg->store) {
		hg_config_free(cfg);
		return HG_ENOMEM;
	}
	cfg->listen_port = HG_DEFAULT_LISTEN_PORT;
	cfg->threads = 0;
	cfg->max_connections = HG_DEFAULT_MAX_CONNECTIONS;
	cfg->request_timeout_ms = HG_DEFAULT_REQUEST_TIMEOUT_MS;
	cfg->max_body = HG_DEFAULT_MAX_BODY;
	cfg->log_level = HG_LOG_INFO;
	cfg->max_in_flight = HG_DEFAULT_MAX_IN_FLIGHT;
	cfg->max_dedupe_keys = HG_DEFAULT_MAX_DEDUPE_KEYS;
	cfg->audit_window_ms = HG_DEFAULT_AUDIT_WINDOW_MS;
	cfg->audit_max_rows = HG_DEFAULT_AUDIT_MAX_ROWS;
	cfg_alerts_default(&cfg->alerts);
	cfg->audit_reads = -1;
	cfg->console = 1;
	/* outbound: seed 003's contract */
	cfg->outbound.retry.schedule_ms = malloc(sizeof cfg_default_schedule_ms);
	if (!cfg->outbound.retry.schedule_ms) {
		hg_config_free(cfg);
		return HG_ENOMEM;
	}
	memcpy(cfg->outbound.retry.schedule_ms, cfg_default_schedule_ms,
	       sizeof cfg_default_schedule_ms);
	cfg->outbound.retry.attempts =
	    sizeof cfg_default_schedule_ms / sizeof cfg_default_schedule_ms[0];
	cfg->outbound.retry.max_delay_ms = HG_DEFAULT_RETRY_MAX_DELAY_MS;
	cfg->outbound.retry.jitter = 0;
	cfg->outbound.timeout_ms = HG_DEFAULT_OUTBOUND_TIMEOUT_MS;
	cfg->outbound.disable_after_ms = HG_DEFAULT_OUTBOUND_DISABLE_AFTER_MS;
	cfg->outbound.max_in_flight = HG_DEFAULT_OUTBOUND_MAX_IN_FLIGHT;
	cfg->outbound.rl_create = (struct hg_outbound_limit){10, 3600 * 1000};
	cfg->outbound.rl_regenerate = (struct hg_outbound_limit){5, 3600 * 1000};
	cfg->outbound.rl_manage = (struct hg_outbound_limit){0, 60 * 1000};
	cfg->outbound.rl_publish = (struct hg_outbound_limit){0, 60 * 1000};
	*out = cfg;
	return HG_OK;
}

int hg_config_load(const char *path, struct hg_config **out, char *err, size_t errlen)
{
	return hg_config_load_opts(path, 0, out, err, errlen);
}

int hg_config_load_opts(const char *path, unsigned flags, struct hg_config **out, char *err,
			size_t errlen)
{
	struct cfg_ctx c = {.file = path, .err = err, .errlen = errlen, .flags = flags};
	struct hg_config *cfg = NULL;
	yaml_parser_t parser;
	yaml_document_t extra;
	const yaml_node_t *root;
	uint8_t *text = NULL;
	size_t len = 0;
	char *slash;
	int rc, parser_ready = 0, doc_ready = 0;

	*out = NULL;
	if (err && errlen)
		err[0] = '\0';
	rc = cfg_read_file(path, CFG_MAX_FILE, &text, &len);
	if (rc == HG_ENOMEM) {
		rc = cfg_oom(&c);
		goto out;
	}
	if (rc == HG_ETOOBIG) {
		if (err && errlen)
			snprintf(err, errlen, "cannot read %s: larger than %zu MiB", path,
				 CFG_MAX_FILE >> 20);
		rc = HG_EIO;
		goto out;
	}
	if (rc) {
		if (err && errlen)
			snprintf(err, errlen, "cannot read %s: %s", path, strerror(errno));
		rc = HG_EIO;
		goto out;
	}

	rc = hg_config_default(&cfg);
	if (rc) {
		rc = cfg_oom(&c);
		goto out;
	}
	c.cfg = cfg;
	free(cfg->path);
	cfg->path = strdup(path);
	c.dir = strdup(path);
	if (!cfg->path || !c.dir) {
		rc = cfg_oom(&c);
		goto out;
	}
	slash = strrchr(c.dir, '/');
	if (!slash)
		hg_strlcpy(c.dir, ".", strlen(c.dir) + 1);
	else
		slash[slash == c.dir] = '\0'; /* keep "/" for files at the root */

	if (!yaml_parser_initialize(&parser)) {
		rc = cfg_oom(&c);
		goto out;
	}
	parser_ready = 1;
	yaml_parser_set_input_string(&parser, text, len);
	if (!yaml_parser_load(&parser, &c.doc)) {
		rc = cfg_syntax_error(&c, &parser, text, len);
		goto out;
	}
	doc_ready = 1;

	/* a second document would be silently ignored; say so instead */
	if (!yaml_parser_load(&parser, &extra)) {
		rc = cfg_syntax_error(&c, &parser, text, len);
		goto out;
	}
	root = yaml_document_get_root_node(&extra);
	if (root && !cfg_is_null(root)) {
		rc = cfg_fail(&c, cfg_line(root),
			      "a second YAML document starts here; put all settings in one "
			      "document");
		cfg_document_wipe_delete(&extra);
		goto out;
	}
	cfg_document_wipe_delete(&extra);

	root = yaml_document_get_root_node(&c.doc);
	if (root && !cfg_is_null(root)) /* an empty file means the built-in defaults */
		rc = cfg_parse_top(&c, root, cfg);
out:
	if (doc_ready)
		cfg_document_wipe_delete(&c.doc);
	if (parser_ready)
		yaml_parser_delete(&parser);
	if (text) {
		OPENSSL_cleanse(text, len);
		free(text);
	}
	free(c.dir);
	if (rc) {
		hg_config_free(cfg);
		return rc;
	}
	*out = cfg;
	return HG_OK;
}

void hg_config_free(struct hg_config *cfg)
{
	struct hg_source *src;
	size_t i, j;

	if (!cfg)
		return;
	free(cfg->alerts.endpoint);
	if (cfg->enc_keys) {
		OPENSSL_cleanse(cfg->enc_keys, cfg->n_enc_keys * sizeof(*cfg->enc_keys));
		free(cfg->enc_keys);
	}
	for (i = 0; i < cfg->n_sources; i++) {
		src = &cfg->sources[i];
		for (j = 0; j < src->n_secrets; j++)
			cfg_wipe_secret(&src->secrets[j]);
		free(src->secrets);
		cfg_wipe_secret(&src->verify_token);
		for (j = 0; j < src->n_dedupe; j++) {
			free(src->dedupe[j].expr);
			free(src->dedupe[j].header);
			free(src->dedupe[j].form);
			if (src->dedupe[j].path)
				hg_jsonpath_free(src->dedupe[j].path);
		}
		free(src->dedupe);
		if (src->max_age_path)
			hg_jsonpath_free(src->max_age_path);
		free(src->public_url);
		free(src->rate_limit.key);
		free(src->rate_limit.header);
		free(src->rate_limit.form);
		if (src->rate_limit.path)
			hg_jsonpath_free(src->rate_limit.path);
		for (j = 0; j < src->n_mtls_subjects; j++)
			free(src->mtls_subjects[j]);
		free(src->mtls_subjects);
		for (j = 0; j < src->n_routes; j++) {
			free(src->routes[j].when);
			free(src->routes[j].value);
			free(src->routes[j].header);
			if (src->routes[j].path)
				hg_jsonpath_free(src->routes[j].path);
		}
		free(src->routes);
		for (j = 0; j < src->n_forward_headers; j++)
			free(src->forward_headers[j]);
		free(src->forward_headers);
		cfg_media_free(src->media);
		free(src->name);
		free(src->provider);
		free(src->header);
		free(src->prefix);
	}
	free(cfg->sources);
	for (i = 0; i < cfg->n_endpoints; i++) {
		struct hg_endpoint *ep = &cfg->endpoints[i];

		for (j = 0; ep->argv && ep->argv[j]; j++)
			free(ep->argv[j]);
		free(ep->argv);
		free(ep->url);
		free(ep->name);
		free(ep->retry.schedule_ms);
		cfg_wipe_secret(&ep->secret);
		for (j = 0; j < ep->n_headers; j++) {
			free(ep->headers[j].name);
			if (ep->headers[j].value) {
				OPENSSL_cleanse(ep->headers[j].value, strlen(ep->headers[j].value));
				free(ep->headers[j].value);
			}
		}
		free(ep->headers);
	}
	free(cfg->endpoints);
	cfg_wipe_secret(&cfg->admin_token);
	free(cfg->admin_token_env);
	for (i = 0; i < cfg->n_secret_envs; i++)
		free(cfg->secret_envs[i]);
	free(cfg->secret_envs);
	free(cfg->tls_cert);
	free(cfg->tls_key);
	free(cfg->tls_client_ca);
	free(cfg->trusted_proxies);
	for (i = 0; i < cfg->n_event_types; i++)
		free(cfg->event_types[i]);
	free(cfg->event_types);
	free(cfg->egress_allow);
	free(cfg->outbound.retry.schedule_ms);
	free(cfg->path);
	free(cfg->listen_host);
	free(cfg->public_url);
	free(cfg->store);
	free(cfg);
}

const struct hg_endpoint *hg_config_find_endpoint(const struct hg_config *cfg, const char *name)
{
	size_t i;

	if (!cfg || !name)
		return NULL;
	for (i = 0; i < cfg->n_endpoints; i++)
		if (!strcmp(cfg->endpoints[i].name, name))
			return &cfg->endpoints[i];
	return NULL;
}

const struct hg_source *hg_config_find_source(const struct hg_config *cfg, const char *name,
					      size_t len)
{
	size_t i;

	if (!cfg || !name)
		return NULL;
	for (i = 0; i < cfg->n_sources; i++)
		if (strlen(cfg->sources[i].name) == len && !memcmp(cfg->sources[i].name, name, len))
			return &cfg->sources[i];
	return NULL;
}
