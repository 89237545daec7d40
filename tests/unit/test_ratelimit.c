/*
 * test_ratelimit.c — the in-memory rate limiter (src/ingest/ratelimit.c)
 * with injected clocks: the exact limit, the sliding window across window
 * edges, Retry-After against what the limiter then does, memory bounded by
 * eviction, sources kept apart, no overshoot under four racing threads, and
 * key extraction (ip, header, JSON path) from a request.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "config/config.h"
#include "ingest/ingest.h"
#include "util/jsonpath.h"

#define HOUR (3600 * 1000LL)
/* A window-aligned instant (a multiple of every window used here). */
#define T0 (1700000000000LL - 1700000000000LL % (24 * HOUR))

static struct hg_ratelimit *new_rl(size_t cap)
{
	struct hg_ratelimit *rl = NULL;

	assert_int_equal(hg_ratelimit_new(cap, &rl), HG_OK);
	assert_non_null(rl);
	return rl;
}

static int hit(struct hg_ratelimit *rl, const char *key, int64_t limit, int64_t per, int64_t now,
	       int64_t *retry)
{
	int64_t r = -1;
	int ok = hg_ratelimit_hit(rl, "src", key, limit, per, now, &r);

	if (ok)
		assert_int_equal(r, 0);
	else
		assert_true(r >= 1);
	if (retry != NULL)
		*retry = r;
	return ok;
}

/* n hits at now; returns how many were allowed. */
static int hits(struct hg_ratelimit *rl, const char *key, int64_t limit, int64_t per, int64_t now,
		int n)
{
	int allowed = 0;

	while (n-- > 0)
		allowed += hit(rl, key, limit, per, now, NULL);
	return allowed;
}

static void test_limit_is_exact(void **state)
{
	struct hg_ratelimit *rl = new_rl(1000);
	int64_t retry;

	(void)state;
	/* the WhatsApp seed: 100 per hour per phone number */
	assert_int_equal(hits(rl, "+15550001", 100, HOUR, T0 + 5, 100), 100);
	assert_false(hit(rl, "+15550001", 100, HOUR, T0 + 6, &retry));
	assert_false(hit(rl, "+15550001", 100, HOUR, T0 + HOUR - 1, &retry));
	assert_int_equal(hits(rl, "+15550002", 100, HOUR, T0 + 7, 150), 100);
	/* limit 1 */
	assert_true(hit(rl, "one", 1, 1000, T0, NULL));
	assert_false(hit(rl, "one", 1, 1000, T0 + 999, NULL));
	/* no limit configured: everything passes */
	assert_true(hg_ratelimit_hit(rl, "src", "x", 0, HOUR, T0, &retry));
	assert_int_equal(retry, 0);
	hg_ratelimit_free(rl);
}

static void test_window_roll_over(void **state)
{
	const int64_t per = 10000;
	struct hg_ratelimit *rl = new_rl(1000);

	(void)state;
	assert_int_equal(hits(rl, "k", 3, per, T0 + 100, 5), 3);
	/* at the next window's start the previous one still weighs fully */
	assert_false(hit(rl, "k", 3, per, T0 + per, NULL));
	/* half way through it weighs half: 1.5 + 0 and 1.5 + 1 are below 3, 1.5 + 2 is not */
	assert_int_equal(hits(rl, "k", 3, per, T0 + per + per / 2, 5), 2);
	/* a window later the 2 hits weigh 2 * 0.5 = 1: two more fit */
	assert_int_equal(hits(rl, "k", 3, per, T0 + 2 * per + per / 2, 5), 2);
	/* after a whole idle window nothing is remembered */
	assert_int_equal(hits(rl, "k", 3, per, T0 + 4 * per, 5), 3);

	/* no double burst across a window edge: 3 at the very end of one
	 * window leave nothing for the start of the next */
	assert_int_equal(hits(rl, "edge", 3, per, T0 + per - 1, 3), 3);
	assert_int_equal(hits(rl, "edge", 3, per, T0 + per, 3), 0);

	/* a clock that steps back keeps the counts it has */
	assert_int_equal(hits(rl, "back", 2, per, T0 + 5 * per, 2), 2);
	assert_false(hit(rl, "back", 2, per, T0 + 3 * per, NULL));
	hg_ratelimit_free(rl);
}

/* After a denial with Retry-After R, a hit R seconds later is allowed and
 * one a second earlier (when R > 1) is still denied. */
