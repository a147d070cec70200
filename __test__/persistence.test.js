'use strict';

// Persistence and boot: dump / dump.pm2.bak / resurrect / clearDump / update; surviving
// the daemon's own death (beyond pm2); startup / uninstallStartup into a temporary root
// (beyond pm2) and the boot command it installs, run by hand; corrupt and empty dumps.

const { test } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { spawn } = require('node:child_process');
const { Worker } = require('node:worker_threads');

const {
  IS_ORIGINAL, implPath, pinOriginalPaths, sandbox: baseSandbox, call, callCounting, errText, waitFor, isAlive, killPid,
  readDaemonPid, readFileEventually, sleep, apps, disposeClient, releaseOriginalSockets,
  listByName, onlineAll,
} = require('./helpers');

const TEST_TIMEOUT = 60000;
const BEYOND = (what) => IS_ORIGINAL && `beyond pm2: ${what}`;

// ---------------------------------------------------------------------------
// helpers

async function sandbox(t) {
  const box = await baseSandbox(t);
  if (IS_ORIGINAL) pinOriginalPaths(box.home);
  return box;
}

// A pid that is running (kill(pid, 0) also succeeds for a zombie nobody has reaped yet).
function running(pid) {
  if (!pid) return false;
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0];
    return state !== 'Z' && state !== 'X';
  } catch {
    return isAlive(pid) && process.platform !== 'linux';
  }
}

function dumpFile(home) { return path.join(home, 'dump.pm2'); }
function bakFile(home) { return path.join(home, 'dump.pm2.bak'); }

function readDump(home) {
  return JSON.parse(fs.readFileSync(dumpFile(home), 'utf8'));
}

// killDaemon, then wait for the daemon and every listed app to be gone.
async function killAndWait(pm2, home) {
  const daemonPid = readDaemonPid(home);
  let pids = [];
  try { pids = (await call(pm2, 'list')).map((p) => p.pid).filter(Boolean); } catch { /* ignore */ }
  await call(pm2, 'killDaemon');
  // original pm2: its next call opens new sockets; the old ones would retry forever
  if (IS_ORIGINAL) releaseOriginalSockets(pm2);
  await waitFor(() => !(daemonPid && running(daemonPid)) && pids.every((p) => !running(p)), {
    timeout: 15000, message: 'daemon or apps survived killDaemon',
  });
}

// Starts an app that stays up; `count` instances in fork mode when count > 1.
async function startForever(box, name, count = 1) {
  const script = box.writeApp('forever.js', apps.forever);
  const opts = { script, name };
  if (count > 1) Object.assign(opts, { instances: count, exec_mode: 'fork' });
  await call(box.pm2, 'start', opts);
  return onlineAll(box.pm2, name, count);
}

// A spawned process resolved on 'exit' (a detaching daemon keeps the pipes open).
function runProcess(cmd, args, { env, cwd, uid, gid, stderrFd, timeout = 20000 } = {}) {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, {
      env, cwd, uid, gid, stdio: ['ignore', 'pipe', stderrFd === undefined ? 'pipe' : stderrFd],
    });
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    child.stdout.on('data', (d) => { stdout += d; });
    if (child.stderr) child.stderr.on('data', (d) => { stderr += d; });
    const timer = setTimeout(() => { timedOut = true; killPid(child.pid); }, timeout);
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      setTimeout(() => {
        child.stdout.destroy();
        if (child.stderr) child.stderr.destroy();
        resolve({ code, signal, stdout, stderr, timedOut });
      }, 200);
    });
    child.on('error', (e) => {
      clearTimeout(timer);
      resolve({ code: null, signal: null, stdout, stderr: stderr + String(e), timedOut });
    });
  });
}

function childEnv(extra) {
  const env = { ...process.env, ...extra };
  delete env.NODE_TEST_CONTEXT;
  return env;
}

// ---------------------------------------------------------------------------
// dump

