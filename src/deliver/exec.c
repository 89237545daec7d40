/*
 * exec.c — exec endpoints: one child process per attempt, started with
 * posix_spawn (no shell: argv is the configured command line split at
 * spaces), the body on its stdin, stdout and stderr into one pipe.
 *
 * Nothing here waits: the pipes are non-blocking and the engine polls them,
 * with a pidfd that turns readable when the child exits, next to curl's
 * sockets (deliver_internal.h). curl_multi_poll() reports only
 * POLLIN/POLLOUT/POLLPRI of extra descriptors, not a hang-up, so every
 * service call simply tries its reads and writes: an end of file closes
 * the descriptor and nothing is polled twice for it.
 *
 * The child gets a process group of its own, so a timeout's SIGKILL
 * reaches whatever it started too; an empty signal mask and default
 * SIGPIPE/SIGXFSZ (the daemon blocks or ignores them); and no descriptor
 * but its three standard ones.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "deliver/deliver_internal.h"

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

static int set_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	return fl >= 0 && fcntl(fd, F_SETFL, fl | O_NONBLOCK) == 0 ? 0 : -1;
}

/* A descriptor that becomes readable when pid exits, or -1 on kernels
 * without pidfds (the engine then checks waitpid on a short timer). */
static int open_pidfd(pid_t pid)
{
#ifdef SYS_pidfd_open
	long fd = syscall(SYS_pidfd_open, pid, 0);

	if (fd >= 0 && fcntl((int)fd, F_SETFD, FD_CLOEXEC) == 0)
		return (int)fd;
	if (fd >= 0)
		close((int)fd);
#else
	(void)pid;
#endif
	return -1;
}

int hg_deliver_exec_start(struct hg_deliver_exec *x, char *const argv[], char *const envp[],
			  const uint8_t *body, size_t len, struct hg_deliver_head *head, char *err,
			  size_t errlen)
{
	int in[2] = {-1, -1}, out[2] = {-1, -1};
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t at;
	sigset_t none, dfl;
	int have_fa = 0, have_at = 0, rc;

	memset(x, 0, sizeof(*x));
	x->pidfd = x->in_fd = x->out_fd = -1;
	x->body = body;
	x->len = len;
	x->head = head;
	/* CLOEXEC: only the dup2'd copies reach the command. */
	if (pipe2(in, O_CLOEXEC) != 0 || pipe2(out, O_CLOEXEC) != 0) {
		rc = errno;
		snprintf(err, errlen, "cannot create pipes for %s: %s", argv[0], strerror(rc));
		goto out;
	}
	rc = posix_spawn_file_actions_init(&fa);
	have_fa = rc == 0;
	if (rc == 0)
		rc = posix_spawn_file_actions_adddup2(&fa, in[0], STDIN_FILENO);
	if (rc == 0)
		rc = posix_spawn_file_actions_adddup2(&fa, out[1], STDOUT_FILENO);
	if (rc == 0)
		rc = posix_spawn_file_actions_adddup2(&fa, out[1], STDERR_FILENO);
	/* Descriptors other threads opened without CLOEXEC stay ours. */
	if (rc == 0)
		rc = posix_spawn_file_actions_addclosefrom_np(&fa, STDERR_FILENO + 1);
	if (rc == 0)
		rc = posix_spawnattr_init(&at);
	have_at = have_fa && rc == 0;
	sigemptyset(&none);
	sigemptyset(&dfl);
	sigaddset(&dfl, SIGPIPE);
	sigaddset(&dfl, SIGXFSZ);
	if (rc == 0)
		rc = posix_spawnattr_setflags(&at, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK |
						       POSIX_SPAWN_SETSIGDEF);
	if (rc == 0)
		rc = posix_spawnattr_setpgroup(&at, 0);
	if (rc == 0)
		rc = posix_spawnattr_setsigmask(&at, &none);
	if (rc == 0)
		rc = posix_spawnattr_setsigdefault(&at, &dfl);
	if (rc == 0)
		rc = posix_spawn(&x->pid, argv[0], &fa, &at, argv, envp);
	if (rc != 0) {
		x->pid = 0;
		snprintf(err, errlen, "cannot start %s: %s", argv[0], strerror(rc));
		goto out;
	}
	x->in_fd = in[1];
	x->out_fd = out[0];
	in[1] = out[0] = -1;
	x->pidfd = open_pidfd(x->pid);
	if (set_nonblock(x->in_fd) != 0 || set_nonblock(x->out_fd) != 0) {
		rc = errno;
		snprintf(err, errlen, "cannot set up the pipes of %s: %s", argv[0], strerror(rc));
		hg_deliver_exec_close(x);
		goto out;
	}
	if (len == 0)
		close_fd(&x->in_fd); /* an empty body: stdin is at its end at once */
	rc = 0;
out:
	if (have_at)
		posix_spawnattr_destroy(&at);
	if (have_fa)
		posix_spawn_file_actions_destroy(&fa);
	close_fd(&in[0]);
	close_fd(&in[1]);
	close_fd(&out[0]);
	close_fd(&out[1]);
	return rc == 0 ? HG_OK : HG_EIO;
}

