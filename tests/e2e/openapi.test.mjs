// openapi.test.mjs — docs/openapi.yaml against the source and the checker:
// the spec has exactly the API routes the daemon registers (the route
// tables of src/api/api.c and src/api/outbound.c, and the probes), and the
// checker every request() applies (openapi.mjs) refuses what the spec does
// not describe: an unknown path, a method without an operation, an unlisted
// 2xx status, a wrong Content-Type, a body of the wrong shape.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

import YAML from 'yaml';

import { SPEC_FILE, checkAnswer } from './openapi.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const spec = YAML.parse(readFileSync(SPEC_FILE, 'utf8'));

// "METHOD /api/v1/x/{}" for every route of the C route tables.
function sourceRoutes() {
  const out = new Set(['GET /healthz', 'GET /readyz', 'GET /metrics']);
  for (const f of ['src/api/api.c', 'src/api/outbound.c']) {
    const text = readFileSync(path.join(root, f), 'utf8');
    for (const m of text.matchAll(/\{"(GET|POST|PATCH|DELETE|PUT)", "([a-z0-9/*-]+)"/g))
      out.add(`${m[1]} /api/v1/${m[2].replace(/\*/g, '{}')}`);
  }
  return out;
}

function specRoutes() {
  const out = new Set();
  for (const [p, item] of Object.entries(spec.paths))
    for (const method of ['get', 'post', 'patch', 'delete', 'put'])
      if (item[method]) out.add(`${method.toUpperCase()} ${p.replace(/\{[^}]+\}/g, '{}')}`);
  return out;
}

const answer = (status, body, ct = 'application/json') => {
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  let json;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status, headers: { 'content-type': ct }, raw: Buffer.from(text), text, json };
};

describe('docs/openapi.yaml', () => {
  it('is OpenAPI 3.1 and describes exactly the routes the daemon has', () => {
    assert.match(spec.openapi, /^3\.1\./);
    assert.deepEqual([...specRoutes()].sort(), [...sourceRoutes()].sort());
  });

  it('the checker refuses what the spec does not describe', () => {
    assert.doesNotThrow(() => checkAnswer('GET', '/api/v1/endpoints', answer(200, { data: [] })));
    assert.throws(() => checkAnswer('GET', '/api/v1/nothing', answer(404, { error: 'x' })), /no path/);
    assert.throws(() => checkAnswer('DELETE', '/api/v1/stats', answer(405, { error: 'x' })), /no DELETE operation/);
    assert.throws(() => checkAnswer('POST', '/api/v1/deliveries/abc/retry', answer(201, { id: 'abc', status: 'pending' })), /status 201/);
    assert.throws(() => checkAnswer('GET', '/api/v1/endpoints', answer(200, 'x', 'text/plain')), /Content-Type/);
    assert.throws(() => checkAnswer('GET', '/api/v1/endpoints', answer(200, { rows: [] })), /does not match/);
    assert.throws(() => checkAnswer('GET', '/api/v1/webhooks', answer(401, { error: 'no envelope' })), /does not match/);
    assert.doesNotThrow(() => checkAnswer('GET', '/api/v1/webhooks', answer(401, { success: false, error: 'x' })));
    assert.throws(() => checkAnswer('GET', '/api/v1/stats', answer(400, { error: 'x', extra: 1 })), /does not match/);
  });
});
