/*
 * test_crypt.c — the sealing of stored values and the keyed hashes of
 * lookup keys (src/crypt): what is sealed opens with any listed key and
 * only for the field it was sealed for, a changed byte anywhere is refused,
 * keys are read in both written forms, and a key's id is the first 8 bytes
 * of its SHA-256.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "crypt/crypt.h"
#include "util/util.h"

static const uint8_t k1[HG_KEY_LEN] = {1, 2, 3};
static const uint8_t k2[HG_KEY_LEN] = {9, 8, 7};

static struct hg_keyring *ring(const uint8_t *a, const uint8_t *b)
{
	uint8_t keys[2][HG_KEY_LEN];
	struct hg_keyring *kr = NULL;
	size_t n = 0;

	memcpy(keys[n++], a, HG_KEY_LEN);
	if (b != NULL)
		memcpy(keys[n++], b, HG_KEY_LEN);
	assert_int_equal(hg_keyring_new((const uint8_t(*)[HG_KEY_LEN])keys, n, &kr), HG_OK);
	return kr;
}

static void test_key_id_and_parse(void **state)
{
	static const char hex[] =
	    "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
	static const char b64[] = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
	uint8_t zero[HG_KEY_LEN] = {0}, got[HG_KEY_LEN], want[HG_KEY_LEN];
	char id[HG_KEY_ID_LEN + 1], why[200];
	size_t i;

	(void)state;
	/* SHA-256 of 32 zero bytes begins 66687aadf862bd77 */
	hg_key_id(zero, id);
	assert_string_equal(id, "66687aadf862bd77");
	for (i = 0; i < HG_KEY_LEN; i++)
		want[i] = (uint8_t)i;
	assert_int_equal(hg_key_parse((const uint8_t *)hex, strlen(hex), got, why, sizeof(why)),
			 HG_OK);
	assert_memory_equal(got, want, HG_KEY_LEN);
	memset(got, 0, sizeof(got));
	assert_int_equal(hg_key_parse((const uint8_t *)b64, strlen(b64), got, why, sizeof(why)),
			 HG_OK);
	assert_memory_equal(got, want, HG_KEY_LEN);
	/* a line break from `echo` is not part of the key */
	assert_int_equal(hg_key_parse((const uint8_t *)"00112233445566778899aabbccddeeff00112233"
						       "445566778899aabbccddeeff\n",
				      65, got, why, sizeof(why)),
			 HG_OK);
	/* too short, not hex, 24 bytes of base64: refused without echoing it */
	assert_int_equal(hg_key_parse((const uint8_t *)"abcd", 4, got, why, sizeof(why)),
			 HG_EINVAL);
	assert_non_null(strstr(why, "64 hex digits"));
	assert_null(strstr(why, "abcd"));
	assert_int_equal(hg_key_parse((const uint8_t *)"zz0102030405060708090a0b0c0d0e0f1011121314"
						       "15161718191a1b1c1d1e1f",
				      64, got, why, sizeof(why)),
			 HG_EINVAL);
	assert_int_equal(hg_key_parse((const uint8_t *)"AAECAwQFBgcICQoLDA0ODxAREhMUFRYX", 32, got,
				      why, sizeof(why)),
			 HG_EINVAL);
}

