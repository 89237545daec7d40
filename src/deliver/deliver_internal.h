/*
 * deliver_internal.h — what the engine's files share and nothing outside
 * src/deliver/ includes (the unit tests aside): the timer heap, the
 * bounded capture of a response's or a command's first bytes, exec
 * attempts (child processes served from the engine's poll loop) and the
 * SSRF guard's libcurl callbacks. The only header of the module that
 * includes <curl/curl.h>: deliver.h's users (routes, schedules, the API)
 * do not see curl.
 */
#ifndef HG_DELIVER_INTERNAL_H
#define HG_DELIVER_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <curl/curl.h>

#include "deliver/deliver.h"
#include "deliver/ssrf_curl.h"
#include "store/store.h"

/* ---- timers (timer.c): an indexed binary min-heap ----
 * Each timer lives inside the thing it times (an endpoint's next claim, an
 * exec attempt's deadline) and is in the heap at most once, so setting it
 * again moves it instead of piling up stale entries. The heap's room is
 * fixed at init: the engine knows how many timers it has, and nothing on
 * its loop allocates. */
struct hg_deliver_timer {
	int64_t at_ms; /* monotonic ms */
	size_t slot;   /* index in the heap + 1; 0 when not queued */
	int kind;      /* the owner's tag */
	void *owner;
};

struct hg_deliver_heap {
	struct hg_deliver_timer **v;
	size_t n, cap;
};

int hg_deliver_heap_init(struct hg_deliver_heap *h, size_t cap);
void hg_deliver_heap_free(struct hg_deliver_heap *h);
/* Queues t at at_ms, or moves it there when queued. HG_OK, or HG_ETOOBIG
 * when the heap is full (more timers than it was made for: a bug). */
int hg_deliver_heap_set(struct hg_deliver_heap *h, struct hg_deliver_timer *t, int64_t at_ms);
/* Takes t out; nothing when it is not queued. */
void hg_deliver_heap_remove(struct hg_deliver_heap *h, struct hg_deliver_timer *t);
/* The earliest timer, or NULL when none is queued. */
struct hg_deliver_timer *hg_deliver_heap_min(const struct hg_deliver_heap *h);

/* ---- the first bytes of an answer (HG_STORE_HEAD_MAX) ---- */
struct hg_deliver_head {
	uint8_t bytes[HG_STORE_HEAD_MAX];
	size_t len;
};
/* Keeps what still fits of p[0..n); the rest is dropped. */
void hg_deliver_head_add(struct hg_deliver_head *h, const void *p, size_t n);

/* ---- exec attempts (exec.c) ----
 * A command started with posix_spawn in a process group of its own: the
 * body on its stdin, stdout and stderr into one pipe whose first bytes are
 * kept. All three are non-blocking and polled by the engine next to
 * curl's sockets, and so is a pidfd that becomes readable when the child
 * exits; a hung command blocks nothing but its own attempt, whose deadline
 * kills the whole group. The calling thread must block or ignore SIGPIPE
 * (the engine's thread blocks every signal): a command that stops reading
 * its stdin is an EPIPE to us, not a reason to die. */
struct hg_deliver_exec {
	pid_t pid;           /* 0 when none runs */
	int pidfd;           /* -1 without one: the engine then polls waitpid */
	int in_fd, out_fd;   /* -1 once closed */
	const uint8_t *body; /* borrowed until the attempt ends */
	size_t len, off;
	int exited; /* reaped: status holds the wait status */
	int status;
	struct hg_deliver_head *head;
};

/* Starts argv[0] (an absolute path) with argv and envp, the body on its
 * stdin. On failure returns HG_EIO with one sentence in err and nothing
 * left running. body and head must outlive the attempt. */
int hg_deliver_exec_start(struct hg_deliver_exec *x, char *const argv[], char *const envp[],
			  const uint8_t *body, size_t len, struct hg_deliver_head *head, char *err,
			  size_t errlen);
/* Fills w (room for 3) with the descriptors to poll now; returns how many. */
size_t hg_deliver_exec_fds(const struct hg_deliver_exec *x, struct curl_waitfd *w);
/* Moves stdin and output along as far as the pipes allow and reaps the
 * child when it exited. Returns 1 once it has exited (its output is then
 * drained and every descriptor closed), else 0. Never blocks; call it
 * after every poll, whatever the revents said. */
int hg_deliver_exec_service(struct hg_deliver_exec *x);
/* SIGKILL to the command's whole process group. */
void hg_deliver_exec_kill(struct hg_deliver_exec *x);
/* Kills what still runs, waits for it, closes every descriptor. */
void hg_deliver_exec_close(struct hg_deliver_exec *x);

/* ---- the SSRF guard's libcurl side (ssrf.c): hg_ssrf_curl_guard() is in
 * deliver/ssrf_curl.h, for the media fetcher too ---- */

/* The callbacks hg_ssrf_curl_guard() installs; declared for the unit tests,
 * which call them directly (a refused address never gets a socket). */
curl_socket_t hg_ssrf_opensocket(void *guard, curlsocktype purpose, struct curl_sockaddr *a);
int hg_ssrf_prereq(void *guard, char *primary_ip, char *local_ip, int primary_port, int local_port);

#endif
