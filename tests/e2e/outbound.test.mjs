// outbound.test.mjs — outbound webhooks, the Clipper contract of seed 003:
// API keys per owner, subscription CRUD with the secret shown once, events
// fanned out to a loopback subscriber that verifies X-Webhook-Signature
// exactly as the seed's Node example does and webhook-signature with the
// standardwebhooks library, secret rotation with and without a grace period,
// owner isolation, delivery history pages, the retry schedule, the
// dead-letter queue, 410, API rate limits and the SSRF guard.
//
// Network safety: the only subscriber ever reached is the node http server
// below on 127.0.0.1, admitted by `egress_allow: [127.0.0.1/32]`. Other URLs
// used here are refused at create time, are never published to, or use the
// reserved .invalid domain, which never resolves.

import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import dns from 'node:dns/promises';
import http from 'node:http';
import os from 'node:os';
import { after, before, describe, test } from 'node:test';

import { Webhook } from 'standardwebhooks';

import { HOST, UUID7_RE, request, runCli, startDaemon, token, waitFor } from './helpers.mjs';

const ADMIN = token('admin');
const EVENT_TYPES = ['clip.submitted', 'clip.approved', 'clip.rejected'];
const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

// ---------------------------------------------------------------- the subscriber

// A loopback subscriber. Counts TCP connections (the SSRF tests need to see
// zero), records every request with its raw body, and answers per path:
// /ok 200, /fail 500, /gone 410, /flaky 500 for the first `flakyFailures`
// requests then 200, /slow never answers within the test's timeout.
async function startSink() {
  const sink = { connections: 0, requests: [], flakyFailures: 2, flakySeen: 0 };
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks);
      sink.requests.push({ at: Date.now(), path: req.url, headers: req.headers, raw });
      const path = req.url.split('?')[0];
      if (path.startsWith('/fail')) return res.writeHead(500).end('Internal Server Error');
      if (path.startsWith('/gone')) return res.writeHead(410).end('Gone');
      if (path.startsWith('/flaky')) {
        sink.flakySeen += 1;
        if (sink.flakySeen <= sink.flakyFailures) return res.writeHead(503).end('busy');
      }
      res.writeHead(200, { 'Content-Type': 'text/plain' }).end('OK');
    });
  });
  server.on('connection', () => {
    sink.connections += 1;
  });
  await new Promise((resolve) => server.listen(0, HOST, resolve));
  sink.port = server.address().port;
  sink.url = (path) => `http://${HOST}:${sink.port}${path}`;
  sink.on = (path) => sink.requests.filter((r) => r.path === path);
  sink.close = () =>
    new Promise((resolve) => {
      server.closeAllConnections?.();
      server.close(() => resolve());
    });
  return sink;
}

// Seed 003's Node example, verbatim in substance: HMAC-SHA256 of the raw
// body keyed by the secret, hex, compared with timingSafeEqual.
function seedVerify(secret, r) {
  const signature = r.headers['x-webhook-signature'];
  const computedSignature = crypto.createHmac('sha256', secret).update(r.raw).digest('hex');
  return (
    typeof signature === 'string' &&
    signature.length === computedSignature.length &&
    crypto.timingSafeEqual(Buffer.from(signature, 'hex'), Buffer.from(computedSignature, 'hex'))
  );
}

function standardVerify(whsec, r) {
  try {
    new Webhook(whsec).verify(r.raw, {
      'webhook-id': r.headers['webhook-id'],
      'webhook-timestamp': r.headers['webhook-timestamp'],
      'webhook-signature': r.headers['webhook-signature'],
    });
    return true;
  } catch {
    return false;
  }
}

// ---------------------------------------------------------------- the API

function api(d, method, path, { key = ADMIN, body, headers = {} } = {}) {
  const h = { ...headers };
  if (key) h.Authorization = `Bearer ${key}`;
  let payload;
  if (body !== undefined) {
    h['Content-Type'] = 'application/json';
    payload = typeof body === 'string' ? body : JSON.stringify(body);
  }
  return request(d, method, path, { headers: h, body: payload });
}

async function apiKey(d, owner_id, role) {
  const r = await api(d, 'POST', '/api/v1/api-keys', { body: role ? { owner_id, role } : { owner_id } });
  assert.equal(r.status, 201, r.text);
  assert.equal(r.json.success, true);
  assert.equal(typeof r.json.token, 'string');
  return r.json.token;
}

async function createSub(d, key, body) {
  const r = await api(d, 'POST', '/api/v1/webhooks', { key, body });
  assert.equal(r.status, 201, r.text);
  return r.json;
}

async function publish(d, body, key = ADMIN) {
  const r = await api(d, 'POST', '/api/v1/events', { key, body });
  assert.equal(r.status, 202, r.text);
  assert.equal(r.json.success, true);
  return r.json.data;
}

async function history(d, key, id, query = '') {
  const r = await api(d, 'GET', `/api/v1/webhooks/${id}/deliveries${query}`, { key });
  assert.equal(r.status, 200, r.text);
  return r.json;
}

// The suite's config. Most tests make more subscriptions per owner than
// seed 003's 10 per hour: they get a high create limit (defaultLimits: the
// seed's limits, for the rate-limit test).
function outboundConfig({ allowLoopback = true, retry, defaultLimits = false, extra = {} } = {}) {
  return {
    admin_token_env: 'HG_E2E_ADMIN',
    event_types: EVENT_TYPES,
    allow_http: true,
    ...(allowLoopback ? { egress_allow: ['127.0.0.1/32'] } : {}),
    outbound: {
      retry: retry ?? { schedule: ['0s', '400ms', '800ms'], max_delay: '1h', jitter: '0%' },
      timeout: '2s',
      ...(defaultLimits ? {} : { rate_limits: { create: { limit: 1000, per: '1h' } } }),
    },
    ...extra,
  };
}

async function daemon(opts = {}) {
  return startDaemon({ env: { HG_E2E_ADMIN: ADMIN }, extra: outboundConfig(opts), dir: opts.dir });
}

// ---------------------------------------------------------------- tests

