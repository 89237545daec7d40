/*
 * test_util.c — unit tests for src/util/util.c and src/util/log.c: buffers
 * and JSON escaping, time, durations and sizes, UUIDv7, hex/base64, HMAC and
 * hashing against published vectors, and the JSON-lines logger (captured by
 * pointing fd 2 at a temporary file).
 */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "util/util.h"

/* ---- helpers ---- */

static void assert_hex(const uint8_t *got, size_t n, const char *want)
{
	char hex[2 * HG_MAX_MAC + 1];

	assert_true(n <= HG_MAX_MAC);
	hg_hex_encode(got, n, hex);
	assert_string_equal(hex, want);
}

static void assert_json_str(const char *in, size_t n, const char *want)
{
	struct hg_buf b = {0};

	assert_int_equal(hg_buf_json_str(&b, in, n), HG_OK);
	assert_string_equal((char *)b.data, want);
	assert_int_equal(b.len, strlen(want));
	hg_buf_free(&b);
}

/* Points fd 2 at a fresh temporary file until capture_end() returns what
 * was written there (malloc'd). */
struct capture {
	FILE *f;
	int saved;
};

static void capture_begin(struct capture *c)
{
	fflush(stderr);
	c->f = tmpfile();
	assert_non_null(c->f);
	c->saved = dup(STDERR_FILENO);
	assert_true(c->saved >= 0);
	assert_true(dup2(fileno(c->f), STDERR_FILENO) >= 0);
}

static char *capture_end(struct capture *c)
{
	long n;
	char *s;

	assert_true(dup2(c->saved, STDERR_FILENO) >= 0);
	close(c->saved);
	assert_true(fseek(c->f, 0, SEEK_END) == 0);
	n = ftell(c->f);
	assert_true(n >= 0);
	rewind(c->f);
	s = malloc((size_t)n + 1);
	assert_non_null(s);
	assert_int_equal(fread(s, 1, (size_t)n, c->f), (size_t)n);
	s[n] = '\0';
	fclose(c->f);
	return s;
}

/* ---- status codes ---- */

static void strerror_names_every_code(void **state)
{
	int codes[] = {HG_OK,        HG_ENOMEM,  HG_EINVAL, HG_EIO,
		       HG_ENOTFOUND, HG_ETOOBIG, HG_EAUTH,  HG_EREPLAY};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(codes) / sizeof(codes[0]); i++) {
		assert_non_null(hg_strerror(codes[i]));
		assert_string_not_equal(hg_strerror(codes[i]), "unknown error");
	}
	assert_string_equal(hg_strerror(-999), "unknown error");
}

/* ---- buffers and strings ---- */

static void buf_append_grows_and_terminates(void **state)
{
	struct hg_buf b = {0};
	size_t i;

	(void)state;
	for (i = 0; i < 1000; i++)
		assert_int_equal(hg_buf_append(&b, "abc", 3), HG_OK);
	assert_int_equal(b.len, 3000);
	assert_true(b.cap > b.len);
	assert_int_equal(b.data[b.len], '\0');
	assert_memory_equal(b.data + 2997, "abc", 3);
	assert_int_equal(hg_buf_puts(&b, "!"), HG_OK);
	assert_string_equal((char *)b.data + 2997, "abc!");
	hg_buf_free(&b);
	assert_null(b.data);
	assert_int_equal(b.len, 0);
}

static void buf_printf_formats_long_output(void **state)
{
	struct hg_buf b = {0};
	char big[300];

	(void)state;
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	assert_int_equal(hg_buf_printf(&b, "%d-%s", 42, "a"), HG_OK);
	assert_string_equal((char *)b.data, "42-a");
	assert_int_equal(hg_buf_printf(&b, "[%s]", big), HG_OK);
	assert_int_equal(b.len, 4 + 2 + 299);
	assert_int_equal(b.data[5], 'x');
	assert_int_equal(b.data[b.len - 1], ']');
	assert_int_equal(b.data[b.len], '\0');
	hg_buf_free(&b);
}

/* The first failure frees the contents and every later append returns it:
 * one check at the end of a run of appends is enough. */
static void buf_failure_is_sticky(void **state)
{
	struct hg_buf b = {0};

	(void)state;
	assert_int_equal(hg_buf_puts(&b, "{\"a\":"), HG_OK);
	assert_int_equal(hg_buf_status(&b), HG_OK);
	assert_int_equal(hg_buf_reserve(&b, SIZE_MAX - 2), HG_ENOMEM);
	assert_null(b.data);
	assert_int_equal(b.len, 0);
	assert_int_equal(hg_buf_puts(&b, "1}"), HG_ENOMEM);
	assert_int_equal(hg_buf_printf(&b, "%d", 7), HG_ENOMEM);
	assert_int_equal(hg_buf_json_str(&b, "x", 1), HG_ENOMEM);
	assert_int_equal(hg_buf_append(&b, "x", 1), HG_ENOMEM);
	assert_null(b.data);
	assert_int_equal(hg_buf_status(&b), HG_ENOMEM);
	hg_buf_free(&b);
	assert_int_equal(hg_buf_status(&b), HG_OK);
	assert_int_equal(hg_buf_puts(&b, "ok"), HG_OK);
	assert_string_equal((char *)b.data, "ok");
	/* A JSON string too long to escape fails the same way. */
	assert_int_equal(hg_buf_json_str(&b, "", SIZE_MAX / 2), HG_ETOOBIG);
	assert_null(b.data);
	assert_int_equal(hg_buf_puts(&b, "more"), HG_ETOOBIG);
	hg_buf_free(&b);
}

