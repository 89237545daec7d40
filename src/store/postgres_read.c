/*
 * postgres_read.c — the PostgreSQL backend's management reads (messages,
 * deliveries, attempts, queue counts), hourly stats and retention (purge of
 * old messages, the audit log's checkpointed purge), for the API's
 * connections; not the ingest hot path. Writes take postgres.c's one
 * transaction path (hg_pg_txn_run).
 */
#include <endian.h>
#include <inttypes.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stats/stats.h"
#include "store/postgres_internal.h"

/* ---- management reads, stats and retention ----
 * The API's queries take optional filters. Each is ONE fixed statement in
 * which an absent filter is a NULL parameter ("$1::text IS NULL OR ...");
 * PQexecParams plans the unnamed statement with the actual values, so the
 * NULL branches fold away and the indexes that fit are used. */

/* Binary-format column readers (for rows with bytea, read in binary). */
static int64_t bin_i64(const PGresult *res, int row, int col)
{
	uint64_t be;

	if (PQgetisnull(res, row, col) || PQgetlength(res, row, col) != 8)
		return -1;
	memcpy(&be, PQgetvalue(res, row, col), 8);
	return (int64_t)be64toh(be);
}

static int bin_i32(const PGresult *res, int row, int col)
{
	uint32_t be;

	if (PQgetisnull(res, row, col) || PQgetlength(res, row, col) != 4)
		return -1;
	memcpy(&be, PQgetvalue(res, row, col), 4);
	return (int)be32toh(be);
}

int64_t hg_pg_text_i64(const PGresult *res, int row, int col, int64_t null_value)
{
	return PQgetisnull(res, row, col) ? null_value
					  : strtoll(PQgetvalue(res, row, col), NULL, 10);
}

/* A message's state is the highest rank among its deliveries' states. */
static const int rank_status[] = {HG_STORE_NO_DELIVERIES, HG_DELIVERY_SUCCEEDED,
				  HG_DELIVERY_DELIVERING, HG_DELIVERY_PENDING,
				  HG_DELIVERY_FAILED,     HG_DELIVERY_DEAD};
#define HG_PG_RANKS ((int)(sizeof(rank_status) / sizeof(rank_status[0])))

static int status_rank(int status)
{
	for (int r = 0; r < HG_PG_RANKS; r++)
		if (rank_status[r] == status)
			return r;
	return -1;
}

/* Whether every non-NULL text parameter is UTF-8: a filter that is not
 * matches nothing (and the server would refuse it). */
int hg_pg_params_utf8(const char *const *vals, int n)
{
	for (int i = 0; i < n; i++)
		if (vals[i] != NULL && !hg_pg_utf8_valid(vals[i]))
			return 0;
	return 1;
}

/* Runs a read with text parameters; NULL (logged) unless it returned rows. */
PGresult *hg_pg_read_query(struct hg_pg *p, const char *op, const char *sql, int n,
			   const char *const *vals, int resfmt)
{
	PGresult *res = PQexecParams(p->conn, sql, n, NULL, vals, NULL, NULL, resfmt);

	if (PQresultStatus(res) == PGRES_TUPLES_OK)
		return res;
	hg_pg_read_failed(p, op, res);
	PQclear(res);
	return NULL;
}

