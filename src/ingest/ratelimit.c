/*
 * ratelimit.c — per-(source, key) request limits for the inbound handlers,
 * in memory (ingest.h describes the contract).
 *
 * Algorithm: a sliding-window approximation. Time is cut into fixed windows
 * of per_ms aligned to the epoch; each key keeps the hits it was allowed in
 * the current window (cur) and in the one before (prev). At an offset e
 * into the current window the estimate of the last per_ms is
 *     prev * (per_ms - e) / per_ms + cur
 * and a hit is allowed while that stays below limit. It is exact for the
 * first window and never lets more than limit through in one fixed window;
 * unlike a plain fixed window it admits no double burst across a window
 * edge, and it needs two counters per key instead of a log of timestamps.
 * Denied hits are not counted, so a client that keeps retrying is not
 * locked out for longer than its own allowed traffic warrants.
 *
 * Memory: each source has its own table (so one noisy source cannot evict
 * another's keys) cut into RL_SHARDS shards, each with its own mutex, hash
 * chains and a least-recently-used list. A key whose windows are both over
 * is worth nothing and is evicted when it reaches the LRU tail; when a
 * shard is full the least recently seen key is evicted even if live (it
 * then starts afresh: bounded memory wins over a perfect memory of
 * everyone). Keys are hashed with a per-process random seed so a sender
 * cannot aim many keys at one chain.
 *
 * Several nodes (hg_ratelimit_share(), PostgreSQL): the decision stays
 * local and in memory, so a hit never waits for the database; what is
 * shared are the counts. A sync thread, every RL_SYNC_MS, pushes the hits
 * each key was allowed since the last push into counters in the database
 * (store.h), then reads every counter any node changed since its
 * last read (with a margin for commits in flight); each key counts the
 * other nodes' hits (rcur, rprev) as if they were its own, and a key only
 * other nodes have seen gets an entry too, at the cold end of the LRU list.
 * The limit therefore holds across nodes up to what they admit between
 * two syncs (a burst that reaches several nodes within RL_SYNC_MS may pass
 * the limit by up to one node's share of it); hits allowed in the last
 * moment of a window and not yet pushed when it ends are not shared.
 *
 * Hot path: hg_ratelimit_hit() runs on the event loops; it takes one shard
 * mutex (plus a read lock on the source list) and allocates only for a key
 * it has not seen. hg_ratelimit_key() parses the body only for "$" rules.
 */
#include <errno.h>
#include <jansson.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "config/config.h"
#include "ingest/ingest.h"
#include "store/store.h"
#include "util/jsonpath.h"
#include "util/util.h"

#define RL_SHARDS      16
#define RL_MIN_BUCKETS 64
/* Expired keys evicted per hit at most, so one hit never does long work. */
#define RL_SWEEP 8
/* Shared counts: how often the sync thread pushes and reads them, and how
 * far back each read reaches before the previous one (commits that were
 * in flight then). */
#define RL_SYNC_MS    200
#define RL_OVERLAP_MS 1000

struct rl_entry {
	struct rl_entry *chain;         /* next in the hash bucket */
	struct rl_entry *newer, *older; /* LRU list: head is the most recent */
	uint64_t hash;
	int64_t win_start; /* start of the current window, ms */
	int64_t per_ms;    /* the window size the counts belong to */
	int64_t cur, prev; /* allowed hits in this and the previous window */
	/* shared counts (hg_ratelimit_share): */
	int64_t pend;        /* hits of cur not pushed to the database yet */
	int64_t pushed;      /* hits of cur pushed (or being pushed) */
	int64_t rcur, rprev; /* other nodes' hits in this and the previous window */
	int dirty;           /* hit (allowed or not) since the last push */
	char key[];
};

struct rl_shard {
	pthread_mutex_t mu;
	struct rl_entry **buckets;
	size_t nbuckets; /* a power of two */
	size_t n;
	struct rl_entry *head, *tail;
};

struct rl_source {
	struct rl_source *next;
	char *name;
	struct rl_shard shards[RL_SHARDS];
};