static void json_str_escapes_quote_and_backslash(void **state)
{
	(void)state;
	assert_json_str("say \"hi\" \\o/", 12, "\"say \\\"hi\\\" \\\\o/\"");
	assert_json_str("", 0, "\"\"");
}

static void json_str_escapes_control_chars(void **state)
{
	(void)state;
	assert_json_str("a\nb\tc\rd\be\ff", 11, "\"a\\nb\\tc\\rd\\be\\ff\"");
	assert_json_str("\x01\x1f", 2, "\"\\u0001\\u001f\"");
}

static void json_str_escapes_embedded_nul(void **state)
{
	(void)state;
	assert_json_str("a\0b", 3, "\"a\\u0000b\"");
}

static void json_str_passes_utf8_through(void **state)
{
	const char *s = "h\xc3\xa9llo \xe2\x9c\x93 \xf0\x9f\x98\x80 /"; /* héllo ✓ 😀 / */
	char want[64];

	(void)state;
	snprintf(want, sizeof(want), "\"%s\"", s);
	assert_json_str(s, strlen(s), want);
}

static void json_str_replaces_invalid_utf8(void **state)
{
	(void)state;
	/* A stray continuation byte, a truncated sequence, an overlong "/"
	 * and a UTF-16 surrogate: each bad byte becomes U+FFFD. */
	assert_json_str("a\x80z", 3, "\"a\\ufffdz\"");
	assert_json_str("a\xe2\x9c", 3, "\"a\\ufffd\\ufffd\"");
	assert_json_str("\xc0\xaf", 2, "\"\\ufffd\\ufffd\"");
	assert_json_str("\xed\xa0\x80", 3, "\"\\ufffd\\ufffd\\ufffd\"");
}

static void strlcpy_truncates_and_terminates(void **state)
{
	char dst[4];

	(void)state;
	assert_int_equal(hg_strlcpy(dst, "abcdef", sizeof(dst)), 6);
	assert_string_equal(dst, "abc");
	assert_int_equal(hg_strlcpy(dst, "ab", sizeof(dst)), 2);
	assert_string_equal(dst, "ab");
	assert_int_equal(hg_strlcpy(dst, "xyz", 0), 3);
	assert_string_equal(dst, "ab");
}

/* ---- time ---- */

static void time_iso8601_formats_ms(void **state)
{
	char out[32];

	(void)state;
	hg_time_iso8601(0, out, sizeof(out));
	assert_string_equal(out, "1970-01-01T00:00:00.000Z");
	hg_time_iso8601(1705314600123LL, out, sizeof(out));
	assert_string_equal(out, "2024-01-15T10:30:00.123Z");
	hg_time_iso8601(-1, out, sizeof(out));
	assert_string_equal(out, "1969-12-31T23:59:59.999Z");
}

static void clocks_are_plausible(void **state)
{
	int64_t a, b;

	(void)state;
	assert_true(hg_now_ms() > 1577836800000LL); /* after 2020-01-01 */
	a = hg_mono_us();
	b = hg_mono_us();
	assert_true(b >= a);
}

/* ---- durations and sizes ---- */

static void duration_parses_units(void **state)
{
	int64_t ms = -1;

	(void)state;
	assert_int_equal(hg_duration_parse_ms("250ms", &ms), HG_OK);
	assert_int_equal(ms, 250);
	assert_int_equal(hg_duration_parse_ms("30s", &ms), HG_OK);
	assert_int_equal(ms, 30000);
	assert_int_equal(hg_duration_parse_ms("5m", &ms), HG_OK);
	assert_int_equal(ms, 300000);
	assert_int_equal(hg_duration_parse_ms("1h", &ms), HG_OK);
	assert_int_equal(ms, 3600000);
	assert_int_equal(hg_duration_parse_ms("30d", &ms), HG_OK);
	assert_int_equal(ms, 30LL * 86400000);
	assert_int_equal(hg_duration_parse_ms("0s", &ms), HG_OK);
	assert_int_equal(ms, 0);
}

static void duration_bare_number_is_seconds(void **state)
{
	int64_t ms = -1;

	(void)state;
	assert_int_equal(hg_duration_parse_ms("10", &ms), HG_OK);
	assert_int_equal(ms, 10000);
}

static void duration_rejects_malformed(void **state)
{
	const char *bad[] = {"",  "5x",   "-1s", "+1s",  " 5s",   "5 s", "5s ",
			     "s", "1.5s", "5S",  "5sec", "1h30m", "ms"};
	int64_t ms = 77;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(hg_duration_parse_ms(bad[i], &ms), HG_EINVAL);
	assert_int_equal(hg_duration_parse_ms(NULL, &ms), HG_EINVAL);
	assert_int_equal(ms, 77);
}

static void duration_rejects_overflow(void **state)
{
	int64_t ms = 77;

	(void)state;
	assert_int_equal(hg_duration_parse_ms("9223372036854775807ms", &ms), HG_OK);
	assert_int_equal(ms, INT64_MAX);
	assert_int_equal(hg_duration_parse_ms("9223372036854775808ms", &ms), HG_ETOOBIG);
	assert_int_equal(hg_duration_parse_ms("9223372036854775807", &ms), HG_ETOOBIG);
	assert_int_equal(hg_duration_parse_ms("106751991167301d", &ms), HG_ETOOBIG);
	assert_int_equal(hg_duration_parse_ms("99999999999999999999999s", &ms), HG_ETOOBIG);
}

