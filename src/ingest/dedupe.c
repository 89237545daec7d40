/*
 * dedupe.c — turns one verified request into the dedupe keys the store
 * matches on, following the source's rules (config.h, struct hg_dedupe_rule).
 *
 * Each key carries the rule that made it ("$.id=evt_1", "header:X-Id=42"),
 * so two rules selecting the same text never collide. A request whose rules
 * select nothing falls back to the SHA-256 of its body: a byte-identical
 * retry is still caught. The body is parsed as JSON only when a rule needs
 * it, and a body that is not JSON simply selects nothing.
 */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "config/config.h"
#include "ingest/ingest.h"
#include "util/jsonpath.h"

struct key_list {
	char **keys;
	size_t n, cap;
};

/* Appends "<prefix><sep><value>". */
static int add_key(struct key_list *kl, const char *prefix, char sep, const char *value,
		   size_t vlen)
{
	size_t plen = strlen(prefix);
	char *k;

	if (kl->n == kl->cap) {
		size_t cap = kl->cap ? kl->cap * 2 : 4;
		char **grown = realloc(kl->keys, cap * sizeof(*grown));

		if (grown == NULL)
			return HG_ENOMEM;
		kl->keys = grown;
		kl->cap = cap;
	}
	k = malloc(plen + 1 + vlen + 1);
	if (k == NULL)
		return HG_ENOMEM;
	memcpy(k, prefix, plen);
	k[plen] = sep;
	memcpy(k + plen + 1, value, vlen);
	k[plen + 1 + vlen] = '\0';
	kl->keys[kl->n++] = k;
	return HG_OK;
}

struct path_ctx {
	struct key_list *kl;
	const char *expr;
	int rc;
};

/* Adds one selected JSON value. null and "" identify nothing: keying on them
 * would make every event lacking the field a duplicate of the first one. */
static int add_json_value(json_t *v, void *arg)
{
	struct path_ctx *pc = arg;
	char *text;

	if (json_is_null(v) || (json_is_string(v) && json_string_length(v) == 0))
		return 0;
	text = hg_jsonpath_scalar_text(v);
	if (text == NULL) {
		pc->rc = HG_ENOMEM;
		return 1;
	}
	pc->rc = add_key(pc->kl, pc->expr, '=', text, strlen(text));
	free(text);
	return pc->rc != HG_OK;
}

int hg_ingest_dedupe_keys(const struct hg_source *src, const uint8_t *body, size_t len,
			  const char *(*header)(void *ctx, const char *name, size_t *len),
			  void *ctx, char ***keys, size_t *n)
{
	struct key_list kl = {0};
	json_t *root = NULL;
	int parsed = 0;
	size_t i;
	int rc = HG_OK;

	*keys = NULL;
	*n = 0;
	for (i = 0; src != NULL && i < src->n_dedupe; i++) {
		const struct hg_dedupe_rule *r = &src->dedupe[i];

		if (r->header != NULL) {
			const char *v;
			size_t vlen = 0;

			if (header == NULL)
				continue;
			v = header(ctx, r->header, &vlen);
			if (v == NULL || vlen == 0)
				continue;
			rc = add_key(&kl, r->expr, '=', v, vlen);
			if (rc != HG_OK)
				goto out;
		} else if (r->path != NULL) {
			struct path_ctx pc = {.kl = &kl, .expr = r->expr, .rc = HG_OK};

			if (!parsed) {
				/* Any JSON text, not only objects; a parse error
				 * just means no path selects anything. */
				root = json_loadb((const char *)body, len, JSON_DECODE_ANY, NULL);
				parsed = 1;
			}
			if (root == NULL)
				continue;
			hg_jsonpath_each(r->path, root, add_json_value, &pc);
			rc = pc.rc;
			if (rc != HG_OK)
				goto out;
		}
	}
	if (kl.n == 0) {
		uint8_t digest[32];
		char hex[2 * sizeof(digest) + 1];

		hg_sha256(body != NULL ? body : (const uint8_t *)"", len, digest);
		hg_hex_encode(digest, sizeof(digest), hex);
		rc = add_key(&kl, "sha256", ':', hex, 2 * sizeof(digest));
		if (rc != HG_OK)
			goto out;
	}
	*keys = kl.keys;
	*n = kl.n;
	kl.keys = NULL;
	kl.n = 0;
out:
	json_decref(root);
	hg_ingest_keys_free(kl.keys, kl.n);
	return rc;
}

void hg_ingest_keys_free(char **keys, size_t n)
{
	size_t i;

	if (keys == NULL)
		return;
	for (i = 0; i < n; i++)
		free(keys[i]);
	free(keys);
}
