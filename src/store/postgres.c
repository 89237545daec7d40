/*
 * postgres.c — the PostgreSQL backend of store.h (libpq), for several
 * hookgate nodes sharing one database: one connection per handle, versioned
 * migrations at open, dedupe by a unique (source, key) index, group commit
 * for the ingest writer, a hash-chained audit log that stays one chain
 * whatever the number of nodes, and delivery claims as leases.
 *
 * Durability: every write is one transaction whose COMMIT returns only
 * after the server flushed its WAL (synchronous_commit is forced on for the
 * session, whatever the server's default), so the ingest writer's batch of
 * messages costs one round of WAL flush, shared by the whole batch. Claims
 * alone do not wait for the flush (txn_run_lazy): a claim a crash undoes
 * is only attempted again, and the outcome recorded after the attempt is
 * flushed, which flushes the claim before it.
 *
 * Several nodes: every rule that must hold across nodes is enforced by the
 * database, never by a node's memory.
 *  - Dedupe: a batch first inserts all its keys with ON CONFLICT DO
 *    NOTHING; a message row is written only when one of its keys was new.
 *    Two nodes inserting the same key at once: the second insert waits for
 *    the first transaction and, once it commits, does nothing, so the
 *    second node re-reads the winner's id and answers "duplicate". A
 *    deadlock or serialization failure rolls the batch back and runs it
 *    again (nothing was answered yet), so a race never becomes 503.
 *  - Audit log: the append takes a transaction-scoped advisory lock before
 *    reading the last row, so appends from all nodes form one chain; the
 *    lock is taken last in the batch and held only until its COMMIT.
 *  - Migrations run under another advisory lock: nodes starting together
 *    migrate once.
 *  - Deliveries are claimed with SELECT ... FOR UPDATE SKIP LOCKED and a
 *    lease (owner, lease_until_ms): nodes never claim the same row at once,
 *    and a dead node's claims become claimable again when their lease ends.
 *    An idle node learns of work that arrived through another node by short
 *    polling (pg_next_due never says "nothing for more than a second").
 *  - Batches lock what they share in one global order (dedupe keys by
 *    (source, key), duplicate counts by message id, stats by (source,
 *    hour)), so concurrent writers wait for each other instead of
 *    deadlocking; a deadlock that happens anyway is retried like a
 *    serialization failure.
 *
 * Connection loss: a handle whose connection broke fails every call with
 * HG_EIO and fails hg_store_ping(); its owner (the ingest writer, the
 * engine) then opens a new handle. Connecting uses a short connect_timeout
 * (HG_PG_CONNECT_TIMEOUT, unless the URI sets one) and TCP keepalives, so
 * an unreachable server costs seconds, not minutes.
 *
 * Secrets: the URI may carry a password. It is never logged or put into an
 * error message; logs name the server as user@host:port/dbname, and libpq's
 * own messages are scrubbed of the password before anyone sees them.
 *
 * Text: the database refuses text that is not valid UTF-8 (in a UTF8
 * database), and a request header may carry any bytes. Rather than let one
 * such request fail a whole batch, invalid bytes in content types, header
 * JSON and audit fields become '?', and a dedupe key that is not UTF-8 is
 * stored as "hex:" + its bytes in hex (a form no dedupe rule produces), so
 * keys stay exact.
 *
 * Hot path: hg_store_put_batch() runs on the ingest writer. A batch costs
 * a fixed number of round trips plus one per new message and one per audit
 * event (dedupe keys and duplicates go as arrays, one statement each).
 * Statements are prepared once per connection, bodies are sent as binary
 * straight from the caller's buffers, and the array literals are built in
 * buffers the handle reuses.
 */
#include <endian.h>
#include <errno.h>
#include <inttypes.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stats/stats.h"
#include "store/postgres_internal.h"
#include "store/store_internal.h"

/* Seconds to wait for a connection, unless the URI says otherwise. */
#define HG_PG_CONNECT_TIMEOUT "3"
/* Runs of one transaction that a deadlock or serialization failure may
 * cost before the write is given up as failed. */
#define HG_PG_TRIES 5

/* Advisory lock keys (two int4s: "hook" and a number), one per thing that
 * must happen on one node at a time. */
#define HG_PG_LOCK_MIGRATE "SELECT pg_advisory_xact_lock(1752133483, 1)"
#define HG_PG_LOCK_AUDIT   "SELECT pg_advisory_xact_lock(1752133483, 2)"

enum {
	P_KEYS,
	P_INSERT_MSG,
	P_FIRST_IDS,
	P_LOCK_DUPS,
	P_BUMP_DUPS,
	P_INSERT_DELIVERY,
	P_GET,
	P_COUNT_ALL,
	P_COUNT_SOURCE,
	P_PING,
	P_AUDIT_LOCK,
	P_AUDIT_LAST,
	P_AUDIT_INSERT,
	P_AUDIT_ALL,
	P_CLAIM,
	P_CLAIM_PREFIX,
	P_INSERT_ATTEMPT,
	P_OUTCOME,
	P_NEXT_DUE_ALL,
	P_NEXT_DUE_ENDPOINT,
	P_NEXT_DUE_PREFIX,
	P_MSG_EXISTS,
	P_DELIVERY_EXISTS,
	P_RETRY_ONE,
	P_RETRY_ENDPOINT,
	P_N
};

/* Claims. The due deliveries of the endpoints sel selects, oldest first:
 * each status is its own ordered, LIMITed index range ('delivering': the
 * few rows in flight, sorted by lease end), and only those few rows (at
 * most three LIMITs) are sorted together. One `status IN (...) OR ...`
 * condition instead made the server collect and sort every due row on
 * each claim: O(backlog) per claim, 30 ms with 25 000 due.
 *
 * A set operation takes no FOR UPDATE, so each status locks its own rows
 * as it reads them (SKIP LOCKED: rows another node is claiming right now
 * are skipped, not waited for, and the range is read on until LIMIT rows
 * are ours). The rows the final LIMIT leaves out stay locked until this
 * short transaction's COMMIT, so a node claiming at that moment skips them
 * too: they wait for the next claim, nothing is lost.
 *
 * sel is "endpoint = $4" (index deliveries_endpoint_status: endpoint,
 * status, next_attempt_ms) or, for a prefix, "starts_with(endpoint, $4)"
 * (index deliveries_status_due, read in order until LIMIT rows match: when
 * the prefix has fewer due, every due row of the status is read). The
 * prefix is deliberately no range on endpoint: the generic plan the server
 * settles on for a prepared statement after five runs cannot see the
 * bounds, takes a range for a few rows, and reads the endpoint index over
 * every delivery of the prefix ever made (the history too) to sort the due
 * ones, three times. */
#define HG_PG_CLAIM(sel)                                                                           \
	"WITH c AS ("                                                                              \
	" SELECT id, t FROM (SELECT id, next_attempt_ms AS t FROM deliveries WHERE " sel           \
	" AND status = 'pending' AND next_attempt_ms <= $3::bigint ORDER BY next_attempt_ms"       \
	" LIMIT $5::bigint FOR UPDATE SKIP LOCKED) AS pending"                                     \
	" UNION ALL SELECT id, t FROM (SELECT id, next_attempt_ms AS t FROM deliveries WHERE " sel \
	" AND status = 'failed' AND next_attempt_ms <= $3::bigint ORDER BY next_attempt_ms"        \
	" LIMIT $5::bigint FOR UPDATE SKIP LOCKED) AS failed"                                      \
	" UNION ALL SELECT id, t FROM (SELECT id, lease_until_ms AS t FROM deliveries WHERE " sel  \
	" AND status = 'delivering' AND lease_until_ms <= $3::bigint ORDER BY lease_until_ms"      \
	" LIMIT $5::bigint FOR UPDATE SKIP LOCKED) AS delivering"                                  \
	" ORDER BY t LIMIT $5::bigint)"                                                            \
	" UPDATE deliveries AS d SET status = 'delivering', lease_owner = $1::text,"               \
	" lease_until_ms = $2::bigint, updated_ms = $3::bigint FROM c WHERE d.id = c.id"           \
	" RETURNING d.id, d.message_id, d.attempts, d.endpoint"
/* The earliest claimable time, up to $1, among the deliveries the
 * condition w selects (w is empty or ends in AND; its endpoint is $2), as
 * the claims read them: min() of one status at a time reads one index
 * entry per status. Nothing later than $1 is looked for (pg_next_due
 * answers "look again by then" anyway), which keeps a prefix's ordered
 * read to what is due by then, as a claim's. */
#define HG_PG_NEXT_DUE(w)                                                                          \
	"SELECT min(t) FROM (SELECT min(next_attempt_ms) AS t FROM deliveries WHERE " w            \
	" status = 'pending' AND next_attempt_ms <= $1::bigint UNION ALL"                          \
	" SELECT min(next_attempt_ms) FROM deliveries WHERE " w " status = 'failed'"               \
	" AND next_attempt_ms <= $1::bigint UNION ALL SELECT min(lease_until_ms) FROM deliveries"  \
	" WHERE " w " status = 'delivering' AND lease_until_ms <= $1::bigint) AS due"
/* A dead delivery back to pending at $2 (see hg_store_retry_dead). */
#define HG_PG_RETRY                                                                                \
	"UPDATE deliveries SET status = 'pending', next_attempt_ms = $2::bigint,"                  \
	" updated_ms = $2::bigint"

/* Statement names on the connection: "hg0", "hg1", ... */
#define HG_PG_STMT_NAME_LEN 16

static const char *const stmt_sql[P_N] = {
    /* Every dedupe key of a batch in one statement, in (source, key) order:
     * nodes whose batches overlap wait for each other's keys in one global
     * order, so they cannot deadlock. A key new to the database goes to the
     * first message of the batch that has it. Returns the batch index ($4)
     * of every message that brought a new key: exactly the new messages. */
    [P_KEYS] = "WITH b AS ("
	       "  SELECT DISTINCT ON (s, k) s, k, m, i"
	       "  FROM unnest($1::text[], $2::text[], $3::text[], $4::int[]) AS u(s, k, m, i)"
	       "  ORDER BY s, k, i),"
	       " ins AS ("
	       "  INSERT INTO dedupe (source, key, message_id)"
	       "  SELECT s, k, m FROM b ORDER BY s COLLATE \"C\", k COLLATE \"C\""
	       "  ON CONFLICT DO NOTHING RETURNING source, key)"
	       " SELECT DISTINCT b.i FROM ins JOIN b ON b.s = ins.source AND b.k = ins.key",
    /* A new message and its deliveries ($8 ids, $9 endpoints, $10 due). */
    [P_INSERT_MSG] = "WITH m AS ("
		     "  INSERT INTO messages (id, source, received_ms, content_type, headers, body)"
		     "  VALUES ($1::text, $2::text, $3::bigint, $4::text, $5::text, $6::bytea))"
		     " INSERT INTO deliveries (id, message_id, endpoint, status, next_attempt_ms,"
		     "  created_ms, updated_ms)"
		     " SELECT d.id, $1::text, d.ep, 'pending', d.due, $3::bigint, $3::bigint"
		     " FROM unnest($7::text[], $8::text[], $9::bigint[]) AS d(id, ep, due)",
    /* The message each duplicate's first key points at, by batch index. */
    [P_FIRST_IDS] = "SELECT u.i, d.message_id"
		    " FROM unnest($1::text[], $2::text[], $3::int[]) AS u(s, k, i)"
		    " JOIN dedupe AS d ON d.source = u.s AND d.key = u.k",
    /* Row locks on the messages whose duplicate count grows, in id order
     * (two nodes bumping the same messages must not deadlock), then the
     * counts. */
    [P_LOCK_DUPS] = "SELECT id FROM messages WHERE id = ANY($1::text[]) ORDER BY id FOR UPDATE",
    [P_BUMP_DUPS] = "UPDATE messages AS m SET dedupe_count = m.dedupe_count + c.n"
		    " FROM (SELECT id, count(*) AS n FROM unnest($1::text[]) AS u(id) GROUP BY id)"
		    " AS c WHERE m.id = c.id",
    [P_INSERT_DELIVERY] =
	"INSERT INTO deliveries (id, message_id, endpoint, status,"
	" next_attempt_ms, created_ms, updated_ms)"
	" VALUES ($1::text, $2::text, $3::text, 'pending', $4::bigint, $5::bigint,"
	" $5::bigint)",
    [P_GET] = "SELECT id, source, received_ms, content_type, headers, body"
	      " FROM messages WHERE id = $1::text",
    [P_COUNT_ALL] = "SELECT count(*) FROM messages",
    [P_COUNT_SOURCE] = "SELECT count(*) FROM messages WHERE source = $1::text",
    [P_PING] = "SELECT max(version) FROM schema_version",
    [P_AUDIT_LOCK] = HG_PG_LOCK_AUDIT,
    [P_AUDIT_LAST] = "SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1",
    [P_AUDIT_INSERT] = "INSERT INTO audit_log (seq, ts_ms, event, source, client, reason,"
		       " prev_hash, hash, count) VALUES ($1::bigint, $2::bigint, $3::text, $4::text,"
		       " $5::text, $6::text, $7::text, $8::text, $9::bigint)",
    [P_AUDIT_ALL] = "SELECT seq, ts_ms, event, source, client, reason, prev_hash, hash, count"
		    " FROM audit_log ORDER BY seq",
    [P_CLAIM] = HG_PG_CLAIM("endpoint = $4::text"),
    [P_CLAIM_PREFIX] = HG_PG_CLAIM("starts_with(endpoint, $4::text)"),
    [P_INSERT_ATTEMPT] = "INSERT INTO attempts (delivery_id, n, started_ms, duration_ms,"
			 " status_code, error, response_head) VALUES ($1::text, $2::integer,"
			 " $3::bigint, $4::bigint, $5::integer, $6::text, $7::bytea)",
    [P_OUTCOME] = "UPDATE deliveries SET status = $2::text,"
		  " attempts = greatest(attempts, $3::integer), next_attempt_ms = $4::bigint,"
		  " lease_owner = NULL, lease_until_ms = NULL, last_status = $5::integer,"
		  " last_error = $6::text, updated_ms = $7::bigint"
		  " WHERE id = $1::text AND status = 'delivering' AND lease_owner = $8::text",
    [P_NEXT_DUE_ALL] = HG_PG_NEXT_DUE(""),
    [P_NEXT_DUE_ENDPOINT] = HG_PG_NEXT_DUE("endpoint = $2::text AND"),
    [P_NEXT_DUE_PREFIX] = HG_PG_NEXT_DUE("starts_with(endpoint, $2::text) AND"),
    [P_MSG_EXISTS] = "SELECT 1 FROM messages WHERE id = $1::text",
    [P_DELIVERY_EXISTS] = "SELECT 1 FROM deliveries WHERE id = $1::text",
    [P_RETRY_ONE] = HG_PG_RETRY " WHERE id = $1::text AND status = 'dead'",
    [P_RETRY_ENDPOINT] = HG_PG_RETRY " WHERE endpoint = $1::text AND status = 'dead'",
};

struct hg_pg {
	struct hg_store base; /* first: store.c sees only this */
	PGconn *conn;
	char label[256];     /* user@host:port/dbname, for logs; never the password */
	char *password;      /* only to scrub it from libpq's messages; NULL if none */
	int version;         /* schema version reached at open */
	int64_t rl_swept_ms; /* when this handle last forgot old rate-limit windows */
	/* scratch reused by every write (the handle is single-threaded):
	 * array literals for the batch statements, a key as stored, and
	 * UTF-8-repaired copies of text parameters */
	struct hg_buf arr[4];
	struct hg_buf darr[3];
	struct hg_buf key;
	struct hg_buf fix[4];
};

/* What failed in a transaction body, for the one log line and the retry
 * decision. */
struct pg_fail {
	const char *what;
	char sqlstate[6];
	char msg[256];
};

