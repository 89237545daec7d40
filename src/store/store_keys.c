/*
 * store_keys.c — the keys of a store: the check at start and at a reload
 * that every key a stored value needs is configured, the index key kept
 * in the store (sealed like any value), and `keys rekey`, which moves
 * every stored value onto the active key in small batches while the
 * daemon keeps serving.
 *
 * The rekey reads a batch of rows not sealed with the active key, opens
 * each with the key it names (or takes it as it is, for rows written
 * before encryption was on), seals it again with the active key and
 * writes it back in one short transaction per batch. The write only
 * replaces a row that is still as it was read, so a secret regenerated
 * meanwhile is never overwritten with the old one. Messages and attempts
 * never change once written. Dedupe keys written in clear become keyed
 * hashes the same way.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "crypt/crypt.h"
#include "store/store_crypt.h"

#define INDEX_KEY_NAME   "index_key"
#define REKEY_MAX_BYTES  ((size_t)8 << 20) /* what one batch reads at most */
#define REKEY_MAX_ERRTXT 160

static int has_crypt_ops(const struct hg_store *st)
{
	const struct hg_store_ops *o = st->ops;

	return o->meta_get && o->meta_put && o->key_usage && o->sealed_scan && o->sealed_swap &&
	       o->dedupe_scan && o->dedupe_rehash;
}

/* ---- the check ---- */

#define MISSING_KEYS 8 /* key ids named in one error; more are counted */

struct missing {
	const struct hg_keyring *kr;
	struct {
		char id[HG_STORE_KEY_ID_MAX + 1];
		char rows[160]; /* "3 messages, 1 attempts" */
	} key[MISSING_KEYS];
	int n, more;
	char text[1024];
};

static int note_usage(const char *table, const char *key_id, int64_t count, void *arg)
{
	struct missing *m = arg;
	size_t len;
	int i;

	if (key_id == NULL || (m->kr != NULL && hg_keyring_has(m->kr, key_id)))
		return 0;
	for (i = 0; i < m->n && strcmp(m->key[i].id, key_id) != 0; i++)
		;
	if (i == MISSING_KEYS) {
		m->more = 1;
		return 0;
	}
	if (i == m->n)
		hg_strlcpy(m->key[m->n++].id, key_id, sizeof(m->key[i].id));
	len = strlen(m->key[i].rows);
	/* "1 message", "2 messages": the table's name less its s for one */
	if (strcmp(table, "crypt_meta") == 0)
		table = count == 1 ? "index key row" : "index key rows";
	snprintf(m->key[i].rows + len, sizeof(m->key[i].rows) - len, "%s%lld %.*s",
		 len > 0 ? ", " : "", (long long)count,
		 (int)strlen(table) - (count == 1 && table[strlen(table) - 1] == 's'), table);
	return 0;
}

/* "key 0123456789abcdef (3 messages, 1 index key row); key ..." */
static const char *missing_text(struct missing *m)
{
	size_t len = 0;
	int i;

	m->text[0] = '\0';
	for (i = 0; i < m->n && len < sizeof(m->text); i++)
		len += (size_t)snprintf(m->text + len, sizeof(m->text) - len, "%skey %s (%s)",
					i > 0 ? "; " : "", m->key[i].id, m->key[i].rows);
	if (m->more && len < sizeof(m->text))
		snprintf(m->text + len, sizeof(m->text) - len, "; and more keys");
	return m->text;
}

/* HG_OK when every key id a stored value names is in kr (kr NULL: none). */
static int check_usage(struct hg_store *st, const struct hg_keyring *kr, char *err, size_t errlen)
{
	struct missing m = {.kr = kr};

	if (st->ops->key_usage(st, 0, note_usage, &m) != HG_OK) {
		snprintf(err, errlen, "Cannot read which keys the stored values are sealed with.");
		return HG_EIO;
	}
	if (m.n == 0)
		return HG_OK;
	if (kr == NULL)
		snprintf(err, errlen,
			 "The store holds encrypted values, sealed with %s, but the config has "
			 "no `encryption:` section; configure the keys again.",
			 missing_text(&m));
	else
		snprintf(err, errlen,
			 "The store holds values sealed with keys that are not configured: %s; "
			 "list those keys in encryption again (before the active, last one) and "
			 "run `hookgate keys rekey` before removing them.",
			 missing_text(&m));
	return HG_EINVAL;
}

