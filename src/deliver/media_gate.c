/*
 * media_gate.c — deliveries of a message with WhatsApp media (a source's
 * media:) wait for them: while a medium of the message is still pending
 * and the source's media wait has not passed since the message arrived,
 * a claimed delivery goes back to pending (no attempt counted) and is
 * looked at again a moment later. Once they are settled, or the wait is
 * over, the attempt carries X-Hookgate-Media: <id>=<state>,... so the
 * application fetches them with GET /api/v1/media/{id}.
 */
#include <stdio.h>
#include <string.h>

#include "deliver/engine_internal.h"

#define DL_MEDIA_RECHECK_MS 500 /* how soon a waiting delivery is looked at again */

struct gate {
	char *out;
	size_t len, used;
	int pending, overflow;
};

static int gate_add(const struct hg_store_media *m, void *arg)
{
	struct gate *g = arg;
	int n;

	if (m->state == HG_MEDIA_PENDING)
		g->pending = 1;
	n = snprintf(g->out + g->used, g->len - g->used, "%s%s=%s", g->used ? "," : "", m->id,
		     hg_store_media_state_name(m->state));
	if (n < 0 || (size_t)n >= g->len - g->used) {
		g->overflow = 1; /* the header keeps what fits, whole entries only */
		g->out[g->used] = '\0';
		return 1;
	}
	g->used += (size_t)n;
	return 0;
}

int dl_media_gate(struct hg_deliver *d, struct dl_attempt *a)
{
	const struct hg_source *src;
	struct gate g = {.out = a->media, .len = sizeof(a->media)};
	int64_t now = hg_now_ms();

	a->media[0] = '\0';
	src = a->msg.source != NULL
		  ? hg_config_find_source(d->cfg, a->msg.source, strlen(a->msg.source))
		  : NULL;
	if (src == NULL || src->media == NULL)
		return 0;
	if (hg_store_media_list(d->st, a->msg.id, gate_add, &g) != HG_OK)
		return 0; /* the store is unwell: deliver without the header, as before */
	if (!g.pending || now >= a->msg.received_ms + src->media->wait_ms)
		return 0;
	if (hg_store_media_defer(d->st, a->c.id, d->owner, now + DL_MEDIA_RECHECK_MS) != HG_OK)
		return 0;
	return 1;
}
