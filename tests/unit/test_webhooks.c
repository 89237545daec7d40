/*
 * test_webhooks.c — unit tests for src/api/webhooks.c: event types and
 * patterns, the create/patch/publish/api-key/regenerate bodies, paging
 * parameters, and the seed-003 shapes of the answers (envelope, a
 * subscription without its secret, delivery history words, meta).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "api/webhooks.h"
#include "util/util.h"

static const char *const types[] = {"clip.submitted", "clip.approved", "clip.rejected"};
#define NTYPES 3

static void test_event_rules(void **state)
{
	(void)state;
	assert_true(hg_deliver_event_name_ok("clip.submitted", 14));
	assert_true(hg_deliver_event_name_ok("a", 1));
	assert_false(hg_deliver_event_name_ok("Clip.submitted", 14));
	assert_false(hg_deliver_event_name_ok("clip..x", 7));
	assert_false(hg_deliver_event_name_ok(".clip", 5));
	assert_false(hg_deliver_event_name_ok("clip.", 5));
	assert_false(hg_deliver_event_name_ok("clip *", 6));
	assert_false(hg_deliver_event_name_ok("", 0));

	assert_true(hg_deliver_event_matches("clip.*", "clip.submitted"));
	assert_true(hg_deliver_event_matches("*", "clip.submitted"));
	assert_true(hg_deliver_event_matches("clip.submitted", "clip.submitted"));
	assert_false(hg_deliver_event_matches("clip.*", "clip"));
	assert_false(hg_deliver_event_matches("clip.*", "clipper.x"));
	assert_false(hg_deliver_event_matches("clip.approved", "clip.submitted"));

	assert_true(hg_webhook_pattern_allowed("clip.approved", types, NTYPES));
	assert_true(hg_webhook_pattern_allowed("clip.*", types, NTYPES));
	assert_true(hg_webhook_pattern_allowed("*", types, NTYPES));
	assert_false(hg_webhook_pattern_allowed("user.*", types, NTYPES));
	assert_false(hg_webhook_pattern_allowed("clip.deleted", types, NTYPES));
	/* hookgate's own events can be subscribed to whatever event_types lists */
	assert_true(hg_webhook_pattern_allowed("hookgate.*", types, NTYPES));
	assert_true(hg_webhook_pattern_allowed("hookgate.endpoint.circuit_open", types, NTYPES));
	assert_false(hg_webhook_pattern_allowed("clip*", types, NTYPES));
	assert_false(hg_webhook_pattern_allowed("*.submitted", types, NTYPES));
	/* nothing configured: any well-formed type or pattern */
	assert_true(hg_webhook_pattern_allowed("user.created", NULL, 0));
	assert_true(hg_webhook_pattern_allowed("user.*", NULL, 0));
	assert_false(hg_webhook_pattern_allowed("User", NULL, 0));

	assert_true(hg_webhook_type_allowed("clip.rejected", types, NTYPES));
	assert_false(hg_webhook_type_allowed("clip.*", types, NTYPES));
	assert_false(hg_webhook_type_allowed("clip.other", types, NTYPES));
	assert_true(hg_webhook_type_allowed("clip.other", NULL, 0));
	assert_false(hg_webhook_type_allowed("*", NULL, 0));
}

static int parse(const char *body, int patch, struct hg_webhook_input *in, char *err)
{
	return hg_webhook_parse((const uint8_t *)body, strlen(body), patch, types, NTYPES, in, err,
				256);
}

