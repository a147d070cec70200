'use strict';

// Restart policy, stopping, resource limits and monitoring.
//
//  - restart policy: autorestart, stop_exit_codes, min_uptime + max_restarts (unstable
//    restarts, then errored), restart_delay ('waiting restart' meanwhile),
//    exp_backoff_restart_delay (x1.5 per crash, visible as prev_restart_delay, reset after
//    EXP_BACKOFF_RESET_TIMER of uptime), the counters pm2 keeps, reset;
//  - stopping: SIGINT (or kill_signal), SIGKILL after kill_timeout (per app, or
//    PM2_KILL_TIMEOUT from the environment of the client that started the daemon),
//    'stopping' meanwhile; grandchildren in the app's process group, detached ones that
//    left it, and orphans the daemon adopted die with stop, delete and killDaemon; many
//    apps are stopped / restarted / deleted / killed in parallel;
//  - monitoring: cpu and memory (children included) in list();
//  - limits and schedules: max_memory_restart, cron_restart, watch / ignore_watch /
//    watch_delay / watch_options;
//  - automatic restarts and stops show on the bus as process:event;
//  - bad input (cron, sizes, negative delays, missing watch paths): an Error, nothing
//    half-started.
//
// Every bound on time here is a generous one (a hang detector, or "well under what a
// sequential / default implementation would need"), never a measurement.

const { test } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');

const {
  IS_ORIGINAL, sandbox, call, waitFor, withTimeout, sleep, isAlive, readFileEventually,
  readJsonEventually, errText, apps,
  procByName, onlineProc,
} = require('./helpers');

const TEST_TIMEOUT = 60000;

// ---------------------------------------------------------------------------
// helpers

async function statusOf(pm2, name) {
  const p = await procByName(pm2, name);
  return p ? p.pm2_env.status : undefined;
}

// Connects `pm2` (spawning its daemon) with `vars` in the environment of this process, the
// client that starts the daemon; the test process' environment is restored right after.
async function connectWithEnv(pm2, vars) {
  const saved = {};
  for (const [k, v] of Object.entries(vars)) {
    saved[k] = process.env[k];
    process.env[k] = String(v);
  }
  try {
    await call(pm2, 'connect');
  } finally {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }
}

// Dead for our purposes: gone, or a zombie nobody reaped yet.
function procState(pid) {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0];
  } catch {
    return null;
  }
}

function isDead(pid) {
  if (process.platform === 'linux') {
    const state = procState(pid);
    return state === null || state === 'Z' || state === 'X';
  }
  return !isAlive(pid);
}

function describePids(pids) {
  return pids.map((pid) => `${pid}:${procState(pid) || 'gone'}`).join(', ');
}

async function allDead(pids, what, timeout = 15000) {
  await waitFor(() => pids.every(isDead), {
    timeout, message: `${what} still alive (${describePids(pids.filter((p) => !isDead(p)))})`,
  });
}

// Opens a bus and records every process:event packet; closed when the test ends.
async function recordEvents(t, pm2) {
  const bus = await withTimeout(call(pm2, 'launchBus'), 20000, 'launchBus');
  t.after(() => {
    try {
      const r = bus.close();
      if (r && typeof r.then === 'function') return withTimeout(r, 5000, 'bus.close').catch(() => {});
    } catch { /* already closed */ }
    return undefined;
  });
  const events = [];
  bus.on('process:event', (...args) => {
    const packet = args[args.length - 1];
    if (packet && packet.process) events.push(packet);
  });
  return {
    of: (name) => events.filter((e) => e.process.name === name),
    names: (name) => events.filter((e) => e.process.name === name).map((e) => e.event),
  };
}

async function expectStartError(pm2, ...args) {
  try {
    const res = await call(pm2, 'start', ...args);
    return { res };
  } catch (err) {
    return { err };
  }
}

// A summary of list() that must not change when a start is refused.
async function snapshot(pm2) {
  const list = await call(pm2, 'list');
  return list.map((p) => ({ name: p.name, pm_id: p.pm_id, pid: p.pid, status: p.pm2_env.status,
    restart_time: p.pm2_env.restart_time }));
}

// ---------------------------------------------------------------------------
// app sources

// Exits with code argv[3] after argv[2] ms.
const EXIT_LATER = "setTimeout(() => process.exit(Number(process.argv[3])), Number(process.argv[2]));\n";

// Ignores SIGINT (and SIGTERM): records each signal in argv[2], says ready in argv[2].ready.
const STUBBORN = [
  "const fs = require('fs');",
  'const out = process.argv[2];',
  "process.on('SIGINT', () => fs.appendFileSync(out, 'SIGINT\\n'));",
  "process.on('SIGTERM', () => fs.appendFileSync(out, 'SIGTERM\\n'));",
  "fs.writeFileSync(out + '.ready', String(process.pid));",
  'setInterval(() => {}, 1000);',
  '',
].join('\n');

// Ignores SIGINT, reports each one in argv[2]; exits cleanly on SIGTERM.
const TERM_ONLY = [
  "const fs = require('fs');",
  'const out = process.argv[2];',
  "process.on('SIGINT', () => fs.appendFileSync(out, 'SIGINT\\n'));",
  "process.on('SIGTERM', () => { fs.appendFileSync(out, 'SIGTERM\\n'); process.exit(0); });",
  "fs.writeFileSync(out + '.ready', String(process.pid));",
  'setInterval(() => {}, 1000);',
  '',
].join('\n');

// Starts four `sleep 300` grandchildren and writes their pids as JSON to argv[2]:
//   same        a plain child, in the app's process group
//   sameStubborn  in the app's process group, ignoring SIGINT
//   detached    detached: true (its own session and group), its parent (the app) alive
//   detachedStubborn  the same, ignoring SIGINT
const GRANDCHILDREN = [
  "const { spawn } = require('child_process');",
  "const fs = require('fs');",
  'const out = process.argv[2];',
  "const stubborn = ['-c', 'trap \"\" INT; exec sleep 300'];",
  "const same = spawn('sleep', ['300'], { stdio: 'ignore' });",
  "const sameStubborn = spawn('sh', stubborn, { stdio: 'ignore' });",
  "const detached = spawn('sleep', ['300'], { stdio: 'ignore', detached: true });",
  "const detachedStubborn = spawn('sh', stubborn, { stdio: 'ignore', detached: true });",
  'detached.unref(); detachedStubborn.unref();',
  'const pids = { same: same.pid, sameStubborn: sameStubborn.pid, detached: detached.pid,',
  '  detachedStubborn: detachedStubborn.pid, app: process.pid };',
  "fs.writeFileSync(out + '.tmp', JSON.stringify(pids));",
  "fs.renameSync(out + '.tmp', out);",
  'setInterval(() => {}, 1000);',
  '',
].join('\n');

