'use strict'
// A client process of its own that keeps asking a running daemon while something else floods
// it: list() and a sendDataToProcessId round trip to another app (the app answers by UDP,
// so the answer does not queue behind the flood on the bus). Its own process, so that the
// bench's bus subscriber does not share its event loop.
// argv: <module path> <pm2_home> <pm_id>. stdout: "ready" once warm, then, after "stop" on
// stdin, one JSON line {list: [ms...], send: [ms...], lost}.
const dgram = require('dgram')
const { performance } = require('perf_hooks')

const M = require(process.argv[2])
const pm2 = new M.custom({ pm2_home: process.argv[3], cwd: __dirname, daemon_mode: true })
const pmId = Number(process.argv[4])
const TIMEOUT_MS = 2000

const sock = dgram.createSocket('udp4')
let waiting = null
sock.on('message', (buf) => {
  const seq = Number(String(buf).split(' ')[1])
  if (waiting && waiting.seq === seq) waiting.resolve(true)
})

const call = (method, ...args) =>
  new Promise((resolve, reject) => pm2[method](...args, (err, res) => (err ? reject(err) : resolve(res))))

// Milliseconds `fn` takes, or null when it gives no answer within TIMEOUT_MS.
async function timed(fn) {
  let timer
  const timeout = new Promise((resolve) => (timer = setTimeout(resolve, TIMEOUT_MS, null)))
  const t0 = performance.now()
  const done = await Promise.race([fn().then(() => performance.now() - t0), timeout])
  clearTimeout(timer)
  return done
}

let seq = 0
function roundTrip() {
  const mine = seq++
  const answered = new Promise((resolve) => (waiting = { seq: mine, resolve }))
  const packet = { type: 'process:msg', topic: 'bench', data: { cmd: 'ping', seq: mine, port: sock.address().port } }
  return Promise.all([call('sendDataToProcessId', pmId, packet), answered])
}

async function listed() {
  const list = await call('list')
  if (!Array.isArray(list) || !list.some((p) => p.pm_id === pmId)) throw new Error('list() without the app')
}

async function main() {
  await new Promise((resolve) => sock.bind(0, '127.0.0.1', resolve))
  await call('connect')
  for (let i = 0; i < 20; i++) {
    await listed()
    await roundTrip()
  }
  let stop = false
  process.stdin.on('data', (d) => String(d).includes('stop') && (stop = true))
  process.stdout.write('ready\n')
  const out = { list: [], send: [], lost: 0 }
  while (!stop) {
    for (const [key, fn] of [['list', listed], ['send', roundTrip]]) {
      const ms = await timed(fn)
      if (ms === null) out.lost++
      else out[key].push(ms)
    }
  }
  process.stdout.write(JSON.stringify(out) + '\n')
  sock.close()
  pm2.disconnect(() => {})
}

main().catch((e) => {
  process.stderr.write(String((e && e.stack) || e) + '\n')
  process.exit(1)
})
