'use strict';

// launchBus(): the event bus. Packet shapes of process:event and log:out/log:err, the
// lifecycle events (start, online, exit, stop, restart, delete, restart overlimit), axon
// sub-emitter wildcards, off(), several buses at once (same process, other client,
// other process), pm2:kill and close().

const { test } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { spawn } = require('node:child_process');

const {
  IS_ORIGINAL, implPath, sandbox, call, waitFor, withTimeout, sleep, isAlive, killPid, apps,
  releaseOriginalSockets,
  openBus, closeBus,
  onlineProc,
  record, packetsOf,
} = require('./helpers');

const TEST_TIMEOUT = 60000;


// Every call of a handler registered on `pattern`, as its argument list.
function waitEvent(calls, name, event, { timeout = 20000 } = {}) {
  return waitFor(() => packetsOf(calls, name).find((p) => p.event === event), {
    timeout, message: `process:event "${event}" for ${name} never arrived`,
  });
}

function assertProcessEvent(packet, { name, event }) {
  assert.equal(typeof packet, 'object');
  assert.equal(packet.event, event);
  assert.equal(typeof packet.manually, 'boolean', 'manually is a boolean');
  assert.equal(typeof packet.at, 'number', 'at is a number (ms)');
  assert.ok(packet.at > 1e12, 'at is Date.now()-like');
  assert.equal(typeof packet.process, 'object');
  assert.equal(packet.process.name, name);
  assert.equal(typeof packet.process.pm_id, 'number');
  assert.equal(typeof packet.process.status, 'string');
  assert.ok(!('env' in packet.process), 'process:event packets carry pm2_env without its env key');
}

// ---------------------------------------------------------------------------

test('launchBus answers (err, bus) with on/off/close', { timeout: TEST_TIMEOUT }, async (t) => {
  const { pm2 } = await sandbox(t);
  await call(pm2, 'connect');
  const args = await withTimeout(new Promise((resolve) => {
    pm2.launchBus((...a) => resolve(a));
  }), 20000, 'launchBus');
  const [err, bus] = args;
  t.after(() => closeBus(bus));
  assert.ok(err == null, `no error: ${err}`);
  assert.equal(typeof bus, 'object');
  assert.equal(typeof bus.on, 'function');
  assert.equal(typeof bus.off, 'function');
  assert.equal(typeof bus.close, 'function');
});

test('launchBus calls back before the next setImmediate once connected', { timeout: TEST_TIMEOUT }, async (t) => {
  const { pm2 } = await sandbox(t);
  await call(pm2, 'connect');
  const order = [];
  const bus = await new Promise((resolve, reject) => {
    pm2.launchBus((err, b) => {
      order.push('launchBus');
      if (err) reject(err); else resolve(b);
    });
    setImmediate(() => order.push('setImmediate'));
  });
  t.after(() => closeBus(bus));
  assert.deepEqual(order, ['launchBus']);
});

test('a bus used right after launchBus called back misses no event of the calls that follow', { timeout: TEST_TIMEOUT }, async (t) => {
  const { pm2, writeApp } = await sandbox(t);
  const script = writeApp('steady.js', apps.forever);
  await call(pm2, 'connect');
  const seen = [];
  const bus = await new Promise((resolve, reject) => {
    pm2.launchBus((err, b) => {
      if (err) return reject(err);
      // Subscribed and used at once, as pm2's own tests do; the start goes out right away.
      b.on('process:event', (packet) => seen.push(`${packet.process.name}:${packet.event}`));
      pm2.start({ script, name: 'early' }, () => {});
      resolve(b);
    });
  });
  t.after(() => closeBus(bus));
  await waitFor(() => seen.includes('early:online'), { message: `online never seen: ${seen}` });
  assert.ok(seen.includes('early:start'), `start seen: ${seen}`);
});

