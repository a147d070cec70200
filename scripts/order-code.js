#!/usr/bin/env node
'use strict'
// Regenerates src/bin/code-order.ld, the list of functions the linker places first in the daemon
// (and pm2-runtime): `node scripts/order-code.js` (needs valgrind; takes a few minutes).
//
// Why: the kernel maps an executable's code 64 KB around each page it runs. Left in the
// compiler's order, the few hundred functions a daemon runs to start and to sit idle are spread
// over its whole 3.7 MB of code, so an idle daemon kept about 2 MB of it resident. Placed
// together they fit in a few hundred KB.
//
// How: an unstripped daemon runs under callgrind while a client drives it, once idle (start,
// connect, list, monitor ticks), then with apps (start, logs, restart, reload, stop, delete,
// kill). Every function it ran goes into the script, the idle ones first. Names are written as
// patterns: the crates' hash disambiguators become `*`, so a new build, version or toolchain
// still matches; a function that no longer matches simply goes back to the compiler's order.

const fs = require('fs')
const os = require('os')
const path = require('path')
const { spawn, execFileSync } = require('child_process')

const ROOT = path.resolve(__dirname, '..')
const SCRIPT = path.join(ROOT, 'src', 'bin', 'code-order.ld')
const TARGET_DIR = path.join(ROOT, 'target', 'order-code')
const sleep = (ms) => new Promise((r) => setTimeout(r, ms))

function buildUnstripped() {
  execFileSync('cargo', ['build', '--release', '--package', 'pm2-rs', '--bin', 'pm2-daemon', '--target-dir', TARGET_DIR], {
    cwd: ROOT,
    stdio: 'inherit',
    // Symbols to name what ran, and the compiler's layout (valgrind names only what sits in .text).
    env: { ...process.env, CARGO_PROFILE_RELEASE_STRIP: 'none', PM2_RS_NO_CODE_ORDER: '1' },
  })
  return path.join(TARGET_DIR, 'release', 'pm2-daemon')
}

async function waitFor(file, ms) {
  for (const end = Date.now() + ms; Date.now() < end; await sleep(100)) if (fs.existsSync(file)) return
  throw new Error(`${file} did not appear within ${ms} ms`)
}

// The functions (mangled names) of `binary` that ran, from one callgrind output file.
function functionsRun(file, binary) {
  const objects = new Map()
  const names = new Map()
  const ran = new Set()
  let object = null
  for (const line of fs.readFileSync(file, 'utf8').split('\n')) {
    // Names are given once, where an id first appears, whether as caller (ob=, fn=) or callee
    // (cob=, cfn=); only ob= and fn= say what ran.
    let m = /^(c?)ob=\((\d+)\)(?: (.*))?$/.exec(line)
    if (m) {
      if (m[3]) objects.set(m[2], m[3])
      if (!m[1]) object = objects.get(m[2])
      continue
    }
    m = /^(c?)fn=\((\d+)\)(?: (.*))?$/.exec(line)
    if (!m) continue
    if (m[3]) names.set(m[2], m[3])
    if (!m[1] && object === binary) ran.add(names.get(m[2]))
  }
  return ran
}

// The section patterns for one symbol: a function's section is `.text.<symbol>`, or
// `.text.unlikely.<symbol>` when the compiler deems it cold. Crate disambiguators (`Cs<hash>_`)
// and the legacy names' trailing hash become wildcards, and the trailing `*` takes the
// `.llvm.<hash>` suffix that a function shared between codegen units gets.
function patterns(symbol) {
  let name = symbol.replace(/\.llvm\.\d+$/, '')
  if (name.startsWith('_R')) name = `${name.replace(/Cs[0-9A-Za-z]+_(?=\d)/g, 'Cs*_')}*`
  else if (name.startsWith('_ZN')) name = `${name.replace(/17h[0-9a-f]{16}E$/, '17h')}*`
  else if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) return null
  return `.text.${name} .text.unlikely.${name}`
}

