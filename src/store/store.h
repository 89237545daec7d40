/*
 * store.h — the storage interface. One implementation per backend
 * (sqlite.c now; postgres.c later) behind the same functions, chosen by the
 * URI given to hg_store_open(): "sqlite:PATH", a bare PATH, or
 * "postgres://...".
 *
 * A handle is one database connection: use it from one thread at a time and
 * open one per thread that needs one (the ingest writer, the delivery
 * engine, API readers, ...). hg_store_open() applies the schema migrations
 * that are missing, so every handle sees the current schema.
 *
 * Deliveries (one message to one endpoint) are claimed as leases: a claim
 * marks a delivery `delivering` with an owner and an expiry, and whoever
 * records its outcome must still hold that lease. A node that dies leaves
 * its leases to expire, after which any node claims them again: delivery
 * is at least once. Nothing here needs SQLite in particular; a PostgreSQL
 * backend claims with SELECT ... FOR UPDATE SKIP LOCKED under the same
 * contract.
 */
#ifndef HG_STORE_H
#define HG_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "util/util.h"

struct hg_store;

#define HG_STORE_KEY_ID_MAX     16 /* hex digits of a key id (src/crypt/crypt.h) */
#define HG_STORE_INDEX_HASH_LEN 35 /* a keyed hash of a lookup key (src/crypt/crypt.h) */

enum hg_store_outcome {
	HG_STORE_ACCEPTED = 1,  /* stored as a new message */
	HG_STORE_DUPLICATE = 2, /* every dedupe key was seen before; not stored */
};

/* Where an accepted message goes: one delivery per target, created in the
 * same transaction as the message. */
struct hg_store_target {
	const char *endpoint; /* endpoint name, at most HG_STORE_NAME_MAX bytes */
	int64_t due_ms;       /* when its first attempt is due, ms since the epoch */
};

/* One media file an inbound message names (WhatsApp: value.messages[].
 * image.id and its mime_type and sha256); stored as a pending media job in
 * the same transaction as its message, never for a duplicate. */
struct hg_store_media_ref {
	char id[HG_UUID_LEN + 1]; /* the opaque id (hg_uuid7), the caller's */
	const char *graph_id;     /* the Graph API media id */
	const char *mime;         /* may be NULL */
	const char *sha256;       /* as the payload gives it; may be NULL */
};

/* One inbound message to store. The caller owns every pointer. */
struct hg_store_msg {
	char id[HG_UUID_LEN + 1]; /* caller generates (hg_uuid7) */
	const char *source;
	int64_t received_ms;
	const char *content_type; /* may be NULL */
	const char *headers_json; /* selected headers as a JSON object; may be NULL */
	const char *request_id;   /* the id of the request that brought it; may be NULL */
	const uint8_t *body;
	size_t body_len;
	/* The key body and headers_json are sealed with (src/crypt/crypt.h;
	 * headers_json then holds the sealed bytes in base64); NULL: they are
	 * stored as they are. hg_store_put_* seal them when encryption is on
	 * (hg_store_use_keys), so callers leave it NULL. */
	const char *key_id;
	const char *const *dedupe_keys; /* >= 1 key */
	size_t n_dedupe_keys;
	/* The endpoints its source's routes selected (distinct names); their
	 * deliveries are created only when the message is accepted, never for
	 * a duplicate. May be NULL when n_targets is 0. */
	const struct hg_store_target *targets;
	size_t n_targets;
	/* Its media (sources with media:); may be NULL when n_media is 0. */
	const struct hg_store_media_ref *media;
	size_t n_media;
	/* audit.received: when set and the message is accepted (never for a
	 * duplicate), the backend appends an HG_AUDIT_RECEIVED_EVENT row for it
	 * in the same transaction: the source, client, and a reason naming the
	 * message id. */
	int audit_received;
	const char *client; /* the client address for that row; may be NULL */
	/* results, set by hg_store_put_messages() */
	enum hg_store_outcome outcome;
	char first_id[HG_UUID_LEN + 1]; /* for a duplicate: the id it duplicates; else == id */
};

/* One audit-log event (what happened, where, to whom, why): never a body, a
 * header value or a secret. The caller owns every pointer; event must not
 * be NULL, the others may be. */
struct hg_audit_event {
	int64_t ts_ms;      /* when it happened, ms since the epoch */
	const char *event;  /* "bad_signature", "replay", "mtls_failure", "rate_limited", ... */
	const char *source; /* the source it concerns */
	const char *client; /* the client address */
	const char *reason; /* one line for a person */
	int64_t count;      /* how many events of this kind the row stands for (refusals
			     * are summed per window); 0 is read as 1 */
};

/* A stored message as read back. Release with hg_store_row_free(). */
struct hg_store_row {
	char id[HG_UUID_LEN + 1];
	char *source;
	int64_t received_ms;
	char *content_type;
	char *headers_json;
	char request_id[HG_REQUEST_ID_MAX + 1]; /* "" when none was stored */
	uint8_t *body;
	size_t body_len;
	char key_id[HG_STORE_KEY_ID_MAX + 1]; /* as stored ("": not sealed); read back
					       * through store.h, always opened already */
};

/* Writes uri into out with any password masked ("postgres://u:***@h/db",
 * "...?password=***"), for messages a person reads. */
void hg_store_uri_redact(const char *uri, char *out, size_t outlen);
/* The database file a SQLite store URI names (a pointer into uri), or NULL
 * for any other backend or a URI that names none. */
