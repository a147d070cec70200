'use strict';

// pm2-runtime as a container runs it: in the foreground, as PID 1 of its own PID namespace,
// its apps' output on its stdout, /healthz, /readyz and /metrics for the orchestrator.

const test = require('node:test');
const assert = require('node:assert');
const fs = require('node:fs');
const net = require('node:net');
const path = require('node:path');
const parsePrometheus = require('parse-prometheus-text-format');
const { waitFor, pidsUsingHome, isAlive, call, readDaemonPid } = require('./helpers');
const { LAUNCHER, ORIGINAL, canUnshare, workspace, namespaceInit, zombieChildren } = require('./runtime-helpers');
const { freePort, localGet } = require('./http');

// Crashes on its first run; then publishes a metric, leaves an orphaned grandchild behind,
// and stops by its own SIGINT handler.
const WEB_APP = `
const fs = require('fs');
const { spawn } = require('child_process');
const run = fs.existsSync('crashed') ? 2 : 1;
console.log('web run ' + run);
if (run === 1) {
  fs.writeFileSync('crashed', '');
  setTimeout(() => process.exit(1), 100);
} else {
  process.send({ type: 'axm:monitor', data: { 'jobs done': { value: 7 } } });
  const grandchild = "setTimeout(() => require('fs').writeFileSync('orphan-ppid', String(process.ppid)), 300)";
  spawn(process.execPath, ['-e', 'require("child_process").spawn(process.execPath, ["-e", ' + JSON.stringify(grandchild) + '], { detached: true, stdio: "ignore" }).unref()'], { stdio: 'ignore' });
  process.on('SIGINT', () => {
    console.log('web shutting down');
    fs.writeFileSync('shutdown-ran', '');
    setTimeout(() => process.exit(0), 200);
  });
  process.on('exit', () => fs.writeFileSync('web-exited', ''));
  setInterval(() => {}, 1000);
}
`;

// Runs until the file stop-worker appears, then exits 0 (and is not restarted).
const WORKER_APP = `
console.log('worker up');
setInterval(() => { if (require('fs').existsSync('stop-worker')) process.exit(0); }, 50);
`;

const CONFIG = {
  apps: [
    { name: 'web', script: 'web.js', kill_timeout: 4000 },
    { name: 'worker', script: 'worker.js', autorestart: false },
  ],
};

async function scrape(port) {
  const { status, body } = await localGet(port, '/metrics');
  assert.strictEqual(status, 200);
  const families = parsePrometheus(body);
  return (family, labels) => {
    const f = families.find((x) => x.name === family);
    const m = f && f.metrics.find((s) => Object.entries(labels).every(([k, v]) => s.labels[k] === v));
    return m ? Number(m.value) : undefined;
  };
}

test('as PID 1 of a PID namespace: output, a crash and restart, metrics, readiness, reaping and a graceful SIGTERM', { skip: !canUnshare && 'needs root and unshare --pid' }, async (t) => {
  const ws = workspace(t);
  ws.write('web.js', WEB_APP);
  ws.write('worker.js', WORKER_APP);
  ws.write('ecosystem.json', JSON.stringify(CONFIG));
  const port = await freePort();
  const rt = ws.run(['start', 'ecosystem.json', '--web', String(port)], { prefix: ['unshare', '--pid', '--fork', '--mount-proc'] });
  const init = await namespaceInit(rt.child.pid);

  await rt.waitOut(/web run 1\n/);
  await rt.waitOut(/web run 2\n/);
  await rt.waitOut(/worker up\n/);

  // Memory shows once the restarted process has been sampled (shortly after its spawn).
  const sample = await waitFor(async () => {
    const s = await scrape(port);
    return s('pm2_app_metric', { name: 'web', metric: 'jobs done' }) === 7 && s('pm2_memory_bytes', { name: 'web' }) > 0 && s;
  }, { message: 'the app metric or the memory of the restarted app never reached /metrics' });
  assert.strictEqual(sample('pm2_restarts_total', { name: 'web', pm_id: '0', namespace: 'default' }), 1);
  assert.strictEqual(sample('pm2_up', { name: 'worker' }), 1);
  assert.strictEqual(sample('pm2_status', { name: 'web', status: 'online' }), 1);
  assert.strictEqual((await localGet(port, '/healthz')).status, 200);
  await waitFor(async () => (await localGet(port, '/readyz')).status === 200);

  // The grandchild was orphaned to PID 1, which reaps it when it exits.
  assert.strictEqual(fs.readFileSync(await waitFor(() => fs.existsSync(path.join(ws.dir, 'orphan-ppid')) && path.join(ws.dir, 'orphan-ppid')), 'utf8'), '1');
  await waitFor(() => zombieChildren(init).length === 0, { message: 'a zombie was left unreaped' });

  fs.writeFileSync(path.join(ws.dir, 'stop-worker'), '');
  const notReady = await waitFor(async () => {
    const r = await localGet(port, '/readyz');
    return r.status === 503 && r;
  }, { message: '/readyz never flipped' });
  assert.match(notReady.body, /worker/);
  assert.strictEqual((await localGet(port, '/healthz')).status, 200);

  process.kill(init, 'SIGTERM');
  const { code } = await rt.exited;
  assert.strictEqual(code, 0, rt.stderr);
  assert.match(rt.stdout, /web shutting down\n/);
  assert.ok(fs.existsSync(path.join(ws.dir, 'web-exited')), 'the app ended by its own handler, not by SIGKILL');
  assert.deepStrictEqual(pidsUsingHome(ws.home), []);
});

