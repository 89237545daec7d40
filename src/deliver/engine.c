/*
 * engine.c — the delivery engine's thread (deliver.h states the contract).
 *
 * One loop, one libcurl multi handle, one store handle of its own:
 *   1. timers that are due fire (an endpoint may have deliveries due, an
 *      exec attempt ran out of time, the store may work again);
 *   2. one transaction records every attempt that finished since the last
 *      turn and, for every endpoint that may have due deliveries and has
 *      free slots (max_in_flight per endpoint, and the global max_in_flight
 *      shared round-robin), claims as many as fit, as leases; the claimed
 *      messages are then read in one read transaction and their attempts
 *      started (transfer handles are reused from finished attempts);
 *   3. curl_multi_poll() waits on curl's sockets, the exec attempts' pipes
 *      and pidfds, until the earliest timer or a wake-up
 *      (curl_multi_wakeup(): the ingest writer committed deliveries).
 * Claims per endpoint and only as many as can start at once keep a slow
 * endpoint's backlog from taking a fast one's turn; nothing claimed waits
 * in memory.
 *
 * An endpoint's timer says when it next has something due. It is set from
 * the store (hg_store_next_due) whenever a claim came back short, moved
 * earlier when a failed attempt schedules its retry, and the wake-up marks
 * every endpoint due at once. Timers run on the monotonic clock; the store
 * speaks wall-clock milliseconds, converted at the edge.
 *
 * Failure: when a store call fails the engine stops claiming, keeps the
 * outcomes it could not record, and tries again every DL_STORE_RETRY_MS
 * (re-opening the handle when it no longer answers). Outcomes that are
 * never recorded cost nothing but a repeat: their leases expire and the
 * deliveries are attempted again (at least once).
 *
 * This file is the loop; each kind of attempt is a file of its own
 * (attempt_http.c, attempt_sub.c, attempt_exec.c), and engine_internal.h
 * is what they share.
 */
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "deliver/engine_internal.h"
#include "stats/stats.h"

#define DL_STORE_RETRY_MS 1000  /* after a failed store call */
#define DL_MAX_WAIT_MS    60000 /* the loop looks around at least this often */
#define DL_REAP_POLL_MS   50    /* without pidfds: how often exec children are checked */
#define DL_MIN_REQUERY_MS 10    /* a due time already past is looked at again this soon */

extern char **environ;

int64_t dl_mono_ms(void)
{
	return hg_mono_us() / 1000;
}

static void list_push(struct dl_list *l, struct dl_attempt *a)
{
	a->next = NULL;
	a->prev = l->tail;
	if (l->tail != NULL)
		l->tail->next = a;
	else
		l->head = a;
	l->tail = a;
	l->n++;
}

static void list_remove(struct dl_list *l, struct dl_attempt *a)
{
	if (a->prev != NULL)
		a->prev->next = a->next;
	else
		l->head = a->next;
	if (a->next != NULL)
		a->next->prev = a->prev;
	else
		l->tail = a->prev;
	a->prev = a->next = NULL;
	l->n--;
}

void hg_deliver_head_add(struct hg_deliver_head *h, const void *p, size_t n)
{
	size_t room = sizeof(h->bytes) - h->len;

	if (n > room)
		n = room;
	memcpy(h->bytes + h->len, p, n);
	h->len += n;
}

/* Queues t at wall-clock time wall_ms; with earlier_only, a timer already
 * queued earlier stays where it is. */
static void timer_at_wall(struct hg_deliver *d, struct hg_deliver_timer *t, int64_t wall_ms,
			  int earlier_only)
{
	int64_t now = dl_mono_ms(), at = now + (wall_ms - hg_now_ms());

	if (at < now + DL_MIN_REQUERY_MS && !earlier_only)
		at = now + DL_MIN_REQUERY_MS;
	if (earlier_only && t->slot != 0 && t->at_ms <= at)
		return;
	if (hg_deliver_heap_set(&d->heap, t, at) != HG_OK) /* room for every timer: a bug */
		hg_log(HG_LOG_ERROR, "delivery timer lost: the heap is full", NULL);
}

/* A store call failed: stop claiming and look again in a while. */
static void store_trouble(struct hg_deliver *d)
{
	if (!d->store_down)
		hg_log(HG_LOG_ERROR, "delivery engine: store unavailable; retrying", NULL);
	d->store_down = 1;
	if (hg_deliver_heap_set(&d->heap, &d->store_timer, dl_mono_ms() + DL_STORE_RETRY_MS) !=
	    HG_OK)
		hg_log(HG_LOG_ERROR, "delivery timer lost: the heap is full", NULL);
}