static void check_retry(struct hg_ratelimit *rl, const char *key, int64_t limit, int64_t per,
			int64_t now)
{
	int64_t retry, again;

	assert_false(hit(rl, key, limit, per, now, &retry));
	if (retry > 1) {
		if (hit(rl, key, limit, per, now + (retry - 1) * 1000, &again))
			fail_msg("%s: allowed %lld s after a Retry-After of %lld s", key,
				 (long long)(retry - 1), (long long)retry);
	}
	if (!hit(rl, key, limit, per, now + retry * 1000, &again))
		fail_msg("%s: still denied at Retry-After %lld s (now %lld s more)", key,
			 (long long)retry, (long long)again);
}

static void test_retry_after(void **state)
{
	struct hg_ratelimit *rl = new_rl(100000);
	uint64_t lcg = 42;
	char key[32];
	int i, j;

	(void)state;
	/* a full first window: free again 1 ms into the next one */
	assert_int_equal(hits(rl, "full", 100, HOUR, T0, 100), 100);
	{
		int64_t retry;

		assert_false(hit(rl, "full", 100, HOUR, T0 + 1000, &retry));
		assert_int_equal(retry, 3600); /* (HOUR - 1000 + 1) ms, rounded up */
	}
	check_retry(rl, "full", 100, HOUR, T0 + 1000);

	/* at a window start after a full window: the previous window must
	 * fade below the limit, 1 ms after the start */
	assert_int_equal(hits(rl, "fade", 10, 60000, T0, 10), 10);
	check_retry(rl, "fade", 10, 60000, T0 + 60000);

	/* many random histories */
	for (i = 0; i < 300; i++) {
		int64_t limit, per, now;
		int n;

		lcg = lcg * 6364136223846793005ULL + 1442695040888963407ULL;
		limit = 1 + (int64_t)(lcg >> 33) % 20;
		per = 1000 * (1 + (int64_t)(lcg >> 40) % 120);
		now = T0 + (int64_t)(lcg >> 20) % (3 * per);
		snprintf(key, sizeof(key), "r%d", i);
		/* some hits spread over the previous window, then fill this one */
		n = (int)((lcg >> 50) % (uint64_t)(limit + 1));
		for (j = 0; j < n; j++)
			hit(rl, key, limit, per, now - per + j * (per / (n + 1)), NULL);
		while (hit(rl, key, limit, per, now, NULL))
			;
		check_retry(rl, key, limit, per, now);
	}
	hg_ratelimit_free(rl);
}

static void test_memory_is_bounded(void **state)
{
	struct hg_ratelimit *rl = new_rl(1000);
	char key[32];
	int i;

	(void)state;
	/* a hot key over its limit, touched while a flood of new keys arrives:
	 * the least recently seen keys go, the hot one keeps its count */
	assert_int_equal(hits(rl, "hot", 2, HOUR, T0, 2), 2);
	for (i = 0; i < 50000; i++) {
		snprintf(key, sizeof(key), "k%d", i);
		assert_true(hit(rl, key, 2, HOUR, T0 + 1, NULL));
		if (i % 50 == 0)
			assert_false(hit(rl, "hot", 2, HOUR, T0 + 1, NULL));
		assert_true(hg_ratelimit_keys(rl, "src") <= 1008); /* 1000 rounded up to 16 */
	}
	assert_true(hg_ratelimit_keys(rl, "src") >= 900);
	/* an evicted key starts afresh */
	assert_true(hit(rl, "k0", 1, HOUR, T0 + 2, NULL));
	hg_ratelimit_free(rl);

	/* keys whose windows are over are swept as new keys arrive */
	rl = new_rl(100000);
	for (i = 0; i < 2000; i++) {
		snprintf(key, sizeof(key), "old%d", i);
		hit(rl, key, 5, 1000, T0, NULL);
	}
	assert_int_equal(hg_ratelimit_keys(rl, "src"), 2000);
	for (i = 0; i < 1000; i++) {
		snprintf(key, sizeof(key), "new%d", i);
		hit(rl, key, 5, 1000, T0 + 3000, NULL);
	}
	assert_true(hg_ratelimit_keys(rl, "src") < 1200);
	assert_int_equal(hg_ratelimit_keys(rl, "nowhere"), 0);
	hg_ratelimit_free(rl);
}