test('dump writes dump.pm2 with every app; the previous dump is kept byte for byte as dump.pm2.bak', { timeout: TEST_TIMEOUT }, async (t) => {
  const box = await sandbox(t);
  const { pm2, home } = box;
  await call(pm2, 'connect');
  await startForever(box, 'one');
  await startForever(box, 'two');
  const script = path.join(box.dir, 'forever.js');

  await call(pm2, 'dump');
  const entries = readDump(home);
  assert.ok(Array.isArray(entries));
  assert.deepEqual(entries.map((e) => e.name), ['one', 'two']);
  for (const e of entries) {
    assert.equal(e.pm_exec_path, script);
    assert.ok(!('pm_id' in e), 'pm_id is not saved');
  }

  // a previous dump in an unusual (but valid) layout: kept exactly as it was
  const previous = Buffer.from(`${JSON.stringify(entries)}\n\n`, 'utf8');
  fs.writeFileSync(dumpFile(home), previous);
  await call(pm2, 'stop', 'two');
  await call(pm2, 'dump');
  assert.ok(fs.readFileSync(bakFile(home)).equals(previous), 'dump.pm2.bak holds the previous bytes');
  const now = readDump(home);
  assert.deepEqual(now.map((e) => e.name), ['one', 'two']);
  assert.equal(now.find((e) => e.name === 'two').status, 'stopped');
  // nothing half-written is left next to it
  const leftovers = fs.readdirSync(home).filter((f) => f.startsWith('dump') && !['dump.pm2', 'dump.pm2.bak'].includes(f));
  assert.deepEqual(leftovers, []);
});

test("dump of an empty list: 'Process list empty, cannot save empty list', the dump is untouched; force saves []", { timeout: TEST_TIMEOUT }, async (t) => {
  const box = await sandbox(t);
  const { pm2, home } = box;
  await call(pm2, 'connect');
  await startForever(box, 'gone');
  await call(pm2, 'dump');
  const before = fs.readFileSync(dumpFile(home));
  await call(pm2, 'delete', 'all');

  await assert.rejects(call(pm2, 'dump'), (e) => {
    assert.ok(e instanceof Error);
    assert.equal(e.message, 'Process list empty, cannot save empty list');
    return true;
  });
  assert.ok(fs.readFileSync(dumpFile(home)).equals(before), 'dump.pm2 untouched');

  await call(pm2, 'dump', true);
  assert.deepEqual(readDump(home), []);
  assert.ok(fs.readFileSync(bakFile(home)).equals(before), 'the replaced dump went to .bak');
});

test('dump.pm2 is replaced atomically: a concurrent reader never sees a partial file', {
  timeout: TEST_TIMEOUT,
  skip: IS_ORIGINAL && 'original pm2 rewrites dump.pm2 in place (writeFileSync), so a reader can see it empty or partial',
}, async (t) => {
  const box = await sandbox(t);
  const { pm2, home } = box;
  await call(pm2, 'connect');
  // a large dump: every entry carries the client environment, padded here
  const script = box.writeApp('forever.js', apps.forever);
  for (let i = 0; i < 8; i++) {
    await call(pm2, 'start', { script, name: `big${i}`, env: { PADDING: 'p'.repeat(20000) } });
  }
  await call(pm2, 'dump');
  const stop = new Int32Array(new SharedArrayBuffer(4));
  const worker = new Worker(`
    const { workerData, parentPort } = require('node:worker_threads');
    const fs = require('node:fs');
    const stop = workerData.stop;
    let reads = 0, bad = 0, sample = null;
    while (Atomics.load(stop, 0) === 0) {
      let text;
      try { text = fs.readFileSync(workerData.file, 'utf8'); } catch (e) { bad++; sample = sample || e.code; continue; }
      reads++;
      try { JSON.parse(text); } catch { bad++; sample = sample || ('length ' + text.length); }
    }
    parentPort.postMessage({ reads, bad, sample });
  `, { eval: true, workerData: { file: dumpFile(home), stop } });
  const result = new Promise((resolve, reject) => {
    worker.once('message', resolve);
    worker.once('error', reject);
  });
  t.after(() => { Atomics.store(stop, 0, 1); return worker.terminate(); });
  for (let i = 0; i < 40; i++) await call(pm2, 'dump');
  Atomics.store(stop, 0, 1);
  const { reads, bad, sample } = await result;
  assert.ok(reads > 0, 'the reader ran');
  assert.equal(bad, 0, `reader saw ${bad} missing or partial dump(s) out of ${reads + bad} (first: ${sample})`);
});

// ---------------------------------------------------------------------------
// resurrect, clearDump

