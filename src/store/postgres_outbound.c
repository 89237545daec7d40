/*
 * postgres_outbound.c — the PostgreSQL backend's outbound webhooks: API
 * keys and subscriptions (create, read, patch, secrets, delete, delivery
 * history, health). Writes take postgres.c's one transaction path.
 */
#include <inttypes.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/postgres_internal.h"

/* ---- outbound webhooks: API keys and subscriptions (schema step 5) ----
 * Management requests and the engine's per-attempt bookkeeping, not the
 * ingest hot path: fixed statements through PQexecParams, writes of more
 * than one statement in one transaction (hg_pg_txn_run). Subscription rows that
 * two nodes change at once (a failure count, a switch-off) are read FOR
 * UPDATE first. */

#define HG_PG_SUB_COLS                                                                             \
	"id, owner_id, url, events, is_active, description, disabled_reason, secret,"              \
	" old_secret, old_secret_until_ms, created_ms, updated_ms, last_delivery_ms,"              \
	" failing_since_ms, key_id"

/* ms as a parameter: NULL for 0 when zero_null (0 means "none" there). */
static const char *ms_param(char buf[24], int64_t v, int zero_null)
{
	if (zero_null && v == 0)
		return NULL;
	snprintf(buf, 24, "%" PRId64, v);
	return buf;
}

/* Runs one statement; the result when it succeeded (the caller clears it),
 * else NULL with f filled (f NULL: logged as a failed read). */
static PGresult *ob_exec(struct hg_pg *p, const char *what, const char *sql, int n,
			 const char *const *vals, struct hg_pg_fail *f)
{
	PGresult *res = PQexecParams(p->conn, sql, n, NULL, vals, NULL, NULL, 0);

	if (PQresultStatus(res) == PGRES_COMMAND_OK || PQresultStatus(res) == PGRES_TUPLES_OK)
		return res;
	if (f != NULL)
		hg_pg_fail_with(p, f, what, res);
	else
		hg_pg_read_failed(p, what, res);
	PQclear(res);
	return NULL;
}

int hg_pg_api_key_put(struct hg_store *st, const struct hg_store_api_key *k)
{
	struct hg_pg *p = (struct hg_pg *)st;
	char created[24];
	const char *vals[5] = {k->id, k->token_hash, k->owner_id,
			       k->role == HG_STORE_ROLE_PUBLISHER ? "publisher" : "owner",
			       ms_param(created, k->created_ms, 0)};
	PGresult *res;

	if (!hg_pg_params_utf8(vals, 5))
		return HG_EIO;
	res = ob_exec(p, "api_key_put",
		      "INSERT INTO api_keys (id, token_hash, owner_id, role, created_ms)"
		      " VALUES ($1, $2, $3, $4, $5::bigint)",
		      5, vals, NULL);
	PQclear(res);
	return res != NULL ? HG_OK : HG_EIO;
}

int hg_pg_api_key_find(struct hg_store *st, const char *token_hash, struct hg_store_api_key *out)
{
	struct hg_pg *p = (struct hg_pg *)st;
	const char *vals[1] = {token_hash};
	PGresult *res;
	int rc = HG_ENOTFOUND;

	if (!hg_pg_params_utf8(vals, 1))
		return HG_ENOTFOUND;
	res = ob_exec(p, "api_key_find",
		      "SELECT id, token_hash, owner_id, role, created_ms FROM api_keys"
		      " WHERE token_hash = $1",
		      1, vals, NULL);
	if (res == NULL)
		return HG_EIO;
	if (PQntuples(res) == 1) {
		hg_strlcpy(out->id, PQgetvalue(res, 0, 0), sizeof(out->id));
		hg_strlcpy(out->token_hash, PQgetvalue(res, 0, 1), sizeof(out->token_hash));
		hg_strlcpy(out->owner_id, PQgetvalue(res, 0, 2), sizeof(out->owner_id));
		out->role = strcmp(PQgetvalue(res, 0, 3), "publisher") == 0
				? HG_STORE_ROLE_PUBLISHER
				: HG_STORE_ROLE_OWNER;
		out->created_ms = hg_pg_text_i64(res, 0, 4, 0);
		rc = HG_OK;
	}
	PQclear(res);
	return rc;
}

