/*
 * config.c — reads the YAML config file into a validated struct hg_config.
 *
 * libyaml's document API (yaml_parser_load) gives us the whole tree with a
 * line for every node, so every error can be one sentence that starts with
 * "FILE:LINE:" and names the key. Secrets are resolved here, once, at load
 * time (environment, files, inline), so nothing on the request path touches
 * the environment or the file system. Everything allocated belongs to the
 * returned struct; on any error the partial tree is freed with
 * hg_config_free(), so parsers below fill it in place without cleanup of
 * their own.
 */
#include "config/config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <yaml.h>

#include "util/jsonpath.h"
#include "verify/verify.h"

#define CFG_MAX_FILE             ((size_t)4 << 20)  /* a larger config file is a mistake */
#define CFG_MAX_SECRET_FILE      ((size_t)64 << 10) /* a larger secret file is the wrong file */
#define CFG_DEFAULT_REPLAY_MS    (300 * 1000)       /* tolerance and max_age when not given */
#define CFG_DEFAULT_MAX_AGE_PATH "$.timestamp"      /* max_age: 5m means this field */
#define CFG_MAX_IN_FLIGHT        4096               /* attempts at once: more is a typo */
#define CFG_STANDARD_SECRET      "whsec_"           /* Standard Webhooks secret prefix */
#define CFG_HOUR_MS              (3600 * 1000LL)    /* audit windows divide an hour */

/* The default retry schedule: attempts at 0, +60 s, +2 min, +4 min, +8 min. */
static const int64_t cfg_default_schedule_ms[] = {0, 60000, 120000, 240000, 480000};

/* Keys each level accepts. */
static const char *const cfg_top_keys[] = {
    "listen",          "public_url", "store",     "threads",         "max_connections",
    "request_timeout", "max_body",   "log_level", "tls",             "trusted_proxies",
    "sources",         "endpoints",  "max_in_flight", "admin_token_env", "retention",
    "event_types",     "allow_http", "egress_allow",  "outbound",  "max_dedupe_keys",
    "audit_window",    "audit_max_rows", "audit_retention",
    NULL,
};
static const char *const cfg_source_keys[] = {
    "name",      "provider", "secret_env", "secret_file", "secret",   "verify_token_env",
    "dedupe",    "max_body", "header",     "algorithm",   "encoding", "prefix",
    "tolerance", "max_age",  "public_url", "rate_limit",  "mtls",     "routes",
    "max_dedupe_keys",
    NULL,
};
static const char *const cfg_endpoint_keys[] = {
    "name",    "url",        "exec",        "timeout", "retry", "max_in_flight",
    "secret_env", "secret_file", "secret",  NULL,
};
/* Keys of the nested mappings. */
static const char *const cfg_tls_keys[] = {"cert", "key", "client_ca", "client_cert", NULL};
static const char *const cfg_max_age_keys[] = {"path", "within", NULL};
static const char *const cfg_rate_limit_keys[] = {"key", "limit", "per", NULL};
static const char *const cfg_mtls_keys[] = {"require", "subject", NULL};
static const char *const cfg_retry_keys[] = {"schedule", "attempts", "base", "factor",
					     "max_delay", "jitter", NULL};
/* The keys that choose the exponential form of retry. */
static const char *const cfg_retry_exp_keys[] = {"attempts", "base", "factor", NULL};
static const char *const cfg_route_keys[] = {"endpoint", "when", NULL};
static const char *const cfg_none[] = {NULL};
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
/* Keys of the generic `hmac` scheme; other providers fix these themselves. */
static const char *const cfg_hmac_keys[] = {"header", "algorithm", "encoding", "prefix", NULL};
/* Providers that sign a timestamp, so `tolerance` means something to them;
 * on any other a tolerance would promise replay protection it cannot give. */
static const char *const cfg_timestamped[] = {"stripe", "slack", "standard", NULL};
/* Providers that sign no timestamp but may bound a body field's age. */
static const char *const cfg_max_age_providers[] = {"clipper", "hmac", NULL};

