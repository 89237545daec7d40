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
#include <string.h>

#include "verify/verify_internal.h"

#define HG_STRIPE_HEADER "Stripe-Signature"

static const struct hg_verify_tv hg_verify_stripe_tv = {
    .header = HG_STRIPE_HEADER, .vkey = "v1", .unit_ms = 1000};

static int hg_verify_stripe_verify(const struct hg_source *src, const struct hg_verify_input *in,
				   const char **reason)
{
	return hg_verify_tv_check(src, in, &hg_verify_stripe_tv, reason);
}

static int hg_verify_stripe_sign(const struct hg_sign_input *in, struct hg_buf *out)
{
	return hg_verify_tv_sign(in, &hg_verify_stripe_tv,
				 in->timestamp != 0 ? in->timestamp : hg_now_ms() / 1000, out);
}

static const char *const hg_verify_stripe_dedupe[] = {"$.id", NULL};

const struct hg_verify_scheme hg_verify_stripe = {
    .name = "stripe",
    .verify = hg_verify_stripe_verify,
    .sign = hg_verify_stripe_sign,
    .default_dedupe = hg_verify_stripe_dedupe,
};