/* The store timer fired: a fresh handle if this one is dead, then try. */
static void store_recover(struct hg_deliver *d)
{
	struct hg_store *st = NULL;
	char err[256];

	if (hg_store_ping(d->st) != HG_OK) {
		if (hg_store_open(d->cfg->store, &st, err, sizeof(err)) != HG_OK) {
			hg_log(HG_LOG_ERROR, "delivery engine: store re-open failed", "error",
			       HG_LS(err), NULL);
			store_trouble(d);
			return;
		}
		hg_store_close(d->st);
		d->st = st;
	}
	d->store_down = 0;
	for (size_t i = 0; i < d->n_eps; i++)
		d->eps[i].due = 1;
}

/* After a short claim: when does e have something due next? */
static void requery(struct hg_deliver *d, struct dl_endpoint *e)
{
	int64_t due = 0;
	int rc = hg_store_next_due(d->st, e->ep->name, &due);

	if (rc == HG_OK) {
		timer_at_wall(d, &e->timer, due, 0);
	} else if (rc == HG_ENOTFOUND) {
		hg_deliver_heap_remove(&d->heap, &e->timer);
	} else {
		e->due = 1;
		store_trouble(d);
	}
}

static void log_attempt(const struct dl_attempt *a, int64_t delay)
{
	hg_log(a->ok ? HG_LOG_INFO : HG_LOG_WARN, "delivery attempt", "endpoint",
	       HG_LS(a->c.endpoint[0] != '\0' ? a->c.endpoint : a->e->ep->name), "message_id",
	       HG_LS(a->c.message_id), "delivery_id", HG_LS(a->c.id), "attempt", HG_LI(a->n),
	       "status", a->status_code >= 0 ? HG_LI(a->status_code) : HG_LS(NULL), "duration_ms",
	       HG_LI(a->duration_ms), "outcome", HG_LS(hg_store_delivery_status_name(a->outcome)),
	       "error", HG_LS(a->error[0] != '\0' ? a->error : NULL), "retry_in_ms",
	       a->outcome == HG_DELIVERY_FAILED ? HG_LI(delay) : HG_LS(NULL), NULL);
}

/* The attempt is over (a->ok, a->error and a->status_code say how): decide
 * what becomes of the delivery, and queue the outcome for recording. */
void dl_finish(struct hg_deliver *d, struct dl_attempt *a)
{
	const struct hg_retry *r = &a->e->ep->retry;
	int64_t delay = -1;

	a->duration_ms = (hg_mono_us() - a->start_us) / 1000;
	if (a->ok) {
		a->outcome = HG_DELIVERY_SUCCEEDED;
	} else {
		if (!a->gone)
			delay = hg_deliver_delay_ms(r, (size_t)a->n);
		if (delay >= 0 && a->retry_after_ms >= 0)
			delay = a->retry_after_ms < r->max_delay_ms ? a->retry_after_ms
								    : r->max_delay_ms;
		a->outcome = delay >= 0 ? HG_DELIVERY_FAILED : HG_DELIVERY_DEAD;
		a->next_attempt_ms = hg_now_ms() + (delay >= 0 ? delay : 0);
	}
	log_attempt(a, delay);
	dl_health_outcome(d, a);
	hg_deliver_heap_remove(&d->heap, &a->deadline);
	list_remove(&d->running, a);
	list_push(&d->done, a);
	a->e->in_flight--;
	d->in_flight--;
}

static void attempt_free(struct hg_deliver *d, struct dl_attempt *a)
{
	size_t i;

	dl_easy_put(d, a);
	curl_slist_free_all(a->headers);
	if (a->reap_poll)
		d->no_pidfd--;
	hg_deliver_exec_close(&a->x);
	hg_store_sub_free(&a->sub);
	hg_deliver_heap_remove(&d->heap, &a->deadline);
	if (a->envp != NULL)
		for (i = a->env_base_n; i < a->env_base_n + a->env_own; i++)
			free(a->envp[i]);
	free(a->envp);
	hg_store_row_free(&a->msg);
	free(a);
}

/* ---- claiming and recording ---- */

/* Starts the attempt of claimed delivery c, whose message read answered
 * rc and, on HG_OK, *msg (taken over). */