test('resurrect brings the dumped apps back; it starts only names that are not running', { timeout: TEST_TIMEOUT }, async (t) => {
  const box = await sandbox(t);
  const { pm2, home } = box;
  await call(pm2, 'connect');
  await startForever(box, 'r1');
  await startForever(box, 'r2', 2);
  await call(pm2, 'dump');
  await killAndWait(pm2, home);

  // r1 is already running when resurrect comes
  const script = path.join(box.dir, 'forever.js');
  await call(pm2, 'start', { script, name: 'r1' });
  const [r1] = await onlineAll(pm2, 'r1');

  await call(pm2, 'resurrect');
  const r2 = await onlineAll(pm2, 'r2', 2);
  assert.equal(r2.length, 2);
  const [r1again] = await onlineAll(pm2, 'r1');
  assert.equal(r1again.pid, r1.pid, 'the running r1 was left alone');

  // again: everything is running, nothing is added
  await call(pm2, 'resurrect');
  await sleep(300);
  const list = await call(pm2, 'list');
  assert.deepEqual(list.map((p) => p.name).sort(), ['r1', 'r2', 'r2']);
});

for (const [label, content] of [['corrupt', '[{"name": "broken'], ['empty (0 bytes)', '']]) {
  test(`resurrect falls back to dump.pm2.bak when dump.pm2 is ${label}`, { timeout: TEST_TIMEOUT }, async (t) => {
    const box = await sandbox(t);
    const { pm2, home } = box;
    await call(pm2, 'connect');
    await startForever(box, 'keep');
    await call(pm2, 'dump');
    await call(pm2, 'dump'); // .bak now holds a good dump too
    assert.deepEqual(JSON.parse(fs.readFileSync(bakFile(home), 'utf8')).map((e) => e.name), ['keep']);
    await killAndWait(pm2, home);

    fs.writeFileSync(dumpFile(home), content);
    await call(pm2, 'resurrect');
    await onlineAll(pm2, 'keep');
  });
}

test('resurrect with nothing to resurrect calls back with an Error; running apps are untouched', {
  timeout: TEST_TIMEOUT,
  skip: BEYOND('pm2 7.0.4 never calls back when there is no dump'),
}, async (t) => {
  const box = await sandbox(t);
  const { pm2, home } = box;
  await call(pm2, 'connect');
  const [alive] = await startForever(box, 'alive');

  // no dump at all
  assert.ok(!fs.existsSync(dumpFile(home)));
  const r1 = await callCounting(pm2, 'resurrect', [], { settleMs: 300, timeout: 20000 });
  assert.equal(r1.calls, 1);
  assert.ok(r1.err instanceof Error, `an Error, got ${errText(r1.err)}`);
  assert.match(r1.err.message, /resurrect|dump/i);

  // a corrupt dump and no .bak
  fs.writeFileSync(dumpFile(home), 'this is not json');
  const r2 = await callCounting(pm2, 'resurrect', [], { settleMs: 300, timeout: 20000 });
  assert.equal(r2.calls, 1);
  assert.ok(r2.err instanceof Error, `an Error, got ${errText(r2.err)}`);
  assert.match(r2.err.message, /resurrect|dump/i);

  // an empty (0 byte) dump and no .bak
  fs.writeFileSync(dumpFile(home), '');
  const r3 = await callCounting(pm2, 'resurrect', [], { settleMs: 300, timeout: 20000 });
  assert.equal(r3.calls, 1);
  assert.ok(r3.err instanceof Error, `an Error, got ${errText(r3.err)}`);

  const [still] = await onlineAll(pm2, 'alive');
  assert.equal(still.pid, alive.pid);
  assert.deepEqual((await call(pm2, 'list')).map((p) => p.name), ['alive']);
});

test('clearDump writes []; resurrect then starts nothing', { timeout: TEST_TIMEOUT }, async (t) => {
  const box = await sandbox(t);
  const { pm2, home } = box;
  await call(pm2, 'connect');
  await startForever(box, 'cleared');
  await call(pm2, 'dump');
  await call(pm2, 'clearDump');
  assert.deepEqual(readDump(home), []);
  await killAndWait(pm2, home);
  const r = await callCounting(pm2, 'resurrect', [], { settleMs: 300, timeout: 20000 });
  assert.equal(r.calls, 1, 'resurrect calls back once');
  assert.deepEqual(await call(pm2, 'list'), []);
});

