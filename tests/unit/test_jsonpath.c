/*
 * test_jsonpath.c — unit tests for src/util/jsonpath.c: what each step of
 * the grammar selects, document order on a WhatsApp-shaped body, the paths
 * that must not compile, and the text a selected value turns into.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "util/jsonpath.h"

/* What a path selected, rendered with hg_jsonpath_scalar_text. */
struct picks {
	int n;
	int stop_at; /* return non-zero from the callback on this pick (1-based) */
	char *text[16];
};

static int collect(json_t *v, void *arg)
{
	struct picks *p = arg;

	assert_true(p->n < 16);
	p->text[p->n] = hg_jsonpath_scalar_text(v);
	assert_non_null(p->text[p->n]);
	p->n++;
	return p->n == p->stop_at ? 42 : 0;
}

static void picks_free(struct picks *p)
{
	int i;

	for (i = 0; i < p->n; i++)
		free(p->text[i]);
}

/* What hg_jsonpath_scan reported, for one path. */
struct scanned {
	int n;
	int stop_at;
	size_t path[16];
	char *text[16];
};

static int collect_scan(size_t path, const char *v, size_t len, void *arg)
{
	struct scanned *s = arg;

	assert_true(s->n < 16);
	s->path[s->n] = path;
	s->text[s->n] = strndup(v, len);
	assert_non_null(s->text[s->n]);
	s->n++;
	return s->n == s->stop_at ? 1 : 0;
}

static void scanned_free(struct scanned *s)
{
	int i;

	for (i = 0; i < s->n; i++)
		free(s->text[i]);
}

/* The tree walk's picks without JSON nulls (the scan reports none). */
static int collect_not_null(json_t *v, void *arg)
{
	return json_is_null(v) ? 0 : collect(v, arg);
}

/* Runs the streaming scan of expr over doc; when it decides (OK), its
 * picks must be exactly the tree walk's. Returns the scan's answer. */
static int scan_agrees(const char *doc, const char *expr)
{
	struct hg_jsonpath *path;
	struct scanned sc = {0};
	struct picks p = {0};
	char err[160];
	json_t *root;
	int rc, i;

	path = hg_jsonpath_compile(expr, err, sizeof(err));
	if (path == NULL)
		fail_msg("%s did not compile: %s", expr, err);
	rc = hg_jsonpath_scan((const struct hg_jsonpath *const *)&path, 1, (const uint8_t *)doc,
			      strlen(doc), collect_scan, &sc);
	if (rc == HG_JSONPATH_SCAN_OK) {
		root = json_loads(doc, JSON_DECODE_ANY, NULL);
		assert_non_null(root); /* the scan took it, so must jansson */
		hg_jsonpath_each(path, root, collect_not_null, &p);
		if (p.n != sc.n)
			fail_msg("%s over %s: scan picked %d, tree %d", expr, doc, sc.n, p.n);
		for (i = 0; i < p.n; i++) {
			assert_int_equal(sc.path[i], 0);
			assert_string_equal(sc.text[i], p.text[i]);
		}
		picks_free(&p);
		json_decref(root);
	}
	scanned_free(&sc);
	hg_jsonpath_free(path);
	return rc;
}

/* Runs expr over the JSON text doc and checks the selections, in order,
 * against the NULL-terminated list of expected texts. */
static void expect_picks(const char *doc, const char *expr, ...)
{
	struct picks p = {0};
	struct hg_jsonpath *path;
	json_error_t jerr;
	json_t *root;
	char err[160];
	const char *want;
	va_list ap;
	int i = 0;

	root = json_loads(doc, 0, &jerr);
	assert_non_null(root);
	path = hg_jsonpath_compile(expr, err, sizeof(err));
	if (path == NULL)
		fail_msg("%s did not compile: %s", expr, err);
	assert_int_equal(hg_jsonpath_each(path, root, collect, &p), 0);
	va_start(ap, expr);
	while ((want = va_arg(ap, const char *)) != NULL) {
		if (i >= p.n)
			fail_msg("%s: only %d values selected, expected more", expr, p.n);
		assert_string_equal(p.text[i], want);
		i++;
	}
	va_end(ap);
	assert_int_equal(p.n, i);
	picks_free(&p);
	hg_jsonpath_free(path);
	json_decref(root);
	(void)scan_agrees(doc, expr); /* every case here checks the scan too */
}

