/*
 * postgres_crypt.c — the PostgreSQL side of encryption at rest: the
 * crypt_meta row, the key-usage counts, and the scans and swaps `keys
 * rekey` walks the tables with (store_internal.h has the contract of each
 * op). Start-up, reload and rekey only: plain PQexecParams, nothing
 * prepared. Bodies and response heads travel as binary bytea; everything
 * else as text.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/postgres_internal.h"

static PGresult *run(struct hg_pg *p, const char *op, const char *sql, int n,
		     const char *const *vals, const int *lens, const int *fmts, int resfmt,
		     struct hg_pg_fail *f)
{
	PGresult *res = PQexecParams(p->conn, sql, n, NULL, vals, lens, fmts, resfmt);

	if (PQresultStatus(res) == PGRES_COMMAND_OK || PQresultStatus(res) == PGRES_TUPLES_OK)
		return res;
	if (f != NULL)
		hg_pg_fail_with(p, f, op, res);
	else
		hg_pg_read_failed(p, op, res);
	PQclear(res);
	return NULL;
}

int hg_pg_meta_get(struct hg_store *st, const char *name, char key_id[HG_STORE_KEY_ID_MAX + 1],
		   char **value)
{
	const char *vals[1] = {name};
	PGresult *res;
	int rc = HG_ENOTFOUND;

	*value = NULL;
	res = run((struct hg_pg *)st, "meta_get",
		  "SELECT key_id, value FROM crypt_meta WHERE name = $1", 1, vals, NULL, NULL, 0,
		  NULL);
	if (res == NULL)
		return HG_EIO;
	if (PQntuples(res) == 1) {
		hg_strlcpy(key_id, PQgetvalue(res, 0, 0), HG_STORE_KEY_ID_MAX + 1);
		*value = strdup(PQgetvalue(res, 0, 1));
		rc = *value != NULL ? HG_OK : HG_ENOMEM;
	}
	PQclear(res);
	return rc;
}

int hg_pg_meta_put(struct hg_store *st, const char *name, const char *key_id, const char *value,
		   const char *expect)
{
	const char *vals[4] = {name, key_id, value, expect};
	PGresult *res;
	int rc;

	res = run((struct hg_pg *)st, "meta_put",
		  expect == NULL ? "INSERT INTO crypt_meta (name, key_id, value)"
				   " VALUES ($1, $2, $3) ON CONFLICT (name) DO NOTHING"
				 : "UPDATE crypt_meta SET key_id = $2, value = $3"
				   " WHERE name = $1 AND value = $4",
		  expect == NULL ? 3 : 4, vals, NULL, NULL, 0, NULL);
	if (res == NULL)
		return HG_EIO;
	rc = strcmp(PQcmdTuples(res), "0") == 0 ? HG_ENOTFOUND : HG_OK;
	PQclear(res);
	return rc;
}

int hg_pg_key_usage(struct hg_store *st, int with_plain,
		    int (*fn)(const char *table, const char *key_id, int64_t count, void *arg),
		    void *arg)
{
	static const char sealed[] =
	    "SELECT 'messages', key_id, count(*) FROM messages WHERE key_id IS NOT NULL"
	    " GROUP BY key_id UNION ALL"
	    " SELECT 'attempts', key_id, count(*) FROM attempts WHERE key_id IS NOT NULL"
	    " GROUP BY key_id UNION ALL"
	    " SELECT 'subscriptions', key_id, count(*) FROM subscriptions"
	    " WHERE key_id IS NOT NULL GROUP BY key_id UNION ALL"
	    " SELECT 'crypt_meta', key_id, count(*) FROM crypt_meta GROUP BY key_id";
	static const char all[] =
	    "SELECT 'messages', key_id, count(*) FROM messages GROUP BY key_id UNION ALL"
	    " SELECT 'attempts', key_id, count(*) FROM attempts"
	    " WHERE key_id IS NOT NULL OR response_head IS NOT NULL GROUP BY key_id UNION ALL"
	    " SELECT 'subscriptions', key_id, count(*) FROM subscriptions GROUP BY key_id"
	    " UNION ALL SELECT 'crypt_meta', key_id, count(*) FROM crypt_meta GROUP BY key_id";
	PGresult *res;
	int i;

	res = run((struct hg_pg *)st, "key_usage", with_plain ? all : sealed, 0, NULL, NULL, NULL,
		  0, NULL);
	if (res == NULL)
		return HG_EIO;
	for (i = 0; i < PQntuples(res); i++)
		if (fn(PQgetvalue(res, i, 0), PQgetisnull(res, i, 1) ? NULL : PQgetvalue(res, i, 1),
		       hg_pg_text_i64(res, i, 2, 0), arg) != 0)
			break;
	PQclear(res);
	return HG_OK;
}

/* The scan of each kind, in binary: $1 the cursor, $2 the key to skip, $3
 * the limit. Columns: id, rowid, n, source, key_id, value 1, value 2. */
