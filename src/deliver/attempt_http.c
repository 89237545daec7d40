/*
 * attempt_http.c — a delivery to an http endpoint: the request (hookgate's
 * headers, the endpoint's configured headers, the request headers its
 * source forwards, the Standard Webhooks signature when the endpoint has a
 * secret), its transfer on the engine's libcurl multi handle, and what the
 * answer means. The transfer (and the pool of reusable transfer handles) also
 * carries outbound subscriptions' deliveries (attempt_sub.c).
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "deliver/engine_internal.h"

#ifndef HG_VERSION
#define HG_VERSION "0.0.0"
#endif

/* A transfer handle: a finished one from the pool, or a new one. curl's
 * per-handle state is several KiB that a new handle allocates and clears;
 * reusing the handles of finished attempts took that off every delivery. */
static CURL *easy_get(struct hg_deliver *d)
{
	return d->n_pool > 0 ? d->pool[--d->n_pool] : curl_easy_init();
}

/* Takes a's transfer handle off the multi handle and back to the pool.
 * curl_easy_reset() forgets every option of the attempt (URL, headers,
 * body, the address guard, the private pointer); what it keeps, live
 * connections and the DNS cache, the multi handle shares among all
 * transfers anyway. */
void dl_easy_put(struct hg_deliver *d, struct dl_attempt *a)
{
	if (a->easy == NULL)
		return;
	curl_multi_remove_handle(d->multi, a->easy);
	if (d->n_pool < (size_t)d->cfg->max_in_flight) {
		curl_easy_reset(a->easy);
		d->pool[d->n_pool++] = a->easy;
	} else {
		curl_easy_cleanup(a->easy);
	}
	a->easy = NULL;
}

static size_t on_body(char *p, size_t size, size_t nmemb, void *arg)
{
	hg_deliver_head_add(arg, p, size * nmemb);
	return size * nmemb; /* the rest is read and dropped: the timeout bounds it */
}

/* Appends "name: value" to a's request headers. HG_OK or HG_ENOMEM. */
int dl_add_header(struct dl_attempt *a, const char *name, const char *value)
{
	struct curl_slist *l = NULL;
	struct hg_buf b = {0};

	if (hg_buf_printf(&b, "%s: %s", name, value) == HG_OK)
		l = curl_slist_append(a->headers, (const char *)b.data);
	hg_buf_free(&b);
	if (l == NULL)
		return HG_ENOMEM;
	a->headers = l;
	return HG_OK;
}

/* The Standard Webhooks headers, from verify's own signer: one line
 * "name: value" each, which is what curl takes. */
static int add_signature(struct hg_deliver *d, struct dl_attempt *a)
{
	const struct hg_secret *s = &a->e->ep->secret;
	struct hg_sign_input in = {.secret = s->bytes,
				   .secret_len = s->len,
				   .body = a->msg.body,
				   .body_len = a->msg.body_len,
				   .id = a->msg.id,
				   .timestamp = hg_now_ms() / 1000};
	struct hg_buf out = {0};
	struct curl_slist *l;
	char *line, *nl;
	int rc;

	rc = d->signer->sign(&in, &out);
	for (line = (char *)out.data; rc == HG_OK && line != NULL && *line != '\0'; line = nl) {
		nl = strchr(line, '\n');
		if (nl != NULL)
			*nl++ = '\0';
		l = curl_slist_append(a->headers, line);
		if (l == NULL)
			rc = HG_ENOMEM;
		else
			a->headers = l;
	}
	hg_buf_free(&out);
	return rc;
}

/* dl_forward_each() callback: one forwarded request header. Not when the
 * endpoint sets that name itself (its headers:, or its own signature's
 * webhook-id and webhook-timestamp) nor X-Request-Id when the message has
 * its request id (sent already): what hookgate sends wins. */
