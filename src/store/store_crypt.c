/*
 * store_crypt.c — encryption at rest, between store.h's callers and the
 * backends: what a caller stores is sealed here (src/crypt/crypt.h) before
 * a backend sees it, and what a backend reads back is opened here before a
 * caller sees it. The backends only carry a key id beside each sealed
 * value (the key_id columns, schema step 8); neither they nor the callers
 * know anything else about it.
 *
 * Sealed: a message's body and stored headers (not an outbound event's
 * headers: they hold only its type, which the subscription history lists
 * by), an attempt's response head, a subscription's secrets, and the index
 * key (crypt_meta). Hashed: dedupe keys (hg_index_hash). The associated
 * data of each value names its row and field, so a value copied onto
 * another row or field does not open there: the read fails with HG_EAUTH
 * and a log line that names the row, and no bytes are passed on.
 *
 * The keyring in use is one per process (hg_store_use_keys): every handle
 * of every thread seals with the same active key. Keyrings are never
 * freed while the process serves, so a reader holding one across a reload
 * is always safe; a reload adds a few hundred bytes.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "crypt/crypt.h"
#include "store/store_crypt.h"

_Static_assert(HG_SEAL_OVERHEAD == 28, "the list queries subtract 28 from a sealed body's length");
_Static_assert(HG_KEY_ID_LEN == HG_STORE_KEY_ID_MAX, "store.h: HG_STORE_KEY_ID_MAX");
_Static_assert(HG_INDEX_HASH_LEN == HG_STORE_INDEX_HASH_LEN, "store.h: HG_STORE_INDEX_HASH_LEN");

static _Atomic(struct hg_keyring *) current;
static pthread_mutex_t retired_lock = PTHREAD_MUTEX_INITIALIZER;
static struct hg_keyring **retired;
static size_t n_retired;

void hg_store_use_keys(struct hg_keyring *kr)
{
	struct hg_keyring *old = atomic_exchange(&current, kr), **grown;

	if (old == NULL || old == kr)
		return;
	pthread_mutex_lock(&retired_lock);
	grown = realloc(retired, (n_retired + 1) * sizeof(*grown));
	if (grown != NULL) {
		retired = grown;
		retired[n_retired++] = old;
	} /* else: it stays allocated until exit, never freed under a reader */
	pthread_mutex_unlock(&retired_lock);
}

void hg_store_keys_release(void)
{
	size_t i;

	hg_keyring_free(atomic_exchange(&current, NULL));
	pthread_mutex_lock(&retired_lock);
	for (i = 0; i < n_retired; i++)
		hg_keyring_free(retired[i]);
	free(retired);
	retired = NULL;
	n_retired = 0;
	pthread_mutex_unlock(&retired_lock);
}

const struct hg_keyring *hg_store_keys(void)
{
	return atomic_load_explicit(&current, memory_order_acquire);
}

const struct hg_keyring *hg_store_keyring(void)
{
	return hg_store_keys();
}

int hg_store_index_hash(const char *scope, const char *source, const char *key,
			char out[HG_STORE_INDEX_HASH_LEN + 1])
{
	const struct hg_keyring *kr = hg_store_keys();

	if (kr == NULL || !hg_keyring_has_index_key(kr))
		return HG_ENOTFOUND;
	hg_index_hash(kr, scope, source, key, out);
	return HG_OK;
}

/* ---- one value ---- */

void hg_crypt_aad(char *out, size_t outlen, const char *kind, const char *id, int n,
		  const char *field)
{
	if (n >= 0)
		snprintf(out, outlen, "hookgate/%s/%s/%d/%s", kind, id, n, field);
	else
		snprintf(out, outlen, "hookgate/%s/%s/%s", kind, id, field);
}

/* Says which row failed to open and why; never a byte of the value. */
static void open_failed(const char *kind, const char *id, const char *field, const char *key_id,
			int rc)
{
	hg_log(HG_LOG_ERROR,
	       rc == HG_ENOTFOUND ? "stored value is sealed with a key that is not configured"
				  : "stored value does not decrypt: its bytes were changed or "
				    "belong to another row",
	       "row", HG_LS(kind), "id", HG_LS(id), "field", HG_LS(field), "key_id", HG_LS(key_id),
	       NULL);
}

/* What a read answers when a value does not open: HG_EAUTH when it does
 * not verify (it stays so: the caller gives up on it), HG_ENOKEY when its
 * key is not configured here (another node, or this one after a reload,
 * may have it: the caller leaves it for later), HG_ENOMEM. */
static int read_error(int rc)
{
	return rc == HG_ENOTFOUND ? HG_ENOKEY : rc == HG_ENOMEM ? HG_ENOMEM : HG_EAUTH;
}