// An intermediate shell in its own session starts `sleep 300` in the background and exits
// at once: the sleep loses its parent (and was never in the app's process group). Its pid
// goes to argv[2].
const ORPHAN = [
  "const { spawn } = require('child_process');",
  "const fs = require('fs');",
  'const out = process.argv[2];',
  "const sh = spawn('sh', ['-c', 'sleep 300 >/dev/null 2>&1 </dev/null & echo $! > \"$0.tmp\"; mv \"$0.tmp\" \"$0\"', out],",
  "  { stdio: 'ignore', detached: true });",
  'sh.unref();',
  'setInterval(() => {}, 1000);',
  '',
].join('\n');

// ---------------------------------------------------------------------------
// restart policy

test('autorestart: false leaves a crashed app stopped with its exit code', { timeout: TEST_TIMEOUT }, async (t) => {
  const { pm2, writeApp } = await sandbox(t);
  const script = writeApp('once.js', EXIT_LATER);
  await call(pm2, 'connect');
  await call(pm2, 'start', { script, name: 'once', args: ['300', '5'], autorestart: false });
  const p = await waitFor(async () => {
    const x = await procByName(pm2, 'once');
    return x && x.pm2_env.status === 'stopped' ? x : false;
  }, { timeout: 15000, message: 'app never stopped by itself' });
  assert.equal(p.pm2_env.exit_code, 5);
  assert.equal(p.pm2_env.restart_time, 0);
  assert.ok(!p.pid, 'no pid once it exited');
  await sleep(1000);
  const later = await procByName(pm2, 'once');
  assert.equal(later.pm2_env.status, 'stopped', 'never restarted');
  assert.equal(later.pm2_env.restart_time, 0);
});

test('stop_exit_codes: a listed code stays down, any other code restarts', { timeout: TEST_TIMEOUT }, async (t) => {
  const { pm2, writeApp } = await sandbox(t);
  const script = writeApp('codes.js', EXIT_LATER);
  await call(pm2, 'connect');
  await call(pm2, 'start', { script, name: 'clean', args: ['300', '3'], stop_exit_codes: [3] });
  await call(pm2, 'start', { script, name: 'dirty', args: ['300', '4'], stop_exit_codes: [3], min_uptime: 100 });

  const clean = await waitFor(async () => {
    const x = await procByName(pm2, 'clean');
    return x && x.pm2_env.status === 'stopped' ? x : false;
  }, { timeout: 15000, message: 'clean exit never left the app stopped' });
  assert.equal(clean.pm2_env.exit_code, 3);
  assert.equal(clean.pm2_env.restart_time, 0);

  const dirty = await waitFor(async () => {
    const x = await procByName(pm2, 'dirty');
    return x && x.pm2_env.restart_time >= 1 ? x : false;
  }, { timeout: 15000, message: 'an unlisted exit code was not restarted' });
  assert.ok(dirty.pm2_env.restart_time >= 1);

  await sleep(500);
  assert.equal((await procByName(pm2, 'clean')).pm2_env.status, 'stopped');
  await call(pm2, 'stop', 'dirty');
});

test('min_uptime + max_restarts: quick crashes are unstable restarts, then errored', { timeout: TEST_TIMEOUT }, async (t) => {
  const { pm2, writeApp } = await sandbox(t);
  const script = writeApp('quick.js', EXIT_LATER);
  await call(pm2, 'connect');
  await call(pm2, 'start', { script, name: 'quick', args: ['50', '1'], min_uptime: 5000, max_restarts: 3 });
  const p = await waitFor(async () => {
    const x = await procByName(pm2, 'quick');
    return x && x.pm2_env.status === 'errored' ? x : false;
  }, { timeout: 20000, message: 'never errored' });
  assert.ok(!p.pid, 'no pid once errored');
  assert.equal(p.pm2_env.restart_time, 2, 'two restarts, the third crash reaches max_restarts');
  assert.equal(p.pm2_env.exit_code, 1);
  // it stays errored
  await sleep(1000);
  const later = await procByName(pm2, 'quick');
  assert.equal(later.pm2_env.status, 'errored');
  assert.equal(later.pm2_env.restart_time, 2);

  // a stable app (uptime > min_uptime) is never counted as unstable
  await call(pm2, 'start', { script, name: 'steady', args: ['1200', '1'], min_uptime: 500, max_restarts: 1 });
  const steady = await waitFor(async () => {
    const x = await procByName(pm2, 'steady');
    return x && x.pm2_env.restart_time >= 2 ? x : false;
  }, { timeout: 20000, message: 'stable crashes were not restarted' });
  assert.equal(steady.pm2_env.unstable_restarts, 0);
  assert.notEqual(steady.pm2_env.status, 'errored');
  await call(pm2, 'stop', 'steady');
});

test("restart_delay: 'waiting restart' meanwhile, then online again", { timeout: TEST_TIMEOUT }, async (t) => {
  const { pm2, writeApp } = await sandbox(t);
  const script = writeApp('delayed.js', EXIT_LATER);
  await call(pm2, 'connect');
  await call(pm2, 'start', { script, name: 'delayed', args: ['300', '2'], restart_delay: 2000 });
  const first = await onlineProc(pm2, 'delayed');
  const waiting = await waitFor(async () => {
    const x = await procByName(pm2, 'delayed');
    return x && x.pm2_env.status === 'waiting restart' ? x : false;
  }, { timeout: 15000, interval: 50, message: "never 'waiting restart'" });
  assert.equal(waiting.pm2_env.exit_code, 2);
  assert.equal(waiting.pm2_env.restart_time, 0, 'not restarted yet');
  const again = await onlineProc(pm2, 'delayed', { where: (x) => x.pm2_env.restart_time === 1 });
  assert.notEqual(again.pid, first.pid);

  // stop during the wait cancels the pending restart
  await waitFor(async () => (await statusOf(pm2, 'delayed')) === 'waiting restart',
    { timeout: 15000, interval: 50, message: "never 'waiting restart' the second time" });
  await call(pm2, 'stop', 'delayed');
  await sleep(2500);
  const stopped = await procByName(pm2, 'delayed');
  assert.equal(stopped.pm2_env.status, 'stopped', 'a stop during restart_delay cancels the restart');
  assert.ok(!stopped.pid);
});

