/*
 * stats.c — lock-free per-source, per-hour counters and latency histograms
 * (stats.h), and the take/taken hand-over to the one flusher.
 *
 * Hot path: hg_stats_count() and hg_stats_latency() run on event-loop
 * threads and the delivery engine. They find the source by a scan of the
 * names seen so far (a handful, compared with memcmp; only a source's very
 * first event takes a mutex to add it), then do relaxed atomic adds into
 * the slot of the current hour. Nothing allocates after a source is known.
 *
 * Hour slots: each source has HG_STATS_SLOTS slots; hour h uses slot
 * h % HG_STATS_SLOTS, tagged with h. The first event of a new hour moves
 * the tag forward with a compare-and-swap. The flusher empties (exchanges
 * with zero) only slots whose tag is at most two hours old, and a slot is
 * re-tagged only HG_STATS_SLOTS hours after its tag, so the flusher never
 * empties a slot while it changes hours; and since it empties them every
 * second, a slot is empty long before its hour comes round again.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "stats/stats.h"
#include "util/util.h"

#define HG_STATS_SLOTS 4
/* Slots at most this many hours older than now are emptied by a take. */
#define HG_STATS_TAKE_HOURS 2

const char *const hg_stat_names[HG_STAT_N] = {
    [HG_STAT_RECEIVED] = "received",
    [HG_STAT_ACCEPTED] = "accepted",
    [HG_STAT_DUPLICATES] = "duplicates",
    [HG_STAT_INVALID_SIGNATURES] = "invalid_signatures",
    [HG_STAT_RATE_LIMITED] = "rate_limited",
    [HG_STAT_DELIVERED] = "delivered",
    [HG_STAT_FAILED] = "failed",
    [HG_STAT_DEAD] = "dead",
};

struct stats_slot {
	_Atomic int64_t hour; /* the hour number (ms / 1 h) counted here; -1: unused */
	_Atomic uint64_t count[HG_STAT_N];
	_Atomic uint64_t latency[HG_STATS_BUCKETS];
};

struct stats_source {
	char name[HG_STATS_NAME_MAX];
	size_t len;
	_Atomic uint64_t total[HG_STAT_N]; /* since start */
	_Atomic uint64_t total_latency[HG_STATS_BUCKETS];
	_Atomic uint64_t latency_sum_us;
	struct stats_slot slot[HG_STATS_SLOTS];
};

struct hg_stats {
	pthread_mutex_t mu; /* serializes adding a source */
	_Atomic(struct stats_source *) sources[HG_STATS_SOURCES];
	atomic_size_t nsources; /* published after the source it counts */
	/* The flusher's rows, owned by its thread. */
	struct hg_stats_row *rows;
	size_t nrows, caprows;
};

int hg_stats_bucket(int64_t us)
{
	int e, b;

	if (us < 8)
		return us < 0 ? 0 : (int)us;
	e = 63 - __builtin_clzll((unsigned long long)us); /* 2^e <= us, e >= 3 */
	b = 8 + (e - 3) * 4 + (int)((us >> (e - 2)) & 3);
	return b < HG_STATS_BUCKETS ? b : HG_STATS_BUCKETS - 1;
}

void hg_stats_bucket_bounds(int b, int64_t *lo, int64_t *hi)
{
	int e, m;

	if (b < 8) {
		*lo = *hi = b < 0 ? 0 : b;
		return;
	}
	if (b >= HG_STATS_BUCKETS)
		b = HG_STATS_BUCKETS - 1;
	e = 3 + (b - 8) / 4;
	m = (b - 8) % 4;
	*lo = (int64_t)(4 + m) << (e - 2);
	*hi = ((int64_t)(5 + m) << (e - 2)) - 1;
}

int64_t hg_stats_percentile_us(const uint64_t hist[HG_STATS_BUCKETS], double q)
{
	uint64_t total = 0, rank, seen = 0;
	int64_t lo, hi;
	int b;

	for (b = 0; b < HG_STATS_BUCKETS; b++)
		total += hist[b];
	if (total == 0)
		return -1;
	if (q > 1.0)
		q = 1.0;
	/* rank = ceil(q * total), at least 1: the value with that rank is the
	 * smallest one at or above which a fraction q of the values lie. */
	rank = (uint64_t)(q * (double)total);
	if ((double)rank < q * (double)total)
		rank++;
	if (rank == 0)
		rank = 1;
	for (b = 0; b < HG_STATS_BUCKETS; b++) {
		seen += hist[b];
		if (seen >= rank)
			break;
	}
	hg_stats_bucket_bounds(b, &lo, &hi);
	return lo + (hi - lo) / 2;
}

