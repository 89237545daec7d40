// helpers.mjs — the end-to-end harness: start the real hookgate daemon on
// 127.0.0.1 with a generated config, talk to it over HTTP, stop it.
//
// Network safety: every socket opened here goes to 127.0.0.1, nothing else.
// Every daemon started here is killed when the test process exits, even when
// a test forgot to (see the 'exit' hook at the bottom).

import { execFile, spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';

import { sign } from '@octokit/webhooks-methods';

import { checkAnswer, coveredPath } from './openapi.mjs';

export { sign };

export const HOST = '127.0.0.1';
const HERE = path.dirname(fileURLToPath(import.meta.url));
export const BIN =
  process.env.HOOKGATE_BIN ?? path.resolve(HERE, '..', '..', 'build', 'hookgate');

// A UUIDv7 as RFC 9562 lays it out (version 7, variant 10xx).
export const UUID7_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

// ---------------------------------------------------------------- temp dirs

export function makeTempDir(prefix = 'hookgate-e2e-') {
  return mkdtempSync(path.join(tmpdir(), prefix));
}

export function removeDir(dir) {
  if (dir) rmSync(dir, { recursive: true, force: true });
}

// A random token, handy for secrets, markers and ids no other test uses.
export function token(prefix = 'e2e') {
  return `${prefix}-${randomBytes(9).toString('hex')}`;
}

// ---------------------------------------------------------------- store

// HOOKGATE_E2E_STORE=postgres://user:pw@127.0.0.1:PORT/db runs every daemon
// on PostgreSQL instead of SQLite (`make test-pg` sets it to a throwaway
// cluster): each daemon's dir gets a fresh database of that server, named
// after the dir, so a restart on the same dir finds its data and tests stay
// independent. Tests that read the SQLite file keep working: sqlite(),
// runTool('sqlite3', ...) and configText({store: 'sqlite:FILE'}) on a file
// of such a dir go to its database instead (psql; the few SQLite-only
// spellings the suites use are translated). A daemon that must fail on a
// file-size limit (wrap: prlimit) stays on SQLite: the limit cannot reach a
// database server; the PostgreSQL outage test is in multinode.test.mjs.
export const E2E_STORE = process.env.HOOKGATE_E2E_STORE ?? '';
export const ON_POSTGRES = /^postgres(ql)?:\/\//.test(E2E_STORE);

const pgByFile = new Map(); // SQLite file path -> postgres URI standing in for it
const sqliteFiles = new Set(); // files that stay SQLite even so (see launch())

// uri with its database replaced by db.
function pgUriFor(db) {
  const u = new URL(E2E_STORE);
  u.pathname = `/${db}`;
  return u.toString();
}

// Runs SQL with psql on uri; resolves {code, stdout, stderr} (stdout as the
// sqlite3 CLI prints it: no header, columns separated by |).
export function psql(uri, sql) {
  return runTool('psql', [uri, '-X', '-q', '-A', '-t', '-v', 'ON_ERROR_STOP=1', '-c', sql]);
}

// A new, empty database on the HOOKGATE_E2E_STORE server; its URI.
export async function freshPgStore(name = `hg_e2e_${randomBytes(8).toString('hex')}`) {
  const r = await psql(E2E_STORE, `CREATE DATABASE ${name}`);
  if (r.code !== 0 && !/already exists/.test(r.stderr)) {
    throw new Error(`CREATE DATABASE ${name} failed: ${r.stderr}`);
  }
  return pgUriFor(name);
}

// The database that stands in for the SQLite file `file` (created once).
async function pgStoreForFile(file) {
  if (!pgByFile.has(file)) {
    const name = `hg_e2e_${createHash('sha256').update(file).digest('hex').slice(0, 24)}`;
    pgByFile.set(file, await freshPgStore(name));
  }
  return pgByFile.get(file);
}

// SQLite spellings the suites use, in PostgreSQL.
function pgSql(sql) {
  return sql
    .replace(/\bhex\(([^()]+)\)/gi, "upper(encode($1, 'hex'))")
    .replace(/\bDROP TRIGGER (\w+)\s*;/gi, 'DROP TRIGGER $1 ON audit_log;');
}

// ---------------------------------------------------------------- ports

// Binds 127.0.0.1:0, reads the port the kernel chose, closes the socket.
export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, HOST, () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

// ---------------------------------------------------------------- config

const PLAIN = /^[A-Za-z0-9_.:/@+-]+$/;

function yamlScalar(v) {
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  const s = String(v);
  // JSON strings of printable ASCII are valid YAML double-quoted scalars.
  return PLAIN.test(s) && !/^[-:]/.test(s) ? s : JSON.stringify(s);
}

function yamlValue(v) {
  if (Array.isArray(v)) return `[${v.map(yamlScalar).join(', ')}]`;
  if (v !== null && typeof v === 'object') {
    return `{${Object.entries(v)
      .map(([k, x]) => `${k}: ${yamlValue(x)}`)
      .join(', ')}}`;
  }
  return yamlScalar(v);
}

// The YAML text of a config. sources: [{name, provider, secret_env, ...}]
// (any key is written as given; arrays become flow sequences). extra: more
// top-level keys, as an object or as raw YAML text appended at the end.
export function configText({ port, store, sources = [], extra } = {}) {
  const lines = [];
  if (port !== undefined) lines.push(`listen: ${HOST}:${port}`);
  if (store !== undefined) {
    const file = typeof store === 'string' && store.startsWith('sqlite:') ? store.slice(7) : null;
    lines.push(`store: ${file !== null && pgByFile.has(file) ? pgByFile.get(file) : store}`);
  }
  if (extra && typeof extra === 'object') {
    for (const [k, v] of Object.entries(extra)) lines.push(`${k}: ${yamlValue(v)}`);
  }
  if (sources.length > 0) {
    lines.push('sources:');
    for (const src of sources) {
      let first = true;
      for (const [k, v] of Object.entries(src)) {
        if (v === undefined) continue;
        lines.push(`${first ? '  - ' : '    '}${k}: ${yamlValue(v)}`);
        first = false;
      }
    }
  }
  let text = lines.join('\n') + '\n';
  if (typeof extra === 'string') text += extra.endsWith('\n') ? extra : extra + '\n';
  return text;
}

// Writes configText(opts) (or opts.text) to dir/name and returns the path.
export function writeConfig(dir, opts = {}, name = 'hookgate.yaml') {
  const file = path.join(dir, name);
  writeFileSync(file, opts.text ?? configText(opts));
  return file;
}

// ---------------------------------------------------------------- processes

// Resolves promise's value, or null when ms pass first (the timer is cleared
// either way, so nothing keeps the test process alive).
export function within(promise, ms) {
  let timer;
  const t = new Promise((resolve) => {
    timer = setTimeout(() => resolve(null), ms);
  });
  return Promise.race([promise, t]).finally(() => clearTimeout(timer));
}

const live = new Set();

// Runs `hookgate args...` to completion; resolves {code, signal, stdout, stderr}.
export function runCli(args, { env = {}, input, cwd, timeoutMs = 15000 } = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(BIN, args, {
      cwd,
      env: { ...process.env, ...env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    live.add(child);
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d) => (stderr += d));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`hookgate ${args.join(' ')} did not finish in ${timeoutMs} ms\n${stderr}`));
    }, timeoutMs);
    child.on('error', (err) => {
      clearTimeout(timer);
      live.delete(child);
      reject(err);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      live.delete(child);
      resolve({ code, signal, stdout, stderr });
    });
    child.stdin.on('error', () => {}); // the CLI may exit before reading stdin
    if (input !== undefined) child.stdin.end(input);
    else child.stdin.end();
  });
}

