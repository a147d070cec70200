'use strict'
// Logs and the bus under a flood, as `pm2 logs` and log shippers see them: one app writes a
// burst of lines while a bus subscriber listens (lines into the file, lines the subscriber
// never got, daemon CPU per line); then a subscriber that blocks its event loop for 3 s
// during a burst of messages (messages lost, the daemon's peak memory); then how fast the
// daemon answers another client about another app while one app floods it with both.

const fs = require('fs')
const { spawn } = require('child_process')
const procfs = require('../lib/procfs')
const impls = require('../lib/impls')
const { appPath, benchEnv } = require('../lib/spawn')
const { until, fileSize: size } = require('../lib/progress')
const { startMessenger } = require('../lib/messenger')

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
  const t0 = Date.now()
  await beacon.send(app.rinfo, `log ${n}`)
  await until(() => size(outFile), base + n * LINE)
  // The end is the file's last write (its mtime, to a clock tick), not when this process
  // got round to looking: its event loop is busy with the subscriber's events meanwhile.
  const tFile = fs.statSync(outFile).mtimeMs
  ctx.record('subLogRate', ((size(outFile) - base) / LINE) / ((tFile - t0) / 1000))
  await until(() => counter.got, n)
  const cpuMs = (procfs.cpuSeconds(daemon) - c0) * 1e3
  ctx.record('subCpu', cpuMs)
  ctx.record('subCpuPerLine', cpuMs / n)
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

// A prober process (apps/prober.js) asks list() and round trips to the quiet app `pmId`
// while the flooding app writes lines, then sends messages.
async function responsiveness(ctx, s, app, beacon, bus, outFile, pmId) {
  const prober = spawn(process.execPath, [appPath('prober.js'), impls.modulePath(ctx.impl), s.home, String(pmId)], {
    env: benchEnv(ctx.workdir),
    stdio: ['pipe', 'pipe', 'inherit'],
  })
  ctx.pids.learn(prober.pid)
  let output = ''
  prober.stdout.on('data', (d) => (output += d))
  const exited = new Promise((resolve) => prober.on('exit', resolve))
  await Promise.race([until(() => (output.includes('ready') ? 1 : 0), 1, { stallMs: 20000 }), exited])
  if (!output.includes('ready')) throw new Error('the prober did not start')

  const { lines, messages } = ctx.size.probed
  let got = 0
  bus.on('process:msg', (packet) => {
    const d = packet && packet.data
    if (d && typeof d.seq === 'number') got++
  })
  const base = size(outFile)
  await beacon.send(app.rinfo, `log ${lines}`)
  await beacon.send(app.rinfo, `bus ${messages}`)
  await until(() => size(outFile), base + lines * LINE)
  await until(() => got, messages)
  prober.stdin.end('stop\n')
  await exited
  const result = JSON.parse(output.slice(output.indexOf('{')))
  ctx.record('floodList', result.list)
  ctx.record('floodSend', result.send)
  ctx.record('floodUnanswered', result.lost)
}

module.exports = {
  title: 'Logs and the bus under a flood',
  rounds: { quick: 1, full: 2 },
  maxSeconds: { quick: 40, full: 120 },
  pairSeconds: { quick: 10, full: 60 }, // both implementations' first round, on 2 cores
  timeoutMs: { quick: 40000, full: 120000 }, // a round that takes longer is stopped: a hang
  sizes: {
    quick: { lines: 20000, messages: 5000, probed: { lines: 50000, messages: 10000 } },
    full: { lines: 500000, messages: 200000, probed: { lines: 1000000, messages: 200000 } },
  },
  metrics: [
    { id: 'subLogRate', label: (s) => `log lines/s into the file with a bus subscriber (${s.lines} lines)`, unit: 'rate' },
    { id: 'subCpu', label: 'daemon CPU for those lines, with the subscriber (10 ms ticks)', unit: 'ms' },
    { id: 'subCpuPerLine', label: 'daemon CPU per line, with a bus subscriber', unit: 'ms' },
    { id: 'subLogMissing', label: 'lines the bus subscriber never got', unit: 'count', agg: 'sum', target: { max: 0 } },
    { id: 'slowLost', label: (s) => `messages lost by a subscriber blocked 3 s (burst of ${s.messages})`, unit: 'count', agg: 'sum', target: { max: 0 } },
    { id: 'slowPeakRss', label: 'daemon peak RSS during the blocked subscriber', unit: 'bytes' },
    { id: 'floodList', label: 'list() from another client while an app floods (lines, then messages)', unit: 'ms', target: { max: 5, on: 'p99' } },
    { id: 'floodSend', label: 'sendDataToProcessId round trip to another app, meanwhile', unit: 'ms', target: { max: 5, on: 'p99' } },
    { id: 'floodUnanswered', label: 'calls meanwhile without an answer (2 s)', unit: 'count', agg: 'sum', target: { max: 0 } },
  ],

  async run(ctx) {
    const beacon = await ctx.beacon()
    const s = ctx.session()
    await s.connect()
    const { app, outFile } = await startMessenger(ctx, s, beacon, 'flood')
    await s.call('start', { script: appPath('messenger.js'), name: 'quiet', env: ctx.appEnv('quiet') })
    await beacon.waitId('quiet')
    const quietId = (await s.list()).find((p) => p.name === 'quiet').pm_id
    const daemon = s.daemonPid()
    const bus = await s.call('launchBus')
    await logsWithSubscriber(ctx, app, beacon, bus, outFile, daemon)
    const slow = await s.call('launchBus')
    await slowSubscriber(ctx, app, beacon, slow, daemon)
    await responsiveness(ctx, s, app, beacon, bus, outFile, quietId)
  },
}
