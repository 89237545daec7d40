/*
 * store.c — the storage front door: picks the backend from the URI given to
 * hg_store_open() and forwards every call through the handle's ops table
 * (store_internal.h), so callers never know which database they talk to.
 * The audit chain's hash and its verification live here too, above the
 * backends, so a log written by one backend verifies the same way in any.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "crypt/crypt.h"
#include "store/postgres_internal.h"
#include "store/store_crypt.h"
#include "store/store_internal.h"

static int has_prefix(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* Splits uri into a backend and the target that backend understands.
 * "sqlite:PATH" and "sqlite://PATH" name a file (so "sqlite:///var/x.db" is
 * the absolute /var/x.db); anything without a scheme is a file path too. */
static int parse_uri(const char *uri, const struct hg_store_ops **ops, const char **target,
		     char *err, size_t errlen)
{
	const char *sep;

	if (uri == NULL || uri[0] == '\0') {
		snprintf(err, errlen, "No store was configured; set `store:` to sqlite:PATH.");
		return HG_EINVAL;
	}
	if (has_prefix(uri, "postgres://") || has_prefix(uri, "postgresql://")) {
		/* libpq reads the whole URI; it is never echoed (it may carry a
		 * password). */
		*ops = &hg_store_postgres_ops;
		*target = uri;
		return HG_OK;
	}
	if (has_prefix(uri, "sqlite:")) {
		*target = uri + strlen("sqlite:");
		if (has_prefix(*target, "//"))
			*target += 2;
	} else {
		sep = strstr(uri, "://");
		if (sep != NULL) {
			snprintf(err, errlen,
				 "The store URI scheme \"%.*s\" is not supported; "
				 "use sqlite:PATH or postgres://user@host/db.",
				 (int)(sep - uri > 32 ? 32 : sep - uri), uri);
			return HG_EINVAL;
		}
		*target = uri;
	}
	if ((*target)[0] == '\0') {
		snprintf(err, errlen, "The store URI \"%s\" names no database file.", uri);
		return HG_EINVAL;
	}
	*ops = &hg_store_sqlite_ops;
	return HG_OK;
}

const char *hg_store_sqlite_file(const char *uri)
{
	const struct hg_store_ops *ops = NULL;
	const char *target = NULL;
	char err[256];

	if (parse_uri(uri, &ops, &target, err, sizeof(err)) != HG_OK || ops != &hg_store_sqlite_ops)
		return NULL;
	return target;
}

/* Refuses a table without an op that store.c calls without a NULL check.
 * Every other op is optional, and store.c says what happens without it
 * (get_messages: one get_message each; the management reads, stats,
 * retention and outbound ops: HG_EIO and a log line; the rate-limit
 * counters: nothing is shared). */
int hg_store_ops_check(const struct hg_store_ops *ops, char *err, size_t errlen)
{
#define REQUIRED(op)                                                                               \
	{                                                                                          \
#op, ops->op != NULL                                                               \
	}
	const struct {
		const char *op;
		int present;
	} required[] = {
	    REQUIRED(open),           REQUIRED(close),      REQUIRED(schema_version),
	    REQUIRED(put_batch),      REQUIRED(audit_rows), REQUIRED(get_message),
	    REQUIRED(count_messages), REQUIRED(ping),       REQUIRED(record_and_claim),
	    REQUIRED(next_due),       REQUIRED(replay),     REQUIRED(retry_dead),
	};
#undef REQUIRED
	size_t i;

	if (ops->name == NULL) {
		snprintf(err, errlen, "A store backend table has no name; this build is broken.");
		return HG_EINVAL;
	}
	for (i = 0; i < sizeof(required) / sizeof(required[0]); i++) {
		if (!required[i].present) {
			snprintf(err, errlen,
				 "The %s store backend lacks the required operation %s; this "
				 "build is broken.",
				 ops->name, required[i].op);
			return HG_EINVAL;
		}
	}
	/* a capability comes whole: both counter ops or neither */
	if ((ops->ratelimit_add == NULL) != (ops->ratelimit_changes == NULL)) {
		snprintf(err, errlen,
			 "The %s store backend has only one of ratelimit_add and "
			 "ratelimit_changes; this build is broken.",
			 ops->name);
		return HG_EINVAL;
	}
	return HG_OK;
}

int hg_store_open_backend(const struct hg_store_ops *ops, const char *target, struct hg_store **out,
			  char *err, size_t errlen)
{
	int rc;

	*out = NULL;
	if (errlen > 0)
		err[0] = '\0';
	rc = hg_store_ops_check(ops, err, errlen);
	if (rc != HG_OK)
		return rc;
	return ops->open(target, out, err, errlen);
}

int hg_store_open(const char *uri, struct hg_store **out, char *err, size_t errlen)
{
	const struct hg_store_ops *ops = NULL;
	const char *target = NULL;
	int rc;

	*out = NULL;
	if (errlen > 0)
		err[0] = '\0';
	rc = parse_uri(uri, &ops, &target, err, errlen);
	if (rc != HG_OK)
		return rc;
	return hg_store_open_backend(ops, target, out, err, errlen);
}

