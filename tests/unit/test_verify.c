/*
 * test_verify.c — the signature schemes in src/verify/: the provider test
 * vectors from docs/providers.md, the ways a signature header can be wrong,
 * secret rotation, the generic hmac scheme checked against OpenSSL's HMAC()
 * directly, and sign() output fed back through verify().
 *
 * Sources are built by hand (no config parsing); request headers are a small
 * array of name/value pairs.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cmocka.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "config/config.h"
#include "verify/verify.h"
#include "verify/verify_internal.h"

/* ---- fixtures ---- */

struct hdr {
	const char *name;
	const char *value;
};

struct hdrs {
	struct hdr h[4];
	size_t n;
};

static const char *hdr_lookup(void *ctx, const char *name, size_t *len)
{
	struct hdrs *hs = ctx;
	size_t i;

	for (i = 0; i < hs->n; i++) {
		if (strcasecmp(hs->h[i].name, name) == 0) {
			*len = strlen(hs->h[i].value);
			return hs->h[i].value;
		}
	}
	return NULL;
}

static struct hg_secret secret_of(const char *s)
{
	struct hg_secret k = {.bytes = (uint8_t *)s, .len = strlen(s)};
	return k;
}

/* Runs scheme name over body with the given headers; returns its status and
 * the reason through *reason (may be NULL). */
static int run(const char *scheme, const struct hg_source *src, const char *body, struct hdrs *hs,
	       const char **reason)
{
	const struct hg_verify_scheme *s = hg_verify_find(scheme);
	struct hg_verify_input in = {
	    .body = (const uint8_t *)body,
	    .body_len = strlen(body),
	    .header = hdr_lookup,
	    .ctx = hs,
	    .now_s = 1700000000,
	};
	const char *r = NULL;
	int rc;

	assert_non_null(s);
	rc = s->verify(src, &in, &r);
	if (reason != NULL)
		*reason = r;
	return rc;
}

static const char *meta_body =
    "{\"object\":\"instagram\",\"entry\":[{\"id\":\"1\",\"time\":1700000000,"
    "\"changes\":[{\"field\":\"mentions\",\"value\":{\"text\":"
    "\"caf\\u00e9\"}}]}]}";
static const char *meta_sig =
    "sha256=0debdd3b062686b00322dcd7d5958181922bb91cba099e83f3f002916e34b463";

static const char *gh_body = "Hello, World!";
static const char *gh_sig =
    "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";

/* A source with one secret, for meta and github. */
struct one_src {
	struct hg_secret secrets[2];
	struct hg_source src;
};

static void one_src_init(struct one_src *o, const char *secret)
{
	memset(o, 0, sizeof(*o));
	o->secrets[0] = secret_of(secret);
	o->src.name = "t";
	o->src.secrets = o->secrets;
	o->src.n_secrets = 1;
}

static int meta_with_sig(const char *secret, const char *body, const char *sig, const char **reason)
{
	struct one_src o;
	struct hdrs hs = {.h = {{"X-Hub-Signature-256", sig}}, .n = 1};

	one_src_init(&o, secret);
	return run("meta", &o.src, body, &hs, reason);
}

/* ---- table ---- */

static void test_find_known_and_unknown(void **state)
{
	(void)state;
	assert_string_equal(hg_verify_find("meta")->name, "meta");
	assert_string_equal(hg_verify_find("github")->name, "github");
	assert_string_equal(hg_verify_find("hmac")->name, "hmac");
	assert_null(hg_verify_find("nope"));
	assert_null(hg_verify_find(NULL));
}

static void test_names_lists_every_scheme(void **state)
{
	(void)state;
	assert_string_equal(
	    hg_verify_names(),
	    "meta, github, twilio, stripe, slack, shopify, standard, clipper, hmac, token, zoho");
}

static void test_default_dedupe(void **state)
{
	const char *const *gh = hg_verify_find("github")->default_dedupe;

	(void)state;
	assert_null(hg_verify_find("meta")->default_dedupe);
	assert_null(hg_verify_find("hmac")->default_dedupe);
	assert_non_null(gh);
	assert_string_equal(gh[0], "header:X-GitHub-Delivery");
	assert_null(gh[1]);
}

/* ---- meta ---- */