static void stmt_name(int which, char out[HG_PG_STMT_NAME_LEN])
{
	snprintf(out, HG_PG_STMT_NAME_LEN, "hg%d", which);
}

/* Overwrites every copy of the password in msg with '*': libpq quotes
 * connection parameters in some of its messages. Short passwords are
 * scrubbed too, at the price of starring unrelated text. */
static void scrub(const struct hg_pg *p, char *msg)
{
	size_t n;
	char *at;

	if (p->password == NULL || p->password[0] == '\0')
		return;
	n = strlen(p->password);
	for (at = strstr(msg, p->password); at != NULL; at = strstr(at + n, p->password))
		memset(at, '*', n);
}

/* One line of libpq's message for res (or the connection's when res is
 * NULL), scrubbed, into out. */
static void pg_message(const struct hg_pg *p, const PGresult *res, char *out, size_t outlen)
{
	const char *m = res != NULL ? PQresultErrorMessage(res) : NULL;
	size_t n;

	if (m == NULL || m[0] == '\0')
		m = p->conn != NULL ? PQerrorMessage(p->conn) : "";
	if (m == NULL || m[0] == '\0')
		m = "unknown error";
	hg_strlcpy(out, m, outlen);
	n = strlen(out);
	while (n > 0 && (out[n - 1] == '\n' || out[n - 1] == ' '))
		out[--n] = '\0';
	for (char *c = out; *c != '\0'; c++)
		if (*c == '\n' || *c == '\t')
			*c = ' ';
	scrub(p, out);
}

/* Records why step failed (res may be NULL) in f. Returns HG_EIO. */
static int fail_with(struct hg_pg *p, struct pg_fail *f, const char *what, const PGresult *res)
{
	const char *state = res != NULL ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;

	f->what = what;
	hg_strlcpy(f->sqlstate, state != NULL ? state : "", sizeof(f->sqlstate));
	pg_message(p, res, f->msg, sizeof(f->msg));
	return HG_EIO;
}

/* Runs a prepared statement with text parameters (lens/fmts NULL) or with
 * the formats given, asking for text (resfmt 0) or binary (1) results. The
 * caller checks and clears the result. */
static PGresult *exec_stmt(struct hg_pg *p, int which, int n, const char *const *vals,
			   const int *lens, const int *fmts, int resfmt)
{
	char name[HG_PG_STMT_NAME_LEN];

	stmt_name(which, name);
	return PQexecPrepared(p->conn, name, n, vals, lens, fmts, resfmt);
}

/* ---- text the database accepts ---- */

/* Length of the valid UTF-8 sequence at s (at most n bytes), or 0. */
static size_t utf8_seq(const unsigned char *s, size_t n)
{
	size_t len, i;
	uint32_t cp;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf) {
		len = 2;
		cp = s[0] & 0x1f;
	} else if (s[0] >= 0xe0 && s[0] <= 0xef) {
		len = 3;
		cp = s[0] & 0x0f;
	} else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		len = 4;
		cp = s[0] & 0x07;
	} else {
		return 0;
	}
	if (n < len)
		return 0;
	for (i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	/* overlong forms, UTF-16 surrogates, beyond U+10FFFF */
	if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return len;
}

static int utf8_valid(const char *s)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t n = strlen(s), i = 0, l;

	while (i < n) {
		l = utf8_seq(u + i, n - i);
		if (l == 0)
			return 0;
		i += l;
	}
	return 1;
}

/* s itself when it is valid UTF-8 (or NULL), else a copy in b with every
 * invalid byte replaced by '?'. NULL only when out of memory (*rc says). */
static const char *text_param(struct hg_buf *b, const char *s, int *rc)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t n, i = 0, l;

	*rc = HG_OK;
	if (s == NULL || utf8_valid(s))
		return s;
	n = strlen(s);
	b->len = 0;
	while (i < n) {
		l = utf8_seq(u + i, n - i);
		*rc = l == 0 ? hg_buf_append(b, "?", 1) : hg_buf_append(b, u + i, l);
		if (*rc != HG_OK)
			return NULL;
		i += l == 0 ? 1 : l;
	}
	return (const char *)b->data; /* hg_buf keeps a NUL after the bytes */
}

/* Puts key into b as it is stored: itself when valid UTF-8, else "hex:" +
 * its bytes in hex (no dedupe rule makes a key starting "hex:"). */
static int stored_key(struct hg_buf *b, const char *key)
{
	static const char digits[] = "0123456789abcdef";
	const unsigned char *u = (const unsigned char *)key;
	int rc;

	b->len = 0;
	if (utf8_valid(key))
		return hg_buf_puts(b, key);
	rc = hg_buf_puts(b, "hex:");
	for (; rc == HG_OK && *u != '\0'; u++) {
		char two[2] = {digits[*u >> 4], digits[*u & 0xf]};

		rc = hg_buf_append(b, two, 2);
	}
	return rc;
}

/* Array literals (text[], int[], bigint[]) travel as ONE parameter each,
 * so a batch is a few statements whatever its size. arr_start() empties b,
 * arr_add() appends one element (quoted, with '"' and '\' escaped, as the
 * array syntax wants), arr_end() closes it. The values are data in a
 * parameter, never SQL text. */
static void arr_start(struct hg_buf *b)
{
	b->len = 0;
}

static int arr_add(struct hg_buf *b, const char *v, size_t n)
{
	size_t i;
	int rc = hg_buf_puts(b, b->len == 0 ? "{\"" : ",\"");

	for (i = 0; rc == HG_OK && i < n; i++) {
		if (v[i] == '"' || v[i] == '\\')
			rc = hg_buf_append(b, "\\", 1);
		if (rc == HG_OK)
			rc = hg_buf_append(b, &v[i], 1);
	}
	return rc == HG_OK ? hg_buf_puts(b, "\"") : rc;
}

static int arr_add_int(struct hg_buf *b, int64_t v)
{
	return hg_buf_printf(b, "%s%" PRId64, b->len == 0 ? "{" : ",", v);
}

static int arr_end(struct hg_buf *b)
{
	return hg_buf_puts(b, b->len == 0 ? "{}" : "}");
}

/* ---- connection and migrations ---- */

static void quiet_notices(void *arg, const char *message)
{
	(void)arg;
	(void)message; /* "relation already exists, skipping" and the like */
}

/* Fills p->label from the URI and keeps the password for scrub(). HG_OK,
 * HG_EINVAL (not a connection URI) or HG_ENOMEM. */
static int describe(struct hg_pg *p, const char *uri)
{
	const char *user = NULL, *host = NULL, *hostaddr = NULL, *port = NULL, *db = NULL;
	PQconninfoOption *opts, *o;
	char *perr = NULL;
	int rc = HG_OK;

	opts = PQconninfoParse(uri, &perr);
	if (opts == NULL) {
		/* perr may quote the URI, password and all: it is not shown. */
		PQfreemem(perr);
		return HG_EINVAL;
	}
	for (o = opts; o->keyword != NULL; o++) {
		if (o->val == NULL)
			continue;
		if (strcmp(o->keyword, "user") == 0)
			user = o->val;
		else if (strcmp(o->keyword, "host") == 0)
			host = o->val;
		else if (strcmp(o->keyword, "hostaddr") == 0)
			hostaddr = o->val;
		else if (strcmp(o->keyword, "port") == 0)
			port = o->val;
		else if (strcmp(o->keyword, "dbname") == 0)
			db = o->val;
		else if (strcmp(o->keyword, "password") == 0 && o->val[0] != '\0' &&
			 (p->password = strdup(o->val)) == NULL)
			rc = HG_ENOMEM;
	}
	/* libpq also takes the password from the environment: scrub that one */
	if (p->password == NULL && rc == HG_OK && getenv("PGPASSWORD") != NULL &&
	    getenv("PGPASSWORD")[0] != '\0' && (p->password = strdup(getenv("PGPASSWORD"))) == NULL)
		rc = HG_ENOMEM;
	if (host == NULL || host[0] == '\0')
		host = hostaddr != NULL && hostaddr[0] != '\0' ? hostaddr : "(default socket)";
	snprintf(p->label, sizeof(p->label), "%s%s%s%s%s/%s", user != NULL ? user : "",
		 user != NULL ? "@" : "", host, port != NULL ? ":" : "", port != NULL ? port : "",
		 db != NULL ? db : "");
	PQconninfoFree(opts);
	return rc;
}

/* Runs one parameterless command (transaction control, migrations) and
 * checks it ended as want. HG_OK or HG_EIO with err filled. */
static int exec_cmd(struct hg_pg *p, const char *sql, ExecStatusType want, char *err, size_t errlen,
		    const char *what)
{
	PGresult *res = PQexec(p->conn, sql);
	char msg[256];
	int rc = HG_OK;

	if (PQresultStatus(res) != want) {
		pg_message(p, res, msg, sizeof(msg));
		snprintf(err, errlen, "Cannot %s on PostgreSQL %s: %s.", what, p->label, msg);
		rc = HG_EIO;
	}
	PQclear(res);
	return rc;
}

/* Brings the schema to the newest version in ONE transaction under an
 * advisory lock, so nodes opening a fresh database at once migrate once:
 * the others wait for the lock, then find nothing left to do. */
static int migrate(struct hg_pg *p, char *err, size_t errlen)
{
	PGresult *res = NULL;
	char msg[256], ver[24];
	const char *vals[1] = {ver};
	long long have;
	size_t v;
	int rc;

	rc = exec_cmd(p, "BEGIN", PGRES_COMMAND_OK, err, errlen, "start the migration");
	if (rc == HG_OK)
		rc = exec_cmd(p, HG_PG_LOCK_MIGRATE, PGRES_TUPLES_OK, err, errlen,
			      "lock the database for migration");
	if (rc == HG_OK)
		rc = exec_cmd(p,
			      "CREATE TABLE IF NOT EXISTS schema_version ("
			      "  version integer PRIMARY KEY,"
			      "  applied_ms bigint NOT NULL)",
			      PGRES_COMMAND_OK, err, errlen, "create the schema_version table");
	if (rc != HG_OK)
		goto out;
	res = PQexec(p->conn, "SELECT coalesce(max(version), 0) FROM schema_version");
	if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1) {
		pg_message(p, res, msg, sizeof(msg));
		snprintf(err, errlen, "Cannot read the schema version of PostgreSQL %s: %s.",
			 p->label, msg);
		rc = HG_EIO;
		goto out;
	}
	have = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
	PQclear(res);
	res = NULL;
	if (have < 0 || (unsigned long long)have > hg_pg_n_migrations) {
		snprintf(err, errlen,
			 "The PostgreSQL database %s has schema version %lld, newer than this "
			 "build knows (%zu); run a newer hookgate or restore a matching database.",
			 p->label, have, hg_pg_n_migrations);
		rc = HG_EIO;
		goto out;
	}
	for (v = (size_t)have; v < hg_pg_n_migrations; v++) {
		char what[64];

		snprintf(what, sizeof(what), "apply schema migration %zu", v + 1);
		rc = exec_cmd(p, hg_pg_migrations[v], PGRES_COMMAND_OK, err, errlen, what);
		if (rc != HG_OK)
			goto out;
		snprintf(ver, sizeof(ver), "%zu", v + 1);
		res = PQexecParams(
		    p->conn,
		    "INSERT INTO schema_version (version, applied_ms) VALUES "
		    "($1::integer, (extract(epoch FROM clock_timestamp()) * 1000)::bigint)",
		    1, NULL, vals, NULL, NULL, 0);
		if (PQresultStatus(res) != PGRES_COMMAND_OK) {
			pg_message(p, res, msg, sizeof(msg));
			snprintf(err, errlen, "Cannot record schema version %zu on %s: %s.", v + 1,
				 p->label, msg);
			rc = HG_EIO;
			goto out;
		}
		PQclear(res);
		res = NULL;
	}
	rc = exec_cmd(p, "COMMIT", PGRES_COMMAND_OK, err, errlen, "commit the schema migration");
	if (rc == HG_OK)
		p->version = (int)hg_pg_n_migrations;
out:
	PQclear(res);
	if (rc != HG_OK && PQtransactionStatus(p->conn) != PQTRANS_IDLE) {
		res = PQexec(p->conn, "ROLLBACK"); /* best effort; err says why */
		PQclear(res);
	}
	return rc;
}

static void pg_close(struct hg_store *st)
{
	struct hg_pg *p = (struct hg_pg *)st;
	size_t i;

	if (p == NULL)
		return;
	PQfinish(p->conn);
	if (p->password != NULL) {
		memset(p->password, 0, strlen(p->password));
		free(p->password);
	}
	for (i = 0; i < 4; i++) {
		hg_buf_free(&p->arr[i]);
		hg_buf_free(&p->fix[i]);
	}
	for (i = 0; i < 3; i++)
		hg_buf_free(&p->darr[i]);
	hg_buf_free(&p->key);
	free(p);
}

static int pg_open(const char *uri, struct hg_store **out, char *err, size_t errlen)
{
	/* Defaults first: the keys the URI itself sets override them. */
	static const char *const keys[] = {"connect_timeout",
					   "keepalives_idle",
					   "keepalives_interval",
					   "keepalives_count",
					   "application_name",
					   "dbname",
					   NULL};
	const char *vals[] = {HG_PG_CONNECT_TIMEOUT, "10", "5", "3", "hookgate", uri, NULL};
	struct hg_pg *p = NULL;
	char msg[256];
	int rc, i;

	p = calloc(1, sizeof(*p));
	if (p == NULL) {
		rc = HG_ENOMEM;
		snprintf(err, errlen, "Out of memory while opening the PostgreSQL store.");
		goto out;
	}
	p->base.ops = &hg_store_postgres_ops;
	rc = describe(p, uri);
	if (rc == HG_ENOMEM) {
		snprintf(err, errlen, "Out of memory while opening the PostgreSQL store.");
		goto out;
	}
	if (rc != HG_OK) {
		snprintf(err, errlen,
			 "The store URI is not a valid PostgreSQL URI; expected "
			 "postgres://user[:password]@host[:port]/dbname[?param=value].");
		goto out;
	}
	p->conn = PQconnectdbParams(keys, vals, 1);
	if (p->conn == NULL) {
		rc = HG_ENOMEM;
		snprintf(err, errlen, "Out of memory while connecting to PostgreSQL %s.", p->label);
		goto out;
	}
	if (PQstatus(p->conn) != CONNECTION_OK) {
		pg_message(p, NULL, msg, sizeof(msg));
		snprintf(err, errlen,
			 "Cannot connect to PostgreSQL %s: %s. Check that the server runs and "
			 "that the URI in `store:` is right.",
			 p->label, msg);
		rc = HG_EIO;
		goto out;
	}
	PQsetNoticeProcessor(p->conn, quiet_notices, NULL);
	/* An acknowledged message must survive the server's crash: never let a
	 * server default of synchronous_commit=off answer before the flush. */
	rc = exec_cmd(p, "SET synchronous_commit = on", PGRES_COMMAND_OK, err, errlen,
		      "turn synchronous_commit on");
	if (rc != HG_OK)
		goto out;
	rc = migrate(p, err, errlen);
	if (rc != HG_OK)
		goto out;
	for (i = 0; i < P_N; i++) {
		char name[HG_PG_STMT_NAME_LEN];
		PGresult *res;

		stmt_name(i, name);
		res = PQprepare(p->conn, name, stmt_sql[i], 0, NULL);
		if (PQresultStatus(res) != PGRES_COMMAND_OK) {
			pg_message(p, res, msg, sizeof(msg));
			snprintf(err, errlen, "Cannot prepare a statement on PostgreSQL %s: %s.",
				 p->label, msg);
			PQclear(res);
			rc = HG_EIO;
			goto out;
		}
		PQclear(res);
	}
	rc = HG_OK;
out:
	if (rc != HG_OK && p != NULL) {
		pg_close(&p->base);
		p = NULL;
	}
	*out = p != NULL ? &p->base : NULL;
	return rc;
}

