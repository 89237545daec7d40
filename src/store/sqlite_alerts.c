/*
 * sqlite_alerts.c — the alert state of the SQLite backend (store.h: one
 * row per rule and source, changed by compare-and-set). Rare writes: a
 * statement prepared when used.
 */
#include <sqlite3.h>
#include <string.h>

#include "store/sqlite_alerts.h"
#include "util/util.h"

struct alert_args {
	const struct hg_store_alert *a;
	int64_t now_ms;
	int changed;
};

static int alert_body(struct hg_sqlite *s, void *arg, const char **what)
{
	struct alert_args *x = arg;
	const struct hg_store_alert *a = x->a;
	sqlite3 *db = hg_sqlite_db(s);
	sqlite3_stmt *q = NULL;
	int rc;

	*what = a->firing ? "alert fires" : "alert resolves";
	if (a->firing) { /* still firing: a refresh, not a change */
		rc = sqlite3_prepare_v2(db,
					"UPDATE alerts SET value = ?3, updated_ms = ?4"
					" WHERE rule = ?1 AND source = ?2 AND state = 'firing'",
					-1, &q, NULL);
		if (rc == SQLITE_OK &&
		    (rc = sqlite3_bind_text(q, 1, a->rule, -1, SQLITE_STATIC)) == SQLITE_OK &&
		    (rc = sqlite3_bind_text(q, 2, a->source, -1, SQLITE_STATIC)) == SQLITE_OK &&
		    (rc = sqlite3_bind_double(q, 3, a->value)) == SQLITE_OK &&
		    (rc = sqlite3_bind_int64(q, 4, x->now_ms)) == SQLITE_OK)
			rc = sqlite3_step(q) == SQLITE_DONE ? SQLITE_OK : sqlite3_errcode(db);
		sqlite3_finalize(q);
		q = NULL;
		if (rc != SQLITE_OK || sqlite3_changes(db) > 0)
			return rc;
	}
	rc = sqlite3_prepare_v2(
	    db,
	    a->firing ? "INSERT INTO alerts (rule, source, state, value, threshold, fired_ms,"
			" updated_ms) VALUES (?1, ?2, 'firing', ?3, ?4, ?5, ?5)"
			" ON CONFLICT (rule, source) DO UPDATE SET state = 'firing',"
			" value = excluded.value, threshold = excluded.threshold,"
			" fired_ms = excluded.fired_ms, resolved_ms = NULL,"
			" updated_ms = excluded.updated_ms WHERE alerts.state <> 'firing'"
		      : "UPDATE alerts SET state = 'resolved', value = ?3, threshold = ?4,"
			" resolved_ms = ?5, updated_ms = ?5"
			" WHERE rule = ?1 AND source = ?2 AND state = 'firing'",
	    -1, &q, NULL);
	if (rc == SQLITE_OK &&
	    (rc = sqlite3_bind_text(q, 1, a->rule, -1, SQLITE_STATIC)) == SQLITE_OK &&
	    (rc = sqlite3_bind_text(q, 2, a->source, -1, SQLITE_STATIC)) == SQLITE_OK &&
	    (rc = sqlite3_bind_double(q, 3, a->value)) == SQLITE_OK &&
	    (rc = sqlite3_bind_double(q, 4, a->threshold)) == SQLITE_OK &&
	    (rc = sqlite3_bind_int64(q, 5, x->now_ms)) == SQLITE_OK) {
		rc = sqlite3_step(q) == SQLITE_DONE ? SQLITE_OK : sqlite3_errcode(db);
		x->changed = rc == SQLITE_OK && sqlite3_changes(db) > 0;
	}
	sqlite3_finalize(q);
	return rc;
}

int hg_sqlite_alert_set(struct hg_store *st, const struct hg_store_alert *a, int64_t now_ms,
			int *changed)
{
	struct alert_args x = {.a = a, .now_ms = now_ms};
	int rc = hg_sqlite_txn((struct hg_sqlite *)st, "alert_set", alert_body, &x);

	*changed = rc == HG_OK && x.changed;
	return rc;
}

int hg_sqlite_alert_list(struct hg_store *st, int64_t since_ms,
			 int (*fn)(const struct hg_store_alert *a, void *arg), void *arg)
{
	sqlite3 *db = hg_sqlite_db((struct hg_sqlite *)st);
	struct hg_store_alert a;
	sqlite3_stmt *q = NULL;
	int rc;

	rc = sqlite3_prepare_v2(db,
				"SELECT rule, source, state, value, threshold, fired_ms,"
				" coalesce(resolved_ms, 0), updated_ms FROM alerts"
				" WHERE state = 'firing' OR resolved_ms >= ?1"
				" ORDER BY state = 'firing' DESC, fired_ms DESC",
				-1, &q, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_int64(q, 1, since_ms);
	while (rc == SQLITE_OK && (rc = sqlite3_step(q)) == SQLITE_ROW) {
		memset(&a, 0, sizeof(a));
		hg_strlcpy(a.rule, (const char *)sqlite3_column_text(q, 0), sizeof(a.rule));
		hg_strlcpy(a.source, (const char *)sqlite3_column_text(q, 1), sizeof(a.source));
		a.firing = strcmp((const char *)sqlite3_column_text(q, 2), "firing") == 0;
		a.value = sqlite3_column_double(q, 3);
		a.threshold = sqlite3_column_double(q, 4);
		a.fired_ms = sqlite3_column_int64(q, 5);
		a.resolved_ms = sqlite3_column_int64(q, 6);
		a.updated_ms = sqlite3_column_int64(q, 7);
		rc = fn(&a, arg) != 0 ? SQLITE_DONE : SQLITE_OK;
		if (rc == SQLITE_DONE)
			break;
	}
	sqlite3_finalize(q);
	if (rc == SQLITE_DONE)
		return HG_OK;
	hg_log(HG_LOG_ERROR, "store read failed", "op", HG_LS("alert_list"), "error",
	       HG_LS(sqlite3_errmsg(db)), NULL);
	return HG_EIO;
}