int hg_crypt_open_blob(const struct hg_keyring *kr, const char *key_id, const char *aad,
		       const uint8_t *in, size_t len, uint8_t **out, size_t *outlen)
{
	if (kr == NULL)
		return HG_ENOTFOUND;
	return hg_open(kr, key_id, aad, in, len, out, outlen);
}

int hg_crypt_seal_text(const struct hg_keyring *kr, const char *aad, const uint8_t *in, size_t len,
		       char **out)
{
	uint8_t *sealed;
	size_t n;
	int rc = hg_seal(kr, aad, in, len, &sealed, &n);

	*out = NULL;
	if (rc != HG_OK)
		return rc;
	*out = malloc(4 * ((n + 2) / 3) + 1);
	if (*out != NULL)
		hg_b64_encode(sealed, n, *out);
	free(sealed);
	return *out != NULL ? HG_OK : HG_ENOMEM;
}

int hg_crypt_open_text(const struct hg_keyring *kr, const char *key_id, const char *aad,
		       const char *in, uint8_t **out, size_t *outlen)
{
	size_t len = strlen(in);
	uint8_t *raw = malloc(len / 4 * 3 + 3);
	int n, rc;

	*out = NULL;
	*outlen = 0;
	if (raw == NULL)
		return HG_ENOMEM;
	n = hg_b64_decode(in, len, raw, len / 4 * 3 + 3);
	rc = n < 0 ? HG_EAUTH : hg_crypt_open_blob(kr, key_id, aad, raw, (size_t)n, out, outlen);
	free(raw);
	return rc;
}

/* ---- messages ---- */

static int headers_sealed(const char *source)
{
	return strcmp(source, HG_STORE_OUTBOUND_SOURCE) != 0;
}

/* What hg_store_put_batch hands the backend instead of the caller's
 * messages: copies whose body and headers are sealed and whose dedupe keys
 * are hashed. */
struct sealed_batch {
	struct hg_store_msg *copy;
	struct hg_store_msg **ptrs;
	uint8_t **bodies;
	char **headers;
	char (*hashes)[HG_INDEX_HASH_LEN + 1];
	const char **keys;
	size_t n;
};

static void sealed_batch_free(struct sealed_batch *b)
{
	size_t i;

	for (i = 0; i < b->n; i++) {
		free(b->bodies != NULL ? b->bodies[i] : NULL);
		free(b->headers != NULL ? b->headers[i] : NULL);
	}
	free(b->copy);
	free(b->ptrs);
	free(b->bodies);
	free(b->headers);
	free(b->hashes);
	free(b->keys);
}

static int seal_message(const struct hg_keyring *kr, struct sealed_batch *b, size_t i,
			char (*hash)[HG_INDEX_HASH_LEN + 1], const char **key)
{
	struct hg_store_msg *m = &b->copy[i];
	char aad[160];
	size_t k, len;
	int rc;

	hg_crypt_aad(aad, sizeof(aad), "msg", m->id, -1, "body");
	rc = hg_seal(kr, aad, m->body, m->body_len, &b->bodies[i], &len);
	if (rc != HG_OK)
		return rc;
	m->body = b->bodies[i];
	m->body_len = len;
	if (m->headers_json != NULL && headers_sealed(m->source)) {
		hg_crypt_aad(aad, sizeof(aad), "msg", m->id, -1, "headers");
		rc = hg_crypt_seal_text(kr, aad, (const uint8_t *)m->headers_json,
					strlen(m->headers_json), &b->headers[i]);
		if (rc != HG_OK)
			return rc;
		m->headers_json = b->headers[i];
	}
	for (k = 0; k < m->n_dedupe_keys; k++) {
		hg_index_hash(kr, "dedupe", m->source, m->dedupe_keys[k], hash[k]);
		key[k] = hash[k];
	}
	m->dedupe_keys = key;
	m->key_id = hg_keyring_active(kr);
	return HG_OK;
}

static int sealed_batch_make(const struct hg_keyring *kr, struct hg_store_msg *const *msgs,
			     size_t n, struct sealed_batch *b)
{
	size_t i, nkeys = 0, at = 0;
	int rc;

	memset(b, 0, sizeof(*b));
	for (i = 0; i < n; i++)
		nkeys += msgs[i]->n_dedupe_keys;
	b->copy = calloc(n, sizeof(*b->copy));
	b->ptrs = calloc(n, sizeof(*b->ptrs));
	b->bodies = calloc(n, sizeof(*b->bodies));
	b->headers = calloc(n, sizeof(*b->headers));
	b->hashes = calloc(nkeys + 1, sizeof(*b->hashes));
	b->keys = calloc(nkeys + 1, sizeof(*b->keys));
	b->n = n;
	if (!b->copy || !b->ptrs || !b->bodies || !b->headers || !b->hashes || !b->keys)
		return HG_ENOMEM;
	for (i = 0; i < n; i++) {
		b->copy[i] = *msgs[i];
		b->ptrs[i] = &b->copy[i];
		rc = seal_message(kr, b, i, &b->hashes[at], &b->keys[at]);
		if (rc != HG_OK)
			return rc;
		at += msgs[i]->n_dedupe_keys;
	}
	return HG_OK;
}

