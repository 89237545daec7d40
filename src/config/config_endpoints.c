/*
 * config_endpoints.c — the endpoints: section, and the routes of sources.
 *
 * An endpoint is an http(s) URL or an exec command (resolved to an absolute
 * path now, so the command that runs is the one config check saw), with its
 * timeout, retry policy, in-flight cap and signing secret. Routes name
 * endpoints, optionally with a `when` filter; endpoints are read before
 * sources, so a route to an unknown name is an error at its line.
 */
#include "config/config_internal.h"

#include <ctype.h>
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "verify/verify.h"

#define CFG_MAX_IN_FLIGHT   4096     /* attempts at once: more is a typo */
#define CFG_STANDARD_SECRET "whsec_" /* Standard Webhooks secret prefix */
#define CFG_WHEN_WHAT                                                                              \
	"\"$.json.path == value\", \"$.json.path != value\" or \"header:Name == value\" (or !=)"
#define CFG_WHEN_HEADER       "header:"
#define CFG_ENDPOINT_URL_WHAT "an http:// or https:// URL such as http://127.0.0.1:9000/process"

/* The default retry schedule: attempts at 0, +60 s, +2 min, +4 min, +8 min. */
const int64_t cfg_default_schedule_ms[] = {0, 60000, 120000, 240000, 480000};

static const char *const cfg_endpoint_keys[] = {
    "name",       "url",         "exec",   "timeout", "retry",   "max_in_flight",
    "secret_env", "secret_file", "secret", "headers", "circuit", NULL,
};
static const char *const cfg_circuit_keys[] = {"failures", "cooldown", NULL};
/* Keys of the nested mappings. */
static const char *const cfg_retry_keys[] = {"schedule",  "attempts", "base", "factor",
					     "max_delay", "jitter",   NULL};
/* The keys that choose the exponential form of retry. */
static const char *const cfg_retry_exp_keys[] = {"attempts", "base", "factor", NULL};
static const char *const cfg_route_keys[] = {"endpoint", "when", NULL};

/* hookgate's Standard Webhooks signer takes keys up to this many bytes
 * (HG_VERIFY_MAX_KEY in src/verify). */
#define CFG_MAX_SIGNING_KEY 256

/* 0 when path is a regular file this process may execute, else an errno. */
static int cfg_executable(const char *path)
{
	struct stat sb;

	if (stat(path, &sb))
		return errno;
	if (!S_ISREG(sb.st_mode))
		return EISDIR;
	return access(path, X_OK) ? errno : 0;
}

/* Makes *cmd an absolute path: as written when it has a '/' (then it must
 * be absolute), else the first executable of that name in a directory of
 * PATH. Looked up now, so the command that runs is the one config check
 * saw; relative PATH entries (the working directory) are skipped. */
int cfg_resolve_command(struct cfg_ctx *c, const yaml_node_t *at, const char *key, char **cmd)
{
	const char *dir, *end;
	size_t dl, cl = strlen(*cmd);
	char *full;
	int err;

	if (strchr(*cmd, '/')) {
		if ((*cmd)[0] != '/')
			return cfg_fail(
			    c, cfg_line(at),
			    "%s: \"%.64s\" is a relative path; give an absolute path or "
			    "the name of a command found on PATH",
			    key, *cmd);
		err = cfg_executable(*cmd);
		if (err)
			return cfg_fail(c, cfg_line(at), "%s: cannot run %s: %s", key, *cmd,
					err == EISDIR ? "not a regular file" : strerror(err));
		return HG_OK;
	}
	for (dir = getenv("PATH"); dir && *dir; dir = *end ? end + 1 : end) {
		end = strchr(dir, ':');
		if (!end)
			end = dir + strlen(dir);
		dl = (size_t)(end - dir);
		if (!dl || dir[0] != '/')
			continue;
		full = malloc(dl + 1 + cl + 1);
		if (!full)
			return cfg_oom(c);
		snprintf(full, dl + 1 + cl + 1, "%.*s/%s", (int)dl, dir, *cmd);
		if (!cfg_executable(full)) {
			free(*cmd);
			*cmd = full;
			return HG_OK;
		}
		free(full);
	}
	return cfg_fail(c, cfg_line(at),
			"%s: command '%.64s' was not found on PATH; give its absolute path, such "
			"as /usr/local/bin/%.64s",
			key, *cmd, *cmd);
}

/* exec: a command line split at spaces and tabs, run without a shell. */
static int cfg_parse_exec(struct cfg_ctx *c, const yaml_node_t *at, const char *text,
			  struct hg_endpoint *ep)
{
	const char *p;
	size_t n = 0, i, len;