test('process:event: start, online, restart, stop, exit with their packet shape', { timeout: TEST_TIMEOUT }, async (t) => {
  const { pm2, writeApp } = await sandbox(t);
  const script = writeApp('ev.js', apps.forever);
  await call(pm2, 'connect');
  const bus = await openBus(t, pm2);
  const calls = record(bus, 'process:event');

  await call(pm2, 'start', { script, name: 'ev' });
  const start = await waitEvent(calls, 'ev', 'start');
  const online = await waitEvent(calls, 'ev', 'online');
  assertProcessEvent(start, { name: 'ev', event: 'start' });
  assertProcessEvent(online, { name: 'ev', event: 'online' });
  assert.equal(start.manually, true, 'start is manual');
  assert.equal(online.manually, false, 'online is not manual');
  assert.equal(start.process.pm_id, 0);

  await onlineProc(pm2, 'ev');
  const before = packetsOf(calls, 'ev').length;
  await call(pm2, 'restart', 'ev');
  const restart = await waitEvent(calls, 'ev', 'restart');
  assertProcessEvent(restart, { name: 'ev', event: 'restart' });
  assert.equal(restart.manually, true, 'restart is manual');
  // the old instance exited and the new one came online
  await waitFor(() => packetsOf(calls, 'ev').slice(before).some((p) => p.event === 'exit'),
    { timeout: 20000, message: 'no exit event on restart' });
  await waitFor(() => packetsOf(calls, 'ev').slice(before).some((p) => p.event === 'online'),
    { timeout: 20000, message: 'no online event on restart' });

  await onlineProc(pm2, 'ev');
  const beforeStop = packetsOf(calls, 'ev').length;
  await call(pm2, 'stop', 'ev');
  const stop = await waitFor(() => packetsOf(calls, 'ev').slice(beforeStop).find((p) => p.event === 'stop'),
    { timeout: 20000, message: 'no stop event' });
  assertProcessEvent(stop, { name: 'ev', event: 'stop' });
  assert.equal(stop.manually, true, 'stop is manual');
  const exit = await waitFor(() => packetsOf(calls, 'ev').slice(beforeStop).find((p) => p.event === 'exit'),
    { timeout: 20000, message: 'no exit event on stop' });
  assertProcessEvent(exit, { name: 'ev', event: 'exit' });
  assert.equal(exit.manually, false, 'exit is not manual');
});

test('process:event: delete', {
  timeout: TEST_TIMEOUT,
  skip: IS_ORIGINAL && "pm2 7.0.4 notifies 'delete' after the entry is gone (notifyByProcessId fails), so it never reaches the bus",
}, async (t) => {
  const { pm2, writeApp } = await sandbox(t);
  const script = writeApp('del.js', apps.forever);
  await call(pm2, 'connect');
  const bus = await openBus(t, pm2);
  const calls = record(bus, 'process:event');
  await call(pm2, 'start', { script, name: 'del' });
  await onlineProc(pm2, 'del');
  await call(pm2, 'delete', 'del');
  const del = await waitEvent(calls, 'del', 'delete');
  assertProcessEvent(del, { name: 'del', event: 'delete' });
  assert.equal(del.manually, true);
});

test('process:event: restart overlimit for an app that keeps crashing', { timeout: TEST_TIMEOUT }, async (t) => {
  const { pm2, writeApp } = await sandbox(t);
  const script = writeApp('crash.js', "console.log('crashing');\nprocess.exit(3);\n");
  await call(pm2, 'connect');
  const bus = await openBus(t, pm2);
  const calls = record(bus, 'process:event');
  await call(pm2, 'start', { script, name: 'crasher', max_restarts: 2, min_uptime: 5000 });
  const over = await waitEvent(calls, 'crasher', 'restart overlimit', { timeout: 30000 });
  assertProcessEvent(over, { name: 'crasher', event: 'restart overlimit' });
  assert.equal(over.process.status, 'errored');
  assert.ok(packetsOf(calls, 'crasher').some((p) => p.event === 'exit'), 'each crash is an exit event');
  const list = await call(pm2, 'list');
  assert.equal(list.find((p) => p.name === 'crasher').pm2_env.status, 'errored');
});

