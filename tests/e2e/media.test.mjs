// media.test.mjs — WhatsApp media (a source's media:) against the real
// daemon, on SQLite (`make test`) and PostgreSQL (`make test-pg`).
//
// A fake Graph API runs in this process on 127.0.0.1: GET /v21.0/{media-id}
// answers {url, mime_type, sha256, file_size} (with the Bearer token only),
// and each download URL works once (a used or "expired" one answers 404 or
// 410, as Meta's do). Signed WhatsApp webhooks name the media; the test then
// checks, per media id:
//   ok      fetched, SHA-256 checked, stored sealed (the file's bytes are not
//           in the media dir in clear), served byte-exact with its content
//           type by GET /api/v1/media/{id} (and the read is audited), listed
//           in GET /api/v1/messages/{id};
//   expire  the first URL is expired: Graph is asked again, then stored;
//   badsha  the payload's sha256 is not the file's: failed, nothing kept;
//   big     the file is over max_size although Graph says it is small: the
//           download is aborted, failed, nothing kept;
//   private the download URL points at 127.0.0.2, which egress_allow
//           (127.0.0.1/32) does not admit: the SSRF guard refuses it before
//           any connection (loopback only: no packet can leave the host);
//   scan    a source whose scan command exits 1: quarantined;
// then a ttl restart expires the files; and a daemon killed (-9) in the
// middle of a download fetches the file after its restart, once the
// killed one's claim (a minute) has run out.
//
// Network: every socket goes to 127.0.0.1 (the daemon, the fake Graph API)
// or is refused by the guard before connecting (127.0.0.2).

import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { after, describe, test } from 'node:test';

import { HOST, makeTempDir, postSigned, removeDir, request, startDaemon, startSink, token, waitFor } from './helpers.mjs';

const ADMIN = token('admin');
const WA = token('wa');
const GRAPH_TOKEN = token('graph');
const KEY = randomBytes(32).toString('hex');
const ENV = { HG_E2E_MEDIA_ADMIN: ADMIN, HG_E2E_MEDIA_WA: WA, HG_E2E_MEDIA_TOKEN: GRAPH_TOKEN, HG_E2E_MEDIA_KEY: KEY };

const sha256hex = (b) => createHash('sha256').update(b).digest('hex');

// A file with a marker that must never be found on disk in clear.
function file(size, marker) {
  const b = randomBytes(size);
  Buffer.from(marker).copy(b, 100);
  return b;
}

