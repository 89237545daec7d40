/*
 * events.c — operational events onto the outbound event bus (events.h
 * states the contract). The receivers come from the same fan-out as
 * POST /api/v1/events (hg_deliver_fanout), once for the operator and once
 * for the owner concerned, plus alerts.endpoint as one more target; the
 * message is made by hg_deliver_event_init like any published event.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/config.h"
#include "deliver/deliver.h"
#include "events/events.h"
#include "store/store.h"
#include "util/util.h"

int hg_events_reserved(const char *type, size_t len)
{
	size_t n = sizeof(HG_EVENTS_PREFIX) - 1;

	return type != NULL && len >= n && memcmp(type, HG_EVENTS_PREFIX, n) == 0;
}

/* Appends f's targets to *all (n of cap). */
static int add_targets(struct hg_store_target **all, size_t *n, size_t *cap,
		       const struct hg_deliver_fanout *f)
{
	size_t i;

	if (*n + f->n + 1 > *cap) {
		size_t want = *n + f->n + 1;
		struct hg_store_target *t = realloc(*all, want * sizeof(*t));

		if (t == NULL)
			return HG_ENOMEM;
		*all = t;
		*cap = want;
	}
	for (i = 0; i < f->n; i++)
		(*all)[(*n)++] = f->targets[i];
	return HG_OK;
}

int hg_events_publish(struct hg_store *st, const struct hg_config *cfg, const struct hg_event *ev)
{
	struct hg_deliver_fanout op = {0}, own = {0};
	struct hg_store_target *all = NULL;
	struct hg_deliver_event m = {0};
	struct hg_store_msg *msgs[1];
	const struct hg_endpoint *alerts = NULL;
	struct hg_buf key = {0};
	size_t n = 0, cap = 0;
	int64_t first;
	int rc;

	rc = hg_deliver_fanout(st, HG_EVENTS_OPERATOR, ev->type, ev->now_ms, &cfg->outbound.retry,
			       &op);
	if (rc == HG_OK && ev->owner != NULL && strcmp(ev->owner, HG_EVENTS_OPERATOR) != 0)
		rc = hg_deliver_fanout(st, ev->owner, ev->type, ev->now_ms, &cfg->outbound.retry,
				       &own);
	if (rc == HG_OK)
		rc = add_targets(&all, &n, &cap, &op);
	if (rc == HG_OK)
		rc = add_targets(&all, &n, &cap, &own);
	if (rc != HG_OK)
		goto out;
	if (cfg->alerts.endpoint != NULL)
		alerts = hg_config_find_endpoint(cfg, cfg->alerts.endpoint);
	if (alerts != NULL) {
		first = hg_deliver_delay_ms(&alerts->retry, 0);
		all[n++] = (struct hg_store_target){.endpoint = alerts->name,
						    .due_ms = ev->now_ms + (first > 0 ? first : 0)};
	}
	if (n == 0)
		goto out; /* nobody to tell: nothing stored */
	rc = hg_buf_printf(&key, "event:%s", ev->dedupe);
	if (rc == HG_OK)
		rc = hg_deliver_event_init(&m, ev->type, ev->now_ms, ev->data,
					   (const char *)key.data, all, n);
	if (rc != HG_OK)
		goto out;
	msgs[0] = &m.msg;
	rc = hg_store_put_messages(st, msgs, 1);
	if (rc == HG_OK && m.msg.outcome == HG_STORE_ACCEPTED)
		hg_log(HG_LOG_INFO, "operational event published", "event", HG_LS(ev->type),
		       "message_id", HG_LS(m.msg.id), "deliveries", HG_LI(n), NULL);
	hg_deliver_event_free(&m);
out:
	hg_buf_free(&key);
	free(all);
	hg_deliver_fanout_free(&op);
	hg_deliver_fanout_free(&own);
	if (rc != HG_OK) {
		hg_log(HG_LOG_ERROR, "operational event not published", "event", HG_LS(ev->type),
		       "error", HG_LS(hg_strerror(rc)), NULL);
		return HG_EIO;
	}
	return HG_OK;
}
