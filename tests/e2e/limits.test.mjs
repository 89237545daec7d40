// limits.test.mjs — body size limits (Content-Length and chunked), and that
// a refused body stores nothing.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { UUID7_RE, postSigned, sign, sqlite, startDaemon, token } from './helpers.mjs';

const SECRET = token('small-secret');
const BIG_SECRET = token('big-secret');
const env = { HG_E2E_SMALL_SECRET: SECRET, HG_E2E_BIG_SECRET: BIG_SECRET };

// A JSON body of exactly `size` bytes carrying event id `id`.
function bodyOfSize(id, size) {
  const base = JSON.stringify({ id, pad: '' });
  assert.ok(size >= base.length);
  return JSON.stringify({ id, pad: 'x'.repeat(size - base.length) });
}

function split(str, chunkSize) {
  const out = [];
  for (let i = 0; i < str.length; i += chunkSize) out.push(str.slice(i, i + chunkSize));
  return out;
}

function assertAccepted(r, what) {
  assert.equal(r.status, 200, `${what}: expected 200, got ${r.status} ${r.text}`);
  assert.equal(r.json?.status, 'accepted', `${what}: expected accepted, got ${r.text}`);
  assert.match(r.json.id, UUID7_RE);
  return r.json.id;
}

describe('body limits', () => {
  let d;

  before(async () => {
    d = await startDaemon({
      env,
      sources: [
        // Dedupe on $.id so an oversized and a small body can be the same event.
        { name: 'small', provider: 'meta', secret_env: 'HG_E2E_SMALL_SECRET', dedupe: ['$.id'], max_body: '1k' },
        // No max_body: the default (1 MiB) applies.
        { name: 'big', provider: 'meta', secret_env: 'HG_E2E_BIG_SECRET', dedupe: ['$.id'] },
      ],
    });
  });

  after(async () => {
    await d?.cleanup();
  });

  test('a body under max_body is accepted (Content-Length and chunked)', async () => {
    const b1 = bodyOfSize(token('evt'), 900);
    assertAccepted(await postSigned(d, 'small', b1, { secret: SECRET }), 'content-length, 900 bytes');
    const b2 = bodyOfSize(token('evt'), 900);
    assertAccepted(await postSigned(d, 'small', b2, { secret: SECRET, chunks: split(b2, 100) }), 'chunked, 900 bytes');
  });

  test('a Content-Length body over max_body is 413 and stores nothing', async () => {
    const id = token('evt-big');
    const big = bodyOfSize(id, 1100);
    const r = await postSigned(d, 'small', big, { secret: SECRET });
    assert.equal(r.status, 413, `1100 bytes to a 1k source: expected 413, got ${r.status} ${r.text}`);
    const big2 = bodyOfSize(id, 8192);
    const r2 = await postSigned(d, 'small', big2, { secret: SECRET });
    assert.equal(r2.status, 413, `8 KiB to a 1k source: expected 413, got ${r2.status} ${r2.text}`);
    // The same event id in a small body is new: the refused ones were not stored.
    const first = assertAccepted(await postSigned(d, 'small', bodyOfSize(id, 200), { secret: SECRET }), 'small body, same $.id');
    const again = await postSigned(d, 'small', bodyOfSize(id, 300), { secret: SECRET });
    assert.equal(again.json?.status, 'duplicate', `same $.id again: ${again.text}`);
    assert.equal(again.json.id, first);
  });

  test('a chunked body (no Content-Length) over max_body is 413 and stores nothing', async () => {
    const id = token('evt-chunked');
    const big = bodyOfSize(id, 4096);
    const r = await postSigned(d, 'small', big, { secret: SECRET, chunks: split(big, 256) });
    assert.equal(r.status, 413, `4 KiB chunked to a 1k source: expected 413, got ${r.status} ${r.text}`);
    const just = bodyOfSize(id, 1100);
    const r2 = await postSigned(d, 'small', just, { secret: SECRET, chunks: split(just, 100) });
    assert.equal(r2.status, 413, `1100 bytes chunked to a 1k source: expected 413, got ${r2.status} ${r2.text}`);
    assertAccepted(await postSigned(d, 'small', bodyOfSize(id, 200), { secret: SECRET }), 'small body, same $.id');
  });

  test('the limit is per source: a body too big for one source fits another', async () => {
    const body = bodyOfSize(token('evt'), 4096);
    const small = await postSigned(d, 'small', body, { secret: SECRET });
    assert.equal(small.status, 413, `to small: ${small.status}`);
    assertAccepted(await postSigned(d, 'big', body, { secret: BIG_SECRET }), 'to big (default limit)');
  });

  test('the default limit is 1 MiB', async () => {
    const id = token('evt-mib');
    const over = bodyOfSize(id, (1 << 20) + 64 * 1024);
    // With Expect: 100-continue, as careful clients send large bodies: the
    // daemon may refuse by Content-Length before a byte of the body is sent
    // (it closes the connection right after its 413, so a client still
    // writing 1 MiB can see EPIPE/ECONNRESET instead of the answer).
    const r = await postSigned(d, 'big', over, { secret: BIG_SECRET, expectContinue: true });
    assert.equal(r.status, 413, `1.06 MiB with the default limit: expected 413, got ${r.status} ${r.text.slice(0, 200)}`);
    const under = bodyOfSize(id, 1000 * 1000 - 4096);
    assertAccepted(
      await postSigned(d, 'big', under, { secret: BIG_SECRET, expectContinue: true }),
      '~0.95 MiB with Expect: 100-continue, same $.id',
    );
    const under2 = bodyOfSize(token('evt-mib'), 1000 * 1000 - 4096);
    assertAccepted(await postSigned(d, 'big', under2, { secret: BIG_SECRET }), '~0.95 MiB without Expect');
  });

  test('the 413 answer does not echo the body; a right-sized body with a wrong signature is 401', async () => {
    const body = bodyOfSize(token('evt'), 4096);
    const r = await postSigned(d, 'small', body, { secret: SECRET });
    assert.equal(r.status, 413, `oversized: expected 413, got ${r.status}`);
    assert.ok(!r.text.includes('xxxxxxxx'), 'the 413 answer must not echo the body');
    const ok = bodyOfSize(token('evt'), 500);
    const r2 = await postSigned(d, 'small', ok, { signature: await sign(BIG_SECRET, ok) });
    assert.equal(r2.status, 401, `wrong secret: expected 401, got ${r2.status}`);
  });
});

