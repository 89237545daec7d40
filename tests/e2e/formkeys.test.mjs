// formkeys.test.mjs — `form:Name` keys on Twilio's form-encoded webhooks,
// every request signed with the official `twilio` SDK over the public URL:
// a per-phone rate limit (`rate_limit: {key: "form:From", limit: 100,
// per: 1h}`: the 101st request from one number is 429, another number still
// passes) and `dedupe: ["form:MessageSid"]` recognising Twilio's retry of a
// message even when the retry's form is ordered differently or carries an
// extra field.
//
// Network: the daemon listens on 127.0.0.1 only; the public URL is only a
// string that Twilio signs, nothing connects to it.

import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';

import twilio from 'twilio';

import { UUID7_RE, request, sqlite, startDaemon } from './helpers.mjs';

const PUBLIC_URL = 'https://hooks.example.com';
const TOKEN = randomBytes(16).toString('hex');
const FORM = { 'Content-Type': 'application/x-www-form-urlencoded' };
const LIMIT = 100;

const sources = [
  {
    name: 'sms',
    provider: 'twilio',
    secret_env: 'HG_E2E_TWILIO_TOKEN',
    rate_limit: { key: 'form:From', limit: LIMIT, per: '1h' },
  },
  { name: 'sms-dedupe', provider: 'twilio', secret_env: 'HG_E2E_TWILIO_TOKEN', dedupe: ['form:MessageSid'] },
];

const sid = (prefix) => `${prefix}${randomBytes(16).toString('hex')}`;

// One inbound SMS as Twilio posts it.
const sms = (from, extra = {}) => ({
  MessageSid: sid('SM'),
  SmsSid: sid('SM'),
  AccountSid: 'AC0123456789abcdef0123456789abcdef',
  From: from,
  To: '+18005551212',
  Body: 'Hello from hookgate & co: 100% sure',
  NumMedia: '0',
  ...extra,
});

describe('form:Name keys on Twilio form bodies (twilio SDK)', () => {
  let d;
  let db;

  before(async () => {
    d = await startDaemon({ sources, env: { HG_E2E_TWILIO_TOKEN: TOKEN }, extra: { public_url: PUBLIC_URL } });
    db = path.join(d.dir, 'hookgate.db');
  });

  after(async () => {
    await d?.cleanup();
  });

  // POSTs entries (name/value pairs, in this order) signed as Twilio signs them.
  function post(source, entries) {
    const params = {};
    for (const [k, v] of entries) params[k] = k in params ? [].concat(params[k], v) : v;
    const sig = twilio.getExpectedTwilioSignature(TOKEN, `${PUBLIC_URL}/in/${source}`, params);
    const body = new URLSearchParams(entries).toString();
    return request(d, 'POST', `/in/${source}`, { headers: { ...FORM, 'X-Twilio-Signature': sig }, body });
  }

  function assertAccepted(r, what) {
    assert.equal(r.status, 200, `${what}: expected 200, got ${r.status} ${r.text}`);
    assert.equal(r.json?.status, 'accepted', `${what}: expected accepted, got ${r.text}`);
    assert.match(r.json.id, UUID7_RE, `${what}: id`);
    return r.json.id;
  }

  test('100 requests per hour per phone number: the 101st from one number is 429, the other number still 200', async () => {
    const one = '+15550000001';
    const two = '+15550000002';
    for (let i = 1; i <= LIMIT; i++) {
      assertAccepted(await post('sms', Object.entries(sms(one))), `${one} request ${i}`);
    }
    const over = await post('sms', Object.entries(sms(one)));
    assert.equal(over.status, 429, `${one} request ${LIMIT + 1}: expected 429, got ${over.status} ${over.text}`);
    assert.match(String(over.headers['retry-after']), /^\d+$/, 'Retry-After in whole seconds');
    assert.ok(Number(over.headers['retry-after']) <= 3600, 'Retry-After within the hour');
    assert.equal(over.json?.error, 'rate limit exceeded');

    assertAccepted(await post('sms', Object.entries(sms(two))), `${two} after ${one} is limited`);
    // Still over for the rest of the window (the body sends "+" as %2B).
    const again = await post('sms', Object.entries(sms(one)));
    assert.equal(again.status, 429, `${one} once more: ${again.status} ${again.text}`);

    const stored = await sqlite(db, `select count(*) from messages where source='sms'`);
    assert.equal(Number(stored), LIMIT + 1, 'the refused requests are not stored');
  });

  test("form:MessageSid recognises Twilio's retry, reordered or with an extra field; another MessageSid is new", async () => {
    const first = sms('+15550000003');
    const id = assertAccepted(await post('sms-dedupe', Object.entries(first)), 'first delivery');

    const retries = {
      'same body': Object.entries(first),
      'fields in another order': Object.entries(first).reverse(),
      'an extra field': [...Object.entries(first), ['ApiVersion', '2010-04-01']],
    };
    for (const [what, entries] of Object.entries(retries)) {
      const r = await post('sms-dedupe', entries);
      assert.equal(r.status, 200, `${what}: ${r.status} ${r.text}`);
      assert.equal(r.json?.status, 'duplicate', `${what}: expected duplicate, got ${r.text}`);
      assert.equal(r.json.id, id, `${what}: a duplicate names the first id`);
    }

    const other = assertAccepted(
      await post('sms-dedupe', Object.entries({ ...first, MessageSid: sid('SM') })),
      'same text, another MessageSid',
    );
    assert.notEqual(other, id);
    const keys = await sqlite(db, `select count(*) from messages where source='sms-dedupe'`);
    assert.equal(Number(keys), 2, 'one stored message per MessageSid');
  });
});