void hg_store_close(struct hg_store *st)
{
	if (st != NULL)
		st->ops->close(st);
}

int hg_store_schema_version(struct hg_store *st)
{
	return st->ops->schema_version(st);
}

int hg_store_put_messages(struct hg_store *st, struct hg_store_msg *const *msgs, size_t n)
{
	return hg_crypt_put_batch(st, msgs, n, NULL, 0);
}

int hg_store_put_batch(struct hg_store *st, struct hg_store_msg *const *msgs, size_t n,
		       const struct hg_audit_event *ev, size_t nev)
{
	return hg_crypt_put_batch(st, msgs, n, ev, nev);
}

/* A row read back is opened before anyone sees it; one that does not open
 * is not passed on at all. */
static int opened(struct hg_store_row *row, int rc)
{
	if (rc == HG_OK && (rc = hg_crypt_open_row(row)) != HG_OK)
		hg_store_row_free(row);
	return rc;
}

int hg_store_get_message(struct hg_store *st, const char *id, struct hg_store_row *row)
{
	return opened(row, st->ops->get_message(st, id, row));
}

void hg_store_get_messages(struct hg_store *st, const char *const *ids, size_t n,
			   struct hg_store_row *rows, int *rcs)
{
	size_t i;

	if (st->ops->get_messages != NULL)
		st->ops->get_messages(st, ids, n, rows, rcs);
	else
		for (i = 0; i < n; i++)
			rcs[i] = st->ops->get_message(st, ids[i], &rows[i]);
	for (i = 0; i < n; i++)
		rcs[i] = opened(&rows[i], rcs[i]);
}

/* Rows are plain malloc'd fields whatever the backend, so one free serves all. */
void hg_store_row_free(struct hg_store_row *row)
{
	if (row == NULL)
		return;
	free(row->source);
	free(row->content_type);
	free(row->headers_json);
	free(row->body);
	memset(row, 0, sizeof(*row));
}

int hg_store_count_messages(struct hg_store *st, const char *source, int64_t *count)
{
	return st->ops->count_messages(st, source, count);
}

int hg_store_ping(struct hg_store *st)
{
	return st->ops->ping(st);
}

/* ---- deliveries ---- */

/* Indexed by the enum; the words every backend stores in its status column. */
static const char *const delivery_status_names[] = {
    [HG_DELIVERY_PENDING] = "pending",     [HG_DELIVERY_DELIVERING] = "delivering",
    [HG_DELIVERY_SUCCEEDED] = "succeeded", [HG_DELIVERY_FAILED] = "failed",
    [HG_DELIVERY_DEAD] = "dead",
};

const char *hg_store_delivery_status_name(enum hg_delivery_status s)
{
	if ((int)s < HG_DELIVERY_PENDING || (int)s > HG_DELIVERY_DEAD)
		return NULL;
	return delivery_status_names[s];
}

int hg_store_delivery_status_parse(const char *name, enum hg_delivery_status *out)
{
	int i;

	for (i = HG_DELIVERY_PENDING; name != NULL && i <= HG_DELIVERY_DEAD; i++) {
		if (strcmp(name, delivery_status_names[i]) == 0) {
			*out = (enum hg_delivery_status)i;
			return HG_OK;
		}
	}
	return HG_EINVAL;
}

int hg_store_endpoint_is_prefix(const char *name)
{
	size_t n = strlen(name);

	return n > 1 && name[n - 1] == '*';
}

int hg_store_record_and_claim(struct hg_store *st, const struct hg_store_attempt *a, size_t na,
			      const char *owner, int64_t now_ms,
			      const struct hg_store_claim_req *req, size_t nreq,
			      struct hg_store_claimed *out, size_t *n)
{
	struct hg_store_attempt *sealed = NULL;
	size_t i;
	int rc;

	*n = 0;
	if (na == 0 && nreq == 0)
		return HG_OK;
	for (i = 0; i < na; i++) /* a NULL status would break the CHECK constraint anyway */
		if (a[i].outcome != HG_DELIVERY_SUCCEEDED && a[i].outcome != HG_DELIVERY_FAILED &&
		    a[i].outcome != HG_DELIVERY_DEAD)
			return HG_EINVAL;
	if (hg_crypt_seal_attempts(a, na, &sealed) != HG_OK)
		return HG_EIO;
	rc = st->ops->record_and_claim(st, sealed != NULL ? sealed : a, na, owner, now_ms, req,
				       nreq, out, n);
	hg_crypt_attempts_free(sealed, na);
	return rc;
}

int hg_store_claim_deliveries(struct hg_store *st, const char *owner, int64_t now_ms,
			      const struct hg_store_claim_req *req, size_t nreq,
			      struct hg_store_claimed *out, size_t *n)
{
	return hg_store_record_and_claim(st, NULL, 0, owner, now_ms, req, nreq, out, n);
}

int hg_store_record_attempts(struct hg_store *st, const struct hg_store_attempt *a, size_t n)
{
	size_t none;

	return hg_store_record_and_claim(st, a, n, NULL, 0, NULL, 0, NULL, &none);
}