const char *hg_store_sqlite_file(const char *uri);

/* Opens (creating if needed) and migrates. err gets one sentence on failure. */
int hg_store_open(const char *uri, struct hg_store **out, char *err, size_t errlen);
void hg_store_close(struct hg_store *st);
/* Schema version after migrations. */
int hg_store_schema_version(struct hg_store *st);

/* Stores a batch in ONE transaction, in order, and makes it durable (fsync)
 * before returning HG_OK. Dedupe is by (source, key): a message is a
 * duplicate only when all of its keys were already stored for its source
 * (earlier in the same batch counts). On any failure returns HG_EIO and
 * nothing of the batch is stored. */
int hg_store_put_messages(struct hg_store *st, struct hg_store_msg *const *msgs, size_t n);
/* hg_store_put_messages() plus audit events appended to the audit log in
 * the same transaction, so the ingest writer records them with the batch
 * it commits anyway (no fsync of their own): ev[0..nev), then the rows of
 * the accepted messages that ask for one (audit_received). All or nothing. */
int hg_store_put_batch(struct hg_store *st, struct hg_store_msg *const *msgs, size_t n,
		       const struct hg_audit_event *ev, size_t nev);

/* ---- the audit log: append-only and hash-chained ----
 * Row seq (1, 2, ...) stores hash = hex SHA-256 of
 *   prev_hash "\n" I(seq) I(ts_ms) S(event) S(source) S(client) S(reason) [I(count)]
 * where prev_hash is the previous row's hash (64 zeros for row 1),
 * I(n) = "i" <decimal n> ";", S(NULL) = "n;" and S(s) = "s" <byte length
 * of s in decimal> ":" <s> ";", and I(count) is there only when count is
 * not 1 (so rows written before the count column existed verify as they
 * were, and a count changed to or from 1 still changes the hash). Every
 * field is typed and length-prefixed, so no bytes can move from one field
 * to the next without changing the hash. A changed, removed or reordered row breaks the chain from
 * that row on; removing the newest rows cannot be seen from the log alone. */

/* The event of the row an accepted message with audit_received gets. */
#define HG_AUDIT_RECEIVED_EVENT "message_received"

/* Retention of the audit log. Removes, in ONE transaction, the oldest rows
 * whose time is before before_ms — from the first row on, stopping at the
 * first newer row or after limit rows — and appends a checkpoint row
 * (event "audit_checkpoint", time now_ms, count = rows removed) whose
 * reason names the last removed row and its hash. hg_store_audit_verify()
 * then starts at the first row left, whose prev_hash that checkpoint
 * vouches for; a head removed any other way is reported as broken. The
 * schema refuses DELETE of any row above the newest checkpoint's, so only
 * this purge removes rows. The rows removed are added to *removed (none:
 * nothing was old enough, and no checkpoint is written); *more is 1 when
 * limit rows went (there may be more). HG_OK or HG_EIO (nothing removed). */
int hg_store_audit_purge(struct hg_store *st, int64_t before_ms, size_t limit, int64_t now_ms,
			 int64_t *removed, int *more);

/* One audit-log row as read back; pointers valid during the callback only.
 * ev.count is the stored count (>= 1). */
struct hg_store_audit_row {
	int64_t seq;
	struct hg_audit_event ev;
	const char *prev_hash;
	const char *hash;
};

/* Which audit rows to list: newest first (by seq). Every field optional. */
struct hg_store_audit_filter {
	int64_t since_ms;   /* at or after; INT64_MIN: no bound */
	int64_t until_ms;   /* before; INT64_MAX: no bound */
	const char *event;  /* just this event */
	const char *source; /* just this source */
	int64_t before_seq; /* only rows below this seq (a page cursor); <= 0: from the newest */
	size_t limit;       /* at most this many; 0: no limit */
};

/* Calls fn for each row f selects, newest first, until fn returns non-zero.
 * HG_OK or HG_EIO. */
int hg_store_audit_list(struct hg_store *st, const struct hg_store_audit_filter *f,
			int (*fn)(const struct hg_store_audit_row *row, void *arg), void *arg);

/* Appends ev[0..n) after the current last row, in its own transaction. */
int hg_store_audit_append(struct hg_store *st, const struct hg_audit_event *ev, size_t n);
/* Recomputes the chain from row 1, or from the first row a retention
 * checkpoint accounts for (why then says which rows were removed). HG_OK
 * when it is intact (*rows rows);
 * HG_EAUTH when it is broken: *bad_seq is the first row that does not
 * verify (for missing rows, the first missing seq), *rows the rows that
 * verified before it and why one sentence; HG_EIO (why says so) when the
 * log cannot be read. */
int hg_store_audit_verify(struct hg_store *st, int64_t *rows, int64_t *bad_seq, char *why,
			  size_t whylen);

/* HG_OK and fills row, HG_ENOTFOUND, HG_EIO; with encryption on also
 * HG_EAUTH (what is stored does not decrypt) or HG_ENOKEY (sealed with a
 * key this process does not have). */
int hg_store_get_message(struct hg_store *st, const char *id, struct hg_store_row *row);

/* hg_store_get_message for ids[0..n) at once, in one read transaction where
 * the backend has them: rows[i] and rcs[i] answer ids[i]. The delivery
 * engine reads the messages of a whole claim this way. */
void hg_store_get_messages(struct hg_store *st, const char *const *ids, size_t n,
			   struct hg_store_row *rows, int *rcs);
