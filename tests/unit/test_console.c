/*
 * test_console.c — unit tests for src/console/session.c, the console's
 * session table: ids and CSRF tokens are fresh random hex, a session is
 * found by its id only, ends after the idle timeout and the lifetime, at
 * removal, and the least recently used one makes room when the table is
 * full; and the failed sign-in throttle: per address, daemon-wide, by the
 * minute. Times are passed in, so nothing here waits.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "console/console.h"
#include "util/util.h"

static int is_hex(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (hg_hex_digit((unsigned char)s[i]) < 0)
			return 0;
	return strlen(s) == n;
}

static void test_create_and_touch(void **state)
{
	struct hg_console_sessions *t;
	char id[HG_CONSOLE_ID_LEN + 1], id2[HG_CONSOLE_ID_LEN + 1];
	char csrf[HG_CONSOLE_CSRF_LEN + 1], csrf2[HG_CONSOLE_CSRF_LEN + 1],
	    got[HG_CONSOLE_CSRF_LEN + 1];
	int64_t exp = 0;

	(void)state;
	assert_int_equal(hg_console_sessions_new(4, &t), HG_OK);
	assert_int_equal(hg_console_sessions_create(t, 1000, id, csrf), HG_OK);
	assert_int_equal(hg_console_sessions_create(t, 1000, id2, csrf2), HG_OK);
	assert_true(is_hex(id, HG_CONSOLE_ID_LEN));
	assert_true(is_hex(csrf, HG_CONSOLE_CSRF_LEN));
	assert_string_not_equal(id, id2);
	assert_string_not_equal(csrf, csrf2);
	assert_string_not_equal(id, csrf);
	assert_int_equal(hg_console_sessions_touch(t, id, strlen(id), 2000, got, &exp), HG_OK);
	assert_string_equal(got, csrf);
	assert_int_equal(exp, 2000 + HG_CONSOLE_IDLE_MS);
	assert_int_equal(hg_console_sessions_touch(t, id2, strlen(id2), 2000, got, NULL), HG_OK);
	assert_string_equal(got, csrf2);
	/* a changed character, a prefix, the CSRF token: none is a session */
	id[0] = id[0] == 'a' ? 'b' : 'a';
	assert_int_equal(hg_console_sessions_touch(t, id, strlen(id), 2000, got, NULL),
			 HG_ENOTFOUND);
	assert_int_equal(hg_console_sessions_touch(t, id2, 10, 2000, got, NULL), HG_ENOTFOUND);
	assert_int_equal(hg_console_sessions_touch(t, csrf2, strlen(csrf2), 2000, got, NULL),
			 HG_ENOTFOUND);
	assert_int_equal(hg_console_sessions_count(t, 2000), 2);
	hg_console_sessions_free(t);
}

static void test_expiry_and_removal(void **state)
{
	struct hg_console_sessions *t;
	char id[HG_CONSOLE_ID_LEN + 1], csrf[HG_CONSOLE_CSRF_LEN + 1];
	int64_t now = 0;

	(void)state;
	assert_int_equal(hg_console_sessions_new(4, &t), HG_OK);
	/* idle: untouched for the idle timeout, it is gone */
	assert_int_equal(hg_console_sessions_create(t, now, id, csrf), HG_OK);
	assert_int_equal(
	    hg_console_sessions_touch(t, id, strlen(id), now + HG_CONSOLE_IDLE_MS - 1, NULL, NULL),
	    HG_OK);
	now += HG_CONSOLE_IDLE_MS - 1;
	assert_int_equal(
	    hg_console_sessions_touch(t, id, strlen(id), now + HG_CONSOLE_IDLE_MS, NULL, NULL),
	    HG_ENOTFOUND);
	/* lifetime: used all the time, it still ends */
	now = 0;
	assert_int_equal(hg_console_sessions_create(t, now, id, csrf), HG_OK);
	while (now + HG_CONSOLE_IDLE_MS / 2 < HG_CONSOLE_LIFETIME_MS) {
		now += HG_CONSOLE_IDLE_MS / 2;
		assert_int_equal(hg_console_sessions_touch(t, id, strlen(id), now, NULL, NULL),
				 HG_OK);
	}
	assert_int_equal(
	    hg_console_sessions_touch(t, id, strlen(id), HG_CONSOLE_LIFETIME_MS, NULL, NULL),
	    HG_ENOTFOUND);
	/* removal */
	assert_int_equal(hg_console_sessions_create(t, 0, id, csrf), HG_OK);
	assert_int_equal(hg_console_sessions_remove(t, id, strlen(id)), HG_OK);
	assert_int_equal(hg_console_sessions_remove(t, id, strlen(id)), HG_ENOTFOUND);
	assert_int_equal(hg_console_sessions_touch(t, id, strlen(id), 1, NULL, NULL), HG_ENOTFOUND);
	assert_int_equal(hg_console_sessions_count(t, 1), 0);
	hg_console_sessions_free(t);
}

