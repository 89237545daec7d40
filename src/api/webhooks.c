/*
 * webhooks.c — the pure parts of the outbound subscription API (seed 003):
 * event-type rules, request bodies turned into validated values, and the
 * JSON of the answers (webhooks.h states the contract).
 *
 * Messages in err are sentences a subscriber reads in a 400 body; they name
 * the field and what it takes, never echo a secret (requests carry none).
 * Not on the inbound hot path; allocates through jansson and hg_buf.
 */
#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/webhooks.h"
#include "deliver/deliver.h"
#include "events/events.h"

/* ---- event types ---- */

int hg_webhook_pattern_allowed(const char *pattern, const char *const *types, size_t n)
{
	size_t plen, i;
	int wild;

	if (pattern == NULL)
		return 0;
	wild = hg_deliver_event_wildcard(pattern, &plen);
	if (!wild && !hg_deliver_event_name_ok(pattern, strlen(pattern)))
		return 0;
	/* hookgate's own events are there whatever event_types lists */
	if (n == 0 || hg_events_reserved(pattern, strlen(pattern)))
		return 1;
	for (i = 0; i < n; i++)
		if (hg_deliver_event_matches(pattern, types[i]))
			return 1;
	return 0;
}

int hg_webhook_type_allowed(const char *type, const char *const *types, size_t n)
{
	size_t i;

	if (type == NULL || !hg_deliver_event_name_ok(type, strlen(type)))
		return 0;
	if (n == 0)
		return 1;
	for (i = 0; i < n; i++)
		if (strcmp(type, types[i]) == 0)
			return 1;
	return 0;
}

/* "a, b, c" of the configured types, for an error message. */
static void wh_types_list(const char *const *types, size_t n, char *out, size_t outlen)
{
	size_t used = 0, i;

	out[0] = '\0';
	for (i = 0; i < n && used + 1 < outlen; i++) {
		int w = snprintf(out + used, outlen - used, "%s%s", i > 0 ? ", " : "", types[i]);

		if (w < 0)
			break;
		used += (size_t)w;
	}
}

/* ---- request bodies ---- */

static json_t *wh_load_object(const uint8_t *body, size_t len, char *err, size_t errlen)
{
	json_error_t jerr;
	json_t *root;

	if (body == NULL || len == 0) {
		hg_errf(err, errlen, "the request body must be a JSON object");
		return NULL;
	}
	root = json_loadb((const char *)body, len, JSON_REJECT_DUPLICATES, &jerr);
	if (root == NULL) {
		hg_errf(err, errlen, "the request body is not valid JSON: %s (at byte %d)",
			jerr.text, jerr.position);
		return NULL;
	}
	if (!json_is_object(root)) {
		json_decref(root);
		hg_errf(err, errlen, "the request body must be a JSON object");
		return NULL;
	}
	return root;
}

static char *wh_strdup(const char *s, size_t n)
{
	char *d = malloc(n + 1);

	if (d != NULL) {
		memcpy(d, s, n);
		d[n] = '\0';
	}
	return d;
}

void hg_webhook_input_free(struct hg_webhook_input *in)
{
	size_t i;

	if (in == NULL)
		return;
	free(in->owner_id);
	free(in->url);
	for (i = 0; i < in->n_events; i++)
		free(in->events[i]);
	free(in->events);
	free(in->description);
	memset(in, 0, sizeof(*in));
}

static int wh_parse_events(json_t *v, const char *const *types, size_t ntypes,
			   struct hg_webhook_input *out, char *err, size_t errlen)
{
	size_t i, j, n;