void hg_store_row_free(struct hg_store_row *row);
/* Number of stored messages (all sources when source is NULL). */
int hg_store_count_messages(struct hg_store *st, const char *source, int64_t *count);

/* Cheap liveness check of the connection: HG_OK or HG_EIO. */
int hg_store_ping(struct hg_store *st);

/* ---- deliveries and attempts ----
 * A delivery moves pending -> delivering -> succeeded, or -> failed (another
 * attempt is scheduled at next_attempt_ms) -> delivering -> ..., or -> dead
 * (no attempts left: the dead-letter queue). Times are ms since the epoch. */

#define HG_STORE_NAME_MAX  64   /* longest endpoint name */
#define HG_STORE_OWNER_MAX 128  /* longest lease owner */
#define HG_STORE_HEAD_MAX  1024 /* bytes of a response or output kept per attempt */

enum hg_delivery_status {
	HG_DELIVERY_PENDING = 1,
	HG_DELIVERY_DELIVERING = 2,
	HG_DELIVERY_SUCCEEDED = 3,
	HG_DELIVERY_FAILED = 4,
	HG_DELIVERY_DEAD = 5,
};

/* "pending", "delivering", "succeeded", "failed", "dead" (the words the
 * status column holds); NULL for anything else. */
const char *hg_store_delivery_status_name(enum hg_delivery_status s);
/* The status spelled name; HG_OK or HG_EINVAL. */
int hg_store_delivery_status_parse(const char *name, enum hg_delivery_status *out);

/* What one claim asks of one endpoint. endpoint is a name, or a prefix
 * followed by '*' for every endpoint whose name starts with it (the
 * outbound subscriptions: HG_STORE_SUB_PREFIX "*"). */
struct hg_store_claim_req {
	const char *endpoint;
	size_t limit;           /* claim at most this many */
	int64_t lease_until_ms; /* the lease of what is claimed ends then */
};

/* One claimed delivery, now `delivering` under the caller's lease. */
struct hg_store_claimed {
	char id[HG_UUID_LEN + 1];
	char message_id[HG_UUID_LEN + 1];
	char endpoint[HG_STORE_NAME_MAX + 1]; /* the delivery's endpoint (a prefix claim's match) */
	size_t req;   /* index of the request (so: the endpoint) it answers */
	int attempts; /* attempts recorded before this one */
};

/* Claims, in ONE transaction, up to req[i].limit due deliveries of each
 * req[i].endpoint, oldest due first: `pending` or `failed` ones whose
 * next_attempt_ms <= now_ms, and `delivering` ones whose lease has expired
 * (their owner died or lost its lease; this is crash recovery). Each becomes
 * `delivering` with lease_owner = owner and lease_until_ms from its request.
 * out has room for the sum of the limits; *n gets the number claimed.
 * HG_OK or HG_EIO (nothing claimed). */
int hg_store_claim_deliveries(struct hg_store *st, const char *owner, int64_t now_ms,
			      const struct hg_store_claim_req *req, size_t nreq,
			      struct hg_store_claimed *out, size_t *n);

/* The outcome of one attempt. The caller owns every pointer. */
struct hg_store_attempt {
	const char *delivery_id;
	const char *lease_owner; /* the owner the delivery was claimed by */
	int n;                   /* attempt number, from 1 */
	int64_t started_ms;
	int64_t duration_ms;
	int status_code;              /* HTTP status, or an exec command's exit status; < 0: none */
	const char *error;            /* why it failed, one line; NULL on success */
	const uint8_t *response_head; /* the first bytes of the answer or output; may be NULL */
	size_t response_head_len;     /* at most HG_STORE_HEAD_MAX (sealed: plus its overhead) */
	const char *key_id;           /* response_head is sealed with it; NULL: it is not (set
				       * by the store front door, callers leave it NULL) */
	/* What becomes of the delivery: SUCCEEDED, FAILED (again at
	 * next_attempt_ms) or DEAD. */
	enum hg_delivery_status outcome;
	int64_t next_attempt_ms;
};

/* Records a batch of attempts in ONE transaction: an attempts row each, and
 * the delivery's status, attempt count, next attempt and last status/error.
 * A delivery whose lease lease_owner no longer holds (it expired and another
 * owner claimed it) keeps its state; the attempt row is written anyway,
 * since the attempt happened. HG_OK or HG_EIO (nothing recorded). */
int hg_store_record_attempts(struct hg_store *st, const struct hg_store_attempt *a, size_t n);

/* Both in ONE transaction, the records first: what the delivery engine
 * does every turn (the outcomes of what finished, then claims for the
 * slots they freed), one commit instead of two. Committed durably when
 * there is something to record; a claim alone is not (a claim a crash
 * undoes is only attempted again, and the next durable commit makes it
 * durable too). HG_OK, HG_EINVAL (an outcome that is not one) or HG_EIO
 * (nothing recorded, nothing claimed). */
int hg_store_record_and_claim(struct hg_store *st, const struct hg_store_attempt *a, size_t na,
			      const char *owner, int64_t now_ms,
			      const struct hg_store_claim_req *req, size_t nreq,
			      struct hg_store_claimed *out, size_t *n);

/* The earliest time a delivery of endpoint (of any endpoint when NULL; a
 * prefix followed by '*' as in a claim) can next be claimed: a pending or failed one's next
 * attempt, or a delivering one's lease expiry. HG_OK, HG_ENOTFOUND when none waits, or HG_EIO. */
