/*
 * test_store_pg.c — what is PostgreSQL's own in the store, against a real
 * server, one fresh database per test: the schema version SQLite's is,
 * text that is not UTF-8, the password kept out of every message, next_due
 * polling, the audit log's triggers, and what only several nodes can do to
 * each other: the same keys stored from two connections at once (one
 * accepted, one duplicate, never a failure), audit appends from two
 * connections forming one chain, a dropped connection failing with HG_EIO
 * until reopened, delivery claims that never hand one row to two owners,
 * and rate limits shared through the database. What every backend must do
 * is test_store_conformance.c (`make test-pg` runs it here too).
 *
 * Runs only when HOOKGATE_TEST_PG holds an admin URI of a server that may
 * be scribbled on (`make test-pg` starts a throwaway cluster and sets it);
 * otherwise it says why and passes.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <libpq-fe.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ingest/ingest.h"
#include "stats/stats.h"
#include "store/postgres_internal.h"
#include "store/store.h"
#include "store/store_internal.h"
#include "store_msgs.h"

static const char *admin_uri;

struct fixture {
	char dbname[40];
	char uri[512];
	struct hg_store *st;
};

/* One admin statement; fails the test when it fails. */
static void admin_exec(const char *uri, const char *sql)
{
	PGconn *c = PQconnectdb(uri);
	PGresult *r;

	if (PQstatus(c) != CONNECTION_OK)
		fail_msg("cannot connect to the test server: %s", PQerrorMessage(c));
	r = PQexec(c, sql);
	if (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK)
		fail_msg("%s: %s", sql, PQresultErrorMessage(r));
	PQclear(r);
	PQfinish(c);
}

/* admin_uri with its database replaced by db. */
static void uri_for(const char *db, char *out, size_t outlen)
{
	const char *scheme = strstr(admin_uri, "://");
	const char *path = scheme != NULL ? strchr(scheme + 3, '/') : NULL;
	const char *query;

	assert_non_null(path);
	query = strchr(path, '?');
	snprintf(out, outlen, "%.*s/%s%s", (int)(path - admin_uri), admin_uri, db,
		 query != NULL ? query : "");
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	char sql[128], err[256], rnd[9];
	uint8_t b[4];

	assert_non_null(f);
	assert_int_equal(hg_random_bytes(b, sizeof(b)), HG_OK);
	hg_hex_encode(b, sizeof(b), rnd);
	snprintf(f->dbname, sizeof(f->dbname), "hg_unit_%s", rnd);
	snprintf(sql, sizeof(sql), "CREATE DATABASE %s", f->dbname);
	admin_exec(admin_uri, sql);
	uri_for(f->dbname, f->uri, sizeof(f->uri));
	if (hg_store_open(f->uri, &f->st, err, sizeof(err)) != HG_OK)
		fail_msg("open: %s", err);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	char sql[128];

	hg_store_close(f->st);
	snprintf(sql, sizeof(sql), "DROP DATABASE IF EXISTS %s WITH (FORCE)", f->dbname);
	admin_exec(admin_uri, sql);
	free(f);
	return 0;
}

/* ---- the single-node contract, as test_store.c checks it on SQLite ---- */

static void test_schema_matches_sqlite(void **state)
{
	struct fixture *f = *state;
	struct hg_store *lite = NULL;
	char err[256];

	/* Version N means the same tables on both backends. */
	assert_int_equal(hg_store_open("sqlite::memory:", &lite, err, sizeof(err)), HG_OK);
	assert_int_equal(hg_store_schema_version(lite), (int)hg_pg_n_migrations);
	hg_store_close(lite);
	assert_int_equal(hg_store_schema_version(f->st), (int)hg_pg_n_migrations);
	assert_int_equal(hg_store_ping(f->st), HG_OK);
	assert_int_equal(count(f->st, NULL), 0);
}

