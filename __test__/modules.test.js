'use strict';

// pm2's module calls as scripts make them: uninstall('all') with nothing installed, the
// module configuration in $PM2_HOME/module_conf.json (set / get / unset / multiset / conf,
// where pm2-logrotate keeps its settings), install('pm2-logrotate') when rotation is built
// in, and a clear error for other modules. Then destroy(), which deletes only a pm2 home.

const { test } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const zlib = require('node:zlib');

const { IS_ORIGINAL, impl, sandbox, call, isAlive, waitFor, apps, readDaemonPid } = require('./helpers');
const { cliSandbox } = require('./cli-helpers');

const TEST_TIMEOUT = 60000;
const ONLY_OURS = IS_ORIGINAL && 'beyond pm2: rotation is built in, modules are refused clearly';

function moduleConf(home) {
  return JSON.parse(fs.readFileSync(path.join(home, 'module_conf.json'), 'utf8'));
}

test("uninstall('all') with no module installed succeeds", { timeout: TEST_TIMEOUT }, async (t) => {
  const { pm2 } = await sandbox(t);
  await call(pm2, 'connect');
  await call(pm2, 'uninstall', 'all');
});

test('set, multiset and unset keep module_conf.json as pm2 does', { timeout: TEST_TIMEOUT }, async (t) => {
  const { pm2, home } = await sandbox(t);
  await call(pm2, 'connect');
  await call(pm2, 'set', 'pm2-logrotate:max_size', '10M');
  await call(pm2, 'set', 'pm2-logrotate:retain', '7');
  await call(pm2, 'set', 'my-module.nested.key', 'deep');
  assert.deepEqual(moduleConf(home), {
    'pm2-logrotate': { max_size: '10M', retain: '7' },
    'my-module': { nested: { key: 'deep' } },
  });
  await call(pm2, 'multiset', 'pm2-logrotate:compress true pm2-logrotate:max_size 1G');
  assert.deepEqual(moduleConf(home)['pm2-logrotate'], { max_size: '1G', retain: '7', compress: 'true' });
  await call(pm2, 'unset', 'pm2-logrotate:retain');
  assert.deepEqual(moduleConf(home)['pm2-logrotate'], { max_size: '1G', compress: 'true' });
  await call(pm2, 'unset', 'all');
  assert.deepEqual(moduleConf(home), {});
});

test('get answers a value, a module\'s settings or everything; an unknown key is an error', { timeout: TEST_TIMEOUT, skip: IS_ORIGINAL && 'pm2 prints the value and answers {success: true}' }, async (t) => {
  const { pm2 } = await sandbox(t);
  await pm2.set('pm2-logrotate:max_size', '10M');
  await pm2.conf('pm2-logrotate:retain', '3');
  assert.equal(await call(pm2, 'get', 'pm2-logrotate:max_size'), '10M');
  assert.equal(await pm2.conf('pm2-logrotate:retain'), '3');
  assert.deepEqual(await pm2.get('pm2-logrotate'), { max_size: '10M', retain: '3' });
  assert.deepEqual(await pm2.get(), { 'pm2-logrotate': { max_size: '10M', retain: '3' } });
  await assert.rejects(pm2.get('pm2-logrotate:nope'), /Unknown key: pm2-logrotate:nope/);
  await assert.rejects(pm2.set('__proto__:polluted', 'x'), /Invalid configuration key/);
  await assert.rejects(pm2.multiset('pm2-logrotate:retain 3 dangling'), /"key value" pairs/);
  await assert.rejects(pm2.conf(), /not supported.*set\(key, value\)/);
});

test("install('pm2-logrotate') reports that rotation is built in and keeps its settings", { timeout: TEST_TIMEOUT, skip: ONLY_OURS }, async (t) => {
  const { pm2, home } = await sandbox(t);
  await pm2.set('pm2-logrotate:max_size', '50M');
  const res = await call(pm2, 'install', 'pm2-logrotate');
  assert.equal(res.builtin, true);
  assert.match(res.message, /rotation is built in/i);
  const conf = moduleConf(home)['pm2-logrotate'];
  assert.equal(conf.max_size, '50M', 'a value already set is kept');
  assert.equal(conf.retain, '30', "pm2-logrotate's defaults fill the rest");
  assert.ok(!fs.existsSync(path.join(home, 'modules', 'pm2-logrotate')), 'nothing was installed');
  await pm2.uninstall('pm2-logrotate');
  assert.equal(moduleConf(home)['pm2-logrotate'], undefined);
});

