'use strict'
// Data through the daemon: an app's log lines into its log file, sendDataToProcessId round
// trips (the app answers on the bus), and a burst of bus messages; with loss counts.

const fs = require('fs')
const { until, fileSize: size } = require('../lib/progress')
const { startMessenger } = require('../lib/messenger')

const LINE = 11 // messenger.js writes "L<9 digits>\n"

// Distinct well-formed lines in the part of the log file the burst wrote.
function distinctLines(file, from, n) {
  const text = fs.readFileSync(file, 'latin1').slice(from)
  const seen = new Uint8Array(n)
  let count = 0
  for (const m of text.matchAll(/^L(\d{9})$/gm)) {
    const i = Number(m[1])
    if (i < n && !seen[i]) {
      seen[i] = 1
      count++
    }
  }
  return count
}

async function logs(ctx, app, beacon, outFile) {
  const n = ctx.size.lines
  const base = size(outFile)
  const t0 = performance.now()
  await beacon.send(app.rinfo, `log ${n}`)
  const tEnd = await until(() => size(outFile), base + n * LINE)
  const got = distinctLines(outFile, base, n)
  ctx.record('logRate', got / ((tEnd - t0) / 1000))
  ctx.record('logLost', n - got)
}

async function roundTrips(ctx, s, bus, pmId) {
  let waiting = null
  bus.on('process:msg', (packet) => {
    const d = packet && packet.data
    if (d && d.pong !== undefined && waiting && waiting.seq === d.pong) waiting.resolve(performance.now())
  })
  const ping = async (seq) => {
    const pong = new Promise((resolve) => (waiting = { seq, resolve }))
    const timeout = new Promise((resolve) => setTimeout(resolve, 2000, null))
    const t0 = performance.now()
    const sent = s.call('sendDataToProcessId', pmId, { type: 'process:msg', topic: 'bench', data: { cmd: 'ping', seq } })
    const t1 = await Promise.race([pong, timeout])
    await sent
    return t1 === null ? null : t1 - t0
  }
  // Warm-up, which also waits for the bus subscription to be live.
  for (let i = 0; i < 10; i++) await ping(-1 - i)
  let lost = 0
  for (let i = 0; i < ctx.size.pings; i++) {
    const ms = await ping(i)
    if (ms === null) lost++
    else ctx.record('rt', ms)
  }
  ctx.record('rtLost', lost)
}

async function burst(ctx, app, beacon, bus) {
  const n = ctx.size.messages
  const seen = new Uint8Array(n)
  let got = 0
  bus.on('process:msg', (packet) => {
    const d = packet && packet.data
    if (d && typeof d.seq === 'number' && d.seq < n && !seen[d.seq]) {
      seen[d.seq] = 1
      got++
    }
  })
  const t0 = performance.now()
  await beacon.send(app.rinfo, `bus ${n}`)
  const tEnd = await until(() => got, n)
  ctx.record('busRate', got / ((tEnd - t0) / 1000))
  ctx.record('busLost', n - got)
}

module.exports = {
  title: 'Logs and messages',
  rounds: { quick: 1, full: 2 },
  maxSeconds: { quick: 30, full: 40 },
  pairSeconds: { quick: 2, full: 12 }, // both implementations' first round, on 2 cores
  timeoutMs: { quick: 30000, full: 60000 }, // a round that takes longer is stopped: a hang
  sizes: {
    quick: { lines: 20000, pings: 30, messages: 2000 },
    full: { lines: 1000000, pings: 300, messages: 100000 },
  },
  metrics: [
    { id: 'logRate', label: (s) => `log lines/s (${s.lines} lines from one app)`, unit: 'rate', target: { min: 1e6 } },
    { id: 'logLost', label: 'log lines lost', unit: 'count', agg: 'sum', target: { max: 0 } },
    { id: 'rt', label: 'sendDataToProcessId → answer on the bus (round trip)', unit: 'ms', target: { max: 0.5, on: 'p99' } },
    { id: 'rtLost', label: 'round trips without an answer (2 s)', unit: 'count', agg: 'sum', target: { max: 0 } },
    { id: 'busRate', label: (s) => `bus messages/s (${s.messages} from one app)`, unit: 'rate', target: { min: 2e5 } },
    { id: 'busLost', label: 'bus messages lost', unit: 'count', agg: 'sum', target: { max: 0 } },
  ],

  async run(ctx) {
    const beacon = await ctx.beacon()
    const s = ctx.session()
    await s.connect()
    const { app, outFile } = await startMessenger(ctx, s, beacon, 'messenger')
    const pmId = (await s.list()).find((p) => p.name === 'messenger').pm_id

    // Logs first, with no bus open, so that only the log path is measured.
    await logs(ctx, app, beacon, outFile)

    const bus = await ctx.optional(['rt', 'rtLost', 'busRate', 'busLost'], () => s.call('launchBus'))
    if (!bus) return
    await ctx.optional(['rt', 'rtLost'], () => roundTrips(ctx, s, bus, pmId))
    await burst(ctx, app, beacon, bus)
  },
}
