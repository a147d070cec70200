'use strict';

// Real test frameworks driving the module: a jest suite (with --detectOpenHandles) and a
// mocha suite (without --exit) must both pass and exit by themselves once the suite has
// called killDaemon + disconnect.

const { test } = require('node:test');
const assert = require('node:assert/strict');
const path = require('node:path');

const { IS_ORIGINAL, ROOT, sandbox, runChild, describeRun } = require('./helpers');

const RUN_TIMEOUT = 90000;

// The CLIs of the installed devDependencies (what `npx jest` / `npx mocha` would run),
// started with this node binary, from the repository root.
const JEST = require.resolve('jest/bin/jest', { paths: [ROOT] });
const MOCHA = require.resolve('mocha/bin/mocha.js', { paths: [ROOT] });

test('jest suite passes and exits without open handles', {
  skip: IS_ORIGINAL && 'original pm2 kills jest: its killDaemon has the daemon send SIGQUIT to the caller, '
    + "and the SIGQUIT listener lands on jest's sandboxed process object (jest dies with signal SIGQUIT)",
  timeout: RUN_TIMEOUT + 30000,
}, async (t) => {
  const { home, dir } = await sandbox(t);
  const r = await runChild(process.execPath, [
    JEST, '--rootDir', path.join('__test__', 'compat-jest'), '--detectOpenHandles', '--ci',
  ], { cwd: ROOT, timeout: RUN_TIMEOUT, env: { PM2_COMPAT_HOME: home, PM2_COMPAT_DIR: dir } });
  assert.equal(r.timedOut, false, `jest did not exit\n${describeRun(r)}`);
  assert.equal(r.code, 0, describeRun(r));
  assert.match(r.stderr, /Tests:\s+2 passed/, describeRun(r));
  assert.doesNotMatch(r.stderr, /Jest has detected the following/, describeRun(r));
  assert.doesNotMatch(r.stderr + r.stdout, /did not exit one second after/, describeRun(r));
});

test('mocha suite passes and exits without --exit', {
  skip: IS_ORIGINAL && 'original pm2 keeps retrying its RPC socket after killDaemon, so mocha never exits without --exit',
  timeout: RUN_TIMEOUT + 30000,
}, async (t) => {
  const { home, dir } = await sandbox(t);
  const r = await runChild(process.execPath, [
    MOCHA, path.join('__test__', 'compat-mocha', '*.spec.js'),
  ], { cwd: ROOT, timeout: RUN_TIMEOUT, env: { PM2_COMPAT_HOME: home, PM2_COMPAT_DIR: dir } });
  assert.equal(r.timedOut, false, `mocha did not exit\n${describeRun(r)}`);
  assert.equal(r.code, 0, describeRun(r));
  assert.match(r.stdout, /3 passing/, describeRun(r));
  assert.doesNotMatch(r.stdout, /failing/, describeRun(r));
});
