'use strict';

// Messaging with apps: the seed's pm2-call.js / pm2-app.js pair, sendDataToProcessId,
// what apps send (process:msg, custom types, human:event, process:exception), signals,
// stdin lines, wait_ready / listen_timeout, shutdown_with_message / PM2_KILL_USE_MESSAGE,
// trigger() of @pm2/io actions, and apps that flood or garble their IPC channel.
// Every app here is a plain Node script: no @pm2/io, only process.send / process.on.

const { test } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { spawn } = require('node:child_process');

const {
  IS_ORIGINAL, implPath, sandbox, call, waitFor, withTimeout, sleep, isAlive, errText, readFileEventually, apps,
  openBus, closeBus,
  procByName, onlineProc, rejection,
  record, packetsOf,
} = require('./helpers');

const TEST_TIMEOUT = 60000;


// The original's trigger() opens a bus of its own and never closes it; close it so the
// test process can exit once the daemon is gone. Nothing to do for the implementation
// under test (its trigger closes what it opens).
function releaseTriggerBus(pm2) {
  if (!IS_ORIGINAL) return;
  const sock = pm2.Client && pm2.Client.sub_sock;
  if (sock && typeof sock.close === 'function') {
    try { sock.close(); } catch { /* ignore */ }
  }
}

function assertError(err, re) {
  assert.ok(err instanceof Error, `an Error, got ${typeof err}`);
  assert.match(errText(err), re);
}

// Answers every message by sending it back whole as a process:msg.
const ECHO_APP = [
  "process.on('message', (packet) => {",
  "  process.send({ type: 'process:msg', data: { echo: packet } });",
  '});',
  'setInterval(() => {}, 1000);',
  '',
].join('\n');

// ---------------------------------------------------------------------------
// the seed pair

// pm2-app.js, verbatim from the seed documentation.
const SEED_APP = `process.on('message', (packet) => {
  process.send({
    type: 'process:msg',
    data: {
     success: true
    }
 })
})
`;

test('seed pair: sendDataToProcessId reaches pm2-app.js, its answer comes back on the bus', { timeout: TEST_TIMEOUT }, async (t) => {
  const { pm2, writeApp } = await sandbox(t);
  const script = writeApp('pm2-app.js', SEED_APP);
  await call(pm2, 'connect');
  const [proc1] = await call(pm2, 'start', { script, name: 'pm2-app' });

  // pm2-call.js, as a test: the bus (named pm2_bus in the seed) first, then the message.
  const got = new Promise((resolve, reject) => {
    pm2.launchBus((err, bus) => {
      if (err) return reject(err);
      t.after(() => closeBus(bus));
      bus.on('process:msg', (packet) => {
        resolve(packet);
      });
      pm2.sendDataToProcessId({
        type: 'process:msg',
        data: {
          some: 'data',
          hello: true,
        },
        id: 0,
        topic: 'some topic',
      }, (err2) => {
        if (err2) reject(err2);
      });
      return undefined;
    });
  });
  const packet = await withTimeout(got, 20000, 'answer of pm2-app.js');
  assert.equal(packet.data.success, true);
  assert.equal(packet.process.pm_id, proc1.pm2_env.pm_id);
});

// ---------------------------------------------------------------------------
// sendDataToProcessId

test('sendDataToProcessId(id, packet) and (packet): {success, data}, the packet arrives whole', { timeout: TEST_TIMEOUT }, async (t) => {
  const { pm2, writeApp } = await sandbox(t);
  const script = writeApp('echo.js', ECHO_APP);
  await call(pm2, 'connect');
  const bus = await openBus(t, pm2);
  const msgs = record(bus, 'process:msg');
  await call(pm2, 'start', { script, name: 'echo' });
  await onlineProc(pm2, 'echo');

  const res1 = await call(pm2, 'sendDataToProcessId', 0, { topic: 'first', data: { n: 1, nested: { deep: [1, 2, 3] } }, type: 'process:msg' });
  assert.equal(res1.success, true);
  assert.deepEqual(res1.data, { id: 0, topic: 'first', data: { n: 1, nested: { deep: [1, 2, 3] } }, type: 'process:msg' });

  const packet2 = { id: 0, topic: 'second', data: 'plain string', extra: 42 };
  const res2 = await call(pm2, 'sendDataToProcessId', packet2);
  assert.equal(res2.success, true);
  assert.deepEqual(res2.data, packet2);

  const echoes = () => packetsOf(msgs, 'echo').map((p) => p.data && p.data.echo).filter(Boolean);
  await waitFor(() => echoes().length >= 2, { timeout: 20000, message: 'the app did not echo both packets' });
  const [e1, e2] = echoes();
  assert.deepEqual(e1, { id: 0, topic: 'first', data: { n: 1, nested: { deep: [1, 2, 3] } }, type: 'process:msg' });
  assert.deepEqual(e2, packet2);

  const p = packetsOf(msgs, 'echo')[0];
  assert.equal(p.process.pm_id, 0);
  assert.equal(p.process.name, 'echo');
  assert.equal(typeof p.at, 'number');
});

