// encryption.test.mjs — encryption at rest against the real daemon, on
// SQLite (`make test`) and on PostgreSQL (`make test-pg`):
//
//  1. nothing a sender sent is readable on disk: signed WhatsApp webhooks
//     with unique markers in the body, a stored request header, the message
//     id (a dedupe key) and the sender's number (also a rate-limit key, which
//     PostgreSQL shares in ratelimit_counts), the sink's answer (stored with
//     the attempt), an outbound subscription's secret and an event's data;
//     the raw bytes of the SQLite files (db, -wal, -shm) or of every file of
//     the PostgreSQL cluster's data directory after a CHECKPOINT hold none
//     of them, while the same scan finds a name stored in clear (the
//     control); the API still shows everything, the sink got it, and a
//     replay sends it again;
//  2. a key rotation under load: reload to [A, B], `hookgate keys rekey`
//     beside the traffic, restart on [B] alone; every acknowledged message
//     reads back, no row is left under A, and a provider's retry is still a
//     duplicate of the original; a subscription's secret, rekeyed, still
//     signs; no key is ever printed;
//  3. refusals: a start without a needed key (or without `encryption:`),
//     a reload that drops a needed key, a key file others may read; and
//     `hookgate keys generate`;
//  4. turning encryption on for a store written in clear: the old messages
//     still read, and after `keys rekey` they and their dedupe keys are
//     sealed and hashed (a retry is still a duplicate), and gone from the
//     SQLite files (secure_delete, the -wal emptied) or, after VACUUM FULL,
//     from the PostgreSQL database's table files;
//  5. a reload that also changes `store:` (which waits for a restart) is
//     checked against the store the daemon runs on: it cannot drop a key
//     that store needs.
//
// Network: every socket goes to 127.0.0.1 (the daemon and the loopback
// sinks below); outbound subscriptions are admitted by egress_allow
// 127.0.0.1/32 only.

import assert from 'node:assert/strict';
import { createHash, createHmac, randomBytes, randomInt } from 'node:crypto';
import { chmodSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, describe, test } from 'node:test';

import { sign } from '@octokit/webhooks-methods';

import {
  ON_POSTGRES,
  UUID7_RE,
  makeTempDir,
  psql,
  removeDir,
  request,
  runCli,
  sqlite,
  startDaemon,
  startSink as startLoopbackSink,
  token,
  waitFor,
} from './helpers.mjs';

const ADMIN = token('admin');
const WA_SECRET = token('wa');
const ENV = { HG_E2E_ENC_ADMIN: ADMIN, HG_E2E_ENC_WA: WA_SECRET };
const PGDATA = process.env.HOOKGATE_E2E_PGDATA ?? '';

const daemons = [];
const sinks = [];
const dirs = [];
after(async () => {
  for (const d of daemons) await d.cleanup();
  for (const s of sinks) await s.close();
  for (const dir of dirs) removeDir(dir);
});

function tempDir() {
  const dir = makeTempDir('hookgate-enc-');
  dirs.push(dir);
  return dir;
}

async function daemon(opts) {
  const d = await startDaemon({ env: ENV, ...opts });
  daemons.push(d);
  return d;
}

// ---------------------------------------------------------------- keys

// A fresh key: 32 random bytes; its hex text and its id as hookgate shows it
// (the first 8 bytes of the key's SHA-256, 16 hex digits).
function newKey() {
  const raw = randomBytes(32);
  return { hex: raw.toString('hex'), id: createHash('sha256').update(raw).digest('hex').slice(0, 16) };
}

// Writes key to dir/name with mode (0600 unless given); returns the name.
function keyFile(dir, name, key, mode = 0o600) {
  const file = path.join(dir, name);
  writeFileSync(file, `${key.hex}\n`, { mode });
  chmodSync(file, mode); // the umask may have narrowed it
  return name;
}

const encryption = (...files) => `encryption: {key_file: [${files.join(', ')}]}`;

// ---------------------------------------------------------------- a loopback sink

