/*
 * health.c — what the engine knows about its endpoints' health, and what
 * it tells the operator (deliver.h states the contract): failures in a row
 * and the last success and failure of every endpoint, the circuit breaker
 * of those with endpoints[].circuit, and the operational events the
 * engine publishes (src/events/events.h).
 *
 * Everything here runs on the engine's thread except hg_deliver_health(),
 * which copies one endpoint's state under d->health_mu for the API. The
 * state is this node's own: with several nodes each keeps its circuit.
 *
 * Events are published with the engine's own store handle, outside any
 * transaction, after the outcome they report was recorded. None is made
 * for a delivery of a hookgate.* event itself, so an event about an event
 * cannot loop; dead-delivery events are capped per minute
 * (HG_DELIVER_DEAD_EVENTS_PER_MIN).
 */
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "deliver/engine_internal.h"
#include "events/events.h"

#define DL_MINUTE_MS 60000

const char *hg_deliver_circuit_name(enum hg_circuit_state s)
{
	switch (s) {
	case HG_CIRCUIT_OPEN:
		return "open";
	case HG_CIRCUIT_HALF_OPEN:
		return "half_open";
	default:
		return "closed";
	}
}

int hg_deliver_health(struct hg_deliver *d, const char *endpoint, struct hg_deliver_health *out)
{
	int rc = HG_ENOTFOUND;

	memset(out, 0, sizeof(*out));
	if (d == NULL || !d->started)
		return rc;
	pthread_mutex_lock(&d->health_mu);
	for (size_t i = 0; i < d->n_eps; i++) {
		if (d->eps[i].subs || strcmp(d->eps[i].ep->name, endpoint) != 0)
			continue;
		*out = d->eps[i].h;
		rc = HG_OK;
		break;
	}
	pthread_mutex_unlock(&d->health_mu);
	return rc;
}

/* Opens e's circuit (from closed or half-open) for one cooldown. */
static void circuit_open(struct hg_deliver *d, struct dl_endpoint *e, int64_t now)
{
	int64_t cool = e->ep->circuit.cooldown_ms;

	e->open_until_mono = dl_mono_ms() + cool;
	if (e->h.state == HG_CIRCUIT_CLOSED) {
		e->h.opened_at_ms = now;
		e->ev_open = 1;
		e->ev_open_at = now;
		e->ev_failures = e->h.failures_in_row;
		hg_log(HG_LOG_WARN,
		       "endpoint circuit opened; nothing is attempted until the cooldown ends",
		       "endpoint", HG_LS(e->ep->name), "failures_in_row",
		       HG_LI(e->h.failures_in_row), "cooldown_ms", HG_LI(cool), NULL);
	} else {
		hg_log(HG_LOG_WARN, "endpoint probe failed; the circuit stays open", "endpoint",
		       HG_LS(e->ep->name), "cooldown_ms", HG_LI(cool), NULL);
	}
	e->h.state = HG_CIRCUIT_OPEN;
	e->h.open_until_ms = now + cool;
	if (hg_deliver_heap_set(&d->heap, &e->timer, e->open_until_mono) != HG_OK)
		hg_log(HG_LOG_ERROR, "delivery timer lost: the heap is full", NULL);
}

int dl_circuit_room(struct hg_deliver *d, struct dl_endpoint *e, int room)
{
	if (e->ep->circuit.failures <= 0 || e->h.state == HG_CIRCUIT_CLOSED)
		return room;
	if (e->h.state == HG_CIRCUIT_OPEN) {
		if (dl_mono_ms() < e->open_until_mono) {
			/* due stays set; the timer brings the loop back at the end */
			if (hg_deliver_heap_set(&d->heap, &e->timer, e->open_until_mono) != HG_OK)
				hg_log(HG_LOG_ERROR, "delivery timer lost: the heap is full", NULL);
			return 0;
		}
		pthread_mutex_lock(&d->health_mu);
		e->h.state = HG_CIRCUIT_HALF_OPEN;
		e->h.open_until_ms = 0;
		pthread_mutex_unlock(&d->health_mu);
		hg_log(HG_LOG_INFO, "endpoint circuit half-open: one delivery probes it",
		       "endpoint", HG_LS(e->ep->name), NULL);
	}
	/* half-open: one probe, and only once what was in flight is back */
	return e->in_flight == 0 && room > 0 ? 1 : 0;
}