test('pm2 install pm2-logrotate succeeds, saying rotation is built in, so setup scripts keep working', { timeout: TEST_TIMEOUT, skip: ONLY_OURS }, async (t) => {
  const box = await cliSandbox(t);
  let r = await box.pm2cli(['install', 'pm2-logrotate']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /rotation is built in/i);
  assert.equal(moduleConf(box.home)['pm2-logrotate'].max_size, '10M');
  r = await box.pm2cli(['uninstall', 'pm2-logrotate']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(moduleConf(box.home)['pm2-logrotate'], undefined);
  r = await box.pm2cli(['install', 'pm2-server-monit']);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /Installing pm2 modules is not supported \(pm2-server-monit\)/);
});

test('installing any other module is a clear error that says what to do instead', { timeout: TEST_TIMEOUT, skip: ONLY_OURS }, async (t) => {
  const { pm2 } = await sandbox(t);
  await assert.rejects(call(pm2, 'install', 'pm2-server-monit'), /Installing pm2 modules is not supported \(pm2-server-monit\).*start\(\)/);
  await assert.rejects(pm2.uninstall('pm2-server-monit'), /Unknown module pm2-server-monit/);
});

// ---------------------------------------------------------------------------
// pm2-logrotate's settings drive the built-in rotation (beyond pm2: there they need the module)

// Writes a numbered line of ~90 bytes every few milliseconds until stopped.
const CHATTY = "let i = 0; setInterval(() => console.log(`line-${String(i++).padStart(6, '0')} ${'x'.repeat(76)}`), 4);\n";

// The rotated files of `<stem>.log` in `dir`: `<stem>__<date>[.n].log[.gz]`.
function rotated(dir, stem) {
  return fs.readdirSync(dir).filter((f) => f.startsWith(`${stem}__`) && /\.log(\.gz)?$/.test(f)).sort();
}

test('pm2 set pm2-logrotate:max_size rotates the logs of running apps; retain prunes and compress gzips, without a daemon restart', { timeout: TEST_TIMEOUT, skip: ONLY_OURS }, async (t) => {
  const box = await cliSandbox(t);
  const { pm2, home, writeApp } = box;
  const logs = path.join(home, 'logs');
  await call(pm2, 'start', { script: writeApp('chatty.js', CHATTY), name: 'chatty' });
  await call(pm2, 'start', { script: writeApp('own.js', CHATTY), name: 'own', max_size: '100M' });
  const daemonPid = readDaemonPid(home);
  await waitFor(() => fs.statSync(path.join(logs, 'chatty-out.log')).size > 2048, { timeout: 15000 });
  assert.deepEqual(rotated(logs, 'chatty-out'), [], 'no rotation before it is set');

  const r = await box.pm2cli(['set', 'pm2-logrotate:max_size', '1K']);
  assert.equal(r.code, 0, r.stderr);
  const first = await waitFor(() => rotated(logs, 'chatty-out').length >= 3 && rotated(logs, 'chatty-out'), { timeout: 15000, message: 'chatty-out.log never rotated' });
  for (const f of first) {
    assert.match(f, /^chatty-out__\d{4}-\d{2}-\d{2}_\d{2}-\d{2}-\d{2}(\.\d+)?\.log$/);
    assert.ok(fs.statSync(path.join(logs, f)).size >= 1024, `${f} rotated at max_size`);
  }
  assert.ok(fs.statSync(path.join(logs, 'own-out.log')).size > 2048, "an app's own max_size wins over pm2-logrotate's");
  assert.deepEqual(rotated(logs, 'own-out'), []);

  await pm2.set('pm2-logrotate:retain', '2');
  await waitFor(() => rotated(logs, 'chatty-out').length === 2, { timeout: 15000, message: `retain 2 never pruned: ${rotated(logs, 'chatty-out')}` });

  await pm2.multiset('pm2-logrotate:compress true pm2-logrotate:retain 50');
  const gzipped = () => rotated(logs, 'chatty-out').filter((f) => f.endsWith('.gz'));
  const gz = await waitFor(() => gzipped().length > 0 && gzipped(), { timeout: 15000, message: 'compress never gzipped' });
  assert.match(zlib.gunzipSync(fs.readFileSync(path.join(logs, gz[0]))).toString(), /^line-\d{6} x+\n/);
  assert.equal(readDaemonPid(home), daemonPid, 'the same daemon throughout');

  // Without pm2-logrotate's settings, rotation stops: the log grows past 1K again.
  await pm2.uninstall('pm2-logrotate');
  await waitFor(() => fs.statSync(path.join(logs, 'chatty-out.log')).size > 4096, { timeout: 15000, message: 'still rotating after uninstall' });
});