static void test_text_that_is_not_utf8(void **state)
{
	struct fixture *f = *state;
	struct hg_store_row row;
	struct tmsg a, b, c;

	/* Header bytes may be anything; the batch must not fail over them. */
	tmsg_init(&a, "raw", "1", 1, "header:X-Id=\xff\xfe", NULL, NULL);
	a.m.content_type = "text/plain; charset=\xe9t\xe9";
	tmsg_init(&b, "raw", "2", 1, "header:X-Id=\xff\xfd", NULL, NULL);
	tmsg_init(&c, "raw", "3", 1, "header:X-Id=\xff\xfe", NULL, NULL);
	assert_int_equal(put1(f->st, &a), HG_OK);
	assert_int_equal(a.m.outcome, HG_STORE_ACCEPTED);
	assert_int_equal(put1(f->st, &b), HG_OK);
	assert_int_equal(b.m.outcome, HG_STORE_ACCEPTED); /* distinct bytes, distinct keys */
	assert_int_equal(put1(f->st, &c), HG_OK);
	assert_int_equal(c.m.outcome, HG_STORE_DUPLICATE);
	assert_string_equal(c.m.first_id, a.m.id);
	assert_int_equal(hg_store_get_message(f->st, a.m.id, &row), HG_OK);
	assert_string_equal(row.content_type, "text/plain; charset=?t?");
	hg_store_row_free(&row);
}

static void test_password_never_in_messages(void **state)
{
	struct hg_store *st = NULL;
	char err[512], uri[600];
	const char *at, *colon;

	(void)state;
	/* a wrong password on the real server */
	at = strchr(strstr(admin_uri, "://") + 3, '@');
	assert_non_null(at);
	snprintf(uri, sizeof(uri), "postgres://hookgate:Wr0ngPassw0rd%s", at);
	assert_int_equal(hg_store_open(uri, &st, err, sizeof(err)), HG_EIO);
	assert_null(st);
	assert_null(strstr(err, "Wr0ngPassw0rd"));
	assert_non_null(strstr(err, "hookgate@"));
	/* no server at all */
	assert_int_equal(
	    hg_store_open("postgres://u:S3cretPw@127.0.0.1:1/x", &st, err, sizeof(err)), HG_EIO);
	assert_null(strstr(err, "S3cretPw"));
	/* not a URI libpq understands: its parser may quote the URI */
	assert_int_equal(hg_store_open("postgres://u:S3cret%zz@127.0.0.1/x", &st, err, sizeof(err)),
			 HG_EINVAL);
	assert_null(strstr(err, "S3cret"));
	/* the real password is in the admin URI: never echoed either */
	colon = strchr(strstr(admin_uri, "://") + 3, ':');
	if (colon != NULL && colon < at) {
		char pw[128];

		snprintf(pw, sizeof(pw), "%.*s", (int)(at - colon - 1), colon + 1);
		snprintf(uri, sizeof(uri), "%.*s/no_such_db_here",
			 (int)(strrchr(admin_uri, '/') - admin_uri), admin_uri);
		assert_int_equal(hg_store_open(uri, &st, err, sizeof(err)), HG_EIO);
		assert_null(strstr(err, pw));
	}
}

/* ---- what several nodes do to each other ---- */

#define RACE_N     200
#define RACE_BATCH 10

struct racer {
	char uri[512];
	int reverse;
	struct tmsg t[RACE_N];
	char keys[RACE_N][32];
	int rc;
};

/* Stores the RACE_N keys in batches, forwards or backwards: two racers in
 * opposite orders make the server break deadlocks between them. */
static void *race_main(void *arg)
{
	struct racer *r = arg;
	struct hg_store *st = NULL;
	struct hg_store_msg *v[RACE_BATCH];
	char err[256];
	size_t i, j;

	r->rc = hg_store_open(r->uri, &st, err, sizeof(err));
	for (i = 0; r->rc == HG_OK && i < RACE_N; i += RACE_BATCH) {
		for (j = 0; j < RACE_BATCH; j++) {
			size_t k = r->reverse ? RACE_N - 1 - (i + j) : i + j;

			v[j] = &r->t[k].m;
		}
		r->rc = hg_store_put_messages(st, v, RACE_BATCH);
	}
	hg_store_close(st);
	return NULL;
}

