/*
 * util_internal.h — what util.c and log.c share and nothing outside
 * src/util/ includes: the one JSON string escaper, so hg_buf_json_str() and
 * the logger (which must not allocate) escape exactly the same way.
 */
#ifndef HG_UTIL_INTERNAL_H
#define HG_UTIL_INTERNAL_H

#include <stddef.h>

/* Escapes s[0..n) as the inside of a JSON string (no quotes) into dst,
 * writing only whole escapes and whole UTF-8 characters that fit in cap
 * bytes. Invalid UTF-8 bytes become \ufffd so the output is always valid
 * JSON. Returns the bytes written and sets *consumed to the input bytes
 * used (< n when dst filled up). Worst case output is 6 bytes per input
 * byte. Does not NUL-terminate. */
size_t hg_util_json_escape(char *dst, size_t cap, const char *s, size_t n, size_t *consumed);

#endif
