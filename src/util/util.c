/*
 * util.c — the small shared pieces every module leans on: status strings,
 * the growable byte buffer, JSON string escaping, time, durations and sizes,
 * UUIDv7 ids, hex/base64 and the OpenSSL-backed hashing helpers.
 *
 * Everything here may run on the request path: nothing blocks, and only
 * hg_buf and hg_hmac allocate (the latter because OpenSSL's MAC contexts do).
 */
#include "util/util.h"

#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/rand.h>

#include "util/util_internal.h"

const char *hg_strerror(int code)
{
	switch (code) {
	case HG_OK:
		return "success";
	case HG_ENOMEM:
		return "out of memory";
	case HG_EINVAL:
		return "malformed input";
	case HG_EIO:
		return "storage or system failure";
	case HG_ENOTFOUND:
		return "not found";
	case HG_ETOOBIG:
		return "input over a limit";
	case HG_EAUTH:
		return "signature or token did not verify";
	case HG_EREPLAY:
		return "timestamp outside tolerance";
	case HG_ENOKEY:
		return "sealed with a key that is not configured";
	default:
		return "unknown error";
	}
}

/* ---- growable byte buffer ---- */

/* Guarantees room for extra more bytes plus the terminating NUL. Grows by
 * doubling so a run of small appends stays linear. */
/* Makes the failure rc sticky (see util.h). Returns rc. */
static int buf_fail(struct hg_buf *b, int rc)
{
	free(b->data);
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
	b->err = rc;
	return rc;
}

int hg_buf_status(const struct hg_buf *b)
{
	return b->err;
}

void hg_buf_set_error(struct hg_buf *b, int rc)
{
	if (b->err == HG_OK)
		buf_fail(b, rc != HG_OK ? rc : HG_EINVAL);
}

int hg_buf_reserve(struct hg_buf *b, size_t extra)
{
	size_t need, cap;
	uint8_t *p;

	if (b->err != HG_OK)
		return b->err;
	if (extra > SIZE_MAX - b->len - 1)
		return buf_fail(b, HG_ENOMEM);
	need = b->len + extra + 1;
	if (need <= b->cap)
		return HG_OK;
	cap = b->cap < 64 ? 64 : b->cap;
	while (cap < need)
		cap = cap > SIZE_MAX / 2 ? need : cap * 2;
	p = realloc(b->data, cap);
	if (p == NULL)
		return buf_fail(b, HG_ENOMEM);
	b->data = p;
	b->cap = cap;
	return HG_OK;
}

int hg_buf_append(struct hg_buf *b, const void *p, size_t n)
{
	int rc = hg_buf_reserve(b, n);

	if (rc != HG_OK)
		return rc;
	if (n > 0)
		memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = '\0';
	return HG_OK;
}

int hg_buf_puts(struct hg_buf *b, const char *s)
{
	return hg_buf_append(b, s, strlen(s));
}

int hg_buf_printf(struct hg_buf *b, const char *fmt, ...)
{
	va_list ap;
	int n, rc;

	/* First try in the space already there; most calls fit. */
	rc = hg_buf_reserve(b, 32);
	if (rc != HG_OK)
		return rc;
	va_start(ap, fmt);
	n = vsnprintf((char *)b->data + b->len, b->cap - b->len, fmt, ap);
	va_end(ap);
	if (n < 0)
		return buf_fail(b, HG_EINVAL);
	if ((size_t)n >= b->cap - b->len) {
		rc = hg_buf_reserve(b, (size_t)n);
		if (rc != HG_OK)
			return rc;
		va_start(ap, fmt);
		n = vsnprintf((char *)b->data + b->len, b->cap - b->len, fmt, ap);
		va_end(ap);
		if (n < 0)
			return buf_fail(b, HG_EINVAL);
	}
	b->len += (size_t)n;
	return HG_OK;
}

/* Length of the valid UTF-8 (RFC 3629) sequence at s, or 0 when the bytes
 * there are not one: overlongs, surrogates and values above U+10FFFF are
 * refused so the JSON we emit is always valid UTF-8. */
