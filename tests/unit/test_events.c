/*
 * test_events.c — operational events (src/events) on SQLite: who receives
 * one (the operator's subscriptions, the owner concerned, alerts.endpoint,
 * and nobody else), the one message they share, and that the same dedupe
 * key published twice is one event.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "config/config.h"
#include "events/events.h"
#include "fixture.h"
#include "store_msgs.h"
#include "store/store.h"
#include "util/util.h"

struct seen {
	char endpoints[8][HG_STORE_NAME_MAX + 1];
	char message_id[HG_UUID_LEN + 1];
	size_t n;
};

static int collect(const struct hg_store_delivery_info *d, void *arg)
{
	struct seen *s = arg;

	assert_true(s->n < 8);
	hg_strlcpy(s->endpoints[s->n++], d->endpoint, HG_STORE_NAME_MAX + 1);
	hg_strlcpy(s->message_id, d->message_id, sizeof(s->message_id));
	return 0;
}

static int has(const struct seen *s, const char *endpoint)
{
	for (size_t i = 0; i < s->n; i++)
		if (strcmp(s->endpoints[i], endpoint) == 0)
			return 1;
	return 0;
}

static void deliveries(struct hg_store *st, struct seen *s)
{
	struct hg_store_delivery_filter f = {0};

	memset(s, 0, sizeof(*s));
	assert_int_equal(hg_store_list_deliveries(st, &f, collect, s), HG_OK);
}

/* Publishes ev; the number of deliveries stored now. */
static size_t publish_count(struct hg_store *st, const struct hg_config *cfg,
			    const struct hg_event *ev, struct seen *s)
{
	assert_int_equal(hg_events_publish(st, cfg, ev), HG_OK);
	deliveries(st, s);
	return s->n;
}

static struct hg_config *config(const char *alerts_endpoint)
{
	struct hg_config *cfg;

	assert_int_equal(hg_config_default(&cfg), HG_OK);
	if (alerts_endpoint != NULL) {
		cfg->endpoints = calloc(1, sizeof(*cfg->endpoints));
		assert_non_null(cfg->endpoints);
		cfg->endpoints[0].name = strdup(alerts_endpoint);
		cfg->endpoints[0].url = strdup("http://127.0.0.1:9/");
		cfg->n_endpoints = 1;
		cfg->alerts.endpoint = strdup(alerts_endpoint);
	}
	return cfg;
}

static int setup(void **state)
{
	return hg_test_store_setup(state, "hg-events", "hookgate.db");
}

static int teardown(void **state)
{
	return hg_test_store_teardown(state);
}

/* The operator's matching subscriptions, the concerned owner's, and
 * alerts.endpoint get one delivery each of one message; another owner,
 * a switched-off subscription and a pattern that does not match get none. */
static void test_routing(void **state)
{
	struct hg_test_store *t = *state;
	struct hg_config *cfg = config("ops-alerts");
	char op_all[HG_UUID_LEN + 1], op_other[HG_UUID_LEN + 1], op_off[HG_UUID_LEN + 1];
	char own[HG_UUID_LEN + 1], other[HG_UUID_LEN + 1], name[64];
	json_t *data = json_pack("{s:s}", "subscription", "x");
	struct hg_event ev = {.type = "hookgate.subscription.disabled",
			      .data = data,
			      .owner = "team-a",
			      .dedupe = "subscription_disabled:x:1",
			      .now_ms = 5000};
	struct hg_store_row row;
	struct seen s;

	tsub_create(t->st, HG_EVENTS_OPERATOR, "[\"hookgate.*\"]", 1, op_all);
	tsub_create(t->st, HG_EVENTS_OPERATOR, "[\"hookgate.alert.*\"]", 1, op_other);
	tsub_create(t->st, HG_EVENTS_OPERATOR, "[\"*\"]", 0, op_off);
	tsub_create(t->st, "team-a", "[\"hookgate.subscription.disabled\"]", 1, own);
	tsub_create(t->st, "team-b", "[\"*\"]", 1, other);

	assert_int_equal(publish_count(t->st, cfg, &ev, &s), 3);
	snprintf(name, sizeof(name), HG_STORE_SUB_PREFIX "%s", op_all);
	assert_true(has(&s, name));
	snprintf(name, sizeof(name), HG_STORE_SUB_PREFIX "%s", own);
	assert_true(has(&s, name));
	assert_true(has(&s, "ops-alerts"));
	snprintf(name, sizeof(name), HG_STORE_SUB_PREFIX "%s", other);
	assert_false(has(&s, name));

	/* one message, shaped like any published event */
	assert_int_equal(hg_store_get_message(t->st, s.message_id, &row), HG_OK);
	assert_string_equal(row.source, HG_STORE_OUTBOUND_SOURCE);
	assert_string_equal(row.headers_json,
			    "{\"X-Webhook-Event\":\"hookgate.subscription.disabled\"}");
	assert_int_equal(row.body_len, strlen("{\"event\":\"hookgate.subscription.disabled\","
					      "\"timestamp\":\"1970-01-01T00:00:05.000Z\","
					      "\"data\":{\"subscription\":\"x\"}}"));
	hg_store_row_free(&row);

	/* the operator only: team-a's subscription is not told */
	ev.owner = NULL;
	ev.dedupe = "subscription_disabled:x:2";
	assert_int_equal(publish_count(t->st, cfg, &ev, &s), 5);
	json_decref(data);
	hg_config_free(cfg);
}

/* The same dedupe key twice is one event; nobody to tell stores nothing. */
static void test_dedupe_and_nobody(void **state)
{
	struct hg_test_store *t = *state;
	struct hg_config *cfg = config(NULL);
	char id[HG_UUID_LEN + 1];
	json_t *data = json_pack("{s:s}", "endpoint", "orders");
	struct hg_event ev = {.type = "hookgate.endpoint.circuit_open",
			      .data = data,
			      .dedupe = "circuit_open:orders:1000",
			      .now_ms = 2000};
	struct seen s;

	assert_int_equal(publish_count(t->st, cfg, &ev, &s), 0);

	tsub_create(t->st, HG_EVENTS_OPERATOR, "[\"hookgate.endpoint.*\"]", 1, id);
	assert_int_equal(publish_count(t->st, cfg, &ev, &s), 1);
	ev.now_ms = 3000; /* another node, later: the same event */
	assert_int_equal(publish_count(t->st, cfg, &ev, &s), 1);
	ev.dedupe = "circuit_open:orders:9000";
	assert_int_equal(publish_count(t->st, cfg, &ev, &s), 2);
	json_decref(data);
	hg_config_free(cfg);
}

static void test_reserved(void **state)
{
	(void)state;
	assert_true(hg_events_reserved("hookgate.delivery.dead", 22));
	assert_true(hg_events_reserved("hookgate.", 9));
	assert_false(hg_events_reserved("hookgates.x", 11));
	assert_false(hg_events_reserved("clip.submitted", 14));
	assert_false(hg_events_reserved("hookgate", 8));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_routing, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_dedupe_and_nobody, setup, teardown),
	    cmocka_unit_test(test_reserved),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