test('a second SIGTERM kills apps that ignore the first; nothing is left', async (t) => {
  const ws = workspace(t);
  ws.write('stubborn.js', "process.on('SIGINT', () => console.log('not stopping'));\nconsole.log('pid ' + process.pid);\nsetInterval(() => {}, 1000);\n");
  const rt = ws.run(['stubborn.js'], { env: { PM2_KILL_TIMEOUT: '60000' } });
  await rt.waitOut(/pid \d+\n/);
  const appPid = Number(/pid (\d+)/.exec(rt.stdout)[1]);
  rt.child.kill('SIGTERM');
  await rt.waitOut(/not stopping\n/);
  assert.ok(isAlive(appPid));
  rt.child.kill('SIGTERM');
  const { code } = await rt.exited;
  assert.strictEqual(code, 0, rt.stderr);
  assert.ok(!isAlive(appPid));
  assert.deepStrictEqual(pidsUsingHome(ws.home), []);
});

test('bad input is refused before anything starts', async (t) => {
  const ws = workspace(t);
  ws.write('app.js', 'setInterval(() => {}, 1000);\n');
  ws.write('empty.json', JSON.stringify({ apps: [] }));
  const busy = net.createServer().listen(0, '127.0.0.1');
  await new Promise((r) => busy.on('listening', r));
  t.after(() => busy.close());
  const cases = [
    [['start', 'empty.json'], /No app to start in .*empty\.json/],
    [['start', 'missing.js'], /Script not found: .*missing\.js/],
    [['start', 'app.js', '--web', String(busy.address().port)], new RegExp(`cannot listen on 127\\.0\\.0\\.1:${busy.address().port}`)],
    [['start', 'app.js', '--bogus'], /unknown option --bogus/],
  ];
  for (const [args, message] of cases) {
    const rt = ws.run(args);
    const { code } = await rt.exited;
    assert.strictEqual(code, 1, args.join(' '));
    assert.match(rt.stderr, message);
    assert.ok(!fs.existsSync(path.join(ws.home, 'rpc.sock')), `${args.join(' ')} started a daemon`);
  }
});

test('a daemon already running on the same PM2_HOME is left alone, and the runtime says why', async (t) => {
  const ws = workspace(t);
  ws.write('app.js', 'setInterval(() => {}, 1000);\n');
  const pm2 = ws.client({ kill: true });
  await call(pm2, 'connect');
  const daemonPid = readDaemonPid(ws.home);
  const rt = ws.run(['start', 'app.js']);
  assert.strictEqual((await rt.exited).code, 1);
  assert.match(rt.stderr, /a pm2 daemon is already running/);
  assert.ok(isAlive(daemonPid));
  assert.deepStrictEqual(await call(pm2, 'list'), []);
});

