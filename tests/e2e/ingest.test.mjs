// ingest.test.mjs — POST /in/{source}: signatures on the raw bytes, rotation,
// dedupe (body SHA-256, WhatsApp batch ids, GitHub delivery ids), rejected
// requests storing nothing, and the request log.

import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { after, before, describe, test } from 'node:test';

import {
  UUID7_RE,
  postSigned,
  request,
  sign,
  startDaemon,
  token,
  waitFor,
  whatsappBody,
} from './helpers.mjs';

// Everything secret or private in this file; none of it may reach the log.
const SECRETS = {
  HG_E2E_IG_SECRET: token('ig-secret'),
  HG_E2E_WA_SECRET: token('wa-secret'),
  HG_E2E_WA_VERIFY: token('wa-verify'),
  HG_E2E_OLD_SECRET: token('old-secret'),
  HG_E2E_NEW_SECRET: token('new-secret'),
  HG_E2E_GH_SECRET: token('gh-secret'),
  HG_E2E_ZOHO_SECRET: token('zoho-secret'),
  HG_E2E_VECTOR_SECRET: 'meta-app-secret',
  HG_E2E_LOG_SECRET: token('log-secret'),
};
// A string put into the text of every body; the log must never show it.
const MARKER = token('body-marker');

const IG = SECRETS.HG_E2E_IG_SECRET;
const WA = SECRETS.HG_E2E_WA_SECRET;

const sources = [
  { name: 'instagram', provider: 'meta', secret_env: 'HG_E2E_IG_SECRET' },
  {
    name: 'whatsapp',
    provider: 'meta',
    secret_env: 'HG_E2E_WA_SECRET',
    verify_token_env: 'HG_E2E_WA_VERIFY',
    dedupe: [
      '$.entry[*].changes[*].value.messages[*].id',
      '$.entry[*].changes[*].value.statuses[*].id',
    ],
  },
  { name: 'rotating', provider: 'meta', secret_env: ['HG_E2E_OLD_SECRET', 'HG_E2E_NEW_SECRET'] },
  { name: 'vector', provider: 'meta', secret_env: 'HG_E2E_VECTOR_SECRET' },
  { name: 'gh', provider: 'github', secret_env: 'HG_E2E_GH_SECRET' },
  {
    name: 'zoho-crm',
    provider: 'hmac',
    header: 'x-zoho-webhook-signature',
    algorithm: 'sha256',
    encoding: 'hex',
    secret_env: 'HG_E2E_ZOHO_SECRET',
  },
  { name: 'logged', provider: 'meta', secret_env: 'HG_E2E_LOG_SECRET' },
];

// The Meta test vector of docs/providers.md: literal \u00e9 escape, as Meta sends it.
const ESCAPED_VECTOR =
  '{"object":"instagram","entry":[{"id":"1","time":1700000000,"changes":[{"field":"mentions","value":{"text":"caf\\u00e9"}}]}]}';
// The same shape with an escaped slash too.
const ESCAPED_SLASH =
  '{"object":"instagram","entry":[{"id":"2","time":1700000001,"changes":[{"field":"mentions","value":{"text":"caf\\u00e9 \\u2764 ' +
  MARKER +
  '","link":"https:\\/\\/www.instagram.com\\/p\\/abc\\/"}}]}]}';

let n = 0;
function igBody(extra = {}) {
  n += 1;
  return JSON.stringify({
    object: 'instagram',
    entry: [
      {
        id: '17841400000000000',
        time: 1700000000 + n,
        changes: [{ field: 'comments', value: { id: `c-${n}`, text: `comment ${n} ${MARKER}`, ...extra } }],
      },
    ],
  });
}

function assertAccepted(r, what) {
  assert.equal(r.status, 200, `${what}: expected 200, got ${r.status} ${r.text}`);
  assert.match(String(r.headers['content-type']), /^application\/json/, `${what}: content-type`);
  assert.equal(r.json?.status, 'accepted', `${what}: expected accepted, got ${r.text}`);
  assert.match(r.json.id, UUID7_RE, `${what}: id must be a UUIDv7, got ${r.json.id}`);
  return r.json.id;
}

function assertDuplicate(r, firstId, what) {
  assert.equal(r.status, 200, `${what}: expected 200, got ${r.status} ${r.text}`);
  assert.equal(r.json?.status, 'duplicate', `${what}: expected duplicate, got ${r.text}`);
  assert.equal(r.json.id, firstId, `${what}: duplicate must name the first id`);
}

