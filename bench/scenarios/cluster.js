'use strict'
// Cluster mode: requests/s through 2 workers of an HTTP app under steady load, then the
// failed requests while reload('all') replaces the workers under that load.

const load = require('../lib/load')
const { appPath } = require('../lib/spawn')

const CLUSTER_METRICS = ['rps', 'reloadMs', 'reloadFailed']

module.exports = {
  title: 'Cluster (2 workers)',
  rounds: { quick: 1, full: 2 },
  maxSeconds: { quick: 30, full: 45 },
  pairSeconds: { quick: 6, full: 20 }, // both implementations' first round, on 2 cores
  timeoutMs: { quick: 30000, full: 60000 }, // a round that takes longer is stopped: a hang
  sizes: {
    quick: { loadMs: 1000, concurrency: 8 },
    full: { loadMs: 5000, concurrency: 16 },
  },
  metrics: [
    { id: 'rps', label: (s) => `requests/s, keep-alive, ${s.concurrency} concurrent`, unit: 'rate' },
    { id: 'reloadMs', label: "reload('all') under load", unit: 'ms' },
    { id: 'reloadFailed', label: 'failed requests during reload', unit: 'count', agg: 'sum', target: { max: 0 } },
  ],

  async run(ctx) {
    const s = ctx.session()
    await s.connect()
    const port = await load.freePort()
    const started = await ctx.optional(CLUSTER_METRICS, () =>
      s.call('start', {
        script: appPath('http.js'),
        name: 'web',
        exec_mode: 'cluster',
        instances: 2,
        env: { BENCH_HTTP_PORT: String(port), BENCH_TAG: ctx.workdir },
      })
    )
    if (!started) return
    await load.waitUp(port)
    await s.list()

    // Warm-up, then steady load.
    await runFor(load.start(port, ctx.size.concurrency), 500, ctx)
    const steady = await runFor(load.start(port, ctx.size.concurrency), ctx.size.loadMs, ctx)
    ctx.record('rps', steady.ok / steady.seconds)
    if (steady.failed) ctx.note(`${steady.failed} requests failed under steady load`)

    const during = load.start(port, ctx.size.concurrency)
    await ctx.sleep(300)
    const reload = await ctx.optional(['reloadMs', 'reloadFailed'], () => s.timed('reload', 'all'))
    await ctx.sleep(500)
    const r = await during.stop()
    if (!reload) return
    ctx.record('reloadMs', reload.ms)
    ctx.record('reloadFailed', r.failed)
    await s.list()
  },
}

async function runFor(running, ms, ctx) {
  await ctx.sleep(ms)
  return running.stop()
}
