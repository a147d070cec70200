'use strict'
// A daemon with N idle apps (50 in a full run): its memory, the apps' memory next to the same
// app run directly, list()/describe() latency, stop / restart / delete 'all', and killDaemon.
// (Its CPU while idle is scenarios/cpu.js.)

const procfs = require('../lib/procfs')
const { median } = require('../lib/stats')
const { waitGone } = require('../lib/orphans')
const { MiB } = require('../lib/format')
const { runApp, killChild } = require('../lib/spawn')
const { startIdleApps } = require('../lib/fleet')

// Per-call latency of fn, `count` times in a row.
async function latencies(ctx, id, count, fn) {
  for (let i = 0; i < 10; i++) await fn(i) // warm-up
  for (let i = 0; i < count; i++) {
    const t0 = performance.now()
    await fn(i)
    ctx.record(id, performance.now() - t0)
  }
}

module.exports = {
  title: 'N idle apps',
  rounds: { quick: 1, full: 2 },
  maxSeconds: { quick: 30, full: 160 },
  pairSeconds: { quick: 13, full: 60 }, // both implementations' first round, on 2 cores
  timeoutMs: { quick: 40000, full: 180000 }, // a round that takes longer is stopped: a hang
  sizes: {
    quick: { apps: 5, direct: 3, calls: 50, settleMs: 300 },
    full: { apps: 50, direct: 10, calls: 200, settleMs: 1000 },
  },
  metrics: [
    { id: 'rssN', label: (s) => `daemon RSS with ${s.apps} apps`, unit: 'bytes', target: { max: 6 * MiB } },
    { id: 'daemonPerApp', label: 'daemon RSS growth per app', unit: 'bytes' },
    { id: 'directRss', label: 'floor: RSS of the app run directly', unit: 'bytes' },
    { id: 'appRss', label: 'RSS of the app under the process manager', unit: 'bytes' },
    // Two runs of the same script differ by some 100 KiB anyway: "0" is judged within 0.5 MiB.
    { id: 'extraRss', label: 'extra RSS per app (managed − direct)', unit: 'bytes', needs: ['appRss'], derive: (m) => m.appRss.value - m.directRss.value, target: { abs: 0.5 * MiB, text: '0 (± 0.5 MiB)' } },
    { id: 'list', label: (s) => `list() with ${s.apps} apps`, unit: 'ms', target: { max: 0.5, on: 'p99' } },
    { id: 'describe', label: (s) => `describe(name) with ${s.apps} apps`, unit: 'ms' },
    { id: 'restartAll', label: "restart('all')", unit: 'ms' },
    { id: 'stopAll', label: "stop('all')", unit: 'ms', target: { max: 150 } },
    { id: 'stopGone', label: "stop('all') answered → last app process gone", unit: 'ms' },
    { id: 'deleteAll', label: "delete('all') (stopped apps)", unit: 'ms' },
    { id: 'kill', label: (s) => `killDaemon with ${s.apps} apps`, unit: 'ms', target: { max: 100 } },
    { id: 'killGone', label: 'killDaemon answered → daemon and apps gone', unit: 'ms' },
  ],

  async run(ctx) {
    const { apps: n, settleMs } = ctx.size
    const beacon = await ctx.beacon()
    const s = ctx.session()
    await s.connect()
    await ctx.sleep(settleMs)
    const daemon = s.daemonPid()
    const rss0 = procfs.rss(daemon)

    const ids = Array.from({ length: n }, (_, i) => `app-${i}`)
    let pids = await startIdleApps(ctx, s, beacon, ids)
    const directIds = Array.from({ length: ctx.size.direct }, (_, i) => `direct-${i}`)
    let from = beacon.mark()
    const direct = directIds.map((id) => runApp('idle.js', { tag: ctx.workdir, env: ctx.appEnv(id), pids: ctx.pids }))
    await beacon.waitAll(directIds, { from })
    await ctx.sleep(settleMs)

    const rssN = procfs.rss(daemon)
    ctx.record('rssN', rssN)
    ctx.record('daemonPerApp', (rssN - rss0) / n)
    ctx.record('appRss', pids.map((pid) => procfs.treeRss(pid)))
    ctx.record('directRss', direct.map((c) => procfs.treeRss(c.pid)))
    direct.forEach(killChild)

    await latencies(ctx, 'list', ctx.size.calls, () => s.call('list'))
    await latencies(ctx, 'describe', ctx.size.calls, (i) => s.call('describe', ids[i % n]))

    from = beacon.mark()
    ctx.record('restartAll', (await s.timed('restart', 'all')).ms)
    await beacon.waitAll(ids, { from })
    pids = (await s.list()).map((p) => p.pid).filter(Boolean)

    ctx.record('stopAll', (await s.timed('stop', 'all')).ms)
    const gone = await waitGone(pids)
    if (gone === null) throw new Error("apps still alive 10 s after stop('all') answered")
    ctx.record('stopGone', gone)
    ctx.record('deleteAll', (await s.timed('delete', 'all')).ms)

    pids = await startIdleApps(ctx, s, beacon, ids)
    ctx.record('kill', await s.killDaemon())
    const killGone = await waitGone(pids.concat([daemon]))
    if (killGone === null) throw new Error('daemon or apps still alive 10 s after killDaemon answered')
    ctx.record('killGone', killGone)
  },
}
