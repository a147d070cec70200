'use strict'
// A daemon that runs for months: clients and apps come and go, as servers see them, while an
// app logs every 100 ms. Thousands of clients connect, list and disconnect; bus sessions are
// closed, or abandoned by a process that exits; `pm2 logs` is ended with Ctrl-C (SIGINT);
// `pm2 ls` runs; apps are started and deleted; a cluster app is reloaded. What the daemon
// holds (descriptors, resident memory, threads, bus spool files) is read before, right after,
// and after an idle pause: nothing may have grown by then.

const path = require('path')
const { spawn } = require('child_process')
const procfs = require('../lib/procfs')
const impls = require('../lib/impls')
const load = require('../lib/load')
const { releaseOriginalSockets } = require('../lib/session')
const { appPath, benchEnv, timeProcess } = require('../lib/spawn')

const MiB = 1024 * 1024
const CLI = { rs: path.join(impls.ROOT, 'bin', 'pm2'), orig: path.join(impls.IMPLS.orig.dir, 'bin', 'pm2') }
const GROWTH = ['fds', 'rss', 'threads']

module.exports = {
  title: 'Soak: clients and apps come and go',
  rounds: { quick: 1, full: 1 },
  maxSeconds: { quick: 40, full: 300 },
  pairSeconds: { quick: 25, full: 240 }, // both implementations' first round, on 2 cores
  timeoutMs: { quick: 60000, full: 300000 }, // a round that takes longer is stopped: a hang
  sizes: {
    quick: { clients: 200, closed: 5, abandoned: 2, logs: 2, cli: 2, cycles: 1, reloads: 1, idleMs: 3000 },
    full: { clients: 3000, closed: 200, abandoned: 30, logs: 30, cli: 20, cycles: 10, reloads: 5, idleMs: 60000 },
  },
  metrics: [
    { id: 'fdsBefore', label: 'daemon descriptors, before', unit: 'count' },
    { id: 'fdsAfter', label: 'daemon descriptors, growth right after', unit: 'count' },
    { id: 'fdsIdle', label: (s) => `daemon descriptors, growth after ${s.idleMs / 1000} s idle`, unit: 'count', target: { max: 0 } },
    { id: 'rssBefore', label: 'daemon RSS, before', unit: 'bytes' },
    { id: 'rssAfter', label: 'daemon RSS, growth right after', unit: 'bytes' },
    { id: 'rssIdle', label: (s) => `daemon RSS, growth after ${s.idleMs / 1000} s idle`, unit: 'bytes', target: { max: 1 * MiB } },
    { id: 'threadsBefore', label: 'daemon threads, before', unit: 'count' },
    { id: 'threadsAfter', label: 'daemon threads, growth right after', unit: 'count' },
    { id: 'threadsIdle', label: (s) => `daemon threads, growth after ${s.idleMs / 1000} s idle`, unit: 'count', target: { max: 0 } },
    { id: 'spoolAfter', label: 'bus spool files open, right after', unit: 'count' },
    { id: 'spoolIdle', label: (s) => `bus spool files open, after ${s.idleMs / 1000} s idle`, unit: 'count', target: { max: 0 } },
  ],

  async run(ctx) {
    await ctx.beacon() // the cycles' apps announce themselves to it
    const s = ctx.session()
    await s.connect()
    await s.call('start', { script: appPath('ticker.js'), name: 'ticker', env: { BENCH_TAG: ctx.workdir } })
    await s.list()
    const daemon = s.learnDaemon()
    const soak = new Soak(ctx, s.home)

    // One of each first: what a daemon sets up on its first client of a kind is no growth.
    await soak.once()
    await ctx.sleep(1000)
    const before = held(daemon, s.home)
    ctx.record('fdsBefore', before.fds)
    ctx.record('rssBefore', before.rss)
    ctx.record('threadsBefore', before.threads)

    await soak.all(s)
    await ctx.sleep(1000)
    const after = held(daemon, s.home)
    for (const what of GROWTH) ctx.record(`${what}After`, after[what] - before[what])
    ctx.record('spoolAfter', after.spool)

    await ctx.sleep(ctx.size.idleMs)
    const idle = held(daemon, s.home)
    for (const what of GROWTH) ctx.record(`${what}Idle`, idle[what] - before[what])
    ctx.record('spoolIdle', idle.spool)
    ctx.note(
      `soak: ${ctx.size.clients} clients (connect, list, disconnect), ${ctx.size.closed} bus sessions closed, ${ctx.size.abandoned} abandoned by their process' exit, ` +
        `${ctx.size.logs} \`pm2 logs\` ended with SIGINT, ${ctx.size.cli} \`pm2 ls\`, ${ctx.size.cycles} start/delete cycles of 4 apps, ${ctx.size.reloads} reloads of a 2-worker cluster app`
    )
    await s.call('delete', 'all')
  },
}