static int add_forwarded(const char *name, const char *value, void *arg)
{
	struct dl_attempt *a = arg;
	const struct hg_endpoint *ep = a->e->ep;
	size_t i;

	if (a->msg.request_id[0] != '\0' && strcasecmp(name, "X-Request-Id") == 0)
		return HG_OK;

	if (ep->secret.bytes != NULL &&
	    (strcasecmp(name, "webhook-id") == 0 || strcasecmp(name, "webhook-timestamp") == 0))
		return HG_OK;
	for (i = 0; i < ep->n_headers; i++)
		if (strcasecmp(name, ep->headers[i].name) == 0)
			return HG_OK;
	return dl_add_header(a, name, value);
}

int dl_http_start(struct hg_deliver *d, struct dl_attempt *a)
{
	const struct hg_endpoint *ep = a->e->ep;
	char attempt[16], event[HG_DELIVER_EVENT_MAX + 1];
	size_t i;
	int rc;

	snprintf(attempt, sizeof(attempt), "%d", a->n);
	dl_msg_event(a, event, sizeof(event)); /* a published event (alerts.endpoint) */
	/* An empty Content-Type removes curl's form default; an empty Expect
	 * its 100-continue wait on large bodies. */
	rc = dl_add_header(a, "Content-Type",
			   a->msg.content_type != NULL ? a->msg.content_type : "");
	if (rc == HG_OK)
		rc = dl_add_header(a, "Expect", "");
	if (rc == HG_OK)
		rc = dl_add_header(a, "X-Hookgate-Source", a->msg.source);
	if (rc == HG_OK)
		rc = dl_add_header(a, "X-Hookgate-Message-Id", a->msg.id);
	if (rc == HG_OK)
		rc = dl_add_header(a, "X-Hookgate-Attempt", attempt);
	if (rc == HG_OK && a->msg.request_id[0] != '\0')
		rc = dl_add_header(a, "X-Request-Id", a->msg.request_id);
	for (i = 0; rc == HG_OK && i < ep->n_headers; i++)
		rc = dl_add_header(a, ep->headers[i].name, ep->headers[i].value);
	if (rc == HG_OK)
		rc = dl_forward_each(d, a, add_forwarded, a);
	if (rc == HG_OK && event[0] != '\0')
		rc = dl_add_header(a, "X-Webhook-Event", event);
	if (rc == HG_OK && a->media[0] != '\0')
		rc = dl_add_header(a, "X-Hookgate-Media", a->media);
	if (rc == HG_OK && ep->secret.bytes != NULL)
		rc = add_signature(d, a);
	if (rc != HG_OK) {
		snprintf(a->error, sizeof(a->error), "cannot build the request: %s",
			 hg_strerror(rc));
		return rc;
	}
	return dl_transfer_start(d, a, ep->url, ep->timeout_ms, NULL);
}

/* The POST of a's body with a's headers to url, added to the multi handle;
 * with guard, through the SSRF guard (a subscriber). */