// Starts `hookgate serve -c CONFIG` on a free loopback port and waits until
// GET /healthz answers 200. A temp dir is created unless `dir` is given (a
// restart passes the first daemon's dir to reuse its store file); the store
// is sqlite:DIR/hookgate.db unless `store` is given. clientTls: {ca, cert,
// key} for a daemon that terminates TLS (config `tls:` in extra): readiness
// and request() then use https with these options.
//
// Returns {port, url, dir, configPath, proc, stderr(), stdout(), logLines(),
// stop(), kill9(), cleanup()}.
export async function startDaemon(opts = {}) {
  const ownsDir = !opts.dir;
  const workDir = opts.dir ?? makeTempDir();
  // The port from freePort() is free only until someone else takes it (a
  // client socket's ephemeral port, say): when the daemon says the address
  // is in use, try again on another port.
  for (let attempt = 1; ; attempt++) {
    try {
      return await launch(opts, workDir, ownsDir);
    } catch (e) {
      if (e.portInUse && attempt < 5) continue;
      if (ownsDir) removeDir(workDir);
      throw e;
    }
  }
}

async function launch(
  { sources = [], env = {}, extra, store, readyTimeoutMs = 10000, clientTls, wrap = [] },
  workDir,
  ownsDir,
) {
  const port = await freePort();
  const dbFile = path.join(workDir, 'hookgate.db');
  // Once on SQLite for a file-size limit, a dir stays there (its restarts).
  const onFileLimit = wrap.some((w) => /^--fsize/.test(w)) || sqliteFiles.has(dbFile);
  if (ON_POSTGRES && store === undefined && onFileLimit && !sqliteFiles.has(dbFile)) {
    sqliteFiles.add(dbFile);
    process.stderr.write(`# store: SQLite for this daemon (${wrap.join(' ')} limits files, not a database server)\n`);
  }
  const text = configText({
    port,
    store: store ?? (ON_POSTGRES && !onFileLimit ? await pgStoreForFile(dbFile) : `sqlite:${dbFile}`),
    sources,
    extra,
  });
  const configPath = writeConfig(workDir, { text });

  // wrap: a command prefix such as ['prlimit', '--fsize=300000'] (limits).
  const argv = [...wrap, BIN, 'serve', '-c', configPath];
  const proc = spawn(argv[0], argv.slice(1), {
    cwd: workDir,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  live.add(proc);
  let out = '';
  let err = '';
  proc.stdout.setEncoding('utf8').on('data', (d) => (out += d));
  proc.stderr.setEncoding('utf8').on('data', (d) => (err += d));

  let exitInfo = null;
  const exited = new Promise((resolve) => {
    proc.on('error', (e) => {
      err += `\n[harness] spawn error: ${e.message}\n`;
      exitInfo = exitInfo ?? { code: null, signal: null, error: e };
      live.delete(proc);
      resolve(exitInfo);
    });
    proc.on('exit', (code, signal) => {
      exitInfo = { code, signal };
      live.delete(proc);
      resolve(exitInfo);
    });
  });

  const d = {
    port,
    url: `${clientTls ? 'https' : 'http'}://${HOST}:${port}`,
    // The client TLS options (ca, cert, key) the readiness check used: the
    // daemon terminates TLS itself (config `tls:`). request() uses them by
    // default for this daemon.
    tls: clientTls,
    dir: workDir,
    configPath,
    proc,
    exited,
    get running() {
      return exitInfo === null;
    },
    stderr: () => err,
    stdout: () => out,
    // stderr parsed as JSON lines; lines that are not JSON come back as {_raw}.
    logLines: () =>
      err
        .split('\n')
        .filter((l) => l.trim() !== '')
        .map((l) => {
          try {
            return JSON.parse(l);
          } catch {
            return { _raw: l };
          }
        }),
    // Sends sig, then waits for the exit; SIGKILL after timeoutMs (timedOut: true).
    async signal(sig, { timeoutMs = 10000 } = {}) {
      if (exitInfo) return { ...exitInfo, timedOut: false };
      proc.kill(sig);
      const r = await within(exited, timeoutMs);
      if (r) return { ...r, timedOut: false };
      proc.kill('SIGKILL');
      return { ...(await exited), timedOut: true };
    },
    stop(opts) {
      return d.signal('SIGTERM', opts);
    },
    async kill9() {
      if (exitInfo) return exitInfo;
      proc.kill('SIGKILL');
      return exited;
    },
    // Kills the daemon if still running and removes the dir it created.
    async cleanup() {
      if (!exitInfo) {
        proc.kill('SIGKILL');
        await exited;
      }
      if (ownsDir) removeDir(workDir);
    },
  };

  // Readiness: GET /healthz until 200, or fail with the daemon's stderr.
  const deadline = Date.now() + readyTimeoutMs;
  let lastErr = '';
  for (;;) {
    if (exitInfo) {
      const e = new Error(
        `hookgate exited before it was ready (code ${exitInfo.code}, signal ${exitInfo.signal})\n` +
          `config:\n${text}\nstderr:\n${err}`,
      );
      e.portInUse = /address already in use|EADDRINUSE/i.test(err);
      throw e;
    }
    try {
      const r = await request(d, 'GET', '/healthz', { timeoutMs: 1000 });
      if (r.status === 200) break;
      lastErr = `status ${r.status}`;
    } catch (e) {
      lastErr = e.code ?? e.message;
    }
    if (Date.now() > deadline) {
      proc.kill('SIGKILL');
      await exited;
      throw new Error(
        `hookgate not ready on ${d.url} after ${readyTimeoutMs} ms (last: ${lastErr})\nstderr:\n${err}`,
      );
    }
    await sleep(50);
  }
  return d;
}

process.on('exit', () => {
  for (const child of live) {
    try {
      child.kill('SIGKILL');
    } catch {
      /* already gone */
    }
  }
});

// ---------------------------------------------------------------- HTTP

function targetPort(target) {
  if (typeof target === 'number') return target;
  if (target && typeof target.port === 'number') return target.port;
  throw new Error('request target must be a daemon or a port');
}

function collect(res, done) {
  const chunks = [];
  const out = (complete) => {
    const raw = Buffer.concat(chunks);
    const text = raw.toString('utf8');
    let json;
    try {
      json = JSON.parse(text);
    } catch {
      json = undefined;
    }
    done({ status: res.statusCode, headers: res.headers, raw, text, json, complete });
  };
  res.on('data', (c) => chunks.push(c));
  res.on('end', () => out(true));
  res.on('error', () => out(false));
  res.on('close', () => out(res.complete));
}

// One HTTP/1.1 request to 127.0.0.1:port on a fresh connection (no pooling).
// tls: {ca, cert, key} (PEM) makes it an https request, verifying the
// server's certificate against ca; a daemon started with clientTls uses
// those unless tls is given (tls: null forces plain HTTP).
// body: string or Buffer, sent with Content-Length. chunks: array of strings
// or Buffers, sent with Transfer-Encoding: chunked (no Content-Length).
// Resolves {status, headers, raw, text, json, complete}; rejects on a
// connection error before any response arrived. A server that answers early
// (413) may reset the connection while the body is still being written: the
// response, once it came, is what counts.
//
// expectContinue: send `Expect: 100-continue` and the body only after the
// server's 100 (or after 1 s without an answer, as curl does). A server that
// refuses a body by its Content-Length (413) then answers before any of it is
// sent, instead of racing a client that is still writing.
// request() checks every answer from the API and the probes against
// docs/openapi.yaml (openapi.mjs) and rejects on a mismatch; openapi: false
// skips that for a request that is meant to be outside the description (a
// wrong method, an unknown path, a broken request).
export async function request(target, method, pathAndQuery, opts = {}) {
  const r = await rawRequest(target, method, pathAndQuery, opts);
  if (opts.openapi !== false && coveredPath(pathAndQuery.split('?')[0]) && r.complete !== false)
    checkAnswer(method, pathAndQuery, r);
  return r;
}

function rawRequest(
  target,
  method,
  pathAndQuery,
  { headers = {}, body, chunks, expectContinue = false, timeoutMs = 10000, tls, localAddress } = {},
) {
  const port = targetPort(target);
  const tlsOpts = tls !== undefined ? tls : target && typeof target === 'object' ? target.tls : undefined;
  return new Promise((resolve, reject) => {
    let settled = false;
    let gotResponse = false;
    const settle = (fn, v) => {
      if (!settled) {
        settled = true;
        fn(v);
      }
    };
    // localAddress: another loopback source address (127.0.0.2), for per-client limits
    const reqOpts = { host: HOST, port, method, path: pathAndQuery, headers: { ...headers }, agent: false, localAddress };
    const req = (tlsOpts ? https : http).request(
      tlsOpts ? { ...reqOpts, ...tlsOpts } : reqOpts,
      (res) => {
        gotResponse = true;
        collect(res, (r) => settle(resolve, r));
      },
    );
    req.setTimeout(timeoutMs, () => req.destroy(new Error(`timeout after ${timeoutMs} ms`)));
    req.on('error', (e) => {
      if (!gotResponse) settle(reject, e);
    });
    if (chunks) {
      for (const c of chunks) req.write(c);
      req.end();
    } else if (body !== undefined && expectContinue) {
      const buf = Buffer.isBuffer(body) ? body : Buffer.from(body, 'utf8');
      req.setHeader('Content-Length', buf.length);
      req.setHeader('Expect', '100-continue');
      let sent = false;
      const send = () => {
        if (!sent && !gotResponse) {
          sent = true;
          req.end(buf);
        }
      };
      const t = setTimeout(send, 1000);
      req.on('continue', () => {
        clearTimeout(t);
        send();
      });
      req.on('response', (res) => {
        clearTimeout(t);
        // Answered without asking for the body: drop the connection once read.
        if (!sent) res.on('end', () => req.destroy());
      });
      req.flushHeaders();
    } else if (body !== undefined) {
      const buf = Buffer.isBuffer(body) ? body : Buffer.from(body, 'utf8');
      req.setHeader('Content-Length', buf.length);
      req.end(buf);
    } else {
      req.end();
    }
  });
}

// POST /in/{source} with a JSON body. With `secret`, the body is signed with
// @octokit/webhooks-methods (sha256=<hex>, Meta's and GitHub's format);
// `signature` sets the header verbatim instead; neither: no signature header.
// expectContinue: see request().
export async function postSigned(target, source, body, { secret, signature, headers = {}, chunks, expectContinue } = {}) {
  const h = { 'Content-Type': 'application/json', ...headers };
  if (signature !== undefined) h['X-Hub-Signature-256'] = signature;
  else if (secret !== undefined) h['X-Hub-Signature-256'] = await sign(secret, body);
  if (chunks) return request(target, 'POST', `/in/${source}`, { headers: h, chunks });
  return request(target, 'POST', `/in/${source}`, { headers: h, body, expectContinue });
}

// ---------------------------------------------------------------- payloads

// A WhatsApp Cloud API notification with the given messages and statuses
// (messages: [{id, timestamp?, text?, from?}]).
export function whatsappBody({ messages = [], statuses = [], marker = '' } = {}) {
  const value = {
    messaging_product: 'whatsapp',
    metadata: { display_phone_number: '15550001111', phone_number_id: '123456789' },
  };
  if (messages.length) {
    value.contacts = [{ profile: { name: 'Test User' }, wa_id: '15551234567' }];
    value.messages = messages.map((m) => ({
      from: m.from ?? '15551234567',
      id: m.id,
      timestamp: String(m.timestamp ?? 1700000000),
      text: { body: m.text ?? `hello ${marker}` },
      type: 'text',
    }));
  }
  if (statuses.length) {
    value.statuses = statuses.map((s) => ({
      id: s.id,
      status: s.status ?? 'delivered',
      timestamp: String(s.timestamp ?? 1700000000),
      recipient_id: '15551234567',
    }));
  }
  return JSON.stringify({
    object: 'whatsapp_business_account',
    entry: [{ id: '102290129340398', changes: [{ value, field: 'messages' }] }],
  });
}

// Polls cond() (sync or async) until truthy or timeoutMs passes; returns its last value.
export async function waitFor(cond, { timeoutMs = 3000, intervalMs = 25 } = {}) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await cond();
    if (v || Date.now() > deadline) return v;
    await sleep(intervalMs);
  }
}

