/*
 * throttle.c — the console's failed sign-in throttle (console.h).
 *
 * A counter is a fixed one-minute window: it starts at the first failure
 * counted in it and is forgotten once the minute has passed. The slot of
 * an address is the first bytes of SHA-256(key || address), with a key
 * drawn at start. Two addresses that share a slot share a counter; with
 * the daemon-wide limit far below slots times the per-address limit,
 * spraying addresses cannot fill another's slot in a minute.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "console/console.h"
#include "util/util.h"

struct counter {
	int64_t start_ms; /* the window's start; its failures count until +1 min */
	int failures;
};

struct hg_console_throttle {
	pthread_mutex_t mu;
	uint8_t key[32];
	struct counter all;
	struct counter slot[HG_CONSOLE_THROTTLE_SLOTS];
};

int hg_console_throttle_new(struct hg_console_throttle **out)
{
	struct hg_console_throttle *t = calloc(1, sizeof(*t));

	*out = NULL;
	if (t == NULL)
		return HG_ENOMEM;
	if (hg_random_bytes(t->key, sizeof(t->key)) != HG_OK) {
		free(t);
		return HG_EIO;
	}
	if (pthread_mutex_init(&t->mu, NULL) != 0) {
		free(t);
		return HG_ENOMEM;
	}
	*out = t;
	return HG_OK;
}

void hg_console_throttle_free(struct hg_console_throttle *t)
{
	if (t == NULL)
		return;
	pthread_mutex_destroy(&t->mu);
	free(t);
}

static struct counter *slot_of(struct hg_console_throttle *t, const char *addr)
{
	uint8_t in[32 + 64], d[32];
	size_t n = strnlen(addr, 64);

	memcpy(in, t->key, 32);
	memcpy(in + 32, addr, n);
	hg_sha256(in, 32 + n, d);
	return &t->slot[((uint32_t)d[0] << 8 | d[1]) % HG_CONSOLE_THROTTLE_SLOTS];
}

/* The counter's failures at now_ms (0 once its minute is over, or when
 * the clock went back). */
static int current(const struct counter *c, int64_t now_ms)
{
	if (c->failures == 0 || now_ms < c->start_ms ||
	    now_ms - c->start_ms >= HG_CONSOLE_FAILURE_WINDOW_MS)
		return 0;
	return c->failures;
}

static int64_t seconds_left(const struct counter *c, int64_t now_ms)
{
	int64_t s = (c->start_ms + HG_CONSOLE_FAILURE_WINDOW_MS - now_ms + 999) / 1000;

	return s > 0 ? s : 1;
}

int hg_console_throttle_allowed(struct hg_console_throttle *t, const char *addr, int64_t now_ms,
				int64_t *retry_s)
{
	const struct counter *c;
	int ok = 1;

	pthread_mutex_lock(&t->mu);
	c = slot_of(t, addr);
	if (current(&t->all, now_ms) >= HG_CONSOLE_FAILURES_ALL) {
		ok = 0;
		*retry_s = seconds_left(&t->all, now_ms);
	}
	if (current(c, now_ms) >= HG_CONSOLE_FAILURES_PER_ADDR) {
		int64_t s = seconds_left(c, now_ms);

		if (ok || s > *retry_s)
			*retry_s = s;
		ok = 0;
	}
	pthread_mutex_unlock(&t->mu);
	return ok;
}

static void count(struct counter *c, int64_t now_ms)
{
	if (current(c, now_ms) == 0) {
		c->start_ms = now_ms;
		c->failures = 0;
	}
	c->failures++;
}

void hg_console_throttle_failed(struct hg_console_throttle *t, const char *addr, int64_t now_ms)
{
	pthread_mutex_lock(&t->mu);
	count(slot_of(t, addr), now_ms);
	count(&t->all, now_ms);
	pthread_mutex_unlock(&t->mu);
}
