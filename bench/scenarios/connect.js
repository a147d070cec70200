'use strict'
// Connecting: a cold connect (the client spawns the daemon), the idle daemon's memory, and a
// whole short-lived client process against a running daemon, next to a bare `node -e 0`.

const procfs = require('../lib/procfs')
const impls = require('../lib/impls')
const { appPath, timeProcess } = require('../lib/spawn')

const MiB = 1024 * 1024

module.exports = {
  title: 'Connect',
  rounds: { quick: 1, full: 3 },
  maxSeconds: { quick: 30, full: 60 },
  pairSeconds: { quick: 6, full: 16 }, // both implementations' first round, on 2 cores
  timeoutMs: { quick: 30000, full: 60000 }, // a round that takes longer is stopped: a hang
  sizes: {
    quick: { cold: 2, warm: 3, settleMs: 300 },
    full: { cold: 5, warm: 8, settleMs: 500 },
  },
  metrics: [
    { id: 'cold', label: 'cold connect (spawns the daemon)', unit: 'ms', target: { max: 15 } },
    { id: 'idleRss', label: 'daemon RSS, idle', unit: 'bytes', target: { max: 4 * MiB } },
    { id: 'killIdle', label: 'killDaemon, idle', unit: 'ms' },
    { id: 'bareNode', label: 'floor: bare `node -e 0` process', unit: 'ms' },
    { id: 'warm', label: 'whole client process: connect, list, disconnect, exit', unit: 'ms' },
    {
      id: 'warmRatio',
      label: 'whole client process / bare node',
      unit: 'x',
      needs: ['warm', 'bareNode'],
      derive: (m) => m.warm.value / m.bareNode.value,
      target: { max: 1.2 },
    },
  ],

  async run(ctx) {
    for (let i = 0; i < ctx.size.cold; i++) {
      const s = ctx.session(`cold-${i}`)
      ctx.record('cold', await s.connect())
      // Let the daemon finish booting before weighing it.
      await ctx.sleep(ctx.size.settleMs)
      ctx.record('idleRss', procfs.rss(s.daemonPid()))
      ctx.record('killIdle', await s.killDaemon())
      await s.teardown()
    }

    const s = ctx.session('warm')
    await s.connect()
    await s.list()
    const client = [appPath('client.js'), impls.modulePath(ctx.impl), s.home]
    const opts = { tag: ctx.workdir, pids: ctx.pids }
    for (let i = 0; i < ctx.size.warm; i++) {
      ctx.record('bareNode', await timeProcess(process.execPath, ['-e', '0'], opts))
      ctx.record('warm', await timeProcess(process.execPath, client, opts))
    }
  },
}
