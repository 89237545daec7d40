/*
 * test_snapshot.c — the config's live snapshots (config.h, snapshot.c):
 * references keep a swapped-out snapshot alive exactly as long as someone
 * holds it, the generation moves with each swap, and readers on several
 * threads may take and give back references while another thread swaps
 * (run under ASan and TSan by make asan and make tsan).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <pthread.h>
#include <stdatomic.h>

#include "config/config.h"

static void test_refs_and_generation(void **state)
{
	struct hg_config *a = NULL, *b = NULL, *got;
	struct hg_config_live *live = NULL;
	uint64_t gen = 0;

	(void)state;
	assert_int_equal(hg_config_default(&a), HG_OK);
	assert_int_equal(hg_config_default(&b), HG_OK);
	assert_int_equal(hg_config_live_new(a, &live), HG_OK);
	got = hg_config_get(live, &gen);
	assert_ptr_equal(got, a);
	assert_int_equal(gen, 1);
	assert_int_equal(hg_config_live_gen(live), 1);

	/* a is swapped out while we hold it: it stays valid until put */
	hg_config_live_swap(live, b);
	assert_int_equal(hg_config_live_gen(live), 2);
	assert_non_null(got->listen_host); /* ASan: not freed yet */
	hg_config_put(got);                /* the last reference: freed now */

	got = hg_config_get(live, &gen);
	assert_ptr_equal(got, b);
	assert_int_equal(gen, 2);
	hg_config_put(hg_config_hold(got)); /* hold + put balance */
	hg_config_put(got);
	hg_config_live_free(live); /* b goes with it */
	hg_config_put(NULL);
}

struct reader {
	struct hg_config_live *live;
	atomic_int *stop;
	long rounds;
};

static void *read_loop(void *arg)
{
	struct reader *r = arg;

	while (!atomic_load(r->stop)) {
		struct hg_config *c = hg_config_get(r->live, NULL);
		/* touch it, as a request would */
		if (c->listen_port <= 0)
			return NULL;
		hg_config_put(c);
		r->rounds++;
	}
	return NULL;
}

static void test_swaps_under_readers(void **state)
{
	struct hg_config *first = NULL;
	struct hg_config_live *live = NULL;
	struct reader r[4];
	pthread_t t[4];
	atomic_int stop = 0;
	int i;

	(void)state;
	assert_int_equal(hg_config_default(&first), HG_OK);
	assert_int_equal(hg_config_live_new(first, &live), HG_OK);
	for (i = 0; i < 4; i++) {
		r[i] = (struct reader){.live = live, .stop = &stop};
		assert_int_equal(pthread_create(&t[i], NULL, read_loop, &r[i]), 0);
	}
	for (i = 0; i < 200; i++) {
		struct hg_config *next = NULL;
		assert_int_equal(hg_config_default(&next), HG_OK);
		hg_config_live_swap(live, next);
	}
	atomic_store(&stop, 1);
	for (i = 0; i < 4; i++)
		assert_int_equal(pthread_join(t[i], NULL), 0);
	assert_int_equal(hg_config_live_gen(live), 201);
	hg_config_live_free(live); /* every snapshot freed: ASan's leak check */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_refs_and_generation),
	    cmocka_unit_test(test_swaps_under_readers),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