static void test_parse_create(void **state)
{
	struct hg_webhook_input in;
	char err[256];

	(void)state;
	assert_int_equal(parse("{\"url\":\"https://example.com/h\",\"events\":[\"clip.submitted\","
			       "\"clip.*\",\"clip.submitted\"],\"description\":\"Prod\"}",
			       0, &in, err),
			 HG_OK);
	assert_string_equal(in.url, "https://example.com/h");
	assert_int_equal(in.n_events, 2); /* the repeat is dropped */
	assert_string_equal(in.events[1], "clip.*");
	assert_string_equal(in.description, "Prod");
	assert_true(in.is_active);
	hg_webhook_input_free(&in);

	static const char *const bad[] = {
	    "",
	    "[]",
	    "{",
	    "{\"events\":[\"clip.submitted\"]}",
	    "{\"url\":\"https://e.com\"}",
	    "{\"url\":\"https://e.com\",\"events\":[]}",
	    "{\"url\":\"https://e.com\",\"events\":\"clip.submitted\"}",
	    "{\"url\":\"https://e.com\",\"events\":[\"clip.deleted\"]}",
	    "{\"url\":\"https://e.com\",\"events\":[1]}",
	    "{\"url\":42,\"events\":[\"clip.submitted\"]}",
	    "{\"url\":\"\",\"events\":[\"clip.submitted\"]}",
	    "{\"url\":\"https://e.com\",\"events\":[\"clip.submitted\"],\"secret\":\"x\"}",
	    "{\"url\":\"https://e.com\",\"events\":[\"clip.submitted\"],\"description\":5}",
	    "{\"url\":\"https://e.com\",\"url\":\"https://f.com\",\"events\":[\"clip.approved\"]}",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		if (parse(bad[i], 0, &in, err) != HG_EINVAL)
			fail_msg("expected %s to be refused", bad[i]);
		assert_true(err[0] != '\0');
	}
	assert_int_equal(
	    parse("{\"url\":\"https://e.com\",\"events\":[\"clip.deleted\"]}", 0, &in, err),
	    HG_EINVAL);
	assert_non_null(strstr(err, "clip.submitted, clip.approved, clip.rejected"));
}

static void test_parse_patch(void **state)
{
	struct hg_webhook_input in;
	char err[256];

	(void)state;
	assert_int_equal(parse("{\"is_active\":false}", 1, &in, err), HG_OK);
	assert_true(in.has_active);
	assert_false(in.is_active);
	assert_false(in.has_url);
	hg_webhook_input_free(&in);
	assert_int_equal(parse("{\"description\":null,\"events\":[\"*\"]}", 1, &in, err), HG_OK);
	assert_true(in.has_description);
	assert_null(in.description);
	assert_int_equal(in.n_events, 1);
	hg_webhook_input_free(&in);
	assert_int_equal(parse("{}", 1, &in, err), HG_EINVAL);
	assert_int_equal(parse("{\"is_active\":\"yes\"}", 1, &in, err), HG_EINVAL);
}

