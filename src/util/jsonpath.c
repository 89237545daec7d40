/*
 * jsonpath.c — the small JSON-path evaluator behind dedupe keys, rate-limit
 * keys and route filters (see jsonpath.h for the grammar).
 *
 * Paths are compiled once, when the config is loaded, into a flat list of
 * steps; evaluation walks the document without allocating, so it is fine on
 * the request path. Anything outside the grammar ("..", filters, negative
 * indexes, ".*") is a compile error with a reason that names the offset,
 * because a dedupe path that silently selects nothing would let every
 * duplicate through.
 */
#include "util/jsonpath.h"
#include "util/util.h"

#include <stdint.h>
#include <ctype.h>
#include <yajl/yajl_parse.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Steps bound the evaluator's recursion depth; real paths use a handful. */
#define HG_JSONPATH_MAX_STEPS 32

enum step_kind { STEP_KEY, STEP_INDEX, STEP_ALL };

struct step {
	enum step_kind kind;
	size_t index;
	char *key; /* owned; STEP_KEY only */
};

struct hg_jsonpath {
	size_t nsteps;
	struct step steps[HG_JSONPATH_MAX_STEPS];
};

/* A dotted name runs until the next "." or "["; characters that only make
 * sense in other syntaxes are refused rather than taken literally. */
static int dotted_char_ok(unsigned char c)
{
	return c > ' ' && c != ']' && c != '\'' && c != '"' && c != '*' && c != '\\' && c != 0x7f;
}

/* Parses a quoted key starting at the opening quote e[*pos]. Backslash
 * escapes only the quote and itself. On success *pos is past the closing
 * quote and *key is a malloc'd copy. */
static int parse_quoted(const char *e, size_t *pos, char **key, char *err, size_t errlen)
{
	char q = e[*pos];
	size_t start = *pos, i = *pos + 1, n = 0;
	char *k;

	/* First pass: find the end and the unescaped length. */
	while (e[i] != '\0' && e[i] != q) {
		if (e[i] == '\\') {
			if (e[i + 1] != q && e[i + 1] != '\\') {
				hg_errf(err, errlen,
					"bad escape in quoted key at offset %zu; only \\%c and "
					"\\\\ are allowed",
					i, q);
				return -1;
			}
			i++;
		}
		i++;
		n++;
	}
	if (e[i] != q) {
		hg_errf(err, errlen, "unterminated quoted key starting at offset %zu", start);
		return -1;
	}
	k = malloc(n + 1);
	if (k == NULL) {
		hg_errf(err, errlen, "out of memory");
		return -1;
	}
	for (i = start + 1, n = 0; e[i] != q; i++) {
		if (e[i] == '\\')
			i++;
		k[n++] = e[i];
	}
	k[n] = '\0';
	*key = k;
	*pos = i + 1;
	return 0;
}

/* Parses the inside of "[...]" starting just after the "[". */
static int parse_bracket(const char *e, size_t *pos, struct step *st, char *err, size_t errlen)
{
	size_t i = *pos, start = *pos - 1;

	if (e[i] == '\'' || e[i] == '"') {
		if (parse_quoted(e, &i, &st->key, err, errlen) != 0)
			return -1;
		st->kind = STEP_KEY;
	} else if (e[i] == '*') {
		st->kind = STEP_ALL;
		i++;
	} else if (e[i] >= '0' && e[i] <= '9') {
		size_t v = 0;

		while (e[i] >= '0' && e[i] <= '9') {
			size_t d = (size_t)(e[i] - '0');

			if (v > (SIZE_MAX - d) / 10) {
				hg_errf(err, errlen, "index at offset %zu is too large", start + 1);
				return -1;
			}
			v = v * 10 + d;
			i++;
		}
		st->kind = STEP_INDEX;
		st->index = v;
	} else if (e[i] == '-') {
		hg_errf(err, errlen, "negative index at offset %zu; indexes count from 0", i);
		return -1;
	} else if (e[i] == '\0') {
		hg_errf(err, errlen, "unterminated \"[\" at offset %zu", start);
		return -1;
	} else {
		hg_errf(err, errlen,
			"expected an index, '*' or a quoted key after \"[\" at offset %zu", i);
		return -1;
	}
	if (e[i] != ']') {
		if (st->kind == STEP_KEY) {
			free(st->key);
			st->key = NULL;
		}
		if (e[i] == '\0')
			hg_errf(err, errlen, "unterminated \"[\" at offset %zu", start);
		else
			hg_errf(err, errlen, "expected \"]\" at offset %zu", i);
		return -1;
	}
	*pos = i + 1;
	return 0;
}

