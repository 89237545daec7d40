/*
 * verify.h — provider signature schemes. Each scheme is one small file in
 * src/verify/ sharing the HMAC helper in util; this header's table names them.
 * Verification always works on the raw request bytes and compares in
 * constant time; a request passes when any of the source's secrets matches.
 */
#ifndef HG_VERIFY_H
#define HG_VERIFY_H

#include <stddef.h>
#include <stdint.h>

#include "util/util.h"

struct hg_source;

/* What a scheme may look at. header() returns the first value of a request
 * header (case-insensitive name) and its length, or NULL. */
struct hg_verify_input {
	const uint8_t *body;
	size_t body_len;
	const char *(*header)(void *ctx, const char *name, size_t *len);
	void *ctx;
	const char *url; /* full URL the provider called, with query (Twilio); may be NULL */
	size_t url_len;
	const char *query; /* the request's query string without '?' (token); may be NULL */
	size_t query_len;
	int64_t now_s; /* current time, seconds since the epoch */
	/* The body's JSON tree parsed at most once for the whole request
	 * (util/jsonpath.h), or NULL: a scheme that needs the tree parses the
	 * body itself. */
	struct hg_json_body *json;
};

/* What `hookgate sign` needs to produce a provider's headers. */
struct hg_sign_input {
	const uint8_t *secret;
	size_t secret_len;
	const uint8_t *body;
	size_t body_len;
	const char *url;   /* Twilio */
	int64_t timestamp; /* timestamped schemes; 0 = now */
	const char *id;    /* Standard Webhooks message id, ... */
	/* generic hmac */
	const char *header;
	enum hg_hash algorithm;
	int encoding; /* enum hg_encoding from config.h */
	const char *prefix;
};

struct hg_verify_scheme {
	const char *name;
	/* HG_OK, HG_EAUTH (missing/malformed/wrong signature) or HG_EREPLAY.
	 * *reason is a static one-line string for logs and the 401 body. */
	int (*verify)(const struct hg_source *src, const struct hg_verify_input *in,
		      const char **reason);
	/* Appends "Header: value\n" lines a provider would send. */
	int (*sign)(const struct hg_sign_input *in, struct hg_buf *out);
	/* Dedupe rules used when a source configures none (NULL-terminated;
	 * NULL or empty = SHA-256 of the body). */
	const char *const *default_dedupe;
	/* Optional: after a valid signature, answers a provider's POST
	 * handshake instead of storing it (Slack's url_verification). Returns 1
	 * and appends the JSON answer to out when the request is one, else 0. */
	int (*post_handshake)(const struct hg_verify_input *in, struct hg_buf *out);
};

/* ---- signing, shared by `hookgate sign` and outbound deliveries ----
 * No allocation and no I/O (the delivery engine calls these per attempt);
 * MACs and keys on the stack are wiped. */

/* The prefix of a Standard Webhooks secret: "whsec_" + base64 of the key. */
#define HG_WHSEC_PREFIX "whsec_"
/* Room for the text of any MAC (hex of the longest, plus a NUL). */
#define HG_SIGN_TEXT_MAX (2 * HG_MAX_MAC + 1)

/* Writes the hex (enc 0, HG_ENC_HEX) or base64 (1, HG_ENC_BASE64) text of
 * HMAC(hash, key, the parts in order) and a NUL to out. Returns its length,
 * or 0 when the hash or encoding is unknown. */
size_t hg_sign_mac_text(enum hg_hash hash, int enc, const uint8_t *key, size_t keylen,
			const uint8_t *const *parts, const size_t *lens, size_t nparts,
			char out[HG_SIGN_TEXT_MAX]);

/* Standard Webhooks: the base64 HMAC-SHA256 of "<id>.<ts>." + body under
 * key, the text after "v1," in a webhook-signature entry. Returns its
 * length, or 0 on failure. */
size_t hg_sign_standard(const uint8_t *key, size_t keylen, const char *id, size_t idlen,
			const char *ts, size_t tslen, const uint8_t *body, size_t len,
			char out[HG_SIGN_TEXT_MAX]);

/* Provider token: 1 and *name set to the parameter's name when where (its
 * header: setting) is "query:Name", else 0 (where names a header). */
int hg_verify_token_query_name(const char *where, const char **name);

/* The scheme called name, or NULL. */
const struct hg_verify_scheme *hg_verify_find(const char *name);
/* Comma-separated list of scheme names, for error messages. */
const char *hg_verify_names(void);

#endif