static void test_two_nodes_same_keys(void **state)
{
	struct fixture *f = *state;
	struct racer *r = calloc(2, sizeof(*r));
	pthread_t th[2];
	size_t i, n;

	assert_non_null(r);
	for (n = 0; n < 2; n++) {
		snprintf(r[n].uri, sizeof(r[n].uri), "%s", f->uri);
		r[n].reverse = (int)n;
		for (i = 0; i < RACE_N; i++) {
			snprintf(r[n].keys[i], sizeof(r[n].keys[i]), "$.id=evt_%zu", i);
			tmsg_init(&r[n].t[i], "race", "{}", 2, r[n].keys[i], NULL, NULL);
		}
	}
	for (n = 0; n < 2; n++)
		assert_int_equal(pthread_create(&th[n], NULL, race_main, &r[n]), 0);
	for (n = 0; n < 2; n++)
		pthread_join(th[n], NULL);
	/* Never a failure: a lost race is a duplicate. */
	assert_int_equal(r[0].rc, HG_OK);
	assert_int_equal(r[1].rc, HG_OK);
	for (i = 0; i < RACE_N; i++) {
		struct hg_store_msg *a = &r[0].t[i].m, *b = &r[1].t[i].m;

		assert_true(a->outcome == HG_STORE_ACCEPTED || a->outcome == HG_STORE_DUPLICATE);
		assert_int_not_equal(a->outcome, b->outcome);
		assert_string_equal(a->first_id, b->first_id);
	}
	assert_int_equal(count(f->st, "race"), RACE_N);
	free(r);
}

#define AUDIT_N 40

struct auditor {
	char uri[512];
	const char *name;
	int rc;
};

static void *audit_main(void *arg)
{
	struct auditor *a = arg;
	struct hg_store *st = NULL;
	char err[256];
	int i;

	a->rc = hg_store_open(a->uri, &st, err, sizeof(err));
	for (i = 0; a->rc == HG_OK && i < AUDIT_N; i++) {
		struct hg_audit_event ev = {.ts_ms = hg_now_ms(),
					    .event = "bad_signature",
					    .source = a->name,
					    .client = "127.0.0.1",
					    .reason = "signature mismatch"};

		a->rc = hg_store_audit_append(st, &ev, 1);
	}
	hg_store_close(st);
	return NULL;
}

static void test_audit_one_chain_from_two_nodes(void **state)
{
	struct fixture *f = *state;
	struct auditor a[2] = {{.name = "node-a"}, {.name = "node-b"}};
	const struct hg_audit_event bad = {.ts_ms = 1, .event = "x\xff", .reason = "r\xfe"};
	pthread_t th[2];
	char why[256];
	int64_t rows, bad_seq;
	int n;

	for (n = 0; n < 2; n++) {
		snprintf(a[n].uri, sizeof(a[n].uri), "%s", f->uri);
		assert_int_equal(pthread_create(&th[n], NULL, audit_main, &a[n]), 0);
	}
	for (n = 0; n < 2; n++)
		pthread_join(th[n], NULL);
	assert_int_equal(a[0].rc, HG_OK);
	assert_int_equal(a[1].rc, HG_OK);
	/* Text that is not UTF-8 is stored repaired, and hashed as stored. */
	assert_int_equal(hg_store_audit_append(f->st, &bad, 1), HG_OK);
	assert_int_equal(hg_store_audit_verify(f->st, &rows, &bad_seq, why, sizeof(why)), HG_OK);
	assert_int_equal(rows, 2 * AUDIT_N + 1);

	/* The triggers refuse changes; dropped, the chain finds them. */
	{
		PGconn *c = PQconnectdb(f->uri);
		PGresult *r = PQexec(c, "UPDATE audit_log SET reason = 'x' WHERE seq = 2");

		assert_int_equal(PQresultStatus(r), PGRES_FATAL_ERROR);
		assert_non_null(strstr(PQresultErrorMessage(r), "append-only"));
		PQclear(r);
		PQfinish(c);
	}
	admin_exec(f->uri, "DROP TRIGGER audit_log_no_update ON audit_log");
	admin_exec(f->uri, "UPDATE audit_log SET reason = 'x' WHERE seq = 7");
	assert_int_equal(hg_store_audit_verify(f->st, &rows, &bad_seq, why, sizeof(why)), HG_EAUTH);
	assert_int_equal(bad_seq, 7);
	assert_int_equal(rows, 6);
}

