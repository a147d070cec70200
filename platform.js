'use strict'
// Where this machine's native files are: the addon and the executables ship in one package per
// platform (napi-rs's names: linux-x64-gnu, linux-x64-musl, darwin-arm64, ...), installed by npm
// as the optional dependency whose os, cpu and libc match, or built into npm/<platform>/ in a clone.

const fs = require('fs')
const path = require('path')
const pkg = require('./package.json')

const ARCH = { x86_64: 'x64', aarch64: 'arm64' }

// 'x86_64-unknown-linux-musl' -> 'linux-x64-musl', 'aarch64-apple-darwin' -> 'darwin-arm64'
function platformOfTarget(target) {
  const [arch, , os, abi] = target.split('-')
  return [os, ARCH[arch] || arch, abi].filter(Boolean).join('-')
}

// What the project builds packages for (package.json's napi targets, as Rust target triples).
const TARGETS = pkg.napi.targets.map(platformOfTarget)

function packageName(platform) {
  return `${pkg.name}-${platform}`
}

// The platforms with a package: a published pm2 depends on exactly those that were released;
// a clone has no such list and can build any target.
const SUPPORTED = pkg.optionalDependencies
  ? TARGETS.filter((platform) => packageName(platform) in pkg.optionalDependencies)
  : TARGETS

// Alpine and friends: musl's ldd says so; reading it is far cheaper than a diagnostic report.
function isMusl() {
  try {
    return fs.readFileSync('/usr/bin/ldd', 'latin1').includes('musl')
  } catch (_) {}
  const header = process.report && process.report.getReport().header
  return Boolean(header) && !header.glibcVersionRuntime
}

function hostPlatform() {
  const { platform, arch } = process
  return platform === 'linux' ? `${platform}-${arch}-${isMusl() ? 'musl' : 'gnu'}` : `${platform}-${arch}`
}

// The directory holding `pm2.<platform>.node`, `pm2-daemon` (and the CLI's executables), or an
// Error in one sentence saying what is missing and what to do.
function nativeDir() {
  const platform = hostPlatform()
  const addon = `${pkg.napi.binaryName}.${platform}.node`
  const dirs = [path.join(__dirname, 'npm', platform)]
  try {
    dirs.push(path.dirname(require.resolve(`${packageName(platform)}/package.json`)))
  } catch (_) {}
  const dir = dirs.find((d) => fs.existsSync(path.join(d, addon)))
  if (dir) return { dir, addon: path.join(dir, addon) }
  if (!SUPPORTED.includes(platform)) {
    throw new Error(
      `pm2 has no prebuilt package for ${platform}: the supported platforms are ${SUPPORTED.join(', ')}` +
        ' (elsewhere, build it from source: see the README)'
    )
  }
  throw new Error(
    `pm2's package for ${platform} (${packageName(platform)}) is not installed: reinstall pm2 without` +
      ' --omit=optional / --no-optional, or run `npm run build` in a clone of pm2'
  )
}

module.exports = { TARGETS, SUPPORTED, platformOfTarget, hostPlatform, packageName, nativeDir }
