'use strict'
// Reading Linux /proc: memory, CPU time, liveness, process trees. Everything returns null
// (or an empty answer) for a process that is gone or unreadable instead of throwing: processes
// come and go while we look.

const fs = require('fs')
const { execFileSync } = require('child_process')

let ticks = null
// USER_HZ, the unit of utime/stime in /proc/<pid>/stat.
function clockTicks() {
  if (ticks === null) {
    try {
      ticks = parseInt(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }), 10) || 100
    } catch (_) {
      ticks = 100
    }
  }
  return ticks
}

function read(file) {
  try {
    return fs.readFileSync(file, 'utf8')
  } catch (_) {
    return null
  }
}

// /proc/<pid>/stat; the command name may contain spaces and parentheses, so fields are
// counted from the last ')'.
function stat(pid) {
  const text = read(`/proc/${pid}/stat`)
  if (!text) return null
  const f = text.slice(text.lastIndexOf(')') + 2).split(' ')
  return {
    state: f[0],
    ppid: Number(f[1]),
    utime: Number(f[11]),
    stime: Number(f[12]),
    starttime: Number(f[19]),
  }
}

// Resident set size in bytes (VmRSS), or null.
function rss(pid) {
  const text = read(`/proc/${pid}/status`)
  const m = text && /^VmRSS:\s+(\d+)\s+kB/m.exec(text)
  return m ? Number(m[1]) * 1024 : null
}

// Number of threads, or null.
function threads(pid) {
  const text = read(`/proc/${pid}/status`)
  const m = text && /^Threads:\s+(\d+)/m.exec(text)
  return m ? Number(m[1]) : null
}

// What each open descriptor of pid refers to (a path, `socket:[n]`, `pipe:[n]`...), or null.
function descriptors(pid) {
  let fds
  try {
    fds = fs.readdirSync(`/proc/${pid}/fd`)
  } catch (_) {
    return null
  }
  return fds.map((fd) => {
    try {
      return fs.readlinkSync(`/proc/${pid}/fd/${fd}`)
    } catch (_) {
      return '?'
    }
  })
}

// CPU time (user + system) in seconds, or null.
function cpuSeconds(pid) {
  const s = stat(pid)
  return s ? (s.utime + s.stime) / clockTicks() : null
}

function allPids() {
  let names
  try {
    names = fs.readdirSync('/proc')
  } catch (_) {
    return []
  }
  return names.filter((n) => /^\d+$/.test(n)).map(Number)
}

// Every live descendant of pid (not pid itself).
function descendants(pid) {
  const children = new Map()
  for (const p of allPids()) {
    const s = stat(p)
    if (!s) continue
    if (!children.has(s.ppid)) children.set(s.ppid, [])
    children.get(s.ppid).push(p)
  }
  const out = []
  const queue = [pid]
  while (queue.length) {
    for (const c of children.get(queue.shift()) || []) {
      out.push(c)
      queue.push(c)
    }
  }
  return out
}

// RSS of a process and everything below it, so that a wrapper (shell, container script)
// is counted as part of the app.
function treeRss(pid) {
  let total = rss(pid)
  if (total === null) return null
  for (const c of descendants(pid)) total += rss(c) || 0
  return total
}

// Alive and not a zombie (a zombie is dead, only not yet reaped by its parent; in a container
// whose init does not reap, it would otherwise look alive forever).
function isAlive(pid, starttime) {
  try {
    process.kill(pid, 0)
  } catch (e) {
    if (e.code !== 'EPERM') return false
  }
  const s = stat(pid)
  if (!s || s.state === 'Z' || s.state === 'X') return false
  // A recycled pid belongs to another process.
  return starttime === undefined || starttime === null || s.starttime === starttime
}

// Whether the process' environment or command line mentions `needle` (e.g. a PM2_HOME).
function mentions(pid, needle) {
  for (const file of ['environ', 'cmdline']) {
    const text = read(`/proc/${pid}/${file}`)
    if (text && text.includes(needle)) return true
  }
  return false
}

module.exports = { clockTicks, stat, rss, threads, descriptors, cpuSeconds, allPids, descendants, treeRss, isAlive, mentions }