int hg_pg_list_messages(struct hg_store *st, const struct hg_store_msg_filter *f,
			int (*fn)(const struct hg_store_msg_info *m, void *arg), void *arg)
{
	static const char sql[] =
	    "SELECT id, source, content_type, received_ms, body_len, dedupe_count, rank, n FROM"
	    " (SELECT m.id, m.source, m.content_type, m.received_ms,"
	    "   octet_length(m.body) - CASE WHEN m.key_id IS NULL THEN 0 ELSE 28 END AS body_len,"
	    "   m.dedupe_count,"
	    "   coalesce((SELECT max(CASE d.status WHEN 'dead' THEN 5 WHEN 'failed' THEN 4"
	    "     WHEN 'pending' THEN 3 WHEN 'delivering' THEN 2 ELSE 1 END)"
	    "     FROM deliveries AS d WHERE d.message_id = m.id), 0) AS rank,"
	    "   (SELECT count(*) FROM deliveries AS d WHERE d.message_id = m.id) AS n"
	    "  FROM messages AS m"
	    "  WHERE ($1::text IS NULL OR m.source = $1::text)"
	    "  AND ($7::text IS NULL OR m.id = $7::text)"
	    "  AND ($2::bigint IS NULL OR m.received_ms >= $2::bigint)"
	    "  AND ($3::bigint IS NULL OR m.received_ms < $3::bigint)"
	    "  AND ($4::text IS NULL OR m.id < $4::text)"
	    "  AND ($8::text[] IS NULL OR m.id IN (SELECT message_id FROM dedupe"
	    "    WHERE source = $1::text AND key = ANY($8::text[])))"
	    "  ORDER BY m.id DESC) AS x"
	    " WHERE ($5::integer IS NULL OR rank = $5::integer)"
	    " ORDER BY id DESC LIMIT $6::bigint";
	struct hg_pg *p = (struct hg_pg *)st;
	char since[24], until[24], rank[24], limit[24];
	const char *vals[8] = {f->source, NULL, NULL, f->before_id, NULL, NULL, f->id, NULL};
	struct hg_buf keys = {0}, one = {0};
	PGresult *res;
	size_t k;
	int i;

	if (f->n_dedupe_keys > 0) { /* as put_batch stored them (hg_pg_stored_key) */
		hg_pg_arr_start(&keys);
		for (k = 0; k < f->n_dedupe_keys; k++)
			if (hg_pg_stored_key(&one, f->dedupe_keys[k]) != HG_OK ||
			    hg_pg_arr_add(&keys, (const char *)one.data, one.len) != HG_OK)
				break;
		hg_buf_free(&one);
		if (k < f->n_dedupe_keys || hg_pg_arr_end(&keys) != HG_OK) {
			hg_buf_free(&keys);
			return HG_ENOMEM;
		}
		vals[7] = (const char *)keys.data;
	}

	if (f->since_ms != INT64_MIN) {
		snprintf(since, sizeof(since), "%" PRId64, f->since_ms);
		vals[1] = since;
	}
	if (f->until_ms != INT64_MAX) {
		snprintf(until, sizeof(until), "%" PRId64, f->until_ms);
		vals[2] = until;
	}
	if (f->status >= 0) {
		snprintf(rank, sizeof(rank), "%d", status_rank(f->status));
		vals[4] = rank;
	}
	if (f->limit > 0) {
		snprintf(limit, sizeof(limit), "%zu", f->limit);
		vals[5] = limit;
	}
	if (!hg_pg_params_utf8(vals, 7)) {
		hg_buf_free(&keys);
		return HG_OK;
	}
	res = hg_pg_read_query(p, "list_messages", sql, 8, vals, 0);
	hg_buf_free(&keys);
	if (res == NULL)
		return HG_EIO;
	for (i = 0; i < PQntuples(res); i++) {
		int r = (int)hg_pg_text_i64(res, i, 6, 0);
		struct hg_store_msg_info m = {
		    .id = PQgetvalue(res, i, 0),
		    .source = PQgetvalue(res, i, 1),
		    .content_type = PQgetisnull(res, i, 2) ? NULL : PQgetvalue(res, i, 2),
		    .received_ms = hg_pg_text_i64(res, i, 3, 0),
		    .body_len = hg_pg_text_i64(res, i, 4, 0),
		    .duplicates = hg_pg_text_i64(res, i, 5, 0),
		    .status = r >= 0 && r < HG_PG_RANKS ? rank_status[r] : 0,
		    .deliveries = hg_pg_text_i64(res, i, 7, 0),
		};

		if (fn(&m, arg) != 0)
			break;
	}
	PQclear(res);
	return HG_OK;
}