struct hg_ratelimit {
	pthread_rwlock_t lock; /* guards the list; sources are never removed before free */
	struct rl_source *sources;
	size_t cap; /* keys per shard */
	uint64_t seed;
	/* Shared counts; NULL uri: this process counts alone. uri is set once
	 * before the first hit; st belongs to the sync (sync_mu). */
	struct hg_store *st;
	char *uri;
	pthread_t thread;
	pthread_mutex_t sync_mu; /* one sync at a time; guards stopping and st */
	pthread_cond_t sync_cv;
	int stopping;
	int64_t feed_since; /* the database clock's time of the last read; 0: none yet */
};

/* FNV-1a over a random seed, then a final mix so the bucket bits depend on
 * every input bit. */
static uint64_t rl_hash(uint64_t seed, const char *s)
{
	uint64_t h = 0xcbf29ce484222325ULL ^ seed;

	for (; *s != '\0'; s++) {
		h ^= (unsigned char)*s;
		h *= 0x100000001b3ULL;
	}
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdULL;
	h ^= h >> 33;
	return h;
}

static int64_t rl_floor_to(int64_t t, int64_t per)
{
	int64_t r = t % per;

	return r < 0 ? t - r - per : t - r;
}

/* The first offset into a window at which prev*(per - e)/per + cur < limit
 * holds (the estimate only falls as e grows), or -1 when it never does
 * within this window. The one place the allow rule is written, so the
 * decision and the Retry-After derived from it cannot disagree. */
static int64_t rl_free_at(int64_t prev, int64_t cur, int64_t limit, int64_t per)
{
	double x;
	int64_t e;

	if (cur >= limit)
		return -1;
	if (prev == 0)
		return 0;
	/* prev * (per - e) < (limit - cur) * per  <=>  e > per - (limit - cur) * per / prev */
	x = (double)per - (double)(limit - cur) * (double)per / (double)prev;
	if (x < 0)
		return 0;
	e = (int64_t)x + 1;
	return e < per ? e : -1;
}

/* Moves e's counters to the window holding now. A clock that stepped back
 * keeps the current window rather than forgetting its hits. */
static void rl_roll(struct rl_entry *e, int64_t now, int64_t per)
{
	int64_t ws = rl_floor_to(now, per);

	if (e->per_ms != per) { /* the limit was reconfigured: start over */
		e->per_ms = per;
		e->win_start = ws;
		e->cur = e->prev = 0;
		e->pend = e->pushed = e->rcur = e->rprev = 0;
		return;
	}
	if (ws <= e->win_start)
		return;
	e->prev = ws - e->win_start == per ? e->cur : 0;
	e->rprev = ws - e->win_start == per ? e->rcur : 0;
	e->cur = e->pend = e->pushed = e->rcur = 0;
	e->win_start = ws;
}

static int rl_expired(const struct rl_entry *e, int64_t now)
{
	return now - e->win_start >= 2 * e->per_ms;
}

static void rl_unlink_lru(struct rl_shard *sh, struct rl_entry *e)
{
	if (e->newer != NULL)
		e->newer->older = e->older;
	else
		sh->head = e->older;
	if (e->older != NULL)
		e->older->newer = e->newer;
	else
		sh->tail = e->newer;
	e->newer = e->older = NULL;
}

static void rl_push_lru(struct rl_shard *sh, struct rl_entry *e)
{
	e->newer = NULL;
	e->older = sh->head;
	if (sh->head != NULL)
		sh->head->newer = e;
	sh->head = e;
	if (sh->tail == NULL)
		sh->tail = e;
}

static void rl_push_tail(struct rl_shard *sh, struct rl_entry *e)
{
	e->older = NULL;
	e->newer = sh->tail;
	if (sh->tail != NULL)
		sh->tail->older = e;
	sh->tail = e;
	if (sh->head == NULL)
		sh->head = e;
}

static void rl_evict(struct rl_shard *sh, struct rl_entry *e)
{
	struct rl_entry **p = &sh->buckets[e->hash & (sh->nbuckets - 1)];

	while (*p != e)
		p = &(*p)->chain;
	*p = e->chain;
	rl_unlink_lru(sh, e);
	sh->n--;
	free(e);
}

/* Doubles the bucket array once the chains average one entry; a failed
 * allocation keeps the old array (longer chains, still correct). */