static void test_meta_vector_passes(void **state)
{
	const char *reason = "unset";

	(void)state;
	assert_int_equal(meta_with_sig("meta-app-secret", meta_body, meta_sig, &reason), HG_OK);
	assert_null(reason);
}

static void test_meta_flipped_body_byte_fails(void **state)
{
	char body[256];
	const char *reason = NULL;

	(void)state;
	hg_strlcpy(body, meta_body, sizeof(body));
	body[20] ^= 0x01;
	assert_int_equal(meta_with_sig("meta-app-secret", body, meta_sig, &reason), HG_EAUTH);
	assert_string_equal(reason, "signature mismatch");
}

static void test_meta_wrong_secret_fails(void **state)
{
	const char *reason = NULL;

	(void)state;
	assert_int_equal(meta_with_sig("meta-app-secreT", meta_body, meta_sig, &reason), HG_EAUTH);
	assert_string_equal(reason, "signature mismatch");
}

static void test_meta_upper_case_hex_passes(void **state)
{
	char sig[128];
	size_t i;

	(void)state;
	hg_strlcpy(sig, meta_sig, sizeof(sig));
	for (i = strlen("sha256="); sig[i] != '\0'; i++) {
		if (sig[i] >= 'a' && sig[i] <= 'f')
			sig[i] = (char)(sig[i] - 'a' + 'A');
	}
	assert_int_equal(meta_with_sig("meta-app-secret", meta_body, sig, NULL), HG_OK);
}

static void test_meta_missing_header(void **state)
{
	struct one_src o;
	struct hdrs hs = {.n = 0};
	const char *reason = NULL;

	(void)state;
	one_src_init(&o, "meta-app-secret");
	assert_int_equal(run("meta", &o.src, meta_body, &hs, &reason), HG_EAUTH);
	assert_string_equal(reason, "missing signature header");
}

static void test_meta_ignores_legacy_sha1_header(void **state)
{
	struct one_src o;
	/* A correct-looking legacy header alone must not be enough. */
	struct hdrs hs = {
	    .h = {{"X-Hub-Signature", "sha1=0123456789abcdef0123456789abcdef01234567"}}, .n = 1};
	const char *reason = NULL;

	(void)state;
	one_src_init(&o, "meta-app-secret");
	assert_int_equal(run("meta", &o.src, meta_body, &hs, &reason), HG_EAUTH);
	assert_string_equal(reason, "missing signature header");
}

static void test_meta_legacy_header_beside_valid_one_passes(void **state)
{
	struct one_src o;
	struct hdrs hs = {
	    .h = {{"X-Hub-Signature", "sha1=deadbeef"}, {"X-Hub-Signature-256", meta_sig}}, .n = 2};

	(void)state;
	one_src_init(&o, "meta-app-secret");
	assert_int_equal(run("meta", &o.src, meta_body, &hs, NULL), HG_OK);
}

static void test_meta_header_without_prefix(void **state)
{
	const char *reason = NULL;

	(void)state;
	assert_int_equal(
	    meta_with_sig("meta-app-secret", meta_body, meta_sig + strlen("sha256="), &reason),
	    HG_EAUTH);
	assert_string_equal(reason, "malformed signature header");
}

static void test_meta_truncated_hex_odd_fails(void **state)
{
	char sig[128];
	const char *reason = NULL;

	(void)state;
	hg_strlcpy(sig, meta_sig, sizeof(sig));
	sig[strlen(sig) - 1] = '\0';
	assert_int_equal(meta_with_sig("meta-app-secret", meta_body, sig, &reason), HG_EAUTH);
	assert_string_equal(reason, "malformed signature header");
}

static void test_meta_truncated_hex_whole_bytes_fails(void **state)
{
	char sig[128];
	const char *reason = NULL;

	(void)state;
	hg_strlcpy(sig, meta_sig, sizeof(sig));
	sig[strlen(sig) - 2] = '\0';
	assert_int_equal(meta_with_sig("meta-app-secret", meta_body, sig, &reason), HG_EAUTH);
	assert_string_equal(reason, "signature mismatch");
}

