/*
 * twilio.c — `X-Twilio-Signature`: base64 HMAC-SHA1, keyed by the auth
 * token, of the full URL Twilio called followed, for form-encoded bodies, by
 * every POST parameter sorted by name (byte order), each appended as
 * name + value with values URL-decoded (repeated names: each distinct value,
 * sorted). JSON bodies are signed differently: the URL carries
 * bodySHA256=<hex sha256 of the body>, the signature covers the URL alone,
 * and the body must hash to that parameter.
 *
 * The URL is the public one (built by the caller from public_url), since
 * behind a proxy the request line is not what Twilio signed. Twilio's SDKs
 * accept a signature computed with or without the default port (:443 for
 * https, :80 for http), because Twilio itself has signed both ways; so do
 * we, by trying the URL as given, without its default port, and with it.
 *
 * Hot path: no I/O. A form body needs its parameters decoded and sorted,
 * which takes one allocation, freed before returning; JSON and empty bodies
 * allocate nothing.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>

#include "verify/verify_internal.h"

#define HG_TWILIO_HEADER    "X-Twilio-Signature"
#define HG_TWILIO_BODY_HASH "bodySHA256"
#define HG_TWILIO_FORM      "application/x-www-form-urlencoded"
/* The URL as given, without its default port, with it: at most three
 * pieces (before the port, the port, after it). */
#define HG_TWILIO_URL_PARTS 3

#define HG_TWILIO_NO_URL             "public_url is not configured"
#define HG_TWILIO_BODY_HASH_MISMATCH "body hash mismatch"
#define HG_TWILIO_UNSIGNED           "body is not signed: not a form and no bodySHA256 in the URL"

/* One decoded form parameter; name and val point into the decode buffer. */
struct hg_twilio_param {
	const uint8_t *name, *val;
	size_t nlen, vlen;
};

/* What the signature covers: parts[0, HG_TWILIO_URL_PARTS) are reserved for
 * the URL variant (filled from the end, so they always sit right before the
 * parameters), then name, value, name, value... mem is the one allocation
 * behind params, parts, lens and the decoded bytes; NULL when there are no
 * parameters and the fixed arrays below suffice. */
struct hg_twilio_content {
	const uint8_t **parts;
	size_t *lens;
	size_t nparams;
	const uint8_t *fixed_parts[HG_TWILIO_URL_PARTS];
	size_t fixed_lens[HG_TWILIO_URL_PARTS];
	void *mem;
};

/* Byte order of two strings of given lengths; a prefix sorts first. */
static int hg_twilio_bytecmp(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen)
{
	int c = memcmp(a, b, alen < blen ? alen : blen);

	if (c != 0 || alen == blen)
		return c;
	return alen < blen ? -1 : 1;
}

static int hg_twilio_param_cmp(const void *pa, const void *pb)
{
	const struct hg_twilio_param *a = pa, *b = pb;
	int c = hg_twilio_bytecmp(a->name, a->nlen, b->name, b->nlen);

	return c != 0 ? c : hg_twilio_bytecmp(a->val, a->vlen, b->val, b->vlen);
}

static void hg_twilio_content_free(struct hg_twilio_content *c)
{
	free(c->mem);
	c->mem = NULL;
}

/* Fills c for url + (when form) the body's parameters. HG_OK or HG_ENOMEM. */
static int hg_twilio_content_build(const uint8_t *body, size_t body_len, int form,
				   struct hg_twilio_content *c)
{
	struct hg_twilio_param *params;
	size_t max = 1, i, n = 0, start = 0, nparts, o = 0;
	uint8_t *bytes;

	memset(c, 0, sizeof(*c));
	c->parts = c->fixed_parts;
	c->lens = c->fixed_lens;
	if (!form || body_len == 0)
		return HG_OK;
	for (i = 0; i < body_len; i++)
		max += body[i] == '&';
	nparts = HG_TWILIO_URL_PARTS + 2 * max;
	/* Every member has at most pointer alignment and a size that is a
	 * multiple of it, so the arrays can share one block in this order. */
	c->mem = malloc(max * sizeof(*params) + nparts * (sizeof(*c->parts) + sizeof(*c->lens)) +
			body_len);
	if (c->mem == NULL)
		return HG_ENOMEM;
	params = c->mem;
	c->parts = (const uint8_t **)(params + max);
	c->lens = (size_t *)(c->parts + nparts);
	bytes = (uint8_t *)(c->lens + nparts);