/* Loads the index key into kr, creating it the first time. */
static int load_index_key(struct hg_store *st, struct hg_keyring *kr, char *err, size_t errlen)
{
	char key_id[HG_STORE_KEY_ID_MAX + 1] = "", aad[96], *value = NULL;
	uint8_t fresh[HG_KEY_LEN], *plain = NULL;
	size_t len = 0;
	int rc, tries;

	hg_crypt_aad(aad, sizeof(aad), "meta", INDEX_KEY_NAME, -1, "value");
	for (tries = 0; tries < 2; tries++) {
		rc = st->ops->meta_get(st, INDEX_KEY_NAME, key_id, &value);
		if (rc != HG_ENOTFOUND)
			break;
		/* the first start with encryption: a fresh key (another node
		 * may store its own first; then that one is read back) */
		if (hg_random_bytes(fresh, sizeof(fresh)) != HG_OK ||
		    hg_crypt_seal_text(kr, aad, fresh, sizeof(fresh), &value) != HG_OK) {
			OPENSSL_cleanse(fresh, sizeof(fresh));
			snprintf(err, errlen, "Cannot make the index key.");
			return HG_EIO;
		}
		OPENSSL_cleanse(fresh, sizeof(fresh));
		rc = st->ops->meta_put(st, INDEX_KEY_NAME, hg_keyring_active(kr), value, NULL);
		free(value);
		value = NULL;
		if (rc != HG_OK && rc != HG_ENOTFOUND)
			break;
	}
	if (rc != HG_OK || value == NULL) {
		free(value);
		snprintf(err, errlen, "Cannot read or store the index key (crypt_meta).");
		return HG_EIO;
	}
	rc = hg_crypt_open_text(kr, key_id, aad, value, &plain, &len);
	free(value);
	if (rc != HG_OK || len != HG_KEY_LEN) {
		if (plain != NULL)
			OPENSSL_cleanse(plain, len);
		free(plain);
		snprintf(err, errlen,
			 "The index key stored in crypt_meta does not decrypt with key %.16s: the "
			 "row was changed.",
			 key_id);
		return HG_EINVAL;
	}
	hg_keyring_set_index_key(kr, plain);
	OPENSSL_cleanse(plain, len);
	free(plain);
	return HG_OK;
}

int hg_store_keys_prepare(struct hg_store *st, struct hg_keyring *kr, char *err, size_t errlen)
{
	int rc;

	if (!has_crypt_ops(st)) {
		if (kr == NULL)
			return HG_OK;
		snprintf(err, errlen, "The %s store cannot encrypt values.", st->ops->name);
		return HG_EINVAL;
	}
	rc = check_usage(st, kr, err, errlen);
	if (rc == HG_OK && kr != NULL)
		rc = load_index_key(st, kr, err, errlen);
	return rc;
}

/* ---- the rekey ---- */

/* One batch of rows read and sealed again. */
struct batch {
	const struct hg_keyring *kr;
	enum hg_store_sealed_kind kind;
	struct hg_store_sealed *old, *new_;
	size_t n, cap, bytes;
	int failed; /* HG_EAUTH / HG_ENOTFOUND / HG_ENOMEM of the first row that failed */
	char failed_row[REKEY_MAX_ERRTXT];
};

static void batch_clear(struct batch *b)
{
	size_t i;
	int k;

	for (i = 0; i < b->n; i++)
		for (k = 0; k < 2; k++) {
			free((void *)b->old[i].v[k]);
			free((void *)b->new_[i].v[k]);
		}
	b->n = 0;
	b->bytes = 0;
}

static uint8_t *dup_bytes(const uint8_t *p, size_t len)
{
	uint8_t *d = malloc(len + 1);

	if (d != NULL) {
		memcpy(d, p, len);
		d[len] = '\0';
	}
	return d;
}

static const char *const field_names[][2] = {
    [HG_SEALED_MESSAGES] = {"body", "headers"},
    [HG_SEALED_ATTEMPTS] = {"response", NULL},
    [HG_SEALED_SUBSCRIPTIONS] = {"secret", "old_secret"},
};

/* Whether value k of r is sealed at all (outbound headers never are). */
static int field_sealed(enum hg_store_sealed_kind kind, const struct hg_store_sealed *r, int k)
{
	if (field_names[kind][k] == NULL || r->v[k] == NULL)
		return 0;
	return !(kind == HG_SEALED_MESSAGES && k == 1 &&
		 strcmp(r->source, HG_STORE_OUTBOUND_SOURCE) == 0);
}

static void row_aad(enum hg_store_sealed_kind kind, const struct hg_store_sealed *r, int k,
		    char *aad, size_t len)
{
	static const char *const kinds[] = {[HG_SEALED_MESSAGES] = "msg",
					    [HG_SEALED_ATTEMPTS] = "attempt",
					    [HG_SEALED_SUBSCRIPTIONS] = "sub"};

	hg_crypt_aad(aad, len, kinds[kind], r->id, kind == HG_SEALED_ATTEMPTS ? r->n : -1,
		     field_names[kind][k]);
}