// The fake Graph API. media: id -> {bytes, mime, expireFirst, host, claimSize}.
async function startGraph(media) {
  const lookups = {};
  const downloads = {};
  const urls = new Map(); // path -> {id, used}
  let port = 0;
  const server = http.createServer((req, res) => {
    if (req.headers.authorization !== `Bearer ${GRAPH_TOKEN}`) {
      res.writeHead(401).end('{"error":"bad token"}');
      return;
    }
    const m = /^\/v21\.0\/([A-Za-z0-9]+)$/.exec(req.url);
    if (m && media[m[1]]) {
      const id = m[1];
      const f = media[id];
      lookups[id] = (lookups[id] ?? 0) + 1;
      const p = `/dl/${id}/${randomBytes(8).toString('hex')}`;
      // expireFirst: the first URL handed out has expired already
      urls.set(p, { id, used: f.expireFirst && lookups[id] === 1 });
      res.writeHead(200, { 'Content-Type': 'application/json' }).end(
        JSON.stringify({
          messaging_product: 'whatsapp',
          url: `http://${f.host ?? HOST}:${port}${p}`,
          mime_type: f.mime,
          sha256: sha256hex(f.bytes),
          file_size: f.claimSize ?? f.bytes.length,
          id,
        }),
      );
      return;
    }
    const u = urls.get(req.url);
    if (u) {
      downloads[u.id] = (downloads[u.id] ?? 0) + 1;
      if (u.used) {
        res.writeHead(410).end('expired');
        return;
      }
      u.used = true; // a URL works once
      const f = media[u.id];
      if (f.stallFirst && downloads[u.id] === 1) {
        // the first download stalls half-way (the daemon is killed meanwhile)
        res.writeHead(200, { 'Content-Type': f.mime, 'Content-Length': f.bytes.length });
        res.write(f.bytes.subarray(0, f.bytes.length >> 1));
        return;
      }
      res.writeHead(200, { 'Content-Type': f.mime }).end(f.bytes);
      return;
    }
    res.writeHead(404).end('{"error":"no such media"}');
  });
  await new Promise((resolve) => server.listen(0, HOST, resolve));
  port = server.address().port;
  return {
    lookups,
    downloads,
    url: `http://${HOST}:${port}/v21.0`,
    close: () => new Promise((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}

// A WhatsApp notification with one image message per media id.
function mediaBody(items) {
  return JSON.stringify({
    object: 'whatsapp_business_account',
    entry: [{
      id: '102290129340398',
      changes: [{
        field: 'messages',
        value: {
          messaging_product: 'whatsapp',
          metadata: { display_phone_number: '15550001111', phone_number_id: '123456789' },
          messages: items.map(({ id, mime, sha }) => ({
            from: '15551234567',
            id: `wamid.${id}.${randomBytes(4).toString('hex')}`,
            timestamp: '1700000000',
            type: 'image',
            image: { id, mime_type: mime, sha256: sha },
          })),
        },
      }],
    }],
  });
}

function api(d, p) {
  return request(d, 'GET', `/api/v1${p}`, { headers: { Authorization: `Bearer ${ADMIN}` } });
}

describe('WhatsApp media', () => {
  const cleanup = [];
  after(async () => {
    for (const c of cleanup.reverse()) await c();
  });

  test('fetched, verified, sealed, served; expired URLs renewed; bad hash, oversize, private address and a failing scan refused', async () => {
    const media = {
      m1ok: { bytes: file(200_000, 'MEDIA-MARKER-OK-1'), mime: 'image/jpeg' },
      m2expire: { bytes: file(5_000, 'MEDIA-MARKER-EXP'), mime: 'image/png', expireFirst: true },
      m3badsha: { bytes: file(5_000, 'MEDIA-MARKER-BAD'), mime: 'image/jpeg' },
      m4big: { bytes: file(300_000, 'MEDIA-MARKER-BIG'), mime: 'video/mp4', claimSize: 1000 },
      m5private: { bytes: file(1_000, 'MEDIA-MARKER-PRV'), mime: 'image/jpeg', host: '127.0.0.2' },
      m6scan: { bytes: file(2_000, 'MEDIA-MARKER-SCN'), mime: 'image/jpeg' },
    };
    const graph = await startGraph(media);
    cleanup.push(() => graph.close());
    const sink = await startSink();
    cleanup.push(() => sink.close());
    const dir = makeTempDir();
    cleanup.push(() => removeDir(dir));
    const mediaDir = path.join(dir, 'media');
    const mediaCfg = (scan, ttl) => ({
      token_env: 'HG_E2E_MEDIA_TOKEN',
      graph_url: graph.url,
      dir: mediaDir,
      max_size: '256k',
      ...(ttl ? { ttl } : {}),
      // exits 1 (quarantine), or 3 when it can see a secret's variable
      ...(scan
        ? { scan: ['sh', '-c', 'cat >/dev/null; [ -z "$HG_E2E_MEDIA_TOKEN$HG_E2E_MEDIA_ADMIN$HG_E2E_MEDIA_WA" ] || exit 3; exit 1'] }
        : {}),
    });
    const start = (ttl) =>
      startDaemon({
        dir,
        env: ENV,
        sources: [
          { name: 'wa', provider: 'meta', secret_env: 'HG_E2E_MEDIA_WA', routes: ['app'], media: mediaCfg(false, ttl) },
          { name: 'wascan', provider: 'meta', secret_env: 'HG_E2E_MEDIA_WA', media: mediaCfg(true, ttl) },
        ],
        extra: [
          'admin_token_env: HG_E2E_MEDIA_ADMIN',
          'encryption: {key_env: [HG_E2E_MEDIA_KEY]}',
          'allow_http: true',
          'egress_allow: [127.0.0.1/32]',
          'endpoints:',
          `  - {name: app, url: "${sink.url('/app')}"}`,
        ].join('\n'),
      });
    const d = await start();
    cleanup.push(() => d.cleanup());

    const items = ['m1ok', 'm2expire', 'm3badsha', 'm4big', 'm5private'].map((id) => ({
      id,
      mime: media[id].mime,
      sha: id === 'm3badsha' ? sha256hex(Buffer.from('not the file')) : sha256hex(media[id].bytes),
    }));
    const body = mediaBody(items);
    const res = await postSigned(d, 'wa', body, { secret: WA });
    assert.equal(res.status, 200, res.text);
    const msgId = res.json.id;
    const scanRes = await postSigned(d, 'wascan', mediaBody([{ id: 'm6scan', mime: 'image/jpeg', sha: sha256hex(media.m6scan.bytes) }]), { secret: WA });
    assert.equal(scanRes.status, 200, scanRes.text);

    // Every job ends: stored, failed or quarantined.
    const settled = async (id) => {
      const r = await api(d, `/messages/${id}`);
      const list = r.json?.media ?? [];
      return list.length > 0 && list.every((m) => m.state !== 'pending') ? list : null;
    };
    const list = await waitFor(() => settled(msgId), { timeoutMs: 20000, intervalMs: 100 });
    assert.ok(list, 'media of the message did not settle');
    const byGraph = Object.fromEntries(list.map((m) => [m.graph_id, m]));
    assert.deepEqual(Object.keys(byGraph).sort(), ['m1ok', 'm2expire', 'm3badsha', 'm4big', 'm5private']);

    assert.equal(byGraph.m1ok.state, 'stored', JSON.stringify(byGraph.m1ok));
    assert.equal(byGraph.m1ok.size, media.m1ok.bytes.length);
    assert.equal(byGraph.m2expire.state, 'stored', JSON.stringify(byGraph.m2expire));
    assert.equal(graph.lookups.m2expire, 2, 'an expired URL makes hookgate ask Graph again');
    assert.equal(graph.downloads.m2expire, 2);
    assert.equal(byGraph.m3badsha.state, 'failed');
    assert.match(byGraph.m3badsha.error, /SHA-256/);
    assert.equal(byGraph.m4big.state, 'failed');
    assert.match(byGraph.m4big.error, /larger than max_size/);
    assert.equal(byGraph.m5private.state, 'failed');
    assert.match(byGraph.m5private.error, /blocked address 127\.0\.0\.2/);
    assert.equal(graph.downloads.m5private, undefined, 'the guard refused before connecting');

    // The delivery waited for the media, then named each with its state.
    const delivered = await waitFor(() => sink.on('/app')[0], { timeoutMs: 10000 });
    assert.ok(delivered, 'the message was not delivered');
    assert.equal(sink.on('/app').length, 1);
    const header = delivered.headers['x-hookgate-media'] ?? '';
    const states = Object.fromEntries(header.split(',').map((kv) => kv.split('=')));
    assert.deepEqual(
      states,
      Object.fromEntries(list.map((m) => [m.id, m.state])),
      `X-Hookgate-Media: ${header}`,
    );
    assert.equal(delivered.body, body);

    // On disk: a file per stored media, named by its opaque id, sealed;
    // nothing of the refused ones (no temporary file either).
    const files = readdirSync(mediaDir);
    for (const gid of ['m1ok', 'm2expire']) assert.ok(files.includes(byGraph[gid].id), gid);
    for (const gid of ['m3badsha', 'm4big', 'm5private'])
      assert.ok(!files.some((f) => f.includes(byGraph[gid].id)), gid);
    for (const f of files) {
      const raw = readFileSync(path.join(mediaDir, f));
      assert.equal(raw.subarray(0, 4).toString(), 'HGM1');
      for (const marker of Object.keys(media).map((k) => media[k].bytes.subarray(100, 116)))
        assert.equal(raw.indexOf(marker), -1, `${f} holds a file's bytes in clear`);
    }

    // Served back decrypted, byte-exact, with its type; the read is audited.
    for (const [gid, want] of [['m1ok', media.m1ok], ['m2expire', media.m2expire]]) {
      const r = await api(d, `/media/${byGraph[gid].id}`);
      assert.equal(r.status, 200, r.text);
      assert.equal(r.headers['content-type'], want.mime);
      assert.ok(r.raw.equals(want.bytes), `${gid} is not byte-exact`);
    }
    const audit = await api(d, '/audit?action=read_media');
    assert.equal(audit.status, 200);
    assert.ok(audit.json.data.some((row) => row.reason.includes(byGraph.m1ok.id)), JSON.stringify(audit.json));
    assert.equal((await api(d, `/media/${byGraph.m3badsha.id}`)).status, 410);
    assert.equal((await api(d, '/media/0190a0a0-0000-7000-8000-000000000000')).status, 404);
    assert.equal((await request(d, 'GET', `/api/v1/media/${byGraph.m1ok.id}`)).status, 401);

    // The scan command exited 1: quarantined.
    const scanned = await waitFor(() => settled(scanRes.json.id), { timeoutMs: 20000, intervalMs: 100 });
    assert.ok(scanned);
    assert.equal(scanned[0].state, 'quarantined', JSON.stringify(scanned[0]));
    assert.match(scanned[0].error, /exited with status 1/);

    // Counted: /metrics and GET /api/v1/stats.
    const stats = await api(d, '/stats');
    assert.equal(stats.status, 200);
    assert.deepEqual(stats.json.media, {
      pending: 0,
      stored: 2,
      failed: 3,
      quarantined: 1,
      expired: 0,
      bytes_stored: media.m1ok.bytes.length + media.m2expire.bytes.length,
    });
    const metrics = await request(d, 'GET', '/metrics', { headers: { Authorization: `Bearer ${ADMIN}` } });
    assert.equal(metrics.status, 200);
    assert.match(metrics.text, /^hookgate_media\{state="stored"\} 2$/m);
    assert.match(metrics.text, /^hookgate_media\{state="quarantined"\} 1$/m);
    assert.match(metrics.text, new RegExp(`^hookgate_media_stored_bytes ${media.m1ok.bytes.length + media.m2expire.bytes.length}$`, 'm'));

    // ttl: a restart with ttl 1s; housekeeping's purge (at start, then
    // every minute) deletes the files older than that and marks them
    // expired. The messages themselves stay (no retention).
    await d.stop();
    await waitFor(() => Date.now() > Date.parse(byGraph.m1ok.created_at) + 1500, { timeoutMs: 5000 });
    const d2 = await start('1s');
    cleanup.push(() => d2.cleanup());
    // the row is marked once its file is deleted: wait for the row
    const m1 = await waitFor(async () => {
      const r = await api(d2, `/messages/${msgId}`);
      const m = r.json?.media?.find((x) => x.graph_id === 'm1ok');
      return m?.state === 'expired' ? m : null;
    }, { timeoutMs: 10000, intervalMs: 100 });
    assert.ok(m1, 'the ttl purge did not expire the file');
    assert.match(m1.error, /retention purge/);
    const gone = await api(d2, `/media/${byGraph.m1ok.id}`);
    assert.equal(gone.status, 410);
    assert.match(gone.json.error, /expired/);
    const empty = await waitFor(() => readdirSync(mediaDir).length === 0, { timeoutMs: 10000, intervalMs: 100 });
    assert.ok(empty, `files left after the ttl: ${readdirSync(mediaDir)}`);
  });

  test('a kill -9 during a download: the job is taken up again after the restart', async () => {
    const media = { mslow: { bytes: file(100_000, 'MEDIA-MARKER-SLW'), mime: 'audio/ogg', stallFirst: true } };
    const graph = await startGraph(media);
    cleanup.push(() => graph.close());
    const dir = makeTempDir();
    cleanup.push(() => removeDir(dir));
    const start = () =>
      startDaemon({
        dir,
        env: ENV,
        sources: [{
          name: 'wa',
          provider: 'meta',
          secret_env: 'HG_E2E_MEDIA_WA',
          media: { token_env: 'HG_E2E_MEDIA_TOKEN', graph_url: graph.url, dir: path.join(dir, 'media') },
        }],
        extra: ['admin_token_env: HG_E2E_MEDIA_ADMIN', 'allow_http: true', 'egress_allow: [127.0.0.1/32]'].join('\n'),
      });
    const d = await start();
    cleanup.push(() => d.cleanup());
    const res = await postSigned(d, 'wa', mediaBody([{ id: 'mslow', mime: 'audio/ogg', sha: sha256hex(media.mslow.bytes) }]), { secret: WA });
    assert.equal(res.status, 200, res.text);
    assert.ok(await waitFor(() => graph.downloads.mslow === 1, { timeoutMs: 10000 }), 'the download did not start');
    await d.kill9();
    const d2 = await start();
    cleanup.push(() => d2.cleanup());
    const stored = await waitFor(async () => {
      const r = await api(d2, `/messages/${res.json.id}`);
      return r.json?.media?.[0]?.state === 'stored' ? r.json.media[0] : null;
    }, { timeoutMs: 100_000, intervalMs: 500 });
    assert.ok(stored, 'the interrupted job was not taken up again');
    assert.equal(graph.downloads.mslow, 2);
    assert.equal(stored.attempts, 2);
    const r = await api(d2, `/media/${stored.id}`);
    assert.equal(r.status, 200);
    assert.ok(r.raw.equals(media.mslow.bytes));
  });
});
