/*
 * test_stats.c — unit tests for src/stats/stats.c: the log-linear latency
 * buckets and their bounds, percentiles from a histogram, hour buckets,
 * counting per source and hour, and the take/taken hand-over to the
 * flusher (including counts kept when a write failed and counts made by
 * several threads at once).
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "stats/stats.h"
#include "util/util.h"

static void buckets_are_exact_below_8_us(void **state)
{
	int64_t lo, hi;

	(void)state;
	for (int64_t v = 0; v < 8; v++) {
		assert_int_equal(hg_stats_bucket(v), v);
		hg_stats_bucket_bounds((int)v, &lo, &hi);
		assert_int_equal(lo, v);
		assert_int_equal(hi, v);
	}
	assert_int_equal(hg_stats_bucket(-5), 0);
}

/* Every value lies within its bucket's bounds, the buckets tile the line
 * without gaps, and each is at most a quarter of its lower bound wide. */
static void buckets_tile_and_hold_their_values(void **state)
{
	int64_t lo, hi, prev_hi = -1;

	(void)state;
	for (int b = 0; b < HG_STATS_BUCKETS; b++) {
		hg_stats_bucket_bounds(b, &lo, &hi);
		assert_int_equal(lo, prev_hi + 1);
		assert_true(hi >= lo);
		assert_int_equal(hg_stats_bucket(lo), b);
		assert_int_equal(hg_stats_bucket(hi), b);
		if (b >= 8)
			assert_true((hi - lo + 1) * 4 <= lo);
		prev_hi = hi;
	}
	/* 1000 us = 0b1111101000: 2^9 * (4 + 3) / 4 = 896 .. 1023 */
	hg_stats_bucket_bounds(hg_stats_bucket(1000), &lo, &hi);
	assert_int_equal(lo, 896);
	assert_int_equal(hi, 1023);
	/* past the last bucket everything lands in it */
	assert_int_equal(hg_stats_bucket(INT64_MAX), HG_STATS_BUCKETS - 1);
}

static void percentile_of_empty_histogram_is_minus_one(void **state)
{
	uint64_t h[HG_STATS_BUCKETS] = {0};

	(void)state;
	assert_int_equal(hg_stats_percentile_us(h, 0.5), -1);
}

static void percentile_picks_the_bucket_of_the_rank(void **state)
{
	uint64_t h[HG_STATS_BUCKETS] = {0};
	int64_t lo, hi;

	(void)state;
	/* 100 values: 50 at 3 us, 45 at 1000 us, 5 at 100 ms */
	h[hg_stats_bucket(3)] = 50;
	h[hg_stats_bucket(1000)] = 45;
	h[hg_stats_bucket(100000)] = 5;
	/* rank ceil(0.5 * 100) = 50: the 50th value is 3 us, exactly */
	assert_int_equal(hg_stats_percentile_us(h, 0.5), 3);
	/* rank 51 is in the 1000 us bucket: its middle, 896 + 127 / 2 */
	assert_int_equal(hg_stats_percentile_us(h, 0.51), 959);
	/* rank 95 is the last of the 1000 us bucket */
	assert_int_equal(hg_stats_percentile_us(h, 0.95), 959);
	/* rank 96 reaches the 100 ms bucket */
	hg_stats_bucket_bounds(hg_stats_bucket(100000), &lo, &hi);
	assert_int_equal(hg_stats_percentile_us(h, 0.96), lo + (hi - lo) / 2);
	assert_int_equal(hg_stats_percentile_us(h, 1.0), lo + (hi - lo) / 2);
	/* the estimate is within 12.5 % of the true value */
	int64_t p = hg_stats_percentile_us(h, 0.99);
	assert_true(p >= 100000 * 7 / 8 && p <= 100000 * 9 / 8);
}

static void one_value_is_every_percentile(void **state)
{
	uint64_t h[HG_STATS_BUCKETS] = {0};

	(void)state;
	h[hg_stats_bucket(5)] = 1;
	assert_int_equal(hg_stats_percentile_us(h, 0.01), 5);
	assert_int_equal(hg_stats_percentile_us(h, 0.5), 5);
	assert_int_equal(hg_stats_percentile_us(h, 0.95), 5);
}

static void hours_round_down(void **state)
{
	(void)state;
	assert_int_equal(hg_stats_hour_of(0), 0);
	assert_int_equal(hg_stats_hour_of(HG_HOUR_MS - 1), 0);
	assert_int_equal(hg_stats_hour_of(HG_HOUR_MS), HG_HOUR_MS);
	/* 2024-01-15T10:30:00.123Z -> 10:00 */
	assert_int_equal(hg_stats_hour_of(1705314600123LL), 1705312800000LL);
	assert_int_equal(hg_stats_hour_of(-1), -HG_HOUR_MS);
}

static const struct hg_stats_row *find_row(const struct hg_stats_row *rows, size_t n,
					   const char *source, int64_t hour_ms)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(rows[i].source, source) == 0 && rows[i].hour_ms == hour_ms)
			return &rows[i];
	return NULL;
}

