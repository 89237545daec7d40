/*
 * test_store_pg.c — the PostgreSQL store against a real server, one fresh
 * database per test: the same dedupe outcomes as SQLite, byte-exact bodies,
 * migrations once and refused when newer, text that is not UTF-8, the
 * password kept out of every message, and what only several nodes can do
 * to each other: the same keys stored from two connections at once (one
 * accepted, one duplicate, never a failure), audit appends from two
 * connections forming one chain, a dropped connection failing with HG_EIO
 * until reopened, and delivery claims that never hand one row to two
 * owners. Claims take the due rows of exactly one name or of a prefix,
 * oldest due first whatever their status.
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

/* One integer from the test database (param: $1, or NULL). */
static int64_t sql_int(const char *uri, const char *sql, const char *param)
{
	PGconn *c = PQconnectdb(uri);
	const char *vals[1] = {param};
	PGresult *r;
	int64_t v;

	if (PQstatus(c) != CONNECTION_OK)
		fail_msg("cannot connect to the test database: %s", PQerrorMessage(c));
	r = PQexecParams(c, sql, param != NULL ? 1 : 0, NULL, vals, NULL, NULL, 0);
	if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1)
		fail_msg("%s: %s", sql, PQresultErrorMessage(r));
	v = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
	PQclear(r);
	PQfinish(c);
	return v;
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

struct tmsg {
	struct hg_store_msg m;
	const char *keys[4];
};

