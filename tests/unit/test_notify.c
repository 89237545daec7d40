/*
 * test_notify.c — the daemon's readiness protocol with systemd (Type=notify
 * in contrib/systemd/hookgate.service): the real binary ($HOOKGATE_BIN, else
 * build/hookgate) is started with NOTIFY_SOCKET pointing at a datagram
 * socket of ours, as systemd starts it, and must say READY=1 only once it
 * answers on its port, RELOADING=1 then READY=1 around a SIGHUP, and
 * STOPPING=1 on SIGTERM before it exits 0. Loopback only.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

struct notify_fixture {
	char dir[64];
	char sock[96];
	char cfg[128];
	int fd;
	int port;
	pid_t pid;
};

/* A free loopback port: bound, read back, closed. */
static int free_port(void)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
	close(fd);
	return ntohs(a.sin_port);
}

/* The next datagram, within 15 s (a hang fails the test, not the suite). */
static void next_message(struct notify_fixture *f, char *buf, size_t len)
{
	struct pollfd p = {.fd = f->fd, .events = POLLIN};
	ssize_t n;

	assert_int_equal(poll(&p, 1, 15000), 1);
	n = recv(f->fd, buf, len - 1, 0);
	assert_true(n > 0);
	buf[n] = '\0';
}

static int port_answers(int port)
{
	struct sockaddr_in a = {.sin_family = AF_INET,
				.sin_port = htons((uint16_t)port),
				.sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	int fd = socket(AF_INET, SOCK_STREAM, 0), ok;

	assert_true(fd >= 0);
	ok = connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0;
	close(fd);
	return ok;
}

static int setup(void **state)
{
	struct notify_fixture *f = calloc(1, sizeof(*f));
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	FILE *cfg;

	assert_non_null(f);
	snprintf(f->dir, sizeof(f->dir), "/tmp/hg-notify-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->sock, sizeof(f->sock), "%s/notify", f->dir);
	snprintf(f->cfg, sizeof(f->cfg), "%s/hookgate.yaml", f->dir);
	f->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	assert_true(f->fd >= 0);
	snprintf(a.sun_path, sizeof(a.sun_path), "%s", f->sock);
	assert_int_equal(bind(f->fd, (struct sockaddr *)&a, sizeof(a)), 0);
	f->port = free_port();
	cfg = fopen(f->cfg, "w");
	assert_non_null(cfg);
	fprintf(cfg, "listen: 127.0.0.1:%d\nstore: sqlite:%s/data/hookgate.db\nsources: []\n",
		f->port, f->dir);
	fclose(cfg);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct notify_fixture *f = *state;
	char cmd[160];

	if (f->pid > 0) {
		kill(f->pid, SIGKILL);
		waitpid(f->pid, NULL, 0);
	}
	close(f->fd);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
	assert_int_equal(system(cmd), 0);
	free(f);
	return 0;
}

static void test_ready_reload_stopping(void **state)
{
	struct notify_fixture *f = *state;
	const char *bin = getenv("HOOKGATE_BIN") ? getenv("HOOKGATE_BIN") : "build/hookgate";
	char msg[512];
	int status;

	assert_int_equal(access(bin, X_OK), 0);
	f->pid = fork();
	assert_true(f->pid >= 0);
	if (f->pid == 0) {
		setenv("NOTIFY_SOCKET", f->sock, 1);
		execl(bin, "hookgate", "serve", "-c", f->cfg, (char *)NULL);
		_exit(127);
	}
	next_message(f, msg, sizeof(msg));
	assert_non_null(strstr(msg, "READY=1"));
	/* ready means ready: the port takes connections now, not later */
	assert_true(port_answers(f->port));

	assert_int_equal(kill(f->pid, SIGHUP), 0);
	next_message(f, msg, sizeof(msg));
	assert_non_null(strstr(msg, "RELOADING=1"));
	next_message(f, msg, sizeof(msg));
	assert_non_null(strstr(msg, "READY=1"));
	assert_true(port_answers(f->port));

	assert_int_equal(kill(f->pid, SIGTERM), 0);
	next_message(f, msg, sizeof(msg));
	assert_non_null(strstr(msg, "STOPPING=1"));
	assert_int_equal(waitpid(f->pid, &status, 0), f->pid);
	f->pid = 0;
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_ready_reload_stopping, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
