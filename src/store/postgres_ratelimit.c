/*
 * postgres_ratelimit.c — rate-limit counters several hookgate nodes share
 * through the database (store.h, the optional ratelimit ops): each node
 * adds its hits and follows everyone's, on the server's clock. Soft state
 * in an UNLOGGED table.
 */
#include <inttypes.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/postgres_internal.h"

/* ---- shared rate-limit counters (store.h) ---- */

/* How often a handle forgets rate-limit windows that ended long ago. */
#define HG_PG_RL_SWEEP_MS 60000
/* The server's clock in ms: every node's updated_ms comes from it, so
 * followers compare times of one clock. */
#define HG_PG_NOW_MS "(extract(epoch FROM clock_timestamp()) * 1000)::bigint"

struct rl_args {
	struct hg_store_rl_count *c;
	size_t n;
};

static int rl_body(struct hg_pg *p, void *arg, struct hg_pg_fail *f)
{
	/* Counters are added in (source, key, ...) order, so nodes adding to
	 * the same ones wait instead of deadlocking. The main query reads the
	 * pre-statement snapshot: a counter this statement changed is read
	 * from what the insert returned. */
	static const char sql[] =
	    "WITH u AS (SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[], $4::bigint[],"
	    "  $5::bigint[], $6::integer[]) AS u(s, k, p, w, a, i)),"
	    " ins AS (INSERT INTO ratelimit_counts (source, key, per_ms, window_ms, hits,"
	    "  updated_ms)"
	    "  SELECT s, k, p, w, a, " HG_PG_NOW_MS " FROM u WHERE a > 0"
	    "  ORDER BY s COLLATE \"C\", k COLLATE \"C\", p, w"
	    "  ON CONFLICT (source, key, per_ms, window_ms)"
	    "  DO UPDATE SET hits = ratelimit_counts.hits + excluded.hits,"
	    "  updated_ms = excluded.updated_ms"
	    "  RETURNING source, key, per_ms, window_ms, hits)"
	    " SELECT u.i, coalesce(ins.hits, cur.hits, 0), coalesce(prev.hits, 0) FROM u"
	    " LEFT JOIN ins ON ins.source = u.s AND ins.key = u.k AND ins.per_ms = u.p"
	    "  AND ins.window_ms = u.w"
	    " LEFT JOIN ratelimit_counts AS cur ON cur.source = u.s AND cur.key = u.k"
	    "  AND cur.per_ms = u.p AND cur.window_ms = u.w"
	    " LEFT JOIN ratelimit_counts AS prev ON prev.source = u.s AND prev.key = u.k"
	    "  AND prev.per_ms = u.p AND prev.window_ms = u.w - u.p";
	struct rl_args *a = arg;
	const char *vals[6];
	PGresult *res;
	size_t i, k;
	int rc = HG_OK, r;

	for (k = 0; k < 4; k++)
		hg_pg_arr_start(&p->arr[k]);
	for (k = 0; k < 2; k++)
		hg_pg_arr_start(&p->darr[k]);
	for (i = 0; i < a->n && rc == HG_OK; i++) {
		const struct hg_store_rl_count *c = &a->c[i];

		rc = hg_pg_stored_key(&p->key, c->key);
		if (rc == HG_OK)
			rc = hg_pg_arr_add(&p->arr[0], c->source, strlen(c->source));
		if (rc == HG_OK)
			rc = hg_pg_arr_add(&p->arr[1], (const char *)p->key.data, p->key.len);
		if (rc == HG_OK)
			rc = hg_pg_arr_add_int(&p->arr[2], c->per_ms);
		if (rc == HG_OK)
			rc = hg_pg_arr_add_int(&p->arr[3], c->window_ms);
		if (rc == HG_OK)
			rc = hg_pg_arr_add_int(&p->darr[0], c->add > 0 ? c->add : 0);
		if (rc == HG_OK)
			rc = hg_pg_arr_add_int(&p->darr[1], (int64_t)i);
	}
	for (k = 0; k < 4 && rc == HG_OK; k++)
		rc = hg_pg_arr_end(&p->arr[k]);
	for (k = 0; k < 2 && rc == HG_OK; k++)
		rc = hg_pg_arr_end(&p->darr[k]);
	if (rc != HG_OK) {
		f->what = "rate-limit counters";
		hg_strlcpy(f->msg, "out of memory", sizeof(f->msg));
		return HG_EIO;
	}
	for (k = 0; k < 4; k++)
		vals[k] = (const char *)p->arr[k].data;
	vals[4] = (const char *)p->darr[0].data;
	vals[5] = (const char *)p->darr[1].data;
	res = PQexecParams(p->conn, sql, 6, NULL, vals, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		rc = hg_pg_fail_with(p, f, "rate-limit counters", res);
	} else {
		for (r = 0; r < PQntuples(res); r++) {
			i = (size_t)strtoul(PQgetvalue(res, r, 0), NULL, 10);
			if (i >= a->n)
				continue;
			a->c[i].total_cur = hg_pg_text_i64(res, r, 1, 0);
			a->c[i].total_prev = hg_pg_text_i64(res, r, 2, 0);
		}
	}
	PQclear(res);
	if (rc == HG_OK && hg_now_ms() - p->rl_swept_ms >= HG_PG_RL_SWEEP_MS) {
		char now[24];

		/* a window is worth nothing once it is not even the previous one */
		snprintf(now, sizeof(now), "%" PRId64, hg_now_ms());
		vals[0] = now;
		res = PQexecParams(
		    p->conn,
		    "DELETE FROM ratelimit_counts WHERE window_ms < $1::bigint - 2 * per_ms", 1,
		    NULL, vals, NULL, NULL, 0);
		if (PQresultStatus(res) != PGRES_COMMAND_OK)
			rc = hg_pg_fail_with(p, f, "rate-limit sweep", res);
		PQclear(res);
	}
	return rc;
}