test('sendDataToProcessId: missing id/data/topic, unknown id and a stopped app are errors', { timeout: TEST_TIMEOUT }, async (t) => {
  const { pm2, writeApp } = await sandbox(t);
  const script = writeApp('echo.js', ECHO_APP);
  const other = writeApp('other.js', ECHO_APP);
  await call(pm2, 'connect');
  await call(pm2, 'start', { script, name: 'echo' });
  await call(pm2, 'start', { script: other, name: 'other' });
  await onlineProc(pm2, 'echo');

  const missing = /(id|data|topic).*missing|missing.*(id|data|topic)/i;
  assertError(await rejection(call(pm2, 'sendDataToProcessId', { data: { a: 1 }, topic: 't' })), missing);
  assertError(await rejection(call(pm2, 'sendDataToProcessId', { id: 0, topic: 't' })), missing);
  assertError(await rejection(call(pm2, 'sendDataToProcessId', { id: 0, data: { a: 1 } })), missing);
  assertError(await rejection(call(pm2, 'sendDataToProcessId', 0, { data: { a: 1 } })), missing);

  assertError(await rejection(call(pm2, 'sendDataToProcessId', { id: 42, data: { a: 1 }, topic: 't' })), /unknown|not found/i);

  await call(pm2, 'stop', 'echo');
  assertError(await rejection(call(pm2, 'sendDataToProcessId', { id: 0, data: { a: 1 }, topic: 't' })), /offline|not online|stopped/i);

  // the daemon keeps serving the other app
  const ok = await call(pm2, 'sendDataToProcessId', { id: 1, data: { a: 1 }, topic: 't' });
  assert.equal(ok.success, true);
});

// ---------------------------------------------------------------------------
// what apps send

test('app messages: raw values, process:msg, custom types, human:event, process:exception', { timeout: TEST_TIMEOUT }, async (t) => {
  const { pm2, writeApp } = await sandbox(t);
  const script = writeApp('talker.js', [
    "process.send('hello');",
    "process.send({ no: 'type here' });",
    "process.send({ type: 'process:msg', data: { greeting: 'hi' } });",
    "process.send({ type: 'custom:thing', data: { answer: 42 } });",
    "process.send({ type: 'human:event', data: { __name: 'deploy-done', user: 'alice' } });",
    "process.send({ type: 'process:exception', data: { message: 'handled-failure', name: 'Error', stack: 'Error: handled-failure' } });",
    'setInterval(() => {}, 1000);',
    '',
  ].join('\n'));
  await call(pm2, 'connect');
  const bus = await openBus(t, pm2);
  const all = record(bus, '*');
  await call(pm2, 'start', { script, name: 'talker' });

  const of = (event) => all.filter(([ev, p]) => ev === event && p && p.process && p.process.name === 'talker').map((a) => a[1]);
  await waitFor(() => of('process:msg').length >= 3 && of('custom:thing').length && of('human:event').length
    && of('process:exception').length, { timeout: 20000, message: 'not every app message reached the bus' });

  const msgs = of('process:msg');
  const hello = msgs.find((p) => p.raw === 'hello');
  assert.ok(hello, 'a string message is a process:msg with raw');
  assert.equal(hello.process.pm_id, 0);
  assert.equal(typeof hello.at, 'number');
  assert.ok(!('data' in hello) || hello.data === undefined);
  const untyped = msgs.find((p) => p.raw && typeof p.raw === 'object');
  assert.deepEqual(untyped.raw, { no: 'type here' });
  const typed = msgs.find((p) => p.data);
  assert.deepEqual(typed.data, { greeting: 'hi' });

  const [custom] = of('custom:thing');
  assert.deepEqual(custom.data, { answer: 42 });
  assert.equal(custom.process.pm_id, 0);
  assert.equal(typeof custom.at, 'number');

  const [human] = of('human:event');
  assert.deepEqual(human.data, { __name: 'deploy-done', user: 'alice' });

  const [exc] = of('process:exception');
  assert.equal(exc.data.message, 'handled-failure');
});

test('process:exception for an uncaught exception and an unhandled rejection in a plain app', { timeout: TEST_TIMEOUT }, async (t) => {
  const { pm2, writeApp } = await sandbox(t);
  const thrower = writeApp('thrower.js', "setTimeout(() => { throw new Error('boom-uncaught'); }, 300);\n");
  const rejecter = writeApp('rejecter.js', [
    "setTimeout(() => { Promise.reject(new Error('boom-rejected')); }, 300);",
    'setInterval(() => {}, 1000);',
    '',
  ].join('\n'));
  await call(pm2, 'connect');
  const bus = await openBus(t, pm2);
  const excs = record(bus, 'process:exception');
  await call(pm2, 'start', { script: thrower, name: 'thrower', autorestart: false });
  await call(pm2, 'start', { script: rejecter, name: 'rejecter', autorestart: false });

  const first = (name) => packetsOf(excs, name)[0];
  await waitFor(() => first('thrower') && first('rejecter'), { timeout: 20000, message: 'process:exception missing' });
  for (const [name, message] of [['thrower', 'boom-uncaught'], ['rejecter', 'boom-rejected']]) {
    const p = first(name);
    assert.equal(typeof p.at, 'number');
    assert.equal(typeof p.process.pm_id, 'number');
    assert.equal(p.data.message, message);
    assert.equal(p.data.name, 'Error');
    assert.match(p.data.stack, new RegExp(`Error: ${message}`));
  }
});