int hg_crypt_put_batch(struct hg_store *st, struct hg_store_msg *const *msgs, size_t n,
		       const struct hg_audit_event *ev, size_t nev)
{
	const struct hg_keyring *kr = hg_store_keys();
	struct sealed_batch b;
	size_t i;
	int rc;

	if (kr == NULL || n == 0)
		return st->ops->put_batch(st, msgs, n, ev, nev);
	if (!hg_keyring_has_index_key(kr)) {
		hg_log(HG_LOG_ERROR, "encryption is on but the index key was never loaded", NULL);
		return HG_EIO;
	}
	rc = sealed_batch_make(kr, msgs, n, &b);
	if (rc == HG_OK)
		rc = st->ops->put_batch(st, b.ptrs, n, ev, nev);
	if (rc == HG_OK) {
		for (i = 0; i < n; i++) {
			msgs[i]->outcome = b.copy[i].outcome;
			memcpy(msgs[i]->first_id, b.copy[i].first_id, sizeof(msgs[i]->first_id));
		}
	} else if (rc != HG_EIO) {
		rc = HG_EIO; /* store.h: HG_OK or HG_EIO */
	}
	sealed_batch_free(&b);
	return rc;
}

int hg_crypt_open_row(struct hg_store_row *row)
{
	const struct hg_keyring *kr = hg_store_keys();
	uint8_t *plain = NULL;
	size_t len = 0;
	char aad[160];
	int rc;

	if (row->key_id[0] == '\0')
		return HG_OK;
	hg_crypt_aad(aad, sizeof(aad), "msg", row->id, -1, "body");
	rc = hg_crypt_open_blob(kr, row->key_id, aad, row->body, row->body_len, &plain, &len);
	if (rc != HG_OK) {
		open_failed("message", row->id, "body", row->key_id, rc);
		return read_error(rc);
	}
	OPENSSL_cleanse(row->body, row->body_len);
	free(row->body);
	row->body = plain;
	row->body_len = len;
	if (row->headers_json == NULL || !headers_sealed(row->source))
		return HG_OK;
	hg_crypt_aad(aad, sizeof(aad), "msg", row->id, -1, "headers");
	rc = hg_crypt_open_text(kr, row->key_id, aad, row->headers_json, &plain, &len);
	if (rc != HG_OK) {
		open_failed("message", row->id, "headers", row->key_id, rc);
		return read_error(rc);
	}
	free(row->headers_json);
	row->headers_json = (char *)plain;
	return HG_OK;
}

/* ---- attempts ---- */

int hg_crypt_seal_attempts(const struct hg_store_attempt *a, size_t n,
			   struct hg_store_attempt **out)
{
	const struct hg_keyring *kr = hg_store_keys();
	struct hg_store_attempt *copy;
	uint8_t *sealed;
	size_t i, len;
	char aad[160];
	int rc;

	*out = NULL;
	if (kr == NULL || n == 0)
		return HG_OK;
	copy = calloc(n, sizeof(*copy));
	if (copy == NULL)
		return HG_ENOMEM;
	memcpy(copy, a, n * sizeof(*copy));
	for (i = 0; i < n; i++) {
		copy[i].response_head = NULL;
		if (a[i].response_head == NULL)
			continue;
		hg_crypt_aad(aad, sizeof(aad), "attempt", a[i].delivery_id, a[i].n, "response");
		rc = hg_seal(kr, aad, a[i].response_head, a[i].response_head_len, &sealed, &len);
		if (rc != HG_OK) {
			hg_crypt_attempts_free(copy, i);
			return rc;
		}
		copy[i].response_head = sealed;
		copy[i].response_head_len = len;
		copy[i].key_id = hg_keyring_active(kr);
	}
	*out = copy;
	return HG_OK;
}

void hg_crypt_attempts_free(struct hg_store_attempt *a, size_t n)
{
	size_t i;

	if (a == NULL)
		return;
	for (i = 0; i < n; i++)
		free((void *)a[i].response_head);
	free(a);
}

struct open_attempts {
	int (*fn)(const struct hg_store_attempt_info *a, void *arg);
	void *arg;
	int failed;
};

