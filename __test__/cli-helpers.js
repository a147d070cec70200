'use strict';

// Runs the `pm2` command as a user would, in a test's sandbox (its own PM2_HOME and app
// directory). With PM2_IMPL=pm2-original the original pm2's command runs instead, so the
// same checks hold for both where the two agree.

const assert = require('node:assert/strict');
const path = require('node:path');
const { execFileSync } = require('node:child_process');
const { ROOT, IS_ORIGINAL, sandbox, runChild } = require('./helpers');

const CLI = IS_ORIGINAL ? path.join(ROOT, 'node_modules', 'pm2-original', 'bin', 'pm2') : path.join(ROOT, 'bin', 'pm2');

// pm2's output without colours (the original prints them even when piped unless told not to).
function plain(text) {
  return text.replace(/\x1b\[[0-9;]*m/g, '');
}

// A sandbox with `pm2(...args)`: resolves { code, stdout, stderr } (colourless).
async function cliSandbox(t) {
  const box = await sandbox(t);
  box.pm2cli = async (args, { env, cwd, timeout = 30000, input } = {}) => {
    const r = await runChild(CLI, args, {
      cwd: cwd || box.dir,
      // The test process is a programmatic user: PM2_PROGRAMMATIC and PM2_SILENT (the original
      // sets it in its caller's environment) would silence the original's command.
      env: { PM2_HOME: box.home, NO_COLOR: '1', PM2_PROGRAMMATIC: '', PM2_SILENT: '', ...(env || {}) },
      timeout,
      input,
    });
    return { ...r, stdout: plain(r.stdout), stderr: plain(r.stderr) };
  };
  return box;
}

// An app that prints a line every 200 ms (with its arguments).
const TICKER = "setInterval(() => console.log('tick ' + process.argv.slice(2).join(' ')), 200)\n";

// A sandbox with `app.js` started as `name` (plus `extra` flags).
async function withApp(t, name = 'api', extra = [], source = TICKER) {
  const box = await cliSandbox(t);
  box.writeApp('app.js', source);
  const r = await box.pm2cli(['start', 'app.js', '--name', name, ...extra]);
  assert.equal(r.code, 0, r.stderr + r.stdout);
  return box;
}

// `pm2 jlist`, parsed.
async function jlist(box) {
  const r = await box.pm2cli(['jlist']);
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout);
}

// The rows of pm2's process table: [{ id, name, namespace, mode, status, ... }].
function tableRows(stdout) {
  const lines = stdout.split('\n').filter((l) => l.startsWith('│'));
  if (lines.length === 0) return [];
  const cells = (l) => l.split('│').slice(1, -1).map((c) => c.trim());
  const header = cells(lines[0]);
  return lines.slice(1).map((l) => Object.fromEntries(cells(l).map((c, i) => [header[i], c])));
}

function hasTmux() {
  try {
    execFileSync('tmux', ['-V']);
    return true;
  } catch {
    return false;
  }
}

// Real terminals for a test: a tmux server of its own (a shared one exits with its last
// session, under the feet of the next test's), killed with everything in it when the test ends.
let servers = 0;
function terminals(t, { cols = 120, rows = 30 } = {}) {
  const socket = `pm2-test-${process.pid}-${++servers}`;
  const tmux = (...args) => execFileSync('tmux', ['-L', socket, ...args], { encoding: 'utf8' });
  t.after(() => { try { tmux('kill-server'); } catch { /* gone already */ } });
  let opened = 0;
  return {
    // Runs `command` on a new terminal; returns the terminal's name.
    open(command) {
      const name = `t${++opened}`;
      tmux('new-session', '-d', '-s', name, '-x', String(cols), '-y', String(rows), command);
      return name;
    },
    // What the terminal shows (with its colour escapes if asked).
    screen(name, { escapes = false } = {}) {
      return tmux('capture-pane', '-p', ...(escapes ? ['-e'] : []), '-t', name);
    },
    keys(name, ...keys) {
      tmux('send-keys', '-t', name, ...keys);
    },
  };
}

module.exports = { CLI, TICKER, cliSandbox, withApp, jlist, tableRows, plain, hasTmux, terminals };
