'use strict';

// The packages as published: `npm run pack` writes the root and platform tarballs, a fresh
// project installs them (on a PATH without cargo, rustc or the napi CLI; the root package's
// own dependencies come from npm's cache when it has them), and pm2's Simple example runs
// there through require('pm2').

const { test, before, after } = require('node:test');
const assert = require('node:assert');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { ROOT, IS_ORIGINAL, sandbox, runChild, call } = require('./helpers');
const { hostPlatform, packageName } = require('../platform');

const PLATFORM = hostPlatform();
const VERSION = require('../package.json').version;
const ROOT_TARBALL = `pm2-${VERSION}.tgz`;
const PLATFORM_TARBALL = `${packageName(PLATFORM)}-${VERSION}.tgz`;
const BUILD_TOOLS = ['cargo', 'rustc', 'napi'];
const HAS_CLI = fs.existsSync(path.join(ROOT, 'bin', 'pm2'));

let work;
let tarballs;
let PATH;

function onPath(dirs, name) {
  return dirs.some((d) => fs.existsSync(path.join(d, name)));
}

// This PATH with the build tools hidden, after a directory holding only node, npm and npx. A
// directory that holds a build tool is replaced by one of links to everything else in it: a
// system directory that has cargo (Debian's packages put it in /usr/bin) still gives `sh`.
function pathWithoutBuildTools() {
  const bin = path.join(work, 'bin');
  fs.mkdirSync(bin);
  const dirs = (process.env.PATH || '').split(path.delimiter).filter(Boolean);
  fs.symlinkSync(process.execPath, path.join(bin, 'node'));
  for (const tool of ['npm', 'npx']) {
    const dir = [path.dirname(process.execPath), ...dirs].find((d) => fs.existsSync(path.join(d, tool)));
    fs.symlinkSync(path.join(dir, tool), path.join(bin, tool));
  }
  return [bin, ...dirs.map((d, i) => (BUILD_TOOLS.some((t) => fs.existsSync(path.join(d, t))) ? withoutBuildTools(d, path.join(work, `path-${i}`)) : d))];
}

function withoutBuildTools(dir, copy) {
  fs.mkdirSync(copy);
  for (const name of fs.readdirSync(dir)) {
    if (!BUILD_TOOLS.includes(name)) fs.symlinkSync(path.join(dir, name), path.join(copy, name));
  }
  return copy;
}

// npm's settings from an enclosing `npm test` must not leak into the scratch project's npm.
function cleanEnv(extra) {
  const env = {};
  for (const [k, v] of Object.entries(process.env)) if (!/^npm_/i.test(k)) env[k] = v;
  return { ...env, ...extra };
}

before(async () => {
  if (IS_ORIGINAL) return;
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'pm2-install-'));
  const packed = await runChild(process.execPath, [path.join(ROOT, 'scripts', 'pack.js'), path.join(work, 'dist')], {
    cwd: ROOT,
    env: cleanEnv({}),
    timeout: 120000,
  });
  assert.strictEqual(packed.code, 0, packed.stderr);
  tarballs = packed.stdout.trim().split('\n');
  PATH = pathWithoutBuildTools().join(path.delimiter);
});

after(() => {
  if (work) fs.rmSync(work, { recursive: true, force: true });
});

test('npm run pack writes the root package and this platform\'s package into one directory', { skip: IS_ORIGINAL }, () => {
  const dist = path.join(work, 'dist');
  assert.deepStrictEqual(tarballs, [path.join(dist, ROOT_TARBALL), path.join(dist, PLATFORM_TARBALL)]);
});

for (const ignoreScripts of [true, false]) {
  const how = ignoreScripts ? 'with --ignore-scripts' : 'with install scripts allowed';
  test(`installed from the tarballs ${how}, without a Rust toolchain, the Simple example runs`, { skip: IS_ORIGINAL, timeout: 180000 }, async (t) => {
    for (const tool of BUILD_TOOLS) assert.ok(!onPath(PATH.split(path.delimiter), tool), `${tool} is on the scratch PATH`);
    assert.ok(onPath(PATH.split(path.delimiter), 'sh'), 'sh is on the scratch PATH');

    const box = await sandbox(t);
    const project = fs.mkdtempSync(path.join(work, 'project-'));
    // The registry is replaced by the platform tarball: the project asks for pm2 only, and
    // npm brings this platform's package in as pm2's optional dependency.
    fs.writeFileSync(path.join(project, 'package.json'), JSON.stringify({
      name: 'scratch', version: '1.0.0', private: true,
      overrides: { [packageName(PLATFORM)]: `file:${path.join(work, 'dist', PLATFORM_TARBALL)}` },
    }));
    const env = cleanEnv({ PATH, PM2_HOME: box.home });
    const npmArgs = ['install', path.join(work, 'dist', ROOT_TARBALL), '--prefer-offline', '--no-audit', '--no-fund'];
    if (ignoreScripts) npmArgs.push('--ignore-scripts');
    const installed = await runChild('npm', npmArgs, { cwd: project, env, timeout: 120000 });
    assert.strictEqual(installed.code, 0, installed.stdout + installed.stderr);
    assert.doesNotMatch(installed.stdout + installed.stderr, /script/i, 'npm said something about scripts');

    const pkgDir = path.join(project, 'node_modules', 'pm2');
    const manifest = JSON.parse(fs.readFileSync(path.join(pkgDir, 'package.json'), 'utf8'));
    assert.strictEqual(manifest.scripts, undefined, 'the published root package has no scripts');
    assert.deepStrictEqual(manifest.optionalDependencies, { [packageName(PLATFORM)]: VERSION }, 'it depends on the packed platform');
    assert.ok(!fs.readdirSync(pkgDir, { recursive: true }).some((f) => String(f).endsWith('.node')), 'no addon in the root package');
    const platformDir = path.join(project, 'node_modules', packageName(PLATFORM));
    assert.ok(fs.existsSync(path.join(platformDir, 'pm2-daemon')), `${packageName(PLATFORM)} was installed`);

    for (const f of ['app.js', 'simple.js', 'status.js']) {
      fs.copyFileSync(path.join(ROOT, 'examples', 'seed', f), path.join(project, f));
    }
    const simple = await runChild('node', ['simple.js'], { cwd: project, env, timeout: 30000 });
    assert.strictEqual(simple.code, 0, simple.stdout + simple.stderr);

    const list = await call(box.pm2, 'list');
    assert.deepStrictEqual(list.map((p) => [p.name, p.pm2_env.status]), [['app', 'online']]);
    if (process.platform === 'linux') {
      // The daemon that runs it is the installed one.
      const daemonPid = Number(fs.readFileSync(path.join(box.home, 'pm2.pid'), 'utf8'));
      assert.strictEqual(fs.readlinkSync(`/proc/${daemonPid}/exe`), fs.realpathSync(path.join(platformDir, 'pm2-daemon')));
    }

    const status = await runChild('node', ['status.js'], { cwd: project, env, timeout: 30000 });
    assert.strictEqual(status.code, 0, status.stdout + status.stderr);
    assert.match(status.stdout, /'app'.*'online'/);

    await t.test('npx pm2 ls lists the app', { skip: !HAS_CLI && 'no pm2 command yet: turns on when bin/pm2 exists' }, async () => {
      const ls = await runChild('npx', ['--offline', 'pm2', 'ls'], { cwd: project, env, timeout: 30000 });
      assert.strictEqual(ls.code, 0, ls.stdout + ls.stderr);
      assert.match(ls.stdout, /app/);
      assert.match(ls.stdout, /online/);
    });
  });
}
