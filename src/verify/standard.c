/*
 * standard.c — Standard Webhooks (standardwebhooks.com; Svix and the
 * libraries built on the spec): headers webhook-id, webhook-timestamp and
 * webhook-signature (Svix itself names them svix-id, svix-timestamp and
 * svix-signature; those are read when no webhook-* header is present, never
 * mixed with them), the last a space-separated list of "v1,<base64>"
 * entries (several while a secret rotates; other versions are ignored).
 * Each is the HMAC-SHA256 of "<id>.<timestamp>." + body, keyed by the
 * base64-decoded part of the secret after "whsec_". The timestamp must be
 * within the source's tolerance of now.
 *
 * Hot path: no allocation, no I/O; keys are decoded into a stack buffer.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>

#include "verify/verify_internal.h"

#define HG_STANDARD_ID_HEADER  "webhook-id"
#define HG_STANDARD_TS_HEADER  "webhook-timestamp"
#define HG_STANDARD_SIG_HEADER "webhook-signature"
#define HG_SVIX_ID_HEADER      "svix-id"
#define HG_SVIX_TS_HEADER      "svix-timestamp"
#define HG_SVIX_SIG_HEADER     "svix-signature"
#define HG_STANDARD_SECRET     HG_WHSEC_PREFIX
#define HG_STANDARD_SECRET_LEN (sizeof(HG_STANDARD_SECRET) - 1)
/* Rotation means two or three entries; many more only cost us HMACs. */
#define HG_STANDARD_MAX_SIGS 8

/* The HMAC key of a secret: base64 after "whsec_", or the whole secret
 * decoded when it lacks the prefix (some SDKs print the bare base64). */
static int hg_standard_key(const struct hg_secret *secret, uint8_t *out, size_t cap, size_t *len)
{
	const char *s = (const char *)secret->bytes;
	size_t n = secret->len;
	int got;

	if (n >= HG_STANDARD_SECRET_LEN &&
	    memcmp(s, HG_STANDARD_SECRET, HG_STANDARD_SECRET_LEN) == 0) {
		s += HG_STANDARD_SECRET_LEN;
		n -= HG_STANDARD_SECRET_LEN;
	}
	got = hg_b64_decode(s, n, out, cap);
	if (got <= 0)
		return HG_EINVAL;
	*len = (size_t)got;
	return HG_OK;
}

/* The next space-separated entry of the signature header, or 0 at its end. */
static int hg_standard_next(const char *v, size_t len, size_t *pos, const char **e, size_t *elen)
{
	size_t start;

	while (*pos < len && v[*pos] == ' ')
		(*pos)++;
	if (*pos >= len)
		return 0;
	start = *pos;
	while (*pos < len && v[*pos] != ' ')
		(*pos)++;
	*e = v + start;
	*elen = *pos - start;
	return 1;
}

