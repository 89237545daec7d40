/*
 * attempt_exec.c — a delivery to an exec endpoint: the command's
 * environment (HOOKGATE_* about the message, HOOKGATE_HEADER_* for the
 * request headers its source forwards) and its deadline, and what its exit
 * status means. Running the child (spawn, pipes, pidfd) is exec.c's.
 */
#include <ctype.h>
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

/* dl_forward_each() callback: a forwarded request header as
 * HOOKGATE_HEADER_<NAME>, the name upper-cased and every character that is
 * not a letter or digit made '_' (X-GitHub-Event: HOOKGATE_HEADER_X_GITHUB_EVENT). */
static int add_forwarded(const char *name, const char *value, void *arg)
{
	struct dl_attempt *a = arg;
	struct hg_buf b = {0};
	char *p;

	hg_buf_printf(&b, "HEADER_%s", name);
	if (hg_buf_append(&b, "", 1) != HG_OK) {
		hg_buf_free(&b);
		return HG_ENOMEM;
	}
	for (p = (char *)b.data; *p != '\0'; p++)
		*p = isalnum((unsigned char)*p) ? (char)toupper((unsigned char)*p) : '_';
	p = env_var((const char *)b.data, value);
	hg_buf_free(&b);
	if (p == NULL)
		return HG_ENOMEM;
	a->envp[a->forward_env++] = p;
	a->env_own++;
	return HG_OK;
}

int dl_exec_start(struct hg_deliver *d, struct dl_attempt *a)
{
	const struct hg_endpoint *ep = a->e->ep;
	const struct hg_source *src =
	    a->msg.source != NULL
		? hg_config_find_source(d->cfg, a->msg.source, strlen(a->msg.source))
		: NULL;
	size_t n_forward = src != NULL ? src->n_forward_headers : 0;
	char attempt[16];
	size_t i;
	char **v;
	int rc;

	snprintf(attempt, sizeof(attempt), "%d", a->n);
	/* own: 6 below (request id and media included); forwarded: the list
	 * and traceparent; and the NULL */
	a->envp = calloc(d->n_env_base + 8 + n_forward, sizeof(*a->envp));
	if (a->envp == NULL)
		goto oom;
	/* The base environment was filtered by the startup config; a reload
	 * may have named more secret variables since (a secret_env, an
	 * endpoint header's ${VAR}), which the command must not see either. */
	for (i = 0; i < d->n_env_base; i++)
		if (dl_env_inherited(d->cfg, d->env_base[i]))
			a->envp[a->env_base_n++] = d->env_base[i];
	v = a->envp + a->env_base_n;
	if ((v[a->env_own++] = env_var("SOURCE", a->msg.source)) == NULL ||
	    (v[a->env_own++] = env_var("MESSAGE_ID", a->msg.id)) == NULL ||
	    (v[a->env_own++] = env_var("ATTEMPT", attempt)) == NULL)
		goto oom;
	if (a->msg.content_type != NULL &&
	    (v[a->env_own++] = env_var("CONTENT_TYPE", a->msg.content_type)) == NULL)
		goto oom;
	if (a->msg.request_id[0] != '\0' &&
	    (v[a->env_own++] = env_var("REQUEST_ID", a->msg.request_id)) == NULL)
		goto oom;
	if (a->media[0] != '\0' && (v[a->env_own++] = env_var("MEDIA", a->media)) == NULL)
		goto oom;
	a->forward_env = a->env_base_n + a->env_own;
	if (dl_forward_each(d, a, add_forwarded, a) != HG_OK)
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
