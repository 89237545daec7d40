/*
 * test_ingest.c — the group-commit writer against a real SQLite file
 * (concurrent submitters, exactly-once completion, dedupe through the
 * queue, 503-then-recovery when the database disappears) and dedupe-key
 * extraction from headers, JSON paths and the SHA-256 fallback.
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
#include <time.h>
#include <unistd.h>

#include "config/config.h"
#include "fixture.h"
#include "ingest/ingest.h"
#include "util/jsonpath.h"

/* ---------------------------------------------------------------- writer */

struct fixture {
	char dir[64];
	char uri[160];
	struct hg_ingest *ing;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	char err[256];

	assert_non_null(f);
	hg_test_tmpdir(f->dir, sizeof(f->dir), "hg-ingest");
	snprintf(f->uri, sizeof(f->uri), "sqlite:%s/db/hookgate.db", f->dir);
	assert_int_equal(hg_ingest_start(f->uri, &f->ing, err, sizeof(err)), HG_OK);
	assert_true(hg_ingest_healthy(f->ing));
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	hg_ingest_stop(f->ing);
	hg_test_rm_rf(f->dir);
	free(f);
	return 0;
}

/* One submitted request, as a handler would keep it until done(). */
struct req {
	struct hg_ingest_item it;
	char key[64];
	const char *keys[1];
	char body[64];
	atomic_int done_calls;
	atomic_int *finished; /* shared counter of completed requests */
};

static void on_done(struct hg_ingest_item *it)
{
	struct req *r = it->user;

	atomic_fetch_add(&r->done_calls, 1);
	atomic_fetch_add(r->finished, 1);
}

static void req_init(struct req *r, const char *key, atomic_int *finished)
{
	memset(r, 0, sizeof(*r));
	snprintf(r->key, sizeof(r->key), "%s", key);
	snprintf(r->body, sizeof(r->body), "{\"id\":\"%s\"}", key);
	r->keys[0] = r->key;
	hg_uuid7(r->it.msg.id);
	r->it.msg.source = "test";
	r->it.msg.received_ms = hg_now_ms();
	r->it.msg.content_type = "application/json";
	r->it.msg.body = (const uint8_t *)r->body;
	r->it.msg.body_len = strlen(r->body);
	r->it.msg.dedupe_keys = r->keys;
	r->it.msg.n_dedupe_keys = 1;
	r->it.status = 12345; /* must be overwritten */
	r->it.done = on_done;
	r->it.user = r;
	atomic_init(&r->done_calls, 0);
	r->finished = finished;
}

/* Waits (up to 10 s) until *counter reaches want. */
static void wait_for(atomic_int *counter, int want)
{
	int i;

	for (i = 0; i < 10000 && atomic_load(counter) < want; i++)
		usleep(1000);
	assert_int_equal(atomic_load(counter), want);
}

#define N_THREADS  4
#define PER_THREAD 50

struct submitter {
	struct hg_ingest *ing;
	struct req *reqs;
};

static void *submit_all(void *arg)
{
	struct submitter *s = arg;
	int i;

	for (i = 0; i < PER_THREAD; i++) {
		hg_ingest_submit(s->ing, &s->reqs[i].it);
		if (i % 7 == 0)
			usleep(100); /* spread over several batches */
	}
	return NULL;
}