/* Indexed by the enums they spell, so a name's position is its value. */
static const char *const cfg_log_levels[] = {
    [HG_LOG_DEBUG] = "debug",
    [HG_LOG_INFO] = "info",
    [HG_LOG_WARN] = "warn",
    [HG_LOG_ERROR] = "error",
    NULL,
};
static const char *const cfg_hashes[] = {
    [HG_SHA1] = "sha1",
    [HG_SHA256] = "sha256",
    [HG_SHA512] = "sha512",
    NULL,
};
static const char *const cfg_encodings[] = {[HG_ENC_HEX] = "hex", [HG_ENC_BASE64] = "base64", NULL};
/* Offset by HG_CLIENT_CERT_OPTIONAL: "none" is what leaving client_ca out means. */
static const char *const cfg_client_certs[] = {"optional", "require", NULL};
static const char *const cfg_bools[] = {"false", "true", NULL};

#define CFG_LISTEN_WHAT "\"host:port\", \"[ipv6]:port\" or \":port\" (port 1-65535)"
#define CFG_NAME_WHAT                                                                              \
	"a name of 1-64 characters from a-z, 0-9, '_' and '-', starting with a letter or digit"
#define CFG_MAX_KEYS      1000000 /* dedupe keys per request: more is a typo */
#define CFG_MAX_KEYS_WHAT "a whole number from 1 to 1000000"
#define CFG_SIZE_WHAT     "a size above zero such as 65536, 512k or 1m"
#define CFG_URL_WHAT      "an http:// or https:// URL without query, such as https://hooks.example.com"
#define CFG_DURATION_WHAT "a duration above zero such as 500ms, 10s or 5m"
#define CFG_KEY_RULE_WHAT "\"header:Name\" or a JSON path starting with $"
#define CFG_WHEN_WHAT     "\"$.json.path == value\" or \"$.json.path != value\""
#define CFG_ENDPOINT_URL_WHAT                                                                      \
	"an http:// or https:// URL such as http://127.0.0.1:9000/process"

/* One load in progress. */
struct cfg_ctx {
	struct hg_config *cfg;
	const char *file; /* as given, for messages */
	char *dir;        /* its directory, for relative secret_file paths */
	yaml_document_t doc;
	char *err;
	size_t errlen;
	unsigned flags; /* HG_CONFIG_* */
};

/* How a secret is written in the file. */
enum cfg_from { CFG_FROM_ENV, CFG_FROM_FILE, CFG_FROM_INLINE };

enum cfg_num { CFG_INT, CFG_SIZE, CFG_DURATION };

typedef int (*cfg_valid_fn)(const char *s);
/* Receives one string of a "string or list of strings" value; at is its node. */
typedef int (*cfg_item_fn)(struct cfg_ctx *c, const yaml_node_t *at, const char *key,
			   const char *text, void *arg);

/* ---- errors ---- */

static int cfg_line(const yaml_node_t *n)
{
	return (int)n->start_mark.line + 1;
}

/* Writes "FILE:LINE: <message>" into the caller's buffer; returns HG_EINVAL.
 * The message is one line whatever the file holds: a control character in
 * a quoted value or key (a folded or "\n"-escaped YAML scalar, a terminal
 * escape) is shown as '?'. */
__attribute__((format(printf, 3, 4))) static int cfg_fail(struct cfg_ctx *c, int line,
							  const char *fmt, ...)
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

static int cfg_oom(struct cfg_ctx *c)
{
	if (c->err && c->errlen)
		snprintf(c->err, c->errlen, "%s: out of memory while loading the config", c->file);
	return HG_ENOMEM;
}

/* The one message for a value of the right shape but wrong content. */
static int cfg_bad_value(struct cfg_ctx *c, const yaml_node_t *at, const char *key,
			 const char *what, const char *s)
{
	return cfg_fail(c, cfg_line(at), "%s: expected %s, got \"%.64s\"", key, what, s);
}

/* ---- small helpers ---- */

/* Position of s in a NULL-terminated list, or -1. Keys match exactly;
 * choices such as log levels match in any case. */
