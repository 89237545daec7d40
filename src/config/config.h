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

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "util/util.h"

struct hg_jsonpath;
struct hg_verify_scheme;

#define HG_DEFAULT_LISTEN_HOST               "127.0.0.1"
#define HG_DEFAULT_LISTEN_PORT               8080
#define HG_DEFAULT_STORE                     "sqlite:./var/hookgate.db"
#define HG_DEFAULT_MAX_BODY                  ((size_t)1 << 20) /* 1 MiB per request body */
#define HG_DEFAULT_REQUEST_TIMEOUT_MS        10000             /* whole request: headers + body */
#define HG_DEFAULT_MAX_CONNECTIONS           1024
#define HG_DEFAULT_MAX_IN_FLIGHT             64    /* delivery attempts at once, all endpoints */
#define HG_DEFAULT_ENDPOINT_MAX_IN_FLIGHT    8     /* delivery attempts at once, per endpoint */
#define HG_DEFAULT_ENDPOINT_TIMEOUT_MS       30000 /* one attempt, connect to last byte */
#define HG_DEFAULT_RETRY_MAX_DELAY_MS        (3600 * 1000) /* no wait between attempts is longer */
#define HG_DEFAULT_RETRY_JITTER              0.10          /* each wait moves by up to +-10% */
#define HG_MAX_RETRY_ATTEMPTS                100
#define HG_DEFAULT_OUTBOUND_TIMEOUT_MS       10000                /* seed 003: answer within 10 s */
#define HG_DEFAULT_OUTBOUND_DISABLE_AFTER_MS (5LL * 86400 * 1000) /* failing 5 days: off */
#define HG_DEFAULT_OUTBOUND_MAX_IN_FLIGHT    16    /* attempts at once, all subscribers */
#define HG_DEFAULT_MAX_DEDUPE_KEYS           1000  /* keys one request may select; 413 above */
#define HG_DEFAULT_AUDIT_WINDOW_MS           10000 /* refusals are summed per window */
#define HG_DEFAULT_AUDIT_MAX_ROWS            100   /* itemised refusal rows per window */
/* The CN of the client certificate Meta presents (issued by Meta's own CA,
 * meta-outbound-api-ca-2025-12.pem), the mtls subject of provider meta. */
#define HG_META_MTLS_SUBJECT "client.webhooks.fbclientcerts.com"

struct hg_secret {
	uint8_t *bytes;
	size_t len;
};

/* One dedupe key rule: a request header or a JSON path into the body. */
struct hg_dedupe_rule {
	char *expr;               /* as written: "header:X-GitHub-Delivery" or "$.id" */
	char *header;             /* set for header rules */
	struct hg_jsonpath *path; /* set for JSON-path rules */
	char *form;               /* set for form-field rules ("form:MessageSid") */
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
	char *key;                /* as written */
	int by_ip;                /* key: ip */
	char *header;             /* key: header:NAME */
	struct hg_jsonpath *path; /* key: $... */
	char *form;               /* key: form:NAME (a form-encoded body's field) */
	int64_t limit;            /* 0 = no rate limit */
	int64_t per_ms;
};

enum hg_client_cert { HG_CLIENT_CERT_NONE, HG_CLIENT_CERT_OPTIONAL, HG_CLIENT_CERT_REQUIRE };

/* retry: when the attempts of one delivery are made. Two forms:
 *   schedule: [0s, 60s, 2m]  schedule_ms[i] is the wait before attempt i + 1,
 *                            counted from the end of attempt i (schedule_ms[0]
 *                            from the message's receipt); attempts = its length
 *   attempts/base/factor     attempt 1 at once, then base * factor^(k - 1)
 *                            after attempt k fails
 * Every wait is capped by max_delay_ms and moved by up to +-jitter of itself
 * (src/deliver/schedule.c does the arithmetic). */
struct hg_retry {
	int64_t *schedule_ms; /* schedule form; NULL in the exponential form */
	size_t attempts;      /* attempts in all, >= 1 */
	int64_t base_ms;      /* exponential: the wait before attempt 2 */
	double factor;        /* exponential: each later wait is factor times the one before */
	int64_t max_delay_ms; /* no wait (Retry-After included) is longer */
	double jitter;        /* 0.1 = +-10% */
};

/* One "Name: value" an endpoint sends with every HTTP delivery (headers:);
 * value has its ${VAR}s replaced from the environment at load, so it may
 * hold a secret: it is wiped when the config is freed and never logged. */
struct hg_header {
	char *name;
	char *value;
};

