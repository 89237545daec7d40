// circuit.test.mjs — endpoint health and operational events, end to end:
// an endpoint's circuit opens after N failures in a row (nothing reaches it
// during the cooldown, no delivery's attempt count moves), half-opens with
// exactly one probe and closes when it succeeds; the operator's subscription
// (owner "operator", made with an operator API key) receives
// hookgate.endpoint.circuit_open / circuit_closed and hookgate.delivery.dead,
// signed like any delivery, while an ordinary owner's subscription to
// hookgate.* receives none of them and its publisher cannot publish one;
// GET /api/v1/endpoints, /metrics and `hookgate endpoints` show the states.
//
// Network safety: every sink is a node http server on 127.0.0.1.
// Timing: nothing asserts on the wall clock; each step polls until its
// condition holds, with a generous timeout.

import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';

import { Webhook } from 'standardwebhooks';

import { postSigned, request, runCli, startDaemon, startSink as startLoopbackSink, token, waitFor } from './helpers.mjs';

const ADMIN = token('admin');
const SECRET = 'e2e-circuit-meta-secret';
const COOLDOWN_MS = 1500;
const FAILURES = 3;
const LONG = { timeoutMs: 20000, intervalMs: 20 };

const daemons = [];
const sinks = [];
after(async () => {
  for (const d of daemons) await d.cleanup();
  for (const s of sinks) await s.close();
});

// The loopback sinks (helpers.mjs startSink), closed after the suite.
async function startSink(answer) {
  const sink = await startLoopbackSink(answer);
  sinks.push(sink);
  return sink;
}

function config(sink, { endpoints, routes, alerts }) {
  const lines = [
    'admin_token_env: HG_E2E_ADMIN',
    'allow_http: true',
    'egress_allow: [127.0.0.1/32]',
    "outbound: {retry: {schedule: [0s, 200ms, 200ms], jitter: '0%'}, timeout: 2s}",
    'endpoints:',
  ];
  for (const e of endpoints) {
    lines.push(`  - name: ${e.name}`, `    url: ${sink.url(e.path)}`);
    for (const [k, v] of Object.entries(e.more ?? {})) lines.push(`    ${k}: ${v}`);
  }
  if (alerts) lines.push(`alerts: {endpoint: ${alerts}}`);
  lines.push('sources:', '  - name: src', '    provider: meta', '    secret_env: E2E_CIRCUIT_SECRET');
  lines.push('    routes:', ...routes.map((r) => `      - endpoint: ${r}`));
  return lines.join('\n') + '\n';
}

async function start(sink, cfg) {
  const d = await startDaemon({
    extra: config(sink, cfg),
    env: { HG_E2E_ADMIN: ADMIN, E2E_CIRCUIT_SECRET: SECRET },
  });
  daemons.push(d);
  return d;
}

function api(d, method, path, { key = ADMIN, body } = {}) {
  const headers = { Authorization: `Bearer ${key}` };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  return request(d, method, path, { headers, body: body === undefined ? undefined : JSON.stringify(body) });
}

async function apiKey(d, owner_id, role) {
  const r = await api(d, 'POST', '/api/v1/api-keys', { body: role ? { owner_id, role } : { owner_id } });
  assert.equal(r.status, 201, r.text);
  return r.json.token;
}

async function subscribe(d, key, url, events) {
  const r = await api(d, 'POST', '/api/v1/webhooks', { key, body: { url, events } });
  assert.equal(r.status, 201, r.text);
  return { id: r.json.data.id, whsec: r.json.secret_standard };
}

async function send(d, marker) {
  const r = await postSigned(d, 'src', JSON.stringify({ object: 'page', entry: [{ id: marker }] }), { secret: SECRET });
  assert.equal(r.status, 200, r.text);
  return r.json.id;
}

async function endpoint(d, name) {
  const r = await api(d, 'GET', '/api/v1/endpoints');
  assert.equal(r.status, 200, r.text);
  return r.json.data.find((e) => e.name === name);
}

async function deliveriesOf(d, name) {
  const r = await api(d, 'GET', `/api/v1/deliveries?endpoint=${name}`);
  assert.equal(r.status, 200, r.text);
  return r.json.data;
}

async function metric(d, line) {
  const r = await request(d, 'GET', '/metrics');
  return r.text.split('\n').find((l) => l.startsWith(line));
}