static int cfg_index(const char *const *names, const char *s, int any_case)
{
	int i;

	for (i = 0; names[i]; i++)
		if (any_case ? !strcasecmp(names[i], s) : !strcmp(names[i], s))
			return i;
	return -1;
}

static const char *cfg_join(const char *const *names, char *buf, size_t len)
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

static void cfg_wipe_secret(struct hg_secret *s)
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
static int cfg_read_file(const char *path, size_t cap, uint8_t **out, size_t *outlen)
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

static int cfg_nonempty_ok(const char *s)
{
	return s[0] != '\0';
}

static int cfg_env_name_ok(const char *s)
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
static int cfg_header_ok(const char *s)
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
static int cfg_name_ok(const char *s)
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
static int cfg_listen_split(const char *s, char *host, size_t hostlen, int *port)
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

static int cfg_listen_ok(const char *s)
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
static int cfg_endpoint_url_ok(const char *s)
{
	size_t skip = cfg_http_scheme(s), i;

	if (!skip || !s[skip] || strchr("/?#", s[skip]))
		return 0;
	for (i = 0; s[i]; i++)
		if ((unsigned char)s[i] <= ' ' || s[i] == 0x7f || s[i] == '#')
			return 0;
	return 1;
}

static int cfg_store_ok(const char *s)
{
	if (!strncmp(s, "sqlite:", 7))
		return s[7] != '\0';
	if (!strncmp(s, "postgres://", 11) || !strncmp(s, "postgresql://", 13))
		return 1;
	return s[0] != '\0' && !strstr(s, "://"); /* a bare SQLite path */
}

/* ---- reading nodes ---- */

