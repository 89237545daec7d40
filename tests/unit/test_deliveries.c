/*
 * test_deliveries.c — deliveries and attempts in the SQLite store: created
 * with their message (never for a duplicate), claimed as leases per
 * endpoint, claimed again when a lease expires (crash recovery), outcomes
 * recorded in batches (succeeded, failed with a next attempt, dead), a
 * late outcome from a lease that was lost, the next due time, replays and
 * retries of dead deliveries. Each test gets a fresh database file.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fixture.h"
#include "store/store.h"

#define T0 1700000000000LL /* a fixed "now" */

static int setup(void **state)
{
	return hg_test_store_setup(state, "hg-deliv", "hookgate.db");
}

static int teardown(void **state)
{
	return hg_test_store_teardown(state);
}

/* Stores one message with key and the given targets; returns its outcome
 * and copies its id to id. */
static int put(struct hg_test_store *f, const char *key, const struct hg_store_target *t, size_t n,
	       char id[HG_UUID_LEN + 1])
{
	const char *keys[1] = {key};
	struct hg_store_msg m = {.source = "wa",
				 .received_ms = T0,
				 .content_type = "application/json",
				 .body = (const uint8_t *)"{}",
				 .body_len = 2,
				 .dedupe_keys = keys,
				 .n_dedupe_keys = 1,
				 .targets = t,
				 .n_targets = n};
	struct hg_store_msg *v[1] = {&m};

	hg_uuid7(m.id);
	assert_int_equal(hg_store_put_messages(f->st, v, 1), HG_OK);
	memcpy(id, m.first_id, HG_UUID_LEN + 1);
	return m.outcome;
}

