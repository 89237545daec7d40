/*
 * zoho.c — Zoho Payments: `X-Zoho-Webhook-Signature: t=<unix ms>,v=<hex>`,
 * where v is the hex HMAC-SHA256 of "<t>." + body keyed by the signing key
 * as it is written (not decoded). The timestamp is in milliseconds, unlike
 * Stripe's; it must be within the source's tolerance (300 s by default) of
 * now, checked only once the signature has passed so an unauthenticated
 * sender learns nothing from the reason. Several v items (a key being
 * rotated) are accepted, any may match. Zoho's other products sign nothing
 * and use provider token; the two share nothing but the name.
 *
 * Hot path: no allocation, no I/O.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>

#include "verify/verify_internal.h"

#define HG_ZOHO_HEADER "X-Zoho-Webhook-Signature"
/* Each v costs an HMAC of the body per secret; more than a few is abuse. */
#define HG_ZOHO_MAX_V 8

static int hg_verify_zoho_verify(const struct hg_source *src, const struct hg_verify_input *in,
				 const char **reason)
{
	const uint8_t *parts[3] = {NULL, (const uint8_t *)".", in->body};
	size_t lens[3] = {0, 1, in->body_len};
	struct hg_verify_mac mac = {.hash = HG_SHA256, .parts = parts, .lens = lens, .nparts = 3};
	struct hg_verify_item it;
	uint8_t sig[HG_MAX_MAC];
	const char *v, *t = NULL;
	size_t len = 0, tlen = 0, pos = 0, nv = 0;
	int64_t t_ms = 0;
	int matched = 0;

	v = hg_verify_header(in, HG_ZOHO_HEADER, &len);
	if (v == NULL) {
		*reason = HG_VERIFY_MISSING;
		return HG_EAUTH;
	}
	/* Exactly one t: with two, which one the signature covers is ours to guess. */
	while (hg_verify_item_next(v, len, &pos, &it)) {
		if (hg_verify_item_is(&it, "t")) {
			if (t != NULL) {
				*reason = HG_VERIFY_MALFORMED;
				return HG_EAUTH;
			}
			t = it.val;
			tlen = it.vlen;
		} else if (hg_verify_item_is(&it, "v")) {
			nv++;
		}
	}
	if (t == NULL || hg_verify_ts_parse(t, tlen, &t_ms) != HG_OK || nv == 0 ||
	    nv > HG_ZOHO_MAX_V) {
		*reason = HG_VERIFY_MALFORMED;
		return HG_EAUTH;
	}
	parts[0] = (const uint8_t *)t;
	lens[0] = tlen;
	pos = 0;
	while (!matched && hg_verify_item_next(v, len, &pos, &it)) {
		int n;

		if (!hg_verify_item_is(&it, "v"))
			continue;
		n = hg_verify_sig_decode(HG_ENC_HEX, it.val, it.vlen, sig);
		if (n > 0 && hg_verify_mac_match(src, &mac, sig, (size_t)n) == HG_OK)
			matched = 1;
	}
	OPENSSL_cleanse(sig, sizeof(sig));
	if (!matched) {
		*reason = HG_VERIFY_MISMATCH;
		return HG_EAUTH;
	}
	*reason = NULL;
	return hg_verify_fresh(in->now_s, t_ms, src->tolerance_ms, reason);
}

/* in->timestamp is in milliseconds here (0 = now), as Zoho writes it. */
static int hg_verify_zoho_sign(const struct hg_sign_input *in, struct hg_buf *out)
{
	int64_t ts = in->timestamp != 0 ? in->timestamp : hg_now_ms();
	char t[24];
	const uint8_t *parts[3] = {(const uint8_t *)t, (const uint8_t *)".", in->body};
	size_t lens[3] = {0, 1, in->body_len};
	int n, rc;

	n = snprintf(t, sizeof(t), "%" PRId64, ts);
	if (n < 0 || (size_t)n >= sizeof(t))
		return HG_EINVAL;
	lens[0] = (size_t)n;
	rc = hg_buf_printf(out, HG_ZOHO_HEADER ": t=%s,v=", t);
	if (rc != HG_OK)
		return rc;
	rc = hg_verify_mac_append(HG_SHA256, HG_ENC_HEX, in->secret, in->secret_len, parts, lens, 3,
				  out);
	if (rc != HG_OK)
		return rc;
	return hg_buf_puts(out, "\n");
}

const struct hg_verify_scheme hg_verify_zoho = {
    .name = "zoho",
    .verify = hg_verify_zoho_verify,
    .sign = hg_verify_zoho_sign,
    .default_dedupe = NULL,
};
