// delivery.test.mjs — the delivery engine end to end: the real daemon
// forwards what it accepted to loopback sinks (node http servers on
// 127.0.0.1) and to exec commands written by the test, retries on the
// configured schedule, dead-letters, routes by filters, signs with
// Standard Webhooks (verified with the official `standardwebhooks`
// library), keeps a slow endpoint from holding up a fast one, honours
// Retry-After, and after a kill -9 delivers everything at least once.
//
// Timing assertions are schedule properties, never speed: the gap between
// two attempts must be at least the configured wait minus its jitter; the
// upper bounds are generous. Network: 127.0.0.1 only.

import assert from 'node:assert/strict';
import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { after, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';

import { Webhook } from 'standardwebhooks';

import {
  HOST,
  freePort,
  makeTempDir,
  postSigned,
  removeDir,
  sqlite,
  startDaemon,
  token,
  waitFor,
} from './helpers.mjs';

const VERSION = readFileSync(
  path.join(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'VERSION'),
  'utf8',
).trim();
const SECRET = 'e2e-delivery-meta-secret';
const ENV = { E2E_DELIVERY_SECRET: SECRET };
// Jitter is +-10% unless a test says otherwise; 5 ms covers rounding to ms.
const JITTER = 0.1;
const SLACK_MS = 5;

const daemons = [];
const sinks = [];
after(async () => {
  for (const d of daemons) await d.cleanup();
  for (const s of sinks) s.close();
});

// An HTTP server on 127.0.0.1 that records every request ({t, headers,
// body, answeredAt}) and answers with respond(request, n): {status,
// headers, body, delayMs} or {hang: true} (never answers).
async function startSink(respond = () => ({ status: 200 })) {
  const requests = [];
  const server = http.createServer((req, res) => {
    const t = performance.now();
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', async () => {
      const r = { t, method: req.method, url: req.url, headers: req.headers, body: Buffer.concat(chunks) };
      requests.push(r);
      const out = (await respond(r, requests.length)) ?? { status: 200 };
      if (out.hang) return;
      if (out.delayMs) await sleep(out.delayMs);
      r.answeredAt = performance.now();
      res.writeHead(out.status ?? 200, out.headers ?? {});
      res.end(out.body ?? '');
    });
  });
  await new Promise((resolve) => server.listen(0, HOST, resolve));
  const sink = {
    url: `http://${HOST}:${server.address().port}/hook`,
    requests,
    close() {
      server.closeAllConnections();
      server.close();
    },
  };
  sinks.push(sink);
  return sink;
}

// The config's endpoints and one meta source `src` routing to them.
// endpoints: [{name, url | exec, ...more YAML keys as written}];
// routes: YAML list items as written (strings).
function yaml({ endpoints, routes }) {
  const lines = ['endpoints:'];
  for (const e of endpoints) {
    const { name, ...rest } = e;
    lines.push(`  - name: ${name}`);
    for (const [k, v] of Object.entries(rest)) lines.push(`    ${k}: ${v}`);
  }
  lines.push('sources:', '  - name: src', '    provider: meta', '    secret_env: E2E_DELIVERY_SECRET');
  lines.push('    routes:', ...routes.map((r) => `      - ${r}`));
  return lines.join('\n') + '\n';
}

async function start(cfg, opts = {}) {
  const d = await startDaemon({ extra: yaml(cfg), env: { ...ENV, ...(opts.env ?? {}) }, dir: opts.dir });
  daemons.push(d);
  return d;
}

// POSTs a signed body to /in/src; returns the accepted message id.
async function send(d, body) {
  const r = await postSigned(d, 'src', body, { secret: SECRET });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.status, 'accepted', r.text);
  return r.json.id;
}

const db = (d) => path.join(d.dir, 'hookgate.db');

// Rows of `sql` as arrays of column strings.
async function rows(d, sql) {
  const out = await sqlite(db(d), sql);
  return out === '' ? [] : out.split('\n').map((l) => l.split('|'));
}