static void test_writer_concurrent_submitters(void **state)
{
	struct fixture *f = *state;
	struct req *reqs = calloc(N_THREADS * PER_THREAD, sizeof(*reqs));
	struct submitter subs[N_THREADS];
	pthread_t th[N_THREADS];
	struct hg_store *st = NULL;
	struct hg_store_row row;
	atomic_int finished;
	int64_t n = 0;
	char key[32], err[256];
	int i;

	assert_non_null(reqs);
	atomic_init(&finished, 0);
	for (i = 0; i < N_THREADS * PER_THREAD; i++) {
		snprintf(key, sizeof(key), "k%d", i);
		req_init(&reqs[i], key, &finished);
	}
	for (i = 0; i < N_THREADS; i++) {
		subs[i].ing = f->ing;
		subs[i].reqs = reqs + i * PER_THREAD;
		assert_int_equal(pthread_create(&th[i], NULL, submit_all, &subs[i]), 0);
	}
	for (i = 0; i < N_THREADS; i++)
		assert_int_equal(pthread_join(th[i], NULL), 0);
	/* Completion comes from the writer, before any stop. */
	wait_for(&finished, N_THREADS * PER_THREAD);
	assert_true(hg_ingest_healthy(f->ing));

	/* A separate connection sees every message: done() came after commit. */
	assert_int_equal(hg_store_open(f->uri, &st, err, sizeof(err)), HG_OK);
	assert_int_equal(hg_store_count_messages(st, "test", &n), HG_OK);
	assert_int_equal(n, N_THREADS * PER_THREAD);
	for (i = 0; i < N_THREADS * PER_THREAD; i++) {
		assert_int_equal(atomic_load(&reqs[i].done_calls), 1);
		assert_int_equal(reqs[i].it.status, HG_OK);
		assert_int_equal(reqs[i].it.msg.outcome, HG_STORE_ACCEPTED);
		assert_string_equal(reqs[i].it.msg.first_id, reqs[i].it.msg.id);
		assert_int_equal(hg_store_get_message(st, reqs[i].it.msg.id, &row), HG_OK);
		assert_memory_equal(row.body, reqs[i].body, row.body_len);
		hg_store_row_free(&row);
	}
	hg_store_close(st);

	/* Stopping afterwards calls nothing twice. */
	hg_ingest_stop(f->ing);
	f->ing = NULL;
	for (i = 0; i < N_THREADS * PER_THREAD; i++)
		assert_int_equal(atomic_load(&reqs[i].done_calls), 1);
	free(reqs);
}

/* Items queued right before stop are still written and completed. */
static void test_writer_stop_drains(void **state)
{
	struct fixture *f = *state;
	struct req reqs[20];
	atomic_int finished;
	char key[32];
	int i;

	atomic_init(&finished, 0);
	for (i = 0; i < 20; i++) {
		snprintf(key, sizeof(key), "drain%d", i);
		req_init(&reqs[i], key, &finished);
		hg_ingest_submit(f->ing, &reqs[i].it);
	}
	hg_ingest_stop(f->ing);
	f->ing = NULL;
	assert_int_equal(atomic_load(&finished), 20);
	for (i = 0; i < 20; i++) {
		assert_int_equal(atomic_load(&reqs[i].done_calls), 1);
		assert_int_equal(reqs[i].it.status, HG_OK);
	}
}

static void test_writer_dedupes(void **state)
{
	struct fixture *f = *state;
	struct req reqs[10];
	atomic_int finished;
	int i, accepted = 0;
	const char *first = NULL;

	atomic_init(&finished, 0);
	for (i = 0; i < 10; i++) {
		req_init(&reqs[i], "wamid.same", &finished);
		hg_ingest_submit(f->ing, &reqs[i].it);
	}
	wait_for(&finished, 10);
	for (i = 0; i < 10; i++) {
		assert_int_equal(reqs[i].it.status, HG_OK);
		if (reqs[i].it.msg.outcome == HG_STORE_ACCEPTED) {
			accepted++;
			first = reqs[i].it.msg.id;
		}
	}
	assert_int_equal(accepted, 1);
	for (i = 0; i < 10; i++)
		assert_string_equal(reqs[i].it.msg.first_id, first);
}

/* The database directory vanishes: requests get HG_EIO (503), the writer
 * reports unhealthy, reopens the store and accepts again. */
