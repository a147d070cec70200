'use strict';

// Chaos: under load (apps logging and messaging, clients calling in a loop, a bus
// subscriber), SIGKILL random apps, clients and the daemon itself; afterwards every declared
// app is online exactly once, no app process is left over, and no client hung.

const { test } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');

const {
  IS_ORIGINAL, sandbox, call, waitFor, isAlive, sleep, readDaemonPid, pidsUsingHome, implPath, killPid,
} = require('./helpers');
const { spawn } = require('node:child_process');

const CHAOS_MS = 15000;
const CLIENTS = 3;

const APPS = [
  { name: 'web', instances: 2, exec_mode: 'cluster', source: "require('http').createServer((q, s) => s.end('ok')).listen(0);\n" },
  { name: 'logger', source: "setInterval(() => console.log('line ' + Date.now()), 20);\n" },
  { name: 'talker', source: "setInterval(() => process.send({ type: 'chaos:tick', data: Date.now() }), 50);\n" },
];

// A client that calls list() in a loop until its time is up; a call that never calls back
// makes it exit 3.
const CLIENT = `
const [impl, home, ms] = process.argv.slice(2);
const pm2 = new (require(impl).custom)({ pm2_home: home, daemon_mode: true });
const until = Date.now() + Number(ms);
(async () => {
  let ok = 0, failed = 0;
  while (Date.now() < until) {
    await new Promise((resolve) => {
      const hung = setTimeout(() => { console.log('hung'); process.exit(3); }, 20000);
      pm2.list((e) => { clearTimeout(hung); if (e) failed++; else ok++; resolve(); });
    });
  }
  pm2.disconnect();
  console.log(JSON.stringify({ ok, failed }));
})();
`;

// Daemons serving `home` (there must be exactly one).
function daemonsOf(home) {
  const out = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let cmd;
    try { cmd = fs.readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0'); } catch { continue; }
    if (path.basename(cmd[0] || '') === 'pm2-daemon' && cmd[cmd.indexOf('--home') + 1] === home) out.push(Number(entry));
  }
  return out;
}

// The app processes of `home` (its daemons, found by their `--home`, left out).
function appPidsOf(home) {
  const daemons = daemonsOf(home);
  return pidsUsingHome(home).filter((pid) => !daemons.includes(pid));
}

function pick(list) {
  return list[Math.floor(Math.random() * list.length)];
}

test('SIGKILLed apps, clients and daemon: every app back online exactly once, nothing orphaned, no client hung', {
  skip: (IS_ORIGINAL && 'the original pm2 leaves apps orphaned when its daemon is killed') ||
    (process.platform !== 'linux' && 'finds every daemon and app of a home through Linux\'s /proc'),
  timeout: 110000,
}, async (t) => {
  const box = await sandbox(t);
  const { pm2, home, dir, writeApp } = box;
  for (const app of APPS) {
    const { source, ...options } = app;
    await call(pm2, 'start', { ...options, script: writeApp(`${app.name}.js`, source) });
  }
  const bus = await call(pm2, 'launchBus');
  t.after(() => bus.close());
  let ticks = 0;
  bus.on('chaos:tick', () => { ticks += 1; });

  const clientScript = path.join(dir, 'client.js');
  fs.writeFileSync(clientScript, CLIENT);
  const end = Date.now() + CHAOS_MS;
  const clients = [];
  const startClient = () => {
    const child = spawn(process.execPath, [clientScript, implPath(), home, String(end - Date.now())], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => { out += d; });
    child.stderr.on('data', (d) => { out += d; });
    const done = new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal, out })));
    clients.push({ child, killed: false, done });
  };
  t.after(() => { for (const c of clients) killPid(c.child.pid); });
  for (let i = 0; i < CLIENTS; i++) startClient();

  const daemonKills = [end - CHAOS_MS * 0.6, end - CHAOS_MS * 0.2];
  let appKills = 0;
  while (Date.now() < end) {
    await sleep(200 + Math.random() * 300);
    if (daemonKills.length && Date.now() >= daemonKills[0]) {
      daemonKills.shift();
      for (const pid of daemonsOf(home)) killPid(pid);
      continue;
    }
    // The first client is never killed: it calls from start to end, through every kill.
    const live = clients.slice(1).filter((c) => !c.killed && c.child.exitCode === null);
    if (Math.random() < 0.25 && live.length) {
      const victim = pick(live);
      victim.killed = true;
      killPid(victim.child.pid);
      if (Date.now() < end - 3000) startClient();
      continue;
    }
    const pids = appPidsOf(home);
    if (pids.length) {
      killPid(pick(pids));
      appKills += 1;
    }
  }

  // Settled: each app online once, and the only processes of this home are those apps.
  const expected = { web: 2, logger: 1, talker: 1 };
  const list = await waitFor(async () => {
    let l;
    try { l = await call(pm2, 'list'); } catch { return false; }
    const counts = {};
    for (const p of l) {
      if (p.pm2_env.status !== 'online' || !isAlive(p.pid)) return false;
      counts[p.name] = (counts[p.name] || 0) + 1;
    }
    if (JSON.stringify(counts) !== JSON.stringify(expected)) return false;
    const appPids = l.map((p) => p.pid).sort();
    const running = appPidsOf(home).sort();
    return JSON.stringify(appPids) === JSON.stringify(running) && l;
  }, { timeout: 30000, interval: 250, message: 'the apps did not settle online exactly once with nothing orphaned' });
  assert.equal(new Set(list.map((p) => p.pm_id)).size, 4, 'one entry per instance');
  assert.deepEqual(daemonsOf(home), [readDaemonPid(home)], 'exactly one daemon');

  // The first client called through every kill: it must have come through them all.
  assert.equal(clients[0].killed, false);
  const results = await Promise.all(clients.filter((c) => !c.killed).map((c) => c.done));
  for (const r of results) {
    assert.equal(r.code, 0, `a client hung or failed: ${r.signal || ''} ${r.out}`);
    assert.ok(JSON.parse(r.out).ok > 0, r.out);
  }
  assert.ok(appKills > 0 && ticks > 0);
});