/* The error of sql on a connection of its own ("" when it succeeded). */
static void pg_try(const char *uri, const char *sql, char *msg, size_t msglen)
{
	PGconn *c = PQconnectdb(uri);
	PGresult *r = PQexec(c, sql);

	snprintf(msg, msglen, "%s",
		 PQresultStatus(r) == PGRES_FATAL_ERROR ? PQresultErrorMessage(r) : "");
	PQclear(r);
	PQfinish(c);
}

/* audit_retention on PostgreSQL: the oldest rows go behind a chained
 * checkpoint, verify starts there, the guard refuses any other DELETE
 * (and TRUNCATE), and a change after the checkpoint is still found. */
static void test_audit_retention_checkpoint(void **state)
{
	struct fixture *f = *state;
	struct hg_audit_event ev[6];
	char why[256], msg[512];
	int64_t rows, bad_seq, removed = 0;
	int more = -1, i;

	for (i = 0; i < 6; i++)
		ev[i] = (struct hg_audit_event){.ts_ms = 1700000000000 + i * 1000,
						.event = "bad_signature",
						.source = "whatsapp",
						.client = "192.0.2.7",
						.reason = "signature mismatch",
						.count = i + 1};
	assert_int_equal(hg_store_audit_append(f->st, ev, 6), HG_OK);
	assert_int_equal(
	    hg_store_audit_purge(f->st, 1700000003500, 100, 1700000009000, &removed, &more), HG_OK);
	assert_int_equal(removed, 4);
	assert_int_equal(more, 0);
	assert_int_equal(hg_store_audit_verify(f->st, &rows, &bad_seq, why, sizeof(why)), HG_OK);
	assert_int_equal(rows, 3); /* 5, 6 and the checkpoint 7 */
	assert_non_null(strstr(why, "rows 1 to 4 were removed by audit_retention (checkpoint at "
				    "row 7)"));

	pg_try(f->uri, "DELETE FROM audit_log WHERE seq = 5", msg, sizeof(msg));
	assert_non_null(strstr(msg, "append-only"));
	pg_try(f->uri, "TRUNCATE audit_log", msg, sizeof(msg));
	assert_non_null(strstr(msg, "append-only"));

	admin_exec(f->uri, "DROP TRIGGER audit_log_no_update ON audit_log");
	admin_exec(f->uri, "UPDATE audit_log SET count = 1 WHERE seq = 6");
	assert_int_equal(hg_store_audit_verify(f->st, &rows, &bad_seq, why, sizeof(why)), HG_EAUTH);
	assert_int_equal(bad_seq, 6);
	admin_exec(f->uri, "UPDATE audit_log SET count = 6 WHERE seq = 6");
	assert_int_equal(hg_store_audit_verify(f->st, &rows, &bad_seq, why, sizeof(why)), HG_OK);
	/* the head removed past the checkpoint, by hand */
	admin_exec(f->uri, "DROP TRIGGER audit_log_no_delete ON audit_log");
	admin_exec(f->uri, "DELETE FROM audit_log WHERE seq = 5");
	assert_int_equal(hg_store_audit_verify(f->st, &rows, &bad_seq, why, sizeof(why)), HG_EAUTH);
	assert_int_equal(bad_seq, 1);
	assert_non_null(strstr(why, "no retention checkpoint accounts for them"));
}

