// alerts.test.mjs — hookgate notices on its own that something is wrong:
// bad signatures over a limit fire one alert (the API, /metrics, a warn
// log line) that resolves once its window has passed; a volume spike over
// the same hour of earlier days fires `volume`; GET /api/v1/sources shows
// this hour's counters and which key a rate limit is holding back; an
// alert reaches the operator's subscriptions and alerts.endpoint once when
// it fires and once when it resolves, and no other owner.
//
// Network: every connection goes to 127.0.0.1.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { Webhook } from 'standardwebhooks';

import { postSigned, request, sqlite, startDaemon, startSink, token, waitFor } from './helpers.mjs';

const SECRET = token('alerts-secret');
const ADMIN = token('alerts-admin');
const env = { HG_E2E_ALERTS_SECRET: SECRET, HG_E2E_ALERTS_ADMIN: ADMIN };
const auth = { Authorization: `Bearer ${ADMIN}` };
const HOUR_MS = 3600000;

function metric(text, name, labels) {
  const line = text.split('\n').find((l) => l.startsWith(`${name}${labels} `));
  return line === undefined ? NaN : Number(line.slice(line.lastIndexOf(' ') + 1));
}

async function alerts(d) {
  const r = await request(d, 'GET', '/api/v1/alerts', { headers: auth });
  assert.equal(r.status, 200, r.text);
  return r.json;
}

const find = (list, rule, source) => list.data.find((a) => a.rule === rule && a.source === source);

describe('alert rules', () => {
  let d;

  before(async () => {
    d = await startDaemon({
      env,
      extra: {
        admin_token_env: 'HG_E2E_ALERTS_ADMIN',
        alerts: { bad_signatures: { limit: 5, per: '5s' }, rate_limited: 'off', volume: 'off' },
      },
      sources: [
        { name: 'wa', provider: 'meta', secret_env: 'HG_E2E_ALERTS_SECRET' },
        {
          name: 'sms',
          provider: 'meta',
          secret_env: 'HG_E2E_ALERTS_SECRET',
          dedupe: [],
          // an hour: a window boundary between the requests and the read
          // (the blocked key's estimate then decays below the limit) is rare
          rate_limit: { key: 'header:X-Phone', limit: 2, per: '1h' },
        },
      ],
    });
  });

  after(async () => {
    await d?.cleanup();
  });

  test('6 bad signatures within the window fire bad_signatures once; it resolves after the window', async () => {
    const body = JSON.stringify({ hello: 'alerts' });
    for (let i = 0; i < 5; i++) {
      const r = await postSigned(d, 'wa', body, { signature: `sha256=${'0'.repeat(64)}` });
      assert.equal(r.status, 401);
    }
    // 5 is the limit, not over it: nothing fires
    await new Promise((r) => setTimeout(r, 3000));
    assert.equal(find(await alerts(d), 'bad_signatures', 'wa'), undefined, 'no alert at the limit');
    const r = await postSigned(d, 'wa', body, { signature: `sha256=${'0'.repeat(64)}` });
    assert.equal(r.status, 401);

    const fired = await waitFor(async () => find(await alerts(d), 'bad_signatures', 'wa')?.state === 'firing', {
      timeoutMs: 15000,
      intervalMs: 200,
    });
    assert.ok(fired, 'bad_signatures fires for source wa');
    const a = find(await alerts(d), 'bad_signatures', 'wa');
    assert.equal(a.value, 6);
    assert.equal(a.threshold, 5);
    assert.equal(a.resolved_at, null);
    const m = (await request(d, 'GET', '/metrics')).text;
    assert.equal(metric(m, 'hookgate_alerts_firing', '{rule="bad_signatures",source="wa"}'), 1);
    assert.equal(metric(m, 'hookgate_alerts_firing', '{rule="bad_signatures",source="sms"}'), 0);
    assert.equal(metric(m, 'hookgate_alerts_changes_total', '{rule="bad_signatures",state="firing"}'), 1);
    assert.ok(
      d.logLines().some((l) => l.msg === 'alert firing' && l.level === 'warn' && l.rule === 'bad_signatures' && l.source === 'wa'),
      'a warn line says it fires',
    );

    // the window (5 s) passes and the condition stays false: resolved, once
    const resolved = await waitFor(async () => find(await alerts(d), 'bad_signatures', 'wa')?.state === 'resolved', {
      timeoutMs: 30000,
      intervalMs: 250,
    });
    assert.ok(resolved, 'bad_signatures resolves once the window has passed');
    const m2 = (await request(d, 'GET', '/metrics')).text;
    assert.equal(metric(m2, 'hookgate_alerts_firing', '{rule="bad_signatures",source="wa"}'), 0);
    assert.equal(metric(m2, 'hookgate_alerts_changes_total', '{rule="bad_signatures",state="firing"}'), 1, 'fired once');
    assert.equal(metric(m2, 'hookgate_alerts_changes_total', '{rule="bad_signatures",state="resolved"}'), 1);
    assert.ok(find(await alerts(d), 'bad_signatures', 'wa').resolved_at);
  });

  test('GET /api/v1/sources: this hour per source, and the key the rate limit holds back', async () => {
    const statuses = [];
    for (let i = 0; i < 4; i++) {
      const r = await postSigned(d, 'sms', JSON.stringify({ n: i }), { secret: SECRET, headers: { 'X-Phone': '+15550007777' } });
      statuses.push(r.status);
    }
    await postSigned(d, 'sms', JSON.stringify({ n: 9 }), { secret: SECRET, headers: { 'X-Phone': '+15550008888' } });
    assert.deepEqual(statuses, [200, 200, 429, 429]);
    const ok = await waitFor(
      async () => {
        const r = await request(d, 'GET', '/api/v1/sources', { headers: auth });
        const sms = r.json.data.find((s) => s.name === 'sms');
        return sms.this_hour.rate_limited === 2 && sms.this_hour.accepted === 3;
      },
      { timeoutMs: 10000, intervalMs: 200 },
    );
    assert.ok(ok, 'the counters of this hour reach the API');
    const r = await request(d, 'GET', '/api/v1/sources', { headers: auth });
    const list = r.json.data;
    assert.deepEqual(list.map((s) => s.name), ['wa', 'sms']);
    const sms = list.find((s) => s.name === 'sms');
    assert.equal(sms.provider, 'meta');
    assert.equal(sms.rate_limit.limit, 2);
    assert.equal(sms.rate_limit.top_keys[0].key, '+15550007777');
    assert.equal(sms.rate_limit.top_keys[0].blocked, true);
    assert.equal(sms.rate_limit.top_keys[1].key, '+15550008888');
    assert.equal(sms.rate_limit.top_keys[1].blocked, false);
    assert.equal(list.find((s) => s.name === 'wa').rate_limit, null);
    const noToken = await request(d, 'GET', '/api/v1/sources');
    assert.equal(noToken.status, 401);
  });
});

