'use strict';

// The `pm2` command as a user types it: real daemon, real apps, a temporary PM2_HOME per
// test. Run with PM2_IMPL=pm2-original to hold the original pm2's command to the same checks.

const { test } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { spawn } = require('node:child_process');

const { IS_ORIGINAL, waitFor } = require('./helpers');
const { CLI, TICKER, cliSandbox, withApp, jlist, tableRows, hasTmux, terminals } = require('./cli-helpers');

test('start shows the table with the app online; ls and its aliases show the same table', async (t) => {
  const box = await withApp(t);
  for (const alias of ['ls', 'list', 'l', 'ps', 'status']) {
    const r = await box.pm2cli([alias]);
    assert.equal(r.code, 0, r.stderr);
    const rows = tableRows(r.stdout);
    assert.deepEqual(Object.keys(rows[0]), ['id', 'name', 'namespace', 'version', 'mode', 'pid', 'uptime', '↺', 'status', 'cpu', 'mem', 'user', 'watching']);
    assert.equal(rows.length, 1);
    assert.equal(rows[0].name, 'api');
    assert.equal(rows[0].status, 'online');
    assert.equal(rows[0].mode, 'fork');
    assert.equal(rows[0].namespace, 'default');
  }
});

test('the table printed right after start shows the app\'s memory, not 0b', async (t) => {
  const box = await cliSandbox(t);
  // Ready once Node has loaded it: a process that has only just exec'd has no pages yet.
  box.writeApp('app.js', "process.send('ready');\n" + TICKER);
  const r = await box.pm2cli(['start', 'app.js', '--name', 'api', '--wait-ready']);
  assert.equal(r.code, 0, r.stderr + r.stdout);
  const [row] = tableRows(r.stdout);
  assert.equal(row.status, 'online');
  assert.notEqual(row.mem, '0b', r.stdout);
});

test('start flags become the app options; arguments after -- reach the app', async (t) => {
  const box = await withApp(t, 'flags', ['--max-restarts', '3', '--no-autorestart', '--namespace', 'backend', '--kill-timeout', '3000', '--', 'one', 'two']);
  const [p] = await jlist(box);
  assert.equal(p.name, 'flags');
  assert.equal(p.pm2_env.namespace, 'backend');
  assert.equal(p.pm2_env.max_restarts, 3);
  assert.equal(p.pm2_env.autorestart, false);
  assert.equal(p.pm2_env.kill_timeout, 3000);
  assert.deepEqual(p.pm2_env.args, ['one', 'two']);
  const out = path.join(box.home, 'logs', 'flags-out.log');
  await waitFor(() => fs.existsSync(out) && fs.readFileSync(out, 'utf8').includes('tick one two'));
});

test('-i starts cluster instances', async (t) => {
  const box = await withApp(t, 'web', ['-i', '2']);
  const procs = await jlist(box);
  assert.equal(procs.length, 2);
  for (const p of procs) assert.equal(p.pm2_env.exec_mode, 'cluster_mode');
});

test('a config file starts with --env and --only; stop and delete take the file too', async (t) => {
  const box = await cliSandbox(t);
  box.writeApp('app.js', TICKER);
  box.writeApp('ecosystem.config.js', `module.exports = { apps: [
    { name: 'api', script: './app.js', env: { MODE: 'dev' }, env_production: { MODE: 'prod' } },
    { name: 'worker', script: './app.js' },
  ] }\n`);
  let r = await box.pm2cli(['start', 'ecosystem.config.js', '--env', 'production', '--only', 'api']);
  assert.equal(r.code, 0, r.stderr + r.stdout);
  let procs = await jlist(box);
  assert.deepEqual(procs.map((p) => p.name), ['api']);
  assert.equal(procs[0].pm2_env.env.MODE, 'prod');
  r = await box.pm2cli(['start', 'ecosystem.config.js']);
  assert.equal(r.code, 0, r.stderr + r.stdout);
  procs = await jlist(box);
  assert.deepEqual(procs.map((p) => p.name).sort(), ['api', 'worker']);
  r = await box.pm2cli(['stop', 'ecosystem.config.js']);
  assert.equal(r.code, 0, r.stderr + r.stdout);
  assert.deepEqual((await jlist(box)).map((p) => p.pm2_env.status), ['stopped', 'stopped']);
  r = await box.pm2cli(['delete', 'ecosystem.config.js']);
  assert.equal(r.code, 0, r.stderr + r.stdout);
  assert.deepEqual(await jlist(box), []);
});

