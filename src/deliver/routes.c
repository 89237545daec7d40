/*
 * routes.c — who gets a message, inbound and outbound (deliver.h states
 * the contract).
 *
 * Inbound: each route of its source names an endpoint and, optionally, a
 * filter on the body ("$.path == value" / "!=") or on a request header
 * ("header:Name == value"; config.h states the rules).
 * Runs on the event-loop thread that accepted the message, so the
 * deliveries can be stored with it: the body's tree is made at most once
 * per request, only when some route filters, and nothing else is
 * allocated.
 *
 * Outbound: a published event goes to every active subscription of its
 * owner with a pattern that matches its type ("clip.submitted",
 * "clip.*", "*"); the event-type grammar lives here with the match.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "config/config.h"
#include "store/store.h"
#include "deliver/deliver.h"
#include "util/jsonpath.h"

/* hg_jsonpath_each() callback: 1 (stop) at the first scalar whose text is
 * the route's value. */
static int value_equals(json_t *v, void *arg)
{
	const struct hg_route *r = arg;
	char *text;
	int eq;

	if (json_is_object(v) || json_is_array(v))
		return 0;
	text = hg_jsonpath_scalar_text(v);
	eq = text != NULL && strcmp(text, r->value) == 0;
	free(text);
	return eq;
}

/* 1 when route r holds for the parsed body (NULL: not JSON) and the
 * request's headers (header NULL: none). */
static int route_holds(const struct hg_route *r, json_t *root, hg_deliver_header_fn header,
		       void *hctx)
{
	const char *v;
	size_t len = 0;
	int any;

	if (r->header != NULL) {
		v = header != NULL ? header(hctx, r->header, &len) : NULL;
		any = v != NULL && len == strlen(r->value) && memcmp(v, r->value, len) == 0;
	} else if (r->path != NULL) {
		any = root != NULL && hg_jsonpath_each(r->path, root, value_equals, (void *)r) != 0;
	} else {
		return 1;
	}
	return r->negate ? !any : any;
}

const char *hg_deliver_stored_header(void *headers, const char *name, size_t *len)
{
	const char *key, *v = NULL;
	json_t *value;

	json_object_foreach((json_t *)headers, key, value)
	{
		if (strcasecmp(key, name) == 0 && json_is_string(value)) {
			v = json_string_value(value);
			*len = json_string_length(value);
			break;
		}
	}
	return v;
}

int hg_deliver_route(const struct hg_source *src, const uint8_t *body, size_t len,
		     hg_deliver_header_fn header, void *hctx, int64_t received_ms,
		     struct hg_store_target *out, size_t *n)
{
	struct hg_json_body b;
	int rc;

	hg_json_body_init(&b, body, len);
	rc = hg_deliver_route_of(src, &b, header, hctx, received_ms, out, n);
	hg_json_body_release(&b);
	return rc;
}

int hg_deliver_route_of(const struct hg_source *src, struct hg_json_body *body,
			hg_deliver_header_fn header, void *hctx, int64_t received_ms,
			struct hg_store_target *out, size_t *n)
{
	json_t *root = NULL;
	size_t i, j;

	*n = 0;
	for (i = 0; i < src->n_routes; i++) {
		const struct hg_route *r = &src->routes[i];
		const struct hg_endpoint *ep = r->endpoint;

		for (j = 0; j < *n && strcmp(out[j].endpoint, ep->name) != 0; j++)
			;
		if (j < *n)
			continue; /* already selected by an earlier route */
		if (r->path != NULL)
			root = hg_json_body_root(body);
		if (!route_holds(r, root, header, hctx))
			continue;
		out[*n].endpoint = ep->name;
		out[*n].due_ms = received_ms + hg_deliver_delay_ms(&ep->retry, 0);
		(*n)++;
	}
	return HG_OK;
}

/* ---- outbound: event types and the fan-out ---- */

int hg_deliver_event_name_ok(const char *s, size_t len)
{
	size_t i, label = 0;

	if (s == NULL || len == 0 || len > HG_DELIVER_EVENT_MAX)
		return 0;
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '.') {
			if (label == 0)
				return 0;
			label = 0;
			continue;
		}
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-'))
			return 0;
		label++;
	}
	return label > 0;
}

int hg_deliver_event_wildcard(const char *pattern, size_t *plen)
{
	size_t n = strlen(pattern);

	if (n == 1 && pattern[0] == '*') {
		*plen = 0;
		return 1;
	}
	if (n >= 3 && pattern[n - 1] == '*' && pattern[n - 2] == '.' &&
	    hg_deliver_event_name_ok(pattern, n - 2)) {
		*plen = n - 1;
		return 1;
	}
	return 0;
}

int hg_deliver_event_matches(const char *pattern, const char *type)
{
	size_t plen;

	if (pattern == NULL || type == NULL)
		return 0;
	if (hg_deliver_event_wildcard(pattern, &plen))
		return strlen(type) > plen && strncmp(type, pattern, plen) == 0;
	return strcmp(pattern, type) == 0;
}

/* Adds subscription s when one of its patterns matches the event. */
static int fanout_one(const struct hg_store_sub *s, void *arg)
{
	struct hg_deliver_fanout *f = arg;
	json_t *arr = json_loads(s->events_json, 0, NULL), *v;
	size_t i;
	int match = 0;

	json_array_foreach(arr, i, v)
	{
		if (hg_deliver_event_matches(json_string_value(v), f->event)) {
			match = 1;
			break;
		}
	}
	json_decref(arr);
	if (!match)
		return 0;
	if (f->n == f->cap) {
		size_t cap = f->cap ? 2 * f->cap : 8;
		void *t = realloc(f->targets, cap * sizeof(*f->targets));

		if (t == NULL) {
			f->oom = 1;
			return 1;
		}
		f->targets = t;
		t = realloc(f->names, cap * sizeof(*f->names));
		if (t == NULL) {
			f->oom = 1;
			return 1;
		}
		f->names = t;
		f->cap = cap;
	}
	snprintf(f->names[f->n], sizeof(f->names[f->n]), HG_STORE_SUB_PREFIX "%s", s->id);
	f->n++;
	return 0;
}

int hg_deliver_fanout(struct hg_store *st, const char *owner, const char *event, int64_t now_ms,
		      const struct hg_retry *retry, struct hg_deliver_fanout *out)
{
	int64_t first;
	size_t i;
	int rc;

	memset(out, 0, sizeof(*out));
	out->event = event;
	rc = hg_store_sub_each(st, owner, 1, fanout_one, out);
	if (rc == HG_OK && out->oom)
		rc = HG_ENOMEM;
	if (rc != HG_OK) {
		hg_deliver_fanout_free(out);
		return rc;
	}
	first = hg_deliver_delay_ms(retry, 0);
	for (i = 0; i < out->n; i++) {
		out->targets[i].endpoint = out->names[i];
		out->targets[i].due_ms = now_ms + (first > 0 ? first : 0);
	}
	return HG_OK;
}

void hg_deliver_fanout_free(struct hg_deliver_fanout *f)
{
	free(f->targets);
	free(f->names);
	f->targets = NULL;
	f->names = NULL;
	f->n = f->cap = 0;
}
