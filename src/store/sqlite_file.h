/*
 * sqlite_file.h — what the connections of one SQLite database file in this
 * process share: the turn to write, and a checkpointer thread.
 *
 * The turn. SQLite lets one connection write at a time and makes the
 * others poll its lock with a busy handler, sleeping between tries. The
 * ingest writer, the delivery engine and the stats flush all write the
 * same file, each holding the lock through its commit's fsync: polled, the
 * lock went idle for most of every sleep (7.6 s of sleeps in 10 s with a
 * route on). Inside one process they now queue for it, first come first
 * served, and each is woken the moment the one before it is done. Other
 * processes (the CLI) still meet SQLite's lock and the busy handler.
 *
 * The checkpointer. SQLite's automatic checkpoint runs inside the COMMIT
 * that pushes the WAL over 1000 frames: the committing thread (the ingest
 * writer, with a batch of providers waiting for their answer) copies the
 * WAL back into the database file and fsyncs it before it returns.
 * Attached connections instead hand that work to one thread per file,
 * which runs PASSIVE checkpoints (they never wait for, nor block, a
 * writer) on its own connection.
 */
#ifndef HG_STORE_SQLITE_FILE_H
#define HG_STORE_SQLITE_FILE_H

#include <sqlite3.h>
#include <stdint.h>

/* The WAL size, in frames, at which a commit wakes the checkpointer. */
#define HG_SQLITE_FILE_CKPT_FRAMES 8000
/* At this many wake-up sizes the committing connection finishes the job
 * itself, so that the WAL can start over (see on_commit). */
#define HG_SQLITE_FILE_CKPT_CATCH_UP 2
/* An idle checkpointer still checkpoints what is in the WAL this often. */
#define HG_SQLITE_FILE_CKPT_IDLE_MS 1000

struct hg_sqlite_file;

/* Joins db to the shared state of the database file at path (created, and
 * its checkpointer started, by the first attach): db's automatic
 * checkpoints are turned off and its commits reported to the checkpointer.
 * NULL when that cannot be done (out of memory, no thread): db then keeps
 * SQLite's automatic checkpoints and busy handler, slower but just as
 * correct. */
struct hg_sqlite_file *hg_sqlite_file_attach(sqlite3 *db, const char *path);

/* Unhooks db (before it is closed); the last one stops the checkpointer. */
void hg_sqlite_file_detach(struct hg_sqlite_file *f, sqlite3 *db);

/* Waits for this thread's turn to write the file (first come, first
 * served) and hands it on. Both do nothing when f is NULL. */
void hg_sqlite_file_write_lock(struct hg_sqlite_file *f);
void hg_sqlite_file_write_unlock(struct hg_sqlite_file *f);

/* Checkpoints completed so far by the checkpointer of f (for tests). */
uint64_t hg_sqlite_file_checkpoints(const struct hg_sqlite_file *f);

/* Sets the wake-up size in frames and the idle period for checkpointers
 * started from now on (tests); 0 keeps HG_SQLITE_FILE_CKPT_FRAMES and
 * HG_SQLITE_FILE_CKPT_IDLE_MS. */
void hg_sqlite_file_tune(int frames, int idle_ms);

#endif
