// forward.test.mjs — what the application receives besides the body: a
// GitHub push signed with @octokit/webhooks-methods reaches a loopback sink
// with the provider's headers (X-GitHub-Event, X-GitHub-Delivery) and
// without the signature header; an exec endpoint sees them as
// HOOKGATE_HEADER_* variables (and not the secret its endpoint headers come
// from); `when: header:X-GitHub-Event == push` routes pushes and issues to
// different sinks, and a replay routes and forwards by the stored headers;
// an endpoint's `Authorization: Bearer ${TOKEN}` comes from the environment;
// a reload that names a variable in an endpoint header sends it and stops
// exec commands from inheriting it; config errors (an unknown variable, a
// signature header in forward_headers) name file:line. Network: 127.0.0.1 only.

import assert from 'node:assert/strict';
import { chmodSync, readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { after, describe, it } from 'node:test';

import { sign } from '@octokit/webhooks-methods';

import { HOST, makeTempDir, removeDir, request, runCli, startDaemon, token, waitFor } from './helpers.mjs';

const GH_SECRET = token('gh');
const BEARER = token('bearer');
const ADMIN = token('admin');
const ENV = { E2E_FWD_GH: GH_SECRET, E2E_FWD_TOKEN: BEARER, E2E_FWD_ADMIN: ADMIN };

const daemons = [];
const sinks = [];
const dirs = [];
after(async () => {
  for (const d of daemons) await d.cleanup();
  for (const s of sinks) s.close();
  for (const dir of dirs) removeDir(dir);
});

// An HTTP server on 127.0.0.1 recording every request ({headers, body}).
async function startSink() {
  const requests = [];
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      requests.push({ headers: req.headers, body: Buffer.concat(chunks).toString() });
      res.writeHead(200);
      res.end();
    });
  });
  await new Promise((resolve) => server.listen(0, HOST, resolve));
  const sink = {
    url: `http://${HOST}:${server.address().port}/hook`,
    requests,
    close() {
      server.closeAllConnections();
      server.close();
    },
  };
  sinks.push(sink);
  return sink;
}

// POSTs a GitHub delivery of event with body, signed the way GitHub does.
async function sendGithub(d, event, body) {
  const delivery = token('delivery');
  const r = await request(d, 'POST', '/in/gh', {
    headers: {
      'Content-Type': 'application/json',
      'X-GitHub-Event': event,
      'X-GitHub-Delivery': delivery,
      'X-GitHub-Hook-ID': '42',
      'X-Hub-Signature-256': await sign(GH_SECRET, body),
      'X-Unlisted': 'not forwarded',
    },
    body,
  });
  assert.equal(r.status, 200, r.text);
  return { id: JSON.parse(r.text).id, delivery };
}

describe('forwarded and added headers', () => {
  it('forwards the provider headers, never the signature, to sinks, exec commands and replays', async () => {
    const pushes = await startSink();
    const issues = await startSink();
    const dir = makeTempDir('hookgate-fwd-');
    dirs.push(dir);
    const script = path.join(dir, 'env.sh');
    const out = path.join(dir, 'env');
    writeFileSync(script, '#!/bin/sh\nenv > "$1.$HOOKGATE_MESSAGE_ID"\n');
    chmodSync(script, 0o755);
    const d = await startDaemon({
      env: ENV,
      extra: [
        'admin_token_env: E2E_FWD_ADMIN',
        'endpoints:',
        '  - name: pushes',
        `    url: ${pushes.url}`,
        '    headers: {Authorization: "Bearer ${E2E_FWD_TOKEN}", X-Team: platform}',
        '  - name: issues',
        `    url: ${issues.url}`,
        '  - name: script',
        `    exec: ${script} ${out}`,
        'sources:',
        '  - name: gh',
        '    provider: github',
        '    secret_env: E2E_FWD_GH',
        '    routes:',
        '      - {endpoint: pushes, when: "header:X-GitHub-Event == push"}',
        '      - {endpoint: issues, when: "header:X-GitHub-Event != push"}',
        '      - script',
        '',
      ].join('\n'),
    });
    daemons.push(d);

    const push = await sendGithub(d, 'push', JSON.stringify({ ref: 'refs/heads/main', marker: token('p') }));
    const issue = await sendGithub(d, 'issues', JSON.stringify({ action: 'opened', marker: token('i') }));
    assert.ok(await waitFor(() => pushes.requests.length === 1 && issues.requests.length === 1, { timeoutMs: 10000 }));

    const p = pushes.requests[0].headers;
    assert.equal(p['x-github-event'], 'push');
    assert.equal(p['x-github-delivery'], push.delivery);
    assert.equal(p['x-github-hook-id'], '42');
    assert.equal(p['x-hub-signature-256'], undefined, 'the signature is never forwarded');
    assert.equal(p['x-unlisted'], undefined, 'only the listed headers are forwarded');
    assert.equal(p.authorization, `Bearer ${BEARER}`, 'the endpoint header, from the environment');
    assert.equal(p['x-team'], 'platform');
    assert.equal(p['x-hookgate-message-id'], push.id);

    const i = issues.requests[0].headers;
    assert.equal(i['x-github-event'], 'issues');
    assert.equal(i['x-github-delivery'], issue.delivery);
    assert.equal(i['x-hub-signature-256'], undefined);
    assert.equal(i.authorization, undefined, "another endpoint's headers are not sent here");

    const envFile = `${out}.${push.id}`;
    assert.ok(
      await waitFor(() => {
        try {
          return readFileSync(envFile, 'utf8').length > 0;
        } catch {
          return false;
        }
      }, { timeoutMs: 10000 }),
      'the exec endpoint ran',
    );
    const env = readFileSync(envFile, 'utf8');
    assert.match(env, /^HOOKGATE_HEADER_X_GITHUB_EVENT=push$/m);
    assert.match(env, new RegExp(`^HOOKGATE_HEADER_X_GITHUB_DELIVERY=${push.delivery}$`, 'm'));
    assert.match(env, /^HOOKGATE_HEADER_X_GITHUB_HOOK_ID=42$/m);
    assert.doesNotMatch(env, /SIGNATURE/);
    assert.doesNotMatch(env, /E2E_FWD_TOKEN/, 'a variable endpoint headers come from is a secret');
    assert.ok(!env.includes(BEARER));

    // A replay routes by the stored headers and forwards them again.
    const r = await request(d, 'POST', `/api/v1/messages/${push.id}/replay`, {
      headers: { Authorization: `Bearer ${ADMIN}` },
    });
    assert.ok(r.status === 200 || r.status === 202, r.text);
    assert.ok(await waitFor(() => pushes.requests.length === 2, { timeoutMs: 10000 }), 'the replay reached pushes');
    assert.equal(pushes.requests[1].headers['x-github-event'], 'push');
    assert.equal(pushes.requests[1].headers['x-github-delivery'], push.delivery);
    assert.equal(pushes.requests[1].headers['x-hub-signature-256'], undefined);
    assert.equal(issues.requests.length, 1, 'the replayed push did not go to issues');
    assert.ok(!d.stderr().includes(BEARER), 'the header value is never logged');
  });
});

