'use strict'
// Announces itself like idle.js, then answers the bench:
//   UDP "log <n>"  -> writes n lines "L<9 digits>\n" to stdout, as fast as the pipe takes them
//   UDP "bus <n>"  -> sends n messages to the bus with process.send
//   IPC {data: {cmd: 'ping', seq}} -> answers {pong: seq} on the bus (a round trip), or
//                                      "pong <seq>" by UDP to `port` when the data names one
const sock = require('dgram').createSocket('udp4')

function writeLines(n) {
  const PER_CHUNK = 4096
  for (let i = 0; i < n; i += PER_CHUNK) {
    let chunk = ''
    for (let j = i; j < Math.min(n, i + PER_CHUNK); j++) chunk += 'L' + String(j).padStart(9, '0') + '\n'
    process.stdout.write(chunk) // a pipe: synchronous on Linux, so the pipe sets the pace
  }
}

function sendBus(n) {
  for (let i = 0; i < n; i++) process.send({ type: 'process:msg', data: { seq: i } })
}

sock.on('message', (msg) => {
  const [cmd, n] = String(msg).split(' ')
  if (cmd === 'log') writeLines(Number(n))
  else if (cmd === 'bus') sendBus(Number(n))
})
process.on('message', (packet) => {
  const data = packet && packet.data
  if (!data || data.cmd !== 'ping') return
  if (data.port) sock.send(`pong ${data.seq}`, data.port, '127.0.0.1')
  else process.send({ type: 'process:msg', data: { pong: data.seq } })
})
sock.send(`${process.env.BENCH_ID} ${process.pid}`, Number(process.env.BENCH_PORT), '127.0.0.1')
