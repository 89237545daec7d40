/*
 * timer.c — the engine's timers: an indexed binary min-heap on at_ms.
 * Every timer knows its own slot, so moving or removing one is O(log n)
 * without a search, and a timer set again replaces its old time instead of
 * leaving a stale entry behind (deliver_internal.h).
 */
#include <stdlib.h>

#include "deliver/deliver_internal.h"

int hg_deliver_heap_init(struct hg_deliver_heap *h, size_t cap)
{
	h->n = 0;
	h->cap = cap;
	h->v = calloc(cap > 0 ? cap : 1, sizeof(*h->v));
	return h->v != NULL ? HG_OK : HG_ENOMEM;
}

void hg_deliver_heap_free(struct hg_deliver_heap *h)
{
	free(h->v);
	h->v = NULL;
	h->n = h->cap = 0;
}

static void put(struct hg_deliver_heap *h, size_t i, struct hg_deliver_timer *t)
{
	h->v[i] = t;
	t->slot = i + 1;
}

/* Moves the timer at i towards the root while it is earlier than its parent. */
static void sift_up(struct hg_deliver_heap *h, size_t i)
{
	struct hg_deliver_timer *t = h->v[i];

	while (i > 0 && h->v[(i - 1) / 2]->at_ms > t->at_ms) {
		put(h, i, h->v[(i - 1) / 2]);
		i = (i - 1) / 2;
	}
	put(h, i, t);
}

/* Moves the timer at i towards the leaves while a child is earlier. */
static void sift_down(struct hg_deliver_heap *h, size_t i)
{
	struct hg_deliver_timer *t = h->v[i];
	size_t c;

	for (;;) {
		c = 2 * i + 1;
		if (c >= h->n)
			break;
		if (c + 1 < h->n && h->v[c + 1]->at_ms < h->v[c]->at_ms)
			c++;
		if (h->v[c]->at_ms >= t->at_ms)
			break;
		put(h, i, h->v[c]);
		i = c;
	}
	put(h, i, t);
}

int hg_deliver_heap_set(struct hg_deliver_heap *h, struct hg_deliver_timer *t, int64_t at_ms)
{
	int64_t was = t->at_ms;

	if (t->slot == 0) {
		if (h->n == h->cap)
			return HG_ETOOBIG;
		t->at_ms = at_ms;
		put(h, h->n++, t);
		sift_up(h, h->n - 1);
		return HG_OK;
	}
	t->at_ms = at_ms;
	if (at_ms < was)
		sift_up(h, t->slot - 1);
	else
		sift_down(h, t->slot - 1);
	return HG_OK;
}

void hg_deliver_heap_remove(struct hg_deliver_heap *h, struct hg_deliver_timer *t)
{
	size_t i;
	struct hg_deliver_timer *last;

	if (t->slot == 0)
		return;
	i = t->slot - 1;
	t->slot = 0;
	last = h->v[--h->n];
	if (i == h->n)
		return;
	put(h, i, last);
	/* The moved timer may belong above or below its new place. */
	sift_up(h, i);
	sift_down(h, last->slot - 1);
}

struct hg_deliver_timer *hg_deliver_heap_min(const struct hg_deliver_heap *h)
{
	return h->n > 0 ? h->v[0] : NULL;
}