describe('the volume rule', () => {
  let d;
  let dir;

  after(async () => {
    await d?.cleanup();
  });

  test('with no earlier day it cannot fire; over 3x the same hour of earlier days it does', async () => {
    // all of it within one hour of the clock: the rule compares this hour
    const toNextHour = HOUR_MS - (Date.now() % HOUR_MS);
    if (toNextHour < 60000) await new Promise((r) => setTimeout(r, toNextHour + 1000));
    const cfg = {
      env,
      extra: {
        admin_token_env: 'HG_E2E_ALERTS_ADMIN',
        alerts: { volume: { factor: 3, baseline: '7d' }, min_requests: 5, duplicate_ratio: 'off' },
      },
      sources: [{ name: 'wa', provider: 'meta', secret_env: 'HG_E2E_ALERTS_SECRET', dedupe: [] }],
    };
    d = await startDaemon(cfg);
    dir = d.dir;
    for (let i = 0; i < 12; i++) assert.equal((await postSigned(d, 'wa', JSON.stringify({ i }), { secret: SECRET })).status, 200);
    await new Promise((r) => setTimeout(r, 5000));
    assert.equal(find(await alerts(d), 'volume', 'wa'), undefined, 'no baseline: no volume alert');
    await d.stop();

    // the same hour on two earlier days: 2 and 4 requests, a mean of 3
    const hour = Math.floor(Date.now() / HOUR_MS) * HOUR_MS;
    const db = `${dir}/hookgate.db`;
    for (const [days, n] of [
      [1, 2],
      [2, 4],
    ]) {
      await sqlite(db, `INSERT INTO stats_hourly (source, hour_ms, received) VALUES ('wa', ${hour - days * 24 * HOUR_MS}, ${n})`);
    }
    d = await startDaemon({ ...cfg, dir });
    const fired = await waitFor(async () => find(await alerts(d), 'volume', 'wa')?.state === 'firing', {
      timeoutMs: 15000,
      intervalMs: 200,
    });
    assert.ok(fired, '12+ requests against a mean of 3 fires volume');
    const a = find(await alerts(d), 'volume', 'wa');
    assert.ok(a.value >= 12, `value ${a.value}`);
    assert.equal(a.threshold, 9);
  });
});


