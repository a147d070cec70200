'use strict';

// The rest of pm2's API object: every method pm2's has exists here and either works or
// fails with an Error saying what is not supported and what to use instead. Printing calls
// (jlist, env, report, printLogs, streamLogs) write to this process's stdout as pm2 does;
// serve starts a real static file server app; profile records a real CPU profile from an
// app that speaks @pm2/io's action protocol; deploy goes through pm2-deploy.

const { test } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const { IS_ORIGINAL, ROOT, implPath, sandbox, call, waitFor, readFileEventually, runChild, apps, onlineAll } = require('./helpers');
const { freePort, localGet } = require('./http');

const TEST_TIMEOUT = 60000;
const ONLY_OURS = IS_ORIGINAL && 'what this implementation adds or answers differently';

// Runs `fn` with process.stdout.write captured; answers [fn's result, what was written].
async function captureStdout(fn) {
  const original = process.stdout.write;
  let out = '';
  process.stdout.write = (chunk, ...rest) => {
    out += chunk;
    const cb = rest.find((r) => typeof r === 'function');
    if (cb) cb();
    return true;
  };
  try {
    return [await fn(), out];
  } finally {
    process.stdout.write = original;
  }
}


// ---------------------------------------------------------------------------
// every method exists

test("every method of pm2's API object exists", { timeout: TEST_TIMEOUT, skip: ONLY_OURS }, async (t) => {
  const { pm2 } = await sandbox(t);
  const original = require(path.join(ROOT, 'node_modules', 'pm2-original', 'lib', 'API.js'));
  const names = Object.getOwnPropertyNames(original.prototype)
    // every public method (internals start with an underscore)
    .filter((n) => n !== 'constructor' && !n.startsWith('_'));
  const missing = names.filter((n) => typeof pm2[n] !== 'function');
  assert.deepEqual(missing, []);
  for (const n of ['getProcessIdsByNamespace', 'launchSysMonitoring', 'plus']) assert.equal(typeof pm2[n], 'function', n);
});

test('what is not supported fails with an Error saying why and what to use, by errback and by promise', { timeout: TEST_TIMEOUT, skip: ONLY_OURS }, async (t) => {
  const { pm2 } = await sandbox(t);
  const { UNSUPPORTED } = require(path.join(ROOT, 'lib', 'unsupported.js'));
  for (const name of Object.keys(UNSUPPORTED)) {
    const viaErrback = await new Promise((resolve) => pm2[name]('app', (err) => resolve(err)));
    assert.ok(viaErrback instanceof Error, `${name} errback gets an Error`);
    assert.match(viaErrback.message, new RegExp(`^${name}\\(\\) is not supported: .+`), name);
    await assert.rejects(pm2[name](), (e) => e instanceof Error && e.message.includes('not supported'), name);
  }
  assert.match(UNSUPPORTED.link, /list\(\)/, 'PM2 Plus errors say what to use instead');
});

// ---------------------------------------------------------------------------
// printing calls

test('jlist prints the process list as JSON and answers it', { timeout: TEST_TIMEOUT, skip: ONLY_OURS }, async (t) => {
  const { pm2, writeApp } = await sandbox(t);
  await call(pm2, 'start', { script: writeApp('a.js', apps.forever), name: 'a' });
  await onlineAll(pm2, 'a');
  const [list, out] = await captureStdout(() => pm2.jlist());
  assert.deepEqual(JSON.parse(out).map((p) => p.name), ['a']);
  assert.equal(list[0].name, 'a');
});

test('env(id) prints the app\'s pm2_env as key: value lines; an unknown id is an error', { timeout: TEST_TIMEOUT, skip: ONLY_OURS }, async (t) => {
  const { pm2, writeApp } = await sandbox(t);
  await call(pm2, 'start', { script: writeApp('a.js', apps.forever), name: 'envapp' });
  await onlineAll(pm2, 'envapp');
  const [env, out] = await captureStdout(() => pm2.env(0));
  assert.equal(env.name, 'envapp');
  assert.match(out, /^name: envapp$/m);
  assert.match(out, /^pm_id: 0$/m);
  await assert.rejects(pm2.env(42), /Process with id 42 not found/);
});

