/*
 * fuzz_api_params.c — what the management and outbound APIs read from a
 * request before any query runs (src/api/params.c, src/api/webhooks.c and
 * the query helpers in src/util): query strings and form decoding, the
 * Authorization: Bearer header, pagination cursors, times, statuses, route
 * paths, durations and sizes, and the JSON bodies of subscription create/
 * patch, event publish, API key create and secret regeneration.
 *
 * Every parser sees the same input bytes. Asserts, besides no crash under
 * ASan/UBSan: results point inside the input and stay within the lengths
 * promised; a decoded cursor encodes and decodes back to the same id; a
 * parsed time written as ISO 8601 parses back to the same millisecond; a
 * status parses back from its own name; base64 and hex decode what they
 * encode.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "api/api.h"
#include "api/api_internal.h"
#include "api/webhooks.h"
#include "util/util.h"

static const char *const fz_types[] = {"order.created", "order.paid", "user.deleted"};

static const char *const fz_routes[] = {
    "/api/v1/messages/*",
    "/api/v1/messages/*/replay",
    "/api/v1/deliveries/*/retry",
    "/api/v1/endpoints/*/retry-dead",
    "/api/v1/webhooks/*/deliveries",
};

#define FZ_CHECK(cond)                                                                             \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "api params: %s failed (line %d)\n", #cond, __LINE__);     \
			abort();                                                                   \
		}                                                                                  \
	} while (0)

static int fz_within(const char *p, size_t n, const char *base, size_t len)
{
	return p >= base && p + n <= base + len;
}

static void fz_query(const char *q, size_t len)
{
	const char *p = q, *end = q + len, *name, *val;
	size_t nlen, vlen, steps = 0;
	char out[256], *dec;
	long got;
	int64_t page, limit;
	char err[256];

	while (hg_query_next(&p, end, &name, &nlen, &val, &vlen)) {
		FZ_CHECK(fz_within(name, nlen, q, len) && fz_within(val, vlen, q, len));
		FZ_CHECK(++steps <= len); /* every step consumes input */
		dec = malloc(vlen + 1);
		if (dec == NULL)
			return;
		FZ_CHECK(hg_form_unescape(val, vlen, dec) <= vlen);
		free(dec);
	}
	got = hg_query_get(q, len, "limit", out, sizeof(out));
	FZ_CHECK(got < (long)sizeof(out));
	if (got >= 0)
		FZ_CHECK(out[got] == '\0');
	(void)hg_query_get(q, len, "cursor", out, 8);
	if (hg_webhook_parse_page(q, len, &page, &limit, err, sizeof(err)) == HG_OK)
		FZ_CHECK(page >= 1 && limit >= 1 && limit <= HG_WEBHOOK_PAGE_MAX);
}

static void fz_cursor(const char *s, size_t len)
{
	char id[HG_UUID_LEN + 1], id2[HG_UUID_LEN + 1], cur[HG_API_CURSOR_MAX + 1];

	if (hg_api_cursor_decode(s, len, 'm', id) == HG_OK) {
		FZ_CHECK(hg_api_is_uuid(id, strlen(id)));
		FZ_CHECK(hg_api_cursor_encode('m', id, cur, sizeof(cur)) == HG_OK);
		FZ_CHECK(hg_api_cursor_decode(cur, strlen(cur), 'm', id2) == HG_OK);
		FZ_CHECK(strcmp(id, id2) == 0);
		FZ_CHECK(hg_api_cursor_decode(cur, strlen(cur), 'd', id2) != HG_OK);
	}
	if (hg_api_is_uuid(s, len)) {
		memcpy(id, s, HG_UUID_LEN);
		id[HG_UUID_LEN] = '\0';
		FZ_CHECK(hg_api_cursor_encode('d', id, cur, sizeof(cur)) == HG_OK);
		FZ_CHECK(hg_api_cursor_decode(cur, strlen(cur), 'd', id2) == HG_OK);
		FZ_CHECK(strcmp(id, id2) == 0);
	}
}

static void fz_time(const char *s)
{
	int64_t ms, back;
	char iso[40];

	if (hg_api_parse_time(s, &ms) != HG_OK)
		return;
	/* years 0000-9999 have one ISO 8601 form; write it and read it back */
	if (ms >= 0 && ms < 253402300800000LL) {
		hg_time_iso8601(ms, iso, sizeof(iso));
		FZ_CHECK(hg_api_parse_time(iso, &back) == HG_OK);
		FZ_CHECK(back == ms);
	}
}

