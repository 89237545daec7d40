/*
 * verify.c — the table of provider signature schemes and the pieces every
 * scheme shares: decoding a signature, matching it against each configured
 * secret in constant time, producing one for `hookgate sign`, and reading
 * the timestamps that replay windows are checked against.
 *
 * Hot path: verification runs once per inbound request, so nothing here
 * allocates or blocks; MACs, keys and decoded signatures live on the stack
 * and are wiped before returning. The one exception is the opt-in max_age
 * check, which has to parse the body as JSON to find its timestamp.
 */
#include <string.h>

#include <jansson.h>
#include <openssl/crypto.h>

#include "util/jsonpath.h"
#include "verify/verify_internal.h"

#define HG_VERIFY_ENTRY(n) &hg_verify_##n,
static const struct hg_verify_scheme *const hg_verify_table[] = {
    HG_VERIFY_SCHEMES(HG_VERIFY_ENTRY)};
#undef HG_VERIFY_ENTRY

/* Built at compile time from the same list as the table, so the two cannot
 * drift; each entry contributes ", name" and we skip the first separator. */
#define HG_VERIFY_NAME(n) ", " #n
static const char hg_verify_name_list[] = "" HG_VERIFY_SCHEMES(HG_VERIFY_NAME);
#undef HG_VERIFY_NAME

const struct hg_verify_scheme *hg_verify_find(const char *name)
{
	size_t i;

	if (name == NULL)
		return NULL;
	for (i = 0; i < sizeof(hg_verify_table) / sizeof(hg_verify_table[0]); i++) {
		if (strcmp(hg_verify_table[i]->name, name) == 0)
			return hg_verify_table[i];
	}
	return NULL;
}

const char *hg_verify_names(void)
{
	return hg_verify_name_list + 2;
}

int hg_verify_mac_match(const struct hg_source *src, const struct hg_verify_mac *mac,
			const uint8_t *sig, size_t sig_len)
{
	uint8_t key[HG_VERIFY_MAX_KEY];
	uint8_t out[HG_MAX_MAC];
	size_t want = hg_hash_len(mac->hash);
	size_t i;
	int matched = 0;

	/* The length of a MAC is public (it follows from the scheme), so a
	 * wrong-length signature can be turned away before any secret is used. */
	if (want == 0 || sig_len != want)
		return HG_EAUTH;

	/* Every secret is tried even after a match, so the time taken does not
	 * tell an attacker which position in the rotation list is live. */
	for (i = 0; i < src->n_secrets; i++) {
		const uint8_t *k = src->secrets[i].bytes;
		size_t klen = src->secrets[i].len;
		size_t got;

		if (mac->key != NULL) {
			if (mac->key(&src->secrets[i], key, sizeof(key), &klen) != HG_OK ||
			    klen > sizeof(key))
				continue;
			k = key;
		}
		got = hg_hmac(mac->hash, k, klen, mac->parts, mac->lens, mac->nparts, out);
		if (got == want && hg_ct_equal(out, sig, want))
			matched = 1;
	}
	OPENSSL_cleanse(key, sizeof(key));
	OPENSSL_cleanse(out, sizeof(out));
	return matched ? HG_OK : HG_EAUTH;
}

int hg_verify_sig_decode(enum hg_encoding enc, const char *text, size_t len,
			 uint8_t out[HG_MAX_MAC])
{
	/* Longest text any supported MAC encodes to: 128 hex digits, or 88
	 * base64 characters for 64 bytes. Longer cannot match; say so without
	 * asking the decoder to fill a buffer it does not fit. */
	size_t max = enc == HG_ENC_HEX ? 2 * HG_MAX_MAC : 4 * ((HG_MAX_MAC + 2) / 3);
	int n;

	if (len > max)
		return HG_ETOOBIG;
	if (enc == HG_ENC_HEX)
		n = hg_hex_decode(text, len, out, HG_MAX_MAC);
	else if (enc == HG_ENC_BASE64)
		n = hg_b64_decode(text, len, out, HG_MAX_MAC);
	else
		return HG_EINVAL;
	return n < 0 ? HG_EINVAL : n;
}

int hg_verify_sig_check(const struct hg_source *src, const struct hg_verify_mac *mac,
			enum hg_encoding enc, const char *text, size_t len, const char **reason)
{
	uint8_t sig[HG_MAX_MAC];
	int n = hg_verify_sig_decode(enc, text, len, sig);
	int rc;

