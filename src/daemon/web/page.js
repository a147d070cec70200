// The pm2 dashboard: one event stream from the daemon (a snapshot, then process summaries
// each second, log lines and events as they happen); actions are POSTs with the token.
// Everything an app or its output names is inserted as text, never as markup.
'use strict';

const MAX_LOG_LINES = 1000;
const MAX_EVENTS = 300;
const state = { procs: new Map(), history: {}, logs: [], stepMs: 10000, readOnly: false, token: '', lastPoint: {} };

const $ = (id) => document.getElementById(id);
function el(tag, props, ...children) {
  const e = document.createElement(tag);
  Object.assign(e, props || {});
  for (const c of children) e.append(c);
  return e;
}

function takeToken() {
  const m = location.hash.match(/token=([A-Za-z0-9]+)/);
  if (m) {
    sessionStorage.setItem('pm2-token', m[1]);
    history.replaceState(null, '', location.pathname + location.search);
  }
  state.token = sessionStorage.getItem('pm2-token') || '';
}

function uptime(ms) {
  const s = Math.max(0, Math.floor(ms / 1000));
  if (s < 60) return s + 's';
  if (s < 3600) return Math.floor(s / 60) + 'm';
  if (s < 86400) return Math.floor(s / 3600) + 'h';
  return Math.floor(s / 86400) + 'D';
}

function bytes(n) {
  if (!n) return '0b';
  if (n < 1024) return n + 'b';
  if (n < 1048576) return (n / 1024).toFixed(1) + 'kb';
  if (n < 1073741824) return (n / 1048576).toFixed(1) + 'mb';
  return (n / 1073741824).toFixed(2) + 'gb';
}

function time(at) {
  return new Date(at).toLocaleTimeString();
}

// CPU (blue, 0..max(100, peak)) and memory (purple, 0..peak) over the last hour.
function drawChart(canvas, points) {
  const ctx = canvas.getContext('2d');
  const w = canvas.width, h = canvas.height;
  ctx.clearRect(0, 0, w, h);
  ctx.fillStyle = '#eef0f4';
  ctx.fillRect(0, 0, w, h);
  if (!points || points.length === 0) { canvas.title = 'no sample yet: one point every 10 s'; return; }
  const now = Date.now(), span = 3600 * 1000;
  const x = (at) => w - ((now - at) / span) * w;
  const line = (values, max, colour) => {
    ctx.strokeStyle = colour;
    ctx.fillStyle = colour;
    if (points.length === 1) ctx.fillRect(x(points[0][0]) - 3, h - 2 - (values(points[0]) / max) * (h - 2), 3, 3);
    ctx.beginPath();
    points.forEach((p, i) => {
      const y = h - 1 - (values(p) / max) * (h - 2);
      if (i === 0) ctx.moveTo(x(p[0]), y); else ctx.lineTo(x(p[0]), y);
    });
    ctx.stroke();
  };
  const cpuMax = Math.max(100, ...points.map((p) => p[1]));
  const memMax = Math.max(1, ...points.map((p) => p[2]));
  line((p) => p[2], memMax, getComputedStyle(document.body).getPropertyValue('--mem') || 'purple');
  line((p) => p[1], cpuMax, getComputedStyle(document.body).getPropertyValue('--cpu') || 'blue');
  canvas.title = `cpu peak ${Math.round(Math.max(...points.map((p) => p[1])))}%, memory peak ${bytes(memMax)} (last hour)`;
}

function actionButtons(p) {
  const td = el('td', { className: 'actions' });
  for (const action of ['restart', 'reload', 'stop', 'start', 'delete', 'flush']) {
    const b = el('button', { type: 'button', textContent: action, disabled: state.readOnly });
    b.dataset.action = action;
    b.addEventListener('click', () => act(action, String(p.pm_id)));
    td.append(b);
  }
  return td;
}

function row(p) {
  const tr = el('tr');
  tr.dataset.id = p.pm_id;
  const name = el('a', { href: '#', textContent: p.name });
  name.addEventListener('click', (e) => { e.preventDefault(); details(p.pm_id, false); });
  const cells = {
    id: el('td', { className: 'id' }), name: el('td', { className: 'name' }, name), namespace: el('td', { className: 'namespace' }),
    status: el('td', { className: 'status' }), pid: el('td', { className: 'pid' }), restarts: el('td', { className: 'restarts' }),
    uptime: el('td', { className: 'uptime' }), cpu: el('td', { className: 'cpu' }), memory: el('td', { className: 'memory' }),
    chart: el('td', { className: 'chart' }, el('canvas', { width: 180, height: 28 })),
  };
  tr.append(...Object.values(cells), actionButtons(p));
  tr.cells_ = cells;
  return tr;
}

