/*
 * endpoints.c — GET /api/v1/endpoints: every configured endpoint with its
 * health. The circuit, failures in a row and the last success and failure
 * are this node's delivery engine's (hg_deliver_health); the backlog
 * (pending count, oldest pending age) is the store's, the same on every
 * node. /metrics shows the same rows (ops.c).
 */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "api/api_internal.h"

struct backlog_find {
	struct api_endpoint_row *rows;
	size_t n;
};

static int backlog_row(const struct hg_store_backlog *b, void *arg)
{
	struct backlog_find *f = arg;

	for (size_t i = 0; i < f->n; i++)
		if (strcmp(f->rows[i].ep->name, b->endpoint) == 0) {
			f->rows[i].pending = b->pending;
			f->rows[i].oldest_ms = b->oldest_ms;
		}
	return 0;
}

int hg_api_endpoint_rows(struct hg_api *api, struct hg_store *st, const struct hg_config *cfg,
			 struct api_endpoint_row **out)
{
	struct api_endpoint_row *rows = calloc(cfg->n_endpoints + 1, sizeof(*rows));
	struct backlog_find f = {.rows = rows, .n = cfg->n_endpoints};
	int rc;

	*out = NULL;
	if (rows == NULL)
		return HG_ENOMEM;
	for (size_t i = 0; i < cfg->n_endpoints; i++) {
		rows[i].ep = &cfg->endpoints[i];
		rows[i].oldest_ms = -1;
		(void)hg_deliver_health(api->deliver, rows[i].ep->name, &rows[i].h);
	}
	rc = hg_store_backlog(st, backlog_row, &f);
	if (rc != HG_OK) {
		free(rows);
		return rc;
	}
	*out = rows;
	return HG_OK;
}

/* An exec endpoint's command line, its words joined by spaces. */
static json_t *command_json(const struct hg_endpoint *ep)
{
	struct hg_buf b = {0};
	json_t *s;

	for (size_t i = 0; ep->argv[i] != NULL; i++)
		hg_buf_printf(&b, "%s%s", i > 0 ? " " : "", ep->argv[i]);
	s = hg_buf_status(&b) == HG_OK && b.data != NULL ? json_string((const char *)b.data) : NULL;
	hg_buf_free(&b);
	return s;
}

static json_t *row_json(const struct api_endpoint_row *r, int64_t now)
{
	const struct hg_endpoint *ep = r->ep;
	const struct hg_deliver_health *h = &r->h;
	json_t *circuit =
	    json_pack("{s:s, s:o, s:o}", "state", hg_deliver_circuit_name(h->state), "open_until",
		      hg_api_time_json(h->state == HG_CIRCUIT_OPEN ? h->open_until_ms : -1),
		      "opened_at", hg_api_time_json(h->opened_at_ms > 0 ? h->opened_at_ms : -1));

	if (circuit != NULL && ep->circuit.failures > 0 &&
	    (json_object_set_new(circuit, "failures", json_integer(ep->circuit.failures)) != 0 ||
	     json_object_set_new(circuit, "cooldown_ms", json_integer(ep->circuit.cooldown_ms)) !=
		 0)) {
		json_decref(circuit);
		circuit = NULL;
	}
	return json_pack(
	    "{s:s, s:o, s:o, s:o, s:I, s:o, s:o, s:I, s:o}", "name", ep->name, "url",
	    ep->url != NULL ? json_string(ep->url) : json_null(), "command",
	    ep->url == NULL ? command_json(ep) : json_null(), "circuit", circuit, "failures_in_row",
	    (json_int_t)h->failures_in_row, "last_success_at",
	    hg_api_time_json(h->last_success_ms > 0 ? h->last_success_ms : -1), "last_failure_at",
	    hg_api_time_json(h->last_failure_ms > 0 ? h->last_failure_ms : -1), "pending",
	    (json_int_t)r->pending, "oldest_pending_age_ms",
	    r->oldest_ms >= 0 ? json_integer(now > r->oldest_ms ? now - r->oldest_ms : 0)
			      : json_null());
}

void hg_api_op_endpoints(struct hg_api *api, struct hg_store *st, const struct api_job *j,
			 struct api_answer *a)
{
	struct api_endpoint_row *rows = NULL;
	json_t *list = json_array();
	int64_t now = hg_now_ms();
	int rc = hg_api_endpoint_rows(api, st, j->cfg, &rows);

	if (rc != HG_OK) {
		json_decref(list);
		hg_api_store_error(a, rc);
		return;
	}
	for (size_t i = 0; list != NULL && i < j->cfg->n_endpoints; i++)
		if (json_array_append_new(list, row_json(&rows[i], now)) != 0) {
			json_decref(list);
			list = NULL;
		}
	free(rows);
	hg_api_answer_json(a, 200, list != NULL ? json_pack("{s:o}", "data", list) : NULL);
}
