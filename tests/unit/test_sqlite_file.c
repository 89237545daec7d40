/*
 * test_sqlite_file.c — unit tests for src/store/sqlite_file.c: one writer
 * at a time, connections to one file share their turn and one
 * checkpointer, commits that grow the WAL past the wake-up size get it
 * copied into the database file by that thread (the committing connection
 * no longer checkpoints), and the last detach stops it (ASan/LSan runs of
 * this test catch a thread or memory left behind).
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
#include <pthread.h>
#include <sqlite3.h>

#include "fixture.h"
#include "store/sqlite_file.h"

static int setup(void **state)
{
	*state = hg_test_dbfile_new("hg-ckpt");
	return 0;
}

static int teardown(void **state)
{
	hg_test_dbfile_free(*state);
	hg_sqlite_file_tune(0, 0);
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
	struct hg_test_dbfile *f = *state;
	sqlite3 *a = open_wal(f->path), *b = open_wal(f->path);
	struct hg_sqlite_file *ca = hg_sqlite_file_attach(a, f->path);
	struct hg_sqlite_file *cb = hg_sqlite_file_attach(b, f->path);

	assert_non_null(ca);
	assert_ptr_equal(ca, cb);
	hg_sqlite_file_detach(cb, b);
	hg_sqlite_file_detach(ca, a);
	sqlite3_close(b);
	sqlite3_close(a);
}

static void growing_wal_is_checkpointed_by_the_thread(void **state)
{
	struct hg_test_dbfile *f = *state;
	sqlite3 *db;
	struct hg_sqlite_file *c;
	sqlite3_stmt *ins;
	off_t before;
	int i, waited;

	hg_sqlite_file_tune(8, 0);
	db = open_wal(f->path);
	c = hg_sqlite_file_attach(db, f->path);
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
	for (waited = 0; hg_sqlite_file_checkpoints(c) == 0 && waited < 10000; waited += 10)
		usleep(10000);
	assert_true(hg_sqlite_file_checkpoints(c) > 0);
	/* The pages reached the database file: the WAL no longer holds the
	 * only copy. */
	for (waited = 0; file_size(f->path) < before + 64 * 3000 && waited < 10000; waited += 10)
		usleep(10000);
	assert_true(file_size(f->path) >= before + 64 * 3000);
	hg_sqlite_file_detach(c, db);
	sqlite3_close(db);
}

static void commits_below_the_wake_up_size_leave_the_database_file_alone(void **state)
{
	struct hg_test_dbfile *f = *state;
	sqlite3 *db;
	struct hg_sqlite_file *c;
	off_t before;

	hg_sqlite_file_tune(100000, 600000); /* no idle run meanwhile */
	db = open_wal(f->path);
	c = hg_sqlite_file_attach(db, f->path);
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
	hg_sqlite_file_detach(c, db);
	sqlite3_close(db);
}

struct turn_arg {
	struct hg_sqlite_file *f;
	int got;      /* set once the thread holds the turn */
	int *counter; /* bumped non-atomically inside the turn */
	int rounds;
};

static void *take_turn(void *p)
{
	struct turn_arg *a = p;
	int i, v;

	for (i = 0; i < a->rounds; i++) {
		hg_sqlite_file_write_lock(a->f);
		__atomic_store_n(&a->got, 1, __ATOMIC_SEQ_CST);
		v = *a->counter;
		usleep(50); /* another writer inside the turn now would lose a bump */
		*a->counter = v + 1;
		hg_sqlite_file_write_unlock(a->f);
	}
	return NULL;
}

static void the_turn_is_shared_by_connections_to_one_file(void **state)
{
	struct hg_test_dbfile *f = *state;
	sqlite3 *a = open_wal(f->path), *b = open_wal(f->path);
	struct hg_sqlite_file *fa = hg_sqlite_file_attach(a, f->path);
	struct hg_sqlite_file *fb = hg_sqlite_file_attach(b, f->path);
	int counter = 0;
	struct turn_arg t = {.f = fb, .counter = &counter, .rounds = 1};
	pthread_t th;

	assert_non_null(fa);
	hg_sqlite_file_write_lock(fa);
	assert_int_equal(pthread_create(&th, NULL, take_turn, &t), 0);
	usleep(50000);
	assert_int_equal(__atomic_load_n(&t.got, __ATOMIC_SEQ_CST), 0); /* still waiting */
	hg_sqlite_file_write_unlock(fa);
	assert_int_equal(pthread_join(th, NULL), 0);
	assert_int_equal(t.got, 1);
	assert_int_equal(counter, 1);
	hg_sqlite_file_detach(fb, b);
	hg_sqlite_file_detach(fa, a);
	sqlite3_close(b);
	sqlite3_close(a);
}

static void one_writer_at_a_time(void **state)
{
	struct hg_test_dbfile *f = *state;
	sqlite3 *db = open_wal(f->path);
	struct hg_sqlite_file *file = hg_sqlite_file_attach(db, f->path);
	int counter = 0, i;
	struct turn_arg t[4];
	pthread_t th[4];

	assert_non_null(file);
	for (i = 0; i < 4; i++) {
		t[i] = (struct turn_arg){.f = file, .counter = &counter, .rounds = 200};
		assert_int_equal(pthread_create(&th[i], NULL, take_turn, &t[i]), 0);
	}
	for (i = 0; i < 4; i++)
		assert_int_equal(pthread_join(th[i], NULL), 0);
	assert_int_equal(counter, 4 * 200);
	hg_sqlite_file_detach(file, db);
	sqlite3_close(db);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(the_turn_is_shared_by_connections_to_one_file, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(one_writer_at_a_time, setup, teardown),
	    cmocka_unit_test_setup_teardown(connections_to_one_file_share_one_checkpointer, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(growing_wal_is_checkpointed_by_the_thread, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(
		commits_below_the_wake_up_size_leave_the_database_file_alone, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
