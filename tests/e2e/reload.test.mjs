// reload.test.mjs — live reload (SIGHUP and `hookgate reload -c FILE`)
// while a load runs: a source added, a source removed, a secret rotated
// through secret_file, an endpoint's URL changed; a broken file refused with
// the old config still serving; an audit row for each outcome; and not one
// request of the load refused or dropped across the reloads.
//
// Network: the daemon and both sinks listen on 127.0.0.1.

import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';

import { HOST, makeTempDir, postSigned, removeDir, runCli, sqlite, startDaemon, token, waitFor } from './helpers.mjs';

const STABLE = token('stable-secret');
const FRESH = token('fresh-secret');
const GONE = token('gone-secret');
const ROT_OLD = token('rot-old');
const ROT_NEW = token('rot-new');
const env = { HG_RL_STABLE: STABLE, HG_RL_FRESH: FRESH, HG_RL_GONE: GONE };

function startSink() {
  const bodies = [];
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      bodies.push(Buffer.concat(chunks).toString('utf8'));
      res.writeHead(200);
      res.end('ok');
    });
  });
  return new Promise((resolve) =>
    server.listen(0, HOST, () =>
      resolve({
        url: `http://${HOST}:${server.address().port}/hook`,
        bodies,
        close() {
          server.closeAllConnections();
          server.close();
        },
      }),
    ),
  );
}

// The config after its first two lines (listen, store), as YAML text.
function body({ sinkUrl, rotFile, sources }) {
  const src = {
    stable: ['  - name: stable', '    provider: meta', '    secret_env: HG_RL_STABLE', '    dedupe: ["$.id"]', '    routes: [app]'],
    rot: ['  - name: rot', '    provider: meta', `    secret_file: ${rotFile}`, '    dedupe: ["$.id"]'],
    gone: ['  - name: gone', '    provider: meta', '    secret_env: HG_RL_GONE'],
    fresh: ['  - name: fresh', '    provider: meta', '    secret_env: HG_RL_FRESH'],
  };
  return [
    'audit_window: 100ms',
    'endpoints:',
    '  - name: app',
    `    url: ${sinkUrl}`,
    '    retry: {schedule: [0s, 200ms, 200ms]}',
    'sources:',
    ...sources.flatMap((s) => src[s]),
    '',
  ].join('\n');
}