static void rl_grow(struct rl_shard *sh, size_t cap)
{
	struct rl_entry **nb, *e, *next;
	size_t i, nn = sh->nbuckets * 2;

	if (sh->n < sh->nbuckets || sh->nbuckets >= cap)
		return;
	nb = calloc(nn, sizeof(*nb));
	if (nb == NULL)
		return;
	for (i = 0; i < sh->nbuckets; i++) {
		for (e = sh->buckets[i]; e != NULL; e = next) {
			next = e->chain;
			e->chain = nb[e->hash & (nn - 1)];
			nb[e->hash & (nn - 1)] = e;
		}
	}
	free(sh->buckets);
	sh->buckets = nb;
	sh->nbuckets = nn;
}

static struct rl_entry *rl_find(struct rl_shard *sh, uint64_t h, const char *key)
{
	struct rl_entry *e;

	for (e = sh->buckets[h & (sh->nbuckets - 1)]; e != NULL; e = e->chain)
		if (e->hash == h && strcmp(e->key, key) == 0)
			return e;
	return NULL;
}

/* A new entry for key, after making room; NULL when out of memory. */
static struct rl_entry *rl_insert(struct rl_shard *sh, size_t cap, uint64_t h, const char *key,
				  int64_t now, int64_t per)
{
	size_t klen = strlen(key), swept = 0;
	struct rl_entry *e;

	while (sh->tail != NULL && swept < RL_SWEEP && rl_expired(sh->tail, now)) {
		rl_evict(sh, sh->tail);
		swept++;
	}
	if (sh->n >= cap)
		rl_evict(sh, sh->tail);
	e = malloc(sizeof(*e) + klen + 1);
	if (e == NULL)
		return NULL;
	memcpy(e->key, key, klen + 1);
	e->hash = h;
	e->per_ms = per;
	e->win_start = rl_floor_to(now, per);
	e->cur = e->prev = 0;
	e->pend = e->pushed = e->rcur = e->rprev = 0;
	e->dirty = 0;
	e->chain = sh->buckets[h & (sh->nbuckets - 1)];
	sh->buckets[h & (sh->nbuckets - 1)] = e;
	e->newer = e->older = NULL;
	rl_push_lru(sh, e);
	sh->n++;
	rl_grow(sh, cap);
	return e;
}

static void rl_source_free(struct rl_source *src)
{
	struct rl_entry *e, *next;
	size_t i;

	for (i = 0; i < RL_SHARDS; i++) {
		for (e = src->shards[i].head; e != NULL; e = next) {
			next = e->older;
			free(e);
		}
		free(src->shards[i].buckets);
		pthread_mutex_destroy(&src->shards[i].mu);
	}
	free(src->name);
	free(src);
}

static struct rl_source *rl_source_new(const char *name)
{
	struct rl_source *src = calloc(1, sizeof(*src));
	size_t i, ready = 0;

	if (src == NULL)
		return NULL;
	src->name = strdup(name);
	if (src->name == NULL)
		goto fail;
	for (ready = 0; ready < RL_SHARDS; ready++) {
		struct rl_shard *sh = &src->shards[ready];

		sh->nbuckets = RL_MIN_BUCKETS;
		sh->buckets = calloc(sh->nbuckets, sizeof(*sh->buckets));
		if (sh->buckets == NULL || pthread_mutex_init(&sh->mu, NULL) != 0) {
			free(sh->buckets);
			goto fail;
		}
	}
	return src;
fail:
	for (i = 0; i < ready; i++) {
		free(src->shards[i].buckets);
		pthread_mutex_destroy(&src->shards[i].mu);
	}
	free(src->name);
	free(src);
	return NULL;
}

/* The table of source or NULL; rl->lock held. */
static struct rl_source *rl_source_find(struct hg_ratelimit *rl, const char *name)
{
	struct rl_source *src;

	for (src = rl->sources; src != NULL && strcmp(src->name, name) != 0; src = src->next)
		;
	return src;
}

/* The table of source, created on first use. Sources are few and fixed by
 * the config, so after the first hit this is a read lock and a short scan. */
static struct rl_source *rl_source_get(struct hg_ratelimit *rl, const char *name)
{
	struct rl_source *src;