int hg_store_next_due(struct hg_store *st, const char *endpoint, int64_t *due_ms);

/* Replays a stored message: one new pending delivery, due at now_ms, to
 * each of endpoints[0..n) (the source's current routes, chosen by the
 * caller), in one transaction. ids, when not NULL, receives the new
 * deliveries' ids in order. HG_OK, HG_ENOTFOUND (no such message) or
 * HG_EIO. */
int hg_store_replay(struct hg_store *st, const char *message_id, const char *const *endpoints,
		    size_t n, int64_t now_ms, char (*ids)[HG_UUID_LEN + 1]);

/* Moves dead deliveries back to pending, due at now_ms: the one called
 * delivery_id, or (delivery_id NULL) every dead delivery of endpoint. Each
 * keeps its attempt count, so it gets one more attempt and is dead again if
 * that fails. *count gets how many moved. HG_OK (a delivery that is not
 * dead moves nothing), HG_ENOTFOUND (no delivery called delivery_id),
 * HG_EINVAL (both NULL) or HG_EIO. */
int hg_store_retry_dead(struct hg_store *st, const char *delivery_id, const char *endpoint,
			int64_t now_ms, int64_t *count);

/* ---- management reads, stats and retention (the API's connections) ---- */

/* A message's state as the API shows it: the state of its delivery that
 * is furthest from done, in the order dead > failed > pending > delivering
 * > succeeded; HG_STORE_NO_DELIVERIES when it has none. */
#define HG_STORE_NO_DELIVERIES 0

/* Which messages to list: newest first (by id, which is time-ordered).
 * Every field is optional. */
struct hg_store_msg_filter {
	const char *id;        /* just this one */
	const char *source;    /* NULL: every source */
	int status;            /* enum hg_delivery_status, HG_STORE_NO_DELIVERIES; -1: any */
	int64_t since_ms;      /* received at or after; INT64_MIN: no bound */
	int64_t until_ms;      /* received before; INT64_MAX: no bound */
	const char *before_id; /* only ids before this one (a page cursor); NULL: from the newest */
	size_t limit;          /* at most this many; 0: no limit */
	/* only messages of source holding one of these dedupe keys, as the
	 * source's rules made them ("$.id=evt_1"; source must be set; at most
	 * HG_STORE_FILTER_KEYS, else HG_EINVAL); n_dedupe_keys 0: any. (A
	 * backend is given twice as many: each key and its keyed hash.) */
	const char *const *dedupe_keys;
	size_t n_dedupe_keys;
};
#define HG_STORE_FILTER_KEYS 6

/* One listed message; pointers valid during the callback only. */
struct hg_store_msg_info {
	const char *id;
	const char *source;
	const char *content_type; /* may be NULL */
	int64_t received_ms;
	int64_t body_len;
	int64_t duplicates; /* requests answered "duplicate" of it */
	int status;         /* see HG_STORE_NO_DELIVERIES */
	int64_t deliveries; /* how many it has */
};

/* Calls fn for each message f selects, in order, until fn returns non-zero.
 * HG_OK or HG_EIO. */
int hg_store_list_messages(struct hg_store *st, const struct hg_store_msg_filter *f,
			   int (*fn)(const struct hg_store_msg_info *m, void *arg), void *arg);

/* Which deliveries to list: newest first (by id). Every field is optional. */
struct hg_store_delivery_filter {
	const char *id;         /* just this one */
	const char *message_id; /* those of one message */
	const char *endpoint;
	int status;            /* enum hg_delivery_status; 0: any */
	const char *before_id; /* a page cursor; NULL: from the newest */
	size_t limit;          /* 0: no limit */
};

/* One listed delivery; pointers valid during the callback only. */
struct hg_store_delivery_info {
	const char *id;
	const char *message_id;
	const char *endpoint;
	const char *source; /* its message's; NULL when the message is gone */
	enum hg_delivery_status status;
	int attempts;
	int64_t next_attempt_ms; /* -1: none scheduled */
	int last_status;         /* -1: none */
	const char *last_error;  /* may be NULL */
	int64_t created_ms;
	int64_t updated_ms;
};

int hg_store_list_deliveries(struct hg_store *st, const struct hg_store_delivery_filter *f,
			     int (*fn)(const struct hg_store_delivery_info *d, void *arg),
			     void *arg);

/* One recorded attempt; pointers valid during the callback only. */
struct hg_store_attempt_info {
	const char *delivery_id;
	int n;
	int64_t started_ms;
	int64_t duration_ms;
	int status_code;              /* -1: none */
	const char *error;            /* may be NULL */
	const uint8_t *response_head; /* may be NULL */
	size_t response_head_len;
	const char *key_id; /* as stored; NULL: not sealed (read back through store.h, the
			     * head is always opened already) */
};

/* Calls fn for every attempt of every delivery of message_id, ordered by
 * delivery id then attempt number. HG_OK or HG_EIO. */
int hg_store_message_attempts(struct hg_store *st, const char *message_id,
			      int (*fn)(const struct hg_store_attempt_info *a, void *arg),
			      void *arg);

/* Deliveries waiting or stuck, for /metrics: counts[s] for every enum
 * hg_delivery_status s except SUCCEEDED (left 0; counting every success
 * would read the whole table). counts has HG_DELIVERY_DEAD + 1 elements. */
int hg_store_count_deliveries(struct hg_store *st, int64_t counts[HG_DELIVERY_DEAD + 1]);

