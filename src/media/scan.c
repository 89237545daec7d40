/*
 * scan.c — a source's media scan: command (ClamAV's clamdscan, say) run
 * without a shell on the file's plain bytes, fed through a pipe on its
 * standard input (a sealed file is never decrypted to disk). Exit 0 means
 * clean; any other status quarantines the file. Runs on the fetcher's
 * thread, for at most HG_MEDIA_SCAN_TIMEOUT_MS (then the command is
 * killed and the file quarantined: a scan that cannot answer is no
 * verdict). The command gets a bare environment (PATH alone): never the
 * variables hookgate's secrets and tokens come from.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "media/media_internal.h"

#define HG_MEDIA_SCAN_TIMEOUT_MS 120000

static char *scan_env[] = {"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
			   NULL};

/* Writes all of buf to fd (non-blocking) unless the deadline passes first;
 * 0 when all went, -1 (the scanner stopped reading, or is stuck). */
static int write_by(int fd, const uint8_t *buf, size_t n, int64_t deadline)
{
	struct pollfd p = {.fd = fd, .events = POLLOUT};
	size_t off = 0;
	ssize_t w;
	int64_t left;

	while (off < n) {
		left = deadline - hg_mono_us() / 1000;
		if (left <= 0)
			return -1;
		if (poll(&p, 1, (int)(left > 1000 ? 1000 : left)) < 0 && errno != EINTR)
			return -1;
		w = write(fd, buf + off, n - off);
		if (w > 0)
			off += (size_t)w;
		else if (w < 0 && errno != EAGAIN && errno != EINTR)
			return -1;
	}
	return 0;
}

/* Waits for pid until the deadline; then kills it. 1 when it ran out. */
static int wait_by(pid_t pid, int *status, int64_t deadline)
{
	pid_t r;

	for (;;) {
		r = waitpid(pid, status, WNOHANG);
		if (r == pid || (r < 0 && errno != EINTR))
			return 0;
		if (hg_mono_us() / 1000 >= deadline) {
			kill(pid, SIGKILL);
			while (waitpid(pid, status, 0) < 0 && errno == EINTR)
				;
			return 1;
		}
		usleep(20000);
	}
}

int hg_media_scan(const struct hg_media_config *mc, const struct hg_store_media *m, char *why,
		  size_t whylen)
{
	posix_spawn_file_actions_t fa;
	struct hg_media_reader *r = NULL;
	uint8_t buf[16384];
	int pipefd[2] = {-1, -1}, status = 0, rc, devnull, late;
	int64_t deadline = hg_mono_us() / 1000 + HG_MEDIA_SCAN_TIMEOUT_MS;
	size_t n;
	pid_t pid = 0;

	rc = hg_media_open(mc, m, &r);
	if (rc != HG_OK) {
		snprintf(why, whylen, "cannot read the file to scan it: %s", hg_strerror(rc));
		return HG_EIO;
	}
	if (pipe2(pipefd, O_CLOEXEC) != 0) {
		hg_media_close(r);
		snprintf(why, whylen, "cannot start the scan: %s", strerror(errno));
		return HG_EIO;
	}
	devnull = open("/dev/null", O_WRONLY | O_CLOEXEC);
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, pipefd[0], 0);
	if (devnull >= 0) {
		posix_spawn_file_actions_adddup2(&fa, devnull, 1);
		posix_spawn_file_actions_adddup2(&fa, devnull, 2);
	}
	rc = posix_spawn(&pid, mc->scan[0], &fa, NULL, mc->scan, scan_env);
	posix_spawn_file_actions_destroy(&fa);
	close(pipefd[0]);
	if (devnull >= 0)
		close(devnull);
	if (rc != 0) {
		close(pipefd[1]);
		hg_media_close(r);
		snprintf(why, whylen, "cannot run %s: %s", mc->scan[0], strerror(rc));
		return HG_EIO;
	}
	/* A scanner that stops reading (it decided) is EPIPE here, not a
	 * signal: the fetcher's thread blocks SIGPIPE. */
	rc = HG_OK;
	fcntl(pipefd[1], F_SETFL, fcntl(pipefd[1], F_GETFL) | O_NONBLOCK);
	while (rc == HG_OK && (rc = hg_media_read(r, buf, sizeof(buf), &n)) == HG_OK && n > 0)
		if (write_by(pipefd[1], buf, n, deadline) != 0)
			break;
	close(pipefd[1]);
	hg_media_close(r);
	late = wait_by(pid, &status, deadline);
	if (late) {
		snprintf(why, whylen, "scan command did not finish in %d s: killed",
			 HG_MEDIA_SCAN_TIMEOUT_MS / 1000);
		return HG_EAUTH;
	}
	if (rc != HG_OK) {
		snprintf(why, whylen, "the stored file does not read back: %s", hg_strerror(rc));
		return HG_EIO;
	}
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return HG_OK;
	if (WIFEXITED(status))
		snprintf(why, whylen, "scan command exited with status %d", WEXITSTATUS(status));
	else
		snprintf(why, whylen, "scan command was killed by signal %d",
			 WIFSIGNALED(status) ? WTERMSIG(status) : 0);
	return HG_EAUTH;
}
