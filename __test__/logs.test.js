'use strict';

// App logs: out_file / error_file / log_file (combined) and where they are resolved (the
// app's cwd, ~), -<pm_id> suffixes and merge_logs, /dev/null, disable_logs,
// log_date_format / time, log_type: 'json', pid_file; no line lost when an app crashes;
// flush, reloadLogs and SIGUSR2 (external logrotate); built-in rotation (max_size,
// retain, compress, PM2_LOG_* defaults; beyond pm2); bad log paths and a full disk.

const { test } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const zlib = require('node:zlib');

const {
  IS_ORIGINAL, sandbox, call, errText, waitFor, isAlive, readFileEventually, sleep, apps,
  onlineProc, onlineAll,
} = require('./helpers');

const TEST_TIMEOUT = 60000;
const ONLY_OURS = IS_ORIGINAL && 'beyond pm2: built-in log rotation exists only in this implementation';

// ---------------------------------------------------------------------------
// helpers

function read(file) {
  try { return fs.readFileSync(file, 'utf8'); } catch { return null; }
}

function waitContent(file, needle, opts = {}) {
  return readFileEventually(file, { timeout: 15000, ...opts, predicate: (c) => c.includes(needle) });
}

function lines(text) {
  return text.split('\n').filter((l) => l.length > 0);
}

// Every message an errback's error carries (pm2 sometimes answers an array of Errors).
function errMessages(e) {
  const out = [errText(e)];
  const raw = e && e.raw;
  if (Array.isArray(raw)) for (const r of raw) out.push(errText(r));
  else if (raw) out.push(errText(raw));
  return out.join(' | ');
}

// Prints out-start / err-start once, then one line on each stream per SIGUSR2. Once its
// SIGUSR2 handler is in place it creates $READY_DIR/<pid> (when READY_DIR is set): a signal
// sent earlier would kill it (SIGUSR2's default action).
const talker = [
  "const fs = require('fs');",
  "const path = require('path');",
  "let n = 0;",
  "process.on('SIGUSR2', () => { n += 1; console.log('out-sig-' + n + ';'); console.error('err-sig-' + n + ';'); });",
  "console.log('out-start');",
  "console.error('err-start');",
  "if (process.env.READY_DIR) fs.writeFileSync(path.join(process.env.READY_DIR, String(process.pid)), '');",
  'setInterval(() => {}, 1000);',
  '',
].join('\n');

// Starts the talker as `opts.name` and waits until every instance can take SIGUSR2.
async function startTalker(box, opts, count = 1) {
  const readyDir = path.join(box.dir, 'ready');
  fs.mkdirSync(readyDir, { recursive: true });
  const script = box.writeApp('talk.js', talker);
  await call(box.pm2, 'start', { script, ...opts, env: { ...(opts.env || {}), READY_DIR: readyDir } });
  return waitFor(async () => {
    const l = (await call(box.pm2, 'list')).filter((p) => p.name === opts.name);
    const ok = l.length === count && l.every((p) => p.pm2_env.status === 'online' && p.pid &&
      fs.existsSync(path.join(readyDir, String(p.pid))));
    return ok ? (count === 1 ? l[0] : l) : false;
  }, { timeout: 15000, message: `${opts.name} never ready` });
}

// Writes `argv[2]` numbered lines of ~100 bytes on stdout, then "burst-done", then idles.
const burster = [
  "const n = Number(process.argv[2]);",
  "const pad = 'x'.repeat(80);",
  "for (let i = 0; i < n; i++) process.stdout.write('seq-' + String(i).padStart(6, '0') + ' ' + pad + '\\n');",
  "console.log('burst-done');",
  'setInterval(() => {}, 1000);',
  '',
].join('\n');

async function signal(pm2, name, sig = 'SIGUSR2') {
  await call(pm2, 'sendSignalToProcessName', sig, name);
}

// ---------------------------------------------------------------------------
// paths

test('default files under $PM2_HOME/logs; log_file: true adds the combined <name>.log', { timeout: TEST_TIMEOUT }, async (t) => {
  const box = await sandbox(t);
  const { pm2, home } = box;
  await call(pm2, 'connect');
  const p = await startTalker(box, { name: 'talk', log_file: true });
  const out = path.join(home, 'logs', 'talk-out.log');
  const err = path.join(home, 'logs', 'talk-error.log');
  const all = path.join(home, 'logs', 'talk.log');
  assert.equal(p.pm2_env.pm_out_log_path, out);
  assert.equal(p.pm2_env.pm_err_log_path, err);
  assert.equal(p.pm2_env.pm_log_path, all);

  await waitContent(out, 'out-start');
  await waitContent(err, 'err-start');
  await waitContent(all, 'err-start', { predicate: (c) => c.includes('out-start') && c.includes('err-start') });
  await signal(pm2, 'talk');
  await waitContent(all, 'err-sig-1;', { predicate: (c) => c.includes('out-sig-1;') && c.includes('err-sig-1;') });
  await waitContent(out, 'out-sig-1;');
  await waitContent(err, 'err-sig-1;');
  assert.ok(!read(out).includes('err-'), 'stderr kept out of the out file');
  assert.ok(!read(err).includes('out-'), 'stdout kept out of the error file');
});