int hg_store_next_due(struct hg_store *st, const char *endpoint, int64_t *due_ms)
{
	return st->ops->next_due(st, endpoint, due_ms);
}

int hg_store_replay(struct hg_store *st, const char *message_id, const char *const *endpoints,
		    size_t n, int64_t now_ms, char (*ids)[HG_UUID_LEN + 1])
{
	return st->ops->replay(st, message_id, endpoints, n, now_ms, ids);
}

int hg_store_retry_dead(struct hg_store *st, const char *delivery_id, const char *endpoint,
			int64_t now_ms, int64_t *count)
{
	*count = 0;
	if (delivery_id == NULL && endpoint == NULL)
		return HG_EINVAL;
	return st->ops->retry_dead(st, delivery_id, endpoint, now_ms, count);
}

/* ---- management reads, stats and retention ---- */

/* These ops are optional for a backend: a missing one fails like a store
 * that cannot answer, with one log line naming what is missing. */
static int unsupported(struct hg_store *st, const char *what)
{
	hg_log(HG_LOG_ERROR, "store operation not supported by this backend", "backend",
	       HG_LS(st->ops->name), "op", HG_LS(what), NULL);
	return HG_EIO;
}

int hg_store_list_messages(struct hg_store *st, const struct hg_store_msg_filter *f,
			   int (*fn)(const struct hg_store_msg_info *m, void *arg), void *arg)
{
	char hash[HG_STORE_FILTER_KEYS][HG_INDEX_HASH_LEN + 1];
	const char *both[2 * HG_STORE_FILTER_KEYS];
	const struct hg_keyring *kr = hg_store_keys();
	struct hg_store_msg_filter g = *f;
	size_t i;

	if (st->ops->list_messages == NULL)
		return unsupported(st, "list_messages");
	if (f->n_dedupe_keys > HG_STORE_FILTER_KEYS || (f->n_dedupe_keys > 0 && f->source == NULL))
		return HG_EINVAL;
	/* with encryption on the keys are stored as keyed hashes (and a key
	 * stored before it was turned on, until the rekey, in clear: both) */
	if (kr != NULL && hg_keyring_has_index_key(kr) && f->n_dedupe_keys > 0) {
		for (i = 0; i < f->n_dedupe_keys; i++) {
			hg_index_hash(kr, "dedupe", f->source, f->dedupe_keys[i], hash[i]);
			both[2 * i] = f->dedupe_keys[i];
			both[2 * i + 1] = hash[i];
		}
		g.dedupe_keys = both;
		g.n_dedupe_keys = 2 * f->n_dedupe_keys;
	}
	return st->ops->list_messages(st, &g, fn, arg);
}

int hg_store_list_deliveries(struct hg_store *st, const struct hg_store_delivery_filter *f,
			     int (*fn)(const struct hg_store_delivery_info *d, void *arg),
			     void *arg)
{
	if (st->ops->list_deliveries == NULL)
		return unsupported(st, "list_deliveries");
	return st->ops->list_deliveries(st, f, fn, arg);
}

int hg_store_message_attempts(struct hg_store *st, const char *message_id,
			      int (*fn)(const struct hg_store_attempt_info *a, void *arg),
			      void *arg)
{
	if (st->ops->message_attempts == NULL)
		return unsupported(st, "message_attempts");
	return hg_crypt_message_attempts(st, message_id, fn, arg);
}

int hg_store_count_deliveries(struct hg_store *st, int64_t counts[HG_DELIVERY_DEAD + 1])
{
	memset(counts, 0, sizeof(int64_t) * (HG_DELIVERY_DEAD + 1));
	if (st->ops->count_deliveries == NULL)
		return unsupported(st, "count_deliveries");
	return st->ops->count_deliveries(st, counts);
}

int hg_store_backlog(struct hg_store *st, int (*fn)(const struct hg_store_backlog *b, void *arg),
		     void *arg)
{
	if (st->ops->backlog == NULL)
		return unsupported(st, "backlog");
	return st->ops->backlog(st, fn, arg);
}

int hg_store_stats_add(struct hg_store *st, const struct hg_stats_row *rows, size_t n)
{
	if (n == 0)
		return HG_OK;
	if (st->ops->stats_add == NULL)
		return unsupported(st, "stats_add");
	return st->ops->stats_add(st, rows, n);
}

int hg_store_stats_read(struct hg_store *st, const char *source, int64_t from_ms,
			struct hg_stats_row *rows, size_t n)
{
	if (n == 0)
		return HG_OK;
	if (st->ops->stats_read == NULL)
		return unsupported(st, "stats_read");
	return st->ops->stats_read(st, source, from_ms, rows, n);
}

int hg_store_purge(struct hg_store *st, int64_t before_ms, size_t limit,
		   struct hg_store_purged *out, int *more)
{
	return hg_store_purge_scoped(st, NULL, before_ms, limit, out, more);
}

int hg_store_purge_scoped(struct hg_store *st, const struct hg_store_purge_scope *scope,
			  int64_t before_ms, size_t limit, struct hg_store_purged *out, int *more)
{
	*more = 0;
	if (scope != NULL && scope->n == 0 && !scope->except)
		return HG_OK; /* no source at all */
	if (scope != NULL && scope->n == 0)
		scope = NULL; /* every source */
	if (st->ops->purge == NULL)
		return unsupported(st, "purge");
	return st->ops->purge(st, scope, before_ms, limit, out, more);
}