struct hg_jsonpath *hg_jsonpath_compile(const char *expr, char *err, size_t errlen)
{
	struct hg_jsonpath *p;
	size_t i = 1;

	if (expr == NULL || expr[0] == '\0') {
		hg_errf(err, errlen, "empty path; a path starts with \"$\"");
		return NULL;
	}
	if (expr[0] != '$') {
		if (isalpha((unsigned char)expr[0]) || expr[0] == '_')
			hg_errf(err, errlen, "path must start with \"$\" (for example \"$.%s\")",
				expr);
		else
			hg_errf(err, errlen, "path must start with \"$\"");
		return NULL;
	}
	p = calloc(1, sizeof(*p));
	if (p == NULL) {
		hg_errf(err, errlen, "out of memory");
		return NULL;
	}
	while (expr[i] != '\0') {
		struct step *st;

		if (p->nsteps == HG_JSONPATH_MAX_STEPS) {
			hg_errf(err, errlen, "too many steps (at most %d)", HG_JSONPATH_MAX_STEPS);
			goto fail;
		}
		st = &p->steps[p->nsteps];
		if (expr[i] == '.') {
			size_t start = ++i;

			if (expr[i] == '.') {
				hg_errf(err, errlen,
					"recursive descent \"..\" at offset %zu is not supported",
					i - 1);
				goto fail;
			}
			if (expr[i] == '*') {
				hg_errf(err, errlen,
					"\".*\" at offset %zu is not supported; use \"[*]\"",
					i - 1);
				goto fail;
			}
			while (expr[i] != '\0' && expr[i] != '.' && expr[i] != '[') {
				if (!dotted_char_ok((unsigned char)expr[i])) {
					hg_errf(err, errlen,
						"unexpected character at offset %zu; quote such "
						"keys as ['...']",
						i);
					goto fail;
				}
				i++;
			}
			if (i == start) {
				hg_errf(err, errlen, "missing key after \".\" at offset %zu",
					start - 1);
				goto fail;
			}
			st->key = strndup(expr + start, i - start);
			if (st->key == NULL) {
				hg_errf(err, errlen, "out of memory");
				goto fail;
			}
			st->kind = STEP_KEY;
		} else if (expr[i] == '[') {
			i++;
			if (parse_bracket(expr, &i, st, err, errlen) != 0)
				goto fail;
		} else {
			hg_errf(err, errlen, "expected \".\" or \"[\" at offset %zu", i);
			goto fail;
		}
		p->nsteps++;
	}
	return p;
fail:
	hg_jsonpath_free(p);
	return NULL;
}

void hg_json_body_init(struct hg_json_body *b, const uint8_t *data, size_t len)
{
	b->data = data;
	b->len = len;
	b->root = NULL;
	b->parsed = 0;
}

json_t *hg_json_body_root(struct hg_json_body *b)
{
	if (!b->parsed) {
		b->parsed = 1;
		b->root = b->len > 0
			      ? json_loadb((const char *)b->data, b->len, JSON_DECODE_ANY, NULL)
			      : NULL;
	}
	return b->root;
}

void hg_json_body_release(struct hg_json_body *b)
{
	json_decref(b->root);
	b->root = NULL;
	b->parsed = 0;
}