test('exp_backoff_restart_delay: x1.5 per crash in prev_restart_delay, reset after EXP_BACKOFF_RESET_TIMER', { timeout: TEST_TIMEOUT }, async (t) => {
  const { pm2, dir, writeApp } = await sandbox(t);
  // runs 1-4 crash after 400 ms; run 5 stays up until `<counter>.crash` appears
  const script = writeApp('backoff.js', [
    "const fs = require('fs');",
    'const counter = process.argv[2];',
    "let n = 0; try { n = Number(fs.readFileSync(counter, 'utf8')) || 0; } catch {}",
    'n += 1; fs.writeFileSync(counter, String(n));',
    'if (n <= 4) setTimeout(() => process.exit(1), 400);',
    "setInterval(() => { if (fs.existsSync(counter + '.crash')) { fs.unlinkSync(counter + '.crash'); process.exit(1); } }, 50);",
    '',
  ].join('\n'));
  const counter = path.join(dir, 'runs.txt');
  await connectWithEnv(pm2, { EXP_BACKOFF_RESET_TIMER: 2000, PM2_WORKER_INTERVAL: 500 });
  await call(pm2, 'start', { script, name: 'backoff', args: [counter], exp_backoff_restart_delay: 100 });

  const seen = [];
  const fifth = await waitFor(async () => {
    const x = await procByName(pm2, 'backoff');
    if (!x) return false;
    const d = x.pm2_env.prev_restart_delay;
    if (d && seen[seen.length - 1] !== d) seen.push(d);
    return x.pm2_env.restart_time === 4 && x.pm2_env.status === 'online' && x.pid ? x : false;
  }, { timeout: 30000, interval: 40, message: 'the fifth run never came online' });
  assert.deepEqual(seen.slice(0, 4), [100, 150, 225, 337], `prev_restart_delay went ${seen.join(', ')}`);
  assert.equal(fifth.pm2_env.prev_restart_delay, 337);

  // up for longer than EXP_BACKOFF_RESET_TIMER: the back-off starts over
  await waitFor(async () => {
    const x = await procByName(pm2, 'backoff');
    return x && x.pm2_env.status === 'online' && !x.pm2_env.prev_restart_delay;
  }, { timeout: 20000, message: 'prev_restart_delay never reset after a long enough run' });
  fs.writeFileSync(`${counter}.crash`, '1');
  const next = await waitFor(async () => {
    const x = await procByName(pm2, 'backoff');
    return x && x.pm2_env.restart_time === 5 && x.pm2_env.prev_restart_delay ? x : false;
  }, { timeout: 15000, message: 'the crash after the reset was not restarted' });
  assert.equal(next.pm2_env.prev_restart_delay, 100, 'the first crash after a reset waits the initial delay');
  await call(pm2, 'stop', 'backoff');
});

test('restart_time, unstable_restarts, exit_code, pm_uptime and created_at as pm2 keeps them', { timeout: TEST_TIMEOUT }, async (t) => {
  const { pm2, writeApp } = await sandbox(t);
  const script = writeApp('counted.js', EXIT_LATER);
  await call(pm2, 'connect');
  await call(pm2, 'start', { script, name: 'counted', args: ['1500', '7'], min_uptime: 500 });
  const first = await onlineProc(pm2, 'counted');
  assert.equal(first.pm2_env.restart_time, 0);
  assert.equal(first.pm2_env.unstable_restarts, 0);
  assert.equal(typeof first.pm2_env.created_at, 'number');
  assert.equal(typeof first.pm2_env.pm_uptime, 'number');

  // a crash restart: restart_time + 1, the exit code kept, a new pm_uptime, created_at kept
  const second = await onlineProc(pm2, 'counted', { where: (x) => x.pm2_env.restart_time === 1 });
  assert.equal(second.pm2_env.exit_code, 7);
  assert.ok(second.pm2_env.pm_uptime > first.pm2_env.pm_uptime, 'pm_uptime is the start of the new process');
  assert.equal(second.pm2_env.created_at, first.pm2_env.created_at, 'created_at survives crash restarts');
  assert.equal(second.pm2_env.unstable_restarts, 0, 'an uptime over min_uptime is not unstable');

  // a manual restart: restart_time + 1, created_at renewed
  await call(pm2, 'restart', 'counted');
  const third = await onlineProc(pm2, 'counted', { where: (x) => x.pm2_env.restart_time === 2 });
  assert.ok(third.pm2_env.created_at > first.pm2_env.created_at, 'a manual restart renews created_at');
  assert.ok(third.pm2_env.pm_uptime >= third.pm2_env.created_at - 1000);
  await call(pm2, 'stop', 'counted');
  assert.equal((await procByName(pm2, 'counted')).pm2_env.restart_time, 2, 'a stop is not a restart');
});

test('exit_code of an app ended by its stop signal is 0, as in pm2', { timeout: TEST_TIMEOUT }, async (t) => {
  const { pm2, writeApp } = await sandbox(t);
  const script = writeApp('plain.js', apps.forever);
  await call(pm2, 'connect');
  await call(pm2, 'start', { script, name: 'plain' });
  await onlineProc(pm2, 'plain');
  await call(pm2, 'stop', 'plain');
  const stopped = await procByName(pm2, 'plain');
  assert.equal(stopped.pm2_env.status, 'stopped');
  assert.equal(stopped.pm2_env.exit_code, 0);
});

