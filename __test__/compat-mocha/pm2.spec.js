'use strict';

// Run by __test__/compat.test.js as `mocha __test__/compat-mocha/*.spec.js` (no --exit):
// mocha must exit on its own once the suite has killed the daemon and disconnected.
// Callbacks are handed straight to mocha's `done`, as pm2's own suites do.

const assert = require('assert');
const fs = require('fs');
const os = require('os');
const path = require('path');
const { implPath } = require('../helpers');

const PM2 = require(implPath()).custom;

describe('pm2 programmatic API under mocha', function () {
  this.timeout(30000);

  // compat.test.js hands in a sandbox (and cleans it up); standalone runs make their own.
  const home = process.env.PM2_COMPAT_HOME || fs.mkdtempSync(path.join(os.tmpdir(), 'pm2-test-'));
  const dir = process.env.PM2_COMPAT_DIR || fs.mkdtempSync(path.join(os.tmpdir(), 'pm2-test-app-'));
  fs.writeFileSync(path.join(dir, 'app.js'), 'setInterval(() => {}, 1000);\n');
  const pm2 = new PM2({ pm2_home: home, cwd: dir, daemon_mode: true });

  before(function (done) {
    pm2.connect(done);
  });

  after(function (done) {
    pm2.killDaemon(function (err) {
      pm2.disconnect(function () {
        fs.rmSync(home, { recursive: true, force: true });
        fs.rmSync(dir, { recursive: true, force: true });
        done(err);
      });
    });
  });

  it('starts an app', function (done) {
    pm2.start({ script: 'app.js', name: 'mocha-app' }, done);
  });

  it('lists it online', function (done) {
    pm2.list(function (err, list) {
      if (err) return done(err);
      assert.deepStrictEqual(list.map((x) => x.name), ['mocha-app']);
      assert.strictEqual(list[0].pm2_env.status, 'online');
      done();
    });
  });

  it('stops it', function (done) {
    pm2.stop('mocha-app', done);
  });
});