int hg_pg_api_key_each(struct hg_store *st, const char *owner_id, hg_store_api_key_fn fn, void *arg)
{
	struct hg_pg *p = (struct hg_pg *)st;
	const char *vals[1] = {owner_id};
	struct hg_store_api_key k;
	PGresult *res;
	int i, n;

	if (owner_id != NULL && !hg_pg_params_utf8(vals, 1))
		return HG_OK; /* no owner has that name */
	res = ob_exec(p, "api_key_each",
		      "SELECT id, token_hash, owner_id, role, created_ms FROM api_keys"
		      " WHERE ($1::text IS NULL OR owner_id = $1) ORDER BY id",
		      1, vals, NULL);
	if (res == NULL)
		return HG_EIO;
	n = PQntuples(res);
	for (i = 0; i < n; i++) {
		memset(&k, 0, sizeof(k));
		hg_strlcpy(k.id, PQgetvalue(res, i, 0), sizeof(k.id));
		hg_strlcpy(k.token_hash, PQgetvalue(res, i, 1), sizeof(k.token_hash));
		hg_strlcpy(k.owner_id, PQgetvalue(res, i, 2), sizeof(k.owner_id));
		k.role = strcmp(PQgetvalue(res, i, 3), "publisher") == 0 ? HG_STORE_ROLE_PUBLISHER
									 : HG_STORE_ROLE_OWNER;
		k.created_ms = hg_pg_text_i64(res, i, 4, 0);
		if (fn(&k, arg) != 0)
			break;
	}
	PQclear(res);
	return HG_OK;
}

int hg_pg_api_key_delete(struct hg_store *st, const char *id)
{
	struct hg_pg *p = (struct hg_pg *)st;
	const char *vals[1] = {id};
	PGresult *res;
	int rc;

	if (!hg_pg_params_utf8(vals, 1))
		return HG_ENOTFOUND;
	res = ob_exec(p, "api_key_delete", "DELETE FROM api_keys WHERE id = $1", 1, vals, NULL);
	if (res == NULL)
		return HG_EIO;
	rc = strcmp(PQcmdTuples(res), "0") == 0 ? HG_ENOTFOUND : HG_OK;
	PQclear(res);
	return rc;
}

int hg_pg_sub_create(struct hg_store *st, const struct hg_store_sub *s)
{
	struct hg_pg *p = (struct hg_pg *)st;
	char until[24], created[24], updated[24], last[24], failing[24];
	const char *vals[15] = {s->id,
				s->owner_id,
				s->url,
				s->events_json,
				s->is_active ? "1" : "0",
				s->description,
				s->disabled_reason,
				s->secret,
				s->old_secret[0] != '\0' ? s->old_secret : NULL,
				ms_param(until, s->old_secret_until_ms, 1),
				ms_param(created, s->created_ms, 0),
				ms_param(updated, s->updated_ms, 0),
				ms_param(last, s->last_delivery_ms, 1),
				ms_param(failing, s->failing_since_ms, 1),
				s->key_id[0] != '\0' ? s->key_id : NULL};
	PGresult *res;

	if (!hg_pg_params_utf8(vals, 15))
		return HG_EIO;
	res = ob_exec(p, "sub_create",
		      "INSERT INTO subscriptions (" HG_PG_SUB_COLS ") VALUES ($1, $2, $3, $4,"
		      " $5::integer, $6, $7, $8, $9, $10::bigint, $11::bigint, $12::bigint,"
		      " $13::bigint, $14::bigint, $15)",
		      15, vals, NULL);
	PQclear(res);
	return res != NULL ? HG_OK : HG_EIO;
}

