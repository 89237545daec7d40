/*
 * test_routes.c — routing (src/deliver/routes.c) on configs loaded from
 * YAML: plain routes, "==" and "!=" filters, paths that select several
 * values, bodies that are not JSON, one delivery per endpoint however many
 * routes name it, and the first attempt's due time.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "config/config.h"
#include "deliver/deliver.h"
#include "store/store.h"
#include "store_msgs.h"
#include "util/jsonpath.h"

static const char config_head[] =
    "endpoints:\n"
    "  - {name: msgs, url: http://127.0.0.1:9/m, retry: {schedule: [0s], jitter: 0%}}\n"
    "  - {name: stats, url: http://127.0.0.1:9/s, retry: {schedule: [5s, 1s], jitter: 0%}}\n"
    "  - {name: all, url: http://127.0.0.1:9/a}\n"
    "sources:\n"
    "  - name: wa\n"
    "    provider: meta\n"
    "    secret_env: HGT_ROUTE_SECRET\n"
    "    routes:\n";

static struct hg_config *load(const char *routes)
{
	char path[] = "/tmp/hg-test-routes-XXXXXX", err[512];
	struct hg_config *cfg = NULL;
	FILE *f;
	int fd, rc;

	setenv("HGT_ROUTE_SECRET", "s", 1);
	fd = mkstemp(path);
	assert_true(fd >= 0);
	f = fdopen(fd, "w");
	assert_non_null(f);
	fputs(config_head, f);
	fputs(routes, f);
	assert_int_equal(fclose(f), 0);
	rc = hg_config_load(path, &cfg, err, sizeof(err));
	unlink(path);
	if (rc != HG_OK)
		fail_msg("config did not load: %s", err);
	return cfg;
}

/* Routes body through source wa; names gets the endpoints, comma-separated. */
static void route(const struct hg_config *cfg, const char *body, char *names, size_t len)
{
	struct hg_store_target t[8];
	size_t n = 99, i, used = 0;

	assert_true(cfg->sources[0].n_routes <= 8);
	assert_int_equal(hg_deliver_route(&cfg->sources[0], (const uint8_t *)body, strlen(body),
					  NULL, NULL, 1000, t, &n),
			 HG_OK);
	names[0] = '\0';
	for (i = 0; i < n; i++)
		used +=
		    (size_t)snprintf(names + used, len - used, "%s%s", i ? "," : "", t[i].endpoint);
}

#define CHANGE(field) "{\"field\":\"" field "\",\"value\":{}}"
#define BODY(changes) "{\"entry\":[{\"changes\":[" changes "]}]}"

static void test_plain_routes(void **state)
{
	struct hg_config *cfg = load("      - msgs\n      - stats\n");
	struct hg_store_target t[2];
	size_t n = 0;
	char names[128];

	(void)state;
	route(cfg, "{}", names, sizeof(names));
	assert_string_equal(names, "msgs,stats");
	route(cfg, "not json at all", names, sizeof(names));
	assert_string_equal(names, "msgs,stats");
	/* due: received + the first wait of each endpoint's schedule */
	assert_int_equal(
	    hg_deliver_route(&cfg->sources[0], (const uint8_t *)"{}", 2, NULL, NULL, 1000, t, &n),
	    HG_OK);
	assert_int_equal(n, 2);
	assert_int_equal(t[0].due_ms, 1000);
	assert_int_equal(t[1].due_ms, 6000);
	hg_config_free(cfg);
}

static void test_equals(void **state)
{
	struct hg_config *cfg =
	    load("      - {endpoint: msgs, when: \"$.entry[*].changes[*].field == messages\"}\n"
		 "      - {endpoint: stats, when: \"$.entry[*].changes[*].field == statuses\"}\n");
	char names[128];

	(void)state;
	route(cfg, BODY(CHANGE("messages")), names, sizeof(names));
	assert_string_equal(names, "msgs");
	route(cfg, BODY(CHANGE("statuses")), names, sizeof(names));
	assert_string_equal(names, "stats");
	/* several selected values: any one equal is enough */
	route(cfg, BODY(CHANGE("comments") "," CHANGE("statuses") "," CHANGE("messages")), names,
	      sizeof(names));
	assert_string_equal(names, "msgs,stats");
	route(cfg, BODY(CHANGE("comments")), names, sizeof(names));
	assert_string_equal(names, "");
	/* the path selects nothing, or the body is no JSON: no match */
	route(cfg, "{\"entry\":[]}", names, sizeof(names));
	assert_string_equal(names, "");
	route(cfg, "field=messages", names, sizeof(names));
	assert_string_equal(names, "");
	route(cfg, "", names, sizeof(names));
	assert_string_equal(names, "");
	hg_config_free(cfg);
}

