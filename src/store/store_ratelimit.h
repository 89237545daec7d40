/*
 * store_ratelimit.h — rate-limit counters shared by several nodes through
 * the database (PostgreSQL only), for the limiter in src/ingest/ratelimit.c.
 *
 * Kept apart from store.h while the delivery and API work on store.h and
 * its ops table lands; it can join store.h unchanged afterwards. The
 * counters are soft state (an UNLOGGED table): a database crash forgets the
 * current windows, as a restart of a single node forgets its in-memory
 * ones.
 */
#ifndef HG_STORE_RATELIMIT_H
#define HG_STORE_RATELIMIT_H

#include <stddef.h>
#include <stdint.h>

#include "store/store.h"

/* One (source, key) counter of one fixed window. */
struct hg_store_rl_count {
	const char *source;
	const char *key;
	int64_t per_ms;    /* the window size */
	int64_t window_ms; /* start of the window the hits belong to */
	int64_t add;       /* hits to add (>= 0; 0 only reads) */
	/* results */
	int64_t total_cur;  /* the window's hits from every node, after the add */
	int64_t total_prev; /* the window before's hits from every node */
};

/* Whether st's database can share counters (PostgreSQL): 1 or 0. */
int hg_store_ratelimit_shared(struct hg_store *st);
/* Adds c[i].add to each counter and reads back the totals, in ONE
 * transaction; each (source, key, per_ms, window_ms) at most once in c.
 * Also forgets windows that ended long ago. HG_OK, HG_EINVAL (the backend
 * shares nothing) or HG_EIO. */
int hg_store_ratelimit_add(struct hg_store *st, struct hg_store_rl_count *c, size_t n);
/* Calls fn for every counter any node changed at or after since_ms (the
 * database server's clock), with total_cur its hits and total_prev -1,
 * until fn returns non-zero; *now_ms gets the server's time before the
 * read, the since_ms of the next call (minus a margin for transactions
 * that were committing). HG_OK, HG_EINVAL or HG_EIO. */
int hg_store_ratelimit_changes(struct hg_store *st, int64_t since_ms,
			       int (*fn)(const struct hg_store_rl_count *c, void *arg), void *arg,
			       int64_t *now_ms);

#endif
