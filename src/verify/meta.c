/*
 * meta.c — the `X-Hub-Signature-256: sha256=<hex>` scheme: HMAC-SHA256 of the
 * raw body. Meta (Instagram, WhatsApp Cloud API, Messenger) and GitHub send
 * exactly this format, so both schemes share these functions and differ only
 * in their default dedupe key. Meta's legacy `X-Hub-Signature: sha1=` header
 * is deliberately ignored: accepting it would let a SHA-1 signature stand in
 * for the stronger one.
 *
 * Hot path: no allocation, no I/O.
 */
#include <string.h>

#include "verify/verify_internal.h"

#define HG_META_HEADER     "X-Hub-Signature-256"
#define HG_META_PREFIX     "sha256="
#define HG_META_PREFIX_LEN (sizeof(HG_META_PREFIX) - 1)

static int hg_verify_meta_verify(const struct hg_source *src, const struct hg_verify_input *in,
				 const char **reason)
{
	const uint8_t *parts[1] = {in->body};
	size_t lens[1] = {in->body_len};
	struct hg_verify_mac mac = {.hash = HG_SHA256, .parts = parts, .lens = lens, .nparts = 1};
	const char *v;
	size_t len = 0;

	v = hg_verify_header(in, HG_META_HEADER, &len);
	if (v == NULL) {
		*reason = HG_VERIFY_MISSING;
		return HG_EAUTH;
	}
	if (len < HG_META_PREFIX_LEN || memcmp(v, HG_META_PREFIX, HG_META_PREFIX_LEN) != 0) {
		*reason = HG_VERIFY_MALFORMED;
		return HG_EAUTH;
	}
	return hg_verify_sig_check(src, &mac, HG_ENC_HEX, v + HG_META_PREFIX_LEN,
				   len - HG_META_PREFIX_LEN, reason);
}

static int hg_verify_meta_sign(const struct hg_sign_input *in, struct hg_buf *out)
{
	const uint8_t *parts[1] = {in->body};
	size_t lens[1] = {in->body_len};
	int rc;

	rc = hg_buf_puts(out, HG_META_HEADER ": " HG_META_PREFIX);
	if (rc != HG_OK)
		return rc;
	rc = hg_verify_mac_append(HG_SHA256, HG_ENC_HEX, in->secret, in->secret_len, parts, lens, 1,
				  out);
	if (rc != HG_OK)
		return rc;
	return hg_buf_puts(out, "\n");
}

/* Meta's deliveries carry no stable id header; the body hash (or JSON paths
 * such as a WhatsApp message id, when configured) identifies a retry. */
const struct hg_verify_scheme hg_verify_meta = {
    .name = "meta",
    .verify = hg_verify_meta_verify,
    .sign = hg_verify_meta_sign,
    .default_dedupe = NULL,
};

static const char *const hg_verify_github_dedupe[] = {"header:X-GitHub-Delivery", NULL};

const struct hg_verify_scheme hg_verify_github = {
    .name = "github",
    .verify = hg_verify_meta_verify,
    .sign = hg_verify_meta_sign,
    .default_dedupe = hg_verify_github_dedupe,
};