// Runs fn over items with at most `limit` in flight; resolves when all settled.
export async function pool(items, limit, fn) {
  let next = 0;
  const workers = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const i = next++;
      await fn(items[i], i);
    }
  });
  await Promise.all(workers);
}

// ---------------------------------------------------------------- tools

// sqlite() on a file that a PostgreSQL database stands in for. `.backup
// 'COPY'` becomes a copy of the database (the daemon must have stopped)
// that then stands in for COPY.
async function pgStandIn(dbPath, sql) {
  const uri = pgByFile.get(dbPath);
  const backup = /^\.backup\s+'([^']+)'\s*$/.exec(sql.trim());
  if (backup) {
    const name = `hg_e2e_${createHash('sha256').update(backup[1]).digest('hex').slice(0, 24)}`;
    const r = await psql(E2E_STORE, `CREATE DATABASE ${name} TEMPLATE ${new URL(uri).pathname.slice(1)}`);
    if (r.code !== 0) throw new Error(`copy of ${dbPath} failed: ${r.stderr}`);
    pgByFile.set(backup[1], pgUriFor(name));
    return '';
  }
  const r = await psql(uri, pgSql(sql));
  if (r.code !== 0) throw new Error(`psql (for ${dbPath}) "${sql}" exited ${r.code}: ${r.stderr}`);
  return r.stdout.trim();
}

