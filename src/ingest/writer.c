/*
 * writer.c — the group-commit ingest writer: one thread, one store handle.
 *
 * Request handlers queue items and return to their event loop at once. The
 * writer takes everything queued in one grab, stores it as batches of at most
 * HG_INGEST_MAX_BATCH messages (one transaction and one fsync per batch),
 * and only after the commit has returned calls each item's done(). Under
 * load the queue grows while a commit is in flight, so the next batch is
 * bigger and the cost of one fsync is shared by more requests: throughput
 * rises with load instead of latency.
 *
 * Failure: when a batch fails, every item of it gets HG_EIO (the caller
 * answers 503, never 200), the writer is marked unhealthy and keeps going.
 * If the handle no longer answers a ping (the file vanished, the disk came
 * back read-only) it is closed and opened afresh, and while unhealthy and
 * idle the writer re-checks the store every HG_INGEST_RETRY_MS, so a
 * transient disk problem heals without a restart.
 *
 * Audit events ride along: hg_ingest_audit() copies one into a small heap
 * node and queues it; the writer appends the queued events in the same
 * transaction as the next batch of messages (or in one of their own when no
 * message is waiting), so auditing a refused request costs no extra fsync
 * under load. Events of a failed batch are kept and written with a later
 * one. The queue is bounded (HG_INGEST_MAX_AUDIT): a flood of bad requests
 * while the disk is away must not eat the memory; what is dropped is
 * counted, logged, and recorded in the audit log itself ("audit_dropped")
 * as soon as a write succeeds, so the log says where it has a gap.
 *
 * Deliveries: a message's deliveries are stored in its transaction; after
 * a commit that created any, the commit hook (the delivery engine's
 * wake-up) runs, so a new message is attempted at once rather than at the
 * engine's next timer.
 *
 * Hot path: submit() only links the item into a list under a mutex; nothing
 * here allocates after start except one node per audit event.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ingest/ingest.h"

/* Bounds one transaction (ingest.h: HG_INGEST_MAX_BATCH and the work
 * budgets beside it). */
/* While unhealthy and idle, how often the store is checked again. */
#define HG_INGEST_RETRY_MS 1000
/* Audit events queued or kept for a retry, at most. */
#define HG_INGEST_MAX_AUDIT 65536

/* One queued audit event; its strings live in text[] behind it. */
struct ingest_audit {
	struct ingest_audit *next;
	struct hg_audit_event ev;
	char text[];
};

struct hg_ingest {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct hg_ingest_item *head, *tail;           /* the queue; guarded by mu */
	struct ingest_audit *audit_head, *audit_tail; /* guarded by mu */
	size_t n_audit;                               /* queued + kept for a retry; guarded by mu */
	uint64_t n_dropped; /* audit events refused since the writer last looked; mu */
	int stopping;       /* guarded by mu */
	atomic_int healthy;
	pthread_t thread;
	pthread_mutex_t hook_mu; /* held while the hook runs, so removing it waits */
	void (*hook)(void *arg); /* guarded by hook_mu */
	void *hook_arg;
	char *uri;
	struct hg_ratelimit *ratelimit;
	/* Owned by the writer thread once it runs. */
	struct hg_store *st; /* NULL after a failed re-open */
	struct hg_ingest_item *items[HG_INGEST_MAX_BATCH];
	struct hg_store_msg *msgs[HG_INGEST_MAX_BATCH];
	struct ingest_audit *carry, *carry_tail; /* events not written yet, oldest first */
	uint64_t dropped;                        /* not yet recorded as audit_dropped */
	struct hg_audit_event evs[HG_INGEST_MAX_BATCH + 1]; /* + the audit_dropped note */
};

/* Replaces the store handle with a fresh connection. Health is left alone:
 * only a successful commit or check says the store works again. */
static void reopen_store(struct hg_ingest *ing)
{
	char err[256];
	int rc;

	hg_store_close(ing->st);
	ing->st = NULL;
	rc = hg_store_open(ing->uri, &ing->st, err, sizeof(err));
	if (rc != HG_OK)
		hg_log(HG_LOG_ERROR, "ingest store re-open failed", "error", HG_LS(err), NULL);
	else
		hg_log(HG_LOG_WARN, "ingest store re-opened", NULL);
}

/* The idle health check of an unhealthy writer. */
static void recheck_store(struct hg_ingest *ing)
{
	if (ing->st == NULL || hg_store_ping(ing->st) != HG_OK)
		reopen_store(ing);
	if (ing->st != NULL && hg_store_ping(ing->st) == HG_OK) {
		atomic_store(&ing->healthy, 1);
		hg_log(HG_LOG_INFO, "ingest store healthy again", NULL);
	}
}

