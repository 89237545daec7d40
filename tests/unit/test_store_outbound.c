/*
 * test_store_outbound.c — unit tests for the store's API keys and outbound
 * subscriptions (store.h; SQLite in sqlite_outbound.c): owner scoping,
 * patches, secrets with a grace period, deletion dead-lettering what still
 * waits, the delivery history page, prefix claims of "sub:*", and the
 * health rules (a 410 and disable_after switch a subscription off).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "fixture.h"
#include "store/store.h"
#include "util/util.h"

static const char sec1[] = "a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f90";
static const char sec2[] = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";

static int setup(void **state)
{
	struct hg_store *st = NULL;
	char err[256];

	if (hg_store_open("sqlite::memory:", &st, err, sizeof(err)) != HG_OK)
		fail_msg("open: %s", err);
	*state = st;
	return 0;
}

static int teardown(void **state)
{
	hg_store_close(*state);
	return 0;
}

static void make_sub(struct hg_store *st, const char *owner, const char *url, char *id_out)
{
	struct hg_store_sub s;

	memset(&s, 0, sizeof(s));
	hg_uuid7(s.id);
	hg_strlcpy(s.owner_id, owner, sizeof(s.owner_id));
	s.url = (char *)url;
	s.events_json = (char *)"[\"clip.*\"]";
	s.is_active = 1;
	hg_strlcpy(s.secret, sec1, sizeof(s.secret));
	s.created_ms = s.updated_ms = 1000;
	assert_int_equal(hg_store_sub_create(st, &s), HG_OK);
	memcpy(id_out, s.id, HG_UUID_LEN + 1);
}

/* Publishes one outbound message with a delivery to subscription id. */
static void publish(struct hg_store *st, const char *id, int64_t now)
{
	struct hg_store_msg m = {0};
	struct hg_store_msg *mp = &m;
	struct hg_store_target t;
	char name[HG_STORE_NAME_MAX + 1], key[64];
	const char *keys[1] = {key};

	snprintf(name, sizeof(name), HG_STORE_SUB_PREFIX "%s", id);
	t.endpoint = name;
	t.due_ms = now;
	hg_uuid7(m.id);
	snprintf(key, sizeof(key), "id:%s", m.id);
	m.source = HG_STORE_OUTBOUND_SOURCE;
	m.received_ms = now;
	m.content_type = "application/json";
	m.headers_json = "{\"X-Webhook-Event\":\"clip.submitted\"}";
	m.body = (const uint8_t *)"{}";
	m.body_len = 2;
	m.dedupe_keys = keys;
	m.n_dedupe_keys = 1;
	m.targets = &t;
	m.n_targets = 1;
	assert_int_equal(hg_store_put_messages(st, &mp, 1), HG_OK);
	assert_int_equal(m.outcome, HG_STORE_ACCEPTED);
}

static void test_api_keys(void **state)
{
	struct hg_store *st = *state;
	struct hg_store_api_key k = {.role = HG_STORE_ROLE_PUBLISHER, .created_ms = 5}, got;

	hg_uuid7(k.id);
	memset(k.token_hash, 'a', HG_STORE_TOKEN_HASH_LEN);
	hg_strlcpy(k.owner_id, "owner-1", sizeof(k.owner_id));
	assert_int_equal(hg_store_api_key_put(st, &k), HG_OK);
	assert_int_equal(hg_store_api_key_find(st, k.token_hash, &got), HG_OK);
	assert_string_equal(got.owner_id, "owner-1");
	assert_int_equal(got.role, HG_STORE_ROLE_PUBLISHER);
	assert_int_equal(hg_store_api_key_find(st, "nope", &got), HG_ENOTFOUND);
}

static int count_one(const struct hg_store_sub *s, void *arg)
{
	(void)s;
	(*(int *)arg)++;
	return 0;
}

