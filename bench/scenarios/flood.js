'use strict'
// Logs and the bus under a flood, as `pm2 logs` and log shippers see them: one app writes a
// burst of lines while a bus subscriber listens (lines into the file, lines the subscriber
// never got, daemon CPU per line); then a subscriber that blocks its event loop for 3 s
// during a burst of messages (messages lost, the daemon's peak memory).

const fs = require('fs')
const path = require('path')
const procfs = require('../lib/procfs')
const { appPath } = require('../lib/spawn')
const { until, fileSize: size } = require('../lib/progress')

const LINE = 11 // messenger.js writes "L<9 digits>\n"

// Peak resident memory (VmHWM) in bytes, or null.
function peakRss(pid) {
  try {
    const m = /^VmHWM:\s+(\d+)\s+kB/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))
    return m ? Number(m[1]) * 1024 : null
  } catch (_) {
    return null
  }
}

// Lines the subscriber received, by number (log:out data may hold several lines).
function lineCounter(bus, n) {
  const seen = new Uint8Array(n)
  const state = { got: 0 }
  bus.on('log:out', (packet) => {
    for (const m of String(packet.data).matchAll(/L(\d{9})/g)) {
      const i = Number(m[1])
      if (i < n && !seen[i]) {
        seen[i] = 1
        state.got++
      }
    }
  })
  return state
}

async function logsWithSubscriber(ctx, app, beacon, bus, outFile, daemon) {
  const n = ctx.size.lines
  const counter = lineCounter(bus, n)
  const base = size(outFile)
  const c0 = procfs.cpuSeconds(daemon)
  const t0 = performance.now()
  await beacon.send(app.rinfo, `log ${n}`)
  const tFile = await until(() => size(outFile), base + n * LINE)
  ctx.record('subLogRate', ((size(outFile) - base) / LINE) / ((tFile - t0) / 1000))
  await until(() => counter.got, n)
  ctx.record('subCpuPerLine', ((procfs.cpuSeconds(daemon) - c0) * 1e3) / n)
  ctx.record('subLogMissing', n - counter.got)
}

async function slowSubscriber(ctx, app, beacon, bus, daemon) {
  const n = ctx.size.messages
  const seen = new Uint8Array(n)
  let got = 0
  let blocked = false
  bus.on('process:msg', (packet) => {
    const d = packet && packet.data
    if (!d || typeof d.seq !== 'number' || d.seq >= n) return
    if (!seen[d.seq]) {
      seen[d.seq] = 1
      got++
    }
    if (!blocked) {
      blocked = true
      const end = Date.now() + 3000
      while (Date.now() < end);
    }
  })
  await beacon.send(app.rinfo, `bus ${n}`)
  await until(() => got, n, { stallMs: 8000 })
  ctx.record('slowLost', n - got)
  ctx.record('slowPeakRss', peakRss(daemon))
}

module.exports = {
  title: 'Logs and the bus under a flood',
  rounds: { quick: 1, full: 2 },
  maxSeconds: { quick: 40, full: 120 },
  pairSeconds: { quick: 10, full: 60 }, // both implementations' first round, on 2 cores
  timeoutMs: { quick: 40000, full: 120000 }, // a round that takes longer is stopped: a hang
  sizes: {
    quick: { lines: 20000, messages: 5000 },
    full: { lines: 500000, messages: 200000 },
  },
  metrics: [
    { id: 'subLogRate', label: (s) => `log lines/s into the file with a bus subscriber (${s.lines} lines)`, unit: 'rate' },
    { id: 'subCpuPerLine', label: 'daemon CPU per line, with a bus subscriber', unit: 'ms' },
    { id: 'subLogMissing', label: 'lines the bus subscriber never got', unit: 'count', agg: 'sum', target: { max: 0 } },
    { id: 'slowLost', label: (s) => `messages lost by a subscriber blocked 3 s (burst of ${s.messages})`, unit: 'count', agg: 'sum', target: { max: 0 } },
    { id: 'slowPeakRss', label: 'daemon peak RSS during the blocked subscriber', unit: 'bytes' },
  ],

  async run(ctx) {
    const beacon = await ctx.beacon()
    const s = ctx.session()
    await s.connect()
    const outFile = path.join(ctx.workdir, 'flood-out.log')
    await s.call('start', {
      script: appPath('messenger.js'),
      name: 'flood',
      env: ctx.appEnv('flood'),
      out_file: outFile,
      error_file: path.join(ctx.workdir, 'flood-error.log'),
    })
    const app = await beacon.waitId('flood')
    const daemon = s.daemonPid()
    const bus = await s.call('launchBus')
    await logsWithSubscriber(ctx, app, beacon, bus, outFile, daemon)
    const slow = await s.call('launchBus')
    await slowSubscriber(ctx, app, beacon, slow, daemon)
  },
}
