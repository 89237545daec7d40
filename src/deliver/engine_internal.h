/*
 * engine_internal.h — what the delivery engine's loop (engine.c) and its
 * attempt kinds (attempt_http.c, attempt_sub.c, attempt_exec.c) share:
 * the engine's state, one attempt's state, and the calls between them.
 * Nothing outside src/deliver/ includes it; deliver.h is the contract.
 *
 * Every attempt belongs to the engine's thread. An attempt kind starts it
 * (dl_*_start: HG_OK once it runs, else an error with a->error set and the
 * engine finishes it at once) and, when its transfer or command ended,
 * fills in the outcome and hands it back with dl_finish().
 */
#ifndef HG_DELIVER_ENGINE_INTERNAL_H
#define HG_DELIVER_ENGINE_INTERNAL_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include <pthread.h>

#include "config/config.h"
#include "deliver/deliver.h"
#include "deliver/deliver_internal.h"
#include "store/store.h"
#include "verify/verify.h"

#define DL_ENV_PREFIX "HOOKGATE_" /* of the variables exec commands get from us */

enum { DL_TIMER_ENDPOINT, DL_TIMER_EXEC, DL_TIMER_STORE };

struct dl_endpoint {
	const struct hg_endpoint *ep;
	struct hg_deliver_timer timer; /* when something of it is due next */
	int due;                       /* claimable deliveries may be waiting now */
	int in_flight;
	int subs; /* the outbound subscriptions, claimed together as "sub:*" */
	/* health.c: written by the engine under d->health_mu, read by others */
	struct hg_deliver_health h;
	int64_t open_until_mono; /* the monotonic end of an open circuit's cooldown */
	/* circuit events to publish (the store may refuse for a while) */
	int ev_open, ev_closed;
	int64_t ev_open_at, ev_closed_at; /* the opened_at_ms each concerns */
	int64_t ev_failures;
};

struct dl_attempt {
	struct dl_endpoint *e;
	struct hg_store_claimed c;
	struct hg_store_row msg;
	int n;              /* this attempt's number, from 1 */
	int64_t started_ms; /* wall clock */
	int64_t start_us;   /* monotonic */
	/* http */
	CURL *easy;
	struct curl_slist *headers;
	char errbuf[CURL_ERROR_SIZE];
	/* exec */
	struct hg_deliver_exec x;
	struct hg_deliver_timer deadline;
	char **envp;       /* the base environment's pointers, then our own strings */
	size_t env_base_n; /* how many of the base environment's pointers */
	size_t env_own;
	size_t forward_env; /* exec: where the next HOOKGATE_HEADER_* goes in envp */
	int reap_poll;      /* runs without a pidfd: counted in no_pidfd */
	int timed_out;
	/* the outcome */
	struct hg_deliver_head head;
	int ok;
	int gone;               /* the message is no longer stored: no retry can help */
	int status_code;        /* < 0: none */
	char error[256];        /* "" on success */
	int64_t retry_after_ms; /* < 0: the endpoint named none */
	int64_t duration_ms;
	enum hg_delivery_status outcome;
	int64_t next_attempt_ms;
	/* outbound subscriptions */
	struct hg_store_sub sub; /* the subscription, when have_sub */
	int have_sub;
	int sub_gone;               /* it answered 410: switch it off */
	struct hg_ssrf_guard guard; /* the connect-time SSRF guard of this transfer */
	char media[1024];           /* X-Hookgate-Media: "<id>=<state>,..."; "" none */
	struct dl_attempt *prev, *next;
};

struct dl_list {
	struct dl_attempt *head, *tail;
	size_t n;
};

struct hg_deliver {
	struct hg_config *cfg; /* a reference: the snapshot whose endpoints are in eps */
	/* A reload's snapshot (a reference), handed over by hg_deliver_reload()
	 * and taken by the loop (pending) once no attempt is in flight. */
	_Atomic(struct hg_config *) next_cfg;
	struct hg_config *pending;
	struct hg_store *st;
	char owner[HG_STORE_OWNER_MAX + 1];
	const struct hg_verify_scheme *signer; /* Standard Webhooks */
	pthread_t thread;
	int started;
	CURLM *multi;
	atomic_int kick;
	atomic_int stopping;
	_Atomic(struct hg_stats *) stats; /* outcomes are counted here; may be NULL */
	struct dl_endpoint *eps;
	size_t n_eps, rr;
	int in_flight;
	struct dl_list running, done;
	struct hg_deliver_heap heap;
	struct hg_deliver_timer store_timer;
	int store_down;
	int no_pidfd; /* exec attempts running without a pidfd */
	/* buffers sized at start, so the loop does not allocate for them */
	struct hg_store_claim_req *req; /* n_eps */
	struct dl_endpoint **req_ep;
	size_t *req_got;
	struct hg_store_claimed *claimed; /* max_in_flight */
	const char **msg_ids;             /* max_in_flight: the claimed ones' messages */
	struct hg_store_row *msgs;
	int *msg_rcs;
	struct hg_store_attempt *rec;
	struct curl_waitfd *wfds; /* 3 per attempt */
	CURL **pool;              /* max_in_flight: finished transfer handles, reset */
	size_t n_pool;
	char **env_base; /* the environment exec commands inherit */
	size_t n_env_base;
	pthread_mutex_t health_mu; /* the eps' h, and eps itself while it is swapped */
	int64_t dead_window_ms;    /* health.c: the minute of dead events being counted */
	int64_t dead_sent, dead_dropped;
	/* outbound subscriptions: one pseudo-endpoint "sub:*" for all of them */
	struct hg_endpoint subs_ep;
	struct hg_ssrf_policy ssrf;
};

