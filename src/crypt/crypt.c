/*
 * crypt.c — AES-256-GCM through OpenSSL's EVP interface, and the keyed
 * hashes of lookup keys (crypt.h says what each is for).
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "crypt/crypt.h"
#include "util/util.h"

struct hg_key {
	uint8_t bytes[HG_KEY_LEN];
	char id[HG_KEY_ID_LEN + 1];
};

struct hg_keyring {
	struct hg_key *keys; /* keys[n - 1] is active */
	size_t n;
	uint8_t index_key[HG_KEY_LEN];
	int has_index_key;
};

int hg_key_parse(const uint8_t *text, size_t len, uint8_t out[HG_KEY_LEN], char *why, size_t whylen)
{
	char *s;
	int n, rc = HG_EINVAL;

	while (len > 0 && (text[len - 1] == '\n' || text[len - 1] == '\r' || text[len - 1] == ' '))
		len--;
	s = malloc(len + 1);
	if (s == NULL) {
		hg_errf(why, whylen, "out of memory");
		return HG_ENOMEM;
	}
	memcpy(s, text, len);
	s[len] = '\0';
	if (len == 2 * HG_KEY_LEN && hg_hex_decode(s, len, out, HG_KEY_LEN) == HG_KEY_LEN) {
		rc = HG_OK;
	} else if (len != 2 * HG_KEY_LEN && len >= 40 && len <= 48) {
		/* hg_b64_decode checks the padding and the alphabet */
		n = hg_b64_decode(s, len, out, HG_KEY_LEN);
		if (n == HG_KEY_LEN)
			rc = HG_OK;
	}
	OPENSSL_cleanse(s, len);
	free(s);
	if (rc != HG_OK)
		hg_errf(why, whylen,
			"a key is 32 random bytes written as 64 hex digits or as base64 (%zu "
			"characters given); make one with `hookgate keys generate`",
			len);
	return rc;
}

void hg_key_id(const uint8_t key[HG_KEY_LEN], char out[HG_KEY_ID_LEN + 1])
{
	uint8_t digest[32];

	hg_sha256(key, HG_KEY_LEN, digest);
	hg_hex_encode(digest, HG_KEY_ID_LEN / 2, out);
	out[HG_KEY_ID_LEN] = '\0';
}

int hg_keyring_new(const uint8_t (*keys)[HG_KEY_LEN], size_t n, struct hg_keyring **out)
{
	struct hg_keyring *kr;
	size_t i, j;

	*out = NULL;
	if (n == 0)
		return HG_EINVAL;
	for (i = 0; i < n; i++)
		for (j = i + 1; j < n; j++)
			if (hg_ct_equal(keys[i], keys[j], HG_KEY_LEN))
				return HG_EINVAL;
	kr = calloc(1, sizeof(*kr));
	if (kr == NULL || (kr->keys = calloc(n, sizeof(*kr->keys))) == NULL) {
		free(kr);
		return HG_ENOMEM;
	}
	for (i = 0; i < n; i++) {
		memcpy(kr->keys[i].bytes, keys[i], HG_KEY_LEN);
		hg_key_id(keys[i], kr->keys[i].id);
	}
	kr->n = n;
	*out = kr;
	return HG_OK;
}

void hg_keyring_free(struct hg_keyring *kr)
{
	if (kr == NULL)
		return;
	OPENSSL_cleanse(kr->keys, kr->n * sizeof(*kr->keys));
	free(kr->keys);
	OPENSSL_cleanse(kr, sizeof(*kr));
	free(kr);
}

const char *hg_keyring_active(const struct hg_keyring *kr)
{
	return kr->keys[kr->n - 1].id;
}

static const struct hg_key *find_key(const struct hg_keyring *kr, const char *id)
{
	size_t i;

	for (i = kr->n; i-- > 0;)
		if (strcmp(kr->keys[i].id, id) == 0)
			return &kr->keys[i];
	return NULL;
}

int hg_keyring_has(const struct hg_keyring *kr, const char *id)
{
	return find_key(kr, id) != NULL;
}

void hg_keyring_set_index_key(struct hg_keyring *kr, const uint8_t key[HG_KEY_LEN])
{
	memcpy(kr->index_key, key, HG_KEY_LEN);
	kr->has_index_key = 1;
}

int hg_keyring_has_index_key(const struct hg_keyring *kr)
{
	return kr->has_index_key;
}

/* One AES-256-GCM pass: encrypt (enc 1) in[0..len) into out, or decrypt;
 * the tag is written (enc) or checked (decrypt) at tag. HG_OK, HG_EAUTH
 * (decrypt: the tag does not verify) or HG_EIO. */
