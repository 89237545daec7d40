/*
 * test_store_conformance.c — what every store backend must do, whatever
 * database is behind it, one fresh database per test: dedupe outcomes
 * (duplicates, partial overlaps, within a batch), byte-exact bodies read
 * back after a reopen, migrations once and a newer schema refused, the
 * audit chain appended, verified and cut by retention, deliveries created,
 * claimed under leases (exact names and prefixes, oldest due first),
 * recorded, replayed and retried from the dead letters, the management
 * reads (messages, deliveries, attempts), hourly stats, purges, API keys
 * and outbound subscriptions.
 *
 * One binary, the backend chosen by its argument:
 *   test_store_conformance            SQLite, a file in a fresh temp dir
 *                                     (`make unit`, `make test`)
 *   test_store_conformance postgres   PostgreSQL, a fresh database of the
 *                                     server HOOKGATE_TEST_PG names (`make
 *                                     test-pg`); without it the run says
 *                                     why and passes
 * Checks that read a table directly use SQL both backends accept (the
 * schema of version N is the same tables on both; "$1" binds the one
 * parameter on both). What only one backend does stays with it:
 * test_store.c (the SQLite file: WAL, a full disk, a removed directory) and
 * test_store_pg.c (several nodes at once, lost connections, text that is
 * not UTF-8, shared rate limits).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <libpq-fe.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "crypt/crypt.h"
#include "config/config.h"
#include "fixture.h"
#include "housekeep/housekeep.h"
#include "stats/stats.h"
#include "store/store.h"
#include "store_msgs.h"

/* The schema version this build migrates to, on every backend: 1 messages
 * and dedupe, 2 the audit log, 3 deliveries and attempts, 4 hourly stats
 * and the API's indexes, 5 outbound keys and subscriptions, 6 the audit
 * log's count, 7 its retention checkpoints, 8 encryption at rest, 9 alert state, 10 media, 11
 * request ids. */
#define HG_TEST_SCHEMA 11

/* One database of the backend under test. */
struct fixture {
	char dir[64];    /* SQLite: the temp dir holding the file */
	char dbname[40]; /* PostgreSQL: the database's name */
	char uri[512];
	struct hg_store *st;
};

/* How the suite makes, probes and removes a database of one backend. */
struct backend {
	const char *name;
	void (*create)(struct fixture *f); /* sets f->uri to a fresh, empty database */
	void (*destroy)(struct fixture *f);
	/* one integer that sql (its parameter $1 = param, or none) reads */
	int64_t (*sql_int)(struct fixture *f, const char *sql, const char *param);
	/* runs sql (one or more statements) on a connection of its own */
	void (*sql_exec)(struct fixture *f, const char *sql);
	/* changes one byte of the stored body of message id */
	void (*flip_body_byte)(struct fixture *f, const char *id);
};

static const struct backend *be;

/* ---- SQLite ---- */

static void lite_create(struct fixture *f)
{
	hg_test_tmpdir(f->dir, sizeof(f->dir), "hg-conform");
	snprintf(f->uri, sizeof(f->uri), "sqlite:%s/hookgate.db", f->dir);
}

static void lite_destroy(struct fixture *f)
{
	hg_test_rm_rf(f->dir);
}

static sqlite3 *lite_connect(struct fixture *f)
{
	sqlite3 *h = NULL;

	if (sqlite3_open_v2(f->uri + strlen("sqlite:"), &h, SQLITE_OPEN_READWRITE, NULL) !=
	    SQLITE_OK)
		fail_msg("cannot open %s", f->uri);
	sqlite3_busy_timeout(h, 5000);
	return h;
}

static int64_t lite_sql_int(struct fixture *f, const char *sql, const char *param)
{
	sqlite3 *h = lite_connect(f);
	sqlite3_stmt *q = NULL;
	int64_t v;

	if (sqlite3_prepare_v2(h, sql, -1, &q, NULL) != SQLITE_OK)
		fail_msg("%s: %s", sql, sqlite3_errmsg(h));
	if (param != NULL)
		assert_int_equal(sqlite3_bind_text(q, 1, param, -1, SQLITE_STATIC), SQLITE_OK);
	if (sqlite3_step(q) != SQLITE_ROW)
		fail_msg("%s: no row (%s)", sql, sqlite3_errmsg(h));
	v = sqlite3_column_int64(q, 0);
	sqlite3_finalize(q);
	assert_int_equal(sqlite3_close(h), SQLITE_OK);
	return v;
}

static void lite_sql_exec(struct fixture *f, const char *sql)
{
	sqlite3 *h = lite_connect(f);
	char *msg = NULL;

	if (sqlite3_exec(h, sql, NULL, NULL, &msg) != SQLITE_OK)
		fail_msg("%s: %s", sql, msg != NULL ? msg : "?");
	assert_int_equal(sqlite3_close(h), SQLITE_OK);
}

static void lite_flip_body_byte(struct fixture *f, const char *id)
{
	char sql[512];

	/* byte 21 becomes 0x01 when it is 0x00, else 0x00: changed either way */
	snprintf(sql, sizeof(sql),
		 "UPDATE messages SET body = CAST(substr(body, 1, 20) || CASE WHEN"
		 " substr(body, 21, 1) = x'00' THEN x'01' ELSE x'00' END || substr(body, 22)"
		 " AS BLOB) WHERE id = '%s'",
		 id);
	lite_sql_exec(f, sql);
}

static const struct backend sqlite_backend = {
    .name = "sqlite",
    .create = lite_create,
    .destroy = lite_destroy,
    .sql_int = lite_sql_int,
    .sql_exec = lite_sql_exec,
    .flip_body_byte = lite_flip_body_byte,
};

/* ---- PostgreSQL ---- */

static const char *admin_uri; /* HOOKGATE_TEST_PG */

static void pg_exec_on(const char *uri, const char *sql)
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

static void pg_create(struct fixture *f)
{
	const char *scheme = strstr(admin_uri, "://");
	const char *path = scheme != NULL ? strchr(scheme + 3, '/') : NULL;
	const char *query;
	char sql[128], rnd[9];
	uint8_t b[4];

	assert_non_null(path);
	assert_int_equal(hg_random_bytes(b, sizeof(b)), HG_OK);
	hg_hex_encode(b, sizeof(b), rnd);
	snprintf(f->dbname, sizeof(f->dbname), "hg_conform_%s", rnd);
	snprintf(sql, sizeof(sql), "CREATE DATABASE %s", f->dbname);
	pg_exec_on(admin_uri, sql);
	/* admin_uri with its database replaced */
	query = strchr(path, '?');
	snprintf(f->uri, sizeof(f->uri), "%.*s/%s%s", (int)(path - admin_uri), admin_uri, f->dbname,
		 query != NULL ? query : "");
}

static void pg_destroy(struct fixture *f)
{
	char sql[128];

	snprintf(sql, sizeof(sql), "DROP DATABASE IF EXISTS %s WITH (FORCE)", f->dbname);
	pg_exec_on(admin_uri, sql);
}

static int64_t pg_sql_int(struct fixture *f, const char *sql, const char *param)
{
	PGconn *c = PQconnectdb(f->uri);
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

static void pg_sql_exec(struct fixture *f, const char *sql)
{
	pg_exec_on(f->uri, sql);
}

static void pg_flip_body_byte(struct fixture *f, const char *id)
{
	char sql[256];

	snprintf(sql, sizeof(sql),
		 "UPDATE messages SET body = set_byte(body, 20, get_byte(body, 20) # 1)"
		 " WHERE id = '%s'",
		 id);
	pg_sql_exec(f, sql);
}

static const struct backend postgres_backend = {
    .name = "postgres",
    .create = pg_create,
    .destroy = pg_destroy,
    .sql_int = pg_sql_int,
    .sql_exec = pg_sql_exec,
    .flip_body_byte = pg_flip_body_byte,
};

/* ---- the fixture and helpers every case shares ---- */

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	char err[256];

	assert_non_null(f);
	be->create(f);
	if (hg_store_open(f->uri, &f->st, err, sizeof(err)) != HG_OK)
		fail_msg("cannot open the %s store: %s", be->name, err);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	hg_store_close(f->st);
	be->destroy(f);
	free(f);
	return 0;
}

static int64_t sql_int(struct fixture *f, const char *sql, const char *param)
{
	return be->sql_int(f, sql, param);
}

/* "Nothing waits" for endpoint: SQLite says HG_ENOTFOUND; PostgreSQL, whose
 * engines learn of other nodes' work by polling, says "look again soon"
 * (a due time after now). Both keep an idle engine from spinning. */
static void assert_nothing_due(struct hg_store *st, const char *endpoint)
{
	int64_t due = 0;
	int rc = hg_store_next_due(st, endpoint, &due);

	if (rc == HG_OK)
		assert_true(due > hg_now_ms());
	else
		assert_int_equal(rc, HG_ENOTFOUND);
}

/* ---- messages and dedupe ---- */

static void test_accept(void **state)
{
	struct fixture *f = *state;
	struct tmsg a;

	tmsg_init(&a, "github", "{\"a\":1}", 7, "header:X-GitHub-Delivery=1", NULL, NULL);
	assert_int_equal(put1(f->st, &a), HG_OK);
	assert_int_equal(a.m.outcome, HG_STORE_ACCEPTED);
	assert_string_equal(a.m.first_id, a.m.id);
	assert_int_equal(count(f->st, NULL), 1);
	assert_int_equal(count(f->st, "github"), 1);
	assert_int_equal(count(f->st, "stripe"), 0);
}

