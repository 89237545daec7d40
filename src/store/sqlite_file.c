/*
 * sqlite_file.c — see sqlite_file.h.
 *
 * One struct hg_sqlite_file per database path in this process, shared by
 * every attached connection and reference-counted.
 *
 * The turn is a ticket lock: each writer takes the next number and waits
 * until it is served, so the ingest writer and the delivery engine, which
 * both come back for the lock right after releasing it, alternate instead
 * of one taking it again and again.
 *
 * The checkpointer: each commit of an attached connection reports the
 * WAL's size through SQLite's WAL hook (which replaces the automatic
 * checkpoint); past HG_SQLITE_FILE_CKPT_FRAMES it wakes the thread, which
 * runs sqlite3_wal_checkpoint_v2(PASSIVE) on its own connection: it copies
 * what no reader still needs, fsyncs the database file, and lets the next
 * writer start the WAL over. Checkpointing every 8000 frames rather than
 * 1000 also copies a page rewritten by many commits (a B-tree's last leaf,
 * its parents) once instead of once per commit batch.
 *
 * Nothing here decides durability: a commit is durable once its WAL frames
 * are synced (sqlite.c); a checkpoint only moves them.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "store/sqlite_file.h"
#include "util/util.h"

struct hg_sqlite_file {
	struct hg_sqlite_file *next; /* in the registry */
	char *path;
	int refs; /* under registry_lock */
	/* the turn to write */
	pthread_mutex_t turn_lock;
	pthread_cond_t turn_next;
	uint64_t ticket, serving; /* under turn_lock: next number given, number served */
	/* the checkpointer */
	int frames_to_wake;
	int idle_ms;
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t wake;
	int stop;       /* under lock */
	int wal_frames; /* under lock: the WAL's size at the last commit */
	atomic_uint_fast64_t runs;
	int failing; /* the last checkpoint failed (logged once) */
};

static pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;
static struct hg_sqlite_file *registry;
static atomic_int frames_setting = HG_SQLITE_FILE_CKPT_FRAMES;
static atomic_int idle_setting = HG_SQLITE_FILE_CKPT_IDLE_MS;

void hg_sqlite_file_tune(int frames, int idle_ms)
{
	atomic_store(&frames_setting, frames > 0 ? frames : HG_SQLITE_FILE_CKPT_FRAMES);
	atomic_store(&idle_setting, idle_ms > 0 ? idle_ms : HG_SQLITE_FILE_CKPT_IDLE_MS);
}

uint64_t hg_sqlite_file_checkpoints(const struct hg_sqlite_file *c)
{
	return c != NULL ? atomic_load(&((struct hg_sqlite_file *)c)->runs) : 0;
}

/* SQLite calls this after every commit of an attached connection, on the
 * committing thread, with the WAL's size. It must not touch the database. */
static int on_commit(void *arg, sqlite3 *db, const char *name, int frames)
{
	struct hg_sqlite_file *c = arg;

	pthread_mutex_lock(&c->lock);
	c->wal_frames = frames;
	if (frames >= c->frames_to_wake)
		pthread_cond_signal(&c->wake);
	pthread_mutex_unlock(&c->lock);
	/* Under a steady stream of commits the WAL never starts over: that
	 * needs a writer to begin when every frame is already copied, and the
	 * thread's checkpoint always ends behind the newest commit. So past
	 * a few wake-up sizes the committer copies the little that is left
	 * itself (BUSY, and so nothing, while the thread's checkpoint runs),
	 * and its next transaction writes the WAL from the start again. */
	if (frames >= HG_SQLITE_FILE_CKPT_CATCH_UP * c->frames_to_wake)
		sqlite3_wal_checkpoint_v2(db, name, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
	return SQLITE_OK;
}

static sqlite3 *open_own(const char *path)
{
	sqlite3 *db = NULL;

	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL) !=
		SQLITE_OK ||
	    sqlite3_busy_timeout(db, 1000) != SQLITE_OK ||
	    sqlite3_exec(db, "PRAGMA wal_autocheckpoint = 0", NULL, NULL, NULL) != SQLITE_OK ||
	    /* A connection that has read nothing does not know the file is
	     * in WAL mode, and its checkpoints do nothing (log -1). */
	    sqlite3_exec(db, "PRAGMA schema_version", NULL, NULL, NULL) != SQLITE_OK) {
		hg_log(HG_LOG_ERROR, "store checkpointer cannot open the database", "path",
		       HG_LS(path), "error",
		       HG_LS(db != NULL ? sqlite3_errmsg(db) : "out of memory"), NULL);
		sqlite3_close(db);
		return NULL;
	}
	return db;
}

static void checkpoint(struct hg_sqlite_file *c, sqlite3 **db)
{
	int log = 0, done = 0, moved = 0, rc;

	/* The file at path was replaced (the store re-opens it then): follow
	 * it rather than checkpoint the old one. */
	if (*db != NULL &&
	    (sqlite3_file_control(*db, "main", SQLITE_FCNTL_HAS_MOVED, &moved) != SQLITE_OK ||
	     moved)) {
		sqlite3_close(*db);
		*db = NULL;
	}
	if (*db == NULL && (*db = open_own(c->path)) == NULL)
		return; /* tried again at the next wake-up */
	rc = sqlite3_wal_checkpoint_v2(*db, NULL, SQLITE_CHECKPOINT_PASSIVE, &log, &done);
	if (rc == SQLITE_OK || rc == SQLITE_BUSY) { /* BUSY: another checkpoint ran */
		if (c->failing)
			hg_log(HG_LOG_INFO, "store checkpoints work again", "path", HG_LS(c->path),
			       NULL);
		c->failing = 0;
		atomic_fetch_add(&c->runs, 1);
		return;
	}
	if (!c->failing) /* the WAL grows meanwhile; commits stay durable */
		hg_log(HG_LOG_ERROR, "store checkpoint failed", "path", HG_LS(c->path), "error",
		       HG_LS(sqlite3_errmsg(*db)), NULL);
	c->failing = 1;
}

