// security.test.mjs — mutual TLS (hookgate terminating TLS, client_cert
// optional and require), verified-certificate headers from trusted proxies
// only, rate limits (429 + Retry-After, nothing stored), replay windows of
// every timestamped scheme, and the hash-chained audit log (ok, then broken
// by an UPDATE or a DELETE).
//
// The test CA, server and client certificates are made here with the
// openssl CLI in a temp dir. Network: every connection goes to 127.0.0.1;
// X-Forwarded-For and X-SSL-* values are only header text.

import assert from 'node:assert/strict';
import { createHmac, randomBytes, randomUUID } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';

import { Webhook } from 'standardwebhooks';
import Stripe from 'stripe';

import {
  UUID7_RE,
  configText,
  makeTempDir,
  removeDir,
  request,
  runCli,
  runTool,
  sign,
  sqlite,
  startDaemon,
  token,
  waitFor,
  whatsappBody,
} from './helpers.mjs';

// The CN of Meta's client certificate (issued by Meta's own CA since 2026);
// provider meta expects it when mtls names no subject.
const META_CN = 'client.webhooks.fbclientcerts.com';
// The name of the DigiCert-signed certificate that expired on 2026-04-15.
const OLD_META_CN = 'client.webhooks.fbcdn.net';
const now = () => Math.floor(Date.now() / 1000);

// ------------------------------------------------------------------ the PKI

async function openssl(args, cwd) {
  const r = await runTool('openssl', args, { env: { OPENSSL_CONF: '/dev/null' } });
  if (r.code !== 0) throw new Error(`openssl ${args.join(' ')} (in ${cwd}) exited ${r.code}: ${r.stderr}`);
}

// A CA (self-signed) and leaf certificates it signs, all P-256, valid 2 days.
async function makePki(dir) {
  const p = (f) => path.join(dir, f);
  async function ca(name, cn) {
    await openssl(
      [
        'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
        '-keyout', p(`${name}.key`), '-out', p(`${name}.pem`), '-days', '2', '-subj', `/CN=${cn}`,
        '-addext', 'basicConstraints=critical,CA:TRUE',
        '-addext', 'keyUsage=critical,keyCertSign,cRLSign',
        '-addext', 'subjectKeyIdentifier=hash',
      ],
      dir,
    );
  }
  async function leaf(name, caName, subj, extLines) {
    writeFileSync(p(`${name}.ext`), ['basicConstraints=CA:FALSE', ...extLines].join('\n') + '\n');
    await openssl(
      ['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
        '-keyout', p(`${name}.key`), '-out', p(`${name}.csr`), '-subj', subj],
      dir,
    );
    await openssl(
      ['x509', '-req', '-in', p(`${name}.csr`), '-CA', p(`${caName}.pem`), '-CAkey', p(`${caName}.key`),
        '-set_serial', `0x${randomBytes(8).toString('hex')}`, '-days', '2', '-sha256',
        '-extfile', p(`${name}.ext`), '-out', p(`${name}.pem`)],
      dir,
    );
  }
  const client = ['keyUsage=critical,digitalSignature', 'extendedKeyUsage=clientAuth'];
  await ca('ca', 'hookgate e2e test CA');
  await ca('rogue', 'hookgate e2e untrusted CA');
  await leaf('server', 'ca', '/CN=localhost', [
    'keyUsage=critical,digitalSignature',
    'extendedKeyUsage=serverAuth',
    'subjectAltName=IP:127.0.0.1,DNS:localhost',
  ]);
  await leaf('good', 'ca', `/O=Meta Platforms, Inc./CN=${META_CN}`, client);
  await leaf('san', 'ca', '/CN=meta-client', [...client, `subjectAltName=DNS:${META_CN}`]);
  await leaf('wrongcn', 'ca', '/CN=client.webhooks.example.com', client);
  await leaf('suffix', 'ca', `/CN=${META_CN}.evil.example.com`, client);
  await leaf('untrusted', 'rogue', `/CN=${META_CN}`, client);
  await leaf('oldmeta', 'ca', `/O=Meta Platforms, Inc./CN=${OLD_META_CN}`, client);
  const read = (f) => readFileSync(p(f));
  const pair = (n) => ({ cert: read(`${n}.pem`), key: read(`${n}.key`) });
  return {
    files: { cert: p('server.pem'), key: p('server.key'), client_ca: p('ca.pem') },
    ca: read('ca.pem'),
    good: pair('good'),
    san: pair('san'),
    wrongcn: pair('wrongcn'),
    suffix: pair('suffix'),
    untrusted: pair('untrusted'),
    oldmeta: pair('oldmeta'),
  };
}