test('prettylist prints the list as Node\'s util.inspect shows it (no newline after it), jlist as JSON', async (t) => {
  const box = await withApp(t, 'api', ['--', "it's", 'a\nb']);
  // A stopped app's description holds still between the two reads (no cpu or memory).
  assert.equal((await box.pm2cli(['stop', 'api'])).code, 0);
  const list = await jlist(box);
  const r = await box.pm2cli(['prettylist']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, require('node:util').inspect(list, false, null, false));
  const raw = await box.pm2cli(['jlist']);
  assert.deepEqual(JSON.parse(raw.stdout), list);
  assert.ok(raw.stdout.endsWith(']'), 'jlist: the JSON alone, no newline after it');
  assert.match(r.stdout, /exec_mode: 'fork_mode'/);
  assert.match(r.stdout, /args: \[ "it's", 'a\\nb' \]/);
});

test('each process names its script path once: in pm2_env, not again in its environment', async (t) => {
  const box = await withApp(t, 'web', ['-i', '2']);
  const r = await box.pm2cli(['prettylist']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout.split('\n').filter((l) => l.includes('app.js')).length, 2);
  const procs = await jlist(box);
  for (const p of procs) {
    assert.equal(p.pm2_env.pm_exec_path, path.join(box.dir, 'app.js'));
    assert.equal(p.pm2_env.env.pm_exec_path, undefined);
  }
});

test('stop, restart, reload and delete select by name, id, namespace and all', async (t) => {
  const box = await withApp(t, 'api', ['--namespace', 'back']);
  const status = async () => (await jlist(box)).map((p) => p.pm2_env.status);
  let r = await box.pm2cli(['stop', 'api']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /\[api\]\(0\) ✓/);
  assert.deepEqual(await status(), ['stopped']);
  r = await box.pm2cli(['restart', '0']);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(await status(), ['online']);
  r = await box.pm2cli(['reload', 'back']);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(await status(), ['online']);
  r = await box.pm2cli(['stop', 'all']);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(await status(), ['stopped']);
  r = await box.pm2cli(['delete', 'all']);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(await jlist(box), []);
});

test('an unknown app: "[PM2][ERROR] Process or Namespace x not found" and exit 1', async (t) => {
  const box = await withApp(t);
  for (const cmd of ['stop', 'restart', 'delete', 'reload']) {
    const r = await box.pm2cli([cmd, 'nope']);
    assert.equal(r.code, 1, `${cmd}: ${r.stdout}`);
    assert.match(r.stderr + r.stdout, /\[PM2\]\[ERROR\] Process or Namespace nope not found/);
  }
});