static void test_meta_overlong_hex_fails(void **state)
{
	char sig[512];
	const char *reason = NULL;

	(void)state;
	snprintf(sig, sizeof(sig), "%s%s%s", meta_sig, meta_sig + 7, meta_sig + 7);
	assert_int_equal(meta_with_sig("meta-app-secret", meta_body, sig, &reason), HG_EAUTH);
	assert_string_equal(reason, "signature mismatch");
}

static void test_meta_non_hex_fails(void **state)
{
	char sig[128];
	const char *reason = NULL;

	(void)state;
	hg_strlcpy(sig, meta_sig, sizeof(sig));
	sig[10] = 'g';
	assert_int_equal(meta_with_sig("meta-app-secret", meta_body, sig, &reason), HG_EAUTH);
	assert_string_equal(reason, "malformed signature header");
}

static void test_meta_rotation_second_secret_passes(void **state)
{
	struct one_src o;
	struct hdrs hs = {.h = {{"X-Hub-Signature-256", meta_sig}}, .n = 1};

	(void)state;
	one_src_init(&o, "the-new-secret");
	o.secrets[1] = secret_of("meta-app-secret");
	o.src.n_secrets = 2;
	assert_int_equal(run("meta", &o.src, meta_body, &hs, NULL), HG_OK);
}

static void test_meta_rotation_no_secret_matches(void **state)
{
	struct one_src o;
	struct hdrs hs = {.h = {{"X-Hub-Signature-256", meta_sig}}, .n = 1};

	(void)state;
	one_src_init(&o, "the-new-secret");
	o.secrets[1] = secret_of("another-one");
	o.src.n_secrets = 2;
	assert_int_equal(run("meta", &o.src, meta_body, &hs, NULL), HG_EAUTH);
}

/* ---- github ---- */

static void test_github_vector_passes(void **state)
{
	struct one_src o;
	struct hdrs hs = {.h = {{"x-hub-signature-256", gh_sig}}, .n = 1};

	(void)state;
	one_src_init(&o, "It's a Secret to Everybody");
	assert_int_equal(run("github", &o.src, gh_body, &hs, NULL), HG_OK);
}

static void test_github_flipped_body_byte_fails(void **state)
{
	struct one_src o;
	struct hdrs hs = {.h = {{"X-Hub-Signature-256", gh_sig}}, .n = 1};

	(void)state;
	one_src_init(&o, "It's a Secret to Everybody");
	assert_int_equal(run("github", &o.src, "Hello, World?", &hs, NULL), HG_EAUTH);
}

static void test_github_wrong_secret_fails(void **state)
{
	struct one_src o;
	struct hdrs hs = {.h = {{"X-Hub-Signature-256", gh_sig}}, .n = 1};

	(void)state;
	one_src_init(&o, "It's a Secret to Nobody");
	assert_int_equal(run("github", &o.src, gh_body, &hs, NULL), HG_EAUTH);
}

/* ---- generic hmac, checked against OpenSSL directly ---- */

struct hmac_case {
	enum hg_hash hash;
	enum hg_encoding enc;
	const char *prefix;
};

static const EVP_MD *md_of(enum hg_hash h)
{
	switch (h) {
	case HG_SHA1:
		return EVP_sha1();
	case HG_SHA256:
		return EVP_sha256();
	case HG_SHA512:
		return EVP_sha512();
	}
	return NULL;
}

/* The signature header value an independent implementation would send. */
static void expected_sig(const struct hmac_case *c, const char *key, const char *body, char *out,
			 size_t outlen)
{
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned int n = 0;
	char text[2 * EVP_MAX_MD_SIZE + 1];
	unsigned int i;

	assert_non_null(HMAC(md_of(c->hash), key, (int)strlen(key), (const unsigned char *)body,
			     strlen(body), mac, &n));
	if (c->enc == HG_ENC_HEX) {
		for (i = 0; i < n; i++)
			snprintf(text + 2 * i, 3, "%02x", mac[i]);
	} else {
		EVP_EncodeBlock((unsigned char *)text, mac, (int)n);
	}
	snprintf(out, outlen, "%s%s", c->prefix != NULL ? c->prefix : "", text);
}

static void hmac_src_init(struct one_src *o, const struct hmac_case *c, const char *secret)
{
	one_src_init(o, secret);
	o->src.provider = "hmac";
	o->src.header = "x-zoho-webhook-signature";
	o->src.algorithm = c->hash;
	o->src.encoding = c->enc;
	o->src.prefix = (char *)c->prefix;
}