test('out_file, error_file, log_file: relative paths resolve against the app cwd, missing folders are created', { timeout: TEST_TIMEOUT }, async (t) => {
  const box = await sandbox(t);
  const { pm2, dir } = box;
  const cwd = path.join(dir, 'work');
  fs.mkdirSync(cwd);
  await call(pm2, 'connect');
  const p = await startTalker(box, {
    name: 'paths', cwd,
    out_file: 'mylogs/o.log', error_file: 'mylogs/e.log', log_file: 'mylogs/all.log',
  });
  const out = path.join(cwd, 'mylogs', 'o.log');
  const err = path.join(cwd, 'mylogs', 'e.log');
  const all = path.join(cwd, 'mylogs', 'all.log');
  assert.equal(p.pm2_env.pm_out_log_path, out);
  assert.equal(p.pm2_env.pm_err_log_path, err);
  assert.equal(p.pm2_env.pm_log_path, all);
  await waitContent(out, 'out-start');
  await waitContent(err, 'err-start');
  await waitContent(all, 'out-start', { predicate: (c) => c.includes('out-start') && c.includes('err-start') });
  assert.ok(!fs.existsSync(path.join(dir, 'mylogs')), 'not resolved against the client cwd');
});

test('~ in a log path is the home directory', { timeout: TEST_TIMEOUT }, async (t) => {
  const box = await sandbox(t);
  const { pm2, dir } = box;
  const fakeHome = path.join(dir, 'fakehome');
  fs.mkdirSync(fakeHome);
  await call(pm2, 'connect');
  const savedHome = process.env.HOME;
  t.after(() => { process.env.HOME = savedHome; });
  process.env.HOME = fakeHome; // os.homedir() and the environment sent with start
  try {
    await call(pm2, 'start', {
      script: box.writeApp('talk.js', talker), name: 'tilde', out_file: '~/tilde-out.log', error_file: '~/sub/tilde-err.log',
    });
  } finally {
    process.env.HOME = savedHome;
  }
  const p = await onlineProc(pm2, 'tilde');
  assert.equal(p.pm2_env.pm_out_log_path, path.join(fakeHome, 'tilde-out.log'));
  assert.equal(p.pm2_env.pm_err_log_path, path.join(fakeHome, 'sub', 'tilde-err.log'));
  await waitContent(path.join(fakeHome, 'tilde-out.log'), 'out-start');
  await waitContent(path.join(fakeHome, 'sub', 'tilde-err.log'), 'err-start');
});

test('instances: 2 gives each instance its -<pm_id> files; merge_logs: true shares one file', { timeout: TEST_TIMEOUT }, async (t) => {
  const box = await sandbox(t);
  const { pm2, home, dir } = box;
  await call(pm2, 'connect');
  const script = box.writeApp('talk.js', talker);

  await call(pm2, 'start', { script, name: 'split', instances: 2, exec_mode: 'fork' });
  const split = await onlineAll(pm2, 'split', 2);
  for (const p of split) {
    const out = path.join(home, 'logs', `split-out-${p.pm_id}.log`);
    const err = path.join(home, 'logs', `split-error-${p.pm_id}.log`);
    assert.equal(p.pm2_env.pm_out_log_path, out);
    assert.equal(p.pm2_env.pm_err_log_path, err);
    await waitContent(out, 'out-start');
    await waitContent(err, 'err-start');
    assert.equal(lines(read(out)).filter((l) => l === 'out-start').length, 1, 'one instance per file');
  }
  assert.ok(!fs.existsSync(path.join(home, 'logs', 'split-out.log')), 'no unsuffixed file when not merged');

  // custom paths get the suffix before .log as well
  await call(pm2, 'start', {
    script, name: 'custom', instances: 2, exec_mode: 'fork',
    out_file: path.join(dir, 'c-out.log'), error_file: path.join(dir, 'c-err.log'),
  });
  const custom = await onlineAll(pm2, 'custom', 2);
  for (const p of custom) {
    const out = path.join(dir, `c-out-${p.pm_id}.log`);
    assert.equal(p.pm2_env.pm_out_log_path, out);
    await waitContent(out, 'out-start');
  }

  await call(pm2, 'start', { script, name: 'merged', instances: 2, exec_mode: 'fork', merge_logs: true });
  const merged = await onlineAll(pm2, 'merged', 2);
  const out = path.join(home, 'logs', 'merged-out.log');
  for (const p of merged) assert.equal(p.pm2_env.pm_out_log_path, out);
  await readFileEventually(out, {
    timeout: 15000,
    predicate: (c) => lines(c).filter((l) => l === 'out-start').length === 2,
  });
  for (const p of merged) {
    assert.ok(!fs.existsSync(path.join(home, 'logs', `merged-out-${p.pm_id}.log`)), 'no per-instance file when merged');
  }
});

test('the -<pm_id> suffix goes before .log only: other names are shared as they are (pm2 rule)', { timeout: TEST_TIMEOUT }, async (t) => {
  const box = await sandbox(t);
  const { pm2, dir } = box;
  await call(pm2, 'connect');
  const out = path.join(dir, 'shared-out.txt');
  await call(pm2, 'start', { script: box.writeApp('talk.js', talker), name: 'txt', instances: 2, exec_mode: 'fork', out_file: out });
  const procs = await onlineAll(pm2, 'txt', 2);
  for (const p of procs) assert.equal(p.pm2_env.pm_out_log_path, out);
  await readFileEventually(out, {
    timeout: 15000,
    predicate: (c) => lines(c).filter((l) => l === 'out-start').length === 2,
  });
});