test('log:out and log:err reproduce the app output exactly and in order', { timeout: TEST_TIMEOUT }, async (t) => {
  const { pm2, writeApp } = await sandbox(t);
  const N = 300;
  const M = 120;
  const script = writeApp('chatty.js', [
    `for (let i = 0; i < ${N}; i++) console.log('out-line-' + i);`,
    `for (let i = 0; i < ${M}; i++) console.error('err-line-' + i);`,
    "process.stdout.write('partial ');",
    "process.stdout.write('then end\\n');",
    'setInterval(() => {}, 1000);',
    '',
  ].join('\n'));
  let expectedOut = '';
  for (let i = 0; i < N; i++) expectedOut += `out-line-${i}\n`;
  expectedOut += 'partial then end\n';
  let expectedErr = '';
  for (let i = 0; i < M; i++) expectedErr += `err-line-${i}\n`;

  await call(pm2, 'connect');
  const bus = await openBus(t, pm2);
  const outs = record(bus, 'log:out');
  const errs = record(bus, 'log:err');
  await call(pm2, 'start', { script, name: 'chatty' });

  const joined = (calls) => calls.map((a) => a[0]).filter((p) => p.process && p.process.name === 'chatty')
    .map((p) => p.data).join('');
  await waitFor(() => joined(outs).length >= expectedOut.length && joined(errs).length >= expectedErr.length,
    { timeout: 20000, message: 'not all output arrived on the bus' });
  assert.equal(joined(outs), expectedOut);
  assert.equal(joined(errs), expectedErr);

  const p = outs.map((a) => a[0]).find((x) => x.process && x.process.name === 'chatty');
  assert.equal(typeof p.data, 'string');
  assert.equal(typeof p.at, 'number');
  assert.equal(p.process.pm_id, 0);
  assert.equal(p.process.name, 'chatty');
  assert.ok('namespace' in p.process, 'log packets name the namespace');
});

test("wildcards: '*', 'process:*' and 'log:*' pass what they matched first", { timeout: TEST_TIMEOUT }, async (t) => {
  const { pm2, writeApp } = await sandbox(t);
  const script = writeApp('wild.js', [
    "console.log('to-stdout');",
    "console.error('to-stderr');",
    "process.send({ type: 'process:msg', data: { from: 'wild' } });",
    'setInterval(() => {}, 1000);',
    '',
  ].join('\n'));
  await call(pm2, 'connect');
  const bus = await openBus(t, pm2);
  const all = record(bus, '*');
  const proc = record(bus, 'process:*');
  const logs = record(bus, 'log:*');
  const exact = record(bus, 'process:msg');
  const two = record(bus, '*:*');
  await call(pm2, 'start', { script, name: 'wild' });

  const fromWild = (p) => p && p.process && p.process.name === 'wild';
  await waitFor(() => all.some(([ev, p]) => ev === 'log:out' && fromWild(p))
      && all.some(([ev, p]) => ev === 'log:err' && fromWild(p))
      && all.some(([ev, p]) => ev === 'process:msg' && fromWild(p))
      && all.some(([ev, p]) => ev === 'process:event' && fromWild(p)),
  { timeout: 20000, message: "'*' did not see log:out, log:err, process:msg and process:event" });

  for (const args of all) {
    assert.equal(args.length, 2, "'*' handlers get (event, packet)");
    assert.equal(typeof args[0], 'string');
  }
  await waitFor(() => proc.some(([rest, p]) => rest === 'event' && fromWild(p))
    && proc.some(([rest, p]) => rest === 'msg' && fromWild(p)), { timeout: 10000, message: "'process:*' incomplete" });
  for (const args of proc) {
    assert.equal(args.length, 2, "'process:*' handlers get (rest, packet)");
    assert.ok(!args[0].startsWith('process:'), `'process:*' passes only the matched part, got ${args[0]}`);
  }
  await waitFor(() => logs.some(([type, p]) => type === 'out' && fromWild(p))
    && logs.some(([type, p]) => type === 'err' && fromWild(p)), { timeout: 10000, message: "'log:*' incomplete" });
  for (const args of logs) assert.equal(args.length, 2, "'log:*' handlers get (type, packet)");
  const out = logs.find(([type, p]) => type === 'out' && fromWild(p))[1];
  assert.match(out.data, /to-stdout/);

  // every '*' is one leading argument
  await waitFor(() => two.some(([a, b, p]) => a === 'log' && b === 'out' && fromWild(p)),
    { timeout: 10000, message: "'*:*' did not get ('log', 'out', packet)" });
  for (const args of two) assert.equal(args.length, 3, "'*:*' handlers get (first, second, packet)");

  // an exact pattern gets the packet alone
  await waitFor(() => exact.some((a) => fromWild(a[0])), { timeout: 10000, message: 'process:msg never delivered' });
  const msg = exact.find((a) => fromWild(a[0]));
  assert.equal(msg.length, 1);
  assert.deepEqual(msg[0].data, { from: 'wild' });
});

