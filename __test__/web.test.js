'use strict';

// `pm2 web`: the daemon's dashboard, driven in a real browser (Debian's chromium, headless,
// through playwright-core: nothing downloaded), and its HTTP rules checked request by
// request. pm2 7 has no such command: these run against this module only.

const { test } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const http = require('node:http');

const { IS_ORIGINAL, waitFor } = require('./helpers');
const { cliSandbox } = require('./cli-helpers');
const { freePort, localGet } = require('./http');

const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
const skip = IS_ORIGINAL && 'pm2 7 has no web dashboard';

const TICKER = "let n = 0; setInterval(() => console.log('web-tick ' + n++), 300)\n";
const CRASHER = "console.log('about to crash'); setTimeout(() => process.exit(3), 500)\n";

// A sandbox with the ticker app online and the web interface on a free port.
async function served(t, webArgs = [], { env } = {}) {
  const box = await cliSandbox(t);
  box.writeApp('ticker.js', TICKER);
  const started = await box.pm2cli(['start', 'ticker.js', '--name', 'ticker'], { env });
  assert.equal(started.code, 0, started.stderr + started.stdout);
  const port = await freePort();
  const web = await box.pm2cli(['web', String(port), ...webArgs]);
  assert.equal(web.code, 0, web.stderr + web.stdout);
  const token = fs.readFileSync(path.join(box.home, 'web.token'), 'utf8').trim();
  const base = `http://127.0.0.1:${port}`;
  return { box, port, token, base, output: web.stdout };
}

function action(base, body, headers = {}) {
  return fetch(`${base}/api/action`, { method: 'POST', headers: { 'Content-Type': 'application/json', Origin: base, ...headers }, body: JSON.stringify(body) });
}

async function jlist(box) {
  const r = await box.pm2cli(['jlist']);
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout);
}

async function browser(t) {
  assert.ok(fs.existsSync(CHROMIUM), `chromium is needed at ${CHROMIUM} for the dashboard test (apt-get install -y chromium; .ci/run installs it)`);
  const { chromium } = require('playwright-core');
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'pm2-web-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  t.after(async () => {
    await context.close().catch(() => {});
    fs.rmSync(profile, { recursive: true, force: true });
  });
  return context;
}

const text = (page, selector) => page.locator(selector).first().textContent({ timeout: 2000 }).catch(() => '');

test('the dashboard lists the apps, tails their logs, restarts on a click, shows a crash, and refuses an action without the token', { skip }, async (t) => {
  const { box, token, base, output } = await served(t);
  assert.match(output, new RegExp(`${base}/dashboard#token=${token}`));
  const context = await browser(t);
  const page = await context.newPage();
  await page.goto(`${base}/dashboard#token=${token}`);

  const row = 'tr[data-id="0"]';
  await waitFor(async () => (await text(page, `${row} .name`)) === 'ticker' && (await text(page, `${row} .status`)) === 'online', { timeout: 15000, message: 'the page never listed ticker online' });
  assert.equal(page.url(), `${base}/dashboard`, 'the token is taken out of the address bar');

  await waitFor(async () => /web-tick \d+/.test(await text(page, '#logs')), { timeout: 15000, message: 'no log line of the app reached the page' });

  const [before] = await jlist(box);
  assert.equal(await text(page, `${row} .pid`), String(before.pid));
  await page.click(`${row} button[data-action="restart"]`);
  await waitFor(async () => (await text(page, '#result')).includes('restart 0: done'), { timeout: 15000, message: 'the restart was not reported done' });
  const [after] = await jlist(box);
  assert.equal(after.pm2_env.restart_time, before.pm2_env.restart_time + 1);
  assert.notEqual(after.pid, before.pid);
  await waitFor(async () => (await text(page, `${row} .restarts`)) === String(after.pm2_env.restart_time) && (await text(page, `${row} .pid`)) === String(after.pid), { timeout: 15000, message: 'the page never showed the new restart count and pid' });
  await waitFor(async () => (await text(page, '#timeline')).includes('ticker (0): restart'), { timeout: 15000, message: 'the restart is not on the timeline' });

  box.writeApp('crasher.js', CRASHER);
  const crasher = await box.pm2cli(['start', 'crasher.js', '--name', 'crasher', '--no-autorestart']);
  assert.equal(crasher.code, 0, crasher.stderr);
  await waitFor(async () => /crasher \(1\): exit with code 3/.test(await text(page, '#timeline')), { timeout: 15000, message: 'the crash is not on the timeline' });
  await waitFor(async () => (await text(page, 'tr[data-id="1"] .status')) === 'stopped', { timeout: 15000, message: 'the crashed app is not shown stopped' });
  // An app ended by a signal is shown with that signal, not with a code.
  box.writeApp('killed.js', "setTimeout(() => process.kill(process.pid, 'SIGKILL'), 500)\n");
  const killed = await box.pm2cli(['start', 'killed.js', '--name', 'killed', '--no-autorestart']);
  assert.equal(killed.code, 0, killed.stderr);
  await waitFor(async () => /killed \(2\): exit by SIGKILL/.test(await text(page, '#timeline')), { timeout: 15000, message: 'the signal is not on the timeline' });

  // A second tab opened without the token sees the apps but cannot act.
  const stranger = await context.newPage();
  await stranger.goto(`${base}/dashboard`);
  await waitFor(async () => (await text(stranger, `${row} .name`)) === 'ticker', { timeout: 15000, message: 'the page without token never listed the apps' });
  await stranger.click(`${row} button[data-action="stop"]`);
  await waitFor(async () => /refused \(401\)/.test(await text(stranger, '#result')), { timeout: 15000, message: 'an action without the token was not refused' });
  const [still] = await jlist(box);
  assert.equal(still.pm2_env.status, 'online');
  assert.equal(still.pid, after.pid);
});