static void expect_compile_error(const char *expr)
{
	char err[160] = "";
	struct hg_jsonpath *p = hg_jsonpath_compile(expr, err, sizeof(err));

	if (p != NULL)
		fail_msg("\"%s\" compiled but should not", expr);
	assert_true(strlen(err) > 0);
	assert_null(strchr(err, '\n'));
}

static const char *const doc = "{\"a\":1,\"b\":{\"c\":\"x\",\"d\":[10,20,30]},"
			       "\"key with space\":true,\"arr\":[{\"id\":\"p\"},{\"id\":\"q\"}]}";

/* ---- selection ---- */

static void root_selects_whole_document(void **state)
{
	(void)state;
	expect_picks("[1,{\"b\":2,\"a\":1}]", "$", "[1,{\"a\":1,\"b\":2}]", NULL);
}

static void dotted_key_selects_member(void **state)
{
	(void)state;
	expect_picks(doc, "$.a", "1", NULL);
	expect_picks(doc, "$.b.c", "x", NULL);
}

static void quoted_key_selects_member(void **state)
{
	(void)state;
	expect_picks(doc, "$['key with space']", "true", NULL);
	expect_picks(doc, "$[\"b\"]['c']", "x", NULL);
	expect_picks("{\"it's\":5}", "$['it\\'s']", "5", NULL);
}

static void index_selects_element(void **state)
{
	(void)state;
	expect_picks(doc, "$.b.d[0]", "10", NULL);
	expect_picks(doc, "$.b.d[2]", "30", NULL);
	expect_picks(doc, "$.arr[1].id", "q", NULL);
}

static void wildcard_selects_every_array_element(void **state)
{
	(void)state;
	expect_picks(doc, "$.b.d[*]", "10", "20", "30", NULL);
	expect_picks(doc, "$.arr[*].id", "p", "q", NULL);
}

static void wildcard_selects_every_object_value_in_order(void **state)
{
	(void)state;
	expect_picks("{\"z\":1,\"a\":2,\"m\":3}", "$[*]", "1", "2", "3", NULL);
}

static void nested_wildcards_select_whatsapp_ids_in_order(void **state)
{
	const char *body =
	    "{\"object\":\"whatsapp_business_account\",\"entry\":["
	    "{\"id\":\"WABA1\",\"changes\":["
	    "{\"field\":\"messages\",\"value\":{\"messaging_product\":\"whatsapp\","
	    "\"messages\":[{\"from\":\"15551234567\",\"id\":\"wamid.A1\",\"type\":\"text\"},"
	    "{\"from\":\"15551234567\",\"id\":\"wamid.A2\",\"type\":\"text\"}]}},"
	    "{\"field\":\"messages\",\"value\":{\"statuses\":[{\"id\":\"wamid.S1\","
	    "\"status\":\"delivered\"}]}}]},"
	    "{\"id\":\"WABA2\",\"changes\":["
	    "{\"field\":\"messages\",\"value\":{\"messages\":[{\"id\":\"wamid.B1\"}]}}]}]}";

	(void)state;
	expect_picks(body, "$.entry[*].changes[*].value.messages[*].id", "wamid.A1", "wamid.A2",
		     "wamid.B1", NULL);
	expect_picks(body, "$.entry[*].changes[*].value.statuses[*].id", "wamid.S1", NULL);
}

static void missing_key_or_index_selects_nothing(void **state)
{
	(void)state;
	expect_picks(doc, "$.nope", NULL);
	expect_picks(doc, "$.b.nope.deeper", NULL);
	expect_picks(doc, "$.b.d[3]", NULL);
	expect_picks("[]", "$[*]", NULL);
}

static void type_mismatch_selects_nothing(void **state)
{
	(void)state;
	expect_picks(doc, "$.a.b", NULL);    /* key on a number */
	expect_picks(doc, "$.b[0]", NULL);   /* index on an object */
	expect_picks(doc, "$.b.d.x", NULL);  /* key on an array */
	expect_picks(doc, "$.b.c[*]", NULL); /* wildcard on a string */
	expect_picks(doc, "$.a[*]", NULL);   /* wildcard on a number */
}