test('off(pattern) stops delivery for that pattern only', { timeout: TEST_TIMEOUT }, async (t) => {
  const { pm2, writeApp } = await sandbox(t);
  const script = writeApp('offapp.js', apps.forever);
  await call(pm2, 'connect');
  const bus = await openBus(t, pm2);
  const removed = record(bus, 'process:event');
  const kept = record(bus, 'process:*');
  await call(pm2, 'start', { script, name: 'offapp' });
  await waitEvent(removed, 'offapp', 'online');
  await onlineProc(pm2, 'offapp');

  bus.off('process:event');
  const removedBefore = removed.length;
  const keptBefore = kept.length;
  await call(pm2, 'restart', 'offapp');
  await waitFor(() => kept.slice(keptBefore).some(([rest, p]) => rest === 'event' && p.event === 'restart'),
    { timeout: 20000, message: "'process:*' listener stopped receiving after off('process:event')" });
  await waitFor(() => kept.slice(keptBefore).some(([rest, p]) => rest === 'event' && p.event === 'online'),
    { timeout: 20000, message: 'no online after restart' });
  await sleep(300);
  assert.equal(removed.length, removedBefore, 'no delivery after off()');
});

test('several buses in one process each get every event', { timeout: TEST_TIMEOUT }, async (t) => {
  const { pm2, home, writeApp } = await sandbox(t);
  const script = writeApp('multi.js', "console.log('multi-line');\nsetInterval(() => {}, 1000);\n");
  await call(pm2, 'connect');
  const busA = await openBus(t, pm2);
  const busB = await openBus(t, pm2);

  // a second client object in the same process, attached to the same daemon
  const PM2 = pm2.constructor;
  const other = new PM2({ pm2_home: home, daemon_mode: true });
  t.after(async () => {
    await withTimeout(new Promise((resolve) => {
      try { other.disconnect(() => resolve()); } catch { resolve(); }
    }), 5000, 'disconnect other').catch(() => {});
    if (IS_ORIGINAL) releaseOriginalSockets(other);
  });
  await call(other, 'connect');
  const busC = await openBus(t, other);

  const recs = [busA, busB, busC].map((bus) => ({
    events: record(bus, 'process:event'),
    outs: record(bus, 'log:out'),
  }));
  await call(pm2, 'start', { script, name: 'multi' });
  for (const [i, r] of recs.entries()) {
    await waitEvent(r.events, 'multi', 'start');
    await waitEvent(r.events, 'multi', 'online');
    await waitFor(() => r.outs.map((a) => a[0]).filter((p) => p.process.name === 'multi')
      .map((p) => p.data).join('').includes('multi-line'), { timeout: 20000, message: `bus ${i} missed log:out` });
  }
});

