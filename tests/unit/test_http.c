/*
 * test_http.c — unit tests for src/http/server.c: answers deferred to
 * another thread (as the ingest writer does) reach their clients when
 * several event loops are woken at once by one batch of answers.
 *
 * Regression: the loops' sockets (listener, message-queue pipe) were made
 * on the main thread, so every loop's queue pipe took its read buffer from
 * the main thread's lock-free recycle bins; loops woken together by one
 * group commit raced on those bins and corrupted the heap (crashes in
 * malloc under PostgreSQL, whose slower commits answer many loops at once).
 * ThreadSanitizer flags it at once; without a sanitizer this test crashed
 * or hung only now and then.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "http/http.h"
#include "util/util.h"

#define LOOPS   4
#define CLIENTS 16
#define ROUNDS  60

/* The "writer": collects deferred requests and answers them in batches. */
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static struct hg_http_pending *queued[CLIENTS * 2];
static size_t nqueued;
static int stopping;

static void deferred(struct hg_http_req *req, void *arg)
{
	struct hg_http_pending *p = hg_http_defer(req);

	(void)arg;
	assert_non_null(p);
	pthread_mutex_lock(&mu);
	queued[nqueued++] = p;
	pthread_cond_signal(&cv);
	pthread_mutex_unlock(&mu);
}

static void *answerer(void *arg)
{
	static const char body[] = "{\"status\":\"accepted\"}\n";
	struct hg_http_resp resp = {.status = 200,
				    .content_type = "application/json",
				    .body = body,
				    .body_len = sizeof(body) - 1};
	struct hg_http_pending *batch[CLIENTS * 2];
	size_t n;

	(void)arg;
	pthread_mutex_lock(&mu);
	while (!stopping) {
		if (nqueued == 0) {
			pthread_cond_wait(&cv, &mu);
			continue;
		}
		/* let a batch build up, like a group commit */
		pthread_mutex_unlock(&mu);
		usleep(500);
		pthread_mutex_lock(&mu);
		n = nqueued;
		memcpy(batch, queued, n * sizeof(*batch));
		nqueued = 0;
		pthread_mutex_unlock(&mu);
		for (size_t i = 0; i < n; i++)
			hg_http_pending_respond(batch[i], &resp);
		pthread_mutex_lock(&mu);
	}
	pthread_mutex_unlock(&mu);
	return NULL;
}

static int port;

static void *client(void *arg)
{
	static const char req[] = "POST /in/x HTTP/1.1\r\nHost: t\r\nContent-Length: 2\r\n"
				  "Connection: close\r\n\r\n{}";
	struct sockaddr_in sa = {.sin_family = AF_INET};
	char buf[1024];
	int *ok = arg;

	sa.sin_port = htons((uint16_t)port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	for (int r = 0; r < ROUNDS; r++) {
		int fd = socket(AF_INET, SOCK_STREAM, 0);
		size_t got = 0;
		ssize_t k;

		if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
		    write(fd, req, sizeof(req) - 1) != (ssize_t)(sizeof(req) - 1)) {
			if (fd >= 0)
				close(fd);
			continue;
		}
		while (got < sizeof(buf) - 1 &&
		       (k = read(fd, buf + got, sizeof(buf) - 1 - got)) > 0)
			got += (size_t)k;
		buf[got] = '\0';
		close(fd);
		if (strncmp(buf, "HTTP/1.1 200", 12) == 0 && strstr(buf, "accepted") != NULL)
			(*ok)++;
	}
	return NULL;
}

static void deferred_answers_from_another_thread(void **state)
{
	struct hg_http_opts opts = {.host = "127.0.0.1",
				    .port = 0,
				    .threads = LOOPS,
				    .max_body = 1024,
				    .request_timeout_ms = 10000,
				    .max_connections = 1024};
	struct hg_http_server *srv = NULL;
	pthread_t ans, cl[CLIENTS];
	int ok[CLIENTS] = {0}, total = 0;
	char err[256];

	(void)state;
	assert_int_equal(hg_http_server_new(&opts, &srv), HG_OK);
	assert_int_equal(hg_http_server_route(srv, "/in/", deferred, NULL), HG_OK);
	assert_int_equal(hg_http_server_start(srv, err, sizeof(err)), HG_OK);
	port = hg_http_server_port(srv);
	assert_int_equal(pthread_create(&ans, NULL, answerer, NULL), 0);
	for (int i = 0; i < CLIENTS; i++)
		assert_int_equal(pthread_create(&cl[i], NULL, client, &ok[i]), 0);
	for (int i = 0; i < CLIENTS; i++) {
		pthread_join(cl[i], NULL);
		total += ok[i];
	}
	hg_http_server_stop(srv);
	pthread_mutex_lock(&mu);
	stopping = 1;
	pthread_cond_signal(&cv);
	pthread_mutex_unlock(&mu);
	pthread_join(ans, NULL);
	hg_http_server_free(srv);
	assert_int_equal(total, CLIENTS * ROUNDS);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(deferred_answers_from_another_thread),
	};

	hg_log_set_level(HG_LOG_ERROR);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
