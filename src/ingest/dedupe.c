/*
 * dedupe.c — turns one verified request into the dedupe keys the store
 * matches on, following the source's rules (config.h, struct hg_dedupe_rule).
 *
 * Each key carries the rule that made it ("$.id=evt_1", "header:X-Id=42",
 * "form:MessageSid=SM1"), so two rules selecting the same text never
 * collide. A request whose rules select nothing falls back to the SHA-256
 * of its body: a byte-identical retry is still caught. The body is read as
 * JSON only when a rule needs it, and a body that is not JSON simply
 * selects nothing; likewise a form:Name rule reads only a body sent as a
 * form (form_keys says why). All path rules are answered by one streaming
 * pass (hg_jsonpath_scan: a sixth of the cost of building jansson's tree,
 * which was the largest single cost of ingest); jansson answers only what
 * that pass leaves undecided.
 */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "config/config.h"
#include "ingest/ingest.h"
#include "util/jsonpath.h"
#include "util/util.h"

struct key_list {
	char **keys;
	size_t n, cap;
	struct key_budget *budget; /* shared by every list of one request */
};

/* The source's max_dedupe_keys, counted across all of a request's lists:
 * extraction stops at the first key over it, so a body of 100 000 ids
 * costs no more than the limit before it is refused. */
struct key_budget {
	size_t used, max; /* max 0: no limit */
};

/* Room for one more key. */
static int make_room(struct key_list *kl)
{
	if (kl->n == kl->cap) {
		size_t cap = kl->cap ? kl->cap * 2 : 4;
		char **grown = realloc(kl->keys, cap * sizeof(*grown));

		if (grown == NULL)
			return HG_ENOMEM;
		kl->keys = grown;
		kl->cap = cap;
	}
	return HG_OK;
}