int64_t hg_stats_hour_of(int64_t ms)
{
	int64_t h = ms / HG_HOUR_MS;

	if (ms < 0 && h * HG_HOUR_MS != ms)
		h--; /* round toward minus infinity */
	return h * HG_HOUR_MS;
}

void hg_stats_row_add(struct hg_stats_row *a, const struct hg_stats_row *b)
{
	int i;

	for (i = 0; i < HG_STAT_N; i++)
		a->count[i] += b->count[i];
	for (i = 0; i < HG_STATS_BUCKETS; i++)
		a->latency[i] += b->latency[i];
}

int hg_stats_new(struct hg_stats **out)
{
	struct hg_stats *st = calloc(1, sizeof(*st));

	*out = NULL;
	if (st == NULL)
		return HG_ENOMEM;
	if (pthread_mutex_init(&st->mu, NULL) != 0) {
		free(st);
		return HG_ENOMEM;
	}
	*out = st;
	return HG_OK;
}

void hg_stats_free(struct hg_stats *st)
{
	size_t i, n;

	if (st == NULL)
		return;
	n = atomic_load(&st->nsources);
	for (i = 0; i < n; i++)
		free(atomic_load(&st->sources[i]));
	pthread_mutex_destroy(&st->mu);
	free(st->rows);
	free(st);
}

static struct stats_source *find_source(struct hg_stats *st, const char *name, size_t len, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		struct stats_source *s =
		    atomic_load_explicit(&st->sources[i], memory_order_acquire);

		if (s->len == len && memcmp(s->name, name, len) == 0)
			return s;
	}
	return NULL;
}

/* The source's counters, added on its first event. NULL when the name is
 * too long or the table is full (then the event is not counted). */
static struct stats_source *source_of(struct hg_stats *st, const char *name, size_t len)
{
	size_t n = atomic_load_explicit(&st->nsources, memory_order_acquire);
	struct stats_source *s = find_source(st, name, len, n);

	if (s != NULL || len >= HG_STATS_NAME_MAX)
		return s;
	pthread_mutex_lock(&st->mu);
	n = atomic_load(&st->nsources);
	s = find_source(st, name, len, n); /* another thread may have added it */
	if (s == NULL && n < HG_STATS_SOURCES) {
		s = calloc(1, sizeof(*s));
		if (s != NULL) {
			memcpy(s->name, name, len);
			s->len = len;
			for (int i = 0; i < HG_STATS_SLOTS; i++)
				atomic_init(&s->slot[i].hour, -1);
			atomic_store_explicit(&st->sources[n], s, memory_order_release);
			atomic_store_explicit(&st->nsources, n + 1, memory_order_release);
		}
	}
	pthread_mutex_unlock(&st->mu);
	return s;
}

/* The slot counting hour number h, re-tagged if it still holds an older
 * hour; NULL for an event so late that its slot already counts a newer one. */
static struct stats_slot *slot_of(struct stats_source *s, int64_t h)
{
	struct stats_slot *sl = &s->slot[(uint64_t)h % HG_STATS_SLOTS];
	int64_t tag = atomic_load_explicit(&sl->hour, memory_order_acquire);

	while (tag != h) {
		if (tag > h)
			return NULL;
		if (atomic_compare_exchange_weak(&sl->hour, &tag, h))
			break;
	}
	return sl;
}

static void add(_Atomic uint64_t *c, uint64_t n)
{
	atomic_fetch_add_explicit(c, n, memory_order_relaxed);
}

void hg_stats_count(struct hg_stats *st, const char *source, size_t len, enum hg_stat what,
		    int64_t now_ms)
{
	struct stats_source *s;
	struct stats_slot *sl;

	if (st == NULL || source == NULL || (unsigned)what >= HG_STAT_N)
		return;
	s = source_of(st, source, len);
	if (s == NULL)
		return;
	add(&s->total[what], 1);
	sl = slot_of(s, hg_stats_hour_of(now_ms) / HG_HOUR_MS);
	if (sl != NULL)
		add(&sl->count[what], 1);
}

void hg_stats_latency(struct hg_stats *st, const char *source, size_t len, int64_t us,
		      int64_t now_ms)
{
	struct stats_source *s;
	struct stats_slot *sl;
	int b = hg_stats_bucket(us);

	if (st == NULL || source == NULL)
		return;
	s = source_of(st, source, len);
	if (s == NULL)
		return;
	add(&s->total_latency[b], 1);
	add(&s->latency_sum_us, us > 0 ? (uint64_t)us : 0);
	sl = slot_of(s, hg_stats_hour_of(now_ms) / HG_HOUR_MS);
	if (sl != NULL)
		add(&sl->latency[b], 1);
}