test('an unhandled rejection is reported, and the app keeps running as under pm2', { timeout: TEST_TIMEOUT }, async (t) => {
  // pm2 reports rejections without ending the app (its fork-mode agent and its cluster
  // container both handle 'unhandledRejection'); an app that survives a stray rejection
  // under pm2 must not start crash-looping under a drop-in.
  const { pm2, writeApp } = await sandbox(t);
  const script = writeApp('rejecting.js', [
    "setTimeout(() => { Promise.reject(new Error('stray-rejection')); }, 300);",
    'setInterval(() => {}, 1000);',
    '',
  ].join('\n'));
  await call(pm2, 'connect');
  const bus = await openBus(t, pm2);
  const excs = record(bus, 'process:exception');
  const events = record(bus, 'process:event');
  await call(pm2, 'start', { script, name: 'rejecting' });
  const before = await onlineProc(pm2, 'rejecting');
  await waitFor(() => packetsOf(excs, 'rejecting').length > 0, { timeout: 20000, message: 'no process:exception' });
  assert.equal(packetsOf(excs, 'rejecting')[0].data.message, 'stray-rejection');
  await sleep(1500);
  const after = await onlineProc(pm2, 'rejecting');
  assert.equal(after.pid, before.pid, 'same process');
  assert.equal(after.pm2_env.restart_time, 0, 'not restarted');
  assert.ok(!packetsOf(events, 'rejecting').some((p) => p.event === 'exit'), 'no exit event');
});

// ---------------------------------------------------------------------------
// signals

const SIGNAL_APP = [
  "const fs = require('fs');",
  'const out = process.argv[2];',
  "process.on('SIGUSR2', () => fs.appendFileSync(out, 'SIGUSR2\\n'));",
  "fs.writeFileSync(out + '.ready', 'ok');",
  'setInterval(() => {}, 1000);',
  '',
].join('\n');

test('sendSignalToProcessName and sendSignalToProcessId deliver the signal', { timeout: TEST_TIMEOUT }, async (t) => {
  const { pm2, dir, writeApp } = await sandbox(t);
  const script = writeApp('sig.js', SIGNAL_APP);
  const marker = path.join(dir, 'sig.txt');
  await call(pm2, 'connect');
  await call(pm2, 'start', { script, name: 'sig', args: [marker] });
  await readFileEventually(`${marker}.ready`);
  const before = await onlineProc(pm2, 'sig');

  const byName = await call(pm2, 'sendSignalToProcessName', 'SIGUSR2', 'sig');
  assert.ok(Array.isArray(byName), 'answers the process list');
  await readFileEventually(marker, { predicate: (c) => c === 'SIGUSR2\n' });

  const byId = await call(pm2, 'sendSignalToProcessId', 'SIGUSR2', 0);
  assert.ok(Array.isArray(byId), 'answers the process list');
  await readFileEventually(marker, { predicate: (c) => c === 'SIGUSR2\nSIGUSR2\n' });

  const after = await onlineProc(pm2, 'sig');
  assert.equal(after.pid, before.pid, 'a trapped signal does not restart the app');
});

test('sendSignalToProcessName signals every instance of the app', { timeout: TEST_TIMEOUT }, async (t) => {
  const { pm2, dir, writeApp } = await sandbox(t);
  const script = writeApp('sigs.js', [
    "const fs = require('fs');",
    "const out = process.argv[2] + '.' + process.env.NODE_APP_INSTANCE;",
    "process.on('SIGUSR2', () => fs.appendFileSync(out, 'SIGUSR2\\n'));",
    "fs.writeFileSync(out + '.ready', 'ok');",
    'setInterval(() => {}, 1000);',
    '',
  ].join('\n'));
  const marker = path.join(dir, 'sigs');
  await call(pm2, 'connect');
  await call(pm2, 'start', { script, name: 'sigs', instances: 2, exec_mode: 'fork', args: [marker] });
  await readFileEventually(`${marker}.0.ready`);
  await readFileEventually(`${marker}.1.ready`);
  await call(pm2, 'sendSignalToProcessName', 'SIGUSR2', 'sigs');
  await readFileEventually(`${marker}.0`, { predicate: (c) => c === 'SIGUSR2\n' });
  await readFileEventually(`${marker}.1`, { predicate: (c) => c === 'SIGUSR2\n' });
});