static const char *const scan_sql[] = {
    [HG_SEALED_MESSAGES] =
	"SELECT id, 0::bigint, 0, source, key_id, body, convert_to(headers, 'UTF8')"
	" FROM messages WHERE ($1::text IS NULL OR id > $1::text)"
	" AND key_id IS DISTINCT FROM $2::text ORDER BY id LIMIT $3::bigint",
    [HG_SEALED_ATTEMPTS] = "SELECT delivery_id, id, n, '', key_id, response_head, NULL::bytea"
			   " FROM attempts WHERE id > $1::bigint"
			   " AND key_id IS DISTINCT FROM $2::text AND response_head IS NOT NULL"
			   " ORDER BY id LIMIT $3::bigint",
    [HG_SEALED_SUBSCRIPTIONS] = "SELECT id, 0::bigint, 0, '', key_id,"
				" convert_to(secret, 'UTF8'), convert_to(old_secret, 'UTF8')"
				" FROM subscriptions"
				" WHERE ($1::text IS NULL OR id > $1::text)"
				" AND key_id IS DISTINCT FROM $2::text ORDER BY id"
				" LIMIT $3::bigint",
};

static int64_t be_int(const PGresult *res, int row, int col)
{
	const unsigned char *v = (const unsigned char *)PQgetvalue(res, row, col);
	int len = PQgetlength(res, row, col), i;
	uint64_t x = 0;

	for (i = 0; i < len; i++)
		x = (x << 8) | v[i];
	return len == 4 ? (int64_t)(int32_t)x : (int64_t)x;
}

int hg_pg_sealed_scan(struct hg_store *st, enum hg_store_sealed_kind kind,
		      const struct hg_store_sealed *after, const char *skip_key_id, size_t limit,
		      int (*fn)(const struct hg_store_sealed *r, void *arg), void *arg)
{
	char cursor[24], lim[24];
	const char *vals[3];
	struct hg_store_sealed r;
	PGresult *res;
	int i, k;

	snprintf(cursor, sizeof(cursor), "%" PRId64, after != NULL ? after->rowid : 0);
	snprintf(lim, sizeof(lim), "%zu", limit);
	vals[0] = kind == HG_SEALED_ATTEMPTS ? cursor : after != NULL ? after->id : NULL;
	vals[1] = skip_key_id;
	vals[2] = lim;
	res = run((struct hg_pg *)st, "sealed_scan", scan_sql[kind], 3, vals, NULL, NULL, 1, NULL);
	if (res == NULL)
		return HG_EIO;
	for (i = 0; i < PQntuples(res); i++) {
		memset(&r, 0, sizeof(r));
		hg_strlcpy(r.id, PQgetvalue(res, i, 0), sizeof(r.id));
		r.rowid = be_int(res, i, 1);
		r.n = (int)be_int(res, i, 2);
		hg_strlcpy(r.source, PQgetvalue(res, i, 3), sizeof(r.source));
		if (!PQgetisnull(res, i, 4))
			hg_strlcpy(r.key_id, PQgetvalue(res, i, 4), sizeof(r.key_id));
		for (k = 0; k < 2; k++) {
			if (PQgetisnull(res, i, 5 + k))
				continue;
			r.v[k] = (const uint8_t *)PQgetvalue(res, i, 5 + k);
			r.len[k] = (size_t)PQgetlength(res, i, 5 + k);
		}
		if (fn(&r, arg) != 0)
			break;
	}
	PQclear(res);
	return HG_OK;
}