	for (p = text + strspn(text, " \t"); *p; p += len, p += strspn(p, " \t")) {
		len = strcspn(p, " \t");
		n++;
	}
	if (!n)
		return cfg_bad_value(c, at, "exec",
				     "a command line such as /usr/local/bin/worker --queue orders",
				     text);
	ep->argv = calloc(n + 1, sizeof *ep->argv);
	if (!ep->argv)
		return cfg_oom(c);
	for (p = text + strspn(text, " \t"), i = 0; i < n; i++, p += len, p += strspn(p, " \t")) {
		len = strcspn(p, " \t");
		ep->argv[i] = strndup(p, len);
		if (!ep->argv[i])
			return cfg_oom(c);
	}
	return cfg_resolve_command(c, at, "exec", &ep->argv[0]);
}

/* max_in_flight of map (an endpoint's, or the top level's); *out keeps its
 * default when absent. */
int cfg_max_in_flight(struct cfg_ctx *c, const yaml_node_t *map, int *out)
{
	int64_t n = *out;
	int rc = cfg_number(c, map, "max_in_flight", CFG_INT, "a whole number from 1 to 4096", 1,
			    CFG_MAX_IN_FLIGHT, &n);

	*out = (int)n;
	return rc;
}

/* The retry policy every endpoint starts from: the default schedule. */
static int cfg_retry_default(struct cfg_ctx *c, struct hg_retry *r)
{
	r->schedule_ms = malloc(sizeof cfg_default_schedule_ms);
	if (!r->schedule_ms)
		return cfg_oom(c);
	memcpy(r->schedule_ms, cfg_default_schedule_ms, sizeof cfg_default_schedule_ms);
	r->attempts = sizeof cfg_default_schedule_ms / sizeof cfg_default_schedule_ms[0];
	r->max_delay_ms = HG_DEFAULT_RETRY_MAX_DELAY_MS;
	r->jitter = HG_DEFAULT_RETRY_JITTER;
	return HG_OK;
}

/* retry: {schedule: [...], max_delay, jitter} or {attempts, base, factor,
 * max_delay, jitter}. Keys left out keep their defaults. */
int cfg_parse_retry(struct cfg_ctx *c, const yaml_node_t *node, struct hg_retry *r,
		    const char *where)
{
	const yaml_node_t *m, *sched, *exp = NULL, *item;
	const char *const *k, *exp_key = NULL;
	size_t i, len;
	char in[128];
	int64_t n;
	int rc;

	snprintf(in, sizeof in, "retry of %s", where);
	rc = cfg_mapping(c, node, "retry", cfg_retry_keys, in,
			 "{schedule: [0s, 60s, 2m, 4m, 8m], max_delay: 1h, jitter: 10%}", &m);
	if (rc || !m)
		return rc;
	rc = cfg_number(c, m, "max_delay", CFG_DURATION, CFG_DURATION_WHAT, 1, INT64_MAX,
			&r->max_delay_ms);
	if (!rc)
		rc = cfg_real(c, m, "jitter", "a percentage from 0% to 100% such as 10%", 1, 0, 100,
			      &r->jitter);
	if (rc)
		return rc;
	for (k = cfg_retry_exp_keys; *k && !exp; k++) {
		exp = cfg_get(c, m, *k);
		exp_key = *k;
	}
	sched = cfg_get(c, m, "schedule");
	if (sched && exp)
		return cfg_fail(
		    c, cfg_line(exp),
		    "%s: %s gives both schedule: and %s:; use either schedule: (the wait "
		    "before each attempt) or attempts:, base: and factor: (exponential "
		    "backoff)",
		    exp_key, in, exp_key);
	if (exp) {
		free(r->schedule_ms);
		r->schedule_ms = NULL;
		r->base_ms = 1000;
		r->factor = 2;
		n = 5;
		rc = cfg_number(c, m, "attempts", CFG_INT, "a whole number from 1 to 100", 1,
				HG_MAX_RETRY_ATTEMPTS, &n);
		r->attempts = (size_t)n;
		if (!rc)
			rc = cfg_number(c, m, "base", CFG_DURATION, CFG_DURATION_WHAT, 1, INT64_MAX,
					&r->base_ms);
		if (!rc)
			rc = cfg_real(c, m, "factor", "a number from 1 to 100 such as 2 or 1.5", 0,
				      1, 100, &r->factor);
		return rc;
	}
	if (!sched)
		return HG_OK;
	if (sched->type != YAML_SEQUENCE_NODE)
		return cfg_fail(c, cfg_line(sched),
				"schedule: expected a list of waits such as [0s, 60s, 2m], got %s",
				cfg_kind(sched));
	len = (size_t)(sched->data.sequence.items.top - sched->data.sequence.items.start);
	if (!len || len > HG_MAX_RETRY_ATTEMPTS)
		return cfg_fail(c, cfg_line(sched),
				"schedule: expected 1 to %d waits (one per attempt), got %zu",
				HG_MAX_RETRY_ATTEMPTS, len);
	free(r->schedule_ms);
	r->schedule_ms = calloc(len, sizeof *r->schedule_ms);
	if (!r->schedule_ms)
		return cfg_oom(c);
	r->attempts = len;
	for (i = 0; i < len; i++) {
		item = yaml_document_get_node(&c->doc, sched->data.sequence.items.start[i]);
		rc = cfg_number_node(c, item, "schedule", CFG_DURATION,
				     "a duration such as 0s, 500ms or 2m", 0, INT64_MAX,
				     &r->schedule_ms[i]);
		if (rc)
			return rc;
	}
	return HG_OK;
}

