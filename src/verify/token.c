/*
 * token.c — the `token` scheme for senders that sign nothing but can attach
 * a fixed value (Zoho CRM, Desk, Flow, Campaigns, Bookings): the request
 * carries a shared token in the configured header (`header: x-zoho-token`)
 * or query parameter (`header: query:Name`), and it must equal one of the
 * source's secrets (a list while a token is rotated).
 *
 * The comparison is on SHA-256 digests of the presented value and of each
 * secret, so it takes the same time whatever the value and its length, and
 * every secret is compared so timing does not tell which one matched. A
 * token proves only that the sender knows it: the body is not authenticated
 * and nothing bounds replays, which is why a signing provider should use
 * its own scheme.
 *
 * Hot path: no allocation, no I/O; the decoded query value lives on the
 * stack and is wiped.
 */
#include <string.h>

#include <openssl/crypto.h>

#include "verify/verify_internal.h"

#define HG_TOKEN_QUERY     "query:"
#define HG_TOKEN_QUERY_LEN (sizeof(HG_TOKEN_QUERY) - 1)
/* A longer token is not one we issued; refuse it without decoding. */
#define HG_TOKEN_MAX 1024

#define HG_TOKEN_MISSING  "missing token"
#define HG_TOKEN_MISMATCH "token mismatch"

int hg_verify_token_query_name(const char *where, const char **name)
{
	if (where == NULL || strncmp(where, HG_TOKEN_QUERY, HG_TOKEN_QUERY_LEN) != 0)
		return 0;
	*name = where + HG_TOKEN_QUERY_LEN;
	return 1;
}

/* HG_OK when value equals any of src's secrets; see the comment above. */
static int hg_token_match(const struct hg_source *src, const char *value, size_t len)
{
	uint8_t got[32], want[32];
	size_t i;
	int matched = 0;

	hg_sha256((const uint8_t *)value, len, got);
	for (i = 0; i < src->n_secrets; i++) {
		hg_sha256(src->secrets[i].bytes, src->secrets[i].len, want);
		if (hg_ct_equal(got, want, sizeof(want)))
			matched = 1;
	}
	OPENSSL_cleanse(got, sizeof(got));
	OPENSSL_cleanse(want, sizeof(want));
	return matched ? HG_OK : HG_EAUTH;
}

/* The first query parameter called name, form-decoded into out; its length,
 * HG_ENOTFOUND when absent, HG_ETOOBIG when longer than any token. */
static int hg_token_from_query(const struct hg_verify_input *in, const char *name,
			       char out[HG_TOKEN_MAX], size_t *len)
{
	const char *q = in->query, *end = in->query != NULL ? in->query + in->query_len : NULL;
	const char *k, *v;
	size_t klen, vlen, want = strlen(name);

	while (hg_query_next(&q, end, &k, &klen, &v, &vlen)) {
		if (klen != want || memcmp(k, name, want) != 0)
			continue;
		if (vlen == 0)
			return HG_ENOTFOUND;
		if (vlen > HG_TOKEN_MAX)
			return HG_ETOOBIG;
		*len = hg_form_unescape(v, vlen, out);
		return HG_OK;
	}
	return HG_ENOTFOUND;
}

static int hg_verify_token_verify(const struct hg_source *src, const struct hg_verify_input *in,
				  const char **reason)
{
	char buf[HG_TOKEN_MAX];
	const char *name, *v = NULL;
	size_t len = 0;
	int rc;

	/* Config validation requires header:; without one, refuse. */
	if (src->header == NULL) {
		*reason = HG_TOKEN_MISSING;
		return HG_EAUTH;
	}
	if (hg_verify_token_query_name(src->header, &name)) {
		rc = hg_token_from_query(in, name, buf, &len);
		if (rc == HG_ENOTFOUND) {
			*reason = HG_TOKEN_MISSING;
			return HG_EAUTH;
		}
		if (rc != HG_OK) {
			*reason = HG_TOKEN_MISMATCH;
			return HG_EAUTH;
		}
		v = buf;
	} else {
		v = hg_verify_header(in, src->header, &len);
		if (v == NULL) {
			*reason = HG_TOKEN_MISSING;
			return HG_EAUTH;
		}
	}
	rc = hg_token_match(src, v, len);
	OPENSSL_cleanse(buf, sizeof(buf));
	*reason = rc == HG_OK ? NULL : HG_TOKEN_MISMATCH;
	return rc;
}

/* "Header: token", or for a query parameter "name=token" (form-encoded),
 * the parameter to add to the URL the sender calls. */
static int hg_verify_token_sign(const struct hg_sign_input *in, struct hg_buf *out)
{
	static const char hex[] = "0123456789ABCDEF";
	const char *name;
	size_t i;
	int rc = HG_OK;

	if (in->header == NULL)
		return HG_EINVAL;
	if (!hg_verify_token_query_name(in->header, &name)) {
		rc = hg_buf_printf(out, "%s: ", in->header);
		if (rc == HG_OK)
			rc = hg_buf_append(out, in->secret, in->secret_len);
		return rc == HG_OK ? hg_buf_puts(out, "\n") : rc;
	}
	rc = hg_buf_printf(out, "%s=", name);
	for (i = 0; rc == HG_OK && i < in->secret_len; i++) {
		uint8_t c = in->secret[i];
		char e[3] = {'%', hex[c >> 4], hex[c & 15]};

		if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		    strchr("-._~", c) != NULL)
			rc = hg_buf_append(out, &c, 1);
		else
			rc = hg_buf_append(out, e, 3);
	}
	return rc == HG_OK ? hg_buf_puts(out, "\n") : rc;
}

const struct hg_verify_scheme hg_verify_token = {
    .name = "token",
    .verify = hg_verify_token_verify,
    .sign = hg_verify_token_sign,
    .default_dedupe = NULL,
};