void dl_health_outcome(struct hg_deliver *d, struct dl_attempt *a)
{
	struct dl_endpoint *e = a->e;
	int64_t now = hg_now_ms();
	int circuit = e->ep->circuit.failures > 0;

	if (e->subs || a->gone) /* a message no longer stored says nothing of the endpoint */
		return;
	pthread_mutex_lock(&d->health_mu);
	if (a->outcome == HG_DELIVERY_SUCCEEDED)
		e->h.delivered++;
	else if (a->outcome == HG_DELIVERY_FAILED)
		e->h.failed++;
	else
		e->h.dead++;
	if (a->ok) {
		e->h.last_success_ms = now;
		if (circuit && e->h.state != HG_CIRCUIT_CLOSED) {
			e->ev_closed = 1;
			e->ev_closed_at = e->h.opened_at_ms;
			e->ev_failures = e->h.failures_in_row;
			hg_log(HG_LOG_INFO, "endpoint circuit closed", "endpoint",
			       HG_LS(e->ep->name), NULL);
		}
		e->h.failures_in_row = 0;
		e->h.state = HG_CIRCUIT_CLOSED;
		e->h.open_until_ms = 0;
	} else {
		e->h.last_failure_ms = now;
		e->h.failures_in_row++;
		if (circuit && (e->h.state == HG_CIRCUIT_HALF_OPEN ||
				(e->h.state == HG_CIRCUIT_CLOSED &&
				 e->h.failures_in_row >= e->ep->circuit.failures)))
			circuit_open(d, e, now);
	}
	pthread_mutex_unlock(&d->health_mu);
}

void dl_health_carry(struct hg_deliver *d, struct dl_endpoint *eps, size_t n,
		     const struct dl_endpoint *old, size_t n_old)
{
	for (size_t i = 0; i < n; i++) {
		for (size_t j = 0; j < n_old && !eps[i].subs; j++) {
			if (old[j].subs || strcmp(old[j].ep->name, eps[i].ep->name) != 0)
				continue;
			eps[i].h = old[j].h;
			eps[i].open_until_mono = old[j].open_until_mono;
			eps[i].ev_open = old[j].ev_open;
			eps[i].ev_closed = old[j].ev_closed;
			eps[i].ev_open_at = old[j].ev_open_at;
			eps[i].ev_closed_at = old[j].ev_closed_at;
			eps[i].ev_failures = old[j].ev_failures;
			/* a circuit the reload removed is closed */
			if (eps[i].ep->circuit.failures <= 0) {
				eps[i].h.state = HG_CIRCUIT_CLOSED;
				eps[i].h.open_until_ms = 0;
			}
			if (eps[i].h.state == HG_CIRCUIT_OPEN)
				(void)hg_deliver_heap_set(&d->heap, &eps[i].timer,
							  eps[i].open_until_mono);
			break;
		}
	}
}

/* Publishes one event with the engine's handle; the deliveries it made are
 * claimed at once. */
static int publish(struct hg_deliver *d, const struct hg_event *ev)
{
	int rc = hg_events_publish(d->st, d->cfg, ev);

	if (rc == HG_OK) { /* a kick: the loop claims before it sleeps again */
		atomic_store(&d->kick, 1);
		curl_multi_wakeup(d->multi);
	}
	return rc;
}

/* One circuit event of e: open (closed == 0) or closed. */
static int circuit_event(struct hg_deliver *d, const struct dl_endpoint *e, int closed)
{
	int64_t opened = closed ? e->ev_closed_at : e->ev_open_at, now = hg_now_ms();
	char at[32], key[160];
	json_t *data;
	int rc;

	hg_time_iso8601(opened, at, sizeof(at));
	data = json_pack("{s:s s:I s:s s:I}", "endpoint", e->ep->name, "failures",
			 (json_int_t)e->ev_failures, "opened_at", at, "cooldown_ms",
			 (json_int_t)e->ep->circuit.cooldown_ms);
	if (data == NULL)
		return HG_ENOMEM;
	if (closed) {
		char now_s[32];

		hg_time_iso8601(now, now_s, sizeof(now_s));
		if (json_object_set_new(data, "closed_at", json_string(now_s)) != 0) {
			json_decref(data);
			return HG_ENOMEM;
		}
	}
	snprintf(key, sizeof(key), "%s:%s:%lld", closed ? "circuit_closed" : "circuit_open",
		 e->ep->name, (long long)opened);
	rc = publish(d, &(struct hg_event){.type = closed ? "hookgate.endpoint.circuit_closed"
							  : "hookgate.endpoint.circuit_open",
					   .data = data,
					   .dedupe = key,
					   .now_ms = now});
	json_decref(data);
	return rc;
}