	pthread_rwlock_rdlock(&rl->lock);
	src = rl_source_find(rl, name);
	pthread_rwlock_unlock(&rl->lock);
	if (src != NULL)
		return src;
	pthread_rwlock_wrlock(&rl->lock);
	src = rl_source_find(rl, name);
	if (src == NULL) {
		src = rl_source_new(name);
		if (src != NULL) {
			src->next = rl->sources;
			rl->sources = src;
		}
	}
	pthread_rwlock_unlock(&rl->lock);
	return src;
}

int hg_ratelimit_new(size_t max_keys_per_source, struct hg_ratelimit **out)
{
	struct hg_ratelimit *rl;

	*out = NULL;
	rl = calloc(1, sizeof(*rl));
	if (rl == NULL)
		return HG_ENOMEM;
	if (pthread_rwlock_init(&rl->lock, NULL) != 0) {
		free(rl);
		return HG_ENOMEM;
	}
	/* per shard, rounded up so the source as a whole keeps at least the cap */
	rl->cap = (max_keys_per_source + RL_SHARDS - 1) / RL_SHARDS;
	if (rl->cap == 0)
		rl->cap = 1;
	if (hg_random_bytes(&rl->seed, sizeof(rl->seed)) != HG_OK)
		rl->seed = (uint64_t)hg_mono_us(); /* weaker, still varies per process */
	*out = rl;
	return HG_OK;
}

void hg_ratelimit_free(struct hg_ratelimit *rl)
{
	struct rl_source *src, *next;

	if (rl == NULL)
		return;
	if (rl->uri != NULL) { /* shared: the sync thread runs */
		pthread_mutex_lock(&rl->sync_mu);
		rl->stopping = 1;
		pthread_cond_signal(&rl->sync_cv);
		pthread_mutex_unlock(&rl->sync_mu);
		pthread_join(rl->thread, NULL);
		hg_store_close(rl->st);
		pthread_cond_destroy(&rl->sync_cv);
		pthread_mutex_destroy(&rl->sync_mu);
		free(rl->uri);
	}
	for (src = rl->sources; src != NULL; src = next) {
		next = src->next;
		rl_source_free(src);
	}
	pthread_rwlock_destroy(&rl->lock);
	free(rl);
}

/* e's estimate of the hits in the last per ms at now (other nodes' too),
 * without moving its windows. */
static double rl_estimate(const struct rl_entry *e, int64_t now, int64_t per)
{
	int64_t ws = rl_floor_to(now, per);
	double cur = (double)(e->cur + e->rcur), prev = (double)(e->prev + e->rprev);
	double left = (double)(per - (now - ws)) / (double)per;

	if (e->per_ms != per)
		return 0;
	if (ws == e->win_start)
		return prev * left + cur;
	if (ws - e->win_start == per)
		return cur * left;
	return 0;
}

int hg_ratelimit_top(struct hg_ratelimit *rl, const char *source, int64_t limit, int64_t per_ms,
		     int64_t now_ms, size_t n,
		     void (*fn)(const char *key, double hits, int blocked, void *arg), void *arg)
{
	struct {
		double hits;
		char *key;
	} * top;
	struct rl_source *src;
	struct rl_entry *e;
	size_t k, i, have = 0;
	double est;

	if (per_ms <= 0 || n == 0 || (top = calloc(n, sizeof(*top))) == NULL)
		return 0;
	pthread_rwlock_rdlock(&rl->lock);
	src = rl_source_find(rl, source);
	for (k = 0; src != NULL && k < RL_SHARDS; k++) {
		pthread_mutex_lock(&src->shards[k].mu);
		for (e = src->shards[k].head; e != NULL; e = e->older) {
			est = rl_estimate(e, now_ms, per_ms);
			if (est <= 0 || (have == n && est <= top[n - 1].hits))
				continue;
			if (have == n)
				free(top[--have].key);
			for (i = have; i > 0 && top[i - 1].hits < est; i--)
				top[i] = top[i - 1];
			top[i].hits = est;
			top[i].key = strdup(e->key);
			if (top[i].key == NULL) { /* out of memory: leave it out */
				memmove(&top[i], &top[i + 1], (have - i) * sizeof(*top));
				continue;
			}
			have++;
		}
		pthread_mutex_unlock(&src->shards[k].mu);
	}
	pthread_rwlock_unlock(&rl->lock);
	for (i = 0; i < have; i++) {
		fn(top[i].key, top[i].hits, limit > 0 && top[i].hits >= (double)limit, arg);
		free(top[i].key);
	}
	free(top);
	return (int)have;
}