static void callback_stops_the_walk(void **state)
{
	struct picks p = {.stop_at = 2};
	struct hg_jsonpath *path;
	json_t *root = json_loads("[1,2,3,4]", 0, NULL);

	(void)state;
	assert_non_null(root);
	path = hg_jsonpath_compile("$[*]", NULL, 0);
	assert_non_null(path);
	assert_int_equal(hg_jsonpath_each(path, root, collect, &p), 42);
	assert_int_equal(p.n, 2);
	assert_string_equal(p.text[1], "2");
	assert_int_equal(hg_jsonpath_each(path, NULL, collect, &p), 0);
	picks_free(&p);
	hg_jsonpath_free(path);
	json_decref(root);
}

/* ---- compile errors ---- */

static void rejects_empty_path(void **state)
{
	(void)state;
	expect_compile_error("");
	assert_null(hg_jsonpath_compile(NULL, NULL, 0));
}

static void rejects_path_without_root(void **state)
{
	(void)state;
	expect_compile_error("entry");
	expect_compile_error(".entry");
}

static void rejects_dot_without_key(void **state)
{
	(void)state;
	expect_compile_error("$.");
	expect_compile_error("$.a.");
	expect_compile_error("$.a.[0]");
}

static void rejects_unterminated_bracket(void **state)
{
	(void)state;
	expect_compile_error("$[");
	expect_compile_error("$[0");
	expect_compile_error("$['a'");
	expect_compile_error("$['a");
}

static void rejects_bad_bracket_content(void **state)
{
	(void)state;
	expect_compile_error("$[x]");
	expect_compile_error("$[]");
	expect_compile_error("$[0x1]");
	expect_compile_error("$[1 ]");
	expect_compile_error("$[99999999999999999999999]");
}

static void rejects_negative_index(void **state)
{
	(void)state;
	expect_compile_error("$[-1]");
}

static void rejects_recursive_descent(void **state)
{
	(void)state;
	expect_compile_error("$..a");
}

static void rejects_unsupported_syntax(void **state)
{
	(void)state;
	expect_compile_error("$.*");
	expect_compile_error("$a");
	expect_compile_error("$.a b");
	expect_compile_error("$[?(@.a)]");
}

static void compile_error_reason_is_bounded(void **state)
{
	char err[8];

	(void)state;
	memset(err, 'z', sizeof(err));
	assert_null(hg_jsonpath_compile("$[x]", err, sizeof(err)));
	assert_int_equal(strlen(err), sizeof(err) - 1);
}

/* ---- scalar text ---- */

static void scalar_text_of(json_t *v, const char *want)
{
	char *s = hg_jsonpath_scalar_text(v);

	assert_non_null(s);
	assert_string_equal(s, want);
	free(s);
	json_decref(v);
}

static void scalar_text_of_string_is_raw(void **state)
{
	(void)state;
	scalar_text_of(json_string("wamid.HBgL\"x\""), "wamid.HBgL\"x\"");
}

static void scalar_text_of_integer(void **state)
{
	(void)state;
	scalar_text_of(json_integer(15551234567LL), "15551234567");
	scalar_text_of(json_integer(-3), "-3");
}

static void scalar_text_of_real(void **state)
{
	(void)state;
	scalar_text_of(json_real(1.5), "1.5");
	scalar_text_of(json_real(0.1), "0.1");
	scalar_text_of(json_real(2.0), "2.0");
}

static void scalar_text_of_true_false_null(void **state)
{
	(void)state;
	scalar_text_of(json_true(), "true");
	scalar_text_of(json_false(), "false");
	scalar_text_of(json_null(), "null");
}

static void scalar_text_of_object_is_compact_and_sorted(void **state)
{
	(void)state;
	scalar_text_of(json_pack("{s:i,s:[i,s],s:{}}", "b", 1, "a", 2, "x", "c"),
		       "{\"a\":[2,\"x\"],\"b\":1,\"c\":{}}");
}

static void scalar_text_of_null_pointer_is_null(void **state)
{
	(void)state;
	assert_null(hg_jsonpath_scalar_text(NULL));
}

/* ---- the streaming scan ---- */

static const char *const whatsapp =
    "{\"object\":\"whatsapp_business_account\",\"entry\":[{\"id\":\"1\",\"changes\":["
    "{\"value\":{\"messaging_product\":\"whatsapp\",\"metadata\":{\"phone_number_id\":\"9\"},"
    "\"messages\":[{\"from\":\"1650\",\"id\":\"wamid.A\",\"timestamp\":\"17\",\"type\":\"text\","
    "\"text\":{\"body\":\"hi\"}},{\"id\":\"wamid.B\",\"n\":1.5}],"
    "\"statuses\":[{\"id\":\"wamid.S\",\"status\":\"read\"}]},\"field\":\"messages\"},"
    "{\"value\":{\"messages\":[{\"id\":\"wamid.C\"}]}}]}]}";