/* ---- outbound: API keys and subscriptions ---- */

int hg_store_alert_set(struct hg_store *st, const struct hg_store_alert *a, int64_t now_ms,
		       int *changed)
{
	*changed = 0;
	if (st->ops->alert_set == NULL)
		return unsupported(st, "alert_set");
	return st->ops->alert_set(st, a, now_ms, changed);
}

int hg_store_alert_list(struct hg_store *st, int64_t since_ms,
			int (*fn)(const struct hg_store_alert *a, void *arg), void *arg)
{
	if (st->ops->alert_list == NULL)
		return unsupported(st, "alert_list");
	return st->ops->alert_list(st, since_ms, fn, arg);
}

int hg_store_api_key_put(struct hg_store *st, const struct hg_store_api_key *k)
{
	if (st->ops->api_key_put == NULL)
		return unsupported(st, "api_key_put");
	return st->ops->api_key_put(st, k);
}

int hg_store_api_key_each(struct hg_store *st, const char *owner_id, hg_store_api_key_fn fn,
			  void *arg)
{
	if (st->ops->api_key_each == NULL)
		return unsupported(st, "api_key_each");
	return st->ops->api_key_each(st, owner_id, fn, arg);
}

int hg_store_api_key_delete(struct hg_store *st, const char *id)
{
	if (st->ops->api_key_delete == NULL)
		return unsupported(st, "api_key_delete");
	return st->ops->api_key_delete(st, id);
}

int hg_store_api_key_find(struct hg_store *st, const char *token_hash, struct hg_store_api_key *out)
{
	if (st->ops->api_key_find == NULL)
		return unsupported(st, "api_key_find");
	return st->ops->api_key_find(st, token_hash, out);
}

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

int hg_store_sub_create(struct hg_store *st, const struct hg_store_sub *s)
{
	struct hg_store_sub sealed;
	int rc;

	if (st->ops->sub_create == NULL)
		return unsupported(st, "sub_create");
	rc = hg_crypt_seal_sub(s, &sealed);
	if (rc == HG_OK)
		rc = st->ops->sub_create(st, &sealed);
	OPENSSL_cleanse(&sealed, sizeof(sealed));
	return rc == HG_OK ? HG_OK : HG_EIO;
}

int hg_store_sub_get(struct hg_store *st, const char *id, const char *owner_id,
		     struct hg_store_sub *out)
{
	int rc;

	memset(out, 0, sizeof(*out));
	if (st->ops->sub_get == NULL)
		return unsupported(st, "sub_get");
	rc = st->ops->sub_get(st, id, owner_id, out);
	if (rc == HG_OK && (rc = hg_crypt_open_sub(out)) != HG_OK)
		hg_store_sub_free(out);
	return rc;
}

/* The rows sub_each hands out carry no secret: listing and fan-out do not
 * need one, and a subscription whose secret does not open (another node's
 * key, a damaged row) must not hide the others. */
struct sub_each_plain {
	int (*fn)(const struct hg_store_sub *s, void *arg);
	void *arg;
};

static int sub_each_plain(const struct hg_store_sub *s, void *arg)
{
	struct sub_each_plain *o = arg;
	struct hg_store_sub copy = *s;

	OPENSSL_cleanse(copy.secret, sizeof(copy.secret));
	OPENSSL_cleanse(copy.old_secret, sizeof(copy.old_secret));
	return o->fn(&copy, o->arg);
}

int hg_store_sub_each(struct hg_store *st, const char *owner_id, int active_only,
		      int (*fn)(const struct hg_store_sub *s, void *arg), void *arg)
{
	struct sub_each_plain o = {.fn = fn, .arg = arg};

	if (st->ops->sub_each == NULL)
		return unsupported(st, "sub_each");
	return st->ops->sub_each(st, owner_id, active_only, sub_each_plain, &o);
}

int hg_store_sub_update(struct hg_store *st, const char *id, const char *owner_id,
			const struct hg_store_sub_patch *p)
{
	if (st->ops->sub_update == NULL)
		return unsupported(st, "sub_update");
	return st->ops->sub_update(st, id, owner_id, p);
}

int hg_store_sub_delete(struct hg_store *st, const char *id, const char *owner_id, int64_t now_ms)
{
	if (st->ops->sub_delete == NULL)
		return unsupported(st, "sub_delete");
	return st->ops->sub_delete(st, id, owner_id, now_ms);
}

int hg_store_sub_set_secret(struct hg_store *st, const char *id, const char *owner_id,
			    const char *secret, const char *old_secret, int64_t old_until_ms,
			    int64_t now_ms)
{
	char sealed[2][HG_STORE_SECRET_FIELD + 1];
	const char *key_id = NULL;
	int rc;

	if (st->ops->sub_set_secret == NULL)
		return unsupported(st, "sub_set_secret");
	if (hg_crypt_seal_secrets(id, secret, old_secret, sealed, &key_id) != HG_OK)
		return HG_EIO;
	rc = st->ops->sub_set_secret(st, id, owner_id, key_id != NULL ? sealed[0] : secret,
				     key_id != NULL && old_secret != NULL ? sealed[1] : old_secret,
				     key_id, old_until_ms, now_ms);
	OPENSSL_cleanse(sealed, sizeof(sealed));
	return rc;
}