int hg_pg_list_deliveries(struct hg_store *st, const struct hg_store_delivery_filter *f,
			  int (*fn)(const struct hg_store_delivery_info *d, void *arg), void *arg)
{
	static const char sql[] =
	    "SELECT d.id, d.message_id, d.endpoint, m.source, d.status, d.attempts,"
	    " d.next_attempt_ms, d.last_status, d.last_error, d.created_ms, d.updated_ms"
	    " FROM deliveries AS d LEFT JOIN messages AS m ON m.id = d.message_id"
	    " WHERE ($1::text IS NULL OR d.id = $1::text)"
	    " AND ($2::text IS NULL OR d.message_id = $2::text)"
	    " AND ($3::text IS NULL OR d.endpoint = $3::text)"
	    " AND ($4::text IS NULL OR d.status = $4::text)"
	    " AND ($5::text IS NULL OR d.id < $5::text)"
	    " ORDER BY d.id DESC LIMIT $6::bigint";
	struct hg_pg *p = (struct hg_pg *)st;
	char limit[24];
	const char *vals[6] = {
	    f->id,        f->message_id,
	    f->endpoint,  f->status != 0 ? hg_store_delivery_status_name(f->status) : NULL,
	    f->before_id, NULL};
	PGresult *res;
	int i;

	if (f->limit > 0) {
		snprintf(limit, sizeof(limit), "%zu", f->limit);
		vals[5] = limit;
	}
	if (!hg_pg_params_utf8(vals, 6))
		return HG_OK;
	res = hg_pg_read_query(p, "list_deliveries", sql, 6, vals, 0);
	if (res == NULL)
		return HG_EIO;
	for (i = 0; i < PQntuples(res); i++) {
		struct hg_store_delivery_info d = {
		    .id = PQgetvalue(res, i, 0),
		    .message_id = PQgetvalue(res, i, 1),
		    .endpoint = PQgetvalue(res, i, 2),
		    .source = PQgetisnull(res, i, 3) ? NULL : PQgetvalue(res, i, 3),
		    .attempts = (int)hg_pg_text_i64(res, i, 5, 0),
		    .next_attempt_ms = hg_pg_text_i64(res, i, 6, -1),
		    .last_status = (int)hg_pg_text_i64(res, i, 7, -1),
		    .last_error = PQgetisnull(res, i, 8) ? NULL : PQgetvalue(res, i, 8),
		    .created_ms = hg_pg_text_i64(res, i, 9, 0),
		    .updated_ms = hg_pg_text_i64(res, i, 10, 0),
		};

		if (hg_store_delivery_status_parse(PQgetvalue(res, i, 4), &d.status) != HG_OK)
			continue;
		if (fn(&d, arg) != 0)
			break;
	}
	PQclear(res);
	return HG_OK;
}

int hg_pg_message_attempts(struct hg_store *st, const char *message_id,
			   int (*fn)(const struct hg_store_attempt_info *a, void *arg), void *arg)
{
	static const char sql[] =
	    "SELECT delivery_id, n, started_ms, duration_ms, status_code, error, response_head,"
	    " key_id FROM attempts WHERE delivery_id IN"
	    " (SELECT id FROM deliveries WHERE message_id = $1::text) ORDER BY delivery_id, n";
	struct hg_pg *p = (struct hg_pg *)st;
	const char *vals[1] = {message_id};
	PGresult *res;
	int i;

	/* binary results: the response head arrives as its bytes */
	if (!hg_pg_params_utf8(vals, 1))
		return HG_OK;
	res = hg_pg_read_query(p, "message_attempts", sql, 1, vals, 1);
	if (res == NULL)
		return HG_EIO;
	for (i = 0; i < PQntuples(res); i++) {
		struct hg_store_attempt_info a = {
		    .delivery_id = PQgetvalue(res, i, 0),
		    .n = bin_i32(res, i, 1),
		    .started_ms = bin_i64(res, i, 2),
		    .duration_ms = bin_i64(res, i, 3),
		    .status_code = bin_i32(res, i, 4),
		    .error = PQgetisnull(res, i, 5) ? NULL : PQgetvalue(res, i, 5),
		    .response_head =
			PQgetisnull(res, i, 6) ? NULL : (const uint8_t *)PQgetvalue(res, i, 6),
		    .response_head_len =
			PQgetisnull(res, i, 6) ? 0 : (size_t)PQgetlength(res, i, 6),
		    .key_id = PQgetisnull(res, i, 7) ? NULL : PQgetvalue(res, i, 7),
		};

		if (fn(&a, arg) != 0)
			break;
	}
	PQclear(res);
	return HG_OK;
}

int hg_pg_count_deliveries(struct hg_store *st, int64_t counts[HG_DELIVERY_DEAD + 1])
{
	static const char sql[] = "SELECT status, count(*) FROM deliveries WHERE status IN"
				  " ('pending', 'delivering', 'failed', 'dead') GROUP BY status";
	struct hg_pg *p = (struct hg_pg *)st;
	enum hg_delivery_status s;
	PGresult *res;
	int i;

	res = hg_pg_read_query(p, "count_deliveries", sql, 0, NULL, 0);
	if (res == NULL)
		return HG_EIO;
	for (i = 0; i < PQntuples(res); i++)
		if (hg_store_delivery_status_parse(PQgetvalue(res, i, 0), &s) == HG_OK)
			counts[s] = hg_pg_text_i64(res, i, 1, 0);
	PQclear(res);
	return HG_OK;
}