static size_t utf8_seq_len(const unsigned char *s, size_t n)
{
	unsigned char c = s[0];
	unsigned char lo = 0x80, hi = 0xbf;
	size_t len, i;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf) {
		len = 2;
	} else if (c >= 0xe0 && c <= 0xef) {
		len = 3;
		if (c == 0xe0)
			lo = 0xa0;
		else if (c == 0xed)
			hi = 0x9f;
	} else if (c >= 0xf0 && c <= 0xf4) {
		len = 4;
		if (c == 0xf0)
			lo = 0x90;
		else if (c == 0xf4)
			hi = 0x8f;
	} else {
		return 0;
	}
	if (n < len)
		return 0;
	if (s[1] < lo || s[1] > hi)
		return 0;
	for (i = 2; i < len; i++)
		if (s[i] < 0x80 || s[i] > 0xbf)
			return 0;
	return len;
}

size_t hg_util_json_escape(char *dst, size_t cap, const char *s, size_t n, size_t *consumed)
{
	static const char hexd[] = "0123456789abcdef";
	const unsigned char *u = (const unsigned char *)s;
	size_t i = 0, o = 0;

	while (i < n) {
		char esc[6];
		const char *src = esc;
		size_t in = 1, out = 2;
		unsigned char c = u[i];

		esc[0] = '\\';
		switch (c) {
		case '"':
			esc[1] = '"';
			break;
		case '\\':
			esc[1] = '\\';
			break;
		case '\b':
			esc[1] = 'b';
			break;
		case '\f':
			esc[1] = 'f';
			break;
		case '\n':
			esc[1] = 'n';
			break;
		case '\r':
			esc[1] = 'r';
			break;
		case '\t':
			esc[1] = 't';
			break;
		default:
			if (c < 0x20) {
				memcpy(esc + 1, "u00", 3);
				esc[4] = hexd[c >> 4];
				esc[5] = hexd[c & 0xf];
				out = 6;
			} else {
				in = utf8_seq_len(u + i, n - i);
				if (in == 0) {
					/* One bad byte becomes one replacement
					 * character; resynchronise after it. */
					src = "\\ufffd";
					in = 1;
					out = 6;
				} else {
					src = s + i;
					out = in;
				}
			}
		}
		if (out > cap - o)
			break;
		memcpy(dst + o, src, out);
		o += out;
		i += in;
	}
	*consumed = i;
	return o;
}

int hg_buf_json_str(struct hg_buf *b, const char *s, size_t n)
{
	size_t used, w;
	int rc;

	if (b->err != HG_OK)
		return b->err;
	if (n > (SIZE_MAX - 2) / 6)
		return buf_fail(b, HG_ETOOBIG);
	rc = hg_buf_reserve(b, 6 * n + 2);
	if (rc != HG_OK)
		return rc;
	b->data[b->len++] = '"';
	w = hg_util_json_escape((char *)b->data + b->len, 6 * n, s, n, &used);
	b->len += w;
	b->data[b->len++] = '"';
	b->data[b->len] = '\0';
	return HG_OK;
}

void hg_buf_free(struct hg_buf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
	b->err = HG_OK;
}

/* ---- bounded strings ---- */

void hg_errf(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL || errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

int hg_prefix_equal(const uint8_t *a, const uint8_t *b, int prefix)
{
	int whole = prefix / 8, rest = prefix % 8;
	uint8_t mask;

	if (memcmp(a, b, (size_t)whole) != 0)
		return 0;
	if (rest == 0)
		return 1;
	mask = (uint8_t)(0xff << (8 - rest));
	return (a[whole] & mask) == (b[whole] & mask);
}

size_t hg_strlcpy(char *dst, const char *src, size_t dstlen)
{
	size_t n = strlen(src);

	if (dstlen > 0) {
		size_t c = n < dstlen - 1 ? n : dstlen - 1;

		memcpy(dst, src, c);
		dst[c] = '\0';
	}
	return n;
}

/* ---- time ---- */

int64_t hg_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t hg_mono_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

void hg_mono_deadline(struct timespec *ts, int64_t ms)
{
	clock_gettime(CLOCK_MONOTONIC, ts);
	ts->tv_sec += (time_t)(ms / 1000);
	ts->tv_nsec += (long)(ms % 1000) * 1000000L;
	if (ts->tv_nsec >= 1000000000L) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000L;
	}
}

