/*
 * outsign.c — subscription secrets and the signatures of outbound
 * deliveries (deliver.h states the contract; docs/providers.md "Clipper" and
 * "Standard Webhooks" the formats).
 *
 * One secret, two formats: seed 003's subscribers verify
 * X-Webhook-Signature, the hex HMAC-SHA256 of the body keyed by the
 * 64-character hex secret *as text*; Standard Webhooks libraries take
 * "whsec_" + base64(key bytes). Giving them base64 of the same 64 ASCII
 * characters makes both keys the same bytes, so a subscriber may use
 * either library with the one secret it was shown.
 *
 * Runs on the delivery engine's thread: no allocation, stack buffers only,
 * key material wiped before returning.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>

#include "deliver/deliver.h"
#include "verify/verify.h"

#define OUTSIGN_WHSEC HG_WHSEC_PREFIX

int hg_outbound_secret_new(char out[HG_OUTBOUND_SECRET_LEN + 1])
{
	uint8_t raw[HG_OUTBOUND_SECRET_LEN / 2];
	int rc = hg_random_bytes(raw, sizeof(raw));

	if (rc == HG_OK)
		hg_hex_encode(raw, sizeof(raw), out);
	OPENSSL_cleanse(raw, sizeof(raw));
	return rc;
}

int hg_outbound_secret_valid(const char *s, size_t len)
{
	size_t i;

	if (s == NULL || len != HG_OUTBOUND_SECRET_LEN)
		return 0;
	for (i = 0; i < len; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	return 1;
}

int hg_outbound_secret_whsec(const char *secret, char out[HG_OUTBOUND_WHSEC_LEN + 1])
{
	size_t n;

	if (secret == NULL || !hg_outbound_secret_valid(secret, strlen(secret)))
		return HG_EINVAL;
	memcpy(out, OUTSIGN_WHSEC, sizeof(OUTSIGN_WHSEC) - 1);
	n = hg_b64_encode((const uint8_t *)secret, HG_OUTBOUND_SECRET_LEN,
			  out + sizeof(OUTSIGN_WHSEC) - 1);
	return n + sizeof(OUTSIGN_WHSEC) - 1 == HG_OUTBOUND_WHSEC_LEN ? HG_OK : HG_EINVAL;
}

/* Appends " v1,<base64 HMAC(secret, id.ts.body)>" (no space when first):
 * the secret's 64 characters are the key bytes (see the top). */
static int outsign_standard(const char *secret, const char *id, const char *ts, const uint8_t *body,
			    size_t len, char *dst, size_t cap)
{
	char b64[HG_SIGN_TEXT_MAX];
	size_t used = strlen(dst);
	int w, rc = HG_OK;

	if (hg_sign_standard((const uint8_t *)secret, HG_OUTBOUND_SECRET_LEN, id, strlen(id), ts,
			     strlen(ts), body, len, b64) == 0) {
		rc = HG_EINVAL;
		goto out;
	}
	w = snprintf(dst + used, cap - used, "%sv1,%s", used > 0 ? " " : "", b64);
	if (w < 0 || (size_t)w >= cap - used)
		rc = HG_ETOOBIG;
out:
	OPENSSL_cleanse(b64, sizeof(b64));
	return rc;
}

int hg_outbound_sign(const char *secret, const char *old_secret, const char *msg_id, int64_t ts_s,
		     const uint8_t *body, size_t len, struct hg_outbound_sig *out)
{
	const uint8_t *parts[1] = {body};
	size_t lens[1] = {len};
	char hex[HG_SIGN_TEXT_MAX];
	int w, rc;

	memset(out, 0, sizeof(*out));
	if (secret == NULL || !hg_outbound_secret_valid(secret, strlen(secret)) || msg_id == NULL ||
	    (old_secret != NULL && !hg_outbound_secret_valid(old_secret, strlen(old_secret))))
		return HG_EINVAL;
	if (strlen(msg_id) >= sizeof(out->webhook_id))
		return HG_EINVAL;
	hg_strlcpy(out->webhook_id, msg_id, sizeof(out->webhook_id));
	w = snprintf(out->webhook_timestamp, sizeof(out->webhook_timestamp), "%" PRId64, ts_s);
	if (w < 0 || (size_t)w >= sizeof(out->webhook_timestamp))
		return HG_EINVAL;

	/* X-Webhook-Signature: the same MAC text as the clipper scheme verifies */
	if (hg_sign_mac_text(HG_SHA256, HG_ENC_HEX, (const uint8_t *)secret, HG_OUTBOUND_SECRET_LEN,
			     parts, lens, 1, hex) != sizeof(out->clipper) - 1) {
		rc = HG_EINVAL;
		goto out;
	}
	memcpy(out->clipper, hex, sizeof(out->clipper));
	rc = outsign_standard(secret, out->webhook_id, out->webhook_timestamp, body, len,
			      out->webhook_signature, sizeof(out->webhook_signature));
	if (rc == HG_OK && old_secret != NULL)
		rc = outsign_standard(old_secret, out->webhook_id, out->webhook_timestamp, body,
				      len, out->webhook_signature, sizeof(out->webhook_signature));
out:
	OPENSSL_cleanse(hex, sizeof(hex));
	if (rc != HG_OK)
		memset(out, 0, sizeof(*out));
	return rc;
}