int dl_transfer_start(struct hg_deliver *d, struct dl_attempt *a, const char *url,
		      int64_t timeout_ms, struct hg_ssrf_guard *guard)
{
	CURLMcode mc;
	CURLcode cc = CURLE_OK;

	a->easy = easy_get(d);
	if (a->easy == NULL) {
		snprintf(a->error, sizeof(a->error), "cannot create a transfer: out of memory");
		return HG_ENOMEM;
	}
	cc = curl_easy_setopt(a->easy, CURLOPT_URL, url);
	if (cc == CURLE_OK)
		cc = curl_easy_setopt(a->easy, CURLOPT_PROTOCOLS_STR, "http,https");
	if (cc == CURLE_OK)
		cc = curl_easy_setopt(a->easy, CURLOPT_FOLLOWLOCATION, 0L);
	if (cc == CURLE_OK)
		cc = curl_easy_setopt(a->easy, CURLOPT_NOSIGNAL, 1L);
	if (cc == CURLE_OK)
		cc = curl_easy_setopt(a->easy, CURLOPT_TIMEOUT_MS, (long)timeout_ms);
	if (cc == CURLE_OK)
		cc = curl_easy_setopt(a->easy, CURLOPT_POST, 1L);
	if (cc == CURLE_OK)
		cc = curl_easy_setopt(a->easy, CURLOPT_POSTFIELDS, a->msg.body);
	if (cc == CURLE_OK)
		cc = curl_easy_setopt(a->easy, CURLOPT_POSTFIELDSIZE_LARGE,
				      (curl_off_t)a->msg.body_len);
	if (cc == CURLE_OK)
		cc = curl_easy_setopt(a->easy, CURLOPT_HTTPHEADER, a->headers);
	if (cc == CURLE_OK)
		cc = curl_easy_setopt(a->easy, CURLOPT_USERAGENT, "hookgate/" HG_VERSION);
	if (cc == CURLE_OK)
		cc = curl_easy_setopt(a->easy, CURLOPT_WRITEFUNCTION, on_body);
	if (cc == CURLE_OK)
		cc = curl_easy_setopt(a->easy, CURLOPT_WRITEDATA, &a->head);
	if (cc == CURLE_OK)
		cc = curl_easy_setopt(a->easy, CURLOPT_ERRORBUFFER, a->errbuf);
	if (cc == CURLE_OK)
		cc = curl_easy_setopt(a->easy, CURLOPT_PRIVATE, a);
	if (cc != CURLE_OK) {
		snprintf(a->error, sizeof(a->error), "cannot set up the request: %s",
			 curl_easy_strerror(cc));
		return HG_EINVAL;
	}
	if (guard != NULL && hg_ssrf_curl_guard(a->easy, guard) != HG_OK) {
		snprintf(a->error, sizeof(a->error), "cannot set up the address guard");
		return HG_EINVAL;
	}
	mc = curl_multi_add_handle(d->multi, a->easy);
	if (mc != CURLM_OK) {
		snprintf(a->error, sizeof(a->error), "cannot start the request: %s",
			 curl_multi_strerror(mc));
		return HG_EIO;
	}
	return HG_OK;
}

void dl_http_done(struct hg_deliver *d, struct dl_attempt *a, CURLcode result)
{
	struct curl_header *h = NULL;
	long code = 0;

	if (curl_easy_getinfo(a->easy, CURLINFO_RESPONSE_CODE, &code) == CURLE_OK && code > 0)
		a->status_code = (int)code;
	if (a->guard.refused) {
		/* permanent: where a name points is configuration, not an outage */
		a->gone = 1;
		snprintf(a->error, sizeof(a->error), "blocked address %s (%s)", a->guard.addr,
			 a->guard.range != NULL ? a->guard.range : "blocked range");
		dl_easy_put(d, a);
		dl_finish(d, a);
		return;
	}
	if (a->have_sub && result == CURLE_OK && code == 410) {
		/* the subscriber says the endpoint is gone for good */
		a->gone = 1;
		a->sub_gone = 1;
	}
	if (result != CURLE_OK)
		snprintf(a->error, sizeof(a->error), "%s",
			 a->errbuf[0] != '\0' ? a->errbuf : curl_easy_strerror(result));
	else if (code < 200 || code > 299)
		snprintf(a->error, sizeof(a->error), "HTTP %ld", code);
	else
		a->ok = 1;
	/* Rate limited or unavailable: the endpoint may say when to come back. */
	if (result == CURLE_OK && (code == 429 || code == 503) &&
	    curl_easy_header(a->easy, "Retry-After", 0, CURLH_HEADER, -1, &h) == CURLHE_OK &&
	    hg_deliver_retry_after_ms(h->value, strlen(h->value), hg_now_ms(),
				      &a->retry_after_ms) != HG_OK)
		a->retry_after_ms = -1;
	dl_easy_put(d, a);
	dl_finish(d, a);
}
