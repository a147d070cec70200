#!/usr/bin/env node
'use strict'
// Builds the addon and every executable of the crate for one Rust target (this machine's, or
// `--target <triple>`) in release mode, and puts them in npm/<platform>/, the directory of that
// platform's package: `node scripts/build.js [--target aarch64-unknown-linux-gnu]`.

const fs = require('fs')
const path = require('path')
const { execFileSync } = require('child_process')
const { platformOfTarget } = require('../platform')

const ROOT = path.resolve(__dirname, '..')
const run = (cmd, args) => execFileSync(cmd, args, { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] })

function option(name) {
  const i = process.argv.indexOf(name)
  return i > 0 ? process.argv[i + 1] : undefined
}

const target = option('--target') || /^host: (\S+)$/m.exec(run('rustc', ['-vV']))[1]
const platform = platformOfTarget(target)
const { binaryName } = require('../package.json').napi

// The addon (node/), then the executables of the main crate: the second run reuses the
// crate the first one compiled.
execFileSync(
  path.join(ROOT, 'node_modules', '.bin', 'napi'),
  ['build', '--platform', '--release', '--target', target, '--manifest-path', 'node/Cargo.toml',
    '--package-json-path', 'package.json', '--output-dir', 'target/napi', '--no-js',
    '--dts', 'binding.d.ts', '--no-dts-header'],
  { cwd: ROOT, stdio: 'inherit' }
)
execFileSync('cargo', ['build', '--release', '--target', target, '--package', 'pm2-rs', '--bins'], { cwd: ROOT, stdio: 'inherit' })

const metadata = JSON.parse(run('cargo', ['metadata', '--no-deps', '--format-version', '1']))
const main = metadata.packages.find((p) => p.name === 'pm2-rs')
const executables = main.targets.filter((t) => t.kind.includes('bin')).map((t) => t.name)

const dest = path.join(ROOT, 'npm', platform)
fs.mkdirSync(dest, { recursive: true })
// Copy, then rename: a daemon or test running from npm/<platform>/ never sees half a file.
function install(from, name) {
  const tmp = path.join(dest, `.${name}.tmp`)
  fs.copyFileSync(from, tmp)
  fs.renameSync(tmp, path.join(dest, name))
}
install(path.join(ROOT, 'target', 'napi', `${binaryName}.${platform}.node`), `${binaryName}.${platform}.node`)
for (const name of executables) install(path.join(metadata.target_directory, target, 'release', name), name)
console.log(`npm/${platform}/: ${binaryName}.${platform}.node, ${executables.join(', ')}`)
