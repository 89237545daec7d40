// hookgate console: one page, hash routing, plain DOM. Every value that
// comes from the API is put on the page with textContent (never innerHTML),
// so a message body holding markup is shown as text and runs nothing.
'use strict';

const state = { csrf: null };
const $ = (id) => document.getElementById(id);

// el('td', {class: 'mono'}, 'text', child...) — strings become text nodes.
function el(tag, attrs, ...kids) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v === true ? '' : String(v));
  }
  for (const k of kids.flat()) {
    if (k === null || k === undefined) continue;
    e.append(k instanceof Node ? k : document.createTextNode(String(k)));
  }
  return e;
}
const svg = (tag, attrs) => {
  const e = document.createElementNS('http://www.w3.org/2000/svg', tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, String(v));
  return e;
};
const badge = (s) => el('span', { class: `badge s-${s}` }, s);
const when = (t) => (t ? new Date(t).toLocaleString() : '—');
const age = (ms) => (ms === null || ms === undefined ? '—' : ms < 60000 ? `${Math.round(ms / 1000)} s`
  : ms < 3600000 ? `${Math.round(ms / 60000)} min` : `${(ms / 3600000).toFixed(1)} h`);

class ApiError extends Error {
  constructor(status, msg) { super(msg); this.status = status; }
}

// Calls the API with the session cookie; state-changing calls carry the
// CSRF token. A 401 sends the user back to sign-in.
async function api(path, { method = 'GET', body } = {}) {
  const headers = {};
  if (method !== 'GET') headers['X-CSRF-Token'] = state.csrf || '';
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const r = await fetch(path, { method, headers, credentials: 'same-origin',
    body: body === undefined ? undefined : JSON.stringify(body) });
  let data = null;
  try { data = await r.json(); } catch { data = null; }
  if (r.status === 401 && !path.startsWith('/ui/api/session')) { showSignIn(); }
  if (!r.ok) throw new ApiError(r.status, (data && data.error) || `HTTP ${r.status}`);
  return data;
}

function render(...nodes) {
  const v = $('view');
  v.replaceChildren(...nodes);
}
function fail(e) { render(el('p', { class: 'error', role: 'alert' }, e.message)); }

// ---- sign-in ----

function showSignIn() {
  state.csrf = null;
  $('nav').hidden = true;
  $('view').replaceChildren();
  $('signin').hidden = false;
  $('token').focus();
}

async function signIn(ev) {
  ev.preventDefault();
  $('signin-error').textContent = '';
  try {
    const d = await api('/ui/api/session', { method: 'POST', body: { token: $('token').value } });
    state.csrf = d.csrf;
    $('token').value = '';
    started();
  } catch (e) {
    $('signin-error').textContent = e.status === 401 ? 'That token is not the admin token.' : e.message;
  }
}

async function signOut() {
  try { await api('/ui/api/session', { method: 'DELETE' }); } catch { /* ended anyway */ }
  showSignIn();
}

function started() {
  $('signin').hidden = true;
  $('nav').hidden = false;
  if (!location.hash || location.hash === '#/') location.hash = '#/overview';
  else route();
}

// ---- pages ----

const KEYS = ['received', 'accepted', 'duplicates', 'invalid_signatures', 'rate_limited'];

// 24 hourly buckets, oldest first, from the API's rows (hours without
// traffic have no row).
function last24(rows) {
  const H = 3600000;
  const now = Math.floor(Date.now() / H) * H;
  const by = new Map(rows.map((r) => [Math.floor(Date.parse(r.hour) / H) * H, r]));
  return Array.from({ length: 24 }, (_, i) => by.get(now - (23 - i) * H) || {});
}