size_t hg_deliver_exec_fds(const struct hg_deliver_exec *x, struct curl_waitfd *w)
{
	size_t n = 0;

	if (x->in_fd >= 0)
		w[n++] = (struct curl_waitfd){.fd = x->in_fd, .events = CURL_WAIT_POLLOUT};
	if (x->out_fd >= 0)
		w[n++] = (struct curl_waitfd){.fd = x->out_fd, .events = CURL_WAIT_POLLIN};
	if (x->pidfd >= 0 && !x->exited)
		w[n++] = (struct curl_waitfd){.fd = x->pidfd, .events = CURL_WAIT_POLLIN};
	return n;
}

/* Writes what the pipe takes of the rest of the body; closes stdin at the
 * end, or when the command stopped reading (EPIPE: its business). */
static void write_more(struct hg_deliver_exec *x)
{
	ssize_t n;

	while (x->in_fd >= 0 && x->off < x->len) {
		n = write(x->in_fd, x->body + x->off, x->len - x->off);
		if (n > 0)
			x->off += (size_t)n;
		else if (n < 0 && errno == EINTR)
			continue;
		else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		else
			break;
	}
	close_fd(&x->in_fd);
}

/* Reads what the output pipe holds, keeping the first bytes. */
static void read_out(struct hg_deliver_exec *x)
{
	char buf[4096];
	ssize_t n;

	while (x->out_fd >= 0) {
		n = read(x->out_fd, buf, sizeof(buf));
		if (n > 0)
			hg_deliver_head_add(x->head, buf, (size_t)n);
		else if (n < 0 && errno == EINTR)
			continue;
		else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		else
			close_fd(&x->out_fd);
	}
}

int hg_deliver_exec_service(struct hg_deliver_exec *x)
{
	pid_t r;

	if (x->pid == 0)
		return 1;
	write_more(x);
	read_out(x);
	if (!x->exited) {
		do
			r = waitpid(x->pid, &x->status, WNOHANG);
		while (r < 0 && errno == EINTR);
		if (r == 0)
			return 0;
		x->exited = 1; /* r < 0 (ECHILD) cannot be ours to wait for again either */
		if (r < 0)
			x->status = -1;
	}
	/* Whatever it wrote before exiting is in the pipe now; what a process
	 * it left behind writes later is not this attempt's. */
	read_out(x);
	close_fd(&x->in_fd);
	close_fd(&x->out_fd);
	close_fd(&x->pidfd);
	return 1;
}

void hg_deliver_exec_kill(struct hg_deliver_exec *x)
{
	/* Until it is reaped, the group id is still the child's. */
	if (x->pid > 0 && !x->exited)
		kill(-x->pid, SIGKILL);
}

void hg_deliver_exec_close(struct hg_deliver_exec *x)
{
	pid_t r;

	if (x->pid > 0 && !x->exited) {
		hg_deliver_exec_kill(x);
		do
			r = waitpid(x->pid, &x->status, 0);
		while (r < 0 && errno == EINTR);
		x->exited = 1;
	}
	close_fd(&x->in_fd);
	close_fd(&x->out_fd);
	close_fd(&x->pidfd);
}