describe('live reload', () => {
  let d, dir, sinkA, sinkB, rotFile, head;

  const rewrite = (text) => writeFileSync(d.configPath, `${head}\n${text}`);
  const reloads = () => d.logLines().filter((l) => l.msg === 'config reloaded').length;
  const refusals = () => d.logLines().filter((l) => l.msg === 'config reload refused; the running config stays').length;
  const post = (source, secret, id = token('evt')) =>
    postSigned(d, source, JSON.stringify({ id }), { secret });

  before(async () => {
    sinkA = await startSink();
    sinkB = await startSink();
    dir = makeTempDir();
    rotFile = path.join(dir, 'rot.secret');
    writeFileSync(rotFile, ROT_OLD);
    d = await startDaemon({ dir, env, extra: body({ sinkUrl: sinkA.url, rotFile, sources: ['stable', 'rot', 'gone'] }) });
    head = readFileSync(d.configPath, 'utf8').split('\n').slice(0, 2).join('\n');
  });

  after(async () => {
    await d?.cleanup();
    if (dir) removeDir(dir);
    sinkA?.close();
    sinkB?.close();
  });

  test('sources, a rotated secret_file and an endpoint URL change under load, with nothing refused or dropped', async () => {
    const first = await post('stable', STABLE);
    assert.equal(first.status, 200, first.text);
    assert.equal((await post('gone', GONE)).status, 200);
    assert.equal((await post('rot', ROT_OLD)).status, 200);
    assert.equal((await post('fresh', FRESH)).status, 404, 'not configured yet');
    await waitFor(() => sinkA.bodies.length >= 1, { timeoutMs: 5000 });

    // The load: four clients posting new events to the stable source for as
    // long as the reloads take.
    const results = [];
    let running = true;
    const client = async () => {
      while (running) {
        const r = await post('stable', STABLE).catch((e) => ({ status: 0, text: e.message }));
        results.push(r);
      }
    };
    const load = Promise.all([client(), client(), client(), client()]);
    await waitFor(() => results.length >= 20, { timeoutMs: 10000 });

    // Reload 1: fresh added, gone removed, rot's secret rotated in its
    // file, app moved to sink B; through `hookgate reload -c FILE`.
    writeFileSync(rotFile, ROT_NEW);
    rewrite(body({ sinkUrl: sinkB.url, rotFile, sources: ['stable', 'rot', 'fresh'] }));
    const cli = await runCli(['reload', '-c', d.configPath]);
    assert.equal(cli.code, 0, cli.stderr);
    assert.match(cli.stdout, new RegExp(`sent SIGHUP to hookgate \\(pid ${d.proc.pid}\\)`));
    await waitFor(() => reloads() === 1, { timeoutMs: 5000 });
    const mark = results.length;
    await waitFor(() => results.length >= mark + 20, { timeoutMs: 10000 });

    // Reload 2: a broken file is refused whole; the running config stays.
    rewrite('sources:\n  - name: stable\n    provider: no-such-provider\n');
    d.proc.kill('SIGHUP');
    await waitFor(() => refusals() === 1, { timeoutMs: 5000 });
    const mark2 = results.length;
    await waitFor(() => results.length >= mark2 + 20, { timeoutMs: 10000 });
    running = false;
    await load;

    const bad = results.filter((r) => r.status !== 200 || r.json?.status !== 'accepted');
    assert.equal(bad.length, 0, `refused or dropped during the reloads: ${bad.slice(0, 3).map((r) => `${r.status} ${r.text}`).join('; ')}`);
    assert.ok(results.length >= 60);

    // What reload 1 changed holds (and reload 2 changed nothing).
    assert.equal((await post('fresh', FRESH)).status, 200, 'the added source');
    const goneNow = await post('gone', GONE);
    assert.equal(goneNow.status, 404, `the removed source: ${goneNow.text}`);
    assert.equal((await post('rot', ROT_NEW)).status, 200, 'the new secret from the file');
    assert.equal((await post('rot', ROT_OLD)).status, 401, 'the old secret');
    const id = token('to-b');
    assert.equal((await post('stable', STABLE, id)).status, 200);
    await waitFor(() => sinkB.bodies.some((b) => b.includes(id)), { timeoutMs: 10000 });
    assert.ok(!sinkA.bodies.some((b) => b.includes(id)), 'the old URL gets nothing new');
    // Every accepted event of the load reached one of the sinks: none was
    // lost when the endpoint moved.
    const ids = results.map((r) => r.json.id);
    assert.equal(new Set(ids).size, ids.length);
    await waitFor(() => sinkA.bodies.length + sinkB.bodies.length >= results.length + 1, { timeoutMs: 20000 });

    // The broken file through the CLI: refused before anything is sent.
    const cliBad = await runCli(['reload', '-c', d.configPath]);
    assert.equal(cliBad.code, 2, cliBad.stdout);
    assert.match(cliBad.stderr, /no-such-provider/);
    assert.match(cliBad.stderr, /nothing sent/);
    assert.equal(refusals(), 1);

    // An audit row for each outcome (the refusal names the problem).
    const dbFile = path.join(d.dir, 'hookgate.db');
    const rows = async () =>
      (await sqlite(dbFile, "select event || '|' || coalesce(reason, '') from audit_log where event like 'config_%' order by seq")).split('\n');
    await waitFor(async () => (await rows()).filter((r) => r.startsWith('config_reload')).length >= 2, { timeoutMs: 5000 });
    const audit = await rows();
    assert.equal(audit.filter((r) => r.startsWith('config_reloaded|')).length, 1, audit.join('\n'));
    const failed = audit.filter((r) => r.startsWith('config_reload_failed|'));
    assert.equal(failed.length, 1, audit.join('\n'));
    assert.match(failed[0], /no-such-provider/);
  });

  test('a reload says which changes need a restart', async () => {
    const text = body({ sinkUrl: sinkB.url, rotFile, sources: ['stable'] });
    writeFileSync(d.configPath, `listen: 127.0.0.1:1\n${head.split('\n')[1]}\nmax_connections: 7\n${text}`);
    d.proc.kill('SIGHUP');
    await waitFor(() => reloads() === 2, { timeoutMs: 5000 });
    const line = d.logLines().filter((l) => l.msg === 'config reloaded').pop();
    assert.match(line.needs_restart, /listen/);
    assert.match(line.needs_restart, /max_connections/);
    assert.equal((await post('stable', STABLE)).status, 200, 'still serving on the old address');
  });

  test('a reload that removes an endpoint keeps its queued deliveries, and says how many', async () => {
    // app points at a port where nothing listens, with a long retry: what
    // is posted now stays queued for it.
    const closed = `http://${HOST}:1/hook`;
    const withApp = (url) =>
      [
        'endpoints:',
        '  - name: app',
        `    url: ${url}`,
        '    retry: {schedule: [0s, 1h]}',
        'sources:',
        '  - name: stable',
        '    provider: meta',
        '    secret_env: HG_RL_STABLE',
        '    routes: [app]',
        '',
      ].join('\n');
    writeFileSync(d.configPath, `${head}\n${withApp(closed)}`);
    d.proc.kill('SIGHUP');
    await waitFor(() => reloads() === 3, { timeoutMs: 5000 });
    for (let i = 0; i < 3; i++) assert.equal((await post('stable', STABLE)).status, 200);
    const dbFile = path.join(d.dir, 'hookgate.db');
    const queued = async () =>
      Number(await sqlite(dbFile, "select count(*) from deliveries where endpoint = 'app' and status in ('pending', 'failed')"));
    await waitFor(async () => (await queued()) >= 3, { timeoutMs: 10000 });

    // The endpoint (and the route to it) removed.
    writeFileSync(d.configPath, `${head}\nsources:\n  - name: stable\n    provider: meta\n    secret_env: HG_RL_STABLE\n`);
    d.proc.kill('SIGHUP');
    await waitFor(() => d.logLines().some((l) => l.msg?.startsWith('reload removed an endpoint')), { timeoutMs: 10000 });
    const line = d.logLines().find((l) => l.msg?.startsWith('reload removed an endpoint'));
    assert.equal(line.endpoint, 'app');
    assert.ok(line.queued >= 3, JSON.stringify(line));
    assert.ok((await queued()) >= 3, 'still queued, not dropped');
    assert.equal((await post('stable', STABLE)).status, 200, 'the source still takes events');
  });
});
