/*
 * config_yaml.c — reading the config's YAML nodes, and saying what is wrong.
 *
 * Every reader here takes a node (or a key of a mapping), checks its shape
 * and content, and either fills the caller's field or writes one sentence
 * that starts with "FILE:LINE:" and names the key (cfg_fail). The section
 * files (config_sources.c, config_endpoints.c, config.c) are built from
 * these, so a key of any section is read and reported the same way. Also
 * here: the checks of what values may look like (names, URLs, listen
 * addresses) and small helpers the sections share.
 */
#include "config/config_internal.h"

#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>

#define CFG_URL_WHAT "an http:// or https:// URL without query, such as https://hooks.example.com"

const char *const cfg_none[] = {NULL};
const char *const cfg_bools[] = {"false", "true", NULL};

/* ---- errors ---- */

int cfg_line(const yaml_node_t *n)
{
	return (int)n->start_mark.line + 1;
}

/* Writes "FILE:LINE: <message>" into the caller's buffer; returns HG_EINVAL.
 * The message is one line whatever the file holds: a control character in
 * a quoted value or key (a folded or "\n"-escaped YAML scalar, a terminal
 * escape) is shown as '?'. */
__attribute__((format(printf, 3, 4))) int cfg_fail(struct cfg_ctx *c, int line, const char *fmt,
						   ...)
{
	va_list ap;
	char *p;
	int n;

	if (!c->err || !c->errlen)
		return HG_EINVAL;
	n = snprintf(c->err, c->errlen, "%s:%d: ", c->file, line);
	if (n < 0 || (size_t)n >= c->errlen)
		return HG_EINVAL;
	va_start(ap, fmt);
	vsnprintf(c->err + n, c->errlen - (size_t)n, fmt, ap);
	va_end(ap);
	for (p = c->err + n; *p != '\0'; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = '?';
	return HG_EINVAL;
}

int cfg_oom(struct cfg_ctx *c)
{
	if (c->err && c->errlen)
		snprintf(c->err, c->errlen, "%s: out of memory while loading the config", c->file);
	return HG_ENOMEM;
}

/* The one message for a value of the right shape but wrong content. */
int cfg_bad_value(struct cfg_ctx *c, const yaml_node_t *at, const char *key, const char *what,
		  const char *s)
{
	return cfg_fail(c, cfg_line(at), "%s: expected %s, got \"%.64s\"", key, what, s);
}

/* ---- small helpers ---- */

/* Position of s in a NULL-terminated list, or -1. Keys match exactly;
 * choices such as log levels match in any case. */
int cfg_index(const char *const *names, const char *s, int any_case)
{
	int i;

	for (i = 0; names[i]; i++)
		if (any_case ? !strcasecmp(names[i], s) : !strcmp(names[i], s))
			return i;
	return -1;
}

const char *cfg_join(const char *const *names, char *buf, size_t len)
{
	size_t used = 0;
	int i, n;

	buf[0] = '\0';
	for (i = 0; names[i] && used < len; i++) {
		n = snprintf(buf + used, len - used, "%s%s", i ? ", " : "", names[i]);
		if (n < 0)
			break;
		used += (size_t)n;
	}
	return buf;
}

void cfg_wipe_secret(struct hg_secret *s)
{
	if (s->bytes) {
		OPENSSL_cleanse(s->bytes, s->len);
		free(s->bytes);
	}
	s->bytes = NULL;
	s->len = 0;
}

/* Reads a whole file of at most cap bytes into a malloc'd buffer with a NUL
 * after the data. Buffers are wiped as they grow because the contents may be
 * a secret. Returns HG_OK, HG_ETOOBIG, HG_ENOMEM or HG_EIO with errno set. */
int cfg_read_file(const char *path, size_t cap, uint8_t **out, size_t *outlen)
{
	FILE *f;
	uint8_t *buf = NULL, *grown;
	size_t len = 0, size = 0, n;
	int rc = HG_OK, saved_errno = 0;

	f = fopen(path, "rb");
	if (!f)
		return HG_EIO;
	for (;;) {
		if (len == size) {
			if (size > cap) {
				rc = HG_ETOOBIG;
				goto out;
			}
			grown = malloc((size ? size * 2 : 4096) + 1);
			if (!grown) {
				rc = HG_ENOMEM;
				goto out;
			}
			if (buf) {
				memcpy(grown, buf, len);
				OPENSSL_cleanse(buf, len);
				free(buf);
			}
			buf = grown;
			size = size ? size * 2 : 4096;
		}
		n = fread(buf + len, 1, size - len, f);
		len += n;
		if (n == 0) {
			if (ferror(f)) {
				saved_errno = errno;
				rc = HG_EIO;
				goto out;
			}
			break;
		}
	}
	if (len > cap) {
		rc = HG_ETOOBIG;
		goto out;
	}
	buf[len] = '\0';
	*out = buf;
	*outlen = len;
	buf = NULL;
out:
	if (buf) {
		OPENSSL_cleanse(buf, len);
		free(buf);
	}
	fclose(f);
	if (saved_errno)
		errno = saved_errno;
	return rc;
}

/* ---- what values may look like ---- */

int cfg_nonempty_ok(const char *s)
{
	return s[0] != '\0';
}

int cfg_env_name_ok(const char *s)
{
	size_t i;

	if (!((s[0] >= 'A' && s[0] <= 'Z') || (s[0] >= 'a' && s[0] <= 'z') || s[0] == '_'))
		return 0;
	for (i = 1; s[i]; i++)
		if (!((s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= 'a' && s[i] <= 'z') ||
		      (s[i] >= '0' && s[i] <= '9') || s[i] == '_'))
			return 0;
	return 1;
}

/* An HTTP field name: RFC 9110 token characters. */
int cfg_header_ok(const char *s)
{
	size_t i;

	if (!s[0])
		return 0;
	for (i = 0; s[i]; i++)
		if (!((s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= 'a' && s[i] <= 'z') ||
		      (s[i] >= '0' && s[i] <= '9') || strchr("!#$%&'*+-.^_`|~", s[i])))
			return 0;
	return 1;
}

/* [a-z0-9][a-z0-9_-]{0,63}: safe as a URL segment and in logs. */
int cfg_name_ok(const char *s)
{
	size_t i;

	for (i = 0; s[i]; i++) {
		int alnum = (s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9');

		if (!alnum && (i == 0 || (s[i] != '_' && s[i] != '-')))
			return 0;
	}
	return i >= 1 && i <= 64;
}

/* Splits "host:port", "[v6]:port" or ":port" (every IPv4 interface). */
int cfg_listen_split(const char *s, char *host, size_t hostlen, int *port)
{
	const char *hs, *he, *p;
	struct in6_addr a6;
	struct in_addr a4;
	size_t hl, i;
	int digits_and_dots = 1;
	long v = 0;

	if (s[0] == '[') {
		hs = s + 1;
		he = strchr(hs, ']');
		if (!he || he[1] != ':')
			return 0;
		p = he + 2;
	} else {
		hs = s;
		he = strrchr(s, ':');
		if (!he || memchr(s, ':', (size_t)(he - s))) /* bare IPv6 needs brackets */
			return 0;
		p = he + 1;
	}
	hl = (size_t)(he - hs);
	if (hl >= hostlen)
		return 0;
	memcpy(host, hs, hl);
	host[hl] = '\0';
	if (s[0] == '[') {
		if (inet_pton(AF_INET6, host, &a6) != 1)
			return 0;
	} else if (hl == 0) {
		hg_strlcpy(host, "0.0.0.0", hostlen);
	} else {
		for (i = 0; i < hl; i++) {
			if (!((host[i] >= 'a' && host[i] <= 'z') ||
			      (host[i] >= 'A' && host[i] <= 'Z') ||
			      (host[i] >= '0' && host[i] <= '9') || host[i] == '.' ||
			      host[i] == '-'))
				return 0;
			if (!((host[i] >= '0' && host[i] <= '9') || host[i] == '.'))
				digits_and_dots = 0;
		}
		if (digits_and_dots && inet_pton(AF_INET, host, &a4) != 1)
			return 0;
	}
	if (!p[0] || strlen(p) > 5)
		return 0;
	for (i = 0; p[i]; i++) {
		if (p[i] < '0' || p[i] > '9')
			return 0;
		v = v * 10 + (p[i] - '0');
	}
	if (v < 1 || v > 65535)
		return 0;
	*port = (int)v;
	return 1;
}

int cfg_listen_ok(const char *s)
{
	char host[256];
	int port;

	return cfg_listen_split(s, host, sizeof host, &port);
}

/* Length of the "http://" or "https://" (any case) s starts with, or 0. */
static size_t cfg_http_scheme(const char *s)
{
	if (!strncasecmp(s, "https://", 8))
		return 8;
	if (!strncasecmp(s, "http://", 7))
		return 7;
	return 0;
}

/* public_url: the request path and query are appended to it, so it has none. */
static int cfg_url_ok(const char *s)
{
	size_t skip = cfg_http_scheme(s);

	if (!skip || !s[skip] || s[skip] == '/')
		return 0;
	return strcspn(s, " \t\r\n?#") == strlen(s);
}

/* An endpoint's URL: the application's, so a query is its business; a
 * fragment is never sent, so one is a mistake. */
int cfg_endpoint_url_ok(const char *s)
{
	size_t skip = cfg_http_scheme(s), i;

	if (!skip || !s[skip] || strchr("/?#", s[skip]))
		return 0;
	for (i = 0; s[i]; i++)
		if ((unsigned char)s[i] <= ' ' || s[i] == 0x7f || s[i] == '#')
			return 0;
	return 1;
}

int cfg_store_ok(const char *s)
{
	if (!strncmp(s, "sqlite:", 7))
		return s[7] != '\0';
	if (!strncmp(s, "postgres://", 11) || !strncmp(s, "postgresql://", 13))
		return 1;
	return s[0] != '\0' && !strstr(s, "://"); /* a bare SQLite path */
}

/* ---- reading nodes ---- */

/* Plain "", "~" and "null" are YAML's null: a key written with no value. */
int cfg_is_null(const yaml_node_t *n)
{
	const char *v;

	if (n->type != YAML_SCALAR_NODE || n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
		return 0;
	v = (const char *)n->data.scalar.value;
	return !v[0] || !strcmp(v, "~") || !strcmp(v, "null") || !strcmp(v, "Null") ||
	       !strcmp(v, "NULL");
}

const char *cfg_kind(const yaml_node_t *n)
{
	if (n->type == YAML_SEQUENCE_NODE)
		return "a list";
	if (n->type == YAML_MAPPING_NODE)
		return "a mapping";
	return cfg_is_null(n) ? "no value" : "a single value";
}

/* The pair of map whose key is the scalar key, or NULL; *k gets its key node. */
static yaml_node_pair_t *cfg_pair(struct cfg_ctx *c, const yaml_node_t *map, const char *key,
				  yaml_node_t **k)
{
	yaml_node_pair_t *p;

	for (p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top; p++) {
		*k = yaml_document_get_node(&c->doc, p->key);
		if (*k && (*k)->type == YAML_SCALAR_NODE &&
		    !strcmp((const char *)(*k)->data.scalar.value, key))
			return p;
	}
	return NULL;
}

yaml_node_t *cfg_get(struct cfg_ctx *c, const yaml_node_t *map, const char *key)
{
	yaml_node_t *k;
	yaml_node_pair_t *p = cfg_pair(c, map, key, &k);

	return p ? yaml_document_get_node(&c->doc, p->value) : NULL;
}

/* The line of key in map (of the key itself: a block mapping's value starts
 * a line below), for "this mapping lacks X" messages; 0 when absent. */
int cfg_key_line(struct cfg_ctx *c, const yaml_node_t *map, const char *key)
{
	yaml_node_t *k;

	return cfg_pair(c, map, key, &k) ? cfg_line(k) : 0;
}

int cfg_size_limits(struct cfg_ctx *c, const yaml_node_t *map, size_t *max_body,
		    size_t *max_dedupe_keys)
{
	int64_t n = (int64_t)*max_body;
	int rc = cfg_number(c, map, "max_body", CFG_SIZE, CFG_SIZE_WHAT, 1, INT64_MAX, &n);

	if (rc)
		return rc;
	*max_body = (size_t)n;
	n = (int64_t)*max_dedupe_keys;
	rc = cfg_number(c, map, "max_dedupe_keys", CFG_INT, CFG_MAX_KEYS_WHAT, 1, CFG_MAX_KEYS, &n);
	if (rc)
		return rc;
	*max_dedupe_keys = (size_t)n;
	return 0;
}

/* The text of node v, which must be a scalar with a value that passes valid
 * (when given); otherwise an error "KEY: expected WHAT, got ...". */
int cfg_check(struct cfg_ctx *c, const yaml_node_t *v, const char *key, const char *what,
	      cfg_valid_fn valid, const char **out)
{
	const char *s;

	if (v->type != YAML_SCALAR_NODE || cfg_is_null(v))
		return cfg_fail(c, cfg_line(v), "%s: expected %s, got %s", key, what, cfg_kind(v));
	s = (const char *)v->data.scalar.value;
	if (strlen(s) != v->data.scalar.length)
		return cfg_fail(c, cfg_line(v), "%s: expected %s, got a value with a NUL character",
				key, what);
	if (valid && !valid(s))
		return cfg_bad_value(c, v, key, what, s);
	*out = s;
	return HG_OK;
}

/* Like cfg_check for key in map; an absent key leaves *text NULL. */
int cfg_value(struct cfg_ctx *c, const yaml_node_t *map, const char *key, const char *what,
	      cfg_valid_fn valid, const yaml_node_t **node, const char **text)
{
	const yaml_node_t *v = cfg_get(c, map, key);

	*text = NULL;
	*node = v;
	return v ? cfg_check(c, v, key, what, valid, text) : HG_OK;
}

/* A copy of key's text replaces *out when the key is present. */
int cfg_text(struct cfg_ctx *c, const yaml_node_t *map, const char *key, const char *what,
	     cfg_valid_fn valid, char **out)
{
	const yaml_node_t *v;
	const char *s;
	char *dup;
	int rc;

	rc = cfg_value(c, map, key, what, valid, &v, &s);
	if (rc || !s)
		return rc;
	dup = strdup(s);
	if (!dup)
		return cfg_oom(c);
	free(*out);
	*out = dup;
	return HG_OK;
}

static int cfg_parse_int(const char *s, int64_t *out)
{
	char *end;
	long long v;

	if (!s[0] || (s[0] != '-' && s[0] != '+' && (s[0] < '0' || s[0] > '9')))
		return 0;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno || *end)
		return 0;
	*out = v;
	return 1;
}

/* A decimal number such as 2 or 1.5: digits and one point, no sign or
 * exponent (strtod would also take "inf" and hex). */
static int cfg_parse_decimal(const char *s, size_t len, double *out)
{
	char buf[32], *end;
	double v;

	if (!len || len >= sizeof buf || strspn(s, "0123456789.") < len)
		return 0;
	memcpy(buf, s, len);
	buf[len] = '\0';
	errno = 0;
	v = strtod(buf, &end);
	if (errno || *end || !isfinite(v))
		return 0;
	*out = v;
	return 1;
}

/* key of map as a decimal number in [min, max]; with percent it is written
 * with a '%' after it and returned as a fraction (10% is 0.1). *out is
 * untouched when the key is absent. */
int cfg_real(struct cfg_ctx *c, const yaml_node_t *map, const char *key, const char *what,
	     int percent, double min, double max, double *out)
{
	const yaml_node_t *v;
	const char *s;
	size_t len;
	double d;
	int rc;

	rc = cfg_value(c, map, key, what, NULL, &v, &s);
	if (rc || !s)
		return rc;
	len = strlen(s);
	if (percent && (!len || s[len - 1] != '%'))
		return cfg_bad_value(c, v, key, what, s);
	if (!cfg_parse_decimal(s, len - (percent ? 1 : 0), &d) || d < min || d > max)
		return cfg_bad_value(c, v, key, what, s);
	*out = percent ? d / 100 : d;
	return HG_OK;
}

/* Node v as a whole number, size (bytes) or duration (ms) in [min, max]. */
int cfg_number_node(struct cfg_ctx *c, const yaml_node_t *v, const char *key, enum cfg_num type,
		    const char *what, int64_t min, int64_t max, int64_t *out)
{
	const char *s;
	int64_t n = 0;
	size_t z;
	int ok = 0, rc;

	rc = cfg_check(c, v, key, what, NULL, &s);
	if (rc)
		return rc;
	switch (type) {
	case CFG_INT:
		ok = cfg_parse_int(s, &n);
		break;
	case CFG_SIZE:
		ok = hg_size_parse(s, &z) == HG_OK && z <= (size_t)INT64_MAX;
		n = (int64_t)z;
		break;
	case CFG_DURATION:
		ok = hg_duration_parse_ms(s, &n) == HG_OK;
		break;
	}
	if (!ok || n < min || n > max)
		return cfg_bad_value(c, v, key, what, s);
	*out = n;
	return HG_OK;
}

/* key of map as cfg_number_node reads it; *out is untouched when absent. */
int cfg_number(struct cfg_ctx *c, const yaml_node_t *map, const char *key, enum cfg_num type,
	       const char *what, int64_t min, int64_t max, int64_t *out)
{
	const yaml_node_t *v = cfg_get(c, map, key);

	return v ? cfg_number_node(c, v, key, type, what, min, max, out) : HG_OK;
}

/* A URL the request path is appended to (public_url), without trailing '/'. */
int cfg_url(struct cfg_ctx *c, const yaml_node_t *map, const char *key, char **out)
{
	size_t len;
	int rc;

	rc = cfg_text(c, map, key, CFG_URL_WHAT, cfg_url_ok, out);
	for (len = *out ? strlen(*out) : 0; !rc && len && (*out)[len - 1] == '/'; len--)
		(*out)[len - 1] = '\0';
	return rc;
}

/* key as the index of one of names (any case); *out untouched when absent. */
int cfg_choice(struct cfg_ctx *c, const yaml_node_t *map, const char *key, const char *const *names,
	       int *out)
{
	const yaml_node_t *v;
	const char *s;
	char list[128], what[160];
	int i, rc;

	snprintf(what, sizeof what, "one of %s", cfg_join(names, list, sizeof list));
	rc = cfg_value(c, map, key, what, NULL, &v, &s);
	if (rc || !s)
		return rc;
	i = cfg_index(names, s, 1);
	if (i < 0)
		return cfg_bad_value(c, v, key, what, s);
	*out = i;
	return HG_OK;
}

/* Calls fn for node v when it is one string, or for each string of a list. */
int cfg_each_string(struct cfg_ctx *c, const yaml_node_t *v, const char *key, const char *what,
		    cfg_valid_fn valid, cfg_item_fn fn, void *arg)
{
	yaml_node_item_t *it;
	const yaml_node_t *item;
	const char *s;
	int rc;

	if (v->type != YAML_SEQUENCE_NODE) {
		rc = cfg_check(c, v, key, what, valid, &s);
		return rc ? rc : fn(c, v, key, s, arg);
	}
	for (it = v->data.sequence.items.start; it < v->data.sequence.items.top; it++) {
		item = yaml_document_get_node(&c->doc, *it);
		rc = cfg_check(c, item, key, what, valid, &s);
		if (!rc)
			rc = fn(c, item, key, s, arg);
		if (rc)
			return rc;
	}
	return HG_OK;
}

/* Every key of map must be a known, supported key given once. */
int cfg_check_keys(struct cfg_ctx *c, const yaml_node_t *map, const char *const *known,
		   const char *const *unsupported, const char *where)
{
	yaml_node_pair_t *p, *q;
	const yaml_node_t *k, *prev;
	const char *name;
	char list[512];

	for (p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top; p++) {
		k = yaml_document_get_node(&c->doc, p->key);
		if (k->type != YAML_SCALAR_NODE || cfg_is_null(k))
			return cfg_fail(c, cfg_line(k), "keys in %s must be plain names, got %s",
					where, cfg_kind(k));
		name = (const char *)k->data.scalar.value;
		for (q = map->data.mapping.pairs.start; q < p; q++) {
			prev = yaml_document_get_node(&c->doc, q->key);
			if (prev->type == YAML_SCALAR_NODE &&
			    !strcmp((const char *)prev->data.scalar.value, name))
				return cfg_fail(
				    c, cfg_line(k),
				    "duplicate key '%.64s' in %s (first given at line %d)", name,
				    where, cfg_line(prev));
		}
		if (cfg_index(unsupported, name, 0) >= 0)
			return cfg_fail(c, cfg_line(k),
					"key '%s' is not supported by this version of hookgate",
					name);
		if (cfg_index(known, name, 0) < 0)
			return cfg_fail(c, cfg_line(k),
					"unknown key '%.64s' in %s; expected one of %s", name,
					where, cfg_join(known, list, sizeof list));
	}
	return HG_OK;
}

/* Node v, when present, must be a mapping of the given keys; "where" names
 * it in messages ("tls", "rate_limit of source 'a'"). *out is NULL when the
 * key is absent. */
int cfg_mapping(struct cfg_ctx *c, const yaml_node_t *map, const char *key, const char *const *keys,
		const char *where, const char *example, const yaml_node_t **out)
{
	const yaml_node_t *v = cfg_get(c, map, key);

	*out = NULL;
	if (!v)
		return HG_OK;
	if (v->type != YAML_MAPPING_NODE)
		return cfg_fail(c, cfg_line(v), "%s: expected a mapping such as %s, got %s", key,
				example, cfg_kind(v));
	*out = v;
	return cfg_check_keys(c, v, keys, cfg_none, where);
}

/* "source 'a'" when node has a usable name, else "source #N" (from 1). */
void cfg_where(struct cfg_ctx *c, const yaml_node_t *node, const char *noun, size_t index,
	       char *where, size_t len)
{
	const yaml_node_t *v = node->type == YAML_MAPPING_NODE ? cfg_get(c, node, "name") : NULL;

	if (v && v->type == YAML_SCALAR_NODE && !cfg_is_null(v))
		snprintf(where, len, "%s '%.64s'", noun, (const char *)v->data.scalar.value);
	else
		snprintf(where, len, "%s #%zu", noun, index + 1);
}
