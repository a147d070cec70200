#!/usr/bin/env node
'use strict'
// Writes the packages to publish into one directory (default dist/): one package per platform
// built into npm/<platform>/, and the root package (JavaScript and types only, no install
// script) with exactly those platform packages as exact-version optional dependencies.
// `node scripts/pack.js [out-dir]`; prints the tarballs' paths, one a line.

const fs = require('fs')
const os = require('os')
const path = require('path')
const { execFileSync } = require('child_process')
const { TARGETS, packageName } = require('../platform')

const ROOT = path.resolve(__dirname, '..')
const out = path.resolve(process.argv[2] || path.join(ROOT, 'dist'))
const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8'))

function npmPack(dir) {
  const args = ['pack', dir, '--pack-destination', out, '--ignore-scripts', '--json']
  const [info] = JSON.parse(execFileSync('npm', args, { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] }))
  return info
}

function fail(message) {
  console.error(`pack: ${message}`)
  process.exit(1)
}

fs.mkdirSync(out, { recursive: true })
const tarballs = []
const packed = []

for (const platform of TARGETS) {
  const dir = path.join(ROOT, 'npm', platform)
  if (!fs.existsSync(path.join(dir, `${pkg.napi.binaryName}.${platform}.node`))) continue
  const manifest = JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8'))
  if (manifest.name !== packageName(platform) || manifest.version !== pkg.version) {
    fail(`npm/${platform}/package.json must be ${packageName(platform)}@${pkg.version}`)
  }
  // Every executable built into the directory must be listed in the package's files.
  const unlisted = fs.readdirSync(dir).filter((f) => !f.startsWith('.') && !manifest.files.includes(f) && f !== 'package.json')
  if (unlisted.length) fail(`npm/${platform}/package.json does not list ${unlisted.join(', ')} in its files`)
  tarballs.push(npmPack(dir).filename)
  packed.push(platform)
}
if (!tarballs.length) fail('no platform is built: run `npm run build` first')

// The root package as npm would pack it here, staged with its published manifest.
const stage = fs.mkdtempSync(path.join(os.tmpdir(), 'pm2-pack-'))
try {
  const [listing] = JSON.parse(execFileSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: ROOT, encoding: 'utf8' }))
  for (const { path: file } of listing.files) {
    if (file.endsWith('.node')) fail(`the root package must not carry ${file}`)
    fs.mkdirSync(path.dirname(path.join(stage, file)), { recursive: true })
    fs.copyFileSync(path.join(ROOT, file), path.join(stage, file))
  }
  const { scripts, devDependencies, overrides, ...published } = pkg
  published.optionalDependencies = Object.fromEntries(packed.map((p) => [packageName(p), pkg.version]))
  fs.writeFileSync(path.join(stage, 'package.json'), `${JSON.stringify(published, null, 2)}\n`)
  tarballs.unshift(npmPack(stage).filename)
} finally {
  fs.rmSync(stage, { recursive: true, force: true })
}

for (const file of tarballs) console.log(path.join(out, file))