/* Frees the first n kept audit events: they are in the log now. */
static void release_audit(struct hg_ingest *ing, size_t n)
{
	struct ingest_audit *a;
	size_t i;

	for (i = 0; i < n; i++) {
		a = ing->carry;
		ing->carry = a->next;
		free(a);
	}
	if (ing->carry == NULL)
		ing->carry_tail = NULL;
	pthread_mutex_lock(&ing->mu);
	ing->n_audit -= n;
	pthread_mutex_unlock(&ing->mu);
}

/* After a commit of msgs[0..n): wakes whoever delivers, when any message
 * brought deliveries. */
static void run_commit_hook(struct hg_ingest *ing, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (ing->msgs[i]->outcome == HG_STORE_ACCEPTED && ing->msgs[i]->n_targets > 0)
			break;
	if (i == n)
		return;
	pthread_mutex_lock(&ing->hook_mu);
	if (ing->hook != NULL)
		ing->hook(ing->hook_arg);
	pthread_mutex_unlock(&ing->hook_mu);
}

/* Stores items[0..n) and up to a batch of kept audit events in one
 * transaction, then completes each item. Returns the store's status. */
static int write_batch(struct hg_ingest *ing, size_t n)
{
	struct ingest_audit *a;
	char note[96];
	size_t i, nev = 0, nkept;
	int rc = HG_EIO;

	for (a = ing->carry; a != NULL && nev < HG_INGEST_MAX_BATCH; a = a->next)
		ing->evs[nev++] = a->ev;
	nkept = nev;
	if (ing->dropped > 0) {
		snprintf(note, sizeof(note),
			 "%llu audit events were dropped: the audit queue was full",
			 (unsigned long long)ing->dropped);
		ing->evs[nev++] = (struct hg_audit_event){
		    .ts_ms = hg_now_ms(), .event = "audit_dropped", .reason = note};
	}
	if (ing->st == NULL)
		reopen_store(ing);
	if (ing->st != NULL)
		rc = hg_store_put_batch(ing->st, ing->msgs, n, ing->evs, nev);
	if (rc == HG_OK) {
		release_audit(ing, nkept);
		ing->dropped = 0;
	}
	if (rc == HG_OK) {
		if (!atomic_exchange(&ing->healthy, 1))
			hg_log(HG_LOG_INFO, "ingest store healthy again", NULL);
	} else {
		rc = HG_EIO;
		if (atomic_exchange(&ing->healthy, 0))
			hg_log(HG_LOG_ERROR, "ingest store unhealthy; answering 503", NULL);
		if (ing->st != NULL && hg_store_ping(ing->st) != HG_OK)
			reopen_store(ing);
	}
	if (rc == HG_OK)
		run_commit_hook(ing, n);
	for (i = 0; i < n; i++)
		ing->items[i]->status = rc;
	/* done() may free its item, so nothing touches items[i] afterwards. */
	for (i = 0; i < n; i++) {
		struct hg_ingest_item *it = ing->items[i];

		ing->items[i] = NULL;
		if (it->done != NULL)
			it->done(it);
	}
	return rc;
}

size_t hg_ingest_batch_len(const struct hg_ingest_item *list)
{
	size_t n = 0, keys = 0, bytes = 0;

	for (; list != NULL && n < HG_INGEST_MAX_BATCH; list = list->next, n++) {
		keys += list->msg.n_dedupe_keys;
		bytes += list->msg.body_len;
		/* The first message always goes, however big: it must be written. */
		if (n > 0 && (keys > HG_INGEST_MAX_BATCH_KEYS || bytes > HG_INGEST_MAX_BATCH_BYTES))
			break;
	}
	return n;
}

/* Writes list and the kept audit events as batches until both are done or
 * the store fails (then the events wait for the next write). */
static void write_list(struct hg_ingest *ing, struct hg_ingest_item *list)
{
	size_t n, len;
	int rc;

	do {
		len = hg_ingest_batch_len(list);
		for (n = 0; list != NULL && n < len; n++) {
			ing->items[n] = list;
			ing->msgs[n] = &list->msg;
			list = list->next;
		}
		rc = write_batch(ing, n);
	} while (list != NULL || (rc == HG_OK && (ing->carry != NULL || ing->dropped > 0)));
}

/* Moves the queued audit events behind the kept ones (writer thread, mu
 * held). Returns how many were dropped since the last call. */
static uint64_t take_audit(struct hg_ingest *ing)
{
	uint64_t dropped = ing->n_dropped;

	ing->dropped += dropped;
	ing->n_dropped = 0;
	if (ing->audit_head == NULL)
		return dropped;
	if (ing->carry_tail != NULL)
		ing->carry_tail->next = ing->audit_head;
	else
		ing->carry = ing->audit_head;
	ing->carry_tail = ing->audit_tail;
	ing->audit_head = ing->audit_tail = NULL;
	return dropped;
}