test('signals: unknown signal name, unknown id and unknown name are errors', { timeout: TEST_TIMEOUT }, async (t) => {
  const { pm2, dir, writeApp } = await sandbox(t);
  const script = writeApp('sig.js', SIGNAL_APP);
  const marker = path.join(dir, 'sig.txt');
  await call(pm2, 'connect');
  await call(pm2, 'start', { script, name: 'sig', args: [marker] });
  await readFileEventually(`${marker}.ready`);
  const before = await onlineProc(pm2, 'sig');

  const badSignal = /signal/i;
  assertError(await rejection(call(pm2, 'sendSignalToProcessId', 'SIGNOTREAL', 0)), badSignal);
  assertError(await rejection(call(pm2, 'sendSignalToProcessName', 'SIGNOTREAL', 'sig')), badSignal);
  assertError(await rejection(call(pm2, 'sendSignalToProcessId', 'SIGUSR2', 42)), /unknown|not found/i);
  assertError(await rejection(call(pm2, 'sendSignalToProcessName', 'SIGUSR2', 'no-such-app')), /unknown|not found/i);

  const after = await onlineProc(pm2, 'sig');
  assert.equal(after.pid, before.pid, 'the app was not touched');
  assert.ok(!fs.existsSync(marker), 'no signal was delivered');
});

// ---------------------------------------------------------------------------
// stdin

test('sendLineToStdin writes lines (with the separator) to the app stdin', { timeout: TEST_TIMEOUT }, async (t) => {
  const { pm2, dir, writeApp } = await sandbox(t);
  const script = writeApp('reader.js', [
    "const fs = require('fs');",
    'const out = process.argv[2];',
    "const rl = require('readline').createInterface({ input: process.stdin });",
    "rl.on('line', (line) => fs.appendFileSync(out, line + '\\n'));",
    'setInterval(() => {}, 1000);',
    '',
  ].join('\n'));
  const out = path.join(dir, 'stdin.txt');
  await call(pm2, 'connect');
  await call(pm2, 'start', { script, name: 'reader', args: [out] });
  await onlineProc(pm2, 'reader');

  await call(pm2, 'sendLineToStdin', 0, 'first line');
  await readFileEventually(out, { predicate: (c) => c === 'first line\n' });
  await call(pm2, 'sendLineToStdin', 0, 'second');
  await call(pm2, 'sendLineToStdin', 0, 'third', '|\n');
  await readFileEventually(out, { predicate: (c) => c === 'first line\nsecond\nthird|\n' });

  assertError(await rejection(call(pm2, 'sendLineToStdin', 42, 'nobody')), /unknown|not found/i);
  await call(pm2, 'stop', 'reader');
  assertError(await rejection(call(pm2, 'sendLineToStdin', 0, 'too late')), /offline|not online|stopped/i);
});

// ---------------------------------------------------------------------------
// readiness

test("wait_ready: launching until the app sends 'ready', then online", { timeout: TEST_TIMEOUT }, async (t) => {
  const { pm2, dir, writeApp } = await sandbox(t);
  const script = writeApp('slow.js', [
    "const fs = require('fs');",
    'setTimeout(() => {',
    "  fs.writeFileSync(process.argv[2], 'sent');",
    "  process.send('ready');",
    '}, 1500);',
    'setInterval(() => {}, 1000);',
    '',
  ].join('\n'));
  const marker = path.join(dir, 'ready-sent');
  await call(pm2, 'connect');
  const bus = await openBus(t, pm2);
  const msgs = record(bus, 'process:msg');

  const started = call(pm2, 'start', { script, name: 'slow', wait_ready: true, listen_timeout: 15000, args: [marker] });
  started.catch(() => {});
  const firstSeen = await waitFor(async () => {
    const p = await procByName(pm2, 'slow');
    return p && p.pm2_env.status;
  }, { timeout: 10000, interval: 50, message: 'app never listed' });
  assert.equal(firstSeen, 'launching');
  assert.ok(!fs.existsSync(marker), 'still launching before the app said ready');
  // a launching app already takes messages
  const sent = await call(pm2, 'sendDataToProcessId', { id: 0, topic: 'early', data: { while: 'launching' } });
  assert.equal(sent.success, true);

  const online = await onlineProc(pm2, 'slow', { timeout: 20000 });
  assert.ok(fs.existsSync(marker), 'online only after the ready message');
  assert.equal(online.pm2_env.status, 'online');
  await withTimeout(started, 20000, 'start with wait_ready');
  await waitFor(() => packetsOf(msgs, 'slow').some((p) => p.raw === 'ready'),
    { timeout: 10000, message: "the 'ready' message is a process:msg on the bus" });
});

