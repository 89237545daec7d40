/*
 * test_alerts.c — the alert rules over a real SQLite store: a windowed
 * count fires once and resolves once its window has passed, two
 * evaluators on one store (two nodes) make one change between them, the
 * volume rule compares with the same hour of earlier days and cannot fire
 * without them, and the ratio rules wait for enough requests.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "alerts/alerts.h"
#include "config/config.h"
#include "fixture.h"
#include "stats/stats.h"
#include "store/store.h"

/* 10:30 on some day: an hour boundary is 30 minutes away either side */
#define T0 (1796300000000LL / HG_HOUR_MS * HG_HOUR_MS + HG_HOUR_MS / 2)

static struct hg_config *config(void)
{
	struct hg_config *cfg = NULL;
	static const char yaml_path[] = "/tmp/hg-test-alerts.yaml";
	FILE *f = fopen(yaml_path, "w");
	char err[512];

	assert_non_null(f);
	fputs("alerts:\n"
	      "  bad_signatures: {limit: 5, per: 1m}\n"
	      "  min_requests: 10\n"
	      "sources:\n"
	      "  - {name: wa, provider: meta, secret: s}\n",
	      f);
	fclose(f);
	if (hg_config_load(yaml_path, &cfg, err, sizeof(err)) != HG_OK)
		fail_msg("%s", err);
	remove(yaml_path);
	return cfg;
}

static void add(struct hg_store *st, int64_t at, enum hg_stat what, uint64_t n)
{
	struct hg_stats_row r;

	memset(&r, 0, sizeof(r));
	hg_strlcpy(r.source, "wa", sizeof(r.source));
	r.hour_ms = hg_stats_hour_of(at);
	r.count[what] = n;
	assert_int_equal(hg_store_stats_add(st, &r, 1), HG_OK);
}

struct seen {
	int firing;
	char rule[40];
	int n;
};

static int note(const struct hg_store_alert *a, void *arg)
{
	struct seen *s = arg;

	s->n++;
	s->firing = a->firing;
	hg_strlcpy(s->rule, a->rule, sizeof(s->rule));
	return 0;
}

static struct seen alert_state(struct hg_store *st)
{
	struct seen s = {0};

	assert_int_equal(hg_store_alert_list(st, 0, note, &s), HG_OK);
	return s;
}

static void test_window_count(void **state)
{
	struct hg_alert_window w = {.now_ms = T0, .cur = 9, .prev = 4};

	(void)state;
	w.snap_hour_ms = hg_stats_hour_of(T0);
	w.snap_count = 6;
	assert_int_equal(hg_alert_window_count(&w), 3); /* added since the snapshot */
	w.snap_hour_ms -= HG_HOUR_MS;
	w.snap_count = 1;
	assert_int_equal(hg_alert_window_count(&w),
			 3 + 9); /* the rest of that hour, and this one */
	w.snap_count = 50;       /* the counts were purged meanwhile: never negative */
	assert_int_equal(hg_alert_window_count(&w), 9);
}

static void test_fires_once_and_resolves(void **state)
{
	struct hg_test_store *t = *state;
	struct hg_config *cfg = config();
	struct hg_alerts *a = NULL, *b = NULL;
	struct hg_buf m = {0};
	struct seen s;

	assert_int_equal(hg_alerts_new(&a), HG_OK);
	assert_int_equal(hg_alerts_new(&b), HG_OK);
	hg_alerts_tick(a, t->st, cfg, T0, 1); /* the snapshot the window starts from */
	hg_alerts_tick(b, t->st, cfg, T0, 1);
	add(t->st, T0 + 1000, HG_STAT_INVALID_SIGNATURES, 5);
	hg_alerts_tick(a, t->st, cfg, T0 + 2000, 1);
	assert_int_equal(alert_state(t->st).n, 0); /* 5 is not more than 5 */
	add(t->st, T0 + 3000, HG_STAT_INVALID_SIGNATURES, 1);
	hg_alerts_tick(a, t->st, cfg, T0 + 4000, 1);
	hg_alerts_tick(b, t->st, cfg, T0 + 4000, 1);
	hg_alerts_tick(a, t->st, cfg, T0 + 6000, 1);
	s = alert_state(t->st);
	assert_int_equal(s.n, 1);
	assert_true(s.firing);
	assert_string_equal(s.rule, "bad_signatures");
	/* one change between the two nodes */
	assert_int_equal(hg_alerts_metrics(a, cfg, &m), HG_OK);
	assert_non_null(strstr((char *)m.data, "hookgate_alerts_firing{rule=\"bad_signatures\","
					       "source=\"wa\"} 1"));
	assert_non_null(strstr((char *)m.data,
			       "hookgate_alerts_changes_total{rule=\"bad_signatures\","
			       "state=\"firing\"} 1"));
	hg_buf_free(&m);
	assert_int_equal(hg_alerts_metrics(b, cfg, &m), HG_OK);
	assert_non_null(strstr((char *)m.data,
			       "hookgate_alerts_changes_total{rule=\"bad_signatures\","
			       "state=\"firing\"} 0"));
	hg_buf_free(&m);

	/* the window passes: false from then on, resolved once it stayed so */
	hg_alerts_tick(a, t->st, cfg, T0 + 70000, 1);
	assert_true(alert_state(t->st).firing);
	hg_alerts_tick(a, t->st, cfg, T0 + 70000 + 59000, 1);
	assert_true(alert_state(t->st).firing);
	hg_alerts_tick(b, t->st, cfg, T0 + 70000 + 61000, 1);
	hg_alerts_tick(a, t->st, cfg, T0 + 70000 + 61000, 1);
	s = alert_state(t->st);
	assert_int_equal(s.n, 1);
	assert_false(s.firing);
	hg_alerts_free(a);
	hg_alerts_free(b);
	hg_config_free(cfg);
}

