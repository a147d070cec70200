#!/usr/bin/env node
'use strict'
// The benchmark: this module and the original pm2 side by side, through the same public API.
//
//   node bench/run.js            full run, writes bench/RESULTS.md
//   node bench/run.js --quick    small sizes (CI smoke run), writes bench/RESULTS.quick.md
//   options: --only=connect,start   run some scenarios   --out=FILE   write the table elsewhere
//
// Each scenario runs in rounds; a round is one child process (lib/child.js) for one
// implementation with a fresh PM2_HOME, and the implementations alternate round by round.
// After every round, whatever the round started and is still alive is counted and killed.
// Exit status: non-zero if a round crashed or this module left processes behind; missed targets
// only show in the table.

const fs = require('fs')
const os = require('os')
const path = require('path')
const { spawn, spawnSync } = require('child_process')
const { IMPLS, KEYS, executables } = require('./lib/impls')
const { findOrphans, killOrphans } = require('./lib/orphans')
const { benchEnv } = require('./lib/spawn')
const machine = require('./lib/machine')
const report = require('./lib/report')

const SCENARIOS = ['connect', 'start', 'crash', 'fifty', 'cpu', 'messaging', 'flood', 'scale', 'cluster', 'runtime', 'cli', 'soak']
// The whole run's time. Rounds after a scenario's first are only run while they fit in it,
// next to what the scenarios still to come need for their first round (their pairSeconds).
const BUDGET_SECONDS = { quick: 130, full: 780 }

function parseArgs(argv) {
  const args = { quick: false, only: null, out: null }
  for (const a of argv) {
    if (a === '--quick') args.quick = true
    else if (a.startsWith('--only=')) args.only = a.slice(7).split(',').filter(Boolean)
    else if (a.startsWith('--out=')) args.out = path.resolve(a.slice(6))
    else if (a === '--help' || a === '-h') {
      console.log('usage: node bench/run.js [--quick] [--only=scenario,...] [--out=file]\nscenarios: ' + SCENARIOS.join(', '))
      process.exit(0)
    } else throw new Error(`unknown argument ${a} (try --help)`)
  }
  for (const s of args.only || []) if (!SCENARIOS.includes(s)) throw new Error(`unknown scenario ${s}; known: ${SCENARIOS.join(', ')}`)
  return args
}

let current = null // the round's child process, for Ctrl-C
let interrupted = false

function log(text) {
  process.stderr.write(text + '\n')
}

// One round: a child process, its result, and the orphan check.
// Each round reads the build's executables from disk. How a file came into the page cache
// changes how much of it a process maps (a freshly written file maps in larger pieces), which
// would put a just-built executable's RSS above an older one's for no fault of its code.
function fromDisk(impl) {
  for (const file of executables(impl)) spawnSync('dd', [`if=${file}`, 'iflag=nocache', 'count=0', 'status=none'])
}