/* One endpoint's backlog: the deliveries not yet done (pending, failed or
 * delivering) and when the oldest of them was created. */
struct hg_store_backlog {
	const char *endpoint; /* valid during the callback only */
	int64_t pending;
	int64_t oldest_ms;
};
/* Calls fn for every configured endpoint's name that has a backlog (the
 * outbound subscriptions' "sub:..." are left out), until fn returns
 * non-zero. HG_OK or HG_EIO. */
int hg_store_backlog(struct hg_store *st, int (*fn)(const struct hg_store_backlog *b, void *arg),
		     void *arg);

struct hg_stats_row;

/* Adds rows[0..n) to the hourly stats (stats_hourly), in one transaction.
 * HG_OK or HG_EIO (nothing added). */
int hg_store_stats_add(struct hg_store *st, const struct hg_stats_row *rows, size_t n);
/* Adds the stored stats of the n hours from from_ms (a whole hour) into
 * rows[0..n), rows[i] getting hour from_ms + i hours; source NULL sums
 * every source. rows' source and hour_ms are left alone. HG_OK or HG_EIO. */
int hg_store_stats_read(struct hg_store *st, const char *source, int64_t from_ms,
			struct hg_stats_row *rows, size_t n);

/* What a purge removed. */
struct hg_store_purged {
	int64_t messages;
	int64_t deliveries;
	int64_t attempts;
	int64_t dedupe_keys;
	int64_t stats_hours; /* hourly stats rows */
	int64_t media_files; /* media files deleted (their ttl; set by src/media) */
};

/* Deletes, in ONE transaction, up to limit of the oldest messages received
 * before before_ms, with their deliveries, attempts and dedupe keys, and
 * the stats of the hours that ended before it. A message with a delivery
 * in flight (`delivering`) is left for a later purge. The audit log is never
 * touched. Adds what went to *out; *more gets 1 when limit messages went
 * (there may be more). HG_OK or HG_EIO (nothing deleted). */
int hg_store_purge(struct hg_store *st, int64_t before_ms, size_t limit,
		   struct hg_store_purged *out, int *more);

/* Which sources a purge concerns: the messages (and hourly stats rows) of
 * sources[0..n) only, or (except) of every source but those. n 0 with
 * except set is every source; n 0 without it is none. Per-source
 * retention purges each source with a retention of its own under its own
 * cutoff, then the rest (outbound events too) "except" those. */
struct hg_store_purge_scope {
	const char *const *sources;
	size_t n;
	int except;
};

/* hg_store_purge() limited to scope's sources (NULL: every source). */
int hg_store_purge_scoped(struct hg_store *st, const struct hg_store_purge_scope *scope,
			  int64_t before_ms, size_t limit, struct hg_store_purged *out, int *more);

/* ---- outbound: API keys and subscriptions (schema v5) ----
 * Outbound events are messages like any other: source
 * HG_STORE_OUTBOUND_SOURCE, body {"event","timestamp","data"}, headers
 * {"X-Webhook-Event": type}, one dedupe key ("idem:<scope>:<key>" or one of
 * its own), and one delivery per matching subscription whose endpoint is
 * HG_STORE_SUB_PREFIX + the subscription's id. Configured names are
 * [a-z0-9][a-z0-9_-]*, so neither can collide with a source or endpoint.
 * These ops are optional for a backend (HG_EIO and a log line without). */
#define HG_STORE_OUTBOUND_SOURCE "@outbound"
#define HG_STORE_SUB_PREFIX      "sub:"
#define HG_STORE_OWNER_ID_MAX    128
#define HG_STORE_SECRET_LEN      64 /* hex characters */
/* room for a secret as stored: sealed, 64 + 28 bytes in base64 */
#define HG_STORE_SECRET_FIELD   128
#define HG_STORE_TOKEN_HASH_LEN 64 /* hex SHA-256 */

enum hg_store_role { HG_STORE_ROLE_OWNER = 1, HG_STORE_ROLE_PUBLISHER = 2 };

/* An API key: the token itself is never stored, only its SHA-256. */
struct hg_store_api_key {
	char id[HG_UUID_LEN + 1];
	char token_hash[HG_STORE_TOKEN_HASH_LEN + 1];
	char owner_id[HG_STORE_OWNER_ID_MAX + 1];
	int role; /* enum hg_store_role */
	int64_t created_ms;
};

/* HG_OK, or HG_EIO. */
int hg_store_api_key_put(struct hg_store *st, const struct hg_store_api_key *k);
/* Finds the key whose token hashes to token_hash: HG_OK, HG_ENOTFOUND or HG_EIO. */
int hg_store_api_key_find(struct hg_store *st, const char *token_hash,
			  struct hg_store_api_key *out);
/* Calls fn for every API key (of owner_id only, when not NULL), oldest
 * first; k is valid during the call only, and a non-zero return stops the
 * walk. HG_OK or HG_EIO. */
typedef int (*hg_store_api_key_fn)(const struct hg_store_api_key *k, void *arg);
int hg_store_api_key_each(struct hg_store *st, const char *owner_id, hg_store_api_key_fn fn,
			  void *arg);
/* Deletes key id (revocation: its token stops working at once). HG_OK,
 * HG_ENOTFOUND or HG_EIO. */
int hg_store_api_key_delete(struct hg_store *st, const char *id);

/* A subscription. Read back by the functions below, its strings are
 * malloc'd: release with hg_store_sub_free(). */