test('an unknown command or flag: the help hint and exit 1', async (t) => {
  const box = await cliSandbox(t);
  let r = await box.pm2cli(['frobnicate']);
  assert.equal(r.code, 1);
  assert.match(r.stdout + r.stderr, /Command not found/);
  assert.match(r.stdout + r.stderr, /pm2 -h, --help/);
  r = await box.pm2cli(['ls', '--bogus']);
  assert.equal(r.code, 1);
  assert.match(r.stdout + r.stderr, /unknown option `--bogus'/);
});

test('start with nothing to start says which file it looked for and exits 1', async (t) => {
  const box = await cliSandbox(t);
  const r = await box.pm2cli(['start']);
  assert.equal(r.code, 1);
  assert.match(r.stderr + r.stdout, /File ecosystem.config.js not found/);
});

test('describe, pid, id and env tell about one app; describe of an unknown app exits 1', async (t) => {
  const box = await withApp(t);
  const [p] = await jlist(box);
  let r = await box.pm2cli(['describe', 'api']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /Describing process with id 0 - name api/);
  assert.match(r.stdout, /│ status\s+│ online/);
  assert.match(r.stdout, /│ script path\s+│ .*app\.js/);
  r = await box.pm2cli(['pid', 'api']);
  assert.equal(r.stdout.trim(), String(p.pid));
  r = await box.pm2cli(['id', 'api']);
  assert.equal(r.stdout.trim(), '[ 0 ]');
  r = await box.pm2cli(['id', 'nope']);
  assert.equal(r.stdout.trim(), '[]');
  r = await box.pm2cli(['env', '0']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^PM2_HOME: /m);
  // env lists the environment flattened onto pm2_env, without pm2's bookkeeping keys.
  assert.match(r.stdout, /^namespace: default$/m);
  assert.match(r.stdout, /^NODE_APP_INSTANCE: 0$/m);
  assert.doesNotMatch(r.stdout, /^(name|restart_time|status|env): /m);
  r = await box.pm2cli(['describe', 'nope']);
  assert.equal(r.code, 1);
  assert.match(r.stderr + r.stdout, /nope doesn't exist/);
});

test('prettylist shows the app', async (t) => {
  const box = await withApp(t);
  const r = await box.pm2cli(['prettylist']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /name: 'api'|"name": "api"/);
});

test('save writes the dump, kill stops the daemon, resurrect starts the dumped app again, cleardump empties the dump', async (t) => {
  const box = await withApp(t);
  let r = await box.pm2cli(['save']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /Successfully saved in .*dump\.pm2/);
  const dump = JSON.parse(fs.readFileSync(path.join(box.home, 'dump.pm2'), 'utf8'));
  assert.equal(dump[0].name, 'api');
  r = await box.pm2cli(['kill']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /PM2 Daemon Stopped/);
  r = await box.pm2cli(['resurrect']);
  assert.equal(r.code, 0, r.stderr + r.stdout);
  assert.deepEqual((await jlist(box)).map((p) => [p.name, p.pm2_env.status]), [['api', 'online']]);
  r = await box.pm2cli(['cleardump']);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(JSON.parse(fs.readFileSync(path.join(box.home, 'dump.pm2'), 'utf8')), []);
});

test('ping answers pong; --version prints the version', async (t) => {
  const box = await withApp(t);
  let r = await box.pm2cli(['ping']);
  assert.equal(r.code, 0);
  assert.match(r.stdout, /pong/);
  r = await box.pm2cli(['--version']);
  assert.equal(r.code, 0);
  assert.match(r.stdout.trim(), /^\d+\.\d+\.\d+/);
});

test('flush empties the app\'s log; reloadLogs makes it write to a fresh file where the old one was moved away', async (t) => {
  const box = await withApp(t, 'api', [], `console.log('before the flush');\n${TICKER}`);
  const out = path.join(box.home, 'logs', 'api-out.log');
  const read = (file) => (fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : '');
  await waitFor(() => read(out).includes('before the flush'));
  let r = await box.pm2cli(['flush', 'api']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /Logs flushed/);
  assert.doesNotMatch(read(out), /before the flush/);
  fs.renameSync(out, `${out}.moved`);
  r = await box.pm2cli(['reloadLogs']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /All logs reloaded/);
  await waitFor(() => read(out).includes('tick'), { message: 'no line in the reopened log file' });
});

test('scale sets the number of instances, reset zeroes the restart counts, sendSignal signals every instance', async (t) => {
  const signalled = 'signalled.txt';
  const box = await withApp(t, 'web', ['-i', '1'], [
    "const fs = require('fs');",
    `process.on('SIGUSR2', () => fs.appendFileSync(${JSON.stringify(signalled)}, process.pid + '\\n'));`,
    TICKER,
  ].join('\n'));
  let r = await box.pm2cli(['scale', 'web', '3']);
  assert.equal(r.code, 0, r.stderr + r.stdout);
  await waitFor(async () => (await jlist(box)).filter((p) => p.pm2_env.status === 'online').length === 3);
  r = await box.pm2cli(['restart', 'web']);
  assert.equal(r.code, 0, r.stderr + r.stdout);
  assert.ok((await jlist(box)).every((p) => p.pm2_env.restart_time > 0), 'restarted once');
  r = await box.pm2cli(['reset', 'web']);
  assert.equal(r.code, 0, r.stderr + r.stdout);
  assert.deepEqual((await jlist(box)).map((p) => p.pm2_env.restart_time), [0, 0, 0]);
  const procs = await waitFor(async () => {
    const l = await jlist(box);
    return l.every((p) => p.pm2_env.status === 'online' && p.pid) && l;
  });
  r = await box.pm2cli(['sendSignal', 'SIGUSR2', 'web']);
  assert.equal(r.code, 0, r.stderr + r.stdout);
  const file = path.join(box.dir, signalled);
  const pids = () => (fs.existsSync(file) ? fs.readFileSync(file, 'utf8').split('\n').filter(Boolean).map(Number).sort() : []);
  await waitFor(() => pids().length === 3, { message: `signalled: ${pids()}` });
  assert.deepEqual(pids(), procs.map((p) => p.pid).sort());
});

test('logs --nostream prints the last lines with the app prefix', async (t) => {
  const box = await withApp(t);
  const out = path.join(box.home, 'logs', 'api-out.log');
  await waitFor(() => fs.existsSync(out) && fs.readFileSync(out, 'utf8').split('\n').length > 4);
  let r = await box.pm2cli(['logs', 'api', '--nostream', '--lines', '2']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /api-out\.log last 2 lines:/);
  assert.match(r.stdout, /0\|api\s+\| tick/);
  r = await box.pm2cli(['logs', 'api', '--nostream', '--lines', '2', '--raw']);
  assert.match(r.stdout, /^tick/m);
  r = await box.pm2cli(['logs', 'nope', '--nostream']);
  assert.equal(r.code, IS_ORIGINAL ? 0 : 1);
});

test('logs follows new lines live from the bus', async (t) => {
  const box = await withApp(t);
  const child = spawn(CLI, ['logs', 'api', '--lines', '0'], { env: { ...process.env, PM2_HOME: box.home, NO_COLOR: '1' } });
  t.after(() => child.kill('SIGKILL'));
  let seen = '';
  child.stdout.on('data', (d) => (seen += d));
  await waitFor(() => /0\|api\s+\| tick/.test(seen.replace(/\x1b\[[0-9;]*m/g, '')), { timeout: 15000 });
});

test('monit shows every app and moves between them with the arrow keys', { skip: IS_ORIGINAL || !hasTmux() }, async (t) => {
  const box = await withApp(t, 'first');
  await box.pm2cli(['start', 'app.js', '--name', 'second']);
  const term = terminals(t, { cols: 120, rows: 30 });
  const monit = term.open(`env PM2_HOME=${box.home} ${CLI} monit`);
  const screen = () => term.screen(monit);
  await waitFor(() => /Process List/.test(screen()) && /second/.test(screen()), { timeout: 15000 });
  assert.match(screen(), /> .*\[0\] first/);
  assert.match(screen(), / first Logs /);
  term.keys(monit, 'Down');
  await waitFor(() => /> .*\[1\] second/.test(screen()) && / second Logs /.test(screen()), { timeout: 10000 });
  await waitFor(() => /tick/.test(screen()), { timeout: 10000 });
  term.keys(monit, 'q');
  await waitFor(() => { try { return !/Process List/.test(screen()); } catch { return true; } }, { timeout: 10000 });
});

test('colours only on a terminal, and never with --no-color or NO_COLOR', { skip: IS_ORIGINAL || !hasTmux() }, async (t) => {
  const box = await withApp(t);
  const { runChild } = require('./helpers');
  const piped = await runChild(CLI, ['ls'], { env: { PM2_HOME: box.home, NO_COLOR: '' } });
  assert.doesNotMatch(piped.stdout, /\x1b\[/);
  const term = terminals(t, { cols: 160, rows: 20 });
  const onTerminal = async (command) => {
    const shown = term.open(`env -u NO_COLOR PM2_HOME=${box.home} ${command}; sleep 30`);
    await waitFor(() => /online/.test(term.screen(shown)), { timeout: 10000 });
    return term.screen(shown, { escapes: true });
  };
  assert.match(await onTerminal(`${CLI} ls`), /\x1b\[[0-9;]*m.*online/);
  assert.doesNotMatch(await onTerminal(`${CLI} ls --no-color`), /\x1b\[[0-9;]*m/);
});

test('set, get and unset keep a module\'s setting in module_conf.json', async (t) => {
  const box = await cliSandbox(t);
  let r = await box.pm2cli(['set', 'pm2-logrotate:max_size', '10M']);
  assert.equal(r.code, 0, r.stderr + r.stdout);
  r = await box.pm2cli(['get', 'pm2-logrotate:max_size']);
  assert.equal(r.code, 0, r.stderr + r.stdout);
  assert.match(r.stdout, /10M/);
  assert.deepEqual(JSON.parse(fs.readFileSync(path.join(box.home, 'module_conf.json'), 'utf8'))['pm2-logrotate'], { max_size: '10M' });
  r = await box.pm2cli(['unset', 'pm2-logrotate:max_size']);
  assert.equal(r.code, 0, r.stderr + r.stdout);
  assert.equal(JSON.parse(fs.readFileSync(path.join(box.home, 'module_conf.json'), 'utf8'))['pm2-logrotate'].max_size, undefined);
});

test('set <app>.<key> restarts that app with its settings in its environment; multiset does too', async (t) => {
  const box = await withApp(t, 'echo', [], "setInterval(() => console.log('setting ' + process.env.config_var), 200)\n");
  let r = await box.pm2cli(['set', 'echo.config_var', 'false']);
  assert.equal(r.code, 0, r.stderr + r.stdout);
  let [p] = await jlist(box);
  assert.equal(p.pm2_env.restart_time, 1);
  assert.equal(p.pm2_env.env.config_var, 'false');
  await waitFor(() => fs.readFileSync(path.join(box.home, 'logs', 'echo-out.log'), 'utf8').includes('setting false'));
  r = await box.pm2cli(['multiset', 'echo.conf true']);
  assert.equal(r.code, 0, r.stderr + r.stdout);
  [p] = await jlist(box);
  assert.equal(p.pm2_env.restart_time, 2);
  assert.equal(p.pm2_env.env.conf, 'true');
  assert.equal(p.pm2_env.env.config_var, 'false');
});

// A compiled script whose source map points its first line at `main.ts`.
const MAPPED = "setTimeout(() => { throw new Error('mapped') }, 100)\n//# sourceMappingURL=main.js.map\n";
const MAP = JSON.stringify({ version: 3, file: 'main.js', sources: ['main.ts'], names: [], mappings: 'AAAA' });

test("a Node app's stack traces follow its source map, unless --disable-source-map-support", async (t) => {
  const box = await cliSandbox(t);
  box.writeApp('main.js', MAPPED);
  box.writeApp('main.js.map', MAP);
  const errors = async (name, flags) => {
    const r = await box.pm2cli(['start', 'main.js', '--name', name, '--no-autorestart', '-e', `${name}.log`, ...flags]);
    assert.equal(r.code, 0, r.stderr + r.stdout);
    const file = path.join(box.dir, `${name}.log`);
    return waitFor(() => fs.existsSync(file) && /Error: mapped[\s\S]*main\.[jt]s/.test(fs.readFileSync(file, 'utf8')) && fs.readFileSync(file, 'utf8'));
  };
  assert.match(await errors('mapped', []), /main\.ts/);
  assert.doesNotMatch(await errors('raw', ['--disable-source-map-support']), /main\.ts/);
});

test('start of a stopped app\'s script starts it again; restart --watch toggles watching', async (t) => {
  const box = await withApp(t, 'http');
  const watch = async () => (await jlist(box))[0].pm2_env.watch;
  let r = await box.pm2cli(['stop', 'http']);
  assert.equal(r.code, 0, r.stderr);
  r = await box.pm2cli(['start', 'app.js', '--name', 'http', '--watch']);
  assert.equal(r.code, 0, r.stderr + r.stdout);
  let list = await jlist(box);
  assert.deepEqual(list.map((p) => [p.name, p.pm2_env.status]), [['http', 'online']]);
  assert.equal(await watch(), true);
  r = await box.pm2cli(['start', 'app.js', '--name', 'http']);
  assert.equal(r.code, 1, 'a running script is not started twice');
  await box.pm2cli(['restart', 'http', '--watch']);
  assert.equal(await watch(), false);
  await box.pm2cli(['restart', 'http', '--watch']);
  assert.equal(await watch(), true);
  list = await jlist(box);
  assert.equal(list.length, 1);
});

test('a number is a valid app name: selecting it finds the name before the id', async (t) => {
  const box = await withApp(t, '455');
  let r = await box.pm2cli(['restart', '455']);
  assert.equal(r.code, 0, r.stderr);
  let [p] = await jlist(box);
  assert.deepEqual([p.name, p.pm2_env.restart_time], ['455', 1]);
  r = await box.pm2cli(['restart', '0']);
  assert.equal(r.code, 0, r.stderr);
  [p] = await jlist(box);
  assert.equal(p.pm2_env.restart_time, 2);
});

test('-p names the pid file, with the instance id added', async (t) => {
  const box = await withApp(t, 'echo', ['-p', 'echo.pid']);
  const [p] = await jlist(box);
  const file = path.join(box.dir, 'echo-0.pid');
  await waitFor(() => fs.existsSync(file));
  assert.equal(fs.readFileSync(file, 'utf8').trim(), String(p.pid));
});

test('a .json config that is not strict JSON is read as a JavaScript expression, as pm2 reads it', async (t) => {
  const box = await cliSandbox(t);
  box.writeApp('app.js', TICKER);
  box.writeApp('loose.json', "{\n  // one app\n  apps: [{ script: 'app.js', name: 'loose', env: { MODE: 'x' } }]\n}\n");
  const r = await box.pm2cli(['start', 'loose.json']);
  assert.equal(r.code, 0, r.stderr + r.stdout);
  const [p] = await jlist(box);
  assert.deepEqual([p.name, p.pm2_env.env.MODE], ['loose', 'x']);
});

test('a config file\'s static entries and script "serve" start file servers', async (t) => {
  const { freePort, localGet } = require('./http');
  const box = await cliSandbox(t);
  box.writeApp('www/index.html', 'home page');
  const [a, b] = [await freePort(), await freePort()];
  box.writeApp('eco.json', JSON.stringify({
    apps: [{ name: 'front', script: 'serve', env: { PM2_SERVE_PORT: b, PM2_SERVE_PATH: 'www' } }],
    static: [{ path: 'www', port: a, basic_auth: { username: 'u', password: 'p' } }],
  }));
  const r = await box.pm2cli(['start', 'eco.json']);
  assert.equal(r.code, 0, r.stderr + r.stdout);
  assert.deepEqual((await jlist(box)).map((p) => p.name).sort(), ['front', `static-page-server-${a}`]);
  const auth = { Authorization: 'Basic ' + Buffer.from('u:p').toString('base64') };
  const page = await waitFor(() => localGet(a, '/', auth).catch(() => null), { timeout: 15000 });
  assert.deepEqual([page.status, page.body], [200, 'home page']);
  assert.equal((await localGet(a, '/')).status, 401);
  const front = await waitFor(() => localGet(b, '/index.html').catch(() => null), { timeout: 15000 });
  assert.equal(front.body, 'home page');
});

test('updatePM2 restarts the daemon and keeps the apps', async (t) => {
  const box = await withApp(t);
  const r = await box.pm2cli(['updatePM2']);
  assert.equal(r.code, 0, r.stderr + r.stdout);
  const list = await waitFor(async () => { const l = await jlist(box); return l.length === 1 && l[0].pm2_env.status === 'online' && l; });
  assert.equal(list[0].name, 'api');
});

test('pm2-dev --test-mode starts the app watched under ~/.pm2-dev and returns', async (t) => {
  const { ROOT, runChild } = require('./helpers');
  const dev = IS_ORIGINAL ? path.join(ROOT, 'node_modules', 'pm2-original', 'bin', 'pm2-dev') : path.join(ROOT, 'bin', 'pm2-dev');
  const box = await cliSandbox(t);
  const devHome = path.join(box.dir, '.pm2-dev');
  box.trackHome(devHome);
  box.writeApp('app.js', TICKER);
  const r = await runChild(dev, ['start', 'app.js', '--test-mode'], { cwd: box.dir, env: { HOME: box.dir, PM2_HOME: undefined }, timeout: 30000 });
  assert.equal(r.code, 0, r.stderr + r.stdout);
  const list = await waitFor(async () => {
    const l = JSON.parse((await box.pm2cli(['jlist'], { env: { PM2_HOME: devHome } })).stdout);
    return l.length === 1 && l[0].pm2_env.status === 'online' && l;
  });
  assert.equal(list[0].pm2_env.watch, true);
});

test('out-of-scope commands say so and exit 1', { skip: IS_ORIGINAL }, async (t) => {
  const box = await cliSandbox(t);
  const r = await box.pm2cli(['link', 'a', 'b']);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /PM2 Plus is not supported/);
});
