/*
 * test_api.c — unit tests for the management API's pure helpers
 * (src/api/params.c): Authorization header parsing, pagination cursors,
 * UUID shapes, timestamps, delivery states; and the query-string walker
 * they rely on (src/util/util.c).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "api/api.h"
#include "store/store.h"
#include "util/util.h"

static const char id1[] = "0190b6a2-7c4e-7a1b-9c3d-0123456789ab";

static void assert_bearer(const char *hdr, const char *want)
{
	const char *tok;
	size_t n;

	if (want == NULL) {
		assert_int_equal(hg_api_bearer(hdr, hdr != NULL ? strlen(hdr) : 0, &tok, &n),
				 HG_EINVAL);
		assert_null(tok);
		return;
	}
	assert_int_equal(hg_api_bearer(hdr, strlen(hdr), &tok, &n), HG_OK);
	assert_int_equal(n, strlen(want));
	assert_memory_equal(tok, want, n);
}

static void bearer_header_parsing(void **state)
{
	(void)state;
	assert_bearer("Bearer abc123", "abc123");
	assert_bearer("bearer abc123", "abc123");
	assert_bearer("BEARER   abc123  ", "abc123");
	assert_bearer("\tBearer\tx.y-z_~+/=", "x.y-z_~+/=");
	assert_bearer(NULL, NULL);
	assert_bearer("", NULL);
	assert_bearer("Bearer", NULL);
	assert_bearer("Bearer ", NULL);
	assert_bearer("Bearerabc", NULL);
	assert_bearer("Basic dXNlcjpwYXNz", NULL);
	assert_bearer("Token abc", NULL);
	assert_bearer("Bearer a b", NULL);
	assert_bearer("Bearer a,b", NULL);
	/* only the given length counts, not what follows */
	const char *tok;
	size_t n;
	assert_int_equal(hg_api_bearer("Bearer abcdef", 10, &tok, &n), HG_OK);
	assert_int_equal(n, 3);
	assert_memory_equal(tok, "abc", 3);
}

static void uuid_shapes(void **state)
{
	(void)state;
	assert_true(hg_api_is_uuid(id1, strlen(id1)));
	assert_true(hg_api_is_uuid("0190B6A2-7C4E-7A1B-9C3D-0123456789AB", 36));
	assert_false(hg_api_is_uuid(id1, 35));
	assert_false(hg_api_is_uuid("0190b6a2x7c4e-7a1b-9c3d-0123456789ab", 36));
	assert_false(hg_api_is_uuid("0190b6a2-7c4e-7a1b-9c3d-0123456789ag", 36));
	assert_false(hg_api_is_uuid("../../etc/passwd", 16));
}