static int open_attempt(const struct hg_store_attempt_info *a, void *arg)
{
	struct open_attempts *o = arg;
	struct hg_store_attempt_info copy = *a;
	uint8_t *plain = NULL;
	size_t len = 0;
	char aad[160], id[HG_UUID_LEN + 16];
	int rc, stop;

	if (a->key_id == NULL || a->response_head == NULL)
		return o->fn(a, o->arg);
	hg_crypt_aad(aad, sizeof(aad), "attempt", a->delivery_id, a->n, "response");
	rc = hg_crypt_open_blob(hg_store_keys(), a->key_id, aad, a->response_head,
				a->response_head_len, &plain, &len);
	if (rc != HG_OK) {
		snprintf(id, sizeof(id), "%.36s#%d", a->delivery_id, a->n);
		open_failed("attempt", id, "response_head", a->key_id, rc);
		o->failed = read_error(rc);
		return 1;
	}
	copy.response_head = plain;
	copy.response_head_len = len;
	copy.key_id = NULL;
	stop = o->fn(&copy, o->arg);
	free(plain);
	return stop;
}

int hg_crypt_message_attempts(struct hg_store *st, const char *message_id,
			      int (*fn)(const struct hg_store_attempt_info *a, void *arg),
			      void *arg)
{
	struct open_attempts o = {.fn = fn, .arg = arg};
	int rc = st->ops->message_attempts(st, message_id, open_attempt, &o);

	return rc == HG_OK ? o.failed : rc;
}

/* ---- subscriptions ---- */

/* Seals secret into out (HG_STORE_SECRET_FIELD + 1 bytes) for field of
 * subscription id. */
static int seal_secret(const struct hg_keyring *kr, const char *id, const char *field,
		       const char *secret, char *out)
{
	char aad[160], *text = NULL;
	int rc;

	hg_crypt_aad(aad, sizeof(aad), "sub", id, -1, field);
	rc = hg_crypt_seal_text(kr, aad, (const uint8_t *)secret, strlen(secret), &text);
	if (rc == HG_OK && strlen(text) > HG_STORE_SECRET_FIELD)
		rc = HG_ETOOBIG;
	if (rc == HG_OK)
		memcpy(out, text, strlen(text) + 1);
	free(text);
	return rc;
}

int hg_crypt_seal_sub(const struct hg_store_sub *s, struct hg_store_sub *out)
{
	const struct hg_keyring *kr = hg_store_keys();
	int rc;

	*out = *s;
	if (kr == NULL)
		return HG_OK;
	rc = seal_secret(kr, s->id, "secret", s->secret, out->secret);
	if (rc == HG_OK && s->old_secret[0] != '\0')
		rc = seal_secret(kr, s->id, "old_secret", s->old_secret, out->old_secret);
	hg_strlcpy(out->key_id, rc == HG_OK ? hg_keyring_active(kr) : "", sizeof(out->key_id));
	return rc;
}

int hg_crypt_seal_secrets(const char *id, const char *secret, const char *old_secret,
			  char sealed[2][HG_STORE_SECRET_FIELD + 1], const char **key_id)
{
	const struct hg_keyring *kr = hg_store_keys();
	int rc;

	*key_id = NULL;
	if (kr == NULL)
		return HG_OK;
	rc = seal_secret(kr, id, "secret", secret, sealed[0]);
	if (rc == HG_OK && old_secret != NULL)
		rc = seal_secret(kr, id, "old_secret", old_secret, sealed[1]);
	if (rc == HG_OK)
		*key_id = hg_keyring_active(kr);
	return rc;
}

static int open_secret(const char *id, const char *field, const char *key_id, char *secret)
{
	uint8_t *plain = NULL;
	size_t len = 0;
	char aad[160];
	int rc;

	if (secret[0] == '\0')
		return HG_OK;
	hg_crypt_aad(aad, sizeof(aad), "sub", id, -1, field);
	rc = hg_crypt_open_text(hg_store_keys(), key_id, aad, secret, &plain, &len);
	if (rc == HG_OK && len > HG_STORE_SECRET_FIELD)
		rc = HG_EAUTH;
	if (rc != HG_OK) {
		open_failed("subscription", id, field, key_id, rc);
		free(plain);
		return read_error(rc);
	}
	OPENSSL_cleanse(secret, strlen(secret));
	memcpy(secret, plain, len + 1);
	OPENSSL_cleanse(plain, len);
	free(plain);
	return HG_OK;
}

int hg_crypt_open_sub(struct hg_store_sub *s)
{
	int rc;

	if (s->key_id[0] == '\0')
		return HG_OK;
	rc = open_secret(s->id, "secret", s->key_id, s->secret);
	if (rc == HG_OK)
		rc = open_secret(s->id, "old_secret", s->key_id, s->old_secret);
	if (rc == HG_OK)
		s->key_id[0] = '\0';
	return rc;
}
