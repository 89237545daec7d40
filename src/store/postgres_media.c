/*
 * postgres_media.c — the media jobs of the PostgreSQL backend (store.h).
 * A claim is one UPDATE ... WHERE id = (SELECT ... FOR UPDATE SKIP LOCKED),
 * so fetchers on several nodes take different jobs.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/postgres_internal.h"

#define MEDIA_SELECT "SELECT " HG_STORE_MEDIA_COLUMNS " FROM media"

int hg_pg_put_media(struct hg_pg *p, const struct hg_store_msg *m, struct hg_pg_fail *f)
{
	char received[24];
	const char *vals[7];
	PGresult *res;
	size_t k;
	int rc = HG_OK;

	snprintf(received, sizeof(received), "%" PRId64, m->received_ms);
	for (k = 0; k < m->n_media && rc == HG_OK; k++) {
		const struct hg_store_media_ref *r = &m->media[k];

		vals[0] = r->id;
		vals[1] = m->id;
		vals[2] = m->source;
		vals[3] = r->graph_id;
		vals[4] = r->mime;
		vals[5] = r->sha256;
		vals[6] = received;
		if (!hg_pg_params_utf8(vals, 7)) {
			f->what = "media insert";
			hg_strlcpy(f->msg, "a media field is not UTF-8", sizeof(f->msg));
			return HG_EIO;
		}
		res = PQexecParams(
		    p->conn,
		    "INSERT INTO media (id, message_id, source, graph_id, mime, sha256,"
		    " state, next_try_ms, created_ms, updated_ms) VALUES ($1, $2, $3,"
		    " $4, $5, $6, 'pending', $7::bigint, $7::bigint, $7::bigint)",
		    7, NULL, vals, NULL, NULL, 0);
		if (PQresultStatus(res) != PGRES_COMMAND_OK)
			rc = hg_pg_fail_with(p, f, "media insert", res);
		PQclear(res);
	}
	return rc;
}

/* Each row of res to fn. */
static void media_rows(PGresult *res, int (*fn)(const struct hg_store_media *m, void *arg),
		       void *arg)
{
	const char *col[HG_STORE_MEDIA_NCOLS];
	struct hg_store_media m;
	int i, c;

	for (i = 0; i < PQntuples(res); i++) {
		for (c = 0; c < HG_STORE_MEDIA_NCOLS; c++)
			col[c] = PQgetisnull(res, i, c) ? NULL : PQgetvalue(res, i, c);
		hg_store_media_fill(&m, col);
		if (fn(&m, arg) != 0)
			break;
	}
}

static int media_copy(const struct hg_store_media *m, void *arg)
{
	memcpy(arg, m, sizeof(*m));
	return 1;
}

static int media_read(struct hg_pg *p, const char *op, const char *sql, int n,
		      const char *const *vals, int (*fn)(const struct hg_store_media *m, void *arg),
		      void *arg)
{
	PGresult *res;

	if (!hg_pg_params_utf8(vals, n))
		return HG_OK; /* no row can match text the database cannot hold */
	res = hg_pg_read_query(p, op, sql, n, vals, 0);
	if (res == NULL)
		return HG_EIO;
	media_rows(res, fn, arg);
	PQclear(res);
	return HG_OK;
}

int hg_pg_media_claim(struct hg_store *st, int64_t now_ms, int64_t lease_until_ms,
		      struct hg_store_media *out)
{
	char now[24], lease[24];
	const char *vals[2] = {now, lease};
	int rc;

	snprintf(now, sizeof(now), "%" PRId64, now_ms);
	snprintf(lease, sizeof(lease), "%" PRId64, lease_until_ms);
	out->id[0] = '\0';
	rc = media_read((struct hg_pg *)st, "media_claim",
			"UPDATE media SET next_try_ms = $2::bigint, attempts = attempts + 1,"
			" updated_ms = $1::bigint WHERE id = (SELECT id FROM media"
			" WHERE state = 'pending' AND next_try_ms <= $1::bigint"
			" ORDER BY next_try_ms LIMIT 1 FOR UPDATE SKIP LOCKED)"
			" RETURNING " HG_STORE_MEDIA_COLUMNS,
			2, vals, media_copy, out);
	if (rc != HG_OK)
		return rc;
	return out->id[0] != '\0' ? HG_OK : HG_ENOTFOUND;
}

static const char *opt(const char *s)
{
	return s[0] != '\0' ? s : NULL;
}