/* Value k of r sealed with the active key: text (headers, secrets) as
 * base64, bytes (bodies, response heads) as they are. */
static int reseal(struct batch *b, const struct hg_store_sealed *r, int k, uint8_t **out,
		  size_t *outlen)
{
	int text = !(k == 0 && b->kind != HG_SEALED_SUBSCRIPTIONS);
	uint8_t *plain = NULL;
	size_t len = 0;
	char aad[160], *t;
	int rc;

	row_aad(b->kind, r, k, aad, sizeof(aad));
	if (r->key_id[0] == '\0') {
		plain = dup_bytes(r->v[k], r->len[k]);
		len = r->len[k];
		rc = plain != NULL ? HG_OK : HG_ENOMEM;
	} else if (text) {
		t = (char *)dup_bytes(r->v[k], r->len[k]);
		rc = t == NULL ? HG_ENOMEM
			       : hg_crypt_open_text(b->kr, r->key_id, aad, t, &plain, &len);
		free(t);
	} else {
		rc = hg_crypt_open_blob(b->kr, r->key_id, aad, r->v[k], r->len[k], &plain, &len);
	}
	if (rc == HG_OK && text) {
		rc = hg_crypt_seal_text(b->kr, aad, plain, len, &t);
		*out = (uint8_t *)t;
		*outlen = t != NULL ? strlen(t) : 0;
	} else if (rc == HG_OK) {
		rc = hg_seal(b->kr, aad, plain, len, out, outlen);
	}
	if (plain != NULL)
		OPENSSL_cleanse(plain, len);
	free(plain);
	return rc;
}

static int batch_add(const struct hg_store_sealed *r, void *arg)
{
	struct batch *b = arg;
	struct hg_store_sealed *o, *w;
	int k, rc = HG_OK;

	o = &b->old[b->n];
	w = &b->new_[b->n];
	*o = *r;
	*w = *r;
	hg_strlcpy(w->key_id, hg_keyring_active(b->kr), sizeof(w->key_id));
	for (k = 0; k < 2; k++)
		o->v[k] = w->v[k] = NULL; /* r's are the backend's, valid during this call */
	for (k = 0; k < 2; k++) {
		if (r->v[k] == NULL)
			continue;
		o->v[k] = dup_bytes(r->v[k], r->len[k]);
		if (o->v[k] == NULL) {
			rc = HG_ENOMEM;
		} else if (!field_sealed(b->kind, r, k)) {
			w->v[k] = dup_bytes(r->v[k], r->len[k]);
			rc = w->v[k] != NULL ? HG_OK : HG_ENOMEM;
		} else {
			uint8_t *sealed = NULL;

			rc = reseal(b, r, k, &sealed, &w->len[k]);
			w->v[k] = sealed;
		}
		b->bytes += r->len[k];
		if (rc != HG_OK)
			break;
	}
	b->n++;
	if (rc != HG_OK) {
		b->failed = rc;
		if (b->kind == HG_SEALED_ATTEMPTS)
			snprintf(b->failed_row, sizeof(b->failed_row), "attempt %d of delivery %s",
				 r->n, r->id);
		else
			snprintf(b->failed_row, sizeof(b->failed_row), "%s %s",
				 b->kind == HG_SEALED_MESSAGES ? "message" : "subscription", r->id);
		return 1;
	}
	return b->n == b->cap || b->bytes >= REKEY_MAX_BYTES;
}

static const char *const kind_tables[] = {
    [HG_SEALED_MESSAGES] = "messages",
    [HG_SEALED_ATTEMPTS] = "attempts",
    [HG_SEALED_SUBSCRIPTIONS] = "subscriptions",
};