int hg_pg_backlog(struct hg_store *st, int (*fn)(const struct hg_store_backlog *b, void *arg),
		  void *arg)
{
	struct hg_pg *p = (struct hg_pg *)st;
	PGresult *res;
	int i;

	res = hg_pg_read_query(p, "backlog", HG_STORE_BACKLOG_SQL, 0, NULL, 0);
	if (res == NULL)
		return HG_EIO;
	for (i = 0; i < PQntuples(res); i++) {
		struct hg_store_backlog b = {.endpoint = PQgetvalue(res, i, 0),
					     .pending = hg_pg_text_i64(res, i, 1, 0),
					     .oldest_ms = hg_pg_text_i64(res, i, 2, 0)};

		if (fn(&b, arg) != 0)
			break;
	}
	PQclear(res);
	return HG_OK;
}

/* The stats statements name hg_stat_names' columns: built once from that
 * table of identifiers (never from values) into b. how: 0 "a, b", 1
 * "sum(a), sum(b)", 2 "a = stats_hourly.a + excluded.a, ...", 3 "$3, $4". */
static int stat_columns(struct hg_buf *b, int how)
{
	int rc = HG_OK;

	for (int i = 0; i < HG_STAT_N && rc == HG_OK; i++) {
		const char *c = hg_stat_names[i];

		rc = hg_buf_puts(b, i > 0 ? ", " : "");
		if (rc != HG_OK)
			break;
		if (how == 1)
			rc = hg_buf_printf(b, "sum(%s)", c);
		else if (how == 2)
			rc = hg_buf_printf(b, "%s = stats_hourly.%s + excluded.%s", c, c, c);
		else if (how == 3)
			rc = hg_buf_printf(b, "$%d::bigint", i + 3);
		else
			rc = hg_buf_puts(b, c);
	}
	return rc;
}

struct stats_args {
	const struct hg_stats_row *rows;
	size_t n;
	size_t *order; /* rows in (source, hour) order */
};

static int cmp_stats_row(const void *a, const void *b, void *arg)
{
	const struct hg_stats_row *rows = arg;
	const struct hg_stats_row *x = &rows[*(const size_t *)a];
	const struct hg_stats_row *y = &rows[*(const size_t *)b];
	int c = strcmp(x->source, y->source);

	return c != 0 ? c : (x->hour_ms > y->hour_ms) - (x->hour_ms < y->hour_ms);
}

static int stats_add_body(struct hg_pg *p, void *arg, struct hg_pg_fail *f)
{
	struct stats_args *a = arg;
	struct hg_buf hsql = {0};
	char hour[24], nums[HG_STAT_N][24];
	const char *vals[2 + HG_STAT_N];
	PGresult *res;
	size_t i;
	int rc = HG_OK, k;

	if (hg_buf_puts(&hsql, "INSERT INTO stats_hourly (source, hour_ms, ") != HG_OK ||
	    stat_columns(&hsql, 0) != HG_OK ||
	    hg_buf_puts(&hsql, ") VALUES ($1::text, $2::bigint, ") != HG_OK ||
	    stat_columns(&hsql, 3) != HG_OK ||
	    hg_buf_puts(&hsql, ") ON CONFLICT (source, hour_ms) DO UPDATE SET ") != HG_OK ||
	    stat_columns(&hsql, 2) != HG_OK) {
		hg_buf_free(&hsql);
		f->what = "stats statement";
		hg_strlcpy(f->msg, "out of memory", sizeof(f->msg));
		return HG_EIO;
	}
	for (i = 0; i < a->n && rc == HG_OK; i++) {
		const struct hg_stats_row *r = &a->rows[a->order[i]];

		snprintf(hour, sizeof(hour), "%" PRId64, r->hour_ms);
		vals[0] = r->source;
		vals[1] = hour;
		for (k = 0; k < HG_STAT_N; k++) {
			snprintf(nums[k], sizeof(nums[k]), "%" PRIu64, r->count[k]);
			vals[2 + k] = nums[k];
		}
		res = PQexecParams(p->conn, (const char *)hsql.data, 2 + HG_STAT_N, NULL, vals,
				   NULL, NULL, 0);
		if (PQresultStatus(res) != PGRES_COMMAND_OK)
			rc = hg_pg_fail_with(p, f, "stats upsert", res);
		PQclear(res);
		if (rc != HG_OK)
			break;
		/* the non-empty latency buckets of the row, as two arrays */
		hg_pg_arr_start(&p->arr[0]);
		hg_pg_arr_start(&p->arr[1]);
		for (k = 0; k < HG_STATS_BUCKETS && rc == HG_OK; k++) {
			if (r->latency[k] == 0)
				continue;
			rc = hg_pg_arr_add_int(&p->arr[0], k);
			if (rc == HG_OK)
				rc = hg_pg_arr_add_int(&p->arr[1], (int64_t)r->latency[k]);
		}
		if (rc == HG_OK && p->arr[0].len == 0)
			continue;
		if (rc == HG_OK)
			rc = hg_pg_arr_end(&p->arr[0]);
		if (rc == HG_OK)
			rc = hg_pg_arr_end(&p->arr[1]);
		if (rc != HG_OK) {
			f->what = "stats latency";
			hg_strlcpy(f->msg, "out of memory", sizeof(f->msg));
			break;
		}
		vals[2] = (const char *)p->arr[0].data;
		vals[3] = (const char *)p->arr[1].data;
		res = PQexecParams(p->conn,
				   "INSERT INTO stats_latency (source, hour_ms, bucket, count)"
				   " SELECT $1::text, $2::bigint, u.b, u.c"
				   " FROM unnest($3::integer[], $4::bigint[]) AS u(b, c)"
				   " ON CONFLICT (source, hour_ms, bucket)"
				   " DO UPDATE SET count = stats_latency.count + excluded.count",
				   4, NULL, vals, NULL, NULL, 0);
		if (PQresultStatus(res) != PGRES_COMMAND_OK)
			rc = hg_pg_fail_with(p, f, "stats latency upsert", res);
		PQclear(res);
	}
	hg_buf_free(&hsql);
	return rc;
}