// Runs a program (not hookgate) to completion; resolves {code, stdout, stderr}.
// `sqlite3 FILE SQL` on a file a PostgreSQL database stands in for runs SQL
// there with psql instead (see the store section).
export function runTool(file, args, { input, timeoutMs = 15000, env } = {}) {
  if (file === 'sqlite3' && args.length === 2 && pgByFile.has(args[0])) {
    return psql(pgByFile.get(args[0]), pgSql(args[1]));
  }
  return new Promise((resolve, reject) => {
    const child = execFile(
      file,
      args,
      { timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024, env: env ? { ...process.env, ...env } : process.env },
      (err, stdout, stderr) => {
        if (err && typeof err.code !== 'number') reject(new Error(`${file} ${args.join(' ')}: ${err.message}\n${stderr}`));
        else resolve({ code: err ? err.code : 0, stdout, stderr });
      },
    );
    if (input !== undefined) child.stdin.end(input);
    else child.stdin.end();
  });
}

// Runs SQL on a SQLite file with the sqlite3 CLI (waiting up to 5 s for a
// lock) and returns its output, trimmed; throws when sqlite3 fails.
export async function sqlite(dbPath, sql) {
  if (pgByFile.has(dbPath)) return pgStandIn(dbPath, sql);
  const r = await runTool('sqlite3', ['-cmd', '.timeout 5000', dbPath, sql]);
  if (r.code !== 0) throw new Error(`sqlite3 ${dbPath} "${sql}" exited ${r.code}: ${r.stderr}`);
  return r.stdout.trim();
}

