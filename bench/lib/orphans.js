'use strict'
// After a scenario: which of the processes it started are still alive? Two sources, so that
// neither a process the scenario never heard of nor one that lost its environment slips by:
// the pids it learned (daemon, apps; with their start time, against pid reuse) and a /proc
// scan for anything whose environment or command line names the scenario's directory (the
// PM2_HOME under it is passed to the daemon and to every app).

const fs = require('fs')
const { performance } = require('perf_hooks')
const procfs = require('./procfs')

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms))
}

// The pids file the scenario child appends to: "pid starttime" per line.
function readLearned(file) {
  let text
  try {
    text = fs.readFileSync(file, 'utf8')
  } catch (_) {
    return []
  }
  return text
    .split('\n')
    .map((line) => line.trim().split(/\s+/).map(Number))
    .filter(([pid]) => Number.isInteger(pid) && pid > 1)
    .map(([pid, starttime]) => ({ pid, starttime: Number.isFinite(starttime) ? starttime : null }))
}

function survivors(workdir, learned) {
  const found = new Map()
  for (const { pid, starttime } of learned) {
    if (pid !== process.pid && procfs.isAlive(pid, starttime)) found.set(pid, 'learned')
  }
  for (const pid of procfs.allPids()) {
    if (pid === process.pid || found.has(pid)) continue
    if (procfs.mentions(pid, workdir) && procfs.isAlive(pid)) found.set(pid, 'scan')
  }
  return [...found].map(([pid, how]) => ({ pid, how, cmd: cmdline(pid) }))
}

function cmdline(pid) {
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ').trim().slice(0, 160)
  } catch (_) {
    return '?'
  }
}

// Processes still alive after a grace period (a daemon may take a moment to finish exiting
// after killDaemon has answered).
async function findOrphans(workdir, learnedFile, graceMs = 3000) {
  const learned = readLearned(learnedFile)
  const deadline = Date.now() + graceMs
  for (;;) {
    const left = survivors(workdir, learned)
    if (left.length === 0 || Date.now() >= deadline) return left
    await sleep(100)
  }
}

// Milliseconds until every pid is gone (null if some are still alive after timeoutMs).
async function waitGone(pids, timeoutMs = 10000) {
  const t0 = performance.now()
  const alive = pids.filter(Boolean).map((pid) => ({ pid, starttime: (procfs.stat(pid) || {}).starttime }))
  for (;;) {
    if (alive.every(({ pid, starttime }) => !procfs.isAlive(pid, starttime))) return performance.now() - t0
    if (performance.now() - t0 > timeoutMs) return null
    await sleep(2)
  }
}

// Only ever called with what findOrphans returned: processes this run started.
function killOrphans(orphans) {
  for (const { pid } of orphans) {
    try {
      process.kill(pid, 'SIGKILL')
    } catch (_) {}
  }
}

module.exports = { findOrphans, killOrphans, readLearned, waitGone }
