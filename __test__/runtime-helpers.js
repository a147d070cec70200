'use strict';

// Runs pm2-runtime as a container would, for the runtime suites: in the foreground, its
// output collected, its apps in a temporary directory and PM2_HOME.

const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { spawn, spawnSync } = require('node:child_process');
const { ROOT, waitFor, pidsUsingHome, killPid, sweepHome, impl, disposeClient } = require('./helpers');

const LAUNCHER = path.join(ROOT, 'bin', 'pm2-runtime');
const ORIGINAL = path.join(ROOT, 'node_modules', 'pm2-original', 'bin', 'pm2-runtime');

// A new PID namespace needs root and util-linux's unshare.
const canUnshare = process.getuid && process.getuid() === 0 && spawnSync('unshare', ['--pid', '--fork', '--mount-proc', 'true']).status === 0;

// Waits a little for every process using `home` to end by itself, then kills those left;
// resolves once none is left (one still writing its last file would make removing it fail).
async function endEveryProcessOf(home) {
  // What is stopping gets a moment to end on its own; the rest is swept.
  await waitFor(() => pidsUsingHome(home).length === 0, { timeout: 5000 }).catch(() => sweepHome(home));
}

// A temporary app directory and PM2_HOME, removed (and every process using that home
// killed) when the test ends.
function workspace(t) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pm2-runtime-app-'));
  const home = fs.mkdtempSync(path.join(os.tmpdir(), 'pm2-runtime-home-'));
  const children = [];
  const clients = [];
  t.after(async () => {
    // Clients first: a killDaemon after the home is gone would start a daemon to kill it.
    for (const { pm2, kill } of clients) await disposeClient(pm2, { kill });
    for (const c of children) if (c.exitCode === null && c.signalCode === null) killPid(c.pid, 'SIGKILL');
    await endEveryProcessOf(home);
    for (const d of [dir, home]) fs.rmSync(d, { recursive: true, force: true, maxRetries: 5 });
  });
  return {
    dir,
    home,
    // A programmatic client of this home; `kill`: its daemon is killed when the test ends.
    client({ kill = false } = {}) {
      const pm2 = new (impl().custom)({ pm2_home: home, cwd: dir });
      clients.push({ pm2, kill });
      return pm2;
    },
    write(name, source) {
      const file = path.join(dir, name);
      fs.writeFileSync(file, source);
      return file;
    },
    // Starts `cmd args` (pm2-runtime by default) in the app directory with this home.
    run(args, { cmd = LAUNCHER, prefix = [], env = {} } = {}) {
      const childEnv = { ...process.env, PM2_HOME: home, HOME: home, ...env };
      delete childEnv.NODE_TEST_CONTEXT;
      const child = spawn(prefix.length ? prefix[0] : cmd, [...prefix.slice(1), ...(prefix.length ? [cmd] : []), ...args], { cwd: dir, env: childEnv });
      children.push(child);
      const run = { child, stdout: '', stderr: '' };
      child.stdout.on('data', (d) => { run.stdout += d; });
      child.stderr.on('data', (d) => { run.stderr += d; });
      run.exited = new Promise((resolve) => child.on('close', (code, signal) => resolve({ code, signal })));
      run.waitOut = (re, timeout = 15000) => waitFor(() => re.test(run.stdout), { timeout, message: `stdout never matched ${re}:\n${run.stdout}\n--- stderr:\n${run.stderr}` });
      return run;
    },
  };
}

// The pid, seen from here, of the PID 1 that `unshare --fork` started.
function namespaceInit(unsharePid) {
  return waitFor(() => {
    const kids = fs.readFileSync(`/proc/${unsharePid}/task/${unsharePid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean);
    return kids.length ? Number(kids[0]) : null;
  }, { timeout: 5000 });
}

// Children of `pid` that are zombies.
function zombieChildren(pid) {
  const out = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let stat;
    try { stat = fs.readFileSync(`/proc/${entry}/stat`, 'utf8'); } catch { continue; }
    const [state, ppid] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (state === 'Z' && Number(ppid) === pid) out.push(Number(entry));
  }
  return out;
}

module.exports = { LAUNCHER, ORIGINAL, canUnshare, workspace, endEveryProcessOf, namespaceInit, zombieChildren };