test('getProcessIdsByNamespace answers the ids of a namespace', { timeout: TEST_TIMEOUT, skip: ONLY_OURS }, async (t) => {
  const { pm2, writeApp } = await sandbox(t);
  const script = writeApp('a.js', apps.forever);
  await call(pm2, 'start', { script, name: 'front', namespace: 'web' });
  await call(pm2, 'start', { script, name: 'worker', namespace: 'jobs' });
  await call(pm2, 'start', { script, name: 'back', namespace: 'web' });
  assert.deepEqual(await call(pm2, 'getProcessIdsByNamespace', 'web'), [0, 2]);
  assert.deepEqual(await pm2.getProcessIdsByNamespace('none'), []);
});

test('report prints the daemon, system and process facts', { timeout: TEST_TIMEOUT, skip: ONLY_OURS }, async (t) => {
  const { pm2, writeApp } = await sandbox(t);
  await call(pm2, 'start', { script: writeApp('a.js', apps.forever), name: 'rep' });
  const [report, out] = await captureStdout(() => pm2.report());
  assert.match(out, /PM2 report/);
  assert.match(out, /rep/);
  assert.equal(report.processes[0].name, 'rep');
  assert.equal(report.daemon.version, await pm2.getVersion());
});

test('printLogs and streamLogs write the apps\' lines to stdout as `pm2 logs` does', { timeout: TEST_TIMEOUT, skip: ONLY_OURS }, async (t) => {
  const { pm2, writeApp, logPath } = await sandbox(t);
  const script = writeApp('talk.js', [
    "console.log('first line');",
    "console.error('an error line');",
    "process.on('message', (m) => { if (m && m.data) console.log(m.data.say); });",
    'setInterval(() => {}, 1000);',
    '',
  ].join('\n'));
  await call(pm2, 'start', { script, name: 'talk' });
  await readFileEventually(logPath('talk-out.log'), { predicate: (c) => c.includes('first line') });
  await readFileEventually(logPath('talk-error.log'), { predicate: (c) => c.includes('an error line') });

  const [, printed] = await captureStdout(() => pm2.printLogs('talk', 5, false, false, false));
  assert.match(printed, /\[TAILING\] Tailing last 5 lines for \[talk\] process/);
  assert.match(printed, /0\|talk\s*\| first line/);
  assert.match(printed, /0\|talk\s*\| an error line/);

  let streamed = '';
  const original = process.stdout.write;
  process.stdout.write = (chunk) => { streamed += chunk; return true; };
  let stream;
  try {
    stream = await pm2.streamLogs('talk', 0);
    await pm2.sendDataToProcessId(0, { topic: 'say', data: { say: 'streamed line' } });
    await waitFor(() => streamed.includes('streamed line'), { timeout: 10000, message: 'line never streamed' });
  } finally {
    process.stdout.write = original;
    if (stream) await stream.close();
  }
  assert.match(streamed, /0\|talk\s*\| streamed line\n/);
});

test("attach sends this process's stdin to the app line by line, until stdin ends", { timeout: TEST_TIMEOUT, skip: ONLY_OURS }, async (t) => {
  const { pm2, home, dir, writeApp } = await sandbox(t);
  const got = path.join(dir, 'got.txt');
  const script = writeApp('echo.js', [
    "const fs = require('fs');",
    "require('readline').createInterface({ input: process.stdin }).on('line', (l) => fs.appendFileSync(process.argv[2], l + '\\n'));",
    'setInterval(() => {}, 1000);',
    '',
  ].join('\n'));
  await call(pm2, 'start', { script, name: 'echo', args: [got] });
  await onlineAll(pm2, 'echo');
  const attacher = writeApp('attach.js', [
    `const PM2 = require(${JSON.stringify(implPath())}).custom;`,
    `const pm2 = new PM2({ pm2_home: ${JSON.stringify(home)} });`,
    "pm2.attach(0).then(() => pm2.disconnect()).then(() => console.log('detached'), (e) => { console.error(e.message); process.exit(1); });",
    '',
  ].join('\n'));
  const res = await runChild(process.execPath, [attacher], { input: 'hello\nworld\n', timeout: 20000 });
  assert.equal(res.code, 0, res.stderr);
  assert.match(res.stdout, /detached/);
  assert.equal(await readFileEventually(got, { predicate: (c) => c.includes('world') }), 'hello\nworld\n');
  await assert.rejects(pm2.attach('echo'), /process id/);
});

// ---------------------------------------------------------------------------
// @pm2/io actions

test('inspect without @pm2/io in the app says what it needs', { timeout: TEST_TIMEOUT, skip: ONLY_OURS }, async (t) => {
  const { pm2, writeApp } = await sandbox(t);
  await call(pm2, 'start', { script: writeApp('a.js', apps.forever), name: 'plain' });
  await onlineAll(pm2, 'plain');
  await assert.rejects(pm2.inspect('plain'), (e) => /@pm2\/io/.test(e.message) && /--inspect/.test(e.message));
});

