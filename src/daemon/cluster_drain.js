'use strict'
// Preloaded into cluster workers. Before a rolling reload disconnects an old worker, the
// daemon asks it to drain: its servers stop accepting (without closing idle keep-alive
// connections, which would reset a request the client is sending at that moment) and every
// HTTP response from then on closes its connection, so keep-alive clients reconnect, to
// the new worker, instead of losing a request. The worker says when no connection is left.
// Nothing here runs until the daemon asks.

const net = require('net')
const dc = require('diagnostics_channel')

// Handles of the process (servers, sockets); undocumented but present since Node 0.x.
const activeHandles = () => (typeof process._getActiveHandles === 'function' ? process._getActiveHandles() : [])

function closeAfterResponse({ response }) {
  response.shouldKeepAlive = false
}

function openConnections() {
  return activeHandles().filter((h) => h instanceof net.Socket && h.server && !h.destroyed).length
}

function drain() {
  dc.channel('http.server.request.start').subscribe(closeAfterResponse)
  for (const handle of activeHandles()) {
    // net's close, not http's: http.Server#close() also destroys idle connections.
    if (handle instanceof net.Server && handle.listening) net.Server.prototype.close.call(handle)
  }
  const poll = setInterval(() => {
    if (openConnections() > 0) return
    clearInterval(poll)
    if (process.connected) process.send({ cmd: 'NODE_PM2_DRAINED' })
  }, 10)
  poll.unref()
}

process.on('internalMessage', (message) => {
  if (message && message.cmd === 'NODE_PM2_DRAIN') drain()
})