static int pg_schema_version(struct hg_store *st)
{
	return ((struct hg_pg *)st)->version;
}

/* ---- transactions ---- */

/* Failures worth running the whole transaction again: another node's
 * transaction got in the way (deadlock, serialization failure, a unique
 * key it won that we do not resolve with ON CONFLICT), or a duplicate's
 * first message vanished between our insert and our read. */
static int retryable(const struct hg_pg *p, const struct pg_fail *f)
{
	if (PQstatus(p->conn) != CONNECTION_OK)
		return 0;
	return strcmp(f->sqlstate, "40001") == 0 || strcmp(f->sqlstate, "40P01") == 0 ||
	       strcmp(f->sqlstate, "23505") == 0 || strcmp(f->sqlstate, "HG001") == 0;
}

/* Runs body in one transaction: begin (BEGIN and what goes with it),
 * body, COMMIT, again from the beginning when a concurrent node made it
 * fail in a way a rerun cures. body returns HG_OK or fills f (fail_with)
 * and returns HG_EIO; reset undoes what body set in its results before a
 * rerun. On failure one log line says what failed. Returns HG_OK or
 * HG_EIO. */
static int txn_body(struct hg_pg *p, const char *op, const char *begin,
		    int (*body)(struct hg_pg *p, void *arg, struct pg_fail *f),
		    void (*reset)(void *arg), void *arg)
{
	struct pg_fail f = {0};
	PGresult *res;
	int tries, rc = HG_EIO;

	for (tries = 1; tries <= HG_PG_TRIES; tries++) {
		memset(&f, 0, sizeof(f));
		res = PQexec(p->conn, begin);
		if (PQresultStatus(res) != PGRES_COMMAND_OK)
			rc = fail_with(p, &f, "BEGIN", res);
		else
			rc = HG_OK;
		PQclear(res);
		if (rc == HG_OK)
			rc = body(p, arg, &f);
		if (rc == HG_OK) {
			res = PQexec(p->conn, "COMMIT");
			/* A transaction that failed inside answers COMMIT with
			 * "ROLLBACK": that is no commit. */
			if (PQresultStatus(res) != PGRES_COMMAND_OK ||
			    strcmp(PQcmdStatus(res), "COMMIT") != 0)
				rc = fail_with(p, &f, "COMMIT", res);
			PQclear(res);
		}
		if (rc == HG_OK)
			return HG_OK;
		if (PQstatus(p->conn) == CONNECTION_OK &&
		    PQtransactionStatus(p->conn) != PQTRANS_IDLE) {
			res = PQexec(p->conn, "ROLLBACK");
			if (PQresultStatus(res) != PGRES_COMMAND_OK) {
				char msg[256];

				pg_message(p, res, msg, sizeof(msg));
				hg_log(HG_LOG_ERROR, "store rollback failed", "store",
				       HG_LS(p->label), "error", HG_LS(msg), NULL);
			}
			PQclear(res);
		}
		if (reset != NULL)
			reset(arg);
		if (!retryable(p, &f) || tries == HG_PG_TRIES)
			break;
		hg_log(HG_LOG_INFO, "store transaction retried: another node got in the way",
		       "store", HG_LS(p->label), "op", HG_LS(op), "step", HG_LS(f.what), "sqlstate",
		       HG_LS(f.sqlstate), "try", HG_LI(tries), NULL);
	}
	hg_log(HG_LOG_ERROR, "store write failed", "store", HG_LS(p->label), "op", HG_LS(op),
	       "step", HG_LS(f.what), "error", HG_LS(f.msg), "sqlstate", HG_LS(f.sqlstate), NULL);
	return HG_EIO;
}

/* txn_body() whose COMMIT returns once the server flushed its WAL. */
static int txn_run(struct hg_pg *p, const char *op,
		   int (*body)(struct hg_pg *p, void *arg, struct pg_fail *f),
		   void (*reset)(void *arg), void *arg)
{
	return txn_body(p, op, "BEGIN", body, reset, arg);
}

/* txn_run() without waiting for the WAL flush: COMMIT returns at once and
 * the commit reaches the disk with the next flush of any session (the WAL
 * is flushed in order, so a durable commit after it makes it durable too)
 * or within a few wal_writer_delay. For writes that a server crash may
 * undo without breaking a promise: a claim undone is a delivery claimed
 * again, attempted at least once as always. SET LOCAL ends with the
 * transaction, and travels in BEGIN's round trip. */
static int txn_run_lazy(struct hg_pg *p, const char *op,
			int (*body)(struct hg_pg *p, void *arg, struct pg_fail *f),
			void (*reset)(void *arg), void *arg)
{
	return txn_body(p, op, "BEGIN; SET LOCAL synchronous_commit = off", body, reset, arg);
}

/* ---- messages ---- */

/* Inserts one pending delivery of an open transaction; id receives its id. */
static int insert_delivery(struct hg_pg *p, const char *message_id, const char *endpoint,
			   int64_t due_ms, int64_t now_ms, char id[HG_UUID_LEN + 1],
			   struct pg_fail *f)
{
	char due[24], now[24];
	const char *vals[5] = {id, message_id, endpoint, due, now};
	PGresult *res;
	int rc = HG_OK;

	hg_uuid7(id);
	snprintf(due, sizeof(due), "%" PRId64, due_ms);
	snprintf(now, sizeof(now), "%" PRId64, now_ms);
	res = exec_stmt(p, P_INSERT_DELIVERY, 5, vals, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_COMMAND_OK)
		rc = fail_with(p, f, "delivery insert", res);
	PQclear(res);
	return rc;
}

/* Phase 1 of a batch: every key at once; marks the new messages
 * ACCEPTED and the others DUPLICATE. */
static int put_keys(struct hg_pg *p, struct hg_store_msg *const *msgs, size_t n, struct pg_fail *f)
{
	const char *vals[4];
	PGresult *res;
	size_t i, k;
	int rc = HG_OK, r;

	for (k = 0; k < 4; k++)
		arr_start(&p->arr[k]);
	for (i = 0; i < n && rc == HG_OK; i++) {
		/* no keys: nothing to match, always new */
		msgs[i]->outcome =
		    msgs[i]->n_dedupe_keys == 0 ? HG_STORE_ACCEPTED : HG_STORE_DUPLICATE;
		for (k = 0; k < msgs[i]->n_dedupe_keys && rc == HG_OK; k++) {
			rc = stored_key(&p->key, msgs[i]->dedupe_keys[k]);
			if (rc == HG_OK)
				rc = arr_add(&p->arr[0], msgs[i]->source, strlen(msgs[i]->source));
			if (rc == HG_OK)
				rc = arr_add(&p->arr[1], (const char *)p->key.data, p->key.len);
			if (rc == HG_OK)
				rc = arr_add(&p->arr[2], msgs[i]->id, strlen(msgs[i]->id));
			if (rc == HG_OK)
				rc = arr_add_int(&p->arr[3], (int64_t)i);
		}
	}
	for (k = 0; k < 4 && rc == HG_OK; k++)
		rc = arr_end(&p->arr[k]);
	if (rc != HG_OK) {
		f->what = "dedupe keys";
		hg_strlcpy(f->msg, "out of memory", sizeof(f->msg));
		return HG_EIO;
	}
	for (k = 0; k < 4; k++)
		vals[k] = (const char *)p->arr[k].data;
	res = exec_stmt(p, P_KEYS, 4, vals, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		rc = fail_with(p, f, "dedupe key insert", res);
	} else {
		for (r = 0; r < PQntuples(res); r++) {
			i = (size_t)strtoul(PQgetvalue(res, r, 0), NULL, 10);
			if (i < n)
				msgs[i]->outcome = HG_STORE_ACCEPTED;
		}
	}
	PQclear(res);
	return rc;
}

/* Phase 2: one new message and its deliveries. */
static int put_message(struct hg_pg *p, struct hg_store_msg *m, struct pg_fail *f)
{
	char received[24], id[HG_UUID_LEN + 1];
	const char *vals[9];
	int lens[9] = {0}, fmts[9] = {0};
	PGresult *res;
	size_t k;
	int rc = HG_OK, tr = HG_OK;

	for (k = 0; k < 3; k++)
		arr_start(&p->darr[k]);
	for (k = 0; k < m->n_targets && rc == HG_OK; k++) {
		hg_uuid7(id);
		rc = arr_add(&p->darr[0], id, HG_UUID_LEN);
		if (rc == HG_OK)
			rc = arr_add(&p->darr[1], m->targets[k].endpoint,
				     strlen(m->targets[k].endpoint));
		if (rc == HG_OK)
			rc = arr_add_int(&p->darr[2], m->targets[k].due_ms);
	}
	for (k = 0; k < 3 && rc == HG_OK; k++)
		rc = arr_end(&p->darr[k]);
	snprintf(received, sizeof(received), "%" PRId64, m->received_ms);
	vals[0] = m->id;
	vals[1] = m->source;
	vals[2] = received;
	vals[3] = text_param(&p->fix[0], m->content_type, &tr);
	if (tr == HG_OK)
		vals[4] = text_param(&p->fix[1], m->headers_json, &tr);
	if (rc != HG_OK || tr != HG_OK) {
		f->what = "message insert";
		hg_strlcpy(f->msg, "out of memory", sizeof(f->msg));
		return HG_EIO;
	}
	/* The body travels as binary bytea: no escaping, no copy. An empty body
	 * is a zero-length value, not NULL (the column is NOT NULL). */
	vals[5] = m->body_len > 0 ? (const char *)m->body : "";
	lens[5] = (int)m->body_len;
	fmts[5] = 1;
	for (k = 0; k < 3; k++)
		vals[6 + k] = (const char *)p->darr[k].data;
	res = exec_stmt(p, P_INSERT_MSG, 9, vals, lens, fmts, 0);
	if (PQresultStatus(res) != PGRES_COMMAND_OK)
		rc = fail_with(p, f, "message insert", res);
	PQclear(res);
	if (rc == HG_OK)
		memcpy(m->first_id, m->id, sizeof(m->first_id));
	return rc;
}

/* Phase 3: the duplicates learn the id they duplicate (their first key's
 * message, stored before or earlier in this batch), and those messages
 * count one more sighting each. */
static int put_duplicates(struct hg_pg *p, struct hg_store_msg *const *msgs, size_t n, size_t ndup,
			  struct pg_fail *f)
{
	const char *vals[3];
	PGresult *res;
	size_t i, k, found = 0;
	int rc = HG_OK, r;

	for (k = 0; k < 3; k++)
		arr_start(&p->arr[k]);
	for (i = 0; i < n && rc == HG_OK; i++) {
		if (msgs[i]->outcome != HG_STORE_DUPLICATE)
			continue;
		rc = stored_key(&p->key, msgs[i]->dedupe_keys[0]);
		if (rc == HG_OK)
			rc = arr_add(&p->arr[0], msgs[i]->source, strlen(msgs[i]->source));
		if (rc == HG_OK)
			rc = arr_add(&p->arr[1], (const char *)p->key.data, p->key.len);
		if (rc == HG_OK)
			rc = arr_add_int(&p->arr[2], (int64_t)i);
	}
	for (k = 0; k < 3 && rc == HG_OK; k++)
		rc = arr_end(&p->arr[k]);
	if (rc != HG_OK) {
		f->what = "duplicate lookup";
		hg_strlcpy(f->msg, "out of memory", sizeof(f->msg));
		return HG_EIO;
	}
	for (k = 0; k < 3; k++)
		vals[k] = (const char *)p->arr[k].data;
	res = exec_stmt(p, P_FIRST_IDS, 3, vals, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		rc = fail_with(p, f, "duplicate lookup", res);
	} else {
		for (r = 0; r < PQntuples(res); r++) {
			i = (size_t)strtoul(PQgetvalue(res, r, 0), NULL, 10);
			if (i < n && msgs[i]->first_id[0] == '\0') {
				hg_strlcpy(msgs[i]->first_id, PQgetvalue(res, r, 1),
					   sizeof(msgs[i]->first_id));
				found++;
			}
		}
	}
	PQclear(res);
	if (rc != HG_OK)
		return rc;
	if (found != ndup) {
		/* The key was there a statement ago: a purge took it. Run again. */
		f->what = "duplicate lookup";
		hg_strlcpy(f->sqlstate, "HG001", sizeof(f->sqlstate));
		hg_strlcpy(f->msg, "the first message of a dedupe key vanished", sizeof(f->msg));
		return HG_EIO;
	}
	arr_start(&p->arr[0]);
	for (i = 0; i < n && rc == HG_OK; i++)
		if (msgs[i]->outcome == HG_STORE_DUPLICATE)
			rc = arr_add(&p->arr[0], msgs[i]->first_id, strlen(msgs[i]->first_id));
	if (rc == HG_OK)
		rc = arr_end(&p->arr[0]);
	if (rc != HG_OK) {
		f->what = "duplicate count";
		hg_strlcpy(f->msg, "out of memory", sizeof(f->msg));
		return HG_EIO;
	}
	vals[0] = (const char *)p->arr[0].data;
	res = exec_stmt(p, P_LOCK_DUPS, 1, vals, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK)
		rc = fail_with(p, f, "duplicate count lock", res);
	PQclear(res);
	if (rc != HG_OK)
		return rc;
	res = exec_stmt(p, P_BUMP_DUPS, 1, vals, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_COMMAND_OK)
		rc = fail_with(p, f, "duplicate count", res);
	PQclear(res);
	return rc;
}

/* Appends ev[0..n) after the last row of the shared log, each row chained
 * to the one before. The advisory lock makes "read the last row, append"
 * atomic across nodes until this transaction ends. */
static int append_audit(struct hg_pg *p, const struct hg_audit_event *ev, size_t n,
			struct pg_fail *f)
{
	char prev[HG_AUDIT_HASH_LEN + 1], hash[HG_AUDIT_HASH_LEN + 1];
	char seqs[24], ts[24], cnt[24];
	const char *vals[9];
	PGresult *res;
	int64_t seq = 0;
	size_t i;
	int rc = HG_OK, tr = HG_OK;

	res = exec_stmt(p, P_AUDIT_LOCK, 0, NULL, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK)
		rc = fail_with(p, f, "audit log lock", res);
	PQclear(res);
	if (rc != HG_OK)
		return rc;
	memcpy(prev, hg_store_audit_genesis, sizeof(prev));
	res = exec_stmt(p, P_AUDIT_LAST, 0, NULL, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		rc = fail_with(p, f, "audit log read", res);
	} else if (PQntuples(res) == 1) {
		seq = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
		hg_strlcpy(prev, PQgetvalue(res, 0, 1), sizeof(prev));
	}
	PQclear(res);
	if (rc != HG_OK)
		return rc;
	for (i = 0; i < n; i++) {
		/* Hash exactly what is stored: repaired text, if any. */
		struct hg_audit_event e = ev[i];

		e.event = text_param(&p->fix[0], ev[i].event, &tr);
		if (tr == HG_OK)
			e.source = text_param(&p->fix[1], ev[i].source, &tr);
		if (tr == HG_OK)
			e.client = text_param(&p->fix[2], ev[i].client, &tr);
		if (tr == HG_OK)
			e.reason = text_param(&p->fix[3], ev[i].reason, &tr);
		seq++;
		if (tr != HG_OK || hg_store_audit_hash(prev, seq, &e, hash) != HG_OK) {
			f->what = "audit hash";
			hg_strlcpy(f->msg, "out of memory", sizeof(f->msg));
			return HG_EIO;
		}
		snprintf(seqs, sizeof(seqs), "%" PRId64, seq);
		snprintf(ts, sizeof(ts), "%" PRId64, e.ts_ms);
		vals[0] = seqs;
		vals[1] = ts;
		vals[2] = e.event;
		vals[3] = e.source;
		vals[4] = e.client;
		vals[5] = e.reason;
		vals[6] = prev;
		vals[7] = hash;
		snprintf(cnt, sizeof(cnt), "%" PRId64, hg_store_audit_count(&e));
		vals[8] = cnt;
		res = exec_stmt(p, P_AUDIT_INSERT, 9, vals, NULL, NULL, 0);
		if (PQresultStatus(res) != PGRES_COMMAND_OK)
			rc = fail_with(p, f, "audit log append", res);
		PQclear(res);
		if (rc != HG_OK)
			return rc;
		memcpy(prev, hash, sizeof(prev));
	}
	return HG_OK;
}