static void size_parses_units(void **state)
{
	struct {
		const char *in;
		size_t want;
	} cases[] = {
	    {"1048576", 1048576}, {"0", 0},           {"100b", 100},       {"512k", 512 << 10},
	    {"512KB", 512 << 10}, {"4KiB", 4 << 10},  {"1m", 1 << 20},     {"1mb", 1 << 20},
	    {"1MiB", 1 << 20},    {"2g", 2ull << 30}, {"2GB", 2ull << 30}, {"3gib", 3ull << 30},
	};
	size_t i, v;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		v = 12345;
		assert_int_equal(hg_size_parse(cases[i].in, &v), HG_OK);
		assert_int_equal(v, cases[i].want);
	}
}

static void size_rejects_malformed(void **state)
{
	const char *bad[] = {"", "k", "1x", "-1", "1 k", " 1", "1.5m", "1kk", "1tb", "1mbi"};
	size_t v = 7, i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(hg_size_parse(bad[i], &v), HG_EINVAL);
	assert_int_equal(hg_size_parse(NULL, &v), HG_EINVAL);
	assert_int_equal(v, 7);
}

static void size_rejects_overflow(void **state)
{
	size_t v = 7;

	(void)state;
	assert_int_equal(hg_size_parse("18446744073709551616", &v), HG_ETOOBIG);
	assert_int_equal(hg_size_parse("17179869184g", &v), HG_ETOOBIG);
	assert_int_equal(v, 7);
}

/* ---- UUIDv7 ---- */