int hg_store_sub_deliveries(struct hg_store *st, const char *id, int64_t offset, int64_t limit,
			    int (*fn)(const struct hg_store_sub_delivery *d, void *arg), void *arg,
			    int64_t *total)
{
	*total = 0;
	if (st->ops->sub_deliveries == NULL)
		return unsupported(st, "sub_deliveries");
	return st->ops->sub_deliveries(st, id, offset, limit, fn, arg, total);
}

int hg_store_sub_outcome(struct hg_store *st, const char *id, int ok, int gone, int64_t now_ms,
			 int64_t disable_after_ms, const char *reason, int *disabled)
{
	if (disabled != NULL)
		*disabled = 0;
	if (st->ops->sub_outcome == NULL)
		return unsupported(st, "sub_outcome");
	return st->ops->sub_outcome(st, id, ok, gone, now_ms, disable_after_ms, reason, disabled);
}

/* ---- rate-limit counters shared by several nodes ---- */

int hg_store_ratelimit_shared(struct hg_store *st)
{
	return st != NULL && st->ops->ratelimit_add != NULL && st->ops->ratelimit_changes != NULL;
}

int hg_store_ratelimit_add(struct hg_store *st, struct hg_store_rl_count *c, size_t n)
{
	if (!hg_store_ratelimit_shared(st))
		return HG_EINVAL;
	if (n == 0)
		return HG_OK;
	return st->ops->ratelimit_add(st, c, n);
}

int hg_store_ratelimit_changes(struct hg_store *st, int64_t since_ms,
			       int (*fn)(const struct hg_store_rl_count *c, void *arg), void *arg,
			       int64_t *now_ms)
{
	*now_ms = 0;
	if (!hg_store_ratelimit_shared(st))
		return HG_EINVAL;
	return st->ops->ratelimit_changes(st, since_ms, fn, arg, now_ms);
}

/* ---- the audit chain ---- */

const char hg_store_audit_genesis[HG_AUDIT_HASH_LEN + 1] =
    "0000000000000000000000000000000000000000000000000000000000000000";

static int audit_put_int(struct hg_buf *b, int64_t v)
{
	return hg_buf_printf(b, "i%" PRId64 ";", v);
}

static int audit_put_str(struct hg_buf *b, const char *v)
{
	size_t n;

	if (v == NULL)
		return hg_buf_puts(b, "n;");
	n = strlen(v);
	if (hg_buf_printf(b, "s%zu:", n) != HG_OK || hg_buf_append(b, v, n) != HG_OK)
		return HG_ENOMEM;
	return hg_buf_puts(b, ";");
}

int64_t hg_store_audit_count(const struct hg_audit_event *ev)
{
	return ev->count > 0 ? ev->count : 1;
}

int hg_store_audit_hash(const char *prev_hash, int64_t seq, const struct hg_audit_event *ev,
			char out[HG_AUDIT_HASH_LEN + 1])
{
	struct hg_buf b = {0};
	uint8_t digest[32];
	int rc = HG_ENOMEM;

	if (hg_buf_puts(&b, prev_hash) != HG_OK || hg_buf_puts(&b, "\n") != HG_OK ||
	    audit_put_int(&b, seq) != HG_OK || audit_put_int(&b, ev->ts_ms) != HG_OK ||
	    audit_put_str(&b, ev->event) != HG_OK || audit_put_str(&b, ev->source) != HG_OK ||
	    audit_put_str(&b, ev->client) != HG_OK || audit_put_str(&b, ev->reason) != HG_OK ||
	    (hg_store_audit_count(ev) != 1 && audit_put_int(&b, hg_store_audit_count(ev)) != HG_OK))
		goto out;
	hg_sha256(b.data, b.len, digest);
	hg_hex_encode(digest, sizeof(digest), out);
	rc = HG_OK;
out:
	hg_buf_free(&b);
	return rc;
}

int hg_store_batch_audit(struct hg_store_msg *const *msgs, size_t n,
			 const struct hg_audit_event *ev, size_t nev,
			 struct hg_store_batch_audit *out)
{
	size_t i, k = 0;

	memset(out, 0, sizeof(*out));
	out->ev = ev;
	out->n = nev;
	for (i = 0; i < n; i++)
		k += msgs[i]->audit_received && msgs[i]->outcome == HG_STORE_ACCEPTED;
	if (k == 0)
		return HG_OK;
	out->own = calloc(nev + k, sizeof(*out->own));
	out->reason = calloc(k, sizeof(*out->reason));
	if (out->own == NULL || out->reason == NULL)
		return HG_ENOMEM;
	if (nev > 0)
		memcpy(out->own, ev, nev * sizeof(*ev));
	for (i = 0, k = 0; i < n; i++) {
		const struct hg_store_msg *m = msgs[i];

		if (!m->audit_received || m->outcome != HG_STORE_ACCEPTED)
			continue;
		snprintf(out->reason[k], sizeof(out->reason[k]), "accepted message %s", m->id);
		out->own[nev + k] = (struct hg_audit_event){.ts_ms = m->received_ms,
							    .event = HG_AUDIT_RECEIVED_EVENT,
							    .source = m->source,
							    .client = m->client,
							    .reason = out->reason[k]};
		k++;
	}
	out->ev = out->own;
	out->n = nev + k;
	return HG_OK;
}