static void scan_reads_whatsapp_ids_of_two_paths_in_one_pass(void **state)
{
	char err[160];
	struct hg_jsonpath *paths[2];
	struct scanned sc = {0};

	(void)state;
	paths[0] =
	    hg_jsonpath_compile("$.entry[*].changes[*].value.messages[*].id", err, sizeof(err));
	paths[1] =
	    hg_jsonpath_compile("$.entry[*].changes[*].value.statuses[*].id", err, sizeof(err));
	assert_non_null(paths[0]);
	assert_non_null(paths[1]);
	assert_int_equal(hg_jsonpath_scan((const struct hg_jsonpath *const *)paths, 2,
					  (const uint8_t *)whatsapp, strlen(whatsapp), collect_scan,
					  &sc),
			 HG_JSONPATH_SCAN_OK);
	assert_int_equal(sc.n, 4); /* document order, each with its path */
	assert_string_equal(sc.text[0], "wamid.A");
	assert_int_equal(sc.path[0], 0);
	assert_string_equal(sc.text[1], "wamid.B");
	assert_int_equal(sc.path[1], 0);
	assert_string_equal(sc.text[2], "wamid.S");
	assert_int_equal(sc.path[2], 1);
	assert_string_equal(sc.text[3], "wamid.C");
	assert_int_equal(sc.path[3], 0);
	scanned_free(&sc);
	hg_jsonpath_free(paths[0]);
	hg_jsonpath_free(paths[1]);
}

static void scan_agrees_with_the_tree_where_it_decides(void **state)
{
	(void)state;
	assert_int_equal(scan_agrees(whatsapp, "$.entry[0].changes[1].value.messages[0].id"),
			 HG_JSONPATH_SCAN_OK);
	assert_int_equal(scan_agrees(whatsapp, "$.entry[*].id"), HG_JSONPATH_SCAN_OK);
	assert_int_equal(scan_agrees(whatsapp, "$.nope[*].id"), HG_JSONPATH_SCAN_OK);
	assert_int_equal(scan_agrees("[1, -2, true, false, null, \"x\", [3]]", "$[*]"),
			 HG_JSONPATH_SCAN_FALLBACK); /* [3] is selected: jansson renders it */
	assert_int_equal(scan_agrees("[1, -2, true, false, null, \"x\"]", "$[*]"),
			 HG_JSONPATH_SCAN_OK);
	assert_int_equal(scan_agrees("{\"a\":[[0,1],[2,[3,4]]],\"b\":1}", "$.a[1][1][0]"),
			 HG_JSONPATH_SCAN_OK);
	assert_int_equal(scan_agrees("{\"a\":[[0,1],[2,[3,4]]],\"b\":1}", "$.a[*][0]"),
			 HG_JSONPATH_SCAN_OK);
	assert_int_equal(scan_agrees("\"top\"", "$"), HG_JSONPATH_SCAN_OK);
	assert_int_equal(scan_agrees("42", "$"), HG_JSONPATH_SCAN_OK);
	assert_int_equal(scan_agrees("{\"id\":\"\"}", "$.id"), HG_JSONPATH_SCAN_OK);
	/* reals, objects and duplicate keys off the path do not matter */
	assert_int_equal(
	    scan_agrees("{\"x\":1.5,\"o\":{\"k\":1},\"k\":2,\"k\":3,\"id\":7}", "$.id"),
	    HG_JSONPATH_SCAN_OK);
	/* an integer jansson cannot hold: both refuse the text */
	assert_int_equal(scan_agrees("{\"id\":\"a\",\"n\":123456789012345678901234567890}", "$.id"),
			 HG_JSONPATH_SCAN_FALLBACK);
}

