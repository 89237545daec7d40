// A store that cannot write: every request is answered 503 (never 200),
// /readyz says so, and nothing that was refused is later a "duplicate".
import { test, describe, after } from 'node:test';
import assert from 'node:assert/strict';
import { startDaemon, postSigned, request, makeTempDir, removeDir, token } from './helpers.mjs';

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
});
