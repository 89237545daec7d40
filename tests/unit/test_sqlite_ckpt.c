/*
 * test_sqlite_ckpt.c — unit tests for src/store/sqlite_ckpt.c: connections
 * to one file share one checkpointer, commits that grow the WAL past the
 * wake-up size get it copied into the database file by that thread (the
 * committing connection no longer checkpoints), and the last detach stops
 * it (ASan/LSan runs of this test catch a thread or memory left behind).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "store/sqlite_ckpt.h"

struct fixture {
	char dir[64];
	char path[96];
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	snprintf(f->dir, sizeof(f->dir), "/tmp/hg-ckpt-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->path, sizeof(f->path), "%s/t.db", f->dir);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	char p[128];

	snprintf(p, sizeof(p), "%s-wal", f->path);
	unlink(p);
	snprintf(p, sizeof(p), "%s-shm", f->path);
	unlink(p);
	unlink(f->path);
	rmdir(f->dir);
	free(f);
	hg_sqlite_ckpt_tune(0, 0);
	return 0;
}

static sqlite3 *open_wal(const char *path)
{
	sqlite3 *db = NULL;

	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_busy_timeout(db, 5000), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "PRAGMA journal_mode = WAL", NULL, NULL, NULL),
			 SQLITE_OK);
	return db;
}

static off_t file_size(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 ? st.st_size : -1;
}

static void connections_to_one_file_share_one_checkpointer(void **state)
{
	struct fixture *f = *state;
	sqlite3 *a = open_wal(f->path), *b = open_wal(f->path);
	struct hg_sqlite_ckpt *ca = hg_sqlite_ckpt_attach(a, f->path);
	struct hg_sqlite_ckpt *cb = hg_sqlite_ckpt_attach(b, f->path);

	assert_non_null(ca);
	assert_ptr_equal(ca, cb);
	hg_sqlite_ckpt_detach(cb, b);
	hg_sqlite_ckpt_detach(ca, a);
	sqlite3_close(b);
	sqlite3_close(a);
}

static void growing_wal_is_checkpointed_by_the_thread(void **state)
{
	struct fixture *f = *state;
	sqlite3 *db;
	struct hg_sqlite_ckpt *c;
	sqlite3_stmt *ins;
	off_t before;
	int i, waited;

	hg_sqlite_ckpt_tune(8, 0);
	db = open_wal(f->path);
	c = hg_sqlite_ckpt_attach(db, f->path);
	assert_non_null(c);
	assert_int_equal(sqlite3_exec(db, "CREATE TABLE t (b BLOB)", NULL, NULL, NULL), SQLITE_OK);
	before = file_size(f->path);
	assert_int_equal(
	    sqlite3_prepare_v2(db, "INSERT INTO t VALUES (zeroblob(3000))", -1, &ins, NULL),
	    SQLITE_OK);
	for (i = 0; i < 64; i++) { /* one commit and at least one page each */
		assert_int_equal(sqlite3_step(ins), SQLITE_DONE);
		sqlite3_reset(ins);
	}
	sqlite3_finalize(ins);
	for (waited = 0; hg_sqlite_ckpt_runs(c) == 0 && waited < 10000; waited += 10)
		usleep(10000);
	assert_true(hg_sqlite_ckpt_runs(c) > 0);
	/* The pages reached the database file: the WAL no longer holds the
	 * only copy. */
	for (waited = 0; file_size(f->path) < before + 64 * 3000 && waited < 10000; waited += 10)
		usleep(10000);
	assert_true(file_size(f->path) >= before + 64 * 3000);
	hg_sqlite_ckpt_detach(c, db);
	sqlite3_close(db);
}

static void commits_below_the_wake_up_size_leave_the_database_file_alone(void **state)
{
	struct fixture *f = *state;
	sqlite3 *db;
	struct hg_sqlite_ckpt *c;
	off_t before;

	hg_sqlite_ckpt_tune(100000, 600000); /* no idle run meanwhile */
	db = open_wal(f->path);
	c = hg_sqlite_ckpt_attach(db, f->path);
	assert_non_null(c);
	assert_int_equal(sqlite3_exec(db, "CREATE TABLE t (b BLOB)", NULL, NULL, NULL), SQLITE_OK);
	before = file_size(f->path);
	/* With SQLite's automatic checkpoint (1000 pages) this would have
	 * been copied by the committing connection itself, at once. */
	assert_int_equal(
	    sqlite3_exec(db,
			 "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 "
			 "FROM n WHERE i < 1500) INSERT INTO t SELECT zeroblob(3000) FROM n",
			 NULL, NULL, NULL),
	    SQLITE_OK);
	assert_int_equal(file_size(f->path), before);
	hg_sqlite_ckpt_detach(c, db);
	sqlite3_close(db);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(connections_to_one_file_share_one_checkpointer, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(growing_wal_is_checkpointed_by_the_thread, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(
		commits_below_the_wake_up_size_leave_the_database_file_alone, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