static int is_lower_hex(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

static void uuid7_has_v7_layout(void **state)
{
	char id[HG_UUID_LEN + 1];
	int i;

	(void)state;
	hg_uuid7(id);
	assert_int_equal(strlen(id), HG_UUID_LEN);
	for (i = 0; i < HG_UUID_LEN; i++) {
		if (i == 8 || i == 13 || i == 18 || i == 23)
			assert_int_equal(id[i], '-');
		else
			assert_true(is_lower_hex(id[i]));
	}
	assert_int_equal(id[14], '7');           /* version nibble */
	assert_non_null(strchr("89ab", id[19])); /* variant bits 10 */
}

static void uuid7_embeds_current_ms(void **state)
{
	char id[HG_UUID_LEN + 1], hex[13];
	int64_t before, after, ts;

	(void)state;
	before = hg_now_ms();
	hg_uuid7(id);
	after = hg_now_ms();
	memcpy(hex, id, 8);
	memcpy(hex + 8, id + 9, 4);
	hex[12] = '\0';
	ts = strtoll(hex, NULL, 16);
	assert_true(ts >= before);
	assert_true(ts <= after);
}

static void uuid7_ids_increase_as_strings(void **state)
{
	char prev[HG_UUID_LEN + 1], cur[HG_UUID_LEN + 1];
	int i;

	(void)state;
	hg_uuid7(prev);
	for (i = 0; i < 1000; i++) {
		hg_uuid7(cur);
		assert_true(strcmp(prev, cur) < 0);
		memcpy(prev, cur, sizeof(cur));
	}
}

#define UUID_THREADS    4
#define UUID_PER_THREAD 1000

static void *uuid_worker(void *arg)
{
	char(*ids)[HG_UUID_LEN + 1] = arg;
	int i;

	for (i = 0; i < UUID_PER_THREAD; i++)
		hg_uuid7(ids[i]);
	return NULL;
}

static int cmp_id(const void *a, const void *b)
{
	return strcmp(a, b);
}

static void uuid7_unique_across_threads(void **state)
{
	static char ids[UUID_THREADS * UUID_PER_THREAD][HG_UUID_LEN + 1];
	pthread_t t[UUID_THREADS];
	int i;

	(void)state;
	for (i = 0; i < UUID_THREADS; i++)
		assert_int_equal(pthread_create(&t[i], NULL, uuid_worker, ids[i * UUID_PER_THREAD]),
				 0);
	for (i = 0; i < UUID_THREADS; i++)
		assert_int_equal(pthread_join(t[i], NULL), 0);
	/* Each thread saw its own ids increase... */
	for (i = 0; i < UUID_THREADS * UUID_PER_THREAD; i++)
		if (i % UUID_PER_THREAD != 0)
			assert_true(strcmp(ids[i - 1], ids[i]) < 0);
	/* ...and no id was handed out twice. */
	qsort(ids, UUID_THREADS * UUID_PER_THREAD, sizeof(ids[0]), cmp_id);
	for (i = 1; i < UUID_THREADS * UUID_PER_THREAD; i++)
		assert_true(strcmp(ids[i - 1], ids[i]) < 0);
}

static void random_bytes_fill_buffer(void **state)
{
	uint8_t a[32] = {0}, b[32] = {0};

	(void)state;
	assert_int_equal(hg_random_bytes(a, sizeof(a)), HG_OK);
	assert_int_equal(hg_random_bytes(b, sizeof(b)), HG_OK);
	assert_memory_not_equal(a, b, sizeof(a));
	assert_int_equal(hg_random_bytes(a, 0), HG_OK);
}

/* ---- hex ---- */

static void hex_encodes_lower_case(void **state)
{
	const uint8_t in[] = {0x00, 0x9f, 0xab, 0xff};
	char out[9];

	(void)state;
	hg_hex_encode(in, sizeof(in), out);
	assert_string_equal(out, "009fabff");
	hg_hex_encode(in, 0, out);
	assert_string_equal(out, "");
}

static void hex_decodes_mixed_case(void **state)
{
	const uint8_t want[] = {0xde, 0xad, 0xbe, 0xef, 0x01};
	uint8_t out[8];

	(void)state;
	assert_int_equal(hg_hex_decode("DeAdbEEF01", 10, out, sizeof(out)), 5);
	assert_memory_equal(out, want, sizeof(want));
	assert_int_equal(hg_hex_decode("", 0, out, sizeof(out)), 0);
}

static void hex_rejects_odd_length(void **state)
{
	uint8_t out[8];

	(void)state;
	assert_int_equal(hg_hex_decode("abc", 3, out, sizeof(out)), HG_EINVAL);
}

static void hex_rejects_invalid_chars(void **state)
{
	uint8_t out[8];

	(void)state;
	assert_int_equal(hg_hex_decode("zz", 2, out, sizeof(out)), HG_EINVAL);
	assert_int_equal(hg_hex_decode("0g", 2, out, sizeof(out)), HG_EINVAL);
	assert_int_equal(hg_hex_decode("0x12", 4, out, sizeof(out)), HG_EINVAL);
	assert_int_equal(hg_hex_decode(" 1", 2, out, sizeof(out)), HG_EINVAL);
}

static void hex_rejects_output_too_small(void **state)
{
	uint8_t out[2];

	(void)state;
	assert_int_equal(hg_hex_decode("010203", 6, out, sizeof(out)), HG_EINVAL);
}

/* ---- base64 ---- */

static void b64_encodes_rfc4648_vectors(void **state)
{
	const char *in[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
	const char *want[] = {"", "Zg==", "Zm8=", "Zm9v", "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy"};
	char out[16];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(in) / sizeof(in[0]); i++) {
		assert_int_equal(hg_b64_encode((const uint8_t *)in[i], strlen(in[i]), out),
				 strlen(want[i]));
		assert_string_equal(out, want[i]);
	}
}

static void b64_decodes_standard_padded(void **state)
{
	uint8_t out[16];

	(void)state;
	assert_int_equal(hg_b64_decode("Zm9vYg==", 8, out, sizeof(out)), 4);
	assert_memory_equal(out, "foob", 4);
	assert_int_equal(hg_b64_decode("Zm9vYmE=", 8, out, sizeof(out)), 5);
	assert_memory_equal(out, "fooba", 5);
	assert_int_equal(hg_b64_decode("+/+/", 4, out, sizeof(out)), 3);
	assert_memory_equal(out, "\xfb\xff\xbf", 3);
	assert_int_equal(hg_b64_decode("", 0, out, sizeof(out)), 0);
}

static void b64_decodes_urlsafe(void **state)
{
	uint8_t out[16];

	(void)state;
	assert_int_equal(hg_b64_decode("-_-_", 4, out, sizeof(out)), 3);
	assert_memory_equal(out, "\xfb\xff\xbf", 3);
}

static void b64_decodes_without_padding(void **state)
{
	uint8_t out[16];

	(void)state;
	assert_int_equal(hg_b64_decode("Zg", 2, out, sizeof(out)), 1);
	assert_memory_equal(out, "f", 1);
	assert_int_equal(hg_b64_decode("Zm8", 3, out, sizeof(out)), 2);
	assert_memory_equal(out, "fo", 2);
	assert_int_equal(hg_b64_decode("Zm9vYmFy", 8, out, sizeof(out)), 6);
	assert_memory_equal(out, "foobar", 6);
}

static void b64_rejects_invalid(void **state)
{
	const char *bad[] = {"Z",     /* a lone sixth of a byte */
			     "Zm9vY", /* same, after a full quantum */
			     "Zg=",   /* padding that does not complete the quantum */
			     "Zg===", /* too much padding */
			     "=",     "Zm9v====", "Zg==Zg==", /* padding in the middle */
			     "Zm9v!", "Zm 9v",    "Zm9v\n"};
	uint8_t out[16];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(hg_b64_decode(bad[i], strlen(bad[i]), out, sizeof(out)),
				 HG_EINVAL);
	/* Valid text whose bytes do not fit the output. */
	assert_int_equal(hg_b64_decode("Zm9vYmFy", 8, out, 5), HG_EINVAL);
}

static void b64_roundtrips_every_byte(void **state)
{
	uint8_t in[256], out[256];
	char text[4 * 86 + 1];
	size_t n, len;

	(void)state;
	for (n = 0; n < sizeof(in); n++)
		in[n] = (uint8_t)n;
	for (n = 0; n <= sizeof(in); n += 37) {
		len = hg_b64_encode(in, n, text);
		assert_int_equal(len, 4 * ((n + 2) / 3));
		assert_int_equal(hg_b64_decode(text, len, out, sizeof(out)), (int)n);
		assert_memory_equal(in, out, n);
	}
}

/* ---- crypto ---- */

static void hash_len_matches_algorithm(void **state)
{
	(void)state;
	assert_int_equal(hg_hash_len(HG_SHA1), 20);
	assert_int_equal(hg_hash_len(HG_SHA256), 32);
	assert_int_equal(hg_hash_len(HG_SHA512), 64);
}

/* RFC 4231 test case 2 (and RFC 2202 test case 2 for SHA-1). */
static const uint8_t jefe[] = "Jefe";
static const uint8_t wdywfn[] = "what do ya want for nothing?";

static size_t hmac_one(enum hg_hash h, const uint8_t *key, size_t klen, const uint8_t *msg,
		       size_t mlen, uint8_t out[HG_MAX_MAC])
{
	const uint8_t *parts[] = {msg};
	size_t lens[] = {mlen};

	return hg_hmac(h, key, klen, parts, lens, 1, out);
}

static void hmac_sha256_rfc4231_case2(void **state)
{
	uint8_t mac[HG_MAX_MAC];

	(void)state;
	assert_int_equal(hmac_one(HG_SHA256, jefe, 4, wdywfn, 28, mac), 32);
	assert_hex(mac, 32, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

static void hmac_sha512_rfc4231_case2(void **state)
{
	uint8_t mac[HG_MAX_MAC];

	(void)state;
	assert_int_equal(hmac_one(HG_SHA512, jefe, 4, wdywfn, 28, mac), 64);
	assert_hex(mac, 64,
		   "164b7a7bfcf819e2e395fbe73b56e0a387bd64222e831fd610270cd7ea250554"
		   "9758bf75c05a994a6d034f65f8f0e6fdcaeab1a34d4a6b4b636e070a38bce737");
}

static void hmac_sha1_rfc2202_case2(void **state)
{
	uint8_t mac[HG_MAX_MAC];

	(void)state;
	assert_int_equal(hmac_one(HG_SHA1, jefe, 4, wdywfn, 28, mac), 20);
	assert_hex(mac, 20, "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79");
}

static void hmac_of_parts_equals_hmac_of_whole(void **state)
{
	const uint8_t *parts[] = {wdywfn, wdywfn + 4, NULL, wdywfn + 10};
	size_t lens[] = {4, 6, 0, 18};
	uint8_t mac[HG_MAX_MAC];

	(void)state;
	assert_int_equal(hg_hmac(HG_SHA256, jefe, 4, parts, lens, 4, mac), 32);
	assert_hex(mac, 32, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

static void hmac_accepts_empty_key_and_message(void **state)
{
	uint8_t mac[HG_MAX_MAC];

	(void)state;
	assert_int_equal(hg_hmac(HG_SHA256, NULL, 0, NULL, NULL, 0, mac), 32);
	assert_hex(mac, 32, "b613679a0814d9ec772f95d778c35fc5ff1697c493715653c6c712144292c5ad");
}

static void hmac_rejects_unknown_hash(void **state)
{
	uint8_t mac[HG_MAX_MAC];

	(void)state;
	assert_int_equal(hmac_one((enum hg_hash)99, jefe, 4, wdywfn, 28, mac), 0);
}

static void sha256_of_abc(void **state)
{
	uint8_t d[32];

	(void)state;
	hg_sha256((const uint8_t *)"abc", 3, d);
	assert_hex(d, 32, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

static void ct_equal_compares_bytes(void **state)
{
	(void)state;
	assert_true(hg_ct_equal("abcdef", "abcdef", 6));
	assert_false(hg_ct_equal("abcdef", "abcdeg", 6));
	assert_false(hg_ct_equal("xbcdef", "abcdef", 6));
	assert_true(hg_ct_equal("abcX", "abcY", 3));
	/* Nothing compared is never a match (a missing signature). */
	assert_false(hg_ct_equal("", "", 0));
}

/* ---- logger ---- */

static json_t *parse_line(const char *line)
{
	json_error_t e;
	json_t *j = json_loads(line, JSON_DISABLE_EOF_CHECK, &e);

	if (j == NULL)
		fail_msg("log line is not JSON (%s): %s", e.text, line);
	return j;
}

static void log_writes_one_json_line_with_fields(void **state)
{
	struct capture c;
	char *out;
	json_t *j;
	const char *ts;

	(void)state;
	hg_log_set_level(HG_LOG_INFO);
	capture_begin(&c);
	errno = EAGAIN;
	hg_log(HG_LOG_WARN, "request", "source", HG_LS("whatsapp"), "status", HG_LI(200), "latency",
	       HG_LF(1.25), "peer", HG_LS(NULL), NULL);
	assert_int_equal(errno, EAGAIN);
	out = capture_end(&c);

	assert_non_null(strchr(out, '\n'));
	assert_string_equal(strchr(out, '\n') + 1, ""); /* exactly one line */
	j = parse_line(out);
	ts = json_string_value(json_object_get(j, "ts"));
	assert_non_null(ts);
	assert_int_equal(strlen(ts), 24);
	assert_int_equal(ts[10], 'T');
	assert_int_equal(ts[23], 'Z');
	assert_string_equal(json_string_value(json_object_get(j, "level")), "warn");
	assert_string_equal(json_string_value(json_object_get(j, "msg")), "request");
	assert_string_equal(json_string_value(json_object_get(j, "source")), "whatsapp");
	assert_int_equal(json_integer_value(json_object_get(j, "status")), 200);
	assert_true(json_real_value(json_object_get(j, "latency")) == 1.25);
	assert_null(json_object_get(j, "peer")); /* a NULL string field is left out */
	/* ts, level and msg lead the line. */
	assert_true(strncmp(out, "{\"ts\":\"", 7) == 0);
	assert_non_null(strstr(out, "\",\"level\":\"warn\",\"msg\":\"request\","));
	json_decref(j);
	free(out);
}

static void log_filters_by_level(void **state)
{
	struct capture c;
	char *out;

	(void)state;
	hg_log_set_level(HG_LOG_WARN);
	capture_begin(&c);
	hg_log(HG_LOG_DEBUG, "hidden", NULL);
	hg_log(HG_LOG_INFO, "hidden", NULL);
	hg_log(HG_LOG_WARN, "shown", NULL);
	hg_log(HG_LOG_ERROR, "shown", NULL);
	out = capture_end(&c);
	hg_log_set_level(HG_LOG_INFO);

	assert_null(strstr(out, "hidden"));
	assert_non_null(strstr(out, "\"level\":\"warn\",\"msg\":\"shown\"}\n"));
	assert_non_null(strstr(out, "\"level\":\"error\",\"msg\":\"shown\"}\n"));
	free(out);
}

static void log_escapes_strings(void **state)
{
	struct capture c;
	char *out;
	json_t *j;

	(void)state;
	capture_begin(&c);
	hg_log(HG_LOG_ERROR, "bad \"x\"\n", "path", HG_LS("C:\\tmp\x01"), "k\"ey", HG_LS("\xff"),
	       NULL);
	out = capture_end(&c);
	j = parse_line(out);
	assert_string_equal(json_string_value(json_object_get(j, "msg")), "bad \"x\"\n");
	assert_string_equal(json_string_value(json_object_get(j, "path")), "C:\\tmp\x01");
	assert_string_equal(json_string_value(json_object_get(j, "k\"ey")), "\xef\xbf\xbd");
	json_decref(j);
	free(out);
}

static void log_truncates_long_lines_as_valid_json(void **state)
{
	struct capture c;
	char *big, *out;
	json_t *j;
	size_t n = 10000;

	(void)state;
	big = malloc(n + 1);
	assert_non_null(big);
	memset(big, 'q', n);
	big[n] = '\0';

	capture_begin(&c);
	hg_log(HG_LOG_INFO, "long", "a", HG_LI(1), "big", HG_LS(big), "after", HG_LI(2), NULL);
	hg_log(HG_LOG_INFO, big, "after", HG_LI(2), NULL);
	out = capture_end(&c);

	/* Two lines, each at most 4096 bytes, each valid JSON. */
	{
		char *nl = strchr(out, '\n');

		assert_non_null(nl);
		assert_true((size_t)(nl - out + 1) <= 4096);
		assert_true(strlen(nl + 1) <= 4096);
		*nl = '\0';
		j = parse_line(out);
		assert_int_equal(json_integer_value(json_object_get(j, "a")), 1);
		assert_true(json_string_length(json_object_get(j, "big")) > 3000);
		assert_null(json_object_get(j, "after"));
		assert_true(json_is_true(json_object_get(j, "truncated")));
		json_decref(j);

		j = parse_line(nl + 1);
		assert_true(json_string_length(json_object_get(j, "msg")) > 3000);
		assert_true(json_is_true(json_object_get(j, "truncated")));
		json_decref(j);
	}
	free(out);
	free(big);
}

#define LOG_THREADS 4
#define LOG_LINES   200

static void *log_worker(void *arg)
{
	char pad[1500];
	int i;

	memset(pad, 'a' + (int)(intptr_t)arg, sizeof(pad) - 1);
	pad[sizeof(pad) - 1] = '\0';
	for (i = 0; i < LOG_LINES; i++)
		hg_log(HG_LOG_INFO, "tick", "thread", HG_LI((intptr_t)arg), "i", HG_LI(i), "pad",
		       HG_LS(pad), NULL);
	return NULL;
}

static void log_lines_from_threads_do_not_interleave(void **state)
{
	pthread_t t[LOG_THREADS];
	struct capture c;
	char *out, *line, *save = NULL;
	int counts[LOG_THREADS] = {0};
	int i, lines = 0;

	(void)state;
	capture_begin(&c);
	for (i = 0; i < LOG_THREADS; i++)
		assert_int_equal(pthread_create(&t[i], NULL, log_worker, (void *)(intptr_t)i), 0);
	for (i = 0; i < LOG_THREADS; i++)
		assert_int_equal(pthread_join(t[i], NULL), 0);
	out = capture_end(&c);

	for (line = strtok_r(out, "\n", &save); line != NULL; line = strtok_r(NULL, "\n", &save)) {
		json_t *j = parse_line(line);
		json_int_t th = json_integer_value(json_object_get(j, "thread"));

		assert_true(th >= 0 && th < LOG_THREADS);
		assert_int_equal(json_string_length(json_object_get(j, "pad")), 1499);
		counts[th]++;
		lines++;
		json_decref(j);
	}
	assert_int_equal(lines, LOG_THREADS * LOG_LINES);
	for (i = 0; i < LOG_THREADS; i++)
		assert_int_equal(counts[i], LOG_LINES);
	free(out);
}

/* Size of what fd 2 holds now (the capture's file). */
static long captured_size(void)
{
	off_t n = lseek(STDERR_FILENO, 0, SEEK_END);

	assert_true(n >= 0);
	return (long)n;
}

/* Holding: info lines wait for the release or a full buffer, and leave as
 * whole lines; a warning writes out what is held first and then itself. */
static void log_hold_gathers_lines_and_keeps_their_order(void **state)
{
	struct capture c;
	char *out, *line, *save = NULL;
	char pad[900];
	long size;
	int i, n = 0;

	(void)state;
	memset(pad, 'p', sizeof(pad) - 1);
	pad[sizeof(pad) - 1] = '\0';
	hg_log_set_level(HG_LOG_DEBUG);
	capture_begin(&c);
	hg_log_hold();
	hg_log(HG_LOG_INFO, "one", NULL);
	hg_log(HG_LOG_DEBUG, "two", NULL);
	assert_int_equal(captured_size(), 0);
	hg_log(HG_LOG_WARN, "three", NULL);
	size = captured_size();
	assert_true(size > 0);
	hg_log(HG_LOG_INFO, "four", NULL);
	assert_int_equal(captured_size(), size);
	/* more than the buffer holds: written out in whole lines */
	for (i = 0; i < 6; i++)
		hg_log(HG_LOG_INFO, "big", "i", HG_LI(i), "pad", HG_LS(pad), NULL);
	assert_true(captured_size() > size);
	assert_true(captured_size() <= size + 4096);
	size = captured_size();
	/* the last of them are still held, and the release writes them */
	hg_log_release();
	assert_true(captured_size() > size);
	size = captured_size();
	hg_log(HG_LOG_INFO, "after", NULL);
	assert_true(captured_size() > size);
	out = capture_end(&c);
	hg_log_set_level(HG_LOG_INFO);

	{
		const char *want[] = {"one", "two", "three", "four", "big",  "big",
				      "big", "big", "big",   "big",  "after"};

		for (line = strtok_r(out, "\n", &save); line != NULL;
		     line = strtok_r(NULL, "\n", &save)) {
			json_t *j = parse_line(line);

			assert_true(n < 11);
			assert_string_equal(json_string_value(json_object_get(j, "msg")), want[n]);
			json_decref(j);
			n++;
		}
	}
	assert_int_equal(n, 11);
	free(out);
}

static void form_unescape_decodes_plus_and_percent(void **state)
{
	char out[64];
	const char *in = "a+b%41%2f%zz%4";
	(void)state;
	size_t n = hg_form_unescape(in, strlen(in), out);
	out[n] = '\0';
	/* '+' is a space, %41 and %2f decode, a malformed '%' stays as it is. */
	assert_string_equal(out, "a bA/%zz%4");
	assert_int_equal(hg_hex_digit('F'), 15);
	assert_int_equal(hg_hex_digit('g'), -1);
}

struct each_seen {
	char vals[4][1200];
	size_t lens[4];
	int n, stop_at;
};

static int each_collect(const char *v, size_t n, void *arg)
{
	struct each_seen *e = arg;

	assert_true(n < sizeof(e->vals[0]));
	assert_int_equal(v[n], '\0');
	memcpy(e->vals[e->n], v, n + 1);
	e->lens[e->n] = n;
	return ++e->n == e->stop_at ? 7 : 0;
}

/* hg_query_each: every value of a repeated field, names and values decoded,
 * in order; fn stops it; values past the stack buffer take the heap. */
static void query_each_walks_repeated_fields(void **state)
{
	struct hg_buf q = {0};
	struct each_seen e = {.stop_at = 0};
	size_t i;

	(void)state;
	assert_int_equal(hg_buf_puts(&q, "From=%2B1+555&To=x&Fr%6Fm=two&&From&From=&Fro=no"),
			 HG_OK);
	assert_int_equal(hg_query_each((const char *)q.data, q.len, "From", each_collect, &e), 0);
	assert_int_equal(e.n, 4);
	assert_string_equal(e.vals[0], "+1 555");
	assert_string_equal(e.vals[1], "two");
	assert_int_equal(e.lens[2], 0); /* "From" without '=' */
	assert_int_equal(e.lens[3], 0); /* "From=" */
	/* fn's non-zero answer stops the walk and is returned */
	memset(&e, 0, sizeof(e));
	e.stop_at = 1;
	assert_int_equal(hg_query_each((const char *)q.data, q.len, "From", each_collect, &e), 7);
	assert_int_equal(e.n, 1);

	/* a shorter name is another field */
	memset(&e, 0, sizeof(e));
	assert_int_equal(hg_query_each((const char *)q.data, q.len, "Fro", each_collect, &e), 0);
	assert_int_equal(e.n, 1);
	assert_string_equal(e.vals[0], "no");
	hg_buf_free(&q);
	/* a value longer than the stack buffer (3000 bytes written) */
	assert_int_equal(hg_buf_puts(&q, "a=1&Long="), HG_OK);
	for (i = 0; i < 1000; i++)
		assert_int_equal(hg_buf_puts(&q, "%41"), HG_OK);
	assert_int_equal(hg_buf_puts(&q, "&Long=%42"), HG_OK);
	memset(&e, 0, sizeof(e));
	assert_int_equal(hg_query_each((const char *)q.data, q.len, "Long", each_collect, &e), 0);
	assert_int_equal(e.n, 2);
	assert_int_equal(e.lens[0], 1000);
	assert_int_equal(e.vals[0][999], 'A');
	assert_string_equal(e.vals[1], "B");
	hg_buf_free(&q);
	assert_int_equal(hg_query_each(NULL, 0, "Long", each_collect, &e), 0);
}

static void form_content_type_is_the_media_type(void **state)
{
	static const char *const yes[] = {"application/x-www-form-urlencoded",
					  "Application/X-WWW-Form-URLEncoded",
					  " application/x-www-form-urlencoded; charset=utf-8",
					  "application/x-www-form-urlencoded;charset=UTF-8", NULL};
	static const char *const no[] = {"application/json", "application/x-www-form-urlencodedx",
					 "multipart/form-data", "", NULL};
	size_t i;

	(void)state;
	for (i = 0; yes[i] != NULL; i++)
		assert_true(hg_form_content_type(yes[i], strlen(yes[i])));
	for (i = 0; no[i] != NULL; i++)
		assert_false(hg_form_content_type(no[i], strlen(no[i])));
	assert_false(hg_form_content_type(NULL, 0));
	/* the length bounds it, not a NUL */
	assert_false(hg_form_content_type(yes[0], 20));
}

static void request_id_and_traceparent_validation(void **state)
{
	(void)state;
	char big[HG_REQUEST_ID_MAX + 2];
	memset(big, 'a', sizeof(big));
	assert_true(hg_request_id_valid("abc-123_X.y", 11));
	assert_true(hg_request_id_valid(big, HG_REQUEST_ID_MAX));
	assert_false(hg_request_id_valid(big, HG_REQUEST_ID_MAX + 1));
	assert_false(hg_request_id_valid("", 0));
	assert_false(hg_request_id_valid("a b", 3));
	assert_false(hg_request_id_valid("a\nb", 3));
	assert_false(hg_request_id_valid("caf\xc3\xa9", 5));

	const char *ok = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
	assert_true(hg_traceparent_valid(ok, strlen(ok)));
	assert_false(hg_traceparent_valid(ok, strlen(ok) - 1));
	const char *bad[] = {
	    "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", /* unknown version */
	    "00-00000000000000000000000000000000-00f067aa0ba902b7-01", /* zero trace id */
	    "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01", /* zero parent id */
	    "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01", /* upper case */
	    "00-4bf92f3577b34da6a3ce929d0e0e4736_00f067aa0ba902b7-01", /* separator */
	};
	for (size_t i = 0; i != sizeof(bad) / sizeof(bad[0]); ++i)
		assert_false(hg_traceparent_valid(bad[i], strlen(bad[i])));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(strerror_names_every_code),
	    cmocka_unit_test(form_unescape_decodes_plus_and_percent),
	    cmocka_unit_test(query_each_walks_repeated_fields),
	    cmocka_unit_test(form_content_type_is_the_media_type),
	    cmocka_unit_test(buf_append_grows_and_terminates),
	    cmocka_unit_test(buf_printf_formats_long_output),
	    cmocka_unit_test(buf_failure_is_sticky),
	    cmocka_unit_test(json_str_escapes_quote_and_backslash),
	    cmocka_unit_test(json_str_escapes_control_chars),
	    cmocka_unit_test(json_str_escapes_embedded_nul),
	    cmocka_unit_test(json_str_passes_utf8_through),
	    cmocka_unit_test(json_str_replaces_invalid_utf8),
	    cmocka_unit_test(strlcpy_truncates_and_terminates),
	    cmocka_unit_test(time_iso8601_formats_ms),
	    cmocka_unit_test(clocks_are_plausible),
	    cmocka_unit_test(duration_parses_units),
	    cmocka_unit_test(duration_bare_number_is_seconds),
	    cmocka_unit_test(duration_rejects_malformed),
	    cmocka_unit_test(duration_rejects_overflow),
	    cmocka_unit_test(size_parses_units),
	    cmocka_unit_test(size_rejects_malformed),
	    cmocka_unit_test(size_rejects_overflow),
	    cmocka_unit_test(uuid7_has_v7_layout),
	    cmocka_unit_test(uuid7_embeds_current_ms),
	    cmocka_unit_test(uuid7_ids_increase_as_strings),
	    cmocka_unit_test(uuid7_unique_across_threads),
	    cmocka_unit_test(random_bytes_fill_buffer),
	    cmocka_unit_test(hex_encodes_lower_case),
	    cmocka_unit_test(hex_decodes_mixed_case),
	    cmocka_unit_test(hex_rejects_odd_length),
	    cmocka_unit_test(hex_rejects_invalid_chars),
	    cmocka_unit_test(hex_rejects_output_too_small),
	    cmocka_unit_test(b64_encodes_rfc4648_vectors),
	    cmocka_unit_test(b64_decodes_standard_padded),
	    cmocka_unit_test(b64_decodes_urlsafe),
	    cmocka_unit_test(b64_decodes_without_padding),
	    cmocka_unit_test(b64_rejects_invalid),
	    cmocka_unit_test(b64_roundtrips_every_byte),
	    cmocka_unit_test(hash_len_matches_algorithm),
	    cmocka_unit_test(hmac_sha256_rfc4231_case2),
	    cmocka_unit_test(hmac_sha512_rfc4231_case2),
	    cmocka_unit_test(hmac_sha1_rfc2202_case2),
	    cmocka_unit_test(hmac_of_parts_equals_hmac_of_whole),
	    cmocka_unit_test(hmac_accepts_empty_key_and_message),
	    cmocka_unit_test(hmac_rejects_unknown_hash),
	    cmocka_unit_test(sha256_of_abc),
	    cmocka_unit_test(ct_equal_compares_bytes),
	    cmocka_unit_test(log_writes_one_json_line_with_fields),
	    cmocka_unit_test(log_filters_by_level),
	    cmocka_unit_test(log_escapes_strings),
	    cmocka_unit_test(log_truncates_long_lines_as_valid_json),
	    cmocka_unit_test(log_lines_from_threads_do_not_interleave),
	    cmocka_unit_test(log_hold_gathers_lines_and_keeps_their_order),
	    cmocka_unit_test(request_id_and_traceparent_validation),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
