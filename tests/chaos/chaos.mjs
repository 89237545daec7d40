#!/usr/bin/env node
// chaos.mjs — `make chaos`: the real daemon under mixed load, killed with
// SIGKILL at random moments and restarted on the same SQLite store, then
// checked for loss; and two store failures: a full disk and the store file
// removed while running. Long (minutes), so not part of `make test` or CI.
// docs/reliability.md describes the run and records its figures.
//
// Scenarios (CHAOS_SCENARIOS, comma-separated; default all):
//   kill     CHAOS_CYCLES (20) times: load for a random time, kill -9,
//            check the file's integrity (on a copy), restart on the same
//            store. Then one more restart, a bounded drain, and the counts.
//   disk     the store on a small tmpfs (root: mount -t tmpfs), filled by a
//            filler file and ingest until 503; the filler removed; recovery;
//            CHAOS_DISK_ROUNDS (3) times. Without mount (or with
//            CHAOS_DISK_MODE=fsize): a file-size limit (prlimit --fsize),
//            raised on the running process instead of removing a filler.
//   removed  the store file (and its -wal, -shm) removed while running.
//
// Knobs (environment): CHAOS_CYCLES, CHAOS_SEED, CHAOS_CONCURRENCY (6),
// CHAOS_MIN_UP_MS (200), CHAOS_MAX_UP_MS (3000), CHAOS_DRAIN_S (180),
// CHAOS_TIMEOUT_S (1800, the whole run), CHAOS_DISK_MB (8), CHAOS_DISK_ROUNDS (3),
// CHAOS_DISK_MODE=fsize,
// CHAOS_SCENARIOS, CHAOS_KEEP=1 (keep the temp dirs), CHAOS_JSON=FILE (the
// summary as JSON). HOOKGATE_BIN: the binary (default build/hookgate).
//
// Network: every socket goes to 127.0.0.1 — the daemon listens there, the
// sinks listen there, the endpoints and subscriptions name only
// 127.0.0.1 (egress_allow: [127.0.0.1/32]); assertLoopback() refuses
// anything else before a config is written. Every loop is bounded in count
// and time. Daemons are killed, sinks closed and the tmpfs unmounted on any
// exit, also on failure or Ctrl-C.

import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, rmSync, statfsSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

import {
  BIN,
  HOST,
  makeTempDir,
  postSigned,
  removeDir,
  request,
  runCli,
  runTool,
  sqlite,
  startDaemon,
  waitFor,
} from '../e2e/helpers.mjs';

// ---------------------------------------------------------------- knobs

const envInt = (name, dflt) => {
  const v = process.env[name];
  if (v === undefined || v === '') return dflt;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new Error(`${name}: expected a whole number, got ${v}`);
  return n;
};
const CYCLES = envInt('CHAOS_CYCLES', 20);
const SEED = envInt('CHAOS_SEED', randomBytes(4).readUInt32LE(0));
const CONCURRENCY = Math.max(1, envInt('CHAOS_CONCURRENCY', 6));
const MIN_UP_MS = envInt('CHAOS_MIN_UP_MS', 200);
const MAX_UP_MS = Math.max(MIN_UP_MS, envInt('CHAOS_MAX_UP_MS', 3000));
const DRAIN_S = envInt('CHAOS_DRAIN_S', 180);
const TIMEOUT_S = envInt('CHAOS_TIMEOUT_S', 1800);
const DISK_MB = Math.max(4, envInt('CHAOS_DISK_MB', 8));
const DISK_ROUNDS = Math.max(1, envInt('CHAOS_DISK_ROUNDS', 3));
const KEEP = process.env.CHAOS_KEEP === '1';
const SCENARIOS = (process.env.CHAOS_SCENARIOS || 'kill,disk,removed').split(',').map((s) => s.trim());
for (const s of SCENARIOS) {
  if (!['kill', 'disk', 'removed'].includes(s)) throw new Error(`CHAOS_SCENARIOS: unknown scenario ${s}`);
}

// ---------------------------------------------------------------- helpers

// mulberry32: a small seeded PRNG, so a run's choices repeat with CHAOS_SEED
// (the kill moments still depend on timing).
function prng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const rand = prng(SEED);
const randInt = (lo, hi) => lo + Math.floor(rand() * (hi - lo + 1));
const pick = (arr) => arr[Math.floor(rand() * arr.length)];
const sha3 = (buf) => createHash('sha3-256').update(buf).digest('hex');

const t0 = Date.now();
const log = (...a) => console.log(`[chaos ${((Date.now() - t0) / 1000).toFixed(1).padStart(6)}s]`, ...a);

function assertLoopback(url) {
  const u = new URL(url);
  if (u.hostname !== HOST) throw new Error(`refusing a non-loopback address: ${url}`);
  return url;
}

// ---------------------------------------------------------------- cleanup

const cleanups = []; // async, newest first
const mounts = new Set(); // tmpfs mount points still mounted
const tempDirs = [];

function unmountAllSync() {
  for (const m of mounts) {
    try {
      execFileSync('umount', [m], { stdio: 'ignore' });
    } catch {
      try {
        execFileSync('umount', ['-l', m], { stdio: 'ignore' });
      } catch {
        /* reported below */
      }
    }
    mounts.delete(m);
  }
}

