'use strict';

// How the `pm2` command starts apps beyond a plain script: known names and ids (smart
// start), configs on stdin or written as JavaScript expressions, `--env` with a config's
// deploy section, options cleared on restart, scaling, `increment_var`, `wait_ready`, and the
// daemon's files moved by the environment. Run with PM2_IMPL=pm2-original to hold the
// original pm2's command to the same checks.

const { test } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');

const { isAlive, waitFor } = require('./helpers');
const { TICKER, cliSandbox, withApp, jlist } = require('./cli-helpers');

// A process that never tells pm2 it is ready.
const NEVER_READY = 'setInterval(() => {}, 1000)\n';

const byId = (procs) => [...procs].sort((a, b) => a.pm_id - b.pm_id);

test('start <name> and start <id> restart the known app; start <id> --name renames it', async (t) => {
  const box = await withApp(t, 'api');
  assert.equal((await box.pm2cli(['stop', 'api'])).code, 0);
  let r = await box.pm2cli(['start', 'api']);
  assert.equal(r.code, 0, r.stderr + r.stdout);
  let procs = await jlist(box);
  assert.deepEqual(procs.map((p) => [p.name, p.pm2_env.status]), [['api', 'online']]);
  r = await box.pm2cli(['start', 'api']);
  assert.equal(r.code, 0, r.stderr + r.stdout);
  assert.equal((await jlist(box))[0].pm2_env.restart_time, 1);
  r = await box.pm2cli(['start', '0']);
  assert.equal(r.code, 0, r.stderr + r.stdout);
  procs = await jlist(box);
  assert.deepEqual(procs.map((p) => [p.name, p.pm2_env.restart_time]), [['api', 2]]);
  r = await box.pm2cli(['start', '0', '--name', 'renamed']);
  assert.equal(r.code, 0, r.stderr + r.stdout);
  assert.deepEqual((await jlist(box)).map((p) => p.name), ['renamed']);
});

test('a config piped on stdin (`-`) starts and deletes its apps; a .json config may be a JavaScript expression', async (t) => {
  const box = await cliSandbox(t);
  box.writeApp('app.js', TICKER);
  const config = "// two apps, one named by an expression\n[{ name: 'one', script: './app.js' }, { name: ['tw', 'o'].join(''), script: './app.js' }]\n";
  let r = await box.pm2cli(['start', '-'], { input: config });
  assert.equal(r.code, 0, r.stderr + r.stdout);
  assert.deepEqual((await jlist(box)).map((p) => p.name).sort(), ['one', 'two']);
  r = await box.pm2cli(['delete', '-'], { input: config });
  assert.equal(r.code, 0, r.stderr + r.stdout);
  assert.deepEqual(await jlist(box), []);

  box.writeApp('apps.json', config);
  r = await box.pm2cli(['start', 'apps.json']);
  assert.equal(r.code, 0, r.stderr + r.stdout);
  assert.deepEqual((await jlist(box)).map((p) => p.name).sort(), ['one', 'two']);
  r = await box.pm2cli(['delete', 'apps.json', '--only', 'one']);
  assert.equal(r.code, 0, r.stderr + r.stdout);
  assert.deepEqual((await jlist(box)).map((p) => p.name), ['two']);
});

test('--env <name> lays the config\'s deploy.<name>.env over the app\'s env, under its env_<name>', async (t) => {
  const box = await cliSandbox(t);
  box.writeApp('app.js', TICKER);
  box.writeApp('eco.json', JSON.stringify({
    apps: [{ name: 'e', script: './app.js', env: { BOTH: 'app', OWN: 'app' }, env_production: { TOP: 'env_production' } }],
    deploy: { production: { env: { BOTH: 'deploy', ONLY_DEPLOY: 'deploy', TOP: 'deploy' } } },
  }));
  const r = await box.pm2cli(['start', 'eco.json', '--env', 'production']);
  assert.equal(r.code, 0, r.stderr + r.stdout);
  const { env } = (await jlist(box))[0].pm2_env;
  assert.deepEqual([env.ONLY_DEPLOY, env.BOTH, env.OWN, env.TOP], ['deploy', 'deploy', 'app', 'env_production']);
});

test('an option given as null on reload leaves the process description', async (t) => {
  const box = await withApp(t, 'api', ['-i', '1', '--node-args', '--no-warnings']);
  assert.deepEqual((await jlist(box))[0].pm2_env.node_args, ['--no-warnings']);
  const r = await box.pm2cli(['reload', 'app.js', '--node-args=null']);
  assert.equal(r.code, 0, r.stderr + r.stdout);
  const [p] = await jlist(box);
  assert.equal('node_args' in p.pm2_env, false);
  const shown = await box.pm2cli(['prettylist']);
  assert.doesNotMatch(shown.stdout, /node_args/);
});

