// openapi.mjs — every answer the e2e suites get from the management API,
// the outbound API and the probes is checked against docs/openapi.yaml, so
// the description cannot drift from the daemon. helpers.mjs request() calls
// checkAnswer() for each answer to such a path; a mismatch fails the test
// that made the request.
//
// The rules: the path must match one of the spec's path templates and the
// method one of its operations; a 2xx status must be listed by that
// operation (a 4xx or 5xx may fall under its `default`); the Content-Type
// must be one the response declares; and a JSON body must validate against
// the response's schema (JSON Schema 2020-12, as OpenAPI 3.1 uses).

import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import Ajv2020 from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import YAML from 'yaml';

const here = path.dirname(fileURLToPath(import.meta.url));
export const SPEC_FILE = path.resolve(here, '../../docs/openapi.yaml');
const spec = YAML.parse(readFileSync(SPEC_FILE, 'utf8'));
const SPEC_ID = 'https://hookgate.invalid/openapi.json';

const ajv = new Ajv2020({ strict: false, allErrors: true });
addFormats(ajv);
ajv.addSchema({ ...spec, $id: SPEC_ID });

// Which request paths the spec covers (everything else, /in/..., is not an API).
export function coveredPath(p) {
  return p.startsWith('/api/') || p === '/healthz' || p === '/readyz' || p === '/metrics';
}

const escapePointer = (s) => s.replace(/~/g, '~0').replace(/\//g, '~1');

const routes = Object.keys(spec.paths).map((tmpl) => ({
  tmpl,
  re: new RegExp(`^${tmpl.replace(/[.*+?^$()|[\]\\]/g, '\\$&').replace(/\{[^}]+\}/g, '[^/]+')}$`),
}));

function deref(obj) {
  let o = obj;
  while (o && o.$ref) {
    o = o.$ref
      .replace(/^#\//, '')
      .split('/')
      .map((k) => k.replace(/~1/g, '/').replace(/~0/g, '~'))
      .reduce((acc, k) => acc?.[k], spec);
  }
  return o;
}

const validators = new Map();
function validatorFor(pointer) {
  let v = validators.get(pointer);
  if (!v) {
    v = ajv.compile({ $ref: `${SPEC_ID}#${pointer}` });
    validators.set(pointer, v);
  }
  return v;
}

// Throws an Error naming what does not match; returns nothing when it does.
export function checkAnswer(method, pathAndQuery, r) {
  const p = pathAndQuery.split('?')[0];
  const where = `${method} ${p} -> ${r.status}`;
  const route = routes.find((x) => x.re.test(p));
  if (!route) throw new Error(`openapi: ${where}: no path of docs/openapi.yaml matches`);
  const op = spec.paths[route.tmpl][method.toLowerCase()];
  if (!op) throw new Error(`openapi: ${where}: ${route.tmpl} has no ${method} operation`);
  let code = String(r.status);
  if (!op.responses[code]) {
    if (r.status >= 400 && op.responses.default) code = 'default';
    else throw new Error(`openapi: ${where}: status ${r.status} is not among ${Object.keys(op.responses).join(', ')}`);
  }
  const resp = deref(op.responses[code]);
  const ct = (r.headers['content-type'] ?? '').split(';')[0].trim();
  if (!resp.content) {
    if (r.raw.length !== 0) throw new Error(`openapi: ${where}: a body where the spec has none`);
    return;
  }
  // a file served as stored (media) is described by a range: image/*, */*
  const range = [ct, `${ct.split('/')[0]}/*`, '*/*'].find((k) => resp.content[k]);
  if (!range || !ct) throw new Error(`openapi: ${where}: Content-Type ${ct} is not among ${Object.keys(resp.content).join(', ')}`);
  if (ct !== 'application/json') return;
  if (r.json === undefined) throw new Error(`openapi: ${where}: the body is not JSON: ${r.text.slice(0, 200)}`);
  // the schema, by pointer into the spec (through a response $ref if any)
  const respRef = op.responses[code].$ref;
  const base = respRef
    ? respRef.replace(/^#/, '')
    : `/paths/${escapePointer(route.tmpl)}/${method.toLowerCase()}/responses/${code}`;
  const validate = validatorFor(`${base}/content/${escapePointer(ct)}/schema`);
  if (!validate(r.json)) {
    const errs = validate.errors.map((e) => `${e.instancePath || '/'} ${e.message}`).join('; ');
    throw new Error(`openapi: ${where}: the body does not match: ${errs}\n${r.text.slice(0, 600)}`);
  }
}