/* Route filters read the request's shared tree (made once for every check
 * of the request), not a parse of their own: swapped for a tree that says
 * something else than the bytes, the tree wins. */
static void test_shared_tree(void **state)
{
	struct hg_config *cfg =
	    load("      - {endpoint: msgs, when: \"$.entry[*].changes[*].field == messages\"}\n"
		 "      - {endpoint: stats, when: \"$.entry[*].changes[*].field == statuses\"}\n");
	static const char body[] = BODY(CHANGE("messages"));
	struct hg_store_target t[2];
	struct hg_json_body jb;
	size_t n = 0;

	(void)state;
	hg_json_body_init(&jb, (const uint8_t *)body, strlen(body));
	assert_non_null(hg_json_body_root(&jb));
	json_decref(jb.root);
	jb.root = json_loads(BODY(CHANGE("statuses")), 0, NULL);
	assert_int_equal(hg_deliver_route_of(&cfg->sources[0], &jb, NULL, NULL, 1000, t, &n),
			 HG_OK);
	assert_int_equal(n, 1);
	assert_string_equal(t[0].endpoint, "stats");
	hg_json_body_release(&jb);
	hg_config_free(cfg);
}

/* Outbound: a published event goes to the active subscriptions of its
 * owner whose patterns match its type, as "sub:<id>" targets due after
 * the retry policy's first wait. */
static void test_fanout(void **state)
{
	struct hg_store *st = NULL;
	struct hg_deliver_fanout f;
	struct hg_retry retry = {0};
	int64_t schedule[] = {250, 1000};
	char err[256], clip[HG_UUID_LEN + 1], star[HG_UUID_LEN + 1], other[HG_UUID_LEN + 1],
	    off[HG_UUID_LEN + 1], theirs[HG_UUID_LEN + 1], name[64];

	(void)state;
	assert_int_equal(hg_store_open("sqlite::memory:", &st, err, sizeof(err)), HG_OK);
	tsub_create(st, "own", "[\"clip.*\"]", 1, clip);
	tsub_create(st, "own", "[\"other.thing\", \"*\"]", 1, star);
	tsub_create(st, "own", "[\"other.*\"]", 1, other);
	tsub_create(st, "own", "[\"clip.submitted\"]", 0, off);
	tsub_create(st, "them", "[\"clip.*\"]", 1, theirs);
	retry.schedule_ms = schedule;
	retry.attempts = 2;
	retry.max_delay_ms = 3600000;

	assert_int_equal(hg_deliver_fanout(st, "own", "clip.submitted", 5000, &retry, &f), HG_OK);
	assert_int_equal(f.n, 2); /* clip.* and *, not other.*, not the inactive one */
	for (size_t i = 0; i < f.n; i++) {
		assert_ptr_equal(f.targets[i].endpoint, f.names[i]);
		assert_int_equal(f.targets[i].due_ms, 5250);
	}
	snprintf(name, sizeof(name), HG_STORE_SUB_PREFIX "%s", clip);
	assert_true(strcmp(f.names[0], name) == 0 || strcmp(f.names[1], name) == 0);
	snprintf(name, sizeof(name), HG_STORE_SUB_PREFIX "%s", star);
	assert_true(strcmp(f.names[0], name) == 0 || strcmp(f.names[1], name) == 0);
	hg_deliver_fanout_free(&f);

	/* no owner: every owner's subscriptions */
	assert_int_equal(hg_deliver_fanout(st, NULL, "clip.approved", 0, &retry, &f), HG_OK);
	assert_int_equal(f.n, 3);
	hg_deliver_fanout_free(&f);
	assert_int_equal(hg_deliver_fanout(st, "own", "nothing.here", 0, &retry, &f), HG_OK);
	assert_int_equal(f.n, 1); /* only "*" */
	hg_deliver_fanout_free(&f);
	hg_store_close(st);
}

static void test_not_equals(void **state)
{
	struct hg_config *cfg =
	    load("      - {endpoint: stats, when: \"$.entry[*].changes[*].field != messages\"}\n");
	char names[128];

	(void)state;
	route(cfg, BODY(CHANGE("statuses")), names, sizeof(names));
	assert_string_equal(names, "stats");
	route(cfg, BODY(CHANGE("messages")), names, sizeof(names));
	assert_string_equal(names, "");
	/* "!=" holds when no selected value equals: one that does is enough to fail */
	route(cfg, BODY(CHANGE("statuses") "," CHANGE("messages")), names, sizeof(names));
	assert_string_equal(names, "");
	/* nothing selected, not JSON: nothing equals, so it holds */
	route(cfg, "{}", names, sizeof(names));
	assert_string_equal(names, "stats");
	route(cfg, "<xml/>", names, sizeof(names));
	assert_string_equal(names, "stats");
	hg_config_free(cfg);
}