int hg_pg_stats_add(struct hg_store *st, const struct hg_stats_row *rows, size_t n)
{
	struct stats_args a = {.rows = rows, .n = n};
	size_t i;
	int rc;

	if (n == 0)
		return HG_OK;
	/* Nodes upsert the same (source, hour) rows: in one order, so two
	 * flushes wait for each other instead of deadlocking. */
	a.order = malloc(n * sizeof(*a.order));
	if (a.order == NULL)
		return HG_EIO;
	for (i = 0; i < n; i++)
		a.order[i] = i;
	qsort_r(a.order, n, sizeof(*a.order), cmp_stats_row, (void *)rows);
	rc = hg_pg_txn_run((struct hg_pg *)st, "stats_add", stats_add_body, NULL, &a);
	free(a.order);
	return rc;
}

int hg_pg_stats_read(struct hg_store *st, const char *source, int64_t from_ms,
		     struct hg_stats_row *rows, size_t n)
{
	struct hg_pg *p = (struct hg_pg *)st;
	struct hg_buf sql = {0};
	char from[24], to[24];
	const char *vals[3] = {from, to, source};
	PGresult *res;
	int i, k, rc = HG_EIO;

	snprintf(from, sizeof(from), "%" PRId64, from_ms);
	snprintf(to, sizeof(to), "%" PRId64, (int64_t)(from_ms + (int64_t)n * HG_HOUR_MS));
	if (hg_buf_puts(&sql, "SELECT hour_ms, ") != HG_OK || stat_columns(&sql, 1) != HG_OK ||
	    hg_buf_puts(&sql, " FROM stats_hourly WHERE hour_ms >= $1::bigint AND hour_ms <"
			      " $2::bigint AND ($3::text IS NULL OR source = $3::text)"
			      " GROUP BY hour_ms") != HG_OK) {
		hg_buf_free(&sql);
		return HG_ENOMEM;
	}
	res = hg_pg_read_query(p, "stats_read", (const char *)sql.data, 3, vals, 0);
	hg_buf_free(&sql);
	if (res == NULL)
		return HG_EIO;
	for (i = 0; i < PQntuples(res); i++) {
		int64_t h = hg_pg_text_i64(res, i, 0, 0);

		if (h < from_ms || (h - from_ms) % HG_HOUR_MS != 0 ||
		    (uint64_t)((h - from_ms) / HG_HOUR_MS) >= n)
			continue;
		for (k = 0; k < HG_STAT_N; k++)
			rows[(h - from_ms) / HG_HOUR_MS].count[k] +=
			    (uint64_t)hg_pg_text_i64(res, i, k + 1, 0);
	}
	PQclear(res);
	res = hg_pg_read_query(
	    p, "stats_read",
	    "SELECT hour_ms, bucket, sum(count) FROM stats_latency"
	    " WHERE hour_ms >= $1::bigint AND hour_ms < $2::bigint"
	    " AND ($3::text IS NULL OR source = $3::text) GROUP BY hour_ms, bucket",
	    3, vals, 0);
	if (res == NULL)
		return HG_EIO;
	for (i = 0; i < PQntuples(res); i++) {
		int64_t h = hg_pg_text_i64(res, i, 0, 0);
		int b = (int)hg_pg_text_i64(res, i, 1, -1);

		if (h < from_ms || (h - from_ms) % HG_HOUR_MS != 0 ||
		    (uint64_t)((h - from_ms) / HG_HOUR_MS) >= n || b < 0 || b >= HG_STATS_BUCKETS)
			continue;
		rows[(h - from_ms) / HG_HOUR_MS].latency[b] +=
		    (uint64_t)hg_pg_text_i64(res, i, 2, 0);
	}
	PQclear(res);
	rc = HG_OK;
	return rc;
}