static void cursor_round_trip(void **state)
{
	char cur[HG_API_CURSOR_MAX + 1], back[HG_UUID_LEN + 1];

	(void)state;
	assert_int_equal(hg_api_cursor_encode('m', id1, cur, sizeof(cur)), HG_OK);
	/* URL-safe: nothing a query string would need to escape */
	assert_int_equal(
	    strspn(cur, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"),
	    strlen(cur));
	assert_null(strstr(cur, id1)); /* opaque, not the id itself */
	assert_int_equal(hg_api_cursor_decode(cur, strlen(cur), 'm', back), HG_OK);
	assert_string_equal(back, id1);
	/* a cursor of one list is refused by another */
	assert_int_equal(hg_api_cursor_decode(cur, strlen(cur), 'd', back), HG_EINVAL);
}

/* An audit page's cursor carries a row number, and only that list takes it. */
static void cursor_of_audit_rows(void **state)
{
	char cur[HG_API_CURSOR_MAX + 1], back[HG_UUID_LEN + 1];

	(void)state;
	assert_int_equal(hg_api_cursor_encode(HG_API_CURSOR_SEQ, "123456789", cur, sizeof(cur)),
			 HG_OK);
	assert_int_equal(hg_api_cursor_decode(cur, strlen(cur), HG_API_CURSOR_SEQ, back), HG_OK);
	assert_string_equal(back, "123456789");
	assert_int_equal(hg_api_cursor_decode(cur, strlen(cur), 'm', back), HG_EINVAL);
	assert_int_equal(hg_api_cursor_encode(HG_API_CURSOR_SEQ, "12a", cur, sizeof(cur)),
			 HG_EINVAL);
	assert_int_equal(hg_api_cursor_encode(HG_API_CURSOR_SEQ, "0", cur, sizeof(cur)), HG_EINVAL);
	assert_int_equal(hg_api_cursor_encode(HG_API_CURSOR_SEQ, id1, cur, sizeof(cur)), HG_EINVAL);
	assert_int_equal(hg_api_cursor_encode('m', id1, cur, sizeof(cur)), HG_OK);
	assert_int_equal(hg_api_cursor_decode(cur, strlen(cur), HG_API_CURSOR_SEQ, back),
			 HG_EINVAL);
}

static void cursor_refuses_garbage(void **state)
{
	char cur[HG_API_CURSOR_MAX + 1], back[HG_UUID_LEN + 1], bad[HG_API_CURSOR_MAX + 1];
	char long_cur[HG_API_CURSOR_MAX + 2];

	(void)state;
	assert_int_equal(hg_api_cursor_encode('m', "not-a-uuid", cur, sizeof(cur)), HG_EINVAL);
	assert_int_equal(hg_api_cursor_encode('m', id1, cur, 10), HG_ETOOBIG);
	assert_int_equal(hg_api_cursor_encode('m', id1, cur, sizeof(cur)), HG_OK);
	/* one changed character breaks the id or the kind */
	for (size_t i = 0; i < strlen(cur); i++) {
		memcpy(bad, cur, sizeof(bad));
		bad[i] = bad[i] == 'A' ? 'B' : 'A';
		if (hg_api_cursor_decode(bad, strlen(bad), 'm', back) == HG_OK)
			assert_true(hg_api_is_uuid(back, strlen(back)) && strcmp(back, id1) != 0);
	}
	assert_int_equal(hg_api_cursor_decode("", 0, 'm', back), HG_EINVAL);
	assert_int_equal(hg_api_cursor_decode("!!!!", 4, 'm', back), HG_EINVAL);
	assert_int_equal(hg_api_cursor_decode(cur, strlen(cur) - 2, 'm', back), HG_EINVAL);
	assert_int_equal(hg_api_cursor_decode(id1, strlen(id1), 'm', back), HG_EINVAL);
	memset(long_cur, 'A', sizeof(long_cur) - 1);
	long_cur[sizeof(long_cur) - 1] = '\0';
	assert_int_equal(hg_api_cursor_decode(long_cur, strlen(long_cur), 'm', back), HG_EINVAL);
	/* standard base64 characters are not what we write */
	assert_int_equal(hg_api_cursor_decode("bTowMTkw+/==", 12, 'm', back), HG_EINVAL);
}

/* Cursors sort like the ids they carry do not matter: only round trips. */
static void cursors_of_many_ids_round_trip(void **state)
{
	char id[HG_UUID_LEN + 1], cur[HG_API_CURSOR_MAX + 1], back[HG_UUID_LEN + 1];

	(void)state;
	for (int i = 0; i < 1000; i++) {
		hg_uuid7(id);
		assert_int_equal(hg_api_cursor_encode('d', id, cur, sizeof(cur)), HG_OK);
		assert_int_equal(hg_api_cursor_decode(cur, strlen(cur), 'd', back), HG_OK);
		assert_string_equal(back, id);
	}
}

static void assert_time(const char *s, int64_t want)
{
	int64_t ms = -12345;

	assert_int_equal(hg_api_parse_time(s, &ms), HG_OK);
	assert_int_equal(ms, want);
}

static void times(void **state)
{
	int64_t ms;

	(void)state;
	assert_time("1705314600123", 1705314600123LL);
	assert_time("0", 0);
	assert_time("2024-01-15", 1705276800000LL);
	assert_time("2024-01-15T10:30:00Z", 1705314600000LL);
	assert_time("2024-01-15T10:30Z", 1705314600000LL);
	assert_time("2024-01-15T10:30:00.123Z", 1705314600123LL);
	assert_time("2024-01-15T10:30:00.5Z", 1705314600500LL);
	assert_time("2024-01-15T12:30:00+02:00", 1705314600000LL);
	assert_time("2024-01-15T05:30:00-05:00", 1705314600000LL);
	assert_time("2024-01-15 10:30:00", 1705314600000LL);
	assert_int_equal(hg_api_parse_time("", &ms), HG_EINVAL);
	assert_int_equal(hg_api_parse_time("yesterday", &ms), HG_EINVAL);
	assert_int_equal(hg_api_parse_time("2024-13-01", &ms), HG_EINVAL);
	assert_int_equal(hg_api_parse_time("2024-01-15T25:00Z", &ms), HG_EINVAL);
	assert_int_equal(hg_api_parse_time("2024-01-15T10:30:00.Z", &ms), HG_EINVAL);
	assert_int_equal(hg_api_parse_time("2024-01-15T10:30:00Zjunk", &ms), HG_EINVAL);
	assert_int_equal(hg_api_parse_time("-5", &ms), HG_EINVAL);
	assert_int_equal(hg_api_parse_time("99999999999999999999", &ms), HG_EINVAL);
}

static void statuses(void **state)
{
	(void)state;
	static const char *const names[] = {"pending", "delivering", "succeeded", "failed", "dead"};
	for (int i = 0; i < 5; i++) {
		int st = hg_api_status_parse(names[i]);
		assert_true(st > 0);
		assert_string_equal(hg_api_status_name(st), names[i]);
	}
	assert_int_equal(hg_api_status_parse("none"), HG_STORE_NO_DELIVERIES);
	assert_string_equal(hg_api_status_name(HG_STORE_NO_DELIVERIES), "none");
	assert_int_equal(hg_api_status_parse("DEAD"), -1);
	assert_int_equal(hg_api_status_parse("delivered"), -1);
	assert_int_equal(hg_api_status_parse(""), -1);
	assert_string_equal(hg_api_status_name(99), "none");
}

static void query_walk_and_get(void **state)
{
	const char q[] = "a=1&&b&c=x%20y+z&a=2&=v";
	const char *p = q, *end = q + strlen(q), *k, *v;
	size_t kl, vl;
	char out[16];

	(void)state;
	assert_true(hg_query_next(&p, end, &k, &kl, &v, &vl));
	assert_int_equal(kl, 1);
	assert_memory_equal(k, "a", 1);
	assert_memory_equal(v, "1", vl);
	assert_true(hg_query_next(&p, end, &k, &kl, &v, &vl)); /* the empty one is skipped */
	assert_memory_equal(k, "b", kl);
	assert_int_equal(vl, 0);
	assert_true(hg_query_next(&p, end, &k, &kl, &v, &vl));
	assert_memory_equal(k, "c", kl);
	assert_true(hg_query_next(&p, end, &k, &kl, &v, &vl));
	assert_true(hg_query_next(&p, end, &k, &kl, &v, &vl));
	assert_int_equal(kl, 0);
	assert_false(hg_query_next(&p, end, &k, &kl, &v, &vl));

	assert_int_equal(hg_query_get(q, strlen(q), "c", out, sizeof(out)), 5);
	assert_string_equal(out, "x y z");
	assert_int_equal(hg_query_get(q, strlen(q), "a", out, sizeof(out)), 1);
	assert_string_equal(out, "1");
	assert_int_equal(hg_query_get(q, strlen(q), "b", out, sizeof(out)), 0);
	assert_int_equal(hg_query_get(q, strlen(q), "d", out, sizeof(out)), -1);
	assert_int_equal(hg_query_get(q, strlen(q), "c", out, 4), -1);
	assert_int_equal(hg_query_get(NULL, 0, "a", out, sizeof(out)), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(bearer_header_parsing),
	    cmocka_unit_test(uuid_shapes),
	    cmocka_unit_test(cursor_round_trip),
	    cmocka_unit_test(cursor_refuses_garbage),
	    cmocka_unit_test(cursor_of_audit_rows),
	    cmocka_unit_test(cursors_of_many_ids_round_trip),
	    cmocka_unit_test(times),
	    cmocka_unit_test(statuses),
	    cmocka_unit_test(query_walk_and_get),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
