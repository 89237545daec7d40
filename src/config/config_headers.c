/*
 * config_headers.c — the headers that reach an application besides the
 * body: a source's forward_headers (request headers passed on, with
 * defaults per provider) and an endpoint's headers (fixed values, ${VAR}
 * from the environment).
 *
 * What may never be forwarded is decided here, at load, so a mistake is a
 * config error at its line rather than a credential leaking on every
 * delivery: a signature header of any scheme, the headers hookgate treats
 * as the caller's credentials, and the headers hookgate sets itself
 * (framing, identity, its own signature).
 */
#include "config/config_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>

#define CFG_HEADER_WHAT     "an HTTP header name such as X-GitHub-Event"
#define CFG_HOOKGATE_PREFIX "x-hookgate-"

/* Request headers each provider sends beside its signature that an
 * application usually wants (event type, delivery id, retries); forwarded
 * when a source has no forward_headers of its own. */
struct cfg_forward_default {
	const char *provider;
	const char *const *names;
};
static const char *const cfg_fwd_github[] = {"X-GitHub-Event", "X-GitHub-Delivery",
					     "X-GitHub-Hook-ID", NULL};
static const char *const cfg_fwd_shopify[] = {"X-Shopify-Topic", "X-Shopify-Shop-Domain",
					      "X-Shopify-API-Version", "X-Shopify-Webhook-Id",
					      NULL};
static const char *const cfg_fwd_slack[] = {"X-Slack-Retry-Num", "X-Slack-Retry-Reason", NULL};
static const char *const cfg_fwd_twilio[] = {"I-Twilio-Idempotency-Token", NULL};
static const char *const cfg_fwd_standard[] = {"webhook-id", "webhook-timestamp", "svix-id",
					       "svix-timestamp", NULL};
static const char *const cfg_fwd_clipper[] = {"X-Webhook-Event", "X-Webhook-Delivery-ID", NULL};
static const struct cfg_forward_default cfg_forward_defaults[] = {
    {"github", cfg_fwd_github},
    {"shopify", cfg_fwd_shopify},
    {"slack", cfg_fwd_slack},
    {"twilio", cfg_fwd_twilio},
    {"standard", cfg_fwd_standard},
    {"clipper", cfg_fwd_clipper},
    {NULL, NULL},
};

/* Signature headers of every scheme (lower-case): never forwarded, whatever
 * the source's provider, since none of them means anything downstream. */
static const char *const cfg_signature_headers[] = {
    "x-hub-signature-256",
    "x-hub-signature",
    "x-twilio-signature",
    "stripe-signature",
    "x-slack-signature",
    "x-shopify-hmac-sha256",
    "webhook-signature",
    "svix-signature",
    "x-webhook-signature",
    "x-zoho-webhook-signature",
    NULL,
};
/* The caller's credentials: src/ingest/inbound.c does not even store them. */
static const char *const cfg_credential_headers[] = {"authorization", "proxy-authorization",
						     "cookie", NULL};
/* What hookgate sets on every delivery (framing and identity); the
 * X-Hookgate-* names are refused by prefix. */
static const char *const cfg_own_headers[] = {
    "content-type", "content-length", "transfer-encoding", "host",    "connection", "expect",
    "te",           "upgrade",        "keep-alive",        "trailer", "user-agent", NULL,
};
/* hookgate's own Standard Webhooks signature of a delivery. */
static const char *const cfg_own_signature[] = {"webhook-id", "webhook-timestamp",
						"webhook-signature", NULL};

/* 1 when name (any case) is hookgate's own: in list or X-Hookgate-*. */
static int cfg_is_own(const char *name, const char *const *list)
{
	return cfg_index(list, name, 1) >= 0 ||
	       !strncasecmp(name, CFG_HOOKGATE_PREFIX, sizeof CFG_HOOKGATE_PREFIX - 1);
}

/* Appends a copy of name unless the source forwards it already. */
static int cfg_add_forward(struct cfg_ctx *c, struct hg_source *src, const char *name)
{
	char **grown;
	size_t i;

	for (i = 0; i < src->n_forward_headers; i++)
		if (!strcasecmp(src->forward_headers[i], name))
			return HG_OK;
	grown = realloc(src->forward_headers, (src->n_forward_headers + 1) * sizeof *grown);
	if (!grown)
		return cfg_oom(c);
	src->forward_headers = grown;
	grown[src->n_forward_headers] = strdup(name);
	if (!grown[src->n_forward_headers])
		return cfg_oom(c);
	src->n_forward_headers++;
	return HG_OK;
}

/* cfg_each_string() callback: one configured name of forward_headers. */
static int cfg_forward_item(struct cfg_ctx *c, const yaml_node_t *at, const char *key,
			    const char *text, void *arg)
{
	struct hg_source *src = arg;

	if (cfg_index(cfg_signature_headers, text, 1) >= 0 ||
	    (src->header && !strcasecmp(src->header, text)))
		return cfg_fail(c, cfg_line(at),
				"%s: %s is a signature header; it is checked by hookgate and never "
				"forwarded (the application trusts hookgate, not the signature)",
				key, text);
	if (cfg_index(cfg_credential_headers, text, 1) >= 0)
		return cfg_fail(c, cfg_line(at),
				"%s: %s carries the caller's credentials; hookgate neither stores "
				"nor forwards it",
				key, text);
	if (cfg_is_own(text, cfg_own_headers))
		return cfg_fail(c, cfg_line(at),
				"%s: %s is set by hookgate on every delivery and cannot be "
				"forwarded",
				key, text);
	return cfg_add_forward(c, src, text);
}