test('/dev/null discards a stream; the other stream is still logged', { timeout: TEST_TIMEOUT }, async (t) => {
  const box = await sandbox(t);
  const { pm2, home } = box;
  await call(pm2, 'connect');
  const p = await startTalker(box, { name: 'quiet', out_file: '/dev/null' });
  assert.equal(p.pm2_env.pm_out_log_path, '/dev/null');
  const err = path.join(home, 'logs', 'quiet-error.log');
  await waitContent(err, 'err-start');
  await signal(pm2, 'quiet');
  await waitContent(err, 'err-sig-1;');
  assert.ok(!fs.existsSync(path.join(home, 'logs', 'quiet-out.log')), 'no default out file');
  assert.ok(isAlive(p.pid));

  // both streams to /dev/null (pm2 also accepts 'NULL')
  const s = await startTalker(box, { name: 'silent', out_file: '/dev/null', error_file: 'NULL' });
  assert.equal(s.pm2_env.pm_out_log_path, '/dev/null');
  assert.equal(s.pm2_env.pm_err_log_path, '/dev/null');
  await signal(pm2, 'silent');
  await sleep(300);
  assert.ok(!fs.existsSync(path.join(home, 'logs', 'silent-out.log')));
  assert.ok(!fs.existsSync(path.join(home, 'logs', 'silent-error.log')));
  assert.equal((await onlineProc(pm2, 'silent')).pid, s.pid, 'still running');
});

test('disable_logs: nothing is written to the log files', { timeout: TEST_TIMEOUT }, async (t) => {
  const box = await sandbox(t);
  const { pm2, home } = box;
  await call(pm2, 'connect');
  // a control app in the same daemon shows when output has had time to land
  await startTalker(box, { name: 'control' });
  const p = await startTalker(box, { name: 'nolog', disable_logs: true, log_file: true });
  await signal(pm2, 'nolog');
  await signal(pm2, 'control');
  await waitContent(path.join(home, 'logs', 'control-out.log'), 'out-sig-1;');
  await waitContent(path.join(home, 'logs', 'control-error.log'), 'err-sig-1;');
  await sleep(300);
  for (const f of ['nolog-out.log', 'nolog-error.log', 'nolog.log']) {
    const c = read(path.join(home, 'logs', f));
    assert.ok(c === null || c === '', `${f} is empty or absent, got ${JSON.stringify(c)}`);
  }
  assert.ok(isAlive(p.pid));
});

// ---------------------------------------------------------------------------
// line formats

test('log_date_format prefixes every line with a dayjs-style date', { timeout: TEST_TIMEOUT }, async (t) => {
  const box = await sandbox(t);
  const { pm2, home } = box;
  await call(pm2, 'connect');
  await startTalker(box, { name: 'dated', log_date_format: 'YYYY/MM/DD [at] HH-mm-ss.SSS Z' });
  await signal(pm2, 'dated');
  const out = await waitContent(path.join(home, 'logs', 'dated-out.log'), 'out-sig-1;');
  const err = await waitContent(path.join(home, 'logs', 'dated-error.log'), 'err-sig-1;');
  const re = /^(\d{4})\/(\d{2})\/(\d{2}) at (\d{2})-(\d{2})-(\d{2})\.(\d{3}) [+-]\d{2}:\d{2}: (.*)$/;
  for (const [text, expected] of [[out, ['out-start', 'out-sig-1;']], [err, ['err-start', 'err-sig-1;']]]) {
    const ls = lines(text);
    assert.equal(ls.length, expected.length, `one prefixed line per line: ${JSON.stringify(ls)}`);
    ls.forEach((l, i) => {
      const m = re.exec(l);
      assert.ok(m, `line ${JSON.stringify(l)} has the date prefix`);
      assert.equal(m[8], expected[i]);
      const month = Number(m[2]);
      const day = Number(m[3]);
      assert.ok(month >= 1 && month <= 12 && day >= 1 && day <= 31 && Number(m[4]) < 24 && Number(m[5]) < 60);
    });
  }
});

test('time: true prefixes lines with YYYY-MM-DDTHH:mm:ss', { timeout: TEST_TIMEOUT }, async (t) => {
  const box = await sandbox(t);
  const { pm2, home } = box;
  await call(pm2, 'connect');
  await startTalker(box, { name: 'timed', time: true });
  const out = await waitContent(path.join(home, 'logs', 'timed-out.log'), 'out-start');
  assert.match(lines(out)[0], /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}: out-start$/);
});