static void test_connection_loss_and_reopen(void **state)
{
	struct fixture *f = *state;
	struct tmsg a, b;
	char err[256], sql[256];

	tmsg_init(&a, "gh", "before", 6, "k0", NULL, NULL);
	assert_int_equal(put1(f->st, &a), HG_OK);
	/* The server drops the connection (a restart, a failover). */
	snprintf(sql, sizeof(sql),
		 "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '%s'"
		 " AND application_name = 'hookgate'",
		 f->dbname);
	admin_exec(admin_uri, sql);
	tmsg_init(&b, "gh", "after", 5, "k1", NULL, NULL);
	assert_int_equal(put1(f->st, &b), HG_EIO);
	assert_int_equal(b.m.outcome, 0);
	assert_int_equal(hg_store_ping(f->st), HG_EIO);
	hg_store_close(f->st);
	f->st = NULL;
	assert_int_equal(hg_store_open(f->uri, &f->st, err, sizeof(err)), HG_OK);
	assert_int_equal(put1(f->st, &b), HG_OK);
	assert_int_equal(b.m.outcome, HG_STORE_ACCEPTED);
	assert_int_equal(count(f->st, NULL), 2);
}

/* ---- deliveries ---- */

/* When nothing waits, PostgreSQL's next_due says "look again within a
 * second" instead of HG_ENOTFOUND: an idle node learns of work another node
 * stored only by polling. */
static void test_next_due_polls_when_nothing_waits(void **state)
{
	struct fixture *f = *state;
	int64_t due = 0;

	assert_int_equal(hg_store_next_due(f->st, "nowhere", &due), HG_OK);
	assert_true(due > hg_now_ms());
	assert_true(due <= hg_now_ms() + 1000);
}

#define CLAIM_N 300

struct claimer {
	char uri[512];
	const char *owner;
	char (*got)[HG_UUID_LEN + 1];
	size_t n;
	int rc;
};

static void *claim_main(void *arg)
{
	struct claimer *c = arg;
	struct hg_store_claim_req req = {.endpoint = "ep", .limit = 7, .lease_until_ms = INT64_MAX};
	struct hg_store_claimed out[7];
	struct hg_store *st = NULL;
	char err[256];
	size_t n, i;

	c->rc = hg_store_open(c->uri, &st, err, sizeof(err));
	while (c->rc == HG_OK) {
		c->rc = hg_store_claim_deliveries(st, c->owner, hg_now_ms(), &req, 1, out, &n);
		if (n == 0)
			break;
		for (i = 0; i < n; i++)
			memcpy(c->got[c->n++], out[i].id, HG_UUID_LEN + 1);
	}
	hg_store_close(st);
	return NULL;
}

static int cmp_id(const void *a, const void *b)
{
	return strcmp(a, b);
}

static void test_claims_skip_locked_never_twice(void **state)
{
	struct fixture *f = *state;
	struct hg_store_target target = {"ep", 0};
	struct claimer c[2] = {{.owner = "node-a"}, {.owner = "node-b"}};
	char(*all)[HG_UUID_LEN + 1] = calloc(2 * CLAIM_N, HG_UUID_LEN + 1);
	struct tmsg *t = calloc(CLAIM_N, sizeof(*t));
	struct hg_store_msg *v[CLAIM_N];
	pthread_t th[2];
	char keys[CLAIM_N][16];
	size_t i, n, total;

	assert_non_null(all);
	assert_non_null(t);
	for (i = 0; i < CLAIM_N; i++) {
		snprintf(keys[i], sizeof(keys[i]), "k%zu", i);
		tmsg_init(&t[i], "s", "{}", 2, keys[i], NULL, NULL);
		t[i].m.targets = &target;
		t[i].m.n_targets = 1;
		v[i] = &t[i].m;
	}
	assert_int_equal(hg_store_put_messages(f->st, v, CLAIM_N), HG_OK);
	for (n = 0; n < 2; n++) {
		snprintf(c[n].uri, sizeof(c[n].uri), "%s", f->uri);
		c[n].got = all + n * CLAIM_N;
		assert_int_equal(pthread_create(&th[n], NULL, claim_main, &c[n]), 0);
	}
	for (n = 0; n < 2; n++)
		pthread_join(th[n], NULL);
	assert_int_equal(c[0].rc, HG_OK);
	assert_int_equal(c[1].rc, HG_OK);
	total = c[0].n + c[1].n;
	assert_int_equal(total, CLAIM_N);
	memmove(all + c[0].n, all + CLAIM_N, c[1].n * sizeof(*all));
	qsort(all, total, sizeof(*all), cmp_id);
	for (i = 1; i < total; i++)
		assert_string_not_equal(all[i - 1], all[i]);
	free(all);
	free(t);
}