void hg_time_iso8601(int64_t ms, char *out, size_t outlen)
{
	/* Floor division so times before the epoch still get 0..999 ms. */
	int64_t sec = ms / 1000, rem = ms % 1000;
	time_t t;
	struct tm tm;

	if (outlen == 0)
		return;
	if (rem < 0) {
		rem += 1000;
		sec -= 1;
	}
	t = (time_t)sec;
	if (gmtime_r(&t, &tm) == NULL) {
		out[0] = '\0';
		return;
	}
	snprintf(out, outlen, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
		 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)rem);
}

/* ---- durations and sizes ---- */

/* Reads the leading decimal digits of s into *v. No sign, no spaces: a
 * config value like "-1s" or " 5m" is a mistake worth reporting. Returns the
 * position after the digits, or NULL when there are none or they overflow
 * max (then *overflow is set). */
static const char *parse_digits(const char *s, uint64_t max, uint64_t *v, int *overflow)
{
	uint64_t x = 0;
	const char *p = s;

	*overflow = 0;
	while (*p >= '0' && *p <= '9') {
		unsigned d = (unsigned)(*p - '0');

		if (x > (max - d) / 10) {
			*overflow = 1;
			return NULL;
		}
		x = x * 10 + d;
		p++;
	}
	if (p == s)
		return NULL;
	*v = x;
	return p;
}

int hg_duration_parse_ms(const char *s, int64_t *out_ms)
{
	/* "m" is minutes, so "ms" must be tried before it. Units are lower
	 * case only: "5M" could as well mean months, so it is refused. */
	static const struct {
		const char *unit;
		uint64_t ms;
	} units[] = {
	    {"", 1000}, {"ms", 1}, {"s", 1000}, {"m", 60000}, {"h", 3600000}, {"d", 86400000},
	};
	const char *p;
	uint64_t v;
	int overflow;
	size_t i;

	if (s == NULL)
		return HG_EINVAL;
	p = parse_digits(s, INT64_MAX, &v, &overflow);
	if (p == NULL)
		return overflow ? HG_ETOOBIG : HG_EINVAL;
	for (i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (strcmp(p, units[i].unit) != 0)
			continue;
		if (v > (uint64_t)INT64_MAX / units[i].ms)
			return HG_ETOOBIG;
		*out_ms = (int64_t)(v * units[i].ms);
		return HG_OK;
	}
	return HG_EINVAL;
}

int hg_size_parse(const char *s, size_t *out)
{
	static const struct {
		const char *unit;
		uint64_t mult;
	} units[] = {
	    {"", 1},
	    {"b", 1},
	    {"k", 1ull << 10},
	    {"kb", 1ull << 10},
	    {"kib", 1ull << 10},
	    {"m", 1ull << 20},
	    {"mb", 1ull << 20},
	    {"mib", 1ull << 20},
	    {"g", 1ull << 30},
	    {"gb", 1ull << 30},
	    {"gib", 1ull << 30},
	};
	const char *p;
	uint64_t v;
	int overflow;
	size_t i;

	if (s == NULL)
		return HG_EINVAL;
	p = parse_digits(s, SIZE_MAX, &v, &overflow);
	if (p == NULL)
		return overflow ? HG_ETOOBIG : HG_EINVAL;
	for (i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (strcasecmp(p, units[i].unit) != 0)
			continue;
		if (v > SIZE_MAX / units[i].mult)
			return HG_ETOOBIG;
		*out = (size_t)(v * units[i].mult);
		return HG_OK;
	}
	return HG_EINVAL;
}

/* ---- ids ---- */

int hg_random_bytes(void *buf, size_t n)
{
	unsigned char *p = buf;

	/* RAND_bytes takes an int; feed it in chunks. */
	while (n > 0) {
		size_t c = n > (1u << 30) ? (1u << 30) : n;

		if (RAND_bytes(p, (int)c) != 1)
			return HG_EIO;
		p += c;
		n -= c;
	}
	return HG_OK;
}

/* The last id handed out. Its 74 non-time bits are kept as rand_a (12) and
 * rand_b (62) so "increment the previous value" is plain arithmetic. */
static pthread_mutex_t uuid_lock = PTHREAD_MUTEX_INITIALIZER;
static int uuid_have;
static uint64_t uuid_ms;
static uint16_t uuid_a;
static uint64_t uuid_b;

