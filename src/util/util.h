/*
 * util.h — small shared pieces used by every module: status codes, a growable
 * byte buffer, time, UUIDv7 ids, hex/base64, constant-time comparison,
 * durations, address ranges, hashing and the JSON-lines logger.
 *
 * Nothing here allocates behind the caller's back except hg_buf, whose
 * memory the caller releases with hg_buf_free().
 */
#ifndef HG_UTIL_H
#define HG_UTIL_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

/* One way to fail: 0 is success, negative values are HG_E* codes. */
enum {
	HG_OK = 0,
	HG_ENOMEM = -1,    /* allocation failed */
	HG_EINVAL = -2,    /* malformed input */
	HG_EIO = -3,       /* storage or system failure */
	HG_ENOTFOUND = -4, /* no such thing */
	HG_ETOOBIG = -5,   /* input over a limit */
	HG_EAUTH = -6,     /* signature / token did not verify */
	HG_EREPLAY = -7,   /* timestamp outside tolerance */
	HG_ENOKEY = -8,    /* sealed with a key that is not configured here */
};

const char *hg_strerror(int code);

/* ---- growable byte buffer (always NUL-terminated for convenience) ----
 * A failure is sticky, as in curl's dynbuf: the first append that fails
 * (out of memory, too big) frees the contents and records its code, and
 * every later append returns that code without doing anything. So a run of
 * appends needs one check at the end (hg_buf_status(), or the last append's
 * result), and a buffer that failed never holds half a document. */
struct hg_buf {
	uint8_t *data;
	size_t len;
	size_t cap;
	int err; /* HG_OK, or the code of the first append that failed */
};
/* HG_OK, or the code of the first append that failed since the last free. */
int hg_buf_status(const struct hg_buf *b);
/* Fails the buffer with rc as a failed append would: for a builder whose
 * own step failed (a part it could not encode), so that the one check at
 * the end sees it. */
