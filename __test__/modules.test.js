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

const { IS_ORIGINAL, impl, sandbox, call, isAlive, waitFor, apps } = require('./helpers');

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

test('installing any other module is a clear error that says what to do instead', { timeout: TEST_TIMEOUT, skip: ONLY_OURS }, async (t) => {
  const { pm2 } = await sandbox(t);
  await assert.rejects(call(pm2, 'install', 'pm2-server-monit'), /Installing pm2 modules is not supported \(pm2-server-monit\).*start\(\)/);
  await assert.rejects(pm2.uninstall('pm2-server-monit'), /Unknown module pm2-server-monit/);
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
