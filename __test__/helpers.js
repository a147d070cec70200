'use strict';

// Shared harness for the behaviour suite.
//
//   PM2_IMPL unset        -> tests run against this repository (require('..'))
//   PM2_IMPL=pm2-original -> tests run against the original pm2 (node_modules/pm2-original)
//
// Every test gets its own PM2_HOME and app directory through `sandbox(t)`; nothing here
// touches ~/.pm2 or the environment of the test process.

const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { spawn } = require('node:child_process');

const ROOT = path.resolve(__dirname, '..');
const IS_ORIGINAL = process.env.PM2_IMPL === 'pm2-original';

// Absolute path of the module under test, resolved from the repository root.
function implPath() {
  const spec = process.env.PM2_IMPL;
  if (!spec) return require.resolve(ROOT);
  return require.resolve(spec, { paths: [ROOT] });
}

// Directory of the package under test (the nearest folder with a package.json above
// its entry point), e.g. to expose it as node_modules/pm2 to a child script.
function implPackageDir() {
  let d = path.dirname(implPath());
  while (!fs.existsSync(path.join(d, 'package.json'))) {
    const up = path.dirname(d);
    if (up === d) return path.dirname(implPath());
    d = up;
  }
  return d;
}

function impl() {
  return require(implPath());
}

// ---------------------------------------------------------------------------
// small utilities

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

// Promise around the errback form: call(pm2, 'list') / call(pm2, 'start', opts).
// A callback that never comes fails the call after CALL_TIMEOUT (generous; this is a
// hang detector, not a timing assertion).
const CALL_TIMEOUT = 30000;
function call(pm2, method, ...args) {
  return new Promise((resolve, reject) => {
    let settled = false;
    const timer = setTimeout(() => {
      if (settled) return;
      settled = true;
      reject(new Error(`${method} did not call back within ${CALL_TIMEOUT} ms`));
    }, CALL_TIMEOUT);
    if (timer.unref) timer.unref();
    pm2[method](...args, (err, res) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (err) reject(err instanceof Error ? err : Object.assign(new Error(errText(err)), { raw: err }));
      else resolve(res);
    });
  });
}

// Same as call() but never rejects: resolves to { err, res, calls } where `calls` is
// the number of times the errback was invoked within `settleMs` after the first call.
function callCounting(pm2, method, args = [], { settleMs = 500, timeout = 20000 } = {}) {
  return new Promise((resolve, reject) => {
    let calls = 0;
    let first = null;
    const timer = setTimeout(() => reject(new Error(`${method} did not call back within ${timeout} ms`)), timeout);
    pm2[method](...args, (err, res) => {
      calls += 1;
      if (calls === 1) {
        clearTimeout(timer);
        first = { err, res };
        setTimeout(() => resolve({ ...first, get calls() { return calls; } }), settleMs);
      }
    });
  });
}

// Message text of whatever an errback received (Error, string, {msg}, ...).
function errText(err) {
  if (err == null) return '';
  if (typeof err === 'string') return err;
  if (err instanceof Error) return err.message;
  if (typeof err.message === 'string') return err.message;
  if (typeof err.msg === 'string') return err.msg;
  try { return JSON.stringify(err); } catch { return String(err); }
}