test('a bus in another process gets the events too', { timeout: TEST_TIMEOUT }, async (t) => {
  const { pm2, home, dir, writeApp, track } = await sandbox(t);
  const script = writeApp('remote.js', "console.log('hello-from-app');\nsetInterval(() => {}, 1000);\n");
  const listener = writeApp('listener.js', [
    "'use strict';",
    'const [implFile, home, appName] = process.argv.slice(2);',
    'const PM2 = require(implFile).custom;',
    'const pm2 = new PM2({ pm2_home: home, daemon_mode: true });',
    'function done(result) { process.stdout.write(JSON.stringify(result) + "\\n", () => process.exit(0)); }',
    'pm2.connect((err) => {',
    '  if (err) { console.error(String(err)); process.exit(2); }',
    '  pm2.launchBus((err2, bus) => {',
    '    if (err2) { console.error(String(err2)); process.exit(3); }',
    '    const seen = { events: [], out: "" };',
    '    const check = () => {',
    '      if (seen.events.includes("start") && seen.events.includes("online") && seen.out.includes("hello-from-app")) done(seen);',
    '    };',
    '    bus.on("process:event", (p) => { if (p.process.name === appName) { seen.events.push(p.event); check(); } });',
    '    bus.on("log:out", (p) => { if (p.process.name === appName) { seen.out += p.data; check(); } });',
    '    process.stdout.write("READY\\n");',
    '  });',
    '});',
    '',
  ].join('\n'));

  await call(pm2, 'connect');
  const local = await openBus(t, pm2);
  const localEvents = record(local, 'process:event');

  const env = { ...process.env };
  delete env.NODE_TEST_CONTEXT;
  const child = spawn(process.execPath, [listener, implPath(), home, 'remote'], { cwd: dir, env, stdio: ['ignore', 'pipe', 'pipe'] });
  track(child.pid);
  t.after(() => { if (child.exitCode === null && child.signalCode === null) killPid(child.pid); });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => { stdout += d; });
  child.stderr.on('data', (d) => { stderr += d; });
  const exited = new Promise((resolve) => child.on('exit', (code) => resolve(code)));

  await waitFor(() => stdout.includes('READY\n') || child.exitCode !== null,
    { timeout: 20000, message: 'listener process never opened its bus' });
  assert.ok(stdout.includes('READY\n'), `listener failed: ${stderr}`);

  await call(pm2, 'start', { script, name: 'remote' });
  const code = await withTimeout(exited, 30000, 'listener process waiting for events');
  assert.equal(code, 0, `listener exit code (stderr: ${stderr})`);
  const result = JSON.parse(stdout.split('\n').filter((l) => l.startsWith('{')).pop());
  assert.ok(result.events.includes('start'));
  assert.ok(result.events.includes('online'));
  assert.match(result.out, /hello-from-app/);
  // and the local bus got them as well
  await waitEvent(localEvents, 'remote', 'start');
  await waitEvent(localEvents, 'remote', 'online');
});

test('pm2:kill is broadcast when the daemon is killed', { timeout: TEST_TIMEOUT }, async (t) => {
  const { pm2, home, writeApp } = await sandbox(t);
  const script = writeApp('victim.js', apps.forever);
  await call(pm2, 'connect');
  await call(pm2, 'start', { script, name: 'victim' });
  const proc = await onlineProc(pm2, 'victim');
  const bus = await openBus(t, pm2);
  const kills = record(bus, 'pm2:kill');
  await withTimeout(call(pm2, 'killDaemon'), 30000, 'killDaemon');
  const [packet] = await waitFor(() => kills[0], { timeout: 10000, message: 'pm2:kill never arrived' });
  assert.equal(kills[0].length, 1);
  assert.equal(packet.status, 'killed');
  assert.equal(typeof packet.msg, 'string');
  await waitFor(() => !isAlive(proc.pid), { timeout: 10000, message: 'app survived killDaemon' });
  assert.ok(!fs.existsSync(path.join(home, 'pm2.pid')) || !isAlive(Number(fs.readFileSync(path.join(home, 'pm2.pid'), 'utf8'))));
});

test('bus.close() ends delivery to that bus only', { timeout: TEST_TIMEOUT }, async (t) => {
  const { pm2, writeApp } = await sandbox(t);
  const script = writeApp('closeapp.js', apps.forever);
  await call(pm2, 'connect');
  const closing = await openBus(t, pm2);
  const staying = await openBus(t, pm2);
  const closedCalls = record(closing, '*');
  const stayCalls = record(staying, 'process:event');
  await call(pm2, 'start', { script, name: 'closeapp' });
  await waitFor(() => closedCalls.some(([ev, p]) => ev === 'process:event' && p.process.name === 'closeapp'),
    { timeout: 20000, message: 'bus never received anything before close' });
  await onlineProc(pm2, 'closeapp');

  await closeBus(closing);
  await sleep(200);
  const frozen = closedCalls.length;
  const before = stayCalls.length;
  await call(pm2, 'restart', 'closeapp');
  await waitFor(() => stayCalls.slice(before).some((a) => a[0].event === 'online'),
    { timeout: 20000, message: 'open bus missed the restart' });
  await sleep(300);
  assert.equal(closedCalls.length, frozen, 'a closed bus receives nothing more');
});
