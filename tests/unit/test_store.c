/*
 * test_store.c — the SQLite store against a real database file in a fresh
 * temporary directory per test: dedupe outcomes, batches, reopen and
 * migrations, byte-exact bodies, and HG_EIO (with nothing stored) when the
 * disk refuses a write or the database directory disappears.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fixture.h"
#include "stats/stats.h"
#include "store/store.h"

/* The schema version this build migrates to: 1 messages and dedupe, 2 the
 * audit log, 3 deliveries and attempts, 4 hourly stats and the API's
 * indexes, 5 outbound keys and subscriptions, 6 the audit log's count,
 * 7 its retention checkpoints. */
#define HG_TEST_SCHEMA 7

static int setup(void **state)
{
	/* var/ does not exist yet: opening the store must create it. */
	return hg_test_store_setup(state, "hg-store", "var/hookgate.db");
}

static int teardown(void **state)
{
	return hg_test_store_teardown(state);
}

/* A message with up to 4 keys; the strings must outlive the put. */
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
	t->m.n_dedupe_keys = k2 ? 3 : k1 ? 2 : 1;
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

/* Reads one integer straight from the file, bypassing the store. */
static int64_t sql_int(const char *db, const char *sql, const char *arg)
{
	sqlite3 *h = NULL;
	sqlite3_stmt *q = NULL;
	int64_t v;

	assert_int_equal(sqlite3_open_v2(db, &h, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(h, sql, -1, &q, NULL), SQLITE_OK);
	if (arg != NULL)
		assert_int_equal(sqlite3_bind_text(q, 1, arg, -1, SQLITE_STATIC), SQLITE_OK);
	assert_int_equal(sqlite3_step(q), SQLITE_ROW);
	v = sqlite3_column_int64(q, 0);
	sqlite3_finalize(q);
	assert_int_equal(sqlite3_close(h), SQLITE_OK);
	return v;
}

static void test_uri_forms(void **state)
{
	struct hg_store *st = NULL;
	char err[256];
	char dir[64], uri[128];

	(void)state;
	/* PostgreSQL with no server behind it (loopback port 1 refuses at once):
	 * an I/O failure whose message names the server but not the password.
	 * test_store_pg.c covers the backend itself. */
	assert_int_equal(hg_store_open("postgres://u:secret@127.0.0.1:1/hg", &st, err, sizeof(err)),
			 HG_EIO);
	assert_null(st);
	assert_non_null(strstr(err, "Cannot connect to PostgreSQL u@127.0.0.1:1/hg"));
	assert_null(strstr(err, "secret")); /* the URI may hold a password */
	assert_int_equal(hg_store_open("mysql://db/hg", &st, err, sizeof(err)), HG_EINVAL);
	assert_non_null(strstr(err, "mysql"));
	assert_int_equal(hg_store_open("sqlite:", &st, err, sizeof(err)), HG_EINVAL);
	assert_int_equal(hg_store_open("", &st, err, sizeof(err)), HG_EINVAL);

	/* sqlite:///abs, a bare path and :memory: all open. */
	hg_test_tmpdir(dir, sizeof(dir), "hg-store");
	snprintf(uri, sizeof(uri), "sqlite://%s/a/b/c.db", dir);
	assert_int_equal(hg_store_open(uri, &st, err, sizeof(err)), HG_OK);
	assert_int_equal(hg_store_schema_version(st), HG_TEST_SCHEMA);
	hg_store_close(st);
	snprintf(uri, sizeof(uri), "%s/a/b/c.db", dir);
	assert_int_equal(access(uri, F_OK), 0);
	assert_int_equal(hg_store_open(uri, &st, err, sizeof(err)), HG_OK);
	hg_store_close(st);
	assert_int_equal(hg_store_open("sqlite::memory:", &st, err, sizeof(err)), HG_OK);
	assert_int_equal(hg_store_ping(st), HG_OK);
	hg_store_close(st);
	hg_test_rm_rf(dir);
}

static void test_open_creates_dir_and_wal(void **state)
{
	struct hg_test_store *f = *state;
	char path[160];
	struct stat sb;

	snprintf(path, sizeof(path), "%s/var", f->dir);
	assert_int_equal(stat(path, &sb), 0);
	assert_true(S_ISDIR(sb.st_mode));
	assert_int_equal(hg_store_schema_version(f->st), HG_TEST_SCHEMA);
	assert_int_equal(hg_store_ping(f->st), HG_OK);
	assert_int_equal(count(f->st, NULL), 0);
	/* WAL is a property of the file: a fresh connection sees it. */
	{
		sqlite3 *h;
		sqlite3_stmt *q;

		assert_int_equal(sqlite3_open_v2(f->db, &h, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
		assert_int_equal(sqlite3_prepare_v2(h, "PRAGMA journal_mode", -1, &q, NULL),
				 SQLITE_OK);
		assert_int_equal(sqlite3_step(q), SQLITE_ROW);
		assert_string_equal((const char *)sqlite3_column_text(q, 0), "wal");
		sqlite3_finalize(q);
		sqlite3_close(h);
	}
}

static void test_accept(void **state)
{
	struct hg_test_store *f = *state;
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
	struct hg_test_store *f = *state;
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
	assert_int_equal(sql_int(f->db, "SELECT dedupe_count FROM messages WHERE id = ?1", a.m.id),
			 2);
	{
		struct hg_store_row row;

		assert_int_equal(hg_store_get_message(f->st, b.m.id, &row), HG_ENOTFOUND);
	}
}

static void test_partial_overlap_is_new(void **state)
{
	struct hg_test_store *f = *state;
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
	    sql_int(f->db, "SELECT count(*) FROM dedupe WHERE key = 'k:b' AND message_id = ?1",
		    a.m.id),
	    1);
}

static void test_duplicates_within_one_batch(void **state)
{
	struct hg_test_store *f = *state;
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

static void test_reopen_keeps_data_and_version(void **state)
{
	struct hg_test_store *f = *state;
	struct hg_store_row row;
	struct tmsg a, b;
	char err[256];

	tmsg_init(&a, "github", "kept", 4, "k", NULL, NULL);
	assert_int_equal(put1(f->st, &a), HG_OK);
	hg_store_close(f->st);
	f->st = NULL;
	assert_int_equal(hg_store_open(f->uri, &f->st, err, sizeof(err)), HG_OK);
	assert_int_equal(hg_store_schema_version(f->st), HG_TEST_SCHEMA);
	assert_int_equal(count(f->st, NULL), 1);
	assert_int_equal(hg_store_get_message(f->st, a.m.id, &row), HG_OK);
	assert_int_equal(row.body_len, 4);
	assert_memory_equal(row.body, "kept", 4);
	hg_store_row_free(&row);
	/* Dedupe state survives too. */
	tmsg_init(&b, "github", "again", 5, "k", NULL, NULL);
	assert_int_equal(put1(f->st, &b), HG_OK);
	assert_int_equal(b.m.outcome, HG_STORE_DUPLICATE);
	assert_string_equal(b.m.first_id, a.m.id);
}

static void test_migration_idempotent(void **state)
{
	struct hg_test_store *f = *state;
	struct hg_store *second = NULL, *third = NULL;
	char err[256];

	/* Several handles on one file (the writer and API readers) each run the
	 * migration check; only the first open applied anything. */
	assert_int_equal(hg_store_open(f->db, &second, err, sizeof(err)), HG_OK);
	assert_int_equal(hg_store_open(f->uri, &third, err, sizeof(err)), HG_OK);
	assert_int_equal(hg_store_schema_version(second), HG_TEST_SCHEMA);
	assert_int_equal(hg_store_schema_version(third), HG_TEST_SCHEMA);
	hg_store_close(second);
	hg_store_close(third);
	assert_int_equal(sql_int(f->db, "SELECT count(*) FROM schema_version", NULL),
			 HG_TEST_SCHEMA);
	assert_int_equal(sql_int(f->db, "SELECT max(version) FROM schema_version", NULL),
			 HG_TEST_SCHEMA);
	assert_int_equal(sql_int(f->db,
				 "SELECT count(*) FROM sqlite_master WHERE type = 'index' AND "
				 "name = 'messages_source_received'",
				 NULL),
			 1);
}

static void test_newer_schema_is_refused(void **state)
{
	struct hg_test_store *f = *state;
	struct hg_store *st = NULL;
	char err[256];

	assert_int_equal(
	    sql_int(
		f->db,
		"INSERT INTO schema_version (version, applied_ms) VALUES (99, 0) RETURNING version",
		NULL),
	    99);
	assert_int_equal(hg_store_open(f->uri, &st, err, sizeof(err)), HG_EIO);
	assert_null(st);
	assert_non_null(strstr(err, "newer than this build"));
}

static void test_get_message_round_trips_bytes(void **state)
{
	struct hg_test_store *f = *state;
	static const char body[] = "a\0b\0\xff\xfe\0";
	struct hg_store_row row;
	struct tmsg a, empty;

	tmsg_init(&a, "zoho", body, sizeof(body), "sha256:x", NULL, NULL);
	a.m.received_ms = 1700000000123;
	assert_int_equal(put1(f->st, &a), HG_OK);
	assert_int_equal(hg_store_get_message(f->st, a.m.id, &row), HG_OK);
	assert_string_equal(row.id, a.m.id);
	assert_string_equal(row.source, "zoho");
	assert_int_equal(row.received_ms, 1700000000123);
	assert_string_equal(row.content_type, "application/json");
	assert_string_equal(row.headers_json, "{\"x-test\":\"1\"}");
	assert_int_equal(row.body_len, sizeof(body));
	assert_memory_equal(row.body, body, sizeof(body));
	hg_store_row_free(&row);

	/* NULL metadata stays NULL and an empty body is zero bytes, not NULL. */
	tmsg_init(&empty, "zoho", NULL, 0, "sha256:empty", NULL, NULL);
	empty.m.content_type = NULL;
	empty.m.headers_json = NULL;
	assert_int_equal(put1(f->st, &empty), HG_OK);
	assert_int_equal(hg_store_get_message(f->st, empty.m.id, &row), HG_OK);
	assert_null(row.content_type);
	assert_null(row.headers_json);
	assert_int_equal(row.body_len, 0);
	assert_non_null(row.body);
	hg_store_row_free(&row);

	assert_int_equal(hg_store_get_message(f->st, "0190a000-0000-7000-8000-000000000000", &row),
			 HG_ENOTFOUND);
}

static void assert_outcomes_reset(struct tmsg *t, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		assert_int_equal(t[i].m.outcome, 0);
		assert_string_equal(t[i].m.first_id, "");
	}
}

/* A write the filesystem refuses (here: the file-size limit, which binds
 * root too, as a full disk would) fails the whole batch, rolls it back and
 * leaves the handle usable once the disk accepts writes again. big_len
 * chooses where it fails: a body larger than SQLite's page cache spills to
 * the WAL during the INSERT, a smaller one only at COMMIT. */
static void check_eio_when_disk_refuses_write(struct hg_test_store *f, size_t big_len)
{
	char *big = calloc(1, big_len);
	struct rlimit saved, low;
	struct hg_store_row row;
	struct hg_store_msg *v[3];
	struct tmsg t[3], after;
	void (*old_handler)(int);

	assert_non_null(big);
	tmsg_init(&t[0], "wa", "small", 5, "a", NULL, NULL);
	tmsg_init(&t[1], "wa", big, big_len, "b", NULL, NULL);
	tmsg_init(&t[2], "wa", "small", 5, "a", NULL, NULL); /* would be a duplicate */
	v[0] = &t[0].m;
	v[1] = &t[1].m;
	v[2] = &t[2].m;

	assert_int_equal(getrlimit(RLIMIT_FSIZE, &saved), 0);
	low = saved;
	low.rlim_cur = 256 << 10;
	old_handler = signal(SIGXFSZ, SIG_IGN); /* get EFBIG instead of dying */
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &low), 0);
	assert_int_equal(hg_store_put_messages(f->st, v, 3), HG_EIO);
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &saved), 0);
	signal(SIGXFSZ, old_handler);

	assert_outcomes_reset(t, 3);
	assert_int_equal(count(f->st, NULL), 0);
	assert_int_equal(hg_store_get_message(f->st, t[0].m.id, &row), HG_ENOTFOUND);
	assert_int_equal(sql_int(f->db, "SELECT count(*) FROM dedupe", NULL), 0);

	/* The same handle works again, and the rolled-back keys are free. */
	assert_int_equal(hg_store_ping(f->st), HG_OK);
	tmsg_init(&after, "wa", "small", 5, "a", NULL, NULL);
	assert_int_equal(put1(f->st, &after), HG_OK);
	assert_int_equal(after.m.outcome, HG_STORE_ACCEPTED);
	assert_int_equal(count(f->st, NULL), 1);
	free(big);
}