// Waits until the message's delivery to endpoint has one of the statuses.
async function deliveryIn(d, messageId, endpoint, statuses, timeoutMs = 10000) {
  const sql = `SELECT id, status, attempts, coalesce(CAST(last_status AS TEXT), ''), coalesce(last_error, '')
                 FROM deliveries WHERE message_id = '${messageId}' AND endpoint = '${endpoint}'`;
  const found = await waitFor(
    async () => {
      const r = await rows(d, sql);
      return r.length === 1 && statuses.includes(r[0][1]) ? r[0] : null;
    },
    { timeoutMs, intervalMs: 50 },
  );
  assert.ok(found, `delivery of ${messageId} to ${endpoint} never became ${statuses}: ${JSON.stringify(await rows(d, sql))}`);
  const [id, status, attempts, lastStatus, lastError] = found;
  return { id, status, attempts: Number(attempts), lastStatus, lastError };
}

function attemptsOf(d, deliveryId) {
  return rows(
    d,
    `SELECT n, coalesce(CAST(status_code AS TEXT), ''), coalesce(error, ''), duration_ms,
            coalesce(hex(response_head), '')
       FROM attempts WHERE delivery_id = '${deliveryId}' ORDER BY n, id`,
  );
}

// 1 while pid runs: it exists and is not a zombie waiting for its reaper.
function running(pid) {
  const stat = `/proc/${pid}/stat`;
  if (!existsSync(stat)) return false;
  try {
    return readFileSync(stat, 'utf8').split(') ')[1]?.[0] !== 'Z';
  } catch {
    return false;
  }
}

function body(marker, field = 'messages') {
  return JSON.stringify({ object: 'whatsapp_business_account', marker, entry: [{ changes: [{ field, value: {} }] }] });
}