async function runRound(id, impl, round, quick, timeoutMs) {
  fromDisk(impl)
  const workdir = fs.mkdtempSync(path.join(os.tmpdir(), 'pm2-bench-'))
  const resultFile = path.join(workdir, 'result.json')
  const pidsFile = path.join(workdir, 'pids')
  const params = { scenario: id, impl, round, quick, workdir, resultFile, pidsFile }
  const started = Date.now()
  const child = spawn(process.execPath, [path.join(__dirname, 'lib', 'child.js'), JSON.stringify(params)], {
    cwd: workdir,
    env: benchEnv(workdir),
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  current = child
  let output = ''
  const keep = (d) => (output = (output + d).slice(-4000))
  child.stdout.on('data', keep)
  child.stderr.on('data', keep)
  let timedOut = false
  let killer = null
  const timer = setTimeout(() => {
    // First let the round tear down (killDaemon); then no more waiting.
    timedOut = true
    child.kill('SIGTERM')
    killer = setTimeout(() => child.kill('SIGKILL'), 20000)
  }, timeoutMs)
  const status = await new Promise((resolve) => child.on('exit', (code, signal) => resolve(signal || code)))
  clearTimeout(timer)
  clearTimeout(killer)
  current = null

  let result = null
  try {
    result = JSON.parse(fs.readFileSync(resultFile, 'utf8'))
  } catch (_) {}
  const errors = []
  if (timedOut) errors.push(`round timed out after ${timeoutMs / 1000} s`)
  if (result && result.error && !timedOut) errors.push(result.error.split('\n').slice(0, 3).join(' / '))
  else if (status !== 0 && !timedOut) errors.push(`round process exited with ${status}: ${output.trim().split('\n').slice(-5).join(' / ')}`)

  const orphans = await findOrphans(workdir, pidsFile)
  killOrphans(orphans)
  try {
    fs.rmSync(workdir, { recursive: true, force: true, maxRetries: 3 })
  } catch (_) {}
  return { result, errors, orphans, seconds: (Date.now() - started) / 1000 }
}

function emptyResult() {
  return { samples: {}, na: {}, errors: [], orphans: [], notes: [], rounds: 0 }
}

function merge(into, round, { result, errors, orphans }) {
  into.rounds += 1
  for (const message of errors) into.errors.push({ round, message })
  for (const o of orphans) into.orphans.push(Object.assign({ round }, o))
  if (!result) return
  for (const [id, samples] of Object.entries(result.metrics)) into.samples[id] = (into.samples[id] || []).concat(samples)
  Object.assign(into.na, result.na)
  into.notes.push(...result.notes)
}

async function main() {
  const args = parseArgs(process.argv.slice(2))
  const mode = args.quick ? 'quick' : 'full'
  const ids = args.only || SCENARIOS
  const scenarios = ids.map((id) => ({ id, mod: require(`./scenarios/${id}`) }))
  const results = {}
  const t0 = Date.now()
  const roundsText = []

  for (const [index, { id, mod }] of scenarios.entries()) {
    const rounds = mod.rounds[mode]
    const started = Date.now()
    const reserve = scenarios.slice(index + 1).reduce((sum, s) => sum + s.mod.pairSeconds[mode], 0)
    results[id] = { rs: emptyResult(), orig: emptyResult() }
    let round = 0
    let pairStarted = started
    for (; round < rounds && !interrupted; round++) {
      // A further round is as long as the last one, roughly; it must fit in the scenario's own
      // share and in the run's budget.
      const now = Date.now()
      const next = (now - pairStarted) / 1000
      pairStarted = now
      if (round > 0 && ((now - started) / 1000 + next > mod.maxSeconds[mode] || (now - t0) / 1000 + next + reserve > BUDGET_SECONDS[mode])) {
        log(`[${id}] ${round} of ${rounds} rounds, to stay within the time budget`)
        break
      }
      // Alternate which implementation goes first, so neither always runs on a warmer machine.
      const order = (round + index) % 2 === 0 ? KEYS : [...KEYS].reverse()
      for (const impl of order) {
        if (interrupted) break
        const r = await runRound(id, impl, round, args.quick, mod.timeoutMs[mode])
        merge(results[id][impl], round, r)
        const flags = [r.errors.length ? `ERROR: ${r.errors[0].slice(0, 300)}` : '', r.orphans.length ? `${r.orphans.length} ORPHANS` : '']
        log(`[${id}] round ${round + 1}/${rounds} ${IMPLS[impl].label}: ${r.seconds.toFixed(1)} s ${flags.filter(Boolean).join(', ')}`)
      }
    }
    roundsText.push(`${id} ${round}`)
  }

  if (interrupted) {
    log('interrupted: nothing written')
    process.exit(130)
  }
  const seconds = Math.round((Date.now() - t0) / 1000)
  const text = report.markdown({
    scenarios,
    results,
    machine: machine.describe(),
    quick: args.quick,
    rounds: `rounds per implementation: ${roundsText.join(', ')}`,
    seconds,
  })
  const out = args.out || path.join(__dirname, args.quick ? 'RESULTS.quick.md' : 'RESULTS.md')
  fs.writeFileSync(out, text)
  process.stdout.write(text)
  log(`\nwritten to ${path.relative(process.cwd(), out) || out} in ${seconds} s`)

  let failed = false
  for (const { id } of scenarios) {
    for (const key of KEYS) {
      const res = results[id][key]
      if (res.errors.length) failed = true
      if (key === 'rs' && res.orphans.length) failed = true
    }
  }
  process.exitCode = failed ? 1 : 0
}

// Ctrl-C: end the round in progress; its orphan check still runs and kills what it left.
process.on('SIGINT', () => {
  if (interrupted) process.exit(130)
  interrupted = true
  log('interrupting: cleaning up the round in progress (Ctrl-C again to quit at once)')
  if (current) current.kill('SIGTERM')
})

main().catch((e) => {
  log(e.stack || String(e))
  process.exit(2)
})