static void tmsg_init(struct tmsg *t, const char *source, const char *body, size_t body_len,
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

static int put1(struct hg_store *st, struct tmsg *t)
{
	struct hg_store_msg *v[1] = {&t->m};

	return hg_store_put_messages(st, v, 1);
}

static int64_t count(struct hg_store *st, const char *source)
{
	int64_t n = -1;

	assert_int_equal(hg_store_count_messages(st, source, &n), HG_OK);
	return n;
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

static void test_dedupe_outcomes(void **state)
{
	struct fixture *f = *state;
	struct tmsg a, b, other, p1, p2, p3, nokeys1, nokeys2;

	tmsg_init(&a, "github", "one", 3, "k1", NULL, NULL);
	tmsg_init(&b, "github", "two", 3, "k1", NULL, NULL);
	tmsg_init(&other, "stripe", "one", 3, "k1", NULL, NULL); /* keys are per source */
	assert_int_equal(put1(f->st, &a), HG_OK);
	assert_int_equal(a.m.outcome, HG_STORE_ACCEPTED);
	assert_string_equal(a.m.first_id, a.m.id);
	assert_int_equal(put1(f->st, &b), HG_OK);
	assert_int_equal(b.m.outcome, HG_STORE_DUPLICATE);
	assert_string_equal(b.m.first_id, a.m.id);
	assert_int_equal(put1(f->st, &other), HG_OK);
	assert_int_equal(other.m.outcome, HG_STORE_ACCEPTED);
	assert_int_equal(sql_int(f->uri, "SELECT dedupe_count FROM messages WHERE id = $1", a.m.id),
			 1);

	/* Partial overlap is new and takes no key over; all seen is a
	 * duplicate of the first key's message. */
	tmsg_init(&p1, "wa", "a", 1, "k:a", "k:b", NULL);
	tmsg_init(&p2, "wa", "b", 1, "k:b", "k:c", NULL);
	tmsg_init(&p3, "wa", "c", 1, "k:c", "k:a", NULL);
	assert_int_equal(put1(f->st, &p1), HG_OK);
	assert_int_equal(put1(f->st, &p2), HG_OK);
	assert_int_equal(p2.m.outcome, HG_STORE_ACCEPTED);
	assert_int_equal(put1(f->st, &p3), HG_OK);
	assert_int_equal(p3.m.outcome, HG_STORE_DUPLICATE);
	assert_string_equal(p3.m.first_id, p2.m.id);
	assert_int_equal(
	    sql_int(f->uri, "SELECT count(*) FROM dedupe WHERE key = 'k:b' AND message_id = $1",
		    p1.m.id),
	    1);

	/* No keys: nothing to match, always new. */
	tmsg_init(&nokeys1, "x", "same", 4, NULL, NULL, NULL);
	tmsg_init(&nokeys2, "x", "same", 4, NULL, NULL, NULL);
	assert_int_equal(put1(f->st, &nokeys1), HG_OK);
	assert_int_equal(put1(f->st, &nokeys2), HG_OK);
	assert_int_equal(nokeys2.m.outcome, HG_STORE_ACCEPTED);
	assert_int_equal(count(f->st, NULL), 6);
}

static void test_duplicates_within_one_batch(void **state)
{
	struct fixture *f = *state;
	struct tmsg t[4];
	struct hg_store_msg *v[4];
	size_t i;

	tmsg_init(&t[0], "wa", "x", 1, "wamid.1", NULL, NULL);
	tmsg_init(&t[1], "wa", "x", 1, "wamid.1", NULL, NULL);
	tmsg_init(&t[2], "wa", "y", 1, "wamid.2", NULL, NULL);
	tmsg_init(&t[3], "wa", "z", 1, "wamid.2", "wamid.1", NULL);
	for (i = 0; i < 4; i++)
		v[i] = &t[i].m;
	assert_int_equal(hg_store_put_messages(f->st, v, 4), HG_OK);
	assert_int_equal(t[0].m.outcome, HG_STORE_ACCEPTED);
	assert_int_equal(t[1].m.outcome, HG_STORE_DUPLICATE);
	assert_string_equal(t[1].m.first_id, t[0].m.id);
	assert_int_equal(t[2].m.outcome, HG_STORE_ACCEPTED);
	assert_int_equal(t[3].m.outcome, HG_STORE_DUPLICATE);
	assert_string_equal(t[3].m.first_id, t[2].m.id);
	assert_int_equal(count(f->st, NULL), 2);
	assert_int_equal(hg_store_put_messages(f->st, v, 0), HG_OK);
}

static void test_round_trip_bytes_and_reopen(void **state)
{
	struct fixture *f = *state;
	static const char body[] = "a\0b\0\xff\xfe\0";
	struct hg_store_row row;
	struct tmsg a, empty, again;
	char err[256];

	tmsg_init(&a, "zoho", body, sizeof(body), "sha256:x", NULL, NULL);
	a.m.received_ms = 1700000000123;
	assert_int_equal(put1(f->st, &a), HG_OK);
	tmsg_init(&empty, "zoho", NULL, 0, "sha256:empty", NULL, NULL);
	empty.m.content_type = NULL;
	empty.m.headers_json = NULL;
	assert_int_equal(put1(f->st, &empty), HG_OK);

	/* A new connection (another node) reads the same bytes. */
	hg_store_close(f->st);
	f->st = NULL;
	assert_int_equal(hg_store_open(f->uri, &f->st, err, sizeof(err)), HG_OK);
	assert_int_equal(hg_store_get_message(f->st, a.m.id, &row), HG_OK);
	assert_string_equal(row.id, a.m.id);
	assert_string_equal(row.source, "zoho");
	assert_int_equal(row.received_ms, 1700000000123);
	assert_string_equal(row.content_type, "application/json");
	assert_string_equal(row.headers_json, "{\"x-test\":\"1\"}");
	assert_int_equal(row.body_len, sizeof(body));
	assert_memory_equal(row.body, body, sizeof(body));
	hg_store_row_free(&row);
	assert_int_equal(hg_store_get_message(f->st, empty.m.id, &row), HG_OK);
	assert_null(row.content_type);
	assert_null(row.headers_json);
	assert_int_equal(row.body_len, 0);
	assert_non_null(row.body);
	hg_store_row_free(&row);
	assert_int_equal(hg_store_get_message(f->st, "0190a000-0000-7000-8000-000000000000", &row),
			 HG_ENOTFOUND);
	assert_int_equal(hg_store_get_message(f->st, "not-a-uuid", &row), HG_ENOTFOUND);
	tmsg_init(&again, "zoho", "x", 1, "sha256:x", NULL, NULL);
	assert_int_equal(put1(f->st, &again), HG_OK);
	assert_int_equal(again.m.outcome, HG_STORE_DUPLICATE);
	assert_string_equal(again.m.first_id, a.m.id);
}

static void test_migrations_once_and_newer_refused(void **state)
{
	struct fixture *f = *state;
	struct hg_store *second = NULL, *third = NULL;
	char err[256], sql[128];

	assert_int_equal(hg_store_open(f->uri, &second, err, sizeof(err)), HG_OK);
	assert_int_equal(hg_store_open(f->uri, &third, err, sizeof(err)), HG_OK);
	assert_int_equal(hg_store_schema_version(third), (int)hg_pg_n_migrations);
	hg_store_close(second);
	hg_store_close(third);
	assert_int_equal(sql_int(f->uri, "SELECT count(*) FROM schema_version", NULL),
			 (int64_t)hg_pg_n_migrations);

	snprintf(sql, sizeof(sql), "INSERT INTO schema_version VALUES (99, 0)");
	admin_exec(f->uri, sql);
	assert_int_equal(hg_store_open(f->uri, &second, err, sizeof(err)), HG_EIO);
	assert_null(second);
	assert_non_null(strstr(err, "newer than this build"));
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
	assert_int_equal(hg_store_audit_purge(f->st, 1700000003500, 100, 1700000009000, &removed,
					      &more),
			 HG_OK);
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

static void test_delivery_lease_lifecycle(void **state)
{
	struct fixture *f = *state;
	struct hg_store_target targets[2] = {{"orders", 1000}, {"audit", 1000}};
	struct hg_store_claim_req req = {.endpoint = "orders", .limit = 10, .lease_until_ms = 5000};
	struct hg_store_claimed out[10];
	struct hg_store_attempt at = {0};
	struct tmsg m, dup;
	const char *eps[1] = {"orders"};
	char ids[1][HG_UUID_LEN + 1];
	int64_t due, moved;
	size_t n;

	tmsg_init(&m, "src", "{}", 2, "k", NULL, NULL);
	m.m.targets = targets;
	m.m.n_targets = 2;
	assert_int_equal(put1(f->st, &m), HG_OK);
	tmsg_init(&dup, "src", "{}", 2, "k", NULL, NULL);
	dup.m.targets = targets;
	dup.m.n_targets = 2;
	assert_int_equal(put1(f->st, &dup), HG_OK); /* a duplicate makes no delivery */
	assert_int_equal(sql_int(f->uri, "SELECT count(*) FROM deliveries", NULL), 2);

	assert_int_equal(hg_store_next_due(f->st, "orders", &due), HG_OK);
	assert_int_equal(due, 1000);
	assert_int_equal(hg_store_claim_deliveries(f->st, "node-a", 999, &req, 1, out, &n), HG_OK);
	assert_int_equal(n, 0); /* not due yet */
	assert_int_equal(hg_store_claim_deliveries(f->st, "node-a", 1000, &req, 1, out, &n), HG_OK);
	assert_int_equal(n, 1);
	assert_string_equal(out[0].message_id, m.m.id);
	assert_int_equal(out[0].attempts, 0);
	assert_int_equal(hg_store_next_due(f->st, "orders", &due), HG_OK);
	assert_int_equal(due, 5000); /* the lease's end */

	/* node-a dies; its lease ends; node-b takes the delivery over. */
	req.lease_until_ms = 9000;
	assert_int_equal(hg_store_claim_deliveries(f->st, "node-b", 4999, &req, 1, out + 1, &n),
			 HG_OK);
	assert_int_equal(n, 0);
	assert_int_equal(hg_store_claim_deliveries(f->st, "node-b", 5000, &req, 1, out + 1, &n),
			 HG_OK);
	assert_int_equal(n, 1);
	assert_string_equal(out[1].id, out[0].id);

	/* node-a's late outcome is recorded as an attempt but moves nothing. */
	at.delivery_id = out[0].id;
	at.lease_owner = "node-a";
	at.n = 1;
	at.started_ms = 1000;
	at.duration_ms = 5;
	at.status_code = 200;
	at.response_head = (const uint8_t *)"ok\0\xff";
	at.response_head_len = 4;
	at.outcome = HG_DELIVERY_SUCCEEDED;
	assert_int_equal(hg_store_record_attempts(f->st, &at, 1), HG_OK);
	assert_int_equal(
	    sql_int(f->uri, "SELECT count(*) FROM deliveries WHERE status = 'delivering'", NULL),
	    1);
	/* node-b's failure, last attempt: dead */
	at.lease_owner = "node-b";
	at.status_code = -1;
	at.error = "connection refused";
	at.response_head = NULL;
	at.outcome = HG_DELIVERY_DEAD;
	assert_int_equal(hg_store_record_attempts(f->st, &at, 1), HG_OK);
	assert_int_equal(
	    sql_int(f->uri,
		    "SELECT count(*) FROM deliveries WHERE status = 'dead'"
		    " AND lease_owner IS NULL AND last_status IS NULL AND attempts = 1",
		    NULL),
	    1);
	assert_int_equal(
	    sql_int(f->uri, "SELECT count(*) FROM attempts WHERE response_head = '\\x6f6b00ff'",
		    NULL),
	    1);

	assert_int_equal(hg_store_retry_dead(f->st, out[0].id, NULL, 6000, &moved), HG_OK);
	assert_int_equal(moved, 1);
	assert_int_equal(
	    hg_store_retry_dead(f->st, "0190a000-0000-7000-8000-000000000000", NULL, 6000, &moved),
	    HG_ENOTFOUND);
	assert_int_equal(hg_store_retry_dead(f->st, NULL, "orders", 6000, &moved), HG_OK);
	assert_int_equal(moved, 0);
	assert_int_equal(hg_store_replay(f->st, m.m.id, eps, 1, 7000, ids), HG_OK);
	assert_int_equal(sql_int(f->uri, "SELECT count(*) FROM deliveries WHERE id = $1", ids[0]),
			 1);
	assert_int_equal(
	    hg_store_replay(f->st, "0190a000-0000-7000-8000-000000000000", eps, 1, 7000, ids),
	    HG_ENOTFOUND);
	assert_int_equal(hg_store_next_due(f->st, NULL, &due), HG_OK);
	assert_int_equal(due, 1000); /* the "audit" delivery was never claimed */
}

/* Which rows a claim takes, and in which order: the due ones of exactly the
 * name asked for (not of a name it is a prefix of) or of every name under
 * a prefix ("sub:*"), oldest due first whatever their status, where an
 * expired lease is due at its end. Rows are written directly so that each
 * has a due time of its own. */
static void test_claim_order_exact_and_prefix(void **state)
{
	struct fixture *f = *state;
	struct hg_store_claim_req req[2];
	struct hg_store_claimed out[10];
	int64_t due;
	size_t n;

	admin_exec(f->uri,
		   "INSERT INTO deliveries (id, message_id, endpoint, status, next_attempt_ms,"
		   " lease_owner, lease_until_ms, created_ms, updated_ms, attempts) VALUES"
		   " ('o-pend-300', 'm', 'orders', 'pending', 300, NULL, NULL, 0, 0, 0),"
		   " ('o-fail-100', 'm', 'orders', 'failed', 100, NULL, NULL, 0, 0, 2),"
		   " ('o-lease-200', 'm', 'orders', 'delivering', 50, 'gone', 200, 0, 0, 1),"
		   " ('o-lease-live', 'm', 'orders', 'delivering', 10, 'alive', 5000, 0, 0, 0),"
		   " ('o-pend-400', 'm', 'orders', 'pending', 400, NULL, NULL, 0, 0, 0),"
		   " ('o-later', 'm', 'orders', 'pending', 2000, NULL, NULL, 0, 0, 0),"
		   " ('o-dead', 'm', 'orders', 'dead', 10, NULL, NULL, 0, 0, 5),"
		   " ('o-done', 'm', 'orders', 'succeeded', 10, NULL, NULL, 0, 0, 1),"
		   " ('o2-pend-1', 'm', 'orders2', 'pending', 1, NULL, NULL, 0, 0, 0),"
		   " ('or-pend-2', 'm', 'order', 'pending', 2, NULL, NULL, 0, 0, 0),"
		   " ('s-a-250', 'm', 'sub:a', 'pending', 250, NULL, NULL, 0, 0, 0),"
		   " ('s-b-150', 'm', 'sub:b', 'failed', 150, NULL, NULL, 0, 0, 1),"
		   " ('s-c-120', 'm', 'sub:c', 'delivering', 5, 'gone', 120, 0, 0, 0),"
		   " ('s-b-later', 'm', 'sub:b', 'pending', 3000, NULL, NULL, 0, 0, 0),"
		   " ('subx-1', 'm', 'subx', 'pending', 1, NULL, NULL, 0, 0, 0),"
		   " ('sub-1', 'm', 'sub', 'pending', 1, NULL, NULL, 0, 0, 0)");

	/* An exact name, one at a time (RETURNING has no order): the failed
	 * row and the expired lease come before the later pending rows;
	 * "orders2" and "order" are other endpoints. */
	req[0] =
	    (struct hg_store_claim_req){.endpoint = "orders", .limit = 1, .lease_until_ms = 9000};
	assert_int_equal(hg_store_claim_deliveries(f->st, "me", 1000, req, 1, out, &n), HG_OK);
	assert_int_equal(n, 1);
	assert_string_equal(out[0].id, "o-fail-100");
	assert_int_equal(out[0].attempts, 2);
	assert_string_equal(out[0].endpoint, "orders");
	assert_int_equal(hg_store_claim_deliveries(f->st, "me", 1000, req, 1, out, &n), HG_OK);
	assert_int_equal(n, 1);
	assert_string_equal(out[0].id, "o-lease-200");
	assert_int_equal(hg_store_claim_deliveries(f->st, "me", 1000, req, 1, out, &n), HG_OK);
	assert_int_equal(n, 1);
	assert_string_equal(out[0].id, "o-pend-300");
	req[0].limit = 10;
	assert_int_equal(hg_store_claim_deliveries(f->st, "me", 1000, req, 1, out, &n), HG_OK);
	assert_int_equal(n, 1); /* not the live lease, the later one, dead or succeeded */
	assert_string_equal(out[0].id, "o-pend-400");
	assert_int_equal(hg_store_claim_deliveries(f->st, "me", 1000, req, 1, out, &n), HG_OK);
	assert_int_equal(n, 0);
	assert_int_equal(sql_int(f->uri,
				 "SELECT count(*) FROM deliveries WHERE lease_owner = 'me'"
				 " AND endpoint <> 'orders'",
				 NULL),
			 0);

	/* A prefix, in one transaction with another name: every "sub:"
	 * endpoint, oldest due first, and neither "sub" nor "subx". */
	req[0] =
	    (struct hg_store_claim_req){.endpoint = "order", .limit = 5, .lease_until_ms = 9000};
	req[1] =
	    (struct hg_store_claim_req){.endpoint = "sub:*", .limit = 1, .lease_until_ms = 9000};
	assert_int_equal(hg_store_claim_deliveries(f->st, "me", 1000, req, 2, out, &n), HG_OK);
	assert_int_equal(n, 2);
	assert_string_equal(out[0].id, "or-pend-2");
	assert_int_equal(out[0].req, 0);
	assert_string_equal(out[1].id, "s-c-120");
	assert_string_equal(out[1].endpoint, "sub:c");
	assert_int_equal(out[1].req, 1);
	assert_int_equal(hg_store_claim_deliveries(f->st, "me", 1000, req + 1, 1, out, &n), HG_OK);
	assert_int_equal(n, 1);
	assert_string_equal(out[0].id, "s-b-150");
	assert_string_equal(out[0].endpoint, "sub:b");
	req[1].limit = 10;
	assert_int_equal(hg_store_claim_deliveries(f->st, "me", 1000, req + 1, 1, out, &n), HG_OK);
	assert_int_equal(n, 1);
	assert_string_equal(out[0].id, "s-a-250");
	assert_int_equal(
	    sql_int(
		f->uri,
		"SELECT count(*) FROM deliveries WHERE status = 'pending' AND next_attempt_ms = 1",
		NULL),
	    3); /* orders2, sub, subx */

	/* next_due reads the same rows: the earliest of each status */
	assert_int_equal(hg_store_next_due(f->st, "orders", &due), HG_OK);
	assert_int_equal(due, 2000);
	assert_int_equal(hg_store_next_due(f->st, "sub:*", &due), HG_OK);
	assert_int_equal(due, 3000);
	assert_int_equal(hg_store_next_due(f->st, "orders2", &due), HG_OK);
	assert_int_equal(due, 1);
	assert_int_equal(hg_store_next_due(f->st, NULL, &due), HG_OK);
	assert_int_equal(due, 1);
	/* nothing waits: PostgreSQL says "look again within a second" */
	assert_int_equal(hg_store_next_due(f->st, "nowhere", &due), HG_OK);
	assert_true(due > hg_now_ms());
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

/* ---- management reads, stats and retention ---- */

static int count_msg(const struct hg_store_msg_info *m, void *arg)
{
	(void)m;
	(*(int *)arg)++;
	return 0;
}

static int first_msg(const struct hg_store_msg_info *m, void *arg)
{
	struct hg_store_msg_info *out = arg;

	*out = *m;
	out->id = NULL; /* valid during the call only */
	out->source = NULL;
	out->content_type = NULL;
	return 1;
}

static int count_dlv(const struct hg_store_delivery_info *d, void *arg)
{
	assert_non_null(d->source);
	(*(int *)arg)++;
	return 0;
}

static int check_attempt(const struct hg_store_attempt_info *a, void *arg)
{
	assert_int_equal(a->n, 1);
	assert_int_equal(a->status_code, 503);
	assert_int_equal(a->response_head_len, 3);
	assert_memory_equal(a->response_head, "a\0b", 3);
	assert_string_equal(a->error, "busy");
	(*(int *)arg)++;
	return 0;
}

static void test_reads_stats_and_purge(void **state)
{
	struct fixture *f = *state;
	struct hg_store_target target = {"orders", 0};
	struct hg_store_claim_req req = {.endpoint = "orders", .limit = 10, .lease_until_ms = 10};
	struct hg_store_msg_filter mf = {
	    .status = -1, .since_ms = INT64_MIN, .until_ms = INT64_MAX};
	struct hg_store_delivery_filter df = {0};
	struct hg_store_msg_info info;
	struct hg_store_claimed out[10];
	struct hg_store_attempt at = {0};
	struct hg_stats_row rows[2], back[3];
	struct hg_store_purged purged = {0};
	int64_t counts[HG_DELIVERY_DEAD + 1] = {0};
	struct tmsg t[3];
	size_t n;
	int seen = 0, more = 0;

	tmsg_init(&t[0], "a", "0123456789", 10, "k0", NULL, NULL);
	usleep(3000); /* purge finds old messages by their ids' time too */
	tmsg_init(&t[1], "b", "x", 1, "k1", NULL, NULL);
	tmsg_init(&t[2], "a", "y", 1, "k2", NULL, NULL);
	t[0].m.received_ms = 1000;
	t[0].m.targets = &target;
	t[0].m.n_targets = 1;
	for (int i = 0; i < 3; i++)
		assert_int_equal(put1(f->st, &t[i]), HG_OK);

	assert_int_equal(hg_store_list_messages(f->st, &mf, count_msg, &seen), HG_OK);
	assert_int_equal(seen, 3);
	mf.source = "a";
	mf.limit = 1;
	assert_int_equal(hg_store_list_messages(f->st, &mf, first_msg, &info), HG_OK);
	assert_int_equal(info.received_ms, t[2].m.received_ms); /* newest first */
	mf.before_id = t[2].m.id;
	assert_int_equal(hg_store_list_messages(f->st, &mf, first_msg, &info), HG_OK);
	assert_int_equal(info.body_len, 10);
	assert_int_equal(info.status, HG_DELIVERY_PENDING);
	assert_int_equal(info.deliveries, 1);
	mf = (struct hg_store_msg_filter){
	    .id = t[1].m.id, .status = -1, .since_ms = INT64_MIN, .until_ms = INT64_MAX};
	seen = 0;
	assert_int_equal(hg_store_list_messages(f->st, &mf, count_msg, &seen), HG_OK);
	assert_int_equal(seen, 1);
	mf = (struct hg_store_msg_filter){
	    .status = HG_STORE_NO_DELIVERIES, .since_ms = INT64_MIN, .until_ms = INT64_MAX};
	seen = 0;
	assert_int_equal(hg_store_list_messages(f->st, &mf, count_msg, &seen), HG_OK);
	assert_int_equal(seen, 2);

	assert_int_equal(hg_store_claim_deliveries(f->st, "n", 5, &req, 1, out, &n), HG_OK);
	assert_int_equal(n, 1);
	at.delivery_id = out[0].id;
	at.lease_owner = "n";
	at.n = 1;
	at.started_ms = 5;
	at.duration_ms = 1;
	at.status_code = 503;
	at.error = "busy";
	at.response_head = (const uint8_t *)"a\0b";
	at.response_head_len = 3;
	at.outcome = HG_DELIVERY_FAILED;
	at.next_attempt_ms = 60000;
	assert_int_equal(hg_store_record_attempts(f->st, &at, 1), HG_OK);
	seen = 0;
	assert_int_equal(hg_store_message_attempts(f->st, t[0].m.id, check_attempt, &seen), HG_OK);
	assert_int_equal(seen, 1);
	df.status = HG_DELIVERY_FAILED;
	seen = 0;
	assert_int_equal(hg_store_list_deliveries(f->st, &df, count_dlv, &seen), HG_OK);
	assert_int_equal(seen, 1);
	assert_int_equal(hg_store_count_deliveries(f->st, counts), HG_OK);
	assert_int_equal(counts[HG_DELIVERY_FAILED], 1);
	assert_int_equal(counts[HG_DELIVERY_PENDING], 0);

	/* Stats add up across calls (and nodes). */
	memset(rows, 0, sizeof(rows));
	snprintf(rows[0].source, sizeof(rows[0].source), "a");
	rows[0].hour_ms = 7 * HG_HOUR_MS;
	rows[0].count[HG_STAT_RECEIVED] = 3;
	rows[0].latency[5] = 2;
	rows[1] = rows[0];
	rows[1].hour_ms = 8 * HG_HOUR_MS;
	assert_int_equal(hg_store_stats_add(f->st, rows, 2), HG_OK);
	assert_int_equal(hg_store_stats_add(f->st, rows, 1), HG_OK);
	memset(back, 0, sizeof(back));
	assert_int_equal(hg_store_stats_read(f->st, NULL, 7 * HG_HOUR_MS, back, 3), HG_OK);
	assert_int_equal(back[0].count[HG_STAT_RECEIVED], 6);
	assert_int_equal(back[0].latency[5], 4);
	assert_int_equal(back[1].count[HG_STAT_RECEIVED], 3);
	assert_int_equal(back[2].count[HG_STAT_RECEIVED], 0);

	/* Retention: the old message goes with its delivery, attempt and key. */
	assert_int_equal(hg_store_purge(f->st, t[1].m.received_ms - 1, 10, &purged, &more), HG_OK);
	assert_int_equal(purged.messages, 1);
	assert_int_equal(purged.deliveries, 1);
	assert_int_equal(purged.attempts, 1);
	assert_int_equal(purged.dedupe_keys, 1);
	assert_int_equal(purged.stats_hours, 2);
	assert_int_equal(more, 0);
	assert_int_equal(count(f->st, NULL), 2);
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
	    cmocka_unit_test_setup_teardown(test_dedupe_outcomes, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_duplicates_within_one_batch, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_round_trip_bytes_and_reopen, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_migrations_once_and_newer_refused, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_text_that_is_not_utf8, setup, teardown),
	    cmocka_unit_test(test_password_never_in_messages),
	    cmocka_unit_test_setup_teardown(test_two_nodes_same_keys, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_audit_one_chain_from_two_nodes, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_audit_retention_checkpoint, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_connection_loss_and_reopen, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_delivery_lease_lifecycle, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_claim_order_exact_and_prefix, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_claims_skip_locked_never_twice, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_reads_stats_and_purge, setup, teardown),
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