// The operator's received events of one type, each verified as Standard
// Webhooks (the same signature every subscriber delivery carries).
function received(sink, path, whsec, type) {
  return sink
    .on(path)
    .map((r) => {
      const body = new Webhook(whsec).verify(r.raw, {
        'webhook-id': r.headers['webhook-id'],
        'webhook-timestamp': r.headers['webhook-timestamp'],
        'webhook-signature': r.headers['webhook-signature'],
      });
      assert.equal(r.headers['x-webhook-event'], body.event);
      return body;
    })
    .filter((b) => b.event === type);
}

describe('endpoint circuit breaker and operational events', () => {
  test('opens after N failures, pauses, probes once, closes; the operator is told', async () => {
    let failing = true;
    const sink = await startSink((p, n) => {
      if (p !== '/app') return { status: 200 };
      if (failing) return { status: 500 };
      return { status: 200, delayMs: n === FAILURES + 1 ? 400 : 0 }; // the probe answers slowly
    });
    const d = await start(sink, {
      endpoints: [
        {
          name: 'app',
          path: '/app',
          more: {
            max_in_flight: 4,
            retry: "{schedule: [0s, 50ms, 50ms, 50ms, 50ms, 50ms], jitter: '0%'}",
            circuit: `{failures: ${FAILURES}, cooldown: ${COOLDOWN_MS}ms}`,
          },
        },
        { name: 'spare', path: '/spare' },
      ],
      routes: ['app'],
    });

    // every configured endpoint is in /metrics and the API from the start
    assert.equal(await metric(d, 'hookgate_endpoint_circuit_open{endpoint="spare"}'), 'hookgate_endpoint_circuit_open{endpoint="spare"} 0');
    assert.ok(await metric(d, 'hookgate_endpoint_pending{endpoint="app"} 0'));
    let app = await endpoint(d, 'app');
    assert.equal(app.circuit.state, 'closed');
    assert.equal(app.circuit.failures, FAILURES);
    assert.equal(app.url, sink.url('/app'));
    assert.equal((await endpoint(d, 'spare')).circuit.failures, undefined);

    const opKey = await apiKey(d, 'operator');
    const op = await subscribe(d, opKey, sink.url('/op'), ['hookgate.*']);
    const teamKey = await apiKey(d, 'team-a');
    const team = await subscribe(d, teamKey, sink.url('/team'), ['hookgate.*']);
    // an ordinary owner's publisher cannot make one of hookgate's events
    const pub = await apiKey(d, 'team-a', 'publisher');
    const refused = await api(d, 'POST', '/api/v1/events', {
      key: pub,
      body: { event: 'hookgate.endpoint.circuit_open', data: { endpoint: 'app' } },
    });
    assert.equal(refused.status, 400, refused.text);
    assert.match(refused.json.error, /hookgate\./);

    // one message fails FAILURES times in a row: the circuit opens
    const m1 = await send(d, 'm1');
    await waitFor(async () => (await endpoint(d, 'app')).circuit.state === 'open', LONG);
    assert.equal(sink.on('/app').length, FAILURES);
    app = await endpoint(d, 'app');
    assert.equal(app.failures_in_row, FAILURES);
    assert.ok(app.circuit.open_until);
    assert.ok(app.last_failure_at);
    assert.equal(app.pending, 1);
    assert.ok(app.oldest_pending_age_ms >= 0);
    assert.ok(await metric(d, 'hookgate_endpoint_circuit_open{endpoint="app"} 1'));
    assert.ok(await metric(d, `hookgate_endpoint_failures_in_row{endpoint="app"} ${FAILURES}`));

    // more arrive while it is open; the endpoint recovers meanwhile
    const m2 = await send(d, 'm2');
    const m3 = await send(d, 'm3');
    failing = false;
    // While the API says open, nothing more reached the endpoint and no
    // attempt count moved (read before the state, so a probe cannot slip in
    // between unseen).
    let samples = 0;
    await waitFor(async () => {
      const seen = sink.on('/app').length;
      const counts = (await deliveriesOf(d, 'app')).map((x) => [x.message_id, x.attempt_count]);
      const state = (await endpoint(d, 'app')).circuit.state;
      if (state !== 'open') return true;
      samples += 1;
      assert.equal(seen, FAILURES);
      const by = Object.fromEntries(counts);
      assert.equal(by[m1], FAILURES);
      assert.equal(by[m2], 0);
      assert.equal(by[m3], 0);
      return false;
    }, LONG);
    assert.ok(samples > 0);

    // half-open: exactly one probe, and nothing else until it is answered
    await waitFor(async () => (await endpoint(d, 'app')).circuit.state === 'closed', LONG);
    await waitFor(() => sink.on('/app').length === FAILURES + 3, LONG);
    const appRequests = sink.on('/app');
    const probe = appRequests[FAILURES];
    for (const r of appRequests.slice(FAILURES + 1)) assert.ok(r.t >= probe.answeredAt, 'a second attempt ran beside the probe');
    app = await endpoint(d, 'app');
    assert.equal(app.failures_in_row, 0);
    assert.ok(app.last_success_at);
    await waitFor(async () => (await endpoint(d, 'app')).pending === 0, LONG);
    const done = await deliveriesOf(d, 'app');
    assert.deepEqual(
      Object.fromEntries(done.map((x) => [x.message_id, [x.status, x.attempt_count]])),
      { [m1]: ['succeeded', FAILURES + 1], [m2]: ['succeeded', 1], [m3]: ['succeeded', 1] },
    );

    // the operator received both, signed; the ordinary owner nothing
    await waitFor(() => received(sink, '/op', op.whsec, 'hookgate.endpoint.circuit_closed').length === 1, LONG);
    const opened = received(sink, '/op', op.whsec, 'hookgate.endpoint.circuit_open');
    assert.equal(opened.length, 1);
    assert.equal(opened[0].data.endpoint, 'app');
    assert.equal(opened[0].data.failures, FAILURES);
    assert.equal(opened[0].data.cooldown_ms, COOLDOWN_MS);
    const closed = received(sink, '/op', op.whsec, 'hookgate.endpoint.circuit_closed')[0];
    assert.equal(closed.data.opened_at, opened[0].data.opened_at);
    assert.equal(sink.on('/team').length, 0);
    const teamHistory = await api(d, 'GET', `/api/v1/webhooks/${team.id}/deliveries`, { key: teamKey });
    assert.equal(teamHistory.status, 200, teamHistory.text);
    assert.equal(teamHistory.json.data.length, 0);

    // the CLI shows the same
    const r = await runCli(['endpoints', '--url', d.url], { env: { HOOKGATE_ADMIN_TOKEN: ADMIN } });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^NAME\s+TARGET\s+CIRCUIT/);
    assert.match(r.stdout, /\napp\s+http:\/\/127\.0\.0\.1:\d+\/app\s+closed/);
    const j = await runCli(['endpoints', '--url', d.url, '--json'], { env: { HOOKGATE_ADMIN_TOKEN: ADMIN } });
    assert.equal(j.code, 0, j.stderr);
    assert.equal(JSON.parse(j.stdout).data.length, 2);
  });

  test('a dead delivery of an inbound endpoint reaches the operator and alerts.endpoint only', async () => {
    const sink = await startSink((p) => ({ status: p === '/doomed' ? 500 : 200 }));
    const d = await start(sink, {
      endpoints: [
        { name: 'doomed', path: '/doomed', more: { retry: "{schedule: [0s, 50ms], jitter: '0%'}" } },
        { name: 'ops', path: '/ops' },
      ],
      routes: ['doomed'],
      alerts: 'ops',
    });
    const op = await subscribe(d, await apiKey(d, 'operator'), sink.url('/op'), ['hookgate.delivery.*']);
    await subscribe(d, await apiKey(d, 'team-b'), sink.url('/team'), ['*']);
    const id = await send(d, 'dead');
    await waitFor(() => received(sink, '/op', op.whsec, 'hookgate.delivery.dead').length === 1, LONG);
    const dead = received(sink, '/op', op.whsec, 'hookgate.delivery.dead')[0];
    assert.equal(dead.data.endpoint, 'doomed');
    assert.equal(dead.data.message_id, id);
    assert.equal(dead.data.source, 'src');
    assert.equal(dead.data.attempts, 2);
    assert.equal(dead.data.last_status, 500);
    assert.equal(sink.on('/team').length, 0);
    assert.equal(sink.on('/doomed').length, 2);
    // alerts.endpoint gets the same event as a delivery of its own
    await waitFor(() => sink.on('/ops').length === 1, LONG);
    const ops = sink.on('/ops')[0];
    assert.equal(ops.headers['x-webhook-event'], 'hookgate.delivery.dead');
    assert.equal(ops.headers['x-hookgate-source'], '@outbound');
    assert.deepEqual(JSON.parse(ops.raw).data, dead.data);
  });
});