static void test_seal_open(void **state)
{
	struct hg_keyring *a = ring(k1, NULL), *ab = ring(k1, k2), *b = ring(k2, NULL);
	static const uint8_t plain[] = "{\"phone\":\"+15550001111\"}";
	uint8_t *s1 = NULL, *s2 = NULL, *s3 = NULL, *out = NULL;
	size_t n1, n2, n3, n;
	char id1[HG_KEY_ID_LEN + 1], id2[HG_KEY_ID_LEN + 1];

	(void)state;
	hg_key_id(k1, id1);
	hg_key_id(k2, id2);
	assert_string_equal(hg_keyring_active(a), id1);
	assert_string_equal(hg_keyring_active(ab), id2); /* the last one */
	assert_true(hg_keyring_has(ab, id1) && hg_keyring_has(ab, id2));
	assert_false(hg_keyring_has(b, id1));

	assert_int_equal(hg_seal(a, "msg/1/body", plain, sizeof(plain) - 1, &s1, &n1), HG_OK);
	assert_int_equal(n1, sizeof(plain) - 1 + HG_SEAL_OVERHEAD);
	assert_null(memmem(s1, n1, "+1555", 5)); /* not in clear */
	/* the same value twice: a fresh nonce, other bytes */
	assert_int_equal(hg_seal(a, "msg/1/body", plain, sizeof(plain) - 1, &s2, &n2), HG_OK);
	assert_memory_not_equal(s1, s2, n1);

	/* any listed key opens what it sealed */
	assert_int_equal(hg_open(ab, id1, "msg/1/body", s1, n1, &out, &n), HG_OK);
	assert_int_equal(n, sizeof(plain) - 1);
	assert_memory_equal(out, plain, n);
	assert_int_equal(out[n], '\0');
	free(out);
	/* a key that is not listed, another field, the wrong key's id */
	assert_int_equal(hg_open(b, id1, "msg/1/body", s1, n1, &out, &n), HG_ENOTFOUND);
	assert_int_equal(hg_open(a, id1, "msg/2/body", s1, n1, &out, &n), HG_EAUTH);
	assert_int_equal(hg_open(ab, id2, "msg/1/body", s1, n1, &out, &n), HG_EAUTH);
	assert_null(out);
	/* every byte counts: nonce, ciphertext and tag */
	for (size_t i = 0; i < n1; i++) {
		s1[i] ^= 0x01;
		assert_int_equal(hg_open(a, id1, "msg/1/body", s1, n1, &out, &n), HG_EAUTH);
		s1[i] ^= 0x01;
	}
	assert_int_equal(hg_open(a, id1, "msg/1/body", s1, n1 - 1, &out, &n), HG_EAUTH);
	assert_int_equal(hg_open(a, id1, "msg/1/body", s1, 5, &out, &n), HG_EAUTH);
	/* an empty value seals and opens too */
	assert_int_equal(hg_seal(ab, "x", (const uint8_t *)"", 0, &s3, &n3), HG_OK);
	assert_int_equal(n3, HG_SEAL_OVERHEAD);
	assert_int_equal(hg_open(ab, id2, "x", s3, n3, &out, &n), HG_OK);
	assert_int_equal(n, 0);
	free(out);
	free(s1);
	free(s2);
	free(s3);
	hg_keyring_free(a);
	hg_keyring_free(ab);
	hg_keyring_free(b);
}

static void test_keyring_refuses_duplicates(void **state)
{
	uint8_t keys[2][HG_KEY_LEN];
	struct hg_keyring *kr = NULL;

	(void)state;
	memcpy(keys[0], k1, HG_KEY_LEN);
	memcpy(keys[1], k1, HG_KEY_LEN);
	assert_int_equal(hg_keyring_new((const uint8_t(*)[HG_KEY_LEN])keys, 2, &kr), HG_EINVAL);
	assert_int_equal(hg_keyring_new((const uint8_t(*)[HG_KEY_LEN])keys, 0, &kr), HG_EINVAL);
	assert_null(kr);
}

/* The index hash depends on the index key only (not on the data keys, so
 * a rotation keeps it), and on scope, source and key, each kept apart. */
static void test_index_hash(void **state)
{
	struct hg_keyring *a = ring(k1, NULL), *b = ring(k2, NULL);
	uint8_t index_key[HG_KEY_LEN] = {42};
	char h1[HG_INDEX_HASH_LEN + 1], h2[HG_INDEX_HASH_LEN + 1];

	(void)state;
	assert_false(hg_keyring_has_index_key(a));
	hg_keyring_set_index_key(a, index_key);
	hg_keyring_set_index_key(b, index_key);
	assert_true(hg_keyring_has_index_key(a));
	hg_index_hash(a, "dedupe", "wa", "wamid.1", h1);
	hg_index_hash(b, "dedupe", "wa", "wamid.1", h2);
	assert_string_equal(h1, h2);
	assert_int_equal(strlen(h1), HG_INDEX_HASH_LEN);
	assert_memory_equal(h1, HG_INDEX_HASH_PREFIX, 3);
	hg_index_hash(a, "dedupe", "wa", "wamid.2", h2);
	assert_string_not_equal(h1, h2);
	hg_index_hash(a, "ratelimit", "wa", "wamid.1", h2);
	assert_string_not_equal(h1, h2);
	/* "w" + "awamid.1" is not "wa" + "wamid.1" */
	hg_index_hash(a, "dedupe", "w", "awamid.1", h2);
	assert_string_not_equal(h1, h2);
	index_key[0] = 43;
	hg_keyring_set_index_key(b, index_key);
	hg_index_hash(b, "dedupe", "wa", "wamid.1", h2);
	assert_string_not_equal(h1, h2);
	hg_keyring_free(a);
	hg_keyring_free(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_key_id_and_parse),
	    cmocka_unit_test(test_seal_open),
	    cmocka_unit_test(test_keyring_refuses_duplicates),
	    cmocka_unit_test(test_index_hash),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
