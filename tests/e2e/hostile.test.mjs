// hostile.test.mjs — the HTTP front end against hostile clients: the
// connection cap reached and released (new connections served again), a
// client that never reads its answers cut loose, request smuggling
// (duplicate Content-Length, Transfer-Encoding with Content-Length, folded
// header lines, behind oversized headers too) refused with 400 and the
// connection closed, oversized bodies answered 413 that the sender can read
// (a lingering close, not a reset), as one line of JSON, a stop while the
// store still owes an answer, and a second daemon on a taken port.
//
// Network: every connection goes to 127.0.0.1.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import net from 'node:net';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';

import {
  HOST,
  ON_POSTGRES,
  UUID7_RE,
  configText,
  makeTempDir,
  postSigned,
  removeDir,
  request,
  runCli,
  sign,
  startDaemon,
  token,
  within,
} from './helpers.mjs';

const SECRET = token('hostile-secret');
const env = { HG_E2E_HOSTILE_SECRET: SECRET };

// Opens a raw TCP connection; resolves once connected.
function connect(port) {
  return new Promise((resolve, reject) => {
    const s = net.connect({ host: HOST, port }, () => resolve(s));
    s.on('error', reject);
  });
}

// Writes raw bytes on a fresh connection and collects everything the server
// sends until it closes the connection (or ms pass). Resolves {text, closed,
// reset}: closed is true when the server ended the connection.
function rawExchange(port, bytes, ms = 5000) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    let reset = false;
    const s = net.connect({ host: HOST, port }, () => s.write(bytes));
    const timer = setTimeout(() => {
      s.destroy();
      resolve({ text: Buffer.concat(chunks).toString('latin1'), closed: false, reset });
    }, ms);
    s.on('data', (d) => chunks.push(d));
    s.on('error', (e) => {
      if (e.code === 'ECONNRESET') reset = true;
      else {
        clearTimeout(timer);
        reject(e);
      }
    });
    s.on('close', () => {
      clearTimeout(timer);
      resolve({ text: Buffer.concat(chunks).toString('latin1'), closed: true, reset });
    });
  });
}

function statusLines(text) {
  return text.match(/HTTP\/1\.[01] \d{3}/g) ?? [];
}

describe('the connection cap (max_connections 2, one loop)', () => {
  let d;

  before(async () => {
    d = await startDaemon({
      env,
      extra: { threads: 1, max_connections: 2 },
      sources: [{ name: 'meta', provider: 'meta', secret_env: 'HG_E2E_HOSTILE_SECRET', dedupe: ['$.id'] }],
    });
  });

  after(async () => {
    await d?.cleanup();
  });

  test('reaching the cap and closing every connection: new connections are served again, repeatedly', async () => {
    for (let round = 0; round < 3; round++) {
      // Two connections fill the cap, a third waits in the kernel's backlog.
      const socks = [];
      for (let i = 0; i < 3; i++) socks.push(await connect(d.port));
      // Give the loop a moment to accept the first two and pause.
      await new Promise((r) => setTimeout(r, 100));
      for (const s of socks) s.destroy();
      const r = await within(request(d, 'GET', '/healthz', { timeoutMs: 3000 }).catch((e) => ({ error: e.message })), 4000);
      assert.ok(r && r.status === 200, `round ${round}: /healthz after the cap was reached: ${JSON.stringify(r)}`);
      const body = JSON.stringify({ id: token('evt') });
      const p = await postSigned(d, 'meta', body, { secret: SECRET });
      assert.equal(p.status, 200, `round ${round}: ingest after the cap: ${p.status} ${p.text}`);
      assert.match(p.json.id, UUID7_RE);
    }
  });

  test('a client waiting at the cap is served once a connection closes', async () => {
    const a = await connect(d.port);
    const b = await connect(d.port);
    await new Promise((r) => setTimeout(r, 100));
    // Over the cap: this request waits in the backlog until a or b closes.
    const pending = request(d, 'GET', '/healthz', { timeoutMs: 5000 });
    await new Promise((r) => setTimeout(r, 200));
    a.destroy();
    const r = await pending;
    assert.equal(r.status, 200);
    b.destroy();
  });
});