static void test_writer_fails_then_recovers(void **state)
{
	struct fixture *f = *state;
	struct req a, b, c;
	atomic_int finished;

	atomic_init(&finished, 0);
	req_init(&a, "a", &finished);
	hg_ingest_submit(f->ing, &a.it);
	wait_for(&finished, 1);
	assert_int_equal(a.it.status, HG_OK);

	hg_test_rm_rf(f->dir);
	req_init(&b, "b", &finished);
	hg_ingest_submit(f->ing, &b.it);
	wait_for(&finished, 2);
	assert_int_equal(b.it.status, HG_EIO);
	assert_int_equal(b.it.msg.outcome, 0);
	assert_false(hg_ingest_healthy(f->ing));

	/* The writer reopened a fresh database after the failed ping. */
	req_init(&c, "c", &finished);
	hg_ingest_submit(f->ing, &c.it);
	wait_for(&finished, 3);
	assert_int_equal(c.it.status, HG_OK);
	assert_int_equal(c.it.msg.outcome, HG_STORE_ACCEPTED);
	assert_true(hg_ingest_healthy(f->ing));
}

/* Idle and unhealthy, the writer re-checks the store by itself. */
static void test_writer_recovers_while_idle(void **state)
{
	struct fixture *f = *state;
	struct req b;
	atomic_int finished;
	int i;

	atomic_init(&finished, 0);
	hg_test_rm_rf(f->dir);
	req_init(&b, "b", &finished);
	hg_ingest_submit(f->ing, &b.it);
	wait_for(&finished, 1);
	assert_int_equal(b.it.status, HG_EIO);
	for (i = 0; i < 50 && !hg_ingest_healthy(f->ing); i++)
		usleep(100 * 1000);
	assert_true(hg_ingest_healthy(f->ing));
}

static void count_hook(void *arg)
{
	atomic_fetch_add((atomic_int *)arg, 1);
}

/* The commit hook runs for a commit that created deliveries, before the
 * items are answered, and not for one without any or for a duplicate. */
static void test_writer_commit_hook(void **state)
{
	struct fixture *f = *state;
	struct hg_store_target t = {.endpoint = "orders", .due_ms = hg_now_ms()};
	atomic_int finished, hooked;
	struct req r[3];

	atomic_init(&finished, 0);
	atomic_init(&hooked, 0);
	hg_ingest_set_commit_hook(f->ing, count_hook, &hooked);
	req_init(&r[0], "no-routes", &finished);
	hg_ingest_submit(f->ing, &r[0].it);
	wait_for(&finished, 1);
	assert_int_equal(atomic_load(&hooked), 0);

	req_init(&r[1], "routed", &finished);
	r[1].it.msg.targets = &t;
	r[1].it.msg.n_targets = 1;
	hg_ingest_submit(f->ing, &r[1].it);
	wait_for(&finished, 2);
	assert_int_equal(atomic_load(&hooked), 1);

	req_init(&r[2], "routed", &finished); /* a duplicate: no new deliveries */
	r[2].it.msg.targets = &t;
	r[2].it.msg.n_targets = 1;
	hg_ingest_submit(f->ing, &r[2].it);
	wait_for(&finished, 3);
	assert_int_equal(r[2].it.msg.outcome, HG_STORE_DUPLICATE);
	assert_int_equal(atomic_load(&hooked), 1);

	/* removed: not called again */
	hg_ingest_set_commit_hook(f->ing, NULL, NULL);
	req_init(&r[0], "routed-again", &finished);
	r[0].it.msg.targets = &t;
	r[0].it.msg.n_targets = 1;
	hg_ingest_submit(f->ing, &r[0].it);
	wait_for(&finished, 4);
	assert_int_equal(atomic_load(&hooked), 1);
}

static void test_writer_start_fails_cleanly(void **state)
{
	struct hg_ingest *ing = (struct hg_ingest *)1;
	char err[256];

	(void)state;
	assert_int_equal(hg_ingest_start("mysql://db/hg", &ing, err, sizeof(err)), HG_EINVAL);
	assert_null(ing);
	assert_true(strlen(err) > 0);
}

/* ---------------------------------------------------------- dedupe keys */

struct hdrs {
	const char *names[4];
	const char *values[4];
};