static void test_sub_crud_and_scope(void **state)
{
	struct hg_store *st = *state;
	struct hg_store_sub_patch p = {.is_active = -1, .now_ms = 2000};
	struct hg_store_sub s;
	char a[HG_UUID_LEN + 1], b[HG_UUID_LEN + 1];
	int n = 0;

	make_sub(st, "alice", "https://a.example/h", a);
	make_sub(st, "bob", "https://b.example/h", b);
	assert_int_equal(hg_store_sub_get(st, a, "alice", &s), HG_OK);
	assert_string_equal(s.url, "https://a.example/h");
	assert_string_equal(s.secret, sec1);
	assert_string_equal(s.old_secret, "");
	assert_int_equal(s.last_delivery_ms, 0);
	hg_store_sub_free(&s);
	/* another owner sees nothing; the admin (NULL) everything */
	assert_int_equal(hg_store_sub_get(st, a, "bob", &s), HG_ENOTFOUND);
	assert_int_equal(hg_store_sub_get(st, a, NULL, &s), HG_OK);
	hg_store_sub_free(&s);
	assert_int_equal(hg_store_sub_each(st, "alice", 0, count_one, &n), HG_OK);
	assert_int_equal(n, 1);
	n = 0;
	assert_int_equal(hg_store_sub_each(st, NULL, 0, count_one, &n), HG_OK);
	assert_int_equal(n, 2);

	p.url = "https://a2.example/h";
	p.is_active = 0;
	p.set_description = 1;
	p.description = "note";
	assert_int_equal(hg_store_sub_update(st, a, "bob", &p), HG_ENOTFOUND);
	assert_int_equal(hg_store_sub_update(st, a, "alice", &p), HG_OK);
	assert_int_equal(hg_store_sub_get(st, a, "alice", &s), HG_OK);
	assert_string_equal(s.url, "https://a2.example/h");
	assert_string_equal(s.description, "note");
	assert_false(s.is_active);
	assert_int_equal(s.updated_ms, 2000);
	hg_store_sub_free(&s);
	n = 0;
	assert_int_equal(hg_store_sub_each(st, "alice", 1, count_one, &n), HG_OK);
	assert_int_equal(n, 0);

	/* a grace period keeps the old secret */
	assert_int_equal(hg_store_sub_set_secret(st, a, "alice", sec2, sec1, 9000, 3000), HG_OK);
	assert_int_equal(hg_store_sub_get(st, a, NULL, &s), HG_OK);
	assert_string_equal(s.secret, sec2);
	assert_string_equal(s.old_secret, sec1);
	assert_int_equal(s.old_secret_until_ms, 9000);
	hg_store_sub_free(&s);
	assert_int_equal(hg_store_sub_set_secret(st, a, "alice", sec1, NULL, 0, 3000), HG_OK);
	assert_int_equal(hg_store_sub_get(st, a, NULL, &s), HG_OK);
	assert_string_equal(s.old_secret, "");
	hg_store_sub_free(&s);

	assert_int_equal(hg_store_sub_delete(st, a, "bob", 4000), HG_ENOTFOUND);
	assert_int_equal(hg_store_sub_delete(st, a, "alice", 4000), HG_OK);
	assert_int_equal(hg_store_sub_delete(st, a, "alice", 4000), HG_ENOTFOUND);
}

struct page {
	int n;
	char first[HG_UUID_LEN + 1];
	int status;
	char event[64];
};

static int page_row(const struct hg_store_sub_delivery *d, void *arg)
{
	struct page *p = arg;

	if (p->n++ == 0) {
		hg_strlcpy(p->first, d->id, sizeof(p->first));
		hg_strlcpy(p->event, d->event_type, sizeof(p->event));
		p->status = d->status;
	}
	return 0;
}

static void test_claim_history_delete(void **state)
{
	struct hg_store *st = *state;
	struct hg_store_claim_req req = {
	    .endpoint = HG_STORE_SUB_PREFIX "*", .limit = 10, .lease_until_ms = 100000};
	struct hg_store_claimed got[10];
	struct page pg = {0};
	char a[HG_UUID_LEN + 1], b[HG_UUID_LEN + 1];
	int64_t total = 0, due = 0;
	size_t n = 0;

	make_sub(st, "alice", "https://a.example/h", a);
	make_sub(st, "alice", "https://b.example/h", b);
	publish(st, a, 1000);
	publish(st, a, 1000);
	publish(st, b, 1000);
	assert_int_equal(hg_store_next_due(st, HG_STORE_SUB_PREFIX "*", &due), HG_OK);
	assert_int_equal(due, 1000);
	/* an exact name is not a prefix */
	assert_int_equal(hg_store_next_due(st, "sub:", &due), HG_ENOTFOUND);
	assert_int_equal(hg_store_sub_deliveries(st, a, 0, 1, page_row, &pg, &total), HG_OK);
	assert_int_equal(total, 2);
	assert_int_equal(pg.n, 1);
	assert_string_equal(pg.event, "clip.submitted");
	assert_int_equal(pg.status, HG_DELIVERY_PENDING);

	/* one prefix claim takes both subscriptions' deliveries, naming each */
	req.limit = 1;
	assert_int_equal(hg_store_claim_deliveries(st, "me", 2000, &req, 1, got, &n), HG_OK);
	assert_int_equal(n, 1);
	assert_int_equal(strncmp(got[0].endpoint, HG_STORE_SUB_PREFIX, 4), 0);
	req.limit = 10;
	assert_int_equal(hg_store_claim_deliveries(st, "me", 2000, &req, 1, got, &n), HG_OK);
	assert_int_equal(n, 2);

	/* deleting a dead-letters what still waits for it: the delivery
	 * published after the claims (the claimed ones are in flight) */
	publish(st, a, 3000);
	assert_int_equal(hg_store_sub_delete(st, a, NULL, 4000), HG_OK);
	memset(&pg, 0, sizeof(pg));
	assert_int_equal(hg_store_sub_deliveries(st, a, 0, 10, page_row, &pg, &total), HG_OK);
	assert_int_equal(total, 3);
	assert_int_equal(pg.status, HG_DELIVERY_DEAD); /* newest first: the one just published */
}

