// manpage.test.mjs — docs/hookgate.1 and the commands' --help agree: every
// command the man page describes (.SS "hookgate ...") answers --help with
// exit 0; every option a man section names is in that command's --help;
// every option a --help names is in the man page (its command's sections or
// the API client options); and every command `hookgate --help` lists has
// its man section.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, test } from 'node:test';

import { runCli } from './helpers.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const MAN = readFileSync(path.resolve(HERE, '..', '..', 'docs', 'hookgate.1'), 'utf8');

// roff to plain text enough for option names: \- is -, font escapes go
const plain = (s) => s.replace(/\\-/g, '-').replace(/\\f[BIRP]/g, '').replace(/\\\(en/g, '-');
const options = (text) => new Set(plain(text).match(/(?<![\w-])--[a-z][a-z-]*/g) ?? []);

// "hookgate webhooks update" -> its text, up to the next .SS or .SH
function sections() {
  const out = new Map();
  let name = null;
  let buf = [];
  const flush = () => name && out.set(name, buf.join('\n'));
  for (const line of MAN.split('\n')) {
    const ss = line.match(/^\.SS "(hookgate [a-z -]+)"$/);
    if (ss || line.startsWith('.SH ')) {
      flush();
      name = ss ? ss[1] : null;
      buf = [];
    } else if (name) buf.push(line);
  }
  flush();
  return out;
}

function clientOptions() {
  const m = MAN.split('\n.SH ').find((s) => s.startsWith('OPTIONS OF THE API CLIENT COMMANDS'));
  assert.ok(m, 'the man page has OPTIONS OF THE API CLIENT COMMANDS');
  return options(m);
}

describe('man page and --help', () => {
  const man = sections();

  test('the man page has a section per command', () => {
    assert.ok(man.size >= 20, `only ${man.size} command sections`);
  });

  test('every command in the man page answers --help (exit 0), and names no option its --help lacks', async () => {
    for (const [cmd, text] of man) {
      const r = await runCli([...cmd.split(' ').slice(1), '--help']);
      assert.equal(r.code, 0, `${cmd} --help: exit ${r.code}; stderr: ${r.stderr}`);
      assert.match(r.stdout, /^usage: hookgate /, `${cmd} --help prints a usage on stdout`);
      const help = options(r.stdout);
      for (const o of options(text)) assert.ok(help.has(o), `man page: ${cmd} has ${o}, its --help does not:\n${r.stdout}`);
    }
  });

  test('every option a --help names is in the man page', async () => {
    const client = clientOptions();
    for (const cmd of man.keys()) {
      const group = cmd.split(' ')[1];
      const documented = new Set(client);
      for (const [other, text] of man) if (other.split(' ')[1] === group) for (const o of options(text)) documented.add(o);
      const r = await runCli([...cmd.split(' ').slice(1), '--help']);
      for (const o of options(r.stdout)) {
        if (o === '--help') continue;
        assert.ok(documented.has(o), `${cmd} --help names ${o}; the man page's ${group} sections do not`);
      }
    }
  });

  test('every command hookgate --help lists has a man section', async () => {
    const r = await runCli(['--help']);
    assert.equal(r.code, 0);
    const listed = [];
    for (const line of r.stdout.split('\n')) {
      const m = line.match(/^ {2}([a-z][a-z-]*)(?: ([a-z][a-z|-]*))?(?=\s|$)/);
      if (!m) continue;
      for (const sub of m[2] ? m[2].split('|') : [null]) listed.push(sub ? `hookgate ${m[1]} ${sub}` : `hookgate ${m[1]}`);
    }
    assert.ok(listed.length >= 20, `parsed only ${listed.length} commands from hookgate --help:\n${r.stdout}`);
    for (const cmd of listed) assert.ok(man.has(cmd), `${cmd} (in hookgate --help) has no .SS "${cmd}" in docs/hookgate.1`);
    // and the other way: the man page documents nothing the program does not list
    for (const cmd of man.keys()) assert.ok(listed.includes(cmd), `docs/hookgate.1 documents ${cmd}, hookgate --help does not list it`);
  });

  test('sign --help lists the schemes, and the man page names each', async () => {
    const r = await runCli(['sign', '--help']);
    const schemes = r.stdout.match(/^schemes: (.+)$/m)?.[1].split(', ');
    assert.ok(schemes?.length >= 10, r.stdout);
    const text = man.get('hookgate sign');
    for (const s of schemes) assert.match(text, new RegExp(`\\b${s}\\b`), `the man page's sign section lacks ${s}`);
  });
});
