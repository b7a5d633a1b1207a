// SemEdge technician page: plain JS, no build step. Every text from the server goes through textContent.
'use strict';

const state = { classes: [], role: 'read', recent: [], tab: 'live', viewing: null, queue: [], latencies: [], pending: false, arrived: 0, burst: false };
// For measurements and tests: verdict-to-page delays in ms, as the browser saw them.
window.semedgeLatencies = state.latencies;

function token() { return sessionStorage.getItem('semedge-token'); }

async function api(path, options = {}) {
  const headers = Object.assign({}, options.headers || {});
  if (token()) headers['Authorization'] = 'Bearer ' + token();
  if (options.method === 'POST') { headers['X-SemEdge-Intent'] = 'label'; headers['Content-Type'] = 'application/json'; }
  const response = await fetch(path, Object.assign({}, options, { headers, credentials: 'same-origin' }));
  if (response.status === 401) { showLogin(); throw new Error('token required'); }
  if (!response.ok) {
    let message = response.status + '';
    try { message = (await response.json()).error || message; } catch (e) { /* not JSON */ }
    throw new Error(message);
  }
  return response.json();
}

function el(tag, attrs = {}, text) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  if (text !== undefined) node.textContent = text;
  return node;
}

function imageUrl(path, size) { return '/api/image?size=' + size + '&path=' + encodeURIComponent(path); }

// The server answers 503 for a thumbnail while images wait for inspection (a thumbnail costs about one image decode,
// and the page must not slow the line). A deferred thumbnail is asked for again after a pause, not at every redraw.
const thumbnailPause = new Map(); // path -> { until: time before which it is not asked for again, tries }

function thumbnail(path, alt) {
  const pause = thumbnailPause.get(path);
  if (pause && pause.tries >= 30) return el('div', { class: 'thumb-wait' }, 'no image');
  if (pause && Date.now() < pause.until) return waitingThumbnail(path, alt, pause.until);
  const img = el('img', { src: imageUrl(path, 'thumb'), alt, loading: 'lazy' });
  img.addEventListener('load', () => thumbnailPause.delete(path));
  img.addEventListener('error', () => {
    if (thumbnailPause.size > 500) thumbnailPause.clear();
    const next = { until: Date.now() + 2000, tries: ((thumbnailPause.get(path) || {}).tries || 0) + 1 };
    thumbnailPause.set(path, next);
    img.replaceWith(waitingThumbnail(path, alt, next.until));
  });
  return img;
}

function tile(v, opts = {}) {
  const action = v.action || 'unknown';
  const div = el('div', { class: 'tile ' + action + (opts.big ? ' big' : ''), 'data-image': v.image, 'data-path': v.path || '' });
  if (v.path) div.appendChild(thumbnail(v.path, v.image));
  div.appendChild(el('div', { class: 'badge' }, action));
  if (v.screen && v.screen !== 'off') div.appendChild(el('div', { class: 'screen' }, v.screen === 'clean' ? 'screen: clean' : 'screen: defect'));
  if (opts.labelled) div.appendChild(el('div', { class: 'labelled' }, 'labelled ' + opts.labelled));
  const conf = typeof v.confidence === 'number' ? (v.confidence * 100).toFixed(1) + '%' : '';
  div.appendChild(el('div', { class: 'caption' }, (v.label || '?') + ' ' + conf + '\n' + v.image));
  if (v.path) div.addEventListener('click', () => openViewer(v.path, v, opts.queue));
  return div;
}

// ---- live view ----
function render() {
  state.pending = false;
  state.burst = state.arrived > burstSize;
  state.arrived = 0;
  const latest = document.getElementById('latest');
  if (state.recent.length > 0) {
    const big = tile(state.recent[0], { big: true });
    big.id = 'latest';
    latest.replaceWith(big);
  }
  const tiles = document.getElementById('tiles');
  tiles.replaceChildren(...state.recent.slice(1, 25).map(v => tile(v)));
}

// More new verdicts than this between two redraws is a burst (at 20 images/s about five arrive per redraw).
const burstSize = 12;

function scheduleRender() {
  // At 20 images/s the page redraws at most four times a second; in a burst once a second, since every redraw then
  // brings two dozen new tiles and their thumbnails, and where the browser shares the board's cores its CPU is the
  // line's. The stream itself is never slowed.
  state.arrived++;
  if (!state.pending) { state.pending = true; setTimeout(render, state.burst ? 1000 : 250); }
}

function connect() {
  const stream = new EventSource('/api/events');
  const badge = document.getElementById('stream');
  stream.onopen = () => { badge.textContent = 'live'; badge.className = 'ok'; };
  stream.onerror = () => { badge.textContent = 'reconnecting'; badge.className = 'bad'; };
  stream.addEventListener('verdict', event => {
    const v = JSON.parse(event.data);
    state.latencies.push(Date.now() - Date.parse(v.ts));
    if (state.latencies.length > 10000) state.latencies.splice(0, 5000);
    if (state.recent.some(r => r.seq === v.seq)) return;
    state.recent.unshift(v);
    state.recent.length = Math.min(state.recent.length, 60);
    scheduleRender();
    if (v.action === 'review' && state.tab === 'review') loadReview();
  });
}