struct put_args {
	struct hg_store_msg *const *msgs;
	size_t n;
	const struct hg_audit_event *ev;
	size_t nev;
};

static void put_reset(void *arg)
{
	struct put_args *a = arg;
	size_t i;

	for (i = 0; i < a->n; i++) {
		a->msgs[i]->outcome = 0;
		a->msgs[i]->first_id[0] = '\0';
	}
}

static int put_body(struct hg_pg *p, void *arg, struct pg_fail *f)
{
	struct put_args *a = arg;
	size_t i, ndup = 0;
	int rc = HG_OK;

	put_reset(a);
	if (a->n > 0)
		rc = put_keys(p, a->msgs, a->n, f);
	for (i = 0; i < a->n && rc == HG_OK; i++) {
		if (a->msgs[i]->outcome == HG_STORE_ACCEPTED)
			rc = put_message(p, a->msgs[i], f);
		else
			ndup++;
	}
	if (rc == HG_OK && ndup > 0)
		rc = put_duplicates(p, a->msgs, a->n, ndup, f);
	if (rc != HG_OK)
		return rc;
	/* Last, so the audit lock is held only for the COMMIT that follows. */
	return a->nev > 0 ? append_audit(p, a->ev, a->nev, f) : HG_OK;
}

static int pg_put_batch(struct hg_store *st, struct hg_store_msg *const *msgs, size_t n,
			const struct hg_audit_event *ev, size_t nev)
{
	struct put_args a = {.msgs = msgs, .n = n, .ev = ev, .nev = nev};

	if (n == 0 && nev == 0)
		return HG_OK;
	return txn_run((struct hg_pg *)st, "put_batch", put_body, put_reset, &a);
}

/* Logs a failed read. */
static void read_failed(struct hg_pg *p, const char *op, const PGresult *res)
{
	char msg[256];

	pg_message(p, res, msg, sizeof(msg));
	hg_log(HG_LOG_ERROR, "store read failed", "store", HG_LS(p->label), "op", HG_LS(op),
	       "error", HG_LS(msg), NULL);
}

/* Copies a binary-format text column, or NULL for SQL NULL. */
static int dup_col(const PGresult *res, int col, char **out)
{
	int len;

	*out = NULL;
	if (PQgetisnull(res, 0, col))
		return HG_OK;
	len = PQgetlength(res, 0, col);
	*out = malloc((size_t)len + 1);
	if (*out == NULL)
		return HG_ENOMEM;
	memcpy(*out, PQgetvalue(res, 0, col), (size_t)len);
	(*out)[len] = '\0';
	return HG_OK;
}

static int pg_get_message(struct hg_store *st, const char *id, struct hg_store_row *row)
{
	struct hg_pg *p = (struct hg_pg *)st;
	const char *vals[1] = {id};
	PGresult *res;
	uint64_t be;
	int ret = HG_EIO;

	memset(row, 0, sizeof(*row));
	if (!utf8_valid(id)) /* no stored id is; the server would refuse the text */
		return HG_ENOTFOUND;
	/* Binary results: the body arrives as its bytes, received_ms as int8. */
	res = exec_stmt(p, P_GET, 1, vals, NULL, NULL, 1);
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		read_failed(p, "get_message", res);
		goto out;
	}
	if (PQntuples(res) == 0) {
		ret = HG_ENOTFOUND;
		goto out;
	}
	ret = HG_ENOMEM;
	if (PQgetlength(res, 0, 0) > HG_UUID_LEN || PQgetlength(res, 0, 2) != 8) {
		ret = HG_EIO;
		read_failed(p, "get_message", NULL);
		goto out;
	}
	memcpy(row->id, PQgetvalue(res, 0, 0), (size_t)PQgetlength(res, 0, 0));
	row->id[PQgetlength(res, 0, 0)] = '\0';
	memcpy(&be, PQgetvalue(res, 0, 2), 8);
	row->received_ms = (int64_t)be64toh(be);
	if (dup_col(res, 1, &row->source) != HG_OK ||
	    dup_col(res, 3, &row->content_type) != HG_OK ||
	    dup_col(res, 4, &row->headers_json) != HG_OK)
		goto out;
	row->body_len = (size_t)PQgetlength(res, 0, 5);
	row->body = malloc(row->body_len > 0 ? row->body_len : 1); /* never NULL on success */
	if (row->body == NULL)
		goto out;
	memcpy(row->body, PQgetvalue(res, 0, 5), row->body_len);
	ret = HG_OK;
out:
	PQclear(res);
	if (ret != HG_OK)
		hg_store_row_free(row);
	return ret;
}

static int pg_count_messages(struct hg_store *st, const char *source, int64_t *count)
{
	struct hg_pg *p = (struct hg_pg *)st;
	const char *vals[1] = {source};
	PGresult *res;
	int ret = HG_EIO;

	*count = 0;
	res = source != NULL ? exec_stmt(p, P_COUNT_SOURCE, 1, vals, NULL, NULL, 0)
			     : exec_stmt(p, P_COUNT_ALL, 0, NULL, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1) {
		read_failed(p, "count_messages", res);
		goto out;
	}
	*count = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
	ret = HG_OK;
out:
	PQclear(res);
	return ret;
}

/* Text of a column, NULL for SQL NULL. */
static const char *col_or_null(const PGresult *res, int row, int col)
{
	return PQgetisnull(res, row, col) ? NULL : PQgetvalue(res, row, col);
}

/* Hands the rows of res to fn until it returns non-zero (*stop set). */
static void audit_feed(const PGresult *res, int (*fn)(const struct hg_store_audit_row *, void *),
		       void *arg, int *stop)
{
	struct hg_store_audit_row row;
	int i;

	for (i = 0; i < PQntuples(res) && !*stop; i++) {
		row.seq = strtoll(PQgetvalue(res, i, 0), NULL, 10);
		row.ev.ts_ms = strtoll(PQgetvalue(res, i, 1), NULL, 10);
		row.ev.event = col_or_null(res, i, 2);
		row.ev.source = col_or_null(res, i, 3);
		row.ev.client = col_or_null(res, i, 4);
		row.ev.reason = col_or_null(res, i, 5);
		row.prev_hash = PQgetvalue(res, i, 6);
		row.hash = PQgetvalue(res, i, 7);
		row.ev.count = strtoll(PQgetvalue(res, i, 8), NULL, 10);
		*stop = fn(&row, arg) != 0;
	}
}

/* Streams the log one row at a time (single-row mode): one statement is
 * one snapshot, so the walk sees a consistent log while nodes append, and a
 * long log never sits in memory whole. */
static int pg_audit_rows(struct hg_store *st,
			 int (*fn)(const struct hg_store_audit_row *row, void *arg), void *arg)
{
	struct hg_pg *p = (struct hg_pg *)st;
	char name[HG_PG_STMT_NAME_LEN];
	PGresult *res;
	int stop = 0, ret = HG_OK;

	stmt_name(P_AUDIT_ALL, name);
	if (!PQsendQueryPrepared(p->conn, name, 0, NULL, NULL, NULL, 0)) {
		read_failed(p, "audit_rows", NULL);
		return HG_EIO;
	}
	PQsetSingleRowMode(p->conn); /* if refused, rows arrive in one result: fine */
	/* Every result is read, even after fn stopped: the connection must be
	 * idle again before its next use. */
	while ((res = PQgetResult(p->conn)) != NULL) {
		ExecStatusType s = PQresultStatus(res);

		if (s == PGRES_SINGLE_TUPLE || s == PGRES_TUPLES_OK) {
			audit_feed(res, fn, arg, &stop);
		} else if (ret == HG_OK) {
			read_failed(p, "audit_rows", res);
			ret = HG_EIO;
		}
		PQclear(res);
	}
	return ret;
}

static int pg_ping(struct hg_store *st)
{
	struct hg_pg *p = (struct hg_pg *)st;
	PGresult *res;
	int rc;

	if (PQstatus(p->conn) != CONNECTION_OK)
		return HG_EIO;
	res = exec_stmt(p, P_PING, 0, NULL, NULL, NULL, 0);
	rc = PQresultStatus(res) == PGRES_TUPLES_OK ? HG_OK : HG_EIO;
	PQclear(res);
	return rc;
}

/* ---- deliveries ---- */

/* What a claim or next_due binds for the endpoint argument name: the name
 * itself, or a prefix claim's prefix without its '*' (the statement says
 * which, see HG_PG_CLAIM). -1 when name is longer than any endpoint's or
 * not UTF-8: no stored endpoint has it, and the server would refuse it. */
static int endpoint_param(const char *name, char *out, size_t cap)
{
	size_t n = strlen(name);

	if (n + 1 > cap || !utf8_valid(name))
		return -1;
	memcpy(out, name, n + 1);
	if (hg_store_endpoint_is_prefix(name))
		out[n - 1] = '\0';
	return 0;
}

struct claim_args {
	const char *owner;
	int64_t now_ms;
	const struct hg_store_claim_req *req;
	size_t nreq;
	struct hg_store_claimed *out;
	size_t *n;
};

static void claim_reset(void *arg)
{
	*((struct claim_args *)arg)->n = 0;
}

static int claim_body(struct hg_pg *p, void *arg, struct pg_fail *f)
{
	struct claim_args *a = arg;
	char until[24], now[24], limit[24], ep[HG_STORE_NAME_MAX + 2];
	const char *vals[5] = {a->owner, until, now, ep, limit};
	PGresult *res;
	size_t r;
	int i, which, rc = HG_OK;

	*a->n = 0;
	snprintf(now, sizeof(now), "%" PRId64, a->now_ms);
	for (r = 0; r < a->nreq && rc == HG_OK; r++) {
		if (a->req[r].limit == 0)
			continue;
		snprintf(until, sizeof(until), "%" PRId64, a->req[r].lease_until_ms);
		snprintf(limit, sizeof(limit), "%zu", a->req[r].limit);
		if (endpoint_param(a->req[r].endpoint, ep, sizeof(ep)) != 0)
			continue; /* no stored endpoint has such a name */
		which = hg_store_endpoint_is_prefix(a->req[r].endpoint) ? P_CLAIM_PREFIX : P_CLAIM;
		res = exec_stmt(p, which, 5, vals, NULL, NULL, 0);
		if (PQresultStatus(res) != PGRES_TUPLES_OK) {
			rc = fail_with(p, f, "claim", res);
		} else {
			for (i = 0; i < PQntuples(res) && (size_t)i < a->req[r].limit; i++) {
				struct hg_store_claimed *c = &a->out[(*a->n)++];

				hg_strlcpy(c->id, PQgetvalue(res, i, 0), sizeof(c->id));
				hg_strlcpy(c->message_id, PQgetvalue(res, i, 1),
					   sizeof(c->message_id));
				hg_strlcpy(c->endpoint, PQgetvalue(res, i, 3), sizeof(c->endpoint));
				c->req = r;
				c->attempts = (int)strtol(PQgetvalue(res, i, 2), NULL, 10);
			}
		}
		PQclear(res);
	}
	return rc;
}

struct attempts_args {
	const struct hg_store_attempt *a;
	size_t n;
};

static int attempts_body(struct hg_pg *p, void *arg, struct pg_fail *f)
{
	struct attempts_args *x = arg;
	char num[24], started[24], duration[24], code[24], next[24], updated[24];
	const char *vals[8];
	int lens[8] = {0}, fmts[8] = {0};
	PGresult *res;
	size_t i;
	int rc = HG_OK, tr = HG_OK;

	for (i = 0; i < x->n && rc == HG_OK; i++) {
		const struct hg_store_attempt *a = &x->a[i];
		const char *error = text_param(&p->fix[0], a->error, &tr);

		if (tr != HG_OK) {
			f->what = "text repair";
			hg_strlcpy(f->msg, "out of memory", sizeof(f->msg));
			return HG_EIO;
		}
		snprintf(num, sizeof(num), "%d", a->n);
		snprintf(started, sizeof(started), "%" PRId64, a->started_ms);
		snprintf(duration, sizeof(duration), "%" PRId64, a->duration_ms);
		snprintf(code, sizeof(code), "%d", a->status_code);
		vals[0] = a->delivery_id;
		vals[1] = num;
		vals[2] = started;
		vals[3] = duration;
		vals[4] = a->status_code >= 0 ? code : NULL;
		vals[5] = error;
		/* the response head is bytes: binary, as the body is */
		vals[6] = a->response_head != NULL ? (const char *)a->response_head : NULL;
		lens[6] = (int)(a->response_head != NULL ? a->response_head_len : 0);
		fmts[6] = 1;
		res = exec_stmt(p, P_INSERT_ATTEMPT, 7, vals, lens, fmts, 0);
		if (PQresultStatus(res) != PGRES_COMMAND_OK)
			rc = fail_with(p, f, "attempt insert", res);
		PQclear(res);
		if (rc != HG_OK)
			break;
		snprintf(next, sizeof(next), "%" PRId64, a->next_attempt_ms);
		snprintf(updated, sizeof(updated), "%" PRId64, hg_now_ms());
		vals[0] = a->delivery_id;
		vals[1] = hg_store_delivery_status_name(a->outcome);
		vals[2] = num;
		vals[3] = a->outcome == HG_DELIVERY_FAILED ? next : NULL;
		vals[4] = a->status_code >= 0 ? code : NULL;
		vals[5] = error;
		vals[6] = updated;
		vals[7] = a->lease_owner;
		if (vals[1] == NULL) {
			f->what = "attempt outcome";
			hg_strlcpy(f->msg, "invalid delivery status", sizeof(f->msg));
			return HG_EIO;
		}
		/* A lease that another owner holds now matches no row: the row
		 * keeps its state, as store.h says. */
		res = exec_stmt(p, P_OUTCOME, 8, vals, NULL, NULL, 0);
		if (PQresultStatus(res) != PGRES_COMMAND_OK)
			rc = fail_with(p, f, "delivery outcome", res);
		PQclear(res);
	}
	return rc;
}

struct settle_args {
	struct attempts_args r;
	struct claim_args c;
};

static void settle_reset(void *arg)
{
	claim_reset(&((struct settle_args *)arg)->c);
}

static int settle_body(struct hg_pg *p, void *arg, struct pg_fail *f)
{
	struct settle_args *x = arg;
	int rc = HG_OK;

	if (x->r.n > 0)
		rc = attempts_body(p, &x->r, f);
	if (rc == HG_OK && x->c.nreq > 0)
		rc = claim_body(p, &x->c, f);
	return rc;
}

static int pg_record_and_claim(struct hg_store *st, const struct hg_store_attempt *a, size_t na,
			       const char *owner, int64_t now_ms,
			       const struct hg_store_claim_req *req, size_t nreq,
			       struct hg_store_claimed *out, size_t *n)
{
	struct settle_args x = {
	    .r = {.a = a, .n = na},
	    .c = {.owner = owner, .now_ms = now_ms, .req = req, .nreq = nreq, .out = out, .n = n}};

	*n = 0;
	/* Claims alone do not wait for the WAL flush: the outcome recorded
	 * after the attempt does, and its flush makes the claim durable too. */
	if (na > 0)
		return txn_run((struct hg_pg *)st, "record_and_claim", settle_body, settle_reset,
			       &x);
	return txn_run_lazy((struct hg_pg *)st, "claim_deliveries", settle_body, settle_reset, &x);
}

