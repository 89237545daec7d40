/*
 * verify_internal.h — what the scheme files in src/verify/ share and nothing
 * outside this folder includes: the list of schemes, and the one helper every
 * scheme uses to say "does any configured secret produce this MAC".
 *
 * Adding a provider: write src/verify/<name>.c defining
 *   const struct hg_verify_scheme hg_verify_<name> = {.name = "<name>", ...};
 * and add X(<name>) to HG_VERIFY_SCHEMES below. The table, the extern
 * declarations and hg_verify_names() all follow from that one line.
 */
#ifndef HG_VERIFY_INTERNAL_H
#define HG_VERIFY_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "config/config.h"
#include "util/util.h"
#include "verify/verify.h"

/* The body's JSON tree (NULL when the body is not JSON): the request's
 * shared one (in->json), made at most once per request, or, without it,
 * one made in local; the caller releases local (hg_json_body_release)
 * either way. */
struct hg_json_body;
json_t *hg_verify_body_json(const struct hg_verify_input *in, struct hg_json_body *local);

/* Order is the order hg_verify_names() prints. */
#define HG_VERIFY_SCHEMES(X)                                                                       \
	X(meta)                                                                                    \
	X(github)                                                                                  \
	X(twilio)                                                                                  \
	X(stripe)                                                                                  \
	X(slack)                                                                                   \
	X(shopify)                                                                                 \
	X(standard)                                                                                \
	X(clipper)                                                                                 \
	X(hmac)                                                                                    \
	X(token)                                                                                   \
	X(zoho)

#define HG_VERIFY_DECLARE(n) extern const struct hg_verify_scheme hg_verify_##n;
HG_VERIFY_SCHEMES(HG_VERIFY_DECLARE)
#undef HG_VERIFY_DECLARE

/* The reasons a 401 carries; static, so callers may keep the pointer. */
#define HG_VERIFY_MISSING   "missing signature header"
#define HG_VERIFY_MALFORMED "malformed signature header"
#define HG_VERIFY_MISMATCH  "signature mismatch"
#define HG_VERIFY_NO_TS     "missing timestamp"
#define HG_VERIFY_BAD_TS    "malformed timestamp"
#define HG_VERIFY_REPLAY    "timestamp outside tolerance"

/* The content a scheme signs, as pieces concatenated without copying
 * (Stripe: t, ".", body; Slack: "v0:", ts, ":", body; most: just body). */
struct hg_verify_mac {
	enum hg_hash hash;
	const uint8_t *const *parts;
	const size_t *lens;
	size_t nparts;
	/* Turns a configured secret into the HMAC key when the provider does not
	 * use the secret bytes as they are (Standard Webhooks: base64 after
	 * "whsec_"). Writes at most cap bytes into out and sets *len; returns
	 * HG_OK or a negative code, which counts as "this secret does not
	 * match". NULL: the secret's bytes are the key. */
	int (*key)(const struct hg_secret *secret, uint8_t *out, size_t cap, size_t *len);
};

/* The largest key a key() hook may produce. */
#define HG_VERIFY_MAX_KEY 256

/* HG_OK when the HMAC of mac->parts under any of src's secrets equals the
 * decoded signature sig (sig_len bytes), else HG_EAUTH. A signature whose
 * length is not the MAC length is simply a mismatch. Constant time in the
 * signature bytes; every secret is tried so timing does not reveal which one
 * matched. No allocation: safe on the request path. */
int hg_verify_mac_match(const struct hg_source *src, const struct hg_verify_mac *mac,
			const uint8_t *sig, size_t sig_len);

/* Decodes a signature written as text (hex in either case, or base64) into
 * out. Returns the number of bytes, HG_ETOOBIG when the text is longer than
 * any MAC we compute could encode to (a mismatch, not a parse error), or
 * HG_EINVAL when it is not valid in that encoding. */
int hg_verify_sig_decode(enum hg_encoding enc, const char *text, size_t len,
			 uint8_t out[HG_MAX_MAC]);

/* The common tail of every scheme: decode text, match it against src's
 * secrets, and set *reason. Returns HG_OK or HG_EAUTH. */
int hg_verify_sig_check(const struct hg_source *src, const struct hg_verify_mac *mac,
			enum hg_encoding enc, const char *text, size_t len, const char **reason);

/* A request header with surrounding spaces and tabs removed; NULL when the
 * request has none (or it is empty). The value is not NUL-terminated. */
const char *hg_verify_header(const struct hg_verify_input *in, const char *name, size_t *len);