	if (!json_is_array(v) || json_array_size(v) == 0) {
		hg_errf(err, errlen,
			"events: expected a non-empty array of event types, such as "
			"[\"clip.submitted\"]");
		return HG_EINVAL;
	}
	n = json_array_size(v);
	if (n > HG_WEBHOOK_MAX_EVENTS) {
		hg_errf(err, errlen, "events: at most %d event types per subscription",
			HG_WEBHOOK_MAX_EVENTS);
		return HG_EINVAL;
	}
	out->events = calloc(n, sizeof(*out->events));
	if (out->events == NULL)
		return HG_ENOMEM;
	for (i = 0; i < n; i++) {
		json_t *e = json_array_get(v, i);
		const char *s = json_string_value(e);
		int dup = 0;

		if (s == NULL || strlen(s) != json_string_length(e)) {
			hg_errf(err, errlen, "events: element %zu is not a string", i);
			return HG_EINVAL;
		}
		if (!hg_webhook_pattern_allowed(s, types, ntypes)) {
			char list[512];

			wh_types_list(types, ntypes, list, sizeof(list));
			if (ntypes > 0 && hg_deliver_event_name_ok(s, strlen(s)))
				hg_errf(err, errlen,
					"events: \"%.100s\" is not an event type this gateway "
					"publishes; expected one of %s (or a pattern such as "
					"\"clip.*\")",
					s, list);
			else
				hg_errf(err, errlen,
					"events: \"%.100s\" is not a valid event type (lower-case "
					"words split by dots, such as clip.submitted, or a pattern "
					"such as clip.*)",
					s);
			return HG_EINVAL;
		}
		for (j = 0; j < out->n_events; j++)
			if (strcmp(out->events[j], s) == 0)
				dup = 1;
		if (dup)
			continue;
		out->events[out->n_events] = wh_strdup(s, strlen(s));
		if (out->events[out->n_events] == NULL)
			return HG_ENOMEM;
		out->n_events++;
	}
	out->has_events = 1;
	return HG_OK;
}

int hg_webhook_parse(const uint8_t *body, size_t len, int patch, const char *const *types,
		     size_t ntypes, struct hg_webhook_input *out, char *err, size_t errlen)
{
	json_t *root, *v;
	const char *key;
	int rc = HG_EINVAL;

	memset(out, 0, sizeof(*out));
	root = wh_load_object(body, len, err, errlen);
	if (root == NULL)
		return HG_EINVAL;
	json_object_foreach(root, key, v)
	{
		if (strcmp(key, "url") == 0) {
			const char *s = json_string_value(v);

			if (s == NULL || json_string_length(v) == 0 ||
			    strlen(s) != json_string_length(v)) {
				hg_errf(err, errlen,
					"url: expected a URL string such as "
					"\"https://example.com/webhook\"");
				goto out;
			}
			if (json_string_length(v) > HG_WEBHOOK_URL_MAX) {
				hg_errf(err, errlen, "url: longer than %d bytes",
					HG_WEBHOOK_URL_MAX);
				goto out;
			}
			out->url = wh_strdup(s, json_string_length(v));
			if (out->url == NULL) {
				rc = HG_ENOMEM;
				goto out;
			}
			out->has_url = 1;
		} else if (strcmp(key, "events") == 0) {
			rc = wh_parse_events(v, types, ntypes, out, err, errlen);
			if (rc != HG_OK)
				goto out;
			rc = HG_EINVAL;
		} else if (strcmp(key, "description") == 0) {
			if (json_is_null(v)) {
				out->has_description = 1;
				continue;
			}
			if (!json_is_string(v)) {
				hg_errf(err, errlen, "description: expected a string or null");
				goto out;
			}
			if (json_string_length(v) > HG_WEBHOOK_DESC_MAX) {
				hg_errf(err, errlen, "description: longer than %d bytes",
					HG_WEBHOOK_DESC_MAX);
				goto out;
			}
			out->description = wh_strdup(json_string_value(v), json_string_length(v));
			if (out->description == NULL) {
				rc = HG_ENOMEM;
				goto out;
			}
			out->has_description = 1;
		} else if (!patch && strcmp(key, "owner_id") == 0) {
			const char *s = json_string_value(v);

			if (s == NULL || !hg_webhook_owner_ok(s, json_string_length(v))) {
				hg_errf(err, errlen,
					"owner_id: expected 1-%d letters, digits or ._:@-",
					HG_WEBHOOK_OWNER_MAX);
				goto out;
			}
			out->owner_id = wh_strdup(s, json_string_length(v));
			if (out->owner_id == NULL) {
				rc = HG_ENOMEM;
				goto out;
			}
		} else if (strcmp(key, "is_active") == 0) {
			if (!json_is_boolean(v)) {
				hg_errf(err, errlen, "is_active: expected true or false");
				goto out;
			}
			out->is_active = json_is_true(v);
			out->has_active = 1;
		} else {
			hg_errf(err, errlen,
				"unknown field '%.64s'; a subscription takes url, events, "
				"description and is_active",
				key);
			goto out;
		}
	}
	if (!patch && !out->has_url) {
		hg_errf(err, errlen, "url: required; the https:// URL deliveries are POSTed to");
		goto out;
	}
	if (!patch && !out->has_events) {
		hg_errf(err, errlen,
			"events: required; the event types to receive, such as "
			"[\"clip.submitted\"]");
		goto out;
	}
	if (!patch && !out->has_active) {
		out->is_active = 1;
		out->has_active = 1;
	}
	if (patch && !out->has_url && !out->has_events && !out->has_active &&
	    !out->has_description) {
		hg_errf(err, errlen,
			"nothing to change; send one or more of url, events, is_active, "
			"description");
		goto out;
	}
	rc = HG_OK;
out:
	json_decref(root);
	if (rc != HG_OK)
		hg_webhook_input_free(out);
	return rc;
}