static void start_attempt(struct hg_deliver *d, struct dl_endpoint *e,
			  const struct hg_store_claimed *c, struct hg_store_row *msg, int rc)
{
	struct dl_attempt *a = calloc(1, sizeof(*a));

	if (a == NULL) { /* the lease expires and it is claimed again */
		hg_log(HG_LOG_ERROR, "delivery attempt not started: out of memory", "delivery_id",
		       HG_LS(c->id), NULL);
		hg_store_row_free(msg);
		return;
	}
	a->e = e;
	a->c = *c;
	a->n = c->attempts + 1;
	a->status_code = -1;
	a->retry_after_ms = -1;
	a->x.pidfd = a->x.in_fd = a->x.out_fd = -1;
	a->deadline = (struct hg_deliver_timer){.kind = DL_TIMER_EXEC, .owner = a};
	a->started_ms = hg_now_ms();
	a->start_us = hg_mono_us();
	list_push(&d->running, a);
	e->in_flight++;
	d->in_flight++;
	if (rc == HG_OK) {
		a->msg = *msg;
		memset(msg, 0, sizeof(*msg));
	}
	if (rc == HG_ENOTFOUND || rc == HG_EAUTH) {
		/* neither comes back by trying again: straight to the dead letters */
		a->gone = 1;
		snprintf(a->error, sizeof(a->error), "%s",
			 rc == HG_ENOTFOUND ? "the message is no longer stored"
					    : "the stored message does not decrypt: it was changed "
					      "or copied from another row");
		dl_finish(d, a);
		return;
	}
	if (rc == HG_OK && e->subs) {
		int down = 0;

		rc = dl_sub_start(d, a, &down);
		if (!down) {
			if (rc != HG_OK)
				dl_finish(d, a);
			return;
		}
	}
	if (rc != HG_OK) { /* not an attempt: the lease expires, it comes back */
		list_remove(&d->running, a);
		e->in_flight--;
		d->in_flight--;
		attempt_free(d, a);
		if (rc != HG_ENOKEY) /* a key this node lacks: another may have it */
			store_trouble(d);
		return;
	}
	if (!e->subs && dl_media_gate(d, a)) { /* waits for its media: no attempt */
		list_remove(&d->running, a);
		e->in_flight--;
		d->in_flight--;
		attempt_free(d, a);
		return;
	}
	rc = e->ep->url != NULL ? dl_http_start(d, a) : dl_exec_start(d, a);
	if (rc != HG_OK)
		dl_finish(d, a);
}

/* The claim requests, in d->req, for every endpoint that may have due
 * deliveries and free slots; their number. */
static size_t claim_prepare(struct hg_deliver *d, int64_t now)
{
	int global = d->cfg->max_in_flight - d->in_flight, room;
	size_t i, k = 0;
	struct dl_endpoint *e;

	for (i = 0; i < d->n_eps && global > 0; i++) {
		e = &d->eps[(d->rr + i) % d->n_eps];
		if (!e->due)
			continue;
		room = dl_circuit_room(d, e, e->ep->max_in_flight - e->in_flight);
		if (room <= 0)
			continue;
		if (room > global)
			room = global;
		global -= room;
		d->req[k] = (struct hg_store_claim_req){
		    .endpoint = e->ep->name,
		    .limit = (size_t)room,
		    .lease_until_ms = now + e->ep->timeout_ms + HG_DELIVER_LEASE_MARGIN_MS};
		d->req_ep[k] = e;
		d->req_got[k++] = 0;
	}
	if (k > 0)
		d->rr = (d->rr + 1) % d->n_eps; /* under the global cap, take turns going first */
	return k;
}

/* Starts the n deliveries the k requests claimed, their messages read in
 * one go. */
static void claim_started(struct hg_deliver *d, size_t k, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		d->msg_ids[i] = d->claimed[i].message_id;
	hg_store_get_messages(d->st, d->msg_ids, n, d->msgs, d->msg_rcs);
	for (i = 0; i < n; i++) {
		d->req_got[d->claimed[i].req]++;
		start_attempt(d, d->req_ep[d->claimed[i].req], &d->claimed[i], &d->msgs[i],
			      d->msg_rcs[i]);
	}
	/* A claim that filled its room may have left more due: the endpoint
	 * stays due for when a slot frees. A short one emptied the backlog. */
	for (i = 0; i < k && !d->store_down; i++) {
		if (d->req_got[i] >= d->req[i].limit)
			continue;
		d->req_ep[i]->due = 0;
		requery(d, d->req_ep[i]);
	}
}

