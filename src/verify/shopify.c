/*
 * shopify.c — Shopify's `X-Shopify-Hmac-Sha256`: the base64 HMAC-SHA256 of
 * the raw body under the app's client secret. Nothing else is signed, so
 * replays are caught by dedupe on the stable X-Shopify-Webhook-Id.
 *
 * Hot path: no allocation, no I/O.
 */
#include "verify/verify_internal.h"

static const struct hg_verify_body_mac hg_verify_shopify_mac = {
    .header = "X-Shopify-Hmac-Sha256", .hash = HG_SHA256, .enc = HG_ENC_BASE64};

static int hg_verify_shopify_verify(const struct hg_source *src, const struct hg_verify_input *in,
				    const char **reason)
{
	return hg_verify_body_sig(src, in, &hg_verify_shopify_mac, reason);
}

static int hg_verify_shopify_sign(const struct hg_sign_input *in, struct hg_buf *out)
{
	return hg_verify_body_sign(in, &hg_verify_shopify_mac, out);
}

static const char *const hg_verify_shopify_dedupe[] = {"header:X-Shopify-Webhook-Id", NULL};

const struct hg_verify_scheme hg_verify_shopify = {
    .name = "shopify",
    .verify = hg_verify_shopify_verify,
    .sign = hg_verify_shopify_sign,
    .default_dedupe = hg_verify_shopify_dedupe,
};
