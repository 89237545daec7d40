/*
 * test_schedule.c — the retry arithmetic of src/deliver/schedule.c: the
 * schedule and exponential forms, the max_delay cap, jitter bounds over
 * many samples, and Retry-After in seconds and as an HTTP date.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "config/config.h"
#include "deliver/deliver.h"

#define SAMPLES 20000

static void test_schedule_form(void **state)
{
	int64_t sched[] = {0, 60000, 120000, 240000, 480000};
	struct hg_retry r = {.schedule_ms = sched, .attempts = 5, .max_delay_ms = 3600000};

	(void)state;
	/* n attempts made: the wait before attempt n + 1 is schedule[n] */
	assert_int_equal(hg_deliver_delay_ms(&r, 0), 0);
	assert_int_equal(hg_deliver_delay_ms(&r, 1), 60000);
	assert_int_equal(hg_deliver_delay_ms(&r, 2), 120000);
	assert_int_equal(hg_deliver_delay_ms(&r, 4), 480000);
	/* after the fifth attempt there is no sixth */
	assert_int_equal(hg_deliver_delay_ms(&r, 5), -1);
	assert_int_equal(hg_deliver_delay_ms(&r, 6), -1);
}

static void test_exponential_form(void **state)
{
	struct hg_retry r = {.attempts = 6, .base_ms = 1000, .factor = 2, .max_delay_ms = 3600000};
	struct hg_retry half = {
	    .attempts = 4, .base_ms = 1000, .factor = 1.5, .max_delay_ms = 60000};

	(void)state;
	/* attempt 1 at once, then base * factor^(k - 1) after attempt k */
	assert_int_equal(hg_deliver_delay_ms(&r, 0), 0);
	assert_int_equal(hg_deliver_delay_ms(&r, 1), 1000);
	assert_int_equal(hg_deliver_delay_ms(&r, 2), 2000);
	assert_int_equal(hg_deliver_delay_ms(&r, 3), 4000);
	assert_int_equal(hg_deliver_delay_ms(&r, 5), 16000);
	assert_int_equal(hg_deliver_delay_ms(&r, 6), -1);
	assert_int_equal(hg_deliver_delay_ms(&half, 2), 1500);
	assert_int_equal(hg_deliver_delay_ms(&half, 3), 2250);
}

static void test_max_delay_caps(void **state)
{
	int64_t sched[] = {0, 7200000};
	struct hg_retry s = {.schedule_ms = sched, .attempts = 2, .max_delay_ms = 3600000};
	struct hg_retry e = {
	    .attempts = 100, .base_ms = 1000, .factor = 100, .max_delay_ms = 90000};

	(void)state;
	assert_int_equal(hg_deliver_delay_ms(&s, 1), 3600000);
	assert_int_equal(hg_deliver_delay_ms(&e, 2), 90000);
	/* 100^98 seconds overflows any integer; it is still just the cap */
	assert_int_equal(hg_deliver_delay_ms(&e, 99), 90000);
}

static void test_jitter_bounds(void **state)
{
	int64_t sched[] = {0, 10000, 3600000};
	struct hg_retry r = {
	    .schedule_ms = sched, .attempts = 3, .max_delay_ms = 3600000, .jitter = 0.10};
	int64_t v, lo = INT64_MAX, hi = 0;
	double sum = 0;
	int i, below = 0, above = 0;

	(void)state;
	for (i = 0; i < SAMPLES; i++) {
		v = hg_deliver_delay_ms(&r, 1);
		assert_in_range(v, 9000, 11000);
		lo = v < lo ? v : lo;
		hi = v > hi ? v : hi;
		below += v < 10000;
		above += v > 10000;
		sum += (double)v;
	}
	/* uniform over +-10%: the samples reach close to both ends, fall on
	 * both sides about equally, and average the schedule's value */
	assert_true(lo < 9100);
	assert_true(hi > 10900);
	assert_in_range(below, SAMPLES * 4 / 10, SAMPLES * 6 / 10);
	assert_in_range(above, SAMPLES * 4 / 10, SAMPLES * 6 / 10);
	assert_in_range((int64_t)(sum / SAMPLES), 9900, 10100);
	/* nothing to jitter in a zero wait */
	for (i = 0; i < 100; i++)
		assert_int_equal(hg_deliver_delay_ms(&r, 0), 0);
	/* jitter never takes a wait past max_delay */
	for (i = 0; i < SAMPLES; i++)
		assert_in_range(hg_deliver_delay_ms(&r, 2), 3240000, 3600000);
}

static void test_retry_after_seconds(void **state)
{
	int64_t ms = -1;

	(void)state;
	assert_int_equal(hg_deliver_retry_after_ms("120", 3, 0, &ms), HG_OK);
	assert_int_equal(ms, 120000);
	assert_int_equal(hg_deliver_retry_after_ms(" 0 ", 3, 0, &ms), HG_OK);
	assert_int_equal(ms, 0);
	assert_int_equal(hg_deliver_retry_after_ms("1", 1, 0, &ms), HG_OK);
	assert_int_equal(ms, 1000);
	assert_int_equal(hg_deliver_retry_after_ms("", 0, 0, &ms), HG_EINVAL);
	assert_int_equal(hg_deliver_retry_after_ms("   ", 3, 0, &ms), HG_EINVAL);
	assert_int_equal(hg_deliver_retry_after_ms("-5", 2, 0, &ms), HG_EINVAL);
	assert_int_equal(hg_deliver_retry_after_ms("1.5", 3, 0, &ms), HG_EINVAL);
	assert_int_equal(hg_deliver_retry_after_ms("soon", 4, 0, &ms), HG_EINVAL);
	assert_int_equal(hg_deliver_retry_after_ms("9999999999999", 13, 0, &ms), HG_EINVAL);
}

static void test_retry_after_date(void **state)
{
	/* 1994-11-06T08:49:37Z, the example date of RFC 9110 */
	const int64_t t = 784111777000;
	static const char *const forms[] = {
	    "Sun, 06 Nov 1994 08:49:37 GMT",  /* IMF-fixdate */
	    "Sunday, 06-Nov-94 08:49:37 GMT", /* RFC 850 */
	    "Sun Nov  6 08:49:37 1994",       /* asctime */
	};
	int64_t ms = -1;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(forms) / sizeof(forms[0]); i++) {
		ms = -1;
		assert_int_equal(
		    hg_deliver_retry_after_ms(forms[i], strlen(forms[i]), t - 30000, &ms), HG_OK);
		assert_int_equal(ms, 30000);
	}
	/* a date in the past means now */
	assert_int_equal(hg_deliver_retry_after_ms(forms[0], strlen(forms[0]), t + 5000, &ms),
			 HG_OK);
	assert_int_equal(ms, 0);
	assert_int_equal(hg_deliver_retry_after_ms("Someday", 7, t, &ms), HG_EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_schedule_form),       cmocka_unit_test(test_exponential_form),
	    cmocka_unit_test(test_max_delay_caps),      cmocka_unit_test(test_jitter_bounds),
	    cmocka_unit_test(test_retry_after_seconds), cmocka_unit_test(test_retry_after_date),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
