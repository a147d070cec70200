'use strict';

// Scripts that use the module must be able to exit by themselves once they disconnect,
// while the daemon (and its apps) live on; killDaemon takes everything down; concurrent
// first connects share one daemon. Each scenario runs as a child `node` script.

const { test } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');

const {
  IS_ORIGINAL, sandbox, call, waitFor, isAlive, implPath, implPackageDir, readDaemonPid,
  pidsUsingHome, runChild, apps,
  describeRun,
} = require('./helpers');

const EXIT_TIMEOUT = 15000;

// Common prologue of the child scripts: the module under test by absolute path, an
// instance bound to the sandbox's PM2_HOME and app dir.
function prologue({ home, dir }) {
  return [
    "'use strict';",
    "const fs = require('fs');",
    "const path = require('path');",
    `const PM2 = require(${JSON.stringify(implPath())}).custom;`,
    `const HOME = ${JSON.stringify(home)};`,
    `const pm2 = new PM2({ pm2_home: HOME, cwd: ${JSON.stringify(dir)}, daemon_mode: true });`,
    'function fail(code, err) { console.error(String(err && err.stack || err)); process.exit(code); }',
    '',
  ].join('\n');
}

function lastJsonLine(text) {
  const lines = text.split('\n').map((l) => l.trim()).filter((l) => l.startsWith('{') || l.startsWith('['));
  assert.ok(lines.length, `no JSON line in child output: ${text}`);
  return JSON.parse(lines[lines.length - 1]);
}

test('connect + start + disconnect: the script exits by itself and the app stays online', async (t) => {
  const box = await sandbox(t);
  const { pm2, home, dir, writeApp } = box;
  writeApp('app.js', apps.forever);
  const child = writeApp('client.js', prologue(box) + `
pm2.connect((err) => {
  if (err) fail(2, err);
  pm2.start({ script: 'app.js', name: 'bg' }, (err) => {
    if (err) fail(3, err);
    pm2.disconnect();
    console.log(JSON.stringify({ started: true }));
  });
});
`);
  const r = await runChild(process.execPath, [child], { cwd: dir, timeout: EXIT_TIMEOUT });
  assert.equal(r.timedOut, false, `script did not exit within ${EXIT_TIMEOUT} ms\n${describeRun(r)}`);
  assert.equal(r.code, 0, describeRun(r));
  assert.deepEqual(lastJsonLine(r.stdout), { started: true });

  const daemonPid = readDaemonPid(home);
  assert.ok(daemonPid && isAlive(daemonPid), 'daemon outlives the script');
  const list = await call(pm2, 'list');
  assert.equal(list.length, 1);
  assert.equal(list[0].name, 'bg');
  assert.equal(list[0].pm2_env.status, 'online');
  assert.ok(isAlive(list[0].pid));

  // take the daemon down through the API
  assert.deepEqual(await call(pm2, 'killDaemon'), { success: true });
  await waitFor(() => !isAlive(list[0].pid) && !isAlive(daemonPid), { message: 'daemon or app survived killDaemon' });
});

test('an app that connects from inside the daemon and never disconnects stays alive, as under pm2', async (t) => {
  const box = await sandbox(t);
  const { pm2, dir, writeApp } = box;
  writeApp('inner.js', apps.forever);
  // Its last word comes from a timer that does not hold the event loop: printed only if the
  // open connection does. Were the app to exit, the daemon would restart it in a loop.
  writeApp('outer.js', prologue(box) + `
pm2.connect((err) => {
  if (err) fail(2, err);
  pm2.start({ script: 'inner.js', name: 'inner' }, (err) => {
    if (err) fail(3, err);
    console.log('started inner');
    setTimeout(() => console.log('still connected'), 300).unref();
  });
});
`);
  await call(pm2, 'connect');
  await call(pm2, 'start', { script: path.join(dir, 'outer.js'), name: 'outer' });
  const log = () => {
    const outer = path.join(box.home, 'logs', 'outer-out.log');
    return fs.existsSync(outer) ? fs.readFileSync(outer, 'utf8') : '';
  };
  await waitFor(() => log().includes('still connected'), { timeout: EXIT_TIMEOUT, message: `the app exited once its work was done:\n${log()}` });
  const [outer] = (await call(pm2, 'list')).filter((p) => p.name === 'outer');
  assert.equal(outer.pm2_env.restart_time, 0);
  assert.equal(outer.pm2_env.status, 'online');
});