/* Plain "", "~" and "null" are YAML's null: a key written with no value. */
static int cfg_is_null(const yaml_node_t *n)
{
	const char *v;

	if (n->type != YAML_SCALAR_NODE || n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
		return 0;
	v = (const char *)n->data.scalar.value;
	return !v[0] || !strcmp(v, "~") || !strcmp(v, "null") || !strcmp(v, "Null") ||
	       !strcmp(v, "NULL");
}

static const char *cfg_kind(const yaml_node_t *n)
{
	if (n->type == YAML_SEQUENCE_NODE)
		return "a list";
	if (n->type == YAML_MAPPING_NODE)
		return "a mapping";
	return cfg_is_null(n) ? "no value" : "a single value";
}

static yaml_node_t *cfg_get(struct cfg_ctx *c, const yaml_node_t *map, const char *key)
{
	yaml_node_pair_t *p;
	yaml_node_t *k;

	for (p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top; p++) {
		k = yaml_document_get_node(&c->doc, p->key);
		if (k && k->type == YAML_SCALAR_NODE &&
		    !strcmp((const char *)k->data.scalar.value, key))
			return yaml_document_get_node(&c->doc, p->value);
	}
	return NULL;
}

/* The line of key in map (of the key itself: a block mapping's value starts
 * a line below), for "this mapping lacks X" messages; 0 when absent. */
static int cfg_key_line(struct cfg_ctx *c, const yaml_node_t *map, const char *key)
{
	yaml_node_pair_t *p;
	yaml_node_t *k;

	for (p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top; p++) {
		k = yaml_document_get_node(&c->doc, p->key);
		if (k && k->type == YAML_SCALAR_NODE &&
		    !strcmp((const char *)k->data.scalar.value, key))
			return cfg_line(k);
	}
	return 0;
}

/* The text of node v, which must be a scalar with a value that passes valid
 * (when given); otherwise an error "KEY: expected WHAT, got ...". */
static int cfg_check(struct cfg_ctx *c, const yaml_node_t *v, const char *key, const char *what,
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
static int cfg_value(struct cfg_ctx *c, const yaml_node_t *map, const char *key, const char *what,
		     cfg_valid_fn valid, const yaml_node_t **node, const char **text)
{
	const yaml_node_t *v = cfg_get(c, map, key);

	*text = NULL;
	*node = v;
	return v ? cfg_check(c, v, key, what, valid, text) : HG_OK;
}

/* A copy of key's text replaces *out when the key is present. */
static int cfg_text(struct cfg_ctx *c, const yaml_node_t *map, const char *key, const char *what,
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
static int cfg_real(struct cfg_ctx *c, const yaml_node_t *map, const char *key, const char *what,
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
static int cfg_number_node(struct cfg_ctx *c, const yaml_node_t *v, const char *key,
			   enum cfg_num type, const char *what, int64_t min, int64_t max,
			   int64_t *out)
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
static int cfg_number(struct cfg_ctx *c, const yaml_node_t *map, const char *key, enum cfg_num type,
		      const char *what, int64_t min, int64_t max, int64_t *out)
{
	const yaml_node_t *v = cfg_get(c, map, key);

	return v ? cfg_number_node(c, v, key, type, what, min, max, out) : HG_OK;
}

/* A URL the request path is appended to (public_url), without trailing '/'. */
static int cfg_url(struct cfg_ctx *c, const yaml_node_t *map, const char *key, char **out)
{
	size_t len;
	int rc;

	rc = cfg_text(c, map, key, CFG_URL_WHAT, cfg_url_ok, out);
	for (len = *out ? strlen(*out) : 0; !rc && len && (*out)[len - 1] == '/'; len--)
		(*out)[len - 1] = '\0';
	return rc;
}

/* key as the index of one of names (any case); *out untouched when absent. */
static int cfg_choice(struct cfg_ctx *c, const yaml_node_t *map, const char *key,
		      const char *const *names, int *out)
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
static int cfg_each_string(struct cfg_ctx *c, const yaml_node_t *v, const char *key,
			   const char *what, cfg_valid_fn valid, cfg_item_fn fn, void *arg)
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
static int cfg_check_keys(struct cfg_ctx *c, const yaml_node_t *map, const char *const *known,
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
static int cfg_mapping(struct cfg_ctx *c, const yaml_node_t *map, const char *key,
		       const char *const *keys, const char *where, const char *example,
		       const yaml_node_t **out)
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

/* ---- sources ---- */

static char *cfg_resolve_path(const struct cfg_ctx *c, const char *path)
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

/* Remembers that environment variable name holds a secret, so exec
 * endpoints can be started without it. */
static int cfg_note_secret_env(struct cfg_ctx *c, const char *name)
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
static int cfg_resolve_secret(struct cfg_ctx *c, const yaml_node_t *at, const char *key,
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
static const struct cfg_secret_kind {
	const char *key;
	enum cfg_from from;
	const char *what; /* for a list of them (sources) */
	const char *one;  /* for one of them (endpoints) */
	cfg_valid_fn valid;
} cfg_secret_kinds[] = {
    {"secret_env", CFG_FROM_ENV, "an environment variable name or a list of them",
     "an environment variable name", cfg_env_name_ok},
    {"secret_file", CFG_FROM_FILE, "a file path or a list of them", "a file path",
     cfg_nonempty_ok},
    {"secret", CFG_FROM_INLINE, "a secret or a list of them", "a secret", cfg_nonempty_ok},
};
#define CFG_N_SECRET_KINDS (sizeof cfg_secret_kinds / sizeof cfg_secret_kinds[0])

/* An inline secret is fine on a laptop and wrong anywhere else: say so,
 * naming where it is (never the value). */
static void cfg_warn_inline(const struct cfg_ctx *c, const char *what, const char *name, int line)
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
static int cfg_compile_path(struct cfg_ctx *c, const yaml_node_t *at, const char *key,
			    const char *text, struct hg_jsonpath **out)
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
 * it: "header:Name" sets *header, "$..." sets *path. what describes every
 * accepted form, for the message when text is neither. */
static int cfg_key_rule(struct cfg_ctx *c, const yaml_node_t *at, const char *key, const char *text,
			const char *what, char **header, struct hg_jsonpath **path)
{
	const char *name;

	if (text[0] == '$')
		return cfg_compile_path(c, at, key, text, path);
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

/* One dedupe rule: "header:Name" or a JSON path starting with '$'. */
static int cfg_add_dedupe(struct cfg_ctx *c, const yaml_node_t *at, const char *key,
			  const char *text, void *arg)
{
	struct hg_source *src = arg;
	struct hg_dedupe_rule r = {0}, *grown;
	int rc;

	rc = cfg_key_rule(c, at, key, text, CFG_KEY_RULE_WHAT, &r.header, &r.path);
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
				       "\"header:Name\", a JSON path starting with $, or a list "
				       "of them",
				       NULL, cfg_add_dedupe, src);
	for (d = src->scheme->default_dedupe; d && *d; d++) {
		rc = cfg_add_dedupe(c, node, "dedupe", *d, src);
		if (rc)
			return rc;
	}
	return HG_OK;
}

static int cfg_parse_hmac(struct cfg_ctx *c, const yaml_node_t *node, struct hg_source *src,
			  const char *where)
{
	const char *const *k;
	const yaml_node_t *v;
	int i = (int)src->algorithm, rc;

	if (strcmp(src->scheme->name, "hmac")) {
		for (k = cfg_hmac_keys; *k; k++) {
			v = cfg_get(c, node, *k);
			if (v)
				return cfg_fail(c, cfg_line(v),
						"%s: only provider hmac takes this key; %s uses "
						"provider %s, which fixes it",
						*k, where, src->provider);
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

/* rate_limit: {key: ip | "header:NAME" | "$.path", limit: N, per: DURATION} */
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
		rc = cfg_key_rule(c, v, "key", s, "ip, " CFG_KEY_RULE_WHAT, &rl->header, &rl->path);
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

/* mtls: {require: bool, subject: NAME}. A required certificate must be able
 * to reach us: through our own TLS (client_ca) or a trusted proxy's headers. */
static int cfg_parse_mtls(struct cfg_ctx *c, const yaml_node_t *node, const struct hg_config *cfg,
			  struct hg_source *src, const char *where)
{
	const yaml_node_t *m, *v;
	char in[128];
	int require = 0, rc;

	snprintf(in, sizeof in, "mtls of %s", where);
	rc = cfg_mapping(c, node, "mtls", cfg_mtls_keys, in,
			 "{require: true, subject: client.webhooks.fbcdn.net}", &m);
	if (rc || !m)
		return rc;
	rc = cfg_choice(c, m, "require", cfg_bools, &require);
	if (!rc)
		rc = cfg_text(c, m, "subject",
			      "a certificate subject name such as client.webhooks.fbcdn.net",
			      cfg_subject_ok, &src->mtls_subject);
	if (rc || !require)
		return rc;
	src->mtls_require = 1;
	v = cfg_get(c, m, "require");
	if (!src->mtls_subject)
		return cfg_fail(c, cfg_key_line(c, node, "mtls"),
				"mtls: %s requires a client certificate but names no subject; add "
				"subject: the CN or DNS name the certificate must carry, such as "
				"client.webhooks.fbcdn.net",
				where);
	if (!cfg->tls_client_ca && !cfg->n_trusted_proxies)
		return cfg_fail(c, cfg_line(v),
				"require: %s requires a client certificate, but none can reach "
				"hookgate; set tls: {client_ca: ...} at the top level (hookgate "
				"terminates TLS) or trusted_proxies (a proxy verifies it)",
				where);
	return HG_OK;
}

/* ---- endpoints and routes ---- */

/* hookgate's Standard Webhooks signer takes keys up to this many bytes
 * (HG_VERIFY_MAX_KEY in src/verify). */
#define CFG_MAX_SIGNING_KEY 256

/* "source 'a'" when node has a usable name, else "source #N" (from 1). */
static void cfg_where(struct cfg_ctx *c, const yaml_node_t *node, const char *noun, size_t index,
		      char *where, size_t len)
{
	const yaml_node_t *v = node->type == YAML_MAPPING_NODE ? cfg_get(c, node, "name") : NULL;

	if (v && v->type == YAML_SCALAR_NODE && !cfg_is_null(v))
		snprintf(where, len, "%s '%.64s'", noun, (const char *)v->data.scalar.value);
	else
		snprintf(where, len, "%s #%zu", noun, index + 1);
}

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
static int cfg_resolve_command(struct cfg_ctx *c, const yaml_node_t *at, char **cmd)
{
	const char *dir, *end;
	size_t dl, cl = strlen(*cmd);
	char *full;
	int err;

	if (strchr(*cmd, '/')) {
		if ((*cmd)[0] != '/')
			return cfg_fail(c, cfg_line(at),
					"exec: \"%.64s\" is a relative path; give an absolute path or "
					"the name of a command found on PATH",
					*cmd);
		err = cfg_executable(*cmd);
		if (err)
			return cfg_fail(c, cfg_line(at), "exec: cannot run %s: %s", *cmd,
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
			"exec: command '%.64s' was not found on PATH; give its absolute path, such "
			"as /usr/local/bin/%.64s",
			*cmd, *cmd);
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
	return cfg_resolve_command(c, at, &ep->argv[0]);
}

/* max_in_flight of map (an endpoint's, or the top level's); *out keeps its
 * default when absent. */
static int cfg_max_in_flight(struct cfg_ctx *c, const yaml_node_t *map, int *out)
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
static int cfg_parse_retry(struct cfg_ctx *c, const yaml_node_t *node, struct hg_retry *r,
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
		return cfg_fail(c, cfg_line(exp),
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
			rc = cfg_real(c, m, "factor", "a number from 1 to 100 such as 2 or 1.5", 0, 1,
				      100, &r->factor);
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
			return cfg_fail(c, cfg_line(at),
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
			rc = cfg_fail(c, cfg_line(v),
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

static int cfg_parse_endpoint(struct cfg_ctx *c, const yaml_node_t *node, size_t index, void *item)
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
		return cfg_fail(c, ep->line,
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
	return rc ? rc : cfg_parse_endpoint_secret(c, node, ep, where);
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
	rc = cfg_compile_path(c, at, "when", path, &r->path);
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
			return cfg_fail(c, r->line,
					"routes: a route of %s names no endpoint; add endpoint: NAME",
					where);
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
			used += (size_t)snprintf(list + used, sizeof list - used, "%s%s",
						 i ? ", " : "defined endpoints: ",
						 c->cfg->endpoints[i].name);
		return cfg_fail(c, cfg_line(name_node),
				"routes: %s routes to endpoint '%.64s', which is not defined; %s", where,
				name, i ? list : "define it under endpoints:");
	}
	return when ? cfg_parse_when(c, w, when, r) : HG_OK;
}

/* routes: one endpoint name, or a list of names and {endpoint, when}. */
static int cfg_parse_routes(struct cfg_ctx *c, const yaml_node_t *node, struct hg_source *src,
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

static int cfg_parse_source(struct cfg_ctx *c, const yaml_node_t *node, size_t index, void *item)
{
	const struct hg_config *cfg = c->cfg;
	struct hg_source *src = item;
	const yaml_node_t *v;
	const char *s;
	char where[96], what[512];
	int64_t n;
	int rc;

	src->line = cfg_line(node);
	src->max_body = cfg->max_body;
	src->max_dedupe_keys = cfg->max_dedupe_keys;
	src->algorithm = HG_SHA256;
	src->encoding = HG_ENC_HEX;
	src->tolerance_ms = CFG_DEFAULT_REPLAY_MS;
	src->max_age_ms = CFG_DEFAULT_REPLAY_MS;
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

	n = (int64_t)src->max_body;
	rc = cfg_number(c, node, "max_body", CFG_SIZE, CFG_SIZE_WHAT, 1, INT64_MAX, &n);
	if (rc)
		return rc;
	src->max_body = (size_t)n;

	n = (int64_t)src->max_dedupe_keys;
	rc = cfg_number(c, node, "max_dedupe_keys", CFG_INT, CFG_MAX_KEYS_WHAT, 1, CFG_MAX_KEYS,
			&n);
	if (rc)
		return rc;
	src->max_dedupe_keys = (size_t)n;

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
		rc = cfg_parse_routes(c, node, src, where);
	return rc;
}

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
    "sources", "source", sizeof(struct hg_source), offsetof(struct hg_source, name),
    offsetof(struct hg_source, line), cfg_parse_source,
};
static const struct cfg_list cfg_endpoints_list = {
    "endpoints", "endpoint", sizeof(struct hg_endpoint), offsetof(struct hg_endpoint, name),
    offsetof(struct hg_endpoint, line), cfg_parse_endpoint,
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
				return cfg_fail(c, cfg_line(cfg_get(c, item, "name")),
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
	rc = cfg_number(c, root, "audit_max_rows", CFG_INT, "a whole number from 1 to 1000000",
			1, 1000000, &cfg->audit_max_rows);
	if (rc)
		return rc;
	return cfg_number(c, root, "audit_retention", CFG_DURATION,
			  "a duration such as 400d or 2557d, or 0 to keep the audit log forever",
			  0, INT64_MAX, &cfg->audit_retention_ms);
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

	rc = cfg_mapping(c, root, "outbound", cfg_outbound_keys, "outbound",
			 "{retry: {schedule: [0s, 60s, 2m, 4m, 8m]}, timeout: 10s, disable_after: 5d}",
			 &m);
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

	n = (int64_t)cfg->max_body;
	rc = cfg_number(c, root, "max_body", CFG_SIZE, CFG_SIZE_WHAT, 1, INT64_MAX, &n);
	if (rc)
		return rc;
	cfg->max_body = (size_t)n;

	n = (int64_t)cfg->max_dedupe_keys;
	rc = cfg_number(c, root, "max_dedupe_keys", CFG_INT, CFG_MAX_KEYS_WHAT, 1, CFG_MAX_KEYS,
			&n);
	if (rc)
		return rc;
	cfg->max_dedupe_keys = (size_t)n;

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
	rc = cfg_value(c, root, "admin_token_env", "an environment variable name", cfg_env_name_ok,
		       &v, &s);
	if (!rc && s && !(cfg->admin_token_env = strdup(s)))
		rc = cfg_oom(c);
	if (!rc && s)
		rc = cfg_resolve_secret(c, v, "admin_token_env", CFG_FROM_ENV, s, &cfg->admin_token);
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
	return rc ? rc : cfg_parse_list(c, root, &cfg_sources_list, (void **)&cfg->sources,
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
	/* outbound: seed 003's contract */
	cfg->outbound.retry.schedule_ms = malloc(sizeof cfg_default_schedule_ms);
	if (!cfg->outbound.retry.schedule_ms) {
		hg_config_free(cfg);
		return HG_ENOMEM;
	}
	memcpy(cfg->outbound.retry.schedule_ms, cfg_default_schedule_ms,
	       sizeof cfg_default_schedule_ms);
	cfg->outbound.retry.attempts = sizeof cfg_default_schedule_ms / sizeof cfg_default_schedule_ms[0];
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
	for (i = 0; i < cfg->n_sources; i++) {
		src = &cfg->sources[i];
		for (j = 0; j < src->n_secrets; j++)
			cfg_wipe_secret(&src->secrets[j]);
		free(src->secrets);
		cfg_wipe_secret(&src->verify_token);
		for (j = 0; j < src->n_dedupe; j++) {
			free(src->dedupe[j].expr);
			free(src->dedupe[j].header);
			if (src->dedupe[j].path)
				hg_jsonpath_free(src->dedupe[j].path);
		}
		free(src->dedupe);
		if (src->max_age_path)
			hg_jsonpath_free(src->max_age_path);
		free(src->public_url);
		free(src->rate_limit.key);
		free(src->rate_limit.header);
		if (src->rate_limit.path)
			hg_jsonpath_free(src->rate_limit.path);
		free(src->mtls_subject);
		for (j = 0; j < src->n_routes; j++) {
			free(src->routes[j].when);
			free(src->routes[j].value);
			if (src->routes[j].path)
				hg_jsonpath_free(src->routes[j].path);
		}
		free(src->routes);
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
