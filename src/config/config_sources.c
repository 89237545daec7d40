/*
 * config_sources.c — the sources: section, one struct hg_source per element.
 *
 * A source's provider scheme and its options (hmac, replay windows), its
 * secrets (resolved here, once, from the environment, files or inline
 * text), its dedupe and rate-limit rules, its mTLS requirement and its
 * routes. The routes themselves are read by config_endpoints.c, next to the
 * endpoints they name.
 */
#include "config/config_internal.h"

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>

#include "util/jsonpath.h"
#include "verify/verify.h"

#define CFG_MAX_SECRET_FILE      ((size_t)64 << 10) /* a larger secret file is the wrong file */
#define CFG_DEFAULT_REPLAY_MS    (300 * 1000)       /* tolerance and max_age when not given */
#define CFG_DEFAULT_MAX_AGE_PATH "$.timestamp"      /* max_age: 5m means this field */
#define CFG_KEY_RULE_WHAT        "\"header:Name\", \"form:Name\" or a JSON path starting with $"

static const char *const cfg_source_keys[] = {
    "name",
    "provider",
    "secret_env",
    "secret_file",
    "secret",
    "verify_token_env",
    "dedupe",
    "max_body",
    "header",
    "algorithm",
    "encoding",
    "prefix",
    "tolerance",
    "max_age",
    "public_url",
    "rate_limit",
    "mtls",
    "routes",
    "max_dedupe_keys",
    "forward_headers",
    "retention",
    "media",
    NULL,
};
/* Keys of the nested mappings. */
static const char *const cfg_max_age_keys[] = {"path", "within", NULL};
static const char *const cfg_rate_limit_keys[] = {"key", "limit", "per", NULL};
static const char *const cfg_mtls_keys[] = {"require", "subject", NULL};
/* Keys of the generic `hmac` scheme; other providers fix these themselves. */
static const char *const cfg_hmac_keys[] = {"header", "algorithm", "encoding", "prefix", NULL};
/* Providers that sign a timestamp, so `tolerance` means something to them;
 * on any other a tolerance would promise replay protection it cannot give. */
static const char *const cfg_timestamped[] = {"stripe", "slack", "standard", "zoho", NULL};
/* Providers that sign no timestamp but may bound a body field's age. */
static const char *const cfg_max_age_providers[] = {"clipper", "hmac", NULL};

/* Indexed by the enums they spell, so a name's position is its value. */
static const char *const cfg_hashes[] = {
    [HG_SHA1] = "sha1",
    [HG_SHA256] = "sha256",
    [HG_SHA512] = "sha512",
    NULL,
};
static const char *const cfg_encodings[] = {[HG_ENC_HEX] = "hex", [HG_ENC_BASE64] = "base64", NULL};

char *cfg_resolve_path(const struct cfg_ctx *c, const char *path)
{
	size_t n;
	char *out;

	if (path[0] == '/' || !c->dir)
		return strdup(path);
	n = strlen(c->dir) + 1 + strlen(path) + 1;
	out = malloc(n);
	if (out)
		snprintf(out, n, "%s/%s", c->dir, path);
	return out;
}

int cfg_note_secret_env(struct cfg_ctx *c, const char *name)
{
	struct hg_config *cfg = c->cfg;
	char **grown;
	size_t i;

	for (i = 0; i < cfg->n_secret_envs; i++)
		if (!strcmp(cfg->secret_envs[i], name))
			return HG_OK;
	grown = realloc(cfg->secret_envs, (cfg->n_secret_envs + 1) * sizeof *grown);
	if (!grown)
		return cfg_oom(c);
	cfg->secret_envs = grown;
	cfg->secret_envs[cfg->n_secret_envs] = strdup(name);
	if (!cfg->secret_envs[cfg->n_secret_envs])
		return cfg_oom(c);
	cfg->n_secret_envs++;
	return HG_OK;
}

/* The bytes of one secret named by text; at and key are for messages.
 * Error messages name the variable or file, never the value. */
