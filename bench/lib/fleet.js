'use strict'
// Starting a fleet of idle apps through pm2, all at once, as the scenarios with N apps do.

const { appPath } = require('./spawn')

// Starts one idle app per id (parallel start() calls), waits for every first line, and
// returns the apps' pids as list() shows them.
async function startIdleApps(ctx, session, beacon, ids) {
  const from = beacon.mark()
  const starts = Promise.all(ids.map((id) => session.call('start', { script: appPath('idle.js'), name: id, env: ctx.appEnv(id) })))
  await beacon.waitAll(ids, { from })
  await starts
  return (await session.list()).map((p) => p.pid).filter(Boolean)
}

module.exports = { startIdleApps }
