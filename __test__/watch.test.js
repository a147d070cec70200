'use strict';

// watch: what restarts an app and what does not, on a project with a large ignored tree,
// and what it costs in inotify watches (read from the daemon's /proc/<pid>/fdinfo).
// Runs against pm2-original too (PM2_IMPL=pm2-original) where the two agree.

const { test } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');

const { IS_ORIGINAL, sandbox, call, waitFor, sleep, apps, readDaemonPid, procByName, openBus } = require('./helpers');

const TIMEOUT = 60000;
const linux = process.platform === 'linux';

// Inotify watches the daemon holds: one `inotify wd:` line per watch in the fdinfo of
// each of its inotify descriptors.
function inotifyWatches(pid) {
  let count = 0;
  for (const fd of fs.readdirSync(`/proc/${pid}/fd`)) {
    let target;
    try { target = fs.readlinkSync(`/proc/${pid}/fd/${fd}`); } catch { continue; }
    if (target !== 'anon_inode:inotify') continue;
    const info = fs.readFileSync(`/proc/${pid}/fdinfo/${fd}`, 'utf8');
    count += info.split('\n').filter((l) => l.startsWith('inotify wd:')).length;
  }
  return count;
}

async function restarts(pm2, name) {
  return (await procByName(pm2, name)).pm2_env.restart_time;
}

// Starts `name` watching as `opts` say, and waits until it is online and its watcher has
// had time to set itself up.
async function startWatched(t, opts, setup = () => {}) {
  const box = await sandbox(t);
  const script = box.writeApp('app.js', apps.forever);
  setup(box.dir);
  await call(box.pm2, 'connect');
  await call(box.pm2, 'start', { script, name: 'w', ...opts });
  await waitFor(async () => (await procByName(box.pm2, 'w'))?.pm2_env.status === 'online', { message: 'never online' });
  await sleep(1000);
  return box;
}

// Makes `change` until the app restarts (the watcher may need a moment more to see it).
async function restartsOn(pm2, change, message) {
  const before = await restarts(pm2, 'w');
  await waitFor(async () => {
    change();
    return (await restarts(pm2, 'w')) > before;
  }, { timeout: 15000, interval: 700, message });
  // let the restart settle before the next step
  await waitFor(async () => (await procByName(pm2, 'w')).pm2_env.status === 'online');
  await sleep(800);
}

async function staysUnrestarted(pm2, change, message) {
  const before = await restarts(pm2, 'w');
  change();
  await sleep(2000);
  assert.equal(await restarts(pm2, 'w'), before, message);
}

test('an ignored 2,000-directory node_modules costs no inotify watches, and an edit restarts the app', { timeout: TIMEOUT, skip: !linux && 'counts inotify watches in Linux\'s /proc/<pid>/fdinfo' }, async (t) => {
  const { pm2, dir, home } = await startWatched(t, { watch: true, ignore_watch: ['node_modules'] }, (d) => {
    for (let i = 0; i < 2000; i++) fs.mkdirSync(path.join(d, 'node_modules', `p${i}`), { recursive: true });
    fs.mkdirSync(path.join(d, 'src', 'lib'), { recursive: true });
  });
  const watches = inotifyWatches(readDaemonPid(home));
  assert.ok(watches < 20, `the daemon holds ${watches} inotify watches`);
  await staysUnrestarted(pm2, () => fs.writeFileSync(path.join(dir, 'node_modules', 'p7', 'x.js'), 'x'),
    'a change under node_modules restarted the app');
  await restartsOn(pm2, () => fs.writeFileSync(path.join(dir, 'src', 'lib', 'a.js'), `// ${Date.now()}`),
    'an edit under src did not restart the app');
});

test('a save by temp file and rename restarts the app, and so does a file in a new sub-directory', { timeout: TIMEOUT }, async (t) => {
  const { pm2, dir } = await startWatched(t, { watch: true });
  fs.writeFileSync(path.join(dir, 'conf.js'), '// 1\n');
  await sleep(1500);
  await restartsOn(pm2, () => {
    const tmp = path.join(dir, `conf.js.${Date.now()}.tmp`);
    fs.writeFileSync(tmp, `// ${Date.now()}\n`);
    fs.renameSync(tmp, path.join(dir, 'conf.js'));
  }, 'a temp file renamed over conf.js did not restart the app');

  fs.mkdirSync(path.join(dir, 'fresh', 'deeper'), { recursive: true });
  await sleep(2000);
  await restartsOn(pm2, () => fs.writeFileSync(path.join(dir, 'fresh', 'deeper', 'n.js'), `// ${Date.now()}`),
    'a change in a new sub-directory did not restart the app');
});