let cleaning = null;
function cleanup() {
  cleaning ??= (async () => {
    for (const fn of cleanups.reverse()) {
      try {
        await fn();
      } catch (e) {
        console.error(`cleanup: ${e.message}`);
      }
    }
    unmountAllSync();
    if (!KEEP) for (const d of tempDirs) removeDir(d);
    else if (tempDirs.length) log(`kept: ${tempDirs.join(' ')}`);
  })();
  return cleaning;
}
// helpers.mjs kills every daemon it started on 'exit'; the mounts go too.
process.on('exit', unmountAllSync);
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(sig, () => {
    console.error(`\n${sig}: cleaning up`);
    cleanup().finally(() => process.exit(130));
  });
}

function tempDir(prefix) {
  const d = makeTempDir(prefix);
  tempDirs.push(d);
  return d;
}

// ---------------------------------------------------------------- sinks

// A loopback HTTP server. mode(): 'ok' answers 200; 'flap' answers 200,
// 500 or drops the connection without an answer, at random. Each request
// is recorded under the key its path names: /in -> the inbound delivery's
// X-Hookgate-Message-Id, /out -> the outbound X-Webhook-Delivery-ID.
async function startSink(name, flap) {
  const sink = { name, requests: 0, ok: 0, err500: 0, dropped: 0, got: new Map() };
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      sink.requests += 1;
      const body = Buffer.concat(chunks);
      const p = req.url.split('?')[0];
      const id = p.endsWith('/in') ? req.headers['x-hookgate-message-id'] : req.headers['x-webhook-delivery-id'];
      const r = flap ? rand() : 0;
      if (r >= 0.7) {
        sink.dropped += 1;
        req.socket.destroy();
        return;
      }
      if (r >= 0.4) {
        sink.err500 += 1;
        res.writeHead(500).end('flap');
        return;
      }
      sink.ok += 1;
      const key = `${p}|${id}`;
      const seen = sink.got.get(key);
      if (seen) seen.n += 1;
      else sink.got.set(key, { n: 1, hash: sha3(body) });
      res.writeHead(200, { 'Content-Type': 'text/plain' }).end('ok');
    });
  });
  server.keepAliveTimeout = 2000;
  await new Promise((resolve) => server.listen(0, HOST, resolve));
  sink.port = server.address().port;
  sink.url = (p) => assertLoopback(`http://${HOST}:${sink.port}${p}`);
  sink.close = () =>
    new Promise((resolve) => {
      server.closeAllConnections?.();
      server.close(() => resolve());
    });
  cleanups.push(sink.close);
  return sink;
}

// ---------------------------------------------------------------- the daemon

const SECRET = `chaos-${randomBytes(12).toString('hex')}`;
const ADMIN = `chaos-admin-${randomBytes(16).toString('hex')}`;
const ENV = { CHAOS_SECRET: SECRET, CHAOS_ADMIN: ADMIN };
const RETRY = '{attempts: 40, base: 50ms, factor: 2, max_delay: 1s}';

// The config's extra YAML: the API, outbound on loopback, and the inbound
// source's endpoints (none when endpoints is empty).
function extraYaml(endpoints) {
  const lines = [
    'admin_token_env: CHAOS_ADMIN',
    'event_types: [chaos.tick, chaos.tock]',
    'allow_http: true',
    'egress_allow: [127.0.0.1/32]',
    `outbound: {retry: ${RETRY}, timeout: 2s}`,
  ];
  if (endpoints.length) {
    lines.push('endpoints:');
    for (const e of endpoints) {
      lines.push(`  - name: ${e.name}`, `    url: ${assertLoopback(e.url)}`, '    timeout: 2s', `    retry: ${RETRY}`);
    }
  }
  return lines.join('\n') + '\n';
}

function source(routes) {
  return { name: 'chaos', provider: 'meta', secret_env: 'CHAOS_SECRET', ...(routes.length ? { routes } : {}) };
}

async function start(dir, endpoints, opts = {}) {
  const d = await startDaemon({
    dir,
    sources: [source(endpoints.map((e) => e.name))],
    env: ENV,
    extra: extraYaml(endpoints),
    readyTimeoutMs: 60000,
    ...opts,
  });
  cleanups.push(() => d.cleanup());
  return d;
}

function api(d, method, p, body) {
  const headers = { Authorization: `Bearer ${ADMIN}` };
  let payload;
  if (body !== undefined) {
    headers['Content-Type'] = 'application/json';
    payload = JSON.stringify(body);
  }
  return request(d, method, p, { headers, body: payload });
}

let seq = 0;
const RUN = randomBytes(4).toString('hex');
function inboundBody(tag, padTo = randInt(100, 2000)) {
  const n = ++seq;
  return JSON.stringify({
    object: 'instagram',
    entry: [{ id: `${RUN}-${tag}-${n}`, time: 1700000000 + n, changes: [{ field: 'comments', value: { text: 'x'.repeat(padTo) } }] }],
  });
}

const dbOf = (dir) => path.join(dir, 'hookgate.db');

async function integrity(file) {
  const r = await runTool('sqlite3', ['-cmd', '.timeout 5000', file, 'PRAGMA integrity_check']);
  return r.code === 0 ? r.stdout.trim() : `sqlite3 exited ${r.code}: ${r.stderr.trim()}`;
}