// ---- health and chart ----
const palette = ['#4e79a7', '#f28e2b', '#e15759', '#76b7b2', '#59a14f', '#edc948', '#b07aa1', '#ff9da7', '#9c755f', '#bab0ac', '#86bcb6'];

function row(table, name, value) {
  const tr = el('tr');
  tr.appendChild(el('th', {}, name));
  tr.appendChild(el('td', {}, value));
  table.appendChild(tr);
}

async function loadHealth() {
  let h;
  try { h = await api('/api/health'); } catch (e) { return; }
  const t = document.getElementById('health-table');
  t.replaceChildren();
  row(t, 'throughput', h.imagesPerSecond + ' images/s (' + h.lastHour + ' in the last hour)');
  row(t, 'totals', h.inspected + ' inspected: ' + h.passed + ' pass, ' + h.rejected + ' reject, ' + h.reviewed + ' review, ' + h.quarantined + ' quarantined');
  row(t, 'queue / outbox', h.queue + ' queued, ' + h.outbox + ' verdicts unsent');
  row(t, 'broker', h.broker ? 'connected' : 'NOT connected');
  row(t, 'model', h.model ? h.model.id + ' v' + h.model.version + ' sha ' + h.model.sha + (h.model.screenId ? ' + screen ' + h.model.screenId : '') : 'loading');
  row(t, 'accelerator', h.model ? h.model.provider : '');
  row(t, 'GPIO', h.gpio.map(g => g.line + ' ' + (g.active ? 'ON' : 'off')).join(', ') || 'none');
  row(t, 'watchdog', h.watchdog.state + (h.watchdog.inFlight ? ' (' + h.watchdog.inFlight + ' for ' + h.watchdog.inFlightSeconds + ' s)' : ''));
  row(t, 'page', h.streams + ' live streams, ' + h.feedDropped + ' verdicts dropped by the page');
  const body = document.querySelector('#class-table tbody');
  body.replaceChildren(...h.classes.map(c => {
    const tr = el('tr');
    for (const value of [c.label, c.count, (c.rejectRate * 100).toFixed(1) + '%', (c.reviewRate * 100).toFixed(1) + '%', (c.meanConfidence * 100).toFixed(1) + '%']) tr.appendChild(el('td', {}, String(value)));
    return tr;
  }));
  drawChart(h.chart);
}

function drawChart(minutes) {
  const canvas = document.getElementById('chart');
  const g = canvas.getContext('2d');
  const w = canvas.width, hgt = canvas.height, pad = 20;
  g.clearRect(0, 0, w, hgt);
  const classes = state.classes.length ? state.classes : [...new Set(minutes.flatMap(m => Object.keys(m.counts)))];
  const max = Math.max(1, ...minutes.map(m => Object.values(m.counts).reduce((a, b) => a + b, 0)));
  const bw = (w - 2 * pad) / 60;
  minutes.forEach((m, i) => {
    let y = hgt - pad;
    classes.forEach((c, ci) => {
      const n = m.counts[c] || 0;
      const bh = n / max * (hgt - 2 * pad);
      g.fillStyle = palette[ci % palette.length];
      g.fillRect(pad + i * bw, y - bh, bw - 1, bh);
      y -= bh;
    });
  });
  g.strokeStyle = '#fff'; g.lineWidth = 2; g.beginPath();
  minutes.forEach((m, i) => { const y = hgt - pad - m.meanConfidence * (hgt - 2 * pad); if (i === 0) g.moveTo(pad + i * bw + bw / 2, y); else g.lineTo(pad + i * bw + bw / 2, y); });
  g.stroke();
  g.fillStyle = '#fff';
  minutes.forEach((m, i) => { g.beginPath(); g.arc(pad + i * bw + bw / 2, hgt - pad - m.meanConfidence * (hgt - 2 * pad), 3, 0, 2 * Math.PI); g.fill(); });
  g.fillStyle = '#9aa3ad'; g.font = '11px sans-serif';
  g.fillText('mean confidence (white line, 0-100 %), verdicts per minute (bars, max ' + max + ')', pad, 12);
  if (minutes.length) { g.fillText(minutes[0].minute, pad, hgt - 5); g.fillText(minutes[minutes.length - 1].minute, w - pad - 30, hgt - 5); }
  document.getElementById('legend').replaceChildren(...classes.map((c, ci) => {
    const s = el('span'); const i = el('i'); i.style.background = palette[ci % palette.length]; s.appendChild(i); s.appendChild(document.createTextNode(ci + ' ' + c)); return s;
  }));
}

