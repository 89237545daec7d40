// The Express peer: a webhook receiver written the way the field reports
// (shared/seeds) write one — express.raw() for the raw body, HMAC-SHA256 of
// it compared with X-Hub-Signature-256 by crypto.timingSafeEqual, JSON.parse
// after the check, idempotency on the WhatsApp message id in an in-memory
// Set, and an immediate 200. Nothing is persisted and nothing is logged per
// request, so this is the cheapest honest version of that code.
//
// env: PORT (required), META_APP_SECRET (required), HOST (default 127.0.0.1)
'use strict';
const crypto = require('crypto');
const express = require('express');

const secret = process.env.META_APP_SECRET;
const port = Number(process.env.PORT);
if (!secret || !port) {
  console.error('set PORT and META_APP_SECRET');
  process.exit(2);
}

const app = express();
app.use(express.raw({ type: 'application/json', limit: '1mb' }));

function verifySignature(req) {
  const provided = req.get('x-hub-signature-256') || '';
  const expected =
    'sha256=' + crypto.createHmac('sha256', secret).update(req.body).digest('hex');
  const a = Buffer.from(provided);
  const b = Buffer.from(expected);
  if (a.length !== b.length) return false;
  return crypto.timingSafeEqual(a, b);
}

const processed = new Set();

app.post('/in/:source', (req, res) => {
  if (!Buffer.isBuffer(req.body) || !verifySignature(req)) {
    return res.status(401).json({ error: 'invalid signature' });
  }
  let payload;
  try {
    payload = JSON.parse(req.body.toString('utf8'));
  } catch {
    return res.status(400).json({ error: 'invalid JSON' });
  }
  const ids = [];
  for (const entry of payload.entry || []) {
    for (const change of entry.changes || []) {
      const value = change.value || {};
      for (const m of value.messages || []) ids.push(m.id);
      for (const s of value.statuses || []) ids.push(s.id);
    }
  }
  const fresh = ids.filter((id) => !processed.has(id));
  if (ids.length > 0 && fresh.length === 0) {
    return res.status(200).json({ status: 'duplicate' });
  }
  for (const id of fresh) processed.add(id);
  // Hand off to async workers here; acknowledge immediately.
  res.status(200).json({ status: 'accepted' });
});

app.listen(port, process.env.HOST || '127.0.0.1', () => {
  console.log(`express peer listening on ${process.env.HOST || '127.0.0.1'}:${port}`);
});
