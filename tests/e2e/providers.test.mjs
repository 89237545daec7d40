// providers.test.mjs — every inbound signature scheme, signed by the
// providers' official SDKs (twilio, stripe, standardwebhooks,
// @octokit/webhooks-methods) or, where a provider ships none for Node
// (Slack, Shopify, Clipper, Zoho), by node:crypto exactly as their docs say.
// Per scheme: a valid request is accepted, a tampered body is 401, the
// scheme's replay window and default dedupe key hold; and `hookgate sign`
// produces what the SDKs produce and what the daemon accepts.
//
// Network: the daemon listens on 127.0.0.1 only; the public URLs below are
// only strings that Twilio signs, nothing connects to them.

import assert from 'node:assert/strict';
import { createHash, createHmac, randomBytes, randomUUID } from 'node:crypto';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';

import { sign as octokitSign } from '@octokit/webhooks-methods';
import { Webhook } from 'standardwebhooks';
import Stripe from 'stripe';
import twilio from 'twilio';

import { UUID7_RE, cliSign, request, runCli, sqlite, startDaemon, token } from './helpers.mjs';

const PUBLIC_URL = 'https://hooks.example.com';
const EDGE_URL = 'https://edge.example.com/gateway';

const whsec = () => `whsec_${randomBytes(24).toString('base64')}`;

const SECRETS = {
  HG_E2E_TWILIO_TOKEN: randomBytes(16).toString('hex'),
  HG_E2E_STRIPE_SECRET: `whsec_${randomBytes(16).toString('hex')}`,
  HG_E2E_STD_OLD: whsec(),
  HG_E2E_STD_NEW: whsec(),
  HG_E2E_GITHUB_SECRET: token('gh'),
  HG_E2E_SLACK_SECRET: randomBytes(16).toString('hex'),
  HG_E2E_SHOPIFY_SECRET: `shpss_${randomBytes(16).toString('hex')}`,
  HG_E2E_CLIPPER_SECRET: randomBytes(32).toString('hex'),
  HG_E2E_CLIPPER_VECTOR: 'a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f90',
  HG_E2E_ZOHO_SECRET: token('zoho'),
  HG_E2E_HMAC512_SECRET: token('h512'),
  HG_E2E_META_SECRET: token('meta'),
  HG_E2E_ZOHO_PAY: token('zpay'),
  HG_E2E_TOKEN_OLD: token('tok-old'),
  HG_E2E_TOKEN: `${token('tok')} &+=/`, // characters a query parameter must encode
};
const S = SECRETS;

const sources = [
  { name: 'twilio', provider: 'twilio', secret_env: 'HG_E2E_TWILIO_TOKEN' },
  { name: 'twilio-edge', provider: 'twilio', secret_env: 'HG_E2E_TWILIO_TOKEN', public_url: EDGE_URL },
  { name: 'stripe', provider: 'stripe', secret_env: 'HG_E2E_STRIPE_SECRET', tolerance: '300s' },
  { name: 'stripe-tight', provider: 'stripe', secret_env: 'HG_E2E_STRIPE_SECRET', tolerance: '30s' },
  { name: 'standard', provider: 'standard', secret_env: ['HG_E2E_STD_OLD', 'HG_E2E_STD_NEW'], tolerance: '300s' },
  { name: 'github', provider: 'github', secret_env: 'HG_E2E_GITHUB_SECRET' },
  { name: 'slack', provider: 'slack', secret_env: 'HG_E2E_SLACK_SECRET', tolerance: '300s' },
  { name: 'shopify', provider: 'shopify', secret_env: 'HG_E2E_SHOPIFY_SECRET' },
  { name: 'clipper', provider: 'clipper', secret_env: 'HG_E2E_CLIPPER_SECRET', max_age: '5m' },
  {
    name: 'clipper-sent',
    provider: 'clipper',
    secret_env: 'HG_E2E_CLIPPER_SECRET',
    max_age: { path: '$.data.sent_at', within: '5m' },
  },
  { name: 'clipper-vector', provider: 'clipper', secret_env: 'HG_E2E_CLIPPER_VECTOR' },
  {
    name: 'zoho-crm',
    provider: 'hmac',
    header: 'x-zoho-webhook-signature',
    algorithm: 'sha256',
    encoding: 'hex',
    secret_env: 'HG_E2E_ZOHO_SECRET',
  },
  {
    name: 'hmac512',
    provider: 'hmac',
    header: 'X-Signature',
    algorithm: 'sha512',
    encoding: 'base64',
    prefix: 'sha512=',
    secret_env: 'HG_E2E_HMAC512_SECRET',
  },
  { name: 'meta', provider: 'meta', secret_env: 'HG_E2E_META_SECRET' },
  // Zoho CRM, Desk, Flow, ...: a fixed token in a header or a query parameter
  { name: 'zoho-token', provider: 'token', header: 'x-zoho-token', secret_env: ['HG_E2E_TOKEN_OLD', 'HG_E2E_TOKEN'] },
  { name: 'zoho-query', provider: 'token', header: 'query:token', secret_env: 'HG_E2E_TOKEN' },
  // Zoho Payments: X-Zoho-Webhook-Signature: t=<unix ms>,v=<hex>
  { name: 'zoho-payments', provider: 'zoho', secret_env: 'HG_E2E_ZOHO_PAY' },
];

const now = () => Math.floor(Date.now() / 1000);
const hmacHex = (alg, key, data) => createHmac(alg, key).update(data).digest('hex');
const hmacB64 = (alg, key, data) => createHmac(alg, key).update(data).digest('base64');

// Slack's documented scheme: v0= hex HMAC-SHA256 of "v0:<ts>:<body>".
function slackHeaders(body, ts = now(), secret = S.HG_E2E_SLACK_SECRET) {
  return {
    'X-Slack-Request-Timestamp': String(ts),
    'X-Slack-Signature': `v0=${hmacHex('sha256', secret, `v0:${ts}:${body}`)}`,
  };
}