static void test_eio_when_disk_refuses_insert(void **state)
{
	check_eio_when_disk_refuses_write(*state, 4 << 20);
}

static void test_eio_when_disk_refuses_commit(void **state)
{
	check_eio_when_disk_refuses_write(*state, 600 << 10);
}

/* Writes into a database whose directory was removed would land in an
 * unlinked file and vanish: they must fail, not be acknowledged. */
static void test_eio_when_dir_removed(void **state)
{
	struct hg_test_store *f = *state;
	struct hg_store_msg *v[2];
	struct hg_store *fresh = NULL;
	struct tmsg first, t[2];
	char err[256];

	tmsg_init(&first, "gh", "before", 6, "k0", NULL, NULL);
	assert_int_equal(put1(f->st, &first), HG_OK);
	hg_test_rm_rf(f->dir);

	tmsg_init(&t[0], "gh", "one", 3, "k1", NULL, NULL);
	tmsg_init(&t[1], "gh", "two", 3, "k0", NULL, NULL);
	v[0] = &t[0].m;
	v[1] = &t[1].m;
	assert_int_equal(hg_store_put_messages(f->st, v, 2), HG_EIO);
	assert_outcomes_reset(t, 2);
	assert_int_equal(hg_store_ping(f->st), HG_EIO);
	/* Rolled back: even the orphaned file holds only what was there. */
	assert_int_equal(count(f->st, NULL), 1);

	/* Opening again recreates the directory and an empty database. */
	assert_int_equal(hg_store_open(f->uri, &fresh, err, sizeof(err)), HG_OK);
	assert_int_equal(hg_store_ping(fresh), HG_OK);
	assert_int_equal(count(fresh, NULL), 0);
	hg_store_close(fresh);
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
static void put_routed(struct hg_test_store *f, const char *source, int64_t ms, unsigned n,
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
	struct hg_store_claim_req req = {.endpoint = endpoint, .limit = 16,
					 .lease_until_ms = hg_now_ms() + 60000};
	struct hg_store_claimed got[16];
	struct hg_store_attempt a[16];
	size_t n = 0, i;

	assert_int_equal(hg_store_claim_deliveries(st, "test", hg_now_ms() + 1000, &req, 1, got, &n),
			 HG_OK);
	for (i = 0; i < n; i++)
		a[i] = (struct hg_store_attempt){.delivery_id = got[i].id, .lease_owner = "test",
						 .n = 1, .started_ms = hg_now_ms(), .duration_ms = 5,
						 .status_code = outcome == HG_DELIVERY_SUCCEEDED ? 200 : 500,
						 .error = outcome == HG_DELIVERY_SUCCEEDED ? NULL : "HTTP 500",
						 .response_head = (const uint8_t *)"\xff\x00ok",
						 .response_head_len = 4, .outcome = outcome,
						 .next_attempt_ms = hg_now_ms() + 60000};
	assert_int_equal(hg_store_record_attempts(st, a, n), HG_OK);
}

static void test_list_messages_pages_and_filters(void **state)
{
	struct hg_test_store *f = *state;
	static const char *const to_ok[] = {"ok", NULL};
	static const char *const to_both[] = {"ok", "bad", NULL};
	char ids[9][HG_UUID_LEN + 1];
	int64_t t0 = hg_now_ms() - 100000;
	struct seen s, all = {0};
	unsigned i;

	/* 0..2 whatsapp without deliveries, 3..5 github to ok, 6..8 whatsapp to both */
	for (i = 0; i < 9; i++)
		put_routed(f, i < 3 || i >= 6 ? "whatsapp" : "github", t0 + i * 1000, i,
			   i < 3 ? NULL : i < 6 ? to_ok : to_both, ids[i]);
	settle(f->st, "ok", HG_DELIVERY_SUCCEEDED);
	settle(f->st, "bad", HG_DELIVERY_DEAD);

	/* pages of 4 follow the cursor: newest first, no duplicates, no gaps */
	const char *before = NULL;
	char cursor[HG_UUID_LEN + 1];
	do {
		struct hg_store_msg_filter pf = {ANY_TIME, .status = -1, .before_id = before, .limit = 4};
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

	/* a message's state is its worst delivery's: one dead makes it dead */
	struct hg_store_msg_filter dead = {ANY_TIME, .status = HG_DELIVERY_DEAD};
	s = list_msgs(f->st, &dead);
	assert_int_equal(s.n, 3);
	assert_string_equal(s.ids[0], ids[8]);
	struct hg_store_msg_filter none = {ANY_TIME, .status = HG_STORE_NO_DELIVERIES};
	s = list_msgs(f->st, &none);
	assert_int_equal(s.n, 3);
	assert_string_equal(s.ids[2], ids[0]);

	struct hg_store_msg_filter window = {.status = -1, .since_ms = t0 + 2000,
					     .until_ms = t0 + 4000};
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
	struct hg_test_store *f = *state;
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
	struct hg_test_store *f = *state;
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
	struct hg_test_store *f = *state;
	static const char *const to_ok[] = {"ok", NULL}, *const to_slow[] = {"slow", NULL};
	struct hg_audit_event ev = {.ts_ms = hg_now_ms(), .event = "bad_signature"};
	int64_t old = hg_now_ms() - 3 * 86400000LL, before = hg_now_ms() - 86400000LL;
	struct hg_store_purged got = {0};
	struct hg_store_claim_req req = {.endpoint = "slow", .limit = 1,
					 .lease_until_ms = hg_now_ms() + 600000};
	struct hg_store_claimed claimed[1];
	struct hg_stats_row row = {.source = "s", .hour_ms = hg_stats_hour_of(old)};
	char id[HG_UUID_LEN + 1], keep[HG_UUID_LEN + 1], fresh[HG_UUID_LEN + 1];
	size_t n = 0;
	int more = 0;

	for (unsigned i = 0; i < 3; i++)
		put_routed(f, "whatsapp", old + i, i, to_ok, id);
	settle(f->st, "ok", HG_DELIVERY_SUCCEEDED);
	put_routed(f, "whatsapp", old + 10, 10, to_slow, keep); /* in flight: stays */
	assert_int_equal(hg_store_claim_deliveries(f->st, "test", hg_now_ms(), &req, 1, claimed, &n),
			 HG_OK);
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
	assert_int_equal(sql_int(f->db, "SELECT count(*) FROM dedupe", NULL), 2);
	assert_int_equal(sql_int(f->db, "SELECT count(*) FROM attempts", NULL), 0);
	assert_int_equal(sql_int(f->db, "SELECT count(*) FROM messages WHERE id = ?1", keep), 1);
	assert_int_equal(sql_int(f->db, "SELECT count(*) FROM messages WHERE id = ?1", fresh), 1);
	assert_int_equal(sql_int(f->db, "SELECT count(*) FROM audit_log", NULL), 1);
	assert_int_equal(sql_int(f->db, "SELECT count(*) FROM stats_latency", NULL), 0);
}

static void uri_redact_masks_passwords(void **state)
{
	char out[256];
	(void)state;
	hg_store_uri_redact("postgres://app:s3cr3t@127.0.0.1:5432/hookgate", out, sizeof(out));
	assert_string_equal(out, "postgres://app:***@127.0.0.1:5432/hookgate");
	hg_store_uri_redact("postgres://127.0.0.1/db?user=a&password=s3cr3t&sslmode=disable", out,
			    sizeof(out));
	assert_string_equal(out, "postgres://127.0.0.1/db?user=a&password=***&sslmode=disable");
	hg_store_uri_redact("sqlite:./var/hookgate.db", out, sizeof(out));
	assert_string_equal(out, "sqlite:./var/hookgate.db");
	hg_store_uri_redact("postgres://app@h/db", out, sizeof(out));
	assert_string_equal(out, "postgres://app@h/db");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(uri_redact_masks_passwords),
	    cmocka_unit_test(test_uri_forms),
	    cmocka_unit_test_setup_teardown(test_open_creates_dir_and_wal, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_accept, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_duplicate_returns_first_id, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_partial_overlap_is_new, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_duplicates_within_one_batch, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_reopen_keeps_data_and_version, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_migration_idempotent, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_newer_schema_is_refused, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_get_message_round_trips_bytes, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_eio_when_disk_refuses_insert, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_eio_when_disk_refuses_commit, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_eio_when_dir_removed, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_list_messages_pages_and_filters, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_list_deliveries_and_attempts, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_stats_add_and_read, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_purge_in_batches_keeps_audit_and_in_flight, setup,
					    teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
