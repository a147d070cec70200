'use strict'
// Runs one round of one scenario for one implementation, in a process of its own: the two
// implementations never share a process (the original keeps global state and sockets around),
// and a hang or crash costs one round, not the run. Invoked by run.js as
//   node child.js '<json: scenario, impl, round, quick, workdir, resultFile, pidsFile>'
// and answers through resultFile (stdout is left to whatever pm2 prints).

const fs = require('fs')
const path = require('path')
const { Session, PidLog, NotImplemented } = require('./session')
const { Beacon } = require('./beacon')

const params = JSON.parse(process.argv[2])
const scenario = require(path.join(__dirname, '..', 'scenarios', params.scenario))

const result = { metrics: {}, na: {}, notes: [], error: null }
const sessions = []
let beacon = null

function save() {
  fs.writeFileSync(params.resultFile, JSON.stringify(result))
}

const ctx = {
  impl: params.impl,
  quick: params.quick,
  round: params.round,
  workdir: params.workdir,
  size: params.quick ? scenario.sizes.quick : scenario.sizes.full,
  pids: new PidLog(params.pidsFile),

  // A client on a fresh PM2_HOME under this round's directory.
  session(name = 'home', opts = {}) {
    const s = new Session(
      Object.assign({ impl: params.impl, home: path.join(params.workdir, name), cwd: params.workdir, pids: ctx.pids }, opts)
    )
    sessions.push(s)
    return s
  },

  async beacon() {
    if (!beacon) {
      beacon = await Beacon.open()
      beacon.onPid = (pid) => ctx.pids.learn(pid)
    }
    return beacon
  },

  // Environment for the bench's apps (also tags them for the orphan scan).
  appEnv(id, extra) {
    return Object.assign({ BENCH_ID: id, BENCH_PORT: String(beacon ? beacon.port : 0), BENCH_TAG: params.workdir }, extra)
  },

  record(id, value) {
    const list = (result.metrics[id] = result.metrics[id] || [])
    for (const v of [].concat(value)) if (typeof v === 'number' && Number.isFinite(v)) list.push(v)
    save()
  },

  na(id, reason) {
    result.na[id] = reason
  },

  note(text) {
    result.notes.push(text)
  },

  // Runs fn; if the implementation answers "not implemented", the metrics are n/a instead.
  async optional(ids, fn) {
    try {
      return await fn()
    } catch (e) {
      if (!(e instanceof NotImplemented)) throw e
      for (const id of [].concat(ids)) ctx.na(id, 'not implemented')
      ctx.note(`n/a: ${e.message.split('\n')[0]}`)
      return undefined
    }
  },

  sleep(ms) {
    return new Promise((resolve) => setTimeout(resolve, ms))
  },
}

async function teardown() {
  for (const s of sessions) {
    try {
      await s.teardown()
    } catch (e) {
      result.notes.push(`teardown: ${e.message}`)
    }
  }
  if (beacon) beacon.close()
}

let ending = false
async function end(err) {
  if (ending) return
  ending = true
  if (err) result.error = String((err && err.stack) || err)
  await teardown()
  save()
  process.exit(err ? 1 : 0)
}

process.on('uncaughtException', end)
process.on('unhandledRejection', end)
// run.js stops a round that overruns its time (or on Ctrl-C) so that it still ends with killDaemon.
process.on('SIGTERM', () => end(new Error('stopped by run.js')))
process.on('SIGINT', () => end(new Error('interrupted')))
save()
scenario.run(ctx).then(() => end(null), end)