/* endpoints: where messages are delivered: an HTTP URL or a command. */
struct hg_endpoint {
	char *name;
	char *url;          /* http:// or https://; NULL for an exec endpoint */
	char **argv;        /* exec: the command's words, NULL-terminated, argv[0] an
			     * absolute path (resolved on PATH at load); NULL for url */
	int64_t timeout_ms; /* one attempt, start to finish */
	struct hg_retry retry;
	int max_in_flight;         /* attempts at once to this endpoint */
	struct hg_secret secret;   /* Standard Webhooks key as "whsec_<base64>" (a raw secret
				    * is wrapped so); bytes NULL = deliveries are not signed */
	struct hg_header *headers; /* headers: sent with every HTTP delivery */
	size_t n_headers;
	/* circuit: after failures attempts in a row fail, nothing is attempted
	 * for cooldown_ms, then one probe decides; failures 0 = no circuit */
	struct hg_circuit {
		int64_t failures;
		int64_t cooldown_ms;
	} circuit;
	int line;
};

/* One route of a source: messages go to endpoint when the filter holds
 * (always, when there is none). A body filter selects values with path and
 * compares each scalar's text with value (hg_jsonpath_scalar_text): "=="
 * holds when any selected value equals it, "!=" when none does. A header
 * filter ("header:Name == value") compares the request header's first value
 * with value: "==" holds when it is present and equal, "!=" otherwise. */
struct hg_route {
	const struct hg_endpoint *endpoint; /* an element of cfg->endpoints */
	char *when;                         /* the filter as written; NULL = none */
	struct hg_jsonpath *path;           /* a body filter */
	char *header;                       /* a header filter: the name, lower-case */
	int negate;                         /* "!=" */
	char *value;
	int line;
};

/* A per-owner limit of the outbound API: limit requests per per_ms; 0 = off. */
struct hg_outbound_limit {
	int64_t limit;
	int64_t per_ms;
};

/* outbound: how subscribers' deliveries are made (docs/outbound.md). */
struct hg_outbound {
	struct hg_retry retry;    /* default 0s, 60s, 2m, 4m, 8m; max_delay 1h; no jitter */
	int64_t timeout_ms;       /* one attempt; default 10 s */
	int64_t disable_after_ms; /* failing this long switches a subscription off; 0 = never */
	int max_in_flight;        /* attempts at once across all subscriptions */
	struct hg_outbound_limit rl_create;     /* default 10 per hour */
	struct hg_outbound_limit rl_regenerate; /* default 5 per hour */
	struct hg_outbound_limit rl_manage;     /* list/get/patch/delete/deliveries; default off */
	struct hg_outbound_limit rl_publish;    /* default off */
};

/* One counting rule of alerts: more than limit events per per_ms (at most
 * an hour), per source; on 0: turned off. */
struct hg_alert_limit {
	int on;
	int64_t limit;
	int64_t per_ms;
};

/* alerts: the built-in rules' thresholds (src/alerts/alerts.h says what
 * each watches); every rule is on, with these defaults, unless turned off. */
struct hg_alert_config {
	struct hg_alert_limit bad_signatures; /* 5 per 1h */
	struct hg_alert_limit rate_limited;   /* 0 per 1h: any */
	struct hg_alert_limit dead;           /* 0 per 1h: any */
	int volume_on;
	double volume_factor;       /* 3: this hour over 3x the same hour's mean */
	int64_t volume_baseline_ms; /* 7d: the days the mean is taken over */
	int duplicate_on;
	double duplicate_ratio; /* 0.10 of the requests received in the hour */
	int error_on;
	double error_ratio; /* 0.05 of the delivery attempts in the hour */
	int slow_ack_on;
	int64_t slow_ack_ms;  /* 1500: the hour's ack p95 above it */
	int store_on;         /* the store refuses writes */
	int circuit_on;       /* an endpoint's circuit is open */
	int64_t min_requests; /* 20: the ratios and slow_ack judge no fewer */
	char *endpoint;       /* also deliver alerts to this endpoint; NULL: none */
};

/* media: (WhatsApp Cloud API) — the source's media are fetched from the
 * Graph API by src/media/ and kept under dir (docs/config.md, "media"). */
