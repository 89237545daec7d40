/*
 * fuzz_verify.c — every signature scheme of the verify table (src/verify/):
 * header parsing and verification over fuzzed headers, URL and body, and
 * the round trip of each scheme's own sign() through its verify().
 *
 * Input: byte 0 picks the scheme (in HG_VERIFY_SCHEMES order), byte 1 is
 * flags (below), then "Name: value" lines up to an empty line (the request
 * headers; a line ":url <URL>" sets the URL Twilio is checked against),
 * then the body.
 *
 * Asserts: nothing crashes or reads out of bounds (ASan/UBSan); a status is
 * HG_OK, HG_EAUTH or HG_EREPLAY with a reason for every refusal; and with
 * FZ_SIGN, headers made by sign() with the source's own secret (put before
 * the fuzzed ones, so they are the ones looked up) verify, whatever the
 * body and the other headers are. No time is read: "now" is fixed.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "config/config.h"
#include "util/jsonpath.h"
#include "util/util.h"
#include "verify/verify.h"
#include "verify/verify_internal.h"

#define FZ_SIGN     0x01 /* sign with the known secret and expect HG_OK */
#define FZ_ROTATE   0x02 /* a second, wrong secret first (rotation) */
#define FZ_MAX_AGE  0x04 /* clipper/hmac: max_age on $.timestamp */
#define FZ_ALG      0x18 /* hmac: algorithm (two bits) */
#define FZ_BASE64   0x20 /* hmac: base64 instead of hex */
#define FZ_PREFIX   0x40 /* hmac: "sha256=" prefix */
#define FZ_BODY_SHA 0x80 /* twilio, signed: bodySHA256 in the URL */

#define FZ_NOW_S    1700000000
#define FZ_MAX_HDRS 24

#define FZ_NAME(n) #n,
static const char *const fz_schemes[] = {HG_VERIFY_SCHEMES(FZ_NAME)};
#define FZ_NSCHEMES (sizeof(fz_schemes) / sizeof(fz_schemes[0]))

static char fz_secret_plain[] = "fuzz-secret-0123456789";
static char fz_secret_std[] = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
static char fz_secret_clip[] = "a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f90";
static char fz_secret_wrong[] = "whsec_d3JvbmcgZnV6eiBzZWNyZXQgMDEyMzQ1Njc4OQ==";
static struct hg_jsonpath *fz_ts_path;

struct fz_hdr {
	const char *name, *value;
	size_t nlen, vlen;
};

struct fz_req {
	struct fz_hdr h[FZ_MAX_HDRS];
	size_t n;
};

/* First header called name (case-insensitive), as the HTTP layer gives it. */
static const char *fz_header(void *ctx, const char *name, size_t *len)
{
	struct fz_req *r = ctx;
	size_t i, nlen = strlen(name);

	for (i = 0; i < r->n; i++) {
		if (r->h[i].nlen == nlen && strncasecmp(r->h[i].name, name, nlen) == 0) {
			*len = r->h[i].vlen;
			return r->h[i].value;
		}
	}
	return NULL;
}

static void fz_add(struct fz_req *r, const char *name, size_t nlen, const char *value, size_t vlen)
{
	if (r->n == FZ_MAX_HDRS)
		return;
	r->h[r->n].name = name;
	r->h[r->n].nlen = nlen;
	r->h[r->n].value = value;
	r->h[r->n].vlen = vlen;
	r->n++;
}

