'use strict';

// Cluster mode (the daemon as Node's cluster primary) and zero-downtime reload:
// instances variants, instance_var / increment_var, per-instance log files, shared
// listening sockets (TCP, listen(0), Unix socket, UDP), scale, rolling reload under
// continuous load, wait_ready, reload.lock, fork-mode reload with wait_ready, and bad
// input (never listens, crashes on start, port taken, process.disconnect()).

const { test } = require('node:test');
const assert = require('node:assert/strict');
const dgram = require('node:dgram');
const fs = require('node:fs');
const { execFileSync } = require('node:child_process');
const http = require('node:http');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');

const {
  IS_ORIGINAL, sandbox, call, errText, waitFor, isAlive, sleep, implPath, readDaemonPid,
  runChild, withTimeout, apps,
  listByName, onlineAll,
} = require('./helpers');
const { freePort, httpGet, loadLoop } = require('./http');

// pm2 resolves instances 0 / 'max' / negative against the number of CPUs.
const NCPU = Math.max(1, os.cpus().length);

// ---------------------------------------------------------------------------
// helpers

// A UDP port the OS says is free right now.
function freeUdpPort() {
  return new Promise((resolve, reject) => {
    const s = dgram.createSocket('udp4');
    s.on('error', reject);
    s.bind(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

// Try a TCP (or Unix socket) connection; resolves 'connected' or the error code.
function probeConnect(opts) {
  return new Promise((resolve) => {
    const sock = net.connect(opts);
    const timer = setTimeout(() => { sock.destroy(); resolve('timeout'); }, 5000);
    sock.on('connect', () => { clearTimeout(timer); sock.destroy(); resolve('connected'); });
    sock.on('error', (e) => { clearTimeout(timer); resolve(e.code || e.message); });
  });
}

// Send batches of concurrent requests until every pid in `expected` answered (or `max`
// requests were sent). Returns a Map pid -> count.
async function collectPids(reqOpts, expected, { max = 1500, batch = 12 } = {}) {
  const seen = new Map();
  let sent = 0;
  while (sent < max) {
    const results = await Promise.all(Array.from({ length: batch }, () => httpGet(reqOpts)));
    sent += batch;
    for (const r of results) {
      assert.equal(r.status, 200, `HTTP status ${r.status}: ${r.body}`);
      const { pid } = JSON.parse(r.body);
      seen.set(pid, (seen.get(pid) || 0) + 1);
    }
    if (expected.every((p) => seen.has(p))) break;
  }
  return seen;
}

// Number of sockets the daemon holds open (listening sockets, IPC channels, client
// connections), from /proc on Linux and lsof elsewhere. Used to check that a failed or deleted
// app leaves none behind.
function daemonSocketCount(home) {
  const pid = readDaemonPid(home);
  if (process.platform !== 'linux') {
    const types = execFileSync('lsof', ['-n', '-P', '-a', '-p', String(pid), '-F', 't'], { encoding: 'utf8' });
    return types.split('\n').filter((l) => /^t(unix|IPv4|IPv6)$/.test(l)).length;
  }
  let n = 0;
  for (const fd of fs.readdirSync(`/proc/${pid}/fd`)) {
    try { if (fs.readlinkSync(`/proc/${pid}/fd/${fd}`).startsWith('socket:')) n += 1; } catch { /* closed meanwhile */ }
  }
  return n;
}

// Resolves true if this process can bind the UDP port (nobody else holds it).
function udpPortFree(port) {
  return new Promise((resolve) => {
    const s = dgram.createSocket('udp4');
    s.on('error', () => { try { s.close(); } catch { /* not bound */ } resolve(false); });
    s.bind(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
}

// Events appended by the apps below (one JSON object a line).
function readEvents(file) {
  let text = '';
  try { text = fs.readFileSync(file, 'utf8'); } catch { return []; }
  return text.split('\n').filter(Boolean).map((l) => JSON.parse(l));
}

function hasEvent(file, pid, what) {
  return readEvents(file).some((e) => e.pid === pid && e.what === what);
}

// Shared prologue of the apps: `log(what)` appends an event to $EVENTS_FILE, and a
// graceful shutdown on SIGINT / SIGTERM / 'shutdown' that closes `server` first.
const EVENT_PROLOGUE = `
const fs = require('fs');
const EV = process.env.EVENTS_FILE;
function log(what, extra) {
  if (!EV) return;
  fs.appendFileSync(EV, JSON.stringify(Object.assign({ what, pid: process.pid,
    inst: process.env.NODE_APP_INSTANCE }, extra || {})) + '\\n');
}
log('start');
let server = null;
let closing = false;
function shutdown(how) {
  if (closing) return;
  closing = true;
  log('stop', { how });
  if (server) server.close(() => process.exit(0)); else process.exit(0);
  setTimeout(() => process.exit(0), 4000).unref();
}
process.on('SIGINT', () => shutdown('SIGINT'));
process.on('SIGTERM', () => shutdown('SIGTERM'));
process.on('message', (m) => { if (m === 'shutdown') shutdown('shutdown'); });
process.on('exit', () => log('exit'));
`;

// HTTP server on $PORT (or $SOCK_PATH, or 0 with $LISTEN_ZERO) answering {pid, inst}.
// $BUSY_MS busy-waits per request so that concurrent requests spread over workers.
// $READY_DELAY_MS: process.send('ready') that long after listening.
const HTTP_APP = EVENT_PROLOGUE + `
const http = require('http');
const busy = Number(process.env.BUSY_MS || 0);
server = http.createServer((req, res) => {
  if (busy) { const end = Date.now() + busy; while (Date.now() < end); }
  res.setHeader('Connection', 'close');
  res.end(JSON.stringify({ pid: process.pid, inst: process.env.NODE_APP_INSTANCE }));
});
const target = process.env.SOCK_PATH ? process.env.SOCK_PATH
  : process.env.LISTEN_ZERO ? 0 : Number(process.env.PORT);
server.listen(target, () => {
  const a = server.address();
  log('listening', { port: a && typeof a === 'object' ? a.port : null });
  if (process.env.READY_DELAY_MS) {
    setTimeout(() => {
      log('ready');
      if (process.send) process.send('ready');
    }, Number(process.env.READY_DELAY_MS));
  }
});
`;

// Writes env / cluster facts to $DUMP_DIR/<pid>.json, logs a line, stays alive.
const ENV_DUMP_APP = `
const fs = require('fs');
const path = require('path');
const cluster = require('cluster');
const file = path.join(process.env.DUMP_DIR, process.pid + '.json');
fs.writeFileSync(file + '.tmp', JSON.stringify({ env: process.env, isWorker: cluster.isWorker }));
fs.renameSync(file + '.tmp', file);
console.log('hello from instance ' + process.env.NODE_APP_INSTANCE + ' pid ' + process.pid);
console.error('oops from instance ' + process.env.NODE_APP_INSTANCE);
setInterval(() => {}, 1000);
`;

function readDumps(dir) {
  let names = [];
  try { names = fs.readdirSync(dir); } catch { return []; }
  return names.filter((n) => n.endsWith('.json')).map((n) => JSON.parse(fs.readFileSync(path.join(dir, n), 'utf8')));
}

// ---------------------------------------------------------------------------
// exec mode and instances

test("exec_mode 'cluster' with instances: 2 workers, NODE_APP_INSTANCE, -<pm_id> log files", async (t) => {
  const { pm2, home, dir, writeApp } = await sandbox(t);
  const script = writeApp('dump.js', ENV_DUMP_APP);
  const dumpDir = path.join(dir, 'dumps');
  fs.mkdirSync(dumpDir);
  await call(pm2, 'connect');
  const started = await call(pm2, 'start', {
    script, name: 'web', exec_mode: 'cluster', instances: 2, env: { DUMP_DIR: dumpDir },
  });
  assert.ok(Array.isArray(started));
  assert.equal(started.length, 2);

  const procs = await onlineAll(pm2, 'web', 2);
  assert.deepEqual(procs.map((p) => p.pm_id).sort(), [0, 1]);
  assert.equal(new Set(procs.map((p) => p.pid)).size, 2, 'distinct pids');
  for (const p of procs) {
    assert.equal(p.pm2_env.exec_mode, 'cluster_mode');
    assert.ok(isAlive(p.pid));
    assert.equal(p.pm2_env.pm_out_log_path, path.join(home, 'logs', `web-out-${p.pm_id}.log`));
    assert.equal(p.pm2_env.pm_err_log_path, path.join(home, 'logs', `web-error-${p.pm_id}.log`));
  }

  const dumps = await waitFor(() => {
    const d = readDumps(dumpDir);
    return d.length === 2 ? d : false;
  }, { message: 'workers did not dump their environment' });
  for (const p of procs) {
    const d = dumps.find((x) => String(x.env.pm_id) === String(p.pm_id));
    assert.ok(d, `dump for pm_id ${p.pm_id}`);
    assert.equal(d.isWorker, true, 'the app runs as a Node cluster worker');
    assert.equal(String(d.env.pm_id), String(p.pm_id));
    assert.equal(d.env.name, 'web');
    assert.equal(d.env.DUMP_DIR, dumpDir);
  }
  assert.deepEqual(dumps.map((d) => String(d.env.NODE_APP_INSTANCE)).sort(), ['0', '1']);

  // one out / error log file per instance, each with that instance's own lines
  for (const p of procs) {
    const inst = dumps.find((d) => String(d.env.pm_id) === String(p.pm_id)).env.NODE_APP_INSTANCE;
    await waitFor(() => {
      try {
        return fs.readFileSync(p.pm2_env.pm_out_log_path, 'utf8').includes(`hello from instance ${inst} pid ${p.pid}`)
          && fs.readFileSync(p.pm2_env.pm_err_log_path, 'utf8').includes(`oops from instance ${inst}`);
      } catch { return false; }
    }, { message: `log files of pm_id ${p.pm_id} missing its lines` });
  }
  assert.ok(!fs.existsSync(path.join(home, 'logs', 'web-out.log')), 'no merged log without merge_logs');
});

test('instances on a Node script means cluster; a numeric string counts; fork stays fork', async (t) => {
  const { pm2, writeApp } = await sandbox(t);
  const script = writeApp('app.js', apps.forever);
  await call(pm2, 'connect');

  await call(pm2, 'start', { script, name: 'implicit', instances: 2 });
  const implicit = await onlineAll(pm2, 'implicit', 2);
  for (const p of implicit) assert.equal(p.pm2_env.exec_mode, 'cluster_mode');

  await call(pm2, 'start', { script, name: 'str', instances: '2' });
  const str = await onlineAll(pm2, 'str', 2);
  for (const p of str) assert.equal(p.pm2_env.exec_mode, 'cluster_mode');

  await call(pm2, 'start', { script, name: 'forked', instances: 2, exec_mode: 'fork' });
  const forked = await onlineAll(pm2, 'forked', 2);
  for (const p of forked) assert.equal(p.pm2_env.exec_mode, 'fork_mode');

  await call(pm2, 'start', { script, name: 'single' });
  const [single] = await onlineAll(pm2, 'single', 1);
  assert.equal(single.pm2_env.exec_mode, 'fork_mode', 'no instances option: fork');

  assert.deepEqual((await call(pm2, 'list')).map((p) => p.pm_id), [0, 1, 2, 3, 4, 5, 6]);
});

test("instances 'max', 0 and negative resolve against the CPU count (at least 1)", async (t) => {
  const { pm2, writeApp } = await sandbox(t);
  const script = writeApp('app.js', apps.forever);
  await call(pm2, 'connect');
  const cases = [
    ['max', 'max', NCPU],
    ['zero', 0, NCPU],
    ['minus1', -1, Math.max(1, NCPU - 1)],
    ['minus-many', -(NCPU + 5), 1],
  ];
  for (const [name, instances, expected] of cases) {
    await call(pm2, 'start', { script, name, instances, exec_mode: 'cluster' });
    const procs = await onlineAll(pm2, name, expected);
    assert.equal(procs.length, expected, `instances ${instances} -> ${expected}`);
    for (const p of procs) assert.equal(p.pm2_env.exec_mode, 'cluster_mode');
    await call(pm2, 'delete', name);
  }
});

test('instance_var renames NODE_APP_INSTANCE; increment_var counts up from its env value', async (t) => {
  const { pm2, dir, writeApp } = await sandbox(t);
  const script = writeApp('dump.js', ENV_DUMP_APP);
  const dumpDir = path.join(dir, 'dumps');
  fs.mkdirSync(dumpDir);
  await call(pm2, 'connect');
  await call(pm2, 'start', {
    script,
    name: 'vars',
    exec_mode: 'cluster',
    instances: 2,
    instance_var: 'INSTANCE_ID',
    increment_var: 'APP_PORT',
    env: { DUMP_DIR: dumpDir, APP_PORT: 5000 },
  });
  await onlineAll(pm2, 'vars', 2);
  const dumps = await waitFor(() => {
    const d = readDumps(dumpDir);
    return d.length === 2 ? d : false;
  }, { message: 'workers did not dump their environment' });
  assert.deepEqual(dumps.map((d) => String(d.env.INSTANCE_ID)).sort(), ['0', '1']);
  assert.deepEqual(dumps.map((d) => String(d.env.APP_PORT)).sort(), ['5000', '5001']);
});

// ---------------------------------------------------------------------------
// shared listening sockets

// A sandbox running 2 workers of HTTP_APP named `name` on a free port (with `env` on top),
// both listening; `baseline` is how many sockets the daemon held before the start.
async function startHttpCluster(t, name, env) {
  const { pm2, home, dir, writeApp } = await sandbox(t);
  const script = writeApp('http.js', HTTP_APP);
  const events = path.join(dir, 'events.log');
  const port = await freePort();
  await call(pm2, 'connect');
  await call(pm2, 'ping');
  const baseline = daemonSocketCount(home);
  await call(pm2, 'start', {
    script, name, exec_mode: 'cluster', instances: 2, env: { PORT: String(port), EVENTS_FILE: events, ...env },
  });
  const pids = (await onlineAll(pm2, name, 2)).map((p) => p.pid);
  await waitFor(() => pids.every((pid) => hasEvent(events, pid, 'listening')), { message: 'workers not listening' });
  return { pm2, home, port, pids, baseline };
}

test('shared TCP port: every worker answers on the same port; released after delete', async (t) => {
  const { pm2, home, port, pids, baseline } = await startHttpCluster(t, 'http', { BUSY_MS: '5' });

  const seen = await collectPids({ host: '127.0.0.1', port }, pids);
  for (const pid of seen.keys()) assert.ok(pids.includes(pid), `answer from unknown pid ${pid}`);
  assert.deepEqual([...seen.keys()].sort(), [...pids].sort(), `both workers answer (counts ${JSON.stringify([...seen])})`);

  await call(pm2, 'delete', 'http');
  await waitFor(() => pids.every((pid) => !isAlive(pid)), { message: 'workers survived delete' });
  await waitFor(async () => (await probeConnect({ host: '127.0.0.1', port })) === 'ECONNREFUSED',
    { message: 'port still accepting connections after delete (leaked listening socket)' });
  await waitFor(() => daemonSocketCount(home) <= baseline,
    { message: `daemon holds more sockets after delete than before start (baseline ${baseline})` });
});

test('listen(0) in every worker shares one ephemeral port', async (t) => {
  const { pm2, dir, writeApp } = await sandbox(t);
  const script = writeApp('http.js', HTTP_APP);
  const events = path.join(dir, 'events.log');
  await call(pm2, 'connect');
  await call(pm2, 'start', {
    script, name: 'zero', exec_mode: 'cluster', instances: 2,
    env: { LISTEN_ZERO: '1', EVENTS_FILE: events, BUSY_MS: '5' },
  });
  const procs = await onlineAll(pm2, 'zero', 2);
  const pids = procs.map((p) => p.pid);
  const listening = await waitFor(() => {
    const ev = readEvents(events).filter((e) => e.what === 'listening' && pids.includes(e.pid));
    return ev.length === 2 ? ev : false;
  }, { message: 'workers not listening' });
  const ports = listening.map((e) => e.port);
  assert.ok(ports.every((p) => Number.isInteger(p) && p > 0), `ports ${ports}`);
  assert.equal(ports[0], ports[1], 'one shared port');

  const seen = await collectPids({ host: '127.0.0.1', port: ports[0] }, pids);
  assert.deepEqual([...seen.keys()].sort(), [...pids].sort(), `both workers answer (counts ${JSON.stringify([...seen])})`);
});

test('Unix socket path shared by the workers; gone after delete', async (t) => {
  const { pm2, dir, writeApp } = await sandbox(t);
  const script = writeApp('http.js', HTTP_APP);
  const events = path.join(dir, 'events.log');
  const sockPath = path.join(dir, 'app.sock');
  await call(pm2, 'connect');
  await call(pm2, 'start', {
    script, name: 'unix', exec_mode: 'cluster', instances: 2,
    env: { SOCK_PATH: sockPath, EVENTS_FILE: events, BUSY_MS: '5' },
  });
  const procs = await onlineAll(pm2, 'unix', 2);
  const pids = procs.map((p) => p.pid);
  await waitFor(() => pids.every((pid) => hasEvent(events, pid, 'listening')), { message: 'workers not listening' });

  const seen = await collectPids({ socketPath: sockPath }, pids);
  for (const pid of seen.keys()) assert.ok(pids.includes(pid), `answer from unknown pid ${pid}`);
  assert.deepEqual([...seen.keys()].sort(), [...pids].sort(), `both workers answer (counts ${JSON.stringify([...seen])})`);

  await call(pm2, 'delete', 'unix');
  await waitFor(() => pids.every((pid) => !isAlive(pid)), { message: 'workers survived delete' });
  await waitFor(async () => (await probeConnect({ path: sockPath })) !== 'connected',
    { message: 'Unix socket still accepting connections after delete' });
});

test('UDP: workers bind the same port and each answers datagrams', async (t) => {
  const { pm2, dir, writeApp } = await sandbox(t);
  const events = path.join(dir, 'events.log');
  const script = writeApp('udp.js', EVENT_PROLOGUE + `
const dgram = require('dgram');
const sock = dgram.createSocket('udp4');
sock.on('message', (msg, rinfo) => {
  const end = Date.now() + 5; while (Date.now() < end);
  sock.send(JSON.stringify({ pid: process.pid, echo: String(msg) }), rinfo.port, rinfo.address);
});
sock.bind(Number(process.env.PORT), '127.0.0.1', () => log('listening'));
server = { close(cb) { sock.close(cb); } };
`);
  const port = await freeUdpPort();
  await call(pm2, 'connect');
  await call(pm2, 'start', {
    script, name: 'udp', exec_mode: 'cluster', instances: 2, env: { PORT: String(port), EVENTS_FILE: events },
  });
  const procs = await onlineAll(pm2, 'udp', 2);
  const pids = procs.map((p) => p.pid);
  await waitFor(() => pids.every((pid) => hasEvent(events, pid, 'listening')), { message: 'workers not bound' });

  const client = dgram.createSocket('udp4');
  t.after(() => { try { client.close(); } catch { /* closed */ } });
  const seen = new Map();
  let echoed = 0;
  client.on('message', (msg) => {
    const r = JSON.parse(String(msg));
    if (r.echo.startsWith('ping')) echoed += 1;
    seen.set(r.pid, (seen.get(r.pid) || 0) + 1);
  });
  await new Promise((resolve) => client.bind(0, '127.0.0.1', resolve));
  let i = 0;
  await waitFor(async () => {
    for (let k = 0; k < 10; k++) client.send(`ping ${i++}`, port, '127.0.0.1');
    await sleep(50);
    return pids.every((p) => seen.has(p));
  }, { timeout: 20000, interval: 10, message: `not every worker answered datagrams (${JSON.stringify([...seen])})` });
  assert.ok(echoed > 0);
  for (const pid of seen.keys()) assert.ok(pids.includes(pid), `datagram answered by unknown pid ${pid}`);

  await call(pm2, 'delete', 'udp');
  await waitFor(() => pids.every((pid) => !isAlive(pid)), { message: 'workers survived delete' });
  await waitFor(() => udpPortFree(port), { message: 'UDP port still bound after delete (leaked socket)' });
});

// ---------------------------------------------------------------------------
// scale

test("scale: to n, '+k', '-k'; same count is an error; new workers share the port", async (t) => {
  const { pm2, dir, writeApp } = await sandbox(t);
  const script = writeApp('http.js', HTTP_APP);
  const events = path.join(dir, 'events.log');
  const port = await freePort();
  await call(pm2, 'connect');
  await call(pm2, 'start', {
    script, name: 'sc', exec_mode: 'cluster', instances: 1,
    env: { PORT: String(port), EVENTS_FILE: events, BUSY_MS: '5' },
  });
  await onlineAll(pm2, 'sc', 1);

  await call(pm2, 'scale', 'sc', 3);
  let procs = await onlineAll(pm2, 'sc', 3);
  assert.equal(new Set(procs.map((p) => p.pm_id)).size, 3);
  for (const p of procs) assert.equal(p.pm2_env.exec_mode, 'cluster_mode');
  const pids = procs.map((p) => p.pid);
  await waitFor(() => pids.every((pid) => hasEvent(events, pid, 'listening')), { message: 'scaled workers not listening' });
  const seen = await collectPids({ host: '127.0.0.1', port }, pids, { max: 3000 });
  assert.deepEqual([...seen.keys()].sort(), [...pids].sort(), `every scaled worker answers (counts ${JSON.stringify([...seen])})`);
  const insts = readEvents(events).filter((e) => e.what === 'start' && pids.includes(e.pid)).map((e) => String(e.inst));
  assert.deepEqual(insts.sort(), ['0', '1', '2'], 'added workers get the free NODE_APP_INSTANCE numbers');

  await assert.rejects(call(pm2, 'scale', 'sc', 3), 'scaling to the current count is an error');
  assert.equal((await listByName(pm2, 'sc')).length, 3);

  await call(pm2, 'scale', 'sc', '+1');
  procs = await onlineAll(pm2, 'sc', 4);

  if (!IS_ORIGINAL) {
    // pm2 7.0.4's scale('-k') indexes a process object as an array (rmProcs(procs[0], ...))
    // and throws in the client; only checked against the implementation under test.
    await call(pm2, 'scale', 'sc', '-2');
    procs = await onlineAll(pm2, 'sc', 2);
  }

  const beforeDown = procs.map((p) => p.pid);
  await call(pm2, 'scale', 'sc', 1);
  procs = await onlineAll(pm2, 'sc', 1);
  const [last] = procs;
  await waitFor(() => beforeDown.filter((pid) => pid !== last.pid).every((pid) => !isAlive(pid)),
    { message: 'a removed worker is still alive' });
  // Scaling down removes the oldest workers (as pm2): the one left may be the newest, still
  // starting.
  await waitFor(() => hasEvent(events, last.pid, 'listening'), { message: 'the remaining worker never listened' });
  const r = await httpGet({ host: '127.0.0.1', port });
  assert.equal(JSON.parse(r.body).pid, last.pid, 'the remaining worker answers');

  await assert.rejects(call(pm2, 'scale', 'no-such-app', 2), 'unknown app is an error');
});

// ---------------------------------------------------------------------------
// reload

test('reload(name) under continuous requests: no failed request, rolling one at a time', async (t) => {
  const { pm2, dir, writeApp } = await sandbox(t);
  const script = writeApp('http.js', HTTP_APP);
  const events = path.join(dir, 'events.log');
  const port = await freePort();
  await call(pm2, 'connect');
  await call(pm2, 'start', {
    script, name: 'zd', exec_mode: 'cluster', instances: 2, env: { PORT: String(port), EVENTS_FILE: events },
  });
  const before = await onlineAll(pm2, 'zd', 2);
  const oldPids = before.map((p) => p.pid);
  await waitFor(() => oldPids.every((pid) => hasEvent(events, pid, 'listening')), { message: 'workers not listening' });

  const load = loadLoop({ host: '127.0.0.1', port }, 4);
  t.after(() => load.stop());
  await waitFor(() => load.ok >= 40, { message: 'load loop got no answers before reload' });

  const res = await call(pm2, 'reload', 'zd');
  assert.ok(Array.isArray(res), 'reload answers an array');

  const okAtReload = load.ok;
  await waitFor(() => load.ok >= okAtReload + 40, { message: 'no answers after reload' });
  await load.stop();
  assert.ok(load.ok > 0);
  // pm2 7.0.4's daemon is a Node primary with round-robin scheduling: a connection it
  // hands to the outgoing worker as that worker closes is never answered (observed:
  // 1-2 requests time out per reload). Zero failures is only required of the
  // implementation under test, whose daemon holds the shared listening socket.
  if (!IS_ORIGINAL) {
    assert.deepEqual(load.failures, [], `${load.failures.length} failed request(s) of ${load.ok + load.failures.length}`);
  }

  const after = await onlineAll(pm2, 'zd', 2);
  for (const b of before) {
    const a = after.find((p) => p.pm_id === b.pm_id);
    assert.ok(a, `pm_id ${b.pm_id} still there`);
    assert.notEqual(a.pid, b.pid, `pm_id ${b.pm_id} has a new pid`);
    assert.ok(!oldPids.includes(a.pid));
    assert.equal(a.pm2_env.restart_time, b.pm2_env.restart_time + 1, `pm_id ${b.pm_id} restart_time`);
    assert.equal(a.pm2_env.exec_mode, 'cluster_mode');
  }
  await waitFor(() => oldPids.every((pid) => !isAlive(pid)), { message: 'old workers still alive after reload' });
  const newPids = after.map((p) => p.pid);
  await waitFor(() => newPids.every((pid) => hasEvent(events, pid, 'listening')), { message: 'new workers not listening' });

  // Ordering, from the apps' own event log: each old worker is asked to stop only after
  // its replacement listens; at no point fewer than 2 workers listen; at most one extra
  // worker exists at a time (one instance at a time).
  const ev = readEvents(events);
  const listening = new Set();
  const alive = new Set();
  let minListening = Infinity;
  let maxAlive = 0;
  let started = false;
  for (const e of ev) {
    if (e.what === 'start') alive.add(e.pid);
    if (e.what === 'listening') listening.add(e.pid);
    if (e.what === 'stop') listening.delete(e.pid);
    if (e.what === 'exit') { alive.delete(e.pid); listening.delete(e.pid); }
    if (oldPids.every((p) => listening.has(p))) started = true;
    if (started) {
      minListening = Math.min(minListening, listening.size);
      maxAlive = Math.max(maxAlive, alive.size);
    }
  }
  const trace = ev.map((e) => `${e.what}:${e.pid}`).join(' ');
  assert.ok(minListening >= 2, `listening workers dropped to ${minListening}: ${trace}`);
  assert.ok(maxAlive <= 3, `${maxAlive} workers alive at once (expected one replacement at a time): ${trace}`);
  for (const b of before) {
    const a = after.find((p) => p.pm_id === b.pm_id);
    const newListen = ev.findIndex((e) => e.pid === a.pid && e.what === 'listening');
    const oldStop = ev.findIndex((e) => e.pid === b.pid && (e.what === 'stop' || e.what === 'exit'));
    assert.ok(newListen >= 0 && oldStop > newListen, `pm_id ${b.pm_id}: old stopped before new listened: ${trace}`);
  }
  // the new workers serve the port
  const seen = await collectPids({ host: '127.0.0.1', port }, [newPids[0]], { max: 200 });
  for (const pid of seen.keys()) assert.ok(newPids.includes(pid), `answer from a stale pid ${pid}`);
});

// Keep-alive HTTP: the server leaves connections open between requests.
const KEEP_ALIVE_APP = `
require('http').createServer((req, res) => res.end(String(process.pid))).listen(Number(process.env.PORT));
`;

// Starts 2 workers of KEEP_ALIVE_APP named `name` on a free port, once they answer:
// resolves with the port and their pids.
async function startKeepAliveApp(pm2, writeApp, name, env = {}) {
  const script = writeApp('keepalive.js', KEEP_ALIVE_APP);
  const port = await freePort();
  await call(pm2, 'start', { script, name, exec_mode: 'cluster', instances: 2, env: { PORT: String(port), ...env } });
  const pids = (await onlineAll(pm2, name, 2)).map((p) => p.pid);
  await waitFor(async () => (await httpGet({ host: '127.0.0.1', port }).catch(() => ({}))).status === 200,
    { message: `${name}: nothing answers` });
  return { port, pids };
}

// After a reload of `name`: every worker is new and the old ones are gone.
async function assertReplaced(pm2, name, before) {
  const after = (await onlineAll(pm2, name, 2)).map((p) => p.pid);
  assert.ok(after.every((pid) => !before.includes(pid)), `${name}: every worker replaced`);
  await waitFor(() => before.every((pid) => !isAlive(pid)), { message: `${name}: old workers still alive` });
}

test('reload under keep-alive load drops no request, with shared handles and round robin', {
  skip: IS_ORIGINAL && 'pm2 7.0.4 closes the outgoing worker\'s idle keep-alive connections under its clients',
}, async (t) => {
  const { pm2, writeApp } = await sandbox(t);
  await call(pm2, 'connect');
  for (const policy of ['shared', 'rr']) {
    const name = `ka-${policy}`;
    const { port, pids } = await startKeepAliveApp(pm2, writeApp, name, policy === 'rr' ? { NODE_CLUSTER_SCHED_POLICY: 'rr' } : {});
    const agent = new http.Agent({ keepAlive: true, maxSockets: 8 });
    t.after(() => agent.destroy());
    const load = loadLoop({ host: '127.0.0.1', port, agent }, 8);
    t.after(() => load.stop());
    await waitFor(() => load.ok >= 100, { message: `${name}: no answers before reload` });

    await call(pm2, 'reload', name);
    const okAtReload = load.ok;
    await waitFor(() => load.ok >= okAtReload + 100, { message: `${name}: no answers after reload` });
    await load.stop();
    assert.deepEqual(load.failures, [], `${name}: ${load.failures.length} failed of ${load.ok + load.failures.length}`);
    await assertReplaced(pm2, name, pids);
    await call(pm2, 'delete', name);
  }
});

test('cluster workers start and reload when PM2_HOME lies inside an ES module package', async (t) => {
  const { pm2, home, writeApp } = await sandbox(t);
  fs.writeFileSync(path.join(home, 'package.json'), JSON.stringify({ type: 'module' }));
  await call(pm2, 'connect');
  const { port, pids } = await startKeepAliveApp(pm2, writeApp, 'esm-home');
  await call(pm2, 'reload', 'esm-home');
  await assertReplaced(pm2, 'esm-home', pids);
  assert.equal((await httpGet({ host: '127.0.0.1', port })).status, 200);
});

// A TCP echo server: its connections never end by themselves.
const ECHO_APP = `
require('net').createServer((s) => s.on('data', (d) => s.write(d))).listen(Number(process.env.PORT));
`;

test('reload with a connection that never closes: the old worker is still replaced, the connection ended', async (t) => {
  const { pm2, writeApp } = await sandbox(t);
  const script = writeApp('echo.js', ECHO_APP);
  const port = await freePort();
  await call(pm2, 'connect');
  await call(pm2, 'start', { script, name: 'echo', exec_mode: 'cluster', instances: 1, kill_timeout: 500, env: { PORT: String(port) } });
  const [before] = await onlineAll(pm2, 'echo', 1);
  let client = null;
  await waitFor(() => new Promise((resolve) => {
    const s = net.connect({ host: '127.0.0.1', port }, () => { client = s; resolve(true); });
    s.on('error', () => resolve(false));
  }), { message: 'echo server not accepting' });
  t.after(() => client.destroy());
  const ended = new Promise((resolve) => client.on('close', resolve));
  const echoed = new Promise((resolve) => client.once('data', (d) => resolve(String(d))));
  client.write('hi');
  assert.equal(await echoed, 'hi');

  await call(pm2, 'reload', 'echo');
  const [after] = await onlineAll(pm2, 'echo', 1);
  assert.notEqual(after.pid, before.pid);
  await waitFor(() => !isAlive(before.pid), { message: 'old worker still alive' });
  await withTimeout(ended, 10000, 'closing the old worker\'s connection');
});

test('reload with wait_ready: each old worker stops only after its replacement sent ready', async (t) => {
  const { pm2, dir, writeApp } = await sandbox(t);
  const script = writeApp('http.js', HTTP_APP);
  const events = path.join(dir, 'events.log');
  const port = await freePort();
  await call(pm2, 'connect');
  await call(pm2, 'start', {
    script, name: 'wr', exec_mode: 'cluster', instances: 2, wait_ready: true, listen_timeout: 20000,
    env: { PORT: String(port), EVENTS_FILE: events, READY_DELAY_MS: '700' },
  });
  const before = await onlineAll(pm2, 'wr', 2);
  // start with wait_ready answers once each worker is ready
  for (const p of before) assert.ok(hasEvent(events, p.pid, 'ready'), `pm_id ${p.pm_id} online before ready`);

  const load = loadLoop({ host: '127.0.0.1', port }, 3);
  t.after(() => load.stop());
  await waitFor(() => load.ok >= 20, { message: 'load loop got no answers before reload' });

  await call(pm2, 'reload', 'wr');
  const after = await onlineAll(pm2, 'wr', 2);
  const ev = readEvents(events);
  const trace = ev.map((e) => `${e.what}:${e.pid}`).join(' ');
  for (const b of before) {
    const a = after.find((p) => p.pm_id === b.pm_id);
    assert.notEqual(a.pid, b.pid, `pm_id ${b.pm_id} has a new pid`);
    assert.equal(a.pm2_env.restart_time, b.pm2_env.restart_time + 1);
    const newReady = ev.findIndex((e) => e.pid === a.pid && e.what === 'ready');
    const oldStop = ev.findIndex((e) => e.pid === b.pid && (e.what === 'stop' || e.what === 'exit'));
    assert.ok(newReady >= 0, `new worker of pm_id ${b.pm_id} never sent ready: ${trace}`);
    assert.ok(oldStop > newReady, `pm_id ${b.pm_id}: old stopped before the new one was ready: ${trace}`);
  }
  const okAtReload = load.ok;
  await waitFor(() => load.ok >= okAtReload + 20, { message: 'no answers after reload' });
  await load.stop();
  assert.ok(load.ok > 0);
  // see the previous test: pm2 7.0.4 (round-robin primary) drops a request or two here
  if (!IS_ORIGINAL) {
    assert.deepEqual(load.failures, [], `${load.failures.length} failed request(s) of ${load.ok + load.failures.length}`);
  }
  await waitFor(() => before.every((p) => !isAlive(p.pid)), { message: 'old workers still alive' });
});

test('reload.lock: a fresh lock refuses reload unless force; stale and released locks do not', async (t) => {
  const { pm2, home, writeApp } = await sandbox(t);
  const script = writeApp('app.js', apps.forever);
  await call(pm2, 'connect');
  await call(pm2, 'start', { script, name: 'lk', exec_mode: 'cluster', instances: 1, listen_timeout: 1000 });
  const [p0] = await onlineAll(pm2, 'lk', 1);
  const lock = path.join(home, 'reload.lock');

  // "fresh" locks are written 1 s in the past: pm2 treats a lock aged 0 ms as free
  fs.writeFileSync(lock, String(Date.now() - 1000));
  await assert.rejects(call(pm2, 'reload', 'lk'), (e) => /Reload in progress/.test(errText(e)));
  const [same] = await onlineAll(pm2, 'lk', 1);
  assert.equal(same.pid, p0.pid, 'refused reload leaves the app alone');
  assert.equal(same.pm2_env.restart_time, p0.pm2_env.restart_time);

  fs.writeFileSync(lock, String(Date.now() - 1000));
  await call(pm2, 'reload', 'lk', { force: true });
  const [p1] = await onlineAll(pm2, 'lk', 1);
  assert.notEqual(p1.pid, p0.pid);
  assert.equal(p1.pm2_env.restart_time, p0.pm2_env.restart_time + 1);

  // the lock is released after a reload: the next one needs no force
  await call(pm2, 'reload', 'lk');
  const [p2] = await onlineAll(pm2, 'lk', 1);
  assert.notEqual(p2.pid, p1.pid);

  // 5 s old: within the default 30 s timeout -> refused
  fs.writeFileSync(lock, String(Date.now() - 5000));
  await assert.rejects(call(pm2, 'reload', 'lk'), (e) => /Reload in progress/.test(errText(e)));
  // 60 s old: stale -> allowed
  fs.writeFileSync(lock, String(Date.now() - 60000));
  await call(pm2, 'reload', 'lk');
  const [p3] = await onlineAll(pm2, 'lk', 1);
  assert.notEqual(p3.pid, p2.pid);
});

test('PM2_RELOAD_LOCK_TIMEOUT shortens the lock lifetime', async (t) => {
  const box = await sandbox(t);
  const { pm2, home, dir, writeApp } = box;
  writeApp('app.js', apps.forever);
  const child = writeApp('client.js', `
'use strict';
const fs = require('fs');
const path = require('path');
const PM2 = require(${JSON.stringify(implPath())}).custom;
const pm2 = new PM2({ pm2_home: ${JSON.stringify(home)}, cwd: ${JSON.stringify(dir)}, daemon_mode: true });
const p = (m, ...a) => new Promise((res) => pm2[m](...a, (err, r) => res({ err: err ? String(err.message || err) : null, r })));
(async () => {
  const out = {};
  await p('connect');
  out.start = (await p('start', { script: path.join(${JSON.stringify(dir)}, 'app.js'), name: 'lt', exec_mode: 'cluster', instances: 1, listen_timeout: 1000 })).err;
  const lock = path.join(${JSON.stringify(home)}, 'reload.lock');
  fs.writeFileSync(lock, String(Date.now() - 1000));
  out.fresh = (await p('reload', 'lt')).err;
  fs.writeFileSync(lock, String(Date.now() - 5000));
  out.fiveSecondsOld = (await p('reload', 'lt')).err;
  console.log(JSON.stringify(out));
  process.exit(0);
})();
`);
  const r = await runChild(process.execPath, [child], {
    cwd: dir, timeout: 40000, env: { PM2_RELOAD_LOCK_TIMEOUT: '2000' },
  });
  const daemon = readDaemonPid(home);
  if (daemon) box.track(daemon);
  assert.equal(r.timedOut, false, `child timed out\n${r.stdout}\n${r.stderr}`);
  const line = r.stdout.split('\n').filter((l) => l.startsWith('{')).pop();
  assert.ok(line, `no result line\n${r.stdout}\n${r.stderr}`);
  const out = JSON.parse(line);
  assert.equal(out.start, null);
  assert.match(out.fresh || '', /Reload in progress/);
  assert.equal(out.fiveSecondsOld, null, 'a 5 s old lock is stale with PM2_RELOAD_LOCK_TIMEOUT=2000');
  const procs = await call(pm2, 'list');
  assert.equal(procs.length, 1);
  assert.equal(procs[0].pm2_env.restart_time, 1);
});

test('fork mode with wait_ready: reload starts the new process before stopping the old one', {
  skip: IS_ORIGINAL && 'pm2 7.0.4 reloads fork-mode apps as a restart (stop, then start)',
}, async (t) => {
  const { pm2, dir, writeApp } = await sandbox(t);
  const events = path.join(dir, 'events.log');
  const script = writeApp('forkready.js', EVENT_PROLOGUE + `
setInterval(() => {}, 1000);
setTimeout(() => { log('ready'); process.send('ready'); }, 500);
`);
  await call(pm2, 'connect');
  await call(pm2, 'start', {
    script, name: 'fr', exec_mode: 'fork', wait_ready: true, listen_timeout: 20000, env: { EVENTS_FILE: events },
  });
  const [before] = await onlineAll(pm2, 'fr', 1);
  assert.equal(before.pm2_env.exec_mode, 'fork_mode');
  assert.ok(hasEvent(events, before.pid, 'ready'), 'online only after ready');

  await call(pm2, 'reload', 'fr');
  const [after] = await onlineAll(pm2, 'fr', 1);
  assert.notEqual(after.pid, before.pid);
  assert.equal(after.pm2_env.restart_time, before.pm2_env.restart_time + 1);
  const ev = readEvents(events);
  const trace = ev.map((e) => `${e.what}:${e.pid}`).join(' ');
  const newReady = ev.findIndex((e) => e.pid === after.pid && e.what === 'ready');
  const oldStop = ev.findIndex((e) => e.pid === before.pid && (e.what === 'stop' || e.what === 'exit'));
  assert.ok(newReady >= 0, `new process never ready: ${trace}`);
  assert.ok(oldStop > newReady, `old process stopped before the new one was ready: ${trace}`);
  await waitFor(() => !isAlive(before.pid), { message: 'old process still alive' });
});

// ---------------------------------------------------------------------------
// bad input
//
// Apps that fail get max_restarts: 2 and a long min_uptime, so that every failure counts
// as an unstable restart even on a loaded machine (where a failing start can take longer
// than the default 1 s) and the app ends 'errored' quickly.

test('a worker that never listens: start and reload(all) conclude (listen_timeout)', async (t) => {
  const { pm2, writeApp } = await sandbox(t);
  const script = writeApp('idle.js', apps.forever);
  await call(pm2, 'connect');
  await call(pm2, 'start', { script, name: 'idle', exec_mode: 'cluster', instances: 2, listen_timeout: 1000 });
  const before = await onlineAll(pm2, 'idle', 2);
  const res = await call(pm2, 'reload', 'all');
  assert.ok(Array.isArray(res));
  const after = await onlineAll(pm2, 'idle', 2);
  for (const b of before) {
    const a = after.find((p) => p.pm_id === b.pm_id);
    assert.notEqual(a.pid, b.pid);
    assert.equal(a.pm2_env.restart_time, b.pm2_env.restart_time + 1);
  }
  await waitFor(() => before.every((p) => !isAlive(p.pid)), { message: 'old workers still alive' });

  // reload of a stopped cluster app starts it; reload of an unknown name is an error
  await call(pm2, 'stop', 'idle');
  await call(pm2, 'reload', 'idle');
  await onlineAll(pm2, 'idle', 2);
  await assert.rejects(call(pm2, 'reload', 'no-such-app'));
});

test('a worker that never sends ready (wait_ready): start and reload conclude after listen_timeout', async (t) => {
  const { pm2, writeApp } = await sandbox(t);
  const script = writeApp('mute.js', apps.forever);
  await call(pm2, 'connect');
  await call(pm2, 'start', {
    script, name: 'mute', exec_mode: 'cluster', instances: 1, wait_ready: true, listen_timeout: 1000,
  });
  const [before] = await onlineAll(pm2, 'mute', 1);
  await call(pm2, 'reload', 'mute');
  const [after] = await onlineAll(pm2, 'mute', 1);
  assert.notEqual(after.pid, before.pid);
  await waitFor(() => !isAlive(before.pid), { message: 'old worker still alive' });
});

test('a worker that crashes on start ends errored; logs the error; delete works', async (t) => {
  const { pm2, home, writeApp } = await sandbox(t);
  const script = writeApp('boom.js', "console.error('boom-on-start'); throw new Error('kaboom');\n");
  await call(pm2, 'connect');
  try {
    await call(pm2, 'start', { script, name: 'boom', exec_mode: 'cluster', instances: 2, max_restarts: 2, min_uptime: 60000 });
  } catch { /* an error answer is acceptable too */ }
  const procs = await waitFor(async () => {
    const ps = await listByName(pm2, 'boom');
    return ps.length === 2 && ps.every((p) => p.pm2_env.status === 'errored') ? ps : false;
  }, { timeout: 30000, message: 'crashing workers never errored' });
  for (const p of procs) assert.ok(!p.pid || !isAlive(p.pid), 'no live pid once errored');
  // pm2 7.0.4 loses the output of a cluster worker that throws while loading (its
  // boom-error-0.log stays empty); required of the implementation under test only.
  if (!IS_ORIGINAL) {
    const errLog = path.join(home, 'logs', 'boom-error-0.log');
    await waitFor(() => {
      try { return /kaboom/.test(fs.readFileSync(errLog, 'utf8')); } catch { return false; }
    }, { message: 'crash not logged in boom-error-0.log' });
  }
  await call(pm2, 'delete', 'boom');
  assert.deepEqual(await call(pm2, 'list'), []);
});

test('reload into a version that crashes on start settles (no hang); the daemon stays usable', async (t) => {
  const { pm2, writeApp } = await sandbox(t);
  const script = writeApp('app.js', HTTP_APP);
  const port = await freePort();
  await call(pm2, 'connect');
  await call(pm2, 'start', {
    script, name: 'rc', exec_mode: 'cluster', instances: 1, listen_timeout: 1500, max_restarts: 2, min_uptime: 60000,
    env: { PORT: String(port) },
  });
  await onlineAll(pm2, 'rc', 1);
  writeApp('app.js', "throw new Error('broken release');\n");
  try { await call(pm2, 'reload', 'rc'); } catch { /* an error answer is acceptable */ }
  const list = await call(pm2, 'list');
  assert.equal(list.filter((p) => p.name === 'rc').length, 1, 'still one entry for the app');
  assert.deepEqual(await call(pm2, 'ping'), { msg: 'pong' });
  await call(pm2, 'delete', 'rc');
  assert.deepEqual(await call(pm2, 'list'), []);
});

test('port already taken by another program: never online-serving, daemon fine, no leaked socket', async (t) => {
  const { pm2, home, writeApp } = await sandbox(t);
  const script = writeApp('http.js', HTTP_APP);
  const owner = http.createServer((req, res) => { res.setHeader('Connection', 'close'); res.end('owner'); });
  await new Promise((resolve) => owner.listen(0, resolve));
  const { port } = owner.address();
  t.after(() => new Promise((resolve) => owner.close(() => resolve())));

  await call(pm2, 'connect');
  await call(pm2, 'ping');
  const daemonPid = readDaemonPid(home);
  const baseline = daemonSocketCount(home);
  let startErr = null;
  try {
    await call(pm2, 'start', {
      script, name: 'taken', exec_mode: 'cluster', instances: 1, max_restarts: 2, min_uptime: 60000, env: { PORT: String(port) },
    });
  } catch (e) { startErr = e; }

  if (!startErr) {
    await waitFor(async () => {
      const [p] = await listByName(pm2, 'taken');
      return p && p.pm2_env.status === 'errored';
    }, { timeout: 30000, message: 'app on a taken port never errored' });
  }
  // the port still belongs to its owner
  for (let i = 0; i < 5; i++) {
    const r = await httpGet({ host: '127.0.0.1', port });
    assert.equal(r.body, 'owner');
  }
  assert.deepEqual(await call(pm2, 'ping'), { msg: 'pong' });
  if (daemonPid) assert.ok(isAlive(daemonPid), 'daemon alive');

  await call(pm2, 'delete', 'all');
  assert.deepEqual(await call(pm2, 'list'), []);
  await waitFor(() => daemonSocketCount(home) <= baseline,
    { message: `daemon holds more sockets than before the failed app (baseline ${baseline})` });

  // once the owner closes the port, nobody else listens on it (no leaked listener)
  await new Promise((resolve) => owner.close(() => resolve()));
  await waitFor(async () => (await probeConnect({ host: '127.0.0.1', port })) === 'ECONNREFUSED',
    { message: 'something still listens on the port after the owner closed it' });
  // and a cluster app can now take it
  const events = path.join(path.dirname(script), 'events.log');
  await call(pm2, 'start', {
    script, name: 'free', exec_mode: 'cluster', instances: 1, env: { PORT: String(port), EVENTS_FILE: events },
  });
  const [p] = await onlineAll(pm2, 'free', 1);
  await waitFor(() => hasEvent(events, p.pid, 'listening'), { message: 'app did not listen on the freed port' });
  const r = await httpGet({ host: '127.0.0.1', port });
  assert.equal(JSON.parse(r.body).pid, p.pid);
});

test('a worker that calls process.disconnect() exits and is restarted or errored; no hang', async (t) => {
  const { pm2, dir, writeApp } = await sandbox(t);
  const starts = path.join(dir, 'starts.log');
  const script = writeApp('disc.js', `
require('fs').appendFileSync(${JSON.stringify(starts)}, process.pid + '\\n');
setInterval(() => {}, 1000);
setTimeout(() => process.disconnect(), 200);
`);
  await call(pm2, 'connect');
  await call(pm2, 'start', { script, name: 'disc', exec_mode: 'cluster', instances: 1, max_restarts: 2, min_uptime: 60000 });
  const readStarts = () => {
    try { return fs.readFileSync(starts, 'utf8').split('\n').filter(Boolean).map(Number); } catch { return []; }
  };
  await waitFor(() => readStarts().length >= 1, { message: 'worker never started' });
  const first = readStarts()[0];
  await waitFor(() => !isAlive(first), { timeout: 15000, message: 'disconnected worker did not exit' });
  await waitFor(async () => {
    const [p] = await listByName(pm2, 'disc');
    return p && (p.pm2_env.restart_time >= 1 || p.pm2_env.status === 'errored');
  }, { timeout: 20000, message: 'disconnected worker neither restarted nor errored' });

  // no hang of list / stop / delete, whatever state it is in
  await withTimeout(call(pm2, 'list'), 10000, 'list');
  await withTimeout(call(pm2, 'stop', 'disc'), 20000, 'stop');
  const [stopped] = await listByName(pm2, 'disc');
  assert.ok(['stopped', 'errored'].includes(stopped.pm2_env.status), `status ${stopped.pm2_env.status}`);
  await withTimeout(call(pm2, 'delete', 'disc'), 20000, 'delete');
  await waitFor(() => readStarts().every((pid) => !isAlive(pid)), { message: 'a disconnected worker survived' });
});

// ---------------------------------------------------------------------------
// round robin (beyond pm2's shared handles: Node's policy, chosen per app)

test('NODE_CLUSTER_SCHED_POLICY=rr: the daemon accepts and deals connections to every worker; reload drops none', { skip: IS_ORIGINAL && 'pm2 always uses Node\'s default policy' }, async (t) => {
  const { pm2, home, port, pids, baseline } = await startHttpCluster(t, 'rr', { NODE_CLUSTER_SCHED_POLICY: 'rr' });
  const seen = await collectPids({ host: '127.0.0.1', port }, pids);
  assert.deepEqual([...seen.keys()].sort(), [...pids].sort(), `both workers answer (counts ${JSON.stringify([...seen])})`);

  const load = loadLoop({ host: '127.0.0.1', port }, 4);
  t.after(() => load.stop());
  await waitFor(() => load.ok >= 40, { message: 'load loop got no answers before reload' });
  await call(pm2, 'reload', 'rr');
  const okAtReload = load.ok;
  await waitFor(() => load.ok >= okAtReload + 40, { message: 'no answers after reload' });
  await load.stop();
  assert.deepEqual(load.failures, [], `${load.failures.length} failed request(s) of ${load.ok + load.failures.length}`);

  await call(pm2, 'delete', 'rr');
  await waitFor(async () => (await probeConnect({ host: '127.0.0.1', port })) === 'ECONNREFUSED',
    { message: 'port still accepting connections after delete (leaked listening socket)' });
  await waitFor(() => daemonSocketCount(home) <= baseline,
    { message: `daemon holds more sockets after delete than before start (baseline ${baseline})` });
});