/* Fills s from row i of an HG_PG_SUB_COLS result. HG_OK or HG_ENOMEM. */
static int sub_row(const PGresult *res, int i, struct hg_store_sub *s)
{
	memset(s, 0, sizeof(*s));
	hg_strlcpy(s->id, PQgetvalue(res, i, 0), sizeof(s->id));
	hg_strlcpy(s->owner_id, PQgetvalue(res, i, 1), sizeof(s->owner_id));
	s->is_active = (int)hg_pg_text_i64(res, i, 4, 0);
	hg_strlcpy(s->secret, PQgetvalue(res, i, 7), sizeof(s->secret));
	hg_strlcpy(s->old_secret, PQgetvalue(res, i, 8), sizeof(s->old_secret));
	s->old_secret_until_ms = hg_pg_text_i64(res, i, 9, 0);
	s->created_ms = hg_pg_text_i64(res, i, 10, 0);
	s->updated_ms = hg_pg_text_i64(res, i, 11, 0);
	s->last_delivery_ms = hg_pg_text_i64(res, i, 12, 0);
	s->failing_since_ms = hg_pg_text_i64(res, i, 13, 0);
	hg_strlcpy(s->key_id, PQgetvalue(res, i, 14), sizeof(s->key_id));
	s->url = strdup(PQgetvalue(res, i, 2));
	s->events_json = strdup(PQgetvalue(res, i, 3));
	if (!PQgetisnull(res, i, 5))
		s->description = strdup(PQgetvalue(res, i, 5));
	if (!PQgetisnull(res, i, 6))
		s->disabled_reason = strdup(PQgetvalue(res, i, 6));
	if (s->url == NULL || s->events_json == NULL ||
	    (!PQgetisnull(res, i, 5) && s->description == NULL) ||
	    (!PQgetisnull(res, i, 6) && s->disabled_reason == NULL)) {
		hg_store_sub_free(s);
		return HG_ENOMEM;
	}
	return HG_OK;
}

int hg_pg_sub_get(struct hg_store *st, const char *id, const char *owner_id,
		  struct hg_store_sub *out)
{
	struct hg_pg *p = (struct hg_pg *)st;
	const char *vals[2] = {id, owner_id};
	PGresult *res;
	int rc = HG_ENOTFOUND;

	memset(out, 0, sizeof(*out));
	if (!hg_pg_params_utf8(vals, 2))
		return HG_ENOTFOUND;
	res = ob_exec(p, "sub_get",
		      "SELECT " HG_PG_SUB_COLS " FROM subscriptions WHERE id = $1"
		      " AND ($2::text IS NULL OR owner_id = $2)",
		      2, vals, NULL);
	if (res == NULL)
		return HG_EIO;
	if (PQntuples(res) == 1)
		rc = sub_row(res, 0, out);
	PQclear(res);
	return rc;
}

int hg_pg_sub_each(struct hg_store *st, const char *owner_id, int active_only,
		   int (*fn)(const struct hg_store_sub *s, void *arg), void *arg)
{
	struct hg_pg *p = (struct hg_pg *)st;
	const char *vals[2] = {owner_id, active_only ? "1" : "0"};
	struct hg_store_sub s;
	PGresult *res;
	int i, rc = HG_OK;

	if (!hg_pg_params_utf8(vals, 1))
		return HG_OK;
	res = ob_exec(p, "sub_each",
		      "SELECT " HG_PG_SUB_COLS " FROM subscriptions"
		      " WHERE ($1::text IS NULL OR owner_id = $1)"
		      " AND ($2::integer = 0 OR is_active = 1) ORDER BY id DESC",
		      2, vals, NULL);
	if (res == NULL)
		return HG_EIO;
	for (i = 0; i < PQntuples(res) && rc == HG_OK; i++) {
		int stop;

		rc = sub_row(res, i, &s);
		if (rc != HG_OK)
			break;
		stop = fn(&s, arg);
		hg_store_sub_free(&s);
		if (stop)
			break;
	}
	PQclear(res);
	return rc;
}

