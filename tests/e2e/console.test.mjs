// The web console (/ui/) in a real browser: Debian's chromium, headless,
// driven by puppeteer-core, against the real daemon on 127.0.0.1. Sign-in,
// a just-ingested WhatsApp message in the list and on its page, its failed
// attempt against a failing sink, "Retry now" once the sink recovers (the
// delivery succeeds, seen at the sink too), a body with <script> shown as
// text and never run, a POST without the CSRF token refused, sign-out.
// Screenshots of each page go to tests/e2e/screenshots/ (kept out of git).
//
// Network safety: chromium starts with every background service off and
// only ever loads http://127.0.0.1:<port>/ui/.

import assert from 'node:assert/strict';
import { existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';

import puppeteer from 'puppeteer-core';

import { postSigned, request, startDaemon, startSink, token, waitFor, whatsappBody } from './helpers.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const SHOTS = path.join(HERE, 'screenshots');
const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';
const ADMIN = token('admin');
const SECRET = 'e2e-console-meta-secret';
const LONG = { timeoutMs: 15000, intervalMs: 50 };

let d;
let sink;
let browser;
let page;
let sinkUp = false;
let xssRan = false;

before(async () => {
  sink = await startSink(() => (sinkUp ? { status: 200, body: 'ok' } : { status: 503, body: 'sink down' }));
  d = await startDaemon({
    env: { HG_E2E_ADMIN: ADMIN, E2E_CONSOLE_SECRET: SECRET },
    extra: [
      'admin_token_env: HG_E2E_ADMIN',
      'audit: {reads: true}',
      'endpoints:',
      '  - name: app',
      `    url: ${sink.url('/hook')}`,
      '    retry: {schedule: [0s]}',
      'sources:',
      '  - name: whatsapp',
      '    provider: meta',
      '    secret_env: E2E_CONSOLE_SECRET',
      "    dedupe: ['$.entry[*].changes[*].value.messages[*].id']",
      '    routes: [app]',
      '',
    ].join('\n'),
  });
  mkdirSync(SHOTS, { recursive: true });
  assert.ok(existsSync(CHROMIUM), `${CHROMIUM} is missing: install Debian's chromium (make deps)`);
  browser = await puppeteer.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-dev-shm-usage',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--disable-default-apps',
      '--disable-domain-reliability',
      '--disable-client-side-phishing-detection',
      '--disable-breakpad',
      '--disable-extensions',
      '--no-first-run',
      '--no-default-browser-check',
      '--no-pings',
      '--metrics-recording-only',
      '--safebrowsing-disable-auto-update',
      '--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1',
    ],
  });
  page = await browser.newPage();
  await page.setViewport({ width: 1100, height: 900 });
  // Any dialog (an alert() from injected script) is a failure; confirm()
  // of "retry all" is accepted.
  page.on('dialog', async (dlg) => {
    if (dlg.type() === 'confirm') await dlg.accept();
    else {
      xssRan = true;
      await dlg.dismiss();
    }
  });
  await page.exposeFunction('hgXssRan', () => {
    xssRan = true;
  });
});

after(async () => {
  await browser?.close();
  await d?.cleanup();
  await sink?.close();
});

const ui = (p = '') => `${d.url}/ui/${p}`;

async function shot(name) {
  await page.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage: true });
}

// Waits until the SPA has rendered the route (body[data-ready]).
async function ready(route) {
  await page.waitForFunction((r) => document.body.dataset.ready === r, { timeout: 10000 }, route);
}

async function goto(hash, route) {
  await page.evaluate((h) => {
    delete document.body.dataset.ready;
    location.hash = h;
  }, hash);
  await ready(route);
}

async function ingest(body) {
  const r = await postSigned(d, 'whatsapp', body, { secret: SECRET });
  assert.equal(r.status, 200, r.text);
  return r.json.id;
}

test('the console is served with a strict CSP and refuses framing', async () => {
  const r = await request(d, 'GET', '/ui/');
  assert.equal(r.status, 200);
  const csp = r.headers['content-security-policy'];
  assert.match(csp, /default-src 'self'/);
  assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/);
  assert.equal(r.headers['x-frame-options'], 'DENY');
  assert.equal(r.headers['x-content-type-options'], 'nosniff');
  assert.equal(r.headers['cache-control'], 'no-store');
  assert.match(r.text, /<script src="\/ui\/app.js"/);
  assert.doesNotMatch(r.text, /<script(?![^>]*\bsrc=)[^>]*>/, 'no inline script in the page');
  assert.doesNotMatch(r.text, /https?:\/\//, 'nothing loaded from elsewhere');
  const bad = await request(d, 'POST', '/ui/api/session', {
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ token: 'not-the-token' }),
  });
  assert.equal(bad.status, 401);
  assert.equal(bad.headers['set-cookie'], undefined);
});