#define HG_DEFAULT_MEDIA_GRAPH_URL "https://graph.facebook.com/v21.0"
#define HG_DEFAULT_MEDIA_DIR       "./var/media"
#define HG_DEFAULT_MEDIA_TTL_MS    (30LL * 86400 * 1000)
#define HG_DEFAULT_MEDIA_MAX_SIZE  ((int64_t)100 << 20) /* WhatsApp's own limit */
#define HG_DEFAULT_MEDIA_WAIT_MS   (2 * 60 * 1000)
struct hg_media_config {
	struct hg_secret token; /* token_env: the Graph API's Bearer token */
	char *token_env;
	char *graph_url;  /* no trailing '/' */
	char *dir;        /* where files are kept (created 0700) */
	int64_t ttl_ms;   /* files older are deleted by the retention purge; 0 = kept */
	int64_t max_size; /* bytes: a larger file is refused without being kept */
	int64_t wait_ms;  /* how long deliveries wait for the message's media */
	char **scan;      /* argv (argv[0] absolute), NULL-terminated; NULL = no scan */
};

struct hg_source {
	char *name;                            /* URL segment: /in/{name} */
	char *provider;                        /* scheme name as written */
	const struct hg_verify_scheme *scheme; /* resolved from provider */
	struct hg_secret *secrets;             /* >= 1; any may match (rotation) */
	size_t n_secrets;
	struct hg_secret verify_token; /* Meta GET handshake; bytes NULL when unset */
	struct hg_dedupe_rule *dedupe; /* configured, else the scheme's default */
	size_t n_dedupe;               /* 0: SHA-256 of the body */
	size_t max_body;               /* bytes */
	size_t max_dedupe_keys;        /* keys a request may select; 0: no limit */
	/* generic `hmac` scheme */
	char *header; /* signature header name */
	enum hg_hash algorithm;
	enum hg_encoding encoding;
	char *prefix; /* e.g. "sha256=", may be NULL */
	/* replay protection */
	int64_t tolerance_ms;             /* timestamped schemes; default 300 s */
	struct hg_jsonpath *max_age_path; /* clipper/hmac: e.g. $.timestamp; NULL = off */
	int64_t max_age_ms;               /* with max_age_path; default 300 s */
	char *public_url;                 /* per-source override of the global one */
	struct hg_rate_limit rate_limit;
	int mtls_require;       /* mtls: {require: true, subject: NAME or [NAME, ...]} */
	char **mtls_subjects;   /* CN or DNS SAN the client certificate must have; any of */
	size_t n_mtls_subjects; /* them (provider meta: HG_META_MTLS_SUBJECT by default) */
	/* forward_headers: the request headers passed on to its endpoints (as
	 * HTTP headers, and to exec commands as HOOKGATE_HEADER_* variables);
	 * the provider's defaults when not configured. Never a signature or
	 * credential header (refused at load). */
	char **forward_headers;
	size_t n_forward_headers;
	int64_t retention_ms;    /* retention: how long its messages are kept (0 = forever);
				  * -1 = not set, the top-level retention applies
				  * (hg_config_retention) */
	struct hg_route *routes; /* where its messages are delivered */
	size_t n_routes;
	struct hg_media_config *media; /* media: ; NULL when not configured */
	int line;                      /* where it was defined */
};

struct hg_config {
	char *path; /* file it came from, or "(built-in)" */
	char *listen_host;
	int listen_port;
	char *public_url;       /* may be NULL */
	char *store;            /* "sqlite:PATH" (or a bare path) | "postgres://..." */
	int threads;            /* event loops; 0 = one per core */
	size_t max_connections; /* across all loops */
	int64_t request_timeout_ms;
	size_t max_body; /* default for sources */
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
	struct hg_endpoint *endpoints;
	size_t n_endpoints;
	int max_in_flight;            /* delivery attempts at once, all endpoints together */
	char *admin_token_env;        /* the variable admin_token comes from; NULL when unset */
	struct hg_secret admin_token; /* admin_token_env: the management API's Bearer token;
				       * bytes NULL when unset */
	int64_t retention_ms;         /* how long messages, deliveries and attempts are kept;
				       * 0 = forever */
	size_t max_dedupe_keys;       /* default for sources */
	/* the audit log: refusals are summed per (event, source, client, reason)
	 * per audit_window_ms, at most audit_max_rows itemised rows per window
	 * (the rest are summed per event and source); audit_retention_ms > 0:
	 * rows older than that are removed behind a checkpoint row (0, the
	 * default: the audit log is kept forever) */
	int64_t audit_window_ms;
	int64_t audit_max_rows;
	int64_t audit_retention_ms;
	/* encryption: the keys of encryption at rest (src/crypt/crypt.h), in
	 * the order listed: the last encrypts new writes, each decrypts. None:
	 * nothing is encrypted. Wiped when the config is freed; never logged. */
	uint8_t (*enc_keys)[32];
	size_t n_enc_keys;
	/* audit: {received, reads}. audit_received: one row per accepted inbound
	 * message (event "message_received"), written with the message. audit_reads:
	 * one row per read of a message body, an attempt's response or a
	 * subscription secret through the management API; -1 = not set (read it
	 * with hg_config_audit_reads()). */
	int audit_received;
	int audit_reads;
	/* Names of the environment variables secrets were read from (secret_env,
	 * verify_token_env, admin_token_env): exec endpoints do not inherit them. */
	char **secret_envs;
	size_t n_secret_envs;
	/* outbound webhooks (docs/outbound.md) */
	char **event_types; /* what may be published and subscribed to; none = any */
	size_t n_event_types;
	int allow_http; /* subscriber URLs may be http:// */
	int console; /* the web console at /ui/ (`console: on|off`); served only with an admin token
		      */
	struct hg_cidr *egress_allow; /* ranges subscribers may reach despite the SSRF guard */
	size_t n_egress_allow;
	struct hg_outbound outbound;
	struct hg_alert_config alerts;
	/* references beyond the first (snapshot.c); 0 for a config nobody
	 * shares: hg_config_put() then frees it */
	atomic_long extra_refs;
};