struct hg_store_sub {
	char id[HG_UUID_LEN + 1];
	char owner_id[HG_STORE_OWNER_ID_MAX + 1];
	char *url;
	char *events_json; /* a JSON array of event types and patterns */
	int is_active;
	char *description;     /* NULL: none */
	char *disabled_reason; /* NULL unless the gateway switched it off */
	char secret[HG_STORE_SECRET_FIELD + 1];
	char old_secret[HG_STORE_SECRET_FIELD + 1]; /* "" unless in a grace period */
	char key_id[HG_STORE_KEY_ID_MAX + 1];       /* the secrets as stored are sealed with it
						     * ("": not sealed); read back through
						     * store.h they are opened already */
	int64_t old_secret_until_ms;
	int64_t created_ms;
	int64_t updated_ms;
	int64_t last_delivery_ms; /* 0: never delivered */
	int64_t failing_since_ms; /* 0: not failing */
};
void hg_store_sub_free(struct hg_store_sub *s);

/* Inserts s (every field as given). HG_OK or HG_EIO. */
int hg_store_sub_create(struct hg_store *st, const struct hg_store_sub *s);
/* The subscription id, of owner_id unless it is NULL (any owner).
 * HG_OK, HG_ENOTFOUND or HG_EIO. */
int hg_store_sub_get(struct hg_store *st, const char *id, const char *owner_id,
		     struct hg_store_sub *out);
/* Calls fn for each subscription of owner_id (all when NULL), newest first,
 * until fn returns non-zero. active_only: only is_active ones. The row is
 * valid during the call only and its secret fields are empty (read one
 * subscription with hg_store_sub_get for its secrets). HG_OK or HG_EIO. */
int hg_store_sub_each(struct hg_store *st, const char *owner_id, int active_only,
		      int (*fn)(const struct hg_store_sub *s, void *arg), void *arg);

/* A change: NULL strings and is_active < 0 keep the value. Turning
 * is_active on clears disabled_reason and failing_since. */
struct hg_store_sub_patch {
	const char *url;
	const char *events_json;
	int is_active;
	int set_description; /* description = description (NULL clears it) */
	const char *description;
	int64_t now_ms;
};
/* HG_OK, HG_ENOTFOUND (no such subscription of owner_id) or HG_EIO. */
int hg_store_sub_update(struct hg_store *st, const char *id, const char *owner_id,
			const struct hg_store_sub_patch *p);
/* Deletes it and dead-letters its deliveries still waiting ("subscription
 * deleted"), in one transaction. HG_OK, HG_ENOTFOUND or HG_EIO. */
int hg_store_sub_delete(struct hg_store *st, const char *id, const char *owner_id, int64_t now_ms);
/* A new secret; old_secret (NULL: none) keeps signing until old_until_ms.
 * HG_OK, HG_ENOTFOUND or HG_EIO. */
int hg_store_sub_set_secret(struct hg_store *st, const char *id, const char *owner_id,
			    const char *secret, const char *old_secret, int64_t old_until_ms,
			    int64_t now_ms);

/* One row of a subscription's delivery history (strings valid during the
 * callback only). */
struct hg_store_sub_delivery {
	const char *id;
	const char *event_type;
	int status;      /* enum hg_delivery_status */
	int last_status; /* HTTP status of the last attempt; < 0 none */
	const char *last_error;
	int attempts;
	int64_t created_ms;
	int64_t updated_ms;
	int64_t next_attempt_ms; /* 0 when none */
};
/* The page of deliveries of subscription id, newest first: offset rows
 * skipped, at most limit given to fn; *total gets the count of all.
 * HG_OK or HG_EIO. */
int hg_store_sub_deliveries(struct hg_store *st, const char *id, int64_t offset, int64_t limit,
			    int (*fn)(const struct hg_store_sub_delivery *d, void *arg), void *arg,
			    int64_t *total);

/* What one attempt to subscription id says about its health:
 *  ok: last_delivery = now, failing_since cleared;
 *  else failing_since = its first failure; when that is disable_after_ms
 *  (> 0) or more ago, or gone (the subscriber said 410), the subscription
 *  is switched off with reason and its waiting deliveries dead-lettered.
 * *disabled (may be NULL) is set to 1 when this call switched it off.
 * HG_OK (also when the subscription no longer exists) or HG_EIO. */
int hg_store_sub_outcome(struct hg_store *st, const char *id, int ok, int gone, int64_t now_ms,
			 int64_t disable_after_ms, const char *reason, int *disabled);

/* ---- rate-limit counters shared by several nodes (a capability) ----
 * For the limiter in src/ingest/ratelimit.c. Only a backend that several
 * nodes share has them (PostgreSQL); on any other, hg_store_ratelimit_shared()
 * says 0 and the other two fail with HG_EINVAL. The counters are soft
 * state (an UNLOGGED table): a database crash forgets the current windows,
 * as a restart of a single node forgets its in-memory ones. */

/* One (source, key) counter of one fixed window. */
struct hg_store_rl_count {
	const char *source;
	const char *key;
	int64_t per_ms;    /* the window size */
	int64_t window_ms; /* start of the window the hits belong to */
	int64_t add;       /* hits to add (>= 0; 0 only reads) */
	/* results */
	int64_t total_cur;  /* the window's hits from every node, after the add */
	int64_t total_prev; /* the window before's hits from every node */
};