test('sign in, see the message, its failed attempt, retry after the sink recovers', async () => {
  const waId = token('wamid');
  const id = await ingest(whatsappBody({ messages: [{ id: waId, text: 'console hello' }] }));
  // the one attempt fails (503) and the delivery is dead
  await waitFor(async () => {
    const r = await request(d, 'GET', `/api/v1/messages/${id}`, { headers: { Authorization: `Bearer ${ADMIN}` } });
    return r.json?.deliveries?.[0]?.status === 'dead';
  }, LONG);
  assert.equal(sink.on('/hook').length, 1);

  await page.goto(ui(), { waitUntil: 'domcontentloaded' });
  await page.waitForSelector('#signin:not([hidden])');
  await shot('signin');
  await page.type('#token', ADMIN);
  await page.keyboard.press('Enter'); // the keyboard is enough
  await ready('/overview');
  const cookies = await page.cookies();
  const c = cookies.find((x) => x.name === 'hg_session');
  assert.ok(c, 'a session cookie');
  assert.equal(c.httpOnly, true);
  assert.equal(c.sameSite, 'Strict');
  assert.match(c.value, /^[0-9a-f]{64}$/);
  assert.equal(await page.evaluate(() => document.cookie.includes('hg_session')), false);
  assert.match(await page.$eval('#view', (e) => e.textContent), /whatsapp/);
  assert.match(await page.$eval('#view', (e) => e.textContent), /app/);
  await shot('overview');

  await goto('#/messages', '/messages');
  await page.waitForSelector(`a[href="#/message/${id}"]`);
  await shot('messages');
  // found by the provider's message id (its dedupe key), not by another one
  for (const [key, found] of [['wamid.nothing', false], [waId, true]]) {
    await page.select('#f-source', 'whatsapp');
    await page.$eval('#f-dedupe_key', (e) => { e.value = ''; });
    await page.type('#f-dedupe_key', key);
    await page.click('form.filters button[type=submit]');
    await page.waitForFunction((k) => location.hash.includes(encodeURIComponent(k)), {}, key);
    const shown = await page
      .waitForFunction(
        (sel, want) => (document.querySelector(sel) !== null) === want,
        { timeout: 5000, polling: 100 },
        `a[href="#/message/${id}"]`,
        found,
      )
      .then(() => true, () => false);
    assert.ok(shown, `dedupe key ${key}: the message is ${found ? 'not listed' : 'still listed'}`);
  }

  await page.click(`a[href="#/message/${id}"]`);
  await ready(`/message/${id}`);
  const text = await page.$eval('#view', (e) => e.textContent);
  assert.match(text, /console hello/, 'the body');
  assert.match(text, /503/, 'the failed attempt and its status code');
  assert.match(await page.$eval('.attempt pre.response', (e) => e.textContent), /sink down/);
  assert.match(await page.$eval('.delivery', (e) => e.textContent), /dead/);
  // pretty-printed JSON
  assert.match(await page.$eval('#body', (e) => e.textContent), /\n {2}"object": "whatsapp_business_account"/);
  await shot('message');

  sinkUp = true;
  await page.click('.delivery button.retry');
  await page.waitForFunction(
    () => /succeeded/.test(document.querySelector('.delivery')?.textContent ?? ''),
    { timeout: 15000, polling: 200 },
  ).catch(async () => {
    // the engine may finish after the page re-rendered: look again
    for (let i = 0; i < 30; i++) {
      await goto(`#/messages`, '/messages');
      await goto(`#/message/${id}`, `/message/${id}`);
      if (/succeeded/.test(await page.$eval('.delivery', (e) => e.textContent))) return;
      await new Promise((r) => setTimeout(r, 300));
    }
  });
  assert.match(await page.$eval('.delivery', (e) => e.textContent), /succeeded/);
  const hits = sink.on('/hook');
  assert.equal(hits.length, 2, 'the sink got the retry');
  assert.equal(hits[1].headers['x-hookgate-message-id'], id);
  assert.equal(hits[1].body, hits[0].body);
  await shot('message-retried');

  // reading the body from the console is audited, and says so
  const audit = await request(d, 'GET', '/api/v1/audit?action=read_message', { headers: { Authorization: `Bearer ${ADMIN}` } });
  assert.ok(audit.json.data.some((r) => r.client === 'console' && r.reason.includes(id)), audit.text);
});

