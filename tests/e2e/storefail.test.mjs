// A store that cannot write: every request is answered 503 (never 200),
// /readyz says so, and nothing that was refused is later a "duplicate".
import { test, describe, after } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  HOST,
  ON_POSTGRES,
  makeTempDir,
  postSigned,
  removeDir,
  request,
  sqlite,
  startDaemon,
  token,
  waitFor,
} from './helpers.mjs';

describe('store failure', () => {
  const secret = token('secret');
  const dir = makeTempDir();
  const source = { name: 'whatsapp', provider: 'meta', secret_env: 'SF_SECRET' };
  const env = { SF_SECRET: secret };
  let d;
  after(async () => {
    if (d) await d.stop().catch(() => {});
    removeDir(dir);
  });

  test('writes past a file-size limit answer 503 and store nothing', async () => {
    // prlimit caps the size of any file the daemon writes: the SQLite file
    // and its WAL stop growing, as on a full disk.
    d = await startDaemon({ dir, sources: [source], env, wrap: ['prlimit', '--fsize=400000'] });
    const big = (i) => JSON.stringify({ id: `m${i}`, pad: 'x'.repeat(150000) });
    const codes = [];
    for (let i = 0; i < 6; i++) {
      const r = await postSigned(d, 'whatsapp', big(i), { secret });
      codes.push(r.status);
      if (r.status === 200) assert.equal(r.json.status, 'accepted');
      else assert.deepEqual(r.json, { error: 'store unavailable' });
    }
    assert.ok(codes.includes(503), `expected a 503 among ${codes}`);
    assert.ok(codes.every((c) => c === 200 || c === 503), `only 200 or 503: ${codes}`);
    const ready = await request(d, 'GET', '/readyz');
    assert.equal(ready.status, 503);
    // The store alert cannot be recorded in a store that refuses writes:
    // the node says so itself, in its log (warn) and in /metrics.
    await waitFor(
      () => d.logLines().some((l) => l.msg === 'alert firing' && l.rule === 'store'),
      { timeoutMs: 10000 },
    );
    const line = d.logLines().find((l) => l.msg === 'alert firing' && l.rule === 'store');
    assert.ok(line, `no store alert in the log:\n${d.stderr().slice(-3000)}`);
    assert.equal(line.level, 'warn');
    const metrics = await request(d, 'GET', '/metrics');
    assert.match(metrics.text, /^hookgate_alerts_firing\{rule="store",source=""\} 1$/m);
    await d.stop();

    // Restarted without the limit: each refused body is new, each accepted one a duplicate.
    d = await startDaemon({ dir, sources: [source], env });
    for (let i = 0; i < 6; i++) {
      const r = await postSigned(d, 'whatsapp', big(i), { secret });
      assert.equal(r.status, 200);
      const expect = codes[i] === 200 ? 'duplicate' : 'accepted';
      assert.equal(r.json.status, expect, `body ${i} was answered ${codes[i]} before`);
    }
  });

  // `rm var/hookgate.db*` while the daemon runs (SQLite only). What was in
  // the file is gone with it; the daemon must not acknowledge into the
  // removed file, and every part of it must move to the new file at the
  // path: the writer, the delivery engine and the API's readers.
  test('the store file removed while running: 503, then a fresh store every reader sees', { skip: ON_POSTGRES && 'the store is a PostgreSQL database' }, async () => {
    const sink = { got: new Set() };
    const server = http.createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        sink.got.add(req.headers['x-hookgate-message-id']);
        res.end('ok');
      });
    });
    await new Promise((resolve) => server.listen(0, HOST, resolve));
    const rdir = makeTempDir();
    const admin = token('admin');
    let rd;
    try {
      rd = await startDaemon({
        dir: rdir,
        sources: [{ ...source, routes: ['app'] }],
        env: { ...env, SF_ADMIN: admin },
        extra: `admin_token_env: SF_ADMIN\nendpoints:\n  - {name: app, url: "http://${HOST}:${server.address().port}/hook"}\n`,
      });
      const auth = { Authorization: `Bearer ${admin}` };
      const first = await postSigned(rd, 'whatsapp', JSON.stringify({ id: 'before' }), { secret });
      assert.equal(first.json?.status, 'accepted');
      assert.equal((await request(rd, 'GET', `/api/v1/messages/${first.json.id}`, { headers: auth })).status, 200);

      const db = path.join(rdir, 'hookgate.db');
      for (const s of ['', '-wal', '-shm']) rmSync(db + s, { force: true });
      const codes = [];
      const accepted = [];
      for (let i = 0; i < 50 && accepted.length < 3; i++) {
        const r = await postSigned(rd, 'whatsapp', JSON.stringify({ id: `after-${i}` }), { secret });
        codes.push(r.status);
        assert.ok(r.status === 503 || r.json?.status === 'accepted', `${r.status} ${r.text}`);
        if (r.status === 200) accepted.push(r.json.id);
        else await sleep(100);
      }
      assert.equal(codes[0], 503, `the first write after the removal: ${codes}`);
      assert.equal(accepted.length, 3, `accepted again after the removal: ${codes}`);
      const inFile = await sqlite(db, 'SELECT id FROM messages');
      for (const id of accepted) assert.ok(inFile.includes(id), `${id} was answered 200 but is not in ${db}`);
      assert.ok(await waitFor(() => accepted.every((id) => sink.got.has(id)), { timeoutMs: 10000 }), 'delivered from the new file');
      // The API's readers see the new file too (within their 1 s check).
      for (const id of accepted) {
        const seen = await waitFor(async () => (await request(rd, 'GET', `/api/v1/messages/${id}`, { headers: auth })).status === 200, { timeoutMs: 5000, intervalMs: 100 });
        assert.ok(seen, `GET /api/v1/messages/${id} after the store was re-created`);
      }
    } finally {
      await rd?.cleanup();
      server.close();
      removeDir(rdir);
    }
  });
});