test("log_type: 'json' writes one JSON record per line", { timeout: TEST_TIMEOUT }, async (t) => {
  const box = await sandbox(t);
  const { pm2, home } = box;
  await call(pm2, 'connect');
  const p = await startTalker(box, { name: 'js', log_type: 'json' });
  await signal(pm2, 'js');
  const out = await waitContent(path.join(home, 'logs', 'js-out.log'), 'out-sig-1;');
  const err = await waitContent(path.join(home, 'logs', 'js-error.log'), 'err-sig-1;');
  for (const [text, type, messages] of [[out, 'out', ['out-start', 'out-sig-1;']], [err, 'err', ['err-start', 'err-sig-1;']]]) {
    const records = lines(text).map((l) => JSON.parse(l));
    assert.deepEqual(records.map((r) => r.message.replace(/\n$/, '')), messages);
    for (const r of records) {
      assert.equal(r.type, type);
      assert.equal(r.process_id, p.pm_id);
      assert.equal(r.app_name, 'js');
      assert.match(r.timestamp, /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/, 'ISO timestamp');
    }
  }

  // with log_date_format, the timestamp uses it
  await startTalker(box, { name: 'js2', log_type: 'json', log_date_format: 'YYYY-MM-DD HH:mm' });
  const rec = JSON.parse(lines(await waitContent(path.join(home, 'logs', 'js2-out.log'), 'out-start'))[0]);
  assert.match(rec.timestamp, /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}$/);
});

test('pid_file: resolved against the app cwd, -<pm_id> added, holds the pid', { timeout: TEST_TIMEOUT }, async (t) => {
  const box = await sandbox(t);
  const { pm2, dir } = box;
  await call(pm2, 'connect');
  const p = await startTalker(box, { name: 'pidf', cwd: dir, pid_file: 'run/app.pid' });
  const file = path.join(dir, 'run', `app-${p.pm_id}.pid`);
  assert.equal(p.pm2_env.pm_pid_path, file);
  const content = await readFileEventually(file, { timeout: 15000, predicate: (c) => c.trim() === String(p.pid) });
  assert.equal(Number(content.trim()), p.pid);
});

// ---------------------------------------------------------------------------
// nothing lost

test('no line is lost: everything an app wrote before it was killed ends up in the files', { timeout: TEST_TIMEOUT }, async (t) => {
  const { pm2, home, writeApp } = await sandbox(t);
  const N = 5000; // ~340 KB: more than a pipe holds, so the daemon is still reading when the app dies
  // Node queues pipe writes it cannot hand to the kernel yet, and would drop them at exit:
  // the app waits for the callback of its last writes (all its output is then in the
  // kernel), then dies at once by SIGKILL.
  const script = writeApp('burst-crash.js', [
    "const pad = 'y'.repeat(60);",
    `for (let i = 0; i < ${N}; i++) process.stdout.write('line-' + i + ' ' + pad + '\\n');`,
    "process.stdout.write('very last stdout line\\n', () => {",
    "  process.stderr.write('last words before the crash\\n', () => process.kill(process.pid, 'SIGKILL'));",
    '});',
    '',
  ].join('\n'));
  await call(pm2, 'connect');
  await call(pm2, 'start', { script, name: 'burst', autorestart: false });
  const outFile = path.join(home, 'logs', 'burst-out.log');
  const errFile = path.join(home, 'logs', 'burst-error.log');
  const p = await waitFor(async () => {
    const x = (await call(pm2, 'list')).find((q) => q.name === 'burst');
    return x && !['online', 'launching'].includes(x.pm2_env.status) ? x : false;
  }, { timeout: 20000, message: 'the app never ended' });
  assert.ok(['stopped', 'errored'].includes(p.pm2_env.status), p.pm2_env.status);
  // the tail may still be in flight: wait for it, then report exactly what is missing
  await waitFor(() => (read(outFile) || '').includes('very last stdout line'), { timeout: 15000 }).catch(() => {});
  await waitFor(() => (read(errFile) || '').includes('last words before the crash'), { timeout: 5000 }).catch(() => {});
  const ls = lines(read(outFile) || '');
  const expected = N + 1;
  assert.equal(ls.length, expected, `every stdout line is there (${ls.length} of ${expected}; last: ${JSON.stringify((ls[ls.length - 1] || '').slice(0, 30))})`);
  for (let i = 0; i < N; i++) {
    if (!ls[i].startsWith(`line-${i} `)) assert.fail(`line ${i} is ${JSON.stringify(ls[i].slice(0, 40))}`);
  }
  assert.equal(ls[N], 'very last stdout line');
  assert.equal(read(errFile), 'last words before the crash\n');
});

test('an uncaught exception: its stack trace is in the error file', { timeout: TEST_TIMEOUT }, async (t) => {
  const { pm2, home, writeApp } = await sandbox(t);
  const script = writeApp('throw.js', [
    "console.log('about to throw');",
    "throw new Error('boom-unique-marker');",
    '',
  ].join('\n'));
  await call(pm2, 'connect');
  await call(pm2, 'start', { script, name: 'thrower', autorestart: false });
  await waitContent(path.join(home, 'logs', 'thrower-error.log'), 'boom-unique-marker', { timeout: 20000 });
  await waitContent(path.join(home, 'logs', 'thrower-out.log'), 'about to throw');
});

// ---------------------------------------------------------------------------
// flush and reopening

