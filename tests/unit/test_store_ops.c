/*
 * test_store_ops.c — the store's backend contract (store_internal.h): the
 * real tables are complete, a table that lacks a required op is refused at
 * open with a sentence naming it (before its open runs), and a table
 * without the optional ops opens and answers as store.c promises (HG_EIO
 * for a missing management op, no shared rate-limit counters).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "store/postgres_internal.h"
#include "store/store.h"
#include "store/store_internal.h"

/* A backend that stores nothing: only the required ops, each counted. */
static int fake_opens;

static int fake_open(const char *target, struct hg_store **out, char *err, size_t errlen);

static void fake_close(struct hg_store *st)
{
	free(st);
}

static int fake_schema_version(struct hg_store *st)
{
	(void)st;
	return 1;
}

static int fake_put_batch(struct hg_store *st, struct hg_store_msg *const *msgs, size_t n,
			  const struct hg_audit_event *ev, size_t nev)
{
	(void)st, (void)msgs, (void)n, (void)ev, (void)nev;
	return HG_OK;
}

static int fake_audit_rows(struct hg_store *st,
			   int (*fn)(const struct hg_store_audit_row *row, void *arg), void *arg)
{
	(void)st, (void)fn, (void)arg;
	return HG_OK;
}

static int fake_get_message(struct hg_store *st, const char *id, struct hg_store_row *row)
{
	(void)st, (void)id, (void)row;
	return HG_ENOTFOUND;
}

static int fake_count_messages(struct hg_store *st, const char *source, int64_t *count)
{
	(void)st, (void)source;
	*count = 0;
	return HG_OK;
}

static int fake_ping(struct hg_store *st)
{
	(void)st;
	return HG_OK;
}

static int fake_record_and_claim(struct hg_store *st, const struct hg_store_attempt *a, size_t na,
				 const char *owner, int64_t now_ms,
				 const struct hg_store_claim_req *req, size_t nreq,
				 struct hg_store_claimed *out, size_t *n)
{
	(void)st, (void)a, (void)na, (void)owner, (void)now_ms, (void)req, (void)nreq, (void)out;
	*n = 0;
	return HG_OK;
}

static int fake_next_due(struct hg_store *st, const char *endpoint, int64_t *due_ms)
{
	(void)st, (void)endpoint, (void)due_ms;
	return HG_ENOTFOUND;
}

static int fake_replay(struct hg_store *st, const char *message_id, const char *const *endpoints,
		       size_t n, int64_t now_ms, char (*ids)[HG_UUID_LEN + 1])
{
	(void)st, (void)message_id, (void)endpoints, (void)n, (void)now_ms, (void)ids;
	return HG_ENOTFOUND;
}

static int fake_retry_dead(struct hg_store *st, const char *delivery_id, const char *endpoint,
			   int64_t now_ms, int64_t *count)
{
	(void)st, (void)delivery_id, (void)endpoint, (void)now_ms, (void)count;
	return HG_ENOTFOUND;
}

static int fake_rl_add(struct hg_store *st, struct hg_store_rl_count *c, size_t n)
{
	(void)st, (void)c, (void)n;
	return HG_OK;
}

static const struct hg_store_ops fake_ops = {
    .name = "fake",
    .open = fake_open,
    .close = fake_close,
    .schema_version = fake_schema_version,
    .put_batch = fake_put_batch,
    .audit_rows = fake_audit_rows,
    .get_message = fake_get_message,
    .count_messages = fake_count_messages,
    .ping = fake_ping,
    .record_and_claim = fake_record_and_claim,
    .next_due = fake_next_due,
    .replay = fake_replay,
    .retry_dead = fake_retry_dead,
};

static int fake_open(const char *target, struct hg_store **out, char *err, size_t errlen)
{
	struct hg_store *st = calloc(1, sizeof(*st));

	(void)target, (void)err, (void)errlen;
	fake_opens++;
	if (st == NULL)
		return HG_ENOMEM;
	st->ops = &fake_ops;
	*out = st;
	return HG_OK;
}