// integrity_check on a copy of the database and its WAL, so the daemon
// restarted afterwards still does its own recovery of the crashed file.
async function integrityOfCopy(dir, scratch) {
  rmSync(scratch, { recursive: true, force: true });
  mkdirSync(scratch, { recursive: true });
  for (const suffix of ['', '-wal']) {
    const f = dbOf(dir) + suffix;
    if (existsSync(f)) copyFileSync(f, path.join(scratch, 'hookgate.db' + suffix));
  }
  const out = await integrity(path.join(scratch, 'hookgate.db'));
  rmSync(scratch, { recursive: true, force: true });
  return out;
}

async function auditVerify(d) {
  const r = await runCli(['audit', 'verify', '-c', d.configPath], { env: ENV, timeoutMs: 60000 });
  return { ok: r.code === 0, text: (r.stdout + r.stderr).trim() };
}

const failures = [];
function fail(what) {
  failures.push(what);
  log(`FAIL: ${what}`);
}

// ================================================================ kill -9

async function scenarioKill() {
  const out = { cycles: CYCLES };
  const dir = tempDir('hookgate-chaos-kill-');
  const steady = await startSink('steady', false);
  const flappy = await startSink('flappy', true);
  const endpoints = [
    { name: 'steady', url: steady.url('/steady/in') },
    { name: 'flappy', url: flappy.url('/flap/in') },
  ];

  // Two subscriptions, one per sink, made once; they live in the store.
  let d = await start(dir, endpoints);
  const subs = {};
  for (const [name, sink, p] of [['steady', steady, '/steady/out'], ['flappy', flappy, '/flap/out']]) {
    const r = await api(d, 'POST', '/api/v1/webhooks', {
      owner_id: 'chaos-owner',
      url: sink.url(p),
      events: ['chaos.*'],
      description: `chaos ${name}`,
    });
    if (r.status !== 201) throw new Error(`create subscription: ${r.status} ${r.text}`);
    subs[`sub:${r.json.data.id}`] = { sink, path: p };
  }
  // endpoint name -> where its receipts are recorded, and under which id
  const receiptKey = (endpoint, deliveryId, messageId) => {
    if (endpoint === 'steady') return [steady, `/steady/in|${messageId}`];
    if (endpoint === 'flappy') return [flappy, `/flap/in|${messageId}`];
    const s = subs[endpoint];
    return s ? [s.sink, `${s.path}|${deliveryId}`] : [null, null];
  };

  const acked = new Map(); // inbound entry id -> {id, body, hash}
  const ackedList = [];
  const events = new Map(); // idempotency key -> {id, deliveries}
  const eventList = [];
  const st = {
    ingestAccepted: 0,
    ingestSent: 0,
    publishSent: 0,
    publishAccepted: 0,
    dupChecks: 0,
    republishChecks: 0,
    apiReads: 0,
    connErrors: 0,
    status: {},
    incomplete200: 0,
  };
  const bump = (k) => (st.status[k] = (st.status[k] ?? 0) + 1);

  async function oneOp(cur) {
    const r0 = rand();
    if (r0 < 0.6 || ackedList.length === 0) {
      const body = inboundBody('k');
      st.ingestSent += 1;
      const r = await postSigned(cur, 'chaos', body, { secret: SECRET });
      bump(`in ${r.status}`);
      if (r.status === 200 && r.complete !== false && r.json?.status === 'accepted') {
        const e = { id: r.json.id, body, hash: sha3(body) };
        acked.set(JSON.parse(body).entry[0].id, e);
        ackedList.push(e);
        st.ingestAccepted += 1;
      } else if (r.status === 200 && r.complete === false) {
        st.incomplete200 += 1;
      } else if (r.status === 200) {
        fail(`a new event answered ${r.text}`);
      } else if (r.status !== 503) {
        fail(`ingest answered ${r.status} ${r.text}`);
      }
    } else if (r0 < 0.85 || eventList.length === 0) {
      const key = `chaos-${RUN}-${++seq}`;
      const event = rand() < 0.5 ? 'chaos.tick' : 'chaos.tock';
      st.publishSent += 1;
      const r = await api(cur, 'POST', '/api/v1/events', { event, data: { n: seq, run: RUN }, idempotency_key: key });
      bump(`publish ${r.status}`);
      if (r.status === 202 && r.complete !== false && r.json?.success && !r.json.data.duplicate) {
        const e = { key, id: r.json.data.id, deliveries: r.json.data.deliveries };
        if (e.deliveries !== 2) fail(`publish ${e.id}: ${e.deliveries} deliveries, expected 2`);
        events.set(key, e);
        eventList.push(e);
        st.publishAccepted += 1;
      } else if (r.status === 202 && r.complete !== false) {
        fail(`a new event was published as ${r.text}`);
      } else if (r.status !== 503 && r.status !== 202) {
        fail(`publish answered ${r.status} ${r.text}`);
      }
    } else if (r0 < 0.93) {
      // an acknowledged event again: a duplicate of the same id
      const e = pick(ackedList);
      const r = await postSigned(cur, 'chaos', e.body, { secret: SECRET });
      bump(`repost ${r.status}`);
      if (r.status === 200 && r.complete !== false) {
        st.dupChecks += 1;
        if (r.json?.status !== 'duplicate' || r.json.id !== e.id) {
          fail(`acknowledged ${e.id}, re-posted: ${r.text} (LOST: stored as new)`);
        }
      } else if (r.status !== 503 && r.status !== 200) fail(`re-post answered ${r.status} ${r.text}`);
    } else if (r0 < 0.97) {
      const e = pick(eventList);
      const r = await api(cur, 'POST', '/api/v1/events', { event: 'chaos.tick', data: {}, idempotency_key: e.key });
      bump(`republish ${r.status}`);
      if (r.status === 202 && r.complete !== false) {
        st.republishChecks += 1;
        if (!r.json?.data?.duplicate || r.json.data.id !== e.id) {
          fail(`published ${e.id}, published again: ${r.text} (LOST: stored as new)`);
        }
      } else if (r.status !== 503 && r.status !== 202) fail(`re-publish answered ${r.status} ${r.text}`);
    } else {
      const e = pick(ackedList);
      const r = await api(cur, 'GET', `/api/v1/messages/${e.id}`);
      bump(`read ${r.status}`);
      if (r.status === 200 && r.complete !== false) {
        st.apiReads += 1;
        if (r.json?.id !== e.id) fail(`GET ${e.id}: ${r.text.slice(0, 200)}`);
      } else if (r.status === 404) {
        fail(`GET /api/v1/messages/${e.id}: 404 for an acknowledged message (LOST)`);
      } else if (r.status !== 503) fail(`GET message answered ${r.status} ${r.text.slice(0, 200)}`);
    }
  }

  // Load until the kill; each worker stops after the request it has in flight.
  async function load(cur, stopAt) {
    const workers = Array.from({ length: CONCURRENCY }, async () => {
      while (!stopAt.stopped) {
        try {
          await oneOp(cur);
        } catch {
          st.connErrors += 1; // refused or reset by the kill: never acknowledged
        }
      }
    });
    await Promise.all(workers);
  }

  const integrityAfterKill = [];
  const cycleLog = [];
  const scratch = path.join(dir, '..', path.basename(dir) + '-copy');
  tempDirs.push(scratch);
  for (let c = 1; c <= CYCLES; c++) {
    const upMs = randInt(MIN_UP_MS, MAX_UP_MS);
    const before = st.ingestAccepted + st.publishAccepted;
    const stopAt = { stopped: false };
    const loading = load(d, stopAt);
    await sleep(upMs);
    const exit = await d.kill9();
    stopAt.stopped = true;
    await loading;
    if (exit.signal !== 'SIGKILL') fail(`cycle ${c}: the daemon had exited before the kill (${JSON.stringify(exit)})\n${d.stderr().slice(-2000)}`);
    const ic = await integrityOfCopy(dir, scratch);
    integrityAfterKill.push(ic);
    if (ic !== 'ok') fail(`cycle ${c}: integrity_check after kill -9: ${ic}`);
    const ackedNow = st.ingestAccepted + st.publishAccepted - before;
    cycleLog.push({ cycle: c, upMs, acked: ackedNow });
    log(`cycle ${c}/${CYCLES}: up ${upMs} ms, ${ackedNow} acknowledged, kill -9, integrity ${ic}`);
    const started = Date.now();
    d = await start(dir, endpoints);
    cycleLog[cycleLog.length - 1].restartMs = Date.now() - started;
  }

  // The last restart is up; nothing more is sent. Drain, bounded.
  log(`drain: waiting up to ${DRAIN_S} s for every delivery to finish`);
  const db = dbOf(dir);
  const drainStart = Date.now();
  const open = async () => Number(await sqlite(db, "SELECT count(*) FROM deliveries WHERE status NOT IN ('succeeded','dead')"));
  let left = await open();
  while (left > 0 && Date.now() - drainStart < DRAIN_S * 1000) {
    await sleep(1000);
    left = await open();
  }
  out.drainSeconds = Math.round((Date.now() - drainStart) / 100) / 10;
  log(`drain: ${left} deliveries still open after ${out.drainSeconds} s`);

  // A sample of acknowledged events through the restarted daemon.
  let sampleDup = 0;
  for (let i = 0; i < Math.min(200, ackedList.length); i++) {
    const e = pick(ackedList);
    const r = await postSigned(d, 'chaos', e.body, { secret: SECRET });
    if (r.status === 200 && r.json?.status === 'duplicate' && r.json.id === e.id) sampleDup += 1;
    else fail(`after the drain, acknowledged ${e.id} re-posted: ${r.status} ${r.text} (LOST)`);
  }
  let sampleRead = 0;
  for (let i = 0; i < Math.min(50, ackedList.length); i++) {
    const e = pick(ackedList);
    const r = await api(d, 'GET', `/api/v1/messages/${e.id}`);
    if (r.status === 200 && r.json?.id === e.id) sampleRead += 1;
    else fail(`after the drain, GET /api/v1/messages/${e.id}: ${r.status} ${r.text.slice(0, 200)} (LOST)`);
  }

  const term = await d.stop({ timeoutMs: 20000 });
  if (term.code !== 0) fail(`final SIGTERM: ${JSON.stringify(term)}`);

  // ---- the counts, from the file
  const msgRows = (await sqlite(db, "SELECT id, source, hex(sha3(body, 256)) FROM messages"))
    .split('\n')
    .filter(Boolean)
    .map((l) => l.split('|'));
  const msgs = new Map(msgRows.map(([id, src, h]) => [id, { src, hash: h.toLowerCase() }]));
  const delRows = (await sqlite(db, 'SELECT id, message_id, endpoint, status FROM deliveries'))
    .split('\n')
    .filter(Boolean)
    .map((l) => l.split('|'));
  const delByMsg = new Map();
  for (const [id, mid, endpoint, status] of delRows) {
    if (!delByMsg.has(mid)) delByMsg.set(mid, []);
    delByMsg.get(mid).push({ id, endpoint, status });
  }

  const lost = { inbound: 0, events: 0, deliveries: 0, corrupt: 0, succeededUnseen: 0 };
  const delStatus = {};
  let checkedDeliveries = 0;
  let bodyChecks = 0;
  const checkDeliveries = (mid, expectEndpoints, expectCount, origHash) => {
    const ds = delByMsg.get(mid) ?? [];
    if (expectEndpoints) {
      for (const ep of expectEndpoints) {
        if (!ds.some((x) => x.endpoint === ep)) {
          lost.deliveries += 1;
          fail(`message ${mid}: no delivery to ${ep} (LOST)`);
        }
      }
    }
    if (expectCount !== undefined && ds.length !== expectCount) {
      lost.deliveries += Math.max(0, expectCount - ds.length);
      fail(`event ${mid}: ${ds.length} deliveries in the store, ${expectCount} acknowledged`);
    }
    for (const x of ds) {
      checkedDeliveries += 1;
      delStatus[x.status] = (delStatus[x.status] ?? 0) + 1;
      if (x.status === 'succeeded') {
        const [sink, key] = receiptKey(x.endpoint, x.id, mid);
        const got = sink?.got.get(key);
        if (!got) {
          lost.succeededUnseen += 1;
          fail(`delivery ${x.id} (${x.endpoint}) is succeeded but its sink never answered 200 for it`);
        } else if (origHash && !x.endpoint.startsWith('sub:')) {
          bodyChecks += 1;
          if (got.hash !== origHash) {
            lost.corrupt += 1;
            fail(`delivery ${x.id} (${x.endpoint}): the sink got a different body`);
          }
        }
      } else if (x.status === 'dead') {
        fail(`delivery ${x.id} (${x.endpoint}) of ${mid} is dead after 40 attempts`);
      }
    }
  };
  for (const e of ackedList) {
    const m = msgs.get(e.id);
    if (!m) {
      lost.inbound += 1;
      fail(`acknowledged inbound message ${e.id} is not in the store (LOST)`);
      continue;
    }
    if (m.hash !== e.hash) {
      lost.corrupt += 1;
      fail(`acknowledged inbound message ${e.id}: the stored body differs`);
    }
    checkDeliveries(e.id, ['steady', 'flappy'], undefined, e.hash);
  }
  for (const e of eventList) {
    if (!msgs.has(e.id)) {
      lost.events += 1;
      fail(`published event ${e.id} is not in the store (LOST)`);
      continue;
    }
    checkDeliveries(e.id, null, e.deliveries);
  }
  // Stored but never acknowledged (the answer died with the process): allowed.
  const ackedIds = new Set([...ackedList.map((e) => e.id), ...eventList.map((e) => e.id)]);
  const unackedStored = msgRows.filter(([id]) => !ackedIds.has(id)).length;
  const sinkDup = (s) => [...s.got.values()].filter((g) => g.n > 1).length;
  const receipts = (s) => [...s.got.values()].reduce((a, g) => a + g.n, 0);

  const ic = await integrity(db);
  if (ic !== 'ok') fail(`integrity_check at the end: ${ic}`);
  const audit = await auditVerify(d);
  if (!audit.ok) fail(`audit verify: ${audit.text}`);

  Object.assign(out, {
    seed: SEED,
    concurrency: CONCURRENCY,
    upMs: [MIN_UP_MS, MAX_UP_MS],
    requests: { ...st },
    acknowledged: { inbound: ackedList.length, published: eventList.length },
    storedWithoutAck: unackedStored,
    deliveriesOfAcknowledged: { total: checkedDeliveries, byStatus: delStatus, stillOpenAtEnd: left },
    deliveriesInStore: delRows.length,
    bodyChecks,
    sinks: Object.fromEntries(
      [steady, flappy].map((s) => [
        s.name,
        { requests: s.requests, ok200: s.ok, err500: s.err500, dropped: s.dropped, distinct: s.got.size, receipts: receipts(s), receivedTwiceOrMore: sinkDup(s) },
      ]),
    ),
    lost,
    sampleAfterDrain: { repostedDuplicate: sampleDup, readViaApi: sampleRead },
    integrityAfterEachKill: integrityAfterKill.every((x) => x === 'ok') ? `ok x${integrityAfterKill.length}` : integrityAfterKill,
    integrityAtEnd: ic,
    audit: audit.text,
    finalSigterm: term.code === 0 ? 'exit 0' : JSON.stringify(term),
    restartMs: {
      max: Math.max(...cycleLog.map((x) => x.restartMs ?? 0)),
      median: cycleLog.map((x) => x.restartMs ?? 0).sort((a, b) => a - b)[Math.floor(cycleLog.length / 2)] ?? 0,
    },
    cycleLog,
  });
  return out;
}