int cfg_resolve_secret(struct cfg_ctx *c, const yaml_node_t *at, const char *key,
		       enum cfg_from from, const char *text, struct hg_secret *out)
{
	const char *v;
	char *path = NULL;
	uint8_t *bytes = NULL;
	size_t len = 0;
	int rc = HG_OK;

	if (c->flags & HG_CONFIG_NO_SECRETS) {
		/* Shape only: a stand-in that is never a real secret, so every
		 * check downstream sees "a secret is configured". */
		static const char stand_in[] = "(secret not read)";

		bytes = malloc(sizeof(stand_in));
		if (!bytes)
			return cfg_oom(c);
		memcpy(bytes, stand_in, sizeof(stand_in));
		out->bytes = bytes;
		out->len = sizeof(stand_in) - 1;
		return HG_OK;
	}
	switch (from) {
	case CFG_FROM_ENV:
		v = getenv(text);
		if (!v || !v[0]) {
			rc = cfg_fail(
			    c, cfg_line(at),
			    "%s: environment variable %s is not set or is empty; export it "
			    "before starting hookgate",
			    key, text);
			goto out;
		}
		rc = cfg_note_secret_env(c, text);
		if (rc)
			goto out;
		len = strlen(v);
		bytes = malloc(len + 1);
		if (!bytes) {
			rc = cfg_oom(c);
			goto out;
		}
		memcpy(bytes, v, len + 1);
		break;
	case CFG_FROM_FILE:
		path = cfg_resolve_path(c, text);
		if (!path) {
			rc = cfg_oom(c);
			goto out;
		}
		rc = cfg_read_file(path, CFG_MAX_SECRET_FILE, &bytes, &len);
		if (rc == HG_ENOMEM) {
			rc = cfg_oom(c);
			goto out;
		}
		if (rc == HG_ETOOBIG) {
			rc = cfg_fail(c, cfg_line(at),
				      "%s: %s is larger than %zu KiB; is it the right file?", key,
				      path, CFG_MAX_SECRET_FILE >> 10);
			goto out;
		}
		if (rc) {
			rc = cfg_fail(c, cfg_line(at), "%s: cannot read %s: %s", key, path,
				      strerror(errno));
			goto out;
		}
		/* editors and `echo` add one line break; it is not part of the secret */
		if (len && bytes[len - 1] == '\n')
			len--;
		if (len && bytes[len - 1] == '\r')
			len--;
		bytes[len] = '\0';
		if (!len) {
			rc = cfg_fail(c, cfg_line(at), "%s: %s is empty; put the secret in it", key,
				      path);
			goto out;
		}
		break;
	case CFG_FROM_INLINE:
		len = strlen(text);
		bytes = malloc(len + 1);
		if (!bytes) {
			rc = cfg_oom(c);
			goto out;
		}
		memcpy(bytes, text, len + 1);
		break;
	}
	out->bytes = bytes;
	out->len = len;
	bytes = NULL;
out:
	if (bytes) {
		OPENSSL_cleanse(bytes, len);
		free(bytes);
	}
	free(path);
	return rc;
}

/* The keys a secret may be given with, in the order they are tried. */
const struct cfg_secret_kind cfg_secret_kinds[] = {
    {"secret_env", CFG_FROM_ENV, "an environment variable name or a list of them",
     "an environment variable name", cfg_env_name_ok},
    {"secret_file", CFG_FROM_FILE, "a file path or a list of them", "a file path", cfg_nonempty_ok},
    {"secret", CFG_FROM_INLINE, "a secret or a list of them", "a secret", cfg_nonempty_ok},
};

/* An inline secret is fine on a laptop and wrong anywhere else: say so,
 * naming where it is (never the value). */
void cfg_warn_inline(const struct cfg_ctx *c, const char *what, const char *name, int line)
{
	hg_log(HG_LOG_WARN,
	       "inline secret in the config file; use secret_env or secret_file outside "
	       "development",
	       what, HG_LS(name), "file", HG_LS(c->file), "line", HG_LI(line), NULL);
}

