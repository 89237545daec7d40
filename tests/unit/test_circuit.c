/*
 * test_circuit.c — an endpoint's health and circuit breaker (src/deliver/
 * health.c) as the engine drives it, without a network: failures in a row
 * open the circuit after the configured count, an open circuit claims
 * nothing until its cooldown ends, half-open claims one probe only when
 * nothing is in flight, a failed probe opens it again (no second open
 * event), a success closes it (one closed event), and an attempt whose
 * message is gone says nothing about the endpoint.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "deliver/engine_internal.h"

#define COOLDOWN_MS 40

struct rig {
	struct hg_deliver d;
	struct hg_endpoint ep;
	struct dl_endpoint e;
	struct dl_attempt a;
};

static void rig_init(struct rig *r)
{
	memset(r, 0, sizeof(*r));
	pthread_mutex_init(&r->d.health_mu, NULL);
	assert_int_equal(hg_deliver_heap_init(&r->d.heap, 4), HG_OK);
	r->ep = (struct hg_endpoint){.name = (char *)"orders",
				     .max_in_flight = 4,
				     .circuit = {.failures = 3, .cooldown_ms = COOLDOWN_MS}};
	r->e = (struct dl_endpoint){
	    .ep = &r->ep, .timer = {.kind = DL_TIMER_ENDPOINT, .owner = &r->e}, .due = 1};
	r->d.eps = &r->e;
	r->d.n_eps = 1;
	r->d.started = 1;
	r->a.e = &r->e;
}

static void rig_free(struct rig *r)
{
	hg_deliver_heap_free(&r->d.heap);
	pthread_mutex_destroy(&r->d.health_mu);
}

static void outcome(struct rig *r, int ok)
{
	r->a.ok = ok;
	dl_health_outcome(&r->d, &r->a);
}

static void test_open_half_open_close(void **state)
{
	struct rig r;
	struct hg_deliver_health h;
	int64_t opened;

	(void)state;
	rig_init(&r);
	outcome(&r, 0);
	outcome(&r, 0);
	assert_int_equal(r.e.h.state, HG_CIRCUIT_CLOSED);
	assert_int_equal(dl_circuit_room(&r.d, &r.e, 4), 4);
	outcome(&r, 0);
	assert_int_equal(r.e.h.state, HG_CIRCUIT_OPEN);
	assert_int_equal(r.e.ev_open, 1);
	assert_int_equal(r.e.ev_failures, 3);
	opened = r.e.h.opened_at_ms;
	assert_true(r.e.h.open_until_ms >= opened + COOLDOWN_MS);
	/* open: nothing, and the timer waits for the cooldown's end */
	assert_int_equal(dl_circuit_room(&r.d, &r.e, 4), 0);
	assert_ptr_equal(hg_deliver_heap_min(&r.d.heap), &r.e.timer);
	assert_int_equal(hg_deliver_health(&r.d, "orders", &h), HG_OK);
	assert_int_equal(h.state, HG_CIRCUIT_OPEN);
	assert_int_equal(h.failures_in_row, 3);
	assert_int_equal(hg_deliver_health(&r.d, "other", &h), HG_ENOTFOUND);

	/* half-open: one probe, and only with nothing in flight */
	usleep((COOLDOWN_MS + 10) * 1000);
	r.e.in_flight = 1;
	assert_int_equal(dl_circuit_room(&r.d, &r.e, 4), 0);
	assert_int_equal(r.e.h.state, HG_CIRCUIT_HALF_OPEN);
	r.e.in_flight = 0;
	assert_int_equal(dl_circuit_room(&r.d, &r.e, 4), 1);

	/* a failed probe opens it again: the same outage, no new open event */
	r.e.ev_open = 0; /* published meanwhile */
	outcome(&r, 0);
	assert_int_equal(r.e.h.state, HG_CIRCUIT_OPEN);
	assert_int_equal(r.e.ev_open, 0);
	assert_int_equal(r.e.h.opened_at_ms, opened);
	assert_int_equal(dl_circuit_room(&r.d, &r.e, 4), 0);

	/* a gone message says nothing of the endpoint */
	usleep((COOLDOWN_MS + 10) * 1000);
	assert_int_equal(dl_circuit_room(&r.d, &r.e, 4), 1);
	r.a.gone = 1;
	outcome(&r, 0);
	assert_int_equal(r.e.h.state, HG_CIRCUIT_HALF_OPEN);
	r.a.gone = 0;

	/* a successful probe closes it */
	outcome(&r, 1);
	assert_int_equal(r.e.h.state, HG_CIRCUIT_CLOSED);
	assert_int_equal(r.e.h.failures_in_row, 0);
	assert_int_equal(r.e.ev_closed, 1);
	assert_int_equal(r.e.ev_closed_at, opened);
	assert_true(r.e.h.last_success_ms > 0);
	assert_int_equal(dl_circuit_room(&r.d, &r.e, 4), 4);
	rig_free(&r);
}

/* Without circuit: the counters move, nothing ever pauses. */
static void test_no_circuit(void **state)
{
	struct rig r;

	(void)state;
	rig_init(&r);
	r.ep.circuit.failures = 0;
	for (int i = 0; i < 10; i++)
		outcome(&r, 0);
	assert_int_equal(r.e.h.failures_in_row, 10);
	assert_int_equal(r.e.h.state, HG_CIRCUIT_CLOSED);
	assert_int_equal(r.e.ev_open, 0);
	assert_int_equal(dl_circuit_room(&r.d, &r.e, 4), 4);
	assert_string_equal(hg_deliver_circuit_name(HG_CIRCUIT_HALF_OPEN), "half_open");
	rig_free(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_open_half_open_close),
	    cmocka_unit_test(test_no_circuit),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
