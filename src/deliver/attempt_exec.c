/*
 * attempt_exec.c — a delivery to an exec endpoint: the command's
 * environment and its deadline, and what its exit status means. Running
 * the child (spawn, pipes, pidfd) is exec.c's.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "deliver/engine_internal.h"

/* "NAME=value" in a new string, or NULL. */
static char *env_var(const char *name, const char *value)
{
	struct hg_buf b = {0};

	if (hg_buf_printf(&b, "%s%s=%s", DL_ENV_PREFIX, name, value) != HG_OK) {
		hg_buf_free(&b);
		return NULL;
	}
	return (char *)b.data;
}

int dl_exec_start(struct hg_deliver *d, struct dl_attempt *a)
{
	const struct hg_endpoint *ep = a->e->ep;
	char attempt[16];
	char **v;
	int rc;

	snprintf(attempt, sizeof(attempt), "%d", a->n);
	a->envp = calloc(d->n_env_base + 5, sizeof(*a->envp));
	if (a->envp == NULL)
		goto oom;
	memcpy(a->envp, d->env_base, d->n_env_base * sizeof(*a->envp));
	v = a->envp + d->n_env_base;
	if ((v[a->env_own++] = env_var("SOURCE", a->msg.source)) == NULL ||
	    (v[a->env_own++] = env_var("MESSAGE_ID", a->msg.id)) == NULL ||
	    (v[a->env_own++] = env_var("ATTEMPT", attempt)) == NULL)
		goto oom;
	if (a->msg.content_type != NULL &&
	    (v[a->env_own++] = env_var("CONTENT_TYPE", a->msg.content_type)) == NULL)
		goto oom;
	rc = hg_deliver_exec_start(&a->x, ep->argv, a->envp, a->msg.body, a->msg.body_len, &a->head,
				   a->error, sizeof(a->error));
	if (rc != HG_OK)
		return rc;
	a->reap_poll = a->x.pidfd < 0;
	d->no_pidfd += a->reap_poll;
	if (hg_deliver_heap_set(&d->heap, &a->deadline, dl_mono_ms() + ep->timeout_ms) != HG_OK)
		hg_log(HG_LOG_ERROR, "delivery timer lost: the heap is full", NULL);
	return HG_OK;
oom:
	snprintf(a->error, sizeof(a->error), "cannot start the command: out of memory");
	return HG_ENOMEM;
}

void dl_exec_done(struct hg_deliver *d, struct dl_attempt *a)
{
	int st = a->x.status;

	d->no_pidfd -= a->reap_poll;
	a->reap_poll = 0;
	if (a->timed_out) {
		snprintf(a->error, sizeof(a->error),
			 "timed out after %lld ms; the command was killed",
			 (long long)a->e->ep->timeout_ms);
	} else if (st == -1) {
		snprintf(a->error, sizeof(a->error), "the command's exit status was lost");
	} else if (WIFEXITED(st)) {
		a->status_code = WEXITSTATUS(st);
		a->ok = a->status_code == 0;
		if (!a->ok)
			snprintf(a->error, sizeof(a->error), "exited with status %d",
				 a->status_code);
	} else if (WIFSIGNALED(st)) {
		snprintf(a->error, sizeof(a->error), "killed by signal %d", WTERMSIG(st));
	} else {
		snprintf(a->error, sizeof(a->error), "ended with wait status %d", st);
	}
	dl_finish(d, a);
}
