// cli.test.mjs — the command line: version, help, exit codes, config check
// with file:line errors, and `hookgate sign` against the official SDK.

import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';

import { makeTempDir, removeDir, runCli, sign, token } from './helpers.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const VERSION = readFileSync(path.resolve(HERE, '..', '..', 'VERSION'), 'utf8').trim();

const env = { HG_E2E_CLI_SECRET: token('cli-secret'), HG_E2E_CLI_VERIFY: token('cli-verify') };

describe('command line', () => {
  let dir;

  before(() => {
    dir = makeTempDir();
  });

  after(() => {
    removeDir(dir);
  });

  function file(name, text) {
    const p = path.join(dir, name);
    writeFileSync(p, text);
    return p;
  }

  test('hookgate version prints the version and exits 0', async () => {
    const r = await runCli(['version']);
    assert.equal(r.code, 0, `exit code; stderr: ${r.stderr}`);
    assert.match(r.stdout, /\d+\.\d+\.\d+/);
    assert.ok(r.stdout.includes(VERSION), `stdout "${r.stdout.trim()}" should contain VERSION ${VERSION}`);
  });

  test('hookgate --help exits 0 and lists the commands', async () => {
    const r = await runCli(['--help']);
    assert.equal(r.code, 0, `exit code; stderr: ${r.stderr}`);
    assert.match(r.stdout, /serve/, 'help (on stdout) mentions serve');
    assert.match(r.stdout, /sign/);
    assert.match(r.stdout, /config check/);
  });

  test('--help works on every command', async () => {
    for (const args of [['serve', '--help'], ['sign', '--help'], ['config', 'check', '--help'], ['migrate', '--help']]) {
      const r = await runCli(args);
      assert.equal(r.code, 0, `hookgate ${args.join(' ')}: exit ${r.code}; stderr: ${r.stderr}`);
      assert.ok(r.stdout.trim().length > 0, `hookgate ${args.join(' ')}: prints help on stdout`);
    }
  });

  test('an unknown command exits 2 with a message on stderr', async () => {
    const r = await runCli(['frobnicate']);
    assert.equal(r.code, 2, `exit code; stdout: ${r.stdout} stderr: ${r.stderr}`);
    assert.ok(r.stderr.trim().length > 0, 'an error sentence on stderr');
  });

  test('an unknown option exits 2', async () => {
    const r = await runCli(['serve', '--no-such-option']);
    assert.equal(r.code, 2, `exit code; stderr: ${r.stderr}`);
  });

  test('config check: a valid file exits 0', async () => {
    const good = file(
      'good.yaml',
      [
        'listen: 127.0.0.1:18080',
        `store: sqlite:${path.join(dir, 'hookgate.db')}`,
        'sources:',
        '  - name: whatsapp',
        '    provider: meta',
        '    secret_env: HG_E2E_CLI_SECRET',
        '    verify_token_env: HG_E2E_CLI_VERIFY',
        '    dedupe: ["$.entry[*].changes[*].value.messages[*].id", "$.entry[*].changes[*].value.statuses[*].id"]',
        '    max_body: 512k',
        '  - name: instagram',
        '    provider: meta',
        '    secret_env: [HG_E2E_CLI_SECRET, HG_E2E_CLI_VERIFY]',
        '  - {name: zoho-crm, provider: hmac, header: x-zoho-webhook-signature, algorithm: sha256, encoding: hex, secret_env: HG_E2E_CLI_SECRET}',
        '',
      ].join('\n'),
    );
    const r = await runCli(['config', 'check', '-c', good], { env });
    assert.equal(r.code, 0, `exit code; stderr: ${r.stderr}`);
  });

  test('config check: an unknown key on line 3 exits 2 naming bad.yaml:3', async () => {
    const bad = file(
      'bad.yaml',
      ['listen: 127.0.0.1:18080', `store: sqlite:${path.join(dir, 'hookgate.db')}`, 'no_such_key: 1', ''].join('\n'),
    );
    const r = await runCli(['config', 'check', '-c', bad], { env });
    assert.equal(r.code, 2, `exit code; stderr: ${r.stderr}`);
    assert.ok(r.stderr.includes('bad.yaml:3'), `stderr should name bad.yaml:3, got: ${r.stderr}`);
    assert.ok(r.stderr.includes('no_such_key'), `stderr should name the key, got: ${r.stderr}`);
  });

  test('config check: an unknown key inside a source names its line', async () => {
    const bad = file(
      'bad-source.yaml',
      [
        'listen: 127.0.0.1:18080',
        'sources:',
        '  - name: whatsapp',
        '    provider: meta',
        '    secret_env: HG_E2E_CLI_SECRET',
        '    secert_env: HG_E2E_CLI_SECRET',
        '',
      ].join('\n'),
    );
    const r = await runCli(['config', 'check', '-c', bad], { env });
    assert.equal(r.code, 2, `exit code; stderr: ${r.stderr}`);
    assert.ok(r.stderr.includes('bad-source.yaml:6'), `stderr should name bad-source.yaml:6, got: ${r.stderr}`);
  });

  test('config check: an unknown provider exits 2 naming the file', async () => {
    const bad = file(
      'bad-provider.yaml',
      ['sources:', '  - name: x', '    provider: carrier-pigeon', '    secret_env: HG_E2E_CLI_SECRET', ''].join('\n'),
    );
    const r = await runCli(['config', 'check', '-c', bad], { env });
    assert.equal(r.code, 2, `exit code; stderr: ${r.stderr}`);
    assert.match(r.stderr, /bad-provider\.yaml:\d+/, `stderr should name the file and line, got: ${r.stderr}`);
  });

  test('serve with an invalid config exits 2 and names file:line', async () => {
    const bad = file('bad-serve.yaml', ['listen: 127.0.0.1:18080', 'sources: []', 'bogus: true', ''].join('\n'));
    const r = await runCli(['serve', '-c', bad], { env });
    assert.equal(r.code, 2, `exit code; stderr: ${r.stderr}`);
    assert.ok(r.stderr.includes('bad-serve.yaml:3'), `stderr should name bad-serve.yaml:3, got: ${r.stderr}`);
  });

  test('sign --scheme meta: the docs/providers.md vector, from a file', async () => {
    const body =
      '{"object":"instagram","entry":[{"id":"1","time":1700000000,"changes":[{"field":"mentions","value":{"text":"caf\\u00e9"}}]}]}';
    const f = file('vector.json', body);
    const r = await runCli(['sign', '--scheme', 'meta', '--secret', 'meta-app-secret', f]);
    assert.equal(r.code, 0, `exit code; stderr: ${r.stderr}`);
    const expected = await sign('meta-app-secret', body);
    assert.equal(expected, 'sha256=0debdd3b062686b00322dcd7d5958181922bb91cba099e83f3f002916e34b463');
    const lines = r.stdout.split(/\r?\n/);
    assert.ok(lines.includes(`X-Hub-Signature-256: ${expected}`), `stdout:\n${r.stdout}`);
  });

  test('sign --scheme meta signs the exact bytes (UTF-8, trailing newline), from a file and from stdin', async () => {
    const secret = token('s');
    const body = `{"text":"naïve café ✓ ${token('b')}"}\n`;
    const expected = await sign(secret, body);
    const f = file('body.json', body);
    const fromFile = await runCli(['sign', '--scheme', 'meta', '--secret', secret, f]);
    assert.equal(fromFile.code, 0, `file: exit code; stderr: ${fromFile.stderr}`);
    assert.ok(fromFile.stdout.split(/\r?\n/).includes(`X-Hub-Signature-256: ${expected}`), `file: stdout:\n${fromFile.stdout}`);

    const fromStdin = await runCli(['sign', '--scheme', 'meta', '--secret', secret, '-'], { input: body });
    assert.equal(fromStdin.code, 0, `stdin: exit code; stderr: ${fromStdin.stderr}`);
    assert.ok(fromStdin.stdout.split(/\r?\n/).includes(`X-Hub-Signature-256: ${expected}`), `stdin: stdout:\n${fromStdin.stdout}`);

    // Without the trailing newline the signature differs.
    const trimmed = await runCli(['sign', '--scheme', 'meta', '--secret', secret, '-'], { input: body.trimEnd() });
    assert.equal(trimmed.code, 0);
    assert.ok(!trimmed.stdout.includes(expected), 'different bytes, different signature');
    assert.ok(trimmed.stdout.includes(`X-Hub-Signature-256: ${await sign(secret, body.trimEnd())}`), trimmed.stdout);
  });

  test('sign --scheme github: the docs/providers.md vector', async () => {
    const r = await runCli(['sign', '--scheme', 'github', '--secret', "It's a Secret to Everybody", '-'], {
      input: 'Hello, World!',
    });
    assert.equal(r.code, 0, `exit code; stderr: ${r.stderr}`);
    assert.ok(
      r.stdout.split(/\r?\n/).includes('X-Hub-Signature-256: sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17'),
      `stdout:\n${r.stdout}`,
    );
  });

  test('sign --help lists every scheme', async () => {
    const r = await runCli(['sign', '--help']);
    assert.equal(r.code, 0);
    const m = r.stdout.match(/^schemes: (.+)$/m);
    assert.ok(m, r.stdout);
    for (const s of ['meta', 'github', 'twilio', 'stripe', 'slack', 'shopify', 'standard', 'clipper', 'hmac', 'token', 'zoho'])
      assert.ok(m[1].split(', ').includes(s), `${s} missing from ${m[1]}`);
  });

  test('sign with an unknown scheme or without a secret exits 2', async () => {
    const f = file('x.json', '{}');
    const r = await runCli(['sign', '--scheme', 'no-such-scheme', '--secret', 's', f]);
    assert.equal(r.code, 2, `unknown scheme: exit ${r.code}; stderr: ${r.stderr}`);
    assert.ok(r.stderr.trim().length > 0);
    const r2 = await runCli(['sign', '--scheme', 'meta', f]);
    assert.equal(r2.code, 2, `no secret: exit ${r2.code}; stderr: ${r2.stderr}`);
  });

  test('sign --timestamp takes whole seconds only: a malformed value exits 2 instead of signing time 12', async () => {
    const f = file('t.json', '{}');
    for (const bad of ['12abc', '', '-5', '99999999999999999999999']) {
      const r = await runCli(['sign', '--scheme', 'stripe', '--secret', 'whsec_x', '--timestamp', bad, f]);
      assert.equal(r.code, 2, `--timestamp '${bad}': exit ${r.code}; stdout: ${r.stdout}`);
      assert.match(r.stderr, /--timestamp expects whole seconds/);
    }
    const ok = await runCli(['sign', '--scheme', 'stripe', '--secret', 'whsec_x', '--timestamp', '1700000000', f]);
    assert.equal(ok.code, 0, ok.stderr);
    assert.match(ok.stdout, /t=1700000000,v1=[0-9a-f]{64}/);
  });

  test('config check --no-env: a file whose secrets are not set passes, and only with --no-env', async () => {
    const f = file(
      'no-env.yaml',
      [
        'listen: 127.0.0.1:18080',
        `store: sqlite:${path.join(dir, 'hookgate.db')}`,
        'admin_token_env: HG_E2E_UNSET_ADMIN',
        'sources:',
        '  - {name: gh, provider: github, secret_env: HG_E2E_UNSET_SECRET}',
        '  - {name: files, provider: github, secret_file: /nonexistent/hookgate-secret}',
        'encryption: {key_env: HG_E2E_UNSET_KEY}',
        '',
      ].join('\n'),
    );
    const plain = await runCli(['config', 'check', '-c', f]);
    assert.equal(plain.code, 2, `without --no-env: exit ${plain.code}; stderr: ${plain.stderr}`);
    assert.match(plain.stderr, /HG_E2E_UNSET_|hookgate-secret/, plain.stderr);
    const r = await runCli(['config', 'check', '--no-env', '-c', f]);
    assert.equal(r.code, 0, `--no-env: exit ${r.code}; stderr: ${r.stderr}`);
    assert.match(r.stdout, /ok \(2 sources; secrets not read\)/);
    // a shape error is still an error
    const bad = file('no-env-bad.yaml', ['sources:', '  - {name: gh, provider: github, secret_env: "not a name"}', ''].join('\n'));
    const r2 = await runCli(['config', 'check', '--no-env', '-c', bad]);
    assert.equal(r2.code, 2, `a malformed variable name: exit ${r2.code}; stdout: ${r2.stdout}`);
    assert.match(r2.stderr, /no-env-bad\.yaml:2/);
  });

  test('config check warns when the SQLite store directory does not exist, and not when it does', async () => {
    const missing = path.join(dir, 'not-yet', 'data');
    const f = file('missing-dir.yaml', ['listen: 127.0.0.1:18080', `store: sqlite:${path.join(missing, 'hookgate.db')}`, ''].join('\n'));
    const r = await runCli(['config', 'check', '-c', f]);
    assert.equal(r.code, 0, `a warning is not an error; stderr: ${r.stderr}`);
    assert.match(r.stderr, /warning: .*missing-dir\.yaml: store: the directory .*not-yet\/data does not exist/);
    const g = file('present-dir.yaml', ['listen: 127.0.0.1:18080', `store: sqlite:${path.join(dir, 'hookgate.db')}`, ''].join('\n'));
    const r2 = await runCli(['config', 'check', '-c', g]);
    assert.equal(r2.code, 0, r2.stderr);
    assert.doesNotMatch(r2.stderr, /warning/);
  });
});