// ---------------------------------------------------------------------------
// update

test('update respawns the daemon (new pid in pm2.pid) from the calling environment and brings every app back', { timeout: TEST_TIMEOUT }, async (t) => {
  const box = await sandbox(t);
  const { pm2, home } = box;
  await call(pm2, 'connect');
  const [u1] = await startForever(box, 'u1');
  await startForever(box, 'u2', 2);
  const oldDaemon = readDaemonPid(home);
  const oldPids = (await call(pm2, 'list')).map((p) => p.pid);
  for (const pid of oldPids) box.track(pid);

  const mark = `mark-${process.pid}-${Date.now()}`;
  const saved = process.env.PM2_TEST_UPDATE_MARK;
  t.after(() => {
    if (saved === undefined) delete process.env.PM2_TEST_UPDATE_MARK;
    else process.env.PM2_TEST_UPDATE_MARK = saved;
  });
  process.env.PM2_TEST_UPDATE_MARK = mark;
  // original pm2: update() replaces its sockets; the old ones would retry forever
  const oldSockets = IS_ORIGINAL ? [pm2.Client.client_sock, pm2.Client.sub_sock] : [];
  try {
    await call(pm2, 'update');
  } finally {
    for (const sock of oldSockets) {
      if (sock && typeof sock.close === 'function') try { sock.close(); } catch { /* ignore */ }
    }
    if (saved === undefined) delete process.env.PM2_TEST_UPDATE_MARK;
    else process.env.PM2_TEST_UPDATE_MARK = saved;
  }

  const newDaemon = await waitFor(() => {
    const pid = readDaemonPid(home);
    return pid && pid !== oldDaemon && running(pid) ? pid : false;
  }, { timeout: 15000, message: 'no new daemon pid in pm2.pid' });
  box.track(newDaemon);
  await waitFor(() => !running(oldDaemon), { timeout: 15000, message: 'the old daemon is still running' });
  if (process.platform === 'linux') {
    const environ = fs.readFileSync(`/proc/${newDaemon}/environ`, 'latin1').split('\0');
    assert.ok(environ.includes(`PM2_TEST_UPDATE_MARK=${mark}`), 'the new daemon has the caller\'s environment');
  }
  const [u1new] = await onlineAll(pm2, 'u1');
  await onlineAll(pm2, 'u2', 2);
  assert.notEqual(u1new.pid, u1.pid);
  await waitFor(() => oldPids.every((p) => !running(p)), { timeout: 15000, message: 'an app of the old daemon survived' });
});

// ---------------------------------------------------------------------------
// daemon crash safety (beyond pm2)

// The daemon saves its table (process-table.json) shortly after each change: waits until the
// saved table holds what `list` answered (ids, pids, statuses).
async function tableSaved(home, list) {
  const rows = (entries) => JSON.stringify(entries.map((e) => [e.pm_id, e.pid || null, e.status]).sort((a, b) => a[0] - b[0]));
  const want = rows(list.map((p) => ({ pm_id: p.pm_id, pid: p.pid, status: p.pm2_env.status })));
  await waitFor(() => {
    try {
      return rows(JSON.parse(fs.readFileSync(path.join(home, 'process-table.json'), 'utf8'))) === want;
    } catch {
      return false;
    }
  }, { message: `the daemon did not save its table as ${want}` });
}