describe('delivering to the application', () => {
  it('retries a failing endpoint on its schedule, then succeeds, with the history stored', async () => {
    const sink = await startSink((r, n) => ({ status: n < 3 ? 500 : 200, body: `answer ${n}` }));
    const d = await start({
      endpoints: [{ name: 'app', url: sink.url, retry: '{schedule: [0s, 300ms, 600ms]}' }],
      routes: ['app'],
    });
    const marker = token('retry');
    const sent = body(marker);
    const id = await send(d, sent);

    const del = await deliveryIn(d, id, 'app', ['succeeded']);
    assert.equal(del.attempts, 3);
    assert.equal(del.lastStatus, '200');
    assert.equal(sink.requests.length, 3);
    // the spacing respects the schedule: at least each wait minus its jitter
    const gap1 = sink.requests[1].t - sink.requests[0].t;
    const gap2 = sink.requests[2].t - sink.requests[1].t;
    assert.ok(gap1 >= 300 * (1 - JITTER) - SLACK_MS, `attempt 2 came ${gap1} ms after attempt 1`);
    assert.ok(gap2 >= 600 * (1 - JITTER) - SLACK_MS, `attempt 3 came ${gap2} ms after attempt 2`);
    assert.ok(gap1 < 5000 && gap2 < 5000, `gaps ${gap1} and ${gap2} ms`);

    // what the application received: the original bytes and our headers
    sink.requests.forEach((r, i) => {
      assert.equal(r.method, 'POST');
      assert.equal(r.url, '/hook');
      assert.equal(r.body.toString('utf8'), sent);
      assert.equal(r.headers['content-type'], 'application/json');
      assert.equal(r.headers['x-hookgate-source'], 'src');
      assert.equal(r.headers['x-hookgate-message-id'], id);
      assert.equal(r.headers['x-hookgate-attempt'], String(i + 1));
      assert.equal(r.headers['user-agent'], `hookgate/${VERSION}`);
      assert.equal(r.headers['webhook-signature'], undefined); // no secret, no signature
    });

    const hist = await attemptsOf(d, del.id);
    assert.deepEqual(
      hist.map(([n, code, err]) => [n, code, err]),
      [
        ['1', '500', 'HTTP 500'],
        ['2', '500', 'HTTP 500'],
        ['3', '200', ''],
      ],
    );
    assert.equal(Buffer.from(hist[0][4], 'hex').toString(), 'answer 1');
    assert.equal(Buffer.from(hist[2][4], 'hex').toString(), 'answer 3');

    // one log line per attempt, and never the body
    const lines = d.logLines().filter((l) => l.msg === 'delivery attempt' && l.message_id === id);
    assert.deepEqual(
      lines.map((l) => [l.attempt, l.status, l.outcome]),
      [
        [1, 500, 'failed'],
        [2, 500, 'failed'],
        [3, 200, 'succeeded'],
      ],
    );
    assert.ok(lines.every((l) => l.endpoint === 'app' && typeof l.duration_ms === 'number'));
    assert.ok(!d.stderr().includes(marker), 'the body reached the log');
  });

  it('dead-letters a delivery when the attempts run out', async () => {
    const closed = await freePort(); // nothing listens there: connection refused
    const d = await start({
      endpoints: [{ name: 'gone', url: `http://${HOST}:${closed}/hook`, retry: '{schedule: [0s, 100ms, 100ms]}' }],
      routes: ['gone'],
    });
    const id = await send(d, body(token('dead')));
    const del = await deliveryIn(d, id, 'gone', ['dead']);
    assert.equal(del.attempts, 3);
    assert.equal(del.lastStatus, '');
    assert.match(del.lastError, /connect|refused/i);
    const hist = await attemptsOf(d, del.id);
    assert.deepEqual(
      hist.map(([n]) => n),
      ['1', '2', '3'],
    );
    const [[next]] = await rows(d, `SELECT coalesce(next_attempt_ms, -1) FROM deliveries WHERE id = '${del.id}'`);
    assert.equal(next, '-1');
    const last = d.logLines().filter((l) => l.msg === 'delivery attempt' && l.message_id === id).at(-1);
    assert.equal(last.outcome, 'dead');
  });

  it('routes messages and statuses to different endpoints by a filter', async () => {
    const msgs = await startSink();
    const stats = await startSink();
    const everything = await startSink();
    const d = await start({
      endpoints: [
        { name: 'msgs', url: msgs.url },
        { name: 'stats', url: stats.url },
        { name: 'everything', url: everything.url },
      ],
      routes: [
        '{endpoint: msgs, when: "$.entry[*].changes[*].field == messages"}',
        '{endpoint: stats, when: "$.entry[*].changes[*].field == statuses"}',
        'everything',
      ],
    });
    const m = await send(d, body(token('m'), 'messages'));
    const s = await send(d, body(token('s'), 'statuses'));
    await deliveryIn(d, m, 'msgs', ['succeeded']);
    await deliveryIn(d, s, 'stats', ['succeeded']);
    await deliveryIn(d, m, 'everything', ['succeeded']);
    await deliveryIn(d, s, 'everything', ['succeeded']);
    assert.deepEqual(
      msgs.requests.map((r) => r.headers['x-hookgate-message-id']),
      [m],
    );
    assert.deepEqual(
      stats.requests.map((r) => r.headers['x-hookgate-message-id']),
      [s],
    );
    assert.equal(everything.requests.length, 2);
    const [[n]] = await rows(d, `SELECT count(*) FROM deliveries WHERE message_id IN ('${m}', '${s}')`);
    assert.equal(n, '4');
  });

  it('signs deliveries with Standard Webhooks headers that the official library verifies', async () => {
    const whsec = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
    const raw = 'a raw secret of the application';
    const verified = [];
    const check = (wh) => (r) => {
      try {
        wh.verify(r.body, r.headers);
        verified.push(r.headers['webhook-id']);
        return { status: 204 };
      } catch (e) {
        return { status: 400, body: e.message };
      }
    };
    const a = await startSink(check(new Webhook(whsec)));
    const b = await startSink(check(new Webhook(raw, { format: 'raw' })));
    const d = await start({
      endpoints: [
        { name: 'whsec', url: a.url, secret: whsec },
        { name: 'raw', url: b.url, secret_env: 'E2E_RAW_SECRET' },
      ],
      routes: ['whsec', 'raw'],
    }, { env: { E2E_RAW_SECRET: raw } });
    const id = await send(d, body(token('signed')));
    const da = await deliveryIn(d, id, 'whsec', ['succeeded', 'failed', 'dead']);
    const db_ = await deliveryIn(d, id, 'raw', ['succeeded', 'failed', 'dead']);
    assert.equal(da.status, 'succeeded', da.lastError);
    assert.equal(db_.status, 'succeeded', db_.lastError);
    assert.deepEqual(verified, [id, id]); // webhook-id is the message id
    for (const r of [...a.requests, ...b.requests]) {
      assert.match(r.headers['webhook-signature'], /^v1,[A-Za-z0-9+/]+=*$/);
      assert.ok(Math.abs(Number(r.headers['webhook-timestamp']) - Date.now() / 1000) < 60);
    }
    // a tampered body does not verify: the signature covers the bytes
    const r0 = a.requests[0];
    assert.throws(() => new Webhook(whsec).verify(Buffer.from(r0.body.toString() + ' '), r0.headers));
  });

  it('keeps a slow endpoint from delaying a fast one', async () => {
    const slow = await startSink(() => ({ status: 200, delayMs: 3000 }));
    const fast = await startSink();
    const d = await start({
      endpoints: [
        { name: 'slow', url: slow.url, max_in_flight: 1 },
        { name: 'fast', url: fast.url },
      ],
      routes: ['slow', 'fast'],
    });
    const ids = [];
    for (let i = 0; i < 3; i++) ids.push(await send(d, body(token(`slowfast${i}`))));
    const got = await waitFor(() => fast.requests.length === 3, { timeoutMs: 10000 });
    assert.ok(got, `the fast endpoint got ${fast.requests.length} of 3`);
    // every fast delivery arrived before the slow endpoint answered even once
    assert.ok(slow.requests.length >= 1);
    const firstSlowAnswer = slow.requests[0].answeredAt ?? Infinity;
    assert.ok(
      fast.requests.every((r) => r.t < firstSlowAnswer),
      'a fast delivery waited for the slow endpoint',
    );
    assert.equal(slow.requests.length, 1, 'max_in_flight: 1 lets one slow attempt run at a time');
    for (const id of ids) await deliveryIn(d, id, 'fast', ['succeeded']);
  });

  it('honours Retry-After on 429', async () => {
    const sink = await startSink((r, n) =>
      n === 1 ? { status: 429, headers: { 'retry-after': '1' } } : { status: 200 },
    );
    const d = await start({
      endpoints: [{ name: 'limited', url: sink.url, retry: '{schedule: [0s, 50ms, 50ms]}' }],
      routes: ['limited'],
    });
    const id = await send(d, body(token('429')));
    const del = await deliveryIn(d, id, 'limited', ['succeeded']);
    assert.equal(del.attempts, 2);
    const gap = sink.requests[1].t - sink.requests[0].t;
    assert.ok(gap >= 1000 - SLACK_MS, `the retry came ${gap} ms after a Retry-After of 1 s`);
    assert.ok(gap < 10000, `gap ${gap} ms`);
    const hist = await attemptsOf(d, del.id);
    assert.equal(hist[0][1], '429');
  });

  it('delivers every message at least once across a kill -9 with attempts in flight', async () => {
    let phase = 1;
    const sink = await startSink(() => (phase === 1 ? { hang: true } : { status: 200 }));
    const cfg = {
      endpoints: [{ name: 'app', url: sink.url, timeout: '2s' }],
      routes: ['app'],
    };
    const d = await start(cfg);
    const ids = [];
    for (let i = 0; i < 5; i++) ids.push(await send(d, body(token(`crash${i}`))));
    const inFlight = await waitFor(() => sink.requests.length === 5, { timeoutMs: 5000 });
    assert.ok(inFlight, `only ${sink.requests.length} of 5 attempts started`);
    await d.kill9();
    phase = 2;
    const [[leased]] = await rows(d, `SELECT count(*) FROM deliveries WHERE status = 'delivering'`);
    assert.equal(leased, '5');

    // The new process takes the dead one's leases over once they expire
    // (timeout + 10 s), and delivers.
    const d2 = await start(cfg, { dir: d.dir });
    for (const id of ids) await deliveryIn(d2, id, 'app', ['succeeded'], 30000);
    const answered = new Set(
      sink.requests.filter((r) => r.answeredAt !== undefined).map((r) => r.headers['x-hookgate-message-id']),
    );
    for (const id of ids) assert.ok(answered.has(id), `message ${id} was never delivered`);
  });
});