test('flush(name) truncates that app\'s files only; logging goes on', { timeout: TEST_TIMEOUT }, async (t) => {
  const box = await sandbox(t);
  const { pm2, home } = box;
  await call(pm2, 'connect');
  await startTalker(box, { name: 'a', log_file: true });
  await startTalker(box, { name: 'b' });
  const aOut = path.join(home, 'logs', 'a-out.log');
  const aErr = path.join(home, 'logs', 'a-error.log');
  const aAll = path.join(home, 'logs', 'a.log');
  const bOut = path.join(home, 'logs', 'b-out.log');
  await signal(pm2, 'a');
  await waitContent(aOut, 'out-sig-1;');
  await waitContent(aErr, 'err-sig-1;');
  await waitContent(aAll, 'err-sig-1;', { predicate: (c) => c.includes('out-sig-1;') && c.includes('err-sig-1;') });
  await waitContent(bOut, 'out-start');

  await call(pm2, 'flush', 'a');
  assert.equal(read(aOut), '');
  assert.equal(read(aErr), '');
  assert.equal(read(aAll), '');
  assert.ok(read(bOut).includes('out-start'), 'the other app is untouched');

  await signal(pm2, 'a');
  const after = await waitContent(aOut, 'out-sig-2;');
  assert.equal(after, 'out-sig-2;\n', 'only new output, written from the start of the file');
  await waitContent(aErr, 'err-sig-2;');
});

test('flush(cb) truncates every app\'s files', {
  timeout: TEST_TIMEOUT,
  skip: IS_ORIGINAL && 'original pm2 flush(cb) takes the callback for an app name: it flushes nothing and never calls back',
}, async (t) => {
  const box = await sandbox(t);
  const { pm2, home } = box;
  await call(pm2, 'connect');
  await startTalker(box, { name: 'a' });
  await startTalker(box, { name: 'b' });
  const aOut = path.join(home, 'logs', 'a-out.log');
  const bErr = path.join(home, 'logs', 'b-error.log');
  await waitContent(aOut, 'out-start');
  await waitContent(bErr, 'err-start');
  await call(pm2, 'flush');
  assert.equal(read(aOut), '');
  assert.equal(read(bErr), '');
  await signal(pm2, 'b');
  assert.equal(await waitContent(bErr, 'err-sig-1;'), 'err-sig-1;\n');
});

test('reloadLogs reopens log files: rename + reloadLogs, new lines go to a new file at the original path', { timeout: TEST_TIMEOUT }, async (t) => {
  const box = await sandbox(t);
  const { pm2, home } = box;
  await call(pm2, 'connect');
  await startTalker(box, { name: 'rot', log_file: true });
  const out = path.join(home, 'logs', 'rot-out.log');
  const err = path.join(home, 'logs', 'rot-error.log');
  const all = path.join(home, 'logs', 'rot.log');
  await waitContent(out, 'out-start');
  await waitContent(err, 'err-start');
  await waitContent(all, 'err-start', { predicate: (c) => c.includes('out-start') && c.includes('err-start') });

  for (const f of [out, err, all]) fs.renameSync(f, `${f}.1`);
  await call(pm2, 'reloadLogs');
  if (IS_ORIGINAL) {
    // pm2 7.0.4 answers reloadLogs before it has reopened the files, and drops what the app
    // writes meanwhile: signal until lines arrive (the renamed files must still get none).
    let n = 0;
    await waitFor(async () => {
      n += 1;
      await signal(pm2, 'rot');
      await sleep(100);
      return (read(out) || '').includes('out-sig-') && (read(err) || '').includes('err-sig-');
    }, { timeout: 15000, interval: 200, message: 'nothing written at the original paths after reloadLogs' });
    assert.ok(n >= 1);
  } else {
    // once reloadLogs has answered, nothing is lost: the very next lines are in the new files
    await signal(pm2, 'rot');
    assert.equal(await waitContent(out, 'out-sig-1;'), 'out-sig-1;\n');
    assert.equal(await waitContent(err, 'err-sig-1;'), 'err-sig-1;\n');
    await waitContent(all, 'err-sig-1;', { predicate: (c) => c.includes('out-sig-1;') && c.includes('err-sig-1;') });
  }
  assert.match(read(out), /^(out-sig-\d+;\n)+$/);
  assert.match(read(err), /^(err-sig-\d+;\n)+$/);
  await waitContent(all, 'err-sig-', { predicate: (c) => c.includes('out-sig-') && c.includes('err-sig-') });
  assert.ok(!read(all).includes('start'), 'old lines stay in the renamed file');
  assert.equal(read(`${out}.1`), 'out-start\n', 'nothing new goes to the renamed file');
  assert.equal(read(`${err}.1`), 'err-start\n');
  assert.deepEqual(lines(read(`${all}.1`)).sort(), ['err-start', 'out-start']);
});

test('SIGUSR2 to the daemon reopens log files too', { timeout: TEST_TIMEOUT }, async (t) => {
  const box = await sandbox(t);
  const { pm2, home } = box;
  await call(pm2, 'connect');
  await startTalker(box, { name: 'usr2' });
  const out = path.join(home, 'logs', 'usr2-out.log');
  await waitContent(out, 'out-start');
  fs.renameSync(out, `${out}.1`);
  const daemonPid = Number(fs.readFileSync(path.join(home, 'pm2.pid'), 'utf8'));
  assert.ok(daemonPid > 1 && isAlive(daemonPid));
  process.kill(daemonPid, 'SIGUSR2');
  // the signal is handled asynchronously: wait until an app line lands at the original path
  let n = 0;
  await waitFor(async () => {
    n += 1;
    await signal(pm2, 'usr2');
    return (read(out) || '').includes('out-sig-');
  }, { timeout: 15000, interval: 300, message: 'no new file after SIGUSR2' });
  assert.ok(!read(out).includes('out-start'));
  assert.ok(n >= 1);
  assert.ok(isAlive(daemonPid), 'the daemon survives SIGUSR2');
  await onlineProc(pm2, 'usr2');
});