int hg_ratelimit_hit(struct hg_ratelimit *rl, const char *source, const char *key, int64_t limit,
		     int64_t per_ms, int64_t now_ms, int64_t *retry_after_s)
{
	int64_t remaining, reset_s;

	return hg_ratelimit_hit_info(rl, source, key, limit, per_ms, now_ms, retry_after_s,
				     &remaining, &reset_s);
}

int hg_ratelimit_hit_info(struct hg_ratelimit *rl, const char *source, const char *key,
			  int64_t limit, int64_t per_ms, int64_t now_ms, int64_t *retry_after_s,
			  int64_t *remaining, int64_t *reset_s)
{
	struct rl_source *src;
	struct rl_shard *sh;
	struct rl_entry *e;
	int64_t free_at, wait_ms, used, off;
	uint64_t h;
	int allowed = 1;

	*retry_after_s = 0;
	*remaining = limit > 0 ? limit : 0;
	*reset_s = per_ms > 0 ? (per_ms + 999) / 1000 : 0;
	if (limit <= 0 || per_ms <= 0)
		return 1;
	src = rl_source_get(rl, source);
	if (src == NULL)
		return 1;
	h = rl_hash(rl->seed, key);
	sh = &src->shards[h % RL_SHARDS];
	pthread_mutex_lock(&sh->mu);
	e = rl_find(sh, h, key);
	if (e != NULL) {
		rl_roll(e, now_ms, per_ms);
		rl_unlink_lru(sh, e);
		rl_push_lru(sh, e);
	} else {
		e = rl_insert(sh, rl->cap, h, key, now_ms, per_ms);
		if (e == NULL)
			goto out;
	}
	/* A clock that stepped back counts as the start of the kept window. */
	if (now_ms < e->win_start)
		now_ms = e->win_start;
	/* other nodes' hits (shared counts) weigh as this node's own */
	e->dirty = rl->uri != NULL;
	free_at = rl_free_at(e->prev + e->rprev, e->cur + e->rcur, limit, per_ms);
	if (free_at >= 0 && now_ms - e->win_start >= free_at) {
		e->cur++;
		e->pend += rl->uri != NULL;
		/* what is left: the limit less the estimate, rounded up */
		off = now_ms - e->win_start;
		used = e->cur + e->rcur +
		       ((e->prev + e->rprev) * (per_ms - off) + per_ms - 1) / per_ms;
		*remaining = used < limit ? limit - used : 0;
		*reset_s = (e->win_start + per_ms - now_ms + 999) / 1000;
		if (*reset_s < 1)
			*reset_s = 1;
		goto out;
	}
	allowed = 0;
	if (free_at >= 0) {
		wait_ms = e->win_start + free_at - now_ms;
	} else {
		/* next window: this one's count becomes prev, cur starts at 0 */
		free_at = rl_free_at(e->cur + e->rcur, 0, limit, per_ms);
		wait_ms = free_at >= 0 ? e->win_start + per_ms + free_at - now_ms
				       : e->win_start + 2 * per_ms - now_ms;
	}
	*retry_after_s = (wait_ms + 999) / 1000;
	if (*retry_after_s < 1)
		*retry_after_s = 1;
	*remaining = 0;
	*reset_s = *retry_after_s;
out:
	pthread_mutex_unlock(&sh->mu);
	return allowed;
}

/* ---- shared counts ---- */

/* One key's counts on their way to the database. */
struct rl_push {
	struct rl_source *src;
	uint64_t hash;
	char *key;
	int64_t per_ms, win_start, add;
};

/* Takes the keys hit since the last push (they lead each LRU list: a hit
 * moves its key to the front) and moves their pending hits into p[]. */
