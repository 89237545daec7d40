/*
 * crypt.h — encryption at rest: a keyring of AES-256-GCM keys and the two
 * things done with it, sealing a stored value and hashing a stored lookup
 * key.
 *
 * A sealed value is nonce (12 random bytes) || ciphertext || tag (16 bytes),
 * made with the keyring's active key (the last one configured); the key's
 * id (the first 8 bytes of the SHA-256 of the key, 16 hex digits) is stored
 * beside it, so any listed key opens what it sealed and rotation needs no
 * downtime. The associated data names the row and field the value belongs
 * to ("msg/<id>/body"), so a sealed value copied onto another row does not
 * open there.
 *
 * Lookup keys (dedupe keys, rate-limit keys) cannot be sealed, since they
 * are looked up by value: they become keyed hashes under the keyring's
 * index key, a random key of its own that the store keeps sealed under the
 * data keys (store_crypt.c). It never changes when the data keys rotate, so
 * a retried event is still recognised as a duplicate across a rotation.
 *
 * A keyring never changes once built; it holds key bytes, so it is wiped
 * when freed.
 */
#ifndef HG_CRYPT_H
#define HG_CRYPT_H

#include <stddef.h>
#include <stdint.h>

#define HG_KEY_LEN        32 /* AES-256 */
#define HG_KEY_ID_LEN     16 /* hex digits */
#define HG_SEAL_NONCE_LEN 12
#define HG_SEAL_TAG_LEN   16
#define HG_SEAL_OVERHEAD  (HG_SEAL_NONCE_LEN + HG_SEAL_TAG_LEN)
/* "h1:" and 32 hex digits (the first 16 bytes of HMAC-SHA-256): what a
 * lookup key becomes. */
#define HG_INDEX_HASH_PREFIX "h1:"
#define HG_INDEX_HASH_LEN    35

struct hg_keyring;

/* Reads a key as written in a key file or variable: 64 hex digits, or the
 * base64 of 32 bytes. HG_OK, or HG_EINVAL (why says what is wrong, never
 * the value). */
int hg_key_parse(const uint8_t *text, size_t len, uint8_t out[HG_KEY_LEN], char *why,
		 size_t whylen);
/* The id of key: 16 lower-case hex digits and a NUL. */
void hg_key_id(const uint8_t key[HG_KEY_LEN], char out[HG_KEY_ID_LEN + 1]);

/* A keyring of keys[0..n) (each HG_KEY_LEN bytes, copied), keys[n - 1]
 * active. HG_OK, HG_EINVAL (n is 0, or two keys are the same) or
 * HG_ENOMEM. */
int hg_keyring_new(const uint8_t (*keys)[HG_KEY_LEN], size_t n, struct hg_keyring **out);
void hg_keyring_free(struct hg_keyring *kr);
/* The active key's id. */
const char *hg_keyring_active(const struct hg_keyring *kr);
/* 1 when the key called id is in kr. */
int hg_keyring_has(const struct hg_keyring *kr, const char *id);
/* Sets the index key (copied): once, before kr is shared. */
void hg_keyring_set_index_key(struct hg_keyring *kr, const uint8_t key[HG_KEY_LEN]);
/* 1 once the index key is set. */
int hg_keyring_has_index_key(const struct hg_keyring *kr);

/* Seals plain[0..len) for the field aad names, with the active key.
 * *out (malloc'd, len + HG_SEAL_OVERHEAD bytes) and *outlen on HG_OK;
 * HG_ENOMEM or HG_EIO (the cipher failed). */
int hg_seal(const struct hg_keyring *kr, const char *aad, const uint8_t *plain, size_t len,
	    uint8_t **out, size_t *outlen);
/* Opens what hg_seal made with the key called key_id for the field aad.
 * *out is malloc'd with a NUL after its *outlen bytes (so text stays text).
 * HG_OK; HG_ENOTFOUND (no such key in kr); HG_EAUTH (the tag does not
 * verify: the bytes were changed, belong to another field, or the key is
 * wrong); HG_ENOMEM; HG_EIO. */
int hg_open(const struct hg_keyring *kr, const char *key_id, const char *aad, const uint8_t *sealed,
	    size_t len, uint8_t **out, size_t *outlen);

/* The keyed hash of a lookup key (scope separates kinds: "dedupe",
 * "ratelimit"), HG_INDEX_HASH_PREFIX and 32 hex digits and a NUL. The
 * index key must be set. */
void hg_index_hash(const struct hg_keyring *kr, const char *scope, const char *source,
		   const char *key, char out[HG_INDEX_HASH_LEN + 1]);

#endif