// ---------------------------------------------------------------------------
// built-in rotation (beyond pm2)

const ROTATED = (stem) => new RegExp(`^${stem}__(\\d{4})-(\\d{2})-(\\d{2})_(\\d{2})-(\\d{2})-(\\d{2})(?:\\.\\d+)?\\.log(\\.gz)?$`);

function rotatedFiles(logDir, stem) {
  const re = ROTATED(stem);
  return fs.readdirSync(logDir).filter((f) => re.test(f)).map((f) => path.join(logDir, f));
}

function readMaybeGz(file) {
  const buf = fs.readFileSync(file);
  return file.endsWith('.gz') ? zlib.gunzipSync(buf).toString('utf8') : buf.toString('utf8');
}

// A rotated file holds whole lines: it starts where a line starts and ends with one's end.
function assertWholeLines(text, file) {
  const name = path.basename(file);
  assert.ok(text.endsWith('\n'), `${name} ends mid-line: ...${JSON.stringify(text.slice(-24))}`);
  assert.match(text.slice(0, 16), /^(seq-\d{6} |burst-done)/, `${name} starts mid-line: ${JSON.stringify(text.slice(0, 24))}...`);
}

// Sequence numbers of `seq-NNNNNN` lines in `text`, checking each file is in order.
function seqs(text, file) {
  const out = [];
  for (const l of lines(text)) {
    const m = /^seq-(\d{6}) /.exec(l);
    if (m) out.push(Number(m[1]));
  }
  for (let i = 1; i < out.length; i++) {
    if (out[i] <= out[i - 1]) assert.fail(`${path.basename(file)}: line order broken at ${out[i - 1]} -> ${out[i]}`);
  }
  return out;
}

test('rotation: max_size rotates to <name>-out__YYYY-MM-DD_HH-mm-ss.log; no line lost or repeated', { timeout: TEST_TIMEOUT, skip: ONLY_OURS }, async (t) => {
  const { pm2, home, writeApp } = await sandbox(t);
  const script = writeApp('burst.js', burster);
  const N = 3000; // ~270 KB
  await call(pm2, 'connect');
  await call(pm2, 'start', { script, name: 'big', args: [String(N)], max_size: '10K', retain: 1000 });
  const logDir = path.join(home, 'logs');
  const current = path.join(logDir, 'big-out.log');
  const all = await waitFor(() => {
    const files = rotatedFiles(logDir, 'big-out');
    const texts = files.concat([current]).map((f) => [f, read(f) || '']);
    const joined = texts.map(([, c]) => c).join('');
    if (!joined.includes('burst-done')) return false;
    return { files, texts };
  }, { timeout: 20000, message: 'burst never fully logged' });
  assert.ok(all.files.length >= 5, `rotated at least 5 times (${all.files.length} rotated files)`);
  for (const [f, c] of all.texts) if (f !== current) assertWholeLines(c, f);
  const seen = [];
  for (const [f, c] of all.texts) seen.push(...seqs(c, f));
  seen.sort((a, b) => a - b);
  assert.equal(seen.length, N, `every line exactly once (${seen.length} of ${N})`);
  for (let i = 0; i < N; i++) if (seen[i] !== i) assert.fail(`line ${i} missing or repeated`);
  // a rotated file holds at least max_size bytes (it rotated because it reached it)
  for (const f of all.files) assert.ok(fs.statSync(f).size >= 10 * 1024, `${path.basename(f)} >= 10K`);
  // the date in the name is today's (or, right around midnight, yesterday's)
  const m = ROTATED('big-out').exec(path.basename(all.files[0]));
  const stamp = new Date(Number(m[1]), Number(m[2]) - 1, Number(m[3]));
  assert.ok(Math.abs(Date.now() - stamp.getTime()) < 2 * 86400000, 'date stamp is current');
  await onlineProc(pm2, 'big');
});

test('rotation: retain keeps the newest rotated files only', { timeout: TEST_TIMEOUT, skip: ONLY_OURS }, async (t) => {
  const { pm2, home, writeApp } = await sandbox(t);
  const script = writeApp('burst.js', burster);
  const N = 3000;
  await call(pm2, 'connect');
  await call(pm2, 'start', { script, name: 'kept', args: [String(N)], max_size: '10K', retain: 2 });
  const logDir = path.join(home, 'logs');
  const current = path.join(logDir, 'kept-out.log');
  await waitFor(() => (read(current) || '').includes('burst-done') ||
    rotatedFiles(logDir, 'kept-out').some((f) => readMaybeGz(f).includes('burst-done')),
  { timeout: 20000, message: 'burst never fully logged' });
  // pruning may run just after the rotation: wait for it to settle at `retain`
  const kept = await waitFor(() => {
    const files = rotatedFiles(logDir, 'kept-out');
    return files.length === 2 ? files : false;
  }, { timeout: 15000, message: `rotated files never pruned to 2: ${rotatedFiles(logDir, 'kept-out').map((f) => path.basename(f))}` });
  for (const f of kept) assertWholeLines(readMaybeGz(f), f);
  // what is left is the newest output: contiguous up to the last line
  const seen = [];
  for (const f of kept.concat([current])) seen.push(...seqs(readMaybeGz(f), f));
  seen.sort((a, b) => a - b);
  assert.equal(seen[seen.length - 1], N - 1, 'the last line is kept');
  for (let i = 1; i < seen.length; i++) {
    if (seen[i] !== seen[i - 1] + 1) assert.fail(`kept files are not the newest: gap ${seen[i - 1]} -> ${seen[i]}`);
  }
  assert.ok(seen[0] > 0, 'the oldest output was pruned');
});