/* Other nodes add deliveries this node's engine is never woken for (its
 * wake-up comes from its own ingest writer), so on PostgreSQL "nothing due
 * until T" is capped to "look again within HG_PG_POLL_MS": an idle node
 * polls the claim index once a second per endpoint, and picks up work that
 * arrived through another node, or that a dead node left behind, within
 * that second. */
#define HG_PG_POLL_MS 1000

static int pg_next_due(struct hg_store *st, const char *endpoint, int64_t *due_ms)
{
	struct hg_pg *p = (struct hg_pg *)st;
	char ep[HG_STORE_NAME_MAX + 2], horizon[24];
	const char *vals[2] = {horizon, ep};
	PGresult *res;
	int64_t poll_at = hg_now_ms() + HG_PG_POLL_MS;
	int which, ret = HG_EIO;

	*due_ms = 0;
	if (endpoint != NULL && endpoint_param(endpoint, ep, sizeof(ep)) != 0) {
		*due_ms = poll_at; /* no such endpoint: look again later */
		return HG_OK;
	}
	snprintf(horizon, sizeof(horizon), "%" PRId64, poll_at);
	if (endpoint == NULL)
		which = P_NEXT_DUE_ALL;
	else
		which = hg_store_endpoint_is_prefix(endpoint) ? P_NEXT_DUE_PREFIX
							      : P_NEXT_DUE_ENDPOINT;
	res = exec_stmt(p, which, endpoint != NULL ? 2 : 1, vals, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1) {
		read_failed(p, "next_due", res);
		goto out;
	}
	*due_ms = PQgetisnull(res, 0, 0) ? poll_at : strtoll(PQgetvalue(res, 0, 0), NULL, 10);
	if (*due_ms > poll_at)
		*due_ms = poll_at;
	ret = HG_OK;
out:
	PQclear(res);
	return ret;
}

/* Whether the one-parameter statement which finds a row for key:
 * HG_OK (found), HG_ENOTFOUND, or HG_EIO with f filled. */
static int exists(struct hg_pg *p, int which, const char *key, struct pg_fail *f)
{
	const char *vals[1] = {key};
	PGresult *res = exec_stmt(p, which, 1, vals, NULL, NULL, 0);
	int rc;

	if (PQresultStatus(res) != PGRES_TUPLES_OK)
		rc = fail_with(p, f, "existence check", res);
	else
		rc = PQntuples(res) > 0 ? HG_OK : HG_ENOTFOUND;
	PQclear(res);
	return rc;
}

struct replay_args {
	const char *message_id;
	const char *const *endpoints;
	size_t n;
	int64_t now_ms;
	char (*ids)[HG_UUID_LEN + 1];
	int found;
};

static int replay_body(struct hg_pg *p, void *arg, struct pg_fail *f)
{
	struct replay_args *a = arg;
	char id[HG_UUID_LEN + 1];
	size_t i;
	int rc;

	rc = exists(p, P_MSG_EXISTS, a->message_id, f);
	a->found = rc != HG_ENOTFOUND;
	if (rc != HG_OK)
		return rc == HG_ENOTFOUND ? HG_OK : rc; /* nothing to do, commit nothing */
	for (i = 0; i < a->n; i++) {
		rc =
		    insert_delivery(p, a->message_id, a->endpoints[i], a->now_ms, a->now_ms, id, f);
		if (rc != HG_OK)
			return rc;
		if (a->ids != NULL)
			memcpy(a->ids[i], id, sizeof(id));
	}
	return HG_OK;
}

static int pg_replay(struct hg_store *st, const char *message_id, const char *const *endpoints,
		     size_t n, int64_t now_ms, char (*ids)[HG_UUID_LEN + 1])
{
	struct replay_args a = {
	    .message_id = message_id, .endpoints = endpoints, .n = n, .now_ms = now_ms, .ids = ids};
	int rc;

	if (!utf8_valid(message_id))
		return HG_ENOTFOUND; /* no stored id is */
	rc = txn_run((struct hg_pg *)st, "replay", replay_body, NULL, &a);
	if (rc == HG_OK && !a.found)
		return HG_ENOTFOUND;
	return rc;
}

struct retry_args {
	const char *delivery_id;
	const char *endpoint;
	int64_t now_ms;
	int64_t *count;
	int found;
};

static int retry_body(struct hg_pg *p, void *arg, struct pg_fail *f)
{
	struct retry_args *a = arg;
	char now[24];
	const char *vals[2] = {a->delivery_id != NULL ? a->delivery_id : a->endpoint, now};
	PGresult *res;
	int rc = HG_OK;

	*a->count = 0;
	a->found = 1;
	if (a->delivery_id != NULL) {
		rc = exists(p, P_DELIVERY_EXISTS, a->delivery_id, f);
		a->found = rc != HG_ENOTFOUND;
		if (rc != HG_OK)
			return rc == HG_ENOTFOUND ? HG_OK : rc;
	}
	snprintf(now, sizeof(now), "%" PRId64, a->now_ms);
	res = exec_stmt(p, a->delivery_id != NULL ? P_RETRY_ONE : P_RETRY_ENDPOINT, 2, vals, NULL,
			NULL, 0);
	if (PQresultStatus(res) != PGRES_COMMAND_OK)
		rc = fail_with(p, f, "retry dead", res);
	else
		*a->count = strtoll(PQcmdTuples(res), NULL, 10);
	PQclear(res);
	return rc;
}

static int pg_retry_dead(struct hg_store *st, const char *delivery_id, const char *endpoint,
			 int64_t now_ms, int64_t *count)
{
	struct retry_args a = {
	    .delivery_id = delivery_id, .endpoint = endpoint, .now_ms = now_ms, .count = count};
	int rc;

	*count = 0;
	if (delivery_id != NULL ? !utf8_valid(delivery_id) : !utf8_valid(endpoint))
		return delivery_id != NULL ? HG_ENOTFOUND : HG_OK; /* matches nothing */
	rc = txn_run((struct hg_pg *)st, "retry_dead", retry_body, NULL, &a);
	if (rc == HG_OK && !a.found)
		return HG_ENOTFOUND;
	return rc;
}

/* ---- management reads, stats and retention ----
 * The API's queries take optional filters. Each is ONE fixed statement in
 * which an absent filter is a NULL parameter ("$1::text IS NULL OR ...");
 * PQexecParams plans the unnamed statement with the actual values, so the
 * NULL branches fold away and the indexes that fit are used. */

/* Binary-format column readers (for rows with bytea, read in binary). */
static int64_t bin_i64(const PGresult *res, int row, int col)
{
	uint64_t be;

	if (PQgetisnull(res, row, col) || PQgetlength(res, row, col) != 8)
		return -1;
	memcpy(&be, PQgetvalue(res, row, col), 8);
	return (int64_t)be64toh(be);
}

static int bin_i32(const PGresult *res, int row, int col)
{
	uint32_t be;

	if (PQgetisnull(res, row, col) || PQgetlength(res, row, col) != 4)
		return -1;
	memcpy(&be, PQgetvalue(res, row, col), 4);
	return (int)be32toh(be);
}

static int64_t text_i64(const PGresult *res, int row, int col, int64_t null_value)
{
	return PQgetisnull(res, row, col) ? null_value
					  : strtoll(PQgetvalue(res, row, col), NULL, 10);
}

/* A message's state is the highest rank among its deliveries' states. */
static const int rank_status[] = {HG_STORE_NO_DELIVERIES, HG_DELIVERY_SUCCEEDED,
				  HG_DELIVERY_DELIVERING, HG_DELIVERY_PENDING,
				  HG_DELIVERY_FAILED,     HG_DELIVERY_DEAD};
#define HG_PG_RANKS ((int)(sizeof(rank_status) / sizeof(rank_status[0])))

static int status_rank(int status)
{
	for (int r = 0; r < HG_PG_RANKS; r++)
		if (rank_status[r] == status)
			return r;
	return -1;
}

/* Whether every non-NULL text parameter is UTF-8: a filter that is not
 * matches nothing (and the server would refuse it). */
static int params_utf8(const char *const *vals, int n)
{
	for (int i = 0; i < n; i++)
		if (vals[i] != NULL && !utf8_valid(vals[i]))
			return 0;
	return 1;
}

/* Runs a read with text parameters; NULL (logged) unless it returned rows. */
static PGresult *read_query(struct hg_pg *p, const char *op, const char *sql, int n,
			    const char *const *vals, int resfmt)
{
	PGresult *res = PQexecParams(p->conn, sql, n, NULL, vals, NULL, NULL, resfmt);

	if (PQresultStatus(res) == PGRES_TUPLES_OK)
		return res;
	read_failed(p, op, res);
	PQclear(res);
	return NULL;
}

static int pg_list_messages(struct hg_store *st, const struct hg_store_msg_filter *f,
			    int (*fn)(const struct hg_store_msg_info *m, void *arg), void *arg)
{
	static const char sql[] =
	    "SELECT id, source, content_type, received_ms, body_len, dedupe_count, rank, n FROM"
	    " (SELECT m.id, m.source, m.content_type, m.received_ms,"
	    "   octet_length(m.body) AS body_len, m.dedupe_count,"
	    "   coalesce((SELECT max(CASE d.status WHEN 'dead' THEN 5 WHEN 'failed' THEN 4"
	    "     WHEN 'pending' THEN 3 WHEN 'delivering' THEN 2 ELSE 1 END)"
	    "     FROM deliveries AS d WHERE d.message_id = m.id), 0) AS rank,"
	    "   (SELECT count(*) FROM deliveries AS d WHERE d.message_id = m.id) AS n"
	    "  FROM messages AS m"
	    "  WHERE ($1::text IS NULL OR m.source = $1::text)"
	    "  AND ($7::text IS NULL OR m.id = $7::text)"
	    "  AND ($2::bigint IS NULL OR m.received_ms >= $2::bigint)"
	    "  AND ($3::bigint IS NULL OR m.received_ms < $3::bigint)"
	    "  AND ($4::text IS NULL OR m.id < $4::text)"
	    "  ORDER BY m.id DESC) AS x"
	    " WHERE ($5::integer IS NULL OR rank = $5::integer)"
	    " ORDER BY id DESC LIMIT $6::bigint";
	struct hg_pg *p = (struct hg_pg *)st;
	char since[24], until[24], rank[24], limit[24];
	const char *vals[7] = {f->source, NULL, NULL, f->before_id, NULL, NULL, f->id};
	PGresult *res;
	int i;

	if (f->since_ms != INT64_MIN) {
		snprintf(since, sizeof(since), "%" PRId64, f->since_ms);
		vals[1] = since;
	}
	if (f->until_ms != INT64_MAX) {
		snprintf(until, sizeof(until), "%" PRId64, f->until_ms);
		vals[2] = until;
	}
	if (f->status >= 0) {
		snprintf(rank, sizeof(rank), "%d", status_rank(f->status));
		vals[4] = rank;
	}
	if (f->limit > 0) {
		snprintf(limit, sizeof(limit), "%zu", f->limit);
		vals[5] = limit;
	}
	if (!params_utf8(vals, 7))
		return HG_OK;
	res = read_query(p, "list_messages", sql, 7, vals, 0);
	if (res == NULL)
		return HG_EIO;
	for (i = 0; i < PQntuples(res); i++) {
		int r = (int)text_i64(res, i, 6, 0);
		struct hg_store_msg_info m = {
		    .id = PQgetvalue(res, i, 0),
		    .source = PQgetvalue(res, i, 1),
		    .content_type = PQgetisnull(res, i, 2) ? NULL : PQgetvalue(res, i, 2),
		    .received_ms = text_i64(res, i, 3, 0),
		    .body_len = text_i64(res, i, 4, 0),
		    .duplicates = text_i64(res, i, 5, 0),
		    .status = r >= 0 && r < HG_PG_RANKS ? rank_status[r] : 0,
		    .deliveries = text_i64(res, i, 7, 0),
		};

		if (fn(&m, arg) != 0)
			break;
	}
	PQclear(res);
	return HG_OK;
}

static int pg_list_deliveries(struct hg_store *st, const struct hg_store_delivery_filter *f,
			      int (*fn)(const struct hg_store_delivery_info *d, void *arg),
			      void *arg)
{
	static const char sql[] =
	    "SELECT d.id, d.message_id, d.endpoint, m.source, d.status, d.attempts,"
	    " d.next_attempt_ms, d.last_status, d.last_error, d.created_ms, d.updated_ms"
	    " FROM deliveries AS d LEFT JOIN messages AS m ON m.id = d.message_id"
	    " WHERE ($1::text IS NULL OR d.id = $1::text)"
	    " AND ($2::text IS NULL OR d.message_id = $2::text)"
	    " AND ($3::text IS NULL OR d.endpoint = $3::text)"
	    " AND ($4::text IS NULL OR d.status = $4::text)"
	    " AND ($5::text IS NULL OR d.id < $5::text)"
	    " ORDER BY d.id DESC LIMIT $6::bigint";
	struct hg_pg *p = (struct hg_pg *)st;
	char limit[24];
	const char *vals[6] = {
	    f->id,        f->message_id,
	    f->endpoint,  f->status != 0 ? hg_store_delivery_status_name(f->status) : NULL,
	    f->before_id, NULL};
	PGresult *res;
	int i;

	if (f->limit > 0) {
		snprintf(limit, sizeof(limit), "%zu", f->limit);
		vals[5] = limit;
	}
	if (!params_utf8(vals, 6))
		return HG_OK;
	res = read_query(p, "list_deliveries", sql, 6, vals, 0);
	if (res == NULL)
		return HG_EIO;
	for (i = 0; i < PQntuples(res); i++) {
		struct hg_store_delivery_info d = {
		    .id = PQgetvalue(res, i, 0),
		    .message_id = PQgetvalue(res, i, 1),
		    .endpoint = PQgetvalue(res, i, 2),
		    .source = PQgetisnull(res, i, 3) ? NULL : PQgetvalue(res, i, 3),
		    .attempts = (int)text_i64(res, i, 5, 0),
		    .next_attempt_ms = text_i64(res, i, 6, -1),
		    .last_status = (int)text_i64(res, i, 7, -1),
		    .last_error = PQgetisnull(res, i, 8) ? NULL : PQgetvalue(res, i, 8),
		    .created_ms = text_i64(res, i, 9, 0),
		    .updated_ms = text_i64(res, i, 10, 0),
		};

		if (hg_store_delivery_status_parse(PQgetvalue(res, i, 4), &d.status) != HG_OK)
			continue;
		if (fn(&d, arg) != 0)
			break;
	}
	PQclear(res);
	return HG_OK;
}

static int pg_message_attempts(struct hg_store *st, const char *message_id,
			       int (*fn)(const struct hg_store_attempt_info *a, void *arg),
			       void *arg)
{
	static const char sql[] =
	    "SELECT delivery_id, n, started_ms, duration_ms, status_code, error, response_head"
	    " FROM attempts WHERE delivery_id IN"
	    " (SELECT id FROM deliveries WHERE message_id = $1::text) ORDER BY delivery_id, n";
	struct hg_pg *p = (struct hg_pg *)st;
	const char *vals[1] = {message_id};
	PGresult *res;
	int i;

	/* binary results: the response head arrives as its bytes */
	if (!params_utf8(vals, 1))
		return HG_OK;
	res = read_query(p, "message_attempts", sql, 1, vals, 1);
	if (res == NULL)
		return HG_EIO;
	for (i = 0; i < PQntuples(res); i++) {
		struct hg_store_attempt_info a = {
		    .delivery_id = PQgetvalue(res, i, 0),
		    .n = bin_i32(res, i, 1),
		    .started_ms = bin_i64(res, i, 2),
		    .duration_ms = bin_i64(res, i, 3),
		    .status_code = bin_i32(res, i, 4),
		    .error = PQgetisnull(res, i, 5) ? NULL : PQgetvalue(res, i, 5),
		    .response_head =
			PQgetisnull(res, i, 6) ? NULL : (const uint8_t *)PQgetvalue(res, i, 6),
		    .response_head_len =
			PQgetisnull(res, i, 6) ? 0 : (size_t)PQgetlength(res, i, 6),
		};

		if (fn(&a, arg) != 0)
			break;
	}
	PQclear(res);
	return HG_OK;
}