/* ---- rate limits shared by two nodes ---- */

static void test_shared_rate_limit(void **state)
{
	struct fixture *f = *state;
	struct hg_ratelimit *a = NULL, *b = NULL;
	struct hg_store_rl_count c = {
	    .source = "wa", .key = "15551234567", .per_ms = 3600000, .window_ms = 0, .add = 2};
	int64_t now = hg_now_ms(), retry;
	char err[256];
	int i;

	/* the counters themselves (windows that ended long ago are swept) */
	c.window_ms = now / 3600000 * 3600000 - 3600000;
	assert_int_equal(hg_store_ratelimit_add(f->st, &c, 1), HG_OK);
	assert_int_equal(c.total_cur, 2);
	c.window_ms += 3600000;
	c.add = 1;
	assert_int_equal(hg_store_ratelimit_add(f->st, &c, 1), HG_OK);
	assert_int_equal(c.total_cur, 1);
	assert_int_equal(c.total_prev, 2);

	/* Two nodes' limiters: 3 per hour for one sender, across both. */
	assert_int_equal(hg_ratelimit_new(1000, &a), HG_OK);
	assert_int_equal(hg_ratelimit_new(1000, &b), HG_OK);
	assert_int_equal(hg_ratelimit_share(a, f->uri, err, sizeof(err)), HG_OK);
	assert_int_equal(hg_ratelimit_share(b, f->uri, err, sizeof(err)), HG_OK);
	for (i = 0; i < 2; i++)
		assert_int_equal(hg_ratelimit_hit(a, "wa", "+1555", 3, 3600000, now, &retry), 1);
	assert_int_equal(hg_ratelimit_sync(a), HG_OK); /* pushes a's 2 */
	assert_int_equal(hg_ratelimit_sync(b), HG_OK); /* b follows them, unseen key and all */
	assert_int_equal(hg_ratelimit_hit(b, "wa", "+1555", 3, 3600000, now, &retry), 1);
	assert_int_equal(hg_ratelimit_hit(b, "wa", "+1555", 3, 3600000, now, &retry), 0);
	assert_true(retry >= 1);
	assert_int_equal(hg_ratelimit_sync(b), HG_OK); /* pushes b's 1 */
	assert_int_equal(hg_ratelimit_sync(a), HG_OK); /* a follows it */
	assert_int_equal(hg_ratelimit_hit(a, "wa", "+1555", 3, 3600000, now, &retry), 0);
	/* another sender is not affected */
	assert_int_equal(hg_ratelimit_hit(b, "wa", "+1666", 3, 3600000, now, &retry), 1);
	hg_ratelimit_free(a);
	hg_ratelimit_free(b);

	/* SQLite shares nothing and says so by doing nothing. */
	assert_int_equal(hg_ratelimit_new(10, &a), HG_OK);
	assert_int_equal(hg_ratelimit_share(a, "sqlite::memory:", err, sizeof(err)), HG_OK);
	assert_int_equal(hg_ratelimit_sync(a), HG_OK);
	hg_ratelimit_free(a);
	assert_int_equal(hg_store_ratelimit_add(NULL, &c, 1), HG_EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_schema_matches_sqlite, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_text_that_is_not_utf8, setup, teardown),
	    cmocka_unit_test(test_password_never_in_messages),
	    cmocka_unit_test_setup_teardown(test_two_nodes_same_keys, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_audit_one_chain_from_two_nodes, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_audit_retention_checkpoint, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_connection_loss_and_reopen, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_next_due_polls_when_nothing_waits, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_claims_skip_locked_never_twice, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_shared_rate_limit, setup, teardown),
	};

	admin_uri = getenv("HOOKGATE_TEST_PG");
	if (admin_uri == NULL || admin_uri[0] == '\0') {
		printf(
		    "test_store_pg: skipped: HOOKGATE_TEST_PG is not set (`make test-pg` sets it "
		    "to the admin URI of a throwaway PostgreSQL cluster)\n");
		return 0;
	}
	return cmocka_run_group_tests(tests, NULL, NULL);
}