static void test_sources_are_independent(void **state)
{
	struct hg_ratelimit *rl = new_rl(1);
	int64_t retry;

	(void)state;
	assert_true(hg_ratelimit_hit(rl, "whatsapp", "+1555", 1, HOUR, T0, &retry));
	assert_true(hg_ratelimit_hit(rl, "twilio", "+1555", 1, HOUR, T0, &retry));
	assert_false(hg_ratelimit_hit(rl, "whatsapp", "+1555", 1, HOUR, T0, &retry));
	assert_false(hg_ratelimit_hit(rl, "twilio", "+1555", 1, HOUR, T0, &retry));
	/* a full table in one source evicts nothing in another */
	assert_true(hg_ratelimit_hit(rl, "twilio", "other", 1, HOUR, T0, &retry));
	assert_false(hg_ratelimit_hit(rl, "whatsapp", "+1555", 1, HOUR, T0, &retry));
	hg_ratelimit_free(rl);
	hg_ratelimit_free(NULL);
}

#define N_THREADS  4
#define PER_THREAD 5000
#define LIMIT      1000

struct racer {
	struct hg_ratelimit *rl;
	atomic_int *allowed;
	int id;
};

static void *race(void *arg)
{
	struct racer *r = arg;
	char key[16];
	int64_t retry;
	int i;

	for (i = 0; i < PER_THREAD; i++) {
		/* one shared key, plus keys of its own per source created in the race */
		if (hg_ratelimit_hit(r->rl, "shared", "k", LIMIT, HOUR, T0 + i, &retry))
			atomic_fetch_add(r->allowed, 1);
		snprintf(key, sizeof(key), "t%d-%d", r->id, i % 64);
		hg_ratelimit_hit(r->rl, i % 2 ? "a" : "b", key, 10, HOUR, T0 + i, &retry);
	}
	return NULL;
}

static void test_concurrent_hits_never_exceed(void **state)
{
	struct hg_ratelimit *rl = new_rl(100000);
	struct racer racers[N_THREADS];
	pthread_t th[N_THREADS];
	atomic_int allowed;
	int i;

	(void)state;
	atomic_init(&allowed, 0);
	for (i = 0; i < N_THREADS; i++) {
		racers[i] = (struct racer){.rl = rl, .allowed = &allowed, .id = i};
		assert_int_equal(pthread_create(&th[i], NULL, race, &racers[i]), 0);
	}
	for (i = 0; i < N_THREADS; i++)
		assert_int_equal(pthread_join(th[i], NULL), 0);
	assert_int_equal(atomic_load(&allowed), LIMIT);
	assert_int_equal(hg_ratelimit_keys(rl, "a"), N_THREADS * 32);
	assert_int_equal(hg_ratelimit_keys(rl, "b"), N_THREADS * 32);
	hg_ratelimit_free(rl);
}

/* ---- key extraction ---- */

static const char *get_header(void *ctx, const char *name, size_t *len)
{
	const char *const *h = ctx;

	for (; h[0] != NULL; h += 2)
		if (strcasecmp(h[0], name) == 0) {
			*len = strlen(h[1]);
			return h[1];
		}
	return NULL;
}

static void test_keys(void **state)
{
	static const char wa[] =
	    "{\"object\":\"whatsapp_business_account\",\"entry\":[{\"changes\":[{\"value\":"
	    "{\"messages\":[{\"from\":\"15550001\",\"id\":\"wamid.1\"},{\"from\":\"15550002\"}]}}]}"
	    "]}";
	static const char status_only[] =
	    "{\"entry\":[{\"changes\":[{\"value\":{\"statuses\":[{\"id\":\"s1\"}]}}]}]}";
	const char *headers[] = {"X-Api-Key", "tenant-7", "X-Empty", "", NULL};
	struct hg_rate_limit rule = {0};
	char err[128], *key = NULL;

	(void)state;
	rule.by_ip = 1;
	assert_int_equal(hg_ratelimit_key(&rule, "192.0.2.7", NULL, 0, NULL, NULL, &key), HG_OK);
	assert_string_equal(key, "192.0.2.7");
	free(key);
	assert_int_equal(hg_ratelimit_key(&rule, "", NULL, 0, NULL, NULL, &key), HG_OK);
	assert_null(key);

	rule.by_ip = 0;
	rule.header = "x-api-key";
	assert_int_equal(hg_ratelimit_key(&rule, "192.0.2.7", NULL, 0, get_header, headers, &key),
			 HG_OK);
	assert_string_equal(key, "tenant-7");
	free(key);
	rule.header = "x-empty";
	assert_int_equal(hg_ratelimit_key(&rule, NULL, NULL, 0, get_header, headers, &key), HG_OK);
	assert_null(key);
	rule.header = "x-missing";
	assert_int_equal(hg_ratelimit_key(&rule, NULL, NULL, 0, get_header, headers, &key), HG_OK);
	assert_null(key);

	rule.header = NULL;
	rule.path =
	    hg_jsonpath_compile("$.entry[*].changes[*].value.messages[*].from", err, sizeof(err));
	assert_non_null(rule.path);
	assert_int_equal(
	    hg_ratelimit_key(&rule, NULL, (const uint8_t *)wa, strlen(wa), NULL, NULL, &key),
	    HG_OK);
	assert_string_equal(key, "15550001"); /* the first selected value */
	free(key);
	/* a status update has no sender: not limited */
	assert_int_equal(hg_ratelimit_key(&rule, NULL, (const uint8_t *)status_only,
					  strlen(status_only), NULL, NULL, &key),
			 HG_OK);
	assert_null(key);
	assert_int_equal(
	    hg_ratelimit_key(&rule, NULL, (const uint8_t *)"not json", 8, NULL, NULL, &key), HG_OK);
	assert_null(key);
	hg_jsonpath_free(rule.path);

	/* numbers are keyed by their JSON text */
	rule.path = hg_jsonpath_compile("$.user", err, sizeof(err));
	assert_int_equal(
	    hg_ratelimit_key(&rule, NULL, (const uint8_t *)"{\"user\":42}", 11, NULL, NULL, &key),
	    HG_OK);
	assert_string_equal(key, "42");
	free(key);
	hg_jsonpath_free(rule.path);
}