/* Reads n counters into out; returns 1 when any was non-zero. */
static int load_all(_Atomic uint64_t *c, uint64_t *out, size_t n)
{
	int any = 0;

	for (size_t i = 0; i < n; i++) {
		out[i] = atomic_load_explicit(&c[i], memory_order_relaxed);
		any |= out[i] != 0;
	}
	return any;
}

/* Moves n counters into out, leaving zeros; returns 1 when any was non-zero.
 * A counter that reads zero is not written, so idle hot cache lines stay
 * shared. */
static int take_all(_Atomic uint64_t *c, uint64_t *out, size_t n)
{
	int any = 0;

	for (size_t i = 0; i < n; i++) {
		out[i] = 0;
		if (atomic_load_explicit(&c[i], memory_order_relaxed) != 0)
			out[i] = atomic_exchange_explicit(&c[i], 0, memory_order_relaxed);
		any |= out[i] != 0;
	}
	return any;
}

void hg_stats_totals(struct hg_stats *st,
		     void (*fn)(const char *source, const uint64_t count[HG_STAT_N],
				const uint64_t latency[HG_STATS_BUCKETS], uint64_t latency_sum_us,
				void *arg),
		     void *arg)
{
	uint64_t count[HG_STAT_N], latency[HG_STATS_BUCKETS];
	size_t i, n = atomic_load_explicit(&st->nsources, memory_order_acquire);

	for (i = 0; i < n; i++) {
		struct stats_source *s =
		    atomic_load_explicit(&st->sources[i], memory_order_acquire);

		load_all(s->total, count, HG_STAT_N);
		load_all(s->total_latency, latency, HG_STATS_BUCKETS);
		fn(s->name, count, latency,
		   atomic_load_explicit(&s->latency_sum_us, memory_order_relaxed), arg);
	}
}

/* The waiting row for (source, hour), appended when there is none. */
static struct hg_stats_row *row_for(struct hg_stats *st, const char *source, int64_t hour_ms)
{
	struct hg_stats_row *r;
	size_t i;

	for (i = 0; i < st->nrows; i++)
		if (st->rows[i].hour_ms == hour_ms && strcmp(st->rows[i].source, source) == 0)
			return &st->rows[i];
	if (st->nrows == st->caprows) {
		size_t cap = st->caprows != 0 ? st->caprows * 2 : 16;

		r = realloc(st->rows, cap * sizeof(*r));
		if (r == NULL)
			return NULL;
		st->rows = r;
		st->caprows = cap;
	}
	r = &st->rows[st->nrows++];
	memset(r, 0, sizeof(*r));
	hg_strlcpy(r->source, source, sizeof(r->source));
	r->hour_ms = hour_ms;
	return r;
}

static int row_is_empty(const struct hg_stats_row *r)
{
	int i;

	for (i = 0; i < HG_STAT_N; i++)
		if (r->count[i] != 0)
			return 0;
	for (i = 0; i < HG_STATS_BUCKETS; i++)
		if (r->latency[i] != 0)
			return 0;
	return 1;
}

int hg_stats_take(struct hg_stats *st, const struct hg_stats_row **rows, size_t *n)
{
	int64_t now_h = hg_stats_hour_of(hg_now_ms()) / HG_HOUR_MS;
	size_t i, ns = atomic_load_explicit(&st->nsources, memory_order_acquire);
	struct hg_stats_row got, *r;
	int rc = HG_OK;

	for (i = 0; i < ns; i++) {
		struct stats_source *s =
		    atomic_load_explicit(&st->sources[i], memory_order_acquire);

		for (int k = 0; k < HG_STATS_SLOTS; k++) {
			struct stats_slot *sl = &s->slot[k];
			int64_t tag = atomic_load_explicit(&sl->hour, memory_order_acquire);
			int any;

			if (tag < 0 || tag < now_h - HG_STATS_TAKE_HOURS)
				continue;
			/* Reserve the row first: when memory runs out, the counts
			 * stay in the slot for the next take. */
			r = row_for(st, s->name, tag * HG_HOUR_MS);
			if (r == NULL) {
				rc = HG_ENOMEM;
				continue;
			}
			any = take_all(sl->count, got.count, HG_STAT_N);
			any |= take_all(sl->latency, got.latency, HG_STATS_BUCKETS);
			if (any)
				hg_stats_row_add(r, &got);
		}
	}
	/* Drop the rows that stayed empty, keeping the order. */
	size_t kept = 0;
	for (i = 0; i < st->nrows; i++) {
		if (row_is_empty(&st->rows[i]))
			continue;
		if (kept != i)
			st->rows[kept] = st->rows[i];
		kept++;
	}
	st->nrows = kept;
	*rows = st->rows;
	*n = st->nrows;
	return rc;
}

void hg_stats_taken(struct hg_stats *st)
{
	st->nrows = 0;
}