void hg_webhook_publish_free(struct hg_webhook_publish *p)
{
	if (p == NULL)
		return;
	free(p->event);
	json_decref(p->data);
	free(p->owner_id);
	free(p->idempotency_key);
	memset(p, 0, sizeof(*p));
}

int hg_webhook_owner_ok(const char *s, size_t len)
{
	size_t i;

	if (s == NULL || len == 0 || len > HG_WEBHOOK_OWNER_MAX)
		return 0;
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (!isalnum(c) && strchr("._:@-", c) == NULL)
			return 0;
	}
	return 1;
}

int hg_webhook_parse_publish(const uint8_t *body, size_t len, const char *const *types,
			     size_t ntypes, struct hg_webhook_publish *out, char *err,
			     size_t errlen)
{
	json_t *root, *v;
	const char *key;
	int rc = HG_EINVAL;

	memset(out, 0, sizeof(*out));
	root = wh_load_object(body, len, err, errlen);
	if (root == NULL)
		return HG_EINVAL;
	json_object_foreach(root, key, v)
	{
		const char *s = json_string_value(v);
		size_t sl = s != NULL ? json_string_length(v) : 0;

		if (strcmp(key, "event") == 0) {
			if (s == NULL || strlen(s) != sl ||
			    !hg_webhook_type_allowed(s, types, ntypes)) {
				char list[512];

				wh_types_list(types, ntypes, list, sizeof(list));
				if (ntypes > 0)
					hg_errf(err, errlen, "event: expected one of %s", list);
				else
					hg_errf(err, errlen,
						"event: expected an event type such as "
						"\"clip.submitted\" (lower-case words split by "
						"dots)");
				goto out;
			}
			out->event = wh_strdup(s, sl);
			if (out->event == NULL) {
				rc = HG_ENOMEM;
				goto out;
			}
		} else if (strcmp(key, "data") == 0) {
			out->data = json_incref(v);
		} else if (strcmp(key, "owner_id") == 0) {
			if (json_is_null(v))
				continue;
			if (s == NULL || !hg_webhook_owner_ok(s, sl)) {
				hg_errf(err, errlen,
					"owner_id: expected 1-%d letters, digits or ._:@- (the "
					"owner whose subscriptions receive the event)",
					HG_WEBHOOK_OWNER_MAX);
				goto out;
			}
			out->owner_id = wh_strdup(s, sl);
			if (out->owner_id == NULL) {
				rc = HG_ENOMEM;
				goto out;
			}
		} else if (strcmp(key, "idempotency_key") == 0) {
			if (json_is_null(v))
				continue;
			if (s == NULL || sl == 0 || sl > HG_WEBHOOK_IDEM_MAX || strlen(s) != sl) {
				hg_errf(err, errlen,
					"idempotency_key: expected a string of 1-%d bytes",
					HG_WEBHOOK_IDEM_MAX);
				goto out;
			}
			out->idempotency_key = wh_strdup(s, sl);
			if (out->idempotency_key == NULL) {
				rc = HG_ENOMEM;
				goto out;
			}
		} else {
			hg_errf(err, errlen,
				"unknown field '%.64s'; an event takes event, data, owner_id and "
				"idempotency_key",
				key);
			goto out;
		}
	}
	if (out->event == NULL) {
		hg_errf(err, errlen, "event: required, such as \"clip.submitted\"");
		goto out;
	}
	if (out->data == NULL) {
		hg_errf(err, errlen, "data: required; the event's payload (a JSON object)");
		goto out;
	}
	rc = HG_OK;
out:
	json_decref(root);
	if (rc != HG_OK)
		hg_webhook_publish_free(out);
	return rc;
}

