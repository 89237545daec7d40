/*
 * forward.c — the request headers a delivery passes on: the message's
 * source's forward_headers, looked up among the headers stored with the
 * message (so a retry or a replay forwards exactly what arrived).
 *
 * Which names to forward comes from the engine's config snapshot (d->cfg),
 * not from the message: the list is policy, like the endpoint's URL and
 * secret, so a reload that drops a header stops forwarding it at once,
 * also for queued deliveries and replays; storing it per message would
 * need a store migration and would keep forwarding a header an operator
 * removed. A valid W3C traceparent is always passed on. What is forwarded
 * can never be a credential: the config refuses
 * signature and credential names, and credentials are not even stored
 * (src/ingest/inbound.c). Runs on the engine's thread, once per attempt.
 */
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "deliver/engine_internal.h"

/* 1 when the source forwards a header of that name anyway. */
static int listed(const struct hg_source *src, const char *name)
{
	for (size_t i = 0; i < src->n_forward_headers; i++)
		if (strcasecmp(src->forward_headers[i], name) == 0)
			return 1;
	return 0;
}

int dl_forward_each(const struct hg_deliver *d, const struct dl_attempt *a, dl_forward_fn fn,
		    void *arg)
{
	const struct hg_source *src;
	const char *key, *v;
	json_t *stored, *value;
	size_t i;
	int rc = HG_OK;

	if (a->msg.headers_json == NULL || a->msg.source == NULL)
		return HG_OK;
	src = hg_config_find_source(d->cfg, a->msg.source, strlen(a->msg.source));
	if (src == NULL)
		return HG_OK;
	stored = json_loads(a->msg.headers_json, 0, NULL);
	if (stored == NULL)
		return HG_OK; /* not an object we wrote: nothing to forward */
	/* W3C trace context goes on whatever the list says, so a trace spans
	 * the hop through hookgate; only a well-formed traceparent does (a
	 * malformed one would break the application's tracer, not fix it). */
	if (!listed(src, "traceparent")) {
		json_object_foreach(stored, key, value)
		{
			v = json_string_value(value);
			if (strcasecmp(key, "traceparent") == 0 && v != NULL &&
			    hg_traceparent_valid(v, strlen(v))) {
				rc = fn("traceparent", v, arg);
				break;
			}
		}
	}
	for (i = 0; i < src->n_forward_headers && rc == HG_OK; i++) {
		json_object_foreach(stored, key, value)
		{
			if (strcasecmp(key, src->forward_headers[i]) != 0 || !json_is_string(value))
				continue;
			v = json_string_value(value);
			/* h2o refuses line breaks in a header; a stored row that has
			 * one anyway must not split the request we send */
			if (strpbrk(v, "\r\n") == NULL)
				rc = fn(src->forward_headers[i], v, arg);
			break;
		}
	}
	json_decref(stored);
	return rc;
}
