/*
 * scan.c — a source's media scan: command (ClamAV's clamdscan, say) run
 * without a shell on the file's plain bytes, fed through a pipe on its
 * standard input (a sealed file is never decrypted to disk). Exit 0 means
 * clean; any other status quarantines the file. Runs on the fetcher's
 * thread, which may block.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "media/media_internal.h"

extern char **environ;

int hg_media_scan(const struct hg_media_config *mc, const struct hg_store_media *m, char *why,
		  size_t whylen)
{
	posix_spawn_file_actions_t fa;
	struct hg_media_reader *r = NULL;
	uint8_t buf[16384];
	int pipefd[2] = {-1, -1}, status = 0, rc, devnull;
	size_t n, off;
	ssize_t w;
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
	rc = posix_spawn(&pid, mc->scan[0], &fa, NULL, mc->scan, environ);
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
	while (rc == HG_OK && (rc = hg_media_read(r, buf, sizeof(buf), &n)) == HG_OK && n > 0) {
		for (off = 0; off < n; off += (size_t)w) {
			w = write(pipefd[1], buf + off, n - off);
			if (w < 0 && errno == EINTR) {
				w = 0;
				continue;
			}
			if (w <= 0)
				break;
		}
		if (off < n)
			break;
	}
	close(pipefd[1]);
	hg_media_close(r);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
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