test('disconnect(cb) calls back and the script exits', async (t) => {
  const box = await sandbox(t);
  const { dir, writeApp } = box;
  const child = writeApp('client.js', prologue(box) + `
pm2.connect((err) => {
  if (err) fail(2, err);
  pm2.list((err, list) => {
    if (err) fail(3, err);
    pm2.disconnect(() => console.log(JSON.stringify({ disconnected: true, apps: list.length })));
  });
});
`);
  const r = await runChild(process.execPath, [child], { cwd: dir, timeout: EXIT_TIMEOUT });
  assert.equal(r.timedOut, false, `script did not exit within ${EXIT_TIMEOUT} ms\n${describeRun(r)}`);
  assert.equal(r.code, 0, describeRun(r));
  assert.deepEqual(lastJsonLine(r.stdout), { disconnected: true, apps: 0 });
});

test('killDaemon + disconnect in the script that started the daemon: it exits and no app survives', {
  skip: IS_ORIGINAL && 'original pm2 keeps retrying its RPC socket after killDaemon, so the script never exits',
}, async (t) => {
  const box = await sandbox(t);
  const { home, dir, writeApp } = box;
  writeApp('app.js', apps.forever);
  const child = writeApp('client.js', prologue(box) + `
pm2.connect((err) => {
  if (err) fail(2, err);
  pm2.start({ script: 'app.js', name: 'bg', instances: 2, exec_mode: 'fork' }, (err) => {
    if (err) fail(3, err);
    pm2.list((err, list) => {
      if (err) fail(4, err);
      const pids = list.map((p) => p.pid);
      const daemon = parseInt(fs.readFileSync(path.join(HOME, 'pm2.pid'), 'utf8'), 10);
      console.log(JSON.stringify({ pids, daemon }));
      pm2.killDaemon((err, res) => {
        if (err) fail(5, err);
        console.log(JSON.stringify({ killed: res }));
        pm2.disconnect();
      });
    });
  });
});
`);
  const r = await runChild(process.execPath, [child], { cwd: dir, timeout: EXIT_TIMEOUT });
  // whatever happened, make sure the pids the child reported get swept at cleanup
  const first = r.stdout.split('\n').find((l) => l.startsWith('{"pids"'));
  const info = first ? JSON.parse(first) : { pids: [], daemon: null };
  for (const pid of [...info.pids, info.daemon]) box.track(pid);

  assert.equal(r.timedOut, false, `script did not exit within ${EXIT_TIMEOUT} ms\n${describeRun(r)}`);
  assert.equal(r.code, 0, describeRun(r));
  assert.deepEqual(lastJsonLine(r.stdout), { killed: { success: true } });
  assert.equal(info.pids.length, 2);
  await waitFor(() => [...info.pids, info.daemon].every((pid) => !isAlive(pid)),
    { message: 'an app or the daemon survived killDaemon' });
  assert.equal(fs.existsSync(path.join(home, 'pm2.pid')) && isAlive(readDaemonPid(home)), false);
});

