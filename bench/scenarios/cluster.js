'use strict'
// Cluster mode: requests/s through the workers of an HTTP app under steady keep-alive load,
// next to Node's own cluster primary running the same workers (the floor), then the failed
// requests while reload('all') replaces the workers under that load.

const load = require('../lib/load')
const { appPath, runApp, killChild } = require('../lib/spawn')

const CLUSTER_METRICS = ['rps', 'reloadMs', 'reloadFailed']

module.exports = {
  title: 'Cluster (4 workers)',
  rounds: { quick: 1, full: 2 },
  maxSeconds: { quick: 40, full: 100 },
  pairSeconds: { quick: 10, full: 45 }, // both implementations' first round, on 2 cores
  timeoutMs: { quick: 40000, full: 90000 }, // a round that takes longer is stopped: a hang
  sizes: {
    quick: { workers: 4, loadMs: 1000, concurrency: 8 },
    full: { workers: 4, loadMs: 5000, concurrency: 16 },
  },
  metrics: [
    { id: 'floorRps', label: (s) => `floor: Node's own cluster primary, requests/s, keep-alive, ${s.concurrency} concurrent`, unit: 'rate' },
    { id: 'rps', label: (s) => `requests/s through the daemon, keep-alive, ${s.concurrency} concurrent`, unit: 'rate' },
    { id: 'rpsOfFloor', label: "requests/s / Node's own primary", unit: 'x', needs: ['rps'], derive: (m) => m.rps.value / m.floorRps.value, target: { min: 1 } },
    { id: 'reloadMs', label: "reload('all') under load", unit: 'ms' },
    { id: 'reloadFailed', label: 'failed requests during reload', unit: 'count', agg: 'sum', target: { max: 0 } },
  ],

  async run(ctx) {
    // Node's primary before and after the process manager's turn: neither gets the warmer
    // machine (or load generator) of the two.
    await measureFloor(ctx)

    const s = ctx.session()
    await s.connect()
    const port = await load.freePort()
    const started = await ctx.optional(CLUSTER_METRICS, () =>
      s.call('start', {
        script: appPath('http.js'),
        name: 'web',
        exec_mode: 'cluster',
        instances: ctx.size.workers,
        env: { BENCH_HTTP_PORT: String(port), BENCH_TAG: ctx.workdir },
      })
    )
    if (started) {
      await load.waitUp(port)
      await s.list()
      const steady = await steadyLoad(port, ctx)
      ctx.record('rps', steady.ok / steady.seconds)
      if (steady.failed) ctx.note(`${steady.failed} requests failed under steady load`)

      const during = load.start(port, ctx.size.concurrency)
      await ctx.sleep(300)
      const reload = await ctx.optional(['reloadMs', 'reloadFailed'], () => s.timed('reload', 'all'))
      await ctx.sleep(500)
      const r = await during.stop()
      if (reload) {
        ctx.record('reloadMs', reload.ms)
        ctx.record('reloadFailed', r.failed)
      }
      await s.list()
      await s.call('delete', 'all')
    }
    await measureFloor(ctx)
  },
}

// Warm-up, then steady load; resolves with the load's counts.
async function steadyLoad(port, ctx) {
  await runFor(load.start(port, ctx.size.concurrency), 500, ctx)
  return runFor(load.start(port, ctx.size.concurrency), ctx.size.loadMs, ctx)
}

async function measureFloor(ctx) {
  const port = await load.freePort()
  const primary = runApp('node-primary.js', {
    tag: ctx.workdir,
    env: { BENCH_HTTP_PORT: String(port), BENCH_WORKERS: String(ctx.size.workers) },
    pids: ctx.pids,
  })
  try {
    await load.waitUp(port)
    const floor = await steadyLoad(port, ctx)
    ctx.record('floorRps', floor.ok / floor.seconds)
  } finally {
    killChild(primary)
  }
}

async function runFor(running, ms, ctx) {
  await ctx.sleep(ms)
  return running.stop()
}
