'use strict';

// A project that installs this package gets its `pm2` command: package.json scripts and npx
// run it as they ran the original's.

const { test } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');

const { ROOT, IS_ORIGINAL, runChild, sandbox } = require('./helpers');
const { tableRows, plain } = require('./cli-helpers');

test('npm run start / stop and npx pm2 ls work in a project that installed the package', { skip: IS_ORIGINAL }, async (t) => {
  const { home, dir, writeApp } = await sandbox(t);
  writeApp('package.json', JSON.stringify({
    name: 'scratch',
    private: true,
    scripts: { start: 'pm2 start ecosystem.config.js --env production', stop: 'pm2 delete all' },
  }));
  writeApp('app.js', "setInterval(() => console.log(process.env.MODE), 500)\n");
  writeApp('ecosystem.config.js', "module.exports = { apps: [{ name: 'web', script: './app.js', env_production: { MODE: 'production' } }] }\n");
  const env = { PM2_HOME: home, NO_COLOR: '1', PM2_PROGRAMMATIC: '', npm_config_audit: 'false', npm_config_fund: 'false', npm_config_update_notifier: 'false' };
  const npm = (args, timeout = 120000) => runChild('npm', args, { cwd: dir, env, timeout });
  const npx = (args) => runChild('npx', ['--offline', ...args], { cwd: dir, env, timeout: 60000 });

  let r = await npm(['install', '--offline', '--ignore-scripts', ROOT]);
  assert.equal(r.code, 0, r.stderr);
  assert.ok(fs.existsSync(path.join(dir, 'node_modules', '.bin', 'pm2')));

  r = await npm(['run', 'start']);
  assert.equal(r.code, 0, r.stderr + r.stdout);
  r = await npx(['pm2', 'ls']);
  assert.equal(r.code, 0, r.stderr);
  const rows = tableRows(plain(r.stdout));
  assert.deepEqual(rows.map((row) => [row.name, row.status]), [['web', 'online']]);
  r = await npx(['pm2', 'jlist']);
  assert.equal(JSON.parse(r.stdout)[0].pm2_env.env.MODE, 'production');

  r = await npm(['run', 'stop']);
  assert.equal(r.code, 0, r.stderr + r.stdout);
  r = await npx(['pm2', 'jlist']);
  assert.deepEqual(JSON.parse(r.stdout), []);
});