test('daemon SIGKILLed: the next call starts a new daemon that restores the apps and stops the old generation', {
  timeout: TEST_TIMEOUT,
  skip: BEYOND('pm2 7.0.4 does not recover from its daemon being killed'),
}, async (t) => {
  const box = await sandbox(t);
  const { pm2, home } = box;
  await call(pm2, 'connect');
  await startForever(box, 'c1');
  await startForever(box, 'c2', 2);
  const script = box.writeApp('forever.js', apps.forever);
  await call(pm2, 'start', { script, name: 'parked' });
  await onlineAll(pm2, 'parked');
  await call(pm2, 'stop', 'parked');
  const before = await call(pm2, 'list');
  const oldPids = before.map((p) => p.pid).filter(Boolean);
  assert.equal(oldPids.length, 3);
  for (const pid of oldPids) box.track(pid);
  const daemonPid = readDaemonPid(home);
  assert.ok(daemonPid && running(daemonPid));
  await tableSaved(home, before);

  process.kill(daemonPid, 'SIGKILL');
  await waitFor(() => !running(daemonPid), { message: 'daemon did not die' });

  const after = await call(pm2, 'list'); // the very next call
  const newDaemon = readDaemonPid(home);
  assert.ok(newDaemon && newDaemon !== daemonPid && running(newDaemon), 'a new daemon is running');
  box.track(newDaemon);
  assert.deepEqual(after.map((p) => [p.pm_id, p.name]), before.map((p) => [p.pm_id, p.name]), 'same names and pm_ids');

  const c1 = await onlineAll(pm2, 'c1');
  const c2 = await onlineAll(pm2, 'c2', 2);
  for (const p of c1.concat(c2)) assert.ok(!oldPids.includes(p.pid), 'a new process, not the orphan');
  const [parked] = await listByName(pm2, 'parked');
  assert.equal(parked.pm2_env.status, 'stopped', 'a stopped app stays stopped');
  await waitFor(() => oldPids.every((p) => !running(p)), {
    timeout: 15000, message: `old generation still running: ${oldPids.filter(running)}`,
  });
});

test('daemon SIGKILLed while no client is connected: a new client finds the apps online again', {
  timeout: TEST_TIMEOUT,
  skip: BEYOND('pm2 7.0.4 does not recover from its daemon being killed'),
}, async (t) => {
  const box = await sandbox(t);
  const { pm2, home } = box;
  await call(pm2, 'connect');
  await startForever(box, 'solo');
  const [old] = await listByName(pm2, 'solo');
  box.track(old.pid);
  const daemonPid = readDaemonPid(home);
  await tableSaved(home, await call(pm2, 'list'));
  await new Promise((resolve) => pm2.disconnect(() => resolve()));
  process.kill(daemonPid, 'SIGKILL');
  await waitFor(() => !running(daemonPid), { message: 'daemon did not die' });

  const fresh = new pm2.constructor({ pm2_home: home, cwd: box.dir, daemon_mode: true });
  t.after(() => disposeClient(fresh));
  await call(fresh, 'connect');
  const newDaemon = readDaemonPid(home);
  box.track(newDaemon);
  assert.notEqual(newDaemon, daemonPid);
  const [p] = await onlineAll(fresh, 'solo');
  assert.equal(p.pm_id, old.pm_id);
  assert.notEqual(p.pid, old.pid);
  await waitFor(() => !running(old.pid), { timeout: 15000, message: 'the orphaned app is still running' });
});

// ---------------------------------------------------------------------------
// startup (beyond pm2: a temporary root)

const STARTUP_SKIP = BEYOND('startup into a temporary root (opts.root) is this implementation\'s option');

function tempRoot(t) {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'pm2-test-root-'));
  t.after(() => fs.rmSync(root, { recursive: true, force: true }));
  return root;
}

// ExecStart / Environment of a systemd unit.
function parseUnit(template) {
  const exec = /^ExecStart=(.+)$/m.exec(template);
  assert.ok(exec, 'the unit has an ExecStart line');
  const env = {};
  for (const m of template.matchAll(/^Environment=([A-Za-z_][A-Za-z0-9_]*)=(.*)$/gm)) env[m[1]] = m[2];
  return { argv: exec[1].trim().split(/\s+/), env };
}

test('startup(systemd) installs pm2-<user>.service under opts.root; uninstallStartup removes it', { timeout: TEST_TIMEOUT, skip: STARTUP_SKIP }, async (t) => {
  const { pm2, home } = await sandbox(t);
  const root = tempRoot(t);
  const user = os.userInfo().username;
  const res = await call(pm2, 'startup', 'systemd', { root });
  const dest = path.join(root, 'etc', 'systemd', 'system', `pm2-${user}.service`);
  assert.equal(res.destination, dest);
  assert.equal(typeof res.template, 'string');
  assert.equal(fs.readFileSync(dest, 'utf8'), res.template, 'the file holds the template');
  assert.match(res.template, /^\[Unit\]/m);
  assert.match(res.template, /^\[Service\]/m);
  assert.match(res.template, /^\[Install\]/m);
  const { argv, env } = parseUnit(res.template);
  assert.deepEqual(argv.slice(1), ['--home', home, '--detach', '--resurrect']);
  assert.ok(path.isAbsolute(argv[0]));
  fs.accessSync(argv[0], fs.constants.X_OK);
  assert.equal(env.PM2_HOME, home);
  assert.match(res.template, new RegExp(`^User=${user}$`, 'm'));
  // only the temporary root was written
  assert.deepEqual(fs.readdirSync(root), ['etc']);

  const un = await call(pm2, 'uninstallStartup', 'systemd', { root });
  assert.ok(un && typeof un === 'object');
  assert.ok(!fs.existsSync(dest), 'unit removed');
});