function assertUnauthorized(r, what) {
  assert.equal(r.status, 401, `${what}: expected 401, got ${r.status} ${r.text}`);
  assert.equal(typeof r.json?.error, 'string', `${what}: 401 body must be JSON with "error", got ${r.text}`);
  assert.ok(r.json.error.length > 0, `${what}: empty error`);
}

describe('ingest: POST /in/{source}', () => {
  let d;

  before(async () => {
    d = await startDaemon({ sources, env: SECRETS });
  });

  after(async () => {
    await d?.cleanup();
  });

  test('a validly signed event is accepted with a UUIDv7 id; ids are time-ordered', async () => {
    const a = assertAccepted(await postSigned(d, 'instagram', igBody(), { secret: IG }), 'first');
    const b = assertAccepted(await postSigned(d, 'instagram', igBody(), { secret: IG }), 'second');
    assert.notEqual(a, b);
    assert.ok(b > a, `UUIDv7 ids must increase: ${a} then ${b}`);
  });

  test('without dedupe paths: same bytes twice are a duplicate, different bytes are not', async () => {
    const body = igBody();
    const first = assertAccepted(await postSigned(d, 'instagram', body, { secret: IG }), 'first');
    assertDuplicate(await postSigned(d, 'instagram', body, { secret: IG }), first, 'same bytes again');
    assertDuplicate(await postSigned(d, 'instagram', body, { secret: IG }), first, 'same bytes a third time');
    // One byte more (a trailing space) is another body.
    const other = assertAccepted(await postSigned(d, 'instagram', body + ' ', { secret: IG }), 'trailing space');
    assert.notEqual(other, first);
  });

  test('the same event posted 16 times at once is accepted once; the others name its id', async () => {
    const body = igBody();
    const rs = await Promise.all(Array.from({ length: 16 }, () => postSigned(d, 'instagram', body, { secret: IG })));
    for (const r of rs) assert.equal(r.status, 200, `${r.status} ${r.text}`);
    const accepted = rs.filter((r) => r.json?.status === 'accepted');
    assert.equal(accepted.length, 1, `exactly one accepted, got: ${rs.map((r) => r.text).join(' ')}`);
    const id = accepted[0].json.id;
    for (const r of rs) if (r !== accepted[0]) assertDuplicate(r, id, 'concurrent copy');
  });

  test('WhatsApp: concurrent retransmissions of one message id (different bytes) are accepted once', async () => {
    const mid = `wamid.${token('race')}`;
    const bodies = Array.from({ length: 12 }, (_, i) =>
      whatsappBody({ messages: [{ id: mid, timestamp: 1700000000 + i }], marker: MARKER }),
    );
    const rs = await Promise.all(bodies.map((b) => postSigned(d, 'whatsapp', b, { secret: WA })));
    for (const r of rs) assert.equal(r.status, 200, `${r.status} ${r.text}`);
    const accepted = rs.filter((r) => r.json?.status === 'accepted');
    assert.equal(accepted.length, 1, `exactly one accepted, got: ${rs.map((r) => r.text).join(' ')}`);
    for (const r of rs) if (r !== accepted[0]) assertDuplicate(r, accepted[0].json.id, 'concurrent retransmission');
  });

  test('missing, malformed or wrong signatures are 401 and store nothing', async () => {
    const body = igBody();
    assertUnauthorized(await postSigned(d, 'instagram', body), 'no signature header');
    assertUnauthorized(await postSigned(d, 'instagram', body, { signature: '' }), 'empty header');
    assertUnauthorized(await postSigned(d, 'instagram', body, { signature: 'sha256=' }), 'empty hex');
    assertUnauthorized(await postSigned(d, 'instagram', body, { signature: 'sha256=zz' + 'a'.repeat(62) }), 'non-hex');
    const good = await sign(IG, body);
    assertUnauthorized(await postSigned(d, 'instagram', body, { signature: good.slice(7) }), 'hex without sha256= prefix');
    assertUnauthorized(await postSigned(d, 'instagram', body, { signature: good.slice(0, -2) }), 'truncated');
    const flipped = good.slice(0, -1) + (good.endsWith('0') ? '1' : '0');
    assertUnauthorized(await postSigned(d, 'instagram', body, { signature: flipped }), 'last nibble changed');
    assertUnauthorized(await postSigned(d, 'instagram', body, { secret: WA }), "another source's secret");
    assertUnauthorized(await postSigned(d, 'instagram', body, { signature: await sign(IG, body + ' ') }), 'signature of other bytes');
    // Nothing of the above was stored: the valid request is new, not a duplicate.
    const id = assertAccepted(await postSigned(d, 'instagram', body, { secret: IG }), 'valid after the rejections');
    assertDuplicate(await postSigned(d, 'instagram', body, { secret: IG }), id, 'valid again');
  });

  test('hex signatures are compared case-insensitively', async () => {
    const body = igBody();
    const sig = await sign(IG, body);
    const upper = 'sha256=' + sig.slice(7).toUpperCase();
    assertAccepted(await postSigned(d, 'instagram', body, { signature: upper }), 'upper-case hex');
  });

  test('unknown source is 404 and stores nothing', async () => {
    const body = igBody();
    const r = await postSigned(d, 'no-such-source', body, { secret: IG });
    assert.equal(r.status, 404, `unknown source: expected 404, got ${r.status} ${r.text}`);
    const r2 = await request(d, 'POST', '/in/', { body, headers: { 'Content-Type': 'application/json' } });
    assert.equal(r2.status, 404, `empty source name: expected 404, got ${r2.status}`);
    assertAccepted(await postSigned(d, 'instagram', body, { secret: IG }), 'same body to a real source');
  });

  test('the docs/providers.md Meta vector (escaped \\u00e9) is accepted over its raw bytes', async () => {
    const sig = await sign('meta-app-secret', ESCAPED_VECTOR);
    assert.equal(sig, 'sha256=0debdd3b062686b00322dcd7d5958181922bb91cba099e83f3f002916e34b463');
    // Re-serialising changes the bytes: the original signature must not pass.
    const reserialized = JSON.stringify(JSON.parse(ESCAPED_VECTOR));
    assert.notEqual(reserialized, ESCAPED_VECTOR);
    assertUnauthorized(await postSigned(d, 'vector', reserialized, { signature: sig }), 're-serialized body, original signature');
    const id = assertAccepted(await postSigned(d, 'vector', ESCAPED_VECTOR, { signature: sig }), 'raw escaped bytes');
    assertDuplicate(await postSigned(d, 'vector', ESCAPED_VECTOR, { signature: sig }), id, 'raw escaped bytes again');
  });

  test('escaped unicode and escaped slashes: raw bytes verify, re-serialized bytes do not', async () => {
    assert.ok(ESCAPED_SLASH.includes('\\u00e9') && ESCAPED_SLASH.includes('\\/'));
    const sig = await sign(IG, ESCAPED_SLASH);
    const reserialized = JSON.stringify(JSON.parse(ESCAPED_SLASH));
    assert.ok(reserialized.includes('café') && reserialized.includes('https://'));
    assertUnauthorized(await postSigned(d, 'instagram', reserialized, { signature: sig }), 're-serialized, original signature');
    const id = assertAccepted(await postSigned(d, 'instagram', ESCAPED_SLASH, { signature: sig }), 'raw bytes');
    assertDuplicate(await postSigned(d, 'instagram', ESCAPED_SLASH, { secret: IG }), id, 'raw bytes again');
    // The re-serialized text, signed over its own (UTF-8) bytes, is simply another body.
    const other = assertAccepted(await postSigned(d, 'instagram', reserialized, { secret: IG }), 're-serialized, own signature');
    assert.notEqual(other, id);
  });

  test('secret rotation: either configured secret passes, a third does not', async () => {
    const OLD = SECRETS.HG_E2E_OLD_SECRET;
    const NEW = SECRETS.HG_E2E_NEW_SECRET;
    const b1 = igBody();
    const b2 = igBody();
    const b3 = igBody();
    const idOld = assertAccepted(await postSigned(d, 'rotating', b1, { secret: OLD }), 'old secret');
    const idNew = assertAccepted(await postSigned(d, 'rotating', b2, { secret: NEW }), 'new secret');
    assert.notEqual(idOld, idNew);
    assertUnauthorized(await postSigned(d, 'rotating', b3, { secret: token('third') }), 'third secret');
    assertUnauthorized(await postSigned(d, 'rotating', b3, { secret: IG }), "another source's secret");
    assertAccepted(await postSigned(d, 'rotating', b3, { secret: NEW }), 'the rejected body, now signed with the new secret');
    // The same event signed with the other secret is still the same event.
    assertDuplicate(await postSigned(d, 'rotating', b1, { secret: NEW }), idOld, 'old body re-signed with the new secret');
  });

  test('WhatsApp: a retransmitted message id is a duplicate even when other bytes differ', async () => {
    const mid = `wamid.${token('m')}`;
    const first = whatsappBody({ messages: [{ id: mid, timestamp: 1700000000 }], marker: MARKER });
    const id1 = assertAccepted(await postSigned(d, 'whatsapp', first, { secret: WA }), 'first delivery');
    const retry = whatsappBody({ messages: [{ id: mid, timestamp: 1700000099 }], marker: MARKER });
    assert.notEqual(retry, first);
    assertDuplicate(await postSigned(d, 'whatsapp', retry, { secret: WA }), id1, 'retransmission, new timestamp');
    assertDuplicate(await postSigned(d, 'whatsapp', first, { secret: WA }), id1, 'retransmission, same bytes');
  });

  test('WhatsApp: a batch with one seen and one new message id is accepted', async () => {
    const seen = `wamid.${token('seen')}`;
    const fresh = `wamid.${token('new')}`;
    const id1 = assertAccepted(
      await postSigned(d, 'whatsapp', whatsappBody({ messages: [{ id: seen }], marker: MARKER }), { secret: WA }),
      'first message',
    );
    const batch = whatsappBody({ messages: [{ id: seen }, { id: fresh }], marker: MARKER });
    const id2 = assertAccepted(await postSigned(d, 'whatsapp', batch, { secret: WA }), 'batch seen+new');
    assert.notEqual(id2, id1);
    // Every key of the batch is now known: the batch again is a duplicate (of
    // one of the two messages that brought its ids), and the new id alone is a
    // duplicate of the batch that brought it.
    const again = await postSigned(d, 'whatsapp', batch, { secret: WA });
    assert.equal(again.json?.status, 'duplicate', `batch again: ${again.status} ${again.text}`);
    assert.ok([id1, id2].includes(again.json.id), `batch again names ${again.json.id}, not ${id1} or ${id2}`);
    assertDuplicate(
      await postSigned(d, 'whatsapp', whatsappBody({ messages: [{ id: fresh, timestamp: 1700000500 }] }), { secret: WA }),
      id2,
      'the new id alone',
    );
  });

  test('WhatsApp: status updates are deduplicated by status id', async () => {
    const sid = `wamid.${token('status')}`;
    const id1 = assertAccepted(
      await postSigned(d, 'whatsapp', whatsappBody({ statuses: [{ id: sid, timestamp: 1700000001 }] }), { secret: WA }),
      'status',
    );
    assertDuplicate(
      await postSigned(d, 'whatsapp', whatsappBody({ statuses: [{ id: sid, timestamp: 1700000002 }] }), { secret: WA }),
      id1,
      'same status id, new timestamp',
    );
  });

  test('WhatsApp: a body the dedupe paths select nothing from falls back to its SHA-256', async () => {
    const body = JSON.stringify({
      object: 'whatsapp_business_account',
      entry: [{ id: '1', changes: [{ field: 'account_update', value: { event: `e-${token()}`, note: MARKER } }] }],
    });
    const id = assertAccepted(await postSigned(d, 'whatsapp', body, { secret: WA }), 'first');
    assertDuplicate(await postSigned(d, 'whatsapp', body, { secret: WA }), id, 'same bytes');
    assertAccepted(await postSigned(d, 'whatsapp', body.replace('account_update', 'account_alerts'), { secret: WA }), 'other bytes');
  });

  test('WhatsApp: a body that is almost JSON is keyed as jansson reads it (its SHA-256), not by the id it seems to carry', async () => {
    const mid = `wamid.${token('almost')}`;
    const valid = whatsappBody({ messages: [{ id: mid }], marker: MARKER });
    const id = assertAccepted(await postSigned(d, 'whatsapp', valid, { secret: WA }), 'valid JSON');
    // Not JSON: a stray quote after the value, a form feed or vertical tab
    // as whitespace. The exact parser refuses each, so no path selects
    // anything and the key is the body's SHA-256: new, never a duplicate of
    // the valid body with the same message id.
    const almost = {
      'stray quote after the value': `${valid} "`,
      'unterminated string after the value': `${valid}"abc`,
      'form feed after the value': `${valid}\f`,
      'form feed inside': valid.replace('{', '{\f'),
      'vertical tab inside': valid.replace(':', ':\v'),
    };
    for (const [what, body] of Object.entries(almost)) {
      const first = assertAccepted(await postSigned(d, 'whatsapp', body, { secret: WA }), what);
      assert.notEqual(first, id, what);
      assertDuplicate(await postSigned(d, 'whatsapp', body, { secret: WA }), first, `${what}, same bytes again`);
    }
    // JSON's own whitespace after the value is still the same message.
    assertDuplicate(await postSigned(d, 'whatsapp', `${valid} \r\n\t`, { secret: WA }), id, 'trailing JSON whitespace');
  });

  test('WhatsApp: a rejected retransmission stores nothing', async () => {
    const mid = `wamid.${token('rej')}`;
    const body = whatsappBody({ messages: [{ id: mid }], marker: MARKER });
    assertUnauthorized(await postSigned(d, 'whatsapp', body, { secret: IG }), 'wrong secret');
    assertUnauthorized(await postSigned(d, 'whatsapp', body), 'unsigned');
    assertAccepted(await postSigned(d, 'whatsapp', body, { secret: WA }), 'valid');
  });

  test('GitHub (official @octokit/webhooks-methods signature): deduplicated by X-GitHub-Delivery', async () => {
    const GH = SECRETS.HG_E2E_GH_SECRET;
    const delivery = crypto.randomUUID();
    const body = JSON.stringify({ action: 'opened', number: 1, note: MARKER });
    const headers = { 'X-GitHub-Event': 'pull_request', 'X-GitHub-Delivery': delivery };
    const id = assertAccepted(await postSigned(d, 'gh', body, { secret: GH, headers }), 'first delivery');
    const redelivery = JSON.stringify({ action: 'opened', number: 1, note: MARKER, redelivered: true });
    assertDuplicate(await postSigned(d, 'gh', redelivery, { secret: GH, headers }), id, 'same X-GitHub-Delivery');
    assertAccepted(
      await postSigned(d, 'gh', body, { secret: GH, headers: { ...headers, 'X-GitHub-Delivery': crypto.randomUUID() } }),
      'new delivery id',
    );
    assertUnauthorized(await postSigned(d, 'gh', body, { secret: IG, headers }), 'wrong secret');
  });

  test('generic hmac source (Zoho style header, hex HMAC-SHA256 of the raw body)', async () => {
    const Z = SECRETS.HG_E2E_ZOHO_SECRET;
    const body = JSON.stringify({ module: 'Leads', ids: ['1'], note: MARKER });
    const mac = createHmac('sha256', Z).update(body).digest('hex');
    const id = assertAccepted(
      await request(d, 'POST', '/in/zoho-crm', {
        body,
        headers: { 'Content-Type': 'application/json', 'x-zoho-webhook-signature': mac },
      }),
      'valid',
    );
    assertDuplicate(
      await request(d, 'POST', '/in/zoho-crm', {
        body,
        headers: { 'Content-Type': 'application/json', 'X-Zoho-Webhook-Signature': mac },
      }),
      id,
      'same body again',
    );
    const bad = createHmac('sha256', IG).update(body).digest('hex');
    assertUnauthorized(
      await request(d, 'POST', '/in/zoho-crm', {
        body,
        headers: { 'Content-Type': 'application/json', 'x-zoho-webhook-signature': bad },
      }),
      'wrong secret',
    );
  });

  test('one JSON log line per request with source and status; no secret or body text in the log', async () => {
    const LS = SECRETS.HG_E2E_LOG_SECRET;
    const body = igBody();
    assertAccepted(await postSigned(d, 'logged', body, { secret: LS }), 'accepted');
    await postSigned(d, 'logged', body, { secret: LS }); // duplicate
    assertUnauthorized(await postSigned(d, 'logged', body, { secret: IG }), 'rejected');

    const mine = () =>
      d
        .logLines()
        .filter((l) => l.source === 'logged' && l.status !== undefined && l.status !== null);
    await waitFor(() => mine().length >= 3);
    const lines = mine();
    assert.equal(lines.length, 3, `expected 3 request lines for source "logged", got:\n${d.stderr()}`);
    assert.deepEqual(
      lines.map((l) => Number(l.status)),
      [200, 200, 401],
      `statuses in the log lines:\n${JSON.stringify(lines)}`,
    );

    const all = d.logLines();
    const notJson = all.filter((l) => l._raw !== undefined);
    assert.deepEqual(notJson, [], 'every stderr line must be a JSON object');
    const log = d.stderr();
    for (const [name, value] of Object.entries(SECRETS)) {
      assert.ok(!log.includes(value), `the log contains the secret ${name}`);
    }
    assert.ok(!log.includes(MARKER), 'the log contains body text');
    assert.ok(!log.includes('mentions'), 'the log contains body text ("mentions")');
  });

  test('after all of the above, SIGTERM shuts the daemon down with exit 0', async () => {
    const st = await d.stop({ timeoutMs: 10000 });
    assert.equal(st.timedOut, false, `no exit within 10 s of SIGTERM\n${d.stderr().slice(-4000)}`);
    assert.equal(st.code, 0, `exit after SIGTERM: ${JSON.stringify(st)}\n${d.stderr().slice(-4000)}`);
  });
});