static void scan_leaves_what_it_cannot_decide_to_the_tree(void **state)
{
	(void)state;
	/* escapes: jansson refuses \u0000 and lone surrogates, YAJL not */
	assert_int_equal(scan_agrees("{\"id\":\"caf\\u00e9\"}", "$.id"), HG_JSONPATH_SCAN_FALLBACK);
	assert_int_equal(scan_agrees("{\"id\":1.5}", "$.id"), HG_JSONPATH_SCAN_FALLBACK);
	assert_int_equal(scan_agrees("{\"id\":{\"b\":1,\"a\":2}}", "$.id"),
			 HG_JSONPATH_SCAN_FALLBACK);
	assert_int_equal(scan_agrees("{\"id\":[1]}", "$.id"), HG_JSONPATH_SCAN_FALLBACK);
	assert_int_equal(scan_agrees("{\"o\":{\"a\":1,\"b\":2}}", "$.o[*]"),
			 HG_JSONPATH_SCAN_FALLBACK);
	/* jansson keeps the last of two equal keys */
	assert_int_equal(scan_agrees("{\"id\":\"first\",\"id\":\"second\"}", "$.id"),
			 HG_JSONPATH_SCAN_FALLBACK);
	assert_int_equal(scan_agrees("{\"id\":\"a\"", "$.id"), HG_JSONPATH_SCAN_FALLBACK);
	assert_int_equal(scan_agrees("{\"id\":\"a\"} x", "$.id"), HG_JSONPATH_SCAN_FALLBACK);
	assert_int_equal(scan_agrees("{\"id\":\"\xff\"}", "$.id"), HG_JSONPATH_SCAN_FALLBACK);
	assert_int_equal(scan_agrees("not json", "$.id"), HG_JSONPATH_SCAN_FALLBACK);
}

/* Text jansson refuses must never be decided by the scan, though YAJL
 * takes it: bytes after the value that YAJL leaves unread (an unterminated
 * string), and \v or \f, which YAJL skips as whitespace and JSON does not. */
static void scan_refuses_what_json_refuses(void **state)
{
	static const char *const docs[] = {
	    "{\"id\":\"a\"} \"", "{\"id\":\"a\"}\"abc", "{\"id\":\"a\"}\n\"x y", "\"a\" \"",
	    "[\"a\"]\"",         "{\"id\":\"a\"}\f",    "\f{\"id\":\"a\"}",      "{\"id\":\v\"a\"}",
	    "{\"id\"\f:\"a\"}",  "[\"a\",\v\"b\"]",     "{\"id\":\"a\"}\v\"",
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(docs) / sizeof(docs[0]); i++) {
		json_t *root = json_loads(docs[i], JSON_DECODE_ANY, NULL);

		assert_null(root); /* none of them is JSON */
		assert_int_equal(scan_agrees(docs[i], "$.id"), HG_JSONPATH_SCAN_FALLBACK);
		assert_int_equal(scan_agrees(docs[i], "$[*]"), HG_JSONPATH_SCAN_FALLBACK);
	}
	/* JSON's own whitespace after the value is still decided */
	assert_int_equal(scan_agrees("{\"id\":\"a\"} \t\r\n", "$.id"), HG_JSONPATH_SCAN_OK);
	assert_int_equal(scan_agrees(" \t\r\n42 \n", "$"), HG_JSONPATH_SCAN_OK);
	assert_int_equal(scan_agrees("\"top\"\r\n", "$"), HG_JSONPATH_SCAN_OK);
}

/* YAJL checks only the shape of UTF-8 sequences; jansson refuses overlong
 * forms and encoded surrogates, so the scan must leave those to it (found
 * by tests/fuzz/fuzz_dedupe_scan). */
static void scan_refuses_utf8_json_refuses(void **state)
{
	static const char *const docs[] = {
	    "{\"id\":\"\xc0\x80\"}",             /* overlong NUL */
	    "{\"id\":\"\xc1\xbf\"}",             /* overlong '?' */
	    "{\"id\":\"\xe0\x80\xaf\"}",         /* overlong '/' */
	    "{\"id\":\"\xed\xa0\x80\"}",         /* lone high surrogate */
	    "{\"id\":\"\xed\xbf\xbf\"}",         /* lone low surrogate */
	    "{\"id\":\"\xf0\x80\x80\xaf\"}",     /* overlong, 4 bytes */
	    "{\"id\":\"\xf4\x90\x80\x80\"}",     /* above U+10FFFF */
	    "{\"id\":\"a\",\"x\":\"\xc0\x80\"}", /* in a value no path selects */
	    "{\"\xed\xa0\x80\":1,\"id\":\"a\"}", /* in a key */
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(docs) / sizeof(docs[0]); i++) {
		json_t *root = json_loads(docs[i], JSON_DECODE_ANY, NULL);

		assert_null(root);
		assert_int_equal(scan_agrees(docs[i], "$.id"), HG_JSONPATH_SCAN_FALLBACK);
	}
	/* well-formed UTF-8 of every length is still decided */
	assert_int_equal(scan_agrees("{\"id\":\"\xc3\xa9 \xe2\x9d\xa4 \xf0\x9f\x98\x80 "
				     "\xef\xbf\xbf \xf4\x8f\xbf\xbf\"}",
				     "$.id"),
			 HG_JSONPATH_SCAN_OK);
}