function chart(rows) {
  const hours = last24(rows);
  const W = 480, H = 140, P = 24;
  const max = Math.max(1, ...hours.flatMap((h) => KEYS.map((k) => h[k] || 0)));
  const s = svg('svg', { viewBox: `0 0 ${W} ${H}`, class: 'chart', role: 'img',
    'aria-label': 'messages per hour, last 24 hours' });
  s.append(svg('line', { x1: P, y1: H - P, x2: W - 4, y2: H - P, class: 'axis' }));
  s.append(svg('line', { x1: P, y1: 4, x2: P, y2: H - P, class: 'axis' }));
  const t = svg('text', { x: 2, y: 12, 'font-size': 10 });
  t.textContent = String(max);
  s.append(t);
  const n = Math.max(1, hours.length - 1);
  KEYS.forEach((k, i) => {
    const pts = hours.map((h, j) => `${P + (j * (W - P - 4)) / n},${H - P - ((h[k] || 0) * (H - P - 8)) / max}`);
    s.append(svg('polyline', { points: pts.join(' '), class: `k${i}` }));
  });
  return s;
}

async function overview() {
  const [src, eps, alerts] = await Promise.all([api('/api/v1/sources'), api('/api/v1/endpoints'),
    api('/api/v1/alerts')]);
  const cards = el('div', { class: 'cards' });
  const stats = await Promise.all(src.data.map((s) =>
    api(`/api/v1/stats?source=${encodeURIComponent(s.name)}&hours=24`).catch(() => ({ data: [], totals: {} }))));
  src.data.forEach((s, i) => {
    const st = stats[i];
    cards.append(el('section', { class: 'card' },
      el('h3', {}, el('a', { href: `#/messages?source=${encodeURIComponent(s.name)}` }, s.name),
        ' ', el('span', { class: 'muted' }, s.provider)),
      chart(st.data || []),
      el('div', { class: 'legend' }, KEYS.map((k, j) =>
        el('span', { class: `k${j}` }, `${k.replace('_', ' ')}: ${(st.totals && st.totals[k]) || 0}`)))));
  });
  const epRows = eps.data.map((e) => el('tr', {},
    el('td', {}, e.name), el('td', {}, badge(e.circuit.state)), el('td', {}, e.pending),
    el('td', {}, age(e.oldest_pending_age_ms)), el('td', { class: 'wide' }, when(e.last_success_at)),
    el('td', { class: 'wide' }, e.failures_in_row)));
  const firing = alerts.data.filter((a) => a.state === 'firing');
  render(
    el('h1', {}, 'Overview'),
    el('h2', {}, 'Sources, last 24 hours'),
    src.data.length ? cards : el('p', { class: 'muted' }, 'No sources configured.'),
    el('h2', {}, 'Endpoints'),
    el('div', { class: 'table' }, el('table', {},
      el('thead', {}, el('tr', {}, ['Endpoint', 'Circuit', 'Pending', 'Oldest pending', 'Last success',
        'Failures in a row'].map((h, i) => el('th', { class: i > 3 ? 'wide' : null }, h)))),
      el('tbody', {}, epRows))),
    el('h2', {}, 'Firing alerts'),
    firing.length ? el('ul', {}, firing.map((a) => el('li', {}, badge('firing'), ' ',
      `${a.rule} on ${a.source}: ${a.value} (threshold ${a.threshold}) since ${when(a.fired_at)}`)))
      : el('p', { class: 'muted' }, 'No alert is firing.'));
}

function params() {
  const q = location.hash.split('?')[1] || '';
  return new URLSearchParams(q);
}