void hg_jsonpath_free(struct hg_jsonpath *p)
{
	size_t i;

	if (p == NULL)
		return;
	for (i = 0; i < p->nsteps; i++)
		free(p->steps[i].key);
	free(p);
}

/* Depth-first, so values come out in document order (jansson keeps object
 * members in insertion order, which for parsed input is document order). */
static int walk(const struct hg_jsonpath *p, size_t i, json_t *v, int (*fn)(json_t *, void *),
		void *arg)
{
	const struct step *st;
	json_t *c;
	void *it;
	size_t j;
	int rc;

	if (i == p->nsteps)
		return fn(v, arg);
	st = &p->steps[i];
	switch (st->kind) {
	case STEP_KEY:
		c = json_object_get(v, st->key); /* NULL when v is not an object */
		return c != NULL ? walk(p, i + 1, c, fn, arg) : 0;
	case STEP_INDEX:
		c = json_array_get(v, st->index); /* NULL when v is not an array */
		return c != NULL ? walk(p, i + 1, c, fn, arg) : 0;
	case STEP_ALL:
		if (json_is_array(v)) {
			for (j = 0; j < json_array_size(v); j++) {
				rc = walk(p, i + 1, json_array_get(v, j), fn, arg);
				if (rc != 0)
					return rc;
			}
		} else if (json_is_object(v)) {
			for (it = json_object_iter(v); it != NULL;
			     it = json_object_iter_next(v, it)) {
				rc = walk(p, i + 1, json_object_iter_value(it), fn, arg);
				if (rc != 0)
					return rc;
			}
		}
		return 0;
	}
	return 0;
}

int hg_jsonpath_each(const struct hg_jsonpath *p, json_t *root, int (*fn)(json_t *v, void *arg),
		     void *arg)
{
	if (p == NULL || root == NULL)
		return 0;
	return walk(p, 0, root, fn, arg);
}

/* The shortest "%g" text that reads back as the same double, so 0.1 is
 * "0.1" rather than jansson's 17-digit "0.10000000000000001"; always with a
 * "." or exponent, so a real never looks like an integer key. */
static char *real_text(double d)
{
	char buf[40];
	int prec, n = -1;

	if (!isfinite(d))
		return NULL;
	for (prec = 1; prec <= 17; prec++) {
		n = snprintf(buf, sizeof(buf), "%.*g", prec, d);
		if (n < 0 || (size_t)n >= sizeof(buf))
			return NULL;
		if (strtod(buf, NULL) == d)
			break;
	}
	if (strpbrk(buf, ".e") == NULL && (size_t)n + 2 < sizeof(buf))
		memcpy(buf + n, ".0", 3);
	return strdup(buf);
}

char *hg_jsonpath_scalar_text(json_t *v)
{
	char *s;
	size_t n;

	if (v == NULL)
		return NULL;
	switch (json_typeof(v)) {
	case JSON_STRING:
		n = json_string_length(v);
		s = malloc(n + 1);
		if (s == NULL)
			return NULL;
		memcpy(s, json_string_value(v), n);
		s[n] = '\0';
		return s;
	case JSON_REAL:
		return real_text(json_real_value(v));
	default:
		return json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
	}
}

/* ---- streaming scan (hg_jsonpath_scan) ----
 *
 * One pass of YAJL's event parser over the raw text, with no tree: each
 * value's position is matched against every path's steps as the parser
 * reaches it. active[d] holds the paths whose first d steps match the
 * chain of keys and indexes down to depth d; a value at depth d is
 * selected by the paths in active[d] that have exactly d steps. Whatever
 * this pass cannot answer exactly as hg_jsonpath_each() over jansson's tree
 * would, it leaves to that slower path (SCAN_FALLBACK): a text YAJL
 * refuses, "\u" escapes (jansson refuses "\u0000" and lone surrogates,
 * YAJL does not), a selected real, object or array (rendered by
 * hg_jsonpath_scalar_text), "[*]" over an object and a key met twice in
 * one object along a path (jansson keeps only the last value).
 *
 * YAJL is also more lenient than JSON (and jansson) in two ways that must
 * not reach a decision: it skips "\v" and "\f" as whitespace, and it
 * leaves an unterminated token after the value unread rather than refusing
 * it ({"id":1} " parses); and it takes UTF-8 that is only shaped right
 * (overlong forms, encoded surrogates). So a text with a control character
 * other than JSON's whitespace anywhere, with bytes that are not
 * well-formed UTF-8, or with anything but JSON's whitespace after the
 * value's last byte, is left to jansson too. */