/* Work for the writer: queued items or events, or kept events (or a drop
 * note) once the store is healthy again. mu held. */
static int has_work(struct hg_ingest *ing)
{
	return ing->head != NULL || ing->audit_head != NULL || ing->n_dropped > 0 ||
	       ((ing->carry != NULL || ing->dropped > 0) && atomic_load(&ing->healthy));
}

static void *writer_main(void *arg)
{
	struct hg_ingest *ing = arg;
	struct hg_ingest_item *list;
	struct timespec deadline;
	uint64_t dropped;
	int rc;

	pthread_mutex_lock(&ing->mu);
	for (;;) {
		while (!has_work(ing) && !ing->stopping) {
			if (atomic_load(&ing->healthy)) {
				pthread_cond_wait(&ing->cv, &ing->mu);
				continue;
			}
			hg_mono_deadline(&deadline, HG_INGEST_RETRY_MS);
			rc = pthread_cond_timedwait(&ing->cv, &ing->mu, &deadline);
			if (rc == ETIMEDOUT && !has_work(ing) && !ing->stopping) {
				pthread_mutex_unlock(&ing->mu);
				recheck_store(ing);
				pthread_mutex_lock(&ing->mu);
			}
		}
		if (!has_work(ing))
			break; /* stopping, and everything queued was written */
		list = ing->head;
		ing->head = ing->tail = NULL;
		dropped = take_audit(ing);
		pthread_mutex_unlock(&ing->mu);
		if (dropped > 0)
			hg_log(HG_LOG_WARN, "audit events dropped: the audit queue was full",
			       "count", HG_LI(dropped), NULL);
		write_list(ing, list);
		pthread_mutex_lock(&ing->mu);
	}
	pthread_mutex_unlock(&ing->mu);
	/* Stopping with events the store refused: one last try, then say what
	 * is lost (the count, never the contents). */
	if (ing->carry != NULL || ing->dropped > 0)
		write_list(ing, NULL);
	if (ing->carry != NULL || ing->dropped > 0) {
		size_t n = 0;

		for (struct ingest_audit *a = ing->carry; a != NULL; a = a->next)
			n++;
		hg_log(HG_LOG_ERROR, "audit events lost at shutdown: the store refused them",
		       "count", HG_LI(n), "dropped_before", HG_LI(ing->dropped), NULL);
		release_audit(ing, n);
	}
	return NULL;
}

int hg_ingest_start(const char *store_uri, struct hg_ingest **out, char *err, size_t errlen)
{
	struct hg_ingest *ing = NULL;
	pthread_condattr_t ca;
	sigset_t all, old;
	int rc = HG_ENOMEM, have_mu = 0, have_cv = 0, have_hook_mu = 0;

	*out = NULL;
	ing = calloc(1, sizeof(*ing));
	if (ing == NULL || (ing->uri = strdup(store_uri != NULL ? store_uri : "")) == NULL) {
		snprintf(err, errlen, "Out of memory while starting the ingest writer.");
		goto out;
	}
	atomic_init(&ing->healthy, 1);
	if (hg_ratelimit_new(HG_RATELIMIT_MAX_KEYS, &ing->ratelimit) != HG_OK) {
		snprintf(err, errlen, "Out of memory while starting the rate limiter.");
		goto out;
	}
	rc = HG_EIO;
	if (pthread_mutex_init(&ing->mu, NULL) != 0) {
		snprintf(err, errlen, "Cannot create the ingest writer's mutex.");
		goto out;
	}
	have_mu = 1;
	if (pthread_mutex_init(&ing->hook_mu, NULL) != 0) {
		snprintf(err, errlen, "Cannot create the ingest writer's mutex.");
		goto out;
	}
	have_hook_mu = 1;
	/* The idle re-check waits on the monotonic clock so a wall-clock jump
	 * neither stalls nor spins it. */
	if (pthread_condattr_init(&ca) != 0) {
		snprintf(err, errlen, "Cannot create the ingest writer's condition variable.");
		goto out;
	}
	if (pthread_condattr_setclock(&ca, CLOCK_MONOTONIC) == 0 &&
	    pthread_cond_init(&ing->cv, &ca) == 0)
		have_cv = 1;
	pthread_condattr_destroy(&ca);
	if (!have_cv) {
		snprintf(err, errlen, "Cannot create the ingest writer's condition variable.");
		goto out;
	}
	rc = hg_store_open(store_uri, &ing->st, err, errlen);
	if (rc != HG_OK)
		goto out;
	/* Nodes sharing a PostgreSQL store count rate limits together. */
	rc = hg_ratelimit_share(ing->ratelimit, store_uri, err, errlen);
	if (rc != HG_OK)
		goto out;
	/* The writer takes no signals: SIGTERM/SIGHUP belong to the thread that
	 * handles them, never to one holding a write transaction. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	rc = pthread_create(&ing->thread, NULL, writer_main, ing);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc != 0) {
		snprintf(err, errlen, "Cannot start the ingest writer thread: %s.", strerror(rc));
		rc = HG_EIO;
		goto out;
	}
	*out = ing;
	ing = NULL;
	rc = HG_OK;
out:
	if (ing != NULL) {
		hg_store_close(ing->st);
		hg_ratelimit_free(ing->ratelimit);
		if (have_cv)
			pthread_cond_destroy(&ing->cv);
		if (have_mu)
			pthread_mutex_destroy(&ing->mu);
		if (have_hook_mu)
			pthread_mutex_destroy(&ing->hook_mu);
		free(ing->uri);
		free(ing);
	}
	return rc;
}

void hg_ingest_set_commit_hook(struct hg_ingest *ing, void (*fn)(void *arg), void *arg)
{
	pthread_mutex_lock(&ing->hook_mu);
	ing->hook = fn;
	ing->hook_arg = arg;
	pthread_mutex_unlock(&ing->hook_mu);
}

void hg_ingest_submit(struct hg_ingest *ing, struct hg_ingest_item *it)
{
	it->next = NULL;
	pthread_mutex_lock(&ing->mu);
	if (ing->tail != NULL)
		ing->tail->next = it;
	else
		ing->head = it;
	ing->tail = it;
	/* Only an empty queue can have a sleeping writer. */
	if (ing->head == it)
		pthread_cond_signal(&ing->cv);
	pthread_mutex_unlock(&ing->mu);
}