/* volume: nothing to compare with on a new installation; with the same
 * hour of earlier days seeded, this hour above 3x their mean fires. */
static void test_volume_against_baseline(void **state)
{
	struct hg_test_store *t = *state;
	struct hg_config *cfg = config();
	struct hg_alerts *a = NULL;

	assert_int_equal(hg_alerts_new(&a), HG_OK);
	add(t->st, T0, HG_STAT_RECEIVED, 100);
	hg_alerts_tick(a, t->st, cfg, T0 + 1000, 1);
	assert_int_equal(alert_state(t->st).n, 0);
	hg_alerts_free(a);

	add(t->st, T0 - 24 * HG_HOUR_MS, HG_STAT_RECEIVED, 20);
	add(t->st, T0 - 3 * 24 * HG_HOUR_MS, HG_STAT_RECEIVED, 40); /* mean 30: 3x is 90 */
	add(t->st, T0 - 25 * HG_HOUR_MS, HG_STAT_RECEIVED, 1000);   /* another hour: not compared */
	assert_int_equal(hg_alerts_new(&a), HG_OK);
	hg_alerts_tick(a, t->st, cfg, T0 + 2000, 1);
	assert_string_equal(alert_state(t->st).rule, "volume");
	assert_true(alert_state(t->st).firing);
	hg_alerts_free(a);
	hg_config_free(cfg);
}

/* duplicate_ratio waits for min_requests, then compares */
static void test_ratio_needs_requests(void **state)
{
	struct hg_test_store *t = *state;
	struct hg_config *cfg = config();
	struct hg_alerts *a = NULL;

	cfg->alerts.volume_on = 0;
	assert_int_equal(hg_alerts_new(&a), HG_OK);
	add(t->st, T0, HG_STAT_RECEIVED, 5);
	add(t->st, T0, HG_STAT_DUPLICATES, 3);
	hg_alerts_tick(a, t->st, cfg, T0 + 1000, 1);
	assert_int_equal(alert_state(t->st).n, 0);
	add(t->st, T0, HG_STAT_RECEIVED, 5);
	hg_alerts_tick(a, t->st, cfg, T0 + 2000, 1);
	assert_string_equal(alert_state(t->st).rule, "duplicate_ratio");
	/* the store refusing writes is an alert of its own */
	hg_alerts_tick(a, t->st, cfg, T0 + 3000, 0);
	assert_int_equal(alert_state(t->st).n, 2);
	hg_alerts_free(a);
	hg_config_free(cfg);
}

struct one_rule {
	const char *rule;
	int state; /* -1 no row, 0 resolved, 1 firing */
};

static int note_rule(const struct hg_store_alert *a, void *arg)
{
	struct one_rule *o = arg;

	if (strcmp(a->rule, o->rule) == 0)
		o->state = a->firing;
	return 0;
}

static int rule_state(struct hg_store *st, const char *rule)
{
	struct one_rule o = {.rule = rule, .state = -1};

	assert_int_equal(hg_store_alert_list(st, 0, note_rule, &o), HG_OK);
	return o.state;
}

/* A node that has not watched a whole window (it just started) sees a
 * short count: it cannot resolve what another node fired until it has. */