static void scan_goes_deeper_than_the_longest_path(void **state)
{
	char deep[400];
	size_t i, n = 0;

	(void)state;
	/* 100 nested arrays beside the selected value */
	n += (size_t)snprintf(deep + n, sizeof(deep) - n, "{\"deep\":");
	for (i = 0; i < 100; i++)
		deep[n++] = '[';
	for (i = 0; i < 100; i++)
		deep[n++] = ']';
	snprintf(deep + n, sizeof(deep) - n, ",\"id\":\"x\"}");
	assert_int_equal(scan_agrees(deep, "$.id"), HG_JSONPATH_SCAN_OK);
	assert_int_equal(scan_agrees(deep, "$.deep[0][0][5]"), HG_JSONPATH_SCAN_OK);
}

static void scan_callback_stops_it(void **state)
{
	char err[160];
	struct hg_jsonpath *p = hg_jsonpath_compile("$[*]", err, sizeof(err));
	struct scanned sc = {.stop_at = 2};

	(void)state;
	assert_non_null(p);
	assert_int_equal(hg_jsonpath_scan((const struct hg_jsonpath *const *)&p, 1,
					  (const uint8_t *)"[\"a\",\"b\",\"c\"]", 13, collect_scan,
					  &sc),
			 HG_JSONPATH_SCAN_STOPPED);
	assert_int_equal(sc.n, 2);
	scanned_free(&sc);
	hg_jsonpath_free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(root_selects_whole_document),
	    cmocka_unit_test(dotted_key_selects_member),
	    cmocka_unit_test(quoted_key_selects_member),
	    cmocka_unit_test(index_selects_element),
	    cmocka_unit_test(wildcard_selects_every_array_element),
	    cmocka_unit_test(wildcard_selects_every_object_value_in_order),
	    cmocka_unit_test(nested_wildcards_select_whatsapp_ids_in_order),
	    cmocka_unit_test(missing_key_or_index_selects_nothing),
	    cmocka_unit_test(type_mismatch_selects_nothing),
	    cmocka_unit_test(callback_stops_the_walk),
	    cmocka_unit_test(rejects_empty_path),
	    cmocka_unit_test(rejects_path_without_root),
	    cmocka_unit_test(rejects_dot_without_key),
	    cmocka_unit_test(rejects_unterminated_bracket),
	    cmocka_unit_test(rejects_bad_bracket_content),
	    cmocka_unit_test(rejects_negative_index),
	    cmocka_unit_test(rejects_recursive_descent),
	    cmocka_unit_test(rejects_unsupported_syntax),
	    cmocka_unit_test(compile_error_reason_is_bounded),
	    cmocka_unit_test(scalar_text_of_string_is_raw),
	    cmocka_unit_test(scalar_text_of_integer),
	    cmocka_unit_test(scalar_text_of_real),
	    cmocka_unit_test(scalar_text_of_true_false_null),
	    cmocka_unit_test(scalar_text_of_object_is_compact_and_sorted),
	    cmocka_unit_test(scalar_text_of_null_pointer_is_null),
	    cmocka_unit_test(scan_reads_whatsapp_ids_of_two_paths_in_one_pass),
	    cmocka_unit_test(scan_agrees_with_the_tree_where_it_decides),
	    cmocka_unit_test(scan_leaves_what_it_cannot_decide_to_the_tree),
	    cmocka_unit_test(scan_refuses_what_json_refuses),
	    cmocka_unit_test(scan_refuses_utf8_json_refuses),
	    cmocka_unit_test(scan_goes_deeper_than_the_longest_path),
	    cmocka_unit_test(scan_callback_stops_it),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
