// audit_trail.test.mjs — the audit trail against the real daemon:
// audit.received writes one row per accepted message (none for a
// duplicate); audit.reads writes one row per read of a message body or a
// subscription secret through the API, naming who (never the token) and
// what; GET /api/v1/audit pages the log newest first with filters;
// `hookgate audit list` prints it from the store; the chain still
// verifies; a read whose row cannot be written is refused with 500. And
// per-source retention: `hookgate purge` keeps each source as long as it
// says.
//
// Network: every connection goes to 127.0.0.1.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { ON_POSTGRES, postSigned, request, runCli, sqlite, startDaemon, token, whatsappBody } from './helpers.mjs';

const ADMIN = token('admin');
const SECRET = token('wa');
const env = { HG_E2E_TRAIL_ADMIN: ADMIN, HG_E2E_TRAIL_WA: SECRET };
const auth = { Authorization: `Bearer ${ADMIN}` };

function api(d, method, path, { key = ADMIN, body } = {}) {
  const headers = { Authorization: `Bearer ${key}` };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  return request(d, method, path, { headers, body: body !== undefined ? JSON.stringify(body) : undefined });
}

describe('audit.received, audit.reads and the audit list', () => {
  let d;
  const marker = token('body-marker');

  before(async () => {
    d = await startDaemon({
      env,
      extra: {
        admin_token_env: 'HG_E2E_TRAIL_ADMIN',
        audit: { received: true, reads: true },
        event_types: ['clip.submitted'],
        allow_http: true,
        egress_allow: ['127.0.0.1/32'],
      },
      sources: [
        {
          name: 'wa',
          provider: 'meta',
          secret_env: 'HG_E2E_TRAIL_WA',
          dedupe: ['$.entry[*].changes[*].value.messages[*].id'],
        },
      ],
    });
  });

  after(async () => {
    await d?.cleanup();
  });

  let accepted;

  test('one message_received row per accepted message, none for the duplicate', async () => {
    const body = whatsappBody({ messages: [{ id: 'wamid.trail1', text: marker }] });
    const r1 = await postSigned(d, 'wa', body, { secret: SECRET });
    assert.equal(r1.status, 200, r1.text);
    assert.equal(r1.json.status, 'accepted');
    accepted = r1.json.id;
    const r2 = await postSigned(d, 'wa', body, { secret: SECRET });
    assert.equal(r2.json.status, 'duplicate');

    const a = await request(d, 'GET', '/api/v1/audit?action=message_received', { headers: auth });
    assert.equal(a.status, 200, a.text);
    assert.equal(a.json.data.length, 1, a.text);
    const row = a.json.data[0];
    assert.equal(row.event, 'message_received');
    assert.equal(row.source, 'wa');
    assert.equal(row.client, '127.0.0.1');
    assert.equal(row.reason, `accepted message ${accepted}`);
    assert.equal(row.count, 1);
    assert.match(row.hash, /^[0-9a-f]{64}$/);
    assert.match(row.time, /^\d{4}-\d\d-\d\dT/);
    assert.ok(!a.text.includes(marker), 'no body in the audit log');
  });

  test('reading a message is audited as read_message by admin, never the token', async () => {
    const m = await request(d, 'GET', `/api/v1/messages/${accepted}`, { headers: auth });
    assert.equal(m.status, 200, m.text);
    assert.ok(m.text.includes(marker));
    const a = await request(d, 'GET', '/api/v1/audit?action=read_message', { headers: auth });
    assert.equal(a.json.data.length, 1, a.text);
    const row = a.json.data[0];
    assert.equal(row.client, 'admin');
    assert.equal(row.source, 'wa');
    assert.match(row.reason, new RegExp(`^message ${accepted}: .*, from 127\\.0\\.0\\.1$`));
    assert.ok(!a.text.includes(ADMIN) && !a.text.includes(marker));
    // listing messages returns no body: not audited
    assert.equal((await request(d, 'GET', '/api/v1/messages', { headers: auth })).status, 200);
    const again = await request(d, 'GET', '/api/v1/audit?action=read_message', { headers: auth });
    assert.equal(again.json.data.length, 1);
  });

  test('a secret issued at creation and on regeneration is audited as read_secret by the key id', async () => {
    const k = await api(d, 'POST', '/api/v1/api-keys', { body: { owner_id: 'acme' } });
    assert.equal(k.status, 201, k.text);
    const keyToken = k.json.token;
    const s = await api(d, 'POST', '/api/v1/webhooks', {
      key: keyToken,
      body: { url: 'http://127.0.0.1:9/hook', events: ['clip.submitted'] },
    });
    assert.equal(s.status, 201, s.text);
    const sub = s.json.data.id;
    const g = await api(d, 'POST', `/api/v1/webhooks/${sub}/regenerate-secret`, { key: keyToken, body: {} });
    assert.equal(g.status, 200, g.text);

    const a = await request(d, 'GET', '/api/v1/audit?action=read_secret', { headers: auth });
    assert.equal(a.json.data.length, 2, a.text);
    assert.match(a.json.data[0].reason, new RegExp(`^subscription ${sub} of owner acme: secret regenerated`));
    assert.match(a.json.data[1].reason, /secret issued at creation/);
    for (const row of a.json.data) {
      assert.equal(row.client, `api_key:${k.json.data.id}`);
      assert.equal(row.source, '@outbound');
    }
    for (const secret of [s.json.secret, g.json.secret, keyToken]) assert.ok(!a.text.includes(secret));
  });

  test('GET /api/v1/audit pages newest first with a cursor and checks its parameters', async () => {
    const all = await request(d, 'GET', '/api/v1/audit?limit=500', { headers: auth });
    const seqs = all.json.data.map((r) => r.seq);
    assert.ok(seqs.length >= 5, all.text);
    assert.deepEqual(seqs, [...seqs].sort((x, y) => y - x), 'newest first');
    assert.equal(all.json.next_cursor, null);

    const p1 = await request(d, 'GET', '/api/v1/audit?limit=2', { headers: auth });
    assert.deepEqual(p1.json.data.map((r) => r.seq), seqs.slice(0, 2));
    assert.equal(typeof p1.json.next_cursor, 'string');
    const p2 = await request(d, 'GET', `/api/v1/audit?limit=2&cursor=${p1.json.next_cursor}`, { headers: auth });
    assert.deepEqual(p2.json.data.map((r) => r.seq), seqs.slice(2, 4));

    const wa = await request(d, 'GET', '/api/v1/audit?source=wa', { headers: auth });
    assert.ok(wa.json.data.length >= 2 && wa.json.data.every((r) => r.source === 'wa'), wa.text);
    const future = await request(d, 'GET', '/api/v1/audit?since=2999-01-01T00:00:00Z', { headers: auth });
    assert.deepEqual(future.json.data, []);

    assert.equal((await request(d, 'GET', '/api/v1/audit')).status, 401);
    const bad = await request(d, 'GET', '/api/v1/audit?limit=501', { headers: auth });
    assert.equal(bad.status, 400);
    assert.match(bad.json.error, /limit/);
    const wrong = await request(d, 'GET', `/api/v1/audit?cursor=${p1.json.next_cursor}x`, { headers: auth });
    assert.equal(wrong.status, 400);
    // a message list's cursor is not an audit cursor
    const other = await request(d, 'GET', '/api/v1/messages?limit=1', { headers: auth });
    if (other.json.next_cursor) {
      const r = await request(d, 'GET', `/api/v1/audit?cursor=${other.json.next_cursor}`, { headers: auth });
      assert.equal(r.status, 400);
    }
  });

  test('hookgate audit list prints the log from the store, as a table or JSON lines; verify passes', async () => {
    const t = await runCli(['audit', 'list', '-c', d.configPath, '--action', 'message_received'], { env });
    assert.equal(t.code, 0, t.stderr);
    const lines = t.stdout.trim().split('\n');
    assert.match(lines[0], /^SEQ\s+TIME\s+EVENT\s+SOURCE\s+CLIENT\s+COUNT\s+REASON$/);
    assert.equal(lines.length, 2, t.stdout);
    assert.match(lines[1], new RegExp(`message_received\\s+wa\\s+127\\.0\\.0\\.1\\s+1\\s+accepted message ${accepted}$`));

    const j = await runCli(['audit', 'list', '-c', d.configPath, '--json', '--limit', '3'], { env });
    assert.equal(j.code, 0, j.stderr);
    const rows = j.stdout.trim().split('\n').map((l) => JSON.parse(l));
    const api3 = await request(d, 'GET', '/api/v1/audit?limit=3', { headers: auth });
    assert.deepEqual(rows, api3.json.data, 'the CLI and the API show the same rows');

    const since = await runCli(['audit', 'list', '-c', d.configPath, '--since', '2999-01-01'], { env });
    assert.equal(since.stdout.trim().split('\n').length, 1, 'only the header');
    const bad = await runCli(['audit', 'list', '-c', d.configPath, '--limit', 'many'], { env });
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--limit: expected a whole number/);

    const v = await runCli(['audit', 'verify', '-c', d.configPath], { env });
    assert.equal(v.code, 0, `${v.stdout}${v.stderr}`);
  });

  test('a read whose audit row cannot be written is refused with 500 and shows nothing', { skip: ON_POSTGRES && 'the refusal is set up with a SQLite trigger' }, async () => {
    const db = `${d.dir}/hookgate.db`;
    await sqlite(
      db,
      "CREATE TRIGGER e2e_refuse_reads BEFORE INSERT ON audit_log WHEN NEW.event = 'read_message' BEGIN SELECT RAISE(ABORT, 'refused by the test'); END;",
    );
    try {
      const m = await request(d, 'GET', `/api/v1/messages/${accepted}`, { headers: auth });
      assert.equal(m.status, 500, m.text);
      assert.match(m.json.error, /audit log could not record this read/);
      assert.ok(!m.text.includes(marker));
    } finally {
      await sqlite(db, 'DROP TRIGGER e2e_refuse_reads');
    }
    const ok = await request(d, 'GET', `/api/v1/messages/${accepted}`, { headers: auth });
    assert.equal(ok.status, 200, ok.text);
  });
});