describe('outbound webhooks (seed 003)', () => {
  let d;
  let sink;
  let ownerA;
  let ownerB;
  let publisher;

  before(async () => {
    sink = await startSink();
    d = await daemon();
    ownerA = await apiKey(d, 'owner-a');
    ownerB = await apiKey(d, 'owner-b');
    publisher = await apiKey(d, 'owner-a', 'publisher');
  });
  after(async () => {
    await d?.cleanup();
    await sink?.close();
  });

  test('API keys: only the admin token creates them; the token is shown once', async () => {
    const r = await api(d, 'POST', '/api/v1/api-keys', { body: { owner_id: 'someone' } });
    assert.equal(r.status, 201);
    assert.match(r.json.token, /^hgk_[A-Za-z0-9_-]{20,}$/);
    assert.equal(r.json.data.owner_id, 'someone');
    assert.equal(r.json.data.role, 'owner');
    // an owner key cannot mint keys
    const denied = await api(d, 'POST', '/api/v1/api-keys', { key: ownerA, body: { owner_id: 'x' } });
    assert.equal(denied.status, 403);
    assert.equal(denied.json.success, false);
    // no token, a wrong token
    assert.equal((await api(d, 'GET', '/api/v1/webhooks', { key: null })).status, 401);
    assert.equal((await api(d, 'GET', '/api/v1/webhooks', { key: 'hgk_nope' })).status, 401);
    // bad bodies
    const bad = await api(d, 'POST', '/api/v1/api-keys', { body: { owner_id: 'a b' } });
    assert.equal(bad.status, 400);
    assert.equal(bad.json.success, false);
    assert.match(bad.json.error, /owner_id/);
    // the admin lists keys (never a token) and revokes one; revoked is gone
    const list = await api(d, 'GET', '/api/v1/api-keys?owner_id=someone');
    assert.equal(list.status, 200);
    assert.deepEqual(list.json.data.map((k) => k.id), [r.json.data.id]);
    assert.ok(!JSON.stringify(list.json).includes(r.json.token));
    assert.equal((await api(d, 'GET', '/api/v1/api-keys', { key: ownerA })).status, 403);
    const revoked = await api(d, 'DELETE', `/api/v1/api-keys/${r.json.data.id}`);
    assert.equal(revoked.status, 200);
    assert.equal((await api(d, 'GET', '/api/v1/webhooks', { key: r.json.token })).status, 401);
    assert.equal((await api(d, 'DELETE', `/api/v1/api-keys/${r.json.data.id}`)).status, 404);
    // the revocation is in the audit log, whose chain the API checks
    const verify = await api(d, 'GET', '/api/v1/audit/verify');
    assert.equal(verify.status, 200);
    assert.equal(verify.json.intact, true);
    assert.ok(verify.json.rows > 0);
  });

  test('create: seed 003 shape, secret once (hex and whsec_), never in reads', async () => {
    const created = await createSub(d, ownerA, {
      url: sink.url('/ok'),
      events: ['clip.submitted', 'clip.approved', 'clip.rejected'],
      description: 'Production webhook for clip notifications',
    });
    assert.equal(created.success, true);
    assert.match(created.secret, /^[0-9a-f]{64}$/);
    assert.equal(
      created.secret_standard,
      'whsec_' + Buffer.from(created.secret, 'ascii').toString('base64'),
    );
    assert.match(created.message, /won't be shown again/);
    const s = created.data;
    assert.match(s.id, UUID7_RE);
    assert.equal(s.user_id, 'owner-a');
    assert.equal(s.url, sink.url('/ok'));
    assert.deepEqual(s.events, ['clip.submitted', 'clip.approved', 'clip.rejected']);
    assert.equal(s.is_active, true);
    assert.equal(s.description, 'Production webhook for clip notifications');
    assert.match(s.created_at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/);
    assert.equal(s.updated_at, s.created_at);
    assert.equal(s.last_delivery_at, null);
    assert.equal('secret' in s, false);

    const list = await api(d, 'GET', '/api/v1/webhooks', { key: ownerA });
    assert.equal(list.status, 200);
    assert.equal(list.json.success, true);
    assert.ok(list.json.data.some((x) => x.id === s.id));
    const one = await api(d, 'GET', `/api/v1/webhooks/${s.id}`, { key: ownerA });
    assert.equal(one.status, 200);
    assert.equal(one.json.data.id, s.id);
    for (const r of [list, one]) {
      assert.equal(r.text.includes(created.secret), false, 'the secret leaked into a read');
      assert.equal(r.text.includes(created.secret_standard.slice(6, 40)), false);
      assert.equal(r.text.includes('secret'), false);
    }
    // the daemon's log never carries it either
    assert.equal(d.stderr().includes(created.secret), false);

    // event validation against the configured event_types; wildcards
    const wild = await createSub(d, ownerA, { url: sink.url('/ok-wild'), events: ['clip.*'] });
    assert.deepEqual(wild.data.events, ['clip.*']);
    for (const events of [['clip.deleted'], [], ['Clip.Submitted'], 'clip.submitted', ['user.*']]) {
      const r = await api(d, 'POST', '/api/v1/webhooks', { key: ownerA, body: { url: sink.url('/x'), events } });
      assert.equal(r.status, 400, JSON.stringify(events));
      assert.equal(r.json.success, false);
      assert.match(r.json.error, /events/);
    }
    const noUrl = await api(d, 'POST', '/api/v1/webhooks', { key: ownerA, body: { events: ['clip.approved'] } });
    assert.equal(noUrl.status, 400);
    await api(d, 'DELETE', `/api/v1/webhooks/${wild.data.id}`, { key: ownerA });
    await api(d, 'DELETE', `/api/v1/webhooks/${s.id}`, { key: ownerA });
  });

  test('a delivery verifies with the seed example and with standardwebhooks', async () => {
    const created = await createSub(d, ownerA, { url: sink.url('/ok-sig'), events: ['clip.submitted'] });
    const data = { submission_id: crypto.randomUUID(), tags: ['highlight', 'épique'], is_nsfw: false };
    const ev = await publish(d, { event: 'clip.submitted', data }, publisher);
    assert.match(ev.id, UUID7_RE);
    assert.equal(ev.deliveries, 1);
    assert.ok(await waitFor(() => sink.on('/ok-sig').length === 1, { timeoutMs: 5000 }));
    const r = sink.on('/ok-sig')[0];
    assert.equal(r.headers['content-type'], 'application/json');
    assert.equal(r.headers['x-webhook-event'], 'clip.submitted');
    assert.match(r.headers['x-webhook-delivery-id'], UUID_RE);
    assert.match(r.headers['user-agent'], /^hookgate\/\d+\.\d+\.\d+$/);
    assert.equal(r.headers['webhook-id'], r.headers['x-webhook-delivery-id']);
    assert.ok(seedVerify(created.secret, r), 'X-Webhook-Signature does not verify');
    assert.ok(standardVerify(created.secret_standard, r), 'webhook-signature does not verify');
    assert.equal(seedVerify('0'.repeat(64), r), false);
    const payload = JSON.parse(r.raw.toString('utf8'));
    assert.deepEqual(Object.keys(payload), ['event', 'timestamp', 'data']);
    assert.equal(payload.event, 'clip.submitted');
    assert.deepEqual(payload.data, data);
    assert.ok(Math.abs(Date.parse(payload.timestamp) - Date.now()) < 60000);

    // The engine records the outcome once the subscriber has answered, so
    // wait for the history to say delivered; the subscription's health
    // (last_delivery_at) is written right after that, in its own statement.
    let h;
    const recorded = await waitFor(
      async () => (h = await history(d, ownerA, created.data.id)).data[0]?.status === 'delivered',
      { timeoutMs: 5000 },
    );
    assert.ok(recorded, `history: ${JSON.stringify(h)}`);
    let one;
    await waitFor(
      async () =>
        (one = await api(d, 'GET', `/api/v1/webhooks/${created.data.id}`, { key: ownerA })).json
          .data.last_delivery_at !== null,
      { timeoutMs: 5000 },
    );
    assert.notEqual(one.json.data.last_delivery_at, null);
    assert.equal(h.data.length, 1);
    assert.equal(h.data[0].id, r.headers['x-webhook-delivery-id']);
    assert.equal(h.data[0].event_type, 'clip.submitted');
    assert.equal(h.data[0].status, 'delivered');
    assert.equal(h.data[0].http_status_code, 200);
    assert.equal(h.data[0].attempt_count, 1);
    assert.ok(h.data[0].delivered_at);
    // events not subscribed to are not delivered
    const other = await publish(d, { event: 'clip.rejected', data: {} });
    assert.equal(other.deliveries, 0);
    await api(d, 'DELETE', `/api/v1/webhooks/${created.data.id}`, { key: ownerA });
  });

  test('publishing: owner scoping, idempotency keys, validation, roles', async () => {
    const a = await createSub(d, ownerA, { url: sink.url('/ok-pa'), events: ['clip.approved'] });
    const b = await createSub(d, ownerB, { url: sink.url('/ok-pb'), events: ['clip.approved'] });
    // owner_id: only that owner's subscriptions
    const onlyB = await publish(d, { event: 'clip.approved', data: { n: 1 }, owner_id: 'owner-b' });
    assert.equal(onlyB.deliveries, 1);
    // a publisher key publishes for its own owner only
    const viaPub = await publish(d, { event: 'clip.approved', data: { n: 2 } }, publisher);
    assert.equal(viaPub.deliveries, 1);
    const foreign = await api(d, 'POST', '/api/v1/events', {
      key: publisher,
      body: { event: 'clip.approved', data: {}, owner_id: 'owner-b' },
    });
    assert.equal(foreign.status, 403);
    // an owner key manages subscriptions but does not publish
    const ownerPub = await api(d, 'POST', '/api/v1/events', { key: ownerA, body: { event: 'clip.approved', data: {} } });
    assert.equal(ownerPub.status, 403);
    // and a publisher key does not manage subscriptions
    assert.equal((await api(d, 'GET', '/api/v1/webhooks', { key: publisher })).status, 403);
    // idempotency: the same key again is the same event, delivered once
    const key = token('idem');
    const first = await publish(d, { event: 'clip.approved', data: { n: 3 }, idempotency_key: key });
    const again = await publish(d, { event: 'clip.approved', data: { n: 3 }, idempotency_key: key });
    assert.equal(again.id, first.id);
    assert.equal(again.duplicate, true);
    assert.equal(first.deliveries, 2);
    await waitFor(() => sink.on('/ok-pa').length >= 2 && sink.on('/ok-pb').length >= 2, { timeoutMs: 5000 });
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(sink.on('/ok-pa').length, 2, 'owner-a: the publisher event and the idempotent one');
    assert.equal(sink.on('/ok-pb').length, 2, 'owner-b: its own event and the idempotent one');
    // validation
    for (const body of [
      { data: {} },
      { event: 'clip.approved' },
      { event: 'clip.deleted', data: {} },
      { event: 'clip.*', data: {} },
    ]) {
      const r = await api(d, 'POST', '/api/v1/events', { body });
      assert.equal(r.status, 400, JSON.stringify(body));
      assert.equal(r.json.success, false);
    }
    await api(d, 'DELETE', `/api/v1/webhooks/${a.data.id}`, { key: ownerA });
    await api(d, 'DELETE', `/api/v1/webhooks/${b.data.id}`, { key: ownerB });
  });

  test('owner isolation: another owner gets 404 for everything', async () => {
    const a = await createSub(d, ownerA, { url: sink.url('/ok-iso'), events: ['clip.submitted'] });
    const id = a.data.id;
    for (const [method, path, body] of [
      ['GET', `/api/v1/webhooks/${id}`],
      ['PATCH', `/api/v1/webhooks/${id}`, { is_active: false }],
      ['DELETE', `/api/v1/webhooks/${id}`],
      ['POST', `/api/v1/webhooks/${id}/regenerate-secret`],
      ['GET', `/api/v1/webhooks/${id}/deliveries`],
    ]) {
      const r = await api(d, method, path, { key: ownerB, body });
      assert.equal(r.status, 404, `${method} ${path}`);
      assert.equal(r.json.success, false);
    }
    const list = await api(d, 'GET', '/api/v1/webhooks', { key: ownerB });
    assert.equal(list.json.data.some((x) => x.id === id), false);
    // still there and unchanged for its owner
    const mine = await api(d, 'GET', `/api/v1/webhooks/${id}`, { key: ownerA });
    assert.equal(mine.status, 200);
    assert.equal(mine.json.data.is_active, true);
    assert.equal((await api(d, 'GET', '/api/v1/webhooks/not-a-uuid', { key: ownerA })).status, 404);
    await api(d, 'DELETE', `/api/v1/webhooks/${id}`, { key: ownerA });
  });

  test('patch and delete', async () => {
    const a = await createSub(d, ownerA, { url: sink.url('/ok-p1'), events: ['clip.submitted'] });
    const id = a.data.id;
    await new Promise((r) => setTimeout(r, 5));
    const p = await api(d, 'PATCH', `/api/v1/webhooks/${id}`, {
      key: ownerA,
      body: { url: sink.url('/ok-p2'), events: ['clip.approved', 'clip.rejected'], description: 'Updated webhook' },
    });
    assert.equal(p.status, 200, p.text);
    assert.equal(p.json.data.url, sink.url('/ok-p2'));
    assert.deepEqual(p.json.data.events, ['clip.approved', 'clip.rejected']);
    assert.equal(p.json.data.description, 'Updated webhook');
    assert.notEqual(p.json.data.updated_at, a.data.updated_at);
    assert.equal(p.text.includes(a.secret), false);
    const off = await api(d, 'PATCH', `/api/v1/webhooks/${id}`, { key: ownerA, body: { is_active: false } });
    assert.equal(off.json.data.is_active, false);
    assert.equal((await publish(d, { event: 'clip.approved', data: {}, owner_id: 'owner-a' })).deliveries, 0);
    for (const body of [{}, { is_active: 'no' }, { events: ['nope.x'] }, { secret: 'x' }]) {
      const r = await api(d, 'PATCH', `/api/v1/webhooks/${id}`, { key: ownerA, body });
      assert.equal(r.status, 400, JSON.stringify(body));
    }
    const del = await api(d, 'DELETE', `/api/v1/webhooks/${id}`, { key: ownerA });
    assert.equal(del.status, 200);
    assert.equal(del.json.success, true);
    assert.equal((await api(d, 'GET', `/api/v1/webhooks/${id}`, { key: ownerA })).status, 404);
    assert.equal((await api(d, 'DELETE', `/api/v1/webhooks/${id}`, { key: ownerA })).status, 404);
  });

  test('regenerate-secret without a grace period: only the new secret signs', async () => {
    const a = await createSub(d, ownerA, { url: sink.url('/ok-rg1'), events: ['clip.rejected'] });
    const r = await api(d, 'POST', `/api/v1/webhooks/${a.data.id}/regenerate-secret`, { key: ownerA });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.success, true);
    assert.match(r.json.secret, /^[0-9a-f]{64}$/);
    assert.notEqual(r.json.secret, a.secret);
    assert.equal(r.json.secret_standard, 'whsec_' + Buffer.from(r.json.secret).toString('base64'));
    assert.match(r.json.message, /won't be shown again/);
    await publish(d, { event: 'clip.rejected', data: { k: 1 }, owner_id: 'owner-a' });
    assert.ok(await waitFor(() => sink.on('/ok-rg1').length === 1, { timeoutMs: 5000 }));
    const got = sink.on('/ok-rg1')[0];
    assert.ok(seedVerify(r.json.secret, got));
    assert.equal(seedVerify(a.secret, got), false);
    assert.ok(standardVerify(r.json.secret_standard, got));
    assert.equal(standardVerify(a.secret_standard, got), false);
    assert.equal(got.headers['webhook-signature'].split(' ').length, 1);
    await api(d, 'DELETE', `/api/v1/webhooks/${a.data.id}`, { key: ownerA });
  });

  test('regenerate-secret with a grace period: both secrets sign webhook-signature', async () => {
    const a = await createSub(d, ownerA, { url: sink.url('/ok-rg2'), events: ['clip.rejected'] });
    const r = await api(d, 'POST', `/api/v1/webhooks/${a.data.id}/regenerate-secret`, {
      key: ownerA,
      body: { grace_period: '1h' },
    });
    assert.equal(r.status, 200, r.text);
    assert.ok(Date.parse(r.json.grace_period_ends_at) > Date.now() + 3500 * 1000);
    await publish(d, { event: 'clip.rejected', data: { k: 2 }, owner_id: 'owner-a' });
    assert.ok(await waitFor(() => sink.on('/ok-rg2').length === 1, { timeoutMs: 5000 }));
    const got = sink.on('/ok-rg2')[0];
    assert.equal(got.headers['webhook-signature'].split(' ').length, 2);
    assert.ok(standardVerify(r.json.secret_standard, got), 'the new secret verifies');
    assert.ok(standardVerify(a.secret_standard, got), 'the old secret still verifies');
    assert.ok(seedVerify(r.json.secret, got), 'X-Webhook-Signature carries the new secret');
    const bad = await api(d, 'POST', `/api/v1/webhooks/${a.data.id}/regenerate-secret`, {
      key: ownerA,
      body: { grace_period: '30d' },
    });
    assert.equal(bad.status, 400);
    await api(d, 'DELETE', `/api/v1/webhooks/${a.data.id}`, { key: ownerA });
  });

  test('delivery history pages with meta', async () => {
    const a = await createSub(d, ownerA, { url: sink.url('/ok-page'), events: ['clip.submitted'] });
    for (let i = 0; i < 5; i++) await publish(d, { event: 'clip.submitted', data: { i }, owner_id: 'owner-a' });
    assert.ok(await waitFor(() => sink.on('/ok-page').length === 5, { timeoutMs: 8000 }));
    await waitFor(async () => (await history(d, ownerA, a.data.id)).data.every((x) => x.status === 'delivered'));
    const first = await history(d, ownerA, a.data.id);
    assert.deepEqual(first.meta, { page: 1, limit: 20, total: 5, total_pages: 1 });
    const p2 = await history(d, ownerA, a.data.id, '?page=2&limit=2');
    assert.equal(p2.success, true);
    assert.equal(p2.data.length, 2);
    assert.deepEqual(p2.meta, { page: 2, limit: 2, total: 5, total_pages: 3 });
    const p3 = await history(d, ownerA, a.data.id, '?page=3&limit=2');
    assert.equal(p3.data.length, 1);
    const ids = new Set([...first.data.map((x) => x.id)]);
    assert.equal(ids.size, 5);
    // newest first
    assert.ok(first.data[0].created_at >= first.data[4].created_at);
    for (const q of ['?limit=0', '?limit=101', '?page=0', '?page=x']) {
      const r = await api(d, 'GET', `/api/v1/webhooks/${a.data.id}/deliveries${q}`, { key: ownerA });
      assert.equal(r.status, 400, q);
    }
    await api(d, 'DELETE', `/api/v1/webhooks/${a.data.id}`, { key: ownerA });
  });

  test('retries follow the configured schedule with a stable delivery id', async () => {
    sink.flakySeen = 0;
    sink.flakyFailures = 2;
    const a = await createSub(d, ownerA, { url: sink.url('/flaky'), events: ['clip.approved'] });
    await publish(d, { event: 'clip.approved', data: { retry: true }, owner_id: 'owner-a' });
    assert.ok(await waitFor(() => sink.on('/flaky').length === 3, { timeoutMs: 8000 }));
    const reqs = sink.on('/flaky');
    const ids = new Set(reqs.map((r) => r.headers['x-webhook-delivery-id']));
    assert.equal(ids.size, 1, 'X-Webhook-Delivery-ID is stable across retries');
    // schedule [0s, 400ms, 800ms]: waits of at least those (jitter 0)
    assert.ok(reqs[1].at - reqs[0].at >= 350, `first wait ${reqs[1].at - reqs[0].at} ms`);
    assert.ok(reqs[2].at - reqs[1].at >= 750, `second wait ${reqs[2].at - reqs[1].at} ms`);
    for (const r of reqs) assert.ok(seedVerify(a.secret, r));
    await waitFor(async () => (await history(d, ownerA, a.data.id)).data[0]?.status === 'delivered');
    const h = await history(d, ownerA, a.data.id);
    assert.equal(h.data[0].status, 'delivered');
    assert.equal(h.data[0].attempt_count, 3);
    await api(d, 'DELETE', `/api/v1/webhooks/${a.data.id}`, { key: ownerA });
  });

  test('after the last attempt a delivery is dead-lettered (seed: "failed")', async () => {
    const a = await createSub(d, ownerA, { url: sink.url('/fail'), events: ['clip.approved'] });
    await publish(d, { event: 'clip.approved', data: { dlq: true }, owner_id: 'owner-a' });
    const h = await waitFor(
      async () => {
        const x = await history(d, ownerA, a.data.id);
        return x.data[0]?.status === 'failed' ? x : null;
      },
      { timeoutMs: 8000 },
    );
    assert.ok(h, 'the delivery was not dead-lettered');
    assert.equal(sink.on('/fail').length, 3);
    assert.equal(h.data[0].attempt_count, 3);
    assert.equal(h.data[0].http_status_code, 500);
    assert.match(h.data[0].error_message, /500/);
    // the operator's dead-letter queue shows it too
    const dlq = await api(d, 'GET', '/api/v1/deliveries?status=dead');
    assert.equal(dlq.status, 200);
    assert.ok(JSON.stringify(dlq.json).includes(h.data[0].id));
    // still active: one dead delivery does not disable a subscription
    const one = await api(d, 'GET', `/api/v1/webhooks/${a.data.id}`, { key: ownerA });
    assert.equal(one.json.data.is_active, true);
    await api(d, 'DELETE', `/api/v1/webhooks/${a.data.id}`, { key: ownerA });
  });

  test('HTTP 410 from a subscriber disables the subscription at once', async () => {
    const a = await createSub(d, ownerA, { url: sink.url('/gone'), events: ['clip.approved'] });
    await publish(d, { event: 'clip.approved', data: { gone: 1 }, owner_id: 'owner-a' });
    const off = await waitFor(
      async () => {
        const r = await api(d, 'GET', `/api/v1/webhooks/${a.data.id}`, { key: ownerA });
        return r.json.data.is_active === false ? r.json.data : null;
      },
      { timeoutMs: 5000 },
    );
    assert.ok(off, 'still active after a 410');
    assert.match(off.disabled_reason, /410/);
    assert.equal(sink.on('/gone').length, 1, 'a 410 is not retried');
    const h = await history(d, ownerA, a.data.id);
    assert.equal(h.data[0].status, 'failed');
    assert.equal((await publish(d, { event: 'clip.approved', data: {}, owner_id: 'owner-a' })).deliveries, 0);
    // the owner may switch it on again
    const on = await api(d, 'PATCH', `/api/v1/webhooks/${a.data.id}`, { key: ownerA, body: { is_active: true } });
    assert.equal(on.json.data.is_active, true);
    assert.equal('disabled_reason' in on.json.data, false);
    await api(d, 'DELETE', `/api/v1/webhooks/${a.data.id}`, { key: ownerA });
  });

  test('API rate limits: create 10/hour and regenerate 5/hour per owner, with headers', async () => {
    const d = await daemon({ defaultLimits: true });
    try {
      await rateLimits(d);
    } finally {
      await d.cleanup();
    }
  });

  async function rateLimits(d) {
    const ownerB = await apiKey(d, 'owner-b');
    const owner = await apiKey(d, 'owner-rl');
    const ids = [];
    for (let i = 0; i < 10; i++) {
      const r = await api(d, 'POST', '/api/v1/webhooks', {
        key: owner,
        body: { url: sink.url(`/ok-rl${i}`), events: ['clip.rejected'] },
      });
      assert.equal(r.status, 201, `create ${i + 1}: ${r.text}`);
      assert.equal(r.headers['ratelimit-limit'], '10');
      assert.equal(r.headers['ratelimit-remaining'], String(9 - i));
      ids.push(r.json.data.id);
    }
    const over = await api(d, 'POST', '/api/v1/webhooks', {
      key: owner,
      body: { url: sink.url('/ok-rl-x'), events: ['clip.rejected'] },
    });
    assert.equal(over.status, 429);
    assert.equal(over.json.success, false);
    assert.equal(over.headers['ratelimit-limit'], '10');
    assert.equal(over.headers['ratelimit-remaining'], '0');
    assert.ok(Number(over.headers['ratelimit-reset']) >= 1);
    assert.ok(Number(over.headers['retry-after']) >= 1);
    // another owner has its own allowance
    const other = await createSub(d, ownerB, { url: sink.url('/ok-rl-b'), events: ['clip.rejected'] });
    for (let i = 0; i < 5; i++) {
      const r = await api(d, 'POST', `/api/v1/webhooks/${ids[0]}/regenerate-secret`, { key: owner });
      assert.equal(r.status, 200, `regenerate ${i + 1}`);
      assert.equal(r.headers['ratelimit-limit'], '5');
    }
    const r6 = await api(d, 'POST', `/api/v1/webhooks/${ids[0]}/regenerate-secret`, { key: owner });
    assert.equal(r6.status, 429);
    assert.ok(Number(r6.headers['retry-after']) >= 1);
    assert.equal(r6.headers['ratelimit-limit'], '5');
    // a refused request costs nothing
    const bad = await api(d, 'POST', '/api/v1/webhooks', { key: ownerB, body: { url: 'x', events: ['clip.rejected'] } });
    assert.equal(bad.status, 400);
    assert.equal(bad.headers['ratelimit-remaining'], undefined);
    for (const id of ids) await api(d, 'DELETE', `/api/v1/webhooks/${id}`, { key: owner });
    await api(d, 'DELETE', `/api/v1/webhooks/${other.data.id}`, { key: ownerB });
  }
});

describe('the SSRF guard', () => {
  let sink;
  before(async () => {
    sink = await startSink();
  });
  after(async () => {
    await sink?.close();
  });

  const spellings = (port) => [
    `http://127.0.0.1:${port}/ok`,
    `http://127.1:${port}/ok`,
    `http://127.0.1:${port}/ok`,
    `http://2130706433:${port}/ok`,
    `http://0177.0.0.1:${port}/ok`,
    `http://0x7f000001:${port}/ok`,
    `http://0x7f.0.0.1:${port}/ok`,
    `http://127.000.000.001:${port}/ok`,
    `http://[::1]:${port}/ok`,
    `http://[::ffff:127.0.0.1]:${port}/ok`,
    `http://[::ffff:7f00:1]:${port}/ok`,
    `http://[64:ff9b::7f00:1]:${port}/ok`,
    `http://localhost:${port}/ok`,
    `http://LOCALHOST.:${port}/ok`,
    `http://api.localhost:${port}/ok`,
    `http://0:${port}/ok`,
    `http://0.0.0.0:${port}/ok`,
  ];

  test('loopback in every spelling is refused on create and patch; nothing connects', async () => {
    const d = await daemon({ allowLoopback: false });
    try {
      const owner = await apiKey(d, 'owner-ssrf');
      for (const url of spellings(sink.port)) {
        const r = await api(d, 'POST', '/api/v1/webhooks', { key: owner, body: { url, events: ['clip.submitted'] } });
        assert.equal(r.status, 400, url);
        assert.equal(r.json.success, false);
        assert.match(r.json.error, /url/, url);
      }
      // https is required unless allow_http, checked on the same path
      // (.invalid never resolves: nothing is ever sent there)
      const base = await createSub(d, owner, { url: 'https://hookgate-e2e.invalid/hook', events: ['clip.rejected'] });
      for (const url of spellings(sink.port)) {
        const r = await api(d, 'PATCH', `/api/v1/webhooks/${base.data.id}`, { key: owner, body: { url } });
        assert.equal(r.status, 400, url);
      }
      for (const url of ['https://user:pw@hookgate-e2e.invalid/', 'ftp://hookgate-e2e.invalid/', 'https://[fe80::1%25lo]/']) {
        const r = await api(d, 'PATCH', `/api/v1/webhooks/${base.data.id}`, { key: owner, body: { url } });
        assert.equal(r.status, 400, url);
      }
      const still = await api(d, 'GET', `/api/v1/webhooks/${base.data.id}`, { key: owner });
      assert.equal(still.json.data.url, 'https://hookgate-e2e.invalid/hook');
      assert.equal(sink.connections, 0, 'a refused URL reached the subscriber');
    } finally {
      await d.cleanup();
    }
  });

  test('https is required unless allow_http', async () => {
    const d = await startDaemon({
      env: { HG_E2E_ADMIN: ADMIN },
      extra: { admin_token_env: 'HG_E2E_ADMIN', event_types: EVENT_TYPES },
    });
    try {
      const owner = await apiKey(d, 'owner-https');
      const r = await api(d, 'POST', '/api/v1/webhooks', {
        key: owner,
        body: { url: 'http://hookgate-e2e.invalid/hook', events: ['clip.submitted'] },
      });
      assert.equal(r.status, 400);
      assert.match(r.json.error, /https/);
    } finally {
      await d.cleanup();
    }
  });

  test('the connect-time guard refuses loopback the URL check could not see', async () => {
    // A subscription made while 127.0.0.1/32 was allowed; the daemon then
    // restarts without egress_allow. Its deliveries must not connect.
    const before0 = sink.connections;
    const d1 = await daemon({ allowLoopback: true });
    const dir = d1.dir;
    let sub;
    let owner;
    try {
      owner = await apiKey(d1, 'owner-guard');
      sub = await createSub(d1, owner, { url: sink.url('/ok-guard'), events: ['clip.submitted'] });
      await d1.stop();
      const d2 = await daemon({ allowLoopback: false, dir });
      try {
        await publish(d2, { event: 'clip.submitted', data: { guard: 1 }, owner_id: 'owner-guard' });
        const h = await waitFor(
          async () => {
            const x = await history(d2, owner, sub.data.id);
            return x.data[0]?.status === 'failed' ? x : null;
          },
          { timeoutMs: 5000 },
        );
        assert.ok(h, 'a blocked delivery must be dead-lettered at once');
        assert.equal(h.data[0].attempt_count, 1, 'a blocked address is not retried');
        assert.match(h.data[0].error_message, /blocked address/);
        assert.equal(sink.connections, before0, 'the guard let a connection through');

        // a host name that resolves to loopback only (when this machine
        // has one, such as its own name in /etc/hosts): allowed on create,
        // refused at connect time
        const name = os.hostname();
        let addrs = [];
        try {
          addrs = await dns.lookup(name, { all: true });
        } catch {
          addrs = [];
        }
        if (addrs.length > 0 && addrs.every((a) => a.address === '127.0.0.1')) {
          const byName = await createSub(d2, owner, {
            url: `http://${name}:${sink.port}/ok-name`,
            events: ['clip.approved'],
          });
          await publish(d2, { event: 'clip.approved', data: { guard: 2 }, owner_id: 'owner-guard' });
          const h2 = await waitFor(
            async () => {
              const x = await history(d2, owner, byName.data.id);
              return x.data[0]?.status === 'failed' ? x : null;
            },
            { timeoutMs: 5000 },
          );
          assert.ok(h2);
          assert.match(h2.data[0].error_message, /blocked address/);
          assert.equal(sink.connections, before0);
        }
      } finally {
        await d2.cleanup();
      }
    } finally {
      await d1.cleanup();
    }
  });
});

describe('CLI: hookgate webhooks and hookgate events', () => {
  test('create, list, publish, delete against the running daemon', async () => {
    const sink = await startSink();
    const d = await daemon();
    try {
      const owner = await apiKey(d, 'owner-cli');
      // an owner's API key in HOOKGATE_TOKEN; the daemon's address with --url
      const env = { HOOKGATE_TOKEN: owner, HOOKGATE_ADMIN_TOKEN: '' };
      const c = await runCli(
        ['webhooks', 'create', sink.url('/ok-cli'), '--events', 'clip.submitted,clip.approved',
          '--description', 'cli', '--url', d.url, '--json'],
        { env },
      );
      assert.equal(c.code, 0, c.stderr);
      const created = JSON.parse(c.stdout);
      assert.match(created.secret, /^[0-9a-f]{64}$/);
      assert.deepEqual(created.data.events, ['clip.submitted', 'clip.approved']);
      const id = created.data.id;
      const l = await runCli(['webhooks', 'list', '--url', d.url], { env });
      assert.equal(l.code, 0, l.stderr);
      assert.ok(l.stdout.includes(id));
      assert.equal(l.stdout.includes(created.secret), false);
      // the admin token (no API key set) publishes
      const p = await runCli(
        ['events', 'publish', '--event', 'clip.approved', '--data', '{"clip":"x"}', '--owner', 'owner-cli',
          '--url', d.url],
        { env: { HOOKGATE_TOKEN: '', HOOKGATE_ADMIN_TOKEN: ADMIN } },
      );
      assert.equal(p.code, 0, p.stderr);
      assert.equal(JSON.parse(p.stdout).data.deliveries, 1);
      assert.ok(await waitFor(() => sink.on('/ok-cli').length === 1, { timeoutMs: 5000 }));
      assert.ok(seedVerify(created.secret, sink.on('/ok-cli')[0]));
      const del = await runCli(['webhooks', 'delete', id, '--url', d.url], { env });
      assert.equal(del.code, 0, del.stderr);
      const gone = await runCli(['webhooks', 'delete', id, '--url', d.url], { env });
      assert.equal(gone.code, 1);
      assert.match(gone.stderr, /no such webhook subscription/);
      assert.equal((await runCli(['webhooks', 'create', '--url', d.url], { env })).code, 2);
      assert.equal((await runCli(['webhooks', 'create', 'https://x.invalid/', '--url', d.url], { env })).code, 2);
      assert.equal(
        (await runCli(['events', 'publish', '--event', 'clip.approved', '--data', '{', '--url', d.url], { env })).code,
        2,
      );
    } finally {
      await d.cleanup();
      await sink.close();
    }
  });
});

describe('CLI: hookgate api-keys and webhooks update, regenerate-secret, deliveries', () => {
  test('an admin makes an owner key; the owner updates, rotates and reads the history; tables by default', async () => {
    const sink = await startSink();
    const d = await daemon();
    try {
      // api-keys create: the admin token; the token printed once, in a sentence
      const admin = { HOOKGATE_TOKEN: '', HOOKGATE_ADMIN_TOKEN: ADMIN };
      const k = await runCli(['api-keys', 'create', '--owner', 'cli-owner-2', '--url', d.url], { env: admin });
      assert.equal(k.code, 0, k.stderr);
      assert.match(k.stdout, /^API key \S+ for owner cli-owner-2, role owner$/m);
      const tok = k.stdout.match(/^token: (hgk_\S+)$/m)?.[1];
      assert.ok(tok, k.stdout);
      const kj = await runCli(['api-keys', 'create', '--owner', 'cli-pub', '--role', 'publisher', '--url', d.url, '--json'],
        { env: admin });
      assert.equal(kj.code, 0, kj.stderr);
      assert.equal(JSON.parse(kj.stdout).data.role, 'publisher');
      const badRole = await runCli(['api-keys', 'create', '--owner', 'x', '--role', 'root', '--url', d.url], { env: admin });
      assert.equal(badRole.code, 2);
      assert.match(badRole.stderr, /--role must be owner or publisher/);
      const noOwner = await runCli(['api-keys', 'create', '--url', d.url], { env: admin });
      assert.equal(noOwner.code, 2);
      assert.match(noOwner.stderr, /needs --owner/);

      // list: a table without tokens; --owner filters; revoke stops a token at once
      const kl = await runCli(['api-keys', 'list', '--url', d.url], { env: admin });
      assert.equal(kl.code, 0, kl.stderr);
      assert.match(kl.stdout, /^ID\s+OWNER\s+ROLE\s+CREATED$/m);
      assert.match(kl.stdout, /\scli-owner-2\s+owner\s/);
      assert.match(kl.stdout, /\scli-pub\s+publisher\s/);
      assert.equal(kl.stdout.includes('hgk_'), false, 'no token in the list');
      const klo = await runCli(['api-keys', 'list', '--owner', 'cli-pub', '--url', d.url, '--json'], { env: admin });
      assert.equal(klo.code, 0, klo.stderr);
      const pubKeys = JSON.parse(klo.stdout).data;
      assert.deepEqual(pubKeys.map((x) => [x.owner_id, x.role]), [['cli-pub', 'publisher']]);
      assert.equal(JSON.stringify(pubKeys).includes('token'), false);
      const pubTok = JSON.parse(kj.stdout).token;
      const before = await runCli(['events', 'publish', '--event', 'clip.approved', '--data', '{}', '--url', d.url],
        { env: { HOOKGATE_TOKEN: pubTok, HOOKGATE_ADMIN_TOKEN: '' } });
      assert.equal(before.code, 0, before.stderr);
      const rv = await runCli(['api-keys', 'revoke', pubKeys[0].id, '--url', d.url], { env: admin });
      assert.equal(rv.code, 0, rv.stderr);
      assert.match(rv.stdout, /API key revoked/);
      const after = await runCli(['events', 'publish', '--event', 'clip.approved', '--data', '{}', '--url', d.url],
        { env: { HOOKGATE_TOKEN: pubTok, HOOKGATE_ADMIN_TOKEN: '' } });
      assert.equal(after.code, 1, `a revoked key publishes nothing; stdout: ${after.stdout}`);
      assert.match(after.stderr, /HTTP 401/);
      const again = await runCli(['api-keys', 'revoke', pubKeys[0].id, '--url', d.url], { env: admin });
      assert.equal(again.code, 1);
      assert.match(again.stderr, /no such API key \(HTTP 404\)/);

      const env = { HOOKGATE_TOKEN: tok, HOOKGATE_ADMIN_TOKEN: '' };
      // an owner key cannot list keys, nor make them
      const noList = await runCli(['api-keys', 'list', '--url', d.url], { env: { HOOKGATE_ADMIN_TOKEN: tok } });
      assert.equal(noList.code, 1);
      assert.match(noList.stderr, /only the admin token lists API keys \(HTTP 403\)/);
      // an owner key cannot make keys: the API's reason, exit 1
      const denied = await runCli(['api-keys', 'create', '--owner', 'other', '--url', d.url],
        { env: { HOOKGATE_ADMIN_TOKEN: tok } });
      assert.equal(denied.code, 1);
      assert.match(denied.stderr, /only the admin token creates API keys/);

      const c = await runCli(['webhooks', 'create', sink.url('/cli2'), '--events', 'clip.submitted', '--url', d.url], { env });
      assert.equal(c.code, 0, c.stderr);
      const id = c.stdout.match(/^id\s+(\S+)$/m)?.[1];
      const secret1 = c.stdout.match(/^secret\s+([0-9a-f]{64})$/m)?.[1];
      assert.ok(id && secret1, c.stdout);
      assert.match(c.stdout, /shown only this once/);

      const l = await runCli(['webhooks', 'list', '--url', d.url], { env });
      assert.equal(l.code, 0, l.stderr);
      assert.match(l.stdout, /^ID\s+OWNER\s+URL\s+EVENTS\s+ACTIVE/m);
      const row = l.stdout.split('\n').find((x) => x.startsWith(id));
      assert.ok(row, l.stdout);
      assert.match(row, /cli-owner-2\s+http:\/\/127\.0\.0\.1:\d+\/cli2\s+clip\.submitted\s+yes/);

      // update: only what is given
      const u = await runCli(['webhooks', 'update', id, '--events', 'clip.submitted,clip.approved', '--description', 'two',
        '--url', d.url, '--json'], { env });
      assert.equal(u.code, 0, u.stderr);
      const updated = JSON.parse(u.stdout).data;
      assert.deepEqual(updated.events, ['clip.submitted', 'clip.approved']);
      assert.equal(updated.description, 'two');
      assert.equal(updated.url, sink.url('/cli2'));
      const off = await runCli(['webhooks', 'update', id, '--disable', '--url', d.url], { env });
      assert.equal(off.code, 0, off.stderr);
      assert.match(off.stdout, /^is_active\s+no$/m);
      const on = await runCli(['webhooks', 'update', id, '--enable', '--url', d.url], { env });
      assert.match(on.stdout, /^is_active\s+yes$/m);
      const nothing = await runCli(['webhooks', 'update', id, '--url', d.url], { env });
      assert.equal(nothing.code, 2);
      assert.match(nothing.stderr, /needs something to change/);

      // regenerate-secret: a new secret, which signs from now on
      const r = await runCli(['webhooks', 'regenerate-secret', id, '--url', d.url], { env });
      assert.equal(r.code, 0, r.stderr);
      const secret2 = r.stdout.match(/^secret\s+([0-9a-f]{64})$/m)?.[1];
      assert.ok(secret2 && secret2 !== secret1, r.stdout);

      const p = await runCli(['events', 'publish', '--event', 'clip.approved', '--data', '{"n":1}', '--owner', 'cli-owner-2',
        '--url', d.url], { env: admin });
      assert.equal(p.code, 0, p.stderr);
      assert.ok(await waitFor(() => sink.on('/cli2').length === 1, { timeoutMs: 5000 }));
      assert.ok(seedVerify(secret2, sink.on('/cli2')[0]));
      assert.equal(seedVerify(secret1, sink.on('/cli2')[0]), false);

      // deliveries: a table, then the JSON with its page meta
      const h = await waitFor(async () => {
        const x = await runCli(['webhooks', 'deliveries', id, '--url', d.url], { env });
        return /delivered/.test(x.stdout) ? x : null;
      }, { timeoutMs: 5000 });
      assert.ok(h);
      assert.match(h.stdout, /^ID\s+EVENT\s+STATUS\s+HTTP\s+ATTEMPTS/m);
      assert.match(h.stdout, /clip\.approved\s+delivered\s+200\s+1\s/);
      const hj = await runCli(['webhooks', 'deliveries', id, '--page', '1', '--limit', '5', '--url', d.url, '--json'], { env });
      assert.equal(hj.code, 0, hj.stderr);
      assert.deepEqual(JSON.parse(hj.stdout).meta, { page: 1, limit: 5, total: 1, total_pages: 1 });
      const missing = await runCli(['webhooks', 'deliveries', '--url', d.url], { env });
      assert.equal(missing.code, 2);
      assert.match(missing.stderr, /needs an ID/);
      // an option that names no value says which
      const noval = await runCli(['webhooks', 'deliveries', id, '--page'], { env });
      assert.equal(noval.code, 2);
      assert.match(noval.stderr, /hookgate webhooks deliveries: option '--page' requires an argument/);
    } finally {
      await d.cleanup();
      await sink.close();
    }
  });
});