#define SCAN_MAX_PATHS 64
#define SCAN_MAX_DEPTH 2048 /* jansson's own nesting limit */

struct scan_frame {
	int is_array;
	size_t next_index; /* arrays: the index of the next element */
	uint64_t seen;     /* maps: paths whose key this object already had */
};

struct scan {
	yajl_handle h;
	int completing; /* in yajl_complete_parse: the value ends the text */
	int ended;      /* the top-level value is complete ... */
	size_t end;     /* ... and this many bytes of the text hold it */
	const struct hg_jsonpath *const *paths;
	size_t npaths;
	int (*fn)(size_t path, const char *text, size_t len, void *arg);
	void *arg;
	int result;   /* HG_JSONPATH_SCAN_* once decided */
	size_t depth; /* containers open around the next value */
	uint64_t active[HG_JSONPATH_MAX_STEPS + 2];
	struct scan_frame frame[HG_JSONPATH_MAX_STEPS + 2];
};

static int scan_stop(struct scan *s, int result)
{
	s->result = result;
	return 0; /* cancels the parse */
}

/* The paths of active that continue with a step matching array index j or
 * map key k (k NULL for an array) at depth d. */
static uint64_t scan_child(struct scan *s, uint64_t active, size_t d, size_t j, const char *k,
			   size_t klen, int *fallback)
{
	uint64_t out = 0;
	size_t i;

	for (i = 0; i < s->npaths; i++) {
		const struct step *st;

		if (!(active & ((uint64_t)1 << i)) || s->paths[i]->nsteps <= d)
			continue;
		st = &s->paths[i]->steps[d];
		if (k == NULL) {
			if (st->kind == STEP_ALL || (st->kind == STEP_INDEX && st->index == j))
				out |= (uint64_t)1 << i;
		} else if (st->kind == STEP_ALL) {
			*fallback = 1;
		} else if (st->kind == STEP_KEY && strlen(st->key) == klen &&
			   memcmp(st->key, k, klen) == 0) {
			out |= (uint64_t)1 << i;
		}
	}
	return out;
}

/* Called as a value starts: its paths, from its array index when its
 * parent is an array (a map's were set by scan_key). */
static uint64_t scan_value(struct scan *s)
{
	size_t d = s->depth;
	int fallback = 0;

	if (d == 0 || d > HG_JSONPATH_MAX_STEPS)
		return d == 0 ? s->active[0] : 0;
	if (s->frame[d - 1].is_array) {
		s->active[d] = s->frame[d - 1].next_index == SIZE_MAX
				   ? 0
				   : scan_child(s, s->active[d - 1], d - 1,
						s->frame[d - 1].next_index++, NULL, 0, &fallback);
	}
	return s->active[d];
}

/* The paths that select the value now starting (those that end here). */
static uint64_t scan_selected(struct scan *s, uint64_t active)
{
	uint64_t out = 0;
	size_t i;

	for (i = 0; i < s->npaths; i++)
		if ((active & ((uint64_t)1 << i)) && s->paths[i]->nsteps == s->depth)
			out |= (uint64_t)1 << i;
	return out;
}

/* Notes where the top-level value ended, once a value or container at
 * depth 0 is complete. YAJL has consumed the token just read when it calls
 * back; a number that ends the text is only read by yajl_complete_parse,
 * from a buffer of its own, so then the value simply ends the text. */