test('actions need the token, the page\'s own origin and JSON; bad requests get a 4xx that says why', { skip }, async (t) => {
  const { box, token, base, port } = await served(t);
  const mode = fs.statSync(path.join(box.home, 'web.token')).mode & 0o777;
  assert.equal(mode, 0o600);
  const cases = [
    [{ action: 'restart', target: 'ticker' }, {}, 401],
    [{ action: 'restart', target: 'ticker' }, { 'X-PM2-Token': 'wrong' }, 401],
    [{ action: 'restart', target: 'ticker' }, { 'X-PM2-Token': token, Origin: 'http://evil.example' }, 403],
    [{ action: 'explode', target: 'ticker' }, { 'X-PM2-Token': token }, 400],
    [{ action: 'restart' }, { 'X-PM2-Token': token }, 400],
    [{ action: 'restart', target: 'nosuchapp' }, { 'X-PM2-Token': token }, 422],
  ];
  for (const [body, headers, status] of cases) {
    const r = await action(base, body, headers);
    assert.equal(r.status, status, `${JSON.stringify(body)} ${JSON.stringify(headers)}`);
    assert.ok((await r.json()).error, 'the refusal says why');
  }
  const notJson = await fetch(`${base}/api/action`, { method: 'POST', headers: { Origin: base, 'X-PM2-Token': token, 'Content-Type': 'text/plain' }, body: '{}' });
  assert.equal(notJson.status, 415);
  const malformed = await fetch(`${base}/api/action`, { method: 'POST', headers: { Origin: base, 'X-PM2-Token': token, 'Content-Type': 'application/json' }, body: '{' });
  assert.equal(malformed.status, 400);
  const huge = await action(base, { action: 'restart', target: 'x'.repeat(10000) }, { 'X-PM2-Token': token });
  assert.equal(huge.status, 413);
  assert.equal((await fetch(`${base}/nope`)).status, 404);
  assert.equal((await fetch(`${base}/`, { method: 'PUT' })).status, 405);
  assert.equal((await localGet(port, '/', { Host: 'rebound.example' })).status, 403, 'a page of another name (DNS rebinding) gets nothing');

  const scaled = await action(base, { action: 'scale', target: 'ticker', count: '+1' }, { 'X-PM2-Token': token });
  assert.equal(scaled.status, 200, await scaled.clone().text());
  assert.equal((await jlist(box)).filter((p) => p.name === 'ticker').length, 2);
  assert.equal((await box.pm2cli(['jlist'])).code, 0);
});

test('--read-only turns the actions off; the environment leaves only with the token', { skip }, async (t) => {
  const { token, base, output } = await served(t, ['--read-only'], { env: { WEB_TEST_SECRET: 's3cr3t-value' } });
  assert.match(output, /Read-only/);
  const r = await action(base, { action: 'stop', target: 'ticker' }, { 'X-PM2-Token': token });
  assert.equal(r.status, 403);
  assert.match((await r.json()).error, /read-only/);

  for (const url of ['/', '/api/app/0']) {
    const body = await (await fetch(base + url)).text();
    assert.ok(body.includes('ticker') && !body.includes('s3cr3t-value'), `${url} shows no environment without the token`);
  }
  assert.equal((await fetch(`${base}/api/app/0?env=1`)).status, 401);
  const withEnv = await (await fetch(`${base}/api/app/0?env=1`, { headers: { 'X-PM2-Token': token } })).text();
  assert.ok(withEnv.includes('s3cr3t-value'));
});

