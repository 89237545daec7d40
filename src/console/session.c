/*
 * session.c — the console's session table: a fixed array under a mutex,
 * each slot the SHA-256 of a session id (the id itself is only in the
 * browser's cookie), its CSRF token and its times. Lookups compare digests
 * with hg_ct_equal() over every slot, so neither timing nor an early exit
 * says how much of a guessed id was right.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "console/console.h"
#include "util/util.h"

struct slot {
	int used;
	uint8_t digest[32];
	char csrf[HG_CONSOLE_CSRF_LEN + 1];
	int64_t created_ms, last_ms;
};

struct hg_console_sessions {
	pthread_mutex_t mu;
	size_t cap;
	struct slot *slots;
};

int hg_console_sessions_new(size_t cap, struct hg_console_sessions **out)
{
	struct hg_console_sessions *t = calloc(1, sizeof(*t));

	*out = NULL;
	if (t == NULL || cap == 0 || (t->slots = calloc(cap, sizeof(*t->slots))) == NULL) {
		free(t);
		return HG_ENOMEM;
	}
	if (pthread_mutex_init(&t->mu, NULL) != 0) {
		free(t->slots);
		free(t);
		return HG_EIO;
	}
	t->cap = cap;
	*out = t;
	return HG_OK;
}

void hg_console_sessions_free(struct hg_console_sessions *t)
{
	if (t == NULL)
		return;
	OPENSSL_cleanse(t->slots, t->cap * sizeof(*t->slots));
	pthread_mutex_destroy(&t->mu);
	free(t->slots);
	free(t);
}

static int64_t slot_end(const struct slot *s)
{
	int64_t idle = s->last_ms + HG_CONSOLE_IDLE_MS,
		life = s->created_ms + HG_CONSOLE_LIFETIME_MS;

	return idle < life ? idle : life;
}

static int random_hex(char *out, size_t bytes)
{
	uint8_t r[32];

	if (bytes > sizeof(r) || hg_random_bytes(r, bytes) != HG_OK)
		return HG_EIO;
	hg_hex_encode(r, bytes, out);
	OPENSSL_cleanse(r, sizeof(r));
	return HG_OK;
}

int hg_console_sessions_create(struct hg_console_sessions *t, int64_t now_ms,
			       char id[HG_CONSOLE_ID_LEN + 1], char csrf[HG_CONSOLE_CSRF_LEN + 1])
{
	struct slot *pick;

	if (random_hex(id, HG_CONSOLE_ID_LEN / 2) != HG_OK ||
	    random_hex(csrf, HG_CONSOLE_CSRF_LEN / 2) != HG_OK)
		return HG_EIO;
	pthread_mutex_lock(&t->mu);
	/* a free or expired slot, else the least recently used (cap >= 1) */
	pick = &t->slots[0];
	for (size_t i = 0; i < t->cap; i++) {
		struct slot *s = &t->slots[i];

		if (!s->used || slot_end(s) <= now_ms) {
			pick = s;
			break;
		}
		if (s->last_ms < pick->last_ms)
			pick = s;
	}
	memset(pick, 0, sizeof(*pick));
	pick->used = 1;
	hg_sha256((const uint8_t *)id, HG_CONSOLE_ID_LEN, pick->digest);
	memcpy(pick->csrf, csrf, HG_CONSOLE_CSRF_LEN + 1);
	pick->created_ms = pick->last_ms = now_ms;
	pthread_mutex_unlock(&t->mu);
	return HG_OK;
}

/* The slot of id (t->mu held), or NULL. */
static struct slot *find(struct hg_console_sessions *t, const char *id, size_t len)
{
	uint8_t d[32];
	struct slot *hit = NULL;

	hg_sha256((const uint8_t *)id, len, d);
	for (size_t i = 0; i < t->cap; i++)
		if (t->slots[i].used & hg_ct_equal(t->slots[i].digest, d, sizeof(d)))
			hit = &t->slots[i];
	return hit;
}

int hg_console_sessions_touch(struct hg_console_sessions *t, const char *id, size_t len,
			      int64_t now_ms, char csrf[HG_CONSOLE_CSRF_LEN + 1],
			      int64_t *expires_ms)
{
	struct slot *s;
	int rc = HG_ENOTFOUND;

	if (len != HG_CONSOLE_ID_LEN)
		return HG_ENOTFOUND;
	pthread_mutex_lock(&t->mu);
	s = find(t, id, len);
	if (s != NULL && slot_end(s) <= now_ms) {
		memset(s, 0, sizeof(*s));
	} else if (s != NULL) {
		s->last_ms = now_ms;
		if (csrf != NULL)
			memcpy(csrf, s->csrf, HG_CONSOLE_CSRF_LEN + 1);
		if (expires_ms != NULL)
			*expires_ms = slot_end(s);
		rc = HG_OK;
	}
	pthread_mutex_unlock(&t->mu);
	return rc;
}

int hg_console_sessions_remove(struct hg_console_sessions *t, const char *id, size_t len)
{
	struct slot *s;

	if (len != HG_CONSOLE_ID_LEN)
		return HG_ENOTFOUND;
	pthread_mutex_lock(&t->mu);
	s = find(t, id, len);
	if (s != NULL)
		memset(s, 0, sizeof(*s));
	pthread_mutex_unlock(&t->mu);
	return s != NULL ? HG_OK : HG_ENOTFOUND;
}

size_t hg_console_sessions_count(struct hg_console_sessions *t, int64_t now_ms)
{
	size_t n = 0;

	pthread_mutex_lock(&t->mu);
	for (size_t i = 0; i < t->cap; i++)
		n += t->slots[i].used && slot_end(&t->slots[i]) > now_ms;
	pthread_mutex_unlock(&t->mu);
	return n;
}