int cfg_parse_forward_headers(struct cfg_ctx *c, const yaml_node_t *node, struct hg_source *src)
{
	const yaml_node_t *v = cfg_get(c, node, "forward_headers");
	const struct cfg_forward_default *d;
	const char *const *n;
	int rc;

	if (v && !cfg_is_null(v))
		return cfg_each_string(c, v, "forward_headers", CFG_HEADER_WHAT, cfg_header_ok,
				       cfg_forward_item, src);
	for (d = cfg_forward_defaults; d->provider; d++) {
		if (strcmp(d->provider, src->provider))
			continue;
		for (n = d->names; *n; n++) {
			rc = cfg_add_forward(c, src, *n);
			if (rc)
				return rc;
		}
	}
	return HG_OK;
}

/* text with each ${NAME} replaced by the variable's value, into *out (a
 * new string). A variable that is unset or empty is an error naming it;
 * values are never part of a message. Each name joins cfg->secret_envs. */
static int cfg_expand(struct cfg_ctx *c, const yaml_node_t *at, const char *key, const char *text,
		      char **out)
{
	struct hg_buf b = {0};
	const char *p, *end, *v;
	char name[128];
	size_t len;
	int rc = HG_OK;

	for (p = text; *p && rc == HG_OK; p++) {
		if (p[0] != '$' || p[1] != '{') {
			hg_buf_append(&b, p, 1);
			continue;
		}
		end = strchr(p + 2, '}');
		len = end ? (size_t)(end - (p + 2)) : 0;
		if (!end || !len || len >= sizeof name) {
			rc = cfg_fail(c, cfg_line(at),
				      "%s: a ${ without a variable name and a closing }; write "
				      "${NAME} with NAME an environment variable",
				      key);
			break;
		}
		memcpy(name, p + 2, len);
		name[len] = '\0';
		if (!cfg_env_name_ok(name)) {
			rc = cfg_fail(c, cfg_line(at),
				      "%s: ${%s} does not name an environment variable (letters, "
				      "digits and _)",
				      key, name);
			break;
		}
		v = c->flags & HG_CONFIG_NO_SECRETS ? "(secret not read)" : getenv(name);
		if (!v || !v[0]) {
			rc = cfg_fail(
			    c, cfg_line(at),
			    "%s: environment variable %s is not set or is empty; export it "
			    "before starting hookgate",
			    key, name);
			break;
		}
		if (strpbrk(v, "\r\n")) {
			rc = cfg_fail(
			    c, cfg_line(at),
			    "%s: environment variable %s holds a line break, which a header "
			    "value cannot",
			    key, name);
			break;
		}
		rc = cfg_note_secret_env(c, name);
		hg_buf_puts(&b, v);
		p = end;
	}
	if (rc == HG_OK && hg_buf_append(&b, "", 1) != HG_OK)
		rc = cfg_oom(c);
	if (rc != HG_OK) {
		if (b.data)
			OPENSSL_cleanse(b.data, b.len);
		hg_buf_free(&b);
		return rc;
	}
	*out = (char *)b.data;
	return HG_OK;
}

int cfg_parse_endpoint_headers(struct cfg_ctx *c, const yaml_node_t *node, struct hg_endpoint *ep,
			       const char *where)
{
	const yaml_node_t *m = cfg_get(c, node, "headers"), *k, *v;
	yaml_node_pair_t *p;
	struct hg_header *h;
	const char *name, *text;
	size_t n, i;
	int rc;

	if (!m || cfg_is_null(m))
		return HG_OK;
	if (m->type != YAML_MAPPING_NODE)
		return cfg_fail(c, cfg_line(m),
				"headers: %s: expected a mapping of header name to value such as "
				"{Authorization: \"Bearer ${ORDERS_TOKEN}\"}, got %s",
				where, cfg_kind(m));
	if (ep->argv)
		return cfg_fail(c, cfg_line(m),
				"headers: %s runs a command; headers are sent with HTTP deliveries "
				"only",
				where);
	n = (size_t)(m->data.mapping.pairs.top - m->data.mapping.pairs.start);
	ep->headers = calloc(n ? n : 1, sizeof *ep->headers);
	if (!ep->headers)
		return cfg_oom(c);
	for (p = m->data.mapping.pairs.start; p < m->data.mapping.pairs.top; p++) {
		k = yaml_document_get_node(&c->doc, p->key);
		v = yaml_document_get_node(&c->doc, p->value);
		rc = cfg_check(c, k, "headers", CFG_HEADER_WHAT, cfg_header_ok, &name);
		if (rc)
			return rc;
		if (cfg_is_own(name, cfg_own_headers) || cfg_index(cfg_own_signature, name, 1) >= 0)
			return cfg_fail(c, cfg_line(k),
					"headers: %s is set by hookgate on every delivery (its "
					"identity or signature) and cannot be overridden",
					name);
		for (i = 0; i < ep->n_headers; i++)
			if (!strcasecmp(ep->headers[i].name, name))
				return cfg_fail(c, cfg_line(k), "headers: %s is given twice in %s",
						name, where);
		if (v->type != YAML_SCALAR_NODE || cfg_is_null(v))
			return cfg_fail(c, cfg_line(v),
					"headers: the value of %s must be text, got %s", name,
					cfg_kind(v));
		text = (const char *)v->data.scalar.value;
		if (!text[0])
			return cfg_fail(c, cfg_line(v),
					"headers: the value of %s is empty; give a value or leave "
					"the header out",
					name);
		if (strpbrk(text, "\r\n"))
			return cfg_fail(c, cfg_line(v),
					"headers: the value of %s holds a line break, which a "
					"header value cannot",
					name);
		h = &ep->headers[ep->n_headers];
		h->name = strdup(name);
		if (!h->name)
			return cfg_oom(c);
		ep->n_headers++;
		rc = cfg_expand(c, v, "headers", text, &h->value);
		if (rc)
			return rc;
	}
	return HG_OK;
}