/* Moves every row of kind onto the active key. */
static int rekey_kind(struct hg_store *st, struct batch *b, struct hg_store_rekey_progress *p,
		      const struct hg_store_rekey_report *report, char *err, size_t errlen)
{
	struct hg_store_sealed cursor;
	int have_cursor = 0, rc;
	size_t swapped;

	for (;;) {
		b->failed = HG_OK;
		rc = st->ops->sealed_scan(st, b->kind, have_cursor ? &cursor : NULL,
					  hg_keyring_active(b->kr), b->cap, batch_add, b);
		if (rc == HG_OK && b->failed != HG_OK) {
			snprintf(
			    err, errlen,
			    b->failed == HG_ENOTFOUND
				? "%s is sealed with a key that is not configured"
				: "%s does not decrypt: its stored bytes were changed or belong "
				  "to another row",
			    b->failed_row);
			rc = HG_EINVAL;
		}
		if (rc != HG_OK || b->n == 0)
			break;
		cursor = b->old[b->n - 1];
		have_cursor = 1;
		rc = st->ops->sealed_swap(st, b->kind, b->old, b->new_, b->n, &swapped);
		batch_clear(b);
		if (rc != HG_OK) {
			snprintf(err, errlen, "Cannot write re-encrypted %s.",
				 kind_tables[b->kind]);
			break;
		}
		p->done += (int64_t)swapped;
		if (report != NULL)
			report->fn(p, report->arg);
	}
	batch_clear(b);
	if (rc == HG_EIO && err[0] == '\0')
		snprintf(err, errlen, "Cannot read %s.", kind_tables[b->kind]);
	return rc;
}

/* Seals the index key again with the active key. */
static int rekey_index_key(struct hg_store *st, const struct hg_keyring *kr, char *err,
			   size_t errlen)
{
	char key_id[HG_STORE_KEY_ID_MAX + 1] = "", aad[96], *value = NULL, *fresh = NULL;
	uint8_t *plain = NULL;
	size_t len = 0;
	int rc;

	rc = st->ops->meta_get(st, INDEX_KEY_NAME, key_id, &value);
	if (rc == HG_ENOTFOUND || (rc == HG_OK && strcmp(key_id, hg_keyring_active(kr)) == 0)) {
		free(value);
		return HG_OK;
	}
	hg_crypt_aad(aad, sizeof(aad), "meta", INDEX_KEY_NAME, -1, "value");
	if (rc == HG_OK)
		rc = hg_crypt_open_text(kr, key_id, aad, value, &plain, &len);
	if (rc == HG_OK)
		rc = hg_crypt_seal_text(kr, aad, plain, len, &fresh);
	if (rc == HG_OK)
		rc = st->ops->meta_put(st, INDEX_KEY_NAME, hg_keyring_active(kr), fresh, value);
	if (plain != NULL)
		OPENSSL_cleanse(plain, len);
	free(plain);
	free(fresh);
	free(value);
	if (rc != HG_OK)
		snprintf(err, errlen, "Cannot re-encrypt the index key (crypt_meta).");
	return rc == HG_OK ? HG_OK : HG_EIO;
}

/* ---- dedupe keys written in clear ---- */

struct rehash_batch {
	const struct hg_keyring *kr;
	struct hg_store_rehash *r;
	char (*hash)[HG_INDEX_HASH_LEN + 1];
	char **strs; /* source, key, message id of each, 3 per row */
	size_t n, cap;
	int oom;
};

static void rehash_clear(struct rehash_batch *b)
{
	size_t i;

	for (i = 0; i < 3 * b->n; i++)
		free(b->strs[i]);
	b->n = 0;
}

static int rehash_add(const char *source, const char *key, const char *message_id, void *arg)
{
	struct rehash_batch *b = arg;
	char **s = &b->strs[3 * b->n];

	s[0] = strdup(source);
	s[1] = strdup(key);
	s[2] = strdup(message_id);
	b->n++;
	if (s[0] == NULL || s[1] == NULL || s[2] == NULL) {
		b->oom = 1;
		return 1;
	}
	hg_index_hash(b->kr, "dedupe", source, key, b->hash[b->n - 1]);
	b->r[b->n - 1] = (struct hg_store_rehash){
	    .source = s[0], .key = s[1], .hash = b->hash[b->n - 1], .message_id = s[2]};
	return b->n == b->cap;
}

static int rehash_dedupe(struct hg_store *st, const struct hg_keyring *kr, size_t cap,
			 struct hg_store_rekey_progress *p,
			 const struct hg_store_rekey_report *report, char *err, size_t errlen)
{
	struct rehash_batch b = {.kr = kr, .cap = cap};
	char *after_source = NULL, *after_key = NULL;
	int rc = HG_ENOMEM;

	b.r = calloc(cap, sizeof(*b.r));
	b.hash = calloc(cap, sizeof(*b.hash));
	b.strs = calloc(3 * cap, sizeof(*b.strs));
	while (b.r != NULL && b.hash != NULL && b.strs != NULL) {
		rc = st->ops->dedupe_scan(st, after_source, after_key, cap, rehash_add, &b);
		if (rc == HG_OK && b.oom)
			rc = HG_ENOMEM;
		if (rc != HG_OK || b.n == 0)
			break;
		rc = st->ops->dedupe_rehash(st, b.r, b.n);
		if (rc != HG_OK)
			break;
		free(after_source);
		free(after_key);
		/* the rows just rehashed are gone: the next scan starts where
		 * this one ended, past them */
		after_source = strdup(b.r[b.n - 1].source);
		after_key = strdup(b.r[b.n - 1].key);
		p->done += (int64_t)b.n;
		rehash_clear(&b);
		if (report != NULL)
			report->fn(p, report->arg);
		if (after_source == NULL || after_key == NULL) {
			rc = HG_ENOMEM;
			break;
		}
	}
	if (b.strs != NULL)
		rehash_clear(&b);
	free(b.r);
	free(b.hash);
	free(b.strs);
	free(after_source);
	free(after_key);
	if (rc != HG_OK)
		snprintf(err, errlen, "Cannot turn the stored dedupe keys into keyed hashes.");
	return rc;
}

