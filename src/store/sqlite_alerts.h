/*
 * sqlite_alerts.h — private to src/store/: the SQLite ops of the alert
 * state (store.h, hg_store_alert_set and hg_store_alert_list).
 */
#ifndef HG_STORE_SQLITE_ALERTS_H
#define HG_STORE_SQLITE_ALERTS_H

#include "store/sqlite_internal.h"
#include "store/store_internal.h"

int hg_sqlite_alert_set(struct hg_store *st, const struct hg_store_alert *a, int64_t now_ms,
			int *changed);
int hg_sqlite_alert_list(struct hg_store *st, int64_t since_ms,
			 int (*fn)(const struct hg_store_alert *a, void *arg), void *arg);

#endif