function withTimeout(promise, ms, what = 'operation') {
  let timer;
  return Promise.race([
    promise,
    new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what} timed out after ${ms} ms`)), ms);
      if (timer.unref) timer.unref();
    }),
  ]).finally(() => clearTimeout(timer));
}

// Poll `fn` (sync or async) until it returns a truthy value; returns that value.
async function waitFor(fn, { timeout = 10000, interval = 100, message } = {}) {
  const deadline = Date.now() + timeout;
  let lastErr;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
      lastErr = undefined;
    } catch (e) {
      lastErr = e;
    }
    if (Date.now() > deadline) {
      const msg = message || `waitFor: condition not met within ${timeout} ms`;
      throw new Error(lastErr ? `${msg} (last error: ${lastErr.message})` : msg);
    }
    await sleep(interval);
  }
}

// What `promise` rejects with, as thrown; fails the test if it resolves.
async function rejection(promise) {
  try {
    await promise;
  } catch (e) {
    return e;
  }
  throw new Error('expected an error, the call succeeded');
}

// The processes of app `name` in pm2's list.
async function listByName(pm2, name) {
  return (await call(pm2, 'list')).filter((p) => p.name === name);
}

async function procByName(pm2, name) {
  return (await call(pm2, 'list')).find((p) => p.name === name);
}

// Waits until app `name` is online with a pid (and `where(proc)` holds); answers its process.
async function onlineProc(pm2, name, { timeout = 15000, where = () => true } = {}) {
  return waitFor(async () => {
    const p = await procByName(pm2, name);
    return p && p.pm2_env.status === 'online' && p.pid && where(p) ? p : false;
  }, { timeout, message: `${name} never online` });
}

// Waits until app `name` has exactly `count` processes, all online with a pid; answers them.
async function onlineAll(pm2, name, count = 1, { timeout = 20000 } = {}) {
  return waitFor(async () => {
    const procs = await listByName(pm2, name);
    return procs.length === count && procs.every((p) => p.pm2_env.status === 'online' && p.pid) ? procs : false;
  }, { timeout, message: `${count} instance(s) of ${name} never all online` });
}

function isAlive(pid) {
  if (!pid || typeof pid !== 'number') return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return e.code === 'EPERM';
  }
}

function killPid(pid, signal = 'SIGKILL') {
  if (!pid || typeof pid !== 'number' || pid <= 1 || pid === process.pid) return;
  try { process.kill(pid, signal); } catch { /* already gone */ }
}

// Wait until `file` exists, is non-empty and (optionally) `predicate(content)` holds.
async function readFileEventually(file, { timeout = 10000, predicate } = {}) {
  return waitFor(() => {
    let content;
    try { content = fs.readFileSync(file, 'utf8'); } catch { return false; }
    if (!content) return false;
    if (predicate && !predicate(content)) return false;
    return content;
  }, { timeout, message: `file ${file} not written within ${timeout} ms` });
}

async function readJsonEventually(file, opts) {
  const text = await readFileEventually(file, {
    ...opts,
    predicate: (c) => { try { JSON.parse(c); return true; } catch { return false; } },
  });
  return JSON.parse(text);
}

function readDaemonPid(home) {
  try {
    const pid = parseInt(fs.readFileSync(path.join(home, 'pm2.pid'), 'utf8'), 10);
    return Number.isFinite(pid) && pid > 0 ? pid : null;
  } catch {
    return null;
  }
}

// Guard against stale pid files: on Linux, only accept a pid whose environment names
// this PM2_HOME (pm2 always gives apps PM2_HOME). Elsewhere, accept it.
function pidUsesHome(pid, home) {
  let environ;
  try { environ = fs.readFileSync(`/proc/${pid}/environ`, 'latin1'); } catch (e) {
    return e.code !== 'ENOENT' && process.platform !== 'linux';
  }
  return environ.split('\0').includes(`PM2_HOME=${home}`);
}

// Linux: every live process of this (unique, temporary) PM2_HOME: its apps and its daemon.
// Used as the last line of cleanup, e.g. for extra daemons spawned by a connect race.
function pidsUsingHome(home) {
  const out = [];
  let entries;
  try { entries = fs.readdirSync('/proc'); } catch { return out; }
  const needle = `PM2_HOME=${home}`;
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    const pid = Number(entry);
    if (pid === process.pid) continue;
    let environ, cmdline;
    try {
      environ = fs.readFileSync(`/proc/${pid}/environ`, 'latin1');
      cmdline = fs.readFileSync(`/proc/${pid}/cmdline`, 'latin1');
    } catch { continue; }
    // Apps have PM2_HOME in their environment; a daemon is told its home by `--home`.
    if (environ.split('\0').includes(needle) || cmdline.includes(`\0--home\0${home}\0`)) out.push(pid);
  }
  return out;
}

// Homes whose processes are swept at the latest when this test process exits: a test
// cancelled before its own cleanup ran must not leave its daemon behind.
const unswept = new Set();
process.on('exit', () => {
  for (const home of unswept) for (const pid of pidsUsingHome(home)) killPid(pid, 'SIGKILL');
});

// Marks `home` as this process's to sweep, whatever becomes of the test that made it.
function ownHome(home) {
  unswept.add(home);
  return home;
}

// SIGKILLs `pids` and every process of `home` (its daemon and apps), again until none is
// left: a daemon a late call was still spawning is caught too. Never throws.
async function sweepHome(home, pids = []) {
  for (const pid of pids) killPid(pid, 'SIGKILL');
  const gone = () => {
    const left = pidsUsingHome(home);
    for (const pid of left) killPid(pid, 'SIGKILL');
    return left.length === 0;
  };
  await waitFor(gone, { timeout: 10000, message: `processes of ${home} survive SIGKILL` }).catch(() => {});
  unswept.delete(home);
}

// pids recorded in $PM2_HOME/pids/*.pid (app pid files of this home only)
function readAppPidFiles(home) {
  const out = [];
  let names = [];
  try { names = fs.readdirSync(path.join(home, 'pids')); } catch { return out; }
  for (const n of names) {
    if (!n.endsWith('.pid')) continue;
    try {
      const pid = parseInt(fs.readFileSync(path.join(home, 'pids', n), 'utf8'), 10);
      if (Number.isFinite(pid) && pid > 1 && pidUsesHome(pid, home)) out.push(pid);
    } catch { /* ignore */ }
  }
  return out;
}

// ---------------------------------------------------------------------------
// app sources used by several files

const apps = {
  // stays alive until signalled
  forever: "setInterval(() => {}, 1000);\n",
  // writes its environment as JSON to the file named by argv[2], then stays alive
  envDump: [
    "const fs = require('fs');",
    "fs.writeFileSync(process.argv[2] + '.tmp', JSON.stringify(process.env));",
    "fs.renameSync(process.argv[2] + '.tmp', process.argv[2]);",
    "setInterval(() => {}, 1000);",
    '',
  ].join('\n'),
};

// Original pm2 only: once its daemon has gone away (killDaemon), the axon client sockets
// are no longer "connected", so disconnect() skips them and they keep retrying to
// reconnect forever, which keeps the test process alive. Mark them closing so the
// pending retry ends. Never used for the implementation under test.
function releaseOriginalSockets(pm2) {
  const client = pm2 && pm2.Client;
  if (!client) return;
  for (const key of ['client_sock', 'sub_sock']) {
    const sock = client[key];
    if (sock && typeof sock.close === 'function') {
      try { sock.close(); } catch { /* ignore */ }
    }
  }
}

// Close an extra client made by a test (optionally killing its daemon first); never
// hangs, never throws.
async function disposeClient(client, { kill = false } = {}) {
  if (kill) {
    try { await withTimeout(call(client, 'killDaemon'), 15000, 'killDaemon'); } catch { /* ignore */ }
  }
  try {
    await withTimeout(new Promise((resolve) => {
      try {
        const r = client.disconnect(() => resolve());
        if (r && typeof r.then === 'function') r.then(resolve, resolve);
      } catch { resolve(); }
    }), 5000, 'disconnect');
  } catch { /* ignore */ }
  if (IS_ORIGINAL) releaseOriginalSockets(client);
}

// ---------------------------------------------------------------------------
// sandbox

// How long a sandbox's daemon gets to stop as a user would stop it, before it is killed.
const GRACE = 25000;

async function sandbox(t) {
  const home = ownHome(fs.mkdtempSync(path.join(os.tmpdir(), 'pm2-test-')));
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pm2-test-app-'));
  const PM2 = impl().custom;
  const pm2 = new PM2({ pm2_home: home, cwd: dir, daemon_mode: true });
  const extraPids = new Set();
  const extraHomes = new Set();

  function writeApp(name, source) {
    const file = path.join(dir, name);
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, source);
    return file;
  }

  // Stops the daemon as a user would, within GRACE: it may be wedged or flooded.
  async function stopGracefully(pids) {
    const daemonPid = readDaemonPid(home);
    if (daemonPid && isAlive(daemonPid)) {
      pids.add(daemonPid);
      try {
        const list = await withTimeout(call(pm2, 'list'), 5000, 'cleanup list');
        for (const p of list || []) if (p && p.pid) pids.add(p.pid);
      } catch { /* daemon may be gone or wedged */ }
    }
    // Skip killDaemon when no daemon is up for this home (never started, already
    // killed, or SIGKILLed by the test): it would only lazily spawn one to kill it.
    const touched = daemonPid ? isAlive(daemonPid) : fs.existsSync(path.join(home, 'rpc.sock'));
    if (touched) {
      try {
        await withTimeout(call(pm2, 'killDaemon'), 15000, 'cleanup killDaemon');
      } catch { /* the sweep ends it */ }
    }
  }

  let cleaned = null;
  function cleanup() {
    if (cleaned) return cleaned;
    cleaned = (async () => {
      // Remember every pid this sandbox's daemon manages, so that nothing survives even
      // if killDaemon misbehaves. Only pids from our own temp PM2_HOME are collected.
      const pids = new Set(extraPids);
      for (const pid of readAppPidFiles(home)) pids.add(pid);
      try { await withTimeout(stopGracefully(pids), GRACE, 'cleanup'); } catch { /* swept below */ }
      const lateDaemon = readDaemonPid(home);
      if (lateDaemon) pids.add(lateDaemon);
      for (const pid of readAppPidFiles(home)) pids.add(pid);
      await sweepHome(home, pids);
      for (const other of extraHomes) await sweepHome(other);
      await disposeClient(pm2);
      for (const d of [home, dir]) {
        try { fs.rmSync(d, { recursive: true, force: true, maxRetries: 3 }); } catch { /* ignore */ }
      }
    })();
    return cleaned;
  }

  const box = {
    pm2,
    home,
    dir,
    writeApp,
    cleanup,
    // pids a test wants swept at cleanup (e.g. apps orphaned by a SIGKILLed daemon)
    track(pid) { if (pid) extraPids.add(pid); },
    // another PM2_HOME the test makes a daemon in (e.g. pm2-dev's), swept at cleanup too
    trackHome(other) { extraHomes.add(other); },
    logPath: (file) => path.join(home, 'logs', file),
  };
  if (t && typeof t.after === 'function') t.after(() => cleanup());
  return box;
}

// ---------------------------------------------------------------------------
// child scripts (exit / compat tests)

// Run `node file` (or another command) and resolve on 'exit' (not 'close': a daemon that
// inherited the pipes must not keep the test waiting). Never rejects; reports timedOut.
function runChild(cmd, args, { cwd, env, timeout = 15000, input } = {}) {
  return new Promise((resolve) => {
    const childEnv = { ...process.env, ...(env || {}) };
    delete childEnv.NODE_TEST_CONTEXT;
    const child = spawn(cmd, args, { cwd, env: childEnv, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    child.stdout.on('data', (d) => { stdout += d; });
    child.stderr.on('data', (d) => { stderr += d; });
    if (input != null) child.stdin.end(input); else child.stdin.end();
    const timer = setTimeout(() => {
      timedOut = true;
      try { child.kill('SIGKILL'); } catch { /* ignore */ }
    }, timeout);
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      // give buffered output a moment, but do not wait for inherited pipes to close
      setTimeout(() => {
        child.stdout.destroy();
        child.stderr.destroy();
        resolve({ code, signal, stdout, stderr, timedOut, pid: child.pid });
      }, 100);
    });
    child.on('error', (e) => {
      clearTimeout(timer);
      resolve({ code: null, signal: null, stdout, stderr: stderr + String(e), timedOut, pid: child.pid });
    });
  });
}

// A runChild result in a form an assertion message can show.
function describeRun(r) {
  return `code=${r.code} signal=${r.signal} timedOut=${r.timedOut}\nstdout:\n${r.stdout}\nstderr:\n${r.stderr}`;
}

// Every call of `bus`'s handler for `pattern`, as the list of its arguments.
function record(bus, pattern) {
  const calls = [];
  bus.on(pattern, (...args) => calls.push(args));
  return calls;
}

// The packets (last argument of each recorded call) about app `name`.
function packetsOf(calls, name) {
  return calls.map((a) => a[a.length - 1]).filter((p) => p && p.process && p.process.name === name);
}

// Opens a bus on `pm2` and closes it when the test ends, whichever implementation.
async function openBus(t, pm2) {
  const bus = await withTimeout(call(pm2, 'launchBus'), 20000, 'launchBus');
  t.after(() => closeBus(bus));
  return bus;
}

function closeBus(bus) {
  try {
    const r = bus.close();
    if (r && typeof r.then === 'function') return withTimeout(r, 5000, 'bus.close').catch(() => {});
  } catch { /* already closed */ }
  return undefined;
}

// Original pm2 only: when its client launches a daemon, its pm2-io-agent copies the agent's
// own constants (computed once from $PM2_HOME or ~/.pm2) over the client's paths, so
// dump(), resurrect() and clearDump() would use ~/.pm2/dump.pm2 (and a reconnect
// ~/.pm2/rpc.sock) instead of this sandbox's. Point those constants at the sandbox, so
// that the original is checked on the same files and never touches the real ~/.pm2.
function pinOriginalPaths(home) {
  const pkg = implPackageDir();
  const agent = require(path.join(pkg, 'modules', 'pm2-io-agent', 'constants.js'));
  const paths = require(path.join(pkg, 'paths.js'))(home);
  for (const key of Object.keys(agent)) if (key in paths) agent[key] = paths[key];
  Object.assign(require(path.join(pkg, 'constants.js')), paths);
}

module.exports = {
  openBus,
  closeBus,
  record,
  packetsOf,
  ROOT,
  IS_ORIGINAL,
  impl,
  implPath,
  implPackageDir,
  pinOriginalPaths,
  sandbox,
  call,
  callCounting,
  errText,
  rejection,
  listByName,
  procByName,
  onlineProc,
  onlineAll,
  withTimeout,
  waitFor,
  sleep,
  isAlive,
  killPid,
  readFileEventually,
  readJsonEventually,
  readDaemonPid,
  pidsUsingHome,
  ownHome,
  sweepHome,
  runChild,
  describeRun,
  apps,
  releaseOriginalSockets,
  disposeClient,
};