/* One text or integer read straight from the file ("" / -1 for NULL). */
static void sql_text(struct hg_test_store *f, const char *sql, const char *arg, char *out,
		     size_t len)
{
	sqlite3 *h = NULL;
	sqlite3_stmt *q = NULL;
	const unsigned char *t;

	assert_int_equal(sqlite3_open_v2(f->db, &h, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(h, sql, -1, &q, NULL), SQLITE_OK);
	if (arg != NULL)
		assert_int_equal(sqlite3_bind_text(q, 1, arg, -1, SQLITE_STATIC), SQLITE_OK);
	assert_int_equal(sqlite3_step(q), SQLITE_ROW);
	t = sqlite3_column_text(q, 0);
	snprintf(out, len, "%s", t != NULL ? (const char *)t : "");
	sqlite3_finalize(q);
	assert_int_equal(sqlite3_close(h), SQLITE_OK);
}

static int64_t sql_int(struct hg_test_store *f, const char *sql, const char *arg)
{
	char buf[32];

	sql_text(f, sql, arg, buf, sizeof(buf));
	return buf[0] != '\0' ? strtoll(buf, NULL, 10) : -1;
}

static void assert_status(struct hg_test_store *f, const char *delivery_id, const char *want)
{
	char got[32];

	sql_text(f, "SELECT status FROM deliveries WHERE id = ?1", delivery_id, got, sizeof(got));
	assert_string_equal(got, want);
}

/* Claims up to limit of endpoint at now for owner, lease until lease. */
static size_t claim(struct hg_test_store *f, const char *owner, const char *endpoint, size_t limit,
		    int64_t now, int64_t lease, struct hg_store_claimed *out)
{
	struct hg_store_claim_req req = {
	    .endpoint = endpoint, .limit = limit, .lease_until_ms = lease};
	size_t n = 99;

	assert_int_equal(hg_store_claim_deliveries(f->st, owner, now, &req, 1, out, &n), HG_OK);
	return n;
}

static void test_created_with_message(void **state)
{
	struct hg_test_store *f = *state;
	struct hg_store_target t[2] = {{"orders", T0}, {"audit", T0 + 5000}};
	char id[HG_UUID_LEN + 1], dup[HG_UUID_LEN + 1];

	assert_int_equal(put(f, "k1", t, 2, id), HG_STORE_ACCEPTED);
	assert_int_equal(sql_int(f, "SELECT count(*) FROM deliveries WHERE message_id = ?1", id),
			 2);
	assert_int_equal(
	    sql_int(f, "SELECT next_attempt_ms FROM deliveries WHERE endpoint = 'audit'", NULL),
	    T0 + 5000);
	assert_int_equal(sql_int(f,
				 "SELECT count(*) FROM deliveries WHERE status = 'pending'"
				 " AND attempts = 0 AND created_ms = 1700000000000",
				 NULL),
			 2);
	/* a duplicate is not delivered again */
	assert_int_equal(put(f, "k1", t, 2, dup), HG_STORE_DUPLICATE);
	assert_string_equal(dup, id);
	assert_int_equal(sql_int(f, "SELECT count(*) FROM deliveries", NULL), 2);
	/* a message without routes gets none */
	assert_int_equal(put(f, "k2", NULL, 0, id), HG_STORE_ACCEPTED);
	assert_int_equal(sql_int(f, "SELECT count(*) FROM deliveries", NULL), 2);
}

static void test_claim_due_per_endpoint(void **state)
{
	struct hg_test_store *f = *state;
	struct hg_store_target now_a = {"a", T0}, later_a = {"a", T0 + 60000}, now_b = {"b", T0};
	struct hg_store_claim_req req[2] = {{"a", 5, T0 + 100000}, {"b", 5, T0 + 100000}};
	struct hg_store_claimed c[10];
	char id[HG_UUID_LEN + 1], key[8];
	size_t n = 0, i;
	int a = 0, b = 0;

	for (i = 0; i < 3; i++) {
		snprintf(key, sizeof(key), "n%zu", i);
		put(f, key, &now_a, 1, id);
	}
	put(f, "later", &later_a, 1, id);
	put(f, "b", &now_b, 1, id);

	/* the limit holds per endpoint; what is not due yet stays */
	assert_int_equal(claim(f, "o1", "a", 2, T0, T0 + 100000, c), 2);
	assert_int_equal(c[0].req, 0);
	assert_int_equal(c[0].attempts, 0);
	assert_status(f, c[0].id, "delivering");
	assert_int_equal(sql_int(f, "SELECT lease_until_ms FROM deliveries WHERE id = ?1", c[0].id),
			 T0 + 100000);
	assert_int_equal(hg_store_claim_deliveries(f->st, "o1", T0, req, 2, c, &n), HG_OK);
	assert_int_equal(n, 2); /* the third due "a", and "b" */
	for (i = 0; i < n; i++) {
		a += c[i].req == 0;
		b += c[i].req == 1;
	}
	assert_int_equal(a, 1);
	assert_int_equal(b, 1);
	/* leased ones are not claimed again; the later one becomes due */
	assert_int_equal(claim(f, "o2", "a", 10, T0 + 1000, T0 + 31000, c), 0);
	assert_int_equal(claim(f, "o2", "a", 10, T0 + 60000, T0 + 90000, c), 1);
}

static void test_lease_expiry_recovers(void **state)
{
	struct hg_test_store *f = *state;
	struct hg_store_target t = {"a", T0};
	struct hg_store_claimed c[2], again[2];
	struct hg_store_attempt late;
	char id[HG_UUID_LEN + 1];

	put(f, "k", &t, 1, id);
	assert_int_equal(claim(f, "dead-node", "a", 5, T0, T0 + 1000, c), 1);
	assert_int_equal(claim(f, "other", "a", 5, T0 + 999, T0 + 2000, again), 0);
	/* the lease ran out: the delivery is claimed again, with its attempt count */
	assert_int_equal(claim(f, "other", "a", 5, T0 + 1000, T0 + 5000, again), 1);
	assert_string_equal(again[0].id, c[0].id);
	assert_int_equal(again[0].attempts, 0);
	char owner[64];
	sql_text(f, "SELECT lease_owner FROM deliveries WHERE id = ?1", c[0].id, owner,
		 sizeof(owner));
	assert_string_equal(owner, "other");

	/* the first owner comes back late: its attempt is history, but the
	 * delivery belongs to the new lease */
	late = (struct hg_store_attempt){.delivery_id = c[0].id,
					 .lease_owner = "dead-node",
					 .n = 1,
					 .started_ms = T0,
					 .duration_ms = 5,
					 .status_code = 200,
					 .outcome = HG_DELIVERY_SUCCEEDED};
	assert_int_equal(hg_store_record_attempts(f->st, &late, 1), HG_OK);
	assert_status(f, c[0].id, "delivering");
	assert_int_equal(
	    sql_int(f, "SELECT count(*) FROM attempts WHERE delivery_id = ?1", c[0].id), 1);
}

static void test_record_outcomes(void **state)
{
	struct hg_test_store *f = *state;
	struct hg_store_target t = {"a", T0};
	struct hg_store_claimed c[3];
	struct hg_store_attempt rec[3];
	char id[HG_UUID_LEN + 1], text[64];
	static const uint8_t head[] = "busy\0binary";

	put(f, "k1", &t, 1, id);
	put(f, "k2", &t, 1, id);
	put(f, "k3", &t, 1, id);
	assert_int_equal(claim(f, "o", "a", 3, T0, T0 + 30000, c), 3);
	rec[0] = (struct hg_store_attempt){.delivery_id = c[0].id,
					   .lease_owner = "o",
					   .n = 1,
					   .started_ms = T0,
					   .duration_ms = 12,
					   .status_code = 204,
					   .outcome = HG_DELIVERY_SUCCEEDED};
	rec[1] = (struct hg_store_attempt){.delivery_id = c[1].id,
					   .lease_owner = "o",
					   .n = 1,
					   .started_ms = T0,
					   .duration_ms = 30,
					   .status_code = 503,
					   .error = "HTTP 503",
					   .response_head = head,
					   .response_head_len = sizeof(head) - 1,
					   .outcome = HG_DELIVERY_FAILED,
					   .next_attempt_ms = T0 + 60000};
	rec[2] = (struct hg_store_attempt){.delivery_id = c[2].id,
					   .lease_owner = "o",
					   .n = 1,
					   .started_ms = T0,
					   .duration_ms = 1000,
					   .status_code = -1,
					   .error = "Connection refused",
					   .outcome = HG_DELIVERY_DEAD};
	assert_int_equal(hg_store_record_attempts(f->st, rec, 3), HG_OK);

	assert_status(f, c[0].id, "succeeded");
	assert_status(f, c[1].id, "failed");
	assert_status(f, c[2].id, "dead");
	assert_int_equal(sql_int(f, "SELECT attempts FROM deliveries WHERE id = ?1", c[1].id), 1);
	assert_int_equal(
	    sql_int(f, "SELECT next_attempt_ms FROM deliveries WHERE id = ?1", c[1].id),
	    T0 + 60000);
	assert_int_equal(sql_int(f, "SELECT last_status FROM deliveries WHERE id = ?1", c[1].id),
			 503);
	sql_text(f, "SELECT last_error FROM deliveries WHERE id = ?1", c[2].id, text, sizeof(text));
	assert_string_equal(text, "Connection refused");
	assert_int_equal(sql_int(f, "SELECT last_status FROM deliveries WHERE id = ?1", c[2].id),
			 -1);
	assert_int_equal(
	    sql_int(f, "SELECT lease_owner IS NULL FROM deliveries WHERE id = ?1", c[0].id), 1);
	/* the attempt rows, the response's first bytes exactly */
	assert_int_equal(sql_int(f, "SELECT count(*) FROM attempts", NULL), 3);
	assert_int_equal(
	    sql_int(f, "SELECT length(response_head) FROM attempts WHERE delivery_id = ?1",
		    c[1].id),
	    sizeof(head) - 1);
	assert_int_equal(
	    sql_int(f, "SELECT duration_ms FROM attempts WHERE delivery_id = ?1", c[2].id), 1000);

	/* the failed one is due again at its next attempt, the others never */
	assert_int_equal(claim(f, "o", "a", 9, T0 + 59999, T0 + 90000, c), 0);
	assert_int_equal(claim(f, "o", "a", 9, T0 + 60000, T0 + 90000, c), 1);
	assert_int_equal(c[0].attempts, 1);
}

/* One turn of the engine: what finished is recorded and what is due is
 * claimed in the same transaction; a bad outcome refuses both. */
static void test_record_and_claim_in_one_call(void **state)
{
	struct hg_test_store *f = *state;
	struct hg_store_target t = {"a", T0};
	struct hg_store_claim_req req = {.endpoint = "a", .limit = 5, .lease_until_ms = T0 + 30000};
	struct hg_store_claimed c[5], more[5];
	struct hg_store_attempt rec;
	char id[HG_UUID_LEN + 1];
	size_t n = 99;

	put(f, "k1", &t, 1, id);
	assert_int_equal(claim(f, "o", "a", 1, T0, T0 + 30000, c), 1);
	put(f, "k2", &t, 1, id);
	put(f, "k3", &t, 1, id);
	rec = (struct hg_store_attempt){.delivery_id = c[0].id,
					.lease_owner = "o",
					.n = 1,
					.started_ms = T0,
					.duration_ms = 5,
					.status_code = 200,
					.outcome = HG_DELIVERY_SUCCEEDED};

	/* an outcome that is not one: nothing recorded, nothing claimed */
	rec.outcome = HG_DELIVERY_PENDING;
	assert_int_equal(hg_store_record_and_claim(f->st, &rec, 1, "o", T0 + 10, &req, 1, more, &n),
			 HG_EINVAL);
	assert_int_equal(n, 0);
	assert_status(f, c[0].id, "delivering");
	assert_int_equal(
	    sql_int(f, "SELECT count(*) FROM deliveries WHERE status = 'pending'", NULL), 2);

	rec.outcome = HG_DELIVERY_SUCCEEDED;
	assert_int_equal(hg_store_record_and_claim(f->st, &rec, 1, "o", T0 + 10, &req, 1, more, &n),
			 HG_OK);
	assert_status(f, c[0].id, "succeeded");
	assert_int_equal(
	    sql_int(f, "SELECT count(*) FROM attempts WHERE delivery_id = ?1", c[0].id), 1);
	assert_int_equal(n, 2); /* k2 and k3; the one just recorded is not claimed again */
	assert_status(f, more[0].id, "delivering");
	assert_status(f, more[1].id, "delivering");
	assert_string_not_equal(more[0].id, c[0].id);
	assert_string_not_equal(more[1].id, c[0].id);

	/* nothing to do: no transaction, nothing claimed */
	assert_int_equal(hg_store_record_and_claim(f->st, NULL, 0, "o", T0, NULL, 0, more, &n),
			 HG_OK);
	assert_int_equal(n, 0);
}

/* The messages of a claim, read in one go: each id gets its row or its
 * own answer. */
static void test_get_messages(void **state)
{
	struct hg_test_store *f = *state;
	char a[HG_UUID_LEN + 1], b[HG_UUID_LEN + 1];
	const char *ids[3];
	struct hg_store_row rows[3];
	int rcs[3] = {-99, -99, -99};

	put(f, "ka", NULL, 0, a);
	put(f, "kb", NULL, 0, b);
	ids[0] = b;
	ids[1] = "00000000-0000-7000-8000-000000000000";
	ids[2] = a;
	hg_store_get_messages(f->st, ids, 3, rows, rcs);
	assert_int_equal(rcs[0], HG_OK);
	assert_string_equal(rows[0].id, b);
	assert_int_equal(rcs[1], HG_ENOTFOUND);
	assert_int_equal(rcs[2], HG_OK);
	assert_string_equal(rows[2].id, a);
	assert_non_null(rows[2].body);
	hg_store_row_free(&rows[0]);
	hg_store_row_free(&rows[2]);
}

static void test_next_due(void **state)
{
	struct hg_test_store *f = *state;
	struct hg_store_target a = {"a", T0 + 500}, b = {"b", T0 + 200};
	struct hg_store_claimed c[2];
	char id[HG_UUID_LEN + 1];
	int64_t due = 0;

	assert_int_equal(hg_store_next_due(f->st, NULL, &due), HG_ENOTFOUND);
	put(f, "a", &a, 1, id);
	put(f, "b", &b, 1, id);
	assert_int_equal(hg_store_next_due(f->st, NULL, &due), HG_OK);
	assert_int_equal(due, T0 + 200);
	assert_int_equal(hg_store_next_due(f->st, "a", &due), HG_OK);
	assert_int_equal(due, T0 + 500);
	assert_int_equal(hg_store_next_due(f->st, "nobody", &due), HG_ENOTFOUND);
	/* in flight: due again when its lease would expire */
	assert_int_equal(claim(f, "o", "b", 1, T0 + 200, T0 + 9000, c), 1);
	assert_int_equal(hg_store_next_due(f->st, "b", &due), HG_OK);
	assert_int_equal(due, T0 + 9000);
}

static void test_replay(void **state)
{
	struct hg_test_store *f = *state;
	struct hg_store_target t = {"a", T0};
	const char *const eps[] = {"a", "b"};
	char ids[2][HG_UUID_LEN + 1], id[HG_UUID_LEN + 1];
	struct hg_store_claimed c[4];

	put(f, "k", &t, 1, id);
	assert_int_equal(hg_store_replay(f->st, id, eps, 2, T0 + 100, ids), HG_OK);
	assert_string_not_equal(ids[0], ids[1]);
	assert_status(f, ids[0], "pending");
	assert_int_equal(sql_int(f, "SELECT count(*) FROM deliveries WHERE message_id = ?1", id),
			 3);
	assert_int_equal(claim(f, "o", "b", 5, T0 + 100, T0 + 9000, c), 1);
	assert_string_equal(c[0].id, ids[1]);
	assert_string_equal(c[0].message_id, id);
	assert_int_equal(
	    hg_store_replay(f->st, "01890000-0000-7000-8000-000000000000", eps, 2, T0, NULL),
	    HG_ENOTFOUND);
	assert_int_equal(hg_store_replay(f->st, id, eps, 0, T0, NULL), HG_OK);
}

/* Claims and kills (dead) every due delivery of endpoint. */
static void kill_all(struct hg_test_store *f, const char *endpoint, struct hg_store_claimed *c)
{
	struct hg_store_attempt rec;
	size_t n, i;

	n = claim(f, "o", endpoint, 8, T0, T0 + 9000, c);
	for (i = 0; i < n; i++) {
		rec = (struct hg_store_attempt){.delivery_id = c[i].id,
						.lease_owner = "o",
						.n = 5,
						.started_ms = T0,
						.status_code = 500,
						.error = "HTTP 500",
						.outcome = HG_DELIVERY_DEAD};
		assert_int_equal(hg_store_record_attempts(f->st, &rec, 1), HG_OK);
	}
}

static void test_retry_dead(void **state)
{
	struct hg_test_store *f = *state;
	struct hg_store_target a = {"a", T0}, b = {"b", T0};
	struct hg_store_claimed ca[4], cb[4];
	char id[HG_UUID_LEN + 1];
	int64_t count = -1;

	put(f, "a1", &a, 1, id);
	put(f, "a2", &a, 1, id);
	put(f, "b1", &b, 1, id);
	kill_all(f, "a", ca);
	kill_all(f, "b", cb);
	assert_int_equal(claim(f, "o", "a", 8, T0 + 100000, T0 + 200000, ca + 2), 0);

	/* one by id: pending now, attempts kept (one more try) */
	assert_int_equal(hg_store_retry_dead(f->st, cb[0].id, NULL, T0 + 10, &count), HG_OK);
	assert_int_equal(count, 1);
	assert_status(f, cb[0].id, "pending");
	assert_int_equal(sql_int(f, "SELECT attempts FROM deliveries WHERE id = ?1", cb[0].id), 5);
	assert_int_equal(claim(f, "o", "b", 8, T0 + 10, T0 + 9000, cb + 1), 1);
	assert_int_equal(cb[1].attempts, 5);
	/* not dead: nothing moves; unknown: not found */
	assert_int_equal(hg_store_retry_dead(f->st, cb[0].id, NULL, T0, &count), HG_OK);
	assert_int_equal(count, 0);
	assert_int_equal(
	    hg_store_retry_dead(f->st, "01890000-0000-7000-8000-000000000000", NULL, T0, &count),
	    HG_ENOTFOUND);
	/* all of an endpoint */
	assert_int_equal(hg_store_retry_dead(f->st, NULL, "a", T0 + 20, &count), HG_OK);
	assert_int_equal(count, 2);
	assert_int_equal(claim(f, "o", "a", 8, T0 + 20, T0 + 9000, ca), 2);
	assert_int_equal(hg_store_retry_dead(f->st, NULL, NULL, T0, &count), HG_EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_created_with_message, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_claim_due_per_endpoint, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_lease_expiry_recovers, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_record_outcomes, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_record_and_claim_in_one_call, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_get_messages, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_next_due, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_replay, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_retry_dead, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