/* Counts land in the source's row of the hour they happened in. */
static void counts_go_to_their_source_and_hour(void **state)
{
	struct hg_stats *st;
	const struct hg_stats_row *rows, *r;
	int64_t now = hg_now_ms(), h = hg_stats_hour_of(now), prev = h - HG_HOUR_MS;
	size_t n;

	(void)state;
	assert_int_equal(hg_stats_new(&st), HG_OK);
	hg_stats_count(st, "whatsapp-x", 8, HG_STAT_RECEIVED, now); /* "whatsapp" */
	hg_stats_count(st, "whatsapp", 8, HG_STAT_RECEIVED, now);
	hg_stats_count(st, "whatsapp", 8, HG_STAT_ACCEPTED, now);
	hg_stats_count(st, "github", 6, HG_STAT_INVALID_SIGNATURES, now);
	hg_stats_count(st, "whatsapp", 8, HG_STAT_DUPLICATES, prev + 5);
	hg_stats_latency(st, "whatsapp", 8, 1000, now);
	hg_stats_latency(st, "whatsapp", 8, 3, now);

	assert_int_equal(hg_stats_take(st, &rows, &n), HG_OK);
	assert_int_equal(n, 3);
	r = find_row(rows, n, "whatsapp", h);
	assert_non_null(r);
	assert_int_equal(r->count[HG_STAT_RECEIVED], 2);
	assert_int_equal(r->count[HG_STAT_ACCEPTED], 1);
	assert_int_equal(r->count[HG_STAT_DUPLICATES], 0);
	assert_int_equal(r->latency[hg_stats_bucket(1000)], 1);
	assert_int_equal(r->latency[3], 1);
	r = find_row(rows, n, "whatsapp", prev);
	assert_non_null(r);
	assert_int_equal(r->count[HG_STAT_DUPLICATES], 1);
	r = find_row(rows, n, "github", h);
	assert_non_null(r);
	assert_int_equal(r->count[HG_STAT_INVALID_SIGNATURES], 1);
	hg_stats_taken(st);

	/* Taken counts are gone; nothing new means no rows. */
	assert_int_equal(hg_stats_take(st, &rows, &n), HG_OK);
	assert_int_equal(n, 0);
	hg_stats_free(st);
}

/* A failed write keeps the rows, and new counts merge into them. */
static void untaken_rows_merge_with_new_counts(void **state)
{
	struct hg_stats *st;
	const struct hg_stats_row *rows;
	int64_t now = hg_now_ms();
	size_t n;

	(void)state;
	assert_int_equal(hg_stats_new(&st), HG_OK);
	hg_stats_count(st, "s", 1, HG_STAT_DELIVERED, now);
	assert_int_equal(hg_stats_take(st, &rows, &n), HG_OK);
	assert_int_equal(n, 1);
	/* no hg_stats_taken(): the write failed */
	hg_stats_count(st, "s", 1, HG_STAT_DELIVERED, now);
	hg_stats_count(st, "s", 1, HG_STAT_DEAD, now);
	assert_int_equal(hg_stats_take(st, &rows, &n), HG_OK);
	assert_int_equal(n, 1);
	assert_int_equal(rows[0].count[HG_STAT_DELIVERED], 2);
	assert_int_equal(rows[0].count[HG_STAT_DEAD], 1);
	hg_stats_taken(st);
	hg_stats_free(st);
}

struct totals_seen {
	int calls;
	uint64_t received, latencies, sum;
};

static void on_totals(const char *source, const uint64_t count[HG_STAT_N],
		      const uint64_t latency[HG_STATS_BUCKETS], uint64_t sum, void *arg)
{
	struct totals_seen *t = arg;

	assert_string_equal(source, "s");
	t->calls++;
	t->received = count[HG_STAT_RECEIVED];
	for (int b = 0; b < HG_STATS_BUCKETS; b++)
		t->latencies += latency[b];
	t->sum = sum;
}

/* Totals since start survive takes (they are for /metrics). */
static void totals_outlive_takes(void **state)
{
	struct hg_stats *st;
	const struct hg_stats_row *rows;
	struct totals_seen t = {0};
	size_t n;

	(void)state;
	assert_int_equal(hg_stats_new(&st), HG_OK);
	hg_stats_count(st, "s", 1, HG_STAT_RECEIVED, hg_now_ms());
	hg_stats_latency(st, "s", 1, 250, hg_now_ms());
	hg_stats_latency(st, "s", 1, 750, hg_now_ms());
	assert_int_equal(hg_stats_take(st, &rows, &n), HG_OK);
	hg_stats_taken(st);
	hg_stats_count(st, "s", 1, HG_STAT_RECEIVED, hg_now_ms());
	hg_stats_totals(st, on_totals, &t);
	assert_int_equal(t.calls, 1);
	assert_int_equal(t.received, 2);
	assert_int_equal(t.latencies, 2);
	assert_int_equal(t.sum, 1000);
	hg_stats_free(st);
}