static int scan_done(struct scan *s)
{
	if (s->depth == 0) {
		s->ended = 1;
		s->end = s->completing ? SIZE_MAX : yajl_get_bytes_consumed(s->h);
	}
	return 1;
}

static int scan_emit(struct scan *s, const char *text, size_t len)
{
	uint64_t sel = scan_selected(s, scan_value(s));
	size_t i;

	for (i = 0; i < s->npaths; i++)
		if ((sel & ((uint64_t)1 << i)) && s->fn(i, text, len, s->arg) != 0)
			return scan_stop(s, HG_JSONPATH_SCAN_STOPPED);
	return scan_done(s);
}

static int scan_null(void *ctx)
{
	struct scan *s = ctx;

	(void)scan_value(s); /* selected or not, null yields no text */
	return scan_done(s);
}

static int scan_boolean(void *ctx, int b)
{
	return scan_emit(ctx, b ? "true" : "false", b ? 4 : 5);
}

static int scan_integer(void *ctx, long long v)
{
	char buf[24];
	int n = snprintf(buf, sizeof(buf), "%lld", v);

	return scan_emit(ctx, buf, (size_t)n);
}

static int scan_double(void *ctx, double v)
{
	struct scan *s = ctx;

	(void)v;
	if (scan_selected(s, scan_value(s)) != 0)
		return scan_stop(s, HG_JSONPATH_SCAN_FALLBACK);
	return scan_done(s);
}

static int scan_string(void *ctx, const unsigned char *v, size_t len)
{
	return scan_emit(ctx, (const char *)v, len);
}

static int scan_open(struct scan *s, int is_array)
{
	uint64_t active = scan_value(s);

	if (scan_selected(s, active) != 0) /* a container is rendered by jansson */
		return scan_stop(s, HG_JSONPATH_SCAN_FALLBACK);
	if (s->depth >= SCAN_MAX_DEPTH)
		return scan_stop(s, HG_JSONPATH_SCAN_FALLBACK);
	if (s->depth <= HG_JSONPATH_MAX_STEPS) {
		struct scan_frame *f = &s->frame[s->depth];

		f->is_array = is_array;
		/* No path goes on below: skip the matching in there. */
		f->next_index = active != 0 ? 0 : SIZE_MAX;
		f->seen = 0;
		if (s->depth + 1 <= HG_JSONPATH_MAX_STEPS)
			s->active[s->depth + 1] = 0;
	}
	s->depth++;
	return 1;
}

static int scan_start_map(void *ctx)
{
	return scan_open(ctx, 0);
}

static int scan_start_array(void *ctx)
{
	return scan_open(ctx, 1);
}

static int scan_key(void *ctx, const unsigned char *k, size_t len)
{
	struct scan *s = ctx;
	size_t d = s->depth;
	uint64_t child;
	int fallback = 0;

	if (d > HG_JSONPATH_MAX_STEPS)
		return 1;
	if (s->active[d - 1] == 0 || s->frame[d - 1].next_index == SIZE_MAX) {
		s->active[d] = 0;
		return 1;
	}
	child = scan_child(s, s->active[d - 1], d - 1, 0, (const char *)k, len, &fallback);
	if (fallback || (child & s->frame[d - 1].seen) != 0)
		return scan_stop(s, HG_JSONPATH_SCAN_FALLBACK);
	s->frame[d - 1].seen |= child;
	s->active[d] = child;
	return 1;
}

static int scan_close(void *ctx)
{
	struct scan *s = ctx;

	s->depth--;
	return scan_done(s);
}

static const yajl_callbacks scan_callbacks = {
    .yajl_null = scan_null,
    .yajl_boolean = scan_boolean,
    .yajl_integer = scan_integer,
    .yajl_double = scan_double,
    .yajl_string = scan_string,
    .yajl_start_map = scan_start_map,
    .yajl_map_key = scan_key,
    .yajl_end_map = scan_close,
    .yajl_start_array = scan_start_array,
    .yajl_end_array = scan_close,
};

