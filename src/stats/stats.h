/*
 * stats.h — what happened to each source, counted in memory on the hot path
 * and handed out per hour for the store (stats_hourly) and per process for
 * /metrics.
 *
 * Counting is lock-free: one atomic add per event into the bucket of the
 * hour it happened in (a small ring of hour slots per source), plus a
 * running total since start. Ack latencies go into a fixed log-linear
 * histogram (4 buckets per power of two of microseconds, so any value is
 * known to within 12.5 %), from which p50/p95 are computed after hours or
 * nodes are merged, which averages of percentiles could not do.
 *
 * A single flusher (the housekeeping thread) calls hg_stats_take() about
 * once a second, writes what it gets and then calls hg_stats_taken(); what
 * could not be written stays and is merged with the next take.
 */
#ifndef HG_STATS_H
#define HG_STATS_H

#include <stddef.h>
#include <stdint.h>

/* The counters, in the order of their stats_hourly columns. */
enum hg_stat {
	HG_STAT_RECEIVED,           /* every POST /in/{source} that reached a source */
	HG_STAT_ACCEPTED,           /* stored as a new message */
	HG_STAT_DUPLICATES,         /* answered "duplicate" */
	HG_STAT_INVALID_SIGNATURES, /* 401: bad signature, replay, mTLS */
	HG_STAT_RATE_LIMITED,       /* 429 */
	HG_STAT_DELIVERED,          /* deliveries that succeeded */
	HG_STAT_FAILED,             /* delivery attempts that failed and will be retried */
	HG_STAT_DEAD,               /* deliveries that ran out of attempts */
	HG_STAT_N
};

/* The counters' names, also their column and JSON names. */
extern const char *const hg_stat_names[HG_STAT_N];

/* Latency histogram: bucket i < 8 holds exactly i microseconds; above, each
 * power of two [2^e, 2^(e+1)) is split in 4 equal buckets. The last bucket
 * also holds everything above its lower bound (about 33 hours). */
#define HG_STATS_BUCKETS  144
#define HG_STATS_NAME_MAX 128 /* longest source name counted, with its NUL */
#define HG_STATS_SOURCES  256 /* sources counted at most; more are not counted */
#define HG_HOUR_MS        3600000LL

/* Which bucket holds a latency of us microseconds (negative counts as 0). */
int hg_stats_bucket(int64_t us);
/* The smallest and largest microsecond values bucket b holds. */
void hg_stats_bucket_bounds(int b, int64_t *lo, int64_t *hi);
/* The q-quantile (0 < q <= 1) of a histogram, in microseconds: the middle of
 * the bucket that holds the value of rank ceil(q * count). -1 when empty. */
int64_t hg_stats_percentile_us(const uint64_t hist[HG_STATS_BUCKETS], double q);
/* The hour an instant belongs to: ms rounded down to a whole hour (UTC). */
int64_t hg_stats_hour_of(int64_t ms);

/* One source's counts for one hour, as taken for the store or read back. */
struct hg_stats_row {
	char source[HG_STATS_NAME_MAX];
	int64_t hour_ms; /* start of the hour, ms since the epoch */
	uint64_t count[HG_STAT_N];
	uint64_t latency[HG_STATS_BUCKETS];
};
/* Adds b's counts and latencies into a (source and hour are left alone). */
void hg_stats_row_add(struct hg_stats_row *a, const struct hg_stats_row *b);

struct hg_stats;

int hg_stats_new(struct hg_stats **out);
void hg_stats_free(struct hg_stats *st);

/* Counts one event of source (len bytes, not NUL-terminated) at now_ms.
 * Thread-safe, lock-free after a source's first event; never blocks. */
void hg_stats_count(struct hg_stats *st, const char *source, size_t len, enum hg_stat what,
		    int64_t now_ms);
/* Records one acknowledgement latency of us microseconds at now_ms. */
void hg_stats_latency(struct hg_stats *st, const char *source, size_t len, int64_t us,
		      int64_t now_ms);

/* Since start, for /metrics: calls fn for each source seen, in the order
 * they were first seen, with its totals and its latency histogram (valid
 * during the call). */
void hg_stats_totals(struct hg_stats *st,
		     void (*fn)(const char *source, const uint64_t count[HG_STAT_N],
				const uint64_t latency[HG_STATS_BUCKETS], uint64_t latency_sum_us,
				void *arg),
		     void *arg);

/* The flusher's side (one thread). hg_stats_take() moves every count made
 * since the last take into the rows still waiting to be written and points
 * *rows at them (*n of them; owned by st, valid until the next take or
 * taken). After writing them, hg_stats_taken() drops them; when the write
 * failed, just take again later. HG_OK or HG_ENOMEM (counts are kept). */
int hg_stats_take(struct hg_stats *st, const struct hg_stats_row **rows, size_t *n);
void hg_stats_taken(struct hg_stats *st);

#endif