void hg_store_batch_audit_free(struct hg_store_batch_audit *b)
{
	free(b->own);
	free(b->reason);
	memset(b, 0, sizeof(*b));
}

int hg_store_audit_append(struct hg_store *st, const struct hg_audit_event *ev, size_t n)
{
	return st->ops->put_batch(st, NULL, 0, ev, n);
}

int hg_store_audit_checkpoint_reason(int64_t first, int64_t last, const char *last_hash,
				     int64_t before_ms, char *out, size_t outlen)
{
	char when[32];
	int n;

	hg_time_iso8601(before_ms, when, sizeof(when));
	n = snprintf(out, outlen,
		     HG_AUDIT_CHECKPOINT_PREFIX "%" PRId64
						", hash %s: audit_retention removed rows "
						"%" PRId64 " to %" PRId64 ", older than %s",
		     last, last_hash, first, last, when);
	return n > 0 && (size_t)n < outlen ? HG_OK : HG_ETOOBIG;
}

int hg_store_audit_checkpoint_parse(const char *reason, int64_t *last,
				    char last_hash[HG_AUDIT_HASH_LEN + 1])
{
	size_t plen = strlen(HG_AUDIT_CHECKPOINT_PREFIX), i;
	const char *p;
	char *end;

	if (reason == NULL || strncmp(reason, HG_AUDIT_CHECKPOINT_PREFIX, plen) != 0)
		return HG_EINVAL;
	p = reason + plen;
	if (*p < '0' || *p > '9')
		return HG_EINVAL;
	*last = strtoll(p, &end, 10);
	if (strncmp(end, ", hash ", 7) != 0)
		return HG_EINVAL;
	p = end + 7;
	for (i = 0; i < HG_AUDIT_HASH_LEN; i++)
		if (!((p[i] >= '0' && p[i] <= '9') || (p[i] >= 'a' && p[i] <= 'f')))
			return HG_EINVAL;
	if (p[HG_AUDIT_HASH_LEN] != ':')
		return HG_EINVAL;
	memcpy(last_hash, p, HG_AUDIT_HASH_LEN);
	last_hash[HG_AUDIT_HASH_LEN] = '\0';
	return HG_OK;
}

/* The walk of hg_store_audit_verify(): what the next row must look like. */
struct audit_walk {
	int64_t rows;                     /* rows that verified */
	int64_t base;                     /* rows before the first one (removed by retention) */
	char prev[HG_AUDIT_HASH_LEN + 1]; /* the hash the next row must chain from */
	char start_prev[HG_AUDIT_HASH_LEN + 1]; /* the first row's prev_hash, when base > 0 */
	int64_t vouched; /* the checkpoint row that accounts for rows 1..base; 0: none yet */
	int64_t bad_seq;
	int rc; /* HG_OK until a row fails */
	char *why;
	size_t whylen;
};

/* A first row other than row 1 is where a retention purge stopped, or
 * where someone deleted the head of the log. It is taken on trust for now;
 * the walk must then meet a checkpoint row (itself chained, so it cannot
 * be changed or removed unseen) that names the row just before it and that
 * row's hash, which is this row's prev_hash. */
static void audit_walk_start(struct audit_walk *w, const struct hg_store_audit_row *row)
{
	if (w->rows > 0 || w->base > 0 || row->seq <= 1)
		return;
	w->base = row->seq - 1;
	hg_strlcpy(w->prev, row->prev_hash, sizeof(w->prev));
	hg_strlcpy(w->start_prev, row->prev_hash, sizeof(w->start_prev));
}

