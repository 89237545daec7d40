/*
 * jsonpath.h — a small JSON-path evaluator over jansson for dedupe keys,
 * rate-limit keys and route filters. Grammar: "$" then any of ".key",
 * "['key']", "[n]" (n >= 0) and "[*]" (every element of an array, or every
 * value of an object).
 */
#ifndef HG_JSONPATH_H
#define HG_JSONPATH_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

struct hg_jsonpath; /* compiled path; opaque */

/* Compiles expr. On error returns NULL and writes a one-line reason to err. */
struct hg_jsonpath *hg_jsonpath_compile(const char *expr, char *err, size_t errlen);
void hg_jsonpath_free(struct hg_jsonpath *p);

/* Calls fn for each value the path selects in root, in document order, until
 * fn returns non-zero (that value is then returned). Returns 0 otherwise.
 * The values are borrowed from root. */
int hg_jsonpath_each(const struct hg_jsonpath *p, json_t *root, int (*fn)(json_t *v, void *arg),
		     void *arg);

/* Renders a selected scalar as the text a key is made of: strings as they
 * are, integers/reals/true/false/null as JSON text. Objects and arrays are
 * rendered compactly with sorted keys. Returns a malloc'd string (caller
 * frees) or NULL. */
char *hg_jsonpath_scalar_text(json_t *v);

/* A request body and its JSON tree, parsed at most once, on first need, for
 * everything that looks into the body during one request (a signature's
 * max_age, Slack's handshake, a rate-limit key, dedupe keys the streaming
 * scan cannot decide, route filters): one parse instead of one each. Any
 * JSON text is taken (JSON_DECODE_ANY); a body jansson refuses has no
 * tree. Lives with the request (the handler's stack); not thread-safe. */
struct hg_json_body {
	const uint8_t *data;
	size_t len;
	json_t *root; /* after hg_json_body_root(): the tree, or NULL */
	int parsed;
};

/* A view of data[0, len) with nothing parsed yet. */
void hg_json_body_init(struct hg_json_body *b, const uint8_t *data, size_t len);
/* The tree (borrowed: valid until hg_json_body_release), or NULL when the
 * body is not JSON. Parses on the first call only. */
json_t *hg_json_body_root(struct hg_json_body *b);
/* Drops the tree, if one was made. */
void hg_json_body_release(struct hg_json_body *b);

/* What hg_jsonpath_scan() could do. */
enum {
	HG_JSONPATH_SCAN_OK = 0,       /* text is valid JSON; every selected value was reported */
	HG_JSONPATH_SCAN_FALLBACK = 1, /* undecided: parse with jansson and use hg_jsonpath_each */
	HG_JSONPATH_SCAN_STOPPED = 2,  /* fn returned non-zero */
};

/* Reads the JSON text once, without building a tree, and calls fn for
 * each value one of paths[0..npaths) selects, in document order, with the
 * path's index and the value as hg_jsonpath_scalar_text() would render it
 * (not NUL-terminated). null is selected silently (no call). Several times
 * faster than json_loadb + hg_jsonpath_each, for the common case: on
 * FALLBACK (see jsonpath.c for when) the calls made so far must be
 * discarded and the tree path used instead, which gives the exact answer. */
int hg_jsonpath_scan(const struct hg_jsonpath *const *paths, size_t npaths, const uint8_t *text,
		     size_t len, int (*fn)(size_t path, const char *v, size_t vlen, void *arg),
		     void *arg);

#endif