describe('a client that never reads its answers (max_connections 1, request_timeout 1s)', () => {
  let d;

  before(async () => {
    d = await startDaemon({ env, extra: { threads: 1, max_connections: 1, request_timeout: '1s' } });
  });

  after(async () => {
    await d?.cleanup();
  });

  test('its connection is closed once the answer stalls, and the next client is served', async () => {
    // Pipeline thousands of requests and read nothing: the daemon's answers
    // fill the socket buffers and its write cannot finish.
    const hog = await connect(d.port);
    hog.pause();
    hog.on('error', () => {});
    const burst = Buffer.from('GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n'.repeat(2000));
    for (let i = 0; i < 40; i++) hog.write(burst);
    // The only slot is taken; this request waits in the backlog until the
    // stalled connection is cut (a bounded wait: never, before the fix).
    const r = await within(request(d, 'GET', '/healthz', { timeoutMs: 20000 }).catch((e) => ({ error: e.message })), 21000);
    hog.destroy();
    assert.ok(r && r.status === 200, `a client behind the one that never reads: ${JSON.stringify(r)}`);
    assert.ok(
      d.logLines().some((l) => l.msg === 'closing a connection whose client stopped reading'),
      'the cut is logged',
    );
  });
});

describe('request smuggling and oversized bodies', () => {
  let d;

  before(async () => {
    d = await startDaemon({
      env,
      sources: [
        { name: 'meta', provider: 'meta', secret_env: 'HG_E2E_HOSTILE_SECRET', dedupe: ['$.id'], max_body: '1m' },
      ],
    });
  });

  after(async () => {
    await d?.cleanup();
  });

  async function messageCount() {
    const r = await request(d, 'GET', '/metrics');
    assert.equal(r.status, 200);
    const m = r.text.match(/^hookgate_requests_total\{source="meta",outcome="accepted"\} (\d+)/m);
    return m ? Number(m[1]) : 0;
  }

  test('two Content-Length headers (0, then N): 400, connection closed, the body is not a second request', async () => {
    const inner = `GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n`;
    for (const [a, b] of [
      ['0', String(inner.length)],
      [String(inner.length), String(inner.length)],
    ]) {
      const raw =
        `POST /in/meta HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n` +
        `Content-Length: ${a}\r\ncontent-length: ${b}\r\n\r\n${inner}`;
      const r = await rawExchange(d.port, raw);
      assert.deepEqual(statusLines(r.text), ['HTTP/1.1 400'], `CL ${a}, ${b}: ${r.text}`);
      assert.match(r.text, /\{"error":"more than one Content-Length header"\}/);
      assert.ok(r.closed, 'the connection is closed after the 400');
    }
  });

  test('Transfer-Encoding: chunked with Content-Length: 400, connection closed, trailing bytes not served', async () => {
    const inner = `GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n`;
    for (const order of ['te-first', 'cl-first']) {
      const te = 'Transfer-Encoding: chunked\r\n';
      const cl = 'Content-Length: 5\r\n';
      const raw =
        `POST /in/meta HTTP/1.1\r\nHost: x\r\n${order === 'te-first' ? te + cl : cl + te}\r\n` + `0\r\n\r\n${inner}`;
      const r = await rawExchange(d.port, raw);
      assert.deepEqual(statusLines(r.text), ['HTTP/1.1 400'], `${order}: ${r.text}`);
      assert.match(r.text, /both Content-Length and Transfer-Encoding/);
      assert.ok(r.closed, 'the connection is closed after the 400');
    }
    // Two Transfer-Encoding headers are refused as well.
    const r2 = await rawExchange(
      d.port,
      `POST /in/meta HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n${inner}`,
    );
    assert.deepEqual(statusLines(r2.text), ['HTTP/1.1 400'], r2.text);
    assert.ok(r2.closed);
  });

  test('smuggling behind headers over 16 KiB is refused the same way (400 and close, not 431 and keep-alive)', async () => {
    const inner = `GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n`;
    const pad = `X-Pad: ${'p'.repeat(17 * 1024)}\r\n`;
    const r = await rawExchange(
      d.port,
      `POST /in/meta HTTP/1.1\r\nHost: x\r\n${pad}Content-Length: 2\r\nContent-Length: ${2 + inner.length}\r\n\r\n{}${inner}`,
    );
    assert.deepEqual(statusLines(r.text), ['HTTP/1.1 400'], r.text.slice(0, 300));
    assert.ok(r.closed);
    // Oversized headers alone: 431, and the connection is closed as well.
    const r2 = await rawExchange(d.port, `GET /healthz HTTP/1.1\r\nHost: x\r\n${pad}\r\n${inner}`);
    assert.deepEqual(statusLines(r2.text), ['HTTP/1.1 431'], r2.text.slice(0, 300));
    assert.ok(r2.closed);
  });

  test('a folded header line (obsolete line folding) is refused with 400 and close', async () => {
    const inner = `GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n`;
    for (const fold of [' Transfer-Encoding: chunked', ` Content-Length: ${2 + inner.length}`, '\tcontinued']) {
      const r = await rawExchange(
        d.port,
        `POST /in/meta HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nX-A: b\r\n${fold}\r\n\r\n{}${inner}`,
      );
      assert.deepEqual(statusLines(r.text), ['HTTP/1.1 400'], `${JSON.stringify(fold)}: ${r.text}`);
      assert.match(r.text, /folded header line/);
      assert.ok(r.closed);
    }
  });

  test('Transfer-Encoding in an HTTP/1.0 request is refused', async () => {
    const r = await rawExchange(
      d.port,
      `POST /in/meta HTTP/1.0\r\nHost: x\r\nConnection: keep-alive\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n`,
    );
    assert.deepEqual(statusLines(r.text), ['HTTP/1.1 400'], r.text);
    assert.ok(r.closed);
  });

  test('a chunked body of exactly max_body is taken like the same body with Content-Length', async () => {
    const size = 1024 * 1024;
    const head = JSON.stringify({ id: token('exact'), pad: '' });
    const body = JSON.stringify({ id: JSON.parse(head).id, pad: 'x'.repeat(size - head.length) });
    assert.equal(Buffer.byteLength(body), size);
    const sig = await sign(SECRET, body);
    const chunks = [];
    for (let i = 0; i < body.length; i += 65536) chunks.push(body.slice(i, i + 65536));
    const r = await request(d, 'POST', '/in/meta', {
      headers: { 'Content-Type': 'application/json', 'X-Hub-Signature-256': sig },
      chunks,
    });
    assert.equal(r.status, 200, `chunked, exactly max_body: ${r.status} ${r.text}`);
  });

  test('a well-framed pipelined pair is still served (the check is not a false alarm)', async () => {
    const one = `GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n`;
    const r = await rawExchange(d.port, one + one + `GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
    assert.deepEqual(statusLines(r.text), ['HTTP/1.1 200', 'HTTP/1.1 200', 'HTTP/1.1 200'], r.text);
  });

  test('a smuggled signed event is not stored', async () => {
    // The counter counts: a plain signed post moves it.
    const base = await messageCount();
    const plain = JSON.stringify({ id: token('plain') });
    assert.equal((await postSigned(d, 'meta', plain, { secret: SECRET })).status, 200);
    assert.equal(await messageCount(), base + 1);
    const before = base + 1;
    const body = JSON.stringify({ id: token('smuggled') });
    const sig = await sign(SECRET, body);
    const inner =
      `POST /in/meta HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nX-Hub-Signature-256: ${sig}\r\n` +
      `Content-Length: ${body.length}\r\n\r\n${body}`;
    const r = await rawExchange(
      d.port,
      `POST /in/meta HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nContent-Length: ${inner.length}\r\n\r\n${inner}`,
    );
    assert.deepEqual(statusLines(r.text), ['HTTP/1.1 400'], r.text);
    assert.equal(await messageCount(), before, 'nothing was stored');
  });

  test('20 oversized chunked uploads (4 MiB to a 1 MiB source): each reads its 413, as JSON, none reset', async () => {
    const chunk = Buffer.alloc(64 * 1024, 'x');
    const results = [];
    for (let i = 0; i < 20; i++) {
      const chunks = [Buffer.from('{"id":"big","pad":"')];
      for (let k = 0; k < 64; k++) chunks.push(chunk);
      chunks.push(Buffer.from('"}'));
      const r = await request(d, 'POST', '/in/meta', {
        headers: { 'Content-Type': 'application/json', 'X-Hub-Signature-256': 'sha256=00' },
        chunks,
      }).catch((e) => ({ status: 0, text: e.code ?? e.message }));
      results.push(r);
    }
    const statuses = results.map((r) => r.status);
    assert.deepEqual(statuses, Array(20).fill(413), `statuses: ${statuses.join(',')} ${results.find((r) => r.status !== 413)?.text}`);
    for (const r of results) {
      assert.match(r.headers['content-type'], /^application\/json/);
      assert.deepEqual(JSON.parse(r.text), { error: 'request entity is too large' });
    }
  });

  test('oversized Content-Length uploads: 413 read back, connection drained not reset', async () => {
    const big = Buffer.alloc(4 * 1024 * 1024, 'x');
    for (let i = 0; i < 10; i++) {
      const r = await request(d, 'POST', '/in/meta', {
        headers: { 'Content-Type': 'application/json', 'X-Hub-Signature-256': 'sha256=00' },
        body: big,
      }).catch((e) => ({ status: 0, text: e.code ?? e.message }));
      assert.equal(r.status, 413, `upload ${i}: ${r.text}`);
      assert.deepEqual(JSON.parse(r.text), { error: 'request entity is too large' });
    }
    // The daemon still serves, and the lingering connections were released.
    const h = await request(d, 'GET', '/healthz');
    assert.equal(h.status, 200);
  });

  test('broken chunked framing gets h2o\'s 400 as one line of JSON', async () => {
    const r = await rawExchange(d.port, `POST /in/meta HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n`);
    assert.deepEqual(statusLines(r.text), ['HTTP/1.1 400'], r.text);
    const body = r.text.slice(r.text.indexOf('\r\n\r\n') + 4);
    assert.deepEqual(JSON.parse(body), { error: 'broken chunked-encoding' });
    assert.match(r.text, /content-type: application\/json/i);
  });
});

describe('stopping while the store still owes an answer', () => {
  test('SIGTERM with an answer pending past the drain: the daemon exits 0 (the answer is dropped, not sent to a freed loop)', { skip: ON_POSTGRES && 'holds a SQLite write lock' }, async () => {
    const d = await startDaemon({
      env,
      sources: [{ name: 'meta', provider: 'meta', secret_env: 'HG_E2E_HOSTILE_SECRET' }],
    });
    // Another process holds SQLite's write lock: each batch of the writer
    // waits its busy timeout (5 s) and fails, longer than the server's drain.
    const holder = spawn('sqlite3', [path.join(d.dir, 'hookgate.db')], { stdio: ['pipe', 'ignore', 'ignore'] });
    try {
      holder.stdin.write('BEGIN IMMEDIATE;\nSELECT 1;\n');
      await new Promise((r) => setTimeout(r, 300));
      const posts = [];
      for (let i = 0; i < 2; i++) {
        const body = JSON.stringify({ id: token('pending') });
        posts.push(postSigned(d, 'meta', body, { secret: SECRET }).catch((e) => ({ status: 0, text: e.message })));
        await new Promise((r) => setTimeout(r, 500));
      }
      const exit = await d.stop({ timeoutMs: 40000 });
      assert.equal(exit.timedOut, false, 'the daemon stopped by itself');
      assert.equal(exit.signal, null, `the daemon died of ${exit.signal}\n${d.stderr().slice(-2000)}`);
      assert.equal(exit.code, 0, d.stderr().slice(-2000));
      // No answer was a false 200: nothing could be stored.
      for (const r of await Promise.all(posts)) assert.notEqual(r.status, 200, r.text);
    } finally {
      holder.stdin.end();
      holder.kill('SIGKILL');
      await d.cleanup();
    }
  });
});

describe('a second daemon on a port that is taken', () => {
  test('fails at once with "address already in use" instead of sharing the port', async () => {
    const d = await startDaemon({ env });
    const dir = makeTempDir();
    try {
      const cfg = path.join(dir, 'second.yaml');
      const { writeFileSync } = await import('node:fs');
      writeFileSync(cfg, configText({ port: d.port, store: `sqlite:${path.join(dir, 'second.db')}` }));
      const r = await runCli(['serve', '-c', cfg], { timeoutMs: 10000 });
      assert.notEqual(r.code, 0, 'the second daemon must not start');
      assert.match(r.stderr, /already in use/i);
      const h = await request(d, 'GET', '/healthz');
      assert.equal(h.status, 200, 'the first one still serves');
    } finally {
      removeDir(dir);
      await d.cleanup();
    }
  });
});