static void test_duplicate_returns_first_id(void **state)
{
	struct fixture *f = *state;
	struct tmsg a, b, c, other;

	tmsg_init(&a, "github", "one", 3, "k1", NULL, NULL);
	tmsg_init(&b, "github", "two", 3, "k1", NULL, NULL);
	tmsg_init(&c, "github", "three", 5, "k1", NULL, NULL);
	tmsg_init(&other, "stripe", "one", 3, "k1", NULL, NULL); /* keys are per source */
	assert_int_equal(put1(f->st, &a), HG_OK);
	assert_int_equal(put1(f->st, &b), HG_OK);
	assert_int_equal(put1(f->st, &c), HG_OK);
	assert_int_equal(put1(f->st, &other), HG_OK);
	assert_int_equal(b.m.outcome, HG_STORE_DUPLICATE);
	assert_string_equal(b.m.first_id, a.m.id);
	assert_int_equal(c.m.outcome, HG_STORE_DUPLICATE);
	assert_string_equal(c.m.first_id, a.m.id);
	assert_int_equal(other.m.outcome, HG_STORE_ACCEPTED);
	assert_int_equal(count(f->st, NULL), 2);
	assert_int_equal(sql_int(f, "SELECT dedupe_count FROM messages WHERE id = $1", a.m.id), 2);
	{
		struct hg_store_row row;

		assert_int_equal(hg_store_get_message(f->st, b.m.id, &row), HG_ENOTFOUND);
	}
}