test('startup for launchd, openrc, upstart, systemv and rcd writes a boot file that resurrects', { timeout: TEST_TIMEOUT, skip: STARTUP_SKIP }, async (t) => {
  const { pm2 } = await sandbox(t);
  const user = os.userInfo().username;
  for (const platform of ['launchd', 'openrc', 'upstart', 'systemv', 'rcd']) {
    const root = tempRoot(t);
    const res = await call(pm2, 'startup', platform, { root });
    assert.equal(typeof res.destination, 'string', platform);
    assert.ok(res.destination.startsWith(root + path.sep), `${platform}: ${res.destination} is under the root`);
    assert.equal(fs.readFileSync(res.destination, 'utf8'), res.template, platform);
    assert.match(res.template, /--resurrect/, `${platform} resurrects`);
    assert.ok(res.template.includes(user), `${platform} names the user`);
    if (platform === 'launchd') assert.match(path.basename(res.destination), /\.plist$/);
    else assert.ok(res.destination.includes(`pm2-${user}`), `${platform}: ${res.destination}`);
    await call(pm2, 'uninstallStartup', platform, { root });
    assert.ok(!fs.existsSync(res.destination), `${platform} uninstalled`);
  }
});

test('startup without root privileges: a clear error with the command to run', {
  timeout: TEST_TIMEOUT,
  skip: STARTUP_SKIP || (process.platform !== 'linux' && 'needs Linux'),
}, async (t) => {
  if (typeof process.getuid === 'function' && process.getuid() !== 0) {
    const { pm2 } = await sandbox(t);
    const r = await callCounting(pm2, 'startup', ['systemd', {}], { settleMs: 200, timeout: 20000 });
    assert.ok(r.err instanceof Error);
    assert.match(r.err.message, /sudo/);
    assert.match(r.err.message, /startup/);
    return;
  }
  // as root: run the call as `nobody` in a child process
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'pm2-test-nobody-'));
  t.after(() => fs.rmSync(work, { recursive: true, force: true }));
  fs.chmodSync(work, 0o777);
  const script = path.join(work, 'startup.js');
  fs.writeFileSync(script, `
    const PM2 = require(${JSON.stringify(implPath())}).custom;
    const pm2 = new PM2({ pm2_home: ${JSON.stringify(path.join(work, 'home'))} });
    pm2.startup('systemd', {}, (err, res) => {
      process.stdout.write(JSON.stringify({ err: err ? String(err.message || err) : null, res: res || null }));
      process.exit(0);
    });
  `);
  fs.chmodSync(script, 0o644);
  const r = await runProcess(process.execPath, [script], {
    cwd: work, uid: 65534, gid: 65534, env: childEnv({ HOME: work, USER: 'nobody', LOGNAME: 'nobody' }),
  });
  assert.equal(r.timedOut, false);
  assert.equal(r.code, 0, r.stderr);
  const out = JSON.parse(r.stdout);
  assert.ok(out.err, `an error, got ${r.stdout}`);
  assert.match(out.err, /sudo/, out.err);
  assert.match(out.err, /startup/, out.err);
  assert.ok(!fs.existsSync('/etc/systemd/system/pm2-nobody.service'));
});

