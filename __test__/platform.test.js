'use strict';

// Which native package the loader picks, and what it says when there is none: a script runs
// on a simulated machine (process.platform / arch and the C library it would find) and calls
// pm2.connect (with the daemon in that script's own process, so that nothing outlives it),
// whose errback gets the loader's one-sentence error.

const { test } = require('node:test');
const assert = require('node:assert');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { ROOT, IS_ORIGINAL, runChild } = require('./helpers');
const { hostPlatform } = require('../platform');

const SUPPORTED = 'linux-x64-gnu, linux-arm64-gnu, linux-x64-musl, linux-arm64-musl, darwin-x64, darwin-arm64';

// `ldd`: what /usr/bin/ldd holds ('missing': no such file); `glibcInReport`: whether Node's
// diagnostic report names a glibc (omitted: the real report).
async function connectOn(t, { platform, arch, ldd, glibcInReport }) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pm2-platform-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const machine = path.join(dir, 'machine.js');
  fs.writeFileSync(machine, `
    const fs = require('fs')
    Object.defineProperty(process, 'platform', { value: ${JSON.stringify(platform)} })
    Object.defineProperty(process, 'arch', { value: ${JSON.stringify(arch)} })
    const ldd = ${JSON.stringify(ldd)}
    const readFileSync = fs.readFileSync
    fs.readFileSync = function (file, ...rest) {
      if (file !== '/usr/bin/ldd' || ldd === undefined) return readFileSync.call(this, file, ...rest)
      if (ldd === 'missing') throw Object.assign(new Error('ENOENT'), { code: 'ENOENT' })
      return ldd
    }
    const glibc = ${JSON.stringify(glibcInReport)}
    if (glibc !== undefined) process.report.getReport = () => ({ header: glibc ? { glibcVersionRuntime: '2.36' } : {} })
  `);
  const script = `require(${JSON.stringify(ROOT)}).connect(true, (err) => { console.log(err ? err.message : 'connected'); process.exit() })`;
  const r = await runChild(process.execPath, ['-r', machine, '-e', script], { env: { PM2_HOME: path.join(dir, 'home') } });
  assert.strictEqual(r.code, 0, r.stderr);
  assert.strictEqual(r.stdout.trim().split('\n').length, 1, `one line: ${r.stdout}`);
  return r.stdout.trim();
}

test('on an unsupported platform, connect fails with one sentence naming it and the supported ones', { skip: IS_ORIGINAL }, async (t) => {
  const message = await connectOn(t, { platform: 'freebsd', arch: 'x64' });
  assert.strictEqual(
    message,
    `pm2 has no prebuilt package for freebsd-x64: the supported platforms are ${SUPPORTED} (elsewhere, build it from source: see the README)`
  );
  assert.match(await connectOn(t, { platform: 'linux', arch: 'ppc64', ldd: 'GNU libc' }), /^pm2 has no prebuilt package for linux-ppc64-gnu: /);
});

test('on musl (Alpine) the loader asks for the musl package, found through ldd or the report', { skip: IS_ORIGINAL }, async (t) => {
  const missing = "pm2's package for linux-x64-musl (pm2-linux-x64-musl) is not installed: reinstall pm2 without --omit=optional / --no-optional, or run `npm run build` in a clone of pm2";
  assert.strictEqual(await connectOn(t, { platform: 'linux', arch: 'x64', ldd: 'echo "musl libc (x86_64)"' }), missing);
  assert.strictEqual(await connectOn(t, { platform: 'linux', arch: 'x64', ldd: 'missing', glibcInReport: false }), missing);
});

test('a supported platform whose package is not installed is named with its package', { skip: IS_ORIGINAL }, async (t) => {
  assert.match(await connectOn(t, { platform: 'darwin', arch: 'arm64' }), /^pm2's package for darwin-arm64 \(pm2-darwin-arm64\) is not installed: /);
  assert.match(await connectOn(t, { platform: 'linux', arch: 'arm64', ldd: 'GNU C Library' }), /^pm2's package for linux-arm64-gnu \(pm2-linux-arm64-gnu\) is not installed: /);
});

test('the package built for this machine is found, whether ldd or only the report names its C library', { skip: IS_ORIGINAL }, async (t) => {
  const here = { platform: process.platform, arch: process.arch };
  assert.strictEqual(await connectOn(t, here), 'connected');
  if (process.platform === 'linux') {
    const glibc = hostPlatform().endsWith('-gnu');
    assert.strictEqual(await connectOn(t, { ...here, ldd: 'missing', glibcInReport: glibc }), 'connected');
  }
});
