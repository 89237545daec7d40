/*
 * store_outbound.c — the backend-independent part of the API-key and
 * subscription functions of the store (store_outbound.h): releasing what
 * they read back. The forwarding to each backend's ops joins store.c's
 * once the ops table has room for them.
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "store/store_outbound.h"

void hg_store_sub_free(struct hg_store_sub *s)
{
	if (s == NULL)
		return;
	free(s->url);
	free(s->events_json);
	free(s->description);
	free(s->disabled_reason);
	/* the secrets are key material */
	OPENSSL_cleanse(s->secret, sizeof(s->secret));
	OPENSSL_cleanse(s->old_secret, sizeof(s->old_secret));
	memset(s, 0, sizeof(*s));
}
