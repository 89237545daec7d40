/*
 * routes.c — which endpoints a message goes to: each route of its source
 * names an endpoint and, optionally, a filter on the body ("$.path ==
 * value" / "!="; config.h states the rule). Runs on the event-loop thread
 * that accepted the message, so the deliveries can be stored with it: the
 * body is parsed once, only when some route filters, and nothing else is
 * allocated.
 */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "config/config.h"
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

/* 1 when route r holds for the parsed body (NULL: not JSON). */
static int route_holds(const struct hg_route *r, json_t *root)
{
	int any;

	if (r->path == NULL)
		return 1;
	any = root != NULL && hg_jsonpath_each(r->path, root, value_equals, (void *)r) != 0;
	return r->negate ? !any : any;
}

int hg_deliver_route(const struct hg_source *src, const uint8_t *body, size_t len,
		     int64_t received_ms, struct hg_store_target *out, size_t *n)
{
	struct hg_json_body b;
	int rc;

	hg_json_body_init(&b, body, len);
	rc = hg_deliver_route_of(src, &b, received_ms, out, n);
	hg_json_body_release(&b);
	return rc;
}

int hg_deliver_route_of(const struct hg_source *src, struct hg_json_body *body, int64_t received_ms,
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
		if (!route_holds(r, root))
			continue;
		out[*n].endpoint = ep->name;
		out[*n].due_ms = received_ms + hg_deliver_delay_ms(&ep->retry, 0);
		(*n)++;
	}
	return HG_OK;
}