/* Appends "<prefix><sep><value>". */
static int add_key(struct key_list *kl, const char *prefix, char sep, const char *value,
		   size_t vlen)
{
	size_t plen = strlen(prefix);
	char *k;

	if (kl->budget != NULL && kl->budget->max > 0 && kl->budget->used >= kl->budget->max)
		return HG_ETOOBIG;
	if (make_room(kl) != HG_OK)
		return HG_ENOMEM;
	k = malloc(plen + 1 + vlen + 1);
	if (k == NULL)
		return HG_ENOMEM;
	memcpy(k, prefix, plen);
	k[plen] = sep;
	memcpy(k + plen + 1, value, vlen);
	k[plen + 1 + vlen] = '\0';
	kl->keys[kl->n++] = k;
	if (kl->budget != NULL)
		kl->budget->used++;
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

struct form_ctx {
	struct key_list *kl;
	const char *expr;
};

/* hg_query_each() callback: one value of a form field. "" identifies
 * nothing, as for JSON. */
static int add_form_value(const char *v, size_t n, void *arg)
{
	struct form_ctx *fc = arg;

	if (n == 0)
		return 0;
	return add_key(fc->kl, fc->expr, '=', v, n);
}

/* The keys of a form:Name rule: every non-empty value of the field, the
 * way $.a[*] gives every element. Only a body sent as
 * application/x-www-form-urlencoded is read as a form: any other body
 * (JSON whose strings hold "&From=...") would otherwise yield fields that
 * nobody sent, and Twilio signs the fields only of a form. */
static int form_keys(const struct hg_dedupe_rule *r, const uint8_t *body, size_t len,
		     const char *(*header)(void *ctx, const char *name, size_t *len), void *ctx,
		     struct key_list *kl)
{
	struct form_ctx fc = {.kl = kl, .expr = r->expr};
	const char *ct;
	size_t ctlen = 0;

	if (header == NULL || body == NULL)
		return HG_OK;
	ct = header(ctx, "content-type", &ctlen);
	if (!hg_form_content_type(ct, ctlen))
		return HG_OK;
	return hg_query_each((const char *)body, len, r->form, add_form_value, &fc);
}

/* Appends the keys of from to kl, which takes them over. */
static int move_keys(struct key_list *kl, struct key_list *from)
{
	size_t i;

	for (i = 0; i < from->n; i++) {
		if (make_room(kl) != HG_OK)
			return HG_ENOMEM;
		kl->keys[kl->n++] = from->keys[i];
		from->keys[i] = NULL;
	}
	return HG_OK;
}

#define HG_DEDUPE_SCAN_MAX 16 /* path rules read in one streaming pass */

struct scan_ctx {
	struct key_list *per; /* one list per path rule */
	const char **expr;
	int rc;
};

/* hg_jsonpath_scan() callback: as add_json_value (null never gets here). */
static int add_scanned(size_t j, const char *v, size_t n, void *arg)
{
	struct scan_ctx *c = arg;

	if (n == 0)
		return 0;
	c->rc = add_key(&c->per[j], c->expr[j], '=', v, n);
	return c->rc != HG_OK;
}

/* The keys of every path rule from one streaming pass over body, in
 * per[j] for the j-th path rule. 1 when the pass could not decide (the
 * caller then asks jansson), 0 when done, else an HG_E* code. */
static int scan_rules(const struct hg_source *src, const uint8_t *body, size_t len,
		      struct key_list *per, size_t *np)
{
	const struct hg_jsonpath *paths[HG_DEDUPE_SCAN_MAX];
	const char *expr[HG_DEDUPE_SCAN_MAX];
	struct scan_ctx c = {.per = per, .expr = expr, .rc = HG_OK};
	size_t i, n = 0;
	int rc;

	for (i = 0; i < src->n_dedupe; i++) {
		if (src->dedupe[i].header != NULL || src->dedupe[i].path == NULL)
			continue;
		if (n == HG_DEDUPE_SCAN_MAX)
			return 1;
		paths[n] = src->dedupe[i].path;
		expr[n++] = src->dedupe[i].expr;
	}
	*np = n;
	if (n == 0)
		return 0;
	rc = hg_jsonpath_scan(paths, n, body, len, add_scanned, &c);
	if (rc == HG_JSONPATH_SCAN_STOPPED)
		return c.rc;
	return rc == HG_JSONPATH_SCAN_OK ? 0 : 1;
}

int hg_ingest_dedupe_keys(const struct hg_source *src, const uint8_t *body, size_t len,
			  const char *(*header)(void *ctx, const char *name, size_t *len),
			  void *ctx, char ***keys, size_t *n)
{
	struct hg_json_body b;
	int rc;

	hg_json_body_init(&b, body, len);
	rc = hg_ingest_dedupe_keys_of(src, &b, header, ctx, keys, n);
	hg_json_body_release(&b);
	return rc;
}

int hg_ingest_dedupe_keys_of(const struct hg_source *src, struct hg_json_body *jb,
			     const char *(*header)(void *ctx, const char *name, size_t *len),
			     void *ctx, char ***keys, size_t *n)
{
	struct key_budget budget = {.max = src != NULL ? src->max_dedupe_keys : 0};
	struct key_list kl = {.budget = &budget}, per[HG_DEDUPE_SCAN_MAX] = {{0}};
	const uint8_t *body = jb->data;
	size_t len = jb->len;
	json_t *root = NULL;
	int scanned = 0;
	size_t i, j = 0, np = 0;
	int rc = HG_OK;

	*keys = NULL;
	*n = 0;
	for (i = 0; i < HG_DEDUPE_SCAN_MAX; i++)
		per[i].budget = &budget;
	/* The streaming scan, unless the body's tree is there already (another
	 * check of this request made it): walking it is cheaper still. */
	if (src != NULL && body != NULL && !jb->parsed) {
		rc = scan_rules(src, body, len, per, &np);
		if (rc < 0)
			goto out;
		scanned = rc == 0;
		if (!scanned)
			budget.used = 0; /* its keys are dropped; jansson counts again */
		rc = HG_OK;
	}
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
		} else if (r->form != NULL) {
			rc = form_keys(r, body, len, header, ctx, &kl);
			if (rc != HG_OK)
				goto out;
		} else if (r->path != NULL && scanned) {
			rc = move_keys(&kl, &per[j++]);
			if (rc != HG_OK)
				goto out;
		} else if (r->path != NULL) {
			struct path_ctx pc = {.kl = &kl, .expr = r->expr, .rc = HG_OK};

			/* Any JSON text, not only objects; a parse error
			 * just means no path selects anything. */
			root = hg_json_body_root(jb);
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
	hg_ingest_keys_free(kl.keys, kl.n);
	for (i = 0; i < np && i < HG_DEDUPE_SCAN_MAX; i++)
		hg_ingest_keys_free(per[i].keys, per[i].n);
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
