/*
 * postgres_alerts.c — the alert state of the PostgreSQL backend (store.h):
 * one row per rule and source that every node shares; the UPDATE that
 * changes its state is the compare-and-set that lets one node, and only
 * one, announce the change.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/postgres_internal.h"

int hg_pg_alert_set(struct hg_store *st, const struct hg_store_alert *a, int64_t now_ms,
		    int *changed)
{
	struct hg_pg *p = (struct hg_pg *)st;
	char value[40], threshold[40], now[24];
	const char *vals[5] = {a->rule, a->source, value, threshold, now};
	PGresult *res;

	*changed = 0;
	snprintf(value, sizeof(value), "%.17g", a->value);
	snprintf(threshold, sizeof(threshold), "%.17g", a->threshold);
	snprintf(now, sizeof(now), "%" PRId64, now_ms);
	if (!hg_pg_params_utf8(vals, 2))
		return HG_EIO;
	if (a->firing) { /* still firing: a refresh, not a change */
		const char *touch[4] = {a->rule, a->source, value, now};

		res = PQexecParams(p->conn,
				   "UPDATE alerts SET value = $3::float8, updated_ms = $4::bigint"
				   " WHERE rule = $1 AND source = $2 AND state = 'firing'",
				   4, NULL, touch, NULL, NULL, 0);
		if (PQresultStatus(res) != PGRES_COMMAND_OK) {
			hg_pg_read_failed(p, "alert_set", res);
			PQclear(res);
			return HG_EIO;
		}
		if (strcmp(PQcmdTuples(res), "0") != 0) {
			PQclear(res);
			return HG_OK;
		}
		PQclear(res);
	}
	res = PQexecParams(
	    p->conn,
	    a->firing ? "INSERT INTO alerts (rule, source, state, value, threshold, fired_ms,"
			" updated_ms) VALUES ($1, $2, 'firing', $3::float8, $4::float8,"
			" $5::bigint, $5::bigint) ON CONFLICT (rule, source) DO UPDATE SET"
			" state = 'firing', value = excluded.value, threshold = excluded.threshold,"
			" fired_ms = excluded.fired_ms, resolved_ms = NULL,"
			" updated_ms = excluded.updated_ms WHERE alerts.state <> 'firing'"
		      : "UPDATE alerts SET state = 'resolved', value = $3::float8,"
			" threshold = $4::float8, resolved_ms = $5::bigint, updated_ms = $5::bigint"
			" WHERE rule = $1 AND source = $2 AND state = 'firing'",
	    5, NULL, vals, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_COMMAND_OK) {
		hg_pg_read_failed(p, "alert_set", res);
		PQclear(res);
		return HG_EIO;
	}
	*changed = strcmp(PQcmdTuples(res), "0") != 0;
	PQclear(res);
	return HG_OK;
}

int hg_pg_alert_list(struct hg_store *st, int64_t since_ms,
		     int (*fn)(const struct hg_store_alert *a, void *arg), void *arg)
{
	char since[24];
	const char *vals[1] = {since};
	struct hg_store_alert a;
	PGresult *res;
	int i;

	snprintf(since, sizeof(since), "%" PRId64, since_ms);
	res = hg_pg_read_query((struct hg_pg *)st, "alert_list",
			       "SELECT rule, source, state, value, threshold, fired_ms,"
			       " coalesce(resolved_ms, 0), updated_ms FROM alerts"
			       " WHERE state = 'firing' OR resolved_ms >= $1::bigint"
			       " ORDER BY state = 'firing' DESC, fired_ms DESC",
			       1, vals, 0);
	if (res == NULL)
		return HG_EIO;
	for (i = 0; i < PQntuples(res); i++) {
		memset(&a, 0, sizeof(a));
		hg_strlcpy(a.rule, PQgetvalue(res, i, 0), sizeof(a.rule));
		hg_strlcpy(a.source, PQgetvalue(res, i, 1), sizeof(a.source));
		a.firing = strcmp(PQgetvalue(res, i, 2), "firing") == 0;
		a.value = strtod(PQgetvalue(res, i, 3), NULL);
		a.threshold = strtod(PQgetvalue(res, i, 4), NULL);
		a.fired_ms = hg_pg_text_i64(res, i, 5, 0);
		a.resolved_ms = hg_pg_text_i64(res, i, 6, 0);
		a.updated_ms = hg_pg_text_i64(res, i, 7, 0);
		if (fn(&a, arg) != 0)
			break;
	}
	PQclear(res);
	return HG_OK;
}
