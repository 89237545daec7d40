/*
 * sqlite_vfs.h — a thin SQLite VFS over the default one that gathers a
 * transaction's WAL writes into one system call.
 *
 * SQLite appends each page of a commit to the WAL as two pwrite calls (the
 * 24-byte frame header, then the page): a group commit of twenty messages
 * made some forty of them, the largest share of the ingest writer's system
 * calls, on machines where each call is costly. This VFS keeps the WAL
 * writes of a transaction in a buffer while they are contiguous and writes
 * them with one pwrite when the commit frame's page has been appended (or
 * sooner: before a sync, a read, a truncation, a size query, a write
 * elsewhere, or when 1 MiB has gathered).
 *
 * Durability does not change: a commit still reaches the file, and is
 * synced (synchronous=FULL), before SQLite publishes it in the WAL index
 * and before hookgate acknowledges anything. Frames are published only
 * through the WAL index, after the commit frame is written: other
 * connections, the checkpointer and other processes never see a frame
 * this buffer still holds. A write error is reported by the xWrite of the
 * commit frame's page (or the xSync), so SQLite rolls the commit back as
 * it would for an error of its own write. Files other than WALs pass
 * straight through.
 */
#ifndef HG_STORE_SQLITE_VFS_H
#define HG_STORE_SQLITE_VFS_H

/* The VFS's name, for sqlite3_open_v2. */
#define HG_SQLITE_VFS "hookgate"

/* Registers the VFS (once; later calls do nothing). 0 on success, else an
 * SQLite result code: the caller then opens with the default VFS. */
int hg_sqlite_vfs_register(void);

#endif