test('reset zeroes restart_time and unstable_restarts of a crashing app and renews created_at', { timeout: TEST_TIMEOUT }, async (t) => {
  const { pm2, writeApp } = await sandbox(t);
  const script = writeApp('flaky.js', EXIT_LATER);
  await call(pm2, 'connect');
  await call(pm2, 'start', { script, name: 'flaky', args: ['100', '1'], min_uptime: 5000, max_restarts: 100, restart_delay: 200 });
  const before = await waitFor(async () => {
    const x = await procByName(pm2, 'flaky');
    return x && x.pm2_env.restart_time >= 2 && x.pm2_env.unstable_restarts >= 2 ? x : false;
  }, { timeout: 20000, message: 'never accumulated unstable restarts' });
  await call(pm2, 'stop', 'flaky');
  await call(pm2, 'reset', 'flaky');
  const after = await procByName(pm2, 'flaky');
  assert.equal(after.pm2_env.restart_time, 0);
  assert.equal(after.pm2_env.unstable_restarts, 0);
  assert.ok(after.pm2_env.created_at >= before.pm2_env.created_at);
  assert.equal(after.pm2_env.status, 'stopped', 'reset does not start anything');
});

// ---------------------------------------------------------------------------
// stopping

test("stop of an app that ignores SIGINT: SIGINT first, 'stopping' meanwhile, SIGKILL after kill_timeout", { timeout: TEST_TIMEOUT }, async (t) => {
  const { pm2, dir, writeApp } = await sandbox(t);
  const script = writeApp('stubborn.js', STUBBORN);
  const out = path.join(dir, 'stubborn.txt');
  await call(pm2, 'connect');
  await call(pm2, 'start', { script, name: 'stubborn', args: [out], kill_timeout: 3000 });
  await readFileEventually(`${out}.ready`);
  const p = await onlineProc(pm2, 'stubborn');
  assert.equal(p.pm2_env.kill_timeout, 3000);

  const started = Date.now();
  const stopping = call(pm2, 'stop', 'stubborn');
  stopping.catch(() => {});
  const during = await waitFor(async () => {
    const x = await procByName(pm2, 'stubborn');
    return x && x.pm2_env.status === 'stopping' ? x : false;
  }, { timeout: 10000, interval: 50, message: "never 'stopping'" });
  assert.equal(during.pid, p.pid, "the pid is still reported while 'stopping'");
  await readFileEventually(out, { predicate: (c) => c.includes('SIGINT') });
  assert.ok(isAlive(p.pid), 'SIGINT alone did not end it');

  await withTimeout(stopping, 20000, 'stop');
  const elapsed = Date.now() - started;
  assert.ok(elapsed >= 2000, `stop waited for kill_timeout before SIGKILL (took ${elapsed} ms)`);
  await waitFor(() => isDead(p.pid), { timeout: 5000, message: 'stubborn app survived stop' });
  assert.equal(fs.readFileSync(out, 'utf8'), 'SIGINT\n', 'only SIGINT was sent before SIGKILL');
  const after = await procByName(pm2, 'stubborn');
  assert.equal(after.pm2_env.status, 'stopped');
  assert.ok(!after.pid);
});

test('default kill_timeout is 1600 ms: a SIGINT-ignoring app is killed well before a long wait', { timeout: TEST_TIMEOUT }, async (t) => {
  const { pm2, dir, writeApp } = await sandbox(t);
  const script = writeApp('stubborn.js', STUBBORN);
  const out = path.join(dir, 'stubborn.txt');
  await call(pm2, 'connect');
  await call(pm2, 'start', { script, name: 'stubborn', args: [out] });
  await readFileEventually(`${out}.ready`);
  const p = await onlineProc(pm2, 'stubborn');
  const started = Date.now();
  await withTimeout(call(pm2, 'stop', 'stubborn'), 20000, 'stop');
  const elapsed = Date.now() - started;
  assert.ok(elapsed >= 1000, `SIGKILL came only after a grace period (took ${elapsed} ms)`);
  assert.ok(elapsed < 8000, `stop took ${elapsed} ms`);
  await waitFor(() => isDead(p.pid), { timeout: 5000, message: 'stubborn app survived stop' });
  assert.equal((await procByName(pm2, 'stubborn')).pm2_env.status, 'stopped');
});

test("PM2_KILL_TIMEOUT from the environment of the client that started the daemon", { timeout: TEST_TIMEOUT }, async (t) => {
  const { pm2, dir, writeApp } = await sandbox(t);
  const script = writeApp('stubborn.js', STUBBORN);
  const out = path.join(dir, 'stubborn.txt');
  await connectWithEnv(pm2, { PM2_KILL_TIMEOUT: 4500 });
  await call(pm2, 'start', { script, name: 'stubborn', args: [out] });
  await readFileEventually(`${out}.ready`);
  const p = await onlineProc(pm2, 'stubborn');

  const stopping = call(pm2, 'stop', 'stubborn');
  stopping.catch(() => {});
  await waitFor(async () => (await statusOf(pm2, 'stubborn')) === 'stopping',
    { timeout: 10000, interval: 50, message: "never 'stopping'" });
  // well past the 1600 ms default, well before 4500 ms
  await sleep(2600);
  assert.equal(await statusOf(pm2, 'stubborn'), 'stopping', 'still within PM2_KILL_TIMEOUT');
  assert.ok(isAlive(p.pid), 'not killed before PM2_KILL_TIMEOUT');
  await withTimeout(stopping, 20000, 'stop');
  await waitFor(() => isDead(p.pid), { timeout: 5000, message: 'stubborn app survived stop' });
  assert.equal(await statusOf(pm2, 'stubborn'), 'stopped');
});

test('kill_signal: stop sends that signal instead of SIGINT', {
  timeout: TEST_TIMEOUT,
  skip: IS_ORIGINAL && 'pm2 7.0.4 has no per-app kill_signal (only PM2_KILL_SIGNAL in the daemon environment)',
}, async (t) => {
  const { pm2, dir, writeApp } = await sandbox(t);
  const script = writeApp('termonly.js', TERM_ONLY);
  const out = path.join(dir, 'termonly.txt');
  await call(pm2, 'connect');
  await call(pm2, 'start', { script, name: 'termonly', args: [out], kill_signal: 'SIGTERM', kill_timeout: 6000 });
  await readFileEventually(`${out}.ready`);
  const p = await onlineProc(pm2, 'termonly');
  const started = Date.now();
  await withTimeout(call(pm2, 'stop', 'termonly'), 20000, 'stop');
  await waitFor(() => isDead(p.pid), { timeout: 5000, message: 'app survived stop' });
  assert.equal(fs.readFileSync(out, 'utf8'), 'SIGTERM\n', 'SIGTERM was the stop signal, no SIGINT');
  assert.ok(Date.now() - started < 5000, 'it exited on the signal, not at kill_timeout');
  assert.equal((await procByName(pm2, 'termonly')).pm2_env.status, 'stopped');
});