void dl_events_flush(struct hg_deliver *d)
{
	for (size_t i = 0; i < d->n_eps && !d->store_down; i++) {
		struct dl_endpoint *e = &d->eps[i];

		if (e->ev_open && circuit_event(d, e, 0) == HG_OK)
			e->ev_open = 0;
		/* in order: a close waits for its open */
		if (e->ev_closed && !e->ev_open && circuit_event(d, e, 1) == HG_OK)
			e->ev_closed = 0;
	}
}

/* 1 when one more dead-delivery event fits this minute. */
static int dead_allowed(struct hg_deliver *d, int64_t now)
{
	if (now - d->dead_window_ms >= DL_MINUTE_MS) {
		if (d->dead_dropped > 0)
			hg_log(HG_LOG_WARN,
			       "dead-delivery events not published: more than the limit a minute; "
			       "the dead-letter queue lists every one",
			       "dropped", HG_LI(d->dead_dropped), "limit",
			       HG_LI(HG_DELIVER_DEAD_EVENTS_PER_MIN), NULL);
		d->dead_window_ms = now;
		d->dead_sent = d->dead_dropped = 0;
	}
	if (d->dead_sent >= HG_DELIVER_DEAD_EVENTS_PER_MIN) {
		d->dead_dropped++;
		return 0;
	}
	d->dead_sent++;
	return 1;
}

void dl_events_recorded(struct hg_deliver *d, const struct dl_attempt *a, int sub_off,
			const char *reason)
{
	const char *owner = a->sub.owner_id[0] != '\0' ? a->sub.owner_id : NULL;
	int is_sub =
	    strncmp(a->c.endpoint, HG_STORE_SUB_PREFIX, sizeof(HG_STORE_SUB_PREFIX) - 1) == 0;
	int64_t now = hg_now_ms();
	char event[HG_DELIVER_EVENT_MAX + 1], key[160];
	json_t *data;

	if (sub_off) {
		data = json_pack("{s:s s:s s:s s:s}", "subscription_id", a->sub.id, "owner_id",
				 a->sub.owner_id, "url", a->sub.url != NULL ? a->sub.url : "",
				 "reason", reason);
		snprintf(key, sizeof(key), "subscription_disabled:%s:%s:%d", a->sub.id, a->c.id,
			 a->n);
		if (data != NULL)
			(void)publish(d,
				      &(struct hg_event){.type = "hookgate.subscription.disabled",
							 .data = data,
							 .owner = owner,
							 .dedupe = key,
							 .now_ms = now});
		json_decref(data);
	}
	if (a->outcome != HG_DELIVERY_DEAD)
		return;
	dl_msg_event(a, event, sizeof(event));
	if (hg_events_reserved(event, strlen(event)) || !dead_allowed(d, now))
		return; /* never an event about an event's delivery */
	data = json_pack("{s:s s:s s:s s:s? s:s? s:i s:s?}", "delivery_id", a->c.id, "message_id",
			 a->c.message_id, "endpoint", a->c.endpoint, "source", a->msg.source,
			 "event", event[0] != '\0' ? event : NULL, "attempts", a->n, "error",
			 a->error[0] != '\0' ? a->error : NULL);
	if (data != NULL && a->status_code >= 0)
		json_object_set_new(data, "last_status", json_integer(a->status_code));
	snprintf(key, sizeof(key), "delivery_dead:%s:%d", a->c.id, a->n);
	if (data != NULL)
		(void)publish(d, &(struct hg_event){.type = "hookgate.delivery.dead",
						    .data = data,
						    .owner = is_sub ? owner : NULL,
						    .dedupe = key,
						    .now_ms = now});
	json_decref(data);
}