async function messages() {
  const p = params();
  const q = new URLSearchParams();
  for (const k of ['source', 'status', 'since', 'until', 'dedupe_key', 'cursor']) if (p.get(k)) q.set(k, p.get(k));
  q.set('limit', '50');
  const [src, page] = await Promise.all([api('/api/v1/sources'), api(`/api/v1/messages?${q}`)]);
  const field = (name, label, input) => el('label', { for: `f-${name}` }, label, input);
  const sel = el('select', { id: 'f-source', name: 'source' }, el('option', { value: '' }, 'any'),
    src.data.map((s) => el('option', { value: s.name, selected: p.get('source') === s.name }, s.name)));
  const status = el('select', { id: 'f-status', name: 'status' }, el('option', { value: '' }, 'any'),
    ['pending', 'delivering', 'succeeded', 'failed', 'dead', 'none'].map((s) =>
      el('option', { value: s, selected: p.get('status') === s }, s)));
  const since = el('input', { id: 'f-since', name: 'since', type: 'datetime-local',
    value: p.get('since') ? p.get('since').slice(0, 16) : null });
  const until = el('input', { id: 'f-until', name: 'until', type: 'datetime-local',
    value: p.get('until') ? p.get('until').slice(0, 16) : null });
  // a provider's id (wamid..., evt_...): the API needs the source with it
  const key = el('input', { id: 'f-dedupe_key', name: 'dedupe_key', type: 'search', maxlength: '255',
    placeholder: 'provider id, with a source', value: p.get('dedupe_key') });
  const form = el('form', { class: 'filters', onsubmit: (ev) => {
    ev.preventDefault();
    const n = new URLSearchParams();
    if (sel.value) n.set('source', sel.value);
    if (status.value) n.set('status', status.value);
    if (since.value) n.set('since', new Date(since.value).toISOString());
    if (until.value) n.set('until', new Date(until.value).toISOString());
    if (key.value) n.set('dedupe_key', key.value);
    location.hash = `#/messages?${n}`;
  } }, field('source', 'Source', sel), field('status', 'Status', status),
  field('since', 'Since', since), field('until', 'Until', until), field('dedupe_key', 'Dedupe key', key),
  el('button', { type: 'submit' }, 'Filter'));
  const rows = page.data.map((m) => el('tr', {},
    el('td', { class: 'mono' }, el('a', { href: `#/message/${m.id}` }, m.id)),
    el('td', {}, m.source), el('td', {}, badge(m.status)), el('td', { class: 'wide' }, when(m.received_at)),
    el('td', { class: 'wide' }, `${m.size} B`)));
  const next = new URLSearchParams(p);
  if (page.next_cursor) next.set('cursor', page.next_cursor);
  render(el('h1', {}, 'Messages'), form,
    el('div', { class: 'table' }, el('table', { id: 'messages' },
      el('thead', {}, el('tr', {}, el('th', {}, 'Message'), el('th', {}, 'Source'), el('th', {}, 'Status'),
        el('th', { class: 'wide' }, 'Received'), el('th', { class: 'wide' }, 'Size'))),
      el('tbody', {}, rows))),
    page.data.length ? null : el('p', { class: 'muted' }, 'No messages match.'),
    el('div', { class: 'actions' },
      p.get('cursor') ? el('a', { href: '#/messages' }, 'First page') : null,
      page.next_cursor ? el('a', { href: `#/messages?${next}`, id: 'next-page' }, 'Next page') : null));
}

function prettyBody(m) {
  if (m.body_encoding === 'base64') return `(binary, base64)\n${m.body}`;
  try { return JSON.stringify(JSON.parse(m.body), null, 2); } catch { return m.body; }
}

async function action(btn, fn) {
  btn.disabled = true;
  try { await fn(); await route(); } catch (e) {
    btn.disabled = false;
    btn.after(el('span', { class: 'error', role: 'alert' }, ` ${e.message}`));
  }
}