static void test_scalars_and_quotes(void **state)
{
	struct hg_config *cfg = load("      - {endpoint: msgs, when: \"$.n == 5\"}\n"
				     "      - {endpoint: stats, when: \"$.s == 'a b'\"}\n"
				     "      - {endpoint: all, when: \"$.o == x\"}\n");
	char names[128];

	(void)state;
	/* a number and its text are the same key; objects never equal a value */
	route(cfg, "{\"n\":5}", names, sizeof(names));
	assert_string_equal(names, "msgs");
	route(cfg, "{\"n\":\"5\"}", names, sizeof(names));
	assert_string_equal(names, "msgs");
	route(cfg, "{\"n\":5.5}", names, sizeof(names));
	assert_string_equal(names, "");
	route(cfg, "{\"s\":\"a b\"}", names, sizeof(names));
	assert_string_equal(names, "stats");
	route(cfg, "{\"s\":\"a\"}", names, sizeof(names));
	assert_string_equal(names, "");
	route(cfg, "{\"o\":{\"x\":1}}", names, sizeof(names));
	assert_string_equal(names, "");
	hg_config_free(cfg);
}

static void test_one_delivery_per_endpoint(void **state)
{
	struct hg_config *cfg = load("      - {endpoint: msgs, when: \"$.a == 1\"}\n"
				     "      - {endpoint: msgs, when: \"$.b == 1\"}\n"
				     "      - all\n"
				     "      - msgs\n");
	char names[128];

	(void)state;
	route(cfg, "{\"a\":1,\"b\":1}", names, sizeof(names));
	assert_string_equal(names, "msgs,all");
	route(cfg, "{\"b\":1}", names, sizeof(names));
	assert_string_equal(names, "msgs,all");
	route(cfg, "{}", names, sizeof(names));
	assert_string_equal(names, "all,msgs");
	hg_config_free(cfg);
}

/* Routes {} through source wa with the stored headers given as JSON. */
static void route_headers(const struct hg_config *cfg, const char *headers, char *names, size_t len)
{
	struct hg_store_target t[8];
	json_t *h = json_loads(headers, 0, NULL);
	size_t n = 99, i, used = 0;

	assert_non_null(h);
	assert_int_equal(hg_deliver_route(&cfg->sources[0], (const uint8_t *)"{}", 2,
					  hg_deliver_stored_header, h, 1000, t, &n),
			 HG_OK);
	json_decref(h);
	names[0] = '\0';
	for (i = 0; i < n; i++)
		used +=
		    (size_t)snprintf(names + used, len - used, "%s%s", i ? "," : "", t[i].endpoint);
}

/* header:Name == / != value: the request header, any case of its name;
 * an absent header fails "==" and passes "!=". */
static void test_header_filter(void **state)
{
	struct hg_config *cfg =
	    load("      - {endpoint: msgs, when: \"header:X-GitHub-Event == push\"}\n"
		 "      - {endpoint: stats, when: \"header:x-github-event != push\"}\n");
	char names[128];

	(void)state;
	route_headers(cfg, "{\"x-github-event\":\"push\"}", names, sizeof(names));
	assert_string_equal(names, "msgs");
	route_headers(cfg, "{\"x-github-event\":\"issues\"}", names, sizeof(names));
	assert_string_equal(names, "stats");
	route_headers(cfg, "{\"x-github-event\":\"pushed\"}", names, sizeof(names));
	assert_string_equal(names, "stats");
	route_headers(cfg, "{}", names, sizeof(names));
	assert_string_equal(names, "stats");
	route(cfg, "{}", names, sizeof(names)); /* no header lookup at all */
	assert_string_equal(names, "stats");
	hg_config_free(cfg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_plain_routes),
	    cmocka_unit_test(test_equals),
	    cmocka_unit_test(test_shared_tree),
	    cmocka_unit_test(test_fanout),
	    cmocka_unit_test(test_not_equals),
	    cmocka_unit_test(test_scalars_and_quotes),
	    cmocka_unit_test(test_one_delivery_per_endpoint),
	    cmocka_unit_test(test_header_filter),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