static int rl_collect(struct hg_ratelimit *rl, struct rl_push **out, size_t *n)
{
	struct rl_push *p = NULL, *bigger;
	struct rl_source *src;
	struct rl_entry *e;
	size_t cap = 0, i;
	int rc = HG_OK;

	*n = 0;
	pthread_rwlock_rdlock(&rl->lock);
	for (src = rl->sources; src != NULL && rc == HG_OK; src = src->next) {
		for (i = 0; i < RL_SHARDS && rc == HG_OK; i++) {
			struct rl_shard *sh = &src->shards[i];

			pthread_mutex_lock(&sh->mu);
			for (e = sh->head; e != NULL && e->dirty; e = e->older) {
				if (*n == cap) {
					cap = cap == 0 ? 64 : 2 * cap;
					bigger = realloc(p, cap * sizeof(*p));
					if (bigger == NULL) {
						rc = HG_ENOMEM;
						break;
					}
					p = bigger;
				}
				p[*n] = (struct rl_push){.src = src,
							 .hash = e->hash,
							 .key = strdup(e->key),
							 .per_ms = e->per_ms,
							 .win_start = e->win_start,
							 .add = e->pend};
				if (p[*n].key == NULL) {
					rc = HG_ENOMEM;
					break;
				}
				e->pushed += e->pend;
				e->pend = 0;
				e->dirty = 0;
				(*n)++;
			}
			pthread_mutex_unlock(&sh->mu);
		}
	}
	pthread_rwlock_unlock(&rl->lock);
	*out = p;
	return rc;
}

/* Applies what the database answered for p[i] (ok), or puts its hits back
 * to be pushed again (!ok). A key evicted or rolled meanwhile is skipped. */
static void rl_settle(struct rl_push *p, const struct hg_store_rl_count *c, int ok)
{
	struct rl_shard *sh = &p->src->shards[p->hash % RL_SHARDS];
	struct rl_entry *e;

	pthread_mutex_lock(&sh->mu);
	e = rl_find(sh, p->hash, p->key);
	if (e != NULL && e->per_ms == p->per_ms && e->win_start == p->win_start) {
		if (ok) {
			e->rcur = c->total_cur > e->pushed ? c->total_cur - e->pushed : 0;
			e->rprev = c->total_prev > e->prev ? c->total_prev - e->prev : 0;
		} else {
			e->pend += p->add;
			e->pushed -= p->add;
			e->dirty = 1;
		}
	}
	pthread_mutex_unlock(&sh->mu);
}

/* One counter another node (or this one) changed: the key's view of the
 * other nodes' hits follows it. A key this node has not seen gets an entry
 * at the cold end of its LRU list (hits move keys to the hot end, and the
 * keys hit since the last push must stay together there, see rl_collect). */
static int rl_follow(const struct hg_store_rl_count *c, void *arg)
{
	struct hg_ratelimit *rl = arg;
	struct rl_source *src;
	struct rl_shard *sh;
	struct rl_entry *e;
	int64_t now = hg_now_ms();
	uint64_t h;

	if (c->per_ms <= 0 || c->window_ms + 2 * c->per_ms <= now)
		return 0; /* neither the current window nor the one before */
	src = rl_source_get(rl, c->source);
	if (src == NULL)
		return 0;
	h = rl_hash(rl->seed, c->key);
	sh = &src->shards[h % RL_SHARDS];
	pthread_mutex_lock(&sh->mu);
	e = rl_find(sh, h, c->key);
	if (e == NULL) {
		e = rl_insert(sh, rl->cap, h, c->key, now, c->per_ms);
		if (e != NULL) {
			rl_unlink_lru(sh, e);
			rl_push_tail(sh, e);
		}
	}
	if (e != NULL && e->per_ms == c->per_ms) {
		rl_roll(e, now, c->per_ms);
		if (c->window_ms == e->win_start)
			e->rcur = c->total_cur > e->pushed ? c->total_cur - e->pushed : 0;
		else if (c->window_ms == e->win_start - c->per_ms)
			e->rprev = c->total_cur > e->prev ? c->total_cur - e->prev : 0;
	}
	pthread_mutex_unlock(&sh->mu);
	return 0;
}

