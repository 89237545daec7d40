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

#endif