	if (n == HG_EINVAL || n == 0) {
		*reason = HG_VERIFY_MALFORMED;
		return HG_EAUTH;
	}
	if (n < 0) {
		*reason = HG_VERIFY_MISMATCH;
		return HG_EAUTH;
	}
	rc = hg_verify_mac_match(src, mac, sig, (size_t)n);
	OPENSSL_cleanse(sig, sizeof(sig));
	*reason = rc == HG_OK ? NULL : HG_VERIFY_MISMATCH;
	return rc;
}

const char *hg_verify_header(const struct hg_verify_input *in, const char *name, size_t *len)
{
	const char *v;
	size_t n = 0;

	if (in->header == NULL)
		return NULL;
	v = in->header(in->ctx, name, &n);
	if (v == NULL)
		return NULL;
	while (n > 0 && (v[0] == ' ' || v[0] == '\t')) {
		v++;
		n--;
	}
	while (n > 0 && (v[n - 1] == ' ' || v[n - 1] == '\t'))
		n--;
	if (n == 0)
		return NULL;
	*len = n;
	return v;
}

size_t hg_sign_mac_text(enum hg_hash hash, int enc, const uint8_t *key, size_t keylen,
			const uint8_t *const *parts, const size_t *lens, size_t nparts,
			char out[HG_SIGN_TEXT_MAX])
{
	uint8_t mac[HG_MAX_MAC];
	size_t n = hg_hmac(hash, key, keylen, parts, lens, nparts, mac), tlen = 0;

	if (n != 0 && enc == HG_ENC_HEX) {
		hg_hex_encode(mac, n, out);
		tlen = 2 * n;
	} else if (n != 0 && enc == HG_ENC_BASE64) {
		tlen = hg_b64_encode(mac, n, out);
		out[tlen] = '\0';
	}
	OPENSSL_cleanse(mac, sizeof(mac));
	return tlen;
}

size_t hg_sign_standard(const uint8_t *key, size_t keylen, const char *id, size_t idlen,
			const char *ts, size_t tslen, const uint8_t *body, size_t len,
			char out[HG_SIGN_TEXT_MAX])
{
	const uint8_t *parts[5] = {(const uint8_t *)id, (const uint8_t *)".", (const uint8_t *)ts,
				   (const uint8_t *)".", body};
	size_t lens[5] = {idlen, 1, tslen, 1, len};

	return hg_sign_mac_text(HG_SHA256, HG_ENC_BASE64, key, keylen, parts, lens, 5, out);
}

int hg_verify_mac_append(enum hg_hash hash, enum hg_encoding enc, const uint8_t *key, size_t keylen,
			 const uint8_t *const *parts, const size_t *lens, size_t nparts,
			 struct hg_buf *out)
{
	char text[HG_SIGN_TEXT_MAX];
	size_t tlen = hg_sign_mac_text(hash, (int)enc, key, keylen, parts, lens, nparts, text);
	int rc = tlen != 0 ? hg_buf_append(out, text, tlen) : HG_EINVAL;

	OPENSSL_cleanse(text, sizeof(text));
	return rc;
}

/* ---- one header, [prefix] + encoded HMAC of the body ---- */

int hg_verify_body_sig(const struct hg_source *src, const struct hg_verify_input *in,
		       const struct hg_verify_body_mac *bm, const char **reason)
{
	const uint8_t *parts[1] = {in->body};
	size_t lens[1] = {in->body_len};
	struct hg_verify_mac mac = {.hash = bm->hash, .parts = parts, .lens = lens, .nparts = 1};
	size_t plen = bm->prefix != NULL ? strlen(bm->prefix) : 0;
	const char *v;
	size_t len = 0;

	v = hg_verify_header(in, bm->header, &len);
	if (v == NULL) {
		*reason = HG_VERIFY_MISSING;
		return HG_EAUTH;
	}
	if (plen > 0 && (len < plen || memcmp(v, bm->prefix, plen) != 0)) {
		*reason = HG_VERIFY_MALFORMED;
		return HG_EAUTH;
	}
	return hg_verify_sig_check(src, &mac, bm->enc, v + plen, len - plen, reason);
}

int hg_verify_body_sign(const struct hg_sign_input *in, const struct hg_verify_body_mac *bm,
			struct hg_buf *out)
{
	const uint8_t *parts[1] = {in->body};
	size_t lens[1] = {in->body_len};
	int rc;