/* circuit: {failures: N, cooldown: DURATION}, both required; absent: no
 * circuit (failures stays 0). */
static int cfg_parse_circuit(struct cfg_ctx *c, const yaml_node_t *node, struct hg_circuit *out,
			     const char *where)
{
	const yaml_node_t *m;
	char in[128];
	int rc;

	snprintf(in, sizeof in, "circuit of %s", where);
	rc = cfg_mapping(c, node, "circuit", cfg_circuit_keys, in, "{failures: 20, cooldown: 1m}",
			 &m);
	if (rc || !m)
		return rc;
	if (!cfg_get(c, m, "failures") || !cfg_get(c, m, "cooldown"))
		return cfg_fail(c, cfg_line(m),
				"circuit: %s needs both failures: (how many failed attempts in a "
				"row open it) and cooldown: (how long it stays open), such as "
				"{failures: 20, cooldown: 1m}",
				in);
	rc = cfg_number(c, m, "failures", CFG_INT, "a whole number from 1 to 1000000", 1, 1000000,
			&out->failures);
	if (!rc)
		rc = cfg_number(c, m, "cooldown", CFG_DURATION, CFG_DURATION_WHAT, 1, INT64_MAX,
				&out->cooldown_ms);
	return rc;
}

/* An endpoint's one signing secret, kept as Standard Webhooks writes it:
 * "whsec_<base64 of the key>". Given in that form it must decode; any other
 * value is the key's raw bytes and is wrapped. */
static int cfg_parse_endpoint_secret(struct cfg_ctx *c, const yaml_node_t *node,
				     struct hg_endpoint *ep, const char *where)
{
	const size_t plen = sizeof CFG_STANDARD_SECRET - 1;
	const struct cfg_secret_kind *kind = NULL, *k;
	const yaml_node_t *v = NULL, *at;
	struct hg_secret raw = {0};
	uint8_t key[CFG_MAX_SIGNING_KEY];
	const char *s;
	size_t len;
	int rc, n;

	for (k = cfg_secret_kinds; k < cfg_secret_kinds + CFG_N_SECRET_KINDS; k++) {
		at = cfg_get(c, node, k->key);
		if (at && kind)
			return cfg_fail(
			    c, cfg_line(at),
			    "%s: %s already has a secret (%s); an endpoint signs with one "
			    "secret",
			    k->key, where, kind->key);
		if (at) {
			kind = k;
			v = at;
		}
	}
	if (!kind)
		return HG_OK;
	rc = cfg_check(c, v, kind->key, kind->one, kind->valid, &s);
	if (!rc)
		rc = cfg_resolve_secret(c, v, kind->key, kind->from, s, &raw);
	if (rc)
		return rc;
	if (kind->from == CFG_FROM_INLINE)
		cfg_warn_inline(c, "endpoint", ep->name, cfg_line(v));
	if (raw.len > plen && !memcmp(raw.bytes, CFG_STANDARD_SECRET, plen)) {
		n = hg_b64_decode((const char *)raw.bytes + plen, raw.len - plen, key, sizeof key);
		OPENSSL_cleanse(key, sizeof key);
		if (n <= 0) {
			rc = cfg_fail(
			    c, cfg_line(v),
			    "%s: the secret starts with whsec_ but is not followed by "
			    "base64 of at most %d bytes; give it as it was generated, or raw "
			    "bytes without whsec_",
			    kind->key, CFG_MAX_SIGNING_KEY);
			goto out;
		}
		ep->secret = raw;
		raw.bytes = NULL;
		goto out;
	}
	if (raw.len > CFG_MAX_SIGNING_KEY) {
		rc = cfg_fail(c, cfg_line(v), "%s: the secret is longer than %d bytes", kind->key,
			      CFG_MAX_SIGNING_KEY);
		goto out;
	}
	len = plen + 4 * ((raw.len + 2) / 3);
	ep->secret.bytes = malloc(len + 1);
	if (!ep->secret.bytes) {
		rc = cfg_oom(c);
		goto out;
	}
	memcpy(ep->secret.bytes, CFG_STANDARD_SECRET, plen);
	ep->secret.len = plen + hg_b64_encode(raw.bytes, raw.len, (char *)ep->secret.bytes + plen);
out:
	cfg_wipe_secret(&raw);
	return rc;
}

