'use strict'
// One pm2 client of one implementation on one PM2_HOME, as a scenario uses it: errback calls
// as promises with a timeout, the pids it learns recorded for the orphan check, and a teardown
// that always ends with killDaemon.

const fs = require('fs')
const path = require('path')
const { performance } = require('perf_hooks')
const impls = require('./impls')
const procfs = require('./procfs')

class NotImplemented extends Error {}

// This module answers not-yet-built parts with an error whose message starts so.
function isNotImplemented(err) {
  const msg = err && (err.message || err.msg || (typeof err === 'string' ? err : ''))
  return typeof msg === 'string' && /^\s*not implemented/i.test(msg)
}

// pm2 hands errbacks strings, arrays of errors, {msg} objects...: make them Errors.
function toError(err) {
  if (err instanceof Error) return err
  if (Array.isArray(err)) return toError(err[0])
  if (err && typeof err === 'object') return new Error(err.message || err.msg || JSON.stringify(err))
  return new Error(String(err))
}

// Appends "pid starttime" lines: the orchestrator reads them after this process is gone.
class PidLog {
  constructor(file) {
    this.file = file
    this.seen = new Set()
  }

  learn(pid) {
    pid = Number(pid)
    if (!Number.isInteger(pid) || pid <= 1 || this.seen.has(pid)) return
    this.seen.add(pid)
    const s = procfs.stat(pid)
    fs.appendFileSync(this.file, `${pid} ${s ? s.starttime : ''}\n`)
  }
}

class Session {
  constructor({ impl, home, cwd, pids, timeoutMs = 60000 }) {
    this.impl = impl
    this.home = home
    this.pids = pids
    this.timeoutMs = timeoutMs
    fs.mkdirSync(home, { recursive: true })
    const M = impls.load(impl)
    this.pm2 = new M.custom({ pm2_home: home, cwd, daemon_mode: true })
    this.killed = false
    this.connected = false
    this.closed = false
  }

  // call('start', opts) -> result; rejects with an Error (NotImplemented for "not implemented").
  call(method, ...args) {
    const timeoutMs = this.timeoutMs
    return new Promise((resolve, reject) => {
      let done = false
      const timer = setTimeout(() => finish(new Error(`${method}() gave no answer within ${timeoutMs} ms`)), timeoutMs)
      const finish = (err, res) => {
        if (done) return
        done = true
        clearTimeout(timer)
        if (!err) return resolve(res)
        const e = toError(err)
        reject(isNotImplemented(e) ? Object.assign(new NotImplemented(e.message), { cause: e }) : e)
      }
      try {
        this.pm2[method](...args, finish)
      } catch (e) {
        finish(e)
      }
    })
  }

  // Milliseconds a call takes, and its result.
  async timed(method, ...args) {
    const t0 = performance.now()
    const res = await this.call(method, ...args)
    return { ms: performance.now() - t0, res }
  }

  async connect() {
    const r = await this.timed('connect')
    this.connected = true
    this.learnDaemon()
    return r.ms
  }

  daemonPid() {
    try {
      const pid = parseInt(fs.readFileSync(path.join(this.home, 'pm2.pid'), 'utf8'), 10)
      return pid > 1 ? pid : null
    } catch (_) {
      return null
    }
  }

  learnDaemon() {
    const pid = this.daemonPid()
    if (pid) this.pids.learn(pid)
    return pid
  }

  // list(), remembering every app pid it shows.
  async list() {
    const list = await this.call('list')
    for (const p of list || []) if (p && p.pid) this.pids.learn(p.pid)
    return list || []
  }

  async killDaemon() {
    const r = await this.timed('killDaemon')
    this.killed = true
    return r.ms
  }

  // Always run at the end: the daemon must go, and the client must let go of its sockets.
  async teardown() {
    if (this.closed) return
    this.closed = true
    this.learnDaemon()
    if (!this.killed && (this.connected || this.daemonPid())) {
      try {
        await this.killDaemon()
      } catch (_) {}
    }
    try {
      await this.call('disconnect')
    } catch (_) {
      // The original answers "RPC already being closed" once its daemon is gone.
    }
    if (this.impl === 'orig') releaseOriginalSockets(this.pm2)
  }
}

// The original's axon sockets keep retrying to reach a daemon that is gone; close them so
// they neither keep this process alive nor spin.
function releaseOriginalSockets(pm2) {
  const client = pm2 && pm2.Client
  if (!client) return
  for (const key of ['client_sock', 'sub_sock']) {
    const sock = client[key]
    if (sock && typeof sock.close === 'function') {
      try {
        sock.close()
      } catch (_) {}
    }
  }
}

module.exports = { Session, PidLog, NotImplemented, isNotImplemented, releaseOriginalSockets }