/* Counts a recorded outcome under its message's source. */
static void count_outcome(struct hg_deliver *d, const struct dl_attempt *a)
{
	struct hg_stats *stats = atomic_load(&d->stats);
	enum hg_stat what = a->outcome == HG_DELIVERY_SUCCEEDED ? HG_STAT_DELIVERED
			    : a->outcome == HG_DELIVERY_FAILED  ? HG_STAT_FAILED
								: HG_STAT_DEAD;

	if (stats != NULL && a->msg.source != NULL)
		hg_stats_count(stats, a->msg.source, strlen(a->msg.source), what, hg_now_ms());
}

/* What a recorded attempt says about its subscription's health: a success
 * clears its failure streak, a 410 or a streak of disable_after switches
 * it off (and dead-letters what else waits for it). A failure here costs
 * only the bookkeeping of one attempt; the delivery itself is recorded.
 * 1 when this switched it off (reason, 128 bytes, says why). */
static int sub_health(struct hg_deliver *d, const struct dl_attempt *a, char *reason)
{
	const struct hg_outbound *o = &d->cfg->outbound;
	char dur[32];
	int off = 0;

	if (a->sub_gone) {
		hg_strlcpy(reason, "the subscriber answered 410 Gone", 128);
	} else {
		if (o->disable_after_ms % 86400000 == 0)
			snprintf(dur, sizeof(dur), "%lldd",
				 (long long)(o->disable_after_ms / 86400000));
		else if (o->disable_after_ms % 1000 == 0)
			snprintf(dur, sizeof(dur), "%llds",
				 (long long)(o->disable_after_ms / 1000));
		else
			snprintf(dur, sizeof(dur), "%lldms", (long long)o->disable_after_ms);
		snprintf(reason, 128, "every delivery failed for %s", dur);
	}
	if (hg_store_sub_outcome(d->st, a->sub.id, a->ok, a->sub_gone, hg_now_ms(),
				 o->disable_after_ms, reason, &off) != HG_OK) {
		hg_log(HG_LOG_ERROR, "subscription health not recorded", "subscription",
		       HG_LS(a->sub.id), NULL);
		return 0;
	}
	if (off)
		hg_log(HG_LOG_WARN, "subscription switched off", "subscription", HG_LS(a->sub.id),
		       "owner", HG_LS(a->sub.owner_id), "reason", HG_LS(reason), NULL);
	return off;
}

/* The records of the finished attempts, in d->rec (up to max_in_flight of
 * them); their number. */
static size_t records_prepare(struct hg_deliver *d)
{
	struct dl_attempt *a;
	size_t k, cap = (size_t)d->cfg->max_in_flight;

	for (k = 0, a = d->done.head; a != NULL && k < cap; a = a->next, k++)
		d->rec[k] = (struct hg_store_attempt){
		    .delivery_id = a->c.id,
		    .lease_owner = d->owner,
		    .n = a->n,
		    .started_ms = a->started_ms,
		    .duration_ms = a->duration_ms,
		    .status_code = a->status_code,
		    .error = a->error[0] != '\0' ? a->error : NULL,
		    .response_head = a->head.len > 0 ? a->head.bytes : NULL,
		    .response_head_len = a->head.len,
		    .outcome = a->outcome,
		    .next_attempt_ms = a->next_attempt_ms};
	return k;
}

/* What follows the first k finished attempts being recorded. */
static void records_done(struct hg_deliver *d, size_t k)
{
	struct dl_attempt *a;
	char reason[128];
	size_t i;
	int off;

	for (i = 0; i < k; i++) {
		a = d->done.head;
		list_remove(&d->done, a);
		off = a->have_sub && sub_health(d, a, reason);
		dl_events_recorded(d, a, off, reason);
		count_outcome(d, a);
		if (a->outcome == HG_DELIVERY_FAILED)
			timer_at_wall(d, &a->e->timer, a->next_attempt_ms, 1);
		attempt_free(d, a);
	}
}

/* One turn's writes, in one transaction: the outcomes of the attempts
 * that finished and, when claim is set, claims for the slots free now
 * (which those attempts freed). Finished attempts beyond one batch, and
 * any that finish at once (a message no longer stored), take further
 * transactions without claims. */
static void settle(struct hg_deliver *d, int claim)
{
	size_t k, q, n = 0;
	int64_t now;

	while (!d->store_down) {
		now = hg_now_ms();
		k = records_prepare(d);
		q = claim ? claim_prepare(d, now) : 0;
		if (k == 0 && q == 0)
			return;
		if (hg_store_record_and_claim(d->st, d->rec, k, d->owner, now, d->req, q,
					      d->claimed, &n) != HG_OK) {
			store_trouble(d);
			return;
		}
		records_done(d, k);
		if (q > 0)
			claim_started(d, q, n);
		claim = 0;
	}
}