/* The swap of each kind: $1 the row, $2 the key it had, $3 the new key,
 * $4 $5 the new values, $6 $7 the values it had (subscriptions). */
static const char *const swap_sql[] = {
    [HG_SEALED_MESSAGES] = "UPDATE messages SET key_id = $3::text, body = $4::bytea,"
			   " headers = convert_from($5::bytea, 'UTF8')"
			   " WHERE id = $1::text AND key_id IS NOT DISTINCT FROM $2::text",
    [HG_SEALED_ATTEMPTS] = "UPDATE attempts SET key_id = $3::text, response_head = $4::bytea"
			   " WHERE id = $1::bigint AND key_id IS NOT DISTINCT FROM $2::text",
    [HG_SEALED_SUBSCRIPTIONS] =
	"UPDATE subscriptions SET key_id = $3::text, secret = convert_from($4::bytea, 'UTF8'),"
	" old_secret = convert_from($5::bytea, 'UTF8')"
	" WHERE id = $1::text AND key_id IS NOT DISTINCT FROM $2::text"
	" AND secret = convert_from($6::bytea, 'UTF8')"
	" AND old_secret IS NOT DISTINCT FROM convert_from($7::bytea, 'UTF8')",
};

struct swap_args {
	enum hg_store_sealed_kind kind;
	const struct hg_store_sealed *old, *new_;
	size_t n, swapped;
};

static void swap_reset(void *arg)
{
	((struct swap_args *)arg)->swapped = 0;
}

static int swap_body(struct hg_pg *p, void *arg, struct hg_pg_fail *f)
{
	struct swap_args *a = arg;
	int nparams = a->kind == HG_SEALED_SUBSCRIPTIONS ? 7
		      : a->kind == HG_SEALED_ATTEMPTS    ? 4
							 : 5;
	char rowid[24];
	const char *vals[7];
	int lens[7], fmts[7], k;
	PGresult *res;
	size_t i;

	for (i = 0; i < a->n; i++) {
		const struct hg_store_sealed *o = &a->old[i], *w = &a->new_[i];

		memset(lens, 0, sizeof(lens));
		memset(fmts, 0, sizeof(fmts));
		snprintf(rowid, sizeof(rowid), "%" PRId64, o->rowid);
		vals[0] = a->kind == HG_SEALED_ATTEMPTS ? rowid : o->id;
		vals[1] = o->key_id[0] != '\0' ? o->key_id : NULL;
		vals[2] = w->key_id[0] != '\0' ? w->key_id : NULL;
		for (k = 0; k < 2; k++) {
			vals[3 + k] = (const char *)w->v[k];
			lens[3 + k] = (int)w->len[k];
			fmts[3 + k] = 1;
			vals[5 + k] = (const char *)o->v[k];
			lens[5 + k] = (int)o->len[k];
			fmts[5 + k] = 1;
		}
		res = run(p, "sealed_swap", swap_sql[a->kind], nparams, vals, lens, fmts, 0, f);
		if (res == NULL)
			return HG_EIO;
		a->swapped += strcmp(PQcmdTuples(res), "0") != 0;
		PQclear(res);
	}
	return HG_OK;
}

int hg_pg_sealed_swap(struct hg_store *st, enum hg_store_sealed_kind kind,
		      const struct hg_store_sealed *old, const struct hg_store_sealed *new_,
		      size_t n, size_t *swapped)
{
	struct swap_args a = {.kind = kind, .old = old, .new_ = new_, .n = n};
	int rc = hg_pg_txn_run((struct hg_pg *)st, "sealed_swap", swap_body, swap_reset, &a);

	*swapped = rc == HG_OK ? a.swapped : 0;
	return rc;
}

