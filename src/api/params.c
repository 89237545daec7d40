/*
 * params.c — the pure pieces of the management API that parse what a
 * client sends: the Bearer token, pagination cursors, timestamps, ids and
 * delivery states. No I/O, no allocation; unit-tested on their own.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "api/api.h"
#include "store/store.h"

int hg_api_bearer(const char *hdr, size_t len, const char **tok, size_t *toklen)
{
	static const char scheme[] = "bearer";
	size_t i = 0, n = sizeof(scheme) - 1;

	*tok = NULL;
	*toklen = 0;
	if (hdr == NULL)
		return HG_EINVAL;
	while (i < len && (hdr[i] == ' ' || hdr[i] == '\t'))
		i++;
	/* RFC 7235: the scheme is case-insensitive and one or more spaces
	 * separate it from the credentials. */
	if (len - i <= n || strncasecmp(hdr + i, scheme, n) != 0 ||
	    (hdr[i + n] != ' ' && hdr[i + n] != '\t'))
		return HG_EINVAL;
	i += n;
	while (i < len && (hdr[i] == ' ' || hdr[i] == '\t'))
		i++;
	while (len > i && (hdr[len - 1] == ' ' || hdr[len - 1] == '\t'))
		len--;
	if (i == len)
		return HG_EINVAL;
	for (size_t k = i; k < len; k++)
		if (hdr[k] == ' ' || hdr[k] == '\t' || hdr[k] == ',')
			return HG_EINVAL; /* a second parameter: not a bearer token */
	*tok = hdr + i;
	*toklen = len - i;
	return HG_OK;
}

int hg_api_is_uuid(const char *s, size_t len)
{
	if (len != HG_UUID_LEN)
		return 0;
	for (size_t i = 0; i < len; i++) {
		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (s[i] != '-')
				return 0;
		} else if (hg_hex_digit((unsigned char)s[i]) < 0) {
			return 0;
		}
	}
	return 1;
}

/* A cursor is base64url (no padding) of "<kind>:<value>": opaque to
 * clients, tied to the list it came from, and checked on the way back in.
 * The value is an id (a UUID), or for kind HG_API_CURSOR_SEQ a row number
 * in decimal. */
#define CURSOR_RAW_MAX (2 + HG_UUID_LEN)

static int cursor_value_ok(char kind, const char *v, size_t len)
{
	if (kind != HG_API_CURSOR_SEQ)
		return hg_api_is_uuid(v, len);
	if (len == 0 || len > 18 || v[0] == '0')
		return 0;
	for (size_t i = 0; i < len; i++)
		if (!isdigit((unsigned char)v[i]))
			return 0;
	return 1;
}

int hg_api_cursor_encode(char kind, const char *id, char *out, size_t outlen)
{
	char raw[CURSOR_RAW_MAX];
	char b64[4 * ((CURSOR_RAW_MAX + 2) / 3) + 1];
	size_t n, i, o = 0, len = strlen(id);

	if (!cursor_value_ok(kind, id, len))
		return HG_EINVAL;
	raw[0] = kind;
	raw[1] = ':';
	memcpy(raw + 2, id, len);
	n = hg_b64_encode((const uint8_t *)raw, 2 + len, b64);
	for (i = 0; i < n && b64[i] != '='; i++) {
		if (o + 1 >= outlen)
			return HG_ETOOBIG;
		out[o++] = b64[i] == '+' ? '-' : b64[i] == '/' ? '_' : b64[i];
	}
	if (o >= outlen)
		return HG_ETOOBIG;
	out[o] = '\0';
	return HG_OK;
}

int hg_api_cursor_decode(const char *cur, size_t len, char kind, char id[HG_UUID_LEN + 1])
{
	uint8_t raw[CURSOR_RAW_MAX + 3];
	int n;

	if (len == 0 || len > HG_API_CURSOR_MAX)
		return HG_EINVAL;
	for (size_t i = 0; i < len; i++)
		if (!isalnum((unsigned char)cur[i]) && cur[i] != '-' && cur[i] != '_')
			return HG_EINVAL; /* the URL-safe alphabet only, as we write it */
	n = hg_b64_decode(cur, len, raw, sizeof(raw));
	if (n < 3 || n > CURSOR_RAW_MAX || raw[0] != (uint8_t)kind || raw[1] != ':' ||
	    !cursor_value_ok(kind, (const char *)raw + 2, (size_t)n - 2))
		return HG_EINVAL;
	memcpy(id, raw + 2, (size_t)n - 2);
	id[n - 2] = '\0';
	return HG_OK;
}

/* Reads exactly n digits at s into *v. */
static int digits(const char *s, int n, int *v)
{
	*v = 0;
	for (int i = 0; i < n; i++) {
		if (!isdigit((unsigned char)s[i]))
			return 0;
		*v = *v * 10 + (s[i] - '0');
	}
	return 1;
}

int hg_api_parse_time(const char *s, int64_t *ms)
{
	struct tm tm = {0};
	size_t len = strlen(s), i;
	int y, mo, d, h = 0, mi = 0, sec = 0, frac = 0, off = 0;
	char *end;

	if (len > 0 && len <= 15 && strspn(s, "0123456789") == len) {
		long long v = strtoll(s, &end, 10);
		*ms = v;
		return HG_OK;
	}
	/* YYYY-MM-DD, optionally THH:MM[:SS[.fff]] and Z or +HH:MM / -HH:MM. */
	if (len < 10 || !digits(s, 4, &y) || s[4] != '-' || !digits(s + 5, 2, &mo) || s[7] != '-' ||
	    !digits(s + 8, 2, &d))
		return HG_EINVAL;
	i = 10;
	if (i < len && (s[i] == 'T' || s[i] == 't' || s[i] == ' ')) {
		if (len < i + 6 || !digits(s + i + 1, 2, &h) || s[i + 3] != ':' ||
		    !digits(s + i + 4, 2, &mi))
			return HG_EINVAL;
		i += 6;
		if (i < len && s[i] == ':') {
			if (len < i + 3 || !digits(s + i + 1, 2, &sec))
				return HG_EINVAL;
			i += 3;
			if (i < len && s[i] == '.') {
				int scale = 100, nd = 0;

				for (i++; i < len && isdigit((unsigned char)s[i]); i++, nd++) {
					frac += (s[i] - '0') * scale;
					scale /= 10;
				}
				if (nd == 0)
					return HG_EINVAL;
			}
		}
		if (i < len && (s[i] == 'Z' || s[i] == 'z')) {
			i++;
		} else if (i < len && (s[i] == '+' || s[i] == '-')) {
			int oh, om;

			if (len < i + 6 || !digits(s + i + 1, 2, &oh) || s[i + 3] != ':' ||
			    !digits(s + i + 4, 2, &om) || oh > 23 || om > 59)
				return HG_EINVAL;
			off = (oh * 60 + om) * (s[i] == '+' ? 1 : -1);
			i += 6;
		}
	}
	if (i != len || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60)
		return HG_EINVAL;
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = sec;
	*ms = ((int64_t)timegm(&tm) - (int64_t)off * 60) * 1000 + frac;
	return HG_OK;
}

int hg_api_status_parse(const char *s)
{
	enum hg_delivery_status st;

	if (strcmp(s, "none") == 0)
		return HG_STORE_NO_DELIVERIES;
	return hg_store_delivery_status_parse(s, &st) == HG_OK ? (int)st : -1;
}

const char *hg_api_status_name(int status)
{
	const char *name = hg_store_delivery_status_name((enum hg_delivery_status)status);

	return name != NULL ? name : "none";
}