test('10 concurrent first connects share one daemon', {
  skip: IS_ORIGINAL && 'original pm2 races: concurrent first connects spawn several daemons and some clients hang',
}, async (t) => {
  const box = await sandbox(t);
  const { pm2, home, dir, writeApp } = box;
  writeApp('app.js', apps.forever);
  const N = 10;
  // Child 0 starts an app once connected; every child then waits until its own list()
  // shows that app, reports the daemon pid from pm2.pid, and disconnects.
  const child = writeApp('client.js', prologue(box) + `
const index = Number(process.argv[2]);
pm2.connect((err, meta) => {
  if (err) fail(2, err);
  const report = () => {
    const daemon = parseInt(fs.readFileSync(path.join(HOME, 'pm2.pid'), 'utf8'), 10);
    pm2.list((err, list) => {
      if (err) fail(4, err);
      const names = list.map((p) => p.name);
      if (!names.includes('shared')) return setTimeout(report, 100);
      const pids = list.map((p) => p.pid);
      console.log(JSON.stringify({ index, daemon, names, pids }));
      pm2.disconnect();
    });
  };
  if (index === 0) {
    pm2.start({ script: 'app.js', name: 'shared' }, (err) => { if (err) fail(3, err); report(); });
  } else {
    report();
  }
});
`);
  const runs = await Promise.all(Array.from({ length: N }, (_, i) =>
    runChild(process.execPath, [child, String(i)], { cwd: dir, timeout: 30000 })));

  for (const r of runs) {
    assert.equal(r.timedOut, false, `a client did not finish\n${describeRun(r)}`);
    assert.equal(r.code, 0, describeRun(r));
  }
  const reports = runs.map((r) => lastJsonLine(r.stdout));
  const daemonPid = readDaemonPid(home);
  assert.ok(daemonPid && isAlive(daemonPid), 'pm2.pid names a live daemon');
  for (const rep of reports) {
    assert.equal(rep.daemon, daemonPid, `client ${rep.index} saw daemon ${rep.daemon}, pm2.pid says ${daemonPid}`);
    assert.deepEqual(rep.names, ['shared'], `client ${rep.index} sees exactly the shared app`);
    assert.deepEqual(rep.pids, reports[0].pids);
  }

  const list = await call(pm2, 'list');
  assert.deepEqual(list.map((p) => p.name), ['shared']);

  // On Linux, no second daemon for this home may be left behind: every live process
  // whose environment names this PM2_HOME is the daemon or one of its apps.
  // (sandbox cleanup sweeps all of them whatever the outcome)
  if (fs.existsSync('/proc/self/environ')) {
    await new Promise((resolve) => setTimeout(resolve, 500));
    const known = new Set([daemonPid, ...list.map((p) => p.pid)]);
    const strays = pidsUsingHome(home).filter((pid) => !known.has(pid));
    assert.deepEqual(strays, [], 'no other process runs for this PM2_HOME');
  }
});

test('the seed "Simple example", unchanged, exits and leaves the app online', async (t) => {
  const box = await sandbox(t);
  const { pm2, home, dir, writeApp } = box;
  writeApp('app.js', apps.forever);
  // make require('pm2') resolve to the module under test
  fs.mkdirSync(path.join(dir, 'node_modules'), { recursive: true });
  fs.symlinkSync(implPackageDir(), path.join(dir, 'node_modules', 'pm2'), 'dir');
  const child = writeApp('example.js', `const pm2 = require('pm2')

pm2.connect(function(err) {
  if (err) {
    console.error(err)
    process.exit(2)
  }

  pm2.start({
    script: 'app.js',
  }, (err, apps) => {
    pm2.disconnect()
    if (err) { throw err }
  })
})
`);
  const r = await runChild(process.execPath, [child], {
    cwd: dir, timeout: EXIT_TIMEOUT, env: { PM2_HOME: home },
  });
  assert.equal(r.timedOut, false, `example did not exit within ${EXIT_TIMEOUT} ms\n${describeRun(r)}`);
  assert.equal(r.code, 0, describeRun(r));

  const list = await call(pm2, 'list');
  assert.equal(list.length, 1);
  assert.equal(list[0].name, 'app');
  assert.equal(list[0].pm2_env.status, 'online');
  assert.equal(list[0].pm2_env.pm_exec_path, path.join(dir, 'app.js'));
  assert.ok(isAlive(list[0].pid));
});