/* ---- the loop ---- */

static void fire_timers(struct hg_deliver *d)
{
	struct hg_deliver_timer *t;
	struct dl_attempt *a;
	int64_t now = dl_mono_ms();

	while ((t = hg_deliver_heap_min(&d->heap)) != NULL && t->at_ms <= now) {
		hg_deliver_heap_remove(&d->heap, t);
		switch (t->kind) {
		case DL_TIMER_ENDPOINT:
			((struct dl_endpoint *)t->owner)->due = 1;
			break;
		case DL_TIMER_EXEC:
			a = t->owner;
			a->timed_out = 1;
			hg_deliver_exec_kill(&a->x);
			break;
		case DL_TIMER_STORE:
			store_recover(d);
			break;
		}
	}
}

/* How long the poll may sleep. */
static int wait_ms(struct hg_deliver *d, int64_t stop_at)
{
	const struct hg_deliver_timer *t = hg_deliver_heap_min(&d->heap);
	int64_t now = dl_mono_ms(), w = DL_MAX_WAIT_MS;

	if (t != NULL && t->at_ms - now < w)
		w = t->at_ms - now;
	if (stop_at > 0 && stop_at - now < w)
		w = stop_at - now;
	if (d->no_pidfd > 0 && w > DL_REAP_POLL_MS)
		w = DL_REAP_POLL_MS;
	return w > 0 ? (int)w : 0;
}

/* One wait for sockets, pipes, pidfds, timers or a wake-up, and whatever
 * finished meanwhile. */
static void poll_once(struct hg_deliver *d, int timeout_ms)
{
	struct dl_attempt *a, *next;
	CURLMsg *m;
	char *priv;
	size_t nw = 0;
	int left, running;

	for (a = d->running.head; a != NULL; a = a->next)
		if (a->x.pid > 0)
			nw += hg_deliver_exec_fds(&a->x, d->wfds + nw);
	if (curl_multi_poll(d->multi, d->wfds, (unsigned)nw, timeout_ms, NULL) != CURLM_OK)
		usleep(10000); /* only a bad handle gets here; do not spin on it */
	/* The attempt lines of what finished leave together at the end
	 * (hg_log_hold): nothing below waits for the store or the network. */
	hg_log_hold();
	curl_multi_perform(d->multi, &running);
	while ((m = curl_multi_info_read(d->multi, &left)) != NULL) {
		if (m->msg != CURLMSG_DONE)
			continue;
		priv = NULL;
		curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, &priv);
		if (priv != NULL)
			dl_http_done(d, (struct dl_attempt *)(void *)priv, m->data.result);
	}
	for (a = d->running.head; a != NULL; a = next) {
		next = a->next;
		if (a->x.pid > 0 && hg_deliver_exec_service(&a->x))
			dl_exec_done(d, a);
	}
	hg_log_release();
}

static void take_reload(struct hg_deliver *d);
static void adopt_reload(struct hg_deliver *d);

static void *engine_main(void *arg)
{
	struct hg_deliver *d = arg;
	struct dl_attempt *a;
	int64_t stop_at = 0;
	size_t i, left;

	for (;;) {
		if (atomic_load(&d->stopping) && stop_at == 0)
			stop_at = dl_mono_ms() + HG_DELIVER_STOP_GRACE_MS;
		take_reload(d);
		if (atomic_exchange(&d->kick, 0))
			for (i = 0; i < d->n_eps; i++)
				d->eps[i].due = 1;
		fire_timers(d);
		/* While a reload waits, nothing new is claimed; once the last
		 * attempt of the old endpoints is recorded, the new ones start. */
		settle(d, stop_at == 0 && d->pending == NULL);
		if (!d->store_down)
			dl_events_flush(d);
		if (d->pending != NULL && stop_at == 0 && d->running.n == 0 && d->done.n == 0)
			adopt_reload(d);
		if (stop_at > 0 && (d->running.n == 0 || dl_mono_ms() >= stop_at))
			break;
		poll_once(d, wait_ms(d, stop_at));
	}
	/* What is still running past the grace is stopped unrecorded: its
	 * lease expires and it is attempted again (at least once). */
	left = d->running.n;
	while ((a = d->running.head) != NULL) {
		list_remove(&d->running, a);
		attempt_free(d, a);
	}
	if (left > 0)
		hg_log(HG_LOG_WARN,
		       "attempts stopped at shutdown; retried when their leases expire", "count",
		       HG_LI(left), NULL);
	d->store_down = 0; /* one last try for the finished ones */
	settle(d, 0);
	if (d->done.n > 0)
		hg_log(HG_LOG_WARN, "outcomes not recorded at shutdown; attempted again", "count",
		       HG_LI(d->done.n), NULL);
	while ((a = d->done.head) != NULL) {
		list_remove(&d->done, a);
		attempt_free(d, a);
	}
	hg_config_put(d->pending);
	d->pending = NULL;
	return NULL;
}