describe('reload', () => {
  it('a variable an endpoint header names on reload is sent, and exec commands stop inheriting it', async () => {
    const web = await startSink();
    const dir = makeTempDir('hookgate-fwd-reload-');
    dirs.push(dir);
    const script = path.join(dir, 'env.sh');
    const out = path.join(dir, 'env');
    writeFileSync(script, '#!/bin/sh\nenv > "$1.$HOOKGATE_MESSAGE_ID"\n');
    chmodSync(script, 0o755);
    const later = token('later');
    const config = (headers) =>
      [
        'endpoints:',
        '  - name: web',
        `    url: ${web.url}`,
        ...(headers ? ['    headers: {X-Later: "${E2E_FWD_LATER}"}'] : []),
        '  - name: script',
        `    exec: ${script} ${out}`,
        'sources:',
        '  - name: gh',
        '    provider: github',
        '    secret_env: E2E_FWD_GH',
        '    routes: [web, script]',
        '',
      ].join('\n');
    const d = await startDaemon({ env: { ...ENV, E2E_FWD_LATER: later }, extra: config(false) });
    daemons.push(d);
    const envOf = async (id) => {
      const file = `${out}.${id}`;
      assert.ok(
        await waitFor(() => {
          try {
            return readFileSync(file, 'utf8').includes('HOOKGATE_MESSAGE_ID');
          } catch {
            return false;
          }
        }, { timeoutMs: 10000 }),
        'the exec endpoint ran',
      );
      return readFileSync(file, 'utf8');
    };

    const first = await sendGithub(d, 'push', JSON.stringify({ marker: token('r1') }));
    assert.ok((await envOf(first.id)).includes(`E2E_FWD_LATER=${later}`), 'not a secret yet: inherited');
    assert.ok(await waitFor(() => web.requests.length === 1, { timeoutMs: 10000 }));

    const head = readFileSync(d.configPath, 'utf8').split('endpoints:')[0];
    writeFileSync(d.configPath, head + config(true));
    d.proc.kill('SIGHUP');
    assert.ok(
      await waitFor(() => d.logLines().some((l) => l.msg === 'delivery engine reloaded'), { timeoutMs: 10000 }),
      d.stderr(),
    );

    const second = await sendGithub(d, 'push', JSON.stringify({ marker: token('r2') }));
    const env = await envOf(second.id);
    assert.doesNotMatch(env, /E2E_FWD_LATER/, 'named by an endpoint header: no longer inherited');
    assert.ok(!env.includes(later));
    assert.ok(await waitFor(() => web.requests.length === 2, { timeoutMs: 10000 }));
    assert.equal(web.requests[1].headers['x-later'], later);
    assert.equal(web.requests[0].headers['x-later'], undefined);
    assert.ok(!d.stderr().includes(later), 'the value is never logged');
  });
});

describe('config errors name file:line', () => {
  const dir = makeTempDir('hookgate-fwd-cfg-');
  dirs.push(dir);
  const check = async (name, lines) => {
    const file = path.join(dir, name);
    writeFileSync(file, lines.join('\n') + '\n');
    return runCli(['config', 'check', '-c', file], { env: ENV });
  };

  it('an endpoint header naming an unset variable', async () => {
    const r = await check('unset.yaml', [
      'endpoints:',
      '  - name: e',
      '    url: http://127.0.0.1:9/e',
      '    headers:',
      '      Authorization: "Bearer ${E2E_FWD_NOT_SET}"',
    ]);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /unset\.yaml:5: /);
    assert.match(r.stderr, /E2E_FWD_NOT_SET is not set/);
  });

  it('a signature header in forward_headers', async () => {
    const r = await check('sig.yaml', [
      'sources:',
      '  - name: gh',
      '    provider: github',
      '    secret_env: E2E_FWD_GH',
      '    forward_headers:',
      '      - X-GitHub-Event',
      '      - X-Hub-Signature-256',
    ]);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /sig\.yaml:7: /);
    assert.match(r.stderr, /X-Hub-Signature-256 is a signature header/);
  });
});
