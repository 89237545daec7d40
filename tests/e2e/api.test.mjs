// api.test.mjs — the management API, /metrics, retention and the operator's
// CLI against the real daemon: Bearer-token auth, message lists with cursor
// pagination and filters, one message with its delivery history, the
// dead-letter queue (retry one, retry an endpoint's), replay, hourly stats
// that match what was sent, Prometheus text, `hookgate purge`, and
// `hookgate messages` / `hookgate dlq` talking to the running daemon.
//
// Deliveries go to a sink: an HTTP server on 127.0.0.1 run by this test,
// whose /fail path answers 500 until the test lets it succeed. Nothing here
// talks to anything but loopback.

import assert from 'node:assert/strict';
import http from 'node:http';
import { after, before, describe, test } from 'node:test';

import {
  HOST,
  UUID7_RE,
  postSigned,
  request,
  runCli,
  startDaemon,
  token,
  waitFor,
  whatsappBody,
} from './helpers.mjs';

const ADMIN = token('admin');
const SECRETS = { HG_E2E_API_WA: token('wa'), HG_E2E_API_GH: token('gh'), HG_E2E_API_ADMIN: ADMIN };

// ---------------------------------------------------------------- the sink

// Records every delivery; /ok answers 200, /fail 500 while sink.failing.
function startSink() {
  const sink = { got: [], failing: true, server: null, port: 0 };
  sink.server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const ok = req.url === '/ok' || !sink.failing;
      sink.got.push({
        path: req.url,
        id: req.headers['x-hookgate-message-id'],
        body: Buffer.concat(chunks).toString('utf8'),
        ok,
      });
      res.writeHead(ok ? 200 : 500, { 'content-type': 'text/plain' });
      res.end(ok ? 'ok' : 'nope');
    });
  });
  return new Promise((resolve) => {
    sink.server.listen(0, HOST, () => {
      sink.port = sink.server.address().port;
      resolve(sink);
    });
  });
}

// Deliveries of message id the sink answered 200.
const delivered = (sink, id) => sink.got.filter((g) => g.id === id && g.ok).length;

// ---------------------------------------------------------------- helpers

const auth = { Authorization: `Bearer ${ADMIN}` };
// outside: a request meant to miss docs/openapi.yaml (an unknown path, a wrong method)
const api = (d, method, path, headers = auth, outside = false) =>
  request(d, method, path, { headers, openapi: !outside });

async function get(d, path) {
  const r = await api(d, 'GET', path);
  assert.equal(r.status, 200, `${path}: ${r.text}`);
  return r.json;
}

// Every message id of a list, following next_cursor.
async function allPages(d, query, limit) {
  const ids = [];
  let cursor = null;
  let pages = 0;
  do {
    const q = `${query}${query ? '&' : ''}limit=${limit}${cursor ? `&cursor=${cursor}` : ''}`;
    const page = await get(d, `/api/v1/messages?${q}`);
    assert.ok(page.data.length <= limit);
    ids.push(...page.data.map((m) => m.id));
    cursor = page.next_cursor;
    pages++;
  } while (cursor && pages < 100);
  return { ids, pages };
}

let seq = 0;
async function postWa(d, { id = token('wamid'), secret = SECRETS.HG_E2E_API_WA, source = 'wa' } = {}) {
  const body = whatsappBody({ messages: [{ id, from: `1555${++seq}` }] });
  return postSigned(d, source, body, { secret });
}

// ---------------------------------------------------------------- the suite