describe('per-source retention', () => {
  let d;
  const ids = {};

  before(async () => {
    d = await startDaemon({
      env,
      extra: { admin_token_env: 'HG_E2E_TRAIL_ADMIN', retention: '1h' },
      sources: [
        { name: 'short', provider: 'meta', secret_env: 'HG_E2E_TRAIL_WA', retention: '1s' },
        { name: 'forever', provider: 'meta', secret_env: 'HG_E2E_TRAIL_WA', retention: 0 },
        { name: 'global', provider: 'meta', secret_env: 'HG_E2E_TRAIL_WA' },
      ],
    });
  });

  after(async () => {
    await d?.cleanup();
  });

  test('hookgate purge removes a source\'s messages past its own retention and keeps the others', async () => {
    for (const name of ['short', 'forever', 'global']) {
      const r = await postSigned(d, name, JSON.stringify({ n: name }), { secret: SECRET });
      assert.equal(r.status, 200, r.text);
      ids[name] = r.json.id;
    }
    // Older than short's 1 s once a little more than that has passed.
    await new Promise((resolve) => setTimeout(resolve, 1200));
    const p = await runCli(['purge', '-c', d.configPath], { env });
    assert.equal(p.code, 0, `${p.stdout}${p.stderr}`);
    // the daemon's own housekeeping may have purged it a moment before
    // (it purges a second after its start, then every minute): either way
    // exactly `short` is gone and the others are kept
    assert.match(p.stdout, /purged messages past their source's retention: [01] messages/);
    const status = async (id) => (await request(d, 'GET', `/api/v1/messages/${id}`, { headers: auth })).status;
    assert.equal(await status(ids.short), 404);
    assert.equal(await status(ids.forever), 200);
    assert.equal(await status(ids.global), 200);
    // audit.reads is off without encryption unless asked for: those reads left no row
    const reads = await request(d, 'GET', '/api/v1/audit?action=read_message', { headers: auth });
    assert.equal(reads.status, 200, reads.text);
    assert.deepEqual(reads.json.data, []);
  });
});