function updateRow(tr, p) {
  const c = tr.cells_;
  c.id.textContent = p.pm_id;
  c.namespace.textContent = p.namespace || 'default';
  c.status.textContent = p.status;
  c.status.className = 'status status-' + String(p.status).replace(/\s+/g, '-');
  c.pid.textContent = p.pid || 'N/A';
  c.restarts.textContent = p.restarts;
  c.uptime.textContent = p.status === 'online' ? uptime(Date.now() - p.pm_uptime) : '0';
  c.cpu.textContent = Math.round(p.cpu || 0) + '%';
  c.memory.textContent = bytes(p.memory);
  drawChart(c.chart.firstChild, state.history[p.pm_id]);
}

function renderProcs(list) {
  const tbody = $('apps').tBodies[0];
  const seen = new Set();
  const now = Date.now();
  for (const p of list) {
    seen.add(String(p.pm_id));
    state.procs.set(String(p.pm_id), p);
    // Between the daemon's points, the page extends the charts with what it sees.
    if (p.status === 'online' && now - (state.lastPoint[p.pm_id] || 0) >= state.stepMs) {
      state.lastPoint[p.pm_id] = now;
      const points = (state.history[p.pm_id] = state.history[p.pm_id] || []);
      points.push([now, p.cpu || 0, p.memory || 0]);
      while (points.length && now - points[0][0] > 3600 * 1000) points.shift();
    }
    let tr = tbody.querySelector(`tr[data-id="${Number(p.pm_id)}"]`);
    if (!tr) { tr = row(p); tbody.append(tr); }
    updateRow(tr, p);
  }
  for (const tr of [...tbody.rows]) if (!seen.has(tr.dataset.id)) { tr.remove(); state.procs.delete(tr.dataset.id); }
  const select = $('log-app');
  const chosen = select.value;
  const names = [...new Set(list.map((p) => p.name))].sort();
  const current = [...select.options].slice(1).map((o) => o.value);
  if (names.join('\n') !== current.join('\n')) {
    select.replaceChildren(el('option', { value: '', textContent: 'all apps' }), ...names.map((n) => el('option', { value: n, textContent: n })));
    select.value = names.includes(chosen) ? chosen : '';
  }
}

function logShown(l) {
  const app = $('log-app').value;
  const filter = $('log-filter').value.toLowerCase();
  return (!app || l.name === app) && (!filter || l.line.toLowerCase().includes(filter));
}

function logLine(l) {
  if (l.skipped) return el('div', { className: 'skip', textContent: `… skipped ${l.skipped} messages: the page fell behind` });
  return el('div', { className: l.stream }, el('span', { className: 'who', textContent: `${time(l.at)} ${l.pm_id}|${l.name} ` }), l.line);
}

function addLog(l) {
  state.logs.push(l);
  if (state.logs.length > MAX_LOG_LINES) state.logs.shift();
  const box = $('logs');
  if (!l.skipped && !logShown(l)) return;
  const stick = box.scrollTop + box.clientHeight >= box.scrollHeight - 4;
  box.append(logLine(l));
  while (box.childElementCount > MAX_LOG_LINES) box.firstChild.remove();
  if (stick) box.scrollTop = box.scrollHeight;
}

function renderLogs() {
  const box = $('logs');
  box.replaceChildren(...state.logs.filter((l) => l.skipped || logShown(l)).map(logLine));
  box.scrollTop = box.scrollHeight;
}

function describeEvent(e) {
  let text = `${time(e.at)} ${e.name} (${e.pm_id}): ${e.event}`;
  if (e.event === 'exit') text += `${e.signal ? ` by ${e.signal}` : ` with code ${e.exit_code ?? '?'}`}, now ${e.status}`;
  if (e.event === 'restart overlimit') text += ': restarted too quickly, errored';
  if (e.reason) text += ` for a ${e.reason}`;
  if (e.event === 'exception' && e.message) text += `: ${e.message}`;
  if (e.manually) text += ' (by a user)';
  if (typeof e.restarts === 'number') text += `, restarts ${e.restarts}`;
  return text;
}

