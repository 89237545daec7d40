/*
 * hmac.c — the generic `hmac` scheme for providers without a scheme of their
 * own (Zoho's per-integration secrets, in-house senders): an HMAC of the raw
 * body under the configured algorithm (sha1, sha256, sha512), in the
 * configured header, encoded as hex or base64, optionally behind a fixed
 * prefix such as "sha256=". When a prefix is configured it must be present:
 * a sender that stops writing it has changed format, and we would rather
 * refuse than guess. An optional max_age on a body field bounds replays,
 * since nothing in this scheme signs a time.
 *
 * Hot path: no allocation unless max_age is configured (then the body is
 * parsed as JSON once the signature has passed); no I/O.
 */
#include <string.h>

#include "verify/verify_internal.h"

static int hg_verify_hmac_verify(const struct hg_source *src, const struct hg_verify_input *in,
				 const char **reason)
{
	const uint8_t *parts[1] = {in->body};
	size_t lens[1] = {in->body_len};
	struct hg_verify_mac mac = {
	    .hash = src->algorithm, .parts = parts, .lens = lens, .nparts = 1};
	size_t plen = src->prefix != NULL ? strlen(src->prefix) : 0;
	const char *v = NULL;
	size_t len = 0;

	/* Config validation requires a header; a source without one can only
	 * be refused, never let through. */
	if (src->header != NULL)
		v = hg_verify_header(in, src->header, &len);
	if (v == NULL) {
		*reason = HG_VERIFY_MISSING;
		return HG_EAUTH;
	}
	if (plen > 0 && (len < plen || memcmp(v, src->prefix, plen) != 0)) {
		*reason = HG_VERIFY_MALFORMED;
		return HG_EAUTH;
	}
	if (hg_verify_sig_check(src, &mac, src->encoding, v + plen, len - plen, reason) != HG_OK)
		return HG_EAUTH;
	/* Only an authenticated body is worth parsing for its timestamp. */
	return hg_verify_max_age(src, in, reason);
}

static int hg_verify_hmac_sign(const struct hg_sign_input *in, struct hg_buf *out)
{
	const uint8_t *parts[1] = {in->body};
	size_t lens[1] = {in->body_len};
	int rc;

	if (in->header == NULL)
		return HG_EINVAL;
	rc = hg_buf_printf(out, "%s: %s", in->header, in->prefix != NULL ? in->prefix : "");
	if (rc != HG_OK)
		return rc;
	rc = hg_verify_mac_append(in->algorithm, (enum hg_encoding)in->encoding, in->secret,
				  in->secret_len, parts, lens, 1, out);
	if (rc != HG_OK)
		return rc;
	return hg_buf_puts(out, "\n");
}

const struct hg_verify_scheme hg_verify_hmac = {
    .name = "hmac",
    .verify = hg_verify_hmac_verify,
    .sign = hg_verify_hmac_sign,
    .default_dedupe = NULL,
};