describe('dedupe key limits (max_dedupe_keys)', () => {
  let d;
  const db = () => `${d.dir}/hookgate.db`;
  const idsBody = (prefix, n) => JSON.stringify({ ids: Array.from({ length: n }, (_, i) => `${prefix}-${i}`) });

  before(async () => {
    d = await startDaemon({
      env,
      sources: [
        // The default limit: 1000 keys per request.
        { name: 'many', provider: 'meta', secret_env: 'HG_E2E_SMALL_SECRET', dedupe: ['$.ids[*]'] },
        { name: 'few', provider: 'meta', secret_env: 'HG_E2E_SMALL_SECRET', dedupe: ['$.ids[*]'], max_dedupe_keys: 3 },
      ],
    });
  });

  after(async () => {
    await d?.cleanup();
  });

  test('1001 keys is 413 with a one-line JSON reason and stores nothing; 1000 keys is accepted', async () => {
    const prefix = token('k');
    const over = await postSigned(d, 'many', idsBody(prefix, 1001), { secret: SECRET });
    assert.equal(over.status, 413, `1001 keys: expected 413, got ${over.status} ${over.text}`);
    assert.match(over.text, /^\{"error":"[^"\n]*dedupe keys[^"\n]*"\}\n?$/);
    assert.equal(await sqlite(db(), "select count(*) from messages where source='many'"), '0');
    assert.equal(await sqlite(db(), `select count(*) from dedupe where key like '%${prefix}%'`), '0');
    // Exactly the limit goes through, and its keys are the refused body's
    // first 1000: they were not stored by the refusal.
    assertAccepted(await postSigned(d, 'many', idsBody(prefix, 1000), { secret: SECRET }), '1000 keys');
    assert.equal(await sqlite(db(), "select count(*) from messages where source='many'"), '1');
  });

  test('a source may lower the limit', async () => {
    const prefix = token('k');
    const over = await postSigned(d, 'few', idsBody(prefix, 4), { secret: SECRET });
    assert.equal(over.status, 413, `4 keys to a source of 3: expected 413, got ${over.status} ${over.text}`);
    assertAccepted(await postSigned(d, 'few', idsBody(prefix, 3), { secret: SECRET }), '3 keys');
  });
});