function addEvent(e) {
  const cls = e.event === 'exit' ? 'exit' : e.event === 'exception' ? 'exception' : e.event === 'restart overlimit' ? 'overlimit' : '';
  const li = el('li', { className: cls, textContent: describeEvent(e) });
  li.dataset.event = e.event;
  $('timeline').prepend(li);
  while ($('timeline').childElementCount > MAX_EVENTS) $('timeline').lastChild.remove();
}

function headers(json) {
  const h = {};
  if (json) h['Content-Type'] = 'application/json';
  if (state.token) h['X-PM2-Token'] = state.token;
  return h;
}

function showResult(text, ok) {
  const r = $('result');
  r.textContent = text;
  r.className = ok ? 'good' : 'error';
}

async function act(action, target, count) {
  showResult(`${action} ${target}…`, true);
  try {
    const res = await fetch('/api/action', { method: 'POST', headers: headers(true), body: JSON.stringify({ action, target, count }) });
    const body = await res.json().catch(() => ({}));
    if (res.ok && body.ok) showResult(`${action} ${target}: done (ids ${(body.ids || []).join(', ') || 'none'})`, true);
    else showResult(`${action} ${target} refused (${res.status}): ${body.error || res.statusText}`, false);
  } catch (err) {
    showResult(`${action} ${target} failed: ${err}`, false);
  }
}

async function details(id, withEnv) {
  const res = await fetch(`/api/app/${id}${withEnv ? '?env=1' : ''}`, { headers: headers(false) });
  const body = await res.json().catch(() => ({}));
  $('details-section').hidden = false;
  $('details-name').textContent = body.name || String(id);
  $('details').textContent = res.ok ? JSON.stringify(body, null, 2) : `refused (${res.status}): ${body.error || res.statusText}`;
  $('show-env').onclick = () => details(id, true);
}

function connect() {
  const url = '/api/stream' + (state.token ? `?token=${encodeURIComponent(state.token)}` : '');
  const source = new EventSource(url);
  source.addEventListener('open', () => { $('connection').textContent = 'live'; $('connection').className = 'good'; });
  source.addEventListener('error', () => { $('connection').textContent = 'disconnected: retrying'; $('connection').className = 'bad'; });
  source.addEventListener('snapshot', (m) => {
    const s = JSON.parse(m.data);
    state.readOnly = s.read_only;
    state.stepMs = s.history_step_ms || state.stepMs;
    state.history = s.history || {};
    $('mode').textContent = s.read_only ? 'read-only' : '';
    $('apps').tBodies[0].replaceChildren();
    state.procs.clear();
    renderProcs(s.procs);
    state.logs = s.logs || [];
    renderLogs();
    $('timeline').replaceChildren();
    (s.events || []).forEach(addEvent);
    for (const b of document.querySelectorAll('#bulk button')) b.disabled = s.read_only;
  });
  source.addEventListener('procs', (m) => renderProcs(JSON.parse(m.data)));
  source.addEventListener('log', (m) => addLog(JSON.parse(m.data)));
  source.addEventListener('event', (m) => addEvent(JSON.parse(m.data)));
  source.addEventListener('skipped', (m) => {
    const n = JSON.parse(m.data).messages;
    $('skipped').textContent = `skipped ${n} messages`;
    addLog({ skipped: n });
  });
  return source;
}

document.addEventListener('DOMContentLoaded', () => {
  takeToken();
  let source = connect();
  $('token-form').addEventListener('submit', (e) => {
    e.preventDefault();
    state.token = $('token').value.trim();
    sessionStorage.setItem('pm2-token', state.token);
    $('token').value = '';
    source.close();
    source = connect();
  });
  $('bulk').addEventListener('submit', (e) => {
    e.preventDefault();
    act($('bulk-action').value, $('bulk-target').value.trim(), $('bulk-count').value.trim() || undefined);
  });
  $('log-app').addEventListener('change', renderLogs);
  $('log-filter').addEventListener('input', renderLogs);
  $('details-close').addEventListener('click', () => { $('details-section').hidden = true; });
});