test("watch: ['src/**/*.js'] restarts on a .js change under src, not on a .txt one", { timeout: TIMEOUT }, async (t) => {
  const { pm2, dir } = await startWatched(t, { watch: ['src/**/*.js'] }, (d) => {
    fs.mkdirSync(path.join(d, 'src', 'deep'), { recursive: true });
  });
  await staysUnrestarted(pm2, () => fs.writeFileSync(path.join(dir, 'src', 'deep', 'notes.txt'), 'x'),
    'a .txt change restarted the app');
  await restartsOn(pm2, () => fs.writeFileSync(path.join(dir, 'src', 'deep', 'b.js'), `// ${Date.now()}`),
    'a .js change under src did not restart the app');
});

test('a watched path that does not exist yet counts once it appears, and so do changes inside it', { timeout: TIMEOUT }, async (t) => {
  const { pm2, dir } = await startWatched(t, { watch: ['server'] });
  await staysUnrestarted(pm2, () => fs.writeFileSync(path.join(dir, 'other.js'), 'x'), 'a change elsewhere restarted the app');
  await restartsOn(pm2, () => fs.mkdirSync(path.join(dir, 'server'), { recursive: true }), 'the path appearing did not restart the app');
  await restartsOn(pm2, () => fs.writeFileSync(path.join(dir, 'server', 'index.js'), `// ${Date.now()}`),
    'a change inside the new directory did not restart the app');
});

test('ignore_watch globs: *.log and **/tmp/** changes do not restart, others do', { timeout: TIMEOUT }, async (t) => {
  const { pm2, dir } = await startWatched(t, { watch: true, ignore_watch: ['*.log', '**/tmp/**'] }, (d) => {
    fs.mkdirSync(path.join(d, 'tmp', 'cache'), { recursive: true });
  });
  await staysUnrestarted(pm2, () => {
    fs.writeFileSync(path.join(dir, 'debug.log'), 'x');
    fs.writeFileSync(path.join(dir, 'tmp', 'cache', 'c.js'), 'x');
  }, 'a change to an ignored file restarted the app');
  await restartsOn(pm2, () => fs.writeFileSync(path.join(dir, 'other.js'), `// ${Date.now()}`),
    'a change outside the ignored patterns did not restart the app');
});

test('watch_delay turns a burst of edits into one restart', { timeout: TIMEOUT }, async (t) => {
  const { pm2, dir } = await startWatched(t, { watch: true, watch_delay: 1500 });
  for (let i = 0; i < 6; i++) {
    fs.writeFileSync(path.join(dir, `burst-${i}.js`), `// ${i}`);
    await sleep(100);
  }
  await waitFor(async () => (await restarts(pm2, 'w')) >= 1, { message: 'the burst did not restart the app' });
  await sleep(2500);
  assert.equal(await restarts(pm2, 'w'), 1);
});

test('usePolling watches without inotify', { timeout: TIMEOUT }, async (t) => {
  const { pm2, dir, home } = await startWatched(t, {
    watch: true, watch_options: { usePolling: true, interval: 100 },
  }, (d) => fs.mkdirSync(path.join(d, 'sub'), { recursive: true }));
  if (linux && !IS_ORIGINAL) assert.equal(inotifyWatches(readDaemonPid(home)), 0);
  await restartsOn(pm2, () => fs.writeFileSync(path.join(dir, 'sub', 'p.js'), `// ${Date.now()}`),
    'a change did not restart the polled app');
});

test('a restart for a file change is the daemon\'s own on the bus, and says why', {
  timeout: TIMEOUT, skip: IS_ORIGINAL && 'pm2 7.0.4 sends no restart event for it',
}, async (t) => {
  const { pm2, dir } = await startWatched(t, { watch: true });
  const bus = await openBus(t, pm2);
  const restartsSeen = [];
  bus.on('process:event', (packet) => {
    if (packet.event === 'restart' && packet.process.name === 'w') restartsSeen.push(packet);
  });
  await restartsOn(pm2, () => fs.writeFileSync(path.join(dir, 'edited.js'), `// ${Date.now()}\n`), 'the edit did not restart the app');
  await waitFor(() => restartsSeen.length > 0, { message: 'no restart event on the bus' });
  assert.equal(restartsSeen[0].reason, 'file change');
  assert.equal(restartsSeen[0].manually, false);
});