/* ---- endpoints and reloads ---- */

/*
 * Makes the endpoint table (eps, one claim request slot each, and the timer
 * heap) for cfg: every endpoint of cfg, and "sub:*" for the outbound
 * subscriptions when the outbound API can be used (an admin token makes
 * API keys). Only called with no attempt in flight: at start, and when a
 * reload is adopted. On failure d is as it was.
 */
static int eps_build(struct hg_deliver *d, const struct hg_config *cfg)
{
	int outbound = cfg->admin_token.bytes != NULL;
	size_t n = cfg->n_endpoints + (outbound ? 1 : 0), cap = (size_t)cfg->max_in_flight, i;
	struct dl_endpoint *eps = calloc(n + 1, sizeof(*eps));
	struct hg_store_claim_req *req = calloc(n + 1, sizeof(*req));
	struct dl_endpoint **req_ep = calloc(n + 1, sizeof(*req_ep));
	size_t *req_got = calloc(n + 1, sizeof(*req_got));
	struct hg_deliver_heap heap = {0};
	int store_queued = d->store_timer.slot != 0;

	if (eps == NULL || req == NULL || req_ep == NULL || req_got == NULL ||
	    hg_deliver_heap_init(&heap, n + cap + 1) != HG_OK) {
		free(eps);
		free(req);
		free(req_ep);
		free(req_got);
		hg_deliver_heap_free(&heap);
		return HG_ENOMEM;
	}
	for (i = 0; i < cfg->n_endpoints; i++)
		eps[i] =
		    (struct dl_endpoint){.ep = &cfg->endpoints[i],
					 .timer = {.kind = DL_TIMER_ENDPOINT, .owner = &eps[i]},
					 .due = 1};
	if (outbound) {
		/* every subscription's deliveries, claimed by prefix; the URL and
		 * secret come from the subscription at each attempt */
		d->subs_ep = (struct hg_endpoint){.name = (char *)HG_STORE_SUB_PREFIX "*",
						  .timeout_ms = cfg->outbound.timeout_ms,
						  .retry = cfg->outbound.retry,
						  .max_in_flight = cfg->outbound.max_in_flight};
		d->ssrf = (struct hg_ssrf_policy){.allow_http = cfg->allow_http,
						  .allow = cfg->egress_allow,
						  .n_allow = cfg->n_egress_allow};
		eps[i] =
		    (struct dl_endpoint){.ep = &d->subs_ep,
					 .timer = {.kind = DL_TIMER_ENDPOINT, .owner = &eps[i]},
					 .due = 1,
					 .subs = 1};
	}
	/* The old heap held the old endpoints' timers and, while the store is
	 * away, the store's: that one moves over. */
	if (store_queued) {
		d->store_timer.slot = 0;
		(void)hg_deliver_heap_set(&heap, &d->store_timer, d->store_timer.at_ms);
	}
	hg_deliver_heap_free(&d->heap);
	d->heap = heap;
	dl_health_carry(d, eps, n, d->eps, d->n_eps);
	free(d->req);
	free(d->req_ep);
	free(d->req_got);
	pthread_mutex_lock(&d->health_mu);
	free(d->eps);
	d->eps = eps;
	d->req = req;
	d->req_ep = req_ep;
	d->req_got = req_got;
	d->n_eps = n;
	pthread_mutex_unlock(&d->health_mu);
	d->rr = 0;
	return HG_OK;
}

void hg_deliver_reload(struct hg_deliver *d, struct hg_config *cfg)
{
	if (d == NULL || !d->started)
		return;
	/* the newest wins: one still waiting to be taken is dropped */
	hg_config_put(atomic_exchange(&d->next_cfg, hg_config_hold(cfg)));
	atomic_store(&d->kick, 1);
	curl_multi_wakeup(d->multi);
}