struct cfg_secret_arg {
	struct hg_source *src;
	enum cfg_from from;
};

static int cfg_add_secret(struct cfg_ctx *c, const yaml_node_t *at, const char *key,
			  const char *text, void *arg)
{
	struct cfg_secret_arg *a = arg;
	struct hg_secret s = {0}, *grown;
	int rc;

	rc = cfg_resolve_secret(c, at, key, a->from, text, &s);
	if (rc)
		return rc;
	grown = realloc(a->src->secrets, (a->src->n_secrets + 1) * sizeof *grown);
	if (!grown) {
		cfg_wipe_secret(&s);
		return cfg_oom(c);
	}
	a->src->secrets = grown;
	a->src->secrets[a->src->n_secrets++] = s;
	return HG_OK;
}

static int cfg_parse_secrets(struct cfg_ctx *c, const yaml_node_t *node, struct hg_source *src,
			     const char *where)
{
	const struct cfg_secret_kind *kinds = cfg_secret_kinds;
	struct cfg_secret_arg arg = {.src = src};
	const yaml_node_t *v;
	const char *s;
	size_t i, before;
	int rc;

	for (i = 0; i < CFG_N_SECRET_KINDS; i++) {
		v = cfg_get(c, node, kinds[i].key);
		if (!v)
			continue;
		arg.from = kinds[i].from;
		before = src->n_secrets;
		rc = cfg_each_string(c, v, kinds[i].key, kinds[i].what, kinds[i].valid,
				     cfg_add_secret, &arg);
		if (rc)
			return rc;
		if (kinds[i].from == CFG_FROM_INLINE && src->n_secrets > before)
			cfg_warn_inline(c, "source", src->name, cfg_line(v));
	}
	if (!src->n_secrets)
		return cfg_fail(c, src->line,
				"%s has no secret; set secret_env (environment variables), "
				"secret_file (files) or, for development only, secret (inline)",
				where);

	rc = cfg_value(c, node, "verify_token_env", "an environment variable name", cfg_env_name_ok,
		       &v, &s);
	if (rc || !s)
		return rc;
	return cfg_resolve_secret(c, v, "verify_token_env", CFG_FROM_ENV, s, &src->verify_token);
}

/* text as a compiled JSON path; at and key are for the message. */
int cfg_compile_path(struct cfg_ctx *c, const yaml_node_t *at, const char *key, const char *text,
		     struct hg_jsonpath **out)
{
	char reason[160] = "";

	if (text[0] != '$')
		return cfg_bad_value(c, at, key, "a JSON path starting with $", text);
	*out = hg_jsonpath_compile(text, reason, sizeof reason);
	if (!*out)
		return cfg_fail(c, cfg_line(at), "%s: \"%.64s\" is not a valid JSON path: %s", key,
				text, reason);
	return HG_OK;
}

/* A rule that picks a value from a request, as dedupe and rate_limit write
 * it: "header:Name" sets *header, "form:Name" *form (a field of a
 * form-encoded body), "$..." *path. what describes every accepted form,
 * for the message when text is none of them. */
static int cfg_key_rule(struct cfg_ctx *c, const yaml_node_t *at, const char *key, const char *text,
			const char *what, char **header, char **form, struct hg_jsonpath **path)
{
	const char *name;

	if (text[0] == '$')
		return cfg_compile_path(c, at, key, text, path);
	if (!strncasecmp(text, "form:", 5)) {
		name = text + 5 + strspn(text + 5, " \t");
		if (!name[0])
			return cfg_fail(c, cfg_line(at),
					"%s: \"%.64s\" needs a form field name after 'form:', as "
					"in form:MessageSid",
					key, text);
		*form = strdup(name);
		return *form ? HG_OK : cfg_oom(c);
	}
	if (strncasecmp(text, "header:", 7))
		return cfg_bad_value(c, at, key, what, text);
	name = text + 7;
	name += strspn(name, " \t");
	if (!cfg_header_ok(name))
		return cfg_fail(c, cfg_line(at),
				"%s: \"%.64s\" needs a header name after 'header:', as in "
				"header:X-GitHub-Delivery",
				key, text);
	*header = strdup(name);
	return *header ? HG_OK : cfg_oom(c);
}