// -------------------------------------------------------------- assertions

function assertAccepted(r, what) {
  assert.equal(r.status, 200, `${what}: expected 200 accepted, got ${r.status} ${r.text}`);
  assert.equal(r.json?.status, 'accepted', `${what}: expected accepted, got ${r.text}`);
  assert.match(r.json.id, UUID7_RE, `${what}: id`);
  return r.json.id;
}

function assert401(r, what) {
  assert.equal(r.status, 401, `${what}: expected 401, got ${r.status} ${r.text}`);
  assert.equal(typeof r.json?.error, 'string', `${what}: 401 body must be {"error"}, got ${r.text}`);
}

function assertReplay(r, what) {
  assert.equal(r.status, 401, `${what}: expected 401 replay, got ${r.status} ${r.text}`);
  assert.equal(r.json?.error, 'replay', `${what}: expected {"error":"replay"}, got ${r.text}`);
}

function assert429(r, what) {
  assert.equal(r.status, 429, `${what}: expected 429, got ${r.status} ${r.text}`);
  const ra = r.headers['retry-after'];
  assert.match(String(ra), /^\d+$/, `${what}: Retry-After must be whole seconds, got ${ra}`);
  assert.ok(Number(ra) >= 1 && Number(ra) <= 3600, `${what}: Retry-After ${ra} must be within the 1 h window`);
  assert.equal(typeof r.json?.error, 'string', `${what}: 429 body must be {"error"}, got ${r.text}`);
}

async function postMeta(d, source, body, secret, { headers = {}, tls } = {}) {
  return request(d, 'POST', `/in/${source}`, {
    headers: { 'Content-Type': 'application/json', 'X-Hub-Signature-256': await sign(secret, body), ...headers },
    body,
    tls,
  });
}

const igBody = () =>
  JSON.stringify({ object: 'instagram', entry: [{ id: '1', time: now(), changes: [{ field: 'mentions', value: { n: randomUUID() } }] }] });

// ====================================================================== mTLS