	for (i = 0; i <= body_len; i++) {
		const uint8_t *item = body + start, *eq;
		size_t ilen;

		if (i < body_len && body[i] != '&')
			continue;
		ilen = i - start;
		start = i + 1;
		if (ilen == 0)
			continue;
		eq = memchr(item, '=', ilen);
		params[n].name = bytes + o;
		params[n].nlen = hg_form_unescape(
		    (const char *)item, eq != NULL ? (size_t)(eq - item) : ilen, (char *)bytes + o);
		o += params[n].nlen;
		params[n].val = bytes + o;
		params[n].vlen = 0;
		if (eq != NULL)
			params[n].vlen =
			    hg_form_unescape((const char *)eq + 1, ilen - (size_t)(eq + 1 - item),
					     (char *)bytes + o);
		o += params[n].vlen;
		n++;
	}
	qsort(params, n, sizeof(*params), hg_twilio_param_cmp);
	/* A repeated name=value pair is signed once (the SDKs put values in a
	 * set before sorting them). */
	for (i = 0; i < n; i++) {
		if (c->nparams > 0 && hg_twilio_param_cmp(&params[i], &params[i - 1]) == 0)
			continue;
		c->parts[HG_TWILIO_URL_PARTS + 2 * c->nparams] = params[i].name;
		c->lens[HG_TWILIO_URL_PARTS + 2 * c->nparams] = params[i].nlen;
		c->parts[HG_TWILIO_URL_PARTS + 2 * c->nparams + 1] = params[i].val;
		c->lens[HG_TWILIO_URL_PARTS + 2 * c->nparams + 1] = params[i].vlen;
		c->nparams++;
	}
	return HG_OK;
}

/* Points mac at url given as npieces pieces followed by c's parameters. */
static void hg_twilio_mac_set(struct hg_verify_mac *mac, struct hg_twilio_content *c,
			      const char *const *pieces, const size_t *plens, size_t npieces)
{
	size_t first = HG_TWILIO_URL_PARTS - npieces, i;

	for (i = 0; i < npieces; i++) {
		c->parts[first + i] = (const uint8_t *)pieces[i];
		c->lens[first + i] = plens[i];
	}
	mac->hash = HG_SHA1;
	mac->parts = c->parts + first;
	mac->lens = c->lens + first;
	mac->nparts = npieces + 2 * c->nparams;
	mac->key = NULL;
}

/* The value of the bodySHA256 query parameter of url, or NULL. */
static const char *hg_twilio_body_hash(const char *url, size_t len, size_t *vlen)
{
	const char *q = memchr(url, '?', len), *end;
	static const size_t klen = sizeof(HG_TWILIO_BODY_HASH) - 1;

	if (q == NULL)
		return NULL;
	end = memchr(q, '#', len - (size_t)(q - url));
	if (end == NULL)
		end = url + len;
	while (q < end) {
		const char *item = q + 1, *amp = memchr(item, '&', (size_t)(end - item));

		q = amp != NULL ? amp : end;
		if ((size_t)(q - item) > klen &&
		    memcmp(item, HG_TWILIO_BODY_HASH "=", klen + 1) == 0) {
			*vlen = (size_t)(q - item) - klen - 1;
			return item + klen + 1;
		}
	}
	return NULL;
}

/* Where the port of url is, for the default-port variants: url[0, *host_end)
 * ends with the host; *port_end is where the authority ends. Returns the
 * default port text for the scheme (":443" or ":80"), or NULL when the URL
 * is not http(s) and only the URL as given can be tried. */
static const char *hg_twilio_port(const char *url, size_t len, size_t *host_end, size_t *port_end)
{
	const char *def;
	size_t auth, end, i;

	if (len >= 8 && strncasecmp(url, "https://", 8) == 0) {
		def = ":443";
		auth = 8;
	} else if (len >= 7 && strncasecmp(url, "http://", 7) == 0) {
		def = ":80";
		auth = 7;
	} else {
		return NULL;
	}
	for (end = auth; end < len && url[end] != '/' && url[end] != '?' && url[end] != '#'; end++)
		;
	/* The port is the digits after the last ':' that is not inside user
	 * info (before '@') or an IPv6 literal (before ']'). */
	*host_end = end;
	for (i = end; i > auth; i--) {
		char ch = url[i - 1];

		if (ch == ':') {
			*host_end = i - 1;
			break;
		}
		if (ch < '0' || ch > '9')
			break;
	}
	*port_end = end;
	return def;
}