const char *hg_webhook_role_name(int role)
{
	switch (role) {
	case HG_ROLE_OWNER:
		return "owner";
	case HG_ROLE_PUBLISHER:
		return "publisher";
	default:
		return NULL;
	}
}

int hg_webhook_parse_api_key(const uint8_t *body, size_t len, char owner[HG_WEBHOOK_OWNER_MAX + 1],
			     int *role, char *err, size_t errlen)
{
	json_t *root, *v;
	const char *key;
	int rc = HG_EINVAL;

	owner[0] = '\0';
	*role = HG_ROLE_OWNER;
	root = wh_load_object(body, len, err, errlen);
	if (root == NULL)
		return HG_EINVAL;
	json_object_foreach(root, key, v)
	{
		const char *s = json_string_value(v);
		size_t sl = s != NULL ? json_string_length(v) : 0;

		if (strcmp(key, "owner_id") == 0) {
			if (s == NULL || !hg_webhook_owner_ok(s, sl)) {
				hg_errf(
				    err, errlen,
				    "owner_id: expected 1-%d letters, digits or ._:@-, such as a "
				    "user's UUID",
				    HG_WEBHOOK_OWNER_MAX);
				goto out;
			}
			memcpy(owner, s, sl);
			owner[sl] = '\0';
		} else if (strcmp(key, "role") == 0) {
			if (s != NULL && strcmp(s, "owner") == 0) {
				*role = HG_ROLE_OWNER;
			} else if (s != NULL && strcmp(s, "publisher") == 0) {
				*role = HG_ROLE_PUBLISHER;
			} else {
				hg_errf(err, errlen, "role: expected \"owner\" or \"publisher\"");
				goto out;
			}
		} else {
			hg_errf(err, errlen,
				"unknown field '%.64s'; an API key takes owner_id and role", key);
			goto out;
		}
	}
	if (owner[0] == '\0') {
		hg_errf(err, errlen, "owner_id: required; the owner the key acts for");
		goto out;
	}
	rc = HG_OK;
out:
	json_decref(root);
	return rc;
}