// What the daemon holds: descriptors, resident bytes, threads, and the bus spool files among
// its descriptors (unnamed files under PM2_HOME).
function held(pid, home) {
  const fds = procfs.descriptors(pid) || []
  return {
    fds: fds.length,
    rss: procfs.rss(pid),
    threads: procfs.threads(pid),
    spool: fds.filter((f) => f.startsWith(home + path.sep) && f.endsWith(' (deleted)')).length,
  }
}

class Soak {
  constructor(ctx, home) {
    this.ctx = ctx
    this.home = home
    this.module = impls.load(ctx.impl)
    this.modulePath = impls.modulePath(ctx.impl)
  }

  // A client of this process, on the soak's daemon.
  async client(fn) {
    const pm2 = new this.module.custom({ pm2_home: this.home, cwd: this.ctx.workdir, daemon_mode: true })
    const call = (method, ...args) => new Promise((resolve, reject) => pm2[method](...args, (err, res) => (err ? reject(err) : resolve(res))))
    try {
      await call('connect')
      await fn(call, pm2)
    } finally {
      await new Promise((resolve) => pm2.disconnect(() => resolve()))
      if (this.ctx.impl === 'orig') releaseOriginalSockets(pm2)
    }
  }

  visit() {
    return this.client((call) => call('list'))
  }

  closedBus() {
    return this.client(async (call) => {
      const bus = await call('launchBus')
      await new Promise((resolve) => bus.on('log:out', resolve))
      bus.close()
    })
  }

  abandonedBus() {
    return timeProcess(process.execPath, [appPath('bus-client.js'), this.modulePath, this.home], { tag: this.ctx.workdir, pids: this.ctx.pids })
  }

  // `pm2 logs`, ended with SIGINT once it printed a line from the bus (no tail: --lines 0).
  logs() {
    return new Promise((resolve, reject) => {
      const child = spawn(CLI[this.ctx.impl], ['logs', '--lines', '0'], {
        env: benchEnv(this.ctx.workdir, { PM2_HOME: this.home, NO_COLOR: '1' }),
        stdio: ['ignore', 'pipe', 'ignore'],
      })
      this.ctx.pids.learn(child.pid)
      const timer = setTimeout(() => child.kill('SIGKILL'), 30000)
      let out = ''
      child.stdout.on('data', (d) => {
        out += d
        if (/tick \d+/.test(out)) child.kill('SIGINT')
      })
      child.on('error', reject)
      child.on('exit', () => {
        clearTimeout(timer)
        resolve()
      })
    })
  }

  cli() {
    return timeProcess(CLI[this.ctx.impl], ['ls'], { tag: this.ctx.workdir, pids: this.ctx.pids, env: { PM2_HOME: this.home, NO_COLOR: '1' } })
  }

  async once() {
    await this.visit()
    await this.closedBus()
    await this.abandonedBus()
    await this.logs()
    await this.cli()
  }

  async all(s) {
    const size = this.ctx.size
    for (let i = 0; i < size.clients; i++) await this.visit()
    for (let i = 0; i < size.closed; i++) await this.closedBus()
    for (let i = 0; i < size.abandoned; i++) await this.abandonedBus()
    for (let i = 0; i < size.logs; i++) await this.logs()
    for (let i = 0; i < size.cli; i++) await this.cli()
    for (let i = 0; i < size.cycles; i++) {
      await s.call('start', { script: appPath('idle.js'), name: 'cycle', instances: 4, env: this.ctx.appEnv('cycle') })
      await s.list()
      await s.call('delete', 'cycle')
    }
    const port = await load.freePort()
    await s.call('start', { script: appPath('http.js'), name: 'web', exec_mode: 'cluster', instances: 2, env: { BENCH_HTTP_PORT: String(port), BENCH_TAG: this.ctx.workdir } })
    await load.waitUp(port)
    await s.list()
    for (let i = 0; i < size.reloads; i++) {
      await s.call('reload', 'web')
      await s.list()
    }
    await s.call('delete', 'web')
  }
}