// A shell script in a new temp dir, run as `script OUT`: {dir, out, script}.
function writeScript(text) {
  const dir = makeTempDir('hookgate-exec-');
  const script = path.join(dir, 'run.sh');
  writeFileSync(script, '#!/bin/sh\n' + text);
  chmodSync(script, 0o755);
  return { dir, out: path.join(dir, 'out.txt'), script };
}

describe('exec endpoints', () => {
  it('runs a command with the body on stdin and the metadata in its environment', async () => {
    const { dir, out, script } = writeScript(
      // one file per message: two runs at once must not interleave their output
      'cat > "$1.$HOOKGATE_MESSAGE_ID"\n' +
        'printf "%s %s %s %s secret=%s\\n" "$HOOKGATE_SOURCE" "$HOOKGATE_MESSAGE_ID" "$HOOKGATE_ATTEMPT" ' +
        '"$HOOKGATE_CONTENT_TYPE" "${E2E_DELIVERY_SECRET-unset}" >> "$1.env"\n' +
        'echo done\n',
    );
    const d = await start({ endpoints: [{ name: 'script', exec: `${script} ${out}` }], routes: ['script'] });
    const b1 = body(token('exec1'));
    const b2 = body(token('exec2'));
    const id1 = await send(d, b1);
    const id2 = await send(d, b2);
    const del = await deliveryIn(d, id1, 'script', ['succeeded']);
    await deliveryIn(d, id2, 'script', ['succeeded']);
    assert.equal(readFileSync(`${out}.${id1}`, 'utf8'), b1);
    assert.equal(readFileSync(`${out}.${id2}`, 'utf8'), b2);
    const env = readFileSync(`${out}.env`, 'utf8');
    assert.ok(env.includes(`src ${id1} 1 application/json secret=unset`), env);
    assert.ok(env.includes(`src ${id2} 1 application/json secret=unset`), env);
    const hist = await attemptsOf(d, del.id);
    assert.equal(hist[0][1], '0'); // exit status
    assert.equal(Buffer.from(hist[0][4], 'hex').toString(), 'done\n');
    removeDir(dir);
  });

  it('kills a command that outlives its timeout, with what it started, and retries', async () => {
    // attempt 1 hangs (and starts a child of its own); attempt 2 works
    const { dir, out, script } = writeScript(
      'echo $$ >> "$1.pids"\n' +
        'if [ "$HOOKGATE_ATTEMPT" = 1 ]; then sleep 30 & echo $! >> "$1.pids"; wait; fi\n' +
        'cat >> "$1"\n',
    );
    const d = await start({
      endpoints: [{ name: 'slow', exec: `${script} ${out}`, timeout: '500ms', retry: '{schedule: [0s, 200ms]}' }],
      routes: ['slow'],
    });
    const b = body(token('timeout'));
    const id = await send(d, b);
    const del = await deliveryIn(d, id, 'slow', ['succeeded', 'dead'], 15000);
    assert.equal(del.status, 'succeeded', del.lastError);
    const hist = await attemptsOf(d, del.id);
    assert.equal(hist.length, 2);
    assert.match(hist[0][2], /timed out after 500 ms; the command was killed/);
    assert.equal(hist[1][1], '0');
    assert.equal(readFileSync(out, 'utf8'), b);
    // the hung shell and its sleep were both killed (the whole process group)
    const pids = readFileSync(`${out}.pids`, 'utf8').trim().split('\n').map(Number);
    assert.equal(pids.length, 3);
    for (const pid of pids.slice(0, 2)) {
      const gone = await waitFor(() => !running(pid), { timeoutMs: 3000 });
      assert.ok(gone, `process ${pid} of the killed attempt still runs`);
    }
    removeDir(dir);
  });
});
