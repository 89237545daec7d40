// audit.test.mjs — refusals cannot write to disk at line rate: a flood of
// bad signatures is summed into one audit row per (event, source, client,
// reason) per audit_window, whose counts add up exactly to the requests
// refused (and to /metrics); past audit_max_rows keys in a window the rest
// are summed per event and source (audit_suppressed), still exactly; and
// the chain still verifies.
//
// Network: every connection goes to 127.0.0.1; X-Forwarded-For values are
// only header text (127.0.0.1 is a trusted proxy here).

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { pool, postSigned, request, runCli, sqlite, startDaemon, token, waitFor } from './helpers.mjs';

const SECRET = token('audit-secret');
const env = { HG_E2E_AUDIT_SECRET: SECRET };
const WINDOW_MS = 1000;
const MAX_ROWS = 5;

// The value of one sample of /metrics, as a number (NaN when absent).
function metric(text, name, labels = '') {
  const line = text.split('\n').find((l) => l.startsWith(`${name}${labels} `));
  return line === undefined ? NaN : Number(line.slice(line.lastIndexOf(' ') + 1));
}

describe('the audit log under a flood of refusals', () => {
  let d;
  const db = () => `${d.dir}/hookgate.db`;
  const q = (sql) => sqlite(db(), sql);

  before(async () => {
    d = await startDaemon({
      env,
      extra: { audit_window: `${WINDOW_MS}ms`, audit_max_rows: MAX_ROWS, trusted_proxies: ['127.0.0.1'] },
      sources: [
        { name: 'flood', provider: 'meta', secret_env: 'HG_E2E_AUDIT_SECRET' },
        { name: 'spray', provider: 'meta', secret_env: 'HG_E2E_AUDIT_SECRET' },
      ],
    });
  });

  after(async () => {
    await d?.cleanup();
  });

  test('3000 bad signatures from one client: a row per window, counts that add up exactly, /metrics exact, verify ok', async () => {
    const N = 3000;
    const body = JSON.stringify({ hello: 'world' });
    const statuses = new Map();
    await pool(Array.from({ length: N }, (_, i) => i), 32, async () => {
      const r = await postSigned(d, 'flood', body, { signature: `sha256=${'0'.repeat(64)}` });
      statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1);
    });
    assert.deepEqual([...statuses], [[401, N]], 'every request refused with 401');

    const sum = async () =>
      Number(await q("select coalesce(sum(count), 0) from audit_log where event = 'bad_signature' and source = 'flood'"));
    const total = await waitFor(async () => (await sum()) === N, { timeoutMs: 15000 });
    assert.ok(total, `sum(count) of the flood's rows: expected ${N}, got ${await sum()}`);

    // Bounded: one row per window for the one (event, source, client, reason).
    const rows = Number(await q("select count(*) from audit_log where source = 'flood'"));
    const windows = Number(
      await q(`select count(distinct ts_ms / ${WINDOW_MS}) from audit_log where source = 'flood'`),
    );
    assert.equal(rows, windows, 'one row per window');
    process.stderr.write(`flood: ${N} refusals -> ${rows} rows\n`);
    assert.ok(rows <= 50, `a flood of ${N} requests wrote ${rows} rows; expected a handful`);
    assert.equal(await q("select count(*) from audit_log where source = 'flood' and count < 1"), '0');
    assert.equal(await q("select distinct client from audit_log where source = 'flood'"), '127.0.0.1');

    const m = await request(d, 'GET', '/metrics');
    assert.equal(m.status, 200);
    assert.equal(metric(m.text, 'hookgate_refusals_total', '{source="flood",reason="bad_signature"}'), N, m.text);
    assert.ok(metric(m.text, 'hookgate_audit_rows_total', '{kind="refusal"}') >= rows, m.text);

    const v = await runCli(['audit', 'verify', '-c', d.configPath], { env });
    assert.equal(v.code, 0, `audit verify: exit ${v.code}\n${v.stdout}${v.stderr}`);
    assert.match(v.stdout, /audit log ok: \d+ rows/);
  });

  test('many client addresses: at most audit_max_rows itemised rows per window, the rest summed exactly', async () => {
    const N = 60;
    const body = JSON.stringify({ spray: true });
    await pool(Array.from({ length: N }, (_, i) => i), 8, async (i) => {
      const r = await postSigned(d, 'spray', body, {
        signature: `sha256=${'1'.repeat(64)}`,
        headers: { 'X-Forwarded-For': `198.51.100.${i + 1}` },
      });
      assert.equal(r.status, 401);
    });
    const sum = async () =>
      Number(await q("select coalesce(sum(count), 0) from audit_log where event = 'bad_signature' and source = 'spray'"));
    assert.ok(await waitFor(async () => (await sum()) === N, { timeoutMs: 15000 }), `sum(count): ${await sum()} of ${N}`);

    // Per window: at most MAX_ROWS itemised keys over all sources, and one
    // audit_suppressed row per (event, source).
    const perWindow = await q(
      `select w, sum(case when client is null then 0 else 1 end), sum(case when client is null then 1 else 0 end)` +
        ` from (select ts_ms / ${WINDOW_MS} as w, client from audit_log where event = 'bad_signature') as r group by w`,
    );
    for (const line of perWindow.split('\n').filter(Boolean)) {
      const [, itemised, suppressed] = line.split('|').map(Number);
      assert.ok(itemised <= MAX_ROWS, `window ${line}: ${itemised} itemised rows, cap ${MAX_ROWS}`);
      assert.ok(suppressed <= 2, `window ${line}: ${suppressed} suppressed rows (one per source at most)`);
    }
    const suppressedRows = await q(
      "select count(*), coalesce(sum(count), 0) from audit_log where source = 'spray' and client is null",
    );
    const [nSup, sumSup] = suppressedRows.split('|').map(Number);
    assert.ok(nSup >= 1, 'the refusals over the cap are summed in an audit_suppressed row');
    assert.equal(
      await q("select count(*) from audit_log where source = 'spray' and client is null and reason not like 'audit_suppressed:%'"),
      '0',
    );

    const m = await request(d, 'GET', '/metrics');
    assert.equal(metric(m.text, 'hookgate_refusals_total', '{source="spray",reason="bad_signature"}'), N);
    assert.equal(metric(m.text, 'hookgate_audit_refusals_suppressed_total'), sumSup, m.text);
    const v = await runCli(['audit', 'verify', '-c', d.configPath], { env });
    assert.equal(v.code, 0, `audit verify: exit ${v.code}\n${v.stdout}${v.stderr}`);
  });
});