struct purge_args {
	const struct hg_store_purge_scope *scope; /* NULL: every source */
	int64_t before_ms;
	size_t limit;
	struct hg_store_purged got;
	size_t n;
};

static int purge_body(struct hg_pg *p, void *arg, struct hg_pg_fail *f)
{
	/* Candidates are locked (SKIP LOCKED: nodes purging at once take
	 * disjoint sets), then their deliveries (waiting out a claim that is
	 * committing), then checked again for a delivery in flight. */
	static const char *const del_sql[] = {
	    "DELETE FROM media WHERE message_id = ANY($1::text[])",
	    "DELETE FROM attempts WHERE delivery_id IN"
	    " (SELECT id FROM deliveries WHERE message_id = ANY($1::text[]))",
	    "DELETE FROM deliveries WHERE message_id = ANY($1::text[])",
	    "DELETE FROM dedupe WHERE message_id = ANY($1::text[])",
	    "DELETE FROM messages WHERE id = ANY($1::text[])",
	};
	/* oldest first in the order of the index walked: a scope of some
	 * sources walks the (source, received_ms) index */
	static const char *const select_sql[][2] = {
	    {"SELECT id FROM messages WHERE id < $1::text AND received_ms < $2::bigint"
	     " AND ($4::text[] IS NULL OR source <> ALL($4::text[]))",
	     "id"},
	    {"SELECT id FROM messages WHERE source = ANY($4::text[])"
	     " AND received_ms < $2::bigint AND id < $1::text",
	     "source, received_ms"},
	};
	static const char *const stats_sql[] = {
	    "DELETE FROM stats_hourly WHERE hour_ms <= $1::bigint"
	    " AND ($2::text[] IS NULL OR ((source = ANY($2::text[])) <> $3::boolean))",
	    "DELETE FROM stats_latency WHERE hour_ms <= $1::bigint"
	    " AND ($2::text[] IS NULL OR ((source = ANY($2::text[])) <> $3::boolean))",
	};
	struct purge_args *a = arg;
	int64_t media_rows = 0; /* their files went with the media purge before */
	int64_t *counts[5] = {&media_rows, &a->got.attempts, &a->got.deliveries,
			      &a->got.dedupe_keys, &a->got.messages};
	char cutoff[24], before[24], limit[24], hour[24], sql[512];
	const char *vals[4] = {cutoff, before, limit, NULL};
	PGresult *res;
	int i, k, rc = HG_OK;

	memset(&a->got, 0, sizeof(a->got));
	a->n = 0;
	/* A UUIDv7 starts with its 48-bit time in hex, so ids below that
	 * prefix of before_ms are exactly the older ones (the primary key finds
	 * them). */
	snprintf(cutoff, sizeof(cutoff), "%08llx-%04llx",
		 (unsigned long long)((uint64_t)a->before_ms >> 16) & 0xffffffffull,
		 (unsigned long long)a->before_ms & 0xffffull);
	snprintf(before, sizeof(before), "%" PRId64, a->before_ms);
	snprintf(limit, sizeof(limit), "%zu", a->limit);
	if (a->scope != NULL)
		vals[3] = (const char *)p->arr[2].data;
	k = a->scope != NULL && !a->scope->except;
	snprintf(sql, sizeof(sql),
		 "%s AND NOT EXISTS (SELECT 1 FROM deliveries AS d WHERE d.message_id ="
		 " messages.id AND d.status = 'delivering')"
		 " ORDER BY %s LIMIT $3::bigint FOR UPDATE SKIP LOCKED",
		 select_sql[k][0], select_sql[k][1]);
	res = PQexecParams(p->conn, sql, 4, NULL, vals, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		rc = hg_pg_fail_with(p, f, "purge select", res);
		PQclear(res);
		return rc;
	}
	hg_pg_arr_start(&p->arr[0]);
	for (i = 0; i < PQntuples(res) && rc == HG_OK; i++)
		rc = hg_pg_arr_add(&p->arr[0], PQgetvalue(res, i, 0),
				   (size_t)PQgetlength(res, i, 0));
	a->n = (size_t)PQntuples(res);
	PQclear(res);
	if (rc == HG_OK)
		rc = hg_pg_arr_end(&p->arr[0]);
	if (rc != HG_OK) {
		f->what = "purge";
		hg_strlcpy(f->msg, "out of memory", sizeof(f->msg));
		return HG_EIO;
	}
	vals[0] = (const char *)p->arr[0].data;
	res = PQexecParams(p->conn,
			   "SELECT id FROM deliveries WHERE message_id = ANY($1::text[])"
			   " ORDER BY id FOR UPDATE",
			   1, NULL, vals, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK)
		rc = hg_pg_fail_with(p, f, "purge lock", res);
	PQclear(res);
	if (rc != HG_OK)
		return rc;
	res = PQexecParams(p->conn,
			   "SELECT coalesce(array_agg(u.id), '{}') FROM unnest($1::text[]) AS u(id)"
			   " WHERE NOT EXISTS (SELECT 1 FROM deliveries AS d"
			   " WHERE d.message_id = u.id AND d.status = 'delivering')",
			   1, NULL, vals, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1) {
		rc = hg_pg_fail_with(p, f, "purge check", res);
		PQclear(res);
		return rc;
	}
	hg_pg_arr_start(&p->arr[1]);
	rc = hg_buf_puts(&p->arr[1], PQgetvalue(res, 0, 0));
	PQclear(res);
	if (rc != HG_OK) {
		f->what = "purge";
		hg_strlcpy(f->msg, "out of memory", sizeof(f->msg));
		return HG_EIO;
	}
	vals[0] = (const char *)p->arr[1].data;
	for (k = 0; k < 5 && rc == HG_OK; k++) {
		res = PQexecParams(p->conn, del_sql[k], 1, NULL, vals, NULL, NULL, 0);
		if (PQresultStatus(res) != PGRES_COMMAND_OK)
			rc = hg_pg_fail_with(p, f, "purge delete", res);
		else
			*counts[k] += strtoll(PQcmdTuples(res), NULL, 10);
		PQclear(res);
	}
	/* An hour's stats go once the whole hour is older than before_ms. */
	snprintf(hour, sizeof(hour), "%" PRId64,
		 (int64_t)(hg_stats_hour_of(a->before_ms) - HG_HOUR_MS));
	vals[0] = hour;
	vals[1] = a->scope != NULL ? (const char *)p->arr[2].data : NULL;
	vals[2] = a->scope != NULL && a->scope->except ? "true" : "false";
	for (k = 0; k < 2 && rc == HG_OK; k++) {
		res = PQexecParams(p->conn, stats_sql[k], 3, NULL, vals, NULL, NULL, 0);
		if (PQresultStatus(res) != PGRES_COMMAND_OK)
			rc = hg_pg_fail_with(p, f, "purge stats", res);
		else if (k == 0)
			a->got.stats_hours = strtoll(PQcmdTuples(res), NULL, 10);
		PQclear(res);
	}
	return rc;
}

