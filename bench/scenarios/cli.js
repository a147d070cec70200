'use strict'
// The `pm2` command, whole process from spawn to exit, as a user or a deploy script runs it:
// `pm2 start app.js` (against a running daemon), then `pm2 ls` and `pm2 jlist` with N apps.
// pm2-rs runs its launcher (bin/pm2), the original its bin/pm2 (a Node script).

const path = require('path')
const { ROOT, IMPLS } = require('../lib/impls')
const { appPath, timeProcess } = require('../lib/spawn')

const COMMANDS = {
  rs: path.join(ROOT, 'bin', 'pm2'),
  orig: path.join(IMPLS.orig.dir, 'bin', 'pm2'),
}

module.exports = {
  title: 'Command line',
  rounds: { quick: 1, full: 2 },
  maxSeconds: { quick: 40, full: 120 },
  pairSeconds: { quick: 20, full: 50 }, // both implementations' first round, on 2 cores
  timeoutMs: { quick: 60000, full: 150000 }, // a round that takes longer is stopped: a hang
  sizes: {
    quick: { apps: 5, calls: 3 },
    full: { apps: 20, calls: 10 },
  },
  metrics: [
    { id: 'start', label: '`pm2 start app.js` (daemon running)', unit: 'ms', target: { ratio: 0.25 } },
    { id: 'ls', label: (s) => `\`pm2 ls\` with ${s.apps} apps`, unit: 'ms', target: { ratio: 0.1 } },
    { id: 'jlist', label: (s) => `\`pm2 jlist\` with ${s.apps} apps`, unit: 'ms', target: { ratio: 0.1 } },
  ],

  async run(ctx) {
    const s = ctx.session('cli')
    await s.connect()
    const cli = COMMANDS[ctx.impl]
    const opts = { tag: ctx.workdir, pids: ctx.pids, cwd: ctx.workdir, env: { PM2_HOME: s.home, NO_COLOR: '1' } }
    for (let i = 0; i < ctx.size.apps; i++) {
      ctx.record('start', await timeProcess(cli, ['start', appPath('idle.js'), '--name', `app${i}`], opts))
      await s.list() // remembers the new app's pid for the orphan check
    }
    for (let i = 0; i < ctx.size.calls; i++) {
      ctx.record('ls', await timeProcess(cli, ['ls'], opts))
      ctx.record('jlist', await timeProcess(cli, ['jlist'], opts))
    }
    await s.teardown()
  },
}