// Clipper: hex HMAC-SHA256 keyed by the 64-hex secret as text.
const clipperSig = (body, secret = S.HG_E2E_CLIPPER_SECRET) => hmacHex('sha256', secret, body);

const stripeHeader = (payload, timestamp = now(), secret = S.HG_E2E_STRIPE_SECRET) =>
  Stripe.webhooks.generateTestHeaderString({ payload, secret, timestamp });

function stdHeaders(secret, id, ts, payload) {
  return {
    'webhook-id': id,
    'webhook-timestamp': String(ts),
    'webhook-signature': new Webhook(secret).sign(id, new Date(ts * 1000), payload),
  };
}

// Replaces the first occurrence of `from` in body (asserting it is there).
function tamper(body, from, to) {
  assert.ok(body.includes(from), `tamper: ${from} not in body`);
  return body.replace(from, to);
}

describe('provider signature schemes (official SDKs)', () => {
  let d;
  let db;
  // source -> number of "accepted" answers, checked against the store at the end.
  const accepted = new Map();

  before(async () => {
    d = await startDaemon({ sources, env: SECRETS, extra: { public_url: PUBLIC_URL } });
    db = path.join(d.dir, 'hookgate.db');
  });

  after(async () => {
    await d?.cleanup();
  });

  function post(source, body, headers, query = '') {
    return request(d, 'POST', `/in/${source}${query}`, { headers, body });
  }

  function assertAccepted(r, source, what) {
    assert.equal(r.status, 200, `${source}: ${what}: expected 200 accepted, got ${r.status} ${r.text}`);
    assert.equal(r.json?.status, 'accepted', `${source}: ${what}: expected accepted, got ${r.text}`);
    assert.match(r.json.id, UUID7_RE, `${source}: ${what}: id`);
    accepted.set(source, (accepted.get(source) ?? 0) + 1);
    return r.json.id;
  }

  function assertDuplicate(r, firstId, source, what) {
    assert.equal(r.status, 200, `${source}: ${what}: expected 200 duplicate, got ${r.status} ${r.text}`);
    assert.equal(r.json?.status, 'duplicate', `${source}: ${what}: expected duplicate, got ${r.text}`);
    assert.equal(r.json.id, firstId, `${source}: ${what}: a duplicate names the first id`);
  }

  function assertRejected(r, source, what) {
    assert.equal(r.status, 401, `${source}: ${what}: expected 401, got ${r.status} ${r.text}`);
    assert.equal(typeof r.json?.error, 'string', `${source}: ${what}: 401 body must be {"error"}, got ${r.text}`);
    assert.notEqual(r.json.error, 'replay', `${source}: ${what}: a bad signature is not a replay`);
  }

  function assertReplay(r, source, what) {
    assert.equal(r.status, 401, `${source}: ${what}: expected 401 replay, got ${r.status} ${r.text}`);
    assert.equal(r.json?.error, 'replay', `${source}: ${what}: expected {"error":"replay"}, got ${r.text}`);
  }

  // ------------------------------------------------------------------ twilio
  describe('twilio', () => {
    const FORM = { 'Content-Type': 'application/x-www-form-urlencoded' };
    const callParams = () => ({
      CallSid: `CA${randomBytes(16).toString('hex')}`,
      AccountSid: 'AC0123456789abcdef0123456789abcdef',
      Caller: '+12349013030',
      Digits: '1234',
      From: '+12349013030',
      To: '+18005551212',
    });
    const formBody = (params) => new URLSearchParams(params).toString();

    test('a form body signed over public_url + path + query is accepted, stored byte for byte', async () => {
      const params = callParams();
      const body = formBody(params);
      const url = `${PUBLIC_URL}/in/twilio?tenant=acme&lang=en`;
      const sig = twilio.getExpectedTwilioSignature(S.HG_E2E_TWILIO_TOKEN, url, params);
      assert.ok(twilio.validateRequest(S.HG_E2E_TWILIO_TOKEN, sig, url, params), 'the SDK agrees with itself');
      const id = assertAccepted(
        await post('twilio', body, { ...FORM, 'X-Twilio-Signature': sig }, '?tenant=acme&lang=en'),
        'twilio',
        'form',
      );
      const stored = await sqlite(db, `select hex(body) from messages where id='${id}'`);
      assert.equal(stored, Buffer.from(body).toString('hex').toUpperCase(), 'the raw body is what is stored');
    });

    test('the same URL with the default port :443 is accepted too (as the SDK does)', async () => {
      const params = callParams();
      const url443 = `https://hooks.example.com:443/in/twilio?tenant=acme`;
      const sig = twilio.getExpectedTwilioSignature(S.HG_E2E_TWILIO_TOKEN, url443, params);
      assert.ok(twilio.validateRequest(S.HG_E2E_TWILIO_TOKEN, sig, `${PUBLIC_URL}/in/twilio?tenant=acme`, params));
      assertAccepted(
        await post('twilio', formBody(params), { ...FORM, 'X-Twilio-Signature': sig }, '?tenant=acme'),
        'twilio',
        ':443',
      );
    });

    test('repeated form parameters (MediaUrl0 twice, unsorted) are signed as the SDK sorts them', async () => {
      const params = { ...callParams(), MediaUrl: ['https://m.example.com/b', 'https://m.example.com/a'] };
      const body = new URLSearchParams([
        ['CallSid', params.CallSid],
        ['MediaUrl', 'https://m.example.com/b'],
        ['To', params.To],
        ['MediaUrl', 'https://m.example.com/a'],
        ['AccountSid', params.AccountSid],
        ['Caller', params.Caller],
        ['Digits', params.Digits],
        ['From', params.From],
      ]).toString();
      const sig = twilio.getExpectedTwilioSignature(S.HG_E2E_TWILIO_TOKEN, `${PUBLIC_URL}/in/twilio`, params);
      assertAccepted(await post('twilio', body, { ...FORM, 'X-Twilio-Signature': sig }), 'twilio', 'repeated params');
    });

    test('signed over another URL (the loopback one, http://, other host) or with a tampered body: 401', async () => {
      const params = callParams();
      const body = formBody(params);
      for (const url of [
        `${d.url}/in/twilio`,
        'http://hooks.example.com/in/twilio',
        'https://other.example.com/in/twilio',
        `${PUBLIC_URL}/in/twilio?x=1`,
      ]) {
        const sig = twilio.getExpectedTwilioSignature(S.HG_E2E_TWILIO_TOKEN, url, params);
        assertRejected(await post('twilio', body, { ...FORM, 'X-Twilio-Signature': sig }), 'twilio', `url ${url}`);
      }
      const sig = twilio.getExpectedTwilioSignature(S.HG_E2E_TWILIO_TOKEN, `${PUBLIC_URL}/in/twilio`, params);
      assertRejected(
        await post('twilio', tamper(body, 'Digits=1234', 'Digits=9999'), { ...FORM, 'X-Twilio-Signature': sig }),
        'twilio',
        'tampered form body',
      );
      assertRejected(await post('twilio', body, FORM), 'twilio', 'no X-Twilio-Signature');
    });

    test('a JSON body with bodySHA256 in the URL is accepted; a tampered body is 401', async () => {
      const body = JSON.stringify({ property: 'value', boolean: true, nonce: randomUUID() });
      const hash = createHash('sha256').update(body).digest('hex');
      const query = `?bodySHA256=${hash}`;
      const url = `${PUBLIC_URL}/in/twilio${query}`;
      const sig = twilio.getExpectedTwilioSignature(S.HG_E2E_TWILIO_TOKEN, url, {});
      assert.ok(twilio.validateRequestWithBody(S.HG_E2E_TWILIO_TOKEN, sig, url, body), 'the SDK validates it');
      const headers = { 'Content-Type': 'application/json', 'X-Twilio-Signature': sig };
      const bad = tamper(body, '"value"', '"VALUE"');
      assert.equal(twilio.validateRequestWithBody(S.HG_E2E_TWILIO_TOKEN, sig, url, bad), false);
      assertRejected(await post('twilio', bad, headers, query), 'twilio', 'tampered JSON body');
      assertAccepted(await post('twilio', body, headers, query), 'twilio', 'JSON body');
    });

    test('per-source public_url wins over the global one', async () => {
      const params = callParams();
      const body = formBody(params);
      const good = twilio.getExpectedTwilioSignature(S.HG_E2E_TWILIO_TOKEN, `${EDGE_URL}/in/twilio-edge`, params);
      const global = twilio.getExpectedTwilioSignature(S.HG_E2E_TWILIO_TOKEN, `${PUBLIC_URL}/in/twilio-edge`, params);
      assertRejected(
        await post('twilio-edge', body, { ...FORM, 'X-Twilio-Signature': global }),
        'twilio-edge',
        'signed with the global public_url',
      );
      assertAccepted(await post('twilio-edge', body, { ...FORM, 'X-Twilio-Signature': good }), 'twilio-edge', 'edge');
    });

    test('I-Twilio-Idempotency-Token dedupes a retry', async () => {
      const params = callParams();
      const body = formBody(params);
      const sig = twilio.getExpectedTwilioSignature(S.HG_E2E_TWILIO_TOKEN, `${PUBLIC_URL}/in/twilio`, params);
      const headers = { ...FORM, 'X-Twilio-Signature': sig, 'I-Twilio-Idempotency-Token': randomUUID() };
      const first = assertAccepted(await post('twilio', body, headers), 'twilio', 'first');
      assertDuplicate(await post('twilio', body, headers), first, 'twilio', 'retry with the same token');
    });
  });

  // ------------------------------------------------------------------ stripe
  describe('stripe', () => {
    const event = (id = `evt_${randomBytes(12).toString('hex')}`) =>
      JSON.stringify({ id, object: 'event', type: 'payment_intent.succeeded', data: { object: { amount: 2000 } } });

    test('a fresh generateTestHeaderString signature is accepted; the same $.id again is a duplicate', async () => {
      const body = event();
      const first = assertAccepted(await post('stripe', body, { 'Stripe-Signature': stripeHeader(body) }), 'stripe', 'fresh');
      // A retry is signed anew (another t) but is the same event.
      assertDuplicate(
        await post('stripe', body, { 'Stripe-Signature': stripeHeader(body, now() - 5) }),
        first,
        'stripe',
        'the same event id re-signed',
      );
    });

    test('a signature 10 minutes old, or 10 minutes ahead, is 401 replay', async () => {
      const body = event();
      assertReplay(await post('stripe', body, { 'Stripe-Signature': stripeHeader(body, now() - 600) }), 'stripe', '-600 s');
      assertReplay(await post('stripe', body, { 'Stripe-Signature': stripeHeader(body, now() + 600) }), 'stripe', '+600 s');
    });

    test('tolerance is per source: 120 s old passes at 300s and is a replay at 30s', async () => {
      const body = event();
      const h = { 'Stripe-Signature': stripeHeader(body, now() - 120) };
      assertReplay(await post('stripe-tight', body, h), 'stripe-tight', '120 s old');
      assertAccepted(await post('stripe', body, h), 'stripe', '120 s old');
    });

    test('any matching v1 passes; a tampered body or a wrong secret is 401', async () => {
      const body = event();
      const ts = now();
      const good = stripeHeader(body, ts).split(',').find((p) => p.startsWith('v1='));
      const wrong = stripeHeader(body, ts, whsec()).split(',').find((p) => p.startsWith('v1='));
      assertRejected(await post('stripe', body, { 'Stripe-Signature': `t=${ts},${wrong}` }), 'stripe', 'wrong secret');
      assertRejected(
        await post('stripe', tamper(body, '2000', '2001'), { 'Stripe-Signature': `t=${ts},${good}` }),
        'stripe',
        'tampered body',
      );
      assertAccepted(
        await post('stripe', body, { 'Stripe-Signature': `t=${ts},${wrong},${good},v0=ignored` }),
        'stripe',
        'second v1 matches',
      );
    });
  });

  // ---------------------------------------------------------------- standard
  describe('standard webhooks', () => {
    const payload = () => JSON.stringify({ type: 'invoice.paid', data: { id: randomUUID(), amount: 42 } });
    const msgId = () => `msg_${randomBytes(12).toString('hex')}`;

    test('Webhook(secret).sign is accepted with either rotation secret', async () => {
      for (const secret of [S.HG_E2E_STD_NEW, S.HG_E2E_STD_OLD]) {
        const body = payload();
        const h = stdHeaders(secret, msgId(), now(), body);
        // The SDK's own verify accepts what it signed (the sanity of the fixture).
        new Webhook(secret).verify(body, h);
        assertAccepted(await post('standard', body, { ...h, 'Content-Type': 'application/json' }), 'standard', 'signed');
      }
    });

    test('a header with two signatures where only one matches is accepted; none matching is 401', async () => {
      const body = payload();
      const id = msgId();
      const ts = now();
      const foreign = stdHeaders(whsec(), id, ts, body)['webhook-signature'];
      const foreign2 = stdHeaders(whsec(), id, ts, body)['webhook-signature'];
      const good = stdHeaders(S.HG_E2E_STD_NEW, id, ts, body)['webhook-signature'];
      const base = { 'webhook-id': id, 'webhook-timestamp': String(ts) };
      assertRejected(
        await post('standard', body, { ...base, 'webhook-signature': `${foreign} ${foreign2}` }),
        'standard',
        'two foreign signatures',
      );
      assertAccepted(
        await post('standard', body, { ...base, 'webhook-signature': `${foreign} ${good}` }),
        'standard',
        'v1,a v1,b with b matching',
      );
    });

    test('Svix header names (svix-id, svix-timestamp, svix-signature) with an SDK signature are accepted', async () => {
      // Svix sends the Standard Webhooks values under its own names.
      const svix = (h) => ({
        'Content-Type': 'application/json',
        'svix-id': h['webhook-id'],
        'svix-timestamp': h['webhook-timestamp'],
        'svix-signature': h['webhook-signature'],
      });
      const body = payload();
      const h = stdHeaders(S.HG_E2E_STD_NEW, msgId(), now(), body);
      const first = assertAccepted(await post('standard', body, svix(h)), 'standard', 'svix-* headers');
      // a redelivery (same svix-id, signed again) is a duplicate
      const again = stdHeaders(S.HG_E2E_STD_OLD, h['webhook-id'], now() - 2, body);
      assertDuplicate(await post('standard', body, svix(again)), first, 'standard', 'same svix-id');
      assertRejected(
        await post('standard', tamper(body, '"amount":42', '"amount":43'), svix(h)),
        'standard',
        'svix-* headers, tampered',
      );
      assertReplay(
        await post('standard', body, svix(stdHeaders(S.HG_E2E_STD_NEW, msgId(), now() - 600, body))),
        'standard',
        'svix-* headers, old',
      );
    });

    test('an old timestamp is 401 replay; a duplicate webhook-id is a duplicate; tampering is 401', async () => {
      const body = payload();
      const id = msgId();
      assertReplay(await post('standard', body, stdHeaders(S.HG_E2E_STD_NEW, id, now() - 600, body)), 'standard', 'old');
      const first = assertAccepted(
        await post('standard', body, stdHeaders(S.HG_E2E_STD_NEW, id, now(), body)),
        'standard',
        'fresh',
      );
      // A redelivery: same id, signed again at a later time.
      assertDuplicate(
        await post('standard', body, stdHeaders(S.HG_E2E_STD_OLD, id, now() - 3, body)),
        first,
        'standard',
        'same webhook-id',
      );
      const h = stdHeaders(S.HG_E2E_STD_NEW, msgId(), now(), body);
      assertRejected(await post('standard', tamper(body, '"amount":42', '"amount":43'), h), 'standard', 'tampered');
      // The signed content includes the id: another id with the same signature fails.
      assertRejected(await post('standard', body, { ...h, 'webhook-id': msgId() }), 'standard', 'id swapped');
    });
  });

  // ------------------------------------------------------------------ github
  describe('github', () => {
    const push = () => JSON.stringify({ ref: 'refs/heads/main', after: randomBytes(20).toString('hex'), repository: { id: 1 } });

    test('@octokit/webhooks-methods sign is accepted; X-GitHub-Delivery dedupes', async () => {
      const body = push();
      const delivery = randomUUID();
      const headers = {
        'Content-Type': 'application/json',
        'X-GitHub-Event': 'push',
        'X-GitHub-Delivery': delivery,
        'X-Hub-Signature-256': await octokitSign(S.HG_E2E_GITHUB_SECRET, body),
      };
      const first = assertAccepted(await post('github', body, headers), 'github', 'push');
      assertDuplicate(await post('github', body, headers), first, 'github', 'redelivery');
      // Another delivery of the same bytes is another event.
      assertAccepted(await post('github', body, { ...headers, 'X-GitHub-Delivery': randomUUID() }), 'github', 'new delivery');
    });

    test('a tampered body, a wrong secret or no signature is 401', async () => {
      const body = push();
      const h = { 'Content-Type': 'application/json', 'X-GitHub-Event': 'push', 'X-GitHub-Delivery': randomUUID() };
      const sig = await octokitSign(S.HG_E2E_GITHUB_SECRET, body);
      assertRejected(
        await post('github', tamper(body, 'refs/heads/main', 'refs/heads/evil'), { ...h, 'X-Hub-Signature-256': sig }),
        'github',
        'tampered',
      );
      assertRejected(
        await post('github', body, { ...h, 'X-Hub-Signature-256': await octokitSign('not-the-secret', body) }),
        'github',
        'wrong secret',
      );
      assertRejected(await post('github', body, h), 'github', 'no signature');
    });
  });

  // ------------------------------------------------------------------- slack
  describe('slack', () => {
    const eventBody = (eventId = `Ev${randomBytes(6).toString('hex').toUpperCase()}`) =>
      JSON.stringify({
        token: 'XXYYZZ',
        team_id: 'T061EG9R6',
        type: 'event_callback',
        event: { type: 'app_mention', text: 'hi' },
        event_id: eventId,
        event_time: now(),
      });

    test('a signed event is accepted; a retry (X-Slack-Retry-Num) of the same event_id is a duplicate', async () => {
      const body = eventBody();
      const first = assertAccepted(
        await post('slack', body, { 'Content-Type': 'application/json', ...slackHeaders(body) }),
        'slack',
        'event',
      );
      assertDuplicate(
        await post('slack', body, {
          'Content-Type': 'application/json',
          'X-Slack-Retry-Num': '1',
          'X-Slack-Retry-Reason': 'http_timeout',
          ...slackHeaders(body, now() - 2),
        }),
        first,
        'slack',
        'retry',
      );
    });

    test('a form-encoded slash command is verified on its raw bytes', async () => {
      const body = `token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&command=%2Fweather&text=${randomBytes(4).toString('hex')}`;
      assertAccepted(
        await post('slack', body, { 'Content-Type': 'application/x-www-form-urlencoded', ...slackHeaders(body) }),
        'slack',
        'slash command',
      );
    });

    test('url_verification after a valid signature answers the challenge and stores nothing', async () => {
      const challenge = token('challenge');
      const body = JSON.stringify({ token: 'Jhj5dZrVaK7ZwHHjRyZWjbDl', challenge, type: 'url_verification' });
      const before = await sqlite(db, "select count(*) from messages where source='slack'");
      const r = await post('slack', body, { 'Content-Type': 'application/json', ...slackHeaders(body) });
      assert.equal(r.status, 200, `${r.status} ${r.text}`);
      assert.deepEqual(r.json, { challenge });
      assert.equal(await sqlite(db, "select count(*) from messages where source='slack'"), before, 'not stored');
      assert.equal(await sqlite(db, `select count(*) from messages where body like '%${challenge}%'`), '0');
      // Without a valid signature the challenge is not echoed.
      const bad = await post('slack', body, {
        'Content-Type': 'application/json',
        ...slackHeaders(body, now(), 'not-the-signing-secret'),
      });
      assertRejected(bad, 'slack', 'url_verification with a bad signature');
      assert.ok(!bad.text.includes(challenge), 'the challenge is not echoed on a 401');
    });

    test('a timestamp 10 minutes old is 401 replay; a tampered body is 401', async () => {
      const body = eventBody();
      assertReplay(await post('slack', body, slackHeaders(body, now() - 600)), 'slack', 'old');
      assertRejected(await post('slack', tamper(body, '"hi"', '"ho"'), slackHeaders(body)), 'slack', 'tampered');
      // The signature binds the timestamp: a fresh timestamp with an old signature fails.
      const old = slackHeaders(body, now() - 600);
      assertRejected(
        await post('slack', body, { ...old, 'X-Slack-Request-Timestamp': String(now()) }),
        'slack',
        'timestamp swapped',
      );
    });
  });

  // ----------------------------------------------------------------- shopify
  describe('shopify', () => {
    test('base64 HMAC of the body is accepted; X-Shopify-Webhook-Id dedupes; tampering is 401', async () => {
      const body = JSON.stringify({ id: Number(BigInt.asUintN(53, BigInt(`0x${randomBytes(7).toString('hex')}`))), total_price: '10.00' });
      const headers = {
        'Content-Type': 'application/json',
        'X-Shopify-Topic': 'orders/create',
        'X-Shopify-Shop-Domain': 'example.myshopify.com',
        'X-Shopify-Webhook-Id': randomUUID(),
        'X-Shopify-Hmac-Sha256': hmacB64('sha256', S.HG_E2E_SHOPIFY_SECRET, body),
      };
      const first = assertAccepted(await post('shopify', body, headers), 'shopify', 'order');
      assertDuplicate(await post('shopify', body, headers), first, 'shopify', 'same webhook id');
      assertRejected(await post('shopify', tamper(body, '10.00', '0.01'), headers), 'shopify', 'tampered');
      assertRejected(
        await post('shopify', body, {
          ...headers,
          'X-Shopify-Hmac-Sha256': hmacB64('sha256', 'shpss_wrong', body),
        }),
        'shopify',
        'wrong secret',
      );
    });
  });

  // ----------------------------------------------------------------- clipper
  describe('clipper', () => {
    const delivery = (body, secret) => ({
      'Content-Type': 'application/json',
      'X-Webhook-Event': 'clip.submitted',
      'X-Webhook-Delivery-ID': randomUUID(),
      'X-Webhook-Signature': clipperSig(body, secret),
    });
    const clip = (timestamp) =>
      JSON.stringify({ event: 'clip.submitted', timestamp, data: { submission_id: randomUUID() } });

    test('the docs/providers.md vector is accepted by a source without max_age', async () => {
      const body =
        '{"event":"clip.submitted","timestamp":"2024-01-15T10:30:00Z","data":{"submission_id":"550e8400-e29b-41d4-a716-446655440002"}}';
      const sig = 'c6bf2b29e5e04c7b4be87929d5780922b4ce9a57faf6f38f45d0d179c6652f9f';
      assert.equal(clipperSig(body, S.HG_E2E_CLIPPER_VECTOR), sig, 'the fixture matches the documented vector');
      assertAccepted(
        await post('clipper-vector', body, { ...delivery(body, S.HG_E2E_CLIPPER_VECTOR), 'X-Webhook-Signature': sig }),
        'clipper-vector',
        'vector',
      );
    });

    test('a fresh $.timestamp is accepted, X-Webhook-Delivery-ID dedupes, a stale one is 401 replay', async () => {
      const body = clip(new Date().toISOString());
      const h = delivery(body);
      const first = assertAccepted(await post('clipper', body, h), 'clipper', 'fresh');
      assertDuplicate(await post('clipper', body, h), first, 'clipper', 'retry, same delivery id');
      const stale = clip(new Date(Date.now() - 10 * 60 * 1000).toISOString());
      assertReplay(await post('clipper', stale, delivery(stale)), 'clipper', 'timestamp 10 minutes old');
      const noTs = JSON.stringify({ event: 'clip.submitted', data: { submission_id: randomUUID() } });
      const r = await post('clipper', noTs, delivery(noTs));
      assert.equal(r.status, 401, `no $.timestamp under max_age: expected 401, got ${r.status} ${r.text}`);
    });

    test('max_age with its own path ({path, within}) reads a unix time there', async () => {
      const fresh = JSON.stringify({ event: 'clip.approved', data: { id: randomUUID(), sent_at: now() } });
      assertAccepted(await post('clipper-sent', fresh, delivery(fresh)), 'clipper-sent', 'fresh sent_at');
      const stale = JSON.stringify({ event: 'clip.approved', data: { id: randomUUID(), sent_at: now() - 600 } });
      assertReplay(await post('clipper-sent', stale, delivery(stale)), 'clipper-sent', 'stale sent_at');
    });

    test('the secret is used as text: the hex-decoded key, a tampered body and no signature are 401', async () => {
      const body = clip(new Date().toISOString());
      const decodedKey = hmacHex('sha256', Buffer.from(S.HG_E2E_CLIPPER_SECRET, 'hex'), body);
      assertRejected(
        await post('clipper', body, { ...delivery(body), 'X-Webhook-Signature': decodedKey }),
        'clipper',
        'hex-decoded key',
      );
      assertRejected(await post('clipper', tamper(body, 'clip.submitted', 'clip.rejected'), delivery(body)), 'clipper', 'tampered');
      const h = delivery(body);
      delete h['X-Webhook-Signature'];
      assertRejected(await post('clipper', body, h), 'clipper', 'no signature');
      // Upper-case hex is the same signature.
      assertAccepted(
        await post('clipper', body, { ...delivery(body), 'X-Webhook-Signature': clipperSig(body).toUpperCase() }),
        'clipper',
        'upper-case hex',
      );
    });
  });

  // -------------------------------------------------------------------- hmac
  describe('hmac (Zoho-style and configured variants)', () => {
    test('zoho: hex HMAC-SHA256 of the raw bytes is accepted; of re-serialized JSON it is 401', async () => {
      const body = `{ "module": "Leads",  "ids": ["${randomBytes(6).toString('hex')}"], "operation": "insert" }`;
      const reserialized = JSON.stringify(JSON.parse(body));
      assert.notEqual(reserialized, body);
      assertRejected(
        await post('zoho-crm', body, {
          'Content-Type': 'application/json',
          'x-zoho-webhook-signature': hmacHex('sha256', S.HG_E2E_ZOHO_SECRET, reserialized),
        }),
        'zoho-crm',
        'signature over re-serialized JSON',
      );
      const h = { 'Content-Type': 'application/json', 'x-zoho-webhook-signature': hmacHex('sha256', S.HG_E2E_ZOHO_SECRET, body) };
      const first = assertAccepted(await post('zoho-crm', body, h), 'zoho-crm', 'raw bytes');
      assertDuplicate(await post('zoho-crm', body, h), first, 'zoho-crm', 'same body (body SHA-256 dedupe)');
      assertRejected(await post('zoho-crm', tamper(body, 'Leads', 'Deals'), h), 'zoho-crm', 'tampered');
    });

    test('sha512 / base64 / prefix as configured; a tampered body is 401', async () => {
      const body = JSON.stringify({ n: randomUUID() });
      const sig = `sha512=${hmacB64('sha512', S.HG_E2E_HMAC512_SECRET, body)}`;
      assertAccepted(await post('hmac512', body, { 'X-Signature': sig }), 'hmac512', 'sha512 base64');
      assertRejected(await post('hmac512', body.replace('"n"', '"m"'), { 'X-Signature': sig }), 'hmac512', 'tampered');
      assertRejected(
        await post('hmac512', body, { 'X-Signature': `sha512=${hmacB64('sha256', S.HG_E2E_HMAC512_SECRET, body)}` }),
        'hmac512',
        'sha256 instead of sha512',
      );
    });
  });

  // -------------------------------------------------------------------- zoho
  describe('zoho (Zoho Payments: t=<unix ms>,v=<hex>)', () => {
    // As docs/providers.md describes it: hex HMAC-SHA256 over "<t>." + raw body, t in ms.
    const zohoHeader = (body, tMs = Date.now(), secret = S.HG_E2E_ZOHO_PAY) => ({
      'Content-Type': 'application/json',
      'X-Zoho-Webhook-Signature': `t=${tMs},v=${hmacHex('sha256', secret, `${tMs}.${body}`)}`,
    });
    const body = () => JSON.stringify({ event_id: randomUUID(), event_type: 'payment.succeeded', amount: 42 });

    test('a correctly signed request is accepted; the same body again is a duplicate', async () => {
      const b = body();
      const first = assertAccepted(await post('zoho-payments', b, zohoHeader(b)), 'zoho-payments', 'signed');
      assertDuplicate(await post('zoho-payments', b, zohoHeader(b, Date.now() - 2000)), first, 'zoho-payments', 'same body');
    });

    test('a wrong key, a tampered body or no header is 401', async () => {
      const b = body();
      assertRejected(await post('zoho-payments', b, zohoHeader(b, Date.now(), token('zpay'))), 'zoho-payments', 'wrong key');
      assertRejected(await post('zoho-payments', tamper(b, '"amount":42', '"amount":43'), zohoHeader(b)), 'zoho-payments', 'tampered');
      assertRejected(await post('zoho-payments', b, { 'Content-Type': 'application/json' }), 'zoho-payments', 'no header');
    });

    test('a timestamp outside the 300 s window (ms) is 401 replay, either way; seconds are not milliseconds', async () => {
      const b = body();
      assertReplay(await post('zoho-payments', b, zohoHeader(b, Date.now() - 600_000)), 'zoho-payments', '10 min old');
      assertReplay(await post('zoho-payments', b, zohoHeader(b, Date.now() + 600_000)), 'zoho-payments', '10 min ahead');
      assertReplay(await post('zoho-payments', b, zohoHeader(b, now())), 'zoho-payments', 'seconds, not ms');
    });

    test('hookgate sign --scheme zoho (--timestamp in ms) matches and is accepted', async () => {
      const b = body();
      const t = Date.now();
      const h = await cliSign('zoho', S.HG_E2E_ZOHO_PAY, b, { timestamp: t });
      assert.equal(h['X-Zoho-Webhook-Signature'], zohoHeader(b, t)['X-Zoho-Webhook-Signature']);
      assertAccepted(await post('zoho-payments', b, h), 'zoho-payments', 'cli');
    });
  });

  // ------------------------------------------------------------------- token
  describe('token (a shared token in a header or a query parameter)', () => {
    const body = () => JSON.stringify({ module: 'Leads', id: randomUUID() });
    const JSON_CT = { 'Content-Type': 'application/json' };

    test('the right token in the header is accepted (either rotation secret); a wrong or missing one is 401', async () => {
      for (const t of [S.HG_E2E_TOKEN, S.HG_E2E_TOKEN_OLD]) {
        assertAccepted(await post('zoho-token', body(), { ...JSON_CT, 'x-zoho-token': t }), 'zoho-token', 'right token');
      }
      assertRejected(await post('zoho-token', body(), { ...JSON_CT, 'x-zoho-token': token('tok') }), 'zoho-token', 'wrong token');
      assertRejected(
        await post('zoho-token', body(), { ...JSON_CT, 'x-zoho-token': `${S.HG_E2E_TOKEN}x` }),
        'zoho-token',
        'token with a suffix',
      );
      assertRejected(await post('zoho-token', body(), JSON_CT), 'zoho-token', 'no token');
      assertRejected(
        await post('zoho-token', body(), JSON_CT, `?x-zoho-token=${encodeURIComponent(S.HG_E2E_TOKEN)}`),
        'zoho-token',
        'token in the query instead of the header',
      );
    });

    test('the token is a secret: it is not stored with the message', async () => {
      const r = await post('zoho-token', body(), { ...JSON_CT, 'x-zoho-token': S.HG_E2E_TOKEN });
      assertAccepted(r, 'zoho-token', 'right token');
      const stored = await sqlite(db, `select headers from messages where id='${r.json.id}'`);
      assert.ok(stored.length > 0, 'the message and its headers are stored');
      assert.ok(!stored.includes(S.HG_E2E_TOKEN), `the token is in the stored headers: ${stored}`);
      assert.ok(!/x-zoho-token/i.test(stored), stored);
    });

    test('query:token reads the (URL-encoded) query parameter; a wrong one or a header is 401', async () => {
      const q = `?a=1&token=${encodeURIComponent(S.HG_E2E_TOKEN)}&b=2`;
      assertAccepted(await post('zoho-query', body(), JSON_CT, q), 'zoho-query', 'right token');
      assertRejected(await post('zoho-query', body(), JSON_CT, `?token=${token('tok')}`), 'zoho-query', 'wrong token');
      assertRejected(await post('zoho-query', body(), { ...JSON_CT, token: S.HG_E2E_TOKEN }), 'zoho-query', 'header');
    });

    test('hookgate sign --scheme token prints the header, or the query parameter to add', async () => {
      const h = await cliSign('token', S.HG_E2E_TOKEN, '', { header: 'x-zoho-token' });
      assert.deepEqual(h, { 'x-zoho-token': S.HG_E2E_TOKEN });
      assertAccepted(await post('zoho-token', body(), { ...JSON_CT, ...h }), 'zoho-token', 'cli header');
      const r = await runCli(['sign', '--scheme', 'token', '--header', 'query:token', '--secret-env', 'HG_E2E_SIGN_SECRET', '-'], {
        env: { HG_E2E_SIGN_SECRET: S.HG_E2E_TOKEN },
        input: '',
      });
      assert.equal(r.code, 0, r.stderr);
      const param = r.stdout.trim();
      assert.match(param, /^token=[A-Za-z0-9%._~-]+$/);
      assertAccepted(await post('zoho-query', body(), JSON_CT, `?${param}`), 'zoho-query', 'cli query parameter');
    });
  });

  // ----------------------------------------------------------- hookgate sign
  describe('hookgate sign matches the SDKs and is accepted', () => {
    test('twilio (form and JSON)', async () => {
      const params = { CallSid: `CA${randomBytes(16).toString('hex')}`, From: '+15550001', MediaUrl: ['b', 'a'] };
      const body = new URLSearchParams([
        ['CallSid', params.CallSid],
        ['MediaUrl', 'b'],
        ['From', params.From],
        ['MediaUrl', 'a'],
      ]).toString();
      const url = `${PUBLIC_URL}/in/twilio?via=cli`;
      const h = await cliSign('twilio', S.HG_E2E_TWILIO_TOKEN, body, { url });
      assert.equal(h['X-Twilio-Signature'], twilio.getExpectedTwilioSignature(S.HG_E2E_TWILIO_TOKEN, url, params));
      assertAccepted(
        await post('twilio', body, { 'Content-Type': 'application/x-www-form-urlencoded', ...h }, '?via=cli'),
        'twilio',
        'cli form',
      );

      const json = JSON.stringify({ via: 'cli', n: randomUUID() });
      const q = `?bodySHA256=${createHash('sha256').update(json).digest('hex')}`;
      const hj = await cliSign('twilio', S.HG_E2E_TWILIO_TOKEN, json, { url: `${PUBLIC_URL}/in/twilio${q}` });
      assert.ok(
        twilio.validateRequestWithBody(S.HG_E2E_TWILIO_TOKEN, hj['X-Twilio-Signature'], `${PUBLIC_URL}/in/twilio${q}`, json),
        'the SDK validates the CLI signature',
      );
      assertAccepted(await post('twilio', json, { 'Content-Type': 'application/json', ...hj }, q), 'twilio', 'cli JSON');
    });

    test('stripe', async () => {
      const body = JSON.stringify({ id: `evt_${randomBytes(10).toString('hex')}`, object: 'event' });
      const ts = now();
      const h = await cliSign('stripe', S.HG_E2E_STRIPE_SECRET, body, { timestamp: ts });
      assert.equal(h['Stripe-Signature'], stripeHeader(body, ts));
      // The SDK's verifier accepts it as well.
      const ev = Stripe.webhooks.constructEvent(body, h['Stripe-Signature'], S.HG_E2E_STRIPE_SECRET);
      assert.equal(ev.object, 'event');
      assertAccepted(await post('stripe', body, h), 'stripe', 'cli');
    });

    test('standard', async () => {
      const body = JSON.stringify({ type: 'cli', n: randomUUID() });
      const id = `msg_${randomBytes(8).toString('hex')}`;
      const ts = now();
      const h = await cliSign('standard', S.HG_E2E_STD_NEW, body, { timestamp: ts, id });
      assert.deepEqual(h, stdHeaders(S.HG_E2E_STD_NEW, id, ts, body));
      new Webhook(S.HG_E2E_STD_NEW).verify(body, h);
      assertAccepted(await post('standard', body, h), 'standard', 'cli');
    });

    test('github and meta', async () => {
      const body = JSON.stringify({ zen: 'cli', n: randomUUID() });
      const h = await cliSign('github', S.HG_E2E_GITHUB_SECRET, body);
      assert.equal(h['X-Hub-Signature-256'], await octokitSign(S.HG_E2E_GITHUB_SECRET, body));
      assertAccepted(
        await post('github', body, { ...h, 'X-GitHub-Event': 'ping', 'X-GitHub-Delivery': randomUUID() }),
        'github',
        'cli',
      );
      const hm = await cliSign('meta', S.HG_E2E_META_SECRET, body);
      assert.equal(hm['X-Hub-Signature-256'], await octokitSign(S.HG_E2E_META_SECRET, body));
      assertAccepted(await post('meta', body, { 'Content-Type': 'application/json', ...hm }), 'meta', 'cli');
    });

    test('slack', async () => {
      const body = JSON.stringify({ type: 'event_callback', event_id: `EvCLI${randomBytes(4).toString('hex')}` });
      const ts = now();
      const h = await cliSign('slack', S.HG_E2E_SLACK_SECRET, body, { timestamp: ts });
      assert.deepEqual(h, slackHeaders(body, ts));
      assertAccepted(await post('slack', body, h), 'slack', 'cli');
    });

    test('shopify', async () => {
      const body = JSON.stringify({ id: randomBytes(4).readUInt32BE(), via: 'cli' });
      const h = await cliSign('shopify', S.HG_E2E_SHOPIFY_SECRET, body);
      assert.equal(h['X-Shopify-Hmac-Sha256'], hmacB64('sha256', S.HG_E2E_SHOPIFY_SECRET, body));
      assertAccepted(await post('shopify', body, { ...h, 'X-Shopify-Webhook-Id': randomUUID() }), 'shopify', 'cli');
    });

    test('clipper', async () => {
      const body = JSON.stringify({ event: 'clip.submitted', timestamp: new Date().toISOString(), data: { via: 'cli' } });
      const h = await cliSign('clipper', S.HG_E2E_CLIPPER_SECRET, body);
      assert.equal(h['X-Webhook-Signature'], clipperSig(body));
      assertAccepted(await post('clipper', body, { ...h, 'X-Webhook-Delivery-ID': randomUUID() }), 'clipper', 'cli');
    });

    test('hmac (zoho hex sha256, and sha512 base64 with a prefix)', async () => {
      const body = JSON.stringify({ module: 'Deals', n: randomUUID() });
      const h = await cliSign('hmac', S.HG_E2E_ZOHO_SECRET, body, { header: 'x-zoho-webhook-signature' });
      assert.equal(h['x-zoho-webhook-signature'], hmacHex('sha256', S.HG_E2E_ZOHO_SECRET, body));
      assertAccepted(await post('zoho-crm', body, h), 'zoho-crm', 'cli');
      const h2 = await cliSign('hmac', S.HG_E2E_HMAC512_SECRET, body, {
        header: 'X-Signature',
        algorithm: 'sha512',
        encoding: 'base64',
        prefix: 'sha512=',
      });
      assert.equal(h2['X-Signature'], `sha512=${hmacB64('sha512', S.HG_E2E_HMAC512_SECRET, body)}`);
      assertAccepted(await post('hmac512', body, h2), 'hmac512', 'cli');
    });
  });

  // ------------------------------------------------------------------- store
  test('the store holds exactly the accepted events: no rejected request, replay or duplicate was stored', async () => {
    const rows = await sqlite(db, 'select source, count(*) from messages group by source order by source');
    const stored = Object.fromEntries(
      rows
        .split('\n')
        .filter(Boolean)
        .map((l) => {
          const [s, n] = l.split('|');
          return [s, Number(n)];
        }),
    );
    const expected = Object.fromEntries([...accepted.entries()].sort());
    assert.deepEqual(stored, expected);
  });
});