struct audit_purge_args {
	int64_t before_ms, now_ms;
	size_t limit;
	int64_t removed;
	int more;
};

/* hg_store_audit_purge under the audit log's lock (so two nodes purging, or
 * a node appending, see one head and one tail): the checkpoint row first,
 * then the rows it names (schema step 7's DELETE guard). */
static int audit_purge_body(struct hg_pg *p, void *arg, struct hg_pg_fail *f)
{
	struct audit_purge_args *a = arg;
	char last_hash[HG_AUDIT_HASH_LEN + 1] = "", reason[256], lim[24], lo[24], hi[24];
	const char *vals[2];
	int64_t first = 0, last = 0, n = 0;
	PGresult *res;
	int i, rc = HG_OK;

	a->removed = 0;
	a->more = 0;
	res = hg_pg_exec_stmt(p, P_AUDIT_LOCK, 0, NULL, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK)
		rc = hg_pg_fail_with(p, f, "audit log lock", res);
	PQclear(res);
	if (rc != HG_OK)
		return rc;
	snprintf(lim, sizeof(lim), "%zu", a->limit);
	vals[0] = lim;
	res = PQexecParams(p->conn,
			   "SELECT seq, ts_ms, hash FROM audit_log ORDER BY seq LIMIT $1::bigint",
			   1, NULL, vals, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		rc = hg_pg_fail_with(p, f, "audit purge select", res);
		PQclear(res);
		return rc;
	}
	for (i = 0; i < PQntuples(res); i++) {
		if (strtoll(PQgetvalue(res, i, 1), NULL, 10) >= a->before_ms)
			break; /* the first newer row ends the run: the log stays a chain */
		last = strtoll(PQgetvalue(res, i, 0), NULL, 10);
		if (n == 0)
			first = last;
		hg_strlcpy(last_hash, PQgetvalue(res, i, 2), sizeof(last_hash));
		n++;
	}
	PQclear(res);
	if (n == 0)
		return HG_OK;
	if (hg_store_audit_checkpoint_reason(first, last, last_hash, a->before_ms, reason,
					     sizeof(reason)) != HG_OK) {
		f->what = "audit checkpoint";
		hg_strlcpy(f->msg, "reason too long", sizeof(f->msg));
		return HG_EIO;
	}
	struct hg_audit_event cp = {
	    .ts_ms = a->now_ms, .event = HG_AUDIT_CHECKPOINT_EVENT, .reason = reason, .count = n};
	rc = hg_pg_append_audit(p, &cp, 1, f);
	if (rc != HG_OK)
		return rc;
	snprintf(lo, sizeof(lo), "%" PRId64, first);
	snprintf(hi, sizeof(hi), "%" PRId64, last);
	vals[0] = lo;
	vals[1] = hi;
	res = PQexecParams(p->conn,
			   "DELETE FROM audit_log WHERE seq >= $1::bigint AND seq <= $2::bigint", 2,
			   NULL, vals, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_COMMAND_OK)
		rc = hg_pg_fail_with(p, f, "audit purge delete", res);
	else
		a->removed = strtoll(PQcmdTuples(res), NULL, 10);
	PQclear(res);
	a->more = rc == HG_OK && (size_t)n >= a->limit;
	return rc;
}