/* Adds sign()'s "Name: value\n" lines (text is kept, not copied). */
static void fz_add_signed(struct fz_req *r, const char *text, size_t len)
{
	const char *p = text, *end = text + len;

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *colon = memchr(p, ':', (size_t)((nl ? nl : end) - p));

		if (nl == NULL || colon == NULL || colon + 1 >= nl || colon[1] != ' ')
			abort(); /* sign() writes exactly this shape */
		fz_add(r, p, (size_t)(colon - p), colon + 2, (size_t)(nl - colon - 2));
		p = nl + 1;
	}
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char err[128];

	(void)argc;
	(void)argv;
	fz_ts_path = hg_jsonpath_compile("$.timestamp", err, sizeof(err));
	if (fz_ts_path == NULL)
		abort();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const struct hg_verify_scheme *s;
	struct hg_secret secrets[2];
	struct hg_source src;
	struct hg_verify_input in;
	struct hg_sign_input si;
	struct fz_req req, fuzzed;
	struct hg_buf signed_hdrs = {0}, hs = {0};
	const char *p, *end, *url = NULL, *reason = NULL, *secret;
	char *text, *url_copy = NULL, urlbuf[160];
	uint8_t flags, sig[HG_MAX_MAC];
	size_t url_len = 0, i;
	int rc, is_hmac, is_twilio;

	if (size < 2)
		return 0;
	s = hg_verify_find(fz_schemes[data[0] % FZ_NSCHEMES]);
	if (s == NULL)
		abort();
	flags = data[1];
	is_hmac = strcmp(s->name, "hmac") == 0;
	is_twilio = strcmp(s->name, "twilio") == 0;
	/* A NUL-terminated copy: header values may then be handed on as text. */
	text = malloc(size - 2 + 1);
	if (text == NULL)
		return 0;
	memcpy(text, data + 2, size - 2);
	text[size - 2] = '\0';

	memset(&fuzzed, 0, sizeof(fuzzed));
	p = text;
	end = text + (size - 2);
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *lend = nl ? nl : end, *colon;

		if (lend == p) { /* the empty line: the body follows */
			p = lend + 1;
			break;
		}
		if (lend - p > 5 && memcmp(p, ":url ", 5) == 0) {
			url = p + 5;
			url_len = (size_t)(lend - url);
		} else if ((colon = memchr(p, ':', (size_t)(lend - p))) != NULL) {
			const char *v = colon + 1;

			fz_add(&fuzzed, p, (size_t)(colon - p), v, (size_t)(lend - v));
		}
		p = nl ? nl + 1 : end;
	}
	if (p > end)
		p = end;

	secret = strcmp(s->name, "standard") == 0  ? fz_secret_std
		 : strcmp(s->name, "clipper") == 0 ? fz_secret_clip
						   : fz_secret_plain;
	memset(&src, 0, sizeof(src));
	src.name = "fuzz";
	src.provider = (char *)s->name;
	src.scheme = s;
	secrets[0].bytes = (uint8_t *)fz_secret_wrong;
	secrets[0].len = strlen(fz_secret_wrong);
	secrets[1].bytes = (uint8_t *)secret;
	secrets[1].len = strlen(secret);
	src.secrets = flags & FZ_ROTATE ? secrets : secrets + 1;
	src.n_secrets = flags & FZ_ROTATE ? 2 : 1;
	src.header = "x-fuzz-signature";
	src.algorithm = (enum hg_hash)(((flags & FZ_ALG) >> 3) % 3);
	src.encoding = flags & FZ_BASE64 ? HG_ENC_BASE64 : HG_ENC_HEX;
	src.prefix = flags & FZ_PREFIX ? "sha256=" : NULL;
	if (flags & FZ_MAX_AGE)
		src.max_age_path = fz_ts_path;

	memset(&req, 0, sizeof(req));
	if (flags & FZ_SIGN) {
		memset(&si, 0, sizeof(si));
		si.secret = (const uint8_t *)secret;
		si.secret_len = strlen(secret);
		si.body = (const uint8_t *)p;
		si.body_len = (size_t)(end - p);
		/* zoho signs milliseconds; every other timestamped scheme seconds */
		si.timestamp = strcmp(s->name, "zoho") == 0 ? (int64_t)FZ_NOW_S * 1000 : FZ_NOW_S;
		si.id = "msg_fuzz";
		si.header = src.header;
		si.algorithm = src.algorithm;
		si.encoding = (int)src.encoding;
		si.prefix = src.prefix;
		if (is_twilio) {
			if (flags & FZ_BODY_SHA) {
				uint8_t d[32];
				char hex[65];

				hg_sha256((const uint8_t *)p, (size_t)(end - p), d);
				hg_hex_encode(d, sizeof(d), hex);
				snprintf(urlbuf, sizeof(urlbuf),
					 "https://hooks.example.com/in/twilio?bodySHA256=%s", hex);
			} else {
				snprintf(urlbuf, sizeof(urlbuf),
					 "https://hooks.example.com/in/twilio?x=1");
				fz_add(&req, "Content-Type", 12,
				       "application/x-www-form-urlencoded", 33);
			}
			url = urlbuf;
			url_len = strlen(urlbuf);
			si.url = urlbuf;
		}
		rc = s->sign(&si, &signed_hdrs);
		if (rc != HG_OK) {
			fprintf(stderr, "%s: sign() failed: %d\n", s->name, rc);
			abort();
		}
		fz_add_signed(&req, (const char *)signed_hdrs.data, signed_hdrs.len);
	}
	for (i = 0; i < fuzzed.n; i++)
		fz_add(&req, fuzzed.h[i].name, fuzzed.h[i].nlen, fuzzed.h[i].value,
		       fuzzed.h[i].vlen);
	if (url != NULL) {
		/* its own allocation, so reading past url_len is caught */
		url_copy = malloc(url_len + 1);
		if (url_copy == NULL)
			goto out;
		memcpy(url_copy, url, url_len);
		url_copy[url_len] = '\0';
	}

	memset(&in, 0, sizeof(in));
	in.body = (const uint8_t *)p;
	in.body_len = (size_t)(end - p);
	in.header = fz_header;
	in.ctx = &req;
	in.url = url_copy;
	in.url_len = url_len;
	in.now_s = FZ_NOW_S;
	rc = s->verify(&src, &in, &reason);
	if (rc != HG_OK && rc != HG_EAUTH && rc != HG_EREPLAY) {
		fprintf(stderr, "%s: verify() returned %d\n", s->name, rc);
		abort();
	}
	if (rc != HG_OK && reason == NULL) {
		fprintf(stderr, "%s: refused without a reason\n", s->name);
		abort();
	}
	if (flags & FZ_SIGN && rc != HG_OK &&
	    !(src.max_age_path != NULL && (is_hmac || strcmp(s->name, "clipper") == 0) &&
	      (rc == HG_EREPLAY || strcmp(reason, HG_VERIFY_NO_TS) == 0))) {
		fprintf(stderr, "%s: its own signature did not verify: %s\n", s->name, reason);
		abort();
	}
	if (s->post_handshake != NULL) {
		(void)s->post_handshake(&in, &hs);
		hg_buf_free(&hs);
	}

	/* The shared pieces every scheme's header goes through. */
	(void)hg_verify_sig_decode(HG_ENC_HEX, p, (size_t)(end - p), sig);
	(void)hg_verify_sig_decode(HG_ENC_BASE64, p, (size_t)(end - p), sig);
	{
		int64_t t;

		if (hg_verify_ts_parse(p, (size_t)(end - p), &t) == HG_OK && t < 0)
			abort(); /* digits only: never negative */
		(void)hg_verify_iso8601_parse(p, (size_t)(end - p), &t);
	}
out:
	free(url_copy);
	hg_buf_free(&signed_hdrs);
	free(text);
	return 0;
}