// A loopback sink (helpers.mjs) that answers 200 with `answer` as the body.
async function startSink(answer) {
  const sink = await startLoopbackSink(() => ({ body: answer, headers: { 'Content-Type': 'text/plain' } }));
  sinks.push(sink);
  return sink;
}

// ---------------------------------------------------------------- webhooks

// A WhatsApp Cloud API notification: one text message `id` from `from`.
function waBody({ id, from, text }) {
  return JSON.stringify({
    object: 'whatsapp_business_account',
    entry: [
      {
        id: '102290129340398',
        changes: [
          {
            field: 'messages',
            value: {
              messaging_product: 'whatsapp',
              metadata: { display_phone_number: '15550001111', phone_number_id: '123456789' },
              contacts: [{ profile: { name: 'Test User' }, wa_id: from }],
              messages: [{ from, id, timestamp: '1700000000', text: { body: text }, type: 'text' }],
            },
          },
        ],
      },
    ],
  });
}

// POSTs body to /in/source signed as Meta signs (X-Hub-Signature-256,
// sha256=<hex> by @octokit/webhooks-methods).
async function postWa(d, source, body, headers = {}) {
  return request(d, 'POST', `/in/${source}`, {
    headers: {
      'Content-Type': 'application/json',
      'X-Hub-Signature-256': await sign(WA_SECRET, body),
      ...headers,
    },
    body,
  });
}

function waSource(name, extra = {}) {
  return { name, provider: 'meta', secret_env: 'HG_E2E_ENC_WA', ...extra };
}

// ---------------------------------------------------------------- the API

function api(d, method, p, { key = ADMIN, body } = {}) {
  const headers = { Authorization: `Bearer ${key}` };
  let payload;
  if (body !== undefined) {
    headers['Content-Type'] = 'application/json';
    payload = JSON.stringify(body);
  }
  return request(d, method, p, { headers, body: payload });
}

async function getMessage(d, id) {
  const r = await api(d, 'GET', `/api/v1/messages/${id}`);
  assert.equal(r.status, 200, `GET message ${id}: ${r.status} ${r.text}`);
  return r.json;
}

// ---------------------------------------------------------------- raw scans

// Every regular file under dir (recursively); what cannot be listed is skipped.
function filesUnder(dir) {
  const out = [];
  let entries;
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch {
    return out;
  }
  for (const e of entries) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...filesUnder(p));
    else if (e.isFile()) out.push(p);
  }
  return out;
}

// For each needle ({name: Buffer|string}), the files whose raw bytes hold
// it; plus how many files and bytes were read and which could not be.
function scan(files, needles) {
  const found = Object.fromEntries(Object.keys(needles).map((k) => [k, []]));
  const bufs = Object.entries(needles).map(([k, v]) => [k, Buffer.isBuffer(v) ? v : Buffer.from(v, 'utf8')]);
  let read = 0;
  let bytes = 0;
  const unreadable = [];
  for (const f of files) {
    let data;
    try {
      data = readFileSync(f);
    } catch (e) {
      unreadable.push(`${f} (${e.code})`);
      continue;
    }
    read += 1;
    bytes += data.length;
    for (const [k, b] of bufs) if (data.includes(b)) found[k].push(f);
  }
  return { found, read, bytes, unreadable };
}

// The files that hold a daemon's store: SQLite's db, -wal and -shm in its
// dir, or (after a CHECKPOINT) every file of the PostgreSQL cluster's data
// directory. null when this PostgreSQL cluster's directory is not known.
async function storeFiles(d) {
  if (!ON_POSTGRES) {
    return readdirSync(d.dir)
      .filter((n) => n.startsWith('hookgate.db'))
      .map((n) => path.join(d.dir, n));
  }
  if (!PGDATA) return null;
  const r = await psql(process.env.HOOKGATE_E2E_STORE, 'CHECKPOINT');
  assert.equal(r.code, 0, `CHECKPOINT: ${r.stderr}`);
  return filesUnder(PGDATA);
}

// ---------------------------------------------------------------- 1. nothing readable on disk