static void test_parse_publish(void **state)
{
	struct hg_webhook_publish p;
	char err[256];
	const char *ok = "{\"event\":\"clip.approved\",\"data\":{\"a\":1},\"owner_id\":\"u-1\","
			 "\"idempotency_key\":\"k1\"}";

	(void)state;
	assert_int_equal(hg_webhook_parse_publish((const uint8_t *)ok, strlen(ok), types, NTYPES,
						  &p, err, sizeof(err)),
			 HG_OK);
	assert_string_equal(p.event, "clip.approved");
	assert_string_equal(p.owner_id, "u-1");
	assert_string_equal(p.idempotency_key, "k1");
	assert_true(json_is_object(p.data));
	hg_webhook_publish_free(&p);

	static const char *const bad[] = {
	    "{\"data\":{}}",
	    "{\"event\":\"clip.approved\"}",
	    "{\"event\":\"clip.*\",\"data\":{}}",
	    "{\"event\":\"clip.other\",\"data\":{}}",
	    "{\"event\":\"clip.approved\",\"data\":{},\"owner_id\":\"a b\"}",
	    "{\"event\":\"clip.approved\",\"data\":{},\"idempotency_key\":\"\"}",
	    "{\"event\":\"clip.approved\",\"data\":{},\"extra\":1}",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (hg_webhook_parse_publish((const uint8_t *)bad[i], strlen(bad[i]), types, NTYPES,
					     &p, err, sizeof(err)) != HG_EINVAL)
			fail_msg("expected %s to be refused", bad[i]);
}

static void test_delivery_body(void **state)
{
	struct hg_buf b = {0};
	json_t *data = json_pack("{s:s}", "submission_id", "550e8400-e29b-41d4-a716-446655440002");

	(void)state;
	assert_int_equal(hg_deliver_event_body("clip.submitted", 1705314600000LL, data, &b), HG_OK);
	assert_string_equal(
	    (char *)b.data,
	    "{\"event\":\"clip.submitted\",\"timestamp\":\"2024-01-15T10:30:00.000Z\","
	    "\"data\":{\"submission_id\":\"550e8400-e29b-41d4-a716-446655440002\"}}");
	json_decref(data);
	hg_buf_free(&b);
}

static int regen(const char *body, int64_t *grace, char *err, size_t errlen)
{
	return hg_webhook_parse_regenerate((const uint8_t *)body, strlen(body), grace, err, errlen);
}

static void test_api_key_and_regenerate(void **state)
{
	char owner[HG_WEBHOOK_OWNER_MAX + 1], err[256];
	int role;
	int64_t grace;
	const char *b1 = "{\"owner_id\":\"123e4567-e89b-12d3-a456-426614174000\"}";
	const char *b2 = "{\"owner_id\":\"team-core\",\"role\":\"publisher\"}";
	const char *b3 = "{\"role\":\"owner\"}";
	const char *b4 = "{\"owner_id\":\"x\",\"role\":\"admin\"}";

	(void)state;
	assert_int_equal(hg_webhook_parse_api_key((const uint8_t *)b1, strlen(b1), owner, &role,
						  err, sizeof(err)),
			 HG_OK);
	assert_string_equal(owner, "123e4567-e89b-12d3-a456-426614174000");
	assert_int_equal(role, HG_ROLE_OWNER);
	assert_int_equal(hg_webhook_parse_api_key((const uint8_t *)b2, strlen(b2), owner, &role,
						  err, sizeof(err)),
			 HG_OK);
	assert_int_equal(role, HG_ROLE_PUBLISHER);
	assert_string_equal(hg_webhook_role_name(role), "publisher");
	assert_int_equal(hg_webhook_parse_api_key((const uint8_t *)b3, strlen(b3), owner, &role,
						  err, sizeof(err)),
			 HG_EINVAL);
	assert_int_equal(hg_webhook_parse_api_key((const uint8_t *)b4, strlen(b4), owner, &role,
						  err, sizeof(err)),
			 HG_EINVAL);

	assert_int_equal(regen("", &grace, err, 256), HG_OK);
	assert_int_equal(grace, 0);
	assert_int_equal(regen("{\"grace_period\":\"24h\"}", &grace, err, 256), HG_OK);
	assert_int_equal(grace, 24LL * 3600 * 1000);
	assert_int_equal(regen("{\"grace_period\":60}", &grace, err, 256), HG_OK);
	assert_int_equal(grace, 60000);
	assert_int_equal(regen("{\"grace_period\":\"8d\"}", &grace, err, 256), HG_EINVAL);
	assert_int_equal(regen("{\"grace\":1}", &grace, err, 256), HG_EINVAL);
}

static void test_page(void **state)
{
	int64_t page, limit;
	char err[256];

	(void)state;
	assert_int_equal(hg_webhook_parse_page(NULL, 0, &page, &limit, err, sizeof(err)), HG_OK);
	assert_int_equal(page, 1);
	assert_int_equal(limit, 20);
	assert_int_equal(
	    hg_webhook_parse_page("page=3&limit=5", 14, &page, &limit, err, sizeof(err)), HG_OK);
	assert_int_equal(page, 3);
	assert_int_equal(limit, 5);
	assert_int_equal(hg_webhook_parse_page("limit=101", 9, &page, &limit, err, sizeof(err)),
			 HG_EINVAL);
	assert_int_equal(hg_webhook_parse_page("page=0", 6, &page, &limit, err, sizeof(err)),
			 HG_EINVAL);
	assert_int_equal(hg_webhook_parse_page("page=", 5, &page, &limit, err, sizeof(err)),
			 HG_EINVAL);
	assert_int_equal(hg_webhook_parse_page("page=-1", 7, &page, &limit, err, sizeof(err)),
			 HG_EINVAL);
	assert_int_equal(hg_webhook_parse_page("page=11111111111111111111111111111", 34, &page,
					       &limit, err, sizeof(err)),
			 HG_EINVAL);
}

static void test_answers(void **state)
{
	struct hg_webhook_view v = {.id = "550e8400-e29b-41d4-a716-446655440000",
				    .owner_id = "u1",
				    .url = "https://e.com/h",
				    .events_json = "[\"clip.submitted\"]",
				    .is_active = 1,
				    .created_ms = 1705314600000LL,
				    .updated_ms = 1705314600000LL};
	struct hg_webhook_delivery_view d = {.id = "d1",
					     .event_type = "clip.approved",
					     .status = 5,
					     .http_status_code = 500,
					     .error = "HTTP 500",
					     .attempt_count = 5,
					     .created_ms = 1705314600000LL};
	const char *const extra[] = {"secret", "abc", "message", "saved", NULL};
	struct hg_buf b = {0};
	json_t *o, *meta, *arr;

	(void)state;
	o = hg_webhook_view_json(&v);
	assert_non_null(o);
	assert_string_equal(json_string_value(json_object_get(o, "user_id")), "u1");
	assert_true(json_is_null(json_object_get(o, "last_delivery_at")));
	assert_true(json_is_null(json_object_get(o, "description")));
	assert_string_equal(json_string_value(json_object_get(o, "created_at")),
			    "2024-01-15T10:30:00.000Z");
	assert_null(json_object_get(o, "secret"));
	assert_int_equal(hg_webhook_envelope(&b, o, NULL, extra), HG_OK);
	assert_non_null(strstr((char *)b.data, "{\"success\":true,\"data\":{\"id\":"));
	assert_non_null(strstr((char *)b.data, "\"secret\":\"abc\",\"message\":\"saved\"}"));
	json_decref(o);
	hg_buf_free(&b);

	assert_string_equal(hg_webhook_delivery_word(3), "delivered");
	assert_string_equal(hg_webhook_delivery_word(5), "failed");
	assert_string_equal(hg_webhook_delivery_word(4), "pending");
	assert_string_equal(hg_webhook_delivery_word(1), "pending");
	o = hg_webhook_delivery_json(&d);
	assert_string_equal(json_string_value(json_object_get(o, "status")), "failed");
	assert_int_equal(json_integer_value(json_object_get(o, "http_status_code")), 500);
	assert_string_equal(json_string_value(json_object_get(o, "error_message")), "HTTP 500");
	assert_null(json_object_get(o, "delivered_at"));
	arr = json_array();
	json_array_append_new(arr, o);
	meta = hg_webhook_meta_json(1, 20, 42);
	assert_int_equal(json_integer_value(json_object_get(meta, "total_pages")), 3);
	assert_int_equal(hg_webhook_envelope(&b, arr, meta, NULL), HG_OK);
	assert_non_null(strstr((char *)b.data, "\"meta\":{\"page\":1,\"limit\":20,\"total\":42,"
					       "\"total_pages\":3}"));
	json_decref(arr);
	json_decref(meta);
	hg_buf_free(&b);

	assert_int_equal(hg_webhook_error(&b, "not \"found\""), HG_OK);
	assert_string_equal((char *)b.data, "{\"success\":false,\"error\":\"not \\\"found\\\"\"}");
	hg_buf_free(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_event_rules),   cmocka_unit_test(test_parse_create),
	    cmocka_unit_test(test_parse_patch),   cmocka_unit_test(test_parse_publish),
	    cmocka_unit_test(test_delivery_body), cmocka_unit_test(test_api_key_and_regenerate),
	    cmocka_unit_test(test_page),          cmocka_unit_test(test_answers),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