async function startGrandparent(t, box, name = 'tree') {
  const { pm2, dir, writeApp, track } = box;
  const script = writeApp(`${name}.js`, GRANDCHILDREN);
  const out = path.join(dir, `${name}.pids.json`);
  await call(pm2, 'start', { script, name, args: [out] });
  const pids = await readJsonEventually(out);
  for (const pid of Object.values(pids)) track(pid);
  const grandchildren = [pids.same, pids.sameStubborn, pids.detached, pids.detachedStubborn];
  await waitFor(() => grandchildren.every((pid) => isAlive(pid) && !isDead(pid)),
    { timeout: 5000, message: 'grandchildren did not start' });
  const p = await onlineProc(pm2, name);
  assert.equal(p.pid, pids.app);
  return { pids, grandchildren };
}

test('stop kills grandchildren: in the process group and detached, SIGINT-ignoring ones too', { timeout: TEST_TIMEOUT }, async (t) => {
  const box = await sandbox(t);
  await call(box.pm2, 'connect');
  const { pids, grandchildren } = await startGrandparent(t, box);
  await withTimeout(call(box.pm2, 'stop', 'tree'), 20000, 'stop');
  await allDead([pids.app], 'the app');
  await allDead([pids.same, pids.sameStubborn], 'grandchildren in the process group');
  await allDead([pids.detached, pids.detachedStubborn], 'detached grandchildren');
  // (pm2 7.0.4 may answer 'errored' here: it checks its SIGKILLed pids with kill(pid, 0),
  // which a zombie not yet reaped by init still passes)
  if (!IS_ORIGINAL) assert.equal(await statusOf(box.pm2, 'tree'), 'stopped');
  assert.ok(grandchildren.every(isDead));
});

test('restart kills the grandchildren of the previous process', { timeout: TEST_TIMEOUT }, async (t) => {
  const box = await sandbox(t);
  await call(box.pm2, 'connect');
  const { pids } = await startGrandparent(t, box);
  fs.rmSync(path.join(box.dir, 'tree.pids.json'));
  await withTimeout(call(box.pm2, 'restart', 'tree'), 20000, 'restart');
  await allDead([pids.app], 'the previous app process');
  await allDead([pids.same, pids.sameStubborn, pids.detached, pids.detachedStubborn], 'grandchildren of the previous process');
  const fresh = await readJsonEventually(path.join(box.dir, 'tree.pids.json'));
  for (const pid of Object.values(fresh)) box.track(pid);
  assert.ok(isAlive(fresh.same), 'the new process has its own grandchildren');
});

test('delete kills grandchildren, in the group and detached', { timeout: TEST_TIMEOUT }, async (t) => {
  const box = await sandbox(t);
  await call(box.pm2, 'connect');
  const { pids, grandchildren } = await startGrandparent(t, box);
  await withTimeout(call(box.pm2, 'delete', 'tree'), 20000, 'delete');
  assert.deepEqual(await call(box.pm2, 'list'), []);
  await allDead([pids.app, ...grandchildren], 'the app or its grandchildren');
});

test('killDaemon kills every app and all their grandchildren', { timeout: TEST_TIMEOUT }, async (t) => {
  const box = await sandbox(t);
  await call(box.pm2, 'connect');
  const a = await startGrandparent(t, box, 'tree-a');
  const b = await startGrandparent(t, box, 'tree-b');
  const res = await withTimeout(call(box.pm2, 'killDaemon'), 20000, 'killDaemon');
  assert.deepEqual(res, { success: true });
  await allDead([a.pids.app, b.pids.app, ...a.grandchildren, ...b.grandchildren], 'an app or a grandchild');
});

const NO_SUBREAPER = 'pm2 7.0.4 is no subreaper: a descendant whose parent exited is re-parented to init and escapes treekill';

// Starts an ORPHAN app; answers the pid of its orphaned `sleep`, once alive.
async function startOrphaner(box, name) {
  const { pm2, dir, writeApp, track } = box;
  const script = writeApp('orphan.js', ORPHAN);
  const out = path.join(dir, `${name}.pid`);
  await call(pm2, 'start', { script, name, args: [out] });
  const orphan = Number((await readFileEventually(out)).trim());
  track(orphan);
  await waitFor(() => isAlive(orphan) && !isDead(orphan), { timeout: 5000, message: 'orphan did not start' });
  await onlineProc(pm2, name);
  return orphan;
}

for (const how of ['stop', 'delete', 'killDaemon']) {
  test(`an orphaned descendant outside the process group dies with ${how}`, {
    timeout: TEST_TIMEOUT,
    skip: (IS_ORIGINAL && NO_SUBREAPER) || (process.platform !== 'linux' && 'needs Linux\'s child subreaper (PR_SET_CHILD_SUBREAPER): elsewhere such an orphan goes to init, out of reach'),
  }, async (t) => {
    const box = await sandbox(t);
    await call(box.pm2, 'connect');
    const orphan = await startOrphaner(box, 'orphaner');
    const other = await startOrphaner(box, 'bystander');
    if (how === 'killDaemon') await withTimeout(call(box.pm2, 'killDaemon'), 20000, 'killDaemon');
    else await withTimeout(call(box.pm2, how, 'orphaner'), 20000, how);
    await allDead([orphan], `the orphan of the app, after ${how}`, 8000);
    if (how !== 'killDaemon') assert.ok(!isDead(other), "another app's orphan is left alone");
  });
}

test('treekill: false signals only the app, leaving its children', { timeout: TEST_TIMEOUT }, async (t) => {
  const box = await sandbox(t);
  const { pm2, dir, writeApp, track } = box;
  const script = writeApp('notree.js', GRANDCHILDREN);
  const out = path.join(dir, 'notree.pids.json');
  await call(pm2, 'connect');
  await call(pm2, 'start', { script, name: 'notree', args: [out], treekill: false });
  const pids = await readJsonEventually(out);
  for (const pid of Object.values(pids)) track(pid);
  await onlineProc(pm2, 'notree');
  await withTimeout(call(pm2, 'stop', 'notree'), 20000, 'stop');
  await allDead([pids.app], 'the app');
  assert.ok(!isDead(pids.detached), 'a detached child was left alone without treekill');
});