int hg_pg_audit_purge(struct hg_store *st, int64_t before_ms, size_t limit, int64_t now_ms,
		      int64_t *removed, int *more)
{
	struct audit_purge_args a = {.before_ms = before_ms, .now_ms = now_ms, .limit = limit};
	int rc;

	rc = hg_pg_txn_run((struct hg_pg *)st, "audit_purge", audit_purge_body, NULL, &a);
	if (rc != HG_OK)
		return rc;
	*removed += a.removed;
	*more = a.more;
	return HG_OK;
}

/* The scope's sources as a text[] literal in p->arr[2], which the purge's
 * transaction (and its retries) read. HG_OK or HG_EIO (out of memory). */
static int purge_sources_array(struct hg_pg *p, const struct hg_store_purge_scope *scope)
{
	size_t i;
	int rc = HG_OK;

	hg_pg_arr_start(&p->arr[2]);
	for (i = 0; i < scope->n && rc == HG_OK; i++)
		rc = hg_pg_arr_add(&p->arr[2], scope->sources[i], strlen(scope->sources[i]));
	if (rc == HG_OK)
		rc = hg_pg_arr_end(&p->arr[2]);
	return rc == HG_OK ? HG_OK : HG_EIO;
}

int hg_pg_purge(struct hg_store *st, const struct hg_store_purge_scope *scope, int64_t before_ms,
		size_t limit, struct hg_store_purged *out, int *more)
{
	struct purge_args a = {
	    .scope = scope, .before_ms = before_ms, .limit = limit > 0 ? limit : 1};
	int rc;

	if (scope != NULL && purge_sources_array((struct hg_pg *)st, scope) != HG_OK)
		return HG_EIO; /* out of memory: nothing deleted */
	rc = hg_pg_txn_run((struct hg_pg *)st, "purge", purge_body, NULL, &a);
	if (rc != HG_OK)
		return rc;
	out->messages += a.got.messages;
	out->deliveries += a.got.deliveries;
	out->attempts += a.got.attempts;
	out->dedupe_keys += a.got.dedupe_keys;
	out->stats_hours += a.got.stats_hours;
	*more = a.n >= a.limit;
	return HG_OK;
}