test("pm2-logrotate's rotateInterval rotates every app's logs on its schedule, named with dateFormat", { timeout: TEST_TIMEOUT, skip: ONLY_OURS }, async (t) => {
  const { pm2, home, writeApp } = await sandbox(t);
  const logs = path.join(home, 'logs');
  await call(pm2, 'start', { script: writeApp('slow.js', "setInterval(() => console.log('tick'), 50);\n"), name: 'slow' });
  await pm2.multiset('pm2-logrotate:max_size 100M pm2-logrotate:dateFormat [at]-YYYYMMDD-HHmmss');
  await pm2.set('pm2-logrotate:rotateInterval', '* * * * * *');
  const files = await waitFor(() => rotated(logs, 'slow-out').length >= 3 && rotated(logs, 'slow-out'), { timeout: 20000, message: 'no scheduled rotation' });
  for (const f of files) {
    assert.match(f, /^slow-out__at-\d{8}-\d{6}(\.\d+)?\.log$/);
    assert.match(fs.readFileSync(path.join(logs, f), 'utf8'), /^(tick\n)+$/, `${f} holds whole lines`);
  }
  // A daemon started later reads the settings from module_conf.json.
  await call(pm2, 'killDaemon');
  await call(pm2, 'start', { script: writeApp('slow.js', "setInterval(() => console.log('tock'), 50);\n"), name: 'slow' });
  await waitFor(() => rotated(logs, 'slow-out').some((f) => fs.readFileSync(path.join(logs, f), 'utf8').startsWith('tock')), { timeout: 20000, message: 'a new daemon did not rotate on schedule' });
});

test("a pm2-logrotate value rotation cannot use is refused, naming the key, and module_conf.json keeps what it had", { timeout: TEST_TIMEOUT, skip: ONLY_OURS }, async (t) => {
  const box = await cliSandbox(t);
  const { pm2, home } = box;
  await pm2.set('pm2-logrotate:max_size', '10M');
  await assert.rejects(pm2.set('pm2-logrotate:max_size', 'huge'), /pm2-logrotate:max_size must be a size such as 10M/);
  await assert.rejects(pm2.set('pm2-logrotate:rotateInterval', 'every day'), /pm2-logrotate:rotateInterval must be a cron pattern/);
  await assert.rejects(pm2.multiset('pm2-logrotate:retain 5 pm2-logrotate:compress maybe'), /pm2-logrotate:compress must be true or false/);
  assert.deepEqual(moduleConf(home)['pm2-logrotate'], { max_size: '10M' });
  const r = await box.pm2cli(['set', 'pm2-logrotate:retain', 'many']);
  assert.equal(r.code, 1);
  assert.match(r.stderr + r.stdout, /pm2-logrotate:retain must be a number of files, or all/);
  assert.deepEqual(moduleConf(home)['pm2-logrotate'], { max_size: '10M' });
});

// ---------------------------------------------------------------------------
// destroy

test('destroy stops the daemon and its apps and deletes the pm2 home', { timeout: TEST_TIMEOUT, skip: ONLY_OURS }, async (t) => {
  const { pm2, home, writeApp } = await sandbox(t);
  await call(pm2, 'start', { script: writeApp('a.js', apps.forever), name: 'a' });
  const [proc] = await waitFor(async () => {
    const l = await call(pm2, 'list');
    return l.length === 1 && l[0].pid ? l : false;
  }, { timeout: 15000 });
  await pm2.set('pm2-logrotate:max_size', '1M');
  await call(pm2, 'destroy');
  assert.equal(fs.existsSync(home), false);
  await waitFor(() => !isAlive(proc.pid), { timeout: 10000, message: 'the app survived destroy' });
});

test('destroy refuses a directory that is not a pm2 home and leaves it untouched', { timeout: TEST_TIMEOUT, skip: ONLY_OURS }, async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'not-a-pm2-home-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  fs.writeFileSync(path.join(dir, 'package.json'), '{}');
  fs.mkdirSync(path.join(dir, 'src'));
  fs.writeFileSync(path.join(dir, 'src', 'index.js'), '// user code\n');
  const pm2 = new (impl().custom)({ pm2_home: dir });
  await assert.rejects(pm2.destroy(), /Refusing to destroy .*not a pm2 home.*package\.json.*nothing was deleted/);
  assert.equal(fs.readFileSync(path.join(dir, 'src', 'index.js'), 'utf8'), '// user code\n');
  assert.ok(fs.existsSync(path.join(dir, 'package.json')));
  assert.equal(fs.existsSync(path.join(dir, 'rpc.sock')), false, 'no daemon was started there');
});