/* Loads and validates path. On error returns HG_EINVAL (or HG_EIO when the
 * file cannot be read) and writes "FILE:LINE: KEY: what is wrong" into err. */
int hg_config_load(const char *path, struct hg_config **out, char *err, size_t errlen);
/* hg_config_load() with flags. HG_CONFIG_NO_SECRETS reads no secret: no
 * environment variable or file behind secret_env, secret_file,
 * verify_token_env or admin_token_env need exist, and every secret holds a
 * stand-in instead. For commands that only need the config's shape (the
 * listen address, the store, the names of variables), never for serving. */
#define HG_CONFIG_NO_SECRETS 1u
int hg_config_load_opts(const char *path, unsigned flags, struct hg_config **out, char *err,
			size_t errlen);
/* The built-in default: listen 127.0.0.1:8080, SQLite in ./var, no sources. */
int hg_config_default(struct hg_config **out);
void hg_config_free(struct hg_config *cfg);

/* ---- live snapshots (snapshot.c) ----
 * A loaded config never changes. A reload loads a new one and makes it the
 * current snapshot; whoever works with the config takes a reference to the
 * snapshot current at the start of a unit of work (a request, an API job,
 * an engine turn, a stored message) and gives it back at its end, so an old
 * snapshot lives exactly as long as some work still uses it. */
struct hg_config_live;

/* Makes first (the daemon's startup config, taken over) the current one. */
int hg_config_live_new(struct hg_config *first, struct hg_config_live **out);
/* Drops the current snapshot (freed once no reference is left). */
void hg_config_live_free(struct hg_config_live *live);
/* A reference to the current snapshot; give it back with hg_config_put().
 * *gen (may be NULL) gets its generation: 1 at start, +1 per swap. */
struct hg_config *hg_config_get(struct hg_config_live *live, uint64_t *gen);
/* The current generation, without taking a reference (one atomic load):
 * lets a holder see that its snapshot is no longer the current one. */
uint64_t hg_config_live_gen(struct hg_config_live *live);
/* Makes next (taken over) the current snapshot; the previous one goes once
 * its last reference is given back. */
void hg_config_live_swap(struct hg_config_live *live, struct hg_config *next);
/* Another reference to cfg, which the caller holds already. */
struct hg_config *hg_config_hold(struct hg_config *cfg);
/* Gives a reference back; the last one frees the config. NULL is ignored. */
void hg_config_put(struct hg_config *cfg);

const struct hg_source *hg_config_find_source(const struct hg_config *cfg, const char *name,
					      size_t len);
/* Whether reads of message bodies, attempts' responses and subscription
 * secrets are audited: audit.reads when it is set, else on when encryption
 * at rest is configured and off otherwise. */
int hg_config_audit_reads(const struct hg_config *cfg);
/* How long src's messages are kept (ms; 0 = forever): its own retention
 * when it has one, else the top-level retention (also for src NULL, the
 * messages of no configured source, such as outbound events). */
int64_t hg_config_retention(const struct hg_config *cfg, const struct hg_source *src);
/* The endpoint called name (NUL-terminated), or NULL. */
const struct hg_endpoint *hg_config_find_endpoint(const struct hg_config *cfg, const char *name);

#endif