static int hg_verify_standard_verify(const struct hg_source *src, const struct hg_verify_input *in,
				     const char **reason)
{
	const uint8_t *parts[5] = {NULL, (const uint8_t *)".", NULL, (const uint8_t *)".",
				   in->body};
	size_t lens[5] = {0, 1, 0, 1, in->body_len};
	struct hg_verify_mac mac = {
	    .hash = HG_SHA256, .parts = parts, .lens = lens, .nparts = 5, .key = hg_standard_key};
	uint8_t sig[HG_MAX_MAC];
	const char *id, *t, *v, *e;
	size_t idlen = 0, tlen = 0, len = 0, elen, pos = 0, tried = 0;
	int64_t ts = 0;
	int matched = 0;

	id = hg_verify_header(in, HG_STANDARD_ID_HEADER, &idlen);
	v = hg_verify_header(in, HG_STANDARD_SIG_HEADER, &len);
	t = hg_verify_header(in, HG_STANDARD_TS_HEADER, &tlen);
	/* One set or the other: a webhook-id with an svix-signature would be
	 * a signature over content nobody sent together. */
	if (id == NULL && v == NULL && t == NULL) {
		id = hg_verify_header(in, HG_SVIX_ID_HEADER, &idlen);
		v = hg_verify_header(in, HG_SVIX_SIG_HEADER, &len);
		t = hg_verify_header(in, HG_SVIX_TS_HEADER, &tlen);
	}
	if (id == NULL || v == NULL) {
		*reason = HG_VERIFY_MISSING;
		return HG_EAUTH;
	}
	if (t == NULL) {
		*reason = HG_VERIFY_NO_TS;
		return HG_EAUTH;
	}
	if (hg_verify_ts_parse(t, tlen, &ts) != HG_OK) {
		*reason = HG_VERIFY_BAD_TS;
		return HG_EAUTH;
	}
	parts[0] = (const uint8_t *)id;
	lens[0] = idlen;
	parts[2] = (const uint8_t *)t;
	lens[2] = tlen;
	while (!matched && hg_standard_next(v, len, &pos, &e, &elen)) {
		int n;

		if (elen < 3 || memcmp(e, "v1,", 3) != 0)
			continue;
		if (++tried > HG_STANDARD_MAX_SIGS)
			break;
		n = hg_verify_sig_decode(HG_ENC_BASE64, e + 3, elen - 3, sig);
		if (n > 0 && hg_verify_mac_match(src, &mac, sig, (size_t)n) == HG_OK)
			matched = 1;
	}
	OPENSSL_cleanse(sig, sizeof(sig));
	if (!matched) {
		*reason = tried == 0 ? HG_VERIFY_MALFORMED : HG_VERIFY_MISMATCH;
		return HG_EAUTH;
	}
	*reason = NULL;
	return hg_verify_fresh(in->now_s, ts * 1000, src->tolerance_ms, reason);
}

static int hg_verify_standard_sign(const struct hg_sign_input *in, struct hg_buf *out)
{
	struct hg_secret secret = {.bytes = (uint8_t *)in->secret, .len = in->secret_len};
	int64_t ts = in->timestamp != 0 ? in->timestamp : hg_now_ms() / 1000;
	char uuid[HG_UUID_LEN + 1], idbuf[HG_UUID_LEN + 5], t[24], sig[HG_SIGN_TEXT_MAX];
	const char *id = in->id;
	uint8_t key[HG_VERIFY_MAX_KEY];
	size_t klen = 0;
	int n, rc;

	if (id == NULL) {
		hg_uuid7(uuid);
		n = snprintf(idbuf, sizeof(idbuf), "msg_%s", uuid);
		if (n < 0 || (size_t)n >= sizeof(idbuf))
			return HG_EINVAL;
		id = idbuf;
	}
	n = snprintf(t, sizeof(t), "%" PRId64, ts);
	if (n < 0 || (size_t)n >= sizeof(t))
		return HG_EINVAL;
	rc = hg_standard_key(&secret, key, sizeof(key), &klen);
	if (rc == HG_OK && hg_sign_standard(key, klen, id, strlen(id), t, (size_t)n, in->body,
					    in->body_len, sig) == 0)
		rc = HG_EINVAL;
	if (rc == HG_OK)
		rc =
		    hg_buf_printf(out,
				  HG_STANDARD_ID_HEADER ": %s\n" HG_STANDARD_TS_HEADER
							": %s\n" HG_STANDARD_SIG_HEADER ": v1,%s\n",
				  id, t, sig);
	OPENSSL_cleanse(key, sizeof(key));
	OPENSSL_cleanse(sig, sizeof(sig));
	return rc;
}

/* Whichever set of names the request used; the other selects nothing. */
static const char *const hg_verify_standard_dedupe[] = {"header:webhook-id", "header:svix-id",
							NULL};

const struct hg_verify_scheme hg_verify_standard = {
    .name = "standard",
    .verify = hg_verify_standard_verify,
    .sign = hg_verify_standard_sign,
    .default_dedupe = hg_verify_standard_dedupe,
};