static const char *get_header(void *ctx, const char *name, size_t *len)
{
	struct hdrs *h = ctx;
	int i;

	for (i = 0; i < 4 && h->names[i] != NULL; i++) {
		if (strcasecmp(h->names[i], name) == 0) {
			*len = strlen(h->values[i]);
			return h->values[i];
		}
	}
	return NULL;
}

/* A source with the given rules; "header:NAME" makes a header rule,
 * "form:NAME" a form-field rule, the
 * rest are compiled as JSON paths. */
static void source_init(struct hg_source *src, struct hg_dedupe_rule *rules, const char **exprs,
			size_t n)
{
	char err[128];
	size_t i;

	memset(src, 0, sizeof(*src));
	src->name = "test";
	for (i = 0; i < n; i++) {
		memset(&rules[i], 0, sizeof(rules[i]));
		rules[i].expr = (char *)exprs[i];
		if (strncmp(exprs[i], "header:", 7) == 0) {
			rules[i].header = (char *)exprs[i] + 7;
		} else if (strncmp(exprs[i], "form:", 5) == 0) {
			rules[i].form = (char *)exprs[i] + 5;
		} else {
			rules[i].path = hg_jsonpath_compile(exprs[i], err, sizeof(err));
			assert_non_null(rules[i].path);
		}
	}
	src->dedupe = rules;
	src->n_dedupe = n;
}

static void source_free(struct hg_source *src)
{
	size_t i;

	for (i = 0; i < src->n_dedupe; i++)
		hg_jsonpath_free(src->dedupe[i].path);
}