// Every name of each function, from the symbol table: functions with the same code share one
// section, under one of their names, while valgrind may report another.
function aliases(binary) {
  const byAddress = new Map()
  for (const line of execFileSync('nm', ['--defined-only', binary], { encoding: 'utf8', maxBuffer: 1 << 28 }).split('\n')) {
    const [address, type, name] = line.split(' ')
    if (!name || !'tTwW'.includes(type)) continue
    if (!byAddress.has(address)) byAddress.set(address, [])
    byAddress.get(address).push(name)
  }
  const names = new Map()
  for (const group of byAddress.values()) for (const name of group) names.set(name, group)
  return (ran) => new Set([...ran].flatMap((name) => names.get(name) || [name]))
}

async function drive(call, daemonPid) {
  const apps = path.join(ROOT, 'bench', 'apps')
  await call('connect')
  await call('list')
  await sleep(5000) // monitor ticks, log flushes: what an idle daemon runs
  execFileSync('callgrind_control', ['--dump=idle', String(daemonPid)], { stdio: 'ignore' })

  await call('start', { script: path.join(apps, 'hello.js'), name: 'hello' })
  await call('start', { script: path.join(apps, 'http.js'), name: 'web', exec_mode: 'cluster', instances: 2, env: { BENCH_HTTP_PORT: '0' } })
  await sleep(3000)
  await call('list')
  await call('describe', 'hello')
  await call('restart', 'hello')
  await call('reload', 'web')
  await sleep(2000)
  await call('stop', 'all')
  await call('delete', 'all')
  await call('killDaemon')
}

async function main() {
  const binary = buildUnstripped()
  const home = fs.mkdtempSync(path.join(os.tmpdir(), 'order-code-'))
  const out = path.join(home, 'callgrind.out')
  const daemon = spawn('valgrind', ['--tool=callgrind', '--demangle=no', `--callgrind-out-file=${out}`, binary, '--home', home], {
    stdio: 'ignore',
  })
  const exited = new Promise((resolve) => daemon.on('exit', resolve))
  process.env.PM2_HOME = home
  const pm2 = require(ROOT)
  const call = (method, ...args) => new Promise((res, rej) => pm2[method](...args, (e, r) => (e ? rej(e) : res(r))))
  try {
    await waitFor(path.join(home, 'rpc.sock'), 120000)
    await drive(call, daemon.pid)
    await exited
  } catch (e) {
    await call('killDaemon').catch(() => daemon.kill('SIGKILL')) // the apps go with it
    throw e
  } finally {
    pm2.disconnect()
  }

  const dumps = fs.readdirSync(home).filter((f) => f.startsWith('callgrind.out'))
  const idleDump = dumps.find((f) => f !== 'callgrind.out')
  if (!idleDump) throw new Error(`no idle dump among ${dumps.join(', ')}`)
  const withAliases = aliases(binary)
  const idle = withAliases(functionsRun(path.join(home, idleDump), binary))
  const rest = withAliases(functionsRun(out, binary))
  const seen = new Set()
  // Sorted, so that a rerun on the same code writes the same file.
  const unseen = (set) => [...set].map(patterns).filter((p) => p && !seen.has(p) && seen.add(p)).sort()
  const first = unseen(idle)
  const then = unseen(rest)
  const list = (ps) => ps.map((p) => `    *(${p})`).join('\n')
  fs.writeFileSync(
    SCRIPT,
    `/* Generated by \`node scripts/order-code.js\`: the functions the daemon runs, placed before the
   rest of its code so that the pages it keeps resident hold little else. First what it runs to
   start and sit idle (${first.length}), then what it runs to serve apps (${then.length}). */
SECTIONS {
  .text.run_first : {
${list(first)}
${list(then)}
  }
}
INSERT BEFORE .text;
`
  )
  fs.rmSync(home, { recursive: true, force: true })
  console.log(`${path.relative(ROOT, SCRIPT)}: ${first.length} idle + ${then.length} serving patterns`)
}

main().catch((e) => {
  console.error(e)
  process.exit(1)
})