test('rotation: compress: true gzips rotated files', { timeout: TEST_TIMEOUT, skip: ONLY_OURS }, async (t) => {
  const { pm2, home, writeApp } = await sandbox(t);
  const script = writeApp('burst.js', burster);
  const N = 1500;
  await call(pm2, 'connect');
  await call(pm2, 'start', { script, name: 'gz', args: [String(N)], max_size: '10K', retain: 1000, compress: true });
  const logDir = path.join(home, 'logs');
  const current = path.join(logDir, 'gz-out.log');
  const texts = await waitFor(() => {
    const files = rotatedFiles(logDir, 'gz-out');
    if (files.length === 0 || !files.every((f) => f.endsWith('.gz'))) return false;
    const out = files.map((f) => [f, readMaybeGz(f)]); // throws (retried) while a .gz is being written
    out.push([current, read(current) || '']);
    return out.map(([, c]) => c).join('').includes('burst-done') ? out : false;
  }, { timeout: 20000, message: 'rotated files never all compressed' });
  for (const [f, c] of texts) if (f !== current) assertWholeLines(c, f);
  const seen = [];
  for (const [f, c] of texts) seen.push(...seqs(c, f));
  seen.sort((a, b) => a - b);
  assert.equal(seen.length, N, `every line exactly once across .gz files (${seen.length} of ${N})`);
  for (const [f] of texts) {
    if (f !== current) assert.match(path.basename(f), /^gz-out__\d{4}-\d{2}-\d{2}_\d{2}-\d{2}-\d{2}(?:\.\d+)?\.log\.gz$/);
  }
});

test('rotation: compress with retain keeps exactly `retain` .gz files, the newest', { timeout: TEST_TIMEOUT, skip: ONLY_OURS }, async (t) => {
  const { pm2, home, writeApp } = await sandbox(t);
  const script = writeApp('burst.js', burster);
  const N = 3000;
  await call(pm2, 'connect');
  await call(pm2, 'start', { script, name: 'gzkept', args: [String(N)], max_size: '10K', retain: 3, compress: true });
  const logDir = path.join(home, 'logs');
  const current = path.join(logDir, 'gzkept-out.log');
  await waitFor(() => (read(current) || '').includes('burst-done') ||
    rotatedFiles(logDir, 'gzkept-out').some((f) => { try { return readMaybeGz(f).includes('burst-done'); } catch { return false; } }),
  { timeout: 20000, message: 'burst never fully logged' });
  const kept = await waitFor(() => {
    const fl = rotatedFiles(logDir, 'gzkept-out');
    return fl.length === 3 && fl.every((f) => f.endsWith('.gz')) ? fl : false;
  }, { timeout: 15000, message: `expected 3 .gz rotated files, got ${rotatedFiles(logDir, 'gzkept-out').map((f) => path.basename(f))}` });
  const seen = [];
  for (const f of kept.concat([current])) seen.push(...seqs(readMaybeGz(f), f));
  seen.sort((a, b) => a - b);
  assert.equal(seen[seen.length - 1], N - 1, 'the last line is kept');
  for (let i = 1; i < seen.length; i++) {
    if (seen[i] !== seen[i - 1] + 1) assert.fail(`kept files are not the newest: gap ${seen[i - 1]} -> ${seen[i]}`);
  }
});

test('rotation is off by default', { timeout: TEST_TIMEOUT }, async (t) => {
  const { pm2, home, writeApp } = await sandbox(t);
  const script = writeApp('burst.js', burster);
  await call(pm2, 'connect');
  await call(pm2, 'start', { script, name: 'plain', args: ['2000'] });
  const current = path.join(home, 'logs', 'plain-out.log');
  const c = await waitContent(current, 'burst-done', { timeout: 20000 });
  assert.equal(seqs(c, current).length, 2000);
  assert.deepEqual(fs.readdirSync(path.join(home, 'logs')).filter((f) => f.includes('__')), []);
});

test('rotation defaults from PM2_LOG_MAX_SIZE / PM2_LOG_RETAIN / PM2_LOG_COMPRESS in the daemon environment', { timeout: TEST_TIMEOUT, skip: ONLY_OURS }, async (t) => {
  const { pm2, home, writeApp } = await sandbox(t);
  const script = writeApp('burst.js', burster);
  const keys = ['PM2_LOG_MAX_SIZE', 'PM2_LOG_RETAIN', 'PM2_LOG_COMPRESS'];
  const saved = Object.fromEntries(keys.map((k) => [k, process.env[k]]));
  const restore = () => {
    for (const k of keys) {
      if (saved[k] === undefined) delete process.env[k];
      else process.env[k] = saved[k];
    }
  };
  t.after(restore);
  Object.assign(process.env, { PM2_LOG_MAX_SIZE: '10K', PM2_LOG_RETAIN: '3', PM2_LOG_COMPRESS: 'true' });
  try {
    await call(pm2, 'connect'); // the daemon reads them at start
  } finally {
    restore();
  }
  await call(pm2, 'start', { script, name: 'envrot', args: ['3000'] });
  const logDir = path.join(home, 'logs');
  const current = path.join(logDir, 'envrot-out.log');
  await waitFor(() => (read(current) || '').includes('burst-done') ||
    rotatedFiles(logDir, 'envrot-out').some((f) => { try { return readMaybeGz(f).includes('burst-done'); } catch { return false; } }),
  { timeout: 20000, message: 'burst never fully logged' });
  const files = await waitFor(() => {
    const fl = rotatedFiles(logDir, 'envrot-out');
    return fl.length === 3 && fl.every((f) => f.endsWith('.gz')) ? fl : false;
  }, { timeout: 15000, message: `expected 3 .gz rotated files, got ${rotatedFiles(logDir, 'envrot-out').map((f) => path.basename(f))}` });
  for (const f of files) assert.ok(readMaybeGz(f).includes('seq-'));
  await onlineProc(pm2, 'envrot');
});