static void test_keys_header_rule(void **state)
{
	const char *exprs[] = {"header:X-GitHub-Delivery"};
	struct hdrs h = {{"Content-Type", "x-github-delivery"}, {"application/json", "72d3162e"}};
	struct hg_dedupe_rule rules[1];
	struct hg_source src;
	char **keys = NULL;
	size_t n = 0;

	(void)state;
	source_init(&src, rules, exprs, 1);
	assert_int_equal(
	    hg_ingest_dedupe_keys(&src, (const uint8_t *)"not json", 8, get_header, &h, &keys, &n),
	    HG_OK);
	assert_int_equal(n, 1);
	assert_string_equal(keys[0], "header:X-GitHub-Delivery=72d3162e");
	hg_ingest_keys_free(keys, n);

	/* Header absent: falls back to the body hash. */
	h.names[1] = NULL;
	assert_int_equal(
	    hg_ingest_dedupe_keys(&src, (const uint8_t *)"abc", 3, get_header, &h, &keys, &n),
	    HG_OK);
	assert_int_equal(n, 1);
	assert_string_equal(
	    keys[0], "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	hg_ingest_keys_free(keys, n);
	source_free(&src);
}

static void test_keys_whatsapp_batch(void **state)
{
	const char *exprs[] = {"$.entry[*].changes[*].value.messages[*].id",
			       "$.entry[*].changes[*].value.statuses[*].id"};
	static const char body[] =
	    "{\"object\":\"whatsapp_business_account\",\"entry\":[{\"id\":\"1029\",\"changes\":["
	    "{\"field\":\"messages\",\"value\":{\"messaging_product\":\"whatsapp\","
	    "\"messages\":[{\"from\":\"15551234567\",\"id\":\"wamid.A\",\"type\":\"text\"},"
	    "{\"from\":\"15551234567\",\"id\":\"wamid.B\",\"type\":\"text\"}]}},"
	    "{\"field\":\"messages\",\"value\":{\"statuses\":[{\"id\":\"wamid.S1\","
	    "\"status\":\"delivered\"},{\"id\":null},{\"id\":\"\"}]}}]}]}";
	struct hg_dedupe_rule rules[2];
	struct hg_source src;
	char **keys = NULL;
	size_t n = 0;

	(void)state;
	source_init(&src, rules, exprs, 2);
	assert_int_equal(
	    hg_ingest_dedupe_keys(&src, (const uint8_t *)body, strlen(body), NULL, NULL, &keys, &n),
	    HG_OK);
	/* null and "" ids identify nothing and are skipped. */
	assert_int_equal(n, 3);
	assert_string_equal(keys[0], "$.entry[*].changes[*].value.messages[*].id=wamid.A");
	assert_string_equal(keys[1], "$.entry[*].changes[*].value.messages[*].id=wamid.B");
	assert_string_equal(keys[2], "$.entry[*].changes[*].value.statuses[*].id=wamid.S1");
	hg_ingest_keys_free(keys, n);
	source_free(&src);
}

/* One request, one parse: the rate-limit key and the dedupe keys are read
 * from the body view's tree, which is made once and then shared. To show
 * that they use it rather than parsing again, the tree is made first and
 * then swapped for one that says something else than the body. */
static void test_one_parse_per_request(void **state)
{
	const char *exprs[] = {"$.id"};
	static const char body[] = "{\"id\":\"from-the-body\",\"from\":\"155500\"}";
	struct hg_dedupe_rule rules[1];
	struct hg_source src;
	struct hg_rate_limit rule = {0};
	struct hg_json_body jb;
	char err[128], **keys = NULL, *key = NULL;
	size_t n = 0;
	json_t *first;

	(void)state;
	source_init(&src, rules, exprs, 1);
	rule.path = hg_jsonpath_compile("$.from", err, sizeof(err));
	assert_non_null(rule.path);
	hg_json_body_init(&jb, (const uint8_t *)body, strlen(body));
	first = hg_json_body_root(&jb);
	assert_non_null(first);
	assert_ptr_equal(hg_json_body_root(&jb), first); /* parsed once */

	json_decref(jb.root);
	jb.root = json_pack("{s:s, s:s}", "id", "from-the-tree", "from", "1999");
	assert_int_equal(hg_ratelimit_key_of(&rule, NULL, &jb, NULL, NULL, &key), HG_OK);
	assert_string_equal(key, "1999");
	free(key);
	assert_int_equal(hg_ingest_dedupe_keys_of(&src, &jb, NULL, NULL, &keys, &n), HG_OK);
	assert_int_equal(n, 1);
	assert_string_equal(keys[0], "$.id=from-the-tree");
	hg_ingest_keys_free(keys, n);
	hg_json_body_release(&jb);
	assert_null(jb.root);

	/* Before anything parsed it, the dedupe keys come from the streaming
	 * scan of the bytes, and no tree is made for them. */
	hg_json_body_init(&jb, (const uint8_t *)body, strlen(body));
	assert_int_equal(hg_ingest_dedupe_keys_of(&src, &jb, NULL, NULL, &keys, &n), HG_OK);
	assert_string_equal(keys[0], "$.id=from-the-body");
	assert_false(jb.parsed);
	hg_ingest_keys_free(keys, n);
	hg_json_body_release(&jb);
	hg_jsonpath_free(rule.path);
	source_free(&src);
}

static void test_keys_json_scalars(void **state)
{
	const char *exprs[] = {"$.id", "$.n"};
	static const char body[] = "{\"id\":\"evt_1\",\"n\":42}";
	struct hg_dedupe_rule rules[2];
	struct hg_source src;
	char **keys = NULL;
	size_t n = 0;

	(void)state;
	source_init(&src, rules, exprs, 2);
	assert_int_equal(
	    hg_ingest_dedupe_keys(&src, (const uint8_t *)body, strlen(body), NULL, NULL, &keys, &n),
	    HG_OK);
	assert_int_equal(n, 2);
	assert_string_equal(keys[0], "$.id=evt_1");
	assert_string_equal(keys[1], "$.n=42");
	hg_ingest_keys_free(keys, n);
	source_free(&src);
}

static void test_keys_non_json_falls_back(void **state)
{
	const char *exprs[] = {"$.id"};
	struct hg_dedupe_rule rules[1];
	struct hg_source src;
	char **keys = NULL;
	size_t n = 0;

	(void)state;
	source_init(&src, rules, exprs, 1);
	assert_int_equal(
	    hg_ingest_dedupe_keys(&src, (const uint8_t *)"abc", 3, NULL, NULL, &keys, &n), HG_OK);
	assert_int_equal(n, 1);
	assert_string_equal(
	    keys[0], "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	hg_ingest_keys_free(keys, n);

	/* JSON, but the path selects nothing. */
	assert_int_equal(hg_ingest_dedupe_keys(&src, (const uint8_t *)"{\"other\":1}", 11, NULL,
					       NULL, &keys, &n),
			 HG_OK);
	assert_int_equal(n, 1);
	assert_int_equal(strncmp(keys[0], "sha256:", 7), 0);
	assert_int_equal(strlen(keys[0]), 7 + 64);
	hg_ingest_keys_free(keys, n);
	source_free(&src);
}

/* A body that is not JSON selects nothing, however much of it looks like
 * JSON: {"id":"X"} followed by a stray quote, with a form feed or with
 * overlong UTF-8 gets the body hash, never the key {"id":"X"} would get. */
static void test_keys_almost_json_falls_back(void **state)
{
	static const char *const bodies[] = {"{\"id\":\"X\"} \"", "{\"id\":\"X\"}\f",
					     "{\f\"id\":\"X\"}", "{\"id\":\"X\"}\v\"tail",
					     "{\"id\":\"X\xc0\x80\"}"};
	const char *exprs[] = {"$.id"};
	struct hg_dedupe_rule rules[1];
	struct hg_source src;
	char **keys = NULL;
	size_t i, n = 0;

	(void)state;
	source_init(&src, rules, exprs, 1);
	for (i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
		assert_int_equal(hg_ingest_dedupe_keys(&src, (const uint8_t *)bodies[i],
						       strlen(bodies[i]), NULL, NULL, &keys, &n),
				 HG_OK);
		assert_int_equal(n, 1);
		assert_int_equal(strncmp(keys[0], "sha256:", 7), 0);
		hg_ingest_keys_free(keys, n);
	}
	source_free(&src);
}

static void test_keys_no_rules(void **state)
{
	struct hg_source src;
	char **keys = NULL;
	size_t n = 0;

	(void)state;
	memset(&src, 0, sizeof(src));
	assert_int_equal(
	    hg_ingest_dedupe_keys(&src, (const uint8_t *)"abc", 3, NULL, NULL, &keys, &n), HG_OK);
	assert_int_equal(n, 1);
	assert_string_equal(
	    keys[0], "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	hg_ingest_keys_free(keys, n);

	assert_int_equal(hg_ingest_dedupe_keys(&src, NULL, 0, NULL, NULL, &keys, &n), HG_OK);
	assert_int_equal(n, 1);
	assert_string_equal(
	    keys[0], "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
	hg_ingest_keys_free(keys, n);
}

/* form:Name: every non-empty value of the field, decoded (names too), named
 * like the other rules; only in a body sent as a form; each value counts
 * toward max_dedupe_keys. */
static void test_keys_form_rule(void **state)
{
	const char *exprs[] = {"form:MessageSid", "form:To"};
	struct hdrs h = {{"Content-Type"}, {"application/x-www-form-urlencoded; charset=utf-8"}};
	static const char twilio[] = "AccountSid=AC1&From=%2B15551230001&Body=Hello+there"
				     "&MessageSid=SM%3Aa+1&To=&Message%53id=SM2&MessageSid=";
	static const char json[] = "{\"a\":\"x&MessageSid=SM9\"}";
	struct hg_dedupe_rule rules[2];
	struct hg_source src;
	char **keys = NULL;
	size_t n = 0;

	(void)state;
	source_init(&src, rules, exprs, 2);
	assert_int_equal(hg_ingest_dedupe_keys(&src, (const uint8_t *)twilio, strlen(twilio),
					       get_header, &h, &keys, &n),
			 HG_OK);
	/* Repeated: every value is a key; the empty one and the empty To
	 * identify nothing. */
	assert_int_equal(n, 2);
	assert_string_equal(keys[0], "form:MessageSid=SM:a 1");
	assert_string_equal(keys[1], "form:MessageSid=SM2");
	hg_ingest_keys_free(keys, n);

	src.max_dedupe_keys = 1;
	assert_int_equal(hg_ingest_dedupe_keys(&src, (const uint8_t *)twilio, strlen(twilio),
					       get_header, &h, &keys, &n),
			 HG_ETOOBIG);
	assert_null(keys);
	src.max_dedupe_keys = 0;

	/* The same text sent as JSON, or with no Content-Type, is not a
	 * form: the body hash stands in. */
	h.values[0] = "application/json";
	assert_int_equal(hg_ingest_dedupe_keys(&src, (const uint8_t *)twilio, strlen(twilio),
					       get_header, &h, &keys, &n),
			 HG_OK);
	assert_int_equal(n, 1);
	assert_true(strncmp(keys[0], "sha256:", 7) == 0);
	hg_ingest_keys_free(keys, n);
	h.names[0] = NULL;
	assert_int_equal(hg_ingest_dedupe_keys(&src, (const uint8_t *)twilio, strlen(twilio),
					       get_header, &h, &keys, &n),
			 HG_OK);
	assert_int_equal(n, 1);
	assert_true(strncmp(keys[0], "sha256:", 7) == 0);
	hg_ingest_keys_free(keys, n);

	/* A JSON body labelled a form yields only what the form reading of
	 * it says: here a name "{\"a\":\"x" and a MessageSid of "SM9\"}". */
	h.names[0] = "content-type";
	h.values[0] = "Application/X-WWW-Form-Urlencoded";
	assert_int_equal(hg_ingest_dedupe_keys(&src, (const uint8_t *)json, strlen(json),
					       get_header, &h, &keys, &n),
			 HG_OK);
	assert_int_equal(n, 1);
	assert_string_equal(keys[0], "form:MessageSid=SM9\"}");
	hg_ingest_keys_free(keys, n);
	/* A look-alike media type is not a form. */
	h.values[0] = "application/x-www-form-urlencodedx";
	assert_int_equal(hg_ingest_dedupe_keys(&src, (const uint8_t *)json, strlen(json),
					       get_header, &h, &keys, &n),
			 HG_OK);
	assert_true(strncmp(keys[0], "sha256:", 7) == 0);
	hg_ingest_keys_free(keys, n);
	source_free(&src);
}

/* max_dedupe_keys: exactly the limit passes, one more is refused with no
 * keys handed out, whichever way the keys are found (streaming pass,
 * jansson, headers). */
static void test_keys_over_the_limit(void **state)
{
	const char *exprs[] = {"$.ids[*]", "header:X-Id"};
	struct hdrs h = {{"x-id", NULL}, {"h1", NULL}};
	struct hg_dedupe_rule rules[2];
	struct hg_source src;
	struct hg_buf body = {0};
	char **keys = NULL;
	size_t n = 0, i;

	(void)state;
	source_init(&src, rules, exprs, 2);
	assert_int_equal(hg_buf_puts(&body, "{\"ids\":["), HG_OK);
	for (i = 0; i < 9; i++)
		assert_int_equal(hg_buf_printf(&body, "%s\"id%zu\"", i ? "," : "", i), HG_OK);
	assert_int_equal(hg_buf_puts(&body, "]}"), HG_OK);

	src.max_dedupe_keys = 10; /* 9 ids + 1 header */
	assert_int_equal(
	    hg_ingest_dedupe_keys(&src, body.data, body.len, get_header, &h, &keys, &n), HG_OK);
	assert_int_equal(n, 10);
	hg_ingest_keys_free(keys, n);

	src.max_dedupe_keys = 9;
	keys = (char **)&n; /* must be reset */
	n = 7;
	assert_int_equal(
	    hg_ingest_dedupe_keys(&src, body.data, body.len, get_header, &h, &keys, &n),
	    HG_ETOOBIG);
	assert_null(keys);
	assert_int_equal(n, 0);

	src.max_dedupe_keys = 8; /* over in the JSON pass itself */
	assert_int_equal(
	    hg_ingest_dedupe_keys(&src, body.data, body.len, get_header, &h, &keys, &n),
	    HG_ETOOBIG);
	assert_null(keys);

	src.max_dedupe_keys = 0; /* no limit */
	assert_int_equal(
	    hg_ingest_dedupe_keys(&src, body.data, body.len, get_header, &h, &keys, &n), HG_OK);
	assert_int_equal(n, 10);
	hg_ingest_keys_free(keys, n);
	hg_buf_free(&body);
	source_free(&src);
}

/* The writer's batch is bounded by its work (dedupe keys, body bytes), not
 * only by its count, and a message over a budget still goes, alone. */
static void test_batch_bounded_by_work(void **state)
{
	enum { N = 700 };
	static struct hg_ingest_item items[N];
	size_t i;

	(void)state;
	assert_int_equal(hg_ingest_batch_len(NULL), 0);
	memset(items, 0, sizeof(items));
	for (i = 0; i < N; i++) {
		items[i].next = i + 1 < N ? &items[i + 1] : NULL;
		items[i].msg.n_dedupe_keys = 1;
		items[i].msg.body_len = 1024;
	}
	/* small messages: the count bounds it */
	assert_int_equal(hg_ingest_batch_len(&items[0]), HG_INGEST_MAX_BATCH);
	assert_int_equal(hg_ingest_batch_len(&items[N - 3]), 3);

	/* 1000 keys each: four fit in the key budget, the fifth starts the next */
	for (i = 0; i < 10; i++)
		items[i].msg.n_dedupe_keys = 1000;
	assert_int_equal(hg_ingest_batch_len(&items[0]), HG_INGEST_MAX_BATCH_KEYS / 1000);
	assert_int_equal(hg_ingest_batch_len(&items[6]), 4 + (HG_INGEST_MAX_BATCH_KEYS - 4000));

	/* one message with 100 000 keys goes alone, and holds nothing else up
	 * in its batch: the next batch starts right after it */
	items[20].msg.n_dedupe_keys = 100000;
	assert_int_equal(hg_ingest_batch_len(&items[20]), 1);
	assert_int_equal(hg_ingest_batch_len(&items[19]), 1);
	assert_int_equal(hg_ingest_batch_len(&items[21]), HG_INGEST_MAX_BATCH);

	/* bytes: bodies of 6 MiB, two fit in 16 MiB */
	for (i = 600; i < 610; i++)
		items[i].msg.body_len = (size_t)6 << 20;
	assert_int_equal(hg_ingest_batch_len(&items[600]),
			 HG_INGEST_MAX_BATCH_BYTES / ((size_t)6 << 20));
	items[650].msg.body_len = HG_INGEST_MAX_BATCH_BYTES + 1;
	assert_int_equal(hg_ingest_batch_len(&items[650]), 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_writer_concurrent_submitters, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_writer_stop_drains, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_writer_dedupes, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_writer_fails_then_recovers, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_writer_recovers_while_idle, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_writer_commit_hook, setup, teardown),
	    cmocka_unit_test(test_writer_start_fails_cleanly),
	    cmocka_unit_test(test_keys_header_rule),
	    cmocka_unit_test(test_keys_form_rule),
	    cmocka_unit_test(test_keys_whatsapp_batch),
	    cmocka_unit_test(test_keys_json_scalars),
	    cmocka_unit_test(test_one_parse_per_request),
	    cmocka_unit_test(test_keys_non_json_falls_back),
	    cmocka_unit_test(test_keys_almost_json_falls_back),
	    cmocka_unit_test(test_keys_no_rules),
	    cmocka_unit_test(test_keys_over_the_limit),
	    cmocka_unit_test(test_batch_bounded_by_work),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