static void test_real_tables_are_complete(void **state)
{
	char err[256] = "";

	(void)state;
	assert_int_equal(hg_store_ops_check(&hg_store_sqlite_ops, err, sizeof(err)), HG_OK);
	assert_int_equal(hg_store_ops_check(&hg_store_postgres_ops, err, sizeof(err)), HG_OK);
	assert_int_equal(hg_store_ops_check(&fake_ops, err, sizeof(err)), HG_OK);
	assert_string_equal(err, "");
}

/* Each required op, and where it sits in the table. */
#define OP(op)                                                                                     \
	{                                                                                          \
#op, offsetof(struct hg_store_ops, op), sizeof(((struct hg_store_ops *)0)->op)     \
	}
static const struct {
	const char *name;
	size_t offset, size;
} required[] = {
    OP(open),        OP(close),          OP(schema_version), OP(put_batch),        OP(audit_rows),
    OP(get_message), OP(count_messages), OP(ping),           OP(record_and_claim), OP(next_due),
    OP(replay),      OP(retry_dead),
};
#undef OP

static void test_missing_required_op_refused_at_open(void **state)
{
	struct hg_store_ops broken;
	struct hg_store *st;
	char err[256];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(required) / sizeof(required[0]); i++) {
		broken = fake_ops;
		memset((char *)&broken + required[i].offset, 0, required[i].size);
		fake_opens = 0;
		st = (struct hg_store *)&broken; /* must become NULL */
		assert_int_equal(hg_store_open_backend(&broken, "x", &st, err, sizeof(err)),
				 HG_EINVAL);
		assert_null(st);
		assert_int_equal(fake_opens, 0);
		assert_non_null(strstr(err, "fake store backend"));
		assert_non_null(strstr(err, required[i].name));
	}
	broken = fake_ops;
	broken.name = NULL;
	assert_int_equal(hg_store_open_backend(&broken, "x", &st, err, sizeof(err)), HG_EINVAL);
	assert_non_null(strstr(err, "no name"));
}

static void test_half_a_capability_refused(void **state)
{
	struct hg_store_ops broken = fake_ops;
	struct hg_store *st = NULL;
	char err[256];

	(void)state;
	broken.ratelimit_add = fake_rl_add;
	assert_int_equal(hg_store_open_backend(&broken, "x", &st, err, sizeof(err)), HG_EINVAL);
	assert_null(st);
	assert_non_null(strstr(err, "ratelimit_changes"));
}

static void test_optional_ops_may_be_missing(void **state)
{
	struct hg_store_rl_count c = {.source = "s", .key = "k", .per_ms = 1000, .add = 1};
	struct hg_store_msg_filter f = {.status = -1, .since_ms = INT64_MIN, .until_ms = INT64_MAX};
	struct hg_store_api_key key;
	struct hg_store *st = NULL;
	int64_t now = -1;
	char err[256];

	(void)state;
	fake_opens = 0;
	assert_int_equal(hg_store_open_backend(&fake_ops, "x", &st, err, sizeof(err)), HG_OK);
	assert_int_equal(fake_opens, 1);
	assert_int_equal(hg_store_ping(st), HG_OK);
	/* management and outbound ops: a store that cannot answer */
	assert_int_equal(hg_store_list_messages(st, &f, NULL, NULL), HG_EIO);
	assert_int_equal(hg_store_api_key_find(st, "h", &key), HG_EIO);
	/* no counters: nothing is shared */
	assert_int_equal(hg_store_ratelimit_shared(st), 0);
	assert_int_equal(hg_store_ratelimit_add(st, &c, 1), HG_EINVAL);
	assert_int_equal(hg_store_ratelimit_changes(st, 0, NULL, NULL, &now), HG_EINVAL);
	assert_int_equal(now, 0);
	assert_int_equal(hg_store_ratelimit_shared(NULL), 0);
	hg_store_close(st);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_real_tables_are_complete),
	    cmocka_unit_test(test_missing_required_op_refused_at_open),
	    cmocka_unit_test(test_half_a_capability_refused),
	    cmocka_unit_test(test_optional_ops_may_be_missing),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