/* HG_OK when a single-row change found its row, else HG_ENOTFOUND. */
static int changed_one(const PGresult *res)
{
	return strtoll(PQcmdTuples((PGresult *)res), NULL, 10) > 0 ? HG_OK : HG_ENOTFOUND;
}

int hg_pg_sub_update(struct hg_store *st, const char *id, const char *owner_id,
		     const struct hg_store_sub_patch *pt)
{
	struct hg_pg *p = (struct hg_pg *)st;
	char now[24];
	const char *vals[8] = {id,
			       owner_id,
			       pt->url,
			       pt->events_json,
			       pt->is_active < 0 ? "-1" : (pt->is_active ? "1" : "0"),
			       pt->set_description ? "1" : "0",
			       pt->description,
			       ms_param(now, pt->now_ms, 0)};
	PGresult *res;
	int rc;

	if (!hg_pg_params_utf8(vals, 2))
		return HG_ENOTFOUND;
	if (!hg_pg_params_utf8(vals, 8))
		return HG_EIO;
	res = ob_exec(
	    p, "sub_update",
	    "UPDATE subscriptions SET url = coalesce($3, url), events = coalesce($4, events),"
	    " is_active = CASE WHEN $5::integer < 0 THEN is_active ELSE $5::integer END,"
	    " disabled_reason = CASE WHEN $5::integer = 1 THEN NULL ELSE disabled_reason END,"
	    " failing_since_ms = CASE WHEN $5::integer = 1 THEN NULL ELSE failing_since_ms END,"
	    " description = CASE WHEN $6::integer = 1 THEN $7 ELSE description END,"
	    " updated_ms = greatest($8::bigint, updated_ms + 1)"
	    " WHERE id = $1 AND ($2::text IS NULL OR owner_id = $2)",
	    8, vals, NULL);
	if (res == NULL)
		return HG_EIO;
	rc = changed_one(res);
	PQclear(res);
	return rc;
}

/* Dead-letters the waiting deliveries of subscription id (open txn). */
static int dead_letter(struct hg_pg *p, const char *id, const char *why, int64_t now_ms,
		       struct hg_pg_fail *f)
{
	char now[24];
	const char *vals[3] = {id, why, ms_param(now, now_ms, 0)};
	PGresult *res = ob_exec(p, "dead-letter",
				"UPDATE deliveries SET status = 'dead', next_attempt_ms = NULL,"
				" last_error = $2, updated_ms = $3::bigint"
				" WHERE endpoint = '" HG_STORE_SUB_PREFIX "' || $1"
				" AND status IN ('pending', 'failed')",
				3, vals, f);

	PQclear(res);
	return res != NULL ? HG_OK : HG_EIO;
}

struct sub_delete_args {
	const char *id, *owner_id;
	int64_t now_ms;
	int found;
};

static int sub_delete_body(struct hg_pg *p, void *arg, struct hg_pg_fail *f)
{
	struct sub_delete_args *a = arg;
	const char *vals[2] = {a->id, a->owner_id};
	PGresult *res;

	res = ob_exec(
	    p, "sub_delete",
	    "DELETE FROM subscriptions WHERE id = $1 AND ($2::text IS NULL OR owner_id = $2)", 2,
	    vals, f);
	if (res == NULL)
		return HG_EIO;
	a->found = changed_one(res) == HG_OK;
	PQclear(res);
	return a->found ? dead_letter(p, a->id, "subscription deleted", a->now_ms, f) : HG_OK;
}

int hg_pg_sub_delete(struct hg_store *st, const char *id, const char *owner_id, int64_t now_ms)
{
	struct sub_delete_args a = {.id = id, .owner_id = owner_id, .now_ms = now_ms};
	const char *vals[2] = {id, owner_id};
	int rc;

	if (!hg_pg_params_utf8(vals, 2))
		return HG_ENOTFOUND;
	rc = hg_pg_txn_run((struct hg_pg *)st, "sub_delete", sub_delete_body, NULL, &a);
	return rc == HG_OK && !a.found ? HG_ENOTFOUND : rc;
}

