/*
 * slack.c — Slack's signing secret scheme: `X-Slack-Signature: v0=<hex>`,
 * the HMAC-SHA256 of "v0:" + X-Slack-Request-Timestamp + ":" + body, with
 * the timestamp within the source's tolerance (Slack's docs say five
 * minutes). Slack also signs the url_verification handshake it POSTs when
 * an Events API URL is saved; post_handshake answers it with the challenge
 * so it is acknowledged but never stored as an event.
 *
 * Hot path: verify does no allocation and no I/O; post_handshake parses a
 * body that looks like a JSON object (slash commands and interactivity
 * payloads are form-encoded and are skipped without parsing).
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "util/jsonpath.h"
#include "verify/verify_internal.h"

#define HG_SLACK_SIG_HEADER "X-Slack-Signature"
#define HG_SLACK_TS_HEADER  "X-Slack-Request-Timestamp"
#define HG_SLACK_PREFIX     "v0="
#define HG_SLACK_PREFIX_LEN (sizeof(HG_SLACK_PREFIX) - 1)

static int hg_verify_slack_verify(const struct hg_source *src, const struct hg_verify_input *in,
				  const char **reason)
{
	const uint8_t *parts[4] = {(const uint8_t *)"v0:", NULL, (const uint8_t *)":", in->body};
	size_t lens[4] = {3, 0, 1, in->body_len};
	struct hg_verify_mac mac = {.hash = HG_SHA256, .parts = parts, .lens = lens, .nparts = 4};
	const char *v, *t;
	size_t len = 0, tlen = 0;
	int64_t ts = 0;

	v = hg_verify_header(in, HG_SLACK_SIG_HEADER, &len);
	if (v == NULL) {
		*reason = HG_VERIFY_MISSING;
		return HG_EAUTH;
	}
	if (len < HG_SLACK_PREFIX_LEN || memcmp(v, HG_SLACK_PREFIX, HG_SLACK_PREFIX_LEN) != 0) {
		*reason = HG_VERIFY_MALFORMED;
		return HG_EAUTH;
	}
	t = hg_verify_header(in, HG_SLACK_TS_HEADER, &tlen);
	if (t == NULL) {
		*reason = HG_VERIFY_NO_TS;
		return HG_EAUTH;
	}
	if (hg_verify_ts_parse(t, tlen, &ts) != HG_OK) {
		*reason = HG_VERIFY_BAD_TS;
		return HG_EAUTH;
	}
	parts[1] = (const uint8_t *)t;
	lens[1] = tlen;
	if (hg_verify_sig_check(src, &mac, HG_ENC_HEX, v + HG_SLACK_PREFIX_LEN,
				len - HG_SLACK_PREFIX_LEN, reason) != HG_OK)
		return HG_EAUTH;
	return hg_verify_fresh(in->now_s, ts * 1000, src->tolerance_ms, reason);
}

static int hg_verify_slack_sign(const struct hg_sign_input *in, struct hg_buf *out)
{
	int64_t ts = in->timestamp != 0 ? in->timestamp : hg_now_ms() / 1000;
	char t[24];
	const uint8_t *parts[4] = {(const uint8_t *)"v0:", (const uint8_t *)t, (const uint8_t *)":",
				   in->body};
	size_t lens[4] = {3, 0, 1, in->body_len};
	int n, rc;

	n = snprintf(t, sizeof(t), "%" PRId64, ts);
	if (n < 0 || (size_t)n >= sizeof(t))
		return HG_EINVAL;
	lens[1] = (size_t)n;
	rc = hg_buf_printf(out,
			   HG_SLACK_TS_HEADER ": %s\n" HG_SLACK_SIG_HEADER ": " HG_SLACK_PREFIX, t);
	if (rc != HG_OK)
		return rc;
	rc = hg_verify_mac_append(HG_SHA256, HG_ENC_HEX, in->secret, in->secret_len, parts, lens, 4,
				  out);
	if (rc != HG_OK)
		return rc;
	return hg_buf_puts(out, "\n");
}

/* Returns 1 with {"challenge":"..."} appended for a url_verification body,
 * 0 for anything else, or HG_ENOMEM when the answer cannot be built. */
static int hg_verify_slack_post_handshake(const struct hg_verify_input *in, struct hg_buf *out)
{
	struct hg_json_body local;
	json_t *root, *type, *challenge;
	size_t i = 0;
	int rc = 0;

	while (i < in->body_len && (in->body[i] == ' ' || in->body[i] == '\t' ||
				    in->body[i] == '\r' || in->body[i] == '\n'))
		i++;
	if (i == in->body_len || in->body[i] != '{')
		return 0;
	root = hg_verify_body_json(in, &local);
	type = json_object_get(root, "type");
	challenge = json_object_get(root, "challenge");
	if (!json_is_string(type) || strcmp(json_string_value(type), "url_verification") != 0 ||
	    !json_is_string(challenge))
		goto out;
	if (hg_buf_puts(out, "{\"challenge\":") != HG_OK ||
	    hg_buf_json_str(out, json_string_value(challenge), json_string_length(challenge)) !=
		HG_OK ||
	    hg_buf_puts(out, "}") != HG_OK) {
		rc = HG_ENOMEM;
		goto out;
	}
	rc = 1;
out:
	hg_json_body_release(&local);
	return rc;
}

static const char *const hg_verify_slack_dedupe[] = {"$.event_id", NULL};

const struct hg_verify_scheme hg_verify_slack = {
    .name = "slack",
    .verify = hg_verify_slack_verify,
    .sign = hg_verify_slack_sign,
    .default_dedupe = hg_verify_slack_dedupe,
    .post_handshake = hg_verify_slack_post_handshake,
};
