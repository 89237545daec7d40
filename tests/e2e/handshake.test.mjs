// handshake.test.mjs — Meta's GET hub.challenge handshake and the probes.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { request, startDaemon, token } from './helpers.mjs';

const VERIFY = token('verify-token');
const env = {
  HG_E2E_WA_SECRET: token('wa-secret'),
  HG_E2E_WA_VERIFY: VERIFY,
  HG_E2E_IG_SECRET: token('ig-secret'),
};

function hub(source, { mode = 'subscribe', verifyToken, challenge } = {}) {
  const q = new URLSearchParams();
  if (mode !== undefined) q.set('hub.mode', mode);
  if (verifyToken !== undefined) q.set('hub.verify_token', verifyToken);
  if (challenge !== undefined) q.set('hub.challenge', challenge);
  return `/in/${source}?${q.toString()}`;
}

describe('Meta verification handshake (GET /in/{source})', () => {
  let d;

  before(async () => {
    d = await startDaemon({
      env,
      sources: [
        {
          name: 'whatsapp',
          provider: 'meta',
          secret_env: 'HG_E2E_WA_SECRET',
          verify_token_env: 'HG_E2E_WA_VERIFY',
        },
        // No verify token configured: the handshake must never succeed here.
        { name: 'instagram', provider: 'meta', secret_env: 'HG_E2E_IG_SECRET' },
      ],
    });
  });

  after(async () => {
    await d?.cleanup();
  });

  test('the right token echoes the challenge as text/plain, byte for byte', async () => {
    for (const challenge of ['1158201444', 'CHALLENGE_ACCEPTED', 'a1b2-c3d4_e5']) {
      const r = await request(d, 'GET', hub('whatsapp', { verifyToken: VERIFY, challenge }));
      assert.equal(r.status, 200, `challenge ${challenge}: got ${r.status} ${r.text}`);
      assert.match(String(r.headers['content-type']), /^text\/plain/, 'content-type');
      assert.equal(r.text, challenge, 'body must be exactly the challenge');
    }
  });

  test('query parameters in another order work too', async () => {
    const r = await request(
      d,
      'GET',
      `/in/whatsapp?hub.challenge=987654321&hub.verify_token=${encodeURIComponent(VERIFY)}&hub.mode=subscribe`,
    );
    assert.equal(r.status, 200, `got ${r.status} ${r.text}`);
    assert.equal(r.text, '987654321');
  });

  test('a wrong, missing or partial token is 403 and does not echo the challenge', async () => {
    const cases = {
      wrong: 'not-the-token',
      missing: undefined,
      empty: '',
      prefix: VERIFY.slice(0, -1),
      longer: VERIFY + 'x',
      'other case': VERIFY.toUpperCase(),
    };
    for (const [name, verifyToken] of Object.entries(cases)) {
      const challenge = token('challenge');
      const r = await request(d, 'GET', hub('whatsapp', { verifyToken, challenge }));
      assert.equal(r.status, 403, `${name} token: expected 403, got ${r.status} ${r.text}`);
      assert.ok(!r.text.includes(challenge), `${name} token: the challenge must not be echoed`);
    }
  });

  test('a source without a verify token refuses every handshake', async () => {
    for (const verifyToken of ['', VERIFY, 'anything']) {
      const r = await request(d, 'GET', hub('instagram', { verifyToken, challenge: 'c-none' }));
      assert.equal(r.status, 403, `token "${verifyToken}": expected 403, got ${r.status} ${r.text}`);
    }
  });

  test('a handshake on an unknown source is 404', async () => {
    const r = await request(d, 'GET', hub('nope', { verifyToken: VERIFY, challenge: 'c' }));
    assert.equal(r.status, 404, `got ${r.status} ${r.text}`);
  });

  test('GET /healthz and GET /readyz answer 200', async () => {
    const h = await request(d, 'GET', '/healthz');
    assert.equal(h.status, 200, `healthz: ${h.status} ${h.text}`);
    const r = await request(d, 'GET', '/readyz');
    assert.equal(r.status, 200, `readyz: ${r.status} ${r.text}`);
  });

  test('the verify token and secrets never appear in the log', async () => {
    const log = d.stderr();
    assert.ok(log.length > 0, 'the daemon logs something');
    assert.ok(!log.includes(VERIFY), 'the log contains the verify token');
    assert.ok(!log.includes(env.HG_E2E_WA_SECRET), 'the log contains a secret');
    assert.ok(!log.includes(env.HG_E2E_IG_SECRET), 'the log contains a secret');
  });
});
