/*
 * store_msgs.h — the test messages the store's unit tests put (SQLite,
 * PostgreSQL and the conformance suite that runs on both): a message with
 * up to three dedupe keys, putting one, counting them; and an outbound
 * subscription to publish to. Static inline, for
 * tests that include cmocka first.
 */
#ifndef HG_TEST_STORE_MSGS_H
#define HG_TEST_STORE_MSGS_H

#include <string.h>

#include "store/store.h"
#include "util/util.h"

/* A message with up to 3 keys (none when k0 is NULL); the strings must
 * outlive the put. */
struct tmsg {
	struct hg_store_msg m;
	const char *keys[4];
};

static inline void tmsg_init(struct tmsg *t, const char *source, const char *body, size_t body_len,
			     const char *k0, const char *k1, const char *k2)
{
	memset(t, 0, sizeof(*t));
	hg_uuid7(t->m.id);
	t->m.source = source;
	t->m.received_ms = hg_now_ms();
	t->m.content_type = "application/json";
	t->m.headers_json = "{\"x-test\":\"1\"}";
	t->m.body = (const uint8_t *)body;
	t->m.body_len = body_len;
	t->keys[0] = k0;
	t->keys[1] = k1;
	t->keys[2] = k2;
	t->m.n_dedupe_keys = k2 ? 3 : k1 ? 2 : k0 ? 1 : 0;
	t->m.dedupe_keys = t->keys;
}

static inline int put1(struct hg_store *st, struct tmsg *t)
{
	struct hg_store_msg *v[1] = {&t->m};

	return hg_store_put_messages(st, v, 1);
}

static inline int64_t count(struct hg_store *st, const char *source)
{
	int64_t n = -1;

	assert_int_equal(hg_store_count_messages(st, source, &n), HG_OK);
	return n;
}

/* Creates an outbound subscription of owner to events (a JSON array) at a
 * fixed URL and secret, active or not; id gets its id. */
static inline void tsub_create(struct hg_store *st, const char *owner, const char *events,
			       int active, char id[HG_UUID_LEN + 1])
{
	struct hg_store_sub s;

	memset(&s, 0, sizeof(s));
	hg_uuid7(s.id);
	hg_strlcpy(s.owner_id, owner, sizeof(s.owner_id));
	s.url = (char *)"https://subscriber.example/hook";
	s.events_json = (char *)events;
	s.is_active = active;
	hg_strlcpy(s.secret, "a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f90",
		   sizeof(s.secret));
	s.created_ms = s.updated_ms = 1000;
	assert_int_equal(hg_store_sub_create(st, &s), HG_OK);
	memcpy(id, s.id, HG_UUID_LEN + 1);
}

#endif