int cfg_parse_endpoint(struct cfg_ctx *c, const yaml_node_t *node, size_t index, void *item)
{
	struct hg_endpoint *ep = item;
	const yaml_node_t *u, *e;
	const char *url, *cmd;
	char where[96];
	int rc;

	ep->line = cfg_line(node);
	ep->timeout_ms = HG_DEFAULT_ENDPOINT_TIMEOUT_MS;
	ep->max_in_flight = HG_DEFAULT_ENDPOINT_MAX_IN_FLIGHT;
	rc = cfg_retry_default(c, &ep->retry);
	if (rc)
		return rc;
	if (node->type != YAML_MAPPING_NODE)
		return cfg_fail(c, ep->line,
				"endpoints: each endpoint must be a mapping such as "
				"{name: orders, url: http://127.0.0.1:9000/process}, got %s",
				cfg_kind(node));
	cfg_where(c, node, "endpoint", index, where, sizeof where);
	rc = cfg_check_keys(c, node, cfg_endpoint_keys, cfg_none, where);
	if (!rc)
		rc = cfg_text(c, node, "name", CFG_NAME_WHAT, cfg_name_ok, &ep->name);
	if (rc)
		return rc;
	if (!ep->name)
		return cfg_fail(c, ep->line,
				"%s has no name; add name: (routes of sources refer to it)", where);

	rc = cfg_value(c, node, "url", CFG_ENDPOINT_URL_WHAT, cfg_endpoint_url_ok, &u, &url);
	if (!rc)
		rc = cfg_value(c, node, "exec", "a command line such as /usr/local/bin/worker",
			       cfg_nonempty_ok, &e, &cmd);
	if (rc)
		return rc;
	if (url && cmd)
		return cfg_fail(c, cfg_line(e),
				"exec: %s has both url and exec; an endpoint is either an HTTP URL "
				"or a command",
				where);
	if (!url && !cmd)
		return cfg_fail(
		    c, ep->line,
		    "%s has no target; add url: (an http:// or https:// URL) or exec: (a "
		    "command to run)",
		    where);
	if (url) {
		ep->url = strdup(url);
		if (!ep->url)
			return cfg_oom(c);
	} else {
		rc = cfg_parse_exec(c, e, cmd, ep);
		if (rc)
			return rc;
	}

	rc = cfg_number(c, node, "timeout", CFG_DURATION, CFG_DURATION_WHAT, 1, INT64_MAX,
			&ep->timeout_ms);
	if (rc)
		return rc;
	rc = cfg_max_in_flight(c, node, &ep->max_in_flight);
	if (rc)
		return rc;
	rc = cfg_parse_retry(c, node, &ep->retry, where);
	if (!rc)
		rc = cfg_parse_circuit(c, node, &ep->circuit, where);
	if (!rc)
		rc = cfg_parse_endpoint_secret(c, node, ep, where);
	return rc ? rc : cfg_parse_endpoint_headers(c, node, ep, where);
}

/* when: "PATH == VALUE" or "PATH != VALUE". The operator is the first ==
 * or != outside quotes (a path may hold ['a==b']); a value in single or
 * double quotes keeps its spaces. */
static int cfg_parse_when(struct cfg_ctx *c, const yaml_node_t *at, const char *text,
			  struct hg_route *r)
{
	const char *p, *op = NULL, *v;
	size_t plen, vlen;
	char quote = 0, *path;
	int rc;