/* 1 when text has no byte JSON refuses wherever it stands: control
 * characters other than tab, CR and LF (allowed only as whitespace between
 * tokens), and anything that is not well-formed UTF-8 (RFC 3629: no
 * overlong forms, no surrogates, nothing above U+10FFFF). YAJL checks only
 * the shape of a UTF-8 sequence, jansson checks all of this. */
static int scan_text_ok(const uint8_t *t, size_t len)
{
	size_t i = 0, n, k;
	uint8_t lo, hi;

	while (i < len) {
		uint8_t c = t[i];

		if (c < 0x80) {
			if (c < 0x20 && c != '\t' && c != '\n' && c != '\r')
				return 0;
			i++;
			continue;
		}
		lo = 0x80;
		hi = 0xbf;
		if (c >= 0xc2 && c <= 0xdf) {
			n = 1;
		} else if (c >= 0xe0 && c <= 0xef) {
			n = 2;
			if (c == 0xe0)
				lo = 0xa0; /* overlong */
			else if (c == 0xed)
				hi = 0x9f; /* surrogates */
		} else if (c >= 0xf0 && c <= 0xf4) {
			n = 3;
			if (c == 0xf0)
				lo = 0x90; /* overlong */
			else if (c == 0xf4)
				hi = 0x8f; /* above U+10FFFF */
		} else {
			return 0;
		}
		if (len - i <= n)
			return 0;
		if (t[i + 1] < lo || t[i + 1] > hi)
			return 0;
		for (k = 2; k <= n; k++)
			if (t[i + k] < 0x80 || t[i + k] > 0xbf)
				return 0;
		i += n + 1;
	}
	return 1;
}

/* 1 when text[from, len) is only JSON whitespace. */
static int scan_only_space(const uint8_t *text, size_t from, size_t len)
{
	for (; from < len; from++)
		if (text[from] != ' ' && text[from] != '\t' && text[from] != '\n' &&
		    text[from] != '\r')
			return 0;
	return 1;
}

int hg_jsonpath_scan(const struct hg_jsonpath *const *paths, size_t npaths, const uint8_t *text,
		     size_t len, int (*fn)(size_t path, const char *v, size_t vlen, void *arg),
		     void *arg)
{
	struct scan s = {.paths = paths, .npaths = npaths, .fn = fn, .arg = arg};
	yajl_handle h;
	yajl_status st;
	size_t i;

	if (npaths == 0)
		return HG_JSONPATH_SCAN_OK;
	if (npaths > SCAN_MAX_PATHS || memmem(text, len, "\\u", 2) != NULL ||
	    !scan_text_ok(text, len))
		return HG_JSONPATH_SCAN_FALLBACK;
	for (i = 0; i < npaths; i++)
		if (paths[i] == NULL)
			return HG_JSONPATH_SCAN_FALLBACK;
	s.active[0] = npaths == SCAN_MAX_PATHS ? UINT64_MAX : ((uint64_t)1 << npaths) - 1;
	h = yajl_alloc(&scan_callbacks, NULL, &s);
	if (h == NULL)
		return HG_JSONPATH_SCAN_FALLBACK;
	s.h = h;
	st = yajl_parse(h, text, len);
	if (st == yajl_status_ok) {
		s.completing = 1;
		st = yajl_complete_parse(h);
	}
	yajl_free(h);
	if (st == yajl_status_client_canceled)
		return s.result;
	if (st != yajl_status_ok || !s.ended)
		return HG_JSONPATH_SCAN_FALLBACK;
	/* Whatever YAJL left unread after the value must be whitespace. */
	if (s.end != SIZE_MAX && !scan_only_space(text, s.end, len))
		return HG_JSONPATH_SCAN_FALLBACK;
	return HG_JSONPATH_SCAN_OK;
}