#define UUID_B_MASK ((1ull << 62) - 1)

void hg_uuid7(char out[HG_UUID_LEN + 1])
{
	static const char hexd[] = "0123456789abcdef";
	uint8_t r[10], u[16];
	int64_t now = hg_now_ms();
	uint64_t ms, b;
	uint16_t a;
	int fresh = 0;
	size_t i, o;

	if (now < 0)
		now = 0;
	pthread_mutex_lock(&uuid_lock);
	if (!uuid_have || (uint64_t)now > uuid_ms) {
		/* Random bits only when the clock moved (under load most ids
		 * share their millisecond with the one before), read outside
		 * the lock; another thread may move it meanwhile, so look
		 * again after. */
		pthread_mutex_unlock(&uuid_lock);
		fresh = hg_random_bytes(r, sizeof(r)) == HG_OK;
		pthread_mutex_lock(&uuid_lock);
	}
	if (!uuid_have || (uint64_t)now > uuid_ms) {
		uuid_ms = (uint64_t)now & 0xffffffffffffull;
		if (fresh) {
			uuid_a = (uint16_t)(((r[0] << 8) | r[1]) & 0xfff);
			uuid_b = 0;
			for (i = 2; i < 10; i++)
				uuid_b = (uuid_b << 8) | r[i];
			uuid_b &= UUID_B_MASK;
		} else if (!uuid_have) {
			/* No entropy: ids stay unique and ordered, just guessable. */
			uuid_a = 0;
			uuid_b = 0;
		} else {
			uuid_b = (uuid_b + 1) & UUID_B_MASK;
		}
	} else {
		/* Same millisecond, or the clock went back: stay on the last
		 * timestamp and count up, carrying into rand_a and then into
		 * the timestamp itself, so ids never go backwards. */
		uuid_b = (uuid_b + 1) & UUID_B_MASK;
		if (uuid_b == 0) {
			uuid_a = (uint16_t)((uuid_a + 1) & 0xfff);
			if (uuid_a == 0)
				uuid_ms++;
		}
	}
	uuid_have = 1;
	ms = uuid_ms;
	a = uuid_a;
	b = uuid_b;
	pthread_mutex_unlock(&uuid_lock);

	for (i = 0; i < 6; i++)
		u[i] = (uint8_t)(ms >> (40 - 8 * i));
	u[6] = (uint8_t)(0x70 | (a >> 8));
	u[7] = (uint8_t)(a & 0xff);
	u[8] = (uint8_t)(0x80 | ((b >> 56) & 0x3f));
	for (i = 9; i < 16; i++)
		u[i] = (uint8_t)(b >> (8 * (15 - i)));

	for (i = 0, o = 0; i < 16; i++) {
		if (i == 4 || i == 6 || i == 8 || i == 10)
			out[o++] = '-';
		out[o++] = hexd[u[i] >> 4];
		out[o++] = hexd[u[i] & 0xf];
	}
	out[o] = '\0';
}

/* ---- encodings ---- */

void hg_hex_encode(const uint8_t *in, size_t n, char *out)
{
	static const char hexd[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < n; i++) {
		out[2 * i] = hexd[in[i] >> 4];
		out[2 * i + 1] = hexd[in[i] & 0xf];
	}
	out[2 * n] = '\0';
}