/* form:NAME: the first non-empty value of the field, decoded; only in a
 * body sent as a form. */
static void test_form_keys(void **state)
{
	static const char form[] = "From=&To=%2B15550009&From=%2B1555+0001&From=%2B15550002";
	static const char json[] = "{\"From\":\"+15550001\"}";
	const char *form_ct[] = {"Content-Type", "application/x-www-form-urlencoded", NULL};
	const char *form_ct_charset[] = {"content-type",
					 "application/x-www-form-urlencoded;charset=UTF-8", NULL};
	const char *json_ct[] = {"Content-Type", "application/json", NULL};
	const char *none[] = {NULL};
	struct hg_rate_limit rule = {.form = "From"};
	char *key = NULL;

	(void)state;
	assert_int_equal(hg_ratelimit_key(&rule, "192.0.2.7", (const uint8_t *)form, strlen(form),
					  get_header, form_ct, &key),
			 HG_OK);
	assert_string_equal(key, "+1555 0001"); /* the empty first one is skipped */
	free(key);
	assert_int_equal(hg_ratelimit_key(&rule, NULL, (const uint8_t *)form, strlen(form),
					  get_header, form_ct_charset, &key),
			 HG_OK);
	assert_string_equal(key, "+1555 0001");
	free(key);

	/* The same field asked of a JSON body, of a form without the field,
	 * of a form not labelled as one, of no body: nothing, not limited. */
	assert_int_equal(hg_ratelimit_key(&rule, NULL, (const uint8_t *)json, strlen(json),
					  get_header, json_ct, &key),
			 HG_OK);
	assert_null(key);
	assert_int_equal(hg_ratelimit_key(&rule, NULL, (const uint8_t *)json, strlen(json),
					  get_header, form_ct, &key),
			 HG_OK);
	assert_null(key);
	assert_int_equal(hg_ratelimit_key(&rule, NULL, (const uint8_t *)form, strlen(form),
					  get_header, none, &key),
			 HG_OK);
	assert_null(key);
	assert_int_equal(
	    hg_ratelimit_key(&rule, NULL, (const uint8_t *)form, strlen(form), NULL, NULL, &key),
	    HG_OK);
	assert_null(key);
	assert_int_equal(hg_ratelimit_key(&rule, NULL, NULL, 0, get_header, form_ct, &key), HG_OK);
	assert_null(key);
	rule.form = "Missing";
	assert_int_equal(hg_ratelimit_key(&rule, NULL, (const uint8_t *)form, strlen(form),
					  get_header, form_ct, &key),
			 HG_OK);
	assert_null(key);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_limit_is_exact),
	    cmocka_unit_test(test_window_roll_over),
	    cmocka_unit_test(test_retry_after),
	    cmocka_unit_test(test_memory_is_bounded),
	    cmocka_unit_test(test_sources_are_independent),
	    cmocka_unit_test(test_concurrent_hits_never_exceed),
	    cmocka_unit_test(test_keys),
	    cmocka_unit_test(test_form_keys),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