test('stop, restart, delete and killDaemon act on many apps in parallel', {
  timeout: 90000,
  skip: IS_ORIGINAL && 'pm2 7.0.4 runs at most PM2_CONCURRENT_ACTIONS (2) actions at a time',
}, async (t) => {
  const { pm2, dir, writeApp } = await sandbox(t);
  const script = writeApp('stubborn.js', STUBBORN);
  await call(pm2, 'connect');
  const N = 5;
  const KILL_TIMEOUT = 2500;
  const names = [];
  const outs = [];
  const startAll = async () => {
    for (const [i, name] of names.entries()) await call(pm2, 'start', { script, name, args: [outs[i]], kill_timeout: KILL_TIMEOUT });
  };
  for (let i = 0; i < N; i++) {
    names.push(`s${i}`);
    outs.push(path.join(dir, `s${i}.txt`));
  }
  await startAll();
  const pidsNow = async () => (await call(pm2, 'list')).map((p) => p.pid).filter(Boolean);
  const allOnline = () => waitFor(async () => {
    const list = await call(pm2, 'list');
    return list.length === N && list.every((p) => p.pm2_env.status === 'online' && p.pid);
  }, { timeout: 20000, message: 'apps not all online' });
  const sigints = (out) => (fs.existsSync(out) ? fs.readFileSync(out, 'utf8').split('SIGINT').length - 1 : 0);
  // Every app ignores SIGINT, so each one dies only at its kill_timeout. One after the
  // other, the first would be killed before the second was even asked to stop; all at
  // once, every app has had its SIGINT by the time the first is killed.
  const together = async (what, action) => {
    await allOnline();
    const pids = await pidsNow();
    // (each one's handlers are in place once it has written its pid)
    await waitFor(() => outs.every((out) => {
      try { return pids.includes(Number(fs.readFileSync(`${out}.ready`, 'utf8'))); } catch { return false; }
    }), { timeout: 20000, message: `${what}: apps not ready` });
    const before = outs.map(sigints);
    const acting = action();
    acting.catch(() => {});
    await waitFor(() => pids.some(isDead), { timeout: 30000, message: `${what}: no app was stopped` });
    const asked = outs.map((out, i) => sigints(out) > before[i]);
    assert.deepEqual(asked, outs.map(() => true), `${what}: every app was asked to stop before the first was killed`);
    await withTimeout(acting, 30000, what);
    await allDead(pids, what);
  };

  await together('restart all', () => call(pm2, 'restart', 'all'));
  await together('stop all', () => call(pm2, 'stop', 'all'));
  await call(pm2, 'restart', 'all');
  await together('delete all', () => call(pm2, 'delete', 'all'));
  assert.deepEqual(await call(pm2, 'list'), []);
  await startAll();
  await together('killDaemon', () => call(pm2, 'killDaemon'));
});

// ---------------------------------------------------------------------------
// monitoring

test('list() reports cpu and memory of every app', { timeout: TEST_TIMEOUT }, async (t) => {
  const { pm2, writeApp } = await sandbox(t);
  const busy = writeApp('busy.js', 'setInterval(() => { const end = Date.now() + 150; while (Date.now() < end); }, 200);\n');
  const idle = writeApp('idle.js', apps.forever);
  await call(pm2, 'connect');
  await call(pm2, 'start', { script: busy, name: 'busy' });
  await call(pm2, 'start', { script: idle, name: 'idle' });
  await onlineProc(pm2, 'busy');
  await onlineProc(pm2, 'idle');
  const sample = await waitFor(async () => {
    const list = await call(pm2, 'list');
    const b = list.find((p) => p.name === 'busy');
    const i = list.find((p) => p.name === 'idle');
    return b && i && b.monit.cpu > 20 && b.monit.memory > 0 && i.monit.memory > 0 ? { b, i } : false;
  }, { timeout: 15000, interval: 250, message: 'no cpu / memory sample' });
  assert.ok(sample.b.monit.cpu <= 100 * 64, 'cpu is a percentage');
  assert.ok(sample.i.monit.memory > 1024 * 1024, 'memory is in bytes');
  assert.equal(typeof sample.i.monit.cpu, 'number');
  await call(pm2, 'stop', 'busy');
  const stopped = await procByName(pm2, 'busy');
  assert.equal(stopped.monit.cpu, 0);
  assert.equal(stopped.monit.memory, 0);
});

test("an app's memory includes its children", {
  timeout: TEST_TIMEOUT,
  skip: IS_ORIGINAL && 'pm2 7.0.4 samples the app pid only (pidusage), not its children',
}, async (t) => {
  const { pm2, writeApp } = await sandbox(t);
  writeApp('hog.js', 'const b = Buffer.alloc(160 * 1024 * 1024, 1);\nsetInterval(() => b[0]++, 1000);\n');
  const parent = writeApp('parent.js', [
    "const { spawn } = require('child_process');",
    "const path = require('path');",
    "spawn(process.execPath, [path.join(__dirname, 'hog.js')], { stdio: 'ignore' });",
    'setInterval(() => {}, 1000);',
    '',
  ].join('\n'));
  await call(pm2, 'connect');
  await call(pm2, 'start', { script: parent, name: 'parent' });
  const p = await waitFor(async () => {
    const x = await procByName(pm2, 'parent');
    return x && x.monit.memory >= 160 * 1024 * 1024 ? x : false;
  }, { timeout: 20000, interval: 250, message: "the child's memory never showed in the app's" });
  assert.ok(p.monit.memory >= 160 * 1024 * 1024);
});

// ---------------------------------------------------------------------------
// limits and schedules

// Grows to ~200 MB in 10 MB steps.
const MEMORY_HOG = [
  'const chunks = [];',
  'setInterval(() => { if (chunks.length < 20) chunks.push(Buffer.alloc(10 * 1024 * 1024, 1)); }, 50);',
  '',
].join('\n');