test('wait_ready without a ready message goes online after listen_timeout', { timeout: TEST_TIMEOUT }, async (t) => {
  const { pm2, writeApp } = await sandbox(t);
  const script = writeApp('silent.js', apps.forever);
  await call(pm2, 'connect');
  const started = call(pm2, 'start', { script, name: 'silent', wait_ready: true, listen_timeout: 2500 });
  started.catch(() => {});
  const firstSeen = await waitFor(async () => {
    const p = await procByName(pm2, 'silent');
    return p && p.pm2_env.status;
  }, { timeout: 10000, interval: 50, message: 'app never listed' });
  assert.equal(firstSeen, 'launching');
  const res = await withTimeout(started, 20000, 'start with wait_ready and listen_timeout');
  assert.ok(Array.isArray(res));
  const p = await onlineProc(pm2, 'silent', { timeout: 20000 });
  assert.ok(isAlive(p.pid));
});

// ---------------------------------------------------------------------------
// stopping by message

const SHUTDOWN_APP = [
  "const fs = require('fs');",
  'const out = process.argv[2];',
  'const exitOnShutdown = process.argv[3] !== "stay";',
  "process.on('message', (m) => {",
  "  if (m !== 'shutdown') return;",
  "  fs.appendFileSync(out, 'shutdown\\n');",
  '  if (exitOnShutdown) process.exit(0);',
  '});',
  "process.on('SIGINT', () => fs.appendFileSync(out + '.sigint', 'SIGINT\\n'));",
  "fs.writeFileSync(out + '.ready', 'ok');",
  'setInterval(() => {}, 1000);',
  '',
].join('\n');

test("shutdown_with_message: stop sends 'shutdown' instead of a signal", { timeout: TEST_TIMEOUT }, async (t) => {
  const { pm2, dir, writeApp } = await sandbox(t);
  const script = writeApp('graceful.js', SHUTDOWN_APP);
  const out = path.join(dir, 'graceful.txt');
  await call(pm2, 'connect');
  await call(pm2, 'start', { script, name: 'graceful', shutdown_with_message: true, args: [out] });
  await readFileEventually(`${out}.ready`);
  const p = await onlineProc(pm2, 'graceful');
  await withTimeout(call(pm2, 'stop', 'graceful'), 20000, 'stop');
  assert.equal(fs.readFileSync(out, 'utf8'), 'shutdown\n');
  assert.ok(!fs.existsSync(`${out}.sigint`), 'no SIGINT was sent');
  await waitFor(() => !isAlive(p.pid), { timeout: 10000, message: 'app still alive after stop' });
  assert.equal((await procByName(pm2, 'graceful')).pm2_env.status, 'stopped');
});

test("shutdown_with_message: an app that ignores 'shutdown' is killed after kill_timeout", { timeout: TEST_TIMEOUT }, async (t) => {
  const { pm2, dir, writeApp } = await sandbox(t);
  const script = writeApp('stubborn.js', SHUTDOWN_APP);
  const out = path.join(dir, 'stubborn.txt');
  await call(pm2, 'connect');
  await call(pm2, 'start', {
    script, name: 'stubborn', shutdown_with_message: true, kill_timeout: 1000, args: [out, 'stay'],
  });
  await readFileEventually(`${out}.ready`);
  const p = await onlineProc(pm2, 'stubborn');
  await withTimeout(call(pm2, 'stop', 'stubborn'), 20000, 'stop');
  await waitFor(() => !isAlive(p.pid), { timeout: 10000, message: 'app survived stop' });
  assert.match(fs.readFileSync(out, 'utf8'), /^shutdown\n/, 'the message came first');
  assert.equal((await procByName(pm2, 'stubborn')).pm2_env.status, 'stopped');
});

test("PM2_KILL_USE_MESSAGE in the daemon's environment: stop sends 'shutdown'", { timeout: TEST_TIMEOUT }, async (t) => {
  const { pm2, dir, writeApp } = await sandbox(t);
  const script = writeApp('envgraceful.js', SHUTDOWN_APP);
  const out = path.join(dir, 'envgraceful.txt');
  const saved = process.env.PM2_KILL_USE_MESSAGE;
  process.env.PM2_KILL_USE_MESSAGE = 'true';
  try {
    await call(pm2, 'connect'); // spawns the daemon with this environment
  } finally {
    if (saved === undefined) delete process.env.PM2_KILL_USE_MESSAGE;
    else process.env.PM2_KILL_USE_MESSAGE = saved;
  }
  await call(pm2, 'start', { script, name: 'envgraceful', args: [out] });
  await readFileEventually(`${out}.ready`);
  const p = await onlineProc(pm2, 'envgraceful');
  await withTimeout(call(pm2, 'stop', 'envgraceful'), 20000, 'stop');
  assert.equal(fs.readFileSync(out, 'utf8'), 'shutdown\n');
  assert.ok(!fs.existsSync(`${out}.sigint`), 'no SIGINT was sent');
  await waitFor(() => !isAlive(p.pid), { timeout: 10000, message: 'app still alive after stop' });
});

