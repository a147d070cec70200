'use strict'
// The daemon's CPU time while N apps (50 in a full run) sit idle: a long window, so one round.

const procfs = require('../lib/procfs')
const { startIdleApps } = require('../lib/fleet')

module.exports = {
  title: 'Idle CPU',
  rounds: { quick: 1, full: 1 },
  maxSeconds: { quick: 30, full: 120 },
  pairSeconds: { quick: 10, full: 80 }, // both implementations' first round, on 2 cores
  timeoutMs: { quick: 30000, full: 120000 }, // a round that takes longer is stopped: a hang
  sizes: {
    quick: { apps: 5, seconds: 3, settleMs: 300 },
    full: { apps: 50, seconds: 30, settleMs: 1000 },
  },
  metrics: [{ id: 'cpu', label: (s) => `daemon CPU with ${s.apps} idle apps, over ${s.seconds} s (% of a core)`, unit: 'percent' }],

  async run(ctx) {
    const beacon = await ctx.beacon()
    const s = ctx.session()
    await s.connect()
    const ids = Array.from({ length: ctx.size.apps }, (_, i) => `app-${i}`)
    await startIdleApps(ctx, s, beacon, ids)
    await ctx.sleep(ctx.size.settleMs)
    const daemon = s.daemonPid()
    const c0 = procfs.cpuSeconds(daemon)
    const t0 = performance.now()
    await ctx.sleep(ctx.size.seconds * 1000)
    const c1 = procfs.cpuSeconds(daemon)
    ctx.record('cpu', ((c1 - c0) / ((performance.now() - t0) / 1000)) * 100)
  },
}
