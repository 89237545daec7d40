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

#include <ftw.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store/store.h"

/* The schema version this build migrates to: 1 messages and dedupe, 2 the
 * audit log. */
#define HG_TEST_SCHEMA 2

struct fixture {
	char dir[64];
	char db[128];  /* dir/var/hookgate.db: the parent must be created */
	char uri[160]; /* "sqlite:" + db */
	struct hg_store *st;
};

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static void rm_rf(const char *dir)
{
	nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	char err[256];

	assert_non_null(f);
	snprintf(f->dir, sizeof(f->dir), "/tmp/hg-store-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->db, sizeof(f->db), "%s/var/hookgate.db", f->dir);
	snprintf(f->uri, sizeof(f->uri), "sqlite:%s", f->db);
	assert_int_equal(hg_store_open(f->uri, &f->st, err, sizeof(err)), HG_OK);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	hg_store_close(f->st);
	rm_rf(f->dir);
	free(f);
	return 0;
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
	assert_int_equal(hg_store_open("postgres://u:secret@db/hg", &st, err, sizeof(err)),
			 HG_EINVAL);
	assert_null(st);
	assert_non_null(strstr(err, "not supported in this build yet"));
	assert_null(strstr(err, "secret")); /* the URI may hold a password */
	assert_int_equal(hg_store_open("mysql://db/hg", &st, err, sizeof(err)), HG_EINVAL);
	assert_non_null(strstr(err, "mysql"));
	assert_int_equal(hg_store_open("sqlite:", &st, err, sizeof(err)), HG_EINVAL);
	assert_int_equal(hg_store_open("", &st, err, sizeof(err)), HG_EINVAL);

	/* sqlite:///abs, a bare path and :memory: all open. */
	snprintf(dir, sizeof(dir), "/tmp/hg-store-XXXXXX");
	assert_non_null(mkdtemp(dir));
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
	rm_rf(dir);
}

static void test_open_creates_dir_and_wal(void **state)
{
	struct fixture *f = *state;
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
	assert_int_equal(sql_int(f->db, "SELECT dedupe_count FROM messages WHERE id = ?1", a.m.id),
			 2);
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
	    sql_int(f->db, "SELECT count(*) FROM dedupe WHERE key = 'k:b' AND message_id = ?1",
		    a.m.id),
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

static void test_reopen_keeps_data_and_version(void **state)
{
	struct fixture *f = *state;
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
	struct fixture *f = *state;
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
	struct fixture *f = *state;
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
	struct fixture *f = *state;
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
static void check_eio_when_disk_refuses_write(struct fixture *f, size_t big_len)
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
	struct fixture *f = *state;
	struct hg_store_msg *v[2];
	struct hg_store *fresh = NULL;
	struct tmsg first, t[2];
	char err[256];

	tmsg_init(&first, "gh", "before", 6, "k0", NULL, NULL);
	assert_int_equal(put1(f->st, &first), HG_OK);
	rm_rf(f->dir);

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

int main(void)
{
	const struct CMUnitTest tests[] = {
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
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
