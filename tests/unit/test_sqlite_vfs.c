/*
 * test_sqlite_vfs.c — unit tests for src/store/sqlite_vfs.c, the VFS that
 * writes a commit's WAL frames in one call: every commit is in the file,
 * for another connection (of the default VFS) and another process, as
 * soon as it returns; transactions larger than the buffer and than one
 * write, transactions that spill to the WAL and roll back, a WAL that
 * starts over after a checkpoint; a process killed right after its
 * commits loses none of them.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <signal.h>
#include <sys/wait.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "fixture.h"
#include "store/sqlite_vfs.h"

static int setup(void **state)
{
	*state = hg_test_dbfile_new("hg-vfs");
	assert_int_equal(hg_sqlite_vfs_register(), SQLITE_OK);
	return 0;
}

static int teardown(void **state)
{
	hg_test_dbfile_free(*state);
	return 0;
}

static void exec(sqlite3 *db, const char *sql)
{
	char *err = NULL;

	if (sqlite3_exec(db, sql, NULL, NULL, &err) != SQLITE_OK)
		fail_msg("%s: %s", sql, err != NULL ? err : "?");
}

/* A connection in WAL mode, synchronous=FULL, through vfs (NULL: default). */
static sqlite3 *open_db(const char *path, const char *vfs)
{
	sqlite3 *db = NULL;

	assert_int_equal(
	    sqlite3_open_v2(path, &db,
			    SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, vfs),
	    SQLITE_OK);
	assert_int_equal(sqlite3_busy_timeout(db, 5000), SQLITE_OK);
	exec(db, "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL");
	return db;
}

static sqlite3_int64 one_int(sqlite3 *db, const char *sql)
{
	sqlite3_stmt *st = NULL;
	sqlite3_int64 v;

	assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return v;
}

static void integrity_ok(sqlite3 *db)
{
	sqlite3_stmt *st = NULL;

	assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &st, NULL),
			 SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	assert_string_equal((const char *)sqlite3_column_text(st, 0), "ok");
	sqlite3_finalize(st);
}

/* n rows of size bytes each, in one transaction */
static void insert_rows(sqlite3 *db, int n, int size)
{
	char sql[160];

	snprintf(sql, sizeof(sql),
		 "WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < %d)"
		 " INSERT INTO t(v) SELECT randomblob(%d) FROM c",
		 n, size);
	exec(db, sql);
}

static void the_vfs_is_the_one_opened(void **state)
{
	struct hg_test_dbfile *f = *state;
	sqlite3 *db = open_db(f->path, HG_SQLITE_VFS);
	sqlite3_vfs *v = NULL;

	assert_int_equal(sqlite3_file_control(db, "main", SQLITE_FCNTL_VFS_POINTER, &v), SQLITE_OK);
	assert_non_null(v);
	assert_string_equal(v->zName, HG_SQLITE_VFS);
	sqlite3_close(db);
	/* registering again is harmless */
	assert_int_equal(hg_sqlite_vfs_register(), SQLITE_OK);
}

/* Each commit, small or larger than the buffer (1 MiB) and than one write
 * of the default VFS (128 KiB), is seen at once by a connection of the
 * default VFS; the WAL frames it reads are whole (integrity_check). */
static void commits_visible(struct hg_test_dbfile *f, const char *sync)
{
	sqlite3 *w = open_db(f->path, HG_SQLITE_VFS), *r;
	sqlite3_int64 want = 0;
	static const int sizes[] = {10, 1000, 5000, 60000, 200000, 3000000};

	exec(w, sync);
	exec(w, "CREATE TABLE t(id INTEGER PRIMARY KEY, v BLOB)");
	r = open_db(f->path, NULL);
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		for (int k = 0; k < 3; k++) {
			insert_rows(w, 7, sizes[i] / 7 + 1);
			want += 7;
			assert_int_equal(one_int(r, "SELECT count(*) FROM t"), want);
		}
	}
	integrity_ok(r);
	integrity_ok(w);
	sqlite3_close(r);
	sqlite3_close(w);
}

static void every_commit_is_visible_to_another_connection(void **state)
{
	commits_visible(*state, "PRAGMA synchronous = FULL");
}

/* The same without a sync at commit (the delivery engine's claims): no
 * xSync writes the buffer out there, the commit frame does. */
static void unsynced_commits_are_visible_too(void **state)
{
	commits_visible(*state, "PRAGMA synchronous = NORMAL");
}

/* A transaction that spills pages to the WAL (a small page cache) and
 * rolls back leaves nothing behind; the commits after it are whole. */