	for (p = text; *p && !op; p++) {
		if (quote)
			quote = *p == quote ? 0 : quote;
		else if (*p == '\'' || *p == '"')
			quote = *p;
		else if ((*p == '=' || *p == '!') && p[1] == '=')
			op = p;
	}
	if (!op)
		return cfg_bad_value(c, at, "when", CFG_WHEN_WHAT, text);
	for (plen = (size_t)(op - text); plen && strchr(" \t", text[plen - 1]); plen--)
		;
	v = op + 2 + strspn(op + 2, " \t");
	for (vlen = strlen(v); vlen && strchr(" \t", v[vlen - 1]); vlen--)
		;
	if (vlen >= 2 && (v[0] == '\'' || v[0] == '"') && v[vlen - 1] == v[0]) {
		v++;
		vlen -= 2;
	} else if (!vlen) {
		return cfg_bad_value(c, at, "when", CFG_WHEN_WHAT, text);
	}
	path = strndup(text, plen);
	if (!path)
		return cfg_oom(c);
	if (!strncmp(path, CFG_WHEN_HEADER, sizeof CFG_WHEN_HEADER - 1)) {
		/* Stored lower-case: request headers arrive (and are stored)
		 * with lower-case names. */
		r->header = strdup(path + sizeof CFG_WHEN_HEADER - 1);
		rc = r->header ? HG_OK : cfg_oom(c);
		if (!rc && !cfg_header_ok(r->header))
			rc = cfg_bad_value(c, at, "when", CFG_WHEN_WHAT, text);
		for (p = r->header; !rc && *p; p++)
			r->header[p - r->header] = (char)tolower((unsigned char)*p);
	} else {
		rc = cfg_compile_path(c, at, "when", path, &r->path);
	}
	free(path);
	if (rc)
		return rc;
	r->negate = *op == '!';
	r->value = strndup(v, vlen);
	r->when = strdup(text);
	return r->value && r->when ? HG_OK : cfg_oom(c);
}

/* One item of routes: an endpoint name, or {endpoint: NAME, when: FILTER}. */
static int cfg_add_route(struct cfg_ctx *c, const yaml_node_t *item, struct hg_source *src,
			 const char *where)
{
	const yaml_node_t *name_node = item, *w = NULL;
	const char *name = NULL, *when = NULL;
	struct hg_route *r, *grown;
	char in[128], list[256];
	size_t i, used = 0;
	int rc;

	grown = realloc(src->routes, (src->n_routes + 1) * sizeof *grown);
	if (!grown)
		return cfg_oom(c);
	src->routes = grown;
	r = &src->routes[src->n_routes++];
	memset(r, 0, sizeof *r);
	r->line = cfg_line(item);
	if (item->type == YAML_MAPPING_NODE) {
		snprintf(in, sizeof in, "a route of %s", where);
		rc = cfg_check_keys(c, item, cfg_route_keys, cfg_none, in);
		if (!rc)
			rc = cfg_value(c, item, "endpoint", "an endpoint name", NULL, &name_node,
				       &name);
		if (!rc)
			rc = cfg_value(c, item, "when", CFG_WHEN_WHAT, NULL, &w, &when);
		if (rc)
			return rc;
		if (!name)
			return cfg_fail(
			    c, r->line,
			    "routes: a route of %s names no endpoint; add endpoint: NAME", where);
	} else {
		rc = cfg_check(c, item, "routes",
			       "an endpoint name, or {endpoint: NAME, when: \"$.path == value\"}",
			       NULL, &name);
		if (rc)
			return rc;
	}
	r->endpoint = hg_config_find_endpoint(c->cfg, name);
	if (!r->endpoint) {
		list[0] = '\0';
		for (i = 0; i < c->cfg->n_endpoints && used < sizeof list; i++)
			used += (size_t)snprintf(
			    list + used, sizeof list - used, "%s%s",
			    i ? ", " : "defined endpoints: ", c->cfg->endpoints[i].name);
		return cfg_fail(c, cfg_line(name_node),
				"routes: %s routes to endpoint '%.64s', which is not defined; %s",
				where, name, i ? list : "define it under endpoints:");
	}
	return when ? cfg_parse_when(c, w, when, r) : HG_OK;
}

/* routes: one endpoint name, or a list of names and {endpoint, when}. */
int cfg_parse_routes(struct cfg_ctx *c, const yaml_node_t *node, struct hg_source *src,
		     const char *where)
{
	const yaml_node_t *v = cfg_get(c, node, "routes");
	yaml_node_item_t *it;
	int rc;

	if (!v)
		return HG_OK;
	if (v->type != YAML_SEQUENCE_NODE)
		return cfg_add_route(c, v, src, where);
	for (it = v->data.sequence.items.start; it < v->data.sequence.items.top; it++) {
		rc = cfg_add_route(c, yaml_document_get_node(&c->doc, *it), src, where);
		if (rc)
			return rc;
	}
	return HG_OK;
}
