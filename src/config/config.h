/*
 * config.h — the YAML configuration (libyaml) turned into a validated
 * struct hg_config. Every error names file:line and the key, in one sentence.
 * Secrets are resolved from the environment or files at load time.
 *
 * Ownership: hg_config_load() allocates the whole tree; hg_config_free()
 * releases it (and wipes secret bytes). Nothing else frees any part of it.
 */
#ifndef HG_CONFIG_H
#define HG_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#include "util/util.h"

struct hg_jsonpath;
struct hg_verify_scheme;

#define HG_DEFAULT_LISTEN_HOST "127.0.0.1"
#define HG_DEFAULT_LISTEN_PORT 8080
#define HG_DEFAULT_STORE "sqlite:./var/hookgate.db"
#define HG_DEFAULT_MAX_BODY ((size_t)1 << 20)        /* 1 MiB per request body */
#define HG_DEFAULT_REQUEST_TIMEOUT_MS 10000          /* whole request: headers + body */
#define HG_DEFAULT_MAX_CONNECTIONS 1024

struct hg_secret {
	uint8_t *bytes;
	size_t len;
};

/* One dedupe key rule: a request header or a JSON path into the body. */
struct hg_dedupe_rule {
	char *expr;                /* as written: "header:X-GitHub-Delivery" or "$.id" */
	char *header;              /* set for header rules */
	struct hg_jsonpath *path;  /* set for JSON-path rules */
};

enum hg_encoding { HG_ENC_HEX, HG_ENC_BASE64 };

/* An address range, "10.0.0.0/8" or "::1/128" (a bare address is /32 or /128). */
struct hg_cidr {
	int family; /* AF_INET or AF_INET6 */
	uint8_t addr[16];
	int prefix;
};

/* rate_limit: {key: ip | header:NAME | $.json.path, limit: N, per: DURATION} */
struct hg_rate_limit {
	char *key;                 /* as written */
	int by_ip;                 /* key: ip */
	char *header;              /* key: header:NAME */
	struct hg_jsonpath *path;  /* key: $... */
	int64_t limit;             /* 0 = no rate limit */
	int64_t per_ms;
};

enum hg_client_cert { HG_CLIENT_CERT_NONE, HG_CLIENT_CERT_OPTIONAL, HG_CLIENT_CERT_REQUIRE };

struct hg_source {
	char *name;                              /* URL segment: /in/{name} */
	char *provider;                          /* scheme name as written */
	const struct hg_verify_scheme *scheme;   /* resolved from provider */
	struct hg_secret *secrets;               /* >= 1; any may match (rotation) */
	size_t n_secrets;
	struct hg_secret verify_token;           /* Meta GET handshake; bytes NULL when unset */
	struct hg_dedupe_rule *dedupe;           /* configured, else the scheme's default */
	size_t n_dedupe;                         /* 0: SHA-256 of the body */
	size_t max_body;                         /* bytes */
	/* generic `hmac` scheme */
	char *header;                            /* signature header name */
	enum hg_hash algorithm;
	enum hg_encoding encoding;
	char *prefix;                            /* e.g. "sha256=", may be NULL */
	/* replay protection */
	int64_t tolerance_ms;                    /* timestamped schemes; default 300 s */
	struct hg_jsonpath *max_age_path;        /* clipper/hmac: e.g. $.timestamp; NULL = off */
	int64_t max_age_ms;                      /* with max_age_path; default 300 s */
	char *public_url;                        /* per-source override of the global one */
	struct hg_rate_limit rate_limit;
	int mtls_require;                        /* mtls: {require: true, subject: NAME} */
	char *mtls_subject;                      /* CN or DNS SAN the client certificate must have */
	int line;                                /* where it was defined */
};

struct hg_config {
	char *path;             /* file it came from, or "(built-in)" */
	char *listen_host;
	int listen_port;
	char *public_url;       /* may be NULL */
	char *store;            /* "sqlite:PATH" (or a bare path) | "postgres://..." */
	int threads;            /* event loops; 0 = one per core */
	size_t max_connections; /* across all loops */
	int64_t request_timeout_ms;
	size_t max_body;        /* default for sources */
	enum hg_log_level log_level;
	/* tls: {cert, key, client_ca, client_cert: optional|require}; cert NULL = plain HTTP */
	char *tls_cert;
	char *tls_key;
	char *tls_client_ca;
	enum hg_client_cert tls_client_cert;
	/* proxies whose verified-client-certificate headers are believed */
	struct hg_cidr *trusted_proxies;
	size_t n_trusted_proxies;
	struct hg_source *sources;
	size_t n_sources;
};

/* Loads and validates path. On error returns HG_EINVAL (or HG_EIO when the
 * file cannot be read) and writes "FILE:LINE: KEY: what is wrong" into err. */
int hg_config_load(const char *path, struct hg_config **out, char *err, size_t errlen);
/* The built-in default: listen 127.0.0.1:8080, SQLite in ./var, no sources. */
int hg_config_default(struct hg_config **out);
void hg_config_free(struct hg_config *cfg);

const struct hg_source *hg_config_find_source(const struct hg_config *cfg, const char *name,
					      size_t len);

#endif