static int audit_walk_row(const struct hg_store_audit_row *row, void *arg)
{
	struct audit_walk *w = arg;
	char hash[HG_AUDIT_HASH_LEN + 1], cp_hash[HG_AUDIT_HASH_LEN + 1];
	int64_t want, cp_last;

	audit_walk_start(w, row);
	want = w->base + w->rows + 1;
	w->rc = HG_EAUTH;
	if (row->seq > want) {
		w->bad_seq = want;
		if (row->seq == want + 1)
			snprintf(w->why, w->whylen,
				 "row %" PRId64 " is missing (the log goes from row %" PRId64
				 " to row %" PRId64 ")",
				 want, w->rows, row->seq);
		else
			snprintf(w->why, w->whylen,
				 "rows %" PRId64 " to %" PRId64
				 " are missing (the log goes from row "
				 "%" PRId64 " to row %" PRId64 ")",
				 want, row->seq - 1, w->rows, row->seq);
		return 1;
	}
	w->bad_seq = row->seq;
	if (row->seq < want) { /* seq is the primary key: only a renumbering gets here */
		snprintf(w->why, w->whylen,
			 "row %" PRId64 " is out of sequence (row %" PRId64 " was expected)",
			 row->seq, want);
		return 1;
	}
	if (strcmp(row->prev_hash, w->prev) != 0) {
		snprintf(w->why, w->whylen,
			 "its prev_hash does not match the hash of the row before it (a row was "
			 "changed, removed or reordered)");
		return 1;
	}
	if (hg_store_audit_hash(w->prev, row->seq, &row->ev, hash) != HG_OK) {
		w->rc = HG_ENOMEM;
		snprintf(w->why, w->whylen, "out of memory while verifying the audit log");
		return 1;
	}
	if (strcmp(row->hash, hash) != 0) {
		snprintf(w->why, w->whylen,
			 "its contents do not match its hash (the row was changed)");
		return 1;
	}
	memcpy(w->prev, hash, sizeof(w->prev));
	if (w->base > 0 && w->vouched == 0 && row->ev.event != NULL &&
	    strcmp(row->ev.event, HG_AUDIT_CHECKPOINT_EVENT) == 0 &&
	    hg_store_audit_checkpoint_parse(row->ev.reason, &cp_last, cp_hash) == HG_OK &&
	    cp_last == w->base && strcmp(cp_hash, w->start_prev) == 0)
		w->vouched = row->seq;
	w->rows++;
	w->bad_seq = 0;
	w->rc = HG_OK;
	return 0;
}

int hg_store_audit_verify(struct hg_store *st, int64_t *rows, int64_t *bad_seq, char *why,
			  size_t whylen)
{
	char scratch[1];
	struct audit_walk w = {.why = whylen > 0 ? why : scratch,
			       .whylen = whylen > 0 ? whylen : sizeof(scratch)};
	int rc;

	memcpy(w.prev, hg_store_audit_genesis, sizeof(w.prev));
	w.why[0] = '\0';
	rc = st->ops->audit_rows(st, audit_walk_row, &w);
	if (rc != HG_OK) {
		snprintf(w.why, w.whylen, "cannot read the audit log (see the log line above)");
		w.rc = rc;
	}
	if (w.rc == HG_OK && w.base > 0 && w.vouched == 0) {
		w.rc = HG_EAUTH;
		w.bad_seq = 1;
		w.rows = 0;
		if (w.base == 1)
			snprintf(w.why, w.whylen,
				 "row 1 is missing (the log starts at row 2 and no retention "
				 "checkpoint accounts for it)");
		else
			snprintf(w.why, w.whylen,
				 "rows 1 to %" PRId64 " are missing (the log starts at row %" PRId64
				 " and no retention checkpoint accounts for them)",
				 w.base, w.base + 1);
	} else if (w.rc == HG_OK && w.base > 0) {
		snprintf(w.why, w.whylen,
			 "rows 1 to %" PRId64 " were removed by audit_retention (checkpoint at row "
			 "%" PRId64 ")",
			 w.base, w.vouched);
	}
	*rows = w.rows;
	*bad_seq = w.bad_seq;
	return w.rc;
}

int hg_store_audit_list(struct hg_store *st, const struct hg_store_audit_filter *f,
			int (*fn)(const struct hg_store_audit_row *row, void *arg), void *arg)
{
	if (st->ops->audit_list == NULL)
		return unsupported(st, "audit_list");
	return st->ops->audit_list(st, f, fn, arg);
}

int hg_store_audit_purge(struct hg_store *st, int64_t before_ms, size_t limit, int64_t now_ms,
			 int64_t *removed, int *more)
{
	*more = 0;
	if (st->ops->audit_purge == NULL)
		return unsupported(st, "audit_purge");
	return st->ops->audit_purge(st, before_ms, limit > 0 ? limit : 1, now_ms, removed, more);
}

void hg_store_uri_redact(const char *uri, char *out, size_t outlen)
{
	struct hg_buf b = {0};
	const char *scheme_end = strstr(uri, "://");
	const char *p = uri;

	if (outlen == 0)
		return;
	if (scheme_end != NULL) {
		const char *auth = scheme_end + 3;
		const char *auth_end = auth + strcspn(auth, "/?#");
		const char *at = memchr(auth, '@', (size_t)(auth_end - auth));
		const char *colon = at != NULL ? memchr(auth, ':', (size_t)(at - auth)) : NULL;
		if (colon != NULL) {
			hg_buf_append(&b, uri, (size_t)(colon + 1 - uri));
			hg_buf_puts(&b, "***");
			p = at;
		}
	}
	/* conninfo-style parameters: password=... up to the next '&' or ' ' */
	while (*p != '\0') {
		const char *pw = strstr(p, "password=");
		if (pw == NULL) {
			hg_buf_puts(&b, p);
			break;
		}
		hg_buf_append(&b, p, (size_t)(pw + 9 - p));
		hg_buf_puts(&b, "***");
		p = pw + 9 + strcspn(pw + 9, "& ");
	}
	/* A failed append leaves nothing (util.h), never a half-redacted URI. */
	hg_strlcpy(out, hg_buf_status(&b) == HG_OK && b.data != NULL ? (const char *)b.data : "",
		   outlen);
	hg_buf_free(&b);
}