/* The checkpointer's condition variable, timed on the monotonic clock
 * (hg_mono_deadline) so that a wall-clock step neither stalls nor hurries
 * the idle checkpoint. */
static int init_wake(pthread_cond_t *cv)
{
	pthread_condattr_t ca;
	int rc;

	if (pthread_condattr_init(&ca) != 0)
		return -1;
	rc = pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	if (rc == 0)
		rc = pthread_cond_init(cv, &ca);
	pthread_condattr_destroy(&ca);
	return rc == 0 ? 0 : -1;
}

static void *ckpt_main(void *arg)
{
	struct hg_sqlite_file *c = arg;
	sqlite3 *db = NULL;
	struct timespec until;
	int timed_out;

	pthread_mutex_lock(&c->lock);
	while (!c->stop) {
		hg_mono_deadline(&until, c->idle_ms);
		timed_out = 0;
		while (!c->stop && c->wal_frames < c->frames_to_wake && !timed_out)
			timed_out = pthread_cond_timedwait(&c->wake, &c->lock, &until) == ETIMEDOUT;
		/* Idle (timed out) with no commit since the last checkpoint:
		 * nothing to move. */
		if (c->stop || c->wal_frames == 0)
			continue;
		c->wal_frames = 0; /* a commit from now on reports again */
		pthread_mutex_unlock(&c->lock);
		checkpoint(c, &db);
		pthread_mutex_lock(&c->lock);
	}
	pthread_mutex_unlock(&c->lock);
	sqlite3_close(db);
	return NULL;
}

struct hg_sqlite_file *hg_sqlite_file_attach(sqlite3 *db, const char *path)
{
	struct hg_sqlite_file *c;

	pthread_mutex_lock(&registry_lock);
	for (c = registry; c != NULL && strcmp(c->path, path) != 0; c = c->next)
		;
	if (c == NULL) {
		c = calloc(1, sizeof(*c));
		if (c == NULL || (c->path = strdup(path)) == NULL)
			goto fail;
		c->frames_to_wake = atomic_load(&frames_setting);
		c->idle_ms = atomic_load(&idle_setting);
		if (init_wake(&c->wake) != 0)
			goto fail;
		pthread_mutex_init(&c->lock, NULL);
		pthread_mutex_init(&c->turn_lock, NULL);
		pthread_cond_init(&c->turn_next, NULL);
		if (pthread_create(&c->thread, NULL, ckpt_main, c) != 0) {
			pthread_cond_destroy(&c->turn_next);
			pthread_mutex_destroy(&c->turn_lock);
			pthread_cond_destroy(&c->wake);
			pthread_mutex_destroy(&c->lock);
			goto fail;
		}
		c->next = registry;
		registry = c;
	}
	if (sqlite3_exec(db, "PRAGMA wal_autocheckpoint = 0", NULL, NULL, NULL) != SQLITE_OK) {
		c->refs++;
		pthread_mutex_unlock(&registry_lock);
		hg_sqlite_file_detach(c, NULL);
		return NULL;
	}
	sqlite3_wal_hook(db, on_commit, c);
	c->refs++;
	pthread_mutex_unlock(&registry_lock);
	return c;
fail:
	if (c != NULL)
		free(c->path);
	free(c);
	pthread_mutex_unlock(&registry_lock);
	hg_log(HG_LOG_WARN, "store checkpointer not started; commits checkpoint themselves", "path",
	       HG_LS(path), NULL);
	return NULL;
}

void hg_sqlite_file_detach(struct hg_sqlite_file *c, sqlite3 *db)
{
	struct hg_sqlite_file **p;

	if (c == NULL)
		return;
	if (db != NULL)
		sqlite3_wal_hook(db, NULL, NULL);
	pthread_mutex_lock(&registry_lock);
	if (--c->refs > 0) {
		pthread_mutex_unlock(&registry_lock);
		return;
	}
	for (p = &registry; *p != c; p = &(*p)->next)
		;
	*p = c->next;
	pthread_mutex_unlock(&registry_lock);
	pthread_mutex_lock(&c->lock);
	c->stop = 1;
	pthread_cond_signal(&c->wake);
	pthread_mutex_unlock(&c->lock);
	pthread_join(c->thread, NULL);
	pthread_cond_destroy(&c->turn_next);
	pthread_mutex_destroy(&c->turn_lock);
	pthread_cond_destroy(&c->wake);
	pthread_mutex_destroy(&c->lock);
	free(c->path);
	free(c);
}

void hg_sqlite_file_write_lock(struct hg_sqlite_file *f)
{
	uint64_t mine;

	if (f == NULL)
		return;
	pthread_mutex_lock(&f->turn_lock);
	mine = f->ticket++;
	while (f->serving != mine)
		pthread_cond_wait(&f->turn_next, &f->turn_lock);
	pthread_mutex_unlock(&f->turn_lock);
}

void hg_sqlite_file_write_unlock(struct hg_sqlite_file *f)
{
	if (f == NULL)
		return;
	pthread_mutex_lock(&f->turn_lock);
	f->serving++;
	pthread_cond_broadcast(&f->turn_next);
	pthread_mutex_unlock(&f->turn_lock);
}
