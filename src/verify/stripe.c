/*
 * stripe.c — `Stripe-Signature: t=<ts>,v1=<hex>[,v1=<hex>...][,v0=...]`:
 * hex HMAC-SHA256 of "<t>." + body, keyed by the whole endpoint secret
 * string ("whsec_..." as bytes, not decoded). While a secret is being rolled
 * Stripe sends one v1 per live secret, so any v1 may match; v0 (test-mode
 * legacy) and unknown keys are ignored. The timestamp must be within the
 * source's tolerance of now, checked only once the signature has passed so
 * an unauthenticated sender learns nothing from the reason.
 *
 * Hot path: no allocation, no I/O.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>

#include "verify/verify_internal.h"

#define HG_STRIPE_HEADER "Stripe-Signature"
/* Each v1 costs an HMAC of the body per secret; Stripe sends one or two,
 * and a header with dozens is an attempt to make us burn CPU. */
#define HG_STRIPE_MAX_V1 8

static int hg_verify_stripe_verify(const struct hg_source *src, const struct hg_verify_input *in,
				   const char **reason)
{
	const uint8_t *parts[3] = {NULL, (const uint8_t *)".", in->body};
	size_t lens[3] = {0, 1, in->body_len};
	struct hg_verify_mac mac = {.hash = HG_SHA256, .parts = parts, .lens = lens, .nparts = 3};
	struct hg_verify_item it;
	uint8_t sig[HG_MAX_MAC];
	const char *v, *t = NULL;
	size_t len = 0, tlen = 0, pos = 0, nv1 = 0;
	int64_t ts = 0;
	int matched = 0;

	v = hg_verify_header(in, HG_STRIPE_HEADER, &len);
	if (v == NULL) {
		*reason = HG_VERIFY_MISSING;
		return HG_EAUTH;
	}
	/* First pass: exactly one t, and a bounded number of v1. Two t items
	 * would leave it to us which one the signature covers. */
	while (hg_verify_item_next(v, len, &pos, &it)) {
		if (hg_verify_item_is(&it, "t")) {
			if (t != NULL) {
				*reason = HG_VERIFY_MALFORMED;
				return HG_EAUTH;
			}
			t = it.val;
			tlen = it.vlen;
		} else if (hg_verify_item_is(&it, "v1")) {
			nv1++;
		}
	}
	if (t == NULL || hg_verify_ts_parse(t, tlen, &ts) != HG_OK || nv1 == 0 ||
	    nv1 > HG_STRIPE_MAX_V1) {
		*reason = HG_VERIFY_MALFORMED;
		return HG_EAUTH;
	}
	parts[0] = (const uint8_t *)t;
	lens[0] = tlen;
	pos = 0;
	while (!matched && hg_verify_item_next(v, len, &pos, &it)) {
		int n;

		if (!hg_verify_item_is(&it, "v1"))
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
	return hg_verify_fresh(in->now_s, ts * 1000, src->tolerance_ms, reason);
}

static int hg_verify_stripe_sign(const struct hg_sign_input *in, struct hg_buf *out)
{
	int64_t ts = in->timestamp != 0 ? in->timestamp : hg_now_ms() / 1000;
	char t[24];
	const uint8_t *parts[3] = {(const uint8_t *)t, (const uint8_t *)".", in->body};
	size_t lens[3] = {0, 1, in->body_len};
	int n, rc;

	n = snprintf(t, sizeof(t), "%" PRId64, ts);
	if (n < 0 || (size_t)n >= sizeof(t))
		return HG_EINVAL;
	lens[0] = (size_t)n;
	rc = hg_buf_printf(out, HG_STRIPE_HEADER ": t=%s,v1=", t);
	if (rc != HG_OK)
		return rc;
	rc = hg_verify_mac_append(HG_SHA256, HG_ENC_HEX, in->secret, in->secret_len, parts, lens, 3,
				  out);
	if (rc != HG_OK)
		return rc;
	return hg_buf_puts(out, "\n");
}

static const char *const hg_verify_stripe_dedupe[] = {"$.id", NULL};

const struct hg_verify_scheme hg_verify_stripe = {
    .name = "stripe",
    .verify = hg_verify_stripe_verify,
    .sign = hg_verify_stripe_sign,
    .default_dedupe = hg_verify_stripe_dedupe,
};