describe('mTLS: hookgate terminates TLS and checks the client certificate', () => {
  const FB_SECRET = token('fb');
  const env = { HG_E2E_FB_SECRET: FB_SECRET };
  const sources = [
    // no subject: provider meta expects Meta's CN
    { name: 'fb', provider: 'meta', secret_env: 'HG_E2E_FB_SECRET', mtls: { require: true } },
    { name: 'open', provider: 'meta', secret_env: 'HG_E2E_FB_SECRET' },
    {
      name: 'either',
      provider: 'meta',
      secret_env: 'HG_E2E_FB_SECRET',
      mtls: { require: true, subject: [META_CN, 'client.webhooks.example.com'] },
    },
  ];
  let pkiDir;
  let pki;

  before(async () => {
    pkiDir = makeTempDir('hookgate-e2e-pki-');
    pki = await makePki(pkiDir);
  });

  after(() => {
    removeDir(pkiDir);
  });

  describe('client_cert: optional, source with mtls require', () => {
    let d;
    let mtlsRefusals = 0;

    before(async () => {
      d = await startDaemon({
        env,
        sources,
        // Refusals are summed per audit_window; a short one shows them soon.
        extra: { tls: { ...pki.files, client_cert: 'optional' }, audit_window: '100ms' },
        clientTls: { ca: pki.ca },
      });
    });

    after(async () => {
      await d?.cleanup();
    });

    const tlsWith = (pair) => ({ ca: pki.ca, ...(pair ?? {}) });

    test('a certificate with CN client.webhooks.fbclientcerts.com from the configured CA is accepted (meta default)', async () => {
      assertAccepted(await postMeta(d, 'fb', igBody(), FB_SECRET, { tls: tlsWith(pki.good) }), 'good CN');
    });

    test("the expired certificate's name client.webhooks.fbcdn.net is no longer Meta's: 401", async () => {
      assert401(await postMeta(d, 'fb', igBody(), FB_SECRET, { tls: tlsWith(pki.oldmeta) }), 'old Meta CN');
      mtlsRefusals++;
    });

    test('a subject list accepts either name, and only those', async () => {
      assertAccepted(await postMeta(d, 'either', igBody(), FB_SECRET, { tls: tlsWith(pki.good) }), 'first name');
      assertAccepted(await postMeta(d, 'either', igBody(), FB_SECRET, { tls: tlsWith(pki.wrongcn) }), 'second name');
      assert401(await postMeta(d, 'either', igBody(), FB_SECRET, { tls: tlsWith(pki.oldmeta) }), 'a third name');
      mtlsRefusals++;
    });

    test('the name as a DNS SAN (CN differs) is accepted too', async () => {
      assertAccepted(await postMeta(d, 'fb', igBody(), FB_SECRET, { tls: tlsWith(pki.san) }), 'SAN');
    });

    test('wrong CN, a CN that only starts with the name, no certificate, an untrusted CA: 401', async () => {
      for (const [what, pair] of [
        ['wrong CN', pki.wrongcn],
        ['CN with a suffix', pki.suffix],
        ['no certificate', undefined],
        ['untrusted CA', pki.untrusted],
      ]) {
        assert401(await postMeta(d, 'fb', igBody(), FB_SECRET, { tls: tlsWith(pair) }), what);
        mtlsRefusals++;
      }
    });

    test('proxy headers over a connection without a certificate do not count (no trusted_proxies)', async () => {
      const r = await postMeta(d, 'fb', igBody(), FB_SECRET, {
        headers: { 'X-SSL-Client-Verify': 'SUCCESS', 'X-SSL-Client-S-DN': `CN=${META_CN},O=Meta` },
      });
      assert401(r, 'X-SSL-* headers from an untrusted peer');
      mtlsRefusals++;
    });

    test('the right certificate does not excuse a bad signature', async () => {
      const body = igBody();
      const r = await request(d, 'POST', '/in/fb', {
        headers: { 'Content-Type': 'application/json', 'X-Hub-Signature-256': await sign('wrong-secret', body) },
        body,
        tls: tlsWith(pki.good),
      });
      assert401(r, 'good certificate, bad signature');
    });

    test('a source without mtls still takes TLS clients without a certificate', async () => {
      assertAccepted(await postMeta(d, 'open', igBody(), FB_SECRET), 'no certificate, open source');
    });

    test('mTLS refusals are audit-logged and store nothing', async () => {
      const db = path.join(d.dir, 'hookgate.db');
      // Each row counts the refusals it stands for (summed per window).
      const refusals = "select coalesce(sum(count), 0) from audit_log where event='mtls_failure'";
      const n = await waitFor(async () => Number(await sqlite(db, refusals)) >= mtlsRefusals, { timeoutMs: 3000 });
      assert.ok(n, 'audit rows for every mTLS refusal');
      assert.equal(Number(await sqlite(db, refusals)), mtlsRefusals);
      assert.equal(await sqlite(db, "select count(*) from messages where source='fb'"), '2', 'only the good and the SAN request');
    });
  });

  describe('client_cert: require', () => {
    let d;

    before(async () => {
      d = await startDaemon({
        env,
        sources,
        extra: { tls: { ...pki.files, client_cert: 'require' } },
        clientTls: { ca: pki.ca, ...pki.good },
      });
    });

    after(async () => {
      await d?.cleanup();
    });

    test('the right certificate is accepted', async () => {
      assertAccepted(await postMeta(d, 'fb', igBody(), FB_SECRET, { tls: { ca: pki.ca, ...pki.good } }), 'good');
    });

    test('a certificate from the configured CA with the wrong CN passes the handshake and is 401', async () => {
      assert401(await postMeta(d, 'fb', igBody(), FB_SECRET, { tls: { ca: pki.ca, ...pki.wrongcn } }), 'wrong CN');
    });

    test('no certificate, or one from an untrusted CA, fails the TLS handshake: no HTTP answer', async () => {
      for (const [what, pair] of [
        ['no certificate', {}],
        ['untrusted CA', pki.untrusted],
      ]) {
        await assert.rejects(
          postMeta(d, 'fb', igBody(), FB_SECRET, { tls: { ca: pki.ca, ...pair } }),
          (e) => e instanceof Error,
          `${what}: the request must fail without a response`,
        );
      }
      // The daemon is still serving.
      assertAccepted(await postMeta(d, 'open', igBody(), FB_SECRET, { tls: { ca: pki.ca, ...pki.good } }), 'after');
    });
  });

  describe('the CLI and a daemon with its own TLS certificate', () => {
    test('--cacert FILE makes the CLI trust it; without it the CLI refuses the certificate', async () => {
      const admin = token('admin');
      const d = await startDaemon({
        env: { ...env, HG_E2E_CLI_ADMIN: admin },
        sources,
        extra: { tls: { ...pki.files, client_cert: 'optional' }, admin_token_env: 'HG_E2E_CLI_ADMIN' },
        clientTls: { ca: pki.ca },
      });
      try {
        assertAccepted(await postMeta(d, 'open', igBody(), FB_SECRET), 'a message to list');
        const cliEnv = { env: { HG_E2E_CLI_ADMIN: admin } };
        const base = ['messages', 'list', '-c', d.configPath, '--json'];

        const refused = await runCli(base, cliEnv);
        assert.equal(refused.code, 1, `an unknown CA must fail the request: ${refused.stdout}`);
        assert.match(refused.stderr, /cannot reach hookgate at https:\/\/127\.0\.0\.1:\d+: .*(certificate|SSL|TLS)/i);

        const ok = await runCli([...base, '--cacert', pki.files.client_ca], cliEnv);
        assert.equal(ok.code, 0, ok.stderr);
        const list = JSON.parse(ok.stdout);
        assert.equal(list.data.length, 1);
        assert.equal(list.data[0].source, 'open');

        const missing = await runCli([...base, '--cacert', path.join(pkiDir, 'no-such.pem')], cliEnv);
        assert.equal(missing.code, 2);
        assert.match(missing.stderr, /--cacert .*no-such\.pem: No such file/);
      } finally {
        await d.cleanup();
      }
    });
  });
});

