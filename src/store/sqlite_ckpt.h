/*
 * sqlite_ckpt.h — checkpoints of a SQLite WAL on a thread of their own.
 *
 * SQLite's automatic checkpoint runs inside the COMMIT that pushes the WAL
 * over 1000 frames: the committing thread (for hookgate the ingest writer,
 * with a batch of providers waiting for their answer) copies the WAL back
 * into the database file and fsyncs it before it returns. Attached
 * connections instead hand that work to one checkpointer thread per
 * database file and process, which runs PASSIVE checkpoints (they never
 * wait for, nor block, a writer) on its own connection.
 */
#ifndef HG_STORE_SQLITE_CKPT_H
#define HG_STORE_SQLITE_CKPT_H

#include <sqlite3.h>
#include <stdint.h>

/* The WAL size, in frames, at which a commit wakes the checkpointer. */
#define HG_SQLITE_CKPT_FRAMES 8000
/* At this many wake-up sizes the committing connection finishes the job
 * itself, so that the WAL can start over (see on_commit). */
#define HG_SQLITE_CKPT_CATCH_UP 2
/* An idle checkpointer still checkpoints what is in the WAL this often. */
#define HG_SQLITE_CKPT_IDLE_MS 1000

struct hg_sqlite_ckpt;

/* Turns off db's automatic checkpoints and hooks its commits to the
 * checkpointer of the database at path, started by the first attach. NULL
 * when it cannot start (out of memory, no thread): db then keeps SQLite's
 * automatic checkpoints, which are slower but just as correct. */
struct hg_sqlite_ckpt *hg_sqlite_ckpt_attach(sqlite3 *db, const char *path);

/* Unhooks db (before it is closed); the last one stops the checkpointer. */
void hg_sqlite_ckpt_detach(struct hg_sqlite_ckpt *c, sqlite3 *db);

/* Checkpoints completed so far by the checkpointer of c (for tests). */
uint64_t hg_sqlite_ckpt_runs(const struct hg_sqlite_ckpt *c);

/* Sets the wake-up size in frames and the idle period for checkpointers
 * started from now on (tests); 0 keeps HG_SQLITE_CKPT_FRAMES and
 * HG_SQLITE_CKPT_IDLE_MS. */
void hg_sqlite_ckpt_tune(int frames, int idle_ms);

#endif