// ---- review queue and archive ----
async function loadReview() {
  const entries = await api('/api/review');
  state.queue = entries.map(e => e.path);
  document.getElementById('review-count').textContent = '(' + entries.length + ')';
  document.getElementById('review-tiles').replaceChildren(...entries.map(e => tile(verdictOf(e), { queue: true })));
  if (entries.length === 0) document.getElementById('review-tiles').appendChild(el('div', { class: 'empty' }, 'nothing to review'));
}

function verdictOf(entry) { return Object.assign({ image: entry.name, path: entry.path, action: entry.path.split('/')[1] }, entry.verdict || {}, { path: entry.path }); }

async function loadDays() {
  const days = await api('/api/archive/days');
  const box = document.getElementById('days');
  box.replaceChildren();
  for (const d of days) {
    box.appendChild(el('span', { class: 'day' }, d.day));
    for (const [action, n] of Object.entries(d.counts)) {
      const b = el('button', { 'data-day': d.day, 'data-action': action }, action + ' ' + n);
      b.addEventListener('click', () => loadArchive(d.day, action));
      box.appendChild(b);
    }
    box.appendChild(el('br'));
  }
}

async function loadArchive(day, action) {
  const entries = await api('/api/archive/list?day=' + encodeURIComponent(day) + '&action=' + encodeURIComponent(action));
  document.getElementById('archive-tiles').replaceChildren(...entries.map(e => tile(verdictOf(e), { labelled: e.labelledAs })));
}

// ---- viewer and labelling ----
async function openViewer(path, verdict, fromQueue) {
  state.viewing = { path, verdict, fromQueue };
  const dialog = document.getElementById('viewer');
  document.getElementById('viewer-image').src = imageUrl(path, 'full');
  document.getElementById('viewer-title').textContent = path;
  document.getElementById('viewer-status').textContent = '';
  let full = verdict;
  try { full = await api('/api/verdict?path=' + encodeURIComponent(path)); } catch (e) { /* no verdict recorded */ }
  state.viewing.verdict = full;
  document.getElementById('viewer-json').textContent = JSON.stringify(full, null, 2);
  const keys = document.getElementById('viewer-keys');
  keys.replaceChildren(...state.classes.map((c, i) => {
    const b = el('button', { 'data-label': c, class: full && full.label === c ? 'model' : '' }, (i < 10 ? i + '  ' : '   ') + c + (full && full.label === c ? '  (model; Enter confirms)' : ''));
    b.disabled = state.role !== 'label';
    b.addEventListener('click', () => label(c));
    return b;
  }));
  if (!dialog.open) dialog.showModal();
}

async function label(name) {
  const v = state.viewing;
  if (!v || state.role !== 'label') return;
  const status = document.getElementById('viewer-status');
  try {
    const result = await api('/api/label', { method: 'POST', body: JSON.stringify({ path: v.path, label: name }) });
    status.textContent = 'labelled ' + result.label + ' -> ' + result.file + ' by ' + result.labelledBy;
    status.setAttribute('data-done', result.file);
    if (v.fromQueue) {
      await loadReview();
      const next = state.queue.find(p => p !== v.path);
      if (next) openViewer(next, { path: next }, true);
    }
  } catch (e) { status.textContent = 'not labelled: ' + e.message; }
}

document.addEventListener('keydown', event => {
  const dialog = document.getElementById('viewer');
  if (!dialog.open || !state.viewing) return;
  if (event.key >= '0' && event.key <= '9') {
    const c = state.classes[Number(event.key)];
    if (c) { event.preventDefault(); label(c); }
  } else if (event.key === 'Enter' && state.viewing.verdict && state.viewing.verdict.label) {
    event.preventDefault(); label(state.viewing.verdict.label);
  }
});

// ---- tabs, sign-in, start ----
function showTab(name) {
  state.tab = name;
  for (const b of document.querySelectorAll('nav button')) b.classList.toggle('active', b.dataset.tab === name);
  for (const s of document.querySelectorAll('.tab')) s.hidden = s.id !== name;
  if (name === 'review') loadReview().catch(() => {});
  if (name === 'archive') loadDays().catch(() => {});
}

function showLogin() { document.getElementById('login').hidden = false; }

async function start() {
  const me = await api('/api/whoami');
  state.classes = me.classes; state.role = me.role;
  document.getElementById('who').textContent = me.name + ' (' + me.role + ')';
  document.getElementById('login').hidden = true;
  state.recent = await api('/api/recent');
  render();
  connect();
  loadHealth();
  setInterval(loadHealth, 2000);
  loadReview().catch(() => {});
}

document.getElementById('login-form').addEventListener('submit', async event => {
  event.preventDefault();
  sessionStorage.setItem('semedge-token', document.getElementById('token').value);
  try { await api('/api/login', { method: 'POST', body: '{}' }); await start(); }
  catch (e) { document.getElementById('login-error').textContent = e.message; }
});
for (const b of document.querySelectorAll('nav button')) b.addEventListener('click', () => showTab(b.dataset.tab));
document.getElementById('viewer-close').addEventListener('click', () => document.getElementById('viewer').close());
start().catch(() => {});
