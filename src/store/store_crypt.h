/*
 * store_crypt.h — what store.c asks of store_crypt.c (encryption at rest
 * between the callers and the backends), and nobody else.
 */
#ifndef HG_STORE_CRYPT_H
#define HG_STORE_CRYPT_H

#include <stddef.h>
#include <stdint.h>

#include "store/store_internal.h"

struct hg_keyring;

/* The keyring in use (hg_store_use_keys), or NULL when encryption is off. */
const struct hg_keyring *hg_store_keys(void);

/* "hookgate/<kind>/<id>[/<n>]/<field>": the associated data of one stored
 * value (n < 0: none). */
void hg_crypt_aad(char *out, size_t outlen, const char *kind, const char *id, int n,
		  const char *field);
/* A sealed value as base64 text (for text columns), and back. The open
 * functions return HG_ENOTFOUND without kr or without the key. */
int hg_crypt_seal_text(const struct hg_keyring *kr, const char *aad, const uint8_t *in, size_t len,
		       char **out);
int hg_crypt_open_text(const struct hg_keyring *kr, const char *key_id, const char *aad,
		       const char *in, uint8_t **out, size_t *outlen);
int hg_crypt_open_blob(const struct hg_keyring *kr, const char *key_id, const char *aad,
		       const uint8_t *in, size_t len, uint8_t **out, size_t *outlen);

/* ops->put_batch with each message's body and headers sealed and its
 * dedupe keys hashed when encryption is on; as it is when off. */
int hg_crypt_put_batch(struct hg_store *st, struct hg_store_msg *const *msgs, size_t n,
		       const struct hg_audit_event *ev, size_t nev);
/* Opens a row read back with a key id, in place. HG_OK, HG_EAUTH (it does
 * not verify), HG_EIO (its key is not configured) or HG_ENOMEM; failures
 * are logged with the row's id. */
int hg_crypt_open_row(struct hg_store_row *row);
/* A copy of a[0..n) whose response heads are sealed (*out NULL when
 * encryption is off: use a as it is); free with hg_crypt_attempts_free. */
int hg_crypt_seal_attempts(const struct hg_store_attempt *a, size_t n,
			   struct hg_store_attempt **out);
void hg_crypt_attempts_free(struct hg_store_attempt *a, size_t n);
/* ops->message_attempts with every response head opened; HG_EAUTH when
 * one does not open (fn has seen the attempts before it). */
int hg_crypt_message_attempts(struct hg_store *st, const char *message_id,
			      int (*fn)(const struct hg_store_attempt_info *a, void *arg),
			      void *arg);
/* A copy of s with its secrets sealed (s itself when encryption is off). */
int hg_crypt_seal_sub(const struct hg_store_sub *s, struct hg_store_sub *out);
/* secret and old_secret (may be NULL) of subscription id sealed into
 * sealed[0] and sealed[1]; *key_id NULL (and sealed untouched) when
 * encryption is off. */
int hg_crypt_seal_secrets(const char *id, const char *secret, const char *old_secret,
			  char sealed[2][HG_STORE_SECRET_FIELD + 1], const char **key_id);
/* Opens s's secrets in place. HG_OK, HG_EAUTH or HG_ENOMEM. */
int hg_crypt_open_sub(struct hg_store_sub *s);

#endif
