/*
 * log.c — the JSON-lines logger: one object per line on stderr, e.g.
 *   {"ts":"2024-01-15T10:30:00.123Z","level":"info","msg":"request","status":200}
 *
 * Every line is built in a stack buffer and leaves with a single write(2),
 * so lines from different threads (and, through a pipe, from different
 * processes) never interleave and no lock is needed. The buffer is PIPE_BUF
 * sized because that is the largest write POSIX promises to keep whole on a
 * pipe, which is where stderr usually goes (journald, docker). A line that
 * would be longer is cut at a field or character boundary and marked
 * "truncated":true; it stays valid JSON. No allocation: safe on the hot path
 * and when memory is short.
 *
 * A thread that holds (hg_log_hold) keeps its info and debug lines in a
 * thread-local buffer of the same size until it releases or the buffer is
 * full, so whole lines still leave in writes of at most PIPE_BUF bytes.
 * The price: a crash (a signal) of that thread while it holds loses what
 * it holds, at most one turn of info lines; warnings and errors are never
 * held.
 */
#include "util/util.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "util/util_internal.h"

#define LOG_LINE_MAX 4096
/* one write of at most this much reaches a pipe whole */
_Static_assert(LOG_LINE_MAX <= PIPE_BUF, "a log write must fit in PIPE_BUF");
#define LOG_TAIL ",\"truncated\":true}\n"

static atomic_int log_min = HG_LOG_INFO;
static _Thread_local const char *log_request_id;
/* the lines this thread holds back (hg_log_hold) */
static _Thread_local struct {
	int on;
	size_t len;
	char buf[LOG_LINE_MAX];
} held;

/* A bounded line under construction. cap leaves room for LOG_TAIL.
 * broken: a piece did not fit whole (the caller rewinds to a mark).
 * cut: a string was shortened but closed, so the JSON is still valid. */
struct line {
	char *p;
	size_t len;
	size_t cap;
	int broken;
	int cut;
};

static void line_raw(struct line *l, const char *s, size_t n)
{
	if (l->broken)
		return;
	if (n > l->cap - l->len) {
		l->broken = 1;
		return;
	}
	memcpy(l->p + l->len, s, n);
	l->len += n;
}

static void line_str(struct line *l, const char *s)
{
	size_t n, used;

	if (s == NULL) {
		line_raw(l, "null", 4);
		return;
	}
	if (l->broken || l->cap - l->len < 2) {
		l->broken = 1;
		return;
	}
	n = strlen(s);
	l->p[l->len++] = '"';
	/* Keep one byte back for the closing quote. */
	l->len += hg_util_json_escape(l->p + l->len, l->cap - l->len - 1, s, n, &used);
	l->p[l->len++] = '"';
	if (used < n)
		l->cut = 1;
}

static void line_val(struct line *l, struct hg_log_val v)
{
	char num[32];
	int n;

	switch (v.kind) {
	case 's':
		line_str(l, v.s);
		return;
	case 'i':
		n = snprintf(num, sizeof(num), "%lld", v.i);
		break;
	case 'f':
		/* JSON has no NaN or infinity. */
		if (!isfinite(v.f)) {
			line_raw(l, "null", 4);
			return;
		}
		n = snprintf(num, sizeof(num), "%.15g", v.f);
		break;
	default:
		line_raw(l, "null", 4);
		return;
	}
	if (n < 0 || (size_t)n >= sizeof(num)) {
		line_raw(l, "null", 4);
		return;
	}
	line_raw(l, num, (size_t)n);
}

static const char *level_name(enum hg_log_level lvl)
{
	switch (lvl) {
	case HG_LOG_DEBUG:
		return "debug";
	case HG_LOG_INFO:
		return "info";
	case HG_LOG_WARN:
		return "warn";
	case HG_LOG_ERROR:
		return "error";
	}
	return "error";
}

void hg_log_set_level(enum hg_log_level min)
{
	atomic_store_explicit(&log_min, (int)min, memory_order_relaxed);
}

void hg_log_set_request_id(const char *id)
{
	log_request_id = id;
}

const char *hg_log_request_id(void)
{
	return log_request_id;
}

