/*
 * event.c — a published outbound event as the message that carries it
 * (deliver.h states the contract). POST /api/v1/events and hookgate's own
 * operational events (src/events) both publish through this, so every
 * receiver gets the same body, headers and dedupe rule however the event
 * was made.
 */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "deliver/deliver.h"

int hg_deliver_event_body(const char *event, int64_t ts_ms, const json_t *data, struct hg_buf *out)
{
	char ts[32];
	char *d;
	int rc;

	hg_time_iso8601(ts_ms, ts, sizeof(ts));
	d = json_dumps(data, JSON_COMPACT | JSON_ENCODE_ANY);
	if (d == NULL)
		return HG_ENOMEM;
	rc = hg_buf_puts(out, "{\"event\":");
	if (rc == HG_OK)
		rc = hg_buf_json_str(out, event, strlen(event));
	if (rc == HG_OK)
		rc = hg_buf_printf(out, ",\"timestamp\":\"%s\",\"data\":%s}", ts, d);
	free(d);
	return rc;
}

int hg_deliver_event_init(struct hg_deliver_event *ev, const char *event, int64_t now_ms,
			  const json_t *data, const char *dedupe_key,
			  const struct hg_store_target *targets, size_t n)
{
	json_t *h = json_pack("{s:s}", "X-Webhook-Event", event);
	struct hg_buf k = {0};
	int rc;

	memset(ev, 0, sizeof(*ev));
	hg_uuid7(ev->msg.id);
	ev->headers_json = h != NULL ? json_dumps(h, JSON_COMPACT) : NULL;
	json_decref(h);
	rc = ev->headers_json != NULL ? hg_deliver_event_body(event, now_ms, data, &ev->body)
				      : HG_ENOMEM;
	if (rc == HG_OK)
		rc = dedupe_key != NULL ? hg_buf_puts(&k, dedupe_key)
					: hg_buf_printf(&k, "id:%s", ev->msg.id);
	if (rc != HG_OK) {
		hg_buf_free(&k);
		hg_deliver_event_free(ev);
		return HG_ENOMEM;
	}
	ev->key = (char *)k.data;
	ev->keys[0] = ev->key;
	ev->msg.source = HG_STORE_OUTBOUND_SOURCE;
	ev->msg.received_ms = now_ms;
	ev->msg.content_type = "application/json";
	ev->msg.headers_json = ev->headers_json;
	ev->msg.body = ev->body.data;
	ev->msg.body_len = ev->body.len;
	ev->msg.dedupe_keys = ev->keys;
	ev->msg.n_dedupe_keys = 1;
	ev->msg.targets = targets;
	ev->msg.n_targets = n;
	return HG_OK;
}

void hg_deliver_event_free(struct hg_deliver_event *ev)
{
	hg_buf_free(&ev->body);
	free(ev->headers_json);
	free(ev->key);
	ev->headers_json = ev->key = NULL;
}