static void test_health(void **state)
{
	struct hg_store *st = *state;
	struct hg_store_sub s;
	char a[HG_UUID_LEN + 1], b[HG_UUID_LEN + 1];
	int off = -1;

	make_sub(st, "alice", "https://a.example/h", a);
	/* failing since 10000; at 10000 + disable_after it goes off */
	assert_int_equal(hg_store_sub_outcome(st, a, 0, 0, 10000, 5000, "failing", &off), HG_OK);
	assert_int_equal(off, 0);
	assert_int_equal(hg_store_sub_outcome(st, a, 0, 0, 14999, 5000, "failing", &off), HG_OK);
	assert_int_equal(off, 0);
	/* a success clears the streak */
	assert_int_equal(hg_store_sub_outcome(st, a, 1, 0, 14999, 5000, NULL, &off), HG_OK);
	assert_int_equal(hg_store_sub_get(st, a, NULL, &s), HG_OK);
	assert_int_equal(s.last_delivery_ms, 14999);
	assert_int_equal(s.failing_since_ms, 0);
	hg_store_sub_free(&s);
	assert_int_equal(hg_store_sub_outcome(st, a, 0, 0, 20000, 5000, "failing", &off), HG_OK);
	assert_int_equal(hg_store_sub_outcome(st, a, 0, 0, 25000, 5000, "failing", &off), HG_OK);
	assert_int_equal(off, 1);
	assert_int_equal(hg_store_sub_get(st, a, NULL, &s), HG_OK);
	assert_false(s.is_active);
	assert_string_equal(s.disabled_reason, "failing");
	hg_store_sub_free(&s);
	/* switching it on again clears the reason and the streak */
	{
		struct hg_store_sub_patch p = {.is_active = 1, .now_ms = 26000};

		assert_int_equal(hg_store_sub_update(st, a, NULL, &p), HG_OK);
		assert_int_equal(hg_store_sub_get(st, a, NULL, &s), HG_OK);
		assert_true(s.is_active);
		assert_null(s.disabled_reason);
		assert_int_equal(s.failing_since_ms, 0);
		hg_store_sub_free(&s);
	}
	/* 410: off at once */
	make_sub(st, "alice", "https://b.example/h", b);
	assert_int_equal(hg_store_sub_outcome(st, b, 0, 1, 30000, 0, "gone", &off), HG_OK);
	assert_int_equal(off, 1);
	/* an unknown subscription is fine */
	assert_int_equal(
	    hg_store_sub_outcome(st, "00000000-0000-7000-8000-000000000000", 0, 0, 1, 1, "x", &off),
	    HG_OK);
	assert_int_equal(off, 0);
}

static int file_setup(void **state)
{
	return hg_test_store_setup(state, "hg-outbound", "db/hookgate.db");
}

static int file_teardown(void **state)
{
	return hg_test_store_teardown(state);
}

/* Outbound writes take the backend's one transaction path: into a database
 * whose directory was removed they fail (the moved-file check), rather than
 * land in an unlinked file and be reported stored. */
static void test_writes_refused_when_file_gone(void **state)
{
	struct hg_test_store *f = *state;
	struct hg_store_api_key k = {0};
	struct hg_store_sub s;
	struct hg_store_sub_patch p = {.is_active = 0, .now_ms = 3000};
	char id[HG_UUID_LEN + 1];

	make_sub(f->st, "own", "https://a.example/hook", id);
	hg_test_rm_rf(f->dir);

	memset(&s, 0, sizeof(s));
	hg_uuid7(s.id);
	hg_strlcpy(s.owner_id, "own", sizeof(s.owner_id));
	s.url = (char *)"https://b.example/hook";
	s.events_json = (char *)"[\"clip.*\"]";
	s.is_active = 1;
	hg_strlcpy(s.secret, sec1, sizeof(s.secret));
	assert_int_equal(hg_store_sub_create(f->st, &s), HG_EIO);
	assert_int_equal(hg_store_sub_update(f->st, id, NULL, &p), HG_EIO);
	assert_int_equal(hg_store_sub_set_secret(f->st, id, NULL, sec2, NULL, 0, 3000), HG_EIO);
	assert_int_equal(hg_store_sub_delete(f->st, id, NULL, 3000), HG_EIO);
	hg_uuid7(k.id);
	hg_strlcpy(k.token_hash, sec2, sizeof(k.token_hash));
	hg_strlcpy(k.owner_id, "own", sizeof(k.owner_id));
	assert_int_equal(hg_store_api_key_put(f->st, &k), HG_EIO);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_api_keys, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_sub_crud_and_scope, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_claim_history_delete, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_health, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_writes_refused_when_file_gone, file_setup,
					    file_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
