/*
 * test_store.c — what is SQLite's own in the store, against a real database
 * file in a fresh temporary directory per test: the URI forms, a directory
 * and WAL made at open, and HG_EIO (with nothing stored) when the disk
 * refuses a write or the database directory disappears. What every backend
 * must do (dedupe, reads, deliveries, audit, stats, purge, outbound) is
 * test_store_conformance.c, which runs on SQLite too.
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
#include "store_msgs.h"

/* The schema version this build migrates to: 1 messages and dedupe, 2 the
 * audit log, 3 deliveries and attempts, 4 hourly stats and the API's
 * indexes, 5 outbound keys and subscriptions, 6 the audit log's count,
 * 7 its retention checkpoints, 8 encryption at rest, 9 alert state, 10 media, 11 request ids. */
#define HG_TEST_SCHEMA 11

static int setup(void **state)
{
	/* var/ does not exist yet: opening the store must create it. */
	return hg_test_store_setup(state, "hg-store", "var/hookgate.db");
}

static int teardown(void **state)
{
	return hg_test_store_teardown(state);
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
	/* the migrations made the indexes too */
	assert_int_equal(sql_int(f->db,
				 "SELECT count(*) FROM sqlite_master WHERE type = 'index' AND "
				 "name = 'messages_source_received'",
				 NULL),
			 1);
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
	    cmocka_unit_test_setup_teardown(test_eio_when_disk_refuses_insert, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_eio_when_disk_refuses_commit, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_eio_when_dir_removed, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