int hg_pg_sub_set_secret(struct hg_store *st, const char *id, const char *owner_id,
			 const char *secret, const char *old_secret, const char *key_id,
			 int64_t old_until_ms, int64_t now_ms)
{
	struct hg_pg *p = (struct hg_pg *)st;
	char until[24], now[24];
	const char *vals[7] = {id,
			       owner_id,
			       secret,
			       old_secret,
			       old_secret != NULL ? ms_param(until, old_until_ms, 1) : NULL,
			       ms_param(now, now_ms, 0),
			       key_id};
	PGresult *res;
	int rc;

	if (!hg_pg_params_utf8(vals, 2))
		return HG_ENOTFOUND;
	res = ob_exec(p, "sub_set_secret",
		      "UPDATE subscriptions SET secret = $3, old_secret = $4,"
		      " old_secret_until_ms = $5::bigint,"
		      " updated_ms = greatest($6::bigint, updated_ms + 1), key_id = $7"
		      " WHERE id = $1 AND ($2::text IS NULL OR owner_id = $2)",
		      7, vals, NULL);
	if (res == NULL)
		return HG_EIO;
	rc = changed_one(res);
	PQclear(res);
	return rc;
}

int hg_pg_sub_deliveries(struct hg_store *st, const char *id, int64_t offset, int64_t limit,
			 int (*fn)(const struct hg_store_sub_delivery *d, void *arg), void *arg,
			 int64_t *total)
{
	struct hg_pg *p = (struct hg_pg *)st;
	char lim[24], off[24];
	const char *vals[3] = {id, ms_param(lim, limit, 0), ms_param(off, offset, 0)};
	PGresult *res;
	int i;

	*total = 0;
	if (!hg_pg_params_utf8(vals, 1))
		return HG_OK;
	res = ob_exec(p, "sub_deliveries",
		      "SELECT count(*) FROM deliveries WHERE endpoint = '" HG_STORE_SUB_PREFIX
		      "' || $1",
		      1, vals, NULL);
	if (res == NULL)
		return HG_EIO;
	*total = hg_pg_text_i64(res, 0, 0, 0);
	PQclear(res);
	res = ob_exec(p, "sub_deliveries",
		      "SELECT d.id, m.headers::json ->> 'X-Webhook-Event', d.status,"
		      " d.last_status, d.last_error, d.attempts, d.created_ms, d.updated_ms,"
		      " d.next_attempt_ms FROM deliveries AS d LEFT JOIN messages AS m"
		      " ON m.id = d.message_id WHERE d.endpoint = '" HG_STORE_SUB_PREFIX "' || $1"
		      " ORDER BY d.id DESC LIMIT $2::bigint OFFSET $3::bigint",
		      3, vals, NULL);
	if (res == NULL)
		return HG_EIO;
	for (i = 0; i < PQntuples(res); i++) {
		enum hg_delivery_status status = HG_DELIVERY_PENDING;
		struct hg_store_sub_delivery d = {
		    .id = PQgetvalue(res, i, 0),
		    .event_type = PQgetisnull(res, i, 1) ? "" : PQgetvalue(res, i, 1),
		    .last_status = (int)hg_pg_text_i64(res, i, 3, -1),
		    .last_error = PQgetisnull(res, i, 4) ? NULL : PQgetvalue(res, i, 4),
		    .attempts = (int)hg_pg_text_i64(res, i, 5, 0),
		    .created_ms = hg_pg_text_i64(res, i, 6, 0),
		    .updated_ms = hg_pg_text_i64(res, i, 7, 0),
		    .next_attempt_ms = hg_pg_text_i64(res, i, 8, 0),
		};

		(void)hg_store_delivery_status_parse(PQgetvalue(res, i, 2), &status);
		d.status = (int)status;
		if (fn(&d, arg))
			break;
	}
	PQclear(res);
	return HG_OK;
}

