// metrics.test.mjs — /metrics as Prometheus reads it: `promtool check
// metrics` accepts a live scrape (before any traffic and after some); every
// configured source and endpoint has its series from the start, at zero;
// no series for a source that is not configured and no NaN; ack latency is
// a histogram (cumulative buckets, +Inf equal to _count); deliveries are
// counted per endpoint; the oldest pending delivery's age per endpoint;
// hookgate_build_info and the process metrics. Network: 127.0.0.1 only.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import { postSigned, request, runTool, startDaemon, startSink, token, waitFor } from './helpers.mjs';

const SECRET = token('gh');
let d;
let sink;
before(async () => {
  sink = await startSink((p) => ({ status: p === '/fail' ? 500 : 200 }));
  d = await startDaemon({
    env: { E2E_MET_SECRET: SECRET },
    extra: [
      'endpoints:',
      '  - name: good',
      `    url: ${sink.url('/ok')}`,
      '  - name: bad',
      `    url: ${sink.url('/fail')}`,
      '    retry: {schedule: [0s, 1h]}',
      'sources:',
      '  - name: busy',
      '    provider: github',
      '    secret_env: E2E_MET_SECRET',
      '    routes: [good, bad]',
      '  - name: quiet',
      '    provider: github',
      '    secret_env: E2E_MET_SECRET',
      '',
    ].join('\n'),
  });
});
after(async () => {
  await d?.cleanup();
  await sink?.close();
});

async function scrape() {
  const r = await request(d, 'GET', '/metrics');
  assert.equal(r.status, 200, r.text);
  const check = await runTool('promtool', ['check', 'metrics'], { input: r.text });
  assert.equal(check.code, 0, `promtool check metrics:\n${check.stdout}${check.stderr}\n---\n${r.text}`);
  assert.doesNotMatch(r.text, /NaN/);
  assert.doesNotMatch(r.text, /source="@/, 'no pseudo-source');
  return r.text;
}

const value = (text, series) => {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  assert.ok(line, `no series ${series}`);
  return Number(line.slice(series.length + 1));
};

describe('/metrics', () => {
  it('has every configured source and endpoint at zero before any traffic, and passes promtool', async () => {
    const t = await scrape();
    for (const s of ['busy', 'quiet']) {
      assert.equal(value(t, `hookgate_requests_received_total{source="${s}"}`), 0);
      assert.equal(value(t, `hookgate_requests_total{source="${s}",outcome="accepted"}`), 0);
      assert.equal(value(t, `hookgate_deliveries_total{source="${s}",outcome="dead"}`), 0);
      assert.equal(value(t, `hookgate_ack_latency_seconds_bucket{source="${s}",le="+Inf"}`), 0);
      assert.equal(value(t, `hookgate_ack_latency_seconds_count{source="${s}"}`), 0);
    }
    for (const e of ['good', 'bad']) {
      assert.equal(value(t, `hookgate_endpoint_deliveries_total{endpoint="${e}",outcome="delivered"}`), 0);
      assert.equal(value(t, `hookgate_endpoint_oldest_pending_seconds{endpoint="${e}"}`), 0);
    }
    assert.match(t, /^# TYPE hookgate_ack_latency_seconds histogram$/m);
    assert.match(t, /^hookgate_build_info\{version="[^"]+"\} 1$/m);
    for (const m of ['process_resident_memory_bytes', 'process_open_fds', 'process_start_time_seconds', 'process_cpu_seconds_total'])
      assert.ok(value(t, m) >= 0, m);
    assert.ok(value(t, 'process_resident_memory_bytes') > 1024 * 1024);
  });

  it('counts acknowledgements in cumulative buckets and deliveries per endpoint', async () => {
    for (let i = 0; i < 3; i++) {
      const r = await postSigned(d, 'busy', JSON.stringify({ n: i, m: token('m') }), { secret: SECRET });
      assert.equal(r.status, 200, r.text);
    }
    assert.ok(await waitFor(() => sink.on('/ok').length === 3 && sink.on('/fail').length === 3, { timeoutMs: 10000 }));
    let t;
    assert.ok(
      await waitFor(async () => {
        t = await scrape();
        return /^hookgate_endpoint_deliveries_total\{endpoint="bad",outcome="failed"\} 3$/m.test(t);
      }, { timeoutMs: 5000 }),
      t,
    );
    assert.equal(value(t, 'hookgate_endpoint_deliveries_total{endpoint="good",outcome="delivered"}'), 3);
    assert.equal(value(t, 'hookgate_endpoint_deliveries_total{endpoint="bad",outcome="delivered"}'), 0);
    assert.equal(value(t, 'hookgate_ack_latency_seconds_count{source="busy"}'), 3);
    assert.equal(value(t, 'hookgate_ack_latency_seconds_count{source="quiet"}'), 0);
    // cumulative: never decreasing, ending at _count
    const buckets = [...t.matchAll(/^hookgate_ack_latency_seconds_bucket\{source="busy",le="([^"]+)"\} (\d+)$/gm)];
    assert.ok(buckets.length > 5);
    for (let i = 1; i < buckets.length; i++) assert.ok(Number(buckets[i][2]) >= Number(buckets[i - 1][2]));
    assert.equal(buckets.at(-1)[1], '+Inf');
    assert.equal(Number(buckets.at(-1)[2]), 3);
    // the failed deliveries wait an hour for their retry: bad's oldest is pending
    assert.equal(value(t, 'hookgate_endpoint_pending{endpoint="bad"}'), 3);
    assert.ok(value(t, 'hookgate_endpoint_oldest_pending_seconds{endpoint="bad"}') > 0);
    assert.equal(value(t, 'hookgate_endpoint_oldest_pending_seconds{endpoint="good"}'), 0);
  });
});