static void test_full_table_drops_least_recent(void **state)
{
	struct hg_console_sessions *t;
	char ids[3][HG_CONSOLE_ID_LEN + 1], csrf[HG_CONSOLE_CSRF_LEN + 1],
	    extra[HG_CONSOLE_ID_LEN + 1];

	(void)state;
	assert_int_equal(hg_console_sessions_new(3, &t), HG_OK);
	for (int i = 0; i < 3; i++)
		assert_int_equal(hg_console_sessions_create(t, 10 + i, ids[i], csrf), HG_OK);
	/* ids[0] used last, so ids[1] is the least recently used */
	assert_int_equal(hg_console_sessions_touch(t, ids[0], HG_CONSOLE_ID_LEN, 20, NULL, NULL),
			 HG_OK);
	assert_int_equal(hg_console_sessions_create(t, 21, extra, csrf), HG_OK);
	assert_int_equal(hg_console_sessions_count(t, 21), 3);
	assert_int_equal(hg_console_sessions_touch(t, ids[1], HG_CONSOLE_ID_LEN, 22, NULL, NULL),
			 HG_ENOTFOUND);
	assert_int_equal(hg_console_sessions_touch(t, ids[0], HG_CONSOLE_ID_LEN, 22, NULL, NULL),
			 HG_OK);
	assert_int_equal(hg_console_sessions_touch(t, ids[2], HG_CONSOLE_ID_LEN, 22, NULL, NULL),
			 HG_OK);
	assert_int_equal(hg_console_sessions_touch(t, extra, HG_CONSOLE_ID_LEN, 22, NULL, NULL),
			 HG_OK);
	hg_console_sessions_free(t);
}

/* Ten failures lock one address out for the rest of its minute; another
 * address still signs in; the minute over, the first one may try again. */
static void test_throttle_per_address(void **state)
{
	struct hg_console_throttle *t;
	int64_t retry = 0, t0 = 1000000;
	int i;

	(void)state;
	assert_int_equal(hg_console_throttle_new(&t), HG_OK);
	for (i = 0; i < HG_CONSOLE_FAILURES_PER_ADDR; i++) {
		assert_true(hg_console_throttle_allowed(t, "198.51.100.7", t0 + i, &retry));
		hg_console_throttle_failed(t, "198.51.100.7", t0 + i);
	}
	assert_false(hg_console_throttle_allowed(t, "198.51.100.7", t0 + 1000, &retry));
	assert_true(retry >= 59 && retry <= 60);
	assert_true(hg_console_throttle_allowed(t, "203.0.113.9", t0 + 1000, &retry));
	assert_false(hg_console_throttle_allowed(t, "198.51.100.7",
						 t0 + HG_CONSOLE_FAILURE_WINDOW_MS - 1, &retry));
	assert_int_equal(retry, 1);
	assert_true(hg_console_throttle_allowed(t, "198.51.100.7",
						t0 + HG_CONSOLE_FAILURE_WINDOW_MS, &retry));
	/* a clock that went back forgets the window rather than blocking */
	for (i = 0; i < HG_CONSOLE_FAILURES_PER_ADDR; i++)
		hg_console_throttle_failed(t, "198.51.100.7",
					   t0 + 2 * HG_CONSOLE_FAILURE_WINDOW_MS);
	assert_true(hg_console_throttle_allowed(t, "198.51.100.7", t0, &retry));
	hg_console_throttle_free(t);
}

/* Failures spread over many addresses stop at the daemon-wide limit, for
 * every address; below it, a spray of addresses does not lock out one that
 * has not failed. */
static void test_throttle_daemon_wide(void **state)
{
	struct hg_console_throttle *t;
	char addr[64];
	int64_t retry = 0, t0 = 5000;
	int i;

	(void)state;
	assert_int_equal(hg_console_throttle_new(&t), HG_OK);
	for (i = 0; i < HG_CONSOLE_FAILURES_ALL - 1; i++) {
		snprintf(addr, sizeof(addr), "2001:db8::%x", i);
		assert_true(hg_console_throttle_allowed(t, addr, t0, &retry));
		hg_console_throttle_failed(t, addr, t0);
	}
	assert_true(hg_console_throttle_allowed(t, "192.0.2.1", t0 + 10, &retry));
	hg_console_throttle_failed(t, "2001:db8::ffff", t0 + 10);
	assert_false(hg_console_throttle_allowed(t, "192.0.2.1", t0 + 20, &retry));
	assert_true(retry >= 59 && retry <= 60);
	assert_true(
	    hg_console_throttle_allowed(t, "192.0.2.1", t0 + HG_CONSOLE_FAILURE_WINDOW_MS, &retry));
	hg_console_throttle_free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_create_and_touch),
	    cmocka_unit_test(test_expiry_and_removal),
	    cmocka_unit_test(test_full_table_drops_least_recent),
	    cmocka_unit_test(test_throttle_per_address),
	    cmocka_unit_test(test_throttle_daemon_wide),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
