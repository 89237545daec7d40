// durability.test.mjs — an acknowledged event survives kill -9 and a clean
// SIGTERM shutdown: after a restart on the same store file, re-posting it
// answers "duplicate" with the id first acknowledged.

import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';

import { UUID7_RE, makeTempDir, pool, postSigned, removeDir, startDaemon, token } from './helpers.mjs';

const SECRET = token('dur-secret');
const env = { HG_E2E_DUR_SECRET: SECRET };
const sources = [{ name: 'events', provider: 'meta', secret_env: 'HG_E2E_DUR_SECRET' }];

function eventBody(wave, i) {
  return JSON.stringify({
    object: 'instagram',
    entry: [{ id: `${wave}-${i}`, time: 1700000000 + i, changes: [{ field: 'comments', value: { text: `${wave} event ${i}` } }] }],
  });
}

describe('durability', () => {
  const dirs = [];
  const daemons = [];

  after(async () => {
    for (const d of daemons) await d.cleanup();
    for (const dir of dirs) removeDir(dir);
  });

  test('kill -9 during a burst loses no acknowledged event', async (t) => {
    const dir = makeTempDir();
    dirs.push(dir);
    const run = token('run');
    const d1 = await startDaemon({ sources, env, dir });
    daemons.push(d1);

    // Wave 1: 200 distinct events, 16 at a time; every one must be acknowledged.
    const N = 200;
    const acked = new Map(); // body -> id
    const wave1 = Array.from({ length: N }, (_, i) => eventBody(`${run}-w1`, i));
    const failures1 = [];
    await pool(wave1, 16, async (body) => {
      const r = await postSigned(d1, 'events', body, { secret: SECRET });
      if (r.status === 200 && r.json?.status === 'accepted') acked.set(body, r.json.id);
      else failures1.push(`${r.status} ${r.text}`);
    });
    assert.deepEqual(failures1, [], 'every wave-1 event must be accepted');
    assert.equal(acked.size, N);
    assert.equal(new Set(acked.values()).size, N, 'ids must be distinct');
    for (const id of acked.values()) assert.match(id, UUID7_RE);

    // Wave 2: keep sending; kill -9 once some of this wave were acknowledged.
    const wave2 = Array.from({ length: 600 }, (_, i) => eventBody(`${run}-w2`, i));
    let acked2 = 0;
    let killed = null;
    const wrong2 = [];
    await pool(wave2, 16, async (body) => {
      try {
        const r = await postSigned(d1, 'events', body, { secret: SECRET });
        if (r.status === 200 && r.json?.status === 'accepted' && r.complete !== false) {
          acked.set(body, r.json.id);
          acked2 += 1;
          if (acked2 === 40 && !killed) killed = d1.kill9();
        } else if (r.status === 200) {
          wrong2.push(`${r.status} ${r.text}`);
        }
      } catch {
        // Connection refused/reset after the kill: fine, never acknowledged.
      }
    });
    assert.ok(killed, 'the daemon was killed during wave 2');
    const exit = await killed;
    assert.equal(exit.signal, 'SIGKILL');
    assert.deepEqual(wrong2, [], 'a 200 during wave 2 must be a complete "accepted" answer');
    assert.ok(acked2 >= 40 && acked2 < wave2.length, `acknowledged in wave 2: ${acked2}`);

    t.diagnostic(`acknowledged: ${N} in wave 1, ${acked2} of ${wave2.length} in wave 2 before/at the kill`);

    // Restart on the same store file; every acknowledged body must be a
    // duplicate of exactly the id first acknowledged.
    const d2 = await startDaemon({ sources, env, dir });
    daemons.push(d2);
    const lost = [];
    await pool([...acked.entries()], 16, async ([body, id]) => {
      const r = await postSigned(d2, 'events', body, { secret: SECRET });
      if (!(r.status === 200 && r.json?.status === 'duplicate' && r.json.id === id)) {
        lost.push(`${JSON.parse(body).entry[0].id}: acknowledged as ${id}, after restart got ${r.status} ${r.text}`);
      }
    });
    assert.equal(lost.length, 0, `acknowledged events lost or changed after kill -9 (${lost.length} of ${acked.size}):\n${lost.slice(0, 10).join('\n')}`);

    // The restarted daemon still takes new events.
    const fresh = await postSigned(d2, 'events', eventBody(`${run}-after`, 0), { secret: SECRET });
    assert.equal(fresh.json?.status, 'accepted', `new event after restart: ${fresh.status} ${fresh.text}`);
    const st = await d2.stop();
    assert.equal(st.code, 0, `exit after SIGTERM: ${JSON.stringify(st)}\n${d2.stderr()}`);
  });

  test('SIGTERM: clean exit 0, and a restart finds the accepted events', async () => {
    const dir = makeTempDir();
    dirs.push(dir);
    const run = token('term');
    const d1 = await startDaemon({ sources, env, dir });
    daemons.push(d1);
    const ids = new Map();
    for (let i = 0; i < 5; i++) {
      const body = eventBody(run, i);
      const r = await postSigned(d1, 'events', body, { secret: SECRET });
      assert.equal(r.json?.status, 'accepted', `event ${i}: ${r.status} ${r.text}`);
      ids.set(body, r.json.id);
    }
    const st = await d1.stop({ timeoutMs: 10000 });
    assert.equal(st.timedOut, false, `no exit within 10 s of SIGTERM\n${d1.stderr()}`);
    assert.equal(st.signal, null, `killed by a signal: ${JSON.stringify(st)}\n${d1.stderr()}`);
    assert.equal(st.code, 0, `exit code after SIGTERM: ${JSON.stringify(st)}\n${d1.stderr()}`);

    const d2 = await startDaemon({ sources, env, dir });
    daemons.push(d2);
    for (const [body, id] of ids) {
      const r = await postSigned(d2, 'events', body, { secret: SECRET });
      assert.equal(r.status, 200, `re-post: ${r.status} ${r.text}`);
      assert.equal(r.json?.status, 'duplicate', `re-post after restart: ${r.text}`);
      assert.equal(r.json.id, id);
    }
    const st2 = await d2.stop();
    assert.equal(st2.code, 0, `second daemon exit: ${JSON.stringify(st2)}`);
  });

  test('SIGTERM during a burst: exit 0, and every acknowledged event survives', async (t) => {
    const dir = makeTempDir();
    dirs.push(dir);
    const run = token('term-burst');
    const d1 = await startDaemon({ sources, env, dir });
    daemons.push(d1);
    const acked = new Map();
    let stopping = null;
    const bodies = Array.from({ length: 400 }, (_, i) => eventBody(run, i));
    await pool(bodies, 16, async (body) => {
      try {
        const r = await postSigned(d1, 'events', body, { secret: SECRET });
        if (r.status === 200 && r.json?.status === 'accepted') {
          acked.set(body, r.json.id);
          if (acked.size === 50 && !stopping) stopping = d1.stop({ timeoutMs: 10000 });
        }
      } catch {
        // refused or reset once the daemon stopped listening: never acknowledged
      }
    });
    assert.ok(stopping, 'SIGTERM was sent during the burst');
    const st = await stopping;
    assert.equal(st.timedOut, false, `no exit within 10 s of SIGTERM\n${d1.stderr()}`);
    assert.equal(st.code, 0, `exit after SIGTERM under load: ${JSON.stringify(st)}\n${d1.stderr()}`);
    t.diagnostic(`acknowledged ${acked.size} of ${bodies.length}`);

    const d2 = await startDaemon({ sources, env, dir });
    daemons.push(d2);
    const lost = [];
    await pool([...acked.entries()], 16, async ([body, id]) => {
      const r = await postSigned(d2, 'events', body, { secret: SECRET });
      if (!(r.status === 200 && r.json?.status === 'duplicate' && r.json.id === id)) {
        lost.push(`acknowledged as ${id}, after restart got ${r.status} ${r.text}`);
      }
    });
    assert.equal(lost.length, 0, `acknowledged events lost after SIGTERM:\n${lost.slice(0, 10).join('\n')}`);
  });

  test('SIGINT also shuts down cleanly', async () => {
    const d = await startDaemon({ sources, env });
    daemons.push(d);
    const r = await postSigned(d, 'events', eventBody(token('int'), 0), { secret: SECRET });
    assert.equal(r.json?.status, 'accepted');
    const st = await d.signal('SIGINT', { timeoutMs: 10000 });
    assert.equal(st.timedOut, false, `no exit within 10 s of SIGINT\n${d.stderr()}`);
    assert.equal(st.code, 0, `exit after SIGINT: ${JSON.stringify(st)}\n${d.stderr()}`);
  });
});
