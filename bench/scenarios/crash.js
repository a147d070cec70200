'use strict'
// A crash: the app exits with code 1 when told to; measured from the command to the restarted
// app's first line, next to the floor of spawning the app directly. Then a shell app that
// crashes at once, again and again: the gaps between one run's exit and the next run's start,
// from its own stamps, are the restart alone, without Node's start-up and its noise.

const fs = require('fs')
const path = require('path')
const { appPath, runApp, killChild } = require('../lib/spawn')
const { until } = require('../lib/progress')

async function crashLoop(ctx, s) {
  const log = path.join(ctx.workdir, 'crashloop.log')
  // Complete lines only: the one being written has no newline yet.
  const stamps = () => (fs.existsSync(log) ? fs.readFileSync(log, 'utf8').split('\n').slice(0, -1) : [])
  await s.call('start', {
    script: appPath('crashloop.sh'), interpreter: 'bash', name: 'crashloop', env: { CRASH_LOG: log },
    max_restarts: 100000, min_uptime: 0, restart_delay: 0,
  })
  await until(() => stamps().length, 2 * (ctx.size.loops + 1))
  await s.call('delete', 'crashloop')
  const lines = stamps().map((l) => l.split(' '))
  for (let i = 1; i + 1 < lines.length && i < 2 * ctx.size.loops; i += 2) {
    if (lines[i][0] === 'exit' && lines[i + 1][0] === 'start') ctx.record('loopGap', (lines[i + 1][1] - lines[i][1]) * 1000)
  }
}

module.exports = {
  title: 'Crash → restarted',
  rounds: { quick: 1, full: 3 },
  maxSeconds: { quick: 30, full: 40 },
  pairSeconds: { quick: 4, full: 15 }, // both implementations' first round, on 2 cores
  timeoutMs: { quick: 30000, full: 60000 }, // a round that takes longer is stopped: a hang
  sizes: {
    quick: { crashes: 3, loops: 20 },
    full: { crashes: 10, loops: 200 },
  },
  metrics: [
    { id: 'floor', label: 'floor: plain `node app.js` spawn → first line', unit: 'ms' },
    { id: 'restart', label: "crash → restarted app's first line", unit: 'ms' },
    { id: 'restartOver', label: 'crash → restarted, over the plain spawn', unit: 'ms', needs: ['restart'], derive: (m) => m.restart.value - m.floor.value, target: { max: 5 } },
    { id: 'loopGap', label: "a shell app crashing at once: one run's exit → the next run's start", unit: 'ms' },
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
    await crashLoop(ctx, s)
  },
}