test('exits by itself once every app has stopped: 0 when they ended well, 2 when one failed', async (t) => {
  const ws = workspace(t);
  ws.write('job.js', "console.log('job done');\n");
  ws.write('failing.js', "console.error('job failed');\nprocess.exit(3);\n");
  const ok = ws.run(['start', 'job.js', '--no-autorestart']);
  assert.strictEqual((await ok.exited).code, 0, ok.stderr);
  assert.match(ok.stdout, /^job done$/m);
  const failed = ws.run(['start', 'failing.js', '--no-autorestart']);
  assert.strictEqual((await failed.exited).code, 2, failed.stderr);
  assert.match(failed.stderr, /^job failed$/m);
  assert.deepStrictEqual(pidsUsingHome(ws.home), []);
});

test('--json writes one JSON object per line, and the API sees the apps while it runs', async (t) => {
  const ws = workspace(t);
  ws.write('app.js', "console.log('hello');\nsetInterval(() => {}, 1000);\n");
  const rt = ws.run(['start', 'app.js', '--name', 'greeter', '--json']);
  await rt.waitOut(/"message":"hello"/);
  const lines = rt.stdout.trim().split('\n').map((l) => JSON.parse(l));
  assert.ok(lines.some((l) => l.type === 'out' && l.app_name === 'greeter' && l.message === 'hello' && l.process_id === 0));

  const pm2 = ws.client();
  const list = await call(pm2, 'list');
  assert.deepStrictEqual(list.map((p) => [p.name, p.pm2_env.status]), [['greeter', 'online']]);

  rt.child.kill('SIGINT');
  assert.strictEqual((await rt.exited).code, 0);
});

for (const [impl_, bin] of [['this module', LAUNCHER], ['pm2-original', ORIGINAL]]) {
  test(`${impl_}: the app's lines reach stdout, and SIGTERM stops it and exits 0`, async (t) => {
    const ws = workspace(t);
    ws.write('app.js', "console.log('line one');\nprocess.on('SIGINT', () => { console.log('stopping'); process.exit(0); });\nsetInterval(() => {}, 1000);\n");
    const rt = ws.run(['start', 'app.js'], { cmd: bin });
    await rt.waitOut(/^line one$/m, 30000);
    rt.child.kill('SIGTERM');
    assert.strictEqual((await rt.exited).code, 0, rt.stderr);
    assert.match(rt.stdout, /^stopping$/m);
    await waitFor(() => pidsUsingHome(ws.home).length === 0, { message: 'a process was left behind' });
  });
}

test('a daemon started with PM2_METRICS_PORT serves the same endpoints', async (t) => {
  const ws = workspace(t);
  ws.write('app.js', 'setInterval(() => {}, 1000);\n');
  const port = await freePort();
  process.env.PM2_METRICS_PORT = String(port);
  t.after(() => delete process.env.PM2_METRICS_PORT);
  const pm2 = ws.client({ kill: true });
  await call(pm2, 'start', { script: 'app.js', name: 'svc' });
  await waitFor(async () => (await localGet(port, '/readyz')).status === 200);
  const s = await scrape(port);
  assert.strictEqual(s('pm2_up', { name: 'svc', pm_id: '0', namespace: 'default' }), 1);
  const web = JSON.parse((await localGet(port, '/')).body);
  assert.deepStrictEqual(web.processes.map((p) => p.name), ['svc']);
  await call(pm2, 'stop', 'svc');
  assert.strictEqual((await localGet(port, '/readyz')).status, 503);
});

for (const [impl_, bin] of [['this module', LAUNCHER], ['pm2-original', ORIGINAL]]) {
  test(`${impl_}: with PM2_RUNTIME_DEBUG the apps go to a background daemon and the command returns`, async (t) => {
    const ws = workspace(t);
    ws.write('app.js', 'setInterval(() => {}, 1000);\n');
    // The same implementation's `pm2` command, beside its pm2-runtime.
    const pm2 = async (...args) => {
      const r = ws.run(args, { cmd: path.join(path.dirname(bin), 'pm2') });
      assert.strictEqual((await r.exited).code, 0, r.stderr);
      return r.stdout;
    };
    const rt = ws.run(['app.js', '-i', '2'], { cmd: bin, env: { PM2_RUNTIME_DEBUG: 'true' } });
    assert.strictEqual((await rt.exited).code, 0, rt.stderr);
    const list = await waitFor(async () => {
      const l = JSON.parse(await pm2('jlist'));
      return l.length === 2 && l.every((p) => p.pm2_env.status === 'online') && l;
    }, { message: 'the two instances never came online' });
    assert.deepStrictEqual(list.map((p) => p.name), ['app', 'app']);
    await pm2('kill');
  });
}