struct sub_outcome_args {
	const char *id;
	int gone;
	int64_t now_ms, disable_after_ms;
	const char *reason;
	int off;
};

static int sub_outcome_body(struct hg_pg *p, void *arg, struct hg_pg_fail *f)
{
	struct sub_outcome_args *a = arg;
	char since_s[24], now[24];
	const char *vals[5] = {a->id};
	int64_t since = a->now_ms;
	PGresult *res;
	int active;

	a->off = 0;
	/* FOR UPDATE: two nodes failing the same subscription count once */
	res = ob_exec(p, "sub_outcome",
		      "SELECT is_active, failing_since_ms FROM subscriptions WHERE id = $1"
		      " FOR UPDATE",
		      1, vals, f);
	if (res == NULL)
		return HG_EIO;
	if (PQntuples(res) != 1) {
		PQclear(res);
		return HG_OK;
	}
	active = (int)hg_pg_text_i64(res, 0, 0, 0);
	if (!PQgetisnull(res, 0, 1))
		since = hg_pg_text_i64(res, 0, 1, a->now_ms);
	PQclear(res);
	/* failing since its first failure after the last success; switched
	 * off by a 410, or once that is disable_after ago */
	a->off = active &&
		 (a->gone || (a->disable_after_ms > 0 && a->now_ms - since >= a->disable_after_ms));
	vals[1] = ms_param(since_s, since, 0);
	vals[2] = a->off ? "1" : "0";
	vals[3] = a->reason != NULL ? a->reason : "switched off by the gateway";
	vals[4] = ms_param(now, a->now_ms, 0);
	res =
	    ob_exec(p, "sub_outcome",
		    "UPDATE subscriptions SET failing_since_ms = $2::bigint,"
		    " is_active = CASE WHEN $3::integer = 1 THEN 0 ELSE is_active END,"
		    " disabled_reason = CASE WHEN $3::integer = 1 THEN $4 ELSE disabled_reason END,"
		    " updated_ms = CASE WHEN $3::integer = 1 THEN greatest($5::bigint,"
		    " updated_ms + 1) ELSE updated_ms END WHERE id = $1",
		    5, vals, f);
	if (res == NULL)
		return HG_EIO;
	PQclear(res);
	if (!a->off)
		return HG_OK;
	return dead_letter(p, a->id, a->reason != NULL ? a->reason : "subscription switched off",
			   a->now_ms, f);
}

int hg_pg_sub_outcome(struct hg_store *st, const char *id, int ok, int gone, int64_t now_ms,
		      int64_t disable_after_ms, const char *reason, int *disabled)
{
	struct hg_pg *p = (struct hg_pg *)st;
	struct sub_outcome_args a = {.id = id,
				     .gone = gone,
				     .now_ms = now_ms,
				     .disable_after_ms = disable_after_ms,
				     .reason = hg_pg_text_param(&p->fix[3], reason, &(int){0})};
	const char *vals[2] = {id, NULL};
	char now[24];
	PGresult *res;
	int rc;

	if (disabled != NULL)
		*disabled = 0;
	if (!hg_pg_params_utf8(vals, 1))
		return HG_OK;
	if (ok) {
		vals[1] = ms_param(now, now_ms, 0);
		res = ob_exec(p, "sub_outcome",
			      "UPDATE subscriptions SET last_delivery_ms = $2::bigint,"
			      " failing_since_ms = NULL WHERE id = $1",
			      2, vals, NULL);
		PQclear(res);
		return res != NULL ? HG_OK : HG_EIO;
	}
	rc = hg_pg_txn_run(p, "sub_outcome", sub_outcome_body, NULL, &a);
	if (rc == HG_OK && disabled != NULL)
		*disabled = a.off;
	return rc;
}