test('startup with no init system found: a clear error naming the platforms to pass', { timeout: TEST_TIMEOUT, skip: STARTUP_SKIP }, async (t) => {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'pm2-test-noinit-'));
  t.after(() => fs.rmSync(work, { recursive: true, force: true }));
  const emptyBin = path.join(work, 'bin');
  const root = path.join(work, 'root');
  fs.mkdirSync(emptyBin);
  fs.mkdirSync(root);
  const script = path.join(work, 'startup.js');
  fs.writeFileSync(script, `
    const PM2 = require(${JSON.stringify(implPath())}).custom;
    const pm2 = new PM2({ pm2_home: ${JSON.stringify(path.join(work, 'home'))} });
    pm2.startup({ root: ${JSON.stringify(root)} }, (err, res) => {
      process.stdout.write(JSON.stringify({ err: err ? String(err.message || err) : null, res: res || null }));
      process.exit(0);
    });
  `);
  const r = await runProcess(process.execPath, [script], { cwd: work, env: childEnv({ PATH: emptyBin }) });
  assert.equal(r.code, 0, r.stderr);
  const out = JSON.parse(r.stdout);
  assert.ok(out.err, `an error, got ${r.stdout}`);
  assert.match(out.err, /init system/i);
  assert.match(out.err, /systemd/);
  assert.deepEqual(fs.readdirSync(root), [], 'nothing written');
});

// Runs the unit's ExecStart by hand, as systemd would: its Environment= lines, the user's
// HOME, stderr to the daemon log.
async function runExecStart(template, home) {
  const { argv, env } = parseUnit(template);
  const logFd = fs.openSync(path.join(home, 'boot-stderr.log'), 'a');
  try {
    const u = os.userInfo();
    return await runProcess(argv[0], argv.slice(1), {
      cwd: '/',
      env: { HOME: u.homedir, USER: u.username, LOGNAME: u.username, ...env },
      stderrFd: logFd,
    });
  } finally {
    fs.closeSync(logFd);
  }
}

test('the installed ExecStart, run by hand, brings the dumped apps back online', { timeout: TEST_TIMEOUT, skip: STARTUP_SKIP }, async (t) => {
  const box = await sandbox(t);
  const { pm2, home } = box;
  const root = tempRoot(t);
  await call(pm2, 'connect');
  const [old] = await startForever(box, 'boot');
  await startForever(box, 'boot-pair', 2);
  await call(pm2, 'dump');
  await killAndWait(pm2, home);
  assert.ok(!running(old.pid));

  const { template } = await call(pm2, 'startup', 'systemd', { root });
  const r = await runExecStart(template, home);
  assert.equal(r.timedOut, false, 'the command returns (it detaches)');
  assert.equal(r.code, 0, `exit code ${r.code}: ${r.stdout}`);
  const daemonPid = await waitFor(() => {
    const pid = readDaemonPid(home);
    return pid && running(pid) ? pid : false;
  }, { timeout: 15000, message: 'no daemon after ExecStart' });
  box.track(daemonPid);

  const [boot] = await onlineAll(pm2, 'boot');
  assert.notEqual(boot.pid, old.pid);
  await onlineAll(pm2, 'boot-pair', 2);
  await killAndWait(pm2, home);
});

test('a boot with a corrupt dump.pm2 (no .bak): the daemon starts anyway and says why nothing was resurrected', { timeout: TEST_TIMEOUT, skip: STARTUP_SKIP }, async (t) => {
  const box = await sandbox(t);
  const { pm2, home } = box;
  const root = tempRoot(t);
  const { template } = await call(pm2, 'startup', 'systemd', { root });
  fs.writeFileSync(dumpFile(home), '{ not json');
  const r = await runExecStart(template, home);
  assert.equal(r.code, 0, `exit code ${r.code}: ${r.stdout}`);
  const daemonPid = await waitFor(() => {
    const pid = readDaemonPid(home);
    return pid && running(pid) ? pid : false;
  }, { timeout: 15000, message: 'no daemon after ExecStart' });
  box.track(daemonPid);
  await readFileEventually(path.join(home, 'boot-stderr.log'), {
    timeout: 15000, predicate: (c) => /dump/i.test(c) && /resurrect/i.test(c),
  }).catch(async () => readFileEventually(path.join(home, 'pm2.log'), {
    timeout: 5000, predicate: (c) => /dump/i.test(c) && /resurrect/i.test(c),
  }));
  assert.deepEqual(await call(pm2, 'list'), []);
  await startForever(box, 'after-boot');
  await killAndWait(pm2, home);
});