void hg_ingest_stop(struct hg_ingest *ing)
{
	int rc;

	if (ing == NULL)
		return;
	pthread_mutex_lock(&ing->mu);
	ing->stopping = 1;
	pthread_cond_signal(&ing->cv);
	pthread_mutex_unlock(&ing->mu);
	rc = pthread_join(ing->thread, NULL);
	if (rc != 0)
		hg_log(HG_LOG_ERROR, "ingest writer join failed", "error", HG_LS(strerror(rc)),
		       NULL);
	hg_store_close(ing->st);
	hg_ratelimit_free(ing->ratelimit);
	pthread_cond_destroy(&ing->cv);
	pthread_mutex_destroy(&ing->mu);
	pthread_mutex_destroy(&ing->hook_mu);
	free(ing->uri);
	free(ing);
}

int hg_ingest_healthy(const struct hg_ingest *ing)
{
	return atomic_load(&ing->healthy);
}

struct hg_ratelimit *hg_ingest_ratelimit(struct hg_ingest *ing)
{
	return ing->ratelimit;
}

/* Copies one string into the node's text area; NULL stays NULL. */
static const char *audit_copy(char **at, const char *s, size_t n)
{
	char *dst = *at;

	if (s == NULL)
		return NULL;
	memcpy(dst, s, n);
	dst[n] = '\0';
	*at += n + 1;
	return dst;
}

void hg_ingest_audit(struct hg_ingest *ing, const char *event, const char *source,
		     const char *client, const char *reason)
{
	size_t le, ls, lc, lr;
	struct ingest_audit *a;
	char *at;
	int wake;

	if (ing == NULL || event == NULL)
		return;
	le = strlen(event);
	ls = source != NULL ? strlen(source) : 0;
	lc = client != NULL ? strlen(client) : 0;
	lr = reason != NULL ? strlen(reason) : 0;
	a = malloc(sizeof(*a) + le + ls + lc + lr + 4);
	if (a == NULL) {
		hg_log(HG_LOG_ERROR, "audit event lost: out of memory", "event", HG_LS(event),
		       "source", HG_LS(source), NULL);
		return;
	}
	a->next = NULL;
	at = a->text;
	a->ev.ts_ms = hg_now_ms();
	a->ev.event = audit_copy(&at, event, le);
	a->ev.source = audit_copy(&at, source, ls);
	a->ev.client = audit_copy(&at, client, lc);
	a->ev.reason = audit_copy(&at, reason, lr);

	pthread_mutex_lock(&ing->mu);
	if (ing->n_audit >= HG_INGEST_MAX_AUDIT) {
		ing->n_dropped++;
		pthread_mutex_unlock(&ing->mu);
		free(a);
		return;
	}
	ing->n_audit++;
	if (ing->audit_tail != NULL)
		ing->audit_tail->next = a;
	else
		ing->audit_head = a;
	ing->audit_tail = a;
	/* Only a writer with nothing queued can be asleep. */
	wake = ing->audit_head == a && ing->head == NULL;
	if (wake)
		pthread_cond_signal(&ing->cv);
	pthread_mutex_unlock(&ing->mu);
}