async function message(id) {
  const m = await api(`/api/v1/messages/${encodeURIComponent(id)}`);
  const replay = el('button', { type: 'button', id: 'replay', onclick: () => action(replay, () =>
    api(`/api/v1/messages/${encodeURIComponent(id)}/replay`, { method: 'POST' })) }, 'Replay to its endpoints');
  const deliveries = m.deliveries.map((d) => {
    const retry = d.status === 'dead'
      ? el('button', { type: 'button', class: 'retry', onclick: () => action(retry, () =>
        api(`/api/v1/deliveries/${d.id}/retry`, { method: 'POST' })) }, 'Retry now') : null;
    return el('section', { class: 'card delivery', 'data-id': d.id },
      el('h3', {}, `→ ${d.endpoint} `, badge(d.status)),
      el('p', { class: 'muted' }, `${d.attempt_count} attempt(s)`,
        d.next_attempt_at && d.status !== 'succeeded' ? `, next at ${when(d.next_attempt_at)}` : ''),
      retry,
      el('ol', { class: 'timeline' }, d.attempts.map((t) => el('li', { class: 'attempt' },
        el('strong', {}, `#${t.n} `), badge(t.status_code && t.status_code < 300 ? 'ok' : 'bad'),
        ` ${t.status_code ?? 'no answer'} · ${t.duration_ms} ms · ${when(t.started_at)}`,
        t.error ? el('div', { class: 'error' }, t.error) : null,
        t.response ? el('pre', { class: 'response' }, t.response) : null))));
  });
  const hdr = Object.entries(m.headers || {}).map(([k, v]) => el('tr', {}, el('td', { class: 'mono' }, k),
    el('td', { class: 'mono' }, Array.isArray(v) ? v.join(', ') : String(v))));
  render(
    el('p', {}, el('a', { href: '#/messages' }, '← Messages')),
    el('h1', {}, 'Message ', el('span', { class: 'mono' }, m.id)),
    el('dl', { class: 'kv' }, el('dt', {}, 'Source'), el('dd', {}, m.source),
      el('dt', {}, 'Status'), el('dd', {}, badge(m.status)),
      el('dt', {}, 'Received'), el('dd', {}, when(m.received_at)),
      el('dt', {}, 'Duplicates'), el('dd', {}, m.duplicates),
      el('dt', {}, 'Content type'), el('dd', {}, m.content_type ?? '—')),
    el('div', { class: 'actions' }, replay),
    el('h2', {}, 'Deliveries'), deliveries.length ? el('div', { class: 'cards' }, deliveries)
      : el('p', { class: 'muted' }, 'No deliveries.'),
    el('h2', {}, 'Headers'), el('div', { class: 'table' }, el('table', {}, el('tbody', {}, hdr))),
    el('h2', {}, 'Body'), el('pre', { id: 'body' }, prettyBody(m)));
}

async function dead() {
  const p = params();
  const q = new URLSearchParams({ status: 'dead', limit: '50' });
  if (p.get('cursor')) q.set('cursor', p.get('cursor'));
  const [page, eps] = await Promise.all([api(`/api/v1/deliveries?${q}`), api('/api/v1/endpoints')]);
  const all = eps.data.map((e) => {
    const b = el('button', { type: 'button', class: 'secondary', onclick: () => {
      if (!window.confirm(`Retry every dead delivery of ${e.name}?`)) return;
      action(b, () => api(`/api/v1/endpoints/${encodeURIComponent(e.name)}/retry-dead`, { method: 'POST' }));
    } }, `Retry all dead for ${e.name}`);
    return b;
  });
  const rows = page.data.map((d) => {
    const b = el('button', { type: 'button', onclick: () => action(b, () =>
      api(`/api/v1/deliveries/${d.id}/retry`, { method: 'POST' })) }, 'Retry');
    return el('tr', {}, el('td', { class: 'mono' }, el('a', { href: `#/message/${d.message_id}` }, d.message_id)),
      el('td', {}, d.endpoint), el('td', { class: 'wide' }, d.last_status_code ?? d.last_error ?? '—'),
      el('td', { class: 'wide' }, when(d.updated_at)), el('td', {}, b));
  });
  render(el('h1', {}, 'Dead letters'), el('div', { class: 'actions' }, all),
    el('div', { class: 'table' }, el('table', {}, el('thead', {}, el('tr', {}, el('th', {}, 'Message'),
      el('th', {}, 'Endpoint'), el('th', { class: 'wide' }, 'Last answer'), el('th', { class: 'wide' }, 'Dead since'),
      el('th', {}, ''))), el('tbody', {}, rows))),
    page.data.length ? null : el('p', { class: 'muted' }, 'The dead-letter queue is empty.'),
    page.next_cursor ? el('a', { href: `#/dead?cursor=${encodeURIComponent(page.next_cursor)}` }, 'Next page') : null);
}