test("max_memory_restart: sizes in bytes, '10M', '1G'", { timeout: TEST_TIMEOUT }, async (t) => {
  const { pm2, writeApp } = await sandbox(t);
  const script = writeApp('idle.js', apps.forever);
  await call(pm2, 'connect');
  await call(pm2, 'start', { script, name: 'm', max_memory_restart: '10M', autostart: false });
  await call(pm2, 'start', { script, name: 'g', max_memory_restart: '1G', autostart: false });
  await call(pm2, 'start', { script, name: 'b', max_memory_restart: 123456789, autostart: false });
  const list = await call(pm2, 'list');
  const limit = (name) => list.find((p) => p.name === name).pm2_env.max_memory_restart;
  assert.equal(limit('m'), 10 * 1024 * 1024);
  assert.equal(limit('g'), 1024 * 1024 * 1024);
  assert.equal(limit('b'), 123456789);
});

test('max_memory_restart restarts an app over its limit (PM2_WORKER_INTERVAL=1000)', { timeout: TEST_TIMEOUT }, async (t) => {
  const { pm2, writeApp } = await sandbox(t);
  const script = writeApp('hog.js', MEMORY_HOG);
  await connectWithEnv(pm2, { PM2_WORKER_INTERVAL: 1000 });
  const events = await recordEvents(t, pm2);
  await call(pm2, 'start', { script, name: 'hog', max_memory_restart: '60M' });
  const first = await onlineProc(pm2, 'hog');
  const later = await waitFor(async () => {
    const x = await procByName(pm2, 'hog');
    return x && x.pm2_env.restart_time >= 1 && x.pid && x.pid !== first.pid ? x : false;
  }, { timeout: 20000, message: 'never restarted for memory' });
  assert.equal(later.pm2_env.max_memory_restart, 60 * 1024 * 1024);
  await waitFor(() => isDead(first.pid), { timeout: 10000, message: 'the process over the limit survived' });
  await waitFor(() => {
    const names = events.names('hog');
    return names.includes('exit') && names.lastIndexOf('online') > names.indexOf('exit');
  }, { timeout: 10000, message: `no exit + online on the bus for the memory restart (${events.names('hog').join(', ')})` });
  if (!IS_ORIGINAL) {
    // pm2 7.0.4 sends no restart event for it; this daemon's says why.
    const restart = events.of('hog').find((e) => e.event === 'restart');
    assert.deepEqual(restart && [restart.reason, restart.manually], ['memory limit', false]);
  }
  await call(pm2, 'stop', 'hog');
});

test('max_memory_restart is checked well under 30 s by default', {
  timeout: TEST_TIMEOUT,
  skip: IS_ORIGINAL && 'pm2 7.0.4 checks memory every PM2_WORKER_INTERVAL, 30 s by default',
}, async (t) => {
  const { pm2, writeApp } = await sandbox(t);
  const script = writeApp('hog.js', MEMORY_HOG);
  await call(pm2, 'connect');
  await call(pm2, 'start', { script, name: 'hog', max_memory_restart: '60M' });
  const first = await onlineProc(pm2, 'hog');
  await waitFor(async () => {
    const x = await procByName(pm2, 'hog');
    return x && x.pm2_env.restart_time >= 1 && x.pid !== first.pid;
  }, { timeout: 15000, message: 'not restarted for memory within 15 s with the default interval' });
  await call(pm2, 'stop', 'hog');
});

test('cron_restart with a per-second pattern restarts the app on schedule', { timeout: TEST_TIMEOUT }, async (t) => {
  const { pm2, writeApp } = await sandbox(t);
  const script = writeApp('cron.js', apps.forever);
  await call(pm2, 'connect');
  const events = await recordEvents(t, pm2);
  await call(pm2, 'start', { script, name: 'cron', cron_restart: '*/2 * * * * *' });
  const first = await onlineProc(pm2, 'cron');
  const later = await waitFor(async () => {
    const x = await procByName(pm2, 'cron');
    return x && x.pm2_env.restart_time >= 2 && x.pm2_env.status === 'online' && x.pid ? x : false;
  }, { timeout: 20000, message: 'cron never restarted the app twice' });
  assert.notEqual(later.pid, first.pid);
  await waitFor(() => events.names('cron').filter((e) => e === 'exit').length >= 2
    && events.names('cron').filter((e) => e === 'online').length >= 2,
  { timeout: 10000, message: `cron restarts not on the bus (${events.names('cron').join(', ')})` });
  await call(pm2, 'delete', 'cron');
});

test('watch: a change in a sub-directory restarts, ignore_watch does not, stop turns watching off', { timeout: 90000 }, async (t) => {
  const { pm2, dir, writeApp } = await sandbox(t);
  const script = writeApp('watched.js', apps.forever);
  fs.mkdirSync(path.join(dir, 'sub', 'deeper'), { recursive: true });
  fs.mkdirSync(path.join(dir, 'node_modules', 'pkg'), { recursive: true });
  await call(pm2, 'connect');
  await call(pm2, 'start', {
    script, name: 'watched', watch: true, ignore_watch: ['node_modules'], watch_delay: 200,
    watch_options: { followSymlinks: false },
  });
  const first = await onlineProc(pm2, 'watched');

  // (the watcher may need a moment to be set up: keep changing files until it restarts)
  let n = 0;
  await waitFor(async () => {
    fs.writeFileSync(path.join(dir, 'sub', 'deeper', `change-${n++}.js`), `// ${n}\n`);
    const x = await procByName(pm2, 'watched');
    return x && x.pm2_env.restart_time >= 1 && x.pid && x.pid !== first.pid;
  }, { timeout: 20000, interval: 500, message: 'a change in a sub-directory did not restart the app' });

  // settle, then changes in an ignored directory must not restart it
  await sleep(1500);
  const settled = await onlineProc(pm2, 'watched');
  fs.writeFileSync(path.join(dir, 'node_modules', 'x.js'), '// x\n');
  fs.writeFileSync(path.join(dir, 'node_modules', 'pkg', 'y.js'), '// y\n');
  await sleep(2000);
  const after = await procByName(pm2, 'watched');
  assert.equal(after.pm2_env.restart_time, settled.pm2_env.restart_time, 'a change under node_modules restarted the app');
  assert.equal(after.pid, settled.pid);

  // stop turns watching off
  await call(pm2, 'stop', 'watched');
  fs.writeFileSync(path.join(dir, 'sub', 'after-stop.js'), '// stopped\n');
  fs.writeFileSync(path.join(dir, 'after-stop.js'), '// stopped\n');
  await sleep(2000);
  const stopped = await procByName(pm2, 'watched');
  assert.equal(stopped.pm2_env.status, 'stopped', 'a change after stop restarted the app');
  assert.ok(!stopped.pid);
});