// ---------------------------------------------------------------------------
// bad input

test('a log path in a folder that cannot be created: a clear error or a logged warning; apps keep running', { timeout: TEST_TIMEOUT }, async (t) => {
  const box = await sandbox(t);
  const { pm2, home, dir } = box;
  fs.writeFileSync(path.join(dir, 'plainfile'), 'not a folder\n');
  const badDir = path.join(dir, 'plainfile', 'sub');
  const badOut = path.join(badDir, 'out.log');
  await call(pm2, 'connect');
  const healthy = await startTalker(box, { name: 'healthy' });

  let err = null;
  try {
    await call(pm2, 'start', { script: box.writeApp('talk.js', talker), name: 'badlog', out_file: badOut, env: { READY_DIR: path.join(dir, 'ready') } });
  } catch (e) {
    err = e;
  }
  if (err) {
    assert.match(errMessages(err), /folder|director|ENOTDIR|create|open/i, `a clear error: ${errMessages(err)}`);
  } else {
    // started anyway: the daemon must say why the file is not written, and the app runs
    await readFileEventually(path.join(home, 'pm2.log'), {
      timeout: 15000, predicate: (c) => c.includes(badOut) || c.includes(badDir),
    });
    const p = await onlineProc(pm2, 'badlog');
    await waitFor(() => fs.existsSync(path.join(dir, 'ready', String(p.pid))), { timeout: 15000, message: 'badlog never ready' });
    await signal(pm2, 'badlog');
    await waitContent(path.join(home, 'logs', 'badlog-error.log'), 'err-sig-1;');
    assert.ok(isAlive(p.pid));
  }
  const again = await onlineProc(pm2, 'healthy');
  assert.equal(again.pid, healthy.pid, 'the other app kept running');
  assert.ok(isAlive(healthy.pid));
  assert.ok(fs.statSync(path.join(dir, 'plainfile')).isFile(), 'the regular file is left alone');
});

function devFullFails() {
  let fd;
  try {
    fd = fs.openSync('/dev/full', 'a');
    fs.writeSync(fd, 'x');
    return false;
  } catch (e) {
    return e.code === 'ENOSPC';
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}

test('a full disk (out_file on /dev/full): a logged warning, the app and its other stream go on', {
  timeout: TEST_TIMEOUT,
  skip: !devFullFails() && 'writing to /dev/full does not fail with ENOSPC here',
}, async (t) => {
  const box = await sandbox(t);
  const { pm2, home } = box;
  await call(pm2, 'connect');
  const p = await startTalker(box, { name: 'full', out_file: '/dev/full' });
  const errFile = path.join(home, 'logs', 'full-error.log');
  await waitContent(errFile, 'err-start');
  for (let i = 1; i <= 3; i++) {
    await signal(pm2, 'full');
    await waitContent(errFile, `err-sig-${i};`);
  }
  await readFileEventually(path.join(home, 'pm2.log'), {
    timeout: 15000, predicate: (c) => /ENOSPC|No space left/i.test(c),
  });
  const again = await onlineProc(pm2, 'full');
  assert.equal(again.pid, p.pid, 'the app was not restarted');
  assert.equal(again.pm2_env.restart_time, 0);
  // the daemon still serves other apps
  await call(pm2, 'start', { script: box.writeApp('ok.js', apps.forever), name: 'ok' });
  await onlineProc(pm2, 'ok');
});

test('pm2.log records each exit with its code and the signal that ended it, in pm2\'s words', async (t) => {
  const { pm2, home, writeApp } = await sandbox(t);
  await call(pm2, 'connect');
  await call(pm2, 'start', { script: writeApp('crash.js', 'setTimeout(() => process.exit(3), 100)\n'), name: 'crash', autorestart: false });
  await call(pm2, 'start', { script: writeApp('killed.js', "setTimeout(() => process.kill(process.pid, 'SIGKILL'), 100)\n"), name: 'killed', autorestart: false });
  const log = () => fs.readFileSync(path.join(home, 'pm2.log'), 'utf8');
  await waitFor(() => /App \[crash:0\] exited with code \[3\] via signal \[SIGINT\]/.test(log()), { message: 'no exit line for crash' });
  await waitFor(() => /App \[killed:1\] exited with code \[0\] via signal \[SIGKILL\]/.test(log()), { message: 'no exit line for killed' });
});