int hg_pg_ratelimit_add(struct hg_store *st, struct hg_store_rl_count *c, size_t n)
{
	struct hg_pg *p = (struct hg_pg *)st;
	struct rl_args a = {.c = c, .n = n};
	int rc;

	rc = hg_pg_txn_run(p, "ratelimit_add", rl_body, NULL, &a);
	if (rc == HG_OK && hg_now_ms() - p->rl_swept_ms >= HG_PG_RL_SWEEP_MS)
		p->rl_swept_ms = hg_now_ms();
	return rc;
}

int hg_pg_ratelimit_changes(struct hg_store *st, int64_t since_ms,
			    int (*fn)(const struct hg_store_rl_count *c, void *arg), void *arg,
			    int64_t *now_ms)
{
	struct hg_pg *p = (struct hg_pg *)st;
	char since[24];
	const char *vals[1] = {since};
	PGresult *res;
	int i;

	snprintf(since, sizeof(since), "%" PRId64, since_ms);
	/* the server's now first: a row updated after it is read next time */
	res = hg_pg_read_query(p, "ratelimit_changes", "SELECT " HG_PG_NOW_MS, 0, NULL, 0);
	if (res == NULL)
		return HG_EIO;
	*now_ms = hg_pg_text_i64(res, 0, 0, 0);
	PQclear(res);
	res = hg_pg_read_query(p, "ratelimit_changes",
			       "SELECT source, key, per_ms, window_ms, hits FROM ratelimit_counts"
			       " WHERE updated_ms >= $1::bigint",
			       1, vals, 0);
	if (res == NULL)
		return HG_EIO;
	for (i = 0; i < PQntuples(res); i++) {
		struct hg_store_rl_count c = {
		    .source = PQgetvalue(res, i, 0),
		    .key = PQgetvalue(res, i, 1),
		    .per_ms = hg_pg_text_i64(res, i, 2, 0),
		    .window_ms = hg_pg_text_i64(res, i, 3, 0),
		    .total_cur = hg_pg_text_i64(res, i, 4, 0),
		    .total_prev = -1,
		};

		/* a key stored as "hex:..." was not UTF-8: no local key matches
		 * it as text, so it is left out rather than decoded */
		if (strncmp(c.key, "hex:", 4) == 0)
			continue;
		if (fn(&c, arg) != 0)
			break;
	}
	PQclear(res);
	return HG_OK;
}
