// hostile.test.mjs — the HTTP front end against hostile clients: the
// connection cap reached and released (new connections served again).
//
// Network: every connection goes to 127.0.0.1.

import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, describe, test } from 'node:test';

import { HOST, UUID7_RE, postSigned, request, sign, startDaemon, token, within } from './helpers.mjs';

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