int hg_ratelimit_sync(struct hg_ratelimit *rl)
{
	struct hg_store_rl_count *c = NULL;
	struct rl_push *p = NULL;
	char err[256];
	size_t n = 0, i;
	int rc;

	if (rl->uri == NULL)
		return HG_OK; /* nothing is shared */
	pthread_mutex_lock(&rl->sync_mu);
	rc = rl_collect(rl, &p, &n);
	if (n > 0 && rc == HG_OK && (c = calloc(n, sizeof(*c))) == NULL)
		rc = HG_ENOMEM;
	if (rc == HG_OK && n > 0 && rl->st == NULL &&
	    hg_store_open(rl->uri, &rl->st, err, sizeof(err)) != HG_OK) {
		hg_log(HG_LOG_ERROR, "rate-limit counts: store re-open failed", "error", HG_LS(err),
		       NULL);
		rl->st = NULL;
		rc = HG_EIO;
	}
	for (i = 0; rc == HG_OK && i < n; i++)
		c[i] = (struct hg_store_rl_count){.source = p[i].src->name,
						  .key = p[i].key,
						  .per_ms = p[i].per_ms,
						  .window_ms = p[i].win_start,
						  .add = p[i].add};
	if (rc == HG_OK && n > 0) {
		rc = hg_store_ratelimit_add(rl->st, c, n);
		if (rc != HG_OK && hg_store_ping(rl->st) != HG_OK) {
			hg_store_close(rl->st); /* opened afresh next time */
			rl->st = NULL;
		}
	}
	/* Failed: this node keeps counting alone (its hits are pushed later). */
	for (i = 0; i < n; i++) {
		if (p[i].key != NULL)
			rl_settle(&p[i], &c[i], rc == HG_OK && c != NULL);
		free(p[i].key);
	}
	/* Then what every node counted since the last read. */
	if (rc == HG_OK && rl->st == NULL &&
	    hg_store_open(rl->uri, &rl->st, err, sizeof(err)) != HG_OK) {
		rl->st = NULL;
		rc = HG_EIO;
	}
	if (rc == HG_OK) {
		int64_t since = rl->feed_since > RL_OVERLAP_MS ? rl->feed_since - RL_OVERLAP_MS : 0;
		int64_t now = 0;

		rc = hg_store_ratelimit_changes(rl->st, since, rl_follow, rl, &now);
		if (rc == HG_OK)
			rl->feed_since = now;
		else if (hg_store_ping(rl->st) != HG_OK) {
			hg_store_close(rl->st);
			rl->st = NULL;
		}
	}
	pthread_mutex_unlock(&rl->sync_mu);
	free(p);
	free(c);
	return rc;
}

static void *rl_sync_main(void *arg)
{
	struct hg_ratelimit *rl = arg;
	struct timespec at;
	int warned = 0, rc;

	pthread_mutex_lock(&rl->sync_mu);
	while (!rl->stopping) {
		clock_gettime(CLOCK_MONOTONIC, &at);
		at.tv_nsec += RL_SYNC_MS * 1000000L;
		at.tv_sec += at.tv_nsec / 1000000000L;
		at.tv_nsec %= 1000000000L;
		pthread_cond_timedwait(&rl->sync_cv, &rl->sync_mu, &at);
		if (rl->stopping)
			break;
		pthread_mutex_unlock(&rl->sync_mu);
		rc = hg_ratelimit_sync(rl);
		if (rc != HG_OK && !warned)
			hg_log(HG_LOG_WARN,
			       "rate-limit counts not shared: the store failed; counting on this "
			       "node alone until it works again",
			       NULL);
		else if (rc == HG_OK && warned)
			hg_log(HG_LOG_INFO, "rate-limit counts shared again", NULL);
		warned = rc != HG_OK;
		pthread_mutex_lock(&rl->sync_mu);
	}
	pthread_mutex_unlock(&rl->sync_mu);
	return NULL;
}

int hg_ratelimit_share(struct hg_ratelimit *rl, const char *store_uri, char *err, size_t errlen)
{
	struct hg_store *st = NULL;
	pthread_condattr_t ca;
	sigset_t all, old;
	int rc, have_cv = 0;

	rc = hg_store_open(store_uri, &st, err, errlen);
	if (rc != HG_OK)
		return rc;
	if (!hg_store_ratelimit_shared(st)) { /* SQLite: one node, nothing to share */
		hg_store_close(st);
		return HG_OK;
	}
	rc = HG_EIO;
	if (pthread_mutex_init(&rl->sync_mu, NULL) != 0)
		goto fail;
	/* the sync period runs on the monotonic clock */
	if (pthread_condattr_init(&ca) == 0) {
		have_cv = pthread_condattr_setclock(&ca, CLOCK_MONOTONIC) == 0 &&
			  pthread_cond_init(&rl->sync_cv, &ca) == 0;
		pthread_condattr_destroy(&ca);
	}
	if (!have_cv) {
		pthread_mutex_destroy(&rl->sync_mu);
		goto fail;
	}
	rl->uri = strdup(store_uri);
	if (rl->uri == NULL) {
		rc = HG_ENOMEM;
		goto fail_sync;
	}
	rl->st = st;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	rc = pthread_create(&rl->thread, NULL, rl_sync_main, rl);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc == 0)
		return HG_OK;
	rl->st = NULL;
	free(rl->uri);
	rl->uri = NULL;
	rc = HG_EIO;