int hg_pg_media_update(struct hg_store *st, const struct hg_store_media *m, int64_t now_ms)
{
	struct hg_pg *p = (struct hg_pg *)st;
	char size[24], next[24], now[24];
	const char *vals[10];
	PGresult *res;
	int rc = HG_OK;

	if (hg_store_media_state_name(m->state) == NULL)
		return HG_EINVAL;
	snprintf(size, sizeof(size), "%" PRId64, m->size);
	snprintf(next, sizeof(next), "%" PRId64, m->next_try_ms);
	snprintf(now, sizeof(now), "%" PRId64, now_ms);
	vals[0] = m->id;
	vals[1] = hg_store_media_state_name(m->state);
	vals[2] = opt(m->mime);
	vals[3] = opt(m->sha256);
	vals[4] = size;
	vals[5] = next;
	vals[6] = opt(m->error);
	vals[7] = opt(m->file);
	vals[8] = opt(m->key_id);
	vals[9] = now;
	if (!hg_pg_params_utf8(vals, 10))
		return HG_EINVAL;
	res = PQexecParams(p->conn,
			   "UPDATE media SET state = $2, mime = $3, sha256 = $4, size = $5::bigint,"
			   " next_try_ms = $6::bigint, error = $7, file = $8, key_id = $9,"
			   " updated_ms = $10::bigint WHERE id = $1",
			   10, NULL, vals, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_COMMAND_OK) {
		hg_pg_read_failed(p, "media_update", res);
		rc = HG_EIO;
	} else if (strcmp(PQcmdTuples(res), "0") == 0) {
		rc = HG_ENOTFOUND;
	}
	PQclear(res);
	return rc;
}

int hg_pg_media_get(struct hg_store *st, const char *id, struct hg_store_media *out)
{
	const char *vals[1] = {id};
	int rc;

	out->id[0] = '\0';
	rc = media_read((struct hg_pg *)st, "media_get", MEDIA_SELECT " WHERE id = $1", 1, vals,
			media_copy, out);
	if (rc != HG_OK)
		return rc;
	return out->id[0] != '\0' ? HG_OK : HG_ENOTFOUND;
}

int hg_pg_media_list(struct hg_store *st, const char *message_id,
		     int (*fn)(const struct hg_store_media *m, void *arg), void *arg)
{
	const char *vals[1] = {message_id};

	return media_read((struct hg_pg *)st, "media_list",
			  MEDIA_SELECT " WHERE message_id = $1 ORDER BY id", 1, vals, fn, arg);
}

int hg_pg_media_old(struct hg_store *st, const char *source, int64_t before_ms, size_t limit,
		    int (*fn)(const struct hg_store_media *m, void *arg), void *arg)
{
	char before[24], lim[24];
	const char *vals[3] = {source, before, lim};

	snprintf(before, sizeof(before), "%" PRId64, before_ms);
	snprintf(lim, sizeof(lim), "%zu", limit);
	return media_read((struct hg_pg *)st, "media_old",
			  MEDIA_SELECT " WHERE source = $1 AND created_ms < $2::bigint"
				       " AND state IN ('stored', 'quarantined') ORDER BY created_ms"
				       " LIMIT $3::bigint",
			  3, vals, fn, arg);
}

int hg_pg_media_defer(struct hg_store *st, const char *delivery_id, const char *lease_owner,
		      int64_t until_ms)
{
	struct hg_pg *p = (struct hg_pg *)st;
	char until[24], now[24];
	const char *vals[4] = {delivery_id, lease_owner, until, now};
	PGresult *res;
	int rc = HG_OK;

	snprintf(until, sizeof(until), "%" PRId64, until_ms);
	snprintf(now, sizeof(now), "%" PRId64, hg_now_ms());
	res = PQexecParams(p->conn,
			   "UPDATE deliveries SET status = 'pending', next_attempt_ms = $3::bigint,"
			   " lease_owner = NULL, lease_until_ms = NULL, updated_ms = $4::bigint"
			   " WHERE id = $1 AND status = 'delivering' AND lease_owner = $2",
			   4, NULL, vals, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_COMMAND_OK) {
		hg_pg_read_failed(p, "media_defer", res);
		rc = HG_EIO;
	}
	PQclear(res);
	return rc;
}

int hg_pg_media_counts(struct hg_store *st, int64_t counts[HG_MEDIA_EXPIRED + 1],
		       int64_t *stored_bytes)
{
	enum hg_media_state s;
	PGresult *res;
	int i;

	res = hg_pg_read_query((struct hg_pg *)st, "media_counts",
			       "SELECT state, count(*), coalesce(sum(size), 0) FROM media"
			       " GROUP BY state",
			       0, NULL, 0);
	if (res == NULL)
		return HG_EIO;
	for (i = 0; i < PQntuples(res); i++) {
		if (hg_store_media_state_parse(PQgetvalue(res, i, 0), &s) != HG_OK)
			continue;
		counts[s] = hg_pg_text_i64(res, i, 1, 0);
		if (s == HG_MEDIA_STORED)
			*stored_bytes = hg_pg_text_i64(res, i, 2, 0);
	}
	PQclear(res);
	return HG_OK;
}