describe('alerts on the event bus', () => {
  let d;
  let sink;

  after(async () => {
    await d?.cleanup();
    await sink?.close();
  });

  test('fired and resolved: once each to the operator and alerts.endpoint, never to another owner', async () => {
    sink = await startSink();
    d = await startDaemon({
      env,
      extra: [
        'admin_token_env: HG_E2E_ALERTS_ADMIN',
        'allow_http: true',
        'egress_allow: [127.0.0.1/32]',
        'endpoints:',
        `  - {name: ops, url: "${sink.url('/ops')}"}`,
        "alerts: {bad_signatures: {limit: 5, per: 3s}, endpoint: ops, volume: 'off', rate_limited: 'off'}",
        'sources:',
        '  - {name: wa, provider: meta, secret_env: HG_E2E_ALERTS_SECRET}',
      ].join('\n'),
    });
    const api = (method, path, body, key = ADMIN) =>
      request(d, method, path, {
        headers: { Authorization: `Bearer ${key}`, 'Content-Type': 'application/json' },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    const keyOf = async (owner_id) => {
      const r = await api('POST', '/api/v1/api-keys', { owner_id });
      assert.equal(r.status, 201, r.text);
      return r.json.token;
    };
    const subscribe = async (key, path) => {
      const r = await api('POST', '/api/v1/webhooks', { url: sink.url(path), events: ['hookgate.alert.*'] }, key);
      assert.equal(r.status, 201, r.text);
      return r.json.secret_standard;
    };
    const opWhsec = await subscribe(await keyOf('operator'), '/operator');
    await subscribe(await keyOf('team-a'), '/team');

    for (let i = 0; i < 6; i++) {
      assert.equal((await postSigned(d, 'wa', '{}', { signature: `sha256=${'0'.repeat(64)}` })).status, 401);
    }
    const events = (path) =>
      sink.on(path).map((r) => {
        const body =
          path === '/operator'
            ? new Webhook(opWhsec).verify(r.raw, {
                'webhook-id': r.headers['webhook-id'],
                'webhook-timestamp': r.headers['webhook-timestamp'],
                'webhook-signature': r.headers['webhook-signature'],
              })
            : JSON.parse(r.body);
        assert.equal(r.headers['x-webhook-event'], body.event);
        return body;
      });
    const both = await waitFor(
      () => events('/operator').some((e) => e.event === 'hookgate.alert.resolved') &&
        events('/ops').some((e) => e.event === 'hookgate.alert.resolved'),
      { timeoutMs: 40000, intervalMs: 200 },
    );
    assert.ok(both, 'the operator and alerts.endpoint hear the alert fire and resolve');
    await new Promise((r) => setTimeout(r, 3000)); // nothing more comes
    for (const path of ['/operator', '/ops']) {
      const got = events(path);
      assert.deepEqual(
        got.map((e) => e.event),
        ['hookgate.alert.firing', 'hookgate.alert.resolved'],
        `${path}: one firing, one resolved`,
      );
      assert.deepEqual(got[0].data, { rule: 'bad_signatures', source: 'wa', value: 6, threshold: 5, window_ms: 3000, state: 'firing' });
      assert.equal(got[1].data.state, 'resolved');
    }
    assert.equal(sink.on('/team').length, 0, "another owner's subscription hears nothing");
  });
});

describe('the circuit rule', () => {
  let d;
  let sink;

  after(async () => {
    await d?.cleanup();
    await sink?.close();
  });

  test("an endpoint whose circuit opens fires `circuit` under the endpoint's name", async () => {
    sink = await startSink(); // answers 200, but the endpoint below points at a closed port
    d = await startDaemon({
      env,
      extra: [
        'admin_token_env: HG_E2E_ALERTS_ADMIN',
        'endpoints:',
        // a port nothing listens on (this sink's, once it is closed below): every attempt fails
        `  - {name: app, url: "${sink.url('/app')}", circuit: {failures: 1, cooldown: 60s}}`,
        'sources:',
        '  - {name: wa, provider: meta, secret_env: HG_E2E_ALERTS_SECRET, routes: [app]}',
      ].join('\n'),
    });
    await sink.close();
    sink = null;
    assert.equal((await postSigned(d, 'wa', JSON.stringify({ x: 1 }), { secret: SECRET })).status, 200);
    const fired = await waitFor(async () => find(await alerts(d), 'circuit', 'app')?.state === 'firing', {
      timeoutMs: 15000,
      intervalMs: 200,
    });
    assert.ok(fired, 'circuit fires for endpoint app');
    const m = (await request(d, 'GET', '/metrics')).text;
    assert.equal(metric(m, 'hookgate_alerts_firing', '{rule="circuit",source="app"}'), 1);
  });
});
