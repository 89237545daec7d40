/*
 * events.h — hookgate's own operational events ("hookgate.endpoint.
 * circuit_open", "hookgate.delivery.dead", ...), published on the outbound
 * event bus so they are stored, signed, retried and kept like any event an
 * application publishes (POST /api/v1/events).
 *
 * Who receives one: every active subscription of the reserved owner
 * "operator" whose events match its type; the subscriptions of the owner
 * the event concerns, when it names one (an outbound subscription's owner
 * learns of its own subscription or delivery, never of another owner's or
 * of an inbound endpoint); and the config's alerts.endpoint. Nobody else:
 * the event types under "hookgate." are refused to publishers
 * (hg_events_reserved), so no owner can fake one either.
 *
 * Publishing stores the event and its deliveries in one transaction on the
 * caller's store handle; the caller then wakes the delivery engine
 * (hg_deliver_wake) unless it is the engine. Events are rare, so this is
 * not on any hot path.
 */
#ifndef HG_EVENTS_H
#define HG_EVENTS_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

struct hg_store;
struct hg_config;

#define HG_EVENTS_OPERATOR "operator"  /* the reserved owner of the operator's subscriptions */
#define HG_EVENTS_PREFIX   "hookgate." /* every operational event type starts so */

struct hg_event {
	const char *type;   /* "hookgate.endpoint.circuit_open", ... */
	json_t *data;       /* the event's data object (borrowed) */
	const char *owner;  /* besides the operator: the owner of an outbound subscription this
			     * concerns (NULL: the operator only) */
	const char *dedupe; /* what makes it one event across retries and nodes, e.g.
			     * "circuit_open:orders:<opened_at_ms>"; the same key twice is one
			     * event */
	int64_t now_ms;
};

/* Publishes ev on the outbound event bus, stored and delivered like any
 * published event (signed, retried, kept): to every active subscription of
 * the reserved owner "operator" whose events match ev->type, to those of
 * ev->owner when set, and to cfg's alerts.endpoint when configured. One
 * message, at most one delivery per receiver; the message's dedupe key is
 * "event:" + ev->dedupe, so a second publish of the same key (a retry, or
 * another node on the same PostgreSQL store) is a duplicate and delivers
 * nothing. An event nobody receives is not stored. HG_OK (also when nobody
 * receives it, and when its dedupe key was published before), or HG_EIO. */
int hg_events_publish(struct hg_store *st, const struct hg_config *cfg, const struct hg_event *ev);

/* 1 when type (len bytes) is one of hookgate's own event types, which only
 * hookgate publishes. */
int hg_events_reserved(const char *type, size_t len);

#endif