static void fz_codecs(const char *s, size_t len)
{
	uint8_t raw[256], raw2[256];
	char enc[2 * sizeof(raw) + 1]; /* hex; base64 needs less */
	int n;

	n = hg_b64_decode(s, len, raw, sizeof(raw));
	if (n >= 0) {
		FZ_CHECK((size_t)n <= sizeof(raw));
		hg_b64_encode(raw, (size_t)n, enc);
		FZ_CHECK(hg_b64_decode(enc, strlen(enc), raw2, sizeof(raw2)) == n);
		FZ_CHECK(memcmp(raw, raw2, (size_t)n) == 0);
	}
	n = hg_hex_decode(s, len, raw, sizeof(raw));
	if (n >= 0) {
		FZ_CHECK((size_t)n <= sizeof(raw) && (size_t)n * 2 == len);
		hg_hex_encode(raw, (size_t)n, enc);
		FZ_CHECK(strncasecmp(enc, s, len) == 0);
	}
}

static void fz_bodies(const uint8_t *data, size_t size, size_t ntypes)
{
	struct hg_webhook_input wi;
	struct hg_webhook_publish wp;
	char owner[HG_WEBHOOK_OWNER_MAX + 1], err[512];
	int64_t grace;
	int role, patch, rc;
	size_t i;

	for (patch = 0; patch <= 1; patch++) {
		memset(&wi, 0, sizeof(wi));
		rc = hg_webhook_parse(data, size, patch, fz_types, ntypes, &wi, err, sizeof(err));
		if (rc == HG_OK) {
			FZ_CHECK(wi.n_events <= HG_WEBHOOK_MAX_EVENTS);
			for (i = 0; i < wi.n_events; i++)
				FZ_CHECK(
				    hg_webhook_pattern_allowed(wi.events[i], fz_types, ntypes));
			if (!patch)
				FZ_CHECK(wi.url != NULL && wi.n_events > 0);
		}
		hg_webhook_input_free(&wi);
	}
	memset(&wp, 0, sizeof(wp));
	if (hg_webhook_parse_publish(data, size, fz_types, ntypes, &wp, err, sizeof(err)) ==
	    HG_OK) {
		struct hg_buf b = {0};

		FZ_CHECK(wp.event != NULL && hg_webhook_type_allowed(wp.event, fz_types, ntypes));
		if (hg_deliver_event_body(wp.event, 1700000000000LL, wp.data, &b) == HG_OK) {
			json_t *back = json_loadb((const char *)b.data, b.len, 0, NULL);

			FZ_CHECK(back != NULL); /* what subscribers get is JSON */
			json_decref(back);
		}
		hg_buf_free(&b);
	}
	hg_webhook_publish_free(&wp);
	if (hg_webhook_parse_api_key(data, size, owner, &role, err, sizeof(err)) == HG_OK)
		FZ_CHECK(hg_webhook_owner_ok(owner, strlen(owner)) &&
			 (role == HG_ROLE_OWNER || role == HG_ROLE_PUBLISHER));
	if (hg_webhook_parse_regenerate(data, size, &grace, err, sizeof(err)) == HG_OK)
		FZ_CHECK(grace >= 0 && grace <= HG_WEBHOOK_GRACE_MAX_MS);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *tok, *arg;
	size_t toklen, arglen, i;
	char *s;
	int st;
	int64_t d;
	size_t sz;

	s = malloc(size + 1);
	if (s == NULL)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';

	fz_query(s, size);
	if (hg_api_bearer(s, size, &tok, &toklen) == HG_OK) {
		FZ_CHECK(fz_within(tok, toklen, s, size) && toklen > 0);
		FZ_CHECK(memchr(tok, ' ', toklen) == NULL && memchr(tok, ',', toklen) == NULL);
	}
	fz_cursor(s, size);
	if (memchr(s, '\0', size) == NULL) {
		fz_time(s);
		st = hg_api_status_parse(s);
		if (st != -1)
			FZ_CHECK(strcmp(hg_api_status_name(st), s) == 0);
		(void)hg_duration_parse_ms(s, &d);
		(void)hg_size_parse(s, &sz);
		(void)hg_deliver_event_name_ok(s, size);
		for (i = 0; i < sizeof(fz_types) / sizeof(fz_types[0]); i++)
			(void)hg_deliver_event_matches(s, fz_types[i]);
	}
	for (i = 0; i < sizeof(fz_routes) / sizeof(fz_routes[0]); i++)
		if (hg_api_path_matches(fz_routes[i], s, size, &arg, &arglen))
			FZ_CHECK(fz_within(arg, arglen, s, size) && arglen > 0 &&
				 memchr(arg, '/', arglen) == NULL);
	fz_codecs(s, size);
	fz_bodies(data, size, sizeof(fz_types) / sizeof(fz_types[0]));
	if (size > 0 && data[0] == '{')
		fz_bodies(data, size, 0); /* no configured types: any well-formed one */
	free(s);
	return 0;
}
