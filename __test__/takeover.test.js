'use strict';

// Moving a server from the original pm2: with an original pm2 7.0.4 daemon running in
// PM2_HOME, every command of this package says at once what to do, and `pm2 update` takes
// the apps over (same names, ids, environment, cluster instances) and leaves no trace of the
// old daemon or its processes.

const { test } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');

const { ROOT, IS_ORIGINAL, call, waitFor, isAlive, readDaemonPid, runChild, describeRun } = require('./helpers');
const { cliSandbox } = require('./cli-helpers');
const { freePort, httpGet } = require('./http');

const ORIGINAL_CLI = path.join(ROOT, 'node_modules', 'pm2-original', 'bin', 'pm2');

// Writes its pid and GREETING to $OUT_DIR/<name>-<pid>.json; answers HTTP on $PORT if set.
const REPORTER = `
const fs = require('fs');
const path = require('path');
const me = { pid: process.pid, greeting: process.env.GREETING || null };
const file = path.join(process.env.OUT_DIR, process.env.name + '-' + process.pid + '.json');
fs.writeFileSync(file + '.tmp', JSON.stringify(me));
fs.renameSync(file + '.tmp', file);
if (process.env.PORT) require('http').createServer((req, res) => res.end(JSON.stringify(me))).listen(Number(process.env.PORT));
else setInterval(() => {}, 1000);
`;

// The reports of the live processes of each app: { name: [report, ...] }.
function liveReports(outDir) {
  const out = {};
  for (const f of fs.readdirSync(outDir)) {
    const m = /^(.*)-(\d+)\.json$/.exec(f);
    if (!m || !isAlive(Number(m[2]))) continue;
    (out[m[1]] = out[m[1]] || []).push(JSON.parse(fs.readFileSync(path.join(outDir, f), 'utf8')));
  }
  return out;
}

// Starts the original pm2 on the sandbox's home with a fork app and a two-instance cluster
// app, each with its own env; answers what the takeover must replace.
async function startOriginal(box) {
  const outDir = path.join(box.dir, 'out');
  fs.mkdirSync(outDir);
  const script = box.writeApp('reporter.js', REPORTER);
  const port = await freePort();
  const ecosystem = box.writeApp('ecosystem.config.js', `module.exports = ${JSON.stringify({
    apps: [
      { name: 'forky', script, env: { OUT_DIR: outDir, GREETING: 'hello from fork' } },
      { name: 'clus', script, exec_mode: 'cluster', instances: 2, env: { OUT_DIR: outDir, GREETING: 'hello from cluster', PORT: String(port) } },
    ],
  })};\n`);
  const original = await runChild(process.execPath, [ORIGINAL_CLI, 'start', ecosystem], {
    cwd: box.dir,
    env: { PM2_HOME: box.home, NO_COLOR: '1', PM2_PROGRAMMATIC: '', PM2_SILENT: '' },
    timeout: 60000,
  });
  assert.equal(original.code, 0, describeRun(original));
  const daemon = readDaemonPid(box.home);
  box.track(daemon);
  const reports = await waitFor(() => {
    const r = liveReports(outDir);
    return (r.forky || []).length === 1 && (r.clus || []).length === 2 ? r : false;
  }, { timeout: 30000, message: 'the original never ran the three processes' });
  const pids = [...reports.forky, ...reports.clus].map((r) => r.pid);
  pids.forEach((pid) => box.track(pid));
  return { daemon, pids, port, outDir };
}

// The original daemon and its apps are gone; this daemon runs the same apps, ids and env.
async function assertTakenOver(box, old) {
  await waitFor(() => !isAlive(old.daemon) && old.pids.every((pid) => !isAlive(pid)), {
    timeout: 20000, message: 'the original daemon or one of its apps is still alive',
  });
  const list = (await call(box.pm2, 'list')).sort((a, b) => a.pm_id - b.pm_id);
  assert.deepEqual(list.map((p) => [p.pm_id, p.name, p.pm2_env.exec_mode, p.pm2_env.status]), [
    [0, 'forky', 'fork_mode', 'online'],
    [1, 'clus', 'cluster_mode', 'online'],
    [2, 'clus', 'cluster_mode', 'online'],
  ]);
  assert.notEqual(readDaemonPid(box.home), old.daemon);

  // The new processes got the same environment, and the cluster serves its port.
  const after = await waitFor(() => {
    const r = liveReports(old.outDir);
    return (r.forky || []).length === 1 && (r.clus || []).length === 2 ? r : false;
  }, { timeout: 20000, message: 'the taken-over apps never reported' });
  assert.deepEqual(after.forky.map((r) => r.greeting), ['hello from fork']);
  assert.deepEqual(after.clus.map((r) => r.greeting), ['hello from cluster', 'hello from cluster']);
  assert.deepEqual(new Set([...after.forky, ...after.clus].map((r) => r.pid)), new Set(list.map((p) => p.pid)));
  const served = JSON.parse((await httpGet({ host: '127.0.0.1', port: old.port })).body);
  assert.ok(after.clus.some((r) => r.pid === served.pid), 'a new cluster instance answers on the port');
}

const SKIP = IS_ORIGINAL && 'a move from the original to this package';

test('pm2 update over a running original pm2 daemon takes its apps over; until then every command says so', { skip: SKIP, timeout: 120000 }, async (t) => {
  const box = await cliSandbox(t);
  const old = await startOriginal(box);

  // Any other command: a clear error naming the fix.
  const ls = await box.pm2cli(['ls']);
  assert.equal(ls.code, 1, describeRun(ls));
  assert.match(ls.stderr + ls.stdout, /original pm2 daemon \(pid \d+\).*`pm2 update`/);
  assert.ok(isAlive(old.daemon), 'a refused command leaves the original alone');

  const update = await box.pm2cli(['update'], { timeout: 90000 });
  assert.equal(update.code, 0, describeRun(update));
  await assertTakenOver(box, old);
});

test('update() over a running original pm2 daemon takes its apps over too', { skip: SKIP, timeout: 120000 }, async (t) => {
  const box = await cliSandbox(t);
  const old = await startOriginal(box);
  await assert.rejects(call(box.pm2, 'list'), /original pm2 daemon \(pid \d+\)/);
  await call(box.pm2, 'update');
  await assertTakenOver(box, old);
});