/* On the loop: takes the snapshot a reload handed over (the newest). */
static void take_reload(struct hg_deliver *d)
{
	struct hg_config *next = atomic_exchange(&d->next_cfg, NULL);

	if (next == NULL)
		return;
	hg_config_put(d->pending);
	d->pending = next;
	if (d->running.n > 0)
		hg_log(HG_LOG_INFO, "reload: the delivery engine waits for its attempts in flight",
		       "in_flight", HG_LI(d->running.n), NULL);
}

static int count_one(const struct hg_store_delivery_info *di, void *arg)
{
	(void)di;
	++*(int64_t *)arg;
	return 0;
}

/* Deliveries of endpoint waiting (pending or failed), counted up to a bound. */
static int64_t queued_for(struct hg_deliver *d, const char *endpoint)
{
	int64_t n = 0;
	struct hg_store_delivery_filter f = {.endpoint = endpoint, .limit = 100000};

	f.status = HG_DELIVERY_PENDING;
	(void)hg_store_list_deliveries(d->st, &f, count_one, &n);
	f.status = HG_DELIVERY_FAILED;
	(void)hg_store_list_deliveries(d->st, &f, count_one, &n);
	return n;
}

/* With nothing in flight: the pending snapshot's endpoints replace ours. The
 * deliveries queued for an endpoint it no longer has stay queued, and are
 * reported. */
static void adopt_reload(struct hg_deliver *d)
{
	struct hg_config *next = d->pending;
	size_t i;

	d->pending = NULL;
	for (i = 0; i < d->n_eps; i++) {
		const char *name = d->eps[i].ep->name;

		if (d->eps[i].subs || hg_config_find_endpoint(next, name) != NULL)
			continue;
		int64_t waiting = queued_for(d, name);
		hg_log(HG_LOG_WARN,
		       "reload removed an endpoint; its queued deliveries stay queued until it is "
		       "configured again",
		       "endpoint", HG_LS(name), "queued", HG_LI(waiting), NULL);
	}
	if (eps_build(d, next) != HG_OK) {
		hg_log(HG_LOG_ERROR, "reload: out of memory; the engine keeps its endpoints", NULL);
		hg_config_put(next);
		return;
	}
	hg_config_put(d->cfg);
	d->cfg = next;
	hg_log(HG_LOG_INFO, "delivery engine reloaded", "endpoints", HG_LI(d->n_eps), NULL);
}

/* ---- start and stop ---- */

/* 1 when env entry e ("NAME=value") may be passed to exec commands: not a
 * variable a secret was read from, and not one of the names we set. */
int dl_env_inherited(const struct hg_config *cfg, const char *e)
{
	size_t i, n = strcspn(e, "=");

	if (strncmp(e, DL_ENV_PREFIX, sizeof(DL_ENV_PREFIX) - 1) == 0)
		return 0;
	for (i = 0; i < cfg->n_secret_envs; i++)
		if (strlen(cfg->secret_envs[i]) == n && strncmp(cfg->secret_envs[i], e, n) == 0)
			return 0;
	return 1;
}

static int copy_env(struct hg_deliver *d)
{
	size_t n = 0, i;

	for (i = 0; environ != NULL && environ[i] != NULL; i++)
		n++;
	d->env_base = calloc(n + 1, sizeof(*d->env_base));
	if (d->env_base == NULL)
		return HG_ENOMEM;
	for (i = 0; i < n; i++) {
		if (!dl_env_inherited(d->cfg, environ[i]))
			continue;
		d->env_base[d->n_env_base] = strdup(environ[i]);
		if (d->env_base[d->n_env_base++] == NULL)
			return HG_ENOMEM;
	}
	return HG_OK;
}

static void engine_free(struct hg_deliver *d)
{
	size_t i;

	if (d == NULL)
		return;
	while (d->n_pool > 0)
		curl_easy_cleanup(d->pool[--d->n_pool]);
	free(d->pool);
	if (d->multi != NULL)
		curl_multi_cleanup(d->multi);
	hg_store_close(d->st);
	hg_deliver_heap_free(&d->heap);
	for (i = 0; i < d->n_env_base; i++)
		free(d->env_base[i]);
	free(d->env_base);
	free(d->eps);
	free(d->req);
	free(d->req_ep);
	free(d->req_got);
	free(d->claimed);
	free((void *)d->msg_ids);
	free(d->msgs);
	free(d->msg_rcs);
	free(d->rec);
	free(d->wfds);
	hg_config_put(atomic_exchange(&d->next_cfg, NULL));
	hg_config_put(d->pending);
	hg_config_put(d->cfg);
	pthread_mutex_destroy(&d->health_mu);
	free(d);
}