int hg_request_id_valid(const char *s, size_t n)
{
	if (s == NULL || n == 0 || n > HG_REQUEST_ID_MAX)
		return 0;
	for (size_t i = 0; i != n; ++i)
		if ((unsigned char)s[i] < 0x21 || (unsigned char)s[i] > 0x7e)
			return 0;
	return 1;
}

/* n lower-case hex digits at s, not all zeros when nonzero is set. */
static int lower_hex(const char *s, size_t n, int nonzero)
{
	int any = 0;
	for (size_t i = 0; i != n; ++i) {
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
		any |= s[i] != '0';
	}
	return !nonzero || any;
}

int hg_traceparent_valid(const char *s, size_t n)
{
	/* 00-<trace id 32>-<parent id 16>-<flags 2> */
	if (s == NULL || n != HG_TRACEPARENT_LEN || s[2] != '-' || s[35] != '-' || s[52] != '-')
		return 0;
	return s[0] == '0' && s[1] == '0' && lower_hex(s + 3, 32, 1) && lower_hex(s + 36, 16, 1) &&
	       lower_hex(s + 53, 2, 0);
}

/* Writes s[0, n) to stderr in one call; the loop only finishes a rare
 * short write (a signal mid-way to a terminal, a nearly full disk). */
static void write_all(const char *s, size_t n)
{
	size_t off = 0;

	while (off < n) {
		ssize_t w = write(STDERR_FILENO, s + off, n - off);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		off += (size_t)w;
	}
}

static void held_flush(void)
{
	if (held.len > 0)
		write_all(held.buf, held.len);
	held.len = 0;
}

void hg_log_hold(void)
{
	held.on = 1;
}

void hg_log_release(void)
{
	int saved = errno;

	held_flush();
	held.on = 0;
	errno = saved;
}

void hg_log(enum hg_log_level lvl, const char *msg, ...)
{
	char buf[LOG_LINE_MAX], ts[32];
	struct line l = {buf, 0, sizeof(buf) - (sizeof(LOG_TAIL) - 1), 0, 0};
	const char *lname = level_name(lvl);
	const char *key;
	va_list ap;
	int saved = errno;

	if ((int)lvl < atomic_load_explicit(&log_min, memory_order_relaxed))
		return;

	hg_time_iso8601(hg_now_ms(), ts, sizeof(ts));
	line_raw(&l, "{\"ts\":\"", 7);
	line_raw(&l, ts, strlen(ts));
	line_raw(&l, "\",\"level\":\"", 11);
	line_raw(&l, lname, strlen(lname));
	line_raw(&l, "\",\"msg\":", 8);
	line_str(&l, msg);
	if (log_request_id != NULL) {
		line_raw(&l, ",\"request_id\":", 14);
		line_str(&l, log_request_id);
	}

	va_start(ap, msg);
	while (!l.broken && !l.cut && (key = va_arg(ap, const char *)) != NULL) {
		struct hg_log_val v = va_arg(ap, struct hg_log_val);
		size_t mark = l.len;

		/* An absent string field is left out rather than logged as null. */
		if (v.kind == 's' && v.s == NULL)
			continue;

		line_raw(&l, ",", 1);
		line_str(&l, key);
		/* A cut key has no value after it: drop the whole field. */
		if (l.cut) {
			l.len = mark;
			break;
		}
		line_raw(&l, ":", 1);
		line_val(&l, v);
		if (l.broken)
			l.len = mark;
	}
	va_end(ap);

	/* The tail was reserved out of cap, so it always fits. */
	if (l.broken || l.cut) {
		memcpy(buf + l.len, LOG_TAIL, sizeof(LOG_TAIL) - 1);
		l.len += sizeof(LOG_TAIL) - 1;
	} else {
		memcpy(buf + l.len, "}\n", 2);
		l.len += 2;
	}

	/* One write is the whole point: a held line joins the buffer (which
	 * goes first when the line would not fit), any other leaves now,
	 * after what is held so that the order stays. */
	if (held.on && lvl <= HG_LOG_INFO) {
		if (held.len + l.len > sizeof(held.buf))
			held_flush();
		memcpy(held.buf + held.len, buf, l.len);
		held.len += l.len;
	} else {
		held_flush();
		write_all(buf, l.len);
	}
	errno = saved;
}
