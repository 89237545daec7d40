/*
 * test_exec.c — exec attempts (src/deliver/exec.c) driven the way the
 * engine drives them, with poll() on the descriptors they ask for: the body
 * reaches stdin, the first bytes of stdout and stderr are kept, exit
 * statuses come back, a command that never reads a large body does not
 * hang us, a killed command's group dies, and a command that cannot start
 * says why.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "deliver/deliver_internal.h"
#include "util/util.h"

/* Polls and services x until it has exited; kills it after kill_ms (when
 * > 0). Returns the milliseconds it took. */
static int64_t run(struct hg_deliver_exec *x, int64_t kill_ms)
{
	struct curl_waitfd w[3];
	struct pollfd p[3];
	int64_t start = hg_mono_us() / 1000, now;
	size_t n, i;

	for (;;) {
		if (hg_deliver_exec_service(x))
			break;
		now = hg_mono_us() / 1000;
		assert_true(now - start < 10000); /* a hang is a failure, not a stuck suite */
		if (kill_ms > 0 && now - start >= kill_ms) {
			hg_deliver_exec_kill(x);
			kill_ms = 0;
		}
		n = hg_deliver_exec_fds(x, w);
		for (i = 0; i < n; i++)
			p[i] = (struct pollfd){
			    .fd = w[i].fd,
			    .events = (short)((w[i].events & CURL_WAIT_POLLIN ? POLLIN : 0) |
					      (w[i].events & CURL_WAIT_POLLOUT ? POLLOUT : 0))};
		poll(p, n, 20);
	}
	return hg_mono_us() / 1000 - start;
}

static char *const no_env[] = {NULL};

static void test_stdin_to_output(void **state)
{
	char *const argv[] = {"/bin/cat", NULL};
	struct hg_deliver_head head = {0};
	struct hg_deliver_exec x;
	char err[256];

	(void)state;
	assert_int_equal(hg_deliver_exec_start(&x, argv, no_env, (const uint8_t *)"hello", 5, &head,
					       err, sizeof(err)),
			 HG_OK);
	run(&x, 0);
	assert_true(WIFEXITED(x.status));
	assert_int_equal(WEXITSTATUS(x.status), 0);
	assert_int_equal(head.len, 5);
	assert_memory_equal(head.bytes, "hello", 5);
	hg_deliver_exec_close(&x);
}

static void test_status_env_and_stderr(void **state)
{
	char *const argv[] = {"/bin/sh", "-c", "echo \"$HOOKGATE_X\" >&2; exit 3", NULL};
	char *const env[] = {"HOOKGATE_X=from-env", NULL};
	struct hg_deliver_head head = {0};
	struct hg_deliver_exec x;
	char err[256];

	(void)state;
	assert_int_equal(hg_deliver_exec_start(&x, argv, env, NULL, 0, &head, err, sizeof(err)),
			 HG_OK);
	run(&x, 0);
	assert_true(WIFEXITED(x.status));
	assert_int_equal(WEXITSTATUS(x.status), 3);
	assert_int_equal(head.len, strlen("from-env\n"));
	assert_memory_equal(head.bytes, "from-env\n", head.len);
	hg_deliver_exec_close(&x);
}

static void test_large_body_and_output(void **state)
{
	char *const reads_nothing[] = {"/bin/true", NULL};
	char *const cat[] = {"/bin/cat", NULL};
	struct hg_deliver_head head = {0};
	struct hg_deliver_exec x;
	size_t len = 4u << 20; /* far more than a pipe holds */
	uint8_t *body = malloc(len);
	char err[256];

	(void)state;
	assert_non_null(body);
	memset(body, 'x', len);
	assert_int_equal(
	    hg_deliver_exec_start(&x, reads_nothing, no_env, body, len, &head, err, sizeof(err)),
	    HG_OK);
	run(&x, 0);
	assert_int_equal(WEXITSTATUS(x.status), 0);
	hg_deliver_exec_close(&x);
	/* 4 MiB through cat: all of it moves, the first KiB is kept */
	assert_int_equal(hg_deliver_exec_start(&x, cat, no_env, body, len, &head, err, sizeof(err)),
			 HG_OK);
	run(&x, 0);
	assert_int_equal(WEXITSTATUS(x.status), 0);
	assert_int_equal(x.off, len);
	assert_int_equal(head.len, HG_STORE_HEAD_MAX);
	hg_deliver_exec_close(&x);
	free(body);
}

static void test_kill_group(void **state)
{
	/* the shell's own child would keep the output pipe open if it survived */
	char *const argv[] = {"/bin/sh", "-c", "sleep 30 & sleep 30", NULL};
	struct hg_deliver_head head = {0};
	struct hg_deliver_exec x;
	char err[256];
	int i;

	(void)state;
	assert_int_equal(hg_deliver_exec_start(&x, argv, no_env, NULL, 0, &head, err, sizeof(err)),
			 HG_OK);
	assert_true(run(&x, 100) < 5000);
	assert_true(WIFSIGNALED(x.status));
	assert_int_equal(WTERMSIG(x.status), SIGKILL);
	/* the whole group is gone (once init has reaped the orphan): nobody is
	 * left to signal */
	for (i = 0; i < 200 && kill(-x.pid, 0) == 0; i++)
		usleep(10000);
	assert_int_equal(kill(-x.pid, 0), -1);
	hg_deliver_exec_close(&x);
}

static void test_cannot_start(void **state)
{
	char *const argv[] = {"/nonexistent/command", NULL};
	struct hg_deliver_head head = {0};
	struct hg_deliver_exec x;
	char err[256] = "";

	(void)state;
	assert_int_equal(hg_deliver_exec_start(&x, argv, no_env, NULL, 0, &head, err, sizeof(err)),
			 HG_EIO);
	assert_non_null(strstr(err, "cannot start /nonexistent/command"));
	assert_int_equal(x.pid, 0);
	hg_deliver_exec_close(&x); /* harmless after a failed start */
}

int main(void)
{
	/* as on the engine's thread: a closed stdin is EPIPE, not death */
	signal(SIGPIPE, SIG_IGN);
	static const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_stdin_to_output),
	    cmocka_unit_test(test_status_env_and_stderr),
	    cmocka_unit_test(test_large_body_and_output),
	    cmocka_unit_test(test_kill_group),
	    cmocka_unit_test(test_cannot_start),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