/* One dedupe rule: "header:Name", "form:Name" or a JSON path starting with '$'. */
static int cfg_add_dedupe(struct cfg_ctx *c, const yaml_node_t *at, const char *key,
			  const char *text, void *arg)
{
	struct hg_source *src = arg;
	struct hg_dedupe_rule r = {0}, *grown;
	int rc;

	rc = cfg_key_rule(c, at, key, text, CFG_KEY_RULE_WHAT, &r.header, &r.form, &r.path);
	if (rc)
		goto out;
	r.expr = strdup(text);
	grown = r.expr ? realloc(src->dedupe, (src->n_dedupe + 1) * sizeof *grown) : NULL;
	if (!grown) {
		rc = cfg_oom(c);
		goto out;
	}
	src->dedupe = grown;
	src->dedupe[src->n_dedupe++] = r;
	return HG_OK;
out:
	free(r.expr);
	free(r.header);
	free(r.form);
	if (r.path)
		hg_jsonpath_free(r.path);
	return rc;
}

/* Configured rules, or the scheme's defaults when `dedupe` is absent.
 * `dedupe: []` asks for the SHA-256 of the body. */
static int cfg_parse_dedupe(struct cfg_ctx *c, const yaml_node_t *node, struct hg_source *src)
{
	const yaml_node_t *v = cfg_get(c, node, "dedupe");
	const char *const *d;
	int rc;

	if (v)
		return cfg_each_string(c, v, "dedupe",
				       "\"header:Name\", \"form:Name\", a JSON path starting "
				       "with $, or a list of them",
				       NULL, cfg_add_dedupe, src);
	for (d = src->scheme->default_dedupe; d && *d; d++) {
		rc = cfg_add_dedupe(c, node, "dedupe", *d, src);
		if (rc)
			return rc;
	}
	return HG_OK;
}

/* Provider token's header: a header name, or "query:Name" for a query
 * parameter (a name without the characters that end or encode one). */
static int cfg_token_where_ok(const char *s)
{
	const char *name;

	if (!hg_verify_token_query_name(s, &name))
		return cfg_header_ok(s);
	return name[0] && !strpbrk(name, "&=#%+? \t");
}

static int cfg_parse_hmac(struct cfg_ctx *c, const yaml_node_t *node, struct hg_source *src,
			  const char *where)
{
	const char *const *k;
	const yaml_node_t *v;
	int i = (int)src->algorithm, rc;
	int token = !strcmp(src->scheme->name, "token");

	if (token) {
		rc =
		    cfg_text(c, node, "header", "a header name such as x-zoho-token, or query:Name",
			     cfg_token_where_ok, &src->header);
		if (!rc && !src->header)
			rc = cfg_fail(c, src->line,
				      "%s uses provider token and needs header: the request header "
				      "that carries the token, such as x-zoho-token, or query:Name "
				      "for a query parameter",
				      where);
		if (rc)
			return rc;
	}
	if (strcmp(src->scheme->name, "hmac")) {
		for (k = cfg_hmac_keys + token; *k; k++) {
			v = cfg_get(c, node, *k);
			if (v)
				return cfg_fail(c, cfg_line(v),
						"%s: only %s this key; %s uses provider %s, "
						"which fixes it",
						*k,
						k == cfg_hmac_keys ? "providers hmac and token take"
								   : "provider hmac takes",
						where, src->provider);
		}
		return HG_OK;
	}
	rc = cfg_text(c, node, "header", "an HTTP header name such as x-zoho-webhook-signature",
		      cfg_header_ok, &src->header);
	if (rc)
		return rc;
	if (!src->header)
		return cfg_fail(c, src->line,
				"%s uses provider hmac and needs header: the request header that "
				"carries the signature, such as x-zoho-webhook-signature",
				where);
	rc = cfg_choice(c, node, "algorithm", cfg_hashes, &i);
	if (rc)
		return rc;
	src->algorithm = (enum hg_hash)i;
	i = (int)src->encoding;
	rc = cfg_choice(c, node, "encoding", cfg_encodings, &i);
	if (rc)
		return rc;
	src->encoding = (enum hg_encoding)i;
	return cfg_text(c, node, "prefix", "a prefix such as \"sha256=\"", cfg_nonempty_ok,
			&src->prefix);
}

