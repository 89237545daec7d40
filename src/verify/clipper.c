/*
 * clipper.c — the format hookgate's own outbound deliveries use (seed 003):
 * `X-Webhook-Signature` is the hex HMAC-SHA256 of the raw body keyed by the
 * 64-character hex secret taken as text, not hex-decoded (that is what the
 * senders do, so decoding it would never match). No timestamp is signed;
 * an optional max_age on a body field such as $.timestamp bounds replays,
 * and the stable X-Webhook-Delivery-ID dedupes retries.
 *
 * Hot path: no allocation unless max_age is configured (then the body is
 * parsed as JSON once the signature has passed).
 */
#include "verify/verify_internal.h"

static const struct hg_verify_body_mac hg_verify_clipper_mac = {
    .header = "X-Webhook-Signature", .hash = HG_SHA256, .enc = HG_ENC_HEX};

static int hg_verify_clipper_verify(const struct hg_source *src, const struct hg_verify_input *in,
				    const char **reason)
{
	int rc = hg_verify_body_sig(src, in, &hg_verify_clipper_mac, reason);

	/* Only an authenticated body is worth parsing for its timestamp. */
	if (rc != HG_OK)
		return rc;
	return hg_verify_max_age(src, in, reason);
}

static int hg_verify_clipper_sign(const struct hg_sign_input *in, struct hg_buf *out)
{
	return hg_verify_body_sign(in, &hg_verify_clipper_mac, out);
}

static const char *const hg_verify_clipper_dedupe[] = {"header:X-Webhook-Delivery-ID", NULL};

const struct hg_verify_scheme hg_verify_clipper = {
    .name = "clipper",
    .verify = hg_verify_clipper_verify,
    .sign = hg_verify_clipper_sign,
    .default_dedupe = hg_verify_clipper_dedupe,
};