static int pg_count_deliveries(struct hg_store *st, int64_t counts[HG_DELIVERY_DEAD + 1])
{
	static const char sql[] = "SELECT status, count(*) FROM deliveries WHERE status IN"
				  " ('pending', 'delivering', 'failed', 'dead') GROUP BY status";
	struct hg_pg *p = (struct hg_pg *)st;
	enum hg_delivery_status s;
	PGresult *res;
	int i;

	res = read_query(p, "count_deliveries", sql, 0, NULL, 0);
	if (res == NULL)
		return HG_EIO;
	for (i = 0; i < PQntuples(res); i++)
		if (hg_store_delivery_status_parse(PQgetvalue(res, i, 0), &s) == HG_OK)
			counts[s] = text_i64(res, i, 1, 0);
	PQclear(res);
	return HG_OK;
}

/* The stats statements name hg_stat_names' columns: built once from that
 * table of identifiers (never from values) into b. how: 0 "a, b", 1
 * "sum(a), sum(b)", 2 "a = stats_hourly.a + excluded.a, ...", 3 "$3, $4". */
static int stat_columns(struct hg_buf *b, int how)
{
	int rc = HG_OK;

	for (int i = 0; i < HG_STAT_N && rc == HG_OK; i++) {
		const char *c = hg_stat_names[i];

		rc = hg_buf_puts(b, i > 0 ? ", " : "");
		if (rc != HG_OK)
			break;
		if (how == 1)
			rc = hg_buf_printf(b, "sum(%s)", c);
		else if (how == 2)
			rc = hg_buf_printf(b, "%s = stats_hourly.%s + excluded.%s", c, c, c);
		else if (how == 3)
			rc = hg_buf_printf(b, "$%d::bigint", i + 3);
		else
			rc = hg_buf_puts(b, c);
	}
	return rc;
}

struct stats_args {
	const struct hg_stats_row *rows;
	size_t n;
	size_t *order; /* rows in (source, hour) order */
};

static int cmp_stats_row(const void *a, const void *b, void *arg)
{
	const struct hg_stats_row *rows = arg;
	const struct hg_stats_row *x = &rows[*(const size_t *)a];
	const struct hg_stats_row *y = &rows[*(const size_t *)b];
	int c = strcmp(x->source, y->source);

	return c != 0 ? c : (x->hour_ms > y->hour_ms) - (x->hour_ms < y->hour_ms);
}

static int stats_add_body(struct hg_pg *p, void *arg, struct pg_fail *f)
{
	struct stats_args *a = arg;
	struct hg_buf hsql = {0};
	char hour[24], nums[HG_STAT_N][24];
	const char *vals[2 + HG_STAT_N];
	PGresult *res;
	size_t i;
	int rc = HG_OK, k;

	if (hg_buf_puts(&hsql, "INSERT INTO stats_hourly (source, hour_ms, ") != HG_OK ||
	    stat_columns(&hsql, 0) != HG_OK ||
	    hg_buf_puts(&hsql, ") VALUES ($1::text, $2::bigint, ") != HG_OK ||
	    stat_columns(&hsql, 3) != HG_OK ||
	    hg_buf_puts(&hsql, ") ON CONFLICT (source, hour_ms) DO UPDATE SET ") != HG_OK ||
	    stat_columns(&hsql, 2) != HG_OK) {
		hg_buf_free(&hsql);
		f->what = "stats statement";
		hg_strlcpy(f->msg, "out of memory", sizeof(f->msg));
		return HG_EIO;
	}
	for (i = 0; i < a->n && rc == HG_OK; i++) {
		const struct hg_stats_row *r = &a->rows[a->order[i]];

		snprintf(hour, sizeof(hour), "%" PRId64, r->hour_ms);
		vals[0] = r->source;
		vals[1] = hour;
		for (k = 0; k < HG_STAT_N; k++) {
			snprintf(nums[k], sizeof(nums[k]), "%" PRIu64, r->count[k]);
			vals[2 + k] = nums[k];
		}
		res = PQexecParams(p->conn, (const char *)hsql.data, 2 + HG_STAT_N, NULL, vals,
				   NULL, NULL, 0);
		if (PQresultStatus(res) != PGRES_COMMAND_OK)
			rc = fail_with(p, f, "stats upsert", res);
		PQclear(res);
		if (rc != HG_OK)
			break;
		/* the non-empty latency buckets of the row, as two arrays */
		arr_start(&p->arr[0]);
		arr_start(&p->arr[1]);
		for (k = 0; k < HG_STATS_BUCKETS && rc == HG_OK; k++) {
			if (r->latency[k] == 0)
				continue;
			rc = arr_add_int(&p->arr[0], k);
			if (rc == HG_OK)
				rc = arr_add_int(&p->arr[1], (int64_t)r->latency[k]);
		}
		if (rc == HG_OK && p->arr[0].len == 0)
			continue;
		if (rc == HG_OK)
			rc = arr_end(&p->arr[0]);
		if (rc == HG_OK)
			rc = arr_end(&p->arr[1]);
		if (rc != HG_OK) {
			f->what = "stats latency";
			hg_strlcpy(f->msg, "out of memory", sizeof(f->msg));
			break;
		}
		vals[2] = (const char *)p->arr[0].data;
		vals[3] = (const char *)p->arr[1].data;
		res = PQexecParams(p->conn,
				   "INSERT INTO stats_latency (source, hour_ms, bucket, count)"
				   " SELECT $1::text, $2::bigint, u.b, u.c"
				   " FROM unnest($3::integer[], $4::bigint[]) AS u(b, c)"
				   " ON CONFLICT (source, hour_ms, bucket)"
				   " DO UPDATE SET count = stats_latency.count + excluded.count",
				   4, NULL, vals, NULL, NULL, 0);
		if (PQresultStatus(res) != PGRES_COMMAND_OK)
			rc = fail_with(p, f, "stats latency upsert", res);
		PQclear(res);
	}
	hg_buf_free(&hsql);
	return rc;
}

static int pg_stats_add(struct hg_store *st, const struct hg_stats_row *rows, size_t n)
{
	struct stats_args a = {.rows = rows, .n = n};
	size_t i;
	int rc;

	if (n == 0)
		return HG_OK;
	/* Nodes upsert the same (source, hour) rows: in one order, so two
	 * flushes wait for each other instead of deadlocking. */
	a.order = malloc(n * sizeof(*a.order));
	if (a.order == NULL)
		return HG_EIO;
	for (i = 0; i < n; i++)
		a.order[i] = i;
	qsort_r(a.order, n, sizeof(*a.order), cmp_stats_row, (void *)rows);
	rc = txn_run((struct hg_pg *)st, "stats_add", stats_add_body, NULL, &a);
	free(a.order);
	return rc;
}

static int pg_stats_read(struct hg_store *st, const char *source, int64_t from_ms,
			 struct hg_stats_row *rows, size_t n)
{
	struct hg_pg *p = (struct hg_pg *)st;
	struct hg_buf sql = {0};
	char from[24], to[24];
	const char *vals[3] = {from, to, source};
	PGresult *res;
	int i, k, rc = HG_EIO;

	snprintf(from, sizeof(from), "%" PRId64, from_ms);
	snprintf(to, sizeof(to), "%" PRId64, (int64_t)(from_ms + (int64_t)n * HG_HOUR_MS));
	if (hg_buf_puts(&sql, "SELECT hour_ms, ") != HG_OK || stat_columns(&sql, 1) != HG_OK ||
	    hg_buf_puts(&sql, " FROM stats_hourly WHERE hour_ms >= $1::bigint AND hour_ms <"
			      " $2::bigint AND ($3::text IS NULL OR source = $3::text)"
			      " GROUP BY hour_ms") != HG_OK) {
		hg_buf_free(&sql);
		return HG_ENOMEM;
	}
	res = read_query(p, "stats_read", (const char *)sql.data, 3, vals, 0);
	hg_buf_free(&sql);
	if (res == NULL)
		return HG_EIO;
	for (i = 0; i < PQntuples(res); i++) {
		int64_t h = text_i64(res, i, 0, 0);

		if (h < from_ms || (h - from_ms) % HG_HOUR_MS != 0 ||
		    (uint64_t)((h - from_ms) / HG_HOUR_MS) >= n)
			continue;
		for (k = 0; k < HG_STAT_N; k++)
			rows[(h - from_ms) / HG_HOUR_MS].count[k] +=
			    (uint64_t)text_i64(res, i, k + 1, 0);
	}
	PQclear(res);
	res = read_query(p, "stats_read",
			 "SELECT hour_ms, bucket, sum(count) FROM stats_latency"
			 " WHERE hour_ms >= $1::bigint AND hour_ms < $2::bigint"
			 " AND ($3::text IS NULL OR source = $3::text) GROUP BY hour_ms, bucket",
			 3, vals, 0);
	if (res == NULL)
		return HG_EIO;
	for (i = 0; i < PQntuples(res); i++) {
		int64_t h = text_i64(res, i, 0, 0);
		int b = (int)text_i64(res, i, 1, -1);

		if (h < from_ms || (h - from_ms) % HG_HOUR_MS != 0 ||
		    (uint64_t)((h - from_ms) / HG_HOUR_MS) >= n || b < 0 || b >= HG_STATS_BUCKETS)
			continue;
		rows[(h - from_ms) / HG_HOUR_MS].latency[b] += (uint64_t)text_i64(res, i, 2, 0);
	}
	PQclear(res);
	rc = HG_OK;
	return rc;
}

struct purge_args {
	int64_t before_ms;
	size_t limit;
	struct hg_store_purged got;
	size_t n;
};

static int purge_body(struct hg_pg *p, void *arg, struct pg_fail *f)
{
	/* Candidates are locked (SKIP LOCKED: nodes purging at once take
	 * disjoint sets), then their deliveries (waiting out a claim that is
	 * committing), then checked again for a delivery in flight. */
	static const char *const del_sql[] = {
	    "DELETE FROM attempts WHERE delivery_id IN"
	    " (SELECT id FROM deliveries WHERE message_id = ANY($1::text[]))",
	    "DELETE FROM deliveries WHERE message_id = ANY($1::text[])",
	    "DELETE FROM dedupe WHERE message_id = ANY($1::text[])",
	    "DELETE FROM messages WHERE id = ANY($1::text[])",
	};
	struct purge_args *a = arg;
	int64_t *counts[4] = {&a->got.attempts, &a->got.deliveries, &a->got.dedupe_keys,
			      &a->got.messages};
	char cutoff[24], before[24], limit[24], hour[24];
	const char *vals[3] = {cutoff, before, limit};
	PGresult *res;
	int i, k, rc = HG_OK;

	memset(&a->got, 0, sizeof(a->got));
	a->n = 0;
	/* A UUIDv7 starts with its 48-bit time in hex, so ids below that
	 * prefix of before_ms are exactly the older ones (the primary key finds
	 * them). */
	snprintf(cutoff, sizeof(cutoff), "%08llx-%04llx",
		 (unsigned long long)((uint64_t)a->before_ms >> 16) & 0xffffffffull,
		 (unsigned long long)a->before_ms & 0xffffull);
	snprintf(before, sizeof(before), "%" PRId64, a->before_ms);
	snprintf(limit, sizeof(limit), "%zu", a->limit);
	res =
	    PQexecParams(p->conn,
			 "SELECT id FROM messages WHERE id < $1::text AND received_ms < $2::bigint"
			 " AND NOT EXISTS (SELECT 1 FROM deliveries AS d WHERE d.message_id ="
			 " messages.id AND d.status = 'delivering')"
			 " ORDER BY id LIMIT $3::bigint FOR UPDATE SKIP LOCKED",
			 3, NULL, vals, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		rc = fail_with(p, f, "purge select", res);
		PQclear(res);
		return rc;
	}
	arr_start(&p->arr[0]);
	for (i = 0; i < PQntuples(res) && rc == HG_OK; i++)
		rc = arr_add(&p->arr[0], PQgetvalue(res, i, 0), (size_t)PQgetlength(res, i, 0));
	a->n = (size_t)PQntuples(res);
	PQclear(res);
	if (rc == HG_OK)
		rc = arr_end(&p->arr[0]);
	if (rc != HG_OK) {
		f->what = "purge";
		hg_strlcpy(f->msg, "out of memory", sizeof(f->msg));
		return HG_EIO;
	}
	vals[0] = (const char *)p->arr[0].data;
	res = PQexecParams(p->conn,
			   "SELECT id FROM deliveries WHERE message_id = ANY($1::text[])"
			   " ORDER BY id FOR UPDATE",
			   1, NULL, vals, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK)
		rc = fail_with(p, f, "purge lock", res);
	PQclear(res);
	if (rc != HG_OK)
		return rc;
	res = PQexecParams(p->conn,
			   "SELECT coalesce(array_agg(u.id), '{}') FROM unnest($1::text[]) AS u(id)"
			   " WHERE NOT EXISTS (SELECT 1 FROM deliveries AS d"
			   " WHERE d.message_id = u.id AND d.status = 'delivering')",
			   1, NULL, vals, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1) {
		rc = fail_with(p, f, "purge check", res);
		PQclear(res);
		return rc;
	}
	arr_start(&p->arr[1]);
	rc = hg_buf_puts(&p->arr[1], PQgetvalue(res, 0, 0));
	PQclear(res);
	if (rc != HG_OK) {
		f->what = "purge";
		hg_strlcpy(f->msg, "out of memory", sizeof(f->msg));
		return HG_EIO;
	}
	vals[0] = (const char *)p->arr[1].data;
	for (k = 0; k < 4 && rc == HG_OK; k++) {
		res = PQexecParams(p->conn, del_sql[k], 1, NULL, vals, NULL, NULL, 0);
		if (PQresultStatus(res) != PGRES_COMMAND_OK)
			rc = fail_with(p, f, "purge delete", res);
		else
			*counts[k] += strtoll(PQcmdTuples(res), NULL, 10);
		PQclear(res);
	}
	/* An hour's stats go once the whole hour is older than before_ms. */
	snprintf(hour, sizeof(hour), "%" PRId64,
		 (int64_t)(hg_stats_hour_of(a->before_ms) - HG_HOUR_MS));
	vals[0] = hour;
	for (k = 0; k < 2 && rc == HG_OK; k++) {
		res = PQexecParams(p->conn,
				   k == 0 ? "DELETE FROM stats_hourly WHERE hour_ms <= $1::bigint"
					  : "DELETE FROM stats_latency WHERE hour_ms <= $1::bigint",
				   1, NULL, vals, NULL, NULL, 0);
		if (PQresultStatus(res) != PGRES_COMMAND_OK)
			rc = fail_with(p, f, "purge stats", res);
		else if (k == 0)
			a->got.stats_hours = strtoll(PQcmdTuples(res), NULL, 10);
		PQclear(res);
	}
	return rc;
}

struct audit_purge_args {
	int64_t before_ms, now_ms;
	size_t limit;
	int64_t removed;
	int more;
};

/* hg_store_audit_purge under the audit log's lock (so two nodes purging, or
 * a node appending, see one head and one tail): the checkpoint row first,
 * then the rows it names (schema step 7's DELETE guard). */