// ---------------------------------------------------------------------------
// trigger (@pm2/io custom actions)

// Emulates @pm2/io's IPC transport and action service (pm2's vendored pm2-io-bpm:
// transports/IPCTransport.js, services/actions.js) without loading it: an action is
// declared with {type:'axm:action', data:{action_name, action_type, arity, opts}}; the
// daemon sends either the action name (no params) or {msg, opts, ...}; the app answers
// with {type:'axm:reply', data:{at, action_name, return}}.
const ACTION_APP = [
  "const fs = require('fs');",
  'const log = process.argv[2];',
  'function send(type, data) { process.send({ type, data }); }',
  "send('axm:action', { action_name: 'ping', action_type: 'custom', arity: 2, opts: null });",
  "process.on('message', (data) => {",
  '  if (!data) return;',
  '  const actionName = data.msg ? data.msg : data.action_name ? data.action_name : data;',
  "  if (actionName !== 'ping') return;",
  "  if (log) fs.appendFileSync(log, JSON.stringify(data) + '\\n');",
  "  const params = typeof data === 'object' && data.opts != null ? data.opts : null;",
  "  send('axm:reply', { at: Date.now(), action_name: 'ping',",
  '    return: { pong: true, params, instance: process.env.NODE_APP_INSTANCE, pid: process.pid } });',
  '});',
  'setInterval(() => {}, 1000);',
  '',
].join('\n');

async function actionsRegistered(pm2, name, count = 1) {
  return waitFor(async () => {
    const list = await call(pm2, 'list');
    const ready = list.filter((p) => p.name === name && p.pm2_env.status === 'online'
      && Array.isArray(p.pm2_env.axm_actions) && p.pm2_env.axm_actions.some((a) => a.action_name === 'ping'));
    return ready.length >= count ? ready : false;
  }, { timeout: 20000, message: `action 'ping' of ${name} never registered (pm2_env.axm_actions)` });
}