test('profile without an app offering the profiling actions is a clear error', { timeout: TEST_TIMEOUT, skip: ONLY_OURS }, async (t) => {
  const { pm2, writeApp } = await sandbox(t);
  await call(pm2, 'start', { script: writeApp('a.js', apps.forever), name: 'plain' });
  await onlineAll(pm2, 'plain');
  await assert.rejects(pm2.profile('cpu', 10), /not supported.*@pm2\/io.*km:cpu:profiling:start/s);
  await assert.rejects(pm2.profile('disk'), /'cpu' or 'mem'/);
});

// Speaks @pm2/io's action protocol: declares the CPU profiling actions and records a real
// profile with the inspector, answering the stop action with the profile's file.
const PROFILED_APP = [
  "const inspector = require('inspector');",
  "const fs = require('fs');",
  "const path = require('path');",
  'const session = new inspector.Session();',
  'session.connect();',
  'function send(type, data) { process.send({ type, data }); }',
  "for (const name of ['km:cpu:profiling:start', 'km:cpu:profiling:stop']) send('axm:action', { action_name: name, action_type: 'internal', arity: 1, opts: null });",
  "function reply(name, ret) { send('axm:reply', { at: Date.now(), action_name: name, return: ret }); }",
  "process.on('message', (msg) => {",
  "  const name = typeof msg === 'string' ? msg : msg && msg.msg;",
  "  if (name === 'km:cpu:profiling:start') {",
  "    session.post('Profiler.enable', () => session.post('Profiler.start', () => reply(name, { success: true })));",
  "  } else if (name === 'km:cpu:profiling:stop') {",
  "    session.post('Profiler.stop', (err, res) => {",
  "      const file = path.join(process.cwd(), 'app.cpuprofile');",
  '      fs.writeFileSync(file, JSON.stringify(res.profile));',
  "      reply(name, { success: true, cpuprofile: true, dump_file: file });",
  '    });',
  '  }',
  '});',
  'setInterval(() => { let x = 0; for (let i = 0; i < 1e5; i++) x += i; }, 5);',
  '',
].join('\n');

test('profile records a CPU profile of each app whose @pm2/io offers it', { timeout: TEST_TIMEOUT, skip: ONLY_OURS }, async (t) => {
  const { pm2, writeApp, dir } = await sandbox(t);
  await call(pm2, 'start', { script: writeApp('prof.js', PROFILED_APP), name: 'prof' });
  await waitFor(async () => {
    const [p] = await call(pm2, 'describe', 'prof');
    return p && (p.pm2_env.axm_actions || []).length === 2;
  }, { timeout: 15000, message: 'profiling actions never declared' });
  const files = await call(pm2, 'profile', 'cpu', 300);
  assert.equal(files.length, 1);
  assert.equal(files[0].name, 'prof');
  assert.equal(path.dirname(files[0].file), dir);
  assert.match(path.basename(files[0].file), /^prof-0-.*\.cpuprofile$/);
  const profile = JSON.parse(fs.readFileSync(files[0].file, 'utf8'));
  assert.ok(Array.isArray(profile.nodes) && profile.nodes.length > 0, 'a real CPU profile');
});

// ---------------------------------------------------------------------------
// serve

test('serve starts a static file server app, as pm2 serve does', { timeout: TEST_TIMEOUT }, async (t) => {
  const { pm2, dir } = await sandbox(t);
  const site = path.join(dir, 'site');
  fs.mkdirSync(path.join(site, 'sub'), { recursive: true });
  fs.writeFileSync(path.join(site, 'index.html'), '<h1>home</h1>');
  fs.writeFileSync(path.join(site, 'sub', 'data.json'), '{"ok":true}');
  const port = await freePort();
  await call(pm2, 'serve', site, port, {}, {});
  const [proc] = await onlineAll(pm2, `static-page-server-${port}`);
  assert.equal(proc.pm2_env.pm_cwd, site);
  const home = await waitFor(() => localGet(port, '/').catch(() => null), { timeout: 15000, message: 'server never answered' });
  assert.equal(home.status, 200);
  assert.equal(home.body, '<h1>home</h1>');
  const data = await localGet(port, '/sub/data.json');
  assert.equal(data.status, 200);
  assert.match(data.type, /json/);
  assert.equal((await localGet(port, '/missing.txt')).status, 404);
});