describe('encryption at rest', () => {
  test('nothing a sender sent, no answer and no secret is readable in the store files; the API, forwarding and replay still work', async (t) => {
    const dir = tempDir();
    const key = newKey();
    const kf = keyFile(dir, 'data.key', key);

    const m = {
      body: token('encbody'),
      header: token('enchdr'),
      id1: token('encid'),
      id2: token('encid'),
      answer: token('encanswer'),
      event: token('encevent'),
    };
    const phone = `1${String(randomInt(1e6, 1e7 - 1))}${String(randomInt(1e6, 1e7 - 1))}`; // 15 digits
    const source = token('encsrc'); // stored in clear: the control
    const sink = await startSink(`received ${m.answer}`);

    const d = await daemon({
      dir,
      extra: [
        encryption(kf),
        'admin_token_env: HG_E2E_ENC_ADMIN',
        'event_types: [enc.test]',
        'allow_http: true',
        'egress_allow: [127.0.0.1/32]',
        "outbound: {retry: {schedule: ['0s', '400ms'], max_delay: 1h, jitter: '0%'}, timeout: 2s}",
        'endpoints:',
        `  - {name: app, url: "${sink.url('/app')}", retry: {schedule: [0s, 200ms], max_delay: 1h, jitter: 0%}}`,
        'sources:',
        `  - name: ${source}`,
        '    provider: meta',
        '    secret_env: HG_E2E_ENC_WA',
        '    rate_limit: {key: "$.entry[*].changes[*].value.messages[*].from", limit: 1000, per: 1h}',
        '    routes: [app]',
        '',
      ].join('\n'),
    });

    // two webhooks from the same number, each with its own message id
    const ids = [];
    const bodies = {};
    for (const waId of [`wamid.${m.id1}`, `wamid.${m.id2}`]) {
      const body = waBody({ id: waId, from: phone, text: `hello ${m.body}` });
      const r = await postWa(d, source, body, { 'X-E2E-Marker': m.header });
      assert.equal(r.status, 200, r.text);
      assert.equal(r.json?.status, 'accepted', r.text);
      assert.match(r.json.id, UUID7_RE);
      ids.push(r.json.id);
      bodies[r.json.id] = body;
    }

    // an outbound subscription on the loopback sink, and an event to it
    const owner = await api(d, 'POST', '/api/v1/api-keys', { body: { owner_id: 'enc-owner' } });
    assert.equal(owner.status, 201, owner.text);
    const sub = await api(d, 'POST', '/api/v1/webhooks', {
      key: owner.json.token,
      body: { url: sink.url('/sub'), events: ['enc.test'] },
    });
    assert.equal(sub.status, 201, sub.text);
    const secret = sub.json.secret;
    assert.match(secret, /^[0-9a-f]{64}$/);
    const ev = await api(d, 'POST', '/api/v1/events', { body: { event: 'enc.test', data: { note: m.event } } });
    assert.equal(ev.status, 202, ev.text);

    // every delivery done: both messages forwarded, the event delivered
    const done = await waitFor(
      async () => {
        const ms = await Promise.all(ids.map((id) => getMessage(d, id)));
        const h = await api(d, 'GET', `/api/v1/webhooks/${sub.json.data.id}/deliveries`, { key: owner.json.token });
        return ms.every((x) => x.status === 'succeeded') && h.json?.data?.[0]?.status === 'delivered';
      },
      { timeoutMs: 10000 },
    );
    assert.ok(done, 'the deliveries did not finish');
    const toSub = sink.requests.filter((r) => r.path === '/sub');
    assert.equal(toSub.length, 1);
    assert.ok(toSub[0].body.includes(m.event));
    // the subscriber's stored secret still signs (it decrypts)
    assert.equal(
      toSub[0].headers['x-webhook-signature'],
      createHmac('sha256', secret).update(toSub[0].raw).digest('hex'),
    );

    // The values are stored (the API shows them), so a scan that does not
    // find them proves they are sealed, not missing.
    const first = await getMessage(d, ids[0]);
    assert.ok(first.body.includes(m.body) && first.body.includes(m.id1) && first.body.includes(phone));
    assert.equal(first.headers['x-e2e-marker'], m.header);
    const att = first.deliveries[0].attempts[0];
    assert.equal(att.status_code, 200);
    assert.ok(String(att.response).includes(m.answer), `attempt: ${JSON.stringify(att)}`);

    if (ON_POSTGRES) {
      // The shared rate-limit counters (pushed every 200 ms) hold a keyed
      // hash of the number, never the number. The table is UNLOGGED: a
      // CHECKPOINT does not write it, so this is checked in SQL too.
      const db = path.join(d.dir, 'hookgate.db');
      const rows = await waitFor(
        async () => Number(await sqlite(db, `SELECT count(*) FROM ratelimit_counts WHERE source = '${source}'`)) > 0,
        { timeoutMs: 5000 },
      );
      assert.ok(rows, 'the rate-limit counter never reached ratelimit_counts');
      assert.equal(await sqlite(db, `SELECT count(*) FROM ratelimit_counts WHERE key LIKE '%${phone}%'`), '0');
    }

    const files = await storeFiles(d);
    if (files === null) {
      t.skip('HOOKGATE_E2E_PGDATA is not set (scripts/with-postgres.sh sets it): the raw scan needs the data directory');
      return;
    }
    if (!ON_POSTGRES) {
      const names = files.map((f) => path.basename(f));
      assert.ok(names.includes('hookgate.db') && names.includes('hookgate.db-wal'), names.join(', '));
    }
    const needles = {
      'body marker': m.body,
      'header marker': m.header,
      'message id 1': m.id1,
      'message id 2': m.id2,
      'phone number': phone,
      'sink answer': m.answer,
      'event data': m.event,
      'subscription secret (hex)': secret,
      'subscription secret (bytes)': Buffer.from(secret, 'hex'),
      'subscription secret (whsec)': sub.json.secret_standard.slice(6, 46),
      control: source,
    };
    const s = scan(files, needles);
    t.diagnostic(`scanned ${s.read} files, ${s.bytes} bytes; unreadable: ${s.unreadable.length}`);
    assert.ok(s.found.control.length > 0, 'the control (the source name, stored in clear) was not found: the scan is blind');
    for (const [what, where] of Object.entries(s.found)) {
      if (what === 'control') continue;
      assert.deepEqual(where, [], `${what} is readable on disk`);
    }

    // Still readable through the API, forwarded, and replayed.
    for (const [i, id] of ids.entries()) {
      const msg = await getMessage(d, id);
      assert.equal(msg.body, bodies[id]);
      assert.ok(msg.body.includes([m.id1, m.id2][i]));
      assert.equal(msg.headers['x-e2e-marker'], m.header);
    }
    const toApp = () => sink.requests.filter((r) => r.path === '/app' && r.headers['x-hookgate-message-id'] === ids[0]);
    assert.equal(toApp().length, 1);
    assert.equal(toApp()[0].body, bodies[ids[0]]);
    const rp = await api(d, 'POST', `/api/v1/messages/${ids[0]}/replay`);
    assert.equal(rp.status, 202, rp.text);
    assert.ok(await waitFor(() => toApp().length === 2, { timeoutMs: 10000 }), 'the replay was not delivered');
    assert.equal(toApp()[1].body, bodies[ids[0]]);
  });

  // ---------------------------------------------------------------- 2. rotation under load

  test('rotation under load: reload to [A, B], rekey beside the traffic, restart on [B]; nothing lost, no row under A, retries still duplicates', async (t) => {
    const dir = tempDir();
    const A = newKey();
    const B = newKey();
    const a = keyFile(dir, 'a.key', A);
    const b = keyFile(dir, 'b.key', B);
    const sink = await startSink('ok');
    const source = 'rot';
    const extra = (keys) =>
      [
        encryption(...keys),
        'admin_token_env: HG_E2E_ENC_ADMIN',
        'event_types: [enc.test]',
        'allow_http: true',
        'egress_allow: [127.0.0.1/32]',
        'endpoints:',
        `  - {name: app, url: "${sink.url('/app')}"}`,
        '',
      ].join('\n');
    const sources = [waSource(source, { routes: ['app'] })];
    const d = await daemon({ dir, sources, extra: extra([a]) });
    // a subscription whose secret is sealed under A (rekeyed to B below)
    const sub = await api(d, 'POST', '/api/v1/webhooks', {
      body: { owner_id: 'rot-owner', url: sink.url('/sub'), events: ['enc.test'] },
    });
    assert.equal(sub.status, 201, sub.text);

    // The load: 4 clients sending signed messages with random ids until
    // stopped; every acknowledged one is recorded with its body.
    const acked = new Map(); // hookgate id -> body
    const refused = [];
    let stop = false;
    let rekeyOut = '';
    const client = async () => {
      while (!stop) {
        const body = waBody({ id: `wamid.${token('rot')}`, from: '15551234567', text: token('t') });
        let r;
        try {
          r = await postWa(d, source, body);
        } catch (e) {
          refused.push(e.message);
          continue;
        }
        if (r.status === 200 && r.json?.status === 'accepted') acked.set(r.json.id, body);
        else refused.push(`${r.status} ${r.text}`);
      }
    };
    const load = Promise.all([client(), client(), client(), client()]);
    const atLeast = (n) => waitFor(() => acked.size >= n || refused.length > 0, { timeoutMs: 20000 });
    try {
      // on A alone
      await atLeast(100);
      // [A, B]: B encrypts from now on
      writeFileSync(d.configPath, readFileSync(d.configPath, 'utf8').replace(encryption(a), encryption(a, b)));
      const reloads = () => d.logLines().filter((l) => l.msg === 'config reloaded').length;
      const cli = await runCli(['reload', '-c', d.configPath], { env: ENV });
      assert.equal(cli.code, 0, cli.stderr);
      assert.ok(await waitFor(() => reloads() === 1, { timeoutMs: 5000 }), `no reload: ${d.stderr()}`);
      await atLeast(acked.size + 50);
      // rekey beside the traffic
      const before = acked.size;
      const rekey = await runCli(['keys', 'rekey', '-c', d.configPath, '--batch', '50'], { env: ENV, timeoutMs: 60000 });
      t.diagnostic(`acknowledged while the rekey ran: ${acked.size - before}`);
      assert.equal(rekey.code, 0, `rekey: ${rekey.stdout}\n${rekey.stderr}`);
      assert.match(rekey.stdout, new RegExp(`re-encrypting with key ${B.id}`));
      assert.match(rekey.stdout, /^done: /m);
      rekeyOut = rekey.stdout + rekey.stderr;
      await atLeast(acked.size + 20);
    } finally {
      stop = true;
      await load;
    }
    assert.deepEqual(refused, [], 'requests refused or failed during the rotation');
    assert.ok(acked.size >= 170, `only ${acked.size} acknowledged`);

    // with [A, B] still configured: nothing left under A
    const mid = await runCli(['keys', 'status', '-c', d.configPath], { env: ENV });
    assert.equal(mid.code, 0, mid.stderr);
    assert.equal(mid.stdout.split('\n').filter((l) => l.includes(A.id) && /rows$/.test(l)).length, 0, mid.stdout);

    // [B] alone, restarted on the same store
    const stopped = await d.stop();
    assert.equal(stopped.code, 0, d.stderr());
    const d2 = await daemon({ dir, sources, extra: extra([b]) });
    const status = await runCli(['keys', 'status', '-c', d2.configPath], { env: ENV });
    assert.equal(status.code, 0, status.stderr);
    assert.match(status.stdout, new RegExp(`key 1: ${B.id} \\(active`));
    assert.equal(status.stdout.includes(A.id), false, `rows under A remain:\n${status.stdout}`);
    assert.match(status.stdout, new RegExp(`messages\\s+${B.id}\\s+active\\s+\\d+ rows?`), status.stdout);

    // every acknowledged message reads back, as sent
    const ids = [...acked.keys()];
    const bad = [];
    for (let i = 0; i < ids.length; i += 8) {
      await Promise.all(
        ids.slice(i, i + 8).map(async (id) => {
          const r = await api(d2, 'GET', `/api/v1/messages/${id}`);
          if (r.status !== 200 || r.json?.body !== acked.get(id)) bad.push(`${id}: ${r.status} ${r.text.slice(0, 200)}`);
        }),
      );
    }
    assert.deepEqual(bad, [], 'acknowledged messages that do not read back');

    // the subscription's secret, rekeyed, still signs
    const ev = await api(d2, 'POST', '/api/v1/events', { body: { event: 'enc.test', data: { n: 1 } } });
    assert.equal(ev.status, 202, ev.text);
    assert.ok(await waitFor(() => sink.requests.some((r) => r.path === '/sub'), { timeoutMs: 10000 }));
    const got = sink.requests.find((r) => r.path === '/sub');
    assert.equal(got.headers['x-webhook-signature'], createHmac('sha256', sub.json.secret).update(got.raw).digest('hex'));

    // the keys themselves are nowhere in what hookgate printed
    for (const out of [d.stderr(), d.stdout(), d2.stderr(), rekeyOut, mid.stdout, status.stdout]) {
      assert.equal(out.includes(A.hex) || out.includes(B.hex), false, 'a key was printed');
    }

    // a provider's retry of any of them is a duplicate of the original
    const sample = ids.filter((_, i) => i % Math.ceil(ids.length / 25) === 0);
    for (const id of sample) {
      const r = await postWa(d2, source, acked.get(id));
      assert.equal(r.status, 200, r.text);
      assert.equal(r.json?.status, 'duplicate', `retry of ${id}: ${r.text}`);
      assert.equal(r.json.id, id);
    }
  });

  // ---------------------------------------------------------------- 3. refusals

  // startDaemon()'s error when the daemon exits before it is ready: the exit
  // code and the daemon's stderr; null when it started (it is stopped).
  async function refusedStart(opts) {
    let d;
    try {
      d = await startDaemon({ env: ENV, ...opts });
    } catch (e) {
      const code = /exited before it was ready \(code (\d+)/.exec(e.message);
      assert.ok(code, e.message);
      return { code: Number(code[1]), stderr: e.message.slice(e.message.indexOf('\nstderr:\n')) };
    }
    await d.stop();
    return null;
  }

  test('a start without a key the store needs is refused, naming the key and the rows; so is a start without encryption:', async () => {
    const dir = tempDir();
    const A = newKey();
    const C = newKey();
    const a = keyFile(dir, 'a.key', A);
    const c = keyFile(dir, 'c.key', C);
    const sources = [waSource('wa')];
    const d = await daemon({ dir, sources, extra: encryption(a) });
    for (let i = 0; i < 2; i++) {
      const r = await postWa(d, 'wa', waBody({ id: `wamid.${token('ref')}`, from: '15551234567', text: 'x' }));
      assert.equal(r.json?.status, 'accepted', r.text);
    }
    assert.equal((await d.stop()).code, 0);

    const other = await refusedStart({ dir, sources, extra: encryption(c) });
    assert.ok(other, 'started with a config that lacks key A');
    assert.notEqual(other.code, 0);
    assert.match(other.stderr, new RegExp(`key ${A.id} \\(2 messages, 1 index key row\\)`), other.stderr);

    const none = await refusedStart({ dir, sources });
    assert.ok(none, 'started without encryption: on an encrypted store');
    assert.notEqual(none.code, 0);
    assert.match(none.stderr, /no `encryption:` section/);
    assert.match(none.stderr, new RegExp(`key ${A.id} \\(2 messages`));

    // and with the key back (after C, which now encrypts), it starts
    const back = await daemon({ dir, sources, extra: encryption(a, c) });
    assert.ok(back.running);
  });

  test('a reload that drops a needed key is refused; the daemon keeps serving with its keys', async () => {
    const dir = tempDir();
    const A = newKey();
    const C = newKey();
    const a = keyFile(dir, 'a.key', A);
    const c = keyFile(dir, 'c.key', C);
    const sources = [waSource('wa')];
    const d = await daemon({ dir, sources, extra: ['admin_token_env: HG_E2E_ENC_ADMIN', encryption(a)].join('\n') });
    const bodies = [];
    const ids = [];
    const send = async () => {
      const body = waBody({ id: `wamid.${token('rl')}`, from: '15551234567', text: token('rl') });
      const r = await postWa(d, 'wa', body);
      assert.equal(r.json?.status, 'accepted', r.text);
      bodies.push(body);
      ids.push(r.json.id);
    };
    await send();

    writeFileSync(d.configPath, readFileSync(d.configPath, 'utf8').replace(encryption(a), encryption(c)));
    const refusals = () =>
      d.logLines().filter((l) => l.msg === 'config reload refused; the running config stays');
    d.proc.kill('SIGHUP');
    assert.ok(await waitFor(() => refusals().length === 1, { timeoutMs: 5000 }), d.stderr());
    assert.match(JSON.stringify(refusals()[0]), new RegExp(`key ${A.id} \\(1 messages?`));
    assert.equal(d.logLines().filter((l) => l.msg === 'config reloaded').length, 0);
    assert.ok(d.running);

    // still serving, still reading and writing with A
    await send();
    for (const [i, id] of ids.entries()) assert.equal((await getMessage(d, id)).body, bodies[i]);
    assert.equal((await d.stop()).code, 0);
    writeFileSync(d.configPath, readFileSync(d.configPath, 'utf8').replace(encryption(c), encryption(a)));
    const status = await runCli(['keys', 'status', '-c', d.configPath], { env: ENV });
    assert.equal(status.code, 0, status.stderr);
    assert.match(status.stdout, new RegExp(`messages\\s+${A.id}\\s+active\\s+2 rows`), status.stdout);
    assert.equal(status.stdout.includes(C.id), false, status.stdout);
  });

  // A reload that changes `store:` too (which needs a restart: the daemon
  // stays on its store) must check the new keys against the store the
  // daemon runs on, not the new one: else key A, which the running store
  // needs, would be dropped, its messages would no longer read and a
  // provider's retry would be stored again (the index key coming from the
  // other store).
  test(
    'a reload that changes store: and drops a needed key is refused too',
    async () => {
      const dir = tempDir();
      const A = newKey();
      const C = newKey();
      const a = keyFile(dir, 'a.key', A);
      const c = keyFile(dir, 'c.key', C);
      const sources = [waSource('wa')];
      const d = await daemon({ dir, sources, extra: ['admin_token_env: HG_E2E_ENC_ADMIN', encryption(a)].join('\n') });
      const body = waBody({ id: `wamid.${token('st')}`, from: '15551234567', text: token('st') });
      const first = await postWa(d, 'wa', body);
      assert.equal(first.json?.status, 'accepted', first.text);

      let text = readFileSync(d.configPath, 'utf8').replace(encryption(a), encryption(c));
      if (ON_POSTGRES) {
        const u = new URL(/^store: (\S+)$/m.exec(text)[1]);
        u.pathname = `${u.pathname}_other`;
        const made = await psql(process.env.HOOKGATE_E2E_STORE, `CREATE DATABASE ${u.pathname.slice(1)}`);
        assert.equal(made.code, 0, made.stderr);
        text = text.replace(/^store: \S+$/m, `store: ${u}`);
      } else {
        text = text.replace(/^store: \S+$/m, `store: sqlite:${path.join(dir, 'other.db')}`);
      }
      writeFileSync(d.configPath, text);
      d.proc.kill('SIGHUP');
      const settled = () =>
        d.logLines().some((l) => l.msg === 'config reloaded' || l.msg === 'config reload refused; the running config stays');
      assert.ok(await waitFor(settled, { timeoutMs: 5000 }), d.stderr());

      // the running store's messages still read, and a retry is a duplicate
      const r = await api(d, 'GET', `/api/v1/messages/${first.json.id}`);
      assert.equal(r.status, 200, r.text);
      const again = await postWa(d, 'wa', body);
      assert.equal(again.json?.status, 'duplicate', again.text);
    },
  );

  test('a key file that others may read is refused with the chmod hint', async () => {
    const dir = tempDir();
    const kf = keyFile(dir, 'open.key', newKey(), 0o644);
    const r = await refusedStart({ dir, sources: [waSource('wa')], extra: encryption(kf) });
    assert.ok(r, 'started with a key file of mode 0644');
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /open\.key is open to every user of this machine \(mode 0644\)/);
    assert.match(r.stderr, /run chmod 600 \S*open\.key/);
  });

  test('keys generate prints 64 hex digits, different each time', async () => {
    const one = await runCli(['keys', 'generate']);
    const two = await runCli(['keys', 'generate']);
    for (const r of [one, two]) {
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /^[0-9a-f]{64}\n$/);
    }
    assert.notEqual(one.stdout, two.stdout);
  });

  // ---------------------------------------------------------------- 4. turning it on

  test('turning encryption on: what was stored in clear still reads, and after keys rekey it is sealed and hashed', async (t) => {
    const dir = tempDir();
    const A = newKey();
    const a = keyFile(dir, 'a.key', A);
    const source = token('plainsrc'); // stored in clear: the control
    const sources = [waSource(source)];
    const marks = [token('plainid'), token('plainid')];
    const text = token('plainbody');
    const sent = [];
    const d = await daemon({ dir, sources });
    for (const mk of marks) {
      const body = waBody({ id: `wamid.${mk}`, from: '15551234567', text });
      const r = await postWa(d, source, body);
      assert.equal(r.json?.status, 'accepted', r.text);
      sent.push({ id: r.json.id, body });
    }
    assert.equal((await d.stop()).code, 0);
    const needles = { body: text, 'message id 1': marks[0], 'message id 2': marks[1], control: source };

    const d2 = await daemon({ dir, sources, extra: ['admin_token_env: HG_E2E_ENC_ADMIN', encryption(a)].join('\n') });
    for (const m of sent) assert.equal((await getMessage(d2, m.id)).body, m.body);
    // PostgreSQL: the database's own files (base/OID), not the WAL (below)
    const db = path.join(dir, 'hookgate.db');
    const oid = ON_POSTGRES ? await sqlite(db, 'SELECT oid FROM pg_database WHERE datname = current_database()') : '';
    const files = async () => {
      const all = await storeFiles(d2);
      return all && ON_POSTGRES ? all.filter((f) => f.startsWith(path.join(PGDATA, 'base', oid) + path.sep)) : all;
    };
    const before = await files();
    if (before !== null) {
      const s = scan(before, needles);
      for (const [what, where] of Object.entries(s.found)) assert.ok(where.length > 0, `${what}: not on disk before the rekey`);
    }

    const rekey = await runCli(['keys', 'rekey', '-c', d2.configPath], { env: ENV, timeoutMs: 60000 });
    assert.equal(rekey.code, 0, `${rekey.stdout}\n${rekey.stderr}`);
    const status = await runCli(['keys', 'status', '-c', d2.configPath], { env: ENV });
    assert.equal(status.code, 0, status.stderr);
    assert.equal(status.stdout.includes('(not encrypted)'), false, status.stdout);
    assert.match(status.stdout, new RegExp(`messages\\s+${A.id}\\s+active\\s+2 rows`), status.stdout);

    // a provider's retry of a message stored before is still a duplicate
    for (const m of sent) {
      const r = await postWa(d2, source, m.body);
      assert.equal(r.json?.status, 'duplicate', r.text);
      assert.equal(r.json.id, m.id);
    }
    for (const m of sent) assert.equal((await getMessage(d2, m.id)).body, m.body);

    if (ON_POSTGRES && PGDATA) {
      // The replaced row versions stay in the table files until VACUUM
      // FULL rewrites them (README, "Data protection"); the WAL written
      // before the rekey keeps them too until PostgreSQL recycles it, which
      // is why only the database's own files (base/OID) are scanned here.
      for (const table of ['messages', 'dedupe']) await sqlite(db, `VACUUM FULL ${table}`);
    }
    const after = await files();
    if (after === null) {
      t.skip('HOOKGATE_E2E_PGDATA is not set: the raw scan needs the data directory');
      return;
    }
    const s = scan(after, needles);
    assert.ok(s.found.control.length > 0, 'the control (the source name) was not found: the scan is blind');
    for (const [what, where] of Object.entries(s.found)) {
      if (what !== 'control') assert.deepEqual(where, [], `${what} is still readable on disk after the rekey`);
    }
  });
});
