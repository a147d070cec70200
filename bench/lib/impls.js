'use strict'
// The two implementations measured side by side. Both are loaded by the name a user would
// require: `pm2` resolves to this package (self-reference through "exports"), `pm2-original`
// to the original pm2 installed as a devDependency alias.

const fs = require('fs')
const path = require('path')
const { hostPlatform } = require('../../platform')

const ROOT = path.resolve(__dirname, '..', '..')

// BENCH_AGAINST=<directory of another checkout of this package, built> puts that build
// in the original's place: the same scenarios then measure a change against what came before.
// (Not named PM2_*: rounds run without the caller's PM2_* variables.)
const AGAINST = process.env.BENCH_AGAINST ? path.resolve(process.env.BENCH_AGAINST) : null

const IMPLS = {
  rs: { key: 'rs', label: 'pm2-rs', request: 'pm2' },
  orig: AGAINST
    ? { key: 'orig', label: `pm2-rs at ${path.basename(AGAINST)}`, request: AGAINST, dir: AGAINST }
    : { key: 'orig', label: 'pm2', request: 'pm2-original', dir: path.join(ROOT, 'node_modules', 'pm2-original') },
}

function modulePath(key) {
  return require.resolve(IMPLS[key].request, { paths: [ROOT] })
}

function load(key) {
  return require(modulePath(key))
}

function version(key) {
  const request = `${IMPLS[key].request}/package.json`
  return require(require.resolve(request, { paths: [ROOT] })).version
}

// The executables of a build of this package (none for the original: its daemon is `node`).
function executables(key) {
  const dir = key === 'rs' ? ROOT : AGAINST
  if (!dir) return []
  const native = path.join(dir, 'npm', hostPlatform())
  return ['pm2-daemon', 'pm2-runtime', 'pm2'].map((f) => path.join(native, f)).filter((f) => fs.existsSync(f))
}

module.exports = { ROOT, IMPLS, KEYS: Object.keys(IMPLS), modulePath, load, version, executables }