static void test_partial_overlap_is_new(void **state)
{
	struct fixture *f = *state;
	struct tmsg a, b, c, d;

	tmsg_init(&a, "wa", "a", 1, "k:a", "k:b", NULL);
	tmsg_init(&b, "wa", "b", 1, "k:b", "k:c", NULL); /* k:b seen, k:c not: new */
	tmsg_init(&c, "wa", "c", 1, "k:c", "k:a", NULL); /* both seen: duplicate */
	tmsg_init(&d, "wa", "d", 1, "k:a", "k:b", "k:d");
	assert_int_equal(put1(f->st, &a), HG_OK);
	assert_int_equal(put1(f->st, &b), HG_OK);
	assert_int_equal(b.m.outcome, HG_STORE_ACCEPTED);
	assert_string_equal(b.m.first_id, b.m.id);
	assert_int_equal(put1(f->st, &c), HG_OK);
	assert_int_equal(c.m.outcome, HG_STORE_DUPLICATE);
	/* first_id follows the message's first key, k:c, which b brought. */
	assert_string_equal(c.m.first_id, b.m.id);
	assert_int_equal(put1(f->st, &d), HG_OK);
	assert_int_equal(d.m.outcome, HG_STORE_ACCEPTED);
	assert_int_equal(count(f->st, "wa"), 3);
	/* A partial overlap does not take the old keys over. */
	assert_int_equal(
	    sql_int(f, "SELECT count(*) FROM dedupe WHERE key = 'k:b' AND message_id = $1", a.m.id),
	    1);
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

static void test_no_keys_always_new(void **state)
{
	struct fixture *f = *state;
	struct tmsg a, b;

	/* No keys: nothing to match, always new. */
	tmsg_init(&a, "x", "same", 4, NULL, NULL, NULL);
	tmsg_init(&b, "x", "same", 4, NULL, NULL, NULL);
	assert_int_equal(put1(f->st, &a), HG_OK);
	assert_int_equal(a.m.outcome, HG_STORE_ACCEPTED);
	assert_int_equal(put1(f->st, &b), HG_OK);
	assert_int_equal(b.m.outcome, HG_STORE_ACCEPTED);
	assert_int_equal(count(f->st, "x"), 2);
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

	/* A new handle (another node, a restart) reads the same bytes. */
	hg_store_close(f->st);
	f->st = NULL;
	assert_int_equal(hg_store_open(f->uri, &f->st, err, sizeof(err)), HG_OK);
	assert_int_equal(hg_store_schema_version(f->st), HG_TEST_SCHEMA);
	assert_int_equal(count(f->st, NULL), 2);
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
	char err[256];

	assert_int_equal(hg_store_open(f->uri, &second, err, sizeof(err)), HG_OK);
	assert_int_equal(hg_store_open(f->uri, &third, err, sizeof(err)), HG_OK);
	assert_int_equal(hg_store_schema_version(third), HG_TEST_SCHEMA);
	hg_store_close(second);
	hg_store_close(third);
	assert_int_equal(sql_int(f, "SELECT count(*) FROM schema_version", NULL), HG_TEST_SCHEMA);

	be->sql_exec(f, "INSERT INTO schema_version (version, applied_ms) VALUES (99, 0)");
	assert_int_equal(hg_store_open(f->uri, &second, err, sizeof(err)), HG_EIO);
	assert_null(second);
	assert_non_null(strstr(err, "newer than this build"));
}

/* ---- the audit log ---- */

/* Appends from every handle form one chain that verifies; retention cuts
 * its head behind a chained checkpoint, from which verify starts. */
static void test_audit_append_verify_and_retention(void **state)
{
	struct fixture *f = *state;
	struct hg_audit_event ev[6];
	struct hg_store *other = NULL;
	char why[256], err[256];
	int64_t rows = -1, bad_seq = -1, removed = 0;
	int more = -1, i;

	assert_int_equal(hg_store_audit_verify(f->st, &rows, &bad_seq, why, sizeof(why)), HG_OK);
	assert_int_equal(rows, 0);
	for (i = 0; i < 6; i++)
		ev[i] = (struct hg_audit_event){.ts_ms = 1700000000000 + i * 1000,
						.event = "bad_signature",
						.source = "whatsapp",
						.client = "192.0.2.7",
						.reason = "signature mismatch",
						.count = i + 1};
	assert_int_equal(hg_store_audit_append(f->st, ev, 4), HG_OK);
	assert_int_equal(hg_store_open(f->uri, &other, err, sizeof(err)), HG_OK);
	assert_int_equal(hg_store_audit_append(other, ev + 4, 2), HG_OK);
	hg_store_close(other);
	assert_int_equal(hg_store_audit_verify(f->st, &rows, &bad_seq, why, sizeof(why)), HG_OK);
	assert_int_equal(rows, 6);
	assert_int_equal(sql_int(f, "SELECT count FROM audit_log WHERE seq = 6", NULL), 6);

	/* nothing old enough: nothing removed, no checkpoint */
	assert_int_equal(
	    hg_store_audit_purge(f->st, 1600000000000, 100, 1700000009000, &removed, &more), HG_OK);
	assert_int_equal(removed, 0);
	assert_int_equal(
	    hg_store_audit_purge(f->st, 1700000003500, 100, 1700000009000, &removed, &more), HG_OK);
	assert_int_equal(removed, 4);
	assert_int_equal(more, 0);
	assert_int_equal(hg_store_audit_verify(f->st, &rows, &bad_seq, why, sizeof(why)), HG_OK);
	assert_int_equal(rows, 3); /* 5, 6 and the checkpoint 7 */
	assert_non_null(strstr(why, "rows 1 to 4 were removed by audit_retention (checkpoint at "
				    "row 7)"));
	/* the chain goes on after the checkpoint */
	assert_int_equal(hg_store_audit_append(f->st, ev, 1), HG_OK);
	assert_int_equal(hg_store_audit_verify(f->st, &rows, &bad_seq, why, sizeof(why)), HG_OK);
	assert_int_equal(rows, 4);
}

/* ---- deliveries ---- */

/* Counts attempts into *arg's high nibble, and those whose head is
 * "ok\0\xff" into its low one. */
static int see_head(const struct hg_store_attempt_info *a, void *arg)
{
	int *seen = arg;

	*seen += 0x10;
	if (a->response_head_len == 4 && memcmp(a->response_head, "ok\0\xff", 4) == 0)
		(*seen)++;
	return 0;
}

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
	int heads;

	tmsg_init(&m, "src", "{}", 2, "k", NULL, NULL);
	m.m.targets = targets;
	m.m.n_targets = 2;
	assert_int_equal(put1(f->st, &m), HG_OK);
	tmsg_init(&dup, "src", "{}", 2, "k", NULL, NULL);
	dup.m.targets = targets;
	dup.m.n_targets = 2;
	assert_int_equal(put1(f->st, &dup), HG_OK); /* a duplicate makes no delivery */
	assert_int_equal(sql_int(f, "SELECT count(*) FROM deliveries", NULL), 2);

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
	    sql_int(f, "SELECT count(*) FROM deliveries WHERE status = 'delivering'", NULL), 1);
	/* node-b's failure, last attempt: dead */
	at.lease_owner = "node-b";
	at.status_code = -1;
	at.error = "connection refused";
	at.response_head = NULL;
	at.outcome = HG_DELIVERY_DEAD;
	assert_int_equal(hg_store_record_attempts(f->st, &at, 1), HG_OK);
	assert_int_equal(
	    sql_int(f,
		    "SELECT count(*) FROM deliveries WHERE status = 'dead'"
		    " AND lease_owner IS NULL AND last_status IS NULL AND attempts = 1",
		    NULL),
	    1);
	heads = 0;
	assert_int_equal(hg_store_message_attempts(f->st, m.m.id, see_head, &heads), HG_OK);
	assert_int_equal(heads, 0x21); /* both attempts; the head kept byte for byte */

	assert_int_equal(hg_store_retry_dead(f->st, out[0].id, NULL, 6000, &moved), HG_OK);
	assert_int_equal(moved, 1);
	assert_int_equal(
	    hg_store_retry_dead(f->st, "0190a000-0000-7000-8000-000000000000", NULL, 6000, &moved),
	    HG_ENOTFOUND);
	assert_int_equal(hg_store_retry_dead(f->st, NULL, "orders", 6000, &moved), HG_OK);
	assert_int_equal(moved, 0);
	assert_int_equal(hg_store_replay(f->st, m.m.id, eps, 1, 7000, ids), HG_OK);
	assert_int_equal(sql_int(f, "SELECT count(*) FROM deliveries WHERE id = $1", ids[0]), 1);
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

	be->sql_exec(f,
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
	assert_int_equal(sql_int(f,
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
		f,
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
	assert_nothing_due(f->st, "nowhere");
}

/* ---- management reads, stats and retention ---- */

/* A UUIDv7-shaped id whose time is ms (the store pages and purges by it). */
static void id_at(char out[HG_UUID_LEN + 1], int64_t ms, unsigned n)
{
	snprintf(out, HG_UUID_LEN + 1, "%08llx-%04llx-7000-8000-%012x",
		 (unsigned long long)((uint64_t)ms >> 16) & 0xffffffffull,
		 (unsigned long long)ms & 0xffffull, n);
}

/* Stores a message of source at ms with one key, delivered to the
 * endpoints given (NULL-terminated, may be empty). */
static void put_routed(struct fixture *f, const char *source, int64_t ms, unsigned n,
		       const char *const *endpoints, char id[HG_UUID_LEN + 1])
{
	struct hg_store_target targets[4];
	struct tmsg t;
	char key[32];
	size_t k = 0;

	snprintf(key, sizeof(key), "k%u", n);
	tmsg_init(&t, source, "{}", 2, key, NULL, NULL);
	id_at(t.m.id, ms, n);
	t.m.received_ms = ms;
	for (; endpoints != NULL && endpoints[k] != NULL; k++)
		targets[k] = (struct hg_store_target){.endpoint = endpoints[k], .due_ms = ms};
	t.m.targets = targets;
	t.m.n_targets = k;
	assert_int_equal(put1(f->st, &t), HG_OK);
	memcpy(id, t.m.id, HG_UUID_LEN + 1);
}

struct seen {
	char ids[64][HG_UUID_LEN + 1];
	int status[64];
	size_t n;
};

static int see_message(const struct hg_store_msg_info *m, void *arg)
{
	struct seen *s = arg;

	assert_true(s->n < 64);
	hg_strlcpy(s->ids[s->n], m->id, sizeof(s->ids[0]));
	s->status[s->n++] = m->status;
	return 0;
}

static int see_delivery(const struct hg_store_delivery_info *d, void *arg)
{
	struct seen *s = arg;

	assert_true(s->n < 64);
	hg_strlcpy(s->ids[s->n], d->id, sizeof(s->ids[0]));
	s->status[s->n++] = (int)d->status;
	return 0;
}

static struct seen list_msgs(struct hg_store *st, const struct hg_store_msg_filter *f)
{
	struct seen s = {0};

	assert_int_equal(hg_store_list_messages(st, f, see_message, &s), HG_OK);
	return s;
}

#define ANY_TIME .since_ms = INT64_MIN, .until_ms = INT64_MAX

/* Claims every due delivery of endpoint and records outcome for each. */
static void settle(struct hg_store *st, const char *endpoint, enum hg_delivery_status outcome)
{
	struct hg_store_claim_req req = {
	    .endpoint = endpoint, .limit = 16, .lease_until_ms = hg_now_ms() + 60000};
	struct hg_store_claimed got[16];
	struct hg_store_attempt a[16];
	size_t n = 0, i;

	assert_int_equal(
	    hg_store_claim_deliveries(st, "test", hg_now_ms() + 1000, &req, 1, got, &n), HG_OK);
	for (i = 0; i < n; i++)
		a[i] = (struct hg_store_attempt){
		    .delivery_id = got[i].id,
		    .lease_owner = "test",
		    .n = 1,
		    .started_ms = hg_now_ms(),
		    .duration_ms = 5,
		    .status_code = outcome == HG_DELIVERY_SUCCEEDED ? 200 : 500,
		    .error = outcome == HG_DELIVERY_SUCCEEDED ? NULL : "HTTP 500",
		    .response_head = (const uint8_t *)"\xff\x00ok",
		    .response_head_len = 4,
		    .outcome = outcome,
		    .next_attempt_ms = hg_now_ms() + 60000};
	assert_int_equal(hg_store_record_attempts(st, a, n), HG_OK);
}

struct backlogs {
	char name[4][HG_STORE_NAME_MAX + 1];
	int64_t pending[4], oldest[4];
	size_t n;
};

static int see_backlog(const struct hg_store_backlog *b, void *arg)
{
	struct backlogs *s = arg;

	assert_true(s->n < 4);
	hg_strlcpy(s->name[s->n], b->endpoint, sizeof(s->name[0]));
	s->pending[s->n] = b->pending;
	s->oldest[s->n++] = b->oldest_ms;
	return 0;
}

/* The backlog per endpoint: what waits (pending, failed, delivering), the
 * oldest's creation; done deliveries and subscriptions left out. */
static void test_backlog(void **state)
{
	struct fixture *f = *state;
	static const char *const to_ab[] = {"alpha", "beta", NULL};
	static const char *const to_a[] = {"alpha", NULL};
	static const char *const to_sub[] = {HG_STORE_SUB_PREFIX "0190", NULL};
	struct backlogs b = {0};
	int64_t t0 = hg_now_ms() - 60000;
	char id[HG_UUID_LEN + 1];

	assert_int_equal(hg_store_backlog(f->st, see_backlog, &b), HG_OK);
	assert_int_equal(b.n, 0);
	put_routed(f, "whatsapp", t0, 1, to_ab, id);
	put_routed(f, "whatsapp", t0 + 5000, 2, to_a, id);
	put_routed(f, "whatsapp", t0 + 6000, 3, to_sub, id);
	settle(f->st, "beta", HG_DELIVERY_DEAD);
	assert_int_equal(hg_store_backlog(f->st, see_backlog, &b), HG_OK);
	assert_int_equal(b.n, 1);
	assert_string_equal(b.name[0], "alpha");
	assert_int_equal(b.pending[0], 2);
	assert_int_equal(b.oldest[0], t0);

	/* a failed one still waits; a delivered one does not */
	settle(f->st, "alpha", HG_DELIVERY_FAILED);
	memset(&b, 0, sizeof(b));
	assert_int_equal(hg_store_backlog(f->st, see_backlog, &b), HG_OK);
	assert_int_equal(b.n, 1);
	assert_int_equal(b.pending[0], 2);
}

static void test_list_messages_pages_and_filters(void **state)
{
	struct fixture *f = *state;
	static const char *const to_ok[] = {"ok", NULL};
	static const char *const to_both[] = {"ok", "bad", NULL};
	char ids[9][HG_UUID_LEN + 1];
	int64_t t0 = hg_now_ms() - 100000;
	struct seen s, all = {0};
	unsigned i;

	/* 0..2 whatsapp without deliveries, 3..5 github to ok, 6..8 whatsapp to both */
	for (i = 0; i < 9; i++)
		put_routed(f, i < 3 || i >= 6 ? "whatsapp" : "github", t0 + i * 1000, i,
			   i < 3   ? NULL
			   : i < 6 ? to_ok
				   : to_both,
			   ids[i]);
	settle(f->st, "ok", HG_DELIVERY_SUCCEEDED);
	settle(f->st, "bad", HG_DELIVERY_DEAD);

	/* pages of 4 follow the cursor: newest first, no duplicates, no gaps */
	const char *before = NULL;
	char cursor[HG_UUID_LEN + 1];
	do {
		struct hg_store_msg_filter pf = {ANY_TIME, .status = -1, .before_id = before,
						 .limit = 4};
		s = list_msgs(f->st, &pf);
		for (i = 0; i < s.n; i++)
			memcpy(all.ids[all.n++], s.ids[i], sizeof(all.ids[0]));
		if (s.n > 0) {
			memcpy(cursor, s.ids[s.n - 1], sizeof(cursor));
			before = cursor;
		}
	} while (s.n == 4);
	assert_int_equal(all.n, 9);
	for (i = 0; i < 9; i++)
		assert_string_equal(all.ids[i], ids[8 - i]);

	struct hg_store_msg_filter by_source = {ANY_TIME, .status = -1, .source = "github"};
	s = list_msgs(f->st, &by_source);
	assert_int_equal(s.n, 3);
	assert_int_equal(s.status[0], HG_DELIVERY_SUCCEEDED);

	/* by dedupe key: any of those given, of that source only */
	static const char *const k7[] = {"nope", "k7"}, *const k4[] = {"k4"};
	struct hg_store_msg_filter by_key = {ANY_TIME, .status = -1, .source = "whatsapp",
					     .dedupe_keys = k7, .n_dedupe_keys = 2};
	s = list_msgs(f->st, &by_key);
	assert_int_equal(s.n, 1);
	assert_string_equal(s.ids[0], ids[7]);
	by_key.dedupe_keys = k4; /* github's key */
	by_key.n_dedupe_keys = 1;
	assert_int_equal(list_msgs(f->st, &by_key).n, 0);

	/* a message's state is its worst delivery's: one dead makes it dead */
	struct hg_store_msg_filter dead = {ANY_TIME, .status = HG_DELIVERY_DEAD};
	s = list_msgs(f->st, &dead);
	assert_int_equal(s.n, 3);
	assert_string_equal(s.ids[0], ids[8]);
	struct hg_store_msg_filter none = {ANY_TIME, .status = HG_STORE_NO_DELIVERIES};
	s = list_msgs(f->st, &none);
	assert_int_equal(s.n, 3);
	assert_string_equal(s.ids[2], ids[0]);

	struct hg_store_msg_filter window = {
	    .status = -1, .since_ms = t0 + 2000, .until_ms = t0 + 4000};
	s = list_msgs(f->st, &window);
	assert_int_equal(s.n, 2);
	assert_string_equal(s.ids[0], ids[3]);
	assert_string_equal(s.ids[1], ids[2]);

	struct hg_store_msg_filter one = {ANY_TIME, .status = -1, .id = ids[4]};
	s = list_msgs(f->st, &one);
	assert_int_equal(s.n, 1);
	assert_string_equal(s.ids[0], ids[4]);
}

static int see_attempt(const struct hg_store_attempt_info *a, void *arg)
{
	struct seen *s = arg;

	assert_int_equal(a->n, 1);
	assert_int_equal(a->response_head_len, 4);
	assert_memory_equal(a->response_head, "\xff\x00ok", 4);
	hg_strlcpy(s->ids[s->n], a->delivery_id, sizeof(s->ids[0]));
	s->status[s->n++] = a->status_code;
	return 0;
}

static void test_list_deliveries_and_attempts(void **state)
{
	struct fixture *f = *state;
	static const char *const to_both[] = {"ok", "bad", NULL};
	char id[HG_UUID_LEN + 1];
	struct seen s = {0}, att = {0};
	int64_t queued[HG_DELIVERY_DEAD + 1];

	put_routed(f, "whatsapp", hg_now_ms(), 1, to_both, id);
	put_routed(f, "whatsapp", hg_now_ms(), 2, to_both, id);
	assert_int_equal(hg_store_count_deliveries(f->st, queued), HG_OK);
	assert_int_equal(queued[HG_DELIVERY_PENDING], 4);
	settle(f->st, "bad", HG_DELIVERY_DEAD);

	struct hg_store_delivery_filter dead = {.status = HG_DELIVERY_DEAD};
	assert_int_equal(hg_store_list_deliveries(f->st, &dead, see_delivery, &s), HG_OK);
	assert_int_equal(s.n, 2);
	assert_int_equal(s.status[0], HG_DELIVERY_DEAD);
	assert_true(strcmp(s.ids[0], s.ids[1]) > 0); /* newest first */

	struct hg_store_delivery_filter ok = {.endpoint = "ok"};
	memset(&s, 0, sizeof(s));
	assert_int_equal(hg_store_list_deliveries(f->st, &ok, see_delivery, &s), HG_OK);
	assert_int_equal(s.n, 2);
	assert_int_equal(s.status[0], HG_DELIVERY_PENDING);

	struct hg_store_delivery_filter mine = {.message_id = id};
	memset(&s, 0, sizeof(s));
	assert_int_equal(hg_store_list_deliveries(f->st, &mine, see_delivery, &s), HG_OK);
	assert_int_equal(s.n, 2);

	assert_int_equal(hg_store_message_attempts(f->st, id, see_attempt, &att), HG_OK);
	assert_int_equal(att.n, 1); /* "ok" was not attempted yet */
	assert_int_equal(att.status[0], 500);

	assert_int_equal(hg_store_count_deliveries(f->st, queued), HG_OK);
	assert_int_equal(queued[HG_DELIVERY_PENDING], 2);
	assert_int_equal(queued[HG_DELIVERY_DEAD], 2);
	assert_int_equal(queued[HG_DELIVERY_SUCCEEDED], 0);
}

static void test_stats_add_and_read(void **state)
{
	struct fixture *f = *state;
	int64_t h = hg_stats_hour_of(hg_now_ms());
	struct hg_stats_row rows[3], got[3];

	memset(rows, 0, sizeof(rows));
	hg_strlcpy(rows[0].source, "whatsapp", sizeof(rows[0].source));
	rows[0].hour_ms = h;
	rows[0].count[HG_STAT_RECEIVED] = 5;
	rows[0].latency[10] = 2;
	rows[1] = rows[0];
	rows[1].hour_ms = h - HG_HOUR_MS;
	rows[2] = rows[0];
	hg_strlcpy(rows[2].source, "github", sizeof(rows[2].source));
	rows[2].count[HG_STAT_DEAD] = 1;
	assert_int_equal(hg_store_stats_add(f->st, rows, 3), HG_OK);
	assert_int_equal(hg_store_stats_add(f->st, rows, 1), HG_OK); /* adds, never replaces */

	memset(got, 0, sizeof(got));
	assert_int_equal(hg_store_stats_read(f->st, "whatsapp", h - HG_HOUR_MS, got, 2), HG_OK);
	assert_int_equal(got[0].count[HG_STAT_RECEIVED], 5);
	assert_int_equal(got[1].count[HG_STAT_RECEIVED], 10);
	assert_int_equal(got[1].latency[10], 4);
	assert_int_equal(got[1].count[HG_STAT_DEAD], 0);

	memset(got, 0, sizeof(got));
	assert_int_equal(hg_store_stats_read(f->st, NULL, h - HG_HOUR_MS, got, 3), HG_OK);
	assert_int_equal(got[1].count[HG_STAT_RECEIVED], 15);
	assert_int_equal(got[1].count[HG_STAT_DEAD], 1);
	assert_int_equal(got[1].latency[10], 6);
	assert_int_equal(got[2].count[HG_STAT_RECEIVED], 0); /* the next hour is empty */
}

static void test_purge_in_batches_keeps_audit_and_in_flight(void **state)
{
	struct fixture *f = *state;
	static const char *const to_ok[] = {"ok", NULL}, *const to_slow[] = {"slow", NULL};
	struct hg_audit_event ev = {.ts_ms = hg_now_ms(), .event = "bad_signature"};
	int64_t old = hg_now_ms() - 3 * 86400000LL, before = hg_now_ms() - 86400000LL;
	struct hg_store_purged got = {0};
	struct hg_store_claim_req req = {
	    .endpoint = "slow", .limit = 1, .lease_until_ms = hg_now_ms() + 600000};
	struct hg_store_claimed claimed[1];
	struct hg_stats_row row = {.source = "s", .hour_ms = hg_stats_hour_of(old)};
	char id[HG_UUID_LEN + 1], keep[HG_UUID_LEN + 1], fresh[HG_UUID_LEN + 1];
	size_t n = 0;
	int more = 0;

	for (unsigned i = 0; i < 3; i++)
		put_routed(f, "whatsapp", old + i, i, to_ok, id);
	settle(f->st, "ok", HG_DELIVERY_SUCCEEDED);
	put_routed(f, "whatsapp", old + 10, 10, to_slow, keep); /* in flight: stays */
	assert_int_equal(
	    hg_store_claim_deliveries(f->st, "test", hg_now_ms(), &req, 1, claimed, &n), HG_OK);
	assert_int_equal(n, 1);
	put_routed(f, "whatsapp", hg_now_ms(), 11, NULL, fresh);
	row.count[HG_STAT_RECEIVED] = 1;
	assert_int_equal(hg_store_stats_add(f->st, &row, 1), HG_OK);
	assert_int_equal(hg_store_audit_append(f->st, &ev, 1), HG_OK);

	assert_int_equal(hg_store_purge(f->st, before, 2, &got, &more), HG_OK);
	assert_int_equal(got.messages, 2);
	assert_int_equal(more, 1);
	assert_int_equal(hg_store_purge(f->st, before, 2, &got, &more), HG_OK);
	assert_int_equal(got.messages, 3);
	assert_int_equal(more, 0);
	assert_int_equal(got.deliveries, 3);
	assert_int_equal(got.attempts, 3);
	assert_int_equal(got.dedupe_keys, 3);
	assert_int_equal(got.stats_hours, 1);

	assert_int_equal(count(f->st, NULL), 2);
	assert_int_equal(sql_int(f, "SELECT count(*) FROM dedupe", NULL), 2);
	assert_int_equal(sql_int(f, "SELECT count(*) FROM attempts", NULL), 0);
	assert_int_equal(sql_int(f, "SELECT count(*) FROM messages WHERE id = $1", keep), 1);
	assert_int_equal(sql_int(f, "SELECT count(*) FROM messages WHERE id = $1", fresh), 1);
	assert_int_equal(sql_int(f, "SELECT count(*) FROM audit_log", NULL), 1);
	assert_int_equal(sql_int(f, "SELECT count(*) FROM stats_latency", NULL), 0);
}

struct audit_seen {
	int64_t seq[16];
	char event[16][32];
	char reason[16][96];
	char client[16][64];
	size_t n;
};

static int see_audit(const struct hg_store_audit_row *row, void *arg)
{
	struct audit_seen *a = arg;

	assert_true(a->n < 16);
	a->seq[a->n] = row->seq;
	hg_strlcpy(a->event[a->n], row->ev.event, sizeof(a->event[0]));
	hg_strlcpy(a->reason[a->n], row->ev.reason ? row->ev.reason : "", sizeof(a->reason[0]));
	hg_strlcpy(a->client[a->n], row->ev.client ? row->ev.client : "", sizeof(a->client[0]));
	assert_int_equal(strlen(row->hash), 64);
	a->n++;
	return 0;
}

/* audit_received: one message_received row per accepted message, in the
 * batch's transaction, after the caller's rows; none for a duplicate or a
 * message that does not ask; the chain still verifies. */
static void test_audit_received_rows(void **state)
{
	struct fixture *f = *state;
	struct hg_audit_event ev = {.ts_ms = hg_now_ms(), .event = "config_loaded"};
	struct hg_store_audit_filter all = {.since_ms = INT64_MIN, .until_ms = INT64_MAX};
	struct tmsg t[4];
	struct hg_store_msg *v[4];
	struct audit_seen seen = {0};
	char why[256], want[96];
	int64_t rows = 0, bad = 0;
	int i;

	tmsg_init(&t[0], "wa", "a", 1, "k1", NULL, NULL);
	tmsg_init(&t[1], "wa", "b", 1, "k1", NULL, NULL); /* duplicate of t[0] */
	tmsg_init(&t[2], "wa", "c", 1, "k2", NULL, NULL);
	tmsg_init(&t[3], "gh", "d", 1, "k3", NULL, NULL); /* does not ask */
	for (i = 0; i < 4; i++) {
		t[i].m.audit_received = i < 3;
		t[i].m.client = "192.0.2.9";
		v[i] = &t[i].m;
	}
	assert_int_equal(hg_store_put_batch(f->st, v, 4, &ev, 1), HG_OK);
	assert_int_equal(t[1].m.outcome, HG_STORE_DUPLICATE);
	assert_int_equal(hg_store_audit_list(f->st, &all, see_audit, &seen), HG_OK);
	assert_int_equal(seen.n, 3);
	assert_string_equal(seen.event[2], "config_loaded"); /* oldest last */
	assert_string_equal(seen.event[1], HG_AUDIT_RECEIVED_EVENT);
	snprintf(want, sizeof(want), "accepted message %s", t[0].m.id);
	assert_string_equal(seen.reason[1], want);
	assert_string_equal(seen.client[1], "192.0.2.9");
	snprintf(want, sizeof(want), "accepted message %s", t[2].m.id);
	assert_string_equal(seen.reason[0], want);
	assert_int_equal(hg_store_audit_verify(f->st, &rows, &bad, why, sizeof(why)), HG_OK);
	assert_int_equal(rows, 3);
}

/* hg_store_audit_list: newest first, filters, and a seq cursor. */
static void test_audit_list_filters_and_pages(void **state)
{
	struct fixture *f = *state;
	struct hg_audit_event ev[6];
	struct hg_store_audit_filter q = {.since_ms = INT64_MIN, .until_ms = INT64_MAX, .limit = 2};
	struct audit_seen seen = {0};
	int i;

	for (i = 0; i < 6; i++)
		ev[i] = (struct hg_audit_event){.ts_ms = 1700000000000 + i * 1000,
						.event = i % 2 ? "read_message" : "bad_signature",
						.source = i < 3 ? "wa" : "gh",
						.reason = "r"};
	assert_int_equal(hg_store_audit_append(f->st, ev, 6), HG_OK);
	assert_int_equal(hg_store_audit_list(f->st, &q, see_audit, &seen), HG_OK);
	assert_int_equal(seen.n, 2);
	assert_int_equal(seen.seq[0], 6);
	assert_int_equal(seen.seq[1], 5);
	q.before_seq = seen.seq[1];
	assert_int_equal(hg_store_audit_list(f->st, &q, see_audit, &seen), HG_OK);
	assert_int_equal(seen.n, 4);
	assert_int_equal(seen.seq[2], 4);
	assert_int_equal(seen.seq[3], 3);

	memset(&seen, 0, sizeof(seen));
	q = (struct hg_store_audit_filter){
	    .since_ms = 1700000001000, .until_ms = 1700000005000, .event = "read_message"};
	assert_int_equal(hg_store_audit_list(f->st, &q, see_audit, &seen), HG_OK);
	assert_int_equal(seen.n, 2); /* rows 4 and 2; row 6 is at the bound */
	assert_int_equal(seen.seq[0], 4);
	assert_int_equal(seen.seq[1], 2);
	memset(&seen, 0, sizeof(seen));
	q = (struct hg_store_audit_filter){
	    .since_ms = INT64_MIN, .until_ms = INT64_MAX, .source = "gh", .event = "bad_signature"};
	assert_int_equal(hg_store_audit_list(f->st, &q, see_audit, &seen), HG_OK);
	assert_int_equal(seen.n, 1);
	assert_int_equal(seen.seq[0], 5);
}

/* A purge scoped to some sources, or to every source but some, touches
 * only their messages and hourly stats. */
static void test_purge_scoped_by_source(void **state)
{
	struct fixture *f = *state;
	static const char *const wa[] = {"wa"}, *const own[] = {"phi", "wa"};
	const struct hg_store_purge_scope only_wa = {.sources = wa, .n = 1};
	const struct hg_store_purge_scope rest = {.sources = own, .n = 2, .except = 1};
	const struct hg_store_purge_scope none = {.sources = own, .n = 0};
	const char *const sources[] = {"phi", "wa", "gh", HG_STORE_OUTBOUND_SOURCE};
	int64_t old = hg_now_ms() - 3 * 86400000LL, before = hg_now_ms() - 86400000LL;
	struct hg_stats_row rows[4];
	struct hg_store_purged got = {0};
	char id[HG_UUID_LEN + 1];
	int more = 0;
	unsigned i;

	for (i = 0; i < 8; i++)
		put_routed(f, sources[i % 4], old + i, i, NULL, id);
	for (i = 0; i < 4; i++) {
		memset(&rows[i], 0, sizeof(rows[i]));
		hg_strlcpy(rows[i].source, sources[i], sizeof(rows[i].source));
		rows[i].hour_ms = hg_stats_hour_of(old);
		rows[i].count[HG_STAT_RECEIVED] = 1;
	}
	assert_int_equal(hg_store_stats_add(f->st, rows, 4), HG_OK);

	assert_int_equal(hg_store_purge_scoped(f->st, &none, before, 10, &got, &more), HG_OK);
	assert_int_equal(got.messages, 0);
	assert_int_equal(hg_store_purge_scoped(f->st, &only_wa, before, 10, &got, &more), HG_OK);
	assert_int_equal(got.messages, 2);
	assert_int_equal(got.stats_hours, 1);
	assert_int_equal(more, 0);
	assert_int_equal(count(f->st, "wa"), 0);
	assert_int_equal(count(f->st, "phi"), 2);
	assert_int_equal(count(f->st, "gh"), 2);

	memset(&got, 0, sizeof(got));
	assert_int_equal(hg_store_purge_scoped(f->st, &rest, before, 3, &got, &more), HG_OK);
	assert_int_equal(got.messages, 3);
	assert_int_equal(more, 1); /* batched as the unscoped purge */
	assert_int_equal(hg_store_purge_scoped(f->st, &rest, before, 3, &got, &more), HG_OK);
	assert_int_equal(got.messages, 4);
	assert_int_equal(more, 0);
	assert_int_equal(got.stats_hours, 2); /* gh's and @outbound's */
	assert_int_equal(count(f->st, NULL), 2);
	assert_int_equal(count(f->st, "phi"), 2);
	assert_int_equal(sql_int(f, "SELECT count(*) FROM stats_hourly", NULL), 1);
}

/* hg_housekeep_purge_config: each source under its own retention (0: kept),
 * the rest under the top-level one. */
static void test_purge_config_per_source_retention(void **state)
{
	struct fixture *f = *state;
	struct hg_source srcs[3] = {{.name = "phi", .retention_ms = 0},
				    {.name = "wa", .retention_ms = 86400000LL},
				    {.name = "gh", .retention_ms = -1}};
	struct hg_config cfg = {.sources = srcs, .n_sources = 3, .retention_ms = 5 * 86400000LL};
	const char *const sources[] = {"phi", "wa", "gh", HG_STORE_OUTBOUND_SOURCE};
	int64_t now = hg_now_ms(), old = now - 3 * 86400000LL;
	struct hg_store_purged got = {0};
	char id[HG_UUID_LEN + 1];
	unsigned i;

	for (i = 0; i < 4; i++)
		put_routed(f, sources[i], old + i, i, NULL, id);     /* 3 days old */
	put_routed(f, "gh", now - 6 * 86400000LL, 10, NULL, id);     /* 6 days old */
	put_routed(f, "phi", now - 4000 * 86400000LL, 11, NULL, id); /* 11 years old */
	assert_int_equal(hg_housekeep_purge_config(f->st, &cfg, now, NULL, &got), HG_OK);
	assert_int_equal(got.messages, 2); /* wa's (1 day) and the 6-day-old gh */
	assert_int_equal(count(f->st, "phi"), 2);
	assert_int_equal(count(f->st, "wa"), 0);
	assert_int_equal(count(f->st, "gh"), 1);
	assert_int_equal(count(f->st, HG_STORE_OUTBOUND_SOURCE), 1);
	cfg.retention_ms = 86400000LL;
	assert_int_equal(hg_housekeep_purge_config(f->st, &cfg, now, NULL, &got), HG_OK);
	assert_int_equal(count(f->st, "gh"), 0);
	assert_int_equal(count(f->st, HG_STORE_OUTBOUND_SOURCE), 0);
	assert_int_equal(count(f->st, "phi"), 2); /* kept forever */
}

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

/* ---- outbound: API keys and subscriptions ---- */

static const char sec1[] = "a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f90";
static const char sec2[] = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";

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
	struct hg_store *st = ((struct fixture *)*state)->st;
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

/* Collects the owner ids an api_key_each walk gives, joined by ','. */
static int key_seen(const struct hg_store_api_key *k, void *arg)
{
	char *out = arg;
	size_t n = strlen(out);

	snprintf(out + n, 256 - n, "%s%s/%s", n > 0 ? "," : "", k->owner_id,
		 k->role == HG_STORE_ROLE_PUBLISHER ? "pub" : "own");
	return 0;
}

static void test_api_keys_list_revoke(void **state)
{
	struct hg_store *st = ((struct fixture *)*state)->st;
	struct hg_store_api_key k[3];
	const char *owners[3] = {"o-1", "o-2", "o-1"};
	char seen[256];

	for (int i = 0; i < 3; i++) {
		memset(&k[i], 0, sizeof(k[i]));
		hg_uuid7(k[i].id);
		memset(k[i].token_hash, 'b' + i, HG_STORE_TOKEN_HASH_LEN);
		hg_strlcpy(k[i].owner_id, owners[i], sizeof(k[i].owner_id));
		k[i].role = i == 2 ? HG_STORE_ROLE_PUBLISHER : HG_STORE_ROLE_OWNER;
		k[i].created_ms = 10 + i;
		assert_int_equal(hg_store_api_key_put(st, &k[i]), HG_OK);
	}
	seen[0] = '\0';
	assert_int_equal(hg_store_api_key_each(st, NULL, key_seen, seen), HG_OK);
	assert_string_equal(seen, "o-1/own,o-2/own,o-1/pub"); /* oldest first */
	seen[0] = '\0';
	assert_int_equal(hg_store_api_key_each(st, "o-1", key_seen, seen), HG_OK);
	assert_string_equal(seen, "o-1/own,o-1/pub");
	seen[0] = '\0';
	assert_int_equal(hg_store_api_key_each(st, "nobody", key_seen, seen), HG_OK);
	assert_string_equal(seen, "");

	/* revoked: gone from the list and no longer found by its token */
	assert_int_equal(hg_store_api_key_delete(st, k[0].id), HG_OK);
	assert_int_equal(hg_store_api_key_find(st, k[0].token_hash, &k[1]), HG_ENOTFOUND);
	assert_int_equal(hg_store_api_key_delete(st, k[0].id), HG_ENOTFOUND);
	seen[0] = '\0';
	assert_int_equal(hg_store_api_key_each(st, "o-1", key_seen, seen), HG_OK);
	assert_string_equal(seen, "o-1/pub");
}

static int count_one(const struct hg_store_sub *s, void *arg)
{
	(void)s;
	(*(int *)arg)++;
	return 0;
}

static void test_sub_crud_and_scope(void **state)
{
	struct hg_store *st = ((struct fixture *)*state)->st;
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
	struct hg_store *st = ((struct fixture *)*state)->st;
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
	assert_nothing_due(st, "sub:");
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
	struct hg_store *st = ((struct fixture *)*state)->st;
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

/* ---- alert state ---- */

static int count_alerts(const struct hg_store_alert *a, void *arg)
{
	int *n = arg;

	*n += a->firing ? 100 : 1;
	return 0;
}

static int alert_updated(const struct hg_store_alert *a, void *arg)
{
	*(int64_t *)arg = a->updated_ms;
	return 0;
}

/* The state changes by compare-and-set: the first "fire" changes it, the
 * second (another node) does not; the same for "resolve"; resolved rows
 * are listed while recent. */
static void test_alert_state(void **state)
{
	struct fixture *f = *state;
	struct hg_store_alert a = {
	    .rule = "bad_signatures", .source = "wa", .firing = 1, .value = 6, .threshold = 5};
	int changed = -1, n = 0;
	int64_t updated = 0;

	assert_int_equal(hg_store_alert_set(f->st, &a, 1000, &changed), HG_OK);
	assert_int_equal(changed, 1);
	assert_int_equal(hg_store_alert_set(f->st, &a, 1001, &changed), HG_OK);
	assert_int_equal(changed, 0);
	assert_int_equal(hg_store_alert_list(f->st, 5000, count_alerts, &n), HG_OK);
	assert_int_equal(n, 100);
	/* firing it again was a refresh: no change, a newer updated_ms */
	assert_int_equal(hg_store_alert_list(f->st, 5000, alert_updated, &updated), HG_OK);
	assert_int_equal(updated, 1001);
	a.firing = 0;
	assert_int_equal(hg_store_alert_set(f->st, &a, 2000, &changed), HG_OK);
	assert_int_equal(changed, 1);
	assert_int_equal(hg_store_alert_set(f->st, &a, 2001, &changed), HG_OK);
	assert_int_equal(changed, 0);
	n = 0;
	assert_int_equal(hg_store_alert_list(f->st, 2000, count_alerts, &n), HG_OK);
	assert_int_equal(n, 1);
	n = 0;
	assert_int_equal(hg_store_alert_list(f->st, 2001, count_alerts, &n), HG_OK);
	assert_int_equal(n, 0);
	a.firing = 1; /* fires again: a new episode */
	assert_int_equal(hg_store_alert_set(f->st, &a, 3000, &changed), HG_OK);
	assert_int_equal(changed, 1);
}

/* ---- WhatsApp media jobs ---- */

static int count_media(const struct hg_store_media *m, void *arg)
{
	(void)m;
	++*(int *)arg;
	return 0;
}

/* Jobs come with an accepted message only (same transaction), a claim
 * takes each due job once until its lease passes, an update is read back,
 * the old stored files are listed, and a purge of the message removes its
 * rows. */
static void test_media_jobs(void **state)
{
	struct fixture *f = *state;
	struct hg_store_media_ref refs[2] = {
	    {.graph_id = "1234567890", .mime = "image/jpeg", .sha256 = "abc="},
	    {.graph_id = "987", .mime = NULL, .sha256 = NULL}};
	struct hg_store_media m, got;
	struct hg_store_purged purged = {0};
	struct tmsg t, dup;
	int n = 0, more = 0;

	hg_uuid7(refs[0].id);
	hg_uuid7(refs[1].id);
	tmsg_init(&t, "wa", "{}", 2, "wamid.1", NULL, NULL);
	t.m.media = refs;
	t.m.n_media = 2;
	assert_int_equal(put1(f->st, &t), HG_OK);
	tmsg_init(&dup, "wa", "{}", 2, "wamid.1", NULL, NULL);
	dup.m.media = refs; /* a duplicate brings no job (the ids would clash) */
	dup.m.n_media = 2;
	assert_int_equal(put1(f->st, &dup), HG_OK);
	assert_int_equal(dup.m.outcome, HG_STORE_DUPLICATE);
	assert_int_equal(hg_store_media_list(f->st, t.m.id, count_media, &n), HG_OK);
	assert_int_equal(n, 2);

	assert_int_equal(hg_store_media_claim(f->st, t.m.received_ms, t.m.received_ms + 60000, &m),
			 HG_OK);
	assert_string_equal(m.message_id, t.m.id);
	assert_int_equal(m.state, HG_MEDIA_PENDING);
	assert_int_equal(m.attempts, 1);
	assert_int_equal(m.next_try_ms, t.m.received_ms + 60000);
	assert_int_equal(
	    hg_store_media_claim(f->st, t.m.received_ms, t.m.received_ms + 60000, &got), HG_OK);
	assert_string_not_equal(got.id, m.id);
	assert_int_equal(
	    hg_store_media_claim(f->st, t.m.received_ms, t.m.received_ms + 60000, &got),
	    HG_ENOTFOUND);
	/* the lease passed (the fetcher died): claimed again */
	assert_int_equal(
	    hg_store_media_claim(f->st, t.m.received_ms + 60000, t.m.received_ms + 120000, &got),
	    HG_OK);
	assert_int_equal(got.attempts, 2);

	m.state = HG_MEDIA_STORED;
	m.size = 4321;
	hg_strlcpy(m.file, m.id, sizeof(m.file));
	hg_strlcpy(m.key_id, "0011223344556677", sizeof(m.key_id));
	hg_strlcpy(m.mime, "image/png", sizeof(m.mime));
	assert_int_equal(hg_store_media_update(f->st, &m, t.m.received_ms + 5), HG_OK);
	assert_int_equal(hg_store_media_get(f->st, m.id, &got), HG_OK);
	assert_int_equal(got.state, HG_MEDIA_STORED);
	assert_int_equal(got.size, 4321);
	assert_string_equal(got.file, m.id);
	assert_string_equal(got.key_id, "0011223344556677");
	assert_string_equal(got.mime, "image/png");
	assert_string_equal(got.graph_id, m.graph_id);
	assert_string_equal(got.source, "wa");
	assert_int_equal(got.updated_ms, t.m.received_ms + 5);
	assert_int_equal(hg_store_media_get(f->st, "nope", &got), HG_ENOTFOUND);
	{
		int64_t counts[HG_MEDIA_EXPIRED + 1], bytes = -1;

		assert_int_equal(hg_store_media_counts(f->st, counts, &bytes), HG_OK);
		assert_int_equal(counts[HG_MEDIA_STORED], 1);
		assert_int_equal(counts[HG_MEDIA_PENDING], 1);
		assert_int_equal(counts[HG_MEDIA_FAILED], 0);
		assert_int_equal(bytes, 4321);
	}

	n = 0;
	assert_int_equal(hg_store_media_old(f->st, "wa", t.m.received_ms + 1, 10, count_media, &n),
			 HG_OK);
	assert_int_equal(n, 1); /* the stored one, not the pending one */
	n = 0;
	assert_int_equal(hg_store_media_old(f->st, "wa", t.m.received_ms, 10, count_media, &n),
			 HG_OK);
	assert_int_equal(n, 0);

	assert_int_equal(hg_store_purge(f->st, t.m.received_ms + 1, 100, &purged, &more), HG_OK);
	assert_int_equal(purged.messages, 1);
	n = 0;
	assert_int_equal(hg_store_media_list(f->st, t.m.id, count_media, &n), HG_OK);
	assert_int_equal(n, 0);
}

/* A delivery deferred for its media goes back to pending, due then, with
 * no attempt counted; a lease someone else holds is left alone. */
static void test_media_defer(void **state)
{
	struct fixture *f = *state;
	struct hg_store_target tg = {.endpoint = "app", .due_ms = 1000};
	struct hg_store_claim_req req = {.endpoint = "app", .limit = 1, .lease_until_ms = 60000};
	struct hg_store_claimed c;
	struct tmsg t;
	size_t n = 0;
	int64_t due = 0;

	tmsg_init(&t, "wa", "{}", 2, "k-defer", NULL, NULL);
	t.m.targets = &tg;
	t.m.n_targets = 1;
	assert_int_equal(put1(f->st, &t), HG_OK);
	assert_int_equal(hg_store_claim_deliveries(f->st, "node-a", 2000, &req, 1, &c, &n), HG_OK);
	assert_int_equal(n, 1);
	assert_int_equal(hg_store_media_defer(f->st, c.id, "node-b", 2500), HG_OK);
	assert_int_equal(hg_store_next_due(f->st, "app", &due), HG_OK);
	assert_int_equal(due, 60000); /* node-b holds no lease: still node-a's */
	assert_int_equal(hg_store_media_defer(f->st, c.id, "node-a", 2500), HG_OK);
	assert_int_equal(hg_store_next_due(f->st, "app", &due), HG_OK);
	assert_int_equal(due, 2500);
	n = 0;
	assert_int_equal(hg_store_claim_deliveries(f->st, "node-a", 2400, &req, 1, &c, &n), HG_OK);
	assert_int_equal(n, 0);
	assert_int_equal(hg_store_claim_deliveries(f->st, "node-a", 2500, &req, 1, &c, &n), HG_OK);
	assert_int_equal(n, 1);
	assert_int_equal(c.attempts, 0);
}

/* ---- encryption at rest ---- */

static const uint8_t key_a[32] = {0xa1, 0xa2, 0xa3};
static const uint8_t key_b[32] = {0xb1, 0xb2, 0xb3};

/* Puts keys[0..n) in use for st's database, as the daemon does at start. */
static void use_keys(struct fixture *f, const uint8_t *const *keys, size_t n)
{
	uint8_t(*k)[32] = calloc(n + 1, 32);
	char err[512];
	size_t i;

	assert_non_null(k);
	for (i = 0; i < n; i++)
		memcpy(k[i], keys[i], 32);
	if (hg_store_keys_load(f->uri, (const uint8_t(*)[32])k, n, err, sizeof(err)) != HG_OK)
		fail_msg("keys refused: %s", err);
	free(k);
}

static int crypt_teardown(void **state)
{
	hg_store_keys_release();
	return teardown(state);
}

/* A message of source "wa" with body, one header and one dedupe key. */
static void put_sealed(struct fixture *f, struct tmsg *t, const char *body, const char *key,
		       enum hg_store_outcome want)
{
	tmsg_init(t, "wa", body, strlen(body), key, NULL, NULL);
	t->m.headers_json = "{\"x-phone\":\"+15550009999\"}";
	assert_int_equal(put1(f->st, t), HG_OK);
	assert_int_equal(t->m.outcome, want);
}

static void assert_body(struct hg_store *st, const char *id, const char *body)
{
	struct hg_store_row row;

	assert_int_equal(hg_store_get_message(st, id, &row), HG_OK);
	assert_int_equal(row.body_len, strlen(body));
	assert_memory_equal(row.body, body, row.body_len);
	hg_store_row_free(&row);
}

static int list_size(const struct hg_store_msg_info *m, void *arg)
{
	*(int64_t *)arg = m->body_len;
	return 1;
}

static int keep_head(const struct hg_store_attempt_info *a, void *arg)
{
	hg_strlcpy(arg, a->response_head != NULL ? (const char *)a->response_head : "", 64);
	return 0;
}

/* With keys in use nothing a sender sent is stored as it came: the body
 * is longer by the seal, the header and the dedupe key are not there in
 * clear, attempts' answers and subscription secrets are sealed too; and
 * every read gives back exactly what was stored. */
static void test_crypt_sealed_at_rest(void **state)
{
	static const char body[] = "{\"text\":\"MARKER-secret-text\"}";
	const uint8_t *keys[] = {key_a};
	struct fixture *f = *state;
	struct hg_store_target t = {.endpoint = "app", .due_ms = 1000};
	struct hg_store_claim_req req = {.endpoint = "app", .limit = 1, .lease_until_ms = 99999};
	struct hg_store_claimed got;
	struct hg_store_attempt at = {0};
	struct hg_store_row row;
	struct hg_store_sub sub;
	struct tmsg a, dup;
	char sub_id[HG_UUID_LEN + 1], head[64] = "";
	int64_t size = 0;
	size_t n = 0;

	use_keys(f, keys, 1);
	tmsg_init(&a, "wa", body, strlen(body), "wamid.MARKER", NULL, NULL);
	a.m.headers_json = "{\"x-phone\":\"+15550009999\"}";
	a.m.targets = &t;
	a.m.n_targets = 1;
	assert_int_equal(put1(f->st, &a), HG_OK);
	assert_int_equal(sql_int(f, "SELECT count(*) FROM messages WHERE key_id IS NOT NULL", NULL),
			 1);
	assert_int_equal(sql_int(f, "SELECT length(body) FROM messages WHERE id = $1", a.m.id),
			 (int64_t)strlen(body) + 28);
	assert_int_equal(
	    sql_int(f, "SELECT count(*) FROM messages WHERE headers LIKE '%+1555%'", NULL), 0);
	assert_int_equal(sql_int(f, "SELECT count(*) FROM dedupe WHERE key = $1", "wamid.MARKER"),
			 0);
	assert_int_equal(sql_int(f, "SELECT count(*) FROM dedupe WHERE key LIKE 'h1:%'", NULL), 1);

	assert_int_equal(hg_store_get_message(f->st, a.m.id, &row), HG_OK);
	assert_int_equal(row.body_len, strlen(body));
	assert_memory_equal(row.body, body, row.body_len);
	assert_string_equal(row.headers_json, "{\"x-phone\":\"+15550009999\"}");
	hg_store_row_free(&row);
	put_sealed(f, &dup, "again", "wamid.MARKER", HG_STORE_DUPLICATE);
	assert_string_equal(dup.m.first_id, a.m.id);
	struct hg_store_msg_filter filt = {
	    .id = a.m.id, .status = -1, .since_ms = INT64_MIN, .until_ms = INT64_MAX};
	assert_int_equal(hg_store_list_messages(f->st, &filt, list_size, &size), HG_OK);
	assert_int_equal(size, (int64_t)strlen(body)); /* what was sent, not what is stored */

	/* an attempt's answer */
	assert_int_equal(hg_store_claim_deliveries(f->st, "node", 2000, &req, 1, &got, &n), HG_OK);
	assert_int_equal(n, 1);
	at.delivery_id = got.id;
	at.lease_owner = "node";
	at.n = 1;
	at.status_code = 500;
	at.error = "HTTP 500";
	at.response_head = (const uint8_t *)"MARKER-answer";
	at.response_head_len = 13;
	at.outcome = HG_DELIVERY_FAILED;
	at.next_attempt_ms = 5000;
	assert_int_equal(hg_store_record_attempts(f->st, &at, 1), HG_OK);
	assert_int_equal(sql_int(f, "SELECT count(*) FROM attempts WHERE key_id IS NOT NULL", NULL),
			 1);
	assert_int_equal(sql_int(f, "SELECT length(response_head) FROM attempts", NULL), 13 + 28);
	assert_int_equal(hg_store_message_attempts(f->st, a.m.id, keep_head, head), HG_OK);
	assert_string_equal(head, "MARKER-answer");

	/* a subscription's secrets */
	make_sub(f->st, "alice", "https://a.example/h", sub_id);
	assert_int_equal(sql_int(f, "SELECT count(*) FROM subscriptions WHERE secret = $1", sec1),
			 0);
	assert_int_equal(hg_store_sub_get(f->st, sub_id, "alice", &sub), HG_OK);
	assert_string_equal(sub.secret, sec1);
	assert_string_equal(sub.key_id, "");
	hg_store_sub_free(&sub);
	assert_int_equal(hg_store_sub_set_secret(f->st, sub_id, NULL, sec2, sec1, 9000, 3000),
			 HG_OK);
	assert_int_equal(
	    sql_int(f, "SELECT count(*) FROM subscriptions WHERE old_secret = $1", sec1), 0);
	assert_int_equal(hg_store_sub_get(f->st, sub_id, NULL, &sub), HG_OK);
	assert_string_equal(sub.secret, sec2);
	assert_string_equal(sub.old_secret, sec1);
	hg_store_sub_free(&sub);
}

/* A changed byte, or a sealed value copied from another row, is refused
 * with HG_EAUTH (and a log line naming the row); the rows around it still
 * read, and a rekey stops at it naming it. */
static void test_crypt_tamper_refused(void **state)
{
	const uint8_t *keys[] = {key_a};
	struct fixture *f = *state;
	struct hg_store_row rows[2];
	struct hg_store_sub sub;
	struct tmsg a, b, c;
	char sql[512], x[HG_UUID_LEN + 1], y[HG_UUID_LEN + 1], err[512];
	const char *ids[2];
	int rcs[2];

	use_keys(f, keys, 1);
	put_sealed(f, &a, "first body, long enough", "k-a", HG_STORE_ACCEPTED);
	put_sealed(f, &b, "second body", "k-b", HG_STORE_ACCEPTED);
	put_sealed(f, &c, "third body", "k-c", HG_STORE_ACCEPTED);
	be->flip_body_byte(f, a.m.id);
	assert_int_equal(hg_store_get_message(f->st, a.m.id, &rows[0]), HG_EAUTH);
	/* b's sealed body and key on c's row: c does not open */
	snprintf(sql, sizeof(sql),
		 "UPDATE messages SET body = (SELECT body FROM messages WHERE id = '%s'),"
		 " headers = (SELECT headers FROM messages WHERE id = '%s') WHERE id = '%s'",
		 b.m.id, b.m.id, c.m.id);
	be->sql_exec(f, sql);
	ids[0] = c.m.id;
	ids[1] = b.m.id;
	hg_store_get_messages(f->st, ids, 2, rows, rcs);
	assert_int_equal(rcs[0], HG_EAUTH);
	assert_int_equal(rcs[1], HG_OK);
	assert_memory_equal(rows[1].body, "second body", 11);
	hg_store_row_free(&rows[1]);

	make_sub(f->st, "alice", "https://a.example/h", x);
	make_sub(f->st, "alice", "https://b.example/h", y);
	snprintf(sql, sizeof(sql),
		 "UPDATE subscriptions SET secret = (SELECT secret FROM subscriptions WHERE id ="
		 " '%s') WHERE id = '%s'",
		 x, y);
	be->sql_exec(f, sql);
	assert_int_equal(hg_store_sub_get(f->st, y, NULL, &sub), HG_EAUTH);
	assert_int_equal(hg_store_sub_get(f->st, x, NULL, &sub), HG_OK);
	hg_store_sub_free(&sub);

	/* a rekey does not carry a damaged row over: it stops there, naming it */
	assert_int_equal(hg_store_rekey(f->st, 2, NULL, err, sizeof(err)), HG_OK);
	{
		const uint8_t *both[] = {key_a, key_b};

		use_keys(f, both, 2);
	}
	assert_int_equal(hg_store_rekey(f->st, 2, NULL, err, sizeof(err)), HG_EINVAL);
	assert_non_null(strstr(err, a.m.id));
}

struct usage {
	int64_t a, b, plain;
};

static int add_usage(const char *table, const char *key_id, int64_t count, void *arg)
{
	struct usage *u = arg;
	char ida[17], idb[17];

	if (strcmp(table, "messages") != 0)
		return 0;
	hg_key_id(key_a, ida);
	hg_key_id(key_b, idb);
	if (key_id == NULL)
		u->plain += count;
	else if (strcmp(key_id, ida) == 0)
		u->a += count;
	else if (strcmp(key_id, idb) == 0)
		u->b += count;
	return 0;
}

/* Rotation: rows of no key, of an old key and of the new one; a start
 * without the old key is refused naming it and its rows; a rekey moves
 * everything (dedupe keys too) to the new key, after which the old key can
 * go: every body reads back and every retry is still a duplicate. */
static void test_crypt_rotation_and_rekey(void **state)
{
	const uint8_t *only_a[] = {key_a}, *a_then_b[] = {key_a, key_b}, *only_b[] = {key_b};
	static const char *const bodies[] = {"plain 1", "plain 2", "under a 1", "under a 2",
					     "under b 1"};
	/* the plain ones look like what the stores write themselves: a
	 * PostgreSQL key in hex and a keyed hash; they are a sender's own */
	static const char *const keys[] = {"hex:4142", "h1:short", "a1", "a2", "b1"};
	struct fixture *f = *state;
	struct usage u = {0};
	struct tmsg m[5], again;
	char err[512], ida[17];
	uint8_t(*k)[32];
	size_t i;

	for (i = 0; i < 5; i++) {
		if (i == 2)
			use_keys(f, only_a, 1);
		if (i == 4)
			use_keys(f, a_then_b, 2);
		put_sealed(f, &m[i], bodies[i], keys[i], HG_STORE_ACCEPTED);
	}
	assert_int_equal(hg_store_key_usage(f->st, 1, add_usage, &u), HG_OK);
	assert_int_equal(u.plain, 2);
	assert_int_equal(u.a, 2);
	assert_int_equal(u.b, 1);

	/* without key a: refused, naming it and its rows */
	k = calloc(1, 32);
	assert_non_null(k);
	memcpy(k[0], key_b, 32);
	assert_int_equal(hg_store_keys_load(f->uri, (const uint8_t(*)[32])k, 1, err, sizeof(err)),
			 HG_EINVAL);
	free(k);
	hg_key_id(key_a, ida);
	assert_non_null(strstr(err, ida));
	assert_non_null(strstr(err, "2 messages"));

	assert_int_equal(hg_store_rekey(f->st, 1, NULL, err, sizeof(err)), HG_OK);
	memset(&u, 0, sizeof(u));
	assert_int_equal(hg_store_key_usage(f->st, 1, add_usage, &u), HG_OK);
	assert_int_equal(u.b, 5);
	assert_int_equal(u.a + u.plain, 0);
	assert_int_equal(sql_int(f, "SELECT count(*) FROM dedupe WHERE key = $1", "hex:4142"), 0);
	assert_int_equal(sql_int(f, "SELECT count(*) FROM dedupe WHERE key = $1", "h1:short"), 0);
	assert_int_equal(sql_int(f, "SELECT count(*) FROM dedupe WHERE key LIKE 'h1:%'", NULL), 5);

	use_keys(f, only_b, 1);
	/* a dedupe key finds its message through the keyed hash */
	struct hg_store_msg_filter by_key = {ANY_TIME, .status = -1, .source = "wa",
					     .dedupe_keys = &keys[0], .n_dedupe_keys = 1};
	struct seen found = list_msgs(f->st, &by_key);
	assert_int_equal(found.n, 1);
	assert_string_equal(found.ids[0], m[0].m.id);
	for (i = 0; i < 5; i++) {
		assert_body(f->st, m[i].m.id, bodies[i]);
		put_sealed(f, &again, "retry", keys[i], HG_STORE_DUPLICATE);
		assert_string_equal(again.m.first_id, m[i].m.id);
	}
	/* a second rekey has nothing left to do */
	assert_int_equal(hg_store_rekey(f->st, 1, NULL, err, sizeof(err)), HG_OK);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_accept, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_duplicate_returns_first_id, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_partial_overlap_is_new, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_duplicates_within_one_batch, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_no_keys_always_new, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_round_trip_bytes_and_reopen, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_migrations_once_and_newer_refused, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_audit_append_verify_and_retention, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_delivery_lease_lifecycle, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_claim_order_exact_and_prefix, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_list_messages_pages_and_filters, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_list_deliveries_and_attempts, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_backlog, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_stats_add_and_read, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_purge_in_batches_keeps_audit_and_in_flight, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_reads_stats_and_purge, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_purge_scoped_by_source, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_audit_received_rows, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_audit_list_filters_and_pages, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_purge_config_per_source_retention, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_api_keys, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_api_keys_list_revoke, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_sub_crud_and_scope, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_claim_history_delete, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_health, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_alert_state, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_media_jobs, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_media_defer, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_crypt_sealed_at_rest, setup, crypt_teardown),
	    cmocka_unit_test_setup_teardown(test_crypt_tamper_refused, setup, crypt_teardown),
	    cmocka_unit_test_setup_teardown(test_crypt_rotation_and_rekey, setup, crypt_teardown),
	};
	const char *which = argc > 1 ? argv[1] : "sqlite";

	if (strcmp(which, "sqlite") == 0) {
		be = &sqlite_backend;
	} else if (strcmp(which, "postgres") == 0) {
		admin_uri = getenv("HOOKGATE_TEST_PG");
		if (admin_uri == NULL || admin_uri[0] == '\0') {
			printf("test_store_conformance postgres: skipped: HOOKGATE_TEST_PG is not "
			       "set (`make test-pg` sets it to the admin URI of a throwaway "
			       "PostgreSQL cluster)\n");
			return 0;
		}
		be = &postgres_backend;
	} else {
		fprintf(stderr, "usage: %s [sqlite|postgres]\n", argv[0]);
		return 2;
	}
	printf("== the store contract on %s\n", be->name);
	return cmocka_run_group_tests_name(be->name, tests, NULL, NULL);
}
