'use strict'
// start() until the app's first line (its beacon datagram): one app, N one by one, N in
// parallel; each next to the same app spawned directly with `node` (the floor).

const { appPath, runApp, killChild } = require('../lib/spawn')

function appOptions(ctx, id) {
  return { script: appPath('idle.js'), name: id, env: ctx.appEnv(id) }
}

module.exports = {
  title: 'Start → first line',
  rounds: { quick: 1, full: 2 },
  maxSeconds: { quick: 30, full: 150 },
  pairSeconds: { quick: 7, full: 60 }, // both implementations' first round, on 2 cores
  timeoutMs: { quick: 30000, full: 120000 }, // a round that takes longer is stopped: a hang
  sizes: {
    quick: { single: 3, apps: 5 },
    full: { single: 10, apps: 50 },
  },
  metrics: [
    { id: 'floor1', label: 'floor: plain `node app.js` spawn → first line', unit: 'ms' },
    { id: 'start1', label: 'start 1 app → first line', unit: 'ms' },
    { id: 'start1Over', label: 'start 1 app, over the plain spawn', unit: 'ms', needs: ['start1'], derive: (m) => m.start1.value - m.floor1.value, target: { max: 5 } },
    { id: 'startSeq', label: (s) => `start ${s.apps} apps one by one → last first line`, unit: 'ms' },
    // Spawns one after the other do not overlap: their floor is the single spawn's, per app.
    { id: 'seqOver', label: 'one by one, per app, over the plain spawn', unit: 'ms', needs: ['startSeq'], derive: (m, s) => m.startSeq.value / s.apps - m.floor1.value },
    { id: 'floorPar', label: (s) => `floor: ${s.apps} plain spawns at once → last first line`, unit: 'ms' },
    { id: 'startPar', label: (s) => `start ${s.apps} apps in parallel → last first line`, unit: 'ms' },
    { id: 'parOver', label: 'in parallel, over the plain spawns, per app', unit: 'ms', needs: ['startPar'], derive: (m, s) => (m.startPar.value - m.floorPar.value) / s.apps },
  ],

  async run(ctx) {
    const beacon = await ctx.beacon()
    const s = ctx.session()
    await s.connect()
    const tag = ctx.workdir
    const n = ctx.size.apps

    // One app at a time, alternating with the floor.
    for (let i = 0; i < ctx.size.single; i++) {
      const fid = `floor-${i}`
      let from = beacon.mark()
      let t0 = performance.now()
      const child = runApp('idle.js', { tag, env: ctx.appEnv(fid), pids: ctx.pids })
      ctx.record('floor1', (await beacon.waitId(fid, { from })).t - t0)
      killChild(child)

      const id = `one-${i}`
      from = beacon.mark()
      t0 = performance.now()
      const started = s.call('start', appOptions(ctx, id))
      ctx.record('start1', (await beacon.waitId(id, { from })).t - t0)
      await started
      await s.list()
      await s.call('delete', id)
    }

    // N one by one: each start waits for the previous app's first line.
    const seqIds = Array.from({ length: n }, (_, i) => `seq-${i}`)
    let from = beacon.mark()
    let t0 = performance.now()
    let last = 0
    for (const id of seqIds) {
      const started = s.call('start', appOptions(ctx, id))
      last = (await beacon.waitId(id, { from })).t
      await started
    }
    ctx.record('startSeq', last - t0)
    await s.list()
    await s.call('delete', 'all')

    // N in parallel: all the start() calls at once.
    const parIds = Array.from({ length: n }, (_, i) => `par-${i}`)
    from = beacon.mark()
    t0 = performance.now()
    const children = parIds.map((id) => runApp('idle.js', { tag, env: ctx.appEnv(`f${id}`), pids: ctx.pids }))
    ctx.record('floorPar', (await beacon.waitAll(parIds.map((id) => `f${id}`), { from })) - t0)
    children.forEach(killChild)

    from = beacon.mark()
    t0 = performance.now()
    const starts = Promise.all(parIds.map((id) => s.call('start', appOptions(ctx, id))))
    ctx.record('startPar', (await beacon.waitAll(parIds, { from })) - t0)
    await starts
    await s.list()
    await s.call('delete', 'all')
  },
}