// ============================================== proxies, limits, replays, audit

describe('trusted proxies, rate limits, replays and the audit log', () => {
  const SECRETS = {
    HG_E2E_SEC_META: token('meta'),
    HG_E2E_SEC_WA: token('wa'),
    HG_E2E_SEC_GH: token('gh'),
    HG_E2E_SEC_STRIPE: `whsec_${randomBytes(16).toString('hex')}`,
    HG_E2E_SEC_SLACK: randomBytes(16).toString('hex'),
    HG_E2E_SEC_STD: `whsec_${randomBytes(24).toString('base64')}`,
    HG_E2E_SEC_CLIPPER: randomBytes(32).toString('hex'),
    HG_E2E_SEC_HMAC: token('hmac'),
  };
  const S = SECRETS;
  const GOOD_DN = `CN=${META_CN},O=Meta Platforms\\, Inc.,L=Menlo Park,ST=California,C=US`;
  const proxyHeaders = (verify = 'SUCCESS', dn = GOOD_DN) => ({ 'X-SSL-Client-Verify': verify, 'X-SSL-Client-S-DN': dn });

  describe('trusted_proxies ["127.0.0.1/32"]: X-SSL-* headers from 127.0.0.1 count', () => {
    let d;

    before(async () => {
      d = await startDaemon({
        env: SECRETS,
        extra: { trusted_proxies: ['127.0.0.1/32'] },
        sources: [
          { name: 'fb', provider: 'meta', secret_env: 'HG_E2E_SEC_META', mtls: { require: true, subject: META_CN } },
          {
            name: 'per-ip',
            provider: 'meta',
            secret_env: 'HG_E2E_SEC_META',
            rate_limit: { key: 'ip', limit: 2, per: '1h' },
          },
        ],
      });
    });

    after(async () => {
      await d?.cleanup();
    });

    test('X-SSL-Client-Verify: SUCCESS with the subject CN is accepted', async () => {
      assertAccepted(await postMeta(d, 'fb', igBody(), S.HG_E2E_SEC_META, { headers: proxyHeaders() }), 'RFC 2253 DN');
      assertAccepted(
        await postMeta(d, 'fb', igBody(), S.HG_E2E_SEC_META, { headers: proxyHeaders('SUCCESS', `CN=${META_CN},O=Meta`) }),
        'short DN',
      );
    });

    test('a failed verification, another CN, the name outside CN, or no headers: 401', async () => {
      for (const [what, h] of [
        ['Verify FAILED', proxyHeaders('FAILED:unable to verify the first certificate')],
        ['Verify NONE', proxyHeaders('NONE')],
        ['other CN', proxyHeaders('SUCCESS', 'CN=client.webhooks.example.com,O=Meta')],
        ['CN with a suffix', proxyHeaders('SUCCESS', `CN=${META_CN}.evil.example.com`)],
        ['name in OU, not CN', proxyHeaders('SUCCESS', `CN=evil.example.com,OU=${META_CN}`)],
        ['no DN', { 'X-SSL-Client-Verify': 'SUCCESS' }],
        ['no headers', {}],
      ]) {
        assert401(await postMeta(d, 'fb', igBody(), S.HG_E2E_SEC_META, { headers: h }), what);
      }
    });

    test('the proxy headers do not excuse a bad signature', async () => {
      assert401(await postMeta(d, 'fb', igBody(), 'wrong-secret', { headers: proxyHeaders() }), 'bad signature');
    });

    test('rate limit by ip uses X-Forwarded-For from a trusted proxy', async () => {
      const a = { 'X-Forwarded-For': '198.51.100.7' };
      assertAccepted(await postMeta(d, 'per-ip', igBody(), S.HG_E2E_SEC_META, { headers: a }), 'a 1');
      assertAccepted(await postMeta(d, 'per-ip', igBody(), S.HG_E2E_SEC_META, { headers: a }), 'a 2');
      assert429(await postMeta(d, 'per-ip', igBody(), S.HG_E2E_SEC_META, { headers: a }), 'a 3');
      assertAccepted(
        await postMeta(d, 'per-ip', igBody(), S.HG_E2E_SEC_META, { headers: { 'X-Forwarded-For': '198.51.100.8' } }),
        'another client address',
      );
    });
  });

  describe('a gateway with trusted_proxies ["127.0.0.2/32"] (the test client, 127.0.0.1, is not one)', () => {
    let d;
    let db;
    const WA_FROM = '15557770001';
    const WA_OTHER = '15557770002';
    const WA_ATTACKED = '15557770003';
    // What this daemon was sent that it must refuse, by audit event.
    const refused = { bad_signature: 0, replay: 0, rate_limited: 0, mtls_failure: 0 };

    before(async () => {
      d = await startDaemon({
        env: SECRETS,
        extra: { trusted_proxies: ['127.0.0.2/32'], audit_window: '100ms' },
        sources: [
          { name: 'fb', provider: 'meta', secret_env: 'HG_E2E_SEC_META', mtls: { require: true, subject: META_CN } },
          {
            name: 'whatsapp',
            provider: 'meta',
            secret_env: 'HG_E2E_SEC_WA',
            dedupe: ['$.entry[*].changes[*].value.messages[*].id', '$.entry[*].changes[*].value.statuses[*].id'],
            rate_limit: { key: '$.entry[*].changes[*].value.messages[*].from', limit: 3, per: '1h' },
          },
          {
            name: 'per-shop',
            provider: 'github',
            secret_env: 'HG_E2E_SEC_GH',
            rate_limit: { key: 'header:X-Shop-Domain', limit: 2, per: '1h' },
          },
          {
            name: 'per-ip',
            provider: 'meta',
            secret_env: 'HG_E2E_SEC_META',
            rate_limit: { key: 'ip', limit: 2, per: '1h' },
          },
          { name: 'stripe', provider: 'stripe', secret_env: 'HG_E2E_SEC_STRIPE', tolerance: '300s' },
          { name: 'slack', provider: 'slack', secret_env: 'HG_E2E_SEC_SLACK', tolerance: '300s' },
          { name: 'standard', provider: 'standard', secret_env: 'HG_E2E_SEC_STD', tolerance: '300s' },
          { name: 'clipper', provider: 'clipper', secret_env: 'HG_E2E_SEC_CLIPPER', max_age: '5m' },
          {
            name: 'hmac-ts',
            provider: 'hmac',
            header: 'X-Signature',
            secret_env: 'HG_E2E_SEC_HMAC',
            max_age: { path: '$.timestamp', within: '5m' },
          },
        ],
      });
      db = path.join(d.dir, 'hookgate.db');
    });

    after(async () => {
      await d?.cleanup();
    });

    const waMessage = (from) => whatsappBody({ messages: [{ id: `wamid.${randomUUID()}`, from }] });
    const count = async (sql) => Number(await sqlite(db, sql));

    test('the same X-SSL-* headers from an address that is not a trusted proxy are ignored: 401', async () => {
      assert401(await postMeta(d, 'fb', igBody(), S.HG_E2E_SEC_META, { headers: proxyHeaders() }), 'untrusted peer');
      refused.mtls_failure++;
    });

    test('WhatsApp rate limit on $.entry[*]...messages[*].from: 3 accepted, the 4th is 429, nothing stored', async () => {
      const ids = [];
      for (let i = 1; i <= 3; i++) ids.push(assertAccepted(await postMeta(d, 'whatsapp', waMessage(WA_FROM), S.HG_E2E_SEC_WA), `#${i}`));
      const fourth = waMessage(WA_FROM);
      const fourthId = JSON.parse(fourth).entry[0].changes[0].value.messages[0].id;
      assert429(await postMeta(d, 'whatsapp', fourth, S.HG_E2E_SEC_WA), '#4');
      refused.rate_limited++;
      // Asked again, it is still refused (it was not stored, so it is no duplicate).
      assert429(await postMeta(d, 'whatsapp', fourth, S.HG_E2E_SEC_WA), '#4 again');
      refused.rate_limited++;
      // Another phone number has its own budget.
      ids.push(assertAccepted(await postMeta(d, 'whatsapp', waMessage(WA_OTHER), S.HG_E2E_SEC_WA), 'other number'));
      // A status-only notification carries no messages[*].from: not limited.
      for (let i = 0; i < 4; i++) {
        const st = whatsappBody({ statuses: [{ id: `wamid.${randomUUID()}` }] });
        ids.push(assertAccepted(await postMeta(d, 'whatsapp', st, S.HG_E2E_SEC_WA), `status ${i}`));
      }
      assert.equal(await count("select count(*) from messages where source='whatsapp'"), ids.length);
      assert.equal(await count(`select count(*) from messages where body like '%${fourthId}%'`), 0, 'the 429 body was not stored');
    });

    test('requests with a bad signature do not use up a sender\'s budget', async () => {
      for (let i = 0; i < 4; i++) {
        const body = waMessage(WA_ATTACKED);
        assert401(await postMeta(d, 'whatsapp', body, 'forged-secret'), `forged #${i}`);
        refused.bad_signature++;
      }
      for (let i = 1; i <= 3; i++) assertAccepted(await postMeta(d, 'whatsapp', waMessage(WA_ATTACKED), S.HG_E2E_SEC_WA), `real #${i}`);
      assert429(await postMeta(d, 'whatsapp', waMessage(WA_ATTACKED), S.HG_E2E_SEC_WA), 'real #4');
      refused.rate_limited++;
    });

    test('rate limit by header: each X-Shop-Domain has its own budget', async () => {
      const post = async (shop) => {
        const body = JSON.stringify({ n: randomUUID() });
        return request(d, 'POST', '/in/per-shop', {
          headers: {
            'X-Hub-Signature-256': await sign(S.HG_E2E_SEC_GH, body),
            'X-GitHub-Delivery': randomUUID(),
            'X-Shop-Domain': shop,
          },
          body,
        });
      };
      assertAccepted(await post('a.example.com'), 'a 1');
      assertAccepted(await post('a.example.com'), 'a 2');
      assert429(await post('a.example.com'), 'a 3');
      refused.rate_limited++;
      assertAccepted(await post('b.example.com'), 'b 1');
    });

    test('rate limit by ip ignores X-Forwarded-For from an untrusted peer', async () => {
      const xff = (ip) => ({ headers: { 'X-Forwarded-For': ip } });
      assertAccepted(await postMeta(d, 'per-ip', igBody(), S.HG_E2E_SEC_META, xff('198.51.100.1')), '1');
      assertAccepted(await postMeta(d, 'per-ip', igBody(), S.HG_E2E_SEC_META, xff('198.51.100.2')), '2');
      assert429(await postMeta(d, 'per-ip', igBody(), S.HG_E2E_SEC_META, xff('198.51.100.3')), '3 (spoofed XFF)');
      refused.rate_limited++;
    });

    test('replay windows: every timestamped scheme refuses 10 minutes old or ahead, accepts fresh', async () => {
      const stripeEvt = () => JSON.stringify({ id: `evt_${randomBytes(8).toString('hex')}`, object: 'event' });
      const stripePost = (body, ts) =>
        request(d, 'POST', '/in/stripe', {
          headers: {
            'Stripe-Signature': Stripe.webhooks.generateTestHeaderString({ payload: body, secret: S.HG_E2E_SEC_STRIPE, timestamp: ts }),
          },
          body,
        });
      const slackPost = (body, ts) =>
        request(d, 'POST', '/in/slack', {
          headers: {
            'X-Slack-Request-Timestamp': String(ts),
            'X-Slack-Signature': `v0=${createHmac('sha256', S.HG_E2E_SEC_SLACK).update(`v0:${ts}:${body}`).digest('hex')}`,
          },
          body,
        });
      const stdPost = (body, ts) => {
        const id = `msg_${randomBytes(8).toString('hex')}`;
        return request(d, 'POST', '/in/standard', {
          headers: {
            'webhook-id': id,
            'webhook-timestamp': String(ts),
            'webhook-signature': new Webhook(S.HG_E2E_SEC_STD).sign(id, new Date(ts * 1000), body),
          },
          body,
        });
      };
      const slackEvt = () => JSON.stringify({ type: 'event_callback', event_id: `Ev${randomBytes(5).toString('hex')}` });
      const stdEvt = () => JSON.stringify({ type: 'x', n: randomUUID() });
      for (const [name, post, mk] of [
        ['stripe', stripePost, stripeEvt],
        ['slack', slackPost, slackEvt],
        ['standard', stdPost, stdEvt],
      ]) {
        assertReplay(await post(mk(), now() - 600), `${name} 10 minutes old`);
        assertReplay(await post(mk(), now() + 600), `${name} 10 minutes ahead`);
        refused.replay += 2;
        assertAccepted(await post(mk(), now()), `${name} fresh`);
      }

      // Body-timestamp schemes (max_age): clipper on $.timestamp (ISO 8601), hmac on $.timestamp (unix).
      const clipperPost = (iso) => {
        const body = JSON.stringify({ event: 'clip.submitted', timestamp: iso, data: { id: randomUUID() } });
        return request(d, 'POST', '/in/clipper', {
          headers: {
            'X-Webhook-Signature': createHmac('sha256', S.HG_E2E_SEC_CLIPPER).update(body).digest('hex'),
            'X-Webhook-Delivery-ID': randomUUID(),
          },
          body,
        });
      };
      const hmacPost = (ts) => {
        const body = JSON.stringify({ timestamp: ts, n: randomUUID() });
        return request(d, 'POST', '/in/hmac-ts', {
          headers: { 'X-Signature': createHmac('sha256', S.HG_E2E_SEC_HMAC).update(body).digest('hex') },
          body,
        });
      };
      assertReplay(await clipperPost(new Date(Date.now() - 600_000).toISOString()), 'clipper stale');
      assertReplay(await clipperPost(new Date(Date.now() + 600_000).toISOString()), 'clipper ahead');
      assertReplay(await hmacPost(now() - 600), 'hmac stale');
      assertReplay(await hmacPost(now() + 600), 'hmac ahead');
      refused.replay += 4;
      assertAccepted(await clipperPost(new Date().toISOString()), 'clipper fresh');
      assertAccepted(await hmacPost(now()), 'hmac fresh');
    });

    test('a replayed (captured) valid request inside the window is a duplicate, not a second event', async () => {
      const body = JSON.stringify({ id: `evt_${randomBytes(8).toString('hex')}`, object: 'event' });
      const headers = {
        'Stripe-Signature': Stripe.webhooks.generateTestHeaderString({ payload: body, secret: S.HG_E2E_SEC_STRIPE }),
      };
      const first = assertAccepted(await request(d, 'POST', '/in/stripe', { headers, body }), 'original');
      const again = await request(d, 'POST', '/in/stripe', { headers, body });
      assert.equal(again.status, 200, again.text);
      assert.deepEqual(again.json, { status: 'duplicate', id: first });
    });

    test('every refusal is in the audit log, without secrets, bodies or phone numbers', async () => {
      const total = Object.values(refused).reduce((a, b) => a + b, 0);
      const seen = await waitFor(
        async () =>
          (await count(
            `select coalesce(sum(count), 0) from audit_log where event in ('bad_signature','replay','rate_limited','mtls_failure')`,
          )) >= total,
        { timeoutMs: 3000 },
      );
      assert.ok(seen, `expected ${total} audit rows`);
      for (const [event, n] of Object.entries(refused)) {
        assert.equal(
          await count(`select coalesce(sum(count), 0) from audit_log where event='${event}'`),
          n,
          `refusals counted in the audit rows of ${event}`,
        );
      }
      const text = await sqlite(db, 'select * from audit_log');
      for (const leak of [...Object.values(SECRETS), WA_FROM, WA_ATTACKED, 'wamid.', 'forged-secret']) {
        assert.ok(!text.includes(leak), `the audit log must not contain ${leak.slice(0, 12)}...`);
      }
    });

    test('audit verify: ok while intact; an UPDATE or a DELETE of a row is found once the daemon has stopped', async () => {
      const rows = await count('select count(*) from audit_log');
      assert.ok(rows >= 5, `need several audit rows, have ${rows}`);
      const ok = await runCli(['audit', 'verify', '-c', d.configPath], { env: SECRETS });
      assert.equal(ok.code, 0, `audit verify on the live store: exit ${ok.code}\n${ok.stdout}${ok.stderr}`);
      assert.match(ok.stdout, new RegExp(`audit log ok: ${rows} rows`));

      const st = await d.stop();
      assert.equal(st.timedOut, false, 'daemon stopped on SIGTERM');

      // The triggers refuse a change through SQL...
      const blocked = await runTool('sqlite3', [db, "UPDATE audit_log SET reason='x' WHERE seq=2"]);
      assert.notEqual(blocked.code, 0, 'UPDATE on the append-only audit_log must fail while its triggers exist');
      const stillOk = await runCli(['audit', 'verify', '-c', d.configPath], { env: SECRETS });
      assert.equal(stillOk.code, 0, `${stillOk.stdout}${stillOk.stderr}`);

      // ...so a tamperer drops them first. Each tampering on its own copy.
      async function tampered(name, sql) {
        const copy = path.join(d.dir, `${name}.db`);
        await sqlite(db, `.backup '${copy}'`);
        await sqlite(copy, sql);
        const cfg = path.join(d.dir, `${name}.yaml`);
        writeFileSync(cfg, configText({ store: `sqlite:${copy}`, sources: [] }));
        return runCli(['audit', 'verify', '-c', cfg], { env: SECRETS });
      }

      const upd = await tampered(
        'updated',
        "DROP TRIGGER audit_log_no_update; UPDATE audit_log SET reason='x' WHERE seq=2;",
      );
      assert.equal(upd.code, 1, `UPDATE seq=2: exit ${upd.code}\n${upd.stdout}${upd.stderr}`);
      assert.match(`${upd.stdout}${upd.stderr}`, /audit log broken at row 2\b/);

      const mid = Math.floor(rows / 2);
      const del = await tampered('deleted', `DROP TRIGGER audit_log_no_delete; DELETE FROM audit_log WHERE seq=${mid};`);
      assert.equal(del.code, 1, `DELETE seq=${mid}: exit ${del.code}\n${del.stdout}${del.stderr}`);
      assert.match(`${del.stdout}${del.stderr}`, new RegExp(`audit log broken at row (${mid}|${mid + 1})\\b`));

      // Untouched, the stopped daemon's store still verifies.
      const after = await runCli(['audit', 'verify', '-c', d.configPath], { env: SECRETS });
      assert.equal(after.code, 0, `${after.stdout}${after.stderr}`);
      assert.match(after.stdout, new RegExp(`audit log ok: ${rows} rows`));
    });
  });
});