static const char *hmac_body = "{\"module\":\"Leads\",\"ids\":[\"4150868000001944196\"]}";

static void test_hmac_case_passes(void **state)
{
	const struct hmac_case *c = *state;
	struct one_src o;
	char sig[256];
	struct hdrs hs = {.h = {{"X-Zoho-Webhook-Signature", sig}}, .n = 1};
	const char *reason = "unset";

	hmac_src_init(&o, c, "zoho-crm-secret");
	expected_sig(c, "zoho-crm-secret", hmac_body, sig, sizeof(sig));
	assert_int_equal(run("hmac", &o.src, hmac_body, &hs, &reason), HG_OK);
	assert_null(reason);
}

static void test_hmac_case_wrong_secret_fails(void **state)
{
	const struct hmac_case *c = *state;
	struct one_src o;
	char sig[256];
	struct hdrs hs = {.h = {{"X-Zoho-Webhook-Signature", sig}}, .n = 1};
	const char *reason = NULL;

	hmac_src_init(&o, c, "zoho-crm-secret");
	expected_sig(c, "zoho-bookings-secret", hmac_body, sig, sizeof(sig));
	assert_int_equal(run("hmac", &o.src, hmac_body, &hs, &reason), HG_EAUTH);
	assert_string_equal(reason, "signature mismatch");
}

static const struct hmac_case hmac_cases[] = {
    {HG_SHA1, HG_ENC_HEX, NULL},        {HG_SHA1, HG_ENC_BASE64, NULL},
    {HG_SHA256, HG_ENC_HEX, NULL},      {HG_SHA256, HG_ENC_BASE64, NULL},
    {HG_SHA512, HG_ENC_HEX, NULL},      {HG_SHA512, HG_ENC_BASE64, NULL},
    {HG_SHA256, HG_ENC_HEX, "sha256="}, {HG_SHA512, HG_ENC_BASE64, "v1="},
};
static const struct hmac_case hmac_prefixed = {HG_SHA256, HG_ENC_HEX, "sha256="};

static void test_hmac_prefix_missing_fails(void **state)
{
	struct hmac_case bare = hmac_prefixed;
	struct one_src o;
	char sig[256];
	struct hdrs hs = {.h = {{"X-Zoho-Webhook-Signature", sig}}, .n = 1};
	const char *reason = NULL;

	(void)state;
	bare.prefix = NULL;
	hmac_src_init(&o, &hmac_prefixed, "zoho-crm-secret");
	expected_sig(&bare, "zoho-crm-secret", hmac_body, sig, sizeof(sig));
	assert_int_equal(run("hmac", &o.src, hmac_body, &hs, &reason), HG_EAUTH);
	assert_string_equal(reason, "malformed signature header");
}

static void test_hmac_missing_header(void **state)
{
	struct one_src o;
	struct hdrs hs = {.h = {{"X-Other", "abc"}}, .n = 1};
	const char *reason = NULL;

	(void)state;
	hmac_src_init(&o, &hmac_prefixed, "zoho-crm-secret");
	assert_int_equal(run("hmac", &o.src, hmac_body, &hs, &reason), HG_EAUTH);
	assert_string_equal(reason, "missing signature header");
}

static void test_hmac_other_algorithm_length_fails(void **state)
{
	/* A valid SHA-256 MAC offered to a sha512 source: wrong length. */
	struct hmac_case c256 = {HG_SHA256, HG_ENC_HEX, NULL};
	struct hmac_case c512 = {HG_SHA512, HG_ENC_HEX, NULL};
	struct one_src o;
	char sig[256];
	struct hdrs hs = {.h = {{"X-Zoho-Webhook-Signature", sig}}, .n = 1};
	const char *reason = NULL;

	(void)state;
	hmac_src_init(&o, &c512, "zoho-crm-secret");
	expected_sig(&c256, "zoho-crm-secret", hmac_body, sig, sizeof(sig));
	assert_int_equal(run("hmac", &o.src, hmac_body, &hs, &reason), HG_EAUTH);
	assert_string_equal(reason, "signature mismatch");
}

