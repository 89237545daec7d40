/*
 * sqlite_vfs.c — see sqlite_vfs.h.
 *
 * Every file this VFS opens is a struct vfs_file followed by the default
 * VFS's own file object, to which each method forwards. A WAL file also
 * has a write buffer; its database file knows it (SQLite tells the WAL's
 * xOpen which database file it belongs to), so that the database file's
 * xShmBarrier, which SQLite calls before it publishes a WAL index header,
 * can make sure nothing published is still only in the buffer.
 *
 * How SQLite writes a WAL frame (wal.c, walWriteOneFrame): the 24-byte
 * header, whose bytes 4..7 hold the database size after the commit for a
 * commit frame and zero for any other, then the page at the following
 * offset. The write of the commit frame's page is where a commit's frames
 * are complete, and where the buffer is written out.
 *
 * A connection is used by one thread at a time (SQLITE_OPEN_NOMUTEX), and
 * a database file and its WAL belong to one connection: no locking here.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "store/sqlite_vfs.h"

#define BUF_MAX (1024 * 1024) /* written out when this much has gathered */
/* The most the default VFS writes in one call: its unixWrite keeps the
 * low 17 bits of a length (nBuf &= 0x1ffff), made for page-sized writes,
 * so a longer write must be cut up here. 31 pages of 4 KiB. */
#define WRITE_MAX    (31 * 4096)
#define FRAME_HEADER 24

struct vfs_file {
	sqlite3_file base;    /* pMethods: &io_methods */
	sqlite3_file *real;   /* the default VFS's file, just after this struct */
	struct vfs_file *wal; /* a database file: its open WAL, if any */
	struct vfs_file *db;  /* a WAL: its database file */
	int is_wal;
	/* a WAL's gathered writes: len bytes for the file at off */
	unsigned char *buf;
	size_t len, cap;
	sqlite3_int64 off;
	sqlite3_int64 commit_page;    /* offset of the commit frame's page, or -1 */
	sqlite3_int64 written_commit; /* offset of the last commit page written, or -1 */
};

static sqlite3_vfs vfs;
static sqlite3_vfs *real_vfs;
static const sqlite3_io_methods io_methods;

/* Writes out what the buffer holds. On an error the buffer is dropped:
 * it held frames of a commit that has now failed. */
static int flush(struct vfs_file *f)
{
	int rc = SQLITE_OK;
	size_t done = 0;

	while (rc == SQLITE_OK && done < f->len) {
		size_t n = f->len - done < WRITE_MAX ? f->len - done : WRITE_MAX;

		rc = f->real->pMethods->xWrite(f->real, f->buf + done, (int)n,
					       f->off + (sqlite3_int64)done);
		done += n;
	}
	f->len = 0;
	f->commit_page = -1;
	return rc;
}

static int overlaps(const struct vfs_file *f, sqlite3_int64 off, sqlite3_int64 amt)
{
	return f->len > 0 && off < f->off + (sqlite3_int64)f->len && f->off < off + amt;
}

static int x_close(sqlite3_file *file)
{
	struct vfs_file *f = (struct vfs_file *)file;
	int rc = f->is_wal ? flush(f) : SQLITE_OK, rc2;

	if (f->is_wal && f->db != NULL && f->db->wal == f)
		f->db->wal = NULL;
	if (!f->is_wal && f->wal != NULL)
		f->wal->db = NULL;
	free(f->buf);
	f->buf = NULL;
	rc2 = f->real->pMethods->xClose(f->real);
	return rc != SQLITE_OK ? rc : rc2;
}

static int x_read(sqlite3_file *file, void *out, int amt, sqlite3_int64 off)
{
	struct vfs_file *f = (struct vfs_file *)file;

	if (overlaps(f, off, amt)) {
		int rc = flush(f);
		if (rc != SQLITE_OK)
			return rc;
	}
	return f->real->pMethods->xRead(f->real, out, amt, off);
}

