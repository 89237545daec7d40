// requestid.test.mjs — request ids and trace context. A valid incoming
// X-Request-Id is kept (a missing or malformed one is replaced by a UUID),
// returned in the answer, named by every log line about the request,
// stored with the message (GET /api/v1/messages/{id} shows it) and sent on
// its deliveries (X-Request-Id to an http endpoint, HOOKGATE_REQUEST_ID to
// an exec one, X-Request-Id to an outbound subscriber for a published
// event); a well-formed W3C traceparent reaches the endpoint, a malformed
// one does not. Probes are not logged per request; a 401 for a bad
// signature is logged at warn. Network: 127.0.0.1 only.

import assert from 'node:assert/strict';
import { chmodSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';

import {
  makeTempDir,
  postSigned,
  removeDir,
  request,
  startDaemon,
  startSink,
  token,
  waitFor,
} from './helpers.mjs';

const SECRET = token('gh');
const ADMIN = token('admin');
const ENV = { E2E_RID_SECRET: SECRET, E2E_RID_ADMIN: ADMIN };
const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const TRACEPARENT = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';

let d;
let sink;
let dir;
let out;
before(async () => {
  sink = await startSink();
  dir = makeTempDir('hookgate-rid-');
  const script = path.join(dir, 'env.sh');
  out = path.join(dir, 'env');
  writeFileSync(script, '#!/bin/sh\nenv > "$1.$HOOKGATE_MESSAGE_ID"\n');
  chmodSync(script, 0o755);
  d = await startDaemon({
    env: ENV,
    extra: [
      'admin_token_env: E2E_RID_ADMIN',
      'allow_http: true',
      'egress_allow: [127.0.0.0/8]',
      'event_types: [order.paid]',
      'endpoints:',
      '  - name: app',
      `    url: ${sink.url('/app')}`,
      '  - name: script',
      `    exec: ${script} ${out}`,
      'sources:',
      '  - name: gh',
      '    provider: github',
      '    secret_env: E2E_RID_SECRET',
      // listed too: still sent once, as hookgate's request id
      '    forward_headers: [X-GitHub-Event, X-Request-Id]',
      '    routes: [app, script]',
      '',
    ].join('\n'),
  });
});
after(async () => {
  await d?.cleanup();
  await sink?.close();
  if (dir) removeDir(dir);
});

const admin = { Authorization: `Bearer ${ADMIN}` };
const logsOf = (rid) => d.logLines().filter((l) => l.request_id === rid);

describe('request ids', () => {
  it('keeps a valid X-Request-Id: answer, every log line, the stored message, both deliveries', async () => {
    const rid = `req-${token('r')}`;
    const body = JSON.stringify({ marker: token('m') });
    const r = await postSigned(d, 'gh', body, {
      secret: SECRET,
      headers: { 'X-Request-Id': rid, traceparent: TRACEPARENT },
    });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.headers['x-request-id'], rid);
    const id = r.json.id;

    assert.ok(await waitFor(() => sink.on('/app').length === 1, { timeoutMs: 10000 }));
    const h = sink.on('/app')[0].headers;
    assert.equal(h['x-request-id'], rid);
    assert.equal(h.traceparent, TRACEPARENT);
    assert.equal(h['x-hookgate-message-id'], id);

    const envFile = `${out}.${id}`;
    assert.ok(
      await waitFor(() => {
        try {
          return readFileSync(envFile, 'utf8').includes('HOOKGATE_REQUEST_ID=');
        } catch {
          return false;
        }
      }, { timeoutMs: 10000 }),
    );
    assert.match(readFileSync(envFile, 'utf8'), new RegExp(`^HOOKGATE_REQUEST_ID=${rid}$`, 'm'));
    assert.match(readFileSync(envFile, 'utf8'), new RegExp(`^HOOKGATE_HEADER_TRACEPARENT=${TRACEPARENT}$`, 'm'));

    const lines = logsOf(rid);
    assert.ok(lines.some((l) => l.msg === 'request' && l.path === '/in/gh' && l.status === 200), JSON.stringify(lines));
    // no other request's line carries it
    assert.ok(lines.every((l) => l.path === undefined || l.path === '/in/gh'));

    const m = await request(d, 'GET', `/api/v1/messages/${id}`, { headers: admin });
    assert.equal(m.status, 200, m.text);
    assert.equal(m.json.request_id, rid);
    assert.notEqual(m.headers['x-request-id'], rid, 'the API read has a request id of its own');
    assert.match(m.headers['x-request-id'], UUID_RE);
  });

  it('replaces a malformed or overlong X-Request-Id with a UUID and drops a malformed traceparent', async () => {
    for (const bad of ['has space', 'x'.repeat(129), 'tab\tin']) {
      const r = await postSigned(d, 'gh', JSON.stringify({ marker: token('b') }), {
        secret: SECRET,
        headers: { 'X-Request-Id': bad, traceparent: '00-00000000000000000000000000000000-00f067aa0ba902b7-01' },
      });
      assert.equal(r.status, 200, r.text);
      assert.match(r.headers['x-request-id'], UUID_RE);
      assert.notEqual(r.headers['x-request-id'], bad);
      const rid = r.headers['x-request-id'];
      const mid = r.json.id;
      assert.ok(await waitFor(() => sink.on('/app').some((q) => q.headers['x-hookgate-message-id'] === mid), { timeoutMs: 10000 }));
      const q = sink.on('/app').find((x) => x.headers['x-hookgate-message-id'] === mid);
      assert.equal(q.headers['x-request-id'], rid, 'the generated id is forwarded');
      assert.equal(q.headers.traceparent, undefined, 'an all-zero trace id is not passed on');
    }
    // a 128-byte id is the longest kept
    const long = 'y'.repeat(128);
    const r = await request(d, 'GET', '/api/v1/stats', { headers: { ...admin, 'X-Request-Id': long } });
    assert.equal(r.headers['x-request-id'], long);
  });

  it('sends the publishing request id to an outbound subscriber', async () => {
    const k = await request(d, 'POST', '/api/v1/api-keys', {
      headers: { ...admin, 'Content-Type': 'application/json' },
      body: JSON.stringify({ owner_id: 'acme' }),
    });
    assert.equal(k.status, 201, k.text);
    const ownerKey = k.json.token;
    const w = await request(d, 'POST', '/api/v1/webhooks', {
      headers: { Authorization: `Bearer ${ownerKey}`, 'Content-Type': 'application/json' },
      body: JSON.stringify({ url: sink.url('/sub'), events: ['order.paid'] }),
    });
    assert.equal(w.status, 201, w.text);
    const rid = `pub-${token('p')}`;
    const p = await request(d, 'POST', '/api/v1/events', {
      headers: { ...admin, 'Content-Type': 'application/json', 'X-Request-Id': rid },
      body: JSON.stringify({ event: 'order.paid', data: { n: 1 }, owner_id: 'acme' }),
    });
    assert.equal(p.status, 202, p.text);
    assert.equal(p.headers['x-request-id'], rid);
    assert.ok(await waitFor(() => sink.on('/sub').length === 1, { timeoutMs: 10000 }));
    assert.equal(sink.on('/sub')[0].headers['x-request-id'], rid);
    assert.ok(logsOf(rid).some((l) => l.msg === 'request' && l.path === '/api/v1/events'));
  });

  it('does not log probes per request, and logs a bad signature at warn', async () => {
    const before = d.logLines().length;
    for (const p of ['/healthz', '/readyz', '/metrics']) {
      const r = await request(d, 'GET', p, { headers: p === '/metrics' ? admin : {} });
      assert.equal(r.status, 200, `${p}: ${r.text}`);
      assert.match(r.headers['x-request-id'], UUID_RE);
    }
    const rid = `bad-${token('s')}`;
    const r = await postSigned(d, 'gh', '{"x":1}', { signature: `sha256=${'0'.repeat(64)}`, headers: { 'X-Request-Id': rid } });
    assert.equal(r.status, 401);
    assert.equal(r.headers['x-request-id'], rid);
    assert.ok(await waitFor(() => logsOf(rid).length > 0));
    const after = d.logLines().slice(before);
    assert.equal(after.filter((l) => ['/healthz', '/readyz', '/metrics'].includes(l.path)).length, 0, JSON.stringify(after));
    const line = logsOf(rid).find((l) => l.msg === 'request');
    assert.equal(line.level, 'warn');
    assert.equal(line.status, 401);
  });
});
