/*
 * test_audit.c — the hash-chained audit log against a real SQLite file:
 * appends through the store and through the ingest writer (in the same
 * batch as messages, kept across a store failure), the row hash pinned to
 * the serialization store.h defines, and verification that finds a changed
 * row, a deleted row, reordered rows and a re-hashed row, with sqlite3
 * playing the attacker on the file directly.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <inttypes.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fixture.h"
#include "ingest/ingest.h"
#include "store/store.h"

static int setup(void **state)
{
	return hg_test_store_setup(state, "hg-audit", "var/hookgate.db");
}

static int teardown(void **state)
{
	return hg_test_store_teardown(state);
}

/* ---- helpers ---- */

/* Runs sql on the file with a connection of its own, as an attacker with
 * write access to the database would. */
static void sql_exec(const char *db, const char *sql)
{
	sqlite3 *h = NULL;
	char *msg = NULL;

	assert_int_equal(sqlite3_open_v2(db, &h, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
	if (sqlite3_exec(h, sql, NULL, NULL, &msg) != SQLITE_OK)
		fail_msg("%s: %s", sql, msg);
	assert_int_equal(sqlite3_close(h), SQLITE_OK);
}

/* sqlite3_exec's answer to sql, which must fail: the error message. */
static void sql_must_fail(const char *db, const char *sql, const char *needle)
{
	sqlite3 *h = NULL;
	char *msg = NULL;

	assert_int_equal(sqlite3_open_v2(db, &h, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
	assert_int_not_equal(sqlite3_exec(h, sql, NULL, NULL, &msg), SQLITE_OK);
	assert_non_null(msg);
	assert_non_null(strstr(msg, needle));
	sqlite3_free(msg);
	assert_int_equal(sqlite3_close(h), SQLITE_OK);
}

/* One text column of the first row of sql, into out. */
static void sql_text(const char *db, const char *sql, char *out, size_t outlen)
{
	sqlite3 *h = NULL;
	sqlite3_stmt *q = NULL;

	assert_int_equal(sqlite3_open_v2(db, &h, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(h, sql, -1, &q, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(q), SQLITE_ROW);
	snprintf(out, outlen, "%s", (const char *)sqlite3_column_text(q, 0));
	sqlite3_finalize(q);
	assert_int_equal(sqlite3_close(h), SQLITE_OK);
}

static void put_text(char *buf, size_t cap, size_t *len, const char *v)
{
	int n = v == NULL ? snprintf(buf + *len, cap - *len, "n;")
			  : snprintf(buf + *len, cap - *len, "s%zu:%s;", strlen(v), v);

	assert_true(n > 0 && (size_t)n < cap - *len);
	*len += (size_t)n;
}

/* The row hash exactly as store.h specifies it, written out independently. */
static void spec_hash(const char *prev, int64_t seq, const struct hg_audit_event *ev, char out[65])
{
	char buf[1024];
	uint8_t digest[32];
	size_t len = 0;
	int n;

	n = snprintf(buf, sizeof(buf), "%s\ni%" PRId64 ";i%" PRId64 ";", prev, seq, ev->ts_ms);
	assert_true(n > 0 && (size_t)n < sizeof(buf));
	len = (size_t)n;
	put_text(buf, sizeof(buf), &len, ev->event);
	put_text(buf, sizeof(buf), &len, ev->source);
	put_text(buf, sizeof(buf), &len, ev->client);
	put_text(buf, sizeof(buf), &len, ev->reason);
	if (ev->count != 0 && ev->count != 1) {
		n = snprintf(buf + len, sizeof(buf) - len, "i%" PRId64 ";", ev->count);
		assert_true(n > 0 && (size_t)n < sizeof(buf) - len);
		len += (size_t)n;
	}
	hg_sha256((const uint8_t *)buf, len, digest);
	hg_hex_encode(digest, sizeof(digest), out);
}

static const char zeros[] = "0000000000000000000000000000000000000000000000000000000000000000";

static const struct hg_audit_event five[] = {
    {1700000000000, "config_loaded", NULL, NULL, "/etc/hookgate/hookgate.yaml", 0},
    {1700000001000, "bad_signature", "whatsapp", "192.0.2.7", "signature mismatch", 0},
    {1700000002000, "replay", "stripe", "192.0.2.8", "timestamp outside tolerance", 0},
    {1700000003000, "mtls_failure", "instagram", "2001:db8::9", "", 0},
    {1700000004000, "rate_limited", "whatsapp", "192.0.2.7 via 127.0.0.1", "over 100", 0},
};

/* Appends the five events above: three, then two (chaining across calls). */
static void append_five(struct hg_store *st)
{
	assert_int_equal(hg_store_audit_append(st, five, 3), HG_OK);
	assert_int_equal(hg_store_audit_append(st, five + 3, 2), HG_OK);
}

static int64_t verify(struct hg_store *st, int want_rc, int64_t *bad_seq, char *why, size_t whylen)
{
	int64_t rows = -1;

	*bad_seq = -1;
	assert_int_equal(hg_store_audit_verify(st, &rows, bad_seq, why, whylen), want_rc);
	return rows;
}

/* The chain is broken first at row want_seq, and why contains needle. */
static void expect_broken(struct hg_store *st, int64_t want_seq, const char *needle)
{
	char why[256];
	int64_t bad;

	verify(st, HG_EAUTH, &bad, why, sizeof(why));
	if (bad != want_seq || strstr(why, needle) == NULL)
		fail_msg("expected a break at row %" PRId64 " (\"%s\"), got row %" PRId64 ": %s",
			 want_seq, needle, bad, why);
}

/* ---- tests ---- */

static void test_empty_log_verifies(void **state)
{
	struct hg_test_store *f = *state;
	char why[128];
	int64_t bad;

	assert_int_equal(verify(f->st, HG_OK, &bad, why, sizeof(why)), 0);
	assert_int_equal(bad, 0);
	/* zero events is no transaction at all */
	assert_int_equal(hg_store_audit_append(f->st, NULL, 0), HG_OK);
}

static void test_chain_matches_spec(void **state)
{
	struct hg_test_store *f = *state;
	char prev[65], want[65], got[80], sql[128], why[128];
	int64_t bad;
	int i;

	append_five(f->st);
	assert_int_equal(verify(f->st, HG_OK, &bad, why, sizeof(why)), 5);
	memcpy(prev, zeros, sizeof(prev));
	for (i = 0; i < 5; i++) {
		snprintf(sql, sizeof(sql), "SELECT prev_hash FROM audit_log WHERE seq = %d", i + 1);
		sql_text(f->db, sql, got, sizeof(got));
		assert_string_equal(got, prev);
		spec_hash(prev, i + 1, &five[i], want);
		snprintf(sql, sizeof(sql), "SELECT hash FROM audit_log WHERE seq = %d", i + 1);
		sql_text(f->db, sql, got, sizeof(got));
		assert_string_equal(got, want);
		memcpy(prev, want, sizeof(prev));
	}
	/* NULL and "" are different fields */
	sql_text(f->db, "SELECT quote(source) FROM audit_log WHERE seq = 1", got, sizeof(got));
	assert_string_equal(got, "NULL");
	sql_text(f->db, "SELECT quote(reason) FROM audit_log WHERE seq = 4", got, sizeof(got));
	assert_string_equal(got, "''");
}

static void test_append_only_triggers(void **state)
{
	struct hg_test_store *f = *state;

	append_five(f->st);
	sql_must_fail(f->db, "UPDATE audit_log SET reason = 'x' WHERE seq = 2", "append-only");
	sql_must_fail(f->db, "DELETE FROM audit_log WHERE seq = 2", "append-only");
}

/* The attacker drops the triggers first; the chain still tells. */
#define UNGUARD "DROP TRIGGER audit_log_no_update; DROP TRIGGER audit_log_no_delete; "

static void test_changed_row_is_found(void **state)
{
	struct hg_test_store *f = *state;

	append_five(f->st);
	sql_exec(f->db, UNGUARD "UPDATE audit_log SET reason = 'all good' WHERE seq = 3");
	expect_broken(f->st, 3, "do not match its hash");
}

static void test_changed_time_is_found(void **state)
{
	struct hg_test_store *f = *state;

	append_five(f->st);
	sql_exec(f->db, UNGUARD "UPDATE audit_log SET ts_ms = ts_ms + 1 WHERE seq = 5");
	expect_broken(f->st, 5, "do not match its hash");
}

static void test_deleted_row_is_found(void **state)
{
	struct hg_test_store *f = *state;
	char why[256];
	int64_t bad, rows;

	append_five(f->st);
	sql_exec(f->db, UNGUARD "DELETE FROM audit_log WHERE seq = 3");
	expect_broken(f->st, 3, "row 3 is missing (the log goes from row 2 to row 4)");
	rows = verify(f->st, HG_EAUTH, &bad, why, sizeof(why));
	assert_int_equal(rows, 2);

	sql_exec(f->db, "DELETE FROM audit_log WHERE seq = 2");
	expect_broken(f->st, 2, "rows 2 to 3 are missing");
	sql_exec(f->db, "DELETE FROM audit_log WHERE seq = 1");
	expect_broken(f->st, 1, "rows 1 to 3 are missing");
}

/* Renumbering after a delete hides the gap but not the broken link. */
static void test_renumbered_rows_are_found(void **state)
{
	struct hg_test_store *f = *state;

	append_five(f->st);
	sql_exec(f->db, UNGUARD "DELETE FROM audit_log WHERE seq = 2;"
				"UPDATE audit_log SET seq = seq - 1 WHERE seq > 2");
	expect_broken(f->st, 2, "prev_hash does not match");
}

static void test_reordered_rows_are_found(void **state)
{
	struct hg_test_store *f = *state;

	append_five(f->st);
	/* rows 2 and 3 trade places, each keeping its own hashes */
	sql_exec(f->db, UNGUARD "UPDATE audit_log SET seq = 100 WHERE seq = 2;"
				"UPDATE audit_log SET seq = 2 WHERE seq = 3;"
				"UPDATE audit_log SET seq = 3 WHERE seq = 100");
	expect_broken(f->st, 2, "prev_hash does not match");
}

/* Re-hashing the changed row itself moves the break to the next row. */
static void test_rehashed_row_is_found(void **state)
{
	struct hg_test_store *f = *state;
	struct hg_audit_event ev = five[1];
	char prev[80], hash[65], sql[512];

	append_five(f->st);
	sql_text(f->db, "SELECT prev_hash FROM audit_log WHERE seq = 2", prev, sizeof(prev));
	ev.reason = "nothing happened";
	spec_hash(prev, 2, &ev, hash);
	snprintf(sql, sizeof(sql),
		 UNGUARD
		 "UPDATE audit_log SET reason = 'nothing happened', hash = '%s' WHERE seq = 2",
		 hash);
	sql_exec(f->db, sql);
	expect_broken(f->st, 3, "prev_hash does not match");
}

/* A row's count is stored, hashed (only when it is not 1, so rows from
 * before the column verify as they were) and a changed count is found. */
static void test_count_is_chained(void **state)
{
	struct hg_test_store *f = *state;
	struct hg_audit_event ev[3] = {five[1], five[2], five[3]};
	char prev[80], want[65], got[80];
	int64_t bad;

	ev[0].count = 4077;
	ev[1].count = 1;
	assert_int_equal(hg_store_audit_append(f->st, ev, 3), HG_OK);
	assert_int_equal(verify(f->st, HG_OK, &bad, got, sizeof(got)), 3);
	sql_text(f->db, "SELECT group_concat(count, ',') FROM audit_log", got, sizeof(got));
	assert_string_equal(got, "4077,1,1"); /* 0 is stored as 1 */
	spec_hash(zeros, 1, &ev[0], want);
	sql_text(f->db, "SELECT hash FROM audit_log WHERE seq = 1", got, sizeof(got));
	assert_string_equal(got, want);
	sql_text(f->db, "SELECT hash FROM audit_log WHERE seq = 2", prev, sizeof(prev));
	spec_hash(prev, 3, &ev[2], want); /* count 0: the row hashes as before */
	sql_text(f->db, "SELECT hash FROM audit_log WHERE seq = 3", got, sizeof(got));
	assert_string_equal(got, want);

	sql_must_fail(f->db, "UPDATE audit_log SET count = 1 WHERE seq = 1", "append-only");
	sql_exec(f->db, UNGUARD "UPDATE audit_log SET count = 1 WHERE seq = 1");
	expect_broken(f->st, 1, "do not match its hash");
	sql_exec(f->db, "UPDATE audit_log SET count = 4077 WHERE seq = 1;"
			"UPDATE audit_log SET count = 2 WHERE seq = 2");
	expect_broken(f->st, 2, "do not match its hash");
}

/* Retention: a purge removes the oldest rows behind a chained checkpoint
 * row that names the last one removed and its hash; verify starts there and
 * still finds a changed row after it, a head removed without a checkpoint,
 * and a changed checkpoint. Only rows a checkpoint names can be deleted. */
static void test_retention_checkpoint(void **state)
{
	struct hg_test_store *f = *state;
	char why[256], got[512], want[160], h3[80];
	int64_t bad, removed = 0;
	int more = -1;

	append_five(f->st);
	sql_text(f->db, "SELECT hash FROM audit_log WHERE seq = 3", h3, sizeof(h3));
	/* nothing old enough: no checkpoint */
	assert_int_equal(
	    hg_store_audit_purge(f->st, 1699999999999, 100, 1700000009000, &removed, &more), HG_OK);
	assert_int_equal(removed, 0);
	assert_int_equal(verify(f->st, HG_OK, &bad, why, sizeof(why)), 5);

	/* rows 1-3 are older than the cutoff, row 4 is not */
	assert_int_equal(
	    hg_store_audit_purge(f->st, 1700000002500, 100, 1700000009000, &removed, &more), HG_OK);
	assert_int_equal(removed, 3);
	assert_int_equal(more, 0);
	sql_text(f->db, "SELECT group_concat(seq, ',') FROM audit_log", got, sizeof(got));
	assert_string_equal(got, "4,5,6");
	sql_text(f->db,
		 "SELECT event || '|' || count || '|' || ts_ms || '|' || reason FROM audit_log"
		 " WHERE seq = 6",
		 got, sizeof(got));
	snprintf(want, sizeof(want),
		 "audit_checkpoint|3|1700000009000|through row 3, hash %s: ", h3);
	assert_memory_equal(got, want, strlen(want));
	assert_int_equal(verify(f->st, HG_OK, &bad, why, sizeof(why)), 3);
	assert_non_null(strstr(why, "rows 1 to 3 were removed by audit_retention (checkpoint at "
				    "row 6)"));
	/* the log goes on from the checkpoint */
	assert_int_equal(hg_store_audit_append(f->st, five, 1), HG_OK);
	assert_int_equal(verify(f->st, HG_OK, &bad, why, sizeof(why)), 4);

	/* the guard: rows the checkpoint does not name stay undeletable */
	sql_must_fail(f->db, "DELETE FROM audit_log WHERE seq = 4", "append-only");
	sql_must_fail(f->db, "UPDATE audit_log SET reason = 'x' WHERE seq = 6", "append-only");

	/* a purge with a limit: one row at a time, more says so */
	assert_int_equal(
	    hg_store_audit_purge(f->st, 1700000004500, 1, 1700000009000, &removed, &more), HG_OK);
	assert_int_equal(removed, 4);
	assert_int_equal(more, 1);
	assert_int_equal(verify(f->st, HG_OK, &bad, why, sizeof(why)),
			 4); /* 5, 6, 7 and the new 8 */
	assert_non_null(strstr(why, "rows 1 to 4 were removed"));

	/* tampering after the checkpoint is found as before */
	sql_exec(f->db, UNGUARD "UPDATE audit_log SET reason = 'all good' WHERE seq = 5");
	expect_broken(f->st, 5, "do not match its hash");
}

/* The head removed without a checkpoint, or a checkpoint changed to cover
 * more, does not verify. */
static void test_retention_head_needs_checkpoint(void **state)
{
	struct hg_test_store *f = *state;
	char why[256];
	int64_t bad, removed = 0;
	int more;

	append_five(f->st);
	assert_int_equal(
	    hg_store_audit_purge(f->st, 1700000001500, 100, 1700000009000, &removed, &more), HG_OK);
	assert_int_equal(removed, 2);
	assert_int_equal(verify(f->st, HG_OK, &bad, why, sizeof(why)), 4);
	/* one more row off the head, by hand */
	sql_exec(f->db, UNGUARD "DELETE FROM audit_log WHERE seq = 3");
	expect_broken(f->st, 1,
		      "rows 1 to 3 are missing (the log starts at row 4 and no "
		      "retention checkpoint accounts for them)");
	/* and a checkpoint rewritten to cover it breaks the chain at itself */
	sql_exec(f->db, "UPDATE audit_log SET reason = replace(reason, 'through row 2,',"
			" 'through row 3,') WHERE event = 'audit_checkpoint'");
	expect_broken(f->st, 6, "do not match its hash");
}

/* Everything older than the cutoff goes, checkpoints included: the newest
 * checkpoint alone is a log that verifies. */
static void test_retention_removes_everything(void **state)
{
	struct hg_test_store *f = *state;
	char why[256], got[64];
	int64_t bad, removed = 0;
	int more;

	append_five(f->st);
	assert_int_equal(
	    hg_store_audit_purge(f->st, 1700000002500, 100, 1700000003500, &removed, &more), HG_OK);
	assert_int_equal(
	    hg_store_audit_purge(f->st, INT64_MAX, 100, 1700000009000, &removed, &more), HG_OK);
	assert_int_equal(removed, 6); /* 1-3, then 4, 5 and the first checkpoint */
	sql_text(f->db, "SELECT group_concat(seq || ':' || event, ',') FROM audit_log", got,
		 sizeof(got));
	assert_string_equal(got, "7:audit_checkpoint");
	assert_int_equal(verify(f->st, HG_OK, &bad, why, sizeof(why)), 1);
	assert_non_null(strstr(why, "rows 1 to 6 were removed"));
}

/* New rows chain from the last row on file, also across handles. */
static void test_chain_continues_after_reopen(void **state)
{
	struct hg_test_store *f = *state;
	struct hg_store *other = NULL;
	char err[256], why[128];
	int64_t bad;

	assert_int_equal(hg_store_audit_append(f->st, five, 2), HG_OK);
	assert_int_equal(hg_store_open(f->uri, &other, err, sizeof(err)), HG_OK);
	assert_int_equal(hg_store_audit_append(other, five + 2, 2), HG_OK);
	hg_store_close(other);
	assert_int_equal(hg_store_audit_append(f->st, five + 4, 1), HG_OK);
	assert_int_equal(verify(f->st, HG_OK, &bad, why, sizeof(why)), 5);
}

/* Messages and audit events commit together, or not at all. */
static void test_batch_is_all_or_nothing(void **state)
{
	struct hg_test_store *f = *state;
	struct hg_store_msg m = {0}, *msgs[1] = {&m};
	const char *keys[1] = {"k1"};
	struct hg_audit_event bad_ev = {1, NULL, NULL, NULL, NULL, 0}; /* event is NOT NULL */
	char why[128];
	int64_t bad, n = -1;

	hg_uuid7(m.id);
	m.source = "s";
	m.received_ms = 1;
	m.body = (const uint8_t *)"{}";
	m.body_len = 2;
	m.dedupe_keys = keys;
	m.n_dedupe_keys = 1;
	assert_int_equal(hg_store_put_batch(f->st, msgs, 1, five, 2), HG_OK);
	assert_int_equal(m.outcome, HG_STORE_ACCEPTED);
	assert_int_equal(hg_store_count_messages(f->st, NULL, &n), HG_OK);
	assert_int_equal(n, 1);
	assert_int_equal(verify(f->st, HG_OK, &bad, why, sizeof(why)), 2);

	hg_uuid7(m.id);
	keys[0] = "k2";
	assert_int_equal(hg_store_put_batch(f->st, msgs, 1, &bad_ev, 1), HG_EIO);
	assert_int_equal(hg_store_count_messages(f->st, NULL, &n), HG_OK);
	assert_int_equal(n, 1);
	assert_int_equal(verify(f->st, HG_OK, &bad, why, sizeof(why)), 2);
}

/* ---- through the ingest writer ---- */

struct one_req {
	struct hg_ingest_item it;
	const char *keys[1];
	atomic_int done;
};

static void one_done(struct hg_ingest_item *it)
{
	atomic_store(&((struct one_req *)it->user)->done, 1);
}

static void wait_rows(const char *uri, int64_t want)
{
	struct hg_store *st = NULL;
	char err[256], why[128];
	int64_t rows = -1, bad;
	int i;

	for (i = 0; i < 100 && rows != want; i++) {
		if (i > 0)
			usleep(50 * 1000);
		if (hg_store_open(uri, &st, err, sizeof(err)) != HG_OK)
			continue;
		rows = verify(st, HG_OK, &bad, why, sizeof(why));
		hg_store_close(st);
	}
	assert_int_equal(rows, want);
}

static void test_writer_appends_with_messages(void **state)
{
	struct hg_test_store *f = *state;
	struct hg_ingest *ing = NULL;
	struct one_req r;
	char err[256], got[128];
	int64_t n = -1;
	int i;

	hg_store_close(f->st);
	f->st = NULL;
	assert_int_equal(hg_ingest_start(f->uri, &ing, err, sizeof(err)), HG_OK);
	hg_ingest_audit(ing, "config_loaded", NULL, NULL, "/etc/hookgate/hookgate.yaml");
	memset(&r, 0, sizeof(r));
	hg_uuid7(r.it.msg.id);
	r.keys[0] = "k";
	r.it.msg.source = "whatsapp";
	r.it.msg.body = (const uint8_t *)"{}";
	r.it.msg.body_len = 2;
	r.it.msg.dedupe_keys = r.keys;
	r.it.msg.n_dedupe_keys = 1;
	r.it.done = one_done;
	r.it.user = &r;
	hg_ingest_submit(ing, &r.it);
	hg_ingest_audit(ing, "bad_signature", "whatsapp", "192.0.2.7", "signature mismatch");
	hg_ingest_audit(ing, NULL, "ignored", NULL, NULL);
	for (i = 0; i < 200 && !atomic_load(&r.done); i++)
		usleep(10 * 1000);
	assert_true(atomic_load(&r.done));
	assert_int_equal(r.it.status, HG_OK);
	/* the writer writes what is queued without a message to carry it */
	wait_rows(f->uri, 2);
	hg_ingest_audit(ing, "replay", "stripe", "192.0.2.8", "timestamp outside tolerance");
	hg_ingest_stop(ing); /* drains the queue */

	assert_int_equal(hg_store_open(f->uri, &f->st, err, sizeof(err)), HG_OK);
	wait_rows(f->uri, 3);
	assert_int_equal(hg_store_count_messages(f->st, NULL, &n), HG_OK);
	assert_int_equal(n, 1);
	sql_text(f->db, "SELECT event || '|' || reason FROM audit_log WHERE seq = 1", got,
		 sizeof(got));
	assert_string_equal(got, "config_loaded|/etc/hookgate/hookgate.yaml");
	sql_text(f->db,
		 "SELECT event || '|' || source || '|' || client FROM audit_log WHERE seq = 2", got,
		 sizeof(got));
	assert_string_equal(got, "bad_signature|whatsapp|192.0.2.7");
	sql_text(f->db, "SELECT event FROM audit_log WHERE seq = 3", got, sizeof(got));
	assert_string_equal(got, "replay");
}

static void add_total(const char *source, const char *event, uint64_t n, void *arg)
{
	uint64_t *sum = arg;

	assert_string_equal(source, strcmp(event, "api_unauthorized") == 0 ? "" : "whatsapp");
	*sum += n;
}

/* Refusals are summed per (event, source, client, reason) and window, at
 * most max_rows keys itemised per window; every refusal is in some row's
 * count, and stop writes the windows not yet over. */
static void test_writer_sums_refusals(void **state)
{
	struct hg_test_store *f = *state;
	struct hg_ingest *ing = NULL;
	char err[256], got[256], client[32], why[128];
	uint64_t totals = 0;
	int64_t bad;
	int i, k;

	hg_store_close(f->st);
	f->st = NULL;
	assert_int_equal(hg_ingest_start(f->uri, &ing, err, sizeof(err)), HG_OK);
	hg_ingest_set_audit_policy(ing, 3600 * 1000, 2); /* one window (unless an hour turns) */
	for (i = 0; i < 1000; i++)
		hg_ingest_refusal(ing, "bad_signature", "whatsapp", "192.0.2.7",
				  "signature mismatch");
	for (k = 0; k < 10; k++) {
		snprintf(client, sizeof(client), "198.51.100.%d", k + 1);
		for (i = 0; i < 3; i++)
			hg_ingest_refusal(ing, "bad_signature", "whatsapp", client,
					  "signature mismatch");
	}
	hg_ingest_refusal(ing, "replay", "whatsapp", "192.0.2.7", "timestamp outside tolerance");
	hg_ingest_refusal(ing, "api_unauthorized", NULL, "192.0.2.7", "invalid admin token");
	hg_ingest_refusal_totals(ing, add_total, &totals);
	assert_int_equal(totals, 1032);
	hg_ingest_stop(ing); /* writes the sums of the window still open */

	assert_int_equal(hg_store_open(f->uri, &f->st, err, sizeof(err)), HG_OK);
	sql_text(f->db, "SELECT sum(count) FROM audit_log", got, sizeof(got));
	assert_string_equal(got, "1032");
	sql_text(f->db,
		 "SELECT count(*) || '|' || sum(count) FROM audit_log WHERE event = 'bad_signature'"
		 " AND source = 'whatsapp'",
		 got, sizeof(got));
	/* one window: 192.0.2.7 and the first sprayed address itemised (the
	 * cap of 2), the other nine summed in one audit_suppressed row; a new
	 * hour in the middle can only split them further */
	if (strcmp(got, "3|1030") != 0) {
		sql_text(f->db, "SELECT count(DISTINCT ts_ms / 3600000) FROM audit_log", got,
			 sizeof(got));
		assert_string_equal(got, "2");
	} else {
		sql_text(f->db,
			 "SELECT count || '|' || reason FROM audit_log WHERE client IS NULL"
			 " AND event = 'bad_signature'",
			 got, sizeof(got));
		assert_string_equal(got, "27|audit_suppressed: refusals not itemised, over "
					 "audit_max_rows (2 rows per 3600000 ms window)");
		sql_text(f->db,
			 "SELECT count FROM audit_log WHERE client = '192.0.2.7' AND "
			 "event = 'bad_signature'",
			 got, sizeof(got));
		assert_string_equal(got, "1000");
	}
	/* the cap holds per window: every key past it went to the summary */
	sql_text(f->db,
		 "SELECT coalesce(max(n), 0) FROM (SELECT count(*) AS n FROM audit_log WHERE"
		 " client IS NOT NULL GROUP BY ts_ms / 3600000)",
		 got, sizeof(got));
	assert_true(atoi(got) <= 2);
	assert_true(verify(f->st, HG_OK, &bad, why, sizeof(why)) >= 4);
}

/* Events the store refused are kept and written once it is back. */
static void test_writer_keeps_events_across_failure(void **state)
{
	struct hg_test_store *f = *state;
	struct hg_ingest *ing = NULL;
	char err[256], got[128];
	int i;

	hg_store_close(f->st);
	f->st = NULL;
	assert_int_equal(hg_ingest_start(f->uri, &ing, err, sizeof(err)), HG_OK);
	hg_test_rm_rf(f->dir); /* the writer's file is gone: the next commit fails */
	hg_ingest_audit(ing, "mtls_failure", "instagram", "192.0.2.9", "no certificate");
	for (i = 0; i < 100 && hg_ingest_healthy(ing); i++)
		usleep(10 * 1000);
	assert_false(hg_ingest_healthy(ing));
	/* the idle re-check finds the re-created database and writes the event */
	wait_rows(f->uri, 1);
	hg_ingest_stop(ing);
	sql_text(f->db, "SELECT event || '|' || source FROM audit_log WHERE seq = 1", got,
		 sizeof(got));
	assert_string_equal(got, "mtls_failure|instagram");
	assert_int_equal(hg_store_open(f->uri, &f->st, err, sizeof(err)), HG_OK);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_empty_log_verifies, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_chain_matches_spec, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_append_only_triggers, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_changed_row_is_found, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_changed_time_is_found, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_deleted_row_is_found, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_renumbered_rows_are_found, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_reordered_rows_are_found, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_rehashed_row_is_found, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_count_is_chained, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_retention_checkpoint, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_retention_head_needs_checkpoint, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_retention_removes_everything, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_chain_continues_after_reopen, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_batch_is_all_or_nothing, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_writer_appends_with_messages, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_writer_sums_refusals, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_writer_keeps_events_across_failure, setup,
					    teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
