/*
 * test_outsign.c — unit tests for src/deliver/outsign.c: subscription
 * secrets (shape, randomness, the whsec_ form) and the signature headers of
 * an outbound delivery, against the clipper vector of docs/providers.md (the
 * same key bytes give X-Webhook-Signature and webhook-signature), with and
 * without a grace-period second secret.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "deliver/deliver.h"
#include "util/util.h"

static const char vec_secret[] = "a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f90";
static const char vec_body[] =
    "{\"event\":\"clip.submitted\",\"timestamp\":\"2024-01-15T10:30:00Z\",\"data\":{\"submission_"
    "id\":\"550e8400-e29b-41d4-a716-446655440002\"}}";

static void test_secret_new(void **state)
{
	char a[HG_OUTBOUND_SECRET_LEN + 1], b[HG_OUTBOUND_SECRET_LEN + 1];

	(void)state;
	assert_int_equal(hg_outbound_secret_new(a), HG_OK);
	assert_int_equal(hg_outbound_secret_new(b), HG_OK);
	assert_int_equal(strlen(a), HG_OUTBOUND_SECRET_LEN);
	assert_true(hg_outbound_secret_valid(a, strlen(a)));
	assert_true(hg_outbound_secret_valid(b, strlen(b)));
	assert_string_not_equal(a, b);
}

static void test_secret_valid(void **state)
{
	char upper[HG_OUTBOUND_SECRET_LEN + 1];

	(void)state;
	assert_true(hg_outbound_secret_valid(vec_secret, 64));
	assert_false(hg_outbound_secret_valid(vec_secret, 63));
	assert_false(hg_outbound_secret_valid(NULL, 64));
	assert_false(hg_outbound_secret_valid("xyz", 3));
	memcpy(upper, vec_secret, sizeof(upper));
	upper[0] = 'A';
	assert_false(hg_outbound_secret_valid(upper, 64));
	upper[0] = 'g';
	assert_false(hg_outbound_secret_valid(upper, 64));
}

static void test_whsec(void **state)
{
	char w[HG_OUTBOUND_WHSEC_LEN + 1];

	(void)state;
	assert_int_equal(hg_outbound_secret_whsec(vec_secret, w), HG_OK);
	assert_string_equal(w,
			    "whsec_YTFiMmMzZDRlNWY2MDcxODI5M2E0YjVjNmQ3ZThmOTBhMWIyYzNkNGU1ZjYwNzE4"
			    "MjkzYTRiNWM2ZDdlOGY5MA==");
	assert_int_equal(strlen(w), HG_OUTBOUND_WHSEC_LEN);
	assert_int_equal(hg_outbound_secret_whsec("short", w), HG_EINVAL);
	assert_int_equal(hg_outbound_secret_whsec(NULL, w), HG_EINVAL);
}

static void test_sign_vector(void **state)
{
	struct hg_outbound_sig s;

	(void)state;
	assert_int_equal(hg_outbound_sign(vec_secret, NULL, "550e8400-e29b-41d4-a716-446655440001",
					  1705314600, (const uint8_t *)vec_body, strlen(vec_body),
					  &s),
			 HG_OK);
	assert_string_equal(s.clipper,
			    "c6bf2b29e5e04c7b4be87929d5780922b4ce9a57faf6f38f45d0d179c6652f9f");
	assert_string_equal(s.webhook_id, "550e8400-e29b-41d4-a716-446655440001");
	assert_string_equal(s.webhook_timestamp, "1705314600");
	assert_string_equal(s.webhook_signature, "v1,AHluz4NzMKwRAiXV0XkLc7vJtvBJ2KbAmHGcESanMbk=");
}

/* During a grace period both secrets sign webhook-signature, new first. */
static void test_sign_grace(void **state)
{
	static const char other[] =
	    "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
	struct hg_outbound_sig s, alone;

	(void)state;
	assert_int_equal(hg_outbound_sign(other, vec_secret, "550e8400-e29b-41d4-a716-446655440001",
					  1705314600, (const uint8_t *)vec_body, strlen(vec_body),
					  &s),
			 HG_OK);
	assert_int_equal(hg_outbound_sign(other, NULL, "550e8400-e29b-41d4-a716-446655440001",
					  1705314600, (const uint8_t *)vec_body, strlen(vec_body),
					  &alone),
			 HG_OK);
	/* the hex header: the new secret's */
	assert_string_equal(s.clipper, alone.clipper);
	assert_string_not_equal(s.clipper,
				"c6bf2b29e5e04c7b4be87929d5780922b4ce9a57faf6f38f45d0d179c6652f9f");
	{
		char want[sizeof(s.webhook_signature)];

		int n = snprintf(
		    want, sizeof(want),
		    "%s v1,AHluz4NzMKwRAiXV0XkLc7vJtvBJ2KbAmHGcESanMbk=", alone.webhook_signature);

		assert_true(n > 0 && (size_t)n < sizeof(want));
		assert_string_equal(s.webhook_signature, want);
	}
}

static void test_sign_bad_input(void **state)
{
	struct hg_outbound_sig s;
	char long_id[80];

	(void)state;
	assert_int_equal(hg_outbound_sign("nothex", NULL, "id", 1, (const uint8_t *)"x", 1, &s),
			 HG_EINVAL);
	assert_int_equal(hg_outbound_sign(vec_secret, "bad", "id", 1, (const uint8_t *)"x", 1, &s),
			 HG_EINVAL);
	assert_int_equal(hg_outbound_sign(vec_secret, NULL, NULL, 1, (const uint8_t *)"x", 1, &s),
			 HG_EINVAL);
	memset(long_id, 'a', sizeof(long_id) - 1);
	long_id[sizeof(long_id) - 1] = '\0';
	assert_int_equal(
	    hg_outbound_sign(vec_secret, NULL, long_id, 1, (const uint8_t *)"x", 1, &s), HG_EINVAL);
	/* an empty body is a body */
	assert_int_equal(hg_outbound_sign(vec_secret, NULL, "id", 1, (const uint8_t *)"", 0, &s),
			 HG_OK);
	assert_int_equal(strlen(s.clipper), 64);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_secret_new), cmocka_unit_test(test_secret_valid),
	    cmocka_unit_test(test_whsec),      cmocka_unit_test(test_sign_vector),
	    cmocka_unit_test(test_sign_grace), cmocka_unit_test(test_sign_bad_input),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