describe('management API', () => {
  let sink;
  let d;
  const waIds = []; // accepted wa messages, oldest first
  const ghIds = [];
  let dupId; // the provider's message id sent twice
  const sent = { received: 0, accepted: 0, duplicates: 0, invalid_signatures: 0, rate_limited: 0 };

  before(async () => {
    sink = await startSink();
    d = await startDaemon({
      env: SECRETS,
      sources: [
        {
          name: 'wa',
          provider: 'meta',
          secret_env: 'HG_E2E_API_WA',
          dedupe: ['$.entry[*].changes[*].value.messages[*].id'],
          routes: ['sink'],
        },
        { name: 'gh', provider: 'meta', secret_env: 'HG_E2E_API_GH', routes: ['broken'] },
        {
          name: 'rl',
          provider: 'meta',
          secret_env: 'HG_E2E_API_WA',
          rate_limit: { key: 'ip', limit: 1, per: '1h' },
        },
      ],
      extra: [
        'admin_token_env: HG_E2E_API_ADMIN',
        'retention: 30d',
        'endpoints:',
        '  - name: sink',
        `    url: http://${HOST}:SINKPORT/ok`,
        '    retry: {schedule: [0s]}',
        '  - name: broken',
        `    url: http://${HOST}:SINKPORT/fail`,
        '    retry: {schedule: [0s, 100ms]}',
      ]
        .join('\n')
        .replaceAll('SINKPORT', String(sink.port)),
    });

    // 7 wa messages, 3 gh messages, one duplicate, one bad signature, one
    // rate-limited request: the stats test checks every one of them.
    for (let i = 0; i < 7; i++) {
      const r = await postWa(d);
      assert.equal(r.status, 200, r.text);
      waIds.push(r.json.id);
    }
    for (let i = 0; i < 3; i++) {
      const r = await postWa(d, { source: 'gh', secret: SECRETS.HG_E2E_API_GH });
      assert.equal(r.status, 200, r.text);
      ghIds.push(r.json.id);
    }
    dupId = token('dup');
    assert.equal((await postWa(d, { id: dupId })).status, 200);
    const dup = await postWa(d, { id: dupId });
    assert.equal(dup.json.status, 'duplicate');
    waIds.push(dup.json.id);
    assert.equal((await postWa(d, { secret: 'wrong' })).status, 401);
    assert.equal((await postWa(d, { source: 'rl' })).status, 200);
    assert.equal((await postWa(d, { source: 'rl' })).status, 429);
    Object.assign(sent, {
      received: 15,
      accepted: 12,
      duplicates: 1,
      invalid_signatures: 1,
      rate_limited: 1,
    });
  });

  after(async () => {
    await d?.cleanup();
    sink?.server.close();
  });

  test('every /api request needs the admin token', async () => {
    for (const headers of [{}, { Authorization: `Bearer ${ADMIN}x` }, { Authorization: `Basic ${ADMIN}` }]) {
      const r = await api(d, 'GET', '/api/v1/messages', headers);
      assert.equal(r.status, 401);
      assert.equal(typeof r.json.error, 'string');
      assert.match(r.headers['www-authenticate'], /^Bearer/);
      assert.doesNotMatch(r.text, new RegExp(ADMIN));
    }
    // even unknown paths: nothing about the API shows without the token
    assert.equal((await api(d, 'GET', '/api/v1/nothing', {}, true)).status, 401);
    assert.equal((await api(d, 'GET', '/api/v1/messages', { Authorization: `bearer  ${ADMIN} ` })).status, 200);
    // the token never reaches the log
    assert.ok(!d.stderr().includes(ADMIN));
  });

  test('messages list pages by cursor: newest first, no duplicates, no gaps', async () => {
    const { ids, pages } = await allPages(d, 'source=wa', 3);
    const want = [...new Set(waIds)].reverse();
    assert.deepEqual(ids, want);
    assert.equal(pages, Math.ceil(want.length / 3));
    const page = await get(d, '/api/v1/messages?source=wa&limit=500');
    assert.equal(page.next_cursor, null);
    const m = page.data[0];
    assert.match(m.id, UUID7_RE);
    assert.equal(m.source, 'wa');
    assert.equal(m.content_type, 'application/json');
    assert.equal(typeof m.size, 'number');
    assert.equal(m.delivery_count, 1);
    assert.match(m.received_at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    // the duplicate was counted on its first message
    const dupFirst = page.data.find((x) => x.id === waIds[waIds.length - 1]);
    assert.equal(dupFirst.duplicates, 1);
    // a cursor of one list is refused by another, and garbage is refused
    const cursor = (await get(d, '/api/v1/messages?limit=1')).next_cursor;
    assert.equal((await api(d, 'GET', `/api/v1/deliveries?cursor=${cursor}`)).status, 400);
    assert.equal((await api(d, 'GET', '/api/v1/messages?cursor=zzz')).status, 400);
  });

  test('filters by source and status; deliveries reach the sink', async () => {
    const gh = await get(d, '/api/v1/messages?source=gh');
    assert.deepEqual(gh.data.map((m) => m.id), [...ghIds].reverse());
    // wa messages go to the sink once; gh's die after 2 attempts
    const done = await waitFor(
      async () => {
        const s = await get(d, '/api/v1/messages?status=succeeded&source=wa&limit=500');
        const x = await get(d, '/api/v1/messages?status=dead&limit=500');
        return s.data.length === new Set(waIds).size && x.data.length === ghIds.length;
      },
      { timeoutMs: 10000, intervalMs: 100 },
    );
    assert.ok(done, 'every wa message succeeded and every gh message died');
    for (const id of new Set(waIds)) assert.equal(delivered(sink, id), 1);
    const dead = await get(d, '/api/v1/messages?status=dead');
    assert.deepEqual(dead.data.map((m) => m.id).sort(), [...ghIds].sort());
    assert.equal((await get(d, '/api/v1/messages?status=pending')).data.length, 0);
    const since = await get(d, `/api/v1/messages?since=${Date.now() + 60000}`);
    assert.equal(since.data.length, 0);
  });

  test('filters by dedupe key: the provider\'s id finds its message', async () => {
    // the value alone (as the source's rules make keys from it), or the whole key
    const byValue = await get(d, `/api/v1/messages?source=wa&dedupe_key=${encodeURIComponent(dupId)}`);
    assert.deepEqual(byValue.data.map((m) => m.id), [waIds[waIds.length - 1]]);
    const whole = `$.entry[*].changes[*].value.messages[*].id=${dupId}`;
    const byKey = await get(d, `/api/v1/messages?source=wa&dedupe_key=${encodeURIComponent(whole)}`);
    assert.deepEqual(byKey.data.map((m) => m.id), [waIds[waIds.length - 1]]);
    // another source's, or none at all
    assert.equal((await get(d, `/api/v1/messages?source=gh&dedupe_key=${dupId}`)).data.length, 0);
    assert.equal((await get(d, '/api/v1/messages?source=wa&dedupe_key=nothing')).data.length, 0);
    const noSource = await api(d, 'GET', `/api/v1/messages?dedupe_key=${dupId}`);
    assert.equal(noSource.status, 400);
    assert.match(noSource.json.error, /needs source/);
  });

  test('one message: metadata, body, headers and deliveries with attempts', async () => {
    const m = await get(d, `/api/v1/messages/${ghIds[0]}`);
    assert.equal(m.id, ghIds[0]);
    assert.equal(m.status, 'dead');
    assert.equal(m.body_encoding, 'utf-8');
    assert.ok(JSON.parse(m.body).entry);
    assert.equal(m.headers['content-type'], 'application/json');
    assert.ok(m.headers['x-hub-signature-256']);
    assert.equal(m.headers.authorization, undefined);
    assert.equal(m.deliveries.length, 1);
    const dl = m.deliveries[0];
    assert.equal(dl.endpoint, 'broken');
    assert.equal(dl.status, 'dead');
    assert.equal(dl.attempt_count, 2);
    assert.deepEqual(dl.attempts.map((a) => a.n), [1, 2]);
    assert.equal(dl.attempts[0].status_code, 500);
    assert.equal(dl.attempts[0].response, 'nope');
    assert.equal((await api(d, 'GET', `/api/v1/messages/${ghIds[0].replace(/.$/, '0')}x`)).status, 404);
    const unknown = await api(d, 'GET', '/api/v1/messages/01900000-0000-7000-8000-000000000000');
    assert.equal(unknown.status, 404);
    assert.match(unknown.json.error, /no message/);
  });

  test('dead deliveries: list, retry one (409 unless dead), retry an endpoint', async () => {
    const dead = await get(d, '/api/v1/deliveries?status=dead&endpoint=broken');
    assert.equal(dead.data.length, ghIds.length);
    assert.ok(dead.data.every((x) => x.status === 'dead' && x.endpoint === 'broken'));
    assert.equal((await get(d, '/api/v1/deliveries?status=dead&endpoint=sink')).data.length, 0);
    const paged = await get(d, '/api/v1/deliveries?status=dead&limit=2');
    assert.equal(paged.data.length, 2);
    const rest = await get(d, `/api/v1/deliveries?status=dead&limit=2&cursor=${paged.next_cursor}`);
    assert.equal(rest.data.length, 1);
    assert.equal(rest.next_cursor, null);

    sink.failing = false;
    const one = dead.data[0];
    const r = await api(d, 'POST', `/api/v1/deliveries/${one.id}/retry`);
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(r.json, { id: one.id, status: 'pending' });
    assert.ok(await waitFor(() => delivered(sink, one.message_id) === 1, { timeoutMs: 10000 }));
    assert.ok(
      await waitFor(async () => (await get(d, `/api/v1/messages/${one.message_id}`)).status === 'succeeded'),
    );
    const again = await api(d, 'POST', `/api/v1/deliveries/${one.id}/retry`);
    assert.equal(again.status, 409);
    assert.match(again.json.error, /succeeded, not dead/);
    assert.equal((await api(d, 'POST', '/api/v1/deliveries/01900000-0000-7000-8000-000000000000/retry')).status, 404);

    const all = await api(d, 'POST', '/api/v1/endpoints/broken/retry-dead');
    assert.equal(all.status, 200, all.text);
    assert.deepEqual(all.json, { endpoint: 'broken', retried: ghIds.length - 1 });
    assert.ok(await waitFor(() => ghIds.every((id) => delivered(sink, id) === 1), { timeoutMs: 10000 }));
    assert.equal((await api(d, 'POST', '/api/v1/endpoints/nope/retry-dead')).status, 404);
  });

  test('replay makes new deliveries that the sink receives', async () => {
    const id = waIds[0];
    const r = await api(d, 'POST', `/api/v1/messages/${id}/replay`);
    assert.equal(r.status, 202, r.text);
    assert.equal(r.json.message_id, id);
    assert.equal(r.json.deliveries.length, 1);
    assert.equal(r.json.deliveries[0].endpoint, 'sink');
    assert.match(r.json.deliveries[0].id, UUID7_RE);
    assert.ok(await waitFor(() => delivered(sink, id) === 2, { timeoutMs: 10000 }));
    const m = await get(d, `/api/v1/messages/${id}`);
    assert.equal(m.deliveries.length, 2);
    assert.equal((await api(d, 'POST', '/api/v1/messages/01900000-0000-7000-8000-000000000000/replay')).status, 404);
  });

  test('wrong methods, unknown paths and bad parameters', async () => {
    const m405 = await api(d, 'DELETE', '/api/v1/messages', auth, true);
    assert.equal(m405.status, 405);
    assert.equal(m405.headers.allow, 'GET');
    assert.equal((await api(d, 'GET', `/api/v1/messages/${waIds[0]}/replay`, auth, true)).headers.allow, 'POST');
    assert.equal((await api(d, 'GET', '/api/v1/nothing', auth, true)).status, 404);
    assert.equal((await api(d, 'GET', '/api/v2/messages', auth, true)).status, 404);
    for (const q of ['limit=0', 'limit=501', 'limit=x', 'status=lost', 'since=yesterday', 'color=red', 'limit=1&limit=2']) {
      const r = await api(d, 'GET', `/api/v1/messages?${q}`);
      assert.equal(r.status, 400, q);
      assert.equal(typeof r.json.error, 'string');
      assert.equal(r.text.trim().split('\n').length, 1);
    }
    assert.equal((await api(d, 'GET', '/api/v1/deliveries?status=none')).status, 400);
    assert.equal((await api(d, 'GET', '/api/v1/stats?hours=0')).status, 400);
  });

  test('stats count what was sent, per hour, with ack latency percentiles', async () => {
    const want = { ...sent, delivered: new Set(waIds).size + ghIds.length + 1, dead: ghIds.length };
    let last;
    const ok = await waitFor(
      async () => {
        last = (await get(d, '/api/v1/stats?hours=2')).totals;
        return Object.entries(want).every(([k, v]) => last[k] === v);
      },
      { timeoutMs: 5000, intervalMs: 200 },
    );
    assert.ok(ok, `stats totals ${JSON.stringify(last)} want ${JSON.stringify(want)}`);
    assert.ok(last.failed >= ghIds.length, 'the first attempt of each gh delivery failed');
    assert.ok(last.ack_p50_ms > 0 && last.ack_p95_ms >= last.ack_p50_ms);

    const wa = await get(d, '/api/v1/stats?source=wa&hours=24');
    assert.equal(wa.source, 'wa');
    assert.equal(wa.hours, 24);
    assert.equal(wa.data.length, 24);
    assert.ok(Date.parse(wa.data[0].hour) > Date.parse(wa.data[1].hour), 'newest hour first');
    assert.equal(wa.totals.accepted, 8);
    assert.equal(wa.totals.duplicates, 1);
    assert.equal(wa.totals.invalid_signatures, 1);
    assert.equal(wa.totals.rate_limited, 0);
    assert.equal(typeof wa.totals.ack_p95_ms, 'number');
    const empty = wa.data.find((h) => h.received === 0);
    assert.equal(empty.ack_p50_ms, null);
  });

  test('/metrics: Prometheus text without a token, aggregates only', async () => {
    const r = await request(d, 'GET', '/metrics');
    assert.equal(r.status, 200);
    assert.match(r.headers['content-type'], /^text\/plain; version=0\.0\.4/);
    assert.match(r.text, /^hookgate_requests_received_total\{source="wa"\} 10$/m);
    assert.match(r.text, /^hookgate_requests_total\{source="wa",outcome="accepted"\} 8$/m);
    assert.match(r.text, /^hookgate_requests_total\{source="rl",outcome="rate_limited"\} 1$/m);
    assert.match(r.text, /^hookgate_deliveries_total\{source="gh",outcome="dead"\} 3$/m);
    assert.match(r.text, /^hookgate_ack_latency_seconds_bucket\{source="wa",le="\+Inf"\} 9$/m);
    assert.match(r.text, /^hookgate_ack_latency_seconds_count\{source="wa"\} 9$/m);
    assert.match(r.text, /^hookgate_endpoint_deliveries_total\{endpoint="broken",outcome="dead"\} 3$/m);
    assert.match(r.text, /^hookgate_endpoint_deliveries_total\{endpoint="sink",outcome="delivered"\} \d+$/m);
    assert.match(r.text, /^hookgate_deliveries_queued\{status="dead"\} 0$/m);
    assert.ok(!r.text.includes(waIds[0]), 'no message ids in /metrics');
    assert.equal((await request(d, 'POST', '/metrics', { openapi: false })).status, 405);
    // build and process metrics
    const version = (await runCli(['version'])).stdout.trim().split(' ')[1];
    assert.match(r.text, new RegExp(`^hookgate_build_info\\{version="${version.replace(/\./g, '\\.')}"\\} 1$`, 'm'));
    const rss = Number(r.text.match(/^process_resident_memory_bytes (\d+)$/m)?.[1]);
    assert.ok(rss > 1024 * 1024, `resident memory: ${rss}`);
    const fds = Number(r.text.match(/^process_open_fds (\d+)$/m)?.[1]);
    assert.ok(fds >= 3 && fds < 1000, `open fds: ${fds}`);
    const start = Number(r.text.match(/^process_start_time_seconds (\d+)$/m)?.[1]);
    const nowS = Date.now() / 1000;
    assert.ok(start > nowS - 3600 && start <= nowS + 5, `start time ${start} is not within the last hour`);
  });

  test('probes are not logged per request; a bad signature is logged at warn', async () => {
    const marker = `/healthz`;
    const before = d.logLines().length;
    for (let i = 0; i < 3; i++) {
      assert.equal((await request(d, 'GET', '/healthz')).status, 200);
      assert.equal((await request(d, 'GET', '/readyz')).status, 200);
      assert.equal((await request(d, 'GET', '/metrics')).status, 200);
    }
    const bad = await postSigned(d, 'wa', JSON.stringify({ id: 'x' }), { signature: 'sha256=00' });
    assert.equal(bad.status, 401);
    await waitFor(() => d.logLines().slice(before).some((l) => l.msg === 'request' && l.status === 401), { timeoutMs: 5000 });
    const lines = d.logLines().slice(before);
    assert.equal(lines.filter((l) => l.msg === 'request' && [marker, '/readyz', '/metrics'].includes(l.path)).length, 0, JSON.stringify(lines));
    const refused = lines.filter((l) => l.msg === 'request' && l.status === 401);
    assert.equal(refused.length, 1, JSON.stringify(lines));
    assert.equal(refused[0].level, 'warn');
  });

  test('the CLI lists, shows, replays and retries against the running daemon', async () => {
    const env = { HOOKGATE_ADMIN_TOKEN: ADMIN };
    const url = ['--url', d.url];
    let r = await runCli(['messages', 'list', ...url, '--source', 'gh'], { env });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^ID\s+RECEIVED\s+SOURCE\s+STATUS/);
    for (const id of ghIds) assert.ok(r.stdout.includes(id));
    assert.ok(!r.stdout.includes(waIds[0]));

    r = await runCli(['messages', 'list', ...url, '--limit', '2', '--json'], { env });
    assert.equal(r.code, 0, r.stderr);
    const page = JSON.parse(r.stdout);
    assert.equal(page.data.length, 2);
    r = await runCli(['messages', 'list', ...url, '--limit', '2', '--cursor', page.next_cursor], { env });
    assert.equal(r.code, 0, r.stderr);
    assert.ok(!r.stdout.includes(page.data[0].id));
    assert.match(r.stdout, /\(more: add --cursor \S+\)/);

    // -c finds the daemon and the token's variable; provider secrets are not needed
    r = await runCli(['messages', 'show', ghIds[1], '-c', d.configPath], { env: { HG_E2E_API_ADMIN: ADMIN } });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`^id\\s+${ghIds[1]}$`, 'm'));
    assert.match(r.stdout, /broken\s+succeeded/);
    assert.match(r.stdout, /#1 .* status 500/);

    r = await runCli(['messages', 'replay', waIds[1], ...url], { env });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /-> sink/);
    assert.ok(await waitFor(() => delivered(sink, waIds[1]) === 2, { timeoutMs: 10000 }));

    r = await runCli(['dlq', 'list', ...url], { env });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /\(none\)/);
    const dl = (await get(d, `/api/v1/messages/${ghIds[2]}`)).deliveries[0];
    r = await runCli(['dlq', 'retry', dl.id, ...url], { env });
    assert.equal(r.code, 1);
    assert.match(r.stderr, /not dead.*\(HTTP 409\)/);
    r = await runCli(['dlq', 'retry', '--endpoint', 'broken', ...url], { env });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^0 dead deliveries of endpoint broken/);

    // usage errors exit 2, a refusing daemon 1, --help 0
    assert.equal((await runCli(['messages', 'list', ...url], { env: { HOOKGATE_ADMIN_TOKEN: '' } })).code, 2);
    assert.equal((await runCli(['messages', 'show', ...url], { env })).code, 2);
    assert.equal((await runCli(['dlq', 'retry', ...url], { env })).code, 2);
    assert.equal((await runCli(['messages', 'frob'], { env })).code, 2);
    r = await runCli(['messages', 'list', ...url], { env: { HOOKGATE_ADMIN_TOKEN: 'wrong' } });
    assert.equal(r.code, 1);
    assert.match(r.stderr, /invalid admin token \(HTTP 401\)/);
    for (const args of [['messages', '--help'], ['messages', 'list', '--help'], ['dlq', 'retry', '--help'], ['purge', '--help']]) {
      r = await runCli(args);
      assert.equal(r.code, 0, args.join(' '));
      assert.match(r.stdout, /^usage: hookgate/);
    }
  });

  test('retention: hookgate purge --older-than 0s removes the messages, keeps the audit log', async () => {
    let r = await runCli(['purge', '-c', d.configPath, '--older-than', '0s']);
    assert.equal(r.code, 0, r.stderr);
    const m = r.stdout.match(/: (\d+) messages, (\d+) deliveries, (\d+) attempts, (\d+) dedupe keys/);
    assert.ok(m, r.stdout);
    assert.equal(Number(m[1]), new Set(waIds).size + ghIds.length + 1);
    assert.ok(Number(m[2]) >= Number(m[1]));
    assert.equal((await get(d, '/api/v1/messages')).data.length, 0);
    assert.equal((await api(d, 'GET', `/api/v1/messages/${waIds[0]}`)).status, 404);
    r = await runCli(['purge', '--older-than', 'soon']);
    assert.equal(r.code, 2);
    r = await runCli(['purge', '-c', d.configPath]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /: 0 messages/);
    const v = await runCli(['audit', 'verify', '-c', d.configPath], { env: SECRETS });
    assert.equal(v.code, 0, v.stdout + v.stderr);
  });

  test('SIGTERM stops the API workers and the housekeeper cleanly', async () => {
    const r = await d.stop();
    assert.equal(r.code, 0, d.stderr());
    assert.doesNotMatch(d.stderr(), /AddressSanitizer|LeakSanitizer|runtime error/);
  });
});

describe('management API without admin_token_env', () => {
  let d;
  before(async () => {
    d = await startDaemon({ sources: [] });
  });
  after(async () => d?.cleanup());

  test('every /api call is 401 and says admin_token_env is not set', async () => {
    for (const path of ['/api/v1/messages', '/api/v1/stats', '/api/v1/nothing']) {
      const r = await api(d, 'GET', path, { Authorization: 'Bearer anything' }, path.endsWith('/nothing'));
      assert.equal(r.status, 401);
      assert.match(r.json.error, /admin_token_env is not set/);
    }
    assert.equal((await request(d, 'GET', '/metrics')).status, 200);
  });
});