static int audit_purge_body(struct hg_pg *p, void *arg, struct pg_fail *f)
{
	struct audit_purge_args *a = arg;
	char last_hash[HG_AUDIT_HASH_LEN + 1] = "", reason[256], lim[24], lo[24], hi[24];
	const char *vals[2];
	int64_t first = 0, last = 0, n = 0;
	PGresult *res;
	int i, rc = HG_OK;

	a->removed = 0;
	a->more = 0;
	res = exec_stmt(p, P_AUDIT_LOCK, 0, NULL, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK)
		rc = fail_with(p, f, "audit log lock", res);
	PQclear(res);
	if (rc != HG_OK)
		return rc;
	snprintf(lim, sizeof(lim), "%zu", a->limit);
	vals[0] = lim;
	res = PQexecParams(p->conn, "SELECT seq, ts_ms, hash FROM audit_log ORDER BY seq LIMIT $1::bigint",
			   1, NULL, vals, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		rc = fail_with(p, f, "audit purge select", res);
		PQclear(res);
		return rc;
	}
	for (i = 0; i < PQntuples(res); i++) {
		if (strtoll(PQgetvalue(res, i, 1), NULL, 10) >= a->before_ms)
			break; /* the first newer row ends the run: the log stays a chain */
		last = strtoll(PQgetvalue(res, i, 0), NULL, 10);
		if (n == 0)
			first = last;
		hg_strlcpy(last_hash, PQgetvalue(res, i, 2), sizeof(last_hash));
		n++;
	}
	PQclear(res);
	if (n == 0)
		return HG_OK;
	if (hg_store_audit_checkpoint_reason(first, last, last_hash, a->before_ms, reason,
					     sizeof(reason)) != HG_OK) {
		f->what = "audit checkpoint";
		hg_strlcpy(f->msg, "reason too long", sizeof(f->msg));
		return HG_EIO;
	}
	struct hg_audit_event cp = {.ts_ms = a->now_ms,
				    .event = HG_AUDIT_CHECKPOINT_EVENT,
				    .reason = reason,
				    .count = n};
	rc = append_audit(p, &cp, 1, f);
	if (rc != HG_OK)
		return rc;
	snprintf(lo, sizeof(lo), "%" PRId64, first);
	snprintf(hi, sizeof(hi), "%" PRId64, last);
	vals[0] = lo;
	vals[1] = hi;
	res = PQexecParams(p->conn,
			   "DELETE FROM audit_log WHERE seq >= $1::bigint AND seq <= $2::bigint", 2,
			   NULL, vals, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_COMMAND_OK)
		rc = fail_with(p, f, "audit purge delete", res);
	else
		a->removed = strtoll(PQcmdTuples(res), NULL, 10);
	PQclear(res);
	a->more = rc == HG_OK && (size_t)n >= a->limit;
	return rc;
}

static int pg_audit_purge(struct hg_store *st, int64_t before_ms, size_t limit, int64_t now_ms,
			  int64_t *removed, int *more)
{
	struct audit_purge_args a = {.before_ms = before_ms, .now_ms = now_ms, .limit = limit};
	int rc;

	rc = txn_run((struct hg_pg *)st, "audit_purge", audit_purge_body, NULL, &a);
	if (rc != HG_OK)
		return rc;
	*removed += a.removed;
	*more = a.more;
	return HG_OK;
}

static int pg_purge(struct hg_store *st, int64_t before_ms, size_t limit,
		    struct hg_store_purged *out, int *more)
{
	struct purge_args a = {.before_ms = before_ms, .limit = limit > 0 ? limit : 1};
	int rc;

	rc = txn_run((struct hg_pg *)st, "purge", purge_body, NULL, &a);
	if (rc != HG_OK)
		return rc;
	out->messages += a.got.messages;
	out->deliveries += a.got.deliveries;
	out->attempts += a.got.attempts;
	out->dedupe_keys += a.got.dedupe_keys;
	out->stats_hours += a.got.stats_hours;
	*more = a.n >= a.limit;
	return HG_OK;
}

/* ---- outbound webhooks: API keys and subscriptions (schema step 5) ----
 * Management requests and the engine's per-attempt bookkeeping, not the
 * ingest hot path: fixed statements through PQexecParams, writes of more
 * than one statement in one transaction (txn_run). Subscription rows that
 * two nodes change at once (a failure count, a switch-off) are read FOR
 * UPDATE first. */

#define HG_PG_SUB_COLS                                                                             \
	"id, owner_id, url, events, is_active, description, disabled_reason, secret,"              \
	" old_secret, old_secret_until_ms, created_ms, updated_ms, last_delivery_ms,"              \
	" failing_since_ms"

/* ms as a parameter: NULL for 0 when zero_null (0 means "none" there). */
static const char *ms_param(char buf[24], int64_t v, int zero_null)
{
	if (zero_null && v == 0)
		return NULL;
	snprintf(buf, 24, "%" PRId64, v);
	return buf;
}

/* Runs one statement; the result when it succeeded (the caller clears it),
 * else NULL with f filled (f NULL: logged as a failed read). */
static PGresult *ob_exec(struct hg_pg *p, const char *what, const char *sql, int n,
			 const char *const *vals, struct pg_fail *f)
{
	PGresult *res = PQexecParams(p->conn, sql, n, NULL, vals, NULL, NULL, 0);

	if (PQresultStatus(res) == PGRES_COMMAND_OK || PQresultStatus(res) == PGRES_TUPLES_OK)
		return res;
	if (f != NULL)
		fail_with(p, f, what, res);
	else
		read_failed(p, what, res);
	PQclear(res);
	return NULL;
}

static int pg_api_key_put(struct hg_store *st, const struct hg_store_api_key *k)
{
	struct hg_pg *p = (struct hg_pg *)st;
	char created[24];
	const char *vals[5] = {k->id, k->token_hash, k->owner_id,
			       k->role == HG_STORE_ROLE_PUBLISHER ? "publisher" : "owner",
			       ms_param(created, k->created_ms, 0)};
	PGresult *res;

	if (!params_utf8(vals, 5))
		return HG_EIO;
	res = ob_exec(p, "api_key_put",
		      "INSERT INTO api_keys (id, token_hash, owner_id, role, created_ms)"
		      " VALUES ($1, $2, $3, $4, $5::bigint)",
		      5, vals, NULL);
	PQclear(res);
	return res != NULL ? HG_OK : HG_EIO;
}

static int pg_api_key_find(struct hg_store *st, const char *token_hash,
			   struct hg_store_api_key *out)
{
	struct hg_pg *p = (struct hg_pg *)st;
	const char *vals[1] = {token_hash};
	PGresult *res;
	int rc = HG_ENOTFOUND;

	if (!params_utf8(vals, 1))
		return HG_ENOTFOUND;
	res = ob_exec(p, "api_key_find",
		      "SELECT id, token_hash, owner_id, role, created_ms FROM api_keys"
		      " WHERE token_hash = $1",
		      1, vals, NULL);
	if (res == NULL)
		return HG_EIO;
	if (PQntuples(res) == 1) {
		hg_strlcpy(out->id, PQgetvalue(res, 0, 0), sizeof(out->id));
		hg_strlcpy(out->token_hash, PQgetvalue(res, 0, 1), sizeof(out->token_hash));
		hg_strlcpy(out->owner_id, PQgetvalue(res, 0, 2), sizeof(out->owner_id));
		out->role = strcmp(PQgetvalue(res, 0, 3), "publisher") == 0
				? HG_STORE_ROLE_PUBLISHER
				: HG_STORE_ROLE_OWNER;
		out->created_ms = text_i64(res, 0, 4, 0);
		rc = HG_OK;
	}
	PQclear(res);
	return rc;
}

static int pg_sub_create(struct hg_store *st, const struct hg_store_sub *s)
{
	struct hg_pg *p = (struct hg_pg *)st;
	char until[24], created[24], updated[24], last[24], failing[24];
	const char *vals[14] = {s->id,
				s->owner_id,
				s->url,
				s->events_json,
				s->is_active ? "1" : "0",
				s->description,
				s->disabled_reason,
				s->secret,
				s->old_secret[0] != '\0' ? s->old_secret : NULL,
				ms_param(until, s->old_secret_until_ms, 1),
				ms_param(created, s->created_ms, 0),
				ms_param(updated, s->updated_ms, 0),
				ms_param(last, s->last_delivery_ms, 1),
				ms_param(failing, s->failing_since_ms, 1)};
	PGresult *res;

	if (!params_utf8(vals, 14))
		return HG_EIO;
	res = ob_exec(p, "sub_create",
		      "INSERT INTO subscriptions (" HG_PG_SUB_COLS ") VALUES ($1, $2, $3, $4,"
		      " $5::integer, $6, $7, $8, $9, $10::bigint, $11::bigint, $12::bigint,"
		      " $13::bigint, $14::bigint)",
		      14, vals, NULL);
	PQclear(res);
	return res != NULL ? HG_OK : HG_EIO;
}

/* Fills s from row i of an HG_PG_SUB_COLS result. HG_OK or HG_ENOMEM. */
static int sub_row(const PGresult *res, int i, struct hg_store_sub *s)
{
	memset(s, 0, sizeof(*s));
	hg_strlcpy(s->id, PQgetvalue(res, i, 0), sizeof(s->id));
	hg_strlcpy(s->owner_id, PQgetvalue(res, i, 1), sizeof(s->owner_id));
	s->is_active = (int)text_i64(res, i, 4, 0);
	hg_strlcpy(s->secret, PQgetvalue(res, i, 7), sizeof(s->secret));
	hg_strlcpy(s->old_secret, PQgetvalue(res, i, 8), sizeof(s->old_secret));
	s->old_secret_until_ms = text_i64(res, i, 9, 0);
	s->created_ms = text_i64(res, i, 10, 0);
	s->updated_ms = text_i64(res, i, 11, 0);
	s->last_delivery_ms = text_i64(res, i, 12, 0);
	s->failing_since_ms = text_i64(res, i, 13, 0);
	s->url = strdup(PQgetvalue(res, i, 2));
	s->events_json = strdup(PQgetvalue(res, i, 3));
	if (!PQgetisnull(res, i, 5))
		s->description = strdup(PQgetvalue(res, i, 5));
	if (!PQgetisnull(res, i, 6))
		s->disabled_reason = strdup(PQgetvalue(res, i, 6));
	if (s->url == NULL || s->events_json == NULL ||
	    (!PQgetisnull(res, i, 5) && s->description == NULL) ||
	    (!PQgetisnull(res, i, 6) && s->disabled_reason == NULL)) {
		hg_store_sub_free(s);
		return HG_ENOMEM;
	}
	return HG_OK;
}

static int pg_sub_get(struct hg_store *st, const char *id, const char *owner_id,
		      struct hg_store_sub *out)
{
	struct hg_pg *p = (struct hg_pg *)st;
	const char *vals[2] = {id, owner_id};
	PGresult *res;
	int rc = HG_ENOTFOUND;

	memset(out, 0, sizeof(*out));
	if (!params_utf8(vals, 2))
		return HG_ENOTFOUND;
	res = ob_exec(p, "sub_get",
		      "SELECT " HG_PG_SUB_COLS " FROM subscriptions WHERE id = $1"
		      " AND ($2::text IS NULL OR owner_id = $2)",
		      2, vals, NULL);
	if (res == NULL)
		return HG_EIO;
	if (PQntuples(res) == 1)
		rc = sub_row(res, 0, out);
	PQclear(res);
	return rc;
}

static int pg_sub_each(struct hg_store *st, const char *owner_id, int active_only,
		       int (*fn)(const struct hg_store_sub *s, void *arg), void *arg)
{
	struct hg_pg *p = (struct hg_pg *)st;
	const char *vals[2] = {owner_id, active_only ? "1" : "0"};
	struct hg_store_sub s;
	PGresult *res;
	int i, rc = HG_OK;

	if (!params_utf8(vals, 1))
		return HG_OK;
	res = ob_exec(p, "sub_each",
		      "SELECT " HG_PG_SUB_COLS " FROM subscriptions"
		      " WHERE ($1::text IS NULL OR owner_id = $1)"
		      " AND ($2::integer = 0 OR is_active = 1) ORDER BY id DESC",
		      2, vals, NULL);
	if (res == NULL)
		return HG_EIO;
	for (i = 0; i < PQntuples(res) && rc == HG_OK; i++) {
		int stop;

		rc = sub_row(res, i, &s);
		if (rc != HG_OK)
			break;
		stop = fn(&s, arg);
		hg_store_sub_free(&s);
		if (stop)
			break;
	}
	PQclear(res);
	return rc;
}

/* HG_OK when a single-row change found its row, else HG_ENOTFOUND. */
static int changed_one(const PGresult *res)
{
	return strtoll(PQcmdTuples((PGresult *)res), NULL, 10) > 0 ? HG_OK : HG_ENOTFOUND;
}

static int pg_sub_update(struct hg_store *st, const char *id, const char *owner_id,
			 const struct hg_store_sub_patch *pt)
{
	struct hg_pg *p = (struct hg_pg *)st;
	char now[24];
	const char *vals[8] = {id,
			       owner_id,
			       pt->url,
			       pt->events_json,
			       pt->is_active < 0 ? "-1" : (pt->is_active ? "1" : "0"),
			       pt->set_description ? "1" : "0",
			       pt->description,
			       ms_param(now, pt->now_ms, 0)};
	PGresult *res;
	int rc;

	if (!params_utf8(vals, 2))
		return HG_ENOTFOUND;
	if (!params_utf8(vals, 8))
		return HG_EIO;
	res = ob_exec(
	    p, "sub_update",
	    "UPDATE subscriptions SET url = coalesce($3, url), events = coalesce($4, events),"
	    " is_active = CASE WHEN $5::integer < 0 THEN is_active ELSE $5::integer END,"
	    " disabled_reason = CASE WHEN $5::integer = 1 THEN NULL ELSE disabled_reason END,"
	    " failing_since_ms = CASE WHEN $5::integer = 1 THEN NULL ELSE failing_since_ms END,"
	    " description = CASE WHEN $6::integer = 1 THEN $7 ELSE description END,"
	    " updated_ms = greatest($8::bigint, updated_ms + 1)"
	    " WHERE id = $1 AND ($2::text IS NULL OR owner_id = $2)",
	    8, vals, NULL);
	if (res == NULL)
		return HG_EIO;
	rc = changed_one(res);
	PQclear(res);
	return rc;
}

/* Dead-letters the waiting deliveries of subscription id (open txn). */
static int dead_letter(struct hg_pg *p, const char *id, const char *why, int64_t now_ms,
		       struct pg_fail *f)
{
	char now[24];
	const char *vals[3] = {id, why, ms_param(now, now_ms, 0)};
	PGresult *res = ob_exec(p, "dead-letter",
				"UPDATE deliveries SET status = 'dead', next_attempt_ms = NULL,"
				" last_error = $2, updated_ms = $3::bigint"
				" WHERE endpoint = '" HG_STORE_SUB_PREFIX "' || $1"
				" AND status IN ('pending', 'failed')",
				3, vals, f);

	PQclear(res);
	return res != NULL ? HG_OK : HG_EIO;
}

struct sub_delete_args {
	const char *id, *owner_id;
	int64_t now_ms;
	int found;
};

static int sub_delete_body(struct hg_pg *p, void *arg, struct pg_fail *f)
{
	struct sub_delete_args *a = arg;
	const char *vals[2] = {a->id, a->owner_id};
	PGresult *res;

	res = ob_exec(
	    p, "sub_delete",
	    "DELETE FROM subscriptions WHERE id = $1 AND ($2::text IS NULL OR owner_id = $2)", 2,
	    vals, f);
	if (res == NULL)
		return HG_EIO;
	a->found = changed_one(res) == HG_OK;
	PQclear(res);
	return a->found ? dead_letter(p, a->id, "subscription deleted", a->now_ms, f) : HG_OK;
}

static int pg_sub_delete(struct hg_store *st, const char *id, const char *owner_id, int64_t now_ms)
{
	struct sub_delete_args a = {.id = id, .owner_id = owner_id, .now_ms = now_ms};
	const char *vals[2] = {id, owner_id};
	int rc;

	if (!params_utf8(vals, 2))
		return HG_ENOTFOUND;
	rc = txn_run((struct hg_pg *)st, "sub_delete", sub_delete_body, NULL, &a);
	return rc == HG_OK && !a.found ? HG_ENOTFOUND : rc;
}