static void a_spilled_transaction_rolls_back(void **state)
{
	struct hg_test_dbfile *f = *state;
	sqlite3 *w = open_db(f->path, HG_SQLITE_VFS), *r;

	exec(w, "PRAGMA cache_size = 10; CREATE TABLE t(id INTEGER PRIMARY KEY, v BLOB)");
	insert_rows(w, 50, 100);
	exec(w, "BEGIN");
	insert_rows(w, 2000, 3000);
	exec(w, "UPDATE t SET v = randomblob(50) WHERE id <= 50");
	exec(w, "ROLLBACK");
	insert_rows(w, 20, 100);
	r = open_db(f->path, NULL);
	assert_int_equal(one_int(r, "SELECT count(*) FROM t"), 70);
	assert_int_equal(one_int(r, "SELECT count(*) FROM t WHERE length(v) = 100"), 70);
	integrity_ok(r);
	sqlite3_close(r);
	sqlite3_close(w);
}

/* Checkpoints (by another connection) and the WAL starting over from its
 * first frame keep every commit. */
static void the_wal_starts_over_after_checkpoints(void **state)
{
	struct hg_test_dbfile *f = *state;
	sqlite3 *w = open_db(f->path, HG_SQLITE_VFS), *c;
	int i;

	exec(w, "PRAGMA wal_autocheckpoint = 0; CREATE TABLE t(id INTEGER PRIMARY KEY, v BLOB)");
	c = open_db(f->path, NULL);
	for (i = 0; i < 60; i++) {
		insert_rows(w, 5, 900);
		if (i % 10 == 9) {
			int log = -1, done = -1;
			assert_int_equal(sqlite3_wal_checkpoint_v2(
					     c, NULL, SQLITE_CHECKPOINT_RESTART, &log, &done),
					 SQLITE_OK);
			assert_int_equal(log, done);
		}
		assert_int_equal(one_int(c, "SELECT count(*) FROM t"), 5 * (i + 1));
	}
	integrity_ok(c);
	sqlite3_close(c);
	sqlite3_close(w);
	/* and the file opens cleanly afterwards */
	w = open_db(f->path, NULL);
	assert_int_equal(one_int(w, "SELECT count(*) FROM t"), 300);
	integrity_ok(w);
	sqlite3_close(w);
}

/* A process that commits and is then killed (no close, no checkpoint)
 * leaves every commit it made in the WAL for the next one to find; even
 * with synchronous=NORMAL (no fsync: the operating system still has what
 * was written, nothing is in the process's buffer). */
static void commits_survive_a_killed_process(void **state)
{
	struct hg_test_dbfile *f = *state;
	sqlite3 *db = open_db(f->path, HG_SQLITE_VFS);
	pid_t pid;
	int status = 0;

	exec(db, "CREATE TABLE t(id INTEGER PRIMARY KEY, v BLOB)");
	sqlite3_close(db);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		sqlite3 *c = NULL;

		if (sqlite3_open_v2(f->path, &c, SQLITE_OPEN_READWRITE, HG_SQLITE_VFS) !=
			SQLITE_OK ||
		    sqlite3_exec(c, "PRAGMA synchronous = NORMAL", NULL, NULL, NULL) != SQLITE_OK)
			_exit(2);
		for (int i = 0; i < 40; i++) {
			if (sqlite3_exec(c,
					 "INSERT INTO t(v) VALUES (randomblob(3000)),"
					 " (randomblob(10))",
					 NULL, NULL, NULL) != SQLITE_OK)
				_exit(3);
		}
		kill(getpid(), SIGKILL);
		_exit(4);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFSIGNALED(status));
	db = open_db(f->path, NULL);
	assert_int_equal(one_int(db, "SELECT count(*) FROM t"), 80);
	integrity_ok(db);
	sqlite3_close(db);
}

/* Runs body in a child process on a connection of this VFS in exclusive
 * locking mode (the WAL index in heap memory: no xShmBarrier, no xShmLock
 * to write a buffer out late) with synchronous=NORMAL; body returns a
 * value >= 0 once it has committed, which the child passes on before it
 * kills itself. That value, or -1 if the child failed. */
