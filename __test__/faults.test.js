'use strict';

// Faults around the daemon: the daemon dying under a connected client, and garbage written
// to the daemon's RPC socket.

const { test } = require('node:test');
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const fs = require('node:fs');
const net = require('node:net');
const path = require('node:path');

const {
  IS_ORIGINAL, sandbox, call, callCounting, errText, waitFor, isAlive, readDaemonPid, sleep, apps,
  disposeClient,
} = require('./helpers');

test('daemon SIGKILLed under a connected client: the next call calls back (error or reconnect), never hangs', {
  skip: IS_ORIGINAL && 'original pm2 hangs: after its daemon is SIGKILLed the next call never calls back',
}, async (t) => {
  const box = await sandbox(t);
  const { pm2, home, writeApp } = box;
  const script = writeApp('app.js', apps.forever);
  await call(pm2, 'connect');
  await call(pm2, 'start', { script, name: 'orphan' });
  const [app] = await call(pm2, 'list');
  box.track(app.pid); // the app outlives a SIGKILLed daemon: cleanup kills it by pid
  const daemonPid = readDaemonPid(home);
  assert.ok(daemonPid && isAlive(daemonPid));

  process.kill(daemonPid, 'SIGKILL');
  await waitFor(() => !isAlive(daemonPid), { message: 'daemon did not die' });
  await sleep(200);

  const r = await callCounting(pm2, 'list', [], { settleMs: 500, timeout: 15000 });
  assert.equal(r.calls, 1, 'list called back exactly once');
  if (r.err) {
    assert.ok(r.err instanceof Error, `an Error, got ${errText(r.err)}`);
  } else {
    // reconnected (a fresh daemon): the answer is a process list
    assert.ok(Array.isArray(r.res));
    const newDaemon = readDaemonPid(home);
    if (newDaemon && newDaemon !== daemonPid) box.track(newDaemon);
  }

  // whichever way, the client is usable again afterwards (lazy connect / reconnect)
  const again = await callCounting(pm2, 'list', [], { settleMs: 200, timeout: 15000 });
  assert.equal(again.calls, 1);
});

test('daemon SIGKILLed while idle: a new client on the same home gets a working daemon', async (t) => {
  const box = await sandbox(t);
  const { pm2, home, writeApp } = box;
  const script = writeApp('app.js', apps.forever);
  await call(pm2, 'connect');
  await call(pm2, 'start', { script, name: 'orphan' });
  const [app] = await call(pm2, 'list');
  box.track(app.pid);
  const daemonPid = readDaemonPid(home);
  await new Promise((resolve) => pm2.disconnect(() => resolve()));

  process.kill(daemonPid, 'SIGKILL');
  await waitFor(() => !isAlive(daemonPid), { message: 'daemon did not die' });

  const PM2 = pm2.constructor;
  const fresh = new PM2({ pm2_home: home, cwd: box.dir, daemon_mode: true });
  try {
    const meta = await call(fresh, 'connect');
    assert.equal(meta.new_pm2_instance, true);
    const newDaemon = readDaemonPid(home);
    assert.ok(newDaemon && newDaemon !== daemonPid && isAlive(newDaemon));
    box.track(newDaemon);
    assert.deepEqual(await call(fresh, 'ping'), { msg: 'pong' });
    await call(fresh, 'start', { script, name: 'after-crash' });
    const list = await call(fresh, 'list');
    assert.ok(list.some((p) => p.name === 'after-crash' && p.pm2_env.status === 'online'));
  } finally {
    await disposeClient(fresh); // the sandbox cleanup kills the new daemon
  }
});

test('garbage written to rpc.sock does not take the daemon down', async (t) => {
  const { pm2, home, writeApp } = await sandbox(t);
  const script = writeApp('app.js', apps.forever);
  await call(pm2, 'connect');
  await call(pm2, 'start', { script, name: 'survivor' });
  const [before] = await call(pm2, 'list');
  const daemonPid = readDaemonPid(home);
  const rpcSock = path.join(home, 'rpc.sock');
  assert.ok(fs.existsSync(rpcSock), 'daemon listens on $PM2_HOME/rpc.sock');

  const payloads = [
    crypto.randomBytes(4096),
    Buffer.from('\x00\x00\x00\x05hello'),
    Buffer.from('{"type":"call","method":"killMe","args":[{"pid":0}]} not framed\n'),
    Buffer.alloc(64 * 1024, 0xff),
    crypto.randomBytes(17),
  ];
  for (const payload of payloads) {
    await new Promise((resolve) => {
      const sock = net.connect(rpcSock);
      const done = () => { sock.destroy(); resolve(); };
      sock.on('error', done);
      sock.on('connect', () => {
        sock.write(payload, () => setTimeout(done, 100));
      });
      setTimeout(done, 3000);
    });
  }
  // a half-open client that just sits there must not block others either
  const idle = net.connect(rpcSock);
  idle.on('error', () => {});
  t.after(() => idle.destroy());
  idle.write(Buffer.from([0x01, 0x02]));

  await sleep(300);
  assert.ok(isAlive(daemonPid), 'daemon still alive');
  assert.equal(readDaemonPid(home), daemonPid);
  const list = await call(pm2, 'list');
  assert.equal(list.length, 1);
  assert.equal(list[0].name, 'survivor');
  assert.equal(list[0].pm2_env.status, 'online');
  assert.equal(list[0].pid, before.pid);

  // and a brand new client can still talk to it
  const PM2 = pm2.constructor;
  const other = new PM2({ pm2_home: home, daemon_mode: true });
  const meta = await call(other, 'connect');
  assert.equal(meta.new_pm2_instance, false);
  assert.deepEqual((await call(other, 'list')).map((p) => p.name), ['survivor']);
  await disposeClient(other);
});