/* Gathers a write of a WAL; see the top of the file. */
static int gather(struct vfs_file *f, const void *data, int amt, sqlite3_int64 off)
{
	int rc;

	/* not the next bytes, or too many: what is gathered goes first */
	if (f->len > 0 &&
	    (off != f->off + (sqlite3_int64)f->len || f->len + (size_t)amt > BUF_MAX)) {
		rc = flush(f);
		if (rc != SQLITE_OK)
			return rc;
	}
	if ((size_t)amt > WRITE_MAX)
		return f->real->pMethods->xWrite(f->real, data, amt, off);
	if (f->len + (size_t)amt > f->cap) {
		size_t cap = f->cap != 0 ? f->cap : 64 * 1024;
		unsigned char *b;

		while (cap < f->len + (size_t)amt)
			cap *= 2;
		b = realloc(f->buf, cap);
		if (b == NULL) { /* write as SQLite would have */
			rc = flush(f);
			return rc != SQLITE_OK ? rc
					       : f->real->pMethods->xWrite(f->real, data, amt, off);
		}
		f->buf = b;
		f->cap = cap;
	}
	if (f->len == 0)
		f->off = off;
	memcpy(f->buf + f->len, data, (size_t)amt);
	f->len += (size_t)amt;
	return SQLITE_OK;
}

static int x_write(sqlite3_file *file, const void *data, int amt, sqlite3_int64 off)
{
	struct vfs_file *f = (struct vfs_file *)file;
	/* Known before gather(), whose flush (a full buffer between the
	 * commit frame's header and its page) forgets commit_page. */
	int commit_page = f->commit_page >= 0 && off == f->commit_page;
	int rc;

	if (!f->is_wal)
		return f->real->pMethods->xWrite(f->real, data, amt, off);
	rc = gather(f, data, amt, off);
	if (rc != SQLITE_OK)
		return rc;
	if (amt == FRAME_HEADER) {
		const unsigned char *h = data;

		if (!(h[4] | h[5] | h[6] | h[7]))
			return SQLITE_OK;
		/* A commit frame: its page follows. Unless this rewrites the
		 * header of the commit frame just written: after a
		 * transaction has overwritten some of its own frames in
		 * place, wal.c recomputes the checksums of the frame headers
		 * from the first of those to the commit frame's, once that
		 * frame is written (walRewriteChecksums), and no page comes
		 * after the last of them to write the buffer out. */
		if (off + FRAME_HEADER == f->written_commit)
			rc = flush(f);
		f->commit_page = off + FRAME_HEADER;
		return rc;
	}
	if (commit_page) {
		f->written_commit = off;
		return flush(f);
	}
	return SQLITE_OK;
}

static int x_truncate(sqlite3_file *file, sqlite3_int64 size)
{
	struct vfs_file *f = (struct vfs_file *)file;
	int rc = flush(f);

	return rc != SQLITE_OK ? rc : f->real->pMethods->xTruncate(f->real, size);
}

static int x_sync(sqlite3_file *file, int flags)
{
	struct vfs_file *f = (struct vfs_file *)file;
	int rc = flush(f);

	return rc != SQLITE_OK ? rc : f->real->pMethods->xSync(f->real, flags);
}

static int x_file_size(sqlite3_file *file, sqlite3_int64 *size)
{
	struct vfs_file *f = (struct vfs_file *)file;
	int rc = flush(f);

	return rc != SQLITE_OK ? rc : f->real->pMethods->xFileSize(f->real, size);
}

static int x_lock(sqlite3_file *file, int lock)
{
	struct vfs_file *f = (struct vfs_file *)file;
	return f->real->pMethods->xLock(f->real, lock);
}

static int x_unlock(sqlite3_file *file, int lock)
{
	struct vfs_file *f = (struct vfs_file *)file;
	return f->real->pMethods->xUnlock(f->real, lock);
}

static int x_check_reserved(sqlite3_file *file, int *out)
{
	struct vfs_file *f = (struct vfs_file *)file;
	return f->real->pMethods->xCheckReservedLock(f->real, out);
}

static int x_file_control(sqlite3_file *file, int op, void *arg)
{
	struct vfs_file *f = (struct vfs_file *)file;
	int rc = flush(f);

	return rc != SQLITE_OK ? rc : f->real->pMethods->xFileControl(f->real, op, arg);
}

static int x_sector_size(sqlite3_file *file)
{
	struct vfs_file *f = (struct vfs_file *)file;
	return f->real->pMethods->xSectorSize(f->real);
}

static int x_device_characteristics(sqlite3_file *file)
{
	struct vfs_file *f = (struct vfs_file *)file;
	return f->real->pMethods->xDeviceCharacteristics(f->real);
}

static int x_shm_map(sqlite3_file *file, int pg, int pgsz, int extend, void volatile **out)
{
	struct vfs_file *f = (struct vfs_file *)file;
	return f->real->pMethods->xShmMap(f->real, pg, pgsz, extend, out);
}