test('off loopback, everything but health and the page itself needs the token; open streams are limited', { skip }, async (t) => {
  const box = await cliSandbox(t);
  box.writeApp('ticker.js', TICKER);
  assert.equal((await box.pm2cli(['start', 'ticker.js', '--name', 'ticker'])).code, 0);
  const port = await freePort();
  assert.equal((await box.pm2cli(['web', `0.0.0.0:${port}`])).code, 0);
  const token = fs.readFileSync(path.join(box.home, 'web.token'), 'utf8').trim();
  const base = `http://127.0.0.1:${port}`;
  for (const open of ['/healthz', '/dashboard', '/dashboard/page.js']) assert.equal((await fetch(base + open)).status, 200, open);
  for (const closed of ['/', '/metrics', '/api/app/0', '/api/stream']) assert.equal((await fetch(base + closed)).status, 401, closed);
  assert.equal((await fetch(`${base}/metrics`, { headers: { 'X-PM2-Token': token } })).status, 200);
  assert.equal((await fetch(`${base}/metrics`, { headers: { Authorization: `Bearer ${token}` } })).status, 200, 'a scraper sends it as a bearer token');

  const streams = [];
  t.after(() => streams.forEach((s) => s.abort()));
  let refused;
  for (let i = 0; i < 20 && !refused; i++) {
    const controller = new AbortController();
    streams.push(controller);
    const r = await fetch(`${base}/api/stream?token=${token}`, { signal: controller.signal });
    if (r.status !== 200) refused = r;
  }
  assert.ok(refused, 'the streams are not limited');
  assert.equal(refused.status, 503);
  assert.equal((await fetch(`${base}/healthz`)).status, 200, 'the daemon still answers');

  const stopped = await box.pm2cli(['web', '--stop']);
  assert.match(stopped.stdout, /stopped/);
  await assert.rejects(localGet(port, '/healthz'), 'no longer served');
});

test('a page that falls behind a log flood loses no line silently: lines received plus lines it was told it skipped add up', { skip }, async (t) => {
  const { box, port, token } = await served(t);
  const LINES = 50000;
  box.writeApp('flood.js', `let i = 0; function go() { let ok = true; while (i < ${LINES} && ok) ok = process.stdout.write('flood ' + i++ + '\\n'); if (i < ${LINES}) process.stdout.once('drain', go) } go(); setInterval(() => {}, 1000)\n`);
  const seen = { lines: 0, skipped: 0 };
  const req = http.get({ host: '127.0.0.1', port, path: `/api/stream?token=${token}`, agent: false }, (res) => {
    let buf = '';
    res.setEncoding('utf8');
    res.on('data', (d) => {
      buf += d;
      let i;
      while ((i = buf.indexOf('\n\n')) >= 0) {
        const [head, data] = buf.slice(0, i).split('\ndata: ');
        buf = buf.slice(i + 2);
        if (head === 'event: log' && JSON.parse(data).name === 'flood') seen.lines++;
        if (head === 'event: skipped') seen.skipped += JSON.parse(data).messages;
      }
    });
  });
  req.on('error', () => {});
  t.after(() => req.destroy());
  await waitFor(() => req.socket, { message: 'the stream did not open' });
  assert.equal((await box.pm2cli(['stop', 'ticker'])).code, 0, 'only the flood writes');
  assert.equal((await box.pm2cli(['start', 'flood.js', '--name', 'flood'])).code, 0);
  // Skipped messages may include process summaries (one a second) and events as well as lines.
  await waitFor(() => seen.lines + seen.skipped >= LINES, { timeout: 30000, message: `lines lost silently: ${JSON.stringify(seen)} of ${LINES}` });
  assert.ok(seen.lines + seen.skipped <= LINES + 60, JSON.stringify(seen));
});

test('pm2-runtime --web serves the same dashboard, with / and /metrics still open to probes and scrapers', { skip }, async (t) => {
  const { workspace } = require('./runtime-helpers');
  const ws = workspace(t);
  ws.write('app.js', TICKER);
  const port = await freePort();
  const rt = ws.run(['start', 'app.js', '--name', 'ticker', '--web', `0.0.0.0:${port}`]);
  await rt.waitOut(/dashboard at http:\/\/0\.0\.0\.0:\d+\/dashboard/);
  await waitFor(async () => (await localGet(port, '/readyz')).status === 200, { timeout: 15000, message: 'never ready' });
  assert.equal((await localGet(port, '/dashboard')).status, 200);
  const metrics = await localGet(port, '/metrics');
  assert.equal(metrics.status, 200);
  assert.match(metrics.body, /pm2_up\{name="ticker"/);
  assert.equal((await localGet(port, '/')).status, 200);
  assert.equal((await localGet(port, '/api/app/0')).status, 401, 'off loopback, the dashboard\'s data needs the token');
  const token = fs.readFileSync(path.join(ws.home, 'web.token'), 'utf8').trim();
  assert.equal((await localGet(port, '/api/app/0', { 'X-PM2-Token': token })).status, 200);
  rt.child.kill('SIGTERM');
  assert.equal((await rt.exited).code, 0);
});