static void long_names_and_null_are_ignored(void **state)
{
	struct hg_stats *st;
	const struct hg_stats_row *rows;
	char name[HG_STATS_NAME_MAX + 8];
	size_t n;

	(void)state;
	memset(name, 'a', sizeof(name));
	assert_int_equal(hg_stats_new(&st), HG_OK);
	hg_stats_count(st, name, sizeof(name), HG_STAT_RECEIVED, hg_now_ms());
	hg_stats_count(st, NULL, 0, HG_STAT_RECEIVED, hg_now_ms());
	hg_stats_count(NULL, "s", 1, HG_STAT_RECEIVED, hg_now_ms());
	hg_stats_count(st, "s", 1, HG_STAT_N, hg_now_ms());
	assert_int_equal(hg_stats_take(st, &rows, &n), HG_OK);
	assert_int_equal(n, 0);
	hg_stats_free(st);
}

/* Each source keeps a ring of hour slots: an hour's slot is reused hours
 * later, and an event for an hour whose slot already moved on is dropped
 * rather than counted in the wrong hour. */
static void hour_slots_are_reused_and_late_events_dropped(void **state)
{
	struct hg_stats *st;
	const struct hg_stats_row *rows;
	int64_t now = hg_now_ms(), later = now + 4 * HG_HOUR_MS;
	size_t n;

	(void)state;
	assert_int_equal(hg_stats_new(&st), HG_OK);
	hg_stats_count(st, "s", 1, HG_STAT_RECEIVED, now);
	assert_int_equal(hg_stats_take(st, &rows, &n), HG_OK);
	assert_int_equal(n, 1);
	hg_stats_taken(st);

	hg_stats_count(st, "s", 1, HG_STAT_RECEIVED, later); /* the same slot, 4 hours on */
	hg_stats_count(st, "s", 1, HG_STAT_RECEIVED, now);   /* too late now: dropped */
	assert_int_equal(hg_stats_take(st, &rows, &n), HG_OK);
	assert_int_equal(n, 1);
	assert_int_equal(rows[0].hour_ms, hg_stats_hour_of(later));
	assert_int_equal(rows[0].count[HG_STAT_RECEIVED], 1);
	hg_stats_taken(st);
	hg_stats_free(st);
}

#define THREADS    4
#define PER_THREAD 20000

struct counter_arg {
	struct hg_stats *st;
	int64_t now;
};

static void *count_many(void *p)
{
	struct counter_arg *a = p;
	char name[8];

	for (int i = 0; i < PER_THREAD; i++) {
		/* a new source now and then, so adding races with counting */
		int k = i % 8;
		snprintf(name, sizeof(name), "src%d", k);
		hg_stats_count(a->st, name, strlen(name), HG_STAT_RECEIVED, a->now);
		hg_stats_latency(a->st, name, strlen(name), i, a->now);
	}
	return NULL;
}

/* Threads counting while the flusher takes: nothing lost, nothing twice. */
static void concurrent_counts_add_up(void **state)
{
	struct hg_stats *st;
	const struct hg_stats_row *rows;
	pthread_t t[THREADS];
	struct counter_arg a;
	uint64_t received = 0, latencies = 0;
	size_t n;

	(void)state;
	assert_int_equal(hg_stats_new(&st), HG_OK);
	a.st = st;
	a.now = hg_now_ms();
	for (int i = 0; i < THREADS; i++)
		assert_int_equal(pthread_create(&t[i], NULL, count_many, &a), 0);
	for (int round = 0; round < 50; round++) {
		assert_int_equal(hg_stats_take(st, &rows, &n), HG_OK);
		for (size_t i = 0; i < n; i++) {
			received += rows[i].count[HG_STAT_RECEIVED];
			for (int b = 0; b < HG_STATS_BUCKETS; b++)
				latencies += rows[i].latency[b];
		}
		hg_stats_taken(st);
	}
	for (int i = 0; i < THREADS; i++)
		pthread_join(t[i], NULL);
	assert_int_equal(hg_stats_take(st, &rows, &n), HG_OK);
	for (size_t i = 0; i < n; i++) {
		received += rows[i].count[HG_STAT_RECEIVED];
		for (int b = 0; b < HG_STATS_BUCKETS; b++)
			latencies += rows[i].latency[b];
	}
	assert_int_equal(received, (uint64_t)THREADS * PER_THREAD);
	assert_int_equal(latencies, (uint64_t)THREADS * PER_THREAD);
	hg_stats_free(st);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(buckets_are_exact_below_8_us),
	    cmocka_unit_test(buckets_tile_and_hold_their_values),
	    cmocka_unit_test(percentile_of_empty_histogram_is_minus_one),
	    cmocka_unit_test(percentile_picks_the_bucket_of_the_rank),
	    cmocka_unit_test(one_value_is_every_percentile),
	    cmocka_unit_test(hours_round_down),
	    cmocka_unit_test(counts_go_to_their_source_and_hour),
	    cmocka_unit_test(untaken_rows_merge_with_new_counts),
	    cmocka_unit_test(totals_outlive_takes),
	    cmocka_unit_test(long_names_and_null_are_ignored),
	    cmocka_unit_test(hour_slots_are_reused_and_late_events_dropped),
	    cmocka_unit_test(concurrent_counts_add_up),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
