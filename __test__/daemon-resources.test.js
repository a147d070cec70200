'use strict';

// What a long-lived daemon holds does not grow with use: clients that come and go, in any
// way (closed, abandoned by their process' exit, `pm2 logs` ended with Ctrl-C, gone in the
// middle of a request, subscribed with a backlog spilled to disk) leave the daemon's
// descriptor count where it was.

const { test } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { spawn } = require('node:child_process');

const {
  IS_ORIGINAL, implPath, sandbox, call, waitFor, withTimeout, readDaemonPid, killPid, disposeClient, impl,
  onlineProc, procByName, runChild, describeRun,
} = require('./helpers');
const { CLI } = require('./cli-helpers');

const ROUNDS = 10;
const linuxOnly = process.platform !== 'linux' && 'reads /proc';

// Logs a numbered line every 100 ms.
const TICKER = "let n = 0; setInterval(() => console.log('tick ' + n++), 100);\n";

function descriptors(pid) {
  return fs.readdirSync(`/proc/${pid}/fd`);
}

// The daemon's open files that are spooled bus backlogs (unnamed files under PM2_HOME).
function spoolFiles(pid, home) {
  const out = [];
  for (const fd of descriptors(pid)) {
    let target;
    try { target = fs.readlinkSync(`/proc/${pid}/fd/${fd}`); } catch { continue; }
    if (target.startsWith(home + path.sep) && target.endsWith(' (deleted)')) out.push(target);
  }
  return out;
}

// Waits until the daemon holds no more descriptors than `baseline`.
function backTo(pid, baseline, what) {
  return waitFor(() => descriptors(pid).length <= baseline, {
    timeout: 20000,
    message: `${what}: the daemon holds ${descriptors(pid).length} descriptors, ${baseline} before`,
  });
}

// Node's arguments to run `source` with the module under test as `PM2` and `home` its home.
function clientArgs(home, source) {
  return ['-e', `const PM2 = require(${JSON.stringify(implPath())}).custom; const home = ${JSON.stringify(home)};\n${source}`];
}

// A client process running `source`, once it printed `ready`.
function client(home, source) {
  const child = spawn(process.execPath, clientArgs(home, source), { stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (d) => {
      out += d;
      if (out.includes('ready')) resolve(child);
    });
    child.on('exit', (code) => reject(new Error(`client exited (${code}) before it was ready: ${out}`)));
  }).finally(() => child.removeAllListeners('exit'));
}

function exited(child) {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve();
    else child.on('exit', () => resolve());
  });
}

// One bus client of each way; each resolves once its client has gone.
const ways = {
  async 'closed'(home) {
    const c = new (impl().custom)({ pm2_home: home });
    await call(c, 'connect');
    const bus = await call(c, 'launchBus');
    await withTimeout(new Promise((resolve) => bus.on('log:out', resolve)), 10000, 'a log line on the bus');
    bus.close();
    await disposeClient(c);
  },
  async 'abandoned by its process exiting'(home) {
    const r = await runChild(process.execPath, clientArgs(home, [
      'const c = new PM2({ pm2_home: home });',
      "c.connect(() => c.launchBus((err, bus) => bus.on('log:out', () => { console.log('got a line'); process.exit(0); })));",
    ].join('\n')));
    assert.match(r.stdout, /got a line/, describeRun(r));
  },
  async '`pm2 logs` ended with SIGINT'(home) {
    // No tail: every line it prints came through its subscription.
    const child = spawn(CLI, ['logs', '--lines', '0'], { env: { ...process.env, PM2_HOME: home }, stdio: ['ignore', 'pipe', 'ignore'] });
    let out = '';
    child.stdout.on('data', (d) => { out += d; });
    await waitFor(() => /tick \d+/.test(out), { timeout: 15000, message: `pm2 logs printed no line: ${out}` });
    child.kill('SIGINT');
    await exited(child);
  },
  async 'connected for a list()'(home) {
    const c = new (impl().custom)({ pm2_home: home });
    await call(c, 'connect');
    await call(c, 'list');
    await disposeClient(c);
  },
};