test('trigger(id, action[, params]) runs a declared action and answers its axm:reply', { timeout: TEST_TIMEOUT }, async (t) => {
  const { pm2, dir, writeApp } = await sandbox(t);
  const script = writeApp('actions.js', ACTION_APP);
  const log = path.join(dir, 'received.jsonl');
  await call(pm2, 'connect');
  const bus = await openBus(t, pm2);
  const all = record(bus, '*');
  await call(pm2, 'start', { script, name: 'actions', args: [log] });
  const [proc] = await actionsRegistered(pm2, 'actions');
  const action = proc.pm2_env.axm_actions.find((a) => a.action_name === 'ping');
  assert.equal(action.action_type, 'custom');

  const res = await withTimeout(call(pm2, 'trigger', 0, 'ping'), 20000, 'trigger');
  releaseTriggerBus(pm2);
  assert.ok(Array.isArray(res));
  assert.equal(res.length, 1);
  assert.equal(res[0].process.pm_id, 0);
  assert.equal(res[0].process.name, 'actions');
  assert.equal(res[0].data.action_name, 'ping');
  assert.equal(res[0].data.return.pong, true);
  assert.equal(res[0].data.return.params, null);

  const withParams = await withTimeout(call(pm2, 'trigger', 'actions', 'ping', { shout: 'loud' }), 20000, 'trigger with params');
  releaseTriggerBus(pm2);
  assert.equal(withParams.length, 1);
  assert.deepEqual(withParams[0].data.return.params, { shout: 'loud' });

  const received = fs.readFileSync(log, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  assert.equal(received.length, 2);
  assert.ok(received[0] === 'ping' || (received[0] && received[0].msg === 'ping'), `first call as @pm2/io expects: ${JSON.stringify(received[0])}`);
  assert.equal(received[1].msg, 'ping');
  assert.deepEqual(received[1].opts, { shout: 'loud' });

  // replies travel on the bus; action declarations are kept by the daemon
  assert.ok(all.some(([ev]) => ev === 'axm:reply'), 'axm:reply is on the bus');
  assert.ok(!all.some(([ev]) => ev === 'axm:action'), 'axm:action is not re-broadcast');
});

test('trigger by name fans out to every instance', { timeout: TEST_TIMEOUT }, async (t) => {
  const { pm2, writeApp } = await sandbox(t);
  const script = writeApp('pair.js', ACTION_APP);
  await call(pm2, 'connect');
  await call(pm2, 'start', { script, name: 'pair', instances: 2, exec_mode: 'fork' });
  await actionsRegistered(pm2, 'pair', 2);
  const res = await withTimeout(call(pm2, 'trigger', 'pair', 'ping'), 20000, 'trigger');
  releaseTriggerBus(pm2);
  assert.equal(res.length, 2);
  assert.deepEqual(res.map((r) => r.process.pm_id).sort(), [0, 1]);
  assert.ok(res.every((r) => r.process.name === 'pair' && r.data.return.pong === true));
  assert.notEqual(res[0].data.return.pid, res[1].data.return.pid);
});

test('trigger: unknown action and unknown app are errors', { timeout: TEST_TIMEOUT }, async (t) => {
  const { pm2, writeApp } = await sandbox(t);
  const script = writeApp('actions.js', ACTION_APP);
  await call(pm2, 'connect');
  await call(pm2, 'start', { script, name: 'actions' });
  await actionsRegistered(pm2, 'actions');
  const noAction = await rejection(withTimeout(call(pm2, 'trigger', 0, 'no-such-action'), 20000, 'trigger'));
  releaseTriggerBus(pm2);
  assertError(noAction, /action/i);
  const noApp = await rejection(withTimeout(call(pm2, 'trigger', 'no-such-app', 'ping'), 20000, 'trigger'));
  releaseTriggerBus(pm2);
  assert.ok(noApp instanceof Error);
  assert.ok(errText(noApp).length > 0);
});

// ---------------------------------------------------------------------------
// misbehaving apps

test('an app flooding messages: every message arrives in order, other apps keep being served', { timeout: 120000 }, async (t) => {
  const { pm2, writeApp } = await sandbox(t);
  const N = 100000;
  const flooder = writeApp('flooder.js', [
    "process.on('message', (m) => {",
    "  if (!m || m.topic !== 'flood') return;",
    "  for (let i = 0; i < m.data.n; i++) process.send({ type: 'flood:msg', data: { i } });",
    '});',
    'setInterval(() => {}, 1000);',
    '',
  ].join('\n'));
  const echo = writeApp('echo.js', ECHO_APP);
  await call(pm2, 'connect');
  const bus = await openBus(t, pm2);
  let count = 0;
  let outOfOrder = null;
  bus.on('flood:msg', (p) => {
    if (p.data.i !== count && outOfOrder === null) outOfOrder = `expected ${count}, got ${p.data.i}`;
    count += 1;
  });
  const echoes = [];
  bus.on('process:msg', (p) => { if (p.process.name === 'echo' && p.data && p.data.echo) echoes.push(p.data.echo); });
  await call(pm2, 'start', { script: flooder, name: 'flooder' });
  await call(pm2, 'start', { script: echo, name: 'echo' });
  await onlineProc(pm2, 'flooder');
  const echoProc = await onlineProc(pm2, 'echo');

  await call(pm2, 'sendDataToProcessId', { id: 0, topic: 'flood', data: { n: N } });
  // while the flood is going on, the other app still answers
  const res = await withTimeout(call(pm2, 'sendDataToProcessId', { id: echoProc.pm2_env.pm_id, topic: 'ping', data: { during: 'flood' } }),
    20000, 'sendDataToProcessId during the flood');
  assert.equal(res.success, true);
  await waitFor(() => echoes.some((e) => e.data && e.data.during === 'flood'),
    { timeout: 60000, message: 'the other app never answered during the flood' });

  await waitFor(() => count >= N, { timeout: 90000, interval: 250, message: `not all ${N} flood messages arrived` });
  assert.equal(outOfOrder, null, outOfOrder || '');
  await sleep(300);
  assert.equal(count, N, 'no duplicates');
  const list = await call(pm2, 'list');
  assert.equal(list.find((p) => p.name === 'flooder').pm2_env.status, 'online');
  assert.equal(list.find((p) => p.name === 'flooder').pm2_env.restart_time, 0);
});

test('a bus subscriber that stalls during a flood gets every message once it resumes', { timeout: 120000 }, async (t) => {
  const { pm2, home, dir, writeApp, track } = await sandbox(t);
  const N = 20000;
  // each message is ~200 values wide, so the backlog is large in values, not only bytes
  const flooder = writeApp('wideflood.js', [
    "process.on('message', (m) => {",
    "  if (!m || m.topic !== 'flood') return;",
    '  const pad = Array.from({ length: 200 }, (_, k) => k);',
    "  for (let i = 0; i < m.data.n; i++) process.send({ type: 'flood:msg', data: { i, pad } });",
    '});',
    'setInterval(() => {}, 1000);',
    '',
  ].join('\n'));
  const echo = writeApp('echo.js', ECHO_APP);
  const subscriber = writeApp('subscriber.js', [
    "'use strict';",
    'const [implFile, home, n] = process.argv.slice(2);',
    'const pm2 = new (require(implFile).custom)({ pm2_home: home, daemon_mode: true });',
    "const report = (r) => process.stdout.write(JSON.stringify(r) + '\\n', () => process.exit(0));",
    "process.on('uncaughtException', (e) => report({ uncaught: String(e && e.message || e) }));",
    'pm2.connect((err) => {',
    '  if (err) return report({ uncaught: String(err) });',
    '  pm2.launchBus((err2, bus) => {',
    '    if (err2) return report({ uncaught: String(err2) });',
    '    let count = 0;',
    '    let outOfOrder = null;',
    "    bus.on('flood:msg', (p) => {",
    '      if (p.data.i !== count && outOfOrder === null) outOfOrder = `expected ${count}, got ${p.data.i}`;',
    '      count += 1;',
    '      if (count === Number(n)) report({ count, outOfOrder });',
    '    });',
    "    process.stdout.write('READY\\n');",
    '  });',
    '});',
    '',
  ].join('\n'));
  await call(pm2, 'connect');
  await call(pm2, 'start', { script: flooder, name: 'wideflood' });
  await call(pm2, 'start', { script: echo, name: 'echo' });
  await onlineProc(pm2, 'wideflood');
  const echoProc = await onlineProc(pm2, 'echo');

  const env = { ...process.env };
  delete env.NODE_TEST_CONTEXT;
  const child = spawn(process.execPath, [subscriber, implPath(), home, String(N)],
    { cwd: dir, env, stdio: ['ignore', 'pipe', 'pipe'] });
  track(child.pid);
  const running = () => child.exitCode === null && child.signalCode === null;
  t.after(() => {
    if (running()) {
      try { process.kill(child.pid, 'SIGCONT'); } catch { /* gone */ }
      try { process.kill(child.pid, 'SIGKILL'); } catch { /* gone */ }
    }
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => { stdout += d; });
  child.stderr.on('data', (d) => { stderr += d; });
  const exited = new Promise((resolve) => child.on('exit', resolve));
  await waitFor(() => stdout.includes('READY\n') || !running(), { timeout: 20000, message: 'subscriber never ready' });
  assert.ok(stdout.includes('READY\n'), `subscriber failed: ${stderr}`);

  await call(pm2, 'sendDataToProcessId', { id: 0, topic: 'flood', data: { n: N } });
  process.kill(child.pid, 'SIGSTOP');
  try {
    // the daemon keeps serving other apps while a subscriber is not reading
    const res = await withTimeout(call(pm2, 'sendDataToProcessId', { id: echoProc.pm2_env.pm_id, topic: 'ping', data: 1 }),
      20000, 'sendDataToProcessId while a subscriber is stalled');
    assert.equal(res.success, true);
    await sleep(3000);
  } finally {
    process.kill(child.pid, 'SIGCONT');
  }
  await withTimeout(exited, 90000, 'subscriber catching up');
  const line = stdout.split('\n').filter((l) => l.startsWith('{')).pop();
  assert.ok(line, `subscriber reported nothing (stderr: ${stderr})`);
  const result = JSON.parse(line);
  assert.equal(result.uncaught, undefined, `the subscriber's process got an uncaught exception: ${result.uncaught}`);
  assert.equal(result.count, N);
  assert.equal(result.outOfOrder, null);
  const list = await call(pm2, 'list');
  assert.equal(list.find((p) => p.name === 'wideflood').pm2_env.status, 'online');
});

test('a line that is not JSON on the IPC channel is dropped, the channel keeps working', {
  timeout: TEST_TIMEOUT,
  skip: IS_ORIGINAL && "pm2 7.0.4's daemon parses IPC with Node's JSON.parse: a non-JSON line throws in the daemon (global error handler, daemon goes down)",
}, async (t) => {
  const { pm2, writeApp } = await sandbox(t);
  const script = writeApp('garbler.js', [
    "const fs = require('fs');",
    "process.on('message', (m) => {",
    "  if (!m || m.topic !== 'garble') return;",
    "  fs.writeSync(3, 'not json\\n');",
    "  process.send({ type: 'after:garbage', data: { ok: true } });",
    '});',
    "process.send({ type: 'before:garbage', data: { ok: true } });",
    'setInterval(() => {}, 1000);',
    '',
  ].join('\n'));
  await call(pm2, 'connect');
  const bus = await openBus(t, pm2);
  const all = record(bus, '*');
  await call(pm2, 'start', { script, name: 'garbler' });
  const before = await onlineProc(pm2, 'garbler');
  await waitFor(() => all.some(([ev]) => ev === 'before:garbage'), { timeout: 20000, message: 'no message before garbage' });

  await call(pm2, 'sendDataToProcessId', { id: 0, topic: 'garble', data: 1 });
  const [, after] = await waitFor(() => all.find(([ev]) => ev === 'after:garbage'),
    { timeout: 20000, message: 'the valid message after the garbage line never arrived' });
  assert.deepEqual(after.data, { ok: true });
  assert.equal(after.process.name, 'garbler');

  // the channel still works both ways and the app was not restarted
  await call(pm2, 'sendDataToProcessId', { id: 0, topic: 'garble', data: 2 });
  await waitFor(() => all.filter(([ev]) => ev === 'after:garbage').length >= 2,
    { timeout: 20000, message: 'the channel stopped after a garbage line' });
  const now = await onlineProc(pm2, 'garbler');
  assert.equal(now.pid, before.pid);
  assert.equal(now.pm2_env.restart_time, 0);
});
