'use strict'
// An HTTP load generator for the cluster scenario: `concurrency` keep-alive clients in a loop
// against one port, counting answered and failed requests until stopped.

const http = require('http')
const net = require('net')

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer()
    srv.once('error', reject)
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address()
      srv.close(() => resolve(port))
    })
  })
}

function get(agent, port) {
  return new Promise((resolve) => {
    const req = http.get({ host: '127.0.0.1', port, path: '/', agent, timeout: 5000 }, (res) => {
      res.resume()
      res.on('end', () => resolve(res.statusCode === 200))
      res.on('error', () => resolve(false))
    })
    req.on('timeout', () => req.destroy(new Error('timeout')))
    req.on('error', () => resolve(false))
  })
}

// Starts the load; stop() resolves with { ok, failed, seconds }.
function start(port, concurrency = 16) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency })
  const counts = { ok: 0, failed: 0 }
  let running = true
  const t0 = performance.now()
  const loops = Array.from({ length: concurrency }, async () => {
    while (running) {
      if (await get(agent, port)) counts.ok++
      else counts.failed++
    }
  })
  return {
    counts,
    async stop() {
      running = false
      const seconds = (performance.now() - t0) / 1000
      const snapshot = Object.assign({ seconds }, counts)
      await Promise.all(loops)
      agent.destroy()
      return snapshot
    },
  }
}

// Resolves once the server answers 200 (or rejects after timeoutMs).
async function waitUp(port, timeoutMs = 30000) {
  const agent = new http.Agent({ keepAlive: false })
  const deadline = performance.now() + timeoutMs
  while (!(await get(agent, port))) {
    if (performance.now() > deadline) throw new Error(`nothing answers on port ${port} after ${timeoutMs} ms`)
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
}

module.exports = { freePort, start, waitUp }