test('watch: a list of paths, relative to cwd', { timeout: TEST_TIMEOUT }, async (t) => {
  const { pm2, dir, writeApp } = await sandbox(t);
  const script = writeApp('app.js', apps.forever);
  fs.mkdirSync(path.join(dir, 'conf', 'nested'), { recursive: true });
  fs.mkdirSync(path.join(dir, 'other'), { recursive: true });
  await call(pm2, 'connect');
  await call(pm2, 'start', { script, name: 'listed', watch: ['conf'] });
  const first = await onlineProc(pm2, 'listed');
  let n = 0;
  await waitFor(async () => {
    fs.writeFileSync(path.join(dir, 'conf', 'nested', `c-${n++}.json`), '{}');
    const x = await procByName(pm2, 'listed');
    return x && x.pm2_env.restart_time >= 1 && x.pid !== first.pid;
  }, { timeout: 20000, interval: 500, message: 'a change under a watched path did not restart the app' });
  await sleep(1500);
  const settled = await onlineProc(pm2, 'listed');
  fs.writeFileSync(path.join(dir, 'other', 'o.json'), '{}');
  await sleep(2000);
  const after = await procByName(pm2, 'listed');
  assert.equal(after.pm2_env.restart_time, settled.pm2_env.restart_time, 'a change outside the watched paths restarted the app');
});

// ---------------------------------------------------------------------------
// the bus

test('automatic restarts and stops are process:events on the bus', { timeout: TEST_TIMEOUT }, async (t) => {
  const { pm2, writeApp } = await sandbox(t);
  const crash = writeApp('crash.js', EXIT_LATER);
  await call(pm2, 'connect');
  const events = await recordEvents(t, pm2);

  // a crash, restarted after a delay: exit, then online
  await call(pm2, 'start', { script: crash, name: 'crashy', args: ['300', '1'], restart_delay: 500 });
  await waitFor(() => {
    const names = events.names('crashy');
    const exit = names.indexOf('exit');
    return exit >= 0 && names.indexOf('online', exit) > exit;
  }, { timeout: 15000, message: `no exit then online for a crash restart (${events.names('crashy').join(', ')})` });
  const exit = events.of('crashy').find((e) => e.event === 'exit');
  assert.equal(exit.manually, false);
  assert.equal(exit.process.exit_code, 1);
  await call(pm2, 'stop', 'crashy');

  // an exit that stays down (stop_exit_codes): exit, status stopped
  await call(pm2, 'start', { script: crash, name: 'done', args: ['300', '0'], stop_exit_codes: [0] });
  const done = await waitFor(() => events.of('done').find((e) => e.event === 'exit'),
    { timeout: 15000, message: 'no exit event for an app that stays down' });
  assert.equal(done.process.exit_code, 0);
  await waitFor(async () => (await statusOf(pm2, 'done')) === 'stopped', { timeout: 5000 });

  // errored after too many unstable restarts
  await call(pm2, 'start', { script: crash, name: 'broken', args: ['50', '1'], max_restarts: 2, min_uptime: 5000 });
  const over = await waitFor(() => events.of('broken').find((e) => e.event === 'restart overlimit'),
    { timeout: 20000, message: 'no restart overlimit event' });
  assert.equal(over.process.status, 'errored');
});

// ---------------------------------------------------------------------------
// bad input

const NO_CHECK = 'pm2 7.0.4 accepts this value at start without an error';
const badInputs = [
  { label: "cron_restart: '61 * * * *'", opts: { cron_restart: '61 * * * *' }, re: /cron/i },
  { label: "cron_restart: '* * *'", opts: { cron_restart: '* * *' }, re: /cron/i },
  { label: "max_memory_restart: '10X'", opts: { max_memory_restart: '10X' }, re: /max_memory_restart/ },
  { label: "max_memory_restart: '-5M'", opts: { max_memory_restart: '-5M' }, re: /max_memory_restart/ },
  { label: "min_uptime: -1", opts: { min_uptime: -1 }, re: /min_uptime/ },
  { label: 'restart_delay: -5', opts: { restart_delay: -5 }, re: /restart_delay/, skip: NO_CHECK },
  { label: 'exp_backoff_restart_delay: -100', opts: { exp_backoff_restart_delay: -100 }, re: /exp_backoff_restart_delay/, skip: NO_CHECK },
  { label: 'kill_timeout: -1', opts: { kill_timeout: -1 }, re: /kill_timeout/, skip: NO_CHECK },
  { label: 'watch_delay: -1', opts: { watch_delay: -1 }, re: /watch_delay/, skip: NO_CHECK },
];

for (const { label, opts, re, skip } of badInputs) {
  test(`bad input is an Error at start and starts nothing: ${label}`, {
    timeout: TEST_TIMEOUT,
    skip: IS_ORIGINAL && skip,
  }, async (t) => {
    const { pm2, writeApp } = await sandbox(t);
    const script = writeApp('app.js', apps.forever);
    await call(pm2, 'connect');
    await call(pm2, 'start', { script, name: 'existing' });
    await onlineProc(pm2, 'existing');
    const before = await snapshot(pm2);
    const { err, res } = await expectStartError(pm2, { script, name: 'bad', ...opts });
    assert.ok(err, `start was accepted: ${JSON.stringify(res && res.map && res.map((p) => p.name))}`);
    assert.ok(err instanceof Error, `an Error, got ${typeof err}`);
    assert.match(errText(err), re);
    assert.deepEqual(await snapshot(pm2), before, 'list() unchanged');
  });
}

test('a config file whose second app is invalid starts none of its apps', { timeout: TEST_TIMEOUT }, async (t) => {
  const { pm2, dir, writeApp } = await sandbox(t);
  writeApp('app.js', apps.forever);
  const config = path.join(dir, 'ecosystem.json');
  fs.writeFileSync(config, JSON.stringify({
    apps: [
      { name: 'good', script: 'app.js' },
      { name: 'broken', script: 'app.js', cron_restart: 'every now and then' },
    ],
  }));
  await call(pm2, 'connect');
  const { err } = await expectStartError(pm2, config);
  assert.ok(err instanceof Error, 'an Error');
  assert.match(errText(err), /cron/i);
  assert.deepEqual(await call(pm2, 'list'), [], 'nothing half-started');
});