static int x_shm_lock(sqlite3_file *file, int offset, int n, int flags)
{
	struct vfs_file *f = (struct vfs_file *)file;

	/* Releasing the write lock ends a write transaction: nothing of it
	 * may stay behind (a second line of defence; the commit frame's page
	 * has already written the buffer out). */
	if (f->wal != NULL && (flags & SQLITE_SHM_UNLOCK)) {
		int rc = flush(f->wal);
		if (rc != SQLITE_OK)
			return rc;
	}
	return f->real->pMethods->xShmLock(f->real, offset, n, flags);
}

static void x_shm_barrier(sqlite3_file *file)
{
	struct vfs_file *f = (struct vfs_file *)file;

	/* SQLite is about to publish a WAL index header (or read one): every
	 * frame it may name must be in the file. Empty in practice, since
	 * each commit frame's page writes the buffer out and reports any
	 * error there; a failure here cannot be reported, and the frames it
	 * concerned belong to no commit. */
	if (f->wal != NULL)
		(void)flush(f->wal);
	f->real->pMethods->xShmBarrier(f->real);
}

static int x_shm_unmap(sqlite3_file *file, int delete_flag)
{
	struct vfs_file *f = (struct vfs_file *)file;
	return f->real->pMethods->xShmUnmap(f->real, delete_flag);
}

static int x_fetch(sqlite3_file *file, sqlite3_int64 off, int amt, void **out)
{
	struct vfs_file *f = (struct vfs_file *)file;
	return f->real->pMethods->xFetch(f->real, off, amt, out);
}

static int x_unfetch(sqlite3_file *file, sqlite3_int64 off, void *p)
{
	struct vfs_file *f = (struct vfs_file *)file;
	return f->real->pMethods->xUnfetch(f->real, off, p);
}

static const sqlite3_io_methods io_methods = {
    .iVersion = 3,
    .xClose = x_close,
    .xRead = x_read,
    .xWrite = x_write,
    .xTruncate = x_truncate,
    .xSync = x_sync,
    .xFileSize = x_file_size,
    .xLock = x_lock,
    .xUnlock = x_unlock,
    .xCheckReservedLock = x_check_reserved,
    .xFileControl = x_file_control,
    .xSectorSize = x_sector_size,
    .xDeviceCharacteristics = x_device_characteristics,
    .xShmMap = x_shm_map,
    .xShmLock = x_shm_lock,
    .xShmBarrier = x_shm_barrier,
    .xShmUnmap = x_shm_unmap,
    .xFetch = x_fetch,
    .xUnfetch = x_unfetch,
};

static int x_open(sqlite3_vfs *v, sqlite3_filename name, sqlite3_file *file, int flags,
		  int *out_flags)
{
	struct vfs_file *f = (struct vfs_file *)file;
	int rc;

	(void)v;
	memset(f, 0, sizeof(*f));
	f->real = (sqlite3_file *)(f + 1);
	f->commit_page = -1;
	f->written_commit = -1;
	rc = real_vfs->xOpen(real_vfs, name, f->real, flags, out_flags);
	if (rc != SQLITE_OK || f->real->pMethods == NULL) {
		/* SQLite calls no xClose on a file whose methods are NULL */
		if (f->real->pMethods != NULL)
			f->real->pMethods->xClose(f->real);
		f->base.pMethods = NULL;
		return rc != SQLITE_OK ? rc : SQLITE_CANTOPEN;
	}
	/* Only a WAL whose database file came through this VFS (and so has
	 * the barrier that writes the buffer out) is buffered. */
	if ((flags & SQLITE_OPEN_WAL) && name != NULL) {
		sqlite3_file *db = sqlite3_database_file_object(name);
		if (db != NULL && db->pMethods == &io_methods) {
			f->is_wal = 1;
			f->db = (struct vfs_file *)db;
			f->db->wal = f;
		}
	}
	f->base.pMethods = &io_methods;
	return SQLITE_OK;
}

static pthread_once_t once = PTHREAD_ONCE_INIT;
static int register_rc = SQLITE_ERROR;

static void do_register(void)
{
	real_vfs = sqlite3_vfs_find(NULL);
	if (real_vfs == NULL)
		return;
	/* Everything but opening a file is the default VFS's own (its
	 * functions read only pAppData and mxPathname, copied here). */
	vfs = *real_vfs;
	vfs.pNext = NULL;
	vfs.zName = HG_SQLITE_VFS;
	vfs.szOsFile = (int)sizeof(struct vfs_file) + real_vfs->szOsFile;
	vfs.xOpen = x_open;
	register_rc = sqlite3_vfs_register(&vfs, 0);
}

int hg_sqlite_vfs_register(void)
{
	pthread_once(&once, do_register);
	return register_rc;
}