static void test_hmac_base64_garbage_fails(void **state)
{
	struct hmac_case c = {HG_SHA256, HG_ENC_BASE64, NULL};
	struct one_src o;
	struct hdrs hs = {.h = {{"X-Zoho-Webhook-Signature", "not base64 !!"}}, .n = 1};

	(void)state;
	hmac_src_init(&o, &c, "zoho-crm-secret");
	assert_int_equal(run("hmac", &o.src, hmac_body, &hs, NULL), HG_EAUTH);
}

/* ---- sign() round trips ---- */

/* Splits one "Name: value\n" line from sign() into hs (pointing into line,
 * which is modified). */
static void parse_signed_line(char *line, struct hdrs *hs)
{
	char *colon = strstr(line, ": ");
	size_t n = strlen(line);

	assert_non_null(colon);
	assert_true(n > 0 && line[n - 1] == '\n');
	line[n - 1] = '\0';
	*colon = '\0';
	hs->h[hs->n].name = line;
	hs->h[hs->n].value = colon + 2;
	hs->n++;
}

static void test_sign_meta_matches_vector_and_verifies(void **state)
{
	struct hg_sign_input in = {.secret = (const uint8_t *)"meta-app-secret",
				   .secret_len = strlen("meta-app-secret"),
				   .body = (const uint8_t *)meta_body,
				   .body_len = strlen(meta_body)};
	struct hg_buf out = {0};
	struct hdrs hs = {.n = 0};
	struct one_src o;
	char expect[256];

	(void)state;
	assert_int_equal(hg_verify_find("meta")->sign(&in, &out), HG_OK);
	snprintf(expect, sizeof(expect), "X-Hub-Signature-256: %s\n", meta_sig);
	assert_string_equal((char *)out.data, expect);
	parse_signed_line((char *)out.data, &hs);
	one_src_init(&o, "meta-app-secret");
	assert_int_equal(run("meta", &o.src, meta_body, &hs, NULL), HG_OK);
	hg_buf_free(&out);
}

static void test_sign_github_round_trips(void **state)
{
	const char *secret = "It's a Secret to Everybody";
	struct hg_sign_input in = {.secret = (const uint8_t *)secret,
				   .secret_len = strlen(secret),
				   .body = (const uint8_t *)gh_body,
				   .body_len = strlen(gh_body)};
	struct hg_buf out = {0};
	struct hdrs hs = {.n = 0};
	struct one_src o;

	(void)state;
	assert_int_equal(hg_verify_find("github")->sign(&in, &out), HG_OK);
	parse_signed_line((char *)out.data, &hs);
	assert_string_equal(hs.h[0].value, gh_sig);
	one_src_init(&o, secret);
	assert_int_equal(run("github", &o.src, gh_body, &hs, NULL), HG_OK);
	hg_buf_free(&out);
}

static void test_sign_hmac_case_round_trips(void **state)
{
	const struct hmac_case *c = *state;
	struct hg_sign_input in = {.secret = (const uint8_t *)"zoho-crm-secret",
				   .secret_len = strlen("zoho-crm-secret"),
				   .body = (const uint8_t *)hmac_body,
				   .body_len = strlen(hmac_body),
				   .header = "x-zoho-webhook-signature",
				   .algorithm = c->hash,
				   .encoding = c->enc,
				   .prefix = c->prefix};
	struct hg_buf out = {0};
	struct hdrs hs = {.n = 0};
	struct one_src o;
	char expect[256];

	assert_int_equal(hg_verify_find("hmac")->sign(&in, &out), HG_OK);
	parse_signed_line((char *)out.data, &hs);
	assert_string_equal(hs.h[0].name, "x-zoho-webhook-signature");
	expected_sig(c, "zoho-crm-secret", hmac_body, expect, sizeof(expect));
	assert_string_equal(hs.h[0].value, expect);
	hmac_src_init(&o, c, "zoho-crm-secret");
	assert_int_equal(run("hmac", &o.src, hmac_body, &hs, NULL), HG_OK);
	hg_buf_free(&out);
}

/* ---- the shared helper's key hook (what Standard Webhooks will use) ---- */