test('a body holding <script> is shown as text and runs nothing', async () => {
  const evil = '<script>window.hgXssRan()</script><img src=x onerror="window.hgXssRan()">';
  const id = await ingest(whatsappBody({ messages: [{ id: token('wamid'), text: evil }] }));
  await goto(`#/message/${id}`, `/message/${id}`);
  const shown = await page.$eval('#body', (e) => e.textContent);
  assert.ok(shown.includes('<script>window.hgXssRan()</script><img src=x onerror='), shown);
  assert.equal(await page.$$eval('#view script, #view img', (n) => n.length), 0);
  await new Promise((r) => setTimeout(r, 300));
  assert.equal(xssRan, false);
});

test('the other pages render', async () => {
  await goto('#/dead', '/dead');
  // a new page takes the keyboard focus to its heading
  await page.waitForFunction(() => document.activeElement?.tagName === 'H1', { timeout: 5000 });
  await shot('dead-letters');
  await goto('#/subscriptions', '/subscriptions');
  await shot('subscriptions');
  await goto('#/audit', '/audit');
  assert.match(await page.$eval('#verify', (e) => e.textContent), /verifies/);
  await shot('audit');
  await page.setViewport({ width: 390, height: 844 });
  await goto('#/messages', '/messages');
  const wide = await page.evaluate(() => document.documentElement.scrollWidth);
  assert.ok(wide <= 390, `no sideways scrolling on a phone (${wide}px)`);
  await shot('messages-phone');
  await page.setViewport({ width: 1100, height: 900 });
});

test('a state-changing call without the CSRF token is refused', async () => {
  const r = await page.evaluate(async () => {
    const res = await fetch('/api/v1/endpoints/app/retry-dead', { method: 'POST', credentials: 'same-origin' });
    return res.status;
  });
  assert.equal(r, 403);
  const wrong = await page.evaluate(async () => {
    const res = await fetch('/api/v1/endpoints/app/retry-dead', {
      method: 'POST', credentials: 'same-origin', headers: { 'X-CSRF-Token': 'f'.repeat(64) } });
    return res.status;
  });
  assert.equal(wrong, 403);
  // with the cookie alone, a read works
  assert.equal(await page.evaluate(async () => (await fetch('/api/v1/endpoints')).status), 200);
});

test('signing out ends the session', async () => {
  const cookie = (await page.cookies()).find((x) => x.name === 'hg_session').value;
  await page.click('#signout');
  await page.waitForSelector('#signin:not([hidden])');
  assert.equal((await page.cookies()).find((x) => x.name === 'hg_session'), undefined);
  // the old cookie, replayed, is worth nothing
  const r = await request(d, 'GET', '/api/v1/endpoints', { headers: { Cookie: `hg_session=${cookie}` } });
  assert.equal(r.status, 401);
});

test('console: off, or no admin token, turns the console off', async () => {
  const off = await startDaemon({ env: { HG_E2E_ADMIN: ADMIN }, extra: 'admin_token_env: HG_E2E_ADMIN\nconsole: off\n' });
  const none = await startDaemon({});
  try {
    for (const x of [off, none]) {
      const r = await request(x, 'GET', '/ui/');
      assert.equal(r.status, 404, r.text);
      assert.match(r.json.error, /console is off/);
      const s = await request(x, 'POST', '/ui/api/session', {
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ token: ADMIN }),
      });
      assert.equal(s.status, 404);
      assert.equal(s.headers['set-cookie'], undefined);
    }
    // the API still takes the Bearer token
    const r = await request(off, 'GET', '/api/v1/endpoints', { headers: { Authorization: `Bearer ${ADMIN}` } });
    assert.equal(r.status, 200);
  } finally {
    await off.cleanup();
    await none.cleanup();
  }
});

test('failed sign-ins are throttled per client address', async () => {
  const x = await startDaemon({ env: { HG_E2E_ADMIN: ADMIN }, extra: 'admin_token_env: HG_E2E_ADMIN\n' });
  const signIn = (tok, localAddress = '127.0.0.1') =>
    request(x, 'POST', '/ui/api/session', {
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ token: tok }),
      localAddress,
    });
  try {
    for (let i = 0; i < 10; i++) assert.equal((await signIn(`wrong-${i}`)).status, 401);
    const r = await signIn(ADMIN);
    assert.equal(r.status, 429, r.text);
    assert.ok(Number(r.headers['retry-after']) >= 1);
    assert.equal(r.headers['set-cookie'], undefined);
    // another client (another loopback address) is not locked out
    const other = await signIn(ADMIN, '127.0.0.2');
    assert.equal(other.status, 200, other.text);
    assert.ok(other.headers['set-cookie']);
    // the Bearer token still works
    const a = await request(x, 'GET', '/api/v1/endpoints', { headers: { Authorization: `Bearer ${ADMIN}` } });
    assert.equal(a.status, 200);
  } finally {
    await x.cleanup();
  }
});