// `hookgate sign --scheme NAME ...` over body (the secret passes through the
// environment, never argv); resolves the printed headers as {Name: value}.
// opts: url, timestamp, id, header, algorithm, encoding, prefix.
export async function cliSign(scheme, secret, body, opts = {}) {
  const args = ['sign', '--scheme', scheme, '--secret-env', 'HG_E2E_SIGN_SECRET'];
  for (const k of ['url', 'timestamp', 'id', 'header', 'algorithm', 'encoding', 'prefix']) {
    if (opts[k] !== undefined) args.push(`--${k}`, String(opts[k]));
  }
  args.push('-');
  const r = await runCli(args, { env: { HG_E2E_SIGN_SECRET: secret }, input: body });
  if (r.code !== 0) throw new Error(`hookgate ${args.join(' ')} exited ${r.code}: ${r.stderr}`);
  const headers = {};
  for (const line of r.stdout.split('\n')) {
    if (line.trim() === '') continue;
    const i = line.indexOf(':');
    if (i <= 0) throw new Error(`hookgate sign printed a line that is not a header: ${JSON.stringify(line)}`);
    headers[line.slice(0, i).trim()] = line.slice(i + 1).trim();
  }
  return headers;
}

// ---------------------------------------------------------------- sinks

// An HTTP server on 127.0.0.1 that records every request it gets ({t (ms,
// performance.now()), path, headers, raw (Buffer), body (text),
// answeredAt}) and answers what answer(path, n) says (n: the requests to
// that path so far): {status = 200, body = '', headers = {}, delayMs = 0}.
// Returns {requests, on(path) (those to path), url(path), close()} (close
// resolves once the server is down).
export async function startSink(answer = () => ({})) {
  const requests = [];
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', async () => {
      const raw = Buffer.concat(chunks);
      const r = { t: performance.now(), path: req.url, headers: req.headers, raw, body: raw.toString('utf8') };
      requests.push(r);
      const out = answer(r.path, requests.filter((x) => x.path === r.path).length) ?? {};
      if (out.delayMs) await new Promise((resolve) => setTimeout(resolve, out.delayMs));
      r.answeredAt = performance.now();
      res.writeHead(out.status ?? 200, out.headers ?? {}).end(out.body ?? '');
    });
  });
  await new Promise((resolve) => server.listen(0, HOST, resolve));
  return {
    requests,
    on: (p) => requests.filter((r) => r.path === p),
    url: (p = '/') => `http://${HOST}:${server.address().port}${p}`,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