static int gcm(int enc, const uint8_t *key, const uint8_t *nonce, const char *aad,
	       const uint8_t *in, size_t len, uint8_t *out, uint8_t *tag)
{
	EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
	int n = 0, ok;

	if (ctx == NULL)
		return HG_EIO;
	if (len > INT32_MAX) {
		EVP_CIPHER_CTX_free(ctx);
		return HG_EIO;
	}
	ok = EVP_CipherInit_ex(ctx, EVP_aes_256_gcm(), NULL, NULL, NULL, enc) == 1 &&
	     EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, HG_SEAL_NONCE_LEN, NULL) == 1 &&
	     EVP_CipherInit_ex(ctx, NULL, NULL, key, nonce, enc) == 1 &&
	     EVP_CipherUpdate(ctx, NULL, &n, (const uint8_t *)aad, (int)strlen(aad)) == 1 &&
	     (len == 0 || EVP_CipherUpdate(ctx, out, &n, in, (int)len) == 1);
	if (ok && !enc)
		ok = EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, HG_SEAL_TAG_LEN, tag) == 1;
	if (ok && EVP_CipherFinal_ex(ctx, out + len, &n) != 1) {
		EVP_CIPHER_CTX_free(ctx);
		return enc ? HG_EIO : HG_EAUTH;
	}
	if (ok && enc)
		ok = EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, HG_SEAL_TAG_LEN, tag) == 1;
	EVP_CIPHER_CTX_free(ctx);
	return ok ? HG_OK : HG_EIO;
}

int hg_seal(const struct hg_keyring *kr, const char *aad, const uint8_t *plain, size_t len,
	    uint8_t **out, size_t *outlen)
{
	const struct hg_key *k = &kr->keys[kr->n - 1];
	uint8_t *buf;
	int rc;

	*out = NULL;
	*outlen = 0;
	buf = malloc(len + HG_SEAL_OVERHEAD);
	if (buf == NULL)
		return HG_ENOMEM;
	if (hg_random_bytes(buf, HG_SEAL_NONCE_LEN) != HG_OK) {
		free(buf);
		return HG_EIO;
	}
	rc = gcm(1, k->bytes, buf, aad, plain, len, buf + HG_SEAL_NONCE_LEN,
		 buf + HG_SEAL_NONCE_LEN + len);
	if (rc != HG_OK) {
		free(buf);
		return rc;
	}
	*out = buf;
	*outlen = len + HG_SEAL_OVERHEAD;
	return HG_OK;
}

int hg_open(const struct hg_keyring *kr, const char *key_id, const char *aad, const uint8_t *sealed,
	    size_t len, uint8_t **out, size_t *outlen)
{
	const struct hg_key *k = find_key(kr, key_id);
	uint8_t tag[HG_SEAL_TAG_LEN], *buf;
	size_t n;
	int rc;

	*out = NULL;
	*outlen = 0;
	if (k == NULL)
		return HG_ENOTFOUND;
	if (len < HG_SEAL_OVERHEAD)
		return HG_EAUTH;
	n = len - HG_SEAL_OVERHEAD;
	buf = malloc(n + 1);
	if (buf == NULL)
		return HG_ENOMEM;
	memcpy(tag, sealed + HG_SEAL_NONCE_LEN + n, HG_SEAL_TAG_LEN);
	rc = gcm(0, k->bytes, sealed, aad, sealed + HG_SEAL_NONCE_LEN, n, buf, tag);
	if (rc != HG_OK) {
		OPENSSL_cleanse(buf, n);
		free(buf);
		return rc;
	}
	buf[n] = '\0';
	*out = buf;
	*outlen = n;
	return HG_OK;
}

void hg_index_hash(const struct hg_keyring *kr, const char *scope, const char *source,
		   const char *key, char out[HG_INDEX_HASH_LEN + 1])
{
	/* each part ends with a NUL, so no bytes can move between them */
	const uint8_t *parts[] = {(const uint8_t *)scope, (const uint8_t *)source,
				  (const uint8_t *)key};
	size_t lens[] = {strlen(scope) + 1, strlen(source) + 1, strlen(key)};
	uint8_t mac[HG_MAX_MAC];
	size_t plen = strlen(HG_INDEX_HASH_PREFIX);

	hg_hmac(HG_SHA256, kr->index_key, HG_KEY_LEN, parts, lens, 3, mac);
	memcpy(out, HG_INDEX_HASH_PREFIX, plen);
	hg_hex_encode(mac, 16, out + plen);
	out[HG_INDEX_HASH_LEN] = '\0';
}