/* tolerance (timestamped providers) and max_age (clipper, hmac). */
static int cfg_parse_replay(struct cfg_ctx *c, const yaml_node_t *node, struct hg_source *src,
			    const char *where)
{
	const yaml_node_t *v = cfg_get(c, node, "tolerance"), *m, *p;
	const char *path = CFG_DEFAULT_MAX_AGE_PATH;
	char list[128];
	int rc;

	if (v && cfg_index(cfg_timestamped, src->scheme->name, 0) < 0)
		return cfg_fail(c, cfg_line(v),
				"tolerance: %s uses provider %s, which signs no timestamp; "
				"tolerance applies to %s%s",
				where, src->provider, cfg_join(cfg_timestamped, list, sizeof list),
				cfg_index(cfg_max_age_providers, src->scheme->name, 0) >= 0
				    ? " (use max_age to bound a body field's age)"
				    : "");
	if (v) {
		rc = cfg_number_node(c, v, "tolerance", CFG_DURATION, CFG_DURATION_WHAT, 1,
				     INT64_MAX, &src->tolerance_ms);
		if (rc)
			return rc;
	}

	v = cfg_get(c, node, "max_age");
	if (!v)
		return HG_OK;
	if (cfg_index(cfg_max_age_providers, src->scheme->name, 0) < 0)
		return cfg_fail(c, cfg_line(v),
				"max_age: only providers %s take this key; %s uses provider %s%s",
				cfg_join(cfg_max_age_providers, list, sizeof list), where,
				src->provider,
				cfg_index(cfg_timestamped, src->scheme->name, 0) >= 0
				    ? ", whose signed timestamp is checked against tolerance"
				    : "");
	if (v->type != YAML_MAPPING_NODE) { /* max_age: 5m means $.timestamp within 5m */
		rc = cfg_number_node(c, v, "max_age", CFG_DURATION,
				     "a duration above zero such as 5m, or "
				     "{path: $.timestamp, within: 5m}",
				     1, INT64_MAX, &src->max_age_ms);
		return rc ? rc : cfg_compile_path(c, v, "max_age", path, &src->max_age_path);
	}
	rc = cfg_mapping(c, node, "max_age", cfg_max_age_keys, "max_age",
			 "{path: $.timestamp, within: 5m}", &m);
	if (rc)
		return rc;
	rc = cfg_value(c, m, "path", "a JSON path starting with $, such as $.timestamp", NULL, &p,
		       &path);
	if (rc)
		return rc;
	rc = cfg_compile_path(c, p ? p : m, "path", path ? path : CFG_DEFAULT_MAX_AGE_PATH,
			      &src->max_age_path);
	if (rc)
		return rc;
	return cfg_number(c, m, "within", CFG_DURATION, CFG_DURATION_WHAT, 1, INT64_MAX,
			  &src->max_age_ms);
}

