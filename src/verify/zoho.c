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
#include <string.h>

#include "verify/verify_internal.h"

#define HG_ZOHO_HEADER "X-Zoho-Webhook-Signature"

static const struct hg_verify_tv hg_verify_zoho_tv = {
    .header = HG_ZOHO_HEADER, .vkey = "v", .unit_ms = 1};

static int hg_verify_zoho_verify(const struct hg_source *src, const struct hg_verify_input *in,
				 const char **reason)
{
	return hg_verify_tv_check(src, in, &hg_verify_zoho_tv, reason);
}

/* in->timestamp is in milliseconds here (0 = now), as Zoho writes it. */
static int hg_verify_zoho_sign(const struct hg_sign_input *in, struct hg_buf *out)
{
	return hg_verify_tv_sign(in, &hg_verify_zoho_tv,
				 in->timestamp != 0 ? in->timestamp : hg_now_ms(), out);
}

const struct hg_verify_scheme hg_verify_zoho = {
    .name = "zoho",
    .verify = hg_verify_zoho_verify,
    .sign = hg_verify_zoho_sign,
    .default_dedupe = NULL,
};
