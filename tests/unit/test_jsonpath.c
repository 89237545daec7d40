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
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