static int in_killed_child(struct hg_test_dbfile *f, int (*body)(sqlite3 *))
{
	int fds[2], status = 0, v = -1;
	pid_t pid;

	assert_int_equal(pipe(fds), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		sqlite3 *c = NULL;

		close(fds[0]);
		if (sqlite3_open_v2(f->path, &c, SQLITE_OPEN_READWRITE, HG_SQLITE_VFS) !=
			SQLITE_OK ||
		    sqlite3_exec(c, "PRAGMA locking_mode = EXCLUSIVE; PRAGMA synchronous = NORMAL",
				 NULL, NULL, NULL) != SQLITE_OK)
			_exit(2);
		v = body(c);
		if (v < 0 || write(fds[1], &v, sizeof(v)) != (ssize_t)sizeof(v))
			_exit(3);
		kill(getpid(), SIGKILL);
		_exit(4);
	}
	close(fds[1]);
	if (read(fds[0], &v, sizeof(v)) != (ssize_t)sizeof(v))
		v = -1;
	close(fds[0]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFSIGNALED(status));
	return v;
}

static int wal_frames;

static int count_frames(void *arg, sqlite3 *db, const char *name, int n)
{
	(void)arg, (void)db, (void)name;
	wal_frames = n;
	return SQLITE_OK;
}

/* Commits of 240, 241, ... pages (one row a page) until one has 255
 * frames: its commit frame's header is the last that fits in the 1 MiB
 * buffer, its page does not. */
static int commit_255_frames(sqlite3 *c)
{
	sqlite3_wal_hook(c, count_frames, NULL);
	for (int i = 0; i < 40; i++) {
		char sql[128];
		int before = wal_frames;

		snprintf(sql, sizeof(sql),
			 "UPDATE t SET n = %d, v = randomblob(3000) WHERE id <= %d", 10 + i,
			 240 + i);
		if (sqlite3_exec(c, sql, NULL, NULL, NULL) != SQLITE_OK)
			return -1;
		if (wal_frames - before == 255)
			return 10 + i;
	}
	return -1;
}

/* The commit frame's page comes when the buffer is full: it is written
 * out all the same, before the commit returns. */
static void a_commit_at_the_buffers_end_is_written(void **state)
{
	struct hg_test_dbfile *f = *state;
	sqlite3 *db = open_db(f->path, NULL);
	int n;

	exec(db, "CREATE TABLE t(id INTEGER PRIMARY KEY, n INT, v BLOB)");
	exec(db, "WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < 400)"
		 " INSERT INTO t(n, v) SELECT 0, randomblob(3000) FROM c");
	sqlite3_close(db);
	n = in_killed_child(f, commit_255_frames);
	assert_true(n >= 10);
	db = open_db(f->path, NULL);
	assert_int_equal(one_int(db, "SELECT max(n) FROM t"), n);
	integrity_ok(db);
	sqlite3_close(db);
}

/* A transaction that spills, then changes spilled pages again: SQLite
 * overwrites their frames in place and, after the commit frame, rewrites
 * the checksums of the frame headers from the first of them on, the
 * commit frame's last (walRewriteChecksums) -- a header no page follows. */
static int commit_rewritten_checksums(sqlite3 *c)
{
	if (sqlite3_exec(c,
			 "PRAGMA cache_size = 10; PRAGMA wal_autocheckpoint = 0; BEGIN;"
			 " WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c"
			 " WHERE i < 2000) INSERT INTO t(v) SELECT randomblob(3000) FROM c;"
			 " UPDATE t SET v = randomblob(50) WHERE id <= 50; COMMIT",
			 NULL, NULL, NULL) != SQLITE_OK)
		return -1;
	return 1;
}

static void rewritten_checksums_are_written(void **state)
{
	struct hg_test_dbfile *f = *state;
	sqlite3 *db = open_db(f->path, NULL);

	exec(db, "CREATE TABLE t(id INTEGER PRIMARY KEY, v BLOB)");
	sqlite3_close(db);
	assert_int_equal(in_killed_child(f, commit_rewritten_checksums), 1);
	db = open_db(f->path, NULL);
	assert_int_equal(one_int(db, "SELECT count(*) FROM t"), 2000);
	assert_int_equal(one_int(db, "SELECT count(*) FROM t WHERE length(v) = 50"), 50);
	integrity_ok(db);
	sqlite3_close(db);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(the_vfs_is_the_one_opened, setup, teardown),
	    cmocka_unit_test_setup_teardown(every_commit_is_visible_to_another_connection, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(unsynced_commits_are_visible_too, setup, teardown),
	    cmocka_unit_test_setup_teardown(a_spilled_transaction_rolls_back, setup, teardown),
	    cmocka_unit_test_setup_teardown(the_wal_starts_over_after_checkpoints, setup, teardown),
	    cmocka_unit_test_setup_teardown(commits_survive_a_killed_process, setup, teardown),
	    cmocka_unit_test_setup_teardown(a_commit_at_the_buffers_end_is_written, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(rewritten_checksums_are_written, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