/* ---- engine.c ---- */

/* 1 when the environment entry e ("NAME=value") may be passed on to exec
 * commands under cfg: not ours (HOOKGATE_*) and not a secret's variable. */
int dl_env_inherited(const struct hg_config *cfg, const char *e);
/* The monotonic clock in ms: what timers run on. */
int64_t dl_mono_ms(void);
/* The attempt is over (a->ok, a->error and a->status_code say how): decide
 * what becomes of the delivery, and queue the outcome for recording. */
void dl_finish(struct hg_deliver *d, struct dl_attempt *a);

/* ---- attempt_http.c: http endpoints, and the transfer both kinds use ---- */

/* Takes a's transfer handle off the multi handle and back to the pool. */
void dl_easy_put(struct hg_deliver *d, struct dl_attempt *a);
/* Appends "name: value" to a's request headers. HG_OK or HG_ENOMEM. */
int dl_add_header(struct dl_attempt *a, const char *name, const char *value);
/* The POST of a's body with a's headers to url, added to the multi handle;
 * with guard, through the SSRF guard (a subscriber). */
int dl_transfer_start(struct hg_deliver *d, struct dl_attempt *a, const char *url,
		      int64_t timeout_ms, struct hg_ssrf_guard *guard);
int dl_http_start(struct hg_deliver *d, struct dl_attempt *a);
/* curl finished a's transfer with result. */
void dl_http_done(struct hg_deliver *d, struct dl_attempt *a, CURLcode result);

/* ---- attempt_sub.c: outbound subscriptions ---- */

/* *store_down is set when the store could not be read (not an attempt:
 * the lease brings it back); other failures are the attempt's. */
int dl_sub_start(struct hg_deliver *d, struct dl_attempt *a, int *store_down);

/* The event type of a published message a carries ({"X-Webhook-Event":
 * type} in its headers), or "" for an inbound message. */
void dl_msg_event(const struct dl_attempt *a, char *out, size_t outlen);

/* ---- health.c: failures in a row, the circuit, operational events ---- */

/* How many of room e may claim now: all of it while its circuit is closed
 * (or it has none), none while it is open (its timer is set for the end of
 * the cooldown), one probe when half-open and nothing is in flight. */
int dl_circuit_room(struct hg_deliver *d, struct dl_endpoint *e, int room);
/* a finished: counts it in its endpoint's health and moves the circuit. */
void dl_health_outcome(struct hg_deliver *d, struct dl_attempt *a);
/* a was recorded: the events it makes (hookgate.delivery.dead,
 * hookgate.subscription.disabled when off). */
void dl_events_recorded(struct hg_deliver *d, const struct dl_attempt *a, int sub_off,
			const char *reason);
/* Publishes the circuit events waiting (kept for the next turn when the
 * store refuses). */
void dl_events_flush(struct hg_deliver *d);
/* eps replaced old (n_old of them): carries the health of endpoints that
 * kept their name over, and re-arms an open circuit's timer. */
void dl_health_carry(struct hg_deliver *d, struct dl_endpoint *eps, size_t n,
		     const struct dl_endpoint *old, size_t n_old);

/* ---- media_gate.c: deliveries wait for the message's media ---- */

/* 1 when a's delivery was put back to wait for its message's media (no
 * attempt: the caller drops a); 0 to go on, with a->media set to the
 * X-Hookgate-Media value ("" when the message has none). */
int dl_media_gate(struct hg_deliver *d, struct dl_attempt *a);

/* ---- forward.c: the request headers a delivery passes on ---- */

typedef int (*dl_forward_fn)(const char *name, const char *value, void *arg);
/* Calls fn(name as configured, stored value, arg) for each of the message
 * source's forward_headers that the message's stored headers hold, in the
 * configured order; stops at the first status fn returns that is not
 * HG_OK and returns it. */
int dl_forward_each(const struct hg_deliver *d, const struct dl_attempt *a, dl_forward_fn fn,
		    void *arg);

/* ---- attempt_exec.c: exec endpoints ---- */

int dl_exec_start(struct hg_deliver *d, struct dl_attempt *a);
/* a's command exited or was killed at its deadline. */
void dl_exec_done(struct hg_deliver *d, struct dl_attempt *a);

#endif