test('scaling down removes the oldest instances; scaling up again reuses their instance numbers', async (t) => {
  const box = await withApp(t, 'web', ['-i', '2']);
  const instances = async () => byId(await jlist(box)).map((p) => [p.pm_id, p.pm2_env.NODE_APP_INSTANCE]);
  let r = await box.pm2cli(['scale', 'web', '4']);
  assert.equal(r.code, 0, r.stderr + r.stdout);
  assert.deepEqual(await instances(), [[0, 0], [1, 1], [2, 2], [3, 3]]);
  r = await box.pm2cli(['scale', 'web', '2']);
  assert.equal(r.code, 0, r.stderr + r.stdout);
  assert.deepEqual(await instances(), [[2, 2], [3, 3]]);
  r = await box.pm2cli(['scale', 'web', '4']);
  assert.equal(r.code, 0, r.stderr + r.stdout);
  assert.deepEqual((await instances()).map(([, n]) => n).sort(), [0, 1, 2, 3]);
});

test('increment_var gives instance n the variable\'s value + n, in pm2_env, its env and the app', async (t) => {
  const box = await cliSandbox(t);
  box.writeApp('port.js', "console.log('port ' + process.env.PORT); setInterval(() => {}, 1000)\n");
  box.writeApp('eco.json', JSON.stringify({
    apps: [{ name: 'inc', script: './port.js', instances: 2, exec_mode: 'fork', increment_var: 'PORT', env: { PORT: 3000 }, merge_logs: true, out_file: './out.log' }],
  }));
  const r = await box.pm2cli(['start', 'eco.json']);
  assert.equal(r.code, 0, r.stderr + r.stdout);
  const procs = byId(await jlist(box));
  assert.deepEqual(procs.map((p) => [p.pm2_env.PORT, p.pm2_env.env.PORT]), [[3000, 3000], [3001, 3001]]);
  const out = path.join(box.dir, 'out.log');
  await waitFor(() => fs.existsSync(out) && /port 3000/.test(fs.readFileSync(out, 'utf8')) && /port 3001/.test(fs.readFileSync(out, 'utf8')),
    { message: 'each instance did not print its own port' });
});

test('a wait_ready app stays launching until ready, even when a deleted app had its id', async (t) => {
  const box = await cliSandbox(t);
  box.writeApp('silent.js', NEVER_READY);
  let r = await box.pm2cli(['start', 'silent.js', '--name', 'first', '--wait-ready', '--listen-timeout', '300']);
  assert.equal(r.code, 0, r.stderr + r.stdout);
  assert.equal((await box.pm2cli(['delete', 'first'])).code, 0);
  // pm2's own command waits for readiness: these two run in the background.
  const second = box.pm2cli(['start', 'silent.js', '--name', 'second', '--wait-ready', '--listen-timeout', '20000'], { timeout: 40000 });
  await waitFor(async () => (await jlist(box)).some((p) => p.name === 'second'));
  // A clock: once this app's 1 s listen_timeout has run out, so has the deleted app's.
  const clock = box.pm2cli(['start', 'silent.js', '--name', 'clock', '--wait-ready', '--listen-timeout', '1000']);
  await waitFor(async () => (await jlist(box)).some((p) => p.name === 'clock' && p.pm2_env.status === 'online'));
  const status = (await jlist(box)).find((p) => p.name === 'second').pm2_env.status;
  assert.equal(status, 'launching');
  await clock;
  r = await box.pm2cli(['delete', 'second']);
  assert.equal(r.code, 0, r.stderr + r.stdout);
  await second;
});

test('PM2_PID_FILE_PATH moves the daemon\'s pid file', async (t) => {
  const box = await cliSandbox(t);
  const pidFile = path.join(box.dir, 'elsewhere.pid');
  const env = { PM2_PID_FILE_PATH: pidFile };
  let r = await box.pm2cli(['ls'], { env });
  assert.equal(r.code, 0, r.stderr + r.stdout);
  const pid = Number(await waitFor(() => fs.existsSync(pidFile) && fs.readFileSync(pidFile, 'utf8').trim()));
  assert.ok(isAlive(pid), 'the pid file names the running daemon');
  assert.equal(fs.existsSync(path.join(box.home, 'pm2.pid')), false);
  r = await box.pm2cli(['kill'], { env });
  assert.equal(r.code, 0, r.stderr + r.stdout);
  await waitFor(() => !isAlive(pid), { message: 'the daemon outlived kill' });
});
