'use strict';

// Run by __test__/compat.test.js as `jest --rootDir __test__/compat-jest --detectOpenHandles`.
// A typical user suite: connect in beforeAll, killDaemon + disconnect in afterAll; jest
// must exit on its own without open-handle warnings.

const fs = require('fs');
const os = require('os');
const path = require('path');
const { implPath } = require('../helpers');

const PM2 = require(implPath()).custom;

// compat.test.js hands in a sandbox (and cleans it up); standalone runs make their own.
const home = process.env.PM2_COMPAT_HOME || fs.mkdtempSync(path.join(os.tmpdir(), 'pm2-test-'));
const dir = process.env.PM2_COMPAT_DIR || fs.mkdtempSync(path.join(os.tmpdir(), 'pm2-test-app-'));
fs.writeFileSync(path.join(dir, 'app.js'), 'setInterval(() => {}, 1000);\n');
const pm2 = new PM2({ pm2_home: home, cwd: dir, daemon_mode: true });

const p = (fn) => new Promise((resolve, reject) => fn((err, res) => (err ? reject(err) : resolve(res))));

beforeAll(async () => {
  await p((cb) => pm2.connect(cb));
}, 30000);

afterAll(async () => {
  try {
    await p((cb) => pm2.killDaemon(cb));
    await new Promise((resolve) => pm2.disconnect(() => resolve()));
  } finally {
    fs.rmSync(home, { recursive: true, force: true });
    fs.rmSync(dir, { recursive: true, force: true });
  }
}, 30000);

test('start an app and list it', async () => {
  const procs = await p((cb) => pm2.start({ script: 'app.js', name: 'jest-app' }, cb));
  expect(Array.isArray(procs)).toBe(true);
  const list = await p((cb) => pm2.list(cb));
  expect(list.map((x) => x.name)).toEqual(['jest-app']);
  expect(list[0].pm2_env.status).toBe('online');
}, 30000);

test('describe the app', async () => {
  const desc = await p((cb) => pm2.describe('jest-app', cb));
  expect(desc).toHaveLength(1);
  expect(desc[0].pm_id).toBe(0);
}, 30000);