void hg_store_heal(struct hg_store **st, const char *uri, const char *who)
{
	char err[256];

	if (*st != NULL && hg_store_ping(*st) == HG_OK)
		return;
	hg_store_close(*st);
	*st = NULL;
	if (hg_store_open(uri, st, err, sizeof(err)) != HG_OK)
		hg_log(HG_LOG_ERROR, "store re-open failed", "thread", HG_LS(who), "error",
		       HG_LS(err), NULL);
	else
		hg_log(HG_LOG_WARN, "store re-opened", "thread", HG_LS(who), NULL);
}

/* ---- WhatsApp media ---- */

static const char *const media_states[] = {
    [HG_MEDIA_PENDING] = "pending", [HG_MEDIA_STORED] = "stored",
    [HG_MEDIA_FAILED] = "failed",   [HG_MEDIA_QUARANTINED] = "quarantined",
    [HG_MEDIA_EXPIRED] = "expired",
};

const char *hg_store_media_state_name(enum hg_media_state s)
{
	return s >= HG_MEDIA_PENDING && s <= HG_MEDIA_EXPIRED ? media_states[s] : NULL;
}

int hg_store_media_state_parse(const char *name, enum hg_media_state *out)
{
	int s;

	for (s = HG_MEDIA_PENDING; name != NULL && s <= HG_MEDIA_EXPIRED; s++)
		if (strcmp(name, media_states[s]) == 0) {
			*out = (enum hg_media_state)s;
			return HG_OK;
		}
	return HG_EINVAL;
}

void hg_store_media_fill(struct hg_store_media *m, const char *const *col)
{
#define MEDIA_TEXT(field, i) hg_strlcpy(m->field, col[i] != NULL ? col[i] : "", sizeof(m->field))
#define MEDIA_INT(i)         (col[i] != NULL ? strtoll(col[i], NULL, 10) : 0)
	memset(m, 0, sizeof(*m));
	MEDIA_TEXT(id, 0);
	MEDIA_TEXT(message_id, 1);
	MEDIA_TEXT(source, 2);
	MEDIA_TEXT(graph_id, 3);
	MEDIA_TEXT(mime, 4);
	MEDIA_TEXT(sha256, 5);
	if (hg_store_media_state_parse(col[6], &m->state) != HG_OK)
		m->state = HG_MEDIA_FAILED;
	m->size = MEDIA_INT(7);
	m->attempts = (int)MEDIA_INT(8);
	m->next_try_ms = MEDIA_INT(9);
	MEDIA_TEXT(error, 10);
	MEDIA_TEXT(file, 11);
	MEDIA_TEXT(key_id, 12);
	m->created_ms = MEDIA_INT(13);
	m->updated_ms = MEDIA_INT(14);
#undef MEDIA_TEXT
#undef MEDIA_INT
}

int hg_store_media_claim(struct hg_store *st, int64_t now_ms, int64_t lease_until_ms,
			 struct hg_store_media *out)
{
	if (st->ops->media_claim == NULL)
		return unsupported(st, "media_claim");
	return st->ops->media_claim(st, now_ms, lease_until_ms, out);
}

int hg_store_media_update(struct hg_store *st, const struct hg_store_media *m, int64_t now_ms)
{
	if (st->ops->media_update == NULL)
		return unsupported(st, "media_update");
	return st->ops->media_update(st, m, now_ms);
}

int hg_store_media_get(struct hg_store *st, const char *id, struct hg_store_media *out)
{
	if (st->ops->media_get == NULL)
		return unsupported(st, "media_get");
	return st->ops->media_get(st, id, out);
}

int hg_store_media_list(struct hg_store *st, const char *message_id,
			int (*fn)(const struct hg_store_media *m, void *arg), void *arg)
{
	if (st->ops->media_list == NULL)
		return unsupported(st, "media_list");
	return st->ops->media_list(st, message_id, fn, arg);
}

int hg_store_media_old(struct hg_store *st, const char *source, int64_t before_ms, size_t limit,
		       int (*fn)(const struct hg_store_media *m, void *arg), void *arg)
{
	if (st->ops->media_old == NULL)
		return unsupported(st, "media_old");
	return st->ops->media_old(st, source, before_ms, limit, fn, arg);
}

int hg_store_media_defer(struct hg_store *st, const char *delivery_id, const char *lease_owner,
			 int64_t until_ms)
{
	if (st->ops->media_defer == NULL)
		return unsupported(st, "media_defer");
	return st->ops->media_defer(st, delivery_id, lease_owner, until_ms);
}

int hg_store_media_counts(struct hg_store *st, int64_t counts[HG_MEDIA_EXPIRED + 1],
			  int64_t *stored_bytes)
{
	memset(counts, 0, (HG_MEDIA_EXPIRED + 1) * sizeof(counts[0]));
	*stored_bytes = 0;
	if (st->ops->media_counts == NULL)
		return unsupported(st, "media_counts");
	return st->ops->media_counts(st, counts, stored_bytes);
}