static void test_new_node_cannot_resolve(void **state)
{
	struct hg_test_store *t = *state;
	struct hg_config *cfg = config();
	struct hg_alerts *a = NULL, *c = NULL;

	cfg->alerts.volume_on = 0;
	assert_int_equal(hg_alerts_new(&a), HG_OK);
	hg_alerts_tick(a, t->st, cfg, T0, 1);
	add(t->st, T0 + 1000, HG_STAT_INVALID_SIGNATURES, 6);
	hg_alerts_tick(a, t->st, cfg, T0 + 2000, 1);
	assert_int_equal(rule_state(t->st, "bad_signatures"), 1);
	hg_alerts_free(a); /* that node stops */

	/* the window (1m) has passed, but the new node only knows the last 50 s */
	assert_int_equal(hg_alerts_new(&c), HG_OK);
	hg_alerts_tick(c, t->st, cfg, T0 + 100000, 1);
	hg_alerts_tick(c, t->st, cfg, T0 + 150000, 1);
	assert_int_equal(rule_state(t->st, "bad_signatures"), 1);
	/* a whole window watched, then false for the hold: resolved */
	hg_alerts_tick(c, t->st, cfg, T0 + 170000, 1);
	hg_alerts_tick(c, t->st, cfg, T0 + 200000, 1);
	assert_int_equal(rule_state(t->st, "bad_signatures"), 1);
	hg_alerts_tick(c, t->st, cfg, T0 + 231000, 1);
	assert_int_equal(rule_state(t->st, "bad_signatures"), 0);
	hg_alerts_free(c);
	hg_config_free(cfg);
}

/* The store rule is each node's own: a node whose store works does not
 * resolve the alert of a node whose store refuses writes while that node
 * still finds it; it resolves a minute after the last node stopped. */
static void test_store_rule_per_node(void **state)
{
	struct hg_test_store *t = *state;
	struct hg_config *cfg = config();
	struct hg_alerts *a = NULL, *b = NULL;
	struct hg_buf m = {0};

	cfg->alerts.volume_on = 0;
	assert_int_equal(hg_alerts_new(&a), HG_OK);
	assert_int_equal(hg_alerts_new(&b), HG_OK);
	hg_alerts_tick(a, t->st, cfg, T0, 0);
	assert_int_equal(rule_state(t->st, "store"), 1);
	assert_int_equal(hg_alerts_metrics(a, cfg, &m), HG_OK);
	assert_non_null(
	    strstr((char *)m.data, "hookgate_alerts_firing{rule=\"store\",source=\"\"} 1"));
	hg_buf_free(&m);
	hg_alerts_tick(b, t->st, cfg, T0 + 30000, 1);
	hg_alerts_tick(a, t->st, cfg, T0 + 40000, 0); /* still refused there */
	hg_alerts_tick(b, t->st, cfg, T0 + 90000, 1);
	hg_alerts_tick(b, t->st, cfg, T0 + 95000, 1);
	assert_int_equal(rule_state(t->st, "store"), 1);
	/* a's store takes writes again; its alarm lasts a minute more, then a
	 * minute without anyone finding it resolves the stored alert */
	hg_alerts_tick(a, t->st, cfg, T0 + 96000, 1);
	hg_alerts_tick(a, t->st, cfg, T0 + 150000, 1);
	hg_alerts_tick(b, t->st, cfg, T0 + 150000, 1);
	assert_int_equal(rule_state(t->st, "store"), 1);
	hg_alerts_tick(a, t->st, cfg, T0 + 157000, 1); /* a's alarm is over */
	assert_int_equal(hg_alerts_metrics(a, cfg, &m), HG_OK);
	assert_non_null(strstr((char *)m.data, "hookgate_alerts_changes_total{rule=\"store\","
					       "state=\"resolved\"} 1"));
	hg_buf_free(&m);
	hg_alerts_tick(b, t->st, cfg, T0 + 200000, 1);
	assert_int_equal(rule_state(t->st, "store"), 1);
	hg_alerts_tick(b, t->st, cfg, T0 + 260000, 1);
	assert_int_equal(rule_state(t->st, "store"), 0);
	hg_alerts_free(a);
	hg_alerts_free(b);
	hg_config_free(cfg);
}

static int setup(void **state)
{
	return hg_test_store_setup(state, "hg-alerts", "hookgate.db");
}

static int teardown(void **state)
{
	return hg_test_store_teardown(state);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_window_count),
	    cmocka_unit_test_setup_teardown(test_fires_once_and_resolves, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_volume_against_baseline, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_ratio_needs_requests, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_new_node_cannot_resolve, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_store_rule_per_node, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