int hg_hex_digit(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int hg_hex_decode(const char *in, size_t inlen, uint8_t *out, size_t outcap)
{
	size_t i, n = inlen / 2;

	if (inlen % 2 != 0 || n > outcap || n > INT_MAX)
		return HG_EINVAL;
	for (i = 0; i < n; i++) {
		int hi = hg_hex_digit(in[2 * i]), lo = hg_hex_digit(in[2 * i + 1]);

		if (hi < 0 || lo < 0)
			return HG_EINVAL;
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	return (int)n;
}

size_t hg_form_unescape(const char *in, size_t n, char *out)
{
	size_t i, o = 0;

	for (i = 0; i < n; i++) {
		int hi, lo;

		if (in[i] == '+') {
			out[o++] = ' ';
		} else if (in[i] == '%' && i + 2 < n && (hi = hg_hex_digit(in[i + 1])) >= 0 &&
			   (lo = hg_hex_digit(in[i + 2])) >= 0) {
			out[o++] = (char)(hi << 4 | lo);
			i += 2;
		} else {
			out[o++] = in[i];
		}
	}
	return o;
}

int hg_query_next(const char **q, const char *end, const char **name, size_t *nlen,
		  const char **val, size_t *vlen)
{
	while (*q != NULL && *q < end) {
		const char *p = *q;
		const char *amp = memchr(p, '&', (size_t)(end - p));
		const char *pend = amp != NULL ? amp : end;
		const char *eq = memchr(p, '=', (size_t)(pend - p));

		*q = amp != NULL ? amp + 1 : end;
		if (pend == p)
			continue;
		*name = p;
		*nlen = (size_t)((eq != NULL ? eq : pend) - p);
		*val = eq != NULL ? eq + 1 : pend;
		*vlen = (size_t)(pend - *val);
		return 1;
	}
	return 0;
}

long hg_query_get(const char *q, size_t qlen, const char *name, char *out, size_t outcap)
{
	const char *end = q != NULL ? q + qlen : NULL, *k, *v;
	size_t klen, vlen, o, want = strlen(name);

	while (hg_query_next(&q, end, &k, &klen, &v, &vlen)) {
		if (klen != want || memcmp(k, name, want) != 0)
			continue;
		/* Decoding never lengthens, so vlen bounds the output. */
		if (vlen >= outcap)
			return -1;
		o = hg_form_unescape(v, vlen, out);
		out[o] = '\0';
		return (long)o;
	}
	return -1;
}

#define HG_QUERY_EACH_STACK 512 /* most form values fit; longer ones take the heap */

int hg_query_each(const char *q, size_t qlen, const char *name,
		  int (*fn)(const char *val, size_t vlen, void *arg), void *arg)
{
	const char *end = q != NULL ? q + qlen : NULL, *k, *v;
	char stack[HG_QUERY_EACH_STACK], *heap = NULL, *buf;
	size_t klen, vlen, o, want = strlen(name);
	int rc = 0;

	while (rc == 0 && hg_query_next(&q, end, &k, &klen, &v, &vlen)) {
		/* Decoding never lengthens: a name written shorter than the
		 * wanted one cannot be it, and the larger raw span bounds the
		 * buffer both decodings need. */
		if (klen < want)
			continue;
		if ((klen > vlen ? klen : vlen) < sizeof(stack)) {
			buf = stack;
		} else {
			if (heap == NULL)
				heap = malloc(qlen + 1);
			if (heap == NULL)
				return HG_ENOMEM;
			buf = heap;
		}
		/* Names are compared decoded, as the providers that sign a form
		 * (Twilio) see them: "Message%53id" is MessageSid. */
		if (klen != want || memcmp(k, name, want) != 0) {
			o = hg_form_unescape(k, klen, buf);
			if (o != want || memcmp(buf, name, want) != 0)
				continue;
		}
		o = hg_form_unescape(v, vlen, buf);
		buf[o] = '\0';
		rc = fn(buf, o, arg);
	}
	free(heap);
	return rc;
}

int hg_form_content_type(const char *ct, size_t len)
{
	static const char form[] = "application/x-www-form-urlencoded";
	size_t n = sizeof(form) - 1;

	if (ct == NULL)
		return 0;
	while (len > 0 && (*ct == ' ' || *ct == '\t')) {
		ct++;
		len--;
	}
	if (len < n || strncasecmp(ct, form, n) != 0)
		return 0;
	return len == n || ct[n] == ';' || ct[n] == ' ' || ct[n] == '\t';
}

size_t hg_b64_encode(const uint8_t *in, size_t n, char *out)
{
	static const char tab[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t i, o = 0;

	for (i = 0; i + 2 < n; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];

		out[o++] = tab[v >> 18];
		out[o++] = tab[(v >> 12) & 63];
		out[o++] = tab[(v >> 6) & 63];
		out[o++] = tab[v & 63];
	}
	if (i < n) {
		uint32_t v = (uint32_t)in[i] << 16;

		if (i + 1 < n)
			v |= (uint32_t)in[i + 1] << 8;
		out[o++] = tab[v >> 18];
		out[o++] = tab[(v >> 12) & 63];
		out[o++] = i + 1 < n ? tab[(v >> 6) & 63] : '=';
		out[o++] = '=';
	}
	out[o] = '\0';
	return o;
}

/* Both alphabets at once: providers disagree on which one they send. */
static int b64_value(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+' || c == '-')
		return 62;
	if (c == '/' || c == '_')
		return 63;
	return -1;
}

int hg_b64_decode(const char *in, size_t inlen, uint8_t *out, size_t outcap)
{
	size_t len = inlen, pad = 0, n, i, o = 0;
	uint32_t acc = 0;
	int bits = 0;

	while (len > 0 && pad < 2 && in[len - 1] == '=') {
		len--;
		pad++;
	}
	/* Padding, when present, must complete the last quantum; a lone
	 * leftover character can never encode a byte. */
	if ((pad > 0 && inlen % 4 != 0) || len % 4 == 1)
		return HG_EINVAL;
	n = len / 4 * 3 + (len % 4 == 0 ? 0 : len % 4 - 1);
	if (n > outcap || n > INT_MAX)
		return HG_EINVAL;
	for (i = 0; i < len; i++) {
		int v = b64_value((unsigned char)in[i]);

		if (v < 0)
			return HG_EINVAL;
		acc = acc << 6 | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[o++] = (uint8_t)(acc >> bits);
		}
	}
	return (int)o;
}

/* ---- crypto ---- */

static EVP_MAC *hmac_impl;
static pthread_once_t hmac_once = PTHREAD_ONCE_INIT;

/* Fetching the implementation is a provider lookup; do it once. The fetched
 * EVP_MAC is immutable and shared by all threads. */
static void hmac_fetch(void)
{
	hmac_impl = EVP_MAC_fetch(NULL, "HMAC", NULL);
}

static const char *hash_name(enum hg_hash h)
{
	switch (h) {
	case HG_SHA1:
		return "SHA1";
	case HG_SHA256:
		return "SHA256";
	case HG_SHA512:
		return "SHA512";
	}
	return NULL;
}

size_t hg_hash_len(enum hg_hash h)
{
	switch (h) {
	case HG_SHA1:
		return 20;
	case HG_SHA256:
		return 32;
	case HG_SHA512:
		return 64;
	}
	return 0;
}

size_t hg_hmac(enum hg_hash h, const uint8_t *key, size_t keylen, const uint8_t *const *parts,
	       const size_t *lens, size_t nparts, uint8_t out[HG_MAX_MAC])
{
	const char *name = hash_name(h);
	EVP_MAC_CTX *ctx = NULL;
	OSSL_PARAM params[2];
	size_t outl = 0, i;

	if (name == NULL)
		return 0;
	pthread_once(&hmac_once, hmac_fetch);
	if (hmac_impl == NULL)
		return 0;
	ctx = EVP_MAC_CTX_new(hmac_impl);
	if (ctx == NULL)
		return 0;
	params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)name, 0);
	params[1] = OSSL_PARAM_construct_end();
	/* A NULL key means "reuse the previous key" to OpenSSL, and there is
	 * none; an empty key must still be a key. */
	if (EVP_MAC_init(ctx, key != NULL ? key : (const uint8_t *)"", keylen, params) != 1)
		goto out;
	for (i = 0; i < nparts; i++) {
		if (lens[i] == 0)
			continue;
		if (EVP_MAC_update(ctx, parts[i], lens[i]) != 1)
			goto out;
	}
	if (EVP_MAC_final(ctx, out, &outl, HG_MAX_MAC) != 1)
		outl = 0;
out:
	EVP_MAC_CTX_free(ctx);
	return outl;
}

void hg_sha256(const uint8_t *in, size_t n, uint8_t out[32])
{
	if (EVP_Digest(in, n, out, NULL, EVP_sha256(), NULL) != 1)
		memset(out, 0, 32);
}

/* An empty comparison never matches: comparing zero bytes is always a
 * caller's mistake (a missing signature), and must not verify. */
int hg_ct_equal(const void *a, const void *b, size_t n)
{
	if (n == 0)
		return 0;
	return CRYPTO_memcmp(a, b, n) == 0;
}
