'use strict';

// Hardening: what no app, client, full disk or hostile input may do to the daemon, and the
// limits that keep it so: users and groups applied at spawn, limits with clear errors,
// I/O failures degrading instead of killing, private files under PM2_HOME, sockets the
// daemon does not own, clients that never hang.

const { test } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');
const { spawn, execFileSync } = require('node:child_process');
const { nativeDir } = require('../platform');

const {
  IS_ORIGINAL, ROOT, sandbox, call, errText, waitFor, isAlive, sleep, readDaemonPid, withTimeout, apps,
  disposeClient, impl, rejection, pinOriginalPaths, openBus, readFileEventually, ownHome, sweepHome,
} = require('./helpers');

const IS_ROOT = process.getuid && process.getuid() === 0;
const DAEMON = path.join(nativeDir().dir, 'pm2-daemon');
const ONLY_OURS = IS_ORIGINAL && 'a hardening of this implementation';

function procStatus(pid, field) {
  const line = fs.readFileSync(`/proc/${pid}/status`, 'utf8').split('\n').find((l) => l.startsWith(`${field}:`));
  return line.split(/\s+/).slice(1).filter(Boolean).map(Number);
}

// The names of the files under `dir` (recursively) whose content holds `text`.
function filesHolding(dir, text) {
  const out = [];
  for (const entry of fs.readdirSync(dir, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue;
    const file = path.join(entry.parentPath || entry.path, entry.name);
    if (fs.readFileSync(file).includes(text)) out.push(path.relative(dir, file));
  }
  return out.sort();
}

// A raw connection to the daemon of `home` that has done its handshake; null if refused.
function handshake(home) {
  return new Promise((resolve, reject) => {
    const hello = Buffer.from(JSON.stringify({ hello: 'pm2-rs', protocol: 1, version: 'x', pid: process.pid }));
    const len = Buffer.alloc(4);
    len.writeUInt32BE(hello.length);
    const socket = net.connect(path.join(home, 'rpc.sock'), () => socket.write(Buffer.concat([len, hello])));
    let answer = Buffer.alloc(0);
    socket.on('error', reject);
    socket.on('data', (d) => {
      answer = Buffer.concat([answer, d]);
      if (answer.length < 4 || answer.length < 4 + answer.readUInt32BE(0)) return;
      const theirs = JSON.parse(answer.subarray(4, 4 + answer.readUInt32BE(0)));
      resolve(theirs.refused ? (socket.destroy(), null) : socket);
    });
  });
}


// Starts `pm2-daemon` for `home` by hand, with `stderr` as its log; resolves once ready.
function startDaemon(home, { stderr = 'ignore', env = {}, prefix = [] } = {}) {
  return new Promise((resolve, reject) => {
    const [cmd, ...args] = [...prefix, DAEMON, '--home', home, '--detach'];
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', stderr], env: { ...process.env, ...env } });
    let out = '';
    child.stdout.on('data', (d) => { out += d; });
    // The daemon forks away; its stdout closes once it has said whether it is ready.
    child.stdout.on('end', () => (out.startsWith('ready') ? resolve() : reject(new Error(`daemon: ${out}`))));
  });
}

// A socket server at `home`/rpc.sock that answers the handshake, then does `after(socket)`.
function fakeDaemon(home, after) {
  const server = net.createServer((socket) => {
    socket.once('data', () => {
      const hello = Buffer.from(JSON.stringify({ hello: 'pm2-rs', protocol: 1, version: 'fake', pid: process.pid }));
      const len = Buffer.alloc(4);
      len.writeUInt32BE(hello.length);
      socket.write(Buffer.concat([len, hello]));
      after(socket);
    });
    socket.on('error', () => {});
  });
  return new Promise((resolve) => server.listen(path.join(home, 'rpc.sock'), () => resolve(server)));
}

// ---------------------------------------------------------------------------
// users and groups

test('uid/gid: an app started with uid "nobody" runs as nobody, with its groups', {
  skip: (!IS_ROOT && 'needs root to switch users') || ONLY_OURS || (process.platform !== 'linux' && 'reads ids and groups from Linux\'s /proc/<pid>/status'),
}, async (t) => {
  const { pm2, dir, writeApp } = await sandbox(t);
  fs.chmodSync(dir, 0o755);
  const script = writeApp('app.js', apps.forever);
  fs.chmodSync(script, 0o644);
  const nobody = Number(execFileSync('id', ['-u', 'nobody']).toString().trim());
  const nogroup = Number(execFileSync('id', ['-g', 'nobody']).toString().trim());
  await call(pm2, 'start', { script, name: 'as-nobody', uid: 'nobody' });
  const [app] = await call(pm2, 'list');
  assert.equal(app.pm2_env.status, 'online');
  assert.deepEqual(procStatus(app.pid, 'Uid'), [nobody, nobody, nobody, nobody]);
  assert.deepEqual(procStatus(app.pid, 'Gid'), [nogroup, nogroup, nogroup, nogroup]);
  assert.ok(!procStatus(app.pid, 'Groups').includes(0), 'root\'s groups are dropped');

  await call(pm2, 'start', { script, name: 'by-number', uid: nobody, gid: 0 });
  const byNumber = (await call(pm2, 'list')).find((p) => p.name === 'by-number');
  assert.equal(procStatus(byNumber.pid, 'Uid')[0], nobody);
  assert.equal(procStatus(byNumber.pid, 'Gid')[0], 0);
});

test('uid/gid: an unknown user or group is refused with a clear error', { skip: ONLY_OURS }, async (t) => {
  const { pm2, writeApp } = await sandbox(t);
  const script = writeApp('app.js', apps.forever);
  const user = errText(await rejection(call(pm2, 'start', { script, name: 'u', uid: 'no-such-user-pm2rs' })));
  assert.match(user, /user "no-such-user-pm2rs"/);
  const group = errText(await rejection(call(pm2, 'start', { script, name: 'g', gid: 'no-such-group-pm2rs' })));
  assert.match(group, /group "no-such-group-pm2rs"/);
  const running = (await call(pm2, 'list')).filter((p) => p.pm2_env.status === 'online');
  assert.equal(running.length, 0, 'nothing runs with the wrong identity');
});

// ---------------------------------------------------------------------------
// limits

test('instances and scale beyond the documented limit are clear errors', { skip: ONLY_OURS }, async (t) => {
  const { pm2, writeApp } = await sandbox(t);
  const script = writeApp('app.js', apps.forever);
  for (const instances of [1e9, 2 ** 32 + 1]) {
    const e = errText(await rejection(call(pm2, 'start', { script, name: 'many', instances, exec_mode: 'fork' })));
    assert.match(e, /"instances" must be at most 4096/);
  }
  assert.equal((await call(pm2, 'list')).length, 0);
  await call(pm2, 'start', { script, name: 'one', exec_mode: 'fork' });
  for (const count of [1e9, 2 ** 32 + 1, '+4294967296']) {
    const e = errText(await rejection(call(pm2, 'scale', 'one', count)));
    assert.match(e, /at most 4096/);
  }
  assert.equal((await call(pm2, 'list')).length, 1);
});

test('an IPC message over the size limit is dropped and reported; the channel keeps working', { skip: ONLY_OURS }, async (t) => {
  const { pm2, home, writeApp } = await sandbox(t);
  const script = writeApp('big.js', [
    "process.send({ type: 'big', data: 'x'.repeat(40 * 1024 * 1024) });",
    "process.send({ type: 'small', data: 1 });",
    'setInterval(() => {}, 1000);',
  ].join('\n'));
  await call(pm2, 'connect');
  const bus = await openBus(t, pm2);
  const seen = [];
  bus.on('big', () => seen.push('big'));
  const small = new Promise((resolve) => bus.on('small', () => { seen.push('small'); resolve(); }));
  await call(pm2, 'start', { script, name: 'big' });
  await withTimeout(small, 20000, 'the message after the oversized one');
  assert.deepEqual(seen, ['small']);
  const log = fs.readFileSync(path.join(home, 'pm2.log'), 'utf8');
  assert.match(log, /IPC message .* exceeds the 33554432 byte limit/);
  assert.equal((await call(pm2, 'list'))[0].pm2_env.status, 'online');
});

test('an axm:monitor value nested deeper than the limit does not wedge the daemon', { skip: ONLY_OURS }, async (t) => {
  const { pm2, home, writeApp } = await sandbox(t);
  const script = writeApp('deep.js', [
    'let v = 1;',
    'for (let i = 0; i < 125; i++) v = { v };',
    "process.send({ type: 'axm:monitor', data: { deep: v } });",
    "process.send({ type: 'axm:monitor', data: { shallow: { value: 1 } } });",
    'setInterval(() => {}, 1000);',
  ].join('\n'));
  await call(pm2, 'start', { script, name: 'deep' });
  const [app] = await waitFor(async () => {
    const list = await call(pm2, 'list');
    return list[0].pm2_env.axm_monitor.shallow && list;
  });
  assert.equal(app.pm2_env.axm_monitor.deep, undefined);
  assert.match(fs.readFileSync(path.join(home, 'pm2.log'), 'utf8'), /nested deeper than 64/);
  await call(pm2, 'stop', 'deep');
});

test('output without a newline is written out in pieces at the line cap', { skip: ONLY_OURS }, async (t) => {
  const { pm2, writeApp, logPath } = await sandbox(t);
  const script = writeApp('noline.js', [
    "const chunk = 'y'.repeat(64 * 1024);",
    'for (let i = 0; i < 40; i++) process.stdout.write(chunk);',
    'setInterval(() => {}, 1000);',
  ].join('\n'));
  await call(pm2, 'start', { script, name: 'noline', time: true });
  await waitFor(() => {
    try { return fs.statSync(logPath('noline-out.log')).size >= 2 * 1024 * 1024; } catch { return false; }
  }, { timeout: 15000, message: 'the unfinished line was never written' });
  const pieces = fs.readFileSync(logPath('noline-out.log'), 'utf8').split('\n').filter(Boolean);
  assert.ok(pieces.every((p) => p.length <= 1024 * 1024 + 64), 'each piece is at most the cap (plus its date)');
});

// ---------------------------------------------------------------------------
// files under PM2_HOME

test('PM2_HOME is tightened to 0700 and every file the daemon writes is 0600', { skip: ONLY_OURS }, async (t) => {
  const { pm2, home, writeApp } = await sandbox(t);
  fs.chmodSync(home, 0o755);
  const script = writeApp('app.js', apps.forever);
  await call(pm2, 'start', { script, name: 'secret', env: { MY_API_TOKEN: 'hunter2' } });
  await call(pm2, 'dump');
  await call(pm2, 'dump');
  assert.equal(fs.statSync(home).mode & 0o777, 0o700);
  const files = ['pm2.pid', 'pm2.log', 'dump.pm2', 'dump.pm2.bak', 'pids/secret-0.pid', 'logs/secret-out.log', 'logs/secret-error.log'];
  await waitFor(() => fs.existsSync(path.join(home, 'process-table.json')));
  files.push('process-table.json');
  for (const f of files) {
    assert.equal((fs.statSync(path.join(home, f)).mode & 0o777).toString(8), '600', f);
  }
  // And whatever else the daemon and its clients keep there: a cluster app's drain script,
  // module settings, the socket, the locks.
  await call(pm2, 'start', { script, name: 'workers', instances: 1, exec_mode: 'cluster' });
  await call(pm2, 'set', 'some-module:key', 'value');
  for (const entry of fs.readdirSync(home, { recursive: true })) {
    const stat = fs.lstatSync(path.join(home, entry));
    const mode = (stat.mode & 0o777).toString(8);
    assert.equal(mode, stat.isDirectory() ? '700' : '600', entry);
  }
});

test('the caller\'s environment is written only where pm2 writes it: dump.pm2, by a dump', async (t) => {
  const { pm2, home, writeApp } = await sandbox(t);
  if (IS_ORIGINAL) pinOriginalPaths(home);
  const script = writeApp('app.js', apps.forever);
  const secret = `caller-secret-${process.pid}-${Date.now()}`;
  process.env.CALLER_TEST_SECRET = secret;
  t.after(() => { delete process.env.CALLER_TEST_SECRET; });
  await call(pm2, 'start', { script, name: 'app', env: { OWN: 'option' } });
  await call(pm2, 'restart', 'app');
  if (!IS_ORIGINAL) {
    // The recovery table is saved shortly after each change: once it shows the restart.
    const table = path.join(home, 'process-table.json');
    await waitFor(() => fs.existsSync(table) && /"restart_time":1/.test(fs.readFileSync(table, 'utf8')));
    assert.match(fs.readFileSync(table, 'utf8'), /"OWN":"option"/, 'the app\'s own env is kept for recovery');
  }
  assert.deepEqual(filesHolding(home, secret), []);
  await call(pm2, 'dump');
  assert.deepEqual(filesHolding(home, secret), ['dump.pm2']);
});

test('symlinks planted under PM2_HOME are not followed when writing', { skip: ONLY_OURS }, async (t) => {
  const { pm2, home, dir, writeApp } = await sandbox(t);
  const victim = path.join(dir, 'victim');
  fs.writeFileSync(victim, 'precious');
  const script = writeApp('app.js', apps.forever);
  await call(pm2, 'start', { script, name: 'app' });
  await call(pm2, 'dump');
  for (const f of ['dump.pm2.bak', 'pids/app-0.pid']) {
    fs.rmSync(path.join(home, f), { force: true });
    fs.symlinkSync(victim, path.join(home, f));
  }
  await call(pm2, 'dump').catch(() => {});
  await call(pm2, 'restart', 'app').catch(() => {});
  await sleep(200);
  assert.equal(fs.readFileSync(victim, 'utf8'), 'precious');
});

test('a full disk: dump fails clearly, keeps both dumps, and works again once space is back', {
  skip: (!IS_ROOT && 'needs root to mount a small tmpfs') || ONLY_OURS,
}, async (t) => {
  const mount = fs.mkdtempSync(path.join(os.tmpdir(), 'pm2-full-'));
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m,mode=0700', 'tmpfs', mount]);
  const home = ownHome(path.join(mount, 'home'));
  const appDir = fs.mkdtempSync(path.join(os.tmpdir(), 'pm2-full-app-'));
  const pm2 = new (impl().custom)({ pm2_home: home, cwd: appDir, daemon_mode: true });
  // The daemon and its apps go before their home's file system does.
  t.after(async () => {
    await disposeClient(pm2, { kill: true });
    await sweepHome(home);
    try { execFileSync('umount', ['-l', mount]); } catch { /* already */ }
    for (const d of [mount, appDir]) fs.rmSync(d, { recursive: true, force: true });
  });
  const script = path.join(appDir, 'app.js');
  fs.writeFileSync(script, "setInterval(() => console.log('tick'), 20);\n");
  await call(pm2, 'connect');
  const bus = await openBus(t, pm2);
  const troubles = [];
  const ofA = (event) => (p) => { if (p.process.name === 'a' && p.data.stream === 'out') troubles.push([event, p.data]); };
  bus.on('log:failed', ofA('failed'));
  bus.on('log:resumed', ofA('resumed'));
  await call(pm2, 'start', { script, name: 'a', env: { PAD: 'p'.repeat(20000) } });
  await call(pm2, 'dump');
  await call(pm2, 'dump');
  const dump = fs.readFileSync(path.join(home, 'dump.pm2'));
  const bak = fs.readFileSync(path.join(home, 'dump.pm2.bak'));

  const filler = path.join(mount, 'filler');
  try { execFileSync('dd', ['if=/dev/zero', `of=${filler}`, 'bs=4k'], { stdio: 'ignore' }); } catch { /* disk full */ }
  await call(pm2, 'start', { script, name: 'b' });
  const e = errText(await rejection(call(pm2, 'dump')));
  assert.match(e, /dump\.pm2.*No space left on device/);
  assert.deepEqual(fs.readFileSync(path.join(home, 'dump.pm2')), dump);
  assert.deepEqual(fs.readFileSync(path.join(home, 'dump.pm2.bak')), bak);
  assert.equal((await call(pm2, 'list')).length, 2, 'the daemon still serves');

  await waitFor(() => troubles.length > 0, { message: 'the failing log was not reported' });
  assert.equal(troubles[0][0], 'failed');
  assert.match(troubles[0][1].error, /a-out\.log: No space left on device/);

  fs.rmSync(filler);
  await waitFor(() => troubles.length > 1, { message: 'the log\'s return was not reported' });
  assert.deepEqual(troubles.map(([event]) => event), ['failed', 'resumed'], 'one report per episode');
  assert.ok(troubles[1][1].lost_bytes > 0);
  assert.match(fs.readFileSync(path.join(home, 'pm2.log'), 'utf8'), /app output is written again to .*a-out\.log \(\d+ bytes were lost\)/);
  await call(pm2, 'dump');
  const saved = JSON.parse(fs.readFileSync(path.join(home, 'dump.pm2'), 'utf8'));
  assert.deepEqual(saved.map((p) => p.name).sort(), ['a', 'b']);
  const before = fs.statSync(path.join(home, 'logs', 'a-out.log')).size;
  await waitFor(() => fs.statSync(path.join(home, 'logs', 'a-out.log')).size > before, { message: 'logging resumed' });
});

test('app output that cannot be written is reported once, on the bus and in pm2.log', { skip: ONLY_OURS }, async (t) => {
  const { pm2, home, writeApp, logPath } = await sandbox(t);
  const script = writeApp('chatty.js', [
    'let n = 0;',
    "setInterval(() => { console.log('lost ' + n); if (++n % 10 === 0) console.error('written ' + n); }, 5);",
  ].join('\n'));
  await call(pm2, 'connect');
  const bus = await openBus(t, pm2);
  const failed = [];
  bus.on('log:failed', (p) => failed.push(p));
  await call(pm2, 'start', { script, name: 'chatty', out_file: '/dev/full' });
  // Twenty lines on stderr: two hundred on stdout could not be written meanwhile.
  await waitFor(() => {
    try { return fs.readFileSync(logPath('chatty-error.log'), 'utf8').split('\n').length > 20; } catch { return false; }
  }, { timeout: 15000, message: 'the app did not run' });
  assert.equal(failed.length, 1, 'one report for the whole episode');
  assert.equal(failed[0].process.name, 'chatty');
  assert.equal(failed[0].data.stream, 'out');
  assert.match(failed[0].data.error, /cannot write \/dev\/full: No space left on device/);
  const lines = fs.readFileSync(path.join(home, 'pm2.log'), 'utf8').split('\n').filter((l) => l.includes('app output is being lost'));
  assert.equal(lines.length, 1);
  assert.equal((await call(pm2, 'list'))[0].pm2_env.status, 'online');
});

test('a daemon whose own log is a full disk keeps serving', {
  skip: ONLY_OURS || (!fs.existsSync('/dev/full') && 'needs Linux\'s /dev/full'),
}, async (t) => {
  const { pm2, home, writeApp } = await sandbox(t);
  const full = fs.openSync('/dev/full', 'w');
  await startDaemon(home, { stderr: full });
  fs.closeSync(full);
  const script = writeApp('app.js', apps.forever);
  await call(pm2, 'start', { script, name: 'on-full-disk' });
  await call(pm2, 'restart', 'on-full-disk');
  await call(pm2, 'stop', 'on-full-disk');
  const [app] = await call(pm2, 'list');
  assert.equal(app.pm2_env.status, 'stopped');
  assert.ok(isAlive(readDaemonPid(home)));
});

test('a daemon that goes away during the handshake is not blamed on an original pm2', { skip: ONLY_OURS }, async (t) => {
  const { pm2, home } = await sandbox(t);
  // The hello is left unread and the socket closed: the client's read is reset, as when a
  // daemon dies with the connection half open.
  const server = await new Promise((resolve) => {
    const s = net.createServer((socket) => {
      socket.pause();
      socket.on('error', () => {});
      setTimeout(() => socket.destroy(), 200);
    });
    s.listen(path.join(home, 'rpc.sock'), () => resolve(s));
  });
  t.after(() => server.close());
  const e = errText(await rejection(call(pm2, 'connect')));
  assert.doesNotMatch(e, /original pm2/);
  assert.match(e, /closed the connection during the handshake/);
});

// ---------------------------------------------------------------------------
// sockets and clients

test('a cluster app does not take over a live unix socket it does not own', { skip: ONLY_OURS }, async (t) => {
  const { pm2, dir, writeApp } = await sandbox(t);
  const sock = path.join(dir, 'service.sock');
  const owner = net.createServer((c) => c.on('error', () => {}).end('owner\n'));
  await new Promise((resolve) => owner.listen(sock, resolve));
  t.after(() => owner.close());
  const script = writeApp('server.js', [
    "const net = require('net');",
    "net.createServer((c) => c.end('intruder\\n')).listen(process.env.SOCK)",
    "  .on('error', (e) => { console.error('listen failed: ' + e.code); });",
    'setInterval(() => {}, 1000);',
  ].join('\n'));
  await call(pm2, 'start', { script, name: 'intruder', instances: 1, exec_mode: 'cluster', env: { SOCK: sock } });
  // Its listen has been tried, and refused, once the app says so.
  const [intruder] = await call(pm2, 'describe', 'intruder');
  const errors = await readFileEventually(intruder.pm2_env.pm_err_log_path, { predicate: (text) => text.includes('listen failed') });
  assert.match(errors, /listen failed: EADDRINUSE/);
  const answer = await new Promise((resolve, reject) => {
    let data = '';
    net.connect(sock).on('data', (d) => { data += d; }).on('end', () => resolve(data)).on('error', reject);
  });
  assert.equal(answer, 'owner\n');
});

test('large answers (48 apps with a 1.5 MB environment each) reach the client', { skip: ONLY_OURS }, async (t) => {
  const { pm2 } = await sandbox(t);
  // One variable may not exceed 128 KiB, nor all of them about 2 MiB, at exec.
  const env = {};
  for (let i = 0; i < 16; i++) env[`BIG_${i}`] = 'e'.repeat(96 * 1024);
  const sleeper = { script: 'sleep', args: ['1000'], interpreter: 'none', exec_mode: 'fork' };
  await call(pm2, 'start', { ...sleeper, name: 'big', instances: 48, env });
  const answer = await call(pm2, 'list');
  assert.equal(answer.length, 48);
  assert.ok(JSON.stringify(answer).length > 64 * 1024 * 1024, 'the answer is larger than a request may be');
  assert.equal(answer[47].pm2_env.env.BIG_15.length, 96 * 1024);
});

test('a request of millions of nested arrays is refused without the daemon growing', { skip: ONLY_OURS }, async (t) => {
  const { pm2, home } = await sandbox(t);
  await call(pm2, 'connect');
  const daemon = readDaemonPid(home);
  const params = Buffer.alloc(64 * 1024 * 1024 - 64, '[],');
  const body = Buffer.concat([Buffer.from('{"id":1,"method":"list","params":['), params.subarray(0, params.length - (params.length % 3) - 1), Buffer.from(']}')]);
  const hello = Buffer.from(JSON.stringify({ hello: 'pm2-rs', protocol: 1, version: 'x', pid: process.pid }));
  const frame = (b) => { const l = Buffer.alloc(4); l.writeUInt32BE(b.length); return Buffer.concat([l, b]); };
  await new Promise((resolve) => {
    const c = net.connect(path.join(home, 'rpc.sock'), () => c.end(Buffer.concat([frame(hello), frame(body)])));
    c.on('close', resolve).on('error', resolve).resume();
  });
  assert.ok(isAlive(daemon));
  const [peakKb] = procStatus(daemon, 'VmHWM');
  assert.ok(peakKb < 300 * 1024, `daemon peak RSS ${peakKb} kB`);
  assert.deepEqual(await call(pm2, 'list'), []);
});

test('past PM2_MAX_CONNECTIONS a new client gets a clear error and the others are still served', { skip: ONLY_OURS }, async (t) => {
  process.env.PM2_MAX_CONNECTIONS = '3';
  t.after(() => { delete process.env.PM2_MAX_CONNECTIONS; });
  const { pm2, home } = await sandbox(t);
  await call(pm2, 'connect'); // starts the daemon, with the limit, and holds one connection
  delete process.env.PM2_MAX_CONNECTIONS;
  const held = [await handshake(home), await handshake(home)];
  assert.ok(held.every(Boolean), 'up to the limit, clients are served');
  assert.equal(await handshake(home), null, 'one more is refused');
  const other = new (impl().custom)({ pm2_home: home, daemon_mode: true });
  t.after(() => disposeClient(other));
  const e = errText(await rejection(call(other, 'connect')));
  assert.match(e, /already serves 3 clients, its limit \(PM2_MAX_CONNECTIONS\)/);
  assert.deepEqual(await call(pm2, 'list'), [], 'those connected are still served');

  for (const s of held) s.destroy();
  await waitFor(async () => (await handshake(home))?.destroy() ?? false, { message: 'a place did not free up' });
  await call(other, 'connect');
  assert.deepEqual(await call(other, 'list'), []);
  const log = fs.readFileSync(path.join(home, 'pm2.log'), 'utf8');
  assert.equal(log.split('\n').filter((l) => l.includes('refusing new clients')).length, 1, 'refusals are logged once per episode');
});

test('a call the daemon never answers fails after PM2_CALL_TIMEOUT with a clear error', { skip: ONLY_OURS }, async (t) => {
  const { pm2, home } = await sandbox(t);
  const server = await fakeDaemon(home, () => {});
  t.after(() => server.close());
  process.env.PM2_CALL_TIMEOUT = '500';
  t.after(() => { delete process.env.PM2_CALL_TIMEOUT; });
  const e = errText(await rejection(withTimeout(call(pm2, 'list'), 10000, 'list')));
  assert.match(e, /did not answer "list" within 0\.5 s/);
});

test('accept errors (out of descriptors) back off instead of spinning', { skip: ONLY_OURS }, async (t) => {
  const { pm2, home } = await sandbox(t);
  const log = fs.openSync(path.join(home, 'pm2.log'), 'a', 0o600);
  await startDaemon(home, { stderr: log, prefix: ['prlimit', '--nofile=64:64'] });
  fs.closeSync(log);
  const sockets = [];
  for (let i = 0; i < 100; i++) {
    const s = net.connect(path.join(home, 'rpc.sock'));
    s.on('error', () => {});
    sockets.push(s);
  }
  await sleep(1500);
  const failures = fs.readFileSync(path.join(home, 'pm2.log'), 'utf8').split('\n').filter((l) => l.includes('accept failed')).length;
  for (const s of sockets) s.destroy();
  assert.ok(failures > 0 && failures < 100, `${failures} accept failures logged`);
  assert.deepEqual(await call(pm2, 'list'), []);
});

// ---------------------------------------------------------------------------
// starting and stopping

test('a NUL byte in env is a clear error and leaves no entry behind', { skip: ONLY_OURS }, async (t) => {
  const { pm2, writeApp } = await sandbox(t);
  const script = writeApp('app.js', apps.forever);
  const e = errText(await rejection(call(pm2, 'start', { script, name: 'nul', env: { BAD: 'a\u0000b' } })));
  assert.match(e, /nul/i);
  assert.deepEqual(await call(pm2, 'list'), []);
});

test('stop reaches an app that left its process group', { skip: ONLY_OURS }, async (t) => {
  const { pm2, dir, writeApp } = await sandbox(t);
  // Joins the daemon's own process group, where the group signal does not reach it.
  const moved = path.join(dir, 'moved');
  const script = writeApp('escape.py', [
    'import os, sys, time',
    'os.setpgid(0, os.getpgid(os.getppid()))',
    "open(sys.argv[1], 'w').write('moved')",
    'while True: time.sleep(1)',
    '',
  ].join('\n'));
  await call(pm2, 'start', { script, name: 'escape', interpreter: 'python3', kill_timeout: 300, args: [moved] });
  const [app] = await call(pm2, 'list');
  t.after(() => { try { process.kill(app.pid, 'SIGKILL'); } catch { /* gone */ } });
  await waitFor(() => fs.existsSync(moved), { message: 'the app did not leave its group' });
  await call(pm2, 'stop', 'escape');
  await waitFor(() => !isAlive(app.pid), { timeout: 5000, message: 'the app survived its stop' });
  assert.equal((await call(pm2, 'list'))[0].pm2_env.status, 'stopped');
});