void hg_buf_set_error(struct hg_buf *b, int rc);
int hg_buf_reserve(struct hg_buf *b, size_t extra);
int hg_buf_append(struct hg_buf *b, const void *p, size_t n);
int hg_buf_puts(struct hg_buf *b, const char *s);
int hg_buf_printf(struct hg_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Appends s as a JSON string literal (with quotes), escaping as RFC 8259 asks. */
int hg_buf_json_str(struct hg_buf *b, const char *s, size_t n);
/* Frees the contents and clears a failure: the buffer can be used again. */
void hg_buf_free(struct hg_buf *b);

/* ---- bounded string helpers ---- */
/* Formats a one-line error message into err (when err is not NULL). */
void hg_errf(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* 1 when the first prefix bits of a and b are equal (address ranges). */
int hg_prefix_equal(const uint8_t *a, const uint8_t *b, int prefix);
/* Copies at most dstlen-1 bytes and always terminates; returns strlen(src). */
size_t hg_strlcpy(char *dst, const char *src, size_t dstlen);

/* ---- time ---- */
int64_t hg_now_ms(void);  /* wall clock, ms since the epoch */
int64_t hg_mono_us(void); /* monotonic clock, microseconds */
/* Sets *ts to ms from now on CLOCK_MONOTONIC: the deadline of a
 * pthread_cond_timedwait() on a condition variable using that clock, which
 * a wall-clock jump neither stalls nor hurries. */
struct timespec;
void hg_mono_deadline(struct timespec *ts, int64_t ms);
/* "2024-01-15T10:30:00.123Z" into out (>= 25 bytes). */
void hg_time_iso8601(int64_t ms, char *out, size_t outlen);

/* ---- durations: "250ms", "30s", "5m", "1h", "30d" (a bare number is seconds) ---- */
int hg_duration_parse_ms(const char *s, int64_t *out_ms);
/* sizes: "1048576", "512k", "1m"/"1mb"/"1MiB", "2g" */
int hg_size_parse(const char *s, size_t *out);

/* ---- ids ---- */
#define HG_UUID_LEN 36
/* A UUIDv7 (RFC 9562), time-ordered and monotonic within this process;
 * out must hold HG_UUID_LEN + 1 bytes. Thread-safe. */
void hg_uuid7(char out[HG_UUID_LEN + 1]);
/* Fills buf with CSPRNG bytes; returns HG_OK or HG_EIO. */
int hg_random_bytes(void *buf, size_t n);

/* ---- encodings ---- */
/* Lower-case hex of n bytes into out (2n+1 bytes). */
void hg_hex_encode(const uint8_t *in, size_t n, char *out);
/* Decodes hex (either case); returns number of bytes or HG_EINVAL. */
int hg_hex_decode(const char *in, size_t inlen, uint8_t *out, size_t outcap);
/* Value of one hex digit (either case), or -1. */
int hg_hex_digit(int c);
/* Form/URL-decodes in[0, n) into out ('+' is a space, %XX a byte; a '%' not
 * followed by two hex digits is kept as it is). out needs n bytes; returns
 * the decoded length, never more than n. */
size_t hg_form_unescape(const char *in, size_t n, char *out);
/* Walks a query string ("a=1&b=2"): each call gives the next parameter's
 * name and value as they are written (still encoded; a parameter without
 * '=' has an empty value), skips empty parameters and advances *q. Returns
 * 1, or 0 at end. */
int hg_query_next(const char **q, const char *end, const char **name, size_t *nlen,
		  const char **val, size_t *vlen);
/* Finds the first parameter called name in q[0, qlen) and form-decodes its
 * value into out, NUL-terminated. Returns the decoded length, or -1 when it
 * is absent or longer than outcap - 1. q may be NULL. */
long hg_query_get(const char *q, size_t qlen, const char *name, char *out, size_t outcap);
/* Calls fn with the form-decoded value of every parameter of q[0, qlen)
 * whose form-decoded name is name, in order, until fn returns non-zero.
 * The value is NUL-terminated in a buffer that fn must not keep. Returns 0
 * when every parameter was walked, fn's non-zero answer when it stopped,
 * or HG_ENOMEM. q may be NULL. */
int hg_query_each(const char *q, size_t qlen, const char *name,
		  int (*fn)(const char *val, size_t vlen, void *arg), void *arg);
/* 1 when a Content-Type header value ct[0, len) names a form-encoded body:
 * application/x-www-form-urlencoded, any case, with or without parameters. */
int hg_form_content_type(const char *ct, size_t len);
/* Standard base64 with padding; out needs 4*ceil(n/3)+1 bytes. Returns length. */
size_t hg_b64_encode(const uint8_t *in, size_t n, char *out);
/* Accepts standard and URL-safe alphabets, padding optional; returns bytes or HG_EINVAL. */
int hg_b64_decode(const char *in, size_t inlen, uint8_t *out, size_t outcap);

/* ---- crypto helpers (OpenSSL) ---- */
enum hg_hash { HG_SHA1, HG_SHA256, HG_SHA512 };
#define HG_MAX_MAC 64
size_t hg_hash_len(enum hg_hash h);
/* HMAC of the concatenation of parts; returns the MAC length or 0 on error. */
size_t hg_hmac(enum hg_hash h, const uint8_t *key, size_t keylen, const uint8_t *const *parts,
	       const size_t *lens, size_t nparts, uint8_t out[HG_MAX_MAC]);
void hg_sha256(const uint8_t *in, size_t n, uint8_t out[32]);
/* Constant-time equality of two equal-length byte strings (0 when lengths differ). */
int hg_ct_equal(const void *a, const void *b, size_t n);

/* ---- address ranges (cidr.c) ---- */
struct hg_cidr; /* defined in config/config.h */
/* Parses "192.0.2.0/24", "2001:db8::/32" or a bare address (a /32 or /128).
 * Host bits below the prefix are cleared. HG_OK or HG_EINVAL. */
int hg_cidr_parse(const char *s, struct hg_cidr *out);
/* 1 when the textual address ip_text lies in c, else 0 (also for text that
 * is not an address). IPv4-mapped IPv6 text ("::ffff:192.0.2.1") matches
 * IPv4 ranges, and IPv4 text matches IPv6 ranges over ::ffff:0:0/96. */
int hg_cidr_contains(const struct hg_cidr *c, const char *ip_text);

/* ---- request ids and trace context ----
 * An incoming X-Request-Id is kept when it is 1..HG_REQUEST_ID_MAX bytes of
 * visible ASCII (0x21..0x7e: no space, no control byte, nothing a log or a
 * header could be split by); otherwise hookgate makes one (a UUID). */
#define HG_REQUEST_ID_MAX 128
int hg_request_id_valid(const char *s, size_t n);
/* 1 when s[0, n) is a W3C traceparent hookgate passes on: version 00,
 * "00-<32 hex trace id>-<16 hex parent id>-<2 hex flags>" in lower case,
 * neither id all zeros; else 0. */
#define HG_TRACEPARENT_LEN 55
int hg_traceparent_valid(const char *s, size_t n);

/* ---- logging: one JSON object per line on stderr ----
 * Never pass a body or a secret. Fields are added as key/value pairs:
 *   hg_log(HG_LOG_INFO, "request", "source", HG_LS("whatsapp"), "status", HG_LI(200), NULL);
 */
enum hg_log_level { HG_LOG_DEBUG, HG_LOG_INFO, HG_LOG_WARN, HG_LOG_ERROR };
struct hg_log_val {
	int kind; /* 's' string, 'i' integer, 'f' double */
	const char *s;
	long long i;
	double f;
};
#define HG_LS(v) ((struct hg_log_val){.kind = 's', .s = (v)})
#define HG_LI(v) ((struct hg_log_val){.kind = 'i', .i = (long long)(v)})
#define HG_LF(v) ((struct hg_log_val){.kind = 'f', .f = (double)(v)})
void hg_log_set_level(enum hg_log_level min);
/* The request id this thread works for (NULL: none). While set, every line
 * this thread logs carries it as "request_id", so all lines about one
 * request can be found together. The caller keeps id alive until it sets
 * another. */
void hg_log_set_request_id(const char *id);
const char *hg_log_request_id(void);
/* msg, then (const char *key, struct hg_log_val val) pairs, terminated by NULL.
 * A string field whose value is NULL is left out. */
void hg_log(enum hg_log_level lvl, const char *msg, ...);
/* Holding: between hg_log_hold() and hg_log_release(), this thread's info
 * and debug lines gather in a PIPE_BUF-sized buffer and leave together, one
 * write(2) per buffer full (a write that size still reaches a pipe whole),
 * instead of one each. An event loop holds while it works through what
 * one wakeup brought and releases before it waits again or calls anything
 * that may block, so a line is at most one turn of CPU work late. A
 * warning or error first writes out what is held and then itself, at
 * once: nothing that may precede an exit waits. */
void hg_log_hold(void);
void hg_log_release(void);

#endif