/* Appends the HMAC of parts under key, encoded as enc (hex is lower case),
 * to out; for the sign() side of each scheme. HG_OK, HG_ENOMEM or HG_EINVAL. */
int hg_verify_mac_append(enum hg_hash hash, enum hg_encoding enc, const uint8_t *key, size_t keylen,
			 const uint8_t *const *parts, const size_t *lens, size_t nparts,
			 struct hg_buf *out);

/* ---- the simplest shape: one header carrying [prefix] + encoded HMAC of the body ---- */

/* What a body-MAC scheme is made of; shopify and clipper are one each. */
struct hg_verify_body_mac {
	const char *header;
	const char *prefix; /* required in front of the encoded MAC; NULL = none */
	enum hg_hash hash;
	enum hg_encoding enc;
};

/* Verifies header(in) == prefix + enc(HMAC(secret, body)) for any secret. */
int hg_verify_body_sig(const struct hg_source *src, const struct hg_verify_input *in,
		       const struct hg_verify_body_mac *bm, const char **reason);
/* Appends "Header: prefix<mac>\n" for in->secret over in->body. */
int hg_verify_body_sign(const struct hg_sign_input *in, const struct hg_verify_body_mac *bm,
			struct hg_buf *out);

/* ---- headers of comma-separated "key=value" items (Stripe, Zoho) ---- */

/* One item of such a header; not NUL-terminated. */
struct hg_verify_item {
	const char *key, *val;
	size_t klen, vlen;
};

/* Reads the item at *pos (items are comma-separated; spaces around them are
 * tolerated; an item without '=' has an empty value). Returns 0 at the end
 * of the header. */
int hg_verify_item_next(const char *v, size_t len, size_t *pos, struct hg_verify_item *it);
/* 1 when the item's key is exactly key. */
int hg_verify_item_is(const struct hg_verify_item *it, const char *key);

/* ---- timestamps and replay windows ---- */

/* The window used when a source leaves tolerance or max_age at 0. */
#define HG_VERIFY_DEFAULT_WINDOW_MS (300 * 1000)

/* A decimal unix time in seconds as providers put it in headers: digits
 * only, no sign, at most 15 of them (so it can be turned into milliseconds
 * without overflow). HG_OK or HG_EINVAL. */
int hg_verify_ts_parse(const char *text, size_t len, int64_t *out_s);

/* An ISO-8601 / RFC 3339 date-time "2024-01-15T10:30:00Z": optional
 * fraction (".123", kept to the millisecond), zone "Z" or +hh:mm / -hh:mm.
 * A time without a zone is refused: it would mean the sender's local time.
 * Writes milliseconds since the epoch; HG_OK or HG_EINVAL. */
int hg_verify_iso8601_parse(const char *text, size_t len, int64_t *out_ms);

/* HG_OK when |now_s - t_ms| <= window_ms (<= 0 means the 300 s default),
 * else HG_EREPLAY with *reason (when reason is not NULL) set. Timestamps
 * ahead of now count as much as ones behind: a skewed or forged future time
 * must not extend a signature's life. */
int hg_verify_fresh(int64_t now_s, int64_t t_ms, int64_t window_ms, const char **reason);

/* A "t=<time>,<vkey>=<hex>" header whose hex is HMAC-SHA256 of "<time>." +
 * body (Stripe: v1, seconds; Zoho Payments: v, milliseconds). */
struct hg_verify_tv {
	const char *header;
	const char *vkey;
	int64_t unit_ms; /* milliseconds per unit of t */
};
/* Exactly one t, 1 to 8 signatures (each costs an HMAC of the body per
 * secret); any matching passes, then t must be within the source's
 * tolerance. */
int hg_verify_tv_check(const struct hg_source *src, const struct hg_verify_input *in,
		       const struct hg_verify_tv *tv, const char **reason);
/* The header for t (in tv's unit) and body. */
int hg_verify_tv_sign(const struct hg_sign_input *in, const struct hg_verify_tv *tv, int64_t t,
		      struct hg_buf *out);

/* The optional max_age check of clipper and hmac, run after the signature
 * has passed. Does nothing (HG_OK) when src->max_age_path is NULL; else the
 * body must be JSON whose first value at that path is unix seconds (an
 * integer) or an ISO-8601 string within src->max_age_ms of now. HG_OK,
 * HG_EREPLAY, or HG_EAUTH with *reason "missing timestamp" when the body is
 * not JSON or the value is absent or unparseable. Parses the body with
 * jansson (the one allocation, freed before returning). */
int hg_verify_max_age(const struct hg_source *src, const struct hg_verify_input *in,
		      const char **reason);

#endif