describe('audit_retention', () => {
  let d;
  const db = () => `${d.dir}/hookgate.db`;

  before(async () => {
    d = await startDaemon({
      env,
      extra: { audit_window: '100ms', audit_retention: '1s' },
      sources: [{ name: 'old', provider: 'meta', secret_env: 'HG_E2E_AUDIT_SECRET' }],
    });
  });

  after(async () => {
    await d?.cleanup();
  });

  test('hookgate purge removes the old rows behind a checkpoint; verify starts there and still passes', async () => {
    for (let i = 0; i < 5; i++) {
      const r = await postSigned(d, 'old', '{"n":1}', { signature: `sha256=${'2'.repeat(64)}` });
      assert.equal(r.status, 401);
    }
    const sum = "select coalesce(sum(count), 0) from audit_log where event = 'bad_signature'";
    assert.ok(await waitFor(async () => (await sqlite(db(), sum)) === '5', { timeoutMs: 5000 }));
    const stopped = await d.signal('SIGTERM');
    assert.equal(stopped.code, 0);
    const rowsBefore = Number(await sqlite(db(), 'select count(*) from audit_log'));
    // Every row is older than audit_retention (1 s) once a little more than that has passed.
    await new Promise((resolve) => setTimeout(resolve, 1200));

    const p = await runCli(['purge', '-c', d.configPath]);
    assert.equal(p.code, 0, `${p.stdout}${p.stderr}`);
    const m = p.stdout.match(/purged audit rows older than \S+: (\d+) rows, behind a checkpoint row/);
    assert.ok(m, p.stdout);
    assert.equal(Number(m[1]), rowsBefore);
    assert.equal(
      await sqlite(db(), 'select event || \'|\' || count from audit_log'),
      `audit_checkpoint|${rowsBefore}`,
      'only the checkpoint is left, counting the rows it replaced',
    );

    const v = await runCli(['audit', 'verify', '-c', d.configPath], { env });
    assert.equal(v.code, 0, `${v.stdout}${v.stderr}`);
    assert.match(v.stdout, new RegExp(`audit log ok: 1 rows; rows 1 to ${rowsBefore} were removed by audit_retention`));
    // Only the checkpointed purge deletes: the checkpoint itself is not below one.
    await assert.rejects(sqlite(db(), 'delete from audit_log'), /append-only/);
  });
});
