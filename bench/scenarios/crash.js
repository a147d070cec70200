'use strict'
// A crash: the app exits with code 1 when told to; measured from the command to the restarted
// app's first line, next to the floor of spawning the app directly.

const { appPath, runApp, killChild } = require('../lib/spawn')

module.exports = {
  title: 'Crash → restarted',
  rounds: { quick: 1, full: 3 },
  maxSeconds: { quick: 30, full: 40 },
  pairSeconds: { quick: 4, full: 15 }, // both implementations' first round, on 2 cores
  timeoutMs: { quick: 30000, full: 60000 }, // a round that takes longer is stopped: a hang
  sizes: {
    quick: { crashes: 3 },
    full: { crashes: 10 },
  },
  metrics: [
    { id: 'floor', label: 'floor: plain `node app.js` spawn → first line', unit: 'ms' },
    { id: 'restart', label: "crash → restarted app's first line", unit: 'ms' },
    { id: 'restartOver', label: 'crash → restarted, over the plain spawn', unit: 'ms', needs: ['restart'], derive: (m) => m.restart.value - m.floor.value, target: { max: 5 } },
  ],

  async run(ctx) {
    const beacon = await ctx.beacon()
    const s = ctx.session()
    await s.connect()
    // Enough restarts allowed that neither implementation gives up on the app.
    await s.call('start', { script: appPath('idle.js'), name: 'crasher', env: ctx.appEnv('crasher'), max_restarts: 100000, restart_delay: 0 })
    let app = await beacon.waitId('crasher')

    for (let i = 0; i < ctx.size.crashes; i++) {
      const fid = `floor-${i}`
      let from = beacon.mark()
      let t0 = performance.now()
      const child = runApp('idle.js', { tag: ctx.workdir, env: ctx.appEnv(fid), pids: ctx.pids })
      ctx.record('floor', (await beacon.waitId(fid, { from })).t - t0)
      killChild(child)
      await ctx.sleep(100)

      from = beacon.mark()
      t0 = performance.now()
      await beacon.send(app.rinfo, 'crash')
      const prev = app.pid
      app = await beacon.waitFor((m) => m.id === 'crasher' && m.pid !== prev, { from, what: 'restarted app' })
      ctx.record('restart', app.t - t0)
      await ctx.sleep(100)
    }
    await s.list()
  },
}
