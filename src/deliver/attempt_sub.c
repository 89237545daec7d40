/*
 * attempt_sub.c — a delivery to an outbound subscription ("sub:<id>"): the
 * subscription as it is now, its signatures, and a transfer through the
 * SSRF guard (attempt_http.c does the transfer and reads the answer).
 */
#include <stdio.h>
#include <string.h>

#include <jansson.h>
#include <openssl/crypto.h>

#include "deliver/engine_internal.h"

void dl_msg_event(const struct dl_attempt *a, char *out, size_t outlen)
{
	int published =
	    a->msg.source != NULL && strcmp(a->msg.source, HG_STORE_OUTBOUND_SOURCE) == 0;
	json_t *h = published && a->msg.headers_json != NULL
			? json_loads(a->msg.headers_json, 0, NULL)
			: NULL;
	const char *v = json_string_value(json_object_get(h, "X-Webhook-Event"));

	hg_strlcpy(out, v != NULL ? v : "", outlen);
	json_decref(h);
}

/* A delivery to subscription "sub:<id>": the subscription as it is now
 * (its URL and secrets may have changed since the event), the Clipper and
 * Standard Webhooks signatures from its one secret (both secrets during a
 * grace period), and the transfer through the SSRF guard. *store_down is
 * set when the subscription could not be read (the store failed, or its
 * secret is sealed with a key this node lacks: HG_ENOKEY); that is not an
 * attempt, the lease brings it back. Other failures are the attempt's,
 * with a->error set. */
int dl_sub_start(struct hg_deliver *d, struct dl_attempt *a, int *store_down)
{
	const char *id = a->c.endpoint + sizeof(HG_STORE_SUB_PREFIX) - 1;
	struct hg_outbound_sig sig;
	int64_t now = hg_now_ms();
	char event[128];
	int rc;

	if (strncmp(a->c.endpoint, HG_STORE_SUB_PREFIX, sizeof(HG_STORE_SUB_PREFIX) - 1) != 0) {
		a->gone = 1;
		snprintf(a->error, sizeof(a->error), "not a subscription: %s", a->c.endpoint);
		return HG_EINVAL;
	}
	rc = hg_store_sub_get(d->st, id, NULL, &a->sub);
	if (rc == HG_ENOTFOUND) {
		a->gone = 1;
		snprintf(a->error, sizeof(a->error), "subscription deleted");
		return HG_ENOTFOUND;
	}
	if (rc == HG_EAUTH) { /* it stays so: trying again cannot help */
		a->gone = 1;
		snprintf(a->error, sizeof(a->error),
			 "the subscription's stored secret does not decrypt");
		return HG_EAUTH;
	}
	if (rc != HG_OK) { /* the store, or a key this node lacks: not an attempt */
		*store_down = 1;
		return rc;
	}
	if (!a->sub.is_active) {
		a->gone = 1;
		snprintf(a->error, sizeof(a->error), "subscription switched off");
		return HG_EINVAL;
	}
	a->have_sub = 1;
	dl_msg_event(a, event, sizeof(event));
	rc = hg_outbound_sign(a->sub.secret,
			      a->sub.old_secret[0] != '\0' && a->sub.old_secret_until_ms > now
				  ? a->sub.old_secret
				  : NULL,
			      a->c.id, now / 1000, a->msg.body, a->msg.body_len, &sig);
	if (rc == HG_OK)
		rc = dl_add_header(a, "Content-Type", "application/json");
	if (rc == HG_OK)
		rc = dl_add_header(a, "Expect", "");
	if (rc == HG_OK)
		rc = dl_add_header(a, "X-Webhook-Event", event);
	if (rc == HG_OK)
		rc = dl_add_header(a, "X-Webhook-Delivery-ID", a->c.id);
	if (rc == HG_OK && a->msg.request_id[0] != '\0')
		rc = dl_add_header(a, "X-Request-Id", a->msg.request_id);
	if (rc == HG_OK)
		rc = dl_add_header(a, "X-Webhook-Signature", sig.clipper);
	if (rc == HG_OK)
		rc = dl_add_header(a, "webhook-id", sig.webhook_id);
	if (rc == HG_OK)
		rc = dl_add_header(a, "webhook-timestamp", sig.webhook_timestamp);
	if (rc == HG_OK)
		rc = dl_add_header(a, "webhook-signature", sig.webhook_signature);
	OPENSSL_cleanse(&sig, sizeof(sig));
	if (rc != HG_OK) {
		snprintf(a->error, sizeof(a->error), "cannot build the request: %s",
			 hg_strerror(rc));
		return rc;
	}
	a->guard = (struct hg_ssrf_guard){.policy = &d->ssrf};
	return dl_transfer_start(d, a, a->sub.url, d->cfg->outbound.timeout_ms, &a->guard);
}