test('serve: single-page apps, basic auth, and no path outside the served directory', { timeout: TEST_TIMEOUT, skip: ONLY_OURS }, async (t) => {
  const { pm2, dir } = await sandbox(t);
  const site = path.join(dir, 'site');
  fs.mkdirSync(site);
  fs.writeFileSync(path.join(site, 'index.html'), 'spa');
  fs.writeFileSync(path.join(site, 'other.html'), 'other page');
  fs.writeFileSync(path.join(dir, 'secret.txt'), 'secret');
  const port = await freePort();
  await pm2.serve(site, port, { spa: true, basicAuthUsername: 'u', basicAuthPassword: 'p' });
  const auth = { Authorization: 'Basic ' + Buffer.from('u:p').toString('base64') };
  const deep = await waitFor(() => localGet(port, '/some/route', auth).catch(() => null), { timeout: 15000, message: 'server never answered' });
  assert.equal(deep.status, 200);
  assert.equal(deep.body, 'spa');
  // A page linked relatively from any route is found by its name at the root.
  const linked = await localGet(port, '/some/route/other.html', auth);
  assert.equal(linked.status, 200);
  assert.equal(linked.body, 'other page');
  assert.equal((await localGet(port, '/')).status, 401);
  const escape = await localGet(port, '/../secret.txt', auth);
  assert.notEqual(escape.body, 'secret');
  const encoded = await localGet(port, '/%2e%2e/secret.txt', auth);
  assert.notEqual(encoded.body, 'secret');
});

// ---------------------------------------------------------------------------
// generated files

test('generateSample writes an ecosystem file that start() runs, and never replaces one', { timeout: TEST_TIMEOUT, skip: ONLY_OURS }, async (t) => {
  const { pm2, dir, writeApp } = await sandbox(t);
  writeApp('app.js', apps.forever);
  const res = await pm2.generateSample('simple');
  assert.equal(res.file, path.join(dir, 'ecosystem.config.js'));
  await call(pm2, 'start', res.file);
  await onlineAll(pm2, 'app');
  await assert.rejects(pm2.generateSample(), /already exists/);
  fs.rmSync(res.file);
  await pm2.generateSample();
  assert.match(fs.readFileSync(res.file, 'utf8'), /env_production/);
});

test('generateDockerfile writes a Dockerfile, replaced only with force', { timeout: TEST_TIMEOUT, skip: ONLY_OURS }, async (t) => {
  const { pm2, dir } = await sandbox(t);
  const res = await pm2.generateDockerfile('app.js');
  assert.equal(res.Dockerfile_path, path.join(dir, 'Dockerfile'));
  const text = fs.readFileSync(res.Dockerfile_path, 'utf8');
  assert.match(text, /^FROM keymetrics\/pm2:latest$/m);
  assert.match(text, /^CMD \["pm2-dev", "app.js", "--env", "development"\]$/m);
  await assert.rejects(pm2.generateDockerfile('app.js'), /already exists/);
  await pm2.generateDockerfile('app.js', { force: true, mode: 'distribution', node_version: '20' });
  assert.match(fs.readFileSync(res.Dockerfile_path, 'utf8'), /^CMD \["pm2-docker", "app.js", "--env", "production"\]$/m);
});

// ---------------------------------------------------------------------------
// deploy

test('deploy goes through pm2-deploy with the config file\'s deploy section', { timeout: TEST_TIMEOUT, skip: ONLY_OURS }, async (t) => {
  const { pm2, dir } = await sandbox(t);
  const file = path.join(dir, 'ecosystem.config.js');
  fs.writeFileSync(file, `module.exports = { apps: [{ script: 'app.js' }], deploy: { production: { user: 'me', repo: 'git@example.invalid:x.git', path: '/srv/x', ref: 'origin/main' } } }\n`);
  await assert.rejects(pm2.deploy(file, ['staging']), /staging environment is not defined/);
  await assert.rejects(pm2.deploy(file), /environment to deploy to/);
  // pm2-deploy validates the section itself: without a host nothing is run
  await assert.rejects(pm2.deploy(file, { rawArgs: ['node', 'pm2', 'deploy', file, 'production', 'setup'] }), /host/);
  const noDeploy = path.join(dir, 'plain.json');
  fs.writeFileSync(noDeploy, JSON.stringify({ apps: [{ script: 'app.js' }] }));
  await assert.rejects(pm2.deploy(noDeploy, ['production']), /production environment is not defined/);
});
