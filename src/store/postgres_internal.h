/*
 * postgres_internal.h — what postgres.c and its migration list share, and
 * nobody else (store_internal.h is the contract between store.c and every
 * backend; this is the PostgreSQL backend's own business).
 */
#ifndef HG_POSTGRES_INTERNAL_H
#define HG_POSTGRES_INTERNAL_H

#include <stddef.h>

#include "store/store_internal.h"

/* The backend's table; store.c picks it for postgres:// and postgresql://. */
extern const struct hg_store_ops hg_store_postgres_ops;

/* PostgreSQL schema migrations, oldest first: element i takes the schema
 * from version i to version i + 1, and version i means the same tables as
 * SQLite's version i, so `hookgate migrate` prints one number for both
 * backends. Append only; never edit a released one. */
extern const char *const hg_pg_migrations[];
extern const size_t hg_pg_n_migrations;

#endif