	rc = hg_buf_printf(out, "%s: %s", bm->header, bm->prefix != NULL ? bm->prefix : "");
	if (rc != HG_OK)
		return rc;
	rc = hg_verify_mac_append(bm->hash, bm->enc, in->secret, in->secret_len, parts, lens, 1,
				  out);
	if (rc != HG_OK)
		return rc;
	return hg_buf_puts(out, "\n");
}

/* ---- "k=v,k=v" signature headers ---- */

/* Reads the item at *pos (items are comma-separated; spaces around them are
 * tolerated). Returns 0 at the end of the header. */
int hg_verify_item_next(const char *v, size_t len, size_t *pos, struct hg_verify_item *it)
{
	size_t start, end, eq;

	while (*pos < len && (v[*pos] == ',' || v[*pos] == ' '))
		(*pos)++;
	if (*pos >= len)
		return 0;
	start = *pos;
	while (*pos < len && v[*pos] != ',')
		(*pos)++;
	end = *pos;
	while (end > start && v[end - 1] == ' ')
		end--;
	for (eq = start; eq < end && v[eq] != '='; eq++)
		;
	it->key = v + start;
	it->klen = eq - start;
	it->val = eq < end ? v + eq + 1 : v + end;
	it->vlen = eq < end ? end - eq - 1 : 0;
	return 1;
}

int hg_verify_item_is(const struct hg_verify_item *it, const char *key)
{
	return it->klen == strlen(key) && memcmp(it->key, key, it->klen) == 0;
}

/* ---- timestamps ---- */

/* 15 digits of seconds is past the year 30 million; more cannot be a real
 * timestamp, and capping here keeps every later "* 1000" in range. */
#define HG_VERIFY_TS_MAX_DIGITS 15
#define HG_VERIFY_TS_LIMIT_S    INT64_C(999999999999999)

int hg_verify_ts_parse(const char *text, size_t len, int64_t *out_s)
{
	int64_t v = 0;
	size_t i;

	if (len == 0 || len > HG_VERIFY_TS_MAX_DIGITS)
		return HG_EINVAL;
	for (i = 0; i < len; i++) {
		if (text[i] < '0' || text[i] > '9')
			return HG_EINVAL;
		v = v * 10 + (text[i] - '0');
	}
	*out_s = v;
	return HG_OK;
}

/* Reads exactly n digits at text[*pos] into *out. */
static int hg_verify_digits(const char *text, size_t len, size_t *pos, size_t n, int *out)
{
	int v = 0;
	size_t i;

	if (len - *pos < n)
		return HG_EINVAL;
	for (i = 0; i < n; i++) {
		char c = text[*pos + i];

		if (c < '0' || c > '9')
			return HG_EINVAL;
		v = v * 10 + (c - '0');
	}
	*pos += n;
	*out = v;
	return HG_OK;
}

/* Reads the separator c at text[*pos]. */
static int hg_verify_sep(const char *text, size_t len, size_t *pos, char c)
{
	if (*pos >= len || text[*pos] != c)
		return HG_EINVAL;
	(*pos)++;
	return HG_OK;
}

/* Days from 1970-01-01 to y-m-d in the proleptic Gregorian calendar (Howard
 * Hinnant's days_from_civil); done by hand because timegm() is neither
 * standard C nor bounded in what it accepts. */