int hg_webhook_parse_regenerate(const uint8_t *body, size_t len, int64_t *grace_ms, char *err,
				size_t errlen)
{
	json_t *root, *v;
	const char *key;
	size_t i;
	int rc = HG_EINVAL;

	*grace_ms = 0;
	for (i = 0; i < len && isspace(body[i]); i++)
		;
	if (i == len)
		return HG_OK;
	root = wh_load_object(body, len, err, errlen);
	if (root == NULL)
		return HG_EINVAL;
	json_object_foreach(root, key, v)
	{
		if (strcmp(key, "grace_period") != 0) {
			hg_errf(err, errlen,
				"unknown field '%.64s'; regenerate-secret takes grace_period", key);
			goto out;
		}
		if (json_is_null(v))
			continue;
		if (json_is_integer(v) && json_integer_value(v) >= 0 &&
		    json_integer_value(v) <= HG_WEBHOOK_GRACE_MAX_MS / 1000) {
			*grace_ms = json_integer_value(v) * 1000;
		} else if (!json_is_string(v) ||
			   hg_duration_parse_ms(json_string_value(v), grace_ms) != HG_OK ||
			   *grace_ms < 0 || *grace_ms > HG_WEBHOOK_GRACE_MAX_MS) {
			*grace_ms = 0;
			hg_errf(err, errlen,
				"grace_period: expected a duration up to 7d such as \"24h\" or a "
				"number of seconds; during it deliveries are signed with the old "
				"and the new secret");
			goto out;
		}
	}
	rc = HG_OK;
out:
	json_decref(root);
	return rc;
}

/* 1 when the query has a parameter called name (whatever its value). */
static int wh_query_has(const char *q, size_t qlen, const char *name)
{
	const char *p = q, *n, *v;
	size_t nl, vl;

	if (q == NULL)
		return 0;
	while (hg_query_next(&p, q + qlen, &n, &nl, &v, &vl))
		if (nl == strlen(name) && memcmp(n, name, nl) == 0)
			return 1;
	return 0;
}

/* A whole number 1..max from query parameter name; def when absent. */
static int wh_query_int(const char *q, size_t qlen, const char *name, int64_t def, int64_t max,
			int64_t *out, char *err, size_t errlen)
{
	char buf[24];
	long n = hg_query_get(q, qlen, name, buf, sizeof(buf));
	int64_t v = 0;
	long i;

	*out = def;
	if (n < 0 && !wh_query_has(q, qlen, name))
		return HG_OK;
	if (n <= 0 || n > 9)
		goto bad;
	for (i = 0; i < n; i++) {
		if (buf[i] < '0' || buf[i] > '9')
			goto bad;
		v = v * 10 + (buf[i] - '0');
	}
	if (v < 1 || v > max)
		goto bad;
	*out = v;
	return HG_OK;
bad:
	hg_errf(err, errlen, "%s: expected a whole number from 1 to %" PRId64, name, max);
	return HG_EINVAL;
}

int hg_webhook_parse_page(const char *query, size_t qlen, int64_t *page, int64_t *limit, char *err,
			  size_t errlen)
{
	int rc = wh_query_int(query, qlen, "page", 1, 1000000, page, err, errlen);

	if (rc != HG_OK)
		return rc;
	return wh_query_int(query, qlen, "limit", HG_WEBHOOK_PAGE_DEFAULT, HG_WEBHOOK_PAGE_MAX,
			    limit, err, errlen);
}

/* ---- answers ---- */

/* A time as ISO 8601, or JSON null for 0. */
static json_t *wh_time(int64_t ms)
{
	char ts[32];

	if (ms <= 0)
		return json_null();
	hg_time_iso8601(ms, ts, sizeof(ts));
	return json_string(ts);
}

static json_t *wh_str_or_null(const char *s)
{
	return s != NULL ? json_string(s) : json_null();
}

json_t *hg_webhook_view_json(const struct hg_webhook_view *v)
{
	json_t *o = json_object(), *events = NULL;

	if (o == NULL)
		return NULL;
	if (v->events_json != NULL)
		events = json_loads(v->events_json, 0, NULL);
	if (events == NULL || !json_is_array(events)) {
		json_decref(events);
		events = json_array();
	}
	if (json_object_set_new(o, "id", json_string(v->id)) != 0 ||
	    json_object_set_new(o, "user_id", json_string(v->owner_id)) != 0 ||
	    json_object_set_new(o, "url", json_string(v->url)) != 0 ||
	    json_object_set_new(o, "events", events) != 0 ||
	    json_object_set_new(o, "is_active", json_boolean(v->is_active)) != 0 ||
	    json_object_set_new(o, "description", wh_str_or_null(v->description)) != 0 ||
	    json_object_set_new(o, "created_at", wh_time(v->created_ms)) != 0 ||
	    json_object_set_new(o, "updated_at", wh_time(v->updated_ms)) != 0 ||
	    json_object_set_new(o, "last_delivery_at", wh_time(v->last_delivery_ms)) != 0 ||
	    (v->disabled_reason != NULL &&
	     json_object_set_new(o, "disabled_reason", json_string(v->disabled_reason)) != 0)) {
		json_decref(o);
		return NULL;
	}
	return o;
}

