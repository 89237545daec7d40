// gen-requests.mjs — precomputes signed WhatsApp-shaped webhook requests for
// the wrk scripts (bench/wrk/stream.lua).
//
// wrk's LuaJIT has no HMAC, so every request is prepared here: COUNT
// fixed-length records, each
//   "Content-Type: application/json\r\nContent-Length: 1024\r\n"
//   "X-Hub-Signature-256: sha256=<hex HMAC-SHA256(secret, body)>\r\n\r\n" <body>
// where body is exactly 1024 bytes of JSON whose message id
// (entry[0].changes[0].value.messages[0].id, what hookgate's meta source and
// the Express peer dedupe on) is different in every record. The ids start
// with a hash of (seed, index), so they arrive in random order like real
// wamids and land all over the dedupe index, and end with the index, so they
// are unique by construction.
//
// usage: node gen-requests.mjs --out FILE --count N --secret S [--seed TEXT]
// prints one JSON line: {"file","count","record_len","body_len"}
import { createHash, createHmac } from 'node:crypto';
import { openSync, writeSync, closeSync } from 'node:fs';

const args = Object.fromEntries(
  process.argv.slice(2).reduce((acc, a, i, all) => {
    if (a.startsWith('--')) acc.push([a.slice(2), all[i + 1]]);
    return acc;
  }, []),
);
const out = args.out;
const count = Number(args.count);
const secret = args.secret;
const seed = args.seed ?? 'hookgate-bench';
if (!out || !Number.isInteger(count) || count <= 0 || !secret) {
  console.error('usage: node gen-requests.mjs --out FILE --count N --secret S [--seed TEXT]');
  process.exit(2);
}

const BODY_LEN = 1024;
const ID_LEN = 6 + 56; // "wamid." + base64 of 42 bytes
const idOf = (i) => {
  const raw = Buffer.alloc(42);
  createHash('sha256').update(`${seed}:${i}`).digest().copy(raw, 0, 0, 34);
  raw.writeBigUInt64BE(BigInt(i), 34);
  return 'wamid.' + raw.toString('base64');
};

// A WhatsApp Cloud API "messages" notification, padded to BODY_LEN with the
// text of the message.
const head =
  '{"object":"whatsapp_business_account","entry":[{"id":"102290129340398","changes":[{"value":' +
  '{"messaging_product":"whatsapp","metadata":{"display_phone_number":"15550783881",' +
  '"phone_number_id":"106540352242922"},"contacts":[{"profile":{"name":"Sheena Nelson"},' +
  '"wa_id":"16505551234"}],"messages":[{"from":"16505551234","id":"';
const mid = '","timestamp":"1749416383","type":"text","text":{"body":"';
const tail = '"}}]},"field":"messages"}]}]}';
const fillLen = BODY_LEN - head.length - ID_LEN - mid.length - tail.length;
if (fillLen < 0) throw new Error('body template longer than BODY_LEN');
const filler = 'Hello! I would like to order two of the blue ones, delivered on Friday please. '
  .repeat(20)
  .slice(0, fillLen);
const template = Buffer.from(head + 'x'.repeat(ID_LEN) + mid + filler + tail);
if (template.length !== BODY_LEN) throw new Error(`body is ${template.length} bytes`);
const idOff = head.length;

const hdrA = Buffer.from(
  `Content-Type: application/json\r\nContent-Length: ${BODY_LEN}\r\nX-Hub-Signature-256: sha256=`,
);
const hdrB = Buffer.from('\r\n\r\n');
const REC = hdrA.length + 64 + hdrB.length + BODY_LEN;

const fd = openSync(out, 'w');
const PER_CHUNK = 4096;
const chunk = Buffer.alloc(REC * PER_CHUNK);
let used = 0;
for (let i = 0; i < count; i++) {
  template.write(idOf(i), idOff, 'latin1');
  const sig = createHmac('sha256', secret).update(template).digest('hex');
  const at = used * REC;
  hdrA.copy(chunk, at);
  chunk.write(sig, at + hdrA.length, 'latin1');
  hdrB.copy(chunk, at + hdrA.length + 64);
  template.copy(chunk, at + hdrA.length + 64 + hdrB.length);
  if (++used === PER_CHUNK) {
    writeSync(fd, chunk, 0, used * REC);
    used = 0;
  }
}
if (used > 0) writeSync(fd, chunk, 0, used * REC);
closeSync(fd);
console.log(JSON.stringify({ file: out, count, record_len: REC, body_len: BODY_LEN }));