/* rate_limit: {key: ip | "header:NAME" | "form:NAME" | "$.path", limit: N, per: DURATION} */
static int cfg_parse_rate_limit(struct cfg_ctx *c, const yaml_node_t *node, struct hg_source *src,
				const char *where)
{
	struct hg_rate_limit *rl = &src->rate_limit;
	const yaml_node_t *m, *v;
	const char *s;
	char in[128];
	int rc;

	snprintf(in, sizeof in, "rate_limit of %s", where);
	rc = cfg_mapping(c, node, "rate_limit", cfg_rate_limit_keys, in,
			 "{key: ip, limit: 100, per: 1h}", &m);
	if (rc || !m)
		return rc;
	rc = cfg_value(c, m, "key", "ip, " CFG_KEY_RULE_WHAT, NULL, &v, &s);
	if (rc)
		return rc;
	if (!s)
		return cfg_fail(c, cfg_key_line(c, node, "rate_limit"),
				"rate_limit: %s needs key: what a limit counts per, such as ip, "
				"header:X-Api-Key or $.entry[*].changes[*].value.messages[*].from",
				where);
	if (!strcmp(s, "ip"))
		rl->by_ip = 1;
	else
		rc = cfg_key_rule(c, v, "key", s, "ip, " CFG_KEY_RULE_WHAT, &rl->header, &rl->form,
				  &rl->path);
	if (rc)
		return rc;
	rl->key = strdup(s);
	if (!rl->key)
		return cfg_oom(c);
	rc = cfg_number(c, m, "limit", CFG_INT, "a whole number >= 1", 1, INT64_MAX, &rl->limit);
	if (!rc)
		rc = cfg_number(c, m, "per", CFG_DURATION, CFG_DURATION_WHAT, 1, INT64_MAX,
				&rl->per_ms);
	if (rc)
		return rc;
	if (!rl->limit || !rl->per_ms)
		return cfg_fail(c, cfg_key_line(c, node, "rate_limit"),
				"rate_limit: %s needs both limit: (requests) and per: (a "
				"duration), as in {key: ip, limit: 100, per: 1h}",
				where);
	return HG_OK;
}

/* A name a certificate's CN or DNS SAN can carry, and that an RFC 4514 DN
 * from a proxy header can be searched for without escaping rules: printable
 * ASCII without DN specials, no surrounding spaces. */
static int cfg_subject_ok(const char *s)
{
	size_t i, n = strlen(s);

	if (!n || s[0] == ' ' || s[n - 1] == ' ')
		return 0;
	for (i = 0; i < n; i++)
		if (s[i] < 0x20 || s[i] > 0x7e || strchr(",+\"\\;<>=#", s[i]))
			return 0;
	return 1;
}

/* One mtls subject name, appended to the source's list. */
static int cfg_add_subject(struct cfg_ctx *c, const yaml_node_t *at, const char *key,
			   const char *text, void *arg)
{
	struct hg_source *src = arg;
	char **grown, *name;

	(void)at;
	(void)key;
	name = strdup(text);
	grown =
	    name ? realloc(src->mtls_subjects, (src->n_mtls_subjects + 1) * sizeof *grown) : NULL;
	if (!grown) {
		free(name);
		return cfg_oom(c);
	}
	src->mtls_subjects = grown;
	src->mtls_subjects[src->n_mtls_subjects++] = name;
	return HG_OK;
}

/* mtls: {require: bool, subject: NAME or [NAME, ...]}; any listed name
 * matches. Provider meta needs no subject: its certificate's name is known.
 * A required certificate must be able to reach us: through our own TLS
 * (client_ca) or a trusted proxy's headers. */
static int cfg_parse_mtls(struct cfg_ctx *c, const yaml_node_t *node, const struct hg_config *cfg,
			  struct hg_source *src, const char *where)
{
	const yaml_node_t *m, *v;
	char in[128];
	int require = 0, rc;