static int pg_sub_set_secret(struct hg_store *st, const char *id, const char *owner_id,
			     const char *secret, const char *old_secret, int64_t old_until_ms,
			     int64_t now_ms)
{
	struct hg_pg *p = (struct hg_pg *)st;
	char until[24], now[24];
	const char *vals[6] = {id,
			       owner_id,
			       secret,
			       old_secret,
			       old_secret != NULL ? ms_param(until, old_until_ms, 1) : NULL,
			       ms_param(now, now_ms, 0)};
	PGresult *res;
	int rc;

	if (!params_utf8(vals, 2))
		return HG_ENOTFOUND;
	res = ob_exec(p, "sub_set_secret",
		      "UPDATE subscriptions SET secret = $3, old_secret = $4,"
		      " old_secret_until_ms = $5::bigint,"
		      " updated_ms = greatest($6::bigint, updated_ms + 1)"
		      " WHERE id = $1 AND ($2::text IS NULL OR owner_id = $2)",
		      6, vals, NULL);
	if (res == NULL)
		return HG_EIO;
	rc = changed_one(res);
	PQclear(res);
	return rc;
}

static int pg_sub_deliveries(struct hg_store *st, const char *id, int64_t offset, int64_t limit,
			     int (*fn)(const struct hg_store_sub_delivery *d, void *arg), void *arg,
			     int64_t *total)
{
	struct hg_pg *p = (struct hg_pg *)st;
	char lim[24], off[24];
	const char *vals[3] = {id, ms_param(lim, limit, 0), ms_param(off, offset, 0)};
	PGresult *res;
	int i;

	*total = 0;
	if (!params_utf8(vals, 1))
		return HG_OK;
	res = ob_exec(p, "sub_deliveries",
		      "SELECT count(*) FROM deliveries WHERE endpoint = '" HG_STORE_SUB_PREFIX
		      "' || $1",
		      1, vals, NULL);
	if (res == NULL)
		return HG_EIO;
	*total = text_i64(res, 0, 0, 0);
	PQclear(res);
	res = ob_exec(p, "sub_deliveries",
		      "SELECT d.id, m.headers::json ->> 'X-Webhook-Event', d.status,"
		      " d.last_status, d.last_error, d.attempts, d.created_ms, d.updated_ms,"
		      " d.next_attempt_ms FROM deliveries AS d LEFT JOIN messages AS m"
		      " ON m.id = d.message_id WHERE d.endpoint = '" HG_STORE_SUB_PREFIX "' || $1"
		      " ORDER BY d.id DESC LIMIT $2::bigint OFFSET $3::bigint",
		      3, vals, NULL);
	if (res == NULL)
		return HG_EIO;
	for (i = 0; i < PQntuples(res); i++) {
		enum hg_delivery_status status = HG_DELIVERY_PENDING;
		struct hg_store_sub_delivery d = {
		    .id = PQgetvalue(res, i, 0),
		    .event_type = PQgetisnull(res, i, 1) ? "" : PQgetvalue(res, i, 1),
		    .last_status = (int)text_i64(res, i, 3, -1),
		    .last_error = PQgetisnull(res, i, 4) ? NULL : PQgetvalue(res, i, 4),
		    .attempts = (int)text_i64(res, i, 5, 0),
		    .created_ms = text_i64(res, i, 6, 0),
		    .updated_ms = text_i64(res, i, 7, 0),
		    .next_attempt_ms = text_i64(res, i, 8, 0),
		};

		(void)hg_store_delivery_status_parse(PQgetvalue(res, i, 2), &status);
		d.status = (int)status;
		if (fn(&d, arg))
			break;
	}
	PQclear(res);
	return HG_OK;
}

struct sub_outcome_args {
	const char *id;
	int gone;
	int64_t now_ms, disable_after_ms;
	const char *reason;
	int off;
};

static int sub_outcome_body(struct hg_pg *p, void *arg, struct pg_fail *f)
{
	struct sub_outcome_args *a = arg;
	char since_s[24], now[24];
	const char *vals[5] = {a->id};
	int64_t since = a->now_ms;
	PGresult *res;
	int active;

	a->off = 0;
	/* FOR UPDATE: two nodes failing the same subscription count once */
	res = ob_exec(p, "sub_outcome",
		      "SELECT is_active, failing_since_ms FROM subscriptions WHERE id = $1"
		      " FOR UPDATE",
		      1, vals, f);
	if (res == NULL)
		return HG_EIO;
	if (PQntuples(res) != 1) {
		PQclear(res);
		return HG_OK;
	}
	active = (int)text_i64(res, 0, 0, 0);
	if (!PQgetisnull(res, 0, 1))
		since = text_i64(res, 0, 1, a->now_ms);
	PQclear(res);
	/* failing since its first failure after the last success; switched
	 * off by a 410, or once that is disable_after ago */
	a->off = active &&
		 (a->gone || (a->disable_after_ms > 0 && a->now_ms - since >= a->disable_after_ms));
	vals[1] = ms_param(since_s, since, 0);
	vals[2] = a->off ? "1" : "0";
	vals[3] = a->reason != NULL ? a->reason : "switched off by the gateway";
	vals[4] = ms_param(now, a->now_ms, 0);
	res =
	    ob_exec(p, "sub_outcome",
		    "UPDATE subscriptions SET failing_since_ms = $2::bigint,"
		    " is_active = CASE WHEN $3::integer = 1 THEN 0 ELSE is_active END,"
		    " disabled_reason = CASE WHEN $3::integer = 1 THEN $4 ELSE disabled_reason END,"
		    " updated_ms = CASE WHEN $3::integer = 1 THEN greatest($5::bigint,"
		    " updated_ms + 1) ELSE updated_ms END WHERE id = $1",
		    5, vals, f);
	if (res == NULL)
		return HG_EIO;
	PQclear(res);
	if (!a->off)
		return HG_OK;
	return dead_letter(p, a->id, a->reason != NULL ? a->reason : "subscription switched off",
			   a->now_ms, f);
}

static int pg_sub_outcome(struct hg_store *st, const char *id, int ok, int gone, int64_t now_ms,
			  int64_t disable_after_ms, const char *reason, int *disabled)
{
	struct hg_pg *p = (struct hg_pg *)st;
	struct sub_outcome_args a = {.id = id,
				     .gone = gone,
				     .now_ms = now_ms,
				     .disable_after_ms = disable_after_ms,
				     .reason = text_param(&p->fix[3], reason, &(int){0})};
	const char *vals[2] = {id, NULL};
	char now[24];
	PGresult *res;
	int rc;

	if (disabled != NULL)
		*disabled = 0;
	if (!params_utf8(vals, 1))
		return HG_OK;
	if (ok) {
		vals[1] = ms_param(now, now_ms, 0);
		res = ob_exec(p, "sub_outcome",
			      "UPDATE subscriptions SET last_delivery_ms = $2::bigint,"
			      " failing_since_ms = NULL WHERE id = $1",
			      2, vals, NULL);
		PQclear(res);
		return res != NULL ? HG_OK : HG_EIO;
	}
	rc = txn_run(p, "sub_outcome", sub_outcome_body, NULL, &a);
	if (rc == HG_OK && disabled != NULL)
		*disabled = a.off;
	return rc;
}

/* ---- shared rate-limit counters (store.h) ---- */

/* How often a handle forgets rate-limit windows that ended long ago. */
#define HG_PG_RL_SWEEP_MS 60000
/* The server's clock in ms: every node's updated_ms comes from it, so
 * followers compare times of one clock. */
#define HG_PG_NOW_MS "(extract(epoch FROM clock_timestamp()) * 1000)::bigint"

struct rl_args {
	struct hg_store_rl_count *c;
	size_t n;
};

static int rl_body(struct hg_pg *p, void *arg, struct pg_fail *f)
{
	/* Counters are added in (source, key, ...) order, so nodes adding to
	 * the same ones wait instead of deadlocking. The main query reads the
	 * pre-statement snapshot: a counter this statement changed is read
	 * from what the insert returned. */
	static const char sql[] =
	    "WITH u AS (SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[], $4::bigint[],"
	    "  $5::bigint[], $6::integer[]) AS u(s, k, p, w, a, i)),"
	    " ins AS (INSERT INTO ratelimit_counts (source, key, per_ms, window_ms, hits,"
	    "  updated_ms)"
	    "  SELECT s, k, p, w, a, " HG_PG_NOW_MS " FROM u WHERE a > 0"
	    "  ORDER BY s COLLATE \"C\", k COLLATE \"C\", p, w"
	    "  ON CONFLICT (source, key, per_ms, window_ms)"
	    "  DO UPDATE SET hits = ratelimit_counts.hits + excluded.hits,"
	    "  updated_ms = excluded.updated_ms"
	    "  RETURNING source, key, per_ms, window_ms, hits)"
	    " SELECT u.i, coalesce(ins.hits, cur.hits, 0), coalesce(prev.hits, 0) FROM u"
	    " LEFT JOIN ins ON ins.source = u.s AND ins.key = u.k AND ins.per_ms = u.p"
	    "  AND ins.window_ms = u.w"
	    " LEFT JOIN ratelimit_counts AS cur ON cur.source = u.s AND cur.key = u.k"
	    "  AND cur.per_ms = u.p AND cur.window_ms = u.w"
	    " LEFT JOIN ratelimit_counts AS prev ON prev.source = u.s AND prev.key = u.k"
	    "  AND prev.per_ms = u.p AND prev.window_ms = u.w - u.p";
	struct rl_args *a = arg;
	const char *vals[6];
	PGresult *res;
	size_t i, k;
	int rc = HG_OK, r;

	for (k = 0; k < 4; k++)
		arr_start(&p->arr[k]);
	for (k = 0; k < 2; k++)
		arr_start(&p->darr[k]);
	for (i = 0; i < a->n && rc == HG_OK; i++) {
		const struct hg_store_rl_count *c = &a->c[i];

		rc = stored_key(&p->key, c->key);
		if (rc == HG_OK)
			rc = arr_add(&p->arr[0], c->source, strlen(c->source));
		if (rc == HG_OK)
			rc = arr_add(&p->arr[1], (const char *)p->key.data, p->key.len);
		if (rc == HG_OK)
			rc = arr_add_int(&p->arr[2], c->per_ms);
		if (rc == HG_OK)
			rc = arr_add_int(&p->arr[3], c->window_ms);
		if (rc == HG_OK)
			rc = arr_add_int(&p->darr[0], c->add > 0 ? c->add : 0);
		if (rc == HG_OK)
			rc = arr_add_int(&p->darr[1], (int64_t)i);
	}
	for (k = 0; k < 4 && rc == HG_OK; k++)
		rc = arr_end(&p->arr[k]);
	for (k = 0; k < 2 && rc == HG_OK; k++)
		rc = arr_end(&p->darr[k]);
	if (rc != HG_OK) {
		f->what = "rate-limit counters";
		hg_strlcpy(f->msg, "out of memory", sizeof(f->msg));
		return HG_EIO;
	}
	for (k = 0; k < 4; k++)
		vals[k] = (const char *)p->arr[k].data;
	vals[4] = (const char *)p->darr[0].data;
	vals[5] = (const char *)p->darr[1].data;
	res = PQexecParams(p->conn, sql, 6, NULL, vals, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		rc = fail_with(p, f, "rate-limit counters", res);
	} else {
		for (r = 0; r < PQntuples(res); r++) {
			i = (size_t)strtoul(PQgetvalue(res, r, 0), NULL, 10);
			if (i >= a->n)
				continue;
			a->c[i].total_cur = text_i64(res, r, 1, 0);
			a->c[i].total_prev = text_i64(res, r, 2, 0);
		}
	}
	PQclear(res);
	if (rc == HG_OK && hg_now_ms() - p->rl_swept_ms >= HG_PG_RL_SWEEP_MS) {
		char now[24];

		/* a window is worth nothing once it is not even the previous one */
		snprintf(now, sizeof(now), "%" PRId64, hg_now_ms());
		vals[0] = now;
		res = PQexecParams(
		    p->conn,
		    "DELETE FROM ratelimit_counts WHERE window_ms < $1::bigint - 2 * per_ms", 1,
		    NULL, vals, NULL, NULL, 0);
		if (PQresultStatus(res) != PGRES_COMMAND_OK)
			rc = fail_with(p, f, "rate-limit sweep", res);
		PQclear(res);
	}
	return rc;
}

static int pg_ratelimit_add(struct hg_store *st, struct hg_store_rl_count *c, size_t n)
{
	struct hg_pg *p = (struct hg_pg *)st;
	struct rl_args a = {.c = c, .n = n};
	int rc;

	rc = txn_run(p, "ratelimit_add", rl_body, NULL, &a);
	if (rc == HG_OK && hg_now_ms() - p->rl_swept_ms >= HG_PG_RL_SWEEP_MS)
		p->rl_swept_ms = hg_now_ms();
	return rc;
}

static int pg_ratelimit_changes(struct hg_store *st, int64_t since_ms,
				int (*fn)(const struct hg_store_rl_count *c, void *arg), void *arg,
				int64_t *now_ms)
{
	struct hg_pg *p = (struct hg_pg *)st;
	char since[24];
	const char *vals[1] = {since};
	PGresult *res;
	int i;

	snprintf(since, sizeof(since), "%" PRId64, since_ms);
	/* the server's now first: a row updated after it is read next time */
	res = read_query(p, "ratelimit_changes", "SELECT " HG_PG_NOW_MS, 0, NULL, 0);
	if (res == NULL)
		return HG_EIO;
	*now_ms = text_i64(res, 0, 0, 0);
	PQclear(res);
	res = read_query(p, "ratelimit_changes",
			 "SELECT source, key, per_ms, window_ms, hits FROM ratelimit_counts"
			 " WHERE updated_ms >= $1::bigint",
			 1, vals, 0);
	if (res == NULL)
		return HG_EIO;
	for (i = 0; i < PQntuples(res); i++) {
		struct hg_store_rl_count c = {
		    .source = PQgetvalue(res, i, 0),
		    .key = PQgetvalue(res, i, 1),
		    .per_ms = text_i64(res, i, 2, 0),
		    .window_ms = text_i64(res, i, 3, 0),
		    .total_cur = text_i64(res, i, 4, 0),
		    .total_prev = -1,
		};

		/* a key stored as "hex:..." was not UTF-8: no local key matches
		 * it as text, so it is left out rather than decoded */
		if (strncmp(c.key, "hex:", 4) == 0)
			continue;
		if (fn(&c, arg) != 0)
			break;
	}
	PQclear(res);
	return HG_OK;
}

const struct hg_store_ops hg_store_postgres_ops = {
    .name = "postgres",
    .open = pg_open,
    .close = pg_close,
    .schema_version = pg_schema_version,
    .put_batch = pg_put_batch,
    .get_message = pg_get_message,
    .count_messages = pg_count_messages,
    .ping = pg_ping,
    .audit_rows = pg_audit_rows,
    .record_and_claim = pg_record_and_claim,
    .next_due = pg_next_due,
    .replay = pg_replay,
    .retry_dead = pg_retry_dead,
    .list_messages = pg_list_messages,
    .list_deliveries = pg_list_deliveries,
    .message_attempts = pg_message_attempts,
    .count_deliveries = pg_count_deliveries,
    .stats_add = pg_stats_add,
    .stats_read = pg_stats_read,
    .purge = pg_purge,
    .audit_purge = pg_audit_purge,
    .api_key_put = pg_api_key_put,
    .api_key_find = pg_api_key_find,
    .sub_create = pg_sub_create,
    .sub_get = pg_sub_get,
    .sub_each = pg_sub_each,
    .sub_update = pg_sub_update,
    .sub_delete = pg_sub_delete,
    .sub_set_secret = pg_sub_set_secret,
    .sub_deliveries = pg_sub_deliveries,
    .sub_outcome = pg_sub_outcome,
    .ratelimit_add = pg_ratelimit_add,
    .ratelimit_changes = pg_ratelimit_changes,
};
