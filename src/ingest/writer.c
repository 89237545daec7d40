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
 * Refusals are summed, not itemised: hg_ingest_refusal() adds one to the
 * count of its (event, source, client, reason) in the current window (a
 * multiple of the window length since the epoch, so windows never straddle
 * an hour when the length divides one), and the writer appends one row per
 * key with that count once the window has ended. A flood of bad signatures
 * from one address is one row per window however fast it comes. At most
 * max_rows keys are itemised per window, across all sources: the refusals
 * of any further key are summed into one row per (event, source) whose
 * client is NULL and whose reason starts with "audit_suppressed:", so
 * someone spraying addresses cannot buy rows either, and the sum of count
 * over a source's rows of one event is still the exact number of refusals.
 * Memory is bounded the same way (max_rows keys, plus one per event and
 * source). Nothing here drops a refusal: what the store refuses stays in
 * the kept events, as any audit event does (only a failed allocation, with
 * not even the summary row possible, loses one, counted as audit_dropped).
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
/* Buckets of the refusal sums' hash table (chained). */
#define HG_INGEST_AGG_BUCKETS 1024
/* (source, event) pairs counted for /metrics at most; sources come from the
 * config, so this is never reached in practice. */
#define HG_INGEST_MAX_TOTALS 1024
#define HG_INGEST_EVENT_MAX  32

/* One queued audit event; its strings live in text[] behind it. */
struct ingest_audit {
	struct ingest_audit *next;
	int refusal; /* a refusal sum (for /metrics) */
	struct hg_audit_event ev;
	char text[];
};

/* One refusal key's sum in one window; its strings live in text[]. A NULL
 * client marks the per-(event, source) row of refusals not itemised. */
struct ingest_agg {
	struct ingest_agg *next;  /* hash chain */
	struct ingest_agg *lnext; /* every entry, for the flush */
	uint64_t hash;
	int64_t window;   /* start of its window, ms since the epoch */
	int64_t first_ms; /* its first refusal: the row's time */
	int64_t count;
	const char *event, *source, *client, *reason;
	char text[];
};

/* Refusals since start for /metrics, per source and event. */
struct ingest_total {
	char source[HG_STORE_NAME_MAX + 1];
	char event[HG_INGEST_EVENT_MAX];
	uint64_t n;
};

struct hg_ingest {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct hg_ingest_item *head, *tail;           /* the queue; guarded by mu */
	struct ingest_audit *audit_head, *audit_tail; /* guarded by mu */
	size_t n_audit;                               /* queued + kept for a retry; guarded by mu */
	uint64_t n_dropped; /* audit events refused since the writer last looked; mu */
	int stopping;       /* guarded by mu */
	/* refusal sums (guarded by mu) */
	int64_t agg_window_ms, agg_max_rows;
	struct ingest_agg *agg_buckets[HG_INGEST_AGG_BUCKETS];
	struct ingest_agg *agg_list;
	int64_t agg_cur;      /* the newest window seen */
	int64_t agg_cur_rows; /* keys itemised in it */
	struct ingest_total totals[HG_INGEST_MAX_TOTALS];
	size_t n_totals;
	uint64_t suppressed;               /* refusals summed into audit_suppressed rows */
	atomic_uint_fast64_t rows_written; /* audit rows committed by this writer */
	atomic_uint_fast64_t refusal_rows; /* of which refusal sums */
	atomic_int healthy;
	atomic_uint_fast64_t failures; /* commits that failed, ever */
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
	size_t i, nev = 0, nkept, nref = 0;
	int rc = HG_EIO;