/* Key = the secret's bytes after a "k_" prefix; anything else is unusable. */
static int strip_k(const struct hg_secret *s, uint8_t *out, size_t cap, size_t *len)
{
	if (s->len < 2 || memcmp(s->bytes, "k_", 2) != 0 || s->len - 2 > cap)
		return HG_EINVAL;
	memcpy(out, s->bytes + 2, s->len - 2);
	*len = s->len - 2;
	return HG_OK;
}

static void test_mac_match_key_hook(void **state)
{
	const uint8_t *parts[2] = {(const uint8_t *)"Hello, ", (const uint8_t *)"World!"};
	size_t lens[2] = {7, 6};
	struct hg_verify_mac mac = {
	    .hash = HG_SHA256, .parts = parts, .lens = lens, .nparts = 2, .key = strip_k};
	uint8_t sig[HG_MAX_MAC];
	struct one_src o;

	(void)state;
	assert_int_equal(hg_verify_sig_decode(HG_ENC_HEX, gh_sig + 7, strlen(gh_sig + 7), sig), 32);
	/* First secret is rejected by the hook, the second yields the key. */
	one_src_init(&o, "It's a Secret to Everybody");
	o.secrets[1] = secret_of("k_It's a Secret to Everybody");
	o.src.n_secrets = 2;
	assert_int_equal(hg_verify_mac_match(&o.src, &mac, sig, 32), HG_OK);
	o.src.n_secrets = 1;
	assert_int_equal(hg_verify_mac_match(&o.src, &mac, sig, 32), HG_EAUTH);
}

#define CASE(fn, c, label)                                                                         \
	{                                                                                          \
#fn " " label, fn, NULL, NULL, (void *)&(c)                                        \
	}
#define HMAC_CASES(fn)                                                                             \
	CASE(fn, hmac_cases[0], "sha1 hex"), CASE(fn, hmac_cases[1], "sha1 base64"),               \
	    CASE(fn, hmac_cases[2], "sha256 hex"), CASE(fn, hmac_cases[3], "sha256 base64"),       \
	    CASE(fn, hmac_cases[4], "sha512 hex"), CASE(fn, hmac_cases[5], "sha512 base64"),       \
	    CASE(fn, hmac_cases[6], "sha256 hex prefix sha256="),                                  \
	    CASE(fn, hmac_cases[7], "sha512 base64 prefix v1=")

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_find_known_and_unknown),
	    cmocka_unit_test(test_names_lists_every_scheme),
	    cmocka_unit_test(test_default_dedupe),
	    cmocka_unit_test(test_meta_vector_passes),
	    cmocka_unit_test(test_meta_flipped_body_byte_fails),
	    cmocka_unit_test(test_meta_wrong_secret_fails),
	    cmocka_unit_test(test_meta_upper_case_hex_passes),
	    cmocka_unit_test(test_meta_missing_header),
	    cmocka_unit_test(test_meta_ignores_legacy_sha1_header),
	    cmocka_unit_test(test_meta_legacy_header_beside_valid_one_passes),
	    cmocka_unit_test(test_meta_header_without_prefix),
	    cmocka_unit_test(test_meta_truncated_hex_odd_fails),
	    cmocka_unit_test(test_meta_truncated_hex_whole_bytes_fails),
	    cmocka_unit_test(test_meta_overlong_hex_fails),
	    cmocka_unit_test(test_meta_non_hex_fails),
	    cmocka_unit_test(test_meta_rotation_second_secret_passes),
	    cmocka_unit_test(test_meta_rotation_no_secret_matches),
	    cmocka_unit_test(test_github_vector_passes),
	    cmocka_unit_test(test_github_flipped_body_byte_fails),
	    cmocka_unit_test(test_github_wrong_secret_fails),
	    HMAC_CASES(test_hmac_case_passes),
	    HMAC_CASES(test_hmac_case_wrong_secret_fails),
	    cmocka_unit_test(test_hmac_prefix_missing_fails),
	    cmocka_unit_test(test_hmac_missing_header),
	    cmocka_unit_test(test_hmac_other_algorithm_length_fails),
	    cmocka_unit_test(test_hmac_base64_garbage_fails),
	    cmocka_unit_test(test_sign_meta_matches_vector_and_verifies),
	    cmocka_unit_test(test_sign_github_round_trips),
	    HMAC_CASES(test_sign_hmac_case_round_trips),
	    cmocka_unit_test(test_mac_match_key_hook),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