static int64_t hg_verify_days_from_civil(int64_t y, int m, int d)
{
	int64_t era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static int hg_verify_month_days(int y, int m)
{
	static const int days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;

	return m == 2 && leap ? 29 : days[m - 1];
}

int hg_verify_iso8601_parse(const char *text, size_t len, int64_t *out_ms)
{
	int y, mo, d, h, mi, sec, oh = 0, om = 0, sign = 0, ms = 0, scale = 100;
	size_t pos = 0;
	int64_t t;

	if (hg_verify_digits(text, len, &pos, 4, &y) != HG_OK ||
	    hg_verify_sep(text, len, &pos, '-') != HG_OK ||
	    hg_verify_digits(text, len, &pos, 2, &mo) != HG_OK ||
	    hg_verify_sep(text, len, &pos, '-') != HG_OK ||
	    hg_verify_digits(text, len, &pos, 2, &d) != HG_OK)
		return HG_EINVAL;
	/* RFC 3339 allows a lower-case t and, by agreement, a space. */
	if (pos >= len || (text[pos] != 'T' && text[pos] != 't' && text[pos] != ' '))
		return HG_EINVAL;
	pos++;
	if (hg_verify_digits(text, len, &pos, 2, &h) != HG_OK ||
	    hg_verify_sep(text, len, &pos, ':') != HG_OK ||
	    hg_verify_digits(text, len, &pos, 2, &mi) != HG_OK ||
	    hg_verify_sep(text, len, &pos, ':') != HG_OK ||
	    hg_verify_digits(text, len, &pos, 2, &sec) != HG_OK)
		return HG_EINVAL;
	if (pos < len && (text[pos] == '.' || text[pos] == ',')) {
		size_t start = ++pos;

		for (; pos < len && text[pos] >= '0' && text[pos] <= '9'; pos++) {
			ms += (text[pos] - '0') * scale;
			scale /= 10;
		}
		if (pos == start)
			return HG_EINVAL;
	}
	if (pos < len && (text[pos] == 'Z' || text[pos] == 'z')) {
		pos++;
	} else if (pos < len && (text[pos] == '+' || text[pos] == '-')) {
		sign = text[pos++] == '-' ? -1 : 1;
		if (hg_verify_digits(text, len, &pos, 2, &oh) != HG_OK)
			return HG_EINVAL;
		if (pos < len && text[pos] == ':')
			pos++;
		if (hg_verify_digits(text, len, &pos, 2, &om) != HG_OK)
			return HG_EINVAL;
	} else {
		return HG_EINVAL;
	}
	/* A leap second (:60) is allowed; it lands on the next second. */
	if (pos != len || mo < 1 || mo > 12 || d < 1 || d > hg_verify_month_days(y, mo) || h > 23 ||
	    mi > 59 || sec > 60 || oh > 23 || om > 59)
		return HG_EINVAL;
	t = hg_verify_days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec;
	t -= sign * (oh * 3600 + om * 60);
	*out_ms = t * 1000 + ms;
	return HG_OK;
}

int hg_verify_fresh(int64_t now_s, int64_t t_ms, int64_t window_ms, const char **reason)
{
	int64_t now_ms, diff;

	if (window_ms <= 0)
		window_ms = HG_VERIFY_DEFAULT_WINDOW_MS;
	/* Clamp both ends so the subtraction below cannot overflow whatever a
	 * caller passes; anything clamped is far outside any window anyway. */
	if (now_s > HG_VERIFY_TS_LIMIT_S)
		now_s = HG_VERIFY_TS_LIMIT_S;
	if (now_s < -HG_VERIFY_TS_LIMIT_S)
		now_s = -HG_VERIFY_TS_LIMIT_S;
	if (t_ms > HG_VERIFY_TS_LIMIT_S * 1000)
		t_ms = HG_VERIFY_TS_LIMIT_S * 1000;
	if (t_ms < -HG_VERIFY_TS_LIMIT_S * 1000)
		t_ms = -HG_VERIFY_TS_LIMIT_S * 1000;
	now_ms = now_s * 1000;
	diff = now_ms > t_ms ? now_ms - t_ms : t_ms - now_ms;
	if (diff <= window_ms)
		return HG_OK;
	if (reason != NULL)
		*reason = HG_VERIFY_REPLAY;
	return HG_EREPLAY;
}

/* jsonpath callback: keeps the first value the path selects. */
static int hg_verify_first_value(json_t *v, void *arg)
{
	*(json_t **)arg = v;
	return 1;
}

json_t *hg_verify_body_json(const struct hg_verify_input *in, struct hg_json_body *local)
{
	hg_json_body_init(local, in->body, in->body_len);
	return hg_json_body_root(in->json != NULL ? in->json : local);
}

int hg_verify_max_age(const struct hg_source *src, const struct hg_verify_input *in,
		      const char **reason)
{
	struct hg_json_body local;
	json_t *root = NULL, *v = NULL;
	int64_t t_ms = 0;
	int rc = HG_EAUTH;

	if (src->max_age_path == NULL)
		return HG_OK;
	root = hg_verify_body_json(in, &local);
	if (!json_is_object(root) && !json_is_array(root))
		goto out; /* not a JSON document: no time in it */
	hg_jsonpath_each(src->max_age_path, root, hg_verify_first_value, &v);
	if (json_is_integer(v)) {
		json_int_t s = json_integer_value(v);

		/* An integer is a time, however absurd; only its distance from
		 * now decides, so out-of-range values are a replay. */
		if (s > HG_VERIFY_TS_LIMIT_S || s < -HG_VERIFY_TS_LIMIT_S) {
			rc = HG_EREPLAY;
			*reason = HG_VERIFY_REPLAY;
			goto out;
		}
		t_ms = (int64_t)s * 1000;
	} else if (!json_is_string(v) ||
		   hg_verify_iso8601_parse(json_string_value(v), json_string_length(v), &t_ms) !=
		       HG_OK) {
		goto out;
	}
	rc = hg_verify_fresh(in->now_s, t_ms, src->max_age_ms, reason);
out:
	if (rc == HG_EAUTH)
		*reason = HG_VERIFY_NO_TS;
	hg_json_body_release(&local);
	return rc;
}

/* ---- "t=...,v=..." headers (Stripe, Zoho Payments) ---- */

/* Each signature costs an HMAC of the body per secret; a provider sends
 * one or two, and a header with dozens is an attempt to make us burn CPU. */
#define HG_VERIFY_TV_MAX 8

int hg_verify_tv_check(const struct hg_source *src, const struct hg_verify_input *in,
		       const struct hg_verify_tv *tv, const char **reason)
{
	const uint8_t *parts[3] = {NULL, (const uint8_t *)".", in->body};
	size_t lens[3] = {0, 1, in->body_len};
	struct hg_verify_mac mac = {.hash = HG_SHA256, .parts = parts, .lens = lens, .nparts = 3};
	struct hg_verify_item it;
	uint8_t sig[HG_MAX_MAC];
	const char *v, *t = NULL;
	size_t len = 0, tlen = 0, pos = 0, nv = 0;
	int64_t ts = 0;
	int matched = 0;

	v = hg_verify_header(in, tv->header, &len);
	if (v == NULL) {
		*reason = HG_VERIFY_MISSING;
		return HG_EAUTH;
	}
	/* First pass: exactly one t, and a bounded number of signatures. Two
	 * t items would leave it to us which one the signature covers. */
	while (hg_verify_item_next(v, len, &pos, &it)) {
		if (hg_verify_item_is(&it, "t")) {
			if (t != NULL) {
				*reason = HG_VERIFY_MALFORMED;
				return HG_EAUTH;
			}
			t = it.val;
			tlen = it.vlen;
		} else if (hg_verify_item_is(&it, tv->vkey)) {
			nv++;
		}
	}
	if (t == NULL || hg_verify_ts_parse(t, tlen, &ts) != HG_OK || nv == 0 ||
	    nv > HG_VERIFY_TV_MAX) {
		*reason = HG_VERIFY_MALFORMED;
		return HG_EAUTH;
	}
	parts[0] = (const uint8_t *)t;
	lens[0] = tlen;
	pos = 0;
	while (!matched && hg_verify_item_next(v, len, &pos, &it)) {
		int n;

		if (!hg_verify_item_is(&it, tv->vkey))
			continue;
		n = hg_verify_sig_decode(HG_ENC_HEX, it.val, it.vlen, sig);
		if (n > 0 && hg_verify_mac_match(src, &mac, sig, (size_t)n) == HG_OK)
			matched = 1;
	}
	OPENSSL_cleanse(sig, sizeof(sig));
	if (!matched) {
		*reason = HG_VERIFY_MISMATCH;
		return HG_EAUTH;
	}
	*reason = NULL;
	return hg_verify_fresh(in->now_s, ts * tv->unit_ms, src->tolerance_ms, reason);
}

int hg_verify_tv_sign(const struct hg_sign_input *in, const struct hg_verify_tv *tv, int64_t ts,
		      struct hg_buf *out)
{
	char t[24];
	const uint8_t *parts[3] = {(const uint8_t *)t, (const uint8_t *)".", in->body};
	size_t lens[3] = {0, 1, in->body_len};
	int n, rc;

	n = snprintf(t, sizeof(t), "%" PRId64, ts);
	if (n < 0 || (size_t)n >= sizeof(t))
		return HG_EINVAL;
	lens[0] = (size_t)n;
	rc = hg_buf_printf(out, "%s: t=%s,%s=", tv->header, t, tv->vkey);
	if (rc != HG_OK)
		return rc;
	rc = hg_verify_mac_append(HG_SHA256, HG_ENC_HEX, in->secret, in->secret_len, parts, lens, 3,
				  out);
	if (rc != HG_OK)
		return rc;
	return hg_buf_puts(out, "\n");
}