	for (a = ing->carry; a != NULL && nev < HG_INGEST_MAX_BATCH; a = a->next)
		ing->evs[nev++] = a->ev;
	nkept = nev;
	for (a = ing->carry, i = 0; i < nkept; a = a->next, i++)
		nref += a->refusal;
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
		atomic_fetch_add(&ing->rows_written, nev);
		atomic_fetch_add(&ing->refusal_rows, nref);
	}
	if (rc == HG_OK) {
		if (!atomic_exchange(&ing->healthy, 1))
			hg_log(HG_LOG_INFO, "ingest store healthy again", NULL);
	} else {
		rc = HG_EIO;
		atomic_fetch_add(&ing->failures, 1);
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

/* Work for the writer: queued items or events, refusal sums whose window
 * ended, or kept events (or a drop note) once the store is healthy again.
 * mu held. */
static int agg_due(struct hg_ingest *ing, int64_t now_ms);
static int64_t agg_wait_ms(struct hg_ingest *ing, int64_t now_ms);
static void take_refusals(struct hg_ingest *ing, int64_t now_ms);

static int has_work(struct hg_ingest *ing)
{
	return ing->head != NULL || ing->audit_head != NULL || ing->n_dropped > 0 ||
	       agg_due(ing, hg_now_ms()) ||
	       ((ing->carry != NULL || ing->dropped > 0) && atomic_load(&ing->healthy));
}

static void *writer_main(void *arg)
{
	struct hg_ingest *ing = arg;
	struct hg_ingest_item *list;
	struct timespec deadline;
	uint64_t dropped;
	int64_t wait;
	int rc;

	pthread_mutex_lock(&ing->mu);
	for (;;) {
		while (!has_work(ing) && !ing->stopping) {
			/* Asleep until work comes, the oldest refusal window
			 * ends, or (unhealthy) the next store check. */
			wait = agg_wait_ms(ing, hg_now_ms());
			if (atomic_load(&ing->healthy) && wait < 0) {
				pthread_cond_wait(&ing->cv, &ing->mu);
				continue;
			}
			if (!atomic_load(&ing->healthy) && (wait < 0 || wait > HG_INGEST_RETRY_MS))
				wait = HG_INGEST_RETRY_MS;
			hg_mono_deadline(&deadline, (long)wait);
			rc = pthread_cond_timedwait(&ing->cv, &ing->mu, &deadline);
			if (rc == ETIMEDOUT && !atomic_load(&ing->healthy) && !has_work(ing) &&
			    !ing->stopping) {
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
		take_refusals(ing, hg_now_ms());
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
	atomic_init(&ing->failures, 0);
	atomic_init(&ing->rows_written, 0);
	atomic_init(&ing->refusal_rows, 0);
	ing->agg_window_ms = HG_INGEST_AUDIT_WINDOW_MS;
	ing->agg_max_rows = HG_INGEST_AUDIT_MAX_ROWS;
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
	/* Sums left only when memory ran out at the very end (logged there). */
	while (ing->agg_list != NULL) {
		struct ingest_agg *e = ing->agg_list;

		ing->agg_list = e->lnext;
		free(e);
	}
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

int hg_ingest_healthy_since(struct hg_ingest *ing, uint64_t *seen)
{
	uint64_t failures = atomic_load(&ing->failures);
	int ok = failures == *seen && atomic_load(&ing->healthy);

	*seen = failures;
	return ok;
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

/* A queue node holding copies of the event's strings; NULL when out of
 * memory. */
static struct ingest_audit *audit_node(int64_t ts_ms, const char *event, const char *source,
				       const char *client, const char *reason, int64_t count)
{
	size_t le, ls, lc, lr;
	struct ingest_audit *a;
	char *at;

	le = strlen(event);
	ls = source != NULL ? strlen(source) : 0;
	lc = client != NULL ? strlen(client) : 0;
	lr = reason != NULL ? strlen(reason) : 0;
	a = malloc(sizeof(*a) + le + ls + lc + lr + 4);
	if (a == NULL)
		return NULL;
	a->next = NULL;
	a->refusal = 0;
	at = a->text;
	a->ev.ts_ms = ts_ms;
	a->ev.event = audit_copy(&at, event, le);
	a->ev.source = audit_copy(&at, source, ls);
	a->ev.client = audit_copy(&at, client, lc);
	a->ev.reason = audit_copy(&at, reason, lr);
	a->ev.count = count;
	return a;
}

void hg_ingest_audit(struct hg_ingest *ing, const char *event, const char *source,
		     const char *client, const char *reason)
{
	struct ingest_audit *a;
	int wake;

	if (ing == NULL || event == NULL)
		return;
	a = audit_node(hg_now_ms(), event, source, client, reason, 1);
	if (a == NULL) {
		hg_log(HG_LOG_ERROR, "audit event lost: out of memory", "event", HG_LS(event),
		       "source", HG_LS(source), NULL);
		return;
	}

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

/* ---- refusal sums ---- */

void hg_ingest_set_audit_policy(struct hg_ingest *ing, int64_t window_ms, int64_t max_rows)
{
	pthread_mutex_lock(&ing->mu);
	ing->agg_window_ms = window_ms > 0 ? window_ms : HG_INGEST_AUDIT_WINDOW_MS;
	ing->agg_max_rows = max_rows > 0 ? max_rows : HG_INGEST_AUDIT_MAX_ROWS;
	pthread_mutex_unlock(&ing->mu);
}

/* FNV-1a over the key's strings (NULL and "" differ) and its window. */
static uint64_t agg_hash(int64_t window, const char *const s[4])
{
	uint64_t h = 1469598103934665603ull ^ (uint64_t)window;
	int i;

	for (i = 0; i < 4; i++) {
		const char *p = s[i] != NULL ? s[i] : "";

		h = (h ^ (s[i] != NULL ? 1u : 2u)) * 1099511628211ull;
		for (; *p != '\0'; p++)
			h = (h ^ (uint8_t)*p) * 1099511628211ull;
		h = (h ^ 0xffu) * 1099511628211ull;
	}
	return h;
}

static int str_eq(const char *a, const char *b)
{
	return (a == NULL || b == NULL) ? a == b : strcmp(a, b) == 0;
}

/* The entry of key in window, created when absent; NULL when out of
 * memory. mu held. */
static struct ingest_agg *agg_find(struct hg_ingest *ing, int64_t window, const char *const k[4],
				   int create, int64_t now_ms)
{
	uint64_t h = agg_hash(window, k);
	struct ingest_agg **slot = &ing->agg_buckets[h % HG_INGEST_AGG_BUCKETS], *e;
	size_t len[4], i, total = 0;
	char *at;

	for (e = *slot; e != NULL; e = e->next)
		if (e->hash == h && e->window == window && str_eq(e->event, k[0]) &&
		    str_eq(e->source, k[1]) && str_eq(e->client, k[2]) && str_eq(e->reason, k[3]))
			return e;
	if (!create)
		return NULL;
	for (i = 0; i < 4; i++) {
		len[i] = k[i] != NULL ? strlen(k[i]) : 0;
		total += len[i] + 1;
	}
	e = malloc(sizeof(*e) + total);
	if (e == NULL)
		return NULL;
	at = e->text;
	e->event = audit_copy(&at, k[0], len[0]);
	e->source = audit_copy(&at, k[1], len[1]);
	e->client = audit_copy(&at, k[2], len[2]);
	e->reason = audit_copy(&at, k[3], len[3]);
	e->hash = h;
	e->window = window;
	e->first_ms = now_ms;
	e->count = 0;
	e->next = *slot;
	*slot = e;
	e->lnext = ing->agg_list;
	ing->agg_list = e;
	return e;
}

/* Counts one refusal of (source, event) since start. mu held. */
static void count_total(struct hg_ingest *ing, const char *event, const char *source)
{
	const char *src = source != NULL ? source : "";
	size_t i;

	for (i = 0; i < ing->n_totals; i++)
		if (strcmp(ing->totals[i].source, src) == 0 &&
		    strcmp(ing->totals[i].event, event) == 0) {
			ing->totals[i].n++;
			return;
		}
	if (ing->n_totals == HG_INGEST_MAX_TOTALS)
		return;
	hg_strlcpy(ing->totals[i].source, src, sizeof(ing->totals[i].source));
	hg_strlcpy(ing->totals[i].event, event, sizeof(ing->totals[i].event));
	ing->totals[i].n = 1;
	ing->n_totals++;
}

void hg_ingest_refusal(struct hg_ingest *ing, const char *event, const char *source,
		       const char *client, const char *reason)
{
	int64_t now = hg_now_ms(), window;
	const char *key[4] = {event, source, client, reason};
	struct ingest_agg *e;
	int wake;

	if (ing == NULL || event == NULL)
		return;
	pthread_mutex_lock(&ing->mu);
	count_total(ing, event, source);
	window = now - now % ing->agg_window_ms;
	if (window < ing->agg_cur) /* the clock went back: stay in the newest window */
		window = ing->agg_cur;
	if (window > ing->agg_cur) {
		ing->agg_cur = window;
		ing->agg_cur_rows = 0;
	}
	wake = ing->agg_list == NULL && ing->head == NULL;
	e = agg_find(ing, window, key, 0, now);
	if (e == NULL && ing->agg_cur_rows < ing->agg_max_rows) {
		e = agg_find(ing, window, key, 1, now);
		if (e != NULL)
			ing->agg_cur_rows++;
	}
	if (e == NULL) {
		/* Over the cap (or out of memory for a new key): summed per
		 * event and source, client NULL. */
		const char *over[4] = {event, source, NULL, NULL};

		e = agg_find(ing, window, over, 1, now);
		if (e != NULL)
			ing->suppressed++;
	}
	if (e != NULL)
		e->count++;
	else /* not even the summary row: say so, counted, never silently */
		ing->n_dropped++;
	/* A writer with nothing pending sleeps without a deadline: give it
	 * the window's end. */
	if (wake)
		pthread_cond_signal(&ing->cv);
	pthread_mutex_unlock(&ing->mu);
}

/* 1 when some sum is ready to be written: its window has ended, or the
 * writer is stopping. mu held. */
static int agg_due(struct hg_ingest *ing, int64_t now_ms)
{
	struct ingest_agg *e;

	if (ing->agg_list == NULL)
		return 0;
	if (ing->stopping)
		return 1;
	for (e = ing->agg_list; e != NULL; e = e->lnext)
		if (e->window + ing->agg_window_ms <= now_ms)
			return 1;
	return 0;
}

/* Milliseconds until the oldest pending window ends (>= 1), or -1 when no
 * sum is pending. mu held. */
static int64_t agg_wait_ms(struct hg_ingest *ing, int64_t now_ms)
{
	struct ingest_agg *e;
	int64_t end = INT64_MAX;

	if (ing->agg_list == NULL)
		return -1;
	for (e = ing->agg_list; e != NULL; e = e->lnext)
		if (e->window + ing->agg_window_ms < end)
			end = e->window + ing->agg_window_ms;
	return end - now_ms > 0 ? end - now_ms : 1;
}

/* Unlinks e from its hash chain. mu held. */
static void agg_unlink(struct hg_ingest *ing, struct ingest_agg *e)
{
	struct ingest_agg **p = &ing->agg_buckets[e->hash % HG_INGEST_AGG_BUCKETS];

	while (*p != e)
		p = &(*p)->next;
	*p = e->next;
}

/* Moves the sums whose window has ended (all of them when stopping) behind
 * the kept audit events, as rows with their counts. An entry that cannot
 * become a node for lack of memory stays for the next turn. Writer thread,
 * mu held. */
static void take_refusals(struct hg_ingest *ing, int64_t now_ms)
{
	struct ingest_agg **p = &ing->agg_list, *e;
	struct ingest_audit *a;
	char note[160];

	while ((e = *p) != NULL) {
		if (!ing->stopping && e->window + ing->agg_window_ms > now_ms) {
			p = &e->lnext;
			continue;
		}
		if (e->client == NULL && e->reason == NULL) {
			snprintf(note, sizeof(note),
				 "audit_suppressed: refusals not itemised, over audit_max_rows "
				 "(%lld rows per %lld ms window)",
				 (long long)ing->agg_max_rows, (long long)ing->agg_window_ms);
			a = audit_node(e->first_ms, e->event, e->source, NULL, note, e->count);
		} else {
			a = audit_node(e->first_ms, e->event, e->source, e->client, e->reason,
				       e->count);
		}
		if (a == NULL) {
			p = &e->lnext;
			continue;
		}
		if (ing->carry_tail != NULL)
			ing->carry_tail->next = a;
		else
			ing->carry = a;
		ing->carry_tail = a;
		a->refusal = 1;
		ing->n_audit++;
		*p = e->lnext;
		agg_unlink(ing, e);
		free(e);
	}
}

void hg_ingest_refusal_totals(struct hg_ingest *ing,
			      void (*fn)(const char *source, const char *event, uint64_t n,
					 void *arg),
			      void *arg)
{
	struct ingest_total *copy;
	size_t n, i;

	if (ing == NULL)
		return;
	copy = malloc(sizeof(ing->totals));
	if (copy == NULL)
		return;
	pthread_mutex_lock(&ing->mu);
	n = ing->n_totals;
	memcpy(copy, ing->totals, n * sizeof(*copy));
	pthread_mutex_unlock(&ing->mu);
	for (i = 0; i < n; i++)
		fn(copy[i].source, copy[i].event, copy[i].n, arg);
	free(copy);
}

void hg_ingest_audit_counts(struct hg_ingest *ing, struct hg_ingest_audit_counts *out)
{
	memset(out, 0, sizeof(*out));
	if (ing == NULL)
		return;
	out->rows = atomic_load(&ing->rows_written);
	out->refusal_rows = atomic_load(&ing->refusal_rows);
	pthread_mutex_lock(&ing->mu);
	out->suppressed = ing->suppressed;
	pthread_mutex_unlock(&ing->mu);
}