const char *hg_webhook_delivery_word(int status)
{
	switch (status) {
	case 3: /* HG_DELIVERY_SUCCEEDED */
		return "delivered";
	case 5: /* HG_DELIVERY_DEAD */
		return "failed";
	default:
		return "pending";
	}
}

json_t *hg_webhook_delivery_json(const struct hg_webhook_delivery_view *d)
{
	json_t *o = json_object();

	if (o == NULL)
		return NULL;
	if (json_object_set_new(o, "id", json_string(d->id)) != 0 ||
	    json_object_set_new(o, "event_type", json_string(d->event_type)) != 0 ||
	    json_object_set_new(o, "status", json_string(hg_webhook_delivery_word(d->status))) !=
		0 ||
	    json_object_set_new(o, "http_status_code",
				d->http_status_code >= 0 ? json_integer(d->http_status_code)
							 : json_null()) != 0 ||
	    (d->error != NULL &&
	     json_object_set_new(o, "error_message", json_string(d->error)) != 0) ||
	    json_object_set_new(o, "attempt_count", json_integer(d->attempt_count)) != 0 ||
	    (d->delivered_ms > 0 &&
	     json_object_set_new(o, "delivered_at", wh_time(d->delivered_ms)) != 0) ||
	    (d->next_attempt_ms > 0 &&
	     json_object_set_new(o, "next_attempt_at", wh_time(d->next_attempt_ms)) != 0) ||
	    json_object_set_new(o, "created_at", wh_time(d->created_ms)) != 0) {
		json_decref(o);
		return NULL;
	}
	return o;
}

json_t *hg_webhook_meta_json(int64_t page, int64_t limit, int64_t total)
{
	int64_t pages = limit > 0 ? (total + limit - 1) / limit : 0;

	return json_pack("{sI sI sI sI}", "page", (json_int_t)page, "limit", (json_int_t)limit,
			 "total", (json_int_t)total, "total_pages", (json_int_t)pages);
}

int hg_webhook_envelope(struct hg_buf *out, const json_t *data, const json_t *meta,
			const char *const *extra)
{
	json_t *o = json_object();
	char *text = NULL;
	int rc = HG_ENOMEM;
	size_t i;

	if (o == NULL)
		return HG_ENOMEM;
	if (json_object_set_new(o, "success", json_true()) != 0)
		goto out;
	if (data != NULL && json_object_set(o, "data", (json_t *)data) != 0)
		goto out;
	if (meta != NULL && json_object_set(o, "meta", (json_t *)meta) != 0)
		goto out;
	for (i = 0; extra != NULL && extra[i] != NULL && extra[i + 1] != NULL; i += 2)
		if (json_object_set_new(o, extra[i], json_string(extra[i + 1])) != 0)
			goto out;
	text = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
	if (text == NULL)
		goto out;
	rc = hg_buf_puts(out, text);
out:
	free(text);
	json_decref(o);
	return rc;
}

int hg_webhook_error(struct hg_buf *out, const char *message)
{
	int rc = hg_buf_puts(out, "{\"success\":false,\"error\":");

	if (rc == HG_OK)
		rc = hg_buf_json_str(out, message, strlen(message));
	if (rc == HG_OK)
		rc = hg_buf_puts(out, "}");
	return rc;
}