// ================================================================ full disk

async function scenarioDisk() {
  const out = { rounds: DISK_ROUNDS };
  const dir = tempDir('hookgate-chaos-disk-');
  const mnt = path.join(dir, 'store');
  mkdirSync(mnt);
  let mode = process.env.CHAOS_DISK_MODE === 'fsize' ? 'fsize' : 'tmpfs';
  if (mode === 'tmpfs') {
    try {
      execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${DISK_MB}m,mode=0700`, 'tmpfs', mnt], { stdio: 'pipe' });
      mounts.add(mnt);
    } catch (e) {
      mode = 'fsize';
      log(`disk: cannot mount a tmpfs (${String(e.stderr ?? e.message).trim()}); using a file-size limit (prlimit --fsize) instead`);
    }
  }
  out.mode = mode === 'tmpfs' ? `tmpfs of ${DISK_MB} MiB, filled by a filler file` : 'prlimit --fsize on the daemon (no tmpfs)';
  // One route, so the delivery engine's writes meet the full disk too.
  const sink = await startSink('disk-sink', false);
  const endpoints = [{ name: 'steady', url: sink.url('/steady/in') }];
  let fsize = 2 * 1024 * 1024;
  const d = await start(mnt, endpoints, mode === 'fsize' ? { wrap: ['prlimit', `--fsize=${fsize}:unlimited`] } : {});
  const filler = path.join(mnt, 'filler');

  const sent = []; // {body, status, id, round}
  const rounds = [];
  for (let round = 1; round <= DISK_ROUNDS; round++) {
    const ro = { round };
    if (mode === 'tmpfs') {
      // Leave ~1 MiB: the database and its WAL grow into it, then stop.
      const s = statfsSync(mnt);
      const avail = Number(s.bavail) * Number(s.bsize);
      const size = Math.max(0, avail - 1024 * 1024);
      writeFileSync(filler, Buffer.alloc(size));
      ro.filler = `${(size / 1048576).toFixed(1)} MiB`;
    }
    // Ingest events of 1-64 KiB until 8 answers in a row are 503 (at most 400).
    let run503 = 0;
    let n = 0;
    for (; n < 400 && run503 < 8; n++) {
      const body = inboundBody(`disk${round}`, randInt(1024, 64 * 1024));
      const r = await postSigned(d, 'chaos', body, { secret: SECRET });
      sent.push({ body, status: r.status, id: r.json?.id, round });
      if (r.status === 503) run503 += 1;
      else run503 = 0;
      if (r.status === 200 && r.json?.status !== 'accepted') fail(`disk: a new event answered ${r.text}`);
      if (r.status !== 200 && r.status !== 503) fail(`disk: answered ${r.status} ${r.text}`);
      if (r.status === 503 && r.json?.error !== 'store unavailable') fail(`disk: 503 body ${r.text}`);
    }
    const mine = sent.filter((x) => x.round === round);
    ro.sent = mine.length;
    ro.accepted = mine.filter((x) => x.status === 200).length;
    ro.refused503 = mine.filter((x) => x.status === 503).length;
    const firstRefused = mine.findIndex((x) => x.status === 503);
    ro.acceptedAfterFirst503 = firstRefused < 0 ? 0 : mine.slice(firstRefused + 1).filter((x) => x.status === 200).length;
    if (ro.refused503 === 0) fail(`disk round ${round}: the disk never filled (no 503)`);
    ro.readyzWhileFull = (await request(d, 'GET', '/readyz')).status;
    if (ro.readyzWhileFull !== 503) fail(`disk round ${round}: /readyz while full: ${ro.readyzWhileFull}`);
    if (!d.running) {
      fail(`disk round ${round}: the daemon died on a full disk\n${d.stderr().slice(-2000)}`);
      break;
    }

    // Free space, and wait (bounded: 15 s) for a new event to be accepted.
    const freedAt = Date.now();
    if (mode === 'tmpfs') rmSync(filler);
    else {
      fsize += 2 * 1024 * 1024;
      // only the soft limit: raising a hard one needs CAP_SYS_RESOURCE
      execFileSync('prlimit', ['--pid', String(d.proc.pid), `--fsize=${fsize}:unlimited`]);
    }
    let recovered = null;
    let probes503 = 0;
    for (let i = 0; i < 150 && !recovered; i++) {
      const body = inboundBody('disk-probe', 100);
      const r = await postSigned(d, 'chaos', body, { secret: SECRET });
      sent.push({ body, status: r.status, id: r.json?.id, round });
      if (r.status === 200 && r.json?.status === 'accepted') recovered = { ms: Date.now() - freedAt };
      else if (r.status === 503) probes503 += 1;
      else fail(`disk recovery: ${r.status} ${r.text}`);
      if (!recovered) await sleep(100);
    }
    ro.recovery = recovered ? `200 again ${recovered.ms} ms after space was freed (${probes503} probes answered 503 first)` : 'NOT within 15 s';
    if (!recovered) fail(`disk round ${round}: no recovery within 15 s of freeing space`);
    ro.readyzAfter = (await request(d, 'GET', '/readyz')).status;
    if (ro.readyzAfter !== 200) fail(`disk round ${round}: /readyz after freeing space: ${ro.readyzAfter}`);
    log(`disk round ${round}: ${ro.accepted} accepted, ${ro.refused503} answered 503 (${ro.acceptedAfterFirst503} accepted after the first 503), /readyz ${ro.readyzWhileFull}; ${ro.recovery}`);
    rounds.push(ro);
  }
  out.roundsDetail = rounds;
  // Room for the re-posts below: the WAL keeps what the rounds wrote (it is
  // checkpointed at 8000 pages, more than the tmpfs holds).
  if (mode === 'fsize') execFileSync('prlimit', ['--pid', String(d.proc.pid), '--fsize=unlimited:unlimited']);
  else execFileSync('mount', ['-o', `remount,size=${DISK_MB * 4}m`, mnt]);

  // Every 200 still there (a duplicate of its id); every 503 was not stored (new now).
  const ok1 = sent.filter((x) => x.status === 200);
  const refused = sent.filter((x) => x.status === 503);
  let dupOk = 0;
  let newOk = 0;
  for (const x of sent) {
    const r = await postSigned(d, 'chaos', x.body, { secret: SECRET });
    if (x.status === 200) {
      if (r.status === 200 && r.json?.status === 'duplicate' && r.json.id === x.id) dupOk += 1;
      else fail(`disk: accepted ${x.id}, re-posted after the recovery: ${r.status} ${r.text} (LOST)`);
    } else if (x.status === 503) {
      if (r.status === 200 && r.json?.status === 'accepted') {
        newOk += 1;
        ok1.push({ ...x, id: r.json.id });
      } else fail(`disk: answered 503 while full, re-posted: ${r.status} ${r.text} (was it stored after all?)`);
    }
  }
  out.accepted = ok1.length - newOk;
  out.refused503 = refused.length;
  out.afterRecovery = { earlier200StillPresent: `${dupOk}/${ok1.length - newOk}`, earlier503NotStored: `${newOk}/${refused.length}` };
  // Every accepted event delivered once the disk had room again.
  const delivered = await waitFor(() => ok1.every((x) => sink.got.has(`/steady/in|${x.id}`)), { timeoutMs: 30000, intervalMs: 200 });
  out.delivered = `${ok1.filter((x) => sink.got.has(`/steady/in|${x.id}`)).length}/${ok1.length}`;
  if (!delivered) {
    const byStatus = await sqlite(dbOf(mnt), "SELECT status, count(*), max(attempts), min(next_attempt_ms) - CAST(strftime('%s','now') AS INTEGER) * 1000, group_concat(DISTINCT last_error) FROM deliveries GROUP BY status");
    const lines = d.logLines().filter((l) => l.msg !== undefined && !/^(request|delivery attempt)$/.test(l.msg)).slice(-30);
    fail(`disk: deliveries after the recovery: ${out.delivered} within 30 s; in the store (status|n|max attempts|next due in ms|errors):\n${byStatus}\nlog:\n${lines.map((l) => JSON.stringify(l)).join('\n')}`);
  }
  const term = await d.stop({ timeoutMs: 20000 });
  out.sigterm = term.code === 0 ? 'exit 0' : JSON.stringify(term);
  if (term.code !== 0) fail(`disk: SIGTERM: ${JSON.stringify(term)}`);
  out.integrity = await integrity(dbOf(mnt));
  if (out.integrity !== 'ok') fail(`disk: integrity_check: ${out.integrity}`);
  const audit = await auditVerify(d);
  out.audit = audit.text;
  if (!audit.ok) fail(`disk: audit verify: ${audit.text}`);
  if (mounts.has(mnt)) {
    execFileSync('umount', [mnt]);
    mounts.delete(mnt);
  }
  log(`disk: ${dupOk}/${ok1.length - newOk} accepted events present, ${newOk}/${refused.length} refused ones absent, delivered ${out.delivered}`);
  return out;
}

// ================================================================ removed file

async function scenarioRemoved() {
  const out = {};
  const dir = tempDir('hookgate-chaos-removed-');
  const sink = await startSink('removed-sink', false);
  const endpoints = [{ name: 'steady', url: sink.url('/steady/in') }];
  const d = await start(dir, endpoints);
  const db = dbOf(dir);
  const before = [];
  for (let i = 0; i < 20; i++) {
    const body = inboundBody('rm-before', 200);
    const r = await postSigned(d, 'chaos', body, { secret: SECRET });
    if (r.status !== 200 || r.json?.status !== 'accepted') fail(`removed: before: ${r.status} ${r.text}`);
    before.push({ body, id: r.json?.id });
  }
  await waitFor(() => before.every((b) => sink.got.has(`/steady/in|${b.id}`)), { timeoutMs: 10000, intervalMs: 100 });

  // Remove the file as an operator's `rm -f var/hookgate.db*` would.
  for (const s of ['', '-wal', '-shm']) rmSync(db + s, { force: true });
  const removedAt = Date.now();
  log('removed: hookgate.db, -wal and -shm removed while the daemon runs');

  // Post new events (one every 100 ms, at most 100) until 10 in a row are 200.
  const after = [];
  let run200 = 0;
  for (let i = 0; i < 100 && run200 < 10; i++) {
    const body = inboundBody('rm-after', 200);
    const r = await postSigned(d, 'chaos', body, { secret: SECRET });
    after.push({ body, status: r.status, id: r.json?.id, at: Date.now() - removedAt, text: r.text });
    if (r.status === 200) run200 += 1;
    else run200 = 0;
    if (r.status !== 200 && r.status !== 503) fail(`removed: answered ${r.status} ${r.text}`);
    if (r.status === 200 && r.json?.status !== 'accepted') fail(`removed: a new event answered ${r.text}`);
    await sleep(100);
  }
  const n503 = after.filter((x) => x.status === 503).length;
  const ok = after.filter((x) => x.status === 200);
  const firstOk = ok[0];
  out.afterRemoval = { sent: after.length, answered503: n503, answered200: ok.length, first503IsFirstAnswer: after[0]?.status === 503 };
  out.firstAcceptedAfterMs = firstOk ? firstOk.at : null;
  if (n503 === 0) fail('removed: no 503 after the file was removed');
  if (!existsSync(db)) fail('removed: no store file at the path after recovery');
  if (!d.running) fail(`removed: the daemon died\n${d.stderr().slice(-2000)}`);

  // Every 200 after the removal is in the file now at the path (no false 200).
  const inFile = new Set(
    (existsSync(db) ? await sqlite(db, 'SELECT id FROM messages') : '').split('\n').filter(Boolean),
  );
  const false200 = ok.filter((x) => !inFile.has(x.id));
  out.falseAcks = false200.length;
  for (const x of false200) fail(`removed: ${x.id} answered 200 at +${x.at} ms but is not in the store file (LOST)`);
  // ... delivered by the engine, and readable through the API.
  const delivered = await waitFor(() => ok.every((x) => sink.got.has(`/steady/in|${x.id}`)), { timeoutMs: 20000, intervalMs: 100 });
  out.deliveredAfterRecovery = `${ok.filter((x) => sink.got.has(`/steady/in|${x.id}`)).length}/${ok.length}`;
  if (!delivered) fail(`removed: deliveries of events accepted after the recovery: ${out.deliveredAfterRecovery} within 20 s`);
  // The API's readers check their handle at most once a second: allow 5 s.
  let readable = 0;
  for (const x of ok) {
    if (await waitFor(async () => (await api(d, 'GET', `/api/v1/messages/${x.id}`)).status === 200, { timeoutMs: 5000, intervalMs: 100 })) readable += 1;
  }
  out.readableViaApi = `${readable}/${ok.length}`;
  if (readable !== ok.length) fail(`removed: only ${readable}/${ok.length} accepted events readable through the API`);
  // What was answered 503 was stored nowhere: new now.
  let refusedNew = 0;
  for (const x of after.filter((y) => y.status === 503)) {
    const r2 = await postSigned(d, 'chaos', x.body, { secret: SECRET });
    if (r2.status === 200 && r2.json?.status === 'accepted') refusedNew += 1;
    else fail(`removed: answered 503 at +${x.at} ms, re-posted: ${r2.status} ${r2.text} (stored after all?)`);
  }
  out.refused503NotStored = `${refusedNew}/${n503}`;
  // The events acknowledged before the removal went with the file: a
  // re-post is a new event now (what the operator deleted is gone).
  const r = await postSigned(d, 'chaos', before[0].body, { secret: SECRET });
  out.repostOfEarlierEvent = `${r.status} ${r.json?.status}`;
  const ready = await request(d, 'GET', '/readyz');
  out.readyzAfter = ready.status;
  const logs = d.logLines().map((l) => l.msg).filter((m) => /store|healthy|re-open/.test(m ?? ''));
  out.logMessages = [...new Set(logs)];
  const term = await d.stop({ timeoutMs: 20000 });
  out.sigterm = term.code === 0 ? 'exit 0' : JSON.stringify(term);
  if (term.code !== 0) fail(`removed: SIGTERM: ${JSON.stringify(term)}`);
  out.integrity = await integrity(db);
  if (out.integrity !== 'ok') fail(`removed: integrity_check: ${out.integrity}`);
  const audit = await auditVerify(d);
  out.audit = audit.text;
  if (!audit.ok) fail(`removed: audit verify: ${audit.text}`);
  log(`removed: ${n503} answered 503, first 200 after ${out.firstAcceptedAfterMs} ms, ${false200.length} false 200s, delivered ${out.deliveredAfterRecovery}`);
  return out;
}

// ================================================================ main

async function main() {
  if (!existsSync(BIN)) throw new Error(`${BIN} does not exist: run make first`);
  const version = (await runCli(['version'])).stdout.trim();
  log(`hookgate ${version} (${BIN}); seed ${SEED}; scenarios ${SCENARIOS.join(',')}; cycles ${CYCLES}; concurrency ${CONCURRENCY}`);
  const summary = { version, seed: SEED, startedAt: new Date(t0).toISOString() };
  if (SCENARIOS.includes('kill')) summary.kill = await scenarioKill();
  if (SCENARIOS.includes('disk')) summary.disk = await scenarioDisk();
  if (SCENARIOS.includes('removed')) summary.removed = await scenarioRemoved();
  summary.seconds = Math.round((Date.now() - t0) / 1000);
  summary.failures = failures;
  return summary;
}

const guard = setTimeout(() => {
  fail(`the whole run took longer than CHAOS_TIMEOUT_S=${TIMEOUT_S} s`);
  cleanup().finally(() => process.exit(1));
}, TIMEOUT_S * 1000);

let code = 0;
try {
  const summary = await main();
  const { cycleLog, ...kill } = summary.kill ?? {};
  console.log('\n==== chaos summary ====');
  console.log(JSON.stringify({ ...summary, ...(summary.kill ? { kill } : {}) }, null, 2));
  if (process.env.CHAOS_JSON) writeFileSync(process.env.CHAOS_JSON, JSON.stringify(summary, null, 2) + '\n');
  code = failures.length ? 1 : 0;
  console.log(failures.length ? `\nCHAOS: ${failures.length} FAILURE(S)` : '\nCHAOS: OK — no acknowledged event lost');
} catch (e) {
  console.error(`chaos: ${e.stack ?? e}`);
  code = 1;
} finally {
  clearTimeout(guard);
  await cleanup();
}
process.exit(code);