/* Whether st's database can share counters: 1 or 0 (also for NULL). */
int hg_store_ratelimit_shared(struct hg_store *st);
/* Adds c[i].add to each counter and reads back the totals, in ONE
 * transaction; each (source, key, per_ms, window_ms) at most once in c.
 * Also forgets windows that ended long ago. HG_OK, HG_EINVAL (the backend
 * shares nothing) or HG_EIO. */
int hg_store_ratelimit_add(struct hg_store *st, struct hg_store_rl_count *c, size_t n);
/* Calls fn for every counter any node changed at or after since_ms (the
 * database server's clock), with total_cur its hits and total_prev -1,
 * until fn returns non-zero; *now_ms gets the server's time before the
 * read, the since_ms of the next call (minus a margin for transactions
 * that were committing). HG_OK, HG_EINVAL or HG_EIO. */
int hg_store_ratelimit_changes(struct hg_store *st, int64_t since_ms,
			       int (*fn)(const struct hg_store_rl_count *c, void *arg), void *arg,
			       int64_t *now_ms);

/* ---- encryption at rest (store_crypt.c, store_keys.c) ----
 * With a keyring in use, what callers store is sealed before a backend sees
 * it and opened before a caller sees it again (src/crypt/crypt.h): message
 * bodies and stored headers, attempts' response heads, subscription
 * secrets; dedupe keys become keyed hashes. A stored value that does not
 * open (changed bytes, copied from another row, a key not configured) is
 * never passed on: the read fails with a log line naming the row, and
 * HG_EAUTH (changed or moved bytes: trying again will not help) or HG_EIO
 * (its key is not configured in this process). */
struct hg_keyring;

/* Makes kr (taken over; NULL: encryption off) the keyring every handle of
 * this process uses from now on. The one before stays allocated until
 * hg_store_keys_release(), so a thread still using it is safe. */
void hg_store_use_keys(struct hg_keyring *kr);
/* The keyring in use, or NULL when encryption is off; valid until
 * hg_store_keys_release() (media files are sealed with it, src/media). */
const struct hg_keyring *hg_store_keyring(void);
/* Frees every keyring (at exit, once no thread uses the store). */
void hg_store_keys_release(void);
/* Before hg_store_use_keys(kr): checks that every key a value stored in
 * st's database is sealed with is in kr (kr NULL: that nothing is
 * sealed), then loads the store's index key into kr (making it, sealed
 * with kr's active key, the first time). HG_OK; HG_EINVAL (err names each
 * key id missing and how many rows of which table need it) or HG_EIO. */
int hg_store_keys_prepare(struct hg_store *st, struct hg_keyring *kr, char *err, size_t errlen);
/* All of it for the store at uri: a keyring of keys[0..n) (32 bytes each,
 * the last active; n 0: encryption off), prepared on a handle of its own,
 * then put in use. What the daemon does at start and when a reload
 * changes the keys, and what the commands that read stored values do.
 * HG_OK, or as hg_store_keys_prepare (err says why); nothing changes on
 * failure. */
int hg_store_keys_load(const char *uri, const uint8_t (*keys)[32], size_t n, char *err,
		       size_t errlen);
/* The keyed hash of a lookup key (crypt.h, hg_index_hash) with the
 * keyring in use: HG_OK, or HG_ENOTFOUND when encryption is off. */
int hg_store_index_hash(const char *scope, const char *source, const char *key,
			char out[HG_STORE_INDEX_HASH_LEN + 1]);

/* fn(table, key_id, rows) for each key id the values of table are sealed
 * with ("messages", "attempts", "subscriptions", "crypt_meta"); with_plain:
 * also key_id NULL for the rows stored as they are. HG_OK, HG_EINVAL (the
 * backend cannot encrypt) or HG_EIO. */
int hg_store_key_usage(struct hg_store *st, int with_plain,
		       int (*fn)(const char *table, const char *key_id, int64_t count, void *arg),
		       void *arg);

/* How far a rekey is: of table, done rows re-encrypted out of total (-1:
 * not counted in advance). */
struct hg_store_rekey_progress {
	const char *table;
	int64_t done;
	int64_t total;
};
struct hg_store_rekey_report {
	void (*fn)(const struct hg_store_rekey_progress *p, void *arg);
	void *arg;
};
/* Seals every stored value that is not sealed with the active key of the
 * keyring in use (values of older keys, and those written before
 * encryption was on) again with it, batch_rows rows per transaction (0:
 * 256), while other connections keep working; then turns dedupe keys
 * stored in clear into keyed hashes. report (may be NULL) hears after each
 * batch. HG_OK; HG_EINVAL (encryption is off, or a row does not open: err
 * names it) or HG_EIO. */
int hg_store_rekey(struct hg_store *st, size_t batch_rows,
		   const struct hg_store_rekey_report *report, char *err, size_t errlen);

/* ---- alert state (src/alerts), shared by every node of a store ----
 * One row per (rule, source): firing, or resolved at some time. The
 * change from one state to the other is made by one node only (a
 * compare-and-set), which then announces it: with several nodes an alert
 * fires once. */
#define HG_STORE_RULE_MAX 32

struct hg_store_alert {
	char rule[HG_STORE_RULE_MAX + 1];
	char source[HG_STORE_NAME_MAX + 2]; /* "" for rules about the whole gateway */
	int firing;                         /* 1 firing, 0 resolved */
	double value;                       /* what the rule measured */
	double threshold;                   /* what it was compared with */
	int64_t fired_ms;
	int64_t resolved_ms; /* 0 while firing */
	int64_t updated_ms;  /* its last change, or the last time a node found
			      * its condition still true (see below) */
};

