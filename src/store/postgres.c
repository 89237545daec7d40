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
 *
 * This file holds the connection, migrations, the transaction path,
 * messages, the audit append and deliveries; the reads, stats and
 * retention, the outbound subscriptions and the shared rate-limit counters
 * are files of their own beside it (postgres_internal.h lists them).
 */
#include <endian.h>
#include <errno.h>
#include <inttypes.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
		     "  INSERT INTO messages (id, source, received_ms, content_type, headers, body,"
		     "   key_id, request_id) VALUES ($1::text, $2::text, $3::bigint, $4::text,"
		     "   $5::text, $6::bytea, $10::text, $11::text))"
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
    [P_GET] = "SELECT id, source, received_ms, content_type, headers, body, key_id, request_id"
	      " FROM messages WHERE id = $1::text",
    [P_COUNT_ALL] = "SELECT count(*) FROM messages",
    [P_COUNT_SOURCE] = "SELECT count(*) FROM messages WHERE source = $1::text",
    [P_PING] = "SELECT max(version) FROM schema_version",
    [P_AUDIT_LOCK] = HG_PG_LOCK_AUDIT,
    [P_AUDIT_LAST] = "SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1",
    [P_AUDIT_INSERT] =
	"INSERT INTO audit_log (seq, ts_ms, event, source, client, reason,"
	" prev_hash, hash, count) VALUES ($1::bigint, $2::bigint, $3::text, $4::text,"
	" $5::text, $6::text, $7::text, $8::text, $9::bigint)",
    [P_AUDIT_ALL] = "SELECT seq, ts_ms, event, source, client, reason, prev_hash, hash, count"
		    " FROM audit_log ORDER BY seq",
    [P_CLAIM] = HG_PG_CLAIM("endpoint = $4::text"),
    [P_CLAIM_PREFIX] = HG_PG_CLAIM("starts_with(endpoint, $4::text)"),
    [P_INSERT_ATTEMPT] = "INSERT INTO attempts (delivery_id, n, started_ms, duration_ms,"
			 " status_code, error, response_head, key_id) VALUES ($1::text,"
			 " $2::integer, $3::bigint, $4::bigint, $5::integer, $6::text, $7::bytea,"
			 " $8::text)",
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
int hg_pg_fail_with(struct hg_pg *p, struct hg_pg_fail *f, const char *what, const PGresult *res)
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
PGresult *hg_pg_exec_stmt(struct hg_pg *p, int which, int n, const char *const *vals,
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

int hg_pg_utf8_valid(const char *s)
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
const char *hg_pg_text_param(struct hg_buf *b, const char *s, int *rc)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t n, i = 0, l;

	*rc = HG_OK;
	if (s == NULL || hg_pg_utf8_valid(s))
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
int hg_pg_stored_key(struct hg_buf *b, const char *key)
{
	static const char digits[] = "0123456789abcdef";
	const unsigned char *u = (const unsigned char *)key;
	int rc;

	b->len = 0;
	if (hg_pg_utf8_valid(key))
		return hg_buf_puts(b, key);
	rc = hg_buf_puts(b, "hex:");
	for (; rc == HG_OK && *u != '\0'; u++) {
		char two[2] = {digits[*u >> 4], digits[*u & 0xf]};

		rc = hg_buf_append(b, two, 2);
	}
	return rc;
}

/* Array literals (text[], int[], bigint[]) travel as ONE parameter each,
 * so a batch is a few statements whatever its size. hg_pg_arr_start() empties b,
 * hg_pg_arr_add() appends one element (quoted, with '"' and '\' escaped, as the
 * array syntax wants), hg_pg_arr_end() closes it. The values are data in a
 * parameter, never SQL text. */
void hg_pg_arr_start(struct hg_buf *b)
{
	b->len = 0;
}

int hg_pg_arr_add(struct hg_buf *b, const char *v, size_t n)
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

int hg_pg_arr_add_int(struct hg_buf *b, int64_t v)
{
	return hg_buf_printf(b, "%s%" PRId64, b->len == 0 ? "{" : ",", v);
}

int hg_pg_arr_end(struct hg_buf *b)
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
static int retryable(const struct hg_pg *p, const struct hg_pg_fail *f)
{
	if (PQstatus(p->conn) != CONNECTION_OK)
		return 0;
	return strcmp(f->sqlstate, "40001") == 0 || strcmp(f->sqlstate, "40P01") == 0 ||
	       strcmp(f->sqlstate, "23505") == 0 || strcmp(f->sqlstate, "HG001") == 0;
}

/* Runs body in one transaction: begin (BEGIN and what goes with it),
 * body, COMMIT, again from the beginning when a concurrent node made it
 * fail in a way a rerun cures. body returns HG_OK or fills f (hg_pg_fail_with)
 * and returns HG_EIO; reset undoes what body set in its results before a
 * rerun. On failure one log line says what failed. Returns HG_OK or
 * HG_EIO. */
static int txn_body(struct hg_pg *p, const char *op, const char *begin,
		    int (*body)(struct hg_pg *p, void *arg, struct hg_pg_fail *f),
		    void (*reset)(void *arg), void *arg)
{
	struct hg_pg_fail f = {0};
	PGresult *res;
	int tries, rc = HG_EIO;

	for (tries = 1; tries <= HG_PG_TRIES; tries++) {
		memset(&f, 0, sizeof(f));
		res = PQexec(p->conn, begin);
		if (PQresultStatus(res) != PGRES_COMMAND_OK)
			rc = hg_pg_fail_with(p, &f, "BEGIN", res);
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
				rc = hg_pg_fail_with(p, &f, "COMMIT", res);
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
int hg_pg_txn_run(struct hg_pg *p, const char *op,
		  int (*body)(struct hg_pg *p, void *arg, struct hg_pg_fail *f),
		  void (*reset)(void *arg), void *arg)
{
	return txn_body(p, op, "BEGIN", body, reset, arg);
}

/* hg_pg_txn_run() without waiting for the WAL flush: COMMIT returns at once and
 * the commit reaches the disk with the next flush of any session (the WAL
 * is flushed in order, so a durable commit after it makes it durable too)
 * or within a few wal_writer_delay. For writes that a server crash may
 * undo without breaking a promise: a claim undone is a delivery claimed
 * again, attempted at least once as always. SET LOCAL ends with the
 * transaction, and travels in BEGIN's round trip. */
static int txn_run_lazy(struct hg_pg *p, const char *op,
			int (*body)(struct hg_pg *p, void *arg, struct hg_pg_fail *f),
			void (*reset)(void *arg), void *arg)
{
	return txn_body(p, op, "BEGIN; SET LOCAL synchronous_commit = off", body, reset, arg);
}

/* ---- messages ---- */

/* Inserts one pending delivery of an open transaction; id receives its id. */
static int insert_delivery(struct hg_pg *p, const char *message_id, const char *endpoint,
			   int64_t due_ms, int64_t now_ms, char id[HG_UUID_LEN + 1],
			   struct hg_pg_fail *f)
{
	char due[24], now[24];
	const char *vals[5] = {id, message_id, endpoint, due, now};
	PGresult *res;
	int rc = HG_OK;

	hg_uuid7(id);
	snprintf(due, sizeof(due), "%" PRId64, due_ms);
	snprintf(now, sizeof(now), "%" PRId64, now_ms);
	res = hg_pg_exec_stmt(p, P_INSERT_DELIVERY, 5, vals, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_COMMAND_OK)
		rc = hg_pg_fail_with(p, f, "delivery insert", res);
	PQclear(res);
	return rc;
}

/* Phase 1 of a batch: every key at once; marks the new messages
 * ACCEPTED and the others DUPLICATE. */
static int put_keys(struct hg_pg *p, struct hg_store_msg *const *msgs, size_t n,
		    struct hg_pg_fail *f)
{
	const char *vals[4];
	PGresult *res;
	size_t i, k;
	int rc = HG_OK, r;

	for (k = 0; k < 4; k++)
		hg_pg_arr_start(&p->arr[k]);
	for (i = 0; i < n && rc == HG_OK; i++) {
		/* no keys: nothing to match, always new */
		msgs[i]->outcome =
		    msgs[i]->n_dedupe_keys == 0 ? HG_STORE_ACCEPTED : HG_STORE_DUPLICATE;
		for (k = 0; k < msgs[i]->n_dedupe_keys && rc == HG_OK; k++) {
			rc = hg_pg_stored_key(&p->key, msgs[i]->dedupe_keys[k]);
			if (rc == HG_OK)
				rc = hg_pg_arr_add(&p->arr[0], msgs[i]->source,
						   strlen(msgs[i]->source));
			if (rc == HG_OK)
				rc = hg_pg_arr_add(&p->arr[1], (const char *)p->key.data,
						   p->key.len);
			if (rc == HG_OK)
				rc = hg_pg_arr_add(&p->arr[2], msgs[i]->id, strlen(msgs[i]->id));
			if (rc == HG_OK)
				rc = hg_pg_arr_add_int(&p->arr[3], (int64_t)i);
		}
	}
	for (k = 0; k < 4 && rc == HG_OK; k++)
		rc = hg_pg_arr_end(&p->arr[k]);
	if (rc != HG_OK) {
		f->what = "dedupe keys";
		hg_strlcpy(f->msg, "out of memory", sizeof(f->msg));
		return HG_EIO;
	}
	for (k = 0; k < 4; k++)
		vals[k] = (const char *)p->arr[k].data;
	res = hg_pg_exec_stmt(p, P_KEYS, 4, vals, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		rc = hg_pg_fail_with(p, f, "dedupe key insert", res);
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
static int put_message(struct hg_pg *p, struct hg_store_msg *m, struct hg_pg_fail *f)
{
	char received[24], id[HG_UUID_LEN + 1];
	const char *vals[11];
	int lens[11] = {0}, fmts[11] = {0};
	PGresult *res;
	size_t k;
	int rc = HG_OK, tr = HG_OK;

	for (k = 0; k < 3; k++)
		hg_pg_arr_start(&p->darr[k]);
	for (k = 0; k < m->n_targets && rc == HG_OK; k++) {
		hg_uuid7(id);
		rc = hg_pg_arr_add(&p->darr[0], id, HG_UUID_LEN);
		if (rc == HG_OK)
			rc = hg_pg_arr_add(&p->darr[1], m->targets[k].endpoint,
					   strlen(m->targets[k].endpoint));
		if (rc == HG_OK)
			rc = hg_pg_arr_add_int(&p->darr[2], m->targets[k].due_ms);
	}
	for (k = 0; k < 3 && rc == HG_OK; k++)
		rc = hg_pg_arr_end(&p->darr[k]);
	snprintf(received, sizeof(received), "%" PRId64, m->received_ms);
	vals[0] = m->id;
	vals[1] = m->source;
	vals[2] = received;
	vals[3] = hg_pg_text_param(&p->fix[0], m->content_type, &tr);
	if (tr == HG_OK)
		vals[4] = hg_pg_text_param(&p->fix[1], m->headers_json, &tr);
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
	vals[9] = m->key_id;
	vals[10] = m->request_id;
	res = hg_pg_exec_stmt(p, P_INSERT_MSG, 11, vals, lens, fmts, 0);
	if (PQresultStatus(res) != PGRES_COMMAND_OK)
		rc = hg_pg_fail_with(p, f, "message insert", res);
	PQclear(res);
	if (rc == HG_OK)
		rc = hg_pg_put_media(p, m, f);
	if (rc == HG_OK)
		memcpy(m->first_id, m->id, sizeof(m->first_id));
	return rc;
}

/* Phase 3: the duplicates learn the id they duplicate (their first key's
 * message, stored before or earlier in this batch), and those messages
 * count one more sighting each. */
static int put_duplicates(struct hg_pg *p, struct hg_store_msg *const *msgs, size_t n, size_t ndup,
			  struct hg_pg_fail *f)
{
	const char *vals[3];
	PGresult *res;
	size_t i, k, found = 0;
	int rc = HG_OK, r;

	for (k = 0; k < 3; k++)
		hg_pg_arr_start(&p->arr[k]);
	for (i = 0; i < n && rc == HG_OK; i++) {
		if (msgs[i]->outcome != HG_STORE_DUPLICATE)
			continue;
		rc = hg_pg_stored_key(&p->key, msgs[i]->dedupe_keys[0]);
		if (rc == HG_OK)
			rc = hg_pg_arr_add(&p->arr[0], msgs[i]->source, strlen(msgs[i]->source));
		if (rc == HG_OK)
			rc = hg_pg_arr_add(&p->arr[1], (const char *)p->key.data, p->key.len);
		if (rc == HG_OK)
			rc = hg_pg_arr_add_int(&p->arr[2], (int64_t)i);
	}
	for (k = 0; k < 3 && rc == HG_OK; k++)
		rc = hg_pg_arr_end(&p->arr[k]);
	if (rc != HG_OK) {
		f->what = "duplicate lookup";
		hg_strlcpy(f->msg, "out of memory", sizeof(f->msg));
		return HG_EIO;
	}
	for (k = 0; k < 3; k++)
		vals[k] = (const char *)p->arr[k].data;
	res = hg_pg_exec_stmt(p, P_FIRST_IDS, 3, vals, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		rc = hg_pg_fail_with(p, f, "duplicate lookup", res);
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
	hg_pg_arr_start(&p->arr[0]);
	for (i = 0; i < n && rc == HG_OK; i++)
		if (msgs[i]->outcome == HG_STORE_DUPLICATE)
			rc =
			    hg_pg_arr_add(&p->arr[0], msgs[i]->first_id, strlen(msgs[i]->first_id));
	if (rc == HG_OK)
		rc = hg_pg_arr_end(&p->arr[0]);
	if (rc != HG_OK) {
		f->what = "duplicate count";
		hg_strlcpy(f->msg, "out of memory", sizeof(f->msg));
		return HG_EIO;
	}
	vals[0] = (const char *)p->arr[0].data;
	res = hg_pg_exec_stmt(p, P_LOCK_DUPS, 1, vals, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK)
		rc = hg_pg_fail_with(p, f, "duplicate count lock", res);
	PQclear(res);
	if (rc != HG_OK)
		return rc;
	res = hg_pg_exec_stmt(p, P_BUMP_DUPS, 1, vals, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_COMMAND_OK)
		rc = hg_pg_fail_with(p, f, "duplicate count", res);
	PQclear(res);
	return rc;
}

/* Appends ev[0..n) after the last row of the shared log, each row chained
 * to the one before. The advisory lock makes "read the last row, append"
 * atomic across nodes until this transaction ends. */
int hg_pg_append_audit(struct hg_pg *p, const struct hg_audit_event *ev, size_t n,
		       struct hg_pg_fail *f)
{
	char prev[HG_AUDIT_HASH_LEN + 1], hash[HG_AUDIT_HASH_LEN + 1];
	char seqs[24], ts[24], cnt[24];
	const char *vals[9];
	PGresult *res;
	int64_t seq = 0;
	size_t i;
	int rc = HG_OK, tr = HG_OK;

	res = hg_pg_exec_stmt(p, P_AUDIT_LOCK, 0, NULL, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK)
		rc = hg_pg_fail_with(p, f, "audit log lock", res);
	PQclear(res);
	if (rc != HG_OK)
		return rc;
	memcpy(prev, hg_store_audit_genesis, sizeof(prev));
	res = hg_pg_exec_stmt(p, P_AUDIT_LAST, 0, NULL, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		rc = hg_pg_fail_with(p, f, "audit log read", res);
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

		e.event = hg_pg_text_param(&p->fix[0], ev[i].event, &tr);
		if (tr == HG_OK)
			e.source = hg_pg_text_param(&p->fix[1], ev[i].source, &tr);
		if (tr == HG_OK)
			e.client = hg_pg_text_param(&p->fix[2], ev[i].client, &tr);
		if (tr == HG_OK)
			e.reason = hg_pg_text_param(&p->fix[3], ev[i].reason, &tr);
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
		res = hg_pg_exec_stmt(p, P_AUDIT_INSERT, 9, vals, NULL, NULL, 0);
		if (PQresultStatus(res) != PGRES_COMMAND_OK)
			rc = hg_pg_fail_with(p, f, "audit log append", res);
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

static int put_body(struct hg_pg *p, void *arg, struct hg_pg_fail *f)
{
	struct put_args *a = arg;
	struct hg_store_batch_audit b;
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
	if (hg_store_batch_audit(a->msgs, a->n, a->ev, a->nev, &b) != HG_OK) {
		f->what = "audit log append";
		hg_strlcpy(f->msg, "out of memory", sizeof(f->msg));
		rc = HG_EIO;
	} else if (b.n > 0) {
		rc = hg_pg_append_audit(p, b.ev, b.n, f);
	}
	hg_store_batch_audit_free(&b);
	return rc;
}

static int pg_put_batch(struct hg_store *st, struct hg_store_msg *const *msgs, size_t n,
			const struct hg_audit_event *ev, size_t nev)
{
	struct put_args a = {.msgs = msgs, .n = n, .ev = ev, .nev = nev};

	if (n == 0 && nev == 0)
		return HG_OK;
	return hg_pg_txn_run((struct hg_pg *)st, "put_batch", put_body, put_reset, &a);
}

/* Logs a failed read. */
void hg_pg_read_failed(struct hg_pg *p, const char *op, const PGresult *res)
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
	if (!hg_pg_utf8_valid(id)) /* no stored id is; the server would refuse the text */
		return HG_ENOTFOUND;
	/* Binary results: the body arrives as its bytes, received_ms as int8. */
	res = hg_pg_exec_stmt(p, P_GET, 1, vals, NULL, NULL, 1);
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		hg_pg_read_failed(p, "get_message", res);
		goto out;
	}
	if (PQntuples(res) == 0) {
		ret = HG_ENOTFOUND;
		goto out;
	}
	ret = HG_ENOMEM;
	if (PQgetlength(res, 0, 0) > HG_UUID_LEN || PQgetlength(res, 0, 2) != 8) {
		ret = HG_EIO;
		hg_pg_read_failed(p, "get_message", NULL);
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
	if (!PQgetisnull(res, 0, 6))
		hg_strlcpy(row->key_id, PQgetvalue(res, 0, 6), sizeof(row->key_id));
	if (!PQgetisnull(res, 0, 7))
		hg_strlcpy(row->request_id, PQgetvalue(res, 0, 7), sizeof(row->request_id));
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
	res = source != NULL ? hg_pg_exec_stmt(p, P_COUNT_SOURCE, 1, vals, NULL, NULL, 0)
			     : hg_pg_exec_stmt(p, P_COUNT_ALL, 0, NULL, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1) {
		hg_pg_read_failed(p, "count_messages", res);
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
		hg_pg_read_failed(p, "audit_rows", NULL);
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
			hg_pg_read_failed(p, "audit_rows", res);
			ret = HG_EIO;
		}
		PQclear(res);
	}
	return ret;
}

static int pg_audit_list(struct hg_store *st, const struct hg_store_audit_filter *f,
			 int (*fn)(const struct hg_store_audit_row *row, void *arg), void *arg)
{
	static const char sql[] =
	    "SELECT seq, ts_ms, event, source, client, reason, prev_hash, hash, count"
	    " FROM audit_log WHERE ($1::bigint IS NULL OR ts_ms >= $1::bigint)"
	    " AND ($2::bigint IS NULL OR ts_ms < $2::bigint)"
	    " AND ($3::text IS NULL OR event = $3::text)"
	    " AND ($4::text IS NULL OR source = $4::text)"
	    " AND ($5::bigint IS NULL OR seq < $5::bigint)"
	    " ORDER BY seq DESC LIMIT $6::bigint";
	struct hg_pg *p = (struct hg_pg *)st;
	char since[24], until[24], before[24], limit[24];
	const char *vals[6] = {NULL, NULL, f->event, f->source, NULL, NULL};
	PGresult *res;
	int stop = 0;

	snprintf(since, sizeof(since), "%" PRId64, f->since_ms);
	snprintf(until, sizeof(until), "%" PRId64, f->until_ms);
	snprintf(before, sizeof(before), "%" PRId64, f->before_seq);
	snprintf(limit, sizeof(limit), "%zu", f->limit);
	vals[0] = f->since_ms != INT64_MIN ? since : NULL;
	vals[1] = f->until_ms != INT64_MAX ? until : NULL;
	vals[4] = f->before_seq > 0 ? before : NULL;
	vals[5] = f->limit > 0 ? limit : NULL;
	if (!hg_pg_params_utf8(vals, 6))
		return HG_OK; /* such a filter matches nothing */
	res = hg_pg_read_query(p, "audit_list", sql, 6, vals, 0);
	if (res == NULL)
		return HG_EIO;
	audit_feed(res, fn, arg, &stop);
	PQclear(res);
	return HG_OK;
}

static int pg_ping(struct hg_store *st)
{
	struct hg_pg *p = (struct hg_pg *)st;
	PGresult *res;
	int rc;

	if (PQstatus(p->conn) != CONNECTION_OK)
		return HG_EIO;
	res = hg_pg_exec_stmt(p, P_PING, 0, NULL, NULL, NULL, 0);
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

	if (n + 1 > cap || !hg_pg_utf8_valid(name))
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

static int claim_body(struct hg_pg *p, void *arg, struct hg_pg_fail *f)
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
		res = hg_pg_exec_stmt(p, which, 5, vals, NULL, NULL, 0);
		if (PQresultStatus(res) != PGRES_TUPLES_OK) {
			rc = hg_pg_fail_with(p, f, "claim", res);
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

static int attempts_body(struct hg_pg *p, void *arg, struct hg_pg_fail *f)
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
		const char *error = hg_pg_text_param(&p->fix[0], a->error, &tr);

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
		vals[7] = a->key_id;
		res = hg_pg_exec_stmt(p, P_INSERT_ATTEMPT, 8, vals, lens, fmts, 0);
		if (PQresultStatus(res) != PGRES_COMMAND_OK)
			rc = hg_pg_fail_with(p, f, "attempt insert", res);
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
		res = hg_pg_exec_stmt(p, P_OUTCOME, 8, vals, NULL, NULL, 0);
		if (PQresultStatus(res) != PGRES_COMMAND_OK)
			rc = hg_pg_fail_with(p, f, "delivery outcome", res);
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

static int settle_body(struct hg_pg *p, void *arg, struct hg_pg_fail *f)
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
		return hg_pg_txn_run((struct hg_pg *)st, "record_and_claim", settle_body,
				     settle_reset, &x);
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
		which =
		    hg_store_endpoint_is_prefix(endpoint) ? P_NEXT_DUE_PREFIX : P_NEXT_DUE_ENDPOINT;
	res = hg_pg_exec_stmt(p, which, endpoint != NULL ? 2 : 1, vals, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1) {
		hg_pg_read_failed(p, "next_due", res);
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
static int exists(struct hg_pg *p, int which, const char *key, struct hg_pg_fail *f)
{
	const char *vals[1] = {key};
	PGresult *res = hg_pg_exec_stmt(p, which, 1, vals, NULL, NULL, 0);
	int rc;

	if (PQresultStatus(res) != PGRES_TUPLES_OK)
		rc = hg_pg_fail_with(p, f, "existence check", res);
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

static int replay_body(struct hg_pg *p, void *arg, struct hg_pg_fail *f)
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

	if (!hg_pg_utf8_valid(message_id))
		return HG_ENOTFOUND; /* no stored id is */
	rc = hg_pg_txn_run((struct hg_pg *)st, "replay", replay_body, NULL, &a);
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

static int retry_body(struct hg_pg *p, void *arg, struct hg_pg_fail *f)
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
	res = hg_pg_exec_stmt(p, a->delivery_id != NULL ? P_RETRY_ONE : P_RETRY_ENDPOINT, 2, vals,
			      NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_COMMAND_OK)
		rc = hg_pg_fail_with(p, f, "retry dead", res);
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
	if (delivery_id != NULL ? !hg_pg_utf8_valid(delivery_id) : !hg_pg_utf8_valid(endpoint))
		return delivery_id != NULL ? HG_ENOTFOUND : HG_OK; /* matches nothing */
	rc = hg_pg_txn_run((struct hg_pg *)st, "retry_dead", retry_body, NULL, &a);
	if (rc == HG_OK && !a.found)
		return HG_ENOTFOUND;
	return rc;
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
    .list_messages = hg_pg_list_messages,
    .list_deliveries = hg_pg_list_deliveries,
    .message_attempts = hg_pg_message_attempts,
    .count_deliveries = hg_pg_count_deliveries,
    .backlog = hg_pg_backlog,
    .stats_add = hg_pg_stats_add,
    .stats_read = hg_pg_stats_read,
    .purge = hg_pg_purge,
    .audit_list = pg_audit_list,
    .audit_purge = hg_pg_audit_purge,
    .api_key_put = hg_pg_api_key_put,
    .api_key_find = hg_pg_api_key_find,
    .api_key_each = hg_pg_api_key_each,
    .api_key_delete = hg_pg_api_key_delete,
    .sub_create = hg_pg_sub_create,
    .sub_get = hg_pg_sub_get,
    .sub_each = hg_pg_sub_each,
    .sub_update = hg_pg_sub_update,
    .sub_delete = hg_pg_sub_delete,
    .sub_set_secret = hg_pg_sub_set_secret,
    .meta_get = hg_pg_meta_get,
    .meta_put = hg_pg_meta_put,
    .key_usage = hg_pg_key_usage,
    .sealed_scan = hg_pg_sealed_scan,
    .sealed_swap = hg_pg_sealed_swap,
    .dedupe_scan = hg_pg_dedupe_scan,
    .dedupe_rehash = hg_pg_dedupe_rehash,
    .alert_set = hg_pg_alert_set,
    .alert_list = hg_pg_alert_list,
    .media_claim = hg_pg_media_claim,
    .media_update = hg_pg_media_update,
    .media_get = hg_pg_media_get,
    .media_list = hg_pg_media_list,
    .media_old = hg_pg_media_old,
    .media_defer = hg_pg_media_defer,
    .media_counts = hg_pg_media_counts,
    .sub_deliveries = hg_pg_sub_deliveries,
    .sub_outcome = hg_pg_sub_outcome,
    .ratelimit_add = hg_pg_ratelimit_add,
    .ratelimit_changes = hg_pg_ratelimit_changes,
};