/* A key as stored back to the key a caller gave: hg_pg_stored_key writes
 * a key that is not UTF-8 as "hex:" and its bytes. A key that merely looks
 * so (a sender's "hex:4142") does not survive the round trip back through
 * hg_pg_stored_key: it was stored as it is and comes back as it is. */
static char *given_key(const char *stored)
{
	size_t n = strlen(stored), i;
	struct hg_buf again = {0};
	int hi, lo, same;
	char *out;

	if (strncmp(stored, "hex:", 4) != 0 || (n - 4) % 2 != 0)
		return strdup(stored);
	out = malloc((n - 4) / 2 + 1);
	if (out == NULL)
		return NULL;
	for (i = 0; i < (n - 4) / 2; i++) {
		hi = hg_hex_digit(stored[4 + 2 * i]);
		lo = hg_hex_digit(stored[5 + 2 * i]);
		out[i] = (char)(hi < 0 || lo < 0 ? 0 : hi << 4 | lo);
	}
	out[i] = '\0';
	same = hg_pg_stored_key(&again, out) == HG_OK && again.len == n &&
	       memcmp(again.data, stored, n) == 0;
	hg_buf_free(&again);
	if (!same) {
		free(out);
		return strdup(stored);
	}
	return out;
}

int hg_pg_dedupe_scan(
    struct hg_store *st, const char *after_source, const char *after_key, size_t limit,
    int (*fn)(const char *source, const char *key, const char *message_id, void *arg), void *arg)
{
	struct hg_pg *p = (struct hg_pg *)st;
	char lim[24], *key;
	const char *vals[3];
	PGresult *res;
	int i, stop = 0, rc = HG_OK;

	if (after_key != NULL && hg_pg_stored_key(&p->key, after_key) != HG_OK)
		return HG_ENOMEM;
	snprintf(lim, sizeof(lim), "%zu", limit);
	vals[0] = after_source;
	vals[1] = after_key != NULL ? (const char *)p->key.data : NULL;
	vals[2] = lim;
	res = run(p, "dedupe_scan",
		  "SELECT source, key, message_id FROM dedupe"
		  " WHERE ($1::text IS NULL OR (source, key) > ($1::text, $2::text))"
		  " AND key !~ '^h1:[0-9a-f]{32}$' ORDER BY source, key LIMIT $3::bigint",
		  3, vals, NULL, NULL, 0, NULL);
	if (res == NULL)
		return HG_EIO;
	for (i = 0; i < PQntuples(res) && !stop && rc == HG_OK; i++) {
		key = given_key(PQgetvalue(res, i, 1));
		if (key == NULL)
			rc = HG_ENOMEM;
		else
			stop = fn(PQgetvalue(res, i, 0), key, PQgetvalue(res, i, 2), arg);
		free(key);
	}
	PQclear(res);
	return rc;
}

struct rehash_args {
	const struct hg_store_rehash *r;
	size_t n;
};

static int rehash_body(struct hg_pg *p, void *arg, struct hg_pg_fail *f)
{
	struct rehash_args *a = arg;
	const char *vals[4];
	PGresult *res;
	size_t i;

	for (i = 0; i < a->n; i++) {
		if (hg_pg_stored_key(&p->key, a->r[i].key) != HG_OK)
			return HG_EIO;
		vals[0] = a->r[i].source;
		vals[1] = (const char *)p->key.data;
		vals[2] = a->r[i].hash;
		vals[3] = a->r[i].message_id;
		res = run(p, "dedupe_rehash",
			  "WITH gone AS (DELETE FROM dedupe WHERE source = $1 AND key = $2)"
			  " INSERT INTO dedupe (source, key, message_id) VALUES ($1, $3, $4)"
			  " ON CONFLICT DO NOTHING",
			  4, vals, NULL, NULL, 0, f);
		if (res == NULL)
			return HG_EIO;
		PQclear(res);
	}
	return HG_OK;
}

int hg_pg_dedupe_rehash(struct hg_store *st, const struct hg_store_rehash *r, size_t n)
{
	struct rehash_args a = {.r = r, .n = n};

	return hg_pg_txn_run((struct hg_pg *)st, "dedupe_rehash", rehash_body, NULL, &a);
}
