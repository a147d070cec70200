'use strict'
// Scale: many lightweight non-Node apps (`sleep`, 1000 in a full run): the daemon's memory,
// list() latency, and killDaemon. List latency is sampled for a bounded time, so a slow
// implementation gets a median but no p99.

const fs = require('fs')
const path = require('path')
const procfs = require('../lib/procfs')
const { waitGone } = require('../lib/orphans')
const { MiB } = require('../lib/format')

function which(cmd) {
  for (const dir of (process.env.PATH || '/usr/bin:/bin').split(':')) {
    const file = path.join(dir, cmd)
    if (fs.existsSync(file)) return file
  }
  throw new Error(`${cmd} not found in PATH`)
}

module.exports = {
  title: 'Scale',
  rounds: { quick: 1, full: 1 },
  maxSeconds: { quick: 30, full: 300 },
  pairSeconds: { quick: 3, full: 110 }, // both implementations' first round, on 2 cores
  timeoutMs: { quick: 40000, full: 240000 }, // a round that takes longer is stopped: a hang
  sizes: {
    // List latency is sampled up to `calls` times or for budgetMs, whichever comes first.
    quick: { apps: 20, calls: 50, budgetMs: 5000, settleMs: 300 },
    full: { apps: 1000, calls: 300, budgetMs: 6000, settleMs: 2000 },
  },
  metrics: [
    { id: 'startCall', label: (s) => `start() of ${s.apps} apps (one call) answered`, unit: 'ms' },
    { id: 'start', label: 'start() called → all online in list()', unit: 'ms' },
    { id: 'rss', label: (s) => `daemon RSS with ${s.apps} apps`, unit: 'bytes' },
    { id: 'perApp', label: 'daemon RSS growth per app', unit: 'bytes' },
    { id: 'list', label: (s) => `list() with ${s.apps} apps`, unit: 'ms', target: { max: 5, on: 'p99' } },
    { id: 'kill', label: (s) => `killDaemon with ${s.apps} apps`, unit: 'ms' },
    { id: 'killGone', label: 'killDaemon answered → daemon and apps gone', unit: 'ms' },
  ],

  async run(ctx) {
    const { apps: n } = ctx.size
    // killDaemon with 1000 apps takes the original most of a minute.
    const s = ctx.session('home', { timeoutMs: 180000 })
    await s.connect()
    await ctx.sleep(ctx.size.settleMs)
    const daemon = s.daemonPid()
    const rss0 = procfs.rss(daemon)

    const sleep = which('sleep')
    const apps = Array.from({ length: n }, (_, i) => ({
      script: sleep,
      args: ['100000'],
      name: `sleep-${i}`,
      interpreter: 'none',
      env: { BENCH_TAG: ctx.workdir },
    }))
    const t0 = performance.now()
    await s.call('start', apps)
    ctx.record('startCall', performance.now() - t0)
    let pids = []
    for (;;) {
      const list = await s.list()
      pids = list.filter((p) => p.pid && p.pm2_env && p.pm2_env.status === 'online').map((p) => p.pid)
      if (pids.length >= n) break
      if (performance.now() - t0 > 120000) throw new Error(`only ${pids.length} of ${n} apps online after 120 s`)
      await ctx.sleep(100)
    }
    ctx.record('start', performance.now() - t0)
    await ctx.sleep(ctx.size.settleMs)
    const rss = procfs.rss(daemon)
    ctx.record('rss', rss)
    ctx.record('perApp', (rss - rss0) / n)

    for (let i = 0; i < 5; i++) await s.call('list') // warm-up
    const end = performance.now() + ctx.size.budgetMs
    for (let i = 0; i < ctx.size.calls && performance.now() < end; i++) {
      const t = performance.now()
      await s.call('list')
      ctx.record('list', performance.now() - t)
    }

    ctx.record('kill', await s.killDaemon())
    const gone = await waitGone(pids.concat([daemon]), 30000)
    if (gone === null) throw new Error('daemon or apps still alive 30 s after killDaemon answered')
    ctx.record('killGone', gone)
  },
}