void hg_deliver_set_stats(struct hg_deliver *d, struct hg_stats *stats)
{
	if (d != NULL)
		atomic_store(&d->stats, stats);
}

int hg_deliver_start(const struct hg_config *cfg, struct hg_deliver **out, char *err, size_t errlen)
{
	size_t cap = (size_t)cfg->max_in_flight;
	struct hg_deliver *d;
	char host[64] = "", uuid[HG_UUID_LEN + 1];
	sigset_t all, old;
	int rc = HG_ENOMEM;

	*out = NULL;
	d = calloc(1, sizeof(*d));
	if (d == NULL)
		goto oom;
	pthread_mutex_init(&d->health_mu, NULL);
	/* the engine's own reference: a reload may swap the current one */
	d->cfg = hg_config_hold((struct hg_config *)cfg);
	d->claimed = calloc(cap, sizeof(*d->claimed));
	d->rec = calloc(cap, sizeof(*d->rec));
	d->wfds = calloc(3 * cap, sizeof(*d->wfds));
	d->pool = calloc(cap, sizeof(*d->pool));
	d->msg_ids = calloc(cap, sizeof(*d->msg_ids));
	d->msgs = calloc(cap, sizeof(*d->msgs));
	d->msg_rcs = calloc(cap, sizeof(*d->msg_rcs));
	if (d->claimed == NULL || d->rec == NULL || d->wfds == NULL || d->pool == NULL ||
	    d->msg_ids == NULL || d->msgs == NULL || d->msg_rcs == NULL ||
	    eps_build(d, cfg) != HG_OK || copy_env(d) != HG_OK)
		goto oom;
	/* The thread runs even with nothing to deliver to yet: a reload may
	 * add endpoints. */
	d->store_timer = (struct hg_deliver_timer){.kind = DL_TIMER_STORE, .owner = d};
	d->signer = hg_verify_find("standard");
	if (d->signer == NULL || d->signer->sign == NULL) {
		rc = HG_EINVAL;
		snprintf(err, errlen, "This build has no Standard Webhooks signer for deliveries.");
		goto out;
	}
	/* A lease names its holder for a person reading the table, and is
	 * unique per run: a restarted process must not think it holds the
	 * leases of the one that died. */
	if (gethostname(host, sizeof(host)) != 0)
		hg_strlcpy(host, "host", sizeof(host));
	host[sizeof(host) - 1] = '\0';
	hg_uuid7(uuid);
	snprintf(d->owner, sizeof(d->owner), "%s/%ld/%s", host, (long)getpid(), uuid);
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		rc = HG_EIO;
		snprintf(err, errlen, "Cannot initialise libcurl for deliveries.");
		goto out;
	}
	d->multi = curl_multi_init();
	if (d->multi == NULL)
		goto oom;
	rc = hg_store_open(cfg->store, &d->st, err, errlen);
	if (rc != HG_OK)
		goto out;
	/* Like the ingest writer, the engine takes no signals; SIGPIPE from a
	 * closed stdin pipe stays pending on it and write() says EPIPE. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	rc = pthread_create(&d->thread, NULL, engine_main, d);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc != 0) {
		snprintf(err, errlen, "Cannot start the delivery engine thread: %s.", strerror(rc));
		rc = HG_EIO;
		goto out;
	}
	d->started = 1;
	hg_log(HG_LOG_INFO, "delivery engine started", "endpoints", HG_LI(d->n_eps),
	       "max_in_flight", HG_LI(cfg->max_in_flight), "owner", HG_LS(d->owner), NULL);
	*out = d;
	return HG_OK;
oom:
	rc = HG_ENOMEM;
	snprintf(err, errlen, "Out of memory while starting the delivery engine.");
out:
	engine_free(d);
	return rc;
}

void hg_deliver_wake(struct hg_deliver *d)
{
	if (d == NULL || !d->started)
		return;
	atomic_store(&d->kick, 1);
	curl_multi_wakeup(d->multi);
}

void hg_deliver_wake_cb(void *arg)
{
	hg_deliver_wake(arg);
}

void hg_deliver_stop(struct hg_deliver *d)
{
	int rc;

	if (d == NULL)
		return;
	if (d->started) {
		atomic_store(&d->stopping, 1);
		curl_multi_wakeup(d->multi);
		rc = pthread_join(d->thread, NULL);
		if (rc != 0)
			hg_log(HG_LOG_ERROR, "delivery engine join failed", "error",
			       HG_LS(strerror(rc)), NULL);
	}
	engine_free(d);
}