	snprintf(in, sizeof in, "mtls of %s", where);
	rc = cfg_mapping(c, node, "mtls", cfg_mtls_keys, in,
			 "{require: true, subject: " HG_META_MTLS_SUBJECT "}", &m);
	if (rc || !m)
		return rc;
	rc = cfg_choice(c, m, "require", cfg_bools, &require);
	v = cfg_get(c, m, "subject");
	if (!rc && v)
		rc = cfg_each_string(c, v, "subject",
				     "a certificate subject name such as " HG_META_MTLS_SUBJECT
				     ", or a list of them",
				     cfg_subject_ok, cfg_add_subject, src);
	if (rc || !require)
		return rc;
	src->mtls_require = 1;
	v = cfg_get(c, m, "require");
	if (!src->n_mtls_subjects && !strcmp(src->scheme->name, "meta"))
		rc = cfg_add_subject(c, v, "subject", HG_META_MTLS_SUBJECT, src);
	if (rc)
		return rc;
	if (!src->n_mtls_subjects)
		return cfg_fail(c, cfg_key_line(c, node, "mtls"),
				"mtls: %s requires a client certificate but names no subject; add "
				"subject: the CN or DNS name the certificate must carry (or a list "
				"of them), such as %s",
				where, HG_META_MTLS_SUBJECT);
	if (!cfg->tls_client_ca && !cfg->n_trusted_proxies)
		return cfg_fail(c, cfg_line(v),
				"require: %s requires a client certificate, but none can reach "
				"hookgate; set tls: {client_ca: ...} at the top level (hookgate "
				"terminates TLS) or trusted_proxies (a proxy verifies it)",
				where);
	return HG_OK;
}

int cfg_parse_source(struct cfg_ctx *c, const yaml_node_t *node, size_t index, void *item)
{
	const struct hg_config *cfg = c->cfg;
	struct hg_source *src = item;
	const yaml_node_t *v;
	const char *s;
	char where[96], what[512];
	int rc;

	src->line = cfg_line(node);
	src->max_body = cfg->max_body;
	src->max_dedupe_keys = cfg->max_dedupe_keys;
	src->algorithm = HG_SHA256;
	src->encoding = HG_ENC_HEX;
	src->tolerance_ms = CFG_DEFAULT_REPLAY_MS;
	src->max_age_ms = CFG_DEFAULT_REPLAY_MS;
	src->retention_ms = -1;
	if (node->type != YAML_MAPPING_NODE)
		return cfg_fail(c, src->line,
				"sources: each source must be a mapping such as "
				"{name: ..., provider: ...}, got %s",
				cfg_kind(node));
	cfg_where(c, node, "source", index, where, sizeof where);
	rc = cfg_check_keys(c, node, cfg_source_keys, cfg_none, where);
	if (rc)
		return rc;

	rc = cfg_text(c, node, "name", CFG_NAME_WHAT, cfg_name_ok, &src->name);
	if (rc)
		return rc;
	if (!src->name)
		return cfg_fail(c, src->line, "%s has no name; add name: (its URL is /in/NAME)",
				where);

	snprintf(what, sizeof what, "one of %s", hg_verify_names());
	rc = cfg_value(c, node, "provider", what, NULL, &v, &s);
	if (rc)
		return rc;
	if (!s)
		return cfg_fail(c, src->line, "%s has no provider; add provider: with %s", where,
				what);
	src->scheme = hg_verify_find(s);
	if (!src->scheme)
		return cfg_bad_value(c, v, "provider", what, s);
	src->provider = strdup(s);
	if (!src->provider)
		return cfg_oom(c);

	rc = cfg_size_limits(c, node, &src->max_body, &src->max_dedupe_keys);
	if (rc)
		return rc;
	rc = cfg_number(c, node, "retention", CFG_DURATION,
			"a duration such as 30d or 2557d, or 0 to keep its messages forever", 0,
			INT64_MAX, &src->retention_ms);
	if (rc)
		return rc;

	rc = cfg_parse_hmac(c, node, src, where);
	if (!rc)
		rc = cfg_parse_secrets(c, node, src, where);
	if (!rc)
		rc = cfg_parse_dedupe(c, node, src);
	if (!rc)
		rc = cfg_parse_replay(c, node, src, where);
	if (!rc)
		rc = cfg_url(c, node, "public_url", &src->public_url);
	if (!rc)
		rc = cfg_parse_rate_limit(c, node, src, where);
	if (!rc)
		rc = cfg_parse_mtls(c, node, cfg, src, where);
	if (!rc)
		rc = cfg_parse_forward_headers(c, node, src);
	if (!rc)
		rc = cfg_parse_routes(c, node, src, where);
	if (!rc)
		rc = cfg_parse_media(c, node, src, where);
	return rc;
}