struct totals {
	const char *active;
	int64_t of[3];
};

static int add_total(const char *table, const char *key_id, int64_t count, void *arg)
{
	struct totals *t = arg;
	size_t k;

	if (key_id != NULL && strcmp(key_id, t->active) == 0)
		return 0;
	for (k = 0; k < 3; k++)
		if (strcmp(table, kind_tables[k]) == 0)
			t->of[k] += count;
	return 0;
}

int hg_store_rekey(struct hg_store *st, size_t batch_rows,
		   const struct hg_store_rekey_report *report, char *err, size_t errlen)
{
	const struct hg_keyring *kr = hg_store_keys();
	struct hg_store_rekey_progress p = {0};
	struct totals t = {0};
	struct batch b = {0};
	size_t k;
	int rc;

	err[0] = '\0';
	if (kr == NULL || !hg_keyring_has_index_key(kr) || !has_crypt_ops(st)) {
		snprintf(err, errlen,
			 "Encryption is not configured; there is nothing to rekey to.");
		return HG_EINVAL;
	}
	t.active = hg_keyring_active(kr);
	if (st->ops->key_usage(st, 1, add_total, &t) != HG_OK) {
		snprintf(err, errlen, "Cannot count the stored values.");
		return HG_EIO;
	}
	rc = rekey_index_key(st, kr, err, errlen);
	b.kr = kr;
	b.cap = batch_rows > 0 ? batch_rows : 256;
	b.old = calloc(b.cap, sizeof(*b.old));
	b.new_ = calloc(b.cap, sizeof(*b.new_));
	if (rc == HG_OK && (b.old == NULL || b.new_ == NULL))
		rc = HG_ENOMEM;
	for (k = 0; k < 3 && rc == HG_OK; k++) {
		b.kind = (enum hg_store_sealed_kind)k;
		p = (struct hg_store_rekey_progress){.table = kind_tables[k], .total = t.of[k]};
		if (report != NULL)
			report->fn(&p, report->arg);
		rc = rekey_kind(st, &b, &p, report, err, errlen);
	}
	free(b.old);
	free(b.new_);
	if (rc == HG_OK) {
		p = (struct hg_store_rekey_progress){.table = "dedupe keys", .total = -1};
		rc = rehash_dedupe(st, kr, b.cap, &p, report, err, errlen);
	}
	if (rc == HG_OK && st->ops->scrub != NULL)
		st->ops->scrub(st); /* logged; the values are re-encrypted all the same */
	if (rc == HG_ENOMEM)
		snprintf(err, errlen, "Out of memory.");
	return rc;
}

int hg_store_keys_load(const char *uri, const uint8_t (*keys)[HG_KEY_LEN], size_t n, char *err,
		       size_t errlen)
{
	struct hg_keyring *kr = NULL;
	struct hg_store *st = NULL;
	int rc;

	if (n > 0 && (rc = hg_keyring_new(keys, n, &kr)) != HG_OK) {
		snprintf(err, errlen,
			 rc == HG_ENOMEM ? "Out of memory." : "A key is listed twice.");
		return rc;
	}
	rc = hg_store_open(uri, &st, err, errlen);
	if (rc == HG_OK)
		rc = hg_store_keys_prepare(st, kr, err, errlen);
	hg_store_close(st);
	if (rc != HG_OK) {
		hg_keyring_free(kr);
		return rc;
	}
	hg_store_use_keys(kr);
	return HG_OK;
}

int hg_store_key_usage(struct hg_store *st, int with_plain,
		       int (*fn)(const char *table, const char *key_id, int64_t count, void *arg),
		       void *arg)
{
	if (!has_crypt_ops(st))
		return HG_EINVAL;
	return st->ops->key_usage(st, with_plain, fn, arg);
}