fail_sync:
	pthread_cond_destroy(&rl->sync_cv);
	pthread_mutex_destroy(&rl->sync_mu);
fail:
	snprintf(err, errlen, "Cannot start sharing rate-limit counts through the store.");
	hg_store_close(st);
	return rc;
}

size_t hg_ratelimit_keys(struct hg_ratelimit *rl, const char *source)
{
	struct rl_source *src;
	size_t i, n = 0;

	pthread_rwlock_rdlock(&rl->lock);
	src = rl_source_find(rl, source);
	pthread_rwlock_unlock(&rl->lock);
	for (i = 0; src != NULL && i < RL_SHARDS; i++) {
		pthread_mutex_lock(&src->shards[i].mu);
		n += src->shards[i].n;
		pthread_mutex_unlock(&src->shards[i].mu);
	}
	return n;
}

/* The first selected value that identifies something (not null, not ""). */
static int rl_first_value(json_t *v, void *arg)
{
	if (json_is_null(v) || (json_is_string(v) && json_string_length(v) == 0))
		return 0;
	*(json_t **)arg = v;
	return 1;
}

/* hg_query_each() callback: the first non-empty value of a form field. */
static int rl_first_form_value(const char *v, size_t n, void *arg)
{
	if (n == 0)
		return 0;
	*(char **)arg = strndup(v, n);
	return *(char **)arg != NULL ? 1 : HG_ENOMEM;
}

int hg_ratelimit_key(const struct hg_rate_limit *rule, const char *client, const uint8_t *body,
		     size_t len, const char *(*header)(void *ctx, const char *name, size_t *len),
		     void *ctx, char **key)
{
	struct hg_json_body b;
	int rc;

	hg_json_body_init(&b, body, len);
	rc = hg_ratelimit_key_of(rule, client, &b, header, ctx, key);
	hg_json_body_release(&b);
	return rc;
}

int hg_ratelimit_key_of(const struct hg_rate_limit *rule, const char *client,
			struct hg_json_body *body,
			const char *(*header)(void *ctx, const char *name, size_t *len), void *ctx,
			char **key)
{
	json_t *root, *v = NULL;
	const char *hv;
	size_t hlen = 0;

	*key = NULL;
	if (rule->by_ip) {
		if (client == NULL || client[0] == '\0')
			return HG_OK;
		*key = strdup(client);
	} else if (rule->header != NULL) {
		hv = header != NULL ? header(ctx, rule->header, &hlen) : NULL;
		if (hv == NULL || hlen == 0)
			return HG_OK;
		*key = strndup(hv, hlen);
	} else if (rule->form != NULL) {
		/* only a body sent as a form is read as one (dedupe.c says why) */
		hv = header != NULL ? header(ctx, "content-type", &hlen) : NULL;
		if (!hg_form_content_type(hv, hlen) || body->data == NULL)
			return HG_OK;
		return hg_query_each((const char *)body->data, body->len, rule->form,
				     rl_first_form_value, key) < 0
			   ? HG_ENOMEM
			   : HG_OK;
	} else if (rule->path != NULL) {
		/* a body that is not JSON selects nothing */
		root = hg_json_body_root(body);
		if (root == NULL)
			return HG_OK;
		hg_jsonpath_each(rule->path, root, rl_first_value, &v);
		if (v == NULL)
			return HG_OK;
		*key = hg_jsonpath_scalar_text(v);
	} else {
		return HG_OK;
	}
	return *key != NULL ? HG_OK : HG_ENOMEM;
}