/* Makes a's (rule, source) firing (a->firing 1: unless it fires already;
 * fired_ms = now_ms) or resolved (0: when it fires; resolved_ms = now_ms),
 * with a's value and threshold. *changed gets 1 when this call made the
 * change, 0 when the row already was so (another node may have made it).
 * Setting firing an alert that fires already refreshes its value and
 * updated_ms: the rules a node judges alone (the store, an endpoint's
 * circuit) say so that their condition still holds there. HG_OK or
 * HG_EIO. */
int hg_store_alert_set(struct hg_store *st, const struct hg_store_alert *a, int64_t now_ms,
		       int *changed);
/* Calls fn for every firing alert and every alert resolved at or after
 * since_ms, firing ones first, newest first. HG_OK or HG_EIO. */
int hg_store_alert_list(struct hg_store *st, int64_t since_ms,
			int (*fn)(const struct hg_store_alert *a, void *arg), void *arg);

/* ---- WhatsApp media (schema v10, src/media) ----
 * A job moves pending -> stored | failed | quarantined, and a stored or
 * quarantined file -> expired when the retention purge deletes it. These
 * ops are optional for a backend (HG_EIO without). */
enum hg_media_state {
	HG_MEDIA_PENDING = 1,
	HG_MEDIA_STORED = 2,
	HG_MEDIA_FAILED = 3,
	HG_MEDIA_QUARANTINED = 4,
	HG_MEDIA_EXPIRED = 5,
};
#define HG_STORE_MEDIA_TEXT_MAX 128 /* graph id, mime type, sha256 as given */

/* "pending", ... (the words the state column holds); NULL for anything else. */
const char *hg_store_media_state_name(enum hg_media_state s);
int hg_store_media_state_parse(const char *name, enum hg_media_state *out);

struct hg_store_media {
	char id[HG_UUID_LEN + 1];
	char message_id[HG_UUID_LEN + 1];
	char source[HG_STORE_NAME_MAX + 2];
	char graph_id[HG_STORE_MEDIA_TEXT_MAX + 1];
	char mime[HG_STORE_MEDIA_TEXT_MAX + 1];   /* "": unknown */
	char sha256[HG_STORE_MEDIA_TEXT_MAX + 1]; /* "": none given */
	enum hg_media_state state;
	int64_t size; /* bytes of the file as fetched (not as sealed) */
	int attempts;
	int64_t next_try_ms;
	char error[256];                      /* "" none */
	char file[HG_UUID_LEN + 1];           /* "" none yet: the file's name in the media dir */
	char key_id[HG_STORE_KEY_ID_MAX + 1]; /* "" in clear */
	int64_t created_ms;
	int64_t updated_ms;
};

/* Claims the oldest due pending job (next_try_ms <= now_ms): moves its
 * next_try_ms to lease_until_ms and counts an attempt, so another fetcher
 * (or this one after a crash) takes it again only once that passed.
 * HG_OK (*out filled), HG_ENOTFOUND (none due) or HG_EIO. */
int hg_store_media_claim(struct hg_store *st, int64_t now_ms, int64_t lease_until_ms,
			 struct hg_store_media *out);
/* Writes m's state, mime, sha256, size, next_try_ms, error, file and
 * key_id (updated_ms = now_ms). HG_OK, HG_ENOTFOUND or HG_EIO. */
int hg_store_media_update(struct hg_store *st, const struct hg_store_media *m, int64_t now_ms);
/* HG_OK, HG_ENOTFOUND or HG_EIO. */
int hg_store_media_get(struct hg_store *st, const char *id, struct hg_store_media *out);
/* Calls fn for each media row of message_id (created order) until fn
 * returns non-zero. HG_OK or HG_EIO. */
int hg_store_media_list(struct hg_store *st, const char *message_id,
			int (*fn)(const struct hg_store_media *m, void *arg), void *arg);
/* Calls fn for up to limit rows of source whose file exists (stored or
 * quarantined) and that were created before before_ms. HG_OK or HG_EIO. */
int hg_store_media_old(struct hg_store *st, const char *source, int64_t before_ms, size_t limit,
		       int (*fn)(const struct hg_store_media *m, void *arg), void *arg);

/* How many media rows are in each state now (counts[s] for every enum
 * hg_media_state s; counts has HG_MEDIA_EXPIRED + 1 elements) and the
 * bytes of the stored files. HG_OK or HG_EIO. */
int hg_store_media_counts(struct hg_store *st, int64_t counts[HG_MEDIA_EXPIRED + 1],
			  int64_t *stored_bytes);

/* A claimed delivery whose message's media are still being fetched goes
 * back to waiting without an attempt: pending again, due at until_ms, its
 * lease dropped, while lease_owner still holds it. HG_OK (also when the
 * lease was lost meanwhile) or HG_EIO. */
int hg_store_media_defer(struct hg_store *st, const char *delivery_id, const char *lease_owner,
			 int64_t until_ms);

/* Keeps a thread's own handle usable: when *st is NULL or no longer
 * answers a ping (the file was removed, the server restarted), it is closed
 * and opened again from uri (*st NULL when that fails); who names the
 * thread in the log line. */
void hg_store_heal(struct hg_store **st, const char *uri, const char *who);

#endif