test('bus clients that close, exit without closing, or are `pm2 logs` ended with SIGINT leave the daemon\'s descriptor count where it was', {
  skip: linuxOnly, timeout: 240000,
}, async (t) => {
  const { pm2, home, writeApp } = await sandbox(t);
  await call(pm2, 'connect');
  await call(pm2, 'start', { script: writeApp('ticker.js', TICKER), name: 'ticker' });
  await onlineProc(pm2, 'ticker');
  const daemon = readDaemonPid(home);
  // One of each first: what a daemon opens once, on its first client, is not a leak.
  for (const way of Object.values(ways)) await way(home);

  const baseline = descriptors(daemon).length;
  for (const [name, way] of Object.entries(ways)) {
    for (let i = 0; i < ROUNDS; i++) await way(home);
    await backTo(daemon, baseline, `${ROUNDS} clients ${name}`);
  }
});

test('a client that goes away in the middle of a request is released before the request ends', {
  skip: linuxOnly, timeout: 120000,
}, async (t) => {
  const { pm2, home, writeApp } = await sandbox(t);
  // Ignores the stop signal: its stop lasts until the kill timeout (or until it is killed). It
  // says it is ready once its handler is in place, so a slow start cannot make it die of SIGINT.
  const script = writeApp('stubborn.js', "process.on('SIGINT', () => {}); process.send('ready'); setInterval(() => {}, 1000);\n");
  await call(pm2, 'connect');
  await call(pm2, 'start', { script, name: 'stubborn', kill_timeout: 60000, wait_ready: true });
  const app = await onlineProc(pm2, 'stubborn');
  const daemon = readDaemonPid(home);
  await call(pm2, 'list');
  const baseline = descriptors(daemon).length;

  const child = await client(home, [
    'const c = new PM2({ pm2_home: home });',
    "c.connect(() => { c.stop('stubborn', (err) => err && console.error('stop failed:', err)); console.log('ready'); });",
  ].join('\n'));
  t.after(() => killPid(child.pid));
  let status;
  await waitFor(async () => (status = (await procByName(pm2, 'stubborn')).pm2_env.status) === 'stopping', { timeout: 15000 })
    .catch(() => assert.fail(`the stop never began: the app is ${status}`));
  child.kill('SIGKILL');
  await exited(child);
  await backTo(daemon, baseline, 'a client gone during stop');
  assert.equal((await procByName(pm2, 'stubborn')).pm2_env.status, 'stopping', 'the request was still being served');
  killPid(app.pid);
});

test('a subscriber gone while its backlog is spooled to disk takes its spool file with it', {
  skip: (IS_ORIGINAL && 'pm2 7.0.4 buffers a slow subscriber in memory') || linuxOnly, timeout: 120000,
}, async (t) => {
  // A small in-memory backlog: the flood below spills to a spool file at once.
  const saved = process.env.PM2_BUS_MEMORY;
  process.env.PM2_BUS_MEMORY = '65536';
  const { pm2, home, writeApp } = await sandbox(t);
  try {
    await call(pm2, 'connect');
  } finally {
    if (saved === undefined) delete process.env.PM2_BUS_MEMORY;
    else process.env.PM2_BUS_MEMORY = saved;
  }
  await call(pm2, 'list');
  const daemon = readDaemonPid(home);
  const baseline = descriptors(daemon).length;

  // Subscribes, then is stopped (every thread of it): it reads nothing more. launchBus calls
  // back before the daemon confirmed the subscription; the list() after it waits for that.
  const child = await client(home, "const c = new PM2({ pm2_home: home }); c.connect(() => c.launchBus(() => c.list(() => console.log('ready'))));");
  t.after(() => killPid(child.pid));
  child.kill('SIGSTOP');
  const flood = "for (let i = 0; i < 50000; i++) console.log('line ' + i + ' '.padEnd(100, 'x'));\nsetInterval(() => {}, 1000);\n";
  await call(pm2, 'start', { script: writeApp('flood.js', flood), name: 'flood' });
  await waitFor(() => spoolFiles(daemon, home).length > 0, { timeout: 30000, message: 'the backlog never spilled to disk' });

  child.kill('SIGKILL');
  await exited(child);
  await waitFor(() => spoolFiles(daemon, home).length === 0, { timeout: 20000, message: 'the spool file is still open' });
  await call(pm2, 'delete', 'flood');
  await backTo(daemon, baseline, 'a spooling subscriber gone');
});