static int hg_verify_twilio_verify(const struct hg_source *src, const struct hg_verify_input *in,
				   const char **reason)
{
	struct hg_twilio_content c = {0};
	struct hg_verify_mac mac;
	uint8_t sig[HG_MAX_MAC], digest[32], want[32];
	const char *v, *hash, *ct, *def;
	const char *pieces[HG_TWILIO_URL_PARTS];
	size_t plens[HG_TWILIO_URL_PARTS];
	size_t len = 0, hlen = 0, ctlen = 0, host_end = 0, port_end = 0;
	int n, form, matched = 0, rc = HG_EAUTH;

	*reason = HG_VERIFY_MISMATCH;
	if (in->url == NULL || in->url_len == 0) {
		*reason = HG_TWILIO_NO_URL;
		return HG_EAUTH;
	}
	v = hg_verify_header(in, HG_TWILIO_HEADER, &len);
	if (v == NULL) {
		*reason = HG_VERIFY_MISSING;
		return HG_EAUTH;
	}
	n = hg_verify_sig_decode(HG_ENC_BASE64, v, len, sig);
	if (n == HG_EINVAL || n == 0) {
		*reason = HG_VERIFY_MALFORMED;
		return HG_EAUTH;
	}
	if (n < 0)
		return HG_EAUTH;

	/* bodySHA256 in the URL decides first, as in the SDKs: the body is then
	 * bound by its hash and the parameters are not part of the signature.
	 * Otherwise a body must be a form; any other body would be covered by
	 * nothing at all, so it is refused rather than let through unsigned. */
	hash = hg_twilio_body_hash(in->url, in->url_len, &hlen);
	ct = hg_verify_header(in, "Content-Type", &ctlen);
	form = hash == NULL;
	if (form && in->body_len > 0 && ct != NULL &&
	    (ctlen < sizeof(HG_TWILIO_FORM) - 1 ||
	     strncasecmp(ct, HG_TWILIO_FORM, sizeof(HG_TWILIO_FORM) - 1) != 0)) {
		*reason = HG_TWILIO_UNSIGNED;
		goto out;
	}
	if (hg_twilio_content_build(in->body, in->body_len, form, &c) != HG_OK) {
		*reason = "out of memory";
		rc = HG_ENOMEM;
		goto out;
	}

	pieces[0] = in->url;
	plens[0] = in->url_len;
	hg_twilio_mac_set(&mac, &c, pieces, plens, 1);
	matched = hg_verify_mac_match(src, &mac, sig, (size_t)n) == HG_OK;
	def = hg_twilio_port(in->url, in->url_len, &host_end, &port_end);
	if (!matched && def != NULL && host_end == port_end) {
		/* No port: try with the default one. */
		pieces[0] = in->url;
		plens[0] = port_end;
		pieces[1] = def;
		plens[1] = strlen(def);
		pieces[2] = in->url + port_end;
		plens[2] = in->url_len - port_end;
		hg_twilio_mac_set(&mac, &c, pieces, plens, 3);
		matched = hg_verify_mac_match(src, &mac, sig, (size_t)n) == HG_OK;
	} else if (!matched && def != NULL && port_end - host_end == strlen(def) &&
		   memcmp(in->url + host_end, def, port_end - host_end) == 0) {
		/* The default port: try without it. A non-default port is part
		 * of the address and is never dropped. */
		pieces[0] = in->url;
		plens[0] = host_end;
		pieces[1] = in->url + port_end;
		plens[1] = in->url_len - port_end;
		hg_twilio_mac_set(&mac, &c, pieces, plens, 2);
		matched = hg_verify_mac_match(src, &mac, sig, (size_t)n) == HG_OK;
	}
	if (!matched)
		goto out;
	if (hash != NULL) {
		hg_sha256(in->body, in->body_len, digest);
		if (hg_hex_decode(hash, hlen, want, sizeof(want)) != (int)sizeof(want) ||
		    !hg_ct_equal(digest, want, sizeof(want))) {
			*reason = HG_TWILIO_BODY_HASH_MISMATCH;
			goto out;
		}
	}
	*reason = NULL;
	rc = HG_OK;
out:
	hg_twilio_content_free(&c);
	OPENSSL_cleanse(sig, sizeof(sig));
	return rc;
}

/* Signs as Twilio would call in->url: over the URL alone when it carries
 * bodySHA256 (a JSON body; the caller puts the body's hash in the URL),
 * else over the URL and the body's form parameters. */
static int hg_verify_twilio_sign(const struct hg_sign_input *in, struct hg_buf *out)
{
	struct hg_twilio_content c = {0};
	struct hg_verify_mac mac;
	const char *pieces[1];
	size_t plens[1], hlen = 0;
	int rc;

	if (in->url == NULL || in->url[0] == '\0')
		return HG_EINVAL;
	pieces[0] = in->url;
	plens[0] = strlen(in->url);
	rc = hg_twilio_content_build(in->body, in->body_len,
				     hg_twilio_body_hash(in->url, plens[0], &hlen) == NULL, &c);
	if (rc != HG_OK)
		goto out;
	hg_twilio_mac_set(&mac, &c, pieces, plens, 1);
	rc = hg_buf_puts(out, HG_TWILIO_HEADER ": ");
	if (rc != HG_OK)
		goto out;
	rc = hg_verify_mac_append(HG_SHA1, HG_ENC_BASE64, in->secret, in->secret_len, mac.parts,
				  mac.lens, mac.nparts, out);
	if (rc != HG_OK)
		goto out;
	rc = hg_buf_puts(out, "\n");
out:
	hg_twilio_content_free(&c);
	return rc;
}

static const char *const hg_verify_twilio_dedupe[] = {"header:I-Twilio-Idempotency-Token", NULL};

const struct hg_verify_scheme hg_verify_twilio = {
    .name = "twilio",
    .verify = hg_verify_twilio_verify,
    .sign = hg_verify_twilio_sign,
    .default_dedupe = hg_verify_twilio_dedupe,
};
