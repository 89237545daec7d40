/*
 * fixture.h — what the unit tests that touch the disk set up and take down
 * each time: a fresh directory under /tmp, its removal with all in it, and
 * a SQLite store on a file in such a directory. Everything is static
 * inline so that a test using only part of it builds warning-free.
 */
#ifndef HG_TEST_FIXTURE_H
#define HG_TEST_FIXTURE_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>

#include "store/store.h"

/* Makes a fresh directory "/tmp/<prefix>-XXXXXX" and writes its name to dir
 * (n bytes); fails the test when it cannot. */
static inline void hg_test_tmpdir(char *dir, size_t n, const char *prefix)
{
	snprintf(dir, n, "/tmp/%s-XXXXXX", prefix);
	if (mkdtemp(dir) == NULL)
		fail_msg("mkdtemp %s failed", dir);
}

static inline int hg_test_rm_entry(const char *path, const struct stat *sb, int flag,
				   struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

/* Removes dir and everything below it, without following links; returns
 * nftw's answer (0 when all is gone). */
static inline int hg_test_rm_rf(const char *dir)
{
	return nftw(dir, hg_test_rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* A database file of its own, for tests that open SQLite directly. */
struct hg_test_dbfile {
	char dir[64];  /* the temporary directory that holds it */
	char path[96]; /* dir/t.db (not created) */
};

/* A struct hg_test_dbfile in a fresh directory named after prefix. */
static inline struct hg_test_dbfile *hg_test_dbfile_new(const char *prefix)
{
	struct hg_test_dbfile *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	hg_test_tmpdir(f->dir, sizeof(f->dir), prefix);
	snprintf(f->path, sizeof(f->path), "%s/t.db", f->dir);
	return f;
}

/* Removes f's directory with the database, its WAL and all else in it. */
static inline void hg_test_dbfile_free(struct hg_test_dbfile *f)
{
	hg_test_rm_rf(f->dir);
	free(f);
}

/* A store on a database file of its own. */
struct hg_test_store {
	char dir[64];  /* the temporary directory that holds the file */
	char db[128];  /* the database file, below dir */
	char uri[160]; /* "sqlite:" + db */
	struct hg_store *st;
};

/* cmocka setup: *state becomes a struct hg_test_store (the caller frees it
 * with hg_test_store_teardown) whose store is open on dir/file in a fresh
 * directory named after prefix. file may name directories that do not exist
 * yet: opening the store creates them. */
static inline int hg_test_store_setup(void **state, const char *prefix, const char *file)
{
	struct hg_test_store *t = calloc(1, sizeof(*t));
	char err[256];

	assert_non_null(t);
	hg_test_tmpdir(t->dir, sizeof(t->dir), prefix);
	snprintf(t->db, sizeof(t->db), "%s/%s", t->dir, file);
	snprintf(t->uri, sizeof(t->uri), "sqlite:%s", t->db);
	if (hg_store_open(t->uri, &t->st, err, sizeof(err)) != HG_OK)
		fail_msg("cannot open %s: %s", t->uri, err);
	*state = t;
	return 0;
}

/* cmocka teardown for hg_test_store_setup: closes the store (NULL is fine)
 * and removes the directory with all in it. */
static inline int hg_test_store_teardown(void **state)
{
	struct hg_test_store *t = *state;

	hg_store_close(t->st);
	hg_test_rm_rf(t->dir);
	free(t);
	return 0;
}

#endif /* HG_TEST_FIXTURE_H */