async function subscriptions() {
  const list = await api('/api/v1/webhooks');
  const subs = list.data || [];
  const byOwner = new Map();
  for (const s of subs) {
    if (!byOwner.has(s.owner_id)) byOwner.set(s.owner_id, []);
    byOwner.get(s.owner_id).push(s);
  }
  const out = [el('h1', {}, 'Subscriptions')];
  if (!subs.length) out.push(el('p', { class: 'muted' }, 'No outbound subscriptions.'));
  for (const [owner, items] of byOwner) {
    out.push(el('h2', {}, `Owner ${owner}`));
    for (const s of items) {
      const recent = await api(`/api/v1/webhooks/${s.id}/deliveries?page=1&limit=5`).catch(() => ({ data: [] }));
      out.push(el('section', { class: 'card' },
        el('h3', { class: 'mono' }, s.url), el('p', {}, badge(s.is_active ? 'ok' : 'bad'),
          s.is_active ? ' active' : ' disabled', ` · events: ${(s.events || []).join(', ') || 'all'}`),
        el('ul', {}, (recent.data || []).map((d) => el('li', {}, badge(d.status), ` ${d.event ?? ''} `,
          when(d.created_at || d.timestamp))))));
    }
  }
  render(...out);
}

async function audit() {
  const p = params();
  const q = new URLSearchParams({ limit: '50' });
  if (p.get('cursor')) q.set('cursor', p.get('cursor'));
  const [page, v] = await Promise.all([api(`/api/v1/audit?${q}`), api('/api/v1/audit/verify')]);
  render(el('h1', {}, 'Audit log'),
    el('p', { id: 'verify' }, badge(v.intact ? 'ok' : 'bad'), v.intact
      ? ` The hash chain verifies (${v.rows} rows).` : ` The chain is broken at row ${v.first_bad_seq}: ${v.detail || ''}`),
    el('div', { class: 'table' }, el('table', {}, el('thead', {}, el('tr', {},
      ['#', 'Time', 'Event', 'Source', 'Client', 'Reason'].map((h, i) => el('th', { class: i > 3 ? 'wide' : null }, h)))),
    el('tbody', {}, page.data.map((r) => el('tr', {}, el('td', {}, r.seq), el('td', {}, when(r.time)),
      el('td', {}, r.event), el('td', {}, r.source ?? ''), el('td', { class: 'wide' }, r.client ?? ''),
      el('td', { class: 'wide' }, r.reason ?? '')))))),
    page.next_cursor ? el('a', { href: `#/audit?cursor=${encodeURIComponent(page.next_cursor)}` }, 'Older rows') : null);
}

// ---- routing ----

async function route() {
  if (!state.csrf) return;
  const path = location.hash.replace(/^#/, '').split('?')[0] || '/overview';
  for (const a of document.querySelectorAll('nav a')) {
    const on = path.startsWith(a.getAttribute('href').slice(1)) ||
      (path.startsWith('/message/') && a.getAttribute('href') === '#/messages');
    a.classList.toggle('active', on);
    if (on) a.setAttribute('aria-current', 'page'); else a.removeAttribute('aria-current');
  }
  document.body.dataset.page = path.split('/')[1];
  try {
    if (path.startsWith('/message/')) await message(decodeURIComponent(path.slice(9)));
    else if (path === '/messages') await messages();
    else if (path === '/dead') await dead();
    else if (path === '/subscriptions') await subscriptions();
    else if (path === '/audit') await audit();
    else await overview();
    document.body.dataset.ready = path;
  } catch (e) { if (e.status !== 401) fail(e); }
}

// A new page moves the keyboard focus to its heading, so a keyboard or
// screen-reader user starts reading there rather than at the old link.
window.addEventListener('hashchange', async () => {
  await route();
  const h = document.querySelector('#view h1');
  if (h) {
    h.tabIndex = -1;
    h.focus({ preventScroll: true });
  }
});
document.addEventListener('DOMContentLoaded', async () => {
  $('signin').addEventListener('submit', signIn);
  $('signout').addEventListener('click', signOut);
  try {
    const d = await api('/ui/api/session');
    state.csrf = d.csrf;
    started();
  } catch { showSignIn(); }
});
