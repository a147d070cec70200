'use strict'
// The bench's app: announces itself to the bench with one UDP datagram (its "first line"),
// then idles on its socket. A "crash" datagram makes it exit with code 1.
const sock = require('dgram').createSocket('udp4')
sock.on('message', (msg) => {
  if (String(msg) === 'crash') process.exit(1)
})
sock.send(`${process.env.BENCH_ID} ${process.pid}`, Number(process.env.BENCH_PORT), '127.0.0.1')
