/*
 * test_timer.c — the delivery engine's timer heap (src/deliver/timer.c):
 * timers come out earliest first, setting a queued timer moves it rather
 * than adding a second entry, removal from any place keeps the order, and
 * a full heap refuses instead of overflowing.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "deliver/deliver_internal.h"

#define N 64

/* Pops everything, checking the times never go down; returns how many. */
static size_t drain_sorted(struct hg_deliver_heap *h)
{
	struct hg_deliver_timer *t;
	int64_t last = INT64_MIN;
	size_t n = 0;

	while ((t = hg_deliver_heap_min(h)) != NULL) {
		assert_true(t->at_ms >= last);
		last = t->at_ms;
		hg_deliver_heap_remove(h, t);
		assert_int_equal(t->slot, 0);
		n++;
	}
	return n;
}

static void test_order(void **state)
{
	struct hg_deliver_timer t[N] = {0};
	struct hg_deliver_heap h;
	size_t i;

	(void)state;
	assert_int_equal(hg_deliver_heap_init(&h, N), HG_OK);
	assert_null(hg_deliver_heap_min(&h));
	srand(7);
	for (i = 0; i < N; i++)
		assert_int_equal(hg_deliver_heap_set(&h, &t[i], rand() % 1000), HG_OK);
	assert_int_equal(drain_sorted(&h), N);
	hg_deliver_heap_free(&h);
}

static void test_set_moves(void **state)
{
	struct hg_deliver_timer a = {0}, b = {0}, c = {0};
	struct hg_deliver_heap h;

	(void)state;
	assert_int_equal(hg_deliver_heap_init(&h, 3), HG_OK);
	assert_int_equal(hg_deliver_heap_set(&h, &a, 100), HG_OK);
	assert_int_equal(hg_deliver_heap_set(&h, &b, 200), HG_OK);
	assert_int_equal(hg_deliver_heap_set(&h, &c, 300), HG_OK);
	assert_ptr_equal(hg_deliver_heap_min(&h), &a);
	/* later, then earlier again: one entry each, always in place */
	assert_int_equal(hg_deliver_heap_set(&h, &a, 400), HG_OK);
	assert_ptr_equal(hg_deliver_heap_min(&h), &b);
	assert_int_equal(hg_deliver_heap_set(&h, &c, 50), HG_OK);
	assert_ptr_equal(hg_deliver_heap_min(&h), &c);
	assert_int_equal(h.n, 3);
	assert_int_equal(drain_sorted(&h), 3);
	hg_deliver_heap_free(&h);
}

static void test_remove_anywhere(void **state)
{
	struct hg_deliver_timer t[N] = {0};
	struct hg_deliver_heap h;
	size_t i;

	(void)state;
	assert_int_equal(hg_deliver_heap_init(&h, N), HG_OK);
	for (i = 0; i < N; i++)
		assert_int_equal(hg_deliver_heap_set(&h, &t[i], (int64_t)((i * 37) % N)), HG_OK);
	for (i = 0; i < N; i += 3)
		hg_deliver_heap_remove(&h, &t[i]);
	hg_deliver_heap_remove(&h, &t[0]); /* not queued any more: nothing happens */
	assert_int_equal(drain_sorted(&h), N - (N + 2) / 3);
	hg_deliver_heap_free(&h);
}

static void test_full(void **state)
{
	struct hg_deliver_timer a = {0}, b = {0};
	struct hg_deliver_heap h;

	(void)state;
	assert_int_equal(hg_deliver_heap_init(&h, 1), HG_OK);
	assert_int_equal(hg_deliver_heap_set(&h, &a, 1), HG_OK);
	assert_int_equal(hg_deliver_heap_set(&h, &b, 2), HG_ETOOBIG);
	assert_int_equal(b.slot, 0);
	assert_int_equal(hg_deliver_heap_set(&h, &a, 5), HG_OK); /* a move needs no room */
	hg_deliver_heap_free(&h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_order),
	    cmocka_unit_test(test_set_moves),
	    cmocka_unit_test(test_remove_anywhere),
	    cmocka_unit_test(test_full),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
